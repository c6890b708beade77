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
    lang.code()
}

/// A text of these pages (`oauth.<key>` in the translation files).
pub(crate) fn t(lang: Lang, key: &str) -> &'static str {
    lang.text(&format!("oauth.{key}"))
}

fn page(lang: Lang, title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=\"{code}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · Zorgkluis</title><link rel=\"stylesheet\" href=\"/static/zorgkluis.css\"><link rel=\"icon\" href=\"/static/icon.svg\" type=\"image/svg+xml\"></head>\
         <body><header class=\"top\"><span class=\"brand\">Zorgkluis</span></header>\
         <main id=\"main\"><div class=\"card narrow\"><h1>{title}</h1>{body}</div></main></body></html>",
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
