//! Login, sessions, CSRF and throttling over real HTTP against the real server on a
//! random port, with a fresh database per backend.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use zorgkluis_auth::TotpSecret;
use zorgkluis_policy::StaffRole;
use zorgkluis_testkit::{all_backends, TestDb};
use zorgkluis_vault::{OperatorPurpose, Principal, Vault};

async fn start(db: &TestDb) -> (Vault, String) {
    let vault = open_vault(db).await;
    org(&vault, "gp", "gp_practice").await;
    staff(&vault, "huisarts", "gp", StaffRole::Gp, "dr", false).await;
    let addr = serve(&vault).await;
    (vault, addr)
}

async fn log_in(addr: &str, code: &str) -> Reply {
    let (pre, csrf) = login_page(addr).await;
    let form = format!(
        "login=huisarts&password={}&code={code}&csrf={}",
        enc(PASSWORD),
        enc(&csrf)
    );
    http(
        addr,
        "POST",
        "/login",
        &format!("zk_login={pre}"),
        Some(&form),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pt6_hp5_login_with_second_factor_session_cookie_csrf_and_logout() {
    for db in all_backends().await {
        let (vault, addr) = start(&db).await;
        let page = http(&addr, "GET", "/login", "", None).await;
        let set = page
            .headers
            .iter()
            .find(|(k, v)| k.eq_ignore_ascii_case("set-cookie") && v.starts_with("zk_login"))
            .unwrap();
        assert!(
            set.1.contains("HttpOnly")
                && set.1.contains("Secure")
                && set.1.contains("SameSite=Strict"),
            "{}",
            set.1
        );
        assert!(page
            .header("content-security-policy")
            .unwrap()
            .contains("frame-ancestors 'none'"));
        assert!(page.body.contains("lang=\"nl\"") && page.body.contains("Wachtwoord"));
        assert!(http(&addr, "GET", "/login?lang=en", "", None)
            .await
            .body
            .contains("Password"));

        // No CSRF token, or one for another pre-login cookie: refused before anything happens.
        let (pre, csrf) = login_page(&addr).await;
        let no_csrf = http(
            &addr,
            "POST",
            "/login",
            &format!("zk_login={pre}"),
            Some(&format!("login=huisarts&password={}", enc(PASSWORD))),
        )
        .await;
        assert_eq!(no_csrf.status, 403);
        let wrong = http(
            &addr,
            "POST",
            "/login",
            "zk_login=other",
            Some(&format!(
                "login=huisarts&password={}&csrf={}",
                enc(PASSWORD),
                enc(&csrf)
            )),
        )
        .await;
        assert_eq!(wrong.status, 403);

        // Password alone is not enough for staff.
        let need_code = log_in(&addr, "").await;
        assert_eq!(need_code.status, 401);
        assert!(need_code.body.contains("authenticator"));

        let code = TotpSecret::from_base32(SECRET).unwrap().code_at(NOW);
        let ok = log_in(&addr, &code).await;
        assert_eq!(ok.status, 303, "{}", ok.body);
        assert_eq!(ok.header("location"), Some("/"));
        let token = ok.cookie("zk_session").unwrap();
        let me = http(&addr, "GET", "/me", &format!("zk_session={token}"), None).await;
        assert_eq!(me.status, 200);
        assert!(me.body.contains("Test huisarts"));
        // CO-8: the agreement is asked before the first access, and accepting needs CSRF.
        assert!(me.body.contains("Geheimhoudingsverklaring"));
        let csrf = me.hidden("csrf");
        let forged = http(
            &addr,
            "POST",
            "/confidentiality",
            &format!("zk_session={token}"),
            Some("csrf=forged"),
        )
        .await;
        assert_eq!(forged.status, 403);
        let accepted = http(
            &addr,
            "POST",
            "/confidentiality",
            &format!("zk_session={token}"),
            Some(&format!("csrf={}", enc(&csrf))),
        )
        .await;
        assert_eq!(accepted.status, 303);
        let me = http(&addr, "GET", "/me", &format!("zk_session={token}"), None).await;
        assert!(me.body.contains("geaccepteerd"), "{}", me.body);

        // Logout needs the CSRF token and ends the session server-side.
        assert_eq!(
            http(
                &addr,
                "POST",
                "/logout",
                &format!("zk_session={token}"),
                Some("csrf=x")
            )
            .await
            .status,
            403
        );
        let out = http(
            &addr,
            "POST",
            "/logout",
            &format!("zk_session={token}"),
            Some(&format!("csrf={}", enc(&csrf))),
        )
        .await;
        assert_eq!(out.status, 303);
        let after = http(&addr, "GET", "/me", &format!("zk_session={token}"), None).await;
        assert_eq!(after.status, 303, "a revoked session is refused");
        assert_eq!(after.header("location"), Some("/login"));
        vault.flush_audit().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_is_throttled_and_disabling_ends_the_session_on_the_next_request() {
    for db in all_backends().await {
        let (vault, addr) = start(&db).await;
        let code = TotpSecret::from_base32(SECRET).unwrap().code_at(NOW);
        let ok = log_in(&addr, &code).await;
        let token = ok.cookie("zk_session").unwrap();
        assert_eq!(
            http(&addr, "GET", "/me", &format!("zk_session={token}"), None)
                .await
                .status,
            200
        );
        vault
            .set_account_disabled(
                &Principal::operator("t", OperatorPurpose::Accounts),
                "huisarts",
                true,
            )
            .await
            .unwrap();
        assert_eq!(
            http(&addr, "GET", "/me", &format!("zk_session={token}"), None)
                .await
                .status,
            303
        );
        let mut last = 0;
        for _ in 0..6 {
            let (pre, csrf) = login_page(&addr).await;
            let form = format!(
                "login=huisarts&password=not-the-password-1&csrf={}",
                enc(&csrf)
            );
            last = http(
                &addr,
                "POST",
                "/login",
                &format!("zk_login={pre}"),
                Some(&form),
            )
            .await
            .status;
        }
        assert_eq!(last, 429, "locked after repeated failures");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_login_the_user_returns_to_a_page_of_this_server_only() {
    let db = zorgkluis_testkit::sqlite();
    let (_vault, addr) = start(&db).await;
    let evil = http(&addr, "GET", "/login?next=//evil.example/x", "", None).await;
    assert!(
        !evil.body.contains("name=\"next\""),
        "another site is never a target"
    );
    let page = http(&addr, "GET", "/login?next=%2Ffhir%2Fmetadata", "", None).await;
    assert!(page.body.contains("name=\"next\" value=\"/fhir/metadata\""));
    let pre = page.cookie("zk_login").unwrap();
    let csrf = page.hidden("csrf");
    let code = TotpSecret::from_base32(SECRET).unwrap().code_at(NOW);
    let form = format!(
        "login=huisarts&password={}&code={code}&csrf={}&next=%2Ffhir%2Fmetadata",
        enc(PASSWORD),
        enc(&csrf)
    );
    let ok = http(
        &addr,
        "POST",
        "/login",
        &format!("zk_login={pre}"),
        Some(&form),
    )
    .await;
    assert_eq!(ok.status, 303);
    assert_eq!(ok.header("location"), Some("/fhir/metadata"));
    // The consent page of an app sends a visitor without a session to the login, and back.
    let authorize = http(
        &addr,
        "GET",
        "/oauth/authorize?client_id=x&response_type=code",
        "",
        None,
    )
    .await;
    assert_eq!(authorize.status, 303);
    assert!(authorize
        .header("location")
        .unwrap()
        .starts_with("/login?next=%2Foauth%2Fauthorize%3Fclient_id%3Dx"));
}
