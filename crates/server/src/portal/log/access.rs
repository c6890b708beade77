//! "Who viewed my record" (Wabvpz 15e, NEN 7513 ch. 9): every access to the patient's
//! data from the audit trail, newest first: who (name, role, organisation), what, when and
//! why, emergency accesses highlighted and listed first with their reason. Consecutive
//! identical reads (same person, purpose and minute) are one row with a count. Reading
//! this page is itself audited by the vault.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;
use zorgkluis_audit::{AuditEvent, Channel, EventCode, Outcome};
use zorgkluis_vault::AuditFilter;

use super::{fill, local_time_text, organisation_names, parse_form_date, patient_frame, text_or};
use crate::i18n::Lang;
use crate::portal::{page_or_error, render, urlencode, Chrome, Portal, PortalError};
use crate::AppState;

/// Rows per page.
const PAGE_ROWS: usize = 50;
/// Events read at most for one view.
const MAX_EVENTS: i64 = 20_000;

struct Row {
    who: String,
    role: String,
    organisation: String,
    what: Vec<String>,
    when: String,
    why: String,
    reason: Option<String>,
    count: usize,
    emergency: bool,
    refused: bool,
}

struct EmergencyRow {
    who: String,
    role: String,
    organisation: String,
    when: String,
    reason: String,
    reads: usize,
}

#[derive(Template)]
#[template(path = "log/access.html")]
struct AccessPage {
    c: Chrome,
    emergencies: Vec<EmergencyRow>,
    rows: Vec<Row>,
    page: usize,
    pages: usize,
    from: String,
    to: String,
    hide_own: bool,
    prev: Option<String>,
    next: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct AccessQuery {
    page: String,
    from: String,
    to: String,
    hide_own: String,
}

/// The label of a kind of data, from the FHIR type.
fn type_label(lang: Lang, resource_type: &str) -> String {
    text_or(
        lang,
        &format!("log.access-type-{resource_type}"),
        &fill(lang, "log.access-type-other", &[("type", resource_type)]),
    )
}

/// What the event was about, as the patient reads it.
fn what(e: &AuditEvent, lang: Lang) -> String {
    let action = match e.code {
        EventCode::Read | EventCode::SearchHit | EventCode::Search | EventCode::AuditRead => {
            "log.access-action-read"
        }
        EventCode::Create => "log.access-action-create",
        EventCode::Update => "log.access-action-update",
        EventCode::Delete => "log.access-action-delete",
        EventCode::Export | EventCode::Backup => "log.access-action-export",
        EventCode::EmergencyAccess => "log.access-action-emergency",
        EventCode::KeyDestroy => "log.access-action-key-destroy",
        _ => "log.access-action-other",
    };
    let object = if e.code == EventCode::AuditRead {
        lang.text("log.access-type-audit").to_owned()
    } else if e.code == EventCode::EmergencyAccess {
        lang.text("log.access-type-record").to_owned()
    } else if e.object.query.as_deref() == Some("$everything") {
        lang.text("log.access-type-everything").to_owned()
    } else if e.consent_profile == "health-log-link" {
        lang.text("log.access-type-health-log").to_owned()
    } else {
        let rt = e.object.resource_type.clone().or_else(|| {
            e.object
                .entities
                .first()
                .and_then(|r| r.split('/').next())
                .map(str::to_owned)
        });
        match rt {
            Some(rt) => type_label(lang, &rt),
            None => lang.text("log.access-type-record").to_owned(),
        }
    };
    let n = e.object.entities.len();
    if n > 1 {
        format!("{}: {object} ({n})", lang.text(action))
    } else {
        format!("{}: {object}", lang.text(action))
    }
}

/// Why: the purpose of use and the ground the access policy applied.
fn why(e: &AuditEvent, me: &str, lang: Lang) -> String {
    let key = if e.outcome == Outcome::Refused {
        "log.access-why-refused"
    } else {
        match e.purpose.as_str() {
            "ETREAT" | "BTG" => "log.access-why-emergency",
            "TREAT" => match e.consent_profile.as_str() {
                "health-log-link" => "log.access-why-health-log",
                "locum-arrangement" => "log.access-why-locum",
                "registration" => "log.access-why-registration",
                p if p.starts_with("regional-exchange") => "log.access-why-regional",
                p if p.starts_with("national-exchange") => "log.access-why-national",
                "organisation-care-relationship" => "log.access-why-organisation",
                _ => "log.access-why-treatment",
            },
            "PATRQT" if e.actor.user_id == me => "log.access-why-own",
            "PATRQT" if e.actor.role_name == "representative" => "log.access-why-representative",
            "PATRQT" if e.actor.role_name == "patient" => "log.access-why-patient",
            "PATRQT" => "log.access-why-request",
            "HSYSADMIN" if e.actor.role_name == "privacy_officer" => {
                "log.access-why-privacy-officer"
            }
            "HSYSADMIN" => "log.access-why-technical",
            "HOPERAT" => "log.access-why-operations",
            "HLEGAL" => "log.access-why-legal",
            _ => "",
        }
    };
    let mut s = if key.is_empty() {
        e.purpose.clone()
    } else {
        lang.text(key).to_owned()
    };
    if e.outcome == Outcome::Error {
        s.push_str(lang.text("log.access-failed"));
    }
    if e.channel == Channel::Exchange {
        s.push_str(lang.text("log.access-via-exchange"));
    }
    s
}

fn who(e: &AuditEvent, me: &str, lang: Lang) -> String {
    if e.actor.user_id == me {
        return lang.text("log.access-you").to_owned();
    }
    e.actor
        .display
        .clone()
        .unwrap_or_else(|| lang.text("log.access-unknown-person").to_owned())
}

fn role(e: &AuditEvent, lang: Lang) -> String {
    let r = &e.actor.role_name;
    text_or(
        lang,
        &format!("common.role-{r}"),
        &text_or(lang, &format!("log.access-role-{r}"), r),
    )
}

/// The reason given when the emergency procedure was started.
fn emergency_reason(e: &AuditEvent) -> String {
    let r = e.reason.as_deref().unwrap_or("");
    r.strip_prefix("emergency procedure started: ")
        .unwrap_or(r)
        .to_owned()
}

pub(super) async fn page(
    State(state): State<AppState>,
    mut portal: Portal,
    Query(q): Query<AccessQuery>,
) -> Response {
    let result = async {
        let (patient_id, mut c) = patient_frame(&state, &mut portal, "log.access-title").await?;
        let lang = c.lang;
        let from = parse_form_date(&q.from);
        let to = parse_form_date(&q.to);
        if (!q.from.trim().is_empty() && from.is_none())
            || (!q.to.trim().is_empty() && to.is_none())
        {
            c.error = Some(lang.text("log.access-err-date").to_owned());
        }
        let principal = portal.principal();
        let me = principal.actor().user_id.clone();
        let events = state
            .vault
            .audit_search(
                principal,
                &AuditFilter {
                    patient_id: Some(patient_id.clone()),
                    since: from.map(|d| d.to_string()),
                    until: to.map(|d| d.to_string()),
                    limit: MAX_EVENTS,
                    ..AuditFilter::default()
                },
            )
            .await
            .map_err(PortalError::from_vault)?;
        let orgs = organisation_names(&state, principal).await;
        let org_name = |e: &AuditEvent| {
            e.actor
                .organisation
                .as_deref()
                .map(|o| {
                    orgs.iter()
                        .find(|(id, _, _)| id == o)
                        .map_or_else(|| o.to_owned(), |(_, n, _)| n.clone())
                })
                .unwrap_or_default()
        };
        // Emergency procedures started (newest first), with the reads made under them.
        let starts: Vec<&AuditEvent> = events
            .iter()
            .filter(|e| e.code == EventCode::EmergencyAccess && e.outcome == Outcome::Success)
            .collect();
        let reason_for = |e: &AuditEvent| -> Option<String> {
            starts
                .iter()
                .filter(|s| s.actor.user_id == e.actor.user_id && s.occurred_at <= e.occurred_at)
                .max_by(|a, b| a.occurred_at.cmp(&b.occurred_at))
                .map(|s| emergency_reason(s))
        };
        let emergencies: Vec<EmergencyRow> = starts
            .iter()
            .map(|s| EmergencyRow {
                who: who(s, &me, lang),
                role: role(s, lang),
                organisation: org_name(s),
                when: local_time_text(&s.occurred_at),
                reason: emergency_reason(s),
                reads: events
                    .iter()
                    .filter(|e| {
                        e.controls.emergency
                            && e.code != EventCode::EmergencyAccess
                            && e.actor.user_id == s.actor.user_id
                            && e.occurred_at >= s.occurred_at
                    })
                    .count(),
            })
            .collect();

        // Consecutive identical accesses (same person, purpose, outcome and minute) as one row.
        let hide_own = q.hide_own == "1";
        let mut groups: Vec<(String, Row)> = Vec::new();
        for e in events.iter().filter(|e| !hide_own || e.actor.user_id != me) {
            let emergency = e.controls.emergency || e.code == EventCode::EmergencyAccess;
            let minute = e.occurred_at.get(..16).unwrap_or(&e.occurred_at);
            let key = format!(
                "{}|{}|{}|{}|{minute}",
                e.actor.user_id,
                e.purpose,
                e.outcome.as_str(),
                emergency
            );
            let description = what(e, lang);
            if let Some((k, row)) = groups.last_mut() {
                if *k == key {
                    row.count += 1;
                    if !row.what.contains(&description) {
                        row.what.push(description);
                    }
                    continue;
                }
            }
            groups.push((
                key,
                Row {
                    who: who(e, &me, lang),
                    // Your own role needs no saying.
                    role: if e.actor.user_id == me {
                        String::new()
                    } else {
                        role(e, lang)
                    },
                    organisation: org_name(e),
                    what: vec![description],
                    when: local_time_text(&e.occurred_at),
                    why: why(e, &me, lang),
                    reason: if emergency { reason_for(e) } else { None },
                    count: 1,
                    emergency,
                    refused: e.outcome == Outcome::Refused,
                },
            ));
        }
        let pages = groups.len().div_ceil(PAGE_ROWS).max(1);
        let page = q.page.trim().parse::<usize>().unwrap_or(1).clamp(1, pages);
        let rows: Vec<Row> = groups
            .into_iter()
            .map(|(_, r)| r)
            .skip((page - 1) * PAGE_ROWS)
            .take(PAGE_ROWS)
            .collect();
        let from_text = from.map(|d| d.to_string()).unwrap_or_default();
        let to_text = to.map(|d| d.to_string()).unwrap_or_default();
        let link = |p: usize| {
            format!(
                "/patient/access-log?page={p}&from={}&to={}&hide_own={}",
                urlencode(&from_text),
                urlencode(&to_text),
                if hide_own { "1" } else { "" }
            )
        };
        Ok(render(&AccessPage {
            c,
            emergencies,
            rows,
            page,
            pages,
            prev: (page > 1).then(|| link(page - 1)),
            next: (page < pages).then(|| link(page + 1)),
            from: from_text,
            to: to_text,
            hide_own,
        }))
    }
    .await;
    page_or_error(&portal, result)
}
