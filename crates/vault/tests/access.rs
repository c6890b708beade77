//! The access rules through real records, real accounts and the real audit trail, on
//! both backends: facts come from CareTeam and Consent resources, principals from
//! accounts, and every decision (allow and deny) is in the trail.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::{json, Value};
use zorgkluis_auth::{Argon2Cost, Throttle, TotpSecret};
use zorgkluis_policy::records::DIRECTIVE_SYSTEM;
use zorgkluis_testkit::all_backends;
use zorgkluis_vault::{
    AccountKind, LoginAttempt, LoginError, NewAccount, OperatorPurpose, OrganisationSettings,
    Principal, SessionError, Vault, VaultError, CONFIDENTIALITY_VERSION,
};

const SECRET: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
const PASSWORD: &str = "lente-fiets-kanaal-2026";
const NOW: i64 = 1_795_424_400; // 2026-11-23 09:00 UTC, the tests' fixed clock

fn accounts_admin() -> Principal {
    Principal::operator("test-accounts", OperatorPurpose::Accounts)
}

fn org(id: &str, kind: &str, parental: Option<u32>) -> OrganisationSettings {
    OrganisationSettings {
        id: id.into(),
        name: format!("Organisatie {id}"),
        kind: kind.into(),
        region: Some("noord-veluwe".into()),
        agb: None,
        ura: None,
        parental_consent_below: parental,
        locum_for: vec![],
    }
}

async fn staff(
    vault: &Vault,
    login: &str,
    org: &str,
    role: zorgkluis_policy::StaffRole,
    practitioner: &str,
) {
    let created = vault
        .add_account(
            &accounts_admin(),
            NewAccount {
                login: login.into(),
                display_name: format!("Test {login}"),
                email: None,
                password: PASSWORD.into(),
                kind: AccountKind::Staff {
                    organisation_id: org.into(),
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
        .accept_confidentiality(&created.user_id, org, CONFIDENTIALITY_VERSION)
        .await
        .unwrap();
}

async fn as_user(vault: &Vault, login: &str) -> Principal {
    vault
        .principal_for_login(login, "127.0.0.1")
        .await
        .unwrap()
        .unwrap()
}

fn directive(id: &str, kind: &str, status: &str, org: Option<&str>, deny: bool) -> Value {
    let mut c = json!({
        "resourceType": "Consent",
        "id": id,
        "status": status,
        "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}]},
        "category": [{"coding": [{"system": DIRECTIVE_SYSTEM, "code": kind}]}],
        "patient": {"reference": "Patient/p1"},
        "performer": [{"reference": "Patient/p1"}],
        "policyRule": {"coding": [{"system": "urn:zorgkluis:policy", "code": "access-policy"}]},
        "provision": {"type": if deny { "deny" } else { "permit" }}
    });
    if let Some(o) = org {
        c["organization"] = json!([{"reference": format!("Organization/{o}")}]);
    }
    c
}

/// A GP practice with one GP in the patient's care team, an assistant who is not, a
/// pharmacy in the same region and a hospital specialist; the patient has an account.
async fn world(vault: &Vault) {
    for o in [
        org("gp", "gp_practice", None),
        org("pharmacy", "pharmacy", None),
        org("hosp", "hospital_clinic", None),
    ] {
        vault
            .upsert_organisation(&accounts_admin(), &o)
            .await
            .unwrap();
    }
    let load = loader();
    for (rt, id) in [
        ("Organization", "gp"),
        ("Organization", "pharmacy"),
        ("Organization", "hosp"),
    ] {
        vault
            .update(
                &load,
                rt,
                id,
                json!({"resourceType": rt, "id": id, "name": id}),
                None,
            )
            .await
            .unwrap();
    }
    for id in ["dr", "assistant", "apotheker", "specialist"] {
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
    vault
        .update(&load, "Patient", "p1", patient("p1"), None)
        .await
        .unwrap();
    vault
        .update(&load, "CareTeam", "team", json!({
            "resourceType": "CareTeam", "id": "team", "status": "active",
            "subject": {"reference": "Patient/p1"},
            "participant": [{"member": {"reference": "Practitioner/dr"}, "onBehalfOf": {"reference": "Organization/gp"}, "period": {"start": "2020-01-01"}}],
            "managingOrganization": [{"reference": "Organization/gp"}]
        }), None)
        .await
        .unwrap();
    vault
        .update(
            &load,
            "Observation",
            "hba1c",
            observation("hba1c", "p1", "48"),
            None,
        )
        .await
        .unwrap();
    vault
        .update(&load, "MedicationRequest", "med", json!({
            "resourceType": "MedicationRequest", "id": "med", "status": "active", "intent": "order",
            "medicationCodeableConcept": {"text": "metformine 500 mg"},
            "subject": {"reference": "Patient/p1"}
        }), None)
        .await
        .unwrap();
    use zorgkluis_policy::StaffRole::*;
    staff(vault, "huisarts", "gp", Gp, "dr").await;
    staff(vault, "assistent", "gp", Assistant, "assistant").await;
    staff(vault, "apotheker", "pharmacy", Pharmacist, "apotheker").await;
    staff(vault, "specialist", "hosp", MedicalSpecialist, "specialist").await;
    vault
        .add_account(
            &accounts_admin(),
            NewAccount {
                login: "patient".into(),
                display_name: "Geertruida".into(),
                email: None,
                password: PASSWORD.into(),
                kind: AccountKind::Patient {
                    patient_id: "p1".into(),
                },
                with_totp: false,
                fixed_totp_secret: None,
            },
            Argon2Cost::Fast,
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn gp7_assistant_without_relation_is_denied_through_real_records_and_the_denial_is_logged() {
    for db in all_backends().await {
        let vault = open(&db).await;
        world(&vault).await;
        let gp = as_user(&vault, "huisarts").await;
        assert!(
            vault.read(&gp, "Observation", "hba1c").await.is_ok(),
            "{}",
            db.backend
        );
        let assistant = as_user(&vault, "assistent").await;
        assert!(matches!(
            vault.read(&assistant, "Observation", "hba1c").await,
            Err(VaultError::Forbidden)
        ));
        // The patient's overview shows both, with the rule that decided.
        let me = as_user(&vault, "patient").await;
        let trail = vault.audit_for_patient(&me, "p1", 100).await.unwrap();
        let refused = trail
            .iter()
            .find(|e| e.actor.role_name == "assistant")
            .expect("the refusal is in the trail");
        assert_eq!(refused.outcome, zorgkluis_audit::Outcome::Refused);
        assert_eq!(
            refused.reason.as_deref(),
            Some("GP-7 no treatment relationship")
        );
        assert!(trail
            .iter()
            .any(|e| e.actor.role_name == "gp" && e.controls.relationship));
        // Another patient may not read this patient's trail.
        let other = Principal::Patient {
            actor: me.actor().clone(),
            patient_id: "p2".into(),
        };
        assert!(vault.audit_for_patient(&other, "p1", 10).await.is_err());
    }
}

#[tokio::test]
async fn gp10_objection_recorded_by_the_patient_closes_the_pharmacy_at_once() {
    for db in all_backends().await {
        let vault = open(&db).await;
        world(&vault).await;
        let pharmacist = as_user(&vault, "apotheker").await;
        assert!(vault
            .read(&pharmacist, "MedicationRequest", "med")
            .await
            .is_ok());
        assert!(
            vault
                .read(&pharmacist, "Observation", "hba1c")
                .await
                .is_err(),
            "results are not exchanged"
        );
        let me = as_user(&vault, "patient").await;
        vault
            .create(
                &me,
                directive("x", "regional-exchange", "active", None, true),
            )
            .await
            .unwrap();
        assert!(matches!(
            vault.read(&pharmacist, "MedicationRequest", "med").await,
            Err(VaultError::Forbidden)
        ));
    }
}

#[tokio::test]
async fn pc2_health_log_link_requested_accepted_and_revoked_through_consent_versions() {
    for db in all_backends().await {
        let vault = open(&db).await;
        world(&vault).await;
        let me = as_user(&vault, "patient").await;
        let gp = as_user(&vault, "huisarts").await;
        let mut weight = observation("w1", "p1", "81");
        weight["meta"] =
            json!({"tag": [{"system": "urn:zorgkluis:provenance", "code": "patient-entered"}]});
        vault
            .update(&me, "Observation", "w1", weight, None)
            .await
            .unwrap();
        assert!(
            vault.read(&gp, "Observation", "w1").await.is_err(),
            "no link yet"
        );
        vault
            .update(
                &me,
                "Consent",
                "link",
                directive("link", "health-log-link", "proposed", Some("gp"), false),
                None,
            )
            .await
            .unwrap();
        assert!(
            vault.read(&gp, "Observation", "w1").await.is_err(),
            "requested, not accepted"
        );
        vault
            .update(
                &gp,
                "Consent",
                "link",
                directive("link", "health-log-link", "active", Some("gp"), false),
                None,
            )
            .await
            .unwrap();
        assert!(
            vault.read(&gp, "Observation", "w1").await.is_ok(),
            "accepted"
        );
        assert!(vault.read(&gp, "Observation", "hba1c").await.is_ok());
        vault
            .update(
                &me,
                "Consent",
                "link",
                directive("link", "health-log-link", "inactive", Some("gp"), false),
                None,
            )
            .await
            .unwrap();
        assert!(
            vault.read(&gp, "Observation", "w1").await.is_err(),
            "revoked: at once"
        );
        assert_eq!(
            vault.history(&me, "Consent", "link").await.unwrap().len(),
            3,
            "every step is a version"
        );
        // The provider cannot revive the revoked link, nor make one the patient never asked
        // for, nor can the patient accept their own request; each refusal is audited.
        for (who, id, status) in [
            (&gp, "link", "active"),
            (&gp, "made-up", "active"),
            (&me, "self-accepted", "active"),
        ] {
            assert!(
                matches!(
                    vault
                        .update(
                            who,
                            "Consent",
                            id,
                            directive(id, "health-log-link", status, Some("gp"), false),
                            None,
                        )
                        .await,
                    Err(VaultError::Forbidden)
                ),
                "{id} must be refused"
            );
        }
        assert!(
            vault.read(&gp, "Observation", "w1").await.is_err(),
            "still no access after the refused writes"
        );
        // The patient cannot rewrite a professional finding, nor turn it into own data.
        let mut relabelled = observation("hba1c", "p1", "30");
        relabelled["meta"] =
            json!({"tag": [{"system": "urn:zorgkluis:provenance", "code": "patient-entered"}]});
        assert!(matches!(
            vault
                .update(&me, "Observation", "hba1c", relabelled, None)
                .await,
            Err(VaultError::Forbidden)
        ));
    }
}

#[tokio::test]
async fn break_the_glass_is_flagged_time_boxed_and_shown_to_the_patient() {
    for db in all_backends().await {
        let vault = open(&db).await;
        world(&vault).await;
        let specialist = as_user(&vault, "specialist").await;
        assert!(vault
            .read(&specialist, "Observation", "hba1c")
            .await
            .is_err());
        assert!(
            vault.break_glass(&specialist, "p1", "kort").await.is_err(),
            "a reason is needed"
        );
        let until = vault
            .break_glass(&specialist, "p1", "bewusteloos binnengebracht op de SEH")
            .await
            .unwrap();
        assert_eq!(until, NOW + zorgkluis_vault::EMERGENCY_MINUTES * 60);
        let read = vault.read(&specialist, "Observation", "hba1c").await;
        assert!(read.is_ok());
        let me = as_user(&vault, "patient").await;
        let trail = vault.audit_for_patient(&me, "p1", 100).await.unwrap();
        let emergency_reads: Vec<_> = trail
            .iter()
            .filter(|e| e.actor.role_name == "medical_specialist" && e.controls.emergency)
            .collect();
        assert!(
            emergency_reads
                .iter()
                .any(|e| e.code == zorgkluis_audit::EventCode::EmergencyAccess),
            "the start, with its reason"
        );
        assert!(emergency_reads
            .iter()
            .any(|e| e.code == zorgkluis_audit::EventCode::Read && e.purpose == "ETREAT"));
        // Queued for the privacy officer's review; not readable by the clinician.
        staff(
            &vault,
            "fg",
            "gp",
            zorgkluis_policy::StaffRole::PrivacyOfficer,
            "fg",
        )
        .await;
        let privacy_officer = as_user(&vault, "fg").await;
        let queue = vault
            .emergency_review_queue(&privacy_officer)
            .await
            .unwrap();
        assert_eq!(queue.len(), 1);
        assert_eq!(queue[0].reason, "bewusteloos binnengebracht op de SEH");
        assert!(vault.emergency_review_queue(&specialist).await.is_err());
    }
}

#[tokio::test]
async fn pt6_login_needs_the_second_factor_throttles_and_disabling_ends_sessions_on_the_next_request(
) {
    for db in all_backends().await {
        let vault = open(&db).await;
        world(&vault).await;
        let throttle = Throttle::default();
        let attempt = |password, code| LoginAttempt {
            login: "Huisarts",
            password,
            second_factor: code,
            address: "192.0.2.10",
            user_agent: "Firefox/140 (Linux)",
        };
        assert_eq!(
            vault.login(&throttle, attempt(PASSWORD, None)).await.err(),
            Some(LoginError::SecondFactorRequired)
        );
        let code = TotpSecret::from_base32(SECRET).unwrap().code_at(NOW);
        let session = vault
            .login(&throttle, attempt(PASSWORD, Some(&code)))
            .await
            .unwrap();
        let p = vault
            .principal_for_session(&session.token, "192.0.2.10")
            .await
            .unwrap();
        assert_eq!(p.actor().role_name, "gp");
        // The same code cannot be used twice.
        assert_eq!(
            vault
                .login(&throttle, attempt(PASSWORD, Some(&code)))
                .await
                .err(),
            Some(LoginError::Invalid)
        );
        for _ in 0..4 {
            assert!(vault
                .login(&throttle, attempt("wrong-password-123", None))
                .await
                .is_err());
        }
        assert!(matches!(
            vault.login(&throttle, attempt(PASSWORD, Some(&code))).await,
            Err(LoginError::Locked { .. })
        ));
        vault
            .set_account_disabled(&accounts_admin(), "huisarts", true)
            .await
            .unwrap();
        assert_eq!(
            vault
                .principal_for_session(&session.token, "192.0.2.10")
                .await
                .err(),
            Some(SessionError::Unauthenticated)
        );
        assert!(vault
            .principal_for_login("huisarts", "x")
            .await
            .unwrap()
            .is_none());
        // HP-5: every login, failure and lockout is in the trail with address and device.
        vault.flush_audit().await.unwrap();
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
        let payloads: Vec<String> = sqlx::query_scalar(
            "SELECT payload FROM audit_events WHERE code = 'login' ORDER BY seq",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        assert!(payloads.len() >= 7, "{payloads:?}");
        assert!(payloads
            .iter()
            .all(|p| p.contains("192.0.2.10") && p.contains("Firefox/140")));
        assert!(payloads
            .iter()
            .any(|p| p.contains("\"outcome\":\"success\"") && p.contains("session ")));
        assert!(payloads.iter().any(|p| p.contains("lockout")));
        assert!(
            payloads.iter().all(|p| !p.contains(PASSWORD)),
            "no password in the log"
        );
        // Staff cannot manage accounts unless they are administrators.
        let gp_like = as_user(&vault, "assistent").await;
        assert!(matches!(
            vault.set_account_disabled(&gp_like, "patient", true).await,
            Err(VaultError::Forbidden)
        ));
    }
}

#[tokio::test]
async fn co8_passwords_follow_the_policy_and_logins_are_personal() {
    for db in all_backends().await {
        let vault = open(&db).await;
        world(&vault).await;
        let weak = NewAccount {
            login: "nieuw".into(),
            display_name: "Nieuwe Collega".into(),
            email: None,
            password: "wachtwoord".into(),
            kind: AccountKind::Patient {
                patient_id: "p1".into(),
            },
            with_totp: false,
            fixed_totp_secret: None,
        };
        assert!(matches!(
            vault
                .add_account(&accounts_admin(), weak.clone(), Argon2Cost::Fast)
                .await,
            Err(VaultError::Password(_))
        ));
        let taken = NewAccount {
            login: "HUISARTS".into(),
            password: PASSWORD.into(),
            ..weak
        };
        assert!(matches!(
            vault
                .add_account(&accounts_admin(), taken, Argon2Cost::Fast)
                .await,
            Err(VaultError::Account(_))
        ));
        let bad_big = NewAccount {
            login: "nieuwe.arts".into(),
            display_name: "Nieuwe Arts".into(),
            email: None,
            password: PASSWORD.into(),
            kind: AccountKind::Staff {
                organisation_id: "gp".into(),
                role: zorgkluis_policy::StaffRole::Gp,
                practitioner_id: None,
                agb: None,
                big: Some("1234".into()),
                rights: None,
            },
            with_totp: true,
            fixed_totp_secret: None,
        };
        assert!(
            matches!(vault.add_account(&accounts_admin(), bad_big, Argon2Cost::Fast).await, Err(VaultError::Account(m)) if m.contains("BIG"))
        );
        let listed = vault.accounts(&accounts_admin()).await.unwrap();
        assert!(listed
            .iter()
            .filter(|a| a.kind == "staff")
            .all(|a| a.second_factor && a.roles.iter().all(|r| r.2)));
    }
}

#[tokio::test]
async fn co8_personal_rights_narrow_a_role_and_passwords_are_not_reused() {
    for db in all_backends().await {
        let vault = open(&db).await;
        world(&vault).await;
        let mut narrowed = zorgkluis_policy::Rights::role_default(zorgkluis_policy::StaffRole::Gp);
        narrowed.read = narrowed.read.without(zorgkluis_policy::Categories::of(&[
            zorgkluis_policy::Category::Results,
        ]));
        vault
            .set_rights(&accounts_admin(), "huisarts", "gp", Some(narrowed))
            .await
            .unwrap();
        let gp = as_user(&vault, "huisarts").await;
        assert!(matches!(
            vault.read(&gp, "Observation", "hba1c").await,
            Err(VaultError::Forbidden)
        ));
        assert!(vault.read(&gp, "MedicationRequest", "med").await.is_ok());
        vault
            .set_rights(&accounts_admin(), "huisarts", "gp", None)
            .await
            .unwrap();
        let gp = as_user(&vault, "huisarts").await;
        assert!(
            vault.read(&gp, "Observation", "hba1c").await.is_ok(),
            "back to the role's defaults"
        );

        let me = as_user(&vault, "patient").await;
        let reused = vault
            .change_password(&me, PASSWORD, PASSWORD, Argon2Cost::Fast)
            .await;
        assert!(
            matches!(reused, Err(VaultError::Password(p)) if p.contains(&zorgkluis_auth::PasswordProblem::Reused))
        );
        assert!(matches!(
            vault
                .change_password(
                    &me,
                    "not-my-password",
                    "herfst-bladeren-veld-31",
                    Argon2Cost::Fast
                )
                .await,
            Err(VaultError::Forbidden)
        ));
        vault
            .change_password(&me, PASSWORD, "herfst-bladeren-veld-31", Argon2Cost::Fast)
            .await
            .unwrap();
        let throttle = Throttle::default();
        let login = |password| LoginAttempt {
            login: "patient",
            password,
            second_factor: None,
            address: "192.0.2.7",
            user_agent: "test",
        };
        assert!(vault.login(&throttle, login(PASSWORD)).await.is_err());
        assert!(vault
            .login(&throttle, login("herfst-bladeren-veld-31"))
            .await
            .is_ok());
        let back = vault
            .change_password(&me, "herfst-bladeren-veld-31", PASSWORD, Argon2Cost::Fast)
            .await;
        assert!(
            matches!(back, Err(VaultError::Password(_))),
            "an earlier password is refused"
        );
    }
}

#[tokio::test]
async fn pc5_technical_access_is_an_explicit_time_limited_logged_grant() {
    for db in all_backends().await {
        let vault = open(&db).await;
        world(&vault).await;
        staff(
            &vault,
            "beheer",
            "gp",
            zorgkluis_policy::StaffRole::Administrator,
            "beheer",
        )
        .await;
        let admin = as_user(&vault, "beheer").await;
        assert!(matches!(
            vault.read(&admin, "Observation", "hba1c").await,
            Err(VaultError::Forbidden)
        ));
        assert!(
            vault
                .grant_technical_access(&accounts_admin(), "beheer", "p1", 30, "kort")
                .await
                .is_err(),
            "a reason is needed"
        );
        vault
            .grant_technical_access(
                &accounts_admin(),
                "beheer",
                "p1",
                30,
                "herstel van een beschadigde import, ticket 4711",
            )
            .await
            .unwrap();
        let admin = as_user(&vault, "beheer").await;
        let read = vault.read(&admin, "Observation", "hba1c").await;
        assert!(read.is_ok());
        assert!(
            matches!(
                vault
                    .update(
                        &admin,
                        "Observation",
                        "hba1c",
                        observation("hba1c", "p1", "1"),
                        None
                    )
                    .await,
                Err(VaultError::Forbidden)
            ),
            "read only"
        );
        let me = as_user(&vault, "patient").await;
        let trail = vault.audit_for_patient(&me, "p1", 200).await.unwrap();
        assert!(trail.iter().any(
            |e| e.actor.role_name == "administrator" && e.consent_profile == "technical-grant"
        ));
        assert!(trail.iter().any(|e| e
            .reason
            .as_deref()
            .is_some_and(|r| r.contains("technical access granted to beheer"))));
    }
}
