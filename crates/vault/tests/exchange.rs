//! Data in and out: imports of real bundles, export round trips, backup and restore.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};

use common::*;
use serde_json::{json, Value};
use zorgkluis_testkit::{all_backends, TestDb};
use zorgkluis_vault::{restore, OperatorPurpose, Principal, RestoreError, Vault, VaultError};

fn shared() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data");
    p.exists().then_some(p)
}

fn read(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn synthea_files(data: &Path, n: usize) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(data.join("synthea-r4"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    files.truncate(n);
    files
}

fn total(v: &zorgkluis_vault::ImportReport) -> (usize, usize) {
    (v.load.written(), v.load.skipped.values().sum())
}

/// Resources of an exported bundle without the vault's own stamps, by `Type/id`.
fn comparable(bundle: &Value) -> std::collections::BTreeMap<String, Value> {
    bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let mut r = e["resource"].clone();
            if let Some(meta) = r.get_mut("meta").and_then(Value::as_object_mut) {
                meta.remove("versionId");
                meta.remove("lastUpdated");
                if meta.is_empty() {
                    r.as_object_mut().unwrap().remove("meta");
                }
            }
            (
                format!(
                    "{}/{}",
                    r["resourceType"].as_str().unwrap(),
                    r["id"].as_str().unwrap()
                ),
                r,
            )
        })
        .collect()
}

#[tokio::test]
async fn synthea_and_nictiz_bundles_import_completely_and_reimport_duplicates_nothing() {
    let Some(data) = shared() else {
        eprintln!("SKIPPED: ../shared/data is not beside the repository");
        return;
    };
    let mut docs = vec![
        read(&data.join("synthea-r4-support/hospitalInformation1559319163815.json")),
        read(&data.join("synthea-r4-support/practitionerInformation1559319163815.json")),
    ];
    docs.extend(synthea_files(&data, 3).iter().map(|f| read(f)));
    docs.push(read(
        &data.join("nl-nictiz-zib2020/nl-zib2020-examples.transaction.json"),
    ));
    let expected: usize = docs
        .iter()
        .map(|d| d["entry"].as_array().unwrap().len())
        .sum();
    for db in all_backends().await {
        let vault = open(&db).await;
        let mut written = 0;
        let mut present = 0;
        let mut warnings = Vec::new();
        for d in &docs {
            let r = vault.import_document(&loader(), d.clone()).await.unwrap();
            written += total(&r).0;
            present += total(&r).1;
            warnings.extend(r.load.warnings);
        }
        assert_eq!(
            written + present,
            expected,
            "{}: every entry is accounted for",
            db.backend
        );
        // The two references that point outside the Nictiz set are kept and reported.
        assert_eq!(warnings.len(), 2, "{}: {warnings:?}", db.backend);
        // The same files again: nothing new.
        for d in &docs {
            let r = vault.import_document(&loader(), d.clone()).await.unwrap();
            assert_eq!(total(&r).0, 0, "{}: re-import wrote something", db.backend);
        }
        // Imported data is found by identifier (blind index) and the trail verifies.
        let hits = vault
            .find_by_identifier(
                &requester(),
                Some("Patient"),
                Some("http://fhir.nl/fhir/NamingSystem/bsn"),
                "111222333",
            )
            .await
            .unwrap();
        assert_eq!(hits.len(), 1);
        let nl = hits[0].resource.clone().unwrap();
        // nl-core extensions on name parts are kept intact.
        assert!(
            nl["name"][0]["_family"]["extension"].is_array(),
            "{}",
            db.backend
        );
        assert!(vault
            .verify_audit(&auditor(), &|_, _| {})
            .await
            .unwrap()
            .is_ok());
        vault.close().await.unwrap();
    }
}

#[tokio::test]
async fn a_patient_known_by_identifier_is_not_duplicated_and_conditional_references_resolve() {
    for db in all_backends().await {
        let vault = open(&db).await;
        seed(&vault, "p1").await;
        let bundle = json!({
            "resourceType": "Bundle", "type": "transaction",
            "entry": [
                {"fullUrl": "urn:uuid:5d8e7f36-7a44-4a0a-9c55-0d0f9d1c0a01", "resource": patient("other-id"),
                 "request": {"method": "POST", "url": "Patient"}},
                {"fullUrl": "urn:uuid:5d8e7f36-7a44-4a0a-9c55-0d0f9d1c0a02",
                 "resource": {"resourceType": "Observation", "status": "final", "code": {"text": "x"},
                              "subject": {"reference": "urn:uuid:5d8e7f36-7a44-4a0a-9c55-0d0f9d1c0a01"}},
                 "request": {"method": "POST", "url": "Observation"}},
                {"fullUrl": "urn:uuid:5d8e7f36-7a44-4a0a-9c55-0d0f9d1c0a03",
                 "resource": {"resourceType": "Observation", "status": "final", "code": {"text": "y"},
                              "subject": {"reference": format!("Patient?identifier=http://fhir.nl/fhir/NamingSystem/bsn|{BSN}")}},
                 "request": {"method": "POST", "url": "Observation"}}
            ]
        });
        let r = vault.import_document(&loader(), bundle).await.unwrap();
        assert_eq!(r.patients_matched, 1, "{}", db.backend);
        assert_eq!(r.load.created.get("Observation"), Some(&2));
        assert_eq!(r.load.created.get("Patient"), None);
        let counts = vault.resource_counts().await.unwrap();
        assert_eq!(counts.iter().find(|(t, _)| t == "Patient").unwrap().1, 1);
        for id in [
            "5d8e7f36-7a44-4a0a-9c55-0d0f9d1c0a02",
            "5d8e7f36-7a44-4a0a-9c55-0d0f9d1c0a03",
        ] {
            let o = vault.read(&requester(), "Observation", id).await.unwrap();
            assert_eq!(o.patient_id.as_deref(), Some("p1"), "{}", db.backend);
            assert_eq!(o.resource.unwrap()["subject"]["reference"], "Patient/p1");
        }
        vault.close().await.unwrap();
    }
}

#[tokio::test]
async fn a_failed_transaction_leaves_nothing_behind_and_names_the_entry() {
    for db in all_backends().await {
        let vault = open(&db).await;
        let bundle = json!({
            "resourceType": "Bundle", "type": "transaction",
            "entry": [
                {"resource": patient("t1"), "request": {"method": "PUT", "url": "Patient/t1"}},
                {"resource": {"resourceType": "Observation", "id": "t1-o", "subject": {"reference": "Patient/t1"}},
                 "request": {"method": "PUT", "url": "Observation/t1-o"}}
            ]
        });
        let err = vault.import_document(&loader(), bundle).await.unwrap_err();
        let VaultError::Invalid(issues) = err else {
            panic!("{err:?}")
        };
        assert!(
            issues.iter().all(|i| i.location.starts_with("entry[1]")),
            "{issues:?}"
        );
        assert!(
            vault.resource_counts().await.unwrap().is_empty(),
            "{}",
            db.backend
        );
        vault.close().await.unwrap();
    }
}

#[tokio::test]
async fn export_then_import_into_an_empty_vault_then_export_gives_the_same_resources() {
    let dir = zorgkluis_demo::directory(5);
    let today = time::macros::date!(2026 - 11 - 23);
    let record = zorgkluis_demo::patient_record(5, 3, &dir, today);
    for db in all_backends().await {
        let vault = open(&db).await;
        let mut shared: Vec<Value> = dir.organisations.clone();
        shared.extend(dir.practitioners.iter().cloned());
        shared.extend(dir.practitioner_roles.iter().cloned());
        vault
            .load(&loader(), shared, Default::default())
            .await
            .unwrap();
        vault
            .load(&loader(), record.resources.clone(), Default::default())
            .await
            .unwrap();
        let first = vault
            .export_patient(&requester(), &record.patient_id)
            .await
            .unwrap();
        assert!(
            first["total"].as_u64().unwrap() as usize > record.resources.len(),
            "practitioners come along"
        );
        vault.close().await.unwrap();

        let other = match db.backend {
            "SQLite" => zorgkluis_testkit::sqlite(),
            _ => zorgkluis_testkit::postgres().await.unwrap(),
        };
        let fresh = open(&other).await;
        let r = fresh
            .import_document(&loader(), first.clone())
            .await
            .unwrap();
        assert!(r.load.warnings.is_empty(), "{:?}", r.load.warnings);
        let second = fresh
            .export_patient(&requester(), &record.patient_id)
            .await
            .unwrap();
        assert_eq!(comparable(&first), comparable(&second), "{}", db.backend);
        // The export is in the patient's audit trail.
        let trail = fresh
            .audit_for_patient(&auditor(), &record.patient_id, 1000)
            .await
            .unwrap();
        assert!(trail
            .iter()
            .any(|e| e.code == zorgkluis_vault::AuditEventCode::Export));
        fresh.close().await.unwrap();
    }
}

fn copy_key_store(from: &TestDb, to: &Path) {
    let src = from.data_dir().join("keys");
    let dst = to.join("keys");
    std::fs::create_dir_all(&dst).unwrap();
    for e in std::fs::read_dir(src).unwrap().flatten() {
        std::fs::copy(e.path(), dst.join(e.file_name())).unwrap();
    }
}

async fn empty_target(db: &TestDb) -> (TestDb, zorgkluis_vault::VaultConfig) {
    let target = match db.backend {
        "SQLite" => zorgkluis_testkit::sqlite(),
        _ => zorgkluis_testkit::postgres().await.unwrap(),
    };
    let c = config(&target);
    (target, c)
}

#[tokio::test]
async fn backup_under_load_restores_verified_and_damaged_backups_are_refused() {
    for db in all_backends().await {
        let vault = open(&db).await;
        seed(&vault, "p1").await;
        seed(&vault, "p2").await;
        // Writes keep coming while the backup runs.
        let writer = {
            let vault = vault.clone();
            tokio::spawn(async move {
                for i in 0..40 {
                    vault
                        .load(
                            &loader(),
                            vec![observation(&format!("live-{i}"), "p2", "1")],
                            Default::default(),
                        )
                        .await
                        .unwrap();
                }
            })
        };
        let file = db.data_dir().join("vault.backup");
        let backup = vault
            .backup(&Principal::operator("t", OperatorPurpose::Backup), &file)
            .await
            .unwrap();
        writer.await.unwrap();
        assert!(
            backup.bytes > 10_000 && backup.audit_events > 0,
            "{}",
            db.backend
        );
        // A patient shredded after the backup stays unreadable after a restore.
        vault.shred_patient(&keyman(), "p1").await.unwrap();
        vault.close().await.unwrap();

        // Without the key store the backup cannot be opened.
        let (bare, cfg) = empty_target(&db).await;
        let err = restore(cfg, &file).await.unwrap_err();
        assert!(
            matches!(err, RestoreError::Open(_)),
            "{}: {err}",
            db.backend
        );
        assert!(err.to_string().contains("no master key"), "{err}");
        drop(bare);

        // With today's key store: restored, verified, shredded patient still unreadable.
        let (target, cfg) = empty_target(&db).await;
        copy_key_store(&db, &target.data_dir());
        let report = restore(cfg.clone(), &file).await.unwrap();
        assert!(report.audit_events >= backup.audit_events, "{}", db.backend);
        let restored = Vault::open(cfg.clone()).await.unwrap();
        assert!(restored
            .read(&requester(), "Observation", "p2-obs")
            .await
            .is_ok());
        assert!(matches!(
            restored.read(&requester(), "Observation", "p1-obs").await,
            Err(VaultError::Shredded)
        ));
        restored.close().await.unwrap();
        // Restoring over data is refused.
        assert!(matches!(
            restore(cfg, &file).await,
            Err(RestoreError::NotEmpty)
        ));

        // Damaged files are refused before anything is written.
        let bytes = std::fs::read(&file).unwrap();
        let truncated = db.data_dir().join("truncated.backup");
        std::fs::write(&truncated, &bytes[..bytes.len() - 100]).unwrap();
        let mut flipped = bytes.clone();
        let at = bytes.len() - 5000;
        flipped[at] ^= 0x55;
        let altered = db.data_dir().join("altered.backup");
        std::fs::write(&altered, &flipped).unwrap();
        let not_a_backup = db.data_dir().join("random.backup");
        std::fs::write(&not_a_backup, b"hello").unwrap();
        for (f, what) in [(&truncated, "truncated"), (&altered, "altered")] {
            let (t, cfg) = empty_target(&db).await;
            copy_key_store(&db, &t.data_dir());
            let err = restore(cfg, f).await.unwrap_err();
            assert!(
                matches!(err, RestoreError::Damaged(_)),
                "{}: {err}",
                db.backend
            );
            assert!(err.to_string().contains(what), "{err}");
        }
        let (_t, cfg) = empty_target(&db).await;
        assert!(matches!(
            restore(cfg, &not_a_backup).await,
            Err(RestoreError::NotABackup(_))
        ));
    }
}
