//! The FHIR R4 JSON that Zorgkluis reasons about.
//!
//! Resources are kept whole as JSON (`serde_json::Value`, numbers as written); this crate
//! types only what the server reasons about: resource types, ids, references, the patient
//! compartment, validation, the search index and OperationOutcome.
#![warn(missing_docs)]

mod compartment;
mod date;
mod index;
mod outcome;
mod reference;
mod types;
mod validate;

pub use compartment::{
    compartment_patient, compartment_references, is_in_patient_compartment,
    patient_compartment_paths, CompartmentError,
};
pub use date::date_range;
pub use index::{
    extract_index, normalize_name, BlindEntry, DateEntry, RefEntry, SearchIndex, TokenEntry,
};
pub use outcome::{operation_outcome, Issue, IssueCode, Severity};
pub use reference::{
    parse_reference, raw_references, references, rewrite_references, BadReference, RefTarget,
    Reference,
};
pub use types::{ResourceType, UnknownResourceType};
pub use validate::validate;
