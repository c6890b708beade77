//! The privacy officer's review of emergency accesses (break-the-glass): the reviews
//! already done, newest first. The review columns live with the emergency accesses
//! (`0003_accounts.sql`); recording a review is [`AccountStore::review_emergency`].
//!
//! [`AccountStore::review_emergency`]: crate::AccountStore::review_emergency

use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::sql::SqlStore;
use crate::{EmergencyRow, StoreError};

/// Storage of emergency-access reviews. Implemented by [`SqlStore`] on both backends.
#[async_trait]
pub trait ReviewStore: Send + Sync {
    /// Emergency accesses that were reviewed, the most recently reviewed first, at most
    /// `limit`.
    async fn reviewed_emergencies(&self, limit: i64) -> Result<Vec<EmergencyRow>, StoreError>;

    /// One emergency access (reviewed or not).
    async fn emergency(&self, id: &str) -> Result<Option<EmergencyRow>, StoreError>;
}

const COLUMNS: &str = "id, user_id, patient_id, reason, started_at, until_unix, \
     reviewed_by, reviewed_at, review_note";

fn row(row: &AnyRow) -> Result<EmergencyRow, StoreError> {
    Ok(EmergencyRow {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        patient_id: row.try_get("patient_id")?,
        reason: row.try_get("reason")?,
        started_at: row.try_get("started_at")?,
        until_unix: row.try_get("until_unix")?,
        reviewed_by: row.try_get("reviewed_by")?,
        reviewed_at: row.try_get("reviewed_at")?,
        review_note: row.try_get("review_note")?,
    })
}

#[async_trait]
impl ReviewStore for SqlStore {
    async fn reviewed_emergencies(&self, limit: i64) -> Result<Vec<EmergencyRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM emergency_accesses WHERE reviewed_at IS NOT NULL \
             ORDER BY reviewed_at DESC, id DESC LIMIT $1"
        ))
        .bind(limit.max(0))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(row).collect()
    }

    async fn emergency(&self, id: &str) -> Result<Option<EmergencyRow>, StoreError> {
        let found = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM emergency_accesses WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        found.as_ref().map(row).transpose()
    }
}
