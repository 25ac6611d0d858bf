-- Durably system schema, version 4: the management plane (listing, fork, retention).
--
-- Listings page by keyset on (created_ms, id), newest or oldest first; these indexes serve the first page and
-- any later one with the same cost, filtered by status or by name, and replace the (status, created_ms) and
-- (created_ms) ones of version 1, which could not order ties on id.

ALTER TABLE __SCHEMA__.workflows ADD COLUMN forked_from text;

DROP INDEX __SCHEMA__.workflows_by_status_created;
DROP INDEX __SCHEMA__.workflows_by_created;
CREATE INDEX workflows_by_created ON __SCHEMA__.workflows (created_ms, id);
CREATE INDEX workflows_by_status_created ON __SCHEMA__.workflows (status, created_ms, id);
CREATE INDEX workflows_by_name_created ON __SCHEMA__.workflows (name, created_ms, id);

-- Retention: finished workflows by when they finished (a DEAD one has no completion time: its last change).
CREATE INDEX workflows_finished ON __SCHEMA__.workflows ((coalesce(completed_ms, updated_ms)))
  WHERE status IN ('SUCCESS', 'ERROR', 'CANCELLED', 'DEAD');
