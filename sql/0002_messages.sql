-- Durably system schema, version 2: messages, events and streams.
-- Every row here is written in the same statement as the checkpoint of the operation that made it, which
-- also checks the writer's epoch; so a replay never repeats a write and a fenced zombie cannot make one.
-- No foreign keys to workflows, as for steps: the writes lock the workflow row themselves.

-- Messages to a workflow, received oldest first per (destination, topic). Consumed messages stay (marked
-- with the receiving step) so that an idempotency key keeps deduplicating after delivery.
CREATE TABLE __SCHEMA__.messages (
  destination     text NOT NULL,
  -- FIFO order: assigned at insert; each sender's messages keep their order (its sends are sequential)
  seq             bigint GENERATED ALWAYS AS IDENTITY,
  topic           text NOT NULL,
  payload         text NOT NULL,
  idempotency_key text,
  created_ms      bigint NOT NULL,
  -- the destination's recv step that consumed it; NULL while waiting
  consumed_step   integer,
  consumed_ms     bigint,
  PRIMARY KEY (destination, seq)
);

-- The hot query: the oldest waiting message of (destination, topic). Only waiting messages are indexed.
CREATE INDEX messages_waiting ON __SCHEMA__.messages (destination, topic, seq) WHERE consumed_step IS NULL;
-- The same key sent twice to one destination delivers once.
CREATE UNIQUE INDEX messages_idempotency ON __SCHEMA__.messages (destination, idempotency_key)
  WHERE idempotency_key IS NOT NULL;

-- The current value of each event of a workflow (last write wins), and the step that set it.
CREATE TABLE __SCHEMA__.events (
  workflow_id text NOT NULL,
  key         text NOT NULL,
  value       text NOT NULL,
  step_id     integer NOT NULL,
  updated_ms  bigint NOT NULL,
  PRIMARY KEY (workflow_id, key)
);

-- Every value an event had, keyed by the step that set it (a fork restores events as of a step).
CREATE TABLE __SCHEMA__.event_history (
  workflow_id text NOT NULL,
  key         text NOT NULL,
  step_id     integer NOT NULL,
  value       text NOT NULL,
  PRIMARY KEY (workflow_id, key, step_id)
);

-- One row per stream of a workflow: the next offset to assign, and the closing marker (the step that
-- closed it). Appends lock this row, so concurrent appends to one key get consecutive offsets.
CREATE TABLE __SCHEMA__.streams (
  workflow_id text NOT NULL,
  key         text NOT NULL,
  next_offset integer NOT NULL,
  closed_step integer,
  PRIMARY KEY (workflow_id, key)
);

-- The values of a stream, 0, 1, 2 … per key; read "from offset on" by primary key.
CREATE TABLE __SCHEMA__.stream_values (
  workflow_id   text NOT NULL,
  key           text NOT NULL,
  stream_offset integer NOT NULL,
  value         text NOT NULL,
  -- the step whose checkpoint published it
  step_id       integer NOT NULL,
  PRIMARY KEY (workflow_id, key, stream_offset)
);

-- Aborts the statement that calls it, and so everything that statement wrote: an append to a stream that
-- is closed is found only while appending. SQLSTATE DUR01; the key is the error's detail.
CREATE FUNCTION __SCHEMA__.stream_closed(workflow_id text, key text) RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  RAISE EXCEPTION USING
    ERRCODE = 'DUR01',
    MESSAGE = format('stream %s of workflow %s is closed: nothing more can be written to it', to_json(key), workflow_id),
    DETAIL = key;
END
$$;
