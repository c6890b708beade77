//! The HTTP server: one router per feature, holding a [`Vault`], never a store.
#![warn(missing_docs)]

use std::future::Future;
use std::net::SocketAddr;

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
}

/// The application's routes.
pub fn router(vault: Vault) -> Router {
    Router::new()
        .route("/health", get(health))
        .with_state(AppState { vault })
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
    axum::serve(bound.listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(ServeError::Serve)?;
    if let Err(e) = vault.close().await {
        tracing::error!(error = %e, "closing the vault");
    }
    Ok(())
}
