//! The patient's messages with the practice (HP-3, GP-13): conversations newest first,
//! asking a question, a thread with its replies, and ordering repeat medication from the
//! current medication list.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::Form;
use serde::Deserialize;
use serde_json::{json, Value};
use time::OffsetDateTime;

use super::common::*;
use crate::i18n::Lang;
use crate::portal::fhirtext::{concept, date_text, str_at};
use crate::portal::{page_or_error, render, see_other, Chrome, Portal, PortalError};
use crate::AppState;

/// Longest subject line.
pub const MAX_TOPIC: usize = 120;
/// Longest message.
pub const MAX_TEXT: usize = 4000;

/// One conversation in the list.
pub struct Conversation {
    pub id: String,
    pub topic: String,
    pub kind: &'static str,
    pub last: String,
    pub from: String,
    pub count: usize,
    pub status: String,
    pub status_text: &'static str,
}

/// One message in a thread.
pub struct MessageView {
    pub id: String,
    pub from: String,
    pub mine: bool,
    pub sent: String,
    pub text: String,
    pub about: Vec<String>,
    pub kind: &'static str,
}

/// The status of a conversation as the patient sees it: (class, text).
pub fn conversation_status(lang: Lang, root: &Value, replies: usize) -> (String, &'static str) {
    let status = root.get("status").and_then(Value::as_str).unwrap_or("");
    let kind = kind_of(root);
    let (class, key) = match (kind, status) {
        (KIND_REPEAT, "in-progress" | "preparation") => ("pending", "care.msg-status-requested"),
        (KIND_REPEAT, "completed") => ("booked", "care.msg-status-approved"),
        (KIND_REPEAT, "not-done" | "stopped") => ("cancelled", "care.msg-status-declined"),
        (_, "in-progress" | "preparation") if from_patient_side(root) && replies == 0 => {
            ("pending", "care.msg-status-waiting")
        }
        (_, _) if from_patient_side(root) => ("booked", "care.msg-status-answered"),
        _ => ("booked", "care.msg-status-message"),
    };
    (class.to_owned(), lang.text(key))
}

/// The label of a message kind.
pub fn kind_text(lang: Lang, kind: &str) -> &'static str {
    match kind {
        KIND_QUESTION => lang.text("care.kind-question"),
        KIND_REPEAT => lang.text("care.kind-repeat"),
        KIND_REPLY => lang.text("care.kind-reply"),
        _ => lang.text("care.kind-message"),
    }
}

/// Everything the `about` of a request names, as text.
pub fn about_texts(c: &Value) -> Vec<String> {
    c.get("about")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|r| {
            str_at(r, "/display")
                .map(str::to_owned)
                .or_else(|| str_at(r, "/reference").map(str::to_owned))
        })
        .collect()
}

/// The patient's messages as (id, resource), newest first.
pub async fn messages_of(
    state: &AppState,
    portal: &Portal,
    patient_id: &str,
) -> Result<Vec<(String, Value)>, PortalError> {
    let hits = search_all(
        state,
        portal.principal(),
        "Communication",
        &[("patient", patient_id)],
    )
    .await?;
    let mut all: Vec<(String, Value)> = hits
        .into_iter()
        .filter_map(|h| h.resource.map(|r| (h.id, r)))
        .filter(|(_, r)| r.get("status").and_then(Value::as_str) != Some("entered-in-error"))
        .collect();
    all.sort_by_key(|(_, c)| std::cmp::Reverse(sent_of(c)));
    Ok(all)
}

/// The messages of the thread `root` (oldest first).
pub fn thread<'a>(root: &str, all: &'a [(String, Value)]) -> Vec<&'a (String, Value)> {
    let mut t: Vec<&(String, Value)> = all
        .iter()
        .filter(|(id, _)| root_of(id, all) == root)
        .collect();
    t.sort_by_key(|(_, c)| sent_of(c));
    t
}

/// A message for display.
pub fn view(lang: Lang, id: &str, c: &Value, mine: bool) -> MessageView {
    MessageView {
        id: id.to_owned(),
        from: sender_name(lang, c),
        mine,
        sent: sent_of(c).map(datetime_nl).unwrap_or_default(),
        text: text_of(c),
        about: about_texts(c),
        kind: kind_text(lang, kind_of(c)),
    }
}

#[derive(Template)]
#[template(path = "care/messages.html")]
struct ListPage {
    c: Chrome,
    conversations: Vec<Conversation>,
}

#[derive(Deserialize, Default)]
pub struct Done {
    #[serde(default)]
    done: String,
}

/// `GET /patient/messages`.
pub async fn list(
    State(state): State<AppState>,
    mut portal: Portal,
    Query(q): Query<Done>,
) -> Response {
    let result = async {
        let patient = patient_ctx(&state, &mut portal).await?;
        let all = messages_of(&state, &portal, &patient.id).await?;
        let lang = portal.lang;
        let mut conversations: Vec<(Option<OffsetDateTime>, Conversation)> = Vec::new();
        for (id, c) in &all {
            if root_of(id, &all) != id {
                continue;
            }
            let t = thread(id, &all);
            let last = t.iter().filter_map(|(_, m)| sent_of(m)).max();
            let replies = t.iter().filter(|(_, m)| !from_patient_side(m)).count();
            let (status, status_text) = conversation_status(lang, c, replies);
            conversations.push((
                last,
                Conversation {
                    id: id.clone(),
                    topic: {
                        let t = topic_of(c);
                        if t.is_empty() {
                            kind_text(lang, kind_of(c)).to_owned()
                        } else {
                            t
                        }
                    },
                    kind: kind_text(lang, kind_of(c)),
                    last: last.map(datetime_nl).unwrap_or_default(),
                    from: sender_name(lang, c),
                    count: t.len(),
                    status,
                    status_text,
                },
            ));
        }
        conversations.sort_by_key(|(last, _)| std::cmp::Reverse(*last));
        let mut c = portal.chrome("care.messages-title");
        c.flash = match q.done.as_str() {
            "sent" => Some(c.t("care.flash-sent").to_owned()),
            "repeat" => Some(c.t("care.flash-repeat").to_owned()),
            _ => None,
        };
        Ok(render(&ListPage {
            c,
            conversations: conversations.into_iter().map(|(_, c)| c).collect(),
        }))
    }
    .await;
    page_or_error(&portal, result)
}

// ---------------------------------------------------------------------------------------
// Asking a question.

#[derive(Template)]
#[template(path = "care/message_new.html")]
struct NewPage {
    c: Chrome,
    practice: String,
    topic: String,
    text: String,
}

/// `GET /patient/messages/new`.
pub async fn new_form(State(state): State<AppState>, mut portal: Portal) -> Response {
    let result = async {
        let patient = patient_ctx(&state, &mut portal).await?;
        let teams = care_teams(&state, portal.principal(), &patient.id).await?;
        let practice = practice_of(&state, portal.principal(), &patient.resource, &teams)
            .await
            .map(|(_, n)| n)
            .unwrap_or_default();
        let c = portal.chrome("care.new-message-title");
        Ok(render(&NewPage {
            c,
            practice,
            topic: String::new(),
            text: String::new(),
        }))
    }
    .await;
    page_or_error(&portal, result)
}

#[derive(Deserialize)]
pub struct NewForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    topic: String,
    #[serde(default)]
    text: String,
}

/// The sender of a message from the patient side: the patient, or the representative's
/// RelatedPerson (with the name of the person writing).
pub fn patient_side_sender(portal: &Portal, patient: &PatientCtx) -> Value {
    match portal.principal() {
        zorgkluis_vault::Principal::Representative { represents, actor } => {
            let rp = represents
                .iter()
                .find(|(p, _)| *p == patient.id)
                .map(|(_, rp)| rp.clone())
                .unwrap_or_default();
            json!({"reference": format!("RelatedPerson/{rp}"),
                   "display": actor.display.clone().unwrap_or_default()})
        }
        _ => json!({"reference": format!("Patient/{}", patient.id), "display": patient.name}),
    }
}

/// `POST /patient/messages/new`.
pub async fn send(
    State(state): State<AppState>,
    mut portal: Portal,
    Form(form): Form<NewForm>,
) -> Response {
    let result = async {
        portal.check_csrf(&state, &form.csrf)?;
        let lang = portal.lang;
        let topic = form.topic.trim().to_owned();
        let text = form.text.trim().to_owned();
        let patient = patient_ctx(&state, &mut portal).await?;
        let teams = care_teams(&state, portal.principal(), &patient.id).await?;
        let practice = practice_of(&state, portal.principal(), &patient.resource, &teams).await;
        let problem = if topic.is_empty() || text.is_empty() {
            Some("care.message-incomplete")
        } else if topic.chars().count() > MAX_TOPIC || text.chars().count() > MAX_TEXT {
            Some("care.message-too-long")
        } else if practice.is_none() {
            Some("care.no-practice")
        } else {
            None
        };
        if let Some(key) = problem {
            let mut c = portal.chrome("care.new-message-title");
            c.error = Some(lang.text(key).to_owned());
            let mut r = render(&NewPage {
                c,
                practice: practice.map(|(_, n)| n).unwrap_or_default(),
                topic,
                text,
            });
            *r.status_mut() = axum::http::StatusCode::BAD_REQUEST;
            return Ok(r);
        }
        let (practice_id, practice_name) = practice.unwrap_or_default();
        let message = json!({
            "resourceType": "Communication",
            "status": "in-progress",
            "category": kind_concept(KIND_QUESTION, lang.text("care.kind-question")),
            "subject": {"reference": format!("Patient/{}", patient.id), "display": patient.name},
            "topic": {"text": topic},
            "sender": patient_side_sender(&portal, &patient),
            "recipient": [{"reference": format!("Organization/{practice_id}"), "display": practice_name}],
            "sent": instant_text(state.vault.now()),
            "payload": [{"contentString": text}]
        });
        state
            .vault
            .create(portal.principal(), message)
            .await
            .map_err(PortalError::from_vault)?;
        Ok(see_other("/patient/messages?done=sent"))
    }
    .await;
    page_or_error(&portal, result)
}

// ---------------------------------------------------------------------------------------
// A thread.

#[derive(Template)]
#[template(path = "care/thread.html")]
struct ThreadPage {
    c: Chrome,
    id: String,
    topic: String,
    status: String,
    status_text: &'static str,
    messages: Vec<MessageView>,
    can_reply: bool,
}

/// Reads a message of the portal's patient (another patient's: refused).
async fn own_message(state: &AppState, portal: &Portal, id: &str) -> Result<Value, PortalError> {
    if !valid_id(id) {
        return Err(PortalError::Forbidden);
    }
    let stored = state
        .vault
        .read(portal.principal(), "Communication", id)
        .await
        .map_err(PortalError::from_vault)?;
    if stored.patient_id.as_deref() != Some(portal.patient_id()?.as_str()) {
        return Err(PortalError::Forbidden);
    }
    stored.resource.ok_or(PortalError::NotFound)
}

/// `GET /patient/messages/{id}`.
pub async fn show(
    State(state): State<AppState>,
    mut portal: Portal,
    Path(id): Path<String>,
) -> Response {
    let result = async {
        own_message(&state, &portal, &id).await?;
        let patient = patient_ctx(&state, &mut portal).await?;
        let all = messages_of(&state, &portal, &patient.id).await?;
        let root = root_of(&id, &all).to_owned();
        let lang = portal.lang;
        let t = thread(&root, &all);
        let Some((_, root_msg)) = all.iter().find(|(i, _)| *i == root) else {
            return Err(PortalError::NotFound);
        };
        let replies = t.iter().filter(|(_, m)| !from_patient_side(m)).count();
        let (status, status_text) = conversation_status(lang, root_msg, replies);
        let topic = topic_of(root_msg);
        let c = portal.chrome("care.thread-title");
        Ok(render(&ThreadPage {
            c,
            id: root.clone(),
            topic: if topic.is_empty() {
                kind_text(lang, kind_of(root_msg)).to_owned()
            } else {
                topic
            },
            status,
            status_text,
            messages: t
                .iter()
                .map(|(i, m)| view(lang, i, m, from_patient_side(m)))
                .collect(),
            can_reply: kind_of(root_msg) != KIND_REPEAT,
        }))
    }
    .await;
    page_or_error(&portal, result)
}

#[derive(Deserialize)]
pub struct ReplyForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    text: String,
}

/// `POST /patient/messages/{id}/reply`: a message in the same thread, to the practice
/// (and to the practitioner who wrote last).
pub async fn reply(
    State(state): State<AppState>,
    mut portal: Portal,
    Path(id): Path<String>,
    Form(form): Form<ReplyForm>,
) -> Response {
    let result = async {
        portal.check_csrf(&state, &form.csrf)?;
        let lang = portal.lang;
        let text = form.text.trim().to_owned();
        if text.is_empty() || text.chars().count() > MAX_TEXT {
            return Err(PortalError::BadRequest(
                lang.text("care.message-incomplete").into(),
            ));
        }
        own_message(&state, &portal, &id).await?;
        let patient = patient_ctx(&state, &mut portal).await?;
        let all = messages_of(&state, &portal, &patient.id).await?;
        let root = root_of(&id, &all).to_owned();
        let t = thread(&root, &all);
        let Some((last_id, _)) = t.last().copied() else {
            return Err(PortalError::NotFound);
        };
        let root_msg = t.first().map(|(_, m)| m.clone()).unwrap_or(Value::Null);
        let teams = care_teams(&state, portal.principal(), &patient.id).await?;
        let mut recipients = Vec::new();
        if let Some((pid, pname)) =
            practice_of(&state, portal.principal(), &patient.resource, &teams).await
        {
            recipients.push(json!({"reference": format!("Organization/{pid}"), "display": pname}));
        }
        if let Some((_, last_practice)) = t.iter().rev().find(|(_, m)| !from_patient_side(m)) {
            if let Some(s) = last_practice
                .get("sender")
                .filter(|s| ref_of(Some(s), "Practitioner").is_some())
            {
                recipients.push(s.clone());
            }
        }
        if recipients.is_empty() {
            return Err(PortalError::BadRequest(
                lang.text("care.no-practice").into(),
            ));
        }
        let mut message = json!({
            "resourceType": "Communication",
            "status": "in-progress",
            "category": kind_concept(KIND_QUESTION, lang.text("care.kind-question")),
            "subject": {"reference": format!("Patient/{}", patient.id), "display": patient.name},
            "inResponseTo": [{"reference": format!("Communication/{last_id}")}],
            "sender": patient_side_sender(&portal, &patient),
            "recipient": recipients,
            "sent": instant_text(state.vault.now()),
            "payload": [{"contentString": text}]
        });
        if let Some(topic) = root_msg.get("topic") {
            message["topic"] = topic.clone();
        }
        state
            .vault
            .create(portal.principal(), message)
            .await
            .map_err(PortalError::from_vault)?;
        Ok(see_other(&format!("/patient/messages/{root}")))
    }
    .await;
    page_or_error(&portal, result)
}

// ---------------------------------------------------------------------------------------
// Repeat medication (GP-13).

/// One current medicine to choose.
pub struct Medicine {
    pub reference: String,
    pub name: String,
    pub dosage: String,
    pub since: String,
    pub requested: bool,
}

#[derive(Template)]
#[template(path = "care/repeat.html")]
struct RepeatPage {
    c: Chrome,
    medicines: Vec<Medicine>,
    practice: String,
}

/// The patient's current medication: active prescriptions, and active use without one.
async fn current_medication(
    state: &AppState,
    portal: &Portal,
    patient_id: &str,
) -> Result<Vec<(String, Value)>, PortalError> {
    let requests = search_all(
        state,
        portal.principal(),
        "MedicationRequest",
        &[("patient", patient_id), ("status", "active")],
    )
    .await?;
    let statements = search_all(
        state,
        portal.principal(),
        "MedicationStatement",
        &[("patient", patient_id), ("status", "active")],
    )
    .await?;
    let code = |v: &Value, key: &str| {
        crate::portal::fhirtext::concept_key(v.get(key)).unwrap_or_else(|| concept(v.get(key)))
    };
    let mut out: Vec<(String, Value)> = Vec::new();
    let mut seen = Vec::new();
    let mut requests: Vec<_> = requests
        .into_iter()
        .filter_map(|s| s.resource.map(|r| (s.id, r)))
        .collect();
    requests.sort_by(|a, b| str_at(&b.1, "/authoredOn").cmp(&str_at(&a.1, "/authoredOn")));
    for (id, r) in requests {
        let key = code(&r, "medicationCodeableConcept");
        if seen.contains(&key) {
            continue;
        }
        seen.push(key);
        out.push((format!("MedicationRequest/{id}"), r));
    }
    for s in statements {
        let Some(r) = s.resource else { continue };
        let key = code(&r, "medicationCodeableConcept");
        if seen.contains(&key) {
            continue;
        }
        seen.push(key);
        out.push((format!("MedicationStatement/{}", s.id), r));
    }
    Ok(out)
}

/// The name of the medicine of a MedicationRequest or MedicationStatement.
pub fn medicine_name(r: &Value) -> String {
    let n = concept(r.get("medicationCodeableConcept"));
    if n.is_empty() {
        str_at(r, "/medicationReference/display")
            .unwrap_or("")
            .to_owned()
    } else {
        n
    }
}

/// The dosage as written.
pub fn dosage_text(r: &Value) -> String {
    ["dosageInstruction", "dosage"]
        .iter()
        .find_map(|k| {
            r.get(*k)
                .and_then(Value::as_array)
                .and_then(|d| d.first())
                .and_then(|d| d.get("text"))
                .and_then(Value::as_str)
        })
        .unwrap_or("")
        .to_owned()
}

/// `GET /patient/medication/repeat`.
pub async fn repeat_form(State(state): State<AppState>, mut portal: Portal) -> Response {
    let result = async {
        let patient = patient_ctx(&state, &mut portal).await?;
        let meds = current_medication(&state, &portal, &patient.id).await?;
        // What is already asked for and not handled yet.
        let open: Vec<String> = messages_of(&state, &portal, &patient.id)
            .await?
            .iter()
            .filter(|(_, c)| {
                kind_of(c) == KIND_REPEAT
                    && c.get("status").and_then(Value::as_str) == Some("in-progress")
            })
            .flat_map(|(_, c)| {
                c.get("about")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|r| str_at(r, "/reference").map(str::to_owned))
                    .collect::<Vec<_>>()
            })
            .collect();
        let teams = care_teams(&state, portal.principal(), &patient.id).await?;
        let practice = practice_of(&state, portal.principal(), &patient.resource, &teams)
            .await
            .map(|(_, n)| n)
            .unwrap_or_default();
        let medicines = meds
            .iter()
            .map(|(reference, r)| Medicine {
                requested: open.contains(reference),
                reference: reference.clone(),
                name: medicine_name(r),
                dosage: dosage_text(r),
                since: date_text(
                    str_at(r, "/authoredOn").or_else(|| str_at(r, "/effectivePeriod/start")),
                ),
            })
            .collect();
        let c = portal.chrome("care.repeat-title");
        Ok(render(&RepeatPage {
            c,
            medicines,
            practice,
        }))
    }
    .await;
    page_or_error(&portal, result)
}

/// `POST /patient/medication/repeat`: a request to the practice (a Communication of kind
/// `repeat-medication`, `about` the chosen medication, status in-progress).
pub async fn repeat(
    State(state): State<AppState>,
    mut portal: Portal,
    body: axum::body::Bytes,
) -> Response {
    let result = async {
        // Several `med` fields: read the form pairs by hand.
        let pairs: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
        let field = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
        portal.check_csrf(&state, &field("csrf"))?;
        let lang = portal.lang;
        let chosen: Vec<String> = pairs.iter().filter(|(k, _)| k == "med").map(|(_, v)| v.clone()).collect();
        let note = field("note").trim().to_owned();
        if chosen.is_empty() {
            return Err(PortalError::BadRequest(lang.text("care.repeat-choose").into()));
        }
        if note.chars().count() > MAX_TEXT {
            return Err(PortalError::BadRequest(lang.text("care.message-too-long").into()));
        }
        let patient = patient_ctx(&state, &mut portal).await?;
        let meds = current_medication(&state, &portal, &patient.id).await?;
        // Only medication of this patient's current list can be asked for.
        let mut about = Vec::new();
        for reference in &chosen {
            let Some((_, r)) = meds.iter().find(|(m, _)| m == reference) else {
                return Err(PortalError::Forbidden);
            };
            about.push(json!({"reference": reference, "display": medicine_name(r)}));
        }
        let teams = care_teams(&state, portal.principal(), &patient.id).await?;
        let Some((practice_id, practice_name)) =
            practice_of(&state, portal.principal(), &patient.resource, &teams).await
        else {
            return Err(PortalError::BadRequest(lang.text("care.no-practice").into()));
        };
        let names: Vec<String> = about
            .iter()
            .filter_map(|a| a.get("display").and_then(Value::as_str).map(str::to_owned))
            .collect();
        let mut text = format!("{}\n- {}", lang.text("care.repeat-request-text"), names.join("\n- "));
        let mut topic = format!("{}: {}", lang.text("care.kind-repeat"), names.join(", "));
        if topic.chars().count() > MAX_TOPIC {
            topic = topic.chars().take(MAX_TOPIC - 1).collect::<String>() + "…";
        }
        if !note.is_empty() {
            text.push_str("\n\n");
            text.push_str(&note);
        }
        let message = json!({
            "resourceType": "Communication",
            "status": "in-progress",
            "category": kind_concept(KIND_REPEAT, lang.text("care.kind-repeat")),
            "subject": {"reference": format!("Patient/{}", patient.id), "display": patient.name},
            "topic": {"text": topic},
            "about": about,
            "sender": patient_side_sender(&portal, &patient),
            "recipient": [{"reference": format!("Organization/{practice_id}"), "display": practice_name}],
            "sent": instant_text(state.vault.now()),
            "payload": [{"contentString": text}]
        });
        state
            .vault
            .create(portal.principal(), message)
            .await
            .map_err(PortalError::from_vault)?;
        Ok(see_other("/patient/messages?done=repeat"))
    }
    .await;
    page_or_error(&portal, result)
}
