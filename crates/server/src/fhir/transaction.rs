//! `POST /fhir` with a `batch` or `transaction` Bundle.
//!
//! A **transaction** is atomic: its creates (POST) and updates (PUT) are written as one job
//! by the vault (every resource decided and audited; one refusal or invalid entry and
//! nothing is written). `urn:uuid:` full URLs get server ids and references to them are
//! rewritten. Reads (GET) in a transaction run after the writes. DELETE and conditional
//! interactions inside a transaction are refused (400) rather than run non-atomically.
//!
//! A **batch** runs each entry on its own and reports each entry's outcome.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};
use zorgkluis_fhir::{IssueCode, ResourceType};
use zorgkluis_vault::{LoadOptions, SearchQuery, Stored, VaultError};

use super::caller::FhirCaller;
use super::error::{issue, FhirError};
use super::{base_url, fhir_json, json_body, pairs, resource_type};
use crate::AppState;

/// Entries in one bundle at most.
const MAX_ENTRIES: usize = 5_000;

/// The `request` of a bundle entry.
pub(crate) struct Request {
    /// GET, POST, PUT or DELETE.
    pub method: String,
    /// The url, without a leading `/`.
    pub url: String,
    /// `ifMatch` as a version.
    pub if_match: Option<i64>,
    /// A conditional interaction (refused).
    pub conditional: bool,
}

pub(crate) fn request_of(entry: &Value, i: usize) -> Result<Request, FhirError> {
    let req = entry.get("request").ok_or_else(|| {
        FhirError::bad(
            &format!("Bundle.entry[{i}].request"),
            "every entry needs a request",
        )
    })?;
    let method = req
        .get("method")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_ascii_uppercase();
    let url = req
        .get("url")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    if url.is_empty() || !matches!(method.as_str(), "GET" | "POST" | "PUT" | "DELETE") {
        return Err(FhirError::bad(
            &format!("Bundle.entry[{i}].request"),
            "method must be GET, POST, PUT or DELETE, with a url",
        ));
    }
    let if_match = match req.get("ifMatch").and_then(Value::as_str) {
        None => None,
        Some(v) => Some(
            v.trim_start_matches("W/")
                .trim_matches('"')
                .parse::<i64>()
                .map_err(|_| {
                    FhirError::bad(
                        &format!("Bundle.entry[{i}].request.ifMatch"),
                        "expected W/\"<version>\"",
                    )
                })?,
        ),
    };
    let conditional = req.get("ifNoneExist").is_some()
        || req.get("ifNoneMatch").is_some()
        || req.get("ifModifiedSince").is_some()
        || url.contains('?') && method != "GET";
    Ok(Request {
        method,
        url: url.trim_start_matches('/').to_owned(),
        if_match,
        conditional,
    })
}

fn status_line(code: StatusCode) -> String {
    format!(
        "{} {}",
        code.as_u16(),
        code.canonical_reason().unwrap_or("")
    )
}

fn written_entry(base: &str, s: &Stored, status: StatusCode) -> Value {
    json!({
        "fullUrl": format!("{base}/{}/{}", s.resource_type, s.id),
        "resource": s.resource,
        "response": {
            "status": status_line(status),
            "location": format!("{}/{}/_history/{}", s.resource_type, s.id, s.version),
            "etag": format!("W/\"{}\"", s.version),
            "lastModified": s.last_updated,
        }
    })
}

fn error_entry(e: FhirError) -> Value {
    let (status, outcome) = e.status_and_outcome();
    json!({"response": {"status": status_line(status), "outcome": outcome}})
}

/// `POST /fhir`.
pub(crate) async fn batch_or_transaction(
    State(state): State<AppState>,
    caller: FhirCaller,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, FhirError> {
    let bundle = json_body(&headers, body).await?;
    let (kind, entries) = bundle_entries(&bundle)?;
    let base = base_url(&headers);
    match kind {
        BundleKind::Transaction => transaction(&state, &caller, &base, entries).await,
        BundleKind::Batch => batch(&state, &caller, &base, entries).await,
    }
}

/// What `POST /fhir` was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BundleKind {
    /// `Bundle.type = transaction`.
    Transaction,
    /// `Bundle.type = batch`.
    Batch,
}

/// The kind and the entries of a `POST /fhir` body. Pure.
pub(crate) fn bundle_entries(bundle: &Value) -> Result<(BundleKind, Vec<Value>), FhirError> {
    if bundle.get("resourceType").and_then(Value::as_str) != Some("Bundle") {
        return Err(FhirError::bad(
            "resourceType",
            "POST /fhir takes a batch or transaction Bundle",
        ));
    }
    let entries = bundle
        .get("entry")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if entries.len() > MAX_ENTRIES {
        return Err(FhirError::TooLarge);
    }
    match bundle.get("type").and_then(Value::as_str) {
        Some("transaction") => Ok((BundleKind::Transaction, entries)),
        Some("batch") => Ok((BundleKind::Batch, entries)),
        _ => Err(FhirError::bad(
            "Bundle.type",
            "must be batch or transaction",
        )),
    }
}

/// One write of a transaction: entry index, type, id, resource, `ifMatch` version.
pub(crate) type PlannedWrite = (usize, String, String, Value, Option<i64>);

/// A transaction before anything is read or written.
pub(crate) struct TransactionPlan {
    /// The POSTs and PUTs, in entry order.
    pub writes: Vec<PlannedWrite>,
    /// The GETs: entry index and url.
    pub reads: Vec<(usize, String)>,
    /// `fullUrl` of each write to its `Type/id`.
    pub ids: HashMap<String, String>,
}

/// Plans a transaction's entries: requests checked, an id for every write (server ids for
/// POST), the map from full URLs to them. `check` runs on each write's resource in entry
/// order (the handler checks the token's scopes there). Pure apart from `check` and the
/// random ids.
pub(crate) fn plan_transaction(
    entries: &[Value],
    check: &mut dyn FnMut(ResourceType, &Value) -> Result<(), FhirError>,
) -> Result<TransactionPlan, FhirError> {
    let mut writes: Vec<PlannedWrite> = Vec::new();
    let mut reads: Vec<(usize, String)> = Vec::new();
    let mut ids: HashMap<String, String> = HashMap::new();
    for (i, entry) in entries.iter().enumerate() {
        let req = request_of(entry, i)?;
        if req.conditional || req.method == "DELETE" {
            return Err(FhirError::BadRequest(vec![issue(
                IssueCode::NotSupported,
                &format!("Bundle.entry[{i}].request"),
                "conditional interactions and DELETE are not supported inside a transaction; use a batch",
            )]));
        }
        if req.method == "GET" {
            reads.push((i, req.url));
            continue;
        }
        let resource = entry
            .get("resource")
            .filter(|r| r.is_object())
            .cloned()
            .ok_or_else(|| {
                FhirError::bad(
                    &format!("Bundle.entry[{i}].resource"),
                    "POST and PUT need a resource",
                )
            })?;
        let rt_name = resource
            .get("resourceType")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let rt = resource_type(&rt_name)?;
        check(rt, &resource)?;
        let id = if req.method == "POST" {
            if req.url != rt.as_str() {
                return Err(FhirError::bad(
                    &format!("Bundle.entry[{i}].request.url"),
                    "POST goes to the resource type",
                ));
            }
            zorgkluis_domain::ResourceId::random().to_string()
        } else {
            let (t, id) = req.url.split_once('/').ok_or_else(|| {
                FhirError::bad(
                    &format!("Bundle.entry[{i}].request.url"),
                    "PUT goes to Type/id",
                )
            })?;
            if t != rt.as_str() || zorgkluis_domain::ResourceId::parse(id).is_err() {
                return Err(FhirError::bad(
                    &format!("Bundle.entry[{i}].request.url"),
                    "PUT goes to Type/id of the resource",
                ));
            }
            id.to_owned()
        };
        if let Some(full) = entry.get("fullUrl").and_then(Value::as_str) {
            ids.insert(full.to_owned(), format!("{}/{id}", rt.as_str()));
        }
        writes.push((i, rt.as_str().to_owned(), id, resource, req.if_match));
    }
    Ok(TransactionPlan { writes, reads, ids })
}

/// Gives each planned write its id and rewrites references to full URLs of the
/// transaction into `Type/id`; returns the resources to load. Pure.
pub(crate) fn resolve_transaction(
    writes: &mut [PlannedWrite],
    ids: &HashMap<String, String>,
) -> Vec<Value> {
    let mut resources = Vec::with_capacity(writes.len());
    for (_, _, id, resource, _) in writes.iter_mut() {
        if let Some(obj) = resource.as_object_mut() {
            obj.insert("id".into(), Value::String(id.clone()));
        }
        zorgkluis_fhir::rewrite_references(resource, &mut |r| ids.get(r).cloned());
        resources.push(resource.clone());
    }
    resources
}

async fn transaction(
    state: &AppState,
    caller: &FhirCaller,
    base: &str,
    entries: Vec<Value>,
) -> Result<Response, FhirError> {
    let TransactionPlan {
        mut writes,
        reads,
        ids,
    } = plan_transaction(&entries, &mut |rt, resource| {
        caller.check_scope(rt.as_str(), true)?;
        caller.check_write(resource)
    })?;
    // Version preconditions are checked before the atomic write.
    for (i, rt, id, _, if_match) in &writes {
        if let Some(expected) = if_match {
            let current = state.vault.read(&caller.principal, rt, id).await;
            let ok = matches!(&current, Ok(s) if s.version == *expected);
            if !ok {
                return Err(FhirError::PreconditionFailed(format!(
                    "entry {i}: version {expected} is not current"
                )));
            }
        }
    }
    let resources = resolve_transaction(&mut writes, &ids);
    if !resources.is_empty() {
        state
            .vault
            .load(&caller.principal, resources, LoadOptions::default())
            .await
            .map_err(|e| match e {
                VaultError::Invalid(issues) => FhirError::Unprocessable(issues),
                other => other.into(),
            })?;
    }
    let mut out: Vec<Value> = vec![Value::Null; entries.len()];
    for (i, rt, id, _, _) in &writes {
        let stored = state.vault.read(&caller.principal, rt, id).await;
        out[*i] = match stored {
            Ok(s) => {
                let status = if s.version == 1 {
                    StatusCode::CREATED
                } else {
                    StatusCode::OK
                };
                written_entry(base, &s, status)
            }
            // Written, but the caller may not read it back.
            Err(_) => {
                json!({"response": {"status": status_line(StatusCode::CREATED), "location": format!("{rt}/{id}")}})
            }
        };
    }
    for (i, url) in reads {
        out[i] = read_entry(state, caller, base, &url).await;
    }
    Ok(fhir_json(
        StatusCode::OK,
        &json!({"resourceType": "Bundle", "type": "transaction-response", "entry": out}),
    ))
}

/// What a GET entry of a batch or transaction asks for.
pub(crate) enum ReadTarget<'a> {
    /// `Type?query`.
    Search {
        /// The type searched.
        rt: ResourceType,
        /// The query string (may be empty).
        query: &'a str,
    },
    /// `Type/id`.
    Read {
        /// The type read.
        rt: ResourceType,
        /// The id.
        id: &'a str,
    },
}

/// The url of a GET entry as a search or a read. Pure.
pub(crate) fn read_target(url: &str) -> Result<ReadTarget<'_>, FhirError> {
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let parts: Vec<&str> = path.split('/').collect();
    match parts.as_slice() {
        [rt] => Ok(ReadTarget::Search {
            rt: resource_type(rt)?,
            query,
        }),
        [rt, id] => Ok(ReadTarget::Read {
            rt: resource_type(rt)?,
            id,
        }),
        _ => Err(FhirError::bad(
            "request.url",
            "GET supports Type and Type/id",
        )),
    }
}

async fn read_entry(state: &AppState, caller: &FhirCaller, base: &str, url: &str) -> Value {
    let result: Result<Value, FhirError> = async {
        match read_target(url)? {
            ReadTarget::Search { rt, query } => {
                caller.check_scope(rt.as_str(), false)?;
                let q = SearchQuery::parse(rt.as_str(), &pairs(query))
                    .map_err(FhirError::BadRequest)?;
                let page = state.vault.search(&caller.principal, &q).await?;
                Ok(super::bundle::searchset(
                    base,
                    rt.as_str(),
                    &pairs(query),
                    &[],
                    &q,
                    &page,
                    &[],
                    &format!("{base}/{url}"),
                ))
            }
            ReadTarget::Read { rt, id } => {
                caller.check_scope(rt.as_str(), false)?;
                let s = state.vault.read(&caller.principal, rt.as_str(), id).await?;
                Ok(s.resource.unwrap_or(Value::Null))
            }
        }
    }
    .await;
    match result {
        Ok(resource) => {
            json!({"resource": resource, "response": {"status": status_line(StatusCode::OK)}})
        }
        Err(e) => error_entry(e),
    }
}

async fn batch(
    state: &AppState,
    caller: &FhirCaller,
    base: &str,
    entries: Vec<Value>,
) -> Result<Response, FhirError> {
    let mut out = Vec::with_capacity(entries.len());
    for (i, entry) in entries.iter().enumerate() {
        let req = match request_of(entry, i) {
            Ok(r) => r,
            Err(e) => {
                out.push(error_entry(e));
                continue;
            }
        };
        let result: Result<Value, FhirError> = async {
            match req.method.as_str() {
                "GET" => return Ok(read_entry(state, caller, base, &req.url).await),
                "DELETE" => {
                    let (rt, id) = req
                        .url
                        .split_once('/')
                        .ok_or_else(|| FhirError::bad("request.url", "DELETE goes to Type/id"))?;
                    let rt = resource_type(rt)?;
                    caller.check_scope(rt.as_str(), true)?;
                    state
                        .vault
                        .delete(&caller.principal, rt.as_str(), id)
                        .await?;
                    Ok(json!({"response": {"status": status_line(StatusCode::NO_CONTENT)}}))
                }
                method => {
                    if req.conditional {
                        return Err(FhirError::BadRequest(vec![issue(
                            IssueCode::NotSupported,
                            "request",
                            "conditional interactions are not supported in a batch",
                        )]));
                    }
                    let resource = entry
                        .get("resource")
                        .filter(|r| r.is_object())
                        .cloned()
                        .ok_or_else(|| {
                            FhirError::bad("resource", "POST and PUT need a resource")
                        })?;
                    let rt = resource_type(
                        resource
                            .get("resourceType")
                            .and_then(Value::as_str)
                            .unwrap_or(""),
                    )?;
                    caller.check_scope(rt.as_str(), true)?;
                    caller.check_write(&resource)?;
                    let stored = if method == "POST" {
                        state.vault.create(&caller.principal, resource).await?
                    } else {
                        let id = req
                            .url
                            .split_once('/')
                            .map(|(_, id)| id.to_owned())
                            .ok_or_else(|| FhirError::bad("request.url", "PUT goes to Type/id"))?;
                        state
                            .vault
                            .update(&caller.principal, rt.as_str(), &id, resource, req.if_match)
                            .await
                            .map_err(|e| FhirError::from_vault(e, req.if_match.is_some()))?
                    };
                    let status = if stored.version == 1 {
                        StatusCode::CREATED
                    } else {
                        StatusCode::OK
                    };
                    Ok(written_entry(base, &stored, status))
                }
            }
        }
        .await;
        out.push(match result {
            Ok(v) => v,
            Err(e) => error_entry(e),
        });
    }
    Ok(fhir_json(
        StatusCode::OK,
        &json!({"resourceType": "Bundle", "type": "batch-response", "entry": out}),
    ))
}
