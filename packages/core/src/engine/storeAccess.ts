/** How engines use their store: shared ownership, and calls that ride out transient failures. */
import { Effect, Schedule } from "effect"
import { EngineStopped, StoreError, type FencedError } from "../errors.ts"
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

/** Run a store operation; a transient failure is retried with backoff until it succeeds or `signal` aborts. */
export const makeStoreCall =
  (
    runEffect: <A, E>(effect: Effect.Effect<A, E>, signal?: AbortSignal) => Promise<A>,
    /** Observer.storeCall, when an observer watches store calls. */
    observe: (() => (() => void) | undefined) | undefined,
    stopped: () => boolean,
  ) =>
  async <A>(effect: Effect.Effect<A, StoreError | FencedError>, signal?: AbortSignal): Promise<A> => {
    if (stopped()) throw new EngineStopped({ reason: "the engine was shut down" })
    const end = observe?.()
    try {
      try {
        return await runEffect(effect, signal)
      } catch (e) {
        // Only a transient failure pays for the retry machinery.
        if (!(e instanceof StoreError && e.retryable) || signal?.aborted) throw e
        return await runEffect(Effect.retry(effect, transientRetry), signal)
      }
    } finally {
      end?.()
    }
  }
