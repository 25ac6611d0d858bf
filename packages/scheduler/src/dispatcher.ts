/**
 * The queue dispatcher: decides when this process claims queued work, and how much. The store's claim
 * enforces every limit atomically; the dispatcher only has to ask at the right moments:
 *
 * - when work is enqueued or a workflow of the queue finishes anywhere (a wake-up from the store: NOTIFY on
 *   Postgres, in-process otherwise; the store polls slowly only while notifications are not heard),
 * - when a workflow ends here (room is free),
 * - when the claim said a rate limit or a delay lets more start at some instant (one timer per queue),
 * - and, as a safety net, `relookMs` after a claim that left startable work behind (the store says so when
 *   its pick lost a row that changed under it): no wake-up is owed for that work, so none may come.
 *
 * An idle process therefore costs one subscription per queue and no timers. Claims of one queue never
 * overlap in a process (a request while one runs is folded into a follow-up), and when this process is full,
 * freed room goes to the queues round-robin so that a busy queue does not starve the others.
 */
import type { Dispatcher, DispatchHost, QueueDefinition } from "@durably/core"

/** Most workflows one claim takes: a bigger backlog is taken in several claims, each one round trip. */
const claimBatch = 100
/** How soon a claim that left startable work behind is followed by another (the bound the README states). */
export const relookMs = 5_000
/** Backoff after a failed claim (the store was unreachable, say), doubling up to the cap. */
const retryFirstMs = 500
const retryMaxMs = 30_000

interface QueueState {
  readonly name: string
  claiming: Promise<void> | undefined
  again: boolean
  /** The instant the pending timer fires, and its cancel. */
  timerAt: number | undefined
  timer: AbortController | undefined
  failures: number
}

export const dispatchQueues = (host: DispatchHost, queues: ReadonlyArray<QueueDefinition>): Dispatcher => {
  const states = queues.map<QueueState>((q) => ({
    name: q.name,
    claiming: undefined,
    again: false,
    timerAt: undefined,
    timer: undefined,
    failures: 0,
  }))
  const byName = new Map(states.map((s) => [s.name, s]))
  const stopping = new AbortController()
  /** Queues that wanted more while this process had no room, in the order they asked. */
  let starved: QueueState[] = []
  /** Room promised to claims in flight: not free for another queue's claim meanwhile. */
  let reserved = 0

  const arm = (s: QueueState, at: number) => {
    if (stopping.signal.aborted || (s.timerAt !== undefined && s.timerAt <= at)) return
    s.timer?.abort()
    const timer = new AbortController()
    s.timer = timer
    s.timerAt = at
    const signal = AbortSignal.any([timer.signal, stopping.signal])
    // At least a millisecond later: a hint in the past must not become a busy loop.
    host.sleep(Math.max(1, at - host.now()), signal).then(
      () => {
        if (s.timer !== timer) return
        s.timer = undefined
        s.timerAt = undefined
        wake(s)
      },
      () => undefined,
    )
  }

  const claimLoop = async (s: QueueState) => {
    do {
      s.again = false
      const room = host.room() - reserved
      if (room <= 0) {
        if (!starved.includes(s)) starved.push(s)
        return
      }
      const max = Math.min(room, claimBatch)
      reserved += max
      try {
        const { started, retryAt, waiting } = await host.claim(s.name, max).finally(() => (reserved -= max))
        s.failures = 0
        if (retryAt !== undefined) arm(s, retryAt)
        if (waiting) arm(s, host.now() + relookMs)
        // A full batch: there may be more waiting.
        if (started >= max) s.again = true
      } catch (e) {
        s.failures++
        const delay = Math.min(retryMaxMs, retryFirstMs * 2 ** (s.failures - 1))
        host.log({
          level: s.failures === 1 ? "warn" : "error",
          message: `queue ${JSON.stringify(s.name)}: claiming work failed (${String(e)}); trying again in ${delay} ms`,
        })
        arm(s, host.now() + delay)
        return
      }
    } while (s.again && !stopping.signal.aborted)
  }

  const wake = (s: QueueState) => {
    if (stopping.signal.aborted) return
    if (s.claiming) {
      s.again = true
      return
    }
    s.claiming = claimLoop(s).finally(() => {
      s.claiming = undefined
      if (s.again) wake(s)
    })
  }

  const unsubscribes = states.map((s) => host.subscribe(s.name, () => wake(s)))
  const unFreed = host.onFreed((queue) => {
    // Room freed: the starved queues first, in the order they asked, then the queue it came from. Those
    // that find no room left queue up again at the back, so the turns rotate.
    const own = queue === undefined ? undefined : byName.get(queue)
    const waiting = starved
    starved = []
    for (const s of waiting) wake(s)
    if (own && !waiting.includes(own)) wake(own)
  })
  // Work may have been waiting before this process launched.
  for (const s of states) wake(s)

  return {
    stop: async () => {
      stopping.abort()
      unsubscribes.forEach((u) => u())
      unFreed()
      for (const s of states) s.timer?.abort()
      await Promise.all(states.flatMap((s) => (s.claiming ? [s.claiming] : [])))
    },
  }
}
