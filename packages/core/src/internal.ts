/**
 * @durably/core/internal — for Durably's own packages (e.g. @durably/postgres adds `transaction`). Not a
 * public API: it may change in any release.
 */
export { executionOf } from "./engine/context.ts"
export { Execution, ExecutionStopped, stepScope, type OperationResult, type Outcome } from "./engine/Execution.ts"
export { describeValue, escapeText, validateName, validateInteger } from "./validation.ts"
