//! Bundles: search sets with paging links, histories, `$everything` pages, `_include`,
//! and the audit trail as FHIR AuditEvent resources.

use serde_json::{json, Value};
use zorgkluis_fhir::{IssueCode, ResourceType};
use zorgkluis_vault::{AuditFilter, SearchPage, SearchQuery, Stored, VaultError};

use super::caller::FhirCaller;
use super::error::{issue, FhirError};
use super::fhir_json;
use crate::AppState;

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A search URL with its criteria (and `_include`s) and an optional offset.
pub(crate) fn link(
    base: &str,
    rt: &str,
    criteria: &[(String, String)],
    includes: &[String],
    offset: Option<usize>,
) -> String {
    let mut parts: Vec<String> = criteria
        .iter()
        .filter(|(k, _)| k != "_offset" && k != "_page")
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect();
    parts.extend(includes.iter().map(|i| format!("_include={}", enc(i))));
    if let Some(o) = offset {
        parts.push(format!("_offset={o}"));
    }
    if parts.is_empty() {
        format!("{base}/{rt}")
    } else {
        format!("{base}/{rt}?{}", parts.join("&"))
    }
}

fn entry(base: &str, s: &Stored, mode: &str) -> Value {
    json!({
        "fullUrl": format!("{base}/{}/{}", s.resource_type, s.id),
        "resource": s.resource,
        "search": {"mode": mode},
    })
}

/// A `searchset` Bundle with `self`, `next` and `previous` links.
#[allow(clippy::too_many_arguments)]
pub(crate) fn searchset(
    base: &str,
    rt: &str,
    criteria: &[(String, String)],
    includes: &[String],
    query: &SearchQuery,
    page: &SearchPage,
    included: &[Stored],
    self_link: &str,
) -> Value {
    let mut links = vec![json!({"relation": "self", "url": self_link})];
    if !query.summary_count {
        let with_offset = |o: usize| {
            let mut c = criteria.to_vec();
            if !c.iter().any(|(k, _)| k == "_count") {
                c.push(("_count".into(), query.count.to_string()));
            }
            link(base, rt, &c, includes, Some(o))
        };
        // Offsets come from the client: `_offset=18446744073709551615` must not overflow.
        let next = query.offset.saturating_add(query.count);
        if next < page.total {
            links.push(json!({"relation": "next", "url": with_offset(next)}));
        }
        if query.offset > 0 {
            links.push(json!({"relation": "previous", "url": with_offset(query.offset.saturating_sub(query.count))}));
        }
    }
    let mut entries: Vec<Value> = page.hits.iter().map(|s| entry(base, s, "match")).collect();
    entries.extend(included.iter().map(|s| entry(base, s, "include")));
    let mut b = json!({
        "resourceType": "Bundle",
        "type": "searchset",
        "total": page.total,
        "link": links,
    });
    if !entries.is_empty() {
        b["entry"] = Value::Array(entries);
    }
    b
}

/// The `$everything` page as a `searchset` Bundle.
pub(crate) fn everything(
    base: &str,
    id: &str,
    offset: usize,
    count: usize,
    page: &SearchPage,
) -> Value {
    let url = |o: usize| format!("{base}/Patient/{id}/$everything?_count={count}&_offset={o}");
    let mut links = vec![json!({"relation": "self", "url": url(offset)})];
    let next = offset.saturating_add(count);
    if next < page.total {
        links.push(json!({"relation": "next", "url": url(next)}));
    }
    if offset > 0 {
        links.push(json!({"relation": "previous", "url": url(offset.saturating_sub(count))}));
    }
    json!({
        "resourceType": "Bundle",
        "type": "searchset",
        "total": page.total,
        "link": links,
        "entry": page.hits.iter().map(|s| entry(base, s, "match")).collect::<Vec<_>>(),
    })
}

/// A `history` Bundle, newest first; deletions as entries without a resource.
pub(crate) fn history(base: &str, path: &str, versions: &[Stored]) -> Value {
    let entries: Vec<Value> = versions
        .iter()
        .map(|s| {
            let url = format!("{}/{}", s.resource_type, s.id);
            let (method, status) = match (&s.resource, s.version) {
                (None, _) => ("DELETE", "204"),
                (Some(_), 1) => ("POST", "201"),
                (Some(_), _) => ("PUT", "200"),
            };
            let mut e = json!({
                "fullUrl": format!("{base}/{url}"),
                "request": {"method": method, "url": if method == "POST" { s.resource_type.clone() } else { url.clone() }},
                "response": {
                    "status": status,
                    "etag": format!("W/\"{}\"", s.version),
                    "lastModified": s.last_updated,
                },
            });
            if let Some(r) = &s.resource {
                e["resource"] = r.clone();
            }
            e
        })
        .collect();
    json!({
        "resourceType": "Bundle",
        "type": "history",
        "total": versions.len(),
        "link": [{"relation": "self", "url": format!("{base}/{path}")}],
        "entry": entries,
    })
}

/// `_include=Type:param[:Target]` (or `*`): the resources the matches refer to through
/// that parameter, each read (so decided and audited) for the caller; what the caller may
/// not see is left out.
pub(crate) async fn include(
    state: &AppState,
    caller: &FhirCaller,
    rt: ResourceType,
    spec: &str,
    hits: &[Stored],
) -> Result<Vec<Stored>, FhirError> {
    let mut parts = spec.split(':');
    let (source, param, target) = (parts.next(), parts.next(), parts.next());
    let all = spec == "*";
    if !all && source != Some(rt.as_str()) {
        return Err(FhirError::BadRequest(vec![issue(
            IssueCode::NotSupported,
            "_include",
            format!(
                "_include must name the searched type, as {}:<parameter>",
                rt.as_str()
            ),
        )]));
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for hit in hits {
        let Some(resource) = &hit.resource else {
            continue;
        };
        let Ok(hit_type) = ResourceType::parse(&hit.resource_type) else {
            continue;
        };
        for r in zorgkluis_fhir::extract_index(hit_type, resource).refs {
            if !all && Some(r.param) != param {
                continue;
            }
            if target.is_some_and(|t| t != r.target_type) {
                continue;
            }
            if !seen.insert((r.target_type.clone(), r.target_id.clone())) {
                continue;
            }
            if caller.check_scope(&r.target_type, false).is_err() {
                continue;
            }
            match state
                .vault
                .read(&caller.principal, &r.target_type, &r.target_id)
                .await
            {
                Ok(s)
                    if caller
                        .check_patient(&s.resource_type, false, s.patient_id.as_deref())
                        .is_ok() =>
                {
                    out.push(s)
                }
                Ok(_) => {}
                Err(
                    VaultError::Forbidden
                    | VaultError::NotFound
                    | VaultError::Gone
                    | VaultError::Shredded,
                ) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(out)
}

fn dicom(code: &str, display: &str) -> Value {
    json!({"system": "http://dicom.nema.org/resources/ontology/DCM", "code": code, "display": display})
}

/// One audit event as a FHIR AuditEvent (IHE BALP style).
pub(crate) fn audit_event(e: &zorgkluis_audit::AuditEvent) -> Value {
    use zorgkluis_audit::EventCode as C;
    let (type_coding, subtype) = match e.code {
        C::Login | C::Logout => (dicom("110114", "User Authentication"), e.code.as_str()),
        C::EmergencyAccess => (
            dicom("110113", "Security Alert"),
            "emergency-override-started",
        ),
        C::AuditRead => (dicom("110101", "Audit Log Used"), "audit-read"),
        C::Export => (dicom("110106", "Export"), "export"),
        C::KeyDestroy | C::KeyRotate | C::Backup | C::AccountChange => {
            (dicom("110113", "Security Alert"), e.code.as_str())
        }
        C::Create => (dicom("110110", "Patient Record"), "create"),
        C::Read | C::SearchHit => (dicom("110110", "Patient Record"), "read"),
        C::Search => (dicom("110112", "Query"), "search-type"),
        C::Update => (dicom("110110", "Patient Record"), "update"),
        C::Delete => (dicom("110110", "Patient Record"), "delete"),
        C::AccessDenied => (dicom("110113", "Security Alert"), "access-denied"),
    };
    let outcome = match e.outcome {
        zorgkluis_audit::Outcome::Success => "0",
        zorgkluis_audit::Outcome::Refused => "4",
        zorgkluis_audit::Outcome::Error => "8",
    };
    let actor = &e.actor;
    let mut agents = vec![json!({
        "who": {"identifier": {"value": actor.user_id}, "display": actor.display.clone().unwrap_or_else(|| actor.user_id.clone())},
        "requestor": true,
        "role": [{"coding": [{"system": "urn:iso:std:iso:21298", "code": actor.role.code(), "display": actor.role_name}]}],
        "network": {"address": actor.access_point, "type": "2"},
        "policy": [e.authorisation_protocol],
        "purposeOfUse": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": e.purpose}]}],
    })];
    if let Some(org) = &actor.organisation {
        agents[0]["location"] = json!({"reference": format!("Organization/{org}")});
    }
    if let Some(resp) = &actor.on_behalf_of {
        agents.push(json!({
            "who": {"identifier": {"value": resp.user_id}},
            "requestor": false,
            "role": [{"coding": [{"system": "urn:iso:std:iso:21298", "code": resp.role.code(), "display": resp.role_name}]}],
        }));
    }
    let mut entities = Vec::new();
    if let Some(p) = &e.object.patient_id {
        entities.push(json!({
            "what": {"reference": format!("Patient/{p}")},
            "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "1", "display": "Person"},
            "role": {"system": "http://terminology.hl7.org/CodeSystem/object-role", "code": "1", "display": "Patient"},
        }));
    }
    if let (Some(t), Some(id)) = (&e.object.resource_type, &e.object.resource_id) {
        let reference = match e.object.version {
            Some(v) => format!("{t}/{id}/_history/{v}"),
            None => format!("{t}/{id}"),
        };
        entities.push(json!({
            "what": {"reference": reference},
            "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "2", "display": "System Object"},
        }));
    }
    for reference in &e.object.entities {
        entities.push(json!({
            "what": {"reference": reference},
            "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "2", "display": "System Object"},
        }));
    }
    if let Some(q) = &e.object.query {
        use base64::Engine;
        entities.push(json!({
            "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "2", "display": "System Object"},
            "query": base64::engine::general_purpose::STANDARD.encode(q.as_bytes()),
        }));
    }
    let mut out = json!({
        "resourceType": "AuditEvent",
        "id": e.event_id,
        "type": type_coding,
        "subtype": [{"system": "http://hl7.org/fhir/restful-interaction", "code": subtype}],
        "action": e.action.as_str(),
        "recorded": e.occurred_at,
        "outcome": outcome,
        "purposeOfEvent": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": e.purpose}]}],
        "agent": agents,
        "source": {"observer": {"display": e.source}, "type": [{"system": "http://terminology.hl7.org/CodeSystem/security-source-type", "code": "4", "display": "Application Server"}]},
        "extension": [
            {"url": "urn:zorgkluis:nen7513-controls", "valueString": format!("{}{}{}{}",
                if e.controls.authorisation {"T"} else {"F"},
                if e.controls.relationship {"T"} else {"F"},
                if e.controls.consent {"T"} else {"F"},
                if e.controls.emergency {"T"} else {"F"})},
            {"url": "urn:zorgkluis:consent-profile", "valueString": e.consent_profile},
            {"url": "urn:zorgkluis:channel", "valueString": format!("{:?}", e.channel)},
        ],
    });
    if let Some(reason) = &e.reason {
        out["outcomeDesc"] = json!(reason);
    }
    if !entities.is_empty() {
        out["entity"] = Value::Array(entities);
    }
    out
}

/// The filter of an AuditEvent search. Pure.
pub(crate) fn audit_filter(params: &[(String, String)]) -> Result<AuditFilter, FhirError> {
    let mut filter = AuditFilter {
        limit: 100,
        ..AuditFilter::default()
    };
    for (k, v) in params {
        match k.as_str() {
            "patient" | "entity" => {
                filter.patient_id = Some(v.strip_prefix("Patient/").unwrap_or(v).to_owned())
            }
            "agent" | "user" => filter.user_id = Some(v.clone()),
            "date" => {
                // Not `split_at(2)`: the value may start with a multi-byte character.
                let (prefix, value) = match (v.get(..2), v.get(2..)) {
                    (Some(p), Some(rest)) => (p, rest),
                    _ => ("", v.as_str()),
                };
                match prefix {
                    "ge" | "gt" => filter.since = Some(value.to_owned()),
                    "le" | "lt" => filter.until = Some(value.to_owned()),
                    _ => {
                        return Err(FhirError::bad(
                            "date",
                            "use date=geYYYY-MM-DD and/or date=leYYYY-MM-DD",
                        ))
                    }
                }
            }
            "_count" => {
                filter.limit = v
                    .parse()
                    .ok()
                    .filter(|n| (1..=1000).contains(n))
                    .ok_or_else(|| FhirError::bad("_count", "1 to 1000"))?
            }
            "_format" => {}
            other => {
                return Err(FhirError::BadRequest(vec![issue(
                    IssueCode::NotSupported,
                    other,
                    format!(
                        "AuditEvent search supports patient, agent, date and _count, not {other}"
                    ),
                )]))
            }
        }
    }
    Ok(filter)
}

/// `GET /fhir/AuditEvent?patient=…&agent=…&date=ge…&date=le…&_count=…`: the trail, read
/// only; the vault decides who may read which part (the patient their own, the privacy
/// officer all) and logs the reading.
pub(crate) async fn audit_events(
    state: &AppState,
    caller: &FhirCaller,
    base: &str,
    params: &[(String, String)],
) -> Result<axum::response::Response, FhirError> {
    let filter = audit_filter(params)?;
    let events = state.vault.audit_search(&caller.principal, &filter).await?;
    let entries: Vec<Value> = events
        .iter()
        .map(|e| {
            json!({
                "fullUrl": format!("{base}/AuditEvent/{}", e.event_id),
                "resource": audit_event(e),
                "search": {"mode": "match"},
            })
        })
        .collect();
    Ok(fhir_json(
        axum::http::StatusCode::OK,
        &json!({
            "resourceType": "Bundle",
            "type": "searchset",
            "total": entries.len(),
            "link": [{"relation": "self", "url": link(base, "AuditEvent", params, &[], None)}],
            "entry": entries,
        }),
    ))
}
