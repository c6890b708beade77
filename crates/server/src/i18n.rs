//! The two languages of the web pages. Every text lives in a translation file under
//! `crates/server/i18n/<lang>/<area>.json` (flat objects of key → text); a key is used as
//! `<area>.<key>`. The files are compiled in, parsed once, and checked by a test: both
//! languages have the same keys, and every key the code and templates use exists.

use std::collections::HashMap;
use std::sync::OnceLock;

use axum::http::header::ACCEPT_LANGUAGE;
use axum::http::HeaderMap;

/// The cookie that keeps a user's language choice (functional, no tracking).
pub const LANG_COOKIE: &str = "zk_lang";

/// The language of a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// Nederlands (default).
    Nl,
    /// English.
    En,
}

/// One translation area: its name and the two files.
struct Area {
    name: &'static str,
    nl: &'static str,
    en: &'static str,
}

macro_rules! areas {
    ($($name:literal),* $(,)?) => {
        &[$(Area {
            name: $name,
            nl: include_str!(concat!("../i18n/nl/", $name, ".json")),
            en: include_str!(concat!("../i18n/en/", $name, ".json")),
        }),*]
    };
}

/// Every translation file. A new area is a new pair of files and a line here.
const AREAS: &[Area] =
    areas!("common", "login", "oauth", "record", "care", "log", "staff", "privacy");

type Table = HashMap<String, &'static str>;

fn tables() -> &'static (Table, Table) {
    static TABLES: OnceLock<(Table, Table)> = OnceLock::new();
    TABLES.get_or_init(|| {
        let mut nl = Table::new();
        let mut en = Table::new();
        for area in AREAS {
            load(&mut nl, area.name, area.nl);
            load(&mut en, area.name, area.en);
        }
        (nl, en)
    })
}

fn load(table: &mut Table, area: &str, text: &'static str) {
    // The files are part of the build; a broken file is caught by the i18n test, and at
    // run time it only leaves keys untranslated (shown as the key), never a panic.
    let Ok(map) = serde_json::from_str::<HashMap<String, String>>(text) else {
        tracing::error!(
            area,
            "translation file is not a flat JSON object of strings"
        );
        return;
    };
    for (key, value) in map {
        let value: &'static str = Box::leak(value.into_boxed_str());
        table.insert(format!("{area}.{key}"), value);
    }
}

/// All keys of one language (for the consistency test).
pub fn keys(lang: Lang) -> Vec<&'static str> {
    let (nl, en) = tables();
    let t = if lang == Lang::Nl { nl } else { en };
    let mut keys: Vec<&'static str> = t
        .keys()
        .map(|k| &*Box::leak(k.clone().into_boxed_str()))
        .collect();
    keys.sort_unstable();
    keys
}

impl Lang {
    /// From an explicit choice (`?lang=`, a form field), else the language cookie, else
    /// `Accept-Language`, else Dutch.
    pub fn pick(explicit: Option<&str>, headers: &HeaderMap) -> Self {
        if let Some(l) = explicit.and_then(Self::parse) {
            return l;
        }
        if let Some(l) = crate::auth::cookie(headers, LANG_COOKIE).and_then(Self::parse) {
            return l;
        }
        Self::from_accept_language(
            headers
                .get(ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or(""),
        )
    }

    /// `nl` or `en`.
    pub fn parse(code: &str) -> Option<Self> {
        match code {
            "nl" => Some(Self::Nl),
            "en" => Some(Self::En),
            _ => None,
        }
    }

    /// The browser's first preference among Dutch and English (quality values honoured).
    pub fn from_accept_language(header: &str) -> Self {
        let mut best: Option<(f32, Self)> = None;
        for part in header.split(',') {
            let mut pieces = part.trim().split(';');
            let tag = pieces.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = pieces
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            let lang = if tag == "nl" || tag.starts_with("nl-") {
                Self::Nl
            } else if tag == "en" || tag.starts_with("en-") {
                Self::En
            } else {
                continue;
            };
            if best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, lang));
            }
        }
        best.map_or(Self::Nl, |(_, l)| l)
    }

    /// The language code (`lang` attribute, cookie value).
    pub fn code(self) -> &'static str {
        match self {
            Self::Nl => "nl",
            Self::En => "en",
        }
    }

    /// The other language (for the switch).
    pub fn other(self) -> Self {
        match self {
            Self::Nl => Self::En,
            Self::En => Self::Nl,
        }
    }

    /// A text: `area.key`. A missing key shows as the key itself (and fails the test).
    pub fn text(self, key: &str) -> &'static str {
        let (nl, en) = tables();
        let t = if self == Self::Nl { nl } else { en };
        match t.get(key) {
            Some(v) => v,
            None => Box::leak(key.to_owned().into_boxed_str()),
        }
    }

    /// A text of the login pages (`login.<key>`).
    pub fn t(self, key: &str) -> &'static str {
        self.text(&format!("login.{key}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_prefers_the_highest_quality() {
        assert_eq!(Lang::from_accept_language("en-GB,en;q=0.9"), Lang::En);
        assert_eq!(Lang::from_accept_language("de,en;q=0.5,nl;q=0.8"), Lang::Nl);
        assert_eq!(Lang::from_accept_language("fr"), Lang::Nl);
        assert_eq!(Lang::from_accept_language(""), Lang::Nl);
    }

    #[test]
    fn both_languages_have_the_same_keys_and_every_file_parses() {
        for area in AREAS {
            for text in [area.nl, area.en] {
                assert!(
                    serde_json::from_str::<HashMap<String, String>>(text).is_ok(),
                    "i18n/*/{}.json is not a flat object of strings",
                    area.name
                );
            }
        }
        let nl = keys(Lang::Nl);
        let en = keys(Lang::En);
        let only_nl: Vec<_> = nl.iter().filter(|k| !en.contains(k)).collect();
        let only_en: Vec<_> = en.iter().filter(|k| !nl.contains(k)).collect();
        assert!(only_nl.is_empty(), "missing in English: {only_nl:?}");
        assert!(only_en.is_empty(), "missing in Dutch: {only_en:?}");
    }

    /// Every `t("area.key")` / `text("area.key")` in the templates and the portal code
    /// names a key that exists.
    #[test]
    fn every_key_used_in_templates_and_code_exists() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = Vec::new();
        collect(&root.join("templates"), &mut files);
        collect(&root.join("src/portal"), &mut files);
        let nl = keys(Lang::Nl);
        let mut missing = Vec::new();
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap_or_default();
            for pattern in ["t(\"", "text(\""] {
                for (i, _) in text.match_indices(pattern) {
                    let rest = &text[i + pattern.len()..];
                    let Some(end) = rest.find('"') else { continue };
                    let key = &rest[..end];
                    // Only fully written keys (`area.key`); dynamic keys are built in code.
                    if key.contains('.') && !key.contains('{') && !nl.contains(&key) {
                        missing.push(format!("{}: {key}", file.display()));
                    }
                }
            }
        }
        assert!(missing.is_empty(), "untranslated keys: {missing:#?}");
    }

    fn collect(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                collect(&p, out);
            } else {
                out.push(p);
            }
        }
    }
}
