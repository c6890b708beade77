//! The only door to patient data: **decide → audit → store → open**, in that order.
//!
//! Every public operation takes a [`Principal`], asks the access-decision point
//! ([`zorgkluis_policy::decide`]) and records an audit event: writes chain their event in
//! the same transaction as the change; reads make their event durable in the audit
//! journal before any decrypted data is returned. Denials are recorded too.
//!
//! Handlers hold a [`Vault`], never a store or a key.
#![warn(missing_docs)]

mod access;
mod accounts;
pub mod appointments;
mod backup;
mod clients;
mod config;
mod error;
mod events;
mod everything;
mod exchange;
mod keys;
mod load;
mod notes;
mod records;
pub mod review;
mod search;
mod writer;

pub use accounts::{
    AccountKind, AccountSummary, CreatedAccount, LoginAttempt, LoginError, NewAccount, NewSession,
    OrganisationSettings, SessionError, CONFIDENTIALITY_VERSION, EMERGENCY_MINUTES,
};
pub use backup::{restore, BackupReport, RestoreError, RestoreReport};
pub use clients::{
    pkce_s256, valid_redirect_uri, ApiClient, ApiClientKind, AuthorizationRequest, AuthorizeError,
    ClientSummary, IssuedToken, NewClient, NewClientKind, OAuthError, PendingAuthorization,
    RegisteredClient, ResourceScope, Scope, ScopeContext, ScopeError, Scopes, TokenError,
    ACCESS_TOKEN_SECONDS, AUTHORIZATION_CODE_SECONDS,
};
pub use config::{redact_url, VaultConfig};
pub use error::VaultError;
pub use exchange::ImportReport;
pub use keys::RotationReport;
pub use load::{LoadOptions, LoadReport};
pub use notes::{PersonalNote, SEALED_NOTE_URL};
pub use records::{AuditFilter, PatientAccess, Stored, SYNTHETIC_AUDIT_SOURCE};
pub use search::{
    search_params_of, SearchPage, SearchQuery, SearchSort, DEFAULT_COUNT, MAX_CANDIDATES, MAX_COUNT,
};
pub use zorgkluis_audit::{VerifyFailure, VerifyReport};
pub use zorgkluis_policy::{OperatorPurpose, Principal};
pub use zorgkluis_store::Dialect;

use std::sync::Arc;

use zorgkluis_audit::Journal;
use zorgkluis_crypto::{AuditSigner, DataKey, KeyStore};
use zorgkluis_domain::Clock;
use zorgkluis_store::{SqlStore, Store};

use writer::Writer;

/// The vault. Cheap to clone.
#[derive(Clone)]
pub struct Vault {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    keys: Arc<KeyStore>,
    index_key: DataKey,
    signer: Arc<AuditSigner>,
    writer: Writer,
    journal: Journal,
    clock: Arc<dyn Clock>,
    source: String,
    database_url: String,
    access: access::AccessState,
    accounts: Arc<dyn zorgkluis_store::AccountStore>,
    clients: Arc<dyn zorgkluis_store::ClientStore>,
    #[cfg(feature = "bench-unaudited-reads")]
    unaudited_reads: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Vault({})", self.inner.store.dialect().name())
    }
}

impl Vault {
    /// Opens (and with `config.create`, initialises) the vault: key store, database,
    /// audit journal (folding what an earlier run left in it) and the writer.
    pub async fn open(config: VaultConfig) -> Result<Self, VaultError> {
        let keys = Arc::new(KeyStore::open(&config.master_key_file, config.create)?);
        let sql = Arc::new(SqlStore::connect(&config.database_url).await?);
        let store: Arc<dyn Store> = sql.clone();
        let clients: Arc<dyn zorgkluis_store::ClientStore> = sql.clone();
        let accounts: Arc<dyn zorgkluis_store::AccountStore> = sql;
        let signer = Arc::new(keys.audit_signer()?);
        let (journal, recovered, fold_queue) = Journal::open(
            &config.data_dir.join("audit-journal"),
            config.journal_fsync,
            writer::FOLD_MAX_EVENTS,
        )?;
        let writer = Writer::spawn(
            store.clone(),
            signer.clone(),
            config.clock.clone(),
            journal.clone(),
            fold_queue,
        );
        let index_key = keys::bootstrap(
            &store,
            &keys,
            &signer,
            &writer,
            &*config.clock,
            &config.source,
        )
        .await?;
        let vault = Self {
            inner: Arc::new(Inner {
                store,
                keys,
                index_key,
                signer,
                writer,
                journal,
                clock: config.clock,
                source: config.source,
                database_url: config.database_url,
                access: access::AccessState::default(),
                accounts,
                clients,
                #[cfg(feature = "bench-unaudited-reads")]
                unaudited_reads: std::sync::atomic::AtomicBool::new(false),
            }),
        };
        vault.fold_recovered(recovered).await?;
        vault.reload_organisations().await?;
        Ok(vault)
    }

    async fn fold_recovered(
        &self,
        recovered: Vec<zorgkluis_audit::JournaledEvent>,
    ) -> Result<(), VaultError> {
        if recovered.is_empty() {
            self.inner.journal.release_recovered();
            return Ok(());
        }
        // Events already chained (folded before the crash, their segment not yet deleted):
        // per user, the chained events since the oldest recovered event of that user.
        let mut oldest: std::collections::HashMap<&str, &str> = std::collections::HashMap::new();
        for e in &recovered {
            let at = oldest
                .entry(e.keys.user_id.as_str())
                .or_insert(e.keys.occurred_at.as_str());
            if e.keys.occurred_at.as_str() < *at {
                *at = e.keys.occurred_at.as_str();
            }
        }
        let mut present = std::collections::HashSet::new();
        for (user, since) in oldest {
            present.extend(
                self.inner
                    .store
                    .event_ids_of_user_since(user, since)
                    .await?,
            );
        }
        let missing: Vec<_> = recovered
            .into_iter()
            .filter(|e| !present.contains(&e.keys.event_id))
            .collect();
        tracing::info!(
            events = missing.len(),
            "folding audit events recovered from the journal"
        );
        self.inner.writer.fold_now(missing).await?;
        self.inner.journal.release_recovered();
        Ok(())
    }

    /// Benchmark builds only (feature `bench-unaudited-reads`): reads skip their audit
    /// event, so the audit overhead can be measured as a ratio.
    #[cfg(feature = "bench-unaudited-reads")]
    pub fn set_unaudited_reads_for_benchmark(&self, on: bool) {
        self.inner
            .unaudited_reads
            .store(on, std::sync::atomic::Ordering::SeqCst);
    }

    /// Whether reads are audited: always, except in a benchmark build that switched it off.
    pub(crate) fn audits_reads(&self) -> bool {
        #[cfg(feature = "bench-unaudited-reads")]
        {
            !self
                .inner
                .unaudited_reads
                .load(std::sync::atomic::Ordering::Relaxed)
        }
        #[cfg(not(feature = "bench-unaudited-reads"))]
        {
            true
        }
    }

    /// Now, from the vault's injected clock (pages and workflows use this, never the wall
    /// clock, so tests can set the time).
    pub fn now(&self) -> time::OffsetDateTime {
        self.inner.clock.now()
    }

    /// Which backend the vault runs on.
    pub fn dialect(&self) -> Dialect {
        self.inner.store.dialect()
    }

    /// Waits until every audit event journaled so far is in the database chain.
    pub async fn flush_audit(&self) -> Result<(), VaultError> {
        self.inner.writer.flush().await
    }

    /// Flushes the audit trail, lets go of the audit journal (as the end of the process
    /// would) and closes the database.
    pub async fn close(&self) -> Result<(), VaultError> {
        self.flush_audit().await?;
        self.inner.journal.close().await;
        self.inner.store.close().await;
        Ok(())
    }
}
pub use zorgkluis_audit::{AuditEvent, EventCode as AuditEventCode};
