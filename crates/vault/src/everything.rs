//! `Patient/{id}/$everything`: the whole compartment a principal may see, paged. Every
//! resource is decided on its own; the page's totals count only what may be seen; one
//! search event and an event per returned resource are made durable before data leaves.

use zorgkluis_audit::{EventCode, Outcome};
use zorgkluis_policy::{Action, Category, Decision};

use crate::events::Object;
use crate::records::{stored_category, Stored};
use crate::search::SearchPage;
use crate::{Principal, Vault, VaultError};

impl Vault {
    /// The patient's record as the principal may see it: the Patient first, then the rest
    /// by type and id; `offset`/`count` page through it.
    pub async fn everything(
        &self,
        principal: &Principal,
        patient_id: &str,
        offset: usize,
        count: usize,
    ) -> Result<SearchPage, VaultError> {
        let object = Object {
            patient_id: Some(patient_id),
            resource_type: Some("Patient"),
            resource_id: Some(patient_id),
            query: Some("$everything".into()),
            ..Default::default()
        };
        let gate = match self
            .decide_resource(
                principal,
                Action::Read,
                "Patient",
                Some(patient_id),
                Category::Demographics,
            )
            .await?
        {
            Decision::Allow(a) => a,
            Decision::Deny(basis) => {
                return Err(self
                    .deny(principal, &basis, EventCode::Search, object)
                    .await)
            }
        };
        let rows = self.inner.store.compartment(patient_id).await?;
        if !rows.iter().any(|r| r.version.resource_type == "Patient") {
            let ev = self.event(
                principal,
                gate.basis(),
                EventCode::Search,
                Outcome::Error,
                object,
                Some(VaultError::NotFound.to_string()),
            );
            self.inner.journal.append(vec![ev]).await?;
            return Err(VaultError::NotFound);
        }
        let mut visible = Vec::with_capacity(rows.len());
        let mut withheld = 0usize;
        for row in rows {
            let v = &row.version;
            match self
                .decide_resource(
                    principal,
                    Action::Read,
                    &v.resource_type,
                    Some(patient_id),
                    stored_category(v),
                )
                .await?
            {
                Decision::Allow(a) => visible.push((row, a)),
                Decision::Deny(_) => withheld += 1,
            }
        }
        // The Patient first, then by type and id (the store's order).
        visible.sort_by_key(|(r, _)| r.version.resource_type != "Patient");
        let total = visible.len();
        let mut hits = Vec::new();
        let mut bases = Vec::new();
        for (row, allowed) in visible.into_iter().skip(offset).take(count) {
            let resource = match self.open_row(&row) {
                Ok(Some(r)) => r,
                Ok(None) | Err(VaultError::Shredded) => continue,
                Err(e) => return Err(e),
            };
            let v = row.version;
            bases.push(allowed);
            hits.push(Stored {
                resource_type: v.resource_type,
                id: v.id,
                version: v.version,
                last_updated: v.last_updated,
                patient_id: v.patient_id,
                resource: Some(resource),
            });
        }
        let mut events = vec![self.event(
            principal,
            gate.basis(),
            EventCode::Search,
            Outcome::Success,
            object,
            Some(format!(
                "{total} visible resource(s), {withheld} withheld by the access policy"
            )),
        )];
        events.extend(self.hit_events(
            principal,
            None,
            hits.iter().zip(&bases).map(|(s, a)| {
                (
                    s.patient_id.as_deref(),
                    format!("{}/{}/_history/{}", s.resource_type, s.id, s.version),
                    a.basis(),
                )
            }),
        ));
        // No data leaves before its audit events are durable.
        self.inner.journal.append(events).await?;
        Ok(SearchPage { total, hits })
    }
}

impl Vault {
    /// `GET [type]/_history`: the versions of every resource of a type that the principal
    /// may see, newest first, at most `count`, changed at or after `since`.
    pub async fn type_history(
        &self,
        principal: &Principal,
        resource_type: &str,
        since: Option<&str>,
        count: usize,
    ) -> Result<Vec<Stored>, VaultError> {
        let object = Object {
            resource_type: Some(resource_type),
            query: Some(format!("_history since={}", since.unwrap_or("*"))),
            ..Default::default()
        };
        let gate = match zorgkluis_policy::decide(
            principal,
            Action::Search,
            zorgkluis_policy::Target::Search {
                resource_type: Some(resource_type),
            },
            &self.context(None),
        ) {
            Decision::Allow(a) => a,
            Decision::Deny(basis) => {
                return Err(self
                    .deny(principal, &basis, EventCode::Search, object)
                    .await)
            }
        };
        // Read more than asked: some versions may be withheld.
        let limit = i64::try_from(count.saturating_mul(4).clamp(1, 20_000)).unwrap_or(20_000);
        let rows = self
            .inner
            .store
            .type_history(resource_type, since, limit)
            .await?;
        let mut out = Vec::new();
        let mut bases = Vec::new();
        let mut withheld = 0usize;
        for row in rows {
            if out.len() >= count {
                break;
            }
            let v = &row.version;
            let allowed = match self
                .decide_resource(
                    principal,
                    Action::Read,
                    &v.resource_type,
                    crate::records::decision_patient(&v.resource_type, v.patient_id.as_deref()),
                    stored_category(v),
                )
                .await?
            {
                Decision::Allow(a) => a,
                Decision::Deny(_) => {
                    withheld += 1;
                    continue;
                }
            };
            let resource = match self.open_row(&row) {
                Ok(r) => r,
                Err(VaultError::Shredded) => continue,
                Err(e) => return Err(e),
            };
            bases.push(allowed);
            out.push(Stored {
                resource_type: v.resource_type.clone(),
                id: v.id.clone(),
                version: v.version,
                last_updated: v.last_updated.clone(),
                patient_id: v.patient_id.clone(),
                resource,
            });
        }
        let mut events = vec![self.event(
            principal,
            gate.basis(),
            EventCode::Search,
            Outcome::Success,
            object,
            Some(format!(
                "{} version(s) shown, {withheld} withheld by the access policy",
                out.len()
            )),
        )];
        events.extend(self.hit_events(
            principal,
            Some(resource_type),
            out.iter().zip(&bases).map(|(s, a)| {
                (
                    s.patient_id.as_deref(),
                    format!("{}/{}/_history/{}", s.resource_type, s.id, s.version),
                    a.basis(),
                )
            }),
        ));
        self.inner.journal.append(events).await?;
        Ok(out)
    }
}
