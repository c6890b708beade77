//! PC-8: HTTPS served directly with rustls when a certificate is configured, with HSTS;
//! plain HTTP (no HSTS) without one. A self-signed certificate made here, a rustls client
//! that trusts only that certificate, and raw HTTP/1.1 over the TLS stream.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ConnectInfo;
use axum::routing::get;
use axum::{Extension, Router};
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ProtocolVersion, RootCertStore, SupportedProtocolVersion};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use zorgkluis_server::tls::{OverTls, TlsConfig};

const HSTS: &str = "max-age=31536000; includeSubDomains";

/// A self-signed certificate for `localhost`, written as PEM files into `dir`.
struct SelfSigned {
    cert_file: PathBuf,
    key_file: PathBuf,
    der: CertificateDer<'static>,
}

fn self_signed(dir: &Path) -> SelfSigned {
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert_file = dir.join("cert.pem");
    let key_file = dir.join("key.pem");
    std::fs::write(&cert_file, made.cert.pem()).unwrap();
    std::fs::write(&key_file, made.key_pair.serialize_pem()).unwrap();
    SelfSigned {
        cert_file,
        key_file,
        der: made.cert.der().clone(),
    }
}

/// A client trusting only `cert`, offering `versions` and ALPN h2 + http/1.1 (as browsers do).
fn client(
    cert: &CertificateDer<'static>,
    versions: &[&'static SupportedProtocolVersion],
) -> tokio_rustls::TlsConnector {
    let mut roots = RootCertStore::empty();
    roots.add(cert.clone()).unwrap();
    let mut config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_protocol_versions(versions)
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
    version: ProtocolVersion,
    suite: String,
    alpn: Option<Vec<u8>>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn parse(raw: &[u8]) -> (u16, Vec<(String, String)>, String) {
    let text = String::from_utf8_lossy(raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP response");
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    (status, headers, body.to_owned())
}

/// Reads until the peer closes (a missing close_notify counts as closed).
async fn read_all<S: tokio::io::AsyncRead + Unpin>(stream: &mut S) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return out,
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Err(_) => panic!("no end of response within 10 s"),
        }
    }
}

/// `GET path` over HTTPS with HTTP/1.1.
async fn https_get(addr: SocketAddr, connector: &tokio_rustls::TlsConnector, path: &str) -> Reply {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let mut tls = connector.connect(name, tcp).await.unwrap();
    let (version, suite, alpn) = {
        let (_, conn) = tls.get_ref();
        (
            conn.protocol_version().unwrap(),
            format!("{:?}", conn.negotiated_cipher_suite().unwrap().suite()),
            conn.alpn_protocol().map(<[u8]>::to_vec),
        )
    };
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    tls.write_all(request.as_bytes()).await.unwrap();
    let raw = read_all(&mut tls).await;
    let (status, headers, body) = parse(&raw);
    Reply {
        status,
        headers,
        body,
        version,
        suite,
        alpn,
    }
}

/// Plain-text HTTP to `addr`: whatever comes back, and whether the peer closed.
async fn plain_bytes(addr: SocketAddr) -> Vec<u8> {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    read_all(&mut tcp).await
}

/// A TLS 1.1 ClientHello (no supported_versions extension): what a legacy client sends.
async fn legacy_client_hello(addr: SocketAddr) -> Vec<u8> {
    let mut hello = vec![0x03, 0x02]; // client_version TLS 1.1
    hello.extend_from_slice(&[0x42; 32]); // random
    hello.push(0); // no session id
    hello.extend_from_slice(&[0x00, 0x02, 0xc0, 0x13]); // ECDHE_RSA_WITH_AES_128_CBC_SHA
    hello.extend_from_slice(&[0x01, 0x00]); // null compression
                                            // extensions: signature_algorithms (ecdsa_secp256r1_sha256) only, no supported_versions
    hello.extend_from_slice(&[0x00, 0x08, 0x00, 0x0d, 0x00, 0x04, 0x00, 0x02, 0x04, 0x03]);
    let mut handshake = vec![0x01, 0x00, 0x00, hello.len() as u8];
    handshake.extend_from_slice(&hello);
    let mut record = vec![0x16, 0x03, 0x01, 0x00, handshake.len() as u8];
    record.extend_from_slice(&handshake);
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(&record).await.unwrap();
    read_all(&mut tcp).await
}

/// PC-8: with a certificate the real server speaks HTTPS only (TLS 1.3 preferred, TLS 1.2
/// accepted, nothing older, ALPN http/1.1), every response carries HSTS, failed handshakes
/// do not stop it, and it shuts down cleanly (in-flight requests, then the vault).
#[tokio::test]
async fn pc8_https_with_rustls_and_hsts() {
    let db = zorgkluis_testkit::sqlite();
    let cert = self_signed(db.dir.path());
    let vault = common::open_vault(&db).await;
    let tls = TlsConfig::from_pem_files(&cert.cert_file, &cert.key_file).unwrap();
    assert_eq!(tls.cert_file(), cert.cert_file);
    let bound = zorgkluis_server::bind("127.0.0.1:0")
        .await
        .unwrap()
        .with_tls(tls);
    assert!(bound.is_tls());
    let addr = bound.addr;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(zorgkluis_server::serve(vault, bound, async move {
        let _ = stopped.await;
    }));

    // A modern client: TLS 1.3, HTTP/1.1 chosen from h2 + http/1.1, HSTS on the answer.
    let modern = client(&cert.der, rustls::DEFAULT_VERSIONS);
    let health = https_get(addr, &modern, "/health").await;
    assert_eq!(health.status, 200, "{}", health.body);
    assert!(health.body.contains("\"status\":\"ok\""), "{}", health.body);
    assert_eq!(health.header("strict-transport-security"), Some(HSTS));
    assert_eq!(health.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(health.version, ProtocolVersion::TLSv1_3);
    assert_eq!(health.alpn.as_deref(), Some(&b"http/1.1"[..]));

    // Every response, not only /health: a page and an unknown path.
    for path in ["/login", "/no/such/page"] {
        let r = https_get(addr, &modern, path).await;
        assert_eq!(
            r.header("strict-transport-security"),
            Some(HSTS),
            "{path}: {}",
            r.status
        );
    }

    // A client that speaks only TLS 1.2 still gets in, with an ECDHE AEAD suite.
    let tls12 = client(&cert.der, &[&rustls::version::TLS12]);
    let old = https_get(addr, &tls12, "/health").await;
    assert_eq!(old.status, 200);
    assert_eq!(old.version, ProtocolVersion::TLSv1_2);
    assert!(
        old.suite.contains("ECDHE")
            && (old.suite.contains("GCM") || old.suite.contains("CHACHA20")),
        "{}",
        old.suite
    );
    assert_eq!(old.header("strict-transport-security"), Some(HSTS));

    // Plain HTTP to the TLS port gets no HTTP answer, at most a TLS alert.
    let plain = plain_bytes(addr).await;
    assert!(
        !plain.starts_with(b"HTTP/"),
        "{:?}",
        String::from_utf8_lossy(&plain)
    );
    assert!(
        plain.is_empty() || plain[0] == 0x15,
        "not an alert: {plain:?}"
    );
    assert!(!String::from_utf8_lossy(&plain).contains("ok"));

    // A TLS 1.1 client is refused with a protocol_version alert (70), not a ServerHello.
    let legacy = legacy_client_hello(addr).await;
    assert!(
        legacy.len() >= 7 && legacy[0] == 0x15,
        "not an alert: {legacy:?}"
    );
    assert_eq!(legacy[6], 70, "alert {legacy:?}");

    // Those failed handshakes did not stop the server.
    assert_eq!(https_get(addr, &modern, "/health").await.status, 200);

    // Shutdown: the serve call ends (and closes the vault) promptly.
    stop.send(()).unwrap();
    let result = tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("the server stops")
        .unwrap();
    assert!(result.is_ok(), "{result:?}");
    assert!(TcpStream::connect(addr).await.is_err(), "still accepting");
}

/// PC-8: without a certificate the server speaks plain HTTP and never sends HSTS (which
/// would be meaningless there); the other security headers stay.
#[tokio::test]
async fn pc8_plain_http_sends_no_hsts() {
    let db = zorgkluis_testkit::sqlite();
    let vault = common::open_vault(&db).await;
    let bound = zorgkluis_server::bind("127.0.0.1:0").await.unwrap();
    assert!(!bound.is_tls());
    let addr = bound.addr;
    tokio::spawn(zorgkluis_server::serve(
        vault,
        bound,
        std::future::pending(),
    ));
    let (status, headers, body) = parse(&plain_bytes(addr).await);
    assert_eq!(status, 200, "{body}");
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    assert_eq!(header("strict-transport-security"), None);
    assert_eq!(header("x-content-type-options").as_deref(), Some("nosniff"));
}

/// PC-8: over TLS every request still carries the client's address (login throttling and
/// the audit trail's access point use it) and the TLS marker; shutdown lets an in-flight
/// request finish, and a request that outlives the drain bound does not hold it up.
#[tokio::test]
async fn pc8_https_keeps_client_address_and_drains_on_shutdown() {
    let scratch = zorgkluis_testkit::sqlite();
    let dir = scratch.dir.path();
    let cert = self_signed(dir);
    let tls = TlsConfig::from_pem_files(&cert.cert_file, &cert.key_file).unwrap();
    let app = Router::new()
        .route(
            "/who",
            get(
                |ConnectInfo(peer): ConnectInfo<SocketAddr>,
                 Extension(OverTls): Extension<OverTls>| async move {
                    peer.ip().to_string()
                },
            ),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(600)).await;
                "done"
            }),
        )
        .route(
            "/hang",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                "never"
            }),
        );
    let connector = client(&cert.der, rustls::DEFAULT_VERSIONS);

    // In-flight requests finish.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (tls2, app2) = (tls.clone(), app.clone());
    let server = tokio::spawn(async move {
        zorgkluis_server::tls::serve(
            listener,
            &tls2,
            app2,
            async move {
                let _ = stopped.await;
            },
            Duration::from_secs(10),
        )
        .await;
    });
    let who = https_get(addr, &connector, "/who").await;
    assert_eq!((who.status, who.body.as_str()), (200, "127.0.0.1"));
    let c = connector.clone();
    let slow = tokio::spawn(async move { https_get(addr, &c, "/slow").await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.send(()).unwrap();
    let slow = slow.await.unwrap();
    assert_eq!((slow.status, slow.body.as_str()), (200, "done"));
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("stops after the in-flight request")
        .unwrap();

    // A request that hangs is dropped when the drain bound expires.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        zorgkluis_server::tls::serve(
            listener,
            &tls,
            app,
            async move {
                let _ = stopped.await;
            },
            Duration::from_millis(300),
        )
        .await;
    });
    let c = connector.clone();
    let hang = tokio::spawn(async move {
        let tcp = TcpStream::connect(addr).await.unwrap();
        let mut s = c
            .connect(ServerName::try_from("localhost").unwrap(), tcp)
            .await
            .unwrap();
        s.write_all(b"GET /hang HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .await
            .unwrap();
        read_all(&mut s).await
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let start = Instant::now();
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("stops when the drain bound expires")
        .unwrap();
    assert!(start.elapsed() >= Duration::from_millis(250));
    assert!(
        hang.await.unwrap().is_empty(),
        "the hanging request got an answer"
    );
}

/// PC-8: unusable certificate or key files stop the start-up with a message naming the file.
#[test]
fn pc8_bad_certificate_or_key_names_the_file() {
    let scratch = zorgkluis_testkit::sqlite();
    let dir = scratch.dir.path();
    let cert = self_signed(dir);
    let missing = dir.join("missing.pem");
    let garbage = dir.join("garbage.pem");
    std::fs::write(&garbage, "not a certificate\n").unwrap();
    let other_key = dir.join("other-key.pem");
    std::fs::write(
        &other_key,
        rcgen::KeyPair::generate().unwrap().serialize_pem(),
    )
    .unwrap();

    let message = |c: &Path, k: &Path| TlsConfig::from_pem_files(c, k).unwrap_err().to_string();
    let m = message(&missing, &cert.key_file);
    assert!(
        m.contains("certificate") && m.contains(&*missing.to_string_lossy()),
        "{m}"
    );
    let m = message(&garbage, &cert.key_file);
    assert!(
        m.contains("no CERTIFICATE") && m.contains(&*garbage.to_string_lossy()),
        "{m}"
    );
    let m = message(&cert.cert_file, &missing);
    assert!(
        m.contains("private key") && m.contains(&*missing.to_string_lossy()),
        "{m}"
    );
    // The certificate file given as the key: no key in it.
    let m = message(&cert.cert_file, &cert.cert_file);
    assert!(m.contains("no private key"), "{m}");
    // A key that does not belong to the certificate.
    let m = message(&cert.cert_file, &other_key);
    assert!(
        m.contains(&*cert.cert_file.to_string_lossy()) && m.contains(&*other_key.to_string_lossy()),
        "{m}"
    );
}
