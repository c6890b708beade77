//! The patient's own part of the portal over real HTTP against the real server: the
//! health log (PC-1, PC-3), links with care providers (PC-2), personal notes (HP-4+),
//! "who viewed my record" (Wabvpz 15e) and the public privacy statement (PC-14, HP-11).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::{json, Value};
use zorgkluis_policy::StaffRole;
use zorgkluis_vault::{OperatorPurpose, Principal, Vault};

const PRACTICE: &str = "Huisartsenpraktijk De Linde";

fn loader() -> Principal {
    Principal::operator("t", OperatorPurpose::Load)
}

async fn put(vault: &Vault, resource: Value) {
    let rt = resource["resourceType"].as_str().unwrap().to_owned();
    let id = resource["id"].as_str().unwrap().to_owned();
    vault
        .update(&loader(), &rt, &id, resource, None)
        .await
        .unwrap();
}

/// A GP practice and a physiotherapy practice; a practice nurse in the care team of two
/// patients; a GP of the same practice without any relationship (for the emergency
/// procedure); both patients have an account.
async fn world() -> (zorgkluis_testkit::TestDb, Vault, String) {
    let db = zorgkluis_testkit::sqlite();
    let vault = open_vault(&db).await;
    org(&vault, "gp", "gp_practice").await;
    org(&vault, "physio", "physio_practice").await;
    for (id, name, kind) in [
        ("gp", PRACTICE, "gp_practice"),
        ("physio", "Fysiotherapie Veluwezoom", "physio_practice"),
    ] {
        put(
            &vault,
            json!({"resourceType": "Organization", "id": id, "name": name, "active": true,
                   "type": [{"coding": [{"system": "urn:zorgkluis:organisation-kind", "code": kind}]}]}),
        )
        .await;
    }
    for p in ["nurse-pr", "dr2"] {
        put(&vault, json!({"resourceType": "Practitioner", "id": p})).await;
    }
    for (id, family, given) in [("p1", "Visser", "Anna"), ("p2", "de Boer", "Bram")] {
        put(
            &vault,
            json!({"resourceType": "Patient", "id": id, "birthDate": "1980-02-03",
                   "name": [{"family": family, "given": [given]}]}),
        )
        .await;
        put(
            &vault,
            json!({"resourceType": "CareTeam", "id": format!("team-{id}"), "status": "active",
                   "subject": {"reference": format!("Patient/{id}")},
                   "participant": [{"member": {"reference": "Practitioner/nurse-pr"}, "onBehalfOf": {"reference": "Organization/gp"}}],
                   "managingOrganization": [{"reference": "Organization/gp"}]}),
        )
        .await;
    }
    staff(
        &vault,
        "poh",
        "gp",
        StaffRole::PracticeNurse,
        "nurse-pr",
        true,
    )
    .await;
    staff(&vault, "huisarts2", "gp", StaffRole::Gp, "dr2", true).await;
    patient_account(&vault, "patient1", "p1").await;
    patient_account(&vault, "patient2", "p2").await;
    let addr = serve(&vault).await;
    (db, vault, addr)
}

async fn get(addr: &str, path: &str, cookie: &str) -> Reply {
    http(addr, "GET", path, cookie, None).await
}

async fn post(addr: &str, path: &str, cookie: &str, form: &str) -> Reply {
    http(addr, "POST", path, cookie, Some(form)).await
}

fn english(cookie: &str) -> String {
    format!("{cookie}; zk_lang=en")
}

/// The first id in a link `/prefix/{id}/suffix` on a page.
fn id_in(body: &str, prefix: &str, suffix: &str) -> String {
    let start = body
        .find(prefix)
        .unwrap_or_else(|| panic!("no {prefix} in {body}"))
        + prefix.len();
    let rest = &body[start..];
    rest[..rest.find(suffix).unwrap()].to_owned()
}

/// The id of patient 1's entry with this LOINC code on this date.
async fn entry_id(vault: &Vault, code: &str, date: &str) -> String {
    let found = vault
        .search(
            &as_user(vault, "patient1").await,
            &zorgkluis_vault::SearchQuery::parse(
                "Observation",
                &[
                    ("patient".to_owned(), "p1".to_owned()),
                    ("code".to_owned(), format!("http://loinc.org|{code}")),
                    ("date".to_owned(), date.to_owned()),
                ],
            )
            .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(found.total, 1);
    found.hits[0].id.clone()
}

async fn as_user(vault: &Vault, login: &str) -> Principal {
    vault
        .principal_for_login(login, "127.0.0.1")
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pc1_pc3_health_log_entries_are_charted_and_every_change_and_deletion_is_kept() {
    let (_db, vault, addr) = world().await;
    let me = session(&addr, "patient1", false).await;

    let empty = get(&addr, "/patient/log", &me).await;
    assert_eq!(empty.status, 200);
    assert!(empty.body.contains("Mijn gezondheidsdagboek"));
    assert!(empty.body.contains("U hebt nog niets bijgehouden"));
    let csrf = empty.hidden("csrf");

    let choose = get(&addr, "/patient/log/new", &me).await;
    assert!(choose.body.contains("/patient/log/new?kind=blood-pressure"));
    let form = get(&addr, "/patient/log/new?kind=weight", &me).await;
    assert_eq!(form.status, 200);
    assert!(form.body.contains("name=\"value\"") && form.body.contains("type=\"date\""));

    // Entering: a decimal comma is fine; out of range is refused with a clear message.
    let c = enc(&csrf);
    let saved = post(
        &addr,
        "/patient/log/new",
        &me,
        &format!("csrf={c}&kind=weight&date=2026-11-01&value=81%2C5"),
    )
    .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    assert!(saved
        .header("location")
        .unwrap()
        .starts_with("/patient/log?done=saved"));
    let second = post(
        &addr,
        "/patient/log/new",
        &me,
        &format!("csrf={c}&kind=weight&date=2026-11-10&value=80.9"),
    )
    .await;
    assert_eq!(second.status, 303);
    let bp = post(
        &addr,
        "/patient/log/new",
        &me,
        &format!("csrf={c}&kind=blood-pressure&date=2026-11-10&value=135&value2=85"),
    )
    .await;
    assert_eq!(bp.status, 303);
    let too_heavy = post(
        &addr,
        "/patient/log/new",
        &me,
        &format!("csrf={c}&kind=weight&date=2026-11-11&value=500"),
    )
    .await;
    assert_eq!(too_heavy.status, 400);
    assert!(
        too_heavy
            .body
            .contains("Gewicht moet tussen 1 en 400 kg liggen"),
        "{}",
        too_heavy.body
    );
    assert!(
        too_heavy.body.contains("value=\"500\""),
        "the form keeps what was typed"
    );
    let future = post(
        &addr,
        "/patient/log/new",
        &me,
        &format!("csrf={c}&kind=mood&date=2026-12-01&value=3"),
    )
    .await;
    assert_eq!(future.status, 400);
    assert!(future.body.contains("toekomst"));
    let bad_bp = post(
        &addr,
        "/patient/log/new",
        &me,
        &format!("csrf={c}&kind=blood-pressure&date=2026-11-10&value=80&value2=120"),
    )
    .await;
    assert_eq!(bad_bp.status, 400);
    assert!(bad_bp.body.contains("bovendruk moet hoger"));
    // Without the CSRF token nothing is stored.
    let forged = post(
        &addr,
        "/patient/log/new",
        &me,
        "kind=weight&date=2026-11-12&value=70",
    )
    .await;
    assert_eq!(forged.status, 403);

    // The log: latest values, an SVG chart per kind (blood pressure as two lines) and a
    // table of the same values.
    let log = get(&addr, "/patient/log?done=saved", &me).await;
    assert_eq!(log.status, 200);
    assert!(log.body.contains("Uw meting is opgeslagen."));
    assert!(log
        .body
        .contains("<figure class=\"chart\"><svg role=\"img\""));
    assert!(log.body.contains("Gewicht (kg)") && log.body.contains("81,5 kg"));
    assert!(log.body.contains("80,9 kg") && log.body.contains("135/85 mmHg"));
    assert!(log.body.contains("Bovendruk") && log.body.contains("Onderdruk"));
    assert!(
        !log.body.contains("70 kg"),
        "the forged entry was not stored"
    );
    assert!(!log.body.contains("style="), "no inline styles (CSP)");
    let en = get(&addr, "/patient/log", &english(&me)).await;
    assert!(en.body.contains("My health log") && en.body.contains("81.5 kg"));

    // Change the first weight, then delete it: every version stays and is shown.
    let weight_id = entry_id(&vault, "29463-7", "2026-11-01").await;
    let bp_id = entry_id(&vault, "85354-9", "2026-11-10").await;
    assert!(log.body.contains(&format!("/patient/log/{weight_id}/edit")));
    let edit = get(&addr, &format!("/patient/log/{weight_id}/edit"), &me).await;
    assert_eq!(edit.status, 200);
    assert!(edit.body.contains("value=\"81,5\"") && edit.body.contains("value=\"2026-11-01\""));
    let changed = post(
        &addr,
        &format!("/patient/log/{weight_id}/edit"),
        &me,
        &format!("csrf={c}&kind=weight&date=2026-11-01&value=82&version=1"),
    )
    .await;
    assert_eq!(changed.status, 303, "{}", changed.body);
    // A second change based on the old version is refused, not lost silently.
    let stale = post(
        &addr,
        &format!("/patient/log/{weight_id}/edit"),
        &me,
        &format!("csrf={c}&kind=weight&date=2026-11-01&value=83&version=1"),
    )
    .await;
    assert_eq!(stale.status, 400);
    assert!(stale.body.contains("intussen gewijzigd"));
    let confirm = get(&addr, &format!("/patient/log/{weight_id}/delete"), &me).await;
    assert_eq!(confirm.status, 200);
    assert!(confirm.body.contains("Weet u zeker") && confirm.body.contains("82 kg"));
    let no_csrf = post(&addr, &format!("/patient/log/{weight_id}/delete"), &me, "").await;
    assert_eq!(no_csrf.status, 403);
    let deleted = post(
        &addr,
        &format!("/patient/log/{weight_id}/delete"),
        &me,
        &format!("csrf={c}"),
    )
    .await;
    assert_eq!(deleted.status, 303);
    let log = get(&addr, "/patient/log", &me).await;
    assert!(!log.body.contains("82 kg") && log.body.contains("80,9 kg"));

    let history = get(&addr, &format!("/patient/log/{weight_id}/history"), &me).await;
    assert_eq!(history.status, 200, "{}", history.body);
    for text in ["81,5 kg", "82 kg", "Verwijderd", "01-11-2026"] {
        assert!(
            history.body.contains(text),
            "history shows {text}: {}",
            history.body
        );
    }
    assert_eq!(
        history.body.matches("<td class=\"num\">").count(),
        3,
        "three versions"
    );
    let gone = get(&addr, "/patient/log/deleted", &me).await;
    assert_eq!(gone.status, 200);
    assert!(gone
        .body
        .contains(&format!("/patient/log/{weight_id}/history")));
    assert!(gone.body.contains("82 kg"));

    // Another patient's item: the refusal page, nothing of the data.
    let other = session(&addr, "patient2", false).await;
    let other_csrf = get(&addr, "/patient/log", &other).await.hidden("csrf");
    for path in [
        format!("/patient/log/{bp_id}/edit"),
        format!("/patient/log/{bp_id}/history"),
        format!("/patient/log/{bp_id}/delete"),
        format!("/patient/log/{weight_id}/history"),
    ] {
        let r = get(&addr, &path, &other).await;
        assert_eq!(r.status, 403, "{path}");
        assert!(r.body.contains("Geen toegang"));
        assert!(
            !r.body.contains("135") && !r.body.contains("81,5"),
            "{path}"
        );
    }
    let r = post(
        &addr,
        &format!("/patient/log/{bp_id}/edit"),
        &other,
        &format!(
            "csrf={}&kind=blood-pressure&date=2026-11-10&value=120&value2=80",
            enc(&other_csrf)
        ),
    )
    .await;
    assert_eq!(r.status, 403);
    let r = post(
        &addr,
        &format!("/patient/log/{bp_id}/delete"),
        &other,
        &format!("csrf={}", enc(&other_csrf)),
    )
    .await;
    assert_eq!(r.status, 403);
    assert!(get(&addr, "/patient/log", &me)
        .await
        .body
        .contains("135/85 mmHg"));
    // A member of staff has no health log of their own.
    let nurse = session(&addr, "poh", true).await;
    assert_eq!(get(&addr, "/patient/log", &nurse).await.status, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pc2_link_requested_accepted_read_and_revoked_stops_access_at_once() {
    let (_db, vault, addr) = world().await;
    let me = session(&addr, "patient1", false).await;
    let csrf = enc(&get(&addr, "/patient/log", &me).await.hidden("csrf"));
    let r = post(
        &addr,
        "/patient/log/new",
        &me,
        &format!("csrf={csrf}&kind=steps&date=2026-11-20&value=8512"),
    )
    .await;
    assert_eq!(r.status, 303);
    let patient = as_user(&vault, "patient1").await;
    let steps_id = vault
        .search(
            &patient,
            &zorgkluis_vault::SearchQuery::parse(
                "Observation",
                &[("patient".to_owned(), "p1".to_owned())],
            )
            .unwrap(),
        )
        .await
        .unwrap()
        .hits[0]
        .id
        .clone();
    let nurse_principal = as_user(&vault, "poh").await;
    assert!(
        vault
            .read(&nurse_principal, "Observation", &steps_id)
            .await
            .is_err(),
        "no link: the care team does not see the health log"
    );

    let links = get(&addr, "/patient/links", &me).await;
    assert_eq!(links.status, 200);
    assert!(links.body.contains("U hebt nog geen koppelingen"));
    assert!(links.body.contains("<optgroup label=\"Uw zorgteam\">"));
    assert!(links
        .body
        .contains(&format!("{PRACTICE} (huisartsenpraktijk)")));
    let no_csrf = post(&addr, "/patient/links", &me, "organisation=gp").await;
    assert_eq!(no_csrf.status, 403);
    let bad = post(
        &addr,
        "/patient/links",
        &me,
        &format!("csrf={csrf}&organisation=nowhere"),
    )
    .await;
    assert!(bad.body.contains("Kies een zorgverlener uit de lijst"));
    let asked = post(
        &addr,
        "/patient/links",
        &me,
        &format!("csrf={csrf}&organisation=gp"),
    )
    .await;
    assert_eq!(asked.status, 303, "{}", asked.body);
    let links = get(&addr, "/patient/links?done=requested", &me).await;
    assert!(links.body.contains("status-requested") && links.body.contains("Aangevraagd"));
    assert!(
        links.body.contains("23-11-2026 10:00"),
        "requested on, Dutch time"
    );
    let twice = post(
        &addr,
        "/patient/links",
        &me,
        &format!("csrf={csrf}&organisation=gp"),
    )
    .await;
    assert!(twice.body.contains("al een koppeling"));
    assert!(
        vault
            .read(&nurse_principal, "Observation", &steps_id)
            .await
            .is_err(),
        "requested is not accepted"
    );

    // The practice nurse sees the request for her organisation and accepts it.
    let nurse = session(&addr, "poh", true).await;
    let inbox = get(&addr, "/staff/links", &nurse).await;
    assert_eq!(inbox.status, 200, "{}", inbox.body);
    assert!(inbox.body.contains("Anna Visser") && inbox.body.contains("03-02-1980"));
    let link_id = id_in(&inbox.body, "/staff/links/", "/accept");
    let nurse_csrf = enc(&inbox.hidden("csrf"));
    let forged = post(&addr, &format!("/staff/links/{link_id}/accept"), &nurse, "").await;
    assert_eq!(forged.status, 403);
    let patient_cannot = post(
        &addr,
        &format!("/staff/links/{link_id}/accept"),
        &me,
        &format!("csrf={csrf}"),
    )
    .await;
    assert_eq!(
        patient_cannot.status, 403,
        "a patient does not accept their own link"
    );
    let accepted = post(
        &addr,
        &format!("/staff/links/{link_id}/accept"),
        &nurse,
        &format!("csrf={nurse_csrf}"),
    )
    .await;
    assert_eq!(accepted.status, 303, "{}", accepted.body);
    let inbox = get(&addr, "/staff/links?done=accepted", &nurse).await;
    assert!(inbox.body.contains("Er zijn geen open verzoeken"));
    assert!(inbox.body.contains("Actieve koppelingen") && inbox.body.contains("Anna Visser"));
    let again = post(
        &addr,
        &format!("/staff/links/{link_id}/decline"),
        &nurse,
        &format!("csrf={nurse_csrf}"),
    )
    .await;
    assert_eq!(again.status, 400, "a handled request is not handled twice");

    let read = vault
        .read(&nurse_principal, "Observation", &steps_id)
        .await
        .expect("accepted: the provider reads the health log");
    assert_eq!(
        read.resource.unwrap()["valueQuantity"]["value"],
        json!(8512)
    );
    let links = get(&addr, "/patient/links", &me).await;
    assert!(
        links.body.contains("Geaccepteerd")
            && links.body.contains("Test poh (praktijkondersteuner)")
    );

    // Another patient cannot end this link.
    let other = session(&addr, "patient2", false).await;
    let other_csrf = enc(&get(&addr, "/patient/links", &other).await.hidden("csrf"));
    let r = post(
        &addr,
        &format!("/patient/links/{link_id}/revoke"),
        &other,
        &format!("csrf={other_csrf}"),
    )
    .await;
    assert_eq!(r.status, 403);
    assert!(vault
        .read(&nurse_principal, "Observation", &steps_id)
        .await
        .is_ok());

    // The patient ends it: the provider's very next read is refused.
    let ended = post(
        &addr,
        &format!("/patient/links/{link_id}/revoke"),
        &me,
        &format!("csrf={csrf}"),
    )
    .await;
    assert_eq!(ended.status, 303);
    assert!(matches!(
        vault.read(&nurse_principal, "Observation", &steps_id).await,
        Err(zorgkluis_vault::VaultError::Forbidden)
    ));
    let fhir = request(
        &addr,
        "GET",
        &format!("/fhir/Observation/{steps_id}"),
        &[("Cookie", &nurse), ("Accept", "application/fhir+json")],
        b"",
    )
    .await;
    assert_eq!(fhir.status, 403, "not through the API either");
    let links = get(&addr, "/patient/links?done=revoked", &me).await;
    assert!(links.body.contains("Beëindigd") && links.body.contains("status-revoked"));
    assert!(links
        .body
        .contains("kan uw dagboek vanaf nu niet meer zien"));
    let en = get(&addr, "/patient/links", &english(&me)).await;
    assert!(en.body.contains("Links with care providers") && en.body.contains("Ended"));
    assert_eq!(
        vault
            .history(&patient, "Consent", &link_id)
            .await
            .unwrap()
            .len(),
        3,
        "requested, accepted, ended: every step a version"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hp4_personal_notes_are_readable_by_the_patient_alone_through_every_url() {
    let (_db, vault, addr) = world().await;
    let me = session(&addr, "patient1", false).await;
    const NOTE: &str = "Vragen voor de huisarts: slaap ik slechter door de nieuwe pillen?";

    let page = get(&addr, "/patient/notes", &me).await;
    assert_eq!(page.status, 200);
    assert_eq!(page.header("cache-control"), Some("no-store"));
    assert!(page.body.contains("Alleen u kunt deze notities lezen"));
    assert!(page.body.contains("herstelsleutel kwijt"));
    let csrf = enc(&page.hidden("csrf"));
    let new_id = page.hidden("new_id");

    // The lock is made with the account's password only.
    let wrong = post(
        &addr,
        "/patient/notes/write",
        &me,
        &format!(
            "csrf={csrf}&new_id={new_id}&password=een-ander-wachtwoord-9&text={}",
            enc(NOTE)
        ),
    )
    .await;
    assert_eq!(wrong.status, 400);
    assert!(wrong.body.contains("Dat wachtwoord klopt niet"));
    assert!(!wrong.body.contains("class=\"recovery-key\""));
    let written = post(
        &addr,
        "/patient/notes/write",
        &me,
        &format!(
            "csrf={csrf}&new_id={new_id}&password={}&text={}",
            enc(PASSWORD),
            enc(NOTE)
        ),
    )
    .await;
    assert_eq!(written.status, 200, "{}", written.body);
    assert_eq!(written.header("cache-control"), Some("no-store"));
    assert!(written.body.contains(NOTE));
    let key_start = written
        .body
        .find("<p class=\"recovery-key\">")
        .expect("the recovery key, once")
        + "<p class=\"recovery-key\">".len();
    let recovery = written.body[key_start..]
        .split('<')
        .next()
        .unwrap()
        .to_owned();
    assert!(recovery.len() > 50, "{recovery}");
    assert!(written.body.contains("maar één keer"));

    // Opening needs the password each time; a wrong one shows nothing.
    let opened = post(
        &addr,
        "/patient/notes",
        &me,
        &format!("csrf={csrf}&password={}", enc(PASSWORD)),
    )
    .await;
    assert_eq!(opened.status, 200);
    assert!(opened.body.contains(NOTE) && !opened.body.contains("class=\"recovery-key\""));
    let refused = post(
        &addr,
        "/patient/notes",
        &me,
        &format!("csrf={csrf}&password=niet-mijn-wachtwoord-1"),
    )
    .await;
    assert_eq!(refused.status, 400);
    assert!(!refused.body.contains(NOTE));
    assert!(
        !get(&addr, "/patient/notes", &me).await.body.contains(NOTE),
        "never without the password"
    );
    let forged = post(
        &addr,
        "/patient/notes",
        &me,
        &format!("password={}", enc(PASSWORD)),
    )
    .await;
    assert_eq!(forged.status, 403);

    // The nurse (in the patient's care team) reaches the note
    // through no portal URL and not through the API.
    let note_id = vault
        .personal_notes(&as_user(&vault, "patient1").await, PASSWORD)
        .await
        .unwrap()[0]
        .id
        .clone();
    let nurse = session(&addr, "poh", true).await;
    let nurse_csrf = enc(&get(&addr, "/staff/links", &nurse).await.hidden("csrf"));
    for r in [
        get(&addr, "/patient/notes", &nurse).await,
        post(
            &addr,
            "/patient/notes",
            &nurse,
            &format!("csrf={nurse_csrf}&password={}", enc(PASSWORD)),
        )
        .await,
        post(
            &addr,
            "/patient/notes/recover",
            &nurse,
            &format!(
                "csrf={nurse_csrf}&password={}&recovery_key={}",
                enc(PASSWORD),
                enc(&recovery)
            ),
        )
        .await,
        post(
            &addr,
            "/patient/notes/write",
            &nurse,
            &format!(
                "csrf={nurse_csrf}&password={}&note_id={note_id}&text=x",
                enc(PASSWORD)
            ),
        )
        .await,
    ] {
        assert_eq!(r.status, 403);
        assert!(!r.body.contains(NOTE));
    }
    let api = |path: String| {
        let addr = addr.clone();
        let nurse = nurse.clone();
        async move {
            request(
                &addr,
                "GET",
                &path,
                &[("Cookie", &nurse), ("Accept", "application/fhir+json")],
                b"",
            )
            .await
        }
    };
    let basic = api(format!("/fhir/Basic/{note_id}")).await;
    assert_eq!(basic.status, 403, "{}", basic.body);
    let history = api(format!("/fhir/Basic/{note_id}/_history")).await;
    assert_eq!(history.status, 403);
    let search = api("/fhir/Basic?patient=p1".into()).await;
    assert_eq!(search.status, 200);
    assert!(!search.body.contains(&note_id), "{}", search.body);
    let everything = api("/fhir/Patient/p1/$everything".into()).await;
    assert!(!everything.body.contains(&note_id) && !everything.body.contains("sealed-note"));
    // The patient's representative-free account sees it is theirs: the audit trail shows
    // the nurse's refused attempts, not the note.
    assert!(!get(&addr, "/patient/access-log", &me)
        .await
        .body
        .contains(NOTE));

    // A lost password: the recovery key (with the current password) opens them again.
    let bad_key = post(
        &addr,
        "/patient/notes/recover",
        &me,
        &format!(
            "csrf={csrf}&password={}&recovery_key=AAAA-BBBB",
            enc(PASSWORD)
        ),
    )
    .await;
    assert_eq!(bad_key.status, 400);
    assert!(bad_key.body.contains("herstelsleutel klopt niet"));
    let recovered = post(
        &addr,
        "/patient/notes/recover",
        &me,
        &format!(
            "csrf={csrf}&password={}&recovery_key={}",
            enc(PASSWORD),
            enc(&recovery.to_lowercase())
        ),
    )
    .await;
    assert_eq!(recovered.status, 200, "{}", recovered.body);
    assert!(recovered.body.contains(NOTE) && recovered.body.contains("hersteld"));
    let en = get(&addr, "/patient/notes", &english(&me)).await;
    assert!(en.body.contains("Only you can read these notes"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wabvpz15e_access_log_shows_who_why_and_highlights_emergency_access_with_its_reason() {
    let (_db, vault, addr) = world().await;
    const REASON: &str = "Bewusteloos binnengebracht op de huisartsenpost";
    // The practice nurse (care team) opens the record through the API.
    let nurse = session(&addr, "poh", true).await;
    for path in ["/fhir/Patient/p1", "/fhir/CareTeam?patient=p1"] {
        let r = request(
            &addr,
            "GET",
            path,
            &[("Cookie", &nurse), ("Accept", "application/fhir+json")],
            b"",
        )
        .await;
        assert_eq!(r.status, 200, "{path}: {}", r.body);
    }
    put(
        &vault,
        json!({"resourceType": "Observation", "id": "hba1c-p1", "status": "final",
               "code": {"coding": [{"system": "http://loinc.org", "code": "4548-4"}]},
               "subject": {"reference": "Patient/p1"}, "effectiveDateTime": "2026-10-01",
               "valueQuantity": {"value": 48, "unit": "mmol/mol"}}),
    )
    .await;
    // A GP without a relationship: refused, then the emergency procedure with a reason.
    let gp = as_user(&vault, "huisarts2").await;
    assert!(vault.read(&gp, "Patient", "p1").await.is_err());
    vault.break_glass(&gp, "p1", REASON).await.unwrap();
    vault.read(&gp, "Patient", "p1").await.unwrap();
    vault.read(&gp, "Observation", "hba1c-p1").await.unwrap();

    let me = session(&addr, "patient1", false).await;
    let page = get(&addr, "/patient/access-log", &me).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let body = &page.body;
    for text in [
        "Wie keek mee",
        "Test poh",
        "praktijkondersteuner",
        PRACTICE,
        "Behandeling",
        "Bekeken: persoonsgegevens",
        "Bekeken: uw zorgteam",
        "23-11-2026 10:00",
    ] {
        assert!(body.contains(text), "the access log shows {text}: {body}");
    }
    // The emergency access: in its own box at the top and highlighted in the list.
    let boxed = body
        .find("<section class=\"card emergency\"")
        .expect("emergency box");
    assert!(
        boxed < body.find("class=\"access-log\"").unwrap(),
        "the box comes first"
    );
    assert!(body.contains("Noodtoegang tot uw dossier"));
    assert!(body.contains("<tr class=\"emergency\">"));
    assert!(
        body.contains(REASON) && body.contains("Test huisarts2") && body.contains("Noodsituatie")
    );
    assert!(
        body.contains("Geweigerd: er is geen toegang gegeven"),
        "the refused attempt too"
    );
    // Identical reads in the same minute are one row with a count.
    assert!(body.contains("2 keer"), "{body}");

    // Reading the overview is itself in the overview.
    let again = get(&addr, "/patient/access-log", &me).await;
    assert!(
        again.body.contains("wie uw dossier inzag (dit overzicht)")
            && again.body.contains("Uw eigen inzage")
    );
    let en = get(&addr, "/patient/access-log", &english(&me)).await;
    for text in [
        "Who viewed my record",
        "practice nurse",
        "Treatment",
        "Emergency access to your record",
        REASON,
    ] {
        assert!(en.body.contains(text), "{text}");
    }
    // A period without events; a bad date is told, not an error.
    let none = get(
        &addr,
        "/patient/access-log?from=2020-01-01&to=2020-01-31",
        &me,
    )
    .await;
    assert_eq!(none.status, 200);
    assert!(none.body.contains("In deze periode heeft niemand"));
    let bad = get(&addr, "/patient/access-log?from=gisteren", &me).await;
    assert_eq!(bad.status, 200);
    assert!(bad.body.contains("Een van de datums klopt niet"));
    // Another patient sees only their own record's accesses.
    let other = session(&addr, "patient2", false).await;
    let theirs = get(&addr, "/patient/access-log", &other).await;
    assert!(!theirs.body.contains("Test huisarts2") && !theirs.body.contains(REASON));
    // Staff have no "who viewed my record" of a patient here.
    assert_eq!(get(&addr, "/patient/access-log", &nurse).await.status, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pc14_hp11_privacy_statement_is_public_with_version_date_and_earlier_versions() {
    let (_db, _vault, addr) = world().await;
    let nl = request(
        &addr,
        "GET",
        "/privacy-statement",
        &[("Accept-Language", "nl-NL")],
        b"",
    )
    .await;
    assert_eq!(nl.status, 200, "no login needed");
    for text in [
        "<h1>Privacyverklaring</h1>",
        "Versie 2026-11",
        "geldig vanaf 01-11-2026",
        PRACTICE,
        "artikel 9 lid 2 onder h AVG",
        "20 jaar na de laatste wijziging",
        "Joost van Dijk",
        "Autoriteit Persoonsgegevens",
        "href=\"/privacy-statement/2025-01\"",
    ] {
        assert!(nl.body.contains(text), "{text}");
    }
    assert!(!nl.body.contains("<script") && !nl.body.contains("style="));
    let en = request(
        &addr,
        "GET",
        "/privacy-statement",
        &[("Accept-Language", "en-GB,en;q=0.9")],
        b"",
    )
    .await;
    assert_eq!(en.status, 200);
    for text in [
        "<h1>Privacy statement</h1>",
        "Version 2026-11",
        "valid from 01-11-2026",
        "Data Protection Authority",
    ] {
        assert!(en.body.contains(text), "{text}");
    }
    let old = request(&addr, "GET", "/privacy-statement/2025-01", &[], b"").await;
    assert_eq!(old.status, 200);
    assert!(old.body.contains("eerdere versie") && old.body.contains("01-01-2025"));
    let same = request(&addr, "GET", "/privacy-statement/2026-11", &[], b"").await;
    assert_eq!(same.status, 200);
    let unknown = request(&addr, "GET", "/privacy-statement/1999-01", &[], b"").await;
    assert_eq!(unknown.status, 404);
    // The footer of every page links to it.
    let me = session(&addr, "patient1", false).await;
    assert!(get(&addr, "/patient/log", &me)
        .await
        .body
        .contains("href=\"/privacy-statement\""));
}
