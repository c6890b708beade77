//! PC-14, HP-11: the privacy statement, public (no login), with its version and date, and
//! every earlier version. The texts live in `crates/server/statements/privacy-<version>.
//! <lang>.md`, in a tiny subset of Markdown (`## ` and `### ` headings, `- ` list items,
//! paragraphs separated by a blank line) that is rendered as escaped text, never as HTML.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use time::Date;

use super::date_text;
use crate::i18n::Lang;
use crate::portal::{render, Chrome, PortalError};
use crate::AppState;

/// One version of the statement.
struct Statement {
    version: &'static str,
    /// In force from.
    date: Date,
    nl: &'static str,
    en: &'static str,
}

/// Every version, newest first. A new version is a new pair of files and an entry here.
const STATEMENTS: &[Statement] = &[
    Statement {
        version: "2026-11",
        date: time::macros::date!(2026 - 11 - 01),
        nl: include_str!("../../../statements/privacy-2026-11.nl.md"),
        en: include_str!("../../../statements/privacy-2026-11.en.md"),
    },
    Statement {
        version: "2025-01",
        date: time::macros::date!(2025 - 01 - 01),
        nl: include_str!("../../../statements/privacy-2025-01.nl.md"),
        en: include_str!("../../../statements/privacy-2025-01.en.md"),
    },
];

/// A block of the statement's text.
pub(super) enum Block {
    H2(String),
    H3(String),
    P(String),
    List(Vec<String>),
}

/// The tiny Markdown subset as blocks of plain text (escaped when rendered).
pub(super) fn blocks(text: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut para: Vec<&str> = Vec::new();
    let mut list: Vec<String> = Vec::new();
    let flush = |out: &mut Vec<Block>, para: &mut Vec<&str>, list: &mut Vec<String>| {
        if !para.is_empty() {
            out.push(Block::P(para.join(" ")));
            para.clear();
        }
        if !list.is_empty() {
            out.push(Block::List(std::mem::take(list)));
        }
    };
    for line in text.lines() {
        let line = line.trim_end();
        let trimmed = line.trim_start();
        if trimmed.is_empty() {
            flush(&mut out, &mut para, &mut list);
        } else if let Some(h) = trimmed.strip_prefix("### ") {
            flush(&mut out, &mut para, &mut list);
            out.push(Block::H3(h.trim().to_owned()));
        } else if let Some(h) = trimmed.strip_prefix("## ") {
            flush(&mut out, &mut para, &mut list);
            out.push(Block::H2(h.trim().to_owned()));
        } else if trimmed.starts_with("# ") {
            // The page has its own title; a top-level heading in the file is skipped.
            flush(&mut out, &mut para, &mut list);
        } else if let Some(item) = trimmed.strip_prefix("- ") {
            if !para.is_empty() {
                out.push(Block::P(para.join(" ")));
                para.clear();
            }
            list.push(item.trim().to_owned());
        } else if !list.is_empty() && line.starts_with("  ") {
            // A continuation line of a list item.
            if let Some(last) = list.last_mut() {
                last.push(' ');
                last.push_str(trimmed);
            }
        } else {
            if !list.is_empty() {
                out.push(Block::List(std::mem::take(&mut list)));
            }
            para.push(trimmed);
        }
    }
    flush(&mut out, &mut para, &mut list);
    out
}

struct VersionLink {
    version: &'static str,
    date: String,
    href: String,
    this: bool,
}

#[derive(Template)]
#[template(path = "log/statement.html")]
struct StatementPage {
    c: Chrome,
    version: &'static str,
    date: String,
    current: bool,
    current_href: String,
    blocks: Vec<Block>,
    versions: Vec<VersionLink>,
}

/// The version in force today (the newest whose date has come), else the oldest.
fn current_index(today: Date) -> usize {
    STATEMENTS
        .iter()
        .position(|s| s.date <= today)
        .unwrap_or(STATEMENTS.len().saturating_sub(1))
}

fn show(state: &AppState, headers: &HeaderMap, index: Option<usize>) -> Response {
    let lang = Lang::pick(None, headers);
    let now = current_index(state.vault.now().date());
    let index = index.unwrap_or(now);
    let Some(s) = STATEMENTS.get(index) else {
        return PortalError::NotFound.page(lang);
    };
    let path = if index == now {
        "/privacy-statement".to_owned()
    } else {
        format!("/privacy-statement/{}", s.version)
    };
    let c = Chrome::anonymous(lang, lang.text("log.statement-title"), &path);
    let text = if lang == Lang::Nl { s.nl } else { s.en };
    let versions = STATEMENTS
        .iter()
        .enumerate()
        // Only versions in force by now (a version published ahead is not listed yet).
        .filter(|(i, _)| *i >= now)
        .map(|(i, v)| VersionLink {
            version: v.version,
            date: date_text(v.date),
            href: if i == now {
                "/privacy-statement".to_owned()
            } else {
                format!("/privacy-statement/{}", v.version)
            },
            this: i == index,
        })
        .collect();
    render(&StatementPage {
        c,
        version: s.version,
        date: date_text(s.date),
        current: index == now,
        current_href: "/privacy-statement".to_owned(),
        blocks: blocks(text),
        versions,
    })
}

pub(super) async fn current(State(state): State<AppState>, headers: HeaderMap) -> Response {
    show(&state, &headers, None)
}

pub(super) async fn version(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(version): Path<String>,
) -> Response {
    let now = current_index(state.vault.now().date());
    let index = STATEMENTS
        .iter()
        .position(|s| s.version == version)
        .filter(|i| *i >= now);
    match index {
        Some(i) => show(&state, &headers, Some(i)),
        None => PortalError::NotFound.page(Lang::pick(None, &headers)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_markdown_subset_becomes_blocks_of_plain_text() {
        let b = blocks("# Title\n\nIntro line one\nline two\n\n## Rights\n- access\n- copy\n  of it\n\n### More\n<b>x</b>\n");
        assert!(matches!(&b[0], Block::P(p) if p == "Intro line one line two"));
        assert!(matches!(&b[1], Block::H2(h) if h == "Rights"));
        assert!(matches!(&b[2], Block::List(l) if l.len() == 2 && l[1] == "copy of it"));
        assert!(matches!(&b[3], Block::H3(h) if h == "More"));
        assert!(matches!(&b[4], Block::P(p) if p == "<b>x</b>"));
    }

    #[test]
    fn every_version_has_text_in_both_languages() {
        for s in STATEMENTS {
            for text in [s.nl, s.en] {
                assert!(blocks(text).len() > 5, "{} is too short", s.version);
            }
        }
        assert!(
            STATEMENTS.windows(2).all(|w| w[0].date > w[1].date),
            "newest first"
        );
    }
}
