//! Appointments, video consults, messages and repeat medication (HP-2, HP-3, GP-13): the
//! patient's pages (also for a representative acting for them), and the staff inbox and
//! agenda.
//!
//! Every page reads and writes through the vault with the logged-in principal, so each
//! access is decided and audited. Booking and cancelling are single vault operations
//! ([`Vault::book_slot`](zorgkluis_vault::Vault::book_slot),
//! [`Vault::cancel_appointment`](zorgkluis_vault::Vault::cancel_appointment)) that
//! decide the patient's Appointment and change the (directory) Slot with it, so a slot is
//! never booked twice.
//!
//! A video consult is an Appointment with the extension `urn:zorgkluis:video-consult`
//! (`valueBoolean: true`) or an `appointmentType`/`serviceType` coded `VR`
//! (v3 ActCode "virtual"); see [`video`] for rooms and tokens. Portal messages are
//! Communications with a `category` in `urn:zorgkluis:message-kind` (`question`,
//! `repeat-medication`, `reply`); a thread follows `inResponseTo` (or `partOf`).

mod agenda;
mod appointments;
mod common;
mod inbox;
mod messages;
pub mod video;

use axum::routing::{get, post};
use axum::Router;

use crate::AppState;

/// Routes of this part of the portal.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/patient/appointments", get(appointments::list))
        .route(
            "/patient/appointments/book",
            get(appointments::book_form).post(appointments::book),
        )
        .route(
            "/patient/appointments/{id}/cancel",
            post(appointments::cancel),
        )
        .route("/patient/appointments/{id}/video", get(appointments::join))
        .route("/patient/messages", get(messages::list))
        .route(
            "/patient/messages/new",
            get(messages::new_form).post(messages::send),
        )
        .route("/patient/messages/{id}", get(messages::show))
        .route("/patient/messages/{id}/reply", post(messages::reply))
        .route(
            "/patient/medication/repeat",
            get(messages::repeat_form).post(messages::repeat),
        )
        .route("/staff/inbox", get(inbox::inbox))
        .route("/staff/inbox/messages/{id}", get(inbox::show))
        .route("/staff/inbox/messages/{id}/reply", post(inbox::reply))
        .route("/staff/inbox/messages/{id}/approve", post(inbox::approve))
        .route("/staff/inbox/messages/{id}/decline", post(inbox::decline))
        .route("/staff/agenda", get(agenda::show))
        .route("/staff/agenda/slots", post(agenda::open_slots))
        .route("/staff/agenda/appointments/{id}/video", get(agenda::join))
}
