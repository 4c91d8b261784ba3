//! Opaque random secrets (refresh and invitation tokens) and their hashes.

use base64::Engine;
use sha2::{Digest, Sha256};

/// 256 random bits, URL-safe base64.
pub fn generate() -> String {
    let bytes: [u8; 32] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Hex SHA-256, the only form stored. Tokens carry 256 bits of entropy, so an
/// unsalted fast hash is enough (there is nothing to brute-force).
pub fn digest(token: &str) -> String {
    Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}
