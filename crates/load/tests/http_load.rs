//! The load tool against the real server, in process on a random port: a GP of a practice
//! registers a patient with a few observations through the FHIR API, then every workload
//! runs briefly with four workers on that GP's web session.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use zorgkluis_auth::{Argon2Cost, TotpSecret};
use zorgkluis_domain::FixedClock;
use zorgkluis_load::{Auth, LoadConfig, LoadError, Report, Workload};
use zorgkluis_policy::StaffRole;
use zorgkluis_testkit::TestDb;
use zorgkluis_vault::{
    AccountKind, NewAccount, OperatorPurpose, OrganisationSettings, Principal, Vault, VaultConfig,
};

const SECRET: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
const PASSWORD: &str = "lente-fiets-kanaal-2026";
const NOW: i64 = 1_795_424_400;

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn cookie(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
            .find_map(|(_, v)| {
                v.strip_prefix(&format!("{name}="))
                    .map(|r| r.split(';').next().unwrap_or("").to_owned())
            })
    }
    fn hidden(&self, name: &str) -> String {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self.body.find(&marker).unwrap() + marker.len();
        self.body[start..].split('"').next().unwrap().to_owned()
    }
}

/// One request on its own connection.
async fn request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Reply {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    s.write_all(req.as_bytes()).await.unwrap();
    s.write_all(body).await.unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Reply {
        status,
        headers,
        body: body.to_owned(),
    }
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

async fn open_vault(db: &TestDb) -> Vault {
    let mut c = VaultConfig::for_data_dir(&db.data_dir());
    c.database_url = db.url.clone();
    c.clock = Arc::new(FixedClock::new(
        time::OffsetDateTime::from_unix_timestamp(NOW).unwrap(),
    ));
    Vault::open(c).await.unwrap()
}

/// A GP practice with one GP (with a second factor and the confidentiality agreement).
async fn practice(vault: &Vault) {
    let admin = Principal::operator("t", OperatorPurpose::Accounts);
    vault
        .upsert_organisation(
            &admin,
            &OrganisationSettings {
                id: "gp".into(),
                name: "Praktijk".into(),
                kind: "gp_practice".into(),
                region: Some("noord-veluwe".into()),
                agb: None,
                ura: None,
                parental_consent_below: None,
                locum_for: vec![],
            },
        )
        .await
        .unwrap();
    let load = Principal::operator("t", OperatorPurpose::Load);
    vault
        .update(
            &load,
            "Organization",
            "gp",
            json!({"resourceType": "Organization", "id": "gp", "name": "Praktijk"}),
            None,
        )
        .await
        .unwrap();
    vault
        .update(
            &load,
            "Practitioner",
            "dr",
            json!({"resourceType": "Practitioner", "id": "dr"}),
            None,
        )
        .await
        .unwrap();
    let created = vault
        .add_account(
            &admin,
            NewAccount {
                login: "huisarts".into(),
                display_name: "Test huisarts".into(),
                email: None,
                password: PASSWORD.into(),
                kind: AccountKind::Staff {
                    organisation_id: "gp".into(),
                    role: StaffRole::Gp,
                    practitioner_id: Some("dr".into()),
                    agb: None,
                    big: None,
                    rights: None,
                },
                with_totp: true,
                fixed_totp_secret: Some(SECRET.into()),
            },
            Argon2Cost::Fast,
        )
        .await
        .unwrap();
    vault
        .accept_confidentiality(
            &created.user_id,
            "gp",
            zorgkluis_vault::CONFIDENTIALITY_VERSION,
        )
        .await
        .unwrap();
}

/// Logs in through the web form with the TOTP code; the session cookie (`zk_session=…`).
async fn session(addr: &str, login: &str) -> String {
    let page = request(addr, "GET", "/login", &[], b"").await;
    assert_eq!(page.status, 200);
    let (pre, csrf) = (page.cookie("zk_login").unwrap(), page.hidden("csrf"));
    let code = TotpSecret::from_base32(SECRET).unwrap().code_at(NOW);
    let form = format!(
        "login={login}&password={}&code={code}&csrf={}",
        enc(PASSWORD),
        enc(&csrf)
    );
    let cookie = format!("zk_login={pre}");
    let r = request(
        addr,
        "POST",
        "/login",
        &[
            ("Cookie", cookie.as_str()),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        form.as_bytes(),
    )
    .await;
    assert_eq!(r.status, 303, "login of {login}: {}", r.body);
    format!("zk_session={}", r.cookie("zk_session").unwrap())
}

async fn fhir(addr: &str, method: &str, path: &str, cookie: &str, body: &Value) -> Reply {
    request(
        addr,
        method,
        path,
        &[
            ("Cookie", cookie),
            ("Content-Type", "application/fhir+json"),
        ],
        body.to_string().as_bytes(),
    )
    .await
}

/// The GP registers a patient (Patient + CareTeam in one transaction) and records three
/// observations; the patient's id.
async fn register_patient(addr: &str, gp: &str) -> String {
    let bundle = json!({
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"fullUrl": "urn:uuid:11111111-1111-4111-8111-111111111111",
             "resource": {"resourceType": "Patient", "identifier": [{"system": "http://fhir.nl/fhir/NamingSystem/bsn", "value": "999996708"}],
                          "name": [{"family": "Visser", "given": ["Anna"]}], "gender": "female", "birthDate": "1980-02-03"},
             "request": {"method": "POST", "url": "Patient"}},
            {"resource": {"resourceType": "CareTeam", "status": "active",
                          "subject": {"reference": "urn:uuid:11111111-1111-4111-8111-111111111111"},
                          "participant": [{"member": {"reference": "Practitioner/dr"}, "onBehalfOf": {"reference": "Organization/gp"}}],
                          "managingOrganization": [{"reference": "Organization/gp"}]},
             "request": {"method": "POST", "url": "CareTeam"}}
        ]
    });
    let r = fhir(addr, "POST", "/fhir", gp, &bundle).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let b: Value = serde_json::from_str(&r.body).unwrap();
    let pid = b["entry"][0]["response"]["location"]
        .as_str()
        .unwrap()
        .split('/')
        .nth(1)
        .unwrap()
        .to_owned();
    for (v, d) in [
        (40.0, "2026-01-10"),
        (45.0, "2026-05-10"),
        (50.0, "2026-10-10"),
    ] {
        let obs = json!({"resourceType": "Observation", "status": "final",
               "code": {"coding": [{"system": "http://loinc.org", "code": "4548-4"}]},
               "subject": {"reference": format!("Patient/{pid}")},
               "effectiveDateTime": d,
               "valueQuantity": {"value": v, "unit": "mmol/mol"}});
        let r = fhir(addr, "POST", "/fhir/Observation", gp, &obs).await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    pid
}

struct World {
    _db: TestDb,
    vault: Vault,
    base_url: String,
    gp: String,
    patient: String,
}

/// The real server on a random port with one practice, its GP's session and one patient.
async fn world() -> World {
    let db = zorgkluis_testkit::sqlite();
    let vault = open_vault(&db).await;
    practice(&vault).await;
    let bound = zorgkluis_server::bind("127.0.0.1:0").await.unwrap();
    let addr = bound.addr.to_string();
    let v = vault.clone();
    tokio::spawn(async move { zorgkluis_server::serve(v, bound, std::future::pending()).await });
    let gp = session(&addr, "huisarts").await;
    let patient = register_patient(&addr, &gp).await;
    World {
        _db: db,
        vault,
        base_url: format!("http://{addr}/fhir"),
        gp,
        patient,
    }
}

fn config(w: &World, workload: Workload) -> LoadConfig {
    LoadConfig {
        base_url: w.base_url.clone(),
        auth: Auth::Cookie(w.gp.clone()),
        workload,
        concurrency: 4,
        duration: Duration::from_secs(1),
        max_requests: Some(400),
        server_pid: None,
        seed: 7513,
    }
}

/// Requests were answered, none failed in transport, none with a 5xx, and the latency
/// figures are ordered.
fn assert_healthy(r: &Report) {
    let table = r.table();
    assert!(r.requests > 0, "{table}");
    assert_eq!(r.transport_errors, 0, "{table}");
    assert_eq!(r.server_errors(), 0, "{table}");
    assert!(
        r.p50_us <= r.p95_us && r.p95_us <= r.p99_us && r.p99_us <= r.max_us,
        "{table}"
    );
    assert!(r.rps > 0.0 && r.seconds > 0.0, "{table}");
    assert_eq!((r.patients, r.concurrency), (1, 4), "{table}");
}

async fn observations_of(w: &World) -> u64 {
    let addr = w
        .base_url
        .trim_start_matches("http://")
        .trim_end_matches("/fhir");
    let r = request(
        addr,
        "GET",
        &format!("/fhir/Observation?patient={}&_summary=count", w.patient),
        &[("Cookie", w.gp.as_str())],
        b"",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    serde_json::from_str::<Value>(&r.body).unwrap()["total"]
        .as_u64()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn read_workload_reads_the_discovered_patient_and_observations_without_errors() {
    let w = world().await;
    let r = zorgkluis_load::run(config(&w, Workload::Read))
        .await
        .unwrap();
    assert_healthy(&r);
    assert_eq!(r.observations, 3, "discovery found the three observations");
    assert!(r.errors_by_status.is_empty(), "{}", r.table());
    w.vault.flush_audit().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn search_workload_searches_observations_by_patient_without_errors() {
    let w = world().await;
    let r = zorgkluis_load::run(config(&w, Workload::Search))
        .await
        .unwrap();
    assert_healthy(&r);
    assert!(r.errors_by_status.is_empty(), "{}", r.table());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mixed_workload_reads_searches_and_creates_without_errors() {
    let w = world().await;
    let before = observations_of(&w).await;
    let r = zorgkluis_load::run(config(&w, Workload::Mixed))
        .await
        .unwrap();
    assert_healthy(&r);
    assert!(r.errors_by_status.is_empty(), "{}", r.table());
    assert!(observations_of(&w).await > before, "some creates happened");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn everything_workload_fetches_whole_records_without_errors() {
    let w = world().await;
    let r = zorgkluis_load::run(config(&w, Workload::Everything))
        .await
        .unwrap();
    assert_healthy(&r);
    assert!(r.errors_by_status.is_empty(), "{}", r.table());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn create_workload_adds_one_observation_per_request() {
    let w = world().await;
    let before = observations_of(&w).await;
    let mut c = config(&w, Workload::Create);
    c.max_requests = Some(60);
    c.duration = Duration::from_secs(30);
    let r = zorgkluis_load::run(c).await.unwrap();
    assert_healthy(&r);
    assert!(r.errors_by_status.is_empty(), "{}", r.table());
    assert_eq!(r.requests, 60, "the request budget ends the run");
    assert_eq!(observations_of(&w).await, before + 60);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn generic_workload_of_standard_fhir_interactions_works_against_zorgkluis() {
    let w = world().await;
    let r = zorgkluis_load::run(config(&w, Workload::Generic))
        .await
        .unwrap();
    assert_healthy(&r);
    assert_eq!(r.observations, 3, "found through Observation?subject=");
    assert!(r.errors_by_status.is_empty(), "{}", r.table());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn server_pid_gives_the_peak_resident_memory() {
    let w = world().await;
    let mut c = config(&w, Workload::Read);
    c.server_pid = Some(std::process::id());
    c.duration = Duration::from_millis(300);
    let r = zorgkluis_load::run(c).await.unwrap();
    assert_healthy(&r);
    assert!(r.peak_rss_kib.unwrap() > 1024, "{}", r.table());
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["workload"], "read");
    assert!(json["peak_rss_kib"].as_u64().unwrap() > 1024);
    assert!(json["p99_us"].as_u64().unwrap() <= json["max_us"].as_u64().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn discovery_without_credentials_stops_with_the_servers_answer() {
    let w = world().await;
    let mut c = config(&w, Workload::Read);
    c.auth = Auth::None;
    match zorgkluis_load::run(c).await {
        Err(LoadError::Discovery { status: 401, .. }) => {}
        other => panic!("expected a 401 from discovery, got {other:?}"),
    }
}

#[tokio::test]
async fn non_loopback_base_urls_are_refused_before_any_request() {
    for url in [
        "http://192.0.2.10:8080/fhir",
        "http://fhir.example.org/fhir",
        "http://[2001:db8::1]:8080/fhir",
    ] {
        let c = LoadConfig::new(url, Auth::None, Workload::Read);
        let e = zorgkluis_load::run(c).await.unwrap_err();
        assert!(matches!(e, LoadError::NotLoopback(_)), "{url}: {e}");
        assert!(e.to_string().contains("loopback"), "{e}");
    }
}
