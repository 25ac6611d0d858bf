-- Durably system schema, version 1. `__SCHEMA__` is replaced by the validated schema name.
-- Times the engine decides (creation, deadlines, wake-ups) are epoch milliseconds from the engine's clock;
-- lease expiry is judged by the database's own clock (heartbeat_at), so worker clock skew cannot steal work.

CREATE TABLE __SCHEMA__.workflows (
  id                text PRIMARY KEY,
  name              text NOT NULL,
  status            text NOT NULL CHECK (status IN ('ENQUEUED', 'DELAYED', 'PENDING', 'SUCCESS', 'ERROR', 'CANCELLED', 'DEAD')),
  input             text NOT NULL,
  output            text,
  error             text,
  cancel_reason     text,
  executor_id       text,
  epoch             integer NOT NULL DEFAULT 1,
  app_version       text NOT NULL,
  recovery_attempts integer NOT NULL DEFAULT 0,
  -- checkpoints counted at the last claim: a claim that finds more has seen progress
  progress_mark     integer NOT NULL DEFAULT 0,
  deadline_ms       bigint,
  created_ms        bigint NOT NULL,
  updated_ms        bigint NOT NULL,
  completed_ms      bigint
);

-- Recovery and failover: the PENDING workflows of one executor (or of none).
CREATE INDEX workflows_pending_by_executor ON __SCHEMA__.workflows (executor_id) WHERE status = 'PENDING';
-- Listing by status, and by age.
CREATE INDEX workflows_by_status_created ON __SCHEMA__.workflows (status, created_ms);
CREATE INDEX workflows_by_created ON __SCHEMA__.workflows (created_ms);

-- No foreign key to workflows: every insert already locks its workflow row (FOR SHARE) to check the epoch,
-- and the key check would cost a third of a checkpoint's server time. Deleting a workflow deletes its steps.
CREATE TABLE __SCHEMA__.steps (
  workflow_id    text NOT NULL,
  step_id        integer NOT NULL,
  name           text NOT NULL,
  kind           text NOT NULL,
  state          text NOT NULL CHECK (state IN ('pending', 'done')),
  seq            integer,
  output         text,
  error          text,
  attempts       integer NOT NULL,
  attempt_errors text,
  wake_at_ms     bigint,
  started_ms     bigint NOT NULL,
  completed_ms   bigint,
  PRIMARY KEY (workflow_id, step_id)
);

CREATE TABLE __SCHEMA__.executors (
  id           text PRIMARY KEY,
  app_version  text NOT NULL,
  -- a random value per process: a heartbeat that finds another one means two live processes share the id
  nonce        text NOT NULL,
  lease_ms     integer NOT NULL,
  heartbeat_at timestamptz NOT NULL
);
