//! The privacy officer's review of emergency accesses (break-the-glass, NEN 7513): the
//! open queue and the reviews done, each with who broke the glass, for which patient, why,
//! and what they accessed while the emergency procedure was in force; marking one
//! reviewed with a remark; and the two look-ups an audit search needs (a patient by BSN,
//! an account by login) without opening any patient data.
//!
//! Everything here is for whoever may read the whole audit trail (the privacy officer, an
//! operator reviewing the audit): it is decided as [`Action::ReadAudit`] on the system and
//! every use is itself in the audit trail.

use zorgkluis_audit::{AuditEvent, EventCode, Outcome};
use zorgkluis_domain::clock::rfc3339;
use zorgkluis_fhir::IssueCode;
use zorgkluis_policy::{decide, Action, Allowed, Decision, Principal, Target};
use zorgkluis_store::EmergencyRow;

use crate::events::Object;
use crate::records::issue;
use crate::{Vault, VaultError};

/// Longest remark a review keeps.
pub const MAX_REVIEW_REMARK: usize = 2000;

/// Events accessed during one emergency window shown at most.
const MAX_ACCESSED: i64 = 500;

/// Who did something, as the audit trail (or, failing that, the account) names them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReviewPerson {
    /// Account id.
    pub user_id: String,
    /// Display name.
    pub name: Option<String>,
    /// Role code (`gp`, `nurse`, ...).
    pub role: Option<String>,
    /// Organisation id.
    pub organisation: Option<String>,
}

/// A review that was done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewDone {
    /// The reviewer.
    pub reviewer: ReviewPerson,
    /// When (RFC 3339 UTC).
    pub at: String,
    /// The reviewer's remark.
    pub remark: String,
}

/// One emergency access as the privacy officer reviews it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmergencyReview {
    /// Emergency access id (the id of its `emergency-access` audit event).
    pub id: String,
    /// Who broke the glass.
    pub actor: ReviewPerson,
    /// The patient (pseudonymous id).
    pub patient_id: String,
    /// The reason given.
    pub reason: String,
    /// When it started (RFC 3339 UTC).
    pub started_at: String,
    /// When it ends or ended (RFC 3339 UTC).
    pub until: String,
    /// What this person did with this patient's data while it was in force, newest first
    /// (the `emergency-access` event itself included).
    pub accessed: Vec<AuditEvent>,
    /// The review, once done.
    pub review: Option<ReviewDone>,
}

/// The review queue: open items oldest first, and the most recent reviews.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EmergencyReviews {
    /// Not yet reviewed, oldest first.
    pub open: Vec<EmergencyReview>,
    /// Reviewed, most recently reviewed first.
    pub reviewed: Vec<EmergencyReview>,
}

fn unix_rfc3339(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .map(rfc3339)
        .unwrap_or_default()
}

impl Vault {
    /// Decides a use of the whole audit trail; a refusal is logged and returned.
    async fn audit_reviewer(
        &self,
        principal: &Principal,
        object: Object<'_>,
    ) -> Result<Allowed, VaultError> {
        match decide(
            principal,
            Action::ReadAudit,
            Target::System,
            &self.context(None),
        ) {
            Decision::Allow(a) => Ok(a),
            Decision::Deny(basis) => Err(self
                .deny(principal, &basis, EventCode::AuditRead, object)
                .await),
        }
    }

    async fn person(&self, user_id: &str) -> Result<ReviewPerson, VaultError> {
        let mut person = ReviewPerson {
            user_id: user_id.to_owned(),
            ..ReviewPerson::default()
        };
        if let Some(user) = self.inner.accounts.user_by_id(user_id).await? {
            person.name = Some(user.display_name);
            if let Some(role) = self.inner.accounts.staff_roles(user_id).await?.first() {
                person.role = Some(role.role.clone());
                person.organisation = Some(role.organisation_id.clone());
            }
        }
        Ok(person)
    }

    async fn review_item(&self, row: EmergencyRow) -> Result<EmergencyReview, VaultError> {
        let until = unix_rfc3339(row.until_unix);
        let accessed: Vec<AuditEvent> = self
            .inner
            .store
            .audit_search(
                Some(&row.patient_id),
                Some(&row.user_id),
                Some(&row.started_at),
                Some(&until),
                MAX_ACCESSED,
            )
            .await?
            .iter()
            .map(|r| {
                serde_json::from_str(&r.payload).map_err(|_| {
                    VaultError::Corrupt(format!("audit event #{} is not readable", r.seq))
                })
            })
            .collect::<Result<_, _>>()?;
        // The person as the trail recorded them when they broke the glass.
        let actor = match accessed.iter().find(|e| e.event_id == row.id) {
            Some(e) => ReviewPerson {
                user_id: row.user_id.clone(),
                name: e.actor.display.clone(),
                role: Some(e.actor.role_name.clone()),
                organisation: e.actor.organisation.clone(),
            },
            None => self.person(&row.user_id).await?,
        };
        let review = match (&row.reviewed_by, &row.reviewed_at) {
            (Some(by), Some(at)) => Some(ReviewDone {
                reviewer: self.person(by).await?,
                at: at.clone(),
                remark: row.review_note.clone().unwrap_or_default(),
            }),
            _ => None,
        };
        Ok(EmergencyReview {
            id: row.id,
            actor,
            patient_id: row.patient_id,
            reason: row.reason,
            started_at: row.started_at,
            until,
            accessed,
            review,
        })
    }

    /// The privacy officer's review queue: every emergency access not yet reviewed
    /// (oldest first) and the last `reviewed_limit` reviews, each with what was accessed
    /// during the emergency window. Reading it is audited.
    pub async fn emergency_reviews(
        &self,
        principal: &Principal,
        reviewed_limit: i64,
    ) -> Result<EmergencyReviews, VaultError> {
        let object = Object {
            query: Some("emergency-review-queue".into()),
            ..Default::default()
        };
        let allowed = self.audit_reviewer(principal, object.clone()).await?;
        self.flush_audit().await?;
        let mut out = EmergencyReviews::default();
        for row in self.inner.accounts.unreviewed_emergencies().await? {
            out.open.push(self.review_item(row).await?);
        }
        for row in self
            .inner
            .store
            .reviewed_emergencies(reviewed_limit.clamp(0, 1000))
            .await?
        {
            out.reviewed.push(self.review_item(row).await?);
        }
        let ev = self.event(
            principal,
            allowed.basis(),
            EventCode::AuditRead,
            Outcome::Success,
            object,
            Some(format!(
                "emergency review queue read: {} open, {} reviewed shown",
                out.open.len(),
                out.reviewed.len()
            )),
        );
        self.inner.journal.append(vec![ev]).await?;
        Ok(out)
    }

    /// Marks an emergency access reviewed, with the reviewer's remark (required). A review
    /// is never overwritten: an unknown or already reviewed access is `NotFound`. The
    /// review is in the audit trail, under the patient (who sees that it was reviewed),
    /// without the remark's text.
    pub async fn review_emergency(
        &self,
        principal: &Principal,
        emergency_id: &str,
        remark: &str,
    ) -> Result<(), VaultError> {
        let remark = remark.trim();
        let row = self.inner.store.emergency(emergency_id).await?;
        let patient = row.as_ref().map(|r| r.patient_id.clone());
        let object = Object {
            patient_id: patient.as_deref(),
            query: Some(format!("emergency-review {emergency_id}")),
            ..Default::default()
        };
        let allowed = self.audit_reviewer(principal, object.clone()).await?;
        if remark.is_empty() {
            return Err(VaultError::Invalid(vec![issue(
                IssueCode::Required,
                "remark",
                "a review needs a remark",
            )]));
        }
        let Some(row) = row.filter(|r| r.reviewed_at.is_none()) else {
            return Err(VaultError::NotFound);
        };
        let remark: String = remark.chars().take(MAX_REVIEW_REMARK).collect();
        let done = self
            .inner
            .accounts
            .review_emergency(
                &row.id,
                &principal.actor().user_id,
                &rfc3339(self.now()),
                &remark,
            )
            .await?;
        if !done {
            return Err(VaultError::NotFound);
        }
        let ev = self.event(
            principal,
            allowed.basis(),
            EventCode::AuditRead,
            Outcome::Success,
            object,
            Some(format!("emergency access {} reviewed", row.id)),
        );
        self.inner.journal.append(vec![ev]).await?;
        Ok(())
    }

    /// For an audit search: the patients (pseudonymous ids) with this identifier (e.g. a
    /// BSN), found through the blind index without opening any record. Audited without
    /// the identifier's value.
    pub async fn audit_patients_by_identifier(
        &self,
        principal: &Principal,
        system: &str,
        value: &str,
    ) -> Result<Vec<String>, VaultError> {
        let object = Object {
            resource_type: Some("Patient"),
            query: Some(format!("audit-trail patient identifier={system}|***")),
            ..Default::default()
        };
        let allowed = self.audit_reviewer(principal, object.clone()).await?;
        let hash = self
            .inner
            .index_key
            .blind("identifier", &format!("{system}|{value}"));
        let mut ids: Vec<String> = self
            .inner
            .store
            .find_blind("identifier", &hash, Some("Patient"))
            .await?
            .into_iter()
            .map(|(_, id)| id)
            .collect();
        ids.sort();
        ids.dedup();
        let ev = self.event(
            principal,
            allowed.basis(),
            EventCode::AuditRead,
            Outcome::Success,
            object,
            Some(format!("{} patient(s) found", ids.len())),
        );
        self.inner.journal.append(vec![ev]).await?;
        Ok(ids)
    }

    /// For an audit search: the account id of a login (disabled accounts too), or `None`.
    pub async fn audit_user_by_login(
        &self,
        principal: &Principal,
        login: &str,
    ) -> Result<Option<String>, VaultError> {
        let object = Object {
            query: Some("audit-trail account look-up".into()),
            ..Default::default()
        };
        let allowed = self.audit_reviewer(principal, object.clone()).await?;
        let found = self
            .inner
            .accounts
            .user_by_login(&login.trim().to_lowercase())
            .await?
            .map(|u| u.id);
        let ev = self.event(
            principal,
            allowed.basis(),
            EventCode::AuditRead,
            Outcome::Success,
            object,
            Some(format!(
                "account look-up: {}",
                if found.is_some() { "found" } else { "none" }
            )),
        );
        self.inner.journal.append(vec![ev]).await?;
        Ok(found)
    }
}
