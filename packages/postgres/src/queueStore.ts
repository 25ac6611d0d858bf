/**
 * The Store port's queue operations on SQL. Enqueue and claim are one call each to the functions of
 * `sql/0003_queues.sql` (the claim as `sql/0007_claim_waits.sql` replaced it), which check the stored settings, and for the claim serialize on the queue's row so
 * that every limit holds across workers.
 */
import type { Effect } from "effect"
import type {
  CancelReason,
  EnqueueOutcome,
  EnqueueResult,
  QueueClaim,
  QueueConfig,
  StoreError,
  Store,
  Wake,
  WorkflowRecord,
} from "@durably/core"
import type { SqlClient } from "./client.ts"
import { toWorkflow } from "./rows.ts"
import { schemaIdent } from "./queries.ts"

type QueueOps = Pick<Store, "registerQueue" | "enqueue" | "claimQueue">

export interface QueueOpsDeps {
  readonly client: SqlClient
  readonly schema: string
  /** The channel enqueues NOTIFY on; undefined when the store announces writes in-process. */
  readonly channel: string | undefined
  readonly op: <A>(operation: string, run: (now: number) => Promise<A>) => Effect.Effect<A, StoreError>
  /** A committed write this process made (for subscribers here, when no notification will tell them). */
  readonly wrote: (wake: Wake) => void
  /**
   * Cancel these workflows (and what they started) as `cancelWorkflow` does, on `tx`; returns the announcement to
   * make once `tx` has committed.
   */
  readonly cancel: (tx: SqlClient, ids: ReadonlyArray<string>, reason: CancelReason, now: number) => Promise<() => void>
}

/** The SQLSTATE the enqueue function raises when a bounded queue would overflow; its detail is the backlog. */
const queueFullState = "DUR02"
/** …and when it refuses a batch for a duplicate or a conflicting id; its detail is the results. */
const rejectedState = "DUR03"

type Outcomes = Array<{ id: string; outcome: string; name?: string; existing?: string | null }>

const toOutcomes = (results: Outcomes): EnqueueOutcome[] =>
  results.map((o) =>
    o.outcome === "created"
      ? { _tag: "Created" as const, id: o.id }
      : o.outcome === "existing"
        ? { _tag: "Existing" as const, id: o.id, name: o.name ?? "" }
        : { _tag: "Duplicate" as const, id: o.id, ...(o.existing ? { existingId: o.existing } : {}) },
  )

export const makeQueueOps = (deps: QueueOpsDeps): QueueOps => {
  const s = schemaIdent(deps.schema)
  const { client } = deps
  const registerSql = `WITH prev AS (SELECT * FROM ${s}.queues WHERE name = $1)
    INSERT INTO ${s}.queues AS q (name, concurrency, worker_concurrency, rate_limit, rate_period_ms, partitioned,
        partition_concurrency, partition_rate_limit, partition_rate_period_ms, priority_enabled, max_length,
        app_version, updated_ms)
      VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
      ON CONFLICT (name) DO UPDATE SET concurrency = EXCLUDED.concurrency,
        worker_concurrency = EXCLUDED.worker_concurrency, rate_limit = EXCLUDED.rate_limit,
        rate_period_ms = EXCLUDED.rate_period_ms, partitioned = EXCLUDED.partitioned,
        partition_concurrency = EXCLUDED.partition_concurrency, partition_rate_limit = EXCLUDED.partition_rate_limit,
        partition_rate_period_ms = EXCLUDED.partition_rate_period_ms, priority_enabled = EXCLUDED.priority_enabled,
        max_length = EXCLUDED.max_length, app_version = EXCLUDED.app_version, updated_ms = EXCLUDED.updated_ms
      RETURNING (SELECT row_to_json(prev)::text FROM prev) AS previous`
  // With the parent's cancellation: a child enqueued under a parent that was already cancelled (its execution had
  // not yet seen it) is cancelled at once, since the cascade could not reach it. The parent's row is held (FOR
  // SHARE, to the commit): a cancellation running meanwhile either waits for the child to be committed, and its
  // next round cancels it (cancelTree.ts), or holds the row first, and this reads it cancelled once it commits.
  const enqueueSql = `SELECT ${s}.enqueue($1, $2::text::jsonb, $3, $4, $5, $6)::text AS r,
    (SELECT CASE WHEN status = 'CANCELLED' THEN coalesce(cancel_reason, 'cancelled') END
      FROM ${s}.workflows WHERE id = $4 FOR SHARE) AS parent_cancelled`
  // Without a parent (the common case) there is no parent's row to read or hold.
  const enqueueRootSql = `SELECT ${s}.enqueue($1, $2::text::jsonb, $3, $4, $5, $6)::text AS r`
  const maxLengthSql = `SELECT max_length FROM ${s}.queues WHERE name = $1`
  const claimSql = `SELECT ${s}.claim_queue($1, $2, $3, $4::text[], $5, $6)::text AS r`

  return {
    registerQueue: (c, appVersion) =>
      deps.op("registerQueue", async (now) => {
        const [row] = await client.query<{ previous: string | null }>(registerSql, [
          c.name,
          c.concurrency ?? null,
          c.workerConcurrency ?? null,
          c.rateLimit?.limit ?? null,
          c.rateLimit?.periodMs ?? null,
          c.partition !== undefined,
          c.partition?.concurrency ?? null,
          c.partition?.rateLimit?.limit ?? null,
          c.partition?.rateLimit?.periodMs ?? null,
          c.priority,
          c.maxLength ?? null,
          appVersion,
          now,
        ])
        return row?.previous ? toQueueConfig(JSON.parse(row.previous) as Record<string, unknown>) : undefined
      }),
    enqueue: (request) =>
      deps.op("enqueue", async (now): Promise<EnqueueResult> => {
        const items = request.items.map((i) => ({
          id: i.id,
          name: i.name,
          input: i.input,
          partition_key: i.partitionKey ?? null,
          priority: i.priority ?? 0,
          deduplication_id: i.deduplicationId ?? null,
          delay_until_ms: i.delayUntil ?? null,
          timeout_ms: i.timeoutMs ?? null,
          parent_step: i.parentStep ?? null,
          detached: i.detached ?? false,
          fail_on_duplicate: i.failOnDuplicate ?? false,
          trace_context: i.traceContext ?? null,
        }))
        const params = [
          request.queue,
          JSON.stringify(items),
          request.appVersion,
          request.parentId ?? null,
          now,
          deps.channel ?? null,
        ]
        type Row = { r: string; parent_cancelled: CancelReason | null }
        let text: string
        let announce: (() => void) | undefined
        try {
          if (request.parentId === undefined) text = (await client.query<Row>(enqueueRootSql, params))[0]!.r
          else {
            // A child enqueued under a parent already cancelled (its execution had not yet seen it) is cancelled in
            // the same transaction: the cascade could not reach it, and once committed a worker may claim it.
            text = await client.transaction(async (tx) => {
              const [row] = await tx.query<Row>(enqueueSql, params)
              const reason = row!.parent_cancelled
              if (reason) {
                const r = JSON.parse(row!.r) as { results?: Outcomes }
                const outcomes = toOutcomes(r.results ?? [])
                const attached = outcomes.filter((o, i) => o._tag === "Created" && request.items[i]?.detached !== true)
                announce = await deps.cancel(
                  tx,
                  attached.map((o) => o.id),
                  reason,
                  now,
                )
              }
              return row!.r
            })
          }
        } catch (e) {
          const err = e as { code?: unknown; detail?: unknown; message?: unknown }
          if (err.code === rejectedState)
            return { _tag: "Rejected", outcomes: toOutcomes(JSON.parse(String(err.detail)) as Outcomes) }
          if (err.code !== queueFullState) throw e
          // The limit from the stored settings, not from the message's text (a queue's name may contain anything).
          const [q] = await client.query<{ max_length: number | null }>(maxLengthSql, [request.queue])
          return { _tag: "QueueFull", waiting: Number(err.detail), maxLength: Number(q?.max_length ?? 0) }
        }
        const r = JSON.parse(text) as {
          error?: "unknown_queue" | "partition_required" | "partition_not_allowed" | "priority_disabled"
          results?: Outcomes
        }
        if (r.error) return { _tag: "Refused", reason: r.error }
        const outcomes = toOutcomes(r.results ?? [])
        if (outcomes.some((o) => o._tag === "Created")) deps.wrote({ kind: "queue", queue: request.queue })
        announce?.()
        return { _tag: "Enqueued", outcomes }
      }),
    claimQueue: (request) =>
      deps.op("claimQueue", async (now): Promise<QueueClaim> => {
        const [row] = await client.query<{ r: string }>(claimSql, [
          request.queue,
          request.executorId,
          request.max,
          [...request.names],
          request.appVersion,
          now,
        ])
        const r = JSON.parse(row!.r) as {
          claimed: Array<Record<string, unknown>>
          retry_at?: number | null
          waiting?: boolean | null
        }
        // progress_mark: the checkpoints counted when it was resumed or forked (0 for a fresh one).
        const claimed: WorkflowRecord[] = r.claimed.map((w) => {
          const prior = Number(w["progress_mark"] ?? 0)
          return prior > 0 ? { ...toWorkflow(w), priorCheckpoints: prior } : toWorkflow(w)
        })
        return {
          claimed,
          ...(r.retry_at === null || r.retry_at === undefined ? {} : { retryAt: Number(r.retry_at) }),
          ...(r.waiting === true ? { waiting: true } : {}),
        }
      }),
  }
}

export const toQueueConfig = (r: Record<string, unknown>): QueueConfig => {
  const n = (v: unknown) => (v === null || v === undefined ? undefined : Number(v))
  const rate = (limit: unknown, period: unknown) =>
    n(limit) === undefined ? undefined : { limit: n(limit)!, periodMs: n(period)! }
  const concurrency = n(r["concurrency"])
  const workerConcurrency = n(r["worker_concurrency"])
  const rateLimit = rate(r["rate_limit"], r["rate_period_ms"])
  const partitionConcurrency = n(r["partition_concurrency"])
  const partitionRate = rate(r["partition_rate_limit"], r["partition_rate_period_ms"])
  const maxLength = n(r["max_length"])
  return {
    name: r["name"] as string,
    ...(concurrency === undefined ? {} : { concurrency }),
    ...(workerConcurrency === undefined ? {} : { workerConcurrency }),
    ...(rateLimit === undefined ? {} : { rateLimit }),
    ...(r["partitioned"] === true
      ? {
          partition: {
            ...(partitionConcurrency === undefined ? {} : { concurrency: partitionConcurrency }),
            ...(partitionRate === undefined ? {} : { rateLimit: partitionRate }),
          },
        }
      : {}),
    priority: r["priority_enabled"] === true,
    ...(maxLength === undefined ? {} : { maxLength }),
  }
}
