//! `Email`: parsed once at the edge, lower-cased, so the rest of the code
//! never sees an unchecked address.

use crate::error::{ApiError, ApiResult};

/// A syntactically valid, normalised email address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// Accepts `local@domain.tld` of at most 254 characters, no spaces.
    pub fn parse(raw: &str) -> ApiResult<Self> {
        let email = raw.trim().to_lowercase();
        let bad = || ApiError::bad_input("email", "is not a valid email address");
        if email.len() > 254 || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
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
}

#[cfg(test)]
mod tests {
    use super::Email;

    #[test]
    fn normalises_and_rejects() {
        assert_eq!(Email::parse(" Ann@Shop.Example ").map(|e| e.0).ok(), Some("ann@shop.example".into()));
        for bad in ["", "ann", "ann@", "@shop.example", "ann@shop", "a b@shop.example", "ann@.example", "a@b..c"] {
            assert!(Email::parse(bad).is_err(), "{bad} accepted");
        }
    }
}
