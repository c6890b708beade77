//! The key store: the master key file(s), the revocation list of shredded data keys and
//! the audit signing key, all in one directory outside the database.
//!
//! Files (mode 0600, directory 0700):
//! - `master.key`: the current master key;
//! - `master.key.next`: only during `keys rotate`, the key being rotated to;
//! - `revoked-keys`: ids of destroyed (shredded) data keys, one per line, append-only;
//! - `audit-signing.key`: the Ed25519 seed that signs audit checkpoints.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::aead::{DataKey, KeyBytes};
use crate::signing::AuditSigner;
use crate::CryptoError;

const FORMAT: &str = "zorgkluis-master-key-v1";
const SIGNING_FORMAT: &str = "zorgkluis-audit-signing-key-v1";

/// Errors opening or changing the key store.
#[derive(Debug, thiserror::Error)]
pub enum KeyStoreError {
    /// File system error, with the path.
    #[error("key store {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The key file is missing and creating one was not allowed.
    #[error(
        "no master key at {0}: a vault's data cannot be opened without the key it was created with"
    )]
    Missing(PathBuf),
    /// The key file is readable by others than its owner.
    #[error("key file {0} is readable by group or others; run: chmod 600 {0}")]
    Permissions(PathBuf),
    /// The key file is not in the expected format.
    #[error("key file {0} is not a valid Zorgkluis key file: {1}")]
    Format(PathBuf, String),
}

/// A data key wrapped (encrypted) by a master key, as stored in the database.
#[derive(Clone, PartialEq, Eq)]
pub struct WrappedKey {
    /// Id of the master key that wrapped it.
    pub master_key_id: String,
    /// `nonce || ciphertext || tag` of the 32-byte data key.
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for WrappedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WrappedKey(master={})", self.master_key_id)
    }
}

#[derive(Serialize, Deserialize)]
struct MasterKeyFile {
    format: String,
    id: String,
    key: String,
    created: String,
}

#[derive(Serialize, Deserialize)]
struct SigningKeyFile {
    format: String,
    id: String,
    seed: String,
}

struct Keyring {
    current: String,
    masters: HashMap<String, DataKey>,
    revoked: HashSet<String>,
}

/// The key store. Cheap to share behind an `Arc`; reloads itself when it meets a master
/// key id it does not know (another process rotated the key).
pub struct KeyStore {
    dir: PathBuf,
    master_file: PathBuf,
    ring: RwLock<Keyring>,
}

impl std::fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyStore")
            .field("master_file", &self.master_file)
            .finish_non_exhaustive()
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> KeyStoreError + '_ {
    move |source| KeyStoreError::Io {
        path: path.to_owned(),
        source,
    }
}

fn write_secret_file(path: &Path, contents: &str) -> Result<(), KeyStoreError> {
    let tmp = path.with_extension("tmp");
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io_err(&tmp))?;
    f.write_all(contents.as_bytes()).map_err(io_err(&tmp))?;
    f.sync_all().map_err(io_err(&tmp))?;
    fs::rename(&tmp, path).map_err(io_err(path))?;
    sync_dir(path);
    Ok(())
}

fn sync_dir(path: &Path) {
    if let Some(dir) = path.parent() {
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
}

fn read_secret_file(path: &Path) -> Result<String, KeyStoreError> {
    let meta = fs::metadata(path).map_err(io_err(path))?;
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(KeyStoreError::Permissions(path.to_owned()));
    }
    fs::read_to_string(path).map_err(io_err(path))
}

fn new_key_id(prefix: &str) -> String {
    let mut b = [0u8; 6];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut b);
    format!("{prefix}-{}", hex::encode(b))
}

fn load_master(path: &Path) -> Result<(String, DataKey), KeyStoreError> {
    let text = read_secret_file(path)?;
    let file: MasterKeyFile =
        toml::from_str(&text).map_err(|e| KeyStoreError::Format(path.to_owned(), e.to_string()))?;
    if file.format != FORMAT {
        return Err(KeyStoreError::Format(
            path.to_owned(),
            "unknown format".into(),
        ));
    }
    let raw = B64
        .decode(file.key.trim())
        .map_err(|e| KeyStoreError::Format(path.to_owned(), e.to_string()))?;
    let bytes: [u8; 32] = raw
        .try_into()
        .map_err(|_| KeyStoreError::Format(path.to_owned(), "key is not 32 bytes".into()))?;
    Ok((file.id, DataKey::from_material(KeyBytes::from_bytes(bytes))))
}

fn write_master(path: &Path, id: &str, key: &DataKey, created: &str) -> Result<(), KeyStoreError> {
    let file = MasterKeyFile {
        format: FORMAT.into(),
        id: id.into(),
        key: B64.encode(key.material().expose()),
        created: created.into(),
    };
    let body = toml::to_string(&file)
        .map_err(|e| KeyStoreError::Format(path.to_owned(), e.to_string()))?;
    let text = format!(
        "# Zorgkluis master key. Without this file the vault's data cannot be read.\n\
         # Keep it secret (mode 0600) and keep a copy apart from database backups.\n{body}"
    );
    write_secret_file(path, &text)
}

fn wrap_aad(key_id: &str, master_id: &str) -> Vec<u8> {
    format!("zorgkluis-data-key|{key_id}|{master_id}").into_bytes()
}

impl KeyStore {
    /// Opens the key store whose master key file is `master_file`. With `create`, a
    /// missing key store is created (new master key, 0700 directory, 0600 files).
    pub fn open(master_file: &Path, create: bool) -> Result<Self, KeyStoreError> {
        let dir = master_file
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        if !master_file.exists() {
            if !create {
                return Err(KeyStoreError::Missing(master_file.to_owned()));
            }
            fs::create_dir_all(&dir).map_err(io_err(&dir))?;
            let _ = fs::set_permissions(&dir, fs::Permissions::from_mode(0o700));
            let id = new_key_id("mk");
            write_master(master_file, &id, &DataKey::generate(), &now_text())?;
        }
        let store = Self {
            dir,
            master_file: master_file.to_owned(),
            ring: RwLock::new(Keyring {
                current: String::new(),
                masters: HashMap::new(),
                revoked: HashSet::new(),
            }),
        };
        store.reload()?;
        Ok(store)
    }

    fn next_file(&self) -> PathBuf {
        self.master_file.with_extension("key.next")
    }

    fn revoked_file(&self) -> PathBuf {
        self.dir.join("revoked-keys")
    }

    /// Re-reads the key files (after another process rotated or revoked keys).
    pub fn reload(&self) -> Result<(), KeyStoreError> {
        let (id, key) = load_master(&self.master_file)?;
        let mut masters = HashMap::new();
        masters.insert(id.clone(), key);
        let next = self.next_file();
        if next.exists() {
            // An interrupted rotation: both keys may be in use in the database.
            let (nid, nkey) = load_master(&next)?;
            masters.insert(nid, nkey);
        }
        let revoked_path = self.revoked_file();
        let revoked = match fs::read_to_string(&revoked_path) {
            Ok(text) => text
                .lines()
                .map(|l| l.trim().to_owned())
                .filter(|l| !l.is_empty())
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => HashSet::new(),
            Err(e) => {
                return Err(KeyStoreError::Io {
                    path: revoked_path,
                    source: e,
                })
            }
        };
        let mut ring = self.ring.write().unwrap_or_else(|p| p.into_inner());
        *ring = Keyring {
            current: id,
            masters,
            revoked,
        };
        Ok(())
    }

    /// Id of the master key new data keys are wrapped with.
    pub fn current_master_id(&self) -> String {
        self.ring
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .current
            .clone()
    }

    /// Wraps `key` (whose id is `key_id`) with the current master key.
    pub fn wrap(&self, key_id: &str, key: &DataKey) -> WrappedKey {
        let ring = self.ring.read().unwrap_or_else(|p| p.into_inner());
        let master_id = ring.current.clone();
        let bytes = ring
            .masters
            .get(&master_id)
            .map(|m| m.seal(key.material().expose(), &wrap_aad(key_id, &master_id)))
            .unwrap_or_default();
        WrappedKey {
            master_key_id: master_id,
            bytes,
        }
    }

    /// Unwraps the data key `key_id`. Fails for a revoked (shredded) key even when the
    /// wrapped copy still exists somewhere, e.g. in an old backup.
    pub fn unwrap(&self, key_id: &str, wrapped: &WrappedKey) -> Result<DataKey, CryptoError> {
        {
            let ring = self.ring.read().unwrap_or_else(|p| p.into_inner());
            if ring.revoked.contains(key_id) {
                return Err(CryptoError::Shredded);
            }
            if let Some(master) = ring.masters.get(&wrapped.master_key_id) {
                return open_wrapped(master, key_id, wrapped);
            }
        }
        // Unknown master key: another process may have rotated. Reload once.
        self.reload()
            .map_err(|_| CryptoError::UnknownMasterKey(wrapped.master_key_id.clone()))?;
        let ring = self.ring.read().unwrap_or_else(|p| p.into_inner());
        if ring.revoked.contains(key_id) {
            return Err(CryptoError::Shredded);
        }
        let master = ring
            .masters
            .get(&wrapped.master_key_id)
            .ok_or_else(|| CryptoError::UnknownMasterKey(wrapped.master_key_id.clone()))?;
        open_wrapped(master, key_id, wrapped)
    }

    /// Whether `key_id` was shredded. Re-reads the revocation list when `fresh`.
    pub fn is_revoked(&self, key_id: &str) -> bool {
        self.ring
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .revoked
            .contains(key_id)
    }

    /// Records that data key `key_id` is destroyed: appended and fsynced to the
    /// revocation list before the caller deletes the wrapped copy from the database.
    pub fn revoke(&self, key_id: &str) -> Result<(), KeyStoreError> {
        let path = self.revoked_file();
        let mut f = OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .open(&path)
            .map_err(io_err(&path))?;
        writeln!(f, "{key_id}").map_err(io_err(&path))?;
        f.sync_all().map_err(io_err(&path))?;
        sync_dir(&path);
        self.ring
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .revoked
            .insert(key_id.to_owned());
        Ok(())
    }

    /// Step 1 of `keys rotate`: creates the next master key in `master.key.next` (so that
    /// a crash in the middle leaves both keys available) and returns its id.
    pub fn begin_rotation(&self) -> Result<String, KeyStoreError> {
        let next = self.next_file();
        if next.exists() {
            // Resume an interrupted rotation with the key already on disk.
            let (id, _) = load_master(&next)?;
            self.reload()?;
            return Ok(id);
        }
        let id = new_key_id("mk");
        write_master(&next, &id, &DataKey::generate(), &now_text())?;
        self.reload()?;
        Ok(id)
    }

    /// Re-wraps a data key with master key `to` (during rotation). The data key itself,
    /// and so every body sealed with it, stays the same.
    pub fn rewrap(
        &self,
        key_id: &str,
        wrapped: &WrappedKey,
        to: &str,
    ) -> Result<WrappedKey, CryptoError> {
        let key = self.unwrap(key_id, wrapped)?;
        let ring = self.ring.read().unwrap_or_else(|p| p.into_inner());
        let master = ring
            .masters
            .get(to)
            .ok_or_else(|| CryptoError::UnknownMasterKey(to.to_owned()))?;
        Ok(WrappedKey {
            master_key_id: to.to_owned(),
            bytes: master.seal(key.material().expose(), &wrap_aad(key_id, to)),
        })
    }

    /// Step 3 of `keys rotate`, after the database holds only keys wrapped with the new
    /// master key: the new key replaces `master.key`; the old key is gone.
    pub fn finish_rotation(&self) -> Result<(), KeyStoreError> {
        let next = self.next_file();
        fs::rename(&next, &self.master_file).map_err(io_err(&next))?;
        sync_dir(&self.master_file);
        self.reload()
    }

    /// The audit signing key (`audit-signing.key`), created on first use.
    pub fn audit_signer(&self) -> Result<AuditSigner, KeyStoreError> {
        let path = self.dir.join("audit-signing.key");
        if !path.exists() {
            let id = new_key_id("ak");
            let seed = KeyBytes::random();
            let file = SigningKeyFile {
                format: SIGNING_FORMAT.into(),
                id,
                seed: B64.encode(seed.expose()),
            };
            let body = toml::to_string(&file)
                .map_err(|e| KeyStoreError::Format(path.clone(), e.to_string()))?;
            write_secret_file(
                &path,
                &format!("# Zorgkluis audit checkpoint signing key (Ed25519). Keep it apart from the database.\n{body}"),
            )?;
        }
        let text = read_secret_file(&path)?;
        let file: SigningKeyFile = toml::from_str(&text)
            .map_err(|e| KeyStoreError::Format(path.clone(), e.to_string()))?;
        if file.format != SIGNING_FORMAT {
            return Err(KeyStoreError::Format(path, "unknown format".into()));
        }
        let raw = B64
            .decode(file.seed.trim())
            .map_err(|e| KeyStoreError::Format(path.clone(), e.to_string()))?;
        let seed: [u8; 32] = raw
            .try_into()
            .map_err(|_| KeyStoreError::Format(path.clone(), "seed is not 32 bytes".into()))?;
        Ok(AuditSigner::from_seed(file.id, seed))
    }

    /// The directory holding the key files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

fn open_wrapped(
    master: &DataKey,
    key_id: &str,
    wrapped: &WrappedKey,
) -> Result<DataKey, CryptoError> {
    let raw = master.open(&wrapped.bytes, &wrap_aad(key_id, &wrapped.master_key_id))?;
    let bytes: [u8; 32] = raw.try_into().map_err(|_| CryptoError::Authentication)?;
    Ok(DataKey::from_material(KeyBytes::from_bytes(bytes)))
}

fn now_text() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, KeyStore) {
        let dir = tempfile::tempdir().unwrap();
        let ks = KeyStore::open(&dir.path().join("keys/master.key"), true).unwrap();
        (dir, ks)
    }

    #[test]
    fn key_files_are_private() {
        let (dir, _ks) = store();
        let mode = fs::metadata(dir.path().join("keys/master.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn missing_key_file_is_refused_without_create() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            KeyStore::open(&dir.path().join("master.key"), false),
            Err(KeyStoreError::Missing(_))
        ));
    }

    #[test]
    fn world_readable_key_file_is_refused() {
        let (dir, _ks) = store();
        let path = dir.path().join("keys/master.key");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            KeyStore::open(&path, false),
            Err(KeyStoreError::Permissions(_))
        ));
    }

    #[test]
    fn wrapped_key_is_bound_to_its_id() {
        let (_d, ks) = store();
        let dk = DataKey::generate();
        let w = ks.wrap("patient:a", &dk);
        let back = ks.unwrap("patient:a", &w).unwrap();
        let sealed = dk.seal(b"x", b"");
        assert_eq!(back.open(&sealed, b"").unwrap(), b"x");
        assert!(ks.unwrap("patient:b", &w).is_err());
    }

    #[test]
    fn rotation_rewraps_without_changing_data_keys_and_old_master_is_gone() {
        let (dir, ks) = store();
        let dk = DataKey::generate();
        let sealed = dk.seal(b"body", b"aad");
        let w = ks.wrap("patient:a", &dk);
        let old = w.master_key_id.clone();
        let new = ks.begin_rotation().unwrap();
        let w2 = ks.rewrap("patient:a", &w, &new).unwrap();
        ks.finish_rotation().unwrap();
        assert_eq!(ks.current_master_id(), new);
        let opened = ks.unwrap("patient:a", &w2).unwrap();
        assert_eq!(opened.open(&sealed, b"aad").unwrap(), b"body");
        // The old wrapping no longer opens: the old master key is destroyed.
        let fresh = KeyStore::open(&dir.path().join("keys/master.key"), false).unwrap();
        assert!(
            matches!(fresh.unwrap("patient:a", &w), Err(CryptoError::UnknownMasterKey(id)) if id == old)
        );
    }

    #[test]
    fn revoked_key_stays_unreadable_across_reopen() {
        let (dir, ks) = store();
        let dk = DataKey::generate();
        let w = ks.wrap("patient:a", &dk);
        ks.revoke("patient:a").unwrap();
        assert!(matches!(
            ks.unwrap("patient:a", &w),
            Err(CryptoError::Shredded)
        ));
        let fresh = KeyStore::open(&dir.path().join("keys/master.key"), false).unwrap();
        assert!(matches!(
            fresh.unwrap("patient:a", &w),
            Err(CryptoError::Shredded)
        ));
    }

    #[test]
    fn signer_is_stable_across_opens() {
        let (dir, ks) = store();
        let a = ks.audit_signer().unwrap();
        let fresh = KeyStore::open(&dir.path().join("keys/master.key"), false).unwrap();
        let b = fresh.audit_signer().unwrap();
        assert_eq!(a.verifier().public_hex(), b.verifier().public_hex());
    }
}
