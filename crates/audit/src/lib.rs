//! The audit trail (NEN 7513): events, the hash chain, signed checkpoints, verification,
//! and the append-only journal that makes audited reads durable in groups.
//!
//! Every event is serialised once, canonically (field order fixed by the struct), and
//! chained: `hash = SHA-256(prev_hash || seq (8 bytes, big-endian) || payload)`. A
//! checkpoint signs `(seq, hash)` with the Ed25519 key of the key store, which is not in
//! the database. [`verify`] walks the chain and names the first event that was altered,
//! removed or reordered.
#![warn(missing_docs)]

mod chain;
mod event;
mod journal;

pub use chain::{
    checkpoint_message, verify, verify::Verifier, ChainHead, ChainedEvent, Checkpoint, Link,
    VerifyFailure, VerifyReport, GENESIS_HASH,
};
pub use event::{
    Action, AuditEvent, AuditObject, Channel, Controls, EventCode, EventKeys, Outcome,
};
pub use journal::{FoldQueue, Journal, JournalError, JournalPosition, JournaledEvent};
