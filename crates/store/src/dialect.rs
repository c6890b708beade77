//! What differs between the two backends. Queries use `$1, $2, …` placeholders in order of
//! first use, which both SQLite and PostgreSQL understand.

/// The backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// Embedded SQLite (WAL mode).
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// Migrations, per backend, in order. Released files are never edited.
pub(crate) fn migrations(d: Dialect) -> &'static [(&'static str, &'static str)] {
    match d {
        Dialect::Sqlite => &[
            (
                "0001_vault",
                include_str!("../migrations/sqlite/0001_vault.sql"),
            ),
            (
                "0002_fewer_index_indexes",
                include_str!("../migrations/sqlite/0002_fewer_index_indexes.sql"),
            ),
        ],
        Dialect::Postgres => &[
            (
                "0001_vault",
                include_str!("../migrations/postgres/0001_vault.sql"),
            ),
            (
                "0002_fewer_index_indexes",
                include_str!("../migrations/postgres/0002_fewer_index_indexes.sql"),
            ),
        ],
    }
}

impl Dialect {
    /// From a database URL.
    pub fn from_url(url: &str) -> Option<Self> {
        if url.starts_with("sqlite:") {
            Some(Self::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Self::Postgres)
        } else {
            None
        }
    }

    /// Starts the writer's transaction. SQLite takes the write lock at once, so that
    /// concurrent processes queue instead of failing on lock upgrade.
    pub(crate) fn begin(self) -> &'static str {
        match self {
            Self::Sqlite => "BEGIN IMMEDIATE",
            Self::Postgres => "BEGIN",
        }
    }

    /// Reads the chain head; on PostgreSQL also locks it, which serialises writers of
    /// every process so the chain stays one line.
    pub(crate) fn lock_head(self) -> &'static str {
        match self {
            Self::Sqlite => "SELECT seq, hash FROM audit_head WHERE id = 1",
            Self::Postgres => "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE",
        }
    }

    /// Name for messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "SQLite",
            Self::Postgres => "PostgreSQL",
        }
    }
}
