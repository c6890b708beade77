//! Nothing personal in plaintext at rest: generate demo patients, then search the raw
//! SQLite files and a PostgreSQL dump for their names, BSNs, e-mail addresses, streets
//! and condition texts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::Value;
use zorgkluis_testkit::{all_backends, TestDb};

/// The sensitive strings of a record: names, BSN, e-mail, street lines, condition and
/// observation texts, letters.
fn secrets(resources: &[Value]) -> Vec<String> {
    let mut out = Vec::new();
    for r in resources {
        match r["resourceType"].as_str() {
            Some("Patient") | Some("RelatedPerson") => {
                for n in r["name"].as_array().into_iter().flatten() {
                    out.extend(n["family"].as_str().map(str::to_owned));
                    for g in n["given"].as_array().into_iter().flatten() {
                        out.extend(g.as_str().map(str::to_owned));
                    }
                }
                for i in r["identifier"].as_array().into_iter().flatten() {
                    out.extend(i["value"].as_str().map(str::to_owned));
                }
                for t in r["telecom"].as_array().into_iter().flatten() {
                    out.extend(t["value"].as_str().map(str::to_owned));
                }
                for a in r["address"].as_array().into_iter().flatten() {
                    for l in a["line"].as_array().into_iter().flatten() {
                        out.extend(l.as_str().map(str::to_owned));
                    }
                }
            }
            Some("Condition") => {
                out.extend(r["code"]["text"].as_str().map(str::to_owned));
                for c in r["code"]["coding"].as_array().into_iter().flatten() {
                    out.extend(c["display"].as_str().map(str::to_owned));
                }
            }
            _ => {}
        }
    }
    // Short strings (e.g. a given name "Jan") match random bytes by chance; keep the
    // distinctive ones.
    out.retain(|s| s.len() >= 6);
    out.sort();
    out.dedup();
    out
}

fn find_any(haystack: &[u8], needles: &[String]) -> Vec<String> {
    needles
        .iter()
        .filter(|n| memchr::memmem::find(haystack, n.as_bytes()).is_some())
        .cloned()
        .collect()
}

fn dump(db: &TestDb) -> Vec<u8> {
    if db.backend == "SQLite" {
        let mut all = Vec::new();
        for entry in walk(&db.data_dir()) {
            all.extend(std::fs::read(entry).unwrap_or_default());
        }
        all
    } else {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.path().join("bin/pg_dump"))
            .find(|p| p.exists())
            .expect("pg_dump");
        let out = std::process::Command::new(bin)
            .arg(&db.url)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "pg_dump failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut all = out.stdout;
        for entry in walk(&db.data_dir()) {
            all.extend(std::fs::read(entry).unwrap_or_default());
        }
        all
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[tokio::test]
async fn no_plaintext_at_rest_in_sqlite_or_postgresql() {
    let seed = 11;
    let today = time::macros::date!(2026 - 11 - 23);
    let dir = zorgkluis_demo::directory(seed);
    let records: Vec<_> = (0..40)
        .map(|i| zorgkluis_demo::patient_record(seed, i, &dir, today))
        .collect();
    let mut needles = Vec::new();
    for r in &records {
        needles.extend(secrets(&r.resources));
    }
    needles.sort();
    needles.dedup();
    assert!(
        needles.len() > 100,
        "the test must look for many strings, found {}",
        needles.len()
    );
    assert!(
        needles
            .iter()
            .any(|n| n.len() == 9 && n.bytes().all(|b| b.is_ascii_digit())),
        "BSNs included"
    );

    for db in all_backends().await {
        let vault = open(&db).await;
        let mut directory = Vec::new();
        directory.extend(dir.organisations.iter().cloned());
        directory.extend(dir.practitioners.iter().cloned());
        directory.extend(dir.practitioner_roles.iter().cloned());
        vault
            .load(&loader(), directory, Default::default())
            .await
            .unwrap();
        for r in &records {
            vault
                .load(&loader(), r.resources.clone(), Default::default())
                .await
                .unwrap();
        }
        // Read a few so the journal holds events too, and search by BSN.
        for r in records.iter().take(5) {
            vault
                .read(&requester(), "Patient", &r.patient_id)
                .await
                .unwrap();
        }
        vault.close().await.unwrap();
        let bytes = dump(&db);
        assert!(
            bytes.len() > 100_000,
            "{}: the dump is suspiciously small",
            db.backend
        );
        let found = find_any(&bytes, &needles);
        assert!(
            found.is_empty(),
            "{}: plaintext found at rest: {found:?}",
            db.backend
        );
    }
}
