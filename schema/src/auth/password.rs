//! Password hashing with argon2id (19 MiB, t=2, p=1: the OWASP minimum),
//! and the policy a new password must pass: long enough, and not what a
//! guesser tries first (NIST SP 800-63B: length and a blocklist, no
//! composition rules).

use std::collections::HashSet;
use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::error::{ApiError, ApiResult};
use crate::service::Email;

/// The blocklist, lower case, one a line (`scripts/common-passwords.py`).
const COMMON_PASSWORDS: &str = include_str!("common-passwords.txt");

/// Listed words shorter than this are not looked for inside a password with
/// digits or symbols around them: too many honest passwords would contain one.
const MIN_LISTED_CORE: usize = 4;

/// A password that passed the policy; only ever hashed, never stored.
pub struct Password(String);

impl Password {
    /// 10 to 256 characters, not blank, not one character or a short
    /// pattern repeated, not a run such as `abcdefghij`, and not a common
    /// password: listed, compared without regard to case or spaces, also
    /// with digits or symbols added around a listed word (`Password12`)
    /// and with the usual substitutions undone (`p@ssw0rd`).
    pub fn parse(raw: &str) -> ApiResult<Self> {
        let refuse = |message: &str| Err(ApiError::bad_input("password", message));
        if raw.chars().all(char::is_whitespace) {
            return refuse("must not be only spaces; a few unrelated words make a strong password");
        }
        let chars: Vec<char> = raw.chars().collect();
        if chars.len() < 10 {
            return refuse("must be at least 10 characters");
        }
        if chars.len() > 256 {
            return refuse("must be at most 256 characters");
        }
        match repeated_unit(&chars) {
            Some(1) => {
                return refuse("must not be one character repeated; a few unrelated words make a strong password");
            }
            Some(_) => {
                return refuse("must not be a short pattern repeated; a few unrelated words make a strong password");
            }
            None => {}
        }
        if is_run(&chars) {
            return refuse("must not be a run of consecutive characters such as 1234567890");
        }
        let common = common_passwords();
        if guessable_forms(raw).iter().any(|form| common.contains(form.as_str())) {
            return refuse(
                "is one of the most common passwords (or one with only digits or symbols added); \
                 choose something less predictable, such as a few unrelated words",
            );
        }
        Ok(Self(raw.to_owned()))
    }

    /// [`Password::parse`], and not the account's email address or the name
    /// before its `@` (also with digits or symbols added): the first thing
    /// anyone who knows the address tries.
    pub fn parse_for(raw: &str, email: &Email) -> ApiResult<Self> {
        let password = Self::parse(raw)?;
        let address = email.as_str();
        let local = address.split_once('@').map_or(address, |(local, _)| local);
        let untagged = local.split_once('+').map_or(local, |(name, _)| name);
        let joined: String = untagged.chars().filter(|c| !matches!(c, '.' | '_' | '-')).collect();
        let personal = [address, local, untagged, joined.as_str()];
        let forms = guessable_forms(raw);
        if forms.iter().any(|form| personal.iter().any(|p| !p.is_empty() && form == p)) {
            return Err(ApiError::bad_input("password", "must not be your email address or the name before its @"));
        }
        Ok(password)
    }
}

/// The blocklist as a set, built on first use.
fn common_passwords() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| {
        COMMON_PASSWORDS.lines().map(str::trim).filter(|line| !line.is_empty() && !line.starts_with('#')).collect()
    })
}

/// The length of the shortest unit (at most 4 characters) that `chars`
/// repeats from start to end, if there is one (`aaaaaaaaaa`: 1, `ababababab`: 2).
fn repeated_unit(chars: &[char]) -> Option<usize> {
    (1..=4)
        .filter(|unit| chars.len() >= unit * 2)
        .find(|&unit| chars.iter().enumerate().all(|(i, c)| *c == chars[i % unit]))
}

/// Whether every character is the one before it plus one, or minus one.
fn is_run(chars: &[char]) -> bool {
    let steps: Vec<i64> = chars.windows(2).map(|w| i64::from(u32::from(w[1])) - i64::from(u32::from(w[0]))).collect();
    steps.iter().all(|s| *s == 1) || steps.iter().all(|s| *s == -1)
}

/// What a guesser derives a password from, lower case: as typed, without
/// spaces, without the digits and symbols around a word, and that word with
/// the usual substitutions undone (`p@ssw0rd`).
fn guessable_forms(raw: &str) -> Vec<String> {
    let lower = raw.to_lowercase();
    let squeezed: String = lower.chars().filter(|c| !c.is_whitespace()).collect();
    let mut forms = Vec::with_capacity(8);
    for form in [lower, squeezed] {
        let core =
            form.trim_matches(|c: char| c.is_ascii_digit() || c.is_ascii_punctuation() || c.is_whitespace()).to_owned();
        if core.chars().count() >= MIN_LISTED_CORE {
            forms.push(unleet(&core, 'i'));
            forms.push(unleet(&core, 'l'));
            forms.push(core);
        }
        forms.push(form);
    }
    forms
}

/// `text` with digits and symbols read as the letters they stand for; `one`
/// is what `1` stands for (`i` or `l`).
fn unleet(text: &str, one: char) -> String {
    text.chars()
        .map(|c| match c {
            '0' => 'o',
            '1' => one,
            '3' => 'e',
            '4' | '@' => 'a',
            '5' | '$' => 's',
            '7' | '+' => 't',
            '!' => 'i',
            other => other,
        })
        .collect()
}

fn hasher() -> ApiResult<Argon2<'static>> {
    let params = Params::new(19 * 1024, 2, 1, None).map_err(|e| ApiError::internal(anyhow::anyhow!("{e}")))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes on a blocking thread: argon2 is CPU-bound by design.
pub async fn hash(password: Password) -> ApiResult<String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::from_b64(&random_salt()).map_err(|e| ApiError::internal(anyhow::anyhow!("{e}")))?;
        let hash = hasher()?
            .hash_password(password.0.as_bytes(), &salt)
            .map_err(|e| ApiError::internal(anyhow::anyhow!("{e}")))?;
        Ok(hash.to_string())
    })
    .await
    .map_err(ApiError::internal)?
}

/// Verifies in constant time; a malformed stored hash is an internal error.
pub async fn verify(candidate: String, stored: String) -> ApiResult<bool> {
    tokio::task::spawn_blocking(move || {
        let parsed = PasswordHash::new(&stored).map_err(|e| ApiError::internal(anyhow::anyhow!("{e}")))?;
        Ok(hasher()?.verify_password(candidate.as_bytes(), &parsed).is_ok())
    })
    .await
    .map_err(ApiError::internal)?
}

fn random_salt() -> String {
    use base64::Engine;
    let bytes: [u8; 16] = rand::random();
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(bytes)
}

/// A fixed hash verified against when the email is unknown, so that login
/// takes the same time whether or not the account exists.
pub async fn dummy_verify(candidate: String) {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let stored = match DUMMY.get() {
        Some(h) => h.clone(),
        None => match hash(Password(String::from("dummy-password-for-timing"))).await {
            Ok(h) => DUMMY.get_or_init(|| h).clone(),
            Err(_) => return,
        },
    };
    let _ = verify(candidate, stored).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(raw: &str) -> Option<String> {
        match Password::parse_for(raw, &Email::parse("ann.smith+shop@shop.example").ok()?) {
            Err(ApiError::BadUserInput { message, .. }) => Some(message),
            _ => None,
        }
    }

    #[test]
    fn refuses_what_guessers_try_first() {
        for weak in [
            "password12",
            "Password12",
            "PASSWORD1234",
            "p@ssw0rd2024!",
            "          ",
            "aaaaaaaaaa",
            "ababababab",
            "abcabcabcabc",
            "1234567890",
            "abcdefghij",
            "9876543210",
            "qwertyuiop",
            "iloveyou2024",
            "!!sunshine!!",
            "ann.smith+shop@shop.example",
            "ann.smith1990",
            "annsmith2024",
            "short",
        ] {
            assert!(refused(weak).is_some(), "{weak:?} accepted");
        }
    }

    #[test]
    fn accepts_long_unpredictable_passwords() {
        for good in ["correct horse battery", "tulip ledger orbit 7", "Vr8#kq2!Lm0z", "mountain sunrise 77"] {
            assert_eq!(refused(good), None, "{good:?} refused");
        }
    }

    #[test]
    fn says_why() {
        assert!(refused("          ").is_some_and(|m| m.contains("spaces")));
        assert!(refused("aaaaaaaaaa").is_some_and(|m| m.contains("one character")));
        assert!(refused("password12").is_some_and(|m| m.contains("common")));
        assert!(refused("ann.smith2024").is_some_and(|m| m.contains("email")));
    }

    #[test]
    fn the_list_is_lower_case_and_large() {
        let set = common_passwords();
        assert!(set.len() > 5_000, "{}", set.len());
        assert!(set.iter().all(|p| p.to_lowercase() == *p && p.chars().count() >= MIN_LISTED_CORE));
    }
}
