//! The nouns of the policy: organisations, staff roles, data categories and rights.

use serde::{Deserialize, Serialize};

/// Kinds of organisation (DOMAIN.md, "Organisations and roles").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrgKind {
    /// Huisartsenpraktijk.
    GpPractice,
    /// Fysiotherapiepraktijk.
    PhysioPractice,
    /// Care and coaching organisation (WMO, Jeugdwet, WLZ).
    CareOrganisation,
    /// Hospital outpatient clinic.
    HospitalClinic,
    /// Pharmacy.
    Pharmacy,
    /// Out-of-hours GP post (huisartsenpost).
    GpPost,
    /// Laboratory.
    Laboratory,
}

impl OrgKind {
    /// All kinds.
    pub const ALL: [OrgKind; 7] = [
        Self::GpPractice,
        Self::PhysioPractice,
        Self::CareOrganisation,
        Self::HospitalClinic,
        Self::Pharmacy,
        Self::GpPost,
        Self::Laboratory,
    ];

    /// The code used in configuration and `urn:zorgkluis:organisation-kind`.
    pub fn code(self) -> &'static str {
        match self {
            Self::GpPractice => "gp_practice",
            Self::PhysioPractice => "physio_practice",
            Self::CareOrganisation => "care_organisation",
            Self::HospitalClinic => "hospital_clinic",
            Self::Pharmacy => "pharmacy",
            Self::GpPost => "gp_post",
            Self::Laboratory => "laboratory",
        }
    }

    /// Parses [`OrgKind::code`].
    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.code() == code)
    }

    /// The Mitz consulting category staff of this kind of organisation fall in.
    pub fn consulting_category(self) -> ConsultingCategory {
        match self {
            Self::GpPractice | Self::GpPost => ConsultingCategory::GpAndPosts,
            Self::HospitalClinic => ConsultingCategory::Hospitals,
            Self::Pharmacy => ConsultingCategory::Pharmacies,
            Self::Laboratory => ConsultingCategory::Laboratories,
            Self::PhysioPractice | Self::CareOrganisation => ConsultingCategory::NursingAndCare,
        }
    }
}

/// Mitz consulting categories (who looks at exchanged data).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsultingCategory {
    /// GPs and out-of-hours GP posts.
    GpAndPosts,
    /// Hospitals and clinics.
    Hospitals,
    /// Mental health care.
    MentalHealth,
    /// Nursing and care.
    NursingAndCare,
    /// Pharmacies.
    Pharmacies,
    /// Laboratories.
    Laboratories,
}

/// Staff roles (DOMAIN.md table), one per account and organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StaffRole {
    /// Huisarts.
    Gp,
    /// Doktersassistente.
    Assistant,
    /// Praktijkondersteuner (POH).
    PracticeNurse,
    /// Verpleegkundige.
    Nurse,
    /// Fysiotherapeut.
    Physiotherapist,
    /// Coach / begeleider.
    Coach,
    /// Medisch specialist.
    MedicalSpecialist,
    /// Waarnemend huisarts, also the GP on duty at the out-of-hours post.
    LocumGp,
    /// Apotheker.
    Pharmacist,
    /// Functionaris gegevensbescherming (FG/DPO).
    PrivacyOfficer,
    /// Applicatiebeheerder: accounts and configuration.
    Administrator,
    /// Technical maintainer.
    Maintainer,
}

impl StaffRole {
    /// All roles.
    pub const ALL: [StaffRole; 12] = [
        Self::Gp,
        Self::Assistant,
        Self::PracticeNurse,
        Self::Nurse,
        Self::Physiotherapist,
        Self::Coach,
        Self::MedicalSpecialist,
        Self::LocumGp,
        Self::Pharmacist,
        Self::PrivacyOfficer,
        Self::Administrator,
        Self::Maintainer,
    ];

    /// The code used in accounts and `urn:zorgkluis:role`.
    pub fn code(self) -> &'static str {
        match self {
            Self::Gp => "gp",
            Self::Assistant => "assistant",
            Self::PracticeNurse => "practice_nurse",
            Self::Nurse => "nurse",
            Self::Physiotherapist => "physiotherapist",
            Self::Coach => "coach",
            Self::MedicalSpecialist => "medical_specialist",
            Self::LocumGp => "locum_gp",
            Self::Pharmacist => "pharmacist",
            Self::PrivacyOfficer => "privacy_officer",
            Self::Administrator => "administrator",
            Self::Maintainer => "maintainer",
        }
    }

    /// Parses [`StaffRole::code`].
    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.code() == code)
    }

    /// Whether the role treats patients (and so may be in a care team or use the
    /// emergency procedure).
    pub fn is_clinical(self) -> bool {
        !matches!(
            self,
            Self::PrivacyOfficer | Self::Administrator | Self::Maintainer
        )
    }

    /// Whether the role may open a record with the emergency procedure (a physician or
    /// nurse; DOMAIN.md "Break-the-glass").
    pub fn may_break_glass(self) -> bool {
        matches!(
            self,
            Self::Gp | Self::LocumGp | Self::MedicalSpecialist | Self::Nurse | Self::PracticeNurse
        )
    }

    /// Whether the role is registered in BIG (and so carries a BIG number).
    pub fn is_big_registered(self) -> bool {
        matches!(
            self,
            Self::Gp
                | Self::LocumGp
                | Self::MedicalSpecialist
                | Self::Nurse
                | Self::PracticeNurse
                | Self::Physiotherapist
                | Self::Pharmacist
        )
    }

    /// ISO 21298 functional role logged for this role.
    pub fn functional_role(self) -> zorgkluis_domain::FunctionalRole {
        use zorgkluis_domain::FunctionalRole as F;
        match self {
            Self::Gp | Self::MedicalSpecialist | Self::Physiotherapist | Self::Coach => {
                F::PersonalHealthcareProfessional
            }
            Self::Assistant
            | Self::PracticeNurse
            | Self::Nurse
            | Self::LocumGp
            | Self::Pharmacist => F::DirectlyInvolved,
            Self::PrivacyOfficer | Self::Administrator | Self::Maintainer => F::Supporting,
        }
    }
}

/// Data categories: the unit in which rights are granted and consents are given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Name, address, contact details, identifiers (Patient).
    Demographics,
    /// Appointments and the agenda.
    Appointments,
    /// Medication: prescriptions, use, dispensing.
    Medication,
    /// Allergies and intolerances.
    Allergies,
    /// Contra-indications and alerts.
    ContraIndications,
    /// Problems and conditions.
    Conditions,
    /// Measurements and lab results.
    Results,
    /// Consult reports, letters and documents.
    Reports,
    /// The rest of the clinical record: contacts, procedures, plans, immunisations.
    CareRecord,
    /// Messages between patient and practice.
    Messages,
    /// Care teams, representatives, consents, insurance.
    Administrative,
    /// Data the patient entered in their own health log (PC-1, PC-2).
    HealthLog,
    /// The patient's personal notes (HP-4+).
    PersonalNote,
    /// Not patient data: organisations, practitioners, medication definitions.
    Directory,
}

impl Category {
    /// All categories.
    pub const ALL: [Category; 14] = [
        Self::Demographics,
        Self::Appointments,
        Self::Medication,
        Self::Allergies,
        Self::ContraIndications,
        Self::Conditions,
        Self::Results,
        Self::Reports,
        Self::CareRecord,
        Self::Messages,
        Self::Administrative,
        Self::HealthLog,
        Self::PersonalNote,
        Self::Directory,
    ];

    /// The code stored with each resource version and used in configuration.
    pub fn code(self) -> &'static str {
        match self {
            Self::Demographics => "demographics",
            Self::Appointments => "appointments",
            Self::Medication => "medication",
            Self::Allergies => "allergies",
            Self::ContraIndications => "contra_indications",
            Self::Conditions => "conditions",
            Self::Results => "results",
            Self::Reports => "reports",
            Self::CareRecord => "care_record",
            Self::Messages => "messages",
            Self::Administrative => "administrative",
            Self::HealthLog => "health_log",
            Self::PersonalNote => "personal_note",
            Self::Directory => "directory",
        }
    }

    /// Parses [`Category::code`].
    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.code() == code)
    }

    const fn bit(self) -> u16 {
        1 << (self as u16)
    }

    /// The category of a resource: by type, except that the patient's own entries
    /// (`meta.tag` `urn:zorgkluis:provenance|patient-entered`) are health-log data and
    /// personal notes (`urn:zorgkluis:personal-note`) are the patient's alone.
    pub fn of(resource_type: &str, resource: &serde_json::Value) -> Self {
        let tagged = |system: &str, code: Option<&str>| {
            resource
                .pointer("/meta/tag")
                .and_then(|t| t.as_array())
                .is_some_and(|tags| {
                    tags.iter().any(|t| {
                        t.get("system").and_then(|s| s.as_str()) == Some(system)
                            && code
                                .is_none_or(|c| t.get("code").and_then(|v| v.as_str()) == Some(c))
                    })
                })
        };
        if tagged(PERSONAL_NOTE_TAG, None) {
            return Self::PersonalNote;
        }
        if tagged(PROVENANCE_TAG, Some("patient-entered")) {
            return Self::HealthLog;
        }
        Self::of_type(resource_type)
    }

    /// The category of a resource type (without looking at its tags).
    pub fn of_type(resource_type: &str) -> Self {
        match resource_type {
            "Patient" => Self::Demographics,
            "Appointment" | "AppointmentResponse" => Self::Appointments,
            "MedicationRequest"
            | "MedicationStatement"
            | "MedicationDispense"
            | "MedicationAdministration" => Self::Medication,
            "AllergyIntolerance" => Self::Allergies,
            "Flag" | "DetectedIssue" => Self::ContraIndications,
            "Condition" => Self::Conditions,
            "Observation" | "DiagnosticReport" | "Specimen" | "ImagingStudy"
            | "MolecularSequence" => Self::Results,
            "DocumentReference"
            | "Composition"
            | "DocumentManifest"
            | "QuestionnaireResponse"
            | "Media" => Self::Reports,
            "Communication" | "CommunicationRequest" => Self::Messages,
            "CareTeam"
            | "Consent"
            | "RelatedPerson"
            | "Coverage"
            | "Account"
            | "Claim"
            | "ClaimResponse"
            | "ExplanationOfBenefit"
            | "Invoice"
            | "Person"
            | "CoverageEligibilityRequest"
            | "CoverageEligibilityResponse"
            | "EnrollmentRequest"
            | "PaymentNotice"
            | "Basic"
            | "List"
            | "Task"
            | "Provenance" => Self::Administrative,
            "Organization"
            | "Practitioner"
            | "PractitionerRole"
            | "Location"
            | "HealthcareService"
            | "Endpoint"
            | "Medication"
            | "Substance"
            | "Device"
            | "Group"
            | "ValueSet"
            | "CodeSystem"
            | "Questionnaire"
            | "StructureDefinition"
            | "OrganizationAffiliation"
            // A practitioner's agenda and its open slots: availability, not patient data.
            | "Schedule"
            | "Slot" => Self::Directory,
            _ => Self::CareRecord,
        }
    }
}

/// `meta.tag` system marking who entered a resource.
pub const PROVENANCE_TAG: &str = "urn:zorgkluis:provenance";
/// `meta.tag` system marking a personal note (HP-4+).
pub const PERSONAL_NOTE_TAG: &str = "urn:zorgkluis:personal-note";

/// A set of categories.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Categories(u16);

impl Categories {
    /// No category.
    pub const NONE: Categories = Categories(0);

    /// The given categories.
    pub const fn of(list: &[Category]) -> Self {
        let mut bits = 0;
        let mut i = 0;
        while i < list.len() {
            bits |= list[i].bit();
            i += 1;
        }
        Self(bits)
    }

    /// Whether `c` is in the set.
    pub fn contains(self, c: Category) -> bool {
        self.0 & c.bit() != 0
    }

    /// The union.
    pub const fn with(self, other: Categories) -> Self {
        Self(self.0 | other.0)
    }

    /// The set without `other`.
    pub fn without(self, other: Categories) -> Self {
        Self(self.0 & !other.0)
    }

    /// The categories, in order.
    pub fn iter(self) -> impl Iterator<Item = Category> {
        Category::ALL.into_iter().filter(move |c| self.contains(*c))
    }

    /// Parses a comma-separated list of codes (`all` and `clinical` are accepted too).
    pub fn parse_list(s: &str) -> Option<Self> {
        let mut set = Self::NONE;
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            set = set.with(match part {
                "all" => CLINICAL.with(Categories::of(&[
                    Category::Messages,
                    Category::Administrative,
                ])),
                "clinical" => CLINICAL,
                other => Categories::of(&[Category::parse(other)?]),
            });
        }
        Some(set)
    }

    /// Comma-separated codes.
    pub fn to_list(self) -> String {
        self.iter()
            .map(Category::code)
            .collect::<Vec<_>>()
            .join(",")
    }
}

impl std::fmt::Debug for Categories {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

/// The medical dossier: what a treating clinician sees (not messages, administration,
/// the unlinked health log or personal notes).
pub const CLINICAL: Categories = Categories::of(&[
    Category::Demographics,
    Category::Appointments,
    Category::Medication,
    Category::Allergies,
    Category::ContraIndications,
    Category::Conditions,
    Category::Results,
    Category::Reports,
    Category::CareRecord,
]);

/// GP-10: what the regional exchange shows pharmacies, locums and the out-of-hours post:
/// medication, allergies, intolerances and contra-indications (and who the patient is).
pub const REGIONAL_EXCHANGE: Categories = Categories::of(&[
    Category::Demographics,
    Category::Medication,
    Category::Allergies,
    Category::ContraIndications,
]);

/// GP-11: the summary the national exchange (LSP) shows GPs and posts elsewhere.
pub const NATIONAL_SUMMARY: Categories = Categories::of(&[
    Category::Demographics,
    Category::Conditions,
    Category::Medication,
    Category::Allergies,
    Category::ContraIndications,
]);

/// Per-user rights to see, enter, change and delete, per category (CO-8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Rights {
    /// May see.
    pub read: Categories,
    /// May enter new data.
    pub enter: Categories,
    /// May change existing data.
    pub change: Categories,
    /// May delete.
    pub delete: Categories,
}

impl Rights {
    /// No rights at all.
    pub const NONE: Rights = Rights {
        read: Categories::NONE,
        enter: Categories::NONE,
        change: Categories::NONE,
        delete: Categories::NONE,
    };

    /// The defaults of a role; an administrator narrows or widens them per user.
    pub fn role_default(role: StaffRole) -> Self {
        use Category::*;
        let care = CLINICAL.with(Categories::of(&[Messages, Administrative]));
        match role {
            // Full dossier of their own patients (DOMAIN.md).
            StaffRole::Gp
            | StaffRole::MedicalSpecialist
            | StaffRole::Physiotherapist
            | StaffRole::Coach => Self {
                read: care,
                enter: care,
                change: care,
                delete: care.without(Categories::of(&[Demographics])),
            },
            StaffRole::PracticeNurse | StaffRole::Nurse => Self {
                read: care,
                enter: care,
                change: care,
                delete: Categories::NONE,
            },
            // Demographics, appointments, medication; the dossier as the practice decides.
            StaffRole::Assistant => Self {
                read: Categories::of(&[
                    Demographics,
                    Appointments,
                    Medication,
                    Allergies,
                    ContraIndications,
                    Messages,
                    Administrative,
                ]),
                // Registration at the desk: details, care team, insurance, recorded consents.
                enter: Categories::of(&[Demographics, Appointments, Messages, Administrative]),
                change: Categories::of(&[Demographics, Appointments, Messages, Administrative]),
                delete: Categories::of(&[Appointments]),
            },
            // What is needed for the contact.
            StaffRole::LocumGp => Self {
                read: care,
                enter: Categories::of(&[CareRecord, Results, Reports, Medication, Conditions]),
                change: Categories::NONE,
                delete: Categories::NONE,
            },
            StaffRole::Pharmacist => Self {
                read: REGIONAL_EXCHANGE,
                enter: Categories::of(&[Medication]),
                change: Categories::of(&[Medication]),
                delete: Categories::NONE,
            },
            StaffRole::PrivacyOfficer | StaffRole::Administrator | StaffRole::Maintainer => {
                Self::NONE
            }
        }
    }
}
