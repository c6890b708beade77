//! Typed, layered configuration: TOML file, then `ZORGKLUIS_*` environment variables,
//! then command-line flags (each layer overrides the one before).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Deserialize;

/// The configuration file, all fields optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSettings {
    /// Data directory.
    pub data_dir: Option<PathBuf>,
    /// Database URL.
    pub database_url: Option<String>,
    /// Listen address.
    pub listen: Option<String>,
    /// Master key file.
    pub master_key_file: Option<PathBuf>,
    /// Audit settings.
    #[serde(default)]
    pub audit: AuditSettings,
}

/// `[audit]` section.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditSettings {
    /// fdatasync the audit journal on every group commit.
    pub journal_fsync: Option<bool>,
}

/// The settings in force.
#[derive(Clone, PartialEq, Eq)]
pub struct Settings {
    pub data_dir: PathBuf,
    pub database_url: String,
    pub listen: String,
    pub master_key_file: PathBuf,
    pub journal_fsync: bool,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("data_dir", &self.data_dir)
            .field(
                "database_url",
                &zorgkluis_vault::redact_url(&self.database_url),
            )
            .field("listen", &self.listen)
            .field("master_key_file", &self.master_key_file)
            .field("journal_fsync", &self.journal_fsync)
            .finish()
    }
}

/// Flags given on the command line.
#[derive(Debug, Default)]
pub struct Flags {
    pub config: Option<PathBuf>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub listen: Option<String>,
}

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

fn parse_bool(name: &str, v: &str) -> Result<bool> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => anyhow::bail!("{name} must be true or false"),
    }
}

impl Settings {
    /// Resolves the layers. `env` is the process environment (injected for tests).
    pub fn resolve(flags: Flags, env: &dyn Fn(&str) -> Option<String>) -> Result<Self> {
        let config_path = flags
            .config
            .clone()
            .or_else(|| env("ZORGKLUIS_CONFIG").map(PathBuf::from));
        let file = match &config_path {
            Some(path) => load_file(path)?,
            None => FileSettings::default(),
        };
        let data_dir = flags
            .data_dir
            .or_else(|| env("ZORGKLUIS_DATA_DIR").map(PathBuf::from))
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from("./zorgkluis-data"));
        let database_url = flags
            .database_url
            .or_else(|| env("ZORGKLUIS_DATABASE_URL"))
            .or(file.database_url)
            .unwrap_or_else(|| {
                format!(
                    "sqlite://{}?mode=rwc",
                    data_dir.join("zorgkluis.db").display()
                )
            });
        let listen = flags
            .listen
            .or_else(|| env("ZORGKLUIS_LISTEN"))
            .or(file.listen)
            .unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
        let master_key_file = env("ZORGKLUIS_MASTER_KEY_FILE")
            .map(PathBuf::from)
            .or(file.master_key_file)
            .unwrap_or_else(|| data_dir.join("keys").join("master.key"));
        let journal_fsync = match env("ZORGKLUIS_AUDIT_JOURNAL_FSYNC") {
            Some(v) => parse_bool("ZORGKLUIS_AUDIT_JOURNAL_FSYNC", &v)?,
            None => file.audit.journal_fsync.unwrap_or(false),
        };
        Ok(Self {
            data_dir,
            database_url,
            listen,
            master_key_file,
            journal_fsync,
        })
    }
}

fn load_file(path: &Path) -> Result<FileSettings> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading configuration file {}", path.display()))?;
    toml::from_str(&text)
        .with_context(|| format!("configuration file {} is not valid", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env<'a>(map: &'a HashMap<&'a str, &'a str>) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| map.get(k).map(|v| v.to_string())
    }

    #[test]
    fn defaults_put_everything_in_the_data_dir() {
        let s = Settings::resolve(Flags::default(), &|_| None).unwrap();
        assert_eq!(s.data_dir, PathBuf::from("./zorgkluis-data"));
        assert!(s
            .database_url
            .starts_with("sqlite://./zorgkluis-data/zorgkluis.db"));
        assert_eq!(
            s.master_key_file,
            PathBuf::from("./zorgkluis-data/keys/master.key")
        );
        assert_eq!(s.listen, DEFAULT_LISTEN);
    }

    #[test]
    fn file_then_environment_then_flags() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("z.toml");
        std::fs::write(
            &file,
            "data_dir = \"/from-file\"\nlisten = \"0.0.0.0:1\"\n[audit]\njournal_fsync = true\n",
        )
        .unwrap();
        let vars = HashMap::from([("ZORGKLUIS_LISTEN", "127.0.0.1:2")]);
        let flags = Flags {
            config: Some(file.clone()),
            ..Default::default()
        };
        let s = Settings::resolve(flags, &env(&vars)).unwrap();
        assert_eq!(s.data_dir, PathBuf::from("/from-file"));
        assert_eq!(s.listen, "127.0.0.1:2");
        assert!(s.journal_fsync);
        let flags = Flags {
            config: Some(file),
            listen: Some("127.0.0.1:3".into()),
            data_dir: Some("/from-flag".into()),
            ..Default::default()
        };
        let s = Settings::resolve(flags, &env(&vars)).unwrap();
        assert_eq!(s.listen, "127.0.0.1:3");
        assert_eq!(s.data_dir, PathBuf::from("/from-flag"));
    }

    #[test]
    fn unknown_keys_and_bad_values_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("z.toml");
        std::fs::write(&file, "data_dri = \"/x\"\n").unwrap();
        let flags = Flags {
            config: Some(file),
            ..Default::default()
        };
        assert!(Settings::resolve(flags, &|_| None).is_err());
        let vars = HashMap::from([("ZORGKLUIS_AUDIT_JOURNAL_FSYNC", "maybe")]);
        assert!(Settings::resolve(Flags::default(), &env(&vars)).is_err());
    }

    #[test]
    fn debug_output_hides_database_password() {
        let vars = HashMap::from([("ZORGKLUIS_DATABASE_URL", "postgres://u:pw@h/db")]);
        let s = Settings::resolve(Flags::default(), &env(&vars)).unwrap();
        assert!(!format!("{s:?}").contains("pw@"));
    }
}
