//! Crash safety: a writer process streams writes and audited reads and is killed with
//! SIGKILL; after a restart every acknowledged write and its audit event are there, every
//! acknowledged read has its audit event, nothing half-written is visible and the audit
//! chain verifies.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use common::*;
use zorgkluis_testkit::{all_backends, TestDb};
use zorgkluis_vault::{AuditEventCode, VaultError};

const CHILD_ENV: &str = "ZK_CRASH_CHILD_DIR";
const CHILD_URL: &str = "ZK_CRASH_CHILD_URL";

/// The writer process. Does nothing unless started by the crash test.
#[test]
fn crash_writer_child() {
    let (Ok(dir), Ok(url)) = (std::env::var(CHILD_ENV), std::env::var(CHILD_URL)) else {
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        let mut c = zorgkluis_vault::VaultConfig::for_data_dir(std::path::Path::new(&dir));
        c.database_url = url;
        let vault = zorgkluis_vault::Vault::open(c).await.unwrap();
        vault
            .load(&loader(), vec![patient("crash-p")], Default::default())
            .await
            .unwrap();
        println!("@@READY");
        let mut tasks = Vec::new();
        for t in 0..8 {
            let vault = vault.clone();
            tasks.push(tokio::spawn(async move {
                for i in 0.. {
                    let id = format!("crash-{t}-{i}");
                    vault
                        .load(
                            &loader(),
                            vec![observation(&id, "crash-p", "42.0")],
                            Default::default(),
                        )
                        .await
                        .unwrap();
                    println!("@@W {id}");
                    vault
                        .read(&requester(), "Patient", "crash-p")
                        .await
                        .unwrap();
                    println!("@@R");
                    std::io::stdout().flush().unwrap();
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    });
}

async fn crash_and_recover(db: &TestDb) {
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .args([
            "--exact",
            "crash_writer_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, db.data_dir())
        .env(CHILD_URL, &db.url)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let mut written = HashSet::new();
    let mut reads = 0usize;
    let mut ready = false;
    // libtest may print its own text on the same line; our lines start at "@@".
    let ours = |line: &str| line.find("@@").map(|i| line[i + 2..].to_owned());
    while let Some(Ok(line)) = lines.next() {
        let Some(line) = ours(&line) else { continue };
        if line == "READY" {
            ready = true;
        } else if let Some(id) = line.strip_prefix("W ") {
            written.insert(id.to_owned());
        } else if line == "R" {
            reads += 1;
        }
        if written.len() >= 300 {
            break;
        }
    }
    assert!(ready, "{}: the writer did not start", db.backend);
    child.kill().unwrap(); // SIGKILL
                           // Lines printed before the kill were acknowledged.
    for line in lines.map_while(Result::ok).filter_map(|l| ours(&l)) {
        if let Some(id) = line.strip_prefix("W ") {
            written.insert(id.to_owned());
        } else if line == "R" {
            reads += 1;
        }
    }
    child.wait().unwrap();

    let vault = open(db).await;
    for id in &written {
        let r = vault.read(&requester(), "Observation", id).await;
        assert!(
            r.is_ok(),
            "{}: acknowledged write {id} lost: {r:?}",
            db.backend
        );
    }
    // Nothing half-written: every stored observation opens.
    let counts = vault.resource_counts().await.unwrap();
    let stored = counts
        .iter()
        .find(|(t, _)| t == "Observation")
        .map_or(0, |(_, n)| *n);
    let mut opened = 0;
    for t in 0..8 {
        for i in 0..2000 {
            match vault
                .read(&requester(), "Observation", &format!("crash-{t}-{i}"))
                .await
            {
                Ok(_) => opened += 1,
                Err(VaultError::NotFound) => {}
                Err(e) => panic!("{}: a stored write does not open: {e}", db.backend),
            }
        }
    }
    assert_eq!(opened, stored, "{}", db.backend);
    let trail = vault
        .audit_for_patient(&auditor(), "crash-p", 1_000_000)
        .await
        .unwrap();
    let created: HashSet<_> = trail
        .iter()
        .filter(|e| e.code == AuditEventCode::Create)
        .filter_map(|e| e.object.resource_id.clone())
        .collect();
    for id in &written {
        assert!(
            created.contains(id),
            "{}: audit event of acknowledged write {id} lost",
            db.backend
        );
    }
    let patient_reads_before_restart = trail
        .iter()
        .filter(|e| {
            e.code == AuditEventCode::Read
                && e.object.resource_id.as_deref() == Some("crash-p")
                && e.actor.user_id == "system:test-export"
        })
        .count();
    // Every acknowledged read's event survived (reads after restart are not counted: the
    // checks above read observations, not the patient).
    assert!(
        patient_reads_before_restart >= reads,
        "{}: {reads} acknowledged reads but {patient_reads_before_restart} read events",
        db.backend
    );
    let verified = vault.verify_audit(&auditor(), &|_, _| {}).await.unwrap();
    assert!(verified.is_ok(), "{}: {verified:?}", db.backend);
    vault.close().await.unwrap();
    eprintln!(
        "{}: {} acknowledged writes and {reads} acknowledged reads survived SIGKILL",
        db.backend,
        written.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_and_audit_events_survive_sigkill() {
    for db in all_backends().await {
        crash_and_recover(&db).await;
    }
}
