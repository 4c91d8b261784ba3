//! Tokens at rest: AES-256-GCM with a fresh random 96-bit nonce per
//! encryption, the shop domain as associated data (a ciphertext moved to
//! another shop's row does not open), and a key id in every ciphertext so
//! keys rotate: new ciphertexts use the active key, old ones still open
//! under the key they name.
//!
//! Format: `v1.<key id>.<base64url(nonce ‖ ciphertext ‖ tag)>`.

use std::collections::HashMap;

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rand::RngCore;
use secrecy::SecretString;

const NONCE_LEN: usize = 12;

/// Why a token could not be sealed or opened. Opening fails loudly: a
/// tampered or misplaced ciphertext is an error, never an empty token.
#[derive(Debug, thiserror::Error)]
pub enum CipherError {
    /// A configured key is not 32 bytes of base64, or its id is unusable.
    #[error("token key {0:?}: {1}")]
    BadKey(String, &'static str),
    /// The active key id names no configured key.
    #[error("the active token key {0:?} is not configured")]
    NoActiveKey(String),
    /// The ciphertext names a key that is not configured (any more).
    #[error("sealed with unknown key {0:?}")]
    UnknownKey(String),
    /// Not in the `v1.<kid>.<data>` format.
    #[error("sealed token is malformed")]
    Malformed,
    /// Authentication failed: tampered, truncated, or sealed for another shop.
    #[error("sealed token failed authentication (tampered, or sealed for another shop)")]
    Tampered,
}

/// The keyring.
pub struct TokenCipher {
    keys: HashMap<String, Aes256Gcm>,
    active: String,
}

impl TokenCipher {
    /// Keys by id (raw 32-byte keys) and the id new ciphertexts use.
    pub fn new(keys: impl IntoIterator<Item = (String, Vec<u8>)>, active: &str) -> Result<Self, CipherError> {
        let mut ring = HashMap::new();
        for (id, key) in keys {
            if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
                return Err(CipherError::BadKey(id, "ids are letters, digits, '-' and '_'"));
            }
            let cipher =
                Aes256Gcm::new_from_slice(&key).map_err(|_| CipherError::BadKey(id.clone(), "not 32 bytes"))?;
            ring.insert(id, cipher);
        }
        if !ring.contains_key(active) {
            return Err(CipherError::NoActiveKey(active.to_owned()));
        }
        Ok(Self { keys: ring, active: active.to_owned() })
    }

    /// Keys as configured: base64 (standard alphabet) of 32 random bytes.
    pub fn from_base64<'a>(
        keys: impl IntoIterator<Item = (&'a str, &'a str)>,
        active: &str,
    ) -> Result<Self, CipherError> {
        let decoded = keys
            .into_iter()
            .map(|(id, b64)| {
                STANDARD
                    .decode(b64.trim())
                    .map(|k| (id.to_owned(), k))
                    .map_err(|_| CipherError::BadKey(id.to_owned(), "not base64"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Self::new(decoded, active)
    }

    /// A new random key, base64, for configuration.
    pub fn generate_key() -> String {
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        STANDARD.encode(key)
    }

    /// Encrypts `plaintext` bound to `context` (the shop domain).
    pub fn seal(&self, plaintext: &str, context: &str) -> Result<String, CipherError> {
        let cipher = self.keys.get(&self.active).ok_or_else(|| CipherError::NoActiveKey(self.active.clone()))?;
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = cipher
            .encrypt(&Nonce::from(nonce), Payload { msg: plaintext.as_bytes(), aad: context.as_bytes() })
            .map_err(|_| CipherError::Malformed)?;
        let mut data = Vec::with_capacity(NONCE_LEN + sealed.len());
        data.extend_from_slice(&nonce);
        data.extend_from_slice(&sealed);
        Ok(format!("v1.{}.{}", self.active, URL_SAFE_NO_PAD.encode(data)))
    }

    /// Decrypts what [`seal`](Self::seal) produced for the same `context`.
    pub fn open(&self, sealed: &str, context: &str) -> Result<SecretString, CipherError> {
        let (key_id, data) = parse(sealed)?;
        let cipher = self.keys.get(key_id).ok_or_else(|| CipherError::UnknownKey(key_id.to_owned()))?;
        let data = URL_SAFE_NO_PAD.decode(data).map_err(|_| CipherError::Malformed)?;
        if data.len() < NONCE_LEN + 16 {
            return Err(CipherError::Malformed);
        }
        let (nonce, body) = data.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| CipherError::Malformed)?;
        let plain = cipher
            .decrypt(&Nonce::from(nonce), Payload { msg: body, aad: context.as_bytes() })
            .map_err(|_| CipherError::Tampered)?;
        String::from_utf8(plain).map(SecretString::from).map_err(|_| CipherError::Tampered)
    }

    /// Sealed under a key other than the active one: re-seal it.
    pub fn needs_reseal(&self, sealed: &str) -> bool {
        parse(sealed).is_ok_and(|(key_id, _)| key_id != self.active)
    }
}

fn parse(sealed: &str) -> Result<(&str, &str), CipherError> {
    let mut parts = sealed.splitn(3, '.');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("v1"), Some(key_id), Some(data)) if !key_id.is_empty() => Ok((key_id, data)),
        _ => Err(CipherError::Malformed),
    }
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use std::collections::HashSet;

    use secrecy::ExposeSecret;

    use super::*;

    fn ring(keys: &[(&str, u8)], active: &str) -> TokenCipher {
        TokenCipher::new(keys.iter().map(|(id, b)| ((*id).to_owned(), vec![*b; 32])), active).expect("keyring")
    }

    #[test]
    fn round_trip_bound_to_the_shop() {
        let c = ring(&[("k1", 1)], "k1");
        let sealed = c.seal("shpat_secret", "a.myshopify.com").expect("seal");
        assert!(sealed.starts_with("v1.k1."));
        assert!(!sealed.contains("shpat_secret"));
        assert_eq!(c.open(&sealed, "a.myshopify.com").expect("open").expose_secret(), "shpat_secret");
        assert!(matches!(c.open(&sealed, "b.myshopify.com"), Err(CipherError::Tampered)));
    }

    #[test]
    fn thousand_encryptions_never_repeat_a_nonce() {
        let c = ring(&[("k1", 1)], "k1");
        let mut nonces = HashSet::new();
        for _ in 0..1000 {
            let sealed = c.seal("same token", "a.myshopify.com").expect("seal");
            let data = URL_SAFE_NO_PAD.decode(sealed.rsplit('.').next().expect("data")).expect("b64");
            assert!(nonces.insert(data[..NONCE_LEN].to_vec()), "nonce repeated");
        }
        assert_eq!(nonces.len(), 1000);
    }

    #[test]
    fn tampering_fails_loudly() {
        let c = ring(&[("k1", 1)], "k1");
        let sealed = c.seal("shpat_secret", "a.myshopify.com").expect("seal");
        let mut bytes = URL_SAFE_NO_PAD.decode(sealed.rsplit('.').next().expect("data")).expect("b64");
        for i in [0, NONCE_LEN, bytes.len() - 1] {
            bytes[i] ^= 1;
            let forged = format!("v1.k1.{}", URL_SAFE_NO_PAD.encode(&bytes));
            assert!(matches!(c.open(&forged, "a.myshopify.com"), Err(CipherError::Tampered)), "byte {i}");
            bytes[i] ^= 1;
        }
        assert!(matches!(c.open("v1.k1.AAAA", "a.myshopify.com"), Err(CipherError::Malformed)));
        assert!(matches!(c.open("plain-token", "a.myshopify.com"), Err(CipherError::Malformed)));
    }

    #[test]
    fn keys_rotate() {
        let old = ring(&[("k1", 1)], "k1");
        let sealed_old = old.seal("old token", "a.myshopify.com").expect("seal");
        let rotated = ring(&[("k1", 1), ("k2", 2)], "k2");
        assert_eq!(rotated.open(&sealed_old, "a.myshopify.com").expect("old opens").expose_secret(), "old token");
        assert!(rotated.needs_reseal(&sealed_old));
        let sealed_new = rotated.seal("new token", "a.myshopify.com").expect("seal");
        assert!(sealed_new.starts_with("v1.k2."));
        assert!(!rotated.needs_reseal(&sealed_new));
        // A keyring without k2 cannot open what k2 sealed.
        assert!(matches!(old.open(&sealed_new, "a.myshopify.com"), Err(CipherError::UnknownKey(_))));
        // A retired key with the same id but other bytes fails authentication.
        let wrong = ring(&[("k2", 9)], "k2");
        assert!(matches!(wrong.open(&sealed_new, "a.myshopify.com"), Err(CipherError::Tampered)));
    }

    #[test]
    fn bad_configuration_is_refused() {
        assert!(matches!(TokenCipher::new([("k1".to_owned(), vec![0; 16])], "k1"), Err(CipherError::BadKey(..))));
        assert!(matches!(TokenCipher::new([("k.1".to_owned(), vec![0; 32])], "k.1"), Err(CipherError::BadKey(..))));
        assert!(matches!(TokenCipher::new([("k1".to_owned(), vec![0; 32])], "k2"), Err(CipherError::NoActiveKey(_))));
        let key = TokenCipher::generate_key();
        assert!(TokenCipher::from_base64([("k1", key.as_str())], "k1").is_ok());
    }
}
