//! The load tool against the real server, in process on a random port: a GP of a practice
//! registers a patient with a few observations through the FHIR API, then every workload
//! runs briefly with four workers on that GP's web session (and once on an API client of
//! theirs, with OAuth 2 client credentials).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use zorgkluis_auth::{Argon2Cost, TotpSecret};
use zorgkluis_domain::FixedClock;
use zorgkluis_load::{Auth, ClientCredentials, LoadConfig, LoadError, Report, Workload};
use zorgkluis_policy::StaffRole;
use zorgkluis_testkit::TestDb;
use zorgkluis_vault::{
    AccountKind, NewAccount, NewClient, NewClientKind, OperatorPurpose, OrganisationSettings,
    Principal, Vault, VaultConfig,
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

/// A GP practice with one GP (with a second factor and the confidentiality agreement); the
/// GP's user id.
async fn practice(vault: &Vault) -> String {
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
    // Where the load tool finds the GP's organisation.
    vault
        .update(
            &load,
            "PractitionerRole",
            "dr-gp",
            json!({"resourceType": "PractitionerRole", "id": "dr-gp", "active": true,
                   "practitioner": {"reference": "Practitioner/dr"},
                   "organization": {"reference": "Organization/gp"}}),
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
    created.user_id
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
    /// The GP's session cookie.
    gp: String,
    /// The GP's user id.
    gp_user: String,
    patient: String,
}

/// The real server on a random port with one practice, its GP's session and one patient.
async fn world() -> World {
    let db = zorgkluis_testkit::sqlite();
    let vault = open_vault(&db).await;
    let gp_user = practice(&vault).await;
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
        gp_user,
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
        setup_patients: 0,
        setup_observations: zorgkluis_load::SETUP_OBSERVATIONS,
        practitioner: None,
        organisation: None,
        progress: None,
    }
}

/// Requests were answered, none failed in transport, none with a 5xx, the latency figures
/// are ordered, and discovery found the one patient.
fn assert_healthy(r: &Report) {
    assert_served(r);
    assert_eq!((r.patients, r.concurrency), (1, 4), "{}", r.table());
}

/// Requests were answered, none failed in transport, none with a 5xx, and the latency
/// figures are ordered.
fn assert_served(r: &Report) {
    let table = r.table();
    assert!(r.requests > 0, "{table}");
    assert_eq!(r.transport_errors, 0, "{table}");
    assert_eq!(r.server_errors(), 0, "{table}");
    assert!(
        r.p50_us <= r.p95_us && r.p95_us <= r.p99_us && r.p99_us <= r.max_us,
        "{table}"
    );
    assert!(r.rps > 0.0 && r.seconds > 0.0, "{table}");
}

async fn observations_of(w: &World) -> u64 {
    visible(w, &format!("Observation?patient={}&", w.patient)).await
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

/// `GET /fhir/[query]_summary=count` as the GP: the total the GP may see.
async fn visible(w: &World, query: &str) -> u64 {
    let addr = w
        .base_url
        .trim_start_matches("http://")
        .trim_end_matches("/fhir");
    let r = request(
        addr,
        "GET",
        &format!("/fhir/{query}_summary=count"),
        &[("Cookie", w.gp.as_str())],
        b"",
    )
    .await;
    assert_eq!(r.status, 200, "{query}: {}", r.body);
    serde_json::from_str::<Value>(&r.body).unwrap()["total"]
        .as_u64()
        .unwrap()
}

/// Current resources of type `rt` in the vault, whoever may see them.
async fn stored(w: &World, rt: &str) -> u64 {
    let counts = w.vault.resource_counts().await.unwrap();
    counts
        .iter()
        .find(|(t, _)| t == rt)
        .map_or(0, |(_, n)| u64::try_from(*n).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bulk_workload_imports_transaction_bundles_of_a_patient_and_twenty_observations() {
    let w = world().await;
    let (patients, observations) = (stored(&w, "Patient").await, stored(&w, "Observation").await);
    let seen = (
        visible(&w, "Patient?").await,
        visible(&w, "Observation?").await,
    );
    let mut c = config(&w, Workload::Bulk);
    c.max_requests = Some(24);
    c.duration = Duration::from_secs(60);
    let r = zorgkluis_load::run(c).await.unwrap();
    let table = r.table();
    assert_healthy(&r);
    assert!(
        r.errors_by_status.is_empty(),
        "every bundle answered 200: {table}"
    );
    assert_eq!(r.requests, 24, "the request budget ends the run: {table}");
    let bundles = r.requests;
    assert_eq!(zorgkluis_load::BULK_OBSERVATIONS, 20);
    assert_eq!(r.resources_written, 21 * bundles, "{table}");
    assert!(table.contains("resources written/s"), "{table}");
    assert_eq!(
        stored(&w, "Observation").await,
        observations + 20 * bundles,
        "twenty new observations per bundle"
    );
    assert_eq!(stored(&w, "Patient").await, patients + bundles);
    // Registered without a care team, the new records are nobody's to see (GP-7): the
    // GP who sent them sees what they saw before.
    assert_eq!(
        (
            visible(&w, "Patient?").await,
            visible(&w, "Observation?").await
        ),
        seen
    );
    assert_eq!(
        observations_of(&w).await,
        3,
        "the first patient's are untouched"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn setup_creates_patients_with_observations_before_discovery() {
    let w = world().await;
    let mut before = config(&w, Workload::Read);
    before.max_requests = Some(8);
    let before = zorgkluis_load::run(before).await.unwrap();
    assert_eq!((before.setup_resources, before.setup_seconds), (0, 0.0));
    let (patients, observations) = (stored(&w, "Patient").await, stored(&w, "Observation").await);

    let progress = Arc::new(std::sync::Mutex::new(Vec::<(u64, u64)>::new()));
    let seen = progress.clone();
    let mut c = config(&w, Workload::Generic);
    c.max_requests = Some(40);
    c.setup_patients = 3;
    c.setup_observations = 5;
    c.progress = Some(Arc::new(move |done, total| {
        seen.lock().unwrap().push((done, total));
    }));
    let r = zorgkluis_load::run(c).await.unwrap();
    let table = r.table();
    assert_eq!(
        r.setup_resources, 18,
        "3 × (1 patient + 5 observations): {table}"
    );
    assert_eq!(
        r.setup_transaction_refused, None,
        "Zorgkluis takes transactions"
    );
    assert!(r.setup_seconds > 0.0, "{table}");
    assert!(table.contains("set-up (resources / s)"), "{table}");
    assert_healthy(&r);
    assert!(r.errors_by_status.is_empty(), "{table}");
    // Written before discovery (the timed phase may have added patients and observations
    // through the generic workload's creates, hence at least) …
    assert!(stored(&w, "Patient").await >= patients + 3);
    assert!(stored(&w, "Observation").await >= observations + 15);
    // … but registered without a care team, so not found by the GP's discovery (GP-7).
    assert_eq!(
        (r.patients, r.observations),
        (before.patients, before.observations),
        "{table}"
    );
    let calls = progress.lock().unwrap().clone();
    assert_eq!(calls.first(), Some(&(0, 18)));
    assert_eq!(calls.last(), Some(&(18, 18)));
    assert!(calls.windows(2).all(|p| p[0].0 < p[1].0), "{calls:?}");
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["setup_resources"], 18);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_a_practitioner_setup_patients_join_the_gps_care_teams_and_discovery_finds_them() {
    let w = world().await;
    let (patients, teams) = (stored(&w, "Patient").await, stored(&w, "CareTeam").await);
    let mut c = config(&w, Workload::Read);
    c.practitioner = Some("dr".into());
    c.setup_patients = 3;
    c.setup_observations = 2;
    let r = zorgkluis_load::run(c).await.unwrap();
    let table = r.table();
    assert_served(&r);
    assert!(r.errors_by_status.is_empty(), "every read allowed: {table}");
    assert_eq!(
        r.setup_resources, 12,
        "3 × (1 patient + 1 care team + 2 observations): {table}"
    );
    assert_eq!(r.setup_transaction_refused, None, "{table}");
    assert_eq!(stored(&w, "Patient").await, patients + 3);
    assert_eq!(stored(&w, "CareTeam").await, teams + 3);
    // Discovery through CareTeam?participant=Practitioner/dr: the registered patient and
    // the three new ones (in the GP's care since their transaction), with every
    // observation (the sample covers them all).
    assert_eq!((r.patients, r.observations), (4, 3 + 3 * 2), "{table}");
    assert_eq!(visible(&w, "Patient?").await, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bulk_workload_with_a_practitioner_registers_patients_the_gp_can_read() {
    let w = world().await;
    let teams = stored(&w, "CareTeam").await;
    assert_eq!(visible(&w, "Patient?").await, 1);
    let mut c = config(&w, Workload::Bulk);
    c.practitioner = Some("dr".into());
    c.max_requests = Some(12);
    c.duration = Duration::from_secs(60);
    let r = zorgkluis_load::run(c).await.unwrap();
    let table = r.table();
    assert_healthy(&r);
    assert!(
        r.errors_by_status.is_empty(),
        "every bundle answered 200: {table}"
    );
    assert_eq!(r.requests, 12, "{table}");
    assert_eq!(
        r.resources_written,
        22 * 12,
        "a patient, its care team and 20 observations per bundle: {table}"
    );
    // GP-7: the care team in the same transaction makes the new records the GP's to read.
    assert_eq!(visible(&w, "Patient?").await, 1 + 12);
    assert_eq!(visible(&w, "Observation?").await, 3 + 12 * 20);
    assert_eq!(stored(&w, "CareTeam").await, teams + 12);
    assert_eq!(
        visible(&w, "CareTeam?participant=Practitioner/dr&").await,
        1 + 12
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_organisation_given_is_used_and_a_practitioner_without_a_role_needs_one() {
    let w = world().await;
    // No PractitionerRole names an organisation for this practitioner: say so.
    let mut c = config(&w, Workload::Bulk);
    c.practitioner = Some("locum".into());
    let e = zorgkluis_load::run(c).await.unwrap_err();
    assert!(matches!(e, LoadError::Config(_)), "{e:?}");
    assert!(e.to_string().contains("--organisation"), "{e}");
    // Given, the organisation is not looked up (and is the one written).
    let mut c = config(&w, Workload::Bulk);
    c.practitioner = Some("dr".into());
    c.organisation = Some("gp".into());
    c.max_requests = Some(2);
    let r = zorgkluis_load::run(c).await.unwrap();
    assert!(r.errors_by_status.is_empty(), "{}", r.table());
    assert_eq!(visible(&w, "Patient?").await, 1 + 2);
    // An organisation without a practitioner is a mistake.
    let mut c = config(&w, Workload::Read);
    c.organisation = Some("gp".into());
    let e = zorgkluis_load::run(c).await.unwrap_err();
    assert!(e.to_string().contains("--practitioner"), "{e}");
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

/// Registers an API client acting as the GP (`zorgkluis clients add --user huisarts`).
async fn gp_client(w: &World, scopes: &str) -> ClientCredentials {
    let created = w
        .vault
        .register_client(
            &Principal::operator("t", OperatorPurpose::Accounts),
            NewClient {
                name: "bench-load".into(),
                kind: NewClientKind::User {
                    login: "huisarts".into(),
                },
                scopes: scopes.into(),
                redirect_uris: vec![],
            },
        )
        .await
        .unwrap();
    ClientCredentials {
        client_id: created.client_id,
        client_secret: created.client_secret,
        scope: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn client_credentials_get_a_token_through_smart_discovery_and_read_as_the_gp() {
    let w = world().await;
    let mut c = config(&w, Workload::Read);
    c.auth = Auth::ClientCredentials(gp_client(&w, "user/*.*").await);
    let r = zorgkluis_load::run(c).await.unwrap();
    let table = r.table();
    assert_healthy(&r);
    assert!(r.errors_by_status.is_empty(), "every read allowed: {table}");
    assert_eq!(
        r.observations, 3,
        "the GP's patient and observations: {table}"
    );

    // A narrower scope is asked for when given, and still reads.
    let mut c = config(&w, Workload::Read);
    let mut credentials = gp_client(&w, "user/*.*").await;
    credentials.scope = Some("user/*.read".into());
    c.auth = Auth::ClientCredentials(credentials);
    c.max_requests = Some(20);
    let r = zorgkluis_load::run(c).await.unwrap();
    assert!(r.errors_by_status.is_empty(), "{}", r.table());

    // The reads are the GP's, through the client (NEN 7513: the user, via the app).
    w.vault.flush_audit().await.unwrap();
    let trail = w
        .vault
        .audit_for_patient(
            &Principal::operator("t", OperatorPurpose::AuditReview),
            &w.patient,
            1000,
        )
        .await
        .unwrap();
    let via_client: Vec<_> = trail
        .iter()
        .filter(|e| {
            e.actor
                .display
                .as_deref()
                .is_some_and(|d| d.contains("via bench-load"))
        })
        .collect();
    assert!(via_client.len() > 10, "{} events", via_client.len());
    assert!(via_client.iter().all(|e| e.actor.user_id == w.gp_user));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_wrong_client_secret_stops_the_run_where_the_token_endpoint_refuses_it() {
    let w = world().await;
    let mut credentials = gp_client(&w, "user/*.*").await;
    credentials.client_secret.push('x');
    let mut c = config(&w, Workload::Read);
    c.auth = Auth::ClientCredentials(credentials);
    let e = zorgkluis_load::run(c).await.unwrap_err();
    match &e {
        LoadError::TokenRefused {
            url,
            status: 401,
            detail,
        } => {
            assert_eq!(
                *url,
                format!("{}/oauth/token", w.base_url.trim_end_matches("/fhir"))
            );
            assert!(detail.starts_with("invalid_client"), "{detail}");
        }
        other => panic!("expected the token endpoint's 401, got {other:?}"),
    }
    let text = e.to_string();
    assert!(
        text.contains("the token endpoint http://127.0.0.1:"),
        "{text}"
    );
    assert!(
        text.contains("/oauth/token refused them: 401 invalid_client"),
        "{text}"
    );

    // An unknown client likewise.
    let mut c = config(&w, Workload::Read);
    c.auth = Auth::ClientCredentials(ClientCredentials {
        client_id: "no-such-client".into(),
        client_secret: "s".into(),
        scope: None,
    });
    let e = zorgkluis_load::run(c).await.unwrap_err();
    assert!(
        matches!(e, LoadError::TokenRefused { status: 401, .. }),
        "{e:?}"
    );
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

/// A minimal FHIR server without transactions, for the set-up's fallback: `POST /fhir`
/// answers 400; `POST Patient` answers 201 with only a `Location`; `POST Observation`
/// answers 201 with the resource, or 422 when `refuse_observations`; searches list
/// everything (no paging; observations by `subject=` or `patient=`; care teams by
/// `date=sa…` alone), or answer 400 `too-costly` as a large server does (`Patient` when
/// `patients_too_costly`, `CareTeam` above `max_care_teams` matches); reads answer a stub.
/// OAuth 2: the origin's SMART configuration when `smart_configuration` is set (under
/// `/fhir` a stub without a token endpoint, as a read), and `POST /oauth/token`.
#[derive(Default)]
struct Fake {
    patients: Vec<String>,
    /// `(id, subject reference)`.
    observations: Vec<(String, String)>,
    transactions_refused: u64,
    refuse_observations: bool,
    patients_too_costly: bool,
    /// `(subject patient id, period start YYYY-MM-DD)`.
    care_teams: Vec<(String, String)>,
    max_care_teams: Option<usize>,
    /// The queries of the care-team searches, in order.
    care_team_queries: Vec<String>,
    /// Served at `/.well-known/smart-configuration`; 404 when none.
    smart_configuration: Option<Value>,
    /// The answer of `POST /oauth/token` (a JSON string: that text as the body); when
    /// none, a new token `tok-N` that lasts `token_lifetime` seconds.
    token_answer: Option<(u16, Value)>,
    token_lifetime: u64,
    /// `(Authorization, Content-Type, body)` of every token request.
    token_requests: Vec<(String, String, String)>,
    /// The `Authorization` of every other request, in order.
    authorizations: Vec<String>,
}

type Shared = Arc<std::sync::Mutex<Fake>>;

fn fake_answer(
    fake: &Shared,
    method: &str,
    target: &str,
    head: &str,
    body: &[u8],
) -> (u16, String, Value) {
    let mut f = fake.lock().unwrap();
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let header = |name: &str| {
        head.lines()
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case(name))
            .map_or_else(String::new, |(_, v)| v.trim().to_owned())
    };
    if (method, path) == ("POST", "/oauth/token") {
        let request = (
            header("authorization"),
            header("content-type"),
            String::from_utf8_lossy(body).to_string(),
        );
        f.token_requests.push(request);
        if let Some((status, answer)) = &f.token_answer {
            return (*status, String::new(), answer.clone());
        }
        let token = format!("tok-{}", f.token_requests.len());
        return (
            200,
            String::new(),
            json!({"access_token": token, "token_type": "Bearer", "expires_in": f.token_lifetime}),
        );
    }
    f.authorizations.push(header("authorization"));
    let outcome = |text: &str| {
        json!({"resourceType": "OperationOutcome",
               "issue": [{"severity": "error", "code": "not-supported", "diagnostics": text}]})
    };
    let searchset = |entries: Vec<Value>| json!({"resourceType": "Bundle", "type": "searchset", "total": entries.len(), "entry": entries});
    let too_costly = json!({"resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "too-costly",
                   "diagnostics": "the search matches more than 50000 resources; narrow it down"}]});
    match (method, path) {
        ("GET", "/.well-known/smart-configuration") => match &f.smart_configuration {
            Some(c) => (200, String::new(), c.clone()),
            None => (404, String::new(), outcome("not here")),
        },
        ("GET", "/fhir/Patient") if f.patients_too_costly => (400, String::new(), too_costly),
        ("GET", "/fhir/CareTeam") => {
            f.care_team_queries.push(query.to_owned());
            let since = query.split('&').find_map(|kv| kv.strip_prefix("date=sa"));
            let teams: Vec<&(String, String)> = f
                .care_teams
                .iter()
                .filter(|(_, start)| since.is_none_or(|s| start.as_str() > s))
                .collect();
            if f.max_care_teams.is_some_and(|max| teams.len() > max) {
                return (400, String::new(), too_costly);
            }
            let entries = teams
                .iter()
                .enumerate()
                .map(|(i, (p, start))| json!({"resource": {"resourceType": "CareTeam", "id": format!("t{i}"),
                    "status": "active", "period": {"start": start}, "subject": {"reference": format!("Patient/{p}")}}}))
                .collect();
            (200, String::new(), searchset(entries))
        }
        ("GET", "/fhir/PractitionerRole") => (200, String::new(), searchset(vec![])),
        ("POST", "/fhir") => {
            f.transactions_refused += 1;
            (400, String::new(), outcome("no transactions here"))
        }
        ("POST", "/fhir/Patient") => {
            let id = format!("p{}", f.patients.len());
            f.patients.push(id.clone());
            let location = format!("Location: http://fake/fhir/Patient/{id}/_history/1\r\n");
            (201, location, Value::Null)
        }
        ("POST", "/fhir/Observation") => {
            if f.refuse_observations {
                return (422, String::new(), outcome("observations are closed today"));
            }
            let mut o: Value = serde_json::from_slice(body).unwrap();
            let subject = o["subject"]["reference"].as_str().unwrap().to_owned();
            let known = subject
                .strip_prefix("Patient/")
                .is_some_and(|p| f.patients.iter().any(|q| q == p));
            if !known {
                return (422, String::new(), outcome("unknown subject"));
            }
            let id = format!("o{}", f.observations.len());
            f.observations.push((id.clone(), subject));
            o["id"] = json!(id);
            (201, String::new(), o)
        }
        ("GET", "/fhir/Patient") => {
            let entries = f
                .patients
                .iter()
                .map(|p| json!({"resource": {"resourceType": "Patient", "id": p}, "search": {"mode": "match"}}))
                .collect();
            (200, String::new(), searchset(entries))
        }
        ("GET", "/fhir/Observation") => {
            let subject = query
                .split('&')
                .find_map(|kv| {
                    kv.strip_prefix("subject=")
                        .map(str::to_owned)
                        .or_else(|| kv.strip_prefix("patient=").map(|p| format!("Patient/{p}")))
                })
                .unwrap_or_default();
            let entries = f
                .observations
                .iter()
                .filter(|(_, s)| *s == subject)
                .map(|(id, s)| json!({"resource": {"resourceType": "Observation", "id": id, "subject": {"reference": s}}}))
                .collect();
            (200, String::new(), searchset(entries))
        }
        ("GET", p) => {
            let (rt, id) = p
                .trim_start_matches("/fhir/")
                .split_once('/')
                .unwrap_or(("", ""));
            (200, String::new(), json!({"resourceType": rt, "id": id}))
        }
        _ => (404, String::new(), outcome("not here")),
    }
}

/// Serves `fake` on a random loopback port, keep-alive; the FHIR base URL.
async fn serve_fake(fake: Shared) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            let fake = fake.clone();
            tokio::spawn(async move {
                let mut buf: Vec<u8> = Vec::new();
                loop {
                    let end = loop {
                        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break i;
                        }
                        let mut chunk = [0u8; 8192];
                        match s.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    };
                    let head = String::from_utf8_lossy(&buf[..end]).to_string();
                    let mut words = head.split_whitespace();
                    let (method, target) = (
                        words.next().unwrap_or("").to_owned(),
                        words.next().unwrap_or("").to_owned(),
                    );
                    let length: usize = head
                        .lines()
                        .filter_map(|l| l.split_once(':'))
                        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
                        .map_or(0, |(_, v)| v.trim().parse().unwrap());
                    buf.drain(..end + 4);
                    while buf.len() < length {
                        let mut chunk = [0u8; 8192];
                        match s.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let body: Vec<u8> = buf.drain(..length).collect();
                    let (status, headers, answer) =
                        fake_answer(&fake, &method, &target, &head, &body);
                    let answer = match answer {
                        Value::Null => String::new(),
                        Value::String(raw) => raw,
                        json => json.to_string(),
                    };
                    let out = format!(
                        "HTTP/1.1 {status} X\r\nContent-Type: application/fhir+json\r\n{headers}Content-Length: {}\r\n\r\n{answer}",
                        answer.len()
                    );
                    if s.write_all(out.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    format!("http://{addr}/fhir")
}

/// Set-up of 3 patients with 5 observations each, then reads (which create nothing, so
/// that the fake's figures stay those of the set-up).
fn fake_config(base_url: String) -> LoadConfig {
    let mut c = LoadConfig::new(base_url, Auth::Bearer("t".into()), Workload::Read);
    c.concurrency = 3;
    c.max_requests = Some(30);
    c.duration = Duration::from_secs(30);
    c.setup_patients = 3;
    c.setup_observations = 5;
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn setup_falls_back_to_single_creates_when_transactions_are_refused() {
    let fake: Shared = Arc::default();
    fake.lock().unwrap().patients.push("first".into());
    let base = serve_fake(fake.clone()).await;
    let r = zorgkluis_load::run(fake_config(base)).await.unwrap();
    let table = r.table();
    assert_eq!(r.setup_resources, 18, "{table}");
    assert_eq!(r.setup_transaction_refused, Some(400), "{table}");
    assert!(table.contains("set-up transaction refused"), "{table}");
    assert_eq!(
        (r.patients, r.observations),
        (1 + 3, 15),
        "discovery found the new patients and their observations: {table}"
    );
    assert_eq!((r.transport_errors, r.server_errors()), (0, 0), "{table}");
    assert!(r.errors_by_status.is_empty(), "{table}");
    let f = fake.lock().unwrap();
    assert_eq!(f.transactions_refused, 1, "asked once, then single creates");
    let set_up: Vec<&String> = f.patients[1..4].iter().collect();
    for p in set_up {
        let subject = format!("Patient/{p}");
        let n = f.observations.iter().filter(|(_, s)| *s == subject).count();
        assert_eq!(n, 5, "{p}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refused_setup_resource_stops_the_run_with_the_servers_answer() {
    let fake: Shared = Arc::default();
    fake.lock().unwrap().refuse_observations = true;
    let base = serve_fake(fake.clone()).await;
    let e = zorgkluis_load::run(fake_config(base)).await.unwrap_err();
    match &e {
        LoadError::Setup {
            method: "POST",
            url,
            status: 422,
            body,
        } => {
            assert!(url.ends_with("/fhir/Observation"), "{url}");
            assert!(body.contains("observations are closed today"), "{body}");
            assert!(body.contains("no transactions here"), "{body}");
        }
        other => panic!("expected a set-up error, got {other:?}"),
    }
    let text = e.to_string();
    assert!(text.starts_with("set-up: POST http://127.0.0.1:"), "{text}");
    assert!(text.contains("answered 422"), "{text}");
    assert!(fake.lock().unwrap().observations.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bulk_workload_needs_no_patients_and_counts_refused_bundles_as_errors() {
    let fake: Shared = Arc::default();
    let base = serve_fake(fake.clone()).await;
    let mut c = LoadConfig::new(base, Auth::None, Workload::Bulk);
    c.concurrency = 2;
    c.max_requests = Some(10);
    let r = zorgkluis_load::run(c).await.unwrap();
    let table = r.table();
    assert_eq!((r.patients, r.observations), (0, 0), "{table}");
    assert_eq!(r.requests, 10, "{table}");
    assert_eq!(r.errors_by_status.get(&400), Some(&10), "{table}");
    assert_eq!(r.resources_written, 0, "{table}");
    assert!(!table.contains("resources written/s"), "{table}");
    assert_eq!(fake.lock().unwrap().transactions_refused, 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_too_costly_patient_list_asks_for_a_practitioner() {
    let fake: Shared = Arc::default();
    fake.lock().unwrap().patients_too_costly = true;
    let base = serve_fake(fake.clone()).await;
    let c = LoadConfig::new(base, Auth::None, Workload::Read);
    let e = zorgkluis_load::run(c).await.unwrap_err();
    assert!(matches!(e, LoadError::NeedsPractitioner { .. }), "{e:?}");
    let text = e.to_string();
    assert!(text.contains("/fhir/Patient?_count=1000"), "{text}");
    assert!(text.contains("too costly"), "{text}");
    assert!(
        text.contains("narrow it down"),
        "the server's words: {text}"
    );
    assert!(text.contains("--practitioner ID"), "{text}");
    assert!(text.contains("zorgkluis users list"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn too_many_care_teams_are_searched_in_windows_of_their_start_the_most_recent_first() {
    let fake: Shared = Arc::default();
    let today = time::OffsetDateTime::now_utc().date();
    {
        let mut f = fake.lock().unwrap();
        f.patients_too_costly = true;
        f.max_care_teams = Some(10);
        // 4 teams started 10 days ago, 6 half a year ago, 20 three years ago.
        for (n, days_ago) in [(4, 10), (6, 200), (20, 1100)] {
            for _ in 0..n {
                let id = format!("p{}", f.care_teams.len());
                let start = (today - time::Duration::days(days_ago)).to_string();
                f.care_teams.push((id, start));
            }
        }
    }
    let base = serve_fake(fake.clone()).await;
    let mut c = LoadConfig::new(base, Auth::None, Workload::Read);
    c.practitioner = Some("dr".into());
    c.concurrency = 2;
    c.max_requests = Some(20);
    let r = zorgkluis_load::run(c).await.unwrap();
    let table = r.table();
    assert!(r.errors_by_status.is_empty(), "{table}");
    assert_eq!((r.transport_errors, r.requests), (0, 20), "{table}");
    // All teams at once: too costly; the last 90 days: 4; the last year: 10; two years:
    // still 10; four years: too costly, so the ten of the widest window that answered.
    assert_eq!(r.patients, 10, "{table}");
    let queries = fake.lock().unwrap().care_team_queries.clone();
    assert_eq!(queries.len(), 5, "{queries:?}");
    assert_eq!(
        queries[0],
        "participant=Practitioner/dr&status=active&_count=1000"
    );
    for (q, days) in queries[1..].iter().zip([90, 365, 730, 1461]) {
        let since = today - time::Duration::days(days);
        assert_eq!(
            *q,
            format!("participant=Practitioner/dr&status=active&_count=1000&date=sa{since}")
        );
    }
}

/// A fake with one patient whose origin's SMART configuration names `token_endpoint`
/// (on the fake's origin when it starts with `/`), with tokens that last `lifetime`
/// seconds; the fake and its FHIR base URL.
async fn fake_with_oauth(token_endpoint: &str, lifetime: u64) -> (Shared, String) {
    let fake: Shared = Arc::default();
    let base = serve_fake(fake.clone()).await;
    let endpoint = match token_endpoint.strip_prefix('/') {
        Some(path) => format!("{}/{path}", base.trim_end_matches("/fhir")),
        None => token_endpoint.to_owned(),
    };
    {
        let mut f = fake.lock().unwrap();
        f.patients.push("p0".into());
        f.token_lifetime = lifetime;
        f.smart_configuration = Some(json!({"token_endpoint": endpoint}));
    }
    (fake, base)
}

fn client_auth(scope: Option<&str>) -> Auth {
    Auth::ClientCredentials(ClientCredentials {
        client_id: "load:1".into(),
        client_secret: "s3cr3t +/".into(),
        scope: scope.map(str::to_owned),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn client_credentials_follow_the_smart_configuration_and_renew_a_token_before_it_runs_out() {
    // Tokens of 61 s: enough for discovery (60 s to spare), not for a timed phase of 1 s
    // once discovery took any time at all, so the timed phase gets a new one.
    let (fake, base) = fake_with_oauth("/oauth/token", 61).await;
    let mut c = LoadConfig::new(base, client_auth(Some("user/*.read")), Workload::Read);
    c.concurrency = 2;
    c.duration = Duration::from_secs(1);
    c.max_requests = Some(10);
    let r = zorgkluis_load::run(c).await.unwrap();
    let table = r.table();
    assert!(r.errors_by_status.is_empty(), "{table}");
    assert_eq!((r.requests, r.patients), (10, 1), "{table}");

    let f = fake.lock().unwrap();
    assert_eq!(f.token_requests.len(), 2, "a first token and a renewal");
    for (authorization, content_type, form) in &f.token_requests {
        // RFC 6749 2.3.1: "load%3A1:s3cr3t+%2B%2F", base64-encoded.
        assert_eq!(authorization, "Basic bG9hZCUzQTE6czNjcjN0KyUyQiUyRg==");
        assert_eq!(content_type, "application/x-www-form-urlencoded");
        assert_eq!(form, "grant_type=client_credentials&scope=user%2F*.read");
    }
    let seen = &f.authorizations;
    // SMART discovery without credentials: the FHIR base's (a stub without a token
    // endpoint here), then the origin's.
    assert_eq!(seen[..2], ["", ""], "{seen:?}");
    let (discovery, timed) = seen[2..].split_at(seen.len() - 2 - 10);
    assert!(!discovery.is_empty(), "{seen:?}");
    assert!(discovery.iter().all(|a| a == "Bearer tok-1"), "{seen:?}");
    assert!(timed.iter().all(|a| a == "Bearer tok-2"), "{seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tokens_shorter_lived_than_the_timed_phase_stop_the_run_before_any_load() {
    let (fake, base) = fake_with_oauth("/oauth/token", 80).await;
    let mut c = LoadConfig::new(base, client_auth(None), Workload::Read);
    c.duration = Duration::from_secs(30);
    let e = zorgkluis_load::run(c).await.unwrap_err();
    assert!(matches!(e, LoadError::Config(_)), "{e:?}");
    let text = e.to_string();
    assert!(text.contains("/oauth/token last 80 s"), "{text}");
    assert!(text.contains("30 s of load plus 60 s"), "{text}");
    assert!(text.contains("--duration"), "{text}");
    let f = fake.lock().unwrap();
    assert_eq!(f.token_requests.len(), 1, "not asked again");
    assert_eq!(f.token_requests[0].2, "grant_type=client_credentials");
    assert_eq!(
        f.authorizations.len(),
        2,
        "no FHIR request: {:?}",
        f.authorizations
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_a_usable_smart_configuration_or_token_the_run_stops_naming_the_url() {
    // No SMART configuration at all.
    let (fake, base) = fake_with_oauth("/oauth/token", 3600).await;
    fake.lock().unwrap().smart_configuration = None;
    let e = zorgkluis_load::run(LoadConfig::new(&base, client_auth(None), Workload::Read))
        .await
        .unwrap_err();
    assert!(matches!(e, LoadError::SmartConfiguration(_)), "{e:?}");
    let text = e.to_string();
    let origin = base.trim_end_matches("/fhir");
    assert!(
        text.contains(&format!(
            "{base}/.well-known/smart-configuration answered 200 without a token_endpoint"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "{origin}/.well-known/smart-configuration answered 404"
        )),
        "{text}"
    );

    // A token endpoint elsewhere is not asked.
    let (fake, base) = fake_with_oauth("http://192.0.2.1/oauth/token", 3600).await;
    let e = zorgkluis_load::run(LoadConfig::new(&base, client_auth(None), Workload::Read))
        .await
        .unwrap_err();
    assert!(matches!(e, LoadError::NotLoopback(_)), "{e:?}");
    assert!(
        e.to_string().contains(
            "the token endpoint http://192.0.2.1/oauth/token (named by http://127.0.0.1:"
        ),
        "{e}"
    );
    assert!(fake.lock().unwrap().token_requests.is_empty());

    // A token endpoint that answers something else than a token.
    for (status, answer, variant_ok, says) in [
        (
            200,
            json!("<html>sign in</html>"),
            true,
            "answered 200: not JSON",
        ),
        (
            200,
            json!({"token_type": "Bearer"}),
            true,
            "answered 200: no access_token",
        ),
        (
            503,
            json!("try again later"),
            true,
            "answered 503: try again later",
        ),
        (
            400,
            json!({"error": "invalid_scope"}),
            false,
            "refused them: 400 invalid_scope",
        ),
    ] {
        let (fake, base) = fake_with_oauth("/oauth/token", 3600).await;
        fake.lock().unwrap().token_answer = Some((status, answer));
        let e = zorgkluis_load::run(LoadConfig::new(&base, client_auth(None), Workload::Read))
            .await
            .unwrap_err();
        let text = e.to_string();
        assert_eq!(
            matches!(e, LoadError::Token { .. }),
            variant_ok,
            "{status}: {e:?}"
        );
        assert!(text.contains("/oauth/token"), "{text}");
        assert!(text.contains(says), "{text}");
    }
}
