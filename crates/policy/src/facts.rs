//! What the decision point knows when it decides: who asks (the [`Principal`]) and the
//! facts about the patient whose data it is ([`PatientFacts`]), all read from versioned
//! records (CareTeam, RelatedPerson, Consent) and the account directory.

use time::Date;
use zorgkluis_domain::Actor;

use crate::model::{Categories, ConsultingCategory, OrgKind, Rights, StaffRole};

/// A period with optional ends, inclusive, in dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Period {
    /// First day, if bounded.
    pub start: Option<Date>,
    /// Last day, if bounded.
    pub end: Option<Date>,
}

impl Period {
    /// Open at both ends.
    pub const ALWAYS: Period = Period {
        start: None,
        end: None,
    };

    /// Whether `day` lies in the period.
    pub fn contains(&self, day: Date) -> bool {
        self.start.is_none_or(|s| s <= day) && self.end.is_none_or(|e| day <= e)
    }
}

/// An organisation as the policy sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organisation {
    /// Organization resource id.
    pub id: String,
    /// Kind.
    pub kind: OrgKind,
    /// Region of the regional exchange it takes part in, if any.
    pub region: Option<String>,
    /// A stricter minors rule (PT-3): below this age, staff need a parent's consent
    /// recorded for this organisation before they see the record. `None`: the WGBO
    /// default (the treatment agreement).
    pub parental_consent_below: Option<u32>,
    /// GP-8: GP practices this organisation's locums stand in for, and when.
    pub locum_for: Vec<LocumArrangement>,
}

/// A locum arrangement (waarneming): `practice`'s patients may be seen by the locums of
/// the organisation that holds the arrangement during `period`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocumArrangement {
    /// The GP practice stood in for.
    pub practice: String,
    /// When.
    pub period: Period,
}

/// A time-limited technical access grant (PC-5) for an administrator or maintainer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TechnicalGrant {
    /// The patient the grant covers.
    pub patient_id: String,
    /// Valid until (inclusive), as a Unix timestamp.
    pub until: i64,
}

/// A member of staff, as resolved from their account at login (or at each request).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Staff {
    /// The person, as logged.
    pub actor: Actor,
    /// Their role at `organisation`.
    pub role: StaffRole,
    /// Where they work in this session.
    pub organisation: Organisation,
    /// Their Practitioner resource id (the care-team member).
    pub practitioner_id: Option<String>,
    /// Personal rights (role defaults unless an administrator changed them; CO-8).
    pub rights: Rights,
    /// Whether they accepted the confidentiality agreement (CO-8).
    pub confidentiality_accepted: bool,
    /// Technical access grants in force (PC-5).
    pub grants: Vec<TechnicalGrant>,
}

/// An API client of an organisation acting as a system, without a person behind each
/// request (OAuth 2 client credentials; SMART `system/` scopes): an import, a lab or an
/// exchange system of that organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemClient {
    /// The client as actor (`client:<id>`, role Supporting, role name `system-client`).
    pub actor: Actor,
    /// The organisation it acts for.
    pub organisation: Organisation,
}

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
    /// Managing accounts and configuration from the terminal.
    Accounts,
}

impl OperatorPurpose {
    /// v3 ActReason purpose-of-use code.
    pub fn purpose_of_use(self) -> &'static str {
        match self {
            Self::Load | Self::KeyManagement => "HOPERAT",
            Self::PatientRequest => "PATRQT",
            Self::AuditReview | Self::Backup | Self::Accounts => "HSYSADMIN",
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
    /// A member of staff, logged in.
    Staff(Box<Staff>),
    /// A patient, logged in to their own record.
    Patient {
        /// The person, as logged.
        actor: Actor,
        /// Their Patient resource id.
        patient_id: String,
    },
    /// A representative (parent, guardian, curator, mentor, authorised person).
    Representative {
        /// The person, as logged.
        actor: Actor,
        /// The RelatedPerson resources that record their authority, with the patient
        /// each is about: (patient id, RelatedPerson id).
        represents: Vec<(String, String)>,
    },
    /// An organisation's system client (API client credentials).
    System(Box<SystemClient>),
}

impl Principal {
    /// The actor, as logged.
    pub fn actor(&self) -> &Actor {
        match self {
            Self::Operator { actor, .. } | Self::Patient { actor, .. } => actor,
            Self::Representative { actor, .. } => actor,
            Self::Staff(s) => &s.actor,
            Self::System(c) => &c.actor,
        }
    }

    /// The actor, to set what only the request knows (its access point).
    pub fn actor_mut(&mut self) -> &mut Actor {
        match self {
            Self::Operator { actor, .. } | Self::Patient { actor, .. } => actor,
            Self::Representative { actor, .. } => actor,
            Self::Staff(s) => &mut s.actor,
            Self::System(c) => &mut c.actor,
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

/// Kinds of representation (CO-4, DOMAIN.md "Representatives").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RepresentativeKind {
    /// Parent with authority over a minor.
    Parent,
    /// Guardian (voogd) of a minor.
    Guardian,
    /// Curator of an adult.
    Curator,
    /// Mentor of an adult.
    Mentor,
    /// Written authorisation (gemachtigde).
    Authorised,
}

impl RepresentativeKind {
    /// Whether the representation is for a minor (and so ends at 16 under the WGBO).
    pub fn is_for_minor(self) -> bool {
        matches!(self, Self::Parent | Self::Guardian)
    }
}

/// A representation recorded as a RelatedPerson.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Representation {
    /// RelatedPerson id.
    pub related_person_id: String,
    /// Kind.
    pub kind: RepresentativeKind,
    /// What it covers.
    pub scope: Categories,
    /// When it is valid (`RelatedPerson.period`).
    pub period: Period,
    /// `RelatedPerson.active`.
    pub active: bool,
}

/// A care-team membership (from CareTeam.participant).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    /// The member's Practitioner id.
    pub practitioner_id: String,
    /// The organisation they are in the team for.
    pub organisation_id: String,
    /// When (`participant.period`, narrowed by the team's period).
    pub period: Period,
    /// The team is active (not `inactive`, `entered-in-error`, ...).
    pub active: bool,
}

/// Who gave a consent or objection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GivenBy {
    /// The patient.
    Patient,
    /// A representative (RelatedPerson id).
    Representative(String),
}

/// Status of a health-log link (PC-2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkStatus {
    /// Asked by the patient, not yet answered.
    Requested,
    /// Accepted by the provider: the link is in force.
    Accepted,
    /// Declined by the provider.
    Declined,
    /// Ended by the patient.
    Revoked,
}

/// Mitz specificity of a national-exchange consent: the data holder (one provider or
/// any) and the consulting category (one or all).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExchangeScope {
    /// The data-holding provider, or `None` for all providers.
    pub data_holder: Option<String>,
    /// The consulting category, or `None` for all.
    pub consulting: Option<ConsultingCategory>,
}

impl ExchangeScope {
    /// Number of specified elements (more specific beats less specific).
    pub fn specificity(&self) -> u8 {
        u8::from(self.data_holder.is_some()) + u8::from(self.consulting.is_some())
    }
}

/// A privacy directive recorded as a Consent resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Directive {
    /// PC-2: the patient's request to link their health log with an organisation.
    HealthLogLink {
        /// The provider.
        organisation_id: String,
        /// Where it stands.
        status: LinkStatus,
    },
    /// GP-10: objection to the regional exchange.
    RegionalObjection,
    /// GP-11: a national-exchange (LSP/Mitz) consent (`permit`) or objection.
    NationalExchange {
        /// Consent (`true`) or objection.
        permit: bool,
        /// To what.
        scope: ExchangeScope,
        /// Given by.
        given_by: Vec<GivenBy>,
    },
    /// PT-3 and the WGBO minors rule: consent to treatment at an organisation.
    TreatmentConsent {
        /// The organisation.
        organisation_id: String,
        /// Given by.
        given_by: Vec<GivenBy>,
    },
    /// CO-13: erasure requested while the legal term runs: the dossier is shielded.
    Shielded,
    /// CO-13: a legal hold (calamity, complaint, claim) the privacy officer recorded.
    LegalHold,
}

/// An emergency access (break-the-glass) in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmergencyAccess {
    /// The clinician's user id.
    pub user_id: String,
    /// Until (Unix timestamp).
    pub until: i64,
    /// The reason they gave.
    pub reason: String,
}

/// What the decision point knows about a patient.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PatientFacts {
    /// Patient id.
    pub patient_id: String,
    /// Whether the patient's record exists (a Patient resource is stored). A record that
    /// does not exist yet can be registered (see the registration rule).
    pub registered: bool,
    /// Birth date, if recorded.
    pub birth_date: Option<Date>,
    /// Care-team memberships.
    pub memberships: Vec<Membership>,
    /// Representations.
    pub representatives: Vec<Representation>,
    /// Consents, objections, links and holds in force.
    pub directives: Vec<Directive>,
    /// Emergency accesses in force.
    pub emergencies: Vec<EmergencyAccess>,
    /// The patient's GP practice (the organisation of an active GP care team), if known.
    pub gp_practice: Option<String>,
    /// The region of the patient's GP practice.
    pub home_region: Option<String>,
}

impl PatientFacts {
    /// Age in whole years on `today`; `None` without a birth date.
    pub fn age_on(&self, today: Date) -> Option<u32> {
        let b = self.birth_date?;
        let mut years = today.year() - b.year();
        if (today.month() as u8, today.day()) < (b.month() as u8, b.day()) {
            years -= 1;
        }
        // A birth date after `today` (a data error) counts as a newborn, not as unknown.
        u32::try_from(years.max(0)).ok()
    }
}

/// The circumstances of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Context<'a> {
    /// Today (for periods and ages).
    pub today: Date,
    /// Now, as a Unix timestamp (for grants and emergency accesses).
    pub now: i64,
    /// The reason given when the emergency procedure is started.
    pub emergency_reason: Option<&'a str>,
}
