//! Ed25519 signatures over audit checkpoints.

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};

/// Signs audit chain checkpoints. The seed lives in the key store, never in the database.
pub struct AuditSigner {
    id: String,
    key: SigningKey,
}

impl std::fmt::Debug for AuditSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AuditSigner({})", self.id)
    }
}

impl AuditSigner {
    /// A signer from a 32-byte seed.
    pub fn from_seed(id: String, seed: [u8; 32]) -> Self {
        Self {
            id,
            key: SigningKey::from_bytes(&seed),
        }
    }

    /// The key id recorded with each checkpoint.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Signs `message`; 64 bytes.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.key.sign(message).to_bytes().to_vec()
    }

    /// The matching verifier.
    pub fn verifier(&self) -> AuditVerifier {
        AuditVerifier {
            id: self.id.clone(),
            key: self.key.verifying_key(),
        }
    }
}

/// Checks checkpoint signatures.
#[derive(Debug, Clone)]
pub struct AuditVerifier {
    id: String,
    key: VerifyingKey,
}

impl AuditVerifier {
    /// The key id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The public key as hex.
    pub fn public_hex(&self) -> String {
        hex::encode(self.key.as_bytes())
    }

    /// Whether `signature` is a valid signature of `message` by this key.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        let Ok(bytes) = <[u8; 64]>::try_from(signature) else {
            return false;
        };
        self.key
            .verify(message, &Signature::from_bytes(&bytes))
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_verifies_only_for_the_signed_message() {
        let s = AuditSigner::from_seed("ak-1".into(), [7u8; 32]);
        let sig = s.sign(b"seq=10 hash=ab");
        let v = s.verifier();
        assert!(v.verify(b"seq=10 hash=ab", &sig));
        assert!(!v.verify(b"seq=10 hash=ac", &sig));
        assert!(!v.verify(b"seq=10 hash=ab", &sig[..10]));
    }
}
