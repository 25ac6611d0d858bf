/**
 * The Effect-flavour `ctx`: the same durable operations as the Promise ctx, as Effect values, and the
 * `WorkflowCtx` service through which helpers written outside a workflow function reach it.
 */
import { Context, type Effect, type Option, type Schedule } from "effect"
import type { DurationInput } from "../duration.ts"
import type { GetEventOptions } from "../engine/events.ts"
import type { RecvOptions } from "../engine/messages.ts"
import type { ChildOptions } from "../engine/children.ts"
import type { EnqueueOptions } from "../engine/enqueue.ts"
import type { DebounceOptions } from "../engine/debounce.ts"
import type { WorkflowOutcome } from "../engine/handle.ts"
import type {
  ConflictingWorkflowError,
  DuplicateEnqueue,
  QueueFull,
  WorkflowCancelled,
  WorkflowDead,
  WorkflowFailed,
  WorkflowNotFound,
  WorkflowTimedOut,
} from "../errors.ts"
import type { QueueRef } from "../queues.ts"
import type { TopicRef } from "../topics.ts"
import type { AnyWorkflow, Codec, InputOf, OutputOf, RetryPolicy, StepInfo, WorkflowLogger } from "../workflow.ts"

/** How a child can end other than with its output. */
export type ChildEndError = WorkflowFailed | WorkflowCancelled | WorkflowTimedOut | WorkflowDead

/** A child as its parent sees it, in the Effect flavour; awaiting it is recorded. */
export interface EffectChildHandle<O = unknown> {
  readonly id: string
  /** The child's output; fails with how it ended otherwise. */
  readonly result: Effect.Effect<O, ChildEndError>
  /** How the child ended (never fails for the child's own failure). */
  readonly outcome: Effect.Effect<WorkflowOutcome<O>>
}

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
  /** Versioning: true for executions that take the patch's new path (recorded), false for older replays. */
  readonly patched: (name: string) => Effect.Effect<boolean>
  /** Retire a patch: accepts histories with and without it. */
  readonly deprecatePatch: (name: string) => Effect.Effect<void>
  /**
   * Send a message to a workflow, on a topic name or a typed topic from `defineTopic`. Recorded: sent once
   * however often this workflow replays. `undefined` is not a valid message.
   */
  readonly send: <A = unknown>(
    workflowId: string,
    topic: TopicRef<A>,
    message: A,
  ) => Effect.Effect<void, WorkflowNotFound>
  /**
   * Receive the oldest message on `topic` sent to this workflow, waiting for one; each message is received
   * exactly once. With options (`{ timeout }`): `Option.none()` when the timeout passes first (durable).
   */
  readonly recv: {
    <A = unknown>(topic: TopicRef<A>): Effect.Effect<A>
    <A = unknown>(topic: TopicRef<A>, options: RecvOptions): Effect.Effect<Option.Option<A>>
  }
  /** Publish `value` under `key` for `getEvent` readers (last write wins). Recorded. */
  readonly setEvent: (key: string, value: unknown) => Effect.Effect<void>
  /**
   * The value a workflow set under `key`, waiting until it is set: `Option.none()` when the timeout passes
   * first or that workflow ended without setting it. Recorded, with a durable timeout.
   */
  readonly getEvent: <A = unknown>(
    workflowId: string,
    key: string,
    options?: GetEventOptions,
  ) => Effect.Effect<Option.Option<A>, WorkflowNotFound>
  /**
   * Append `value` to this workflow's stream `key`. Also allowed inside a step body: an attempt's values are
   * published with the step's result, so a failed attempt publishes nothing. Exactly once across replays.
   */
  readonly writeStream: (key: string, value: unknown) => Effect.Effect<void>
  /** Close stream `key`: readers end after its last value. Writing to it afterwards is a defect (StreamClosedError). */
  readonly closeStream: (key: string) => Effect.Effect<void>
  /** Start a child workflow on this executor (recorded; see the Promise ctx's `start`). */
  readonly start: <W extends AnyWorkflow>(
    workflow: W,
    input: InputOf<W>,
    options?: ChildOptions,
  ) => Effect.Effect<EffectChildHandle<OutputOf<W>>, ConflictingWorkflowError>
  /** Start a child workflow and await its result (both recorded). */
  readonly run: <W extends AnyWorkflow>(
    workflow: W,
    input: InputOf<W>,
    options?: ChildOptions,
  ) => Effect.Effect<OutputOf<W>, ConflictingWorkflowError | ChildEndError>
  /** Put a child workflow on a queue (recorded: exactly one enqueue across replays). */
  readonly enqueue: <W extends AnyWorkflow>(
    queue: QueueRef,
    workflow: W,
    input: InputOf<W>,
    options?: EnqueueOptions,
  ) => Effect.Effect<EffectChildHandle<OutputOf<W>>, ConflictingWorkflowError | QueueFull | DuplicateEnqueue>
  /** Debounce from workflow code (recorded, committed with its record; see the Promise ctx's `debounce`). */
  readonly debounce: <W extends AnyWorkflow>(
    workflow: W,
    key: string,
    input: InputOf<W>,
    options: DebounceOptions,
  ) => Effect.Effect<EffectChildHandle<OutputOf<W>>>
}

/**
 * The running workflow's ctx, provided only inside a workflow: an Effect that needs `WorkflowCtx` cannot be run
 * anywhere else (its requirement is unsatisfied). Reach it with `yield* WorkflowCtx` or the `Workflow.*` accessors.
 */
export class WorkflowCtx extends Context.Service<WorkflowCtx, EffectWorkflowContext>()("@durably/core/WorkflowCtx") {}
