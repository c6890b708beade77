//! Data keys per compartment, crypto-shredding and master key rotation.

use std::sync::Arc;

use zorgkluis_audit::{EventCode, Outcome};
use zorgkluis_crypto::{AuditSigner, DataKey, KeyStore};
use zorgkluis_domain::Clock;
use zorgkluis_policy::{decide, Action, Decision, Principal, Target};
use zorgkluis_store::{Job, JobError, Store, WriteOp};

use crate::events::{audited_job, Object};
use crate::writer::Writer;
use crate::{Vault, VaultError};

/// Key of the blind indexes.
pub(crate) const INDEX_KEY: &str = "index";
/// Key of resources outside any patient compartment (practitioners, organisations).
pub(crate) const SHARED_KEY: &str = "shared";

/// The data key id of a patient compartment.
pub(crate) fn patient_key_id(patient_id: &str) -> String {
    format!("patient:{patient_id}")
}

/// The key id for a compartment (`None`: shared).
pub(crate) fn key_id_for(patient_id: Option<&str>) -> String {
    patient_id.map_or_else(|| SHARED_KEY.to_owned(), patient_key_id)
}

/// Creates the index and shared keys on first start and checks that the key store opens
/// them (a key store from another vault is refused here, before anything is written).
pub(crate) async fn bootstrap(
    store: &Arc<dyn Store>,
    keys: &KeyStore,
    _signer: &AuditSigner,
    writer: &Writer,
    _clock: &dyn Clock,
    _source: &str,
) -> Result<DataKey, VaultError> {
    let mut index = None;
    for key_id in [INDEX_KEY, SHARED_KEY] {
        let key = loop {
            match store.data_key(key_id).await? {
                Some(row) => {
                    let wrapped = row.wrapped.ok_or_else(|| {
                        VaultError::Corrupt(format!("system key {key_id} was destroyed"))
                    })?;
                    break keys.unwrap(key_id, &wrapped).map_err(|e| {
                        tracing::error!(error = %e, key = key_id, "key store does not open the vault's keys");
                        VaultError::KeyStore(zorgkluis_crypto::KeyStoreError::Format(
                            keys.dir().to_owned(),
                            "this key store does not belong to this database".into(),
                        ))
                    })?;
                }
                None => {
                    let key = DataKey::generate();
                    let job = Job {
                        ops: vec![WriteOp::EnsureKey {
                            key_id: key_id.into(),
                            patient_id: None,
                            wrapped: keys.wrap(key_id, &key),
                        }],
                        ..Default::default()
                    };
                    match writer.submit(job).await? {
                        Ok(()) => break key,
                        Err(JobError::KeyRace(_)) => continue,
                        Err(e) => return Err(VaultError::Corrupt(e.to_string())),
                    }
                }
            }
        };
        if key_id == INDEX_KEY {
            index = Some(key);
        }
    }
    index.ok_or_else(|| VaultError::Corrupt("index key missing".into()))
}

/// What `keys rotate` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationReport {
    /// New master key id.
    pub new_master_key: String,
    /// Data keys re-wrapped.
    pub rewrapped: usize,
}

impl Vault {
    /// The data key of a compartment, and the op that stores it when it is new
    /// (only when `create`, i.e. when the Patient itself is being written).
    pub(crate) async fn compartment_key(
        &self,
        patient_id: Option<&str>,
        create: bool,
    ) -> Result<(String, DataKey, Option<WriteOp>), VaultError> {
        let key_id = key_id_for(patient_id);
        match self.inner.store.data_key(&key_id).await? {
            Some(row) => match row.wrapped {
                Some(w) => {
                    let key = self.inner.keys.unwrap(&key_id, &w)?;
                    Ok((key_id, key, None))
                }
                None => Err(VaultError::Shredded),
            },
            None if create => {
                let key = DataKey::generate();
                let op = WriteOp::EnsureKey {
                    key_id: key_id.clone(),
                    patient_id: patient_id.map(str::to_owned),
                    wrapped: self.inner.keys.wrap(&key_id, &key),
                };
                Ok((key_id, key, Some(op)))
            }
            None => Err(VaultError::NotFound),
        }
    }

    /// Crypto-shredding: destroys the data key of a patient. Every version of every
    /// resource in the compartment becomes unreadable by every path, including restored
    /// backups (the key id is revoked in the key store first); the compartment's search
    /// index is removed. Audited as `key-destroy`.
    pub async fn shred_patient(
        &self,
        principal: &Principal,
        patient_id: &str,
    ) -> Result<(), VaultError> {
        let object = Object {
            patient_id: Some(patient_id),
            resource_type: Some("Patient"),
            resource_id: Some(patient_id),
            ..Default::default()
        };
        let allowed = match self
            .decide_resource(
                principal,
                Action::ShredKey,
                "Patient",
                Some(patient_id),
                zorgkluis_policy::Category::Demographics,
            )
            .await?
        {
            Decision::Allow(a) => a,
            Decision::Deny(basis) => {
                return Err(self
                    .deny(principal, &basis, EventCode::KeyDestroy, object)
                    .await)
            }
        };
        let key_id = patient_key_id(patient_id);
        let row = self
            .inner
            .store
            .data_key(&key_id)
            .await?
            .ok_or(VaultError::NotFound)?;
        if row.wrapped.is_none() && self.inner.keys.is_revoked(&key_id) {
            return Err(VaultError::Shredded);
        }
        // Revoke first: from here on no copy of the wrapped key opens, not even in a backup.
        self.inner.keys.revoke(&key_id)?;
        let ev = self.event(
            principal,
            allowed.basis(),
            EventCode::KeyDestroy,
            Outcome::Success,
            object.clone(),
            None,
        );
        let job = audited_job(
            vec![WriteOp::ShredKey {
                key_id,
                patient_id: patient_id.to_owned(),
            }],
            vec![ev],
        );
        self.inner
            .writer
            .submit(job)
            .await?
            .map_err(|e| VaultError::Corrupt(e.to_string()))
    }

    /// `keys rotate`: a new master key; every live data key is re-wrapped with it in one
    /// transaction; then the new key replaces the old key file. Bodies are not re-encrypted.
    pub async fn rotate_master_key(
        &self,
        principal: &Principal,
    ) -> Result<RotationReport, VaultError> {
        let allowed = match decide(
            principal,
            Action::RotateKeys,
            Target::System,
            &self.context(None),
        ) {
            Decision::Allow(a) => a,
            Decision::Deny(basis) => {
                return Err(self
                    .deny(principal, &basis, EventCode::KeyRotate, Object::default())
                    .await)
            }
        };
        let keys = &self.inner.keys;
        let new_id = keys.begin_rotation()?;
        let mut total = 0;
        // Loop: a concurrent writer may have wrapped a new key with the old master key
        // while we re-wrapped; repeat until none is left.
        loop {
            let rows = self.inner.store.live_data_keys().await?;
            let mut rewrapped = Vec::new();
            for row in rows {
                if let Some(w) = row.wrapped {
                    if w.master_key_id != new_id {
                        rewrapped
                            .push((row.key_id.clone(), keys.rewrap(&row.key_id, &w, &new_id)?));
                    }
                }
            }
            if rewrapped.is_empty() {
                break;
            }
            total += rewrapped.len();
            let ev = self.event(
                principal,
                allowed.basis(),
                EventCode::KeyRotate,
                Outcome::Success,
                Object::default(),
                Some(format!(
                    "{} data keys re-wrapped with master key {new_id}",
                    rewrapped.len()
                )),
            );
            let job = Job {
                ops: vec![WriteOp::Rewrap { keys: rewrapped }],
                events: vec![ev],
                failure_events: Vec::new(),
            };
            self.inner
                .writer
                .submit(job)
                .await?
                .map_err(|e| VaultError::Corrupt(e.to_string()))?;
        }
        keys.finish_rotation()?;
        Ok(RotationReport {
            new_master_key: new_id,
            rewrapped: total,
        })
    }

    pub(crate) fn signer(&self) -> &AuditSigner {
        &self.inner.signer
    }
}
