//! Login, logout and sessions over HTTP (HP-5, PT-6, CO-8).
//!
//! - Sessions live server-side; the browser holds a random token in a cookie that is
//!   `HttpOnly`, `Secure` and `SameSite=Strict`; the database holds only its hash. Every
//!   login makes a new token (rotation); logout and disabling an account revoke it; idle
//!   and absolute timeouts are checked on every request.
//! - Every state-changing form carries a CSRF token bound to the session (or, for the
//!   login form, to a pre-login cookie), checked before anything happens.
//! - Login attempts are throttled per account and per address; every login, failure,
//!   lockout and logout is in the audit trail with address and device.

mod pages;

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRef, FromRequestParts, Query, State};
use axum::http::header::{COOKIE, SET_COOKIE, USER_AGENT};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use zorgkluis_auth::token_hash;
use zorgkluis_vault::{LoginAttempt, LoginError, Principal, CONFIDENTIALITY_VERSION};

use crate::AppState;
pub use pages::{escape as escape_html, Lang};

/// The session cookie.
pub const SESSION_COOKIE: &str = "zk_session";
/// The pre-login cookie the login form's CSRF token is bound to.
pub const LOGIN_COOKIE: &str = "zk_login";

/// Routes of this feature.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login", get(login_form).post(login))
        .route("/logout", post(logout))
        .route("/me", get(me))
        .route("/confidentiality", post(accept_confidentiality))
}

/// The value of one cookie.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn set_cookie(name: &str, value: &str, max_age: Option<i64>) -> HeaderValue {
    let age = max_age.map_or(String::new(), |a| format!("; Max-Age={a}"));
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; HttpOnly; Secure; SameSite=Strict{age}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The client address (the socket peer; a reverse proxy's address when behind one).
pub struct ClientAddress(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map_or_else(|| "unknown".into(), |c| c.0.ip().to_string()),
        ))
    }
}

/// A logged-in user: the principal every handler passes to the vault.
pub struct Session {
    /// Who.
    pub principal: Principal,
    /// The session id (hash of the token), for CSRF tokens.
    pub session_id: String,
    /// The raw token (to end the session).
    token: String,
}

/// Why a request has no session.
pub enum SessionRejection {
    /// Not logged in (or expired, revoked, disabled): log in again.
    Login,
    /// The session store failed.
    Unavailable,
}

impl IntoResponse for SessionRejection {
    fn into_response(self) -> Response {
        match self {
            Self::Login => Redirect::to("/login").into_response(),
            Self::Unavailable => {
                (StatusCode::SERVICE_UNAVAILABLE, "try again later").into_response()
            }
        }
    }
}

impl<S> FromRequestParts<S> for Session
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = SessionRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = AppState::from_ref(state);
        let ClientAddress(address) = ClientAddress::from_request_parts(parts, &state)
            .await
            .unwrap_or_else(|never| match never {});
        let token = cookie(&parts.headers, SESSION_COOKIE)
            .ok_or(SessionRejection::Login)?
            .to_owned();
        match state.vault.principal_for_session(&token, &address).await {
            Ok(principal) => Ok(Session {
                principal,
                session_id: token_hash(&token),
                token,
            }),
            Err(zorgkluis_vault::SessionError::Unauthenticated) => Err(SessionRejection::Login),
            Err(zorgkluis_vault::SessionError::Unavailable) => Err(SessionRejection::Unavailable),
        }
    }
}

impl AppState {
    /// The CSRF token of a session.
    pub fn csrf_for(&self, session_id: &str) -> String {
        self.csrf.token_for(session_id)
    }

    /// Checks a form's CSRF token against the session.
    pub fn csrf_ok(&self, session_id: &str, token: &str) -> bool {
        self.csrf.verify(session_id, token)
    }
}

#[derive(Deserialize)]
struct LangQuery {
    lang: Option<String>,
    next: Option<String>,
}

/// Where to go after logging in: a path on this server only (never another site).
pub fn safe_next(next: &str) -> Option<&str> {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && next.len() < 2000
        && next.chars().all(|c| !c.is_control());
    ok.then_some(next)
}

async fn login_form(
    State(state): State<AppState>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
) -> Response {
    let lang = Lang::pick(q.lang.as_deref(), &headers);
    let pre = cookie(&headers, LOGIN_COOKIE)
        .map(str::to_owned)
        .unwrap_or_else(zorgkluis_auth::new_secret_token);
    let csrf = state.csrf_for(&format!("login:{pre}"));
    let next = q.next.as_deref().and_then(safe_next).unwrap_or("");
    let mut response = pages::login(lang, &csrf, None, false, "", next).into_response();
    response
        .headers_mut()
        .append(SET_COOKIE, set_cookie(LOGIN_COOKIE, &pre, Some(3600)));
    response
}

#[derive(Deserialize)]
struct LoginForm {
    login: String,
    password: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    lang: String,
    #[serde(default)]
    next: String,
}

async fn login(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let lang = Lang::pick(Some(&form.lang), &headers);
    let pre = cookie(&headers, LOGIN_COOKIE).unwrap_or("").to_owned();
    if pre.is_empty() || !state.csrf_ok(&format!("login:{pre}"), &form.csrf) {
        return (StatusCode::FORBIDDEN, pages::message(lang, lang.t("csrf"))).into_response();
    }
    let csrf = form.csrf.as_str();
    let next = safe_next(&form.next).unwrap_or("");
    let user_agent = headers
        .get(USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("unknown");
    let attempt = LoginAttempt {
        login: &form.login,
        password: &form.password,
        second_factor: Some(form.code.as_str()).filter(|c| !c.trim().is_empty()),
        address: &address,
        user_agent,
    };
    match state.vault.login(&state.throttle, attempt).await {
        Ok(session) => {
            let target = if next.is_empty() { "/" } else { next };
            let mut response = Redirect::to(target).into_response();
            let headers = response.headers_mut();
            headers.append(SET_COOKIE, set_cookie(SESSION_COOKIE, &session.token, None));
            headers.append(SET_COOKIE, set_cookie(LOGIN_COOKIE, "", Some(0)));
            response
        }
        Err(LoginError::SecondFactorRequired) => (
            StatusCode::UNAUTHORIZED,
            pages::login(
                lang,
                csrf,
                Some(lang.t("need-code")),
                true,
                &form.login,
                next,
            ),
        )
            .into_response(),
        Err(LoginError::Invalid) => (
            StatusCode::UNAUTHORIZED,
            pages::login(
                lang,
                csrf,
                Some(lang.t("invalid")),
                false,
                &form.login,
                next,
            ),
        )
            .into_response(),
        Err(LoginError::Locked { until }) => {
            let mut r = (
                StatusCode::TOO_MANY_REQUESTS,
                pages::login(
                    lang,
                    csrf,
                    Some(&format!("{} {until}", lang.t("locked"))),
                    false,
                    "",
                    next,
                ),
            )
                .into_response();
            r.headers_mut()
                .insert("retry-after", HeaderValue::from_static("60"));
            r
        }
        Err(LoginError::Unavailable) => (
            StatusCode::SERVICE_UNAVAILABLE,
            pages::message(lang, lang.t("unavailable")),
        )
            .into_response(),
    }
}

async fn me(
    State(state): State<AppState>,
    session: Session,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
) -> Response {
    let lang = Lang::pick(q.lang.as_deref(), &headers);
    let csrf = state.csrf_for(&session.session_id);
    pages::me(lang, &session.principal, &csrf).into_response()
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    lang: String,
}

async fn logout(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    session: Session,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    let lang = Lang::pick(Some(&form.lang), &headers);
    if !state.csrf_ok(&session.session_id, &form.csrf) {
        return (StatusCode::FORBIDDEN, pages::message(lang, lang.t("csrf"))).into_response();
    }
    if let Err(e) = state.vault.logout(&session.token, &address).await {
        tracing::error!(error = %e, "logout");
    }
    let mut response = Redirect::to("/login").into_response();
    response
        .headers_mut()
        .append(SET_COOKIE, set_cookie(SESSION_COOKIE, "", Some(0)));
    response
}

async fn accept_confidentiality(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    let lang = Lang::pick(Some(&form.lang), &headers);
    if !state.csrf_ok(&session.session_id, &form.csrf) {
        return (StatusCode::FORBIDDEN, pages::message(lang, lang.t("csrf"))).into_response();
    }
    let actor = session.principal.actor();
    let (Principal::Staff(_), Some(org)) = (&session.principal, actor.organisation.as_deref())
    else {
        return Redirect::to("/me").into_response();
    };
    match state
        .vault
        .accept_confidentiality(&actor.user_id, org, CONFIDENTIALITY_VERSION)
        .await
    {
        Ok(()) => Redirect::to("/").into_response(),
        Err(e) => {
            tracing::error!(error = %e, "accepting the confidentiality agreement");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                pages::message(lang, lang.t("unavailable")),
            )
                .into_response()
        }
    }
}
