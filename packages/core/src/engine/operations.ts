/**
 * The `ctx` operations, built on Execution.operation: steps (attempts, retries, timeouts, and the stream
 * values an attempt writes), durable sleeps, and recorded values (now, random, uuid).
 */
import { randomUUID } from "node:crypto"
import { Effect } from "effect"
import { toInstant, toMillis, type DurationInput } from "../duration.ts"
import { InvalidArgument, StepTimeoutError, StreamClosedError } from "../errors.ts"
import type { Checkpoint, StreamEntry } from "../store/Store.ts"
import { validateName, type StepInfo, type StepOptions } from "../workflow.ts"
import {
  ExecutionStopped,
  stepScope,
  type Execution,
  type OperationResult,
  type Outcome,
  type StepStreamBuffer,
} from "./Execution.ts"
import type { OperationObserver } from "../observe/Observer.ts"
import { retryPlan } from "./retry.ts"
import { revive } from "./revive.ts"
import { publishStep } from "./streams.ts"

export const runStep = <A>(
  exec: Execution,
  name: string,
  fn: (info: StepInfo) => A | PromiseLike<A>,
  options: StepOptions<A> = {},
): Promise<Outcome<A>> => {
  exec.guard("step")
  validateName(name, "step name")
  if (typeof fn !== "function")
    throw new InvalidArgument({ reason: `ctx.step("${name}"): the body must be a function` })
  const timeoutMs = options.timeout === undefined ? undefined : toMillis(options.timeout, `step "${name}" timeout`)
  const host = exec.host
  const plan = retryPlan(
    options.retry,
    name,
    (e) => host.runEffect(e),
    Math.random,
    () => host.clock.currentTimeMillisUnsafe(),
  )
  const outcome = exec.operation<A>("step", name, options, async (stepId, pending, prepare) => {
    const what = `step "${name}"`
    const idempotencyKey = `${exec.id}:${stepId}`
    const errors: string[] = pending?.attemptErrors ? (JSON.parse(pending.attemptErrors) as string[]) : []
    let attempt = pending?.attempts ?? 0
    if (pending?.wakeAt !== undefined) await exec.waitUntil(pending.wakeAt)
    for (;;) {
      attempt++
      await gateOrStop(exec)
      exec.checkAlive()
      const watch = exec.observed?.operation?.({ kind: "step", name, stepId, attempt })
      let attempted: Awaited<ReturnType<typeof runAttempt<A>>>
      try {
        // The gate resolved turns ago: a process stopped since may have woken past its lease. From this check
        // to the body's first line, only synchronous code runs.
        while (!host.stepMayStart(exec)) {
          await gateOrStop(exec)
          exec.checkAlive()
        }
        attempted = await runAttempt(exec, name, fn, { attempt, idempotencyKey, timeoutMs }, watch)
      } catch (e) {
        watch?.end({ error: e })
        throw e
      }
      const { result, streamed } = attempted
      if (result.ok) {
        watch?.end({})
        let done: OperationResult
        try {
          done = {
            output: exec.encode(result.value, options.output, `${what} result`),
            attempts: attempt,
            ...history(errors),
          }
        } catch (e) {
          // A result that cannot be stored is a bug in the step, not a transient failure: no retry.
          return { error: exec.encodeError(e, undefined, what), attempts: attempt, ...history(errors) }
        }
        // What the attempt wrote to streams is published with its checkpoint, in one write.
        return streamed.length === 0 ? done : publishStep(exec, streamed, prepare(done), name)
      }
      const encoded = exec.encodeError(result.error, options.error, what)
      errors.push(encoded)
      const delay = shouldRetry(options, result.error, attempt)
        ? await plan.delayAfter(attempt, result.error)
        : undefined
      watch?.end(delay === undefined ? { error: result.error } : { error: result.error, retryInMs: delay })
      if (delay === undefined) return { error: encoded, attempts: attempt, attemptErrors: JSON.stringify(errors) }
      const wakeAt = host.clock.currentTimeMillisUnsafe() + delay
      await exec.write(
        pendingCheckpoint(stepId, name, attempt, errors, wakeAt, pending, host.clock.currentTimeMillisUnsafe()),
      )
      await exec.waitUntil(wakeAt)
    }
  })
  return outcome.then((o) => (o.ok ? o : { ok: false, error: revive(o.error, [StreamClosedError]) }))
}

const history = (errors: string[]) => (errors.length === 0 ? {} : { attemptErrors: JSON.stringify(errors) })

const shouldRetry = (options: StepOptions<unknown>, error: unknown, attempt: number) => {
  if (!options.retryIf) return true
  try {
    return options.retryIf(error, attempt) === true
  } catch {
    return false
  }
}

const pendingCheckpoint = (
  stepId: number,
  name: string,
  attempts: number,
  errors: string[],
  wakeAt: number,
  previous: Checkpoint | undefined,
  now: number,
): Checkpoint => ({
  stepId,
  name,
  kind: "step",
  state: "pending",
  attempts,
  attemptErrors: JSON.stringify(errors),
  wakeAt,
  startedAt: previous?.startedAt ?? now,
})

/** One attempt of a step body: its own signal, its timeout, and abandonment if the execution is killed. */
const runAttempt = async <A>(
  exec: Execution,
  step: string,
  fn: (info: StepInfo) => A | PromiseLike<A>,
  opts: { readonly attempt: number; readonly idempotencyKey: string; readonly timeoutMs: number | undefined },
  /** The observers of this attempt: the body runs in their scope (a span active), when they give one. */
  watch?: OperationObserver,
): Promise<{ readonly result: Outcome<A>; readonly streamed: ReadonlyArray<StreamEntry> }> => {
  const stream: StepStreamBuffer = { entries: [], open: true }
  const controller = new AbortController()
  const cleanups: Array<() => void> = []
  const host = exec.host
  try {
    const result = await new Promise<Outcome<A>>((resolve, reject) => {
      const killed = () => {
        controller.abort(exec.bodySignal.reason)
        reject(new ExecutionStopped(exec.stopped ?? "crash"))
      }
      if (exec.bodySignal.aborted) return killed()
      exec.bodySignal.addEventListener("abort", killed, { once: true })
      cleanups.push(() => exec.bodySignal.removeEventListener("abort", killed))
      if (opts.timeoutMs !== undefined) {
        const timer = new AbortController()
        cleanups.push(() => timer.abort())
        const timeoutMs = opts.timeoutMs
        host.runEffect(Effect.sleep(timeoutMs), timer.signal).then(
          () => {
            const error = new StepTimeoutError({ step, timeoutMs })
            controller.abort(error)
            resolve({ ok: false, error })
          },
          () => undefined,
        )
      }
      const info: StepInfo = { signal: controller.signal, attempt: opts.attempt, idempotencyKey: opts.idempotencyKey }
      const body = async () => fn(info)
      // Called as a method: an observer may be a class instance.
      const scoped = watch?.run ? () => watch.run!(body) : body
      stepScope.run({ workflowId: exec.id, step, stream, observed: watch }, scoped).then(
        (value) => resolve({ ok: true, value }),
        (error: unknown) => resolve({ ok: false, error }),
      )
    })
    return { result, streamed: stream.entries }
  } finally {
    // The attempt is over: a body still running (timed out) can no longer add to what gets published.
    stream.open = false
    for (const c of cleanups) c()
  }
}

export const runSleep = (exec: Execution, until: () => number, name: string): Promise<void> =>
  exec
    .operation<void>("sleep", name, {}, async (stepId, pending) => {
      let wakeAt = pending?.wakeAt
      if (wakeAt === undefined) {
        const now = exec.host.clock.currentTimeMillisUnsafe()
        wakeAt = until()
        await exec.write({ stepId, name, kind: "sleep", state: "pending", attempts: 1, wakeAt, startedAt: now })
      }
      await exec.waitUntil(wakeAt, true)
      return { output: exec.encode(undefined, undefined, name), attempts: 1 }
    })
    .then(() => undefined)

export const sleepFor = (exec: Execution, duration: DurationInput): Promise<void> => {
  exec.guard("sleep")
  const ms = toMillis(duration, "ctx.sleep duration")
  return runSleep(exec, () => exec.host.clock.currentTimeMillisUnsafe() + ms, "sleep")
}

export const sleepUntil = (exec: Execution, until: Date | number): Promise<void> => {
  exec.guard("sleepUntil")
  const at = toInstant(until, "ctx.sleepUntil")
  return runSleep(exec, () => at, "sleepUntil")
}

/** Record a value computed live once (now, random, uuid), so replay sees the same one. */
export const recordValue = async <A>(
  exec: Execution,
  kind: "now" | "random" | "uuid",
  compute: () => A,
): Promise<A> => {
  const outcome = await exec.operation<A>(kind, kind, {}, (): Promise<OperationResult> =>
    Promise.resolve({ output: exec.encode(compute(), undefined, kind) }),
  )
  if (!outcome.ok) throw outcome.error
  return outcome.value
}

export const currentTime = (exec: Execution) =>
  recordValue(exec, "now", () => new Date(exec.host.clock.currentTimeMillisUnsafe()))
export const randomNumber = (exec: Execution) => recordValue(exec, "random", Math.random)
export const randomId = (exec: Execution) => recordValue(exec, "uuid", randomUUID)

/**
 * Wait until step bodies may start (the executor holds its lease), or until the execution stops: a stopped
 * execution must not wait on a lease it may never get back (a shutdown would wait for it in vain).
 */
const gateOrStop = async (exec: Execution): Promise<void> => {
  const signal = exec.waitSignal
  if (signal.aborted) return
  let onAbort: (() => void) | undefined
  try {
    await Promise.race([
      exec.host.stepGate(exec),
      new Promise<void>((resolve) => signal.addEventListener("abort", (onAbort = () => resolve()), { once: true })),
    ])
  } finally {
    if (onAbort) signal.removeEventListener("abort", onAbort)
  }
}
