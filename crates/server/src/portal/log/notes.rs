//! HP-4+: personal notes that only the patient can read. The notes are sealed under a key
//! that only the patient's password (or the one-time recovery key) opens; the server never
//! keeps it. So the portal asks for the password with every action on the notes and shows
//! the notes only in the answer to that form: never in a URL, a cookie or a later page.
//! Pages with notes or the recovery key are not cached (`Cache-Control: no-store`).

use askama::Template;
use axum::extract::State;
use axum::http::header::CACHE_CONTROL;
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use axum::Form;
use serde::Deserialize;
use zorgkluis_auth::Argon2Cost;
use zorgkluis_vault::{Principal, VaultError};

use super::{local_time_text, patient_frame};
use crate::portal::{page_or_error, render, Chrome, Portal, PortalError};
use crate::AppState;

/// The longest note.
const MAX_NOTE: usize = 10_000;

struct NoteRow {
    id: String,
    text: String,
    changed: String,
    version: i64,
}

#[derive(Template)]
#[template(path = "log/notes.html")]
struct NotesPage {
    c: Chrome,
    /// The patient themself (a representative sees the explanation only).
    is_patient: bool,
    unlocked: bool,
    notes: Vec<NoteRow>,
    /// The recovery key, shown once when the lock was just made.
    recovery: Option<String>,
    /// Id for a new note (a reload of the form changes the same note, not a second one).
    new_id: String,
    /// The text of a note that could not be saved.
    text: String,
    max_note: usize,
}

fn no_store(mut r: Response) -> Response {
    r.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn blank(c: Chrome, is_patient: bool) -> NotesPage {
    NotesPage {
        c,
        is_patient,
        unlocked: false,
        notes: Vec::new(),
        recovery: None,
        new_id: zorgkluis_domain::ResourceId::random().to_string(),
        text: String::new(),
        max_note: MAX_NOTE,
    }
}

fn with_status(r: Response, status: StatusCode) -> Response {
    let mut r = r;
    *r.status_mut() = status;
    r
}

/// The key groups of a recovery key, for reading it off the screen.
fn grouped(key: &str) -> String {
    key.as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The throttle key of one account's note attempts (wrong passwords are counted and, after
/// a few, refused for a while, as at login).
fn throttle_key(principal: &Principal) -> String {
    format!("notes:{}", principal.actor().user_id)
}

fn check_throttle(state: &AppState, principal: &Principal, c: &Chrome) -> Result<(), String> {
    let key = throttle_key(principal);
    state
        .throttle
        .check(&key, &key, state.vault.now())
        .map_err(|b| {
            super::fill(
                c.lang,
                "log.notes-err-locked",
                &[(
                    "until",
                    &local_time_text(&zorgkluis_domain::clock::rfc3339(b.until)),
                )],
            )
        })
}

fn failed(state: &AppState, principal: &Principal) {
    let key = throttle_key(principal);
    let _ = state.throttle.record_failure(&key, &key, state.vault.now());
}

fn succeeded(state: &AppState, principal: &Principal) {
    let key = throttle_key(principal);
    state.throttle.record_success(&key, &key, state.vault.now());
}

/// Whether `password` is the account's current password. The notes lock must be made
/// with it: a password change re-locks the notes with the old password, which would fail
/// for a lock made with anything else.
async fn password_is_right(
    state: &AppState,
    principal: &Principal,
    password: &str,
) -> Result<bool, PortalError> {
    state
        .vault
        .verify_own_password(principal, password)
        .await
        .map_err(PortalError::from_vault)
}

async fn frame(state: &AppState, portal: &mut Portal) -> Result<(Chrome, bool), PortalError> {
    let (_, c) = patient_frame(state, portal, "log.notes-title").await?;
    let is_patient = matches!(portal.principal(), Principal::Patient { .. });
    Ok((c, is_patient))
}

pub(super) async fn page(State(state): State<AppState>, mut portal: Portal) -> Response {
    let result = async {
        let (c, is_patient) = frame(&state, &mut portal).await?;
        Ok(no_store(render(&blank(c, is_patient))))
    }
    .await;
    page_or_error(&portal, result)
}

/// The unlocked list.
async fn unlocked(
    state: &AppState,
    principal: &Principal,
    password: &str,
    mut p: NotesPage,
) -> Result<Response, PortalError> {
    let mut notes = state
        .vault
        .personal_notes(principal, password)
        .await
        .map_err(PortalError::from_vault)?;
    notes.sort_by(|a, b| b.last_updated.cmp(&a.last_updated));
    p.unlocked = true;
    p.notes = notes
        .into_iter()
        .map(|n| NoteRow {
            id: n.id,
            text: n.text,
            changed: local_time_text(&n.last_updated),
            version: n.version,
        })
        .collect();
    Ok(no_store(render(&p)))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct UnlockForm {
    csrf: String,
    password: String,
}

pub(super) async fn unlock(
    State(state): State<AppState>,
    mut portal: Portal,
    Form(form): Form<UnlockForm>,
) -> Response {
    let result = async {
        portal.check_csrf(&state, &form.csrf)?;
        let (mut c, is_patient) = frame(&state, &mut portal).await?;
        let principal = portal.principal();
        if !is_patient {
            return Err(PortalError::Forbidden);
        }
        if let Err(e) = check_throttle(&state, principal, &c) {
            c.error = Some(e);
            return Ok(with_status(
                no_store(render(&blank(c, true))),
                StatusCode::TOO_MANY_REQUESTS,
            ));
        }
        match state.vault.personal_notes(principal, &form.password).await {
            Ok(_) => {
                succeeded(&state, principal);
                unlocked(&state, principal, &form.password, blank(c, true)).await
            }
            Err(VaultError::Forbidden) => {
                failed(&state, principal);
                c.error = Some(c.t("log.notes-err-password").to_owned());
                Ok(with_status(
                    no_store(render(&blank(c, true))),
                    StatusCode::BAD_REQUEST,
                ))
            }
            Err(e) => Err(PortalError::from_vault(e)),
        }
    }
    .await;
    page_or_error(&portal, result)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct WriteForm {
    csrf: String,
    password: String,
    text: String,
    /// An existing note to change.
    note_id: String,
    /// The id for a new note.
    new_id: String,
}

/// Whether a `Basic` with this id exists (then a new note does not take it over).
async fn id_taken(state: &AppState, principal: &Principal, id: &str) -> Result<bool, PortalError> {
    let q = zorgkluis_vault::SearchQuery::parse(
        "Basic",
        &[
            ("_id".to_owned(), id.to_owned()),
            ("_summary".to_owned(), "count".to_owned()),
        ],
    )
    .map_err(|_| PortalError::Unavailable)?;
    let page = state
        .vault
        .search(principal, &q)
        .await
        .map_err(PortalError::from_vault)?;
    Ok(page.total > 0)
}

fn valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

pub(super) async fn write(
    State(state): State<AppState>,
    mut portal: Portal,
    Form(form): Form<WriteForm>,
) -> Response {
    let result = async {
        portal.check_csrf(&state, &form.csrf)?;
        let (mut c, is_patient) = frame(&state, &mut portal).await?;
        let principal = portal.principal();
        if !is_patient {
            return Err(PortalError::Forbidden);
        }
        let refuse = |mut c: Chrome, error: String, status: StatusCode| {
            c.error = Some(error);
            let mut p = blank(c, true);
            p.text = form.text.clone();
            Ok(with_status(no_store(render(&p)), status))
        };
        if let Err(e) = check_throttle(&state, principal, &c) {
            return refuse(c, e, StatusCode::TOO_MANY_REQUESTS);
        }
        let text = form.text.trim();
        if text.is_empty() {
            let e = c.t("log.notes-err-empty").to_owned();
            return refuse(c, e, StatusCode::BAD_REQUEST);
        }
        if text.chars().count() > MAX_NOTE {
            let e = super::fill(
                c.lang,
                "log.notes-err-long",
                &[("max", &MAX_NOTE.to_string())],
            );
            return refuse(c, e, StatusCode::BAD_REQUEST);
        }
        // The password must open the notes there are; with none yet, it must be the
        // account's password (the lock is made with it).
        let existing = match state.vault.personal_notes(principal, &form.password).await {
            Ok(n) => n,
            Err(VaultError::Forbidden) => {
                failed(&state, principal);
                let e = c.t("log.notes-err-password").to_owned();
                return refuse(c, e, StatusCode::BAD_REQUEST);
            }
            Err(e) => return Err(PortalError::from_vault(e)),
        };
        if existing.is_empty() && !password_is_right(&state, principal, &form.password).await? {
            failed(&state, principal);
            let e = c.t("log.notes-err-password").to_owned();
            return refuse(c, e, StatusCode::BAD_REQUEST);
        }
        succeeded(&state, principal);
        // A new note gets the id its form was given, so the same form sent again (a
        // reload) changes the note it made instead of making a second one.
        let note_id = if form.note_id.is_empty() {
            let reload = existing.iter().any(|n| n.id == form.new_id);
            if reload
                || (valid_id(&form.new_id) && !id_taken(&state, principal, &form.new_id).await?)
            {
                form.new_id.clone()
            } else {
                zorgkluis_domain::ResourceId::random().to_string()
            }
        } else if existing.iter().any(|n| n.id == form.note_id) {
            form.note_id.clone()
        } else {
            return Err(PortalError::Forbidden);
        };
        let (_, recovery) = state
            .vault
            .write_personal_note(
                principal,
                &form.password,
                Some(&note_id),
                text,
                Argon2Cost::Interactive,
            )
            .await
            .map_err(PortalError::from_vault)?;
        c.flash = Some(c.t("log.notes-saved").to_owned());
        let mut p = blank(c, true);
        p.recovery = recovery.as_deref().map(grouped);
        unlocked(&state, principal, &form.password, p).await
    }
    .await;
    page_or_error(&portal, result)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct RecoverForm {
    csrf: String,
    recovery_key: String,
    password: String,
}

pub(super) async fn recover(
    State(state): State<AppState>,
    mut portal: Portal,
    Form(form): Form<RecoverForm>,
) -> Response {
    let result = async {
        portal.check_csrf(&state, &form.csrf)?;
        let (mut c, is_patient) = frame(&state, &mut portal).await?;
        let principal = portal.principal();
        if !is_patient {
            return Err(PortalError::Forbidden);
        }
        if let Err(e) = check_throttle(&state, principal, &c) {
            c.error = Some(e);
            return Ok(with_status(
                no_store(render(&blank(c, true))),
                StatusCode::TOO_MANY_REQUESTS,
            ));
        }
        if !password_is_right(&state, principal, &form.password).await? {
            failed(&state, principal);
            c.error = Some(c.t("log.notes-err-password").to_owned());
            return Ok(with_status(
                no_store(render(&blank(c, true))),
                StatusCode::BAD_REQUEST,
            ));
        }
        match state
            .vault
            .recover_personal_notes(
                principal,
                &form.recovery_key,
                &form.password,
                Argon2Cost::Interactive,
            )
            .await
        {
            Ok(()) => {
                succeeded(&state, principal);
                c.flash = Some(c.t("log.notes-recovered").to_owned());
                unlocked(&state, principal, &form.password, blank(c, true)).await
            }
            Err(VaultError::Forbidden) => {
                failed(&state, principal);
                c.error = Some(c.t("log.notes-err-recovery").to_owned());
                Ok(with_status(
                    no_store(render(&blank(c, true))),
                    StatusCode::BAD_REQUEST,
                ))
            }
            Err(e) => Err(PortalError::from_vault(e)),
        }
    }
    .await;
    page_or_error(&portal, result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_keys_are_shown_in_groups_and_ids_are_checked() {
        assert_eq!(grouped("ABCDEFGHIJ"), "ABCD EFGH IJ");
        assert!(valid_id("0f3c-77a1"));
        assert!(!valid_id("../x"));
        assert!(!valid_id(""));
    }
}
