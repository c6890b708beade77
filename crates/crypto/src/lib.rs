//! Where patient data is encrypted.
//!
//! Key hierarchy:
//! - a **master key** lives in a key file outside the database (`master.key`, mode 0600);
//! - every patient compartment has its own random **data key**, stored in the database
//!   only *wrapped* (AEAD-encrypted) by the master key, bound to its key id;
//! - resource bodies are sealed with XChaCha20-Poly1305 under the data key, with the
//!   resource type, id, version and compartment bound as associated data;
//! - a separate **index key** (also a wrapped data key) computes blind indexes
//!   (HMAC-SHA256) for identifiers and other searchable personal values;
//! - an Ed25519 **audit signing key** in the key directory signs audit checkpoints.
//!
//! Crypto-shredding destroys a data key: the wrapped copy is deleted from the database and
//! its id is added to the key store's revocation list, so that a restored backup that still
//! holds the wrapped copy cannot open it either.
#![warn(missing_docs)]

mod aead;
mod keystore;
mod signing;

pub use aead::{blind_index, DataKey, KeyBytes, Sealed};
pub use keystore::{KeyStore, KeyStoreError, WrappedKey};
pub use signing::{AuditSigner, AuditVerifier};

/// Errors of sealing and opening.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    /// Authentication failed: wrong key, wrong associated data, or altered ciphertext.
    #[error("ciphertext did not authenticate (wrong key, moved or altered data)")]
    Authentication,
    /// The sealed value is too short to hold a nonce and tag.
    #[error("sealed value is truncated")]
    Truncated,
    /// The data key was destroyed (crypto-shredded).
    #[error("the data key was destroyed")]
    Shredded,
    /// The master key that wrapped this data key is not in the key store.
    #[error("master key {0} is not in the key store")]
    UnknownMasterKey(String),
}
