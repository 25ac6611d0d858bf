-- Durably system schema, version 5: schedules.
--
-- One row per schedule, defined in code (stored by every launch that has it, origin 'code') or created at
-- runtime (origin 'runtime'). What a cron means and when a tick is due is the engine's; the row keeps the
-- definition and the progress: every tick up to last_tick_ms has been started or deliberately skipped.
-- A tick's workflow id is derived from the schedule's name and the tick's instant, so the workflows table's
-- primary key is what makes each tick run once, whichever process fires it.

CREATE TABLE __SCHEMA__.schedules (
  name          text PRIMARY KEY,
  workflow_name text NOT NULL,
  cron          text NOT NULL,
  timezone      text NOT NULL,
  catch_up      text NOT NULL CHECK (catch_up IN ('none', 'latest', 'all')),
  max_catch_up  integer NOT NULL,
  queue         text,
  input         text,
  origin        text NOT NULL CHECK (origin IN ('code', 'runtime')),
  paused        boolean NOT NULL DEFAULT false,
  last_tick_ms  bigint NOT NULL,
  created_ms    bigint NOT NULL,
  updated_ms    bigint NOT NULL
);
