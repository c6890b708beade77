//! The record for care staff: the same view as the patient's (the vault decides what is
//! shown; sections outside the user's rights say so), result charts, and data entry
//! within the user's rights (GP-7, CO-8): new conditions, new measurements, changing a
//! condition. Every change is a new version that names its author; the history of a
//! resource lists the versions with dates and authors. Without a treatment relationship
//! the page is a refusal that offers the emergency procedure (break-the-glass).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use serde::Deserialize;
use serde_json::{json, Number, Value};
use time::Date;
use zorgkluis_policy::{Category, Staff};
use zorgkluis_vault::{Principal, Stored, VaultError};

use super::data::Loader;
use super::pages::{
    documents_and_reports, results_list, test_page, DocumentRow, Done, PointRow, ReportRow,
    ResultsList, TestPage,
};
use super::view::{
    self, coded, concept_in, day_text, first_code, iso_day, local_datetime, RecordView, Subject,
};
use crate::i18n::Lang;
use crate::portal::fhirtext::{parse_date, str_at};
use crate::portal::{render, see_other, today, urlencode, Chrome, Portal, PortalError};
use crate::AppState;

const CLINICAL_STATUS: &str = "http://terminology.hl7.org/CodeSystem/condition-clinical";
const VERIFICATION_STATUS: &str = "http://terminology.hl7.org/CodeSystem/condition-ver-status";
const OBSERVATION_CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/observation-category";
const INTERPRETATION: &str = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation";
const UCUM: &str = "http://unitsofmeasure.org";

/// Clinical statuses a condition can be given here.
const STATUSES: [&str; 4] = ["active", "remission", "inactive", "resolved"];

/// A page result that may be the refusal with the emergency procedure.
enum StaffError {
    /// No access to this patient: the refusal page with the break-the-glass link.
    NoRelationship(String),
    Other(PortalError),
}

impl From<PortalError> for StaffError {
    fn from(e: PortalError) -> Self {
        Self::Other(e)
    }
}

#[derive(Template)]
#[template(path = "record/refused.html")]
struct RefusedPage {
    c: Chrome,
    break_glass: String,
}

fn finish(portal: &Portal, result: Result<Response, StaffError>) -> Response {
    match result {
        Ok(r) => r,
        Err(StaffError::NoRelationship(id)) => {
            let mut c = portal.chrome("common.forbidden-title");
            c.title = c.t("common.forbidden-title").to_owned();
            let mut response = render(&RefusedPage {
                c,
                break_glass: format!("/staff/patients/{}/break-glass", urlencode(&id)),
            });
            *response.status_mut() = StatusCode::FORBIDDEN;
            response
        }
        Err(StaffError::Other(e)) => portal.error_page(e),
    }
}

/// The staff member and the patient of a staff page. The Patient read is the gate: a
/// refusal there is the page with the emergency procedure.
async fn staff_subject(
    state: &AppState,
    portal: &mut Portal,
    id: &str,
) -> Result<(Staff, Subject), StaffError> {
    // Staff first (the confidentiality agreement before anything); anyone else still asks
    // the vault, so an attempt on another patient's record is refused there and audited.
    let staff = match portal.principal() {
        Principal::Staff(_) => Some(portal.staff()?.clone()),
        _ => None,
    };
    let stored = match Loader::new(state, portal.principal(), id).patient().await {
        Ok(s) => s,
        Err(PortalError::Forbidden) if staff.is_some() => {
            return Err(StaffError::NoRelationship(id.to_owned()))
        }
        Err(e) => return Err(e.into()),
    };
    // Staff pages are for staff, also when the record is one's own.
    let Some(staff) = staff else {
        return Err(PortalError::Forbidden.into());
    };
    let subject = Subject::of(&stored, today(state));
    portal.set_patient_name(&subject.id, &subject.name);
    Ok((staff, subject))
}

fn base(id: &str) -> String {
    format!("/staff/patients/{}", urlencode(id))
}

/// The author of a change: the staff member's Practitioner (when known) and name.
fn author(staff: &Staff) -> Value {
    let name = staff
        .actor
        .display
        .clone()
        .unwrap_or_else(|| staff.actor.user_id.clone());
    match &staff.practitioner_id {
        Some(p) => json!({"reference": format!("Practitioner/{p}"), "display": name}),
        None => json!({"display": name}),
    }
}

// ---------------------------------------------------------------------------------------
// The record.

#[derive(Template)]
#[template(path = "record/staff_record.html")]
struct StaffRecordPage {
    c: Chrome,
    subject: Subject,
    view: RecordView,
    staff_base: Option<String>,
    /// The results per test (named `list` for the shared results table).
    list: ResultsList,
    results_withheld: bool,
    documents: Vec<DocumentRow>,
    reports: Vec<ReportRow>,
    documents_withheld: bool,
    may_enter_conditions: bool,
    may_change_conditions: bool,
    may_enter_results: bool,
}

pub(super) async fn record(
    State(state): State<AppState>,
    mut portal: Portal,
    Path(id): Path<String>,
    Query(done): Query<Done>,
) -> Response {
    let result = record_page(&state, &mut portal, &id, &done).await;
    finish(&portal, result)
}

async fn record_page(
    state: &AppState,
    portal: &mut Portal,
    id: &str,
    done: &Done,
) -> Result<Response, StaffError> {
    let (staff, subject) = staff_subject(state, portal, id).await?;
    let lang = portal.lang;
    let read = staff.rights.read;
    let base = base(&subject.id);
    let mut loader = Loader::new(state, portal.principal(), &subject.id);
    let view = view::record_view(lang, &mut loader, Some(read), today(state)).await?;
    let results_withheld = !read.contains(Category::Results);
    let list = if results_withheld {
        ResultsList {
            labs: Vec::new(),
            measurements: Vec::new(),
        }
    } else {
        results_list(lang, &loader, &format!("{base}/results")).await?
    };
    let documents_withheld = !read.contains(Category::Reports);
    let (documents, reports) = if documents_withheld {
        (Vec::new(), Vec::new())
    } else {
        documents_and_reports(lang, &mut loader).await?
    };
    let mut c = portal.chrome("record.staff-record-title");
    c.title = format!("{} · {}", c.t("record.staff-record-title"), subject.name);
    c.flash = done.flash(lang);
    Ok(render(&StaffRecordPage {
        c,
        subject,
        view,
        staff_base: Some(base),
        list,
        results_withheld,
        documents,
        reports,
        documents_withheld,
        may_enter_conditions: staff.rights.enter.contains(Category::Conditions),
        may_change_conditions: staff.rights.change.contains(Category::Conditions),
        may_enter_results: staff.rights.enter.contains(Category::Results),
    }))
}

pub(super) async fn test(
    State(state): State<AppState>,
    mut portal: Portal,
    Path((id, key)): Path<(String, String)>,
    Query(done): Query<Done>,
) -> Response {
    let result = async {
        let (_, subject) = staff_subject(&state, &mut portal, &id).await?;
        let base = base(&subject.id);
        let loader = Loader::new(&state, portal.principal(), &subject.id);
        let (name, unit, range, svg, points): (_, _, _, _, Vec<PointRow>) =
            test_page(portal.lang, &loader, &key, Some(&base)).await?;
        let mut c = portal.chrome("record.results-title");
        c.title = format!("{name} · {}", subject.name);
        c.flash = done.flash(portal.lang);
        Ok(render(&TestPage {
            c,
            subject,
            name,
            unit,
            range,
            svg,
            points,
            back: base,
            staff: true,
        }))
    }
    .await;
    finish(&portal, result)
}

// ---------------------------------------------------------------------------------------
// A new condition.

#[derive(Deserialize, Default, Clone)]
pub(super) struct ConditionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    onset: String,
    #[serde(default)]
    abatement: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    version: String,
}

struct StatusOption {
    code: &'static str,
    text: &'static str,
    selected: bool,
}

fn status_options(lang: Lang, selected: &str) -> Vec<StatusOption> {
    STATUSES
        .iter()
        .map(|code| StatusOption {
            code,
            text: coded(lang, "clinical", code).unwrap_or(code),
            selected: *code == selected,
        })
        .collect()
}

#[derive(Template)]
#[template(path = "record/condition_form.html")]
struct ConditionPage {
    c: Chrome,
    subject: Subject,
    back: String,
    action: String,
    form: ConditionForm,
    statuses: Vec<StatusOption>,
    /// Editing an existing condition (name and code fixed).
    editing: Option<String>,
    today: String,
}

/// A date from a form field (`yyyy-mm-dd`): empty is `None`, wrong or in the future is
/// an error.
fn form_date(lang: Lang, value: &str, today: Date) -> Result<Option<Date>, String> {
    let v = value.trim();
    if v.is_empty() {
        return Ok(None);
    }
    match parse_date(Some(v)) {
        Some(d) if d <= today && v.len() == 10 => Ok(Some(d)),
        Some(_) if v.len() == 10 => Err(lang.text("record.error-date-future").to_owned()),
        _ => Err(lang.text("record.error-date").to_owned()),
    }
}

fn too_long(s: &str, max: usize) -> bool {
    s.chars().count() > max || s.chars().any(|c| c.is_control() && c != '\n' && c != '\r')
}

pub(super) async fn new_condition_form(
    State(state): State<AppState>,
    mut portal: Portal,
    Path(id): Path<String>,
) -> Response {
    let result = async {
        let (staff, subject) = staff_subject(&state, &mut portal, &id).await?;
        if !staff.rights.enter.contains(Category::Conditions) {
            return Err(PortalError::Forbidden.into());
        }
        let form = ConditionForm {
            status: "active".into(),
            ..ConditionForm::default()
        };
        Ok(render(&condition_page(
            &state, &portal, subject, form, None,
        )))
    }
    .await;
    finish(&portal, result)
}

fn condition_page(
    state: &AppState,
    portal: &Portal,
    subject: Subject,
    form: ConditionForm,
    editing: Option<(String, String)>,
) -> ConditionPage {
    let base = base(&subject.id);
    let (title, action, editing) = match editing {
        Some((cid, name)) => (
            "record.edit-condition-title",
            format!("{base}/conditions/{}/edit", urlencode(&cid)),
            Some(name),
        ),
        None => (
            "record.new-condition-title",
            format!("{base}/conditions/new"),
            None,
        ),
    };
    let mut c = portal.chrome(title);
    c.title = format!("{} · {}", c.t(title), subject.name);
    ConditionPage {
        c,
        statuses: status_options(portal.lang, &form.status),
        subject,
        back: base,
        action,
        form,
        editing,
        today: iso_day(today(state)),
    }
}

fn bad_form(mut page: ConditionPage, errors: &[String]) -> Response {
    page.c.error = Some(errors.join(" "));
    let mut response = render(&page);
    *response.status_mut() = StatusCode::BAD_REQUEST;
    response
}

pub(super) async fn new_condition(
    State(state): State<AppState>,
    mut portal: Portal,
    Path(id): Path<String>,
    Form(form): Form<ConditionForm>,
) -> Response {
    let result = async {
        portal.check_csrf(&state, &form.csrf)?;
        let (staff, subject) = staff_subject(&state, &mut portal, &id).await?;
        let lang = portal.lang;
        let today = today(&state);
        let mut errors = Vec::new();
        let name = form.name.split_whitespace().collect::<Vec<_>>().join(" ");
        if name.is_empty() {
            errors.push(lang.text("record.error-condition-name").to_owned());
        } else if too_long(&name, 200) {
            errors.push(lang.text("record.error-too-long").to_owned());
        }
        let code = form.code.trim();
        let snomed_ok = code.chars().all(|c| c.is_ascii_digit()) && (6..=18).contains(&code.len());
        if !code.is_empty() && !snomed_ok {
            errors.push(lang.text("record.error-snomed").to_owned());
        }
        if !STATUSES.contains(&form.status.as_str()) {
            errors.push(lang.text("record.error-status").to_owned());
        }
        let onset = form_date(lang, &form.onset, today).unwrap_or_else(|e| {
            errors.push(e);
            None
        });
        let abatement = form_date(lang, &form.abatement, today).unwrap_or_else(|e| {
            errors.push(e);
            None
        });
        if too_long(&form.note, 2000) {
            errors.push(lang.text("record.error-too-long").to_owned());
        }
        if !errors.is_empty() {
            let page = condition_page(&state, &portal, subject, form.clone(), None);
            return Ok(bad_form(page, &errors));
        }
        let who = author(&staff);
        let mut concept = json!({"text": name});
        if !code.is_empty() {
            concept["coding"] = json!([{"system": "http://snomed.info/sct", "code": code}]);
        }
        let mut condition = json!({
            "resourceType": "Condition",
            "clinicalStatus": {"coding": [{"system": CLINICAL_STATUS, "code": form.status}]},
            "verificationStatus": {"coding": [{"system": VERIFICATION_STATUS, "code": "confirmed"}]},
            "category": [{"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/condition-category",
                "code": "problem-list-item"}]}],
            "code": concept,
            "subject": {"reference": format!("Patient/{}", subject.id)},
            "recordedDate": iso_day(today),
            "recorder": who,
            "asserter": who,
        });
        if let Some(d) = onset {
            condition["onsetDateTime"] = json!(iso_day(d));
        }
        if let Some(d) = abatement.filter(|_| form.status != "active") {
            condition["abatementDateTime"] = json!(iso_day(d));
        }
        let note = form.note.trim();
        if !note.is_empty() {
            condition["note"] = json!([note_of(&state, &who, note)]);
        }
        state
            .vault
            .create(portal.principal(), condition)
            .await
            .map_err(PortalError::from_vault)?;
        Ok(see_other(&format!(
            "{}?done=condition-saved",
            base(&subject.id)
        )))
    }
    .await;
    finish(&portal, result)
}

fn note_of(state: &AppState, who: &Value, text: &str) -> Value {
    let mut note = json!({
        "text": text,
        "time": zorgkluis_domain::clock::rfc3339(state.vault.now()),
    });
    if let Some(r) = who.get("reference") {
        note["authorReference"] = json!({"reference": r, "display": who.get("display")});
    } else if let Some(d) = who.get("display") {
        note["authorString"] = d.clone();
    }
    note
}

// ---------------------------------------------------------------------------------------
// Changing a condition.

pub(super) async fn edit_condition_form(
    State(state): State<AppState>,
    mut portal: Portal,
    Path((id, cid)): Path<(String, String)>,
) -> Response {
    let result = async {
        let (staff, subject) = staff_subject(&state, &mut portal, &id).await?;
        if !staff.rights.change.contains(Category::Conditions) {
            return Err(PortalError::Forbidden.into());
        }
        let loader = Loader::new(&state, portal.principal(), &subject.id);
        let current = loader.read("Condition", &cid).await?;
        let r = current.resource.clone().unwrap_or(Value::Null);
        let form = ConditionForm {
            status: first_code(r.get("clinicalStatus"))
                .unwrap_or("active")
                .to_owned(),
            abatement: str_at(&r, "/abatementDateTime")
                .and_then(|d| d.get(..10))
                .unwrap_or("")
                .to_owned(),
            version: current.version.to_string(),
            ..ConditionForm::default()
        };
        let name = concept_in(portal.lang, r.get("code"));
        Ok(render(&condition_page(
            &state,
            &portal,
            subject,
            form,
            Some((cid.clone(), name)),
        )))
    }
    .await;
    finish(&portal, result)
}

pub(super) async fn edit_condition(
    State(state): State<AppState>,
    mut portal: Portal,
    Path((id, cid)): Path<(String, String)>,
    Form(form): Form<ConditionForm>,
) -> Response {
    let result = async {
        portal.check_csrf(&state, &form.csrf)?;
        let (staff, subject) = staff_subject(&state, &mut portal, &id).await?;
        let lang = portal.lang;
        let today = today(&state);
        let loader = Loader::new(&state, portal.principal(), &subject.id);
        let current = loader.read("Condition", &cid).await?;
        let r = current.resource.clone().unwrap_or(Value::Null);
        let name = concept_in(lang, r.get("code"));
        let mut errors = Vec::new();
        if !STATUSES.contains(&form.status.as_str()) {
            errors.push(lang.text("record.error-status").to_owned());
        }
        let abatement = form_date(lang, &form.abatement, today).unwrap_or_else(|e| {
            errors.push(e);
            None
        });
        if too_long(&form.note, 2000) {
            errors.push(lang.text("record.error-too-long").to_owned());
        }
        let seen: i64 = form.version.trim().parse().unwrap_or(current.version);
        if !errors.is_empty() {
            let page = condition_page(&state, &portal, subject, form.clone(), Some((cid, name)));
            return Ok(bad_form(page, &errors));
        }
        let who = author(&staff);
        let mut updated = r.clone();
        updated["clinicalStatus"] =
            json!({"coding": [{"system": CLINICAL_STATUS, "code": form.status}]});
        if let Some(obj) = updated.as_object_mut() {
            obj.remove("abatementDateTime");
            obj.remove("abatementPeriod");
            obj.remove("abatementString");
            obj.remove("abatementAge");
            obj.remove("abatementRange");
            obj.remove("meta");
        }
        if form.status != "active" {
            if let Some(d) = abatement {
                updated["abatementDateTime"] = json!(iso_day(d));
            }
        }
        let note = form.note.trim();
        if !note.is_empty() {
            let mut notes = updated
                .get("note")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            notes.push(note_of(&state, &who, note));
            updated["note"] = Value::Array(notes);
        }
        let mut before = r.clone();
        if let Some(obj) = before.as_object_mut() {
            obj.remove("meta");
        }
        if updated == before {
            return Ok(see_other(&format!("{}?done=unchanged", base(&subject.id))));
        }
        // This version's author.
        updated["recorder"] = who;
        match state
            .vault
            .update(portal.principal(), "Condition", &cid, updated, Some(seen))
            .await
        {
            Ok(_) => Ok(see_other(&format!(
                "{}?done=condition-changed",
                base(&subject.id)
            ))),
            Err(VaultError::Conflict { .. }) => {
                let page =
                    condition_page(&state, &portal, subject, form.clone(), Some((cid, name)));
                let mut response = bad_form(
                    page,
                    &[lang.text("record.error-changed-meanwhile").to_owned()],
                );
                *response.status_mut() = StatusCode::CONFLICT;
                Ok(response)
            }
            Err(e) => Err(PortalError::from_vault(e).into()),
        }
    }
    .await;
    finish(&portal, result)
}

// ---------------------------------------------------------------------------------------
// A new measurement or lab value.

/// A kind of measurement the form offers: LOINC code, unit, category and the usual
/// reference range. Names are translated (`record.measure-<key>`).
struct MeasureKind {
    key: &'static str,
    loinc: &'static str,
    display: &'static str,
    unit: &'static str,
    lab: bool,
    range: Option<(&'static str, &'static str)>,
}

const fn m(
    key: &'static str,
    loinc: &'static str,
    display: &'static str,
    unit: &'static str,
    lab: bool,
    range: Option<(&'static str, &'static str)>,
) -> MeasureKind {
    MeasureKind {
        key,
        loinc,
        display,
        unit,
        lab,
        range,
    }
}

const KINDS: &[MeasureKind] = &[
    m("blood-pressure", "85354-9", "Blood pressure panel with all children optional", "mm[Hg]", false, None),
    m("weight", "29463-7", "Body weight", "kg", false, None),
    m("height", "8302-2", "Body height", "cm", false, None),
    m("heart-rate", "8867-4", "Heart rate", "/min", false, None),
    m("temperature", "8310-5", "Body temperature", "Cel", false, None),
    m("hba1c", "4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", "mmol/mol", true, Some(("20", "42"))),
    m("glucose", "2339-0", "Glucose [Mass/volume] in Blood", "mmol/L", true, Some(("4.0", "6.1"))),
    m("cholesterol", "2093-3", "Cholesterol [Mass/volume] in Serum or Plasma", "mmol/L", true, Some(("3.0", "5.0"))),
    m("hemoglobin", "718-7", "Hemoglobin [Mass/volume] in Blood", "mmol/L", true, Some(("7.5", "10.5"))),
    m("creatinine", "2160-0", "Creatinine [Mass/volume] in Serum or Plasma", "umol/L", true, Some(("50", "110"))),
    m("egfr", "33914-3", "Glomerular filtration rate/1.73 sq M.predicted [Volume Rate/Area] in Serum or Plasma by Creatinine-based formula (MDRD)", "mL/min/{1.73_m2}", true, Some(("60", "120"))),
    m("potassium", "2823-3", "Potassium [Moles/volume] in Serum or Plasma", "mmol/L", true, Some(("3.5", "5.0"))),
    m("tsh", "3016-3", "Thyrotropin [Units/volume] in Serum or Plasma", "mU/L", true, Some(("0.4", "4.0"))),
];

#[derive(Deserialize, Default, Clone)]
pub(super) struct ObservationForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    unit: String,
    #[serde(default)]
    value: String,
    #[serde(default)]
    date: String,
    #[serde(default)]
    low: String,
    #[serde(default)]
    high: String,
    #[serde(default)]
    note: String,
}

struct KindOption {
    key: &'static str,
    text: String,
    selected: bool,
}

#[derive(Template)]
#[template(path = "record/observation_form.html")]
struct ObservationPage {
    c: Chrome,
    subject: Subject,
    back: String,
    action: String,
    form: ObservationForm,
    kinds: Vec<KindOption>,
    today: String,
}

fn observation_page(
    state: &AppState,
    portal: &Portal,
    subject: Subject,
    form: ObservationForm,
) -> ObservationPage {
    let lang = portal.lang;
    let base = base(&subject.id);
    let mut kinds: Vec<KindOption> = KINDS
        .iter()
        .map(|k| KindOption {
            key: k.key,
            text: format!(
                "{} ({})",
                lang.text(&format!("record.measure-{}", k.key)),
                k.unit
            ),
            selected: form.kind == k.key,
        })
        .collect();
    kinds.push(KindOption {
        key: "other",
        text: lang.text("record.measure-other").to_owned(),
        selected: form.kind == "other",
    });
    let mut c = portal.chrome("record.new-observation-title");
    c.title = format!("{} · {}", c.t("record.new-observation-title"), subject.name);
    ObservationPage {
        c,
        subject,
        action: format!("{base}/observations/new"),
        back: base,
        form,
        kinds,
        today: iso_day(today(state)),
    }
}

pub(super) async fn new_observation_form(
    State(state): State<AppState>,
    mut portal: Portal,
    Path(id): Path<String>,
) -> Response {
    let result = async {
        let (staff, subject) = staff_subject(&state, &mut portal, &id).await?;
        if !staff.rights.enter.contains(Category::Results) {
            return Err(PortalError::Forbidden.into());
        }
        let form = ObservationForm {
            date: iso_day(today(&state)),
            ..ObservationForm::default()
        };
        Ok(render(&observation_page(&state, &portal, subject, form)))
    }
    .await;
    finish(&portal, result)
}

/// A decimal as typed (comma or point), as an exact JSON number; `None` if it is not one.
fn decimal(s: &str) -> Option<(Number, f64)> {
    let t = s.trim().replace(',', ".");
    let ok = !t.is_empty()
        && t.chars().filter(|c| *c == '.').count() <= 1
        && t.chars().all(|c| c.is_ascii_digit() || c == '.')
        && !t.starts_with('.')
        && !t.ends_with('.')
        && t.len() <= 12;
    if !ok {
        return None;
    }
    let x: f64 = t.parse().ok()?;
    let n: Number = serde_json::from_str(&t).ok()?;
    x.is_finite().then_some((n, x))
}

fn quantity(n: Number, unit: &str) -> Value {
    json!({"value": n, "unit": unit, "system": UCUM, "code": unit})
}

fn interpretation(x: f64, low: Option<f64>, high: Option<f64>) -> Option<Value> {
    let code = match (low, high) {
        (Some(l), _) if x < l => "L",
        (_, Some(h)) if x > h => "H",
        _ => return None,
    };
    Some(json!([{"coding": [{"system": INTERPRETATION, "code": code}]}]))
}

pub(super) async fn new_observation(
    State(state): State<AppState>,
    mut portal: Portal,
    Path(id): Path<String>,
    Form(form): Form<ObservationForm>,
) -> Response {
    let result = async {
        portal.check_csrf(&state, &form.csrf)?;
        let (staff, subject) = staff_subject(&state, &mut portal, &id).await?;
        let lang = portal.lang;
        let today = today(&state);
        let mut errors = Vec::new();
        let kind = KINDS.iter().find(|k| k.key == form.kind);
        let other = form.kind == "other";
        if kind.is_none() && !other {
            errors.push(lang.text("record.error-kind").to_owned());
        }
        let name = form.name.split_whitespace().collect::<Vec<_>>().join(" ");
        let unit = form.unit.trim().to_owned();
        if other && name.is_empty() {
            errors.push(lang.text("record.error-measure-name").to_owned());
        }
        if too_long(&name, 200) || too_long(&unit, 40) || too_long(&form.note, 2000) {
            errors.push(lang.text("record.error-too-long").to_owned());
        }
        let date = match form_date(lang, &form.date, today) {
            Ok(d) => d.unwrap_or(today),
            Err(e) => {
                errors.push(e);
                today
            }
        };
        // The value: one number, or "systolic/diastolic" for blood pressure.
        let blood_pressure = kind.is_some_and(|k| k.key == "blood-pressure");
        let values: Option<Vec<(Number, f64)>> = if blood_pressure {
            form.value
                .split_once('/')
                .and_then(|(a, b)| Some(vec![decimal(a)?, decimal(b)?]))
        } else {
            decimal(&form.value).map(|v| vec![v])
        };
        if values.is_none() {
            errors.push(
                lang.text(if blood_pressure {
                    "record.error-blood-pressure"
                } else {
                    "record.error-value"
                })
                .to_owned(),
            );
        }
        let default_range = kind.and_then(|k| k.range);
        let low_text = if form.low.trim().is_empty() {
            default_range.map(|r| r.0).unwrap_or("")
        } else {
            form.low.as_str()
        };
        let high_text = if form.high.trim().is_empty() {
            default_range.map(|r| r.1).unwrap_or("")
        } else {
            form.high.as_str()
        };
        let low = (!low_text.trim().is_empty()).then(|| decimal(low_text));
        let high = (!high_text.trim().is_empty()).then(|| decimal(high_text));
        if matches!(low, Some(None)) || matches!(high, Some(None)) {
            errors.push(lang.text("record.error-range").to_owned());
        }
        let (Some(values), true) = (values, errors.is_empty()) else {
            let page = observation_page(&state, &portal, subject, form.clone());
            let mut page_response = {
                let mut p = page;
                p.c.error = Some(errors.join(" "));
                render(&p)
            };
            *page_response.status_mut() = StatusCode::BAD_REQUEST;
            return Ok(page_response);
        };
        let low = low.flatten();
        let high = high.flatten();
        let who = author(&staff);
        let (code, unit, lab) = match kind {
            Some(k) => (
                json!({
                    "coding": [{"system": "http://loinc.org", "code": k.loinc, "display": k.display}],
                    // The record's own text is Dutch, whatever the language of the page.
                    "text": Lang::Nl.text(&format!("record.measure-{}", k.key)),
                }),
                k.unit.to_owned(),
                k.lab,
            ),
            None => (json!({"text": name}), unit, false),
        };
        let category = match (kind, lab) {
            (None, _) => None,
            (Some(_), true) => Some("laboratory"),
            (Some(_), false) => Some("vital-signs"),
        };
        let mut observation = json!({
            "resourceType": "Observation",
            "status": "final",
            "code": code,
            "subject": {"reference": format!("Patient/{}", subject.id)},
            "effectiveDateTime": iso_day(date),
            "issued": zorgkluis_domain::clock::rfc3339(state.vault.now()),
            "performer": [who.clone()],
        });
        if let Some(category) = category {
            observation["category"] =
                json!([{"coding": [{"system": OBSERVATION_CATEGORY, "code": category}]}]);
        }
        if blood_pressure {
            let names = [("8480-6", "Systolic blood pressure"), ("8462-4", "Diastolic blood pressure")];
            observation["component"] = Value::Array(
                values
                    .iter()
                    .zip(names)
                    .map(|((n, _), (loinc, display))| {
                        json!({
                            "code": {"coding": [{"system": "http://loinc.org", "code": loinc, "display": display}]},
                            "valueQuantity": quantity(n.clone(), &unit),
                        })
                    })
                    .collect(),
            );
        } else if let Some((n, x)) = values.first() {
            observation["valueQuantity"] = quantity(n.clone(), &unit);
            if low.is_some() || high.is_some() {
                let mut range = json!({});
                if let Some((n, _)) = &low {
                    range["low"] = quantity(n.clone(), &unit);
                }
                if let Some((n, _)) = &high {
                    range["high"] = quantity(n.clone(), &unit);
                }
                observation["referenceRange"] = json!([range]);
                if let Some(i) = interpretation(*x, low.map(|l| l.1), high.map(|h| h.1)) {
                    observation["interpretation"] = i;
                }
            }
        }
        if unit.is_empty() {
            if let Some(q) = observation.get_mut("valueQuantity").and_then(Value::as_object_mut) {
                q.remove("unit");
                q.remove("system");
                q.remove("code");
            }
        }
        let note = form.note.trim();
        if !note.is_empty() {
            observation["note"] = json!([note_of(&state, &who, note)]);
        }
        let created = state
            .vault
            .create(portal.principal(), observation)
            .await
            .map_err(PortalError::from_vault)?;
        let key = created
            .resource
            .as_ref()
            .and_then(|r| super::results::test_key(r.get("code")));
        Ok(match key {
            Some(k) => see_other(&format!("{}/results/{k}?done=observation-saved", base(&subject.id))),
            None => see_other(&format!("{}?done=observation-saved", base(&subject.id))),
        })
    }
    .await;
    finish(&portal, result)
}

// ---------------------------------------------------------------------------------------
// History of a resource.

/// Types whose history the record pages link to.
const HISTORY_TYPES: &[&str] = &[
    "Patient",
    "Condition",
    "Observation",
    "AllergyIntolerance",
    "MedicationStatement",
    "MedicationRequest",
    "Immunization",
    "Encounter",
    "DocumentReference",
    "DiagnosticReport",
    "Procedure",
    "CareTeam",
];

struct HistoryRow {
    version: i64,
    date: String,
    author: String,
    summary: String,
    deleted: bool,
}

#[derive(Template)]
#[template(path = "record/history.html")]
struct HistoryPage {
    c: Chrome,
    subject: Subject,
    back: String,
    what: String,
    rows: Vec<HistoryRow>,
}

/// Who wrote a version, from the resource's own author element.
async fn version_author(loader: &mut Loader<'_>, r: &Value) -> String {
    for pointer in [
        "/recorder",
        "/performer/0",
        "/asserter",
        "/informationSource",
        "/requester",
        "/author/0",
        "/resultsInterpreter/0",
    ] {
        let name = loader.display(r.pointer(pointer)).await;
        if !name.is_empty() {
            return name;
        }
    }
    String::new()
}

fn version_summary(lang: Lang, rt: &str, r: &Value) -> String {
    let mut parts: Vec<String> = Vec::new();
    match rt {
        "Condition" => {
            parts.push(concept_in(lang, r.get("code")));
            if let Some(code) = first_code(r.get("clinicalStatus")) {
                parts.push(coded(lang, "clinical", code).unwrap_or(code).to_owned());
            }
            if let Some(d) = parse_date(str_at(r, "/abatementDateTime")) {
                parts.push(format!("{} {}", lang.text("record.until"), day_text(d)));
            }
            if let Some(n) = r
                .get("note")
                .and_then(Value::as_array)
                .and_then(|n| n.last())
                .and_then(|n| str_at(n, "/text"))
            {
                parts.push(format!("“{n}”"));
            }
        }
        "Observation" => {
            parts.push(concept_in(lang, r.get("code")));
            let tests = super::results::group(
                lang,
                &[Stored {
                    resource_type: rt.to_owned(),
                    id: String::new(),
                    version: 0,
                    last_updated: String::new(),
                    patient_id: None,
                    resource: Some(r.clone()),
                }],
            );
            if let Some(p) = tests.first().and_then(|t| t.latest()) {
                parts.push(p.value.clone());
            }
        }
        "Patient" => {
            parts.push(crate::portal::fhirtext::human_name(r.get("name")));
        }
        _ => {
            let code = r
                .get("code")
                .or(r.get("vaccineCode"))
                .or(r.get("medicationCodeableConcept"))
                .or(r.get("type"));
            parts.push(concept_in(lang, code));
        }
    }
    if str_at(r, "/status") == Some("entered-in-error") {
        parts.push(lang.text("record.entered-in-error").to_owned());
    }
    parts.retain(|p| !p.is_empty());
    parts.join(" · ")
}

pub(super) async fn history(
    State(state): State<AppState>,
    mut portal: Portal,
    Path((id, rt, rid)): Path<(String, String, String)>,
) -> Response {
    let result = async {
        let (_, subject) = staff_subject(&state, &mut portal, &id).await?;
        let Some(rt) = HISTORY_TYPES.iter().find(|t| **t == rt) else {
            return Err(PortalError::NotFound.into());
        };
        let versions = state
            .vault
            .history(portal.principal(), rt, &rid)
            .await
            .map_err(PortalError::from_vault)?;
        // Another patient's resource under this patient's URL is refused.
        let belongs = versions
            .iter()
            .all(|v| v.patient_id.as_deref() == Some(subject.id.as_str()));
        if !belongs || (*rt == "Patient" && rid != subject.id) {
            return Err(PortalError::Forbidden.into());
        }
        let lang = portal.lang;
        let mut loader = Loader::new(&state, portal.principal(), &subject.id);
        let mut rows = Vec::new();
        let mut what = String::new();
        for v in &versions {
            match &v.resource {
                Some(r) => {
                    if what.is_empty() {
                        what = version_summary(lang, rt, r)
                            .split(" · ")
                            .next()
                            .unwrap_or("")
                            .to_owned();
                    }
                    rows.push(HistoryRow {
                        version: v.version,
                        date: local_datetime(&v.last_updated),
                        author: version_author(&mut loader, r).await,
                        summary: version_summary(lang, rt, r),
                        deleted: false,
                    });
                }
                None => rows.push(HistoryRow {
                    version: v.version,
                    date: local_datetime(&v.last_updated),
                    author: String::new(),
                    summary: String::new(),
                    deleted: true,
                }),
            }
        }
        let mut c = portal.chrome("record.history-title");
        c.title = format!("{} · {}", c.t("record.history-title"), subject.name);
        Ok(render(&HistoryPage {
            c,
            back: base(&subject.id),
            subject,
            what,
            rows,
        }))
    }
    .await;
    finish(&portal, result)
}
