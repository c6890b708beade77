//! What the record pages show, built from FHIR JSON: plain rows of text for the
//! templates, in the page's language, dates as dd-mm-yyyy.

use serde_json::Value;
use time::{Date, Month, OffsetDateTime, UtcOffset};
use zorgkluis_policy::Category;
use zorgkluis_vault::Stored;

use super::data::Loader;
use crate::i18n::Lang;
use crate::portal::fhirtext::{date_text, human_name, parse_date, str_at};
use crate::portal::PortalError;

// ---------------------------------------------------------------------------------------
// Small text helpers.

/// A translated text for a code (`record.<prefix>-<code>`), `None` when there is none.
pub(super) fn coded(lang: Lang, prefix: &str, code: &str) -> Option<&'static str> {
    let key = format!("record.{prefix}-{code}");
    let text = lang.text(&key);
    (text != key).then_some(text)
}

/// A CodeableConcept in the page's language: the record's own text is Dutch, the
/// codings' displays English; each language prefers its own.
pub(super) fn concept_in(lang: Lang, v: Option<&Value>) -> String {
    let Some(v) = v else {
        return String::new();
    };
    let text = v.get("text").and_then(Value::as_str);
    let codings = v.get("coding").and_then(Value::as_array);
    let display = codings.and_then(|c| c.iter().find_map(|c| str_at(c, "/display")));
    let code = codings.and_then(|c| c.iter().find_map(|c| str_at(c, "/code")));
    let picked = match lang {
        Lang::En => display.or(text),
        Lang::Nl => text.or(display),
    };
    picked.or(code).unwrap_or("").to_owned()
}

/// The first code of a CodeableConcept in a system.
pub(super) fn code_in<'a>(v: Option<&'a Value>, system: &str) -> Option<&'a str> {
    v?.get("coding")?
        .as_array()?
        .iter()
        .find(|c| str_at(c, "/system") == Some(system))
        .and_then(|c| str_at(c, "/code"))
}

/// The first code of a CodeableConcept, any system.
pub(super) fn first_code(v: Option<&Value>) -> Option<&str> {
    v?.get("coding")?
        .as_array()?
        .iter()
        .find_map(|c| str_at(c, "/code"))
}

/// The offset of Dutch time (CET/CEST) at a moment: summer time from the last Sunday of
/// March 01:00 UTC to the last Sunday of October 01:00 UTC.
fn nl_offset(t: OffsetDateTime) -> UtcOffset {
    let utc = t.to_offset(UtcOffset::UTC);
    let last_sunday = |month: Month| {
        let days = month.length(utc.year());
        let last = Date::from_calendar_date(utc.year(), month, days).ok()?;
        let back = last.weekday().number_days_from_sunday();
        let sunday = last.checked_sub(time::Duration::days(i64::from(back)))?;
        Some(sunday.with_hms(1, 0, 0).ok()?.assume_utc())
    };
    let summer = match (last_sunday(Month::March), last_sunday(Month::October)) {
        (Some(start), Some(end)) => utc >= start && utc < end,
        _ => false,
    };
    let hours = if summer { 2 } else { 1 };
    UtcOffset::from_hms(hours, 0, 0).unwrap_or(UtcOffset::UTC)
}

/// A moment in Dutch time.
pub(super) fn in_nl(t: OffsetDateTime) -> OffsetDateTime {
    t.to_offset(nl_offset(t))
}

/// An RFC 3339 timestamp (e.g. `meta.lastUpdated`) as "dd-mm-yyyy hh:mm" in Dutch time.
pub(super) fn local_datetime(rfc3339: &str) -> String {
    match OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339) {
        Ok(t) => {
            let t = in_nl(t);
            format!(
                "{:02}-{:02}-{} {:02}:{:02}",
                t.day(),
                u8::from(t.month()),
                t.year(),
                t.hour(),
                t.minute()
            )
        }
        Err(_) => date_text(Some(rfc3339)),
    }
}

/// A date as "dd-mm-yyyy".
pub(super) fn day_text(d: Date) -> String {
    format!("{:02}-{:02}-{}", d.day(), u8::from(d.month()), d.year())
}

/// A date as `yyyy-mm-dd` (FHIR, and the value of `<input type="date">`).
pub(super) fn iso_day(d: Date) -> String {
    format!("{}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// Age in whole years on a day.
pub(super) fn age_on(birth: Date, today: Date) -> i32 {
    let mut age = today.year() - birth.year();
    if (u8::from(today.month()), today.day()) < (u8::from(birth.month()), birth.day()) {
        age -= 1;
    }
    age
}

/// A BSN shown masked: only the last three digits.
pub(super) fn mask_bsn(bsn: &str) -> String {
    let digits: Vec<char> = bsn.chars().filter(char::is_ascii_digit).collect();
    if digits.len() < 4 {
        return "•••".to_owned();
    }
    let tail: String = digits[digits.len() - 3..].iter().collect();
    format!("••••••{tail}")
}

/// The start of a resource's "when" for sorting (yyyy-mm-dd…; empty sorts last).
pub(super) fn sort_key(v: &Value, pointers: &[&str]) -> String {
    pointers
        .iter()
        .find_map(|p| str_at(v, p))
        .unwrap_or("")
        .to_owned()
}

// ---------------------------------------------------------------------------------------
// The patient at the top of every page.

/// Who the page is about.
pub(super) struct Subject {
    pub id: String,
    pub name: String,
    pub birth_date: String,
    pub age: Option<i32>,
    pub version: i64,
}

impl Subject {
    pub(super) fn of(stored: &Stored, today: Date) -> Self {
        let empty = Value::Null;
        let r = stored.resource.as_ref().unwrap_or(&empty);
        let birth = parse_date(str_at(r, "/birthDate"));
        Self {
            id: stored.id.clone(),
            name: human_name(r.get("name")),
            birth_date: date_text(str_at(r, "/birthDate")),
            age: birth.map(|b| age_on(b, today)),
            version: stored.version,
        }
    }
}

// ---------------------------------------------------------------------------------------
// The record's sections.

/// A section of the record: its rows, or withheld (the user's rights do not cover it).
pub(super) struct Section<T> {
    pub rows: Vec<T>,
    pub withheld: bool,
}

impl<T> Section<T> {
    fn shown(rows: Vec<T>) -> Self {
        Self {
            rows,
            withheld: false,
        }
    }
    fn withheld() -> Self {
        Self {
            rows: Vec::new(),
            withheld: true,
        }
    }
}

/// A problem or condition.
pub(super) struct ConditionRow {
    pub id: String,
    pub name: String,
    pub status: String,
    pub status_text: String,
    pub current: bool,
    pub onset: String,
    pub abatement: String,
    pub note: String,
    pub version: i64,
}

/// A medicine in use.
pub(super) struct MedicationRow {
    pub name: String,
    pub dosage: String,
    pub since: String,
    pub prescriber: String,
}

/// An allergy or intolerance.
pub(super) struct AllergyRow {
    pub name: String,
    pub kind: String,
    pub criticality: String,
    pub high: bool,
    pub reaction: String,
    pub since: String,
    pub status: String,
}

/// An immunisation.
pub(super) struct ImmunisationRow {
    pub name: String,
    pub date: String,
}

/// A member of a care team.
pub(super) struct TeamRow {
    pub team: String,
    pub member: String,
    pub role: String,
    pub organisation: String,
    pub since: String,
}

/// A contact (consult, visit).
pub(super) struct EncounterRow {
    pub date: String,
    pub kind: String,
    pub reason: String,
    pub with: String,
}

/// The record page's content.
pub(super) struct RecordView {
    pub conditions: Section<ConditionRow>,
    pub medication: Section<MedicationRow>,
    pub allergies: Section<AllergyRow>,
    pub immunisations: Section<ImmunisationRow>,
    pub team: Section<TeamRow>,
    pub encounters: Section<EncounterRow>,
}

impl RecordView {
    /// The current conditions.
    pub(super) fn current_conditions(&self) -> impl Iterator<Item = &ConditionRow> {
        self.conditions.rows.iter().filter(|c| c.current)
    }
    /// The earlier conditions.
    pub(super) fn past_conditions(&self) -> impl Iterator<Item = &ConditionRow> {
        self.conditions.rows.iter().filter(|c| !c.current)
    }
    pub(super) fn has_current_conditions(&self) -> bool {
        self.current_conditions().next().is_some()
    }
    pub(super) fn has_past_conditions(&self) -> bool {
        self.past_conditions().next().is_some()
    }
}

/// Which categories the user may read (`None`: all that the vault allows, e.g. the patient).
pub(super) type Readable = Option<zorgkluis_policy::Categories>;

fn may_read(readable: Readable, category: Category) -> bool {
    readable.is_none_or(|r| r.contains(category))
}

fn entered_in_error(r: &Value) -> bool {
    code_in(
        r.get("verificationStatus"),
        "http://terminology.hl7.org/CodeSystem/condition-ver-status",
    ) == Some("entered-in-error")
        || code_in(
            r.get("verificationStatus"),
            "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification",
        ) == Some("entered-in-error")
        || str_at(r, "/status") == Some("entered-in-error")
}

/// Conditions: current ones first, each group newest first.
pub(super) fn conditions(lang: Lang, list: &[Stored]) -> Vec<ConditionRow> {
    let mut rows: Vec<(String, ConditionRow)> = list
        .iter()
        .filter_map(|s| s.resource.as_ref().map(|r| (s, r)))
        .filter(|(_, r)| !entered_in_error(r))
        .map(|(s, r)| {
            let status = first_code(r.get("clinicalStatus"))
                .unwrap_or("unknown")
                .to_owned();
            let current = matches!(status.as_str(), "active" | "recurrence" | "relapse");
            let status_text = coded(lang, "clinical", &status)
                .map(str::to_owned)
                .unwrap_or_else(|| concept_in(lang, r.get("clinicalStatus")));
            let note = r
                .get("note")
                .and_then(Value::as_array)
                .map(|n| {
                    n.iter()
                        .filter_map(|n| str_at(n, "/text"))
                        .collect::<Vec<_>>()
                        .join(" · ")
                })
                .unwrap_or_default();
            let when = sort_key(
                r,
                &["/onsetDateTime", "/onsetPeriod/start", "/recordedDate"],
            );
            (
                when.clone(),
                ConditionRow {
                    id: s.id.clone(),
                    name: concept_in(lang, r.get("code")),
                    status,
                    status_text,
                    current,
                    onset: date_text(Some(&when)),
                    abatement: date_text(
                        str_at(r, "/abatementDateTime").or(str_at(r, "/abatementPeriod/end")),
                    ),
                    note,
                    version: s.version,
                },
            )
        })
        .collect();
    rows.sort_by(|(a_when, a), (b_when, b)| b.current.cmp(&a.current).then(b_when.cmp(a_when)));
    rows.into_iter().map(|(_, r)| r).collect()
}

/// Current medication: what the patient uses (MedicationStatement) and active
/// prescriptions (MedicationRequest), one row per medicine.
pub(super) async fn medication(
    lang: Lang,
    loader: &mut Loader<'_>,
    statements: &[Stored],
    requests: &[Stored],
) -> Vec<MedicationRow> {
    let mut rows: Vec<MedicationRow> = Vec::new();
    let active = |s: &&Stored| {
        s.resource
            .as_ref()
            .is_some_and(|r| str_at(r, "/status") == Some("active"))
    };
    for s in statements.iter().filter(active) {
        let Some(r) = s.resource.as_ref() else {
            continue;
        };
        let dosage = r
            .pointer("/dosage/0/text")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let since = date_text(
            str_at(r, "/effectivePeriod/start")
                .or(str_at(r, "/effectiveDateTime"))
                .or(str_at(r, "/dateAsserted")),
        );
        let prescriber = loader.display(r.get("informationSource")).await;
        rows.push(MedicationRow {
            name: medicine_name(lang, r),
            dosage,
            since,
            prescriber,
        });
    }
    for s in requests.iter().filter(active) {
        let Some(r) = s.resource.as_ref() else {
            continue;
        };
        if str_at(r, "/intent").is_some_and(|i| i == "proposal" || i == "plan") {
            continue;
        }
        let name = medicine_name(lang, r);
        let prescriber = loader.display(r.get("requester")).await;
        if let Some(existing) = rows
            .iter_mut()
            .find(|m| m.name.to_lowercase() == name.to_lowercase())
        {
            if existing.prescriber.is_empty() {
                existing.prescriber = prescriber;
            }
            continue;
        }
        rows.push(MedicationRow {
            name,
            dosage: r
                .pointer("/dosageInstruction/0/text")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
            since: date_text(str_at(r, "/authoredOn")),
            prescriber,
        });
    }
    rows.sort_by_key(|m| m.name.to_lowercase());
    rows
}

fn medicine_name(lang: Lang, r: &Value) -> String {
    // The product name (the record's text) says more than the substance's display.
    if let Some(t) = str_at(r, "/medicationCodeableConcept/text") {
        return t.to_owned();
    }
    if let Some(c) = r.get("medicationCodeableConcept") {
        return concept_in(lang, Some(c));
    }
    str_at(r, "/medicationReference/display")
        .unwrap_or("")
        .to_owned()
}

/// Allergies and intolerances (active first).
pub(super) fn allergies(lang: Lang, list: &[Stored]) -> Vec<AllergyRow> {
    let mut rows: Vec<(bool, AllergyRow)> = list
        .iter()
        .filter_map(|s| s.resource.as_ref())
        .filter(|r| !entered_in_error(r))
        .map(|r| {
            let status = first_code(r.get("clinicalStatus")).unwrap_or("active");
            let kind = r
                .get("category")
                .and_then(Value::as_array)
                .and_then(|c| c.first())
                .and_then(Value::as_str)
                .and_then(|c| coded(lang, "allergy-category", c))
                .unwrap_or("")
                .to_owned();
            let criticality_code = str_at(r, "/criticality").unwrap_or("");
            let reaction = r
                .get("reaction")
                .and_then(Value::as_array)
                .map(|rs| {
                    rs.iter()
                        .flat_map(|x| {
                            x.get("manifestation")
                                .and_then(Value::as_array)
                                .into_iter()
                                .flatten()
                        })
                        .map(|m| concept_in(lang, Some(m)))
                        .filter(|t| !t.is_empty())
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default();
            (
                status == "active",
                AllergyRow {
                    name: concept_in(lang, r.get("code")),
                    kind,
                    criticality: coded(lang, "criticality", criticality_code)
                        .unwrap_or("")
                        .to_owned(),
                    high: criticality_code == "high",
                    reaction,
                    since: date_text(str_at(r, "/onsetDateTime").or(str_at(r, "/recordedDate"))),
                    status: coded(lang, "clinical", status)
                        .map(str::to_owned)
                        .unwrap_or_else(|| concept_in(lang, r.get("clinicalStatus"))),
                },
            )
        })
        .collect();
    rows.sort_by(|(a, x), (b, y)| b.cmp(a).then(x.name.cmp(&y.name)));
    rows.into_iter().map(|(_, r)| r).collect()
}

/// Immunisations, newest first.
pub(super) fn immunisations(lang: Lang, list: &[Stored]) -> Vec<ImmunisationRow> {
    let mut rows: Vec<(String, ImmunisationRow)> = list
        .iter()
        .filter_map(|s| s.resource.as_ref())
        .filter(|r| str_at(r, "/status") != Some("entered-in-error"))
        .filter(|r| str_at(r, "/status") != Some("not-done"))
        .map(|r| {
            let when = sort_key(r, &["/occurrenceDateTime", "/recorded"]);
            (
                when.clone(),
                ImmunisationRow {
                    name: concept_in(lang, r.get("vaccineCode")),
                    date: date_text(Some(&when)),
                },
            )
        })
        .collect();
    rows.sort_by(|a, b| b.0.cmp(&a.0));
    rows.into_iter().map(|(_, r)| r).collect()
}

/// The members of the patient's active care teams.
pub(super) async fn care_team(
    lang: Lang,
    loader: &mut Loader<'_>,
    list: &[Stored],
    today: Date,
) -> Vec<TeamRow> {
    let mut rows = Vec::new();
    for r in list.iter().filter_map(|s| s.resource.as_ref()) {
        if str_at(r, "/status").is_some_and(|s| s != "active") {
            continue;
        }
        let team = str_at(r, "/name").unwrap_or("").to_owned();
        let team_org = loader.display(r.pointer("/managingOrganization/0")).await;
        for p in r
            .get("participant")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let ended = parse_date(str_at(p, "/period/end")).is_some_and(|end| end < today);
            if ended {
                continue;
            }
            let member = loader.display(p.get("member")).await;
            let role_concept = p.pointer("/role/0");
            let role = code_in(role_concept, "urn:zorgkluis:role")
                .map(|code| lang.text(&format!("common.role-{code}")).to_owned())
                .filter(|t| !t.starts_with("common."))
                .unwrap_or_else(|| concept_in(lang, role_concept));
            let mut organisation = loader.display(p.get("onBehalfOf")).await;
            if organisation.is_empty() {
                organisation.clone_from(&team_org);
            }
            rows.push(TeamRow {
                team: team.clone(),
                member,
                role,
                organisation,
                since: date_text(str_at(p, "/period/start").or(str_at(r, "/period/start"))),
            });
        }
    }
    rows
}

/// Recent contacts, newest first (at most `limit`).
pub(super) async fn encounters(
    lang: Lang,
    loader: &mut Loader<'_>,
    list: &[Stored],
    limit: usize,
) -> Vec<EncounterRow> {
    let mut sorted: Vec<&Value> = list
        .iter()
        .filter_map(|s| s.resource.as_ref())
        .filter(|r| str_at(r, "/status") != Some("entered-in-error"))
        .filter(|r| str_at(r, "/status") != Some("cancelled"))
        .collect();
    sorted.sort_by_key(|r| std::cmp::Reverse(sort_key(r, &["/period/start"])));
    let mut rows = Vec::new();
    for r in sorted.into_iter().take(limit) {
        let with = loader.display(r.pointer("/participant/0/individual")).await;
        rows.push(EncounterRow {
            date: date_text(str_at(r, "/period/start")),
            kind: concept_in(lang, r.pointer("/type/0")),
            reason: concept_in(lang, r.pointer("/reasonCode/0")),
            with,
        });
    }
    rows
}

/// Loads and builds the whole record view. `readable` is the staff member's read rights
/// (sections outside them are marked withheld rather than shown empty).
pub(super) async fn record_view(
    lang: Lang,
    loader: &mut Loader<'_>,
    readable: Readable,
    today: Date,
) -> Result<RecordView, PortalError> {
    let conditions = if may_read(readable, Category::Conditions) {
        Section::shown(conditions(lang, &loader.search("Condition", &[]).await?))
    } else {
        Section::withheld()
    };
    let medication = if may_read(readable, Category::Medication) {
        let statements = loader.search("MedicationStatement", &[]).await?;
        let requests = loader.search("MedicationRequest", &[]).await?;
        Section::shown(medication(lang, loader, &statements, &requests).await)
    } else {
        Section::withheld()
    };
    let allergies = if may_read(readable, Category::Allergies) {
        Section::shown(allergies(
            lang,
            &loader.search("AllergyIntolerance", &[]).await?,
        ))
    } else {
        Section::withheld()
    };
    let immunisations = if may_read(readable, Category::CareRecord) {
        Section::shown(immunisations(
            lang,
            &loader.search("Immunization", &[]).await?,
        ))
    } else {
        Section::withheld()
    };
    let team = if may_read(readable, Category::Administrative) {
        let teams = loader.search("CareTeam", &[]).await?;
        Section::shown(care_team(lang, loader, &teams, today).await)
    } else {
        Section::withheld()
    };
    let encounters = if may_read(readable, Category::CareRecord) {
        let list = loader.search("Encounter", &[]).await?;
        Section::shown(encounters(lang, loader, &list, 10).await)
    } else {
        Section::withheld()
    };
    Ok(RecordView {
        conditions,
        medication,
        allergies,
        immunisations,
        team,
        encounters,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    #[test]
    fn dutch_time_follows_summer_time() {
        assert_eq!(local_datetime("2026-01-15T11:00:00Z"), "15-01-2026 12:00");
        assert_eq!(
            local_datetime("2026-07-15T11:00:00.123Z"),
            "15-07-2026 13:00"
        );
        // The switch: last Sunday of March 2026 is the 29th.
        assert_eq!(
            in_nl(datetime!(2026-03-29 00:59 UTC)).offset(),
            UtcOffset::from_hms(1, 0, 0).unwrap_or(UtcOffset::UTC)
        );
        assert_eq!(
            in_nl(datetime!(2026-03-29 01:00 UTC)).offset(),
            UtcOffset::from_hms(2, 0, 0).unwrap_or(UtcOffset::UTC)
        );
    }

    #[test]
    fn ages_masks_and_concepts() {
        assert_eq!(age_on(date!(2012 - 05 - 10), date!(2026 - 05 - 09)), 13);
        assert_eq!(age_on(date!(2012 - 05 - 10), date!(2026 - 05 - 10)), 14);
        assert_eq!(mask_bsn("999996708"), "••••••708");
        let c = serde_json::json!({"coding": [{"code": "1", "display": "Headache"}], "text": "Hoofdpijn"});
        assert_eq!(concept_in(Lang::Nl, Some(&c)), "Hoofdpijn");
        assert_eq!(concept_in(Lang::En, Some(&c)), "Headache");
    }
}
