//! The login and account pages (Dutch first, English on request). Plain, accessible HTML
//! without scripts; the portal's full templates come with the portal.

use axum::http::header::ACCEPT_LANGUAGE;
use axum::http::HeaderMap;
use axum::response::Html;
use zorgkluis_vault::{Principal, CONFIDENTIALITY_VERSION};

/// The language of a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// Nederlands (default).
    Nl,
    /// English.
    En,
}

impl Lang {
    /// From `?lang=` or a form field, else `Accept-Language`, else Dutch.
    pub fn pick(explicit: Option<&str>, headers: &HeaderMap) -> Self {
        match explicit {
            Some("en") => return Self::En,
            Some("nl") => return Self::Nl,
            _ => {}
        }
        let accept = headers
            .get(ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if accept.trim_start().starts_with("en") {
            Self::En
        } else {
            Self::Nl
        }
    }

    fn code(self) -> &'static str {
        match self {
            Self::Nl => "nl",
            Self::En => "en",
        }
    }

    /// A text of the UI.
    pub fn t(self, key: &str) -> &'static str {
        let (nl, en) = match key {
            "title" => ("Inloggen bij Zorgkluis", "Log in to Zorgkluis"),
            "login" => ("Gebruikersnaam", "User name"),
            "password" => ("Wachtwoord", "Password"),
            "code" => ("Code uit uw authenticator-app (of een herstelcode)", "Code from your authenticator app (or a recovery code)"),
            "submit" => ("Inloggen", "Log in"),
            "invalid" => ("Gebruikersnaam, wachtwoord of code klopt niet.", "User name, password or code is not correct."),
            "need-code" => ("Vul de code uit uw authenticator-app in.", "Enter the code from your authenticator app."),
            "locked" => ("Te veel pogingen. Probeer het opnieuw na", "Too many attempts. Try again after"),
            "unavailable" => ("Inloggen lukt nu niet. Probeer het later opnieuw.", "Logging in is not possible right now. Please try again later."),
            "csrf" => ("Dit formulier is verlopen of niet vanaf deze site verstuurd. Laad de pagina opnieuw.", "This form has expired or was not sent from this site. Please reload the page."),
            "welcome" => ("Ingelogd als", "Logged in as"),
            "role" => ("Rol", "Role"),
            "organisation" => ("Organisatie", "Organisation"),
            "logout" => ("Uitloggen", "Log out"),
            "agreement" => ("Geheimhoudingsverklaring", "Confidentiality agreement"),
            "agreement-text" => (
                "Voordat u patiëntgegevens kunt inzien, verklaart u dat u alles wat u over patiënten te weten komt geheimhoudt, alleen gegevens inziet die u voor de zorg nodig hebt, en dat elke inzage wordt vastgelegd.",
                "Before you can see patient data, you declare that you keep everything you learn about patients confidential, look only at data you need for their care, and know that every access is logged.",
            ),
            "accept" => ("Ik ga akkoord", "I agree"),
            "accepted" => ("Geheimhoudingsverklaring geaccepteerd.", "Confidentiality agreement accepted."),
            "patient" => ("U bekijkt uw eigen dossier.", "You are viewing your own record."),
            "representative" => ("U handelt namens", "You are acting on behalf of"),
            "other-lang" => ("English", "Nederlands"),
            "api" => ("Gegevens via de FHIR-API (JSON), met dezelfde toegangsregels:", "Data through the FHIR API (JSON), under the same access rules:"),
            "my-record" => ("Mijn dossier", "My record"),
            "who-viewed" => ("Wie heeft mijn dossier bekeken", "Who viewed my record"),
            "patients" => ("Patiënten die ik mag zien", "Patients I may see"),
            "audit" => ("Audittrail (laatste 100)", "Audit trail (latest 100)"),
            _ => ("", ""),
        };
        match self {
            Self::Nl => nl,
            Self::En => en,
        }
    }
}

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
    let other = match lang {
        Lang::Nl => "en",
        Lang::En => "nl",
    };
    Html(format!(
        "<!doctype html><html lang=\"{code}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><style>body{{font-family:system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem;color:#1b2a3a}}\
         label{{display:block;margin-top:1rem}}input{{width:100%;padding:.5rem;font-size:1rem}}\
         button{{margin-top:1.2rem;padding:.6rem 1.2rem;font-size:1rem}}.error{{color:#a40000}}</style></head>\
         <body><header><strong>Zorgkluis</strong> · <a href=\"?lang={other}\">{switch}</a></header>\
         <main><h1>{title}</h1>{body}</main></body></html>",
        code = lang.code(),
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
                body.push_str(&format!("<p>{}</p><ul><li>{link}</li></ul>", lang.t("api")));
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
            "<p>{}</p><p>{}</p><ul><li><a href=\"/fhir/Patient/{id}/$everything\">{}</a></li>\
             <li><a href=\"/fhir/AuditEvent?patient={id}\">{}</a></li></ul>",
            lang.t("patient"),
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
