//! Password hashing with argon2id (19 MiB, t=2, p=1: the OWASP minimum).

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::error::{ApiError, ApiResult};

/// A password that passed the policy; only ever hashed, never stored.
pub struct Password(String);

impl Password {
    /// 10 to 256 characters; length matters more than composition rules.
    pub fn parse(raw: &str) -> ApiResult<Self> {
        let len = raw.chars().count();
        if len < 10 {
            return Err(ApiError::bad_input("password", "must be at least 10 characters"));
        }
        if len > 256 {
            return Err(ApiError::bad_input("password", "must be at most 256 characters"));
        }
        Ok(Self(raw.to_owned()))
    }
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
