//! Building audit events from a decision.

use zorgkluis_audit::{Action, AuditEvent, AuditObject, Channel, Controls, EventCode, Outcome};
use zorgkluis_domain::clock::rfc3339;
use zorgkluis_policy::{Basis, Principal};

use zorgkluis_store::{Job, WriteOp};

use crate::Vault;

/// Everything an event says about its object.
#[derive(Debug, Clone, Default)]
pub(crate) struct Object<'a> {
    pub patient_id: Option<&'a str>,
    pub resource_type: Option<&'a str>,
    pub resource_id: Option<&'a str>,
    pub version: Option<i64>,
    pub query: Option<String>,
    pub entities: Vec<String>,
}

/// The channel (Wabvpz 15e): own organisation, exchange, patient app, operator.
fn channel(p: &Principal, basis: &Basis) -> Channel {
    match p {
        Principal::Operator { .. } => Channel::OperatorTool,
        Principal::Staff(_) if basis.consent_profile.contains("exchange") => Channel::Exchange,
        Principal::Staff(_) => Channel::OwnOrganisation,
        Principal::Patient { .. } | Principal::Representative { .. } => Channel::PatientApp,
        // An organisation's system client over the API: exchange between systems.
        Principal::System(_) => Channel::Exchange,
    }
}

impl Vault {
    /// An audit event for `principal` doing `code` on `object`, decided with `basis`.
    pub(crate) fn event(
        &self,
        principal: &Principal,
        basis: &Basis,
        code: EventCode,
        outcome: Outcome,
        object: Object<'_>,
        reason: Option<String>,
    ) -> AuditEvent {
        let action = match code {
            EventCode::Create => Action::C,
            EventCode::Read | EventCode::SearchHit | EventCode::Search | EventCode::AuditRead => {
                Action::R
            }
            EventCode::Update => Action::U,
            EventCode::Delete => Action::D,
            EventCode::Export
            | EventCode::KeyDestroy
            | EventCode::KeyRotate
            | EventCode::AccessDenied
            | EventCode::Backup
            | EventCode::Login
            | EventCode::Logout
            | EventCode::EmergencyAccess => Action::E,
            EventCode::AccountChange => Action::U,
        };
        let event_type = match code {
            EventCode::KeyDestroy | EventCode::KeyRotate => "key-management",
            EventCode::Backup => "backup",
            EventCode::Login => "login",
            EventCode::Logout => "logout",
            EventCode::AccountChange => "account",
            EventCode::EmergencyAccess => "emergency",
            EventCode::AuditRead => "audit-log",
            _ if basis.emergency => "emergency",
            _ => "patient-record",
        };
        AuditEvent {
            event_id: uuid::Builder::from_random_bytes(rand::random())
                .into_uuid()
                .to_string(),
            occurred_at: rfc3339(self.inner.clock.now()),
            code,
            action,
            event_type: event_type.into(),
            outcome,
            reason: reason.or_else(|| Some(basis.rule.to_owned())),
            controls: Controls {
                authorisation: basis.authorisation_checked,
                relationship: basis.relationship_checked,
                consent: basis.consent_checked,
                emergency: basis.emergency,
            },
            actor: principal.actor().clone(),
            channel: channel(principal, basis),
            purpose: basis.purpose.to_owned(),
            object: AuditObject {
                patient_id: object.patient_id.map(str::to_owned),
                resource_type: object.resource_type.map(str::to_owned),
                resource_id: object.resource_id.map(str::to_owned),
                version: object.version,
                category: None,
                query: object.query,
                entities: object.entities,
            },
            authorisation_protocol: basis.policy.to_owned(),
            consent_profile: basis.consent_profile.to_owned(),
            relationship_protocol: None,
            source: self.inner.source.clone(),
        }
    }

    /// Events for many resources read in one interaction (search hits, `$everything`): one
    /// event per patient and rule that allowed them, naming every resource (NEN 7513 lets
    /// one event hold several objects), instead of one event per resource.
    pub(crate) fn hit_events<'a>(
        &self,
        principal: &Principal,
        resource_type: Option<&str>,
        hits: impl IntoIterator<Item = (Option<&'a str>, String, &'a Basis)>,
    ) -> Vec<AuditEvent> {
        let mut groups: Vec<(Option<&'a str>, &'a Basis, Vec<String>)> = Vec::new();
        for (patient, reference, basis) in hits {
            match groups
                .iter_mut()
                .find(|(p, b, _)| *p == patient && b.rule == basis.rule)
            {
                Some(g) => g.2.push(reference),
                None => groups.push((patient, basis, vec![reference])),
            }
        }
        groups
            .into_iter()
            .map(|(patient, basis, entities)| {
                let n = entities.len();
                self.event(
                    principal,
                    basis,
                    EventCode::SearchHit,
                    Outcome::Success,
                    Object {
                        patient_id: patient,
                        resource_type,
                        entities,
                        ..Default::default()
                    },
                    Some(format!("{n} resource(s) read")),
                )
            })
            .collect()
    }

    /// Records a refusal (durably, through the journal) and returns `Forbidden`.
    pub(crate) async fn deny(
        &self,
        principal: &Principal,
        basis: &Basis,
        code: EventCode,
        object: Object<'_>,
    ) -> crate::VaultError {
        let ev = self.event(principal, basis, code, Outcome::Refused, object, None);
        match self.inner.journal.append(vec![ev]).await {
            Ok(()) => crate::VaultError::Forbidden,
            Err(e) => e.into(),
        }
    }
}

/// A job whose audit events are chained with it: `events` when it applies, the same events
/// with outcome `error` when it is rolled back.
pub(crate) fn audited_job(ops: Vec<WriteOp>, events: Vec<AuditEvent>) -> Job {
    let failure_events = events
        .iter()
        .cloned()
        .map(|mut e| {
            e.outcome = Outcome::Error;
            e
        })
        .collect();
    Job {
        ops,
        events,
        failure_events,
    }
}
