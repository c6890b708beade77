-- Zorgkluis vault schema, SQLite. Released migrations are never edited; add a new file.
CREATE TABLE meta (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Data keys, wrapped by the master key (which is not in the database).
-- After crypto-shredding, wrapped is NULL and shredded_at is set.
CREATE TABLE data_keys (
    key_id TEXT PRIMARY KEY,
    patient_id TEXT,
    master_key_id TEXT,
    wrapped BLOB,
    created_at TEXT NOT NULL,
    shredded_at TEXT
);

-- Every version of every resource; bodies sealed (XChaCha20-Poly1305).
CREATE TABLE resource_versions (
    resource_type TEXT NOT NULL,
    id TEXT NOT NULL,
    version INTEGER NOT NULL,
    patient_id TEXT,
    key_id TEXT NOT NULL,
    last_updated TEXT NOT NULL,
    deleted INTEGER NOT NULL,
    body BLOB,
    PRIMARY KEY (resource_type, id, version)
);

-- The current version of each resource.
CREATE TABLE resources (
    resource_type TEXT NOT NULL,
    id TEXT NOT NULL,
    version INTEGER NOT NULL,
    patient_id TEXT,
    deleted INTEGER NOT NULL,
    last_updated TEXT NOT NULL,
    PRIMARY KEY (resource_type, id)
);
CREATE INDEX resources_by_patient ON resources (patient_id, resource_type);
CREATE INDEX resources_by_updated ON resources (resource_type, last_updated);

-- Search indexes of the current versions. Codes, dates and references only;
-- identifiers, names, contact details and birth dates only as keyed blind hashes.
CREATE TABLE idx_token (
    resource_type TEXT NOT NULL,
    id TEXT NOT NULL,
    patient_id TEXT,
    param TEXT NOT NULL,
    system TEXT,
    code TEXT NOT NULL
);
CREATE INDEX idx_token_lookup ON idx_token (resource_type, param, code);
CREATE INDEX idx_token_resource ON idx_token (resource_type, id);
CREATE INDEX idx_token_patient ON idx_token (patient_id);

CREATE TABLE idx_date (
    resource_type TEXT NOT NULL,
    id TEXT NOT NULL,
    patient_id TEXT,
    param TEXT NOT NULL,
    start_s INTEGER NOT NULL,
    end_s INTEGER NOT NULL
);
CREATE INDEX idx_date_lookup ON idx_date (resource_type, param, start_s);
CREATE INDEX idx_date_resource ON idx_date (resource_type, id);
CREATE INDEX idx_date_patient ON idx_date (patient_id);

CREATE TABLE idx_ref (
    resource_type TEXT NOT NULL,
    id TEXT NOT NULL,
    patient_id TEXT,
    param TEXT NOT NULL,
    target_type TEXT NOT NULL,
    target_id TEXT NOT NULL
);
CREATE INDEX idx_ref_lookup ON idx_ref (target_type, target_id, resource_type, param);
CREATE INDEX idx_ref_resource ON idx_ref (resource_type, id);
CREATE INDEX idx_ref_patient ON idx_ref (patient_id);

CREATE TABLE idx_blind (
    resource_type TEXT NOT NULL,
    id TEXT NOT NULL,
    patient_id TEXT,
    param TEXT NOT NULL,
    hash BLOB NOT NULL
);
CREATE INDEX idx_blind_lookup ON idx_blind (param, hash);
CREATE INDEX idx_blind_resource ON idx_blind (resource_type, id);
CREATE INDEX idx_blind_patient ON idx_blind (patient_id);

-- The audit trail (NEN 7513): a hash chain, append-only.
CREATE TABLE audit_events (
    seq INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    occurred_at TEXT NOT NULL,
    patient_id TEXT,
    user_id TEXT NOT NULL,
    code TEXT NOT NULL,
    outcome TEXT NOT NULL,
    payload TEXT NOT NULL,
    prev_hash BLOB NOT NULL,
    hash BLOB NOT NULL
);
CREATE INDEX audit_by_patient ON audit_events (patient_id, occurred_at);
CREATE INDEX audit_by_user ON audit_events (user_id, occurred_at);
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;

CREATE TABLE audit_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL,
    hash BLOB NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, zeroblob(32));

CREATE TABLE audit_checkpoints (
    seq INTEGER PRIMARY KEY,
    hash BLOB NOT NULL,
    key_id TEXT NOT NULL,
    signature BLOB NOT NULL,
    signed_at TEXT NOT NULL
);
