/**
 * The management plane's statements. Listing builds its WHERE from the filter's given fields only, each a
 * parameter, so the planner sees plain conditions it can match to the listing indexes (sql/0004).
 */
import type { StoredFilter } from "@durably/core"
import { notifySql } from "./notify.ts"
import { schemaIdent, workflowColumns } from "./queries.ts"

export const managementColumns = `${workflowColumns}, priority, deduplication_id, delay_until_ms, timeout_ms, started_ms, forked_from, detached`

/** The conditions of a filter, with their parameters (numbered from `first`). */
export const filterSql = (f: StoredFilter, first = 1): { readonly where: string; readonly params: unknown[] } => {
  const params: unknown[] = []
  const conds: string[] = []
  const p = (v: unknown) => {
    params.push(v)
    return `$${first + params.length - 1}`
  }
  if (f.ids) conds.push(`id = ANY(${p([...f.ids])}::text[])`)
  if (f.status)
    conds.push(f.status.length === 1 ? `status = ${p(f.status[0])}` : `status = ANY(${p([...f.status])}::text[])`)
  if (f.names) conds.push(f.names.length === 1 ? `name = ${p(f.names[0])}` : `name = ANY(${p([...f.names])}::text[])`)
  if (f.idPrefix !== undefined) {
    // a range on the primary key rather than LIKE, which would need the C collation to use the index
    conds.push(`id >= ${p(f.idPrefix)} AND left(id, ${p(f.idPrefix.length)}::int) = $${first + params.length - 2}`)
  }
  if (f.queue !== undefined) conds.push(`queue = ${p(f.queue)}`)
  if (f.executorId === null) conds.push("executor_id IS NULL")
  else if (f.executorId !== undefined) conds.push(`executor_id = ${p(f.executorId)}`)
  if (f.appVersion !== undefined) conds.push(`app_version = ${p(f.appVersion)}`)
  if (f.parentId !== undefined) conds.push(`parent_id = ${p(f.parentId)}`)
  if (f.createdAfter !== undefined) conds.push(`created_ms >= ${p(f.createdAfter)}::bigint`)
  if (f.createdBefore !== undefined) conds.push(`created_ms < ${p(f.createdBefore)}::bigint`)
  if (f.updatedAfter !== undefined) conds.push(`updated_ms >= ${p(f.updatedAfter)}::bigint`)
  return { where: conds.length === 0 ? "true" : conds.join(" AND "), params }
}

export const makeManagementQueries = (schema: string, channel?: string) => {
  const s = schemaIdent(schema)
  const W = `${s}.workflows`
  const wakeStatus = (w: string) => notifySql(channel, "s", `${w}id`, `${w}status`)
  const wakeQueue = (w: string) =>
    `CASE WHEN ${w}queue IS NOT NULL THEN ${notifySql(channel, "q", `${w}queue`, "''")} END AS queue_notified`
  const prefixed = (cols: string, w: string) => cols.replace(/(^|, )/g, `$1${w}`)
  /** Delete the workflows whose ids the CTE `doomed` gives, and every row they own; returns how many. */
  const deleteDoomed = `d_steps AS (DELETE FROM ${s}.steps WHERE workflow_id IN (SELECT id FROM doomed)),
      d_messages AS (DELETE FROM ${s}.messages WHERE destination IN (SELECT id FROM doomed)),
      d_events AS (DELETE FROM ${s}.events WHERE workflow_id IN (SELECT id FROM doomed)),
      d_history AS (DELETE FROM ${s}.event_history WHERE workflow_id IN (SELECT id FROM doomed)),
      d_streams AS (DELETE FROM ${s}.streams WHERE workflow_id IN (SELECT id FROM doomed)),
      d_values AS (DELETE FROM ${s}.stream_values WHERE workflow_id IN (SELECT id FROM doomed)),
      d_workflows AS (DELETE FROM ${W} WHERE id IN (SELECT id FROM doomed) RETURNING id)
    SELECT count(*)::int AS n FROM d_workflows`
  return {
    schema: s,
    /** A page: `where` and its parameters from filterSql, then the keyset bound and the limit. */
    list: (where: string, order: "asc" | "desc", after: boolean, next: number, columns: string) => {
      const dir = order === "asc" ? "ASC" : "DESC"
      const bound = after
        ? ` AND (created_ms, id) ${order === "asc" ? ">" : "<"} ($${next}::bigint, $${next + 1}::text)`
        : ""
      return `SELECT ${columns} FROM ${W} WHERE ${where}${bound}
        ORDER BY created_ms ${dir}, id ${dir} LIMIT $${after ? next + 2 : next}`
    },
    count: (where: string) => `SELECT count(*)::bigint AS n FROM ${W} WHERE ${where}`,
    get: `SELECT ${managementColumns} FROM ${W} WHERE id = $1`,
    steps: `SELECT step_id, name, kind, state, seq, output, error, attempts, attempt_errors, wake_at_ms, started_ms,
        completed_ms FROM ${s}.steps WHERE workflow_id = $1 ORDER BY step_id`,
    eventHistory: `SELECT step_id, key, value FROM ${s}.event_history WHERE workflow_id = $1 ORDER BY step_id, key`,
    streamValues: `SELECT step_id, key, stream_offset, value FROM ${s}.stream_values WHERE workflow_id = $1
      ORDER BY key, stream_offset`,
    streamCloses: `SELECT closed_step AS step_id, key FROM ${s}.streams WHERE workflow_id = $1 AND closed_step IS NOT NULL`,
    /** $1 ids, $2 with children, $3 now */
    cancel: `WITH RECURSIVE tree AS (
        SELECT unnest($1::text[]) AS id
        UNION
        SELECT c.id FROM ${W} c JOIN tree t ON c.parent_id = t.id WHERE $2::boolean AND NOT c.detached
      ), prior AS (
        SELECT w.id, w.status FROM ${W} w JOIN tree t ON t.id = w.id
      )
      UPDATE ${W} w SET status = 'CANCELLED', cancel_reason = 'cancelled', completed_ms = $3, updated_ms = $3
      FROM prior p WHERE w.id = p.id AND w.status IN ('PENDING', 'ENQUEUED', 'DELAYED')
      RETURNING ${prefixed(workflowColumns, "w.")}, ${wakeStatus("w.")} AS notified,
        CASE WHEN p.status = 'PENDING' AND w.queue IS NOT NULL THEN ${notifySql(channel, "q", "w.queue", "''")} END AS queue_notified`,
    /**
     * Runnable again from its checkpoints (see the port). In SET every right-hand side reads the old row.
     * $1 id, $2 app version (null: keep), $3 now
     */
    resume: `UPDATE ${W} w SET status = CASE WHEN w.queue IS NOT NULL THEN 'ENQUEUED' ELSE 'PENDING' END,
        executor_id = NULL, epoch = w.epoch + 1, recovery_attempts = 0,
        progress_mark = (SELECT count(*)::int FROM ${s}.steps st WHERE st.workflow_id = w.id),
        output = NULL, error = NULL, cancel_reason = NULL, completed_ms = NULL,
        deadline_ms = CASE WHEN w.cancel_reason = 'timeout' THEN NULL ELSE w.deadline_ms END,
        -- and its timeout: back on its queue, the next claim would set a new deadline from it
        timeout_ms = CASE WHEN w.cancel_reason = 'timeout' THEN NULL ELSE w.timeout_ms END,
        app_version = coalesce($2, w.app_version), updated_ms = $3
      WHERE w.id = $1 AND (w.status IN ('CANCELLED', 'ERROR', 'DEAD')
        OR (w.status = 'PENDING' AND $2::text IS NOT NULL AND $2::text <> w.app_version))
      RETURNING ${prefixed(workflowColumns, "w.")}, ${wakeQueue("w.")}`,
    /** The active workflow holding the deduplication id of workflow $1 on its queue. */
    deduplicationHolder: `SELECT d.id, d.queue, d.deduplication_id FROM ${W} w JOIN ${W} d
        ON d.queue = w.queue AND d.deduplication_id = w.deduplication_id AND d.id <> w.id
      WHERE w.id = $1 AND d.status IN ('ENQUEUED', 'DELAYED', 'PENDING') LIMIT 1`,
    statusOf: `SELECT status FROM ${W} WHERE id = $1`,
    forkSource: `SELECT id, (SELECT max(step_id) FROM ${s}.steps WHERE workflow_id = $1) AS last_step,
        EXISTS (SELECT 1 FROM ${s}.steps WHERE workflow_id = $1 AND step_id = $2) AS has_step
      FROM ${W} WHERE id = $1 FOR SHARE`,
    /** $1 source, $2 new id, $3 input (null: the source's), $4 app version, $5 queue, $6 now, $7 from step */
    forkWorkflow: `INSERT INTO ${W} (id, name, status, input, app_version, queue, created_ms, updated_ms, forked_from,
        enqueue_order, progress_mark)
      SELECT $2, name, CASE WHEN $5::text IS NULL THEN 'PENDING' ELSE 'ENQUEUED' END, coalesce($3, input),
        coalesce($4, app_version), $5, $6, $6, id,
        CASE WHEN $5::text IS NULL THEN NULL ELSE nextval('${schema}.enqueue_order') END,
        (SELECT count(*)::int FROM ${s}.steps WHERE workflow_id = $1 AND step_id < $7)
      FROM ${W} WHERE id = $1
      ON CONFLICT (id) DO NOTHING
      RETURNING ${workflowColumns}, CASE WHEN queue IS NOT NULL THEN ${notifySql(channel, "q", "queue", "''")} END AS queue_notified`,
    /** $1 source, $2 fork, $3 from step, $4 now */
    forkSteps: `INSERT INTO ${s}.steps (workflow_id, step_id, name, kind, state, seq, output, error, attempts,
        attempt_errors, wake_at_ms, started_ms, completed_ms)
      SELECT $2, step_id, name, kind, state, seq, output, error, attempts, attempt_errors, wake_at_ms, started_ms,
        completed_ms FROM ${s}.steps WHERE workflow_id = $1 AND step_id < $3`,
    forkEventHistory: `INSERT INTO ${s}.event_history (workflow_id, key, step_id, value)
      SELECT $2, key, step_id, value FROM ${s}.event_history WHERE workflow_id = $1 AND step_id < $3`,
    forkEvents: `INSERT INTO ${s}.events (workflow_id, key, value, step_id, updated_ms)
      SELECT DISTINCT ON (key) $2, key, value, step_id, $4::bigint FROM ${s}.event_history
      WHERE workflow_id = $1 AND step_id < $3 ORDER BY key, step_id DESC`,
    // Offsets are renumbered: with concurrent branches a later step may have written an earlier offset.
    forkStreamValues: `INSERT INTO ${s}.stream_values (workflow_id, key, stream_offset, value, step_id)
      SELECT $2, key, (row_number() OVER (PARTITION BY key ORDER BY stream_offset) - 1)::int, value, step_id
      FROM ${s}.stream_values WHERE workflow_id = $1 AND step_id < $3`,
    forkStreams: `INSERT INTO ${s}.streams (workflow_id, key, next_offset, closed_step)
      SELECT $2, st.key, (SELECT count(*)::int FROM ${s}.stream_values v WHERE v.workflow_id = $2 AND v.key = st.key),
        CASE WHEN st.closed_step < $3 THEN st.closed_step END
      FROM ${s}.streams st WHERE st.workflow_id = $1
        AND (st.closed_step < $3 OR EXISTS (SELECT 1 FROM ${s}.stream_values v WHERE v.workflow_id = $2 AND v.key = st.key))`,
    /** $1 ids, $2 with children (all descendants, detached too: nothing may point at a deleted parent) */
    delete: `WITH RECURSIVE tree AS (
        SELECT unnest($1::text[]) AS id
        UNION
        SELECT c.id FROM ${W} c JOIN tree t ON c.parent_id = t.id WHERE $2::boolean
      ), doomed AS (
        SELECT w.id FROM ${W} w JOIN tree t ON t.id = w.id
        WHERE w.status NOT IN ('ENQUEUED', 'DELAYED', 'PENDING') FOR UPDATE OF w
      ), ${deleteDoomed}`,
    /** $1 statuses, $2 before, $3 limit */
    prune: `WITH doomed AS (
        SELECT id FROM ${W}
        WHERE status = ANY($1::text[]) AND status IN ('SUCCESS', 'ERROR', 'CANCELLED', 'DEAD')
          AND coalesce(completed_ms, updated_ms) < $2::bigint
        ORDER BY coalesce(completed_ms, updated_ms)
        LIMIT $3
        FOR UPDATE SKIP LOCKED
      ), ${deleteDoomed}`,
    /** One pruner at a time across executors (for the duration of its transaction). */
    pruneLock: `SELECT pg_try_advisory_xact_lock(hashtext($1)) AS locked`,
    queueCounts: `SELECT queue, partition_key, count(*) FILTER (WHERE status = 'ENQUEUED')::int AS enqueued,
        count(*) FILTER (WHERE status = 'DELAYED')::int AS delayed,
        count(*) FILTER (WHERE status = 'PENDING')::int AS running
      FROM ${W} WHERE queue IS NOT NULL AND status IN ('ENQUEUED', 'DELAYED', 'PENDING')
      GROUP BY queue, partition_key ORDER BY queue, partition_key NULLS FIRST`,
    queueSettings: `SELECT * FROM ${s}.queues ORDER BY name`,
    executors: `SELECT e.id, e.app_version, (extract(epoch FROM e.heartbeat_at) * 1000)::bigint AS heartbeat_ms,
        e.lease_ms, e.heartbeat_at >= now() - e.lease_ms * interval '1 millisecond' AS alive,
        (SELECT count(*)::int FROM ${W} w WHERE w.executor_id = e.id AND w.status = 'PENDING') AS owned
      FROM ${s}.executors e ORDER BY e.id`,
    stranded: `SELECT app_version, count(*)::int AS n FROM ${W} w
      WHERE w.status = 'PENDING' AND NOT EXISTS (SELECT 1 FROM ${s}.executors e
        WHERE e.app_version = w.app_version AND e.heartbeat_at >= now() - e.lease_ms * interval '1 millisecond')
      GROUP BY app_version ORDER BY n DESC`,
  }
}
