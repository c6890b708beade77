//! HP-4+: personal notes are readable by the patient alone, through every path.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use zorgkluis_auth::Argon2Cost;
use zorgkluis_domain::{Actor, FunctionalRole};
use zorgkluis_testkit::all_backends;
use zorgkluis_vault::{OperatorPurpose, Principal, VaultError};

const NOTE: &str = "Mijn eigen notitie: ik zie op tegen de operatie van 12 december";

fn me() -> Principal {
    Principal::Patient {
        actor: Actor {
            user_id: "u-p1".into(),
            role: FunctionalRole::SubjectOfCare,
            role_name: "patient".into(),
            display: None,
            organisation: None,
            access_point: "127.0.0.1".into(),
            on_behalf_of: None,
        },
        patient_id: "p1".into(),
    }
}

#[tokio::test]
async fn hp4_personal_notes_are_readable_by_the_patient_alone_through_every_path() {
    for db in all_backends().await {
        let vault = open(&db).await;
        vault
            .update(&loader(), "Patient", "p1", patient("p1"), None)
            .await
            .unwrap();
        let (first, recovery) = vault
            .write_personal_note(&me(), "mijn-wachtwoord-2026", None, NOTE, Argon2Cost::Fast)
            .await
            .unwrap();
        let recovery =
            recovery.expect("the first note sets up the lock and shows the recovery key once");
        let (_, again) = vault
            .write_personal_note(
                &me(),
                "mijn-wachtwoord-2026",
                Some(&first.id),
                &format!("{NOTE} (aangevuld)"),
                Argon2Cost::Fast,
            )
            .await
            .unwrap();
        assert!(again.is_none(), "the recovery key is shown only once");

        let notes = vault
            .personal_notes(&me(), "mijn-wachtwoord-2026")
            .await
            .unwrap();
        assert_eq!(notes.len(), 1);
        assert_eq!(notes[0].text, format!("{NOTE} (aangevuld)"));
        assert_eq!(notes[0].version, 2, "changes are versions");
        assert!(matches!(
            vault.personal_notes(&me(), "een-ander-wachtwoord").await,
            Err(VaultError::Forbidden)
        ));

        // Paths that hold the server's keys see only ciphertext.
        let export = vault
            .export_patient(
                &Principal::operator("t", OperatorPurpose::PatientRequest),
                "p1",
            )
            .await
            .unwrap()
            .to_string();
        assert!(export.contains("urn:zorgkluis:sealed-note"));
        assert!(
            !export.contains("operatie"),
            "the export holds only the sealed text"
        );
        let loaded = vault.read(&loader(), "Basic", &first.id).await.unwrap();
        assert!(!loaded.resource.unwrap().to_string().contains("operatie"));
        let backup = db.data_dir().join("notes-backup.zkb");
        vault
            .backup(&Principal::operator("t", OperatorPurpose::Backup), &backup)
            .await
            .unwrap();
        let bytes = std::fs::read(&backup).unwrap();
        assert!(memchr::memmem::find(&bytes, b"operatie").is_none());
        // A representative, a clinician or another patient: refused by the policy.
        let other = Principal::Patient {
            actor: me().actor().clone(),
            patient_id: "p2".into(),
        };
        assert!(vault
            .personal_notes(&other, "mijn-wachtwoord-2026")
            .await
            .unwrap()
            .is_empty());

        // Password change: re-locked; the old password no longer opens them.
        vault
            .relock_personal_notes(
                &me(),
                "mijn-wachtwoord-2026",
                "nieuw-wachtwoord-2027",
                Argon2Cost::Fast,
            )
            .await
            .unwrap();
        assert!(vault
            .personal_notes(&me(), "mijn-wachtwoord-2026")
            .await
            .is_err());
        assert_eq!(
            vault
                .personal_notes(&me(), "nieuw-wachtwoord-2027")
                .await
                .unwrap()
                .len(),
            1
        );
        // Lost password: only the recovery key brings them back.
        assert!(vault
            .recover_personal_notes(&me(), "AAAA", "derde-wachtwoord-2028", Argon2Cost::Fast)
            .await
            .is_err());
        vault
            .recover_personal_notes(&me(), &recovery, "derde-wachtwoord-2028", Argon2Cost::Fast)
            .await
            .unwrap();
        assert_eq!(
            vault
                .personal_notes(&me(), "derde-wachtwoord-2028")
                .await
                .unwrap()[0]
                .text,
            format!("{NOTE} (aangevuld)")
        );
    }
}
