//! The Patient compartment of FHIR R4: which resources belong to one patient's record.
//!
//! Source: the CompartmentDefinition "patient" of FHIR R4 4.0.1
//! (<http://hl7.org/fhir/R4/compartmentdefinition-patient.html>), with each search parameter
//! resolved to the element path of its R4 SearchParameter expression
//! (e.g. Condition `patient` = `Condition.subject.where(resolve() is Patient)` → `subject`).
//! A `where(resolve() is Patient)` filter is applied by only counting references whose
//! target is a Patient.

use serde_json::Value;

use crate::reference::{parse_reference, RefTarget};
use crate::types::ResourceType;

/// Why the compartment of a resource cannot be determined.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompartmentError {
    /// Compartment elements refer to two different patients. Zorgkluis keeps every
    /// resource in at most one patient's record.
    #[error("the resource refers to more than one patient; a resource belongs to at most one patient's record")]
    MultiplePatients,
    /// A Patient without an id.
    #[error("a Patient needs an id")]
    MissingId,
}

/// The R4 patient-compartment search parameters of a resource type, each as
/// `(parameter, element path)`; a parameter with two paths appears twice.
pub fn patient_compartment_params(rt: ResourceType) -> &'static [(&'static str, &'static str)] {
    match rt.as_str() {
        "Account" => &[("subject", "subject")],
        "AdverseEvent" => &[("subject", "subject")],
        "AllergyIntolerance" => &[
            ("patient", "patient"),
            ("recorder", "recorder"),
            ("asserter", "asserter"),
        ],
        "Appointment" => &[("actor", "participant.actor")],
        "AppointmentResponse" => &[("actor", "actor")],
        "AuditEvent" => &[("patient", "agent.who"), ("patient", "entity.what")],
        "Basic" => &[("patient", "subject"), ("author", "author")],
        "BodyStructure" => &[("patient", "patient")],
        "CarePlan" => &[
            ("patient", "subject"),
            ("performer", "activity.detail.performer"),
        ],
        "CareTeam" => &[
            ("patient", "subject"),
            ("participant", "participant.member"),
        ],
        "ChargeItem" => &[("subject", "subject")],
        "Claim" => &[("patient", "patient"), ("payee", "payee.party")],
        "ClaimResponse" => &[("patient", "patient")],
        "ClinicalImpression" => &[("subject", "subject")],
        "Communication" => &[
            ("subject", "subject"),
            ("sender", "sender"),
            ("recipient", "recipient"),
        ],
        "CommunicationRequest" => &[
            ("subject", "subject"),
            ("sender", "sender"),
            ("recipient", "recipient"),
            ("requester", "requester"),
        ],
        "Composition" => &[
            ("subject", "subject"),
            ("author", "author"),
            ("attester", "attester.party"),
        ],
        "Condition" => &[("patient", "subject"), ("asserter", "asserter")],
        "Consent" => &[("patient", "patient")],
        "Coverage" => &[
            ("policy-holder", "policyHolder"),
            ("subscriber", "subscriber"),
            ("beneficiary", "beneficiary"),
            ("payor", "payor"),
        ],
        "CoverageEligibilityRequest" => &[("patient", "patient")],
        "CoverageEligibilityResponse" => &[("patient", "patient")],
        "DetectedIssue" => &[("patient", "patient")],
        "DeviceRequest" => &[("subject", "subject"), ("performer", "performer")],
        "DeviceUseStatement" => &[("subject", "subject")],
        "DiagnosticReport" => &[("subject", "subject")],
        "DocumentManifest" => &[
            ("subject", "subject"),
            ("author", "author"),
            ("recipient", "recipient"),
        ],
        "DocumentReference" => &[("subject", "subject"), ("author", "author")],
        "Encounter" => &[("patient", "subject")],
        "EnrollmentRequest" => &[("subject", "candidate")],
        "EpisodeOfCare" => &[("patient", "patient")],
        "ExplanationOfBenefit" => &[("patient", "patient"), ("payee", "payee.party")],
        "FamilyMemberHistory" => &[("patient", "patient")],
        "Flag" => &[("patient", "subject")],
        "Goal" => &[("patient", "subject")],
        "Group" => &[("member", "member.entity")],
        "ImagingStudy" => &[("patient", "subject")],
        "Immunization" => &[("patient", "patient")],
        "ImmunizationEvaluation" => &[("patient", "patient")],
        "ImmunizationRecommendation" => &[("patient", "patient")],
        "Invoice" => &[
            ("subject", "subject"),
            ("patient", "subject"),
            ("recipient", "recipient"),
        ],
        "List" => &[("subject", "subject"), ("source", "source")],
        "MeasureReport" => &[("patient", "subject")],
        "Media" => &[("subject", "subject")],
        "MedicationAdministration" => &[
            ("patient", "subject"),
            ("performer", "performer.actor"),
            ("subject", "subject"),
        ],
        "MedicationDispense" => &[
            ("subject", "subject"),
            ("patient", "subject"),
            ("receiver", "receiver"),
        ],
        "MedicationRequest" => &[("subject", "subject")],
        "MedicationStatement" => &[("subject", "subject")],
        "MolecularSequence" => &[("patient", "patient")],
        "NutritionOrder" => &[("patient", "patient")],
        "Observation" => &[("subject", "subject"), ("performer", "performer")],
        "Patient" => &[("link", "link.other")],
        "Person" => &[("patient", "link.target")],
        "Procedure" => &[("patient", "subject"), ("performer", "performer.actor")],
        "Provenance" => &[("patient", "target")],
        "QuestionnaireResponse" => &[("subject", "subject"), ("author", "author")],
        "RelatedPerson" => &[("patient", "patient")],
        "RequestGroup" => &[
            ("subject", "subject"),
            ("participant", "action.participant"),
        ],
        "ResearchSubject" => &[("individual", "individual")],
        "RiskAssessment" => &[("subject", "subject")],
        "Schedule" => &[("actor", "actor")],
        "ServiceRequest" => &[("subject", "subject"), ("performer", "performer")],
        "Specimen" => &[("subject", "subject")],
        "SupplyDelivery" => &[("patient", "patient")],
        "SupplyRequest" => &[("subject", "deliverTo")],
        "VisionPrescription" => &[("patient", "patient")],
        _ => &[],
    }
}

/// The element paths (dotted; a step over an array means every element) whose references
/// put a resource of this type in a patient's compartment: the distinct paths of
/// [`patient_compartment_params`]. Empty for types that are never in the compartment.
/// For Patient this is `link.other`; a Patient is also in its own compartment.
pub fn patient_compartment_paths(rt: ResourceType) -> &'static [&'static str] {
    match rt.as_str() {
        "Account"
        | "AdverseEvent"
        | "ChargeItem"
        | "ClinicalImpression"
        | "DeviceUseStatement"
        | "DiagnosticReport"
        | "Encounter"
        | "Flag"
        | "Goal"
        | "ImagingStudy"
        | "MeasureReport"
        | "Media"
        | "MedicationRequest"
        | "MedicationStatement"
        | "RiskAssessment"
        | "Specimen" => &["subject"],
        "BodyStructure"
        | "ClaimResponse"
        | "Consent"
        | "CoverageEligibilityRequest"
        | "CoverageEligibilityResponse"
        | "DetectedIssue"
        | "EpisodeOfCare"
        | "FamilyMemberHistory"
        | "Immunization"
        | "ImmunizationEvaluation"
        | "ImmunizationRecommendation"
        | "MolecularSequence"
        | "NutritionOrder"
        | "RelatedPerson"
        | "SupplyDelivery"
        | "VisionPrescription" => &["patient"],
        "AllergyIntolerance" => &["patient", "recorder", "asserter"],
        "Appointment" => &["participant.actor"],
        "AppointmentResponse" | "Schedule" => &["actor"],
        "AuditEvent" => &["agent.who", "entity.what"],
        "Basic" => &["subject", "author"],
        "CarePlan" => &["subject", "activity.detail.performer"],
        "CareTeam" => &["subject", "participant.member"],
        "Claim" | "ExplanationOfBenefit" => &["patient", "payee.party"],
        "Communication" => &["subject", "sender", "recipient"],
        "CommunicationRequest" => &["subject", "sender", "recipient", "requester"],
        "Composition" => &["subject", "author", "attester.party"],
        "Condition" => &["subject", "asserter"],
        "Coverage" => &["policyHolder", "subscriber", "beneficiary", "payor"],
        "DeviceRequest" | "Observation" | "ServiceRequest" => &["subject", "performer"],
        "DocumentManifest" => &["subject", "author", "recipient"],
        "DocumentReference" | "QuestionnaireResponse" => &["subject", "author"],
        "EnrollmentRequest" => &["candidate"],
        "Group" => &["member.entity"],
        "Invoice" => &["subject", "recipient"],
        "List" => &["subject", "source"],
        "MedicationAdministration" => &["subject", "performer.actor"],
        "MedicationDispense" => &["subject", "receiver"],
        "Patient" => &["link.other"],
        "Person" => &["link.target"],
        "Procedure" => &["subject", "performer.actor"],
        "Provenance" => &["target"],
        "RequestGroup" => &["subject", "action.participant"],
        "ResearchSubject" => &["individual"],
        "SupplyRequest" => &["deliverTo"],
        _ => &[],
    }
}

/// Whether resources of this type can be in a patient's compartment.
pub fn is_in_patient_compartment(rt: ResourceType) -> bool {
    !patient_compartment_paths(rt).is_empty()
}

/// Calls `f` with every Reference object found at a dotted path.
pub(crate) fn reference_objects_at<'a>(
    value: &'a Value,
    path: &str,
    f: &mut dyn FnMut(&'a serde_json::Map<String, Value>),
) {
    let (head, rest) = match path.split_once('.') {
        Some((h, r)) => (h, Some(r)),
        None => (path, None),
    };
    let next = match value.get(head) {
        Some(v) => v,
        None => return,
    };
    let items = match next {
        Value::Array(a) => a.as_slice(),
        other => std::slice::from_ref(other),
    };
    for item in items {
        match rest {
            Some(r) => reference_objects_at(item, r, f),
            None => {
                if let Value::Object(obj) = item {
                    if obj.get("reference").is_some_and(Value::is_string) {
                        f(obj);
                    }
                }
            }
        }
    }
}

/// The patient id a reference string names: `Patient/{id}`, `Patient/{id}/_history/n`, or
/// an absolute URL ending so.
fn patient_id_of(raw: &str) -> Option<String> {
    let target = parse_reference(raw).ok()?;
    match target.type_and_id() {
        Some((rt, id)) if rt == ResourceType::PATIENT => Some(id.to_owned()),
        _ => None,
    }
}

/// The patient whose compartment the resource is in.
///
/// - Patient: its own id (`Err(MissingId)` without one).
/// - A compartment type: the id of the Patient referenced at its compartment paths, as
///   `Patient/{id}` or an absolute URL ending in `/Patient/{id}` (`/_history/n` ignored).
///   `None` when none of them refers to a Patient (e.g. only `urn:uuid:` references, which
///   the caller resolves with [`compartment_reference`]); `Err(MultiplePatients)` when two
///   different patients are referenced.
/// - Any other type: `None`.
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
    let mut conflict = false;
    for path in patient_compartment_paths(rt) {
        reference_objects_at(resource, path, &mut |obj| {
            let Some(id) = obj
                .get("reference")
                .and_then(Value::as_str)
                .and_then(patient_id_of)
            else {
                return;
            };
            match &found {
                Some(f) if *f != id => conflict = true,
                Some(_) => {}
                None => found = Some(id),
            }
        });
    }
    if conflict {
        Err(CompartmentError::MultiplePatients)
    } else {
        Ok(found)
    }
}

/// Last path steps whose element can only, or primarily, refer to the patient.
const PATIENT_ELEMENTS: &[&str] = &[
    "patient",
    "subject",
    "beneficiary",
    "individual",
    "candidate",
];

/// The raw reference string through which a resource is in a patient's compartment, for
/// callers that still have to resolve it (importing a Bundle whose entries refer to each
/// other by `urn:uuid:`).
///
/// The rule: at the type's compartment paths, a reference qualifies when it names a
/// Patient (`Patient/{id}`, also absolute), or when it is a `urn:` reference and either its
/// Reference has `"type": "Patient"` or its element is a patient element (`patient`,
/// `subject`, `beneficiary`, `individual`, `candidate`). A `urn:` reference in `subject`
/// may still resolve to a Group or Device: the caller checks the resolved type.
/// Two qualifying references that differ (after reducing `Patient` URLs to `Patient/{id}`)
/// give `Err(MultiplePatients)`. For a Patient: `Patient/{id}` of its own id.
pub fn compartment_reference(
    rt: ResourceType,
    resource: &Value,
) -> Result<Option<String>, CompartmentError> {
    if rt == ResourceType::PATIENT {
        return compartment_patient(rt, resource).map(|id| id.map(|id| format!("Patient/{id}")));
    }
    let mut found: Option<(String, String)> = None; // (key, raw)
    let mut conflict = false;
    for path in patient_compartment_paths(rt) {
        let element = path.rsplit('.').next().unwrap_or(path);
        let patient_element = PATIENT_ELEMENTS.contains(&element);
        reference_objects_at(resource, path, &mut |obj| {
            let Some(raw) = obj.get("reference").and_then(Value::as_str) else {
                return;
            };
            let key = if let Some(id) = patient_id_of(raw) {
                format!("Patient/{id}")
            } else if matches!(parse_reference(raw), Ok(RefTarget::Urn(_)))
                && (patient_element || obj.get("type").and_then(Value::as_str) == Some("Patient"))
            {
                raw.to_owned()
            } else {
                return;
            };
            match &found {
                Some((k, _)) if *k != key => conflict = true,
                Some(_) => {}
                None => found = Some((key, raw.to_owned())),
            }
        });
    }
    if conflict {
        Err(CompartmentError::MultiplePatients)
    } else {
        Ok(found.map(|(_, raw)| raw))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rt(s: &str) -> ResourceType {
        ResourceType::parse(s).unwrap()
    }

    /// The resources the R4 definition lists as never in the compartment.
    const NEVER: &[&str] = &[
        "ActivityDefinition",
        "Binary",
        "BiologicallyDerivedProduct",
        "Bundle",
        "CapabilityStatement",
        "CatalogEntry",
        "ChargeItemDefinition",
        "CodeSystem",
        "CompartmentDefinition",
        "ConceptMap",
        "Contract",
        "Device",
        "DeviceDefinition",
        "DeviceMetric",
        "EffectEvidenceSynthesis",
        "Endpoint",
        "EnrollmentResponse",
        "EventDefinition",
        "Evidence",
        "EvidenceVariable",
        "ExampleScenario",
        "GraphDefinition",
        "GuidanceResponse",
        "HealthcareService",
        "ImplementationGuide",
        "InsurancePlan",
        "Library",
        "Linkage",
        "Location",
        "Measure",
        "Medication",
        "MedicationKnowledge",
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
        "NamingSystem",
        "ObservationDefinition",
        "OperationDefinition",
        "OperationOutcome",
        "Organization",
        "OrganizationAffiliation",
        "PaymentNotice",
        "PaymentReconciliation",
        "PlanDefinition",
        "Practitioner",
        "PractitionerRole",
        "Questionnaire",
        "ResearchDefinition",
        "ResearchElementDefinition",
        "ResearchStudy",
        "RiskEvidenceSynthesis",
        "SearchParameter",
        "Slot",
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
        "Task",
        "TerminologyCapabilities",
        "TestReport",
        "TestScript",
        "ValueSet",
        "VerificationResult",
    ];

    #[test]
    fn the_table_covers_every_r4_type_as_the_definition_does() {
        let mut inside = 0;
        for t in ResourceType::all() {
            let never = NEVER.contains(&t.as_str()) || t.as_str() == "Parameters";
            assert_eq!(is_in_patient_compartment(t), !never, "{t}");
            inside += usize::from(!never);
            // The paths are exactly the distinct paths of the parameters.
            let mut from_params: Vec<&str> = patient_compartment_params(t)
                .iter()
                .map(|(_, p)| *p)
                .collect();
            from_params.dedup();
            from_params.sort_unstable();
            from_params.dedup();
            let mut paths = patient_compartment_paths(t).to_vec();
            paths.sort_unstable();
            assert_eq!(paths, from_params, "{t}");
        }
        assert_eq!(inside, 66, "the R4 definition lists 66 compartment types");
        assert_eq!(
            patient_compartment_paths(rt("SupplyRequest")),
            ["deliverTo"]
        );
    }

    #[test]
    fn compartment_comes_from_patient_references() {
        let obs = json!({"resourceType": "Observation", "subject": {"reference": "Patient/p1"},
                         "performer": [{"reference": "Practitioner/d1"}, {"reference": "Patient/p1"}]});
        assert_eq!(
            compartment_patient(ResourceType::OBSERVATION, &obs),
            Ok(Some("p1".into()))
        );
        let team = json!({"resourceType": "CareTeam", "participant": [{"member": {"reference": "Practitioner/x"}},
            {"member": {"reference": "http://x/fhir/Patient/p2/_history/3"}}]});
        assert_eq!(
            compartment_patient(rt("CareTeam"), &team),
            Ok(Some("p2".into()))
        );
        let claim = json!({"resourceType": "Claim", "patient": {"reference": "Patient/p3"}, "payee": {"party": {"reference": "Patient/p3"}}});
        assert_eq!(
            compartment_patient(rt("Claim"), &claim),
            Ok(Some("p3".into()))
        );
        let prov = json!({"resourceType": "Provenance", "target": [{"reference": "Observation/o"}, {"reference": "Patient/p4"}]});
        assert_eq!(
            compartment_patient(rt("Provenance"), &prov),
            Ok(Some("p4".into()))
        );
        let group =
            json!({"resourceType": "Group", "member": [{"entity": {"reference": "Patient/p5"}}]});
        assert_eq!(
            compartment_patient(rt("Group"), &group),
            Ok(Some("p5".into()))
        );
    }

    #[test]
    fn resources_outside_the_compartment_or_without_patient_have_none() {
        let org = json!({"resourceType": "Organization", "id": "o", "partOf": {"reference": "Patient/p"}});
        assert_eq!(
            compartment_patient(ResourceType::ORGANIZATION, &org),
            Ok(None)
        );
        let obs = json!({"resourceType": "Observation", "subject": {"reference": "Group/g"},
            "encounter": {"reference": "Patient/not-a-compartment-path"}});
        assert_eq!(
            compartment_patient(ResourceType::OBSERVATION, &obs),
            Ok(None)
        );
        let junk = json!({"resourceType": "Observation", "subject": "Patient/p", "performer": [1, null, {"reference": 3}]});
        assert_eq!(
            compartment_patient(ResourceType::OBSERVATION, &junk),
            Ok(None)
        );
    }

    #[test]
    fn a_patient_is_its_own_compartment() {
        let pat = json!({"resourceType": "Patient", "id": "me", "link": [{"other": {"reference": "Patient/other"}}]});
        assert_eq!(
            compartment_patient(ResourceType::PATIENT, &pat),
            Ok(Some("me".into()))
        );
        assert_eq!(
            compartment_reference(ResourceType::PATIENT, &pat),
            Ok(Some("Patient/me".into()))
        );
        assert_eq!(
            compartment_patient(ResourceType::PATIENT, &json!({"resourceType": "Patient"})),
            Err(CompartmentError::MissingId)
        );
    }

    #[test]
    fn two_patients_in_one_resource_are_refused() {
        let obs = json!({"resourceType": "Observation", "subject": {"reference": "Patient/p1"},
                         "performer": [{"reference": "Patient/p2"}]});
        assert_eq!(
            compartment_patient(ResourceType::OBSERVATION, &obs),
            Err(CompartmentError::MultiplePatients)
        );
        assert_eq!(
            compartment_reference(ResourceType::OBSERVATION, &obs),
            Err(CompartmentError::MultiplePatients)
        );
    }

    #[test]
    fn urn_references_are_returned_raw_for_bundle_resolution() {
        let u = "urn:uuid:0b0d3f2e-1111-4a4a-9a9a-1234567890ab";
        let enc = json!({"resourceType": "Encounter", "subject": {"reference": u}});
        assert_eq!(compartment_patient(rt("Encounter"), &enc), Ok(None));
        assert_eq!(
            compartment_reference(rt("Encounter"), &enc),
            Ok(Some(u.into()))
        );
        // A urn: in a non-patient element counts only when typed as Patient.
        let claim = json!({"resourceType": "Claim", "payee": {"party": {"reference": u}}});
        assert_eq!(compartment_reference(rt("Claim"), &claim), Ok(None));
        let claim = json!({"resourceType": "Claim", "payee": {"party": {"reference": u, "type": "Patient"}}});
        assert_eq!(
            compartment_reference(rt("Claim"), &claim),
            Ok(Some(u.into()))
        );
        // Absolute and relative forms of one patient are the same patient.
        let obs = json!({"resourceType": "Observation", "subject": {"reference": "http://x/Patient/p"},
            "performer": [{"reference": "Patient/p"}]});
        assert_eq!(
            compartment_reference(ResourceType::OBSERVATION, &obs),
            Ok(Some("http://x/Patient/p".into()))
        );
    }
}
