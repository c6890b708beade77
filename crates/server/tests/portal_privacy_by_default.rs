//! HP-8 and the page security rules, checked on every portal page a patient opens: only
//! functional cookies (session, login form, language, acting-for), no third-party content,
//! and a CSP without inline scripts or styles.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::json;
use zorgkluis_testkit::sqlite;
use zorgkluis_vault::{OperatorPurpose, Principal};

/// Every cookie Zorgkluis may set, and why (docs/portal.md lists the same).
const FUNCTIONAL: [&str; 4] = ["zk_session", "zk_login", "zk_lang", "zk_for"];

const PAGES: [&str; 14] = [
    "/",
    "/patient",
    "/patient/record",
    "/patient/results",
    "/patient/documents",
    "/patient/appointments",
    "/patient/messages",
    "/patient/log",
    "/patient/links",
    "/patient/notes",
    "/patient/access-log",
    "/patient/details",
    "/privacy-statement",
    "/lang?to=en&back=/patient",
];

fn check(reply: &Reply, path: &str) {
    for (k, v) in &reply.headers {
        if k.eq_ignore_ascii_case("set-cookie") {
            let name = v.split('=').next().unwrap_or("");
            assert!(
                FUNCTIONAL.contains(&name),
                "{path} sets a cookie that is not functional: {v}"
            );
            assert!(
                v.contains("Secure") && v.contains("SameSite="),
                "{path}: {v}"
            );
        }
    }
    let csp = reply.header("content-security-policy").unwrap_or("");
    assert!(csp.contains("default-src 'self'"), "{path}: {csp}");
    assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
    assert_eq!(
        reply.header("referrer-policy"),
        Some("no-referrer"),
        "{path}"
    );
    let body = &reply.body;
    for needle in ["<script", "style=\"", "<style", "<iframe"] {
        assert!(!body.contains(needle), "{path} contains {needle}");
    }
    // No third-party content: only links (a href) may leave the site.
    for attr in ["src=\"http", "<link rel=\"stylesheet\" href=\"http"] {
        assert!(!body.contains(attr), "{path} loads third-party content");
    }
}

#[tokio::test]
async fn hp8_only_functional_cookies_no_third_party_content_and_a_strict_csp_on_every_page() {
    let db = sqlite();
    let vault = open_vault(&db).await;
    let loader = Principal::operator("t", OperatorPurpose::Load);
    vault
        .update(
            &loader,
            "Patient",
            "p1",
            json!({"resourceType": "Patient", "id": "p1",
                   "name": [{"family": "Vos", "given": ["Anna"]}], "birthDate": "1980-02-01"}),
            None,
        )
        .await
        .unwrap();
    patient_account(&vault, "anna", "p1").await;
    let addr = serve(&vault).await;
    let login = http(&addr, "GET", "/login", "", None).await;
    check(&login, "/login");
    let cookies = session(&addr, "anna", false).await;
    for path in PAGES {
        let reply = http(&addr, "GET", path, &cookies, None).await;
        assert!(
            [200, 303].contains(&reply.status),
            "{path} answered {}",
            reply.status
        );
        check(&reply, path);
    }
}
