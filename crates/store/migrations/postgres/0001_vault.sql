-- Zorgkluis vault schema, PostgreSQL. Released migrations are never edited; add a new file.
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
    wrapped BYTEA,
    created_at TEXT NOT NULL,
    shredded_at TEXT
);

-- Every version of every resource; bodies sealed (XChaCha20-Poly1305).
CREATE TABLE resource_versions (
    resource_type TEXT NOT NULL,
    id TEXT NOT NULL,
    version BIGINT NOT NULL,
    patient_id TEXT,
    key_id TEXT NOT NULL,
    last_updated TEXT NOT NULL,
    deleted BIGINT NOT NULL,
    body BYTEA,
    PRIMARY KEY (resource_type, id, version)
);

-- The current version of each resource.
CREATE TABLE resources (
    resource_type TEXT NOT NULL,
    id TEXT NOT NULL,
    version BIGINT NOT NULL,
    patient_id TEXT,
    deleted BIGINT NOT NULL,
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
    start_s BIGINT NOT NULL,
    end_s BIGINT NOT NULL
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
    hash BYTEA NOT NULL
);
CREATE INDEX idx_blind_lookup ON idx_blind (param, hash);
CREATE INDEX idx_blind_resource ON idx_blind (resource_type, id);
CREATE INDEX idx_blind_patient ON idx_blind (patient_id);

-- The audit trail (NEN 7513): a hash chain, append-only.
CREATE TABLE audit_events (
    seq BIGINT PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    occurred_at TEXT NOT NULL,
    patient_id TEXT,
    user_id TEXT NOT NULL,
    code TEXT NOT NULL,
    outcome TEXT NOT NULL,
    payload TEXT NOT NULL,
    prev_hash BYTEA NOT NULL,
    hash BYTEA NOT NULL
);
CREATE INDEX audit_by_patient ON audit_events (patient_id, occurred_at);
CREATE INDEX audit_by_user ON audit_events (user_id, occurred_at);
CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'audit events are append-only'; END; $$;
CREATE TRIGGER audit_events_no_update BEFORE UPDATE OR DELETE ON audit_events
FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();

CREATE TABLE audit_head (
    id SMALLINT PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL,
    hash BYTEA NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, decode(repeat($$00$$, 32), $$hex$$));

CREATE TABLE audit_checkpoints (
    seq BIGINT PRIMARY KEY,
    hash BYTEA NOT NULL,
    key_id TEXT NOT NULL,
    signature BYTEA NOT NULL,
    signed_at TEXT NOT NULL
);
