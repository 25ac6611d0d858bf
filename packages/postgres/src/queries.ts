/**
 * The store's statements, one per operation, each one round trip on the hot path. Built once per schema;
 * every value is a parameter.
 */
import { validateSchema } from "./options.ts"
import { notifySql } from "./notify.ts"

/** Validate a schema name and return it quoted for SQL. */
export const schemaIdent = (schema: string): string => `"${validateSchema(schema)}"`

export const workflowColumns =
  "id, name, status, input, output, error, cancel_reason, executor_id, epoch, app_version, recovery_attempts, deadline_ms, created_ms, updated_ms, completed_ms, queue, partition_key, parent_id, parent_step, trace_context"

export const stepColumns =
  "step_id, name, kind, state, seq, output, error, attempts, attempt_errors, wake_at_ms, started_ms, completed_ms"

/** The claim arithmetic shared by single and batch claims: progress restarts the recovery count. */
const claimSet = (
  w: string,
  progress: string,
  count: string,
  max: string,
  executor: string,
  now: string,
  requeue = "false",
) => {
  const attempts = `(CASE WHEN ${progress} > ${w}.progress_mark THEN 0 ELSE ${w}.recovery_attempts END + ${count})`
  return `epoch = ${w}.epoch + 1,
    recovery_attempts = ${attempts},
    progress_mark = ${progress},
    status = CASE WHEN ${attempts} > ${max} THEN 'DEAD' WHEN ${requeue} THEN 'ENQUEUED' ELSE 'PENDING' END,
    executor_id = CASE WHEN ${attempts} > ${max} OR ${requeue} THEN NULL ELSE ${executor} END,
    updated_ms = ${now}`
}

/**
 * A queued workflow taken from another executor (dead, or shut down) goes back on its queue instead of
 * straight to the taker, so the queue's limits (worker concurrency included) decide where it runs next.
 */
const requeued = (w: string, executor: string) =>
  `(${w}.queue IS NOT NULL AND ${w}.executor_id IS DISTINCT FROM ${executor})`

/**
 * Insert the checkpoint whose parameters are $3..$14 for workflow `id`, once per row of `from` (which
 * lets through only writers that pass the epoch check); a pending checkpoint is replaced, a done one is
 * kept. `output` replaces the output parameter.
 */
/** A checkpoint already at that step: a pending one is replaced, a done one is kept. */
const keepingDone = (S: string) => `ON CONFLICT (workflow_id, step_id) DO UPDATE SET
        name = EXCLUDED.name, kind = EXCLUDED.kind, state = EXCLUDED.state, seq = EXCLUDED.seq,
        output = EXCLUDED.output, error = EXCLUDED.error, attempts = EXCLUDED.attempts,
        attempt_errors = EXCLUDED.attempt_errors, wake_at_ms = EXCLUDED.wake_at_ms,
        started_ms = EXCLUDED.started_ms, completed_ms = EXCLUDED.completed_ms
      WHERE ${S}.state = 'pending'`

export const checkpointUpsert = (S: string, id: string, from: string, output = "$8") =>
  `INSERT INTO ${S} (workflow_id, ${stepColumns})
      SELECT ${id}, $3, $4, $5, $6, $7, ${output}, $9, $10, $11, $12, $13, $14 ${from}
      ${keepingDone(S)}
      RETURNING step_id`

/**
 * The statements of a schema. `channel`: where writes NOTIFY their wake-ups (Postgres); undefined when the
 * store announces them in-process (PGlite).
 */
export const makeQueries = (schema: string, channel?: string) => {
  const s = schemaIdent(schema)
  const W = `${s}.workflows`
  const S = `${s}.steps`
  const E = `${s}.executors`
  const wakeStatus = (w: string) => notifySql(channel, "s", `${w}id`, `${w}status`)
  const wakeIfDead = (w: string) => `CASE WHEN ${w}status = 'DEAD' THEN ${wakeStatus(w)} END AS notified`
  // A queued workflow that ends frees a place on its queue: its dispatchers look again.
  const wakeQueue = (w: string) =>
    `CASE WHEN ${w}queue IS NOT NULL THEN ${notifySql(channel, "q", `${w}queue`, "''")} END AS queue_notified`
  return {
    channel,
    schema: s,
    /** $1 id, $2 name, $3 input, $4 executor, $5 app version, $6 deadline, $7 now, $8 parent, $9 parent step, $10 detached, $11 trace context */
    createWorkflow: `INSERT INTO ${W} (id, name, status, input, executor_id, app_version, deadline_ms, created_ms, updated_ms,
        parent_id, parent_step, detached, cancel_reason, completed_ms, trace_context)
      -- a child whose parent was cancelled before it was created is created cancelled (the cascade missed it).
      -- The parent's row is held (FOR SHARE) until the child is committed: a cancellation running meanwhile
      -- waits for it and its next round sees the child (cancelTree), or this waits and reads CANCELLED.
      SELECT $1, $2, CASE WHEN p.reason IS NULL THEN 'PENDING' ELSE 'CANCELLED' END, $3, $4, $5, $6, $7, $7, $8, $9, $10,
        p.reason, CASE WHEN p.reason IS NOT NULL THEN $7::bigint END, $11
      FROM (SELECT (SELECT CASE WHEN status = 'CANCELLED' THEN coalesce(cancel_reason, 'cancelled') END FROM ${W}
        WHERE id = $8::text AND NOT $10::boolean FOR SHARE) AS reason) p
      ON CONFLICT (id) DO NOTHING
      RETURNING ${workflowColumns}`,
    /**
     * createWorkflow without a parent, the common case: no parent to read or hold, so a plain VALUES insert
     * (PGlite plans every statement afresh, and the parent's subquery doubled the create's cost there).
     * $1 id, $2 name, $3 input, $4 executor, $5 app version, $6 deadline, $7 now, $8 trace context
     */
    createRootWorkflow: `INSERT INTO ${W} (id, name, status, input, executor_id, app_version, deadline_ms, created_ms, updated_ms,
        detached, trace_context)
      VALUES ($1, $2, 'PENDING', $3, $4, $5, $6, $7, $7, false, $8)
      ON CONFLICT (id) DO NOTHING
      RETURNING ${workflowColumns}`,
    getWorkflow: `SELECT ${workflowColumns} FROM ${W} WHERE id = $1`,
    /** Many at once (reads that arrive together, e.g. the result waiters woken by one group of completions). */
    getWorkflows: `SELECT ${workflowColumns} FROM ${W} WHERE id = ANY($1::text[])`,
    /** $1 id, $2 executor, $3 count (0|1), $4 max attempts, $5 now */
    claimWorkflow: `UPDATE ${W} w SET ${claimSet("w", `(SELECT count(*)::int FROM ${S} st WHERE st.workflow_id = w.id)`, "$3", "$4", "$2", "$5")}
      WHERE w.id = $1 AND CASE WHEN w.status = 'PENDING' THEN true ELSE false END
      RETURNING ${workflowColumns.replace(/(^|, )/g, "$1w.")}, ${wakeIfDead("w.")}`,
    /**
     * $1 executor, $2 app version, $3 names, $4 include own, $5 include expired, $6 limit, $7 max attempts,
     * $8 now, $9 ids never to take (running here; null for none)
     */
    takeOver: `WITH candidates AS (
        -- No join here: when a row another taker just claimed is re-checked under the lock, a correlated
        -- subquery is evaluated again for its new owner, where a joined row would be stale.
        SELECT w.id FROM ${W} w
        WHERE w.status = 'PENDING' AND w.app_version = $2 AND w.name = ANY($3::text[])
          AND ($9::text[] IS NULL OR NOT (w.id = ANY($9::text[])))
          AND (w.executor_id IS NULL
            OR ($4::boolean AND w.executor_id = $1)
            OR ($5::boolean AND w.executor_id <> $1 AND (
              NOT EXISTS (SELECT 1 FROM ${E} e WHERE e.id = w.executor_id)
              -- The expired executor's row is locked until this commits: its next heartbeat waits for the
              -- takeover, so once it hears its lease is back it reads the takeover when it re-checks its
              -- workflows (a snapshot alone let it re-check before this committed, then start a step body).
              -- A heartbeat that committed first is seen when the lock re-reads the row: no takeover.
              OR EXISTS (SELECT 1 FROM ${E} e
                WHERE e.id = w.executor_id AND e.heartbeat_at < now() - e.lease_ms * interval '1 millisecond'
                FOR SHARE))))
        ORDER BY w.created_ms
        LIMIT $6
        -- NO KEY: a send to the workflow (FOR KEY SHARE) must not make the taker pass it over. The skip stays:
        -- takers race each other here, and what one passes over is taken by the next takeover round.
        FOR NO KEY UPDATE SKIP LOCKED
      ), progress AS (
        SELECT c.id, (SELECT count(*)::int FROM ${S} st WHERE st.workflow_id = c.id) AS n FROM candidates c
      )
      UPDATE ${W} w SET ${claimSet("w", "p.n", "1", "$7", "$1", "$8", requeued("w", "$1"))}
      FROM progress p WHERE w.id = p.id
      RETURNING ${workflowColumns.replace(/(^|, )/g, "$1w.")}, ${wakeIfDead("w.")},
        CASE WHEN w.status = 'ENQUEUED' THEN ${notifySql(channel, "q", "w.queue", "''")} END AS queue_notified`,
    loadCheckpoints: `SELECT ${stepColumns} FROM ${S} WHERE workflow_id = $1 ORDER BY step_id`,
    /**
     * One statement: the epoch check (FOR SHARE, so a concurrent claim waits for it or it sees the claim)
     * and the insert; a pending checkpoint is replaced, a done one is kept.
     * $1 workflow, $2 epoch, $3.. the checkpoint
     */
    writeCheckpoint: `WITH owner AS MATERIALIZED (
        -- by primary key only: with stale statistics a status filter here can pick the partial index
        SELECT id, epoch, status FROM ${W} WHERE id = $1 FOR SHARE
      )
      ${checkpointUpsert(S, "id", "FROM owner WHERE owner.epoch = $2 AND owner.status = 'PENDING'")}`,
    /**
     * Many workflows' checkpoints in one statement (group commit; see batcher.ts), each under its own
     * workflow's epoch check as in writeCheckpoint, the rows locked in id order so that two such statements
     * cannot deadlock. At most one checkpoint per (workflow, step) in a call. Returns the ones written.
     * $1 workflow ids, $2 epochs, $3.. the checkpoints' columns, each an array in that order
     */
    writeCheckpoints: `WITH c AS (
        SELECT * FROM unnest($1::text[], $2::int[], $3::int[], $4::text[], $5::text[], $6::text[], $7::int[],
          $8::text[], $9::text[], $10::int[], $11::text[], $12::bigint[], $13::bigint[], $14::bigint[])
          AS c(workflow_id, epoch, step_id, name, kind, state, seq, output, error, attempts, attempt_errors,
            wake_at_ms, started_ms, completed_ms)
      ), owner AS MATERIALIZED (
        SELECT id, epoch, status FROM ${W} WHERE id = ANY($1::text[]) ORDER BY id FOR SHARE
      )
      INSERT INTO ${S} (workflow_id, ${stepColumns})
      SELECT c.workflow_id, c.step_id, c.name, c.kind, c.state, c.seq, c.output, c.error, c.attempts,
        c.attempt_errors, c.wake_at_ms, c.started_ms, c.completed_ms
      FROM c JOIN owner ON owner.id = c.workflow_id AND owner.epoch = c.epoch AND owner.status = 'PENDING'
      ${keepingDone(S)}
      RETURNING workflow_id, step_id`,
    /** Why a checkpoint was not written: the workflow's state and the step already there, if any. */
    checkpointConflict: `SELECT w.status, w.epoch, st.step_id, st.name, st.kind, st.state, st.seq, st.output, st.error,
        st.attempts, st.attempt_errors, st.wake_at_ms, st.started_ms, st.completed_ms
      FROM ${W} w LEFT JOIN ${S} st ON st.workflow_id = w.id AND st.step_id = $2 WHERE w.id = $1`,
    /** One completion alone (the usual case when not under load). $1 id, $2 epoch, $3 status, $4 output, $5 error, $6 now */
    completeWorkflow: `UPDATE ${W} SET status = $3, output = $4, error = $5, completed_ms = $6, updated_ms = $6
      WHERE id = $1 AND CASE WHEN status = 'PENDING' THEN epoch = $2 ELSE false END
      RETURNING ${workflowColumns}, ${wakeStatus("")} AS notified, ${wakeQueue("")}`,
    /**
     * Complete many workflows in one statement (group commit; see batcher.ts), each epoch-checked; rows that
     * were not completed are absent from the result. $1 ids, $2 epochs, $3 statuses, $4 outputs, $5 errors, $6 now
     */
    completeWorkflows: `UPDATE ${W} w SET status = c.status, output = c.output, error = c.error, completed_ms = $6,
        updated_ms = $6
      FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::text[]) AS c(id, epoch, status, output, error)
      WHERE w.id = c.id AND CASE WHEN w.status = 'PENDING' THEN w.epoch = c.epoch ELSE false END
      RETURNING ${workflowColumns.replace(/(^|, )/g, "$1w.")}, ${wakeStatus("w.")} AS notified, ${wakeQueue("w.")}`,
    /**
     * The workflow and its descendants that are not detached (through finished ones too), all at once.
     * $1 id, $2 reason, $3 now
     */
    cancelWorkflow: `WITH RECURSIVE tree AS (
        SELECT $1::text AS id
        UNION
        SELECT c.id FROM ${W} c JOIN tree t ON c.parent_id = t.id WHERE NOT c.detached
      ), prior AS (
        SELECT w.id, w.status FROM ${W} w JOIN tree t ON t.id = w.id
      )
      UPDATE ${W} w SET status = 'CANCELLED', cancel_reason = $2, completed_ms = $3, updated_ms = $3
      FROM prior p WHERE w.id = p.id AND w.status IN ('PENDING', 'ENQUEUED', 'DELAYED')
      RETURNING ${workflowColumns.replace(/(^|, )/g, "$1w.")}, ${wakeStatus("w.")} AS notified,
        CASE WHEN p.status = 'PENDING' AND w.queue IS NOT NULL THEN ${notifySql(channel, "q", "w.queue", "''")} END AS queue_notified`,
    /** $1 executor, $2 ids (null for all), $3 now */
    releaseWorkflows: `UPDATE ${W} SET executor_id = NULL, updated_ms = $3
      WHERE executor_id = $1 AND status = 'PENDING' AND ($2::text[] IS NULL OR id = ANY($2::text[]))`,
    /** $1 executor, $2 app version, $3 nonce, $4 lease ms */
    heartbeat: `WITH prev AS (
        SELECT nonce, (extract(epoch FROM (now() - heartbeat_at)) * 1000)::bigint AS age_ms FROM ${E} WHERE id = $1
      )
      INSERT INTO ${E} (id, app_version, nonce, lease_ms, heartbeat_at) VALUES ($1, $2, $3, $4, now())
      ON CONFLICT (id) DO UPDATE SET app_version = EXCLUDED.app_version, nonce = EXCLUDED.nonce,
        lease_ms = EXCLUDED.lease_ms, heartbeat_at = now()
      RETURNING (SELECT nonce FROM prev) AS previous_nonce, (SELECT age_ms FROM prev) AS previous_age_ms`,
    removeExecutor: `DELETE FROM ${E} WHERE id = $1 AND nonce = $2`,
    /** Listing with optional filters: $1 statuses, $2 executor filter kind, $3 executor, $4 name, $5 limit, $6 ids */
    listWorkflows: `SELECT ${workflowColumns} FROM ${W}
      WHERE ($6::text[] IS NULL OR id = ANY($6::text[]))
        AND ($1::text[] IS NULL OR status = ANY($1::text[]))
        AND ($2::text IS NULL OR ($2 = 'none' AND executor_id IS NULL) OR ($2 = 'one' AND executor_id = $3))
        AND ($4::text IS NULL OR name = $4)
      ORDER BY created_ms, id
      LIMIT $5`,
  }
}

export type Queries = ReturnType<typeof makeQueries>
