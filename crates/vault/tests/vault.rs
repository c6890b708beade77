//! The vault on both backends: versions, encryption, blind indexes, shredding, rotation
//! and the audit trail.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::json;
use zorgkluis_testkit::all_backends;
use zorgkluis_vault::VaultError;

async fn raw(db: &zorgkluis_testkit::TestDb) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    sqlx::AnyPool::connect(&db.url).await.unwrap()
}

/// Lifts the append-only guard, as an intruder with database access would.
async fn allow_audit_tampering(db: &zorgkluis_testkit::TestDb, pool: &sqlx::AnyPool) {
    if db.backend == "SQLite" {
        sqlx::query("DROP TRIGGER audit_events_no_update")
            .execute(pool)
            .await
            .unwrap();
        sqlx::query("DROP TRIGGER audit_events_no_delete")
            .execute(pool)
            .await
            .unwrap();
    } else {
        sqlx::query("ALTER TABLE audit_events DISABLE TRIGGER USER")
            .execute(pool)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn pc3_every_change_is_a_new_version_and_history_survives_delete() {
    for db in all_backends().await {
        let vault = open(&db).await;
        seed(&vault, "p1").await;
        let mut obs = observation("p1-obs", "p1", "61.5");
        let v2 = vault
            .update(&loader(), "Observation", "p1-obs", obs.clone(), Some(1))
            .await
            .unwrap();
        assert_eq!(v2.version, 2, "{}", db.backend);
        let meta = &v2.resource.as_ref().unwrap()["meta"];
        assert_eq!(meta["versionId"], "2");
        assert_eq!(meta["lastUpdated"], "2026-11-23T09:00:00.000Z");
        // If-Match on a stale version is a conflict and changes nothing.
        obs["status"] = json!("amended");
        let stale = vault
            .update(&loader(), "Observation", "p1-obs", obs, Some(1))
            .await;
        assert!(matches!(
            stale,
            Err(VaultError::Conflict {
                expected: Some(1),
                current: Some(2)
            })
        ));
        let v1 = vault
            .vread(&requester(), "Observation", "p1-obs", 1)
            .await
            .unwrap();
        // Decimal precision is kept exactly as sent.
        assert_eq!(
            v1.resource.unwrap()["valueQuantity"]["value"].to_string(),
            "53.0"
        );
        vault.close().await.unwrap();
    }
}

#[tokio::test]
async fn delete_writes_a_tombstone_and_earlier_versions_stay_readable() {
    for db in all_backends().await {
        let vault = open(&db).await;
        seed(&vault, "p1").await;
        assert_eq!(
            vault
                .delete(&loader(), "Observation", "p1-obs")
                .await
                .unwrap(),
            Some(2)
        );
        // Deleting again changes nothing.
        assert_eq!(
            vault
                .delete(&loader(), "Observation", "p1-obs")
                .await
                .unwrap(),
            None
        );
        assert!(
            matches!(
                vault.read(&requester(), "Observation", "p1-obs").await,
                Err(VaultError::Gone)
            ),
            "{}",
            db.backend
        );
        let h = vault
            .history(&requester(), "Observation", "p1-obs")
            .await
            .unwrap();
        assert_eq!(
            h.iter()
                .map(|s| (s.version, s.resource.is_some()))
                .collect::<Vec<_>>(),
            [(2, false), (1, true)]
        );
        assert!(vault
            .vread(&requester(), "Observation", "p1-obs", 1)
            .await
            .is_ok());
        assert!(matches!(
            vault.vread(&requester(), "Observation", "p1-obs", 2).await,
            Err(VaultError::Gone)
        ));
        // Re-creating after a delete continues the version line.
        let again = vault
            .update(
                &loader(),
                "Observation",
                "p1-obs",
                observation("p1-obs", "p1", "40"),
                None,
            )
            .await
            .unwrap();
        assert_eq!(again.version, 3);
        assert!(matches!(
            vault
                .read(&requester(), "Observation", "does-not-exist")
                .await,
            Err(VaultError::NotFound)
        ));
        assert!(matches!(
            vault.delete(&requester(), "Observation", "p1-obs").await,
            Err(VaultError::Forbidden)
        ));
        vault.close().await.unwrap();
    }
}

#[tokio::test]
async fn invalid_resources_get_one_issue_per_problem_and_nothing_is_written() {
    for db in all_backends().await {
        let vault = open(&db).await;
        seed(&vault, "p1").await;
        let bad = vec![
            json!({"resourceType": "Observation", "id": "x1", "subject": {"reference": "Patient/p1"}}),
            json!({"resourceType": "NoSuchType", "id": "x2"}),
            observation("x3", "unknown-patient", "1"),
            json!({"resourceType": "Observation", "id": "bad id!", "status": "final", "code": {"text": "x"}}),
        ];
        let err = vault
            .load(&loader(), bad, Default::default())
            .await
            .unwrap_err();
        let VaultError::Invalid(issues) = err else {
            panic!("expected Invalid, got {err:?}")
        };
        let locations: Vec<_> = issues.iter().map(|i| i.location.as_str()).collect();
        assert!(
            locations.iter().any(|l| l.starts_with("entry[0]")),
            "{locations:?}"
        );
        assert!(
            locations.iter().any(|l| l.starts_with("entry[1]")),
            "{locations:?}"
        );
        assert!(
            locations.iter().any(|l| l.starts_with("entry[3]")),
            "{locations:?}"
        );
        // Messages never echo values.
        assert!(issues.iter().all(|i| !i.message.contains("bad id!")));
        let counts = vault.resource_counts().await.unwrap();
        assert_eq!(
            counts.iter().map(|(_, n)| n).sum::<i64>(),
            2,
            "{}",
            db.backend
        );
        // A reference to a patient that does not exist is refused on its own too.
        let err = vault
            .load(
                &loader(),
                vec![observation("x3", "unknown-patient", "1")],
                Default::default(),
            )
            .await
            .unwrap_err();
        assert!(matches!(err, VaultError::Invalid(_)), "{err:?}");
        vault.close().await.unwrap();
    }
}

#[tokio::test]
async fn hp12_lookup_by_bsn_works_through_the_blind_index() {
    for db in all_backends().await {
        let vault = open(&db).await;
        seed(&vault, "p1").await;
        let hits = vault
            .find_by_identifier(
                &requester(),
                Some("Patient"),
                Some("http://fhir.nl/fhir/NamingSystem/bsn"),
                BSN,
            )
            .await
            .unwrap();
        assert_eq!(hits.len(), 1, "{}", db.backend);
        assert_eq!(hits[0].id, "p1");
        let none = vault
            .find_by_identifier(
                &requester(),
                Some("Patient"),
                Some("http://fhir.nl/fhir/NamingSystem/bsn"),
                "999911120",
            )
            .await
            .unwrap();
        assert!(none.is_empty());
        // The search is logged without the BSN.
        let trail = vault
            .audit_for_patient(&auditor(), "p1", 100)
            .await
            .unwrap();
        let text = serde_json::to_string(&trail).unwrap();
        assert!(
            !text.contains(BSN),
            "{}: BSN in the audit trail",
            db.backend
        );
        assert!(trail
            .iter()
            .any(|e| e.code == zorgkluis_vault::AuditEventCode::SearchHit));
        vault.close().await.unwrap();
    }
}

#[tokio::test]
async fn a_body_moved_to_another_row_fails_to_open() {
    for db in all_backends().await {
        let vault = open(&db).await;
        seed(&vault, "p1").await;
        seed(&vault, "p2").await;
        vault.close().await.unwrap();
        let pool = raw(&db).await;
        // Copy p2's observation body over p1's: associated data differs, so it must not open.
        let body: Vec<u8> = sqlx::query_scalar(
            "SELECT body FROM resource_versions WHERE resource_type = 'Observation' AND id = 'p2-obs'",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        sqlx::query("UPDATE resource_versions SET body = $1 WHERE resource_type = 'Observation' AND id = 'p1-obs'")
            .bind(body)
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
        let vault = open(&db).await;
        let r = vault.read(&requester(), "Observation", "p1-obs").await;
        assert!(
            matches!(r, Err(VaultError::Crypto(_))),
            "{}: {r:?}",
            db.backend
        );
        vault.close().await.unwrap();
    }
}

#[tokio::test]
async fn shredded_patient_is_unreadable_by_every_path() {
    for db in all_backends().await {
        let vault = open(&db).await;
        seed(&vault, "p1").await;
        seed(&vault, "p2").await;
        vault.shred_patient(&keyman(), "p1").await.unwrap();
        for r in [
            vault.read(&requester(), "Patient", "p1").await,
            vault.read(&requester(), "Observation", "p1-obs").await,
            vault.vread(&requester(), "Observation", "p1-obs", 1).await,
        ] {
            assert!(
                matches!(r, Err(VaultError::Shredded)),
                "{}: {r:?}",
                db.backend
            );
        }
        assert!(matches!(
            vault.history(&requester(), "Observation", "p1-obs").await,
            Err(VaultError::Shredded)
        ));
        // The blind index of the compartment is gone.
        let hits = vault
            .find_by_identifier(
                &requester(),
                None,
                Some("http://fhir.nl/fhir/NamingSystem/bsn"),
                BSN,
            )
            .await
            .unwrap();
        assert!(hits.iter().all(|h| h.id != "p1"));
        // Nothing new can be written into the compartment.
        let w = vault
            .load(
                &loader(),
                vec![observation("p1-obs2", "p1", "1")],
                Default::default(),
            )
            .await;
        assert!(w.is_err());
        // Other patients are untouched.
        assert!(vault
            .read(&requester(), "Observation", "p2-obs")
            .await
            .is_ok());
        assert!(matches!(
            vault.shred_patient(&keyman(), "p1").await,
            Err(VaultError::Shredded)
        ));
        // The destruction is in the audit trail and the chain verifies.
        let trail = vault
            .audit_for_patient(&auditor(), "p1", 100)
            .await
            .unwrap();
        assert!(trail
            .iter()
            .any(|e| e.code == zorgkluis_vault::AuditEventCode::KeyDestroy));
        assert!(vault
            .verify_audit(&auditor(), &|_, _| {})
            .await
            .unwrap()
            .is_ok());
        vault.close().await.unwrap();
        // Even with the wrapped key put back (e.g. from an old backup), the key store
        // refuses it: the key id is revoked.
        let vault = open(&db).await;
        assert!(matches!(
            vault.read(&requester(), "Patient", "p1").await,
            Err(VaultError::Shredded)
        ));
        vault.close().await.unwrap();
    }
}

#[tokio::test]
async fn shredding_outlives_a_restored_copy_of_the_database() {
    let db = zorgkluis_testkit::sqlite();
    let vault = open(&db).await;
    seed(&vault, "p1").await;
    vault.close().await.unwrap();
    let file = db.data_dir().join("zorgkluis.db");
    let copy = db.data_dir().join("before-shred.db");
    std::fs::copy(&file, &copy).unwrap();
    let vault = open(&db).await;
    vault.shred_patient(&keyman(), "p1").await.unwrap();
    vault.close().await.unwrap();
    // Restore the old copy (which still holds the wrapped key) with today's key store.
    for ext in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{ext}", file.display()));
    }
    std::fs::copy(&copy, &file).unwrap();
    let vault = open(&db).await;
    assert!(matches!(
        vault.read(&requester(), "Observation", "p1-obs").await,
        Err(VaultError::Shredded)
    ));
    vault.close().await.unwrap();
}

#[tokio::test]
async fn rotation_rewraps_keys_and_everything_stays_readable() {
    for db in all_backends().await {
        let vault = open(&db).await;
        seed(&vault, "p1").await;
        let key_file = db.data_dir().join("keys/master.key");
        let before = std::fs::read_to_string(&key_file).unwrap();
        let report = vault.rotate_master_key(&keyman()).await.unwrap();
        assert_eq!(report.rewrapped, 3, "{}: index, shared and p1", db.backend);
        let after = std::fs::read_to_string(&key_file).unwrap();
        assert_ne!(before, after);
        assert!(after.contains(&report.new_master_key));
        assert!(vault
            .read(&requester(), "Observation", "p1-obs")
            .await
            .is_ok());
        vault.close().await.unwrap();
        let vault = open(&db).await;
        assert!(vault.read(&requester(), "Patient", "p1").await.is_ok());
        vault.close().await.unwrap();
        // The old key file no longer opens the vault.
        std::fs::write(&key_file, before).unwrap();
        assert!(zorgkluis_vault::Vault::open(config(&db)).await.is_err());
    }
}

#[tokio::test]
async fn a_key_store_of_another_vault_is_refused() {
    for db in all_backends().await {
        let vault = open(&db).await;
        seed(&vault, "p1").await;
        vault.close().await.unwrap();
        let mut c = config(&db);
        let other = tempfile::tempdir().unwrap();
        c.master_key_file = other.path().join("master.key");
        let err = zorgkluis_vault::Vault::open(c).await.unwrap_err();
        assert!(
            err.to_string().contains("does not belong"),
            "{}: {err}",
            db.backend
        );
    }
}

#[tokio::test]
async fn nen7513_every_access_and_refusal_is_in_the_trail() {
    for db in all_backends().await {
        let vault = open(&db).await;
        seed(&vault, "p1").await;
        vault
            .read(&requester(), "Observation", "p1-obs")
            .await
            .unwrap();
        // The audit reviewer has no clinical access: refused, and the refusal is logged.
        assert!(matches!(
            vault.read(&auditor(), "Observation", "p1-obs").await,
            Err(VaultError::Forbidden)
        ));
        let trail = vault
            .audit_for_patient(&auditor(), "p1", 100)
            .await
            .unwrap();
        use zorgkluis_vault::AuditEventCode as C;
        let codes: Vec<_> = trail.iter().map(|e| (e.code, e.outcome.as_str())).collect();
        assert!(codes.contains(&(C::Create, "success")), "{codes:?}");
        assert!(codes.contains(&(C::Read, "success")));
        assert!(codes.contains(&(C::Read, "refused")));
        let read = trail
            .iter()
            .find(|e| e.code == C::Read && e.outcome.as_str() == "success")
            .unwrap();
        // The NEN 7513 fields.
        assert_eq!(read.action.as_str(), "R");
        assert_eq!(read.object.resource_type.as_deref(), Some("Observation"));
        assert_eq!(read.object.patient_id.as_deref(), Some("p1"));
        assert_eq!(read.purpose, "PATRQT");
        assert_eq!(read.controls.as_flags(), "TFFF");
        assert!(read.authorisation_protocol.starts_with("zorgkluis/"));
        assert!(!read.consent_profile.is_empty());
        assert_eq!(read.source, "zorgkluis-test");
        assert!(
            read.actor.on_behalf_of.is_some(),
            "the responsible person is recorded"
        );
        assert_eq!(read.occurred_at, "2026-11-23T09:00:00.000Z");
        vault.close().await.unwrap();
    }
}

#[tokio::test]
async fn audit_verify_names_the_first_altered_removed_or_reordered_event() {
    for db in all_backends().await {
        let vault = open(&db).await;
        seed(&vault, "p1").await;
        for _ in 0..5 {
            vault
                .read(&requester(), "Observation", "p1-obs")
                .await
                .unwrap();
        }
        let ok = vault
            .verify_audit(&auditor(), &|_, _| {})
            .await
            .unwrap()
            .unwrap();
        assert!(ok.events >= 7, "{}", db.backend);
        vault.close().await.unwrap();

        let pool = raw(&db).await;
        allow_audit_tampering(&db, &pool).await;
        // 1. Alter the payload of event #4.
        let payload: String = sqlx::query_scalar("SELECT payload FROM audit_events WHERE seq = 4")
            .fetch_one(&pool)
            .await
            .unwrap();
        sqlx::query("UPDATE audit_events SET payload = $1 WHERE seq = 4")
            .bind(payload.replace("PATRQT", "TREAT"))
            .execute(&pool)
            .await
            .unwrap();
        let vault = open(&db).await;
        let f = vault
            .verify_audit(&auditor(), &|_, _| {})
            .await
            .unwrap()
            .unwrap_err();
        assert_eq!(f.seq, 4, "{}: {f}", db.backend);
        vault.close().await.unwrap();
        sqlx::query("UPDATE audit_events SET payload = $1 WHERE seq = 4")
            .bind(&payload)
            .execute(&pool)
            .await
            .unwrap();
        // 2. Remove event #5.
        let row: (String, String) =
            sqlx::query_as("SELECT event_id, payload FROM audit_events WHERE seq = 5")
                .fetch_one(&pool)
                .await
                .unwrap();
        let _ = row;
        sqlx::query("DELETE FROM audit_events WHERE seq = 5")
            .execute(&pool)
            .await
            .unwrap();
        let vault = open(&db).await;
        let f = vault
            .verify_audit(&auditor(), &|_, _| {})
            .await
            .unwrap()
            .unwrap_err();
        assert_eq!(f.seq, 5, "{}: {f}", db.backend);
        assert!(f.problem.contains("missing"), "{f}");
        vault.close().await.unwrap();
        // 3. Reorder: swap the sequence numbers of #2 and #3.
        sqlx::query("UPDATE audit_events SET seq = -3 WHERE seq = 3")
            .execute(&pool)
            .await
            .unwrap();
        sqlx::query("UPDATE audit_events SET seq = 3 WHERE seq = 2")
            .execute(&pool)
            .await
            .unwrap();
        sqlx::query("UPDATE audit_events SET seq = 2 WHERE seq = -3")
            .execute(&pool)
            .await
            .unwrap();
        let vault = open(&db).await;
        let f = vault
            .verify_audit(&auditor(), &|_, _| {})
            .await
            .unwrap()
            .unwrap_err();
        assert_eq!(f.seq, 2, "{}: {f}", db.backend);
        vault.close().await.unwrap();
        pool.close().await;
    }
}

/// Journal segments are kept after their events are folded (the live one until the next
/// segment starts); at the next start those events are recovered again and must be
/// recognised as chained (through the user's index: event ids carry no unique index), so
/// that no read is in the trail twice, however often the vault restarts.
#[tokio::test]
async fn events_folded_before_a_restart_are_not_chained_again() {
    for db in all_backends().await {
        let reads_in_trail = |trail: &[zorgkluis_vault::AuditEvent]| {
            trail
                .iter()
                .filter(|e| e.code == zorgkluis_vault::AuditEventCode::Read)
                .count()
        };
        let vault = open(&db).await;
        seed(&vault, "p1").await;
        for _ in 0..5 {
            vault
                .read(&requester(), "Observation", "p1-obs")
                .await
                .unwrap();
        }
        vault.close().await.unwrap();
        let journal = db.data_dir().join("audit-journal");
        let lines: usize = std::fs::read_dir(&journal)
            .unwrap()
            .map(|e| {
                std::fs::read_to_string(e.unwrap().path())
                    .unwrap()
                    .lines()
                    .count()
            })
            .sum();
        assert_eq!(
            lines, 5,
            "{}: the folded events stay in the live segment",
            db.backend
        );
        for round in 1..=2 {
            let vault = open(&db).await;
            let trail = vault
                .audit_for_patient(&auditor(), "p1", 1000)
                .await
                .unwrap();
            assert_eq!(
                reads_in_trail(&trail),
                4 + round,
                "{} round {round}",
                db.backend
            );
            vault
                .read(&requester(), "Observation", "p1-obs")
                .await
                .unwrap();
            vault.close().await.unwrap();
        }
        let vault = open(&db).await;
        let trail = vault
            .audit_for_patient(&auditor(), "p1", 1000)
            .await
            .unwrap();
        assert_eq!(reads_in_trail(&trail), 7, "{}", db.backend);
        assert!(
            vault
                .verify_audit(&auditor(), &|_, _| {})
                .await
                .unwrap()
                .is_ok(),
            "{}",
            db.backend
        );
        vault.close().await.unwrap();
    }
}
