//! One audit event with the fields NEN 7513 asks for (see ../shared/DOMAIN.md).

use serde::{Deserialize, Serialize};
use zorgkluis_domain::Actor;

/// What happened, as an event code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventCode {
    /// A resource was created (new dossier entry, or a new dossier for a Patient).
    Create,
    /// A resource was read (current version or a historic one).
    Read,
    /// A search returned this resource (one event per hit).
    SearchHit,
    /// A search was run (one event per search, with the redacted query).
    Search,
    /// A resource was changed.
    Update,
    /// A resource was deleted (tombstone).
    Delete,
    /// A record was exported (copy, print, download).
    Export,
    /// A patient's data key was destroyed (crypto-shredding).
    KeyDestroy,
    /// The master key was rotated.
    KeyRotate,
    /// The audit trail itself was read or verified.
    AuditRead,
    /// A request was refused by the access-decision point.
    AccessDenied,
    /// The whole vault was copied (backup) or restored.
    Backup,
    /// A login: success, failure or lockout (HP-5), with device and session data.
    Login,
    /// A logout or session end.
    Logout,
    /// The emergency procedure (break-the-glass) was started (DICOM 110127).
    EmergencyAccess,
    /// An account or its rights, or a technical access grant, changed (CO-8, PC-5).
    AccountChange,
}

impl EventCode {
    /// The code as text.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Read => "read",
            Self::SearchHit => "search-hit",
            Self::Search => "search",
            Self::Update => "update",
            Self::Delete => "delete",
            Self::Export => "export",
            Self::KeyDestroy => "key-destroy",
            Self::KeyRotate => "key-rotate",
            Self::AuditRead => "audit-read",
            Self::AccessDenied => "access-denied",
            Self::Backup => "backup",
            Self::Login => "login",
            Self::Logout => "logout",
            Self::EmergencyAccess => "emergency-access",
            Self::AccountChange => "account-change",
        }
    }
}

/// The C/R/U/D/E action code of NEN 7513 (and FHIR AuditEvent.action).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Action {
    /// Create.
    C,
    /// Read, view, search.
    R,
    /// Update.
    U,
    /// Delete.
    D,
    /// Execute (export, key operations, other procedures).
    E,
}

impl Action {
    /// One letter.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::C => "C",
            Self::R => "R",
            Self::U => "U",
            Self::D => "D",
            Self::E => "E",
        }
    }
}

/// Outcome of the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Done.
    Success,
    /// Refused by the access-decision point.
    Refused,
    /// Failed (invalid input, conflict, storage error).
    Error,
}

impl Outcome {
    /// As text.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Refused => "refused",
            Self::Error => "error",
        }
    }
}

/// The four NEN 7513 controls, logged as T/F.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Controls {
    /// Authorisation was checked.
    pub authorisation: bool,
    /// Treatment relationship was checked.
    pub relationship: bool,
    /// Consent was checked.
    pub consent: bool,
    /// The emergency procedure (break-the-glass) was used.
    pub emergency: bool,
}

impl Controls {
    /// `TTFF`-style rendering.
    pub fn as_flags(self) -> String {
        [
            self.authorisation,
            self.relationship,
            self.consent,
            self.emergency,
        ]
        .iter()
        .map(|b| if *b { 'T' } else { 'F' })
        .collect()
    }
}

/// Where the access came from, for the patient's overview.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Channel {
    /// Staff of the organisation holding the record.
    OwnOrganisation,
    /// Another organisation through an exchange.
    Exchange,
    /// The patient's own portal or app.
    PatientApp,
    /// An operator command on the server (import, key management).
    OperatorTool,
}

/// The data the event is about. Holds pseudonymous ids only, never a BSN or a name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditObject {
    /// The patient compartment (pseudonymous patient id), when the data is a patient's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient_id: Option<String>,
    /// FHIR resource type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_type: Option<String>,
    /// FHIR logical id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_id: Option<String>,
    /// Version read or written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
    /// Data category (e.g. `medication`, `self-entered`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Search query with identifying values redacted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// When one event covers several resources of the patient read in one interaction
    /// (search hits, `$everything`): each as `Type/id/_history/version`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entities: Vec<String>,
}

/// One NEN 7513 audit event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// Unique id (UUID).
    pub event_id: String,
    /// UTC start of the event, RFC 3339 with milliseconds.
    pub occurred_at: String,
    /// Event code.
    pub code: EventCode,
    /// C/R/U/D/E.
    pub action: Action,
    /// Event type (`patient-record`, `emergency`, `key-management`, `audit-log`).
    pub event_type: String,
    /// Outcome.
    pub outcome: Outcome,
    /// Why (decision reason, error kind, emergency reason). Never personal data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The four controls.
    pub controls: Controls,
    /// Who acted (and, when on behalf of someone, the responsible person).
    pub actor: Actor,
    /// Channel of access.
    pub channel: Channel,
    /// Purpose of use (v3 ActReason: `TREAT`, `ETREAT`, `BTG`, `PATRQT`, `HOPERAT`, ...).
    pub purpose: String,
    /// What the event is about.
    pub object: AuditObject,
    /// Authorisation protocol applied: policy id and version.
    pub authorisation_protocol: String,
    /// Consent profile applied.
    pub consent_profile: String,
    /// Treatment-relationship protocol, where used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relationship_protocol: Option<String>,
    /// Source system id.
    pub source: String,
}

/// What the chain stores of an event next to its payload, as columns the trail is queried
/// by. The fold needs only these and the payload, so an event waiting to be folded keeps
/// nothing else (the request that made it frees the rest at once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventKeys {
    /// Unique id.
    pub event_id: String,
    /// UTC start of the event, RFC 3339 with milliseconds.
    pub occurred_at: String,
    /// The patient the event is about, if any.
    pub patient_id: Option<String>,
    /// Who acted.
    pub user_id: String,
    /// Event code.
    pub code: EventCode,
    /// Outcome.
    pub outcome: Outcome,
}

impl EventKeys {
    /// The keys of `event`.
    pub fn of(event: &AuditEvent) -> Self {
        Self {
            event_id: event.event_id.clone(),
            occurred_at: event.occurred_at.clone(),
            patient_id: event.object.patient_id.clone(),
            user_id: event.actor.user_id.clone(),
            code: event.code,
            outcome: event.outcome,
        }
    }
}

impl AuditEvent {
    /// The columns the chain stores next to the payload.
    pub fn keys(&self) -> EventKeys {
        EventKeys::of(self)
    }

    /// The columns the chain stores next to the payload, without copying them.
    pub fn into_keys(self) -> EventKeys {
        EventKeys {
            event_id: self.event_id,
            occurred_at: self.occurred_at,
            patient_id: self.object.patient_id,
            user_id: self.actor.user_id,
            code: self.code,
            outcome: self.outcome,
        }
    }

    /// Canonical serialisation: the bytes that are hashed into the chain.
    pub fn canonical(&self) -> String {
        // Serialising plain structs of strings and enums cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}
