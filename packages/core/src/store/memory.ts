/**
 * The in-memory store: the Store port with the same semantics as the SQL stores (fencing included), for
 * tests and for trying Durably without a database. Nothing survives the process.
 */
import { Clock, Effect } from "effect"
import { FencedError, StreamClosedError } from "../errors.ts"
import { queueClaim, queueEnqueue } from "./memoryQueues.ts"
import { memorySchedules } from "./memorySchedules.ts"
import { memoryDebounce } from "./memoryDebounce.ts"
import { memoryManagement } from "./memoryManagement.ts"
import {
  type ChangeListener,
  type Checkpoint,
  type ClaimOptions,
  type ClaimResult,
  type ListFilter,
  type QueueConfig,
  type NewMessage,
  type Received,
  type SendResult,
  type Store,
  type StreamEntry,
  type Wake,
  type WorkflowRecord,
} from "./Store.ts"

export interface Entry {
  record: WorkflowRecord
  readonly checkpoints: Map<number, Checkpoint>
  /** Checkpoints counted at the last claim. */
  progressMark: number
  /** Unconsumed messages per topic, oldest first. */
  readonly inbox: Map<string, Array<{ readonly payload: string; readonly traceContext?: string | undefined }>>
  /** Idempotency keys of every message delivered to this workflow. */
  readonly delivered: Set<string>
  readonly events: Map<string, string>
  /** Every value each event key was set to, with the step that set it. */
  readonly eventHistory: Array<{ readonly key: string; readonly stepId: number; readonly value: string }>
  /** Each value with the step that wrote it, and the step that closed the stream. */
  readonly streams: Map<string, MemoryStream>
  /** The workflow it was forked from. */
  forkedFrom?: string
  /** Queue bookkeeping of a queued workflow. */
  queued?: QueuedFacts
  detached: boolean
}

export interface MemoryStream {
  readonly values: string[]
  readonly stepIds: number[]
  closed: boolean
  closedStep?: number
}

export interface QueuedFacts {
  readonly priority: number
  readonly deduplicationId?: string
  readonly delayUntil?: number
  readonly timeoutMs?: number
  readonly order: number
  startedAt?: number
  /** A debounced run: its (workflow, key), and the latest instant its start may move to (maxWait). */
  readonly debounceKey?: string
  readonly debounceUntil?: number
  /** When claims started it, in their order (the store's one counter, shared with `order`). */
  startOrder?: number
}

const activeStatuses = new Set(["ENQUEUED", "DELAYED", "PENDING"])

const wakeKey = (w: Wake) => {
  switch (w.kind) {
    case "status":
      return `status\u0000${w.workflowId}`
    case "queue":
      return `queue\u0000${w.queue}`
    case "schedules":
      return "schedules"
    case "message":
      return `message\u0000${w.workflowId}\u0000${w.topic}`
    default:
      return `${w.kind}\u0000${w.workflowId}\u0000${w.key}`
  }
}

interface ExecutorRow {
  readonly appVersion: string
  readonly nonce: string
  readonly leaseMs: number
  readonly heartbeatAt: number
}

/** A store that keeps everything in this process's memory. Two engines may share one to test failover. */
export const memoryStore = (): Store => {
  const workflows = new Map<string, Entry>()
  const executors = new Map<string, ExecutorRow>()
  const listeners = new Map<string, Set<ChangeListener>>()
  const subscribers = new Map<string, Set<() => void>>()

  /** Tell subscribers of `wake`, after the current store operation (they may start new ones). */
  const wake = (w: Wake) => {
    const set = subscribers.get(wakeKey(w))
    if (set) queueMicrotask(() => [...set].forEach((l) => l()))
  }

  const notify = (id: string) => {
    wake({ kind: "status", workflowId: id })
    const set = listeners.get(id)
    if (!set) return
    // Never call listeners inside the store operation: they may start new store operations.
    const status = workflows.get(id)?.record.status
    if (status) queueMicrotask(() => set.forEach((l) => l(status)))
  }

  const update = (entry: Entry, patch: Partial<WorkflowRecord>, now: number) => {
    entry.record = { ...entry.record, ...patch, updatedAt: now }
    notify(entry.record.id)
    return entry.record
  }

  const fenced = (entry: Entry | undefined, id: string, epoch: number): FencedError | undefined => {
    if (!entry) return new FencedError({ workflowId: id, epoch, status: "missing" })
    if (entry.record.epoch !== epoch) return new FencedError({ workflowId: id, epoch })
    if (entry.record.status !== "PENDING")
      return new FencedError({ workflowId: id, epoch, status: entry.record.status })
    return undefined
  }

  const alive = (executorId: string, now: number) => {
    const row = executors.get(executorId)
    return row !== undefined && now - row.heartbeatAt <= row.leaseMs
  }

  const claim = (entry: Entry | undefined, executorId: string, options: ClaimOptions, now: number): ClaimResult => {
    if (!entry) return { _tag: "NotClaimable" }
    if (entry.record.status !== "PENDING") return { _tag: "NotClaimable", record: entry.record }
    const progressed = entry.checkpoints.size > entry.progressMark
    entry.progressMark = entry.checkpoints.size
    const attempts = (progressed ? 0 : entry.record.recoveryAttempts) + (options.countRecovery ? 1 : 0)
    if (attempts > options.maxRecoveryAttempts) {
      const { executorId: _gone, ...rest } = entry.record
      entry.record = { ...rest, status: "DEAD", recoveryAttempts: attempts, epoch: rest.epoch + 1, updatedAt: now }
      notify(entry.record.id)
      return { _tag: "Dead", record: entry.record }
    }
    const record = update(entry, { executorId, epoch: entry.record.epoch + 1, recoveryAttempts: attempts }, now)
    return { _tag: "Claimed", record }
  }

  /**
   * The common shape of an epoch-checked write: refused when fenced; when a done checkpoint is already at the
   * step, that one is returned and `apply` does not run; otherwise `apply` makes its change and the checkpoint
   * it returns is stored (or, returning undefined, nothing is).
   */
  const fencedWrite = (
    id: string,
    epoch: number,
    stepId: number,
    apply: (entry: Entry) => Checkpoint | undefined,
  ): Effect.Effect<Checkpoint | undefined, FencedError> =>
    Effect.suspend(() => {
      const entry = workflows.get(id)
      const refused = fenced(entry, id, epoch)
      if (refused || !entry) return Effect.fail(refused!)
      const existing = entry.checkpoints.get(stepId)
      if (existing?.state === "done") return Effect.succeed(existing)
      const written = apply(entry)
      if (written) entry.checkpoints.set(stepId, written)
      return Effect.succeed(written)
    })

  /** Adds a message unless its idempotency key was delivered already. */
  const deliver = (entry: Entry, message: NewMessage): SendResult => {
    if (message.idempotencyKey !== undefined) {
      if (entry.delivered.has(message.idempotencyKey)) return { _tag: "Duplicate" }
      entry.delivered.add(message.idempotencyKey)
    }
    let queue = entry.inbox.get(message.topic)
    if (!queue) entry.inbox.set(message.topic, (queue = []))
    queue.push({ payload: message.payload, traceContext: message.traceContext })
    wake({ kind: "message", workflowId: entry.record.id, topic: message.topic })
    return { _tag: "Sent" }
  }

  /** Appends entries all or nothing: any entry for a closed key refuses the whole batch. */
  const append = (entry: Entry, entries: ReadonlyArray<StreamEntry>, stepId: number): StreamClosedError | undefined => {
    const closing = new Set<string>()
    for (const e of entries) {
      if (entry.streams.get(e.key)?.closed || closing.has(e.key))
        return new StreamClosedError({ workflowId: entry.record.id, key: e.key })
      if ("close" in e) closing.add(e.key)
    }
    for (const e of entries) {
      let stream = entry.streams.get(e.key)
      if (!stream) entry.streams.set(e.key, (stream = { values: [], stepIds: [], closed: false }))
      if ("close" in e) {
        stream.closed = true
        stream.closedStep = stepId
      } else {
        stream.values.push(e.value)
        stream.stepIds.push(stepId)
      }
    }
    for (const key of new Set(entries.map((e) => e.key))) wake({ kind: "stream", workflowId: entry.record.id, key })
    return undefined
  }

  const newEntry = (record: WorkflowRecord, detached: boolean, queued?: QueuedFacts): Entry => ({
    record,
    checkpoints: new Map(),
    progressMark: 0,
    inbox: new Map(),
    delivered: new Set(),
    events: new Map(),
    eventHistory: [],
    streams: new Map(),
    detached,
    ...(queued ? { queued } : {}),
  })

  /** The workflow and its descendants that are not detached, through finished ones too. */
  const cancelTree = (root: Entry): Entry[] => {
    const out = [root]
    for (let i = 0; i < out.length; i++)
      for (const e of workflows.values())
        if (e.record.parentId === out[i]!.record.id && !e.detached && !out.includes(e)) out.push(e)
    return out
  }

  /**
   * The reason to create a child already cancelled: its parent was cancelled before the child was created
   * (the parent's execution had not yet seen it), so the cancellation's cascade could not reach it.
   */
  const cancelledParent = (parent: { readonly id: string; readonly detached?: boolean } | undefined) => {
    if (!parent || parent.detached) return undefined
    const record = workflows.get(parent.id)?.record
    return record?.status === "CANCELLED" ? (record.cancelReason ?? "cancelled") : undefined
  }

  const queueState = {
    queues: new Map<string, QueueConfig>(),
    workflows,
    newEntry,
    update,
    wake,
    cancelledParent,
    order: { value: 0 },
  }
  const management = memoryManagement({ ...queueState, executors, notify })

  const matches = (r: WorkflowRecord, f: ListFilter) =>
    (!f.ids || f.ids.includes(r.id)) &&
    (!f.status || f.status.includes(r.status)) &&
    (f.executorId === undefined || r.executorId === (f.executorId ?? undefined)) &&
    (f.name === undefined || r.name === f.name)

  return {
    kind: "memory",
    management,
    createWorkflow: (init) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const existing = workflows.get(init.id)
        if (existing) return { _tag: "Existing" as const, record: existing.record }
        const cancelled = cancelledParent(init.parent)
        const record: WorkflowRecord = {
          id: init.id,
          name: init.name,
          status: cancelled ? "CANCELLED" : "PENDING",
          ...(cancelled ? { cancelReason: cancelled, completedAt: now } : {}),
          input: init.input,
          executorId: init.executorId,
          epoch: 1,
          appVersion: init.appVersion,
          recoveryAttempts: 0,
          ...(init.deadline === undefined ? {} : { deadline: init.deadline }),
          ...(init.parent ? { parentId: init.parent.id, parentStep: init.parent.step } : {}),
          ...(init.traceContext === undefined ? {} : { traceContext: init.traceContext }),
          createdAt: now,
          updatedAt: now,
        }
        workflows.set(init.id, newEntry(record, init.parent?.detached ?? false))
        notify(init.id)
        return { _tag: "Created" as const, record }
      }),
    claimWorkflow: (id, executorId, options) =>
      Effect.map(Clock.currentTimeMillis, (now) => claim(workflows.get(id), executorId, options, now)),
    takeOver: (executorId, options) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const out: ClaimResult[] = []
        const except = new Set(options.exceptIds)
        for (const entry of workflows.values()) {
          if (out.length >= options.limit) break
          const r = entry.record
          if (r.status !== "PENDING" || r.appVersion !== options.appVersion || !options.names.includes(r.name)) continue
          if (except.has(r.id)) continue
          const owner = r.executorId
          const own = owner === executorId
          const free = owner === undefined || (!own && options.includeExpired && !alive(owner, now))
          if (!free && !(own && options.includeOwn)) continue
          const c = claim(
            entry,
            executorId,
            { countRecovery: true, maxRecoveryAttempts: options.maxRecoveryAttempts },
            now,
          )
          if (c._tag === "Claimed" && r.queue !== undefined && !own) {
            // Back on its queue (see the SQL store's takeOver): the queue's limits decide where it runs next.
            const { executorId: _gone, ...rest } = c.record
            entry.record = { ...rest, status: "ENQUEUED" }
            notify(rest.id)
            wake({ kind: "queue", queue: r.queue })
            out.push({ _tag: "NotClaimable", record: entry.record })
          } else out.push(c)
        }
        return out
      }),
    heartbeat: (beat) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const previous = executors.get(beat.executorId)
        executors.set(beat.executorId, {
          appVersion: beat.appVersion,
          nonce: beat.nonce,
          leaseMs: beat.leaseMs,
          heartbeatAt: now,
        })
        return previous && previous.nonce !== beat.nonce
          ? { previousNonce: previous.nonce, previousAgeMs: now - previous.heartbeatAt }
          : {}
      }),
    removeExecutor: (executorId, nonce) =>
      Effect.sync(() => {
        if (executors.get(executorId)?.nonce === nonce) executors.delete(executorId)
      }),
    loadCheckpoints: (id) =>
      Effect.sync(() => [...(workflows.get(id)?.checkpoints.values() ?? [])].sort((a, b) => a.stepId - b.stepId)),
    writeCheckpoint: (id, epoch, checkpoint) =>
      Effect.suspend(() => {
        const entry = workflows.get(id)
        const refused = fenced(entry, id, epoch)
        if (refused || !entry) return Effect.fail(refused!)
        const existing = entry.checkpoints.get(checkpoint.stepId)
        if (existing?.state === "done") return Effect.succeed(existing)
        entry.checkpoints.set(checkpoint.stepId, checkpoint)
        return Effect.succeed(checkpoint)
      }),
    completeWorkflow: (id, epoch, completion) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const entry = workflows.get(id)
        const r = entry?.record
        if (r && r.epoch === epoch && (r.status === "SUCCESS" || r.status === "ERROR")) return Effect.succeed(r)
        const refused = fenced(entry, id, epoch)
        if (refused || !entry) return Effect.fail(refused!)
        const done = update(entry, { ...completion, completedAt: now }, now)
        if (done.queue !== undefined) wake({ kind: "queue", queue: done.queue })
        return Effect.succeed(done)
      }),
    cancelWorkflow: (id, reason) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const entry = workflows.get(id)
        if (!entry) return undefined
        for (const e of cancelTree(entry))
          if (activeStatuses.has(e.record.status)) {
            const wasRunning = e.record.status === "PENDING"
            update(e, { status: "CANCELLED", cancelReason: reason, completedAt: now }, now)
            if (wasRunning && e.record.queue !== undefined) wake({ kind: "queue", queue: e.record.queue })
          }
        return entry.record
      }),
    getWorkflow: (id) => Effect.sync(() => workflows.get(id)?.record),
    listWorkflows: (filter) =>
      Effect.sync(() => {
        const out: WorkflowRecord[] = []
        for (const { record } of workflows.values()) {
          if (matches(record, filter)) out.push(record)
          if (filter.limit !== undefined && out.length >= filter.limit) break
        }
        return out
      }),
    releaseWorkflows: (executorId, ids) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        let released = 0
        for (const entry of ids ? ids.map((id) => workflows.get(id)) : workflows.values()) {
          if (!entry || entry.record.status !== "PENDING" || entry.record.executorId !== executorId) continue
          const { executorId: _gone, ...rest } = entry.record
          entry.record = { ...rest, updatedAt: now }
          notify(rest.id)
          released++
        }
        return released
      }),
    watch: (id, listener) => {
      let set = listeners.get(id)
      if (!set) listeners.set(id, (set = new Set()))
      set.add(listener)
      return () => {
        set.delete(listener)
        if (set.size === 0) listeners.delete(id)
      }
    },
    sendMessage: (message) =>
      Effect.sync(() => {
        const entry = workflows.get(message.destination)
        return entry ? deliver(entry, message) : { _tag: "NotFound" as const }
      }),
    sendFromWorkflow: (sender, epoch, message, checkpoint) =>
      Effect.suspend(() => {
        // Stays Duplicate when a done checkpoint is already there: the message went with it.
        let result: SendResult = { _tag: "Duplicate" }
        const write = fencedWrite(sender, epoch, checkpoint.stepId, () => {
          const destination = workflows.get(message.destination)
          result = destination ? deliver(destination, message) : { _tag: "NotFound" }
          return result._tag === "NotFound" ? undefined : checkpoint
        })
        return Effect.map(write, () => result)
      }),
    receiveMessage: (id, epoch, topic, checkpoint) =>
      Effect.suspend(() => {
        let carried: string | undefined
        const write = fencedWrite(id, epoch, checkpoint.stepId, (entry) => {
          const message = entry.inbox.get(topic)?.shift()
          carried = message?.traceContext
          return message === undefined ? undefined : { ...checkpoint, output: message.payload }
        })
        // The checkpoint is stored as written; the trace context goes only to this receiver.
        return Effect.map(write, (written): Received | undefined =>
          written && carried !== undefined ? { ...written, traceContext: carried } : written,
        )
      }),
    setEvent: (id, epoch, key, value, checkpoint) =>
      Effect.map(
        fencedWrite(id, epoch, checkpoint.stepId, (entry) => {
          entry.events.set(key, value)
          entry.eventHistory.push({ key, stepId: checkpoint.stepId, value })
          wake({ kind: "event", workflowId: id, key })
          return checkpoint
        }),
        (written) => written!,
      ),
    getEvent: (workflowId, key) => Effect.sync(() => workflows.get(workflowId)?.events.get(key)),
    appendStream: (id, epoch, entries, checkpoint) =>
      Effect.suspend(() => {
        let closed: StreamClosedError | undefined
        const write = fencedWrite(id, epoch, checkpoint.stepId, (entry) => {
          closed = append(entry, entries, checkpoint.stepId)
          return closed ? undefined : checkpoint
        })
        return Effect.flatMap(write, (written) => (closed ? Effect.fail(closed) : Effect.succeed(written!)))
      }),
    readStream: (workflowId, key, from, limit) =>
      Effect.sync(() => {
        const stream = workflows.get(workflowId)?.streams.get(key)
        if (!stream) return { values: [], closed: false }
        const start = Math.max(0, from)
        const values = stream.values.slice(start, start + limit).map((value, i) => ({ offset: start + i, value }))
        return { values, closed: stream.closed && start + values.length >= stream.values.length }
      }),
    subscribe: (w, listener) => {
      const key = wakeKey(w)
      let set = subscribers.get(key)
      if (!set) subscribers.set(key, (set = new Set()))
      set.add(listener)
      return () => {
        set.delete(listener)
        if (set.size === 0) subscribers.delete(key)
      }
    },
    registerQueue: (config) =>
      Effect.sync(() => {
        const previous = queueState.queues.get(config.name)
        queueState.queues.set(config.name, config)
        return previous
      }),
    enqueue: (request) => Effect.map(Clock.currentTimeMillis, (now) => queueEnqueue(queueState, request, now)),
    claimQueue: (request) => Effect.map(Clock.currentTimeMillis, (now) => queueClaim(queueState, request, now)),
    ...memorySchedules(wake),
    debounce: (request) => Effect.map(Clock.currentTimeMillis, (now) => memoryDebounce(queueState, request, now)),
    debounceFromWorkflow: (caller, epoch, request, checkpoint) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Effect.map(
          fencedWrite(caller, epoch, checkpoint.stepId, () => ({
            ...checkpoint,
            output: JSON.stringify(memoryDebounce(queueState, request, now).id),
          })),
          (written) => written!,
        ),
      ),
    close: () => Effect.void,
  }
}
