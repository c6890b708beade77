//! HTTP load tool for a FHIR R4 server on loopback (`zorgkluis bench http`).
//!
//! [`run`] first discovers what to ask for, through FHIR search only (`Patient?_count=…`
//! following `next` links, then `Observation?patient=…` for a sample of those patients), and
//! then lets `concurrency` workers, each on one keep-alive connection, send requests of the
//! chosen [`Workload`] until the duration is over or the request budget is spent. The
//! [`Report`] gives throughput, latency percentiles, answers by error status, transport
//! errors and, when the server's process id is given, its peak resident memory.
//!
//! Only loopback servers are accepted: this is a tool to measure one's own server, not to
//! put load on somebody else's.
#![warn(missing_docs)]

pub mod http;

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

/// How the load tool authenticates.
#[derive(Clone, PartialEq, Eq)]
pub enum Auth {
    /// `Authorization: Bearer <token>`.
    Bearer(String),
    /// `Cookie: <value>`; a value without `=` is taken as Zorgkluis' session cookie
    /// (`zk_session=<value>`).
    Cookie(String),
    /// No credentials.
    None,
}

impl fmt::Debug for Auth {
    // Never print credentials.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Bearer(_) => f.write_str("Bearer(…)"),
            Self::Cookie(_) => f.write_str("Cookie(…)"),
            Self::None => f.write_str("None"),
        }
    }
}

impl Auth {
    fn header_lines(&self) -> Result<String, LoadError> {
        let (name, value) = match self {
            Self::Bearer(t) => ("Authorization", format!("Bearer {}", t.trim())),
            Self::Cookie(c) if c.contains('=') => ("Cookie", c.trim().to_owned()),
            Self::Cookie(c) => ("Cookie", format!("zk_session={}", c.trim())),
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
    /// `GET Observation?patient=[id]&_count=50` for discovered patients.
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
}

impl Workload {
    /// Every workload.
    pub const ALL: [Workload; 6] = [
        Self::Read,
        Self::Search,
        Self::Mixed,
        Self::Everything,
        Self::Create,
        Self::Generic,
    ];
    /// Their names, as [`FromStr`] takes them.
    pub const NAMES: [&'static str; 6] =
        ["read", "search", "mixed", "everything", "create", "generic"];

    /// The name (`read`, `search`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Search => "search",
            Self::Mixed => "mixed",
            Self::Everything => "everything",
            Self::Create => "create",
            Self::Generic => "generic",
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

/// One load run.
#[derive(Debug, Clone)]
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
}

impl LoadConfig {
    /// A configuration with the defaults of `zorgkluis bench http`: 16 workers, 30 s, no
    /// request budget, no memory sampling, seed 7513.
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
    /// Discovery found nothing to work with.
    #[error("discovery: {0}")]
    NothingFound(String),
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
    /// Requests answered (any status) in the timed phase.
    pub requests: u64,
    /// Length of the timed phase.
    pub seconds: f64,
    /// Requests answered per second.
    pub rps: f64,
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
            ("requests".into(), self.requests.to_string()),
            ("seconds".into(), format!("{:.2}", self.seconds)),
            ("requests/s".into(), format!("{:.1}", self.rps)),
            ("latency p50 (µs)".into(), self.p50_us.to_string()),
            ("latency p95 (µs)".into(), self.p95_us.to_string()),
            ("latency p99 (µs)".into(), self.p99_us.to_string()),
            ("latency max (µs)".into(), self.max_us.to_string()),
        ];
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
            "credentials in the URL are not supported (use --token or --cookie)",
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

async fn search_page(
    conn: &mut Connection,
    target: &Target,
    path: &str,
) -> Result<Value, LoadError> {
    let url = format!("http://{}{path}", target.host);
    let r = tokio::time::timeout(REQUEST_TIMEOUT, conn.request("GET", path, None))
        .await
        .map_err(|_| LoadError::Connect {
            url: url.clone(),
            source: std::io::Error::new(std::io::ErrorKind::TimedOut, "timed out"),
        })?
        .map_err(|source| LoadError::Connect {
            url: url.clone(),
            source,
        })?;
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

/// The ids of the matches of type `rt` in a search Bundle, and its `next` link.
fn matches(bundle: &Value, rt: &str) -> (Vec<String>, Option<String>) {
    let ids = bundle
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
                .filter_map(|r| r.get("id").and_then(Value::as_str).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let next = bundle
        .get("link")
        .and_then(Value::as_array)
        .and_then(|links| {
            links
                .iter()
                .find(|l| l.get("relation").and_then(Value::as_str) == Some("next"))
        })
        .and_then(|l| l.get("url").and_then(Value::as_str))
        .and_then(link_target);
    (ids, next)
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

async fn discover(
    target: &Target,
    extra: &str,
    workload: Workload,
    rng: &mut ChaCha8Rng,
) -> Result<Found, LoadError> {
    let mut conn = Connection::new(target.addr, target.host.clone(), extra.to_owned());
    let base = &target.base_path;
    let mut patients: Vec<String> = Vec::new();
    let mut next = Some(format!("{base}/Patient?_count={DISCOVERY_PATIENTS}"));
    let mut pages = 0;
    while let Some(path) = next.take() {
        pages += 1;
        let bundle = search_page(&mut conn, target, &path).await?;
        let (ids, n) = matches(&bundle, "Patient");
        let empty = ids.is_empty();
        for id in ids {
            if patients.len() < DISCOVERY_PATIENTS && !patients.contains(&id) {
                patients.push(id);
            }
        }
        if patients.len() < DISCOVERY_PATIENTS && pages < DISCOVERY_PAGES && !empty {
            next = n;
        }
    }
    if patients.is_empty() {
        return Err(LoadError::NothingFound(format!(
            "{base}/Patient found no patients visible to these credentials"
        )));
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
            Err(LoadError::Discovery { .. }) => continue,
            Err(e) => return Err(e),
        };
        for id in matches(&bundle, "Observation").0 {
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
    }
}

fn new_observation(patient: &str, rng: &mut ChaCha8Rng) -> Value {
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
        "subject": {"reference": format!("Patient/{patient}")},
        "effectiveDateTime": date,
        "valueQuantity": {"value": value, "unit": "mmol/mol", "system": "http://unitsofmeasure.org", "code": "mmol/mol"}
    })
}

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

/// What one worker measured.
#[derive(Default)]
struct Tally {
    latencies_us: Vec<u64>,
    errors_by_status: BTreeMap<u16, u64>,
    transport_errors: u64,
}

struct Shared {
    target: Target,
    extra: String,
    workload: Workload,
    found: Found,
    deadline: Instant,
    budget: Option<u64>,
    issued: AtomicU64,
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
        let patient = &s.found.patients[rng.gen_range(0..s.found.patients.len())];
        let (method, path, body) = match pick(s.workload, &mut rng) {
            Op::Read => {
                let (rt, id) = &s.found.reads[rng.gen_range(0..s.found.reads.len())];
                ("GET", format!("{base}/{rt}/{id}"), None)
            }
            Op::Search => (
                "GET",
                format!("{base}/{}", observation_search(generic, patient, 50)),
                None,
            ),
            Op::Everything => ("GET", format!("{base}/Patient/{patient}/$everything"), None),
            Op::CreateObservation => (
                "POST",
                format!("{base}/Observation"),
                Some(new_observation(patient, &mut rng).to_string()),
            ),
            Op::CreatePatient => (
                "POST",
                format!("{base}/Patient"),
                Some(new_patient(&mut rng).to_string()),
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

/// Discovers targets, runs the timed phase and reports.
pub async fn run(config: LoadConfig) -> Result<Report, LoadError> {
    let target = target(&config.base_url).await?;
    if config.concurrency == 0 {
        return Err(LoadError::Config("concurrency must be at least 1".into()));
    }
    let extra = config.auth.header_lines()?;
    if let Some(pid) = config.server_pid {
        rss_kib(pid).map_err(|source| LoadError::ServerPid { pid, source })?;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let discovery_started = Instant::now();
    let found = discover(&target, &extra, config.workload, &mut rng).await?;
    let discovery_seconds = discovery_started.elapsed().as_secs_f64();
    let (patients, observations) = (found.patients.len(), found.observations);

    let stop = Arc::new(AtomicBool::new(false));
    let sampler = config.server_pid.map(|pid| sample_rss(pid, stop.clone()));
    let started = Instant::now();
    let shared = Arc::new(Shared {
        target,
        extra,
        workload: config.workload,
        found,
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
    for w in workers {
        // A worker that panicked is a bug here, not the server's; count nothing for it.
        let Ok(t) = w.await else { continue };
        latencies.extend(t.latencies_us);
        for (s, n) in t.errors_by_status {
            *errors_by_status.entry(s).or_default() += n;
        }
        transport_errors += t.transport_errors;
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
        requests,
        seconds,
        rps: if seconds > 0.0 {
            requests as f64 / seconds
        } else {
            0.0
        },
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
        assert!("bulk".parse::<Workload>().is_err());
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
            requests: 100,
            seconds: 1.0,
            rps: 100.0,
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
    }
}
