//! Account storage: organisations, users, staff roles, representations, sessions,
//! technical grants and emergency accesses, on both backends through the same runtime
//! queries as the vault (`$1, …` placeholders, booleans as INTEGER 0/1, timestamps as
//! RFC 3339 UTC text).
//!
//! Secrets arrive here already protected (password hashes, hashed recovery codes, a TOTP
//! secret sealed by the caller) and are stored as given.

use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::sql::SqlStore;
use crate::StoreError;

/// An organisation (a practice, a pharmacy, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrganisationRow {
    /// The id of the organisation's Organization resource.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Kind of organisation (e.g. general practice).
    pub kind: String,
    /// Region, if known.
    pub region: Option<String>,
    /// AGB code.
    pub agb: Option<String>,
    /// URA number.
    pub ura: Option<String>,
    /// Age below which parents decide for a patient, if the organisation sets one.
    pub parental_consent_below: Option<i64>,
    /// Settings as JSON (e.g. locum arrangements).
    pub settings: String,
    /// When the row was last written (RFC 3339 UTC).
    pub updated_at: String,
}

/// A user account. `Debug` redacts the credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct UserRow {
    /// User id.
    pub id: String,
    /// Login name; stored lower-cased.
    pub login: String,
    /// Name shown to people.
    pub display_name: String,
    /// `staff`, `patient` or `representative`.
    pub kind: String,
    /// E-mail address.
    pub email: Option<String>,
    /// PHC string of the current password hash; `None` while no password is set.
    pub password_hash: Option<String>,
    /// JSON array of earlier PHC hashes.
    pub password_history: String,
    /// TOTP secret, sealed by the caller.
    pub totp_secret: Option<String>,
    /// Last TOTP time step accepted (against replay).
    pub totp_last_step: Option<i64>,
    /// JSON array of hashes of unused recovery codes.
    pub recovery_codes: String,
    /// The patient this user is (patient accounts).
    pub patient_id: Option<String>,
    /// Whether the account is disabled.
    pub disabled: bool,
    /// When the account was created (RFC 3339 UTC).
    pub created_at: String,
    /// When the account was last changed (RFC 3339 UTC).
    pub updated_at: String,
}

const REDACTED: &str = "<redacted>";

impl std::fmt::Debug for UserRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRow")
            .field("id", &self.id)
            .field("login", &self.login)
            .field("display_name", &self.display_name)
            .field("kind", &self.kind)
            .field("email", &self.email)
            .field(
                "password_hash",
                &self.password_hash.as_ref().map(|_| REDACTED),
            )
            .field("password_history", &REDACTED)
            .field("totp_secret", &self.totp_secret.as_ref().map(|_| REDACTED))
            .field("totp_last_step", &self.totp_last_step)
            .field("recovery_codes", &REDACTED)
            .field("patient_id", &self.patient_id)
            .field("disabled", &self.disabled)
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .finish()
    }
}

/// The role of a staff user in one organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffRoleRow {
    /// The staff user.
    pub user_id: String,
    /// The organisation.
    pub organisation_id: String,
    /// Role name.
    pub role: String,
    /// The user's Practitioner resource id.
    pub practitioner_id: Option<String>,
    /// AGB code.
    pub agb: Option<String>,
    /// BIG registration number.
    pub big: Option<String>,
    /// Rights as JSON; `None` for the role's default rights.
    pub rights: Option<String>,
    /// Version of the confidentiality statement accepted.
    pub confidentiality_version: Option<String>,
    /// When it was accepted (RFC 3339 UTC).
    pub confidentiality_accepted_at: Option<String>,
}

/// A representative user acting for a patient as one of the patient's RelatedPersons.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepresentationRow {
    /// The representative user.
    pub user_id: String,
    /// The patient represented.
    pub patient_id: String,
    /// The RelatedPerson resource id.
    pub related_person_id: String,
}

/// A login session, by hash of its token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    /// Hash of the session token (the token itself is never stored).
    pub token_hash: String,
    /// The user.
    pub user_id: String,
    /// The organisation the user works in during this session.
    pub organisation_id: Option<String>,
    /// Created (RFC 3339 UTC).
    pub created_at: String,
    /// Last request (RFC 3339 UTC).
    pub last_seen_at: String,
    /// Revoked (RFC 3339 UTC); `None` while valid.
    pub revoked_at: Option<String>,
    /// Client address.
    pub address: String,
    /// Client user agent.
    pub user_agent: String,
}

/// A time-limited technical grant of access to one patient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantRow {
    /// Grant id.
    pub id: String,
    /// The user granted access.
    pub user_id: String,
    /// The patient.
    pub patient_id: String,
    /// Why.
    pub reason: String,
    /// Who granted it.
    pub granted_by: String,
    /// When (RFC 3339 UTC).
    pub granted_at: String,
    /// In force up to and including this Unix time (seconds).
    pub until_unix: i64,
}

/// An emergency access (break the glass), to be reviewed afterwards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmergencyRow {
    /// Emergency access id.
    pub id: String,
    /// The user who broke the glass.
    pub user_id: String,
    /// The patient.
    pub patient_id: String,
    /// Why.
    pub reason: String,
    /// When (RFC 3339 UTC).
    pub started_at: String,
    /// In force up to and including this Unix time (seconds).
    pub until_unix: i64,
    /// Reviewer.
    pub reviewed_by: Option<String>,
    /// When reviewed (RFC 3339 UTC); `None` while unreviewed.
    pub reviewed_at: Option<String>,
    /// The reviewer's note.
    pub review_note: Option<String>,
}

/// Storage of accounts. Implemented by [`SqlStore`] on both backends.
#[async_trait]
pub trait AccountStore: Send + Sync {
    /// Inserts or replaces an organisation.
    async fn upsert_organisation(&self, org: &OrganisationRow) -> Result<(), StoreError>;

    /// One organisation.
    async fn organisation(&self, id: &str) -> Result<Option<OrganisationRow>, StoreError>;

    /// All organisations, by name.
    async fn organisations(&self) -> Result<Vec<OrganisationRow>, StoreError>;

    /// Inserts a user; the login is stored lower-cased. A login (or id) already in use
    /// gives [`StoreError::Duplicate`].
    async fn insert_user(&self, user: &UserRow) -> Result<(), StoreError>;

    /// Rewrites every column of the user with this id except `id` and `created_at`; the
    /// login is stored lower-cased. No effect when there is no such user. A login already
    /// used by another user gives [`StoreError::Duplicate`].
    async fn update_user(&self, user: &UserRow) -> Result<(), StoreError>;

    /// The user with this login, compared case-insensitively.
    async fn user_by_login(&self, login: &str) -> Result<Option<UserRow>, StoreError>;

    /// The user with this id.
    async fn user_by_id(&self, id: &str) -> Result<Option<UserRow>, StoreError>;

    /// All users, by login.
    async fn users(&self) -> Result<Vec<UserRow>, StoreError>;

    /// Disables or enables a user and sets `updated_at`; `false` if there is no such user.
    /// Sessions are not touched (see [`AccountStore::revoke_user_sessions`]).
    async fn set_user_disabled(
        &self,
        id: &str,
        disabled: bool,
        now: &str,
    ) -> Result<bool, StoreError>;

    /// Inserts or replaces the role of a user in an organisation.
    async fn upsert_staff_role(&self, role: &StaffRoleRow) -> Result<(), StoreError>;

    /// The roles of a user, by organisation.
    async fn staff_roles(&self, user_id: &str) -> Result<Vec<StaffRoleRow>, StoreError>;

    /// The roles held as this Practitioner, by user then organisation.
    async fn staff_for_practitioner(
        &self,
        practitioner_id: &str,
    ) -> Result<Vec<StaffRoleRow>, StoreError>;

    /// Records a representation; adding it again changes nothing.
    async fn add_representation(&self, rep: &RepresentationRow) -> Result<(), StoreError>;

    /// The representations of a user, by patient then RelatedPerson.
    async fn representations(&self, user_id: &str) -> Result<Vec<RepresentationRow>, StoreError>;

    /// Inserts a session; a token hash already stored gives [`StoreError::Duplicate`].
    async fn insert_session(&self, s: &SessionRow) -> Result<(), StoreError>;

    /// A session (revoked or not).
    async fn session(&self, token_hash: &str) -> Result<Option<SessionRow>, StoreError>;

    /// Sets `last_seen_at` of a session that is not revoked; no effect otherwise.
    async fn touch_session(&self, token_hash: &str, now: &str) -> Result<(), StoreError>;

    /// Revokes a session; `false` if there is no such session or it was already revoked.
    async fn revoke_session(&self, token_hash: &str, now: &str) -> Result<bool, StoreError>;

    /// Revokes every not yet revoked session of a user; returns how many.
    async fn revoke_user_sessions(&self, user_id: &str, now: &str) -> Result<u64, StoreError>;

    /// Inserts a technical grant; an id already stored gives [`StoreError::Duplicate`].
    async fn insert_grant(&self, g: &GrantRow) -> Result<(), StoreError>;

    /// The grants of a user still in force at `now_unix` (`until_unix >= now_unix`), by
    /// grant time.
    async fn grants_for_user(
        &self,
        user_id: &str,
        now_unix: i64,
    ) -> Result<Vec<GrantRow>, StoreError>;

    /// Inserts an emergency access; an id already stored gives [`StoreError::Duplicate`].
    async fn insert_emergency(&self, e: &EmergencyRow) -> Result<(), StoreError>;

    /// Emergency accesses to a patient still in force at `now_unix`
    /// (`until_unix >= now_unix`), by start time.
    async fn emergencies_for_patient(
        &self,
        patient_id: &str,
        now_unix: i64,
    ) -> Result<Vec<EmergencyRow>, StoreError>;

    /// Emergency accesses not yet reviewed, oldest first.
    async fn unreviewed_emergencies(&self) -> Result<Vec<EmergencyRow>, StoreError>;

    /// Records the review of an emergency access; `false` if there is no such access or
    /// it was already reviewed (a review is never overwritten).
    async fn review_emergency(
        &self,
        id: &str,
        reviewer: &str,
        at: &str,
        note: &str,
    ) -> Result<bool, StoreError>;

    /// The lock of a patient's personal notes (HP-4+): their notes key wrapped under a
    /// key derived from the patient's own secret. Opaque to the store.
    async fn note_lock(&self, patient_id: &str) -> Result<Option<String>, StoreError>;

    /// Sets (or replaces) the lock of a patient's personal notes.
    async fn set_note_lock(
        &self,
        patient_id: &str,
        lock: &str,
        now: &str,
    ) -> Result<(), StoreError>;
}

const ORGANISATION_COLUMNS: &str =
    "id, name, kind, region, agb, ura, parental_consent_below, settings, updated_at";

const USER_COLUMNS: &str = "id, login, display_name, kind, email, password_hash, \
     password_history, totp_secret, totp_last_step, recovery_codes, patient_id, disabled, \
     created_at, updated_at";

const STAFF_ROLE_COLUMNS: &str = "user_id, organisation_id, role, practitioner_id, agb, big, \
     rights, confidentiality_version, confidentiality_accepted_at";

const SESSION_COLUMNS: &str = "token_hash, user_id, organisation_id, created_at, last_seen_at, \
     revoked_at, address, user_agent";

const GRANT_COLUMNS: &str = "id, user_id, patient_id, reason, granted_by, granted_at, until_unix";

const EMERGENCY_COLUMNS: &str = "id, user_id, patient_id, reason, started_at, until_unix, \
     reviewed_by, reviewed_at, review_note";

/// Maps a unique-key violation to [`StoreError::Duplicate`].
fn insert_error(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Duplicate,
        _ => e.into(),
    }
}

fn organisation_row(row: &AnyRow) -> Result<OrganisationRow, sqlx::Error> {
    Ok(OrganisationRow {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        kind: row.try_get("kind")?,
        region: row.try_get("region")?,
        agb: row.try_get("agb")?,
        ura: row.try_get("ura")?,
        parental_consent_below: row.try_get("parental_consent_below")?,
        settings: row.try_get("settings")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn user_row(row: &AnyRow) -> Result<UserRow, sqlx::Error> {
    Ok(UserRow {
        id: row.try_get("id")?,
        login: row.try_get("login")?,
        display_name: row.try_get("display_name")?,
        kind: row.try_get("kind")?,
        email: row.try_get("email")?,
        password_hash: row.try_get("password_hash")?,
        password_history: row.try_get("password_history")?,
        totp_secret: row.try_get("totp_secret")?,
        totp_last_step: row.try_get("totp_last_step")?,
        recovery_codes: row.try_get("recovery_codes")?,
        patient_id: row.try_get("patient_id")?,
        disabled: row.try_get::<i64, _>("disabled")? != 0,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn staff_role_row(row: &AnyRow) -> Result<StaffRoleRow, sqlx::Error> {
    Ok(StaffRoleRow {
        user_id: row.try_get("user_id")?,
        organisation_id: row.try_get("organisation_id")?,
        role: row.try_get("role")?,
        practitioner_id: row.try_get("practitioner_id")?,
        agb: row.try_get("agb")?,
        big: row.try_get("big")?,
        rights: row.try_get("rights")?,
        confidentiality_version: row.try_get("confidentiality_version")?,
        confidentiality_accepted_at: row.try_get("confidentiality_accepted_at")?,
    })
}

fn representation_row(row: &AnyRow) -> Result<RepresentationRow, sqlx::Error> {
    Ok(RepresentationRow {
        user_id: row.try_get("user_id")?,
        patient_id: row.try_get("patient_id")?,
        related_person_id: row.try_get("related_person_id")?,
    })
}

fn session_row(row: &AnyRow) -> Result<SessionRow, sqlx::Error> {
    Ok(SessionRow {
        token_hash: row.try_get("token_hash")?,
        user_id: row.try_get("user_id")?,
        organisation_id: row.try_get("organisation_id")?,
        created_at: row.try_get("created_at")?,
        last_seen_at: row.try_get("last_seen_at")?,
        revoked_at: row.try_get("revoked_at")?,
        address: row.try_get("address")?,
        user_agent: row.try_get("user_agent")?,
    })
}

fn grant_row(row: &AnyRow) -> Result<GrantRow, sqlx::Error> {
    Ok(GrantRow {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        patient_id: row.try_get("patient_id")?,
        reason: row.try_get("reason")?,
        granted_by: row.try_get("granted_by")?,
        granted_at: row.try_get("granted_at")?,
        until_unix: row.try_get("until_unix")?,
    })
}

fn emergency_row(row: &AnyRow) -> Result<EmergencyRow, sqlx::Error> {
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

/// Decodes every row with `f`.
fn all<T>(
    rows: Vec<AnyRow>,
    f: fn(&AnyRow) -> Result<T, sqlx::Error>,
) -> Result<Vec<T>, StoreError> {
    rows.iter()
        .map(|r| f(r).map_err(StoreError::from))
        .collect()
}

#[async_trait]
impl AccountStore for SqlStore {
    async fn upsert_organisation(&self, org: &OrganisationRow) -> Result<(), StoreError> {
        sqlx::query(&format!(
            "INSERT INTO organisations ({ORGANISATION_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, kind = excluded.kind, \
             region = excluded.region, agb = excluded.agb, ura = excluded.ura, \
             parental_consent_below = excluded.parental_consent_below, \
             settings = excluded.settings, updated_at = excluded.updated_at"
        ))
        .bind(&org.id)
        .bind(&org.name)
        .bind(&org.kind)
        .bind(&org.region)
        .bind(&org.agb)
        .bind(&org.ura)
        .bind(org.parental_consent_below)
        .bind(&org.settings)
        .bind(&org.updated_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn organisation(&self, id: &str) -> Result<Option<OrganisationRow>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {ORGANISATION_COLUMNS} FROM organisations WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.as_ref().map(organisation_row).transpose()?)
    }

    async fn organisations(&self) -> Result<Vec<OrganisationRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {ORGANISATION_COLUMNS} FROM organisations ORDER BY name, id"
        ))
        .fetch_all(self.pool())
        .await?;
        all(rows, organisation_row)
    }

    async fn insert_user(&self, user: &UserRow) -> Result<(), StoreError> {
        sqlx::query(&format!(
            "INSERT INTO users ({USER_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
        ))
        .bind(&user.id)
        .bind(user.login.to_lowercase())
        .bind(&user.display_name)
        .bind(&user.kind)
        .bind(&user.email)
        .bind(&user.password_hash)
        .bind(&user.password_history)
        .bind(&user.totp_secret)
        .bind(user.totp_last_step)
        .bind(&user.recovery_codes)
        .bind(&user.patient_id)
        .bind(i64::from(user.disabled))
        .bind(&user.created_at)
        .bind(&user.updated_at)
        .execute(self.pool())
        .await
        .map_err(insert_error)?;
        Ok(())
    }

    async fn update_user(&self, user: &UserRow) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE users SET login = $2, display_name = $3, kind = $4, email = $5, \
             password_hash = $6, password_history = $7, totp_secret = $8, totp_last_step = $9, \
             recovery_codes = $10, patient_id = $11, disabled = $12, updated_at = $13 \
             WHERE id = $1",
        )
        .bind(&user.id)
        .bind(user.login.to_lowercase())
        .bind(&user.display_name)
        .bind(&user.kind)
        .bind(&user.email)
        .bind(&user.password_hash)
        .bind(&user.password_history)
        .bind(&user.totp_secret)
        .bind(user.totp_last_step)
        .bind(&user.recovery_codes)
        .bind(&user.patient_id)
        .bind(i64::from(user.disabled))
        .bind(&user.updated_at)
        .execute(self.pool())
        .await
        .map_err(insert_error)?;
        Ok(())
    }

    async fn user_by_login(&self, login: &str) -> Result<Option<UserRow>, StoreError> {
        // Lower-cased here as well as in SQL: SQLite's lower() only knows ASCII, and the
        // stored logins were lower-cased by Rust.
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE login = lower($1)"
        ))
        .bind(login.to_lowercase())
        .fetch_optional(self.pool())
        .await?;
        Ok(row.as_ref().map(user_row).transpose()?)
    }

    async fn user_by_id(&self, id: &str) -> Result<Option<UserRow>, StoreError> {
        let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.as_ref().map(user_row).transpose()?)
    }

    async fn users(&self) -> Result<Vec<UserRow>, StoreError> {
        let rows = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY login"))
            .fetch_all(self.pool())
            .await?;
        all(rows, user_row)
    }

    async fn set_user_disabled(
        &self,
        id: &str,
        disabled: bool,
        now: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE users SET disabled = $2, updated_at = $3 WHERE id = $1")
            .bind(id)
            .bind(i64::from(disabled))
            .bind(now)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn upsert_staff_role(&self, role: &StaffRoleRow) -> Result<(), StoreError> {
        sqlx::query(&format!(
            "INSERT INTO staff_roles ({STAFF_ROLE_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (user_id, organisation_id) DO UPDATE SET role = excluded.role, \
             practitioner_id = excluded.practitioner_id, agb = excluded.agb, big = excluded.big, \
             rights = excluded.rights, confidentiality_version = excluded.confidentiality_version, \
             confidentiality_accepted_at = excluded.confidentiality_accepted_at"
        ))
        .bind(&role.user_id)
        .bind(&role.organisation_id)
        .bind(&role.role)
        .bind(&role.practitioner_id)
        .bind(&role.agb)
        .bind(&role.big)
        .bind(&role.rights)
        .bind(&role.confidentiality_version)
        .bind(&role.confidentiality_accepted_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn staff_roles(&self, user_id: &str) -> Result<Vec<StaffRoleRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {STAFF_ROLE_COLUMNS} FROM staff_roles WHERE user_id = $1 \
             ORDER BY organisation_id"
        ))
        .bind(user_id)
        .fetch_all(self.pool())
        .await?;
        all(rows, staff_role_row)
    }

    async fn staff_for_practitioner(
        &self,
        practitioner_id: &str,
    ) -> Result<Vec<StaffRoleRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {STAFF_ROLE_COLUMNS} FROM staff_roles WHERE practitioner_id = $1 \
             ORDER BY user_id, organisation_id"
        ))
        .bind(practitioner_id)
        .fetch_all(self.pool())
        .await?;
        all(rows, staff_role_row)
    }

    async fn add_representation(&self, rep: &RepresentationRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO representations (user_id, patient_id, related_person_id) \
             VALUES ($1, $2, $3) ON CONFLICT (user_id, related_person_id) DO NOTHING",
        )
        .bind(&rep.user_id)
        .bind(&rep.patient_id)
        .bind(&rep.related_person_id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn representations(&self, user_id: &str) -> Result<Vec<RepresentationRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT user_id, patient_id, related_person_id FROM representations \
             WHERE user_id = $1 ORDER BY patient_id, related_person_id",
        )
        .bind(user_id)
        .fetch_all(self.pool())
        .await?;
        all(rows, representation_row)
    }

    async fn insert_session(&self, s: &SessionRow) -> Result<(), StoreError> {
        sqlx::query(&format!(
            "INSERT INTO sessions ({SESSION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        ))
        .bind(&s.token_hash)
        .bind(&s.user_id)
        .bind(&s.organisation_id)
        .bind(&s.created_at)
        .bind(&s.last_seen_at)
        .bind(&s.revoked_at)
        .bind(&s.address)
        .bind(&s.user_agent)
        .execute(self.pool())
        .await
        .map_err(insert_error)?;
        Ok(())
    }

    async fn session(&self, token_hash: &str) -> Result<Option<SessionRow>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE token_hash = $1"
        ))
        .bind(token_hash)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.as_ref().map(session_row).transpose()?)
    }

    async fn touch_session(&self, token_hash: &str, now: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE sessions SET last_seen_at = $2 WHERE token_hash = $1 AND revoked_at IS NULL",
        )
        .bind(token_hash)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn revoke_session(&self, token_hash: &str, now: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE sessions SET revoked_at = $2 WHERE token_hash = $1 AND revoked_at IS NULL",
        )
        .bind(token_hash)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn revoke_user_sessions(&self, user_id: &str, now: &str) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL",
        )
        .bind(user_id)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected())
    }

    async fn insert_grant(&self, g: &GrantRow) -> Result<(), StoreError> {
        sqlx::query(&format!(
            "INSERT INTO technical_grants ({GRANT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        ))
        .bind(&g.id)
        .bind(&g.user_id)
        .bind(&g.patient_id)
        .bind(&g.reason)
        .bind(&g.granted_by)
        .bind(&g.granted_at)
        .bind(g.until_unix)
        .execute(self.pool())
        .await
        .map_err(insert_error)?;
        Ok(())
    }

    async fn grants_for_user(
        &self,
        user_id: &str,
        now_unix: i64,
    ) -> Result<Vec<GrantRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {GRANT_COLUMNS} FROM technical_grants \
             WHERE user_id = $1 AND until_unix >= $2 ORDER BY granted_at, id"
        ))
        .bind(user_id)
        .bind(now_unix)
        .fetch_all(self.pool())
        .await?;
        all(rows, grant_row)
    }

    async fn insert_emergency(&self, e: &EmergencyRow) -> Result<(), StoreError> {
        sqlx::query(&format!(
            "INSERT INTO emergency_accesses ({EMERGENCY_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        ))
        .bind(&e.id)
        .bind(&e.user_id)
        .bind(&e.patient_id)
        .bind(&e.reason)
        .bind(&e.started_at)
        .bind(e.until_unix)
        .bind(&e.reviewed_by)
        .bind(&e.reviewed_at)
        .bind(&e.review_note)
        .execute(self.pool())
        .await
        .map_err(insert_error)?;
        Ok(())
    }

    async fn emergencies_for_patient(
        &self,
        patient_id: &str,
        now_unix: i64,
    ) -> Result<Vec<EmergencyRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {EMERGENCY_COLUMNS} FROM emergency_accesses \
             WHERE patient_id = $1 AND until_unix >= $2 ORDER BY started_at, id"
        ))
        .bind(patient_id)
        .bind(now_unix)
        .fetch_all(self.pool())
        .await?;
        all(rows, emergency_row)
    }

    async fn unreviewed_emergencies(&self) -> Result<Vec<EmergencyRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {EMERGENCY_COLUMNS} FROM emergency_accesses \
             WHERE reviewed_at IS NULL ORDER BY started_at, id"
        ))
        .fetch_all(self.pool())
        .await?;
        all(rows, emergency_row)
    }

    async fn review_emergency(
        &self,
        id: &str,
        reviewer: &str,
        at: &str,
        note: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE emergency_accesses SET reviewed_by = $2, reviewed_at = $3, review_note = $4 \
             WHERE id = $1 AND reviewed_at IS NULL",
        )
        .bind(id)
        .bind(reviewer)
        .bind(at)
        .bind(note)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn note_lock(&self, patient_id: &str) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT lock FROM personal_note_locks WHERE patient_id = $1")
                .bind(patient_id)
                .fetch_optional(self.pool())
                .await?,
        )
    }

    async fn set_note_lock(
        &self,
        patient_id: &str,
        lock: &str,
        now: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO personal_note_locks (patient_id, lock, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (patient_id) DO UPDATE SET lock = excluded.lock, updated_at = excluded.updated_at",
        )
        .bind(patient_id)
        .bind(lock)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }
}
