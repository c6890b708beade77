//! What of a resource is searchable, and how.
//!
//! Clear-text indexes hold only codes, statuses, categories, dates and references. Values
//! that identify a person (identifiers, names, e-mail, phone, birth date, postal code) come
//! out as [`BlindEntry`]s, which the vault stores only as keyed hashes. Free text is never
//! indexed.

use serde_json::Value;

use crate::date::date_range;
use crate::reference::{parse_reference, raw_references, RefTarget};
use crate::types::ResourceType;

/// A code in clear: `param=system|code`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenEntry {
    /// Search parameter.
    pub param: &'static str,
    /// Code system, if any.
    pub system: Option<String>,
    /// The code.
    pub code: String,
}

/// A date range `[start, end)` in unix seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DateEntry {
    /// Search parameter.
    pub param: &'static str,
    /// Start (inclusive).
    pub start: i64,
    /// End (exclusive).
    pub end: i64,
}

/// A reference to `Type/id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefEntry {
    /// Search parameter.
    pub param: &'static str,
    /// Target type.
    pub target_type: String,
    /// Target id.
    pub target_id: String,
}

/// A value that may only be stored as a keyed hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlindEntry {
    /// Search parameter.
    pub param: &'static str,
    /// Normalised value.
    pub value: String,
}

/// Everything searchable in one resource.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchIndex {
    /// Codes in clear.
    pub tokens: Vec<TokenEntry>,
    /// Dates.
    pub dates: Vec<DateEntry>,
    /// References.
    pub refs: Vec<RefEntry>,
    /// Personal values, for blind indexes only.
    pub blind: Vec<BlindEntry>,
}

/// Lower case, diacritics folded to ASCII letters, whitespace collapsed: `Zoë  Überman`
/// becomes `zoe uberman`.
pub fn normalize_name(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut space = false;
    for c in s.chars().flat_map(char::to_lowercase) {
        let folded = match c {
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' => "a",
            'ç' | 'ć' | 'č' => "c",
            'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ę' | 'ě' => "e",
            'ì' | 'í' | 'î' | 'ï' | 'ī' | 'ı' => "i",
            'ñ' | 'ń' | 'ň' => "n",
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' => "o",
            'ù' | 'ú' | 'û' | 'ü' | 'ū' | 'ů' => "u",
            'ý' | 'ÿ' => "y",
            'š' | 'ś' => "s",
            'ž' | 'ź' | 'ż' => "z",
            'ł' => "l",
            'ß' => "ss",
            'æ' => "ae",
            'œ' => "oe",
            'ĳ' => "ij",
            _ => "",
        };
        if c.is_whitespace() {
            space = !out.is_empty();
            continue;
        }
        if space {
            out.push(' ');
            space = false;
        }
        if folded.is_empty() {
            out.push(c);
        } else {
            out.push_str(folded);
        }
    }
    out
}

fn items(v: Option<&Value>) -> impl Iterator<Item = &Value> {
    let slice: &[Value] = match v {
        Some(Value::Array(a)) => a,
        Some(other) => std::slice::from_ref(other),
        None => &[],
    };
    slice.iter()
}

fn codings(cc: &Value) -> impl Iterator<Item = (Option<String>, String)> + '_ {
    // A CodeableConcept (coding[]) or a bare Coding.
    let list: Vec<&Value> = match cc.get("coding") {
        Some(c) => items(Some(c)).collect(),
        None if cc.get("code").is_some() => vec![cc],
        None => vec![],
    };
    list.into_iter().filter_map(|c| {
        let code = c.get("code")?.as_str()?;
        Some((
            c.get("system").and_then(Value::as_str).map(str::to_owned),
            code.to_owned(),
        ))
    })
}

fn kebab(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 4);
    for (i, c) in s.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('-');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Interned parameter names for references (search parameter names are a small set).
fn ref_param(element: &str) -> &'static str {
    let base = element.strip_suffix("Reference").unwrap_or(element);
    match kebab(base).as_str() {
        "subject" => "subject",
        "patient" => "patient",
        "encounter" => "encounter",
        "performer" => "performer",
        "requester" => "requester",
        "recorder" => "recorder",
        "asserter" => "asserter",
        "author" => "author",
        "medication" => "medication",
        "based-on" => "based-on",
        "part-of" => "part-of",
        "context" => "context",
        "participant" => "participant",
        "general-practitioner" => "general-practitioner",
        "managing-organization" => "organization",
        "organization" => "organization",
        "practitioner" => "practitioner",
        "service-provider" => "service-provider",
        "result" => "result",
        "target" => "target",
        "episode-of-care" => "episode-of-care",
        "care-team" => "care-team",
        "location" => "location",
        "provider" => "provider",
        "insurer" => "insurer",
        "beneficiary" => "beneficiary",
        "payor" => "payor",
        "sender" => "sender",
        "recipient" => "recipient",
        "source" => "source",
        "reason" => "reason-reference",
        "reason-reference" => "reason-reference",
        "addresses" => "addresses",
        "link" => "link",
        "member" => "member",
        "agent" => "agent",
        "entity" => "entity",
        "actor" => "actor",
        "schedule" => "schedule",
        "specimen" => "specimen",
        "has-member" => "has-member",
        "derived-from" => "derived-from",
        "focus" => "focus",
        "device" => "device",
        _ => "reference",
    }
}

const DATE_FIELDS: &[(&str, &str, &str)] = &[
    // (resource type or "*", element, parameter)
    ("Observation", "effectiveDateTime", "date"),
    ("Observation", "effectiveInstant", "date"),
    ("Observation", "issued", "issued"),
    ("DiagnosticReport", "effectiveDateTime", "date"),
    ("DiagnosticReport", "issued", "issued"),
    ("Condition", "onsetDateTime", "onset-date"),
    ("Condition", "recordedDate", "recorded-date"),
    ("Condition", "abatementDateTime", "abatement-date"),
    ("Procedure", "performedDateTime", "date"),
    ("MedicationRequest", "authoredOn", "authoredon"),
    ("MedicationStatement", "effectiveDateTime", "effective"),
    (
        "MedicationAdministration",
        "effectiveDateTime",
        "effective-time",
    ),
    ("Immunization", "occurrenceDateTime", "date"),
    ("AllergyIntolerance", "recordedDate", "date"),
    ("Claim", "created", "created"),
    ("ExplanationOfBenefit", "created", "created"),
    ("DocumentReference", "date", "date"),
    ("Communication", "sent", "sent"),
    ("Consent", "dateTime", "date"),
    ("Provenance", "recorded", "recorded"),
    ("Goal", "startDate", "start-date"),
    ("ServiceRequest", "authoredOn", "authored"),
    ("CarePlan", "created", "created"),
];

const PERIOD_FIELDS: &[(&str, &str, &str)] = &[
    ("Observation", "effectivePeriod", "date"),
    ("DiagnosticReport", "effectivePeriod", "date"),
    ("Encounter", "period", "date"),
    ("EpisodeOfCare", "period", "date"),
    ("CareTeam", "period", "date"),
    ("CarePlan", "period", "date"),
    ("Procedure", "performedPeriod", "date"),
    ("MedicationStatement", "effectivePeriod", "effective"),
    (
        "MedicationAdministration",
        "effectivePeriod",
        "effective-time",
    ),
    ("Condition", "onsetPeriod", "onset-date"),
];

fn push_date(out: &mut Vec<DateEntry>, param: &'static str, v: Option<&Value>) {
    if let Some((start, end)) = v.and_then(Value::as_str).and_then(date_range) {
        out.push(DateEntry { param, start, end });
    }
}

const PERSON_TYPES: &[&str] = &["Patient", "Practitioner", "RelatedPerson", "Person"];

/// Extracts the search index of a resource.
pub fn extract_index(rt: ResourceType, resource: &Value) -> SearchIndex {
    let name = rt.as_str();
    let mut ix = SearchIndex::default();
    let get = |k: &str| resource.get(k);

    // Tokens.
    let mut token = |param: &'static str, v: Option<&Value>| {
        for cc in items(v) {
            for (system, code) in codings(cc) {
                ix.tokens.push(TokenEntry {
                    param,
                    system,
                    code,
                });
            }
        }
    };
    match name {
        "MedicationRequest"
        | "MedicationStatement"
        | "MedicationAdministration"
        | "MedicationDispense" => token("code", get("medicationCodeableConcept")),
        "Immunization" => token("vaccine-code", get("vaccineCode")),
        _ => token("code", get("code")),
    }
    token("clinical-status", get("clinicalStatus"));
    token("verification-status", get("verificationStatus"));
    token("category", get("category"));
    token("class", get("class"));
    if !PERSON_TYPES.contains(&name) {
        token("type", get("type"));
    }
    token("service-type", get("serviceType"));
    if let Some(meta) = get("meta") {
        token("_tag", meta.get("tag"));
        token("_security", meta.get("security"));
        for p in items(meta.get("profile")).filter_map(Value::as_str) {
            ix.tokens.push(TokenEntry {
                param: "_profile",
                system: None,
                code: p.to_owned(),
            });
        }
    }
    for (element, param) in [
        ("status", "status"),
        ("intent", "intent"),
        ("gender", "gender"),
        ("use", "use"),
    ] {
        if let Some(code) = get(element).and_then(Value::as_str) {
            ix.tokens.push(TokenEntry {
                param,
                system: None,
                code: code.to_owned(),
            });
        }
    }
    if let Some(b) = get("active").and_then(Value::as_bool) {
        ix.tokens.push(TokenEntry {
            param: "active",
            system: None,
            code: b.to_string(),
        });
    }

    // Dates.
    for (t, element, param) in DATE_FIELDS {
        if *t == name {
            push_date(&mut ix.dates, param, get(element));
        }
    }
    for (t, element, param) in PERIOD_FIELDS {
        if *t == name {
            if let Some(p) = get(element) {
                let start = p.get("start").and_then(Value::as_str).and_then(date_range);
                let end = p.get("end").and_then(Value::as_str).and_then(date_range);
                match (start, end) {
                    (Some((s, _)), Some((_, e))) => ix.dates.push(DateEntry {
                        param,
                        start: s,
                        end: e,
                    }),
                    (Some((s, _)), None) => ix.dates.push(DateEntry {
                        param,
                        start: s,
                        end: i64::MAX,
                    }),
                    (None, Some((_, e))) => ix.dates.push(DateEntry {
                        param,
                        start: i64::MIN,
                        end: e,
                    }),
                    (None, None) => {}
                }
            }
        }
    }
    if name == "Appointment" {
        let start = get("start").and_then(Value::as_str).and_then(date_range);
        let end = get("end").and_then(Value::as_str).and_then(date_range);
        if let Some((s, e1)) = start {
            ix.dates.push(DateEntry {
                param: "date",
                start: s,
                end: end.map_or(e1, |(_, e)| e),
            });
        }
    }

    // References (not inside contained resources).
    let mut patient_seen = false;
    for (path, raw) in raw_references(resource) {
        if path.starts_with("contained") {
            continue;
        }
        let Ok(RefTarget::Local { rtype, id, .. }) = parse_reference(&raw) else {
            continue;
        };
        let first = path.split(['.', '[']).next().unwrap_or("");
        let param = ref_param(first);
        if rtype == ResourceType::PATIENT {
            patient_seen |= param == "patient";
        }
        ix.refs.push(RefEntry {
            param,
            target_type: rtype.as_str().to_owned(),
            target_id: id.clone(),
        });
    }
    if !patient_seen && name != "Patient" {
        let extra: Vec<RefEntry> = ix
            .refs
            .iter()
            .filter(|r| {
                r.target_type == "Patient"
                    && matches!(
                        r.param,
                        "subject"
                            | "beneficiary"
                            | "participant"
                            | "actor"
                            | "member"
                            | "performer"
                    )
            })
            .map(|r| RefEntry {
                param: "patient",
                target_type: r.target_type.clone(),
                target_id: r.target_id.clone(),
            })
            .collect();
        ix.refs.extend(extra);
    }
    ix.refs.sort_by(|a, b| {
        (a.param, &a.target_type, &a.target_id).cmp(&(b.param, &b.target_type, &b.target_id))
    });
    ix.refs.dedup();

    // Blind: identifiers of any resource.
    for ident in items(get("identifier")) {
        if let Some(value) = ident.get("value").and_then(Value::as_str) {
            let system = ident.get("system").and_then(Value::as_str).unwrap_or("");
            ix.blind.push(BlindEntry {
                param: "identifier",
                value: format!("{system}|{value}"),
            });
            ix.blind.push(BlindEntry {
                param: "identifier",
                value: value.to_owned(),
            });
        }
    }
    if PERSON_TYPES.contains(&name) {
        for n in items(get("name")) {
            let mut tokens = Vec::new();
            if let Some(family) = n.get("family").and_then(Value::as_str) {
                let whole = normalize_name(family);
                ix.blind.push(BlindEntry {
                    param: "family",
                    value: whole.clone(),
                });
                for t in whole.split([' ', '-']).filter(|t| !t.is_empty()) {
                    ix.blind.push(BlindEntry {
                        param: "family",
                        value: t.to_owned(),
                    });
                    tokens.push(t.to_owned());
                }
                tokens.push(whole);
            }
            for g in items(n.get("given")).filter_map(Value::as_str) {
                for t in normalize_name(g)
                    .split([' ', '-'])
                    .filter(|t| !t.is_empty())
                {
                    ix.blind.push(BlindEntry {
                        param: "given",
                        value: t.to_owned(),
                    });
                    tokens.push(t.to_owned());
                }
            }
            for t in tokens {
                ix.blind.push(BlindEntry {
                    param: "name",
                    value: t,
                });
            }
        }
        for t in items(get("telecom")) {
            let Some(value) = t.get("value").and_then(Value::as_str) else {
                continue;
            };
            match t.get("system").and_then(Value::as_str) {
                Some("email") => ix.blind.push(BlindEntry {
                    param: "email",
                    value: value.trim().to_lowercase(),
                }),
                Some("phone") | Some("sms") => {
                    let digits: String = value
                        .chars()
                        .filter(|c| c.is_ascii_digit() || *c == '+')
                        .collect();
                    ix.blind.push(BlindEntry {
                        param: "phone",
                        value: digits,
                    });
                }
                _ => {}
            }
        }
        if let Some(b) = get("birthDate").and_then(Value::as_str) {
            ix.blind.push(BlindEntry {
                param: "birthdate",
                value: b.to_owned(),
            });
        }
        for a in items(get("address")) {
            if let Some(pc) = a.get("postalCode").and_then(Value::as_str) {
                let norm: String = pc
                    .chars()
                    .filter(|c| !c.is_whitespace())
                    .collect::<String>()
                    .to_uppercase();
                ix.blind.push(BlindEntry {
                    param: "address-postalcode",
                    value: norm,
                });
            }
        }
    }
    ix.blind
        .sort_by(|a, b| (a.param, &a.value).cmp(&(b.param, &b.value)));
    ix.blind.dedup();
    ix
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_fold_diacritics_and_case() {
        assert_eq!(normalize_name("Zoë  Überman"), "zoe uberman");
        assert_eq!(normalize_name("van der Giessen"), "van der giessen");
        assert_eq!(normalize_name(" Anaïs "), "anais");
    }

    #[test]
    fn patient_identity_goes_to_blind_entries_only() {
        let p = json!({"resourceType": "Patient", "id": "p",
            "identifier": [{"system": "http://fhir.nl/fhir/NamingSystem/bsn", "value": "999996708"}],
            "name": [{"family": "van Putten-van der Giessen", "given": ["Johanna", "Petronella"]}],
            "telecom": [{"system": "email", "value": "J.Putten@Example.nl"}, {"system": "phone", "value": "06 1234 5678"}],
            "gender": "female", "birthDate": "1934-04-28", "address": [{"line": ["Straat 1"], "postalCode": "1234 ab"}]});
        let ix = extract_index(ResourceType::PATIENT, &p);
        let blind: Vec<_> = ix
            .blind
            .iter()
            .map(|b| format!("{}={}", b.param, b.value))
            .collect();
        for expected in [
            "identifier=http://fhir.nl/fhir/NamingSystem/bsn|999996708",
            "identifier=999996708",
            "family=van putten-van der giessen",
            "family=putten",
            "given=johanna",
            "name=petronella",
            "email=j.putten@example.nl",
            "phone=0612345678",
            "birthdate=1934-04-28",
            "address-postalcode=1234AB",
        ] {
            assert!(
                blind.contains(&expected.to_owned()),
                "{expected} in {blind:?}"
            );
        }
        let clear = format!("{:?}{:?}{:?}", ix.tokens, ix.dates, ix.refs);
        for secret in [
            "999996708",
            "Putten",
            "putten",
            "Johanna",
            "example",
            "1934",
            "Straat",
            "1234",
        ] {
            assert!(!clear.contains(secret), "{secret} in clear index");
        }
        assert!(ix
            .tokens
            .iter()
            .any(|t| t.param == "gender" && t.code == "female"));
    }

    #[test]
    fn observation_codes_dates_and_patient_reference() {
        let o = json!({"resourceType": "Observation", "status": "final",
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}]}],
            "code": {"coding": [{"system": "http://loinc.org", "code": "4548-4"}], "text": "HbA1c van mevrouw"},
            "subject": {"reference": "Patient/p1"}, "encounter": {"reference": "Encounter/e1"},
            "effectiveDateTime": "2021-03-04"});
        let ix = extract_index(ResourceType::OBSERVATION, &o);
        assert!(ix.tokens.contains(&TokenEntry {
            param: "code",
            system: Some("http://loinc.org".into()),
            code: "4548-4".into()
        }));
        assert!(ix
            .tokens
            .iter()
            .any(|t| t.param == "category" && t.code == "laboratory"));
        assert!(ix
            .tokens
            .iter()
            .any(|t| t.param == "status" && t.code == "final"));
        assert!(
            !format!("{:?}", ix.tokens).contains("mevrouw"),
            "free text is never indexed"
        );
        assert_eq!(ix.dates.len(), 1);
        let params: Vec<_> = ix.refs.iter().map(|r| r.param).collect();
        assert_eq!(params, ["encounter", "patient", "subject"]);
    }
}
