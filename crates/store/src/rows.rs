//! Row types: what the store keeps, in the store's own vocabulary.

use zorgkluis_audit::{AuditEvent, JournaledEvent};
use zorgkluis_crypto::WrappedKey;

/// One stored version of a resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionRow {
    /// FHIR type.
    pub resource_type: String,
    /// Logical id.
    pub id: String,
    /// Version, from 1.
    pub version: i64,
    /// Patient compartment, if any.
    pub patient_id: Option<String>,
    /// Data key that sealed the body.
    pub key_id: String,
    /// `meta.lastUpdated`.
    pub last_updated: String,
    /// A tombstone (delete).
    pub deleted: bool,
    /// Sealed body; `None` for a tombstone.
    pub body: Option<Vec<u8>>,
    /// Data category the access policy decides on (derived from type and tags at write
    /// time, kept in clear so that the decision comes before the body is opened).
    /// `None` for versions written before categories were recorded.
    pub category: Option<String>,
}

/// A data key row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRow {
    /// Key id (`patient:<id>`, `shared`, `index`).
    pub key_id: String,
    /// Patient whose compartment it seals.
    pub patient_id: Option<String>,
    /// The wrapped key; `None` once shredded.
    pub wrapped: Option<WrappedKey>,
    /// When it was destroyed.
    pub shredded_at: Option<String>,
}

/// A version with the key row needed to open it (one query).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadRow {
    /// The version.
    pub version: VersionRow,
    /// Its key row, if it still exists.
    pub key: Option<KeyRow>,
}

/// Current version number and state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentRow {
    /// Current version.
    pub version: i64,
    /// Whether it is a tombstone.
    pub deleted: bool,
    /// Patient compartment.
    pub patient_id: Option<String>,
}

/// Search index rows of one resource version.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IndexRows {
    /// `(param, system, code)`.
    pub tokens: Vec<(String, Option<String>, String)>,
    /// `(param, start, end)` in unix seconds, half-open.
    pub dates: Vec<(String, i64, i64)>,
    /// `(param, target type, target id)`.
    pub refs: Vec<(String, String, String)>,
    /// `(param, keyed hash)`.
    pub blind: Vec<(String, Vec<u8>)>,
}

/// One change inside a job.
#[derive(Debug, Clone)]
pub enum WriteOp {
    /// Stores a wrapped data key unless one with this id exists.
    EnsureKey {
        /// Key id.
        key_id: String,
        /// Patient it belongs to.
        patient_id: Option<String>,
        /// The wrapped key.
        wrapped: WrappedKey,
    },
    /// Writes a new version and makes it current, replacing the search index.
    PutVersion {
        /// The row (body already sealed for exactly this version).
        row: VersionRow,
        /// The current version this change is based on (`None`: must not exist).
        expected_current: Option<i64>,
        /// Index of the new version (empty for a tombstone).
        index: IndexRows,
    },
    /// Destroys a data key and removes the search index of its compartment.
    ShredKey {
        /// Key id.
        key_id: String,
        /// The patient whose index rows go.
        patient_id: String,
    },
    /// Replaces wrapped keys (master key rotation).
    Rewrap {
        /// `(key id, new wrapping)`.
        keys: Vec<(String, WrappedKey)>,
    },
    /// Sets a meta value.
    SetMeta {
        /// Name.
        name: String,
        /// Value.
        value: String,
    },
}

/// A unit of work: all ops apply or none; its events are chained with it.
#[derive(Debug, Clone, Default)]
pub struct Job {
    /// The changes.
    pub ops: Vec<WriteOp>,
    /// Audit events chained when the job succeeds.
    pub events: Vec<AuditEvent>,
    /// Audit events chained instead when it fails (outcome `error`).
    pub failure_events: Vec<AuditEvent>,
}

/// What the writer commits in one transaction.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    /// Jobs, in order.
    pub jobs: Vec<Job>,
    /// Journaled events (audited reads) folded into the chain in this transaction, with
    /// the canonical form the journal already made.
    pub folded: Vec<JournaledEvent>,
}

/// One patient in the answer to "which patients did this user access in a period": how
/// many audit events of the user are about the patient, and the first and last of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatientAccessRow {
    /// The patient compartment (pseudonymous patient id).
    pub patient_id: String,
    /// Audit events of the user about this patient in the period (any code and outcome).
    pub events: i64,
    /// `occurred_at` of the first of them.
    pub first: String,
    /// `occurred_at` of the last of them.
    pub last: String,
}
