/**
 * Builds the Effect-flavour ctx on an Execution. Each operation reserves its position when the Effect runs
 * (never when it is built), so one Effect value may run many times, e.g. in a loop.
 *
 * Engine problems are not workflow errors: ExecutionStopped interrupts the fiber (the execution stopped
 * on this executor), anything else the engine throws (NonDeterminismError, InvalidContextUse,
 * InvalidArgument) is a defect.
 */
import { Cause, Context, Data, Effect, Exit, Option, Result, Schedule, Schema, Tracer } from "effect"
import {
  ConflictingWorkflowError,
  DuplicateEnqueue,
  QueueFull,
  WorkflowCancelled,
  WorkflowDead,
  WorkflowFailed,
  WorkflowNotFound,
  WorkflowTimedOut,
} from "../errors.ts"
import { enqueueChild, startChild, type ChildHandle, type ChildOptions } from "../engine/children.ts"
import { makeLogger } from "../engine/context.ts"
import { debounceFromWorkflow, type DebounceOptions } from "../engine/debounce.ts"
import { getEvent, setEvent } from "../engine/events.ts"
import { ExecutionStopped, stepScope, type Execution, type StepScope } from "../engine/Execution.ts"
import { recv, send, type RecvOptions } from "../engine/messages.ts"
import { currentTime, randomId, randomNumber, runStep, sleepFor, sleepUntil } from "../engine/operations.ts"
import { writeStream } from "../engine/streams.ts"
import { deprecatePatch, patched } from "../engine/patches.ts"
import type { DurationInput } from "../duration.ts"
import type { AnyWorkflow, InputOf, OutputOf, StepInfo, StepOptions } from "../workflow.ts"
import type {
  ChildEndError,
  EffectChildHandle,
  EffectStepOptions,
  EffectWorkflowContext,
  StepBody,
} from "./WorkflowCtx.ts"

/**
 * The step attempt an Effect step body runs in, for `ctx.writeStream` inside it: carried by the fiber, since
 * Effect's scheduler does not carry the engine's AsyncLocalStorage reliably.
 */
const CurrentStepScope = Context.Reference<StepScope | undefined>("@durably/core/CurrentStepScope", {
  defaultValue: () => undefined,
})

/**
 * How a step body's defect is recorded, so that replay tells it from a typed failure: the step then dies with
 * `cause` (the defect). Never seen by workflow code, only in a step's stored attempt errors.
 */
export class StepDefect extends Data.TaggedError("DurablyStepDefect")<{
  readonly step: string
  readonly cause: unknown
}> {
  override get message() {
    const c = this.cause
    return `step ${this.step} died: ${c instanceof Error ? `${c.name}: ${c.message}` : String(c)}`
  }
}

/** Errors the engine itself records as a step's failure: never the body's typed `E`. */
const engineTags = new Set([
  "DurablyStepDefect",
  "StepTimeoutError",
  "SerializationError",
  "SchemaMismatchError",
  "PayloadTooLargeError",
  "StreamClosedError",
])

const tagOf = (u: unknown): unknown =>
  typeof u === "object" && u !== null ? (u as { _tag?: unknown })._tag : undefined

const isDefect = (u: unknown): boolean =>
  u instanceof StepDefect || tagOf(u) === "DurablyStepDefect" || (u instanceof Error && u.name === "DurablyStepDefect")

/** Map an engine rejection: a stop interrupts, anything else is a defect. */
export const fromEngineError = (error: unknown): Effect.Effect<never> =>
  error instanceof ExecutionStopped ? Effect.interrupt : Effect.die(error)

/** Run an engine operation when the Effect runs (so it is numbered then), mapping engine problems. */
export const engineOp = <A>(operation: () => Promise<A>): Effect.Effect<A> =>
  Effect.suspend(() => {
    let promise: Promise<A>
    try {
      promise = operation()
    } catch (e) {
      return fromEngineError(e)
    }
    // The fiber may be interrupted (the execution stopped) before it reaches the callback below, which would
    // leave a rejection of this promise unobserved: observe it now; the callback still gets the outcome.
    void promise.catch(() => undefined)
    return Effect.callback<A>((resume) => {
      promise.then(
        (value) => resume(Effect.succeed(value)),
        (error: unknown) => resume(fromEngineError(error)),
      )
    })
  })

/** Like engineOp, but the rejections `expected` accepts are typed failures. */
const engineOpOr = <A, E>(operation: () => Promise<A>, expected: (u: unknown) => u is E): Effect.Effect<A, E> =>
  Effect.catchDefect(engineOp(operation), (defect) => (expected(defect) ? Effect.fail(defect) : Effect.die(defect)))

const isNotFound = (u: unknown): u is WorkflowNotFound => u instanceof WorkflowNotFound
const isConflict = (u: unknown): u is ConflictingWorkflowError => u instanceof ConflictingWorkflowError
const isEnqueueRefusal = (u: unknown): u is ConflictingWorkflowError | QueueFull | DuplicateEnqueue =>
  isConflict(u) || u instanceof QueueFull || u instanceof DuplicateEnqueue
const isChildEnd = (u: unknown): u is ChildEndError =>
  u instanceof WorkflowFailed ||
  u instanceof WorkflowCancelled ||
  u instanceof WorkflowTimedOut ||
  u instanceof WorkflowDead

const startEffect = <O>(exec: Execution, workflow: AnyWorkflow, input: unknown, options?: ChildOptions) =>
  Effect.map(
    engineOpOr(() => startChild<O>(exec, workflow, input, options), isConflict),
    effectChild,
  )

const effectChild = <O>(h: ChildHandle<O>): EffectChildHandle<O> => ({
  id: h.id,
  result: engineOpOr(() => h.result(), isChildEnd),
  outcome: engineOp(() => h.outcome()),
})

/** One attempt: the body runs with the caller's services on the attempt's signal; a failure rejects with `E`. */
const runBody = async <A, E, R>(
  step: string,
  body: StepBody<A, E, R>,
  services: Context.Context<R>,
  info: StepInfo,
): Promise<A> => {
  // Called synchronously inside the attempt's scope: hand it to the fiber.
  const scope = stepScope.getStore()
  const own = (Effect.isEffect(body) ? body : Effect.suspend(() => body(info))).pipe(
    Effect.provideService(CurrentStepScope, scope),
  )
  // Effect's own spans in the body (Effect.withSpan) are children of the attempt's span, in the same trace.
  const parent = scope?.observed?.traceParent
  const effect = parent ? Effect.withParentSpan(own, Tracer.externalSpan(parent)) : own
  const exit = await Effect.runPromiseExitWith(services)(effect, { signal: info.signal })
  if (Exit.isSuccess(exit)) return exit.value
  const failure = Cause.findError(exit.cause)
  if (Result.isSuccess(failure)) throw failure.success
  const defect = Cause.findDefect(exit.cause)
  throw new StepDefect({
    step,
    cause: Result.isSuccess(defect) ? defect.success : new Error(`the body of step ${step} was interrupted`),
  })
}

/** Feed only typed failures to the user's schedule: a defect ends it (as `Effect.retry` never retries defects). */
const failuresOnly = <E>(schedule: Schedule.Schedule<unknown, E>): Schedule.Schedule<unknown, unknown> =>
  Schedule.fromStep(
    Effect.map(
      Schedule.toStep(schedule),
      (next) => (now: number, input: unknown) =>
        isDefect(input) ? Cause.done<unknown>(undefined) : next(now, input as E),
    ),
  )

const engineOptions = <A, E>(options: EffectStepOptions<A, E>): StepOptions<A> => ({
  ...(options.retry === undefined
    ? {}
    : { retry: Schedule.isSchedule(options.retry) ? failuresOnly(options.retry) : options.retry }),
  retryIf: (error, attempt) =>
    !isDefect(error) && (options.retryIf === undefined || options.retryIf(error as E, attempt)),
  ...(options.output === undefined ? {} : { output: options.output }),
  ...(options.error === undefined ? {} : { error: options.error }),
})

/** The step's recorded failure, as workflow code sees it: `E` in the error channel, or a defect. */
const failureOf = <E>(error: unknown, codec: EffectStepOptions<unknown, E>["error"]): Effect.Effect<never, E> => {
  if (codec !== undefined && Schema.is(codec)(error)) return Effect.fail(error)
  if (isDefect(error)) {
    const cause = (error as { cause?: unknown }).cause
    return Effect.die(cause === undefined ? error : cause)
  }
  const tag = tagOf(error)
  if (typeof tag === "string" && engineTags.has(tag)) return Effect.die(error)
  return Effect.fail(error as E)
}

export const makeEffectContext = (exec: Execution): EffectWorkflowContext => ({
  workflowId: exec.id,
  log: makeLogger(exec),
  step: <A, E = never, R = never>(name: string, body: StepBody<A, E, R>, options: EffectStepOptions<A, E> = {}) =>
    Effect.flatMap(Effect.context<R>(), (services) =>
      Effect.flatMap(
        engineOp(() => runStep<A>(exec, name, (info) => runBody(name, body, services, info), engineOptions(options))),
        (outcome): Effect.Effect<A, E> =>
          outcome.ok ? Effect.succeed(outcome.value) : failureOf(outcome.error, options.error),
      ),
    ),
  sleep: (duration) => engineOp(() => sleepFor(exec, duration)),
  sleepUntil: (until) => engineOp(() => sleepUntil(exec, until)),
  now: engineOp(() => currentTime(exec)),
  random: engineOp(() => randomNumber(exec)),
  uuid: engineOp(() => randomId(exec)),
  patched: (name) => engineOp(() => patched(exec, name)),
  deprecatePatch: (name) => engineOp(() => deprecatePatch(exec, name)),
  send: (workflowId, topic, message) => engineOpOr(() => send(exec, workflowId, topic, message), isNotFound),
  recv: ((topic: unknown, options?: RecvOptions) =>
    options === undefined
      ? engineOp(() => recv(exec, topic))
      : Effect.map(
          engineOp(() => recv(exec, topic, options)),
          Option.fromUndefinedOr,
        )) as EffectWorkflowContext["recv"],
  setEvent: (key, value) => engineOp(() => setEvent(exec, key, value)),
  getEvent: <A>(workflowId: string, key: string, options?: { readonly timeout?: DurationInput }) =>
    Effect.map(
      engineOpOr(() => getEvent(exec, workflowId, key, options), isNotFound),
      (value) => Option.fromUndefinedOr(value as A | undefined),
    ),
  writeStream: (key, value) =>
    Effect.flatMap(CurrentStepScope, (scope) => engineOp(() => writeStream(exec, { key, value }, scope))),
  closeStream: (key) =>
    Effect.flatMap(CurrentStepScope, (scope) => engineOp(() => writeStream(exec, { key, close: true }, scope))),
  start: <W extends AnyWorkflow>(workflow: W, input: InputOf<W>, options?: ChildOptions) =>
    startEffect<OutputOf<W>>(exec, workflow, input, options),
  run: <W extends AnyWorkflow>(workflow: W, input: InputOf<W>, options?: ChildOptions) =>
    Effect.flatMap(startEffect<OutputOf<W>>(exec, workflow, input, options), (h) => h.result),
  enqueue: (queue, workflow, input, options) =>
    Effect.map(
      engineOpOr(
        () => enqueueChild<OutputOf<typeof workflow>>(exec, queue, workflow, input, options),
        isEnqueueRefusal,
      ),
      effectChild,
    ),
  debounce: <W extends AnyWorkflow>(workflow: W, key: string, input: InputOf<W>, options: DebounceOptions) =>
    Effect.map(
      engineOp(() => debounceFromWorkflow<OutputOf<W>>(exec, workflow, key, input, options)),
      effectChild,
    ),
})
