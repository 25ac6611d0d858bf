/**
 * Waiting for something another party does (a message, an event, stream values, a workflow's end): look,
 * and while it is not there, sleep until the store says something changed (`store.subscribe`: in-process
 * for memory, NOTIFY for Postgres), until the deadline passes on the engine's clock (virtual in tests), or
 * until a slow real-time poll fires as a safety net for a lost notification. Never a fast poll.
 */
import { Effect } from "effect"
import { toMillis, type DurationInput } from "../duration.ts"
import { InvalidArgument } from "../errors.ts"
import {
  terminalStatuses,
  type Checkpoint,
  type OperationKind,
  type Wake,
  type WorkflowStatus,
} from "../store/Store.ts"
import type { Execution } from "./Execution.ts"
import type { Host } from "./Host.ts"

/**
 * The safety-net look, in real time. Wake-ups come from the store: in-process for memory and PGlite, NOTIFY
 * for Postgres, whose store itself polls (one batched query for every waiter) while its LISTEN connection is
 * down. So this is only a last resort, slow on purpose: ten thousand waiters looking once a second were
 * thousands of queries a second on an idle system.
 */
export const fallbackPollMs = 30_000

/** What to wait for, and for how long. */
export interface WaitOptions<A> {
  readonly host: Host
  /** What may change the answer. */
  readonly wakes: ReadonlyArray<Wake>
  /** Looks once: the answer, or undefined to keep waiting. */
  readonly check: () => Promise<A | undefined>
  /** Engine-clock instant after which the wait gives up (after one last look); none waits indefinitely. */
  readonly deadline?: number | undefined
  /** Stops the wait, which rejects with the signal's reason. */
  readonly signal?: AbortSignal | undefined
  /** Runs once, the first time the answer is not there, before waiting (e.g. to record the deadline). */
  readonly onFirstMiss?: (() => Promise<void>) | undefined
  /** Called before each wait; the function it returns after it (Execution.waiting: observers see waits). */
  readonly waiting?: (() => (() => void) | undefined) | undefined
  /**
   * Called as each wait (after a look that found nothing) begins, to let the execution park if the wait
   * lasts (see parking.ts; parking stops the execution, which aborts `signal`); returns what ends that.
   */
  readonly park?: (() => (() => void) | undefined) | undefined
}

/** Resolves with the answer, or undefined when the deadline passed without one. */
export const waitFor = async <A>(o: WaitOptions<A>): Promise<A | undefined> => {
  let woken = false
  let wake: (() => void) | undefined
  const listener = () => {
    woken = true
    wake?.()
  }
  // Subscribed before the first look, so that nothing happening between a look and the wait is missed.
  const unsubscribes = o.wakes.map((w) => o.host.store.subscribe(w, listener))
  try {
    let first = true
    for (;;) {
      o.signal?.throwIfAborted()
      woken = false
      const found = await o.check()
      if (found !== undefined) return found
      if (first) {
        first = false
        await o.onFirstMiss?.()
      }
      if (o.deadline !== undefined && o.host.clock.currentTimeMillisUnsafe() >= o.deadline) return undefined
      if (woken) continue
      const resume = o.waiting?.()
      try {
        await new Promise<void>((resolve, reject) => {
          const timers = o.deadline === undefined ? undefined : new AbortController()
          const finish = (settle: () => void) => {
            wake = undefined
            clearTimeout(poll)
            timers?.abort()
            unpark?.()
            o.signal?.removeEventListener("abort", onAbort)
            settle()
          }
          const onAbort = () => finish(() => reject(o.signal?.reason as Error))
          wake = () => finish(resolve)
          // Never the only thing keeping the process alive: whatever could wake the waiter holds it open.
          const poll = setTimeout(() => finish(resolve), fallbackPollMs).unref()
          if (o.deadline !== undefined)
            o.host
              .runEffect(Effect.sleep(Math.max(0, o.deadline - o.host.clock.currentTimeMillisUnsafe())), timers!.signal)
              .then(
                () => finish(resolve),
                () => undefined,
              )
          let unpark: (() => void) | undefined
          if (o.signal?.aborted) return onAbort()
          o.signal?.addEventListener("abort", onAbort, { once: true })
          unpark = o.park?.()
        })
      } finally {
        resume?.()
      }
    }
  } finally {
    for (const unsubscribe of unsubscribes) unsubscribe()
  }
}

/** The `park` option of a wait of `exec` for `wakes` until `deadline`: parks it once the wait has lasted. */
export const parkWhenIdle =
  (exec: Execution, wakes: ReadonlyArray<Wake>, deadline: number | undefined) => (): (() => void) | undefined =>
    exec.host.parkWaiting(exec, wakes, deadline)

/** The workflow will not change any more by itself: finished, or DEAD (only an operator resumes it). */
export const hasEnded = (status: WorkflowStatus): boolean => terminalStatuses.has(status) || status === "DEAD"

/** Milliseconds of an optional `{ timeout }` option, validated (InvalidArgument naming `what`). */
export const timeoutOf = (
  options: { readonly timeout?: DurationInput } | undefined,
  what: string,
): number | undefined => {
  if (options !== undefined && (typeof options !== "object" || options === null))
    throw new InvalidArgument({ reason: `${what}: the options must be an object such as { timeout: "1 hour" }` })
  return options?.timeout === undefined ? undefined : toMillis(options.timeout, `${what} timeout`)
}

/**
 * The durable deadline of a waiting operation (recv, getEvent): the recorded one after a restart, else now
 * plus the timeout. `onFirstMiss` records it in a pending checkpoint the first time the wait finds nothing,
 * so that after a restart only the remainder is waited.
 */
export const durableDeadline = (
  exec: Execution,
  op: { readonly stepId: number; readonly name: string; readonly kind: OperationKind },
  pending: Checkpoint | undefined,
  timeoutMs: number | undefined,
): { readonly deadline: number | undefined; readonly onFirstMiss: (() => Promise<void>) | undefined } => {
  const startedAt = pending?.startedAt ?? exec.host.clock.currentTimeMillisUnsafe()
  const deadline = pending?.wakeAt ?? (timeoutMs === undefined ? undefined : startedAt + timeoutMs)
  return {
    deadline,
    onFirstMiss:
      pending !== undefined || deadline === undefined
        ? undefined
        : async () => {
            await exec.write({ ...op, state: "pending", attempts: 1, wakeAt: deadline, startedAt })
          },
  }
}
