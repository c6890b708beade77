//! The FHIR R4 REST API under `/fhir`. Thin: every interaction turns the request into a
//! vault call for the caller's principal (the vault decides and audits), and the answer
//! into FHIR JSON; errors become OperationOutcomes in one place ([`error`]).

mod bundle;
mod caller;
mod capability;
pub mod error;
#[doc(hidden)]
pub mod fuzz_targets;
mod transaction;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, RawQuery, State};
use axum::http::header::{CONTENT_TYPE, ETAG, HOST, IF_MATCH, LAST_MODIFIED, LOCATION};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::Value;
use zorgkluis_fhir::{IssueCode, ResourceType};
use zorgkluis_vault::{SearchQuery, Stored, VaultError};

pub use caller::FhirCaller;
use error::{issue, FhirError};

use crate::AppState;

/// The media type of every FHIR answer.
pub const FHIR_JSON: &str = "application/fhir+json; charset=utf-8";
/// Largest request body accepted (a transaction bundle of a large record).
pub const MAX_BODY: usize = 16 * 1024 * 1024;

/// Routes of the FHIR API.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/fhir/metadata", get(capability::metadata))
        .route("/fhir/openapi.json", get(capability::openapi))
        .route("/fhir", post(transaction::batch_or_transaction))
        .route("/fhir/", post(transaction::batch_or_transaction))
        .route("/fhir/Patient/{id}/$everything", get(everything))
        // The audit trail is read-only: every other method is a 405 with `Allow: GET`.
        .route(
            "/fhir/AuditEvent",
            get(audit_search).fallback(audit_trail_read_only),
        )
        .route("/fhir/{rt}", get(search_get).post(create))
        .route("/fhir/{rt}/_search", post(search_post))
        .route("/fhir/{rt}/_history", get(type_history))
        .route("/fhir/{rt}/{id}", get(read).put(update).delete(delete))
        .route("/fhir/{rt}/{id}/_history", get(history))
        .route("/fhir/{rt}/{id}/_history/{vid}", get(vread))
        .layer(DefaultBodyLimit::max(MAX_BODY))
}

async fn audit_search(
    State(state): State<AppState>,
    caller: FhirCaller,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, FhirError> {
    let params = pairs(raw.as_deref().unwrap_or(""));
    search(state, caller, headers, "AuditEvent".into(), params).await
}

async fn audit_trail_read_only() -> FhirError {
    FhirError::MethodNotAllowed("the audit trail is read-only".into())
}

/// The base URL clients see (`http(s)://host/fhir`).
pub(crate) fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            h.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '-' | '[' | ']'))
        })
        .unwrap_or("localhost");
    let scheme = match headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
    {
        Some("https") => "https",
        _ => "http",
    };
    format!("{scheme}://{host}/fhir")
}

/// A FHIR JSON response.
pub(crate) fn fhir_json(status: StatusCode, body: &Value) -> Response {
    let mut r = (status, body.to_string()).into_response();
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(FHIR_JSON));
    r
}

fn with_version_headers(mut r: Response, s: &Stored, base: &str) -> Response {
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&format!("W/\"{}\"", s.version)) {
        h.insert(ETAG, v);
    }
    if let Some(date) = http_date(&s.last_updated) {
        if let Ok(v) = HeaderValue::from_str(&date) {
            h.insert(LAST_MODIFIED, v);
        }
    }
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{base}/{}/{}/_history/{}",
        s.resource_type, s.id, s.version
    )) {
        h.insert(LOCATION, v.clone());
        h.insert("content-location", v);
    }
    r
}

fn http_date(rfc3339: &str) -> Option<String> {
    let t = time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
        .ok()?;
    t.format(&time::format_description::well_known::Rfc2822)
        .ok()
        .map(|s| s.replace("+0000", "GMT"))
}

/// Parses the resource type of a path; unknown types are 404 (like an unknown URL).
pub(crate) fn resource_type(rt: &str) -> Result<ResourceType, FhirError> {
    ResourceType::parse(rt)
        .map_err(|_| FhirError::NotFound(format!("unknown resource type {rt:?}")))
}

fn resource_id(id: &str) -> Result<(), FhirError> {
    zorgkluis_domain::ResourceId::parse(id)
        .map(|_| ())
        .map_err(|_| FhirError::bad("id", "not a valid FHIR id"))
}

/// The request body as a JSON object: 413 when too large, 415 for other media types, 400
/// for malformed JSON.
pub(crate) async fn json_body(headers: &HeaderMap, body: Body) -> Result<Value, FhirError> {
    let bytes = body_bytes(body).await?;
    if let Some(ct) = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) {
        let ct = ct
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if !matches!(
            ct.as_str(),
            "application/fhir+json" | "application/json" | "application/json+fhir" | ""
        ) {
            return Err(FhirError::UnsupportedMediaType);
        }
    }
    json_value(&bytes)
}

/// A request body (already read) as a JSON object: 400 for malformed JSON or anything but
/// an object. Pure; the fuzz target `fhir_json_intake` drives it.
pub(crate) fn json_value(bytes: &[u8]) -> Result<Value, FhirError> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        FhirError::BadRequest(vec![issue(
            IssueCode::Structure,
            "body",
            format!("not valid JSON (line {}, column {})", e.line(), e.column()),
        )])
    })?;
    if !value.is_object() {
        return Err(FhirError::BadRequest(vec![issue(
            IssueCode::Structure,
            "body",
            "a resource is a JSON object",
        )]));
    }
    Ok(value)
}

/// The raw request body, at most [`MAX_BODY`] bytes (413 beyond).
pub(crate) async fn body_bytes(body: Body) -> Result<axum::body::Bytes, FhirError> {
    axum::body::to_bytes(body, MAX_BODY).await.map_err(|e| {
        let too_large = std::error::Error::source(&e)
            .is_some_and(|s| s.is::<http_body_util::LengthLimitError>())
            || e.to_string().contains("length limit");
        if too_large {
            FhirError::TooLarge
        } else {
            FhirError::bad("body", "the request body could not be read")
        }
    })
}

/// A `_count` value: 1 to [`zorgkluis_vault::MAX_COUNT`].
fn page_size(v: &str) -> Result<usize, FhirError> {
    v.parse()
        .ok()
        .filter(|c| (1..=zorgkluis_vault::MAX_COUNT).contains(c))
        .ok_or_else(|| FhirError::bad("_count", "1 to 1000"))
}

/// `application/x-www-form-urlencoded` pairs (query strings and `_search` bodies).
pub(crate) fn pairs(raw: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(raw.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

async fn read(
    State(state): State<AppState>,
    caller: FhirCaller,
    headers: HeaderMap,
    Path((rt, id)): Path<(String, String)>,
) -> Result<Response, FhirError> {
    let rt = resource_type(&rt)?;
    resource_id(&id)?;
    caller.check_scope(rt.as_str(), false)?;
    if rt.as_str() == "AuditEvent" {
        return Err(FhirError::NotFound(
            "audit events are searched by patient: AuditEvent?patient=ID".into(),
        ));
    }
    let stored = state
        .vault
        .read(&caller.principal, rt.as_str(), &id)
        .await?;
    caller.check_patient(rt.as_str(), false, stored.patient_id.as_deref())?;
    let base = base_url(&headers);
    let body = stored.resource.clone().unwrap_or(Value::Null);
    Ok(with_version_headers(
        fhir_json(StatusCode::OK, &body),
        &stored,
        &base,
    ))
}

async fn vread(
    State(state): State<AppState>,
    caller: FhirCaller,
    headers: HeaderMap,
    Path((rt, id, vid)): Path<(String, String, String)>,
) -> Result<Response, FhirError> {
    let rt = resource_type(&rt)?;
    resource_id(&id)?;
    caller.check_scope(rt.as_str(), false)?;
    let version: i64 = vid
        .parse()
        .ok()
        .filter(|v| *v > 0)
        .ok_or_else(|| FhirError::bad("vid", "a version is a positive whole number"))?;
    let stored = state
        .vault
        .vread(&caller.principal, rt.as_str(), &id, version)
        .await?;
    caller.check_patient(rt.as_str(), false, stored.patient_id.as_deref())?;
    let body = stored.resource.clone().unwrap_or(Value::Null);
    Ok(with_version_headers(
        fhir_json(StatusCode::OK, &body),
        &stored,
        &base_url(&headers),
    ))
}

async fn history(
    State(state): State<AppState>,
    caller: FhirCaller,
    headers: HeaderMap,
    Path((rt, id)): Path<(String, String)>,
) -> Result<Response, FhirError> {
    let rt = resource_type(&rt)?;
    resource_id(&id)?;
    caller.check_scope(rt.as_str(), false)?;
    let versions = state
        .vault
        .history(&caller.principal, rt.as_str(), &id)
        .await?;
    if let Some(first) = versions.first() {
        caller.check_patient(rt.as_str(), false, first.patient_id.as_deref())?;
    }
    let base = base_url(&headers);
    Ok(fhir_json(
        StatusCode::OK,
        &bundle::history(&base, &format!("{rt}/{id}/_history"), &versions),
    ))
}

fn if_match(headers: &HeaderMap) -> Result<Option<i64>, FhirError> {
    let Some(v) = headers.get(IF_MATCH) else {
        return Ok(None);
    };
    let v = v.to_str().unwrap_or("").trim();
    let inner = v.strip_prefix("W/").unwrap_or(v).trim_matches('"');
    inner
        .parse::<i64>()
        .map(Some)
        .map_err(|_| FhirError::bad("If-Match", "expected W/\"<version>\""))
}

fn prefers_minimal(headers: &HeaderMap) -> bool {
    headers
        .get("prefer")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("return=minimal"))
}

fn written(status: StatusCode, stored: &Stored, headers: &HeaderMap) -> Response {
    let base = base_url(headers);
    let r = if prefers_minimal(headers) {
        status.into_response()
    } else {
        fhir_json(status, stored.resource.as_ref().unwrap_or(&Value::Null))
    };
    with_version_headers(r, stored, &base)
}

pub(crate) fn check_body_type(body: &Value, rt: ResourceType) -> Result<(), FhirError> {
    match body.get("resourceType").and_then(Value::as_str) {
        Some(t) if t == rt.as_str() => Ok(()),
        Some(_) => Err(FhirError::bad(
            "resourceType",
            "the resource type in the body does not match the URL",
        )),
        None => Err(FhirError::Unprocessable(vec![issue(
            IssueCode::Required,
            "resourceType",
            "resourceType is required",
        )])),
    }
}

async fn create(
    State(state): State<AppState>,
    caller: FhirCaller,
    headers: HeaderMap,
    Path(rt): Path<String>,
    body: Body,
) -> Result<Response, FhirError> {
    let rt = resource_type(&rt)?;
    caller.check_scope(rt.as_str(), true)?;
    if rt.as_str() == "AuditEvent" {
        return Err(FhirError::MethodNotAllowed(
            "the audit trail is read-only".into(),
        ));
    }
    let resource = json_body(&headers, body).await?;
    check_body_type(&resource, rt)?;
    caller.check_write(&resource)?;
    // Conditional create: If-None-Exist.
    if let Some(cond) = headers.get("if-none-exist") {
        let cond = cond
            .to_str()
            .map_err(|_| FhirError::bad("If-None-Exist", "not a query string"))?;
        let cond = cond.split_once('?').map_or(cond, |(_, q)| q);
        let mut query =
            SearchQuery::parse(rt.as_str(), &pairs(cond)).map_err(FhirError::BadRequest)?;
        query.count = 2;
        query.offset = 0;
        let page = state.vault.search(&caller.principal, &query).await?;
        match page.hits.len() {
            0 => {}
            1 => {
                let existing = &page.hits[0];
                return Ok(written(StatusCode::OK, existing, &headers));
            }
            _ => {
                return Err(FhirError::PreconditionFailed(
                    "If-None-Exist matches more than one resource".into(),
                ))
            }
        }
    }
    let stored = state.vault.create(&caller.principal, resource).await?;
    Ok(written(StatusCode::CREATED, &stored, &headers))
}

async fn update(
    State(state): State<AppState>,
    caller: FhirCaller,
    headers: HeaderMap,
    Path((rt, id)): Path<(String, String)>,
    body: Body,
) -> Result<Response, FhirError> {
    let rt = resource_type(&rt)?;
    resource_id(&id)?;
    caller.check_scope(rt.as_str(), true)?;
    if rt.as_str() == "AuditEvent" {
        return Err(FhirError::MethodNotAllowed(
            "the audit trail is read-only".into(),
        ));
    }
    let expected = if_match(&headers)?;
    let resource = json_body(&headers, body).await?;
    check_body_type(&resource, rt)?;
    caller.check_write(&resource)?;
    if resource
        .get("id")
        .and_then(Value::as_str)
        .is_some_and(|b| b != id)
    {
        return Err(FhirError::bad(
            "id",
            "the id in the body does not match the URL",
        ));
    }
    let stored = state
        .vault
        .update(&caller.principal, rt.as_str(), &id, resource, expected)
        .await
        .map_err(|e| FhirError::from_vault(e, expected.is_some()))?;
    let status = if stored.version == 1 {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(written(status, &stored, &headers))
}

async fn delete(
    State(state): State<AppState>,
    caller: FhirCaller,
    Path((rt, id)): Path<(String, String)>,
) -> Result<Response, FhirError> {
    let rt = resource_type(&rt)?;
    resource_id(&id)?;
    caller.check_scope(rt.as_str(), true)?;
    if rt.as_str() == "AuditEvent" {
        return Err(FhirError::MethodNotAllowed(
            "the audit trail is read-only".into(),
        ));
    }
    match state
        .vault
        .delete(&caller.principal, rt.as_str(), &id)
        .await
    {
        Ok(_) => Ok(StatusCode::NO_CONTENT.into_response()),
        Err(e) => Err(e.into()),
    }
}

/// The parameters of a type history: `_count` and `_since`. Pure.
pub(crate) fn history_params(
    params: Vec<(String, String)>,
) -> Result<(usize, Option<String>), FhirError> {
    let mut count = zorgkluis_vault::DEFAULT_COUNT;
    let mut since = None;
    for (k, v) in params {
        match k.as_str() {
            "_count" => count = page_size(&v)?,
            "_since" => {
                zorgkluis_fhir::date_range(&v).ok_or_else(|| {
                    FhirError::bad("_since", "an instant, e.g. 2026-11-01T00:00:00Z")
                })?;
                since = Some(v)
            }
            "_format" => {}
            other => {
                return Err(FhirError::BadRequest(vec![issue(
                    IssueCode::NotSupported,
                    other,
                    format!("{other} is not supported on _history"),
                )]))
            }
        }
    }
    Ok((count, since))
}

async fn type_history(
    State(state): State<AppState>,
    caller: FhirCaller,
    headers: HeaderMap,
    Path(rt): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, FhirError> {
    let rt = resource_type(&rt)?;
    caller.check_scope(rt.as_str(), false)?;
    let (count, since) = history_params(pairs(raw.as_deref().unwrap_or("")))?;
    let versions = state
        .vault
        .type_history(&caller.principal, rt.as_str(), since.as_deref(), count)
        .await?;
    let base = base_url(&headers);
    Ok(fhir_json(
        StatusCode::OK,
        &bundle::history(&base, &format!("{rt}/_history"), &versions),
    ))
}

async fn search_get(
    State(state): State<AppState>,
    caller: FhirCaller,
    headers: HeaderMap,
    Path(rt): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, FhirError> {
    let params = pairs(raw.as_deref().unwrap_or(""));
    search(state, caller, headers, rt, params).await
}

async fn search_post(
    State(state): State<AppState>,
    caller: FhirCaller,
    headers: HeaderMap,
    Path(rt): Path<String>,
    RawQuery(raw): RawQuery,
    body: Body,
) -> Result<Response, FhirError> {
    let body = body_bytes(body).await?;
    let mut params = pairs(raw.as_deref().unwrap_or(""));
    params.extend(pairs(&String::from_utf8_lossy(&body)));
    search(state, caller, headers, rt, params).await
}

/// The parameters of a search, sorted out before the vault sees them.
pub(crate) struct SearchParams {
    /// Search criteria and result controls, for [`SearchQuery::parse`].
    pub criteria: Vec<(String, String)>,
    /// `_include` values.
    pub includes: Vec<String>,
    /// Unknown parameters left out (not in strict handling).
    pub ignored: Vec<String>,
}

/// Sorts the pairs of a search on `rt` into criteria, `_include`s and ignored unknown
/// parameters; refuses what is not supported. Pure.
pub(crate) fn search_params(
    rt: ResourceType,
    params: Vec<(String, String)>,
    strict: bool,
) -> Result<SearchParams, FhirError> {
    let mut includes = Vec::new();
    let mut criteria = Vec::new();
    for (k, v) in params {
        match k.as_str() {
            "_include" => includes.push(v),
            "_revinclude" | "_elements" | "_contained" | "_containedType" => {
                return Err(FhirError::BadRequest(vec![issue(
                    IssueCode::NotSupported,
                    &k,
                    format!("{k} is not supported"),
                )]))
            }
            "_format" if !v.contains("json") => {
                return Err(FhirError::BadRequest(vec![issue(
                    IssueCode::NotSupported,
                    "_format",
                    "only JSON is served",
                )]))
            }
            // `_count=0` asks for the total only.
            "_count" if v.trim() == "0" => criteria.push(("_summary".into(), "count".into())),
            // How the total is computed: always exactly here.
            "_total" | "_totalMethod" => {}
            _ => criteria.push((k, v)),
        }
    }
    let mut ignored = Vec::new();
    if !strict {
        if let Err(issues) = SearchQuery::parse(rt.as_str(), &criteria) {
            let unknown: Vec<String> = issues
                .iter()
                .filter(|i| {
                    i.code == IssueCode::NotSupported
                        && i.message.starts_with("unknown search parameter")
                })
                .map(|i| i.location.clone())
                .collect();
            criteria.retain(|(k, _)| !unknown.contains(k));
            ignored = unknown;
        }
    }
    Ok(SearchParams {
        criteria,
        includes,
        ignored,
    })
}

async fn search(
    state: AppState,
    caller: FhirCaller,
    headers: HeaderMap,
    rt: String,
    params: Vec<(String, String)>,
) -> Result<Response, FhirError> {
    let rt = resource_type(&rt)?;
    caller.check_scope(rt.as_str(), false)?;
    let base = base_url(&headers);
    if rt.as_str() == "AuditEvent" {
        return bundle::audit_events(&state, &caller, &base, &params).await;
    }
    // Unknown parameters are left out with a warning, as FHIR asks by default; with
    // `Prefer: handling=strict` they are an error (400).
    let strict = headers
        .get("prefer")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("handling=strict"));
    let SearchParams {
        criteria,
        includes,
        ignored,
    } = search_params(rt, params, strict)?;
    // A token limited to one patient searches that patient's data only.
    let mut scoped = criteria.clone();
    if let Some(p) = caller.patient_only() {
        if rt.as_str() == "Patient" {
            scoped.push(("_id".into(), p.to_owned()));
        } else if zorgkluis_vault::search_params_of(rt.as_str())
            .iter()
            .any(|(name, _)| *name == "patient")
        {
            scoped.push(("patient".into(), p.to_owned()));
        }
    }
    let query = SearchQuery::parse(rt.as_str(), &scoped).map_err(FhirError::BadRequest)?;
    let mut page = state.vault.search(&caller.principal, &query).await?;
    let before = page.hits.len();
    page.hits.retain(|h| {
        caller
            .check_patient(&h.resource_type, false, h.patient_id.as_deref())
            .is_ok()
    });
    page.total -= before - page.hits.len();
    let mut included = Vec::new();
    for spec in &includes {
        included.extend(bundle::include(&state, &caller, rt, spec, &page.hits).await?);
    }
    let self_link = bundle::link(&base, rt.as_str(), &criteria, &includes, None);
    let mut set = bundle::searchset(
        &base,
        rt.as_str(),
        &criteria,
        &includes,
        &query,
        &page,
        &included,
        &self_link,
    );
    if !ignored.is_empty() {
        let warning = zorgkluis_fhir::operation_outcome(&[zorgkluis_fhir::Issue {
            severity: zorgkluis_fhir::Severity::Warning,
            code: IssueCode::NotSupported,
            location: ignored.join(","),
            message: "unknown search parameters were ignored".into(),
        }]);
        let entry = serde_json::json!({"resource": warning, "search": {"mode": "outcome"}});
        match set.get_mut("entry").and_then(Value::as_array_mut) {
            Some(entries) => entries.push(entry),
            None => set["entry"] = Value::Array(vec![entry]),
        }
    }
    Ok(fhir_json(StatusCode::OK, &set))
}

/// The paging parameters of `$everything`: `(offset, count)`. Pure.
pub(crate) fn everything_params(params: &[(String, String)]) -> Result<(usize, usize), FhirError> {
    let mut count = zorgkluis_vault::DEFAULT_COUNT * 4;
    let mut offset = 0usize;
    for (k, v) in params {
        match k.as_str() {
            "_count" => count = page_size(v)?,
            "_offset" => {
                offset = v
                    .parse()
                    .map_err(|_| FhirError::bad("_offset", "a whole number"))?
            }
            "_format" => {}
            other => {
                return Err(FhirError::BadRequest(vec![issue(
                    IssueCode::NotSupported,
                    other,
                    format!("{other} is not supported on $everything"),
                )]))
            }
        }
    }
    Ok((offset, count))
}

async fn everything(
    State(state): State<AppState>,
    caller: FhirCaller,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, FhirError> {
    resource_id(&id)?;
    caller.check_scope("Patient", false)?;
    caller.check_patient("Patient", false, Some(&id))?;
    let (offset, count) = everything_params(&pairs(raw.as_deref().unwrap_or("")))?;
    let page = state
        .vault
        .everything(&caller.principal, &id, offset, count)
        .await
        .map_err(|e| match e {
            VaultError::NotFound => FhirError::NotFound("no such patient".into()),
            other => other.into(),
        })?;
    let base = base_url(&headers);
    Ok(fhir_json(
        StatusCode::OK,
        &bundle::everything(&base, &id, offset, count, &page),
    ))
}
