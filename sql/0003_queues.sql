-- Durably system schema, version 3: child workflows and durable queues.
--
-- A queued workflow is a workflow row in status ENQUEUED (or DELAYED until its delay is due) on a named
-- queue. Claiming it makes it PENDING, owned by the claiming executor, like a started workflow; from then on
-- it is recovered, fenced and taken over like any other. Queue settings live in `queues`, so every worker
-- applies the same limits; the claim enforces them all in one call, serialized per queue.

ALTER TABLE __SCHEMA__.workflows
  ADD COLUMN queue            text,
  ADD COLUMN partition_key    text,
  ADD COLUMN priority         integer NOT NULL DEFAULT 0,
  ADD COLUMN deduplication_id text,
  ADD COLUMN delay_until_ms   bigint,
  -- a queued workflow's timeout starts when it is claimed, not when it is enqueued
  ADD COLUMN timeout_ms       bigint,
  -- when a queue claim started it: what rate limits count
  ADD COLUMN started_ms       bigint,
  ADD COLUMN parent_id        text,
  ADD COLUMN parent_step      integer,
  -- a detached child outlives its parent's cancellation
  ADD COLUMN detached         boolean NOT NULL DEFAULT false,
  -- the order enqueues happened in (a batch in input order): first in, first out within a priority
  ADD COLUMN enqueue_order    bigint,
  -- the order claims started workflows in: the partition that started one longest ago goes first
  ADD COLUMN start_order      bigint;

CREATE SEQUENCE __SCHEMA__.enqueue_order;
CREATE SEQUENCE __SCHEMA__.start_order;

-- Queued work in the order it is taken, per queue and per partition.
CREATE INDEX workflows_queued ON __SCHEMA__.workflows (queue, priority, enqueue_order) WHERE status = 'ENQUEUED';
CREATE INDEX workflows_queued_by_partition ON __SCHEMA__.workflows (queue, partition_key, priority, enqueue_order)
  WHERE status = 'ENQUEUED';
CREATE INDEX workflows_delayed ON __SCHEMA__.workflows (queue, delay_until_ms) WHERE status = 'DELAYED';
-- What runs now, per queue, partition and executor (concurrency limits).
CREATE INDEX workflows_running_by_queue ON __SCHEMA__.workflows (queue, partition_key, executor_id)
  WHERE status = 'PENDING' AND queue IS NOT NULL;
-- Starts per queue and per partition (rate limits).
CREATE INDEX workflows_started_by_queue ON __SCHEMA__.workflows (queue, started_ms) WHERE started_ms IS NOT NULL;
CREATE INDEX workflows_started_by_partition ON __SCHEMA__.workflows (queue, partition_key, started_ms)
  WHERE started_ms IS NOT NULL AND partition_key IS NOT NULL;
CREATE INDEX workflows_turns_by_partition ON __SCHEMA__.workflows (queue, partition_key, start_order)
  WHERE start_order IS NOT NULL AND partition_key IS NOT NULL;
-- One active workflow per deduplication id and queue.
CREATE UNIQUE INDEX workflows_deduplication ON __SCHEMA__.workflows (queue, deduplication_id)
  WHERE deduplication_id IS NOT NULL AND status IN ('ENQUEUED', 'DELAYED', 'PENDING');
CREATE INDEX workflows_children ON __SCHEMA__.workflows (parent_id) WHERE parent_id IS NOT NULL;

-- The settings of each queue, written by every launch that defines it (the last launch wins).
CREATE TABLE __SCHEMA__.queues (
  name                     text PRIMARY KEY,
  concurrency              integer,
  worker_concurrency       integer,
  rate_limit               integer,
  rate_period_ms           bigint,
  partitioned              boolean NOT NULL,
  partition_concurrency    integer,
  partition_rate_limit     integer,
  partition_rate_period_ms bigint,
  priority_enabled         boolean NOT NULL,
  max_length               integer,
  app_version              text NOT NULL,
  updated_ms               bigint NOT NULL
);

-- Enqueue a batch of workflows on one queue, all or nothing. Items: a JSON array of objects with id, name,
-- input, partition_key, priority, deduplication_id, delay_until_ms, timeout_ms, parent_step, detached.
-- Returns {"error": …} for a request the queue refuses, else {"results": [{id, outcome, name?, existing?}]}
-- in item order: outcome is created, existing (that id exists: attach) or duplicate (an active workflow of
-- this queue has that deduplication id; `existing` is its id). So that nothing of a refused batch stays, a
-- bounded queue that would overflow raises SQLSTATE DUR02, and a duplicate of an item marked
-- fail_on_duplicate or an existing id of another workflow raises DUR03 with the results as its detail.
CREATE FUNCTION __SCHEMA__.enqueue(p_queue text, p_items jsonb, p_app_version text, p_parent_id text,
  p_now bigint, p_channel text) RETURNS jsonb LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  q __SCHEMA__.queues%ROWTYPE;
  created text[];
  waiting integer;
  results jsonb;
BEGIN
  SELECT * INTO q FROM __SCHEMA__.queues WHERE name = p_queue;
  IF NOT FOUND THEN
    RETURN jsonb_build_object('error', 'unknown_queue');
  END IF;
  IF q.partitioned AND EXISTS (SELECT 1 FROM jsonb_to_recordset(p_items) x(partition_key text) WHERE x.partition_key IS NULL) THEN
    RETURN jsonb_build_object('error', 'partition_required');
  END IF;
  IF NOT q.partitioned AND EXISTS (SELECT 1 FROM jsonb_to_recordset(p_items) x(partition_key text) WHERE x.partition_key IS NOT NULL) THEN
    RETURN jsonb_build_object('error', 'partition_not_allowed');
  END IF;
  IF NOT q.priority_enabled AND EXISTS (SELECT 1 FROM jsonb_to_recordset(p_items) x(priority integer) WHERE x.priority <> 0) THEN
    RETURN jsonb_build_object('error', 'priority_disabled');
  END IF;
  IF q.max_length IS NOT NULL THEN
    -- serializes the enqueues of a bounded queue, so two cannot both fill its last place
    PERFORM 1 FROM __SCHEMA__.queues WHERE name = p_queue FOR UPDATE;
  END IF;

  WITH items AS (
    SELECT x.*, o.ord FROM jsonb_array_elements(p_items) WITH ORDINALITY AS o(item, ord),
      jsonb_to_record(o.item) AS x(id text, name text, input text, partition_key text, priority integer,
        deduplication_id text, delay_until_ms bigint, timeout_ms bigint, parent_step integer, detached boolean,
        fail_on_duplicate boolean)
  ), ins AS (
    INSERT INTO __SCHEMA__.workflows (id, name, status, input, app_version, queue, partition_key, priority,
        deduplication_id, delay_until_ms, timeout_ms, parent_id, parent_step, detached, created_ms, updated_ms,
        enqueue_order)
      SELECT id, name, CASE WHEN delay_until_ms > p_now THEN 'DELAYED' ELSE 'ENQUEUED' END, input, p_app_version,
        p_queue, partition_key, coalesce(priority, 0), deduplication_id, delay_until_ms, timeout_ms, p_parent_id,
        parent_step, coalesce(detached, false), p_now, p_now, nextval('__SCHEMA__.enqueue_order')
      -- numbered in input order: the subquery's order is the order its rows reach nextval
      FROM (SELECT * FROM items ORDER BY ord) ordered
      ON CONFLICT DO NOTHING
      RETURNING id
  )
  SELECT coalesce(array_agg(id), '{}') INTO created FROM ins;

  IF q.max_length IS NOT NULL THEN
    SELECT count(*) INTO waiting FROM __SCHEMA__.workflows WHERE queue = p_queue AND status IN ('ENQUEUED', 'DELAYED');
    IF waiting > q.max_length THEN
      RAISE EXCEPTION USING ERRCODE = 'DUR02',
        MESSAGE = format('queue %s is full: %s workflows waiting, at most %s', to_json(p_queue), waiting - cardinality(created), q.max_length),
        DETAIL = (waiting - cardinality(created))::text;
    END IF;
  END IF;

  -- a new statement: it sees what concurrent enqueues committed, so a lost race reads as existing or duplicate
  SELECT jsonb_agg(
      CASE WHEN x.id = ANY(created) THEN jsonb_build_object('id', x.id, 'outcome', 'created')
        WHEN e.id IS NOT NULL THEN jsonb_build_object('id', x.id, 'outcome', 'existing', 'name', e.name,
          'refused', e.name <> x.name)
        ELSE jsonb_build_object('id', x.id, 'outcome', 'duplicate', 'existing', (
          SELECT d.id FROM __SCHEMA__.workflows d WHERE d.queue = p_queue AND d.deduplication_id = x.deduplication_id
            AND d.status IN ('ENQUEUED', 'DELAYED', 'PENDING')), 'refused', coalesce(x.fail_on_duplicate, false))
      END ORDER BY o.ord)
    INTO results
    FROM jsonb_array_elements(p_items) WITH ORDINALITY AS o(item, ord),
      jsonb_to_record(o.item) AS x(id text, name text, deduplication_id text, fail_on_duplicate boolean)
      LEFT JOIN __SCHEMA__.workflows e ON e.id = x.id;

  -- A duplicate the caller refuses, or an id taken by another workflow: nothing of the batch stays.
  IF EXISTS (SELECT 1 FROM jsonb_array_elements(results) r WHERE (r ->> 'refused')::boolean) THEN
    RAISE EXCEPTION USING ERRCODE = 'DUR03', MESSAGE = 'enqueue refused: a duplicate or a conflicting id',
      DETAIL = results::text;
  END IF;

  IF cardinality(created) > 0 AND p_channel IS NOT NULL THEN
    PERFORM pg_notify(p_channel, json_build_array('q', p_queue, '')::text);
  END IF;
  RETURN jsonb_build_object('results', coalesce(results, '[]'::jsonb));
END
$$;

-- Claim up to p_max startable workflows of a queue for p_executor, enforcing every limit of the queue: global
-- and per-executor concurrency, the sliding-window rate limit, and the per-partition ones. The queue's row is
-- locked first, so claims of one queue are serialized and each statement after the lock sees every claim
-- committed before it: a limit of 5 never lets a 6th start, whichever workers race. Partitions take turns:
-- within a claim round-robin, and across claims the one served longest ago first. Returns {"claimed": [workflow rows], "retry_at": ms | null}:
-- retry_at is when a rate limit or a delay next lets more start.
CREATE FUNCTION __SCHEMA__.claim_queue(p_queue text, p_executor text, p_max integer, p_names text[],
  p_app_version text, p_now bigint) RETURNS jsonb LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  q __SCHEMA__.queues%ROWTYPE;
  allowed integer := p_max;
  n integer;
  oldest bigint;
  retry_at bigint;
  claimed jsonb;
  started bigint;
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
        FOR UPDATE SKIP LOCKED
    ), taken AS (
      UPDATE __SCHEMA__.workflows w SET status = 'PENDING', executor_id = p_executor, epoch = w.epoch + 1,
          app_version = p_app_version, started_ms = started, updated_ms = p_now,
          deadline_ms = CASE WHEN w.timeout_ms IS NULL THEN w.deadline_ms ELSE p_now + w.timeout_ms END
        FROM picked WHERE w.id = picked.id AND w.status = 'ENQUEUED'
        RETURNING w.*
    )
    SELECT coalesce(jsonb_agg(to_jsonb(taken) ORDER BY taken.priority, taken.enqueue_order), '[]'::jsonb)
      INTO claimed FROM taken;
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
  RETURN jsonb_build_object('claimed', claimed, 'retry_at', retry_at);
END
$$;
