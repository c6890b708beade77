//! The storage contract: the same cases on SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use zorgkluis_audit::{
    Action, AuditEvent, AuditObject, Channel, Controls, EventCode, JournalPosition, JournaledEvent,
    Outcome, Verifier,
};
use zorgkluis_crypto::{AuditSigner, WrappedKey};
use zorgkluis_domain::Actor;
use zorgkluis_store::*;
use zorgkluis_testkit::{all_backends, TestDb};

const NOW: &str = "2026-11-23T05:00:00.000Z";

fn signer() -> AuditSigner {
    AuditSigner::from_seed("ak-test".into(), [9u8; 32])
}

fn event(code: EventCode, patient: Option<&str>) -> AuditEvent {
    AuditEvent {
        event_id: uuid_like(),
        occurred_at: NOW.into(),
        code,
        action: Action::C,
        event_type: "patient-record".into(),
        outcome: Outcome::Success,
        reason: None,
        controls: Controls::default(),
        actor: Actor::operator_tool("contract-test"),
        channel: Channel::OperatorTool,
        purpose: "HOPERAT".into(),
        object: AuditObject {
            patient_id: patient.map(str::to_owned),
            ..Default::default()
        },
        authorisation_protocol: "test@1".into(),
        consent_profile: "none".into(),
        relationship_protocol: None,
        source: "test".into(),
    }
}

fn journaled(event: AuditEvent) -> JournaledEvent {
    JournaledEvent {
        payload: event.canonical(),
        keys: event.into_keys(),
        position: JournalPosition {
            segment: 0,
            record: 0,
        },
    }
}

fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "ev-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

fn key_op(key_id: &str, patient: Option<&str>) -> WriteOp {
    WriteOp::EnsureKey {
        key_id: key_id.into(),
        patient_id: patient.map(str::to_owned),
        wrapped: WrappedKey {
            master_key_id: "mk-1".into(),
            bytes: vec![1, 2, 3, key_id.len() as u8],
        },
    }
}

fn put(
    rt: &str,
    id: &str,
    version: i64,
    expected: Option<i64>,
    patient: Option<&str>,
    body: &[u8],
) -> WriteOp {
    WriteOp::PutVersion {
        row: VersionRow {
            resource_type: rt.into(),
            id: id.into(),
            version,
            patient_id: patient.map(str::to_owned),
            key_id: patient.map_or("shared".to_owned(), |p| format!("patient:{p}")),
            last_updated: NOW.into(),
            deleted: false,
            body: Some(body.to_vec()),
            category: Some("care_record".into()),
        },
        expected_current: expected,
        index: IndexRows {
            tokens: vec![(
                "code".into(),
                Some("http://loinc.org".into()),
                "4548-4".into(),
            )],
            dates: vec![("date".into(), 100, 200)],
            refs: patient
                .map(|p| vec![("patient".into(), "Patient".into(), p.into())])
                .unwrap_or_default(),
            blind: vec![("identifier".into(), format!("hash-of-{id}").into_bytes())],
        },
    }
}

fn job(ops: Vec<WriteOp>, patient: Option<&str>) -> Job {
    Job {
        ops,
        events: vec![event(EventCode::Create, patient)],
        failure_events: vec![{
            let mut e = event(EventCode::Create, patient);
            e.outcome = Outcome::Error;
            e
        }],
    }
}

async fn open(db: &TestDb) -> SqlStore {
    zorgkluis_store::open(&db.url).await.unwrap()
}

async fn verify_chain(store: &SqlStore) -> i64 {
    let s = signer();
    let v = s.verifier();
    let cps: BTreeMap<i64, _> = store
        .audit_checkpoints()
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.seq, c))
        .collect();
    let mut verifier = Verifier::new(&cps, &v);
    for e in store.audit_events(0, 1_000_000).await.unwrap() {
        verifier.feed(&e).unwrap();
    }
    verifier
        .finish(store.audit_head().await.unwrap())
        .unwrap()
        .events
}

#[tokio::test]
async fn versions_are_kept_and_current_moves() {
    for db in all_backends().await {
        let store = open(&db).await;
        let r = store
            .commit(
                &Batch {
                    jobs: vec![job(
                        vec![
                            key_op("patient:p1", Some("p1")),
                            put("Patient", "p1", 1, None, Some("p1"), b"v1"),
                        ],
                        Some("p1"),
                    )],
                    folded: vec![],
                },
                &signer(),
                NOW,
            )
            .await
            .unwrap();
        assert_eq!(r, vec![Ok(())], "{}", db.backend);
        let r = store
            .commit(
                &Batch {
                    jobs: vec![job(
                        vec![put("Patient", "p1", 2, Some(1), Some("p1"), b"v2")],
                        Some("p1"),
                    )],
                    folded: vec![],
                },
                &signer(),
                NOW,
            )
            .await
            .unwrap();
        assert_eq!(r, vec![Ok(())]);
        let cur = store.read_current("Patient", "p1").await.unwrap().unwrap();
        assert_eq!(cur.version.version, 2);
        assert_eq!(cur.version.body.as_deref(), Some(&b"v2"[..]));
        assert_eq!(cur.key.unwrap().wrapped.unwrap().master_key_id, "mk-1");
        let v1 = store
            .read_version("Patient", "p1", 1)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(v1.version.body.as_deref(), Some(&b"v1"[..]));
        let hist = store.history("Patient", "p1").await.unwrap();
        assert_eq!(
            hist.iter().map(|h| h.version.version).collect::<Vec<_>>(),
            [2, 1]
        );
        assert_eq!(store.compartment("p1").await.unwrap().len(), 1);
        // Several current versions in one query; missing ids are left out.
        let many = store
            .read_current_many("Patient", &["p1", "nobody"])
            .await
            .unwrap();
        assert_eq!(many.len(), 1);
        assert_eq!(many[0].version.version, 2);
        assert_eq!(many[0].version.category.as_deref(), Some("care_record"));
        assert_eq!(
            store.resource_counts().await.unwrap(),
            vec![("Patient".to_owned(), 1)]
        );
        assert_eq!(verify_chain(&store).await, 2, "{}", db.backend);
    }
}

#[tokio::test]
async fn a_failing_job_rolls_back_alone_and_its_failure_is_chained() {
    for db in all_backends().await {
        let store = open(&db).await;
        store
            .commit(
                &Batch {
                    jobs: vec![job(vec![key_op("shared", None)], None)],
                    folded: vec![],
                },
                &signer(),
                NOW,
            )
            .await
            .unwrap();
        let results = store
            .commit(
                &Batch {
                    jobs: vec![
                        job(vec![put("Organization", "o1", 1, None, None, b"a")], None),
                        // Wrong base version: conflict; its first op must not stay either.
                        job(
                            vec![
                                put("Organization", "o2", 1, None, None, b"b"),
                                put("Organization", "o1", 2, Some(5), None, b"c"),
                            ],
                            None,
                        ),
                        job(vec![put("Organization", "o3", 1, None, None, b"d")], None),
                    ],
                    folded: vec![journaled(event(EventCode::Read, None))],
                },
                &signer(),
                NOW,
            )
            .await
            .unwrap();
        assert!(results[0].is_ok() && results[2].is_ok(), "{}", db.backend);
        assert!(matches!(
            results[1],
            Err(JobError::Conflict { found: Some(1), .. })
        ));
        assert!(store
            .current_version("Organization", "o2")
            .await
            .unwrap()
            .is_none());
        assert!(store
            .current_version("Organization", "o3")
            .await
            .unwrap()
            .is_some());
        let events = store.audit_events(0, 100).await.unwrap();
        let outcomes: Vec<_> = events.iter().map(|e| e.outcome.as_str()).collect();
        assert_eq!(
            outcomes,
            ["success", "success", "error", "success", "success"]
        );
        assert_eq!(verify_chain(&store).await, 5);
    }
}

#[tokio::test]
async fn writing_with_a_missing_or_shredded_key_fails() {
    for db in all_backends().await {
        let store = open(&db).await;
        let r = store
            .commit(
                &Batch {
                    jobs: vec![job(
                        vec![put("Observation", "o1", 1, None, Some("nobody"), b"x")],
                        Some("nobody"),
                    )],
                    folded: vec![],
                },
                &signer(),
                NOW,
            )
            .await
            .unwrap();
        assert!(
            matches!(r[0], Err(JobError::KeyUnavailable(_))),
            "{}",
            db.backend
        );
    }
}

#[tokio::test]
async fn shredding_removes_the_key_and_the_compartment_index() {
    for db in all_backends().await {
        let store = open(&db).await;
        store
            .commit(
                &Batch {
                    jobs: vec![job(
                        vec![
                            key_op("patient:p1", Some("p1")),
                            put("Patient", "p1", 1, None, Some("p1"), b"x"),
                            put("Observation", "ob1", 1, None, Some("p1"), b"y"),
                        ],
                        Some("p1"),
                    )],
                    folded: vec![],
                },
                &signer(),
                NOW,
            )
            .await
            .unwrap();
        assert_eq!(
            store
                .find_blind("identifier", b"hash-of-ob1", None)
                .await
                .unwrap(),
            vec![("Observation".to_owned(), "ob1".to_owned())]
        );
        assert_eq!(
            store
                .find_blind("identifier", b"hash-of-ob1", Some("Patient"))
                .await
                .unwrap(),
            vec![]
        );
        let r = store
            .commit(
                &Batch {
                    jobs: vec![job(
                        vec![WriteOp::ShredKey {
                            key_id: "patient:p1".into(),
                            patient_id: "p1".into(),
                        }],
                        Some("p1"),
                    )],
                    folded: vec![],
                },
                &signer(),
                NOW,
            )
            .await
            .unwrap();
        assert_eq!(r, vec![Ok(())]);
        let row = store.data_key("patient:p1").await.unwrap().unwrap();
        assert!(
            row.wrapped.is_none() && row.shredded_at.is_some(),
            "{}",
            db.backend
        );
        assert!(store
            .find_blind("identifier", b"hash-of-ob1", None)
            .await
            .unwrap()
            .is_empty());
        // Versions stay (sealed and now unreadable); their key row says why.
        let cur = store
            .read_current("Observation", "ob1")
            .await
            .unwrap()
            .unwrap();
        assert!(cur.key.unwrap().wrapped.is_none());
        assert!(store.live_data_keys().await.unwrap().is_empty());
        // A shred is a key change: a checkpoint is signed at once.
        let cps = store.audit_checkpoints().await.unwrap();
        assert_eq!(
            cps.last().unwrap().seq,
            store.audit_head().await.unwrap().seq
        );
    }
}

#[tokio::test]
async fn rewrap_replaces_live_keys_only() {
    for db in all_backends().await {
        let store = open(&db).await;
        store
            .commit(
                &Batch {
                    jobs: vec![job(
                        vec![
                            key_op("patient:a", Some("a")),
                            key_op("patient:b", Some("b")),
                        ],
                        None,
                    )],
                    folded: vec![],
                },
                &signer(),
                NOW,
            )
            .await
            .unwrap();
        let new = WrappedKey {
            master_key_id: "mk-2".into(),
            bytes: vec![7; 8],
        };
        store
            .commit(
                &Batch {
                    jobs: vec![job(
                        vec![WriteOp::Rewrap {
                            keys: vec![("patient:a".into(), new.clone())],
                        }],
                        None,
                    )],
                    folded: vec![],
                },
                &signer(),
                NOW,
            )
            .await
            .unwrap();
        let a = store.data_key("patient:a").await.unwrap().unwrap();
        assert_eq!(a.wrapped, Some(new), "{}", db.backend);
        let b = store.data_key("patient:b").await.unwrap().unwrap();
        assert_eq!(b.wrapped.unwrap().master_key_id, "mk-1");
    }
}

#[tokio::test]
async fn a_key_created_concurrently_is_reported_as_a_race() {
    for db in all_backends().await {
        let store = open(&db).await;
        store
            .commit(
                &Batch {
                    jobs: vec![job(vec![key_op("patient:a", Some("a"))], None)],
                    folded: vec![],
                },
                &signer(),
                NOW,
            )
            .await
            .unwrap();
        let other = WriteOp::EnsureKey {
            key_id: "patient:a".into(),
            patient_id: Some("a".into()),
            wrapped: WrappedKey {
                master_key_id: "mk-1".into(),
                bytes: vec![9, 9, 9],
            },
        };
        let r = store
            .commit(
                &Batch {
                    jobs: vec![job(vec![other], None)],
                    folded: vec![],
                },
                &signer(),
                NOW,
            )
            .await
            .unwrap();
        assert!(matches!(r[0], Err(JobError::KeyRace(_))), "{}", db.backend);
    }
}

#[tokio::test]
async fn audit_rows_cannot_be_updated_or_deleted_through_sql() {
    for db in all_backends().await {
        let store = open(&db).await;
        store
            .commit(
                &Batch {
                    jobs: vec![],
                    folded: vec![journaled(event(EventCode::Read, Some("p")))],
                },
                &signer(),
                NOW,
            )
            .await
            .unwrap();
        drop(store);
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
        let upd = sqlx::query("UPDATE audit_events SET patient_id = 'x'")
            .execute(&pool)
            .await;
        assert!(upd.is_err(), "{}: update must be refused", db.backend);
        let del = sqlx::query("DELETE FROM audit_events").execute(&pool).await;
        assert!(del.is_err(), "{}: delete must be refused", db.backend);
    }
}

#[tokio::test]
async fn two_stores_on_one_database_keep_one_chain() {
    for db in all_backends().await {
        let a = std::sync::Arc::new(open(&db).await);
        let b = std::sync::Arc::new(open(&db).await);
        let mut tasks = Vec::new();
        for (i, s) in [a.clone(), b.clone()].into_iter().enumerate() {
            tasks.push(tokio::spawn(async move {
                for n in 0..25 {
                    s.commit(
                        &Batch {
                            jobs: vec![],
                            folded: vec![journaled(event(
                                EventCode::Read,
                                Some(&format!("p{i}-{n}")),
                            ))],
                        },
                        &signer(),
                        NOW,
                    )
                    .await
                    .unwrap();
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(verify_chain(&a).await, 50, "{}", db.backend);
    }
}

#[tokio::test]
async fn migrations_are_idempotent() {
    for db in all_backends().await {
        let s = open(&db).await;
        s.close().await;
        let s = open(&db).await;
        assert_eq!(s.audit_head().await.unwrap().seq, 0, "{}", db.backend);
        assert_eq!(s.meta("nothing").await.unwrap(), None);
    }
}
