//! Backup and restore of a running vault.
//!
//! A backup file is `ZORGKLUIS-BACKUP-1\n`, one JSON manifest line (backend, size and
//! SHA-256 of the payload, the audit chain head at the time), then the payload: a SQLite
//! database image made with `VACUUM INTO` (consistent while the server runs), or a
//! `pg_dump` custom-format archive. The key store is never in it.
//!
//! Restore refuses a file whose size or checksum does not match (truncated or altered),
//! restores only into an empty database, and verifies the audit chain with the current key
//! store before it reports success; a restore that fails verification is removed again.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zorgkluis_audit::{EventCode, Outcome};
use zorgkluis_domain::clock::rfc3339;
use zorgkluis_policy::{decide, Action, Decision, OperatorPurpose, Principal, Target};
use zorgkluis_store::Dialect;

use crate::events::Object;
use crate::{Vault, VaultConfig, VaultError};

const MAGIC: &str = "ZORGKLUIS-BACKUP-1";

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Manifest {
    backend: String,
    created: String,
    payload_bytes: u64,
    payload_sha256: String,
    audit_head_seq: i64,
    audit_head_hash: String,
}

/// What a backup wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupReport {
    /// Size of the backup file.
    pub bytes: u64,
    /// SHA-256 of the payload.
    pub sha256: String,
    /// Audit events in the chain at the time.
    pub audit_events: i64,
}

/// What a restore did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreReport {
    /// Backend restored into.
    pub backend: &'static str,
    /// When the backup was made.
    pub created: String,
    /// Audit events verified.
    pub audit_events: i64,
}

/// Why a restore was refused.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    /// The file is not a Zorgkluis backup.
    #[error("{0} is not a Zorgkluis backup file")]
    NotABackup(PathBuf),
    /// Size or checksum differ: truncated or altered.
    #[error("the backup is damaged ({0}); nothing was restored")]
    Damaged(String),
    /// The target is not empty.
    #[error(
        "the target database is not empty; restore only into an empty data directory or database"
    )]
    NotEmpty,
    /// The backup is for the other backend.
    #[error("this is a {found} backup; the target database is {target}")]
    WrongBackend {
        /// Backend of the backup.
        found: String,
        /// Backend of the target.
        target: &'static str,
    },
    /// The restored vault's audit chain does not verify; the restore was removed.
    #[error("the restored audit trail does not verify ({0}); the restore was removed")]
    AuditBroken(String),
    /// Opening the restored vault failed (e.g. missing or wrong key store).
    #[error("the restored vault cannot be opened: {0}")]
    Open(#[from] VaultError),
    /// A file or tool failed.
    #[error("{0}")]
    Io(String),
}

fn io(context: &str) -> impl Fn(std::io::Error) -> RestoreError + '_ {
    move |e| RestoreError::Io(format!("{context}: {e}"))
}

/// Finds a PostgreSQL client tool (`pg_dump`, `pg_restore`): on `PATH`, else the newest
/// in `/usr/lib/postgresql/*/bin`.
fn pg_tool(name: &str) -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin").join(name))
        .filter(|p| p.exists())
        .collect();
    versions.sort();
    versions.pop().unwrap_or_else(|| PathBuf::from(name))
}

fn sha256_file(path: &Path) -> Result<(u64, String), std::io::Error> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        let k = f.read(&mut buf)?;
        if k == 0 {
            break;
        }
        h.update(&buf[..k]);
        n += k as u64;
    }
    Ok((n, hex::encode(h.finalize())))
}

impl Vault {
    /// Writes a consistent backup of the running vault to `dest`. Audited as `backup`.
    pub async fn backup(
        &self,
        principal: &Principal,
        dest: &Path,
    ) -> Result<BackupReport, VaultError> {
        let allowed = match decide(
            principal,
            Action::Backup,
            Target::System,
            &self.context(None),
        ) {
            Decision::Allow(a) => a,
            Decision::Deny(b) => {
                return Err(self
                    .deny(principal, &b, EventCode::Backup, Object::default())
                    .await)
            }
        };
        self.flush_audit().await?;
        let payload = dest.with_extension("payload.partial");
        let _ = std::fs::remove_file(&payload);
        let dialect = self.inner.store.dialect();
        let head_before = self.inner.store.audit_head().await?;
        match dialect {
            Dialect::Sqlite => self.inner.store.snapshot(&payload).await?,
            Dialect::Postgres => {
                let out = Command::new(pg_tool("pg_dump"))
                    .arg("--format=custom")
                    .arg("--no-owner")
                    .arg("--file")
                    .arg(&payload)
                    .arg(&self.inner.database_url)
                    .output()
                    .map_err(|e| VaultError::Corrupt(format!("running pg_dump: {e}")))?;
                if !out.status.success() {
                    return Err(VaultError::Corrupt(format!(
                        "pg_dump failed: {}",
                        String::from_utf8_lossy(&out.stderr).trim()
                    )));
                }
            }
        }
        let (len, sha) = sha256_file(&payload)
            .map_err(|e| VaultError::Corrupt(format!("reading backup: {e}")))?;
        let manifest = Manifest {
            backend: dialect.name().to_owned(),
            created: rfc3339(self.inner.clock.now()),
            payload_bytes: len,
            payload_sha256: sha.clone(),
            audit_head_seq: head_before.seq,
            audit_head_hash: hex::encode(head_before.hash),
        };
        let write = || -> std::io::Result<u64> {
            let tmp = dest.with_extension("partial");
            let mut out = std::fs::File::create(&tmp)?;
            writeln!(out, "{MAGIC}")?;
            writeln!(
                out,
                "{}",
                serde_json::to_string(&manifest).unwrap_or_default()
            )?;
            let mut src = std::fs::File::open(&payload)?;
            std::io::copy(&mut src, &mut out)?;
            out.sync_all()?;
            std::fs::rename(&tmp, dest)?;
            std::fs::remove_file(&payload)?;
            Ok(std::fs::metadata(dest)?.len())
        };
        let bytes = write().map_err(|e| VaultError::Corrupt(format!("writing backup: {e}")))?;
        let ev = self.event(
            principal,
            allowed.basis(),
            EventCode::Backup,
            Outcome::Success,
            Object::default(),
            Some(format!(
                "backup of {} audit events, {bytes} bytes, sha256 {sha}",
                head_before.seq
            )),
        );
        self.inner.journal.append(vec![ev]).await?;
        Ok(BackupReport {
            bytes,
            sha256: sha,
            audit_events: head_before.seq,
        })
    }
}

/// Reads and checks the header and payload of a backup file; returns the manifest and
/// the payload written to `payload_out`.
fn unpack(file: &Path, payload_out: &Path) -> Result<Manifest, RestoreError> {
    let f = std::fs::File::open(file).map_err(io("opening the backup"))?;
    let mut reader = BufReader::new(f);
    let mut magic = String::new();
    reader
        .read_line(&mut magic)
        .map_err(|_| RestoreError::NotABackup(file.to_owned()))?;
    if magic.trim_end() != MAGIC {
        return Err(RestoreError::NotABackup(file.to_owned()));
    }
    let mut line = String::new();
    reader
        .read_line(&mut line)
        .map_err(|_| RestoreError::NotABackup(file.to_owned()))?;
    let manifest: Manifest = serde_json::from_str(line.trim_end())
        .map_err(|_| RestoreError::Damaged("unreadable manifest".into()))?;
    let mut out = std::fs::File::create(payload_out).map_err(io("writing the restore"))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        let k = reader.read(&mut buf).map_err(io("reading the backup"))?;
        if k == 0 {
            break;
        }
        h.update(&buf[..k]);
        out.write_all(&buf[..k])
            .map_err(io("writing the restore"))?;
        n += k as u64;
    }
    out.sync_all().map_err(io("writing the restore"))?;
    if n != manifest.payload_bytes {
        let _ = std::fs::remove_file(payload_out);
        return Err(RestoreError::Damaged(format!(
            "{n} bytes where the manifest says {}: truncated",
            manifest.payload_bytes
        )));
    }
    if hex::encode(h.finalize()) != manifest.payload_sha256 {
        let _ = std::fs::remove_file(payload_out);
        return Err(RestoreError::Damaged("checksum mismatch: altered".into()));
    }
    Ok(manifest)
}

fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    Some(PathBuf::from(rest.split('?').next().unwrap_or(rest)))
}

/// Restores `file` into the empty target of `config` and verifies its audit chain with
/// the key store of `config` (which must exist: a backup is unreadable without it).
pub async fn restore(mut config: VaultConfig, file: &Path) -> Result<RestoreReport, RestoreError> {
    let dialect = Dialect::from_url(&config.database_url)
        .ok_or_else(|| RestoreError::Io("unsupported database URL".into()))?;
    std::fs::create_dir_all(&config.data_dir).map_err(io("creating the data directory"))?;
    let payload = config.data_dir.join("restore.payload");
    let manifest = unpack(file, &payload)?;
    if manifest.backend != dialect.name() {
        let _ = std::fs::remove_file(&payload);
        return Err(RestoreError::WrongBackend {
            found: manifest.backend,
            target: dialect.name(),
        });
    }
    let cleanup: Box<dyn Fn() + Send + Sync> = match dialect {
        Dialect::Sqlite => {
            let db = sqlite_path(&config.database_url)
                .ok_or_else(|| RestoreError::Io("bad SQLite URL".into()))?;
            if db.exists() {
                let _ = std::fs::remove_file(&payload);
                return Err(RestoreError::NotEmpty);
            }
            std::fs::rename(&payload, &db).map_err(io("placing the restored database"))?;
            Box::new(move || {
                for ext in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{ext}", db.display()));
                }
            })
        }
        Dialect::Postgres => {
            let url = config.database_url.clone();
            let check = Command::new(pg_tool("psql"))
                .args([
                    "-At",
                    "-c",
                    "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'",
                    &url,
                ])
                .output()
                .map_err(io("running psql"))?;
            if String::from_utf8_lossy(&check.stdout).trim() != "0" {
                let _ = std::fs::remove_file(&payload);
                return Err(RestoreError::NotEmpty);
            }
            let out = Command::new(pg_tool("pg_restore"))
                .args(["--no-owner", "--exit-on-error", "--dbname", &url])
                .arg(&payload)
                .output()
                .map_err(io("running pg_restore"))?;
            let _ = std::fs::remove_file(&payload);
            let wipe = move || {
                let _ = Command::new(pg_tool("psql"))
                    .args([
                        "-q",
                        "-c",
                        "DROP SCHEMA public CASCADE; CREATE SCHEMA public;",
                        &url,
                    ])
                    .output();
            };
            if !out.status.success() {
                wipe();
                return Err(RestoreError::Damaged(format!(
                    "pg_restore failed: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                )));
            }
            Box::new(wipe)
        }
    };
    config.create = false;
    let vault = match Vault::open(config).await {
        Ok(v) => v,
        Err(e) => {
            cleanup();
            return Err(RestoreError::Open(e));
        }
    };
    let principal = Principal::operator("restore", OperatorPurpose::AuditReview);
    let verified = vault.verify_audit(&principal, &|_, _| {}).await;
    let _ = vault.close().await;
    match verified {
        Ok(Ok(report)) => Ok(RestoreReport {
            backend: dialect.name(),
            created: manifest.created,
            audit_events: report.events,
        }),
        Ok(Err(failure)) => {
            cleanup();
            Err(RestoreError::AuditBroken(failure.to_string()))
        }
        Err(e) => {
            cleanup();
            Err(RestoreError::Open(e))
        }
    }
}
