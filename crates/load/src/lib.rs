//! HTTP load tool for a FHIR R4 server on loopback (`zorgkluis bench http`).
//!
//! [`run`] optionally first creates patients with observations through standard FHIR
//! (`transaction` Bundles, or single creates for servers without transactions; see
//! [`LoadConfig::setup_patients`]), then discovers what to ask for, through FHIR search only
//! (`Patient?_count=…`, or with [`LoadConfig::practitioner`] the subjects of
//! `CareTeam?participant=Practitioner/…`, following `next` links, then
//! `Observation?patient=…` for a sample of those patients), and then lets `concurrency`
//! workers, each on one keep-alive connection, send requests of the chosen [`Workload`]
//! until the duration is over or the request budget is spent. The [`Report`] gives
//! throughput, latency percentiles, answers by error status, transport errors and, when the
//! server's process id is given, its peak resident memory.
//!
//! With a practitioner, every patient the tool creates (bulk Bundles, set-up) comes with a
//! CareTeam that names that practitioner on behalf of their organisation, as a practice
//! registers a patient: on Zorgkluis only a care team lets staff read a patient afterwards
//! (GP-7), and a server with many patients refuses to list them all (`too-costly`).
//!
//! Credentials are a bearer token, a session cookie, or an OAuth 2 client's id and secret
//! ([`Auth::ClientCredentials`]), which the tool exchanges for a bearer token itself through
//! the server's SMART configuration.
//!
//! Only loopback servers are accepted: this is a tool to measure one's own server, not to
//! put load on somebody else's.
#![warn(missing_docs)]

pub mod http;
mod oauth;

pub use oauth::TOKEN_MARGIN;

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use serde_json::{json, Value};

use http::Connection;

/// Patients collected at most during discovery.
pub const DISCOVERY_PATIENTS: usize = 1000;
/// Patients whose observations are searched during discovery.
pub const DISCOVERY_SAMPLE: usize = 100;
/// Observations asked per sampled patient during discovery.
pub const DISCOVERY_OBSERVATIONS_PER_PATIENT: usize = 50;
/// Longest a single request may take before it counts as a transport error.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Search pages followed at most during discovery (a guard against `next` loops).
const DISCOVERY_PAGES: usize = 200;
/// When the search for a practitioner's care teams is refused as too costly, discovery
/// asks for the teams that started in the last so many days instead, the narrowest window
/// first, widening while it finds fewer than [`DISCOVERY_PATIENTS`] patients.
const CARE_TEAM_WINDOWS_DAYS: [i64; 6] = [90, 365, 730, 1461, 2922, 5844];
/// Observations in each `transaction` Bundle of the [`Workload::Bulk`] workload, next to
/// their one new Patient.
pub const BULK_OBSERVATIONS: u32 = 20;
/// Observations per set-up patient unless told otherwise ([`LoadConfig::setup_observations`]).
pub const SETUP_OBSERVATIONS: u32 = 20;

/// How the load tool authenticates.
#[derive(Clone, PartialEq, Eq)]
pub enum Auth {
    /// `Authorization: Bearer <token>`.
    Bearer(String),
    /// `Cookie: <value>`; a value without `=` is taken as Zorgkluis' session cookie
    /// (`zk_session=<value>`).
    Cookie(String),
    /// An OAuth 2 client (on Zorgkluis: `zorgkluis clients add`). Before anything else the
    /// tool reads the server's SMART configuration (`[base]/.well-known/smart-configuration`,
    /// else the origin's `/.well-known/smart-configuration`), asks its `token_endpoint`,
    /// which must be on the same loopback host, for a token with the client-credentials
    /// grant and HTTP Basic client authentication, and sends that as a bearer token.
    ///
    /// The tokens must live at least [`LoadConfig::duration`] plus [`TOKEN_MARGIN`], or the
    /// run stops before it starts ([`LoadError::Config`]); before discovery and before the
    /// timed phase the tool asks for a new token when the current one would expire during
    /// that phase. (A set-up that outlasts one token, an hour on Zorgkluis, fails with the
    /// server's 401.)
    ClientCredentials(ClientCredentials),
    /// No credentials.
    None,
}

impl fmt::Debug for Auth {
    // Never print credentials.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Bearer(_) => f.write_str("Bearer(…)"),
            Self::Cookie(_) => f.write_str("Cookie(…)"),
            Self::ClientCredentials(c) => f.debug_tuple("ClientCredentials").field(c).finish(),
            Self::None => f.write_str("None"),
        }
    }
}

/// An OAuth 2 client's credentials ([`Auth::ClientCredentials`]). `Debug` leaves the
/// secret out.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientCredentials {
    /// The client id.
    pub client_id: String,
    /// The client secret.
    pub client_secret: String,
    /// The scopes to ask for, space-separated; none: no `scope` parameter, so the server
    /// grants its default (on Zorgkluis, all the client's scopes).
    pub scope: Option<String>,
}

impl fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("client_id", &self.client_id)
            .field("client_secret", &"…")
            .field("scope", &self.scope)
            .finish()
    }
}

impl Auth {
    fn header_lines(&self) -> Result<String, LoadError> {
        let (name, value) = match self {
            Self::Bearer(t) => ("Authorization", format!("Bearer {}", t.trim())),
            Self::Cookie(c) if c.contains('=') => ("Cookie", c.trim().to_owned()),
            Self::Cookie(c) => ("Cookie", format!("zk_session={}", c.trim())),
            Self::ClientCredentials(_) => {
                return Err(LoadError::Config(
                    "client credentials are exchanged for a token before any request".into(),
                ))
            }
            Self::None => return Ok(String::new()),
        };
        if value.chars().any(|c| c.is_control()) {
            return Err(LoadError::Config(format!(
                "the {name} value contains control characters"
            )));
        }
        Ok(format!("{name}: {value}\r\n"))
    }
}

/// What the workers ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Workload {
    /// `GET [type]/[id]` of discovered patients and observations.
    Read,
    /// `GET Observation?patient=[id]&_count=50` for discovered patients: a third by
    /// patient alone, a third also by `code`, a third also by `date=ge…`.
    Search,
    /// 80% read, 10% search, 10% create (an Observation).
    Mixed,
    /// `GET Patient/[id]/$everything` for discovered patients.
    Everything,
    /// `POST Observation` for discovered patients.
    Create,
    /// Standard FHIR R4 interactions only, for any server: 60% read, 20%
    /// `Observation?subject=Patient/[id]`, 10% `POST Patient`, 10% `POST Observation`.
    Generic,
    /// Bulk import: `POST [base]` of a `transaction` Bundle with one new Patient and
    /// [`BULK_OBSERVATIONS`] Observations about it, and with [`LoadConfig::practitioner`]
    /// also a CareTeam naming that practitioner (standard FHIR R4; a 200 answer is a
    /// success). Needs no discovered patients.
    Bulk,
}

impl Workload {
    /// Every workload.
    pub const ALL: [Workload; 7] = [
        Self::Read,
        Self::Search,
        Self::Mixed,
        Self::Everything,
        Self::Create,
        Self::Generic,
        Self::Bulk,
    ];
    /// Their names, as [`FromStr`] takes them.
    pub const NAMES: [&'static str; 7] = [
        "read",
        "search",
        "mixed",
        "everything",
        "create",
        "generic",
        "bulk",
    ];

    /// The name (`read`, `search`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Search => "search",
            Self::Mixed => "mixed",
            Self::Everything => "everything",
            Self::Create => "create",
            Self::Generic => "generic",
            Self::Bulk => "bulk",
        }
    }
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Workload {
    type Err = LoadError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|w| w.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                LoadError::Config(format!(
                    "unknown workload {s:?} (one of {})",
                    Self::NAMES.join(", ")
                ))
            })
    }
}

/// A progress callback: `(done, total)`, in resources (see [`LoadConfig::progress`]).
pub type Progress = Arc<dyn Fn(u64, u64) + Send + Sync>;

/// One load run.
#[derive(Clone)]
pub struct LoadConfig {
    /// The FHIR base, e.g. `http://127.0.0.1:8080/fhir`; loopback only.
    pub base_url: String,
    /// Credentials.
    pub auth: Auth,
    /// What to ask for.
    pub workload: Workload,
    /// Workers, each with one keep-alive connection.
    pub concurrency: usize,
    /// How long the timed phase lasts at most.
    pub duration: Duration,
    /// Requests to send at most (over all workers).
    pub max_requests: Option<u64>,
    /// The server's process id: its peak resident memory is reported (Linux `/proc`).
    pub server_pid: Option<u32>,
    /// Seed of every random choice.
    pub seed: u64,
    /// Patients to create before discovery (0: none), each with
    /// [`setup_observations`](Self::setup_observations) Observations: one standard
    /// `transaction` Bundle per patient, `concurrency` of them in flight; when the server
    /// answers a transaction with a 4xx, single `POST Patient` and `POST Observation`
    /// instead (see [`Report::setup_transaction_refused`]). Any set-up resource that fails
    /// stops the run ([`LoadError::Setup`]).
    pub setup_patients: u32,
    /// Observations per set-up patient.
    pub setup_observations: u32,
    /// A Practitioner id (`zorgkluis users list` shows a staff account's). Discovery then
    /// finds patients through the care teams that name this practitioner
    /// (`CareTeam?participant=Practitioner/[id]&status=active`) instead of
    /// `Patient?_count=…`, which a large server refuses as too costly; and every patient
    /// the tool creates (bulk Bundles, set-up) comes with an active CareTeam whose
    /// participant is this practitioner on behalf of [`organisation`](Self::organisation),
    /// in the same transaction, so that the practitioner may read it afterwards.
    pub practitioner: Option<String>,
    /// The Organization id on whose behalf [`practitioner`](Self::practitioner) is in the
    /// care teams the tool writes. Without it, when patients are to be created, it is
    /// looked up with `PractitionerRole?practitioner=Practitioner/[id]` (the organisation
    /// of the practitioner's active roles, which must be exactly one).
    pub organisation: Option<String>,
    /// Called during set-up with `(resources created, resources to create)`, from any
    /// thread, in increasing order of the first figure.
    pub progress: Option<Progress>,
}

impl fmt::Debug for LoadConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoadConfig")
            .field("base_url", &self.base_url)
            .field("auth", &self.auth)
            .field("workload", &self.workload)
            .field("concurrency", &self.concurrency)
            .field("duration", &self.duration)
            .field("max_requests", &self.max_requests)
            .field("server_pid", &self.server_pid)
            .field("seed", &self.seed)
            .field("setup_patients", &self.setup_patients)
            .field("setup_observations", &self.setup_observations)
            .field("practitioner", &self.practitioner)
            .field("organisation", &self.organisation)
            .field(
                "progress",
                &self.progress.as_ref().map(|_| "Fn(done, total)"),
            )
            .finish()
    }
}

impl LoadConfig {
    /// A configuration with the defaults of `zorgkluis bench http`: 16 workers, 30 s, no
    /// request budget, no memory sampling, seed 7513, no set-up (but
    /// [`SETUP_OBSERVATIONS`] per set-up patient once `setup_patients` is set), no
    /// practitioner.
    pub fn new(base_url: impl Into<String>, auth: Auth, workload: Workload) -> Self {
        Self {
            base_url: base_url.into(),
            auth,
            workload,
            concurrency: 16,
            duration: Duration::from_secs(30),
            max_requests: None,
            server_pid: None,
            seed: 7513,
            setup_patients: 0,
            setup_observations: SETUP_OBSERVATIONS,
            practitioner: None,
            organisation: None,
            progress: None,
        }
    }
}

/// Errors that stop a run (errors of single requests are counted in the [`Report`]).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The base URL is not on this machine.
    #[error(
        "refusing {0}: the load tool only talks to loopback servers (127.0.0.0/8, ::1, localhost)"
    )]
    NotLoopback(String),
    /// The base URL cannot be used.
    #[error("bad base URL {url:?}: {reason}")]
    BadUrl {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// A setting cannot be used.
    #[error("{0}")]
    Config(String),
    /// The server could not be reached during discovery.
    #[error("cannot reach {url}: {source}")]
    Connect {
        /// What was asked.
        url: String,
        /// Why it failed.
        source: std::io::Error,
    },
    /// A discovery search did not succeed.
    #[error("discovery: {url} answered {status}: {body}")]
    Discovery {
        /// What was asked.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The start of the answer.
        body: String,
    },
    /// A discovery search was refused as too costly (an OperationOutcome with the issue
    /// code `too-costly`).
    #[error("discovery: {url} was refused as too costly: {diagnostics}")]
    TooCostly {
        /// What was asked.
        url: String,
        /// The server's explanation.
        diagnostics: String,
    },
    /// `Patient?_count=…` was refused as too costly and no practitioner was given: the
    /// server does not list all its patients at once.
    #[error(
        "discovery: {url} was refused as too costly ({diagnostics}): this server does not \
         list all its patients at once; pass --practitioner ID (a Practitioner id, shown by \
         `zorgkluis users list`) to discover patients through the care teams that name them"
    )]
    NeedsPractitioner {
        /// What was asked.
        url: String,
        /// The server's explanation.
        diagnostics: String,
    },
    /// Discovery found nothing to work with.
    #[error("discovery: {0}")]
    NothingFound(String),
    /// A set-up request did not succeed.
    #[error("set-up: {method} {url} answered {status}: {body}")]
    Setup {
        /// `POST`.
        method: &'static str,
        /// What was asked.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The start of the answer.
        body: String,
    },
    /// The server's SMART configuration could not be read, or names no token endpoint the
    /// tool may use.
    #[error("client credentials: no usable SMART configuration: {0}")]
    SmartConfiguration(String),
    /// The token endpoint refused the client (a 4xx: wrong id or secret, a revoked client,
    /// a scope it may not have).
    #[error("client credentials: the token endpoint {url} refused them: {status} {detail}")]
    TokenRefused {
        /// The token endpoint.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The OAuth 2 `error` and `error_description`, or the start of the answer.
        detail: String,
    },
    /// The token endpoint answered without a usable token (a 5xx, or a 200 that is not a
    /// bearer token in JSON).
    #[error("client credentials: the token endpoint {url} answered {status}: {detail}")]
    Token {
        /// The token endpoint.
        url: String,
        /// The HTTP status.
        status: u16,
        /// What was wrong with the answer.
        detail: String,
    },
    /// The server's process cannot be observed.
    #[error("cannot read /proc/{pid}/status: {source}")]
    ServerPid {
        /// The process id.
        pid: u32,
        /// Why.
        source: std::io::Error,
    },
}

/// The outcome of a run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The workload.
    pub workload: Workload,
    /// Workers.
    pub concurrency: usize,
    /// Patients found by discovery.
    pub patients: usize,
    /// Observations found by discovery.
    pub observations: usize,
    /// Seconds discovery took (not part of the timed phase).
    pub discovery_seconds: f64,
    /// Resources created by the set-up (0 without set-up; CareTeams included).
    pub setup_resources: u64,
    /// Seconds the set-up took (before discovery, not part of the timed phase).
    pub setup_seconds: f64,
    /// The status with which the server refused the set-up's `transaction` Bundle, when it
    /// did (the set-up then created every resource on its own).
    pub setup_transaction_refused: Option<u16>,
    /// Requests answered (any status) in the timed phase.
    pub requests: u64,
    /// Length of the timed phase.
    pub seconds: f64,
    /// Requests answered per second.
    pub rps: f64,
    /// Resources created by successful answers of the timed phase: 1 per create, 1 +
    /// [`BULK_OBSERVATIONS`] per bulk Bundle (one more, the CareTeam, with
    /// [`LoadConfig::practitioner`]), none for reads and searches.
    pub resources_written: u64,
    /// Median latency, µs.
    pub p50_us: u64,
    /// 95th percentile latency, µs.
    pub p95_us: u64,
    /// 99th percentile latency, µs.
    pub p99_us: u64,
    /// Largest latency, µs.
    pub max_us: u64,
    /// Answers with status 400 and above, by status.
    pub errors_by_status: BTreeMap<u16, u64>,
    /// Requests without an answer: connection failures, malformed answers, timeouts.
    pub transport_errors: u64,
    /// Peak resident memory of the server process (KiB), when its pid was given.
    pub peak_rss_kib: Option<u64>,
}

impl Report {
    /// Answers with status 500 and above.
    pub fn server_errors(&self) -> u64 {
        self.errors_by_status.range(500..).map(|(_, n)| n).sum()
    }

    /// A human-readable, aligned table.
    pub fn table(&self) -> String {
        let mut rows: Vec<(String, String)> = vec![
            ("workload".into(), self.workload.to_string()),
            ("concurrency".into(), self.concurrency.to_string()),
            (
                "discovered (patients / observations)".into(),
                format!("{} / {}", self.patients, self.observations),
            ),
            (
                "discovery (s)".into(),
                format!("{:.2}", self.discovery_seconds),
            ),
        ];
        if self.setup_resources > 0 || self.setup_transaction_refused.is_some() {
            rows.insert(
                2,
                (
                    "set-up (resources / s)".into(),
                    format!("{} / {:.2}", self.setup_resources, self.setup_seconds),
                ),
            );
        }
        if let Some(status) = self.setup_transaction_refused {
            rows.insert(
                3,
                (
                    "set-up transaction refused".into(),
                    format!("{status}: single creates used"),
                ),
            );
        }
        rows.extend([
            ("requests".into(), self.requests.to_string()),
            ("seconds".into(), format!("{:.2}", self.seconds)),
            ("requests/s".into(), format!("{:.1}", self.rps)),
        ]);
        if self.resources_written > 0 {
            rows.push((
                "resources written/s".into(),
                format!(
                    "{:.1}",
                    self.resources_written as f64 / self.seconds.max(1e-9)
                ),
            ));
        }
        rows.extend([
            ("latency p50 (µs)".into(), self.p50_us.to_string()),
            ("latency p95 (µs)".into(), self.p95_us.to_string()),
            ("latency p99 (µs)".into(), self.p99_us.to_string()),
            ("latency max (µs)".into(), self.max_us.to_string()),
        ]);
        if self.errors_by_status.is_empty() {
            rows.push(("error answers".into(), "0".into()));
        } else {
            for (status, n) in &self.errors_by_status {
                rows.push((format!("error answers {status}"), n.to_string()));
            }
        }
        rows.push(("transport errors".into(), self.transport_errors.to_string()));
        rows.push((
            "server peak RSS (MiB)".into(),
            self.peak_rss_kib
                .map_or_else(|| "-".into(), |k| format!("{:.1}", k as f64 / 1024.0)),
        ));
        let label = rows
            .iter()
            .map(|(l, _)| l.chars().count())
            .max()
            .unwrap_or(0);
        let value = rows
            .iter()
            .map(|(_, v)| v.chars().count())
            .max()
            .unwrap_or(0);
        let mut out = String::new();
        for (l, v) in rows {
            let lpad = label - l.chars().count();
            let vpad = value - v.chars().count();
            out.push_str(&format!(
                "  {l}{}  {}{v}\n",
                " ".repeat(lpad),
                " ".repeat(vpad)
            ));
        }
        out
    }
}

/// Where to send requests.
#[derive(Debug, Clone)]
struct Target {
    addr: SocketAddr,
    /// `Host` header value.
    host: String,
    /// Path of the FHIR base without a trailing slash (`/fhir`, or empty).
    base_path: String,
}

/// Parses `http://HOST[:PORT][/PATH]` and checks that HOST is loopback.
async fn target(base_url: &str) -> Result<Target, LoadError> {
    let bad = |reason: &str| LoadError::BadUrl {
        url: base_url.to_owned(),
        reason: reason.to_owned(),
    };
    let url = base_url.trim();
    let rest = if let Some(r) = url.strip_prefix("http://") {
        r
    } else if url.starts_with("https://") {
        return Err(bad(
            "https is not supported: the load tool speaks plain HTTP to a loopback server",
        ));
    } else {
        return Err(bad("expected http://HOST:PORT/PATH"));
    };
    let (authority, path) = match rest.find(['/', '?', '#']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    if path.contains(['?', '#']) {
        return Err(bad("the base URL has no query or fragment"));
    }
    if authority.contains('@') {
        return Err(bad(
            "credentials in the URL are not supported (use --token, --cookie or --client-id)",
        ));
    }
    let (host, port) = if let Some(r) = authority.strip_prefix('[') {
        let (h, after) = r.split_once(']').ok_or_else(|| bad("unclosed '['"))?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p),
            None if after.is_empty() => None,
            None => return Err(bad("unexpected text after ']'")),
        };
        (h, port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err(bad("no host"));
    }
    let port: u16 = match port {
        Some(p) => p.parse().map_err(|_| bad("bad port"))?,
        None => 80,
    };
    let addr = if let Ok(ip) = host.parse::<IpAddr>() {
        if !ip.is_loopback() {
            return Err(LoadError::NotLoopback(base_url.to_owned()));
        }
        SocketAddr::new(ip, port)
    } else if host.eq_ignore_ascii_case("localhost") {
        let found: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
            .await
            .map(|a| a.filter(|a| a.ip().is_loopback()).collect())
            .unwrap_or_default();
        // Prefer IPv4, as servers listening on 127.0.0.1 are the common case.
        found
            .iter()
            .find(|a| a.is_ipv4())
            .or(found.first())
            .copied()
            .unwrap_or_else(|| SocketAddr::new(IpAddr::from([127, 0, 0, 1]), port))
    } else {
        return Err(LoadError::NotLoopback(base_url.to_owned()));
    };
    Ok(Target {
        addr,
        host: authority.to_owned(),
        base_path: path.trim_end_matches('/').to_owned(),
    })
}

/// What discovery found.
struct Found {
    patients: Vec<String>,
    /// `(type, id)` to read: patients and observations.
    reads: Vec<(&'static str, String)>,
    observations: usize,
}

fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut s: String = text.chars().take(300).collect();
    if text.chars().count() > 300 {
        s.push('…');
    }
    s
}

/// The request target of a `next` link: its path and query (the host is ignored, requests
/// always go to the checked loopback address).
fn link_target(url: &str) -> Option<String> {
    if url.starts_with('/') {
        return Some(url.to_owned());
    }
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))?;
    let i = rest.find('/')?;
    Some(rest[i..].to_owned())
}

/// One request outside the timed phase; a transport error or a timeout stops the run.
async fn send(
    conn: &mut Connection,
    target: &Target,
    method: &str,
    path: &str,
    body: Option<&[u8]>,
) -> Result<http::Response, LoadError> {
    let url = format!("http://{}{path}", target.host);
    tokio::time::timeout(REQUEST_TIMEOUT, conn.request(method, path, body))
        .await
        .map_err(|_| LoadError::Connect {
            url: url.clone(),
            source: std::io::Error::new(std::io::ErrorKind::TimedOut, "timed out"),
        })?
        .map_err(|source| LoadError::Connect { url, source })
}

async fn search_page(
    conn: &mut Connection,
    target: &Target,
    path: &str,
) -> Result<Value, LoadError> {
    let url = format!("http://{}{path}", target.host);
    let r = send(conn, target, "GET", path, None).await?;
    if r.status == 400 {
        if let Some(diagnostics) = too_costly(&r.body) {
            return Err(LoadError::TooCostly { url, diagnostics });
        }
    }
    if r.status != 200 {
        return Err(LoadError::Discovery {
            url,
            status: r.status,
            body: snippet(&r.body),
        });
    }
    serde_json::from_slice(&r.body).map_err(|e| LoadError::Discovery {
        url,
        status: r.status,
        body: format!("not JSON ({e})"),
    })
}

/// The explanation of a `too-costly` issue, when `body` is an OperationOutcome with one.
fn too_costly(body: &[u8]) -> Option<String> {
    let outcome: Value = serde_json::from_slice(body).ok()?;
    let issue = outcome
        .get("issue")?
        .as_array()?
        .iter()
        .find(|i| i.get("code").and_then(Value::as_str) == Some("too-costly"))?;
    let diagnostics = issue.get("diagnostics").and_then(Value::as_str);
    Some(diagnostics.unwrap_or("too-costly").to_owned())
}

/// The matches of type `rt` in a search Bundle (entries marked as included are left out).
fn page_matches<'b>(bundle: &'b Value, rt: &str) -> Vec<&'b Value> {
    bundle
        .get("entry")
        .and_then(Value::as_array)
        .map(|entries| {
            entries
                .iter()
                .filter(|e| {
                    e.pointer("/search/mode")
                        .and_then(Value::as_str)
                        .is_none_or(|m| m == "match")
                })
                .filter_map(|e| e.get("resource"))
                .filter(|r| r.get("resourceType").and_then(Value::as_str) == Some(rt))
                .collect()
        })
        .unwrap_or_default()
}

/// The request target of a search Bundle's `next` link.
fn next_link(bundle: &Value) -> Option<String> {
    bundle
        .get("link")
        .and_then(Value::as_array)
        .and_then(|links| {
            links
                .iter()
                .find(|l| l.get("relation").and_then(Value::as_str) == Some("next"))
        })
        .and_then(|l| l.get("url").and_then(Value::as_str))
        .and_then(link_target)
}

/// The ids of the matches of type `rt` in a search Bundle.
fn match_ids(bundle: &Value, rt: &str) -> Vec<String> {
    page_matches(bundle, rt)
        .into_iter()
        .filter_map(|r| r.get("id").and_then(Value::as_str).map(str::to_owned))
        .collect()
}

/// The id in a reference to a resource of type `rt` (`rt/id`, also at the end of an
/// absolute URL).
fn reference_id<'v>(reference: Option<&'v Value>, rt: &str) -> Option<&'v str> {
    let r = reference?.as_str()?;
    let (t, id) = r.rsplit_once('/')?;
    let t = t.rsplit('/').next()?;
    (t == rt && !id.is_empty()).then_some(id)
}

/// A FHIR id (`[A-Za-z0-9\-\.]{1,64}`) given as the setting `what`.
fn fhir_id(what: &str, value: &str) -> Result<String, LoadError> {
    let id = value.trim();
    let valid = (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    if valid {
        Ok(id.to_owned())
    } else {
        Err(LoadError::Config(format!(
            "{what} {value:?} is not a FHIR id (1 to 64 letters, digits, '-' or '.')"
        )))
    }
}

/// Observations of a patient: `patient=ID` for Zorgkluis workloads, the standard
/// `subject=Patient/ID` in the generic one.
fn observation_search(generic: bool, patient: &str, count: usize) -> String {
    if generic {
        format!("Observation?subject=Patient/{patient}&_count={count}")
    } else {
        format!("Observation?patient={patient}&_count={count}")
    }
}

/// LOINC codes of common laboratory and vital-sign results (the demo records use them):
/// the code searches of the search workload pick one.
const SEARCH_CODES: [&str; 6] = ["4548-4", "2339-0", "2093-3", "2160-0", "33914-3", "85354-9"];

/// One search of the search workload: a patient's observations, a third of the time only
/// those with a given code (`code=http://loinc.org|…`) and a third only those since a date
/// (`date=ge…`), as a clinician's screen asks for them.
fn search_request(generic: bool, patient: &str, rng: &mut ChaCha8Rng) -> String {
    let base = observation_search(generic, patient, 50);
    match rng.gen_range(0..3) {
        0 => base,
        1 => format!(
            "{base}&code=http://loinc.org%7C{}",
            SEARCH_CODES[rng.gen_range(0..SEARCH_CODES.len())]
        ),
        _ => format!("{base}&date=ge{}-01-01", rng.gen_range(2015..=2025)),
    }
}

/// Follows the search `first` through its `next` links (at most [`DISCOVERY_PAGES`]
/// pages), giving each match of type `rt` to `take`, until `take` answers that it has
/// enough or a page has no matches.
async fn follow_search(
    conn: &mut Connection,
    target: &Target,
    first: String,
    rt: &str,
    mut take: impl FnMut(&Value) -> bool,
) -> Result<(), LoadError> {
    let mut next = Some(first);
    let mut pages = 0;
    while let Some(path) = next.take() {
        pages += 1;
        let bundle = search_page(conn, target, &path).await?;
        let found = page_matches(&bundle, rt);
        let mut enough = found.is_empty();
        for resource in found {
            enough |= take(resource);
        }
        if !enough && pages < DISCOVERY_PAGES {
            next = next_link(&bundle);
        }
    }
    Ok(())
}

/// Adds `id` to `patients` unless it is there or the list is full; whether it is full.
fn add_patient(patients: &mut Vec<String>, id: &str) -> bool {
    if patients.len() < DISCOVERY_PATIENTS && !patients.iter().any(|p| p == id) {
        patients.push(id.to_owned());
    }
    patients.len() >= DISCOVERY_PATIENTS
}

/// Up to [`DISCOVERY_PATIENTS`] patients from `Patient?_count=…`.
async fn all_patients(conn: &mut Connection, target: &Target) -> Result<Vec<String>, LoadError> {
    let mut patients = Vec::new();
    let first = format!("{}/Patient?_count={DISCOVERY_PATIENTS}", target.base_path);
    let listed = follow_search(conn, target, first, "Patient", |p| {
        match p.get("id").and_then(Value::as_str) {
            Some(id) => add_patient(&mut patients, id),
            None => false,
        }
    })
    .await;
    match listed {
        Ok(()) => Ok(patients),
        Err(LoadError::TooCostly { url, diagnostics }) => {
            Err(LoadError::NeedsPractitioner { url, diagnostics })
        }
        Err(e) => Err(e),
    }
}

/// Up to [`DISCOVERY_PATIENTS`] subjects of the teams the search `first` finds.
async fn team_subjects(
    conn: &mut Connection,
    target: &Target,
    first: String,
) -> Result<Vec<String>, LoadError> {
    let mut patients = Vec::new();
    follow_search(conn, target, first, "CareTeam", |team| {
        match reference_id(team.pointer("/subject/reference"), "Patient") {
            Some(id) => add_patient(&mut patients, id),
            None => false,
        }
    })
    .await?;
    Ok(patients)
}

/// Up to [`DISCOVERY_PATIENTS`] patients in the active care teams that name `practitioner`,
/// as a staff portal finds "my patients". A server may refuse that search as too costly
/// (Zorgkluis does above 50,000 teams): then the teams that started in the last
/// [`CARE_TEAM_WINDOWS_DAYS`], the narrowest window first, widening while it finds too few
/// patients and the server answers.
async fn care_team_patients(
    conn: &mut Connection,
    target: &Target,
    practitioner: &str,
) -> Result<Vec<String>, LoadError> {
    let search = format!(
        "{}/CareTeam?participant=Practitioner/{practitioner}&status=active\
         &_count={DISCOVERY_PATIENTS}",
        target.base_path
    );
    let refusal = match team_subjects(conn, target, search.clone()).await {
        Err(e @ LoadError::TooCostly { .. }) => e,
        other => return other,
    };
    let today = time::OffsetDateTime::now_utc().date();
    let mut found = None;
    for days in CARE_TEAM_WINDOWS_DAYS {
        let since = today - time::Duration::days(days);
        match team_subjects(conn, target, format!("{search}&date=sa{since}")).await {
            Ok(patients) => {
                let enough = patients.len() >= DISCOVERY_PATIENTS;
                found = Some(patients);
                if enough {
                    break;
                }
            }
            Err(LoadError::TooCostly { .. }) => break,
            Err(e) => return Err(e),
        }
    }
    found.ok_or(refusal)
}

/// The organisation `practitioner` works for: the one named by their active
/// PractitionerRole resources (`PractitionerRole?practitioner=Practitioner/[id]`).
async fn practitioner_organisation(
    target: &Target,
    extra: &str,
    practitioner: &str,
) -> Result<String, LoadError> {
    let mut conn = Connection::new(target.addr, target.host.clone(), extra.to_owned());
    let path = format!(
        "{}/PractitionerRole?practitioner=Practitioner/{practitioner}&_count=100",
        target.base_path
    );
    let bundle = match search_page(&mut conn, target, &path).await {
        Ok(b) => b,
        Err(LoadError::Discovery { url, status, body }) => {
            return Err(LoadError::Discovery {
                url,
                status,
                body: format!("{body} (pass --organisation ID to do without this search)"),
            })
        }
        Err(e) => return Err(e),
    };
    let mut organisations: Vec<&str> = Vec::new();
    for role in page_matches(&bundle, "PractitionerRole") {
        if role.get("active").and_then(Value::as_bool) == Some(false) {
            continue;
        }
        if let Some(org) = reference_id(role.pointer("/organization/reference"), "Organization") {
            if !organisations.contains(&org) {
                organisations.push(org);
            }
        }
    }
    match organisations.as_slice() {
        [one] => Ok((*one).to_owned()),
        [] => Err(LoadError::Config(format!(
            "no active PractitionerRole of Practitioner/{practitioner} names an organisation \
             (http://{}{path}); pass --organisation ID",
            target.host
        ))),
        several => Err(LoadError::Config(format!(
            "Practitioner/{practitioner} has roles at several organisations ({}); pass \
             --organisation ID",
            several.join(", ")
        ))),
    }
}

async fn discover(
    target: &Target,
    extra: &str,
    workload: Workload,
    practitioner: Option<&str>,
    rng: &mut ChaCha8Rng,
) -> Result<Found, LoadError> {
    let mut conn = Connection::new(target.addr, target.host.clone(), extra.to_owned());
    let base = &target.base_path;
    let patients = match practitioner {
        Some(p) => care_team_patients(&mut conn, target, p).await?,
        None => all_patients(&mut conn, target).await?,
    };
    // The bulk workload writes new patients only: an empty server is fine.
    if patients.is_empty() && workload != Workload::Bulk {
        return Err(LoadError::NothingFound(match practitioner {
            Some(p) => format!(
                "{base}/CareTeam?participant=Practitioner/{p} found no patients in care teams \
                 visible to these credentials"
            ),
            None => format!("{base}/Patient found no patients visible to these credentials"),
        }));
    }
    let generic = workload == Workload::Generic;
    let mut sample: Vec<&String> = patients.iter().collect();
    sample.shuffle(rng);
    sample.truncate(DISCOVERY_SAMPLE);
    let mut reads: Vec<(&'static str, String)> =
        patients.iter().map(|p| ("Patient", p.clone())).collect();
    let mut observations = 0;
    for p in sample {
        let path = format!(
            "{base}/{}",
            observation_search(generic, p, DISCOVERY_OBSERVATIONS_PER_PATIENT)
        );
        // A patient whose observations cannot be searched is skipped, not fatal.
        let bundle = match search_page(&mut conn, target, &path).await {
            Ok(b) => b,
            Err(LoadError::Discovery { .. } | LoadError::TooCostly { .. }) => continue,
            Err(e) => return Err(e),
        };
        for id in match_ids(&bundle, "Observation") {
            observations += 1;
            reads.push(("Observation", id));
        }
    }
    Ok(Found {
        patients,
        reads,
        observations,
    })
}

/// What one worker does next.
enum Op {
    Read,
    Search,
    Everything,
    CreateObservation,
    CreatePatient,
    /// A `transaction` Bundle of one Patient and [`BULK_OBSERVATIONS`] Observations (and
    /// a CareTeam when the tool has one to write).
    Bulk,
}

impl Op {
    /// Resources a successful answer created; `care_team`: bulk Bundles hold a CareTeam.
    fn resources(&self, care_team: bool) -> u64 {
        match self {
            Self::Read | Self::Search | Self::Everything => 0,
            Self::CreateObservation | Self::CreatePatient => 1,
            Self::Bulk => 1 + u64::from(care_team) + u64::from(BULK_OBSERVATIONS),
        }
    }

    /// Whether `status` is a success: 200 for a transaction, any 2xx otherwise.
    fn succeeded(&self, status: u16) -> bool {
        match self {
            Self::Bulk => status == 200,
            _ => (200..300).contains(&status),
        }
    }
}

fn pick(workload: Workload, rng: &mut ChaCha8Rng) -> Op {
    let roll: u32 = rng.gen_range(0..100);
    match workload {
        Workload::Read => Op::Read,
        Workload::Search => Op::Search,
        Workload::Everything => Op::Everything,
        Workload::Create => Op::CreateObservation,
        Workload::Mixed => match roll {
            0..80 => Op::Read,
            80..90 => Op::Search,
            _ => Op::CreateObservation,
        },
        Workload::Generic => match roll {
            0..60 => Op::Read,
            60..80 => Op::Search,
            80..90 => Op::CreateObservation,
            _ => Op::CreatePatient,
        },
        Workload::Bulk => Op::Bulk,
    }
}

/// A new Observation (HbA1c) about `subject`, a reference such as `Patient/[id]` or a
/// `urn:uuid:` full URL of the same transaction.
fn new_observation(subject: &str, rng: &mut ChaCha8Rng) -> Value {
    let date = format!(
        "2025-{:02}-{:02}",
        rng.gen_range(1..=12),
        rng.gen_range(1..=28)
    );
    let value = f64::from(rng.gen_range(300..900u32)) / 10.0;
    json!({
        "resourceType": "Observation",
        "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": "4548-4", "display": "Hemoglobin A1c/Hemoglobin.total in Blood"}]},
        "subject": {"reference": subject},
        "effectiveDateTime": date,
        "valueQuantity": {"value": value, "unit": "mmol/mol", "system": "http://unitsofmeasure.org", "code": "mmol/mol"}
    })
}

/// A new Patient.
fn new_patient(rng: &mut ChaCha8Rng) -> Value {
    const FAMILY: [&str; 6] = ["de Vries", "Jansen", "Bakker", "Visser", "Smit", "Meijer"];
    const GIVEN: [&str; 6] = ["Anna", "Daan", "Emma", "Sem", "Julia", "Lucas"];
    let year = rng.gen_range(1930..2020);
    json!({
        "resourceType": "Patient",
        "name": [{"family": FAMILY[rng.gen_range(0..FAMILY.len())], "given": [GIVEN[rng.gen_range(0..GIVEN.len())]]}],
        "gender": if rng.gen_bool(0.5) { "female" } else { "male" },
        "birthDate": format!("{year}-{:02}-{:02}", rng.gen_range(1..13), rng.gen_range(1..29))
    })
}

/// A random (version 4) `urn:uuid:` full URL.
fn urn_uuid(rng: &mut ChaCha8Rng) -> String {
    uuid::Builder::from_random_bytes(rng.gen())
        .into_uuid()
        .urn()
        .to_string()
}

/// The care-team membership the tool registers its new patients with
/// ([`LoadConfig::practitioner`]).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Registrar {
    /// Practitioner id.
    practitioner: String,
    /// Organization id on whose behalf they are in the team.
    organisation: String,
}

/// A new active CareTeam about `subject` (a reference or a `urn:uuid:` full URL of the
/// same transaction) with the registrar as its participant, on behalf of and managed by
/// their organisation: what Zorgkluis reads as the practitioner's membership at that
/// organisation (the treatment relationship of GP-7; `zorgkluis_policy::records`).
fn new_care_team(subject: &str, registrar: &Registrar) -> Value {
    let organisation = json!({"reference": format!("Organization/{}", registrar.organisation)});
    json!({
        "resourceType": "CareTeam",
        "status": "active",
        "subject": {"reference": subject},
        "participant": [{
            "member": {"reference": format!("Practitioner/{}", registrar.practitioner)},
            "onBehalfOf": organisation
        }],
        "managingOrganization": [organisation]
    })
}

/// A FHIR R4 `transaction` Bundle: one new Patient (full URL `urn:uuid:…`), with a
/// registrar a CareTeam about it ([`new_care_team`]), and `observations` new Observations
/// whose subject is that full URL, all `POST`.
fn patient_bundle(observations: u32, registrar: Option<&Registrar>, rng: &mut ChaCha8Rng) -> Value {
    let patient_url = urn_uuid(rng);
    let mut entries = Vec::with_capacity(observations as usize + 2);
    entries.push(json!({
        "fullUrl": patient_url,
        "resource": new_patient(rng),
        "request": {"method": "POST", "url": "Patient"}
    }));
    if let Some(r) = registrar {
        entries.push(json!({
            "fullUrl": urn_uuid(rng),
            "resource": new_care_team(&patient_url, r),
            "request": {"method": "POST", "url": "CareTeam"}
        }));
    }
    for _ in 0..observations {
        entries.push(json!({
            "fullUrl": urn_uuid(rng),
            "resource": new_observation(&patient_url, rng),
            "request": {"method": "POST", "url": "Observation"}
        }));
    }
    json!({"resourceType": "Bundle", "type": "transaction", "entry": entries})
}

/// The request target of `POST [base]` (batches and transactions).
fn root_path(base_path: &str) -> &str {
    if base_path.is_empty() {
        "/"
    } else {
        base_path
    }
}

/// What one worker measured.
#[derive(Default)]
struct Tally {
    latencies_us: Vec<u64>,
    errors_by_status: BTreeMap<u16, u64>,
    transport_errors: u64,
    resources_written: u64,
}

struct Shared {
    target: Target,
    extra: String,
    workload: Workload,
    found: Found,
    /// Written into every bulk Bundle.
    registrar: Option<Registrar>,
    deadline: Instant,
    budget: Option<u64>,
    issued: AtomicU64,
}

/// One of `list`, at random; discovery leaves it non-empty for the workloads that use it.
fn any<'a>(list: &'a [String], rng: &mut ChaCha8Rng) -> &'a str {
    list.choose(rng).map_or("", String::as_str)
}

async fn worker(shared: Arc<Shared>, mut rng: ChaCha8Rng) -> Tally {
    let s = &*shared;
    let mut conn = Connection::new(s.target.addr, s.target.host.clone(), s.extra.clone());
    let mut tally = Tally::default();
    let base = &s.target.base_path;
    let generic = s.workload == Workload::Generic;
    loop {
        if Instant::now() >= s.deadline {
            break;
        }
        if let Some(max) = s.budget {
            if s.issued.fetch_add(1, Ordering::Relaxed) >= max {
                break;
            }
        }
        let op = pick(s.workload, &mut rng);
        let (method, path, body) = match op {
            Op::Read => {
                let (rt, id) = &s.found.reads[rng.gen_range(0..s.found.reads.len())];
                ("GET", format!("{base}/{rt}/{id}"), None)
            }
            Op::Search => {
                let patient = any(&s.found.patients, &mut rng);
                (
                    "GET",
                    format!("{base}/{}", search_request(generic, patient, &mut rng)),
                    None,
                )
            }
            Op::Everything => {
                let patient = any(&s.found.patients, &mut rng);
                ("GET", format!("{base}/Patient/{patient}/$everything"), None)
            }
            Op::CreateObservation => {
                let subject = format!("Patient/{}", any(&s.found.patients, &mut rng));
                (
                    "POST",
                    format!("{base}/Observation"),
                    Some(new_observation(&subject, &mut rng).to_string()),
                )
            }
            Op::CreatePatient => (
                "POST",
                format!("{base}/Patient"),
                Some(new_patient(&mut rng).to_string()),
            ),
            Op::Bulk => (
                "POST",
                root_path(base).to_owned(),
                Some(patient_bundle(BULK_OBSERVATIONS, s.registrar.as_ref(), &mut rng).to_string()),
            ),
        };
        let started = Instant::now();
        let answer = tokio::time::timeout(
            REQUEST_TIMEOUT,
            conn.request(method, &path, body.as_deref().map(str::as_bytes)),
        )
        .await;
        match answer {
            Ok(Ok(r)) => {
                tally
                    .latencies_us
                    .push(u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX));
                if r.status >= 400 {
                    *tally.errors_by_status.entry(r.status).or_default() += 1;
                } else if op.succeeded(r.status) {
                    tally.resources_written += op.resources(s.registrar.is_some());
                }
            }
            Ok(Err(_)) => tally.transport_errors += 1,
            Err(_) => {
                // The connection may hold half an answer: start afresh.
                conn = Connection::new(s.target.addr, s.target.host.clone(), s.extra.clone());
                tally.transport_errors += 1;
            }
        }
    }
    tally
}

/// Resident memory of `pid` now (KiB): the larger of `VmHWM` (the peak so far) and `VmRSS`.
fn rss_kib(pid: u32) -> std::io::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
    };
    Ok(field("VmHWM:").max(field("VmRSS:")).unwrap_or(0))
}

/// Samples the peak resident memory of `pid` every 100 ms until `stop` is set.
fn sample_rss(pid: u32, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<u64> {
    tokio::spawn(async move {
        let mut peak = 0;
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        loop {
            tick.tick().await;
            if let Ok(k) = rss_kib(pid) {
                peak = peak.max(k);
            }
            if stop.load(Ordering::Relaxed) {
                return peak;
            }
        }
    })
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

/// Per-worker seed: the run's seed mixed with the worker's number.
fn worker_seed(seed: u64, worker: usize) -> u64 {
    seed ^ (worker as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// How the set-up creates a patient with its observations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SetupMode {
    /// One `transaction` Bundle.
    Transaction,
    /// `POST Patient`, then `POST Observation` one by one.
    Single,
}

/// Shared by the set-up tasks.
struct Setup {
    target: Target,
    extra: String,
    observations: u32,
    /// Written next to every new Patient.
    registrar: Option<Registrar>,
    patients: u64,
    /// The index of the next patient to create.
    next: AtomicU64,
    /// A task failed: the others take no new patients.
    failed: AtomicBool,
    /// Resources created so far (behind a lock so progress is reported in order).
    done: std::sync::Mutex<u64>,
    total: u64,
    progress: Option<Progress>,
    /// The status and start of the answer with which a transaction was refused.
    refusal: std::sync::OnceLock<(u16, String)>,
}

impl Setup {
    fn advance(&self, n: u64) {
        let mut done = self
            .done
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *done += n;
        if let Some(p) = &self.progress {
            p(*done, self.total);
        }
    }

    /// Resources per patient: the Patient, its CareTeam (with a registrar) and its
    /// observations.
    fn per_patient(&self) -> u64 {
        1 + u64::from(self.registrar.is_some()) + u64::from(self.observations)
    }

    fn done(&self) -> u64 {
        *self
            .done
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn connection(&self) -> Connection {
        Connection::new(
            self.target.addr,
            self.target.host.clone(),
            self.extra.clone(),
        )
    }

    /// The error for an unsuccessful answer to `POST path`.
    fn failure(&self, path: &str, status: u16, body: String) -> LoadError {
        let body = match self.refusal.get() {
            Some((s, b)) => format!("{body} (a transaction Bundle was refused before: {s}: {b})"),
            None => body,
        };
        LoadError::Setup {
            method: "POST",
            url: format!("http://{}{path}", self.target.host),
            status,
            body,
        }
    }

    /// `POST path` of `body`; the answer when it is a 2xx.
    async fn post(
        &self,
        conn: &mut Connection,
        path: &str,
        body: &Value,
    ) -> Result<http::Response, LoadError> {
        let r = send(
            conn,
            &self.target,
            "POST",
            path,
            Some(body.to_string().as_bytes()),
        )
        .await?;
        if !(200..300).contains(&r.status) {
            return Err(self.failure(path, r.status, snippet(&r.body)));
        }
        Ok(r)
    }

    /// Creates one patient with its observations.
    async fn patient(
        &self,
        conn: &mut Connection,
        mode: SetupMode,
        rng: &mut ChaCha8Rng,
    ) -> Result<(), LoadError> {
        let base = &self.target.base_path;
        match mode {
            SetupMode::Transaction => {
                let bundle = patient_bundle(self.observations, self.registrar.as_ref(), rng);
                self.post(conn, root_path(base), &bundle).await?;
                self.advance(self.per_patient());
            }
            SetupMode::Single => {
                let path = format!("{base}/Patient");
                let r = self.post(conn, &path, &new_patient(rng)).await?;
                let id = created_id(&r, "Patient").ok_or_else(|| {
                    self.failure(
                        &path,
                        r.status,
                        format!(
                            "neither the answer nor its Location names the new Patient: {}",
                            snippet(&r.body)
                        ),
                    )
                })?;
                self.advance(1);
                let subject = format!("Patient/{id}");
                if let Some(registrar) = &self.registrar {
                    let path = format!("{base}/CareTeam");
                    self.post(conn, &path, &new_care_team(&subject, registrar))
                        .await?;
                    self.advance(1);
                }
                let path = format!("{base}/Observation");
                for _ in 0..self.observations {
                    self.post(conn, &path, &new_observation(&subject, rng))
                        .await?;
                    self.advance(1);
                }
            }
        }
        Ok(())
    }
}

/// The id of the resource of type `rt` a create answered with: the body's `id`, else the
/// one in `Location` (`…/[rt]/[id]/_history/…`).
fn created_id(r: &http::Response, rt: &str) -> Option<String> {
    if let Ok(v) = serde_json::from_slice::<Value>(&r.body) {
        if v.get("resourceType").and_then(Value::as_str) == Some(rt) {
            if let Some(id) = v.get("id").and_then(Value::as_str) {
                return Some(id.to_owned());
            }
        }
    }
    let location = r
        .header("location")
        .or_else(|| r.header("content-location"))?;
    let mut parts = location.split(['/', '?']);
    parts.by_ref().find(|p| *p == rt)?;
    parts.next().filter(|id| !id.is_empty()).map(str::to_owned)
}

/// What the set-up did.
struct SetupDone {
    resources: u64,
    transaction_refused: Option<u16>,
}

/// Creates `config.setup_patients` patients with their observations: the first one alone,
/// to find out whether the server takes transactions, then the others with `concurrency`
/// connections.
async fn setup(
    config: &LoadConfig,
    target: &Target,
    extra: &str,
    registrar: Option<&Registrar>,
) -> Result<SetupDone, LoadError> {
    let patients = u64::from(config.setup_patients);
    let mut s = Setup {
        target: target.clone(),
        extra: extra.to_owned(),
        observations: config.setup_observations,
        registrar: registrar.cloned(),
        patients,
        next: AtomicU64::new(1),
        failed: AtomicBool::new(false),
        done: std::sync::Mutex::new(0),
        total: 0,
        progress: config.progress.clone(),
        refusal: std::sync::OnceLock::new(),
    };
    let per_patient = s.per_patient();
    s.total = patients * per_patient;
    let s = Arc::new(s);
    if let Some(p) = &s.progress {
        p(0, s.total);
    }
    let seed = !config.seed;
    let mut rng = ChaCha8Rng::seed_from_u64(worker_seed(seed, 0));
    let mut conn = s.connection();
    let path = root_path(&target.base_path);
    let bundle = patient_bundle(config.setup_observations, registrar, &mut rng);
    let r = send(
        &mut conn,
        target,
        "POST",
        path,
        Some(bundle.to_string().as_bytes()),
    )
    .await?;
    let mode = match r.status {
        200..300 => {
            s.advance(per_patient);
            SetupMode::Transaction
        }
        // No transactions here (or not this one): single creates, which tell more if they
        // fail as well.
        400..500 => {
            let _ = s.refusal.set((r.status, snippet(&r.body)));
            s.patient(&mut conn, SetupMode::Single, &mut rng).await?;
            SetupMode::Single
        }
        status => return Err(s.failure(path, status, snippet(&r.body))),
    };
    let tasks = (patients - 1).min(config.concurrency as u64) as usize;
    let mut set = tokio::task::JoinSet::new();
    for i in 0..tasks {
        let s = s.clone();
        let mut rng = ChaCha8Rng::seed_from_u64(worker_seed(seed, i + 1));
        set.spawn(async move {
            let mut conn = s.connection();
            while !s.failed.load(Ordering::Relaxed)
                && s.next.fetch_add(1, Ordering::Relaxed) < s.patients
            {
                if let Err(e) = s.patient(&mut conn, mode, &mut rng).await {
                    s.failed.store(true, Ordering::Relaxed);
                    return Err(e);
                }
            }
            Ok(())
        });
    }
    let mut failure = None;
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                failure.get_or_insert(e);
            }
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => {}
        }
    }
    if let Some(e) = failure {
        return Err(e);
    }
    Ok(SetupDone {
        resources: s.done(),
        transaction_refused: s.refusal.get().map(|(status, _)| *status),
    })
}

/// Optionally creates patients (set-up), discovers targets, runs the timed phase and
/// reports.
pub async fn run(config: LoadConfig) -> Result<Report, LoadError> {
    let target = target(&config.base_url).await?;
    if config.concurrency == 0 {
        return Err(LoadError::Config("concurrency must be at least 1".into()));
    }
    if let Some(pid) = config.server_pid {
        rss_kib(pid).map_err(|source| LoadError::ServerPid { pid, source })?;
    }
    let practitioner = config
        .practitioner
        .as_deref()
        .map(|p| fhir_id("practitioner", p))
        .transpose()?;
    let organisation = config
        .organisation
        .as_deref()
        .map(|o| fhir_id("organisation", o))
        .transpose()?;
    if organisation.is_some() && practitioner.is_none() {
        return Err(LoadError::Config(
            "an organisation is only used with a practitioner (--practitioner ID)".into(),
        ));
    }
    // Client credentials: a bearer token from the server's token endpoint first.
    let mut tokens = match &config.auth {
        Auth::ClientCredentials(c) => {
            let tokens = oauth::Tokens::obtain(&target, c).await?;
            // Refuse now a timed phase longer than the server's tokens live.
            tokens.long_enough(config.duration)?;
            Some(tokens)
        }
        _ => None,
    };
    let mut extra = match &tokens {
        Some(t) => t.auth().header_lines()?,
        None => config.auth.header_lines()?,
    };
    // Patients the tool creates are registered with a care team naming the practitioner.
    let creates_patients = config.workload == Workload::Bulk || config.setup_patients > 0;
    let registrar = match &practitioner {
        Some(p) if creates_patients => Some(Registrar {
            practitioner: p.clone(),
            organisation: match organisation {
                Some(o) => o,
                None => practitioner_organisation(&target, &extra, p).await?,
            },
        }),
        _ => None,
    };
    let (done, setup_seconds) = if config.setup_patients > 0 {
        let started = Instant::now();
        let done = setup(&config, &target, &extra, registrar.as_ref()).await?;
        (done, started.elapsed().as_secs_f64())
    } else {
        let none = SetupDone {
            resources: 0,
            transaction_refused: None,
        };
        (none, 0.0)
    };
    // A token that would not last through discovery (after a long set-up) is renewed.
    if let Some(t) = &mut tokens {
        if t.last(Duration::ZERO).await? {
            extra = t.auth().header_lines()?;
        }
    }
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let discovery_started = Instant::now();
    let found = discover(
        &target,
        &extra,
        config.workload,
        practitioner.as_deref(),
        &mut rng,
    )
    .await?;
    let discovery_seconds = discovery_started.elapsed().as_secs_f64();
    let (patients, observations) = (found.patients.len(), found.observations);
    // Likewise for the timed phase, so that no worker meets an expired token.
    if let Some(t) = &mut tokens {
        if t.last(config.duration).await? {
            extra = t.auth().header_lines()?;
        }
    }

    let stop = Arc::new(AtomicBool::new(false));
    let sampler = config.server_pid.map(|pid| sample_rss(pid, stop.clone()));
    let started = Instant::now();
    let shared = Arc::new(Shared {
        target,
        extra,
        workload: config.workload,
        found,
        registrar,
        deadline: started + config.duration,
        budget: config.max_requests,
        issued: AtomicU64::new(0),
    });
    let workers: Vec<_> = (0..config.concurrency)
        .map(|i| {
            tokio::spawn(worker(
                shared.clone(),
                ChaCha8Rng::seed_from_u64(worker_seed(config.seed, i)),
            ))
        })
        .collect();
    let mut latencies = Vec::new();
    let mut errors_by_status: BTreeMap<u16, u64> = BTreeMap::new();
    let mut transport_errors = 0;
    let mut resources_written = 0;
    for w in workers {
        // A worker that panicked is a bug here, not the server's; count nothing for it.
        let Ok(t) = w.await else { continue };
        latencies.extend(t.latencies_us);
        for (s, n) in t.errors_by_status {
            *errors_by_status.entry(s).or_default() += n;
        }
        transport_errors += t.transport_errors;
        resources_written += t.resources_written;
    }
    let seconds = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let peak_rss_kib = match sampler {
        Some(h) => h.await.ok(),
        None => None,
    };
    latencies.sort_unstable();
    let requests = latencies.len() as u64;
    Ok(Report {
        workload: config.workload,
        concurrency: config.concurrency,
        patients,
        observations,
        discovery_seconds,
        setup_resources: done.resources,
        setup_seconds,
        setup_transaction_refused: done.transaction_refused,
        requests,
        seconds,
        rps: if seconds > 0.0 {
            requests as f64 / seconds
        } else {
            0.0
        },
        resources_written,
        p50_us: percentile(&latencies, 0.50),
        p95_us: percentile(&latencies, 0.95),
        p99_us: percentile(&latencies, 0.99),
        max_us: latencies.last().copied().unwrap_or(0),
        errors_by_status,
        transport_errors,
        peak_rss_kib,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn searches_are_by_patient_code_and_date_in_about_equal_parts() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let (mut plain, mut code, mut date) = (0, 0, 0);
        for _ in 0..3000 {
            let q = search_request(false, "p1", &mut rng);
            assert!(q.starts_with("Observation?patient=p1&_count=50"), "{q}");
            if q.contains("&code=http://loinc.org%7C") {
                code += 1;
            } else if q.contains("&date=ge") {
                date += 1;
            } else {
                plain += 1;
            }
        }
        for n in [plain, code, date] {
            assert!((850..1150).contains(&n), "{plain} {code} {date}");
        }
        let q = search_request(true, "p1", &mut ChaCha8Rng::seed_from_u64(3));
        assert!(
            q.starts_with("Observation?subject=Patient/p1&_count=50"),
            "{q}"
        );
    }

    #[tokio::test]
    async fn base_urls_must_be_loopback_http() {
        for ok in [
            "http://127.0.0.1:8080/fhir",
            "http://127.1.2.3:80/fhir/",
            "http://[::1]:8080/fhir",
            "http://localhost:8080/fhir",
            "http://LOCALHOST/fhir",
        ] {
            let t = target(ok).await.unwrap_or_else(|e| panic!("{ok}: {e}"));
            assert!(t.addr.ip().is_loopback());
            assert_eq!(t.base_path, "/fhir");
        }
        for far in [
            "http://10.0.0.1:8080/fhir",
            "http://example.org/fhir",
            "http://[2001:db8::1]:80/fhir",
            "http://0.0.0.0:8080/fhir",
        ] {
            assert!(
                matches!(target(far).await, Err(LoadError::NotLoopback(_))),
                "{far}"
            );
        }
        for bad in [
            "https://127.0.0.1/fhir",
            "127.0.0.1:8080/fhir",
            "http://user@127.0.0.1/fhir",
            "http://127.0.0.1:99999/fhir",
        ] {
            assert!(
                matches!(target(bad).await, Err(LoadError::BadUrl { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn workload_names_round_trip() {
        for (w, n) in Workload::ALL.into_iter().zip(Workload::NAMES) {
            assert_eq!(n.parse::<Workload>().unwrap(), w);
            assert_eq!(w.to_string(), n);
        }
        assert_eq!(" BULK ".parse::<Workload>().unwrap(), Workload::Bulk);
        assert!("import".parse::<Workload>().is_err());
        assert_eq!(Workload::ALL.len(), Workload::NAMES.len());
    }

    #[test]
    fn next_links_become_request_targets_on_the_same_server() {
        assert_eq!(
            link_target("http://elsewhere:9/fhir/Patient?_offset=10").as_deref(),
            Some("/fhir/Patient?_offset=10")
        );
        assert_eq!(link_target("/fhir/x").as_deref(), Some("/fhir/x"));
        assert_eq!(link_target("ftp://x/y"), None);
    }

    #[test]
    fn mixed_workload_is_about_eighty_ten_ten() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let (mut r, mut s, mut c) = (0, 0, 0);
        for _ in 0..10_000 {
            match pick(Workload::Mixed, &mut rng) {
                Op::Read => r += 1,
                Op::Search => s += 1,
                Op::CreateObservation => c += 1,
                _ => unreachable!(),
            }
        }
        assert!((7700..8300).contains(&r) && (800..1200).contains(&s) && (800..1200).contains(&c));
    }

    #[test]
    fn table_is_aligned_and_json_has_the_figures() {
        let report = Report {
            workload: Workload::Mixed,
            concurrency: 4,
            patients: 1,
            observations: 3,
            discovery_seconds: 0.01,
            setup_resources: 0,
            setup_seconds: 0.0,
            setup_transaction_refused: None,
            requests: 100,
            seconds: 1.0,
            rps: 100.0,
            resources_written: 0,
            p50_us: 10,
            p95_us: 20,
            p99_us: 30,
            max_us: 40,
            errors_by_status: BTreeMap::from([(404, 2)]),
            transport_errors: 0,
            peak_rss_kib: Some(2048),
        };
        let table = report.table();
        let widths: Vec<usize> = table.lines().map(|l| l.chars().count()).collect();
        assert!(widths.windows(2).all(|w| w[0] == w[1]), "{table}");
        assert!(table.contains("error answers 404"));
        let v = serde_json::to_value(&report).unwrap();
        assert_eq!(v["workload"], "mixed");
        assert_eq!(v["errors_by_status"]["404"], 2);
        assert_eq!(v["peak_rss_kib"], 2048);
        assert!(!table.contains("resources written/s") && !table.contains("set-up"));

        let bulk = Report {
            workload: Workload::Bulk,
            setup_resources: 63,
            setup_seconds: 0.5,
            setup_transaction_refused: Some(400),
            seconds: 2.0,
            resources_written: 210,
            ..report
        };
        let table = bulk.table();
        let widths: Vec<usize> = table.lines().map(|l| l.chars().count()).collect();
        assert!(widths.windows(2).all(|w| w[0] == w[1]), "{table}");
        let row = |label: &str| {
            table
                .lines()
                .find(|l| l.trim_start().starts_with(label))
                .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        };
        assert_eq!(
            row("resources written/s").as_deref(),
            Some("resources written/s 105.0")
        );
        assert_eq!(
            row("set-up (resources / s)").as_deref(),
            Some("set-up (resources / s) 63 / 0.50")
        );
        assert!(row("set-up transaction refused").is_some(), "{table}");
        let v = serde_json::to_value(&bulk).unwrap();
        assert_eq!(v["workload"], "bulk");
        assert_eq!(v["resources_written"], 210);
        assert_eq!(v["setup_resources"], 63);
        assert_eq!(v["setup_transaction_refused"], 400);
    }

    #[test]
    fn bulk_bundle_is_a_transaction_of_one_patient_and_its_observations() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let bundle = patient_bundle(BULK_OBSERVATIONS, None, &mut rng);
        assert_eq!(bundle["resourceType"], "Bundle");
        assert_eq!(bundle["type"], "transaction");
        let entries = bundle["entry"].as_array().unwrap();
        assert_eq!(entries.len(), 21);
        assert_eq!(entries.len() as u64, Op::Bulk.resources(false));
        let patient = &entries[0];
        assert_eq!(patient["resource"]["resourceType"], "Patient");
        assert_eq!(patient["request"]["method"], "POST");
        assert_eq!(patient["request"]["url"], "Patient");
        let full_url = patient["fullUrl"].as_str().unwrap();
        let uuid = full_url.strip_prefix("urn:uuid:").unwrap();
        let groups: Vec<usize> = uuid.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12], "{uuid}");
        assert!(uuid.chars().all(|c| c == '-' || c.is_ascii_hexdigit()));
        assert_eq!(&uuid[14..15], "4", "version 4: {uuid}");
        let mut full_urls = std::collections::HashSet::new();
        for e in entries {
            assert!(
                full_urls.insert(e["fullUrl"].as_str().unwrap()),
                "unique fullUrl"
            );
            assert!(e["resource"].get("id").is_none(), "the server assigns ids");
        }
        for o in &entries[1..] {
            assert_eq!(o["resource"]["resourceType"], "Observation");
            assert_eq!(o["request"]["method"], "POST");
            assert_eq!(o["request"]["url"], "Observation");
            assert_eq!(o["resource"]["subject"]["reference"], full_url);
        }
        // No entries but the patient when asked for none.
        let alone = patient_bundle(0, None, &mut rng);
        assert_eq!(alone["entry"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn with_a_registrar_the_bundle_registers_the_patient_with_a_care_team_naming_them() {
        let registrar = Registrar {
            practitioner: "dr-1".into(),
            organisation: "gp".into(),
        };
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let bundle = patient_bundle(BULK_OBSERVATIONS, Some(&registrar), &mut rng);
        let entries = bundle["entry"].as_array().unwrap();
        assert_eq!(entries.len(), 22);
        assert_eq!(entries.len() as u64, Op::Bulk.resources(true));
        let patient_url = entries[0]["fullUrl"].as_str().unwrap();
        let team = &entries[1];
        assert!(team["fullUrl"].as_str().unwrap().starts_with("urn:uuid:"));
        assert_ne!(team["fullUrl"], entries[0]["fullUrl"]);
        assert_eq!(team["request"]["method"], "POST");
        assert_eq!(team["request"]["url"], "CareTeam");
        let team = &team["resource"];
        assert_eq!(team["resourceType"], "CareTeam");
        assert_eq!(team["status"], "active");
        assert_eq!(team["subject"]["reference"], patient_url);
        let member = &team["participant"][0];
        assert_eq!(member["member"]["reference"], "Practitioner/dr-1");
        assert_eq!(member["onBehalfOf"]["reference"], "Organization/gp");
        assert_eq!(
            team["managingOrganization"][0]["reference"],
            "Organization/gp"
        );
        for o in &entries[2..] {
            assert_eq!(o["resource"]["resourceType"], "Observation");
            assert_eq!(o["resource"]["subject"]["reference"], patient_url);
        }
    }

    #[test]
    fn too_costly_is_read_from_the_operation_outcome() {
        let outcome = json!({"resourceType": "OperationOutcome", "issue": [
            {"severity": "error", "code": "too-costly", "diagnostics": "narrow it down"}]});
        assert_eq!(
            too_costly(outcome.to_string().as_bytes()).as_deref(),
            Some("narrow it down")
        );
        let other = json!({"resourceType": "OperationOutcome", "issue": [
            {"severity": "error", "code": "not-supported", "diagnostics": "no"}]});
        assert_eq!(too_costly(other.to_string().as_bytes()), None);
        assert_eq!(too_costly(b"too-costly"), None);
    }

    #[test]
    fn references_and_ids_are_read_and_checked() {
        let r = json!("Patient/p-1");
        assert_eq!(reference_id(Some(&r), "Patient"), Some("p-1"));
        let r = json!("http://127.0.0.1:1/fhir/Organization/gp");
        assert_eq!(reference_id(Some(&r), "Organization"), Some("gp"));
        assert_eq!(reference_id(Some(&json!("Group/g")), "Patient"), None);
        assert_eq!(reference_id(Some(&json!("urn:uuid:x")), "Patient"), None);
        assert_eq!(reference_id(None, "Patient"), None);
        assert_eq!(fhir_id("practitioner", " dr.1-a ").unwrap(), "dr.1-a");
        for bad in ["", "a/b", "a b", "x?y", &"a".repeat(65)] {
            let e = fhir_id("practitioner", bad).unwrap_err();
            assert!(e.to_string().contains("not a FHIR id"), "{e}");
        }
    }

    #[test]
    fn bulk_success_is_a_200_and_creates_count_their_resources() {
        assert!(Op::Bulk.succeeded(200));
        assert!(!Op::Bulk.succeeded(201));
        assert!(Op::CreatePatient.succeeded(201) && Op::CreateObservation.succeeded(200));
        assert_eq!(Op::CreateObservation.resources(true), 1);
        assert_eq!(Op::Read.resources(true) + Op::Search.resources(true), 0);
        assert_eq!(Op::Bulk.resources(false), 21);
        assert_eq!(Op::Bulk.resources(true), 22);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        assert!(matches!(pick(Workload::Bulk, &mut rng), Op::Bulk));
        assert_eq!(root_path(""), "/");
        assert_eq!(root_path("/fhir"), "/fhir");
    }

    #[test]
    fn created_ids_come_from_the_body_or_the_location() {
        let answer = |head: &str, body: &str| http::Response {
            status: 201,
            head: head.to_owned(),
            body: body.as_bytes().to_vec(),
        };
        let r = answer("", r#"{"resourceType":"Patient","id":"abc"}"#);
        assert_eq!(created_id(&r, "Patient").as_deref(), Some("abc"));
        let r = answer(
            "Content-Type: text/plain\r\nLocation: http://127.0.0.1:8080/fhir/Patient/p-9/_history/1",
            "",
        );
        assert_eq!(created_id(&r, "Patient").as_deref(), Some("p-9"));
        let r = answer(
            "Location: Observation/o1",
            r#"{"resourceType":"OperationOutcome"}"#,
        );
        assert_eq!(created_id(&r, "Patient"), None);
        assert_eq!(created_id(&r, "Observation").as_deref(), Some("o1"));
    }

    #[test]
    fn load_config_debug_shows_no_credentials_and_no_callback_internals() {
        let mut c = LoadConfig::new(
            "http://127.0.0.1:1/fhir",
            Auth::Bearer("secret-token".into()),
            Workload::Bulk,
        );
        assert_eq!((c.setup_patients, c.setup_observations), (0, 20));
        assert_eq!(
            (c.practitioner.as_deref(), c.organisation.as_deref()),
            (None, None)
        );
        c.progress = Some(Arc::new(|_, _| {}));
        c.practitioner = Some("dr-1".into());
        let d = format!("{c:?}");
        assert!(!d.contains("secret-token"), "{d}");
        assert!(d.contains("progress: Some(\"Fn(done, total)\")"), "{d}");
        assert!(d.contains("setup_observations: 20"), "{d}");
        assert!(d.contains("practitioner: Some(\"dr-1\")"), "{d}");
        c.auth = Auth::ClientCredentials(ClientCredentials {
            client_id: "load-client".into(),
            client_secret: "secret-of-the-client".into(),
            scope: Some("user/*.read".into()),
        });
        let d = format!("{c:?}");
        assert!(!d.contains("secret-of-the-client"), "{d}");
        assert!(
            d.contains("load-client") && d.contains("user/*.read"),
            "{d}"
        );
    }
}
