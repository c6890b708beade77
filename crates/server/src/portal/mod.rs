//! The web application at `/`: the patient portal (patients and representatives), the
//! care-staff pages and the privacy officer's pages. Server-rendered HTML (askama
//! templates under `crates/server/templates`) that works without JavaScript; texts in
//! `crates/server/i18n`; one stylesheet; charts as SVG rendered here.
//!
//! Every page that shows or changes patient data calls the [`Vault`](zorgkluis_vault::Vault)
//! with the logged-in principal, so each goes through the one access-decision point and
//! leaves its audit event; no page reads storage. Errors render as readable pages that
//! never show internals.

pub mod care;
pub mod chart;
pub mod fhirtext;
pub mod log;
pub mod privacy;
pub mod record;
pub mod staff;

use askama::Template;
use axum::extract::{FromRef, FromRequestParts, Query};
use axum::http::header::{CONTENT_TYPE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use zorgkluis_policy::StaffRole;
use zorgkluis_vault::{Principal, VaultError};

use crate::auth::{cookie, safe_next, Session, SessionRejection};
use crate::i18n::{Lang, LANG_COOKIE};
use crate::AppState;

/// The cookie naming which represented patient a representative is acting for.
pub const ACTING_COOKIE: &str = "zk_for";

/// Routes of the web application.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/lang", get(switch_language))
        .route("/static/zorgkluis.css", get(stylesheet))
        .route("/favicon.ico", get(icon))
        .route("/static/icon.svg", get(icon))
        .merge(record::router())
        .merge(care::router())
        .merge(log::router())
        .merge(staff::router())
        .merge(privacy::router())
}

// ---------------------------------------------------------------------------------------
// The frame of every page.

/// The logged-in user as the header shows them.
pub struct UserBar {
    /// Display name.
    pub name: String,
    /// Role, translated.
    pub role: String,
    /// Organisation id (staff).
    pub organisation: String,
}

/// One menu entry.
pub struct NavItem {
    /// Target.
    pub href: &'static str,
    /// Translation key of the label.
    pub label: &'static str,
    /// This page.
    pub current: bool,
    /// A count to show (e.g. open requests), 0 for none.
    pub badge: usize,
}

/// Everything `base.html` needs: language, title, user, menu, CSRF token, banners.
pub struct Chrome {
    /// Page language.
    pub lang: Lang,
    /// Page title (already translated).
    pub title: String,
    /// CSRF token for forms on this page ("" when not logged in).
    pub csrf: String,
    /// Who is logged in.
    pub user: Option<UserBar>,
    /// The menu.
    pub nav: Vec<NavItem>,
    /// For a representative: the name of the patient they act for.
    pub acting_for: Option<String>,
    /// The representative acts for more than one person.
    pub can_switch_person: bool,
    /// This page's path (for the language switch).
    pub path: String,
    /// A confirmation to show.
    pub flash: Option<String>,
    /// An error to show.
    pub error: Option<String>,
}

impl Chrome {
    /// A translated text (`area.key`).
    pub fn t(&self, key: &str) -> &'static str {
        self.lang.text(key)
    }

    /// A frame for a page without a logged-in user (landing page, errors).
    pub fn anonymous(lang: Lang, title: &str, path: &str) -> Self {
        Self {
            lang,
            title: title.to_owned(),
            csrf: String::new(),
            user: None,
            nav: Vec::new(),
            acting_for: None,
            can_switch_person: false,
            path: path.to_owned(),
            flash: None,
            error: None,
        }
    }
}

/// Renders a template as a page (a failure to render is a plain 500 page, never details).
pub fn render<T: Template>(template: &T) -> Response {
    match template.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "rendering a page");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Html("<!doctype html><title>Zorgkluis</title><p>Er ging iets mis. Something went wrong.</p>"),
            )
                .into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage<'a> {
    c: Chrome,
    text: &'a str,
    link: Option<(&'a str, &'a str)>,
}

/// A page with one message.
pub fn message_page(c: Chrome, text: &str, link: Option<(&str, &str)>) -> Response {
    render(&MessagePage { c, text, link })
}

// ---------------------------------------------------------------------------------------
// The logged-in user of a portal page.

/// A logged-in user on a portal page: the session, the language and this page's path.
/// Use [`Portal::chrome`] for the frame and pass [`Portal::principal`] to the vault.
pub struct Portal {
    /// The session (principal inside).
    pub session: Session,
    /// The page language.
    pub lang: Lang,
    /// Path and query of this request.
    pub path: String,
    /// The represented patient chosen by a representative (from the cookie).
    acting_cookie: Option<String>,
    csrf: String,
    /// The staff member's organisation, by name.
    organisation_name: Option<String>,
    /// Display names of people, for the header and the acting-for banner.
    patient_names: Vec<(String, String)>,
}

/// Why a portal page is not shown.
pub enum PortalRejection {
    /// Not logged in: to the login page, coming back here afterwards.
    Login(String),
    /// The session store failed.
    Unavailable(Lang),
}

impl IntoResponse for PortalRejection {
    fn into_response(self) -> Response {
        match self {
            Self::Login(next) => {
                Redirect::to(&format!("/login?next={}", urlencode(&next))).into_response()
            }
            Self::Unavailable(lang) => PortalError::Unavailable.page(lang),
        }
    }
}

impl<S> FromRequestParts<S> for Portal
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = PortalRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let app = AppState::from_ref(state);
        let lang = Lang::pick(None, &parts.headers);
        let path = parts
            .uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned();
        let session = match Session::from_request_parts(parts, state).await {
            Ok(s) => s,
            Err(SessionRejection::Login) => return Err(PortalRejection::Login(path)),
            Err(SessionRejection::Unavailable) => return Err(PortalRejection::Unavailable(lang)),
        };
        let csrf = app.csrf_for(&session.session_id);
        let acting_cookie = cookie(&parts.headers, ACTING_COOKIE).map(str::to_owned);
        let organisation_name = match &session.principal {
            Principal::Staff(s) => app.vault.organisation_name(&s.organisation.id).await,
            _ => None,
        };
        Ok(Self {
            organisation_name,
            session,
            lang,
            path,
            acting_cookie,
            csrf,
            patient_names: Vec::new(),
        })
    }
}

impl Portal {
    /// Who is asking (pass this to the vault).
    pub fn principal(&self) -> &Principal {
        &self.session.principal
    }

    /// The CSRF token for this page's forms.
    pub fn csrf(&self) -> &str {
        &self.csrf
    }

    /// Checks a submitted form's CSRF token.
    pub fn check_csrf(&self, state: &AppState, token: &str) -> Result<(), PortalError> {
        if state.csrf_ok(&self.session.session_id, token) {
            Ok(())
        } else {
            Err(PortalError::Csrf)
        }
    }

    /// The staff member, if this is one (with the confidentiality agreement accepted).
    pub fn staff(&self) -> Result<&zorgkluis_policy::Staff, PortalError> {
        match self.principal() {
            Principal::Staff(s) if s.confidentiality_accepted => Ok(s),
            Principal::Staff(_) => Err(PortalError::NeedsConfidentiality),
            _ => Err(PortalError::Forbidden),
        }
    }

    /// Whether this is the privacy officer.
    pub fn is_privacy_officer(&self) -> bool {
        matches!(self.principal(), Principal::Staff(s) if s.role == StaffRole::PrivacyOfficer)
    }

    /// The patient whose portal this is: the patient themself, or the person a
    /// representative acts for (chosen with the cookie, else the first). Staff have none.
    pub fn patient_id(&self) -> Result<String, PortalError> {
        match self.principal() {
            Principal::Patient { patient_id, .. } => Ok(patient_id.clone()),
            Principal::Representative { represents, .. } => {
                let chosen = self
                    .acting_cookie
                    .as_deref()
                    .and_then(|c| represents.iter().find(|(p, _)| p == c));
                chosen
                    .or_else(|| represents.first())
                    .map(|(p, _)| p.clone())
                    .ok_or(PortalError::Forbidden)
            }
            _ => Err(PortalError::Forbidden),
        }
    }

    /// Records the display name of a patient (the representative banner uses it).
    pub fn set_patient_name(&mut self, patient_id: &str, name: &str) {
        self.patient_names
            .push((patient_id.to_owned(), name.to_owned()));
    }

    /// The frame of a page with this title (a translation key) and menu.
    pub fn chrome(&self, title_key: &str) -> Chrome {
        let principal = self.principal();
        let actor = principal.actor();
        let name = actor
            .display
            .clone()
            .unwrap_or_else(|| actor.user_id.clone());
        let (role, organisation) = match principal {
            Principal::Staff(s) => (
                self.lang
                    .text(&format!("common.role-{}", s.role.code()))
                    .to_owned(),
                self.organisation_name
                    .clone()
                    .unwrap_or_else(|| s.organisation.id.clone()),
            ),
            Principal::Patient { .. } => (String::new(), String::new()),
            Principal::Representative { .. } => (
                self.lang.text("common.role-representative").to_owned(),
                String::new(),
            ),
            _ => (String::new(), String::new()),
        };
        let nav_items: &[(&'static str, &'static str)] = match principal {
            Principal::Patient { .. } | Principal::Representative { .. } => &[
                ("/patient", "common.nav-overview"),
                ("/patient/record", "common.nav-record"),
                ("/patient/results", "common.nav-results"),
                ("/patient/appointments", "common.nav-appointments"),
                ("/patient/messages", "common.nav-messages"),
                ("/patient/log", "common.nav-log"),
                ("/patient/links", "common.nav-links"),
                ("/patient/notes", "common.nav-notes"),
                ("/patient/access-log", "common.nav-access-log"),
                ("/patient/details", "common.nav-details"),
            ],
            Principal::Staff(s) if s.role == StaffRole::PrivacyOfficer => &[
                ("/privacy-officer/audit", "common.nav-audit"),
                ("/privacy-officer/review", "common.nav-review"),
            ],
            Principal::Staff(s) if s.confidentiality_accepted => &[
                ("/staff", "common.nav-my-patients"),
                ("/staff/search", "common.nav-search"),
                ("/staff/inbox", "common.nav-inbox"),
                ("/staff/links", "common.nav-link-requests"),
                ("/staff/agenda", "common.nav-agenda"),
            ],
            _ => &[],
        };
        let here = self.path.split('?').next().unwrap_or("/");
        let nav = nav_items
            .iter()
            .map(|(href, label)| NavItem {
                href,
                label,
                // The longest matching menu entry is the current one.
                current: here == *href
                    || (here.starts_with(&format!("{href}/"))
                        && !nav_items.iter().any(|(h, _)| {
                            h.len() > href.len()
                                && (here == *h || here.starts_with(&format!("{h}/")))
                        })),
                badge: 0,
            })
            .collect();
        let (acting_for, can_switch_person) = match principal {
            Principal::Representative { represents, .. } => {
                let current = self.patient_id().unwrap_or_default();
                let name = self
                    .patient_names
                    .iter()
                    .find(|(p, _)| *p == current)
                    .map_or(current.clone(), |(_, n)| n.clone());
                (Some(name), represents.len() > 1)
            }
            _ => (None, false),
        };
        Chrome {
            lang: self.lang,
            title: self.lang.text(title_key).to_owned(),
            csrf: self.csrf.clone(),
            user: Some(UserBar {
                name,
                role,
                organisation,
            }),
            nav,
            acting_for,
            can_switch_person,
            path: self.path.clone(),
            flash: None,
            error: None,
        }
    }

    /// The page of an error, in this user's language and frame.
    pub fn error_page(&self, error: PortalError) -> Response {
        error.page_with(self.chrome("common.error-title"))
    }
}

// ---------------------------------------------------------------------------------------
// Errors.

/// Why a page cannot do what was asked. Rendered as a readable page; never shows
/// internals (they go to the server log).
#[derive(Debug)]
pub enum PortalError {
    /// Refused by the decision point (the refusal is in the audit trail).
    Forbidden,
    /// No such page or item.
    NotFound,
    /// The input is not right; the text says what (translated).
    BadRequest(String),
    /// The form's CSRF token is wrong or expired.
    Csrf,
    /// Staff must accept the confidentiality agreement first.
    NeedsConfidentiality,
    /// Storage is unavailable; try again.
    Unavailable,
}

impl PortalError {
    /// From a vault error (refusals and missing resources both answer "no access", as
    /// the API does, so a URL never tells whether something exists).
    pub fn from_vault(e: VaultError) -> Self {
        match e {
            VaultError::Forbidden | VaultError::NotFound => Self::Forbidden,
            VaultError::Gone | VaultError::Shredded => Self::NotFound,
            VaultError::Invalid(issues) => Self::BadRequest(
                issues
                    .iter()
                    .map(|i| i.message.clone())
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
            other => {
                tracing::error!(error = %other, "portal: vault error");
                Self::Unavailable
            }
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            Self::Forbidden | Self::NeedsConfidentiality | Self::Csrf => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The error page in a frame.
    pub fn page_with(self, mut c: Chrome) -> Response {
        let status = self.status();
        let (title, text): (&str, String) = match &self {
            Self::Forbidden => ("common.forbidden-title", c.t("common.forbidden").into()),
            Self::NotFound => ("common.not-found-title", c.t("common.not-found").into()),
            Self::BadRequest(why) => ("common.bad-request-title", why.clone()),
            Self::Csrf => ("common.error-title", c.t("common.csrf").into()),
            Self::NeedsConfidentiality => (
                "common.forbidden-title",
                c.t("common.confidentiality-needed").into(),
            ),
            Self::Unavailable => ("common.unavailable-title", c.t("common.unavailable").into()),
        };
        c.title = c.t(title).to_owned();
        let link = if matches!(self, Self::NeedsConfidentiality) {
            ("/me", c.t("common.open"))
        } else {
            ("/", c.t("common.back-home"))
        };
        let mut response = message_page(c, &text, Some(link));
        *response.status_mut() = status;
        response
    }

    /// The error page without a logged-in frame.
    pub fn page(self, lang: Lang) -> Response {
        self.page_with(Chrome::anonymous(lang, "", "/"))
    }
}

/// Runs a page body; on error renders the error page in the user's frame.
pub fn page_or_error(portal: &Portal, result: Result<Response, PortalError>) -> Response {
    match result {
        Ok(r) => r,
        Err(e) => portal.error_page(e),
    }
}

// ---------------------------------------------------------------------------------------
// Small helpers for pages.

/// Percent-encodes a query value.
pub fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A redirect after a successful form post (303, so reload does not resubmit).
pub fn see_other(path: &str) -> Response {
    Redirect::to(path).into_response()
}

/// Today's date in the Netherlands (Europe/Amsterdam is UTC+1/+2; the date part is what
/// matters for the pages, taken from the vault's clock).
pub fn today(state: &AppState) -> time::Date {
    state.vault.now().date()
}

// ---------------------------------------------------------------------------------------
// Handlers of the frame.

async fn home(headers: HeaderMap, parts: Option<Portal>) -> Response {
    let Some(portal) = parts else {
        let lang = Lang::pick(None, &headers);
        #[derive(Template)]
        #[template(path = "landing.html")]
        struct Landing {
            c: Chrome,
        }
        let c = Chrome::anonymous(lang, lang.text("common.landing-title"), "/");
        return render(&Landing { c });
    };
    let to = match portal.principal() {
        Principal::Patient { .. } | Principal::Representative { .. } => "/patient",
        Principal::Staff(s) if !s.confidentiality_accepted => "/me",
        Principal::Staff(s) if s.role == StaffRole::PrivacyOfficer => "/privacy-officer/audit",
        Principal::Staff(_) => "/staff",
        _ => "/me",
    };
    Redirect::to(to).into_response()
}

impl<S> axum::extract::OptionalFromRequestParts<S> for Portal
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(
            <Portal as FromRequestParts<S>>::from_request_parts(parts, state)
                .await
                .ok(),
        )
    }
}

#[derive(Deserialize)]
struct LangSwitch {
    to: String,
    #[serde(default)]
    back: String,
}

/// Sets the language (a functional cookie, one year) and returns to the page.
async fn switch_language(Query(q): Query<LangSwitch>) -> Response {
    let lang = Lang::parse(&q.to).unwrap_or(Lang::Nl);
    let back = safe_next(&q.back).unwrap_or("/");
    let mut response = Redirect::to(back).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{LANG_COOKIE}={}; Path=/; Max-Age=31536000; Secure; SameSite=Lax",
        lang.code()
    )) {
        response.headers_mut().append(SET_COOKIE, v);
    }
    response
}

async fn stylesheet() -> Response {
    (
        [
            (CONTENT_TYPE, "text/css; charset=utf-8"),
            (axum::http::header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../static/zorgkluis.css"),
    )
        .into_response()
}

async fn icon() -> Response {
    (
        [
            (CONTENT_TYPE, "image/svg+xml"),
            (axum::http::header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        include_str!("../../static/icon.svg"),
    )
        .into_response()
}

/// Any other path: a readable "not found" page (under `/fhir`, an OperationOutcome).
pub async fn not_found(uri: axum::http::Uri, headers: HeaderMap) -> Response {
    if uri.path().starts_with("/fhir") {
        let body = serde_json::json!({
            "resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": "not-found",
                       "diagnostics": "no such FHIR endpoint"}]
        });
        return (
            StatusCode::NOT_FOUND,
            [(CONTENT_TYPE, "application/fhir+json")],
            body.to_string(),
        )
            .into_response();
    }
    PortalError::NotFound.page(Lang::pick(None, &headers))
}
