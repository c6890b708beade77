//! Fault tests of the real `zorgkluis` server process, driven over HTTP as a client would
//! (issue #8): SIGKILL under mixed load, a full disk, a PostgreSQL restart under load, and an
//! operator's command next to the running server.
//!
//! Each test sets the vault up as an operator does (`generate`, `clients add`, `serve`), gets
//! bearer tokens from `/oauth/token` and keeps concurrent FHIR clients busy while the fault
//! happens. Afterwards what the clients were told is checked against what is stored: every
//! acknowledged create (`201` with its id and version) reads back unchanged and has its audit
//! event, nothing half-written is visible, every failure was a clean answer (`503` with
//! `Retry-After` and an OperationOutcome that leaks nothing; never a dropped connection, a
//! `500` or a hang) and `zorgkluis audit verify` passes.
#![allow(clippy::expect_used)]

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use rustix::process::{Pid, Resource, Rlimit, Signal};
use serde_json::{json, Value};
use zorgkluis_load::http::{Connection, Response};
use zorgkluis_testkit::TestDb;

const BIN: &str = env!("CARGO_BIN_EXE_zorgkluis");
/// No answer may take longer than this, whatever the fault.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
/// Concurrent clients of the load.
const WORKERS: usize = 6;
/// Demo patients: small, so that the whole file runs well within two minutes.
const PATIENTS: &str = "5";
const GP: &str = "huisarts.jansen";
const PRIVACY_OFFICER: &str = "fg.vandijk";

/// Where a vault lives: its data directory and database.
#[derive(Clone)]
struct Place {
    backend: &'static str,
    data_dir: PathBuf,
    url: String,
}

impl Place {
    fn of(db: &TestDb) -> Self {
        Self {
            backend: db.backend,
            data_dir: db.data_dir(),
            url: db.url.clone(),
        }
    }

    /// `PROGRAM [BEFORE…] zorgkluis --data-dir … --database-url …`, without a command yet.
    fn command(&self, program: &str, before: &[&str]) -> Command {
        let mut c = Command::new(program);
        c.args(before)
            .arg("--data-dir")
            .arg(&self.data_dir)
            .arg("--database-url")
            .arg(&self.url)
            .env_remove("ZORGKLUIS_DATABASE_URL")
            .env_remove("ZORGKLUIS_CONFIG");
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(BIN, &[])
            .args(args)
            .output()
            .expect("run the zorgkluis binary")
    }
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// An API client's id and secret, as `clients add` prints them once.
struct Credentials {
    id: String,
    secret: String,
}

fn add_client(place: &Place, name: &str, user: &str, scopes: &str) -> Credentials {
    let o = place.run(&[
        "clients", "add", "--name", name, "--user", user, "--scopes", scopes,
    ]);
    let out = text(&o);
    assert!(o.status.success(), "clients add: {out}");
    let field = |name: &str| {
        out.lines()
            .find_map(|l| l.trim().strip_prefix(name))
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| panic!("no {name} in: {out}"))
    };
    Credentials {
        id: field("client_id"),
        secret: field("client_secret"),
    }
}

/// Demo data with the demo logins, and API clients for the GP and the privacy officer.
fn prepare(place: &Place) -> (Credentials, Credentials) {
    let o = place.run(&["generate", "--patients", PATIENTS, "--with-demo-accounts"]);
    assert!(
        o.status.success(),
        "{}: generate: {}",
        place.backend,
        text(&o)
    );
    (
        add_client(place, "faults-gp", GP, "user/*.*"),
        add_client(place, "faults-fg", PRIVACY_OFFICER, "user/AuditEvent.read"),
    )
}

fn audit_verify(place: &Place) {
    let o = place.run(&["audit", "verify"]);
    assert!(
        o.status.success() && text(&o).contains("audit chain intact"),
        "{}: audit verify: {}",
        place.backend,
        text(&o)
    );
}

/// A running `zorgkluis serve`; killed when dropped.
struct Server {
    child: Child,
    addr: SocketAddr,
    log: Arc<Mutex<String>>,
}

fn append(log: &Mutex<String>, line: &str) {
    let mut l = log.lock().unwrap_or_else(|e| e.into_inner());
    l.push_str(line);
    l.push('\n');
}

impl Server {
    fn start(place: &Place) -> Self {
        let mut c = place.command(BIN, &[]);
        c.args(["serve", "--listen", "127.0.0.1:0"]);
        Self::spawn(c)
    }

    /// Starts `command` (which ends up as `zorgkluis … serve`) and waits for its address.
    fn spawn(mut command: Command) -> Self {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("start the server");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let stdout = child.stdout.take().expect("the server's stdout");
        let stderr = child.stderr.take().expect("the server's stderr");
        let out_log = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.split_whitespace().find(|w| w.starts_with("http://")) {
                    let _ = tx.send(url.to_owned());
                }
                append(&out_log, &line);
            }
        });
        let err_log = log.clone();
        std::thread::spawn(move || {
            let mut stderr = stderr;
            let mut chunk = [0u8; 8192];
            while let Ok(n) = stderr.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                let mut l = err_log.lock().unwrap_or_else(|e| e.into_inner());
                l.push_str(&String::from_utf8_lossy(&chunk[..n]));
            }
        });
        let Ok(url) = rx.recv_timeout(Duration::from_secs(60)) else {
            let _ = child.kill();
            let _ = child.wait();
            let log = log.lock().unwrap_or_else(|e| e.into_inner()).clone();
            panic!("the server did not start:\n{log}");
        };
        let addr = url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .expect("the server's address");
        Self { child, addr, log }
    }

    fn pid(&self) -> Pid {
        Pid::from_child(&self.child)
    }

    fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    fn log(&self) -> String {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// SIGKILL: no chance to finish anything.
    fn sigkill(&mut self) {
        self.child.kill().expect("SIGKILL the server");
        self.child.wait().expect("reap the server");
    }

    /// SIGTERM, and a clean exit within 30 seconds.
    fn stop(&mut self) {
        rustix::process::kill_process(self.pid(), Signal::TERM).expect("SIGTERM the server");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match self.child.try_wait().expect("wait for the server") {
                Some(status) => {
                    assert!(
                        status.success(),
                        "the server exited with {status}:\n{}",
                        self.log()
                    );
                    return;
                }
                None if Instant::now() > deadline => {
                    panic!("the server did not stop on SIGTERM:\n{}", self.log())
                }
                None => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    fn assert_no_panic(&self) {
        let log = self.log();
        assert!(!log.contains("panicked"), "the server panicked:\n{log}");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A bearer token for `c` (client credentials grant, HTTP Basic).
async fn bearer_token(addr: SocketAddr, c: &Credentials) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let body = "grant_type=client_credentials";
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", c.id, c.secret));
    let request = format!(
        "POST /oauth/token HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Basic {basic}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    let exchange = async {
        let mut s = tokio::net::TcpStream::connect(addr).await?;
        s.write_all(request.as_bytes()).await?;
        let mut out = Vec::new();
        s.read_to_end(&mut out).await?;
        Ok::<_, std::io::Error>(out)
    };
    let raw = tokio::time::timeout(REQUEST_TIMEOUT, exchange)
        .await
        .expect("the token request timed out")
        .expect("the token request");
    let answer = String::from_utf8_lossy(&raw);
    let (head, body) = answer.split_once("\r\n\r\n").expect("an HTTP answer");
    assert!(head.starts_with("HTTP/1.1 200"), "no token: {answer}");
    let v: Value = serde_json::from_str(body).expect("a JSON token answer");
    v["access_token"]
        .as_str()
        .expect("an access_token")
        .to_owned()
}

/// One keep-alive connection with a bearer token; every request has [`REQUEST_TIMEOUT`].
struct Client {
    addr: SocketAddr,
    token: String,
    conn: Connection,
}

impl Client {
    fn new(addr: SocketAddr, token: &str) -> Self {
        Self {
            addr,
            token: token.to_owned(),
            conn: Self::connection(addr, token),
        }
    }

    fn connection(addr: SocketAddr, token: &str) -> Connection {
        Connection::new(
            addr,
            addr.to_string(),
            format!("Authorization: Bearer {token}\r\n"),
        )
    }

    /// The answer, or why there was none (transport error or timeout).
    async fn send(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Response, String> {
        let body = body.map(Value::to_string);
        let answer = tokio::time::timeout(
            REQUEST_TIMEOUT,
            self.conn
                .request(method, path, body.as_deref().map(str::as_bytes)),
        )
        .await;
        match answer {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(e)) => Err(format!("{method} {path}: {e}")),
            Err(_) => {
                // The connection may hold half an answer.
                self.conn = Self::connection(self.addr, &self.token);
                Err(format!(
                    "{method} {path}: no answer within {REQUEST_TIMEOUT:?}"
                ))
            }
        }
    }

    /// GET that must answer 200 with JSON.
    async fn json(&mut self, path: &str) -> Value {
        let r = self.send("GET", path, None).await.expect("an answer");
        assert_eq!(r.status, 200, "GET {path}: {}", body_text(&r));
        serde_json::from_slice(&r.body).expect("a JSON answer")
    }
}

fn body_text(r: &Response) -> String {
    String::from_utf8_lossy(&r.body).chars().take(600).collect()
}

/// Why `r` is not a clean "try again later": `503` with `Retry-After` and an
/// OperationOutcome that names no internals.
fn unclean(r: &Response) -> Option<String> {
    let problem = |why: &str| Some(format!("{why}: {} {}", r.status, body_text(r)));
    if r.status != 503 {
        return problem("not 503");
    }
    if r.header("retry-after").is_none() {
        return problem("no Retry-After");
    }
    let Ok(outcome) = serde_json::from_slice::<Value>(&r.body) else {
        return problem("not JSON");
    };
    if outcome["resourceType"] != "OperationOutcome" || outcome["issue"][0]["severity"].is_null() {
        return problem("not an OperationOutcome");
    }
    let lower = body_text(r).to_lowercase();
    for leak in [
        "sqlite",
        "sqlx",
        "postgres",
        "database error",
        "file too large",
        "os error",
        "zorgkluis.db",
        "/tmp",
    ] {
        if lower.contains(leak) {
            return problem(&format!("leaks {leak:?}"));
        }
    }
    None
}

/// Ids in a search Bundle (matches only) and the path of its `next` link.
fn matches(bundle: &Value) -> (Vec<Value>, Option<String>) {
    let resources = bundle["entry"]
        .as_array()
        .map(|entries| {
            entries
                .iter()
                .filter(|e| e["search"]["mode"] != "include")
                .map(|e| e["resource"].clone())
                .collect()
        })
        .unwrap_or_default();
    let next = bundle["link"].as_array().and_then(|links| {
        links
            .iter()
            .find(|l| l["relation"] == "next")
            .and_then(|l| l["url"].as_str())
            .map(|u| {
                let rest = u.split_once("://").map_or(u, |(_, r)| r);
                rest.find('/').map_or(u, |i| &rest[i..]).to_owned()
            })
    });
    (resources, next)
}

/// What the load works on: creates go to one patient the GP treats, reads and searches to
/// another, so that the first patient's audit trail holds the creates and little else.
struct Targets {
    write_patient: String,
    read_patient: String,
    reads: Vec<String>,
}

async fn targets(client: &mut Client) -> Targets {
    let (patients, _) = matches(&client.json("/fhir/Patient?_count=50").await);
    let ids: Vec<String> = patients
        .iter()
        .filter_map(|p| p["id"].as_str().map(str::to_owned))
        .collect();
    assert!(
        ids.len() >= 2,
        "the GP should see at least two demo patients: {ids:?}"
    );
    let read_patient = ids[1].clone();
    let (observations, _) = matches(
        &client
            .json(&format!(
                "/fhir/Observation?patient={read_patient}&_count=20"
            ))
            .await,
    );
    let mut reads = vec![format!("/fhir/Patient/{read_patient}")];
    reads.extend(
        observations
            .iter()
            .filter_map(|o| o["id"].as_str())
            .map(|id| format!("/fhir/Observation/{id}")),
    );
    Targets {
        write_patient: ids[0].clone(),
        read_patient,
        reads,
    }
}

/// Every Observation of `patient`, following `next` links; each must be whole.
async fn observations_of(client: &mut Client, patient: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut next = Some(format!("/fhir/Observation?patient={patient}&_count=200"));
    while let Some(path) = next.take() {
        let (page, n) = matches(&client.json(&path).await);
        for o in page {
            assert!(
                o["resourceType"] == "Observation"
                    && o["id"].is_string()
                    && o["meta"]["versionId"].is_string()
                    && o["subject"]["reference"] == format!("Patient/{patient}").as_str(),
                "a partial or foreign resource in the search: {o}"
            );
            out.push(o);
        }
        next = n;
    }
    out
}

fn observation(patient: &str, n: usize) -> Value {
    json!({
        "resourceType": "Observation",
        "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": "4548-4", "display": "Hemoglobin A1c/Hemoglobin.total in Blood"}]},
        "subject": {"reference": format!("Patient/{patient}")},
        "effectiveDateTime": "2025-03-14",
        "valueQuantity": {"value": 30 + n % 60, "unit": "mmol/mol", "system": "http://unitsofmeasure.org", "code": "mmol/mol"}
    })
}

/// A create the server acknowledged: `201` with the stored resource.
#[derive(Clone, Debug)]
struct Acked {
    id: String,
    version: String,
    resource: Value,
}

fn acked(r: &Response) -> Result<Acked, String> {
    let resource: Value = serde_json::from_slice(&r.body)
        .map_err(|e| format!("a 201 without JSON ({e}): {}", body_text(r)))?;
    let id = resource["id"].as_str().map(str::to_owned);
    let version = resource["meta"]["versionId"].as_str().map(str::to_owned);
    match (id, version) {
        (Some(id), Some(version)) => Ok(Acked {
            id,
            version,
            resource,
        }),
        _ => Err(format!("a 201 without id and version: {}", body_text(r))),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Create,
    Read,
    Search,
}

/// One request of the load and what came of it.
#[derive(Debug)]
struct Answer {
    op: Op,
    started: Instant,
    finished: Instant,
    /// The status, or the transport error or timeout.
    status: Result<u16, String>,
    /// For a failure: why it is not a clean 503.
    unclean: Option<String>,
}

/// Concurrent clients sending a fixed mix of creates, reads and searches until stopped.
struct Load {
    mix: [Op; 10],
    stop: AtomicBool,
    /// Set just before the server is killed: the workers end at their next transport error.
    killed: AtomicBool,
    /// Creates issued; beyond `create_cap` the workers read instead.
    creates: AtomicUsize,
    create_cap: usize,
    acked: Mutex<Vec<Acked>>,
    answers: Mutex<Vec<Answer>>,
}

const MIXED: [Op; 10] = [
    Op::Create,
    Op::Read,
    Op::Search,
    Op::Read,
    Op::Create,
    Op::Read,
    Op::Create,
    Op::Read,
    Op::Search,
    Op::Create,
];
const WRITES: [Op; 10] = [
    Op::Create,
    Op::Create,
    Op::Create,
    Op::Read,
    Op::Create,
    Op::Create,
    Op::Create,
    Op::Create,
    Op::Read,
    Op::Create,
];

impl Load {
    fn new(mix: [Op; 10], create_cap: usize) -> Arc<Self> {
        Arc::new(Self {
            mix,
            stop: AtomicBool::new(false),
            killed: AtomicBool::new(false),
            creates: AtomicUsize::new(0),
            create_cap,
            acked: Mutex::new(Vec::new()),
            answers: Mutex::new(Vec::new()),
        })
    }

    fn acked(&self) -> Vec<Acked> {
        self.acked.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn acked_count(&self) -> usize {
        self.acked.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Runs `f` on the answers so far.
    fn with_answers<T>(&self, f: impl FnOnce(&[Answer]) -> T) -> T {
        f(&self.answers.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn start(
        self: &Arc<Self>,
        addr: SocketAddr,
        token: &str,
        targets: &Arc<Targets>,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        (0..WORKERS)
            .map(|w| {
                let load = self.clone();
                let targets = targets.clone();
                let token = token.to_owned();
                tokio::spawn(async move { load.worker(w, addr, &token, &targets).await })
            })
            .collect()
    }

    async fn worker(&self, w: usize, addr: SocketAddr, token: &str, targets: &Targets) {
        let mut client = Client::new(addr, token);
        let mut i = w;
        while !self.stop.load(Ordering::Relaxed) {
            i += 1;
            let mut op = self.mix[(i * 7) % 10];
            if op == Op::Create && self.creates.fetch_add(1, Ordering::Relaxed) >= self.create_cap {
                op = Op::Read;
            }
            let (method, path, body) = match op {
                Op::Create => (
                    "POST",
                    "/fhir/Observation".to_owned(),
                    Some(observation(&targets.write_patient, i)),
                ),
                Op::Read => ("GET", targets.reads[i % targets.reads.len()].clone(), None),
                Op::Search => (
                    "GET",
                    format!(
                        "/fhir/Observation?patient={}&_count=10",
                        targets.read_patient
                    ),
                    None,
                ),
            };
            let started = Instant::now();
            let result = client.send(method, &path, body.as_ref()).await;
            let finished = Instant::now();
            let answer = match result {
                Ok(r) => {
                    let mut problem = if r.status < 400 { None } else { unclean(&r) };
                    if op == Op::Create && r.status == 201 {
                        match acked(&r) {
                            Ok(a) => self.acked.lock().unwrap_or_else(|e| e.into_inner()).push(a),
                            Err(e) => problem = Some(e),
                        }
                    }
                    Answer {
                        op,
                        started,
                        finished,
                        status: Ok(r.status),
                        unclean: problem,
                    }
                }
                Err(e) => {
                    if self.killed.load(Ordering::Relaxed) {
                        return;
                    }
                    Answer {
                        op,
                        started,
                        finished,
                        status: Err(e),
                        unclean: None,
                    }
                }
            };
            self.answers
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(answer);
        }
    }

    async fn finish(&self, workers: Vec<tokio::task::JoinHandle<()>>) {
        self.stop.store(true, Ordering::Relaxed);
        for w in workers {
            tokio::time::timeout(REQUEST_TIMEOUT * 2, w)
                .await
                .expect("a load worker did not end")
                .expect("a load worker panicked");
        }
    }
}

/// Waits (polling) until `done` holds, for at most `limit`; `what` names it in the panic.
async fn wait_until(limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(
            Instant::now() < deadline,
            "waited {limit:?} in vain for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Every acknowledged create reads back with the content it was acknowledged with.
async fn assert_reads_back(client: &mut Client, acked: &[Acked], backend: &str) {
    for a in acked {
        let r = client
            .send("GET", &format!("/fhir/Observation/{}", a.id), None)
            .await
            .expect("an answer");
        assert_eq!(
            r.status,
            200,
            "{backend}: acknowledged create {} lost: {}",
            a.id,
            body_text(&r)
        );
        let stored: Value = serde_json::from_slice(&r.body).expect("JSON");
        assert_eq!(
            stored, a.resource,
            "{backend}: acknowledged create {} changed",
            a.id
        );
    }
}

/// `Observation/ID/_history/V` of every successful create event about `patient`, as the
/// privacy officer sees them through the FHIR AuditEvent search.
async fn create_events(auditor: &mut Client, patient: &str) -> HashSet<String> {
    let bundle = auditor
        .json(&format!("/fhir/AuditEvent?patient={patient}&_count=1000"))
        .await;
    let (events, _) = matches(&bundle);
    assert!(
        events.len() < 1000,
        "more audit events than one page holds: the test would miss some"
    );
    events
        .iter()
        .filter(|e| e["subtype"][0]["code"] == "create" && e["outcome"] == "0")
        .flat_map(|e| e["entity"].as_array().cloned().unwrap_or_default())
        .filter_map(|entity| entity["what"]["reference"].as_str().map(str::to_owned))
        .filter(|r| r.starts_with("Observation/"))
        .collect()
}

async fn assert_audited(auditor: &mut Client, patient: &str, acked: &[Acked], backend: &str) {
    let created = create_events(auditor, patient).await;
    for a in acked {
        let reference = format!("Observation/{}/_history/{}", a.id, a.version);
        assert!(
            created.contains(&reference),
            "{backend}: no audit event for acknowledged create {reference}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// 1. SIGKILL under mixed load
// ---------------------------------------------------------------------------------------

async fn sigkill_and_recover(db: &TestDb) {
    let place = Place::of(db);
    let backend = place.backend;
    let (gp, fg) = prepare(&place);
    let mut server = Server::start(&place);
    let token = bearer_token(server.addr, &gp).await;
    let mut client = Client::new(server.addr, &token);
    let targets = Arc::new(targets(&mut client).await);
    let before = observations_of(&mut client, &targets.write_patient).await;

    // Creates are capped so that the patient's audit trail fits one search page.
    let load = Load::new(MIXED, 700);
    let workers = load.start(server.addr, &token, &targets);
    wait_until(Duration::from_secs(60), "300 acknowledged creates", || {
        load.acked_count() >= 300 || load.with_answers(|a| a.iter().any(|a| a.status.is_err()))
    })
    .await;
    load.killed.store(true, Ordering::Relaxed);
    server.sigkill();
    load.finish(workers).await;
    server.assert_no_panic();
    load.with_answers(|answers| {
        for a in answers {
            assert!(
                matches!(a.status, Ok(200 | 201)) && a.unclean.is_none(),
                "{backend}: before the kill every request should succeed: {a:?}"
            );
        }
        let reads = answers.iter().filter(|a| a.op != Op::Create).count();
        eprintln!(
            "{backend}: SIGKILL after {} acknowledged creates and {reads} reads and searches",
            load.acked_count()
        );
    });
    let acked = load.acked();

    let mut server = Server::start(&place);
    // The audit trail first: the read-back below adds read events to it.
    let fg_token = bearer_token(server.addr, &fg).await;
    let mut auditor = Client::new(server.addr, &fg_token);
    assert_audited(&mut auditor, &targets.write_patient, &acked, backend).await;

    let token = bearer_token(server.addr, &gp).await;
    let mut client = Client::new(server.addr, &token);
    assert_reads_back(&mut client, &acked, backend).await;
    // Nothing half-written: every stored observation of the patient is whole and opens;
    // besides the acknowledged creates only those in flight at the kill may be there.
    let after = observations_of(&mut client, &targets.write_patient).await;
    let ids: HashSet<&str> = after.iter().filter_map(|o| o["id"].as_str()).collect();
    for o in &after {
        let id = o["id"].as_str().unwrap_or_default();
        let r = client
            .send("GET", &format!("/fhir/Observation/{id}"), None)
            .await
            .expect("an answer");
        assert_eq!(r.status, 200, "{backend}: stored {id} does not open");
    }
    for a in &acked {
        assert!(
            ids.contains(a.id.as_str()),
            "{backend}: {} not found by search",
            a.id
        );
    }
    let unacknowledged = after.len().saturating_sub(before.len() + acked.len());
    assert!(
        unacknowledged <= WORKERS,
        "{backend}: {unacknowledged} stored creates were never acknowledged (at most {WORKERS} in flight)"
    );
    server.stop();
    server.assert_no_panic();
    audit_verify(&place);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_under_mixed_http_load_loses_no_acknowledged_write() {
    for db in zorgkluis_testkit::all_backends().await {
        let started = Instant::now();
        sigkill_and_recover(&db).await;
        eprintln!("{}: done in {:.1?}", db.backend, started.elapsed());
    }
}

// ---------------------------------------------------------------------------------------
// 2. A full disk (SQLite)
// ---------------------------------------------------------------------------------------

/// Whether `pid` ignores SIGXFSZ (from `/proc/PID/status`).
fn ignores_sigxfsz(pid: u32) -> bool {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("SigIgn:"))
        .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
        .is_some_and(|mask| mask & (1 << (25 - 1)) != 0)
}

/// Folds SQLite's WAL into the database file and empties it, so that the file-size limit
/// set next applies to the WAL as much as to the database.
async fn checkpoint_wal(url: &str) {
    use sqlx::Connection as _;
    let mut conn = sqlx::SqliteConnection::connect(url)
        .await
        .expect("open the SQLite database");
    for _ in 0..100 {
        let (busy, _, _): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
            .fetch_one(&mut conn)
            .await
            .expect("checkpoint");
        if busy == 0 {
            conn.close().await.ok();
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the WAL could not be checkpointed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disk_full_during_writes_gives_clean_errors_and_recovers() {
    let started = Instant::now();
    let db = zorgkluis_testkit::sqlite();
    let place = Place::of(&db);
    let (gp, _) = prepare(&place);
    // A "full disk" without root or mounts: the server may not grow any file beyond a
    // limit (RLIMIT_FSIZE, set below with prlimit). Writing past it fails with EFBIG
    // instead of killing the process, because SIGXFSZ is ignored: the shell sets that
    // and it survives `exec`.
    let ignore_sigxfsz = "trap '' XFSZ; exec \"$0\" \"$@\"";
    let mut command = place.command("/bin/sh", &["-c", ignore_sigxfsz, BIN]);
    command.args(["serve", "--listen", "127.0.0.1:0"]);
    let mut server = Server::spawn(command);
    assert!(
        ignores_sigxfsz(server.child.id()),
        "the server should ignore SIGXFSZ"
    );
    let token = bearer_token(server.addr, &gp).await;
    let mut client = Client::new(server.addr, &token);
    let targets = Arc::new(targets(&mut client).await);
    let before = observations_of(&mut client, &targets.write_patient).await;
    let mut acked = Vec::new();
    for n in 0..20 {
        let r = client
            .send(
                "POST",
                "/fhir/Observation",
                Some(&observation(&targets.write_patient, n)),
            )
            .await
            .expect("an answer");
        assert_eq!(r.status, 201, "{}", body_text(&r));
        acked.push(acked_from(&r));
    }

    // The disk fills up: no file may grow beyond just over the database's size now.
    checkpoint_wal(&place.url).await;
    let db_size = std::fs::metadata(place.data_dir.join("zorgkluis.db"))
        .expect("the database file")
        .len();
    let limit = db_size + 64 * 1024;
    let own = rustix::process::getrlimit(Resource::Fsize);
    rustix::process::prlimit(
        Some(server.pid()),
        Resource::Fsize,
        Rlimit {
            current: Some(limit),
            maximum: own.maximum,
        },
    )
    .expect("limit the server's file size");

    let load = Load::new(WRITES, usize::MAX);
    let workers = load.start(server.addr, &token, &targets);
    let refused = |load: &Load| {
        load.with_answers(|a| {
            a.iter()
                .filter(|a| a.op == Op::Create && a.status != Ok(201))
                .count()
        })
    };
    wait_until(
        Duration::from_secs(60),
        "writes to be refused on the full disk",
        || refused(&load) >= 20,
    )
    .await;
    load.finish(workers).await;
    assert!(server.running(), "the server died:\n{}", server.log());
    let full: Vec<u16> = load.with_answers(|answers| {
        for a in answers {
            assert!(
                a.status.is_ok() && a.unclean.is_none(),
                "on a full disk the server must answer cleanly: {a:?}"
            );
        }
        answers
            .iter()
            .filter_map(|a| a.status.as_ref().ok().copied())
            .filter(|s| *s >= 400)
            .collect()
    });
    let during = load.acked();
    eprintln!(
        "full disk: {} creates acknowledged before it filled, then {} refused with {:?}",
        during.len(),
        full.len(),
        full.iter().collect::<HashSet<_>>()
    );
    acked.extend(during);
    // What was acknowledged is intact while the disk is still full (reads need no space
    // in the database; their audit events wait in the journal).
    assert_reads_back(&mut client, &acked, "full disk").await;
    let health = client.send("GET", "/health", None).await.expect("health");
    assert_eq!(health.status, 200, "{}", body_text(&health));

    // Space again, without a restart: writes succeed again.
    rustix::process::prlimit(Some(server.pid()), Resource::Fsize, own)
        .expect("lift the server's file-size limit");
    let mut in_a_row = 0;
    let mut n = 0;
    let deadline = Instant::now() + Duration::from_secs(30);
    while in_a_row < 20 {
        assert!(
            Instant::now() < deadline,
            "writes did not succeed again after space was freed:\n{}",
            server.log()
        );
        n += 1;
        let r = client
            .send(
                "POST",
                "/fhir/Observation",
                Some(&observation(&targets.write_patient, n)),
            )
            .await
            .expect("an answer");
        if r.status == 201 {
            in_a_row += 1;
            acked.push(acked_from(&r));
        } else {
            assert_eq!(
                in_a_row,
                0,
                "a failure after writes had recovered: {}",
                body_text(&r)
            );
            assert_eq!(unclean(&r), None);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    assert_reads_back(&mut client, &acked, "after the full disk").await;
    // A refused create left nothing behind.
    let after = observations_of(&mut client, &targets.write_patient).await;
    assert_eq!(
        after.len(),
        before.len() + acked.len(),
        "stored observations besides the acknowledged ones"
    );
    server.stop();
    server.assert_no_panic();
    audit_verify(&place);
    eprintln!("full disk: done in {:.1?}", started.elapsed());
}

fn acked_from(r: &Response) -> Acked {
    acked(r).unwrap_or_else(|e| panic!("{e}"))
}

// ---------------------------------------------------------------------------------------
// 3. PostgreSQL restarting under load
// ---------------------------------------------------------------------------------------

const OWN_PG_PORT: &str = "55499";

fn pg_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/postgres-test-server")
}

/// The newest `/usr/lib/postgresql/N/bin`, as the script finds it.
fn pg_bindir() -> Option<PathBuf> {
    let mut found: Vec<(Vec<u32>, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let version: Option<Vec<u32>> = e
                .file_name()
                .to_str()?
                .split('.')
                .map(|p| p.parse().ok())
                .collect();
            let bin = e.path().join("bin");
            bin.join("pg_ctl").exists().then_some((version?, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin)
}

/// This test's own PostgreSQL server (`scripts/postgres-test-server` on its own port),
/// stopped and removed when dropped, also when the test fails.
struct OwnPostgres {
    bin: PathBuf,
    base: PathBuf,
    url: String,
}

impl OwnPostgres {
    fn start() -> Option<Self> {
        let Some(bin) = pg_bindir() else {
            eprintln!(
                "\n*** SKIPPED postgres_restart_under_load_fails_cleanly_and_recovers: the \
                 PostgreSQL server binaries are not installed (/usr/lib/postgresql/*/bin); \
                 scripts/test installs them. ***\n"
            );
            return None;
        };
        let tmp = std::env::var("TMPDIR")
            .ok()
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| "/tmp".into());
        let base = Path::new(&tmp).join(format!("zorgkluis-test-pg-{OWN_PG_PORT}"));
        let o = Command::new(pg_script())
            .arg("start")
            .env("ZORGKLUIS_TEST_PG_PORT", OWN_PG_PORT)
            .output()
            .expect("run scripts/postgres-test-server");
        // From here on the server is ours to stop, whatever happens.
        let mut pg = Self {
            bin,
            base,
            url: String::new(),
        };
        assert!(o.status.success(), "start PostgreSQL: {}", text(&o));
        pg.url = text(&o)
            .lines()
            .find_map(|l| l.trim().strip_prefix("export ZORGKLUIS_TEST_POSTGRES_URL="))
            .expect("the server's URL")
            .to_owned();
        Some(pg)
    }

    /// `pg_ctl ARGS` as the data directory's owner (`postgres` when we are root, as in
    /// the script).
    fn pg_ctl(&self, args: &[&str]) -> Command {
        let pg_ctl = self.bin.join("pg_ctl");
        let mut c = if rustix::process::geteuid().is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(pg_ctl);
            c
        } else {
            Command::new(pg_ctl)
        };
        c.arg("-D").arg(self.base.join("data")).args(args);
        c
    }

    async fn run(&self, args: &[&str]) {
        let mut c = self.pg_ctl(args);
        let what = format!("{c:?}");
        let o = tokio::task::spawn_blocking(move || c.output())
            .await
            .expect("pg_ctl task")
            .expect("run pg_ctl");
        assert!(o.status.success(), "{what}: {}", text(&o));
    }

    async fn stop_server(&self) {
        self.run(&["-m", "fast", "-w", "stop"]).await;
    }

    /// Starts it again on the same data, with the script's options.
    async fn start_server(&self) {
        let base = self.base.display().to_string();
        let log = format!("{base}/log");
        let options = format!(
            "-h 127.0.0.1 -p {OWN_PG_PORT} -k {base} -c fsync=off -c synchronous_commit=off \
             -c max_connections=400"
        );
        self.run(&["-l", &log, "-w", "-o", &options, "start"]).await;
    }

    /// A fresh database on it.
    async fn database(&self) -> String {
        use sqlx::{Connection as _, Executor as _};
        let name = format!(
            "zk_faults_{}_{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        );
        let mut admin = sqlx::PgConnection::connect(&self.url)
            .await
            .expect("connect to our PostgreSQL");
        admin
            .execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .expect("create the database");
        admin.close().await.ok();
        let (head, _) = self.url.rsplit_once('/').expect("a database URL");
        format!("{head}/{name}")
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let _ = Command::new(pg_script())
            .arg("stop")
            .env("ZORGKLUIS_TEST_PG_PORT", OWN_PG_PORT)
            .output();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restart_under_load_fails_cleanly_and_recovers() {
    let started = Instant::now();
    let Some(pg) = OwnPostgres::start() else {
        return;
    };
    let dir = tempfile::tempdir().expect("a data directory");
    let place = Place {
        backend: "PostgreSQL",
        data_dir: dir.path().to_path_buf(),
        url: pg.database().await,
    };
    let (gp, fg) = prepare(&place);
    let mut server = Server::start(&place);
    let token = bearer_token(server.addr, &gp).await;
    let mut client = Client::new(server.addr, &token);
    let targets = Arc::new(targets(&mut client).await);

    let load = Load::new(MIXED, 450);
    let workers = load.start(server.addr, &token, &targets);
    wait_until(Duration::from_secs(30), "50 acknowledged creates", || {
        load.acked_count() >= 50
    })
    .await;

    // The database goes away for a while, then comes back on the same data.
    let down = Instant::now();
    pg.stop_server().await;
    let mut probe = Client::new(server.addr, &token);
    let mut outage = Vec::new();
    let mut probe_acked = Vec::new();
    while down.elapsed() < Duration::from_secs(8) {
        let sent = Instant::now();
        let r = probe
            .send(
                "POST",
                "/fhir/Observation",
                Some(&observation(&targets.write_patient, 0)),
            )
            .await
            .expect("an answer while the database is down");
        if r.status == 201 {
            probe_acked.push(acked_from(&r));
        } else {
            assert_eq!(unclean(&r), None, "while the database is down");
        }
        outage.push((r.status, sent.elapsed()));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    pg.start_server().await;
    let up = Instant::now();
    eprintln!(
        "PostgreSQL down for {:.1?}; creates sent meanwhile: {:?}",
        up - down,
        outage
    );

    // Zorgkluis recovers by itself: a create succeeds again, and from then on everything.
    let recovered = loop {
        assert!(
            up.elapsed() < Duration::from_secs(30),
            "writes did not succeed again within 30 s of the restart:\n{}",
            server.log()
        );
        let sent = Instant::now();
        let r = probe
            .send(
                "POST",
                "/fhir/Observation",
                Some(&observation(&targets.write_patient, 1)),
            )
            .await
            .expect("an answer after the restart");
        if r.status == 201 {
            probe_acked.push(acked_from(&r));
            break sent;
        }
        assert_eq!(unclean(&r), None, "after the restart");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    load.finish(workers).await;
    server.assert_no_panic();
    load.with_answers(|answers| {
        for a in answers {
            assert!(
                a.status.is_ok() && a.unclean.is_none(),
                "every answer must be a success or a clean 503: {a:?}"
            );
            if a.finished < down || a.started > recovered {
                assert!(
                    matches!(a.status, Ok(200 | 201)),
                    "with the database up every request should succeed: {a:?}"
                );
            }
        }
        let failed = answers
            .iter()
            .filter(|a| !matches!(a.status, Ok(200 | 201)))
            .count();
        eprintln!(
            "PostgreSQL restart: {} requests, {failed} answered 503, recovered {:.1?} after the restart",
            answers.len(),
            recovered.saturating_duration_since(up)
        );
    });
    assert!(
        outage.iter().any(|(s, _)| *s == 503),
        "no request failed while the database was down: {outage:?}"
    );

    // Nothing acknowledged was lost, all of it audited; no restart of Zorgkluis needed.
    let mut acked = load.acked();
    acked.extend(probe_acked);
    // The audit check first: reading back adds one read event per resource to the same
    // patient's trail, which the one-page AuditEvent search must still hold.
    let fg_token = bearer_token(server.addr, &fg).await;
    let mut auditor = Client::new(server.addr, &fg_token);
    assert_audited(
        &mut auditor,
        &targets.write_patient,
        &acked,
        "PostgreSQL restart",
    )
    .await;
    assert_reads_back(&mut client, &acked, "PostgreSQL restart").await;
    server.stop();
    server.assert_no_panic();
    audit_verify(&place);
    drop(pg);
    eprintln!("PostgreSQL restart: done in {:.1?}", started.elapsed());
}

// ---------------------------------------------------------------------------------------
// 4. A command next to the running server
// ---------------------------------------------------------------------------------------

/// The names of the audit journal's segment files.
fn journal_segments(place: &Place) -> std::collections::BTreeSet<String> {
    std::fs::read_dir(place.data_dir.join("audit-journal"))
        .expect("the audit journal directory")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".log"))
        .collect()
}

/// An operator runs a command (here `users list`) on the data directory of a running
/// server. The command opens the vault, and with it the audit journal: it must leave the
/// server's journal segment alone. (It used to take the server's live segment for one left
/// by a crash, fold it and delete it, so that the read events the server wrote afterwards
/// were lost when the server crashed before folding them.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_next_to_the_running_server_leaves_its_audit_journal_alone() {
    const READS: usize = 20;
    for db in zorgkluis_testkit::all_backends().await {
        let place = Place::of(&db);
        let backend = place.backend;
        let (gp, fg) = prepare(&place);
        let mut server = Server::start(&place);
        let token = bearer_token(server.addr, &gp).await;
        let mut client = Client::new(server.addr, &token);
        let targets = targets(&mut client).await;
        let before = journal_segments(&place);
        assert!(!before.is_empty(), "{backend}: the server journals");

        let o = place.run(&["users", "list"]);
        assert!(o.status.success(), "{backend}: users list: {}", text(&o));
        let after = journal_segments(&place);
        assert!(
            before.is_subset(&after),
            "{backend}: the command deleted the server's journal segment(s) {:?}",
            before.difference(&after).collect::<Vec<_>>()
        );

        // Reads after the command, then SIGKILL before the fold (once a second) takes
        // them: their events must come back from the server's journal at the restart.
        let patient = &targets.read_patient;
        for _ in 0..READS {
            let r = client
                .send("GET", &format!("/fhir/Patient/{patient}"), None)
                .await
                .expect("an answer");
            assert_eq!(r.status, 200, "{backend}: read {}", body_text(&r));
        }
        server.sigkill();
        server.assert_no_panic();

        let mut server = Server::start(&place);
        let fg_token = bearer_token(server.addr, &fg).await;
        let mut auditor = Client::new(server.addr, &fg_token);
        let bundle = auditor
            .json(&format!("/fhir/AuditEvent?patient={patient}&_count=1000"))
            .await;
        let (events, _) = matches(&bundle);
        let reads = events
            .iter()
            .filter(|e| e["subtype"][0]["code"] == "read" && e["outcome"] == "0")
            .filter(|e| {
                e["entity"].as_array().is_some_and(|entities| {
                    entities.iter().any(|entity| {
                        entity["what"]["reference"]
                            .as_str()
                            .is_some_and(|r| r.starts_with(&format!("Patient/{patient}")))
                    })
                })
            })
            .count();
        assert!(
            reads >= READS,
            "{backend}: {reads} read events of Patient/{patient} in the trail, {READS} reads acknowledged"
        );
        server.stop();
        server.assert_no_panic();
        audit_verify(&place);
    }
}
