/**
 * The Store port on SQL: shared by the Postgres server store and the embedded PGlite store, which run the
 * same migrations and the same statements.
 */
import { Clock, Effect } from "effect"
import {
  FencedError,
  StreamClosedError,
  type Checkpoint,
  type ClaimResult,
  type Completion,
  type Store,
  type WorkflowRecord,
  type WorkflowStatus,
} from "@durably/core"
import type { Row, SqlClient } from "./client.ts"
import { toStoreError } from "./errors.ts"
import { doneIn, fencedBy } from "./fencing.ts"
import { makeMessageQueries } from "./messageQueries.ts"
import { makeMessageOps } from "./messageStore.ts"
import { makeQueries, type Queries } from "./queries.ts"
import { makeQueueOps } from "./queueStore.ts"
import { makeScheduleOps } from "./scheduleStore.ts"
import { makeDebounceOps } from "./debounceStore.ts"
import { makeManagement } from "./management.ts"
import { makeBatcher } from "./batcher.ts"
import { cancelTree } from "./cancelTree.ts"
import { checkpointParams, toCheckpoint, toWorkflow } from "./rows.ts"
import { checkpointColumns, distinctSteps, stepKey, type PendingCheckpoint, type Settled } from "./checkpointBatch.ts"
import { makeWakeups, type ListenSource } from "./wakeups.ts"

/** What `ctx.transaction` needs from a SQL store; found on the store under this symbol. */
export const sqlStoreInternals = Symbol.for("@durably/postgres/internals")

export interface SqlStoreInternals {
  readonly client: SqlClient
  readonly queries: Queries
  /** Write a checkpoint inside the caller's transaction (epoch-checked); throws FencedError if refused. */
  readonly writeCheckpointIn: (tx: SqlClient, id: string, epoch: number, checkpoint: Checkpoint) => Promise<Checkpoint>
}

export interface SqlStoreOptions {
  readonly kind: string
  readonly client: SqlClient
  /** Heartbeats go here so a busy pool cannot delay them; default: the main client. */
  readonly heartbeatClient?: SqlClient
  readonly schema: string
  /** Runs before the first statement (migrations); memoized by the caller. */
  readonly ready: () => Promise<void>
  /**
   * Postgres: the channel every write that can wake someone NOTIFYs in its own transaction, and the LISTEN
   * connection that hears them (absent: not listening, e.g. behind a pooler that cannot LISTEN). Absent
   * (PGlite): writes are announced in-process after they commit.
   */
  readonly notifications?: { readonly channel: string; readonly listen?: ListenSource }
  /**
   * How often subscriptions are polled while notifications are not heard. Absent: never (every writer is in
   * this process, as with PGlite).
   */
  readonly pollMs?: number
  readonly onClose?: () => Promise<void>
}

export const makeSqlStore = (options: SqlStoreOptions): Store & { readonly [sqlStoreInternals]: SqlStoreInternals } => {
  const channel = options.notifications?.channel
  const q = makeQueries(options.schema, channel)
  const mq = makeMessageQueries(options.schema, channel)
  const { client } = options
  const beatClient = options.heartbeatClient ?? client
  const where = client.describe

  /** One store operation: after migrations, at the engine clock's now, with driver errors made typed. */
  const statement = <A, E>(run: (now: number, signal: AbortSignal) => Promise<A>, onError: (e: unknown) => E) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Effect.tryPromise({
        try: async (signal) => {
          await options.ready()
          return await run(now, signal)
        },
        catch: onError,
      }),
    )
  const op = <A>(operation: string, run: (now: number, signal: AbortSignal) => Promise<A>) =>
    statement(run, (e) => toStoreError(operation, e, where))
  /** For the writes that carry an epoch: a refusal stays a FencedError. */
  const fencedOr = <A>(operation: string, run: (now: number) => Promise<A>) =>
    statement(run, (e) => (e instanceof FencedError ? e : toStoreError(operation, e, where)))
  /** For stream appends: a closed stream stays a StreamClosedError too. */
  const fencedOrClosed = <A>(operation: string, run: (now: number) => Promise<A>) =>
    statement(run, (e) =>
      e instanceof FencedError || e instanceof StreamClosedError ? e : toStoreError(operation, e, where),
    )

  const wakeups = makeWakeups({
    ...(options.pollMs === undefined ? {} : { pollMs: options.pollMs }),
    ...(options.notifications?.listen ? { listen: options.notifications.listen } : {}),
    fetch: async (keys) => {
      await options.ready()
      const rows = await client.query<{ v: string | null }>(mq.fingerprints, [
        keys.map((k) => k[0]),
        keys.map((k) => k[1]),
        keys.map((k) => k[2]),
      ])
      return rows.map((r) => r.v ?? null)
    },
  })

  /** A status this process wrote: the ones someone waits for (finished, cancelled, dead) wake them. */
  const changed = (record: WorkflowRecord | undefined, freedQueue = false) => {
    if (record && record.status !== "PENDING") wakeups.local({ kind: "status", workflowId: record.id }, record.status)
    if (record?.queue !== undefined && freedQueue) wakeups.local({ kind: "queue", queue: record.queue })
    return record
  }

  const completions = makeBatcher(
    async (items: ReadonlyArray<{ id: string; epoch: number; c: Completion; now: number }>) => {
      if (items.length === 1) {
        const { id, epoch, c, now } = items[0]!
        const [row] = await client.query(q.completeWorkflow, [
          id,
          epoch,
          c.status,
          c.output ?? null,
          c.error ?? null,
          now,
        ])
        return [row ? toWorkflow(row) : undefined]
      }
      const rows = await client.query(q.completeWorkflows, [
        items.map((i) => i.id),
        items.map((i) => i.epoch),
        items.map((i) => i.c.status),
        items.map((i) => i.c.output ?? null),
        items.map((i) => i.c.error ?? null),
        // One instant for the batch: the latest of its requests'.
        Math.max(...items.map((i) => i.now)),
      ])
      const byId = new Map(rows.map((r) => [r["id"] as string, toWorkflow(r)]))
      return items.map((i) => byId.get(i.id))
    },
  )

  /** Why the checkpoint was not written: its done winner, or a FencedError thrown. */
  const explain = async (tx: SqlClient, id: string, epoch: number, stepId: number): Promise<Checkpoint> => {
    const [row] = await tx.query(q.checkpointConflict, [id, stepId])
    const fenced = fencedBy(row, id, epoch)
    if (fenced) throw fenced
    const done = doneIn(row)
    if (done) return done
    throw new FencedError({ workflowId: id, epoch })
  }

  const writeCheckpointIn = async (tx: SqlClient, id: string, epoch: number, cp: Checkpoint): Promise<Checkpoint> => {
    const [written] = await tx.query(q.writeCheckpoint, [id, epoch, ...checkpointParams(cp)])
    if (written) return cp
    // Not written: refused (fenced or finished), or a done checkpoint is already there (e.g. our own write,
    // committed before the connection dropped and retried): return what won.
    return explain(tx, id, epoch, cp.stepId)
  }

  /**
   * Reads of single workflows that arrive while one is in flight go together in one statement: result
   * waiters (a handle's `result()`) read once when they start and once when woken, and the wake-ups of one
   * group of completions come together. Alone, a read is the single-row statement.
   */
  const reads = makeBatcher(async (ids: ReadonlyArray<string>): Promise<Array<WorkflowRecord | undefined>> => {
    if (ids.length === 1) {
      const [row] = await client.query(q.getWorkflow, [ids[0]])
      return [row ? toWorkflow(row) : undefined]
    }
    const rows = await client.query(q.getWorkflows, [[...new Set(ids)]])
    const byId = new Map(rows.map((r) => [r["id"] as string, r]))
    // A record per caller: callers may keep what they get.
    return ids.map((id) => {
      const row = byId.get(id)
      return row ? toWorkflow(row) : undefined
    })
  })

  /** One checkpoint alone, settled as a result (a batch's items fail one by one, not together). */
  const writeAlone = (w: PendingCheckpoint): Promise<Settled<Checkpoint>> =>
    writeCheckpointIn(client, w.id, w.epoch, w.cp).then(
      (value) => ({ ok: true, value }),
      (error: unknown) => ({ ok: false, error }),
    )

  /**
   * Group commit for checkpoints: those of different workflows that arrive while one write is in flight go
   * together in one statement (one commit), each epoch-checked on its own; alone, a checkpoint is the
   * single-row statement. Each caller still has its checkpoint committed before its promise resolves.
   */
  const checkpoints = makeBatcher(async (items: ReadonlyArray<PendingCheckpoint>): Promise<Settled<Checkpoint>[]> => {
    if (items.length === 1) return [await writeAlone(items[0]!)]
    // Answered per item: a chunk may hold items that arrived after a later chunk's (distinctSteps puts a step
    // after the chunk that already has it), and the batcher hands results out in arrival order.
    const results = new Map<PendingCheckpoint, Settled<Checkpoint>>()
    const answer = (chunk: ReadonlyArray<PendingCheckpoint>, settled: ReadonlyArray<Settled<Checkpoint>>) =>
      chunk.forEach((w, i) => results.set(w, settled[i]!))
    for (const chunk of distinctSteps(items)) {
      let rows: Row[]
      try {
        rows = await client.query(q.writeCheckpoints, checkpointColumns(chunk))
      } catch {
        // One statement for many: a value the database refuses in one of them, or a lock conflict, fails
        // them all. Each goes alone instead, so that only its own failure reaches it.
        answer(chunk, await Promise.all(chunk.map(writeAlone)))
        continue
      }
      const written = new Set(rows.map((r) => stepKey(r["workflow_id"] as string, Number(r["step_id"]))))
      answer(
        chunk,
        await Promise.all(
          chunk.map(async (w): Promise<Settled<Checkpoint>> =>
            written.has(stepKey(w.id, w.cp.stepId))
              ? { ok: true, value: w.cp }
              : explain(client, w.id, w.epoch, w.cp.stepId).then(
                  (value) => ({ ok: true, value }),
                  (error: unknown) => ({ ok: false, error }),
                ),
          ),
        ),
      )
    }
    return items.map((w) => results.get(w)!)
  })

  return {
    kind: options.kind,
    [sqlStoreInternals]: { client, queries: q, writeCheckpointIn },
    createWorkflow: (init) =>
      op("createWorkflow", async (now) => {
        const common = [init.id, init.name, init.input, init.executorId, init.appVersion, init.deadline ?? null, now]
        const [created] = init.parent
          ? await client.query(q.createWorkflow, [
              ...common,
              init.parent.id,
              init.parent.step,
              init.parent.detached,
              init.traceContext ?? null,
            ])
          : await client.query(q.createRootWorkflow, [...common, init.traceContext ?? null])
        if (created) return { _tag: "Created" as const, record: changed(toWorkflow(created))! }
        const [existing] = await client.query(q.getWorkflow, [init.id])
        if (!existing) throw new Error(`workflow ${init.id} was neither created nor found`)
        return { _tag: "Existing" as const, record: toWorkflow(existing) }
      }),
    claimWorkflow: (id, executorId, o) =>
      op("claimWorkflow", async (now) => {
        const [row] = await client.query(q.claimWorkflow, [
          id,
          executorId,
          o.countRecovery ? 1 : 0,
          o.maxRecoveryAttempts,
          now,
        ])
        if (!row) return { _tag: "NotClaimable" as const }
        const record = changed(toWorkflow(row))!
        return record.status === "DEAD" ? { _tag: "Dead" as const, record } : { _tag: "Claimed" as const, record }
      }),
    takeOver: (executorId, o) =>
      op("takeOver", async (now) => {
        const rows = await client.query(q.takeOver, [
          executorId,
          o.appVersion,
          [...o.names],
          o.includeOwn,
          o.includeExpired,
          o.limit,
          o.maxRecoveryAttempts,
          now,
          o.exceptIds && o.exceptIds.length > 0 ? [...o.exceptIds] : null,
        ])
        return rows.map((row): ClaimResult => {
          const record = changed(toWorkflow(row), row["status"] === "ENQUEUED")!
          if (record.status === "DEAD") return { _tag: "Dead", record }
          // Back on its queue: a dispatcher claims it under the queue's limits.
          if (record.status === "ENQUEUED") return { _tag: "NotClaimable", record }
          return { _tag: "Claimed", record }
        })
      }),
    loadCheckpoints: (id) =>
      op("loadCheckpoints", async () => (await client.query(q.loadCheckpoints, [id])).map(toCheckpoint)),
    writeCheckpoint: (id, epoch, cp) =>
      fencedOr("writeCheckpoint", async () => {
        const settled = await checkpoints.submit({ id, epoch, cp })
        if (settled.ok) return settled.value
        throw settled.error
      }),
    completeWorkflow: (id, epoch, c) =>
      fencedOr("completeWorkflow", async (now) => {
        const done = await completions.submit({ id, epoch, c, now })
        if (done) return changed(done, true)!
        const [current] = await client.query(q.getWorkflow, [id])
        const record = current ? toWorkflow(current) : undefined
        // Already completed at this epoch (our own completion, retried after an ambiguous commit): it stands.
        if (record && record.epoch === epoch && (record.status === "SUCCESS" || record.status === "ERROR"))
          return record
        throw new FencedError({
          workflowId: id,
          epoch,
          ...(record ? { status: record.status } : { status: "missing" }),
        })
      }),
    cancelWorkflow: (id, reason) =>
      op("cancelWorkflow", async (now) => {
        const rows = await cancelTree(client, q.cancelWorkflow, [id, reason, now])
        let root: WorkflowRecord | undefined
        for (const row of rows) {
          const record = changed(toWorkflow(row), true)!
          if (record.id === id) root = record
        }
        if (root) return root
        const [current] = await client.query(q.getWorkflow, [id])
        return current ? toWorkflow(current) : undefined
      }),
    getWorkflow: (id) => op("getWorkflow", () => reads.submit(id)),
    listWorkflows: (f) =>
      op("listWorkflows", async () => {
        const owner = f.executorId === undefined ? null : f.executorId === null ? "none" : "one"
        const rows = await client.query(q.listWorkflows, [
          f.status ? [...f.status] : null,
          owner,
          f.executorId ?? null,
          f.name ?? null,
          f.limit ?? null,
          f.ids ? [...f.ids] : null,
        ])
        return rows.map(toWorkflow)
      }),
    releaseWorkflows: (executorId, ids) =>
      op("releaseWorkflows", async (now) => {
        const rows = await client.query(`${q.releaseWorkflows} RETURNING id`, [executorId, ids ? [...ids] : null, now])
        return rows.length
      }),
    heartbeat: (beat) =>
      op("heartbeat", async (_now, signal) => {
        // Abandoned (it did not answer within the lease) or failed: reopen the heartbeat connection.
        const reset = () => beatClient.reset?.()
        signal.addEventListener("abort", reset, { once: true })
        const [row] = await beatClient
          .query(q.heartbeat, [beat.executorId, beat.appVersion, beat.nonce, beat.leaseMs])
          .catch((e: unknown) => {
            reset()
            throw e
          })
          .finally(() => signal.removeEventListener("abort", reset))
        const previous = row?.["previous_nonce"] as string | null | undefined
        if (!previous || previous === beat.nonce) return {}
        return { previousNonce: previous, previousAgeMs: Number(row?.["previous_age_ms"]) }
      }),
    removeExecutor: (executorId, nonce) =>
      op("removeExecutor", async () => {
        await beatClient.query(q.removeExecutor, [executorId, nonce])
      }),
    watch: (id, listener) =>
      wakeups.subscribe({ kind: "status", workflowId: id }, (status) => {
        if (status !== undefined) listener(status as WorkflowStatus)
      }),
    ...makeMessageOps({
      client,
      queries: mq,
      op,
      fencedOr,
      fencedOrClosed,
      explain: (id, epoch, stepId) => explain(client, id, epoch, stepId),
      wrote: (wake) => wakeups.local(wake),
    }),
    ...makeQueueOps({
      client,
      schema: options.schema,
      channel,
      op,
      wrote: (wake) => wakeups.local(wake),
      cancel: async (tx, ids, reason, now) => {
        const rows: Row[] = []
        for (const id of ids) rows.push(...(await tx.query(q.cancelWorkflow, [id, reason, now])))
        return () => {
          for (const row of rows) changed(toWorkflow(row), true)
        }
      },
    }),
    ...makeScheduleOps({ client, schema: options.schema, channel, op, wrote: (wake) => wakeups.local(wake) }),
    ...makeDebounceOps({
      client,
      schema: options.schema,
      channel,
      op,
      fencedOr,
      writeCheckpointIn,
      wrote: (wake) => wakeups.local(wake),
    }),
    management: makeManagement({
      client,
      schema: options.schema,
      channel,
      op,
      wrote: (wake, status) => wakeups.local(wake, status),
    }),
    subscribe: (wake, listener) => wakeups.subscribe(wake, () => listener()),
    close: () =>
      Effect.promise(async () => {
        await wakeups.close().catch(() => undefined)
        await options.onClose?.()
      }),
  }
}
