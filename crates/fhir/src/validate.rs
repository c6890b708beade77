//! Validation on write: all problems at once, each located, none echoing a value.

use serde_json::{Map, Value};
use zorgkluis_domain::ResourceId;

use crate::date::date_range;
use crate::outcome::{Issue, IssueCode};
use crate::reference::{parse_reference, raw_references, RefTarget};
use crate::types::ResourceType;

/// Elements with minimum cardinality 1 in FHIR R4, for the types Zorgkluis handles most.
/// `x[x]` means any element `x` followed by a type name (`medicationCodeableConcept`).
fn required(rt: &str) -> &'static [&'static str] {
    match rt {
        "AllergyIntolerance" => &["patient"],
        "Appointment" => &["status", "participant"],
        "CarePlan" => &["status", "intent", "subject"],
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
        "Communication" => &["status"],
        "Condition" => &["subject"],
        "Consent" => &["status", "scope", "category"],
        "Coverage" => &["status", "beneficiary", "payor"],
        "DiagnosticReport" => &["status", "code"],
        "DocumentReference" => &["status", "content"],
        "Encounter" => &["status", "class"],
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
        "Goal" => &["lifecycleStatus", "description", "subject"],
        "ImagingStudy" => &["status", "subject"],
        "Immunization" => &["status", "vaccineCode", "patient", "occurrence[x]"],
        "MedicationAdministration" => &["status", "medication[x]", "subject", "effective[x]"],
        "MedicationDispense" => &["status", "medication[x]"],
        "MedicationRequest" => &["status", "intent", "medication[x]", "subject"],
        "MedicationStatement" => &["status", "medication[x]", "subject"],
        "Observation" => &["status", "code"],
        "Procedure" => &["status", "subject"],
        "Provenance" => &["target", "recorded", "agent"],
        "RelatedPerson" => &["patient"],
        "ServiceRequest" => &["status", "intent", "subject"],
        "Slot" => &["schedule", "status", "start", "end"],
        "Schedule" => &["actor"],
        "Flag" => &["status", "code", "subject"],
        "FamilyMemberHistory" => &["status", "patient", "relationship"],
        "List" => &["status", "mode"],
        "Task" => &["status", "intent"],
        "QuestionnaireResponse" => &["status"],
        "Specimen" => &[],
        _ => &[],
    }
}

fn present(obj: &Map<String, Value>, element: &str) -> bool {
    let usable =
        |v: &Value| !matches!(v, Value::Null) && !matches!(v, Value::Array(a) if a.is_empty());
    match element.strip_suffix("[x]") {
        Some(prefix) => obj.iter().any(|(k, v)| {
            k.len() > prefix.len()
                && k.starts_with(prefix)
                && k[prefix.len()..].starts_with(|c: char| c.is_ascii_uppercase())
                && usable(v)
        }),
        None => obj.get(element).is_some_and(usable),
    }
}

/// Date-valued elements checked for syntax (top level, or inside a `period`).
const DATE_ELEMENTS: &[&str] = &[
    "birthDate",
    "effectiveDateTime",
    "issued",
    "recordedDate",
    "onsetDateTime",
    "abatementDateTime",
    "authoredOn",
    "start",
    "end",
    "occurrenceDateTime",
    "performedDateTime",
    "created",
    "recorded",
    "deceasedDateTime",
    "sent",
    "received",
    "date",
    "dateTime",
];

fn check_dates(rt: &str, obj: &Map<String, Value>, issues: &mut Vec<Issue>) {
    let mut check = |path: String, v: &Value| match v.as_str() {
        Some(s) if date_range(s).is_some() => {}
        _ => issues.push(Issue::error(
            IssueCode::Value,
            path,
            "not a valid FHIR date/dateTime",
        )),
    };
    for name in DATE_ELEMENTS {
        if let Some(v) = obj.get(*name) {
            check(format!("{rt}.{name}"), v);
        }
    }
    for period in [
        "period",
        "effectivePeriod",
        "performedPeriod",
        "onsetPeriod",
    ] {
        if let Some(Value::Object(p)) = obj.get(period) {
            for edge in ["start", "end"] {
                if let Some(v) = p.get(edge) {
                    check(format!("{rt}.{period}.{edge}"), v);
                }
            }
        }
    }
    if let Some(Value::Object(meta)) = obj.get("meta") {
        if let Some(v) = meta.get("lastUpdated") {
            check(format!("{rt}.meta.lastUpdated"), v);
        }
    }
}

/// Validates a resource: a JSON object, a known R4 `resourceType`, a valid `id`,
/// well-formed `meta`, the required elements, parseable references (and contained targets
/// that exist) and valid dates. Returns the type, or every problem found.
/// References are not resolved against a store here.
pub fn validate(resource: &Value) -> Result<ResourceType, Vec<Issue>> {
    let Some(obj) = resource.as_object() else {
        return Err(vec![Issue::error(
            IssueCode::Structure,
            "Resource",
            "a resource must be a JSON object",
        )]);
    };
    let rt = match obj.get("resourceType").and_then(Value::as_str) {
        None => {
            return Err(vec![Issue::error(
                IssueCode::Required,
                "Resource.resourceType",
                "resourceType is missing",
            )])
        }
        Some(name) => match ResourceType::parse(name) {
            Ok(rt) => rt,
            Err(_) => {
                return Err(vec![Issue::error(
                    IssueCode::NotSupported,
                    "Resource.resourceType",
                    "not a FHIR R4 resource type",
                )])
            }
        },
    };
    let name = rt.as_str();
    let mut issues = Vec::new();
    match obj.get("id") {
        None => {}
        Some(Value::String(id)) if ResourceId::parse(id).is_ok() => {}
        Some(_) => issues.push(Issue::error(
            IssueCode::Value,
            format!("{name}.id"),
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
                        format!("{name}.meta.{field}"),
                        "must be a string",
                    ));
                }
            }
        }
        Some(_) => issues.push(Issue::error(
            IssueCode::Structure,
            format!("{name}.meta"),
            "meta must be an object",
        )),
    }
    for element in required(name) {
        if !present(obj, element) {
            issues.push(Issue::error(
                IssueCode::Required,
                format!("{name}.{element}"),
                format!("{element} is required"),
            ));
        }
    }
    let contained: Vec<&str> = obj
        .get("contained")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|c| c.get("id").and_then(Value::as_str))
                .collect()
        })
        .unwrap_or_default();
    for (path, raw) in raw_references(resource) {
        match parse_reference(&raw) {
            Ok(RefTarget::Contained(id)) if !id.is_empty() && !contained.contains(&id.as_str()) => {
                issues.push(Issue::error(
                    IssueCode::NotFound,
                    format!("{name}.{path}"),
                    "refers to a contained resource that is not there",
                ))
            }
            Ok(_) => {}
            Err(_) => issues.push(Issue::error(
                IssueCode::Value,
                format!("{name}.{path}"),
                "not a valid reference (Type/id, #id, urn:uuid:…, an absolute URL or Type?query)",
            )),
        }
    }
    for (i, c) in obj
        .get("contained")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        if let Err(inner) = validate_contained(c) {
            issues.extend(inner.into_iter().map(|mut x| {
                x.location = format!("{name}.contained[{i}].{}", x.location);
                x
            }));
        }
    }
    check_dates(name, obj, &mut issues);
    if issues.is_empty() {
        Ok(rt)
    } else {
        Err(issues)
    }
}

fn validate_contained(c: &Value) -> Result<(), Vec<Issue>> {
    let Some(obj) = c.as_object() else {
        return Err(vec![Issue::error(
            IssueCode::Structure,
            "Resource",
            "must be a JSON object",
        )]);
    };
    match obj
        .get("resourceType")
        .and_then(Value::as_str)
        .map(ResourceType::parse)
    {
        Some(Ok(_)) => Ok(()),
        _ => Err(vec![Issue::error(
            IssueCode::Invalid,
            "resourceType",
            "not a FHIR R4 resource type",
        )]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_good_observation_passes() {
        let o = json!({"resourceType": "Observation", "id": "o-1", "status": "final",
            "code": {"text": "x"}, "subject": {"reference": "Patient/p"},
            "effectiveDateTime": "2021-03-04T10:00:00+01:00", "valueQuantity": {"value": 2.786284624161622}});
        assert_eq!(validate(&o).unwrap().as_str(), "Observation");
    }

    #[test]
    fn every_problem_is_reported_once_without_values() {
        let o = json!({"resourceType": "Observation", "id": "bad id!", "meta": {"versionId": 3},
            "subject": {"reference": "Nope/1"}, "performer": [{"reference": "#missing"}],
            "effectiveDateTime": "2021-02-30"});
        let issues = validate(&o).unwrap_err();
        let locs: Vec<_> = issues.iter().map(|i| i.location.as_str()).collect();
        assert_eq!(
            locs,
            [
                "Observation.id",
                "Observation.meta.versionId",
                "Observation.status",
                "Observation.code",
                "Observation.subject",
                "Observation.performer[0]",
                "Observation.effectiveDateTime"
            ]
        );
        assert!(issues
            .iter()
            .all(|i| !i.message.contains("bad id!") && !i.message.contains("2021")));
    }

    #[test]
    fn choice_elements_count_when_any_type_is_present() {
        let m = json!({"resourceType": "MedicationStatement", "status": "active",
            "medicationCodeableConcept": {"text": "x"}, "subject": {"reference": "Patient/p"}});
        assert!(validate(&m).is_ok());
        let m = json!({"resourceType": "MedicationStatement", "status": "active", "medication": {},
            "subject": {"reference": "Patient/p"}});
        assert_eq!(
            validate(&m).unwrap_err()[0].location,
            "MedicationStatement.medication[x]"
        );
    }

    #[test]
    fn structure_errors() {
        assert_eq!(
            validate(&json!([1])).unwrap_err()[0].code,
            IssueCode::Structure
        );
        assert_eq!(
            validate(&json!({"id": "x"})).unwrap_err()[0].code,
            IssueCode::Required
        );
        assert_eq!(
            validate(&json!({"resourceType": "Patiënt"})).unwrap_err()[0].code,
            IssueCode::NotSupported
        );
    }
}
