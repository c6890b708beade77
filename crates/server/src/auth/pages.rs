//! The login and account pages (Dutch first, English on request). Plain, accessible HTML
//! without scripts; the portal's full templates come with the portal.

use axum::response::Html;
use zorgkluis_vault::{Principal, CONFIDENTIALITY_VERSION};

pub use crate::i18n::Lang;

/// Escapes text for HTML.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn page(lang: Lang, title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=\"{code}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · Zorgkluis</title><link rel=\"stylesheet\" href=\"/static/zorgkluis.css\"><link rel=\"icon\" href=\"/static/icon.svg\" type=\"image/svg+xml\"></head>\
         <body><header class=\"top\"><a class=\"brand\" href=\"/\">Zorgkluis</a> \
         <a class=\"lang\" href=\"?lang={other}\" lang=\"{other}\">{switch}</a></header>\
         <main id=\"main\"><div class=\"card narrow\"><h1>{title}</h1>{body}</div></main></body></html>",
        code = lang.code(),
        other = lang.other().code(),
        title = escape(title),
        switch = lang.t("other-lang"),
    ))
}

/// The login form.
pub fn login(
    lang: Lang,
    csrf: &str,
    error: Option<&str>,
    code_needed: bool,
    login: &str,
    next: &str,
) -> Html<String> {
    let next = if next.is_empty() {
        String::new()
    } else {
        format!(
            "<input type=\"hidden\" name=\"next\" value=\"{}\">",
            escape(next)
        )
    };
    let error = error
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", escape(e)))
        .unwrap_or_default();
    let autofocus_code = if code_needed { " autofocus" } else { "" };
    page(
        lang,
        lang.t("title"),
        &format!(
            "{error}<form method=\"post\" action=\"/login\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
             <input type=\"hidden\" name=\"lang\" value=\"{code}\">{next}\
             <label>{l}<input name=\"login\" autocomplete=\"username\" required value=\"{login}\"></label>\
             <label>{p}<input name=\"password\" type=\"password\" autocomplete=\"current-password\" required></label>\
             <label>{c}<input name=\"code\" inputmode=\"numeric\" autocomplete=\"one-time-code\"{autofocus_code}></label>\
             <button type=\"submit\">{s}</button></form>",
            csrf = escape(csrf),
            code = lang.code(),
            l = lang.t("login"),
            p = lang.t("password"),
            c = lang.t("code"),
            s = lang.t("submit"),
            login = escape(login),
        ),
    )
}

/// A page with one message.
pub fn message(lang: Lang, text: &str) -> Html<String> {
    page(lang, "Zorgkluis", &format!("<p>{}</p>", escape(text)))
}

/// Who is logged in, the confidentiality agreement where it is still to be accepted,
/// and logout.
pub fn me(lang: Lang, principal: &Principal, csrf: &str) -> Html<String> {
    let actor = principal.actor();
    let name = actor.display.as_deref().unwrap_or(&actor.user_id);
    let mut body = format!(
        "<p>{} <strong>{}</strong></p>",
        lang.t("welcome"),
        escape(name)
    );
    let form = |action: &str, label: &str| {
        format!(
            "<form method=\"post\" action=\"{action}\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
             <input type=\"hidden\" name=\"lang\" value=\"{}\"><button type=\"submit\">{label}</button></form>",
            escape(csrf),
            lang.code()
        )
    };
    match principal {
        Principal::Staff(staff) => {
            body.push_str(&format!(
                "<p>{}: {} · {}: {}</p>",
                lang.t("role"),
                escape(staff.role.code()),
                lang.t("organisation"),
                escape(&staff.organisation.id)
            ));
            if staff.confidentiality_accepted {
                body.push_str(&format!("<p>{}</p>", lang.t("accepted")));
                let link = if staff.role == zorgkluis_policy::StaffRole::PrivacyOfficer {
                    format!(
                        "<a href=\"/fhir/AuditEvent?_count=100\">{}</a>",
                        lang.t("audit")
                    )
                } else {
                    format!(
                        "<a href=\"/fhir/Patient?_count=50\">{}</a>",
                        lang.t("patients")
                    )
                };
                body.push_str(&format!(
                    "<p><a class=\"button\" href=\"/\">{}</a></p><p>{}</p><ul><li>{link}</li></ul>",
                    lang.t("to-portal"),
                    lang.t("api")
                ));
            } else {
                body.push_str(&format!(
                    "<h2>{}</h2><p>{}</p><p><small>{}</small></p>{}",
                    lang.t("agreement"),
                    lang.t("agreement-text"),
                    CONFIDENTIALITY_VERSION,
                    form("/confidentiality", lang.t("accept"))
                ));
            }
        }
        Principal::Patient { patient_id, .. } => body.push_str(&format!(
            "<p>{}</p><p><a class=\"button\" href=\"/patient\">{}</a></p><p>{}</p><ul><li><a href=\"/fhir/Patient/{id}/$everything\">{}</a></li>\
             <li><a href=\"/fhir/AuditEvent?patient={id}\">{}</a></li></ul>",
            lang.t("patient"),
            lang.t("to-portal"),
            lang.t("api"),
            lang.t("my-record"),
            lang.t("who-viewed"),
            id = escape(patient_id),
        )),
        Principal::Representative { represents, .. } => body.push_str(&format!(
            "<p>{} {} </p>",
            lang.t("representative"),
            represents.len()
        )),
        Principal::Operator { .. } | Principal::System(_) => {}
    }
    body.push_str(&form("/logout", lang.t("logout")));
    page(lang, "Zorgkluis", &body)
}
