/**
 * Accessors for the running workflow's ctx, for helpers written outside a workflow function. Imported as
 * a module (`import { Workflow } from "@durably/core/effect"`), each one needs the `WorkflowCtx` service:
 *
 * ```ts
 * const charge = (order: Order): Effect.Effect<Receipt, Declined, WorkflowCtx | Payments> =>
 *   Workflow.step("charge", Payments.use((p) => p.charge(order)))
 * ```
 */
import type { Effect } from "effect"
import type { DurationInput } from "../duration.ts"
import { WorkflowCtx, type EffectStepOptions, type StepBody } from "./WorkflowCtx.ts"

/** `ctx.step` of the running workflow. */
export const step = <A, E = never, R = never>(
  name: string,
  body: StepBody<A, E, R>,
  options?: EffectStepOptions<A, E>,
): Effect.Effect<A, E, R | WorkflowCtx> => WorkflowCtx.use((ctx) => ctx.step(name, body, options))

/** `ctx.sleep` of the running workflow. */
export const sleep = (duration: DurationInput): Effect.Effect<void, never, WorkflowCtx> =>
  WorkflowCtx.use((ctx) => ctx.sleep(duration))

/** `ctx.sleepUntil` of the running workflow. */
export const sleepUntil = (until: Date | number): Effect.Effect<void, never, WorkflowCtx> =>
  WorkflowCtx.use((ctx) => ctx.sleepUntil(until))

/** `ctx.now` of the running workflow: the current time, recorded. */
export const now: Effect.Effect<Date, never, WorkflowCtx> = WorkflowCtx.use((ctx) => ctx.now)

/** `ctx.random` of the running workflow: a number in [0, 1), recorded. */
export const random: Effect.Effect<number, never, WorkflowCtx> = WorkflowCtx.use((ctx) => ctx.random)

/** `ctx.uuid` of the running workflow: a random UUID, recorded. */
export const uuid: Effect.Effect<string, never, WorkflowCtx> = WorkflowCtx.use((ctx) => ctx.uuid)

/** The running workflow's id. */
export const workflowId: Effect.Effect<string, never, WorkflowCtx> = WorkflowCtx.useSync((ctx) => ctx.workflowId)

type LogFn = (message: string, fields?: Record<string, unknown>) => Effect.Effect<void, never, WorkflowCtx>
const logAt =
  (level: "debug" | "info" | "warn" | "error"): LogFn =>
  (message, fields) =>
    WorkflowCtx.useSync((ctx) => ctx.log[level](message, fields))

/** `ctx.log` of the running workflow, as Effects: `yield* Workflow.log.info("charged", { amount })`. */
export const log: { readonly debug: LogFn; readonly info: LogFn; readonly warn: LogFn; readonly error: LogFn } = {
  debug: logAt("debug"),
  info: logAt("info"),
  warn: logAt("warn"),
  error: logAt("error"),
}
