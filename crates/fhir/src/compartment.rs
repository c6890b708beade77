//! The Patient compartment of FHIR R4
//! (<http://hl7.org/fhir/R4/compartmentdefinition-patient.html>): for each resource type,
//! the elements whose references put a resource in a patient's compartment.

use serde_json::Value;

use crate::reference::{parse_reference, RefTarget};
use crate::types::ResourceType;

/// Why a compartment could not be determined.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompartmentError {
    /// The resource references two different patients through compartment elements.
    #[error("the resource refers to more than one patient; a resource belongs to at most one patient's record")]
    MultiplePatients,
    /// A Patient without an id.
    #[error("a Patient needs an id")]
    MissingId,
}

/// Element paths (dotted; a step over an array means every element) per resource type,
/// from the R4 CompartmentDefinition "patient" (search parameters resolved to elements).
pub fn patient_compartment_paths(rt: ResourceType) -> &'static [&'static str] {
    match rt.as_str() {
        "Account" => &["subject"],
        "AdverseEvent" => &["subject"],
        "AllergyIntolerance" => &["patient", "recorder", "asserter"],
        "Appointment" => &["participant.actor"],
        "AppointmentResponse" => &["actor"],
        "AuditEvent" => &["agent.who", "entity.what"],
        "Basic" => &["subject", "author"],
        "BodyStructure" => &["patient"],
        "CarePlan" => &["subject", "activity.detail.performer"],
        "CareTeam" => &["subject", "participant.member"],
        "ChargeItem" => &["subject"],
        "Claim" => &["patient", "payee.party"],
        "ClaimResponse" => &["patient"],
        "ClinicalImpression" => &["subject"],
        "Communication" => &["subject", "sender", "recipient"],
        "CommunicationRequest" => &["subject", "sender", "recipient", "requester"],
        "Composition" => &["subject", "author", "attester.party"],
        "Condition" => &["subject", "asserter"],
        "Consent" => &["patient"],
        "Coverage" => &["policyHolder", "subscriber", "beneficiary", "payor"],
        "CoverageEligibilityRequest" => &["patient"],
        "CoverageEligibilityResponse" => &["patient"],
        "DetectedIssue" => &["patient"],
        "DeviceRequest" => &["subject", "performer"],
        "DeviceUseStatement" => &["subject"],
        "DiagnosticReport" => &["subject"],
        "DocumentManifest" => &["subject", "author", "recipient"],
        "DocumentReference" => &["subject", "author"],
        "Encounter" => &["subject"],
        "EnrollmentRequest" => &["candidate"],
        "EpisodeOfCare" => &["patient"],
        "ExplanationOfBenefit" => &["patient", "payee.party"],
        "FamilyMemberHistory" => &["patient"],
        "Flag" => &["subject"],
        "Goal" => &["subject"],
        "Group" => &["member.entity"],
        "ImagingStudy" => &["subject"],
        "Immunization" => &["patient"],
        "ImmunizationEvaluation" => &["patient"],
        "ImmunizationRecommendation" => &["patient"],
        "Invoice" => &["subject", "recipient"],
        "List" => &["subject", "source"],
        "MeasureReport" => &["subject"],
        "Media" => &["subject"],
        "MedicationAdministration" => &["subject", "performer.actor"],
        "MedicationDispense" => &["subject", "receiver"],
        "MedicationRequest" => &["subject"],
        "MedicationStatement" => &["subject"],
        "MolecularSequence" => &["patient"],
        "NutritionOrder" => &["patient"],
        "Observation" => &["subject", "performer"],
        "Patient" => &["link.other"],
        "Person" => &["link.target"],
        "Procedure" => &["subject", "performer.actor"],
        "Provenance" => &["target"],
        "QuestionnaireResponse" => &["subject", "author"],
        "RelatedPerson" => &["patient"],
        "RequestGroup" => &["subject", "action.participant"],
        "ResearchSubject" => &["individual"],
        "RiskAssessment" => &["subject"],
        "Schedule" => &["actor"],
        "ServiceRequest" => &["subject", "performer"],
        "Specimen" => &["subject"],
        "SupplyDelivery" => &["patient"],
        "SupplyRequest" => &["requester"],
        "VisionPrescription" => &["patient"],
        _ => &[],
    }
}

/// Whether resources of this type can be in a patient's compartment.
pub fn is_in_patient_compartment(rt: ResourceType) -> bool {
    rt == ResourceType::PATIENT || !patient_compartment_paths(rt).is_empty()
}

/// Collects the `reference` strings found at a dotted path.
pub(crate) fn references_at<'a>(value: &'a Value, path: &str, out: &mut Vec<&'a str>) {
    let (head, rest) = match path.split_once('.') {
        Some((h, r)) => (h, Some(r)),
        None => (path, None),
    };
    let Some(next) = value.get(head) else { return };
    let items: Vec<&Value> = match next {
        Value::Array(a) => a.iter().collect(),
        other => vec![other],
    };
    for item in items {
        match rest {
            Some(r) => references_at(item, r, out),
            None => {
                if let Some(s) = item.get("reference").and_then(Value::as_str) {
                    out.push(s);
                }
            }
        }
    }
}

/// The patient whose compartment the resource is in: the Patient's own id, or the id of
/// the one patient its compartment elements refer to (`Patient/{id}`, also as an absolute
/// URL). `None` when no compartment element refers to a patient.
pub fn compartment_patient(
    rt: ResourceType,
    resource: &Value,
) -> Result<Option<String>, CompartmentError> {
    if rt == ResourceType::PATIENT {
        return resource
            .get("id")
            .and_then(Value::as_str)
            .map(|id| Some(id.to_owned()))
            .ok_or(CompartmentError::MissingId);
    }
    let mut found: Option<String> = None;
    let mut refs = Vec::new();
    for path in patient_compartment_paths(rt) {
        references_at(resource, path, &mut refs);
    }
    for raw in refs {
        if let Ok(RefTarget::Local { rtype, id, .. }) = parse_reference(raw) {
            if rtype == ResourceType::PATIENT {
                match &found {
                    Some(f) if *f != id => return Err(CompartmentError::MultiplePatients),
                    _ => found = Some(id),
                }
            }
        }
    }
    Ok(found)
}

/// The raw reference strings through which a resource is in a patient's compartment:
/// `Patient/{id}` references, and `urn:uuid:` references at patient-only elements
/// (`subject`, `patient`, `beneficiary`, `individual`, `candidate`) whose target type the
/// caller resolves within a bundle.
pub fn compartment_references(rt: ResourceType, resource: &Value) -> Vec<String> {
    let mut refs = Vec::new();
    for path in patient_compartment_paths(rt) {
        let mut here = Vec::new();
        references_at(resource, path, &mut here);
        for raw in here {
            match parse_reference(raw) {
                Ok(RefTarget::Local { rtype, .. }) if rtype == ResourceType::PATIENT => {
                    refs.push(raw.to_owned())
                }
                Ok(RefTarget::Urn(_)) => refs.push(raw.to_owned()),
                _ => {}
            }
        }
    }
    refs.sort();
    refs.dedup();
    refs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rt(s: &str) -> ResourceType {
        ResourceType::parse(s).unwrap()
    }

    #[test]
    fn every_named_type_exists() {
        for t in ResourceType::all() {
            let _ = patient_compartment_paths(t);
        }
        assert!(is_in_patient_compartment(rt("Observation")));
        assert!(!is_in_patient_compartment(rt("Organization")));
        assert!(!is_in_patient_compartment(rt("Practitioner")));
    }

    #[test]
    fn compartment_comes_from_patient_references() {
        let obs = json!({"resourceType": "Observation", "subject": {"reference": "Patient/p1"},
                         "performer": [{"reference": "Practitioner/d1"}]});
        assert_eq!(
            compartment_patient(rt("Observation"), &obs)
                .unwrap()
                .as_deref(),
            Some("p1")
        );
        let team = json!({"resourceType": "CareTeam", "participant": [{"member": {"reference": "http://x/fhir/Patient/p2/_history/3"}}]});
        assert_eq!(
            compartment_patient(rt("CareTeam"), &team)
                .unwrap()
                .as_deref(),
            Some("p2")
        );
        let org = json!({"resourceType": "Organization", "id": "o"});
        assert_eq!(compartment_patient(rt("Organization"), &org).unwrap(), None);
        let pat = json!({"resourceType": "Patient", "id": "me"});
        assert_eq!(
            compartment_patient(ResourceType::PATIENT, &pat)
                .unwrap()
                .as_deref(),
            Some("me")
        );
    }

    #[test]
    fn two_patients_in_one_resource_are_refused() {
        let obs = json!({"resourceType": "Observation", "subject": {"reference": "Patient/p1"},
                         "performer": [{"reference": "Patient/p2"}]});
        assert_eq!(
            compartment_patient(rt("Observation"), &obs),
            Err(CompartmentError::MultiplePatients)
        );
    }

    #[test]
    fn urn_references_are_reported_for_bundle_resolution() {
        let enc = json!({"resourceType": "Encounter", "subject": {"reference": "urn:uuid:0b0d3f2e-1111-4a4a-9a9a-1234567890ab"}});
        assert_eq!(compartment_references(rt("Encounter"), &enc).len(), 1);
    }
}
