//! The health log (PC-1, PC-3): the patient's own measurements as Observations tagged
//! `urn:zorgkluis:provenance|patient-entered` (category health log), charted per kind,
//! entered, changed and deleted by the patient, every version kept and shown.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use serde::Deserialize;
use serde_json::{json, Number, Value};
use time::Date;
use zorgkluis_policy::model::PROVENANCE_TAG;
use zorgkluis_vault::{AuditEventCode, Principal, SearchQuery, Stored, VaultError};

use super::{done_flash, fill, parse_form_date, patient_frame};
use crate::i18n::Lang;
use crate::portal::chart::{line_chart, ChartSpec, Series};
use crate::portal::{
    fhirtext, page_or_error, render, see_other, today, Chrome, Portal, PortalError,
};
use crate::AppState;

const LOINC: &str = "http://loinc.org";
const SNOMED: &str = "http://snomed.info/sct";
const UCUM: &str = "http://unitsofmeasure.org";
/// Local codes for what has no LOINC or SNOMED code (also used by the demo data).
const SELF_MEASURE: &str = "urn:zorgkluis:self-measure";
const OBSERVATION_CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/observation-category";
const SYSTOLIC: &str = "8480-6";
const DIASTOLIC: &str = "8462-4";
/// The longest free note.
const MAX_NOTE: usize = 2000;

/// The kinds of measurement the log offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Weight,
    BloodPressure,
    Steps,
    Sleep,
    Smoking,
    Alcohol,
    Mood,
    Note,
}

/// How a kind is coded, stored and checked.
struct Spec {
    kind: Kind,
    slug: &'static str,
    system: &'static str,
    code: &'static str,
    display: &'static str,
    /// FHIR observation category.
    category: (&'static str, &'static str),
    /// UCUM unit code ("" for none).
    ucum: &'static str,
    min: f64,
    max: f64,
    /// Decimals allowed (0: whole numbers).
    decimals: usize,
}

const SPECS: [Spec; 8] = [
    Spec {
        kind: Kind::Weight,
        slug: "weight",
        system: LOINC,
        code: "29463-7",
        display: "Body weight",
        category: ("vital-signs", "Vital Signs"),
        ucum: "kg",
        min: 1.0,
        max: 400.0,
        decimals: 1,
    },
    Spec {
        kind: Kind::BloodPressure,
        slug: "blood-pressure",
        system: LOINC,
        code: "85354-9",
        display: "Blood pressure panel with all children optional",
        category: ("vital-signs", "Vital Signs"),
        ucum: "mm[Hg]",
        min: 40.0,
        max: 300.0,
        decimals: 0,
    },
    Spec {
        kind: Kind::Steps,
        slug: "steps",
        system: LOINC,
        code: "55423-8",
        display: "Number of steps in unspecified time Pedometer",
        category: ("activity", "Activity"),
        ucum: "/d",
        min: 0.0,
        max: 100_000.0,
        decimals: 0,
    },
    Spec {
        kind: Kind::Sleep,
        slug: "sleep",
        system: LOINC,
        code: "93832-4",
        display: "Sleep duration",
        category: ("activity", "Activity"),
        ucum: "h",
        min: 0.0,
        max: 24.0,
        decimals: 1,
    },
    Spec {
        kind: Kind::Smoking,
        slug: "smoking",
        system: SNOMED,
        code: "230056004",
        display: "Cigarette consumption",
        category: ("social-history", "Social History"),
        ucum: "/d",
        min: 0.0,
        max: 100.0,
        decimals: 0,
    },
    Spec {
        kind: Kind::Alcohol,
        slug: "alcohol",
        system: SNOMED,
        code: "228958009",
        display: "Alcohol units per week",
        category: ("social-history", "Social History"),
        ucum: "/wk",
        min: 0.0,
        max: 200.0,
        decimals: 0,
    },
    Spec {
        kind: Kind::Mood,
        slug: "mood",
        system: SELF_MEASURE,
        // The scale is part of the code: the demo's older entries use a 1-10 scale
        // (`mood`) and stay apart from these.
        code: "mood-1-5",
        display: "Mood (1-5)",
        category: ("survey", "Survey"),
        ucum: "",
        min: 1.0,
        max: 5.0,
        decimals: 0,
    },
    Spec {
        kind: Kind::Note,
        slug: "note",
        system: SELF_MEASURE,
        code: "note",
        display: "Note",
        category: ("survey", "Survey"),
        ucum: "",
        min: 0.0,
        max: 0.0,
        decimals: 0,
    },
];

impl Kind {
    fn spec(self) -> &'static Spec {
        // Every kind has exactly one spec (SPECS is indexed in declaration order).
        &SPECS[self as usize]
    }

    fn from_slug(slug: &str) -> Option<Self> {
        SPECS.iter().find(|s| s.slug == slug).map(|s| s.kind)
    }

    fn label(self, lang: Lang) -> &'static str {
        lang.text(&format!("log.kind-{}", self.spec().slug))
    }

    fn unit(self, lang: Lang) -> &'static str {
        lang.text(&format!("log.unit-{}", self.spec().slug))
    }
}

/// Whether a resource is the patient's own entry (health log).
fn is_health_log(resource: &Value) -> bool {
    resource
        .pointer("/meta/tag")
        .and_then(Value::as_array)
        .is_some_and(|tags| {
            tags.iter().any(|t| {
                t.get("system").and_then(Value::as_str) == Some(PROVENANCE_TAG)
                    && t.get("code").and_then(Value::as_str) == Some("patient-entered")
            })
        })
}

fn codings(v: Option<&Value>) -> impl Iterator<Item = (&str, &str)> {
    v.and_then(|c| c.get("coding"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| {
            Some((
                c.get("system").and_then(Value::as_str).unwrap_or(""),
                c.get("code").and_then(Value::as_str)?,
            ))
        })
}

fn kind_of(resource: &Value) -> Option<Kind> {
    codings(resource.get("code")).find_map(|(system, code)| {
        SPECS
            .iter()
            .find(|s| s.system == system && s.code == code)
            .map(|s| s.kind)
    })
}

/// A number as text in the page's language (decimal comma in Dutch).
fn number_text(raw: &str, lang: Lang) -> String {
    if lang == Lang::Nl {
        raw.replace('.', ",")
    } else {
        raw.to_owned()
    }
}

fn number_of(v: Option<&Value>) -> Option<(f64, String)> {
    let n = v?.as_number()?;
    Some((n.as_f64()?, n.to_string()))
}

fn component_value(resource: &Value, code: &str) -> Option<(f64, String)> {
    resource
        .get("component")
        .and_then(Value::as_array)?
        .iter()
        .find(|c| codings(c.get("code")).any(|(_, k)| k == code))
        .and_then(|c| number_of(c.pointer("/valueQuantity/value")))
}

/// One entry as the pages show it.
#[derive(Debug, Clone)]
pub(super) struct Entry {
    /// Observation id.
    pub id: String,
    /// The kind, for entries this log knows how to edit.
    pub kind: Option<Kind>,
    /// What it is (the kind's label, or the entry's own code text).
    pub label: String,
    /// When measured.
    pub date: Option<Date>,
    /// When measured, as text.
    pub when: String,
    /// The value with its unit, as text.
    pub value: String,
    /// The numbers (one, or systolic and diastolic) for charts.
    pub numbers: Vec<f64>,
    /// The values as the edit form shows them.
    pub raw: Vec<String>,
}

impl Entry {
    fn of(id: &str, resource: &Value, lang: Lang) -> Self {
        let kind = kind_of(resource);
        let effective = fhirtext::str_at(resource, "/effectiveDateTime")
            .or_else(|| fhirtext::str_at(resource, "/effectivePeriod/start"));
        let mut numbers = Vec::new();
        let mut raw = Vec::new();
        let value = match kind {
            Some(Kind::BloodPressure) => {
                let sys = component_value(resource, SYSTOLIC);
                let dia = component_value(resource, DIASTOLIC);
                match (sys, dia) {
                    (Some((s, st)), Some((d, dt))) => {
                        numbers = vec![s, d];
                        raw = vec![number_text(&st, lang), number_text(&dt, lang)];
                        format!(
                            "{}/{} {}",
                            number_text(&st, lang),
                            number_text(&dt, lang),
                            Kind::BloodPressure.unit(lang)
                        )
                    }
                    _ => String::new(),
                }
            }
            Some(Kind::Note) => {
                let text = fhirtext::str_at(resource, "/valueString")
                    .unwrap_or("")
                    .to_owned();
                raw = vec![text.clone()];
                text
            }
            Some(k) => {
                let n = number_of(resource.pointer("/valueQuantity/value"))
                    .or_else(|| number_of(resource.get("valueInteger")));
                match n {
                    Some((v, t)) => {
                        numbers = vec![v];
                        raw = vec![number_text(&t, lang)];
                        let unit = k.unit(lang);
                        if k == Kind::Mood && (1.0..=5.0).contains(&v) && v.fract() == 0.0 {
                            format!("{t} – {}", lang.text(&format!("log.mood-{t}")))
                        } else if unit.is_empty() {
                            number_text(&t, lang)
                        } else {
                            format!("{} {unit}", number_text(&t, lang))
                        }
                    }
                    None => String::new(),
                }
            }
            None => other_value(resource, lang),
        };
        let label = match kind {
            Some(k) => k.label(lang).to_owned(),
            None => {
                let l = fhirtext::concept(resource.get("code"));
                if l.is_empty() {
                    lang.text("log.kind-other").to_owned()
                } else {
                    l
                }
            }
        };
        Self {
            id: id.to_owned(),
            kind,
            label,
            date: fhirtext::parse_date(effective),
            when: fhirtext::date_text(effective),
            value,
            numbers,
            raw,
        }
    }

    /// Whether this log can show a form to change it.
    pub fn editable(&self) -> bool {
        self.kind.is_some()
    }
}

/// The value of an entry of a kind this log does not know (e.g. from another app).
fn other_value(resource: &Value, lang: Lang) -> String {
    if let Some(q) = resource.get("valueQuantity") {
        return number_text(&fhirtext::quantity(Some(q)), lang);
    }
    if let Some((_, t)) = number_of(resource.get("valueInteger")) {
        return t;
    }
    if let Some(s) = fhirtext::str_at(resource, "/valueString") {
        return s.to_owned();
    }
    if let Some(c) = resource.get("valueCodeableConcept") {
        return fhirtext::concept(Some(c));
    }
    if let (Some((_, s)), Some((_, d))) = (
        component_value(resource, SYSTOLIC),
        component_value(resource, DIASTOLIC),
    ) {
        return format!("{}/{}", number_text(&s, lang), number_text(&d, lang));
    }
    String::new()
}

// ---------------------------------------------------------------------------------------
// Reading the log.

/// The patient's health-log entries, newest measurement first.
async fn entries(
    state: &AppState,
    principal: &Principal,
    patient_id: &str,
    lang: Lang,
) -> Result<Vec<Entry>, PortalError> {
    let q = SearchQuery::parse(
        "Observation",
        &[
            ("patient".to_owned(), patient_id.to_owned()),
            (
                "_tag".to_owned(),
                format!("{PROVENANCE_TAG}|patient-entered"),
            ),
            ("_count".to_owned(), "1000".to_owned()),
        ],
    )
    .map_err(|_| PortalError::Unavailable)?;
    let page = state
        .vault
        .search(principal, &q)
        .await
        .map_err(PortalError::from_vault)?;
    let mut out: Vec<Entry> = page
        .hits
        .iter()
        .filter_map(|h| {
            let r = h.resource.as_ref()?;
            (is_health_log(r) && h.patient_id.as_deref() == Some(patient_id))
                .then(|| Entry::of(&h.id, r, lang))
        })
        .collect();
    out.sort_by(|a, b| b.date.cmp(&a.date).then_with(|| b.when.cmp(&a.when)));
    Ok(out)
}

/// Reads one entry of this patient's log; anything else is refused.
async fn own_entry(
    state: &AppState,
    principal: &Principal,
    patient_id: &str,
    id: &str,
) -> Result<(Stored, Value), PortalError> {
    let stored = state
        .vault
        .read(principal, "Observation", id)
        .await
        .map_err(PortalError::from_vault)?;
    let resource = stored.resource.clone().ok_or(PortalError::NotFound)?;
    if stored.patient_id.as_deref() != Some(patient_id) || !is_health_log(&resource) {
        return Err(PortalError::Forbidden);
    }
    Ok((stored, resource))
}

// ---------------------------------------------------------------------------------------
// The log page.

struct Section {
    slug: &'static str,
    title: String,
    svg: Option<String>,
    is_note: bool,
    rows: Vec<Entry>,
}

struct Latest {
    label: String,
    value: String,
    when: String,
    /// A free note (shown as text, not as a big number).
    is_note: bool,
}

#[derive(Template)]
#[template(path = "log/index.html")]
struct IndexPage {
    c: Chrome,
    latest: Vec<Latest>,
    sections: Vec<Section>,
    others: Vec<Entry>,
    kinds: Vec<(&'static str, &'static str)>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct DoneQuery {
    done: Option<String>,
    kind: Option<String>,
}

pub(super) async fn index(
    State(state): State<AppState>,
    mut portal: Portal,
    Query(q): Query<DoneQuery>,
) -> Response {
    let result = index_page(&state, &mut portal, &q).await;
    page_or_error(&portal, result)
}

fn kind_links(lang: Lang) -> Vec<(&'static str, &'static str)> {
    SPECS.iter().map(|s| (s.slug, s.kind.label(lang))).collect()
}

async fn index_page(
    state: &AppState,
    portal: &mut Portal,
    q: &DoneQuery,
) -> Result<Response, PortalError> {
    let (patient_id, mut c) = patient_frame(state, portal, "log.title").await?;
    let lang = c.lang;
    c.flash = done_flash(lang, q.done.as_deref(), &["saved", "deleted"], "log.done-");
    let all = entries(state, portal.principal(), &patient_id, lang).await?;
    let mut sections = Vec::new();
    let mut latest = Vec::new();
    for spec in &SPECS {
        let rows: Vec<Entry> = all
            .iter()
            .filter(|e| e.kind == Some(spec.kind))
            .cloned()
            .collect();
        let Some(newest) = rows.first() else {
            continue;
        };
        latest.push(Latest {
            label: newest.label.clone(),
            value: if spec.kind == Kind::Note {
                newest.value.chars().take(80).collect()
            } else {
                newest.value.clone()
            },
            when: newest.when.clone(),
            is_note: spec.kind == Kind::Note,
        });
        let unit = spec.kind.unit(lang);
        let title = if unit.is_empty() || spec.kind == Kind::Mood {
            spec.kind.label(lang).to_owned()
        } else {
            format!("{} ({unit})", spec.kind.label(lang))
        };
        let svg = if spec.kind == Kind::Note {
            None
        } else {
            let series: Vec<Series> = if spec.kind == Kind::BloodPressure {
                vec![
                    Series {
                        label: lang.text("log.systolic").to_owned(),
                        points: rows
                            .iter()
                            .filter_map(|e| Some((e.date?, *e.numbers.first()?)))
                            .collect(),
                    },
                    Series {
                        label: lang.text("log.diastolic").to_owned(),
                        points: rows
                            .iter()
                            .filter_map(|e| Some((e.date?, *e.numbers.get(1)?)))
                            .collect(),
                    },
                ]
            } else {
                vec![Series {
                    label: spec.kind.label(lang).to_owned(),
                    points: rows
                        .iter()
                        .filter_map(|e| Some((e.date?, *e.numbers.first()?)))
                        .collect(),
                }]
            };
            line_chart(&ChartSpec {
                title: &title,
                unit,
                series: &series,
                range: None,
            })
        };
        sections.push(Section {
            slug: spec.slug,
            title,
            svg,
            is_note: spec.kind == Kind::Note,
            rows,
        });
    }
    let others = all.into_iter().filter(|e| e.kind.is_none()).collect();
    Ok(render(&IndexPage {
        c,
        latest,
        sections,
        others,
        kinds: kind_links(lang),
    }))
}

// ---------------------------------------------------------------------------------------
// Entering and changing.

#[derive(Template)]
#[template(path = "log/choose.html")]
struct ChoosePage {
    c: Chrome,
    kinds: Vec<(&'static str, &'static str)>,
}

#[derive(Template)]
#[template(path = "log/form.html")]
struct FormPage {
    c: Chrome,
    /// Form target.
    action: String,
    /// Whether this changes an existing entry.
    editing: bool,
    slug: &'static str,
    label: &'static str,
    unit: &'static str,
    hint: String,
    date: String,
    today: String,
    value: String,
    value2: String,
    text: String,
    version: String,
    id: String,
    max_note: usize,
    is_bp: bool,
    is_note: bool,
    is_mood: bool,
    /// The mood scale: value, label, chosen.
    moods: Vec<(u8, &'static str, bool)>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct EntryForm {
    csrf: String,
    kind: String,
    date: String,
    value: String,
    value2: String,
    text: String,
    version: String,
}

/// Where a form goes and what it is about.
struct FormTarget {
    kind: Kind,
    action: String,
    editing: bool,
    today: Date,
    id: String,
}

fn form_page(c: Chrome, t: FormTarget, form: &EntryForm) -> FormPage {
    let FormTarget {
        kind,
        action,
        editing,
        today,
        id,
    } = t;
    let lang = c.lang;
    let spec = kind.spec();
    let hint = match kind {
        Kind::Note => fill(lang, "log.hint-note", &[("max", &MAX_NOTE.to_string())]),
        Kind::Mood => lang.text("log.hint-mood").to_owned(),
        _ => fill(
            lang,
            if spec.decimals > 0 {
                "log.hint-range-decimal"
            } else {
                "log.hint-range"
            },
            &[
                ("min", &number_text(&spec.min.to_string(), lang)),
                ("max", &number_text(&spec.max.to_string(), lang)),
                ("unit", kind.unit(lang)),
            ],
        ),
    };
    FormPage {
        c,
        action,
        editing,
        slug: spec.slug,
        label: kind.label(lang),
        unit: kind.unit(lang),
        hint,
        date: if form.date.is_empty() {
            today.to_string()
        } else {
            form.date.clone()
        },
        today: today.to_string(),
        value: form.value.clone(),
        value2: form.value2.clone(),
        text: form.text.clone(),
        version: form.version.clone(),
        id,
        max_note: MAX_NOTE,
        is_bp: kind == Kind::BloodPressure,
        is_note: kind == Kind::Note,
        is_mood: kind == Kind::Mood,
        moods: (1..=5u8)
            .map(|n| {
                (
                    n,
                    lang.text(&format!("log.mood-{n}")),
                    form.value.trim() == n.to_string(),
                )
            })
            .collect(),
    }
}

pub(super) async fn new_form(
    State(state): State<AppState>,
    mut portal: Portal,
    Query(q): Query<DoneQuery>,
) -> Response {
    let result = async {
        let (_, mut c) = patient_frame(&state, &mut portal, "log.new-title").await?;
        let Some(kind) = q.kind.as_deref().and_then(Kind::from_slug) else {
            let kinds = kind_links(c.lang);
            return Ok(render(&ChoosePage { c, kinds }));
        };
        c.title = fill(
            c.lang,
            "log.new-kind-title",
            &[("kind", kind.label(c.lang))],
        );
        let target = FormTarget {
            kind,
            action: "/patient/log/new".into(),
            editing: false,
            today: today(&state),
            id: String::new(),
        };
        Ok(render(&form_page(c, target, &EntryForm::default())))
    }
    .await;
    page_or_error(&portal, result)
}

/// A checked value, ready to store.
enum Values {
    One(Number),
    Two(Number, Number),
    Text(String),
}

/// Parses a number typed with a decimal comma or point, within the kind's range.
fn parse_number(
    input: &str,
    lang: Lang,
    label: &str,
    spec: &Spec,
    unit: &str,
) -> Result<Number, String> {
    let cleaned = input.trim().replace(',', ".");
    if cleaned.is_empty() {
        return Err(fill(lang, "log.err-missing", &[("label", label)]));
    }
    let value: f64 = cleaned
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite())
        .ok_or_else(|| fill(lang, "log.err-number", &[("label", label)]))?;
    let out_of_range = || {
        fill(
            lang,
            "log.err-range",
            &[
                ("label", label),
                ("min", &number_text(&spec.min.to_string(), lang)),
                ("max", &number_text(&spec.max.to_string(), lang)),
                ("unit", unit),
            ],
        )
    };
    if value < spec.min || value > spec.max {
        return Err(out_of_range());
    }
    if spec.decimals == 0 {
        if value.fract() != 0.0 {
            return Err(fill(lang, "log.err-whole", &[("label", label)]));
        }
        // Within the range checked above, so it fits an i64 exactly.
        #[allow(clippy::cast_possible_truncation)]
        return Ok(Number::from(value as i64));
    }
    let rounded = format!("{value:.prec$}", prec = spec.decimals);
    let rounded = rounded
        .trim_end_matches('0')
        .trim_end_matches('.')
        .to_owned();
    serde_json::from_str::<Number>(&rounded).map_err(|_| out_of_range())
}

/// Checks a submitted form: a date not in the future and a value within range.
fn validate(
    kind: Kind,
    form: &EntryForm,
    lang: Lang,
    today: Date,
) -> Result<(Date, Values), String> {
    let date = parse_form_date(&form.date).ok_or_else(|| lang.text("log.err-date").to_owned())?;
    if date > today {
        return Err(lang.text("log.err-date-future").to_owned());
    }
    if date.year() < 1900 {
        return Err(lang.text("log.err-date").to_owned());
    }
    let spec = kind.spec();
    let unit = kind.unit(lang);
    let values = match kind {
        Kind::Note => {
            let text = form.text.trim();
            if text.is_empty() {
                return Err(lang.text("log.err-note-empty").to_owned());
            }
            if text.chars().count() > MAX_NOTE {
                return Err(fill(
                    lang,
                    "log.err-note-long",
                    &[("max", &MAX_NOTE.to_string())],
                ));
            }
            Values::Text(text.to_owned())
        }
        Kind::BloodPressure => {
            let sys = parse_number(&form.value, lang, lang.text("log.systolic"), spec, unit)?;
            let dia = parse_number(&form.value2, lang, lang.text("log.diastolic"), spec, unit)?;
            if sys.as_f64() <= dia.as_f64() {
                return Err(lang.text("log.err-bp-order").to_owned());
            }
            Values::Two(sys, dia)
        }
        Kind::Mood => {
            if form.value.trim().is_empty() {
                return Err(lang.text("log.err-mood").to_owned());
            }
            Values::One(
                parse_number(&form.value, lang, kind.label(lang), spec, "")
                    .map_err(|_| lang.text("log.err-mood").to_owned())?,
            )
        }
        _ => Values::One(parse_number(
            &form.value,
            lang,
            kind.label(lang),
            spec,
            unit,
        )?),
    };
    Ok((date, values))
}

/// Who entered it: the patient, or the representative acting for them.
fn performer(principal: &Principal, patient_id: &str) -> Value {
    match principal {
        Principal::Representative { represents, .. } => represents
            .iter()
            .find(|(p, _)| p == patient_id)
            .map_or_else(
                || json!({"reference": format!("Patient/{patient_id}")}),
                |(_, rp)| json!({"reference": format!("RelatedPerson/{rp}")}),
            ),
        _ => json!({"reference": format!("Patient/{patient_id}")}),
    }
}

fn quantity(kind: Kind, value: Number) -> Value {
    let spec = kind.spec();
    json!({"value": value, "unit": spec.ucum.replace("mm[Hg]", "mmHg"), "system": UCUM, "code": spec.ucum})
}

/// The Observation for an entry.
fn observation(
    kind: Kind,
    id: Option<&str>,
    patient_id: &str,
    performer: Value,
    date: Date,
    values: Values,
) -> Value {
    let spec = kind.spec();
    let mut o = json!({
        "resourceType": "Observation",
        "meta": {"tag": [{"system": PROVENANCE_TAG, "code": "patient-entered", "display": "Ingevoerd door patiënt"}]},
        "status": "final",
        "category": [{"coding": [{"system": OBSERVATION_CATEGORY, "code": spec.category.0, "display": spec.category.1}]}],
        "code": {"coding": [{"system": spec.system, "code": spec.code, "display": spec.display}],
                 "text": kind.label(Lang::Nl)},
        "subject": {"reference": format!("Patient/{patient_id}")},
        "effectiveDateTime": date.to_string(),
        "performer": [performer],
    });
    if let Some(id) = id {
        o["id"] = Value::String(id.to_owned());
    }
    match values {
        Values::Text(t) => o["valueString"] = Value::String(t),
        Values::Two(sys, dia) => {
            o["component"] = json!([
                {"code": {"coding": [{"system": LOINC, "code": SYSTOLIC, "display": "Systolic blood pressure"}]},
                 "valueQuantity": quantity(kind, sys)},
                {"code": {"coding": [{"system": LOINC, "code": DIASTOLIC, "display": "Diastolic blood pressure"}]},
                 "valueQuantity": quantity(kind, dia)}
            ]);
        }
        Values::One(n) if kind == Kind::Mood => o["valueInteger"] = Value::Number(n),
        Values::One(n) => o["valueQuantity"] = quantity(kind, n),
    }
    o
}

fn bad_form(mut c: Chrome, t: FormTarget, form: &EntryForm, error: String) -> Response {
    c.error = Some(error);
    let mut r = render(&form_page(c, t, form));
    *r.status_mut() = StatusCode::BAD_REQUEST;
    r
}

pub(super) async fn create(
    State(state): State<AppState>,
    mut portal: Portal,
    Form(form): Form<EntryForm>,
) -> Response {
    let result = async {
        portal.check_csrf(&state, &form.csrf)?;
        let (patient_id, mut c) = patient_frame(&state, &mut portal, "log.new-title").await?;
        let lang = c.lang;
        let kind = Kind::from_slug(&form.kind)
            .ok_or_else(|| PortalError::BadRequest(lang.text("log.err-kind").to_owned()))?;
        c.title = fill(lang, "log.new-kind-title", &[("kind", kind.label(lang))]);
        let today = today(&state);
        let (date, values) = match validate(kind, &form, lang, today) {
            Ok(v) => v,
            Err(e) => {
                let target = FormTarget {
                    kind,
                    action: "/patient/log/new".into(),
                    editing: false,
                    today,
                    id: String::new(),
                };
                return Ok(bad_form(c, target, &form, e));
            }
        };
        let resource = observation(
            kind,
            None,
            &patient_id,
            performer(portal.principal(), &patient_id),
            date,
            values,
        );
        state
            .vault
            .create(portal.principal(), resource)
            .await
            .map_err(PortalError::from_vault)?;
        Ok(see_other(&format!(
            "/patient/log?done=saved#{}",
            kind.spec().slug
        )))
    }
    .await;
    page_or_error(&portal, result)
}

pub(super) async fn edit_form(
    State(state): State<AppState>,
    mut portal: Portal,
    Path(id): Path<String>,
) -> Response {
    let result = async {
        let (patient_id, mut c) = patient_frame(&state, &mut portal, "log.edit-title").await?;
        let lang = c.lang;
        let (stored, resource) = own_entry(&state, portal.principal(), &patient_id, &id).await?;
        let entry = Entry::of(&stored.id, &resource, lang);
        let kind = entry
            .kind
            .ok_or_else(|| PortalError::BadRequest(lang.text("log.err-not-editable").to_owned()))?;
        c.title = fill(lang, "log.edit-kind-title", &[("kind", kind.label(lang))]);
        let form = EntryForm {
            date: entry.date.map(|d| d.to_string()).unwrap_or_default(),
            value: if kind == Kind::Note {
                String::new()
            } else {
                entry.raw.first().cloned().unwrap_or_default()
            },
            value2: entry.raw.get(1).cloned().unwrap_or_default(),
            text: if kind == Kind::Note {
                entry.raw.first().cloned().unwrap_or_default()
            } else {
                String::new()
            },
            version: stored.version.to_string(),
            ..EntryForm::default()
        };
        let target = FormTarget {
            kind,
            action: format!("/patient/log/{}/edit", stored.id),
            editing: true,
            today: today(&state),
            id: stored.id.clone(),
        };
        Ok(render(&form_page(c, target, &form)))
    }
    .await;
    page_or_error(&portal, result)
}

pub(super) async fn update(
    State(state): State<AppState>,
    mut portal: Portal,
    Path(id): Path<String>,
    Form(form): Form<EntryForm>,
) -> Response {
    let result = async {
        portal.check_csrf(&state, &form.csrf)?;
        let (patient_id, mut c) = patient_frame(&state, &mut portal, "log.edit-title").await?;
        let lang = c.lang;
        let (stored, resource) = own_entry(&state, portal.principal(), &patient_id, &id).await?;
        // The kind is the stored one; the form cannot turn a weight into something else.
        let kind = kind_of(&resource)
            .ok_or_else(|| PortalError::BadRequest(lang.text("log.err-not-editable").to_owned()))?;
        c.title = fill(lang, "log.edit-kind-title", &[("kind", kind.label(lang))]);
        let today = today(&state);
        let target = FormTarget {
            kind,
            action: format!("/patient/log/{}/edit", stored.id),
            editing: true,
            today,
            id: stored.id.clone(),
        };
        let (date, values) = match validate(kind, &form, lang, today) {
            Ok(v) => v,
            Err(e) => return Ok(bad_form(c, target, &form, e)),
        };
        let mut updated = observation(
            kind,
            Some(&stored.id),
            &patient_id,
            performer(portal.principal(), &patient_id),
            date,
            values,
        );
        // The first performer stays who first entered it.
        if let Some(p) = resource.get("performer") {
            updated["performer"] = p.clone();
        }
        let if_match = form.version.trim().parse::<i64>().ok();
        match state
            .vault
            .update(
                portal.principal(),
                "Observation",
                &stored.id,
                updated,
                if_match,
            )
            .await
        {
            Ok(_) => Ok(see_other(&format!(
                "/patient/log?done=saved#{}",
                kind.spec().slug
            ))),
            Err(VaultError::Conflict { .. }) => Ok(bad_form(
                c,
                target,
                &form,
                lang.text("log.err-conflict").to_owned(),
            )),
            Err(e) => Err(PortalError::from_vault(e)),
        }
    }
    .await;
    page_or_error(&portal, result)
}

// ---------------------------------------------------------------------------------------
// Deleting.

#[derive(Template)]
#[template(path = "log/delete.html")]
struct DeletePage {
    c: Chrome,
    entry: Entry,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct CsrfForm {
    csrf: String,
}

pub(super) async fn confirm_delete(
    State(state): State<AppState>,
    mut portal: Portal,
    Path(id): Path<String>,
) -> Response {
    let result = async {
        let (patient_id, c) = patient_frame(&state, &mut portal, "log.delete-title").await?;
        let (stored, resource) = own_entry(&state, portal.principal(), &patient_id, &id).await?;
        let entry = Entry::of(&stored.id, &resource, c.lang);
        Ok(render(&DeletePage { c, entry }))
    }
    .await;
    page_or_error(&portal, result)
}

pub(super) async fn delete(
    State(state): State<AppState>,
    mut portal: Portal,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    let result = async {
        portal.check_csrf(&state, &form.csrf)?;
        let (patient_id, _) = patient_frame(&state, &mut portal, "log.delete-title").await?;
        let (stored, _) = own_entry(&state, portal.principal(), &patient_id, &id).await?;
        state
            .vault
            .delete(portal.principal(), "Observation", &stored.id)
            .await
            .map_err(PortalError::from_vault)?;
        Ok(see_other("/patient/log?done=deleted"))
    }
    .await;
    page_or_error(&portal, result)
}

// ---------------------------------------------------------------------------------------
// History and deleted entries.

struct VersionRow {
    version: i64,
    changed: String,
    deleted: bool,
    entry: Option<Entry>,
}

#[derive(Template)]
#[template(path = "log/history.html")]
struct HistoryPage {
    c: Chrome,
    label: String,
    id: String,
    current: bool,
    editable: bool,
    rows: Vec<VersionRow>,
}

pub(super) async fn history(
    State(state): State<AppState>,
    mut portal: Portal,
    Path(id): Path<String>,
) -> Response {
    let result = async {
        let (patient_id, c) = patient_frame(&state, &mut portal, "log.history-title").await?;
        let lang = c.lang;
        let versions = state
            .vault
            .history(portal.principal(), "Observation", &id)
            .await
            .map_err(PortalError::from_vault)?;
        // Only this patient's own entries (a result from the practice has its own page).
        let own = versions
            .iter()
            .all(|v| v.patient_id.as_deref() == Some(&*patient_id))
            && versions
                .iter()
                .any(|v| v.resource.as_ref().is_some_and(is_health_log));
        if !own {
            return Err(PortalError::Forbidden);
        }
        let rows: Vec<VersionRow> = versions
            .iter()
            .map(|v| VersionRow {
                version: v.version,
                changed: super::local_time_text(&v.last_updated),
                deleted: v.resource.is_none(),
                entry: v.resource.as_ref().map(|r| Entry::of(&v.id, r, lang)),
            })
            .collect();
        let label = rows
            .iter()
            .find_map(|r| r.entry.as_ref().map(|e| e.label.clone()))
            .unwrap_or_default();
        let current = rows.first().is_some_and(|r| !r.deleted);
        let editable = current
            && rows
                .first()
                .and_then(|r| r.entry.as_ref())
                .is_some_and(Entry::editable);
        Ok(render(&HistoryPage {
            c,
            label,
            id,
            current,
            editable,
            rows,
        }))
    }
    .await;
    page_or_error(&portal, result)
}

struct DeletedRow {
    entry: Entry,
    deleted_at: String,
}

#[derive(Template)]
#[template(path = "log/deleted.html")]
struct DeletedPage {
    c: Chrome,
    rows: Vec<DeletedRow>,
}

/// Deleted entries, found through the patient's own audit trail (the deletions are there;
/// the store keeps every version). Reading the trail is itself audited.
pub(super) async fn deleted(State(state): State<AppState>, mut portal: Portal) -> Response {
    let result = async {
        let (patient_id, c) = patient_frame(&state, &mut portal, "log.deleted-title").await?;
        let lang = c.lang;
        let events = state
            .vault
            .audit_for_patient(portal.principal(), &patient_id, 5000)
            .await
            .map_err(PortalError::from_vault)?;
        let mut seen: Vec<String> = Vec::new();
        let mut rows = Vec::new();
        for e in events {
            if e.code != AuditEventCode::Delete
                || e.outcome != zorgkluis_audit::Outcome::Success
                || e.object.resource_type.as_deref() != Some("Observation")
            {
                continue;
            }
            let Some(id) = e.object.resource_id.clone() else {
                continue;
            };
            if seen.contains(&id) || rows.len() >= 200 {
                continue;
            }
            seen.push(id.clone());
            let Ok(versions) = state
                .vault
                .history(portal.principal(), "Observation", &id)
                .await
            else {
                continue;
            };
            // Still deleted now, and the patient's own entry before that.
            if versions.first().is_none_or(|v| v.resource.is_some()) {
                continue;
            }
            let Some((last, resource)) = versions
                .iter()
                .find_map(|v| v.resource.as_ref().map(|r| (v, r)))
            else {
                continue;
            };
            if !is_health_log(resource) || last.patient_id.as_deref() != Some(&*patient_id) {
                continue;
            }
            rows.push(DeletedRow {
                entry: Entry::of(&id, resource, lang),
                deleted_at: versions
                    .first()
                    .map(|v| super::local_time_text(&v.last_updated))
                    .unwrap_or_default(),
            });
        }
        Ok(render(&DeletedPage { c, rows }))
    }
    .await;
    page_or_error(&portal, result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn form(kind: &str, value: &str, value2: &str) -> EntryForm {
        EntryForm {
            kind: kind.into(),
            date: "2026-11-20".into(),
            value: value.into(),
            value2: value2.into(),
            ..EntryForm::default()
        }
    }

    #[test]
    fn values_are_checked_with_clear_messages() {
        let today = date!(2026 - 11 - 23);
        let ok = validate(Kind::Weight, &form("weight", "81,46", ""), Lang::Nl, today);
        match ok {
            Ok((_, Values::One(n))) => assert_eq!(n.to_string(), "81.5"),
            _ => panic!("a weight with a decimal comma is fine"),
        }
        let Err(e) = validate(Kind::Weight, &form("weight", "500", ""), Lang::En, today) else {
            panic!("500 kg is out of range")
        };
        assert!(e.contains("1") && e.contains("400"), "{e}");
        assert!(validate(
            Kind::BloodPressure,
            &form("bp", "80", "120"),
            Lang::En,
            today
        )
        .is_err());
        assert!(validate(
            Kind::BloodPressure,
            &form("bp", "135", "85"),
            Lang::En,
            today
        )
        .is_ok());
        assert!(validate(Kind::Mood, &form("mood", "6", ""), Lang::En, today).is_err());
        assert!(validate(Kind::Steps, &form("steps", "1000,5", ""), Lang::En, today).is_err());
        let mut future = form("weight", "80", "");
        future.date = "2026-11-24".into();
        assert!(validate(Kind::Weight, &future, Lang::En, today).is_err());
    }

    #[test]
    fn an_entry_reads_back_as_it_was_entered() {
        let o = observation(
            Kind::BloodPressure,
            Some("x"),
            "p1",
            json!({"reference": "Patient/p1"}),
            date!(2026 - 11 - 20),
            Values::Two(Number::from(135), Number::from(85)),
        );
        assert!(is_health_log(&o));
        let e = Entry::of("x", &o, Lang::Nl);
        assert_eq!(e.kind, Some(Kind::BloodPressure));
        assert_eq!(e.numbers, vec![135.0, 85.0]);
        assert_eq!(e.value, "135/85 mmHg");
        assert_eq!(e.when, "20-11-2026");
        let every_kind_has_its_spec = SPECS.iter().enumerate().all(|(i, s)| s.kind as usize == i);
        assert!(every_kind_has_its_spec);
    }
}
