//! What the vault needs to open.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use zorgkluis_domain::{Clock, SystemClock};

/// Vault configuration, built by the command line from file, environment and flags.
#[derive(Clone)]
pub struct VaultConfig {
    /// `sqlite://…` or `postgres://…`.
    pub database_url: String,
    /// Data directory (SQLite database, audit journal).
    pub data_dir: PathBuf,
    /// The master key file; its directory is the key store.
    pub master_key_file: PathBuf,
    /// Create a missing key store and schema.
    pub create: bool,
    /// `fdatasync` the audit journal on every group (survives power loss, slower).
    pub journal_fsync: bool,
    /// Time source.
    pub clock: Arc<dyn Clock>,
    /// Source system id in audit events.
    pub source: String,
}

impl std::fmt::Debug for VaultConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry a password.
        f.debug_struct("VaultConfig")
            .field("database", &redact_url(&self.database_url))
            .field("data_dir", &self.data_dir)
            .field("master_key_file", &self.master_key_file)
            .field("create", &self.create)
            .field("journal_fsync", &self.journal_fsync)
            .finish_non_exhaustive()
    }
}

/// The URL with any password replaced by `***`.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            match creds.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme + 3],
                    &creds[..colon],
                    &url[at..]
                ),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

impl VaultConfig {
    /// The defaults for a data directory: SQLite database `zorgkluis.db` and key store
    /// `keys/master.key` inside it.
    pub fn for_data_dir(data_dir: &Path) -> Self {
        Self {
            database_url: format!(
                "sqlite://{}?mode=rwc",
                data_dir.join("zorgkluis.db").display()
            ),
            data_dir: data_dir.to_owned(),
            master_key_file: data_dir.join("keys").join("master.key"),
            create: true,
            journal_fsync: false,
            clock: Arc::new(SystemClock),
            source: "zorgkluis".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_in_database_urls_are_redacted() {
        assert_eq!(
            redact_url("postgres://zk:s3cret@localhost/zk"),
            "postgres://zk:***@localhost/zk"
        );
        assert_eq!(redact_url("sqlite:///x/y.db"), "sqlite:///x/y.db");
    }
}
