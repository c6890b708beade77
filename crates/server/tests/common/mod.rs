//! The real server on a random port with a fresh database, a tiny HTTP/1.1 client, and a
//! small world of organisations and accounts.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use zorgkluis_auth::{Argon2Cost, TotpSecret};
use zorgkluis_domain::FixedClock;
use zorgkluis_testkit::TestDb;
use zorgkluis_vault::{
    AccountKind, NewAccount, OperatorPurpose, OrganisationSettings, Principal, Vault, VaultConfig,
};

pub const SECRET: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
pub const PASSWORD: &str = "lente-fiets-kanaal-2026";
pub const NOW: i64 = 1_795_424_400;

pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
            .find_map(|(_, v)| {
                v.strip_prefix(&format!("{name}="))
                    .map(|r| r.split(';').next().unwrap_or("").to_owned())
            })
    }
    pub fn hidden(&self, name: &str) -> String {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self.body.find(&marker).unwrap() + marker.len();
        self.body[start..].split('"').next().unwrap().to_owned()
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// One request. `headers` are extra header lines (`Name: value`).
pub async fn request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Reply {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nUser-Agent: zorgkluis-test/1.0 (Linux)\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    s.write_all(req.as_bytes()).await.unwrap();
    // A server may answer (413) before it read the whole body; stop writing then.
    let _ = s.write_all(body).await;
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw).await;
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap_or("HTTP/1.1 0")
        .split_whitespace()
        .nth(1)
        .unwrap_or("0")
        .parse()
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Reply {
        status,
        headers,
        body: body.to_owned(),
    }
}

pub async fn http(
    addr: &str,
    method: &str,
    path: &str,
    cookies: &str,
    form: Option<&str>,
) -> Reply {
    request(
        addr,
        method,
        path,
        &[
            ("Cookie", cookies),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        form.unwrap_or("").as_bytes(),
    )
    .await
}

pub fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

pub fn accounts_admin() -> Principal {
    Principal::operator("t", OperatorPurpose::Accounts)
}

pub async fn open_vault(db: &TestDb) -> Vault {
    let mut c = VaultConfig::for_data_dir(&db.data_dir());
    c.database_url = db.url.clone();
    c.clock = Arc::new(FixedClock::new(
        time::OffsetDateTime::from_unix_timestamp(NOW).unwrap(),
    ));
    Vault::open(c).await.unwrap()
}

pub async fn org(vault: &Vault, id: &str, kind: &str) {
    vault
        .upsert_organisation(
            &accounts_admin(),
            &OrganisationSettings {
                id: id.into(),
                name: format!("Organisatie {id}"),
                kind: kind.into(),
                region: Some("noord-veluwe".into()),
                agb: None,
                ura: None,
                parental_consent_below: None,
                locum_for: vec![],
            },
        )
        .await
        .unwrap();
}

pub async fn staff(
    vault: &Vault,
    login: &str,
    org: &str,
    role: zorgkluis_policy::StaffRole,
    practitioner: &str,
    confidentiality: bool,
) {
    let created = vault
        .add_account(
            &accounts_admin(),
            NewAccount {
                login: login.into(),
                display_name: format!("Test {login}"),
                email: None,
                password: PASSWORD.into(),
                kind: AccountKind::Staff {
                    organisation_id: org.into(),
                    role,
                    practitioner_id: Some(practitioner.into()),
                    agb: None,
                    big: None,
                    rights: None,
                },
                with_totp: true,
                fixed_totp_secret: Some(SECRET.into()),
            },
            Argon2Cost::Fast,
        )
        .await
        .unwrap();
    if confidentiality {
        vault
            .accept_confidentiality(
                &created.user_id,
                org,
                zorgkluis_vault::CONFIDENTIALITY_VERSION,
            )
            .await
            .unwrap();
    }
}

pub async fn patient_account(vault: &Vault, login: &str, patient_id: &str) {
    vault
        .add_account(
            &accounts_admin(),
            NewAccount {
                login: login.into(),
                display_name: format!("Patiënt {login}"),
                email: None,
                password: PASSWORD.into(),
                kind: AccountKind::Patient {
                    patient_id: patient_id.into(),
                },
                with_totp: false,
                fixed_totp_secret: None,
            },
            Argon2Cost::Fast,
        )
        .await
        .unwrap();
}

/// Starts the server for `vault` on a random port.
pub async fn serve(vault: &Vault) -> String {
    let bound = zorgkluis_server::bind("127.0.0.1:0").await.unwrap();
    let addr = bound.addr.to_string();
    let v = vault.clone();
    tokio::spawn(async move { zorgkluis_server::serve(v, bound, std::future::pending()).await });
    addr
}

pub async fn login_page(addr: &str) -> (String, String) {
    let page = http(addr, "GET", "/login", "", None).await;
    assert_eq!(page.status, 200);
    (page.cookie("zk_login").unwrap(), page.hidden("csrf"))
}

/// Logs in through the web form (with the TOTP code for staff) and returns the session cookie header value.
pub async fn session(addr: &str, login: &str, with_code: bool) -> String {
    let (pre, csrf) = login_page(addr).await;
    let code = if with_code {
        TotpSecret::from_base32(SECRET).unwrap().code_at(NOW)
    } else {
        String::new()
    };
    let form = format!(
        "login={login}&password={}&code={code}&csrf={}",
        enc(PASSWORD),
        enc(&csrf)
    );
    let r = http(
        addr,
        "POST",
        "/login",
        &format!("zk_login={pre}"),
        Some(&form),
    )
    .await;
    assert_eq!(r.status, 303, "login of {login}: {}", r.body);
    format!("zk_session={}", r.cookie("zk_session").unwrap())
}

/// A vault on `db` whose clock the test can move (care tests: the video-consult window).
pub async fn open_vault_and_clock(db: &TestDb) -> (Vault, Arc<FixedClock>) {
    let mut c = VaultConfig::for_data_dir(&db.data_dir());
    c.database_url = db.url.clone();
    let clock = Arc::new(FixedClock::new(
        time::OffsetDateTime::from_unix_timestamp(NOW).unwrap(),
    ));
    c.clock = clock.clone();
    (Vault::open(c).await.unwrap(), clock)
}
