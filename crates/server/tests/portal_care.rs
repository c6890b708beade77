//! The care pages over real HTTP against the real server, on both backends: booking and
//! cancelling appointments (the slot guard), video consults (HP-2), questions and
//! replies (HP-3), repeat medication (GP-13), the staff inbox and agenda; refusals for
//! other patients' ids, CSRF, and both languages.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::{Arc, Once};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use common::*;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use time::{Duration, OffsetDateTime};
use zorgkluis_domain::FixedClock;
use zorgkluis_policy::StaffRole;
use zorgkluis_testkit::{all_backends, TestDb};
use zorgkluis_vault::appointments::NewSlot;
use zorgkluis_vault::{OperatorPurpose, Principal, SearchQuery, Vault};

const VIDEO_URL: &str = "https://video.zorg.example";
const VIDEO_SECRET: &str = "test-video-secret-not-for-production";

/// The video settings are read once per process: every test sets the same ones first.
fn video_env() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        std::env::set_var("ZORGKLUIS_VIDEO_URL", VIDEO_URL);
        std::env::set_var("ZORGKLUIS_VIDEO_JWT_SECRET", VIDEO_SECRET);
        std::env::set_var("ZORGKLUIS_VIDEO_JWT_APP_ID", "zorgkluis-test");
    });
}

fn loader() -> Principal {
    Principal::operator("test-load", OperatorPurpose::Load)
}

fn patient(id: &str, given: &str, family: &str, bsn: &str) -> Value {
    json!({
        "resourceType": "Patient", "id": id,
        "identifier": [{"system": "http://fhir.nl/fhir/NamingSystem/bsn", "value": bsn}],
        "name": [{"use": "official", "text": format!("{given} {family}"), "family": family, "given": [given]}],
        "birthDate": "1961-04-12",
        "managingOrganization": {"reference": "Organization/gp"}
    })
}

fn care_team(patient: &str, practitioner: &str) -> Value {
    json!({
        "resourceType": "CareTeam", "id": format!("team-{patient}"), "status": "active",
        "subject": {"reference": format!("Patient/{patient}")},
        "managingOrganization": [{"reference": "Organization/gp"}],
        "participant": [{
            "role": [{"text": "huisarts"}],
            "member": {"reference": format!("Practitioner/{practitioner}"), "display": "Dr. Anna Jansen"},
            "onBehalfOf": {"reference": "Organization/gp"}
        }]
    })
}

fn prescription(id: &str, patient: &str, name: &str) -> Value {
    json!({
        "resourceType": "MedicationRequest", "id": id, "status": "active", "intent": "order",
        "medicationCodeableConcept": {"coding": [{"system": "http://www.whocc.no/atc", "code": format!("A{id}")}], "text": name},
        "subject": {"reference": format!("Patient/{patient}")},
        "authoredOn": "2026-08-01",
        "requester": {"reference": "Practitioner/dr"},
        "dosageInstruction": [{"text": "1x per dag 1 tablet"}]
    })
}

struct World {
    vault: Vault,
    clock: Arc<FixedClock>,
    addr: String,
}

/// A GP practice: Dr. Jansen (`huisarts`, with an agenda) treats Geertruida (p1) and
/// Hendrik (p2); Dr. Brouwer (`collega`) treats only Klaas (p3) and has no agenda.
async fn world(db: &TestDb) -> World {
    video_env();
    let (vault, clock) = open_vault_and_clock(db).await;
    org(&vault, "gp", "gp_practice").await;
    staff(&vault, "huisarts", "gp", StaffRole::Gp, "dr", true).await;
    staff(&vault, "collega", "gp", StaffRole::Gp, "dr2", true).await;
    patient_account(&vault, "pat1", "p1").await;
    patient_account(&vault, "pat2", "p2").await;
    patient_account(&vault, "pat3", "p3").await;
    vault
        .load(
            &loader(),
            vec![
                json!({"resourceType": "Organization", "id": "gp", "name": "Huisartsenpraktijk De Linde"}),
                json!({"resourceType": "Practitioner", "id": "dr", "name": [{"text": "Dr. Anna Jansen"}]}),
                json!({"resourceType": "Practitioner", "id": "dr2", "name": [{"text": "Dr. Piet Brouwer"}]}),
                json!({"resourceType": "Schedule", "id": "agenda-dr", "active": true,
                       "serviceType": [{"text": "Huisartsenspreekuur"}],
                       "actor": [{"reference": "Practitioner/dr", "display": "Dr. Anna Jansen"}]}),
                patient("p1", "Geertruida", "Zwanenburg", "999996708"),
                patient("p2", "Hendrik", "Vos", "999990019"),
                patient("p3", "Klaas", "Bakker", "999990020"),
                care_team("p1", "dr"),
                care_team("p2", "dr"),
                care_team("p3", "dr2"),
                prescription("mr1", "p1", "Metformine 500 mg"),
                prescription("mr2", "p2", "Lisinopril 10 mg"),
            ],
            Default::default(),
        )
        .await
        .unwrap();
    let addr = serve(&vault).await;
    World { vault, clock, addr }
}

async fn gp(vault: &Vault) -> Principal {
    vault
        .principal_for_login("huisarts", "127.0.0.1")
        .await
        .unwrap()
        .unwrap()
}

fn at(minutes_from_now: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(NOW).unwrap() + Duration::minutes(minutes_from_now)
}

async fn open(vault: &Vault, from_now: i64, minutes: i64, video: bool) -> String {
    let made = vault
        .open_slots(
            &gp(vault).await,
            "agenda-dr",
            &[NewSlot {
                start: at(from_now),
                end: at(from_now + minutes),
                video,
            }],
        )
        .await
        .unwrap();
    made[0].id.clone()
}

/// Every value following `marker` in `body` up to the next quote.
fn values_after(body: &str, marker: &str) -> Vec<String> {
    body.match_indices(marker)
        .map(|(i, _)| {
            body[i + marker.len()..]
                .split(['"', '/', '?', '&'])
                .next()
                .unwrap()
                .to_owned()
        })
        .collect()
}

async fn get(w: &World, who: &str, path: &str) -> Reply {
    http(&w.addr, "GET", path, who, None).await
}

async fn post(w: &World, who: &str, path: &str, form: &str) -> Reply {
    http(&w.addr, "POST", path, who, Some(form)).await
}

/// Logs a member of staff in at the clock's current time (the TOTP code of that moment).
async fn staff_session_now(w: &World, login: &str) -> String {
    let (pre, token) = login_page(&w.addr).await;
    let code = zorgkluis_auth::TotpSecret::from_base32(SECRET)
        .unwrap()
        .code_at(w.vault.now().unix_timestamp());
    let form = format!(
        "login={login}&password={}&code={code}&csrf={}",
        enc(PASSWORD),
        enc(&token)
    );
    let r = http(
        &w.addr,
        "POST",
        "/login",
        &format!("zk_login={pre}"),
        Some(&form),
    )
    .await;
    assert_eq!(r.status, 303, "login of {login}: {}", r.body);
    format!("zk_session={}", r.cookie("zk_session").unwrap())
}

/// A page's CSRF token.
async fn csrf(w: &World, who: &str, path: &str) -> String {
    let page = get(w, who, path).await;
    assert_eq!(page.status, 200, "{path}: {}", page.body);
    page.hidden("csrf")
}

async fn slot_status(vault: &Vault, id: &str) -> String {
    vault
        .read(&loader(), "Slot", id)
        .await
        .unwrap()
        .resource
        .unwrap()["status"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn search(vault: &Vault, rt: &str, params: &[(&str, &str)]) -> Vec<Value> {
    let pairs: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let q = SearchQuery::parse(rt, &pairs).unwrap();
    vault
        .search(&loader(), &q)
        .await
        .unwrap()
        .hits
        .into_iter()
        .map(|h| h.resource.unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hp2_gp13_a_booked_slot_is_gone_for_others_a_second_booking_fails_cleanly_and_cancelling_frees_it(
) {
    for db in all_backends().await {
        let w = world(&db).await;
        let slot = open(&w.vault, 24 * 60, 10, false).await;
        let pat1 = session(&w.addr, "pat1", false).await;
        let pat2 = session(&w.addr, "pat2", false).await;

        // Geertruida sees the free time with her GP and books it.
        let page = get(&w, &pat1, "/patient/appointments/book?provider=dr").await;
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(page.body.contains("Dr. Anna Jansen"));
        assert_eq!(
            values_after(&page.body, "name=\"slot\" value=\""),
            vec![slot.clone()]
        );
        let token = page.hidden("csrf");
        let pat2_token = csrf(&w, &pat2, "/patient/appointments/book?provider=dr").await;
        // Without the CSRF token: refused, nothing booked.
        let r = post(
            &w,
            &pat1,
            "/patient/appointments/book",
            &format!("provider=dr&slot={slot}"),
        )
        .await;
        assert_eq!(r.status, 403);
        assert_eq!(slot_status(&w.vault, &slot).await, "free");
        let r = post(
            &w,
            &pat1,
            "/patient/appointments/book",
            &format!(
                "csrf={}&provider=dr&slot={slot}&reason=Controle+suiker",
                enc(&token)
            ),
        )
        .await;
        assert_eq!(r.status, 303, "{}", r.body);
        assert_eq!(
            r.header("location"),
            Some("/patient/appointments?done=booked")
        );
        assert_eq!(slot_status(&w.vault, &slot).await, "busy");
        let list = get(&w, &pat1, "/patient/appointments?done=booked").await;
        assert!(list.body.contains("Uw afspraak is gemaakt"));
        assert!(list.body.contains("dinsdag 24-11-2026"), "{}", list.body);
        assert!(list.body.contains("10:00") && list.body.contains("Controle suiker"));
        assert!(list.body.contains("Gepland"));

        // Hendrik no longer sees it; booking it anyway fails cleanly.
        let page = get(&w, &pat2, "/patient/appointments/book?provider=dr").await;
        assert!(!page.body.contains(&slot));
        let r = post(
            &w,
            &pat2,
            "/patient/appointments/book",
            &format!("csrf={}&provider=dr&slot={slot}", enc(&pat2_token)),
        )
        .await;
        assert_eq!(r.status, 409, "{}", r.body);
        assert!(r.body.contains("zojuist door iemand anders gekozen"));
        assert!(search(&w.vault, "Appointment", &[("patient", "p2")])
            .await
            .is_empty());

        // Hendrik cannot cancel Geertruida's appointment: the 403 page, nothing of hers.
        let appts = search(&w.vault, "Appointment", &[("patient", "p1")]).await;
        let mine = appts[0]["id"].as_str().unwrap().to_owned();
        let r = post(
            &w,
            &pat2,
            &format!("/patient/appointments/{mine}/cancel"),
            &format!("csrf={}", enc(&pat2_token)),
        )
        .await;
        assert_eq!(r.status, 403);
        assert!(!r.body.contains("Zwanenburg") && !r.body.contains("Controle suiker"));
        assert_eq!(slot_status(&w.vault, &slot).await, "busy");
        // Nor open her video link.
        assert_eq!(
            get(&w, &pat2, &format!("/patient/appointments/{mine}/video"))
                .await
                .status,
            403
        );
        // Nor book a time with a provider outside his care team: the slot of another agenda.

        // Geertruida cancels (with the token): the slot is free for Hendrik again.
        let r = post(
            &w,
            &pat1,
            &format!("/patient/appointments/{mine}/cancel"),
            "",
        )
        .await;
        assert_eq!(r.status, 403, "no CSRF token");
        let r = post(
            &w,
            &pat1,
            &format!("/patient/appointments/{mine}/cancel"),
            &format!("csrf={}", enc(&token)),
        )
        .await;
        assert_eq!(r.status, 303, "{}", r.body);
        assert_eq!(slot_status(&w.vault, &slot).await, "free");
        let list = get(&w, &pat1, "/patient/appointments?done=cancelled").await;
        assert!(list.body.contains("Afgezegd"));
        let page = get(&w, &pat2, "/patient/appointments/book?provider=dr").await;
        assert!(page.body.contains(&slot));
        let r = post(
            &w,
            &pat2,
            "/patient/appointments/book",
            &format!("csrf={}&provider=dr&slot={slot}", enc(&pat2_token)),
        )
        .await;
        assert_eq!(r.status, 303, "{}", r.body);
        // A past appointment cannot be cancelled: cancelling twice says so.
        let r = post(
            &w,
            &pat1,
            &format!("/patient/appointments/{mine}/cancel"),
            &format!("csrf={}", enc(&token)),
        )
        .await;
        assert_eq!(r.status, 400);

        // Klaas (care team of Dr. Brouwer, who has no agenda) gets an honest empty state
        // and cannot book Dr. Jansen's times by posting the id.
        let pat3 = session(&w.addr, "pat3", false).await;
        let page = get(&w, &pat3, "/patient/appointments/book").await;
        assert!(page.body.contains("geen zorgverleners uit uw behandelteam"));
        let free = open(&w.vault, 26 * 60, 10, false).await;
        let r = post(
            &w,
            &pat3,
            "/patient/appointments/book",
            &format!("csrf={}&provider=dr&slot={free}", enc(&page.hidden("csrf"))),
        )
        .await;
        assert_eq!(r.status, 400);
        assert_eq!(slot_status(&w.vault, &free).await, "free");
    }
}

fn verify_jwt(token: &str) -> Value {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "{token}");
    let mut mac = Hmac::<Sha256>::new_from_slice(VIDEO_SECRET.as_bytes()).unwrap();
    mac.update(format!("{}.{}", parts[0], parts[1]).as_bytes());
    mac.verify_slice(&URL_SAFE_NO_PAD.decode(parts[2]).unwrap())
        .expect("the signature verifies with the configured secret");
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    assert_eq!(header["alg"], "HS256");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hp2_the_video_link_shows_only_in_its_window_with_an_unguessable_room_and_a_signed_token() {
    for db in all_backends().await {
        let w = world(&db).await;
        // A video consult in 40 minutes (10 minutes long), and one tomorrow.
        let soon = open(&w.vault, 40, 10, true).await;
        let tomorrow = open(&w.vault, 24 * 60, 10, true).await;
        let pat1 = session(&w.addr, "pat1", false).await;
        let token = csrf(&w, &pat1, "/patient/appointments/book?provider=dr").await;
        for slot in [&soon, &tomorrow] {
            let r = post(
                &w,
                &pat1,
                "/patient/appointments/book",
                &format!("csrf={}&provider=dr&slot={slot}", enc(&token)),
            )
            .await;
            assert_eq!(r.status, 303, "{}", r.body);
        }
        let appts = search(&w.vault, "Appointment", &[("patient", "p1")]).await;
        let id_of = |slot: &str| {
            appts
                .iter()
                .find(|a| a["slot"][0]["reference"] == format!("Slot/{slot}").as_str())
                .unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        };
        let (soon_id, tomorrow_id) = (id_of(&soon), id_of(&tomorrow));
        assert_eq!(
            appts[0]["extension"][0]["url"],
            "urn:zorgkluis:video-consult"
        );

        // 40 minutes before: no link yet, and the link refuses.
        let list = get(&w, &pat1, "/patient/appointments").await;
        assert!(list.body.contains("videoconsult"));
        assert!(values_after(&list.body, "href=\"/patient/appointments/")
            .iter()
            .all(|v| v != &soon_id));
        assert_eq!(
            get(&w, &pat1, &format!("/patient/appointments/{soon_id}/video"))
                .await
                .status,
            400
        );

        // 15 minutes before: the link is there (for this one only) and leads to the room.
        w.clock.advance(Duration::minutes(25));
        let list = get(&w, &pat1, "/patient/appointments").await;
        let links = values_after(&list.body, "href=\"/patient/appointments/");
        assert!(links.contains(&soon_id), "{}", list.body);
        assert!(!links.contains(&tomorrow_id));
        let join = get(&w, &pat1, &format!("/patient/appointments/{soon_id}/video")).await;
        assert_eq!(join.status, 303, "{}", join.body);
        let location = join.header("location").unwrap().to_owned();
        let (room_url, jwt) = location
            .split_once("?jwt=")
            .expect("a token when configured");
        let room = room_url.strip_prefix(&format!("{VIDEO_URL}/")).unwrap();
        assert!(room.starts_with("zk-") && room.len() == 35, "{room}");
        assert!(!room.contains(&soon_id) && !location.contains(&soon_id));
        let claims = verify_jwt(jwt);
        assert_eq!(claims["room"], room);
        assert_eq!(claims["aud"], "jitsi");
        assert_eq!(claims["iss"], "zorgkluis-test");
        assert_eq!(claims["sub"], "video.zorg.example");
        assert!(claims["exp"].as_i64().unwrap() > at(50).unix_timestamp());
        assert_eq!(claims["context"]["user"]["name"], "Patiënt pat1");
        // A token signed with another secret does not verify.
        let mut mac = Hmac::<Sha256>::new_from_slice(b"another secret").unwrap();
        let parts: Vec<&str> = jwt.split('.').collect();
        mac.update(format!("{}.{}", parts[0], parts[1]).as_bytes());
        assert!(mac
            .verify_slice(&URL_SAFE_NO_PAD.decode(parts[2]).unwrap())
            .is_err());
        // The other appointment has another room, and is not open yet.
        assert_eq!(
            get(
                &w,
                &pat1,
                &format!("/patient/appointments/{tomorrow_id}/video")
            )
            .await
            .status,
            400
        );
        // The GP joins the same room from the agenda, as moderator.
        let dr = staff_session_now(&w, "huisarts").await;
        let agenda = get(&w, &dr, "/staff/agenda?day=2026-11-23").await;
        assert!(
            agenda
                .body
                .contains(&format!("/staff/agenda/appointments/{soon_id}/video")),
            "{}",
            agenda.body
        );
        let staff_join = get(
            &w,
            &dr,
            &format!("/staff/agenda/appointments/{soon_id}/video"),
        )
        .await;
        assert_eq!(staff_join.status, 303);
        let staff_location = staff_join.header("location").unwrap();
        assert!(staff_location.starts_with(room_url));
        let staff_claims = verify_jwt(staff_location.split_once("?jwt=").unwrap().1);
        assert_eq!(staff_claims["context"]["user"]["moderator"], true);
        // A colleague who does not take part cannot join.
        let collega = staff_session_now(&w, "collega").await;
        assert_eq!(
            get(
                &w,
                &collega,
                &format!("/staff/agenda/appointments/{soon_id}/video")
            )
            .await
            .status,
            403
        );

        // After the end: gone again.
        w.clock.advance(Duration::minutes(26));
        let list = get(&w, &pat1, "/patient/appointments").await;
        assert!(!values_after(&list.body, "href=\"/patient/appointments/").contains(&soon_id));
        assert_eq!(
            get(&w, &pat1, &format!("/patient/appointments/{soon_id}/video"))
                .await
                .status,
            400
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hp3_gp13_a_question_reaches_the_practice_inbox_and_the_reply_reaches_the_patient() {
    for db in all_backends().await {
        let w = world(&db).await;
        let pat1 = session(&w.addr, "pat1", false).await;
        let token = csrf(&w, &pat1, "/patient/messages/new").await;
        // Incomplete: shown again with the problem.
        let r = post(
            &w,
            &pat1,
            "/patient/messages/new",
            &format!("csrf={}&topic=&text=Hallo", enc(&token)),
        )
        .await;
        assert_eq!(r.status, 400);
        assert!(r.body.contains("Vul een onderwerp en een bericht in"));
        // No CSRF token: refused.
        let r = post(
            &w,
            &pat1,
            "/patient/messages/new",
            "topic=Uitslag&text=Hallo",
        )
        .await;
        assert_eq!(r.status, 403);
        let r = post(
            &w,
            &pat1,
            "/patient/messages/new",
            &format!(
                "csrf={}&topic={}&text={}",
                enc(&token),
                enc("Vraag over mijn uitslag"),
                enc("Is mijn HbA1c goed genoeg?\nGroet, Geertruida")
            ),
        )
        .await;
        assert_eq!(r.status, 303, "{}", r.body);
        let list = get(&w, &pat1, "/patient/messages?done=sent").await;
        assert!(list.body.contains("Vraag over mijn uitslag"));
        assert!(list.body.contains("Wacht op antwoord"));
        let sent = search(&w.vault, "Communication", &[("patient", "p1")]).await;
        assert_eq!(sent.len(), 1);
        let question = sent[0]["id"].as_str().unwrap().to_owned();
        assert_eq!(sent[0]["recipient"][0]["reference"], "Organization/gp");
        assert_eq!(sent[0]["sender"]["reference"], "Patient/p1");
        assert_eq!(sent[0]["category"][0]["coding"][0]["code"], "question");

        // Dr. Jansen sees it; Dr. Brouwer (no relationship with Geertruida) does not.
        let dr = session(&w.addr, "huisarts", true).await;
        let inbox = get(&w, &dr, "/staff/inbox").await;
        assert_eq!(inbox.status, 200);
        assert!(
            inbox.body.contains("Vraag over mijn uitslag")
                && inbox.body.contains("Geertruida Zwanenburg")
        );
        assert!(inbox.body.contains("href=\"/staff/links\""));
        let collega = session(&w.addr, "collega", true).await;
        let other = get(&w, &collega, "/staff/inbox").await;
        assert_eq!(other.status, 200);
        assert!(
            !other.body.contains("Vraag over mijn uitslag") && !other.body.contains("Zwanenburg")
        );
        let r = get(&w, &collega, &format!("/staff/inbox/messages/{question}")).await;
        assert_eq!(r.status, 403);
        assert!(!r.body.contains("HbA1c"));
        // A patient cannot use the staff inbox.
        assert_eq!(get(&w, &pat1, "/staff/inbox").await.status, 403);

        // The GP replies; the question is answered and leaves the inbox.
        let page = get(&w, &dr, &format!("/staff/inbox/messages/{question}")).await;
        assert_eq!(page.status, 200);
        assert!(page.body.contains("Is mijn HbA1c goed genoeg?"));
        let dr_token = page.hidden("csrf");
        let r = post(
            &w,
            &dr,
            &format!("/staff/inbox/messages/{question}/reply"),
            "text=Ja",
        )
        .await;
        assert_eq!(r.status, 403, "no CSRF token");
        let r = post(
            &w,
            &collega,
            &format!("/staff/inbox/messages/{question}/reply"),
            &format!(
                "csrf={}&text=Hallo",
                enc(&csrf(&w, &collega, "/staff/inbox").await)
            ),
        )
        .await;
        assert_eq!(r.status, 403, "no relationship, no reply");
        let r = post(
            &w,
            &dr,
            &format!("/staff/inbox/messages/{question}/reply"),
            &format!(
                "csrf={}&text={}",
                enc(&dr_token),
                enc("Uw HbA1c is 53, dat is goed.")
            ),
        )
        .await;
        assert_eq!(r.status, 303, "{}", r.body);
        let inbox = get(&w, &dr, "/staff/inbox?done=replied").await;
        assert!(!inbox.body.contains("Vraag over mijn uitslag"));
        let all = search(&w.vault, "Communication", &[("patient", "p1")]).await;
        let reply = all.iter().find(|c| c["id"] != question.as_str()).unwrap();
        assert_eq!(
            reply["inResponseTo"][0]["reference"],
            format!("Communication/{question}").as_str()
        );
        assert_eq!(reply["sender"]["reference"], "Practitioner/dr");
        assert_eq!(
            all.iter().find(|c| c["id"] == question.as_str()).unwrap()["status"],
            "completed"
        );

        // Geertruida reads the answer in the thread.
        let list = get(&w, &pat1, "/patient/messages").await;
        assert!(list.body.contains("Beantwoord"));
        let thread = get(&w, &pat1, &format!("/patient/messages/{question}")).await;
        assert_eq!(thread.status, 200);
        assert!(thread.body.contains("Uw HbA1c is 53, dat is goed."));
        assert!(thread.body.contains("Is mijn HbA1c goed genoeg?"));
        // Hendrik cannot open her thread: the 403 page, nothing of it.
        let pat2 = session(&w.addr, "pat2", false).await;
        let r = get(&w, &pat2, &format!("/patient/messages/{question}")).await;
        assert_eq!(r.status, 403);
        assert!(!r.body.contains("HbA1c"));
        let r = post(
            &w,
            &pat2,
            &format!("/patient/messages/{question}/reply"),
            &format!(
                "csrf={}&text=Hallo",
                enc(&csrf(&w, &pat2, "/patient/messages").await)
            ),
        )
        .await;
        assert_eq!(r.status, 403);
        // She answers back in the same thread; it reaches the inbox again.
        let r = post(
            &w,
            &pat1,
            &format!("/patient/messages/{question}/reply"),
            &format!("csrf={}&text={}", enc(&token), enc("Dank u wel!")),
        )
        .await;
        assert_eq!(r.status, 303, "{}", r.body);
        let inbox = get(&w, &dr, "/staff/inbox").await;
        assert!(inbox.body.contains("Vraag over mijn uitslag"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gp13_repeat_medication_approved_continues_the_prescription_and_a_decline_tells_the_patient_why(
) {
    for db in all_backends().await {
        let w = world(&db).await;
        let pat1 = session(&w.addr, "pat1", false).await;
        let page = get(&w, &pat1, "/patient/medication/repeat").await;
        assert_eq!(page.status, 200);
        assert!(
            page.body.contains("Metformine 500 mg") && page.body.contains("1x per dag 1 tablet")
        );
        assert!(!page.body.contains("Lisinopril"));
        let token = page.hidden("csrf");
        // Another patient's prescription in the form: refused.
        let r = post(
            &w,
            &pat1,
            "/patient/medication/repeat",
            &format!("csrf={}&med={}", enc(&token), enc("MedicationRequest/mr2")),
        )
        .await;
        assert_eq!(r.status, 403);
        assert!(!r.body.contains("Lisinopril"));
        let r = post(
            &w,
            &pat1,
            "/patient/medication/repeat",
            "med=MedicationRequest%2Fmr1",
        )
        .await;
        assert_eq!(r.status, 403, "no CSRF token");
        let r = post(
            &w,
            &pat1,
            "/patient/medication/repeat",
            &format!(
                "csrf={}&med={}&note=Apotheek+Zuid",
                enc(&token),
                enc("MedicationRequest/mr1")
            ),
        )
        .await;
        assert_eq!(r.status, 303, "{}", r.body);
        let list = get(&w, &pat1, "/patient/messages?done=repeat").await;
        assert!(list.body.contains("Herhaalmedicatie") && list.body.contains("Aangevraagd"));
        // Asked for already: the box is disabled.
        let page = get(&w, &pat1, "/patient/medication/repeat").await;
        assert!(page.body.contains("al aangevraagd"));
        let request = search(&w.vault, "Communication", &[("patient", "p1")]).await[0].clone();
        let request_id = request["id"].as_str().unwrap().to_owned();
        assert_eq!(request["status"], "in-progress");
        assert_eq!(
            request["category"][0]["coding"][0]["system"],
            "urn:zorgkluis:message-kind"
        );
        assert_eq!(
            request["category"][0]["coding"][0]["code"],
            "repeat-medication"
        );
        assert_eq!(request["about"][0]["reference"], "MedicationRequest/mr1");

        // The GP approves it.
        let dr = session(&w.addr, "huisarts", true).await;
        let inbox = get(&w, &dr, "/staff/inbox").await;
        assert!(inbox.body.contains("Metformine 500 mg"));
        let page = get(&w, &dr, &format!("/staff/inbox/messages/{request_id}")).await;
        assert!(page.body.contains("Klaarzetten") && page.body.contains("1x per dag 1 tablet"));
        let dr_token = page.hidden("csrf");
        let r = post(
            &w,
            &dr,
            &format!("/staff/inbox/messages/{request_id}/approve"),
            "",
        )
        .await;
        assert_eq!(r.status, 403, "no CSRF token");
        let r = post(
            &w,
            &dr,
            &format!("/staff/inbox/messages/{request_id}/approve"),
            &format!("csrf={}&text=", enc(&dr_token)),
        )
        .await;
        assert_eq!(r.status, 303, "{}", r.body);
        // A new prescription continues the prior one; the prior one is completed (a new
        // version), the chain readable through priorPrescription.
        let requests = search(&w.vault, "MedicationRequest", &[("patient", "p1")]).await;
        assert_eq!(requests.len(), 2);
        let new = requests.iter().find(|r| r["id"] != "mr1").unwrap();
        assert_eq!(new["status"], "active");
        assert_eq!(new["authoredOn"], "2026-11-23");
        assert_eq!(
            new["priorPrescription"]["reference"],
            "MedicationRequest/mr1"
        );
        assert_eq!(new["requester"]["reference"], "Practitioner/dr");
        assert_eq!(
            new["medicationCodeableConcept"]["text"],
            "Metformine 500 mg"
        );
        assert_eq!(new["dosageInstruction"][0]["text"], "1x per dag 1 tablet");
        let history = w
            .vault
            .history(&loader(), "MedicationRequest", "mr1")
            .await
            .unwrap();
        assert_eq!(history.len(), 2);
        assert_eq!(history[0].resource.as_ref().unwrap()["status"], "completed");
        assert_eq!(history[1].resource.as_ref().unwrap()["status"], "active");
        // Approving again: already handled.
        let r = post(
            &w,
            &dr,
            &format!("/staff/inbox/messages/{request_id}/approve"),
            &format!("csrf={}", enc(&dr_token)),
        )
        .await;
        assert_eq!(r.status, 400);
        assert_eq!(
            search(&w.vault, "MedicationRequest", &[("patient", "p1")])
                .await
                .len(),
            2
        );
        // The patient sees the outcome.
        let list = get(&w, &pat1, "/patient/messages").await;
        assert!(list.body.contains("Klaargezet"));
        let thread = get(&w, &pat1, &format!("/patient/messages/{request_id}")).await;
        assert!(thread.body.contains("Uw herhaalrecept is klaargezet"));

        // A second request, declined with a reason the patient reads.
        let page = get(&w, &pat1, "/patient/medication/repeat").await;
        let new_id = new["id"].as_str().unwrap();
        assert!(page.body.contains(&format!("MedicationRequest/{new_id}")));
        let r = post(
            &w,
            &pat1,
            "/patient/medication/repeat",
            &format!(
                "csrf={}&med={}",
                enc(&token),
                enc(&format!("MedicationRequest/{new_id}"))
            ),
        )
        .await;
        assert_eq!(r.status, 303);
        let second = search(
            &w.vault,
            "Communication",
            &[("patient", "p1"), ("status", "in-progress")],
        )
        .await[0]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let r = post(
            &w,
            &dr,
            &format!("/staff/inbox/messages/{second}/decline"),
            &format!("csrf={}&text=", enc(&dr_token)),
        )
        .await;
        assert_eq!(r.status, 400, "a reason is needed");
        // A colleague without a relationship cannot decide on it.
        let collega = session(&w.addr, "collega", true).await;
        let r = post(
            &w,
            &collega,
            &format!("/staff/inbox/messages/{second}/approve"),
            &format!("csrf={}", enc(&csrf(&w, &collega, "/staff/inbox").await)),
        )
        .await;
        assert_eq!(r.status, 403);
        let r = post(
            &w,
            &dr,
            &format!("/staff/inbox/messages/{second}/decline"),
            &format!(
                "csrf={}&text={}",
                enc(&dr_token),
                enc("Eerst een controle bij de POH, maak een afspraak.")
            ),
        )
        .await;
        assert_eq!(r.status, 303, "{}", r.body);
        let list = get(&w, &pat1, "/patient/messages").await;
        assert!(list.body.contains("Niet verstrekt"));
        let thread = get(&w, &pat1, &format!("/patient/messages/{second}")).await;
        assert!(thread.body.contains("Eerst een controle bij de POH"));
        assert_eq!(
            search(&w.vault, "MedicationRequest", &[("patient", "p1")])
                .await
                .len(),
            2,
            "nothing prescribed"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hp2_staff_open_slots_in_their_own_agenda_and_see_only_names_of_their_patients() {
    for db in all_backends().await {
        let w = world(&db).await;
        let dr = session(&w.addr, "huisarts", true).await;
        let page = get(&w, &dr, "/staff/agenda?day=2026-11-24").await;
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(page.body.contains("dinsdag 24-11-2026"));
        let token = page.hidden("csrf");
        let form = |start: &str, count: u32| {
            format!(
                "csrf={}&schedule=agenda-dr&date=2026-11-24&start={}&duration=10&count={count}",
                enc(&token),
                enc(start)
            )
        };
        let r = post(&w, &dr, "/staff/agenda/slots", &form("09:00", 3)).await;
        assert_eq!(r.status, 303, "{}", r.body);
        assert_eq!(
            r.header("location"),
            Some("/staff/agenda?day=2026-11-24&done=opened")
        );
        let page = get(&w, &dr, "/staff/agenda?day=2026-11-24&done=opened").await;
        assert_eq!(page.body.matches(">Vrij<").count(), 3, "{}", page.body);
        assert!(page.body.contains("09:00–09:10") && page.body.contains("09:20–09:30"));
        // Overlapping, in the past, or too many: refused with the reason, nothing added.
        let r = post(&w, &dr, "/staff/agenda/slots", &form("09:15", 1)).await;
        assert_eq!(r.status, 400);
        assert!(r.body.contains("overlappen"));
        let past = format!(
            "csrf={}&schedule=agenda-dr&date=2026-11-23&start=08:00&duration=10&count=1",
            enc(&token)
        );
        let r = post(&w, &dr, "/staff/agenda/slots", &past).await;
        assert_eq!(r.status, 400);
        let r = post(&w, &dr, "/staff/agenda/slots", &form("12:00", 99)).await;
        assert_eq!(r.status, 400);
        let r = post(
            &w,
            &dr,
            "/staff/agenda/slots",
            "schedule=agenda-dr&date=2026-11-24&start=12:00&duration=10&count=1",
        )
        .await;
        assert_eq!(r.status, 403, "no CSRF token");
        assert_eq!(
            search(&w.vault, "Slot", &[("schedule", "Schedule/agenda-dr")])
                .await
                .len(),
            3
        );

        // Dr. Brouwer has no agenda of his own and cannot open slots in Dr. Jansen's.
        let collega = session(&w.addr, "collega", true).await;
        let page = get(&w, &collega, "/staff/agenda?day=2026-11-24").await;
        assert!(page.body.contains("nog geen eigen agenda"));
        let r = post(
            &w,
            &collega,
            "/staff/agenda/slots",
            &format!(
                "csrf={}&schedule=agenda-dr&date=2026-11-24&start=14:00&duration=10&count=1",
                enc(&page.hidden("csrf"))
            ),
        )
        .await;
        assert_eq!(r.status, 400);
        assert_eq!(
            search(&w.vault, "Slot", &[("schedule", "Schedule/agenda-dr")])
                .await
                .len(),
            3
        );

        // Geertruida books one; Klaas (not Dr. Jansen's patient) books another through the
        // vault. The agenda names Geertruida, not Klaas.
        let slots = search(&w.vault, "Slot", &[("schedule", "Schedule/agenda-dr")]).await;
        let ids: Vec<&str> = slots.iter().map(|s| s["id"].as_str().unwrap()).collect();
        let pat1 = session(&w.addr, "pat1", false).await;
        let t = csrf(&w, &pat1, "/patient/appointments/book?provider=dr").await;
        let r = post(
            &w,
            &pat1,
            "/patient/appointments/book",
            &format!("csrf={}&provider=dr&slot={}", enc(&t), ids[0]),
        )
        .await;
        assert_eq!(r.status, 303);
        let klaas = w
            .vault
            .principal_for_login("pat3", "127.0.0.1")
            .await
            .unwrap()
            .unwrap();
        w.vault
            .book_slot(
                &klaas,
                ids[1],
                json!({"resourceType": "Appointment", "status": "booked",
                       "participant": [{"actor": {"reference": "Patient/p3"}, "status": "accepted"}]}),
            )
            .await
            .unwrap();
        let page = get(&w, &dr, "/staff/agenda?day=2026-11-24").await;
        assert!(page.body.contains("Geertruida Zwanenburg"), "{}", page.body);
        assert!(!page.body.contains("Bakker"));
        assert!(page.body.contains("patiënt niet zichtbaar voor u"));
        assert_eq!(page.body.matches(">Vrij<").count(), 1);
        // Navigation.
        assert!(
            page.body.contains("/staff/agenda?day=2026-11-23")
                && page.body.contains("/staff/agenda?day=2026-11-25")
        );
        // Patients do not see the staff agenda.
        assert_eq!(get(&w, &pat1, "/staff/agenda").await.status, 403);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_care_pages_render_in_dutch_and_in_english() {
    let db = zorgkluis_testkit::sqlite();
    let w = world(&db).await;
    open(&w.vault, 24 * 60, 10, true).await;
    let pat1 = session(&w.addr, "pat1", false).await;
    let dr = session(&w.addr, "huisarts", true).await;
    let pages: [(&str, &str, &str, &str); 9] = [
        (
            &pat1,
            "/patient/appointments",
            "Komende afspraken",
            "Upcoming appointments",
        ),
        (
            &pat1,
            "/patient/appointments/book?provider=dr",
            "Vrije tijden bij",
            "Free times with",
        ),
        (
            &pat1,
            "/patient/messages",
            "Vraag stellen aan de praktijk",
            "Ask the practice a question",
        ),
        (&pat1, "/patient/messages/new", "Uw bericht", "Your message"),
        (
            &pat1,
            "/patient/medication/repeat",
            "Herhaalmedicatie bestellen",
            "Order repeat medication",
        ),
        (
            &dr,
            "/staff/inbox",
            "Vragen van patiënten",
            "Questions from patients",
        ),
        (
            &dr,
            "/staff/agenda?day=2026-11-24",
            "Vrije tijden openzetten",
            "Open free times",
        ),
        (
            &dr,
            "/staff/agenda?day=2026-11-24",
            "dinsdag 24-11-2026",
            "Tuesday 24-11-2026",
        ),
        (
            &pat1,
            "/patient/appointments/book?provider=dr",
            "videoconsult",
            "video consult",
        ),
    ];
    for (who, path, nl, en) in pages {
        let dutch = get(&w, who, path).await;
        assert_eq!(dutch.status, 200, "{path}");
        assert!(dutch.body.contains(nl), "{path}: {nl}");
        assert!(dutch.body.contains("lang=\"nl\""));
        let english = get(&w, &format!("{who}; zk_lang=en"), path).await;
        assert_eq!(english.status, 200, "{path}");
        assert!(english.body.contains(en), "{path}: {en}");
        assert!(english.body.contains("lang=\"en\""));
        // Accessible basics: one h1, every input labelled or hidden.
        assert_eq!(english.body.matches("<h1").count(), 1, "{path}");
        assert!(!english.body.contains("style="), "{path}");
    }
}
