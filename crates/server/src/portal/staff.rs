//! Care staff: "My patients" (an active treatment relationship at the user's own
//! organisation), finding a patient by name and date of birth or by BSN, and the
//! emergency procedure (break-the-glass).
//!
//! Every list comes from the vault with the staff member's own principal: each search is
//! audited and every hit is decided by the access-decision point, so a patient outside
//! the user's relationships is simply not there (no name, no count). Searches are sent by
//! POST so that names, dates of birth and BSNs never end up in a URL, a browser history
//! or a server log (DOMAIN.md: never put a BSN in a URL).

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::{Form, Router};
use serde::Deserialize;
use serde_json::Value;
use zorgkluis_domain::bsn::BSN_SYSTEM;
use zorgkluis_domain::{Bsn, ResourceId};
use zorgkluis_policy::decide::MIN_EMERGENCY_REASON;
use zorgkluis_policy::Staff;
use zorgkluis_vault::{SearchQuery, EMERGENCY_MINUTES};

use super::fhirtext::{date_text, human_name, parse_date, reference_id, str_at};
use super::{
    message_page, page_or_error, render, see_other, today, urlencode, Chrome, Portal, PortalError,
};
use crate::AppState;

/// Routes of this part of the portal.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/staff", get(my_patients))
        .route("/staff/search", get(search_form).post(search))
        .route(
            "/staff/patients/{id}/break-glass",
            get(break_glass_form).post(break_glass),
        )
}

/// Care teams read per page when gathering "My patients".
const TEAM_PAGE: usize = 200;
/// Care teams read at most (a safety bound; a practice list is far smaller).
const MAX_TEAMS: usize = 10_000;
/// Patients read per search (`_id` takes at most 100 alternatives).
const PATIENT_CHUNK: usize = 100;
/// Search hits shown.
const SEARCH_COUNT: usize = 50;

// ---------------------------------------------------------------------------------------
// Patients as the lists show them.

/// One patient in a list.
struct PatientRow {
    id: String,
    href: String,
    name: String,
    sort_key: String,
    birth_date: String,
    age: String,
    gender: String,
    since: String,
}

fn age_on(birth: time::Date, today: time::Date) -> Option<i32> {
    let mut years = today.year() - birth.year();
    if (u8::from(today.month()), today.day()) < (u8::from(birth.month()), birth.day()) {
        years -= 1;
    }
    (years >= 0).then_some(years)
}

fn gender_text(c: &Chrome, v: &Value) -> String {
    match str_at(v, "/gender") {
        Some("female") => c.t("staff.gender-female").to_owned(),
        Some("male") => c.t("staff.gender-male").to_owned(),
        Some("other") => c.t("staff.gender-other").to_owned(),
        _ => String::new(),
    }
}

/// Dutch surname prefixes (tussenvoegsels), left out when sorting: "van Beek" sorts
/// under B.
const SURNAME_PREFIXES: &[&str] = &[
    "van", "de", "der", "den", "het", "'t", "ten", "ter", "te", "in", "op", "d'", "du", "la", "le",
    "von", "zu", "vd",
];

/// A surname as it sorts: lower-case, without leading prefixes.
fn sort_surname(family: &str) -> String {
    let lower = family.to_lowercase();
    let mut words: Vec<&str> = lower.split_whitespace().collect();
    while words.len() > 1 && SURNAME_PREFIXES.contains(&words[0]) {
        words.remove(0);
    }
    words.join(" ")
}

fn patient_row(c: &Chrome, id: &str, patient: &Value, today: time::Date) -> PatientRow {
    let name = human_name(patient.get("name"));
    let family = patient
        .pointer("/name/0/family")
        .and_then(Value::as_str)
        .unwrap_or("");
    let birth = str_at(patient, "/birthDate");
    let age = parse_date(birth)
        .and_then(|b| age_on(b, today))
        .map(|a| a.to_string())
        .unwrap_or_default();
    PatientRow {
        id: id.to_owned(),
        href: format!("/staff/patients/{}", urlencode(id)),
        name: if name.is_empty() {
            c.t("staff.no-name").to_owned()
        } else {
            name.clone()
        },
        sort_key: format!("{} {}", sort_surname(family), name.to_lowercase()),
        birth_date: date_text(birth),
        age,
        gender: gender_text(c, patient),
        since: String::new(),
    }
}

// ---------------------------------------------------------------------------------------
// My patients.

#[derive(Template)]
#[template(path = "staff/my_patients.html")]
struct MyPatientsPage {
    c: Chrome,
    rows: Vec<PatientRow>,
    linked: bool,
}

/// The patients with whom this staff member has a treatment relationship today: a care
/// team membership at their own organisation whose period contains today, in an active
/// team (how the decision point reads CareTeam, `zorgkluis_policy::records`).
async fn patients_in_care(
    state: &AppState,
    portal: &Portal,
    staff: &Staff,
    practitioner: &str,
    c: &Chrome,
) -> Result<Vec<PatientRow>, PortalError> {
    let today = today(state);
    // patient id -> earliest start of a current membership
    let mut in_care: Vec<(String, Option<time::Date>)> = Vec::new();
    let mut page = 1usize;
    loop {
        let q = SearchQuery::parse(
            "CareTeam",
            &[
                (
                    "participant".to_owned(),
                    format!("Practitioner/{practitioner}"),
                ),
                ("status".to_owned(), "active".to_owned()),
                ("_count".to_owned(), TEAM_PAGE.to_string()),
                ("_page".to_owned(), page.to_string()),
            ],
        )
        .map_err(|_| PortalError::Unavailable)?;
        let found = state
            .vault
            .search(portal.principal(), &q)
            .await
            .map_err(PortalError::from_vault)?;
        let n = found.hits.len();
        for team in found.hits.iter().filter_map(|h| h.resource.as_ref()) {
            let Some(patient) = reference_id(team, "/subject/reference") else {
                continue;
            };
            let facts = zorgkluis_policy::records::patient_facts(
                patient,
                std::slice::from_ref(team),
                &|_| None,
            );
            for m in facts.memberships.iter().filter(|m| {
                m.active
                    && m.practitioner_id == practitioner
                    && m.organisation_id == staff.organisation.id
                    && m.period.contains(today)
            }) {
                match in_care.iter_mut().find(|(p, _)| p == patient) {
                    Some((_, since)) => {
                        if let (Some(a), Some(b)) = (*since, m.period.start) {
                            *since = Some(a.min(b));
                        }
                    }
                    None => in_care.push((patient.to_owned(), m.period.start)),
                }
            }
        }
        if n < TEAM_PAGE || page * TEAM_PAGE >= found.total.min(MAX_TEAMS) {
            break;
        }
        page += 1;
    }
    let mut rows = Vec::with_capacity(in_care.len());
    for chunk in in_care.chunks(PATIENT_CHUNK) {
        let ids: Vec<&str> = chunk.iter().map(|(p, _)| p.as_str()).collect();
        let q = SearchQuery::parse(
            "Patient",
            &[
                ("_id".to_owned(), ids.join(",")),
                ("_count".to_owned(), PATIENT_CHUNK.to_string()),
            ],
        )
        .map_err(|_| PortalError::Unavailable)?;
        let found = state
            .vault
            .search(portal.principal(), &q)
            .await
            .map_err(PortalError::from_vault)?;
        for hit in &found.hits {
            let Some(patient) = hit.resource.as_ref() else {
                continue;
            };
            let mut row = patient_row(c, &hit.id, patient, today);
            row.since = chunk
                .iter()
                .find(|(p, _)| *p == hit.id)
                .and_then(|(_, s)| *s)
                .map(|d| date_text(Some(&d.to_string())))
                .unwrap_or_default();
            rows.push(row);
        }
    }
    rows.sort_by(|a, b| a.sort_key.cmp(&b.sort_key).then_with(|| a.id.cmp(&b.id)));
    Ok(rows)
}

async fn my_patients(State(state): State<AppState>, portal: Portal) -> Response {
    let result = async {
        let staff = portal.staff()?;
        let c = portal.chrome("staff.my-patients-title");
        let (rows, linked) = match staff.practitioner_id.as_deref() {
            Some(me) if staff.role.is_clinical() => (
                patients_in_care(&state, &portal, staff, me, &c).await?,
                true,
            ),
            _ => (Vec::new(), false),
        };
        Ok(render(&MyPatientsPage { c, rows, linked }))
    }
    .await;
    page_or_error(&portal, result)
}

// ---------------------------------------------------------------------------------------
// Finding a patient.

#[derive(Deserialize, Default)]
struct SearchForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    birthdate: String,
    #[serde(default)]
    bsn: String,
}

#[derive(Template)]
#[template(path = "staff/search.html")]
struct SearchPage {
    c: Chrome,
    name: String,
    birthdate: String,
    /// Whether a search was done (results are shown, even when empty).
    searched: bool,
    by_bsn: bool,
    rows: Vec<PatientRow>,
    total: usize,
    more: bool,
}

impl SearchPage {
    fn empty(c: Chrome) -> Self {
        Self {
            c,
            name: String::new(),
            birthdate: String::new(),
            searched: false,
            by_bsn: false,
            rows: Vec::new(),
            total: 0,
            more: false,
        }
    }
}

async fn search_form(portal: Portal) -> Response {
    let result = (|| {
        portal.staff()?;
        Ok(render(&SearchPage::empty(
            portal.chrome("staff.search-title"),
        )))
    })();
    page_or_error(&portal, result)
}

/// A date as typed: `yyyy-mm-dd` (a date field) or `dd-mm-yyyy` (also with `/`
/// or `.`, and one-digit day or month).
pub(super) fn parse_day(input: &str) -> Option<time::Date> {
    let s = input.trim();
    let parts: Vec<&str> = s.split(['-', '/', '.']).collect();
    let [a, b, c] = parts.as_slice() else {
        return None;
    };
    let (y, m, d) = if a.len() == 4 { (a, b, c) } else { (c, b, a) };
    if y.len() != 4 || m.is_empty() || m.len() > 2 || d.is_empty() || d.len() > 2 {
        return None;
    }
    let month = time::Month::try_from(m.parse::<u8>().ok()?).ok()?;
    time::Date::from_calendar_date(y.parse().ok()?, month, d.parse().ok()?).ok()
}

fn bad_search(mut page: SearchPage, error: &str) -> Response {
    page.c.error = Some(error.to_owned());
    let mut r = render(&page);
    *r.status_mut() = StatusCode::BAD_REQUEST;
    r
}

async fn search(
    State(state): State<AppState>,
    portal: Portal,
    Form(form): Form<SearchForm>,
) -> Response {
    let result = async {
        portal.check_csrf(&state, &form.csrf)?;
        portal.staff()?;
        let c = portal.chrome("staff.search-title");
        let lang = c.lang;
        let mut page = SearchPage::empty(c);
        page.name = form.name.trim().chars().take(200).collect();
        page.birthdate = form.birthdate.trim().chars().take(20).collect();
        let mut params: Vec<(String, String)> = Vec::new();
        if !form.bsn.trim().is_empty() {
            // The number is never shown back, logged or put in a URL.
            let Ok(bsn) = Bsn::parse(&form.bsn) else {
                return Ok(bad_search(page, lang.text("staff.err-bsn")));
            };
            page.by_bsn = true;
            params.push((
                "identifier".to_owned(),
                format!("{BSN_SYSTEM}|{}", bsn.expose()),
            ));
        } else {
            let words: Vec<&str> = page
                .name
                .split([' ', '-'])
                .filter(|w| !w.is_empty())
                .collect();
            if words.is_empty() || page.birthdate.is_empty() {
                return Ok(bad_search(page, lang.text("staff.err-need-both")));
            }
            let Some(born) = parse_day(&page.birthdate) else {
                return Ok(bad_search(page, lang.text("staff.err-birthdate")));
            };
            // Shown back as the date field expects it.
            page.birthdate = born.to_string();
            if words.len() > 6 || words.iter().any(|w| w.contains(['\\', ',', '|', '$'])) {
                return Ok(bad_search(page, lang.text("staff.err-name")));
            }
            for w in words {
                params.push(("name".to_owned(), w.to_owned()));
            }
            params.push(("birthdate".to_owned(), born.to_string()));
        }
        params.push(("_count".to_owned(), SEARCH_COUNT.to_string()));
        let q = SearchQuery::parse("Patient", &params)
            .map_err(|_| PortalError::BadRequest(lang.text("staff.err-name").to_owned()))?;
        let found = state
            .vault
            .search(portal.principal(), &q)
            .await
            .map_err(PortalError::from_vault)?;
        let today = today(&state);
        page.rows = found
            .hits
            .iter()
            .filter_map(|h| {
                h.resource
                    .as_ref()
                    .map(|p| patient_row(&page.c, &h.id, p, today))
            })
            .collect();
        page.rows
            .sort_by(|a, b| a.sort_key.cmp(&b.sort_key).then_with(|| a.id.cmp(&b.id)));
        page.total = found.total;
        page.more = found.total > page.rows.len();
        page.searched = true;
        Ok(render(&page))
    }
    .await;
    page_or_error(&portal, result)
}

// ---------------------------------------------------------------------------------------
// The emergency procedure (break-the-glass).

#[derive(Template)]
#[template(path = "staff/break_glass.html")]
struct BreakGlassPage {
    c: Chrome,
    patient_id: String,
    action: String,
    reason: String,
    confirmed: bool,
    /// The reason given was too short.
    invalid_reason: bool,
    hours: i64,
    min_reason: usize,
}

#[derive(Deserialize, Default)]
struct BreakGlassForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    confirm: Option<String>,
}

fn break_glass_page(
    c: Chrome,
    patient_id: &str,
    reason: String,
    confirmed: bool,
) -> BreakGlassPage {
    BreakGlassPage {
        c,
        patient_id: patient_id.to_owned(),
        action: format!("/staff/patients/{}/break-glass", urlencode(patient_id)),
        reason,
        confirmed,
        invalid_reason: false,
        hours: EMERGENCY_MINUTES / 60,
        min_reason: MIN_EMERGENCY_REASON,
    }
}

/// The staff member and the patient id of a break-glass page; `None` when the role may
/// not use the emergency procedure (the page then says so; the vault refuses it anyway).
fn break_glass_target<'a>(portal: &'a Portal, id: &str) -> Result<&'a Staff, PortalError> {
    let staff = portal.staff()?;
    ResourceId::parse(id).map_err(|_| PortalError::NotFound)?;
    Ok(staff)
}

fn not_for_role(portal: &Portal) -> Response {
    let c = portal.chrome("staff.break-glass-title");
    let text = c.t("staff.break-glass-not-for-role");
    let back = c.t("staff.back-to-my-patients");
    let mut r = message_page(c, text, Some(("/staff", back)));
    *r.status_mut() = StatusCode::FORBIDDEN;
    r
}

async fn break_glass_form(portal: Portal, Path(id): Path<String>) -> Response {
    let result = (|| {
        let staff = break_glass_target(&portal, &id)?;
        if !staff.role.may_break_glass() {
            return Ok(not_for_role(&portal));
        }
        let c = portal.chrome("staff.break-glass-title");
        Ok(render(&break_glass_page(c, &id, String::new(), false)))
    })();
    page_or_error(&portal, result)
}

async fn break_glass(
    State(state): State<AppState>,
    portal: Portal,
    Path(id): Path<String>,
    Form(form): Form<BreakGlassForm>,
) -> Response {
    let result = async {
        portal.check_csrf(&state, &form.csrf)?;
        let staff = break_glass_target(&portal, &id)?;
        let reason: String = form.reason.trim().chars().take(500).collect();
        let confirmed = form.confirm.is_some();
        if staff.role.may_break_glass() {
            let problem = if reason.chars().count() < MIN_EMERGENCY_REASON {
                Some("staff.err-reason")
            } else if !confirmed {
                Some("staff.err-confirm")
            } else {
                None
            };
            if let Some(key) = problem {
                let mut c = portal.chrome("staff.break-glass-title");
                c.error = Some(c.t(key).to_owned());
                let mut page = break_glass_page(c, &id, reason, confirmed);
                page.invalid_reason = key == "staff.err-reason";
                let mut r = render(&page);
                *r.status_mut() = StatusCode::BAD_REQUEST;
                return Ok(r);
            }
        }
        // The vault decides (role, reason) and records the emergency access, refused or not.
        state
            .vault
            .break_glass(portal.principal(), &id, &reason)
            .await
            .map_err(PortalError::from_vault)?;
        Ok(see_other(&format!("/staff/patients/{}", urlencode(&id))))
    }
    .await;
    page_or_error(&portal, result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn birthdates_are_read_in_both_orders() {
        let d = time::macros::date!(1961 - 04 - 12);
        for s in [
            "1961-04-12",
            "12-04-1961",
            "12-4-1961",
            "12/04/1961",
            " 12.04.1961 ",
        ] {
            assert_eq!(parse_day(s), Some(d), "{s}");
        }
        for s in [
            "",
            "1961",
            "31-02-1961",
            "12-13-1961",
            "aa-bb-cccc",
            "1-1-61",
        ] {
            assert_eq!(parse_day(s), None, "{s}");
        }
    }

    #[test]
    fn surnames_sort_without_their_prefixes() {
        assert_eq!(sort_surname("van Beek"), "beek");
        assert_eq!(sort_surname("van der Heijden-de Vries"), "heijden-de vries");
        assert_eq!(sort_surname("De"), "de");
        assert_eq!(sort_surname("Smit"), "smit");
    }

    #[test]
    fn age_counts_whole_years() {
        let b = time::macros::date!(2012 - 11 - 24);
        assert_eq!(age_on(b, time::macros::date!(2026 - 11 - 23)), Some(13));
        assert_eq!(age_on(b, time::macros::date!(2026 - 11 - 24)), Some(14));
    }
}
