//! OAuth 2 / SMART on FHIR for API clients: discovery, the authorization-code flow with
//! PKCE (through the web login and a consent page), the client-credentials grant, token
//! revocation (RFC 7009), and [`bearer_caller`] for `Authorization: Bearer` requests.
//!
//! The logic lives in the vault (`Vault::register_client`, `Vault::principal_for_token`,
//! …); this module only speaks HTTP. Scopes only narrow: the decision point still decides
//! every access on the principal's own rights.
//!
//! The authorize endpoint needs a web session: without one it sends the user to `/login`,
//! which brings them back to the consent page after logging in.

mod pages;

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::header::{AUTHORIZATION, HOST, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::json;
use zorgkluis_vault::{
    ApiClient, AuthorizationRequest, AuthorizeError, IssuedToken, OAuthError, Principal, TokenError,
};

pub use zorgkluis_vault::{Scope, ScopeContext, Scopes};

use crate::auth::{ClientAddress, Lang, Session, SessionRejection};
use crate::AppState;

/// Routes of this feature.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/.well-known/smart-configuration", get(smart_configuration))
        .route("/oauth/authorize", get(authorize_form).post(authorize))
        .route("/oauth/token", post(token))
        .route("/oauth/revoke", post(revoke))
}

/// Why a bearer token is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BearerError {
    /// Unknown, expired or revoked token, revoked client or disabled account (401).
    InvalidToken,
    /// The token store failed (503).
    Unavailable,
}

impl IntoResponse for BearerError {
    fn into_response(self) -> Response {
        match self {
            Self::InvalidToken => {
                let mut r = (
                    StatusCode::UNAUTHORIZED,
                    Json(json!({"error": "invalid_token", "error_description": "the access token is not valid"})),
                )
                    .into_response();
                r.headers_mut().insert(
                    WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"zorgkluis\", error=\"invalid_token\""),
                );
                r
            }
            Self::Unavailable => {
                (StatusCode::SERVICE_UNAVAILABLE, "try again later").into_response()
            }
        }
    }
}

/// The principal and scopes behind a bearer token (for the FHIR layer), checked on every
/// request: expiry, revocation, the client and (for user clients) the account. For a user
/// client the principal is that account's, with the caller's address as access point; for
/// a system client a `Principal::System`.
pub async fn bearer_caller(
    state: &AppState,
    token: &str,
    address: &str,
) -> Result<(Principal, Scopes), BearerError> {
    state
        .vault
        .principal_for_token(token, address)
        .await
        .map_err(|e| match e {
            TokenError::Unauthenticated => BearerError::InvalidToken,
            TokenError::Unavailable => BearerError::Unavailable,
        })
}

/// `http(s)://host` as the client sees it.
fn origin(headers: &HeaderMap) -> String {
    let host = headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            h.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '-' | '[' | ']'))
        })
        .unwrap_or("localhost");
    let scheme = match headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
    {
        Some("https") => "https",
        _ => "http",
    };
    format!("{scheme}://{host}")
}

/// The scopes this server understands.
pub const SCOPES_SUPPORTED: &[&str] = &[
    "openid",
    "fhirUser",
    "launch/patient",
    "offline_access",
    "patient/*.read",
    "patient/*.write",
    "patient/*.*",
    "user/*.read",
    "user/*.write",
    "user/*.*",
    "system/*.read",
    "system/*.write",
    "system/*.*",
];

/// `GET /.well-known/smart-configuration`.
async fn smart_configuration(headers: HeaderMap) -> Json<serde_json::Value> {
    let origin = origin(&headers);
    Json(json!({
        "issuer": origin,
        "authorization_endpoint": format!("{origin}/oauth/authorize"),
        "token_endpoint": format!("{origin}/oauth/token"),
        "revocation_endpoint": format!("{origin}/oauth/revoke"),
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "grant_types_supported": ["authorization_code", "client_credentials"],
        "response_types_supported": ["code"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": SCOPES_SUPPORTED,
        "capabilities": [
            "client-confidential-symmetric",
            "launch-standalone",
            "context-standalone-patient",
            "permission-patient",
            "permission-user",
        ],
    }))
}

// ---------------------------------------------------------------------------------------
// Authorization (the user's consent).

#[derive(Debug, Default, serde::Deserialize)]
struct AuthorizeParams {
    #[serde(default)]
    response_type: String,
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    redirect_uri: String,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    code_challenge: String,
    #[serde(default)]
    code_challenge_method: String,
    #[serde(default)]
    lang: Option<String>,
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    decision: String,
    #[serde(default)]
    patient: Option<String>,
}

impl AuthorizeParams {
    fn request(&self) -> AuthorizationRequest<'_> {
        AuthorizationRequest {
            response_type: &self.response_type,
            client_id: &self.client_id,
            redirect_uri: &self.redirect_uri,
            scope: &self.scope,
            code_challenge: &self.code_challenge,
            code_challenge_method: &self.code_challenge_method,
        }
    }
}

/// A redirect to the client's (registered) redirect URI with `params` added.
fn back_to_client(redirect_uri: &str, params: &[(&str, &str)]) -> Response {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (k, v) in params.iter().filter(|(_, v)| !v.is_empty()) {
        query.append_pair(k, v);
    }
    let sep = if redirect_uri.contains('?') { '&' } else { '?' };
    Redirect::to(&format!("{redirect_uri}{sep}{}", query.finish())).into_response()
}

fn authorize_failure(lang: Lang, p: &AuthorizeParams, e: AuthorizeError) -> Response {
    match e {
        AuthorizeError::NoRedirect(detail) => {
            (StatusCode::BAD_REQUEST, pages::request_error(lang, &detail)).into_response()
        }
        AuthorizeError::Redirect(OAuthError::ServerError) => (
            StatusCode::SERVICE_UNAVAILABLE,
            pages::message(lang, pages::t(lang, "unavailable")),
        )
            .into_response(),
        AuthorizeError::Redirect(e) => back_to_client(
            &p.redirect_uri,
            &[
                ("error", e.code()),
                ("error_description", &e.description()),
                ("state", &p.state),
            ],
        ),
    }
}

fn session_required(rejection: SessionRejection, uri: &axum::http::Uri) -> Response {
    // Not logged in: log in first, then come back to this consent page.
    match rejection {
        SessionRejection::Login => {
            let back = uri
                .path_and_query()
                .map_or("/oauth/authorize", |p| p.as_str());
            let next: String = form_urlencoded::byte_serialize(back.as_bytes()).collect();
            axum::response::Redirect::to(&format!("/login?next={next}")).into_response()
        }
        other => other.into_response(),
    }
}

/// `GET /oauth/authorize`: the consent page.
async fn authorize_form(
    State(state): State<AppState>,
    session: Result<Session, SessionRejection>,
    Query(p): Query<AuthorizeParams>,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> Response {
    let lang = Lang::pick(p.lang.as_deref(), &headers);
    let session = match session {
        Ok(s) => s,
        Err(r) => return session_required(r, &uri),
    };
    let pending = match state
        .vault
        .check_authorization(&session.principal, &p.request())
        .await
    {
        Ok(pending) => pending,
        Err(e) => return authorize_failure(lang, &p, e),
    };
    let csrf = state.csrf_for(&session.session_id);
    let lang_code = match lang {
        Lang::Nl => "nl",
        Lang::En => "en",
    };
    let hidden = [
        ("response_type", p.response_type.as_str()),
        ("client_id", &p.client_id),
        ("redirect_uri", &p.redirect_uri),
        ("scope", &p.scope),
        ("state", &p.state),
        ("code_challenge", &p.code_challenge),
        ("code_challenge_method", &p.code_challenge_method),
        ("csrf", &csrf),
        ("lang", lang_code),
    ];
    let actor = session.principal.actor();
    let name = actor.display.as_deref().unwrap_or(&actor.user_id);
    pages::consent(lang, &pending, name, &hidden).into_response()
}

/// `POST /oauth/authorize`: approve (a one-time code back to the app) or deny.
async fn authorize(
    State(state): State<AppState>,
    session: Result<Session, SessionRejection>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let p: AuthorizeParams = serde_urlencoded_params(&body);
    let lang = Lang::pick(p.lang.as_deref(), &headers);
    let session = match session {
        Ok(s) => s,
        Err(r) => return session_required(r, &uri),
    };
    if !state.csrf_ok(&session.session_id, &p.csrf) {
        return (
            StatusCode::FORBIDDEN,
            pages::message(lang, pages::t(lang, "csrf")),
        )
            .into_response();
    }
    if p.decision != "approve" {
        return match state
            .vault
            .check_authorization(&session.principal, &p.request())
            .await
        {
            Ok(_) => authorize_failure(
                lang,
                &p,
                AuthorizeError::Redirect(OAuthError::AccessDenied("the user denied access".into())),
            ),
            Err(e) => authorize_failure(lang, &p, e),
        };
    }
    match state
        .vault
        .issue_authorization_code(&session.principal, &p.request(), p.patient.as_deref())
        .await
    {
        Ok(code) => back_to_client(&p.redirect_uri, &[("code", &code), ("state", &p.state)]),
        Err(e) => authorize_failure(lang, &p, e),
    }
}

fn serde_urlencoded_params(body: &[u8]) -> AuthorizeParams {
    let map: HashMap<String, String> = form_urlencoded::parse(body).into_owned().collect();
    let get = |k: &str| map.get(k).cloned().unwrap_or_default();
    AuthorizeParams {
        response_type: get("response_type"),
        client_id: get("client_id"),
        redirect_uri: get("redirect_uri"),
        scope: get("scope"),
        state: get("state"),
        code_challenge: get("code_challenge"),
        code_challenge_method: get("code_challenge_method"),
        lang: map.get("lang").cloned(),
        csrf: get("csrf"),
        decision: get("decision"),
        patient: map.get("patient").cloned().filter(|p| !p.is_empty()),
    }
}

// ---------------------------------------------------------------------------------------
// Token and revocation endpoints.

/// An RFC 6749 error response.
fn oauth_error(status: StatusCode, code: &str, description: &str) -> Response {
    let mut r = (
        status,
        Json(json!({"error": code, "error_description": description})),
    )
        .into_response();
    if status == StatusCode::UNAUTHORIZED {
        r.headers_mut().insert(
            WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"zorgkluis\""),
        );
    }
    r.headers_mut()
        .insert("pragma", HeaderValue::from_static("no-cache"));
    r
}

fn from_oauth(e: &OAuthError) -> Response {
    let status = match e {
        OAuthError::InvalidClient => StatusCode::UNAUTHORIZED,
        OAuthError::ServerError => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::BAD_REQUEST,
    };
    oauth_error(status, e.code(), &e.description())
}

/// Form parameters; a parameter given twice is an error (RFC 6749 3.1, 3.2).
fn form_params(body: &[u8]) -> Result<HashMap<String, String>, OAuthError> {
    let mut out = HashMap::new();
    for (k, v) in form_urlencoded::parse(body).into_owned() {
        if out.insert(k.clone(), v).is_some() {
            return Err(OAuthError::InvalidRequest(format!(
                "parameter {k} is repeated"
            )));
        }
    }
    Ok(out)
}

fn percent_decode(s: &str) -> String {
    // `application/x-www-form-urlencoded` decoding of one value (RFC 6749 2.3.1).
    form_urlencoded::parse(format!("v={}", s.replace('&', "%26")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// Client authentication: HTTP Basic or `client_id` / `client_secret` in the form (not
/// both).
async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
    address: &str,
) -> Result<ApiClient, OAuthError> {
    let basic = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Basic ")
                .or_else(|| v.strip_prefix("basic "))
        });
    let (id, secret) = match (basic, form.get("client_secret")) {
        (Some(_), Some(_)) => {
            return Err(OAuthError::InvalidRequest(
                "use one client authentication method".into(),
            ))
        }
        (Some(b), None) => {
            let decoded = STANDARD
                .decode(b.trim())
                .ok()
                .and_then(|d| String::from_utf8(d).ok())
                .ok_or(OAuthError::InvalidClient)?;
            let (id, secret) = decoded.split_once(':').ok_or(OAuthError::InvalidClient)?;
            (percent_decode(id), percent_decode(secret))
        }
        (None, Some(secret)) => (
            form.get("client_id").cloned().unwrap_or_default(),
            secret.clone(),
        ),
        (None, None) => return Err(OAuthError::InvalidClient),
    };
    if let Some(form_id) = form.get("client_id") {
        if *form_id != id {
            return Err(OAuthError::InvalidClient);
        }
    }
    state.vault.authenticate_client(&id, &secret, address).await
}

fn token_response(t: &IssuedToken) -> Response {
    let mut body = json!({
        "access_token": t.access_token,
        "token_type": "Bearer",
        "expires_in": t.expires_in,
        "scope": t.scope,
    });
    if let Some(p) = &t.patient {
        body["patient"] = json!(p);
    }
    let mut r = Json(body).into_response();
    r.headers_mut()
        .insert("pragma", HeaderValue::from_static("no-cache"));
    r
}

/// `POST /oauth/token`.
async fn token(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = match form_params(&body) {
        Ok(f) => f,
        Err(e) => return from_oauth(&e),
    };
    let client = match authenticate(&state, &headers, &form, &address).await {
        Ok(c) => c,
        Err(e) => return from_oauth(&e),
    };
    let get = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    let issued = match get("grant_type") {
        "authorization_code" => {
            state
                .vault
                .exchange_authorization_code(
                    &client,
                    get("code"),
                    get("redirect_uri"),
                    get("code_verifier"),
                    &address,
                )
                .await
        }
        "client_credentials" => {
            state
                .vault
                .issue_client_credentials_token(
                    &client,
                    form.get("scope").map(String::as_str),
                    &address,
                )
                .await
        }
        "" => Err(OAuthError::InvalidRequest("grant_type is missing".into())),
        _ => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "grant types: authorization_code, client_credentials",
            )
        }
    };
    match issued {
        Ok(t) => token_response(&t),
        Err(e) => from_oauth(&e),
    }
}

/// `POST /oauth/revoke` (RFC 7009): client-authenticated; 200 whether or not the token
/// was known.
async fn revoke(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = match form_params(&body) {
        Ok(f) => f,
        Err(e) => return from_oauth(&e),
    };
    let client = match authenticate(&state, &headers, &form, &address).await {
        Ok(c) => c,
        Err(e) => return from_oauth(&e),
    };
    let Some(token) = form.get("token").filter(|t| !t.is_empty()) else {
        return from_oauth(&OAuthError::InvalidRequest("token is missing".into()));
    };
    match state.vault.revoke_token(&client, token, &address).await {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => {
            tracing::error!(error = %e, "token revocation");
            from_oauth(&OAuthError::ServerError)
        }
    }
}
