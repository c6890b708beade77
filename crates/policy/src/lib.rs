//! The access-decision point: `decide(principal, action, target) -> Decision`.
//!
//! Every read and write of patient data asks here first; the vault accepts only an
//! [`Allowed`] token, which nothing outside this crate can build, so a path to patient data
//! that skips the decision does not compile. Every decision carries its basis (policy id
//! and version, controls, consent profile, purpose of use) for the audit trail.
//!
//! Rules in force (policy `zorgkluis/operator-tools@1`):
//! - PC-5, NEN 7510: an operator command run on the server with the key store at hand
//!   (generate, import, export for a patient's request, key management, audit
//!   verification) acts as a technical, logged access with a declared purpose; it is
//!   allowed only the actions that purpose needs.
//! - Everything else is denied (default deny). Staff, patients and representatives come
//!   with the accounts of the next stage and will be added here, as Cedar policies.
#![warn(missing_docs)]

use zorgkluis_domain::Actor;

/// Identifier and version of the policy set, logged with every decision.
pub const POLICY_ID: &str = "zorgkluis/operator-tools@1";

/// Why an operator command touches patient data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperatorPurpose {
    /// Loading data: demo generation or import from another system.
    Load,
    /// Export of a record, on the patient's request (AVG 15/20).
    PatientRequest,
    /// Master key rotation and crypto-shredding.
    KeyManagement,
    /// Verifying or reviewing the audit trail.
    AuditReview,
    /// Backing up the whole vault (a copy of sealed data; no record is opened).
    Backup,
}

impl OperatorPurpose {
    /// v3 ActReason purpose-of-use code.
    pub fn purpose_of_use(self) -> &'static str {
        match self {
            Self::Load | Self::KeyManagement => "HOPERAT",
            Self::PatientRequest => "PATRQT",
            Self::AuditReview | Self::Backup => "HSYSADMIN",
        }
    }
}

/// Who asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// An operator command on the server.
    Operator {
        /// The acting tool and the responsible OS user.
        actor: Actor,
        /// The declared purpose.
        purpose: OperatorPurpose,
    },
}

impl Principal {
    /// The actor, as logged.
    pub fn actor(&self) -> &Actor {
        match self {
            Self::Operator { actor, .. } => actor,
        }
    }

    /// An operator command with a purpose.
    pub fn operator(tool: &str, purpose: OperatorPurpose) -> Self {
        Self::Operator {
            actor: Actor::operator_tool(tool),
            purpose,
        }
    }
}

/// What is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Read one resource (or one version).
    Read,
    /// Find resources (search hits are reads too).
    Search,
    /// Create.
    Create,
    /// Update.
    Update,
    /// Delete.
    Delete,
    /// Export a record.
    Export,
    /// Destroy a patient's data key.
    ShredKey,
    /// Rotate the master key.
    RotateKeys,
    /// Read or verify the audit trail.
    ReadAudit,
    /// Copy the whole (sealed) database.
    Backup,
}

/// What the action is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target<'a> {
    /// FHIR resource type, when the target is a resource.
    pub resource_type: Option<&'a str>,
    /// The patient compartment, when known.
    pub patient_id: Option<&'a str>,
}

impl<'a> Target<'a> {
    /// A resource in (or outside, with `None`) a patient compartment.
    pub fn resource(resource_type: &'a str, patient_id: Option<&'a str>) -> Self {
        Self {
            resource_type: Some(resource_type),
            patient_id,
        }
    }

    /// The system as a whole (keys, audit trail).
    pub fn system() -> Self {
        Self {
            resource_type: None,
            patient_id: None,
        }
    }
}

/// The basis of a decision, as the audit trail records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Basis {
    /// Policy id and version.
    pub policy: &'static str,
    /// Rule that decided (promise id and rule name).
    pub rule: &'static str,
    /// Authorisation checked.
    pub authorisation_checked: bool,
    /// Treatment relationship checked.
    pub relationship_checked: bool,
    /// Consent checked.
    pub consent_checked: bool,
    /// Emergency procedure used.
    pub emergency: bool,
    /// Consent profile applied.
    pub consent_profile: &'static str,
    /// Purpose of use.
    pub purpose: &'static str,
}

/// Proof that the decision point allowed an action. Only this crate can make one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allowed {
    basis: Basis,
    _sealed: (),
}

impl Allowed {
    /// The basis of the permission.
    pub fn basis(&self) -> &Basis {
        &self.basis
    }
}

/// The outcome of [`decide`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Allowed, with its basis.
    Allow(Allowed),
    /// Denied, with the rule that denied and its basis.
    Deny(Basis),
}

impl Decision {
    /// The basis, either way.
    pub fn basis(&self) -> &Basis {
        match self {
            Self::Allow(a) => &a.basis,
            Self::Deny(b) => b,
        }
    }
}

fn operator_may(purpose: OperatorPurpose, action: Action) -> bool {
    use Action::*;
    match purpose {
        // Loading writes (transaction bundles may also delete) and reads back what it
        // loads (duplicate checks).
        OperatorPurpose::Load => matches!(action, Create | Update | Delete | Read | Search),
        // An access or portability request: find the patient, read and export the record.
        OperatorPurpose::PatientRequest => matches!(action, Search | Read | Export),
        OperatorPurpose::KeyManagement => matches!(action, ShredKey | RotateKeys | Search),
        OperatorPurpose::AuditReview => matches!(action, ReadAudit),
        // A backup copies sealed bytes and checks the chain it copied; it opens no record.
        OperatorPurpose::Backup => matches!(action, Backup | ReadAudit),
    }
}

/// The single access decision.
pub fn decide(principal: &Principal, action: Action, target: Target<'_>) -> Decision {
    let _ = target;
    match principal {
        Principal::Operator { purpose, .. } => {
            let allowed = operator_may(*purpose, action);
            let basis = Basis {
                policy: POLICY_ID,
                rule: if allowed {
                    "PC-5 operator technical access for a declared purpose"
                } else {
                    "PC-5 action outside the operator's declared purpose"
                },
                authorisation_checked: true,
                relationship_checked: false,
                consent_checked: false,
                emergency: false,
                consent_profile: "not-applicable: technical access",
                purpose: purpose.purpose_of_use(),
            };
            if allowed {
                Decision::Allow(Allowed { basis, _sealed: () })
            } else {
                Decision::Deny(basis)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(p: OperatorPurpose, a: Action) -> bool {
        matches!(
            decide(
                &Principal::operator("t", p),
                a,
                Target::resource("Observation", Some("p1"))
            ),
            Decision::Allow(_)
        )
    }

    #[test]
    fn pc5_operator_access_is_limited_to_its_declared_purpose() {
        assert!(allowed(OperatorPurpose::Load, Action::Create));
        assert!(!allowed(OperatorPurpose::Load, Action::Export));
        assert!(allowed(OperatorPurpose::Load, Action::Delete));
        assert!(!allowed(OperatorPurpose::Load, Action::ShredKey));
        assert!(allowed(OperatorPurpose::PatientRequest, Action::Export));
        assert!(!allowed(OperatorPurpose::PatientRequest, Action::Update));
        assert!(!allowed(OperatorPurpose::KeyManagement, Action::Read));
        assert!(!allowed(OperatorPurpose::AuditReview, Action::Read));
        assert!(allowed(OperatorPurpose::AuditReview, Action::ReadAudit));
        assert!(allowed(OperatorPurpose::Backup, Action::Backup));
        assert!(!allowed(OperatorPurpose::Backup, Action::Read));
    }

    #[test]
    fn every_decision_names_policy_and_purpose() {
        let d = decide(
            &Principal::operator("t", OperatorPurpose::PatientRequest),
            Action::Read,
            Target::system(),
        );
        assert_eq!(d.basis().policy, POLICY_ID);
        assert_eq!(d.basis().purpose, "PATRQT");
    }
}
