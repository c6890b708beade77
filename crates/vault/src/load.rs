//! Bulk loading: many resources with their ids, written as one atomic job (all or none),
//! each encrypted, indexed and audited like a single write. Used by `generate` and by
//! imports.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::Value;
use zorgkluis_audit::{EventCode, Outcome};
use zorgkluis_crypto::DataKey;
use zorgkluis_domain::clock::rfc3339;
use zorgkluis_fhir::{Issue, IssueCode, ResourceType};
use zorgkluis_policy::{Action, Decision, Principal};
use zorgkluis_store::{JobError, WriteOp};

use crate::events::{audited_job, Object};
use crate::records::issue;
use crate::{Vault, VaultError};

/// How to load.
#[derive(Debug, Clone, Copy, Default)]
pub struct LoadOptions {
    /// Leave a resource alone when it already exists (instead of writing a new version).
    pub skip_existing: bool,
    /// Keep references to resources that exist neither in the store nor in the load, as
    /// written, and report them as warnings (imports of data that refers outside itself).
    /// A resource whose patient is not there is still put in that patient's compartment.
    pub allow_dangling: bool,
}

/// What a load did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// New resources per type.
    pub created: BTreeMap<String, usize>,
    /// New versions of existing resources per type.
    pub updated: BTreeMap<String, usize>,
    /// Existing resources left alone per type (`skip_existing`).
    pub skipped: BTreeMap<String, usize>,
    /// Warnings (`allow_dangling`): references kept that point outside the data.
    pub warnings: Vec<String>,
}

impl LoadReport {
    /// Adds another report.
    pub fn merge(&mut self, other: LoadReport) {
        for (mine, theirs) in [
            (&mut self.created, other.created),
            (&mut self.updated, other.updated),
            (&mut self.skipped, other.skipped),
        ] {
            for (k, v) in theirs {
                *mine.entry(k).or_default() += v;
            }
        }
        self.warnings.extend(other.warnings);
    }

    /// Resources written.
    pub fn written(&self) -> usize {
        self.created.values().sum::<usize>() + self.updated.values().sum::<usize>()
    }
}

/// Attempts of a load that keeps losing races with concurrent writers.
const MAX_LOAD_ATTEMPTS: u32 = 12;

/// A few milliseconds of spread, so that two loads that raced do not race again in step.
fn rand_jitter(attempt: u32) -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(attempt);
    u64::from(nanos % 7)
}

struct Planned {
    rt: ResourceType,
    id: String,
    patient: Option<String>,
    resource: Value,
}

impl Vault {
    /// Loads `resources` (each with an `id`) atomically. Every reference must resolve to a
    /// resource in the store or in the same load. On any invalid resource nothing is
    /// written and every problem is reported, located as `entry[i]`.
    pub async fn load(
        &self,
        principal: &Principal,
        resources: Vec<Value>,
        options: LoadOptions,
    ) -> Result<LoadReport, VaultError> {
        // A concurrent writer may create a resource this load also creates (the same
        // hospital in many bundles): the whole job is retried with fresh versions, after a
        // short pause that grows with each attempt.
        for attempt in 1..=MAX_LOAD_ATTEMPTS {
            match self.load_once(principal, &resources, options).await {
                Err(VaultError::Conflict { .. }) if attempt < MAX_LOAD_ATTEMPTS => {
                    let pause = 5 * u64::from(attempt) + rand_jitter(attempt);
                    tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
                }
                other => return other,
            }
        }
        Err(VaultError::Conflict {
            expected: None,
            current: None,
        })
    }

    async fn load_once(
        &self,
        principal: &Principal,
        resources: &[Value],
        options: LoadOptions,
    ) -> Result<LoadReport, VaultError> {
        let mut issues: Vec<Issue> = Vec::new();
        let mut planned = Vec::with_capacity(resources.len());
        for (i, resource) in resources.iter().enumerate() {
            let located = |mut is: Vec<Issue>| {
                for x in &mut is {
                    x.location = format!("entry[{i}].{}", x.location);
                }
                is
            };
            let rt = match zorgkluis_fhir::validate(resource) {
                Ok(rt) => rt,
                Err(is) => {
                    issues.extend(located(is));
                    continue;
                }
            };
            let Some(id) = resource.get("id").and_then(Value::as_str) else {
                issues.push(issue(
                    IssueCode::Required,
                    format!("entry[{i}].{}.id", rt.as_str()),
                    "an id is required to load",
                ));
                continue;
            };
            match Self::compartment_of(rt, resource) {
                Ok(patient) => planned.push(Planned {
                    rt,
                    id: id.to_owned(),
                    patient,
                    resource: resource.clone(),
                }),
                Err(VaultError::Invalid(is)) => issues.extend(located(is)),
                Err(e) => return Err(e),
            }
        }
        if !issues.is_empty() {
            return Err(VaultError::Invalid(issues));
        }
        // One lookup for everything this load touches: its own resources and the
        // resources they refer to.
        let in_load: HashSet<(&str, &str)> = planned
            .iter()
            .map(|p| (p.rt.as_str(), p.id.as_str()))
            .collect();
        let mut lookup: Vec<(String, String)> = planned
            .iter()
            .map(|p| (p.rt.as_str().to_owned(), p.id.clone()))
            .collect();
        let mut refs_of: Vec<Vec<(String, String, String)>> = Vec::with_capacity(planned.len());
        for p in &planned {
            let mut mine = Vec::new();
            for r in zorgkluis_fhir::references(&p.resource) {
                if let zorgkluis_fhir::RefTarget::Local { rtype, id, .. } = &r.target {
                    if !in_load.contains(&(rtype.as_str(), id.as_str())) {
                        lookup.push((rtype.as_str().to_owned(), id.clone()));
                        mine.push((r.path.clone(), rtype.as_str().to_owned(), id.clone()));
                    }
                }
            }
            refs_of.push(mine);
        }
        lookup.sort();
        lookup.dedup();
        let current = self.inner.store.current_versions(&lookup).await?;
        let mut dangling = Vec::new();
        for (i, (p, refs)) in planned.iter().zip(&refs_of).enumerate() {
            for (path, rtype, id) in refs {
                let exists = current
                    .get(&(rtype.clone(), id.clone()))
                    .is_some_and(|c| !c.deleted);
                if !exists {
                    let location = format!("entry[{i}].{}.{path}", p.rt.as_str());
                    if options.allow_dangling {
                        dangling.push(format!(
                            "{location}: reference to {rtype}/{id} kept; it is not in the data"
                        ));
                    } else {
                        issues.push(issue(
                            IssueCode::NotFound,
                            location,
                            format!("reference to {rtype} that does not exist"),
                        ));
                    }
                }
            }
        }
        if !issues.is_empty() {
            return Err(VaultError::Invalid(issues));
        }

        // Keys: one per compartment; a new one only for a Patient written in this load.
        let new_patients: HashSet<&str> = planned
            .iter()
            .filter(|p| p.rt == ResourceType::PATIENT)
            .map(|p| p.id.as_str())
            .collect();
        let mut keys: HashMap<Option<String>, (String, DataKey)> = HashMap::new();
        let mut ops = Vec::with_capacity(planned.len() + 8);
        let compartments: HashSet<Option<String>> =
            planned.iter().map(|p| p.patient.clone()).collect();
        for c in compartments {
            let create = c
                .as_deref()
                .is_some_and(|p| new_patients.contains(p) || options.allow_dangling);
            let (key_id, key, ensure) =
                self.compartment_key(c.as_deref(), create)
                    .await
                    .map_err(|e| match e {
                        VaultError::NotFound => VaultError::Invalid(vec![issue(
                            IssueCode::NotFound,
                            "Patient",
                            "a resource refers to a patient that does not exist",
                        )]),
                        other => other,
                    })?;
            ops.extend(ensure);
            keys.insert(c, (key_id, key));
        }

        let now = rfc3339(self.inner.clock.now());
        let mut report = LoadReport {
            warnings: dangling,
            ..Default::default()
        };
        let mut events = Vec::with_capacity(planned.len());
        // Patients whose policy facts this load changes (their cached facts are dropped
        // once it is committed).
        let touched: HashSet<String> = planned
            .iter()
            .filter(|p| crate::access::changes_facts(p.rt.as_str()))
            .filter_map(|p| p.patient.clone())
            .collect();
        for p in planned {
            let current = self
                .inner
                .store
                .current_version(p.rt.as_str(), &p.id)
                .await?;
            if let Some(c) = &current {
                if options.skip_existing && !c.deleted {
                    *report.skipped.entry(p.rt.as_str().to_owned()).or_default() += 1;
                    continue;
                }
                if c.patient_id != p.patient {
                    return Err(VaultError::Invalid(vec![issue(
                        IssueCode::Processing,
                        format!("{}/{}", p.rt.as_str(), p.id),
                        "a resource cannot move to another patient's record",
                    )]));
                }
            }
            let (action, code, tally) = match current {
                Some(_) => (Action::Update, EventCode::Update, &mut report.updated),
                None => (Action::Create, EventCode::Create, &mut report.created),
            };
            let object = Object {
                patient_id: p.patient.as_deref(),
                resource_type: Some(p.rt.as_str()),
                resource_id: Some(&p.id),
                ..Default::default()
            };
            let category = zorgkluis_policy::Category::of(p.rt.as_str(), &p.resource);
            let allowed = match self
                .decide_resource(
                    principal,
                    action,
                    p.rt.as_str(),
                    p.patient.as_deref(),
                    category,
                )
                .await?
            {
                Decision::Allow(a) => a,
                Decision::Deny(basis) => {
                    return Err(self.deny(principal, &basis, code, object).await)
                }
            };
            *tally.entry(p.rt.as_str().to_owned()).or_default() += 1;
            let Some((key_id, key)) = keys.get(&p.patient) else {
                return Err(VaultError::Corrupt("compartment key missing".into()));
            };
            let version = current.as_ref().map_or(1, |c| c.version + 1);
            let mut body = p.resource;
            let sealed = self.seal_version(
                p.rt,
                &p.id,
                version,
                p.patient.as_deref(),
                key_id,
                key,
                &mut body,
                &now,
            );
            events.push(self.event(
                principal,
                allowed.basis(),
                code,
                Outcome::Success,
                Object {
                    version: Some(version),
                    ..object
                },
                None,
            ));
            ops.push(WriteOp::PutVersion {
                row: sealed.row,
                expected_current: current.map(|c| c.version),
                index: sealed.index,
            });
        }
        let job = audited_job(ops, events);
        match self.inner.writer.submit(job).await? {
            Ok(()) => {
                for p in &touched {
                    self.inner.access.forget(p);
                }
                Ok(report)
            }
            Err(JobError::Conflict {
                expected, found, ..
            }) => Err(VaultError::Conflict {
                expected,
                current: found,
            }),
            Err(JobError::KeyRace(_)) => Err(VaultError::Conflict {
                expected: None,
                current: None,
            }),
            Err(JobError::KeyUnavailable(_)) => Err(VaultError::Shredded),
            Err(e) => Err(VaultError::Corrupt(e.to_string())),
        }
    }
}
