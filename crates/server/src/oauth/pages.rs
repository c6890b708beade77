//! The consent page of the authorization-code flow (Dutch first, English on request),
//! plain HTML without scripts like the login pages.

use axum::response::Html;
use zorgkluis_vault::{PendingAuthorization, Scope, ScopeContext};

use crate::auth::Lang;

/// Escapes text for HTML.
pub(crate) fn escape(s: &str) -> String {
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

fn code(lang: Lang) -> &'static str {
    match lang {
        Lang::Nl => "nl",
        Lang::En => "en",
    }
}

/// A text of these pages.
pub(crate) fn t(lang: Lang, key: &str) -> &'static str {
    let (nl, en) = match key {
        "title" => ("Toegang voor een app", "Access for an app"),
        "asks" => ("vraagt toegang tot uw gegevens in Zorgkluis, als", "asks for access to your data in Zorgkluis, as"),
        "may" => ("De app mag:", "The app may:"),
        "narrow" => (
            "De app ziet nooit meer dan u zelf mag zien. Elke inzage wordt vastgelegd. De toegang vervalt na een uur; u kunt de app intrekken via de beheerder.",
            "The app never sees more than you may see yourself. Every access is logged. Access ends after one hour; the administrator can revoke the app.",
        ),
        "patient" => ("Voor wie", "On behalf of"),
        "approve" => ("Toestaan", "Allow"),
        "deny" => ("Weigeren", "Deny"),
        "csrf" => (
            "Dit formulier is verlopen of niet vanaf deze site verstuurd. Laad de pagina opnieuw.",
            "This form has expired or was not sent from this site. Please reload the page.",
        ),
        "error" => ("Deze aanvraag kan niet worden verwerkt:", "This request cannot be handled:"),
        "unavailable" => ("Dit lukt nu niet. Probeer het later opnieuw.", "This is not possible right now. Please try again later."),
        "read" => ("lezen", "read"),
        "write" => ("vastleggen en wijzigen", "record and change"),
        "all-types" => ("alle gegevens", "all data"),
        "ctx-patient" => ("van de gekozen patiënt", "of the chosen patient"),
        "ctx-user" => ("die u mag inzien", "that you may see"),
        "ctx-system" => ("van de organisatie", "of the organisation"),
        "launch-patient" => ("weten over welke patiënt het gaat", "know which patient it is about"),
        "openid" => ("weten wie u bent", "know who you are"),
        _ => ("", ""),
    };
    match lang {
        Lang::Nl => nl,
        Lang::En => en,
    }
}

fn page(lang: Lang, title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=\"{code}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><style>body{{font-family:system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem;color:#1b2a3a}}\
         label{{display:block;margin-top:1rem}}select{{width:100%;padding:.5rem;font-size:1rem}}\
         button{{margin-top:1.2rem;margin-right:.6rem;padding:.6rem 1.2rem;font-size:1rem}}.error{{color:#a40000}}</style></head>\
         <body><header><strong>Zorgkluis</strong></header>\
         <main><h1>{title}</h1>{body}</main></body></html>",
        code = code(lang),
        title = escape(title),
    ))
}

/// A page with one message.
pub(crate) fn message(lang: Lang, text: &str) -> Html<String> {
    page(
        lang,
        t(lang, "title"),
        &format!("<p class=\"error\" role=\"alert\">{}</p>", escape(text)),
    )
}

/// An error in the request that is not sent back to the app.
pub(crate) fn request_error(lang: Lang, detail: &str) -> Html<String> {
    page(
        lang,
        t(lang, "title"),
        &format!(
            "<p class=\"error\" role=\"alert\">{} {}</p>",
            t(lang, "error"),
            escape(detail)
        ),
    )
}

fn describe(lang: Lang, scope: &Scope) -> Option<String> {
    Some(match scope {
        Scope::Resource(r) => {
            let what = match (r.read, r.write) {
                (true, true) => format!("{} + {}", t(lang, "read"), t(lang, "write")),
                (false, true) => t(lang, "write").to_owned(),
                _ => t(lang, "read").to_owned(),
            };
            let types = r
                .resource_type
                .clone()
                .unwrap_or_else(|| t(lang, "all-types").to_owned());
            let ctx = match r.context {
                ScopeContext::Patient => t(lang, "ctx-patient"),
                ScopeContext::User => t(lang, "ctx-user"),
                ScopeContext::System => t(lang, "ctx-system"),
            };
            format!("{what}: {types} {ctx}")
        }
        Scope::LaunchPatient => t(lang, "launch-patient").to_owned(),
        Scope::OpenId | Scope::FhirUser => t(lang, "openid").to_owned(),
        Scope::OfflineAccess => return None,
    })
}

/// The consent page: who asks, for what, and an approve / deny form (CSRF protected).
pub(crate) fn consent(
    lang: Lang,
    pending: &PendingAuthorization,
    user_name: &str,
    hidden: &[(&str, &str)],
) -> Html<String> {
    let mut items: Vec<String> = pending
        .scopes
        .iter()
        .filter_map(|s| describe(lang, s))
        .collect();
    items.dedup();
    let list: String = items
        .iter()
        .map(|i| format!("<li>{}</li>", escape(i)))
        .collect();
    let fields: String = hidden
        .iter()
        .map(|(k, v)| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                escape(k),
                escape(v)
            )
        })
        .collect();
    let patient = if pending.patients.len() > 1 {
        let options: String = pending
            .patients
            .iter()
            .map(|p| format!("<option value=\"{0}\">{0}</option>", escape(p)))
            .collect();
        format!(
            "<label>{}<select name=\"patient\" required>{options}</select></label>",
            t(lang, "patient")
        )
    } else {
        String::new()
    };
    page(
        lang,
        t(lang, "title"),
        &format!(
            "<p><strong>{client}</strong> {asks} <strong>{user}</strong>.</p>\
             <p>{may}</p><ul>{list}</ul><p><small>{narrow}</small></p>\
             <form method=\"post\" action=\"/oauth/authorize\">{fields}{patient}\
             <button type=\"submit\" name=\"decision\" value=\"approve\">{approve}</button>\
             <button type=\"submit\" name=\"decision\" value=\"deny\">{deny}</button></form>",
            client = escape(&pending.client.name),
            asks = t(lang, "asks"),
            user = escape(user_name),
            may = t(lang, "may"),
            narrow = t(lang, "narrow"),
            approve = t(lang, "approve"),
            deny = t(lang, "deny"),
        ),
    )
}
