//! "My details" (PC-12): the patient (or their representative) sees their personal
//! details and corrects their contact details. Each correction is a new version of the
//! Patient resource, written through the vault (decided and audited); the versions are
//! listed with their dates.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use serde::Deserialize;
use serde_json::{json, Value};
use zorgkluis_vault::{Stored, VaultError};

use super::pages::{own_title, patient_subject, Done};
use super::view::{coded, local_datetime, mask_bsn, Subject};
use crate::i18n::Lang;
use crate::portal::fhirtext::str_at;
use crate::portal::{page_or_error, render, see_other, Chrome, Portal, PortalError};
use crate::AppState;

const BSN_SYSTEM: &str = "http://fhir.nl/fhir/NamingSystem/bsn";

/// The contact details as the form holds them.
#[derive(Deserialize, Default, Clone)]
pub(super) struct ContactForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    version: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    line: String,
    #[serde(default)]
    postal_code: String,
    #[serde(default)]
    city: String,
}

/// One version of the details.
struct VersionRow {
    version: i64,
    date: String,
    phone: String,
    email: String,
    address: String,
    deleted: bool,
}

#[derive(Template)]
#[template(path = "record/details.html")]
struct DetailsPage {
    c: Chrome,
    subject: Subject,
    bsn: String,
    gender: String,
    address: String,
    form: ContactForm,
    version: i64,
    history: Vec<VersionRow>,
    /// Which fields the error is about (for `aria-invalid`).
    invalid: Vec<&'static str>,
}

impl DetailsPage {
    fn is_invalid(&self, field: &str) -> bool {
        self.invalid.contains(&field)
    }
}

fn telecom(r: &Value, system: &str) -> String {
    r.get("telecom")
        .and_then(Value::as_array)
        .and_then(|t| {
            t.iter()
                .find(|c| str_at(c, "/system") == Some(system))
                .and_then(|c| str_at(c, "/value"))
        })
        .unwrap_or("")
        .to_owned()
}

/// The home address (else the first).
fn home_address(r: &Value) -> Option<&Value> {
    let list = r.get("address")?.as_array()?;
    list.iter()
        .find(|a| str_at(a, "/use") == Some("home"))
        .or_else(|| list.first())
}

fn address_parts(r: &Value) -> (String, String, String) {
    let Some(a) = home_address(r) else {
        return Default::default();
    };
    let line = a
        .get("line")
        .and_then(Value::as_array)
        .map(|l| {
            l.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default();
    (
        line,
        str_at(a, "/postalCode").unwrap_or("").to_owned(),
        str_at(a, "/city").unwrap_or("").to_owned(),
    )
}

fn address_text(r: &Value) -> String {
    let (line, postal, city) = address_parts(r);
    let place = format!("{postal} {city}").trim().to_owned();
    [line, place]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(", ")
}

fn form_of(r: &Value) -> ContactForm {
    let (line, postal_code, city) = address_parts(r);
    ContactForm {
        phone: telecom(r, "phone"),
        email: telecom(r, "email"),
        line,
        postal_code,
        city,
        ..ContactForm::default()
    }
}

pub(super) async fn show(
    State(state): State<AppState>,
    mut portal: Portal,
    Query(done): Query<Done>,
) -> Response {
    let result = async {
        let (subject, stored) = patient_subject(&state, &mut portal).await?;
        let r = stored.resource.clone().unwrap_or(Value::Null);
        let mut page = details_page(&state, &portal, subject, &stored, form_of(&r)).await?;
        page.c.flash = done.flash(portal.lang);
        Ok(render(&page))
    }
    .await;
    page_or_error(&portal, result)
}

async fn details_page(
    state: &AppState,
    portal: &Portal,
    subject: Subject,
    stored: &Stored,
    form: ContactForm,
) -> Result<DetailsPage, PortalError> {
    let lang = portal.lang;
    let r = stored.resource.clone().unwrap_or(Value::Null);
    let bsn = r
        .get("identifier")
        .and_then(Value::as_array)
        .and_then(|ids| {
            ids.iter()
                .find(|i| str_at(i, "/system") == Some(BSN_SYSTEM))
                .and_then(|i| str_at(i, "/value"))
        })
        .map(mask_bsn)
        .unwrap_or_default();
    let gender = str_at(&r, "/gender")
        .and_then(|g| coded(lang, "gender", g))
        .unwrap_or("")
        .to_owned();
    let versions = state
        .vault
        .history(portal.principal(), "Patient", &subject.id)
        .await
        .map_err(PortalError::from_vault)?;
    let history = versions
        .iter()
        .map(|v| match &v.resource {
            Some(r) => VersionRow {
                version: v.version,
                date: local_datetime(&v.last_updated),
                phone: telecom(r, "phone"),
                email: telecom(r, "email"),
                address: address_text(r),
                deleted: false,
            },
            None => VersionRow {
                version: v.version,
                date: local_datetime(&v.last_updated),
                phone: String::new(),
                email: String::new(),
                address: String::new(),
                deleted: true,
            },
        })
        .collect();
    let mut c = portal.chrome("record.details-title");
    own_title(portal, &mut c, "record.details-of", &subject);
    Ok(DetailsPage {
        c,
        address: address_text(&r),
        version: stored.version,
        subject,
        bsn,
        gender,
        form,
        history,
        invalid: Vec::new(),
    })
}

// ---------------------------------------------------------------------------------------
// Validation.

/// A plausible e-mail address: one `@`, a name before it, a domain with a dot after it,
/// no spaces.
fn valid_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
        && s.len() <= 254
}

/// A phone number: digits with optional `+` at the start and spaces, dashes or
/// brackets between; 10 to 15 digits.
fn valid_phone(s: &str) -> bool {
    let digits = s.chars().filter(char::is_ascii_digit).count();
    let allowed = s
        .chars()
        .enumerate()
        .all(|(i, c)| c.is_ascii_digit() || " -()".contains(c) || (c == '+' && i == 0));
    allowed && (10..=15).contains(&digits)
}

/// A Dutch postal code: four digits (not starting with 0), two letters.
fn normal_postal_code(s: &str) -> Option<String> {
    let compact: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    let (digits, letters) = compact.split_at_checked(4)?;
    let ok = digits.chars().all(|c| c.is_ascii_digit())
        && !digits.starts_with('0')
        && letters.len() == 2
        && letters.chars().all(|c| c.is_ascii_alphabetic());
    ok.then(|| format!("{digits} {}", letters.to_ascii_uppercase()))
}

fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Checks and normalises the form; the errors as (field, translated message).
fn validate(lang: Lang, form: &ContactForm) -> Result<ContactForm, Vec<(&'static str, String)>> {
    let mut errors = Vec::new();
    let mut out = form.clone();
    out.phone = collapse(&form.phone);
    out.email = form.email.trim().to_owned();
    out.line = collapse(&form.line);
    out.city = collapse(&form.city);
    if !out.phone.is_empty() && !valid_phone(&out.phone) {
        errors.push(("phone", lang.text("record.error-phone").to_owned()));
    }
    if !out.email.is_empty() && !valid_email(&out.email) {
        errors.push(("email", lang.text("record.error-email").to_owned()));
    }
    let postal = form.postal_code.trim();
    if !postal.is_empty() {
        match normal_postal_code(postal) {
            Some(p) => out.postal_code = p,
            None => errors.push((
                "postal_code",
                lang.text("record.error-postal-code").to_owned(),
            )),
        }
    } else {
        out.postal_code = String::new();
    }
    for (field, value) in [("line", &out.line), ("city", &out.city)] {
        if value.chars().count() > 200 || value.chars().any(char::is_control) {
            errors.push((field, lang.text("record.error-too-long").to_owned()));
        }
    }
    let has_address = !out.line.is_empty() || !out.postal_code.is_empty() || !out.city.is_empty();
    let full_address = !out.line.is_empty() && !out.postal_code.is_empty() && !out.city.is_empty();
    if has_address && !full_address {
        errors.push((
            "line",
            lang.text("record.error-address-incomplete").to_owned(),
        ));
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// Sets (or with an empty value removes) the first contact point of a system.
fn set_telecom(r: &mut Value, system: &str, value: &str, default_use: &str) {
    let Some(obj) = r.as_object_mut() else { return };
    let list = obj
        .entry("telecom")
        .or_insert_with(|| Value::Array(Vec::new()));
    if !list.is_array() {
        *list = Value::Array(Vec::new());
    }
    let Some(items) = list.as_array_mut() else {
        return;
    };
    let at = items
        .iter()
        .position(|c| str_at(c, "/system") == Some(system));
    match (at, value.is_empty()) {
        (Some(i), true) => {
            items.remove(i);
        }
        (Some(i), false) => {
            if let Some(c) = items.get_mut(i).and_then(Value::as_object_mut) {
                c.insert("value".into(), Value::String(value.to_owned()));
            }
        }
        (None, false) => items.push(json!({"system": system, "value": value, "use": default_use})),
        (None, true) => {}
    }
    if items.is_empty() {
        obj.remove("telecom");
    }
}

/// Sets (or with all parts empty removes) the home address.
fn set_address(r: &mut Value, form: &ContactForm) {
    let Some(obj) = r.as_object_mut() else { return };
    let list = obj
        .entry("address")
        .or_insert_with(|| Value::Array(Vec::new()));
    if !list.is_array() {
        *list = Value::Array(Vec::new());
    }
    let Some(items) = list.as_array_mut() else {
        return;
    };
    let at = items
        .iter()
        .position(|a| str_at(a, "/use") == Some("home"))
        .or(if items.is_empty() { None } else { Some(0) });
    let empty = form.line.is_empty() && form.postal_code.is_empty() && form.city.is_empty();
    match (at, empty) {
        (Some(i), true) => {
            items.remove(i);
        }
        (Some(i), false) => {
            if let Some(a) = items.get_mut(i).and_then(Value::as_object_mut) {
                a.insert("line".into(), json!([form.line]));
                a.insert("postalCode".into(), Value::String(form.postal_code.clone()));
                a.insert("city".into(), Value::String(form.city.clone()));
                a.remove("text");
            }
        }
        (None, false) => items.push(json!({
            "use": "home", "line": [form.line], "postalCode": form.postal_code,
            "city": form.city, "country": "NL"
        })),
        (None, true) => {}
    }
    if items.is_empty() {
        obj.remove("address");
    }
}

/// The Patient with the form's contact details.
fn corrected(current: &Value, form: &ContactForm) -> Value {
    let mut r = current.clone();
    set_telecom(&mut r, "phone", &form.phone, "mobile");
    set_telecom(&mut r, "email", &form.email, "home");
    set_address(&mut r, form);
    r
}

fn without_meta(r: &Value) -> Value {
    let mut r = r.clone();
    if let Some(o) = r.as_object_mut() {
        o.remove("meta");
    }
    r
}

pub(super) async fn save(
    State(state): State<AppState>,
    mut portal: Portal,
    Form(form): Form<ContactForm>,
) -> Response {
    let result = save_details(&state, &mut portal, form).await;
    page_or_error(&portal, result)
}

async fn save_details(
    state: &AppState,
    portal: &mut Portal,
    form: ContactForm,
) -> Result<Response, PortalError> {
    portal.check_csrf(state, &form.csrf)?;
    let (subject, stored) = patient_subject(state, portal).await?;
    let lang = portal.lang;
    let current = stored.resource.clone().unwrap_or(Value::Null);
    let clean = match validate(lang, &form) {
        Ok(clean) => clean,
        Err(errors) => {
            let mut page = details_page(state, portal, subject, &stored, form).await?;
            page.c.error = Some(
                errors
                    .iter()
                    .map(|(_, m)| m.as_str())
                    .collect::<Vec<_>>()
                    .join(" "),
            );
            page.invalid = errors.iter().map(|(f, _)| *f).collect();
            let mut response = render(&page);
            *response.status_mut() = StatusCode::BAD_REQUEST;
            return Ok(response);
        }
    };
    // The form was for the version the patient saw; a change in between is not
    // overwritten silently.
    let seen: i64 = form.version.trim().parse().unwrap_or(stored.version);
    let updated = corrected(&current, &clean);
    if without_meta(&updated) == without_meta(&current) {
        return Ok(see_other("/patient/details?done=unchanged"));
    }
    match state
        .vault
        .update(
            portal.principal(),
            "Patient",
            &subject.id,
            updated,
            Some(seen),
        )
        .await
    {
        Ok(_) => Ok(see_other("/patient/details?done=details-saved")),
        Err(VaultError::Conflict { .. }) => {
            let mut page = details_page(state, portal, subject, &stored, clean).await?;
            page.c.error = Some(lang.text("record.error-changed-meanwhile").to_owned());
            let mut response = render(&page);
            *response.status_mut() = StatusCode::CONFLICT;
            Ok(response)
        }
        Err(e) => Err(PortalError::from_vault(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contact_details_are_checked_with_clear_rules() {
        assert!(valid_email("anna.visser@example.nl"));
        assert!(!valid_email("anna.visser@"));
        assert!(!valid_email("anna visser@example.nl"));
        assert!(!valid_email("anna@example"));
        assert!(valid_phone("06-12345678"));
        assert!(valid_phone("+31 6 1234 5678"));
        assert!(!valid_phone("0612"));
        assert!(!valid_phone("06-1234567a"));
        assert_eq!(normal_postal_code("3816mv").as_deref(), Some("3816 MV"));
        assert_eq!(normal_postal_code("0123 AB"), None);
        assert_eq!(normal_postal_code("12345"), None);
    }

    #[test]
    fn a_correction_changes_only_contact_details() {
        let current = json!({"resourceType": "Patient", "id": "p", "birthDate": "1980-01-01",
            "telecom": [{"system": "phone", "value": "0612345678", "use": "mobile"},
                        {"system": "fax", "value": "x"}],
            "address": [{"use": "home", "line": ["Oud 1"], "postalCode": "1234 AB", "city": "A", "country": "NL"}]});
        let form = ContactForm {
            phone: String::new(),
            email: "a@b.nl".into(),
            line: "Nieuw 2".into(),
            postal_code: "4321 BA".into(),
            city: "B".into(),
            ..ContactForm::default()
        };
        let r = corrected(&current, &form);
        assert_eq!(r["birthDate"], "1980-01-01");
        assert_eq!(telecom(&r, "phone"), "");
        assert_eq!(telecom(&r, "fax"), "x");
        assert_eq!(telecom(&r, "email"), "a@b.nl");
        assert_eq!(address_text(&r), "Nieuw 2, 4321 BA B");
        assert_eq!(r["address"][0]["country"], "NL");
    }
}
