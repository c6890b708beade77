//! The vault's side of the access decision: gathering what the decision point needs
//! (the patient's facts, the data category, the time) and asking it. Facts are read from
//! the patient's own versioned records and cached until one of those records changes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use zorgkluis_policy::records::{patient_facts, FACT_TYPES};
use zorgkluis_policy::{
    decide, Action, Category, Context, Decision, OrgKind, Organisation, PatientFacts, Principal,
    Target,
};

use crate::{Vault, VaultError};

/// Patients whose facts are kept in memory at most (a cache, not a source of truth).
const MAX_CACHED_PATIENTS: usize = 20_000;

/// How long cached facts are trusted. A change made through this process drops them at
/// once; this bounds how long a change made by *another* process sharing the database (a
/// second server on PostgreSQL, an import from the command line) can go unseen.
const FACTS_TTL: std::time::Duration = std::time::Duration::from_secs(1);

/// A session as last checked against the database.
#[derive(Clone)]
pub(crate) struct CachedSession {
    pub loaded: std::time::Instant,
    pub created: time::OffsetDateTime,
    pub last_seen: time::OffsetDateTime,
    pub touched: time::OffsetDateTime,
    pub policy: zorgkluis_auth::SessionPolicy,
    pub principal: Principal,
}

/// How long a checked session is trusted before the account and session are read again
/// (changes made through this process clear the cache at once).
pub(crate) const SESSION_TTL: std::time::Duration = std::time::Duration::from_secs(1);

/// A bearer token as last checked against the database.
#[derive(Clone)]
pub(crate) struct CachedToken {
    pub loaded: std::time::Instant,
    pub expires_unix: i64,
    pub principal: Principal,
    pub scopes: crate::clients::Scopes,
}

/// Checked sessions or tokens kept at most; beyond it the cache starts again.
pub(crate) const MAX_CACHED_CREDENTIALS: usize = 50_000;

#[derive(Default)]
pub(crate) struct AccessState {
    pub(crate) sessions: Mutex<HashMap<String, CachedSession>>,
    pub(crate) tokens: Mutex<HashMap<String, CachedToken>>,
    facts: Mutex<HashMap<String, (std::time::Instant, Arc<PatientFacts>)>>,
    organisations: RwLock<HashMap<String, Organisation>>,
}

impl AccessState {
    pub(crate) fn forget(&self, patient_id: &str) {
        if let Ok(mut f) = self.facts.lock() {
            f.remove(patient_id);
        }
    }

    pub(crate) fn forget_all(&self) {
        if let Ok(mut f) = self.facts.lock() {
            f.clear();
        }
    }

    /// Forgets every checked session and bearer token (after any change to accounts,
    /// rights, grants, organisations, API clients or tokens): the next request of each
    /// reads them again.
    pub(crate) fn forget_sessions(&self) {
        if let Ok(mut s) = self.sessions.lock() {
            s.clear();
        }
        if let Ok(mut t) = self.tokens.lock() {
            t.clear();
        }
    }

    pub(crate) fn set_organisations(&self, orgs: Vec<Organisation>) {
        self.forget_sessions();
        if let Ok(mut map) = self.organisations.write() {
            *map = orgs.into_iter().map(|o| (o.id.clone(), o)).collect();
        }
        self.forget_all();
    }

    pub(crate) fn organisation(&self, id: &str) -> Option<Organisation> {
        self.organisations.read().ok()?.get(id).cloned()
    }
}

/// Whether a write of this type changes what the policy knows about the patient.
pub(crate) fn changes_facts(resource_type: &str) -> bool {
    FACT_TYPES.contains(&resource_type)
}

impl Vault {
    /// The circumstances of a decision made now.
    pub(crate) fn context<'a>(&self, emergency_reason: Option<&'a str>) -> Context<'a> {
        let now = self.inner.clock.now();
        Context {
            today: now.date(),
            now: now.unix_timestamp(),
            emergency_reason,
        }
    }

    /// What the decision point knows about a patient: read from the current versions of
    /// their Patient, CareTeam, RelatedPerson and Consent resources (opened here, for the
    /// decision only; nothing leaves), plus emergency accesses in force.
    pub(crate) async fn patient_facts(
        &self,
        patient_id: &str,
    ) -> Result<Arc<PatientFacts>, VaultError> {
        if let Some((loaded, f)) = self
            .inner
            .access
            .facts
            .lock()
            .ok()
            .and_then(|m| m.get(patient_id).cloned())
        {
            if loaded.elapsed() < FACTS_TTL {
                return Ok(f);
            }
        }
        let rows = self
            .inner
            .store
            .compartment_of_types(patient_id, &FACT_TYPES)
            .await?;
        let mut resources = Vec::with_capacity(rows.len());
        for row in &rows {
            match self.open_row(row) {
                Ok(Some(v)) => resources.push(v),
                Ok(None) | Err(VaultError::Shredded) => {}
                Err(e) => return Err(e),
            }
        }
        let access = &self.inner.access;
        let lookup = |id: &str| -> Option<(OrgKind, Option<String>)> {
            access.organisation(id).map(|o| (o.kind, o.region))
        };
        let mut facts = patient_facts(patient_id, &resources, &lookup);
        facts.emergencies = self.emergencies_in_force(patient_id).await?;
        let facts = Arc::new(facts);
        if let Ok(mut m) = access.facts.lock() {
            if m.len() >= MAX_CACHED_PATIENTS {
                m.clear();
            }
            m.insert(
                patient_id.to_owned(),
                (std::time::Instant::now(), facts.clone()),
            );
        }
        Ok(facts)
    }

    /// Asks the decision point about a resource of type `resource_type` in `patient`'s
    /// record (or outside every record, with `None`).
    pub(crate) async fn decide_resource(
        &self,
        principal: &Principal,
        action: Action,
        resource_type: &str,
        patient: Option<&str>,
        category: Category,
    ) -> Result<Decision, VaultError> {
        let ctx = self.context(None);
        let Some(p) = patient else {
            return Ok(decide(
                principal,
                action,
                Target::Directory { resource_type },
                &ctx,
            ));
        };
        let facts = self.facts_for(principal, p).await?;
        Ok(decide(
            principal,
            action,
            Target::Record {
                facts: &facts,
                resource_type,
                category,
            },
            &ctx,
        ))
    }

    /// The facts a decision for `principal` needs: none for operator commands (decided on
    /// their declared purpose alone), the patient's facts otherwise.
    pub(crate) async fn facts_for(
        &self,
        principal: &Principal,
        patient_id: &str,
    ) -> Result<Arc<PatientFacts>, VaultError> {
        if matches!(principal, Principal::Operator { .. }) {
            return Ok(Arc::new(PatientFacts {
                registered: true,
                patient_id: patient_id.to_owned(),
                ..PatientFacts::default()
            }));
        }
        self.patient_facts(patient_id).await
    }
}

#[cfg(feature = "bench-unaudited-reads")]
impl Vault {
    /// Benchmark builds only: the time the access decision takes inside a read of each
    /// target (facts from the cache after the first touch of a patient, plus the
    /// decision itself), as it runs in [`Vault::read`].
    pub async fn time_read_decisions(
        &self,
        principal: &Principal,
        targets: &[(String, String)],
    ) -> Result<Vec<std::time::Duration>, VaultError> {
        let mut out = Vec::with_capacity(targets.len());
        for (rt, id) in targets {
            let Some(row) = self.inner.store.read_current(rt, id).await? else {
                continue;
            };
            let category = crate::records::stored_category(&row.version);
            let patient = row.version.patient_id.clone();
            let t0 = std::time::Instant::now();
            let d = self
                .decide_resource(principal, Action::Read, rt, patient.as_deref(), category)
                .await?;
            out.push(t0.elapsed());
            std::hint::black_box(d);
        }
        Ok(out)
    }
}
