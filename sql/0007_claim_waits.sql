-- Durably system schema, version 7: the queue claim waits for a row another statement holds instead of
-- passing over it, and says when it left startable work behind.
--
-- Version 3's claim picked rows FOR UPDATE SKIP LOCKED. Claims of one queue are already serialized on the
-- queue's row, so the skip protected nothing, but it made the claim pass silently over a workflow that a
-- `send` to it had just locked (FOR KEY SHARE): that workflow stayed ENQUEUED until something else woke the
-- queue. The claim now locks FOR NO KEY UPDATE, which a send's FOR KEY SHARE does not conflict with, and
-- waits for any other lock (a checkpoint's FOR SHARE, a cancel). A row that changed while it waited
-- (cancelled, say) drops out of the pick: the plain pick then takes the next row in its place, but the
-- partitioned claim, which locks in its UPDATE, cannot; so the claim reports `waiting` when it left
-- startable work behind that it had room for, and the dispatcher looks again soon.
--
-- Claim up to p_max startable workflows of a queue for p_executor, enforcing every limit of the queue: global
-- and per-executor concurrency, the sliding-window rate limit, and the per-partition ones. The queue's row is
-- locked first, so claims of one queue are serialized and each statement after the lock sees every claim
-- committed before it: a limit of 5 never lets a 6th start, whichever workers race. Partitions take turns:
-- within a claim round-robin, and across claims the one served longest ago first. Returns {"claimed": [workflow rows], "retry_at": ms | null, "waiting": bool}:
-- retry_at is when a rate limit or a delay next lets more start; waiting, that startable work of p_names
-- is left that the limits let start now (a row that dropped out of the pick).
CREATE OR REPLACE FUNCTION __SCHEMA__.claim_queue(p_queue text, p_executor text, p_max integer, p_names text[],
  p_app_version text, p_now bigint) RETURNS jsonb LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  q __SCHEMA__.queues%ROWTYPE;
  allowed integer := p_max;
  n integer;
  oldest bigint;
  retry_at bigint;
  claimed jsonb;
  started bigint;
  waiting boolean;
BEGIN
  SELECT * INTO q FROM __SCHEMA__.queues WHERE name = p_queue FOR UPDATE;
  IF NOT FOUND THEN
    RETURN jsonb_build_object('claimed', '[]'::jsonb, 'unknown', true);
  END IF;
  -- Starts are stamped, and rate windows judged, by the database's clock read once the lock is held: every
  -- worker's claims then count on one clock, in the order they really happened.
  started := floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint;

  -- delayed work that is due joins the queue
  UPDATE __SCHEMA__.workflows SET status = 'ENQUEUED', updated_ms = p_now
    WHERE queue = p_queue AND status = 'DELAYED' AND delay_until_ms <= p_now;
  SELECT min(delay_until_ms) INTO retry_at FROM __SCHEMA__.workflows WHERE queue = p_queue AND status = 'DELAYED';

  IF q.concurrency IS NOT NULL THEN
    SELECT count(*) INTO n FROM __SCHEMA__.workflows WHERE queue = p_queue AND status = 'PENDING';
    allowed := least(allowed, q.concurrency - n);
  END IF;
  IF q.worker_concurrency IS NOT NULL THEN
    SELECT count(*) INTO n FROM __SCHEMA__.workflows
      WHERE queue = p_queue AND status = 'PENDING' AND executor_id = p_executor;
    allowed := least(allowed, q.worker_concurrency - n);
  END IF;
  IF q.rate_limit IS NOT NULL THEN
    SELECT count(*), min(started_ms) INTO n, oldest FROM __SCHEMA__.workflows
      WHERE queue = p_queue AND started_ms > started - q.rate_period_ms;
    allowed := least(allowed, q.rate_limit - n);
    IF n >= q.rate_limit THEN
      retry_at := least(retry_at, oldest + q.rate_period_ms);
    END IF;
  END IF;
  IF allowed <= 0 THEN
    RETURN jsonb_build_object('claimed', '[]'::jsonb, 'retry_at', retry_at);
  END IF;

  IF NOT q.partitioned THEN
    WITH picked AS (
      SELECT id FROM __SCHEMA__.workflows
        WHERE queue = p_queue AND status = 'ENQUEUED' AND name = ANY(p_names)
        ORDER BY priority, enqueue_order
        LIMIT allowed
        FOR NO KEY UPDATE
    ), taken AS (
      UPDATE __SCHEMA__.workflows w SET status = 'PENDING', executor_id = p_executor, epoch = w.epoch + 1,
          app_version = p_app_version, started_ms = started, updated_ms = p_now,
          deadline_ms = CASE WHEN w.timeout_ms IS NULL THEN w.deadline_ms ELSE p_now + w.timeout_ms END
        FROM picked WHERE w.id = picked.id AND w.status = 'ENQUEUED'
        RETURNING w.*
    )
    SELECT coalesce(jsonb_agg(to_jsonb(taken) ORDER BY taken.priority, taken.enqueue_order), '[]'::jsonb)
      INTO claimed FROM taken;
    waiting := jsonb_array_length(claimed) < allowed AND EXISTS (SELECT 1 FROM __SCHEMA__.workflows
      WHERE queue = p_queue AND status = 'ENQUEUED' AND name = ANY(p_names));
  ELSE
    WITH keys AS (
      SELECT DISTINCT partition_key FROM __SCHEMA__.workflows
        WHERE queue = p_queue AND status = 'ENQUEUED' AND name = ANY(p_names)
    ), rooms AS (
      -- how many more each partition with waiting work may start now, and when it last started one (the
      -- partition served longest ago goes first, so partitions take turns across claims too)
      SELECT k.partition_key, (SELECT max(r.start_order) FROM __SCHEMA__.workflows r
          WHERE r.queue = p_queue AND r.partition_key = k.partition_key AND r.start_order IS NOT NULL) AS served,
        least(
          allowed,
          q.partition_concurrency - (SELECT count(*) FROM __SCHEMA__.workflows r
            WHERE r.queue = p_queue AND r.partition_key = k.partition_key AND r.status = 'PENDING'),
          q.partition_rate_limit - (SELECT count(*) FROM __SCHEMA__.workflows r
            WHERE r.queue = p_queue AND r.partition_key = k.partition_key
              AND r.started_ms > started - q.partition_rate_period_ms)) AS room
        FROM keys k
    ), picked AS (
      SELECT c.id FROM rooms p, LATERAL (
          SELECT w.id, w.priority, w.enqueue_order, row_number() OVER (ORDER BY w.priority, w.enqueue_order) AS turn
            FROM __SCHEMA__.workflows w
            WHERE w.queue = p_queue AND w.partition_key = p.partition_key AND w.status = 'ENQUEUED'
              AND w.name = ANY(p_names)
            ORDER BY w.priority, w.enqueue_order
            LIMIT greatest(p.room, 0)
        ) c
        ORDER BY c.turn, p.served NULLS FIRST, c.priority, c.enqueue_order
        LIMIT allowed
    ), taken AS (
      UPDATE __SCHEMA__.workflows w SET status = 'PENDING', executor_id = p_executor, epoch = w.epoch + 1,
          app_version = p_app_version, started_ms = started, updated_ms = p_now,
          deadline_ms = CASE WHEN w.timeout_ms IS NULL THEN w.deadline_ms ELSE p_now + w.timeout_ms END,
          start_order = nextval('__SCHEMA__.start_order')
        FROM picked WHERE w.id = picked.id AND w.status = 'ENQUEUED'
        RETURNING w.*
    )
    SELECT coalesce(jsonb_agg(to_jsonb(taken) ORDER BY taken.priority, taken.enqueue_order), '[]'::jsonb)
      INTO claimed FROM taken;
    -- left behind: waiting work in a partition whose own limits let it start now
    waiting := jsonb_array_length(claimed) < allowed AND EXISTS (
      SELECT 1 FROM (SELECT DISTINCT partition_key FROM __SCHEMA__.workflows
          WHERE queue = p_queue AND status = 'ENQUEUED' AND name = ANY(p_names)) k
        WHERE (q.partition_concurrency IS NULL OR q.partition_concurrency > (SELECT count(*) FROM __SCHEMA__.workflows r
            WHERE r.queue = p_queue AND r.partition_key = k.partition_key AND r.status = 'PENDING'))
          AND (q.partition_rate_limit IS NULL OR q.partition_rate_limit > (SELECT count(*) FROM __SCHEMA__.workflows r
            WHERE r.queue = p_queue AND r.partition_key = k.partition_key
              AND r.started_ms > started - q.partition_rate_period_ms)));
    IF q.partition_rate_limit IS NOT NULL THEN
      -- an early hint is harmless: the next claim looks again, and the window has moved on by then
      SELECT min(started_ms) INTO oldest FROM __SCHEMA__.workflows
        WHERE queue = p_queue AND partition_key IS NOT NULL AND started_ms > started - q.partition_rate_period_ms;
      retry_at := least(retry_at, oldest + q.partition_rate_period_ms);
    END IF;
  END IF;

  IF q.rate_limit IS NOT NULL AND jsonb_array_length(claimed) >= allowed THEN
    SELECT min(started_ms) INTO oldest FROM __SCHEMA__.workflows
      WHERE queue = p_queue AND started_ms > started - q.rate_period_ms;
    IF q.rate_limit - (n + jsonb_array_length(claimed)) <= 0 THEN
      retry_at := least(retry_at, oldest + q.rate_period_ms);
    END IF;
  END IF;
  RETURN jsonb_build_object('claimed', claimed, 'retry_at', retry_at, 'waiting', waiting);
END
$$;
