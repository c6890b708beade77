//! The one place where errors become HTTP statuses and OperationOutcomes. Internal
//! details go to the log, never to the client; a 403 never says whether the thing exists.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use zorgkluis_fhir::{operation_outcome, Issue, IssueCode, Severity};
use zorgkluis_vault::VaultError;

use super::FHIR_JSON;

/// An error of the FHIR API.
#[derive(Debug)]
pub enum FhirError {
    /// 400: bad syntax, parameter or header.
    BadRequest(Vec<Issue>),
    /// 401: no valid credentials.
    Unauthenticated,
    /// 403: refused by the access policy (or by the token's scopes).
    Forbidden,
    /// 404.
    NotFound(String),
    /// 405: a write to the read-only audit trail (answered with `Allow: GET`, as RFC 9110
    /// asks; other unsupported methods never reach a handler: the router answers them).
    MethodNotAllowed(String),
    /// 409: a conflict not expressed as a version precondition.
    Conflict(String),
    /// 410: deleted (or destroyed).
    Gone,
    /// 412: `If-Match` or `If-None-Exist` precondition failed.
    PreconditionFailed(String),
    /// 413.
    TooLarge,
    /// 415.
    UnsupportedMediaType,
    /// 422: a resource that is not valid FHIR R4.
    Unprocessable(Vec<Issue>),
    /// 500: logged with details, answered without them.
    Internal(String),
    /// 503 with `Retry-After`: the storage is unavailable for now (database restarting or
    /// unreachable, disk full); logged with details, answered without them.
    Unavailable(String),
}

/// Seconds a client is asked to wait before trying again after a 503.
pub(crate) const RETRY_AFTER_SECONDS: &str = "5";

pub(crate) fn issue(code: IssueCode, location: &str, message: impl Into<String>) -> Issue {
    Issue {
        severity: Severity::Error,
        code,
        location: location.to_owned(),
        message: message.into(),
    }
}

impl FhirError {
    /// A 400 with one issue.
    pub fn bad(location: &str, message: impl Into<String>) -> Self {
        Self::BadRequest(vec![issue(IssueCode::Invalid, location, message)])
    }

    /// From a vault error; `if_match` tells whether a conflict is a failed precondition.
    pub fn from_vault(e: VaultError, if_match: bool) -> Self {
        match e {
            VaultError::Invalid(issues) => {
                // Query problems are the caller's syntax; resource problems are 422.
                if issues
                    .iter()
                    .any(|i| matches!(i.code, IssueCode::NotSupported | IssueCode::TooCostly))
                {
                    Self::BadRequest(issues)
                } else {
                    Self::Unprocessable(issues)
                }
            }
            VaultError::Forbidden => Self::Forbidden,
            VaultError::NotFound => Self::NotFound("resource not found".into()),
            VaultError::Gone | VaultError::Shredded => Self::Gone,
            VaultError::Conflict { expected, current } => {
                let msg = format!(
                    "version conflict: expected {}, current {}",
                    expected.map_or("none".into(), |v| v.to_string()),
                    current.map_or("none".into(), |v| v.to_string())
                );
                if if_match {
                    Self::PreconditionFailed(msg)
                } else {
                    Self::Conflict(msg)
                }
            }
            VaultError::Account(m) => Self::bad("request", m),
            VaultError::Password(_) => Self::bad("password", e.to_string()),
            other if other.is_unavailable() => Self::Unavailable(other.to_string()),
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<VaultError> for FhirError {
    fn from(e: VaultError) -> Self {
        Self::from_vault(e, false)
    }
}

impl FhirError {
    /// The status and the OperationOutcome.
    pub fn status_and_outcome(self) -> (StatusCode, serde_json::Value) {
        let (status, issues) = match self {
            Self::BadRequest(i) => (StatusCode::BAD_REQUEST, i),
            Self::Unauthenticated => (
                StatusCode::UNAUTHORIZED,
                vec![issue(
                    IssueCode::Login,
                    "Authorization",
                    "authentication required: a bearer token or a session",
                )],
            ),
            Self::Forbidden => (
                StatusCode::FORBIDDEN,
                vec![issue(IssueCode::Forbidden, "request", "access denied")],
            ),
            Self::NotFound(m) => (
                StatusCode::NOT_FOUND,
                vec![issue(IssueCode::NotFound, "request", m)],
            ),
            Self::MethodNotAllowed(m) => (
                StatusCode::METHOD_NOT_ALLOWED,
                vec![issue(IssueCode::NotSupported, "request", m)],
            ),
            Self::Conflict(m) => (
                StatusCode::CONFLICT,
                vec![issue(IssueCode::Conflict, "request", m)],
            ),
            Self::Gone => (
                StatusCode::GONE,
                vec![issue(
                    IssueCode::Deleted,
                    "request",
                    "the resource was deleted",
                )],
            ),
            Self::PreconditionFailed(m) => (
                StatusCode::PRECONDITION_FAILED,
                vec![issue(IssueCode::Conflict, "If-Match", m)],
            ),
            Self::TooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                vec![issue(
                    IssueCode::TooCostly,
                    "request",
                    "the request body is too large",
                )],
            ),
            Self::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                vec![issue(
                    IssueCode::NotSupported,
                    "Content-Type",
                    "send application/fhir+json or application/json",
                )],
            ),
            Self::Unprocessable(i) => (StatusCode::UNPROCESSABLE_ENTITY, i),
            Self::Internal(detail) => {
                tracing::error!(%detail, "FHIR request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    vec![issue(
                        IssueCode::Exception,
                        "request",
                        "internal error; it has been logged",
                    )],
                )
            }
            Self::Unavailable(detail) => {
                tracing::warn!(%detail, "FHIR request failed: storage unavailable");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    vec![issue(
                        IssueCode::Exception,
                        "request",
                        format!(
                            "the service is temporarily unavailable; try again in \
                             {RETRY_AFTER_SECONDS} seconds"
                        ),
                    )],
                )
            }
        };
        (status, operation_outcome(&issues))
    }
}

impl IntoResponse for FhirError {
    fn into_response(self) -> Response {
        let (status, outcome) = self.status_and_outcome();
        let mut r = (status, outcome.to_string()).into_response();
        r.headers_mut()
            .insert("content-type", HeaderValue::from_static(FHIR_JSON));
        if status == StatusCode::SERVICE_UNAVAILABLE {
            r.headers_mut()
                .insert("retry-after", HeaderValue::from_static(RETRY_AFTER_SECONDS));
        }
        if status == StatusCode::METHOD_NOT_ALLOWED {
            r.headers_mut()
                .insert("allow", HeaderValue::from_static("GET"));
        }
        if status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(
                "www-authenticate",
                HeaderValue::from_static("Bearer realm=\"zorgkluis\""),
            );
        }
        r
    }
}
