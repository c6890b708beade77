//! The practitioner's agenda: one day of appointments and open slots (patient names only
//! of patients the user may see), and opening new slots (HP-2, GP-13).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use serde::Deserialize;
use serde_json::Value;
use time::{Date, Duration, OffsetDateTime};
use zorgkluis_vault::appointments::{is_video_consult, NewSlot};
use zorgkluis_vault::VaultError;

use super::appointments::{join_redirect, status_text, what_of};
use super::common::*;
use super::inbox::patient_name;
use super::video;
use crate::portal::{page_or_error, render, see_other, Chrome, Portal, PortalError};
use crate::AppState;

/// One line of the day.
pub struct AgendaRow {
    pub time: String,
    pub end_time: String,
    pub kind: &'static str,
    pub status: String,
    pub patient: String,
    pub patient_id: String,
    pub what: String,
    pub video: bool,
    pub join: Option<String>,
}

#[derive(Template)]
#[template(path = "care/agenda.html")]
struct AgendaPage {
    c: Chrome,
    day: String,
    day_label: String,
    prev: String,
    next: String,
    today: String,
    rows: Vec<AgendaRow>,
    has_schedule: bool,
    schedules: Vec<(String, String)>,
    form: SlotForm,
    durations: Vec<i64>,
    open_count: usize,
    booked_count: usize,
}

#[derive(Deserialize, Default)]
pub struct DayQuery {
    #[serde(default)]
    day: String,
    #[serde(default)]
    done: String,
}

/// The form to open slots (also what is shown again after an error).
#[derive(Deserialize, Default, Clone)]
pub struct SlotForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    pub schedule: String,
    #[serde(default)]
    pub date: String,
    #[serde(default)]
    pub start: String,
    #[serde(default)]
    pub duration: String,
    #[serde(default)]
    pub count: String,
    #[serde(default)]
    pub video: Option<String>,
}

/// The durations offered (minutes).
const DURATIONS: [i64; 7] = [5, 10, 15, 20, 30, 45, 60];
/// Slots at most per form.
const MAX_COUNT: i64 = 32;

/// The user's agendas: (id, label).
async fn my_schedules(
    state: &AppState,
    portal: &Portal,
) -> Result<Vec<(String, String)>, PortalError> {
    let s = portal.staff()?;
    let Some(me) = &s.practitioner_id else {
        return Ok(Vec::new());
    };
    let actor = format!("Practitioner/{me}");
    Ok(
        search_all(state, portal.principal(), "Schedule", &[("actor", &actor)])
            .await?
            .into_iter()
            .filter(|s| {
                s.resource
                    .as_ref()
                    .and_then(|r| r.get("active"))
                    .and_then(Value::as_bool)
                    != Some(false)
            })
            .map(|s| {
                let label = s
                    .resource
                    .as_ref()
                    .and_then(|r| r.get("serviceType"))
                    .and_then(Value::as_array)
                    .and_then(|a| a.first())
                    .map(|c| crate::portal::fhirtext::concept(Some(c)))
                    .filter(|t| !t.is_empty())
                    .unwrap_or_else(|| s.id.clone());
                (s.id, label)
            })
            .collect(),
    )
}

async fn agenda_page(
    state: &AppState,
    portal: &Portal,
    day: Date,
    form: SlotForm,
    flash: Option<String>,
    error: Option<String>,
) -> Result<Response, PortalError> {
    let staff = portal.staff()?;
    let lang = portal.lang;
    let schedules = my_schedules(state, portal).await?;
    let now = state.vault.now();
    let mut rows: Vec<(OffsetDateTime, AgendaRow)> = Vec::new();
    let mut names = Vec::new();
    // The appointments the user may see, around the day (filtered to it in local time).
    let mut appointments: Vec<(String, Value)> = Vec::new();
    if let Some(me) = &staff.practitioner_id {
        let actor = format!("Practitioner/{me}");
        let from = format!("ge{}", date_iso(day - Duration::days(1)));
        let to = format!("le{}", date_iso(day + Duration::days(1)));
        for h in search_all(
            state,
            portal.principal(),
            "Appointment",
            &[("actor", &actor), ("date", &from), ("date", &to)],
        )
        .await?
        {
            if let Some(r) = h.resource {
                appointments.push((h.id, r));
            }
        }
    }
    let on_day = |t: OffsetDateTime| local(t).date() == day;
    let mut used = Vec::new();
    let (mut open_count, mut booked_count) = (0, 0);
    for (sid, _) in &schedules {
        let reference = format!("Schedule/{sid}");
        for slot in search_all(
            state,
            portal.principal(),
            "Slot",
            &[("schedule", &reference)],
        )
        .await?
        {
            let Some(r) = slot.resource.as_ref() else {
                continue;
            };
            let Some(start) = parse_instant(r.get("start").and_then(Value::as_str)) else {
                continue;
            };
            if !on_day(start) {
                continue;
            }
            let end = parse_instant(r.get("end").and_then(Value::as_str)).unwrap_or(start);
            let status = r.get("status").and_then(Value::as_str).unwrap_or("");
            if status == "entered-in-error" {
                continue;
            }
            let slot_ref = format!("Slot/{}", slot.id);
            let appt = appointments.iter().find(|(_, a)| {
                a.get("status").and_then(Value::as_str) != Some("cancelled")
                    && a.get("slot").and_then(Value::as_array).is_some_and(|l| {
                        l.iter().any(|s| {
                            s.get("reference").and_then(Value::as_str) == Some(slot_ref.as_str())
                        })
                    })
            });
            let row = match (status, appt) {
                ("free", _) => {
                    open_count += 1;
                    AgendaRow {
                        time: time_nl(local(start)),
                        end_time: time_nl(local(end)),
                        kind: lang.text("care.agenda-open"),
                        status: "free".into(),
                        patient: String::new(),
                        patient_id: String::new(),
                        what: String::new(),
                        video: is_video_consult(r),
                        join: None,
                    }
                }
                (_, Some((aid, a))) => {
                    used.push(aid.clone());
                    booked_count += 1;
                    appointment_row(state, portal, &mut names, now, aid, a).await
                }
                _ => {
                    booked_count += 1;
                    AgendaRow {
                        time: time_nl(local(start)),
                        end_time: time_nl(local(end)),
                        kind: lang.text("care.agenda-booked"),
                        status: "pending".into(),
                        patient: lang.text("care.agenda-not-visible").into(),
                        patient_id: String::new(),
                        what: String::new(),
                        video: is_video_consult(r),
                        join: None,
                    }
                }
            };
            rows.push((start, row));
        }
    }
    // Appointments outside the slots (made elsewhere).
    for (aid, a) in &appointments {
        if used.contains(aid) {
            continue;
        }
        let Some(start) = parse_instant(a.get("start").and_then(Value::as_str)) else {
            continue;
        };
        if !on_day(start) {
            continue;
        }
        if a.get("status").and_then(Value::as_str) != Some("cancelled") {
            booked_count += 1;
        }
        let row = appointment_row(state, portal, &mut names, now, aid, a).await;
        rows.push((start, row));
    }
    rows.sort_by_key(|(s, _)| *s);
    let today = now_local(state).date();
    let mut form = form;
    if form.date.is_empty() {
        form.date = date_iso(day.max(today));
    }
    if form.start.is_empty() {
        form.start = "08:00".into();
    }
    if form.duration.is_empty() {
        form.duration = "10".into();
    }
    if form.count.is_empty() {
        form.count = "6".into();
    }
    let mut c = portal.chrome("care.agenda-title");
    c.flash = flash;
    let bad = error.is_some();
    c.error = error;
    let mut response = render(&AgendaPage {
        c,
        day: date_iso(day),
        day_label: day_long(lang, day),
        prev: date_iso(day - Duration::days(1)),
        next: date_iso(day + Duration::days(1)),
        today: date_iso(today),
        rows: rows.into_iter().map(|(_, r)| r).collect(),
        has_schedule: !schedules.is_empty(),
        schedules,
        form,
        durations: DURATIONS.to_vec(),
        open_count,
        booked_count,
    });
    if bad {
        *response.status_mut() = StatusCode::BAD_REQUEST;
    }
    Ok(response)
}

async fn appointment_row(
    state: &AppState,
    portal: &Portal,
    names: &mut Vec<(String, String)>,
    now: OffsetDateTime,
    id: &str,
    a: &Value,
) -> AgendaRow {
    let lang = portal.lang;
    let start = parse_instant(a.get("start").and_then(Value::as_str)).unwrap_or(now);
    let end = parse_instant(a.get("end").and_then(Value::as_str)).unwrap_or(start);
    let patient_id = a
        .get("participant")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find_map(|p| ref_of(p.get("actor"), "Patient"))
        .unwrap_or("")
        .to_owned();
    // The appointment is visible, so its patient is one the user may see.
    let patient = if patient_id.is_empty() {
        String::new()
    } else {
        patient_name(state, portal, names, &patient_id).await
    };
    let status = a.get("status").and_then(Value::as_str).unwrap_or("");
    let video = is_video_consult(a);
    let open = matches!(status, "booked" | "arrived" | "checked-in");
    AgendaRow {
        time: time_nl(local(start)),
        end_time: time_nl(local(end)),
        kind: status_text(lang, status),
        status: if status == "cancelled" {
            "cancelled"
        } else {
            "booked"
        }
        .into(),
        patient,
        patient_id,
        what: what_of(a),
        video,
        join: (video && open && video::in_window(now, start, end))
            .then(|| format!("/staff/agenda/appointments/{id}/video")),
    }
}

/// `GET /staff/agenda`.
pub async fn show(
    State(state): State<AppState>,
    portal: Portal,
    Query(q): Query<DayQuery>,
) -> Response {
    let result = async {
        portal.staff()?;
        let day = parse_iso_date(&q.day).unwrap_or_else(|| now_local(&state).date());
        let flash = (q.done == "opened").then(|| portal.lang.text("care.flash-opened").to_owned());
        agenda_page(&state, &portal, day, SlotForm::default(), flash, None).await
    }
    .await;
    page_or_error(&portal, result)
}

/// `POST /staff/agenda/slots`.
pub async fn open_slots(
    State(state): State<AppState>,
    portal: Portal,
    Form(form): Form<SlotForm>,
) -> Response {
    let result = async {
        portal.check_csrf(&state, &form.csrf)?;
        portal.staff()?;
        let lang = portal.lang;
        let schedules = my_schedules(&state, &portal).await?;
        let day = parse_iso_date(&form.date);
        let fail = |key: &str| Some(lang.text(key).to_owned());
        let schedule = if form.schedule.is_empty() {
            schedules.first().map(|(id, _)| id.clone())
        } else {
            schedules
                .iter()
                .find(|(id, _)| *id == form.schedule)
                .map(|(id, _)| id.clone())
        };
        let start = parse_hhmm(&form.start);
        let duration: Option<i64> = form
            .duration
            .trim()
            .parse()
            .ok()
            .filter(|d| DURATIONS.contains(d));
        let count: Option<i64> = form
            .count
            .trim()
            .parse()
            .ok()
            .filter(|c| (1..=MAX_COUNT).contains(c));
        let error = match (&schedule, day, start, duration, count) {
            (None, ..) => fail("care.no-own-agenda"),
            (_, None, ..) | (_, _, None, ..) => fail("care.slot-bad-time"),
            (_, _, _, None, _) => fail("care.slot-bad-duration"),
            (_, _, _, _, None) => fail("care.slot-bad-count"),
            (Some(_), Some(d), Some(s), Some(dur), Some(n)) => {
                let first = local_at(d, s);
                let last_end = first + Duration::minutes(dur * n);
                if first <= state.vault.now() {
                    fail("care.slot-in-past")
                } else if local(last_end).date() != d {
                    fail("care.slot-past-midnight")
                } else {
                    None
                }
            }
        };
        let show_day = day.unwrap_or_else(|| now_local(&state).date());
        if error.is_some() {
            return agenda_page(&state, &portal, show_day, form.clone(), None, error).await;
        }
        let (Some(schedule), Some(d), Some(s), Some(dur), Some(n)) =
            (schedule, day, start, duration, count)
        else {
            return Err(PortalError::BadRequest(
                lang.text("care.slot-bad-time").into(),
            ));
        };
        let first = local_at(d, s);
        let video = form.video.is_some();
        let slots: Vec<NewSlot> = (0..n)
            .map(|k| {
                let start = first + Duration::minutes(dur * k);
                NewSlot {
                    start: local(start),
                    end: local(start + Duration::minutes(dur)),
                    video,
                }
            })
            .collect();
        match state
            .vault
            .open_slots(portal.principal(), &schedule, &slots)
            .await
        {
            Ok(_) => Ok(see_other(&format!(
                "/staff/agenda?day={}&done=opened",
                date_iso(d)
            ))),
            Err(VaultError::Invalid(_)) => {
                let e = fail("care.slot-overlap");
                agenda_page(&state, &portal, d, form.clone(), None, e).await
            }
            Err(e) => Err(PortalError::from_vault(e)),
        }
    }
    .await;
    page_or_error(&portal, result)
}

/// `GET /staff/agenda/appointments/{id}/video`: the practitioner joins the room.
pub async fn join(
    State(state): State<AppState>,
    portal: Portal,
    Path(id): Path<String>,
) -> Response {
    let result = async {
        let staff = portal.staff()?;
        if !valid_id(&id) {
            return Err(PortalError::Forbidden);
        }
        let stored = state
            .vault
            .read(portal.principal(), "Appointment", &id)
            .await
            .map_err(PortalError::from_vault)?;
        let a = stored.resource.ok_or(PortalError::NotFound)?;
        // Only a participant joins.
        let me = staff.practitioner_id.as_deref().unwrap_or("");
        let takes_part = a
            .get("participant")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .any(|p| ref_of(p.get("actor"), "Practitioner") == Some(me));
        if !takes_part {
            return Err(PortalError::Forbidden);
        }
        let name = staff
            .actor
            .display
            .clone()
            .unwrap_or_else(|| staff.actor.user_id.clone());
        join_redirect(&state, portal.lang, &id, &a, &name, true)
    }
    .await;
    page_or_error(&portal, result)
}
