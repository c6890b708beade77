//! API clients (OAuth 2 / SMART on FHIR): registration from the terminal (an audited
//! account change), one-time authorization codes with PKCE, access tokens for one hour,
//! revocation, and the principal behind a bearer token, checked on every request (so
//! that revoking a token or a client, or disabling the account, takes effect at once).
//!
//! Two kinds of client:
//! - a **user** client acts as one registered account (the authorization-code flow, or
//!   client credentials for that account); its tokens carry that person's principal;
//! - a **system** client acts for an organisation (client credentials,
//!   [`Principal::System`]); the policy decides what it may (GP-9).
//!
//! Scopes only narrow what a principal may do ([`Scopes`]). Client secrets, tokens and
//! codes are stored only as SHA-256 hashes.

mod scopes;

pub use scopes::{ResourceScope, Scope, ScopeContext, ScopeError, Scopes};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};
use zorgkluis_audit::{Channel, EventCode, Outcome};
use zorgkluis_auth::{new_secret_token, token_hash};
use zorgkluis_domain::{clock::rfc3339, Actor, FunctionalRole};
use zorgkluis_policy::{decide, Action, Basis, Decision, Principal, SystemClient, Target};
use zorgkluis_store::{ApiTokenRow, ClientRow, OAuthCodeRow};

use crate::events::Object;
use crate::{Vault, VaultError};

/// Lifetime of an access token, in seconds.
pub const ACCESS_TOKEN_SECONDS: i64 = 3600;
/// Lifetime of an authorization code, in seconds.
pub const AUTHORIZATION_CODE_SECONDS: i64 = 600;

/// What a new client acts as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NewClientKind {
    /// Acts as this account (by login).
    User {
        /// The account's login.
        login: String,
    },
    /// Acts for this organisation, as a system.
    System {
        /// The organisation's id.
        organisation_id: String,
    },
}

/// A client to register.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewClient {
    /// Name shown on the consent page.
    pub name: String,
    /// User or system client.
    pub kind: NewClientKind,
    /// The scopes it may be granted, space-separated.
    pub scopes: String,
    /// Redirect URIs for the authorization-code flow (user clients).
    pub redirect_uris: Vec<String>,
}

/// A registered client's credentials, shown once. `Debug` redacts the secret.
#[derive(Clone)]
pub struct RegisteredClient {
    /// Client id.
    pub client_id: String,
    /// Client secret (only its hash is stored).
    pub client_secret: String,
}

impl std::fmt::Debug for RegisteredClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegisteredClient")
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .finish()
    }
}

/// A client as listed (no secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSummary {
    /// Client id.
    pub id: String,
    /// Name.
    pub name: String,
    /// `user` or `system`.
    pub kind: String,
    /// The login of the account a user client acts as.
    pub user_login: Option<String>,
    /// The organisation a system client acts for.
    pub organisation_id: Option<String>,
    /// Scopes it may be granted.
    pub scopes: String,
    /// Registered redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Registered (RFC 3339).
    pub created_at: String,
    /// Revoked (RFC 3339).
    pub revoked_at: Option<String>,
}

/// What a client acts as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiClientKind {
    /// As this account.
    User {
        /// Account id.
        user_id: String,
    },
    /// For this organisation.
    System {
        /// Organisation id.
        organisation_id: String,
    },
}

/// An active (not revoked) client, without its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiClient {
    /// Client id.
    pub id: String,
    /// Name.
    pub name: String,
    /// User or system client.
    pub kind: ApiClientKind,
    /// The scopes it may be granted.
    pub scopes: Scopes,
    /// Registered redirect URIs.
    pub redirect_uris: Vec<String>,
}

/// An access token, as handed to the client once.
#[derive(Clone)]
pub struct IssuedToken {
    /// The bearer token (only its hash is stored).
    pub access_token: String,
    /// Seconds until it expires.
    pub expires_in: i64,
    /// The granted scopes, space-separated.
    pub scope: String,
    /// The patient in context, if any.
    pub patient: Option<String>,
}

impl std::fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedToken")
            .field("access_token", &"<redacted>")
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .field("patient", &self.patient)
            .finish()
    }
}

/// An OAuth 2 error (RFC 6749 section 5.2 and 4.1.2.1). Descriptions hold no secrets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OAuthError {
    /// A parameter is missing, repeated or malformed.
    #[error("invalid_request: {0}")]
    InvalidRequest(String),
    /// Client authentication failed.
    #[error("invalid_client: client authentication failed")]
    InvalidClient,
    /// The code is invalid, expired, used, for another client or redirect URI, or the
    /// PKCE verifier does not match.
    #[error("invalid_grant: {0}")]
    InvalidGrant(String),
    /// The client may not use this grant or flow.
    #[error("unauthorized_client: {0}")]
    UnauthorizedClient(String),
    /// No requested scope can be granted.
    #[error("invalid_scope: {0}")]
    InvalidScope(String),
    /// The user or the server refused.
    #[error("access_denied: {0}")]
    AccessDenied(String),
    /// Internal failure.
    #[error("server_error: the request could not be handled")]
    ServerError,
}

impl OAuthError {
    /// The RFC 6749 error code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidRequest(_) => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant(_) => "invalid_grant",
            Self::UnauthorizedClient(_) => "unauthorized_client",
            Self::InvalidScope(_) => "invalid_scope",
            Self::AccessDenied(_) => "access_denied",
            Self::ServerError => "server_error",
        }
    }

    /// A human-readable description.
    pub fn description(&self) -> String {
        match self {
            Self::InvalidRequest(d)
            | Self::InvalidGrant(d)
            | Self::UnauthorizedClient(d)
            | Self::InvalidScope(d)
            | Self::AccessDenied(d) => d.clone(),
            Self::InvalidClient => "client authentication failed".into(),
            Self::ServerError => "the request could not be handled".into(),
        }
    }
}

impl From<VaultError> for OAuthError {
    fn from(e: VaultError) -> Self {
        tracing::error!(error = %e, "oauth");
        Self::ServerError
    }
}

impl From<zorgkluis_store::StoreError> for OAuthError {
    fn from(e: zorgkluis_store::StoreError) -> Self {
        VaultError::from(e).into()
    }
}

/// Why an authorization request fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizeError {
    /// Unknown or revoked client, or a redirect URI that is not registered: shown to the
    /// user, never redirected (RFC 6749 4.1.2.1).
    NoRedirect(String),
    /// Anything else: redirected to the client with this error.
    Redirect(OAuthError),
}

impl From<OAuthError> for AuthorizeError {
    fn from(e: OAuthError) -> Self {
        Self::Redirect(e)
    }
}

/// An authorization request (`GET /oauth/authorize`), as the user approves it.
#[derive(Debug, Clone, Copy)]
pub struct AuthorizationRequest<'a> {
    /// `response_type` (must be `code`).
    pub response_type: &'a str,
    /// `client_id`.
    pub client_id: &'a str,
    /// `redirect_uri` (must be registered, exact match).
    pub redirect_uri: &'a str,
    /// `scope` (empty: everything the client is registered for).
    pub scope: &'a str,
    /// `code_challenge` (PKCE, required).
    pub code_challenge: &'a str,
    /// `code_challenge_method` (must be `S256`).
    pub code_challenge_method: &'a str,
}

/// A checked authorization request, for the consent page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingAuthorization {
    /// The client.
    pub client: ApiClient,
    /// The scopes that would be granted.
    pub scopes: Scopes,
    /// The patients the user may choose as the patient in context (more than one only
    /// for a representative).
    pub patients: Vec<String>,
}

/// Why a bearer token is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Unknown, expired or revoked token, a revoked client, or a disabled account.
    #[error("invalid token")]
    Unauthenticated,
    /// Internal failure.
    #[error("token store unavailable")]
    Unavailable,
}

/// The PKCE S256 challenge of a verifier: BASE64URL(SHA-256(verifier)), no padding.
pub fn pkce_s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn valid_verifier(v: &str) -> bool {
    (43..=128).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

/// A redirect URI a client may register: `https://…`, or `http://` on the loopback
/// interface (native apps, RFC 8252), without a fragment.
pub fn valid_redirect_uri(uri: &str) -> bool {
    let loopback = ["http://127.0.0.1", "http://localhost", "http://[::1]"]
        .iter()
        .any(|p| {
            uri.strip_prefix(p)
                .is_some_and(|r| r.is_empty() || r.starts_with([':', '/', '?']))
        });
    let https = uri
        .strip_prefix("https://")
        .is_some_and(|r| !r.is_empty() && !r.starts_with('/'));
    (https || loopback)
        && uri.len() <= 500
        && !uri.contains('#')
        && !uri.chars().any(|c| c.is_whitespace() || c.is_control())
}

fn client_actor(id: &str, name: &str, organisation: Option<&str>, address: &str) -> Actor {
    Actor {
        user_id: format!("client:{id}"),
        role: FunctionalRole::Supporting,
        role_name: "system-client".into(),
        display: Some(name.to_owned()),
        organisation: organisation.map(str::to_owned),
        access_point: address.to_owned(),
        on_behalf_of: None,
    }
}

fn actor_mut(p: &mut Principal) -> &mut Actor {
    match p {
        Principal::Operator { actor, .. }
        | Principal::Patient { actor, .. }
        | Principal::Representative { actor, .. } => actor,
        Principal::Staff(s) => &mut s.actor,
        Principal::System(c) => &mut c.actor,
    }
}

/// The patients a user's token may have in context: the patient themself, or the
/// patients a representative acts for.
fn patient_choices(p: &Principal) -> Vec<String> {
    match p {
        Principal::Patient { patient_id, .. } => vec![patient_id.clone()],
        Principal::Representative { represents, .. } => {
            let mut out: Vec<String> = represents.iter().map(|(p, _)| p.clone()).collect();
            out.sort();
            out.dedup();
            out
        }
        _ => Vec::new(),
    }
}

const TOKEN_RULE: &str = "HP-5 API client authentication and tokens are logged";

fn client_basis() -> Basis {
    Basis {
        policy: zorgkluis_policy::POLICY_ID,
        rule: TOKEN_RULE,
        authorisation_checked: true,
        relationship_checked: false,
        consent_checked: false,
        emergency: false,
        consent_profile: "not-applicable",
        purpose: "HSYSADMIN",
    }
}

fn client_from_row(row: &ClientRow) -> Option<ApiClient> {
    if row.revoked_at.is_some() {
        return None;
    }
    let kind = match (row.kind.as_str(), &row.user_id, &row.organisation_id) {
        ("user", Some(u), _) => ApiClientKind::User { user_id: u.clone() },
        ("system", _, Some(o)) => ApiClientKind::System {
            organisation_id: o.clone(),
        },
        _ => return None,
    };
    Some(ApiClient {
        id: row.id.clone(),
        name: row.name.clone(),
        kind,
        scopes: Scopes::parse(&row.scopes).ok()?,
        redirect_uris: serde_json::from_str(&row.redirect_uris).unwrap_or_default(),
    })
}

impl Vault {
    fn clients_now(&self) -> time::OffsetDateTime {
        self.inner.clock.now()
    }

    async fn require_client_rights(&self, principal: &Principal) -> Result<Basis, VaultError> {
        match decide(
            principal,
            Action::ManageAccounts,
            Target::System,
            &self.context(None),
        ) {
            Decision::Allow(a) => Ok(a.basis().clone()),
            Decision::Deny(basis) => Err(self
                .deny(
                    principal,
                    &basis,
                    EventCode::AccountChange,
                    Object::default(),
                )
                .await),
        }
    }

    async fn client_admin_event(
        &self,
        principal: &Principal,
        basis: &Basis,
        reason: String,
    ) -> Result<(), VaultError> {
        let ev = self.event(
            principal,
            basis,
            EventCode::AccountChange,
            Outcome::Success,
            Object::default(),
            Some(reason),
        );
        self.inner.journal.append(vec![ev]).await?;
        Ok(())
    }

    /// An authentication event of a client (token issued, refused, revoked).
    async fn client_auth_event(
        &self,
        actor: Actor,
        channel: Channel,
        code: EventCode,
        outcome: Outcome,
        event_type: &str,
        reason: String,
    ) -> Result<(), VaultError> {
        let principal = Principal::Patient {
            actor,
            patient_id: String::new(),
        };
        let mut ev = self.event(
            &principal,
            &client_basis(),
            code,
            outcome,
            Object::default(),
            Some(reason),
        );
        ev.event_type = event_type.into();
        ev.channel = channel;
        self.inner.journal.append(vec![ev]).await?;
        Ok(())
    }

    /// Registers an API client (an audited account change). Returns the client id and
    /// secret, shown once; only the secret's hash is stored.
    pub async fn register_client(
        &self,
        principal: &Principal,
        new: NewClient,
    ) -> Result<RegisteredClient, VaultError> {
        let basis = self.require_client_rights(principal).await?;
        let name = new.name.trim().to_owned();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(VaultError::Account(
                "a client name is 1 to 100 characters".into(),
            ));
        }
        let scopes = Scopes::parse(&new.scopes).map_err(|e| VaultError::Account(e.to_string()))?;
        if scopes.is_empty() {
            return Err(VaultError::Account(
                "a client needs at least one resource scope (e.g. user/*.read)".into(),
            ));
        }
        for uri in &new.redirect_uris {
            if !valid_redirect_uri(uri) {
                return Err(VaultError::Account(format!(
                    "redirect URI {uri:?} is not https:// (or http:// on the loopback interface) or has a fragment"
                )));
            }
        }
        let (kind, user_id, organisation_id, describe) = match &new.kind {
            NewClientKind::User { login } => {
                let Some(user) = self.inner.accounts.user_by_login(login).await? else {
                    return Err(VaultError::Account(format!("no account {login}")));
                };
                if scopes.has_context(ScopeContext::System) {
                    return Err(VaultError::Account(
                        "system/ scopes are for system clients (--system)".into(),
                    ));
                }
                (
                    "user",
                    Some(user.id),
                    None,
                    format!("acting as {}", user.login),
                )
            }
            NewClientKind::System { organisation_id } => {
                if self.inner.access.organisation(organisation_id).is_none() {
                    return Err(VaultError::Account(format!(
                        "organisation {organisation_id} is not configured"
                    )));
                }
                if scopes
                    .iter()
                    .any(|s| !matches!(s, Scope::Resource(r) if r.context == ScopeContext::System))
                {
                    return Err(VaultError::Account(
                        "a system client has system/ scopes only".into(),
                    ));
                }
                if !new.redirect_uris.is_empty() {
                    return Err(VaultError::Account(
                        "a system client uses client credentials: no redirect URIs".into(),
                    ));
                }
                (
                    "system",
                    None,
                    Some(organisation_id.clone()),
                    format!("system client of {organisation_id}"),
                )
            }
        };
        let id = uuid::Builder::from_random_bytes(rand::random())
            .into_uuid()
            .to_string();
        let secret = new_secret_token();
        let row = ClientRow {
            id: id.clone(),
            name: name.clone(),
            secret_hash: token_hash(&secret),
            kind: kind.into(),
            user_id,
            organisation_id,
            scopes: scopes.to_string(),
            redirect_uris: serde_json::to_string(&new.redirect_uris)
                .unwrap_or_else(|_| "[]".into()),
            created_at: rfc3339(self.clients_now()),
            revoked_at: None,
        };
        self.inner.clients.insert_client(&row).await?;
        self.client_admin_event(
            principal,
            &basis,
            format!(
                "API client {id} ({name}) registered, {describe}; scopes {}",
                row.scopes
            ),
        )
        .await?;
        Ok(RegisteredClient {
            client_id: id,
            client_secret: secret,
        })
    }

    /// All API clients (revoked ones too), without secrets.
    pub async fn list_clients(
        &self,
        principal: &Principal,
    ) -> Result<Vec<ClientSummary>, VaultError> {
        self.require_client_rights(principal).await?;
        let mut out = Vec::new();
        for c in self.inner.clients.clients().await? {
            let user_login = match &c.user_id {
                Some(u) => self.inner.accounts.user_by_id(u).await?.map(|u| u.login),
                None => None,
            };
            out.push(ClientSummary {
                redirect_uris: serde_json::from_str(&c.redirect_uris).unwrap_or_default(),
                id: c.id,
                name: c.name,
                kind: c.kind,
                user_login,
                organisation_id: c.organisation_id,
                scopes: c.scopes,
                created_at: c.created_at,
                revoked_at: c.revoked_at,
            });
        }
        Ok(out)
    }

    /// Revokes an API client and every token it holds (an audited account change).
    /// Returns how many tokens were revoked.
    pub async fn revoke_client(
        &self,
        principal: &Principal,
        client_id: &str,
    ) -> Result<u64, VaultError> {
        let basis = self.require_client_rights(principal).await?;
        if self.inner.clients.client(client_id).await?.is_none() {
            return Err(VaultError::NotFound);
        }
        let now = rfc3339(self.clients_now());
        self.inner.clients.revoke_client(client_id, &now).await?;
        let tokens = self
            .inner
            .clients
            .revoke_client_tokens(client_id, &now)
            .await?;
        self.inner.access.forget_sessions();
        self.client_admin_event(
            principal,
            &basis,
            format!("API client {client_id} revoked with its {tokens} token(s)"),
        )
        .await?;
        Ok(tokens)
    }

    /// An active client by id (for the consent page), without authenticating it.
    pub async fn api_client(&self, client_id: &str) -> Result<Option<ApiClient>, VaultError> {
        Ok(self
            .inner
            .clients
            .client(client_id)
            .await?
            .as_ref()
            .and_then(client_from_row))
    }

    /// Authenticates a client by id and secret; every refusal is logged.
    pub async fn authenticate_client(
        &self,
        client_id: &str,
        secret: &str,
        address: &str,
    ) -> Result<ApiClient, OAuthError> {
        let row = self.inner.clients.client(client_id).await?;
        // Hashes of a 256-bit secret are compared; their timing reveals nothing usable.
        let client = row
            .as_ref()
            .filter(|r| r.secret_hash == token_hash(secret))
            .and_then(client_from_row);
        match client {
            Some(c) => Ok(c),
            None => {
                let id: String = client_id.chars().take(64).collect();
                let name = row.as_ref().map_or("unknown client", |r| r.name.as_str());
                self.client_auth_event(
                    client_actor(&id, name, None, address),
                    Channel::Exchange,
                    EventCode::Login,
                    Outcome::Refused,
                    "oauth-token",
                    format!("API client {id}: authentication failed"),
                )
                .await?;
                Err(OAuthError::InvalidClient)
            }
        }
    }

    /// Checks an authorization request for the logged-in `user`: the client, the exact
    /// redirect URI, `response_type=code`, PKCE S256, the scopes (narrowed to what the
    /// client is registered for), and that a user client acts only as its own account.
    pub async fn check_authorization(
        &self,
        user: &Principal,
        req: &AuthorizationRequest<'_>,
    ) -> Result<PendingAuthorization, AuthorizeError> {
        let client = self
            .api_client(req.client_id)
            .await
            .map_err(|_| AuthorizeError::NoRedirect("the server is unavailable".into()))?
            .ok_or_else(|| AuthorizeError::NoRedirect("unknown client".into()))?;
        if !client.redirect_uris.iter().any(|u| u == req.redirect_uri) {
            return Err(AuthorizeError::NoRedirect(
                "the redirect URI is not registered for this client".into(),
            ));
        }
        if req.response_type != "code" {
            return Err(OAuthError::InvalidRequest("response_type must be code".into()).into());
        }
        let challenge_ok =
            req.code_challenge.len() == 43 && URL_SAFE_NO_PAD.decode(req.code_challenge).is_ok();
        if req.code_challenge_method != "S256" || !challenge_ok {
            return Err(OAuthError::InvalidRequest(
                "PKCE is required: code_challenge (43 characters) with code_challenge_method=S256"
                    .into(),
            )
            .into());
        }
        let ApiClientKind::User { user_id } = &client.kind else {
            return Err(OAuthError::UnauthorizedClient(
                "a system client uses the client_credentials grant".into(),
            )
            .into());
        };
        if *user_id != user.actor().user_id {
            return Err(OAuthError::AccessDenied(
                "this client is registered for another account".into(),
            )
            .into());
        }
        let patients = patient_choices(user);
        let scopes = grant_scopes(Some(req.scope), &client.scopes, &patients)?;
        let patients = if scopes.wants_patient() {
            patients
        } else {
            Vec::new()
        };
        Ok(PendingAuthorization {
            client,
            scopes,
            patients,
        })
    }

    /// Issues a one-time authorization code (10 minutes) for an approved request;
    /// `patient` is the patient chosen on the consent page (when there is a choice).
    pub async fn issue_authorization_code(
        &self,
        user: &Principal,
        req: &AuthorizationRequest<'_>,
        patient: Option<&str>,
    ) -> Result<String, AuthorizeError> {
        let pending = self.check_authorization(user, req).await?;
        let patient = match pending.patients.as_slice() {
            [] => None,
            [only] => Some(only.clone()),
            several => Some(
                patient
                    .filter(|p| several.iter().any(|s| s == p))
                    .ok_or_else(|| OAuthError::InvalidRequest("choose a patient".into()))?
                    .to_owned(),
            ),
        };
        let code = new_secret_token();
        let now = self.clients_now().unix_timestamp();
        self.inner
            .clients
            .insert_code(&OAuthCodeRow {
                code_hash: token_hash(&code),
                client_id: pending.client.id.clone(),
                user_id: user.actor().user_id.clone(),
                scopes: pending.scopes.to_string(),
                code_challenge: req.code_challenge.to_owned(),
                redirect_uri: req.redirect_uri.to_owned(),
                patient_id: patient,
                expires_unix: now + AUTHORIZATION_CODE_SECONDS,
                used: false,
            })
            .await
            .map_err(OAuthError::from)?;
        Ok(code)
    }

    /// Exchanges an authorization code (authorization-code grant with PKCE). The code is
    /// used up by the first attempt, right or wrong.
    pub async fn exchange_authorization_code(
        &self,
        client: &ApiClient,
        code: &str,
        redirect_uri: &str,
        code_verifier: &str,
        address: &str,
    ) -> Result<IssuedToken, OAuthError> {
        let now = self.clients_now().unix_timestamp();
        let row = self
            .inner
            .clients
            .take_code(&token_hash(code), now)
            .await?
            .ok_or_else(|| {
                OAuthError::InvalidGrant("the code is unknown, expired or already used".into())
            })?;
        if row.client_id != client.id {
            return Err(OAuthError::InvalidGrant(
                "the code was issued to another client".into(),
            ));
        }
        if row.redirect_uri != redirect_uri {
            return Err(OAuthError::InvalidGrant(
                "redirect_uri differs from the authorization request".into(),
            ));
        }
        if !valid_verifier(code_verifier) || pkce_s256(code_verifier) != row.code_challenge {
            return Err(OAuthError::InvalidGrant(
                "the code_verifier does not match the code_challenge".into(),
            ));
        }
        let scopes = Scopes::parse(&row.scopes)
            .map_err(|_| OAuthError::ServerError)?
            .with_patient(row.patient_id);
        let principal = self
            .user_principal(&row.user_id, address)
            .await?
            .ok_or_else(|| OAuthError::InvalidGrant("the account is not active".into()))?;
        self.issue_token(
            client,
            Some(&row.user_id),
            &principal,
            scopes,
            "authorization_code",
        )
        .await
    }

    /// Issues a token for the client-credentials grant: a system client for its
    /// organisation, a user client as its account.
    pub async fn issue_client_credentials_token(
        &self,
        client: &ApiClient,
        scope: Option<&str>,
        address: &str,
    ) -> Result<IssuedToken, OAuthError> {
        match &client.kind {
            ApiClientKind::System { organisation_id } => {
                let principal = self
                    .system_principal(client, organisation_id, address)
                    .ok_or_else(|| {
                        OAuthError::UnauthorizedClient(
                            "the client's organisation is not configured".into(),
                        )
                    })?;
                let scopes = grant_scopes(scope, &client.scopes, &[])?;
                self.issue_token(client, None, &principal, scopes, "client_credentials")
                    .await
            }
            ApiClientKind::User { user_id } => {
                let principal = self
                    .user_principal(user_id, address)
                    .await?
                    .ok_or_else(|| {
                        OAuthError::UnauthorizedClient("the account is not active".into())
                    })?;
                let choices = patient_choices(&principal);
                let mut scopes = grant_scopes(scope, &client.scopes, &choices)?;
                if scopes.wants_patient() {
                    // Without a consent page there is no choice: one patient, or none.
                    scopes = match choices.as_slice() {
                        [only] => scopes.with_patient(Some(only.clone())),
                        _ => scopes.without_patient_scopes(),
                    };
                    if scopes.is_empty() {
                        return Err(OAuthError::InvalidScope(
                            "patient/ scopes need one patient in context".into(),
                        ));
                    }
                }
                self.issue_token(
                    client,
                    Some(user_id),
                    &principal,
                    scopes,
                    "client_credentials",
                )
                .await
            }
        }
    }

    async fn issue_token(
        &self,
        client: &ApiClient,
        user_id: Option<&str>,
        principal: &Principal,
        scopes: Scopes,
        grant: &str,
    ) -> Result<IssuedToken, OAuthError> {
        let token = new_secret_token();
        let hash = token_hash(&token);
        let now = self.clients_now();
        self.inner
            .clients
            .insert_token(&ApiTokenRow {
                token_hash: hash.clone(),
                client_id: client.id.clone(),
                user_id: user_id.map(str::to_owned),
                scopes: scopes.to_string(),
                patient_id: scopes.patient_context().map(str::to_owned),
                expires_unix: now.unix_timestamp() + ACCESS_TOKEN_SECONDS,
                revoked_at: None,
                created_at: rfc3339(now),
            })
            .await?;
        let channel = match principal {
            Principal::System(_) => Channel::Exchange,
            Principal::Staff(_) => Channel::OwnOrganisation,
            _ => Channel::PatientApp,
        };
        self.client_auth_event(
            principal.actor().clone(),
            channel,
            EventCode::Login,
            Outcome::Success,
            "oauth-token",
            format!(
                "access token {} issued to API client {} ({grant}); scopes {}",
                &hash[..12],
                client.id,
                scopes
            ),
        )
        .await?;
        Ok(IssuedToken {
            access_token: token,
            expires_in: ACCESS_TOKEN_SECONDS,
            scope: scopes.to_string(),
            patient: scopes.patient_context().map(str::to_owned),
        })
    }

    /// RFC 7009: revokes a token of this client (unknown tokens and other clients'
    /// tokens are ignored, as the RFC asks).
    pub async fn revoke_token(
        &self,
        client: &ApiClient,
        token: &str,
        address: &str,
    ) -> Result<(), VaultError> {
        let hash = token_hash(token);
        let Some(row) = self.inner.clients.token(&hash).await? else {
            return Ok(());
        };
        if row.client_id != client.id {
            return Ok(());
        }
        let now = rfc3339(self.clients_now());
        if self.inner.clients.revoke_token(&hash, &now).await? {
            self.inner.access.forget_sessions();
            let organisation = match &client.kind {
                ApiClientKind::System { organisation_id } => Some(organisation_id.as_str()),
                ApiClientKind::User { .. } => None,
            };
            self.client_auth_event(
                client_actor(&client.id, &client.name, organisation, address),
                Channel::Exchange,
                EventCode::Logout,
                Outcome::Success,
                "oauth-revoke",
                format!("access token {} revoked by its client", &hash[..12]),
            )
            .await?;
        }
        Ok(())
    }

    /// The principal and scopes behind a bearer token, checked on every request:
    /// unknown, expired and revoked tokens, revoked clients and disabled accounts are
    /// refused. A user client's token carries that account's principal (its access
    /// point the caller's address); a system client's token a [`Principal::System`].
    pub async fn principal_for_token(
        &self,
        token: &str,
        address: &str,
    ) -> Result<(Principal, Scopes), TokenError> {
        let now = self.clients_now().unix_timestamp();
        let hash = token_hash(token);
        // A token checked less than a second ago is trusted without reading the token,
        // client, account and roles again (changes made through this process clear the
        // cache at once; the second bounds how long another process's change goes unseen).
        let cached = self
            .inner
            .access
            .tokens
            .lock()
            .ok()
            .and_then(|m| m.get(&hash).cloned())
            .filter(|c| c.loaded.elapsed() < crate::access::SESSION_TTL);
        if let Some(c) = cached {
            if c.expires_unix < now {
                return Err(TokenError::Unauthenticated);
            }
            let mut principal = c.principal;
            principal.actor_mut().access_point = address.to_owned();
            return Ok((principal, c.scopes));
        }
        let clients = &self.inner.clients;
        let row = clients
            .token(&hash)
            .await
            .map_err(|_| TokenError::Unavailable)?
            .filter(|t| t.revoked_at.is_none() && t.expires_unix >= now)
            .ok_or(TokenError::Unauthenticated)?;
        let client = clients
            .client(&row.client_id)
            .await
            .map_err(|_| TokenError::Unavailable)?
            .as_ref()
            .and_then(client_from_row)
            .ok_or(TokenError::Unauthenticated)?;
        let scopes = Scopes::parse(&row.scopes)
            .map_err(|_| TokenError::Unauthenticated)?
            .with_patient(row.patient_id.clone());
        let principal = match (&client.kind, row.user_id.as_deref()) {
            (ApiClientKind::System { organisation_id }, None) => self
                .system_principal(&client, organisation_id, address)
                .ok_or(TokenError::Unauthenticated)?,
            (ApiClientKind::User { user_id }, Some(token_user)) if user_id == token_user => {
                let mut p = self
                    .user_principal(user_id, address)
                    .await
                    .map_err(|_| TokenError::Unavailable)?
                    .ok_or(TokenError::Unauthenticated)?;
                // The audit trail shows through which app the person acted.
                let actor = actor_mut(&mut p);
                let name = actor
                    .display
                    .take()
                    .unwrap_or_else(|| actor.user_id.clone());
                actor.display = Some(format!("{name} (via {})", client.name));
                p
            }
            _ => return Err(TokenError::Unauthenticated),
        };
        if let Ok(mut m) = self.inner.access.tokens.lock() {
            if m.len() >= crate::access::MAX_CACHED_CREDENTIALS {
                m.clear();
            }
            m.insert(
                hash,
                crate::access::CachedToken {
                    loaded: std::time::Instant::now(),
                    expires_unix: row.expires_unix,
                    principal: principal.clone(),
                    scopes: scopes.clone(),
                },
            );
        }
        Ok((principal, scopes))
    }

    /// The principal of an enabled account by id.
    async fn user_principal(
        &self,
        user_id: &str,
        address: &str,
    ) -> Result<Option<Principal>, VaultError> {
        let Some(user) = self.inner.accounts.user_by_id(user_id).await? else {
            return Ok(None);
        };
        if user.disabled {
            return Ok(None);
        }
        self.principal_for_user(&user, None, address).await
    }

    fn system_principal(
        &self,
        client: &ApiClient,
        organisation_id: &str,
        address: &str,
    ) -> Option<Principal> {
        let organisation = self.inner.access.organisation(organisation_id)?;
        Some(Principal::System(Box::new(SystemClient {
            actor: client_actor(&client.id, &client.name, Some(organisation_id), address),
            organisation,
        })))
    }
}

/// The scopes granted for a request: the requested ones the client is registered for
/// (all of them when none are requested), without patient scopes when no patient can be
/// in context.
fn grant_scopes(
    requested: Option<&str>,
    registered: &Scopes,
    patients: &[String],
) -> Result<Scopes, OAuthError> {
    let mut granted = match requested.map(str::trim) {
        None | Some("") => registered.clone().with_patient(None),
        Some(r) => Scopes::parse_lenient(r).narrowed_to(registered),
    };
    if granted.wants_patient() && patients.is_empty() {
        granted = granted.without_patient_scopes();
    }
    if granted.is_empty() {
        return Err(OAuthError::InvalidScope(
            "none of the requested scopes can be granted to this client".into(),
        ));
    }
    Ok(granted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256_is_unpadded_base64url_of_sha256() {
        assert_eq!(
            pkce_s256("dBjftJeZ4CVP-mJ92K1sUmZJeEqnrYpS3y3jbMcNFoc"),
            "dtO_tg-WbSMYiFYF7wRmKePh3Gb3c_r5K7zDUhOFAGs"
        );
        assert!(valid_verifier(
            "dBjftJeZ4CVP-mJ92K1sUmZJeEqnrYpS3y3jbMcNFoc"
        ));
        assert!(!valid_verifier("short"));
    }

    #[test]
    fn redirect_uris_are_https_or_loopback_without_fragment() {
        assert!(valid_redirect_uri("https://app.example.nl/callback"));
        assert!(valid_redirect_uri("http://127.0.0.1:8765/cb"));
        assert!(valid_redirect_uri("http://localhost/cb"));
        assert!(!valid_redirect_uri("http://app.example.nl/callback"));
        assert!(!valid_redirect_uri("http://localhost.evil.example/cb"));
        assert!(!valid_redirect_uri("https://app.example.nl/cb#x"));
        assert!(!valid_redirect_uri("javascript:alert(1)"));
        assert!(!valid_redirect_uri("https:///x"));
    }

    #[test]
    fn granted_scopes_are_narrowed_and_lose_patient_scopes_without_a_patient() {
        let registered = Scopes::parse("user/*.read patient/*.read launch/patient").unwrap();
        let staff = grant_scopes(Some("user/*.read patient/*.read"), &registered, &[]).unwrap();
        assert_eq!(staff.to_string(), "user/*.read");
        assert!(grant_scopes(Some("patient/*.read"), &registered, &[]).is_err());
        let patient = grant_scopes(None, &registered, &["p1".into()]).unwrap();
        assert_eq!(patient.to_string(), registered.to_string());
        assert!(matches!(
            grant_scopes(Some("system/*.*"), &registered, &[]),
            Err(OAuthError::InvalidScope(_))
        ));
    }
}
