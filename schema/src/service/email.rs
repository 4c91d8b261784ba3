//! `Email`: parsed once at the edge, lower-cased and in Unicode NFC, so the
//! rest of the code never sees an unchecked address and one address has one
//! spelling (`josé` typed as `e` + a combining accent is the same `josé`).

use unicode_normalization::UnicodeNormalization;

use crate::error::{ApiError, ApiResult};

/// A syntactically valid, normalised email address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// Accepts `local@domain.tld` of at most 254 characters, no spaces;
    /// trims, lower-cases and composes (NFC) it.
    pub fn parse(raw: &str) -> ApiResult<Self> {
        // Lower-casing first: NFC after it holds whatever the case mapping produced.
        let email: String = raw.trim().to_lowercase().nfc().collect();
        let bad = || ApiError::bad_input("email", "is not a valid email address");
        // RFC 5322's specials outside a quoted local part, which we do not
        // take: with them `<victim@x>` or `"a"<victim@x>` would be an
        // address of its own here and a mailbox for `victim@x` to a mailer.
        let special = |c: char| matches!(c, '<' | '>' | '"' | '(' | ')' | ',' | ';' | ':' | '[' | ']' | '\\');
        if email.len() > 254 || email.chars().any(|c| c.is_whitespace() || c.is_control() || special(c)) {
            return Err(bad());
        }
        let (local, domain) = email.split_once('@').ok_or_else(bad)?;
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && !domain.contains('@');
        if local.is_empty() || local.len() > 64 || !domain_ok {
            return Err(bad());
        }
        Ok(Self(email))
    }

    /// The normalised address.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part after `@`, used to name a new account.
    pub fn domain(&self) -> &str {
        self.0.split_once('@').map_or("", |(_, d)| d)
    }

    /// Every spelling under which this address may be stored: the normalised
    /// one, and its decomposed (NFD) form, which rows written before
    /// addresses were composed may hold. Lookups by email match any of them,
    /// so such an account still logs in and is never registered twice.
    pub fn stored_forms(&self) -> Vec<String> {
        let decomposed: String = self.0.nfd().collect();
        if decomposed == self.0 { vec![self.0.clone()] } else { vec![self.0.clone(), decomposed] }
    }
}

#[cfg(test)]
mod tests {
    use super::Email;

    #[test]
    fn normalises_and_rejects() {
        assert_eq!(Email::parse(" Ann@Shop.Example ").map(|e| e.0).ok(), Some("ann@shop.example".into()));
        for bad in [
            "",
            "ann",
            "ann@",
            "@shop.example",
            "ann@shop",
            "a b@shop.example",
            "ann@.example",
            "a@b..c",
            "<victim@shop.example>",
            "a<victim@shop.example>",
            "\"x\"<victim@shop.example>",
            "victim@shop.example,other@shop.example",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn composed_and_decomposed_spellings_are_one_address() {
        let composed = Email::parse("jos\u{e9}@shop.example").map(|e| e.0).ok();
        let decomposed = Email::parse("JOSE\u{301}@shop.example").map(|e| e.0).ok();
        assert_eq!(composed, decomposed);
        assert_eq!(composed.as_deref(), Some("jos\u{e9}@shop.example"));
        let forms = Email::parse("jos\u{e9}@shop.example").map(|e| e.stored_forms()).unwrap_or_default();
        assert_eq!(forms, ["jos\u{e9}@shop.example", "jose\u{301}@shop.example"]);
    }
}
