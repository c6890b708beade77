//! PC-8: HTTPS served directly, when a certificate is configured.
//!
//! rustls on the `ring` provider: TLS 1.3 and TLS 1.2 only (1.3 whenever the client has
//! it), the provider's default cipher suites (AEAD with forward secrecy only: AES-GCM and
//! ChaCha20-Poly1305 over ECDHE), no 0-RTT data, HTTP/1.1 (ALPN `http/1.1`). Every request
//! gets the client's address as `ConnectInfo<SocketAddr>` (login throttling) and the
//! [`OverTls`] marker, from which the security headers add HSTS. Without a certificate the
//! server speaks plain HTTP: for loopback, or behind a TLS-terminating proxy.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tower::ServiceExt;

/// A client that has not finished its TLS handshake after this long is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// A client must send a request's headers within this long (slow-header clients).
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Request extension: this request arrived over TLS (the security headers then add
/// `Strict-Transport-Security`). Only the TLS server inserts it.
#[derive(Debug, Clone, Copy)]
pub struct OverTls;

/// A loaded certificate chain and private key, ready to serve.
#[derive(Debug, Clone)]
pub struct TlsConfig {
    config: Arc<rustls::ServerConfig>,
    cert_file: PathBuf,
}

/// A certificate or key that cannot be used; every message names the file.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("cannot read TLS {what} file {}: {reason}", path.display())]
    Read {
        /// "certificate" or "private key".
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        reason: std::io::Error,
    },
    /// A file holds no usable PEM block of the expected kind, or a broken one.
    #[error("TLS {what} file {}: {detail}", path.display())]
    Pem {
        /// "certificate" or "private key".
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// rustls refused the pair (e.g. the key does not belong to the certificate).
    #[error("TLS certificate {} with key {}: {reason}", cert.display(), key.display())]
    Pair {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// Why (rustls's reason).
        reason: String,
    },
}

impl TlsConfig {
    /// Loads a PEM certificate chain (leaf first, then intermediates) and its PEM private
    /// key (PKCS#8, PKCS#1 or SEC1).
    pub fn from_pem_files(cert_file: &Path, key_file: &Path) -> Result<Self, TlsError> {
        let read = |what, path: &Path| {
            std::fs::read(path).map_err(|reason| TlsError::Read {
                what,
                path: path.to_owned(),
                reason,
            })
        };
        let pem_error = |what, path: &Path, detail: String| TlsError::Pem {
            what,
            path: path.to_owned(),
            detail,
        };

        let cert_pem = read("certificate", cert_file)?;
        let chain = CertificateDer::pem_slice_iter(&cert_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| pem_error("certificate", cert_file, e.to_string()))?;
        if chain.is_empty() {
            return Err(pem_error(
                "certificate",
                cert_file,
                "no CERTIFICATE PEM block found".into(),
            ));
        }

        let key_pem = read("private key", key_file)?;
        let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
            let detail = match e {
                pem::Error::NoItemsFound => {
                    "no private key PEM block found (PKCS#8, PKCS#1 or SEC1)".into()
                }
                e => e.to_string(),
            };
            pem_error("private key", key_file, detail)
        })?;

        let pair_error = |e: rustls::Error| TlsError::Pair {
            cert: cert_file.to_owned(),
            key: key_file.to_owned(),
            reason: match e {
                rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch) => {
                    "the private key does not belong to the certificate".into()
                }
                e => e.to_string(),
            },
        };
        let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(pair_error)?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(pair_error)?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Self {
            config: Arc::new(config),
            cert_file: cert_file.to_owned(),
        })
    }

    /// The certificate file it was loaded from.
    pub fn cert_file(&self) -> &Path {
        &self.cert_file
    }
}

/// Serves `app` over TLS until `shutdown` resolves; then stops accepting, lets in-flight
/// requests finish for at most `drain`, and drops whatever is left. A failed or slow
/// handshake ends only that connection. (`crate::serve` calls this with the application's
/// router and then closes the vault.)
pub async fn serve(
    listener: tokio::net::TcpListener,
    tls: &TlsConfig,
    app: Router,
    shutdown: impl Future<Output = ()>,
    drain: Duration,
) {
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::clone(&tls.config));
    let graceful = GracefulShutdown::new();
    let mut connections = tokio::task::JoinSet::new();
    let mut shutdown = pin!(shutdown);
    loop {
        let (tcp, remote) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accepting a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        while connections.try_join_next().is_some() {}
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let app = app.clone();
        let watcher = graceful.watcher();
        connections.spawn(async move {
            let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(stream)) => stream,
                Ok(Err(e)) => {
                    tracing::debug!(%remote, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%remote, "TLS handshake timed out");
                    return;
                }
            };
            let service = TowerToHyperService::new(app.map_request(
                move |mut request: axum::http::Request<Incoming>| {
                    request.extensions_mut().insert(ConnectInfo(remote));
                    request.extensions_mut().insert(OverTls);
                    request
                },
            ));
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service);
            if let Err(e) = watcher.watch(connection).await {
                tracing::debug!(%remote, error = %e, "HTTPS connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(drain, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            still_open = connections.len(),
            "in-flight HTTPS requests did not finish within {drain:?}; closing them"
        );
    }
    connections.shutdown().await;
}
