/** What a workflow definition's `execute` gets for one execution: both ctx flavours and the engine's Effect runner. */
import type { Context, Effect } from "effect"
import type { WorkflowContext } from "../workflow.ts"
import type { Execution } from "./Execution.ts"

export interface ExecutionApi {
  /** The Promise-flavour ctx. */
  readonly ctx: WorkflowContext
  /** The execution itself (the Effect flavour builds its ctx on it). */
  readonly execution: Execution
  /** Runs an Effect with the engine's services (clock, and the services of Effect-flavour workflows). */
  readonly runEffect: <A, E>(effect: Effect.Effect<A, E, any>, signal?: AbortSignal) => Promise<A>
  readonly services: Context.Context<never>
}
