//! The SQL implementation of [`Store`], shared by SQLite and PostgreSQL through sqlx's
//! `Any` driver with runtime queries. Backend differences live in [`Dialect`] and in the
//! per-backend migrations.

use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Once;

use async_trait::async_trait;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions, AnyRow};
use sqlx::{AnyConnection, AnyPool, ConnectOptions, Connection, Executor, Row};
use tokio::sync::Mutex;
use zorgkluis_audit::{
    checkpoint_message, AuditEvent, ChainHead, ChainedEvent, Checkpoint, EventKeys, Link,
};
use zorgkluis_crypto::{AuditSigner, WrappedKey};

use crate::dialect::{migrations, Dialect};
use crate::rows::*;
use crate::{JobError, Store, StoreError};

/// `(resource type, id, patient)` of an index row.
type Owner = (String, String, Option<String>);
type TokenRow = (String, Option<String>, String);
type DateRow = (String, i64, i64);
type RefRow = (String, String, String);
type BlindRow = (String, Vec<u8>);

/// Rows a job writes, collected so that they go out in multi-row statements.
#[derive(Default)]
struct JobBuffer {
    live_keys: std::collections::HashSet<String>,
    versions: Vec<VersionRow>,
    tokens: Vec<(Owner, TokenRow)>,
    dates: Vec<(Owner, DateRow)>,
    refs: Vec<(Owner, RefRow)>,
    blind: Vec<(Owner, BlindRow)>,
}

/// Events after which a checkpoint is signed at the latest.
const CHECKPOINT_EVERY_EVENTS: i64 = 1000;
/// Seconds after which a checkpoint is signed when anything was chained.
const CHECKPOINT_EVERY_SECONDS: i64 = 5;

/// How long the writer waits for a lost connection's check or a new connection.
const RECONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);
/// How long a request waits for a pooled connection (sqlx's default is 30 s). While the
/// database is unreachable (restarting, say) requests wait this long for it to come back
/// and then fail (503 with `Retry-After` at the HTTP API) instead of hanging.
const POOL_ACQUIRE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Every SQLite connection's settings. Besides durability and safety (WAL, `NORMAL`
/// syncs at checkpoints, secure delete, foreign keys): the writer checkpoints the WAL every
/// 8,000 pages (32 MiB) instead of every 1,000, so index pages that every audit fold
/// touches again are copied into the database file once per checkpoint rather than once per
/// fold; and temporary files, which include the sub-journal each job's `SAVEPOINT` copies
/// the pages it changes to, stay in memory instead of spilling to a file. Measured on this
/// machine (BENCHMARKS.md): the audit fold's fill rate from about 30,000 to about 39,000
/// events/s together with `INSERT OR FAIL` (see [`Dialect::insert_all_or_nothing`]); the
/// import of ../shared/data from 5.5 to 5.0 s.
const SQLITE_PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
     PRAGMA busy_timeout = 15000; PRAGMA secure_delete = ON; PRAGMA foreign_keys = ON; \
     PRAGMA cache_size = -32000; PRAGMA wal_autocheckpoint = 8000; PRAGMA temp_store = MEMORY;";

/// The page cache of each reading connection (KiB). Small on purpose: in WAL mode SQLite
/// discards a connection's whole page cache whenever another connection has committed, so
/// with a write or an audit fold every second a large cache is refilled and thrown away
/// again. The operating system's file cache keeps the pages anyway. 8 MiB instead of
/// 32 MiB per connection lowered the server's peak RSS under the HTTP read workload from
/// about 320 to about 200 MiB at the same throughput (BENCHMARKS.md). The writer keeps the
/// larger cache: it is the connection that commits, so its cache stays valid.
const SQLITE_READER_CACHE: &str = "PRAGMA cache_size = -8000;";

/// The vault's SQL store.
pub struct SqlStore {
    dialect: Dialect,
    pool: AnyPool,
    /// How to connect: the writer connects again after losing its connection.
    options: AnyConnectOptions,
    /// The writer's own connection; `None` once closed.
    writer: Mutex<Option<AnyConnection>>,
    /// The writer's connection was lost and could not be replaced yet (changed only while
    /// `writer` is locked).
    writer_lost: AtomicBool,
}

impl std::fmt::Debug for SqlStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SqlStore({})", self.dialect.name())
    }
}

static DRIVERS: Once = Once::new();

const VERSION_COLUMNS: &str = "v.resource_type, v.id, v.version, v.patient_id, v.key_id, \
     v.last_updated, v.deleted, v.body, k.key_id, k.patient_id, k.master_key_id, k.wrapped, k.shredded_at, \
     v.category";

fn db(e: sqlx::Error) -> JobError {
    JobError::Database(e.to_string())
}

fn read_row(row: &AnyRow) -> Result<ReadRow, sqlx::Error> {
    let key_id: Option<String> = row.try_get(8)?;
    let key = match key_id {
        Some(key_id) => Some(KeyRow {
            key_id,
            patient_id: row.try_get(9)?,
            wrapped: wrapped(row.try_get(10)?, row.try_get(11)?),
            shredded_at: row.try_get(12)?,
        }),
        None => None,
    };
    Ok(ReadRow {
        version: VersionRow {
            resource_type: row.try_get(0)?,
            id: row.try_get(1)?,
            version: row.try_get(2)?,
            patient_id: row.try_get(3)?,
            key_id: row.try_get(4)?,
            last_updated: row.try_get(5)?,
            deleted: row.try_get::<i64, _>(6)? != 0,
            body: row.try_get(7)?,
            category: row.try_get(13)?,
        },
        key,
    })
}

fn wrapped(master: Option<String>, bytes: Option<Vec<u8>>) -> Option<WrappedKey> {
    match (master, bytes) {
        (Some(master_key_id), Some(bytes)) => Some(WrappedKey {
            master_key_id,
            bytes,
        }),
        _ => None,
    }
}

fn hash32(v: Vec<u8>) -> Result<[u8; 32], StoreError> {
    v.try_into()
        .map_err(|_| StoreError::Corrupt("audit hash is not 32 bytes".into()))
}

fn chained_row(row: &AnyRow) -> Result<ChainedEvent, StoreError> {
    Ok(ChainedEvent {
        seq: row.try_get(0)?,
        event_id: row.try_get(1)?,
        occurred_at: row.try_get(2)?,
        patient_id: row.try_get(3)?,
        user_id: row.try_get(4)?,
        code: row.try_get(5)?,
        outcome: row.try_get(6)?,
        payload: row.try_get(7)?,
        prev_hash: hash32(row.try_get(8)?)?,
        hash: hash32(row.try_get(9)?)?,
    })
}

const AUDIT_COLUMNS: &str =
    "seq, event_id, occurred_at, patient_id, user_id, code, outcome, payload, prev_hash, hash";

/// `($1, …, $n), ($n+1, …)`: placeholders for `rows` rows of `cols` columns.
fn values_clause(rows: usize, cols: usize) -> String {
    let mut s = String::with_capacity(rows * cols * 5);
    for r in 0..rows {
        if r > 0 {
            s.push_str(", ");
        }
        s.push('(');
        for c in 0..cols {
            if c > 0 {
                s.push_str(", ");
            }
            s.push('$');
            s.push_str(&(r * cols + c + 1).to_string());
        }
        s.push(')');
    }
    s
}

/// Splits `n` rows into chunks of fixed sizes, so that few distinct statements are
/// prepared (and cached) whatever the batch size.
fn chunk_sizes(mut n: usize) -> Vec<usize> {
    let mut out = Vec::new();
    for size in [64, 16, 4, 1] {
        while n >= size {
            out.push(size);
            n -= size;
        }
    }
    out
}

/// `(?, …, ?), (?, …)`: anonymous placeholders (SQLite) for `rows` rows of `cols` columns.
fn anonymous_values_clause(rows: usize, cols: usize) -> String {
    let row = format!("({})", vec!["?"; cols].join(", "));
    vec![row; rows].join(", ")
}

/// Chunks for the audit fold: larger than [`chunk_sizes`], as a fold chains thousands of
/// events at once.
fn event_chunk_sizes(mut n: usize) -> Vec<usize> {
    let mut out = Vec::new();
    for size in [512, 64, 8, 1] {
        while n >= size {
            out.push(size);
            n -= size;
        }
    }
    out
}

fn seconds_between(earlier: &str, later: &str) -> i64 {
    use time::format_description::well_known::Rfc3339;
    match (
        time::OffsetDateTime::parse(earlier, &Rfc3339),
        time::OffsetDateTime::parse(later, &Rfc3339),
    ) {
        (Ok(a), Ok(b)) => (b - a).whole_seconds(),
        _ => i64::MAX,
    }
}

impl SqlStore {
    /// The connection pool (for the account queries).
    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Connects to `url`, prepares SQLite (WAL) and runs migrations.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        DRIVERS.call_once(sqlx::any::install_default_drivers);
        let dialect = Dialect::from_url(url).ok_or(StoreError::Url)?;
        let options = AnyConnectOptions::from_str(url)
            .map_err(|_| StoreError::Url)?
            .disable_statement_logging();
        let mut writer = writer_connection(&options, dialect).await?;
        migrate(&mut writer, dialect).await?;
        let pool = AnyPoolOptions::new()
            .max_connections(match dialect {
                Dialect::Sqlite => 4,
                Dialect::Postgres => 8,
            })
            .min_connections(1)
            .acquire_timeout(POOL_ACQUIRE_TIMEOUT)
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if dialect == Dialect::Sqlite {
                        conn.execute(SQLITE_PRAGMAS).await?;
                        conn.execute(SQLITE_READER_CACHE).await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options.clone())
            .await?;
        Ok(Self {
            dialect,
            pool,
            options,
            writer: Mutex::new(Some(writer)),
            writer_lost: AtomicBool::new(false),
        })
    }

    /// Replaces the writer's lost connection (the database restarted, the network failed),
    /// so that writing resumes by itself once the database is back. Returns whether it is
    /// connected; when not, the next commit tries again first.
    async fn connect_again(&self, conn: &mut AnyConnection) -> bool {
        let fresh = tokio::time::timeout(
            RECONNECT_TIMEOUT,
            writer_connection(&self.options, self.dialect),
        )
        .await;
        let connected = match fresh {
            Ok(Ok(fresh)) => {
                tracing::warn!("the writer's database connection was lost; connected again");
                *conn = fresh;
                true
            }
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "the writer's database connection was lost; cannot connect yet");
                false
            }
            Err(_) => {
                tracing::warn!("the writer's database connection was lost; connecting timed out");
                false
            }
        };
        self.writer_lost.store(!connected, Ordering::Relaxed);
        connected
    }

    async fn apply(
        &self,
        conn: &mut AnyConnection,
        op: &WriteOp,
        now: &str,
        buf: &mut JobBuffer,
    ) -> Result<(), JobError> {
        match op {
            WriteOp::EnsureKey {
                key_id,
                patient_id,
                wrapped,
            } => {
                sqlx::query(
                    "INSERT INTO data_keys (key_id, patient_id, master_key_id, wrapped, created_at) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (key_id) DO NOTHING",
                )
                .bind(key_id)
                .bind(patient_id)
                .bind(&wrapped.master_key_id)
                .bind(&wrapped.bytes)
                .bind(now)
                .execute(&mut *conn)
                .await
                .map_err(db)?;
                // Another writer may have created the key first: bodies sealed with ours
                // would be unreadable, so the job must be redone with the stored key.
                let stored: Option<Vec<u8>> =
                    sqlx::query_scalar("SELECT wrapped FROM data_keys WHERE key_id = $1")
                        .bind(key_id)
                        .fetch_optional(&mut *conn)
                        .await
                        .map_err(db)?
                        .flatten();
                if stored.as_deref() != Some(wrapped.bytes.as_slice()) {
                    return Err(JobError::KeyRace(key_id.clone()));
                }
                Ok(())
            }
            WriteOp::PutVersion {
                row,
                expected_current,
                index,
            } => {
                self.put_version(conn, row, *expected_current, index, buf)
                    .await
            }
            WriteOp::ShredKey { key_id, patient_id } => {
                sqlx::query(
                    "UPDATE data_keys SET wrapped = NULL, master_key_id = NULL, shredded_at = $2 \
                     WHERE key_id = $1",
                )
                .bind(key_id)
                .bind(now)
                .execute(&mut *conn)
                .await
                .map_err(db)?;
                for table in ["idx_token", "idx_date", "idx_ref", "idx_blind"] {
                    sqlx::query(&format!(
                        "DELETE FROM {table} WHERE (resource_type, id) IN \
                         (SELECT resource_type, id FROM resources WHERE patient_id = $1)"
                    ))
                    .bind(patient_id)
                    .execute(&mut *conn)
                    .await
                    .map_err(db)?;
                }
                Ok(())
            }
            WriteOp::Rewrap { keys } => {
                for (key_id, w) in keys {
                    sqlx::query(
                        "UPDATE data_keys SET wrapped = $2, master_key_id = $3 \
                         WHERE key_id = $1 AND wrapped IS NOT NULL",
                    )
                    .bind(key_id)
                    .bind(&w.bytes)
                    .bind(&w.master_key_id)
                    .execute(&mut *conn)
                    .await
                    .map_err(db)?;
                }
                Ok(())
            }
            WriteOp::SetMeta { name, value } => {
                sqlx::query(
                    "INSERT INTO meta (name, value) VALUES ($1, $2) \
                     ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                )
                .bind(name)
                .bind(value)
                .execute(&mut *conn)
                .await
                .map_err(db)?;
                Ok(())
            }
        }
    }

    async fn put_version(
        &self,
        conn: &mut AnyConnection,
        row: &VersionRow,
        expected: Option<i64>,
        index: &IndexRows,
        buf: &mut JobBuffer,
    ) -> Result<(), JobError> {
        if !buf.live_keys.contains(&row.key_id) {
            let key_live: Option<i64> = sqlx::query_scalar(
                "SELECT CASE WHEN wrapped IS NULL THEN 0 ELSE 1 END FROM data_keys WHERE key_id = $1",
            )
            .bind(&row.key_id)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db)?;
            if key_live != Some(1) {
                return Err(JobError::KeyUnavailable(row.key_id.clone()));
            }
            buf.live_keys.insert(row.key_id.clone());
        }
        // The version check and the move of the current pointer are one statement: it
        // changes a row only when the current version is the one the writer based on.
        let changed = if row.version != expected.unwrap_or(0) + 1 {
            0
        } else {
            match expected {
                None => sqlx::query(
                    "INSERT INTO resources (resource_type, id, version, patient_id, deleted, last_updated) \
                     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (resource_type, id) DO NOTHING",
                )
                .bind(&row.resource_type)
                .bind(&row.id)
                .bind(row.version)
                .bind(&row.patient_id)
                .bind(i64::from(row.deleted))
                .bind(&row.last_updated)
                .execute(&mut *conn)
                .await
                .map_err(db)?
                .rows_affected(),
                Some(base) => sqlx::query(
                    "UPDATE resources SET version = $3, patient_id = $4, deleted = $5, last_updated = $6 \
                     WHERE resource_type = $1 AND id = $2 AND version = $7",
                )
                .bind(&row.resource_type)
                .bind(&row.id)
                .bind(row.version)
                .bind(&row.patient_id)
                .bind(i64::from(row.deleted))
                .bind(&row.last_updated)
                .bind(base)
                .execute(&mut *conn)
                .await
                .map_err(db)?
                .rows_affected(),
            }
        };
        if changed != 1 {
            let found: Option<i64> = sqlx::query_scalar(
                "SELECT version FROM resources WHERE resource_type = $1 AND id = $2",
            )
            .bind(&row.resource_type)
            .bind(&row.id)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db)?;
            return Err(JobError::Conflict {
                resource: format!("{}/{}", row.resource_type, row.id),
                expected,
                found,
            });
        }
        if expected.is_some() {
            for table in ["idx_token", "idx_date", "idx_ref", "idx_blind"] {
                sqlx::query(&format!(
                    "DELETE FROM {table} WHERE resource_type = $1 AND id = $2"
                ))
                .bind(&row.resource_type)
                .bind(&row.id)
                .execute(&mut *conn)
                .await
                .map_err(db)?;
            }
        }
        buf.versions.push(row.clone());
        let owner = || {
            (
                row.resource_type.clone(),
                row.id.clone(),
                row.patient_id.clone(),
            )
        };
        buf.tokens
            .extend(index.tokens.iter().map(|t| (owner(), t.clone())));
        buf.dates
            .extend(index.dates.iter().map(|d| (owner(), d.clone())));
        buf.refs
            .extend(index.refs.iter().map(|r| (owner(), r.clone())));
        buf.blind
            .extend(index.blind.iter().map(|b| (owner(), b.clone())));
        Ok(())
    }

    /// Writes what a job buffered: versions and index rows, in multi-row statements.
    async fn flush(&self, conn: &mut AnyConnection, buf: &mut JobBuffer) -> Result<(), JobError> {
        let versions = std::mem::take(&mut buf.versions);
        let mut offset = 0;
        for size in chunk_sizes(versions.len()) {
            let sql = format!(
                "INSERT INTO resource_versions \
                 (resource_type, id, version, patient_id, key_id, last_updated, deleted, body, category) \
                 VALUES {}",
                values_clause(size, 9)
            );
            let mut q = sqlx::query(&sql);
            for v in &versions[offset..offset + size] {
                q = q
                    .bind(&v.resource_type)
                    .bind(&v.id)
                    .bind(v.version)
                    .bind(&v.patient_id)
                    .bind(&v.key_id)
                    .bind(&v.last_updated)
                    .bind(i64::from(v.deleted))
                    .bind(&v.body)
                    .bind(&v.category);
            }
            q.execute(&mut *conn).await.map_err(db)?;
            offset += size;
        }
        let tokens = std::mem::take(&mut buf.tokens);
        insert_index_rows(conn, "idx_token", "system, code", 6, &tokens, |q, t| {
            q.bind(t.0.clone()).bind(t.1.clone()).bind(t.2.clone())
        })
        .await?;
        let dates = std::mem::take(&mut buf.dates);
        insert_index_rows(conn, "idx_date", "start_s, end_s", 6, &dates, |q, d| {
            q.bind(d.0.clone()).bind(d.1).bind(d.2)
        })
        .await?;
        let refs = std::mem::take(&mut buf.refs);
        insert_index_rows(
            conn,
            "idx_ref",
            "target_type, target_id",
            6,
            &refs,
            |q, r| q.bind(r.0.clone()).bind(r.1.clone()).bind(r.2.clone()),
        )
        .await?;
        let blind = std::mem::take(&mut buf.blind);
        insert_index_rows(conn, "idx_blind", "hash", 5, &blind, |q, b| {
            q.bind(b.0.clone()).bind(b.1.clone())
        })
        .await
    }

    /// Inserts chained events: their links, keys and payloads (borrowed from the batch).
    async fn insert_events(
        &self,
        conn: &mut AnyConnection,
        events: &[(Link, &EventKeys, &str)],
    ) -> Result<(), StoreError> {
        let mut offset = 0;
        for size in event_chunk_sizes(events.len()) {
            // SQLite: anonymous `?` placeholders. sqlx looks up the name of every numbered
            // placeholder with a linear scan, which costs the square of the row count.
            let values = match self.dialect {
                Dialect::Sqlite => anonymous_values_clause(size, 10),
                Dialect::Postgres => values_clause(size, 10),
            };
            let sql = format!(
                "{} audit_events ({AUDIT_COLUMNS}) VALUES {values}",
                self.dialect.insert_all_or_nothing()
            );
            let mut q = sqlx::query(&sql);
            for (link, keys, payload) in &events[offset..offset + size] {
                q = q
                    .bind(link.seq)
                    .bind(keys.event_id.as_str())
                    .bind(keys.occurred_at.as_str())
                    .bind(keys.patient_id.as_deref())
                    .bind(keys.user_id.as_str())
                    .bind(keys.code.as_str())
                    .bind(keys.outcome.as_str())
                    .bind(*payload)
                    .bind(link.prev_hash.to_vec())
                    .bind(link.hash.to_vec());
            }
            q.execute(&mut *conn).await?;
            offset += size;
        }
        Ok(())
    }

    async fn commit_inner(
        &self,
        conn: &mut AnyConnection,
        batch: &Batch,
        signer: &AuditSigner,
        now: &str,
    ) -> Result<Vec<Result<(), JobError>>, StoreError> {
        let head_row = sqlx::query(self.dialect.lock_head())
            .fetch_one(&mut *conn)
            .await?;
        let mut head = ChainHead {
            seq: head_row.try_get(0)?,
            hash: hash32(head_row.try_get(1)?)?,
        };
        // The jobs' events in chain order, serialised here; the folded events are already.
        let mut job_events: Vec<(EventKeys, String)> = Vec::new();
        let mut results = Vec::with_capacity(batch.jobs.len());
        let mut key_change = false;
        let chain = |job_events: &mut Vec<(EventKeys, String)>, events: &[AuditEvent]| {
            job_events.extend(events.iter().map(|e| (e.keys(), e.canonical())));
        };
        for job in &batch.jobs {
            conn.execute("SAVEPOINT job").await?;
            let mut buf = JobBuffer::default();
            let mut outcome = Ok(());
            for op in &job.ops {
                if let Err(e) = self.apply(conn, op, now, &mut buf).await {
                    outcome = Err(e);
                    break;
                }
            }
            if outcome.is_ok() {
                outcome = self.flush(conn, &mut buf).await;
            }
            match outcome {
                Ok(()) => {
                    conn.execute("RELEASE SAVEPOINT job").await?;
                    key_change |= job
                        .ops
                        .iter()
                        .any(|op| matches!(op, WriteOp::ShredKey { .. } | WriteOp::Rewrap { .. }));
                    chain(&mut job_events, &job.events);
                    results.push(Ok(()));
                }
                Err(e) => {
                    conn.execute("ROLLBACK TO SAVEPOINT job").await?;
                    conn.execute("RELEASE SAVEPOINT job").await?;
                    chain(&mut job_events, &job.failure_events);
                    results.push(Err(e));
                }
            }
        }
        if job_events.is_empty() && batch.folded.is_empty() {
            return Ok(results);
        }
        let chained: Vec<(Link, &EventKeys, &str)> = job_events
            .iter()
            .map(|(k, p)| (k, p.as_str()))
            .chain(batch.folded.iter().map(|e| (&e.keys, e.payload.as_str())))
            .map(|(keys, payload)| (head.link(payload), keys, payload))
            .collect();
        self.insert_events(conn, &chained).await?;
        sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
            .bind(head.seq)
            .bind(head.hash.to_vec())
            .execute(&mut *conn)
            .await?;
        let last: Option<AnyRow> =
            sqlx::query("SELECT seq, signed_at FROM audit_checkpoints ORDER BY seq DESC LIMIT 1")
                .fetch_optional(&mut *conn)
                .await?;
        let due = match last {
            None => true,
            Some(r) => {
                let seq: i64 = r.try_get(0)?;
                let at: String = r.try_get(1)?;
                key_change
                    || head.seq - seq >= CHECKPOINT_EVERY_EVENTS
                    || seconds_between(&at, now) >= CHECKPOINT_EVERY_SECONDS
            }
        };
        if due {
            sqlx::query(
                "INSERT INTO audit_checkpoints (seq, hash, key_id, signature, signed_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(head.seq)
            .bind(head.hash.to_vec())
            .bind(signer.id())
            .bind(signer.sign(&checkpoint_message(head.seq, &head.hash)))
            .bind(now)
            .execute(&mut *conn)
            .await?;
        }
        Ok(results)
    }

    async fn fetch_rows(&self, sql: &str, binds: &[&str]) -> Result<Vec<ReadRow>, StoreError> {
        let mut q = sqlx::query(sql);
        for b in binds {
            q = q.bind(*b);
        }
        let rows = q.fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| read_row(r).map_err(StoreError::from))
            .collect()
    }
}

async fn migrate(conn: &mut AnyConnection, dialect: Dialect) -> Result<(), StoreError> {
    if dialect == Dialect::Postgres {
        // One migrating process at a time.
        conn.execute("SELECT pg_advisory_lock(7513)").await?;
    }
    let result = run_migrations(conn, dialect).await;
    if dialect == Dialect::Postgres {
        conn.execute("SELECT pg_advisory_unlock(7513)").await?;
    }
    result
}

async fn run_migrations(conn: &mut AnyConnection, dialect: Dialect) -> Result<(), StoreError> {
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)",
    )
    .await?;
    for (name, sql) in migrations(dialect) {
        let done: Option<String> =
            sqlx::query_scalar("SELECT name FROM schema_migrations WHERE name = $1")
                .bind(*name)
                .fetch_optional(&mut *conn)
                .await?;
        if done.is_some() {
            continue;
        }
        let fail = |e: sqlx::Error| StoreError::Migration((*name).into(), e.to_string());
        conn.execute(dialect.begin()).await.map_err(fail)?;
        let applied = async {
            sqlx::raw_sql(sql).execute(&mut *conn).await?;
            sqlx::query("INSERT INTO schema_migrations (name, applied_at) VALUES ($1, $2)")
                .bind(*name)
                .bind(zorgkluis_domain::clock::rfc3339(
                    time::OffsetDateTime::now_utc(),
                ))
                .execute(&mut *conn)
                .await
        }
        .await;
        match applied {
            Ok(_) => {
                conn.execute("COMMIT").await.map_err(fail)?;
            }
            Err(e) => {
                let _ = conn.execute("ROLLBACK").await;
                return Err(fail(e));
            }
        }
    }
    Ok(())
}

#[async_trait]
impl Store for SqlStore {
    fn dialect(&self) -> Dialect {
        self.dialect
    }

    async fn commit(
        &self,
        batch: &Batch,
        signer: &AuditSigner,
        now: &str,
    ) -> Result<Vec<Result<(), JobError>>, StoreError> {
        let mut guard = self.writer.lock().await;
        let conn = guard
            .as_mut()
            .ok_or_else(|| StoreError::Database("the store is closed".into()))?;
        if self.writer_lost.load(Ordering::Relaxed) && !self.connect_again(conn).await {
            return Err(StoreError::Database(
                "the database cannot be reached".into(),
            ));
        }
        let result = match conn.execute(self.dialect.begin()).await {
            Err(e) => Err(e.into()),
            Ok(_) => match self.commit_inner(conn, batch, signer, now).await {
                Ok(results) => match conn.execute("COMMIT").await {
                    Ok(_) => Ok(results),
                    Err(e) => {
                        let _ = conn.execute("ROLLBACK").await;
                        Err(e.into())
                    }
                },
                Err(e) => {
                    let _ = conn.execute("ROLLBACK").await;
                    Err(e)
                }
            },
        };
        if result.is_err() {
            let alive = matches!(
                tokio::time::timeout(RECONNECT_TIMEOUT, conn.ping()).await,
                Ok(Ok(()))
            );
            if !alive {
                self.connect_again(conn).await;
            }
        }
        result
    }

    async fn read_current(
        &self,
        resource_type: &str,
        id: &str,
    ) -> Result<Option<ReadRow>, StoreError> {
        let sql = format!(
            "SELECT {VERSION_COLUMNS} FROM resources r \
             JOIN resource_versions v ON v.resource_type = r.resource_type AND v.id = r.id AND v.version = r.version \
             LEFT JOIN data_keys k ON k.key_id = v.key_id \
             WHERE r.resource_type = $1 AND r.id = $2"
        );
        Ok(self
            .fetch_rows(&sql, &[resource_type, id])
            .await?
            .into_iter()
            .next())
    }

    async fn read_version(
        &self,
        resource_type: &str,
        id: &str,
        version: i64,
    ) -> Result<Option<ReadRow>, StoreError> {
        let sql = format!(
            "SELECT {VERSION_COLUMNS} FROM resource_versions v \
             LEFT JOIN data_keys k ON k.key_id = v.key_id \
             WHERE v.resource_type = $1 AND v.id = $2 AND v.version = $3"
        );
        let row = sqlx::query(&sql)
            .bind(resource_type)
            .bind(id)
            .bind(version)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| read_row(&r))
            .transpose()
            .map_err(StoreError::from)
    }

    async fn history(&self, resource_type: &str, id: &str) -> Result<Vec<ReadRow>, StoreError> {
        let sql = format!(
            "SELECT {VERSION_COLUMNS} FROM resource_versions v \
             LEFT JOIN data_keys k ON k.key_id = v.key_id \
             WHERE v.resource_type = $1 AND v.id = $2 ORDER BY v.version DESC"
        );
        self.fetch_rows(&sql, &[resource_type, id]).await
    }

    async fn compartment(&self, patient_id: &str) -> Result<Vec<ReadRow>, StoreError> {
        let sql = format!(
            "SELECT {VERSION_COLUMNS} FROM resources r \
             JOIN resource_versions v ON v.resource_type = r.resource_type AND v.id = r.id AND v.version = r.version \
             LEFT JOIN data_keys k ON k.key_id = v.key_id \
             WHERE r.patient_id = $1 AND r.deleted = 0 ORDER BY r.resource_type, r.id"
        );
        self.fetch_rows(&sql, &[patient_id]).await
    }

    async fn read_current_many(
        &self,
        resource_type: &str,
        ids: &[&str],
    ) -> Result<Vec<ReadRow>, StoreError> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let placeholders: Vec<String> =
                (2..=chunk.len() + 1).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT {VERSION_COLUMNS} FROM resources r \
                 JOIN resource_versions v ON v.resource_type = r.resource_type AND v.id = r.id AND v.version = r.version \
                 LEFT JOIN data_keys k ON k.key_id = v.key_id \
                 WHERE r.resource_type = $1 AND r.id IN ({})",
                placeholders.join(", ")
            );
            let mut params = vec![resource_type];
            params.extend_from_slice(chunk);
            out.extend(self.fetch_rows(&sql, &params).await?);
        }
        Ok(out)
    }

    async fn type_history(
        &self,
        resource_type: &str,
        since: Option<&str>,
        limit: i64,
    ) -> Result<Vec<ReadRow>, StoreError> {
        let sql = format!(
            "SELECT {VERSION_COLUMNS} FROM resource_versions v \
             LEFT JOIN data_keys k ON k.key_id = v.key_id \
             WHERE v.resource_type = $1 AND v.last_updated >= $2 \
             ORDER BY v.last_updated DESC, v.id, v.version DESC LIMIT {}",
            limit.max(0)
        );
        self.fetch_rows(&sql, &[resource_type, since.unwrap_or("")])
            .await
    }

    async fn compartment_of_types(
        &self,
        patient_id: &str,
        types: &[&str],
    ) -> Result<Vec<ReadRow>, StoreError> {
        if types.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders: Vec<String> = (2..types.len() + 2).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT {VERSION_COLUMNS} FROM resources r \
             JOIN resource_versions v ON v.resource_type = r.resource_type AND v.id = r.id AND v.version = r.version \
             LEFT JOIN data_keys k ON k.key_id = v.key_id \
             WHERE r.patient_id = $1 AND r.deleted = 0 AND r.resource_type IN ({}) \
             ORDER BY r.resource_type, r.id",
            placeholders.join(", ")
        );
        let mut params = vec![patient_id];
        params.extend_from_slice(types);
        self.fetch_rows(&sql, &params).await
    }

    async fn current_version(
        &self,
        resource_type: &str,
        id: &str,
    ) -> Result<Option<CurrentRow>, StoreError> {
        let row = sqlx::query(
            "SELECT version, deleted, patient_id FROM resources WHERE resource_type = $1 AND id = $2",
        )
        .bind(resource_type)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(CurrentRow {
                version: r.try_get(0)?,
                deleted: r.try_get::<i64, _>(1)? != 0,
                patient_id: r.try_get(2)?,
            })
        })
        .transpose()
    }

    async fn current_versions(
        &self,
        keys: &[(String, String)],
    ) -> Result<std::collections::HashMap<(String, String), CurrentRow>, StoreError> {
        // Grouped by type, so that every lookup uses the primary key (type, id).
        let mut by_type: std::collections::BTreeMap<&str, Vec<&str>> =
            std::collections::BTreeMap::new();
        for (rt, id) in keys {
            by_type.entry(rt.as_str()).or_default().push(id.as_str());
        }
        let mut out = std::collections::HashMap::new();
        for (rt, mut ids) in by_type {
            ids.sort_unstable();
            ids.dedup();
            let mut at = 0;
            for size in chunk_sizes(ids.len()) {
                let chunk = &ids[at..at + size];
                at += size;
                let placeholders: Vec<String> =
                    (2..=chunk.len() + 1).map(|i| format!("${i}")).collect();
                let sql = format!(
                    "SELECT id, version, deleted, patient_id FROM resources \
                     WHERE resource_type = $1 AND id IN ({})",
                    placeholders.join(", ")
                );
                let mut q = sqlx::query(&sql).bind(rt);
                for id in chunk {
                    q = q.bind(*id);
                }
                for r in q.fetch_all(&self.pool).await? {
                    out.insert(
                        (rt.to_owned(), r.try_get::<String, _>(0)?),
                        CurrentRow {
                            version: r.try_get(1)?,
                            deleted: r.try_get::<i64, _>(2)? != 0,
                            patient_id: r.try_get(3)?,
                        },
                    );
                }
            }
        }
        Ok(out)
    }

    async fn data_key(&self, key_id: &str) -> Result<Option<KeyRow>, StoreError> {
        let row = sqlx::query(
            "SELECT key_id, patient_id, master_key_id, wrapped, shredded_at FROM data_keys WHERE key_id = $1",
        )
        .bind(key_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| key_row(&r)).transpose()
    }

    async fn live_data_keys(&self) -> Result<Vec<KeyRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT key_id, patient_id, master_key_id, wrapped, shredded_at FROM data_keys \
             WHERE wrapped IS NOT NULL ORDER BY key_id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(key_row).collect()
    }

    async fn find_blind(
        &self,
        param: &str,
        hash: &[u8],
        resource_type: Option<&str>,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let rows = match resource_type {
            Some(rt) => {
                sqlx::query(
                    "SELECT DISTINCT resource_type, id FROM idx_blind \
                     WHERE param = $1 AND hash = $2 AND resource_type = $3 ORDER BY resource_type, id",
                )
                .bind(param)
                .bind(hash.to_vec())
                .bind(rt)
                .fetch_all(&self.pool)
                .await?
            }
            None => {
                sqlx::query(
                    "SELECT DISTINCT resource_type, id FROM idx_blind \
                     WHERE param = $1 AND hash = $2 ORDER BY resource_type, id",
                )
                .bind(param)
                .bind(hash.to_vec())
                .fetch_all(&self.pool)
                .await?
            }
        };
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }

    async fn search_index(
        &self,
        query: &crate::IndexQuery,
    ) -> Result<Vec<crate::SearchCandidate>, StoreError> {
        self.search_candidates(query).await
    }

    async fn resource_counts(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT resource_type, COUNT(*) FROM resources WHERE deleted = 0 \
             GROUP BY resource_type ORDER BY resource_type",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }

    async fn meta(&self, name: &str) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar("SELECT value FROM meta WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn audit_head(&self) -> Result<ChainHead, StoreError> {
        let row = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
            .fetch_one(&self.pool)
            .await?;
        Ok(ChainHead {
            seq: row.try_get(0)?,
            hash: hash32(row.try_get(1)?)?,
        })
    }

    async fn audit_events(&self, after: i64, limit: i64) -> Result<Vec<ChainedEvent>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {AUDIT_COLUMNS} FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT $2"
        ))
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(chained_row).collect()
    }

    async fn audit_checkpoints(&self) -> Result<Vec<Checkpoint>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, hash, key_id, signature, signed_at FROM audit_checkpoints ORDER BY seq",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Checkpoint {
                    seq: r.try_get(0)?,
                    hash: hash32(r.try_get(1)?)?,
                    key_id: r.try_get(2)?,
                    signature: r.try_get(3)?,
                    signed_at: r.try_get(4)?,
                })
            })
            .collect()
    }

    async fn event_ids_of_user_since(
        &self,
        user_id: &str,
        since: &str,
    ) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT event_id FROM audit_events WHERE user_id = $1 AND occurred_at >= $2",
        )
        .bind(user_id)
        .bind(since)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn audit_for_patient(
        &self,
        patient_id: &str,
        limit: i64,
    ) -> Result<Vec<ChainedEvent>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {AUDIT_COLUMNS} FROM audit_events WHERE patient_id = $1 \
             ORDER BY occurred_at DESC, seq DESC LIMIT $2"
        ))
        .bind(patient_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(chained_row).collect()
    }

    async fn audit_patients_of_user(
        &self,
        user_id: &str,
        since: &str,
        until: &str,
    ) -> Result<Vec<PatientAccessRow>, StoreError> {
        // Read from the index (user_id, occurred_at, seq, patient_id) alone (migration 0010).
        let rows = sqlx::query(
            "SELECT patient_id, COUNT(*), MIN(occurred_at), MAX(occurred_at) FROM audit_events \
             WHERE user_id = $1 AND occurred_at >= $2 AND occurred_at <= $3 AND patient_id IS NOT NULL \
             GROUP BY patient_id ORDER BY patient_id",
        )
        .bind(user_id)
        .bind(since)
        .bind(until_bound(until))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(PatientAccessRow {
                    patient_id: r.try_get(0)?,
                    events: r.try_get(1)?,
                    first: r.try_get(2)?,
                    last: r.try_get(3)?,
                })
            })
            .collect()
    }

    async fn audit_search(
        &self,
        patient_id: Option<&str>,
        user_id: Option<&str>,
        since: Option<&str>,
        until: Option<&str>,
        limit: i64,
    ) -> Result<Vec<ChainedEvent>, StoreError> {
        let mut clauses = Vec::new();
        let mut binds: Vec<String> = Vec::new();
        let mut add = |clause: &str, value: String| {
            binds.push(value);
            clauses.push(clause.replace('?', &format!("${}", binds.len())));
        };
        if let Some(p) = patient_id {
            add("patient_id = ?", p.to_owned());
        }
        if let Some(u) = user_id {
            add("user_id = ?", u.to_owned());
        }
        if let Some(s) = since {
            add("occurred_at >= ?", s.to_owned());
        }
        if let Some(u) = until {
            add("occurred_at <= ?", until_bound(u));
        }
        let filter = if clauses.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", clauses.join(" AND "))
        };
        let sql = format!(
            "SELECT {AUDIT_COLUMNS} FROM audit_events {filter} ORDER BY occurred_at DESC, seq DESC LIMIT ${}",
            binds.len() + 1
        );
        let mut q = sqlx::query(&sql);
        for b in &binds {
            q = q.bind(b);
        }
        let rows = q.bind(limit).fetch_all(&self.pool).await?;
        rows.iter().map(chained_row).collect()
    }

    async fn snapshot(&self, dest: &std::path::Path) -> Result<(), StoreError> {
        if self.dialect != Dialect::Sqlite {
            return Err(StoreError::Unsupported(
                "snapshot: use pg_dump for PostgreSQL",
            ));
        }
        let dest = dest
            .to_str()
            .ok_or_else(|| StoreError::Database("backup path is not valid UTF-8".into()))?;
        sqlx::query("VACUUM INTO $1")
            .bind(dest)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn close(&self) {
        if let Some(mut conn) = self.writer.lock().await.take() {
            if self.dialect == Dialect::Sqlite {
                // Fold the WAL into the database file, so the file alone is complete.
                let _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").await;
            }
            let _ = conn.close().await;
        }
        self.pool.close().await;
    }
}

/// The upper bound of a period, inclusive: a bare date covers the whole day.
fn until_bound(until: &str) -> String {
    if until.len() == 10 {
        format!("{until}T23:59:59.999999999Z")
    } else {
        until.to_owned()
    }
}

/// The writer's connection (SQLite: in WAL mode, with the vault's settings).
async fn writer_connection(
    options: &AnyConnectOptions,
    dialect: Dialect,
) -> Result<AnyConnection, sqlx::Error> {
    let mut conn = options.connect().await?;
    if dialect == Dialect::Sqlite {
        conn.execute(SQLITE_PRAGMAS).await?;
    }
    Ok(conn)
}

fn key_row(r: &AnyRow) -> Result<KeyRow, StoreError> {
    Ok(KeyRow {
        key_id: r.try_get(0)?,
        patient_id: r.try_get(1)?,
        wrapped: wrapped(r.try_get(2)?, r.try_get(3)?),
        shredded_at: r.try_get(4)?,
    })
}

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

/// Inserts index rows `(owner, value)` into `table` in multi-row statements; `bind` binds
/// the columns after the common `resource_type, id, patient_id, param`… of each value.
async fn insert_index_rows<'r, T>(
    conn: &mut AnyConnection,
    table: &str,
    columns: &str,
    width: usize,
    rows: &'r [(Owner, T)],
    bind: impl for<'q> Fn(AnyQuery<'q>, &'r T) -> AnyQuery<'q>,
) -> Result<(), JobError> {
    let mut offset = 0;
    for size in chunk_sizes(rows.len()) {
        let sql = format!(
            "INSERT INTO {table} (resource_type, id, patient_id, param, {columns}) VALUES {}",
            values_clause(size, width)
        );
        let mut q = sqlx::query(&sql);
        for ((rt, id, patient), value) in &rows[offset..offset + size] {
            q = bind(
                q.bind(rt.clone()).bind(id.clone()).bind(patient.clone()),
                value,
            );
        }
        q.execute(&mut *conn).await.map_err(db)?;
        offset += size;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_clause_numbers_placeholders_in_order() {
        assert_eq!(values_clause(2, 2), "($1, $2), ($3, $4)");
    }

    #[test]
    fn anonymous_values_clause_has_one_placeholder_per_value() {
        assert_eq!(anonymous_values_clause(2, 2), "(?, ?), (?, ?)");
        for n in 0..2000 {
            assert_eq!(event_chunk_sizes(n).iter().sum::<usize>(), n);
        }
    }

    #[test]
    fn chunk_sizes_cover_every_row_with_few_shapes() {
        for n in 0..300 {
            let c = chunk_sizes(n);
            assert_eq!(c.iter().sum::<usize>(), n);
            assert!(c.iter().all(|s| [64, 16, 4, 1].contains(s)));
        }
    }
}
