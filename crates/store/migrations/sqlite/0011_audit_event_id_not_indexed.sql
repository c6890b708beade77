-- Event ids are random UUIDs: a unique index on them cost every folded event an insert at a
-- random place of a large B-tree, only so that journal recovery could skip events already
-- chained. Recovery now finds those through the user's index instead (events of the
-- recovered events' users since the oldest of them), so the index goes. SQLite cannot drop
-- an inline UNIQUE constraint: the table is rebuilt with the same rows, indexes and
-- append-only triggers.
CREATE TABLE audit_events_rebuilt (
    seq INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL,
    occurred_at TEXT NOT NULL,
    patient_id TEXT,
    user_id TEXT NOT NULL,
    code TEXT NOT NULL,
    outcome TEXT NOT NULL,
    payload TEXT NOT NULL,
    prev_hash BLOB NOT NULL,
    hash BLOB NOT NULL
);
INSERT INTO audit_events_rebuilt
    (seq, event_id, occurred_at, patient_id, user_id, code, outcome, payload, prev_hash, hash)
SELECT seq, event_id, occurred_at, patient_id, user_id, code, outcome, payload, prev_hash, hash
FROM audit_events ORDER BY seq;
DROP TABLE audit_events;
ALTER TABLE audit_events_rebuilt RENAME TO audit_events;
CREATE INDEX audit_by_patient ON audit_events (patient_id, occurred_at);
CREATE INDEX audit_by_user_patient ON audit_events (user_id, occurred_at, seq, patient_id);
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
