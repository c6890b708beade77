//! Reading and writing versioned resources, and verifying the audit trail.

use std::collections::BTreeMap;

use serde_json::Value;
use zorgkluis_audit::{EventCode, Outcome, Verifier, VerifyFailure, VerifyReport};
use zorgkluis_crypto::DataKey;
use zorgkluis_domain::{clock::rfc3339, ResourceId};
use zorgkluis_fhir::{Issue, IssueCode, ResourceType, Severity};
use zorgkluis_policy::{decide, Action, Allowed, Category, Decision, Principal, Target};
use zorgkluis_store::{IndexRows, JobError, ReadRow, VersionRow, WriteOp};

use crate::events::{audited_job, Object};
use crate::{Vault, VaultError};

/// A resource version as the vault returns it: decided, audited and opened.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    /// FHIR type.
    pub resource_type: String,
    /// Logical id.
    pub id: String,
    /// Version.
    pub version: i64,
    /// `meta.lastUpdated`.
    pub last_updated: String,
    /// Patient compartment.
    pub patient_id: Option<String>,
    /// The resource; `None` for a deletion (tombstone) in a history.
    pub resource: Option<Value>,
}

/// Attempts at an update that lost a race with another writer before giving up.
const MAX_RETRIES: usize = 5;

pub(crate) fn issue(
    code: IssueCode,
    location: impl Into<String>,
    message: impl Into<String>,
) -> Issue {
    Issue {
        severity: Severity::Error,
        code,
        location: location.into(),
        message: message.into(),
    }
}

/// Associated data bound into every sealed body: moving a body to another row, version
/// or patient makes it fail to open.
pub(crate) fn body_aad(resource_type: &str, id: &str, version: i64, key_id: &str) -> Vec<u8> {
    format!("{resource_type}/{id}/{version}/{key_id}").into_bytes()
}

/// A version ready to be stored.
pub(crate) struct Sealed {
    pub row: VersionRow,
    pub index: IndexRows,
}

impl Vault {
    /// Stamps `meta`, seals the body and computes its search index.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn seal_version(
        &self,
        rt: ResourceType,
        id: &str,
        version: i64,
        patient_id: Option<&str>,
        key_id: &str,
        key: &DataKey,
        resource: &mut Value,
        now: &str,
    ) -> Sealed {
        if let Some(obj) = resource.as_object_mut() {
            obj.insert("id".into(), Value::String(id.to_owned()));
            let meta = obj
                .entry("meta")
                .or_insert_with(|| Value::Object(Default::default()));
            if !meta.is_object() {
                *meta = Value::Object(Default::default());
            }
            if let Some(meta) = meta.as_object_mut() {
                meta.insert("versionId".into(), Value::String(version.to_string()));
                meta.insert("lastUpdated".into(), Value::String(now.to_owned()));
            }
        }
        let category = Category::of(rt.as_str(), resource);
        let bytes = serde_json::to_vec(resource).unwrap_or_default();
        let body = key.seal(&bytes, &body_aad(rt.as_str(), id, version, key_id));
        let extracted = zorgkluis_fhir::extract_index(rt, resource);
        let index_key = &self.inner.index_key;
        let index = IndexRows {
            tokens: extracted
                .tokens
                .into_iter()
                .map(|t| (t.param.to_owned(), t.system, t.code))
                .collect(),
            dates: extracted
                .dates
                .into_iter()
                .map(|d| (d.param.to_owned(), d.start, d.end))
                .collect(),
            refs: extracted
                .refs
                .into_iter()
                .map(|r| (r.param.to_owned(), r.target_type, r.target_id))
                .collect(),
            blind: extracted
                .blind
                .into_iter()
                .map(|b| {
                    (
                        b.param.to_owned(),
                        index_key.blind(b.param, &b.value).to_vec(),
                    )
                })
                .collect(),
        };
        Sealed {
            row: VersionRow {
                resource_type: rt.as_str().to_owned(),
                id: id.to_owned(),
                version,
                patient_id: patient_id.map(str::to_owned),
                key_id: key_id.to_owned(),
                last_updated: now.to_owned(),
                deleted: false,
                body: Some(body),
                category: Some(category.code().to_owned()),
            },
            index,
        }
    }

    /// Opens a stored version; `Shredded` when its key was destroyed.
    pub(crate) fn open_row(&self, row: &ReadRow) -> Result<Option<Value>, VaultError> {
        let v = &row.version;
        let Some(body) = &v.body else {
            return Ok(None);
        };
        let wrapped = row
            .key
            .as_ref()
            .and_then(|k| k.wrapped.as_ref())
            .ok_or(VaultError::Shredded)?;
        let key = self
            .inner
            .keys
            .unwrap(&v.key_id, wrapped)
            .map_err(|e| match e {
                zorgkluis_crypto::CryptoError::Shredded => VaultError::Shredded,
                other => VaultError::Crypto(other),
            })?;
        let plain = key.open(
            body,
            &body_aad(&v.resource_type, &v.id, v.version, &v.key_id),
        )?;
        serde_json::from_slice(&plain).map(Some).map_err(|_| {
            VaultError::Corrupt(format!("{}/{} body is not JSON", v.resource_type, v.id))
        })
    }

    async fn decide_or_deny(
        &self,
        principal: &Principal,
        action: Action,
        rt: &str,
        patient_id: Option<&str>,
        category: Category,
    ) -> Result<Result<Allowed, zorgkluis_policy::Basis>, VaultError> {
        Ok(
            match self
                .decide_resource(principal, action, rt, patient_id, category)
                .await?
            {
                Decision::Allow(a) => Ok(a),
                Decision::Deny(b) => Err(b),
            },
        )
    }

    /// Parses and validates a resource body: every problem as one issue.
    pub(crate) fn validated(resource: &Value) -> Result<ResourceType, VaultError> {
        zorgkluis_fhir::validate(resource).map_err(VaultError::Invalid)
    }

    /// The patient compartment of a resource, checked against the store.
    pub(crate) fn compartment_of(
        rt: ResourceType,
        resource: &Value,
    ) -> Result<Option<String>, VaultError> {
        zorgkluis_fhir::compartment_patient(rt, resource).map_err(|e| {
            VaultError::Invalid(vec![issue(IssueCode::Invalid, rt.as_str(), e.to_string())])
        })
    }

    /// Checks that every relative reference points to a resource that exists (and is not
    /// deleted), except those in `also_present` (written in the same job).
    pub(crate) async fn check_references(
        &self,
        resource: &Value,
        also_present: &(dyn Fn(&str, &str) -> bool + Sync),
    ) -> Result<Vec<Issue>, VaultError> {
        let mut issues = Vec::new();
        let rt = resource
            .get("resourceType")
            .and_then(Value::as_str)
            .unwrap_or("Resource");
        for r in zorgkluis_fhir::references(resource) {
            if let zorgkluis_fhir::RefTarget::Local { rtype, id, .. } = &r.target {
                if also_present(rtype.as_str(), id) {
                    continue;
                }
                let exists = self
                    .inner
                    .store
                    .current_version(rtype.as_str(), id)
                    .await?
                    .is_some_and(|c| !c.deleted);
                if !exists {
                    issues.push(issue(
                        IssueCode::NotFound,
                        format!("{rt}.{}", r.path),
                        format!("reference to {} that does not exist", rtype.as_str()),
                    ));
                }
            }
        }
        Ok(issues)
    }

    /// FHIR create: a new resource with a server-assigned id.
    pub async fn create(
        &self,
        principal: &Principal,
        mut resource: Value,
    ) -> Result<Stored, VaultError> {
        let id = ResourceId::random();
        if let Some(obj) = resource.as_object_mut() {
            obj.insert("id".into(), Value::String(id.to_string()));
        }
        self.write(principal, resource, id.as_str(), None, true)
            .await
    }

    /// FHIR update: a new version of `Type/id` (created if absent). With `if_match`, only
    /// when the current version is that one.
    pub async fn update(
        &self,
        principal: &Principal,
        resource_type: &str,
        id: &str,
        resource: Value,
        if_match: Option<i64>,
    ) -> Result<Stored, VaultError> {
        let body_type = resource.get("resourceType").and_then(Value::as_str);
        let body_id = resource.get("id").and_then(Value::as_str);
        if body_type != Some(resource_type) || body_id.is_some_and(|b| b != id) {
            return Err(VaultError::Invalid(vec![issue(
                IssueCode::Invalid,
                resource_type,
                "resourceType and id in the body must match the URL",
            )]));
        }
        self.write(principal, resource, id, if_match, false).await
    }

    async fn write(
        &self,
        principal: &Principal,
        resource: Value,
        id: &str,
        if_match: Option<i64>,
        must_be_new: bool,
    ) -> Result<Stored, VaultError> {
        let rt = Self::validated(&resource)?;
        let patient = Self::compartment_of(rt, &resource)?;
        let is_patient = rt == ResourceType::PATIENT;
        let mut attempt = 0;
        loop {
            attempt += 1;
            // One read gives the current version and the category it was stored with.
            let current_row = self.inner.store.read_current(rt.as_str(), id).await?;
            let current = current_row.as_ref().map(current_of);
            let action = if current.is_some() {
                Action::Update
            } else {
                Action::Create
            };
            let code = if current.is_some() {
                EventCode::Update
            } else {
                EventCode::Create
            };
            let object = Object {
                patient_id: patient.as_deref(),
                resource_type: Some(rt.as_str()),
                resource_id: Some(id),
                ..Default::default()
            };
            // Both what the resource is and what it becomes must be within the rights: a
            // change cannot move data into (or out of) a category the principal may write.
            let mut categories = vec![Category::of(rt.as_str(), &resource)];
            categories.extend(current_row.as_ref().map(|r| stored_category(&r.version)));
            let mut allowed = None;
            for category in categories {
                match self
                    .decide_or_deny(principal, action, rt.as_str(), patient.as_deref(), category)
                    .await?
                {
                    Ok(a) => {
                        allowed.get_or_insert(a);
                    }
                    Err(basis) => return Err(self.deny(principal, &basis, code, object).await),
                }
            }
            let Some(allowed) = allowed else {
                return Err(VaultError::Forbidden);
            };
            // PC-2: a health-log link's state is part of the promise, not just its category.
            if rt.as_str() == "Consent" {
                let before = match current_row.as_ref() {
                    Some(row) => self.open_row(row)?,
                    None => None,
                };
                if let Err(basis) = zorgkluis_policy::records::check_link_change(
                    principal,
                    before.as_ref(),
                    &resource,
                ) {
                    return Err(self.deny(principal, &basis, code, object).await);
                }
            }
            if must_be_new && current.is_some() {
                return Err(VaultError::Conflict {
                    expected: None,
                    current: current.map(|c| c.version),
                });
            }
            if let (Some(expected), found) = (if_match, current.as_ref().map(|c| c.version)) {
                if found != Some(expected) {
                    return Err(VaultError::Conflict {
                        expected: Some(expected),
                        current: found,
                    });
                }
            }
            if let Some(c) = &current {
                if c.patient_id != patient {
                    return Err(VaultError::Invalid(vec![issue(
                        IssueCode::Processing,
                        rt.as_str(),
                        "a resource cannot move to another patient's record",
                    )]));
                }
            }
            let issues = self.check_references(&resource, &|_, _| false).await?;
            if !issues.is_empty() {
                return Err(VaultError::Invalid(issues));
            }
            let (key_id, key, ensure) =
                self.compartment_key(patient.as_deref(), is_patient).await?;
            let version = current.as_ref().map_or(1, |c| c.version + 1);
            let now = rfc3339(self.inner.clock.now());
            let mut body = resource.clone();
            let sealed = self.seal_version(
                rt,
                id,
                version,
                patient.as_deref(),
                &key_id,
                &key,
                &mut body,
                &now,
            );
            let ev = self.event(
                principal,
                allowed.basis(),
                code,
                Outcome::Success,
                Object {
                    version: Some(version),
                    ..object.clone()
                },
                None,
            );
            let mut ops: Vec<WriteOp> = ensure.into_iter().collect();
            ops.push(WriteOp::PutVersion {
                row: sealed.row,
                expected_current: current.as_ref().map(|c| c.version),
                index: sealed.index,
            });
            let job = audited_job(ops, vec![ev]);
            match self.inner.writer.submit(job).await? {
                Ok(()) => {
                    if let Some(p) = patient
                        .as_deref()
                        .filter(|_| crate::access::changes_facts(rt.as_str()))
                    {
                        self.inner.access.forget(p);
                    }
                    return Ok(Stored {
                        resource_type: rt.as_str().to_owned(),
                        id: id.to_owned(),
                        version,
                        last_updated: now,
                        patient_id: patient,
                        resource: Some(body),
                    });
                }
                Err(JobError::Conflict {
                    expected, found, ..
                }) if if_match.is_some() || attempt >= MAX_RETRIES => {
                    return Err(VaultError::Conflict {
                        expected,
                        current: found,
                    })
                }
                Err(JobError::Conflict { .. } | JobError::KeyRace(_)) if attempt < MAX_RETRIES => {
                    continue
                }
                Err(JobError::KeyUnavailable(_)) => return Err(VaultError::Shredded),
                Err(e) => return Err(VaultError::Corrupt(e.to_string())),
            }
        }
    }

    /// FHIR delete: writes a tombstone version. Deleting a deleted resource is a no-op.
    /// Returns the tombstone's version.
    pub async fn delete(
        &self,
        principal: &Principal,
        resource_type: &str,
        id: &str,
    ) -> Result<Option<i64>, VaultError> {
        let rt = ResourceType::parse(resource_type).map_err(|_| VaultError::NotFound)?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let current_row = self.inner.store.read_current(rt.as_str(), id).await?;
            let current = current_row.as_ref().map(current_of);
            let patient = current.as_ref().and_then(|c| c.patient_id.clone());
            let category = current_row
                .as_ref()
                .map_or(Category::of_type(rt.as_str()), |r| {
                    stored_category(&r.version)
                });
            let object = Object {
                patient_id: patient.as_deref(),
                resource_type: Some(rt.as_str()),
                resource_id: Some(id),
                ..Default::default()
            };
            let allowed = match self
                .decide_or_deny(
                    principal,
                    Action::Delete,
                    rt.as_str(),
                    decision_patient(rt.as_str(), patient.as_deref()),
                    category,
                )
                .await?
            {
                Ok(a) => a,
                Err(basis) => {
                    return Err(self
                        .deny(principal, &basis, EventCode::Delete, object)
                        .await)
                }
            };
            let Some(current) = current else {
                return Err(VaultError::NotFound);
            };
            if current.deleted {
                return Ok(None);
            }
            let version = current.version + 1;
            let now = rfc3339(self.inner.clock.now());
            let key_id = crate::keys::key_id_for(patient.as_deref());
            let ev = self.event(
                principal,
                allowed.basis(),
                EventCode::Delete,
                Outcome::Success,
                Object {
                    version: Some(version),
                    ..object.clone()
                },
                None,
            );
            let job = audited_job(
                vec![WriteOp::PutVersion {
                    row: VersionRow {
                        resource_type: rt.as_str().to_owned(),
                        id: id.to_owned(),
                        version,
                        patient_id: patient.clone(),
                        key_id,
                        last_updated: now,
                        deleted: true,
                        body: None,
                        category: Some(category.code().to_owned()),
                    },
                    expected_current: Some(current.version),
                    index: IndexRows::default(),
                }],
                vec![ev],
            );
            match self.inner.writer.submit(job).await? {
                Ok(()) => {
                    if let Some(p) = patient
                        .as_deref()
                        .filter(|_| crate::access::changes_facts(rt.as_str()))
                    {
                        self.inner.access.forget(p);
                    }
                    return Ok(Some(version));
                }
                Err(JobError::Conflict { .. }) if attempt < MAX_RETRIES => continue,
                Err(JobError::KeyUnavailable(_)) => return Err(VaultError::Shredded),
                Err(e) => return Err(VaultError::Corrupt(e.to_string())),
            }
        }
    }

    /// Decides, opens and audits one stored row (read or search hit).
    async fn open_audited(
        &self,
        principal: &Principal,
        row: Option<ReadRow>,
        rt: &str,
        id: &str,
        code: EventCode,
        action: Action,
    ) -> Result<Stored, VaultError> {
        let patient = row.as_ref().and_then(|r| r.version.patient_id.clone());
        let object = Object {
            patient_id: patient.as_deref(),
            resource_type: Some(rt),
            resource_id: Some(id),
            version: row.as_ref().map(|r| r.version.version),
            ..Default::default()
        };
        let category = row
            .as_ref()
            .map_or(Category::of_type(rt), |r| stored_category(&r.version));
        let allowed = match self
            .decide_or_deny(
                principal,
                action,
                rt,
                decision_patient(rt, patient.as_deref()),
                category,
            )
            .await?
        {
            Ok(a) => a,
            Err(basis) => return Err(self.deny(principal, &basis, code, object).await),
        };
        let outcome = match &row {
            None => Err(VaultError::NotFound),
            Some(r) if r.version.deleted => Err(VaultError::Gone),
            Some(r) => self.open_row(r).and_then(|v| v.ok_or(VaultError::Gone)),
        };
        let (event_outcome, reason) = match &outcome {
            Ok(_) => (Outcome::Success, None),
            Err(e) => (Outcome::Error, Some(e.to_string())),
        };
        // No data leaves before its audit event is durable.
        if self.audits_reads() {
            let ev = self.event(
                principal,
                allowed.basis(),
                code,
                event_outcome,
                object,
                reason,
            );
            self.inner.journal.append(vec![ev]).await?;
        }
        let resource = outcome?;
        let Some(row) = row else {
            return Err(VaultError::NotFound);
        };
        Ok(Stored {
            resource_type: row.version.resource_type,
            id: row.version.id,
            version: row.version.version,
            last_updated: row.version.last_updated,
            patient_id: row.version.patient_id,
            resource: Some(resource),
        })
    }

    /// FHIR read: the current version.
    pub async fn read(
        &self,
        principal: &Principal,
        resource_type: &str,
        id: &str,
    ) -> Result<Stored, VaultError> {
        let row = self.inner.store.read_current(resource_type, id).await?;
        self.open_audited(
            principal,
            row,
            resource_type,
            id,
            EventCode::Read,
            Action::Read,
        )
        .await
    }

    /// FHIR vread: one version.
    pub async fn vread(
        &self,
        principal: &Principal,
        resource_type: &str,
        id: &str,
        version: i64,
    ) -> Result<Stored, VaultError> {
        let row = self
            .inner
            .store
            .read_version(resource_type, id, version)
            .await?;
        self.open_audited(
            principal,
            row,
            resource_type,
            id,
            EventCode::Read,
            Action::Read,
        )
        .await
    }

    /// FHIR history of one resource, newest first; deletions appear with `resource: None`.
    pub async fn history(
        &self,
        principal: &Principal,
        resource_type: &str,
        id: &str,
    ) -> Result<Vec<Stored>, VaultError> {
        let rows = self.inner.store.history(resource_type, id).await?;
        let patient = rows.first().and_then(|r| r.version.patient_id.clone());
        let object = Object {
            patient_id: patient.as_deref(),
            resource_type: Some(resource_type),
            resource_id: Some(id),
            query: Some("_history".into()),
            ..Default::default()
        };
        // Every version is decided: a resource that changed category is shown only when
        // all its versions may be seen.
        let mut categories: Vec<Category> =
            rows.iter().map(|r| stored_category(&r.version)).collect();
        categories.dedup();
        if categories.is_empty() {
            categories.push(Category::of_type(resource_type));
        }
        let mut allowed = None;
        for category in categories {
            match self
                .decide_or_deny(
                    principal,
                    Action::Read,
                    resource_type,
                    decision_patient(resource_type, patient.as_deref()),
                    category,
                )
                .await?
            {
                Ok(a) => {
                    allowed.get_or_insert(a);
                }
                Err(basis) => {
                    return Err(self.deny(principal, &basis, EventCode::Read, object).await)
                }
            }
        }
        let Some(allowed) = allowed else {
            return Err(VaultError::Forbidden);
        };
        let opened: Result<Vec<Stored>, VaultError> = rows
            .iter()
            .map(|r| {
                Ok(Stored {
                    resource_type: r.version.resource_type.clone(),
                    id: r.version.id.clone(),
                    version: r.version.version,
                    last_updated: r.version.last_updated.clone(),
                    patient_id: r.version.patient_id.clone(),
                    resource: self.open_row(r)?,
                })
            })
            .collect();
        let (outcome, reason) = match (&opened, rows.is_empty()) {
            (Ok(_), false) => (Outcome::Success, None),
            (Ok(_), true) => (Outcome::Error, Some(VaultError::NotFound.to_string())),
            (Err(e), _) => (Outcome::Error, Some(e.to_string())),
        };
        let ev = self.event(
            principal,
            allowed.basis(),
            EventCode::Read,
            outcome,
            object,
            reason,
        );
        self.inner.journal.append(vec![ev]).await?;
        let opened = opened?;
        if opened.is_empty() {
            return Err(VaultError::NotFound);
        }
        Ok(opened)
    }

    /// Finds resources by identifier through the blind index (`system|value`, or a bare
    /// value in any system). Each hit is decided and audited; hits the principal may not
    /// see are left out (and their refusal logged).
    pub async fn find_by_identifier(
        &self,
        principal: &Principal,
        resource_type: Option<&str>,
        system: Option<&str>,
        value: &str,
    ) -> Result<Vec<Stored>, VaultError> {
        let needle = match system {
            Some(s) => format!("{s}|{value}"),
            None => value.to_owned(),
        };
        let hash = self.inner.index_key.blind("identifier", &needle);
        // The query is logged without the identifier value (it may be a BSN).
        let query = format!("identifier={}|***", system.unwrap_or(""));
        let search_object = Object {
            resource_type,
            query: Some(query),
            ..Default::default()
        };
        let search_allowed = match decide(
            principal,
            Action::Search,
            Target::Search { resource_type },
            &self.context(None),
        ) {
            Decision::Allow(a) => a,
            Decision::Deny(basis) => {
                return Err(self
                    .deny(principal, &basis, EventCode::Search, search_object)
                    .await)
            }
        };
        let hits = self
            .inner
            .store
            .find_blind("identifier", &hash, resource_type)
            .await?;
        let search_event = self.event(
            principal,
            search_allowed.basis(),
            EventCode::Search,
            Outcome::Success,
            search_object,
            Some(format!("{} hit(s)", hits.len())),
        );
        self.inner.journal.append(vec![search_event]).await?;
        let mut out = Vec::new();
        for (rt, id) in hits {
            let row = self.inner.store.read_current(&rt, &id).await?;
            match self
                .open_audited(principal, row, &rt, &id, EventCode::SearchHit, Action::Read)
                .await
            {
                Ok(s) => out.push(s),
                Err(
                    VaultError::Forbidden
                    | VaultError::Gone
                    | VaultError::NotFound
                    | VaultError::Shredded,
                ) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// Counts of current resources per type (no patient data).
    pub async fn resource_counts(&self) -> Result<Vec<(String, i64)>, VaultError> {
        Ok(self.inner.store.resource_counts().await?)
    }

    /// `audit verify`: checks the whole chain (hashes, links, indexed columns, signed
    /// checkpoints, head) and names the first bad event. The verification itself is
    /// audited.
    pub async fn verify_audit(
        &self,
        principal: &Principal,
        progress: &(dyn Fn(i64, i64) + Sync),
    ) -> Result<Result<VerifyReport, VerifyFailure>, VaultError> {
        let allowed = match decide(
            principal,
            Action::ReadAudit,
            Target::System,
            &self.context(None),
        ) {
            Decision::Allow(a) => a,
            Decision::Deny(basis) => {
                return Err(self
                    .deny(principal, &basis, EventCode::AuditRead, Object::default())
                    .await)
            }
        };
        self.flush_audit().await?;
        let store = &self.inner.store;
        let head = store.audit_head().await?;
        let checkpoints: BTreeMap<i64, _> = store
            .audit_checkpoints()
            .await?
            .into_iter()
            .filter(|c| c.seq <= head.seq)
            .map(|c| (c.seq, c))
            .collect();
        let verifier_key = self.signer().verifier();
        let mut verifier = Verifier::new(&checkpoints, &verifier_key);
        let mut after = 0;
        let result = loop {
            let page = store.audit_events(after, 10_000).await?;
            if page.is_empty() {
                break verifier.finish(head);
            }
            let mut failed = None;
            for e in page.iter().take_while(|e| e.seq <= head.seq) {
                if let Err(f) = verifier.feed(e) {
                    failed = Some(f);
                    break;
                }
                after = e.seq;
            }
            if let Some(f) = failed {
                break Err(f);
            }
            progress(after, head.seq);
            if page.last().is_some_and(|e| e.seq >= head.seq) {
                break verifier.finish(head);
            }
        };
        let (outcome, reason) = match &result {
            Ok(r) => (
                Outcome::Success,
                format!("chain intact: {} events", r.events),
            ),
            Err(f) => (Outcome::Error, f.to_string()),
        };
        let ev = self.event(
            principal,
            allowed.basis(),
            EventCode::AuditRead,
            outcome,
            Object::default(),
            Some(reason),
        );
        self.inner.journal.append(vec![ev]).await?;
        Ok(result)
    }
}

/// Which audit events to read (each filter optional).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// About this patient.
    pub patient_id: Option<String>,
    /// By this user (account id, or `client:<id>`, or `system:<tool>`).
    pub user_id: Option<String>,
    /// From (RFC 3339 or a date).
    pub since: Option<String>,
    /// Until (RFC 3339 or a date, inclusive).
    pub until: Option<String>,
    /// At most this many, newest first.
    pub limit: i64,
}

impl Vault {
    /// Reads the audit trail: about one patient (the patient themself, their
    /// representative, the privacy officer) or across patients (the privacy officer only).
    /// Reading the trail is itself audited.
    pub async fn audit_search(
        &self,
        principal: &Principal,
        filter: &AuditFilter,
    ) -> Result<Vec<zorgkluis_audit::AuditEvent>, VaultError> {
        let query = format!(
            "audit-trail user={} since={} until={}",
            filter.user_id.as_deref().unwrap_or("*"),
            filter.since.as_deref().unwrap_or("*"),
            filter.until.as_deref().unwrap_or("*")
        );
        let object = Object {
            patient_id: filter.patient_id.as_deref(),
            query: Some(query),
            ..Default::default()
        };
        let decision = match filter.patient_id.as_deref() {
            Some(p) => {
                let facts = self.patient_facts(p).await?;
                decide(
                    principal,
                    Action::ReadAudit,
                    Target::Record {
                        facts: &facts,
                        resource_type: "AuditEvent",
                        category: Category::Administrative,
                    },
                    &self.context(None),
                )
            }
            None => decide(
                principal,
                Action::ReadAudit,
                Target::System,
                &self.context(None),
            ),
        };
        let allowed = match decision {
            Decision::Allow(a) => a,
            Decision::Deny(basis) => {
                return Err(self
                    .deny(principal, &basis, EventCode::AuditRead, object)
                    .await)
            }
        };
        self.flush_audit().await?;
        let rows = self
            .inner
            .store
            .audit_search(
                filter.patient_id.as_deref(),
                filter.user_id.as_deref(),
                filter.since.as_deref(),
                filter.until.as_deref(),
                filter.limit.clamp(1, 1_000_000),
            )
            .await?;
        let events = rows
            .iter()
            .map(|r| {
                serde_json::from_str(&r.payload).map_err(|_| {
                    VaultError::Corrupt(format!("audit event #{} is not readable", r.seq))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let ev = self.event(
            principal,
            allowed.basis(),
            EventCode::AuditRead,
            Outcome::Success,
            object,
            Some(format!("{} event(s) read", events.len())),
        );
        self.inner.journal.append(vec![ev]).await?;
        Ok(events)
    }

    /// The audit events about one patient, newest first (the patient's own overview, and
    /// the privacy officer's). Reading the trail is itself audited.
    pub async fn audit_for_patient(
        &self,
        principal: &Principal,
        patient_id: &str,
        limit: i64,
    ) -> Result<Vec<zorgkluis_audit::AuditEvent>, VaultError> {
        self.audit_search(
            principal,
            &AuditFilter {
                patient_id: Some(patient_id.to_owned()),
                limit,
                ..AuditFilter::default()
            },
        )
        .await
    }
}

/// One patient in the answer to "which patients did this user access in a period".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatientAccess {
    /// The patient (pseudonymous patient id).
    pub patient_id: String,
    /// The user's audit events about this patient in the period (reads, search hits,
    /// writes, refusals: every code and outcome).
    pub events: i64,
    /// When the first of them occurred (RFC 3339).
    pub first: String,
    /// When the last of them occurred (RFC 3339).
    pub last: String,
}

/// The source system every synthetic audit event carries (`zorgkluis bench audit`), so
/// that such events are recognisable in the signed trail for good.
pub const SYNTHETIC_AUDIT_SOURCE: &str = "zorgkluis-bench-audit";

/// Meta entry that marks a benchmark vault: the only kind that accepts synthetic events.
const BENCHMARK_VAULT_META: &str = "benchmark_vault";

impl Vault {
    /// "Which patients did this user access between `since` and `until`" (the privacy
    /// officer's review, NEN 7513): every patient the user's audit events are about in the
    /// period (inclusive; a bare date as `until` covers the whole day), with the number of
    /// events and the first and last, ordered by patient id. Decided as reading the audit
    /// trail across patients (the privacy officer, or an operator reviewing the trail);
    /// the query is itself audited, refusals too.
    pub async fn patients_accessed_by(
        &self,
        principal: &Principal,
        user_id: &str,
        since: &str,
        until: &str,
    ) -> Result<Vec<PatientAccess>, VaultError> {
        let object = Object {
            query: Some(format!(
                "patients-accessed user={user_id} since={since} until={until}"
            )),
            ..Default::default()
        };
        let allowed = match decide(
            principal,
            Action::ReadAudit,
            Target::System,
            &self.context(None),
        ) {
            Decision::Allow(a) => a,
            Decision::Deny(basis) => {
                return Err(self
                    .deny(principal, &basis, EventCode::AuditRead, object)
                    .await)
            }
        };
        // Every acknowledged event counts, also those still in the journal.
        self.flush_audit().await?;
        let rows = self
            .inner
            .store
            .audit_patients_of_user(user_id, since, until)
            .await?;
        let events: i64 = rows.iter().map(|r| r.events).sum();
        let ev = self.event(
            principal,
            allowed.basis(),
            EventCode::AuditRead,
            Outcome::Success,
            object,
            Some(format!("{} patient(s), {events} event(s)", rows.len())),
        );
        self.inner.journal.append(vec![ev]).await?;
        Ok(rows
            .into_iter()
            .map(|r| PatientAccess {
                patient_id: r.patient_id,
                events: r.events,
                first: r.first,
                last: r.last,
            })
            .collect())
    }

    /// `zorgkluis bench audit` only: chains synthetic `events` into the audit trail in one
    /// transaction through the writer's fold (the path journaled read events take: same
    /// chaining, same inserts, signed checkpoints). Every event's `source` is set to
    /// [`SYNTHETIC_AUDIT_SOURCE`] before it is hashed.
    ///
    /// Refused (`Forbidden`) unless the caller is an operator command and the vault is a
    /// benchmark vault: one that held no records and no audit events when it was first
    /// filled this way (it is then marked as such for good). A real trail never receives
    /// synthetic events.
    pub async fn append_synthetic_audit_events(
        &self,
        principal: &Principal,
        events: Vec<zorgkluis_audit::AuditEvent>,
    ) -> Result<(), VaultError> {
        if !matches!(principal, Principal::Operator { .. }) || !self.benchmark_vault().await? {
            return Err(VaultError::Forbidden);
        }
        let journaled = events
            .into_iter()
            .map(|mut event| {
                SYNTHETIC_AUDIT_SOURCE.clone_into(&mut event.source);
                let payload = event.canonical();
                zorgkluis_audit::JournaledEvent {
                    keys: event.into_keys(),
                    payload,
                    // Not from the journal: nothing to release after the fold.
                    position: zorgkluis_audit::JournalPosition {
                        segment: 0,
                        record: 0,
                    },
                }
            })
            .collect();
        self.inner.writer.fold_now(journaled).await
    }

    /// Whether this is a benchmark vault; an empty vault (no records, no audit events)
    /// becomes one here.
    async fn benchmark_vault(&self) -> Result<bool, VaultError> {
        let store = &self.inner.store;
        if store.meta(BENCHMARK_VAULT_META).await?.is_some() {
            return Ok(true);
        }
        if store.audit_head().await?.seq != 0 || !store.resource_counts().await?.is_empty() {
            return Ok(false);
        }
        let job = zorgkluis_store::Job {
            ops: vec![WriteOp::SetMeta {
                name: BENCHMARK_VAULT_META.into(),
                value: format!("synthetic audit events ({SYNTHETIC_AUDIT_SOURCE})"),
            }],
            ..Default::default()
        };
        self.inner
            .writer
            .submit(job)
            .await?
            .map_err(|e| VaultError::Corrupt(e.to_string()))?;
        Ok(true)
    }
}

/// The category a version was stored with (by type for versions from before categories
/// were recorded).
pub(crate) fn stored_category(v: &zorgkluis_store::VersionRow) -> Category {
    v.category
        .as_deref()
        .and_then(Category::parse)
        .unwrap_or_else(|| Category::of_type(&v.resource_type))
}

/// The patient a decision is made for. A resource that does not exist has no patient; if
/// its type is patient data, it is decided as data of an unknown patient (so the answer
/// is a refusal, never a "not found" that would tell whether it exists).
pub(crate) fn decision_patient<'a>(
    resource_type: &str,
    patient: Option<&'a str>,
) -> Option<&'a str> {
    match patient {
        Some(p) => Some(p),
        None if Category::of_type(resource_type) != Category::Directory => Some(""),
        None => None,
    }
}

/// The current-version facts of a stored row.
fn current_of(row: &ReadRow) -> zorgkluis_store::CurrentRow {
    zorgkluis_store::CurrentRow {
        version: row.version.version,
        deleted: row.version.deleted,
        patient_id: row.version.patient_id.clone(),
    }
}
