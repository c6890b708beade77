//! Session tokens and CSRF tokens.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, ZeroizeOnDrop};

/// A new random secret token: 32 random bytes, base64url without padding (43 characters).
/// Used for session cookies, password-reset and invitation links.
pub fn new_secret_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    let token = URL_SAFE_NO_PAD.encode(bytes);
    bytes.zeroize();
    token
}

/// SHA-256 (lower-case hex) of a token: what the database stores, so that a database
/// leak does not reveal usable tokens.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

const CSRF_CONTEXT: &[u8] = b"zorgkluis-csrf-v1\0";

/// Key for CSRF tokens bound to a session (HMAC-SHA256). Zeroized on drop; `Debug`
/// does not show it.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct CsrfKey([u8; 32]);

impl fmt::Debug for CsrfKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CsrfKey(<redacted>)")
    }
}

impl CsrfKey {
    /// A new random key.
    pub fn generate() -> Self {
        let mut key = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut key);
        Self(key)
    }

    /// A key from stored bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    fn mac(&self, session_id: &str) -> Hmac<Sha256> {
        // HMAC accepts keys of any length; a 32-byte key cannot fail.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        mac.update(CSRF_CONTEXT);
        mac.update(session_id.as_bytes());
        mac
    }

    /// The CSRF token for a session: HMAC-SHA256 of the session id, base64url.
    pub fn token_for(&self, session_id: &str) -> String {
        URL_SAFE_NO_PAD.encode(self.mac(session_id).finalize().into_bytes())
    }

    /// Whether `token` is the CSRF token for `session_id` (constant-time comparison).
    pub fn verify(&self, session_id: &str, token: &str) -> bool {
        let Ok(tag) = URL_SAFE_NO_PAD.decode(token.trim()) else {
            return false;
        };
        self.mac(session_id).verify_slice(&tag).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_tokens() {
        let a = new_secret_token();
        let b = new_secret_token();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert_eq!(URL_SAFE_NO_PAD.decode(&a).unwrap().len(), 32);
        assert!(a
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
    }

    #[test]
    fn token_hash_is_sha256_hex() {
        assert_eq!(
            token_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_ne!(token_hash("abd"), token_hash("abc"));
    }

    #[test]
    fn csrf() {
        let key = CsrfKey::from_bytes([7u8; 32]);
        let t = key.token_for("session-1");
        assert_eq!(
            t,
            CsrfKey::from_bytes([7u8; 32]).token_for("session-1"),
            "deterministic"
        );
        assert_eq!(t.len(), 43);
        assert!(key.verify("session-1", &t));
        assert!(!key.verify("session-2", &t));
        assert!(!CsrfKey::from_bytes([8u8; 32]).verify("session-1", &t));
        assert!(!CsrfKey::generate().verify("session-1", &t));
        assert!(!key.verify("session-1", ""));
        assert!(!key.verify("session-1", "!!!not base64!!!"));
        assert!(!key.verify("session-1", &t[..40]));
        let mut tampered = t.clone().into_bytes();
        tampered[0] = if tampered[0] == b'A' { b'B' } else { b'A' };
        assert!(!key.verify("session-1", &String::from_utf8(tampered).unwrap()));
        assert!(!format!("{key:?}").contains('7'));
    }
}
