//! What of a resource is searchable, and how.
//!
//! Clear-text entries hold only codes, statuses, categories, dates and references. Values
//! that identify a person (identifiers, names, e-mail, phone, birth date, postal code) come
//! out as [`BlindEntry`]s, which the caller stores only as keyed hashes. Free text
//! (`CodeableConcept.text`, `Coding.display`, narrative, notes) is never indexed.
//!
//! Parameter names follow the R4 search parameters
//! (<http://hl7.org/fhir/R4/searchparameter-registry.html>) where one exists.

use std::fmt;

use serde_json::Value;

use crate::compartment::patient_compartment_paths;
use crate::date::date_range;
use crate::reference::{parse_reference, visit_references, RefTarget};
use crate::types::ResourceType;

/// A code in clear: `param=system|code`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenEntry {
    /// Search parameter, e.g. `code`, `status`, `category`.
    pub param: &'static str,
    /// Code system, if any.
    pub system: Option<String>,
    /// The code.
    pub code: String,
}

/// A date range `[start, end)` in unix seconds (UTC). An open end of a Period is
/// `i64::MIN` / `i64::MAX`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DateEntry {
    /// Search parameter, e.g. `date`, `onset-date`, `authoredon`.
    pub param: &'static str,
    /// Start (inclusive).
    pub start: i64,
    /// End (exclusive).
    pub end: i64,
}

/// A relative reference to `Type/id` on this server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefEntry {
    /// Search parameter, e.g. `subject`, `patient`, `encounter`; `reference` for references
    /// in elements without an R4 search parameter.
    pub param: &'static str,
    /// Target type.
    pub target_type: String,
    /// Target id.
    pub target_id: String,
}

/// A personal value that the caller may only store as a keyed hash (blind index).
/// `Debug` does not show the value.
#[derive(Clone, PartialEq, Eq)]
pub struct BlindEntry {
    /// Search parameter: `identifier`, `name`, `family`, `given`, `email`, `phone`,
    /// `birthdate` or `address-postalcode`.
    pub param: &'static str,
    /// Normalised value, as search input is normalised before hashing.
    pub value: String,
}

impl fmt::Debug for BlindEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlindEntry")
            .field("param", &self.param)
            .field("value", &"<redacted>")
            .finish()
    }
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

fn fold(c: char) -> Option<&'static str> {
    Some(match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => "a",
        'ç' | 'ć' | 'ĉ' | 'ċ' | 'č' => "c",
        'ď' | 'đ' | 'ð' => "d",
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ĕ' | 'ė' | 'ę' | 'ě' => "e",
        'ĝ' | 'ğ' | 'ġ' | 'ģ' => "g",
        'ĥ' | 'ħ' => "h",
        'ì' | 'í' | 'î' | 'ï' | 'ĩ' | 'ī' | 'ĭ' | 'į' | 'ı' => "i",
        'ĵ' => "j",
        'ķ' => "k",
        'ĺ' | 'ļ' | 'ľ' | 'ŀ' | 'ł' => "l",
        'ñ' | 'ń' | 'ņ' | 'ň' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ŏ' | 'ő' => "o",
        'ŕ' | 'ŗ' | 'ř' => "r",
        'ś' | 'ŝ' | 'ş' | 'š' | 'ș' => "s",
        'ţ' | 'ť' | 'ŧ' | 'ț' => "t",
        'ù' | 'ú' | 'û' | 'ü' | 'ũ' | 'ū' | 'ŭ' | 'ů' | 'ű' | 'ų' => "u",
        'ŵ' => "w",
        'ý' | 'ÿ' | 'ŷ' => "y",
        'ź' | 'ż' | 'ž' => "z",
        'ß' => "ss",
        'æ' => "ae",
        'œ' => "oe",
        'ĳ' => "ij",
        'þ' => "th",
        _ => return None,
    })
}

/// Normalises a name (or a name query) for blind indexing: lower case, diacritics folded to
/// ASCII (`é`→`e`, `ë`→`e`, `ñ`→`n`, `ç`→`c`, `ß`→`ss`; combining marks dropped), runs of
/// whitespace collapsed to one space, trimmed. Hyphens and other characters stay:
/// `"  Van Putten-van der  GIESSEN"` → `"van putten-van der giessen"`.
pub fn normalize_name(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut space = false;
    for c in s.chars().flat_map(char::to_lowercase) {
        if c.is_whitespace() {
            space = !out.is_empty();
            continue;
        }
        if ('\u{300}'..='\u{36f}').contains(&c) {
            continue; // combining diacritical marks (decomposed input)
        }
        if space {
            out.push(' ');
            space = false;
        }
        match fold(c) {
            Some(ascii) => out.push_str(ascii),
            None => out.push(c),
        }
    }
    out
}

/// The parts of a normalised name: split on spaces and hyphens.
fn name_parts(normalized: &str) -> impl Iterator<Item = &str> {
    normalized.split([' ', '-']).filter(|p| !p.is_empty())
}

fn items(v: Option<&Value>) -> &[Value] {
    match v {
        Some(Value::Array(a)) => a,
        Some(other) => std::slice::from_ref(other),
        None => &[],
    }
}

/// Pushes the codes of a CodeableConcept, a Coding, or a bare `code` string (or an array of
/// those). Only `system` and `code` are read: never `text` or `display`.
fn push_codes(out: &mut Vec<TokenEntry>, param: &'static str, v: Option<&Value>) {
    for item in items(v) {
        match item {
            Value::String(code) if !code.is_empty() => out.push(TokenEntry {
                param,
                system: None,
                code: code.clone(),
            }),
            Value::Object(obj) => {
                let codings = match obj.get("coding") {
                    Some(c) => items(Some(c)),
                    None => std::slice::from_ref(item),
                };
                for coding in codings {
                    if let Some(code) = coding.get("code").and_then(Value::as_str) {
                        out.push(TokenEntry {
                            param,
                            system: coding
                                .get("system")
                                .and_then(Value::as_str)
                                .map(str::to_owned),
                            code: code.to_owned(),
                        });
                    }
                }
            }
            _ => {}
        }
    }
}

/// Elements indexed as tokens for every type: (element, parameter). All are `code`,
/// `Coding` or `CodeableConcept` in R4, never free text.
const TOKENS: &[(&str, &str)] = &[
    ("status", "status"),
    ("clinicalStatus", "clinical-status"),
    ("verificationStatus", "verification-status"),
    ("category", "category"),
    ("intent", "intent"),
    ("use", "use"),
    ("criticality", "criticality"),
    ("serviceType", "service-type"),
    ("valueCodeableConcept", "value-concept"),
];

/// The element that carries the type's main `code` parameter.
fn code_element(rt: &str) -> (&'static str, &'static str) {
    match rt {
        "Immunization" | "ImmunizationEvaluation" => ("vaccineCode", "vaccine-code"),
        "MedicationRequest"
        | "MedicationStatement"
        | "MedicationAdministration"
        | "MedicationDispense" => ("medicationCodeableConcept", "code"),
        _ => ("code", "code"),
    }
}

const PERSON_TYPES: &[&str] = &["Patient", "Practitioner", "RelatedPerson", "Person"];

/// Date elements: (type, element, parameter). An element holds a date/dateTime/instant
/// string or a Period.
const DATES: &[(&str, &str, &str)] = &[
    ("AllergyIntolerance", "recordedDate", "date"),
    ("AllergyIntolerance", "onsetDateTime", "onset"),
    ("AuditEvent", "recorded", "date"),
    ("CarePlan", "period", "date"),
    ("CareTeam", "period", "date"),
    ("Claim", "created", "created"),
    ("ClaimResponse", "created", "created"),
    ("Communication", "sent", "sent"),
    ("Communication", "received", "received"),
    ("Composition", "date", "date"),
    ("Condition", "onsetDateTime", "onset-date"),
    ("Condition", "onsetPeriod", "onset-date"),
    ("Condition", "abatementDateTime", "abatement-date"),
    ("Condition", "recordedDate", "recorded-date"),
    ("Consent", "dateTime", "date"),
    ("Coverage", "period", "period"),
    ("DeviceRequest", "authoredOn", "authored-on"),
    ("DiagnosticReport", "effectiveDateTime", "date"),
    ("DiagnosticReport", "effectivePeriod", "date"),
    ("DiagnosticReport", "issued", "issued"),
    ("DocumentReference", "date", "date"),
    ("Encounter", "period", "date"),
    ("EpisodeOfCare", "period", "date"),
    ("ExplanationOfBenefit", "created", "created"),
    ("FamilyMemberHistory", "date", "date"),
    ("Flag", "period", "date"),
    ("Goal", "startDate", "start-date"),
    ("ImagingStudy", "started", "started"),
    ("Immunization", "occurrenceDateTime", "date"),
    ("List", "date", "date"),
    ("Media", "createdDateTime", "created"),
    ("Media", "createdPeriod", "created"),
    (
        "MedicationAdministration",
        "effectiveDateTime",
        "effective-time",
    ),
    (
        "MedicationAdministration",
        "effectivePeriod",
        "effective-time",
    ),
    ("MedicationDispense", "whenHandedOver", "whenhandedover"),
    ("MedicationRequest", "authoredOn", "authoredon"),
    ("MedicationStatement", "effectiveDateTime", "effective"),
    ("MedicationStatement", "effectivePeriod", "effective"),
    ("NutritionOrder", "dateTime", "datetime"),
    ("Observation", "effectiveDateTime", "date"),
    ("Observation", "effectivePeriod", "date"),
    ("Observation", "effectiveInstant", "date"),
    ("Procedure", "performedDateTime", "date"),
    ("Procedure", "performedPeriod", "date"),
    ("Provenance", "recorded", "recorded"),
    ("QuestionnaireResponse", "authored", "authored"),
    ("RiskAssessment", "occurrenceDateTime", "date"),
    ("ServiceRequest", "authoredOn", "authored"),
];

/// The range a date string or a Period covers.
fn range_of(v: &Value) -> Option<(i64, i64)> {
    match v {
        Value::String(s) => date_range(s),
        Value::Object(p) => {
            let start = p.get("start").and_then(Value::as_str).and_then(date_range);
            let end = p.get("end").and_then(Value::as_str).and_then(date_range);
            match (start, end) {
                (None, None) => None,
                (s, e) => Some((s.map_or(i64::MIN, |s| s.0), e.map_or(i64::MAX, |e| e.1))),
            }
        }
        _ => None,
    }
}

/// The search parameter for a reference at `shape` (its path without indices).
fn ref_param(shape: &str) -> &'static str {
    match shape {
        // Nested elements with an R4 search parameter.
        "participant.individual" | "participant.member" | "action.participant" => "participant",
        "participant.actor" => "actor",
        "performer.actor" | "activity.detail.performer" | "series.performer.actor" => "performer",
        "payee.party" => "payee",
        "careTeam.provider" => "care-team",
        "item.encounter" | "context.encounter" => "encounter",
        "insurance.coverage" => "coverage",
        "link.other" | "link.target" => "link",
        "member.entity" => "member",
        "agent.who" => "agent",
        "entity.what" => "entity",
        "location.location" => "location",
        "diagnosis.condition" => "diagnosis",
        "context.related" => "related",
        "relatesTo.target" => "relatesto",
        "activity.reference" => "activity-reference",
        "attester.party" => "attester",
        "series.endpoint" => "endpoint",
        "section.entry" => "entry",
        "entry.item" => "item",
        // Top-level elements.
        "subject" => "subject",
        "patient" => "patient",
        "encounter" => "encounter",
        "performer" => "performer",
        "requester" => "requester",
        "recorder" => "recorder",
        "asserter" => "asserter",
        "author" => "author",
        "medicationReference" => "medication",
        "basedOn" => "based-on",
        "partOf" => "part-of",
        "context" => "context",
        "generalPractitioner" => "general-practitioner",
        "managingOrganization" | "organization" => "organization",
        "practitioner" => "practitioner",
        "serviceProvider" => "service-provider",
        "result" => "result",
        "target" => "target",
        "episodeOfCare" => "episode-of-care",
        "careTeam" => "care-team",
        "location" => "location",
        "provider" => "provider",
        "insurer" => "insurer",
        "beneficiary" => "beneficiary",
        "payor" => "payor",
        "policyHolder" => "policy-holder",
        "subscriber" => "subscriber",
        "sender" => "sender",
        "recipient" => "recipient",
        "source" => "source",
        "reasonReference" => "reason-reference",
        "hasMember" => "has-member",
        "derivedFrom" => "derived-from",
        "focus" => "focus",
        "device" => "device",
        "specimen" => "specimen",
        "schedule" => "schedule",
        "actor" => "actor",
        "claim" => "claim",
        "facility" => "facility",
        "enterer" => "enterer",
        "custodian" => "custodian",
        "authenticator" => "authenticator",
        "endpoint" => "endpoint",
        "healthcareService" => "service",
        "goal" => "goal",
        "replaces" => "replaces",
        "individual" => "individual",
        "study" => "study",
        "candidate" => "subject",
        "referrer" => "referrer",
        "interpreter" => "interpreter",
        "receiver" => "receiver",
        "appointment" => "appointment",
        _ => "reference",
    }
}

fn push_blind(out: &mut Vec<BlindEntry>, param: &'static str, value: impl Into<String>) {
    let value = value.into();
    if !value.is_empty() {
        out.push(BlindEntry { param, value });
    }
}

/// Dutch name parts carried as extensions on `family`
/// (<http://hl7.org/fhir/StructureDefinition/humanname-own-name> and friends): the own and
/// partner surnames, with and without their voorvoegsel, as whole family names.
fn dutch_family_parts(name: &Value, out: &mut Vec<BlindEntry>) {
    let mut parts: [Option<&str>; 4] = [None; 4]; // own-prefix, own-name, partner-prefix, partner-name
    for ext in items(name.get("_family").and_then(|f| f.get("extension"))) {
        let (Some(url), Some(value)) = (
            ext.get("url").and_then(Value::as_str),
            ext.get("valueString").and_then(Value::as_str),
        ) else {
            continue;
        };
        let slot = match url.rsplit('/').next() {
            Some("humanname-own-prefix") => 0,
            Some("humanname-own-name") => 1,
            Some("humanname-partner-prefix") => 2,
            Some("humanname-partner-name") => 3,
            _ => continue,
        };
        parts[slot] = Some(value);
    }
    for (prefix, surname) in [(parts[0], parts[1]), (parts[2], parts[3])] {
        let Some(surname) = surname else { continue };
        push_blind(out, "family", normalize_name(surname));
        if let Some(prefix) = prefix {
            push_blind(
                out,
                "family",
                normalize_name(&format!("{prefix} {surname}")),
            );
        }
    }
}

fn person_entries(resource: &Value, out: &mut Vec<BlindEntry>) {
    for name in items(resource.get("name")) {
        if let Some(family) = name.get("family").and_then(Value::as_str) {
            let whole = normalize_name(family);
            for part in name_parts(&whole) {
                push_blind(out, "family", part);
                push_blind(out, "name", part);
            }
            push_blind(out, "name", whole.clone());
            push_blind(out, "family", whole);
        }
        dutch_family_parts(name, out);
        for given in items(name.get("given")).iter().filter_map(Value::as_str) {
            let whole = normalize_name(given);
            for part in name_parts(&whole) {
                push_blind(out, "given", part);
                push_blind(out, "name", part);
            }
            push_blind(out, "name", whole.clone());
            push_blind(out, "given", whole);
        }
        if let Some(text) = name.get("text").and_then(Value::as_str) {
            for part in name_parts(&normalize_name(text)) {
                push_blind(out, "name", part);
            }
        }
    }
    for t in items(resource.get("telecom")) {
        let Some(value) = t.get("value").and_then(Value::as_str) else {
            continue;
        };
        match t.get("system").and_then(Value::as_str) {
            Some("email") => push_blind(out, "email", value.trim().to_lowercase()),
            Some("phone" | "sms") => {
                let trimmed = value.trim_start();
                let mut phone = String::with_capacity(trimmed.len());
                if trimmed.starts_with('+') {
                    phone.push('+');
                }
                phone.extend(trimmed.chars().filter(char::is_ascii_digit));
                if phone != "+" {
                    push_blind(out, "phone", phone);
                }
            }
            _ => {}
        }
    }
    if let Some(b) = resource.get("birthDate").and_then(Value::as_str) {
        push_blind(out, "birthdate", b.trim());
    }
    for a in items(resource.get("address")) {
        if let Some(pc) = a.get("postalCode").and_then(Value::as_str) {
            let norm: String = pc
                .chars()
                .filter(|c| !c.is_whitespace())
                .flat_map(char::to_uppercase)
                .collect();
            push_blind(out, "address-postalcode", norm);
        }
    }
}

/// Extracts the search index of a resource (which should have passed
/// [`crate::validate`]; anything malformed is skipped, never a panic).
///
/// - tokens: the main code (`code`; `vaccine-code` for Immunization; a medication's
///   `medicationCodeableConcept` as `code`), `status`, `clinical-status`,
///   `verification-status`, `category`, `intent`, `use`, `type`, `class` (Encounter),
///   `appointment-type`, `service-type`, `value-concept`, `gender` (person types),
///   `active`, `_tag`, `_security`, `_profile`;
/// - dates: see the table in this module (`date`, `onset-date`, `recorded-date`,
///   `authoredon`, `created`, `sent`, `recorded`, ...), Appointment `start`..`end` as `date`;
///   never `birthDate`;
/// - refs: every relative `Type/id` reference outside `contained`, under the R4 search
///   parameter of its element, plus `patient` for every reference to a Patient at one of
///   the type's patient-compartment paths (so `?patient=` works on the whole compartment);
/// - blind: `identifier` (`system|value` and bare `value`) for any type; for Patient,
///   Practitioner, RelatedPerson and Person also `name`, `family`, `given` (normalised with
///   [`normalize_name`], whole and split on spaces and hyphens), `email`, `phone`,
///   `birthdate` and `address-postalcode`.
///
/// Every list is sorted and free of duplicates.
pub fn extract_index(rt: ResourceType, resource: &Value) -> SearchIndex {
    let name = rt.as_str();
    let mut ix = SearchIndex::default();
    let get = |k: &str| resource.get(k);
    let person = PERSON_TYPES.contains(&name);

    // Tokens.
    let (element, param) = code_element(name);
    push_codes(&mut ix.tokens, param, get(element));
    for (element, param) in TOKENS {
        push_codes(&mut ix.tokens, param, get(element));
    }
    match name {
        "Encounter" => push_codes(&mut ix.tokens, "class", get("class")),
        "Appointment" => push_codes(&mut ix.tokens, "appointment-type", get("appointmentType")),
        _ => {}
    }
    if person {
        push_codes(&mut ix.tokens, "gender", get("gender"));
    } else {
        push_codes(&mut ix.tokens, "type", get("type"));
    }
    if let Some(b) = get("active").and_then(Value::as_bool) {
        ix.tokens.push(TokenEntry {
            param: "active",
            system: None,
            code: if b { "true" } else { "false" }.to_owned(),
        });
    }
    if let Some(meta) = get("meta") {
        push_codes(&mut ix.tokens, "_tag", meta.get("tag"));
        push_codes(&mut ix.tokens, "_security", meta.get("security"));
        push_codes(&mut ix.tokens, "_profile", meta.get("profile"));
    }

    // Dates.
    for (t, element, param) in DATES {
        if *t == name {
            if let Some((start, end)) = get(element).and_then(range_of) {
                ix.dates.push(DateEntry { param, start, end });
            }
        }
    }
    if name == "Appointment" {
        let start = get("start").and_then(Value::as_str).and_then(date_range);
        let end = get("end").and_then(Value::as_str).and_then(date_range);
        if let Some((s, e)) = start {
            ix.dates.push(DateEntry {
                param: "date",
                start: s,
                end: end.map_or(e, |(_, e)| e),
            });
        }
    }

    // References (those of contained resources belong to those resources).
    let compartment = if rt == ResourceType::PATIENT {
        &[][..]
    } else {
        patient_compartment_paths(rt)
    };
    visit_references(resource, &mut |site| {
        if site.shape.starts_with("contained") {
            return;
        }
        let Ok(RefTarget::Local { rtype, id, .. }) = parse_reference(site.raw) else {
            return;
        };
        if rtype == ResourceType::PATIENT && compartment.contains(&site.shape) {
            ix.refs.push(RefEntry {
                param: "patient",
                target_type: rtype.as_str().to_owned(),
                target_id: id.clone(),
            });
        }
        ix.refs.push(RefEntry {
            param: ref_param(site.shape),
            target_type: rtype.as_str().to_owned(),
            target_id: id,
        });
    });

    // Blind: identifiers of any resource, personal details of persons.
    for ident in items(get("identifier")) {
        if let Some(value) = ident.get("value").and_then(Value::as_str) {
            let system = ident.get("system").and_then(Value::as_str).unwrap_or("");
            push_blind(&mut ix.blind, "identifier", format!("{system}|{value}"));
            push_blind(&mut ix.blind, "identifier", value);
        }
    }
    if person {
        person_entries(resource, &mut ix.blind);
    }

    ix.tokens
        .sort_by(|a, b| (a.param, &a.system, &a.code).cmp(&(b.param, &b.system, &b.code)));
    ix.tokens.dedup();
    ix.dates.sort_by_key(|d| (d.param, d.start, d.end));
    ix.dates.dedup();
    ix.refs.sort_by(|a, b| {
        (a.param, &a.target_type, &a.target_id).cmp(&(b.param, &b.target_type, &b.target_id))
    });
    ix.refs.dedup();
    ix.blind
        .sort_by(|a, b| (a.param, &a.value).cmp(&(b.param, &b.value)));
    ix.blind.dedup();
    ix
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn blind(ix: &SearchIndex) -> Vec<String> {
        ix.blind
            .iter()
            .map(|b| format!("{}={}", b.param, b.value))
            .collect()
    }

    fn tokens(ix: &SearchIndex) -> Vec<String> {
        ix.tokens
            .iter()
            .map(|t| {
                format!(
                    "{}={}|{}",
                    t.param,
                    t.system.as_deref().unwrap_or(""),
                    t.code
                )
            })
            .collect()
    }

    #[test]
    fn names_fold_diacritics_case_and_spaces() {
        assert_eq!(normalize_name("Zoë  Überman"), "zoe uberman");
        assert_eq!(
            normalize_name("  Van Putten-van der  GIESSEN "),
            "van putten-van der giessen"
        );
        assert_eq!(
            normalize_name("Anaïs Çelik Muñoz Ångström"),
            "anais celik munoz angstrom"
        );
        assert_eq!(normalize_name("Jose\u{301}"), "jose", "decomposed accents");
        assert_eq!(normalize_name("Strauß Œdipe"), "strauss oedipe");
        assert_eq!(normalize_name(""), "");
        assert_eq!(normalize_name("\u{3000}"), "");
    }

    #[test]
    fn patient_identity_goes_to_blind_entries_only() {
        let p = json!({"resourceType": "Patient", "id": "p",
            "identifier": [{"system": "http://fhir.nl/fhir/NamingSystem/bsn", "value": "999996708"}, {"value": "local-7"}],
            "name": [{"family": "van Putten-van der Giessen", "given": ["Johanna", "Anne-Marie"], "text": "Jo van Putten"}],
            "telecom": [{"system": "email", "value": " J.Putten@Example.nl"}, {"system": "phone", "value": "+31 (0)6 1234-5678"},
                        {"system": "phone", "value": "06 1234 5678"}],
            "gender": "female", "birthDate": "1934-04-28", "address": [{"line": ["Straat 1"], "city": "Utrecht", "postalCode": "1234 ab"}]});
        let ix = extract_index(ResourceType::PATIENT, &p);
        let blind = blind(&ix);
        for expected in [
            "identifier=http://fhir.nl/fhir/NamingSystem/bsn|999996708",
            "identifier=999996708",
            "identifier=|local-7",
            "identifier=local-7",
            "family=van putten-van der giessen",
            "family=putten",
            "family=giessen",
            "given=johanna",
            "given=anne-marie",
            "given=marie",
            "name=jo",
            "name=van putten-van der giessen",
            "email=j.putten@example.nl",
            "phone=+310612345678",
            "phone=0612345678",
            "birthdate=1934-04-28",
            "address-postalcode=1234AB",
        ] {
            assert!(blind.contains(&expected.to_owned()), "{expected} missing");
        }
        let clear = format!("{:?}{:?}{:?}", ix.tokens, ix.dates, ix.refs);
        for secret in [
            "999996708",
            "local-7",
            "Putten",
            "putten",
            "Johanna",
            "xample",
            "1934",
            "Straat",
            "Utrecht",
            "1234",
        ] {
            assert!(!clear.contains(secret), "{secret} in a clear index");
        }
        assert!(
            !format!("{ix:?}").contains("putten"),
            "Debug redacts blind values"
        );
        assert!(tokens(&ix).contains(&"gender=|female".to_owned()));
        assert!(
            ix.dates.is_empty(),
            "birthDate is blind-indexed, not a date entry"
        );
    }

    #[test]
    fn dutch_name_extensions_give_own_and_partner_family_names() {
        let p = json!({"resourceType": "Patient", "name": [{"family": "van Putten-van der Giessen",
            "_family": {"extension": [
                {"url": "http://hl7.org/fhir/StructureDefinition/humanname-own-prefix", "valueString": "van"},
                {"url": "http://hl7.org/fhir/StructureDefinition/humanname-own-name", "valueString": "Putten"},
                {"url": "http://hl7.org/fhir/StructureDefinition/humanname-partner-prefix", "valueString": "van der"},
                {"url": "http://hl7.org/fhir/StructureDefinition/humanname-partner-name", "valueString": "Giessen"}]}}]});
        let blind = blind(&extract_index(ResourceType::PATIENT, &p));
        for expected in [
            "family=van putten",
            "family=van der giessen",
            "family=giessen",
            "family=putten",
        ] {
            assert!(blind.contains(&expected.to_owned()), "{expected} missing");
        }
    }

    #[test]
    fn observation_codes_dates_and_patient_reference() {
        let o = json!({"resourceType": "Observation", "status": "final",
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory", "display": "Laboratory"}]}],
            "code": {"coding": [{"system": "http://loinc.org", "code": "4548-4", "display": "HbA1c"}], "text": "HbA1c van mevrouw"},
            "subject": {"reference": "Patient/p1"}, "encounter": {"reference": "Encounter/e1"},
            "performer": [{"reference": "Practitioner/d1"}, {"reference": "https://elders.nl/fhir/Patient/x"}],
            "effectiveDateTime": "2021-03-04", "meta": {"tag": [{"system": "https://smarthealthit.org/tags", "code": "synthea-5-2019"}]},
            "note": [{"text": "Geen bijzonderheden"}]});
        let ix = extract_index(ResourceType::OBSERVATION, &o);
        let toks = tokens(&ix);
        for expected in [
            "code=http://loinc.org|4548-4",
            "category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory",
            "status=|final",
            "_tag=https://smarthealthit.org/tags|synthea-5-2019",
        ] {
            assert!(
                toks.contains(&expected.to_owned()),
                "{expected} in {toks:?}"
            );
        }
        let clear = format!("{:?}", ix.tokens);
        for text in ["mevrouw", "HbA1c", "Laboratory", "bijzonderheden"] {
            assert!(!clear.contains(text), "free text {text} is never indexed");
        }
        assert_eq!(
            ix.dates,
            [DateEntry {
                param: "date",
                start: 1_614_816_000,
                end: 1_614_902_400
            }]
        );
        let refs: Vec<_> = ix
            .refs
            .iter()
            .map(|r| format!("{}={}/{}", r.param, r.target_type, r.target_id))
            .collect();
        assert_eq!(
            refs,
            [
                "encounter=Encounter/e1",
                "patient=Patient/p1",
                "performer=Practitioner/d1",
                "subject=Patient/p1"
            ],
            "absolute references are not indexed"
        );
    }

    #[test]
    fn dates_of_several_types() {
        let enc = json!({"resourceType": "Encounter", "status": "finished", "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
            "period": {"start": "2021-01-01T10:00:00Z"}});
        let ix = extract_index(ResourceType::ENCOUNTER, &enc);
        assert_eq!(
            ix.dates,
            [DateEntry {
                param: "date",
                start: 1_609_495_200,
                end: i64::MAX
            }]
        );
        assert!(tokens(&ix)
            .contains(&"class=http://terminology.hl7.org/CodeSystem/v3-ActCode|AMB".to_owned()));
        let cond = json!({"resourceType": "Condition", "onsetDateTime": "2020", "recordedDate": "2020-06-01", "subject": {"reference": "Patient/p"}});
        let ix = extract_index(ResourceType::CONDITION, &cond);
        let params: Vec<_> = ix.dates.iter().map(|d| d.param).collect();
        assert_eq!(params, ["onset-date", "recorded-date"]);
        let appt = json!({"resourceType": "Appointment", "start": "2021-05-01T09:00:00+02:00", "end": "2021-05-01T09:30:00+02:00"});
        let ix = extract_index(ResourceType::APPOINTMENT, &appt);
        // The end is inclusive to its precision: up to the end of 09:30:00.
        assert_eq!(
            ix.dates,
            [DateEntry {
                param: "date",
                start: 1_619_852_400,
                end: 1_619_854_201
            }]
        );
        let mr = json!({"resourceType": "MedicationRequest", "authoredOn": "not a date", "medicationCodeableConcept": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "313782"}]}});
        let ix = extract_index(ResourceType::MEDICATION_REQUEST, &mr);
        assert!(ix.dates.is_empty(), "malformed dates are skipped");
        assert!(tokens(&ix)
            .contains(&"code=http://www.nlm.nih.gov/research/umls/rxnorm|313782".to_owned()));
    }

    #[test]
    fn compartment_references_also_index_as_patient() {
        let team = json!({"resourceType": "CareTeam", "participant": [{"member": {"reference": "Patient/p"}},
            {"member": {"reference": "Practitioner/d"}}], "contained": [{"resourceType": "Patient", "id": "x",
            "generalPractitioner": [{"reference": "Practitioner/hidden"}]}]});
        let refs: Vec<_> = extract_index(ResourceType::CARE_TEAM, &team)
            .refs
            .into_iter()
            .map(|r| format!("{}={}/{}", r.param, r.target_type, r.target_id))
            .collect();
        assert_eq!(
            refs,
            [
                "participant=Patient/p",
                "participant=Practitioner/d",
                "patient=Patient/p"
            ]
        );
        let imm = json!({"resourceType": "Immunization", "vaccineCode": {"coding": [{"system": "http://hl7.org/fhir/sid/cvx", "code": "140"}]},
            "patient": {"reference": "Patient/p"}, "occurrenceDateTime": "2021-02-03T04:05:06+01:00"});
        let ix = extract_index(ResourceType::IMMUNIZATION, &imm);
        assert_eq!(ix.refs.len(), 1, "patient once");
        assert!(tokens(&ix).contains(&"vaccine-code=http://hl7.org/fhir/sid/cvx|140".to_owned()));
        assert_eq!(ix.dates[0].param, "date");
    }

    #[test]
    fn odd_shapes_do_not_panic() {
        for v in [
            json!(null),
            json!([]),
            json!({"name": "x", "telecom": {"system": "phone", "value": "+"}, "identifier": [1, {"value": 2}],
                   "code": [[], {"coding": {"code": 5}}], "period": {"start": 1}, "meta": 3}),
        ] {
            let _ = extract_index(ResourceType::PATIENT, &v);
            let _ = extract_index(ResourceType::OBSERVATION, &v);
            let _ = extract_index(ResourceType::ENCOUNTER, &v);
        }
    }
}
