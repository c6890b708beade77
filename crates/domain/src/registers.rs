//! Registration numbers of care providers: AGB (Vektis, 8 digits), URA (UZI register,
//! 8 digits) and BIG (11 digits). Parsed at the edge; past it they are well-formed.

use std::fmt;

/// Why a registration number was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} number must be {digits} digits")]
pub struct RegisterError {
    kind: &'static str,
    digits: usize,
}

fn digits(s: &str, n: usize, kind: &'static str) -> Result<String, RegisterError> {
    let s = s.trim();
    if s.len() == n && s.bytes().all(|b| b.is_ascii_digit()) {
        Ok(s.to_owned())
    } else {
        Err(RegisterError { kind, digits: n })
    }
}

macro_rules! register_number {
    ($name:ident, $kind:literal, $n:literal, $system:literal, $doc:literal) => {
        #[doc = $doc]
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub struct $name(String);

        impl $name {
            /// FHIR identifier system.
            pub const SYSTEM: &'static str = $system;

            /// Parses the number (surrounding spaces are ignored).
            pub fn parse(s: &str) -> Result<Self, RegisterError> {
                digits(s, $n, $kind).map(Self)
            }

            /// The digits.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

register_number!(
    Agb,
    "AGB",
    8,
    "http://fhir.nl/fhir/NamingSystem/agb-z",
    "An AGB code (Vektis): 8 digits."
);
register_number!(
    Ura,
    "URA",
    8,
    "http://fhir.nl/fhir/NamingSystem/ura",
    "A URA number (UZI register): 8 digits."
);
register_number!(
    Big,
    "BIG",
    11,
    "http://fhir.nl/fhir/NamingSystem/big",
    "A BIG registration number: 11 digits."
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registration_numbers_have_their_lengths_and_only_digits() {
        assert_eq!(
            Agb::parse(" 01123456 ").map(|a| a.to_string()),
            Ok("01123456".into())
        );
        assert!(Agb::parse("0112345").is_err());
        assert!(Agb::parse("0112345a").is_err());
        assert!(Big::parse("12345678901").is_ok());
        assert!(Big::parse("1234567890").is_err());
        assert!(Ura::parse("90000123").is_ok());
        assert_eq!(
            Big::parse("x").map_err(|e| e.to_string()),
            Err("BIG number must be 11 digits".to_owned())
        );
    }
}
