//! The vault's error enum. The server maps it to HTTP and OperationOutcome in one place.

use zorgkluis_fhir::Issue;

/// Errors of vault operations. Messages never contain patient data.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// The resource is not valid FHIR R4 (one issue per problem).
    #[error("invalid resource ({} issue(s))", .0.len())]
    Invalid(Vec<Issue>),
    /// The access-decision point refused. Never says whether the target exists.
    #[error("access denied")]
    Forbidden,
    /// No such resource (or version).
    #[error("not found")]
    NotFound,
    /// The resource was deleted.
    #[error("deleted")]
    Gone,
    /// The patient's data key was destroyed: the data can no longer be read by anyone.
    #[error("the data of this patient was destroyed (crypto-shredded)")]
    Shredded,
    /// Version conflict (If-Match, or a concurrent change).
    #[error("version conflict: expected {expected:?}, current {current:?}")]
    Conflict {
        /// Version the caller based the change on.
        expected: Option<i64>,
        /// Current version.
        current: Option<i64>,
    },
    /// The database failed.
    #[error(transparent)]
    Store(#[from] zorgkluis_store::StoreError),
    /// The key store failed.
    #[error(transparent)]
    KeyStore(#[from] zorgkluis_crypto::KeyStoreError),
    /// Decryption failed: wrong key store, or altered data.
    #[error("stored data could not be opened: {0}")]
    Crypto(#[from] zorgkluis_crypto::CryptoError),
    /// The audit journal failed: nothing is returned without its audit event.
    #[error(transparent)]
    Journal(#[from] zorgkluis_audit::JournalError),
    /// The writer has stopped.
    #[error("the vault is shutting down")]
    Closed,
    /// Stored data is inconsistent.
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    /// An account operation was refused (the message says why, without secrets).
    #[error("{0}")]
    Account(String),
    /// A password does not meet the password policy.
    #[error("password not accepted: {}", crate::accounts::password_problems(.0))]
    Password(Vec<zorgkluis_auth::PasswordProblem>),
}

impl VaultError {
    /// Whether this is a failure of the storage layer that is expected to pass (the database
    /// restarting or unreachable, the disk full, the audit journal not writable, the vault
    /// shutting down): the request may be tried again later, unlike a bad request or
    /// damaged data.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            Self::Store(zorgkluis_store::StoreError::Database(_))
                | Self::Journal(
                    zorgkluis_audit::JournalError::Io { .. }
                        | zorgkluis_audit::JournalError::Closed
                )
                | Self::Closed
        )
    }
}
