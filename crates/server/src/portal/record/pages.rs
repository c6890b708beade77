//! The patient's pages: overview, choosing whom a representative acts for, the record,
//! results with a chart per test, and documents with leaflets. The page builders here
//! are shared with the staff view of the same record.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::header::SET_COOKIE;
use axum::http::HeaderValue;
use axum::response::Response;
use axum::Form;
use base64::Engine;
use serde::Deserialize;
use serde_json::Value;
use zorgkluis_vault::{Principal, Stored};

use super::data::Loader;
use super::leaflets::{self, Shown};
use super::results::{self, Flag, Kind, Test};
use super::view::{self, concept_in, in_nl, RecordView, Subject};
use crate::i18n::Lang;
use crate::portal::fhirtext::{date_text, str_at};
use crate::portal::{
    page_or_error, render, see_other, today, Chrome, Portal, PortalError, ACTING_COOKIE,
};
use crate::AppState;

/// `?done=<what>` after a form: the confirmation to show.
#[derive(Deserialize, Default)]
pub(super) struct Done {
    #[serde(default)]
    pub done: String,
}

impl Done {
    /// The translated confirmation, if any.
    pub(super) fn flash(&self, lang: Lang) -> Option<String> {
        view::coded(lang, "done", &self.done).map(str::to_owned)
    }
}

/// The title of a patient page: "My record" for the patient, "Record of Sanne" for a
/// representative.
pub(super) fn own_title(portal: &Portal, c: &mut Chrome, of_key: &str, subject: &Subject) {
    if matches!(portal.principal(), Principal::Representative { .. }) {
        c.title = format!("{} {}", portal.lang.text(of_key), subject.name);
    }
}

/// The patient of a patient page: reads the Patient (the gate), and names them in the
/// frame (the representative's banner).
pub(super) async fn patient_subject(
    state: &AppState,
    portal: &mut Portal,
) -> Result<(Subject, Stored), PortalError> {
    let patient_id = portal.patient_id()?;
    let stored = Loader::new(state, portal.principal(), &patient_id)
        .patient()
        .await?;
    let subject = Subject::of(&stored, today(state));
    portal.set_patient_name(&subject.id, &subject.name);
    Ok((subject, stored))
}

// ---------------------------------------------------------------------------------------
// Overview.

struct Card {
    href: &'static str,
    title: &'static str,
    text: String,
    attention: bool,
}

#[derive(Template)]
#[template(path = "record/overview.html")]
struct OverviewPage {
    c: Chrome,
    subject: Subject,
    greeting: &'static str,
    representative: bool,
    cards: Vec<Card>,
}

pub(super) async fn overview(State(state): State<AppState>, mut portal: Portal) -> Response {
    let result = overview_page(&state, &mut portal).await;
    page_or_error(&portal, result)
}

async fn overview_page(state: &AppState, portal: &mut Portal) -> Result<Response, PortalError> {
    let (subject, _) = patient_subject(state, portal).await?;
    let lang = portal.lang;
    let t = |k: &str| lang.text(k);
    let loader = Loader::new(state, portal.principal(), &subject.id);
    let conditions = loader
        .count("Condition", &[("clinical-status", "active")])
        .await?;
    let statements = loader
        .count("MedicationStatement", &[("status", "active")])
        .await?;
    let labs = loader
        .search("Observation", &[("category", "laboratory")])
        .await?;
    let tests = results::group(lang, &labs);
    let flagged = tests
        .iter()
        .filter(|t| t.latest().is_some_and(|p| p.flag != Flag::None))
        .count();
    let latest = tests
        .iter()
        .filter_map(|t| t.latest().map(|p| (p.date, t, p)))
        .max_by_key(|(d, _, _)| *d);
    let documents = loader.count("DocumentReference", &[]).await?;
    let now = state.vault.now();
    let today_text = view::iso_day(today(state));
    let appointments = loader
        .search(
            "Appointment",
            &[("date", &format!("ge{today_text}")), ("_sort", "date")],
        )
        .await
        .unwrap_or_default();
    let next = appointments
        .iter()
        .filter_map(|s| s.resource.as_ref())
        .find(|r| {
            matches!(
                str_at(r, "/status"),
                Some("booked" | "pending" | "proposed" | "arrived" | "checked-in")
            )
        })
        .map(|r| date_text(str_at(r, "/start")));

    let record_text = format!(
        "{} {conditions} · {} {statements}",
        t("record.card-conditions"),
        t("record.card-medicines"),
    );
    let results_text = match latest {
        Some((date, test, point)) => {
            let day = date.map_or_else(|| point.date_text.clone(), view::day_text);
            let flag = if point.flag_text.is_empty() {
                String::new()
            } else {
                format!(" ({})", point.flag_text)
            };
            format!(
                "{} {day}: {} {}{flag}",
                t("record.card-latest-result"),
                test.name,
                point.value
            )
        }
        None => t("record.card-no-results").to_owned(),
    };
    let cards = vec![
        Card {
            href: "/patient/record",
            title: "common.nav-record",
            text: record_text,
            attention: false,
        },
        Card {
            href: "/patient/results",
            title: "common.nav-results",
            text: if flagged > 0 {
                format!("{results_text} · {flagged} {}", t("record.card-flagged"))
            } else {
                results_text
            },
            attention: flagged > 0,
        },
        Card {
            href: "/patient/documents",
            title: "record.documents-title",
            text: format!(
                "{} {documents}. {}",
                t("record.card-documents"),
                t("record.card-leaflets")
            ),
            attention: false,
        },
        Card {
            href: "/patient/appointments",
            title: "common.nav-appointments",
            text: match next {
                Some(when) => format!("{} {when}", t("record.card-next-appointment")),
                None => t("record.card-no-appointment").to_owned(),
            },
            attention: false,
        },
        Card {
            href: "/patient/messages",
            title: "common.nav-messages",
            text: t("record.card-messages").to_owned(),
            attention: false,
        },
        Card {
            href: "/patient/log",
            title: "common.nav-log",
            text: t("record.card-log").to_owned(),
            attention: false,
        },
        Card {
            href: "/patient/access-log",
            title: "common.nav-access-log",
            text: t("record.card-access-log").to_owned(),
            attention: false,
        },
        Card {
            href: "/patient/details",
            title: "common.nav-details",
            text: t("record.card-details").to_owned(),
            attention: false,
        },
    ];
    let hour = in_nl(now).hour();
    let greeting = match hour {
        0..=5 => "record.greeting-evening",
        6..=11 => "record.greeting-morning",
        12..=17 => "record.greeting-afternoon",
        _ => "record.greeting-evening",
    };
    let representative = matches!(portal.principal(), Principal::Representative { .. });
    let mut c = portal.chrome("record.overview-title");
    c.title = subject.name.clone();
    Ok(render(&OverviewPage {
        c,
        subject,
        greeting,
        representative,
        cards,
    }))
}

// ---------------------------------------------------------------------------------------
// Acting for someone.

struct Person {
    id: String,
    name: String,
    current: bool,
}

#[derive(Template)]
#[template(path = "record/act_for.html")]
struct ActForPage {
    c: Chrome,
    people: Vec<Person>,
}

pub(super) async fn act_for_form(State(state): State<AppState>, mut portal: Portal) -> Response {
    let result = act_for_page(&state, &mut portal).await;
    page_or_error(&portal, result)
}

async fn act_for_page(state: &AppState, portal: &mut Portal) -> Result<Response, PortalError> {
    let Principal::Representative { represents, .. } = portal.principal().clone() else {
        return Err(PortalError::Forbidden);
    };
    let current = portal.patient_id()?;
    let mut people = Vec::new();
    for (patient_id, _) in &represents {
        let stored = Loader::new(state, portal.principal(), patient_id)
            .patient()
            .await;
        let name = match stored {
            Ok(s) => Subject::of(&s, today(state)).name,
            Err(PortalError::Forbidden | PortalError::NotFound) => {
                portal.lang.text("record.act-for-no-access").to_owned()
            }
            Err(e) => return Err(e),
        };
        portal.set_patient_name(patient_id, &name);
        people.push(Person {
            id: patient_id.clone(),
            name,
            current: *patient_id == current,
        });
    }
    let c = portal.chrome("common.choose-person");
    Ok(render(&ActForPage { c, people }))
}

#[derive(Deserialize)]
pub(super) struct ActForForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    patient: String,
}

pub(super) async fn act_for(
    State(state): State<AppState>,
    portal: Portal,
    Form(form): Form<ActForForm>,
) -> Response {
    let result = (|| {
        portal.check_csrf(&state, &form.csrf)?;
        let Principal::Representative { represents, .. } = portal.principal() else {
            return Err(PortalError::Forbidden);
        };
        if !represents.iter().any(|(p, _)| *p == form.patient) {
            return Err(PortalError::Forbidden);
        }
        let mut response = see_other("/patient");
        let cookie = HeaderValue::from_str(&format!(
            "{ACTING_COOKIE}={}; Path=/; HttpOnly; Secure; SameSite=Strict",
            form.patient
        ))
        .map_err(|_| PortalError::Forbidden)?;
        response.headers_mut().append(SET_COOKIE, cookie);
        Ok(response)
    })();
    page_or_error(&portal, result)
}

// ---------------------------------------------------------------------------------------
// The record.

#[derive(Template)]
#[template(path = "record/record.html")]
struct RecordPage {
    c: Chrome,
    subject: Subject,
    view: RecordView,
    /// For staff: the base path of links to edit and history; `None` for the patient.
    staff_base: Option<String>,
    /// For staff: whether conditions may be changed (the edit links).
    may_change_conditions: bool,
}

pub(super) async fn record(State(state): State<AppState>, mut portal: Portal) -> Response {
    let result = record_page(&state, &mut portal).await;
    page_or_error(&portal, result)
}

async fn record_page(state: &AppState, portal: &mut Portal) -> Result<Response, PortalError> {
    let (subject, _) = patient_subject(state, portal).await?;
    let mut loader = Loader::new(state, portal.principal(), &subject.id);
    let view = view::record_view(portal.lang, &mut loader, None, today(state)).await?;
    let mut c = portal.chrome("record.record-title");
    own_title(portal, &mut c, "record.record-of", &subject);
    Ok(render(&RecordPage {
        c,
        subject,
        view,
        staff_base: None,
        may_change_conditions: false,
    }))
}

// ---------------------------------------------------------------------------------------
// Results.

/// One line of the results overview.
pub(super) struct ResultRow {
    pub href: String,
    pub name: String,
    pub value: String,
    pub date: String,
    pub flag_text: String,
    pub flag_class: &'static str,
    pub count: usize,
}

/// The results overview, per test.
pub(super) struct ResultsList {
    pub labs: Vec<ResultRow>,
    pub measurements: Vec<ResultRow>,
}

impl ResultsList {
    pub(super) fn is_empty(&self) -> bool {
        self.labs.is_empty() && self.measurements.is_empty()
    }
}

/// Loads the results and lists them per test; links go to `<base>/<test key>`.
pub(super) async fn results_list(
    lang: Lang,
    loader: &Loader<'_>,
    base: &str,
) -> Result<ResultsList, PortalError> {
    let observations = loader.search("Observation", &[]).await?;
    let tests = results::group(lang, &observations);
    let row = |t: &Test| {
        let latest = t.latest();
        ResultRow {
            href: format!("{base}/{}", t.key),
            name: t.name.clone(),
            value: latest.map(|p| p.value.clone()).unwrap_or_default(),
            date: latest.map(|p| p.date_text.clone()).unwrap_or_default(),
            flag_text: latest.map(|p| p.flag_text.clone()).unwrap_or_default(),
            flag_class: latest.map_or("", |p| p.flag.class()),
            count: t.count(),
        }
    };
    Ok(ResultsList {
        labs: tests
            .iter()
            .filter(|t| t.kind == Kind::Lab)
            .map(row)
            .collect(),
        measurements: tests
            .iter()
            .filter(|t| t.kind == Kind::Measurement)
            .map(row)
            .collect(),
    })
}

#[derive(Template)]
#[template(path = "record/results.html")]
struct ResultsPage {
    c: Chrome,
    list: ResultsList,
}

pub(super) async fn results(State(state): State<AppState>, mut portal: Portal) -> Response {
    let result = results_page(&state, &mut portal).await;
    page_or_error(&portal, result)
}

async fn results_page(state: &AppState, portal: &mut Portal) -> Result<Response, PortalError> {
    let (subject, _) = patient_subject(state, portal).await?;
    let loader = Loader::new(state, portal.principal(), &subject.id);
    let list = results_list(portal.lang, &loader, "/patient/results").await?;
    let c = portal.chrome("record.results-title");
    Ok(render(&ResultsPage { c, list }))
}

/// One value in the table of a test.
pub(super) struct PointRow {
    pub date: String,
    pub value: String,
    pub range: String,
    pub flag_text: String,
    pub flag_class: &'static str,
    /// For staff: the history of this value.
    pub history: Option<String>,
}

#[derive(Template)]
#[template(path = "record/test.html")]
pub(super) struct TestPage {
    pub c: Chrome,
    pub subject: Subject,
    pub name: String,
    pub unit: String,
    pub range: String,
    pub svg: Option<String>,
    pub points: Vec<PointRow>,
    pub back: String,
    pub staff: bool,
}

/// The page of one test: chart and table. `staff_base` adds history links.
pub(super) async fn test_page(
    lang: Lang,
    loader: &Loader<'_>,
    key: &str,
    staff_base: Option<&str>,
) -> Result<(String, String, String, Option<String>, Vec<PointRow>), PortalError> {
    let observations = loader.search("Observation", &[]).await?;
    let tests = results::group(lang, &observations);
    // A key that is not one of this patient's tests answers as a refusal, as the vault
    // does for an id it will not show: a URL never tells what exists elsewhere.
    let test = tests
        .into_iter()
        .find(|t| t.key == key)
        .ok_or(PortalError::Forbidden)?;
    let svg = test.chart();
    let points = test
        .points
        .iter()
        .map(|p| PointRow {
            date: p.date_text.clone(),
            value: p.value.clone(),
            range: p.range.clone(),
            flag_text: p.flag_text.clone(),
            flag_class: p.flag.class(),
            history: staff_base.map(|b| format!("{b}/Observation/{}/history", p.id)),
        })
        .collect();
    Ok((
        test.name.clone(),
        test.unit.clone(),
        test.range_text(),
        svg,
        points,
    ))
}

pub(super) async fn test(
    State(state): State<AppState>,
    mut portal: Portal,
    Path(key): Path<String>,
) -> Response {
    let result = patient_test(&state, &mut portal, &key).await;
    page_or_error(&portal, result)
}

async fn patient_test(
    state: &AppState,
    portal: &mut Portal,
    key: &str,
) -> Result<Response, PortalError> {
    let (subject, _) = patient_subject(state, portal).await?;
    let loader = Loader::new(state, portal.principal(), &subject.id);
    let (name, unit, range, svg, points) = test_page(portal.lang, &loader, key, None).await?;
    let mut c = portal.chrome("record.results-title");
    c.title.clone_from(&name);
    Ok(render(&TestPage {
        c,
        subject,
        name,
        unit,
        range,
        svg,
        points,
        back: "/patient/results".into(),
        staff: false,
    }))
}

// ---------------------------------------------------------------------------------------
// Documents and leaflets.

/// A document (consult report, letter).
pub(super) struct DocumentRow {
    pub title: String,
    pub date: String,
    pub author: String,
    pub organisation: String,
    /// The text, when it is plain text stored in the record.
    pub text: Option<String>,
}

/// A report's conclusion (lab, imaging).
pub(super) struct ReportRow {
    pub name: String,
    pub date: String,
    pub conclusion: String,
    pub by: String,
}

/// Longest document text shown on the page.
const MAX_TEXT: usize = 20_000;

fn attachment_text(r: &Value) -> Option<String> {
    let attachments = r.get("content").and_then(Value::as_array)?;
    attachments.iter().find_map(|c| {
        let a = c.get("attachment")?;
        let kind = str_at(a, "/contentType").unwrap_or("");
        if !kind.starts_with("text/plain") {
            return None;
        }
        let data = str_at(a, "/data")?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(data)
            .ok()?;
        let text = String::from_utf8_lossy(&bytes);
        Some(text.chars().take(MAX_TEXT).collect())
    })
}

#[derive(Template)]
#[template(path = "record/documents.html")]
struct DocumentsPage {
    c: Chrome,
    documents: Vec<DocumentRow>,
    reports: Vec<ReportRow>,
    leaflets: Vec<Shown>,
    dutch: bool,
}

pub(super) async fn documents(State(state): State<AppState>, mut portal: Portal) -> Response {
    let result = documents_page(&state, &mut portal).await;
    page_or_error(&portal, result)
}

/// Documents and report conclusions, newest first.
pub(super) async fn documents_and_reports(
    lang: Lang,
    loader: &mut Loader<'_>,
) -> Result<(Vec<DocumentRow>, Vec<ReportRow>), PortalError> {
    let mut docs: Vec<Stored> = loader.search("DocumentReference", &[]).await?;
    docs.retain(|s| {
        s.resource
            .as_ref()
            .is_some_and(|r| str_at(r, "/status") != Some("entered-in-error"))
    });
    docs.sort_by_key(|s| {
        std::cmp::Reverse(
            s.resource
                .as_ref()
                .map(|r| view::sort_key(r, &["/date", "/context/period/start"]))
                .unwrap_or_default(),
        )
    });
    let mut documents = Vec::new();
    for r in docs.iter().filter_map(|s| s.resource.as_ref()) {
        let title = str_at(r, "/description")
            .map(str::to_owned)
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| concept_in(lang, r.get("type")));
        documents.push(DocumentRow {
            title,
            date: date_text(str_at(r, "/date").or(str_at(r, "/context/period/start"))),
            author: loader.display(r.pointer("/author/0")).await,
            organisation: loader.display(r.get("custodian")).await,
            text: attachment_text(r),
        });
    }
    let mut list = loader.search("DiagnosticReport", &[]).await?;
    list.sort_by_key(|s| {
        std::cmp::Reverse(
            s.resource
                .as_ref()
                .map(|r| view::sort_key(r, &["/effectiveDateTime", "/issued"]))
                .unwrap_or_default(),
        )
    });
    let mut reports = Vec::new();
    for r in list.iter().filter_map(|s| s.resource.as_ref()) {
        if matches!(
            str_at(r, "/status"),
            Some("entered-in-error" | "cancelled" | "registered")
        ) {
            continue;
        }
        let mut by = loader.display(r.pointer("/resultsInterpreter/0")).await;
        if by.is_empty() {
            by = loader.display(r.pointer("/performer/0")).await;
        }
        reports.push(ReportRow {
            name: concept_in(lang, r.get("code")),
            date: date_text(str_at(r, "/effectiveDateTime").or(str_at(r, "/issued"))),
            conclusion: str_at(r, "/conclusion").unwrap_or("").to_owned(),
            by,
        });
    }
    Ok((documents, reports))
}

/// A leaflet per distinct condition (current ones first).
pub(super) fn leaflets_for(lang: Lang, conditions: &[Stored]) -> Vec<Shown> {
    let rows = view::conditions(lang, conditions);
    let mut shown: Vec<Shown> = Vec::new();
    for row in rows {
        let code = conditions
            .iter()
            .find(|s| s.id == row.id)
            .and_then(|s| s.resource.as_ref())
            .and_then(|r| r.get("code"));
        let leaflet = leaflets::for_condition(lang, &row.name, row.current, code);
        let duplicate = shown.iter().any(|s| {
            s.condition == leaflet.condition || (s.title.is_some() && s.title == leaflet.title)
        });
        if !duplicate {
            shown.push(leaflet);
        }
    }
    shown
}

async fn documents_page(state: &AppState, portal: &mut Portal) -> Result<Response, PortalError> {
    let (subject, _) = patient_subject(state, portal).await?;
    let lang = portal.lang;
    let mut loader = Loader::new(state, portal.principal(), &subject.id);
    let (documents, reports) = documents_and_reports(lang, &mut loader).await?;
    let conditions = loader.search("Condition", &[]).await?;
    let leaflets = leaflets_for(lang, &conditions);
    let c = portal.chrome("record.documents-title");
    Ok(render(&DocumentsPage {
        c,
        documents,
        reports,
        leaflets,
        dutch: lang == Lang::Nl,
    }))
}
