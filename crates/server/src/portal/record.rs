//! The medical record: the patient's overview and record pages (for the patient, or the
//! representative acting for them), results with trend charts, documents and
//! patient-information leaflets (HP-1), "My details" with corrections kept as versions
//! (PC-12), and the same record view for care staff with data entry within their rights,
//! each change a version with its author (GP-7, CO-8).
//!
//! Every page reads through the vault with the logged-in principal: the decision point
//! decides and the audit trail records each read and write. The Patient resource is read
//! first on every page, so a page for a patient the user may not see is a refusal (403),
//! never an empty record.

mod data;
mod details;
mod leaflets;
mod pages;
mod results;
mod staff;
mod view;

use axum::routing::get;
use axum::Router;

use crate::AppState;

/// Routes of this part of the portal.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/patient", get(pages::overview))
        .route(
            "/patient/act-for",
            get(pages::act_for_form).post(pages::act_for),
        )
        .route("/patient/record", get(pages::record))
        .route("/patient/results", get(pages::results))
        .route("/patient/results/{test}", get(pages::test))
        .route("/patient/documents", get(pages::documents))
        .route("/patient/details", get(details::show).post(details::save))
        .route("/staff/patients/{id}", get(staff::record))
        .route("/staff/patients/{id}/results/{test}", get(staff::test))
        .route(
            "/staff/patients/{id}/conditions/new",
            get(staff::new_condition_form).post(staff::new_condition),
        )
        .route(
            "/staff/patients/{id}/observations/new",
            get(staff::new_observation_form).post(staff::new_observation),
        )
        .route(
            "/staff/patients/{id}/conditions/{cid}/edit",
            get(staff::edit_condition_form).post(staff::edit_condition),
        )
        .route(
            "/staff/patients/{id}/{type}/{rid}/history",
            get(staff::history),
        )
}
