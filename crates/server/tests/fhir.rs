//! The FHIR R4 API over real HTTP against the real server, on SQLite and PostgreSQL:
//! interactions, versions, search with paging and includes, transactions, `$everything`,
//! errors as OperationOutcomes, and the audit trail as AuditEvent resources.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::{json, Value};
use zorgkluis_policy::StaffRole;
use zorgkluis_testkit::all_backends;

const FHIR: &str = "application/fhir+json";

async fn fhir(
    addr: &str,
    method: &str,
    path: &str,
    cookie: &str,
    body: Option<&Value>,
    extra: &[(&str, &str)],
) -> Reply {
    let bytes = body.map(|b| b.to_string()).unwrap_or_default();
    let mut headers = vec![("Cookie", cookie), ("Content-Type", FHIR), ("Accept", FHIR)];
    headers.extend_from_slice(extra);
    request(addr, method, path, &headers, bytes.as_bytes()).await
}

fn is_outcome(r: &Reply) -> bool {
    r.json()["resourceType"] == "OperationOutcome"
}

/// A GP practice with a GP, an assistant without any care relationship, a privacy officer;
/// the GP registers a patient (Patient + CareTeam naming the GP) in one transaction.
async fn world(vault: &zorgkluis_vault::Vault) {
    org(vault, "gp", "gp_practice").await;
    let load = zorgkluis_vault::Principal::operator("t", zorgkluis_vault::OperatorPurpose::Load);
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
    for p in ["dr", "assistant", "fg"] {
        vault
            .update(
                &load,
                "Practitioner",
                p,
                json!({"resourceType": "Practitioner", "id": p}),
                None,
            )
            .await
            .unwrap();
    }
    staff(vault, "huisarts", "gp", StaffRole::Gp, "dr", true).await;
    staff(
        vault,
        "assistent",
        "gp",
        StaffRole::Assistant,
        "assistant",
        true,
    )
    .await;
    staff(vault, "fg", "gp", StaffRole::PrivacyOfficer, "fg", true).await;
}

fn registration() -> Value {
    json!({
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
    })
}

fn observation(patient: &str, value: f64, date: &str) -> Value {
    json!({"resourceType": "Observation", "status": "final",
           "code": {"coding": [{"system": "http://loinc.org", "code": "4548-4"}]},
           "subject": {"reference": format!("Patient/{patient}")},
           "effectiveDateTime": date,
           "valueQuantity": {"value": value, "unit": "mmol/mol"}})
}

async fn register(addr: &str, gp: &str) -> String {
    let r = fhir(addr, "POST", "/fhir", gp, Some(&registration()), &[]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let b = r.json();
    assert_eq!(b["type"], "transaction-response");
    assert!(b["entry"][0]["response"]["status"]
        .as_str()
        .unwrap()
        .starts_with("201"));
    b["entry"][0]["response"]["location"]
        .as_str()
        .unwrap()
        .split('/')
        .nth(1)
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fhir_metadata_and_openapi_tell_what_is_supported() {
    let db = zorgkluis_testkit::sqlite();
    let vault = open_vault(&db).await;
    let addr = serve(&vault).await;
    let m = request(&addr, "GET", "/fhir/metadata", &[], b"").await;
    assert_eq!(m.status, 200);
    assert!(m
        .header("content-type")
        .unwrap()
        .starts_with("application/fhir+json"));
    let cs = m.json();
    assert_eq!(cs["resourceType"], "CapabilityStatement");
    assert_eq!(cs["fhirVersion"], "4.0.1");
    let patient = cs["rest"][0]["resource"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["type"] == "Patient")
        .unwrap();
    assert_eq!(patient["operation"][0]["name"], "everything");
    assert!(patient["searchParam"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["name"] == "identifier"));
    let o = request(&addr, "GET", "/fhir/openapi.json", &[], b"").await;
    assert_eq!(o.status, 200);
    assert_eq!(o.json()["openapi"], "3.0.3");
    assert!(o.json()["paths"]["/fhir/{type}/{id}"]["put"].is_object());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fhir_create_read_update_if_match_history_vread_delete() {
    for db in all_backends().await {
        let vault = open_vault(&db).await;
        world(&vault).await;
        let addr = serve(&vault).await;
        let gp = session(&addr, "huisarts", true).await;
        let pid = register(&addr, &gp).await;

        let read = fhir(
            &addr,
            "GET",
            &format!("/fhir/Patient/{pid}"),
            &gp,
            None,
            &[],
        )
        .await;
        assert_eq!(read.status, 200, "{}", read.body);
        assert_eq!(read.header("etag"), Some("W/\"1\""));
        assert_eq!(read.json()["name"][0]["family"], "Visser");

        let created = fhir(
            &addr,
            "POST",
            "/fhir/Observation",
            &gp,
            Some(&observation(&pid, 48.0, "2026-11-01")),
            &[],
        )
        .await;
        assert_eq!(created.status, 201, "{}", created.body);
        let oid = created.json()["id"].as_str().unwrap().to_owned();
        assert!(created
            .header("location")
            .unwrap()
            .ends_with(&format!("/Observation/{oid}/_history/1")));

        let mut changed = observation(&pid, 52.0, "2026-11-01");
        changed["id"] = json!(oid);
        let path = format!("/fhir/Observation/{oid}");
        let v2 = fhir(
            &addr,
            "PUT",
            &path,
            &gp,
            Some(&changed),
            &[("If-Match", "W/\"1\"")],
        )
        .await;
        assert_eq!(v2.status, 200, "{}", v2.body);
        assert_eq!(v2.json()["meta"]["versionId"], "2");
        let stale = fhir(
            &addr,
            "PUT",
            &path,
            &gp,
            Some(&changed),
            &[("If-Match", "W/\"1\"")],
        )
        .await;
        assert_eq!(stale.status, 412);
        assert!(is_outcome(&stale));

        let history = fhir(&addr, "GET", &format!("{path}/_history"), &gp, None, &[])
            .await
            .json();
        assert_eq!(history["type"], "history");
        assert_eq!(history["total"], 2);
        let v1 = fhir(&addr, "GET", &format!("{path}/_history/1"), &gp, None, &[]).await;
        assert_eq!(v1.json()["valueQuantity"]["value"], 48.0);

        // Type history: every Observation version the caller may see, newest first.
        let type_history = fhir(
            &addr,
            "GET",
            "/fhir/Observation/_history?_count=10",
            &gp,
            None,
            &[],
        )
        .await
        .json();
        assert_eq!(type_history["type"], "history");
        assert_eq!(
            type_history["entry"][0]["resource"]["meta"]["versionId"],
            "2"
        );
        let assistant = session(&addr, "assistent", true).await;
        let assistant_history = fhir(
            &addr,
            "GET",
            "/fhir/Observation/_history",
            &assistant,
            None,
            &[],
        )
        .await
        .json();
        assert_eq!(
            assistant_history["total"], 0,
            "versions the caller may not see are left out"
        );

        assert_eq!(
            fhir(&addr, "DELETE", &path, &gp, None, &[]).await.status,
            204
        );
        let gone = fhir(&addr, "GET", &path, &gp, None, &[]).await;
        assert_eq!(gone.status, 410);
        assert!(is_outcome(&gone));

        // Conditional create: the same identifier finds the existing patient.
        let again = fhir(
            &addr,
            "POST",
            "/fhir/Patient",
            &gp,
            Some(&registration()["entry"][0]["resource"]),
            &[(
                "If-None-Exist",
                "identifier=http://fhir.nl/fhir/NamingSystem/bsn|999996708",
            )],
        )
        .await;
        assert_eq!(again.status, 200, "{}", again.body);
        assert_eq!(again.json()["id"], json!(pid));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fhir_search_pages_includes_and_counts_only_what_the_caller_may_see() {
    for db in all_backends().await {
        let vault = open_vault(&db).await;
        world(&vault).await;
        let addr = serve(&vault).await;
        let gp = session(&addr, "huisarts", true).await;
        let pid = register(&addr, &gp).await;
        for (v, d) in [
            (40.0, "2026-01-10"),
            (45.0, "2026-05-10"),
            (50.0, "2026-10-10"),
        ] {
            let r = fhir(
                &addr,
                "POST",
                "/fhir/Observation",
                &gp,
                Some(&observation(&pid, v, d)),
                &[],
            )
            .await;
            assert_eq!(r.status, 201);
        }
        let first = fhir(
            &addr,
            "GET",
            &format!(
                "/fhir/Observation?patient={pid}&code=http://loinc.org|4548-4&_count=2&_sort=date"
            ),
            &gp,
            None,
            &[],
        )
        .await
        .json();
        assert_eq!(first["total"], 3);
        assert_eq!(first["entry"].as_array().unwrap().len(), 2);
        assert_eq!(
            first["entry"][0]["resource"]["valueQuantity"]["value"],
            40.0
        );
        let next = first["link"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["relation"] == "next")
            .unwrap()["url"]
            .as_str()
            .unwrap()
            .to_owned();
        let path = next.split_once(&addr).unwrap().1.to_owned();
        let second = fhir(&addr, "GET", &path, &gp, None, &[]).await.json();
        assert_eq!(second["entry"].as_array().unwrap().len(), 1);
        assert!(second["link"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["relation"] == "previous"));

        let dated = fhir(
            &addr,
            "GET",
            &format!("/fhir/Observation?patient={pid}&date=ge2026-05-01"),
            &gp,
            None,
            &[],
        )
        .await
        .json();
        assert_eq!(dated["total"], 2);
        let with_patient = fhir(
            &addr,
            "GET",
            &format!("/fhir/Observation?patient={pid}&_include=Observation:patient"),
            &gp,
            None,
            &[],
        )
        .await
        .json();
        let modes: Vec<&str> = with_patient["entry"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["search"]["mode"].as_str().unwrap())
            .collect();
        assert_eq!(modes.iter().filter(|m| **m == "include").count(), 1);
        let count = fhir(
            &addr,
            "GET",
            &format!("/fhir/Observation?patient={pid}&_summary=count"),
            &gp,
            None,
            &[],
        )
        .await
        .json();
        assert_eq!(count["total"], 3);
        assert!(count.get("entry").is_none());
        let by_bsn = fhir(
            &addr,
            "GET",
            "/fhir/Patient?identifier=http://fhir.nl/fhir/NamingSystem/bsn|999996708",
            &gp,
            None,
            &[],
        )
        .await
        .json();
        assert_eq!(by_bsn["total"], 1);

        // The assistant has no relationship: the same search finds nothing, the total says 0.
        let assistant = session(&addr, "assistent", true).await;
        let hidden = fhir(
            &addr,
            "GET",
            &format!("/fhir/Observation?patient={pid}"),
            &assistant,
            None,
            &[],
        )
        .await;
        assert_eq!(hidden.status, 200);
        assert_eq!(hidden.json()["total"], 0);

        // $everything, paged.
        let all = fhir(
            &addr,
            "GET",
            &format!("/fhir/Patient/{pid}/$everything?_count=3"),
            &gp,
            None,
            &[],
        )
        .await
        .json();
        assert_eq!(all["total"], 5, "Patient, CareTeam and three observations");
        assert_eq!(all["entry"][0]["resource"]["resourceType"], "Patient");
        assert!(all["link"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["relation"] == "next"));
        let refused = fhir(
            &addr,
            "GET",
            &format!("/fhir/Patient/{pid}/$everything"),
            &assistant,
            None,
            &[],
        )
        .await;
        assert_eq!(refused.status, 403);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fhir_errors_are_operation_outcomes_and_never_5xx_or_leaks() {
    let db = zorgkluis_testkit::sqlite();
    let vault = open_vault(&db).await;
    world(&vault).await;
    let addr = serve(&vault).await;
    let gp = session(&addr, "huisarts", true).await;
    let pid = register(&addr, &gp).await;

    let anonymous = fhir(&addr, "GET", &format!("/fhir/Patient/{pid}"), "", None, &[]).await;
    assert_eq!(anonymous.status, 401);
    assert!(anonymous.header("www-authenticate").is_some());
    assert!(is_outcome(&anonymous));

    let malformed = request(
        &addr,
        "POST",
        "/fhir/Observation",
        &[("Cookie", gp.as_str()), ("Content-Type", FHIR)],
        b"{\"resourceType\": \"Observation\",",
    )
    .await;
    assert_eq!(malformed.status, 400);
    assert!(is_outcome(&malformed));
    let invalid = fhir(
        &addr,
        "POST",
        "/fhir/Observation",
        &gp,
        Some(&json!({"resourceType": "Observation", "status": "final"})),
        &[],
    )
    .await;
    assert_eq!(invalid.status, 422, "{}", invalid.body);
    let unknown_param = fhir(
        &addr,
        "GET",
        "/fhir/Observation?colour=blue",
        &gp,
        None,
        &[("Prefer", "handling=strict")],
    )
    .await;
    assert_eq!(unknown_param.status, 400);
    assert!(is_outcome(&unknown_param));
    // By default an unknown parameter is ignored, with a warning in the Bundle.
    let lenient = fhir(
        &addr,
        "GET",
        "/fhir/Observation?colour=blue",
        &gp,
        None,
        &[],
    )
    .await;
    assert_eq!(lenient.status, 200);
    assert!(lenient.json()["entry"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["search"]["mode"] == "outcome"));
    let bad_value = fhir(
        &addr,
        "GET",
        "/fhir/Observation?date=yesterday",
        &gp,
        None,
        &[],
    )
    .await;
    assert_eq!(
        bad_value.status, 400,
        "a bad value of a known parameter is always an error"
    );
    let unknown_type = fhir(&addr, "GET", "/fhir/Spaceship/1", &gp, None, &[]).await;
    assert_eq!(unknown_type.status, 404);
    let bad_id = fhir(&addr, "GET", "/fhir/Patient/not%20an%20id", &gp, None, &[]).await;
    assert_eq!(bad_id.status, 400);
    let xml = request(
        &addr,
        "POST",
        "/fhir/Observation",
        &[
            ("Cookie", gp.as_str()),
            ("Content-Type", "application/fhir+xml"),
        ],
        b"<Observation/>",
    )
    .await;
    assert_eq!(xml.status, 415);
    let huge = vec![b' '; 17 * 1024 * 1024];
    let too_large = request(
        &addr,
        "POST",
        "/fhir/Observation",
        &[("Cookie", gp.as_str()), ("Content-Type", FHIR)],
        &huge,
    )
    .await;
    assert_eq!(too_large.status, 413);
    let wrong_type = fhir(
        &addr,
        "PUT",
        &format!("/fhir/Observation/{pid}"),
        &gp,
        Some(&json!({"resourceType": "Patient"})),
        &[],
    )
    .await;
    assert_eq!(wrong_type.status, 400);
    let conflict = fhir(&addr, "POST", "/fhir", &gp, Some(&json!({"resourceType": "Bundle", "type": "transaction", "entry": [{"request": {"method": "DELETE", "url": format!("Patient/{pid}")}}]})), &[]).await;
    assert_eq!(conflict.status, 400);

    // 403 never tells whether the resource exists.
    let assistant = session(&addr, "assistent", true).await;
    let exists = fhir(
        &addr,
        "GET",
        &format!("/fhir/Patient/{pid}"),
        &assistant,
        None,
        &[],
    )
    .await;
    let missing = fhir(
        &addr,
        "GET",
        "/fhir/Patient/does-not-exist",
        &assistant,
        None,
        &[],
    )
    .await;
    assert_eq!(exists.status, 403);
    assert_eq!(missing.status, 403, "{}", missing.body);
    assert_eq!(exists.body, missing.body);
    // The audit trail is read-only.
    assert_eq!(
        fhir(
            &addr,
            "POST",
            "/fhir/AuditEvent",
            &gp,
            Some(&json!({"resourceType": "AuditEvent"})),
            &[]
        )
        .await
        .status,
        405
    );
}

/// What the fuzzers (`scripts/fuzz`) and schemathesis (`scripts/schemathesis`) found stays
/// fixed: paging offsets near `usize::MAX` overflowed while the searchset's links were built
/// (a panic in debug builds), an AuditEvent `date` starting with a multi-byte character
/// was cut inside it (a panic), and a 405 came without `Allow`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fhir_found_by_fuzzing_stays_fixed() {
    let db = zorgkluis_testkit::sqlite();
    let vault = open_vault(&db).await;
    world(&vault).await;
    let addr = serve(&vault).await;
    let gp = session(&addr, "huisarts", true).await;
    let pid = register(&addr, &gp).await;
    for path in [
        "/fhir/Observation?_offset=18446744073709551615".to_owned(),
        "/fhir/Observation?_count=5&_page=18446744073709551615".to_owned(),
        format!("/fhir/Patient/{pid}/$everything?_offset=18446744073709551615"),
    ] {
        let r = fhir(&addr, "GET", &path, &gp, None, &[]).await;
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        assert_eq!(r.json()["resourceType"], "Bundle", "{path}");
    }
    let r = fhir(
        &addr,
        "GET",
        "/fhir/AuditEvent?date=a%C3%A9",
        &gp,
        None,
        &[],
    )
    .await;
    assert!(r.status == 400 || r.status == 403, "{}", r.body);
    assert!(is_outcome(&r));
    let r = fhir(
        &addr,
        "GET",
        &format!("/fhir/AuditEvent?patient={pid}"),
        &gp,
        None,
        &[],
    )
    .await;
    assert!(r.status < 500, "{}", r.body);
    for method in ["POST", "PUT", "DELETE", "PATCH"] {
        let r = fhir(&addr, method, "/fhir/AuditEvent", &gp, None, &[]).await;
        assert_eq!(r.status, 405, "{method}");
        assert_eq!(r.header("allow"), Some("GET"), "{method}");
        assert!(is_outcome(&r), "{method}");
    }
    let r = fhir(
        &addr,
        "DELETE",
        "/fhir/Observation/not%20an%20id",
        &gp,
        None,
        &[],
    )
    .await;
    assert_eq!(r.status, 400);
    let openapi = fhir(&addr, "GET", "/fhir/openapi.json", "", None, &[]).await;
    let delete = &openapi.json()["paths"]["/fhir/{type}/{id}"]["delete"]["responses"];
    assert!(delete.get("400").is_some() && delete.get("204").is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fhir_audit_events_the_patient_sees_their_own_the_privacy_officer_all() {
    for db in all_backends().await {
        let vault = open_vault(&db).await;
        world(&vault).await;
        let addr = serve(&vault).await;
        let gp = session(&addr, "huisarts", true).await;
        let pid = register(&addr, &gp).await;
        assert_eq!(
            fhir(
                &addr,
                "GET",
                &format!("/fhir/Patient/{pid}"),
                &gp,
                None,
                &[]
            )
            .await
            .status,
            200
        );
        patient_account(&vault, "anna", &pid).await;
        let anna = session(&addr, "anna", false).await;
        let own = fhir(
            &addr,
            "GET",
            &format!("/fhir/AuditEvent?patient={pid}"),
            &anna,
            None,
            &[],
        )
        .await;
        assert_eq!(own.status, 200, "{}", own.body);
        let b = own.json();
        let events = b["entry"].as_array().unwrap();
        let gp_read = events
            .iter()
            .map(|e| &e["resource"])
            .find(|e| {
                e["agent"][0]["role"][0]["coding"][0]["display"] == "gp"
                    && e["subtype"][0]["code"] == "read"
            })
            .expect("the GP's read is shown");
        assert_eq!(gp_read["resourceType"], "AuditEvent");
        assert_eq!(gp_read["outcome"], "0");
        assert!(gp_read["recorded"].is_string() && gp_read["source"]["observer"].is_object());
        let other = fhir(
            &addr,
            "GET",
            "/fhir/AuditEvent?patient=someone-else",
            &anna,
            None,
            &[],
        )
        .await;
        assert_eq!(other.status, 403);
        let everyone = fhir(&addr, "GET", "/fhir/AuditEvent", &anna, None, &[]).await;
        assert_eq!(
            everyone.status, 403,
            "only the privacy officer searches across patients"
        );
        let fg = session(&addr, "fg", true).await;
        let all = fhir(&addr, "GET", "/fhir/AuditEvent?_count=500", &fg, None, &[]).await;
        assert_eq!(all.status, 200, "{}", all.body);
        assert!(all.json()["total"].as_u64().unwrap() > events.len() as u64);
    }
}
