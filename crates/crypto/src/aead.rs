//! Sealing and opening with XChaCha20-Poly1305, and blind indexes.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::CryptoError;

const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;

/// 32 bytes of key material, wiped from memory when dropped.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct KeyBytes(pub(crate) [u8; 32]);

impl KeyBytes {
    /// Fresh random key material from the operating system's CSPRNG.
    pub fn random() -> Self {
        let mut k = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut k);
        Self(k)
    }

    /// Key material from bytes (e.g. read from a key file).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    pub(crate) fn expose(&self) -> &[u8; 32] {
        &self.0
    }
}

impl std::fmt::Debug for KeyBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyBytes(<redacted>)")
    }
}

/// A sealed value: `nonce (24) || ciphertext || tag (16)`.
pub type Sealed = Vec<u8>;

/// A data key: seals the bodies of one patient compartment (or the index/shared data).
pub struct DataKey {
    cipher: XChaCha20Poly1305,
    material: KeyBytes,
}

impl DataKey {
    /// A new random data key.
    pub fn generate() -> Self {
        Self::from_material(KeyBytes::random())
    }

    /// A data key from its material.
    pub fn from_material(material: KeyBytes) -> Self {
        let cipher = XChaCha20Poly1305::new(material.expose().into());
        Self { cipher, material }
    }

    pub(crate) fn material(&self) -> &KeyBytes {
        &self.material
    }

    /// Seals `plaintext` with a fresh random nonce; `aad` is authenticated, not stored.
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Sealed {
        let mut nonce = [0u8; NONCE_LEN];
        rand::thread_rng().fill_bytes(&mut nonce);
        let mut out = Vec::with_capacity(NONCE_LEN + plaintext.len() + TAG_LEN);
        out.extend_from_slice(&nonce);
        // Encryption with a valid key and nonce length cannot fail; an empty result would
        // only make the later open fail, never leak plaintext.
        let ct = self
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .unwrap_or_default();
        out.extend_from_slice(&ct);
        out
    }

    /// Opens a sealed value; fails if the key, the associated data or any byte differs.
    pub fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
        if sealed.len() < NONCE_LEN + TAG_LEN {
            return Err(CryptoError::Truncated);
        }
        let (nonce, ct) = sealed.split_at(NONCE_LEN);
        self.cipher
            .decrypt(XNonce::from_slice(nonce), Payload { msg: ct, aad })
            .map_err(|_| CryptoError::Authentication)
    }

    /// Keyed blind index of `value` for search parameter `param`:
    /// HMAC-SHA256(key, param || 0x00 || value). Equal inputs give equal outputs; without
    /// the key nothing about the value can be learned or tested.
    pub fn blind(&self, param: &str, value: &str) -> [u8; 32] {
        blind_index(&self.material, param, value)
    }
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(<redacted>)")
    }
}

/// HMAC-SHA256(key, param || 0x00 || value).
pub fn blind_index(key: &KeyBytes, param: &str, value: &str) -> [u8; 32] {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = match <Hmac<Sha256> as Mac>::new_from_slice(key.expose()) {
        Ok(m) => m,
        Err(_) => return [0u8; 32],
    };
    mac.update(param.as_bytes());
    mac.update(&[0]);
    mac.update(value.as_bytes());
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_body_opens_only_with_same_key_and_associated_data() {
        let k = DataKey::generate();
        let sealed = k.seal(b"{\"name\":\"Jansen\"}", b"Patient/1/1");
        assert_eq!(
            k.open(&sealed, b"Patient/1/1").unwrap(),
            b"{\"name\":\"Jansen\"}"
        );
        assert!(matches!(
            k.open(&sealed, b"Patient/2/1"),
            Err(CryptoError::Authentication)
        ));
        assert!(DataKey::generate().open(&sealed, b"Patient/1/1").is_err());
        let mut flipped = sealed.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert!(k.open(&flipped, b"Patient/1/1").is_err());
        assert!(matches!(
            k.open(&sealed[..10], b""),
            Err(CryptoError::Truncated)
        ));
    }

    #[test]
    fn plaintext_does_not_appear_in_sealed_bytes() {
        let k = DataKey::generate();
        let sealed = k.seal(b"van der Giessen", b"");
        assert!(!sealed.windows(5).any(|w| w == b"Giess"));
    }

    #[test]
    fn blind_index_is_deterministic_and_keyed() {
        let k = DataKey::generate();
        assert_eq!(k.blind("identifier", "x|1"), k.blind("identifier", "x|1"));
        assert_ne!(k.blind("identifier", "x|1"), k.blind("identifier", "x|2"));
        assert_ne!(k.blind("identifier", "x|1"), k.blind("email", "x|1"));
        assert_ne!(
            k.blind("identifier", "x|1"),
            DataKey::generate().blind("identifier", "x|1")
        );
    }
}
