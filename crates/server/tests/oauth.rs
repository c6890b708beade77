//! OAuth 2 / SMART on FHIR for API clients over real HTTP against the real server on a
//! random port, with a fresh database per backend: discovery, client credentials, the
//! authorization-code flow with PKCE through the web login, revocation, and the principal
//! behind a bearer token.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use base64::Engine;
use common::*;
use serde_json::json;
use zorgkluis_policy::StaffRole;
use zorgkluis_server::oauth::{bearer_caller, BearerError};
use zorgkluis_server::AppState;
use zorgkluis_testkit::{all_backends, TestDb};
use zorgkluis_vault::{
    pkce_s256, AuditFilter, NewClient, NewClientKind, OperatorPurpose, Principal, Vault, VaultError,
};

const REDIRECT: &str = "https://app.example.nl/callback";
const VERIFIER: &str = "Zk-test-verifier-0123456789-abcdefghijklmnopqrstuvwxyz";

async fn start(db: &TestDb) -> (Vault, String) {
    let vault = open_vault(db).await;
    org(&vault, "gp", "gp_practice").await;
    org(&vault, "physio", "physio_practice").await;
    staff(&vault, "huisarts", "gp", StaffRole::Gp, "dr", true).await;
    patient_account(&vault, "anna", "p-anna").await;
    let addr = serve(&vault).await;
    (vault, addr)
}

async fn system_client(vault: &Vault, org: &str, scopes: &str) -> (String, String) {
    let c = vault
        .register_client(
            &accounts_admin(),
            NewClient {
                name: format!("Labkoppeling {org}"),
                kind: NewClientKind::System {
                    organisation_id: org.into(),
                },
                scopes: scopes.into(),
                redirect_uris: vec![],
            },
        )
        .await
        .unwrap();
    (c.client_id, c.client_secret)
}

async fn user_client(vault: &Vault, login: &str, scopes: &str) -> (String, String) {
    let c = vault
        .register_client(
            &accounts_admin(),
            NewClient {
                name: "PGO-app".into(),
                kind: NewClientKind::User {
                    login: login.into(),
                },
                scopes: scopes.into(),
                redirect_uris: vec![REDIRECT.into()],
            },
        )
        .await
        .unwrap();
    (c.client_id, c.client_secret)
}

fn basic(id: &str, secret: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
    )
}

async fn post_form(addr: &str, path: &str, auth: Option<&str>, form: &str) -> Reply {
    let mut headers = vec![("Content-Type", "application/x-www-form-urlencoded")];
    if let Some(a) = auth {
        headers.push(("Authorization", a));
    }
    request(addr, "POST", path, &headers, form.as_bytes()).await
}

async fn client_credentials(addr: &str, id: &str, secret: &str, scope: &str) -> Reply {
    post_form(
        addr,
        "/oauth/token",
        Some(&basic(id, secret)),
        &format!("grant_type=client_credentials&scope={}", enc(scope)),
    )
    .await
}

fn authorize_query(client_id: &str, verifier: &str, state: &str, scope: &str) -> String {
    format!(
        "/oauth/authorize?response_type=code&client_id={client_id}&redirect_uri={}&scope={}&state={state}&code_challenge={}&code_challenge_method=S256",
        enc(REDIRECT),
        enc(scope),
        pkce_s256(verifier)
    )
}

/// Approves the consent page of `query` as the session `cookie`; returns the redirect.
async fn approve(addr: &str, cookie: &str, query: &str) -> Reply {
    let page = http(addr, "GET", query, cookie, None).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let fields = [
        "response_type",
        "client_id",
        "redirect_uri",
        "scope",
        "state",
        "code_challenge",
        "code_challenge_method",
        "csrf",
    ];
    let mut form: Vec<String> = fields
        .iter()
        .map(|f| format!("{f}={}", enc(&page.hidden(f))))
        .collect();
    form.push("decision=approve".into());
    http(
        addr,
        "POST",
        "/oauth/authorize",
        cookie,
        Some(&form.join("&")),
    )
    .await
}

fn code_of(redirect: &Reply) -> String {
    let location = redirect.header("location").unwrap();
    let (base, query) = location.split_once('?').unwrap();
    assert_eq!(base, REDIRECT);
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("no code in {location}"))
}

async fn exchange(addr: &str, id: &str, secret: &str, code: &str, verifier: &str) -> Reply {
    post_form(
        addr,
        "/oauth/token",
        None,
        &format!(
            "grant_type=authorization_code&code={}&redirect_uri={}&code_verifier={}&client_id={id}&client_secret={}",
            enc(code),
            enc(REDIRECT),
            enc(verifier),
            enc(secret)
        ),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_document_advertises_endpoints_grants_pkce_and_capabilities() {
    let db = zorgkluis_testkit::sqlite();
    let (_vault, addr) = start(&db).await;
    let r = http(&addr, "GET", "/.well-known/smart-configuration", "", None).await;
    assert_eq!(r.status, 200);
    let d = r.json();
    let origin = format!("http://{addr}");
    assert_eq!(
        d["authorization_endpoint"],
        format!("{origin}/oauth/authorize")
    );
    assert_eq!(d["token_endpoint"], format!("{origin}/oauth/token"));
    assert_eq!(d["revocation_endpoint"], format!("{origin}/oauth/revoke"));
    assert_eq!(
        d["grant_types_supported"],
        json!(["authorization_code", "client_credentials"])
    );
    assert_eq!(d["code_challenge_methods_supported"], json!(["S256"]));
    let caps: Vec<&str> = d["capabilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    for c in [
        "client-confidential-symmetric",
        "launch-standalone",
        "context-standalone-patient",
        "permission-patient",
        "permission-user",
    ] {
        assert!(caps.contains(&c), "{c}");
    }
    assert!(!caps.contains(&"sso-openid-connect"));
    let scopes = d["scopes_supported"].as_array().unwrap();
    assert!(scopes.contains(&json!("system/*.*")) && scopes.contains(&json!("launch/patient")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gp9_system_client_credentials_token_acts_for_its_organisation_only_and_is_audited_as_exchange(
) {
    for db in all_backends().await {
        let (vault, addr) = start(&db).await;
        let (id, secret) = system_client(&vault, "gp", "system/*.*").await;

        let r = client_credentials(&addr, &id, &secret, "system/*.read").await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.header("cache-control"), Some("no-store"));
        let t = r.json();
        assert_eq!(t["token_type"], "Bearer");
        assert_eq!(t["expires_in"], 3600);
        assert_eq!(t["scope"], "system/*.read", "narrowed to what was asked");
        assert!(t.get("patient").is_none());
        let token = t["access_token"].as_str().unwrap().to_owned();

        let state = AppState::new(vault.clone());
        let (principal, scopes) = bearer_caller(&state, &token, "10.0.0.7").await.unwrap();
        let Principal::System(client) = &principal else {
            panic!("not a system principal: {principal:?}");
        };
        assert_eq!(client.organisation.id, "gp");
        assert_eq!(client.actor.user_id, format!("client:{id}"));
        assert_eq!(client.actor.role_name, "system-client");
        assert_eq!(client.actor.access_point, "10.0.0.7");
        assert!(scopes.permits("Observation", false));
        assert!(!scopes.permits("Observation", true), "scopes narrow");

        // Client authentication in the form works too; asking nothing grants everything
        // registered; asking outside the registration grants nothing.
        let r = post_form(
            &addr,
            "/oauth/token",
            None,
            &format!(
                "grant_type=client_credentials&client_id={id}&client_secret={}",
                enc(&secret)
            ),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.json()["scope"], "system/*.*");
        let r = client_credentials(&addr, &id, &secret, "user/*.read").await;
        assert_eq!(r.status, 400);
        assert_eq!(r.json()["error"], "invalid_scope");
        let r = post_form(
            &addr,
            "/oauth/token",
            Some(&basic(&id, &secret)),
            "grant_type=password",
        )
        .await;
        assert_eq!(r.json()["error"], "unsupported_grant_type");

        // GP-9 through real records: a patient in care at gp is readable, one without a
        // care relationship there is not; the access is logged with the client as actor
        // on the exchange channel.
        let load = Principal::operator("t", OperatorPurpose::Load);
        vault
            .update(
                &load,
                "Organization",
                "gp",
                json!({"resourceType": "Organization", "id": "gp", "name": "Praktijk"}),
                None,
            )
            .await
            .unwrap();
        vault
            .update(
                &load,
                "Practitioner",
                "dr",
                json!({"resourceType": "Practitioner", "id": "dr"}),
                None,
            )
            .await
            .unwrap();
        for p in ["p-in-care", "p-elsewhere"] {
            vault
                .update(
                    &load,
                    "Patient",
                    p,
                    json!({"resourceType": "Patient", "id": p, "birthDate": "1970-01-01"}),
                    None,
                )
                .await
                .unwrap();
        }
        vault
            .update(
                &load,
                "CareTeam",
                "ct-1",
                json!({"resourceType": "CareTeam", "id": "ct-1", "status": "active",
                       "subject": {"reference": "Patient/p-in-care"},
                       "participant": [{"member": {"reference": "Practitioner/dr"},
                                        "onBehalfOf": {"reference": "Organization/gp"}}]}),
                None,
            )
            .await
            .unwrap();
        vault
            .read(&principal, "Patient", "p-in-care")
            .await
            .unwrap();
        assert!(matches!(
            vault.read(&principal, "Patient", "p-elsewhere").await,
            Err(VaultError::Forbidden)
        ));
        vault.flush_audit().await.unwrap();
        let events = vault
            .audit_search(
                &Principal::operator("t", OperatorPurpose::AuditReview),
                &AuditFilter {
                    patient_id: None,
                    user_id: Some(format!("client:{id}")),
                    since: None,
                    until: None,
                    limit: 100,
                },
            )
            .await
            .unwrap();
        let read = events
            .iter()
            .find(|e| e.object.patient_id.as_deref() == Some("p-in-care"))
            .expect("the read is audited");
        assert_eq!(read.channel, zorgkluis_audit::Channel::Exchange);
        assert_eq!(read.actor.organisation.as_deref(), Some("gp"));
        assert!(read.reason.as_deref().unwrap_or("").starts_with("GP-9"));
        assert!(events.iter().any(|e| e.event_type == "oauth-token"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_or_unknown_client_secret_is_refused_with_401_invalid_client() {
    for db in all_backends().await {
        let (vault, addr) = start(&db).await;
        let (id, secret) = system_client(&vault, "gp", "system/*.read").await;
        let wrong = client_credentials(&addr, &id, "not-the-secret", "").await;
        assert_eq!(wrong.status, 401, "{}", wrong.body);
        assert_eq!(wrong.json()["error"], "invalid_client");
        assert!(wrong.header("www-authenticate").is_some());
        let unknown = client_credentials(&addr, "no-such-client", &secret, "").await;
        assert_eq!(unknown.status, 401);
        assert_eq!(unknown.json()["error"], "invalid_client");
        let none = post_form(&addr, "/oauth/token", None, "grant_type=client_credentials").await;
        assert_eq!(none.status, 401);
        let form = post_form(
            &addr,
            "/oauth/token",
            None,
            &format!("grant_type=client_credentials&client_id={id}&client_secret=x"),
        )
        .await;
        assert_eq!(form.status, 401);
        assert_eq!(form.json()["error"], "invalid_client");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorization_code_with_pkce_through_the_web_login_refuses_wrong_verifier_and_reused_code()
{
    for db in all_backends().await {
        let (vault, addr) = start(&db).await;
        let (id, secret) =
            user_client(&vault, "anna", "patient/*.read launch/patient openid").await;
        let query = authorize_query(&id, VERIFIER, "xyz", "launch/patient patient/*.read openid");

        // Without a session: log in first.
        let anonymous = http(&addr, "GET", &query, "", None).await;
        assert_eq!(anonymous.status, 303);
        assert!(anonymous
            .header("location")
            .unwrap()
            .starts_with("/login?next=%2Foauth%2Fauthorize%3F"));

        let anna = session(&addr, "anna", false).await;
        let page = http(&addr, "GET", &query, &anna, None).await;
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(page.body.contains("PGO-app") && page.body.contains("Toestaan"));
        let en = http(&addr, "GET", &format!("{query}&lang=en"), &anna, None).await;
        assert!(en.body.contains("Allow"));

        // A redirect URI that is not registered is never redirected to.
        let foreign = query.replace(&enc(REDIRECT), &enc("https://evil.example/cb"));
        let r = http(&addr, "GET", &foreign, &anna, None).await;
        assert_eq!(r.status, 400);
        assert!(r.header("location").is_none());
        // No PKCE: an error back to the app.
        let no_pkce = query.replace("code_challenge_method=S256", "code_challenge_method=plain");
        let r = http(&addr, "GET", &no_pkce, &anna, None).await;
        assert_eq!(r.status, 303);
        assert!(r
            .header("location")
            .unwrap()
            .contains("error=invalid_request"));

        // The approve form needs its CSRF token.
        let forged = http(
            &addr,
            "POST",
            "/oauth/authorize",
            &anna,
            Some(&format!(
                "client_id={id}&redirect_uri={}&response_type=code&code_challenge={}&code_challenge_method=S256&decision=approve&csrf=forged",
                enc(REDIRECT),
                pkce_s256(VERIFIER)
            )),
        )
        .await;
        assert_eq!(forged.status, 403);

        // A wrong verifier is refused (and uses the code up).
        let first = approve(&addr, &anna, &query).await;
        assert_eq!(first.status, 303, "{}", first.body);
        assert!(first.header("location").unwrap().contains("state=xyz"));
        let wrong = exchange(
            &addr,
            &id,
            &secret,
            &code_of(&first),
            "another-verifier-0123456789-abcdefghijklmnopqrstuvwxyz",
        )
        .await;
        assert_eq!(wrong.status, 400, "{}", wrong.body);
        assert_eq!(wrong.json()["error"], "invalid_grant");

        // The right verifier gets a token with the patient in context.
        let second = approve(&addr, &anna, &query).await;
        let code = code_of(&second);
        let ok = exchange(&addr, &id, &secret, &code, VERIFIER).await;
        assert_eq!(ok.status, 200, "{}", ok.body);
        let t = ok.json();
        assert_eq!(t["token_type"], "Bearer");
        assert_eq!(t["expires_in"], 3600);
        assert_eq!(t["patient"], "p-anna");
        assert_eq!(t["scope"], "launch/patient patient/*.read openid");

        // A code works once.
        let again = exchange(&addr, &id, &secret, &code, VERIFIER).await;
        assert_eq!(again.status, 400);
        assert_eq!(again.json()["error"], "invalid_grant");

        let state = AppState::new(vault.clone());
        let token = t["access_token"].as_str().unwrap();
        let (principal, scopes) = bearer_caller(&state, token, "192.0.2.1").await.unwrap();
        let Principal::Patient { patient_id, actor } = &principal else {
            panic!("not the patient: {principal:?}");
        };
        assert_eq!(patient_id, "p-anna");
        assert_eq!(actor.access_point, "192.0.2.1");
        assert!(actor.display.as_deref().unwrap().contains("via PGO-app"));
        assert_eq!(scopes.patient_context(), Some("p-anna"));
        assert!(scopes.permits_for_patient("Observation", false, Some("p-anna")));
        assert!(!scopes.permits_for_patient("Observation", false, Some("p-other")));
        assert!(!scopes.permits("Observation", true));

        // A user client acts only as its own account.
        let gp = session(&addr, "huisarts", true).await;
        let r = http(&addr, "GET", &query, &gp, None).await;
        assert_eq!(r.status, 303);
        assert!(r
            .header("location")
            .unwrap()
            .contains("error=access_denied"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_tokens_revoked_clients_and_disabled_accounts_no_longer_authenticate() {
    for db in all_backends().await {
        let (vault, addr) = start(&db).await;
        let state = AppState::new(vault.clone());
        let (id, secret) = system_client(&vault, "gp", "system/*.read").await;
        let token = |r: Reply| r.json()["access_token"].as_str().unwrap().to_owned();

        // RFC 7009: the client revokes its own token; unknown tokens are fine too.
        let t1 = token(client_credentials(&addr, &id, &secret, "").await);
        assert!(bearer_caller(&state, &t1, "x").await.is_ok());
        let r = post_form(
            &addr,
            "/oauth/revoke",
            Some(&basic(&id, &secret)),
            &format!("token={}", enc(&t1)),
        )
        .await;
        assert_eq!(r.status, 200);
        assert_eq!(
            bearer_caller(&state, &t1, "x").await.unwrap_err(),
            BearerError::InvalidToken
        );
        let r = post_form(
            &addr,
            "/oauth/revoke",
            Some(&basic(&id, &secret)),
            "token=never-issued",
        )
        .await;
        assert_eq!(r.status, 200);
        let r = post_form(&addr, "/oauth/revoke", Some(&basic(&id, "x")), "token=y").await;
        assert_eq!(r.status, 401);

        // Another client cannot revoke this client's token.
        let (other, other_secret) = system_client(&vault, "physio", "system/*.read").await;
        let t2 = token(client_credentials(&addr, &id, &secret, "").await);
        let t3 = token(client_credentials(&addr, &id, &secret, "").await);
        post_form(
            &addr,
            "/oauth/revoke",
            Some(&basic(&other, &other_secret)),
            &format!("token={}", enc(&t2)),
        )
        .await;
        assert!(bearer_caller(&state, &t2, "x").await.is_ok());

        // Revoking the client revokes all its tokens and its credentials.
        assert_eq!(
            vault.revoke_client(&accounts_admin(), &id).await.unwrap(),
            2
        );
        for t in [&t2, &t3] {
            assert_eq!(
                bearer_caller(&state, t, "x").await.unwrap_err(),
                BearerError::InvalidToken
            );
        }
        let r = client_credentials(&addr, &id, &secret, "").await;
        assert_eq!(r.status, 401);
        let listed = vault.list_clients(&accounts_admin()).await.unwrap();
        let revoked = listed.iter().find(|c| c.id == id).unwrap();
        assert!(revoked.revoked_at.is_some());
        assert!(bearer_caller(&state, "garbage", "x").await.is_err());

        // A user client's token ends when the account is disabled.
        let (uid, usecret) = user_client(&vault, "huisarts", "user/*.read").await;
        let r = client_credentials(&addr, &uid, &usecret, "user/*.read").await;
        assert_eq!(r.status, 200, "{}", r.body);
        let ut = token(r);
        let (p, _) = bearer_caller(&state, &ut, "x").await.unwrap();
        assert!(matches!(p, Principal::Staff(_)));
        // A token checked a moment ago comes from the cache, with this request's address.
        let (again, _) = bearer_caller(&state, &ut, "y").await.unwrap();
        assert_eq!(again.actor().access_point, "y");
        assert_eq!(again.actor().user_id, p.actor().user_id);
        vault
            .set_account_disabled(&accounts_admin(), "huisarts", true)
            .await
            .unwrap();
        assert_eq!(
            bearer_caller(&state, &ut, "x").await.unwrap_err(),
            BearerError::InvalidToken
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registering_clients_needs_account_rights_and_checks_kind_scopes_and_redirects() {
    let db = zorgkluis_testkit::sqlite();
    let vault = open_vault(&db).await;
    org(&vault, "gp", "gp_practice").await;
    patient_account(&vault, "anna", "p-anna").await;
    let new = |kind: NewClientKind, scopes: &str, uris: Vec<String>| NewClient {
        name: "App".into(),
        kind,
        scopes: scopes.into(),
        redirect_uris: uris,
    };
    let system = || NewClientKind::System {
        organisation_id: "gp".into(),
    };
    let user = || NewClientKind::User {
        login: "anna".into(),
    };
    let loader = Principal::operator("t", OperatorPurpose::Load);
    assert!(matches!(
        vault
            .register_client(&loader, new(system(), "system/*.read", vec![]))
            .await,
        Err(VaultError::Forbidden)
    ));
    let admin = accounts_admin();
    for bad in [
        new(system(), "user/*.read", vec![]),
        new(system(), "system/*.read", vec![REDIRECT.into()]),
        new(
            NewClientKind::System {
                organisation_id: "nowhere".into(),
            },
            "system/*.read",
            vec![],
        ),
        new(user(), "system/*.*", vec![]),
        new(user(), "patient/*.delete", vec![]),
        new(user(), "openid", vec![]),
        new(
            user(),
            "patient/*.read",
            vec!["http://app.example.nl/cb".into()],
        ),
        new(
            NewClientKind::User {
                login: "nobody".into(),
            },
            "user/*.read",
            vec![],
        ),
    ] {
        assert!(
            matches!(
                vault.register_client(&admin, bad.clone()).await,
                Err(VaultError::Account(_))
            ),
            "{bad:?}"
        );
    }
    let ok = vault
        .register_client(&admin, new(user(), "patient/*.read", vec![REDIRECT.into()]))
        .await
        .unwrap();
    assert!(!format!("{ok:?}").contains(&ok.client_secret));
    let listed = vault.list_clients(&admin).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].user_login.as_deref(), Some("anna"));
    assert_eq!(listed[0].redirect_uris, vec![REDIRECT.to_owned()]);
    vault.flush_audit().await.unwrap();
}
