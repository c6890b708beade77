//! Deterministic Dutch synthetic care data as FHIR R4 JSON.
//!
//! [`directory`] gives the organisations of a small region (GP practice, physiotherapy
//! practice, coaching organisation, hospital clinic, pharmacy, out-of-hours GP post) and
//! their staff with logins; [`agenda`] the GP practice's agendas with open slots for the
//! coming weeks; [`patient_record`] gives one patient's whole record. Each
//! record has its own random generator seeded from `(seed, index)`, so records can be
//! made independently, in any order, in parallel, and are the same every time for the
//! same seed, index and reference date.
//!
//! Pure: no I/O, no clock, no global state. Nothing here describes a real person: BSNs
//! come from the `999…` test range, names and addresses are drawn from lists, ids are
//! pseudonymous UUIDs. There are logins but no credentials.
#![warn(missing_docs)]

mod agenda;
mod catalogue;
mod directory;
mod elements;
mod record;

pub use agenda::{agenda, schedule_id, AGENDA_DAYS};
pub use directory::{directory, Directory, StaffMember};
pub use record::{bsn_for_index, patient_record, PatientRecord};
