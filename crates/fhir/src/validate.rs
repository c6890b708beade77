//! Validation on write: every problem at once, each located, none echoing a value.
//!
//! This checks what the server relies on, not the whole specification: the resource type,
//! the id, `meta`, required top-level elements (cardinality `1..` in R4), reference syntax
//! and contained targets, and the syntax of well-known date elements. References to other
//! resources are not resolved here; the caller checks them against its store.

use std::fmt::Write as _;

use serde_json::{Map, Value};
use zorgkluis_domain::ResourceId;

use crate::date::{is_valid_date, DateKind};
use crate::outcome::{Issue, IssueCode};
use crate::reference::{parse_reference, visit_references, RefTarget};
use crate::types::ResourceType;

/// Top-level elements with minimum cardinality 1 in FHIR R4 4.0.1 (each resource's
/// StructureDefinition). `x[x]` means a choice element: `x` followed by a type name
/// (`medicationCodeableConcept`). Types not listed have no required top-level elements
/// here (Patient, Practitioner, PractitionerRole, Organization, Location, Device,
/// Medication, CareTeam, Specimen, SupplyDelivery, HealthcareService, Person, ...).
fn required(rt: &str) -> &'static [&'static str] {
    match rt {
        "Account" => &["status"],
        "AdverseEvent" => &["actuality", "subject"],
        "AllergyIntolerance" => &["patient"],
        "Appointment" => &["status", "participant"],
        "AppointmentResponse" => &["appointment", "participantStatus"],
        "AuditEvent" => &["type", "recorded", "agent", "source"],
        "Basic" => &["code"],
        "Binary" => &["contentType"],
        "BodyStructure" => &["patient"],
        "Bundle" => &["type"],
        "CarePlan" => &["status", "intent", "subject"],
        "ChargeItem" => &["status", "code", "subject"],
        "Claim" => &[
            "status",
            "type",
            "use",
            "patient",
            "created",
            "provider",
            "priority",
            "insurance",
        ],
        "ClaimResponse" => &[
            "status", "type", "use", "patient", "created", "insurer", "outcome",
        ],
        "ClinicalImpression" => &["status", "subject"],
        "Communication" => &["status"],
        "CommunicationRequest" => &["status"],
        "Composition" => &["status", "type", "date", "author", "title"],
        "Condition" => &["subject"],
        "Consent" => &["status", "scope", "category"],
        "Coverage" => &["status", "beneficiary", "payor"],
        "DetectedIssue" => &["status"],
        "DeviceRequest" => &["intent", "code[x]", "subject"],
        "DeviceUseStatement" => &["status", "subject", "device"],
        "DiagnosticReport" => &["status", "code"],
        "DocumentManifest" => &["status", "content"],
        "DocumentReference" => &["status", "content"],
        "Encounter" => &["status", "class"],
        "Endpoint" => &["status", "connectionType", "payloadType", "address"],
        "EpisodeOfCare" => &["status", "patient"],
        "ExplanationOfBenefit" => &[
            "status",
            "type",
            "use",
            "patient",
            "created",
            "insurer",
            "provider",
            "outcome",
            "insurance",
        ],
        "FamilyMemberHistory" => &["status", "patient", "relationship"],
        "Flag" => &["status", "code", "subject"],
        "Goal" => &["lifecycleStatus", "description", "subject"],
        "Group" => &["type", "actual"],
        "ImagingStudy" => &["status", "subject"],
        "Immunization" => &["status", "vaccineCode", "patient", "occurrence[x]"],
        "ImmunizationRecommendation" => &["patient", "date", "recommendation"],
        "Invoice" => &["status"],
        "Linkage" => &["item"],
        "List" => &["status", "mode"],
        "Media" => &["status", "content"],
        "MedicationAdministration" => &["status", "medication[x]", "subject", "effective[x]"],
        "MedicationDispense" => &["status", "medication[x]"],
        "MedicationRequest" => &["status", "intent", "medication[x]", "subject"],
        "MedicationStatement" => &["status", "medication[x]", "subject"],
        "MessageHeader" => &["event[x]", "source"],
        "NutritionOrder" => &["status", "intent", "patient", "dateTime"],
        "Observation" => &["status", "code"],
        "OperationOutcome" => &["issue"],
        "Procedure" => &["status", "subject"],
        "Provenance" => &["target", "recorded", "agent"],
        "Questionnaire" => &["status"],
        "QuestionnaireResponse" => &["status"],
        "RelatedPerson" => &["patient"],
        "RequestGroup" => &["status", "intent"],
        "ResearchStudy" => &["status"],
        "ResearchSubject" => &["status", "study", "individual"],
        "RiskAssessment" => &["status", "subject"],
        "Schedule" => &["actor"],
        "ServiceRequest" => &["status", "intent", "subject"],
        "Slot" => &["schedule", "status", "start", "end"],
        "Subscription" => &["status", "reason", "criteria", "channel"],
        "Substance" => &["code"],
        "SupplyRequest" => &["item[x]", "quantity"],
        "Task" => &["status", "intent"],
        "ValueSet" => &["status"],
        "VisionPrescription" => &[
            "status",
            "created",
            "patient",
            "dateWritten",
            "prescriber",
            "lensSpecification",
        ],
        _ => &[],
    }
}

/// Present with content: not null, not an empty array, object or string. A primitive may
/// also be present only through its `_element` extension object (e.g. data-absent-reason).
fn usable(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Array(a) => a.iter().any(usable),
        Value::Object(o) => !o.is_empty(),
        Value::String(s) => !s.is_empty(),
        _ => true,
    }
}

fn present(obj: &Map<String, Value>, element: &str) -> bool {
    match element.strip_suffix("[x]") {
        Some(prefix) => obj.iter().any(|(k, v)| {
            k.strip_prefix(prefix)
                .is_some_and(|t| t.starts_with(|c: char| c.is_ascii_uppercase()))
                && usable(v)
        }),
        None => {
            obj.get(element).is_some_and(usable)
                || obj
                    .iter()
                    .any(|(k, v)| k.strip_prefix('_') == Some(element) && usable(v))
        }
    }
}

/// Top-level date elements whose syntax is checked, with the most permissive R4 type they
/// have in any resource (`issued` is an instant in Observation but a dateTime in Contract).
const DATE_ELEMENTS: &[(&str, DateKind)] = &[
    ("birthDate", DateKind::Date),
    ("effectiveDateTime", DateKind::DateTime),
    ("effectiveInstant", DateKind::Instant),
    ("issued", DateKind::DateTime),
    ("recordedDate", DateKind::DateTime),
    ("onsetDateTime", DateKind::DateTime),
    ("abatementDateTime", DateKind::DateTime),
    ("authoredOn", DateKind::DateTime),
    ("start", DateKind::DateTime),
    ("end", DateKind::DateTime),
    ("occurrenceDateTime", DateKind::DateTime),
    ("performedDateTime", DateKind::DateTime),
    ("deceasedDateTime", DateKind::DateTime),
    ("created", DateKind::DateTime),
    ("recorded", DateKind::DateTime),
    ("sent", DateKind::DateTime),
    ("received", DateKind::DateTime),
    ("date", DateKind::DateTime),
    ("dateTime", DateKind::DateTime),
];

fn date_issue(location: String, kind: DateKind) -> Issue {
    let what = match kind {
        DateKind::Date => "not a valid FHIR date (YYYY, YYYY-MM or YYYY-MM-DD)",
        DateKind::DateTime => {
            "not a valid FHIR dateTime (a date, or date and time with seconds and zone)"
        }
        DateKind::Instant => "not a valid FHIR instant (date and time with seconds and zone)",
    };
    Issue::error(IssueCode::Value, location, what)
}

fn check_date(
    location: impl FnOnce() -> String,
    v: &Value,
    kind: DateKind,
    issues: &mut Vec<Issue>,
) {
    if !v.as_str().is_some_and(|s| is_valid_date(kind, s)) {
        issues.push(date_issue(location(), kind));
    }
}

/// Period elements anywhere in the tree: `period` or `…Period`, an object or an array of
/// them (`Timing.repeat.period` is a number and is skipped).
fn check_periods(map: &Map<String, Value>, path: &mut String, issues: &mut Vec<Issue>) {
    for (k, v) in map {
        if !matches!(v, Value::Object(_) | Value::Array(_)) {
            continue;
        }
        let len = path.len();
        path.push('.');
        path.push_str(k);
        let items = match v {
            Value::Array(a) => a.as_slice(),
            other => std::slice::from_ref(other),
        };
        let period = k == "period" || k.ends_with("Period");
        for (i, item) in items.iter().enumerate() {
            let Value::Object(item) = item else { continue };
            let len = path.len();
            if v.is_array() {
                let _ = write!(path, "[{i}]");
            }
            if period {
                for edge in ["start", "end"] {
                    if let Some(d) = item.get(edge) {
                        check_date(|| format!("{path}.{edge}"), d, DateKind::DateTime, issues);
                    }
                }
            }
            check_periods(item, path, issues);
            path.truncate(len);
        }
        path.truncate(len);
    }
}

/// The checks that apply to a resource itself, contained or not.
fn check_resource(
    obj: &Map<String, Value>,
    prefix: &str,
    contained: bool,
    issues: &mut Vec<Issue>,
) -> Option<ResourceType> {
    let at = |element: &str| format!("{prefix}.{element}");
    let rt = match obj.get("resourceType") {
        None => {
            issues.push(Issue::error(
                IssueCode::Required,
                at("resourceType"),
                "resourceType is missing",
            ));
            return None;
        }
        Some(Value::String(name)) => match ResourceType::parse(name) {
            Ok(rt) => rt,
            Err(_) => {
                issues.push(Issue::error(
                    IssueCode::NotSupported,
                    at("resourceType"),
                    "not a FHIR R4 resource type",
                ));
                return None;
            }
        },
        Some(_) => {
            issues.push(Issue::error(
                IssueCode::Structure,
                at("resourceType"),
                "resourceType must be a string",
            ));
            return None;
        }
    };
    // Locations read `Observation.code`, or `Claim.contained[0].status` inside a container.
    let base = if contained {
        prefix.to_owned()
    } else {
        rt.as_str().to_owned()
    };
    let at = |element: &str| format!("{base}.{element}");
    match obj.get("id") {
        None => {}
        Some(Value::String(id)) if ResourceId::parse(id).is_ok() => {}
        Some(_) => issues.push(Issue::error(
            IssueCode::Value,
            at("id"),
            "an id has 1 to 64 characters: letters, digits, '-' and '.'",
        )),
    }
    match obj.get("meta") {
        None => {}
        Some(Value::Object(meta)) => {
            for field in ["versionId", "lastUpdated"] {
                if meta.get(field).is_some_and(|v| !v.is_string()) {
                    issues.push(Issue::error(
                        IssueCode::Structure,
                        at(&format!("meta.{field}")),
                        "must be a string",
                    ));
                }
            }
            if let Some(v @ Value::String(_)) = meta.get("lastUpdated") {
                check_date(|| at("meta.lastUpdated"), v, DateKind::Instant, issues);
            }
        }
        Some(_) => issues.push(Issue::error(
            IssueCode::Structure,
            at("meta"),
            "meta must be an object",
        )),
    }
    for element in required(rt.as_str()) {
        if !present(obj, element) {
            issues.push(Issue::error(
                IssueCode::Required,
                at(element),
                format!("{element} is required"),
            ));
        }
    }
    for (name, kind) in DATE_ELEMENTS {
        if let Some(v) = obj.get(*name) {
            check_date(|| at(name), v, *kind, issues);
        }
    }
    if contained && obj.contains_key("contained") {
        issues.push(Issue::error(
            IssueCode::Structure,
            at("contained"),
            "a contained resource cannot contain resources (dom-2)",
        ));
    }
    Some(rt)
}

/// Validates a resource and returns its type, or every problem found:
///
/// - it is a JSON object with a known R4 `resourceType`;
/// - `id`, if present, has FHIR id syntax; `meta.versionId` and `meta.lastUpdated` are
///   strings (and `lastUpdated` an instant);
/// - the top-level elements R4 requires for its type are present (also in `contained`
///   resources, which may not nest);
/// - every `reference` string parses (`Type/id` with a known type, `#id`,
///   `urn:uuid:<uuid>`, an http(s) URL or `Type?query`) and every `#id` has its contained
///   resource;
/// - well-known date elements (`birthDate`, `effectiveDateTime`, `issued`, `recordedDate`,
///   `onsetDateTime`, `authoredOn`, `start`, `end`, ..., every Period's `start` and `end`,
///   `meta.lastUpdated`) have FHIR date syntax.
///
/// Messages name the element and what is wrong, never its value (which may be personal
/// data). References are not resolved against a store: that is the caller's job.
pub fn validate(resource: &Value) -> Result<ResourceType, Vec<Issue>> {
    let Some(obj) = resource.as_object() else {
        return Err(vec![Issue::error(
            IssueCode::Structure,
            "Resource",
            "a resource must be a JSON object",
        )]);
    };
    let mut issues = Vec::new();
    let Some(rt) = check_resource(obj, "Resource", false, &mut issues) else {
        return Err(issues);
    };
    let name = rt.as_str();
    let mut contained_ids: Vec<&str> = Vec::new();
    match obj.get("contained") {
        None => {}
        Some(Value::Array(items)) => {
            for (i, c) in items.iter().enumerate() {
                let prefix = format!("{name}.contained[{i}]");
                match c {
                    Value::Object(c) => {
                        check_resource(c, &prefix, true, &mut issues);
                        match c.get("id").and_then(Value::as_str) {
                            Some(id) => contained_ids.push(id),
                            None => issues.push(Issue::error(
                                IssueCode::Required,
                                format!("{prefix}.id"),
                                "a contained resource needs an id to be referenced",
                            )),
                        }
                    }
                    _ => issues.push(Issue::error(
                        IssueCode::Structure,
                        prefix,
                        "a contained resource must be a JSON object",
                    )),
                }
            }
        }
        Some(_) => issues.push(Issue::error(
            IssueCode::Structure,
            format!("{name}.contained"),
            "contained must be an array",
        )),
    }
    check_periods(obj, &mut name.to_owned(), &mut issues);
    visit_references(resource, &mut |site| match parse_reference(site.raw) {
        Ok(RefTarget::Contained(id)) if !id.is_empty() && !contained_ids.contains(&id.as_str()) => {
            issues.push(Issue::error(
                IssueCode::NotFound,
                format!("{name}.{}.reference", site.path),
                "refers to a contained resource that is not there",
            ))
        }
        Ok(_) => {}
        Err(_) => issues.push(Issue::error(
            IssueCode::Value,
            format!("{name}.{}.reference", site.path),
            "not a valid reference (Type/id, #id, urn:uuid:<uuid>, an http(s) URL or Type?query)",
        )),
    });
    if issues.is_empty() {
        Ok(rt)
    } else {
        Err(issues)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn locations(v: &Value) -> Vec<String> {
        validate(v)
            .unwrap_err()
            .into_iter()
            .map(|i| i.location)
            .collect()
    }

    fn codes(v: &Value) -> Vec<IssueCode> {
        validate(v)
            .unwrap_err()
            .into_iter()
            .map(|i| i.code)
            .collect()
    }

    #[test]
    fn a_good_observation_passes() {
        let o = json!({"resourceType": "Observation", "id": "o-1.x", "status": "final",
            "meta": {"versionId": "3", "lastUpdated": "2021-03-04T10:00:00.123+01:00"},
            "code": {"text": "x"}, "subject": {"reference": "urn:uuid:0b0d3f2e-1111-4a4a-9a9a-1234567890ab"},
            "effectivePeriod": {"start": "2021-03-04T10:00:00+01:00", "end": "2021-03"},
            "issued": "2021-03-04T10:00:00.000Z", "valueQuantity": {"value": 2.786284624161622}});
        assert_eq!(validate(&o), Ok(ResourceType::OBSERVATION));
    }

    #[test]
    fn structure_errors() {
        assert_eq!(codes(&json!([1])), [IssueCode::Structure]);
        assert_eq!(codes(&json!("Patient")), [IssueCode::Structure]);
        assert_eq!(codes(&json!({"id": "x"})), [IssueCode::Required]);
        assert_eq!(codes(&json!({"resourceType": 7})), [IssueCode::Structure]);
        assert_eq!(
            codes(&json!({"resourceType": "Patiënt"})),
            [IssueCode::NotSupported]
        );
        assert_eq!(
            codes(&json!({"resourceType": "patient"})),
            [IssueCode::NotSupported]
        );
        assert_eq!(
            locations(&json!({"resourceType": "Patient", "meta": [], "contained": {}})),
            ["Patient.meta", "Patient.contained"]
        );
    }

    #[test]
    fn ids_and_meta_are_checked() {
        for bad in [json!("bad id!"), json!(""), json!(7), json!("a".repeat(65))] {
            let p = json!({"resourceType": "Patient", "id": bad});
            assert_eq!(locations(&p), ["Patient.id"]);
        }
        let p = json!({"resourceType": "Patient", "meta": {"versionId": 3, "lastUpdated": "2021-03-04"}});
        assert_eq!(
            locations(&p),
            ["Patient.meta.versionId", "Patient.meta.lastUpdated"]
        );
        let p = json!({"resourceType": "Patient", "meta": {"lastUpdated": false}});
        assert_eq!(codes(&p), [IssueCode::Structure], "one issue per problem");
    }

    #[test]
    fn required_elements_are_reported_per_type() {
        assert_eq!(
            locations(&json!({"resourceType": "Observation"})),
            ["Observation.status", "Observation.code"]
        );
        assert_eq!(
            locations(
                &json!({"resourceType": "Claim", "status": "active", "use": "claim", "code": []})
            ),
            [
                "Claim.type",
                "Claim.patient",
                "Claim.created",
                "Claim.provider",
                "Claim.priority",
                "Claim.insurance"
            ]
        );
        assert_eq!(
            locations(
                &json!({"resourceType": "Immunization", "status": "completed", "vaccineCode": {},
                "patient": {"reference": "Patient/p"}})
            ),
            ["Immunization.vaccineCode", "Immunization.occurrence[x]"]
        );
        assert!(codes(&json!({"resourceType": "Goal"}))
            .iter()
            .all(|c| *c == IssueCode::Required));
        for none in [
            "Patient",
            "Practitioner",
            "Organization",
            "Device",
            "Medication",
            "Location",
            "CareTeam",
        ] {
            assert!(validate(&json!({"resourceType": none})).is_ok(), "{none}");
        }
    }

    #[test]
    fn choice_and_extension_only_elements_count_as_present() {
        let m = json!({"resourceType": "MedicationStatement", "status": "active",
            "medicationCodeableConcept": {"text": "x"}, "subject": {"reference": "Patient/p"}});
        assert!(validate(&m).is_ok());
        let m = json!({"resourceType": "MedicationStatement", "status": "active", "medication": {"text": "x"},
            "subject": {"reference": "Patient/p"}});
        assert_eq!(locations(&m), ["MedicationStatement.medication[x]"]);
        let m = json!({"resourceType": "MedicationStatement", "medicationReference": {"reference": "Medication/m"},
            "_status": {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason", "valueCode": "unknown"}]},
            "subject": {"reference": "Patient/p"}});
        assert!(validate(&m).is_ok());
    }

    #[test]
    fn bad_references_are_located_without_values() {
        let o = json!({"resourceType": "Observation", "status": "final", "code": {"text": "x"},
            "subject": {"reference": "Nope/1"}, "performer": [{"reference": "Practitioner/ok"}, {"reference": "Patient/Jan Jansen"}],
            "hasMember": [{"reference": "urn:uuid:nope"}], "focus": [{"reference": "#missing"}],
            "derivedFrom": [{"reference": "Observation?code=x"}, {"reference": "https://x.nl/fhir/Observation/1"}]});
        let issues = validate(&o).unwrap_err();
        let found: Vec<_> = issues
            .iter()
            .map(|i| (i.location.as_str(), i.code))
            .collect();
        assert_eq!(
            found,
            [
                ("Observation.subject.reference", IssueCode::Value),
                ("Observation.performer[1].reference", IssueCode::Value),
                ("Observation.hasMember[0].reference", IssueCode::Value),
                ("Observation.focus[0].reference", IssueCode::NotFound),
            ]
        );
        assert!(issues
            .iter()
            .all(|i| !i.message.contains("Jansen") && !i.message.contains("Nope")));
    }

    #[test]
    fn contained_resources_are_checked_and_referenced() {
        let c = json!({"resourceType": "Claim", "status": "active", "type": {"text": "x"}, "use": "claim",
            "patient": {"reference": "Patient/p"}, "created": "2021-01-01", "provider": {"reference": "#org"},
            "priority": {"text": "normal"}, "insurance": [{"sequence": 1, "focal": true, "coverage": {"reference": "#cov"}}],
            "contained": [{"resourceType": "Coverage", "id": "cov", "status": "active", "payor": [{"display": "x"}]},
                          {"resourceType": "Organization", "id": "org", "contained": []},
                          {"resourceType": "Nope"}, 5]});
        assert_eq!(
            locations(&c),
            [
                "Claim.contained[0].beneficiary",
                "Claim.contained[1].contained",
                "Claim.contained[2].resourceType",
                "Claim.contained[2].id",
                "Claim.contained[3]",
            ]
        );
        let ok = json!({"resourceType": "Observation", "status": "final", "code": {"text": "x"},
            "contained": [{"resourceType": "Patient", "id": "p", "link": [{"other": {"reference": "#"}, "type": "seealso"}]}],
            "subject": {"reference": "#p"}});
        assert!(validate(&ok).is_ok());
    }

    #[test]
    fn dates_are_checked_where_they_are_known() {
        let p = json!({"resourceType": "Patient", "birthDate": "1934-04-28T00:00:00Z",
            "name": [{"family": "x", "period": {"start": "2020-13-01"}}],
            "address": [{"period": {"end": "gisteren"}}], "deceasedDateTime": "2021-02-30"});
        let issues = validate(&p).unwrap_err();
        let locs: Vec<_> = issues.iter().map(|i| i.location.as_str()).collect();
        assert_eq!(
            locs,
            [
                "Patient.birthDate",
                "Patient.deceasedDateTime",
                "Patient.name[0].period.start",
                "Patient.address[0].period.end"
            ]
        );
        assert!(issues
            .iter()
            .all(|i| i.code == IssueCode::Value && !i.message.contains("gisteren")));
        let e = json!({"resourceType": "Encounter", "status": "finished", "class": {"code": "AMB"},
            "period": {"start": "2021-01-01T10:00Z"},
            "extension": [{"url": "x", "valuePeriod": {"end": 5}}],
            "length": {"value": 3}, "hospitalization": {"period": 2}});
        assert_eq!(
            locations(&e),
            [
                "Encounter.period.start",
                "Encounter.extension[0].valuePeriod.end"
            ]
        );
        let m = json!({"resourceType": "MedicationRequest", "status": "active", "intent": "order",
            "medicationReference": {"reference": "Medication/m"}, "subject": {"reference": "Patient/p"},
            "authoredOn": "2021-01-01T10:00:00+01:00",
            "dosageInstruction": [{"timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d",
                "boundsPeriod": {"start": "2021-01-01"}}}}]});
        assert!(
            validate(&m).is_ok(),
            "Timing.repeat.period is a number, not a Period"
        );
    }
}
