/**
 * Workflow definitions: plain values (a name, optional schemas, a function) with no registration side
 * effects. Hand them to `Durably.launch({ workflows })` to run them.
 */
import type { Schedule } from "effect"
import type { DurationInput } from "./duration.ts"
import { InvalidArgument } from "./errors.ts"
import { describeValue, validateName } from "./validation.ts"
import type { Codec } from "./engine/payload.ts"
import type { ExecutionApi } from "./engine/ExecutionApi.ts"
import type { GetEventOptions } from "./engine/events.ts"
import type { RecvOptions } from "./engine/messages.ts"
import type { TopicRef } from "./topics.ts"
import type { ChildHandle, ChildOptions } from "./engine/children.ts"
import type { EnqueueOptions } from "./engine/enqueue.ts"
import type { DebounceOptions } from "./engine/debounce.ts"
import type { QueueRef } from "./queues.ts"

export type { Codec } from "./engine/payload.ts"

/** What a step body receives. */
export interface StepInfo {
  /** Aborted when the attempt times out, the workflow is cancelled, or the executor loses the workflow. */
  readonly signal: AbortSignal
  /** 1 for the first attempt. */
  readonly attempt: number
  /** Stable across retries and recoveries of this step: pass it to external APIs (payments, emails). */
  readonly idempotencyKey: string
}

/** Exponential backoff: attempt n waits `initialDelay * backoff^(n-1)`, capped at `maxDelay`, ± `jitter`. */
export interface RetryPolicy {
  /** Total attempts, the first included. */
  readonly maxAttempts: number
  /** Default 1 second. */
  readonly initialDelay?: DurationInput
  /** Default 2. */
  readonly backoff?: number
  /** Default 1 hour. */
  readonly maxDelay?: DurationInput
  /** Fraction of random spread around each delay, 0 to 1 (true = 0.2). Default 0. */
  readonly jitter?: number | boolean
}

export interface StepOptions<A = unknown> {
  /** Default: no retries. A policy, or an Effect Schedule (its input is the attempt's error). */
  readonly retry?: RetryPolicy | Schedule.Schedule<unknown, any>
  /** Retry only errors for which this returns true. */
  readonly retryIf?: (error: unknown, attempt: number) => boolean
  /** Per attempt. The attempt's signal aborts and its late result is discarded. */
  readonly timeout?: DurationInput
  /** Schema for the result (validates and encodes it). */
  readonly output?: Codec<A>
  /** Schema for the errors the step throws, so the same class is revived on replay. */
  readonly error?: Codec<unknown>
}

/** Structured logging from workflow code, tagged with the workflow id and step; quiet while replaying. */
export interface WorkflowLogger {
  readonly debug: (message: string, fields?: Record<string, unknown>) => void
  readonly info: (message: string, fields?: Record<string, unknown>) => void
  readonly warn: (message: string, fields?: Record<string, unknown>) => void
  readonly error: (message: string, fields?: Record<string, unknown>) => void
}

/** The handle a workflow function receives: every effectful operation goes through it and is checkpointed. */
export interface WorkflowContext {
  readonly workflowId: string
  readonly log: WorkflowLogger
  /** Run `fn` once (at least once if interrupted), record its result, and return the record on replay. */
  readonly step: <A>(name: string, fn: (info: StepInfo) => A | PromiseLike<A>, options?: StepOptions<A>) => Promise<A>
  /** A durable sleep: after a restart, only the remainder is slept. */
  readonly sleep: (duration: DurationInput) => Promise<void>
  /** A durable sleep until an instant. */
  readonly sleepUntil: (until: Date | number) => Promise<void>
  /** The current time, recorded. */
  readonly now: () => Promise<Date>
  /** A random number in [0, 1), recorded. */
  readonly random: () => Promise<number>
  /** A random UUID, recorded. */
  readonly uuid: () => Promise<string>
  /**
   * Versioning: `if (await ctx.patched("fraud-check")) { new code } else { old code }`. True for executions
   * that reach this point live (new workflows, and old ones past the end of their history), which record it;
   * false for replays of histories recorded before the patch. See docs/operating.md for retiring a patch.
   */
  readonly patched: (name: string) => Promise<boolean>
  /** Retire a patch once no workflow predating it remains: accepts histories with and without it. */
  readonly deprecatePatch: (name: string) => Promise<void>
  /**
   * Send a message to a workflow (this one included), on a topic name or a typed topic from `defineTopic`.
   * Recorded: sent once however often this workflow replays. Rejects with WorkflowNotFound when no workflow
   * has that id. `undefined` is not a valid message.
   */
  readonly send: <A = unknown>(workflowId: string, topic: TopicRef<A>, message: A) => Promise<void>
  /**
   * Receive the oldest message on `topic` sent to this workflow, waiting for one if none is there yet. Each
   * message is received exactly once. With `{ timeout }`, resolves to undefined when the timeout passes first
   * (the deadline is durable: after a restart only the remainder is waited).
   */
  readonly recv: {
    <A = unknown>(topic: TopicRef<A>): Promise<A>
    <A = unknown>(topic: TopicRef<A>, options: RecvOptions): Promise<A | undefined>
  }
  /** Publish `value` under `key` for `getEvent` readers (last write wins). Recorded. */
  readonly setEvent: (key: string, value: unknown) => Promise<void>
  /**
   * The value a workflow set under `key`, waiting until it is set; undefined when the timeout passes first
   * or that workflow ended without setting it. Recorded, with a durable timeout. Rejects with WorkflowNotFound.
   */
  readonly getEvent: <A = unknown>(workflowId: string, key: string, options?: GetEventOptions) => Promise<A | undefined>
  /**
   * Append `value` to this workflow's stream `key`, for `durably.readStream` readers. Also allowed inside a
   * step body: the values an attempt writes are published with the step's result, so a failed attempt
   * publishes nothing. Exactly once across replays.
   */
  readonly writeStream: (key: string, value: unknown) => Promise<void>
  /** Close stream `key`: readers end after its last value; writing to it afterwards fails with StreamClosedError. */
  readonly closeStream: (key: string) => Promise<void>
  /**
   * Start a child workflow on this executor. Its id derives from this workflow's id and this step (unless
   * `id` is given), and the start is recorded, so a replay attaches to the same child. Awaiting the handle's
   * `result()` is recorded too. Cancelling this workflow cancels the child unless it is `detached`.
   */
  readonly start: <W extends AnyWorkflow>(
    workflow: W,
    input: InputOf<W>,
    options?: ChildOptions,
  ) => Promise<ChildHandle<OutputOf<W>>>
  /** Start a child workflow and await its result (both recorded). */
  readonly run: <W extends AnyWorkflow>(workflow: W, input: InputOf<W>, options?: ChildOptions) => Promise<OutputOf<W>>
  /**
   * Put a child workflow on a queue (exactly once across replays); it starts when the queue's limits allow,
   * on whichever worker serves the queue. Rejects with QueueFull or DuplicateEnqueue as `durably.enqueue` does.
   */
  readonly enqueue: <W extends AnyWorkflow>(
    queue: QueueRef,
    workflow: W,
    input: InputOf<W>,
    options?: EnqueueOptions,
  ) => Promise<ChildHandle<OutputOf<W>>>
  /**
   * `durably.debounce` from workflow code: calls with the same `key` (from any workflow or process) within
   * `delay` collapse into one run with the latest input. Recorded: a replay returns the same run's handle
   * without calling again, and the call commits together with its record, so a crash never makes it twice.
   * The run is not this workflow's child: cancelling this workflow does not cancel it.
   */
  readonly debounce: <W extends AnyWorkflow>(
    workflow: W,
    key: string,
    input: InputOf<W>,
    options: DebounceOptions,
  ) => Promise<ChildHandle<OutputOf<W>>>
}

/** A workflow, ready to be launched. `I`/`O`/`E` are its input, output and declared error; `R` its Effect services. */
export interface WorkflowDefinition<I = any, O = any, E = unknown, R = never> {
  readonly _tag: "WorkflowDefinition"
  readonly name: string
  readonly flavour: "promise" | "effect"
  readonly schemas: {
    readonly input?: Codec<I> | undefined
    readonly output?: Codec<O> | undefined
    readonly error?: Codec<E> | undefined
  }
  /** Runs the workflow's function for one execution. */
  readonly execute: (api: ExecutionApi, input: I) => Promise<O>
  /** Type-level only. */
  readonly "~types"?: { readonly input: I; readonly output: O; readonly error: E; readonly services: R }
}

export type AnyWorkflow = WorkflowDefinition<any, any, any, any>
export type InputOf<W> = W extends WorkflowDefinition<infer I, any, any, any> ? I : never
export type OutputOf<W> = W extends WorkflowDefinition<any, infer O, any, any> ? O : never
export type ErrorOf<W> = W extends WorkflowDefinition<any, any, infer E, any> ? E : never
export type ServicesOf<W> = W extends WorkflowDefinition<any, any, any, infer R> ? R : never

export interface WorkflowOptions<I, O, E> {
  readonly name: string
  readonly input?: Codec<I>
  readonly output?: Codec<O>
  /** Failures this schema describes are revived as the same class by callers, in any process. */
  readonly error?: Codec<E>
  readonly run: (ctx: WorkflowContext, input: I) => Promise<O>
}

/**
 * Define a workflow: `defineWorkflow("checkout", async (ctx, order: Order) => …)`, or with schemas
 * `defineWorkflow({ name, input, output, error, run })` (the input type is inferred from the schema).
 */
export function defineWorkflow<I, O>(
  name: string,
  run: (ctx: WorkflowContext, input: I) => Promise<O>,
): WorkflowDefinition<I, O, unknown>
export function defineWorkflow<I, O, E = unknown>(options: WorkflowOptions<I, O, E>): WorkflowDefinition<I, O, E>
export function defineWorkflow(
  nameOrOptions: string | WorkflowOptions<unknown, unknown, unknown>,
  run?: (ctx: WorkflowContext, input: unknown) => Promise<unknown>,
): WorkflowDefinition<unknown, unknown, unknown> {
  if (typeof nameOrOptions !== "string" && (typeof nameOrOptions !== "object" || nameOrOptions === null))
    throw new InvalidArgument({
      reason: `defineWorkflow: the workflow name must be a non-empty string (or pass { name, run }); got ${describeValue(nameOrOptions)}`,
    })
  const options = typeof nameOrOptions === "string" ? { name: nameOrOptions, run } : nameOrOptions
  validateName(options.name, "defineWorkflow: the workflow name")
  const fn = options.run
  if (typeof fn !== "function")
    throw new InvalidArgument({
      reason: `defineWorkflow(${describeValue(options.name)}): run must be a function; got ${describeValue(fn)}`,
    })
  return makeDefinition("promise", options, (api, input) => fn(api.ctx, input))
}

/** Shared by both flavours: validates the name and schemas and freezes the definition. */
export const makeDefinition = <I, O, E, R>(
  flavour: "promise" | "effect",
  options: { readonly name: unknown; readonly input?: Codec<I>; readonly output?: Codec<O>; readonly error?: Codec<E> },
  execute: (api: ExecutionApi, input: I) => Promise<O>,
): WorkflowDefinition<I, O, E, R> => {
  validateName(options.name, "workflow name")
  return Object.freeze({
    _tag: "WorkflowDefinition" as const,
    name: options.name as string,
    flavour,
    schemas: Object.freeze({ input: options.input, output: options.output, error: options.error }),
    execute,
  })
}

/** Names, keys, ids and topics share one rule (./validation.ts). */
export { validateName }

export const isWorkflowDefinition = (u: unknown): u is AnyWorkflow =>
  typeof u === "object" && u !== null && (u as { _tag?: unknown })._tag === "WorkflowDefinition"
