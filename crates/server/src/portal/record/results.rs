//! Lab results and measurements grouped per test (Observation.code), with the latest
//! value, flags outside the reference range, and a trend chart per test.

use serde_json::Value;
use sha2::{Digest, Sha256};
use time::Date;
use zorgkluis_policy::model::PROVENANCE_TAG;
use zorgkluis_vault::Stored;

use super::view::{code_in, concept_in};
use crate::i18n::Lang;
use crate::portal::chart::{line_chart, ChartSpec, Series};
use crate::portal::fhirtext::{date_text, parse_date, str_at};

/// A value outside its reference range (or so interpreted by the lab).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Flag {
    None,
    High,
    Low,
    Abnormal,
}

impl Flag {
    /// CSS class of the flag.
    pub(super) fn class(self) -> &'static str {
        match self {
            Self::High | Self::Abnormal => "flag-high",
            Self::Low => "flag-low",
            Self::None => "",
        }
    }
    /// Translation key of the flag.
    fn key(self) -> &'static str {
        match self {
            Self::High => "record.flag-high",
            Self::Low => "record.flag-low",
            Self::Abnormal => "record.flag-abnormal",
            Self::None => "",
        }
    }
    fn worst(self, other: Self) -> Self {
        if self == Self::None {
            other
        } else {
            self
        }
    }
}

/// One measured value.
pub(super) struct Point {
    pub date: Option<Date>,
    pub date_text: String,
    pub value: String,
    pub range: String,
    pub flag: Flag,
    pub flag_text: String,
    pub id: String,
    /// Numeric values per line of the chart: (series label, value).
    numbers: Vec<(String, f64)>,
    /// (low, high) when both are known.
    bounds: Option<(f64, f64)>,
}

/// Which list a test belongs on.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Kind {
    Lab,
    Measurement,
}

/// All values of one test.
pub(super) struct Test {
    pub key: String,
    pub name: String,
    pub unit: String,
    pub kind: Kind,
    /// Newest first.
    pub points: Vec<Point>,
}

impl Test {
    /// The newest value.
    pub(super) fn latest(&self) -> Option<&Point> {
        self.points.first()
    }
    /// How many values.
    pub(super) fn count(&self) -> usize {
        self.points.len()
    }
    /// The newest reference range with both bounds.
    fn range(&self) -> Option<(f64, f64)> {
        self.points.iter().find_map(|p| p.bounds)
    }

    /// The trend chart (SVG), or `None` with fewer than two numeric values.
    pub(super) fn chart(&self) -> Option<String> {
        let mut series: Vec<Series> = Vec::new();
        for p in self.points.iter().rev() {
            let Some(d) = p.date else { continue };
            for (label, v) in &p.numbers {
                match series.iter_mut().find(|s| &s.label == label) {
                    Some(s) => s.points.push((d, *v)),
                    None => series.push(Series {
                        label: label.clone(),
                        points: vec![(d, *v)],
                    }),
                }
            }
        }
        series.truncate(4);
        let title = if self.unit.is_empty() {
            self.name.clone()
        } else {
            format!("{} ({})", self.name, self.unit)
        };
        line_chart(&ChartSpec {
            title: &title,
            unit: &self.unit,
            series: &series,
            // A band for one line only: two lines (blood pressure) have two ranges.
            range: if series.len() == 1 {
                self.range()
            } else {
                None
            },
        })
    }

    /// The reference range as text ("3.0 – 5.0 mmol/L"), from the newest value that has one.
    pub(super) fn range_text(&self) -> String {
        self.points
            .iter()
            .find(|p| !p.range.is_empty())
            .map(|p| p.range.clone())
            .unwrap_or_default()
    }
}

/// A safe URL key of a test code: `loinc-2093-3`, `sct-…`, else a short hash of the
/// system; a code with only a text (a measurement entered by hand) is keyed by its text.
pub(super) fn test_key(code: Option<&Value>) -> Option<String> {
    let code = code?;
    let safe = |s: &str| -> String {
        s.chars()
            .map(|ch| {
                if ch.is_ascii_alphanumeric() || ch == '-' || ch == '.' || ch == '_' {
                    ch.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .collect()
    };
    let short_hash = |s: &str| -> String {
        Sha256::digest(s.as_bytes())
            .iter()
            .take(4)
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    let Some(c) = code
        .get("coding")
        .and_then(Value::as_array)
        .and_then(|c| c.first())
    else {
        let text = str_at(code, "/text")?.trim();
        if text.is_empty() {
            return None;
        }
        return Some(format!("text-{}-{}", short_hash(text), safe(text)));
    };
    let value = str_at(c, "/code")?;
    let system = str_at(c, "/system").unwrap_or("");
    let prefix = match system {
        "http://loinc.org" => "loinc".to_owned(),
        "http://snomed.info/sct" => "sct".to_owned(),
        "urn:zorgkluis:self-measure" => "self".to_owned(),
        other => short_hash(other),
    };
    Some(format!("{prefix}-{}", safe(value)))
}

fn number(v: Option<&Value>) -> Option<f64> {
    match v? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn number_text(v: Option<&Value>) -> String {
    match v {
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) => s.clone(),
        _ => String::new(),
    }
}

/// A number as the page's language writes it (Dutch: decimal comma).
fn shown_number(lang: Lang, v: Option<&Value>) -> String {
    let s = number_text(v);
    match lang {
        Lang::Nl => s.replace('.', ","),
        Lang::En => s,
    }
}

/// The unit of a Quantity as people read it (UCUM codes such as `mm[Hg]` made plain).
fn unit_of(q: &Value) -> String {
    let unit = str_at(q, "/unit").or(str_at(q, "/code")).unwrap_or("");
    match unit {
        "mm[Hg]" => "mmHg",
        "Cel" => "°C",
        "umol/L" => "µmol/L",
        "mL/min/{1.73_m2}" => "mL/min/1,73 m²",
        "10*9/L" => "10⁹/L",
        "10*12/L" => "10¹²/L",
        other => other,
    }
    .to_owned()
}

/// (low, high, text) of the first reference range.
fn reference_range(lang: Lang, v: &Value) -> (Option<f64>, Option<f64>, String) {
    let Some(rr) = v.pointer("/referenceRange/0") else {
        return (None, None, String::new());
    };
    let low = number(rr.pointer("/low/value"));
    let high = number(rr.pointer("/high/value"));
    let unit = rr
        .get("low")
        .or(rr.get("high"))
        .map(unit_of)
        .unwrap_or_default();
    let text = match (
        rr.pointer("/low/value")
            .map(|_| shown_number(lang, rr.pointer("/low/value"))),
        rr.pointer("/high/value")
            .map(|_| shown_number(lang, rr.pointer("/high/value"))),
    ) {
        (Some(l), Some(h)) => format!("{l} – {h} {unit}"),
        (Some(l), None) => format!("≥ {l} {unit}"),
        (None, Some(h)) => format!("≤ {h} {unit}"),
        (None, None) => str_at(rr, "/text").unwrap_or("").to_owned(),
    };
    (low, high, text.trim().to_owned())
}

/// The lab's interpretation, else the value against the range.
fn flag_of(v: &Value, value: Option<f64>, low: Option<f64>, high: Option<f64>) -> Flag {
    let interpretation = code_in(
        v.pointer("/interpretation/0"),
        "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
    );
    match interpretation {
        Some("H" | "HH" | "HU" | ">") => return Flag::High,
        Some("L" | "LL" | "LU" | "<") => return Flag::Low,
        Some("A" | "AA") => return Flag::Abnormal,
        Some("N") => return Flag::None,
        _ => {}
    }
    match (value, low, high) {
        (Some(x), Some(l), _) if x < l => Flag::Low,
        (Some(x), _, Some(h)) if x > h => Flag::High,
        _ => Flag::None,
    }
}

/// Whether an Observation is the patient's own entry (the health log, shown elsewhere).
fn patient_entered(r: &Value) -> bool {
    r.pointer("/meta/tag")
        .and_then(Value::as_array)
        .is_some_and(|tags| {
            tags.iter().any(|t| {
                str_at(t, "/system") == Some(PROVENANCE_TAG)
                    && str_at(t, "/code") == Some("patient-entered")
            })
        })
}

fn is_lab(r: &Value) -> bool {
    r.get("category")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|c| {
            code_in(
                Some(c),
                "http://terminology.hl7.org/CodeSystem/observation-category",
            ) == Some("laboratory")
        })
}

fn point(lang: Lang, s: &Stored, r: &Value, name: &str) -> Point {
    let when = str_at(r, "/effectiveDateTime")
        .or(str_at(r, "/effectivePeriod/start"))
        .or(str_at(r, "/issued"));
    let (low, high, range) = reference_range(lang, r);
    let mut numbers = Vec::new();
    let mut flag = Flag::None;
    let value = if let Some(q) = r.get("valueQuantity") {
        let x = number(q.get("value"));
        if let Some(x) = x {
            numbers.push((name.to_owned(), x));
        }
        flag = flag_of(r, x, low, high);
        let unit = unit_of(q);
        format!("{} {unit}", shown_number(lang, q.get("value")))
            .trim()
            .to_owned()
    } else if let Some(c) = r.get("valueCodeableConcept") {
        flag = flag_of(r, None, None, None);
        concept_in(lang, Some(c))
    } else if let Some(t) = str_at(r, "/valueString") {
        t.to_owned()
    } else if let Some(components) = r.get("component").and_then(Value::as_array) {
        // E.g. blood pressure: "139/94 mmHg", one line per component in the chart.
        let mut parts = Vec::new();
        let mut unit = String::new();
        for c in components {
            let Some(q) = c.get("valueQuantity") else {
                continue;
            };
            let x = number(q.get("value"));
            let (cl, ch, _) = reference_range(lang, c);
            flag = flag.worst(flag_of(c, x, cl, ch));
            if let Some(x) = x {
                numbers.push((concept_in(lang, c.get("code")), x));
            }
            parts.push(shown_number(lang, q.get("value")));
            unit = unit_of(q);
        }
        flag = flag.worst(flag_of(r, None, None, None));
        format!("{} {unit}", parts.join("/")).trim().to_owned()
    } else {
        String::new()
    };
    Point {
        date: parse_date(when),
        date_text: date_text(when),
        value,
        range,
        flag,
        flag_text: if flag == Flag::None {
            String::new()
        } else {
            lang.text(flag.key()).to_owned()
        },
        id: s.id.clone(),
        numbers,
        bounds: low.zip(high),
    }
}

/// The patient's results per test: lab tests first, then other measurements, by name.
/// Entries from the patient's own health log are left out (they have their own page).
pub(super) fn group(lang: Lang, observations: &[Stored]) -> Vec<Test> {
    let mut tests: Vec<Test> = Vec::new();
    for s in observations {
        let Some(r) = s.resource.as_ref() else {
            continue;
        };
        if patient_entered(r)
            || matches!(
                str_at(r, "/status"),
                Some("entered-in-error" | "cancelled" | "registered")
            )
        {
            continue;
        }
        let Some(key) = test_key(r.get("code")) else {
            continue;
        };
        let name = concept_in(lang, r.get("code"));
        let p = point(lang, s, r, &name);
        let unit = r
            .get("valueQuantity")
            .map(unit_of)
            .or_else(|| r.pointer("/component/0/valueQuantity").map(unit_of))
            .unwrap_or_default();
        let kind = if is_lab(r) {
            Kind::Lab
        } else {
            Kind::Measurement
        };
        match tests.iter_mut().find(|t| t.key == key) {
            Some(t) => {
                if t.unit.is_empty() {
                    t.unit = unit;
                }
                t.points.push(p);
            }
            None => tests.push(Test {
                key,
                name,
                unit,
                kind,
                points: vec![p],
            }),
        }
    }
    for t in &mut tests {
        t.points
            .sort_by(|a, b| b.date.cmp(&a.date).then(b.id.cmp(&a.id)));
    }
    tests.sort_by(|a, b| {
        a.kind
            .cmp(&b.kind)
            .then(a.name.to_lowercase().cmp(&b.name.to_lowercase()))
    });
    tests
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn stored(id: &str, r: Value) -> Stored {
        Stored {
            resource_type: "Observation".into(),
            id: id.into(),
            version: 1,
            last_updated: "2026-01-01T00:00:00Z".into(),
            patient_id: Some("p".into()),
            resource: Some(r),
        }
    }

    #[test]
    fn values_are_grouped_flagged_and_charted() {
        let lab = |v: f64, d: &str| {
            json!({"resourceType": "Observation", "status": "final",
                "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}]}],
                "code": {"coding": [{"system": "http://loinc.org", "code": "2093-3", "display": "Cholesterol"}], "text": "Cholesterol totaal"},
                "effectiveDateTime": d,
                "valueQuantity": {"value": v, "unit": "mmol/L"},
                "referenceRange": [{"low": {"value": 3.0, "unit": "mmol/L"}, "high": {"value": 5.0, "unit": "mmol/L"}}]})
        };
        let own = json!({"resourceType": "Observation", "status": "final",
            "meta": {"tag": [{"system": PROVENANCE_TAG, "code": "patient-entered"}]},
            "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
            "valueQuantity": {"value": 80, "unit": "kg"}});
        let list = vec![
            stored("a", lab(4.2, "2025-01-01")),
            stored("b", lab(5.7, "2026-01-01")),
            stored("c", own),
        ];
        let tests = group(Lang::Nl, &list);
        assert_eq!(tests.len(), 1, "the health log is not a result");
        let t = &tests[0];
        assert_eq!(t.key, "loinc-2093-3");
        assert_eq!(t.count(), 2);
        let latest = t.latest().map(|p| (p.value.clone(), p.flag));
        assert_eq!(latest, Some(("5,7 mmol/L".to_owned(), Flag::High)));
        assert_eq!(t.range_text(), "3,0 – 5,0 mmol/L");
        let english = group(Lang::En, &list);
        assert_eq!(english[0].range_text(), "3.0 – 5.0 mmol/L");
        assert!(t.chart().is_some_and(|svg| svg.contains("<svg")));
    }

    #[test]
    fn keys_are_safe_in_a_url() {
        let k = test_key(Some(
            &json!({"coding": [{"system": "http://example.org/x", "code": "a/b c"}]}),
        ));
        let k = k.unwrap_or_default();
        assert!(k.ends_with("-a_b_c"), "{k}");
        let text = test_key(Some(&json!({"text": "Buikomvang (cm)"}))).unwrap_or_default();
        assert!(
            text.starts_with("text-") && text.ends_with("-buikomvang__cm_"),
            "{text}"
        );
        assert!(k
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._".contains(c)));
    }
}
