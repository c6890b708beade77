//! FHIR logical ids.

use std::fmt;

/// A FHIR logical id: 1–64 characters from `A-Z a-z 0-9 - .`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct ResourceId(String);

/// Why a string is not a FHIR id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// Empty or longer than 64 characters.
    #[error("an id has 1 to 64 characters")]
    Length,
    /// A character outside `A-Z a-z 0-9 - .`.
    #[error("an id may contain only letters, digits, '-' and '.'")]
    Character,
}

impl ResourceId {
    /// Parses a FHIR id.
    pub fn parse(input: &str) -> Result<Self, IdError> {
        if input.is_empty() || input.len() > 64 {
            return Err(IdError::Length);
        }
        if !input
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        {
            return Err(IdError::Character);
        }
        Ok(Self(input.to_owned()))
    }

    /// A new random id (UUID v4): pseudonymous, reveals nothing about the record.
    pub fn random() -> Self {
        Self(uuid::Uuid::new_v4().to_string())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ResourceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ResourceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ResourceId({})", self.0)
    }
}

impl<'de> serde::Deserialize<'de> for ResourceId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_the_fhir_syntax() {
        assert!(ResourceId::parse("nl-core-Patient-01").is_ok());
        assert!(ResourceId::parse("a.b-C9").is_ok());
        assert_eq!(ResourceId::parse(""), Err(IdError::Length));
        assert_eq!(ResourceId::parse(&"x".repeat(65)), Err(IdError::Length));
        assert_eq!(ResourceId::parse("a/b"), Err(IdError::Character));
        assert_eq!(ResourceId::parse("a b"), Err(IdError::Character));
    }
}
