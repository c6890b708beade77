//! FHIR search through the vault, on both backends: candidates from the index, every
//! candidate decided, totals and paging over what the caller may see only, and the search
//! and its hits in the audit trail with personal values redacted.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::{json, Value};
use zorgkluis_auth::Argon2Cost;
use zorgkluis_fhir::{IssueCode, ResourceType};
use zorgkluis_testkit::{all_backends, TestDb};
use zorgkluis_vault::{
    search_params_of, AccountKind, NewAccount, OperatorPurpose, OrganisationSettings, Principal,
    SearchPage, SearchQuery, SearchSort, Vault, VaultError, CONFIDENTIALITY_VERSION,
};

const SECRET: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
const PASSWORD: &str = "lente-fiets-kanaal-2026";
const BSN_SYSTEM: &str = "http://fhir.nl/fhir/NamingSystem/bsn";
const OTHER_BSN: &str = "999993653";

/// Search parameters and the ids they must find.
type Case<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str]);

fn accounts_admin() -> Principal {
    Principal::operator("test-accounts", OperatorPurpose::Accounts)
}

fn org(id: &str, kind: &str) -> OrganisationSettings {
    OrganisationSettings {
        id: id.into(),
        name: format!("Organisatie {id}"),
        kind: kind.into(),
        region: Some("noord-veluwe".into()),
        agb: None,
        ura: None,
        parental_consent_below: None,
        locum_for: vec![],
    }
}

async fn staff(
    vault: &Vault,
    login: &str,
    org: &str,
    role: zorgkluis_policy::StaffRole,
    practitioner: &str,
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
    vault
        .accept_confidentiality(&created.user_id, org, CONFIDENTIALITY_VERSION)
        .await
        .unwrap();
}

async fn as_user(vault: &Vault, login: &str) -> Principal {
    vault
        .principal_for_login(login, "127.0.0.1")
        .await
        .unwrap()
        .unwrap()
}

fn obs(id: &str, patient: &str, system: &str, code: &str, date: &str, status: &str) -> Value {
    json!({
        "resourceType": "Observation",
        "id": id,
        "status": status,
        "code": {"coding": [{"system": system, "code": code}]},
        "subject": {"reference": format!("Patient/{patient}")},
        "effectiveDateTime": date,
        "valueQuantity": {"value": 50, "unit": "mmol/mol"}
    })
}

/// Patients p1 (BSN, in the GP's care team) and p2 (another BSN, not), three
/// observations of p1 and four of p2; a GP (`huisarts`, care team of p1), an assistant
/// without a relationship and p1's own account.
async fn world(vault: &Vault) {
    vault
        .upsert_organisation(&accounts_admin(), &org("gp", "gp_practice"))
        .await
        .unwrap();
    let load = loader();
    let mut p2 = patient("p2");
    p2["identifier"] = json!([{"system": BSN_SYSTEM, "value": OTHER_BSN}]);
    p2["name"] = json!([{"family": "Jansen", "given": ["Pieter"]}]);
    p2["telecom"] = json!([]);
    p2["address"] = json!([{"postalCode": "1011 AB"}]);
    p2["birthDate"] = json!("1950-01-01");
    const LOINC: &str = "http://loinc.org";
    vault
        .load(
            &load,
            vec![
                json!({"resourceType": "Organization", "id": "gp", "name": "gp"}),
                json!({"resourceType": "Practitioner", "id": "dr"}),
                json!({"resourceType": "Practitioner", "id": "assistant"}),
                patient("p1"),
                p2,
                json!({
                    "resourceType": "CareTeam", "id": "team", "status": "active",
                    "subject": {"reference": "Patient/p1"},
                    "participant": [{"member": {"reference": "Practitioner/dr"}, "onBehalfOf": {"reference": "Organization/gp"}, "period": {"start": "2020-01-01"}}],
                    "managingOrganization": [{"reference": "Organization/gp"}]
                }),
                obs("a1", "p1", LOINC, "4548-4", "2026-10-01T08:30:00Z", "final"),
                obs("a2", "p1", LOINC, "4548-4", "2025-03-05", "final"),
                obs("a3", "p1", LOINC, "8480-6", "2026-10-02T10:00:00Z", "amended"),
                obs("b1", "p2", LOINC, "4548-4", "2026-10-01T08:30:00Z", "final"),
                obs("b2", "p2", LOINC, "4548-4", "2026-10-05", "final"),
                obs("b3", "p2", LOINC, "8480-6", "2026-10-06", "final"),
                obs("b4", "p2", LOINC, "8480-6", "2026-10-07", "final"),
            ],
            Default::default(),
        )
        .await
        .unwrap();
    use zorgkluis_policy::StaffRole::*;
    staff(vault, "huisarts", "gp", Gp, "dr").await;
    staff(vault, "assistent", "gp", Assistant, "assistant").await;
    vault
        .add_account(
            &accounts_admin(),
            NewAccount {
                login: "patient".into(),
                display_name: "Geertruida".into(),
                email: None,
                password: PASSWORD.into(),
                kind: AccountKind::Patient {
                    patient_id: "p1".into(),
                },
                with_totp: false,
                fixed_totp_secret: None,
            },
            Argon2Cost::Fast,
        )
        .await
        .unwrap();
}

fn pairs(params: &[(&str, &str)]) -> Vec<(String, String)> {
    params
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

async fn run(vault: &Vault, who: &Principal, rt: &str, params: &[(&str, &str)]) -> SearchPage {
    let q = SearchQuery::parse(rt, &pairs(params))
        .unwrap_or_else(|issues| panic!("{rt}?{params:?}: {issues:?}"));
    vault
        .search(who, &q)
        .await
        .unwrap_or_else(|e| panic!("{rt}?{params:?}: {e}"))
}

/// The ids found, in page order, after checking that the page is the whole result.
async fn ids(vault: &Vault, who: &Principal, rt: &str, params: &[(&str, &str)]) -> Vec<String> {
    let page = run(vault, who, rt, params).await;
    assert_eq!(page.total, page.hits.len(), "{rt}?{params:?}");
    assert!(page.hits.iter().all(|h| h.resource.is_some()));
    page.hits.into_iter().map(|h| h.id).collect()
}

async fn sorted_ids(
    vault: &Vault,
    who: &Principal,
    rt: &str,
    params: &[(&str, &str)],
) -> Vec<String> {
    let mut v = ids(vault, who, rt, params).await;
    v.sort();
    v
}

async fn raw(db: &TestDb) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    sqlx::AnyPool::connect(&db.url).await.unwrap()
}

async fn audit_payloads(db: &TestDb, code: &str) -> Vec<String> {
    let pool = raw(db).await;
    let out = sqlx::query_scalar("SELECT payload FROM audit_events WHERE code = $1 ORDER BY seq")
        .bind(code)
        .fetch_all(&pool)
        .await
        .unwrap();
    pool.close().await;
    out
}

#[tokio::test]
async fn search_by_code_date_prefix_and_patient_finds_exactly_the_matching_resources() {
    for db in all_backends().await {
        let vault = open(&db).await;
        world(&vault).await;
        let gp = as_user(&vault, "huisarts").await;
        let cases: &[Case] = &[
            (&[], &["a1", "a2", "a3"]),
            (&[("code", "http://loinc.org|4548-4")], &["a1", "a2"]),
            (&[("code", "4548-4,8480-6")], &["a1", "a2", "a3"]),
            (&[("code", "|4548-4")], &[]),
            (&[("code", "http://loinc.org|")], &["a1", "a2", "a3"]),
            (&[("code", "http://snomed.info/sct|4548-4")], &[]),
            (&[("status", "amended")], &["a3"]),
            (&[("status", "final"), ("code", "4548-4")], &["a1", "a2"]),
            (&[("date", "2026-10")], &["a1", "a3"]),
            (&[("date", "2026-10-01T08:30:00Z")], &["a1"]),
            (&[("date", "2026-10-01T08:30Z")], &["a1"]),
            (&[("date", "ge2026-10-02")], &["a3"]),
            (&[("date", "gt2026-10-01")], &["a3"]),
            (&[("date", "lt2026-10-01")], &["a2"]),
            (&[("date", "le2026-10-01")], &["a1", "a2"]),
            (&[("date", "sa2026-10-01")], &["a3"]),
            (&[("date", "eb2026-10-01")], &["a2"]),
            (&[("date", "ne2026-10-01")], &["a2", "a3"]),
            (&[("date", "ge2026"), ("date", "lt2027")], &["a1", "a3"]),
            (&[("date", "2025,2026-10-02")], &["a2", "a3"]),
            (&[("code", "4548-4"), ("date", "ge2026")], &["a1"]),
            (
                &[("patient", "Patient/p1"), ("code", "4548-4")],
                &["a1", "a2"],
            ),
            (&[("subject", "p1")], &["a1", "a2", "a3"]),
            (&[("subject:Patient", "p1")], &["a1", "a2", "a3"]),
            (&[("subject", "Practitioner/p1")], &[]),
            // p2's observations exist, but this GP may not see them.
            (&[("patient", "p2")], &[]),
            (&[("_id", "a1,a3,b1")], &["a1", "a3"]),
            (&[("_lastUpdated", "2026-11-23")], &["a1", "a2", "a3"]),
            (&[("_lastUpdated", "lt2026-11-23")], &[]),
            (
                &[("_lastUpdated", "gt2026-11-23T08:59Z")],
                &["a1", "a2", "a3"],
            ),
            (&[("_lastUpdated", "lt2026-11-23T09:00:00Z")], &[]),
            (
                &[("_lastUpdated", "2026-11-23T09:00:00Z")],
                &["a1", "a2", "a3"],
            ),
        ];
        for (params, expected) in cases {
            assert_eq!(
                sorted_ids(&vault, &gp, "Observation", params).await,
                *expected,
                "{}: Observation?{params:?}",
                db.backend
            );
        }
        assert_eq!(
            ids(&vault, &gp, "Observation", &[("_sort", "date")]).await,
            ["a2", "a1", "a3"]
        );
        assert_eq!(
            ids(&vault, &gp, "Observation", &[("_sort", "-date")]).await,
            ["a3", "a1", "a2"]
        );
        // The loader (operator, purpose Load) sees both patients' records.
        assert_eq!(
            sorted_ids(&vault, &loader(), "Observation", &[("patient", "p2")]).await,
            ["b1", "b2", "b3", "b4"]
        );
        assert_eq!(
            sorted_ids(
                &vault,
                &loader(),
                "Observation",
                &[("date", "2026-10-01"), ("code", "4548-4")]
            )
            .await,
            ["a1", "b1"]
        );
        // Other types: references and tokens the index holds for them.
        assert_eq!(
            sorted_ids(
                &vault,
                &gp,
                "CareTeam",
                &[("participant", "Practitioner/dr")]
            )
            .await,
            ["team"]
        );
        assert_eq!(
            sorted_ids(&vault, &gp, "Patient", &[("gender", "female")]).await,
            ["p1"]
        );
        vault.close().await.unwrap();
    }
}

#[tokio::test]
async fn search_paging_and_totals_never_reveal_hidden_resources() {
    for db in all_backends().await {
        let vault = open(&db).await;
        world(&vault).await;
        let gp = as_user(&vault, "huisarts").await;
        // Seven observations exist; the GP may see p1's three.
        let all = run(&vault, &gp, "Observation", &[]).await;
        assert_eq!(all.total, 3, "{}", db.backend);
        let mut walked = Vec::new();
        for offset in [0, 2, 4] {
            let page = run(
                &vault,
                &gp,
                "Observation",
                &[("_count", "2"), ("_offset", &offset.to_string())],
            )
            .await;
            assert_eq!(page.total, 3, "offset {offset}");
            assert_eq!(page.hits.len(), [2, 1, 0][offset / 2], "offset {offset}");
            walked.extend(page.hits.into_iter().map(|h| {
                assert_eq!(h.patient_id.as_deref(), Some("p1"));
                h.id
            }));
        }
        assert_eq!(walked, ["a1", "a2", "a3"]);
        let page2 = run(
            &vault,
            &gp,
            "Observation",
            &[("_count", "2"), ("_page", "2")],
        )
        .await;
        assert_eq!(page2.hits.iter().map(|h| &h.id).collect::<Vec<_>>(), ["a3"]);
        // The same with a sort: the order changes, the set does not.
        let sorted = run(
            &vault,
            &gp,
            "Observation",
            &[("_count", "2"), ("_sort", "-_lastUpdated")],
        )
        .await;
        assert_eq!((sorted.total, sorted.hits.len()), (3, 2));
        let counted = run(&vault, &gp, "Observation", &[("_summary", "count")]).await;
        assert_eq!((counted.total, counted.hits.len()), (3, 0));
        assert_eq!(
            sorted_ids(&vault, &gp, "Patient", &[]).await,
            ["p1"],
            "p2 is not even counted"
        );
        // Without a relationship nothing is found, not even a count.
        let assistant = as_user(&vault, "assistent").await;
        match vault
            .search(&assistant, &SearchQuery::parse("Observation", &[]).unwrap())
            .await
        {
            Ok(page) => assert_eq!((page.total, page.hits.len()), (0, 0)),
            Err(e) => assert!(matches!(e, VaultError::Forbidden), "{e}"),
        }
        // The patient sees their own record only.
        let me = as_user(&vault, "patient").await;
        assert_eq!(
            sorted_ids(&vault, &me, "Observation", &[("code", "4548-4")]).await,
            ["a1", "a2"]
        );
        assert_eq!(
            run(&vault, &me, "Observation", &[("patient", "p2")])
                .await
                .total,
            0
        );
        // A principal that may not search at all is refused, and the refusal is logged.
        let refused = vault
            .search(
                &accounts_admin(),
                &SearchQuery::parse("Observation", &[]).unwrap(),
            )
            .await;
        assert!(matches!(refused, Err(VaultError::Forbidden)), "{refused:?}");
        vault.flush_audit().await.unwrap();
        let searches = audit_payloads(&db, "search").await;
        assert!(
            searches.iter().any(|p| p.contains("refused")),
            "{searches:?}"
        );
        vault.close().await.unwrap();
    }
}

#[tokio::test]
async fn search_by_bsn_identifier_goes_through_the_blind_index() {
    for db in all_backends().await {
        let vault = open(&db).await;
        world(&vault).await;
        let gp = as_user(&vault, "huisarts").await;
        let bsn = format!("{BSN_SYSTEM}|{BSN}");
        let cases: &[Case] = &[
            (&[("identifier", &bsn)], &["p1"]),
            (&[("identifier", BSN)], &["p1"]),
            (&[("identifier", "999999999")], &[]),
            (&[("family", "ZWANENBURG")], &["p1"]),
            (&[("family:exact", "zwanenburg-oosterhuis")], &["p1"]),
            (&[("given", "Géertruida")], &["p1"]),
            (&[("name", "oosterhuis")], &["p1"]),
            (&[("birthdate", "1961-04-12")], &["p1"]),
            (&[("address-postalcode", "3841kk")], &["p1"]),
            (&[("email", " G.Zwanenburg@Voorbeeld.nl")], &["p1"]),
            (&[("family", "Jansen")], &[]),
        ];
        for (params, expected) in cases {
            assert_eq!(
                sorted_ids(&vault, &gp, "Patient", params).await,
                *expected,
                "{}: Patient?{params:?}",
                db.backend
            );
        }
        // p2 exists and is found by the loader, but never shown to (or counted for) the GP.
        let other = format!("{BSN_SYSTEM}|{OTHER_BSN}");
        assert_eq!(
            run(&vault, &gp, "Patient", &[("identifier", &other)])
                .await
                .total,
            0
        );
        assert_eq!(
            sorted_ids(&vault, &loader(), "Patient", &[("identifier", &other)]).await,
            ["p2"]
        );
        assert_eq!(
            sorted_ids(
                &vault,
                &loader(),
                "Patient",
                &[("identifier", &format!("{bsn},{other}"))]
            )
            .await,
            ["p1", "p2"]
        );
        // The BSN is in the blind index only, as a keyed hash.
        vault.close().await.unwrap();
        let pool = raw(&db).await;
        let blind: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM idx_blind WHERE param = 'identifier' AND resource_type = 'Patient'",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        assert!(blind >= 4, "{blind}");
        let clear: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM idx_token WHERE code = $1 OR system = $1")
                .bind(BSN)
                .fetch_one(&pool)
                .await
                .unwrap();
        assert_eq!(clear, 0);
        pool.close().await;
    }
}

#[tokio::test]
async fn unknown_parameter_or_bad_date_is_an_invalid_query_not_a_panic() {
    let codes = |rt: &str, params: &[(&str, &str)]| -> Vec<IssueCode> {
        SearchQuery::parse(rt, &pairs(params))
            .expect_err(&format!("{rt}?{params:?} must be refused"))
            .into_iter()
            .map(|i| i.code)
            .collect()
    };
    use IssueCode::{Invalid, NotSupported};
    assert_eq!(codes("Observation", &[("colour", "red")]), [NotSupported]);
    assert_eq!(codes("Observation", &[("date", "2026-13")]), [Invalid]);
    assert_eq!(codes("Observation", &[("date", "yesterday")]), [Invalid]);
    assert_eq!(codes("Observation", &[("date", "xx2026")]), [Invalid]);
    assert_eq!(codes("Observation", &[("date", "ap2026")]), [NotSupported]);
    assert_eq!(
        codes("Observation", &[("_lastUpdated", "2026-02-30")]),
        [Invalid]
    );
    assert_eq!(
        codes("Observation", &[("birthdate", "1961-04-12")]),
        [NotSupported]
    );
    assert_eq!(
        codes("Observation", &[("code:text", "hba1c")]),
        [NotSupported]
    );
    assert_eq!(codes("Observation", &[("code", "")]), [Invalid]);
    assert_eq!(codes("Observation", &[("code", "a,,b")]), [Invalid]);
    assert_eq!(codes("Observation", &[("code", "|")]), [Invalid]);
    assert_eq!(
        codes("Observation", &[("subject", "https://elders.nl/Patient/1")]),
        [NotSupported]
    );
    assert_eq!(
        codes("Observation", &[("subject", "Nonsense/1")]),
        [Invalid]
    );
    assert_eq!(
        codes("Observation", &[("subject:Nonsense", "1")]),
        [NotSupported]
    );
    assert_eq!(
        codes("Patient", &[("name:contains", "zwa")]),
        [NotSupported]
    );
    assert_eq!(codes("Patient", &[("birthdate", "1961")]), [NotSupported]);
    assert_eq!(
        codes("Patient", &[("birthdate", "ge1961-04-12")]),
        [NotSupported]
    );
    assert_eq!(codes("Patient", &[("_sort", "date")]), [NotSupported]);
    assert_eq!(codes("Observation", &[("_sort", "code")]), [NotSupported]);
    assert_eq!(
        codes("Observation", &[("_summary", "true")]),
        [NotSupported]
    );
    assert_eq!(codes("Observation", &[("_count", "0")]), [Invalid]);
    assert_eq!(codes("Observation", &[("_count", "1001")]), [Invalid]);
    assert_eq!(codes("Observation", &[("_count", "ten")]), [Invalid]);
    assert_eq!(codes("Observation", &[("_offset", "-1")]), [Invalid]);
    assert_eq!(codes("Observation", &[("_page", "0")]), [Invalid]);
    assert_eq!(codes("Unicorn", &[]), [NotSupported]);
    assert_eq!(
        codes(
            "Observation",
            &[("colour", "red"), ("date", "2026-13"), ("_count", "0")]
        ),
        [NotSupported, Invalid, Invalid],
        "every problem is reported"
    );
    let q = SearchQuery::parse(
        "Observation",
        &pairs(&[
            ("_count", "10"),
            ("_page", "3"),
            ("_sort", "-date"),
            ("_format", "json"),
            ("code", "x"),
        ]),
    )
    .unwrap();
    assert_eq!(
        (q.count, q.offset, q.sort, q.summary_count),
        (10, 20, Some(SearchSort::DateDesc), false)
    );
    assert_eq!(q.params, pairs(&[("code", "x")]));
    // Nothing panics, whatever arrives.
    let odd = [
        "",
        ",",
        "|",
        "\\",
        "\\,",
        "ge",
        "é",
        "２０２６",
        "Patient/",
        "/1",
        "a|b|c",
        "eq",
        "sa2026-10-01T10:00:00+15:00",
        "\u{0}",
        "9999-12-31T23:59:59Z",
        "0001",
    ];
    for rt in ["Observation", "Patient", "Appointment", "Immunization"] {
        for name in search_params_of(rt).into_iter().map(|(n, _)| n) {
            for value in odd {
                let _ = SearchQuery::parse(rt, &pairs(&[(name, value)]));
            }
        }
    }
    // A hand-built query is checked again by the vault.
    for db in all_backends().await {
        let vault = open(&db).await;
        let bad = SearchQuery {
            resource_type: "Observation".into(),
            params: pairs(&[("colour", "red")]),
            count: 0,
            offset: 0,
            sort: None,
            summary_count: false,
        };
        match vault.search(&loader(), &bad).await {
            Err(VaultError::Invalid(issues)) => assert_eq!(issues.len(), 2, "{}", db.backend),
            other => panic!("{}: {other:?}", db.backend),
        }
        // Extreme dates are searched, not refused by the database.
        vault
            .load(
                &loader(),
                vec![
                    obs("x", "px", "http://loinc.org", "1", "2026", "final"),
                    patient("px"),
                ],
                Default::default(),
            )
            .await
            .unwrap();
        for value in [
            "ge0001",
            "le9999-12-31T23:59:59Z",
            "ne2026",
            "sa0001",
            "eb9998",
        ] {
            let page = run(&vault, &loader(), "Observation", &[("date", value)]).await;
            assert_eq!(
                page.total,
                usize::from(value != "ne2026"),
                "{}: date={value}",
                db.backend
            );
            let page = run(&vault, &loader(), "Observation", &[("_lastUpdated", value)]).await;
            assert_eq!(
                page.total,
                usize::from(value != "ne2026"),
                "{}: _lastUpdated={value}",
                db.backend
            );
        }
        vault.close().await.unwrap();
    }
}

#[tokio::test]
async fn summary_count_opens_no_body() {
    for db in all_backends().await {
        let vault = open(&db).await;
        world(&vault).await;
        vault.close().await.unwrap();
        // Make a1's body unopenable: a2's sealed body does not open under a1's row.
        let pool = raw(&db).await;
        let body: Vec<u8> = sqlx::query_scalar(
            "SELECT body FROM resource_versions WHERE resource_type = 'Observation' AND id = 'a2'",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        sqlx::query(
            "UPDATE resource_versions SET body = $1 WHERE resource_type = 'Observation' AND id = 'a1'",
        )
        .bind(body)
        .execute(&pool)
        .await
        .unwrap();
        pool.close().await;
        let vault = open(&db).await;
        let gp = as_user(&vault, "huisarts").await;
        let counted = run(
            &vault,
            &gp,
            "Observation",
            &[("code", "4548-4"), ("_summary", "count")],
        )
        .await;
        assert_eq!(
            (counted.total, counted.hits.len()),
            (2, 0),
            "{}",
            db.backend
        );
        // Opening the hits does touch the body, and fails.
        let q = SearchQuery::parse("Observation", &pairs(&[("code", "4548-4")])).unwrap();
        assert!(
            matches!(vault.search(&gp, &q).await, Err(VaultError::Crypto(_))),
            "{}",
            db.backend
        );
        vault.flush_audit().await.unwrap();
        assert!(
            audit_payloads(&db, "search-hit").await.is_empty(),
            "no hit was returned, so none is logged"
        );
        let searches = audit_payloads(&db, "search").await;
        assert_eq!(searches.len(), 2, "{searches:?}");
        assert!(searches[0].contains("_summary=count") && searches[0].contains("2 visible"));
        vault.close().await.unwrap();
    }
}

#[tokio::test]
async fn search_events_redact_identifier_values() {
    for db in all_backends().await {
        let vault = open(&db).await;
        world(&vault).await;
        let gp = as_user(&vault, "huisarts").await;
        let bsn = format!("{BSN_SYSTEM}|{BSN}");
        let found = ids(
            &vault,
            &gp,
            "Patient",
            &[
                ("identifier", &bsn),
                ("family", "Zwanenburg"),
                ("birthdate", "1961-04-12"),
                ("gender", "female"),
            ],
        )
        .await;
        assert_eq!(found, ["p1"]);
        let visible = run(&vault, &gp, "Observation", &[]).await;
        assert_eq!(visible.hits.len(), 3);
        vault.flush_audit().await.unwrap();
        let searches = audit_payloads(&db, "search").await;
        assert_eq!(searches.len(), 2, "{}: {searches:?}", db.backend);
        let patient_search = &searches[0];
        assert!(
            patient_search.contains(&format!("identifier={BSN_SYSTEM}|***")),
            "{patient_search}"
        );
        assert!(patient_search.contains("family=***"));
        assert!(patient_search.contains("birthdate=***"));
        assert!(
            patient_search.contains("gender=female"),
            "codes stay readable"
        );
        for secret in [BSN, "wanenburg", "1961"] {
            assert!(
                searches.iter().all(|p| !p.contains(secret)),
                "{secret} in {searches:?}"
            );
        }
        // The refusals of p2's four observations are one summary, not four events.
        assert!(
            searches[1].contains("3 visible match(es), 4 withheld"),
            "{}",
            searches[1]
        );
        let hits = audit_payloads(&db, "search-hit").await;
        assert_eq!(
            hits.len(),
            2,
            "one event per search and patient, naming every returned resource"
        );
        for id in [
            "Patient/p1/",
            "Observation/a1/",
            "Observation/a2/",
            "Observation/a3/",
        ] {
            assert!(hits.iter().any(|p| p.contains(id)), "{id} in {hits:?}");
        }
        assert!(hits
            .iter()
            .all(|p| !p.contains("\"p2\"") && !p.contains("/p2/")));
        vault.close().await.unwrap();
    }
}

#[test]
fn every_parameter_the_index_emits_is_searchable() {
    let samples = [
        patient("p"),
        obs("o", "p", "http://loinc.org", "1", "2026", "final"),
        json!({"resourceType": "Immunization", "status": "completed", "vaccineCode": {"coding": [{"system": "http://hl7.org/fhir/sid/cvx", "code": "140"}]},
               "patient": {"reference": "Patient/p"}, "occurrenceDateTime": "2021-02-03", "identifier": [{"value": "i"}]}),
        json!({"resourceType": "Encounter", "status": "finished", "class": {"code": "AMB"}, "period": {"start": "2021"},
               "subject": {"reference": "Patient/p"}, "participant": [{"individual": {"reference": "Practitioner/d"}}],
               "serviceProvider": {"reference": "Organization/o"}, "meta": {"tag": [{"code": "t"}]}}),
        json!({"resourceType": "MedicationRequest", "status": "active", "intent": "order", "authoredOn": "2021",
               "medicationCodeableConcept": {"coding": [{"code": "m"}]}, "subject": {"reference": "Patient/p"},
               "requester": {"reference": "Practitioner/d"}}),
        json!({"resourceType": "Condition", "clinicalStatus": {"coding": [{"code": "active"}]}, "onsetDateTime": "2020",
               "recordedDate": "2020", "subject": {"reference": "Patient/p"}, "asserter": {"reference": "Practitioner/d"}}),
        json!({"resourceType": "Appointment", "status": "booked", "start": "2021-05-01T09:00:00Z", "end": "2021-05-01T09:30:00Z",
               "participant": [{"actor": {"reference": "Patient/p"}}]}),
    ];
    for r in samples {
        let rt = ResourceType::parse(r["resourceType"].as_str().unwrap()).unwrap();
        let ix = zorgkluis_fhir::extract_index(rt, &r);
        let known: Vec<&str> = search_params_of(rt.as_str())
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        let emitted = ix
            .tokens
            .iter()
            .map(|t| t.param)
            .chain(ix.dates.iter().map(|d| d.param))
            .chain(ix.refs.iter().map(|r| r.param))
            .chain(ix.blind.iter().map(|b| b.param));
        for param in emitted {
            assert!(known.contains(&param), "{}: {param}", rt.as_str());
        }
    }
}
