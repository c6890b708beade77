//! Agendas on both backends: a slot is booked at most once (the double-booking guard),
//! cancelling frees it, a booking is decided as the patient's Appointment, and
//! clinicians open slots only in their own agenda.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::{json, Value};
use time::macros::datetime;
use zorgkluis_auth::Argon2Cost;
use zorgkluis_domain::{Actor, FunctionalRole};
use zorgkluis_policy::StaffRole;
use zorgkluis_testkit::all_backends;
use zorgkluis_vault::appointments::{is_video_consult, NewSlot};
use zorgkluis_vault::{
    AccountKind, NewAccount, OperatorPurpose, OrganisationSettings, Principal, SearchQuery, Vault,
    VaultError, CONFIDENTIALITY_VERSION,
};

fn accounts_admin() -> Principal {
    Principal::operator("test-accounts", OperatorPurpose::Accounts)
}

async fn gp(vault: &Vault, login: &str, practitioner: &str) -> Principal {
    let created = vault
        .add_account(
            &accounts_admin(),
            NewAccount {
                login: login.into(),
                display_name: format!("Test {login}"),
                email: None,
                password: "lente-fiets-kanaal-2026".into(),
                kind: AccountKind::Staff {
                    organisation_id: "gp".into(),
                    role: StaffRole::Gp,
                    practitioner_id: Some(practitioner.into()),
                    agb: None,
                    big: None,
                    rights: None,
                },
                with_totp: true,
                fixed_totp_secret: Some("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP".into()),
            },
            Argon2Cost::Fast,
        )
        .await
        .unwrap();
    vault
        .accept_confidentiality(&created.user_id, "gp", CONFIDENTIALITY_VERSION)
        .await
        .unwrap();
    vault
        .principal_for_login(login, "127.0.0.1")
        .await
        .unwrap()
        .unwrap()
}

fn patient_principal(id: &str) -> Principal {
    Principal::Patient {
        actor: Actor {
            user_id: format!("user-{id}"),
            role: FunctionalRole::SubjectOfCare,
            role_name: "patient".into(),
            display: Some(format!("Patiënt {id}")),
            organisation: None,
            access_point: "127.0.0.1".into(),
            on_behalf_of: None,
        },
        patient_id: id.into(),
    }
}

/// A GP practice with two GPs (each with an agenda) and two patients of Dr. A.
async fn world(vault: &Vault) -> (Principal, Principal) {
    vault
        .upsert_organisation(
            &accounts_admin(),
            &OrganisationSettings {
                id: "gp".into(),
                name: "Huisartsenpraktijk".into(),
                kind: "gp_practice".into(),
                region: None,
                agb: None,
                ura: None,
                parental_consent_below: None,
                locum_for: vec![],
            },
        )
        .await
        .unwrap();
    let mut resources: Vec<Value> = vec![
        json!({"resourceType": "Organization", "id": "gp", "name": "Huisartsenpraktijk"}),
        json!({"resourceType": "Practitioner", "id": "dr-a", "name": [{"text": "Dr. A"}]}),
        json!({"resourceType": "Practitioner", "id": "dr-b", "name": [{"text": "Dr. B"}]}),
        json!({"resourceType": "Schedule", "id": "agenda-a", "active": true,
               "actor": [{"reference": "Practitioner/dr-a"}]}),
        json!({"resourceType": "Schedule", "id": "agenda-b", "active": true,
               "actor": [{"reference": "Practitioner/dr-b"}]}),
    ];
    for p in ["p1", "p2"] {
        let mut pat = patient(p);
        pat["identifier"][0]["value"] = json!(if p == "p1" { BSN } else { "999990019" });
        resources.push(pat);
        resources.push(json!({
            "resourceType": "CareTeam", "id": format!("team-{p}"), "status": "active",
            "subject": {"reference": format!("Patient/{p}")},
            "managingOrganization": [{"reference": "Organization/gp"}],
            "participant": [{"member": {"reference": "Practitioner/dr-a"},
                             "onBehalfOf": {"reference": "Organization/gp"}}]
        }));
    }
    vault
        .load(&loader(), resources, Default::default())
        .await
        .unwrap();
    (
        gp(vault, "dr.a", "dr-a").await,
        gp(vault, "dr.b", "dr-b").await,
    )
}

fn booking(patient: &str) -> Value {
    json!({
        "resourceType": "Appointment",
        "status": "booked",
        "description": "Spreekuur",
        "participant": [{"actor": {"reference": format!("Patient/{patient}")},
                         "required": "required", "status": "accepted"}]
    })
}

async fn slot_status(vault: &Vault, id: &str) -> String {
    let s = vault.read(&loader(), "Slot", id).await.unwrap();
    s.resource.unwrap()["status"].as_str().unwrap().to_owned()
}

fn tomorrow(hour: u8, minute: u8) -> NewSlot {
    let start = datetime!(2026-11-24 00:00 +01:00)
        .replace_hour(hour)
        .unwrap()
        .replace_minute(minute)
        .unwrap();
    NewSlot {
        start,
        end: start + time::Duration::minutes(10),
        video: false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hp2_gp13_a_slot_is_booked_once_and_cancelling_frees_it() {
    for db in all_backends().await {
        let vault = open(&db).await;
        let (dr_a, _) = world(&vault).await;
        let (p1, p2) = (patient_principal("p1"), patient_principal("p2"));
        let slots = vault
            .open_slots(&dr_a, "agenda-a", &[tomorrow(9, 0), tomorrow(9, 10)])
            .await
            .unwrap();
        assert_eq!(slots.len(), 2);
        let slot = slots[0].id.clone();
        assert_eq!(slot_status(&vault, &slot).await, "free");

        // Two patients book the same slot at the same moment: exactly one gets it.
        for target in [slot.clone(), slots[1].id.clone()] {
            let (a, b) = tokio::join!(
                vault.book_slot(&p1, &target, booking("p1")),
                vault.book_slot(&p2, &target, booking("p2"))
            );
            let ok = [&a, &b].iter().filter(|r| r.is_ok()).count();
            assert_eq!(
                ok, 1,
                "{}: exactly one booking wins: {a:?} {b:?}",
                db.backend
            );
            let loser = if a.is_ok() { &b } else { &a };
            assert!(
                matches!(loser, Err(VaultError::Conflict { .. })),
                "{loser:?}"
            );
            assert_eq!(slot_status(&vault, &target).await, "busy");
            // Cancel whichever won, so the next round starts clean.
            let (winner, who) = match (a, b) {
                (Ok(w), _) => (w, &p1),
                (_, Ok(w)) => (w, &p2),
                _ => unreachable!("one booking won"),
            };
            let appt = winner.resource.unwrap();
            assert_eq!(appt["status"], "booked");
            assert_eq!(appt["slot"][0]["reference"], format!("Slot/{target}"));
            assert!(appt["start"]
                .as_str()
                .unwrap()
                .starts_with("2026-11-24T09:"));
            // The agenda's owner was added as participant.
            assert!(appt["participant"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["actor"]["reference"] == "Practitioner/dr-a"));
            vault
                .cancel_appointment(who, &winner.id, "test")
                .await
                .unwrap();
            assert_eq!(slot_status(&vault, &target).await, "free");
        }

        // Sequentially: booked, then a second booking of the same slot fails cleanly.
        let mine = vault.book_slot(&p1, &slot, booking("p1")).await.unwrap();
        let again = vault.book_slot(&p2, &slot, booking("p2")).await;
        assert!(
            matches!(again, Err(VaultError::Conflict { .. })),
            "{again:?}"
        );
        // Nothing of the failed booking was written in p2's record.
        let q =
            SearchQuery::parse("Appointment", &[("patient".to_owned(), "p2".to_owned())]).unwrap();
        let p2_appointments = vault.search(&p2, &q).await.unwrap();
        assert!(p2_appointments
            .hits
            .iter()
            .all(|h| h.resource.as_ref().unwrap()["status"] == "cancelled"));

        // Another patient cannot cancel it (refused and audited); the owner can.
        let refused = vault.cancel_appointment(&p2, &mine.id, "nope").await;
        assert!(matches!(refused, Err(VaultError::Forbidden)), "{refused:?}");
        assert_eq!(slot_status(&vault, &slot).await, "busy");
        let cancelled = vault
            .cancel_appointment(&p1, &mine.id, "Afgezegd via het portaal")
            .await
            .unwrap();
        assert_eq!(cancelled.resource.unwrap()["status"], "cancelled");
        assert_eq!(slot_status(&vault, &slot).await, "free");
        // Cancelling twice is refused as not open.
        assert!(matches!(
            vault.cancel_appointment(&p1, &mine.id, "x").await,
            Err(VaultError::Invalid(_))
        ));
        // The freed slot can be booked by the other patient now.
        vault.book_slot(&p2, &slot, booking("p2")).await.unwrap();
        let history = vault.history(&loader(), "Slot", &slot).await.unwrap();
        assert!(history.len() >= 5, "every change of the slot is a version");

        // A patient cannot book into another patient's record: refused, slot untouched.
        let other = vault.book_slot(&p1, &slots[1].id, booking("p2")).await;
        assert!(matches!(other, Err(VaultError::Forbidden)), "{other:?}");
        assert_eq!(slot_status(&vault, &slots[1].id).await, "free");
        // Unknown slots are not found.
        assert!(matches!(
            vault.book_slot(&p1, "no-such-slot", booking("p1")).await,
            Err(VaultError::NotFound)
        ));
    }
}

#[tokio::test]
async fn hp2_clinicians_open_slots_only_in_their_own_agenda() {
    for db in all_backends().await {
        let vault = open(&db).await;
        let (dr_a, dr_b) = world(&vault).await;
        // Dr. B in Dr. A's agenda: refused.
        assert!(matches!(
            vault
                .open_slots(&dr_b, "agenda-a", &[tomorrow(10, 0)])
                .await,
            Err(VaultError::Forbidden)
        ));
        // A patient: refused.
        assert!(matches!(
            vault
                .open_slots(&patient_principal("p1"), "agenda-a", &[tomorrow(10, 0)])
                .await,
            Err(VaultError::Forbidden)
        ));
        // In the past (the clock stands at 2026-11-23 09:00 UTC): invalid.
        let past = NewSlot {
            start: datetime!(2026-11-23 08:00 +01:00),
            end: datetime!(2026-11-23 08:10 +01:00),
            video: false,
        };
        assert!(matches!(
            vault.open_slots(&dr_a, "agenda-a", &[past]).await,
            Err(VaultError::Invalid(_))
        ));
        // A video slot, then one overlapping it: the second is refused.
        let mut video = tomorrow(11, 0);
        video.video = true;
        let made = vault.open_slots(&dr_a, "agenda-a", &[video]).await.unwrap();
        assert!(is_video_consult(made[0].resource.as_ref().unwrap()));
        assert!(matches!(
            vault
                .open_slots(&dr_a, "agenda-a", &[tomorrow(11, 5)])
                .await,
            Err(VaultError::Invalid(_))
        ));
        // Dr. B in his own agenda at the same time: fine.
        vault
            .open_slots(&dr_b, "agenda-b", &[tomorrow(11, 0)])
            .await
            .unwrap();
        // Patients search the agenda's free slots.
        let q = SearchQuery::parse(
            "Slot",
            &[
                ("schedule".to_owned(), "Schedule/agenda-a".to_owned()),
                ("status".to_owned(), "free".to_owned()),
            ],
        )
        .unwrap();
        let page = vault.search(&patient_principal("p1"), &q).await.unwrap();
        assert_eq!(page.total, 1);
    }
}
