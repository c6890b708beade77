//! Small readers that turn FHIR JSON into text for pages. The server keeps resources as
//! JSON and types only what it reasons about; pages read what they show through these.

use serde_json::Value;

/// A string at a JSON pointer.
pub fn str_at<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer).and_then(Value::as_str)
}

/// A CodeableConcept as text: its `text`, else the first coding's display, else its code.
pub fn concept(v: Option<&Value>) -> String {
    let Some(v) = v else {
        return String::new();
    };
    if let Some(t) = v.get("text").and_then(Value::as_str) {
        return t.to_owned();
    }
    let codings = v.get("coding").and_then(Value::as_array);
    codings
        .and_then(|c| {
            c.iter()
                .find_map(|c| c.get("display").and_then(Value::as_str))
                .or_else(|| c.iter().find_map(|c| c.get("code").and_then(Value::as_str)))
        })
        .unwrap_or("")
        .to_owned()
}

/// The first coding's `system|code` of a CodeableConcept (to group results by test).
pub fn concept_key(v: Option<&Value>) -> Option<String> {
    let c = v?.get("coding")?.as_array()?.first()?;
    let code = c.get("code")?.as_str()?;
    let system = c.get("system").and_then(Value::as_str).unwrap_or("");
    Some(format!("{system}|{code}"))
}

/// A HumanName list as "Given Family" (the official name first).
pub fn human_name(names: Option<&Value>) -> String {
    let Some(list) = names.and_then(Value::as_array) else {
        return String::new();
    };
    let name = list
        .iter()
        .find(|n| n.get("use").and_then(Value::as_str) == Some("official"))
        .or_else(|| list.first());
    let Some(name) = name else {
        return String::new();
    };
    if let Some(t) = name.get("text").and_then(Value::as_str) {
        return t.to_owned();
    }
    let given: Vec<&str> = name
        .get("given")
        .and_then(Value::as_array)
        .map(|g| g.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let family = name.get("family").and_then(Value::as_str).unwrap_or("");
    let mut s = given.join(" ");
    if !family.is_empty() {
        if !s.is_empty() {
            s.push(' ');
        }
        s.push_str(family);
    }
    s
}

/// A Quantity as "7.4 mmol/L".
pub fn quantity(v: Option<&Value>) -> String {
    let Some(q) = v else {
        return String::new();
    };
    let value = q.get("value").map(number_text).unwrap_or_default();
    let unit = q
        .get("unit")
        .or_else(|| q.get("code"))
        .and_then(Value::as_str)
        .unwrap_or("");
    if unit.is_empty() {
        value
    } else {
        format!("{value} {unit}")
    }
}

fn number_text(v: &Value) -> String {
    match v {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        _ => String::new(),
    }
}

/// A FHIR date or dateTime shown as "dd-mm-yyyy" (with "hh:mm" when it has a time).
pub fn date_text(v: Option<&str>) -> String {
    let Some(s) = v else {
        return String::new();
    };
    let (date, time) = s.split_once('T').unwrap_or((s, ""));
    let parts: Vec<&str> = date.split('-').collect();
    let date = match parts.as_slice() {
        [y, m, d] => format!("{d}-{m}-{y}"),
        [y, m] => format!("{m}-{y}"),
        _ => date.to_owned(),
    };
    if time.len() >= 5 {
        format!("{date} {}", &time[..5])
    } else {
        date
    }
}

/// The date part of a FHIR date/dateTime as a `time::Date`.
pub fn parse_date(v: Option<&str>) -> Option<time::Date> {
    let s = v?;
    let d = s.get(..10)?;
    time::Date::parse(d, time::macros::format_description!("[year]-[month]-[day]")).ok()
}

/// The id in a reference "Type/id".
pub fn reference_id<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    str_at(v, pointer).and_then(|r| r.rsplit('/').next())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn texts_of_common_elements() {
        assert_eq!(
            concept(Some(
                &json!({"coding": [{"code": "x", "display": "Diabetes"}]})
            )),
            "Diabetes"
        );
        assert_eq!(
            human_name(Some(
                &json!([{"given": ["Anna", "M."], "family": "de Vries"}])
            )),
            "Anna M. de Vries"
        );
        assert_eq!(
            quantity(Some(&json!({"value": 7.4, "unit": "mmol/L"}))),
            "7.4 mmol/L"
        );
        assert_eq!(
            date_text(Some("2026-03-01T09:30:00+01:00")),
            "01-03-2026 09:30"
        );
        assert_eq!(date_text(Some("2026-03-01")), "01-03-2026");
        assert_eq!(
            parse_date(Some("2026-03-01T09:30:00Z")),
            Some(time::macros::date!(2026 - 03 - 01))
        );
    }
}
