//! The `zorgkluis` binary as an operator uses it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};

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

async fn sql(data_dir: &Path, statements: &[&str]) -> Vec<String> {
    sqlx::any::install_default_drivers();
    let url = format!("sqlite://{}", data_dir.join("zorgkluis.db").display());
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    let mut out = Vec::new();
    for s in statements {
        if s.starts_with("SELECT") {
            out.extend(
                sqlx::query_scalar::<_, String>(s)
                    .fetch_all(&pool)
                    .await
                    .unwrap(),
            );
        } else {
            sqlx::query(s).execute(&pool).await.unwrap();
        }
    }
    pool.close().await;
    out
}

#[tokio::test]
async fn generate_verify_tamper_rotate_and_shred_from_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let o = zorgkluis(data, &["generate", "--patients", "4", "--seed", "3"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("generated 4 patients"), "{}", text(&o));
    // Generating again with the same seed writes nothing new.
    let o = zorgkluis(data, &["generate", "--patients", "4", "--seed", "3"]);
    assert!(text(&o).contains("0 resources written"), "{}", text(&o));

    let o = zorgkluis(data, &["audit", "verify"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("audit chain intact"), "{}", text(&o));

    let o = zorgkluis(data, &["keys", "rotate"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("re-wrapped"));

    let patient = sql(
        data,
        &["SELECT id FROM resources WHERE resource_type = 'Patient' ORDER BY id LIMIT 1"],
    )
    .await;
    let o = zorgkluis(data, &["keys", "shred", "--patient", &patient[0], "--yes"]);
    assert!(o.status.success(), "{}", text(&o));
    let o = zorgkluis(data, &["keys", "shred", "--patient", &patient[0], "--yes"]);
    assert!(
        !o.status.success(),
        "shredding twice must fail: {}",
        text(&o)
    );
    assert!(text(&o).contains("destroyed"), "{}", text(&o));

    let o = zorgkluis(data, &["audit", "verify"]);
    assert!(o.status.success(), "{}", text(&o));

    // An intruder edits event #3 by hand.
    sql(
        data,
        &[
            "DROP TRIGGER audit_events_no_update",
            "UPDATE audit_events SET payload = replace(payload, 'HOPERAT', 'TREAT') WHERE seq = 3",
        ],
    )
    .await;
    let o = zorgkluis(data, &["audit", "verify"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("first bad event: #3"), "{}", text(&o));
}

#[test]
fn a_missing_key_store_is_a_clear_error_not_a_new_key() {
    let dir = tempfile::tempdir().unwrap();
    let o = zorgkluis(dir.path(), &["generate", "--patients", "1"]);
    assert!(o.status.success(), "{}", text(&o));
    std::fs::rename(dir.path().join("keys"), dir.path().join("keys-elsewhere")).unwrap();
    let o = zorgkluis(dir.path(), &["audit", "verify"]);
    assert!(!o.status.success());
    assert!(text(&o).contains("no master key"), "{}", text(&o));
}

#[test]
fn serve_answers_health_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_zorgkluis"))
        .arg("--data-dir")
        .arg(dir.path())
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap()
        .to_owned();
    let addr = url.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET /health HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("\"status\":\"ok\""), "{response}");
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(child.wait().unwrap().success());
    assert!(rest.iter().any(|l| l.contains("stopped")), "{rest:?}");
}

#[test]
fn co3_users_add_list_disable_from_the_terminal_and_a_weak_password_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ok = zorgkluis(dir.path(), &["generate", "--patients", "1"]);
    assert!(ok.status.success(), "{}", text(&ok));
    let ok = zorgkluis(
        dir.path(),
        &[
            "organisations",
            "set",
            "--id",
            "org-1",
            "--name",
            "Praktijk Test",
            "--kind",
            "gp_practice",
            "--region",
            "noord-veluwe",
        ],
    );
    assert!(ok.status.success(), "{}", text(&ok));
    let add = |login: &str, password: &str| {
        Command::new(env!("CARGO_BIN_EXE_zorgkluis"))
            .arg("--data-dir")
            .arg(dir.path())
            .args([
                "users",
                "add",
                "--login",
                login,
                "--name",
                "Anna de Wit",
                "--role",
                "assistant",
                "--organisation",
                "org-1",
                "--practitioner",
                "pr-dewit",
                "--confidentiality-signed",
            ])
            .env("ZORGKLUIS_NEW_PASSWORD", password)
            .env_remove("ZORGKLUIS_DATABASE_URL")
            .output()
            .unwrap()
    };
    let weak = add("a.dewit", "welkom01");
    assert!(!weak.status.success());
    assert!(
        text(&weak).contains("password not accepted"),
        "{}",
        text(&weak)
    );
    let created = add("a.dewit", "zomer-duinen-fietspad-88");
    assert!(created.status.success(), "{}", text(&created));
    let out = text(&created);
    assert!(
        out.contains("second factor (shown once)"),
        "staff always get a second factor: {out}"
    );
    assert!(out.contains("recovery codes"), "{out}");
    let list = text(&zorgkluis(dir.path(), &["users", "list"]));
    let line = list.lines().find(|l| l.starts_with("a.dewit")).unwrap();
    assert!(
        line.contains("assistant") && line.contains("yes") && line.contains("active"),
        "{line}"
    );
    // The practitioner id is the third column (what scripts/lib/zorgkluis.sh reads for
    // `bench http --practitioner`), under its heading.
    let header = list.lines().find(|l| l.starts_with("login")).unwrap();
    let column = |l: &str| l.split_whitespace().nth(2).map(str::to_owned);
    assert_eq!(column(header).as_deref(), Some("practitioner"), "{list}");
    assert_eq!(column(line).as_deref(), Some("pr-dewit"), "{list}");
    assert_eq!(
        header.find("practitioner"),
        line.find("pr-dewit"),
        "aligned: {list}"
    );
    let rights = zorgkluis(
        dir.path(),
        &[
            "users",
            "rights",
            "--login",
            "a.dewit",
            "--organisation",
            "org-1",
            "--read",
            "demographics,appointments,results",
        ],
    );
    assert!(rights.status.success(), "{}", text(&rights));
    let bad = zorgkluis(
        dir.path(),
        &[
            "users",
            "rights",
            "--login",
            "a.dewit",
            "--organisation",
            "org-1",
            "--read",
            "everything",
        ],
    );
    assert!(
        !bad.status.success() && text(&bad).contains("unknown category"),
        "{}",
        text(&bad)
    );
    let disabled = zorgkluis(dir.path(), &["users", "disable", "a.dewit"]);
    assert!(disabled.status.success(), "{}", text(&disabled));
    let list = text(&zorgkluis(dir.path(), &["users", "list"]));
    assert!(
        list.lines()
            .any(|l| l.starts_with("a.dewit") && l.contains("disabled")),
        "{list}"
    );
    // The practitioner stays listed with the disabled account (it is who they were).
    let line = list.lines().find(|l| l.starts_with("a.dewit")).unwrap();
    assert_eq!(line.split_whitespace().nth(2), Some("pr-dewit"), "{line}");
}

#[test]
fn demo_prints_the_url_and_one_login_per_role() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_zorgkluis"))
        .arg("--data-dir")
        .arg(dir.path())
        .args(["demo", "--patients", "4", "--listen", "127.0.0.1:0"])
        .env_remove("ZORGKLUIS_DATABASE_URL")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let done = line.contains("Press Ctrl-C");
        seen.push(line);
        if done {
            break;
        }
    }
    let all = seen.join("\n");
    assert!(all.contains("http://127.0.0.1:"), "{all}");
    assert!(all.contains("DEMO ONLY"), "{all}");
    for role in [
        "patient (age",
        "representative (",
        " gp ",
        " assistant ",
        " practice_nurse ",
        " physiotherapist ",
        " coach ",
        " locum_gp ",
        " pharmacist ",
        " privacy_officer ",
        " administrator ",
    ] {
        assert!(all.contains(role), "no demo login for {role}: {all}");
    }
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let _: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(child.wait().unwrap().success());
}

#[test]
fn pc8_plain_http_is_refused_on_a_public_address_without_tls_or_a_proxy() {
    let dir = tempfile::tempdir().unwrap();
    let out = zorgkluis(dir.path(), &["serve", "--listen", "0.0.0.0:0"]);
    assert!(
        !out.status.success(),
        "plain HTTP on 0.0.0.0 must not start"
    );
    let said = text(&out);
    assert!(
        said.contains("PC-8") && said.contains("--tls-cert"),
        "{said}"
    );
}
