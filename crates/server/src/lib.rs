//! The HTTP server: one router per feature, holding a [`Vault`], never a store.
#![warn(missing_docs)]

pub mod auth;
pub mod fhir;
pub mod oauth;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use zorgkluis_vault::Vault;

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    /// The only door to patient data.
    pub vault: Vault,
    /// Login throttling per account and address.
    pub throttle: Arc<zorgkluis_auth::Throttle>,
    /// Key of the CSRF tokens.
    csrf: Arc<zorgkluis_auth::CsrfKey>,
}

impl AppState {
    /// State for a vault.
    pub fn new(vault: Vault) -> Self {
        let csrf = zorgkluis_auth::CsrfKey::from_bytes(vault.web_secret());
        Self {
            vault,
            throttle: Arc::new(zorgkluis_auth::Throttle::default()),
            csrf: Arc::new(csrf),
        }
    }
}

/// The application's routes.
pub fn router(vault: Vault) -> Router {
    Router::new()
        .route("/health", get(health))
        .merge(auth::router())
        .merge(oauth::router())
        .merge(fhir::router())
        .layer(axum::middleware::from_fn(security_headers))
        .with_state(AppState::new(vault))
}

/// HP-8 and defence in depth: no third-party content, no framing, no caching of pages
/// that may hold personal data.
async fn security_headers(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::HeaderValue;
    // The OAuth consent form redirects to the registered app (another origin), which
    // `form-action 'self'` would block; that page keeps every other restriction.
    let consent_page = request.uri().path() == "/oauth/authorize";
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    h.insert(
        "content-security-policy",
        HeaderValue::from_static(if consent_page {
            "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'"
        } else {
            "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; form-action 'self'"
        }),
    );
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    h.insert("cache-control", HeaderValue::from_static("no-store"));
    response
}

async fn health(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(json!({
        "status": "ok",
        "service": "zorgkluis",
        "version": env!("CARGO_PKG_VERSION"),
        "backend": state.vault.dialect().name(),
    }))
}

/// Errors starting the server.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The address could not be bound.
    #[error("cannot listen on {0}: {1}")]
    Bind(String, std::io::Error),
    /// The server failed.
    #[error("server error: {0}")]
    Serve(std::io::Error),
}

/// A bound listener, so callers can print the real address (port 0 picks one).
pub struct Bound {
    listener: tokio::net::TcpListener,
    /// The address it listens on.
    pub addr: SocketAddr,
}

/// Binds `listen`.
pub async fn bind(listen: &str) -> Result<Bound, ServeError> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| ServeError::Bind(listen.to_owned(), e))?;
    let addr = listener
        .local_addr()
        .map_err(|e| ServeError::Bind(listen.to_owned(), e))?;
    Ok(Bound { listener, addr })
}

/// Serves until `shutdown` resolves, then finishes in-flight requests and flushes the
/// audit trail.
pub async fn serve(
    vault: Vault,
    bound: Bound,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let app = router(vault.clone());
    axum::serve(
        bound.listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
    .map_err(ServeError::Serve)?;
    if let Err(e) = vault.close().await {
        tracing::error!(error = %e, "closing the vault");
    }
    Ok(())
}
