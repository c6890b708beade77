//! FHIR data types as JSON, built directly: objects get their exact capacity up front
//! and strings are moved in, which matters when a million resources are made.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Number, Value};
use time::{Date, Month};

pub(crate) const LOINC: &str = "http://loinc.org";
pub(crate) const SNOMED: &str = "http://snomed.info/sct";
pub(crate) const UCUM: &str = "http://unitsofmeasure.org";
pub(crate) const ATC: &str = "http://www.whocc.no/atc";
pub(crate) const CVX: &str = "http://hl7.org/fhir/sid/cvx";
pub(crate) const BSN: &str = "http://fhir.nl/fhir/NamingSystem/bsn";
pub(crate) const AGB: &str = "http://fhir.nl/fhir/NamingSystem/agb-z";
pub(crate) const URA: &str = "http://fhir.nl/fhir/NamingSystem/ura";
pub(crate) const BIG: &str = "http://fhir.nl/fhir/NamingSystem/big";
pub(crate) const ROLE_CODE: &str = "http://terminology.hl7.org/CodeSystem/v3-RoleCode";
pub(crate) const ACT_CODE: &str = "http://terminology.hl7.org/CodeSystem/v3-ActCode";
pub(crate) const OBSERVATION_CATEGORY: &str =
    "http://terminology.hl7.org/CodeSystem/observation-category";
pub(crate) const INTERPRETATION: &str =
    "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation";
/// Our local code system for staff roles (the strings of [`crate::StaffMember::role`]).
pub(crate) const LOCAL_ROLE: &str = "urn:zorgkluis:role";
pub(crate) const LOCAL_ORGANISATION_KIND: &str = "urn:zorgkluis:organisation-kind";
pub(crate) const PATIENT_NUMBER: &str = "urn:zorgkluis:patient-number";
pub(crate) const PROVENANCE: &str = "urn:zorgkluis:provenance";
pub(crate) const SELF_MEASURE: &str = "urn:zorgkluis:self-measure";
pub(crate) const VIDEO_CONSULT: &str = "urn:zorgkluis:video-consult";

/// A JSON object with these fields, in this order; `null` values are left out (FHIR has
/// no nulls), which makes optional elements easy to write.
pub(crate) fn obj<const N: usize>(fields: [(&'static str, Value); N]) -> Value {
    let mut map = Map::with_capacity(N);
    for (key, value) in fields {
        if !value.is_null() {
            map.insert(key.to_owned(), value);
        }
    }
    Value::Object(map)
}

/// A JSON array of these items.
pub(crate) fn arr<const N: usize>(items: [Value; N]) -> Value {
    Value::Array(Vec::from(items))
}

/// A JSON string.
pub(crate) fn s(text: &str) -> Value {
    Value::String(text.to_owned())
}

/// `Some(x)` as a JSON value, `None` as `null` (left out by [`obj`]).
pub(crate) fn opt(value: Option<Value>) -> Value {
    value.unwrap_or(Value::Null)
}

/// A Coding.
pub(crate) fn coding(system: &str, code: &str, display: &str) -> Value {
    obj([
        ("system", s(system)),
        ("code", s(code)),
        ("display", s(display)),
    ])
}

/// A CodeableConcept with one coding (display as the code system has it) and a text (as
/// a Dutch reader would say it).
pub(crate) fn concept(system: &str, code: &str, display: &str, text: &str) -> Value {
    obj([
        ("coding", arr([coding(system, code, display)])),
        ("text", s(text)),
    ])
}

/// A CodeableConcept with only a text.
pub(crate) fn concept_text(text: &str) -> Value {
    obj([("text", s(text))])
}

/// A relative Reference: `{"reference": "Kind/id"}`.
pub(crate) fn reference(kind: &str, id: &str) -> Value {
    let mut r = String::with_capacity(kind.len() + 1 + id.len());
    r.push_str(kind);
    r.push('/');
    r.push_str(id);
    obj([("reference", Value::String(r))])
}

/// A relative Reference with a display text.
pub(crate) fn reference_display(kind: &str, id: &str, display: &str) -> Value {
    let mut r = reference(kind, id);
    if let Value::Object(m) = &mut r {
        m.insert("display".to_owned(), s(display));
    }
    r
}

/// `x` rounded to `decimals` places, as a JSON number.
pub(crate) fn decimal(x: f64, decimals: u32) -> Value {
    if decimals == 0 {
        return Value::from(x.round() as i64);
    }
    let scale = f64::from(10u32.pow(decimals));
    Number::from_f64((x * scale).round() / scale).map_or(Value::Null, Value::Number)
}

/// A Quantity with a UCUM unit.
pub(crate) fn quantity(value: Value, unit: &str) -> Value {
    obj([
        ("value", value),
        ("unit", s(unit)),
        ("system", s(UCUM)),
        ("code", s(unit)),
    ])
}

/// An observation category, e.g. `vital-signs`.
pub(crate) fn observation_category(code: &str, display: &str) -> Value {
    obj([("coding", arr([coding(OBSERVATION_CATEGORY, code, display)]))])
}

fn push_digits(out: &mut String, n: u32, width: u32) {
    for i in (0..width).rev() {
        out.push(char::from(b'0' + ((n / 10u32.pow(i)) % 10) as u8));
    }
}

/// FHIR `date`: `YYYY-MM-DD`.
pub(crate) fn date(d: Date) -> String {
    let mut out = String::with_capacity(25);
    push_date(&mut out, d);
    out
}

fn push_date(out: &mut String, d: Date) {
    push_digits(out, d.year().unsigned_abs(), 4);
    out.push('-');
    push_digits(out, u32::from(u8::from(d.month())), 2);
    out.push('-');
    push_digits(out, u32::from(d.day()), 2);
}

/// FHIR `dateTime` (also a valid `instant`) in Dutch local time, with the summer or
/// winter offset of that day.
pub(crate) fn date_time(d: Date, hour: u8, minute: u8) -> String {
    let mut out = String::with_capacity(25);
    push_date(&mut out, d);
    out.push('T');
    push_digits(&mut out, u32::from(hour), 2);
    out.push(':');
    push_digits(&mut out, u32::from(minute), 2);
    out.push_str(if summer_time(d) {
        ":00+02:00"
    } else {
        ":00+01:00"
    });
    out
}

/// Central European Summer Time: from the last Sunday of March to the last Sunday of
/// October (the hour of the switch is ignored).
fn summer_time(d: Date) -> bool {
    let last_sunday = |month: Month| {
        Date::from_calendar_date(d.year(), month, 31)
            .map_or(31, |end| 31 - end.weekday().number_days_from_sunday())
    };
    match d.month() {
        Month::April
        | Month::May
        | Month::June
        | Month::July
        | Month::August
        | Month::September => true,
        Month::March => d.day() >= last_sunday(Month::March),
        Month::October => d.day() < last_sunday(Month::October),
        _ => false,
    }
}

/// Whole years between `birth` and `on`.
pub(crate) fn age_on(birth: Date, on: Date) -> u32 {
    let mut years = on.year() - birth.year();
    if (on.month() as u8, on.day()) < (birth.month() as u8, birth.day()) {
        years -= 1;
    }
    years.max(0).unsigned_abs()
}

/// A UUID-shaped (version 4) id from the record's own generator: pseudonymous, and the
/// same every time for the same seed.
pub(crate) fn uuid(rng: &mut ChaCha8Rng) -> String {
    let bytes: [u8; 16] = rng.gen();
    let id = uuid::Builder::from_random_bytes(bytes).into_uuid();
    let mut buf = uuid::Uuid::encode_buffer();
    id.hyphenated().encode_lower(&mut buf).to_owned()
}

/// `n` random decimal digits.
pub(crate) fn digits(rng: &mut ChaCha8Rng, n: usize) -> String {
    (0..n)
        .map(|_| char::from(b'0' + rng.gen_range(0..10u8)))
        .collect()
}

/// Standard base64 with padding (RFC 4648), for `Attachment.data`.
pub(crate) fn base64(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(T[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Lower-case ASCII for logins and e-mail addresses: diacritics dropped, spaces and
/// anything else left out ("van der Berg" → "vanderberg", "Anaïs" → "anais").
pub(crate) fn ascii(text: &str) -> String {
    text.chars()
        .flat_map(char::to_lowercase)
        .filter_map(|c| match c {
            'a'..='z' | '0'..='9' => Some(c),
            'á' | 'à' | 'ä' | 'â' => Some('a'),
            'é' | 'è' | 'ë' | 'ê' => Some('e'),
            'í' | 'ì' | 'ï' | 'î' | 'ı' => Some('i'),
            'ó' | 'ò' | 'ö' | 'ô' => Some('o'),
            'ú' | 'ù' | 'ü' | 'û' => Some('u'),
            'ç' => Some('c'),
            'ş' => Some('s'),
            'ğ' => Some('g'),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn base64_matches_the_standard() {
        assert_eq!(base64(b"Zorgkluis"), "Wm9yZ2tsdWlz");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b"a"), "YQ==");
        assert_eq!(base64(b""), "");
    }

    #[test]
    fn dates_have_fhir_syntax_and_dutch_offsets() {
        assert_eq!(date(date!(2026 - 01 - 05)), "2026-01-05");
        assert_eq!(
            date_time(date!(2026 - 01 - 05), 9, 5),
            "2026-01-05T09:05:00+01:00"
        );
        assert_eq!(
            date_time(date!(2026 - 07 - 01), 14, 30),
            "2026-07-01T14:30:00+02:00"
        );
        // 2026: summer time from Sunday 29 March to Sunday 25 October.
        assert!(!summer_time(date!(2026 - 03 - 28)));
        assert!(summer_time(date!(2026 - 03 - 29)));
        assert!(summer_time(date!(2026 - 10 - 24)));
        assert!(!summer_time(date!(2026 - 10 - 25)));
    }

    #[test]
    fn ages_count_whole_years() {
        assert_eq!(age_on(date!(2010 - 11 - 24), date!(2026 - 11 - 23)), 15);
        assert_eq!(age_on(date!(2010 - 11 - 23), date!(2026 - 11 - 23)), 16);
    }

    #[test]
    fn ascii_drops_diacritics_and_spaces() {
        assert_eq!(ascii("van der Berg"), "vanderberg");
        assert_eq!(ascii("Anaïs"), "anais");
        assert_eq!(ascii("Yılmaz"), "yilmaz");
        assert_eq!(ascii("Çelik"), "celik");
    }

    #[test]
    fn objects_leave_out_nulls() {
        let v = obj([("a", s("x")), ("b", Value::Null), ("c", opt(None))]);
        assert_eq!(v.to_string(), r#"{"a":"x"}"#);
    }
}
