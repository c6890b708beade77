//! The privacy officer (FG/DPO): the audit trail searched by patient, by user and by
//! period, and the review of emergency accesses (break-the-glass, NEN 7513).
//!
//! Only the privacy officer sees these pages (others get the 403 page); the vault decides
//! again and records every read of the trail. A BSN typed into the search form is turned
//! into the patient's pseudonymous id by the vault (through the blind index, without
//! opening the record) before the page redirects, so a BSN never appears in a URL.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use time::{Date, Duration, Month, OffsetDateTime, UtcOffset};
use zorgkluis_audit::{AuditEvent, EventCode, Outcome};
use zorgkluis_domain::bsn::BSN_SYSTEM;
use zorgkluis_domain::clock::rfc3339;
use zorgkluis_domain::{Bsn, ResourceId};
use zorgkluis_vault::review::{EmergencyReview, ReviewPerson};
use zorgkluis_vault::{AuditFilter, VaultError};

use super::staff::parse_day;
use super::{page_or_error, render, see_other, urlencode, Chrome, Portal, PortalError};
use crate::i18n::Lang;
use crate::AppState;

/// Routes of this part of the portal.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/privacy-officer/audit", get(audit).post(audit_filter))
        .route("/privacy-officer/review", get(review_queue))
        .route("/privacy-officer/review/{id}", post(review_done))
}

/// Audit events per page.
const PAGE_SIZE: usize = 50;
/// Pages one can go back at most (older events: narrow the period).
const MAX_PAGE: usize = 200;
/// Reviews done shown under "reviewed".
const REVIEWED_SHOWN: i64 = 50;

/// Only the privacy officer (with the confidentiality agreement accepted).
fn officer(portal: &Portal) -> Result<(), PortalError> {
    portal.staff()?;
    if portal.is_privacy_officer() {
        Ok(())
    } else {
        Err(PortalError::Forbidden)
    }
}

// ---------------------------------------------------------------------------------------
// Dutch local time (Europe/Amsterdam: CET, CEST from the last Sunday of March to the last
// Sunday of October, switching at 01:00 UTC).

fn last_sunday(year: i32, month: Month) -> Option<Date> {
    let last = Date::from_calendar_date(year, month, 31).ok()?;
    last.checked_sub(Duration::days(i64::from(
        last.weekday().number_days_from_sunday(),
    )))
}

/// The Dutch offset from UTC at an instant.
fn amsterdam_offset(utc: OffsetDateTime) -> UtcOffset {
    let year = utc.year();
    let switch =
        |month| last_sunday(year, month).map(|d| d.midnight().assume_utc() + Duration::hours(1));
    let summer = match (switch(Month::March), switch(Month::October)) {
        (Some(start), Some(end)) => utc >= start && utc < end,
        _ => false,
    };
    let hours = if summer { 2 } else { 1 };
    UtcOffset::from_hms(hours, 0, 0).unwrap_or(UtcOffset::UTC)
}

/// A stored RFC 3339 time as Dutch local time, `dd-mm-yyyy hh:mm` (with seconds if asked).
pub(crate) fn local_time(rfc: &str, seconds: bool) -> String {
    let Ok(utc) = OffsetDateTime::parse(rfc, &time::format_description::well_known::Rfc3339) else {
        return rfc.to_owned();
    };
    let t = utc.to_offset(amsterdam_offset(utc));
    let mut s = format!(
        "{:02}-{:02}-{:04} {:02}:{:02}",
        t.day(),
        u8::from(t.month()),
        t.year(),
        t.hour(),
        t.minute()
    );
    if seconds {
        s.push_str(&format!(":{:02}", t.second()));
    }
    s
}

/// The UTC instant at which a Dutch calendar day starts.
fn day_start_utc(day: Date) -> OffsetDateTime {
    let midnight = day.midnight().assume_utc();
    let winter = midnight - Duration::hours(1);
    if amsterdam_offset(winter).whole_hours() == 2 {
        midnight - Duration::hours(2)
    } else {
        winter
    }
}

// ---------------------------------------------------------------------------------------
// Audit events as table rows.

/// One audit event as the table shows it.
struct AuditRow {
    when: String,
    who: String,
    who_href: String,
    role: String,
    organisation: String,
    on_behalf: String,
    action: String,
    what: String,
    reason: String,
    patient: String,
    patient_href: String,
    purpose: String,
    outcome: String,
    refused: bool,
    emergency: bool,
}

const COMMON_ROLES: &[&str] = &[
    "gp",
    "assistant",
    "practice_nurse",
    "nurse",
    "physiotherapist",
    "coach",
    "medical_specialist",
    "locum_gp",
    "pharmacist",
    "privacy_officer",
    "administrator",
    "maintainer",
    "patient",
    "representative",
];

fn role_text(lang: Lang, code: &str) -> String {
    if COMMON_ROLES.contains(&code) {
        return lang.text(&format!("common.role-{code}")).to_owned();
    }
    match code {
        "operator" => lang.text("privacy.role-operator").to_owned(),
        "system-client" => lang.text("privacy.role-system-client").to_owned(),
        "staff" => lang.text("privacy.role-staff").to_owned(),
        other => other.to_owned(),
    }
}

fn code_text(lang: Lang, code: EventCode) -> &'static str {
    lang.text(match code {
        EventCode::Create => "privacy.code-create",
        EventCode::Read => "privacy.code-read",
        EventCode::SearchHit => "privacy.code-search-hit",
        EventCode::Search => "privacy.code-search",
        EventCode::Update => "privacy.code-update",
        EventCode::Delete => "privacy.code-delete",
        EventCode::Export => "privacy.code-export",
        EventCode::KeyDestroy => "privacy.code-key-destroy",
        EventCode::KeyRotate => "privacy.code-key-rotate",
        EventCode::AuditRead => "privacy.code-audit-read",
        EventCode::AccessDenied => "privacy.code-access-denied",
        EventCode::Backup => "privacy.code-backup",
        EventCode::Login => "privacy.code-login",
        EventCode::Logout => "privacy.code-logout",
        EventCode::EmergencyAccess => "privacy.code-emergency-access",
        EventCode::AccountChange => "privacy.code-account-change",
    })
}

fn outcome_text(lang: Lang, outcome: Outcome) -> &'static str {
    lang.text(match outcome {
        Outcome::Success => "privacy.outcome-success",
        Outcome::Refused => "privacy.outcome-refused",
        Outcome::Error => "privacy.outcome-error",
    })
}

fn purpose_text(lang: Lang, purpose: &str) -> String {
    let key = match purpose {
        "TREAT" => "privacy.purpose-treat",
        "ETREAT" => "privacy.purpose-etreat",
        "BTG" => "privacy.purpose-btg",
        "PATRQT" => "privacy.purpose-patrqt",
        "HOPERAT" => "privacy.purpose-hoperat",
        "HSYSADMIN" => "privacy.purpose-hsysadmin",
        "HLEGAL" => "privacy.purpose-hlegal",
        other => return other.to_owned(),
    };
    format!("{} ({purpose})", lang.text(key))
}

fn what_text(e: &AuditEvent) -> String {
    let o = &e.object;
    let mut parts = Vec::new();
    if !o.entities.is_empty() {
        // Several resources read in one interaction: counted per type.
        let mut per_type: Vec<(&str, usize)> = Vec::new();
        for entity in &o.entities {
            let t = entity.split('/').next().unwrap_or(entity);
            match per_type.iter_mut().find(|(k, _)| *k == t) {
                Some((_, n)) => *n += 1,
                None => per_type.push((t, 1)),
            }
        }
        parts.extend(per_type.iter().map(|(t, n)| format!("{n} × {t}")));
    } else {
        match (&o.resource_type, &o.resource_id) {
            (Some(t), Some(id)) => {
                let mut s = format!("{t}/{id}");
                if let Some(v) = o.version {
                    s.push_str(&format!(" (v{v})"));
                }
                parts.push(s);
            }
            (Some(t), None) if o.query.is_none() => parts.push(t.clone()),
            _ => {}
        }
    }
    if let Some(q) = &o.query {
        parts.push(q.clone());
    }
    parts.join(" · ")
}

fn person_name(display: Option<&str>, user_id: &str) -> String {
    display.map_or_else(|| user_id.to_owned(), str::to_owned)
}

fn audit_row(lang: Lang, e: &AuditEvent) -> AuditRow {
    let a = &e.actor;
    let patient = e.object.patient_id.clone().unwrap_or_default();
    AuditRow {
        when: local_time(&e.occurred_at, true),
        who: person_name(a.display.as_deref(), &a.user_id),
        who_href: format!("/privacy-officer/audit?user={}", urlencode(&a.user_id)),
        role: role_text(lang, &a.role_name),
        organisation: a.organisation.clone().unwrap_or_default(),
        on_behalf: a
            .on_behalf_of
            .as_ref()
            .map(|b| person_name(b.display.as_deref(), &b.user_id))
            .unwrap_or_default(),
        action: code_text(lang, e.code).to_owned(),
        what: what_text(e),
        reason: e.reason.clone().unwrap_or_default(),
        patient_href: if patient.is_empty() {
            String::new()
        } else {
            format!("/privacy-officer/audit?patient={}", urlencode(&patient))
        },
        patient,
        purpose: purpose_text(lang, &e.purpose),
        outcome: outcome_text(lang, e.outcome).to_owned(),
        refused: e.outcome == Outcome::Refused,
        emergency: e.controls.emergency
            || e.code == EventCode::EmergencyAccess
            || e.event_type == "emergency",
    }
}

/// Replaces organisation ids by their names from the directory (public data).
async fn name_organisations(state: &AppState, orgs: Vec<&mut String>) {
    let mut known: Vec<(String, String)> = Vec::new();
    for org in orgs {
        if org.is_empty() {
            continue;
        }
        let name = match known.iter().find(|(id, _)| id == org) {
            Some((_, name)) => name.clone(),
            None => {
                let name = state
                    .vault
                    .organisation_name(org)
                    .await
                    .unwrap_or_else(|| org.clone());
                known.push((org.clone(), name.clone()));
                name
            }
        };
        *org = name;
    }
}

// ---------------------------------------------------------------------------------------
// The audit search.

#[derive(Deserialize, Default)]
struct AuditQuery {
    #[serde(default)]
    patient: String,
    #[serde(default)]
    user: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    page: String,
}

#[derive(Deserialize, Default)]
struct AuditForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    patient: String,
    #[serde(default)]
    user: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
}

#[derive(Template)]
#[template(path = "privacy/audit.html")]
struct AuditPage {
    c: Chrome,
    patient: String,
    user: String,
    from: String,
    to: String,
    filtered: bool,
    searched: bool,
    rows: Vec<AuditRow>,
    first: usize,
    last: usize,
    newer: String,
    older: String,
}

/// A filter checked and in canonical form (patient id, account id, ISO days).
#[derive(Default)]
struct Filter {
    patient: Option<String>,
    user: Option<String>,
    from: Option<Date>,
    to: Option<Date>,
}

impl Filter {
    fn query(&self, page: usize) -> String {
        let mut q = Vec::new();
        if let Some(p) = &self.patient {
            q.push(format!("patient={}", urlencode(p)));
        }
        if let Some(u) = &self.user {
            q.push(format!("user={}", urlencode(u)));
        }
        if let Some(d) = self.from {
            q.push(format!("from={d}"));
        }
        if let Some(d) = self.to {
            q.push(format!("to={d}"));
        }
        if page > 1 {
            q.push(format!("page={page}"));
        }
        if q.is_empty() {
            "/privacy-officer/audit".to_owned()
        } else {
            format!("/privacy-officer/audit?{}", q.join("&"))
        }
    }
}

fn audit_page(c: Chrome, patient: &str, user: &str, from: &str, to: &str) -> AuditPage {
    AuditPage {
        c,
        patient: patient.to_owned(),
        user: user.to_owned(),
        from: from.to_owned(),
        to: to.to_owned(),
        filtered: false,
        searched: false,
        rows: Vec::new(),
        first: 0,
        last: 0,
        newer: String::new(),
        older: String::new(),
    }
}

fn bad_filter(mut page: AuditPage, error: &str) -> Response {
    page.c.error = Some(error.to_owned());
    let mut r = render(&page);
    *r.status_mut() = StatusCode::BAD_REQUEST;
    r
}

/// An account id as the audit trail records it (not a login name).
fn is_account_id(s: &str) -> bool {
    let uuid = s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| {
            matches!(i, 8 | 13 | 18 | 23) == (b == b'-') && (b == b'-' || b.is_ascii_hexdigit())
        });
    uuid || s.starts_with("client:") || s.starts_with("system:")
}

/// Checks the dates of a filter; the translation key of the problem otherwise.
fn dates(from: &str, to: &str) -> Result<(Option<Date>, Option<Date>), &'static str> {
    let day = |s: &str| -> Result<Option<Date>, &'static str> {
        if s.trim().is_empty() {
            Ok(None)
        } else {
            parse_day(s).map(Some).ok_or("privacy.err-date")
        }
    };
    let (from, to) = (day(from)?, day(to)?);
    if let (Some(f), Some(t)) = (from, to) {
        if t < f {
            return Err("privacy.err-period");
        }
    }
    Ok((from, to))
}

async fn audit(
    State(state): State<AppState>,
    portal: Portal,
    Query(q): Query<AuditQuery>,
) -> Response {
    let result = async {
        officer(&portal)?;
        let c = portal.chrome("privacy.audit-title");
        let lang = c.lang;
        let mut page = audit_page(
            c,
            q.patient.trim(),
            q.user.trim(),
            q.from.trim(),
            q.to.trim(),
        );
        let mut filter = Filter::default();
        if !page.patient.is_empty() {
            if ResourceId::parse(&page.patient).is_err() {
                return Ok(bad_filter(page, lang.text("privacy.err-patient")));
            }
            filter.patient = Some(page.patient.clone());
        }
        if !page.user.is_empty() {
            if page.user.len() > 200 {
                return Ok(bad_filter(page, lang.text("privacy.err-user")));
            }
            filter.user = Some(page.user.clone());
        }
        match dates(&page.from, &page.to) {
            Ok((f, t)) => {
                filter.from = f;
                filter.to = t;
            }
            Err(key) => return Ok(bad_filter(page, lang.text(key))),
        }
        let number = q
            .page
            .trim()
            .parse::<usize>()
            .unwrap_or(1)
            .clamp(1, MAX_PAGE);
        let shown = number * PAGE_SIZE;
        let events = state
            .vault
            .audit_search(
                portal.principal(),
                &AuditFilter {
                    patient_id: filter.patient.clone(),
                    user_id: filter.user.clone(),
                    since: filter.from.map(|d| rfc3339(day_start_utc(d))),
                    until: filter.to.and_then(|d| {
                        d.next_day()
                            .map(|n| rfc3339(day_start_utc(n) - Duration::milliseconds(1)))
                    }),
                    limit: i64::try_from(shown + 1).unwrap_or(i64::MAX),
                },
            )
            .await
            .map_err(PortalError::from_vault)?;
        let skip = shown - PAGE_SIZE;
        page.rows = events
            .iter()
            .skip(skip)
            .take(PAGE_SIZE)
            .map(|e| audit_row(lang, e))
            .collect();
        name_organisations(
            &state,
            page.rows.iter_mut().map(|r| &mut r.organisation).collect(),
        )
        .await;
        page.first = skip + 1;
        page.last = skip + page.rows.len();
        if number > 1 {
            page.newer = filter.query(number - 1);
        }
        if events.len() > shown && number < MAX_PAGE {
            page.older = filter.query(number + 1);
        }
        page.filtered = filter.patient.is_some()
            || filter.user.is_some()
            || filter.from.is_some()
            || filter.to.is_some();
        page.from = filter.from.map(|d| d.to_string()).unwrap_or_default();
        page.to = filter.to.map(|d| d.to_string()).unwrap_or_default();
        page.searched = true;
        Ok(render(&page))
    }
    .await;
    page_or_error(&portal, result)
}

/// The search form: a BSN becomes the patient's id, a login the account id, through the
/// vault (audited); then the results page, by GET with only pseudonymous ids in its URL.
async fn audit_filter(
    State(state): State<AppState>,
    portal: Portal,
    Form(form): Form<AuditForm>,
) -> Response {
    let result = async {
        portal.check_csrf(&state, &form.csrf)?;
        officer(&portal)?;
        let c = portal.chrome("privacy.audit-title");
        let lang = c.lang;
        let patient_in = form.patient.trim();
        let is_number = !patient_in.is_empty() && patient_in.bytes().all(|b| b.is_ascii_digit());
        // A BSN is never shown back in the form.
        let page = audit_page(
            c,
            if is_number { "" } else { patient_in },
            form.user.trim(),
            form.from.trim(),
            form.to.trim(),
        );
        let mut filter = Filter::default();
        if is_number {
            let Ok(bsn) = Bsn::parse(patient_in) else {
                return Ok(bad_filter(page, lang.text("privacy.err-bsn")));
            };
            let ids = state
                .vault
                .audit_patients_by_identifier(portal.principal(), BSN_SYSTEM, bsn.expose())
                .await
                .map_err(PortalError::from_vault)?;
            match ids.as_slice() {
                [] => return Ok(bad_filter(page, lang.text("privacy.err-bsn-unknown"))),
                [one] => filter.patient = Some(one.clone()),
                many => {
                    let text = format!("{} {}", lang.text("privacy.err-bsn-many"), many.join(", "));
                    return Ok(bad_filter(page, &text));
                }
            }
        } else if !patient_in.is_empty() {
            if ResourceId::parse(patient_in).is_err() {
                return Ok(bad_filter(page, lang.text("privacy.err-patient")));
            }
            filter.patient = Some(patient_in.to_owned());
        }
        let user_in = form.user.trim();
        if !user_in.is_empty() {
            if user_in.len() > 200 {
                return Ok(bad_filter(page, lang.text("privacy.err-user")));
            }
            if is_account_id(user_in) {
                filter.user = Some(user_in.to_owned());
            } else {
                match state
                    .vault
                    .audit_user_by_login(portal.principal(), user_in)
                    .await
                    .map_err(PortalError::from_vault)?
                {
                    Some(id) => filter.user = Some(id),
                    None => return Ok(bad_filter(page, lang.text("privacy.err-user"))),
                }
            }
        }
        match dates(&form.from, &form.to) {
            Ok((f, t)) => {
                filter.from = f;
                filter.to = t;
            }
            Err(key) => return Ok(bad_filter(page, lang.text(key))),
        }
        Ok(see_other(&filter.query(1)))
    }
    .await;
    page_or_error(&portal, result)
}

// ---------------------------------------------------------------------------------------
// The review of emergency accesses.

struct ReviewCard {
    id: String,
    action: String,
    field: String,
    who: String,
    who_href: String,
    role: String,
    organisation: String,
    patient: String,
    patient_href: String,
    reason: String,
    started: String,
    until: String,
    in_force: bool,
    accessed: Vec<AuditRow>,
    reviewer: String,
    reviewed_at: String,
    remark: String,
}

fn person_parts(lang: Lang, p: &ReviewPerson) -> (String, String, String) {
    (
        person_name(p.name.as_deref(), &p.user_id),
        p.role
            .as_deref()
            .map(|r| role_text(lang, r))
            .unwrap_or_default(),
        p.organisation.clone().unwrap_or_default(),
    )
}

fn review_card(lang: Lang, now: &str, r: &EmergencyReview) -> ReviewCard {
    let (who, role, organisation) = person_parts(lang, &r.actor);
    let (reviewer, reviewed_at, remark) = match &r.review {
        Some(done) => {
            let (name, role, _) = person_parts(lang, &done.reviewer);
            (
                if role.is_empty() {
                    name
                } else {
                    format!("{name} ({role})")
                },
                local_time(&done.at, false),
                done.remark.clone(),
            )
        }
        None => Default::default(),
    };
    ReviewCard {
        action: format!("/privacy-officer/review/{}", urlencode(&r.id)),
        field: format!("remark-{}", r.id),
        id: r.id.clone(),
        who_href: format!(
            "/privacy-officer/audit?user={}",
            urlencode(&r.actor.user_id)
        ),
        who,
        role,
        organisation,
        patient_href: format!(
            "/privacy-officer/audit?patient={}",
            urlencode(&r.patient_id)
        ),
        patient: r.patient_id.clone(),
        reason: r.reason.clone(),
        started: local_time(&r.started_at, false),
        until: local_time(&r.until, false),
        // Fixed-width RFC 3339 UTC text orders as time.
        in_force: r.until.as_str() > now,
        accessed: r.accessed.iter().map(|e| audit_row(lang, e)).collect(),
        reviewer,
        reviewed_at,
        remark,
    }
}

#[derive(Template)]
#[template(path = "privacy/review.html")]
struct ReviewPage {
    c: Chrome,
    open: Vec<ReviewCard>,
    reviewed: Vec<ReviewCard>,
    /// The card whose form had a problem, and the remark typed there.
    failed: String,
    typed: String,
}

#[derive(Deserialize, Default)]
struct DoneQuery {
    #[serde(default)]
    done: String,
}

#[derive(Deserialize, Default)]
struct ReviewForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    remark: String,
}

async fn review_page(
    state: &AppState,
    portal: &Portal,
    mut c: Chrome,
) -> Result<ReviewPage, PortalError> {
    let reviews = state
        .vault
        .emergency_reviews(portal.principal(), REVIEWED_SHOWN)
        .await
        .map_err(PortalError::from_vault)?;
    let now = rfc3339(state.vault.now());
    let lang = c.lang;
    c.title = lang.text("privacy.review-title").to_owned();
    let mut open: Vec<ReviewCard> = reviews
        .open
        .iter()
        .map(|r| review_card(lang, &now, r))
        .collect();
    let mut reviewed: Vec<ReviewCard> = reviews
        .reviewed
        .iter()
        .map(|r| review_card(lang, &now, r))
        .collect();
    name_organisations(
        state,
        open.iter_mut()
            .chain(reviewed.iter_mut())
            .map(|r| &mut r.organisation)
            .collect(),
    )
    .await;
    Ok(ReviewPage {
        open,
        reviewed,
        c,
        failed: String::new(),
        typed: String::new(),
    })
}

async fn review_queue(
    State(state): State<AppState>,
    portal: Portal,
    Query(q): Query<DoneQuery>,
) -> Response {
    let result = async {
        officer(&portal)?;
        let mut c = portal.chrome("privacy.review-title");
        if q.done == "reviewed" {
            c.flash = Some(c.t("privacy.reviewed-flash").to_owned());
        }
        Ok(render(&review_page(&state, &portal, c).await?))
    }
    .await;
    page_or_error(&portal, result)
}

async fn review_done(
    State(state): State<AppState>,
    portal: Portal,
    Path(id): Path<String>,
    Form(form): Form<ReviewForm>,
) -> Response {
    let result = async {
        portal.check_csrf(&state, &form.csrf)?;
        officer(&portal)?;
        let lang = portal.lang;
        let remark = form.remark.trim();
        let problem = if remark.is_empty() {
            Some("privacy.err-remark")
        } else if remark.chars().count() > zorgkluis_vault::review::MAX_REVIEW_REMARK {
            Some("privacy.err-remark-long")
        } else {
            None
        };
        if let Some(key) = problem {
            let mut c = portal.chrome("privacy.review-title");
            c.error = Some(lang.text(key).to_owned());
            let mut page = review_page(&state, &portal, c).await?;
            page.failed = id.clone();
            page.typed = remark.to_owned();
            let mut r = render(&page);
            *r.status_mut() = StatusCode::BAD_REQUEST;
            return Ok(r);
        }
        match state
            .vault
            .review_emergency(portal.principal(), &id, remark)
            .await
        {
            Ok(()) => Ok(see_other("/privacy-officer/review?done=reviewed")),
            Err(VaultError::NotFound) => Err(PortalError::BadRequest(
                lang.text("privacy.err-already-reviewed").to_owned(),
            )),
            Err(VaultError::Invalid(_)) => Err(PortalError::BadRequest(
                lang.text("privacy.err-remark").to_owned(),
            )),
            Err(e) => Err(PortalError::from_vault(e)),
        }
    }
    .await;
    page_or_error(&portal, result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    #[test]
    fn dutch_local_time_follows_summer_time() {
        assert_eq!(
            local_time("2026-11-23T09:00:00.000Z", false),
            "23-11-2026 10:00"
        );
        assert_eq!(
            local_time("2026-07-01T09:00:05.000Z", true),
            "01-07-2026 11:00:05"
        );
        // 2026: summer time from 29 March 01:00 UTC to 25 October 01:00 UTC.
        assert_eq!(
            local_time("2026-03-29T00:59:00Z", false),
            "29-03-2026 01:59"
        );
        assert_eq!(
            local_time("2026-03-29T01:00:00Z", false),
            "29-03-2026 03:00"
        );
        assert_eq!(
            local_time("2026-10-25T00:59:00Z", false),
            "25-10-2026 02:59"
        );
        assert_eq!(
            local_time("2026-10-25T01:00:00Z", false),
            "25-10-2026 02:00"
        );
        assert_eq!(local_time("not a time", false), "not a time");
        assert_eq!(
            day_start_utc(date!(2026 - 11 - 23)),
            datetime!(2026-11-22 23:00 UTC)
        );
        assert_eq!(
            day_start_utc(date!(2026 - 07 - 01)),
            datetime!(2026-06-30 22:00 UTC)
        );
    }

    #[test]
    fn account_ids_are_told_from_logins() {
        assert!(is_account_id("5f0c6a1e-7b1d-4c1a-9a55-0e4b7f1c2d3e"));
        assert!(is_account_id("system:generate"));
        assert!(is_account_id("client:abc"));
        assert!(!is_account_id("huisarts.jansen"));
        assert!(!is_account_id("5f0c6a1e7b1d4c1a9a550e4b7f1c2d3e0000"));
    }
}
