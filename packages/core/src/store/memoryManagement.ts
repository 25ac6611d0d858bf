/**
 * The Management port on the in-memory store, with the SQL stores' semantics. The memory store's operations
 * never interleave, so each one is atomic by construction.
 */
import { Clock, Effect } from "effect"
import type { Entry } from "./memory.ts"
import type { QueueState } from "./memoryQueues.ts"
import type { Management, StoredFilter, StoredHistory, StoredQueueStats, StoredWorkflow } from "./Management.ts"
import type { QueueConfig, WorkflowRecord } from "./Store.ts"

export interface ManagementState extends QueueState {
  readonly executors: ReadonlyMap<
    string,
    { readonly appVersion: string; readonly leaseMs: number; readonly heartbeatAt: number }
  >
  readonly notify: (id: string) => void
}

const active = new Set(["ENQUEUED", "DELAYED", "PENDING"])

const matches = (r: WorkflowRecord, f: StoredFilter) =>
  (!f.ids || f.ids.includes(r.id)) &&
  (!f.status || f.status.includes(r.status)) &&
  (!f.names || f.names.includes(r.name)) &&
  (f.idPrefix === undefined || r.id.startsWith(f.idPrefix)) &&
  (f.queue === undefined || r.queue === f.queue) &&
  (f.executorId === undefined || r.executorId === (f.executorId ?? undefined)) &&
  (f.appVersion === undefined || r.appVersion === f.appVersion) &&
  (f.parentId === undefined || r.parentId === f.parentId) &&
  (f.createdAfter === undefined || r.createdAt >= f.createdAfter) &&
  (f.createdBefore === undefined || r.createdAt < f.createdBefore) &&
  (f.updatedAfter === undefined || r.updatedAt >= f.updatedAfter)

const stored = (e: Entry, includeInput = true, includeOutput = true): StoredWorkflow => {
  const { input, output, error, ...rest } = e.record
  const q = e.queued
  return {
    ...rest,
    ...(includeInput ? { input } : {}),
    ...(includeOutput && output !== undefined ? { output } : {}),
    ...(includeOutput && error !== undefined ? { error } : {}),
    priority: q?.priority ?? 0,
    detached: e.detached,
    ...(q?.deduplicationId === undefined ? {} : { deduplicationId: q.deduplicationId }),
    ...(q?.delayUntil === undefined ? {} : { delayUntil: q.delayUntil }),
    ...(q?.timeoutMs === undefined ? {} : { timeoutMs: q.timeoutMs }),
    ...(q?.startedAt === undefined ? {} : { startedAt: q.startedAt }),
    ...(e.forkedFrom === undefined ? {} : { forkedFrom: e.forkedFrom }),
  }
}

/** Records without the fields a resumed or forked workflow must not carry over. */
const withoutOutcome = (r: WorkflowRecord) => {
  const { output: _o, error: _e, cancelReason: _c, completedAt: _d, executorId: _x, deadline, ...rest } = r
  // A timed-out workflow's deadline has passed: resumed, it would time out at once.
  return r.cancelReason === "timeout" || deadline === undefined ? rest : { ...rest, deadline }
}

export const memoryManagement = (state: ManagementState): Management => {
  const { workflows } = state
  const now = Clock.currentTimeMillis

  const descendants = (roots: ReadonlyArray<Entry>, includeDetached: boolean): Entry[] => {
    const out = [...roots]
    for (let i = 0; i < out.length; i++)
      for (const e of workflows.values())
        if (e.record.parentId === out[i]!.record.id && (includeDetached || !e.detached) && !out.includes(e)) out.push(e)
    return out
  }

  const alive = (row: { readonly leaseMs: number; readonly heartbeatAt: number }, at: number) =>
    at - row.heartbeatAt <= row.leaseMs

  const remove = (e: Entry) => {
    workflows.delete(e.record.id)
    state.notify(e.record.id)
  }

  return {
    list: (filter, page) =>
      Effect.sync(() => {
        const sign = page.order === "asc" ? 1 : -1
        const cmp = (a: WorkflowRecord, b: { createdAt: number; id: string }) =>
          sign * (a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
        return [...workflows.values()]
          .filter((e) => matches(e.record, filter) && (!page.after || cmp(e.record, page.after) > 0))
          .sort((a, b) => cmp(a.record, b.record))
          .slice(0, page.limit)
          .map((e) => stored(e, page.includeInput, page.includeOutput))
      }),
    count: (filter) =>
      Effect.sync(() => {
        let n = 0
        for (const e of workflows.values()) if (matches(e.record, filter)) n++
        return n
      }),
    get: (id) => Effect.sync(() => (workflows.has(id) ? stored(workflows.get(id)!) : undefined)),
    history: (id) =>
      Effect.sync((): StoredHistory => {
        const e = workflows.get(id)
        if (!e) return { checkpoints: [], events: [], streamValues: [], streamCloses: [] }
        return {
          checkpoints: [...e.checkpoints.values()].sort((a, b) => a.stepId - b.stepId),
          events: e.eventHistory.map((h) => ({ stepId: h.stepId, key: h.key, value: h.value })),
          streamValues: [...e.streams].flatMap(([key, s]) =>
            s.values.map((value, offset) => ({ stepId: s.stepIds[offset]!, key, offset, value })),
          ),
          streamCloses: [...e.streams].flatMap(([key, s]) =>
            s.closedStep === undefined ? [] : [{ stepId: s.closedStep, key }],
          ),
        }
      }),
    cancel: (ids, options) =>
      Effect.map(now, (at) => {
        const roots = ids.flatMap((id) => (workflows.has(id) ? [workflows.get(id)!] : []))
        const changed: WorkflowRecord[] = []
        for (const e of options.children ? descendants(roots, false) : roots)
          if (active.has(e.record.status)) {
            const wasRunning = e.record.status === "PENDING"
            changed.push(state.update(e, { status: "CANCELLED", cancelReason: "cancelled", completedAt: at }, at))
            if (wasRunning && e.record.queue !== undefined) state.wake({ kind: "queue", queue: e.record.queue })
          }
        return changed
      }),
    resume: (id, options) =>
      Effect.map(now, (at) => {
        const e = workflows.get(id)
        if (!e) return { _tag: "NotFound" as const }
        const r = e.record
        const moving = options.appVersion !== undefined && options.appVersion !== r.appVersion
        const resumable =
          r.status === "CANCELLED" || r.status === "ERROR" || r.status === "DEAD" || (r.status === "PENDING" && moving)
        if (!resumable) return { _tag: "NotResumable" as const, status: r.status }
        const queued = r.queue !== undefined && e.queued !== undefined
        const dedup = e.queued?.deduplicationId
        if (r.queue !== undefined && dedup !== undefined && r.status !== "PENDING") {
          const holder = [...workflows.values()].find(
            (o) =>
              o !== e &&
              o.record.queue === r.queue &&
              o.queued?.deduplicationId === dedup &&
              active.has(o.record.status),
          )
          if (holder)
            return {
              _tag: "DeduplicationTaken" as const,
              queue: r.queue,
              deduplicationId: dedup,
              existingId: holder.record.id,
            }
        }
        // A timed-out workflow loses its timeout too: back on its queue, its next claim would set a new deadline.
        if (r.cancelReason === "timeout" && e.queued?.timeoutMs !== undefined) {
          const { timeoutMs: _t, ...facts } = e.queued
          e.queued = facts
        }
        e.record = {
          ...withoutOutcome(r),
          status: queued ? "ENQUEUED" : "PENDING",
          epoch: r.epoch + 1,
          recoveryAttempts: 0,
          appVersion: options.appVersion ?? r.appVersion,
          updatedAt: at,
        }
        e.progressMark = e.checkpoints.size
        state.notify(id)
        if (queued) state.wake({ kind: "queue", queue: r.queue })
        return { _tag: "Resumed" as const, record: e.record }
      }),
    fork: (request) =>
      Effect.map(now, (at) => {
        const source = workflows.get(request.sourceId)
        if (!source) return { _tag: "NotFound" as const }
        if (workflows.has(request.id)) return { _tag: "IdTaken" as const }
        const lastStep = Math.max(-1, ...source.checkpoints.keys())
        if (request.fromStep !== 0 && !source.checkpoints.has(request.fromStep))
          return { _tag: "NoSuchStep" as const, lastStep }
        const before = (stepId: number) => stepId < request.fromStep
        const record: WorkflowRecord = {
          id: request.id,
          name: source.record.name,
          status: request.queue === undefined ? "PENDING" : "ENQUEUED",
          input: request.input ?? source.record.input,
          epoch: 1,
          appVersion: request.appVersion ?? source.record.appVersion,
          recoveryAttempts: 0,
          createdAt: at,
          updatedAt: at,
          ...(request.queue === undefined ? {} : { queue: request.queue }),
        }
        const fork = state.newEntry(
          record,
          false,
          request.queue === undefined ? undefined : { priority: 0, order: ++state.order.value },
        )
        fork.forkedFrom = source.record.id
        for (const [stepId, cp] of source.checkpoints) if (before(stepId)) fork.checkpoints.set(stepId, cp)
        fork.progressMark = fork.checkpoints.size
        for (const h of source.eventHistory)
          if (before(h.stepId)) {
            fork.eventHistory.push(h)
            const current = fork.eventHistory.filter((x) => x.key === h.key).sort((a, b) => a.stepId - b.stepId)
            fork.events.set(h.key, current[current.length - 1]!.value)
          }
        for (const [key, s] of source.streams) {
          const values = s.values.filter((_, i) => before(s.stepIds[i]!))
          const closed = s.closedStep !== undefined && before(s.closedStep)
          if (values.length === 0 && !closed) continue
          fork.streams.set(key, {
            values,
            stepIds: s.stepIds.filter((stepId) => before(stepId)),
            closed,
            ...(closed ? { closedStep: s.closedStep! } : {}),
          })
        }
        workflows.set(request.id, fork)
        state.notify(request.id)
        if (request.queue !== undefined) state.wake({ kind: "queue", queue: request.queue })
        return { _tag: "Forked" as const, record }
      }),
    delete: (ids, options) =>
      Effect.sync(() => {
        const roots = ids.flatMap((id) => (workflows.has(id) ? [workflows.get(id)!] : []))
        let n = 0
        for (const e of options.children ? descendants(roots, true) : roots)
          if (!active.has(e.record.status)) {
            remove(e)
            n++
          }
        return n
      }),
    prune: (options) =>
      Effect.sync(() => {
        let n = 0
        for (const e of [...workflows.values()]) {
          if (n >= options.limit) break
          const r = e.record
          if (options.status.includes(r.status) && (r.completedAt ?? r.updatedAt) < options.before) {
            remove(e)
            n++
          }
        }
        return n
      }),
    queues: () =>
      Effect.sync(() => {
        const stats = new Map<string, { -readonly [K in keyof StoredQueueStats]: StoredQueueStats[K] }>()
        const row = (queue: string, partitionKey: string | undefined, config: QueueConfig | undefined) => {
          const key = `${queue}\u0000${partitionKey ?? ""}`
          let s = stats.get(key)
          if (!s)
            stats.set(
              key,
              (s = {
                queue,
                enqueued: 0,
                delayed: 0,
                running: 0,
                ...(partitionKey === undefined ? {} : { partitionKey }),
                ...(config ? { config } : {}),
              }),
            )
          return s
        }
        for (const e of workflows.values()) {
          const r = e.record
          if (r.queue === undefined || !active.has(r.status)) continue
          const s = row(r.queue, r.partitionKey, state.queues.get(r.queue))
          if (r.status === "ENQUEUED") s.enqueued++
          else if (r.status === "DELAYED") s.delayed++
          else s.running++
        }
        for (const [name, config] of state.queues)
          if (![...stats.values()].some((s) => s.queue === name)) row(name, undefined, config)
        return [...stats.values()].sort(
          (a, b) =>
            (a.queue < b.queue ? -1 : a.queue > b.queue ? 1 : 0) ||
            ((a.partitionKey ?? "") < (b.partitionKey ?? "") ? -1 : 1),
        )
      }),
    executors: () =>
      Effect.map(now, (at) => {
        const owned = new Map<string, number>()
        for (const e of workflows.values())
          if (e.record.status === "PENDING" && e.record.executorId !== undefined)
            owned.set(e.record.executorId, (owned.get(e.record.executorId) ?? 0) + 1)
        return [...state.executors]
          .map(([executorId, row]) => ({
            executorId,
            appVersion: row.appVersion,
            heartbeatAt: row.heartbeatAt,
            leaseMs: row.leaseMs,
            alive: alive(row, at),
            owned: owned.get(executorId) ?? 0,
          }))
          .sort((a, b) => (a.executorId < b.executorId ? -1 : 1))
      }),
    stranded: () =>
      Effect.map(now, (at) => {
        const live = new Set([...state.executors.values()].filter((r) => alive(r, at)).map((r) => r.appVersion))
        const counts = new Map<string, number>()
        for (const e of workflows.values())
          if (e.record.status === "PENDING" && !live.has(e.record.appVersion))
            counts.set(e.record.appVersion, (counts.get(e.record.appVersion) ?? 0) + 1)
        return [...counts].map(([appVersion, count]) => ({ appVersion, count })).sort((a, b) => b.count - a.count)
      }),
  }
}
