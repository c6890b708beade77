//! Authentication building blocks for Zorgkluis.
//!
//! A pure library: no I/O, no database, no HTTP. The server wires these pieces into its
//! login, registration and session handling.
//!
//! - [`password`]: the password policy (NIST SP 800-63B style: length, breached/common
//!   passwords, trivial patterns, personal data, reuse) and Argon2id hashing. Promises
//!   PT-6 ("individual passwords and a password policy") and CO-18 ("user registration
//!   and password management").
//! - [`totp`]: RFC 6238 one-time codes as the second factor at login (PT-6), with
//!   replay protection.
//! - [`recovery`]: one-time recovery codes for a lost second factor, stored only hashed.
//! - [`token`]: random session tokens (the database stores only their hash) and
//!   HMAC-based CSRF tokens bound to a session.
//! - [`throttle`]: in-memory login throttling per account and per network address,
//!   against online guessing (HP-5, CO-8).
//! - [`session`]: idle and absolute session lifetimes for staff and patients (HP-5, CO-8).
#![warn(missing_docs)]

pub mod password;
pub mod recovery;
pub mod session;
pub mod throttle;
pub mod token;
pub mod totp;

pub use password::{
    check_password, derive_key, dummy_verify, hash_password, hash_password_with, verify_password,
    Argon2Cost, PasswordContext, PasswordProblem,
};
pub use recovery::{find_recovery_code, generate_recovery_codes, hash_recovery_code};
pub use session::SessionPolicy;
pub use throttle::{BlockScope, Blocked, Throttle, ThrottlePolicy};
pub use token::{new_secret_token, token_hash, CsrfKey};
pub use totp::TotpSecret;

/// Errors of the authentication building blocks.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Computing a password hash failed (invalid parameters or internal error).
    #[error("password hashing failed: {0}")]
    Hash(String),
    /// A TOTP secret could not be decoded or is too short.
    #[error("invalid TOTP secret: {0}")]
    InvalidTotpSecret(&'static str),
}
