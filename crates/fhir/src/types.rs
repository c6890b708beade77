//! The FHIR R4 (4.0.1) resource types.

use std::fmt;

/// Every resource type of FHIR R4 4.0.1 (<http://hl7.org/fhir/R4/resourcelist.html>),
/// sorted for binary search.
const ALL: &[&str] = &[
    "Account",
    "ActivityDefinition",
    "AdverseEvent",
    "AllergyIntolerance",
    "Appointment",
    "AppointmentResponse",
    "AuditEvent",
    "Basic",
    "Binary",
    "BiologicallyDerivedProduct",
    "BodyStructure",
    "Bundle",
    "CapabilityStatement",
    "CarePlan",
    "CareTeam",
    "CatalogEntry",
    "ChargeItem",
    "ChargeItemDefinition",
    "Claim",
    "ClaimResponse",
    "ClinicalImpression",
    "CodeSystem",
    "Communication",
    "CommunicationRequest",
    "CompartmentDefinition",
    "Composition",
    "ConceptMap",
    "Condition",
    "Consent",
    "Contract",
    "Coverage",
    "CoverageEligibilityRequest",
    "CoverageEligibilityResponse",
    "DetectedIssue",
    "Device",
    "DeviceDefinition",
    "DeviceMetric",
    "DeviceRequest",
    "DeviceUseStatement",
    "DiagnosticReport",
    "DocumentManifest",
    "DocumentReference",
    "EffectEvidenceSynthesis",
    "Encounter",
    "Endpoint",
    "EnrollmentRequest",
    "EnrollmentResponse",
    "EpisodeOfCare",
    "EventDefinition",
    "Evidence",
    "EvidenceVariable",
    "ExampleScenario",
    "ExplanationOfBenefit",
    "FamilyMemberHistory",
    "Flag",
    "Goal",
    "GraphDefinition",
    "Group",
    "GuidanceResponse",
    "HealthcareService",
    "ImagingStudy",
    "Immunization",
    "ImmunizationEvaluation",
    "ImmunizationRecommendation",
    "ImplementationGuide",
    "InsurancePlan",
    "Invoice",
    "Library",
    "Linkage",
    "List",
    "Location",
    "Measure",
    "MeasureReport",
    "Media",
    "Medication",
    "MedicationAdministration",
    "MedicationDispense",
    "MedicationKnowledge",
    "MedicationRequest",
    "MedicationStatement",
    "MedicinalProduct",
    "MedicinalProductAuthorization",
    "MedicinalProductContraindication",
    "MedicinalProductIndication",
    "MedicinalProductIngredient",
    "MedicinalProductInteraction",
    "MedicinalProductManufactured",
    "MedicinalProductPackaged",
    "MedicinalProductPharmaceutical",
    "MedicinalProductUndesirableEffect",
    "MessageDefinition",
    "MessageHeader",
    "MolecularSequence",
    "NamingSystem",
    "NutritionOrder",
    "Observation",
    "ObservationDefinition",
    "OperationDefinition",
    "OperationOutcome",
    "Organization",
    "OrganizationAffiliation",
    "Parameters",
    "Patient",
    "PaymentNotice",
    "PaymentReconciliation",
    "Person",
    "PlanDefinition",
    "Practitioner",
    "PractitionerRole",
    "Procedure",
    "Provenance",
    "Questionnaire",
    "QuestionnaireResponse",
    "RelatedPerson",
    "RequestGroup",
    "ResearchDefinition",
    "ResearchElementDefinition",
    "ResearchStudy",
    "ResearchSubject",
    "RiskAssessment",
    "RiskEvidenceSynthesis",
    "Schedule",
    "SearchParameter",
    "ServiceRequest",
    "Slot",
    "Specimen",
    "SpecimenDefinition",
    "StructureDefinition",
    "StructureMap",
    "Subscription",
    "Substance",
    "SubstanceNucleicAcid",
    "SubstancePolymer",
    "SubstanceProtein",
    "SubstanceReferenceInformation",
    "SubstanceSourceMaterial",
    "SubstanceSpecification",
    "SupplyDelivery",
    "SupplyRequest",
    "Task",
    "TerminologyCapabilities",
    "TestReport",
    "TestScript",
    "ValueSet",
    "VerificationResult",
    "VisionPrescription",
];

/// A FHIR R4 resource type, known by construction: the only ways to get one are
/// [`ResourceType::parse`], the constants and [`ResourceType::all`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceType(&'static str);

/// The name is not an R4 resource type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown FHIR R4 resource type")]
pub struct UnknownResourceType;

impl ResourceType {
    /// `Account`.
    pub const ACCOUNT: Self = Self("Account");
    /// `AllergyIntolerance`.
    pub const ALLERGY_INTOLERANCE: Self = Self("AllergyIntolerance");
    /// `Appointment`.
    pub const APPOINTMENT: Self = Self("Appointment");
    /// `AuditEvent`.
    pub const AUDIT_EVENT: Self = Self("AuditEvent");
    /// `Binary`.
    pub const BINARY: Self = Self("Binary");
    /// `Bundle`.
    pub const BUNDLE: Self = Self("Bundle");
    /// `CarePlan`.
    pub const CARE_PLAN: Self = Self("CarePlan");
    /// `CareTeam`.
    pub const CARE_TEAM: Self = Self("CareTeam");
    /// `Claim`.
    pub const CLAIM: Self = Self("Claim");
    /// `Communication`.
    pub const COMMUNICATION: Self = Self("Communication");
    /// `Composition`.
    pub const COMPOSITION: Self = Self("Composition");
    /// `Condition`.
    pub const CONDITION: Self = Self("Condition");
    /// `Consent`.
    pub const CONSENT: Self = Self("Consent");
    /// `Coverage`.
    pub const COVERAGE: Self = Self("Coverage");
    /// `Device`.
    pub const DEVICE: Self = Self("Device");
    /// `DiagnosticReport`.
    pub const DIAGNOSTIC_REPORT: Self = Self("DiagnosticReport");
    /// `DocumentReference`.
    pub const DOCUMENT_REFERENCE: Self = Self("DocumentReference");
    /// `Encounter`.
    pub const ENCOUNTER: Self = Self("Encounter");
    /// `EpisodeOfCare`.
    pub const EPISODE_OF_CARE: Self = Self("EpisodeOfCare");
    /// `ExplanationOfBenefit`.
    pub const EXPLANATION_OF_BENEFIT: Self = Self("ExplanationOfBenefit");
    /// `Goal`.
    pub const GOAL: Self = Self("Goal");
    /// `Group`.
    pub const GROUP: Self = Self("Group");
    /// `ImagingStudy`.
    pub const IMAGING_STUDY: Self = Self("ImagingStudy");
    /// `Immunization`.
    pub const IMMUNIZATION: Self = Self("Immunization");
    /// `Location`.
    pub const LOCATION: Self = Self("Location");
    /// `Medication`.
    pub const MEDICATION: Self = Self("Medication");
    /// `MedicationAdministration`.
    pub const MEDICATION_ADMINISTRATION: Self = Self("MedicationAdministration");
    /// `MedicationRequest`.
    pub const MEDICATION_REQUEST: Self = Self("MedicationRequest");
    /// `MedicationStatement`.
    pub const MEDICATION_STATEMENT: Self = Self("MedicationStatement");
    /// `Observation`.
    pub const OBSERVATION: Self = Self("Observation");
    /// `OperationOutcome`.
    pub const OPERATION_OUTCOME: Self = Self("OperationOutcome");
    /// `Organization`.
    pub const ORGANIZATION: Self = Self("Organization");
    /// `Patient`.
    pub const PATIENT: Self = Self("Patient");
    /// `Person`.
    pub const PERSON: Self = Self("Person");
    /// `Practitioner`.
    pub const PRACTITIONER: Self = Self("Practitioner");
    /// `PractitionerRole`.
    pub const PRACTITIONER_ROLE: Self = Self("PractitionerRole");
    /// `Procedure`.
    pub const PROCEDURE: Self = Self("Procedure");
    /// `Provenance`.
    pub const PROVENANCE: Self = Self("Provenance");
    /// `RelatedPerson`.
    pub const RELATED_PERSON: Self = Self("RelatedPerson");
    /// `ServiceRequest`.
    pub const SERVICE_REQUEST: Self = Self("ServiceRequest");

    /// Parses a type name (case-sensitive).
    pub fn parse(name: &str) -> Result<Self, UnknownResourceType> {
        ALL.binary_search(&name)
            .map(|i| Self(ALL[i]))
            .map_err(|_| UnknownResourceType)
    }

    /// The type name.
    pub fn as_str(self) -> &'static str {
        self.0
    }

    /// All 146 R4 types, in alphabetical order.
    pub fn all() -> impl Iterator<Item = ResourceType> {
        ALL.iter().map(|n| Self(n))
    }
}

impl fmt::Display for ResourceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl fmt::Debug for ResourceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONSTANTS: &[ResourceType] = &[
        ResourceType::ACCOUNT,
        ResourceType::ALLERGY_INTOLERANCE,
        ResourceType::APPOINTMENT,
        ResourceType::AUDIT_EVENT,
        ResourceType::BINARY,
        ResourceType::BUNDLE,
        ResourceType::CARE_PLAN,
        ResourceType::CARE_TEAM,
        ResourceType::CLAIM,
        ResourceType::COMMUNICATION,
        ResourceType::COMPOSITION,
        ResourceType::CONDITION,
        ResourceType::CONSENT,
        ResourceType::COVERAGE,
        ResourceType::DEVICE,
        ResourceType::DIAGNOSTIC_REPORT,
        ResourceType::DOCUMENT_REFERENCE,
        ResourceType::ENCOUNTER,
        ResourceType::EPISODE_OF_CARE,
        ResourceType::EXPLANATION_OF_BENEFIT,
        ResourceType::GOAL,
        ResourceType::GROUP,
        ResourceType::IMAGING_STUDY,
        ResourceType::IMMUNIZATION,
        ResourceType::LOCATION,
        ResourceType::MEDICATION,
        ResourceType::MEDICATION_ADMINISTRATION,
        ResourceType::MEDICATION_REQUEST,
        ResourceType::MEDICATION_STATEMENT,
        ResourceType::OBSERVATION,
        ResourceType::OPERATION_OUTCOME,
        ResourceType::ORGANIZATION,
        ResourceType::PATIENT,
        ResourceType::PERSON,
        ResourceType::PRACTITIONER,
        ResourceType::PRACTITIONER_ROLE,
        ResourceType::PROCEDURE,
        ResourceType::PROVENANCE,
        ResourceType::RELATED_PERSON,
        ResourceType::SERVICE_REQUEST,
    ];

    #[test]
    fn the_type_list_is_sorted_complete_and_parses() {
        assert!(
            ALL.windows(2).all(|w| w[0] < w[1]),
            "sorted for binary search"
        );
        assert_eq!(ALL.len(), 146);
        for t in [
            "Patient",
            "Claim",
            "ExplanationOfBenefit",
            "ImagingStudy",
            "Provenance",
        ] {
            assert_eq!(ResourceType::parse(t).unwrap().as_str(), t);
        }
        for c in CONSTANTS {
            assert_eq!(ResourceType::parse(c.as_str()), Ok(*c), "constant {c}");
        }
        assert_eq!(ResourceType::all().count(), 146);
        assert_eq!(ResourceType::OBSERVATION.to_string(), "Observation");
        assert!(ResourceType::parse("patient").is_err());
        assert!(ResourceType::parse("").is_err());
        assert!(ResourceType::parse("NoSuchType").is_err());
    }
}
