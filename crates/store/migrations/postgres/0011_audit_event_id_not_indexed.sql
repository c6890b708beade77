-- Event ids are random UUIDs: a unique index on them cost every folded event an insert at a
-- random place of a large B-tree, only so that journal recovery could skip events already
-- chained. Recovery now finds those through the user's index instead (events of the
-- recovered events' users since the oldest of them), so the index goes.
ALTER TABLE audit_events DROP CONSTRAINT IF EXISTS audit_events_event_id_key;
