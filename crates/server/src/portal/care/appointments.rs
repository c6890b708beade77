//! The patient's appointments: the list (upcoming and past), booking an open slot with
//! a member of their care team, cancelling one that has not begun, and joining a video
//! consult (HP-2, GP-13).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;
use serde_json::{json, Value};
use time::{Date, Duration, OffsetDateTime};
use zorgkluis_vault::appointments::{is_video_consult, VIDEO_CONSULT_URL};
use zorgkluis_vault::{Principal, VaultError};

use super::common::*;
use super::video;
use crate::i18n::Lang;
use crate::portal::fhirtext::{concept, str_at};
use crate::portal::{page_or_error, render, see_other, Chrome, Portal, PortalError};
use crate::AppState;

/// One appointment as the list shows it.
pub struct ApptRow {
    pub id: String,
    pub day: String,
    pub time: String,
    pub end_time: String,
    pub with: String,
    pub what: String,
    pub status: String,
    pub status_text: &'static str,
    pub video: bool,
    pub join: bool,
    pub can_cancel: bool,
}

#[derive(Template)]
#[template(path = "care/appointments.html")]
struct ListPage {
    c: Chrome,
    upcoming: Vec<ApptRow>,
    past: Vec<ApptRow>,
}

/// The translation key of an appointment status.
pub fn status_text(lang: Lang, status: &str) -> &'static str {
    match status {
        "booked" | "cancelled" | "fulfilled" | "noshow" | "pending" | "proposed" | "arrived"
        | "checked-in" | "waitlist" | "entered-in-error" => {
            lang.text(&format!("care.appt-status-{status}"))
        }
        _ => lang.text("care.appt-status-other"),
    }
}

/// The CSS class of a status (the stylesheet's `status-*`).
fn status_class(status: &str) -> String {
    match status {
        "booked" | "arrived" | "checked-in" | "fulfilled" => "booked",
        "cancelled" | "noshow" | "entered-in-error" => "cancelled",
        _ => "pending",
    }
    .to_owned()
}

/// Who the appointment is with: the practitioners taking part (by the names written in).
pub fn with_whom(a: &Value) -> String {
    a.get("participant")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|p| ref_of(p.get("actor"), "Practitioner").is_some())
        .filter_map(|p| str_at(p, "/actor/display"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What the appointment is for.
pub fn what_of(a: &Value) -> String {
    let service = a
        .get("serviceType")
        .and_then(Value::as_array)
        .and_then(|s| s.first())
        .map(|s| concept(Some(s)))
        .unwrap_or_default();
    let description = a.get("description").and_then(Value::as_str).unwrap_or("");
    match (
        service.is_empty(),
        description.is_empty() || description == service,
    ) {
        (true, _) => description.to_owned(),
        (false, true) => service,
        (false, false) => format!("{service}: {description}"),
    }
}

/// Whether the appointment is still open (may be cancelled, may be joined).
fn is_open(status: &str) -> bool {
    matches!(
        status,
        "booked" | "pending" | "proposed" | "waitlist" | "arrived" | "checked-in"
    )
}

fn row(lang: Lang, now: OffsetDateTime, id: &str, a: &Value) -> Option<(OffsetDateTime, ApptRow)> {
    let start = parse_instant(a.get("start").and_then(Value::as_str))?;
    let end = parse_instant(a.get("end").and_then(Value::as_str))
        .unwrap_or(start + Duration::minutes(10));
    let status = a
        .get("status")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let video = is_video_consult(a);
    let local_start = local(start);
    Some((
        start,
        ApptRow {
            id: id.to_owned(),
            day: day_long(lang, local_start.date()),
            time: time_nl(local_start),
            end_time: time_nl(local(end)),
            with: with_whom(a),
            what: what_of(a),
            status_text: status_text(lang, &status),
            join: video && is_open(&status) && video::in_window(now, start, end),
            can_cancel: matches!(
                status.as_str(),
                "booked" | "pending" | "proposed" | "waitlist"
            ) && start > now,
            status: status_class(&status),
            video,
        },
    ))
}

#[derive(Deserialize, Default)]
pub struct Done {
    #[serde(default)]
    done: String,
}

/// `GET /patient/appointments`.
pub async fn list(
    State(state): State<AppState>,
    mut portal: Portal,
    Query(q): Query<Done>,
) -> Response {
    let result = async {
        let patient = patient_ctx(&state, &mut portal).await?;
        let hits = search_all(
            &state,
            portal.principal(),
            "Appointment",
            &[("patient", &patient.id)],
        )
        .await?;
        let now = state.vault.now();
        let lang = portal.lang;
        let mut rows: Vec<(OffsetDateTime, ApptRow, bool)> = hits
            .iter()
            .filter_map(|h| {
                let a = h.resource.as_ref()?;
                let end = parse_instant(a.get("end").and_then(Value::as_str));
                let (start, r) = row(lang, now, &h.id, a)?;
                let past = end.unwrap_or(start) < now;
                Some((start, r, past))
            })
            .collect();
        rows.sort_by_key(|(s, _, _)| *s);
        let mut upcoming = Vec::new();
        let mut past = Vec::new();
        for (_, r, is_past) in rows {
            if is_past {
                past.push(r);
            } else {
                upcoming.push(r);
            }
        }
        past.reverse();
        let mut c = portal.chrome("care.appointments-title");
        c.flash = match q.done.as_str() {
            "booked" => Some(c.t("care.flash-booked").to_owned()),
            "cancelled" => Some(c.t("care.flash-cancelled").to_owned()),
            _ => None,
        };
        Ok(render(&ListPage { c, upcoming, past }))
    }
    .await;
    page_or_error(&portal, result)
}

// ---------------------------------------------------------------------------------------
// Booking.

pub struct ProviderChoice {
    pub id: String,
    pub name: String,
    pub role: String,
    pub selected: bool,
}

pub struct SlotChoice {
    pub id: String,
    pub time: String,
    pub minutes: i64,
    pub video: bool,
}

pub struct DayChoice {
    pub label: String,
    pub slots: Vec<SlotChoice>,
}

#[derive(Template)]
#[template(path = "care/book.html")]
struct BookPage {
    c: Chrome,
    providers: Vec<ProviderChoice>,
    provider: Option<ProviderChoice>,
    days: Vec<DayChoice>,
    has_schedule: bool,
    week: i64,
    weeks: i64,
    week_label: String,
    reason: String,
}

#[derive(Deserialize, Default)]
pub struct BookQuery {
    #[serde(default)]
    provider: String,
    #[serde(default)]
    week: Option<i64>,
}

/// Weeks the booking page pages through.
const WEEKS: i64 = BOOKING_DAYS / 7;

/// The providers of the patient's care team that have an agenda, and their agendas.
async fn bookable(
    state: &AppState,
    lang: Lang,
    principal: &Principal,
    patient_id: &str,
) -> Result<Vec<(Provider, Vec<String>)>, PortalError> {
    let teams = care_teams(state, principal, patient_id).await?;
    let today = now_local(state).date();
    let mut providers = providers_of(lang, &teams, today);
    name_providers(state, principal, &mut providers).await;
    let mut out = Vec::new();
    for p in providers {
        let actor = format!("Practitioner/{}", p.practitioner_id);
        let schedules = search_all(state, principal, "Schedule", &[("actor", &actor)]).await?;
        let ids: Vec<String> = schedules
            .into_iter()
            .filter(|s| {
                s.resource
                    .as_ref()
                    .and_then(|r| r.get("active"))
                    .and_then(Value::as_bool)
                    != Some(false)
            })
            .map(|s| s.id)
            .collect();
        if !ids.is_empty() {
            out.push((p, ids));
        }
    }
    Ok(out)
}

/// The free slots of agendas from now to the horizon.
async fn free_slots(
    state: &AppState,
    principal: &Principal,
    schedules: &[String],
) -> Result<Vec<(OffsetDateTime, OffsetDateTime, String, bool)>, PortalError> {
    let now = state.vault.now();
    let horizon = booking_horizon(now);
    let mut out = Vec::new();
    for sid in schedules {
        let reference = format!("Schedule/{sid}");
        let slots = search_all(
            state,
            principal,
            "Slot",
            &[("schedule", &reference), ("status", "free")],
        )
        .await?;
        for s in slots {
            let Some(r) = s.resource.as_ref() else {
                continue;
            };
            let Some(start) = parse_instant(r.get("start").and_then(Value::as_str)) else {
                continue;
            };
            let end = parse_instant(r.get("end").and_then(Value::as_str)).unwrap_or(start);
            if start > now && start < horizon {
                out.push((start, end, s.id.clone(), is_video_consult(r)));
            }
        }
    }
    out.sort_by_key(|s| s.0);
    Ok(out)
}

async fn book_page(
    state: &AppState,
    portal: &mut Portal,
    provider_id: &str,
    week: i64,
    reason: String,
    error: Option<String>,
) -> Result<Response, PortalError> {
    let patient = patient_ctx(state, portal).await?;
    let options = bookable(state, portal.lang, portal.principal(), &patient.id).await?;
    let lang = portal.lang;
    let week = week.clamp(0, WEEKS - 1);
    let chosen = options
        .iter()
        .find(|(p, _)| p.practitioner_id == provider_id)
        .or_else(|| (options.len() == 1).then(|| &options[0]));
    let choice = |p: &Provider, selected: bool| ProviderChoice {
        id: p.practitioner_id.clone(),
        name: p.name.clone(),
        role: p.role.clone(),
        selected,
    };
    let providers = options
        .iter()
        .map(|(p, _)| {
            choice(
                p,
                chosen.is_some_and(|(c, _)| c.practitioner_id == p.practitioner_id),
            )
        })
        .collect();
    let today = now_local(state).date();
    let from = today + Duration::days(week * 7);
    let to = from + Duration::days(7);
    let mut days: Vec<DayChoice> = Vec::new();
    if let Some((_, schedules)) = chosen {
        let mut current: Option<Date> = None;
        for (start, end, id, video) in free_slots(state, portal.principal(), schedules).await? {
            let l = local(start);
            let d = l.date();
            if d < from || d >= to {
                continue;
            }
            if current != Some(d) {
                current = Some(d);
                days.push(DayChoice {
                    label: day_long(lang, d),
                    slots: Vec::new(),
                });
            }
            if let Some(day) = days.last_mut() {
                day.slots.push(SlotChoice {
                    id,
                    time: time_nl(l),
                    minutes: (end - start).whole_minutes(),
                    video,
                });
            }
        }
    }
    let mut c = portal.chrome("care.book-title");
    c.error = error.clone();
    let mut response = render(&BookPage {
        c,
        providers,
        provider: chosen.map(|(p, _)| choice(p, true)),
        days,
        has_schedule: !options.is_empty(),
        week,
        weeks: WEEKS,
        week_label: format!("{} – {}", date_nl(from), date_nl(to - Duration::days(1))),
        reason,
    });
    if error.is_some() {
        *response.status_mut() = StatusCode::CONFLICT;
    }
    Ok(response)
}

/// `GET /patient/appointments/book`.
pub async fn book_form(
    State(state): State<AppState>,
    mut portal: Portal,
    Query(q): Query<BookQuery>,
) -> Response {
    let result = book_page(
        &state,
        &mut portal,
        &q.provider,
        q.week.unwrap_or(0),
        String::new(),
        None,
    )
    .await;
    page_or_error(&portal, result)
}

#[derive(Deserialize)]
pub struct BookForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    provider: String,
    #[serde(default)]
    slot: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    week: Option<i64>,
}

/// Longest reason for a visit.
const MAX_REASON: usize = 500;

/// `POST /patient/appointments/book`.
pub async fn book(
    State(state): State<AppState>,
    mut portal: Portal,
    Form(form): Form<BookForm>,
) -> Response {
    let result = async {
        portal.check_csrf(&state, &form.csrf)?;
        let lang = portal.lang;
        let week = form.week.unwrap_or(0);
        let reason = form.reason.trim().to_owned();
        if form.slot.is_empty() || !valid_id(&form.slot) {
            let e = lang.text("care.choose-slot").to_owned();
            return book_page(&state, &mut portal, &form.provider, week, reason, Some(e)).await;
        }
        if reason.chars().count() > MAX_REASON {
            return Err(PortalError::BadRequest(lang.text("care.reason-too-long").into()));
        }
        let patient = patient_ctx(&state, &mut portal).await?;
        let options = bookable(&state, portal.lang, portal.principal(), &patient.id).await?;
        let slot = state
            .vault
            .read(portal.principal(), "Slot", &form.slot)
            .await
            .map_err(PortalError::from_vault)?;
        let slot_body = slot.resource.unwrap_or(Value::Null);
        let schedule = ref_of(slot_body.get("schedule"), "Schedule").unwrap_or("");
        // Only with a member of the patient's own care team.
        let Some((provider, _)) = options.iter().find(|(_, s)| s.iter().any(|s| s == schedule)) else {
            return Err(PortalError::BadRequest(lang.text("care.not-your-provider").into()));
        };
        let video = is_video_consult(&slot_body);
        let service = if video {
            lang.text("care.service-video")
        } else {
            lang.text("care.service-consult")
        };
        let mut appointment = json!({
            "resourceType": "Appointment",
            "status": "booked",
            "serviceType": [{"text": service}],
            "created": date_iso(now_local(&state).date()),
            "comment": lang.text("care.booked-online"),
            "participant": [
                {"actor": {"reference": format!("Patient/{}", patient.id), "display": patient.name},
                 "required": "required", "status": "accepted"},
                {"actor": {"reference": format!("Practitioner/{}", provider.practitioner_id), "display": provider.name},
                 "required": "required", "status": "accepted"}
            ]
        });
        if !reason.is_empty() {
            appointment["description"] = json!(reason);
        }
        if video {
            appointment["extension"] = json!([{"url": VIDEO_CONSULT_URL, "valueBoolean": true}]);
            appointment["appointmentType"] = json!({"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                "code": "VR", "display": "virtual"}], "text": service});
        }
        match state.vault.book_slot(portal.principal(), &form.slot, appointment).await {
            Ok(_) => Ok(see_other("/patient/appointments?done=booked")),
            Err(VaultError::Conflict { .. }) => {
                let e = lang.text("care.slot-taken").to_owned();
                book_page(&state, &mut portal, &provider.practitioner_id.clone(), week, reason, Some(e)).await
            }
            Err(VaultError::Invalid(_)) => {
                let e = lang.text("care.slot-unavailable").to_owned();
                book_page(&state, &mut portal, &provider.practitioner_id.clone(), week, reason, Some(e)).await
            }
            Err(e) => Err(PortalError::from_vault(e)),
        }
    }
    .await;
    page_or_error(&portal, result)
}

// ---------------------------------------------------------------------------------------
// Cancelling and joining.

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// Reads an appointment of the portal's patient (another patient's: refused).
async fn own_appointment(
    state: &AppState,
    portal: &Portal,
    id: &str,
) -> Result<Value, PortalError> {
    if !valid_id(id) {
        return Err(PortalError::Forbidden);
    }
    let stored = state
        .vault
        .read(portal.principal(), "Appointment", id)
        .await
        .map_err(PortalError::from_vault)?;
    if stored.patient_id.as_deref() != Some(portal.patient_id()?.as_str()) {
        return Err(PortalError::Forbidden);
    }
    stored.resource.ok_or(PortalError::NotFound)
}

/// `POST /patient/appointments/{id}/cancel`.
pub async fn cancel(
    State(state): State<AppState>,
    portal: Portal,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    let result = async {
        portal.check_csrf(&state, &form.csrf)?;
        own_appointment(&state, &portal, &id).await?;
        let reason = portal.lang.text("care.cancel-reason");
        match state
            .vault
            .cancel_appointment(portal.principal(), &id, reason)
            .await
        {
            Ok(_) => Ok(see_other("/patient/appointments?done=cancelled")),
            Err(VaultError::Invalid(_)) => Err(PortalError::BadRequest(
                portal.lang.text("care.cannot-cancel").into(),
            )),
            Err(e) => Err(PortalError::from_vault(e)),
        }
    }
    .await;
    page_or_error(&portal, result)
}

/// Redirects to the video room when the appointment is a video consult in its window.
pub fn join_redirect(
    state: &AppState,
    lang: Lang,
    id: &str,
    a: &Value,
    user_name: &str,
    moderator: bool,
) -> Result<Response, PortalError> {
    let now = state.vault.now();
    let status = a.get("status").and_then(Value::as_str).unwrap_or("");
    let start = parse_instant(a.get("start").and_then(Value::as_str));
    let end = parse_instant(a.get("end").and_then(Value::as_str));
    match (start, end) {
        (Some(start), Some(end))
            if is_video_consult(a) && is_open(status) && video::in_window(now, start, end) =>
        {
            let url = video::join_url(state, id, user_name, moderator, end);
            Ok(Redirect::to(&url).into_response())
        }
        _ => Err(PortalError::BadRequest(
            lang.text("care.video-not-open").into(),
        )),
    }
}

/// `GET /patient/appointments/{id}/video`.
pub async fn join(
    State(state): State<AppState>,
    portal: Portal,
    Path(id): Path<String>,
) -> Response {
    let result = async {
        let a = own_appointment(&state, &portal, &id).await?;
        let actor = portal.principal().actor();
        let name = actor
            .display
            .clone()
            .unwrap_or_else(|| actor.user_id.clone());
        join_redirect(&state, portal.lang, &id, &a, &name, false)
    }
    .await;
    page_or_error(&portal, result)
}
