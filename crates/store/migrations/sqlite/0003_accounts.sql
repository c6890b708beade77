-- Zorgkluis accounts schema, SQLite. Released migrations are never edited.
-- Accounts: organisations, users, staff roles, representations, sessions, technical
-- grants and emergency accesses. Timestamps are RFC 3339 UTC text,
-- booleans INTEGER 0/1. Secrets are stored as given by the caller (hashes, sealed TOTP
-- secrets); nothing here is plaintext.

-- Organisations; `id` is the id of the Organization resource.
CREATE TABLE organisations (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    region TEXT,
    agb TEXT,
    ura TEXT,
    parental_consent_below INTEGER,
    -- JSON, e.g. locum arrangements.
    settings TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- Users. Logins are stored lower-cased. kind: staff, patient or representative.
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    login TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    kind TEXT NOT NULL,
    email TEXT,
    password_hash TEXT,
    -- JSON array of earlier PHC password hashes.
    password_history TEXT NOT NULL DEFAULT '[]',
    -- Sealed by the caller, stored as given.
    totp_secret TEXT,
    totp_last_step INTEGER,
    -- JSON array of recovery code hashes.
    recovery_codes TEXT NOT NULL DEFAULT '[]',
    patient_id TEXT,
    disabled INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- The role of a staff user in one organisation. rights: JSON, or NULL for the role default.
CREATE TABLE staff_roles (
    user_id TEXT NOT NULL REFERENCES users (id),
    organisation_id TEXT NOT NULL,
    role TEXT NOT NULL,
    practitioner_id TEXT,
    agb TEXT,
    big TEXT,
    rights TEXT,
    confidentiality_version TEXT,
    confidentiality_accepted_at TEXT,
    PRIMARY KEY (user_id, organisation_id)
);
CREATE INDEX staff_roles_by_practitioner ON staff_roles (practitioner_id);

-- A representative user acting for a patient as a RelatedPerson.
CREATE TABLE representations (
    user_id TEXT NOT NULL,
    patient_id TEXT NOT NULL,
    related_person_id TEXT NOT NULL,
    PRIMARY KEY (user_id, related_person_id)
);

-- Sessions, by hash of the token (the token itself is never stored).
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    organisation_id TEXT,
    created_at TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    revoked_at TEXT,
    address TEXT NOT NULL,
    user_agent TEXT NOT NULL
);
CREATE INDEX sessions_by_user ON sessions (user_id);

-- Time-limited access of a user to one patient, granted by someone else.
CREATE TABLE technical_grants (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    patient_id TEXT NOT NULL,
    reason TEXT NOT NULL,
    granted_by TEXT NOT NULL,
    granted_at TEXT NOT NULL,
    until_unix INTEGER NOT NULL
);
CREATE INDEX technical_grants_by_user ON technical_grants (user_id);

-- Emergency access (break the glass), reviewed afterwards.
CREATE TABLE emergency_accesses (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    patient_id TEXT NOT NULL,
    reason TEXT NOT NULL,
    started_at TEXT NOT NULL,
    until_unix INTEGER NOT NULL,
    reviewed_by TEXT,
    reviewed_at TEXT,
    review_note TEXT
);
CREATE INDEX emergency_accesses_by_patient ON emergency_accesses (patient_id);
CREATE INDEX emergency_accesses_by_review ON emergency_accesses (reviewed_at);
