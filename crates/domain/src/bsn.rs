//! The Dutch citizen service number (burgerservicenummer).

use std::fmt;

/// FHIR naming system of the BSN.
pub const BSN_SYSTEM: &str = "http://fhir.nl/fhir/NamingSystem/bsn";

/// A BSN that passed the 11-test. Its `Debug` and `Display` never show the number:
/// a BSN must not end up in a log line, URL or error message.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Bsn(String);

/// Why a string is not a possible BSN. Never contains the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BsnError {
    /// Not exactly nine digits.
    #[error("a BSN has exactly nine digits")]
    Length,
    /// Fails the 11-test (or is all zeros).
    #[error("the number fails the BSN 11-test")]
    Checksum,
}

impl Bsn {
    /// Parses a BSN: nine digits (a leading zero may have been dropped, as some
    /// systems do) whose weighted sum passes the 11-test.
    pub fn parse(input: &str) -> Result<Self, BsnError> {
        let trimmed = input.trim();
        if !trimmed.bytes().all(|b| b.is_ascii_digit()) || !(8..=9).contains(&trimmed.len()) {
            return Err(BsnError::Length);
        }
        let digits = format!("{trimmed:0>9}");
        if passes_eleven_test(&digits) {
            Ok(Self(digits))
        } else {
            Err(BsnError::Checksum)
        }
    }

    /// The nine digits. Call only where the number must leave the process on purpose
    /// (a blind index, an encrypted body, the patient's own screen).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// 9·d1 + 8·d2 + … + 2·d8 − 1·d9 divisible by 11, and not all zeros.
fn passes_eleven_test(nine_digits: &str) -> bool {
    let mut sum: i64 = 0;
    let mut all_zero = true;
    for (i, b) in nine_digits.bytes().enumerate() {
        let d = i64::from(b - b'0');
        all_zero &= d == 0;
        let weight = if i == 8 { -1 } else { 9 - i as i64 };
        sum += weight * d;
    }
    !all_zero && sum % 11 == 0
}

impl fmt::Debug for Bsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Bsn(*********)")
    }
}

impl fmt::Display for Bsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("*********")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_bsns_from_the_domain_facts_pass() {
        for ok in ["999996708", "999911120", "111222333"] {
            assert!(Bsn::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn wrong_checksum_length_and_zeros_are_refused() {
        assert_eq!(Bsn::parse("999996709"), Err(BsnError::Checksum));
        assert_eq!(Bsn::parse("000000000"), Err(BsnError::Checksum));
        assert_eq!(Bsn::parse("12345"), Err(BsnError::Length));
        assert_eq!(Bsn::parse("99999670a"), Err(BsnError::Length));
    }

    #[test]
    fn debug_and_display_never_show_the_number() {
        let bsn = Bsn::parse("999996708").unwrap();
        assert!(!format!("{bsn:?} {bsn}").contains("9999"));
    }
}
