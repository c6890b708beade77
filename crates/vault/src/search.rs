//! FHIR search (`GET [type]?params`), decided and audited per hit.
//!
//! Candidates come from the search index (clear codes, dates and references; keyed blind
//! hashes for identifiers and personal details). Every candidate is then decided as a read
//! with its stored category and patient, and only the allowed ones exist for the caller:
//! `total` and paging are computed over the allowed list, so neither reveals what the
//! caller may not see. One `search` event records the (redacted) query and the visible
//! count; every returned hit gets a `search-hit` event, durable before data leaves.
//!
//! Supported: `_id`, `_lastUpdated`, and per type exactly the parameters the index
//! ([`zorgkluis_fhir::extract_index`]) can hold for it: tokens (`system|code`, `|code`,
//! `code`, `system|`), dates (prefixes `eq ne gt lt ge le sa eb`, partial dates), local
//! references (`Type/id` or `id`, modifier `:Type`), and blind-indexed values (exact match
//! after the index's normalisation; modifier `:exact`). Comma separates alternatives.
//! Controls: `_count`, `_offset` or `_page`, `_sort`, `_summary=count`.

use serde_json::Value;
use zorgkluis_audit::{AuditEvent, EventCode, Outcome};
use zorgkluis_fhir::{date_range, normalize_name, Issue, IssueCode, ResourceType};
use zorgkluis_policy::{decide, Action, Allowed, Category, Decision, Principal, Target};
use zorgkluis_store::{
    DateTest, IndexClause, IndexQuery, SearchCandidate, SystemMatch, TokenMatch,
};

use crate::events::Object;
use crate::records::{issue, stored_category, Stored};
use crate::{Vault, VaultError};

/// Page size when `_count` is not given.
pub const DEFAULT_COUNT: usize = 50;
/// Largest page size.
pub const MAX_COUNT: usize = 1000;
/// Candidates (before the access decision) a search may have at most.
pub const MAX_CANDIDATES: usize = 50_000;
/// Alternatives (comma-separated values) one parameter may have at most.
const MAX_ALTERNATIVES: usize = 100;

/// A parsed FHIR search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    /// The resource type searched.
    pub resource_type: String,
    /// Search parameters as in the URL (name with an optional `:modifier`, value),
    /// percent-decoded; control parameters (`_count`, ...) are not among them.
    pub params: Vec<(String, String)>,
    /// Page size, `1..=1000`.
    pub count: usize,
    /// Allowed hits to skip.
    pub offset: usize,
    /// Order of the hits (by id when `None`).
    pub sort: Option<SearchSort>,
    /// `_summary=count`: the total only, no hits.
    pub summary_count: bool,
}

/// `_sort`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchSort {
    /// `_sort=_lastUpdated`.
    LastUpdatedAsc,
    /// `_sort=-_lastUpdated`.
    LastUpdatedDesc,
    /// `_sort=date` (earliest start of the `date` parameter; resources without it last).
    DateAsc,
    /// `_sort=-date`.
    DateDesc,
}

/// One page of a search.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchPage {
    /// Matches the caller may see, over all pages.
    pub total: usize,
    /// This page: decided, audited and opened.
    pub hits: Vec<Stored>,
}

/// How a parameter is indexed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Id,
    LastUpdated,
    Token,
    Date,
    Ref,
    Blind,
}

/// Token parameters of every type (see `extract_index`).
const COMMON_TOKENS: &[&str] = &[
    "status",
    "clinical-status",
    "verification-status",
    "category",
    "intent",
    "use",
    "criticality",
    "service-type",
    "value-concept",
    "active",
    "_tag",
    "_security",
    "_profile",
];

const PERSON_TYPES: &[&str] = &["Patient", "Practitioner", "RelatedPerson", "Person"];

const PERSON_BLIND: &[&str] = &[
    "name",
    "family",
    "given",
    "email",
    "phone",
    "birthdate",
    "address-postalcode",
];

/// Date parameters per type, as `extract_index` indexes them.
const DATE_PARAMS: &[(&str, &str)] = &[
    ("AllergyIntolerance", "date"),
    ("AllergyIntolerance", "onset"),
    ("Appointment", "date"),
    ("AuditEvent", "date"),
    ("CarePlan", "date"),
    ("CareTeam", "date"),
    ("Claim", "created"),
    ("ClaimResponse", "created"),
    ("Communication", "sent"),
    ("Communication", "received"),
    ("Composition", "date"),
    ("Condition", "onset-date"),
    ("Condition", "abatement-date"),
    ("Condition", "recorded-date"),
    ("Consent", "date"),
    ("Coverage", "period"),
    ("DeviceRequest", "authored-on"),
    ("DiagnosticReport", "date"),
    ("DiagnosticReport", "issued"),
    ("DocumentReference", "date"),
    ("Encounter", "date"),
    ("EpisodeOfCare", "date"),
    ("ExplanationOfBenefit", "created"),
    ("FamilyMemberHistory", "date"),
    ("Flag", "date"),
    ("Goal", "start-date"),
    ("ImagingStudy", "started"),
    ("Immunization", "date"),
    ("List", "date"),
    ("Media", "created"),
    ("MedicationAdministration", "effective-time"),
    ("MedicationDispense", "whenhandedover"),
    ("MedicationRequest", "authoredon"),
    ("MedicationStatement", "effective"),
    ("NutritionOrder", "datetime"),
    ("Observation", "date"),
    ("Procedure", "date"),
    ("Provenance", "recorded"),
    ("QuestionnaireResponse", "authored"),
    ("RiskAssessment", "date"),
    ("ServiceRequest", "authored"),
];

/// Reference parameters `extract_index` emits (any type may hold any reference element).
const REF_PARAMS: &[&str] = &[
    "actor",
    "activity-reference",
    "agent",
    "appointment",
    "asserter",
    "attester",
    "author",
    "authenticator",
    "based-on",
    "beneficiary",
    "care-team",
    "claim",
    "context",
    "coverage",
    "custodian",
    "derived-from",
    "device",
    "diagnosis",
    "encounter",
    "endpoint",
    "enterer",
    "entity",
    "entry",
    "episode-of-care",
    "facility",
    "focus",
    "general-practitioner",
    "goal",
    "has-member",
    "individual",
    "insurer",
    "interpreter",
    "item",
    "link",
    "location",
    "medication",
    "member",
    "organization",
    "part-of",
    "participant",
    "patient",
    "payee",
    "payor",
    "performer",
    "policy-holder",
    "practitioner",
    "provider",
    "reason-reference",
    "receiver",
    "recipient",
    "recorder",
    "referrer",
    "related",
    "relatesto",
    "replaces",
    "requester",
    "result",
    "schedule",
    "sender",
    "service",
    "service-provider",
    "source",
    "specimen",
    "study",
    "subject",
    "subscriber",
    "target",
];

/// How `param` is indexed for `rt`, if at all.
fn kind_of(rt: &str, param: &str) -> Option<Kind> {
    let person = PERSON_TYPES.contains(&rt);
    let main_code = match rt {
        "Immunization" | "ImmunizationEvaluation" => "vaccine-code",
        _ => "code",
    };
    let type_token = match rt {
        "Encounter" => Some("class"),
        "Appointment" => Some("appointment-type"),
        _ => None,
    };
    Some(match param {
        "_id" => Kind::Id,
        "_lastUpdated" => Kind::LastUpdated,
        p if DATE_PARAMS.contains(&(rt, p)) => Kind::Date,
        p if p == main_code
            || COMMON_TOKENS.contains(&p)
            || type_token == Some(p)
            || (person && p == "gender")
            || (!person && p == "type") =>
        {
            Kind::Token
        }
        "identifier" => Kind::Blind,
        p if person && PERSON_BLIND.contains(&p) => Kind::Blind,
        p if REF_PARAMS.contains(&p) => Kind::Ref,
        _ => return None,
    })
}

/// The parameter names searchable on `resource_type` (for a CapabilityStatement), by kind:
/// `(name, "token" | "date" | "reference" | "string")`.
pub fn search_params_of(resource_type: &str) -> Vec<(&'static str, &'static str)> {
    let mut names: Vec<&'static str> = vec!["_id", "_lastUpdated", "code", "vaccine-code"];
    names.extend(COMMON_TOKENS);
    names.extend(["class", "appointment-type", "gender", "type", "identifier"]);
    names.extend(PERSON_BLIND);
    names.extend(
        DATE_PARAMS
            .iter()
            .filter(|(t, _)| *t == resource_type)
            .map(|(_, p)| *p),
    );
    names.extend(REF_PARAMS);
    names
        .into_iter()
        .filter_map(|n| {
            let kind = match kind_of(resource_type, n)? {
                Kind::Id | Kind::Token => "token",
                Kind::LastUpdated | Kind::Date => "date",
                Kind::Ref => "reference",
                Kind::Blind if n == "identifier" => "token",
                Kind::Blind if n == "birthdate" => "date",
                Kind::Blind => "string",
            };
            Some((n, kind))
        })
        .collect()
}

/// One parsed condition, before blind values are hashed.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Clause {
    Index(IndexClause),
    /// Normalised values of a blind-indexed parameter.
    Blind {
        param: &'static str,
        values: Vec<String>,
    },
}

fn not_supported(location: &str, message: impl Into<String>) -> Issue {
    issue(IssueCode::NotSupported, location, message)
}

fn invalid(location: &str, message: impl Into<String>) -> Issue {
    issue(IssueCode::Invalid, location, message)
}

/// Splits on `sep` not preceded by a backslash; `\,`, `\|`, `\$` and `\\` are unescaped.
fn split_escaped(s: &str, sep: char) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(next) = chars.next() {
                    if next != sep {
                        // Kept escaped for a later split on another separator.
                        if let Some(last) = out.last_mut() {
                            last.push('\\');
                        }
                    }
                    if let Some(last) = out.last_mut() {
                        last.push(next);
                    }
                }
            }
            c if c == sep => out.push(String::new()),
            c => {
                if let Some(last) = out.last_mut() {
                    last.push(c);
                }
            }
        }
    }
    out
}

/// Removes the remaining escapes.
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(next) = chars.next() {
                out.push(next);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A date value with its prefix as the test of an indexed range.
fn date_test(location: &str, value: &str) -> Result<DateTest, Issue> {
    let (prefix, rest) = match value.get(..2) {
        Some(p) if p.bytes().all(|b| b.is_ascii_lowercase()) => (p, &value[2..]),
        _ => ("eq", value),
    };
    let Some((qs, qe)) = date_range(rest) else {
        return Err(invalid(
            location,
            "not a date (YYYY, YYYY-MM, YYYY-MM-DD or a dateTime), with an optional prefix",
        ));
    };
    Ok(match prefix {
        "eq" => DateTest::Within { start: qs, end: qe },
        "ne" => DateTest::NotWithin { start: qs, end: qe },
        "gt" => DateTest::EndsAfter(qe),
        "ge" => DateTest::EndsAfter(qs),
        "lt" => DateTest::StartsBefore(qs),
        "le" => DateTest::StartsBefore(qe),
        "sa" => DateTest::StartsAtOrAfter(qe),
        "eb" => DateTest::EndsAtOrBefore(qs),
        "ap" => return Err(not_supported(location, "the prefix ap is not supported")),
        _ => return Err(invalid(location, "unknown date prefix")),
    })
}

fn token_match(location: &str, value: &str) -> Result<TokenMatch, Issue> {
    let parts = split_escaped(value, '|');
    let owned = |s: &str| unescape(s);
    match parts.as_slice() {
        [code] => Ok(TokenMatch {
            system: SystemMatch::Any,
            code: Some(owned(code)),
        }),
        [system, code] if system.is_empty() && code.is_empty() => {
            Err(invalid(location, "a token needs a system or a code"))
        }
        [system, code] => Ok(TokenMatch {
            system: if system.is_empty() {
                SystemMatch::Absent
            } else {
                SystemMatch::Is(owned(system))
            },
            code: (!code.is_empty()).then(|| owned(code)),
        }),
        _ => Err(invalid(
            location,
            "a token is system|code, |code, code or system|",
        )),
    }
}

fn reference(
    location: &str,
    type_modifier: Option<ResourceType>,
    value: &str,
) -> Result<(Option<String>, String), Issue> {
    let value = unescape(value);
    if value.contains("://") {
        return Err(not_supported(
            location,
            "only references to this server (Type/id or id) can be searched",
        ));
    }
    let (rtype, id) = match value.split_once('/') {
        Some((t, id)) => {
            let t = ResourceType::parse(t)
                .map_err(|_| invalid(location, "unknown resource type in the reference"))?;
            if type_modifier.is_some_and(|m| m != t) {
                return Err(invalid(
                    location,
                    "the reference's type differs from the modifier",
                ));
            }
            (Some(t.as_str().to_owned()), id.to_owned())
        }
        None => (type_modifier.map(|t| t.as_str().to_owned()), value.clone()),
    };
    let id_ok = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    if !id_ok {
        return Err(invalid(location, "not a resource id"));
    }
    Ok((rtype, id))
}

/// A blind-indexed value normalised as `extract_index` normalised the stored one.
fn blind_value(location: &str, param: &str, value: &str) -> Result<String, Issue> {
    let value = unescape(value);
    let normalised = match param {
        "identifier" => value,
        "name" | "family" | "given" => normalize_name(&value),
        "email" => value.trim().to_lowercase(),
        "phone" => {
            let trimmed = value.trim_start();
            let mut phone = String::new();
            if trimmed.starts_with('+') {
                phone.push('+');
            }
            phone.extend(trimmed.chars().filter(char::is_ascii_digit));
            if phone == "+" {
                String::new()
            } else {
                phone
            }
        }
        "birthdate" => {
            let v = value.trim();
            let v = v.strip_prefix("eq").unwrap_or(v);
            if v.len() != 10 || date_range(v).is_none() {
                return Err(not_supported(
                    location,
                    "birthdate is blind-indexed: only an exact date YYYY-MM-DD can be searched",
                ));
            }
            v.to_owned()
        }
        "address-postalcode" => value
            .chars()
            .filter(|c| !c.is_whitespace())
            .flat_map(char::to_uppercase)
            .collect(),
        _ => return Err(not_supported(location, "not a blind-indexed parameter")),
    };
    if normalised.is_empty() {
        return Err(invalid(location, "empty value"));
    }
    Ok(normalised)
}

/// Static name of a blind parameter (the index keys hashes by it).
fn blind_param(p: &str) -> Option<&'static str> {
    std::iter::once("identifier")
        .chain(PERSON_BLIND.iter().copied())
        .find(|b| *b == p)
}

/// One search parameter as a clause.
fn clause(rt: ResourceType, name: &str, value: &str) -> Result<Clause, Issue> {
    let location = name;
    let (base, modifier) = match name.split_once(':') {
        Some((b, m)) => (b, Some(m)),
        None => (name, None),
    };
    let Some(kind) = kind_of(rt.as_str(), base) else {
        return Err(not_supported(
            location,
            format!("unknown search parameter for {}", rt.as_str()),
        ));
    };
    let type_modifier = match (kind, modifier) {
        (_, None) => None,
        (Kind::Blind, Some("exact")) => None,
        (Kind::Ref, Some(m)) => Some(ResourceType::parse(m).map_err(|_| {
            not_supported(location, "unsupported modifier on a reference parameter")
        })?),
        (_, Some(_)) => return Err(not_supported(location, "modifier not supported")),
    };
    let raw = split_escaped(value, ',');
    if raw.iter().any(String::is_empty) {
        return Err(invalid(location, "empty value"));
    }
    if raw.len() > MAX_ALTERNATIVES {
        return Err(issue(
            IssueCode::TooCostly,
            location,
            format!("at most {MAX_ALTERNATIVES} alternatives per parameter"),
        ));
    }
    let param = base.to_owned();
    Ok(match kind {
        Kind::Id => Clause::Index(IndexClause::Ids(raw.iter().map(|v| unescape(v)).collect())),
        Kind::LastUpdated => Clause::Index(IndexClause::LastUpdated(
            raw.iter()
                .map(|v| date_test(location, v))
                .collect::<Result<_, _>>()?,
        )),
        Kind::Date => Clause::Index(IndexClause::Date {
            param,
            any: raw
                .iter()
                .map(|v| date_test(location, v))
                .collect::<Result<_, _>>()?,
        }),
        Kind::Token => Clause::Index(IndexClause::Token {
            param,
            any: raw
                .iter()
                .map(|v| token_match(location, v))
                .collect::<Result<_, _>>()?,
        }),
        Kind::Ref => Clause::Index(IndexClause::Ref {
            param,
            any: raw
                .iter()
                .map(|v| reference(location, type_modifier, v))
                .collect::<Result<_, _>>()?,
        }),
        Kind::Blind => {
            let Some(p) = blind_param(base) else {
                return Err(not_supported(location, "not a blind-indexed parameter"));
            };
            Clause::Blind {
                param: p,
                values: raw
                    .iter()
                    .map(|v| blind_value(location, p, v))
                    .collect::<Result<_, _>>()?,
            }
        }
    })
}

/// Every condition of a query, or every problem with it.
fn compile(query: &SearchQuery) -> Result<(ResourceType, Vec<Clause>), Vec<Issue>> {
    let rt = ResourceType::parse(&query.resource_type)
        .map_err(|_| vec![not_supported("type", "unknown resource type")])?;
    let mut issues = Vec::new();
    let mut clauses = Vec::new();
    for (name, value) in &query.params {
        match clause(rt, name, value) {
            Ok(c) => clauses.push(c),
            Err(i) => issues.push(i),
        }
    }
    if !(1..=MAX_COUNT).contains(&query.count) {
        issues.push(invalid("_count", format!("_count must be 1..={MAX_COUNT}")));
    }
    if matches!(query.sort, Some(SearchSort::DateAsc | SearchSort::DateDesc))
        && kind_of(rt.as_str(), "date") != Some(Kind::Date)
    {
        issues.push(not_supported(
            "_sort",
            format!("{} has no date parameter to sort on", rt.as_str()),
        ));
    }
    if issues.is_empty() {
        Ok((rt, clauses))
    } else {
        Err(issues)
    }
}

fn parse_number(location: &str, value: &str, issues: &mut Vec<Issue>) -> Option<usize> {
    match value.trim().parse::<usize>() {
        Ok(n) => Some(n),
        Err(_) => {
            issues.push(invalid(location, "not a whole number"));
            None
        }
    }
}

impl SearchQuery {
    /// Parses the query pairs of `GET [resource_type]?…` (already percent-decoded). Every
    /// problem is one issue: `not-supported` for unknown parameters, modifiers and
    /// prefixes, `invalid` for bad values.
    pub fn parse(resource_type: &str, pairs: &[(String, String)]) -> Result<Self, Vec<Issue>> {
        let mut issues = Vec::new();
        let mut count = DEFAULT_COUNT;
        let mut offset = None;
        let mut page = None;
        let mut sort = None;
        let mut summary_count = false;
        let mut params = Vec::new();
        for (name, value) in pairs {
            match name.as_str() {
                "_count" => {
                    if let Some(n) = parse_number("_count", value, &mut issues) {
                        count = n;
                    }
                }
                "_offset" => offset = parse_number("_offset", value, &mut issues),
                "_page" => match parse_number("_page", value, &mut issues) {
                    Some(0) => issues.push(invalid("_page", "pages count from 1")),
                    p => page = p,
                },
                "_sort" => match value.as_str() {
                    "_lastUpdated" => sort = Some(SearchSort::LastUpdatedAsc),
                    "-_lastUpdated" => sort = Some(SearchSort::LastUpdatedDesc),
                    "date" => sort = Some(SearchSort::DateAsc),
                    "-date" => sort = Some(SearchSort::DateDesc),
                    _ => issues.push(not_supported(
                        "_sort",
                        "_sort supports _lastUpdated, -_lastUpdated, date and -date",
                    )),
                },
                "_summary" => match value.as_str() {
                    "count" => summary_count = true,
                    "false" => summary_count = false,
                    _ => issues.push(not_supported("_summary", "only _summary=count")),
                },
                // Representation parameters of every interaction: not search criteria.
                "_format" | "_pretty" => {}
                _ => params.push((name.clone(), value.clone())),
            }
        }
        if offset.is_some() && page.is_some() {
            issues.push(invalid("_page", "give _offset or _page, not both"));
        }
        let offset = match (offset, page) {
            (Some(o), _) => o,
            (None, Some(p)) => (p - 1).saturating_mul(count),
            (None, None) => 0,
        };
        let query = Self {
            resource_type: resource_type.to_owned(),
            params,
            count,
            offset,
            sort,
            summary_count,
        };
        if let Err(more) = compile(&query) {
            issues.extend(more);
        }
        if issues.is_empty() {
            Ok(query)
        } else {
            Err(issues)
        }
    }

    /// The query as the audit trail records it: values of identifiers and other
    /// blind-indexed (personal) parameters replaced by `***` (an identifier keeps its
    /// system).
    pub fn redacted(&self) -> String {
        let mut parts: Vec<String> = self
            .params
            .iter()
            .map(|(name, value)| {
                let base = name.split_once(':').map_or(name.as_str(), |(b, _)| b);
                let kind = kind_of(&self.resource_type, base);
                let shown = match kind {
                    Some(Kind::Blind) if base == "identifier" => split_escaped(value, ',')
                        .iter()
                        .map(|v| match split_escaped(v, '|').as_slice() {
                            [system, _] => format!("{}|***", unescape(system)),
                            _ => "***".to_owned(),
                        })
                        .collect::<Vec<_>>()
                        .join(","),
                    Some(Kind::Blind) => "***".to_owned(),
                    // Unknown parameters are refused before they are logged; redact anyway.
                    None => "***".to_owned(),
                    Some(_) => value.clone(),
                };
                format!("{name}={shown}")
            })
            .collect();
        if let Some(s) = self.sort {
            parts.push(
                match s {
                    SearchSort::LastUpdatedAsc => "_sort=_lastUpdated",
                    SearchSort::LastUpdatedDesc => "_sort=-_lastUpdated",
                    SearchSort::DateAsc => "_sort=date",
                    SearchSort::DateDesc => "_sort=-date",
                }
                .to_owned(),
            );
        }
        if self.summary_count {
            parts.push("_summary=count".into());
        } else {
            parts.push(format!("_count={}", self.count));
            parts.push(format!("_offset={}", self.offset));
        }
        format!("{}?{}", self.resource_type, parts.join("&"))
    }
}

/// Orders allowed candidates for paging (ties by id, so pages are stable).
fn sort_candidates(list: &mut [(SearchCandidate, Allowed)], sort: Option<SearchSort>) {
    use std::cmp::Ordering;
    let by_id = |a: &SearchCandidate, b: &SearchCandidate| a.id.cmp(&b.id);
    // Resources without a date come last in both directions.
    let by_date =
        |a: &SearchCandidate, b: &SearchCandidate, desc: bool| match (a.sort_date, b.sort_date) {
            (Some(x), Some(y)) if desc => y.cmp(&x),
            (Some(x), Some(y)) => x.cmp(&y),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        };
    list.sort_by(|(a, _), (b, _)| {
        let primary = match sort {
            None => Ordering::Equal,
            // Fixed-width RFC 3339 UTC text orders as time.
            Some(SearchSort::LastUpdatedAsc) => a.last_updated.cmp(&b.last_updated),
            Some(SearchSort::LastUpdatedDesc) => b.last_updated.cmp(&a.last_updated),
            Some(SearchSort::DateAsc) => by_date(a, b, false),
            Some(SearchSort::DateDesc) => by_date(a, b, true),
        };
        primary.then_with(|| by_id(a, b))
    });
}

impl Vault {
    /// FHIR search. The search is decided for the type first; then every candidate the
    /// index finds is decided as a read, and only allowed ones count (in `total` and in
    /// paging). The query (redacted) and the visible count are audited as one `search`
    /// event; every returned hit as a `search-hit` event, durable before data leaves.
    /// `summary_count` opens no body. Invalid queries and more than
    /// [`MAX_CANDIDATES`] candidates are `VaultError::Invalid`.
    pub async fn search(
        &self,
        principal: &Principal,
        query: &SearchQuery,
    ) -> Result<SearchPage, VaultError> {
        let (rt, clauses) = compile(query).map_err(VaultError::Invalid)?;
        let rt = rt.as_str();
        let search_object = Object {
            resource_type: Some(rt),
            query: Some(query.redacted()),
            ..Default::default()
        };
        let search_allowed = match decide(
            principal,
            Action::Search,
            Target::Search {
                resource_type: Some(rt),
            },
            &self.context(None),
        ) {
            Decision::Allow(a) => a,
            Decision::Deny(basis) => {
                return Err(self
                    .deny(principal, &basis, EventCode::Search, search_object)
                    .await)
            }
        };
        let index_key = &self.inner.index_key;
        let index_query = IndexQuery {
            resource_type: rt.to_owned(),
            clauses: clauses
                .into_iter()
                .map(|c| match c {
                    Clause::Index(c) => c,
                    Clause::Blind { param, values } => IndexClause::Blind {
                        param: param.to_owned(),
                        hashes: values
                            .iter()
                            .map(|v| index_key.blind(param, v).to_vec())
                            .collect(),
                    },
                })
                .collect(),
            sort_date_param: matches!(query.sort, Some(SearchSort::DateAsc | SearchSort::DateDesc))
                .then(|| "date".to_owned()),
            limit: MAX_CANDIDATES + 1,
        };
        let candidates = self.inner.store.search_index(&index_query).await?;
        if candidates.len() > MAX_CANDIDATES {
            let ev = self.event(
                principal,
                search_allowed.basis(),
                EventCode::Search,
                Outcome::Error,
                search_object,
                Some(format!("more than {MAX_CANDIDATES} candidates")),
            );
            self.inner.journal.append(vec![ev]).await?;
            return Err(VaultError::Invalid(vec![issue(
                IssueCode::TooCostly,
                rt,
                format!("the search matches more than {MAX_CANDIDATES} resources; narrow it down"),
            )]));
        }
        // Every candidate is decided; refusals are counted, not logged one by one.
        let mut visible = Vec::new();
        let mut withheld = 0usize;
        for c in candidates {
            let category = c
                .category
                .as_deref()
                .and_then(Category::parse)
                .unwrap_or_else(|| Category::of_type(rt));
            match self
                .decide_resource(
                    principal,
                    Action::Read,
                    rt,
                    c.patient_id.as_deref(),
                    category,
                )
                .await?
            {
                Decision::Allow(a) => visible.push((c, a)),
                Decision::Deny(_) => withheld += 1,
            }
        }
        sort_candidates(&mut visible, query.sort);
        let total = visible.len();
        let page: Vec<(SearchCandidate, Allowed)> = if query.summary_count {
            Vec::new()
        } else {
            visible
                .into_iter()
                .skip(query.offset)
                .take(query.count)
                .collect()
        };
        let opened = self.open_page(principal, rt, page).await;
        let (outcome, reason) = match &opened {
            Ok(_) => (
                Outcome::Success,
                format!("{total} visible match(es), {withheld} withheld by the access policy"),
            ),
            Err(e) => (Outcome::Error, e.to_string()),
        };
        let mut events = vec![self.event(
            principal,
            search_allowed.basis(),
            EventCode::Search,
            outcome,
            search_object,
            Some(reason),
        )];
        let (hits, hit_events) = match opened {
            Ok(o) => o,
            Err(e) => {
                self.inner.journal.append(events).await?;
                return Err(e);
            }
        };
        if self.audits_reads() {
            events.extend(hit_events);
        }
        // No data leaves before its audit events are durable.
        self.inner.journal.append(events).await?;
        Ok(SearchPage { total, hits })
    }

    /// Reads and opens the hits of one page, with their `search-hit` events. A hit that
    /// changed since it was decided is decided again on its new version; one deleted or
    /// shredded meanwhile is left out.
    async fn open_page(
        &self,
        principal: &Principal,
        rt: &str,
        page: Vec<(SearchCandidate, Allowed)>,
    ) -> Result<(Vec<Stored>, Vec<AuditEvent>), VaultError> {
        let mut hits = Vec::with_capacity(page.len());
        let mut bases = Vec::with_capacity(page.len());
        // The page's rows in one query, then in the page's order.
        let ids: Vec<&str> = page.iter().map(|(c, _)| c.id.as_str()).collect();
        let mut rows: std::collections::HashMap<String, zorgkluis_store::ReadRow> = self
            .inner
            .store
            .read_current_many(rt, &ids)
            .await?
            .into_iter()
            .map(|r| (r.version.id.clone(), r))
            .collect();
        for (c, allowed) in page {
            let Some(row) = rows.remove(&c.id) else {
                continue;
            };
            let v = &row.version;
            if v.deleted {
                continue;
            }
            let allowed = if v.version == c.version {
                allowed
            } else {
                match self
                    .decide_resource(
                        principal,
                        Action::Read,
                        rt,
                        v.patient_id.as_deref(),
                        stored_category(v),
                    )
                    .await?
                {
                    Decision::Allow(a) => a,
                    Decision::Deny(_) => continue,
                }
            };
            let resource: Value = match self.open_row(&row) {
                Ok(Some(r)) => r,
                Ok(None) | Err(VaultError::Shredded) => continue,
                Err(e) => return Err(e),
            };
            bases.push(allowed);
            hits.push(Stored {
                resource_type: v.resource_type.clone(),
                id: v.id.clone(),
                version: v.version,
                last_updated: v.last_updated.clone(),
                patient_id: v.patient_id.clone(),
                resource: Some(resource),
            });
        }
        let events = self.hit_events(
            principal,
            Some(rt),
            hits.iter().zip(&bases).map(|(s, a)| {
                (
                    s.patient_id.as_deref(),
                    format!("{}/{}/_history/{}", s.resource_type, s.id, s.version),
                    a.basis(),
                )
            }),
        );
        Ok((hits, events))
    }
}
