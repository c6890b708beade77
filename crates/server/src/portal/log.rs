//! The patient's own part of the portal: the health log (PC-1, PC-3), links of the log
//! with care providers (PC-2, and the staff inbox of link requests), personal notes
//! (HP-4+), "who viewed my record" (Wabvpz 15e, NEN 7513) and the public privacy
//! statement (PC-14, HP-11).
//!
//! Every read and write goes through the vault with the logged-in principal, so each is
//! decided by the access-decision point and audited; these pages add no rule of their own
//! beyond refusing what does not belong to the patient whose portal this is.

mod access;
mod entries;
mod links;
mod notes;
mod statement;

use axum::routing::{get, post};
use axum::Router;
use serde_json::Value;
use time::{Date, Duration, Month, OffsetDateTime, PrimitiveDateTime, UtcOffset};
use zorgkluis_vault::Principal;

use super::{fhirtext, Chrome, Portal, PortalError};
use crate::i18n::Lang;
use crate::AppState;

/// Routes of this part of the portal.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/patient/log", get(entries::index))
        .route(
            "/patient/log/new",
            get(entries::new_form).post(entries::create),
        )
        .route("/patient/log/deleted", get(entries::deleted))
        .route(
            "/patient/log/{id}/edit",
            get(entries::edit_form).post(entries::update),
        )
        .route(
            "/patient/log/{id}/delete",
            get(entries::confirm_delete).post(entries::delete),
        )
        .route("/patient/log/{id}/history", get(entries::history))
        .route(
            "/patient/links",
            get(links::patient_page).post(links::request),
        )
        .route("/patient/links/{id}/revoke", post(links::revoke))
        .route("/staff/links", get(links::staff_page))
        .route("/staff/links/{id}/accept", post(links::accept))
        .route("/staff/links/{id}/decline", post(links::decline))
        .route("/patient/notes", get(notes::page).post(notes::unlock))
        .route("/patient/notes/write", post(notes::write))
        .route("/patient/notes/recover", post(notes::recover))
        .route("/patient/access-log", get(access::page))
        .route("/privacy-statement", get(statement::current))
        .route("/privacy-statement/{version}", get(statement::version))
}

// ---------------------------------------------------------------------------------------
// Shared by the pages of this part.

/// The patient whose portal this is, and the page frame. For a representative the
/// patient's name is read (decided and audited like any read) for the "acting for" banner.
async fn patient_frame(
    state: &AppState,
    portal: &mut Portal,
    title_key: &str,
) -> Result<(String, Chrome), PortalError> {
    let patient_id = portal.patient_id()?;
    if matches!(portal.principal(), Principal::Representative { .. }) {
        if let Ok(p) = state
            .vault
            .read(portal.principal(), "Patient", &patient_id)
            .await
        {
            let name = p
                .resource
                .as_ref()
                .map(|r| fhirtext::human_name(r.get("name")))
                .unwrap_or_default();
            if !name.is_empty() {
                portal.set_patient_name(&patient_id, &name);
            }
        }
    }
    Ok((patient_id, portal.chrome(title_key)))
}

/// A translated text with `{name}` placeholders filled in.
fn fill(lang: Lang, key: &str, values: &[(&str, &str)]) -> String {
    let mut s = lang.text(key).to_owned();
    for (name, value) in values {
        s = s.replace(&format!("{{{name}}}"), value);
    }
    s
}

/// A translated text for a dynamic key, or `fallback` when there is none.
fn text_or(lang: Lang, key: &str, fallback: &str) -> String {
    let t = lang.text(key);
    if t == key {
        fallback.to_owned()
    } else {
        t.to_owned()
    }
}

/// The confirmation a `?done=<key>` asks for (only known keys, never free text).
fn done_flash(lang: Lang, done: Option<&str>, known: &[&str], prefix: &str) -> Option<String> {
    let key = done.filter(|d| known.contains(d))?;
    Some(lang.text(&format!("{prefix}{key}")).to_owned())
}

/// The offset of Dutch local time (CET/CEST) at a moment: summer time from the last
/// Sunday of March to the last Sunday of October, 01:00 UTC.
fn dutch_offset(utc: OffsetDateTime) -> UtcOffset {
    fn last_sunday(year: i32, month: Month) -> Option<Date> {
        let last =
            Date::from_calendar_date(year, month, time::util::days_in_month(month, year)).ok()?;
        Some(last - Duration::days(i64::from(last.weekday().number_days_from_sunday())))
    }
    let year = utc.year();
    let one = time::Time::from_hms(1, 0, 0).unwrap_or(time::Time::MIDNIGHT);
    let summer = match (
        last_sunday(year, Month::March),
        last_sunday(year, Month::October),
    ) {
        (Some(start), Some(end)) => {
            let start = PrimitiveDateTime::new(start, one).assume_utc();
            let end = PrimitiveDateTime::new(end, one).assume_utc();
            utc >= start && utc < end
        }
        _ => false,
    };
    let hours = if summer { 2 } else { 1 };
    UtcOffset::from_hms(hours, 0, 0).unwrap_or(UtcOffset::UTC)
}

/// A moment in Dutch local time.
fn local(utc: OffsetDateTime) -> OffsetDateTime {
    utc.to_offset(dutch_offset(utc))
}

/// An RFC 3339 time as "dd-mm-yyyy hh:mm" in Dutch local time (the text as given when it
/// does not parse).
fn local_time_text(rfc3339: &str) -> String {
    match OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339) {
        Ok(t) => {
            let t = local(t);
            format!(
                "{:02}-{:02}-{} {:02}:{:02}",
                t.day(),
                u8::from(t.month()),
                t.year(),
                t.hour(),
                t.minute()
            )
        }
        Err(_) => fhirtext::date_text(Some(rfc3339)),
    }
}

/// A date as "dd-mm-yyyy".
fn date_text(d: Date) -> String {
    format!("{:02}-{:02}-{}", d.day(), u8::from(d.month()), d.year())
}

/// A date from a form: `yyyy-mm-dd` (date input) or `dd-mm-yyyy` (typed).
fn parse_form_date(s: &str) -> Option<Date> {
    let s = s.trim();
    let iso = time::macros::format_description!("[year]-[month]-[day]");
    let dutch = time::macros::format_description!("[day]-[month]-[year]");
    Date::parse(s, &iso)
        .or_else(|_| Date::parse(s, &dutch))
        .ok()
}

/// The name of an organisation from the directory (Organization resources), by id.
async fn organisation_names(
    state: &AppState,
    principal: &Principal,
) -> Vec<(String, String, Option<String>)> {
    let Ok(q) = zorgkluis_vault::SearchQuery::parse(
        "Organization",
        &[("_count".to_owned(), "1000".to_owned())],
    ) else {
        return Vec::new();
    };
    let Ok(page) = state.vault.search(principal, &q).await else {
        return Vec::new();
    };
    page.hits
        .into_iter()
        .filter_map(|h| {
            let r = h.resource?;
            let name = fhirtext::str_at(&r, "/name").unwrap_or(&h.id).to_owned();
            let kind = r
                .get("type")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .flat_map(|t| {
                    t.get("coding")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                })
                .find(|c| {
                    c.get("system").and_then(Value::as_str)
                        == Some("urn:zorgkluis:organisation-kind")
                })
                .and_then(|c| c.get("code").and_then(Value::as_str))
                .map(str::to_owned);
            Some((h.id, name, kind))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn dutch_local_time_follows_summer_time() {
        let (winter, summer) = ("2026-11-23T09:00:00.123Z", "2026-07-01T09:30:00Z");
        assert_eq!(local_time_text(winter), "23-11-2026 10:00");
        assert_eq!(local_time_text(summer), "01-07-2026 11:30");
        // The switch: last Sunday of March 2026 is 29 March, 01:00 UTC.
        assert_eq!(
            dutch_offset(datetime!(2026-03-29 00:59 UTC)).whole_hours(),
            1
        );
        assert_eq!(
            dutch_offset(datetime!(2026-03-29 01:00 UTC)).whole_hours(),
            2
        );
        assert_eq!(
            dutch_offset(datetime!(2026-10-25 01:00 UTC)).whole_hours(),
            1
        );
    }

    #[test]
    fn form_dates_in_both_notations() {
        let d = time::macros::date!(2026 - 11 - 02);
        assert_eq!(parse_form_date("2026-11-02"), Some(d));
        assert_eq!(parse_form_date(" 02-11-2026 "), Some(d));
        assert_eq!(parse_form_date("2026-13-02"), None);
        assert_eq!(parse_form_date("gisteren"), None);
        assert_eq!(date_text(d), "02-11-2026");
    }
}
