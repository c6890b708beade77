//! What the API says about itself: the CapabilityStatement (`/fhir/metadata`) and the
//! OpenAPI document (`/fhir/openapi.json`). Both are generated from the same facts the
//! handlers use (the resource types, the search parameters the index supports), so they
//! tell the truth.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};
use zorgkluis_fhir::ResourceType;
use zorgkluis_vault::search_params_of;

use super::{base_url, fhir_json};
use crate::AppState;

/// `_include` targets advertised per type.
fn includes(rt: &str) -> Vec<String> {
    search_params_of(rt)
        .into_iter()
        .filter(|(_, kind)| *kind == "reference")
        .map(|(name, _)| format!("{rt}:{name}"))
        .collect()
}

fn resource_entry(rt: ResourceType) -> Value {
    let name = rt.as_str();
    if name == "AuditEvent" {
        return json!({
            "type": "AuditEvent",
            "documentation": "The audit trail (NEN 7513), read-only: a patient sees the events about their own record, the privacy officer all.",
            "interaction": [{"code": "search-type"}],
            "searchParam": [
                {"name": "patient", "type": "reference"},
                {"name": "agent", "type": "token"},
                {"name": "date", "type": "date"},
            ],
        });
    }
    let params: Vec<Value> = search_params_of(name)
        .into_iter()
        .map(|(n, kind)| json!({"name": n, "type": kind}))
        .collect();
    let mut r = json!({
        "type": name,
        "interaction": [
            {"code": "read"}, {"code": "vread"}, {"code": "update"}, {"code": "delete"},
            {"code": "history-instance"}, {"code": "create"}, {"code": "search-type"},
        ],
        "versioning": "versioned",
        "readHistory": true,
        "updateCreate": true,
        "conditionalCreate": true,
        "conditionalRead": "not-supported",
        "conditionalUpdate": false,
        "conditionalDelete": "not-supported",
        "searchInclude": includes(name),
        "searchParam": params,
    });
    if name == "Patient" {
        r["operation"] = json!([{
            "name": "everything",
            "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything",
        }]);
    }
    r
}

/// `GET /fhir/metadata`.
pub(crate) async fn metadata(State(_): State<AppState>, headers: HeaderMap) -> Response {
    let base = base_url(&headers);
    let origin = base.trim_end_matches("/fhir");
    let resources: Vec<Value> = ResourceType::all().map(resource_entry).collect();
    fhir_json(
        StatusCode::OK,
        &json!({
            "resourceType": "CapabilityStatement",
            "status": "active",
            "date": "2026-11-23",
            "publisher": "Zorgkluis",
            "kind": "instance",
            "software": {"name": "Zorgkluis", "version": env!("CARGO_PKG_VERSION")},
            "implementation": {"description": "Zorgkluis care vault: every interaction is authorised by the access-decision point and audited (NEN 7513)", "url": base},
            "fhirVersion": "4.0.1",
            "format": ["application/fhir+json", "json"],
            "rest": [{
                "mode": "server",
                "security": {
                    "cors": false,
                    "service": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/restful-security-service", "code": "SMART-on-FHIR"}]}],
                    "description": "OAuth2 bearer tokens with SMART scopes (see /.well-known/smart-configuration), or the web session.",
                    "extension": [{
                        "url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
                        "extension": [
                            {"url": "token", "valueUri": format!("{origin}/oauth/token")},
                            {"url": "authorize", "valueUri": format!("{origin}/oauth/authorize")},
                            {"url": "revoke", "valueUri": format!("{origin}/oauth/revoke")},
                        ],
                    }],
                },
                "resource": resources,
                "interaction": [{"code": "transaction"}, {"code": "batch"}],
                "searchParam": [
                    {"name": "_id", "type": "token"},
                    {"name": "_lastUpdated", "type": "date"},
                    {"name": "_count", "type": "number"},
                    {"name": "_offset", "type": "number"},
                    {"name": "_sort", "type": "string"},
                    {"name": "_summary", "type": "token"},
                    {"name": "_include", "type": "special"},
                ],
            }],
        }),
    )
}

fn outcome_responses() -> Value {
    let oo = json!({"description": "OperationOutcome", "content": {"application/fhir+json": {"schema": {"$ref": "#/components/schemas/OperationOutcome"}}}});
    let mut m = serde_json::Map::new();
    for code in [
        "400", "401", "403", "404", "409", "410", "412", "413", "415", "422",
    ] {
        m.insert(code.into(), oo.clone());
    }
    Value::Object(m)
}

fn op(id: &str, summary: &str, ok: &str, body: bool, params: Value) -> Value {
    let mut responses = outcome_responses();
    responses[ok] = json!({"description": "success", "content": {"application/fhir+json": {"schema": {"$ref": "#/components/schemas/Resource"}}}});
    let mut o = json!({
        "operationId": id,
        "summary": summary,
        "parameters": params,
        "responses": responses,
    });
    if body {
        let example = json!({"resourceType": "Patient", "name": [{"family": "Voorbeeld", "given": ["Anna"]}], "gender": "female", "birthDate": "1980-02-29"});
        o["requestBody"] = json!({"required": true, "content": {
            "application/fhir+json": {"schema": {"$ref": "#/components/schemas/Resource"}, "example": example},
            "application/json": {"schema": {"$ref": "#/components/schemas/Resource"}},
        }});
    }
    o
}

/// What a written resource leads to (OpenAPI links: its read, version, history, update
/// and delete).
fn written_links() -> Value {
    let at = json!({"type": "$request.path.type", "id": "$response.body#/id"});
    let mut version = at.clone();
    version["vid"] = json!("$response.body#/meta/versionId");
    json!({
        "read": {"operationId": "read", "parameters": at},
        "vread": {"operationId": "vread", "parameters": version},
        "history": {"operationId": "history", "parameters": at},
        "update": {"operationId": "update", "parameters": at},
        "delete": {"operationId": "delete", "parameters": at},
    })
}

/// `GET /fhir/openapi.json`: OpenAPI 3.0 for the FHIR API.
pub(crate) async fn openapi(State(_): State<AppState>, headers: HeaderMap) -> Response {
    let base = base_url(&headers);
    let origin = base.trim_end_matches("/fhir").to_owned();
    let types: Vec<String> = ResourceType::all()
        .map(|t| t.as_str().to_owned())
        .filter(|t| t != "AuditEvent")
        .collect();
    let type_param = json!({"name": "type", "in": "path", "required": true, "example": "Patient", "schema": {"type": "string", "enum": types}});
    let id_param = json!({"name": "id", "in": "path", "required": true, "schema": {"type": "string", "pattern": "^[A-Za-z0-9\\-\\.]{1,64}$"}});
    let vid_param = json!({"name": "vid", "in": "path", "required": true, "schema": {"type": "integer", "minimum": 1}});
    let q = |name: &str, ty: &str| json!({"name": name, "in": "query", "required": false, "schema": {"type": ty}});
    let q_schema = |name: &str, schema: Value| json!({"name": name, "in": "query", "required": false, "schema": schema});
    // `_count=0` asks a search for the total only; elsewhere pages hold 1 to 1000.
    let search_count = q_schema(
        "_count",
        json!({"type": "integer", "minimum": 0, "maximum": 1000}),
    );
    let page_count = q_schema(
        "_count",
        json!({"type": "integer", "minimum": 1, "maximum": 1000}),
    );
    let offset = q_schema("_offset", json!({"type": "integer", "minimum": 0}));
    let search_params = json!([
        type_param,
        q("_id", "string"),
        q("_lastUpdated", "string"),
        q("patient", "string"),
        q("subject", "string"),
        q("code", "string"),
        q("date", "string"),
        q("status", "string"),
        q("category", "string"),
        q("identifier", "string"),
        search_count,
        offset.clone(),
        q_schema(
            "_sort",
            json!({"type": "string", "enum": ["_lastUpdated", "-_lastUpdated", "date", "-date"]})
        ),
        q("_include", "string"),
        q_schema(
            "_summary",
            json!({"type": "string", "enum": ["count", "false"]})
        ),
    ]);
    let if_match = json!({"name": "If-Match", "in": "header", "required": false, "schema": {"type": "string"}});
    let if_none_exist = json!({"name": "If-None-Exist", "in": "header", "required": false, "schema": {"type": "string"}});
    let mut create = op(
        "create",
        "create (conditional with If-None-Exist)",
        "201",
        true,
        json!([type_param, if_none_exist]),
    );
    create["responses"]["201"]["links"] = written_links();
    // A conditional create that finds its match answers 200 with it.
    create["responses"]["200"] = create["responses"]["201"].clone();
    let mut update = op(
        "update",
        "update or create with a client id (If-Match for version checks)",
        "200",
        true,
        json!([type_param, id_param, if_match]),
    );
    update["responses"]["200"]["links"] = written_links();
    update["responses"]["201"] = update["responses"]["200"].clone();
    let mut delete = json!({"operationId": "delete", "summary": "delete", "parameters": [type_param, id_param], "responses": outcome_responses()});
    delete["responses"]["204"] = json!({"description": "deleted (or already deleted)"});
    let doc = json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Zorgkluis FHIR R4 API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "FHIR R4 REST API of the Zorgkluis care vault. Every interaction is decided by the access-decision point for the caller and audited (NEN 7513). Errors are OperationOutcomes.",
        },
        "servers": [{"url": origin}],
        "security": [{"bearer": []}, {"session": []}],
        "paths": {
            "/fhir/metadata": {"get": {"operationId": "metadata", "summary": "CapabilityStatement", "security": [], "responses": {"200": {"description": "CapabilityStatement", "content": {"application/fhir+json": {"schema": {"$ref": "#/components/schemas/Resource"}}}}}}},
            "/fhir": {"post": op("transaction", "batch or transaction Bundle", "200", true, json!([]))},
            "/fhir/{type}": {
                "get": op("search", "search", "200", false, search_params),
                "post": create,
            },
            "/fhir/{type}/_search": {"post": op("searchPost", "search with form parameters", "200", false, json!([type_param]))},
            "/fhir/{type}/{id}": {
                "get": op("read", "read", "200", false, json!([type_param, id_param])),
                "put": update,
                "delete": delete,
            },
            "/fhir/{type}/{id}/_history": {"get": op("history", "history of a resource", "200", false, json!([type_param, id_param]))},
            "/fhir/{type}/{id}/_history/{vid}": {"get": op("vread", "read a version", "200", false, json!([type_param, id_param, vid_param]))},
            "/fhir/Patient/{id}/$everything": {"get": op("everything", "the patient's record, paged", "200", false, json!([id_param, page_count.clone(), offset]))},
            "/fhir/AuditEvent": {"get": op("auditEvents", "the audit trail as AuditEvent resources", "200", false, json!([q("patient", "string"), q("agent", "string"), q("date", "string"), page_count]))},
        },
        "components": {
            "schemas": {
                "Resource": {"type": "object", "required": ["resourceType"], "properties": {"resourceType": {"type": "string"}, "id": {"type": "string"}}, "additionalProperties": true},
                "OperationOutcome": {"type": "object", "required": ["resourceType", "issue"], "properties": {"resourceType": {"type": "string", "enum": ["OperationOutcome"]}, "issue": {"type": "array", "items": {"type": "object"}}}},
            },
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": crate::auth::SESSION_COOKIE},
            },
        },
    });
    let mut r = fhir_json(StatusCode::OK, &doc);
    r.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/json"),
    );
    r
}
