/** Debouncing in the in-memory store, with the SQL store's semantics (see debounceTypes.ts). */
import { debounceQueue, type DebounceRequest, type DebounceResult } from "./debounceTypes.ts"
import type { QueueState } from "./memoryQueues.ts"
import type { WorkflowRecord } from "./Store.ts"

export const debounceKeyOf = (name: string, key: string): string => JSON.stringify([name, key])

export const memoryDebounce = (state: QueueState, r: DebounceRequest, now: number): DebounceResult => {
  const key = debounceKeyOf(r.name, r.key)
  for (const e of state.workflows.values()) {
    const q = e.queued
    if (q?.debounceKey !== key || (e.record.status !== "DELAYED" && e.record.status !== "ENQUEUED")) continue
    const startAt = Math.min(now + r.delayMs, q.debounceUntil ?? Infinity)
    e.queued = { ...q, delayUntil: startAt }
    e.record = { ...e.record, input: r.input }
    state.update(e, { status: startAt > now ? "DELAYED" : "ENQUEUED" }, now)
    state.wake({ kind: "queue", queue: debounceQueue })
    return { id: e.record.id, created: false }
  }
  const until = r.maxWaitMs === undefined ? undefined : now + r.maxWaitMs
  const startAt = Math.min(now + r.delayMs, until ?? Infinity)
  const record: WorkflowRecord = {
    id: r.id,
    name: r.name,
    status: startAt > now ? "DELAYED" : "ENQUEUED",
    input: r.input,
    epoch: 1,
    appVersion: r.appVersion,
    recoveryAttempts: 0,
    createdAt: now,
    updatedAt: now,
    queue: debounceQueue,
  }
  state.workflows.set(
    r.id,
    state.newEntry(record, false, {
      priority: 0,
      delayUntil: startAt,
      order: ++state.order.value,
      debounceKey: key,
      ...(until === undefined ? {} : { debounceUntil: until }),
    }),
  )
  state.wake({ kind: "queue", queue: debounceQueue })
  return { id: r.id, created: true }
}
