/**
 * The statements for messages, events and streams: one round trip each.
 *
 * The writes a workflow makes are one statement with its checkpoint: the epoch check (the workflow row
 * FOR SHARE, as `writeCheckpoint` does), the checkpoint upsert (a done one is kept), and the data write,
 * which reads the checkpoint insert's RETURNING so that it happens only when the checkpoint was written
 * (a retry whose first attempt committed writes nothing twice). Each ends with the same outcome row: the
 * workflow's status and epoch, whether the checkpoint was written, and the done checkpoint that was there
 * before, so that the caller knows why nothing was written without asking again.
 *
 * Parameters: $1 workflow, $2 epoch, $3..$14 the checkpoint (see `checkpointParams`), then the operation's.
 */
import { notifySql } from "./notify.ts"
import { checkpointUpsert, schemaIdent } from "./queries.ts"

export const makeMessageQueries = (schema: string, channel?: string) => {
  const s = schemaIdent(schema)
  const W = `${s}.workflows`
  const S = `${s}.steps`
  const M = `${s}.messages`
  const EV = `${s}.events`
  const EH = `${s}.event_history`
  const ST = `${s}.streams`
  const SV = `${s}.stream_values`

  const owner = `owner AS MATERIALIZED (SELECT id, epoch, status FROM ${W} WHERE id = $1 FOR SHARE)`
  const ownerOk = "owner.epoch = $2 AND owner.status = 'PENDING'"
  const outcome = (extra: string, ownerRow = "owner") => `SELECT o.status, o.epoch,
      (SELECT count(*) FROM cp)::int AS written, ${extra},
      d.step_id, d.name, d.kind, d.state, d.seq, d.output, d.error, d.attempts, d.attempt_errors, d.wake_at_ms,
      d.started_ms, d.completed_ms
    FROM (SELECT 1) one
    LEFT JOIN ${ownerRow} o ON true
    LEFT JOIN ${S} d ON d.workflow_id = $1 AND d.step_id = $3 AND d.state = 'done'`
  const insertMessage = (from: string, params: string) =>
    `INSERT INTO ${M} (destination, topic, payload, idempotency_key, created_ms, trace_context)
      SELECT id, ${params} ${from}
      ON CONFLICT (destination, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
      RETURNING ${notifySql(channel, "m", "destination", "topic")} AS notified`

  return {
    /** `durably.send`. $1 destination, $2 topic, $3 payload, $4 idempotency key, $5 now, $6 trace context */
    sendMessage: `WITH dest AS MATERIALIZED (SELECT id FROM ${W} WHERE id = $1 FOR KEY SHARE),
      sent AS (${insertMessage("FROM dest", "$2, $3, $4, $5, $6")})
      SELECT (SELECT count(*) FROM dest)::int AS found, (SELECT count(*) FROM sent)::int AS sent`,

    /** `ctx.send`. $15 destination, $16 topic, $17 payload, $18 idempotency key, $19 now, $20 trace context */
    sendFromWorkflow: `WITH ${owner},
      dest AS MATERIALIZED (
        SELECT w.id FROM ${W} w WHERE w.id = $15 AND EXISTS (SELECT 1 FROM owner WHERE ${ownerOk})
        FOR KEY SHARE OF w
      ),
      sent AS (${insertMessage("FROM dest", "$16, $17, $18, $19, $20")}),
      cp AS (${checkpointUpsert(S, "$1", "FROM dest")})
      ${outcome("(SELECT count(*) FROM dest)::int AS found, (SELECT count(*) FROM sent)::int AS sent")}`,

    /**
     * `ctx.recv`: the oldest waiting message of the topic (locked; a concurrent receiver takes the next one)
     * becomes the checkpoint's output, and is marked consumed only if that checkpoint was written.
     * $15 topic, $16 now
     */
    receiveMessage: `WITH waiting AS MATERIALIZED (
        SELECT 1 FROM ${M} m WHERE m.destination = $1 AND m.topic = $15 AND m.consumed_step IS NULL LIMIT 1
      ),
      -- Locked only when a message waits: a look that finds none writes nothing (no WAL, no commit flush).
      owner AS MATERIALIZED (
        SELECT id, epoch, status FROM ${W} WHERE id = $1 AND EXISTS (SELECT 1 FROM waiting) FOR SHARE
      ),
      msg AS MATERIALIZED (
        SELECT m.destination, m.seq, m.payload, m.trace_context FROM ${M} m
        WHERE m.destination = $1 AND m.topic = $15 AND m.consumed_step IS NULL
          AND EXISTS (SELECT 1 FROM owner WHERE ${ownerOk})
        ORDER BY m.seq
        LIMIT 1
        FOR UPDATE OF m SKIP LOCKED
      ),
      cp AS (${checkpointUpsert(S, "$1", "FROM msg", "COALESCE(msg.payload, $8)")}),
      used AS (
        UPDATE ${M} m SET consumed_step = $3, consumed_ms = $16 FROM msg, cp
        WHERE m.destination = msg.destination AND m.seq = msg.seq
        RETURNING m.seq
      )
      ${outcome(
        "(SELECT count(*) FROM msg)::int AS found, (SELECT payload FROM msg) AS payload, (SELECT trace_context FROM msg) AS trace_context",
        `(SELECT id, epoch, status FROM owner
          UNION ALL SELECT id, epoch, status FROM ${W} WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM owner))`,
      )}`,

    /** `ctx.setEvent`: current value and history row, after the checkpoint. $15 key, $16 value, $17 now */
    setEvent: `WITH ${owner},
      cp AS (${checkpointUpsert(S, "id", `FROM owner WHERE ${ownerOk}`)}),
      ev AS (
        INSERT INTO ${EV} (workflow_id, key, value, step_id, updated_ms)
        SELECT $1, $15, $16, step_id, $17 FROM cp
        ON CONFLICT (workflow_id, key) DO UPDATE SET
          value = EXCLUDED.value, step_id = EXCLUDED.step_id, updated_ms = EXCLUDED.updated_ms
        RETURNING ${notifySql(channel, "e", "workflow_id", "key")} AS notified
      ),
      hist AS (
        INSERT INTO ${EH} (workflow_id, key, step_id, value) SELECT $1, $15, step_id, $16 FROM cp
        ON CONFLICT (workflow_id, key, step_id) DO UPDATE SET value = EXCLUDED.value
      )
      ${outcome("0 AS found")}`,

    /** $1 workflow, $2 key */
    getEvent: `SELECT value FROM ${EV} WHERE workflow_id = $1 AND key = $2`,

    /**
     * Stream entries after the checkpoint: $15 keys, $16 values (NULL: close), in order. Each key's row is
     * upserted (and so locked) to take a range of offsets; a key that is closed takes none, and then the
     * whole statement fails (SQLSTATE DUR01, the first such key as detail), its checkpoint with it.
     */
    appendStream: `WITH ${owner},
      cp AS (${checkpointUpsert(S, "id", `FROM owner WHERE ${ownerOk}`)}),
      e AS MATERIALIZED (SELECT k, v, i FROM unnest($15::text[], $16::text[]) WITH ORDINALITY AS e(k, v, i)),
      counts AS MATERIALIZED (SELECT k, count(v)::int AS n, bool_or(v IS NULL) AS closes FROM e GROUP BY k),
      heads AS (
        INSERT INTO ${ST} (workflow_id, key, next_offset, closed_step)
        SELECT $1, c.k, c.n, CASE WHEN c.closes THEN cp.step_id END FROM counts c CROSS JOIN cp
        ON CONFLICT (workflow_id, key) DO UPDATE SET
          next_offset = ${ST}.next_offset + EXCLUDED.next_offset, closed_step = EXCLUDED.closed_step
        WHERE ${ST}.closed_step IS NULL
        RETURNING key, next_offset, ${notifySql(channel, "t", "workflow_id", "key")} AS notified
      ),
      vals AS (
        INSERT INTO ${SV} (workflow_id, key, stream_offset, value, step_id)
        SELECT $1, e.k, h.next_offset - c.n + (row_number() OVER (PARTITION BY e.k ORDER BY e.i))::int - 1, e.v,
          cp.step_id
        FROM e JOIN counts c ON c.k = e.k JOIN heads h ON h.key = e.k CROSS JOIN cp
        WHERE e.v IS NOT NULL
      )
      ${outcome(`CASE WHEN (SELECT count(*) FROM cp) > 0 AND (SELECT count(*) FROM heads) < (SELECT count(*) FROM counts)
        THEN ${s}.stream_closed($1, (SELECT e.k FROM e WHERE e.k NOT IN (SELECT key FROM heads) ORDER BY e.i LIMIT 1))
        END AS refused`)}`,

    /**
     * A stream's values from $3 on (at most $4), with its head (next offset, closing marker), in one
     * snapshot. $1 workflow, $2 key
     */
    readStream: `SELECT h.next_offset, h.closed_step, v.stream_offset, v.value
      FROM (SELECT 1) one
      LEFT JOIN ${ST} h ON h.workflow_id = $1 AND h.key = $2
      LEFT JOIN LATERAL (
        SELECT stream_offset, value FROM ${SV}
        WHERE workflow_id = $1 AND key = $2 AND stream_offset >= $3
        ORDER BY stream_offset
        LIMIT $4
      ) v ON true
      ORDER BY v.stream_offset`,

    /**
     * For polling: a fingerprint of each key (letters, workflow ids, names as three arrays), NULL when there
     * is nothing: the status; the waiting messages; the event's last setting; the stream's head.
     */
    fingerprints: `SELECT CASE k.letter
        WHEN 's' THEN (SELECT w.status FROM ${W} w WHERE w.id = k.id)
        WHEN 'm' THEN (SELECT CASE WHEN count(*) > 0 THEN count(*) || ':' || max(m.seq) END FROM ${M} m
          WHERE m.destination = k.id AND m.topic = k.name AND m.consumed_step IS NULL)
        WHEN 'e' THEN (SELECT ev.step_id || ':' || ev.updated_ms FROM ${EV} ev WHERE ev.workflow_id = k.id AND ev.key = k.name)
        WHEN 'q' THEN (SELECT count(*) || ':' || coalesce(max(q.updated_ms), 0) FROM ${W} q
          WHERE q.queue = k.id AND q.status IN ('ENQUEUED', 'DELAYED', 'PENDING'))
        WHEN 'c' THEN (SELECT count(*) || ':' || coalesce(max(c.updated_ms), 0) FROM ${s}.schedules c)
        WHEN 't' THEN (SELECT h.next_offset || ':' || coalesce(h.closed_step::text, '') FROM ${ST} h
          WHERE h.workflow_id = k.id AND h.key = k.name)
      END AS v
      FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS k(letter, id, name, i)
      ORDER BY k.i`,
  }
}

export type MessageQueries = ReturnType<typeof makeMessageQueries>
