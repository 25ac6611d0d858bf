/**
 * The Effect-flavour `ctx`: the same durable operations as the Promise ctx, as Effect values, and the
 * `WorkflowCtx` service through which helpers written outside a workflow function reach it.
 */
import { Context, type Effect, type Schedule } from "effect"
import type { DurationInput } from "../duration.ts"
import type { Codec, RetryPolicy, StepInfo, WorkflowLogger } from "../workflow.ts"

/** A step body: an Effect, or a function of the attempt's info that returns one. */
export type StepBody<A, E, R> = Effect.Effect<A, E, R> | ((info: StepInfo) => Effect.Effect<A, E, R>)

/** Options of an Effect step. For a per-attempt timeout, put `Effect.timeout` in the body: it is then a typed failure. */
export interface EffectStepOptions<A = unknown, E = unknown> {
  /**
   * Default: no retries. A policy, or an Effect Schedule whose input is the attempt's typed error `E`.
   * Only failures (`E`) are retried, as with `Effect.retry`; a defect fails the step at once.
   */
  readonly retry?: RetryPolicy | Schedule.Schedule<unknown, E>
  /** Retry only failures for which this returns true. */
  readonly retryIf?: (error: E, attempt: number) => boolean
  /** Schema for the result (validates and encodes it). */
  readonly output?: Codec<A>
  /**
   * Schema for the failures, so the same class comes back from the store. Without it a class instance is
   * revived as an `Error` with the same `_tag`, `message` and fields (`Effect.catchTag` still works).
   */
  readonly error?: Codec<E>
}

/** What an Effect workflow's `run` receives. Every operation is recorded, and replayed after a restart. */
export interface EffectWorkflowContext {
  readonly workflowId: string
  /** Structured logging tagged with the workflow id and step; quiet while replaying. Plain functions. */
  readonly log: WorkflowLogger
  /**
   * Run `body` once (at least once if interrupted) with the caller's services, record its result, and return
   * the record on replay. A typed failure arrives as `E` (read back from the store); a defect as a defect.
   */
  readonly step: <A, E = never, R = never>(
    name: string,
    body: StepBody<A, E, R>,
    options?: EffectStepOptions<A, E>,
  ) => Effect.Effect<A, E, R>
  /** A durable sleep: after a restart, only the remainder is slept. */
  readonly sleep: (duration: DurationInput) => Effect.Effect<void>
  /** A durable sleep until an instant. */
  readonly sleepUntil: (until: Date | number) => Effect.Effect<void>
  /** The current time, recorded. */
  readonly now: Effect.Effect<Date>
  /** A random number in [0, 1), recorded. */
  readonly random: Effect.Effect<number>
  /** A random UUID, recorded. */
  readonly uuid: Effect.Effect<string>
}

/**
 * The running workflow's ctx, provided only inside a workflow: an Effect that needs `WorkflowCtx` cannot be run
 * anywhere else (its requirement is unsatisfied). Reach it with `yield* WorkflowCtx` or the `Workflow.*` accessors.
 */
export class WorkflowCtx extends Context.Service<WorkflowCtx, EffectWorkflowContext>()("@durably/core/WorkflowCtx") {}
