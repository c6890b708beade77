//! Care staff's pages (my patients, patient search, the emergency procedure) and the
//! privacy officer's pages (audit search, emergency-access review), through the real
//! router over HTTP with real logins, on a fresh database per backend.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::{json, Value};
use zorgkluis_policy::StaffRole;
use zorgkluis_testkit::{all_backends, TestDb};
use zorgkluis_vault::{AuditFilter, OperatorPurpose, Principal, Vault};

const BSN_SYSTEM: &str = "http://fhir.nl/fhir/NamingSystem/bsn";
/// BSNs from the test range (they pass the eleven-test).
const BSN_P1: &str = "999996708";
const BSN_P3: &str = "999911120";

fn loader() -> Principal {
    Principal::operator("t", OperatorPurpose::Load)
}

fn auditor() -> Principal {
    Principal::operator("t", OperatorPurpose::AuditReview)
}

fn patient(id: &str, family: &str, given: &str, born: &str, bsn: Option<&str>) -> Value {
    let mut p = json!({
        "resourceType": "Patient", "id": id,
        "name": [{"family": family, "given": [given]}],
        "gender": "female", "birthDate": born
    });
    if let Some(b) = bsn {
        p["identifier"] = json!([{"system": BSN_SYSTEM, "value": b}]);
    }
    p
}

fn team(id: &str, patient: &str, practitioner: &str, org: &str, end: Option<&str>) -> Value {
    let mut period = json!({"start": "2020-01-01"});
    if let Some(e) = end {
        period["end"] = json!(e);
    }
    json!({
        "resourceType": "CareTeam", "id": id, "status": "active",
        "subject": {"reference": format!("Patient/{patient}")},
        "participant": [{"member": {"reference": format!("Practitioner/{practitioner}")},
                         "onBehalfOf": {"reference": format!("Organization/{org}")},
                         "period": period}],
        "managingOrganization": [{"reference": format!("Organization/{org}")}]
    })
}

/// A GP practice with two GPs, an assistant, a practice nurse and the privacy officer, a
/// physiotherapy practice, and five patients:
/// p1 Geertruida Zwanenburg-Oosterhuis and p2 Anna de Vries in the care of GP `dr`;
/// p3 Pieter Bakker in the care of GP `dr2` only; p4 Kees Smit whose care by `dr` ended;
/// p5 Fenna Mulder in a team with `dr` on behalf of the physiotherapy practice.
async fn start(db: &TestDb) -> (Vault, String) {
    let vault = open_vault(db).await;
    org(&vault, "gp", "gp_practice").await;
    org(&vault, "physio", "physio_practice").await;
    let load = loader();
    for id in ["gp", "physio"] {
        vault
            .update(
                &load,
                "Organization",
                id,
                json!({"resourceType": "Organization", "id": id, "name": id}),
                None,
            )
            .await
            .unwrap();
    }
    for id in ["dr", "dr2", "assistant", "poh", "fg"] {
        vault
            .update(
                &load,
                "Practitioner",
                id,
                json!({"resourceType": "Practitioner", "id": id}),
                None,
            )
            .await
            .unwrap();
    }
    for p in [
        patient(
            "p1",
            "Zwanenburg-Oosterhuis",
            "Geertruida",
            "1961-04-12",
            Some(BSN_P1),
        ),
        patient("p2", "de Vries", "Anna", "1990-06-15", None),
        patient("p3", "Bakker", "Pieter", "1975-01-20", Some(BSN_P3)),
        patient("p4", "Smit", "Kees", "1950-02-02", None),
        patient("p5", "Mulder", "Fenna", "2001-09-09", None),
    ] {
        let id = p["id"].as_str().unwrap().to_owned();
        vault.update(&load, "Patient", &id, p, None).await.unwrap();
    }
    for t in [
        team("t1", "p1", "dr", "gp", None),
        team("t2", "p2", "dr", "gp", None),
        team("t3", "p3", "dr2", "gp", None),
        team("t4", "p4", "dr", "gp", Some("2025-01-01")),
        team("t5", "p5", "dr", "physio", None),
    ] {
        let id = t["id"].as_str().unwrap().to_owned();
        vault.update(&load, "CareTeam", &id, t, None).await.unwrap();
    }
    vault
        .update(&load, "Observation", "p3-obs", json!({
            "resourceType": "Observation", "id": "p3-obs", "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "4548-4", "display": "Hemoglobin A1c"}]},
            "subject": {"reference": "Patient/p3"},
            "effectiveDateTime": "2026-10-01T08:30:00Z",
            "valueQuantity": {"value": 53, "unit": "mmol/mol"}
        }), None)
        .await
        .unwrap();
    staff(&vault, "huisarts", "gp", StaffRole::Gp, "dr", true).await;
    staff(&vault, "huisarts2", "gp", StaffRole::Gp, "dr2", true).await;
    staff(
        &vault,
        "assistent",
        "gp",
        StaffRole::Assistant,
        "assistant",
        true,
    )
    .await;
    staff(&vault, "poh", "gp", StaffRole::PracticeNurse, "poh", true).await;
    staff(&vault, "fg", "gp", StaffRole::PrivacyOfficer, "fg", true).await;
    staff(&vault, "nieuw", "gp", StaffRole::Gp, "dr", false).await;
    patient_account(&vault, "patient1", "p1").await;
    let addr = serve(&vault).await;
    (vault, addr)
}

/// The table of a page (after the header that names the logged-in user).
fn table(body: &str) -> &str {
    body.split_once("<table").map_or("", |(_, t)| t)
}

/// The part of a search page after the form (the results), so the typed name in the
/// form does not count as "shown".
fn results(body: &str) -> &str {
    body.split_once("id=\"results-title\"")
        .map_or("", |(_, r)| r)
}

async fn post(addr: &str, path: &str, cookie: &str, form: &str) -> Reply {
    http(addr, "POST", path, cookie, Some(form)).await
}

async fn csrf(addr: &str, cookie: &str) -> String {
    http(addr, "GET", "/staff/search", cookie, None)
        .await
        .hidden("csrf")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gp7_my_patients_lists_exactly_the_patients_in_care_at_the_own_organisation() {
    for db in all_backends().await {
        let (_vault, addr) = start(&db).await;
        let gp = session(&addr, "huisarts", true).await;
        let page = http(&addr, "GET", "/staff", &gp, None).await;
        assert_eq!(page.status, 200, "{}: {}", db.backend, page.body);
        let body = &page.body;
        assert!(body.contains("Mijn patiënten"));
        for shown in [
            "Geertruida Zwanenburg-Oosterhuis",
            "Anna de Vries",
            "/staff/patients/p1",
            "/staff/patients/p2",
            "12-04-1961",
            ">65<",
            "01-01-2020",
        ] {
            assert!(body.contains(shown), "{shown} missing: {body}");
        }
        // Another GP's patient, an ended membership, and a team for another organisation.
        for hidden in [
            "Bakker",
            "Smit",
            "Mulder",
            "/staff/patients/p3",
            "/staff/patients/p4",
            "/staff/patients/p5",
        ] {
            assert!(!body.contains(hidden), "{hidden} shown");
        }
        // Sorted by surname: Vries (de Vries) before Zwanenburg.
        assert!(body.find("Anna de Vries").unwrap() < body.find("Geertruida").unwrap());

        let gp2 = session(&addr, "huisarts2", true).await;
        let other = http(&addr, "GET", "/staff", &gp2, None).await.body;
        assert!(other.contains("Pieter Bakker") && !other.contains("Geertruida"));

        // Nobody in care: an empty state that says why.
        let assistant = session(&addr, "assistent", true).await;
        let empty = http(&addr, "GET", "/staff", &assistant, None).await;
        assert_eq!(empty.status, 200);
        assert!(empty
            .body
            .contains("Er staan nog geen patiënten op uw lijst"));
        assert!(empty.body.contains("zorgteam"));

        // Without the confidentiality agreement: nothing, and a way to accept it.
        let new = session(&addr, "nieuw", true).await;
        let refused = http(&addr, "GET", "/staff", &new, None).await;
        assert_eq!(refused.status, 403);
        assert!(refused.body.contains("href=\"/me\"") && !refused.body.contains("Geertruida"));

        // A patient is not staff.
        let me = session(&addr, "patient1", false).await;
        let not_staff = http(&addr, "GET", "/staff", &me, None).await;
        assert_eq!(not_staff.status, 403);
        assert!(!not_staff.body.contains("Anna de Vries"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gp7_search_by_name_and_birthdate_or_bsn_shows_only_patients_in_care() {
    for db in all_backends().await {
        let (vault, addr) = start(&db).await;
        let gp = session(&addr, "huisarts", true).await;
        let token = csrf(&addr, &gp).await;
        let form = http(&addr, "GET", "/staff/search", &gp, None).await;
        assert_eq!(form.status, 200);
        assert!(
            form.body.contains("method=\"post\"") && !form.body.contains("id=\"results-title\"")
        );

        // Name and date of birth, in either date order and with the full name.
        for (name, born) in [
            ("Zwanenburg", "1961-04-12"),
            ("geertruida zwanenburg-oosterhuis", "12-04-1961"),
        ] {
            let r = post(
                &addr,
                "/staff/search",
                &gp,
                &format!("csrf={}&name={}&birthdate={born}", enc(&token), enc(name)),
            )
            .await;
            assert_eq!(r.status, 200, "{}: {}", db.backend, r.body);
            let found = results(&r.body);
            assert!(
                found.contains("Geertruida Zwanenburg-Oosterhuis")
                    && found.contains("/staff/patients/p1"),
                "{name}: {found}"
            );
        }
        // By BSN.
        let r = post(
            &addr,
            "/staff/search",
            &gp,
            &format!("csrf={}&bsn={BSN_P1}", enc(&token)),
        )
        .await;
        assert_eq!(r.status, 200);
        assert!(results(&r.body).contains("/staff/patients/p1"));
        assert!(!r.body.contains(BSN_P1), "the BSN is not shown back");

        // A patient outside the relationship is not revealed, by name or BSN; one neutral line.
        let r = post(
            &addr,
            "/staff/search",
            &gp,
            &format!("csrf={}&name=Bakker&birthdate=1975-01-20", enc(&token)),
        )
        .await;
        assert_eq!(r.status, 200);
        let found = results(&r.body);
        assert!(
            !found.contains("Pieter")
                && !found.contains("/staff/patients/p3")
                && !found.contains("Bakker"),
            "{found}"
        );
        assert!(
            found.contains("Er kunnen meer patiënten zijn met wie u geen behandelrelatie heeft")
        );
        let r = post(
            &addr,
            "/staff/search",
            &gp,
            &format!("csrf={}&bsn={BSN_P3}", enc(&token)),
        )
        .await;
        assert!(
            !r.body.contains("Pieter")
                && !r.body.contains("Bakker")
                && !r.body.contains("/staff/patients/p3")
        );
        assert!(results(&r.body).contains("Geen patiënt gevonden met dit BSN"));

        // Bad input is explained; the eleven-test is applied.
        let r = post(
            &addr,
            "/staff/search",
            &gp,
            &format!("csrf={}&bsn=999996707", enc(&token)),
        )
        .await;
        assert_eq!(r.status, 400);
        assert!(r.body.contains("elfproef") && !r.body.contains("999996707"));
        let r = post(
            &addr,
            "/staff/search",
            &gp,
            &format!("csrf={}&name=Zwanenburg", enc(&token)),
        )
        .await;
        assert_eq!(r.status, 400);
        assert!(r.body.contains("zowel de naam als de geboortedatum"));
        let r = post(
            &addr,
            "/staff/search",
            &gp,
            &format!("csrf={}&name=Zwanenburg&birthdate=31-02-1961", enc(&token)),
        )
        .await;
        assert_eq!(r.status, 400);

        // No CSRF token: refused before any search.
        let r = post(&addr, "/staff/search", &gp, &format!("bsn={BSN_P1}")).await;
        assert_eq!(r.status, 403);
        assert!(!r.body.contains("Geertruida"));

        // Every search is in the trail, with the BSN redacted.
        let trail = vault
            .audit_search(
                &auditor(),
                &AuditFilter {
                    limit: 10_000,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let searches: Vec<_> = trail
            .iter()
            .filter(|e| {
                e.code == zorgkluis_audit::EventCode::Search
                    && e.actor.display.as_deref() == Some("Test huisarts")
            })
            .filter(|e| e.object.resource_type.as_deref() == Some("Patient"))
            .collect();
        assert_eq!(searches.len(), 5, "{searches:#?}");
        assert!(searches.iter().any(|e| e
            .object
            .query
            .as_deref()
            .is_some_and(|q| q.contains(&format!("identifier={BSN_SYSTEM}|***")))));
        let text = serde_json::to_string(&trail).unwrap();
        assert!(!text.contains(BSN_P1) && !text.contains(BSN_P3) && !text.contains("Zwanenburg"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nen7513_break_the_glass_needs_a_reason_opens_the_record_and_is_reviewed_by_the_privacy_officer(
) {
    for db in all_backends().await {
        let (vault, addr) = start(&db).await;

        // An assistant without a relationship is refused, and the emergency procedure is
        // not for their role (the vault refuses it too, and logs it).
        let assistant = session(&addr, "assistent", true).await;
        assert_eq!(
            http(&addr, "GET", "/fhir/Patient/p3", &assistant, None)
                .await
                .status,
            403
        );
        let page = http(
            &addr,
            "GET",
            "/staff/patients/p3/break-glass",
            &assistant,
            None,
        )
        .await;
        assert_eq!(page.status, 403, "{}", db.backend);
        assert!(
            page.body.contains("artsen en verpleegkundigen")
                && !page.body.contains("name=\"reason\"")
        );
        let token = csrf(&addr, &assistant).await;
        let refused = post(
            &addr,
            "/staff/patients/p3/break-glass",
            &assistant,
            &format!(
                "csrf={}&reason={}&confirm=yes",
                enc(&token),
                enc("patiënt onwel aan de balie")
            ),
        )
        .await;
        assert_eq!(refused.status, 403);
        assert_eq!(
            http(&addr, "GET", "/fhir/Patient/p3", &assistant, None)
                .await
                .status,
            403
        );

        // The practice nurse has no relationship either: refused.
        let nurse = session(&addr, "poh", true).await;
        assert_eq!(
            http(&addr, "GET", "/fhir/Observation/p3-obs", &nurse, None)
                .await
                .status,
            403
        );
        let record = http(&addr, "GET", "/staff/patients/p3", &nurse, None).await;
        assert_eq!(record.status, 403);
        assert!(
            !record.body.contains("Pieter")
                && record.body.contains("/staff/patients/p3/break-glass")
        );
        let form = http(&addr, "GET", "/staff/patients/p3/break-glass", &nurse, None).await;
        assert_eq!(form.status, 200);
        for text in [
            "noodprocedure",
            "functionaris gegevensbescherming",
            "De patiënt ziet",
            "name=\"reason\"",
            "name=\"confirm\"",
            "required",
        ] {
            assert!(form.body.contains(text), "{text} missing");
        }
        let token = form.hidden("csrf");
        let reason = "bewusteloos binnengebracht, medicatie nodig";
        // Without CSRF: refused, nothing opened.
        let forged = post(
            &addr,
            "/staff/patients/p3/break-glass",
            &nurse,
            &format!("reason={}&confirm=yes", enc(reason)),
        )
        .await;
        assert_eq!(forged.status, 403);
        assert_eq!(
            http(&addr, "GET", "/fhir/Observation/p3-obs", &nurse, None)
                .await
                .status,
            403
        );
        // A reason is required, and so is the confirmation.
        let short = post(
            &addr,
            "/staff/patients/p3/break-glass",
            &nurse,
            &format!("csrf={}&reason=spoed&confirm=yes", enc(&token)),
        )
        .await;
        assert_eq!(short.status, 400);
        assert!(short.body.contains("minstens tien tekens"));
        let unconfirmed = post(
            &addr,
            "/staff/patients/p3/break-glass",
            &nurse,
            &format!("csrf={}&reason={}", enc(&token), enc(reason)),
        )
        .await;
        assert_eq!(unconfirmed.status, 400);
        assert!(
            unconfirmed.body.contains(reason),
            "the reason typed is kept"
        );
        assert_eq!(
            http(&addr, "GET", "/fhir/Observation/p3-obs", &nurse, None)
                .await
                .status,
            403
        );

        let opened = post(
            &addr,
            "/staff/patients/p3/break-glass",
            &nurse,
            &format!("csrf={}&reason={}&confirm=yes", enc(&token), enc(reason)),
        )
        .await;
        assert_eq!(opened.status, 303, "{}", opened.body);
        assert_eq!(opened.header("location"), Some("/staff/patients/p3"));
        assert_eq!(
            http(&addr, "GET", "/fhir/Observation/p3-obs", &nurse, None)
                .await
                .status,
            200
        );
        let record = http(&addr, "GET", "/staff/patients/p3", &nurse, None).await;
        assert_eq!(record.status, 200);
        assert!(record.body.contains("Pieter Bakker"));

        // The privacy officer's queue shows who, which patient, why and what was read.
        let po = session(&addr, "fg", true).await;
        let queue = http(&addr, "GET", "/privacy-officer/review", &po, None).await;
        assert_eq!(queue.status, 200);
        let body = &queue.body;
        for text in [
            "Test poh",
            "praktijkondersteuner",
            "p3",
            reason,
            "Observation/p3-obs",
            "noodprocedure gestart",
            "Te beoordelen (1)",
        ] {
            assert!(body.contains(text), "{text} missing in the queue");
        }
        let marker = "action=\"/privacy-officer/review/";
        let start = body.find(marker).unwrap() + marker.len();
        let id = body[start..].split('"').next().unwrap().to_owned();
        let po_token = queue.hidden("csrf");

        // A review needs a remark (and CSRF).
        let path = format!("/privacy-officer/review/{id}");
        let r = post(
            &addr,
            &path,
            &po,
            &format!("csrf={}&remark=+++", enc(&po_token)),
        )
        .await;
        assert_eq!(r.status, 400);
        assert!(r.body.contains("Schrijf een opmerking"));
        let r = post(&addr, &path, &po, "remark=gezien").await;
        assert_eq!(r.status, 403);
        let remark = "Terecht gebruikt: patiënt binnengebracht op de SEH.";
        let r = post(
            &addr,
            &path,
            &po,
            &format!("csrf={}&remark={}", enc(&po_token), enc(remark)),
        )
        .await;
        assert_eq!(r.status, 303, "{}", r.body);
        assert_eq!(
            r.header("location"),
            Some("/privacy-officer/review?done=reviewed")
        );
        let after = http(
            &addr,
            "GET",
            "/privacy-officer/review?done=reviewed",
            &po,
            None,
        )
        .await
        .body;
        assert!(after.contains("De beoordeling is vastgelegd"));
        assert!(
            after.contains("Er wacht niets op beoordeling") && after.contains("Te beoordelen (0)")
        );
        assert!(
            after.contains(remark) && after.contains("Test fg (functionaris gegevensbescherming)")
        );
        assert!(!after.contains(marker), "no review form is left");
        // Once reviewed, never again.
        let again = post(
            &addr,
            &path,
            &po,
            &format!("csrf={}&remark=nogmaals", enc(&po_token)),
        )
        .await;
        assert_eq!(again.status, 400);
        assert!(again.body.contains("al beoordeeld"));

        // The refusal of the assistant's attempt is in the trail.
        let trail = vault
            .audit_for_patient(&auditor(), "p3", 1000)
            .await
            .unwrap();
        assert!(trail
            .iter()
            .any(|e| e.code == zorgkluis_audit::EventCode::EmergencyAccess
                && e.outcome == zorgkluis_audit::Outcome::Refused
                && e.actor.role_name == "assistant"));
        assert!(trail
            .iter()
            .any(|e| e.code == zorgkluis_audit::EventCode::EmergencyAccess
                && e.outcome == zorgkluis_audit::Outcome::Success
                && e.controls.emergency));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nen7513_only_the_privacy_officer_reaches_the_privacy_officer_pages() {
    for db in all_backends().await {
        let (_vault, addr) = start(&db).await;
        let mut gp = String::new();
        for (login, code) in [("huisarts", true), ("assistent", true), ("patient1", false)] {
            let who = session(&addr, login, code).await;
            if login == "huisarts" {
                gp = who.clone();
            }
            for path in [
                "/privacy-officer/audit",
                "/privacy-officer/review",
                "/privacy-officer/audit?patient=p1",
            ] {
                let r = http(&addr, "GET", path, &who, None).await;
                assert_eq!(r.status, 403, "{login} {path} on {}", db.backend);
                assert!(!r.body.contains("<table"), "{login} {path}");
            }
        }
        let token = csrf(&addr, &gp).await;
        let r = post(
            &addr,
            "/privacy-officer/review/anything",
            &gp,
            &format!("csrf={}&remark=weg+ermee", enc(&token)),
        )
        .await;
        assert_eq!(r.status, 403);
        let r = post(
            &addr,
            "/privacy-officer/audit",
            &gp,
            &format!("csrf={}&patient={BSN_P1}", enc(&token)),
        )
        .await;
        assert_eq!(r.status, 403);
        assert!(r.header("location").is_none());
        // Not logged in: to the login page.
        let anon = http(&addr, "GET", "/privacy-officer/audit", "", None).await;
        assert_eq!(anon.status, 303);
        assert!(anon.header("location").unwrap().starts_with("/login"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nen7513_audit_search_by_user_by_period_and_by_patient() {
    for db in all_backends().await {
        let (vault, addr) = start(&db).await;
        // Some activity: the GP opens p1, the assistant is refused p1.
        let gp = session(&addr, "huisarts", true).await;
        assert_eq!(
            http(&addr, "GET", "/fhir/Patient/p1", &gp, None)
                .await
                .status,
            200
        );
        let assistant = session(&addr, "assistent", true).await;
        assert_eq!(
            http(&addr, "GET", "/fhir/Observation/p3-obs", &assistant, None)
                .await
                .status,
            403
        );

        let po = session(&addr, "fg", true).await;
        let page = http(&addr, "GET", "/privacy-officer/audit", &po, None).await;
        assert_eq!(page.status, 200, "{}", db.backend);
        assert!(
            page.body.contains("Laatste gebeurtenissen")
                && page.body.contains("<th scope=\"col\">Wanneer</th>")
        );
        let token = page.hidden("csrf");

        // By user (login name): only that user's events.
        let r = post(
            &addr,
            "/privacy-officer/audit",
            &po,
            &format!("csrf={}&user=huisarts", enc(&token)),
        )
        .await;
        assert_eq!(r.status, 303, "{}", r.body);
        let to = r.header("location").unwrap().to_owned();
        assert!(to.starts_with("/privacy-officer/audit?user="), "{to}");
        let by_user = table(&http(&addr, "GET", &to, &po, None).await.body).to_owned();
        assert!(
            by_user.contains("Test huisarts")
                && by_user.contains("ingezien")
                && by_user.contains("Patient/p1")
        );
        assert!(by_user.contains("inloggen"));
        assert!(!by_user.contains("Test assistent") && !by_user.contains("Test fg"));

        // The refusal is highlighted under the assistant.
        let r = post(
            &addr,
            "/privacy-officer/audit",
            &po,
            &format!("csrf={}&user=assistent", enc(&token)),
        )
        .await;
        let refused = http(&addr, "GET", r.header("location").unwrap(), &po, None)
            .await
            .body;
        assert!(
            refused.contains("class=\"refused")
                && refused.contains("geweigerd")
                && refused.contains("GP-7 no treatment relationship")
        );

        // By period: the test clock's day (23-11-2026) has the events, the day before none.
        let r = post(
            &addr,
            "/privacy-officer/audit",
            &po,
            &format!(
                "csrf={}&user=huisarts&from=23-11-2026&to=2026-11-23",
                enc(&token)
            ),
        )
        .await;
        let to = r.header("location").unwrap().to_owned();
        assert!(
            to.contains("from=2026-11-23") && to.contains("to=2026-11-23"),
            "{to}"
        );
        assert!(http(&addr, "GET", &to, &po, None)
            .await
            .body
            .contains("Patient/p1"));
        let r = post(
            &addr,
            "/privacy-officer/audit",
            &po,
            &format!("csrf={}&from=2026-11-01&to=2026-11-22", enc(&token)),
        )
        .await;
        let none = http(&addr, "GET", r.header("location").unwrap(), &po, None)
            .await
            .body;
        assert!(none.contains("Geen gebeurtenissen gevonden"), "{none}");
        let r = post(
            &addr,
            "/privacy-officer/audit",
            &po,
            &format!("csrf={}&from=2026-11-24&to=2026-11-23", enc(&token)),
        )
        .await;
        assert_eq!(r.status, 400);
        assert!(r.body.contains("einddatum"));

        // By patient, with a BSN that never reaches a URL.
        let r = post(
            &addr,
            "/privacy-officer/audit",
            &po,
            &format!("csrf={}&patient={BSN_P1}", enc(&token)),
        )
        .await;
        assert_eq!(r.status, 303);
        assert_eq!(
            r.header("location"),
            Some("/privacy-officer/audit?patient=p1")
        );
        let by_patient = http(&addr, "GET", "/privacy-officer/audit?patient=p1", &po, None)
            .await
            .body;
        assert!(by_patient.contains("Test huisarts") && !by_patient.contains("p3-obs"));
        let r = post(
            &addr,
            "/privacy-officer/audit",
            &po,
            &format!("csrf={}&patient=999996707", enc(&token)),
        )
        .await;
        assert_eq!(r.status, 400);
        let r = post(
            &addr,
            "/privacy-officer/audit",
            &po,
            &format!("csrf={}&user=niemand", enc(&token)),
        )
        .await;
        assert_eq!(r.status, 400);
        assert!(r.body.contains("geen gebruiker"));
        // Without CSRF: refused.
        let r = post(&addr, "/privacy-officer/audit", &po, "user=huisarts").await;
        assert_eq!(r.status, 403);

        // Paging, newest first (more activity first: 60 reads).
        for _ in 0..60 {
            assert_eq!(
                http(&addr, "GET", "/fhir/Patient/p2", &gp, None)
                    .await
                    .status,
                200
            );
        }
        let all = http(&addr, "GET", "/privacy-officer/audit", &po, None)
            .await
            .body;
        assert!(
            all.contains("?page=2"),
            "the first page links to older events"
        );
        let second = http(&addr, "GET", "/privacy-officer/audit?page=2", &po, None).await;
        assert_eq!(second.status, 200);
        assert!(second.body.contains("Gebeurtenissen, nieuwste eerst: 51–"));

        // Each read of the trail is itself in the trail.
        vault.flush_audit().await.unwrap();
        let po_id = vault
            .principal_for_login("fg", "t")
            .await
            .unwrap()
            .unwrap()
            .actor()
            .user_id
            .clone();
        let reads = vault
            .audit_search(
                &auditor(),
                &AuditFilter {
                    user_id: Some(po_id),
                    limit: 1000,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert!(
            reads
                .iter()
                .filter(|e| e.code == zorgkluis_audit::EventCode::AuditRead)
                .count()
                >= 8
        );
        assert!(!serde_json::to_string(&reads).unwrap().contains(BSN_P1));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_and_privacy_officer_pages_render_in_both_languages() {
    for db in all_backends().await {
        let (_vault, addr) = start(&db).await;
        let gp = session(&addr, "huisarts", true).await;
        let nurse = session(&addr, "poh", true).await;
        let po = session(&addr, "fg", true).await;
        let pages = [
            (&gp, "/staff", "Mijn patiënten", "My patients"),
            (&gp, "/staff/search", "Patiënt zoeken", "Find a patient"),
            (
                &nurse,
                "/staff/patients/p3/break-glass",
                "Let op: dit is een noodprocedure",
                "Please note: this is an emergency procedure",
            ),
            (&po, "/privacy-officer/audit", "Auditlog", "Audit trail"),
            (
                &po,
                "/privacy-officer/review",
                "Beoordeling noodprocedure",
                "Emergency access review",
            ),
        ];
        for (who, path, nl, en) in pages {
            for (lang, text) in [("nl", nl), ("en", en)] {
                let r = http(&addr, "GET", path, &format!("{who}; zk_lang={lang}"), None).await;
                assert_eq!(r.status, 200, "{path} {lang} on {}", db.backend);
                assert!(
                    r.body.contains(&format!("lang=\"{lang}\"")),
                    "{path} {lang}"
                );
                assert!(r.body.contains(text), "{path} {lang}: {text}");
                assert!(
                    !r.body.contains("staff.") && !r.body.contains("privacy."),
                    "untranslated key on {path} {lang}"
                );
                assert_eq!(r.body.matches("<h1").count(), 1, "{path}");
            }
        }
        // A search result in English too.
        let token = csrf(&addr, &gp).await;
        let r = post(
            &addr,
            "/staff/search",
            &format!("{gp}; zk_lang=en"),
            &format!("csrf={}&name=de+Vries&birthdate=15-06-1990", enc(&token)),
        )
        .await;
        assert_eq!(r.status, 200);
        assert!(
            results(&r.body).contains("Anna de Vries")
                && r.body.contains("There may be more patients")
        );
    }
}
