/**
 * Queues in the in-memory store, with the SQL stores' semantics: the same refusals, the same claim limits
 * (global, per executor, sliding-window rate, per partition), round-robin partitions, and delays.
 * A memory store's operations never interleave, so each claim is atomic by construction.
 */
import type { Entry, QueuedFacts } from "./memory.ts"
import type {
  EnqueueOutcome,
  EnqueueRequest,
  EnqueueResult,
  QueueClaim,
  QueueClaimRequest,
  QueueConfig,
  Wake,
  WorkflowRecord,
} from "./Store.ts"

export interface QueueState {
  readonly queues: Map<string, QueueConfig>
  readonly workflows: Map<string, Entry>
  readonly newEntry: (record: WorkflowRecord, detached: boolean, queued?: QueuedFacts) => Entry
  readonly update: (entry: Entry, patch: Partial<WorkflowRecord>, now: number) => WorkflowRecord
  readonly wake: (w: Wake) => void
  /** Why a child of this parent is created cancelled (its parent was cancelled before it), if it is. */
  readonly cancelledParent: (
    parent: { readonly id: string; readonly detached?: boolean } | undefined,
  ) => WorkflowRecord["cancelReason"]
  /** The last enqueue's number: first in, first out within a priority. */
  readonly order: { value: number }
}

const waiting = (e: Entry) => e.record.status === "ENQUEUED" || e.record.status === "DELAYED"
const active = (e: Entry) => waiting(e) || e.record.status === "PENDING"

export const queueEnqueue = (state: QueueState, request: EnqueueRequest, now: number): EnqueueResult => {
  const q = state.queues.get(request.queue)
  if (!q) return { _tag: "Refused", reason: "unknown_queue" }
  const items = request.items
  if (q.partition && items.some((i) => i.partitionKey === undefined))
    return { _tag: "Refused", reason: "partition_required" }
  if (!q.partition && items.some((i) => i.partitionKey !== undefined))
    return { _tag: "Refused", reason: "partition_not_allowed" }
  if (!q.priority && items.some((i) => (i.priority ?? 0) !== 0)) return { _tag: "Refused", reason: "priority_disabled" }
  const onQueue = [...state.workflows.values()].filter((e) => e.record.queue === request.queue)
  const dedup = new Map<string, string>()
  for (const e of onQueue) if (active(e) && e.queued?.deduplicationId) dedup.set(e.queued.deduplicationId, e.record.id)

  const outcomes: EnqueueOutcome[] = []
  const created: Entry[] = []
  const ids = new Set<string>()
  for (const item of items) {
    const existing = state.workflows.get(item.id) ?? created.find((e) => e.record.id === item.id)
    if (existing || ids.has(item.id)) {
      outcomes.push({ _tag: "Existing", id: item.id, name: existing?.record.name ?? item.name })
      continue
    }
    const twin = item.deduplicationId === undefined ? undefined : dedup.get(item.deduplicationId)
    if (twin !== undefined) {
      outcomes.push({ _tag: "Duplicate", id: item.id, existingId: twin })
      continue
    }
    ids.add(item.id)
    if (item.deduplicationId !== undefined) dedup.set(item.deduplicationId, item.id)
    const delayed = item.delayUntil !== undefined && item.delayUntil > now
    const cancelled =
      request.parentId === undefined
        ? undefined
        : state.cancelledParent({ id: request.parentId, detached: item.detached ?? false })
    const record: WorkflowRecord = {
      id: item.id,
      name: item.name,
      status: cancelled ? "CANCELLED" : delayed ? "DELAYED" : "ENQUEUED",
      ...(cancelled ? { cancelReason: cancelled, completedAt: now } : {}),
      input: item.input,
      epoch: 1,
      appVersion: request.appVersion,
      recoveryAttempts: 0,
      createdAt: now,
      updatedAt: now,
      queue: request.queue,
      ...(item.partitionKey === undefined ? {} : { partitionKey: item.partitionKey }),
      ...(request.parentId === undefined ? {} : { parentId: request.parentId }),
      ...(item.parentStep === undefined ? {} : { parentStep: item.parentStep }),
      ...(item.traceContext === undefined ? {} : { traceContext: item.traceContext }),
    }
    created.push(
      state.newEntry(record, item.detached ?? false, {
        priority: item.priority ?? 0,
        ...(item.deduplicationId === undefined ? {} : { deduplicationId: item.deduplicationId }),
        ...(item.delayUntil === undefined ? {} : { delayUntil: item.delayUntil }),
        ...(item.timeoutMs === undefined ? {} : { timeoutMs: item.timeoutMs }),
        order: ++state.order.value,
      }),
    )
    outcomes.push({ _tag: "Created", id: item.id })
  }
  const refused = outcomes.some((o, i) =>
    o._tag === "Duplicate" ? items[i]!.failOnDuplicate === true : o._tag === "Existing" && o.name !== items[i]!.name,
  )
  if (refused) return { _tag: "Rejected", outcomes }
  if (q.maxLength !== undefined) {
    const before = onQueue.filter(waiting).length
    if (before + created.length > q.maxLength) return { _tag: "QueueFull", waiting: before, maxLength: q.maxLength }
  }
  for (const e of created) state.workflows.set(e.record.id, e)
  if (created.length > 0) state.wake({ kind: "queue", queue: request.queue })
  return { _tag: "Enqueued", outcomes }
}

const byTurn = (a: Entry, b: Entry) =>
  (a.queued?.priority ?? 0) - (b.queued?.priority ?? 0) || (a.queued?.order ?? 0) - (b.queued?.order ?? 0)

export const queueClaim = (state: QueueState, request: QueueClaimRequest, now: number): QueueClaim => {
  const q = state.queues.get(request.queue)
  if (!q) return { claimed: [] }
  const onQueue = [...state.workflows.values()].filter((e) => e.record.queue === request.queue)
  for (const e of onQueue)
    if (e.record.status === "DELAYED" && (e.queued?.delayUntil ?? 0) <= now)
      state.update(e, { status: "ENQUEUED" }, now)
  const delays = onQueue.filter((e) => e.record.status === "DELAYED").map((e) => e.queued?.delayUntil ?? now)
  let retryAt = delays.length > 0 ? Math.min(...delays) : undefined
  const earliest = (a: number | undefined, b: number) => (a === undefined ? b : Math.min(a, b))

  const running = onQueue.filter((e) => e.record.status === "PENDING")
  const startsSince = (from: number, entries: ReadonlyArray<Entry>) =>
    entries.flatMap((e) => (e.queued?.startedAt !== undefined && e.queued.startedAt > from ? [e.queued.startedAt] : []))
  let allowed = request.max
  if (q.concurrency !== undefined) allowed = Math.min(allowed, q.concurrency - running.length)
  if (q.workerConcurrency !== undefined)
    allowed = Math.min(
      allowed,
      q.workerConcurrency - running.filter((e) => e.record.executorId === request.executorId).length,
    )
  let recentStarts: number[] = []
  if (q.rateLimit) {
    recentStarts = startsSince(now - q.rateLimit.periodMs, onQueue)
    allowed = Math.min(allowed, q.rateLimit.limit - recentStarts.length)
    if (recentStarts.length >= q.rateLimit.limit)
      retryAt = earliest(retryAt, Math.min(...recentStarts) + q.rateLimit.periodMs)
  }
  if (allowed <= 0) return { claimed: [], ...(retryAt === undefined ? {} : { retryAt }) }

  const startable = onQueue.filter((e) => e.record.status === "ENQUEUED" && request.names.includes(e.record.name))
  let picked: Entry[]
  if (!q.partition) picked = startable.sort(byTurn).slice(0, allowed)
  else {
    const partition = q.partition
    const byKey = new Map<string, Entry[]>()
    for (const e of startable) {
      const key = e.record.partitionKey ?? ""
      byKey.set(key, [...(byKey.get(key) ?? []), e])
    }
    const turns: Array<{ readonly e: Entry; readonly turn: number; readonly served: number }> = []
    for (const [key, entries] of byKey) {
      const mine = onQueue.filter((e) => e.record.partitionKey === key)
      // The partition served longest ago goes first, so partitions take turns across claims too.
      const served = Math.max(-Infinity, ...mine.map((e) => e.queued?.startOrder ?? -Infinity))
      let room = allowed
      if (partition.concurrency !== undefined)
        room = Math.min(room, partition.concurrency - mine.filter((e) => e.record.status === "PENDING").length)
      if (partition.rateLimit)
        room = Math.min(room, partition.rateLimit.limit - startsSince(now - partition.rateLimit.periodMs, mine).length)
      entries
        .sort(byTurn)
        .slice(0, Math.max(0, room))
        .forEach((e, turn) => turns.push({ e, turn, served }))
    }
    picked = turns
      .sort((a, b) => a.turn - b.turn || a.served - b.served || byTurn(a.e, b.e))
      .slice(0, allowed)
      .map((t) => t.e)
    if (partition.rateLimit) {
      const starts = startsSince(now - partition.rateLimit.periodMs, onQueue)
      if (starts.length > 0) retryAt = earliest(retryAt, Math.min(...starts) + partition.rateLimit.periodMs)
    }
  }
  const claimed = picked.sort(byTurn).map((e) => {
    e.queued!.startedAt = now
    e.queued!.startOrder = ++state.order.value
    e.progressMark = 0
    const timeoutMs = e.queued?.timeoutMs
    const prior = e.checkpoints.size
    const record = state.update(
      e,
      {
        status: "PENDING",
        executorId: request.executorId,
        epoch: e.record.epoch + 1,
        appVersion: request.appVersion,
        ...(timeoutMs === undefined ? {} : { deadline: now + timeoutMs }),
      },
      now,
    )
    // A resumed or forked workflow has checkpoints already: the engine loads them (see WorkflowRecord).
    return prior > 0 ? { ...record, priorCheckpoints: prior } : record
  })
  if (q.rateLimit && claimed.length >= allowed && recentStarts.length + claimed.length >= q.rateLimit.limit)
    retryAt = earliest(retryAt, Math.min(...recentStarts, now) + q.rateLimit.periodMs)
  return { claimed, ...(retryAt === undefined ? {} : { retryAt }) }
}
