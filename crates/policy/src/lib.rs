//! The access-decision point: `decide(principal, action, target, context) -> Decision`.
//!
//! Every read and write of patient data asks here first; the vault accepts only an
//! [`Allowed`] token, which nothing outside this crate can build, so a path to patient data
//! that skips the decision does not compile. Every decision carries its basis (policy id
//! and version, the rule that decided, controls, consent profile, purpose of use) for the
//! audit trail, allow and deny alike.
//!
//! The rules are in [`decide`](mod@decide) (one function per kind of principal, first
//! matching rule wins, default deny), written for a privacy officer to read; the nouns are
//! in [`model`] (roles, organisations, categories, rights) and [`facts`] (who asks, and
//! what is recorded about the patient: care teams, representatives, consents).
#![warn(missing_docs)]

pub mod decide;
pub mod facts;
pub mod model;
pub mod records;

pub use decide::decide;
pub use facts::{
    Context, Directive, EmergencyAccess, ExchangeScope, GivenBy, LinkStatus, LocumArrangement,
    Membership, OperatorPurpose, Organisation, PatientFacts, Period, Principal, Representation,
    RepresentativeKind, Staff, SystemClient, TechnicalGrant,
};
pub use model::{Categories, Category, ConsultingCategory, OrgKind, Rights, StaffRole};

/// Identifier and version of the policy set, logged with every decision.
pub const POLICY_ID: &str = "zorgkluis/access-policy@2";

/// What is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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
    /// Start the emergency procedure (break-the-glass) for a record.
    BreakGlass,
    /// Manage accounts and configuration.
    ManageAccounts,
}

/// What the action is on.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    /// The system as a whole (keys, accounts, the whole audit trail).
    System,
    /// A resource outside every patient compartment (organisations, practitioners).
    Directory {
        /// FHIR type.
        resource_type: &'a str,
    },
    /// A search across patients, before any hit is known.
    Search {
        /// FHIR type searched, if one.
        resource_type: Option<&'a str>,
    },
    /// Data in a patient's record.
    Record {
        /// What is known about the patient.
        facts: &'a PatientFacts,
        /// FHIR type (`AuditEvent` for the patient's audit trail).
        resource_type: &'a str,
        /// Data category.
        category: Category,
    },
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

    /// Whether the action is allowed.
    pub fn allowed(&self) -> bool {
        matches!(self, Self::Allow(_))
    }

    /// The rule that decided, in words (with the promise it keeps).
    pub fn reason(&self) -> &'static str {
        self.basis().rule
    }
}
