//! The HTTP server: one router per feature, holding a [`Vault`], never a store.
#![warn(missing_docs)]

pub mod auth;
pub mod fhir;
pub mod i18n;
pub mod oauth;
pub mod portal;
pub mod tls;

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
        .merge(portal::router())
        .fallback(portal::not_found)
        .layer(axum::middleware::from_fn(security_headers))
        .layer(axum::middleware::from_fn(catch_panics))
        .with_state(AppState::new(vault))
}

/// HP-8 and defence in depth: no third-party content, no framing, no caching of pages
/// that may hold personal data. PC-8: over TLS, HSTS (browsers then refuse plain HTTP to
/// this host for a year); never over plain HTTP, where it would be meaningless.
async fn security_headers(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::HeaderValue;
    // The OAuth consent form redirects to the registered app (another origin), which
    // `form-action 'self'` would block; that page keeps every other restriction.
    let consent_page = request.uri().path() == "/oauth/authorize";
    let over_tls = request.extensions().get::<tls::OverTls>().is_some();
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    h.insert(
        "content-security-policy",
        HeaderValue::from_static(if consent_page {
            "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
        } else {
            "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; object-src 'none'; form-action 'self'"
        }),
    );
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    if !h.contains_key("cache-control") {
        h.insert("cache-control", HeaderValue::from_static("no-store"));
    }
    if over_tls {
        h.insert(
            "strict-transport-security",
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    response
}

/// Defence in depth: a panic in a handler (a bug; input never should cause one) answers
/// 500 with a plain page instead of dropping the connection, and is logged.
async fn catch_panics(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    use futures_util::FutureExt;
    let fhir = request.uri().path().starts_with("/fhir");
    match std::panic::AssertUnwindSafe(next.run(request))
        .catch_unwind()
        .await
    {
        Ok(response) => response,
        Err(_) => {
            tracing::error!("a request handler panicked");
            let status = axum::http::StatusCode::INTERNAL_SERVER_ERROR;
            if fhir {
                (
                    status,
                    [("content-type", "application/fhir+json")],
                    r#"{"resourceType":"OperationOutcome","issue":[{"severity":"fatal","code":"exception","diagnostics":"internal error; the request was not completed"}]}"#,
                )
                    .into_response()
            } else {
                (
                    status,
                    axum::response::Html(
                        "<!doctype html><title>Zorgkluis</title><p>Er ging iets mis. Something went wrong.</p>",
                    ),
                )
                    .into_response()
            }
        }
    }
}

async fn health(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(json!({
        "status": "ok",
        "service": "zorgkluis",
        "version": env!("CARGO_PKG_VERSION"),
        "backend": state.vault.dialect().name(),
    }))
}

/// How long a stopping server lets in-flight requests finish before it closes them.
const DRAIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

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
    tls: Option<tls::TlsConfig>,
}

impl Bound {
    /// PC-8: serve HTTPS with this certificate instead of plain HTTP.
    pub fn with_tls(mut self, tls: tls::TlsConfig) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Whether it will serve HTTPS.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }
}

/// Binds `listen` (plain HTTP unless [`Bound::with_tls`] is called).
pub async fn bind(listen: &str) -> Result<Bound, ServeError> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| ServeError::Bind(listen.to_owned(), e))?;
    let addr = listener
        .local_addr()
        .map_err(|e| ServeError::Bind(listen.to_owned(), e))?;
    Ok(Bound {
        listener,
        addr,
        tls: None,
    })
}

/// Serves (HTTPS when the listener has a certificate, else plain HTTP) until `shutdown`
/// resolves, then stops accepting, lets in-flight requests finish (at most 30 s) and
/// flushes the audit trail.
pub async fn serve(
    vault: Vault,
    bound: Bound,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let app = router(vault.clone());
    let result = match &bound.tls {
        Some(config) => {
            tls::serve(bound.listener, config, app, shutdown, DRAIN_TIMEOUT).await;
            Ok(())
        }
        None => serve_plain(bound.listener, app, shutdown).await,
    };
    if let Err(e) = vault.close().await {
        tracing::error!(error = %e, "closing the vault");
    }
    result
}

async fn serve_plain(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let (stopping, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown.await;
        let _ = stopping.send(());
    });
    let drain_expired = async {
        match stopped.await {
            Ok(()) => tokio::time::sleep(DRAIN_TIMEOUT).await,
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        result = std::future::IntoFuture::into_future(server) => result.map_err(ServeError::Serve),
        () = drain_expired => {
            tracing::warn!("in-flight requests did not finish within {DRAIN_TIMEOUT:?}; stopping anyway");
            Ok(())
        }
    }
}
