//! Helpers shared by the care pages: Dutch local time, dates as dd-mm-yyyy, searches
//! that page through every hit, the patient's care team and practice, and messages.

use serde_json::{json, Value};
use time::{Date, Duration, Month, OffsetDateTime, Time, UtcOffset, Weekday};
use zorgkluis_vault::{Principal, SearchQuery, Stored};

use crate::i18n::Lang;
use crate::portal::fhirtext::{concept, human_name, str_at};
use crate::portal::{Portal, PortalError};
use crate::AppState;

// ---------------------------------------------------------------------------------------
// Time in the Netherlands.

/// The last Sunday of a month (March and October, for summer time).
fn last_sunday(year: i32, month: Month) -> Option<Date> {
    let mut d = Date::from_calendar_date(year, month, 31).ok()?;
    while d.weekday() != Weekday::Sunday {
        d = d.previous_day()?;
    }
    Some(d)
}

/// The offset of Europe/Amsterdam at an instant: CEST (+2) from 01:00 UTC on the last
/// Sunday of March until 01:00 UTC on the last Sunday of October, else CET (+1).
pub fn amsterdam_offset(at: OffsetDateTime) -> UtcOffset {
    let utc = at.to_offset(UtcOffset::UTC);
    let year = utc.year();
    let switch = |m| {
        last_sunday(year, m).map(|d| {
            d.with_time(Time::from_hms(1, 0, 0).unwrap_or(Time::MIDNIGHT))
                .assume_utc()
        })
    };
    let summer = match (switch(Month::March), switch(Month::October)) {
        (Some(start), Some(end)) => utc >= start && utc < end,
        _ => false,
    };
    UtcOffset::from_hms(if summer { 2 } else { 1 }, 0, 0).unwrap_or(UtcOffset::UTC)
}

/// An instant in Dutch local time.
pub fn local(at: OffsetDateTime) -> OffsetDateTime {
    at.to_offset(amsterdam_offset(at))
}

/// A local date and time in the Netherlands as an instant (the offset of that moment).
pub fn local_at(day: Date, time: Time) -> OffsetDateTime {
    let guess = day
        .with_time(time)
        .assume_offset(UtcOffset::from_hms(1, 0, 0).unwrap_or(UtcOffset::UTC));
    let offset = amsterdam_offset(guess);
    day.with_time(time).assume_offset(offset)
}

/// Now, in Dutch local time, from the vault's clock.
pub fn now_local(state: &AppState) -> OffsetDateTime {
    local(state.vault.now())
}

/// A FHIR instant or dateTime with a time; a bare date counts as its start (UTC).
pub fn parse_instant(s: Option<&str>) -> Option<OffsetDateTime> {
    let s = s?;
    if let Ok(t) = OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339) {
        return Some(t);
    }
    let d = Date::parse(
        s.get(..10)?,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .ok()?;
    Some(d.midnight().assume_utc())
}

/// `dd-mm-yyyy`.
pub fn date_nl(d: Date) -> String {
    format!("{:02}-{:02}-{:04}", d.day(), u8::from(d.month()), d.year())
}

/// `hh:mm`.
pub fn time_nl(t: OffsetDateTime) -> String {
    format!("{:02}:{:02}", t.hour(), t.minute())
}

/// `dd-mm-yyyy hh:mm` in local time.
pub fn datetime_nl(t: OffsetDateTime) -> String {
    let t = local(t);
    format!("{} {}", date_nl(t.date()), time_nl(t))
}

/// `yyyy-mm-dd` (form values and URLs).
pub fn date_iso(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// Parses `yyyy-mm-dd`.
pub fn parse_iso_date(s: &str) -> Option<Date> {
    Date::parse(
        s.trim(),
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .ok()
}

/// Parses `hh:mm`.
pub fn parse_hhmm(s: &str) -> Option<Time> {
    let (h, m) = s.trim().split_once(':')?;
    let m = m.get(..2).unwrap_or(m);
    Time::from_hms(h.parse().ok()?, m.parse().ok()?, 0).ok()
}

/// The day of the week, written out.
pub fn weekday(lang: Lang, d: Date) -> &'static str {
    lang.text(&format!(
        "care.weekday-{}",
        d.weekday().number_from_monday()
    ))
}

/// "maandag 24-11-2026".
pub fn day_long(lang: Lang, d: Date) -> String {
    format!("{} {}", weekday(lang, d), date_nl(d))
}

/// The instant as RFC 3339 in local time (written into resources).
pub fn instant_text(t: OffsetDateTime) -> String {
    local(t)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------
// Vault access.

/// Every hit of a search (pages of 1000; at most ten pages).
pub async fn search_all(
    state: &AppState,
    principal: &Principal,
    resource_type: &str,
    params: &[(&str, &str)],
) -> Result<Vec<Stored>, PortalError> {
    let mut out = Vec::new();
    for page in 0..10usize {
        let mut pairs: Vec<(String, String)> = params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        pairs.push(("_count".into(), "1000".into()));
        pairs.push(("_offset".into(), (page * 1000).to_string()));
        let q = SearchQuery::parse(resource_type, &pairs).map_err(|_| PortalError::NotFound)?;
        let result = state
            .vault
            .search(principal, &q)
            .await
            .map_err(PortalError::from_vault)?;
        let got = result.hits.len();
        out.extend(result.hits);
        if got == 0 || out.len() >= result.total {
            break;
        }
    }
    Ok(out)
}

/// Whether an id from a URL or form has the shape of a resource id (else it is refused
/// before the vault is asked).
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

/// The id in a reference `Type/id` when it is of that type.
pub fn ref_of<'a>(reference: Option<&'a Value>, rtype: &str) -> Option<&'a str> {
    let r = reference?.get("reference")?.as_str()?;
    let (t, id) = r.split_once('/')?;
    (t == rtype).then(|| id.split('/').next().unwrap_or(id))
}

/// The patient whose portal page this is, with their name (also set for the
/// representative's banner). Reading the Patient is decided and audited.
pub struct PatientCtx {
    /// Patient id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// The Patient resource.
    pub resource: Value,
}

/// Loads the portal's patient (a refusal is the 403 page).
pub async fn patient_ctx(state: &AppState, portal: &mut Portal) -> Result<PatientCtx, PortalError> {
    let id = portal.patient_id()?;
    let stored = state
        .vault
        .read(portal.principal(), "Patient", &id)
        .await
        .map_err(PortalError::from_vault)?;
    let resource = stored.resource.unwrap_or(Value::Null);
    let name = human_name(resource.get("name"));
    portal.set_patient_name(&id, &name);
    Ok(PatientCtx { id, name, resource })
}

/// A member of the patient's care team.
#[derive(Debug, Clone)]
pub struct Provider {
    /// Practitioner id.
    pub practitioner_id: String,
    /// Name.
    pub name: String,
    /// Role in the team (as written).
    pub role: String,
}

/// The active care teams of a patient (as the principal may see them).
pub async fn care_teams(
    state: &AppState,
    principal: &Principal,
    patient_id: &str,
) -> Result<Vec<Value>, PortalError> {
    let teams = search_all(state, principal, "CareTeam", &[("patient", patient_id)]).await?;
    Ok(teams
        .into_iter()
        .filter_map(|s| s.resource)
        .filter(|t| t.get("status").and_then(Value::as_str) == Some("active"))
        .collect())
}

/// The practitioners in the patient's active care teams, today.
pub fn providers_of(lang: Lang, teams: &[Value], today: Date) -> Vec<Provider> {
    let mut out: Vec<Provider> = Vec::new();
    for team in teams {
        for p in team
            .get("participant")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(id) = ref_of(p.get("member"), "Practitioner") else {
                continue;
            };
            let ended = str_at(p, "/period/end")
                .and_then(|e| crate::portal::fhirtext::parse_date(Some(e)))
                .is_some_and(|e| e < today);
            if ended || out.iter().any(|o| o.practitioner_id == id) {
                continue;
            }
            let first_role = p
                .get("role")
                .and_then(Value::as_array)
                .and_then(|r| r.first());
            // Our role codes in the user's language, else the text as written.
            let coded = first_role
                .and_then(|r| r.get("coding"))
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .find(|c| c.get("system").and_then(Value::as_str) == Some("urn:zorgkluis:role"))
                .and_then(|c| c.get("code").and_then(Value::as_str))
                .map(|code| {
                    let key = format!("common.role-{code}");
                    let text = lang.text(&key);
                    (text != key).then(|| text.to_owned())
                });
            let role = coded
                .flatten()
                .unwrap_or_else(|| first_role.map(|r| concept(Some(r))).unwrap_or_default());
            out.push(Provider {
                practitioner_id: id.to_owned(),
                name: str_at(p, "/member/display").unwrap_or("").to_owned(),
                role,
            });
        }
    }
    out
}

/// Fills in missing names from the Practitioner resources (directory data).
pub async fn name_providers(state: &AppState, principal: &Principal, providers: &mut [Provider]) {
    for p in providers.iter_mut().filter(|p| p.name.is_empty()) {
        if let Ok(s) = state
            .vault
            .read(principal, "Practitioner", &p.practitioner_id)
            .await
        {
            p.name = human_name(s.resource.as_ref().and_then(|r| r.get("name")));
        }
        if p.name.is_empty() {
            p.name = p.practitioner_id.clone();
        }
    }
}

/// The patient's GP practice: `Patient.managingOrganization`, else the organisation of
/// their first active care team. Returns (id, name).
pub async fn practice_of(
    state: &AppState,
    principal: &Principal,
    patient: &Value,
    teams: &[Value],
) -> Option<(String, String)> {
    let from_patient = ref_of(patient.get("managingOrganization"), "Organization");
    let from_team = teams.iter().find_map(|t| {
        t.get("managingOrganization")
            .and_then(Value::as_array)
            .and_then(|a| ref_of(a.first(), "Organization"))
    });
    let id = from_patient.or(from_team)?.to_owned();
    let name = match state.vault.read(principal, "Organization", &id).await {
        Ok(s) => s
            .resource
            .as_ref()
            .and_then(|r| r.get("name"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned(),
        Err(_) => String::new(),
    };
    Some((id, name))
}

// ---------------------------------------------------------------------------------------
// Messages (Communication).

/// CodeSystem of the kinds of portal message (`Communication.category`).
pub const MESSAGE_KIND: &str = "urn:zorgkluis:message-kind";

/// The kinds of message.
pub const KIND_QUESTION: &str = "question";
/// A repeat-medication request (GP-13); `about` names the medication.
pub const KIND_REPEAT: &str = "repeat-medication";
/// An answer.
pub const KIND_REPLY: &str = "reply";

/// A category concept of a message kind.
pub fn kind_concept(kind: &str, display: &str) -> Value {
    json!([{"coding": [{"system": MESSAGE_KIND, "code": kind, "display": display}], "text": display}])
}

/// The kind of a Communication (`message` when none of ours).
pub fn kind_of(c: &Value) -> &str {
    c.get("category")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|cat| cat.get("coding").and_then(Value::as_array))
        .flatten()
        .find(|c| c.get("system").and_then(Value::as_str) == Some(MESSAGE_KIND))
        .and_then(|c| c.get("code").and_then(Value::as_str))
        .unwrap_or("message")
}

/// Whether the patient side (the patient or a representative) sent it.
pub fn from_patient_side(c: &Value) -> bool {
    ref_of(c.get("sender"), "Patient").is_some()
        || ref_of(c.get("sender"), "RelatedPerson").is_some()
}

/// The message it answers (`inResponseTo`, else `partOf`), if a Communication.
pub fn parent_of(c: &Value) -> Option<String> {
    ["inResponseTo", "partOf"].iter().find_map(|k| {
        c.get(*k)
            .and_then(Value::as_array)
            .and_then(|a| a.iter().find_map(|r| ref_of(Some(r), "Communication")))
            .map(str::to_owned)
    })
}

/// When it was sent (else last updated).
pub fn sent_of(c: &Value) -> Option<OffsetDateTime> {
    parse_instant(c.get("sent").and_then(Value::as_str))
        .or_else(|| parse_instant(str_at(c, "/meta/lastUpdated")))
}

/// Its text (all string payloads).
pub fn text_of(c: &Value) -> String {
    c.get("payload")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| p.get("contentString").and_then(Value::as_str))
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// Its subject line: `topic`, else the start of the text.
pub fn topic_of(c: &Value) -> String {
    let t = concept(c.get("topic"));
    if !t.is_empty() {
        return t;
    }
    let text = text_of(c);
    let mut short: String = text.chars().take(60).collect();
    if text.chars().count() > 60 {
        short.push('…');
    }
    short
}

/// The root of the thread a message is in, within `all` (by id).
pub fn root_of<'a>(id: &'a str, all: &'a [(String, Value)]) -> &'a str {
    let mut current = id;
    for _ in 0..50 {
        let Some((_, c)) = all.iter().find(|(i, _)| i == current) else {
            break;
        };
        match parent_of(c) {
            Some(p) => match all.iter().find(|(i, _)| *i == p) {
                Some((i, _)) => current = i,
                None => break,
            },
            None => break,
        }
    }
    current
}

/// The sender's name as written in the reference, else a label for the side.
pub fn sender_name(lang: Lang, c: &Value) -> String {
    if let Some(d) = str_at(c, "/sender/display").filter(|d| !d.is_empty()) {
        return d.to_owned();
    }
    if from_patient_side(c) {
        lang.text("care.sender-patient").to_owned()
    } else {
        lang.text("care.sender-practice").to_owned()
    }
}

/// Days in the booking horizon (the coming weeks).
pub const BOOKING_DAYS: i64 = 28;

/// The end of the booking horizon from now.
pub fn booking_horizon(now: OffsetDateTime) -> OffsetDateTime {
    now + Duration::days(BOOKING_DAYS)
}
