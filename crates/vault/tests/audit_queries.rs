//! The privacy officer's queries over the audit trail, on both backends: "which patients
//! did this user access between t1 and t2" returns exactly the right patients and counts,
//! is refused to everyone else, and is itself audited (refusals too); synthetic events for
//! `zorgkluis bench audit` go only into a benchmark vault.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use common::*;
use time::macros::datetime;
use zorgkluis_audit::{EventCode, Outcome};
use zorgkluis_auth::Argon2Cost;
use zorgkluis_domain::{Actor, FixedClock};
use zorgkluis_testkit::{all_backends, TestDb};
use zorgkluis_vault::{
    AccountKind, AuditFilter, NewAccount, OperatorPurpose, OrganisationSettings, Principal, Vault,
    VaultError, CONFIDENTIALITY_VERSION, SYNTHETIC_AUDIT_SOURCE,
};

const PASSWORD: &str = "lente-fiets-kanaal-2026";

async fn open_with_clock(db: &TestDb, clock: Arc<FixedClock>) -> Vault {
    let mut c = config(db);
    c.clock = clock;
    Vault::open(c).await.unwrap()
}

/// A member of staff with `role` at a GP practice; returns their principal.
async fn staff(vault: &Vault, login: &str, role: zorgkluis_policy::StaffRole) -> Principal {
    let admin = Principal::operator("test-accounts", OperatorPurpose::Accounts);
    vault
        .upsert_organisation(
            &admin,
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
    let created = vault
        .add_account(
            &admin,
            NewAccount {
                login: login.into(),
                display_name: format!("Test {login}"),
                email: None,
                password: PASSWORD.into(),
                kind: AccountKind::Staff {
                    organisation_id: "gp".into(),
                    role,
                    practitioner_id: None,
                    agb: None,
                    big: None,
                    rights: None,
                },
                with_totp: true,
                fixed_totp_secret: None,
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

#[tokio::test]
async fn patients_accessed_by_a_user_in_a_period_exactly_refused_to_others_and_audited() {
    for db in all_backends().await {
        let clock = Arc::new(FixedClock::new(datetime!(2026-10-05 09:00 UTC)));
        let vault = open_with_clock(&db, clock.clone()).await;
        for p in ["p1", "p2", "p3"] {
            seed(&vault, p).await;
        }
        let reader = requester();
        let reader_id = reader.actor().user_id.clone();
        let read = |rt: &'static str, id: String| {
            let (vault, reader) = (vault.clone(), reader.clone());
            async move { vault.read(&reader, rt, &id).await.unwrap() }
        };
        // Just before the window.
        clock.set(datetime!(2026-09-30 23:59:59 UTC));
        read("Patient", "p3".into()).await;
        // In the window (October).
        clock.set(datetime!(2026-10-10 08:00 UTC));
        read("Patient", "p1".into()).await;
        clock.set(datetime!(2026-10-10 08:05 UTC));
        read("Observation", "p1-obs".into()).await;
        clock.set(datetime!(2026-10-31 23:30 UTC));
        read("Patient", "p2".into()).await;
        // After it.
        clock.set(datetime!(2026-11-01 00:00 UTC));
        read("Patient", "p1".into()).await;
        read("Patient", "p3".into()).await;
        clock.set(datetime!(2026-11-23 09:00 UTC));

        let officer = staff(
            &vault,
            "privacy.officer",
            zorgkluis_policy::StaffRole::PrivacyOfficer,
        )
        .await;
        // The reads are still in the journal: the query sees them all the same.
        let got = vault
            .patients_accessed_by(
                &officer,
                &reader_id,
                "2026-10-01T00:00:00.000Z",
                "2026-10-31",
            )
            .await
            .unwrap();
        let summary: Vec<_> = got
            .iter()
            .map(|p| (p.patient_id.as_str(), p.events))
            .collect();
        assert_eq!(summary, [("p1", 2), ("p2", 1)], "{}", db.backend);
        assert_eq!(got[0].first, "2026-10-10T08:00:00.000Z");
        assert_eq!(got[0].last, "2026-10-10T08:05:00.000Z");
        assert_eq!(got[1].first, "2026-10-31T23:30:00.000Z");
        // A period with an RFC 3339 end, and the whole trail.
        let got = vault
            .patients_accessed_by(
                &officer,
                &reader_id,
                "2026-09-30T00:00:00.000Z",
                "2026-10-10T08:00:00.000Z",
            )
            .await
            .unwrap();
        let summary: Vec<_> = got
            .iter()
            .map(|p| (p.patient_id.as_str(), p.events))
            .collect();
        assert_eq!(summary, [("p1", 1), ("p3", 1)], "{}", db.backend);
        let got = vault
            .patients_accessed_by(&officer, &reader_id, "2026-01-01", "2026-12-31")
            .await
            .unwrap();
        let summary: Vec<_> = got
            .iter()
            .map(|p| (p.patient_id.as_str(), p.events))
            .collect();
        assert_eq!(summary, [("p1", 3), ("p2", 1), ("p3", 2)], "{}", db.backend);
        // The loader wrote two resources of each patient on 5 October.
        let loader_id = loader().actor().user_id.clone();
        let got = vault
            .patients_accessed_by(&officer, &loader_id, "2026-10-01", "2026-10-31")
            .await
            .unwrap();
        assert_eq!(got.len(), 3);
        assert!(got.iter().all(|p| p.events == 2), "{got:?}");
        // Nobody else accessed anything in October.
        assert!(vault
            .patients_accessed_by(&officer, "nobody", "2026-10-01", "2026-10-31")
            .await
            .unwrap()
            .is_empty());
        // An operator reviewing the trail may ask too.
        assert_eq!(
            vault
                .patients_accessed_by(&auditor(), &reader_id, "2026-10-01", "2026-10-31")
                .await
                .unwrap()
                .len(),
            2
        );

        // Refused to a GP, to the patient, and to an operator with another purpose.
        let gp = staff(
            &vault,
            "huisarts",
            zorgkluis_policy::StaffRole::parse("gp").unwrap(),
        )
        .await;
        let patient = Principal::Patient {
            actor: Actor {
                user_id: "patient-account-p1".into(),
                role: zorgkluis_domain::FunctionalRole::SubjectOfCare,
                role_name: "patient".into(),
                display: None,
                organisation: None,
                access_point: "127.0.0.1".into(),
                on_behalf_of: None,
            },
            patient_id: "p1".into(),
        };
        for who in [&gp, &patient, &reader] {
            assert!(
                matches!(
                    vault
                        .patients_accessed_by(who, &reader_id, "2026-10-01", "2026-10-31")
                        .await,
                    Err(VaultError::Forbidden)
                ),
                "{}",
                db.backend
            );
        }

        // Every query, allowed or refused, is in the trail.
        let trail = |user: String| {
            let vault = vault.clone();
            async move {
                vault
                    .audit_search(
                        &auditor(),
                        &AuditFilter {
                            user_id: Some(user),
                            limit: 100,
                            ..AuditFilter::default()
                        },
                    )
                    .await
                    .unwrap()
            }
        };
        let officer_events = trail(officer.actor().user_id.clone()).await;
        let queries: Vec<_> = officer_events
            .iter()
            .filter(|e| {
                e.code == EventCode::AuditRead
                    && e.object
                        .query
                        .as_deref()
                        .is_some_and(|q| q.starts_with("patients-accessed "))
            })
            .collect();
        assert_eq!(queries.len(), 5, "{}", db.backend);
        assert!(queries.iter().all(|e| e.outcome == Outcome::Success));
        assert!(queries.iter().any(|e| {
            e.object.query.as_deref()
                == Some(&*format!(
                    "patients-accessed user={reader_id} since=2026-10-01T00:00:00.000Z until=2026-10-31"
                ))
                && e.reason.as_deref() == Some("2 patient(s), 3 event(s)")
        }));
        for who in [&gp, &patient, &reader] {
            let refused = trail(who.actor().user_id.clone())
                .await
                .into_iter()
                .filter(|e| {
                    e.code == EventCode::AuditRead
                        && e.outcome == Outcome::Refused
                        && e.object
                            .query
                            .as_deref()
                            .is_some_and(|q| q.starts_with("patients-accessed "))
                })
                .count();
            assert_eq!(refused, 1, "{} {}", db.backend, who.actor().user_id);
        }
        let report = vault.verify_audit(&auditor(), &|_, _| {}).await.unwrap();
        assert!(report.is_ok(), "{report:?}");
        vault.close().await.unwrap();
    }
}

fn synthetic_event(n: usize, patient: &str) -> zorgkluis_vault::AuditEvent {
    zorgkluis_vault::AuditEvent {
        event_id: format!("synthetic-{n}"),
        occurred_at: format!("2026-10-{:02}T10:00:00.000Z", 1 + n % 28),
        code: EventCode::Read,
        action: zorgkluis_audit::Action::R,
        event_type: "patient-record".into(),
        outcome: Outcome::Success,
        reason: None,
        controls: zorgkluis_audit::Controls::default(),
        actor: Actor {
            user_id: format!("user-{}", n % 3),
            role: zorgkluis_domain::FunctionalRole::DirectlyInvolved,
            role_name: "gp".into(),
            display: None,
            organisation: None,
            access_point: "10.0.0.1".into(),
            on_behalf_of: None,
        },
        channel: zorgkluis_audit::Channel::OwnOrganisation,
        purpose: "TREAT".into(),
        object: zorgkluis_audit::AuditObject {
            patient_id: Some(patient.into()),
            resource_type: Some("Observation".into()),
            resource_id: Some(format!("o{n}")),
            ..Default::default()
        },
        authorisation_protocol: "test@1".into(),
        consent_profile: "treatment-relationship".into(),
        relationship_protocol: None,
        source: "not-the-bench".into(),
    }
}

#[tokio::test]
async fn synthetic_events_go_only_into_a_benchmark_vault_and_keep_the_chain_intact() {
    for db in all_backends().await {
        // A vault with records refuses them.
        let used = zorgkluis_testkit::sqlite();
        let vault = open(&used).await;
        seed(&vault, "p1").await;
        let operator = Principal::operator("bench-audit", OperatorPurpose::AuditReview);
        assert!(matches!(
            vault
                .append_synthetic_audit_events(&operator, vec![synthetic_event(0, "p1")])
                .await,
            Err(VaultError::Forbidden)
        ));
        vault.close().await.unwrap();

        // An empty vault becomes a benchmark vault, for operator commands only.
        let vault = open(&db).await;
        let officer = staff_free_principal();
        assert!(matches!(
            vault
                .append_synthetic_audit_events(&officer, vec![synthetic_event(0, "p1")])
                .await,
            Err(VaultError::Forbidden)
        ));
        for batch in 0..3 {
            let events = (batch * 100..batch * 100 + 100)
                .map(|n| synthetic_event(n, if n % 2 == 0 { "p1" } else { "p2" }))
                .collect();
            vault
                .append_synthetic_audit_events(&operator, events)
                .await
                .unwrap();
        }
        // Later runs on the same vault may add more, after other events too.
        seed(&vault, "p3").await;
        vault
            .append_synthetic_audit_events(&operator, vec![synthetic_event(300, "p3")])
            .await
            .unwrap();
        let trail = vault
            .audit_for_patient(&auditor(), "p1", 1000)
            .await
            .unwrap();
        assert_eq!(trail.len(), 150, "{}", db.backend);
        assert!(trail.iter().all(|e| e.source == SYNTHETIC_AUDIT_SOURCE));
        let got = vault
            .patients_accessed_by(&auditor(), "user-0", "2026-10-01", "2026-10-31")
            .await
            .unwrap();
        let total: i64 = got.iter().map(|p| p.events).sum();
        assert_eq!(total, 101, "{}", db.backend);
        let report = vault.verify_audit(&auditor(), &|_, _| {}).await.unwrap();
        let report = report.unwrap();
        assert!(report.events > 301, "{}", db.backend);
        vault.close().await.unwrap();
    }
}

/// A principal that is not an operator command.
fn staff_free_principal() -> Principal {
    Principal::Patient {
        actor: Actor {
            user_id: "patient-account".into(),
            role: zorgkluis_domain::FunctionalRole::SubjectOfCare,
            role_name: "patient".into(),
            display: None,
            organisation: None,
            access_point: "127.0.0.1".into(),
            on_behalf_of: None,
        },
        patient_id: "p1".into(),
    }
}
