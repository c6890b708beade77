//! Account storage: the same cases on SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use zorgkluis_store::*;
use zorgkluis_testkit::{all_backends, TestDb};

const T0: &str = "2026-11-23T05:00:00.000Z";
const T1: &str = "2026-11-23T06:00:00.000Z";
const T2: &str = "2026-11-23T07:00:00.000Z";

async fn open(db: &TestDb) -> SqlStore {
    zorgkluis_store::open(&db.url).await.unwrap()
}

fn org(id: &str, name: &str) -> OrganisationRow {
    OrganisationRow {
        id: id.into(),
        name: name.into(),
        kind: "general-practice".into(),
        region: Some("Utrecht".into()),
        agb: Some("01012345".into()),
        ura: None,
        parental_consent_below: Some(16),
        settings: r#"{"locum":[]}"#.into(),
        updated_at: T0.into(),
    }
}

fn user(id: &str, login: &str) -> UserRow {
    UserRow {
        id: id.into(),
        login: login.into(),
        display_name: format!("User {id}"),
        kind: "staff".into(),
        email: Some(format!("{id}@example.nl")),
        password_hash: Some("$argon2id$v=19$m=19456,t=2,p=1$SECRETSALT$SECRETHASH".into()),
        password_history: r#"["$argon2id$OLDHASH"]"#.into(),
        totp_secret: Some("sealed-TOTPSECRET".into()),
        totp_last_step: None,
        recovery_codes: r#"["RECOVERYHASH"]"#.into(),
        patient_id: None,
        disabled: false,
        created_at: T0.into(),
        updated_at: T0.into(),
    }
}

fn role(user_id: &str, org_id: &str, role: &str, practitioner: Option<&str>) -> StaffRoleRow {
    StaffRoleRow {
        user_id: user_id.into(),
        organisation_id: org_id.into(),
        role: role.into(),
        practitioner_id: practitioner.map(str::to_owned),
        agb: None,
        big: Some("19012345601".into()),
        rights: None,
        confidentiality_version: None,
        confidentiality_accepted_at: None,
    }
}

fn session(token: &str, user_id: &str) -> SessionRow {
    SessionRow {
        token_hash: token.into(),
        user_id: user_id.into(),
        organisation_id: Some("org-1".into()),
        created_at: T0.into(),
        last_seen_at: T0.into(),
        revoked_at: None,
        address: "192.0.2.1".into(),
        user_agent: "test".into(),
    }
}

fn grant(id: &str, user_id: &str, granted_at: &str, until_unix: i64) -> GrantRow {
    GrantRow {
        id: id.into(),
        user_id: user_id.into(),
        patient_id: "p1".into(),
        reason: "migration of records".into(),
        granted_by: "admin".into(),
        granted_at: granted_at.into(),
        until_unix,
    }
}

fn emergency(id: &str, patient_id: &str, started_at: &str, until_unix: i64) -> EmergencyRow {
    EmergencyRow {
        id: id.into(),
        user_id: "u1".into(),
        patient_id: patient_id.into(),
        reason: "unconscious at the door".into(),
        started_at: started_at.into(),
        until_unix,
        reviewed_by: None,
        reviewed_at: None,
        review_note: None,
    }
}

#[tokio::test]
async fn organisations_are_upserted_read_and_listed_by_name() {
    for db in all_backends().await {
        let store = open(&db).await;
        let b = db.backend;
        assert_eq!(store.organisation("org-1").await.unwrap(), None, "{b}");
        let first = org("org-1", "Zuid Praktijk");
        store.upsert_organisation(&first).await.unwrap();
        assert_eq!(
            store.organisation("org-1").await.unwrap(),
            Some(first.clone()),
            "{b}"
        );
        let changed = OrganisationRow {
            name: "Huisartsen Zuid".into(),
            region: None,
            ura: Some("12345678".into()),
            parental_consent_below: None,
            settings: r#"{"locum":["org-2"]}"#.into(),
            updated_at: T1.into(),
            ..first
        };
        store.upsert_organisation(&changed).await.unwrap();
        let other = org("org-2", "Apotheek Noord");
        store.upsert_organisation(&other).await.unwrap();
        assert_eq!(
            store.organisation("org-1").await.unwrap(),
            Some(changed.clone()),
            "{b}"
        );
        assert_eq!(
            store.organisations().await.unwrap(),
            vec![other, changed],
            "{b}"
        );
        store.close().await;
    }
}

#[tokio::test]
async fn users_are_inserted_found_case_insensitively_updated_and_disabled() {
    for db in all_backends().await {
        let store = open(&db).await;
        let b = db.backend;
        let anna = user("u1", "Anna.Jansen");
        store.insert_user(&anna).await.unwrap();
        let stored = UserRow {
            login: "anna.jansen".into(),
            ..anna.clone()
        };
        assert_eq!(
            store.user_by_login("ANNA.jansen").await.unwrap(),
            Some(stored.clone()),
            "{b}"
        );
        assert_eq!(
            store.user_by_id("u1").await.unwrap(),
            Some(stored.clone()),
            "{b}"
        );
        assert_eq!(store.user_by_login("anna").await.unwrap(), None, "{b}");
        assert_eq!(store.user_by_id("nobody").await.unwrap(), None, "{b}");

        let bram = user("u2", "bram");
        store.insert_user(&bram).await.unwrap();
        assert_eq!(
            store
                .users()
                .await
                .unwrap()
                .into_iter()
                .map(|u| u.login)
                .collect::<Vec<_>>(),
            ["anna.jansen", "bram"],
            "{b}"
        );

        let updated = UserRow {
            login: "anna.devries".into(),
            display_name: "Anna de Vries".into(),
            kind: "representative".into(),
            email: None,
            password_hash: Some("$argon2id$NEW".into()),
            password_history: r#"["$argon2id$OLDHASH","$argon2id$SECRETHASH"]"#.into(),
            totp_secret: None,
            totp_last_step: Some(58_000_000),
            recovery_codes: "[]".into(),
            patient_id: Some("p9".into()),
            disabled: true,
            updated_at: T1.into(),
            ..stored.clone()
        };
        store.update_user(&updated).await.unwrap();
        assert_eq!(
            store.user_by_id("u1").await.unwrap(),
            Some(updated.clone()),
            "{b}"
        );
        assert_eq!(
            store.user_by_login("anna.jansen").await.unwrap(),
            None,
            "{b}"
        );

        assert!(
            store.set_user_disabled("u1", false, T2).await.unwrap(),
            "{b}"
        );
        let enabled = store.user_by_id("u1").await.unwrap().unwrap();
        assert!(!enabled.disabled, "{b}");
        assert_eq!(enabled.updated_at, T2, "{b}");
        assert!(
            store.set_user_disabled("u2", true, T2).await.unwrap(),
            "{b}"
        );
        assert!(
            store.user_by_id("u2").await.unwrap().unwrap().disabled,
            "{b}"
        );
        assert!(
            !store.set_user_disabled("nobody", true, T2).await.unwrap(),
            "{b}"
        );
        store.close().await;
    }
}

#[tokio::test]
async fn a_login_in_use_in_any_case_is_refused_as_duplicate() {
    for db in all_backends().await {
        let store = open(&db).await;
        let b = db.backend;
        store.insert_user(&user("u1", "anna")).await.unwrap();
        let err = store.insert_user(&user("u2", "ANNA")).await.unwrap_err();
        assert!(matches!(err, StoreError::Duplicate), "{b}: {err:?}");
        assert_eq!(store.user_by_id("u2").await.unwrap(), None, "{b}");

        store.insert_user(&user("u3", "bram")).await.unwrap();
        let mut renamed = store.user_by_id("u3").await.unwrap().unwrap();
        renamed.login = "Anna".into();
        let err = store.update_user(&renamed).await.unwrap_err();
        assert!(matches!(err, StoreError::Duplicate), "{b}: {err:?}");
        store.close().await;
    }
}

#[test]
fn user_debug_redacts_hashes_and_secrets() {
    let shown = format!("{:?}", user("u1", "anna"));
    for secret in [
        "SECRETHASH",
        "SECRETSALT",
        "OLDHASH",
        "TOTPSECRET",
        "RECOVERYHASH",
    ] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
    assert!(
        shown.contains("anna") && shown.contains("<redacted>"),
        "{shown}"
    );
    let pretty = format!("{:#?}", user("u1", "anna"));
    assert!(!pretty.contains("SECRETHASH"), "{pretty}");
}

#[tokio::test]
async fn staff_roles_are_replaced_on_upsert_and_found_by_practitioner() {
    for db in all_backends().await {
        let store = open(&db).await;
        let b = db.backend;
        store.insert_user(&user("u1", "anna")).await.unwrap();
        store.insert_user(&user("u2", "bram")).await.unwrap();
        store
            .upsert_staff_role(&role("u1", "org-1", "assistant", None))
            .await
            .unwrap();
        let replaced = StaffRoleRow {
            rights: Some(r#"["read"]"#.into()),
            confidentiality_version: Some("2026-1".into()),
            confidentiality_accepted_at: Some(T1.into()),
            agb: Some("01099999".into()),
            ..role("u1", "org-1", "gp", Some("prac-1"))
        };
        store.upsert_staff_role(&replaced).await.unwrap();
        let second_org = role("u1", "org-2", "gp", Some("prac-1"));
        store.upsert_staff_role(&second_org).await.unwrap();
        let other = role("u2", "org-1", "nurse", Some("prac-2"));
        store.upsert_staff_role(&other).await.unwrap();

        assert_eq!(
            store.staff_roles("u1").await.unwrap(),
            vec![replaced.clone(), second_org.clone()],
            "{b}"
        );
        assert_eq!(
            store.staff_for_practitioner("prac-1").await.unwrap(),
            vec![replaced, second_org],
            "{b}"
        );
        assert_eq!(
            store.staff_for_practitioner("prac-2").await.unwrap(),
            vec![other],
            "{b}"
        );
        assert!(store.staff_roles("nobody").await.unwrap().is_empty(), "{b}");
        store.close().await;
    }
}

#[tokio::test]
async fn adding_a_representation_twice_keeps_one() {
    for db in all_backends().await {
        let store = open(&db).await;
        let b = db.backend;
        let rep = RepresentationRow {
            user_id: "u5".into(),
            patient_id: "p1".into(),
            related_person_id: "rp-1".into(),
        };
        let rep2 = RepresentationRow {
            patient_id: "p2".into(),
            related_person_id: "rp-2".into(),
            ..rep.clone()
        };
        store.add_representation(&rep).await.unwrap();
        store.add_representation(&rep2).await.unwrap();
        store.add_representation(&rep).await.unwrap();
        assert_eq!(
            store.representations("u5").await.unwrap(),
            vec![rep, rep2],
            "{b}"
        );
        assert!(store.representations("u6").await.unwrap().is_empty(), "{b}");
        store.close().await;
    }
}

#[tokio::test]
async fn sessions_are_touched_while_valid_and_revoked_once() {
    for db in all_backends().await {
        let store = open(&db).await;
        let b = db.backend;
        let s1 = session("h1", "u1");
        store.insert_session(&s1).await.unwrap();
        store.insert_session(&session("h2", "u1")).await.unwrap();
        store.insert_session(&session("h3", "u1")).await.unwrap();
        store.insert_session(&session("h4", "u2")).await.unwrap();
        let err = store.insert_session(&s1).await.unwrap_err();
        assert!(matches!(err, StoreError::Duplicate), "{b}: {err:?}");
        assert_eq!(store.session("h1").await.unwrap(), Some(s1.clone()), "{b}");
        assert_eq!(store.session("nope").await.unwrap(), None, "{b}");

        store.touch_session("h1", T1).await.unwrap();
        assert_eq!(
            store.session("h1").await.unwrap().unwrap().last_seen_at,
            T1,
            "{b}"
        );

        assert!(store.revoke_session("h1", T2).await.unwrap(), "{b}");
        assert!(!store.revoke_session("h1", T2).await.unwrap(), "{b}");
        assert!(!store.revoke_session("nope", T2).await.unwrap(), "{b}");
        let revoked = store.session("h1").await.unwrap().unwrap();
        assert_eq!(revoked.revoked_at.as_deref(), Some(T2), "{b}");
        // A revoked session is no longer touched.
        store
            .touch_session("h1", "2026-11-23T08:00:00.000Z")
            .await
            .unwrap();
        assert_eq!(
            store.session("h1").await.unwrap().unwrap().last_seen_at,
            T1,
            "{b}"
        );

        // Only the two sessions of u1 still valid are revoked; u2's stays.
        assert_eq!(
            store.revoke_user_sessions("u1", T2).await.unwrap(),
            2,
            "{b}"
        );
        assert_eq!(
            store.revoke_user_sessions("u1", T2).await.unwrap(),
            0,
            "{b}"
        );
        for h in ["h2", "h3"] {
            let s = store.session(h).await.unwrap().unwrap();
            assert_eq!(s.revoked_at.as_deref(), Some(T2), "{b} {h}");
        }
        assert_eq!(
            store.session("h4").await.unwrap().unwrap().revoked_at,
            None,
            "{b}"
        );
        store.close().await;
    }
}

#[tokio::test]
async fn grants_are_returned_only_while_in_force() {
    for db in all_backends().await {
        let store = open(&db).await;
        let b = db.backend;
        let early = grant("g1", "u1", T0, 1_000);
        let late = grant("g2", "u1", T1, 2_000);
        store.insert_grant(&late).await.unwrap();
        store.insert_grant(&early).await.unwrap();
        store
            .insert_grant(&grant("g3", "u2", T0, 5_000))
            .await
            .unwrap();
        let err = store.insert_grant(&early).await.unwrap_err();
        assert!(matches!(err, StoreError::Duplicate), "{b}: {err:?}");

        assert_eq!(
            store.grants_for_user("u1", 999).await.unwrap(),
            vec![early.clone(), late.clone()],
            "{b}"
        );
        assert_eq!(
            store.grants_for_user("u1", 1_000).await.unwrap(),
            vec![early, late.clone()],
            "{b}: in force up to and including until_unix"
        );
        assert_eq!(
            store.grants_for_user("u1", 1_001).await.unwrap(),
            vec![late],
            "{b}"
        );
        assert!(
            store.grants_for_user("u1", 2_001).await.unwrap().is_empty(),
            "{b}"
        );
        store.close().await;
    }
}

#[tokio::test]
async fn emergencies_are_filtered_by_time_listed_until_reviewed_and_reviewed_once() {
    for db in all_backends().await {
        let store = open(&db).await;
        let b = db.backend;
        let oldest = emergency("e1", "p1", T0, 1_000);
        let newer = emergency("e2", "p1", T1, 2_000);
        let other_patient = emergency("e3", "p2", T2, 3_000);
        store.insert_emergency(&newer).await.unwrap();
        store.insert_emergency(&other_patient).await.unwrap();
        store.insert_emergency(&oldest).await.unwrap();
        let err = store.insert_emergency(&oldest).await.unwrap_err();
        assert!(matches!(err, StoreError::Duplicate), "{b}: {err:?}");

        assert_eq!(
            store.emergencies_for_patient("p1", 1_000).await.unwrap(),
            vec![oldest.clone(), newer.clone()],
            "{b}"
        );
        assert_eq!(
            store.emergencies_for_patient("p1", 1_500).await.unwrap(),
            vec![newer.clone()],
            "{b}"
        );
        assert!(
            store
                .emergencies_for_patient("p1", 2_001)
                .await
                .unwrap()
                .is_empty(),
            "{b}"
        );

        assert_eq!(
            store.unreviewed_emergencies().await.unwrap(),
            vec![oldest.clone(), newer.clone(), other_patient.clone()],
            "{b}: oldest first"
        );
        assert!(
            store
                .review_emergency("e1", "privacy-officer", T2, "justified")
                .await
                .unwrap(),
            "{b}"
        );
        assert!(
            !store
                .review_emergency("e1", "someone-else", T2, "overwrite")
                .await
                .unwrap(),
            "{b}: a review is not overwritten"
        );
        assert!(
            !store.review_emergency("nope", "x", T2, "x").await.unwrap(),
            "{b}"
        );
        assert_eq!(
            store.unreviewed_emergencies().await.unwrap(),
            vec![newer, other_patient],
            "{b}"
        );
        let reviewed = store.emergencies_for_patient("p1", 0).await.unwrap();
        assert_eq!(
            reviewed[0],
            EmergencyRow {
                reviewed_by: Some("privacy-officer".into()),
                reviewed_at: Some(T2.into()),
                review_note: Some("justified".into()),
                ..oldest
            },
            "{b}"
        );
        store.close().await;
    }
}
