//! PC-2: linking the health log with a care provider. A link is a Consent (category
//! `urn:zorgkluis:directive|health-log-link`, `organization[0]` the provider) whose status
//! tells where it stands: `proposed` (asked), `active` (accepted), `rejected` (declined),
//! `inactive` (ended by the patient). Every step is a new version of the Consent; the
//! access policy reads the current one, so an ended link stops access at once.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::Form;
use serde::Deserialize;
use serde_json::{json, Value};
use zorgkluis_domain::clock::rfc3339;
use zorgkluis_policy::records::DIRECTIVE_SYSTEM;
use zorgkluis_vault::{Principal, SearchQuery, Stored, VaultError};

use super::{done_flash, fill, local_time_text, organisation_names, patient_frame, text_or};
use crate::i18n::Lang;
use crate::portal::{fhirtext, page_or_error, render, see_other, Chrome, Portal, PortalError};
use crate::AppState;

const LINK_CODE: &str = "health-log-link";
const DECIDED_BY: &str = "urn:zorgkluis:link-decided-by";

/// Where a link stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Requested,
    Accepted,
    Declined,
    Revoked,
}

impl Status {
    fn of(consent: &Value) -> Self {
        match consent.get("status").and_then(Value::as_str) {
            Some("proposed" | "draft") => Self::Requested,
            Some("active") => Self::Accepted,
            Some("rejected") => Self::Declined,
            _ => Self::Revoked,
        }
    }

    fn code(self) -> &'static str {
        match self {
            Self::Requested => "requested",
            Self::Accepted => "accepted",
            Self::Declined => "declined",
            Self::Revoked => "revoked",
        }
    }

    fn open(self) -> bool {
        matches!(self, Self::Requested | Self::Accepted)
    }
}

fn is_link(consent: &Value) -> bool {
    consent
        .get("category")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .flat_map(|c| {
            c.get("coding")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
        })
        .any(|c| {
            c.get("system").and_then(Value::as_str) == Some(DIRECTIVE_SYSTEM)
                && c.get("code").and_then(Value::as_str) == Some(LINK_CODE)
        })
}

fn organisation_of(consent: &Value) -> Option<&str> {
    fhirtext::reference_id(consent, "/organization/0/reference")
}

fn extension_text<'a>(consent: &'a Value, url: &str) -> Option<&'a str> {
    consent
        .get("extension")
        .and_then(Value::as_array)?
        .iter()
        .find(|e| e.get("url").and_then(Value::as_str) == Some(url))?
        .get("valueString")
        .and_then(Value::as_str)
}

/// Sets (replaces) a string extension.
fn set_extension(consent: &mut Value, url: &str, value: &str) {
    let mut list: Vec<Value> = consent
        .get("extension")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    list.retain(|e| e.get("url").and_then(Value::as_str) != Some(url));
    list.push(json!({"url": url, "valueString": value}));
    consent["extension"] = Value::Array(list);
}

async fn search_links(
    state: &AppState,
    principal: &Principal,
    params: &[(&str, String)],
) -> Result<Vec<Stored>, PortalError> {
    let mut pairs: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    pairs.push(("category".into(), format!("{DIRECTIVE_SYSTEM}|{LINK_CODE}")));
    pairs.push(("_count".into(), "500".into()));
    let q = SearchQuery::parse("Consent", &pairs).map_err(|_| PortalError::Unavailable)?;
    let page = state
        .vault
        .search(principal, &q)
        .await
        .map_err(PortalError::from_vault)?;
    Ok(page
        .hits
        .into_iter()
        .filter(|h| h.resource.as_ref().is_some_and(is_link))
        .collect())
}

/// The patient's links (current versions), newest request first.
async fn patient_links(
    state: &AppState,
    principal: &Principal,
    patient_id: &str,
) -> Result<Vec<Stored>, PortalError> {
    let mut links = search_links(state, principal, &[("patient", patient_id.to_owned())])
        .await?
        .into_iter()
        .filter(|h| h.patient_id.as_deref() == Some(patient_id))
        .collect::<Vec<_>>();
    links.sort_by(|a, b| {
        let at = |s: &Stored| {
            s.resource
                .as_ref()
                .and_then(|r| fhirtext::str_at(r, "/dateTime"))
                .unwrap_or("")
                .to_owned()
        };
        at(b).cmp(&at(a))
    });
    Ok(links)
}

/// The organisations of the patient's care teams (active teams).
async fn care_team_organisations(
    state: &AppState,
    principal: &Principal,
    patient_id: &str,
) -> Vec<String> {
    let Ok(q) = SearchQuery::parse(
        "CareTeam",
        &[
            ("patient".to_owned(), patient_id.to_owned()),
            ("_count".to_owned(), "200".to_owned()),
        ],
    ) else {
        return Vec::new();
    };
    let Ok(page) = state.vault.search(principal, &q).await else {
        return Vec::new();
    };
    let mut out: Vec<String> = Vec::new();
    for team in page.hits.iter().filter_map(|h| h.resource.as_ref()) {
        if team.get("status").and_then(Value::as_str) != Some("active") {
            continue;
        }
        let managing = team
            .get("managingOrganization")
            .and_then(Value::as_array)
            .into_iter()
            .flatten();
        let participants = team
            .get("participant")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|p| p.get("onBehalfOf"));
        for r in managing.chain(participants) {
            if let Some(id) = fhirtext::reference_id(r, "/reference") {
                if !out.iter().any(|o| o == id) {
                    out.push(id.to_owned());
                }
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// The patient's page.

struct LinkRow {
    id: String,
    organisation: String,
    status: &'static str,
    status_text: String,
    requested: String,
    changed: String,
    decided_by: String,
    can_revoke: bool,
}

struct Provider {
    id: String,
    name: String,
}

#[derive(Template)]
#[template(path = "log/links.html")]
struct PatientLinksPage {
    c: Chrome,
    links: Vec<LinkRow>,
    care: Vec<Provider>,
    others: Vec<Provider>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct DoneQuery {
    done: Option<String>,
}

fn link_row(
    s: &Stored,
    consent: &Value,
    names: &[(String, String, Option<String>)],
    lang: Lang,
) -> LinkRow {
    let status = Status::of(consent);
    let org = organisation_of(consent).unwrap_or("");
    let organisation = names
        .iter()
        .find(|(id, _, _)| id == org)
        .map(|(_, n, _)| n.clone())
        .or_else(|| fhirtext::str_at(consent, "/organization/0/display").map(str::to_owned))
        .unwrap_or_else(|| org.to_owned());
    LinkRow {
        id: s.id.clone(),
        organisation,
        status: status.code(),
        status_text: lang
            .text(&format!("log.links-status-{}", status.code()))
            .to_owned(),
        requested: fhirtext::str_at(consent, "/dateTime")
            .map(local_time_text)
            .unwrap_or_default(),
        changed: if status == Status::Requested {
            String::new()
        } else {
            local_time_text(&s.last_updated)
        },
        decided_by: extension_text(consent, DECIDED_BY).unwrap_or("").to_owned(),
        can_revoke: status.open(),
    }
}

pub(super) async fn patient_page(
    State(state): State<AppState>,
    mut portal: Portal,
    Query(q): Query<DoneQuery>,
) -> Response {
    let result = async {
        let (patient_id, mut c) = patient_frame(&state, &mut portal, "log.links-title").await?;
        let lang = c.lang;
        c.flash = done_flash(
            lang,
            q.done.as_deref(),
            &["requested", "revoked"],
            "log.links-done-",
        );
        patient_links_page(&state, &portal, &patient_id, c).await
    }
    .await;
    page_or_error(&portal, result)
}

async fn patient_links_page(
    state: &AppState,
    portal: &Portal,
    patient_id: &str,
    c: Chrome,
) -> Result<Response, PortalError> {
    let lang = c.lang;
    let principal = portal.principal();
    let links = patient_links(state, principal, patient_id).await?;
    let names = organisation_names(state, principal).await;
    let care_ids = care_team_organisations(state, principal, patient_id).await;
    let open: Vec<String> = links
        .iter()
        .filter_map(|s| s.resource.as_ref())
        .filter(|r| Status::of(r).open())
        .filter_map(|r| organisation_of(r).map(str::to_owned))
        .collect();
    let rows = links
        .iter()
        .filter_map(|s| s.resource.as_ref().map(|r| link_row(s, r, &names, lang)))
        .collect();
    let provider = |id: &str, name: &str, kind: Option<&str>| Provider {
        id: id.to_owned(),
        name: match kind {
            Some(k) => format!(
                "{name} ({})",
                text_or(lang, &format!("log.links-org-kind-{k}"), k)
            ),
            None => name.to_owned(),
        },
    };
    let mut care = Vec::new();
    let mut others = Vec::new();
    for (id, name, kind) in &names {
        if open.contains(id) {
            continue;
        }
        if care_ids.contains(id) {
            care.push(provider(id, name, kind.as_deref()));
        } else {
            others.push(provider(id, name, kind.as_deref()));
        }
    }
    care.sort_by(|a, b| a.name.cmp(&b.name));
    others.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(render(&PatientLinksPage {
        c,
        links: rows,
        care,
        others,
    }))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct RequestForm {
    csrf: String,
    organisation: String,
}

pub(super) async fn request(
    State(state): State<AppState>,
    mut portal: Portal,
    Form(form): Form<RequestForm>,
) -> Response {
    let result = async {
        portal.check_csrf(&state, &form.csrf)?;
        let (patient_id, mut c) = patient_frame(&state, &mut portal, "log.links-title").await?;
        let lang = c.lang;
        let principal = portal.principal();
        let names = organisation_names(&state, principal).await;
        let Some((org_id, org_name, _)) = names.iter().find(|(id, _, _)| *id == form.organisation)
        else {
            c.error = Some(lang.text("log.links-err-choose").to_owned());
            return patient_links_page(&state, &portal, &patient_id, c).await;
        };
        let links = patient_links(&state, principal, &patient_id).await?;
        let already = links.iter().filter_map(|s| s.resource.as_ref()).any(|r| {
            Status::of(r).open() && organisation_of(r) == Some(org_id.as_str())
        });
        if already {
            c.error = Some(fill(lang, "log.links-err-already", &[("organisation", org_name)]));
            return patient_links_page(&state, &portal, &patient_id, c).await;
        }
        let performer = match principal {
            Principal::Representative { represents, .. } => represents
                .iter()
                .find(|(p, _)| *p == patient_id)
                .map(|(_, rp)| json!({"reference": format!("RelatedPerson/{rp}")})),
            _ => None,
        }
        .unwrap_or_else(|| json!({"reference": format!("Patient/{patient_id}")}));
        let consent = json!({
            "resourceType": "Consent",
            "status": "proposed",
            "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}]},
            "category": [{"coding": [{"system": DIRECTIVE_SYSTEM, "code": LINK_CODE, "display": "Koppeling gezondheidsdagboek"}]}],
            "patient": {"reference": format!("Patient/{patient_id}")},
            "dateTime": rfc3339(state.vault.now()),
            "performer": [performer],
            "organization": [{"reference": format!("Organization/{org_id}"), "display": org_name}],
            "policyRule": {"coding": [{"system": "urn:zorgkluis:policy", "code": "access-policy"}]},
            "provision": {"type": "permit"}
        });
        state
            .vault
            .create(principal, consent)
            .await
            .map_err(PortalError::from_vault)?;
        Ok(see_other("/patient/links?done=requested"))
    }
    .await;
    page_or_error(&portal, result)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct CsrfForm {
    csrf: String,
}

pub(super) async fn revoke(
    State(state): State<AppState>,
    mut portal: Portal,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    let result = async {
        portal.check_csrf(&state, &form.csrf)?;
        let (patient_id, c) = patient_frame(&state, &mut portal, "log.links-title").await?;
        let principal = portal.principal();
        let stored = state
            .vault
            .read(principal, "Consent", &id)
            .await
            .map_err(PortalError::from_vault)?;
        let mut consent = stored.resource.clone().ok_or(PortalError::NotFound)?;
        if stored.patient_id.as_deref() != Some(&*patient_id) || !is_link(&consent) {
            return Err(PortalError::Forbidden);
        }
        if !Status::of(&consent).open() {
            return Err(PortalError::BadRequest(
                c.lang.text("log.links-err-ended").to_owned(),
            ));
        }
        consent["status"] = Value::String("inactive".into());
        match state
            .vault
            .update(
                principal,
                "Consent",
                &stored.id,
                consent,
                Some(stored.version),
            )
            .await
        {
            Ok(_) => Ok(see_other("/patient/links?done=revoked")),
            Err(VaultError::Conflict { .. }) => Err(PortalError::BadRequest(
                c.lang.text("log.links-err-changed").to_owned(),
            )),
            Err(e) => Err(PortalError::from_vault(e)),
        }
    }
    .await;
    page_or_error(&portal, result)
}

// ---------------------------------------------------------------------------------------
// The staff inbox of link requests.

struct RequestRow {
    id: String,
    patient: String,
    birth: String,
    requested: String,
    changed: String,
    decided_by: String,
}

#[derive(Template)]
#[template(path = "log/staff_links.html")]
struct StaffLinksPage {
    c: Chrome,
    organisation: String,
    open: Vec<RequestRow>,
    active: Vec<RequestRow>,
}

pub(super) async fn staff_page(
    State(state): State<AppState>,
    portal: Portal,
    Query(q): Query<DoneQuery>,
) -> Response {
    let result = async {
        let staff = portal.staff()?;
        let org_id = staff.organisation.id.clone();
        let mut c = portal.chrome("log.links-staff-title");
        let lang = c.lang;
        c.flash = done_flash(
            lang,
            q.done.as_deref(),
            &["accepted", "declined"],
            "log.links-done-",
        );
        let principal = portal.principal();
        let links = search_links(
            &state,
            principal,
            &[("organization", format!("Organization/{org_id}"))],
        )
        .await?;
        let names = organisation_names(&state, principal).await;
        let organisation = names
            .iter()
            .find(|(id, _, _)| *id == org_id)
            .map_or(org_id.clone(), |(_, n, _)| n.clone());
        let mut patients: Vec<(String, (String, String))> = Vec::new();
        let mut open = Vec::new();
        let mut active = Vec::new();
        for s in &links {
            let Some(consent) = s.resource.as_ref() else {
                continue;
            };
            if organisation_of(consent) != Some(org_id.as_str()) {
                continue;
            }
            let status = Status::of(consent);
            if !status.open() {
                continue;
            }
            let pid = s.patient_id.clone().unwrap_or_default();
            let (patient, birth) = match patients.iter().find(|(p, _)| *p == pid) {
                Some((_, v)) => v.clone(),
                None => {
                    let v = match state.vault.read(principal, "Patient", &pid).await {
                        Ok(p) => p
                            .resource
                            .as_ref()
                            .map(|r| {
                                (
                                    fhirtext::human_name(r.get("name")),
                                    fhirtext::date_text(fhirtext::str_at(r, "/birthDate")),
                                )
                            })
                            .unwrap_or_default(),
                        Err(_) => (
                            lang.text("log.links-patient-hidden").to_owned(),
                            String::new(),
                        ),
                    };
                    patients.push((pid.clone(), v.clone()));
                    v
                }
            };
            let row = RequestRow {
                id: s.id.clone(),
                patient,
                birth,
                requested: fhirtext::str_at(consent, "/dateTime")
                    .map(local_time_text)
                    .unwrap_or_default(),
                changed: local_time_text(&s.last_updated),
                decided_by: extension_text(consent, DECIDED_BY).unwrap_or("").to_owned(),
            };
            if status == Status::Requested {
                open.push(row);
            } else {
                active.push(row);
            }
        }
        open.sort_by(|a, b| a.requested.cmp(&b.requested));
        Ok(render(&StaffLinksPage {
            c,
            organisation,
            open,
            active,
        }))
    }
    .await;
    page_or_error(&portal, result)
}

pub(super) async fn accept(
    State(state): State<AppState>,
    portal: Portal,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    let result = decide_request(&state, &portal, &id, &form.csrf, true).await;
    page_or_error(&portal, result)
}

pub(super) async fn decline(
    State(state): State<AppState>,
    portal: Portal,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    let result = decide_request(&state, &portal, &id, &form.csrf, false).await;
    page_or_error(&portal, result)
}

/// A member of staff accepts or declines a request addressed to their own organisation.
/// The vault decides whether they may change this patient's Consent at all.
async fn decide_request(
    state: &AppState,
    portal: &Portal,
    id: &str,
    csrf: &str,
    accept: bool,
) -> Result<Response, PortalError> {
    portal.check_csrf(state, csrf)?;
    let staff = portal.staff()?;
    let lang = portal.lang;
    let principal = portal.principal();
    let stored = state
        .vault
        .read(principal, "Consent", id)
        .await
        .map_err(PortalError::from_vault)?;
    let mut consent = stored.resource.clone().ok_or(PortalError::NotFound)?;
    // Only requests to this member of staff's own organisation.
    if !is_link(&consent) || organisation_of(&consent) != Some(staff.organisation.id.as_str()) {
        return Err(PortalError::Forbidden);
    }
    if Status::of(&consent) != Status::Requested {
        return Err(PortalError::BadRequest(
            lang.text("log.links-err-handled").to_owned(),
        ));
    }
    consent["status"] = Value::String(if accept { "active" } else { "rejected" }.into());
    let who = format!(
        "{} ({})",
        staff
            .actor
            .display
            .clone()
            .unwrap_or_else(|| staff.actor.user_id.clone()),
        lang.text(&format!("common.role-{}", staff.role.code()))
    );
    set_extension(&mut consent, DECIDED_BY, &who);
    match state
        .vault
        .update(
            principal,
            "Consent",
            &stored.id,
            consent,
            Some(stored.version),
        )
        .await
    {
        Ok(_) => Ok(see_other(if accept {
            "/staff/links?done=accepted"
        } else {
            "/staff/links?done=declined"
        })),
        Err(VaultError::Conflict { .. }) => Err(PortalError::BadRequest(
            lang.text("log.links-err-handled").to_owned(),
        )),
        Err(e) => Err(PortalError::from_vault(e)),
    }
}
