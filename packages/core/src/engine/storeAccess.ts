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

/** Run a store operation; a transient failure is retried with backoff until it succeeds or `signal` aborts. */
export const makeStoreCall = (
  runEffect: <A, E>(effect: Effect.Effect<A, E>, signal?: AbortSignal) => Promise<A>,
  /** Observer.storeCall, when an observer watches store calls. */
  observe: (() => (() => void) | undefined) | undefined,
  stopped: () => boolean,
  report: (e: OutageEvent) => void,
  now: () => number,
) => {
  const outage = outageReporter(report, now)
  return async <A>(effect: Effect.Effect<A, StoreError | FencedError>, signal?: AbortSignal): Promise<A> => {
    if (stopped()) throw new EngineStopped({ reason: "the engine was shut down" })
    const end = observe?.()
    try {
      try {
        return await runEffect(effect, signal)
      } catch (e) {
        // Only a transient failure pays for the retry machinery.
        if (!(e instanceof StoreError && e.retryable) || signal?.aborted) throw e
        const since = now()
        let reported = false
        const noted = Effect.tapError(effect, (error) =>
          Effect.sync(() => {
            reported = outage.failing(e.operation, since, error) || reported
          }),
        )
        const result = await runEffect(Effect.retry(noted, transientRetry), signal)
        if (reported) outage.succeeded(e.operation, since)
        return result
      }
    } finally {
      end?.()
    }
  }
}
