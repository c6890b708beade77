//! The privacy officer's review of emergency accesses (break-the-glass, NEN 7513), on both
//! backends: the queue shows who, which patient, why and what was accessed; a review needs
//! a remark, is kept with reviewer and date, is never overwritten, and is itself audited.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use zorgkluis_audit::{EventCode, Outcome};
use zorgkluis_auth::Argon2Cost;
use zorgkluis_policy::StaffRole;
use zorgkluis_testkit::all_backends;
use zorgkluis_vault::{
    AccountKind, NewAccount, OperatorPurpose, OrganisationSettings, Principal, Vault, VaultError,
    CONFIDENTIALITY_VERSION,
};

const PASSWORD: &str = "lente-fiets-kanaal-2026";
const SECRET: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";

fn accounts_admin() -> Principal {
    Principal::operator("test-accounts", OperatorPurpose::Accounts)
}

async fn staff(vault: &Vault, login: &str, role: StaffRole, practitioner: &str) -> String {
    let created = vault
        .add_account(
            &accounts_admin(),
            NewAccount {
                login: login.into(),
                display_name: format!("Test {login}"),
                email: None,
                password: PASSWORD.into(),
                kind: AccountKind::Staff {
                    organisation_id: "gp".into(),
                    role,
                    practitioner_id: Some(practitioner.into()),
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
        .accept_confidentiality(&created.user_id, "gp", CONFIDENTIALITY_VERSION)
        .await
        .unwrap();
    created.user_id
}

async fn as_user(vault: &Vault, login: &str) -> Principal {
    vault
        .principal_for_login(login, "127.0.0.1")
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn nen7513_break_the_glass_is_reviewed_by_the_privacy_officer_with_a_remark_that_is_kept() {
    for db in all_backends().await {
        let vault = open(&db).await;
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
        seed(&vault, "p1").await;
        let nurse_id = staff(&vault, "verpleegkundige", StaffRole::Nurse, "nurse").await;
        let po_id = staff(&vault, "fg", StaffRole::PrivacyOfficer, "fg").await;
        let nurse = as_user(&vault, "verpleegkundige").await;
        let po = as_user(&vault, "fg").await;

        // No relationship: refused; the emergency procedure opens the record for reading.
        assert!(matches!(
            vault.read(&nurse, "Observation", "p1-obs").await,
            Err(VaultError::Forbidden)
        ));
        vault
            .break_glass(&nurse, "p1", "bewusteloos binnengebracht op de SEH")
            .await
            .unwrap();
        vault.read(&nurse, "Observation", "p1-obs").await.unwrap();

        // Only whoever may read the whole trail sees the queue; the refusal is logged.
        assert!(matches!(
            vault.emergency_reviews(&nurse, 10).await,
            Err(VaultError::Forbidden)
        ));
        assert!(matches!(
            vault.review_emergency(&nurse, "x", "mag niet").await,
            Err(VaultError::Forbidden)
        ));

        let queue = vault.emergency_reviews(&po, 10).await.unwrap();
        assert_eq!(queue.open.len(), 1, "{}", db.backend);
        assert!(queue.reviewed.is_empty());
        let item = &queue.open[0];
        assert_eq!(item.patient_id, "p1");
        assert_eq!(item.actor.user_id, nurse_id);
        assert_eq!(item.actor.name.as_deref(), Some("Test verpleegkundige"));
        assert_eq!(item.actor.role.as_deref(), Some("nurse"));
        assert_eq!(item.actor.organisation.as_deref(), Some("gp"));
        assert_eq!(item.reason, "bewusteloos binnengebracht op de SEH");
        assert!(item.until > item.started_at);
        // What was accessed in the window: the emergency itself and the read after it.
        assert!(item
            .accessed
            .iter()
            .any(|e| e.code == EventCode::EmergencyAccess && e.event_id == item.id));
        assert!(item.accessed.iter().any(|e| e.code == EventCode::Read
            && e.outcome == Outcome::Success
            && e.controls.emergency
            && e.object.resource_id.as_deref() == Some("p1-obs")));

        // A review needs a remark.
        assert!(matches!(
            vault.review_emergency(&po, &item.id, "   ").await,
            Err(VaultError::Invalid(_))
        ));
        assert!(matches!(
            vault.review_emergency(&po, "no-such-id", "gezien").await,
            Err(VaultError::NotFound)
        ));
        vault
            .review_emergency(
                &po,
                &item.id,
                "  Terecht: patiënt op de SEH, gesproken met collega.  ",
            )
            .await
            .unwrap();
        // Never overwritten.
        assert!(matches!(
            vault.review_emergency(&po, &item.id, "nog een keer").await,
            Err(VaultError::NotFound)
        ));

        let after = vault.emergency_reviews(&po, 10).await.unwrap();
        assert!(after.open.is_empty(), "a reviewed access leaves the queue");
        assert_eq!(after.reviewed.len(), 1);
        let done = after.reviewed[0].review.as_ref().unwrap();
        assert_eq!(
            done.remark,
            "Terecht: patiënt op de SEH, gesproken met collega."
        );
        assert_eq!(done.reviewer.user_id, po_id);
        assert_eq!(done.reviewer.name.as_deref(), Some("Test fg"));
        assert!(done.at.starts_with("2026-11-23"));

        // The review is in the patient's trail (without the remark), and so are the reads
        // of the queue.
        let trail = vault
            .audit_for_patient(&auditor(), "p1", 100)
            .await
            .unwrap();
        let review_event = trail
            .iter()
            .find(|e| {
                e.code == EventCode::AuditRead
                    && e.actor.user_id == po_id
                    && e.reason.as_deref()
                        == Some(&*format!("emergency access {} reviewed", item.id))
            })
            .expect("the review is audited under the patient");
        assert!(!review_event
            .reason
            .as_deref()
            .unwrap_or("")
            .contains("Terecht"));
        let all = vault
            .audit_search(
                &auditor(),
                &zorgkluis_vault::AuditFilter {
                    user_id: Some(po_id.clone()),
                    limit: 100,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert!(all.iter().any(|e| e
            .reason
            .as_deref()
            .is_some_and(|r| r.starts_with("emergency review queue read: 1 open"))));
    }
}

#[tokio::test]
async fn nen7513_the_privacy_officer_finds_a_patient_by_bsn_and_an_account_by_login_without_opening_data(
) {
    for db in all_backends().await {
        let vault = open(&db).await;
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
        seed(&vault, "p1").await;
        let gp_id = staff(&vault, "huisarts", StaffRole::Gp, "dr").await;
        staff(&vault, "fg", StaffRole::PrivacyOfficer, "fg").await;
        let po = as_user(&vault, "fg").await;
        let gp = as_user(&vault, "huisarts").await;
        let bsn_system = "http://fhir.nl/fhir/NamingSystem/bsn";
        assert_eq!(
            vault
                .audit_patients_by_identifier(&po, bsn_system, BSN)
                .await
                .unwrap(),
            vec!["p1".to_owned()],
            "{}",
            db.backend
        );
        assert!(vault
            .audit_patients_by_identifier(&po, bsn_system, "999911120")
            .await
            .unwrap()
            .is_empty());
        assert_eq!(
            vault.audit_user_by_login(&po, "HuisArts").await.unwrap(),
            Some(gp_id)
        );
        assert_eq!(
            vault.audit_user_by_login(&po, "niemand").await.unwrap(),
            None
        );
        // Not for staff who may not read the trail.
        assert!(matches!(
            vault
                .audit_patients_by_identifier(&gp, bsn_system, BSN)
                .await,
            Err(VaultError::Forbidden)
        ));
        assert!(matches!(
            vault.audit_user_by_login(&gp, "fg").await,
            Err(VaultError::Forbidden)
        ));
        // The look-up is audited without the number.
        let trail = vault
            .audit_search(
                &auditor(),
                &zorgkluis_vault::AuditFilter {
                    limit: 1000,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert!(trail.iter().any(|e| e
            .object
            .query
            .as_deref()
            .is_some_and(|q| q == format!("audit-trail patient identifier={bsn_system}|***"))));
        assert!(!serde_json::to_string(&trail).unwrap().contains(BSN));
    }
}
