//! Data in and out: importing FHIR bundles and resources from other systems, and
//! exporting a patient's whole record as a FHIR `collection` Bundle. Both go through the
//! decision point and the audit trail like every other access.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::{json, Value};
use zorgkluis_audit::{EventCode, Outcome};
use zorgkluis_fhir::{
    parse_reference, rewrite_references, Issue, IssueCode, RefTarget, ResourceType,
};
use zorgkluis_policy::{decide, Action, Decision, Principal, Target};

use crate::events::Object;
use crate::load::{LoadOptions, LoadReport};
use crate::records::issue;
use crate::{Vault, VaultError};

/// What importing one file did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Resources written, skipped (already present) and warnings.
    pub load: LoadReport,
    /// Patients in the data that matched an existing patient by identifier (not duplicated).
    pub patients_matched: usize,
}

impl ImportReport {
    /// Adds another report.
    pub fn merge(&mut self, other: ImportReport) {
        self.load.merge(other.load);
        self.patients_matched += other.patients_matched;
    }
}

struct Entry {
    resource: Value,
    full_url: Option<String>,
    /// `Type/id` the resource will have here.
    target: Option<(ResourceType, String)>,
}

fn bad(location: String, message: &str) -> VaultError {
    VaultError::Invalid(vec![issue(IssueCode::Invalid, location, message)])
}

/// Splits `system|value` of an `identifier=` search.
fn identifier_query(query: &str) -> Option<(Option<String>, String)> {
    let value = query.strip_prefix("identifier=")?;
    if value.contains('&') {
        return None;
    }
    Some(match value.split_once('|') {
        Some((s, v)) if !s.is_empty() => (Some(s.to_owned()), v.to_owned()),
        Some((_, v)) => (None, v.to_owned()),
        None => (None, value.to_owned()),
    })
}

fn has_identifier(resource: &Value, system: Option<&str>, value: &str) -> bool {
    resource["identifier"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|i| {
            i["value"].as_str() == Some(value)
                && system.is_none_or(|s| i["system"].as_str() == Some(s))
        })
}

impl Vault {
    /// Imports one FHIR document: a `transaction`, `batch` or `collection` Bundle, or a
    /// single resource. Transaction and collection bundles are atomic: on any error nothing
    /// is written. Entries of a batch bundle are imported one by one; their failures are
    /// returned as issues located at `entry[i]` after the others were written.
    ///
    /// Ids: `PUT Type/id` keeps `id`; `POST` with a `urn:uuid:` full URL uses that UUID (so
    /// re-importing the same file finds what it wrote and duplicates nothing); other
    /// resources keep their id or get a new one. `urn:uuid:` and conditional
    /// (`Type?identifier=system|value`) references are resolved within the bundle, then in
    /// the vault. A Patient whose identifier matches an existing patient is not created
    /// again: the bundle's references are pointed at the existing patient.
    pub async fn import_document(
        &self,
        principal: &Principal,
        document: Value,
    ) -> Result<ImportReport, VaultError> {
        let kind = document["resourceType"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if kind != "Bundle" {
            let entries = vec![Entry {
                resource: document,
                full_url: None,
                target: None,
            }];
            return self.import_entries(principal, entries).await;
        }
        let bundle_type = document["type"].as_str().unwrap_or_default().to_owned();
        if !matches!(bundle_type.as_str(), "transaction" | "batch" | "collection") {
            return Err(bad(
                "Bundle.type".into(),
                "only transaction, batch and collection bundles can be imported",
            ));
        }
        let mut entries = Vec::new();
        for (i, e) in document["entry"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            let method = e["request"]["method"].as_str().unwrap_or("");
            if matches!(method, "DELETE" | "PATCH" | "GET" | "HEAD") {
                return Err(bad(
                    format!("Bundle.entry[{i}].request.method"),
                    "only POST and PUT entries can be imported",
                ));
            }
            let Some(resource) = e.get("resource").filter(|r| r.is_object()).cloned() else {
                return Err(bad(
                    format!("Bundle.entry[{i}].resource"),
                    "entry without a resource",
                ));
            };
            let target = match (method, e["request"]["url"].as_str()) {
                ("PUT", Some(url)) => match parse_reference(url) {
                    Ok(RefTarget::Local { rtype, id, .. }) => Some((rtype, id)),
                    _ => {
                        return Err(bad(
                            format!("Bundle.entry[{i}].request.url"),
                            "PUT needs Type/id",
                        ))
                    }
                },
                _ => None,
            };
            entries.push(Entry {
                resource,
                full_url: e["fullUrl"].as_str().map(str::to_owned),
                target,
            });
        }
        if bundle_type == "batch" {
            let mut report = ImportReport::default();
            let mut issues: Vec<Issue> = Vec::new();
            for (i, entry) in entries.into_iter().enumerate() {
                match self.import_entries(principal, vec![entry]).await {
                    Ok(r) => report.merge(r),
                    Err(VaultError::Invalid(is)) => issues.extend(is.into_iter().map(|mut x| {
                        x.location = format!("Bundle.entry[{i}]: {}", x.location);
                        x
                    })),
                    Err(e) => return Err(e),
                }
            }
            if !issues.is_empty() {
                report.load.warnings.extend(
                    issues
                        .iter()
                        .map(|i| format!("{}: {}", i.location, i.message)),
                );
            }
            return Ok(report);
        }
        self.import_entries(principal, entries).await
    }

    async fn import_entries(
        &self,
        principal: &Principal,
        mut entries: Vec<Entry>,
    ) -> Result<ImportReport, VaultError> {
        let mut report = ImportReport::default();
        // 1. Ids.
        for (i, e) in entries.iter_mut().enumerate() {
            let rt = Self::validated(&e.resource).map_err(|err| match err {
                VaultError::Invalid(is) => VaultError::Invalid(
                    is.into_iter()
                        .map(|mut x| {
                            x.location = format!("entry[{i}].{}", x.location);
                            x
                        })
                        .collect(),
                ),
                other => other,
            })?;
            if e.target.is_none() {
                let from_urn = e
                    .full_url
                    .as_deref()
                    .and_then(|u| u.strip_prefix("urn:uuid:"))
                    .filter(|u| zorgkluis_domain::ResourceId::parse(u).is_ok());
                let own = e.resource["id"]
                    .as_str()
                    .filter(|u| zorgkluis_domain::ResourceId::parse(u).is_ok());
                let id = from_urn
                    .or(own)
                    .map(str::to_owned)
                    .unwrap_or_else(|| zorgkluis_domain::ResourceId::random().to_string());
                e.target = Some((rt, id));
            }
        }
        // 2. Where references in the data point: full URLs and old `Type/id` to new ones.
        let mut map: HashMap<String, String> = HashMap::new();
        for e in &entries {
            let Some((rt, id)) = &e.target else { continue };
            let here = format!("{}/{id}", rt.as_str());
            if let Some(u) = &e.full_url {
                map.insert(u.clone(), here.clone());
            }
            if let Some(old) = e.resource["id"].as_str() {
                map.insert(format!("{}/{old}", rt.as_str()), here.clone());
            }
        }
        // 3. Patients already known by identifier are not created again.
        let mut drop_entries: HashSet<usize> = HashSet::new();
        for (i, e) in entries.iter().enumerate() {
            let Some((rt, id)) = &e.target else { continue };
            if *rt != ResourceType::PATIENT {
                continue;
            }
            for ident in e.resource["identifier"].as_array().into_iter().flatten() {
                let (Some(system), Some(value)) =
                    (ident["system"].as_str(), ident["value"].as_str())
                else {
                    continue;
                };
                let hits = self
                    .find_by_identifier(principal, Some("Patient"), Some(system), value)
                    .await?;
                if let Some(existing) = hits.iter().find(|h| h.id != *id) {
                    let to = format!("Patient/{}", existing.id);
                    for (_, v) in map
                        .iter_mut()
                        .filter(|(_, v)| **v == format!("Patient/{id}"))
                    {
                        *v = to.clone();
                    }
                    map.insert(format!("Patient/{id}"), to);
                    drop_entries.insert(i);
                    report.patients_matched += 1;
                    break;
                }
            }
        }
        // 4. Conditional references: within the data first, then in the vault.
        let mut conditional: HashMap<String, String> = HashMap::new();
        for e in &entries {
            for r in zorgkluis_fhir::references(&e.resource) {
                let (raw, path) = (r.raw, r.path);
                let RefTarget::Conditional { rtype, query } = r.target else {
                    continue;
                };
                if conditional.contains_key(&raw) {
                    continue;
                }
                let Some((system, value)) = identifier_query(&query) else {
                    return Err(bad(
                        raw_location(&path),
                        "only identifier= conditional references can be resolved",
                    ));
                };
                let in_data: Vec<String> = entries
                    .iter()
                    .filter_map(|x| x.target.as_ref().map(|t| (t, &x.resource)))
                    .filter(|((t, _), res)| {
                        *t == rtype && has_identifier(res, system.as_deref(), &value)
                    })
                    .map(|((t, id), _)| {
                        map.get(&format!("{}/{id}", t.as_str()))
                            .cloned()
                            .unwrap_or(format!("{}/{id}", t.as_str()))
                    })
                    .collect();
                let found = if in_data.len() == 1 {
                    in_data
                } else {
                    self.find_by_identifier(
                        principal,
                        Some(rtype.as_str()),
                        system.as_deref(),
                        &value,
                    )
                    .await?
                    .into_iter()
                    .map(|s| format!("{}/{}", s.resource_type, s.id))
                    .collect()
                };
                match found.as_slice() {
                    [one] => {
                        conditional.insert(raw.clone(), one.clone());
                    }
                    [] => {
                        return Err(bad(
                            raw_location(&path),
                            "conditional reference matches nothing",
                        ))
                    }
                    _ => {
                        return Err(bad(
                            raw_location(&path),
                            "conditional reference matches more than one resource",
                        ))
                    }
                }
            }
        }
        // 5. Rewrite and load.
        let mut resources = Vec::with_capacity(entries.len());
        for (i, mut e) in entries.into_iter().enumerate() {
            if drop_entries.contains(&i) {
                continue;
            }
            let Some((_, id)) = &e.target else { continue };
            if let Some(obj) = e.resource.as_object_mut() {
                obj.insert("id".into(), Value::String(id.clone()));
                // The vault stamps its own version and time.
                if let Some(meta) = obj.get_mut("meta").and_then(Value::as_object_mut) {
                    meta.remove("versionId");
                    meta.remove("lastUpdated");
                }
            }
            rewrite_references(&mut e.resource, &mut |raw| {
                if let Some(to) = map.get(raw).or_else(|| conditional.get(raw)) {
                    return Some(to.clone());
                }
                // Absolute URLs of the bundle's own entries.
                None
            });
            resources.push(e.resource);
        }
        let options = LoadOptions {
            skip_existing: true,
            allow_dangling: true,
        };
        report.load = self.load(principal, resources, options).await?;
        Ok(report)
    }

    /// Exports the whole current record of a patient as a FHIR `collection` Bundle: every
    /// resource of the compartment plus the practitioners, organisations and other shared
    /// resources they refer to. Audited as one `export` event.
    pub async fn export_patient(
        &self,
        principal: &Principal,
        patient_id: &str,
    ) -> Result<Value, VaultError> {
        let object = Object {
            patient_id: Some(patient_id),
            resource_type: Some("Patient"),
            resource_id: Some(patient_id),
            ..Default::default()
        };
        let facts = self.facts_for(principal, patient_id).await?;
        let ctx = self.context(None);
        let may_export = |resource_type: &str, category| {
            decide(
                principal,
                Action::Export,
                Target::Record {
                    facts: &facts,
                    resource_type,
                    category,
                },
                &ctx,
            )
        };
        let allowed = match may_export("Patient", zorgkluis_policy::Category::Demographics) {
            Decision::Allow(a) => a,
            Decision::Deny(b) => {
                return Err(self.deny(principal, &b, EventCode::Export, object).await)
            }
        };
        let rows = self.inner.store.compartment(patient_id).await?;
        if !rows.iter().any(|r| r.version.resource_type == "Patient") {
            return Err(VaultError::NotFound);
        }
        let mut out: BTreeMap<(String, String), Value> = BTreeMap::new();
        let mut withheld = 0;
        for r in &rows {
            // Only what the principal may see leaves with the record.
            let category = crate::records::stored_category(&r.version);
            if !may_export(&r.version.resource_type, category).allowed() {
                withheld += 1;
                continue;
            }
            if let Some(v) = self.open_row(r)? {
                out.insert((r.version.resource_type.clone(), r.version.id.clone()), v);
            }
        }
        // Shared resources referred to (transitively: a PractitionerRole's Organization).
        let mut queue: Vec<(String, String)> = Vec::new();
        let collect = |v: &Value, queue: &mut Vec<(String, String)>| {
            for r in zorgkluis_fhir::references(v) {
                if let RefTarget::Local { rtype, id, .. } = r.target {
                    queue.push((rtype.as_str().to_owned(), id));
                }
            }
        };
        for v in out.values() {
            collect(v, &mut queue);
        }
        while let Some(key) = queue.pop() {
            if out.contains_key(&key) {
                continue;
            }
            let Some(row) = self.inner.store.read_current(&key.0, &key.1).await? else {
                continue;
            };
            // Only shared resources: another patient's data never leaves with this record.
            if row.version.patient_id.is_some() || row.version.deleted {
                continue;
            }
            if let Some(v) = self.open_row(&row)? {
                collect(&v, &mut queue);
                out.insert(key, v);
            }
        }
        let n = out.len();
        let ev = self.event(
            principal,
            allowed.basis(),
            EventCode::Export,
            Outcome::Success,
            object,
            Some(format!(
                "record exported as a FHIR collection bundle of {n} resources \
                 ({withheld} withheld by the access policy)"
            )),
        );
        self.inner.journal.append(vec![ev]).await?;
        let entries: Vec<Value> = out
            .into_values()
            .map(|r| json!({ "resource": r }))
            .collect();
        Ok(json!({
            "resourceType": "Bundle",
            "type": "collection",
            "timestamp": zorgkluis_domain::clock::rfc3339(self.inner.clock.now()),
            "total": n,
            "entry": entries,
        }))
    }
}

fn raw_location(path: &str) -> String {
    format!("reference at {path}")
}
