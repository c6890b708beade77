//! `zorgkluis users …` and `zorgkluis organisations …`, and the demo accounts that
//! `zorgkluis demo` creates (one per role, clearly marked as demo-only).

use anyhow::{bail, Context, Result};
use serde_json::Value;
use zorgkluis_auth::Argon2Cost;
use zorgkluis_policy::StaffRole;
use zorgkluis_vault::{
    AccountKind, NewAccount, OperatorPurpose, OrganisationSettings, Principal, Vault,
    CONFIDENTIALITY_VERSION,
};

/// DEMO ONLY: the password of every demo account.
pub const DEMO_PASSWORD: &str = "demo-lindeboom-veluwe-2026";
/// DEMO ONLY: the TOTP secret of every demo account that has a second factor.
pub const DEMO_TOTP_SECRET: &str = "KRUGS4ZANFZSAYJAMRSW233PEBZWKY3S";

pub fn operator() -> Principal {
    Principal::operator("users", OperatorPurpose::Accounts)
}

fn org_kind(org: &Value) -> Option<String> {
    org.pointer("/type/0/coding")?
        .as_array()?
        .iter()
        .find(|c| {
            c.get("system").and_then(Value::as_str) == Some("urn:zorgkluis:organisation-kind")
        })?
        .get("code")?
        .as_str()
        .map(str::to_owned)
}

/// One line of the demo login table.
pub struct DemoLogin {
    pub login: String,
    pub role: String,
    pub name: String,
    pub second_factor: bool,
}

/// Creates the demo organisations and accounts (once; existing logins are kept).
pub async fn provision_demo(vault: &Vault, seed: u64, patients: u32) -> Result<Vec<DemoLogin>> {
    let dir = zorgkluis_demo::directory(seed);
    let admin = operator();
    let gp_practice = dir
        .organisations
        .iter()
        .find(|o| org_kind(o).as_deref() == Some("gp_practice"))
        .and_then(|o| o.get("id").and_then(Value::as_str))
        .unwrap_or_default()
        .to_owned();
    for org in &dir.organisations {
        let (Some(id), Some(kind)) = (org.get("id").and_then(Value::as_str), org_kind(org)) else {
            continue;
        };
        let settings = OrganisationSettings {
            id: id.to_owned(),
            name: org
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or(id)
                .to_owned(),
            region: Some("noord-veluwe".into()),
            agb: None,
            ura: None,
            // PT-3: the physiotherapy practice asks a parent's consent for every patient under 18.
            parental_consent_below: (kind == "physio_practice").then_some(18),
            // GP-8: the out-of-hours post stands in for the GP practice.
            locum_for: if kind == "gp_post" {
                vec![(gp_practice.clone(), None, None)]
            } else {
                vec![]
            },
            kind,
        };
        vault.upsert_organisation(&admin, &settings).await?;
    }
    let existing: std::collections::HashSet<String> = vault
        .accounts(&admin)
        .await?
        .into_iter()
        .map(|a| a.login)
        .collect();
    let mut out = Vec::new();
    for s in &dir.staff {
        out.push(DemoLogin {
            login: s.login.clone(),
            role: s.role.to_owned(),
            name: s.display.clone(),
            second_factor: true,
        });
        if existing.contains(&s.login) {
            continue;
        }
        let role = StaffRole::parse(s.role).with_context(|| format!("demo role {}", s.role))?;
        // The registration numbers on the demo Practitioner.
        let practitioner = dir
            .practitioners
            .iter()
            .find(|p| p.get("id").and_then(Value::as_str) == Some(s.practitioner_id.as_str()));
        let number = |system: &str| {
            practitioner
                .and_then(|p| p.get("identifier"))
                .and_then(Value::as_array)
                .and_then(|ids| {
                    ids.iter()
                        .find(|i| i.get("system").and_then(Value::as_str) == Some(system))
                })
                .and_then(|i| i.get("value").and_then(Value::as_str))
                .map(str::to_owned)
        };
        let created = vault
            .add_account(
                &admin,
                NewAccount {
                    login: s.login.clone(),
                    display_name: s.display.clone(),
                    email: None,
                    password: DEMO_PASSWORD.into(),
                    kind: AccountKind::Staff {
                        organisation_id: s.organisation_id.clone(),
                        role,
                        practitioner_id: Some(s.practitioner_id.clone()),
                        agb: number(zorgkluis_domain::Agb::SYSTEM),
                        big: number(zorgkluis_domain::Big::SYSTEM),
                        rights: None,
                    },
                    with_totp: true,
                    fixed_totp_secret: Some(DEMO_TOTP_SECRET.into()),
                },
                Argon2Cost::Fast,
            )
            .await?;
        vault
            .accept_confidentiality(
                &created.user_id,
                &s.organisation_id,
                CONFIDENTIALITY_VERSION,
            )
            .await?;
    }
    // Patients 0 (adult), 1 (child under 12), 2 (12–15), 3 (adult with a curator) and
    // their representatives.
    let today = time::OffsetDateTime::now_utc().date();
    for index in 0..patients.min(4) {
        let record = zorgkluis_demo::patient_record(seed, index, &dir, today);
        let name = record
            .resources
            .first()
            .and_then(|p| p.pointer("/name/0/text").and_then(Value::as_str))
            .unwrap_or("Demo patient")
            .to_owned();
        if index != 1 {
            out.push(DemoLogin {
                login: record.login.clone(),
                role: format!("patient (age {})", record.age),
                name: name.clone(),
                second_factor: false,
            });
            if !existing.contains(&record.login) {
                vault
                    .add_account(
                        &admin,
                        NewAccount {
                            login: record.login.clone(),
                            display_name: name.clone(),
                            email: None,
                            password: DEMO_PASSWORD.into(),
                            kind: AccountKind::Patient {
                                patient_id: record.patient_id.clone(),
                            },
                            with_totp: false,
                            fixed_totp_secret: None,
                        },
                        Argon2Cost::Fast,
                    )
                    .await?;
            }
        }
        if let Some(rp) = record
            .resources
            .iter()
            .find(|r| r.get("resourceType").and_then(Value::as_str) == Some("RelatedPerson"))
        {
            let rp_id = rp.get("id").and_then(Value::as_str).unwrap_or_default();
            let rp_name = rp
                .pointer("/name/0/text")
                .and_then(Value::as_str)
                .unwrap_or("Vertegenwoordiger");
            let kind = rp
                .pointer("/relationship/0/text")
                .and_then(Value::as_str)
                .unwrap_or("representative");
            let login = format!("vertegenwoordiger.{index:05}");
            out.push(DemoLogin {
                login: login.clone(),
                role: format!("representative ({kind}) of {name}"),
                name: rp_name.to_owned(),
                second_factor: false,
            });
            if !existing.contains(&login) {
                vault
                    .add_account(
                        &admin,
                        NewAccount {
                            login,
                            display_name: rp_name.to_owned(),
                            email: None,
                            password: DEMO_PASSWORD.into(),
                            kind: AccountKind::Representative {
                                represents: vec![(record.patient_id.clone(), rp_id.to_owned())],
                            },
                            with_totp: false,
                            fixed_totp_secret: None,
                        },
                        Argon2Cost::Fast,
                    )
                    .await?;
            }
        }
    }
    Ok(out)
}

pub fn print_demo_logins(logins: &[DemoLogin]) {
    println!();
    println!("DEMO LOGINS — DEMO ONLY, never use these on real data");
    println!("  password for all: {DEMO_PASSWORD}");
    println!(
        "  second factor (staff): TOTP secret {DEMO_TOTP_SECRET} (add it to an authenticator app)"
    );
    println!("  {:<28} {:<44} name", "login", "role");
    for l in logins {
        println!(
            "  {:<28} {:<44} {}{}",
            l.login,
            l.role,
            l.name,
            if l.second_factor { "  [TOTP]" } else { "" }
        );
    }
    println!();
}

/// Reads the new password from `ZORGKLUIS_NEW_PASSWORD` or one line of standard input.
pub fn read_password() -> Result<String> {
    if let Ok(p) = std::env::var("ZORGKLUIS_NEW_PASSWORD") {
        return Ok(p);
    }
    eprintln!("Password for the new account (one line; at least 12 characters):");
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    let p = line.trim_end_matches(['\r', '\n']).to_owned();
    if p.is_empty() {
        bail!("no password given");
    }
    Ok(p)
}

/// Parses `PATIENT_ID:RELATEDPERSON_ID`.
pub fn parse_representation(s: &str) -> Result<(String, String)> {
    let (p, r) = s
        .split_once(':')
        .context("--represents takes PATIENT_ID:RELATEDPERSON_ID")?;
    Ok((p.to_owned(), r.to_owned()))
}
