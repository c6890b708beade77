//! One-time recovery codes for when the second factor is lost.
//!
//! Codes are shown to the user once; only their SHA-256 hashes are stored. Each code has
//! about 60 bits of entropy, enough for a fast hash because they are random.

use rand::Rng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Unambiguous alphabet: no `0/o`, `1/l/i`.
const ALPHABET: &[u8] = b"23456789abcdefghjkmnpqrstuvwxyz";
/// Characters per group and number of groups: 12 characters, about 59.5 bits.
const GROUP: usize = 4;
const GROUPS: usize = 3;

/// Generates `n` random recovery codes of the form `xxxx-xxxx-xxxx`.
pub fn generate_recovery_codes(n: usize) -> Vec<String> {
    let mut rng = rand::thread_rng();
    (0..n)
        .map(|_| {
            let groups: Vec<String> = (0..GROUPS)
                .map(|_| {
                    (0..GROUP)
                        .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
                        .collect()
                })
                .collect();
            groups.join("-")
        })
        .collect()
}

fn normalise(code: &str) -> String {
    code.chars()
        .filter(|c| *c != '-' && !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

/// SHA-256 (lower-case hex) of the normalised code: lower case, dashes and spaces removed.
pub fn hash_recovery_code(code: &str) -> String {
    hex::encode(Sha256::digest(normalise(code).as_bytes()))
}

/// Finds the index of the stored hash matching `code`. Every stored hash is compared,
/// each in constant time. The caller must remove the used hash.
pub fn find_recovery_code(code: &str, hashes: &[String]) -> Option<usize> {
    let candidate = hash_recovery_code(code);
    let mut found = None;
    for (i, h) in hashes.iter().enumerate() {
        if bool::from(candidate.as_bytes().ct_eq(h.as_bytes())) && found.is_none() {
            found = Some(i);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn format_and_alphabet() {
        let codes = generate_recovery_codes(10);
        assert_eq!(codes.len(), 10);
        for c in &codes {
            assert_eq!(c.len(), 14, "{c}");
            let parts: Vec<&str> = c.split('-').collect();
            assert_eq!(parts.len(), 3);
            for p in parts {
                assert_eq!(p.len(), 4);
                assert!(p.bytes().all(|b| ALPHABET.contains(&b)), "{c}");
            }
        }
        assert_eq!(codes.iter().collect::<HashSet<_>>().len(), 10);
        assert!(generate_recovery_codes(0).is_empty());
        // ~60 bits of entropy.
        let bits = (GROUP * GROUPS) as f64 * (ALPHABET.len() as f64).log2();
        assert!(bits > 59.0, "{bits}");
        for ambiguous in [b'0', b'o', b'1', b'l', b'i'] {
            assert!(!ALPHABET.contains(&ambiguous));
        }
    }

    #[test]
    fn hash_is_normalised_sha256() {
        let h = hash_recovery_code("abcd-efgh-jkmn");
        // sha256("abcdefghjkmn")
        assert_eq!(h, hex::encode(Sha256::digest(b"abcdefghjkmn")));
        assert_eq!(h.len(), 64);
        assert_eq!(hash_recovery_code(" ABCD EFGH-jkmn "), h);
        assert_ne!(hash_recovery_code("abcd-efgh-jkmp"), h);
    }

    #[test]
    fn find() {
        let codes = generate_recovery_codes(5);
        let hashes: Vec<String> = codes.iter().map(|c| hash_recovery_code(c)).collect();
        for (i, c) in codes.iter().enumerate() {
            assert_eq!(find_recovery_code(c, &hashes), Some(i));
            assert_eq!(
                find_recovery_code(&c.to_uppercase().replace('-', " "), &hashes),
                Some(i)
            );
        }
        assert_eq!(find_recovery_code("zzzz-zzzz-zzzz", &hashes), None);
        assert_eq!(find_recovery_code("", &hashes), None);
        assert_eq!(find_recovery_code(&codes[0], &[]), None);
    }
}
