//! HP-4+: personal notes that only the patient can read.
//!
//! A note is a versioned `Basic` resource in the patient's record, tagged
//! `urn:zorgkluis:personal-note`, whose text is sealed (XChaCha20-Poly1305) under the
//! patient's *notes key*. The notes key is random; the server stores it only wrapped under
//! a key derived (Argon2id) from the patient's own secret (their password), plus once in
//! the hands of the patient as a recovery key. So:
//!
//! - the access policy refuses personal notes to every member of staff, administrator,
//!   maintainer and privacy officer, and to representatives; and even a path around the
//!   policy (an export, a backup opened with the server's keys, the database itself)
//!   yields only ciphertext, because the server never holds the notes key at rest;
//! - when the patient changes their password, the notes key is re-wrapped (the old
//!   password is needed); when the patient loses the password *and* the recovery key, the
//!   notes are lost for good: nobody, not the practice, not the operator, can open them.
//!   The portal says so before the first note is written.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use zorgkluis_auth::{derive_key, Argon2Cost};
use zorgkluis_crypto::{DataKey, KeyBytes};
use zorgkluis_domain::clock::rfc3339;
use zorgkluis_policy::model::PERSONAL_NOTE_TAG;
use zorgkluis_policy::Principal;

use crate::records::Stored;
use crate::{Vault, VaultError};

/// A personal note, opened with the patient's secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonalNote {
    /// Resource id.
    pub id: String,
    /// Version.
    pub version: i64,
    /// When last changed.
    pub last_updated: String,
    /// The text.
    pub text: String,
}

/// The URL of the extension that carries the sealed text.
pub const SEALED_NOTE_URL: &str = "urn:zorgkluis:sealed-note";

#[derive(Serialize, Deserialize)]
struct NotesLock {
    cost: String,
    salt: String,
    wrapped: String,
}

fn cost_of(name: &str) -> Argon2Cost {
    if name == "fast" {
        Argon2Cost::Fast
    } else {
        Argon2Cost::Interactive
    }
}

fn note_aad(patient_id: &str, note_id: &str) -> Vec<u8> {
    format!("personal-note/{patient_id}/{note_id}").into_bytes()
}

fn own_patient(principal: &Principal) -> Result<&str, VaultError> {
    match principal {
        Principal::Patient { patient_id, .. } => Ok(patient_id),
        _ => Err(VaultError::Forbidden),
    }
}

impl Vault {
    fn wrap_notes_key(
        &self,
        notes_key: &[u8; 32],
        secret: &str,
        cost: Argon2Cost,
    ) -> Result<String, VaultError> {
        let salt: [u8; 16] = rand::random();
        let kek =
            derive_key(secret, &salt, cost).map_err(|e| VaultError::Account(e.to_string()))?;
        let wrapped =
            DataKey::from_material(KeyBytes::from_bytes(kek)).seal(notes_key, b"notes-key");
        let lock = NotesLock {
            cost: match cost {
                Argon2Cost::Fast => "fast".into(),
                Argon2Cost::Interactive => "interactive".into(),
            },
            salt: hex::encode(salt),
            wrapped: hex::encode(wrapped),
        };
        serde_json::to_string(&lock).map_err(|e| VaultError::Corrupt(e.to_string()))
    }

    /// Opens the notes key with the patient's secret; `Forbidden` for a wrong secret.
    async fn unlock_notes(
        &self,
        patient_id: &str,
        secret: &str,
    ) -> Result<Option<DataKey>, VaultError> {
        let Some(lock) = self.inner.accounts.note_lock(patient_id).await? else {
            return Ok(None);
        };
        let lock: NotesLock =
            serde_json::from_str(&lock).map_err(|_| VaultError::Corrupt("notes lock".into()))?;
        let key = self.raw_notes_key(&lock, secret)?;
        Ok(Some(DataKey::from_material(KeyBytes::from_bytes(key))))
    }

    /// Writes (creates or changes) a personal note. The first note sets up the notes
    /// lock and returns the recovery key, to be shown to the patient once.
    pub async fn write_personal_note(
        &self,
        principal: &Principal,
        secret: &str,
        note_id: Option<&str>,
        text: &str,
        cost: Argon2Cost,
    ) -> Result<(Stored, Option<String>), VaultError> {
        let patient_id = own_patient(principal)?.to_owned();
        let (key, recovery) = match self.unlock_notes(&patient_id, secret).await? {
            Some(k) => (k, None),
            None => {
                let raw: [u8; 32] = rand::random();
                let lock = self.wrap_notes_key(&raw, secret, cost)?;
                self.inner
                    .accounts
                    .set_note_lock(&patient_id, &lock, &rfc3339(self.inner.clock.now()))
                    .await?;
                let recovery = data_encoding::BASE32_NOPAD.encode(&raw);
                (
                    DataKey::from_material(KeyBytes::from_bytes(raw)),
                    Some(recovery),
                )
            }
        };
        let id = note_id.map_or_else(
            || zorgkluis_domain::ResourceId::random().to_string(),
            str::to_owned,
        );
        let sealed = key.seal(text.as_bytes(), &note_aad(&patient_id, &id));
        let resource = json!({
            "resourceType": "Basic",
            "id": id,
            "meta": {"tag": [{"system": PERSONAL_NOTE_TAG, "code": "personal-note", "display": "Persoonlijke notitie"}]},
            "code": {"coding": [{"system": PERSONAL_NOTE_TAG, "code": "personal-note"}]},
            "subject": {"reference": format!("Patient/{patient_id}")},
            "extension": [{"url": SEALED_NOTE_URL, "valueBase64Binary": base64_encode(&sealed)}]
        });
        let stored = self.update(principal, "Basic", &id, resource, None).await?;
        Ok((stored, recovery))
    }

    /// The patient's personal notes, opened with their secret. Every read is decided and
    /// audited like any other read.
    pub async fn personal_notes(
        &self,
        principal: &Principal,
        secret: &str,
    ) -> Result<Vec<PersonalNote>, VaultError> {
        let patient_id = own_patient(principal)?.to_owned();
        let Some(key) = self.unlock_notes(&patient_id, secret).await? else {
            return Ok(Vec::new());
        };
        let rows = self
            .inner
            .store
            .compartment_of_types(&patient_id, &["Basic"])
            .await?;
        let mut out = Vec::new();
        for row in rows {
            if row.version.category.as_deref() != Some("personal_note") {
                continue;
            }
            let id = row.version.id.clone();
            let stored = self.read(principal, "Basic", &id).await?;
            let sealed = stored
                .resource
                .as_ref()
                .and_then(sealed_text)
                .ok_or_else(|| VaultError::Corrupt("personal note without sealed text".into()))?;
            let text = key
                .open(&sealed, &note_aad(&patient_id, &id))
                .map_err(|_| VaultError::Corrupt("personal note does not open".into()))?;
            out.push(PersonalNote {
                id,
                version: stored.version,
                last_updated: stored.last_updated,
                text: String::from_utf8_lossy(&text).into_owned(),
            });
        }
        Ok(out)
    }

    /// Re-locks the notes under a new secret (on a password change; the old one is needed).
    pub async fn relock_personal_notes(
        &self,
        principal: &Principal,
        old_secret: &str,
        new_secret: &str,
        cost: Argon2Cost,
    ) -> Result<(), VaultError> {
        let patient_id = own_patient(principal)?.to_owned();
        let Some(lock) = self.inner.accounts.note_lock(&patient_id).await? else {
            return Ok(());
        };
        let lock: NotesLock =
            serde_json::from_str(&lock).map_err(|_| VaultError::Corrupt("notes lock".into()))?;
        let raw = self.raw_notes_key(&lock, old_secret)?;
        let new_lock = self.wrap_notes_key(&raw, new_secret, cost)?;
        self.inner
            .accounts
            .set_note_lock(&patient_id, &new_lock, &rfc3339(self.inner.clock.now()))
            .await?;
        Ok(())
    }

    /// Restores access to the notes with the recovery key after a lost password.
    pub async fn recover_personal_notes(
        &self,
        principal: &Principal,
        recovery_key: &str,
        new_secret: &str,
        cost: Argon2Cost,
    ) -> Result<(), VaultError> {
        let patient_id = own_patient(principal)?.to_owned();
        let cleaned: String = recovery_key
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .map(|c| c.to_ascii_uppercase())
            .collect();
        let raw: [u8; 32] = data_encoding::BASE32_NOPAD
            .decode(cleaned.as_bytes())
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or(VaultError::Forbidden)?;
        // The recovery key must open an existing note (or there are none yet).
        let key = DataKey::from_material(KeyBytes::from_bytes(raw));
        let rows = self
            .inner
            .store
            .compartment_of_types(&patient_id, &["Basic"])
            .await?;
        // Read like any other read: decided and audited.
        if let Some(row) = rows
            .iter()
            .find(|r| r.version.category.as_deref() == Some("personal_note"))
        {
            let note = self.read(principal, "Basic", &row.version.id).await?;
            let sealed = note
                .resource
                .as_ref()
                .and_then(sealed_text)
                .unwrap_or_default();
            key.open(&sealed, &note_aad(&patient_id, &row.version.id))
                .map_err(|_| VaultError::Forbidden)?;
        }
        let lock = self.wrap_notes_key(&raw, new_secret, cost)?;
        self.inner
            .accounts
            .set_note_lock(&patient_id, &lock, &rfc3339(self.inner.clock.now()))
            .await?;
        Ok(())
    }

    fn raw_notes_key(&self, lock: &NotesLock, secret: &str) -> Result<[u8; 32], VaultError> {
        let salt: [u8; 16] = hex::decode(&lock.salt)
            .ok()
            .and_then(|s| s.try_into().ok())
            .ok_or_else(|| VaultError::Corrupt("notes lock salt".into()))?;
        let wrapped =
            hex::decode(&lock.wrapped).map_err(|_| VaultError::Corrupt("notes lock".into()))?;
        let kek = derive_key(secret, &salt, cost_of(&lock.cost))
            .map_err(|e| VaultError::Account(e.to_string()))?;
        DataKey::from_material(KeyBytes::from_bytes(kek))
            .open(&wrapped, b"notes-key")
            .map_err(|_| VaultError::Forbidden)?
            .try_into()
            .map_err(|_| VaultError::Corrupt("notes key length".into()))
    }
}

/// The sealed text of a personal note.
fn sealed_text(note: &Value) -> Option<Vec<u8>> {
    note.get("extension")?
        .as_array()?
        .iter()
        .find(|e| e.get("url").and_then(Value::as_str) == Some(SEALED_NOTE_URL))?
        .get("valueBase64Binary")?
        .as_str()
        .and_then(base64_decode)
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn base64_decode(s: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s).ok()
}
