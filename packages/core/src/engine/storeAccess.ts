/** How engines use their store: shared ownership, and calls that ride out transient failures. */
import { Effect, Schedule } from "effect"
import { EngineStopped, StoreError, type FencedError } from "../errors.ts"
import type { EngineEvent } from "../observe/Observer.ts"
import type { Store } from "../store/Store.ts"

/**
 * How many engines use each store: a store is closed when the last engine on it shuts down, so engines that
 * share a store (the only way to run two on one embedded directory) do not close it under each other.
 */
const storeUsers = new WeakMap<Store, number>()

export const releaseStore = (store: Store): boolean => {
  const users = (storeUsers.get(store) ?? 1) - 1
  storeUsers.set(store, users)
  return users <= 0
}

const transientRetry = Schedule.min([Schedule.exponential("50 millis", 2), Schedule.spaced("5 seconds")]).pipe(
  Schedule.while(({ input }) => input instanceof StoreError && input.retryable),
)

export const retainStore = (store: Store): void => {
  storeUsers.set(store, (storeUsers.get(store) ?? 0) + 1)
}

/** How long a store call fails before it is reported, and how often such reports may repeat. */
const reportAfterMs = 10_000
const reportEveryMs = 30_000

/**
 * What a store outage is reported as: the EngineEvents "storeFailing" and "storeRecovered", less the executor's
 * fields, which the engine adds (the events are defined once, in Observer.ts).
 */
export type OutageEvent = WithoutExecutor<Extract<EngineEvent, { readonly type: "storeFailing" | "storeRecovered" }>>
type WithoutExecutor<E> = E extends unknown ? Omit<E, "executorId" | "appVersion"> : never

/**
 * Store calls that keep failing are retried without end (an outage must not lose work), so they would be
 * invisible: one event when calls have failed for a while (at most one per `reportEveryMs`), and one when they
 * succeed again. One per engine: two engines report apart.
 */
const outageReporter = (report: (e: OutageEvent) => void, now: () => number) => {
  let lastReported = -Infinity
  let reported = false
  return {
    failing: (operation: string, since: number, error: unknown): boolean => {
      const at = now()
      if (at - since < reportAfterMs || at - lastReported < reportEveryMs) return false
      lastReported = at
      reported = true
      report({ type: "storeFailing", operation, failingForMs: at - since, error })
      return true
    },
    succeeded: (operation: string, since: number) => {
      if (!reported) return
      reported = false
      report({ type: "storeRecovered", operation, failedForMs: now() - since })
    },
  }
}

/** Tells observers the caller waits on time (a retry's backoff); the function returned ends the wait. */
export type WaitingOnTime = () => (() => void) | undefined

/**
 * Run a store operation; a transient failure is retried with backoff until it succeeds or `signal` aborts.
 * Observers see each attempt, and not the backoff between two: a call waiting to retry waits on time, like a
 * sleep (`waiting` says so for the execution it belongs to), so the test kit's clock can move through an outage.
 */
export const makeStoreCall = (
  runEffect: <A, E>(effect: Effect.Effect<A, E>, signal?: AbortSignal) => Promise<A>,
  /** Observer.storeCall, when an observer watches store calls. */
  observe: (() => (() => void) | undefined) | undefined,
  stopped: () => boolean,
  report: (e: OutageEvent) => void,
  now: () => number,
) => {
  const outage = outageReporter(report, now)
  const observed = <A, E>(attempt: Effect.Effect<A, E>): Effect.Effect<A, E> =>
    observe === undefined
      ? attempt
      : Effect.suspend(() => {
          const end = observe()
          return end === undefined ? attempt : Effect.ensuring(attempt, Effect.sync(end))
        })
  return async <A>(
    effect: Effect.Effect<A, StoreError | FencedError>,
    signal?: AbortSignal,
    waiting?: WaitingOnTime,
  ): Promise<A> => {
    if (stopped()) throw new EngineStopped({ reason: "the engine was shut down" })
    let failure: unknown
    try {
      return await runEffect(observed(effect), signal)
    } catch (e) {
      failure = e
    }
    // Only a transient failure pays for the retry machinery.
    if (!(failure instanceof StoreError && failure.retryable) || signal?.aborted) throw failure
    const operation = failure.operation
    const since = now()
    let reported = false
    // From an attempt's failure to the next attempt (or the end), the caller waits on time.
    let resume: (() => void) | undefined
    const wake = () => {
      resume?.()
      resume = undefined
    }
    const attempt = Effect.suspend(() => {
      wake()
      return observed(effect)
    }).pipe(
      Effect.tapError((error) =>
        Effect.sync(() => {
          reported = outage.failing(operation, since, error) || reported
          resume = waiting?.()
        }),
      ),
    )
    try {
      const result = await runEffect(Effect.retry(attempt, transientRetry), signal)
      if (reported) outage.succeeded(operation, since)
      return result
    } finally {
      wake()
    }
  }
}
