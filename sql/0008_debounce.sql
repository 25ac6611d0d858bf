-- Durably system schema, version 8: debouncing.
--
-- A debounced run is a workflow on the reserved queue '@debounce', DELAYED until its start: `delay` after
-- the last call with its key, but never past `maxWait` after the burst's first call (debounce_until_ms).
-- While it has not started, calls with its key join it (its input replaced, its start moved); once claimed,
-- the next call starts a new burst. At most one waiting run per key, enforced by a unique index, so calls
-- racing from many processes make one run.

ALTER TABLE __SCHEMA__.workflows
  ADD COLUMN debounce_key      text,
  ADD COLUMN debounce_until_ms bigint;

CREATE UNIQUE INDEX workflows_debounce_waiting ON __SCHEMA__.workflows (debounce_key)
  WHERE debounce_key IS NOT NULL AND status IN ('ENQUEUED', 'DELAYED');

-- Join the waiting run of p_key, or add one. Returns {"id": …, "created": true|false}.
CREATE FUNCTION __SCHEMA__.debounce(p_id text, p_name text, p_key text, p_input text, p_app_version text,
  p_delay_ms bigint, p_max_wait_ms bigint, p_now bigint, p_channel text) RETURNS jsonb LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  existing text;
  start_at bigint;
BEGIN
  -- Two attempts: an insert that loses the race for the key's one waiting run joins the winner instead.
  FOR attempt IN 1..2 LOOP
    UPDATE __SCHEMA__.workflows w
      SET input = p_input,
        delay_until_ms = least(p_now + p_delay_ms, coalesce(w.debounce_until_ms, p_now + p_delay_ms)),
        status = CASE WHEN least(p_now + p_delay_ms, coalesce(w.debounce_until_ms, p_now + p_delay_ms)) > p_now
          THEN 'DELAYED' ELSE 'ENQUEUED' END,
        updated_ms = p_now
      WHERE w.debounce_key = p_key AND w.status IN ('ENQUEUED', 'DELAYED')
      RETURNING w.id INTO existing;
    IF existing IS NOT NULL THEN
      IF p_channel IS NOT NULL THEN
        PERFORM pg_notify(p_channel, json_build_array('q', '@debounce', '')::text);
      END IF;
      RETURN jsonb_build_object('id', existing, 'created', false);
    END IF;
    start_at := least(p_now + p_delay_ms, coalesce(p_now + p_max_wait_ms, p_now + p_delay_ms));
    INSERT INTO __SCHEMA__.workflows (id, name, status, input, app_version, queue, priority, delay_until_ms,
        debounce_key, debounce_until_ms, created_ms, updated_ms, enqueue_order)
      VALUES (p_id, p_name, CASE WHEN start_at > p_now THEN 'DELAYED' ELSE 'ENQUEUED' END, p_input, p_app_version,
        '@debounce', 0, start_at, p_key, p_now + p_max_wait_ms, p_now, p_now, nextval('__SCHEMA__.enqueue_order'))
      ON CONFLICT DO NOTHING
      RETURNING id INTO existing;
    IF existing IS NOT NULL THEN
      IF p_channel IS NOT NULL THEN
        PERFORM pg_notify(p_channel, json_build_array('q', '@debounce', '')::text);
      END IF;
      RETURN jsonb_build_object('id', existing, 'created', true);
    END IF;
  END LOOP;
  RAISE EXCEPTION 'debounce: could not join or add the waiting run of %', p_key;
END
$$;
