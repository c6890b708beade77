//! The staff inbox (HP-3, GP-13): open messages of patients addressed to the user's
//! organisation (or to them), with reply; repeat-medication requests with approve and
//! decline. Which messages show is decided by the vault per patient: only patients the
//! user may see (a treatment relationship) appear.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::Form;
use serde::Deserialize;
use serde_json::{json, Value};
use zorgkluis_vault::{Stored, VaultError};

use super::common::*;
use super::messages::{
    about_texts, dosage_text, kind_text, medicine_name, thread, view, MessageView, MAX_TEXT,
};
use crate::i18n::Lang;
use crate::portal::fhirtext::{date_text, human_name, str_at};
use crate::portal::{page_or_error, render, see_other, Chrome, Portal, PortalError};
use crate::AppState;

/// One open message in the inbox.
pub struct InboxRow {
    pub id: String,
    pub patient_id: String,
    pub patient: String,
    pub topic: String,
    pub sent: String,
    pub from: String,
    pub about: Vec<String>,
}

#[derive(Template)]
#[template(path = "care/inbox.html")]
struct InboxPage {
    c: Chrome,
    questions: Vec<InboxRow>,
    repeats: Vec<InboxRow>,
}

/// The name of a patient as the user may see it (read through the vault), cached.
pub async fn patient_name(
    state: &AppState,
    portal: &Portal,
    cache: &mut Vec<(String, String)>,
    patient_id: &str,
) -> String {
    if let Some((_, n)) = cache.iter().find(|(p, _)| p == patient_id) {
        return n.clone();
    }
    let name = match state
        .vault
        .read(portal.principal(), "Patient", patient_id)
        .await
    {
        Ok(s) => human_name(s.resource.as_ref().and_then(|r| r.get("name"))),
        Err(_) => String::new(),
    };
    cache.push((patient_id.to_owned(), name.clone()));
    name
}

/// The sender reference of the logged-in member of staff.
fn staff_sender(portal: &Portal) -> Result<Value, PortalError> {
    let s = portal.staff()?;
    let name = s.actor.display.clone().unwrap_or_default();
    Ok(match &s.practitioner_id {
        Some(p) => json!({"reference": format!("Practitioner/{p}"), "display": name}),
        None => {
            json!({"reference": format!("Organization/{}", s.organisation.id), "display": name})
        }
    })
}

/// Open messages from patients addressed to the user's organisation or to the user.
async fn open_messages(state: &AppState, portal: &Portal) -> Result<Vec<Stored>, PortalError> {
    let s = portal.staff()?;
    let mut targets = vec![format!("Organization/{}", s.organisation.id)];
    if let Some(p) = &s.practitioner_id {
        targets.push(format!("Practitioner/{p}"));
    }
    let mut out: Vec<Stored> = Vec::new();
    for t in &targets {
        for hit in search_all(
            state,
            portal.principal(),
            "Communication",
            &[("recipient", t), ("status", "in-progress")],
        )
        .await?
        {
            let from_patient = hit.resource.as_ref().is_some_and(from_patient_side);
            if from_patient && !out.iter().any(|o| o.id == hit.id) {
                out.push(hit);
            }
        }
    }
    out.sort_by_key(|h| std::cmp::Reverse(h.resource.as_ref().and_then(sent_of)));
    Ok(out)
}

#[derive(Deserialize, Default)]
pub struct Done {
    #[serde(default)]
    done: String,
}

/// `GET /staff/inbox`.
pub async fn inbox(
    State(state): State<AppState>,
    portal: Portal,
    Query(q): Query<Done>,
) -> Response {
    let result = async {
        portal.staff()?;
        let lang = portal.lang;
        let mut names = Vec::new();
        let mut questions = Vec::new();
        let mut repeats = Vec::new();
        for hit in open_messages(&state, &portal).await? {
            let Some(c) = hit.resource.as_ref() else {
                continue;
            };
            let patient_id = hit.patient_id.clone().unwrap_or_default();
            let patient = match str_at(c, "/subject/display") {
                Some(d) if !d.is_empty() => d.to_owned(),
                _ => patient_name(&state, &portal, &mut names, &patient_id).await,
            };
            let row = InboxRow {
                id: hit.id.clone(),
                patient_id,
                patient,
                topic: {
                    let t = topic_of(c);
                    if t.is_empty() {
                        kind_text(lang, kind_of(c)).to_owned()
                    } else {
                        t
                    }
                },
                sent: sent_of(c).map(datetime_nl).unwrap_or_default(),
                from: sender_name(lang, c),
                about: about_texts(c),
            };
            if kind_of(c) == KIND_REPEAT {
                repeats.push(row);
            } else {
                questions.push(row);
            }
        }
        let mut c = portal.chrome("care.inbox-title");
        c.flash = match q.done.as_str() {
            "replied" => Some(c.t("care.flash-replied").to_owned()),
            "approved" => Some(c.t("care.flash-approved").to_owned()),
            "declined" => Some(c.t("care.flash-declined").to_owned()),
            _ => None,
        };
        Ok(render(&InboxPage {
            c,
            questions,
            repeats,
        }))
    }
    .await;
    page_or_error(&portal, result)
}

// ---------------------------------------------------------------------------------------
// One message.

/// A requested medicine, as the prescriber sees it.
pub struct RequestedMedicine {
    pub name: String,
    pub dosage: String,
    pub last: String,
    pub status: String,
}

#[derive(Template)]
#[template(path = "care/inbox_message.html")]
struct MessagePage {
    c: Chrome,
    id: String,
    patient_id: String,
    patient: String,
    topic: String,
    messages: Vec<MessageView>,
    repeat: bool,
    open: bool,
    medicines: Vec<RequestedMedicine>,
}

/// A message the user may read, with its patient.
async fn message(state: &AppState, portal: &Portal, id: &str) -> Result<Stored, PortalError> {
    portal.staff()?;
    if !valid_id(id) {
        return Err(PortalError::Forbidden);
    }
    let stored = state
        .vault
        .read(portal.principal(), "Communication", id)
        .await
        .map_err(PortalError::from_vault)?;
    if stored.patient_id.is_none() || stored.resource.is_none() {
        return Err(PortalError::NotFound);
    }
    Ok(stored)
}

/// The patient's messages (as the user may see them).
async fn patient_messages(
    state: &AppState,
    portal: &Portal,
    patient_id: &str,
) -> Result<Vec<(String, Value)>, PortalError> {
    Ok(search_all(
        state,
        portal.principal(),
        "Communication",
        &[("patient", patient_id)],
    )
    .await?
    .into_iter()
    .filter_map(|h| h.resource.map(|r| (h.id, r)))
    .collect())
}

/// The medication a request is about (read through the vault).
async fn requested(
    state: &AppState,
    portal: &Portal,
    request: &Value,
) -> Vec<(String, Result<Stored, PortalError>)> {
    let mut out = Vec::new();
    for r in request
        .get("about")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(reference) = r.get("reference").and_then(Value::as_str) else {
            continue;
        };
        let Some((rt, id)) = reference.split_once('/') else {
            continue;
        };
        if !matches!(rt, "MedicationRequest" | "MedicationStatement") || !valid_id(id) {
            continue;
        }
        let got = state
            .vault
            .read(portal.principal(), rt, id)
            .await
            .map_err(PortalError::from_vault);
        out.push((reference.to_owned(), got));
    }
    out
}

/// `GET /staff/inbox/messages/{id}`.
pub async fn show(
    State(state): State<AppState>,
    portal: Portal,
    Path(id): Path<String>,
) -> Response {
    let result = async {
        let stored = message(&state, &portal, &id).await?;
        let lang = portal.lang;
        let patient_id = stored.patient_id.clone().unwrap_or_default();
        let c_msg = stored.resource.clone().unwrap_or(Value::Null);
        let mut names = Vec::new();
        let patient = patient_name(&state, &portal, &mut names, &patient_id).await;
        let all = patient_messages(&state, &portal, &patient_id).await?;
        let root = root_of(&id, &all).to_owned();
        let messages = thread(&root, &all)
            .iter()
            .map(|(i, m)| view(lang, i, m, !from_patient_side(m)))
            .collect();
        let repeat = kind_of(&c_msg) == KIND_REPEAT;
        let mut medicines = Vec::new();
        if repeat {
            for (_, got) in requested(&state, &portal, &c_msg).await {
                let m = match got {
                    Ok(s) => {
                        let r = s.resource.unwrap_or(Value::Null);
                        RequestedMedicine {
                            name: medicine_name(&r),
                            dosage: dosage_text(&r),
                            last: date_text(
                                str_at(&r, "/authoredOn")
                                    .or_else(|| str_at(&r, "/effectivePeriod/start")),
                            ),
                            status: match r.get("status").and_then(Value::as_str) {
                                Some(st @ ("active" | "completed" | "stopped" | "on-hold")) => {
                                    lang.text(&format!("care.med-status-{st}")).to_owned()
                                }
                                Some(other) => other.to_owned(),
                                None => String::new(),
                            },
                        }
                    }
                    Err(_) => RequestedMedicine {
                        name: lang.text("care.no-access-item").to_owned(),
                        dosage: String::new(),
                        last: String::new(),
                        status: String::new(),
                    },
                };
                medicines.push(m);
            }
        }
        let topic = topic_of(&c_msg);
        let c = portal.chrome("care.inbox-message-title");
        Ok(render(&MessagePage {
            c,
            id: id.clone(),
            patient_id,
            patient,
            topic: if topic.is_empty() {
                kind_text(lang, kind_of(&c_msg)).to_owned()
            } else {
                topic
            },
            messages,
            repeat,
            open: c_msg.get("status").and_then(Value::as_str) == Some("in-progress"),
            medicines,
        }))
    }
    .await;
    page_or_error(&portal, result)
}

#[derive(Deserialize)]
pub struct TextForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    text: String,
}

/// A reply from the user to the patient, in the thread of `original`.
fn reply_body(
    portal: &Portal,
    state: &AppState,
    original_id: &str,
    original: &Value,
    patient_id: &str,
    text: &str,
) -> Result<Value, PortalError> {
    let kind_label = portal.lang.text("care.kind-reply");
    let mut recipients = vec![json!({"reference": format!("Patient/{patient_id}")})];
    if ref_of(original.get("sender"), "RelatedPerson").is_some() {
        if let Some(s) = original.get("sender") {
            recipients.push(s.clone());
        }
    }
    let mut body = json!({
        "resourceType": "Communication",
        "status": "completed",
        "category": kind_concept(KIND_REPLY, kind_label),
        "subject": original.get("subject").cloned().unwrap_or_else(|| json!({"reference": format!("Patient/{patient_id}")})),
        "inResponseTo": [{"reference": format!("Communication/{original_id}")}],
        "sender": staff_sender(portal)?,
        "recipient": recipients,
        "sent": instant_text(state.vault.now()),
        "payload": [{"contentString": text}]
    });
    if let Some(t) = original.get("topic") {
        body["topic"] = t.clone();
    }
    Ok(body)
}

/// Sets a message's status (based on the version read; a change by someone else in
/// between is a conflict).
async fn set_status(
    state: &AppState,
    portal: &Portal,
    stored: &Stored,
    status: &str,
    reason: Option<&str>,
) -> Result<Stored, VaultError> {
    let mut body = stored.resource.clone().unwrap_or(Value::Null);
    body["status"] = json!(status);
    if let Some(r) = reason {
        body["statusReason"] = json!({"text": r});
    } else if let Some(obj) = body.as_object_mut() {
        obj.remove("statusReason");
    }
    if let Some(obj) = body.as_object_mut() {
        obj.remove("meta");
    }
    state
        .vault
        .update(
            portal.principal(),
            "Communication",
            &stored.id,
            body,
            Some(stored.version),
        )
        .await
}

/// `POST /staff/inbox/messages/{id}/reply`: the answer goes to the patient; the
/// patient's open messages of the thread are completed.
pub async fn reply(
    State(state): State<AppState>,
    portal: Portal,
    Path(id): Path<String>,
    Form(form): Form<TextForm>,
) -> Response {
    let result = async {
        portal.check_csrf(&state, &form.csrf)?;
        let lang = portal.lang;
        let text = form.text.trim();
        if text.is_empty() || text.chars().count() > MAX_TEXT {
            return Err(PortalError::BadRequest(
                lang.text("care.message-incomplete").into(),
            ));
        }
        let stored = message(&state, &portal, &id).await?;
        let patient_id = stored.patient_id.clone().unwrap_or_default();
        let original = stored.resource.clone().unwrap_or(Value::Null);
        let body = reply_body(&portal, &state, &id, &original, &patient_id, text)?;
        state
            .vault
            .create(portal.principal(), body)
            .await
            .map_err(PortalError::from_vault)?;
        // The patient's open messages in this thread are answered now.
        let all = patient_messages(&state, &portal, &patient_id).await?;
        let root = root_of(&id, &all).to_owned();
        for (mid, m) in thread(&root, &all) {
            let open = m.get("status").and_then(Value::as_str) == Some("in-progress");
            if open && from_patient_side(m) && kind_of(m) != KIND_REPEAT {
                if let Ok(s) = state
                    .vault
                    .read(portal.principal(), "Communication", mid)
                    .await
                {
                    // Someone else completing it meanwhile is fine.
                    match set_status(&state, &portal, &s, "completed", None).await {
                        Ok(_) | Err(VaultError::Conflict { .. }) => {}
                        Err(e) => return Err(PortalError::from_vault(e)),
                    }
                }
            }
        }
        Ok(see_other("/staff/inbox?done=replied"))
    }
    .await;
    page_or_error(&portal, result)
}

/// A repeat-medication request that is still open, for approving or declining.
async fn open_request(state: &AppState, portal: &Portal, id: &str) -> Result<Stored, PortalError> {
    let stored = message(state, portal, id).await?;
    let body = stored.resource.as_ref().ok_or(PortalError::NotFound)?;
    if kind_of(body) != KIND_REPEAT {
        return Err(PortalError::NotFound);
    }
    if body.get("status").and_then(Value::as_str) != Some("in-progress") {
        return Err(PortalError::BadRequest(
            portal.lang.text("care.already-handled").into(),
        ));
    }
    Ok(stored)
}

/// A new prescription continuing a prior one (or the use a statement records).
fn new_prescription(
    prior: &Stored,
    patient_id: &str,
    requester: &Value,
    today: &str,
    lang: Lang,
) -> Value {
    let r = prior.resource.clone().unwrap_or(Value::Null);
    let mut body = json!({
        "resourceType": "MedicationRequest",
        "status": "active",
        "intent": "order",
        "subject": {"reference": format!("Patient/{patient_id}")},
        "authoredOn": today,
        "requester": requester,
        "note": [{"text": lang.text("care.repeat-note-prescription")}]
    });
    for key in [
        "medicationCodeableConcept",
        "medicationReference",
        "reasonReference",
        "reasonCode",
        "courseOfTherapyType",
    ] {
        if let Some(v) = r.get(key) {
            body[key] = v.clone();
        }
    }
    if prior.resource_type == "MedicationRequest" {
        body["priorPrescription"] = json!({"reference": format!("MedicationRequest/{}", prior.id)});
        for key in ["dosageInstruction", "dispenseRequest"] {
            if let Some(v) = r.get(key) {
                body[key] = v.clone();
            }
        }
        if let Some(d) = body
            .get_mut("dispenseRequest")
            .and_then(Value::as_object_mut)
        {
            d.remove("validityPeriod");
        }
    } else {
        if let Some(d) = r.get("dosage") {
            body["dosageInstruction"] = d.clone();
        }
        body["supportingInformation"] =
            json!([{"reference": format!("MedicationStatement/{}", prior.id)}]);
    }
    body
}

/// `POST /staff/inbox/messages/{id}/approve`: a new prescription per requested medicine
/// (active, today, the prior one as `priorPrescription`, the user as requester; the prior
/// prescription is completed), a reply to the patient, and the request completed.
pub async fn approve(
    State(state): State<AppState>,
    portal: Portal,
    Path(id): Path<String>,
    Form(form): Form<TextForm>,
) -> Response {
    let result = async {
        portal.check_csrf(&state, &form.csrf)?;
        let lang = portal.lang;
        let stored = open_request(&state, &portal, &id).await?;
        let patient_id = stored.patient_id.clone().unwrap_or_default();
        let request = stored.resource.clone().unwrap_or(Value::Null);
        let mut priors = Vec::new();
        for (reference, got) in requested(&state, &portal, &request).await {
            let prior = got?;
            if prior.patient_id.as_deref() != Some(patient_id.as_str()) {
                return Err(PortalError::Forbidden);
            }
            priors.push((reference, prior));
        }
        if priors.is_empty() {
            return Err(PortalError::BadRequest(
                lang.text("care.repeat-nothing").into(),
            ));
        }
        // Claim the request first, so two people cannot both approve it.
        let claimed = match set_status(&state, &portal, &stored, "completed", None).await {
            Ok(s) => s,
            Err(VaultError::Conflict { .. }) => {
                return Err(PortalError::BadRequest(
                    lang.text("care.already-handled").into(),
                ))
            }
            Err(e) => return Err(PortalError::from_vault(e)),
        };
        let requester = staff_sender(&portal)?;
        let today = date_iso(now_local(&state).date());
        let mut names = Vec::new();
        let outcome: Result<(), PortalError> = async {
            for (_, prior) in &priors {
                let body = new_prescription(prior, &patient_id, &requester, &today, lang);
                names.push(medicine_name(&body));
                state
                    .vault
                    .create(portal.principal(), body)
                    .await
                    .map_err(PortalError::from_vault)?;
                if prior.resource_type == "MedicationRequest" {
                    let mut old = prior.resource.clone().unwrap_or(Value::Null);
                    old["status"] = json!("completed");
                    if let Some(obj) = old.as_object_mut() {
                        obj.remove("meta");
                    }
                    state
                        .vault
                        .update(
                            portal.principal(),
                            "MedicationRequest",
                            &prior.id,
                            old,
                            Some(prior.version),
                        )
                        .await
                        .map_err(PortalError::from_vault)?;
                }
            }
            Ok(())
        }
        .await;
        if let Err(e) = outcome {
            // Nothing approved: the request is open again.
            let _ = set_status(&state, &portal, &claimed, "in-progress", None).await;
            return Err(e);
        }
        let mut text = lang.text("care.repeat-approved-text").to_owned();
        for n in &names {
            text.push_str("\n- ");
            text.push_str(n);
        }
        if !form.text.trim().is_empty() && form.text.trim().chars().count() <= MAX_TEXT {
            text.push_str("\n\n");
            text.push_str(form.text.trim());
        }
        let reply = reply_body(&portal, &state, &id, &request, &patient_id, &text)?;
        state
            .vault
            .create(portal.principal(), reply)
            .await
            .map_err(PortalError::from_vault)?;
        Ok(see_other("/staff/inbox?done=approved"))
    }
    .await;
    page_or_error(&portal, result)
}

/// `POST /staff/inbox/messages/{id}/decline`: the reason goes to the patient; the request
/// is closed as not done.
pub async fn decline(
    State(state): State<AppState>,
    portal: Portal,
    Path(id): Path<String>,
    Form(form): Form<TextForm>,
) -> Response {
    let result = async {
        portal.check_csrf(&state, &form.csrf)?;
        let lang = portal.lang;
        let reason = form.text.trim();
        if reason.is_empty() || reason.chars().count() > MAX_TEXT {
            return Err(PortalError::BadRequest(
                lang.text("care.decline-needs-reason").into(),
            ));
        }
        let stored = open_request(&state, &portal, &id).await?;
        let patient_id = stored.patient_id.clone().unwrap_or_default();
        let request = stored.resource.clone().unwrap_or(Value::Null);
        match set_status(&state, &portal, &stored, "not-done", Some(reason)).await {
            Ok(_) => {}
            Err(VaultError::Conflict { .. }) => {
                return Err(PortalError::BadRequest(
                    lang.text("care.already-handled").into(),
                ))
            }
            Err(e) => return Err(PortalError::from_vault(e)),
        }
        let text = format!("{}\n\n{reason}", lang.text("care.repeat-declined-text"));
        let reply = reply_body(&portal, &state, &id, &request, &patient_id, &text)?;
        state
            .vault
            .create(portal.principal(), reply)
            .await
            .map_err(PortalError::from_vault)?;
        Ok(see_other("/staff/inbox?done=declined"))
    }
    .await;
    page_or_error(&portal, result)
}
