//! API client storage (OAuth 2 / SMART on FHIR): registered clients, access tokens and
//! one-time authorization codes, on both backends with the same runtime queries as the
//! account store.
//!
//! Client secrets, access tokens and authorization codes arrive here already hashed
//! (SHA-256, `zorgkluis_auth::token_hash`) and are stored as given: a copy of the database
//! holds nothing that authenticates.

use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::sql::SqlStore;
use crate::StoreError;

/// A registered API client. `Debug` redacts the secret hash.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientRow {
    /// Client id (public).
    pub id: String,
    /// Name shown on the consent page and in lists.
    pub name: String,
    /// SHA-256 (hex) of the client secret.
    pub secret_hash: String,
    /// `user` (acts as `user_id`) or `system` (acts for `organisation_id`).
    pub kind: String,
    /// The account a user client acts as.
    pub user_id: Option<String>,
    /// The organisation a system client acts for.
    pub organisation_id: Option<String>,
    /// The scopes it may be granted, space-separated.
    pub scopes: String,
    /// Registered redirect URIs, a JSON array of strings.
    pub redirect_uris: String,
    /// Registered (RFC 3339 UTC).
    pub created_at: String,
    /// Revoked (RFC 3339 UTC); `None` while in use.
    pub revoked_at: Option<String>,
}

impl std::fmt::Debug for ClientRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientRow")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("secret_hash", &"<redacted>")
            .field("kind", &self.kind)
            .field("user_id", &self.user_id)
            .field("organisation_id", &self.organisation_id)
            .field("scopes", &self.scopes)
            .field("redirect_uris", &self.redirect_uris)
            .field("created_at", &self.created_at)
            .field("revoked_at", &self.revoked_at)
            .finish()
    }
}

/// An access token, by hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiTokenRow {
    /// SHA-256 (hex) of the token.
    pub token_hash: String,
    /// The client it was issued to.
    pub client_id: String,
    /// The account it acts as (user clients).
    pub user_id: Option<String>,
    /// Granted scopes, space-separated.
    pub scopes: String,
    /// The patient in context of `patient/` scopes.
    pub patient_id: Option<String>,
    /// Valid up to and including this Unix time (seconds).
    pub expires_unix: i64,
    /// Revoked (RFC 3339 UTC).
    pub revoked_at: Option<String>,
    /// Issued (RFC 3339 UTC).
    pub created_at: String,
}

/// A one-time authorization code, by hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthCodeRow {
    /// SHA-256 (hex) of the code.
    pub code_hash: String,
    /// The client it was issued to.
    pub client_id: String,
    /// The account that approved it.
    pub user_id: String,
    /// Approved scopes, space-separated.
    pub scopes: String,
    /// PKCE S256 code challenge.
    pub code_challenge: String,
    /// The redirect URI of the authorization request.
    pub redirect_uri: String,
    /// The patient chosen at authorization time, if any.
    pub patient_id: Option<String>,
    /// Valid up to and including this Unix time (seconds).
    pub expires_unix: i64,
    /// Already exchanged.
    pub used: bool,
}

/// Storage of API clients, tokens and codes. Implemented by [`SqlStore`] on both backends.
#[async_trait]
pub trait ClientStore: Send + Sync {
    /// Inserts a client; an id already stored gives [`StoreError::Duplicate`].
    async fn insert_client(&self, client: &ClientRow) -> Result<(), StoreError>;

    /// All clients (revoked ones too), by creation time then id.
    async fn clients(&self) -> Result<Vec<ClientRow>, StoreError>;

    /// One client (revoked or not).
    async fn client(&self, id: &str) -> Result<Option<ClientRow>, StoreError>;

    /// Revokes a client; `false` if there is no such client or it was already revoked.
    async fn revoke_client(&self, id: &str, now: &str) -> Result<bool, StoreError>;

    /// Inserts an access token; a hash already stored gives [`StoreError::Duplicate`].
    async fn insert_token(&self, token: &ApiTokenRow) -> Result<(), StoreError>;

    /// An access token (revoked or expired ones too).
    async fn token(&self, token_hash: &str) -> Result<Option<ApiTokenRow>, StoreError>;

    /// Revokes a token; `false` if there is no such token or it was already revoked.
    async fn revoke_token(&self, token_hash: &str, now: &str) -> Result<bool, StoreError>;

    /// Revokes every not yet revoked token of a client; returns how many.
    async fn revoke_client_tokens(&self, client_id: &str, now: &str) -> Result<u64, StoreError>;

    /// Inserts an authorization code; a hash already stored gives [`StoreError::Duplicate`].
    async fn insert_code(&self, code: &OAuthCodeRow) -> Result<(), StoreError>;

    /// Takes a code: marks it used in one statement and returns it, or `None` if there is
    /// no such code, it was used before, or it expired before `now_unix`. Of concurrent
    /// callers at most one gets it.
    async fn take_code(
        &self,
        code_hash: &str,
        now_unix: i64,
    ) -> Result<Option<OAuthCodeRow>, StoreError>;
}

const CLIENT_COLUMNS: &str = "id, name, secret_hash, kind, user_id, organisation_id, scopes, \
     redirect_uris, created_at, revoked_at";

const TOKEN_COLUMNS: &str =
    "token_hash, client_id, user_id, scopes, patient_id, expires_unix, revoked_at, created_at";

const CODE_COLUMNS: &str = "code_hash, client_id, user_id, scopes, code_challenge, redirect_uri, \
     patient_id, expires_unix, used";

fn insert_error(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Duplicate,
        _ => e.into(),
    }
}

fn client_row(row: &AnyRow) -> Result<ClientRow, sqlx::Error> {
    Ok(ClientRow {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        secret_hash: row.try_get("secret_hash")?,
        kind: row.try_get("kind")?,
        user_id: row.try_get("user_id")?,
        organisation_id: row.try_get("organisation_id")?,
        scopes: row.try_get("scopes")?,
        redirect_uris: row.try_get("redirect_uris")?,
        created_at: row.try_get("created_at")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}

fn token_row(row: &AnyRow) -> Result<ApiTokenRow, sqlx::Error> {
    Ok(ApiTokenRow {
        token_hash: row.try_get("token_hash")?,
        client_id: row.try_get("client_id")?,
        user_id: row.try_get("user_id")?,
        scopes: row.try_get("scopes")?,
        patient_id: row.try_get("patient_id")?,
        expires_unix: row.try_get("expires_unix")?,
        revoked_at: row.try_get("revoked_at")?,
        created_at: row.try_get("created_at")?,
    })
}

fn code_row(row: &AnyRow) -> Result<OAuthCodeRow, sqlx::Error> {
    Ok(OAuthCodeRow {
        code_hash: row.try_get("code_hash")?,
        client_id: row.try_get("client_id")?,
        user_id: row.try_get("user_id")?,
        scopes: row.try_get("scopes")?,
        code_challenge: row.try_get("code_challenge")?,
        redirect_uri: row.try_get("redirect_uri")?,
        patient_id: row.try_get("patient_id")?,
        expires_unix: row.try_get("expires_unix")?,
        used: row.try_get::<i64, _>("used")? != 0,
    })
}

#[async_trait]
impl ClientStore for SqlStore {
    async fn insert_client(&self, c: &ClientRow) -> Result<(), StoreError> {
        sqlx::query(&format!(
            "INSERT INTO api_clients ({CLIENT_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        ))
        .bind(&c.id)
        .bind(&c.name)
        .bind(&c.secret_hash)
        .bind(&c.kind)
        .bind(&c.user_id)
        .bind(&c.organisation_id)
        .bind(&c.scopes)
        .bind(&c.redirect_uris)
        .bind(&c.created_at)
        .bind(&c.revoked_at)
        .execute(self.pool())
        .await
        .map_err(insert_error)?;
        Ok(())
    }

    async fn clients(&self) -> Result<Vec<ClientRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {CLIENT_COLUMNS} FROM api_clients ORDER BY created_at, id"
        ))
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| client_row(r).map_err(StoreError::from))
            .collect()
    }

    async fn client(&self, id: &str) -> Result<Option<ClientRow>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {CLIENT_COLUMNS} FROM api_clients WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.as_ref().map(client_row).transpose()?)
    }

    async fn revoke_client(&self, id: &str, now: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE api_clients SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
        )
        .bind(id)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn insert_token(&self, t: &ApiTokenRow) -> Result<(), StoreError> {
        sqlx::query(&format!(
            "INSERT INTO api_tokens ({TOKEN_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        ))
        .bind(&t.token_hash)
        .bind(&t.client_id)
        .bind(&t.user_id)
        .bind(&t.scopes)
        .bind(&t.patient_id)
        .bind(t.expires_unix)
        .bind(&t.revoked_at)
        .bind(&t.created_at)
        .execute(self.pool())
        .await
        .map_err(insert_error)?;
        Ok(())
    }

    async fn token(&self, token_hash: &str) -> Result<Option<ApiTokenRow>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE token_hash = $1"
        ))
        .bind(token_hash)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.as_ref().map(token_row).transpose()?)
    }

    async fn revoke_token(&self, token_hash: &str, now: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE api_tokens SET revoked_at = $2 WHERE token_hash = $1 AND revoked_at IS NULL",
        )
        .bind(token_hash)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn revoke_client_tokens(&self, client_id: &str, now: &str) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE api_tokens SET revoked_at = $2 WHERE client_id = $1 AND revoked_at IS NULL",
        )
        .bind(client_id)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected())
    }

    async fn insert_code(&self, c: &OAuthCodeRow) -> Result<(), StoreError> {
        sqlx::query(&format!(
            "INSERT INTO oauth_codes ({CODE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        ))
        .bind(&c.code_hash)
        .bind(&c.client_id)
        .bind(&c.user_id)
        .bind(&c.scopes)
        .bind(&c.code_challenge)
        .bind(&c.redirect_uri)
        .bind(&c.patient_id)
        .bind(c.expires_unix)
        .bind(i64::from(c.used))
        .execute(self.pool())
        .await
        .map_err(insert_error)?;
        Ok(())
    }

    async fn take_code(
        &self,
        code_hash: &str,
        now_unix: i64,
    ) -> Result<Option<OAuthCodeRow>, StoreError> {
        // The conditional update is the claim: only one caller sees a row change.
        let claimed = sqlx::query(
            "UPDATE oauth_codes SET used = 1 \
             WHERE code_hash = $1 AND used = 0 AND expires_unix >= $2",
        )
        .bind(code_hash)
        .bind(now_unix)
        .execute(self.pool())
        .await?;
        if claimed.rows_affected() != 1 {
            return Ok(None);
        }
        let row = sqlx::query(&format!(
            "SELECT {CODE_COLUMNS} FROM oauth_codes WHERE code_hash = $1"
        ))
        .bind(code_hash)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.as_ref().map(code_row).transpose()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_debug_redacts_the_secret_hash() {
        let c = ClientRow {
            id: "c".into(),
            name: "n".into(),
            secret_hash: "deadbeef".into(),
            kind: "system".into(),
            user_id: None,
            organisation_id: Some("org".into()),
            scopes: "system/*.read".into(),
            redirect_uris: "[]".into(),
            created_at: "2026-01-01T00:00:00Z".into(),
            revoked_at: None,
        };
        assert!(!format!("{c:?}").contains("deadbeef"));
    }

    fn code(hash: &str, expires_unix: i64) -> OAuthCodeRow {
        OAuthCodeRow {
            code_hash: hash.into(),
            client_id: "c1".into(),
            user_id: "u1".into(),
            scopes: "patient/*.read".into(),
            code_challenge: "challenge".into(),
            redirect_uri: "https://app.example/cb".into(),
            patient_id: Some("p1".into()),
            expires_unix,
            used: false,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn clients_tokens_and_one_time_codes_on_every_backend() {
        for db in zorgkluis_testkit::all_backends().await {
            let store = crate::open(&db.url).await.unwrap();
            let client = ClientRow {
                id: "c1".into(),
                name: "Huisartsapp".into(),
                secret_hash: "h".into(),
                kind: "user".into(),
                user_id: Some("u1".into()),
                organisation_id: None,
                scopes: "patient/*.read".into(),
                redirect_uris: r#"["https://app.example/cb"]"#.into(),
                created_at: "2026-11-23T05:00:00Z".into(),
                revoked_at: None,
            };
            store.insert_client(&client).await.unwrap();
            assert!(matches!(
                store.insert_client(&client).await,
                Err(StoreError::Duplicate)
            ));
            assert_eq!(store.client("c1").await.unwrap(), Some(client.clone()));
            assert_eq!(store.clients().await.unwrap().len(), 1);

            let token = ApiTokenRow {
                token_hash: "t1".into(),
                client_id: "c1".into(),
                user_id: Some("u1".into()),
                scopes: "patient/*.read".into(),
                patient_id: Some("p1".into()),
                expires_unix: 100,
                revoked_at: None,
                created_at: "2026-11-23T05:00:00Z".into(),
            };
            store.insert_token(&token).await.unwrap();
            store
                .insert_token(&ApiTokenRow {
                    token_hash: "t2".into(),
                    ..token.clone()
                })
                .await
                .unwrap();
            assert_eq!(store.token("t1").await.unwrap(), Some(token));
            assert!(store.revoke_token("t1", "now").await.unwrap());
            assert!(!store.revoke_token("t1", "now").await.unwrap());
            assert_eq!(store.revoke_client_tokens("c1", "now").await.unwrap(), 1);
            assert!(store
                .token("t2")
                .await
                .unwrap()
                .unwrap()
                .revoked_at
                .is_some());
            assert!(store.revoke_client("c1", "now").await.unwrap());
            assert!(!store.revoke_client("c1", "now").await.unwrap());

            store.insert_code(&code("k1", 100)).await.unwrap();
            store.insert_code(&code("k2", 50)).await.unwrap();
            let taken = store.take_code("k1", 100).await.unwrap().unwrap();
            assert!(taken.used);
            assert_eq!(taken.patient_id.as_deref(), Some("p1"));
            assert_eq!(store.take_code("k1", 100).await.unwrap(), None, "used once");
            assert_eq!(store.take_code("k2", 51).await.unwrap(), None, "expired");
            assert_eq!(store.take_code("nope", 0).await.unwrap(), None);
            crate::Store::close(&store).await;
        }
    }
}
