//! The pure parts of the FHIR API as fuzz targets: each function takes arbitrary bytes and
//! runs them through the same functions the handlers use, up to where the vault would touch
//! the store. The property is that nothing panics (plus a few invariants asserted below).
//!
//! Driven by the cargo-fuzz targets in `fuzz/` (`scripts/fuzz`) and, on the stable
//! toolchain in every `cargo test`, by `tests/fuzz_corpus.rs`, which replays the seed
//! corpus and every saved crash under `fuzz/regressions/`. Not an API.

use serde_json::Value;
use zorgkluis_fhir::{
    compartment_patient, extract_index, references, validate, Issue, ResourceType,
};
use zorgkluis_vault::{SearchPage, SearchQuery};

use super::error::FhirError;
use super::transaction::{
    bundle_entries, plan_transaction, read_target, request_of, resolve_transaction, BundleKind,
    ReadTarget, TransactionPlan,
};
use super::{bundle, check_body_type, json_value, pairs, resource_type};

/// The base URL the targets render links with.
const BASE: &str = "http://localhost/fhir";

/// Renders an error as the handler would answer it (status and OperationOutcome).
fn answer(e: FhirError) {
    let (status, outcome) = e.status_and_outcome();
    assert!(status.is_client_error(), "a pure step answered {status}");
    assert_eq!(outcome["resourceType"], "OperationOutcome");
}

fn outcome_of(issues: Vec<Issue>) {
    answer(FhirError::Unprocessable(issues));
}

/// What the vault does with a resource body before it touches the store, on create and
/// update (`Vault::write`) and on load (`Vault::load`): validate, the patient compartment,
/// the data category, the references, the stored body with its `id` and `meta`, and the
/// search index.
fn vault_checks(resource: &Value) {
    let rt = match validate(resource) {
        Ok(rt) => rt,
        Err(issues) => {
            assert!(!issues.is_empty(), "validation failed without an issue");
            return outcome_of(issues);
        }
    };
    assert_eq!(
        resource.get("resourceType").and_then(Value::as_str),
        Some(rt.as_str()),
        "validate returned another type than the body's"
    );
    if let Err(e) = compartment_patient(rt, resource) {
        let _ = e.to_string();
    }
    let _ = zorgkluis_policy::Category::of(rt.as_str(), resource);
    for r in references(resource) {
        let _ = (&r.path, &r.target);
    }
    // As `seal_version` stores it.
    let mut body = resource.clone();
    if let Some(obj) = body.as_object_mut() {
        obj.insert("id".into(), Value::String("fuzz-1".into()));
        let meta = obj
            .entry("meta")
            .or_insert_with(|| Value::Object(Default::default()));
        if !meta.is_object() {
            *meta = Value::Object(Default::default());
        }
        if let Some(meta) = meta.as_object_mut() {
            meta.insert("versionId".into(), Value::String("1".into()));
            meta.insert(
                "lastUpdated".into(),
                Value::String("2026-01-01T00:00:00.000Z".into()),
            );
        }
    }
    let _ = zorgkluis_policy::Category::of(rt.as_str(), &body);
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    assert!(!bytes.is_empty(), "a resource serialises");
    let _ = extract_index(rt, &body);
}

/// `POST /fhir/{type}` and `PUT /fhir/{type}/{id}` with `data` as the body, for the type
/// the body names: the server's JSON intake, its checks, then the vault's.
pub fn fhir_json_intake(data: &[u8]) {
    let resource = match json_value(data) {
        Ok(v) => v,
        Err(e) => return answer(e),
    };
    let name = resource
        .get("resourceType")
        .and_then(Value::as_str)
        .unwrap_or("Patient");
    let rt = match resource_type(name) {
        Ok(rt) => rt,
        Err(e) => return answer(e),
    };
    if let Err(e) = check_body_type(&resource, rt) {
        return answer(e);
    }
    // `FhirCaller::check_write` looks at the compartment before the vault does.
    let _ = compartment_patient(rt, &resource);
    vault_checks(&resource);
}

/// A search: `data` is `Type?query` (or a query on Observation). Runs the handler's sorting
/// of the parameters, [`SearchQuery::parse`] and what the vault and the handler do with a
/// parsed query without the store (the redacted audit form, the searchset's links), and
/// the other parameter parsers of the API (`_history`, `$everything`, AuditEvent, and
/// `If-None-Exist`).
pub fn search_params(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (rt, query) = match text.split_once('?') {
        Some((t, q)) => (
            ResourceType::parse(t).unwrap_or(ResourceType::OBSERVATION),
            q,
        ),
        None => (ResourceType::OBSERVATION, text.as_ref()),
    };
    let params = pairs(query);
    for strict in [false, true] {
        let sorted = match super::search_params(rt, params.clone(), strict) {
            Ok(s) => s,
            Err(e) => {
                answer(e);
                continue;
            }
        };
        let parsed = match SearchQuery::parse(rt.as_str(), &sorted.criteria) {
            Ok(q) => q,
            Err(issues) => {
                assert!(!issues.is_empty(), "a refused query without an issue");
                if !strict {
                    assert!(
                        !issues
                            .iter()
                            .any(|i| i.message.starts_with("unknown search parameter")),
                        "unknown parameters are left out unless strict"
                    );
                }
                answer(FhirError::BadRequest(issues));
                continue;
            }
        };
        assert!((1..=zorgkluis_vault::MAX_COUNT).contains(&parsed.count));
        let _ = parsed.redacted();
        let self_link = bundle::link(BASE, rt.as_str(), &sorted.criteria, &sorted.includes, None);
        for total in [0, 100, usize::MAX] {
            let page = SearchPage {
                total,
                hits: Vec::new(),
            };
            let set = bundle::searchset(
                BASE,
                rt.as_str(),
                &sorted.criteria,
                &sorted.includes,
                &parsed,
                &page,
                &[],
                &self_link,
            );
            assert_eq!(set["resourceType"], "Bundle");
        }
    }
    // The same query string elsewhere in the API.
    match super::history_params(params.clone()) {
        Ok(_) => {}
        Err(e) => answer(e),
    }
    match super::everything_params(&params) {
        Ok((offset, count)) => {
            for total in [0, 100, usize::MAX] {
                let page = SearchPage {
                    total,
                    hits: Vec::new(),
                };
                let _ = bundle::everything(BASE, "p1", offset, count, &page);
            }
        }
        Err(e) => answer(e),
    }
    if let Err(e) = bundle::audit_filter(&params) {
        answer(e);
    }
    // `If-None-Exist` on a create takes the query after an optional `?`.
    let _ = SearchQuery::parse(rt.as_str(), &pairs(&text));
}

/// A GET entry of a batch or transaction, up to the vault.
fn get_entry(url: &str) {
    match read_target(url) {
        Ok(ReadTarget::Search { rt, query }) => {
            let p = pairs(query);
            if let Ok(q) = SearchQuery::parse(rt.as_str(), &p) {
                let _ = q.redacted();
            }
        }
        Ok(ReadTarget::Read { .. }) => {}
        Err(e) => answer(e),
    }
}

/// `POST /fhir` with `data` as the body: the Bundle's entries, a transaction's plan (ids,
/// `fullUrl` map, references rewritten) and the vault's checks of every resource it would
/// load; a batch's entries one by one.
pub fn bundle(data: &[u8]) {
    let body = match json_value(data) {
        Ok(v) => v,
        Err(e) => return answer(e),
    };
    let (kind, entries) = match bundle_entries(&body) {
        Ok(x) => x,
        Err(e) => return answer(e),
    };
    match kind {
        BundleKind::Transaction => {
            let plan = plan_transaction(&entries, &mut |rt, resource| {
                let _ = compartment_patient(rt, resource);
                Ok(())
            });
            let TransactionPlan {
                mut writes,
                reads,
                ids,
            } = match plan {
                Ok(p) => p,
                Err(e) => return answer(e),
            };
            for (i, ..) in &writes {
                assert!(*i < entries.len());
            }
            let resources = resolve_transaction(&mut writes, &ids);
            assert_eq!(resources.len(), writes.len());
            for r in &resources {
                vault_checks(r);
            }
            for (i, url) in reads {
                assert!(i < entries.len());
                get_entry(&url);
            }
        }
        BundleKind::Batch => {
            for (i, entry) in entries.iter().enumerate() {
                let req = match request_of(entry, i) {
                    Ok(r) => r,
                    Err(e) => {
                        answer(e);
                        continue;
                    }
                };
                match req.method.as_str() {
                    "GET" => get_entry(&req.url),
                    "DELETE" => {
                        if let Some((rt, _)) = req.url.split_once('/') {
                            let _ = resource_type(rt);
                        }
                    }
                    _ if req.conditional => {}
                    _ => {
                        let Some(resource) = entry.get("resource").filter(|r| r.is_object()) else {
                            continue;
                        };
                        let name = resource
                            .get("resourceType")
                            .and_then(Value::as_str)
                            .unwrap_or("");
                        if let Ok(rt) = resource_type(name) {
                            let _ = compartment_patient(rt, resource);
                            vault_checks(resource);
                        }
                    }
                }
            }
        }
    }
}
