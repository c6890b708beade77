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
            (
                "0003_accounts",
                include_str!("../migrations/sqlite/0003_accounts.sql"),
            ),
            (
                "0004_version_category",
                include_str!("../migrations/sqlite/0004_version_category.sql"),
            ),
            (
                "0005_personal_note_locks",
                include_str!("../migrations/sqlite/0005_personal_note_locks.sql"),
            ),
            (
                "0006_api_clients",
                include_str!("../migrations/sqlite/0006_api_clients.sql"),
            ),
            (
                "0007_type_history_index",
                include_str!("../migrations/sqlite/0007_type_history_index.sql"),
            ),
            (
                "0008_reference_search_index",
                include_str!("../migrations/sqlite/0008_reference_search_index.sql"),
            ),
            (
                "0010_audit_user_patient_index",
                include_str!("../migrations/sqlite/0010_audit_user_patient_index.sql"),
            ),
            (
                "0011_audit_event_id_not_indexed",
                include_str!("../migrations/sqlite/0011_audit_event_id_not_indexed.sql"),
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
            (
                "0003_accounts",
                include_str!("../migrations/postgres/0003_accounts.sql"),
            ),
            (
                "0004_version_category",
                include_str!("../migrations/postgres/0004_version_category.sql"),
            ),
            (
                "0005_personal_note_locks",
                include_str!("../migrations/postgres/0005_personal_note_locks.sql"),
            ),
            (
                "0006_api_clients",
                include_str!("../migrations/postgres/0006_api_clients.sql"),
            ),
            (
                "0007_type_history_index",
                include_str!("../migrations/postgres/0007_type_history_index.sql"),
            ),
            (
                "0008_reference_search_index",
                include_str!("../migrations/postgres/0008_reference_search_index.sql"),
            ),
            (
                "0010_audit_user_patient_index",
                include_str!("../migrations/postgres/0010_audit_user_patient_index.sql"),
            ),
            (
                "0011_audit_event_id_not_indexed",
                include_str!("../migrations/postgres/0011_audit_event_id_not_indexed.sql"),
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

    /// The start of a multi-row insert whose failure fails the whole transaction (the
    /// audit fold's). On SQLite `OR FAIL` keeps a failing statement from undoing only its
    /// own rows, so SQLite needs no statement journal for it: without it every page the
    /// insert touched was first copied to that journal (measured: an eighth of the fold's
    /// time). The transaction is rolled back on any error either way.
    pub(crate) fn insert_all_or_nothing(self) -> &'static str {
        match self {
            Self::Sqlite => "INSERT OR FAIL INTO",
            Self::Postgres => "INSERT INTO",
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
