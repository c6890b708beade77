-- API clients (OAuth 2 / SMART on FHIR), their access tokens and authorization codes.
-- Released migrations are never edited. Secrets, tokens and codes are stored only as
-- SHA-256 hashes (lower-case hex); timestamps are RFC 3339 UTC text, expiry Unix seconds.

-- A registered client. kind: user (acts as user_id) or system (acts for organisation_id).
-- scopes: space-separated SMART scopes it may be granted; redirect_uris: JSON array.
CREATE TABLE api_clients (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    kind TEXT NOT NULL,
    user_id TEXT,
    organisation_id TEXT,
    scopes TEXT NOT NULL,
    redirect_uris TEXT NOT NULL DEFAULT '[]',
    created_at TEXT NOT NULL,
    revoked_at TEXT
);

-- Access tokens, by hash. patient_id: the patient in context of patient/ scopes.
CREATE TABLE api_tokens (
    token_hash TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    user_id TEXT,
    scopes TEXT NOT NULL,
    patient_id TEXT,
    expires_unix BIGINT NOT NULL,
    revoked_at TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX api_tokens_by_client ON api_tokens (client_id);

-- One-time authorization codes (10 minutes), by hash, with the PKCE S256 challenge.
-- patient_id: the patient chosen at authorization time (representatives), if any.
CREATE TABLE oauth_codes (
    code_hash TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    scopes TEXT NOT NULL,
    code_challenge TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    patient_id TEXT,
    expires_unix BIGINT NOT NULL,
    used BIGINT NOT NULL DEFAULT 0
);
