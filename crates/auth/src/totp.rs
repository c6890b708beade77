//! Time-based one-time passwords (RFC 6238): HMAC-SHA-1, 6 digits, 30-second steps.
//!
//! Compatible with the common authenticator apps. [`verify`] accepts the current step
//! and one step either side (clock skew) and rejects steps at or before the last step
//! used, so that an observed code cannot be replayed.

use std::fmt;

use data_encoding::BASE32_NOPAD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha1::Sha1;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::AuthError;

/// Length of the time step in seconds.
pub const STEP_SECONDS: i64 = 30;
/// Number of digits of a code.
pub const DIGITS: u32 = 6;
/// Minimum secret length in bytes accepted by [`TotpSecret::from_base32`] (RFC 4226: 128 bits).
pub const MIN_SECRET_BYTES: usize = 16;

/// A shared TOTP secret. Zeroized on drop; `Debug` does not show it.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct TotpSecret(Vec<u8>);

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret(<redacted>)")
    }
}

impl TotpSecret {
    /// A new random secret of 20 bytes (160 bits, as recommended by RFC 4226).
    pub fn generate() -> Self {
        let mut bytes = vec![0u8; 20];
        rand::thread_rng().fill_bytes(&mut bytes);
        Self(bytes)
    }

    /// Decodes a base32 secret (RFC 4648). Case, spaces, dashes and `=` padding are
    /// tolerated. Secrets shorter than [`MIN_SECRET_BYTES`] are rejected.
    pub fn from_base32(s: &str) -> Result<Self, AuthError> {
        let mut norm: String = s
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-' && *c != '=')
            .map(|c| c.to_ascii_uppercase())
            .collect();
        let decoded = BASE32_NOPAD.decode(norm.as_bytes());
        norm.zeroize();
        let bytes = decoded.map_err(|_| AuthError::InvalidTotpSecret("not valid base32"))?;
        if bytes.len() < MIN_SECRET_BYTES {
            return Err(AuthError::InvalidTotpSecret("secret too short"));
        }
        Ok(Self(bytes))
    }

    /// The secret as upper-case base32 without padding, for manual entry in an app.
    pub fn to_base32(&self) -> String {
        BASE32_NOPAD.encode(&self.0)
    }

    /// The `otpauth://` URI for QR codes, with issuer and account percent-encoded.
    pub fn otpauth_uri(&self, issuer: &str, account: &str) -> String {
        let issuer = url_encode(issuer);
        format!(
            "otpauth://totp/{issuer}:{}?secret={}&issuer={issuer}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}",
            url_encode(account),
            self.to_base32(),
        )
    }

    /// The code for the time step containing `unix_seconds`.
    pub fn code_at(&self, unix_seconds: i64) -> String {
        self.code_for_step(step_of(unix_seconds))
    }

    fn code_for_step(&self, step: i64) -> String {
        let value = hotp(&self.0, u64::try_from(step).unwrap_or(0), DIGITS);
        format!("{value:0width$}", width = DIGITS as usize)
    }
}

fn step_of(unix_seconds: i64) -> i64 {
    unix_seconds.div_euclid(STEP_SECONDS)
}

/// RFC 4226 HOTP value with `digits` digits.
fn hotp(key: &[u8], counter: u64, digits: u32) -> u32 {
    // HMAC accepts keys of any length, so this cannot fail.
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(key) else {
        return 0;
    };
    mac.update(&counter.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[19] & 0x0f);
    let bin = u32::from_be_bytes([
        digest[offset] & 0x7f,
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ]);
    bin % 10u32.pow(digits)
}

fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Verifies a code at time `unix_seconds`.
///
/// Accepts the current step and one step before or after. Steps at or before
/// `last_used_step` are rejected (replay protection). Spaces in `code` are ignored.
/// Returns the matched step, which the caller must store as the new `last_used_step`.
pub fn verify(
    secret: &TotpSecret,
    code: &str,
    unix_seconds: i64,
    last_used_step: Option<i64>,
) -> Option<i64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let current = step_of(unix_seconds);
    let mut matched = None;
    for step in [current - 1, current, current + 1] {
        if step < 0 || last_used_step.is_some_and(|last| step <= last) {
            continue;
        }
        let expected = secret.code_for_step(step);
        if bool::from(expected.as_bytes().ct_eq(code.as_bytes())) && matched.is_none() {
            matched = Some(step);
        }
    }
    matched
}

#[cfg(test)]
mod tests {
    use super::*;

    /// "12345678901234567890" in base32.
    const RFC_SECRET: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

    fn rfc() -> TotpSecret {
        TotpSecret::from_base32(RFC_SECRET).unwrap()
    }

    #[test]
    fn rfc6238_sha1_vectors() {
        let s = rfc();
        assert_eq!(s.0, b"12345678901234567890");
        for (t, code) in [
            (59i64, 94_287_082u32),
            (1_111_111_109, 7_081_804),
            (1_111_111_111, 14_050_471),
            (1_234_567_890, 89_005_924),
            (2_000_000_000, 69_279_037),
            (20_000_000_000, 65_353_130),
        ] {
            let counter = u64::try_from(t / 30).unwrap();
            assert_eq!(hotp(&s.0, counter, 8), code, "T={t}");
            assert_eq!(s.code_at(t), format!("{:06}", code % 1_000_000), "T={t}");
        }
        assert_eq!(s.code_at(59), "287082");
        assert_eq!(s.code_at(1_111_111_109), "081804");
    }

    #[test]
    fn base32_round_trip_and_tolerance() {
        let s = TotpSecret::generate();
        let b = s.to_base32();
        assert_eq!(b.len(), 32);
        assert!(!b.contains('='));
        assert_eq!(b, b.to_uppercase());
        assert_eq!(TotpSecret::from_base32(&b).unwrap().0, s.0);
        let sloppy = "gezd gnbv gy3t qojq-gezd gnbv gy3t qojq";
        assert_eq!(
            TotpSecret::from_base32(sloppy).unwrap().0,
            b"12345678901234567890"
        );
        assert_ne!(TotpSecret::generate().0, s.0);
    }

    #[test]
    fn bad_secrets_are_rejected() {
        assert!(TotpSecret::from_base32("not base32!").is_err());
        assert!(TotpSecret::from_base32("18").is_err());
        assert!(TotpSecret::from_base32("GEZDGNBV").is_err(), "too short");
        assert!(TotpSecret::from_base32("").is_err());
    }

    #[test]
    fn debug_is_redacted() {
        let d = format!("{:?}", rfc());
        assert!(!d.contains("GEZ") && !d.contains("49"), "{d}");
        assert!(d.contains("redacted"));
    }

    #[test]
    fn otpauth_uri_is_encoded() {
        let uri = rfc().otpauth_uri("Zorgkluis Huisarts & Co", "jan@example.nl");
        assert_eq!(
            uri,
            "otpauth://totp/Zorgkluis%20Huisarts%20%26%20Co:jan%40example.nl?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Zorgkluis%20Huisarts%20%26%20Co&algorithm=SHA1&digits=6&period=30"
        );
        assert!(rfc().otpauth_uri("a:b", "é").contains("a%3Ab:%C3%A9?"));
    }

    #[test]
    fn verify_current_and_skew() {
        let s = rfc();
        let t = 1_111_111_111; // step 37037037
        let step = t / 30;
        assert_eq!(verify(&s, &s.code_at(t), t, None), Some(step));
        assert_eq!(verify(&s, &s.code_at(t - 30), t, None), Some(step - 1));
        assert_eq!(verify(&s, &s.code_at(t + 30), t, None), Some(step + 1));
        assert_eq!(verify(&s, &s.code_at(t - 60), t, None), None);
        assert_eq!(verify(&s, &s.code_at(t + 60), t, None), None);
    }

    #[test]
    fn verify_rejects_replay() {
        let s = rfc();
        let t = 1_234_567_890;
        let code = s.code_at(t);
        let step = verify(&s, &code, t, None).unwrap();
        assert_eq!(verify(&s, &code, t, Some(step)), None);
        assert_eq!(verify(&s, &code, t + 10, Some(step)), None);
        // An older (skewed) code is also rejected once a later step was used.
        assert_eq!(verify(&s, &s.code_at(t - 30), t, Some(step)), None);
        // The next step is fine.
        assert_eq!(
            verify(&s, &s.code_at(t + 30), t + 30, Some(step)),
            Some(step + 1)
        );
    }

    #[test]
    fn verify_tolerates_spaces_and_rejects_garbage() {
        let s = rfc();
        assert_eq!(verify(&s, " 287 082 ", 59, None), Some(1));
        assert_eq!(verify(&s, "287083", 59, None), None);
        for bad in [
            "",
            "28708",
            "2870820",
            "abcdef",
            "28708x",
            "94287082",
            "２８７０８２",
            "-28708",
        ] {
            assert_eq!(verify(&s, bad, 59, None), None, "{bad}");
        }
    }
}
