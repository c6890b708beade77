//! The medical record in the portal over real HTTP against the real server: the patient's
//! record, results with charts, documents and leaflets (HP-1), a representative acting
//! for a child, "My details" with versioned corrections (PC-12), the same record for care
//! staff with a treatment relationship, the refusal with the emergency procedure without
//! one, and data entry within the user's rights with versions and authors (GP-7, CO-8).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use base64::Engine;
use common::*;
use serde_json::{json, Value};
use zorgkluis_auth::Argon2Cost;
use zorgkluis_policy::StaffRole;
use zorgkluis_testkit::{all_backends, TestDb};
use zorgkluis_vault::{AccountKind, NewAccount, OperatorPurpose, Principal, Vault};

const ANNA: &str = "p-anna";
const SANNE: &str = "p-sanne";
const PIET: &str = "p-piet";

fn loader() -> Principal {
    Principal::operator("t", OperatorPurpose::Load)
}

async fn put(vault: &Vault, r: Value) {
    let rt = r["resourceType"].as_str().unwrap().to_owned();
    let id = r["id"].as_str().unwrap().to_owned();
    vault.update(&loader(), &rt, &id, r, None).await.unwrap();
}

fn patient(id: &str, given: &str, family: &str, birth: &str, bsn: &str) -> Value {
    json!({"resourceType": "Patient", "id": id,
        "identifier": [{"system": "http://fhir.nl/fhir/NamingSystem/bsn", "value": bsn}],
        "name": [{"use": "official", "family": family, "given": [given]}],
        "gender": "female", "birthDate": birth,
        "telecom": [{"system": "phone", "value": "0612345678", "use": "mobile"},
                    {"system": "email", "value": format!("{given}@voorbeeld.nl").to_lowercase(), "use": "home"}],
        "address": [{"use": "home", "line": ["Lindelaan 1"], "postalCode": "3841 AB", "city": "Harderwijk", "country": "NL"}]})
}

fn care_team(id: &str, patient: &str) -> Value {
    json!({"resourceType": "CareTeam", "id": id, "status": "active", "name": "Huisartsenzorg",
        "subject": {"reference": format!("Patient/{patient}")},
        "participant": [
            {"role": [{"coding": [{"system": "urn:zorgkluis:role", "code": "gp"}]}],
             "member": {"reference": "Practitioner/dr", "display": "Dokter Jansen"},
             "onBehalfOf": {"reference": "Organization/gp"}},
            {"role": [{"coding": [{"system": "urn:zorgkluis:role", "code": "assistant"}]}],
             "member": {"reference": "Practitioner/assistant", "display": "Assistent El Amrani"},
             "onBehalfOf": {"reference": "Organization/gp"}}],
        "managingOrganization": [{"reference": "Organization/gp"}]})
}

fn lab(id: &str, patient: &str, code: &str, text: &str, value: f64, date: &str) -> Value {
    json!({"resourceType": "Observation", "id": id, "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": code, "display": "Cholesterol [Mass/volume] in Serum or Plasma"}], "text": text},
        "subject": {"reference": format!("Patient/{patient}")},
        "effectiveDateTime": date,
        "valueQuantity": {"value": value, "unit": "mmol/L"},
        "referenceRange": [{"low": {"value": 3.0, "unit": "mmol/L"}, "high": {"value": 5.0, "unit": "mmol/L"}}]})
}

fn condition(id: &str, patient: &str, snomed: &str, text: &str, status: &str) -> Value {
    json!({"resourceType": "Condition", "id": id,
        "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": status}]},
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": snomed}], "text": text},
        "subject": {"reference": format!("Patient/{patient}")},
        "onsetDateTime": "2015-03-02"})
}

/// A GP practice with a GP, an assistant and a nurse who treat Anna and Sanne; a GP of
/// another practice without any relationship; Anna, her neighbour Piet (also a patient),
/// and Sanne (14) with her father as representative.
async fn world(db: &TestDb) -> (Vault, String) {
    let vault = open_vault(db).await;
    org(&vault, "gp", "gp_practice").await;
    org(&vault, "other", "gp_practice").await;
    for o in ["gp", "other"] {
        put(
            &vault,
            json!({"resourceType": "Organization", "id": o, "name": format!("Praktijk {o}")}),
        )
        .await;
    }
    for p in ["dr", "assistant", "nurse", "dr2"] {
        put(&vault, json!({"resourceType": "Practitioner", "id": p, "name": [{"text": format!("Zorgverlener {p}")}]})).await;
    }
    staff(&vault, "huisarts", "gp", StaffRole::Gp, "dr", true).await;
    staff(
        &vault,
        "assistent",
        "gp",
        StaffRole::Assistant,
        "assistant",
        true,
    )
    .await;
    staff(&vault, "vreemde", "other", StaffRole::Gp, "dr2", true).await;

    put(
        &vault,
        patient(ANNA, "Anna", "Visser", "1980-02-03", "999996708"),
    )
    .await;
    put(
        &vault,
        patient(SANNE, "Sanne", "Huisman", "2012-05-10", "999911120"),
    )
    .await;
    put(
        &vault,
        patient(PIET, "Piet", "Buurman", "1975-07-07", "999990019"),
    )
    .await;
    put(&vault, care_team("ct-anna", ANNA)).await;
    put(&vault, care_team("ct-sanne", SANNE)).await;
    put(&vault, care_team("ct-piet", PIET)).await;
    put(&vault, json!({"resourceType": "RelatedPerson", "id": "rp-father", "active": true,
        "patient": {"reference": format!("Patient/{SANNE}")},
        "relationship": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode", "code": "FTH"}], "text": "Vader"}],
        "name": [{"text": "Sem Huisman"}]})).await;

    // Anna's record.
    put(
        &vault,
        condition(
            "c-diabetes",
            ANNA,
            "44054006",
            "Diabetes mellitus type 2",
            "active",
        ),
    )
    .await;
    put(
        &vault,
        condition("c-headache", ANNA, "25064002", "Hoofdpijn", "resolved"),
    )
    .await;
    put(
        &vault,
        condition("c-odd", ANNA, "999999999", "Zeldzame aandoening", "active"),
    )
    .await;
    put(&vault, json!({"resourceType": "MedicationStatement", "id": "ms-1", "status": "active",
        "medicationCodeableConcept": {"coding": [{"system": "http://www.whocc.no/atc", "code": "A10BA02", "display": "metformin"}], "text": "Metformine 500 mg tablet"},
        "subject": {"reference": format!("Patient/{ANNA}")}, "effectivePeriod": {"start": "2015-03-02"},
        "dosage": [{"text": "2 maal per dag 1 tablet"}]})).await;
    put(&vault, json!({"resourceType": "AllergyIntolerance", "id": "ai-1",
        "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "code": "active"}]},
        "category": ["medication"], "criticality": "high",
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "91936005", "display": "Allergy to penicillin"}], "text": "Penicilline-allergie"},
        "patient": {"reference": format!("Patient/{ANNA}")}, "recordedDate": "1998-09-23"})).await;
    put(&vault, json!({"resourceType": "Immunization", "id": "im-1", "status": "completed",
        "vaccineCode": {"coding": [{"system": "http://hl7.org/fhir/sid/cvx", "code": "208"}], "text": "COVID-19-vaccinatie"},
        "patient": {"reference": format!("Patient/{ANNA}")}, "occurrenceDateTime": "2021-06-15"})).await;
    put(&vault, json!({"resourceType": "Encounter", "id": "en-1", "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        "type": [{"text": "Consult"}], "subject": {"reference": format!("Patient/{ANNA}")},
        "period": {"start": "2026-10-01T09:00:00+02:00"}, "reasonCode": [{"text": "Controle suiker"}]})).await;
    put(
        &vault,
        lab(
            "ob-1",
            ANNA,
            "2093-3",
            "Cholesterol totaal",
            4.6,
            "2025-05-01",
        ),
    )
    .await;
    put(
        &vault,
        lab(
            "ob-2",
            ANNA,
            "2093-3",
            "Cholesterol totaal",
            5.1,
            "2025-11-01",
        ),
    )
    .await;
    put(
        &vault,
        lab(
            "ob-3",
            ANNA,
            "2093-3",
            "Cholesterol totaal",
            5.8,
            "2026-05-01",
        ),
    )
    .await;
    put(&vault, json!({"resourceType": "Observation", "id": "ob-own", "status": "final",
        "meta": {"tag": [{"system": "urn:zorgkluis:provenance", "code": "patient-entered"}]},
        "code": {"coding": [{"system": "http://loinc.org", "code": "55423-8"}], "text": "Eigen stappen"},
        "subject": {"reference": format!("Patient/{ANNA}")}, "effectiveDateTime": "2026-11-01",
        "valueQuantity": {"value": 4069, "unit": "/d"}})).await;
    put(&vault, json!({"resourceType": "DiagnosticReport", "id": "dr-1", "status": "final",
        "code": {"text": "Laboratoriumuitslagen"}, "subject": {"reference": format!("Patient/{ANNA}")},
        "effectiveDateTime": "2026-05-01", "conclusion": "Cholesterol licht verhoogd; leefstijladvies gegeven."})).await;
    let text = base64::engine::general_purpose::STANDARD
        .encode("Verslag van het consult.\nBeleid: controle over drie maanden.");
    put(
        &vault,
        json!({"resourceType": "DocumentReference", "id": "doc-1", "status": "current",
        "type": {"text": "Consultverslag"}, "subject": {"reference": format!("Patient/{ANNA}")},
        "date": "2026-10-01T17:00:00+02:00", "description": "Consultverslag",
        "author": [{"reference": "Practitioner/dr", "display": "Dokter Jansen"}],
        "content": [{"attachment": {"contentType": "text/plain", "data": text}}]}),
    )
    .await;

    // Sanne's and Piet's.
    put(
        &vault,
        condition("c-eczema", SANNE, "43116000", "Eczeem", "active"),
    )
    .await;
    put(
        &vault,
        condition(
            "c-piet",
            PIET,
            "38341003",
            "Geheime-aandoening-van-Piet",
            "active",
        ),
    )
    .await;
    put(&vault, json!({"resourceType": "Observation", "id": "ob-piet", "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": "3016-3"}], "text": "TSH-van-Piet"},
        "subject": {"reference": format!("Patient/{PIET}")}, "effectiveDateTime": "2026-01-01",
        "valueQuantity": {"value": 2.2, "unit": "mU/L"}})).await;

    patient_account(&vault, "patient.anna", ANNA).await;
    patient_account(&vault, "patient.piet", PIET).await;
    vault
        .add_account(
            &accounts_admin(),
            NewAccount {
                login: "vader".into(),
                display_name: "Sem Huisman".into(),
                email: None,
                password: PASSWORD.into(),
                kind: AccountKind::Representative {
                    represents: vec![(SANNE.into(), "rp-father".into())],
                },
                with_totp: false,
                fixed_totp_secret: None,
            },
            Argon2Cost::Fast,
        )
        .await
        .unwrap();
    let addr = serve(&vault).await;
    (vault, addr)
}

async fn get(addr: &str, path: &str, cookie: &str) -> Reply {
    http(addr, "GET", path, cookie, None).await
}

async fn post(addr: &str, path: &str, cookie: &str, form: &str) -> Reply {
    http(addr, "POST", path, cookie, Some(form)).await
}

/// The CSRF token of a page.
async fn csrf(addr: &str, path: &str, cookie: &str) -> String {
    let page = get(addr, path, cookie).await;
    assert_eq!(page.status, 200, "{path}: {}", page.body);
    page.hidden("csrf")
}

/// Whether a page shows a translation key instead of a text (`area.some-key`).
fn untranslated(body: &str) -> bool {
    ["record.", "common."].iter().any(|area| {
        body.match_indices(area).any(|(i, _)| {
            body[i + area.len()..]
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_lowercase())
        })
    })
}

fn assert_no_leak(body: &str) {
    for secret in ["Geheime-aandoening-van-Piet", "TSH-van-Piet", "Buurman"] {
        assert!(!body.contains(secret), "{secret} leaked: {body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hp1_patient_sees_own_record_results_with_a_chart_documents_and_leaflets() {
    let db = zorgkluis_testkit::sqlite();
    let (vault, addr) = world(&db).await;
    let anna = session(&addr, "patient.anna", false).await;

    let home = get(&addr, "/patient", &anna).await;
    assert_eq!(home.status, 200, "{}", home.body);
    assert!(home.body.contains("Anna Visser"));
    for link in [
        "/patient/record",
        "/patient/results",
        "/patient/appointments",
        "/patient/messages",
        "/patient/log",
        "/patient/access-log",
    ] {
        assert!(home.body.contains(&format!("href=\"{link}\"")), "{link}");
    }

    let record = get(&addr, "/patient/record", &anna).await;
    assert_eq!(record.status, 200, "{}", record.body);
    let b = &record.body;
    for shown in [
        "Diabetes mellitus type 2",
        "Hoofdpijn",
        "Metformine 500 mg tablet",
        "Penicilline-allergie",
        "COVID-19-vaccinatie",
        "Dokter Jansen",
        "Praktijk gp",
        "Controle suiker",
    ] {
        assert!(b.contains(shown), "{shown} missing");
    }
    // Current conditions come before earlier ones.
    assert!(b.find("Diabetes mellitus type 2") < b.find("Hoofdpijn"));
    assert_eq!(b.matches("<h1>").count(), 1);
    assert!(!b.contains("style="));
    assert_no_leak(b);

    let results = get(&addr, "/patient/results", &anna).await;
    assert_eq!(results.status, 200);
    assert!(results
        .body
        .contains("href=\"/patient/results/loinc-2093-3\""));
    assert!(results.body.contains("5,8 mmol/L") && results.body.contains("te hoog"));
    assert!(
        !results.body.contains("Eigen stappen"),
        "the health log is not a result"
    );

    let chart = get(&addr, "/patient/results/loinc-2093-3", &anna).await;
    assert_eq!(chart.status, 200, "{}", chart.body);
    assert!(
        chart.body.contains("<figure class=\"chart\">") && chart.body.contains("<svg role=\"img\"")
    );
    assert!(chart.body.contains("<table>") && chart.body.contains("<th scope=\"col\""));
    for v in [
        "4,6 mmol/L",
        "5,1 mmol/L",
        "5,8 mmol/L",
        "3,0 – 5,0 mmol/L",
        "01-05-2026",
    ] {
        assert!(chart.body.contains(v), "{v} missing");
    }
    assert!(chart.body.contains("class=\"flag-high\""));

    let docs = get(&addr, "/patient/documents", &anna).await;
    assert_eq!(docs.status, 200, "{}", docs.body);
    let d = &docs.body;
    assert!(d.contains("Beleid: controle over drie maanden."));
    assert!(d.contains("Cholesterol licht verhoogd"));
    assert!(d.contains("https://www.thuisarts.nl/diabetes-type-2"));
    assert!(
        d.contains("Zeldzame aandoening") && d.contains("geen folder"),
        "honest without a leaflet"
    );
    assert_no_leak(d);
    vault.flush_audit().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gp1_representative_sees_the_childs_record_with_the_acting_for_banner() {
    let db = zorgkluis_testkit::sqlite();
    let (_vault, addr) = world(&db).await;
    let father = session(&addr, "vader", false).await;
    let record = get(&addr, "/patient/record", &father).await;
    assert_eq!(record.status, 200, "{}", record.body);
    assert!(record.body.contains("class=\"acting\""));
    assert!(
        record.body.contains("U handelt namens Sanne Huisman"),
        "{}",
        record.body
    );
    assert!(record.body.contains("Eczeem"));
    assert!(!record.body.contains("Diabetes"));
    assert!(record.body.contains("<h1>Dossier van Sanne Huisman</h1>"));
    let home = get(&addr, "/patient", &father).await;
    assert!(home.body.contains("U handelt namens Sanne Huisman"));

    // Choosing whom to act for: only someone represented.
    let token = csrf(&addr, "/patient/act-for", &father).await;
    let ok = post(
        &addr,
        "/patient/act-for",
        &father,
        &format!("csrf={}&patient={SANNE}", enc(&token)),
    )
    .await;
    assert_eq!(ok.status, 303);
    let set = ok
        .headers
        .iter()
        .find(|(k, v)| k.eq_ignore_ascii_case("set-cookie") && v.starts_with("zk_for="))
        .unwrap();
    assert!(
        set.1.contains("HttpOnly")
            && set.1.contains("Secure")
            && set.1.contains("SameSite=Strict")
            && set.1.contains("Path=/")
    );
    let other = post(
        &addr,
        "/patient/act-for",
        &father,
        &format!("csrf={}&patient={ANNA}", enc(&token)),
    )
    .await;
    assert_eq!(other.status, 403);
    let forged = post(
        &addr,
        "/patient/act-for",
        &father,
        &format!("patient={SANNE}"),
    )
    .await;
    assert_eq!(forged.status, 403, "no CSRF token, no change");
    // A cookie naming someone else is ignored: still Sanne's record.
    let tampered = get(
        &addr,
        "/patient/record",
        &format!("{father}; zk_for={ANNA}"),
    )
    .await;
    assert!(tampered.body.contains("Eczeem") && !tampered.body.contains("Diabetes"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_patient_cannot_open_another_patients_data_by_editing_urls() {
    let db = zorgkluis_testkit::sqlite();
    let (vault, addr) = world(&db).await;
    let anna = session(&addr, "patient.anna", false).await;
    for path in [
        format!("/staff/patients/{PIET}"),
        format!("/staff/patients/{PIET}/results/loinc-3016-3"),
        format!("/staff/patients/{PIET}/Condition/c-piet/history"),
        format!("/staff/patients/{PIET}/conditions/c-piet/edit"),
        format!("/staff/patients/{ANNA}"),
        format!("/staff/patients/{ANNA}/Condition/c-piet/history"),
        "/patient/results/loinc-3016-3".to_owned(),
        "/patient/results/..%2F..%2Fstaff".to_owned(),
    ] {
        let r = get(&addr, &path, &anna).await;
        assert_eq!(r.status, 403, "{path}: {}", r.body);
        assert!(r.body.contains("Geen toegang"), "{path}");
        assert!(
            !r.body.contains("break-glass"),
            "{path}: no emergency procedure for patients"
        );
        assert_no_leak(&r.body);
    }
    // Forms with another patient's id are refused too.
    let token = csrf(&addr, "/patient/details", &anna).await;
    let r = post(
        &addr,
        &format!("/staff/patients/{PIET}/conditions/new"),
        &anna,
        &format!("csrf={}&name=Nep&status=active", enc(&token)),
    )
    .await;
    assert_eq!(r.status, 403);
    let r = post(
        &addr,
        "/patient/act-for",
        &anna,
        &format!("csrf={}&patient={PIET}", enc(&token)),
    )
    .await;
    assert_eq!(r.status, 403);
    // The vault refused and logged the attempt on Piet's record.
    vault.flush_audit().await.unwrap();
    let events = vault
        .audit_for_patient(
            &Principal::operator("t", OperatorPurpose::AuditReview),
            PIET,
            1000,
        )
        .await
        .unwrap();
    assert!(events.iter().any(|e| {
        e.outcome == zorgkluis_audit::Outcome::Refused
            && e.object.resource_type.as_deref() == Some("Patient")
            && e.actor.display.as_deref() == Some("Patiënt patient.anna")
    }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pc12_patient_corrects_contact_details_and_each_change_is_a_version() {
    for db in all_backends().await {
        let (vault, addr) = world(&db).await;
        let anna = session(&addr, "patient.anna", false).await;
        let page = get(&addr, "/patient/details", &anna).await;
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(page.body.contains("••••••708"), "BSN masked");
        assert!(
            !page.body.contains("999996708"),
            "the BSN is never shown whole"
        );
        assert!(page.body.contains("value=\"0612345678\""));
        let token = page.hidden("csrf");

        // No CSRF token: refused, nothing changes.
        let forged = post(
            &addr,
            "/patient/details",
            &anna,
            "phone=0687654321&email=a%40b.nl&version=1",
        )
        .await;
        assert_eq!(forged.status, 403);
        // Bad input: clear messages, the form keeps what was typed, nothing changes.
        let bad = post(&addr, "/patient/details", &anna, &format!(
            "csrf={}&version=1&phone=06-12&email=anna%40&line=Lindelaan+1&postal_code=3841+AB&city=Harderwijk",
            enc(&token))).await;
        assert_eq!(bad.status, 400, "{}", bad.body);
        assert!(
            bad.body.contains("Het telefoonnummer klopt niet")
                && bad.body.contains("Het e-mailadres klopt niet")
        );
        assert!(bad.body.contains("aria-invalid=\"true\"") && bad.body.contains("value=\"anna@\""));
        assert_eq!(
            vault
                .history(&loader(), "Patient", ANNA)
                .await
                .unwrap()
                .len(),
            1
        );

        let ok = post(&addr, "/patient/details", &anna, &format!(
            "csrf={}&version=1&phone=06-87654321&email=anna.visser%40voorbeeld.nl&line=Kerkstraat+12&postal_code=3841ab&city=Harderwijk",
            enc(&token))).await;
        assert_eq!(ok.status, 303, "{}", ok.body);
        assert_eq!(
            ok.header("location"),
            Some("/patient/details?done=details-saved")
        );
        let versions = vault.history(&loader(), "Patient", ANNA).await.unwrap();
        assert_eq!(versions.len(), 2);
        let now = versions[0].resource.as_ref().unwrap();
        assert_eq!(now["telecom"][0]["value"], "06-87654321");
        assert_eq!(now["address"][0]["postalCode"], "3841 AB");
        assert_eq!(
            now["birthDate"], "1980-02-03",
            "only contact details change"
        );
        assert_eq!(now["identifier"][0]["value"], "999996708");

        let after = get(&addr, "/patient/details?done=details-saved", &anna).await;
        assert!(after.body.contains("opgeslagen als nieuwe versie"));
        let history = &after.body[after.body.find("h-versions").unwrap()..];
        assert!(history.contains(">2</td>") && history.contains(">1</td>"));
        assert!(history.contains("06-87654321") && history.contains("0612345678"));
        assert!(history.contains("Kerkstraat 12") && history.contains("Lindelaan 1"));
        assert!(
            history.contains("23-11-2026 10:00"),
            "dates in Dutch time: {history}"
        );

        // The same form again changes nothing, and a stale version is not overwritten.
        let same = post(&addr, "/patient/details", &anna, &format!(
            "csrf={}&version=2&phone=06-87654321&email=anna.visser%40voorbeeld.nl&line=Kerkstraat+12&postal_code=3841+AB&city=Harderwijk",
            enc(&token))).await;
        assert_eq!(
            same.header("location"),
            Some("/patient/details?done=unchanged")
        );
        let stale = post(
            &addr,
            "/patient/details",
            &anna,
            &format!(
                "csrf={}&version=1&phone=0611111111&email=&line=&postal_code=&city=",
                enc(&token)
            ),
        )
        .await;
        assert_eq!(stale.status, 409, "{}", stale.body);
        assert_eq!(
            vault
                .history(&loader(), "Patient", ANNA)
                .await
                .unwrap()
                .len(),
            2
        );
        vault.flush_audit().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gp7_staff_with_a_relationship_see_the_record_and_without_one_get_403_with_break_the_glass()
{
    let db = zorgkluis_testkit::sqlite();
    let (_vault, addr) = world(&db).await;
    let gp = session(&addr, "huisarts", true).await;
    let r = get(&addr, &format!("/staff/patients/{ANNA}"), &gp).await;
    assert_eq!(r.status, 200, "{}", r.body);
    for shown in [
        "Anna Visser",
        "Diabetes mellitus type 2",
        "Metformine 500 mg tablet",
        "Penicilline-allergie",
        "Consultverslag",
    ] {
        assert!(r.body.contains(shown), "{shown}");
    }
    assert!(r.body.contains(&format!(
        "href=\"/staff/patients/{ANNA}/results/loinc-2093-3\""
    )));
    assert!(r
        .body
        .contains(&format!("href=\"/staff/patients/{ANNA}/conditions/new\"")));
    assert!(
        !r.body.contains("Eigen stappen"),
        "the unlinked health log stays out"
    );
    let chart = get(
        &addr,
        &format!("/staff/patients/{ANNA}/results/loinc-2093-3"),
        &gp,
    )
    .await;
    assert_eq!(chart.status, 200);
    assert!(chart.body.contains("<svg") && chart.body.contains("<table>"));
    assert!(chart
        .body
        .contains(&format!("/staff/patients/{ANNA}/Observation/ob-3/history")));

    // Without a relationship: refused, with the way to the emergency procedure.
    let stranger = session(&addr, "vreemde", true).await;
    let refused = get(&addr, &format!("/staff/patients/{ANNA}"), &stranger).await;
    assert_eq!(refused.status, 403);
    assert!(refused
        .body
        .contains(&format!("href=\"/staff/patients/{ANNA}/break-glass\"")));
    assert!(!refused.body.contains("Diabetes") && !refused.body.contains("Anna"));
    let refused = get(
        &addr,
        &format!("/staff/patients/{ANNA}/results/loinc-2093-3"),
        &stranger,
    )
    .await;
    assert_eq!(refused.status, 403);
    assert!(!refused.body.contains("5,8"));

    // The assistant sees what the role may read; the rest says it is withheld.
    let assistant = session(&addr, "assistent", true).await;
    let r = get(&addr, &format!("/staff/patients/{ANNA}"), &assistant).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("Metformine 500 mg tablet") && r.body.contains("Penicilline-allergie"));
    assert!(!r.body.contains("Diabetes mellitus type 2") && !r.body.contains("5,8 mmol/L"));
    assert!(r.body.contains("Niet getoond"));
    assert!(!r.body.contains("/conditions/new"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn co8_staff_entries_are_versions_with_their_author_and_a_role_without_the_right_is_refused()
{
    for db in all_backends().await {
        let (vault, addr) = world(&db).await;
        let gp = session(&addr, "huisarts", true).await;
        let base = format!("/staff/patients/{ANNA}");
        let token = csrf(&addr, &format!("{base}/conditions/new"), &gp).await;

        // CSRF first.
        let forged = post(
            &addr,
            &format!("{base}/conditions/new"),
            &gp,
            "name=Astma&status=active",
        )
        .await;
        assert_eq!(forged.status, 403);
        // A clear message for a missing name.
        let bad = post(
            &addr,
            &format!("{base}/conditions/new"),
            &gp,
            &format!("csrf={}&name=&status=active", enc(&token)),
        )
        .await;
        assert_eq!(bad.status, 400);
        assert!(bad.body.contains("Vul de naam van de aandoening in"));

        let created = post(&addr, &format!("{base}/conditions/new"), &gp, &format!(
            "csrf={}&name=Astma&code=195967001&status=active&onset=2026-11-01&note=Klachten+bij+inspanning",
            enc(&token))).await;
        assert_eq!(created.status, 303, "{}", created.body);
        assert_eq!(
            created.header("location"),
            Some(format!("{base}?done=condition-saved").as_str())
        );
        let q = zorgkluis_vault::SearchQuery::parse(
            "Condition",
            &[
                ("patient".into(), ANNA.into()),
                ("code".into(), "195967001".into()),
            ],
        )
        .unwrap();
        let hits = vault.search(&loader(), &q).await.unwrap().hits;
        assert_eq!(hits.len(), 1);
        let c = hits[0].resource.as_ref().unwrap();
        assert_eq!(c["recorder"]["reference"], "Practitioner/dr");
        assert_eq!(c["asserter"]["display"], "Test huisarts");
        assert_eq!(c["note"][0]["text"], "Klachten bij inspanning");
        let cid = hits[0].id.clone();

        // Changing it: resolved, with a note; a new version with its author.
        let edit = format!("{base}/conditions/{cid}/edit");
        let token = csrf(&addr, &edit, &gp).await;
        let changed = post(
            &addr,
            &edit,
            &gp,
            &format!(
                "csrf={}&version=1&status=resolved&abatement=2026-11-20&note=Geen+klachten+meer",
                enc(&token)
            ),
        )
        .await;
        assert_eq!(changed.status, 303, "{}", changed.body);
        let versions = vault.history(&loader(), "Condition", &cid).await.unwrap();
        assert_eq!(versions.len(), 2);
        let v2 = versions[0].resource.as_ref().unwrap();
        assert_eq!(v2["clinicalStatus"]["coding"][0]["code"], "resolved");
        assert_eq!(v2["abatementDateTime"], "2026-11-20");
        assert_eq!(v2["note"][1]["text"], "Geen klachten meer");
        // A stale form does not overwrite the newer version.
        let stale = post(
            &addr,
            &edit,
            &gp,
            &format!("csrf={}&version=1&status=active", enc(&token)),
        )
        .await;
        assert_eq!(stale.status, 409);

        let history = get(&addr, &format!("{base}/Condition/{cid}/history"), &gp).await;
        assert_eq!(history.status, 200, "{}", history.body);
        assert!(history.body.contains(">2</td>") && history.body.contains(">1</td>"));
        let table = &history.body[history.body.find("<table").unwrap()..];
        assert_eq!(table.matches("Test huisarts").count(), 2, "{table}");
        assert!(history.body.contains("over") && history.body.contains("Geen klachten meer"));

        // A measurement with a unit; the chart page of the test follows.
        let token = csrf(&addr, &format!("{base}/observations/new"), &gp).await;
        let measured = post(
            &addr,
            &format!("{base}/observations/new"),
            &gp,
            &format!(
                "csrf={}&kind=cholesterol&value=6%2C1&date=2026-11-22",
                enc(&token)
            ),
        )
        .await;
        assert_eq!(measured.status, 303, "{}", measured.body);
        assert_eq!(
            measured.header("location"),
            Some(format!("{base}/results/loinc-2093-3?done=observation-saved").as_str())
        );
        let q = zorgkluis_vault::SearchQuery::parse(
            "Observation",
            &[
                ("patient".into(), ANNA.into()),
                ("date".into(), "2026-11-22".into()),
            ],
        )
        .unwrap();
        let hits = vault.search(&loader(), &q).await.unwrap().hits;
        assert_eq!(hits.len(), 1);
        let o = hits[0].resource.as_ref().unwrap();
        assert_eq!(o["valueQuantity"]["value"].to_string(), "6.1");
        assert_eq!(o["valueQuantity"]["unit"], "mmol/L");
        assert_eq!(o["performer"][0]["reference"], "Practitioner/dr");
        assert_eq!(o["interpretation"][0]["coding"][0]["code"], "H");
        let bad = post(
            &addr,
            &format!("{base}/observations/new"),
            &gp,
            &format!("csrf={}&kind=blood-pressure&value=135", enc(&token)),
        )
        .await;
        assert_eq!(bad.status, 400);
        assert!(bad.body.contains("135/85"));
        // Something not in the list: its own name and unit, and its own chart page.
        let other = post(
            &addr,
            &format!("{base}/observations/new"),
            &gp,
            &format!(
                "csrf={}&kind=other&name=Buikomvang&unit=cm&value=98&date=2026-11-22",
                enc(&token)
            ),
        )
        .await;
        assert_eq!(other.status, 303, "{}", other.body);
        let page = other.header("location").unwrap().to_owned();
        assert!(page.starts_with(&format!("{base}/results/text-")), "{page}");
        let shown = get(&addr, &page, &gp).await;
        assert_eq!(shown.status, 200);
        assert!(shown.body.contains("Buikomvang") && shown.body.contains("98 cm"));
        assert!(shown.body.contains("De meting is vastgelegd."));

        // The assistant may not enter conditions (role defaults): no form, and the vault
        // refuses the post.
        let assistant = session(&addr, "assistent", true).await;
        let form = get(&addr, &format!("{base}/conditions/new"), &assistant).await;
        assert_eq!(form.status, 403);
        let token = csrf(&addr, &base, &assistant).await;
        let refused = post(
            &addr,
            &format!("{base}/conditions/new"),
            &assistant,
            &format!("csrf={}&name=Nep&status=active", enc(&token)),
        )
        .await;
        assert_eq!(refused.status, 403, "{}", refused.body);
        let q = zorgkluis_vault::SearchQuery::parse(
            "Condition",
            &[
                ("patient".into(), ANNA.into()),
                ("_count".into(), "100".into()),
            ],
        )
        .unwrap();
        let all = vault.search(&loader(), &q).await.unwrap().hits;
        assert!(all
            .iter()
            .all(|s| s.resource.as_ref().unwrap()["code"]["text"] != "Nep"));
        let edit = get(
            &addr,
            &format!("{base}/conditions/c-diabetes/edit"),
            &assistant,
        )
        .await;
        assert_eq!(edit.status, 403);
        vault.flush_audit().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_pages_render_in_english_and_dutch() {
    let db = zorgkluis_testkit::sqlite();
    let (_vault, addr) = world(&db).await;
    let anna = session(&addr, "patient.anna", false).await;
    let english = format!("{anna}; zk_lang=en");
    let dutch = format!("{anna}; zk_lang=nl");
    for (path, en, nl) in [
        (
            "/patient",
            "Here you find your record",
            "Hier vindt u uw dossier",
        ),
        (
            "/patient/record",
            "Conditions and problems",
            "Aandoeningen en problemen",
        ),
        ("/patient/results", "Lab results", "Laboratoriumuitslagen"),
        (
            "/patient/results/loinc-2093-3",
            "All values, newest first",
            "Alle waarden, nieuwste eerst",
        ),
        (
            "/patient/documents",
            "Leaflets about your conditions",
            "Folders over uw aandoeningen",
        ),
        (
            "/patient/details",
            "Correct your contact details",
            "Contactgegevens verbeteren",
        ),
    ] {
        let e = get(&addr, path, &english).await;
        assert_eq!(e.status, 200, "{path}");
        assert!(
            e.body.contains("lang=\"en\"") && e.body.contains(en),
            "{path} in English"
        );
        let n = get(&addr, path, &dutch).await;
        assert!(
            n.body.contains("lang=\"nl\"") && n.body.contains(nl),
            "{path} in Dutch"
        );
        for body in [&e.body, &n.body] {
            assert!(!untranslated(body), "{path}: an untranslated key");
        }
    }
    // English shows the codes' English names where the record has them.
    let e = get(&addr, "/patient/record", &english).await;
    assert!(e.body.contains("Allergy to penicillin"));
    let e = get(&addr, "/patient/results", &english).await;
    assert!(e.body.contains("5.8 mmol/L") && e.body.contains(">high<"));
    let gp = session(&addr, "huisarts", true).await;
    let staff = get(
        &addr,
        &format!("/staff/patients/{ANNA}"),
        &format!("{gp}; zk_lang=en"),
    )
    .await;
    assert!(staff.body.contains("New condition") && staff.body.contains("Care team"));
}
