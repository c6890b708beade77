//! Storage of the vault: sealed resource versions, wrapped data keys, search indexes and
//! the audit chain, on SQLite (embedded, default) or PostgreSQL (scale-out).
//!
//! Nothing here knows keys or plaintext: the store holds sealed bytes and blind hashes.
//! Only the vault crate uses it; handlers never see a [`Store`].
//!
//! Writes arrive in [`Batch`]es from the vault's single writer (group commit): one
//! transaction per batch, a savepoint per [`Job`], the audit events of every job chained in
//! the same transaction, and a signed checkpoint now and then.
#![warn(missing_docs)]

mod accounts;
mod clients;
mod dialect;
mod reviews;
mod rows;
mod search;
mod sql;

pub use accounts::*;
pub use clients::*;
pub use dialect::Dialect;
pub use reviews::ReviewStore;
pub use rows::*;
pub use search::{DateTest, IndexClause, IndexQuery, SearchCandidate, SystemMatch, TokenMatch};
pub use sql::SqlStore;

use async_trait::async_trait;
use zorgkluis_audit::{ChainHead, ChainedEvent, Checkpoint};
use zorgkluis_crypto::AuditSigner;

/// Errors of the storage layer. Messages never contain stored values.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be reached or a statement failed.
    #[error("database error: {0}")]
    Database(String),
    /// The database URL is not understood.
    #[error("unsupported database URL (use sqlite://PATH or postgres://...)")]
    Url,
    /// Migrations failed.
    #[error("migration {0} failed: {1}")]
    Migration(String, String),
    /// Not available on this backend.
    #[error("not supported on this backend: {0}")]
    Unsupported(&'static str),
    /// The stored data is not what the schema promises (tampering or a bug).
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    /// A row with the same unique key (e.g. a user's login) already exists.
    #[error("already exists")]
    Duplicate,
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        Self::Database(e.to_string())
    }
}

/// Why one job of a batch was not applied (its savepoint was rolled back).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobError {
    /// The resource's current version is not the one the job expected.
    #[error("version conflict on {resource}: expected {expected:?}, found {found:?}")]
    Conflict {
        /// `Type/id`.
        resource: String,
        /// Version the writer based its change on (`None`: must not exist yet).
        expected: Option<i64>,
        /// Current version (`None`: does not exist).
        found: Option<i64>,
    },
    /// A data key the job needs is missing or destroyed.
    #[error("data key {0} is missing or destroyed")]
    KeyUnavailable(String),
    /// Another writer created this data key first; redo the job with the stored key.
    #[error("data key {0} was created concurrently")]
    KeyRace(String),
    /// The statement failed.
    #[error("database error: {0}")]
    Database(String),
}

/// The storage contract. Both backends pass one contract test suite.
#[async_trait]
pub trait Store: ReviewStore + Send + Sync + 'static {
    /// Which backend this is.
    fn dialect(&self) -> Dialect;

    /// Applies a batch of jobs in one transaction and returns one result per job. Jobs
    /// that fail are rolled back alone; their failure events are still chained.
    async fn commit(
        &self,
        batch: &Batch,
        signer: &AuditSigner,
        now: &str,
    ) -> Result<Vec<Result<(), JobError>>, StoreError>;

    /// The current version of a resource, with its data key.
    async fn read_current(
        &self,
        resource_type: &str,
        id: &str,
    ) -> Result<Option<ReadRow>, StoreError>;

    /// One version of a resource.
    async fn read_version(
        &self,
        resource_type: &str,
        id: &str,
        version: i64,
    ) -> Result<Option<ReadRow>, StoreError>;

    /// All versions of a resource, newest first.
    async fn history(&self, resource_type: &str, id: &str) -> Result<Vec<ReadRow>, StoreError>;

    /// Current (not deleted) resources of a patient compartment, by type then id.
    async fn compartment(&self, patient_id: &str) -> Result<Vec<ReadRow>, StoreError>;

    /// Audit events by patient, user and period (each optional; RFC 3339 bounds, `until`
    /// inclusive of the whole day when a date is given), newest first.
    async fn audit_search(
        &self,
        patient_id: Option<&str>,
        user_id: Option<&str>,
        since: Option<&str>,
        until: Option<&str>,
        limit: i64,
    ) -> Result<Vec<ChainedEvent>, StoreError>;

    /// Versions of every resource of a type, newest first (type history), changed at or
    /// after `since` when given.
    async fn type_history(
        &self,
        resource_type: &str,
        since: Option<&str>,
        limit: i64,
    ) -> Result<Vec<ReadRow>, StoreError>;

    /// The current versions (with bodies) of several resources of one type, in one query;
    /// missing ids are left out.
    async fn read_current_many(
        &self,
        resource_type: &str,
        ids: &[&str],
    ) -> Result<Vec<ReadRow>, StoreError>;

    /// Current (not deleted) resources of some types in a patient compartment.
    async fn compartment_of_types(
        &self,
        patient_id: &str,
        types: &[&str],
    ) -> Result<Vec<ReadRow>, StoreError>;

    /// Current version number and deletion state, without the body.
    async fn current_version(
        &self,
        resource_type: &str,
        id: &str,
    ) -> Result<Option<CurrentRow>, StoreError>;

    /// Current version rows of many resources at once (bulk loads).
    async fn current_versions(
        &self,
        keys: &[(String, String)],
    ) -> Result<std::collections::HashMap<(String, String), CurrentRow>, StoreError>;

    /// A data key row.
    async fn data_key(&self, key_id: &str) -> Result<Option<KeyRow>, StoreError>;

    /// All data key rows that still hold a wrapped key (for rotation).
    async fn live_data_keys(&self) -> Result<Vec<KeyRow>, StoreError>;

    /// Resources whose blind index `param` has `hash`, optionally of one type.
    async fn find_blind(
        &self,
        param: &str,
        hash: &[u8],
        resource_type: Option<&str>,
    ) -> Result<Vec<(String, String)>, StoreError>;

    /// Index search: current, not deleted resources of one type matching every clause
    /// (at most `query.limit`, unordered), with what the access decision needs.
    async fn search_index(&self, query: &IndexQuery) -> Result<Vec<SearchCandidate>, StoreError>;

    /// Counts of current, not deleted resources per type.
    async fn resource_counts(&self) -> Result<Vec<(String, i64)>, StoreError>;

    /// A value from the meta table.
    async fn meta(&self, name: &str) -> Result<Option<String>, StoreError>;

    /// The stored chain head.
    async fn audit_head(&self) -> Result<ChainHead, StoreError>;

    /// Audit events with `seq > after`, in order, at most `limit`.
    async fn audit_events(&self, after: i64, limit: i64) -> Result<Vec<ChainedEvent>, StoreError>;

    /// All signed checkpoints.
    async fn audit_checkpoints(&self) -> Result<Vec<Checkpoint>, StoreError>;

    /// The ids of the chained events of `user_id` that occurred at or after `since`
    /// (RFC 3339): journal recovery skips the recovered events already in the chain. Read
    /// through the user's index, so the cost grows with that user's events since then, not
    /// with the trail.
    async fn event_ids_of_user_since(
        &self,
        user_id: &str,
        since: &str,
    ) -> Result<Vec<String>, StoreError>;

    /// The patients one user's audit events are about in a period (`since` and `until`
    /// inclusive, RFC 3339; a bare date as `until` covers the whole day), with the number of
    /// events per patient, ordered by patient id. Events without a patient are left out.
    async fn audit_patients_of_user(
        &self,
        user_id: &str,
        since: &str,
        until: &str,
    ) -> Result<Vec<PatientAccessRow>, StoreError>;

    /// Audit events about one patient, newest first.
    async fn audit_for_patient(
        &self,
        patient_id: &str,
        limit: i64,
    ) -> Result<Vec<ChainedEvent>, StoreError>;

    /// Writes a consistent copy of the whole database to `dest` while it is in use
    /// (SQLite: `VACUUM INTO`). PostgreSQL is copied with `pg_dump` by the caller.
    async fn snapshot(&self, dest: &std::path::Path) -> Result<(), StoreError>;

    /// Closes connections.
    async fn close(&self);
}

/// Opens the store at `url` (`sqlite://PATH` or `postgres://…`) and runs migrations.
pub async fn open(url: &str) -> Result<SqlStore, StoreError> {
    SqlStore::connect(url).await
}
