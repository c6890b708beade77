//! Agendas: booking an open slot, cancelling an appointment, opening slots (HP-2, GP-13).
//!
//! Schedules and Slots are directory data (availability, not patient data): everyone
//! logged in may read them, only administrators may write them directly. Booking and
//! cancelling therefore are single vault operations: the decision point decides the
//! change to the *Appointment* in the patient's record (the patient, a representative, or
//! staff within their rights), and only when that is allowed does the same job mark the
//! Slot busy (or free again). The Appointment and the Slot are written in one
//! transaction, each based on the version read (`expected_current`), so two people can
//! never book the same slot: the second job finds the slot changed and is refused as a
//! conflict. Both writes carry an audit event with the basis of the one decision.
//!
//! Opening slots: a clinician opens free slots in their *own* agenda (a Schedule whose
//! actor is their Practitioner); administrators may open slots in any agenda.

use serde_json::{json, Value};
use time::OffsetDateTime;
use zorgkluis_audit::{EventCode, Outcome};
use zorgkluis_domain::{clock::rfc3339, ResourceId};
use zorgkluis_fhir::{IssueCode, ResourceType};
use zorgkluis_policy::{Action, Allowed, Basis, Category, Decision, Principal, StaffRole};
use zorgkluis_store::{IndexClause, IndexQuery, JobError, ReadRow, WriteOp};

use crate::events::{audited_job, Object};
use crate::records::{issue, stored_category, Stored};
use crate::{Vault, VaultError};

/// Extension (valueBoolean) on a Slot or Appointment marking a video consult (HP-2).
/// `appointmentType` or `serviceType` with code `VR` (v3 ActCode "virtual") means the same.
pub const VIDEO_CONSULT_URL: &str = "urn:zorgkluis:video-consult";

/// Attempts at a booking that lost a race with another writer before giving up.
const MAX_RETRIES: usize = 5;
/// Slots one call may open at most.
pub const MAX_NEW_SLOTS: usize = 64;

/// A slot to open in an agenda.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSlot {
    /// Start (with the offset it is to be written in, e.g. Dutch local time).
    pub start: OffsetDateTime,
    /// End, after the start.
    pub end: OffsetDateTime,
    /// A video consult (HP-2).
    pub video: bool,
}

/// Whether an Appointment or Slot is marked as a video consult.
pub fn is_video_consult(resource: &Value) -> bool {
    let extension = resource
        .get("extension")
        .and_then(Value::as_array)
        .is_some_and(|list| {
            list.iter().any(|e| {
                e.get("url").and_then(Value::as_str) == Some(VIDEO_CONSULT_URL)
                    && e.get("valueBoolean").and_then(Value::as_bool) == Some(true)
            })
        });
    let coded = |v: Option<&Value>| {
        let concepts: Vec<&Value> = match v {
            Some(Value::Array(a)) => a.iter().collect(),
            Some(o @ Value::Object(_)) => vec![o],
            _ => Vec::new(),
        };
        concepts.iter().any(|c| {
            c.get("coding").and_then(Value::as_array).is_some_and(|cs| {
                cs.iter()
                    .any(|c| c.get("code").and_then(Value::as_str) == Some("VR"))
            })
        })
    };
    extension || coded(resource.get("appointmentType")) || coded(resource.get("serviceType"))
}

fn parse_instant(v: Option<&Value>) -> Option<OffsetDateTime> {
    let s = v?.as_str()?;
    OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
}

fn instant_text(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| rfc3339(t))
}

fn invalid(location: &str, message: &str) -> VaultError {
    VaultError::Invalid(vec![issue(IssueCode::Processing, location, message)])
}

/// The ids of the local references of one type in `list` (e.g. `Appointment.slot`).
fn referenced_ids(v: Option<&Value>, rtype: &str) -> Vec<String> {
    let items: Vec<&Value> = match v {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(o @ Value::Object(_)) => vec![o],
        _ => Vec::new(),
    };
    items
        .iter()
        .filter_map(|r| r.get("reference").and_then(Value::as_str))
        .filter_map(|r| r.strip_prefix(&format!("{rtype}/")))
        .map(|id| id.split('/').next().unwrap_or(id).to_owned())
        .collect()
}

/// The current row of a directory resource, opened (no event: nothing leaves the vault
/// here; what the caller sees is audited with the change it makes).
struct Opened {
    version: i64,
    resource: Value,
}

impl Vault {
    async fn open_current(&self, rt: &str, id: &str) -> Result<Option<Opened>, VaultError> {
        let Some(row) = self.inner.store.read_current(rt, id).await? else {
            return Ok(None);
        };
        self.opened(&row)
    }

    fn opened(&self, row: &ReadRow) -> Result<Option<Opened>, VaultError> {
        if row.version.deleted {
            return Ok(None);
        }
        Ok(self.open_row(row)?.map(|resource| Opened {
            version: row.version.version,
            resource,
        }))
    }

    /// The decision for `action` on an Appointment of `patient` (category as stored or
    /// as the body says); a refusal is audited and returned as `Forbidden`.
    async fn decide_appointment(
        &self,
        principal: &Principal,
        action: Action,
        patient: &str,
        category: Category,
        object: Object<'_>,
    ) -> Result<Allowed, VaultError> {
        let code = if action == Action::Create {
            EventCode::Create
        } else {
            EventCode::Update
        };
        match self
            .decide_resource(principal, action, "Appointment", Some(patient), category)
            .await?
        {
            Decision::Allow(a) => Ok(a),
            Decision::Deny(basis) => Err(self.deny(principal, &basis, code, object).await),
        }
    }

    /// Books the open slot `slot_id` with `appointment` (an Appointment in one patient's
    /// record, naming the patient as participant). The decision point decides the
    /// Appointment's creation for `principal`; only when allowed is the Slot marked busy,
    /// in the same transaction. The vault sets the appointment's `id`, `status`
    /// (`booked`), `start`, `end` and `slot` from the slot, and adds the agenda's owner as
    /// participant when absent.
    ///
    /// Errors: `Forbidden` (refused, audited), `NotFound` (no such slot), `Conflict` (the
    /// slot is not free, or was just booked by someone else), `Invalid` (a slot in the
    /// past, an appointment outside a patient's record).
    pub async fn book_slot(
        &self,
        principal: &Principal,
        slot_id: &str,
        mut appointment: Value,
    ) -> Result<Stored, VaultError> {
        let id = ResourceId::random().to_string();
        if let Some(obj) = appointment.as_object_mut() {
            obj.insert("id".into(), Value::String(id.clone()));
            obj.insert("status".into(), Value::String("booked".into()));
        }
        let rt = Self::validated(&appointment)?;
        if rt.as_str() != "Appointment" {
            return Err(invalid("Appointment", "a booking is an Appointment"));
        }
        let Some(patient) = Self::compartment_of(rt, &appointment)? else {
            return Err(invalid(
                "Appointment.participant",
                "a booking names the patient as a participant",
            ));
        };
        let object = Object {
            patient_id: Some(patient.as_str()),
            resource_type: Some("Appointment"),
            resource_id: Some(id.as_str()),
            ..Default::default()
        };
        let category = Category::of("Appointment", &appointment);
        let allowed = self
            .decide_appointment(
                principal,
                Action::Create,
                &patient,
                category,
                object.clone(),
            )
            .await?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let Some(slot) = self.open_current("Slot", slot_id).await? else {
                return Err(VaultError::NotFound);
            };
            let status = slot.resource.get("status").and_then(Value::as_str);
            if status != Some("free") {
                return Err(VaultError::Conflict {
                    expected: None,
                    current: Some(slot.version),
                });
            }
            let (Some(start), Some(end)) = (
                parse_instant(slot.resource.get("start")),
                parse_instant(slot.resource.get("end")),
            ) else {
                return Err(VaultError::Corrupt(format!(
                    "Slot/{slot_id} has no start or end"
                )));
            };
            if start <= self.now() {
                return Err(invalid("Slot.start", "this slot has already begun"));
            }
            // The agenda's owner takes part in the appointment.
            let schedule_ids = referenced_ids(slot.resource.get("schedule"), "Schedule");
            let mut owners = Vec::new();
            for sid in &schedule_ids {
                if let Some(s) = self.open_current("Schedule", sid).await? {
                    if s.resource.get("active").and_then(Value::as_bool) == Some(false) {
                        return Err(invalid("Slot.schedule", "this agenda is closed"));
                    }
                    if let Some(actors) = s.resource.get("actor").and_then(Value::as_array) {
                        owners.extend(
                            actors
                                .iter()
                                .filter(|a| {
                                    a.get("reference")
                                        .and_then(Value::as_str)
                                        .is_some_and(|r| r.starts_with("Practitioner/"))
                                })
                                .cloned(),
                        );
                    }
                }
            }
            let mut body = appointment.clone();
            if let Some(obj) = body.as_object_mut() {
                obj.insert("start".into(), json!(instant_text(start)));
                obj.insert("end".into(), json!(instant_text(end)));
                obj.insert(
                    "minutesDuration".into(),
                    json!((end - start).whole_minutes().max(1)),
                );
                obj.insert(
                    "slot".into(),
                    json!([{"reference": format!("Slot/{slot_id}")}]),
                );
                let participants = obj
                    .entry("participant")
                    .or_insert_with(|| Value::Array(Vec::new()));
                if let Some(list) = participants.as_array_mut() {
                    for owner in owners {
                        let r = owner.get("reference").cloned();
                        if !list
                            .iter()
                            .any(|p| p.pointer("/actor/reference") == r.as_ref())
                        {
                            list.push(json!({
                                "actor": owner,
                                "required": "required",
                                "status": "accepted"
                            }));
                        }
                    }
                }
            }
            let issues = self.check_references(&body, &|_, _| false).await?;
            if !issues.is_empty() {
                return Err(VaultError::Invalid(issues));
            }
            let mut slot_body = slot.resource.clone();
            slot_body["status"] = json!("busy");
            let now = rfc3339(self.now());
            let (key_id, key, _) = self.compartment_key(Some(&patient), false).await?;
            let sealed =
                self.seal_version(rt, &id, 1, Some(&patient), &key_id, &key, &mut body, &now);
            let (shared_id, shared, _) = self.compartment_key(None, false).await?;
            let slot_sealed = self.seal_version(
                ResourceType::parse("Slot").map_err(|_| VaultError::NotFound)?,
                slot_id,
                slot.version + 1,
                None,
                &shared_id,
                &shared,
                &mut slot_body,
                &now,
            );
            let events = vec![
                self.event(
                    principal,
                    allowed.basis(),
                    EventCode::Create,
                    Outcome::Success,
                    Object {
                        version: Some(1),
                        entities: vec![format!("Slot/{slot_id}")],
                        ..object.clone()
                    },
                    None,
                ),
                self.event(
                    principal,
                    allowed.basis(),
                    EventCode::Update,
                    Outcome::Success,
                    Object {
                        resource_type: Some("Slot"),
                        resource_id: Some(slot_id),
                        version: Some(slot.version + 1),
                        patient_id: None,
                        entities: vec![format!("Appointment/{id}")],
                        query: None,
                    },
                    Some("slot booked".into()),
                ),
            ];
            let job = audited_job(
                vec![
                    WriteOp::PutVersion {
                        row: sealed.row,
                        expected_current: None,
                        index: sealed.index,
                    },
                    WriteOp::PutVersion {
                        row: slot_sealed.row,
                        expected_current: Some(slot.version),
                        index: slot_sealed.index,
                    },
                ],
                events,
            );
            match self.inner.writer.submit(job).await? {
                Ok(()) => {
                    return Ok(Stored {
                        resource_type: "Appointment".into(),
                        id,
                        version: 1,
                        last_updated: now,
                        patient_id: Some(patient),
                        resource: Some(body),
                    })
                }
                // The slot changed since it was read (booked by someone else, most
                // likely): read it again; a busy slot is then refused above.
                Err(JobError::Conflict {
                    expected, found, ..
                }) if attempt >= MAX_RETRIES => {
                    return Err(VaultError::Conflict {
                        expected,
                        current: found,
                    })
                }
                Err(JobError::Conflict { .. } | JobError::KeyRace(_)) => continue,
                Err(JobError::KeyUnavailable(_)) => return Err(VaultError::Shredded),
                Err(e) => return Err(VaultError::Corrupt(e.to_string())),
            }
        }
    }

    /// Cancels an appointment that has not begun yet, and frees its slot(s) in the same
    /// transaction. Decided as an update of the Appointment (the patient, a
    /// representative, or staff within their rights); a refusal is audited.
    ///
    /// Errors: `Forbidden`, `NotFound`, `Gone`, `Invalid` (already begun, or not open).
    pub async fn cancel_appointment(
        &self,
        principal: &Principal,
        appointment_id: &str,
        reason: &str,
    ) -> Result<Stored, VaultError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let row = self
                .inner
                .store
                .read_current("Appointment", appointment_id)
                .await?;
            let patient = row
                .as_ref()
                .and_then(|r| r.version.patient_id.clone())
                .unwrap_or_default();
            let category = row
                .as_ref()
                .map_or(Category::Appointments, |r| stored_category(&r.version));
            let object = Object {
                patient_id: Some(patient.as_str()).filter(|p| !p.is_empty()),
                resource_type: Some("Appointment"),
                resource_id: Some(appointment_id),
                ..Default::default()
            };
            // A missing appointment is decided as data of an unknown patient: refused.
            let allowed = self
                .decide_appointment(
                    principal,
                    Action::Update,
                    &patient,
                    category,
                    object.clone(),
                )
                .await?;
            let Some(row) = row else {
                return Err(VaultError::NotFound);
            };
            let Some(current) = self.opened(&row)? else {
                return Err(VaultError::Gone);
            };
            let mut body = current.resource;
            let status = body.get("status").and_then(Value::as_str).unwrap_or("");
            if !matches!(status, "proposed" | "pending" | "booked" | "waitlist") {
                return Err(invalid(
                    "Appointment.status",
                    "this appointment is not open",
                ));
            }
            if parse_instant(body.get("start")).is_some_and(|s| s <= self.now()) {
                return Err(invalid(
                    "Appointment.start",
                    "this appointment has already begun",
                ));
            }
            body["status"] = json!("cancelled");
            body["cancelationReason"] = json!({"text": reason});
            let now = rfc3339(self.now());
            let version = current.version + 1;
            let (key_id, key, _) = self.compartment_key(Some(&patient), false).await?;
            let rt = ResourceType::parse("Appointment").map_err(|_| VaultError::NotFound)?;
            let sealed = self.seal_version(
                rt,
                appointment_id,
                version,
                Some(&patient),
                &key_id,
                &key,
                &mut body,
                &now,
            );
            let mut ops = vec![WriteOp::PutVersion {
                row: sealed.row,
                expected_current: Some(current.version),
                index: sealed.index,
            }];
            let mut events = vec![self.event(
                principal,
                allowed.basis(),
                EventCode::Update,
                Outcome::Success,
                Object {
                    version: Some(version),
                    ..object.clone()
                },
                Some("appointment cancelled".into()),
            )];
            let slot_type = ResourceType::parse("Slot").map_err(|_| VaultError::NotFound)?;
            for slot_id in referenced_ids(body.get("slot"), "Slot") {
                let Some(slot) = self.open_current("Slot", &slot_id).await? else {
                    continue;
                };
                if slot.resource.get("status").and_then(Value::as_str) != Some("busy") {
                    continue;
                }
                let mut slot_body = slot.resource;
                slot_body["status"] = json!("free");
                let (shared_id, shared, _) = self.compartment_key(None, false).await?;
                let s = self.seal_version(
                    slot_type,
                    &slot_id,
                    slot.version + 1,
                    None,
                    &shared_id,
                    &shared,
                    &mut slot_body,
                    &now,
                );
                ops.push(WriteOp::PutVersion {
                    row: s.row,
                    expected_current: Some(slot.version),
                    index: s.index,
                });
                events.push(self.event(
                    principal,
                    allowed.basis(),
                    EventCode::Update,
                    Outcome::Success,
                    Object {
                        resource_type: Some("Slot"),
                        resource_id: Some(&slot_id),
                        version: Some(slot.version + 1),
                        entities: vec![format!("Appointment/{appointment_id}")],
                        ..Default::default()
                    },
                    Some("slot freed".into()),
                ));
            }
            match self.inner.writer.submit(audited_job(ops, events)).await? {
                Ok(()) => {
                    return Ok(Stored {
                        resource_type: "Appointment".into(),
                        id: appointment_id.to_owned(),
                        version,
                        last_updated: now,
                        patient_id: Some(patient),
                        resource: Some(body),
                    })
                }
                Err(JobError::Conflict {
                    expected, found, ..
                }) if attempt >= MAX_RETRIES => {
                    return Err(VaultError::Conflict {
                        expected,
                        current: found,
                    })
                }
                Err(JobError::Conflict { .. } | JobError::KeyRace(_)) => continue,
                Err(JobError::KeyUnavailable(_)) => return Err(VaultError::Shredded),
                Err(e) => return Err(VaultError::Corrupt(e.to_string())),
            }
        }
    }

    /// Opens free slots in the agenda `schedule_id`: a clinician in their own agenda (the
    /// Schedule's actor is their Practitioner), an administrator in any. Decided as the
    /// creation of directory data; a slot in the past, one that ends before it starts, or
    /// one that overlaps a slot already in the agenda is refused as `Invalid` (nothing is
    /// written then). All slots are written in one transaction.
    pub async fn open_slots(
        &self,
        principal: &Principal,
        schedule_id: &str,
        slots: &[NewSlot],
    ) -> Result<Vec<Stored>, VaultError> {
        let object = Object {
            resource_type: Some("Slot"),
            query: Some(format!("Schedule/{schedule_id}")),
            ..Default::default()
        };
        let allowed = match self
            .decide_resource(principal, Action::Create, "Slot", None, Category::Directory)
            .await?
        {
            Decision::Allow(a) => a,
            Decision::Deny(basis) => {
                return Err(self
                    .deny(principal, &basis, EventCode::Create, object)
                    .await)
            }
        };
        let Some(schedule) = self.open_current("Schedule", schedule_id).await? else {
            return Err(VaultError::NotFound);
        };
        // Clinicians only in their own agenda.
        if let Principal::Staff(s) = principal {
            if s.role != StaffRole::Administrator {
                let mine = s.practitioner_id.as_deref().is_some_and(|p| {
                    referenced_ids(schedule.resource.get("actor"), "Practitioner")
                        .iter()
                        .any(|a| a == p)
                });
                if !mine {
                    let basis = Basis {
                        rule: "HP-2 clinicians open slots in their own agenda only",
                        ..allowed.basis().clone()
                    };
                    return Err(self
                        .deny(principal, &basis, EventCode::Create, object)
                        .await);
                }
            }
        }
        if slots.is_empty() {
            return Ok(Vec::new());
        }
        if slots.len() > MAX_NEW_SLOTS {
            return Err(invalid("Slot", "too many slots at once"));
        }
        let now = self.now();
        for (k, s) in slots.iter().enumerate() {
            if s.end <= s.start {
                return Err(invalid("Slot.end", "a slot ends after it starts"));
            }
            if s.start <= now {
                return Err(invalid("Slot.start", "a slot starts in the future"));
            }
            if slots[..k]
                .iter()
                .any(|o| o.start < s.end && s.start < o.end)
            {
                return Err(invalid("Slot", "the new slots overlap each other"));
            }
        }
        // The agenda's existing slots (read here for the check only; nothing leaves).
        let candidates = self
            .inner
            .store
            .search_index(&IndexQuery {
                resource_type: "Slot".into(),
                clauses: vec![IndexClause::Ref {
                    param: "schedule".into(),
                    any: vec![(Some("Schedule".into()), schedule_id.to_owned())],
                }],
                sort_date_param: None,
                limit: crate::MAX_CANDIDATES,
            })
            .await?;
        let earliest = slots.iter().map(|s| s.start).min().unwrap_or(now);
        let ids: Vec<&str> = candidates.iter().map(|c| c.id.as_str()).collect();
        for chunk in ids.chunks(500) {
            for row in self.inner.store.read_current_many("Slot", chunk).await? {
                let Some(existing) = self.opened(&row)? else {
                    continue;
                };
                if existing.resource.get("status").and_then(Value::as_str)
                    == Some("entered-in-error")
                {
                    continue;
                }
                let (Some(es), Some(ee)) = (
                    parse_instant(existing.resource.get("start")),
                    parse_instant(existing.resource.get("end")),
                ) else {
                    continue;
                };
                if ee <= earliest {
                    continue;
                }
                if slots.iter().any(|s| s.start < ee && es < s.end) {
                    return Err(invalid(
                        "Slot",
                        "a new slot overlaps a slot already in the agenda",
                    ));
                }
            }
        }
        let stamp = rfc3339(now);
        let (shared_id, shared, _) = self.compartment_key(None, false).await?;
        let slot_type = ResourceType::parse("Slot").map_err(|_| VaultError::NotFound)?;
        let mut ops = Vec::with_capacity(slots.len());
        let mut events = Vec::with_capacity(slots.len());
        let mut out = Vec::with_capacity(slots.len());
        for s in slots {
            let id = ResourceId::random().to_string();
            let mut body = json!({
                "resourceType": "Slot",
                "id": id,
                "schedule": {"reference": format!("Schedule/{schedule_id}")},
                "status": "free",
                "start": instant_text(s.start),
                "end": instant_text(s.end),
            });
            if s.video {
                body["extension"] = json!([{"url": VIDEO_CONSULT_URL, "valueBoolean": true}]);
                body["appointmentType"] = json!({"coding": [{
                    "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                    "code": "VR",
                    "display": "virtual"
                }]});
            }
            Self::validated(&body)?;
            let sealed = self.seal_version(
                slot_type, &id, 1, None, &shared_id, &shared, &mut body, &stamp,
            );
            ops.push(WriteOp::PutVersion {
                row: sealed.row,
                expected_current: None,
                index: sealed.index,
            });
            events.push(self.event(
                principal,
                allowed.basis(),
                EventCode::Create,
                Outcome::Success,
                Object {
                    resource_type: Some("Slot"),
                    resource_id: Some(&id),
                    version: Some(1),
                    entities: vec![format!("Schedule/{schedule_id}")],
                    ..Default::default()
                },
                None,
            ));
            out.push(Stored {
                resource_type: "Slot".into(),
                id,
                version: 1,
                last_updated: stamp.clone(),
                patient_id: None,
                resource: Some(body),
            });
        }
        match self.inner.writer.submit(audited_job(ops, events)).await? {
            Ok(()) => Ok(out),
            Err(JobError::Conflict {
                expected, found, ..
            }) => Err(VaultError::Conflict {
                expected,
                current: found,
            }),
            Err(JobError::KeyUnavailable(_)) => Err(VaultError::Shredded),
            Err(e) => Err(VaultError::Corrupt(e.to_string())),
        }
    }
}
