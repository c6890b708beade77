//! Accounts, login and sessions: who is asking, established from a session token on
//! every request (so that disabling an account or revoking a session takes effect on the
//! next request), and the account operations an administrator performs. Every login,
//! failure, lockout, logout and account change lands in the audit trail (HP-5, CO-8).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use zorgkluis_audit::{EventCode, Outcome};
use zorgkluis_auth::{
    check_password, dummy_verify, find_recovery_code, generate_recovery_codes, hash_password_with,
    hash_recovery_code, new_secret_token, token_hash, verify_password, Argon2Cost, Blocked,
    PasswordContext, PasswordProblem, SessionPolicy, Throttle, TotpSecret,
};
use zorgkluis_domain::{clock::rfc3339, Actor, FunctionalRole};
use zorgkluis_policy::{
    decide, Action, Category, Decision, EmergencyAccess, LocumArrangement, OrgKind, Organisation,
    Period, Principal, Rights, Staff, StaffRole, Target, TechnicalGrant,
};
use zorgkluis_store::{
    EmergencyRow, GrantRow, OrganisationRow, RepresentationRow, SessionRow, StaffRoleRow, UserRow,
};

use crate::events::Object;
use crate::{Vault, VaultError};

/// Version of the confidentiality agreement staff accept before their first access (CO-8).
pub const CONFIDENTIALITY_VERSION: &str = "geheimhoudingsverklaring-2026-01";

/// How long an emergency access (break-the-glass) stays open.
pub const EMERGENCY_MINUTES: i64 = 240;

/// What kind of account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountKind {
    /// A member of staff with a role at an organisation.
    Staff {
        /// Organization id.
        organisation_id: String,
        /// Role there.
        role: StaffRole,
        /// Their Practitioner resource.
        practitioner_id: Option<String>,
        /// AGB code.
        agb: Option<String>,
        /// BIG number.
        big: Option<String>,
        /// Personal rights; `None` for the role's defaults.
        rights: Option<Rights>,
    },
    /// A patient, for their own record.
    Patient {
        /// Patient resource id.
        patient_id: String,
    },
    /// A representative: (patient id, RelatedPerson id) per person represented.
    Representative {
        /// The representations.
        represents: Vec<(String, String)>,
    },
}

impl AccountKind {
    fn code(&self) -> &'static str {
        match self {
            Self::Staff { .. } => "staff",
            Self::Patient { .. } => "patient",
            Self::Representative { .. } => "representative",
        }
    }
}

/// A new account.
#[derive(Clone)]
pub struct NewAccount {
    /// Login name (stored lower-case).
    pub login: String,
    /// Name shown and logged.
    pub display_name: String,
    /// E-mail address.
    pub email: Option<String>,
    /// Initial password (checked against the password policy).
    pub password: String,
    /// Kind and role.
    pub kind: AccountKind,
    /// Set up a second factor now (always for staff: it is mandatory).
    pub with_totp: bool,
    /// A fixed TOTP secret (base32), for demo accounts only.
    pub fixed_totp_secret: Option<String>,
}

impl std::fmt::Debug for NewAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewAccount")
            .field("login", &self.login)
            .field("kind", &self.kind)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// What creating an account shows once: the second-factor secret and recovery codes.
#[derive(Clone)]
pub struct CreatedAccount {
    /// Account id.
    pub user_id: String,
    /// TOTP secret (base32), if a second factor was set up.
    pub totp_secret: Option<String>,
    /// `otpauth://` URI for an authenticator app.
    pub otpauth_uri: Option<String>,
    /// One-time recovery codes.
    pub recovery_codes: Vec<String>,
}

/// An account as listed (no secrets).
#[derive(Debug, Clone, Serialize)]
pub struct AccountSummary {
    /// Account id.
    pub user_id: String,
    /// Login.
    pub login: String,
    /// Name.
    pub display_name: String,
    /// `staff`, `patient` or `representative`.
    pub kind: String,
    /// Roles: (organisation id, role code, confidentiality accepted).
    pub roles: Vec<(String, String, bool)>,
    /// The Practitioner resource a member of staff acts as (of the first role that has
    /// one): the care-team member the access policy matches.
    pub practitioner_id: Option<String>,
    /// Has a second factor.
    pub second_factor: bool,
    /// Disabled.
    pub disabled: bool,
}

/// Organisation settings an administrator manages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrganisationSettings {
    /// Organization id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Kind code.
    pub kind: String,
    /// Regional exchange region.
    pub region: Option<String>,
    /// AGB code.
    pub agb: Option<String>,
    /// URA number.
    pub ura: Option<String>,
    /// PT-3: stricter minors rule.
    pub parental_consent_below: Option<u32>,
    /// GP-8: locum arrangements: (practice id, first day, last day) as ISO dates.
    #[serde(default)]
    pub locum_for: Vec<(String, Option<String>, Option<String>)>,
}

/// A login attempt.
#[derive(Clone, Copy)]
pub struct LoginAttempt<'a> {
    /// Login name.
    pub login: &'a str,
    /// Password.
    pub password: &'a str,
    /// TOTP code or a recovery code, if given.
    pub second_factor: Option<&'a str>,
    /// Client address.
    pub address: &'a str,
    /// Browser / device (User-Agent).
    pub user_agent: &'a str,
}

/// Why a login failed. The messages do not tell whether the account exists.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoginError {
    /// Wrong login, password or second factor (or a disabled account).
    #[error("login name, password or code is not correct")]
    Invalid,
    /// The password was right; a second factor is needed.
    #[error("enter the code from your authenticator app")]
    SecondFactorRequired,
    /// Too many failures: try again later.
    #[error("too many attempts; try again after {until}")]
    Locked {
        /// When it may be tried again (RFC 3339).
        until: String,
    },
    /// Internal failure.
    #[error("login is not available at the moment")]
    Unavailable,
}

/// A session, as handed to the browser or API client once.
#[derive(Clone)]
pub struct NewSession {
    /// The cookie value (secret; only its hash is stored).
    pub token: String,
    /// Account id.
    pub user_id: String,
    /// Session id (the token's hash), for CSRF tokens and logs.
    pub session_id: String,
}

/// Why a session is not valid (any of these: log in again).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// Unknown, revoked or expired session, or a disabled account.
    #[error("not logged in")]
    Unauthenticated,
    /// Internal failure.
    #[error("session store unavailable")]
    Unavailable,
}

fn unix(now: OffsetDateTime) -> i64 {
    now.unix_timestamp()
}

fn organisation_from_row(row: &OrganisationRow) -> Option<Organisation> {
    let settings: OrganisationSettings = serde_json::from_str(&row.settings).ok()?;
    let date = |s: &Option<String>| {
        s.as_deref().and_then(|d| {
            time::Date::parse(
                d,
                &time::macros::format_description!("[year]-[month]-[day]"),
            )
            .ok()
        })
    };
    Some(Organisation {
        id: row.id.clone(),
        kind: OrgKind::parse(&row.kind)?,
        region: row.region.clone(),
        parental_consent_below: row
            .parental_consent_below
            .and_then(|a| u32::try_from(a).ok()),
        locum_for: settings
            .locum_for
            .iter()
            .map(|(practice, start, end)| LocumArrangement {
                practice: practice.clone(),
                period: Period {
                    start: date(start),
                    end: date(end),
                },
            })
            .collect(),
    })
}

impl Vault {
    /// A secret for keyed tokens of the web layer (CSRF), derived from the vault's keys,
    /// so that it is the same on every server of one vault and survives restarts.
    pub fn web_secret(&self) -> [u8; 32] {
        self.inner.index_key.blind("web-csrf", "v1")
    }

    /// The display name of an organisation (directory data, public: not audited).
    pub async fn organisation_name(&self, id: &str) -> Option<String> {
        match self.inner.accounts.organisation(id).await {
            Ok(row) => row.map(|r| r.name),
            Err(e) => {
                tracing::warn!(error = %e, "reading an organisation's name");
                None
            }
        }
    }

    /// Reloads the organisations the policy knows from the account store.
    pub(crate) async fn reload_organisations(&self) -> Result<(), VaultError> {
        let rows = self.inner.accounts.organisations().await?;
        self.inner
            .access
            .set_organisations(rows.iter().filter_map(organisation_from_row).collect());
        Ok(())
    }

    fn may_manage_accounts(&self, principal: &Principal) -> Result<(), zorgkluis_policy::Basis> {
        match decide(
            principal,
            Action::ManageAccounts,
            Target::System,
            &self.context(None),
        ) {
            Decision::Allow(_) => Ok(()),
            Decision::Deny(b) => Err(b),
        }
    }

    async fn account_event(
        &self,
        principal: &Principal,
        code: EventCode,
        outcome: Outcome,
        reason: String,
    ) -> Result<(), VaultError> {
        let decision = decide(
            principal,
            Action::ManageAccounts,
            Target::System,
            &self.context(None),
        );
        let ev = self.event(
            principal,
            decision.basis(),
            code,
            outcome,
            Object::default(),
            Some(reason),
        );
        self.inner.journal.append(vec![ev]).await?;
        Ok(())
    }

    async fn require_account_rights(&self, principal: &Principal) -> Result<(), VaultError> {
        if let Err(basis) = self.may_manage_accounts(principal) {
            return Err(self
                .deny(
                    principal,
                    &basis,
                    EventCode::AccountChange,
                    Object::default(),
                )
                .await);
        }
        Ok(())
    }

    /// Creates or updates an organisation (kind, region, minors rule, locum arrangements).
    pub async fn upsert_organisation(
        &self,
        principal: &Principal,
        settings: &OrganisationSettings,
    ) -> Result<(), VaultError> {
        self.require_account_rights(principal).await?;
        if OrgKind::parse(&settings.kind).is_none() {
            return Err(VaultError::Account(format!(
                "unknown organisation kind {:?}",
                settings.kind
            )));
        }
        let row = OrganisationRow {
            id: settings.id.clone(),
            name: settings.name.clone(),
            kind: settings.kind.clone(),
            region: settings.region.clone(),
            agb: settings.agb.clone(),
            ura: settings.ura.clone(),
            parental_consent_below: settings.parental_consent_below.map(i64::from),
            settings: serde_json::to_string(settings).unwrap_or_else(|_| "{}".into()),
            updated_at: rfc3339(self.now()),
        };
        self.inner.accounts.upsert_organisation(&row).await?;
        self.account_event(
            principal,
            EventCode::AccountChange,
            Outcome::Success,
            format!("organisation {} settings saved", settings.id),
        )
        .await?;
        self.reload_organisations().await
    }

    /// Creates an account. Staff always get a second factor (PT-6).
    pub async fn add_account(
        &self,
        principal: &Principal,
        new: NewAccount,
        cost: Argon2Cost,
    ) -> Result<CreatedAccount, VaultError> {
        self.require_account_rights(principal).await?;
        let login = new.login.trim().to_lowercase();
        if login.is_empty() || login.len() > 64 || login.chars().any(char::is_whitespace) {
            return Err(VaultError::Account(
                "a login name is 1 to 64 characters without spaces".into(),
            ));
        }
        let ctx = PasswordContext {
            login: &login,
            display_name: &new.display_name,
            email: new.email.as_deref(),
        };
        check_password(&new.password, &ctx, &[]).map_err(VaultError::Password)?;
        if let AccountKind::Staff {
            organisation_id,
            agb,
            big,
            ..
        } = &new.kind
        {
            // Registration numbers are checked for their form where given.
            if let Some(a) = agb {
                zorgkluis_domain::Agb::parse(a).map_err(|e| VaultError::Account(e.to_string()))?;
            }
            if let Some(b) = big {
                zorgkluis_domain::Big::parse(b).map_err(|e| VaultError::Account(e.to_string()))?;
            }
            if self.inner.access.organisation(organisation_id).is_none() {
                return Err(VaultError::Account(format!(
                    "organisation {organisation_id} is not configured"
                )));
            }
        }
        let hash = hash_password_with(&new.password, cost)
            .map_err(|e| VaultError::Account(e.to_string()))?;
        let user_id = uuid::Builder::from_random_bytes(rand::random())
            .into_uuid()
            .to_string();
        let with_totp = new.with_totp || matches!(new.kind, AccountKind::Staff { .. });
        let secret = match (&new.fixed_totp_secret, with_totp) {
            (Some(s), _) => {
                Some(TotpSecret::from_base32(s).map_err(|e| VaultError::Account(e.to_string()))?)
            }
            (None, true) => Some(TotpSecret::generate()),
            (None, false) => None,
        };
        let recovery = if secret.is_some() {
            generate_recovery_codes(10)
        } else {
            Vec::new()
        };
        let hashes: Vec<String> = recovery.iter().map(|c| hash_recovery_code(c)).collect();
        let now = rfc3339(self.now());
        let sealed_secret = match &secret {
            Some(s) => Some(
                self.seal_account_secret(&user_id, s.to_base32().as_bytes())
                    .await?,
            ),
            None => None,
        };
        let patient_id = match &new.kind {
            AccountKind::Patient { patient_id } => Some(patient_id.clone()),
            _ => None,
        };
        let row = UserRow {
            id: user_id.clone(),
            login: login.clone(),
            display_name: new.display_name.clone(),
            kind: new.kind.code().into(),
            email: new.email.clone(),
            password_hash: Some(hash),
            password_history: "[]".into(),
            totp_secret: sealed_secret,
            totp_last_step: None,
            recovery_codes: serde_json::to_string(&hashes).unwrap_or_else(|_| "[]".into()),
            patient_id,
            disabled: false,
            created_at: now.clone(),
            updated_at: now,
        };
        self.inner
            .accounts
            .insert_user(&row)
            .await
            .map_err(|e| match e {
                zorgkluis_store::StoreError::Duplicate => {
                    VaultError::Account(format!("the login {login} is taken"))
                }
                other => other.into(),
            })?;
        match &new.kind {
            AccountKind::Staff {
                organisation_id,
                role,
                practitioner_id,
                agb,
                big,
                rights,
            } => {
                self.inner
                    .accounts
                    .upsert_staff_role(&StaffRoleRow {
                        user_id: user_id.clone(),
                        organisation_id: organisation_id.clone(),
                        role: role.code().into(),
                        practitioner_id: practitioner_id.clone(),
                        agb: agb.clone(),
                        big: big.clone(),
                        rights: rights.and_then(|r| serde_json::to_string(&r).ok()),
                        confidentiality_version: None,
                        confidentiality_accepted_at: None,
                    })
                    .await?;
            }
            AccountKind::Representative { represents } => {
                for (patient_id, related_person_id) in represents {
                    self.inner
                        .accounts
                        .add_representation(&RepresentationRow {
                            user_id: user_id.clone(),
                            patient_id: patient_id.clone(),
                            related_person_id: related_person_id.clone(),
                        })
                        .await?;
                }
            }
            AccountKind::Patient { .. } => {}
        }
        self.account_event(
            principal,
            EventCode::AccountChange,
            Outcome::Success,
            format!("account {login} ({}) created", new.kind.code()),
        )
        .await?;
        Ok(CreatedAccount {
            user_id,
            otpauth_uri: secret.as_ref().map(|s| s.otpauth_uri("Zorgkluis", &login)),
            totp_secret: secret.map(|s| s.to_base32()),
            recovery_codes: recovery,
        })
    }

    async fn seal_account_secret(&self, user_id: &str, plain: &[u8]) -> Result<String, VaultError> {
        let (_, key, _) = self.compartment_key(None, false).await?;
        let sealed = key.seal(plain, format!("account-secret/{user_id}").as_bytes());
        Ok(hex::encode(sealed))
    }

    async fn open_account_secret(
        &self,
        user_id: &str,
        sealed: &str,
    ) -> Result<Vec<u8>, VaultError> {
        let (_, key, _) = self.compartment_key(None, false).await?;
        let bytes = hex::decode(sealed)
            .map_err(|_| VaultError::Corrupt("account secret is not hex".into()))?;
        Ok(key.open(&bytes, format!("account-secret/{user_id}").as_bytes())?)
    }

    /// Disables or enables an account; disabling ends its sessions at once.
    pub async fn set_account_disabled(
        &self,
        principal: &Principal,
        login: &str,
        disabled: bool,
    ) -> Result<(), VaultError> {
        self.require_account_rights(principal).await?;
        let Some(user) = self.inner.accounts.user_by_login(login).await? else {
            return Err(VaultError::NotFound);
        };
        let now = rfc3339(self.now());
        self.inner
            .accounts
            .set_user_disabled(&user.id, disabled, &now)
            .await?;
        self.inner.access.forget_sessions();
        if disabled {
            self.inner
                .accounts
                .revoke_user_sessions(&user.id, &now)
                .await?;
        }
        self.account_event(
            principal,
            EventCode::AccountChange,
            Outcome::Success,
            format!(
                "account {} {}",
                user.login,
                if disabled { "disabled" } else { "enabled" }
            ),
        )
        .await
    }

    /// All accounts, without secrets.
    pub async fn accounts(&self, principal: &Principal) -> Result<Vec<AccountSummary>, VaultError> {
        self.require_account_rights(principal).await?;
        let mut out = Vec::new();
        for u in self.inner.accounts.users().await? {
            let staff_roles = self.inner.accounts.staff_roles(&u.id).await?;
            let practitioner_id = staff_roles.iter().find_map(|r| r.practitioner_id.clone());
            let roles = staff_roles
                .into_iter()
                .map(|r| {
                    let accepted = r.confidentiality_accepted_at.is_some();
                    (r.organisation_id, r.role, accepted)
                })
                .collect();
            out.push(AccountSummary {
                user_id: u.id,
                login: u.login,
                display_name: u.display_name,
                kind: u.kind,
                roles,
                practitioner_id,
                second_factor: u.totp_secret.is_some(),
                disabled: u.disabled,
            });
        }
        Ok(out)
    }

    /// Whether `password` is the logged-in person's current password (to unlock data
    /// sealed under it, such as personal notes). Changes nothing; callers throttle.
    pub async fn verify_own_password(
        &self,
        principal: &Principal,
        password: &str,
    ) -> Result<bool, VaultError> {
        let user_id = &principal.actor().user_id;
        let Some(user) = self.inner.accounts.user_by_id(user_id).await? else {
            return Ok(false);
        };
        Ok(user
            .password_hash
            .as_deref()
            .is_some_and(|h| verify_password(password, h)))
    }

    /// Changes one's own password: the old one must be right, the new one must meet the
    /// password policy and differ from the last five; a patient's personal notes are
    /// re-locked under the new password; every other session of the account ends.
    pub async fn change_password(
        &self,
        principal: &Principal,
        old: &str,
        new: &str,
        cost: Argon2Cost,
    ) -> Result<(), VaultError> {
        let user_id = &principal.actor().user_id;
        let Some(mut user) = self.inner.accounts.user_by_id(user_id).await? else {
            return Err(VaultError::Forbidden);
        };
        let old_ok = user
            .password_hash
            .as_deref()
            .is_some_and(|h| verify_password(old, h));
        if !old_ok {
            return Err(VaultError::Forbidden);
        }
        let mut history: Vec<String> =
            serde_json::from_str(&user.password_history).unwrap_or_default();
        if let Some(current) = &user.password_hash {
            history.insert(0, current.clone());
        }
        history.truncate(5);
        let ctx = PasswordContext {
            login: &user.login,
            display_name: &user.display_name,
            email: user.email.as_deref(),
        };
        check_password(new, &ctx, &history).map_err(VaultError::Password)?;
        if matches!(principal, Principal::Patient { .. }) {
            self.relock_personal_notes(principal, old, new, cost)
                .await?;
        }
        let now = rfc3339(self.now());
        user.password_hash =
            Some(hash_password_with(new, cost).map_err(|e| VaultError::Account(e.to_string()))?);
        user.password_history = serde_json::to_string(&history).unwrap_or_else(|_| "[]".into());
        user.updated_at = now.clone();
        self.inner.accounts.update_user(&user).await?;
        self.inner.access.forget_sessions();
        self.inner
            .accounts
            .revoke_user_sessions(&user.id, &now)
            .await?;
        self.login_event(
            self.login_actor(Some(&user), &user.login, &principal.actor().access_point),
            EventCode::AccountChange,
            Outcome::Success,
            "password-change",
            "password changed; other sessions ended".into(),
        )
        .await
    }

    /// CO-8: sets a member of staff's personal rights per category at one organisation
    /// (`None`: back to the role's defaults).
    pub async fn set_rights(
        &self,
        principal: &Principal,
        login: &str,
        organisation_id: &str,
        rights: Option<Rights>,
    ) -> Result<(), VaultError> {
        self.require_account_rights(principal).await?;
        let Some(user) = self.inner.accounts.user_by_login(login).await? else {
            return Err(VaultError::NotFound);
        };
        let Some(mut role) = self
            .inner
            .accounts
            .staff_roles(&user.id)
            .await?
            .into_iter()
            .find(|r| r.organisation_id == organisation_id)
        else {
            return Err(VaultError::NotFound);
        };
        role.rights = rights.and_then(|r| serde_json::to_string(&r).ok());
        self.inner.accounts.upsert_staff_role(&role).await?;
        self.inner.access.forget_sessions();
        let describe = rights.map_or_else(
            || "role defaults".to_owned(),
            |r| {
                format!(
                    "read {}; enter {}; change {}; delete {}",
                    r.read.to_list(),
                    r.enter.to_list(),
                    r.change.to_list(),
                    r.delete.to_list()
                )
            },
        );
        self.account_event(
            principal,
            EventCode::AccountChange,
            Outcome::Success,
            format!("rights of {} at {organisation_id}: {describe}", user.login),
        )
        .await
    }

    /// Records that a member of staff accepted the confidentiality agreement (CO-8).
    pub async fn accept_confidentiality(
        &self,
        user_id: &str,
        organisation_id: &str,
        version: &str,
    ) -> Result<(), VaultError> {
        let roles = self.inner.accounts.staff_roles(user_id).await?;
        let Some(mut role) = roles
            .into_iter()
            .find(|r| r.organisation_id == organisation_id)
        else {
            return Err(VaultError::NotFound);
        };
        role.confidentiality_version = Some(version.to_owned());
        role.confidentiality_accepted_at = Some(rfc3339(self.now()));
        self.inner.accounts.upsert_staff_role(&role).await?;
        self.inner.access.forget_sessions();
        Ok(())
    }

    async fn login_event(
        &self,
        actor: Actor,
        code: EventCode,
        outcome: Outcome,
        event_type: &str,
        reason: String,
    ) -> Result<(), VaultError> {
        let principal = Principal::Patient {
            actor,
            patient_id: String::new(),
        };
        let basis = zorgkluis_policy::Basis {
            policy: zorgkluis_policy::POLICY_ID,
            rule: "HP-5 login, device and session data are logged",
            authorisation_checked: true,
            relationship_checked: false,
            consent_checked: false,
            emergency: false,
            consent_profile: "not-applicable",
            purpose: "HSYSADMIN",
        };
        let mut ev = self.event(
            &principal,
            &basis,
            code,
            outcome,
            Object::default(),
            Some(reason),
        );
        ev.event_type = event_type.into();
        ev.channel = zorgkluis_audit::Channel::PatientApp;
        self.inner.journal.append(vec![ev]).await?;
        Ok(())
    }

    fn login_actor(&self, user: Option<&UserRow>, login: &str, address: &str) -> Actor {
        Actor {
            user_id: user.map_or_else(|| format!("unknown-login:{login}"), |u| u.id.clone()),
            role: match user.map(|u| u.kind.as_str()) {
                Some("patient") => FunctionalRole::SubjectOfCare,
                Some("representative") => FunctionalRole::SubjectOfCareProxy,
                _ => FunctionalRole::Supporting,
            },
            role_name: user.map_or("unknown".into(), |u| u.kind.clone()),
            display: user.map(|u| u.display_name.clone()),
            organisation: None,
            access_point: address.to_owned(),
            on_behalf_of: None,
        }
    }

    /// Checks a login (password, then the second factor), throttled per account and per
    /// address; on success starts a session (a fresh token: rotation on login). Every
    /// outcome is logged with address and device (HP-5).
    pub async fn login(
        &self,
        throttle: &Throttle,
        attempt: LoginAttempt<'_>,
    ) -> Result<NewSession, LoginError> {
        let now = self.now();
        let login = attempt.login.trim().to_lowercase();
        let device = format!("device: {}", truncate(attempt.user_agent, 200));
        let user = self
            .inner
            .accounts
            .user_by_login(&login)
            .await
            .map_err(|_| LoginError::Unavailable)?;
        let actor = self.login_actor(user.as_ref(), &login, attempt.address);
        if let Err(Blocked { until, .. }) = throttle.check(&login, attempt.address, now) {
            let until = rfc3339(until);
            let _ = self
                .login_event(
                    actor,
                    EventCode::Login,
                    Outcome::Refused,
                    "lockout",
                    format!("login refused: locked until {until}; {device}"),
                )
                .await;
            return Err(LoginError::Locked { until });
        }
        let (login_ref, user_ref, device_ref) = (&login, user.as_ref(), &device);
        let fail = |reason: &'static str| async move {
            let (login, user, device) = (login_ref, user_ref, device_ref);
            let blocked = throttle.record_failure(login, attempt.address, now);
            let lock = blocked
                .as_ref()
                .map(|b| format!("; locked until {}", rfc3339(b.until)))
                .unwrap_or_default();
            let _ = self
                .login_event(
                    self.login_actor(user, login, attempt.address),
                    EventCode::Login,
                    Outcome::Refused,
                    if blocked.is_some() {
                        "lockout"
                    } else {
                        "login"
                    },
                    format!("login failed: {reason}{lock}; {device}"),
                )
                .await;
            match blocked {
                Some(b) => LoginError::Locked {
                    until: rfc3339(b.until),
                },
                None => LoginError::Invalid,
            }
        };
        let Some(user) = user.as_ref() else {
            dummy_verify(attempt.password);
            return Err(fail("unknown login").await);
        };
        let password_ok = user
            .password_hash
            .as_deref()
            .is_some_and(|h| verify_password(attempt.password, h));
        if !password_ok {
            return Err(fail("wrong password").await);
        }
        if user.disabled {
            return Err(fail("account disabled").await);
        }
        if let Some(sealed) = &user.totp_secret {
            let Some(code) = attempt
                .second_factor
                .map(str::trim)
                .filter(|c| !c.is_empty())
            else {
                return Err(LoginError::SecondFactorRequired);
            };
            let secret = self
                .open_account_secret(&user.id, sealed)
                .await
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .and_then(|s| TotpSecret::from_base32(&s).ok());
            let Some(secret) = secret else {
                return Err(LoginError::Unavailable);
            };
            let mut updated = user.clone();
            if let Some(step) =
                zorgkluis_auth::totp::verify(&secret, code, unix(now), user.totp_last_step)
            {
                updated.totp_last_step = Some(step);
            } else {
                let mut hashes: Vec<String> =
                    serde_json::from_str(&user.recovery_codes).unwrap_or_default();
                match find_recovery_code(code, &hashes) {
                    Some(i) => {
                        hashes.remove(i);
                        updated.recovery_codes =
                            serde_json::to_string(&hashes).unwrap_or_else(|_| "[]".into());
                    }
                    None => return Err(fail("wrong second-factor code").await),
                }
            }
            updated.updated_at = rfc3339(now);
            self.inner
                .accounts
                .update_user(&updated)
                .await
                .map_err(|_| LoginError::Unavailable)?;
        }
        throttle.record_success(&login, attempt.address, now);
        let roles = self
            .inner
            .accounts
            .staff_roles(&user.id)
            .await
            .map_err(|_| LoginError::Unavailable)?;
        let token = new_secret_token();
        let session_id = token_hash(&token);
        let stamp = rfc3339(now);
        self.inner
            .accounts
            .insert_session(&SessionRow {
                token_hash: session_id.clone(),
                user_id: user.id.clone(),
                organisation_id: roles.first().map(|r| r.organisation_id.clone()),
                created_at: stamp.clone(),
                last_seen_at: stamp,
                revoked_at: None,
                address: attempt.address.to_owned(),
                user_agent: truncate(attempt.user_agent, 300),
            })
            .await
            .map_err(|_| LoginError::Unavailable)?;
        let _ = self
            .login_event(
                self.login_actor(Some(user), &login, attempt.address),
                EventCode::Login,
                Outcome::Success,
                "login",
                format!("login; session {}; {device}", &session_id[..12]),
            )
            .await;
        Ok(NewSession {
            token,
            user_id: user.id.clone(),
            session_id,
        })
    }

    /// The principal behind a session token, checked on every request: unknown, revoked,
    /// idle or expired sessions and disabled accounts are refused.
    pub async fn principal_for_session(
        &self,
        token: &str,
        address: &str,
    ) -> Result<Principal, SessionError> {
        let now = self.now();
        let hash = token_hash(token);
        let accounts = &self.inner.accounts;
        let cached = self
            .inner
            .access
            .sessions
            .lock()
            .ok()
            .and_then(|m| m.get(&hash).cloned())
            .filter(|c| c.loaded.elapsed() < crate::access::SESSION_TTL);
        if let Some(mut c) = cached {
            if c.policy.is_expired(c.created, c.last_seen, now) {
                let _ = accounts.revoke_session(&hash, &rfc3339(now)).await;
                self.inner.access.forget_sessions();
                return Err(SessionError::Unauthenticated);
            }
            c.last_seen = now;
            // The last-seen time is written at most once a minute (idle timeouts are in
            // minutes), not on every request.
            if now - c.touched > time::Duration::minutes(1) {
                let _ = accounts.touch_session(&hash, &rfc3339(now)).await;
                c.touched = now;
            }
            let mut principal = c.principal.clone();
            principal.actor_mut().access_point = address.to_owned();
            if let Ok(mut m) = self.inner.access.sessions.lock() {
                m.insert(hash, c);
            }
            return Ok(principal);
        }
        let session = accounts
            .session(&hash)
            .await
            .map_err(|_| SessionError::Unavailable)?
            .filter(|s| s.revoked_at.is_none())
            .ok_or(SessionError::Unauthenticated)?;
        let user = accounts
            .user_by_id(&session.user_id)
            .await
            .map_err(|_| SessionError::Unavailable)?
            .filter(|u| !u.disabled)
            .ok_or(SessionError::Unauthenticated)?;
        let policy = if user.kind == "staff" {
            SessionPolicy::staff()
        } else {
            SessionPolicy::patient()
        };
        let parse =
            |s: &str| OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok();
        let (Some(created), Some(seen)) =
            (parse(&session.created_at), parse(&session.last_seen_at))
        else {
            return Err(SessionError::Unauthenticated);
        };
        if policy.is_expired(created, seen, now) {
            let _ = accounts.revoke_session(&hash, &rfc3339(now)).await;
            return Err(SessionError::Unauthenticated);
        }
        let _ = accounts.touch_session(&hash, &rfc3339(now)).await;
        let principal = self
            .principal_for_user(&user, session.organisation_id.as_deref(), address)
            .await
            .map_err(|_| SessionError::Unavailable)?
            .ok_or(SessionError::Unauthenticated)?;
        if let Ok(mut m) = self.inner.access.sessions.lock() {
            if m.len() > 50_000 {
                m.clear();
            }
            m.insert(
                hash,
                crate::access::CachedSession {
                    loaded: std::time::Instant::now(),
                    created,
                    last_seen: now,
                    touched: now,
                    policy,
                    principal: principal.clone(),
                },
            );
        }
        Ok(principal)
    }

    /// The principal of an account (for a session, or a client acting as a user).
    pub(crate) async fn principal_for_user(
        &self,
        user: &UserRow,
        organisation_id: Option<&str>,
        address: &str,
    ) -> Result<Option<Principal>, VaultError> {
        let mut actor = Actor {
            user_id: user.id.clone(),
            role: FunctionalRole::SubjectOfCare,
            role_name: user.kind.clone(),
            display: Some(user.display_name.clone()),
            organisation: None,
            access_point: address.to_owned(),
            on_behalf_of: None,
        };
        Ok(match user.kind.as_str() {
            "patient" => user
                .patient_id
                .clone()
                .map(|patient_id| Principal::Patient { actor, patient_id }),
            "representative" => {
                actor.role = FunctionalRole::SubjectOfCareProxy;
                let represents = self
                    .inner
                    .accounts
                    .representations(&user.id)
                    .await?
                    .into_iter()
                    .map(|r| (r.patient_id, r.related_person_id))
                    .collect();
                Some(Principal::Representative { actor, represents })
            }
            "staff" => {
                let roles = self.inner.accounts.staff_roles(&user.id).await?;
                let Some(role_row) = roles
                    .into_iter()
                    .find(|r| organisation_id.is_none_or(|o| o == r.organisation_id))
                else {
                    return Ok(None);
                };
                let (Some(role), Some(organisation)) = (
                    StaffRole::parse(&role_row.role),
                    self.inner.access.organisation(&role_row.organisation_id),
                ) else {
                    return Ok(None);
                };
                actor.role = role.functional_role();
                actor.role_name = role.code().into();
                actor.organisation = Some(role_row.organisation_id.clone());
                let rights = role_row
                    .rights
                    .as_deref()
                    .and_then(|r| serde_json::from_str(r).ok())
                    .unwrap_or_else(|| Rights::role_default(role));
                let now = unix(self.now());
                let grants = self
                    .inner
                    .accounts
                    .grants_for_user(&user.id, now)
                    .await?
                    .into_iter()
                    .map(|g| TechnicalGrant {
                        patient_id: g.patient_id,
                        until: g.until_unix,
                    })
                    .collect();
                Some(Principal::Staff(Box::new(Staff {
                    actor,
                    role,
                    organisation,
                    practitioner_id: role_row.practitioner_id,
                    rights,
                    confidentiality_accepted: role_row.confidentiality_accepted_at.is_some(),
                    grants,
                })))
            }
            _ => None,
        })
    }

    /// The principal of an account by login, without a session (operator tools and tests
    /// acting as a user; the caller is responsible for having authenticated the person).
    pub async fn principal_for_login(
        &self,
        login: &str,
        address: &str,
    ) -> Result<Option<Principal>, VaultError> {
        let Some(user) = self.inner.accounts.user_by_login(login).await? else {
            return Ok(None);
        };
        if user.disabled {
            return Ok(None);
        }
        self.principal_for_user(&user, None, address).await
    }

    /// Ends a session (logout), logged.
    pub async fn logout(&self, token: &str, address: &str) -> Result<(), VaultError> {
        let hash = token_hash(token);
        let now = rfc3339(self.now());
        let Some(session) = self.inner.accounts.session(&hash).await? else {
            return Ok(());
        };
        self.inner.accounts.revoke_session(&hash, &now).await?;
        self.inner.access.forget_sessions();
        let user = self.inner.accounts.user_by_id(&session.user_id).await?;
        self.login_event(
            self.login_actor(user.as_ref(), "", address),
            EventCode::Logout,
            Outcome::Success,
            "logout",
            format!("logout; session {}", &hash[..12]),
        )
        .await
    }

    /// Break-the-glass: a clinician without a relationship opens a patient's record in an
    /// emergency, giving a reason. The access is time-boxed, flagged in the audit trail
    /// (controls position 4), queued for the privacy officer's review and shown to the
    /// patient in their access overview. Returns when it ends (Unix time).
    pub async fn break_glass(
        &self,
        principal: &Principal,
        patient_id: &str,
        reason: &str,
    ) -> Result<i64, VaultError> {
        let facts = self.patient_facts(patient_id).await?;
        let decision = decide(
            principal,
            Action::BreakGlass,
            Target::Record {
                facts: &facts,
                resource_type: "Patient",
                category: Category::Demographics,
            },
            &self.context(Some(reason)),
        );
        let object = Object {
            patient_id: Some(patient_id),
            resource_type: Some("Patient"),
            resource_id: Some(patient_id),
            ..Default::default()
        };
        let allowed = match decision {
            Decision::Allow(a) => a,
            Decision::Deny(basis) => {
                return Err(self
                    .deny(principal, &basis, EventCode::EmergencyAccess, object)
                    .await)
            }
        };
        let now = self.now();
        let until = unix(now) + EMERGENCY_MINUTES * 60;
        let reason = truncate(reason.trim(), 500);
        let ev = self.event(
            principal,
            allowed.basis(),
            EventCode::EmergencyAccess,
            Outcome::Success,
            object,
            Some(format!("emergency procedure started: {reason}")),
        );
        let id = ev.event_id.clone();
        self.inner.journal.append(vec![ev]).await?;
        self.inner
            .accounts
            .insert_emergency(&EmergencyRow {
                id,
                user_id: principal.actor().user_id.clone(),
                patient_id: patient_id.to_owned(),
                reason,
                started_at: rfc3339(now),
                until_unix: until,
                reviewed_by: None,
                reviewed_at: None,
                review_note: None,
            })
            .await?;
        self.inner.access.forget(patient_id);
        Ok(until)
    }

    /// Emergency accesses in force for a patient.
    pub(crate) async fn emergencies_in_force(
        &self,
        patient_id: &str,
    ) -> Result<Vec<EmergencyAccess>, VaultError> {
        let now = unix(self.now());
        Ok(self
            .inner
            .accounts
            .emergencies_for_patient(patient_id, now)
            .await?
            .into_iter()
            .map(|e| EmergencyAccess {
                user_id: e.user_id,
                until: e.until_unix,
                reason: e.reason,
            })
            .collect())
    }

    /// Emergency accesses not yet reviewed (the privacy officer's queue).
    pub async fn emergency_review_queue(
        &self,
        principal: &Principal,
    ) -> Result<Vec<EmergencyRow>, VaultError> {
        match decide(
            principal,
            Action::ReadAudit,
            Target::System,
            &self.context(None),
        ) {
            Decision::Allow(_) => Ok(self.inner.accounts.unreviewed_emergencies().await?),
            Decision::Deny(basis) => Err(self
                .deny(principal, &basis, EventCode::AuditRead, Object::default())
                .await),
        }
    }

    /// PC-5: an explicit, time-limited, logged technical access grant for an
    /// administrator or maintainer to one patient's record.
    pub async fn grant_technical_access(
        &self,
        principal: &Principal,
        login: &str,
        patient_id: &str,
        minutes: i64,
        reason: &str,
    ) -> Result<i64, VaultError> {
        self.require_account_rights(principal).await?;
        if !(1..=24 * 60).contains(&minutes) || reason.trim().len() < 10 {
            return Err(VaultError::Account(
                "a grant lasts 1 minute to 24 hours and needs a reason".into(),
            ));
        }
        let Some(user) = self.inner.accounts.user_by_login(login).await? else {
            return Err(VaultError::NotFound);
        };
        let now = self.now();
        let until = unix(now) + minutes * 60;
        self.inner
            .accounts
            .insert_grant(&GrantRow {
                id: uuid::Builder::from_random_bytes(rand::random())
                    .into_uuid()
                    .to_string(),
                user_id: user.id.clone(),
                patient_id: patient_id.to_owned(),
                reason: truncate(reason.trim(), 500),
                granted_by: principal.actor().user_id.clone(),
                granted_at: rfc3339(now),
                until_unix: until,
            })
            .await?;
        self.inner.access.forget_sessions();
        let object = Object {
            patient_id: Some(patient_id),
            ..Default::default()
        };
        let decision = decide(
            principal,
            Action::ManageAccounts,
            Target::System,
            &self.context(None),
        );
        let ev = self.event(
            principal,
            decision.basis(),
            EventCode::AccountChange,
            Outcome::Success,
            object,
            Some(format!(
                "technical access granted to {} for {minutes} minutes: {}",
                user.login,
                reason.trim()
            )),
        );
        self.inner.journal.append(vec![ev]).await?;
        Ok(until)
    }
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// Problems with a password, as the account form shows them.
pub fn password_problems(problems: &[PasswordProblem]) -> String {
    problems
        .iter()
        .map(PasswordProblem::message_en)
        .collect::<Vec<_>>()
        .join("; ")
}
