//! Test support: fresh databases on every backend the contract suite runs on.
//!
//! SQLite always runs (a file in a temporary directory). PostgreSQL runs when
//! `ZORGKLUIS_TEST_POSTGRES_URL` points at a server where the user may create databases;
//! every test gets its own database. When the variable is not set the PostgreSQL half is
//! skipped, and said loudly; `.ci/run` always sets it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use sqlx::{Connection, Executor};

/// Environment variable naming the PostgreSQL server for tests.
pub const POSTGRES_ENV: &str = "ZORGKLUIS_TEST_POSTGRES_URL";

/// A fresh, empty database for one test, removed (SQLite) when dropped.
pub struct TestDb {
    /// `SQLite` or `PostgreSQL`.
    pub backend: &'static str,
    /// URL to open it.
    pub url: String,
    /// A data directory for the test (key store, journal).
    pub dir: tempfile::TempDir,
}

impl TestDb {
    /// The data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }
}

/// A fresh SQLite database.
pub fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("zorgkluis.db").display()
    );
    TestDb {
        backend: "SQLite",
        url,
        dir,
    }
}

/// A fresh PostgreSQL database, or `None` (with a loud message) when no server is configured.
pub async fn postgres() -> Option<TestDb> {
    let Ok(base) = std::env::var(POSTGRES_ENV) else {
        eprintln!(
            "\n*** SKIPPED the PostgreSQL half of this test: {POSTGRES_ENV} is not set. \
             .ci/run sets it; set it locally to run the suite on PostgreSQL too. ***\n"
        );
        return None;
    };
    let name = format!("zk_test_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(&base)
        .await
        .unwrap_or_else(|e| panic!("{POSTGRES_ENV} is set but PostgreSQL is not reachable: {e}"));
    admin
        .execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .expect("create test database");
    admin.close().await.ok();
    let url = match base.rfind('/') {
        Some(slash) if base[..slash].contains("://") && slash > base.find("://").unwrap() + 2 => {
            let (head, tail) = base.split_at(slash);
            let query = tail.find('?').map(|q| &tail[q..]).unwrap_or("");
            format!("{head}/{name}{query}")
        }
        _ => format!("{base}/{name}"),
    };
    Some(TestDb {
        backend: "PostgreSQL",
        url,
        dir: tempfile::tempdir().unwrap(),
    })
}

/// Fresh databases on every available backend: SQLite always, PostgreSQL when configured.
pub async fn all_backends() -> Vec<TestDb> {
    let mut out = vec![sqlite()];
    out.extend(postgres().await);
    out
}
