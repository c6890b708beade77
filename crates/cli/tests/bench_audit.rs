//! `zorgkluis bench audit` as an operator runs it: fills a benchmark vault's trail, times
//! the privacy officer's queries, writes the JSON report; the chain stays intact; a vault
//! with records is refused.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

fn zorgkluis(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_zorgkluis"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_remove("ZORGKLUIS_DATABASE_URL")
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn bench_audit_fills_a_valid_chain_and_reports_both_queries() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("bench");
    let json = dir.path().join("report.json");
    let args = [
        "bench",
        "audit",
        "--events",
        "2000",
        "--patients",
        "50",
        "--users",
        "10",
        "--months",
        "2",
        "--batch",
        "300",
        "--patient-queries",
        "20",
        "--user-queries",
        "5",
        "--json",
        json.to_str().unwrap(),
    ];
    let o = zorgkluis(&data, &args);
    assert!(o.status.success(), "{}", text(&o));
    let out = text(&o);
    assert!(out.contains("2,000 / 2,000 events"), "{out}");
    assert!(out.contains("who viewed this patient"), "{out}");
    assert!(out.contains("which patients did this user access"), "{out}");

    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["backend"], "SQLite");
    assert_eq!(report["events_filled"], 2000);
    let queries = report["queries"].as_array().unwrap();
    assert_eq!(queries.len(), 2);
    assert_eq!(queries[0]["runs"], 20);
    assert_eq!(queries[1]["runs"], 5);
    for q in queries {
        for k in ["p50_ms", "p95_ms", "p99_ms", "max_ms"] {
            assert!(q[k].as_f64().unwrap() > 0.0, "{k}: {q}");
        }
    }
    // 2,000 events over 50 patients: the busiest patient has at least a page of 100.
    assert_eq!(queries[0]["rows_max"], 100, "{report}");
    assert!(queries[1]["rows_max"].as_u64().unwrap() > 0, "{report}");

    // Only the query phase again (with the same options), then the chain is intact.
    let mut again = args.to_vec();
    again[3] = "0";
    let o = zorgkluis(&data, &again);
    assert!(o.status.success(), "{}", text(&o));
    let o = zorgkluis(&data, &["audit", "verify"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("audit chain intact"), "{}", text(&o));

    // A vault with records does not receive synthetic events.
    let real = dir.path().join("real");
    let o = zorgkluis(&real, &["generate", "--patients", "1"]);
    assert!(o.status.success(), "{}", text(&o));
    let o = zorgkluis(&real, &["bench", "audit", "--events", "100"]);
    assert!(!o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("runs only on a data directory"),
        "{}",
        text(&o)
    );
}

#[tokio::test]
async fn bench_audit_runs_on_postgresql_too() {
    let Some(db) = zorgkluis_testkit::postgres().await else {
        return;
    };
    let o = Command::new(env!("CARGO_BIN_EXE_zorgkluis"))
        .arg("--data-dir")
        .arg(db.data_dir())
        .arg("--database-url")
        .arg(&db.url)
        .args([
            "bench",
            "audit",
            "--events",
            "500",
            "--patients",
            "20",
            "--users",
            "5",
            "--months",
            "1",
            "--patient-queries",
            "5",
            "--user-queries",
            "2",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("audit queries on PostgreSQL"),
        "{}",
        text(&o)
    );
    let o = Command::new(env!("CARGO_BIN_EXE_zorgkluis"))
        .arg("--data-dir")
        .arg(db.data_dir())
        .arg("--database-url")
        .arg(&db.url)
        .args(["audit", "verify"])
        .output()
        .unwrap();
    assert!(text(&o).contains("audit chain intact"), "{}", text(&o));
}
