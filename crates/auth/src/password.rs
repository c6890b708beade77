//! Password policy and password hashing.
//!
//! The policy follows NIST SP 800-63B: a minimum and maximum length, no composition
//! rules, but rejection of common/breached passwords, trivial patterns, passwords that
//! contain the user's own name or login, and reuse of previous passwords.
//!
//! Hashes are Argon2id PHC strings with the OWASP recommended parameters.

use std::collections::HashSet;
use std::fmt;
use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::RngCore;

use crate::AuthError;

/// Minimum password length in characters (Unicode scalar values).
pub const MIN_LENGTH: usize = 12;
/// Maximum password length in characters (Unicode scalar values).
pub const MAX_LENGTH: usize = 128;

/// [`PasswordProblem::Pattern`] key: the password uses fewer than five distinct characters.
pub const PATTERN_FEW_DISTINCT: &str = "few-distinct-characters";
/// [`PasswordProblem::Pattern`] key: the password consists mostly of sequences such as
/// `abcdef`, `123456` or keyboard walks like `qwerty`.
pub const PATTERN_SEQUENCE: &str = "sequence";

const COMMON_PASSWORDS: &str = include_str!("common_passwords.txt");

/// Who the password is for; used to reject passwords containing personal data.
#[derive(Debug, Clone, Copy)]
pub struct PasswordContext<'a> {
    /// The login name.
    pub login: &'a str,
    /// The display name, e.g. "Jan de Vries".
    pub display_name: &'a str,
    /// The e-mail address, if known.
    pub email: Option<&'a str>,
}

/// Why a candidate password is not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordProblem {
    /// Fewer than `min` characters.
    TooShort {
        /// The minimum length in characters.
        min: usize,
    },
    /// More than `max` characters.
    TooLong {
        /// The maximum length in characters.
        max: usize,
    },
    /// On the list of common or breached passwords (possibly with digits appended or
    /// letters replaced by look-alikes).
    Common,
    /// A trivial pattern; the key is one of [`PATTERN_FEW_DISTINCT`] or [`PATTERN_SEQUENCE`].
    Pattern(&'static str),
    /// Contains the login, the e-mail address or a part of the user's name.
    ContainsPersonalData,
    /// Equal to one of the user's previous passwords.
    Reused,
}

impl PasswordProblem {
    /// English text for the user interface.
    pub fn message_en(&self) -> String {
        match self {
            Self::TooShort { min } => format!("The password must be at least {min} characters long."),
            Self::TooLong { max } => format!("The password must be at most {max} characters long."),
            Self::Common => {
                "This password is too common or has appeared in a data breach; choose another one."
                    .to_owned()
            }
            Self::Pattern(k) if *k == PATTERN_FEW_DISTINCT => {
                "The password uses too few different characters.".to_owned()
            }
            Self::Pattern(k) if *k == PATTERN_SEQUENCE => {
                "The password consists mostly of a sequence such as \"abcd\", \"1234\" or \"qwerty\"."
                    .to_owned()
            }
            Self::Pattern(_) => "The password follows a predictable pattern.".to_owned(),
            Self::ContainsPersonalData => {
                "The password must not contain your name, login or e-mail address.".to_owned()
            }
            Self::Reused => {
                "You have used this password before; choose a new password.".to_owned()
            }
        }
    }

    /// Dutch text for the user interface.
    pub fn message_nl(&self) -> String {
        match self {
            Self::TooShort { min } => format!("Het wachtwoord moet minstens {min} tekens lang zijn."),
            Self::TooLong { max } => format!("Het wachtwoord mag hoogstens {max} tekens lang zijn."),
            Self::Common => {
                "Dit wachtwoord komt te vaak voor of is uitgelekt bij een datalek; kies een ander wachtwoord."
                    .to_owned()
            }
            Self::Pattern(k) if *k == PATTERN_FEW_DISTINCT => {
                "Het wachtwoord bevat te weinig verschillende tekens.".to_owned()
            }
            Self::Pattern(k) if *k == PATTERN_SEQUENCE => {
                "Het wachtwoord bestaat grotendeels uit een reeks zoals \"abcd\", \"1234\" of \"qwerty\"."
                    .to_owned()
            }
            Self::Pattern(_) => "Het wachtwoord volgt een voorspelbaar patroon.".to_owned(),
            Self::ContainsPersonalData => {
                "Het wachtwoord mag uw naam, gebruikersnaam of e-mailadres niet bevatten.".to_owned()
            }
            Self::Reused => {
                "U hebt dit wachtwoord eerder gebruikt; kies een nieuw wachtwoord.".to_owned()
            }
        }
    }
}

impl fmt::Display for PasswordProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message_en())
    }
}

/// Checks a candidate password against the policy.
///
/// `history` holds PHC hashes of the user's previous passwords. Returns all problems
/// found, so the user interface can show them together.
pub fn check_password(
    candidate: &str,
    ctx: &PasswordContext,
    history: &[String],
) -> Result<(), Vec<PasswordProblem>> {
    let mut problems = Vec::new();
    let len = candidate.chars().count();
    if len < MIN_LENGTH {
        problems.push(PasswordProblem::TooShort { min: MIN_LENGTH });
    }
    if len > MAX_LENGTH {
        problems.push(PasswordProblem::TooLong { max: MAX_LENGTH });
    }
    let lower = candidate.to_lowercase();
    if is_common(&lower) {
        problems.push(PasswordProblem::Common);
    }
    if let Some(key) = trivial_pattern(&lower) {
        problems.push(PasswordProblem::Pattern(key));
    }
    if contains_personal_data(&lower, ctx) {
        problems.push(PasswordProblem::ContainsPersonalData);
    }
    // Skip the (slow) history check for absurdly long input.
    if len <= MAX_LENGTH && history.iter().any(|h| verify_password(candidate, h)) {
        problems.push(PasswordProblem::Reused);
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

fn common_set() -> &'static HashSet<String> {
    static SET: OnceLock<HashSet<String>> = OnceLock::new();
    SET.get_or_init(|| {
        COMMON_PASSWORDS
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(str::to_lowercase)
            .collect()
    })
}

fn strip_trailing(s: &str) -> &str {
    s.trim_end_matches(|c: char| c.is_ascii_digit() || c.is_ascii_punctuation() || c == ' ')
}

fn unleet(s: &str, one: char) -> String {
    s.chars()
        .map(|c| match c {
            '0' => 'o',
            '1' => one,
            '3' => 'e',
            '4' | '@' => 'a',
            '5' | '$' => 's',
            c => c,
        })
        .collect()
}

/// The shortest unit that the string is a repetition of (`"abcabc"` -> `"abc"`).
fn repeated_unit(s: &str) -> &str {
    let n = s.len();
    for unit in 1..=n / 2 {
        if n.is_multiple_of(unit) && s.is_char_boundary(unit) {
            let u = &s[..unit];
            if s.as_bytes().chunks(unit).all(|c| c == u.as_bytes()) {
                return u;
            }
        }
    }
    s
}

fn is_common(lower: &str) -> bool {
    let set = common_set();
    let mut bases = vec![lower.to_owned(), strip_trailing(lower).to_owned()];
    let unit = repeated_unit(lower);
    if unit.len() < lower.len() {
        bases.push(unit.to_owned());
        bases.push(strip_trailing(unit).to_owned());
    }
    let mut variants = Vec::new();
    for b in &bases {
        for one in ['i', 'l'] {
            let u = unleet(b, one);
            variants.push(strip_trailing(&u).to_owned());
            variants.push(u);
        }
        variants.push(b.clone());
    }
    variants.iter().any(|v| !v.is_empty() && set.contains(v))
}

const SEQUENCES: &[&str] = &[
    "abcdefghijklmnopqrstuvwxyz",
    "01234567890",
    "qwertyuiop",
    "asdfghjkl",
    "zxcvbnm",
    "azertyuiop",
    "qwertzuiop",
    "yxcvbnm",
    "!@#$%^&*()",
    "1qaz",
    "2wsx",
    "3edc",
    "4rfv",
    "5tgb",
    "6yhn",
    "7ujm",
    "8ik,",
    "9ol.",
    "0p;/",
];

fn adjacent(a: char, b: char) -> bool {
    SEQUENCES.iter().any(|s| {
        let cs: Vec<char> = s.chars().collect();
        cs.windows(2)
            .any(|w| (w[0] == a && w[1] == b) || (w[0] == b && w[1] == a))
    })
}

fn trivial_pattern(lower: &str) -> Option<&'static str> {
    let chars: Vec<char> = lower.chars().collect();
    if chars.is_empty() {
        return None;
    }
    let distinct: HashSet<char> = chars.iter().copied().collect();
    if distinct.len() < 5 {
        return Some(PATTERN_FEW_DISTINCT);
    }
    // Mark characters that are part of a run of at least three adjacent characters.
    let mut covered = vec![false; chars.len()];
    let mut start = 0;
    while start < chars.len() {
        let mut end = start + 1;
        while end < chars.len() && adjacent(chars[end - 1], chars[end]) {
            end += 1;
        }
        if end - start >= 3 {
            covered[start..end].iter_mut().for_each(|c| *c = true);
        }
        start = end;
    }
    let n_covered = covered.iter().filter(|c| **c).count();
    if n_covered * 2 > chars.len() {
        return Some(PATTERN_SEQUENCE);
    }
    None
}

fn personal_tokens(ctx: &PasswordContext) -> Vec<String> {
    let is_sep = |c: char| !c.is_alphanumeric();
    let mut sources = vec![ctx.login.to_lowercase(), ctx.display_name.to_lowercase()];
    if let Some(email) = ctx.email {
        let local = email.split('@').next().unwrap_or_default();
        sources.push(local.to_lowercase());
    }
    let mut tokens = Vec::new();
    for (i, s) in sources.iter().enumerate() {
        // The whole login and e-mail local part, and every part of all sources.
        if i != 1 {
            tokens.push(s.trim().to_owned());
        }
        tokens.extend(s.split(is_sep).map(str::to_owned));
    }
    tokens.retain(|t| t.chars().count() >= 4);
    tokens
}

fn contains_personal_data(lower: &str, ctx: &PasswordContext) -> bool {
    personal_tokens(ctx)
        .iter()
        .any(|t| lower.contains(t.as_str()))
}

/// Cost parameters for Argon2id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Argon2Cost {
    /// OWASP recommendation: m = 19456 KiB, t = 2, p = 1. Use this for real accounts.
    Interactive,
    /// m = 1024 KiB, t = 1, p = 1. **Only for tests and demo data seeding**, where
    /// speed matters more than resistance to offline cracking. Never use it for real
    /// accounts.
    Fast,
}

impl Argon2Cost {
    fn params(self) -> Result<Params, AuthError> {
        let (m, t, p) = match self {
            Self::Interactive => (19_456, 2, 1),
            Self::Fast => (1_024, 1, 1),
        };
        Params::new(m, t, p, None).map_err(|e| AuthError::Hash(e.to_string()))
    }
}

/// Derives a 32-byte key from a secret only the user knows (Argon2id with `salt`), for
/// data the server must not be able to open by itself (HP-4+ personal notes).
pub fn derive_key(secret: &str, salt: &[u8; 16], cost: Argon2Cost) -> Result<[u8; 32], AuthError> {
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, cost.params()?);
    let mut out = [0u8; 32];
    argon
        .hash_password_into(secret.as_bytes(), salt, &mut out)
        .map_err(|e| AuthError::Hash(e.to_string()))?;
    Ok(out)
}

/// Hashes a password with Argon2id and the [`Argon2Cost::Interactive`] parameters;
/// returns a PHC string with a random salt.
pub fn hash_password(pw: &str) -> Result<String, AuthError> {
    hash_password_with(pw, Argon2Cost::Interactive)
}

/// Hashes a password with Argon2id and the given cost; returns a PHC string.
pub fn hash_password_with(pw: &str, cost: Argon2Cost) -> Result<String, AuthError> {
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, cost.params()?);
    let mut salt = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| AuthError::Hash(e.to_string()))?;
    argon
        .hash_password(pw.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AuthError::Hash(e.to_string()))
}

/// Verifies a password against a PHC hash. Returns false on a wrong password and on a
/// malformed or unsupported hash; never panics.
pub fn verify_password(pw: &str, phc: &str) -> bool {
    let Ok(hash) = PasswordHash::new(phc) else {
        return false;
    };
    Argon2::default()
        .verify_password(pw.as_bytes(), &hash)
        .is_ok()
}

fn dummy_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| {
        let mut pw = [0u8; 16];
        rand::thread_rng().fill_bytes(&mut pw);
        // On the (practically impossible) failure the verification below fails fast;
        // that only weakens the timing protection, it does not grant access.
        hash_password(&hex::encode(pw)).unwrap_or_default()
    })
    .as_str()
}

/// Spends the same time as [`verify_password`] against an [`Argon2Cost::Interactive`]
/// hash. Call it when the account does not exist, so that response times do not reveal
/// which accounts exist.
pub fn dummy_verify(pw: &str) {
    std::hint::black_box(verify_password(pw, dummy_hash()));
}

#[cfg(test)]
mod tests {
    use super::*;

    const CTX: PasswordContext<'static> = PasswordContext {
        login: "jdevries",
        display_name: "Jan-Willem de Vries",
        email: Some("jw.devries@example.nl"),
    };

    fn problems(pw: &str) -> Vec<PasswordProblem> {
        check_password(pw, &CTX, &[]).err().unwrap_or_default()
    }

    #[test]
    fn list_is_large_enough() {
        assert!(common_set().len() >= 300, "{}", common_set().len());
        assert!(common_set().contains("wachtwoord"));
        assert!(!common_set().iter().any(|e| e.starts_with('#')));
    }

    #[test]
    fn good_passwords_pass() {
        for pw in [
            "paarse olifant zwemt traag",
            "Tr0mbone-Kastanje-Regen",
            "mijn kat heet Snuf en is 9",
            "zeilboot op het IJsselmeer",
        ] {
            assert_eq!(check_password(pw, &CTX, &[]), Ok(()), "{pw}");
        }
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        // 11 two-byte characters: 22 bytes but too short.
        assert_eq!(
            problems("éàöüçñßøåæœ"),
            vec![PasswordProblem::TooShort { min: 12 }]
        );
        // 12 characters with multibyte chars is long enough.
        assert_eq!(check_password("éàöüçñßøåæœ!", &CTX, &[]), Ok(()));
        let long: String = "kpx7wq".repeat(22); // 132 chars
        assert!(problems(&long).contains(&PasswordProblem::TooLong { max: 128 }));
        let ok: String = "kp7wqzrm".repeat(16); // exactly 128
        assert_eq!(check_password(&ok, &CTX, &[]), Ok(()));
    }

    #[test]
    fn common_passwords_are_rejected() {
        for pw in [
            "wachtwoord",
            "WACHTWOORD",
            "Wachtwoord2024!",
            "Welkom01!!!!",
            "Feyen00rd2024!",
            "P@$$w0rd123456",
            "ajax12345678",
            "voetbal!!!!!!",
            "F00tb4ll19999",
            "passwordpassword",
        ] {
            assert!(
                problems(pw).contains(&PasswordProblem::Common),
                "{pw}: {:?}",
                problems(pw)
            );
        }
        // A common word embedded in a longer phrase is not itself "common".
        assert!(!problems("ajax wint de beker morgen").contains(&PasswordProblem::Common));
    }

    #[test]
    fn patterns_are_rejected() {
        assert!(
            problems("aaaaaaaaaaaaaaaa").contains(&PasswordProblem::Pattern(PATTERN_FEW_DISTINCT))
        );
        assert!(
            problems("abababababababab").contains(&PasswordProblem::Pattern(PATTERN_FEW_DISTINCT))
        );
        assert!(problems("abcd1234abcd1234").contains(&PasswordProblem::Pattern(PATTERN_SEQUENCE)));
        for pw in [
            "abcdefghijklmn",
            "12345678987654",
            "qwertyuiopasdf",
            "asdfghjkl!Zq",
            "ZYXWVUTSRQPONM",
        ] {
            assert!(
                problems(pw).contains(&PasswordProblem::Pattern(PATTERN_SEQUENCE)),
                "{pw}: {:?}",
                problems(pw)
            );
        }
        // A short sequence inside an otherwise random password is fine.
        assert_eq!(check_password("abc-Vlieger-Mosterd", &CTX, &[]), Ok(()));
    }

    #[test]
    fn personal_data_is_rejected() {
        for pw in [
            "JDevries-is-de-baas",
            "hallo vries 2024 ok",
            "willem123456789",
            "jw.devries mijn mail",
        ] {
            assert!(
                problems(pw).contains(&PasswordProblem::ContainsPersonalData),
                "{pw}"
            );
        }
        // "de" and "jan"-like short name parts are ignored ("Jan" has 3 letters).
        let ctx = PasswordContext {
            login: "ab",
            display_name: "Jan de Bo",
            email: None,
        };
        assert_eq!(check_password("jan de bo en de rest", &ctx, &[]), Ok(()));
    }

    #[test]
    fn reuse_is_detected() {
        let old = hash_password_with("oude fiets in de gracht", Argon2Cost::Fast).unwrap();
        let history = vec!["not a hash".to_owned(), old];
        assert_eq!(
            check_password("oude fiets in de gracht", &CTX, &history),
            Err(vec![PasswordProblem::Reused])
        );
        assert_eq!(
            check_password("nieuwe fiets aan de kade", &CTX, &history),
            Ok(())
        );
    }

    #[test]
    fn multiple_problems_are_reported() {
        let p = problems("vries");
        assert!(p.contains(&PasswordProblem::TooShort { min: 12 }));
        assert!(p.contains(&PasswordProblem::ContainsPersonalData));
    }

    #[test]
    fn messages() {
        let p = PasswordProblem::TooShort { min: 12 };
        assert_eq!(p.to_string(), p.message_en());
        assert!(p.message_en().contains("12 characters"));
        assert!(p.message_nl().contains("12 tekens"));
        assert!(PasswordProblem::Reused
            .message_nl()
            .contains("eerder gebruikt"));
        assert_ne!(
            PasswordProblem::Pattern(PATTERN_SEQUENCE).message_nl(),
            PasswordProblem::Pattern(PATTERN_FEW_DISTINCT).message_nl()
        );
    }

    #[test]
    fn hash_and_verify() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("correct horse batterY", &h));
        let h2 = hash_password("correct horse battery").unwrap();
        assert_ne!(h, h2, "salt must be random");
    }

    #[test]
    fn fast_cost() {
        let h = hash_password_with("snel", Argon2Cost::Fast).unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"), "{h}");
        assert!(verify_password("snel", &h));
        assert!(!verify_password("langzaam", &h));
    }

    #[test]
    fn malformed_hashes_do_not_verify() {
        for bad in [
            "",
            "$",
            "$argon2id$",
            "$argon2id$v=19$m=1,t=1,p=1$abc$def",
            "plaintext",
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$",
        ] {
            assert!(!verify_password("x", bad), "{bad}");
        }
    }

    #[test]
    fn dummy_uses_interactive_cost() {
        let h = PasswordHash::new(dummy_hash()).unwrap();
        assert_eq!(h.algorithm.as_str(), "argon2id");
        let params = Params::try_from(&h).unwrap();
        assert_eq!(
            (params.m_cost(), params.t_cost(), params.p_cost()),
            (19_456, 2, 1)
        );
        dummy_verify("whatever");
    }
}
