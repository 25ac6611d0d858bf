-- Observability: an observer may store opaque text with a workflow where it is created (a W3C trace context, so
-- a trace follows a request into the workflow and across the queue into the worker that runs it). It is
-- returned with the workflow's row, so claims (which return whole rows) carry it without further change.
ALTER TABLE __SCHEMA__.workflows ADD COLUMN trace_context text;

-- enqueue (see 0003_queues.sql) with the item's trace_context stored; otherwise unchanged.
CREATE OR REPLACE FUNCTION __SCHEMA__.enqueue(p_queue text, p_items jsonb, p_app_version text, p_parent_id text,
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
        fail_on_duplicate boolean, trace_context text)
  ), ins AS (
    INSERT INTO __SCHEMA__.workflows (id, name, status, input, app_version, queue, partition_key, priority,
        deduplication_id, delay_until_ms, timeout_ms, parent_id, parent_step, detached, created_ms, updated_ms,
        enqueue_order, trace_context)
      SELECT id, name, CASE WHEN delay_until_ms > p_now THEN 'DELAYED' ELSE 'ENQUEUED' END, input, p_app_version,
        p_queue, partition_key, coalesce(priority, 0), deduplication_id, delay_until_ms, timeout_ms, p_parent_id,
        parent_step, coalesce(detached, false), p_now, p_now, nextval('__SCHEMA__.enqueue_order'), trace_context
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
