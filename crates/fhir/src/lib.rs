//! The FHIR R4 JSON that Zorgkluis reasons about.
//!
//! Resources are kept whole as JSON (`serde_json::Value`, numbers as written); this crate
//! gives Rust types only to what the server reasons about: resource types, references, the
//! patient compartment, validation, dates, the search index and OperationOutcome.
//! Nothing here panics on any input, and no message or `Debug` output carries an element
//! value (values may be personal data).
#![warn(missing_docs)]

mod compartment;
mod date;
mod index;
mod outcome;
mod reference;
mod types;
mod validate;

pub use compartment::{
    compartment_patient, compartment_reference, is_in_patient_compartment,
    patient_compartment_params, patient_compartment_paths, CompartmentError,
};
pub use date::date_range;
pub use index::{
    extract_index, normalize_name, BlindEntry, DateEntry, RefEntry, SearchIndex, TokenEntry,
};
pub use outcome::{operation_outcome, Issue, IssueCode, Severity};
pub use reference::{
    parse_reference, references, rewrite_references, BadReference, RefTarget, Reference,
};
pub use types::{ResourceType, UnknownResourceType};
pub use validate::validate;
