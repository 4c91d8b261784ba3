//! JWT access tokens: HS256 pinned, `iss`, `aud`, `exp` required and checked;
//! `nbf`, when a token carries one, checked with the same leeway as `exp`.

use std::collections::HashMap;
use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use alatar_entity::{Role, Tier};

use crate::bounded::make_room;
use crate::error::{ApiError, ApiResult};

/// Token settings from configuration.
#[derive(Clone)]
pub struct TokenConfig {
    /// HMAC key; at least 32 bytes.
    pub secret: SecretString,
    /// `iss` claim written and required.
    pub issuer: String,
    /// `aud` claim written and required.
    pub audience: String,
    /// Access token lifetime (seed 001 property 38: 24 h).
    pub access_ttl: Duration,
    /// Refresh token lifetime.
    pub refresh_ttl: Duration,
}

/// What an access token asserts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    /// User id.
    pub sub: Uuid,
    /// Account id.
    pub acc: Uuid,
    /// Role when issued; authorisation re-reads it for sensitive actions.
    pub role: Role,
    /// Account tier when issued (rate limits).
    pub tier: Tier,
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// Issued at (seconds).
    pub iat: i64,
    /// Expiry (seconds).
    pub exp: i64,
    /// Unique token id.
    pub jti: Uuid,
}

/// Signs and verifies access tokens. Cheap to clone (shared), as the
/// transport clones it with its state for every request.
#[derive(Clone)]
pub struct TokenKeys(std::sync::Arc<Keys>);

struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    config: TokenConfig,
    /// Tokens that verified, with their claims, until they expire: a client
    /// presents the same token on every request for its whole life, and
    /// checking it again (base64, HMAC, JSON, claims) was a third of a small
    /// query's cost. Keyed by the exact token text, so only a token that
    /// passed [`TokenKeys::verify`] in full is ever answered from here.
    verified: std::sync::Mutex<HashMap<Box<str>, AccessClaims>>,
}

/// Remembered tokens at most (see [`make_room`]).
const MAX_VERIFIED: usize = 10_000;

impl TokenKeys {
    /// Builds keys; refuses secrets too short for HS256.
    pub fn new(config: TokenConfig) -> ApiResult<Self> {
        let secret = config.secret.expose_secret().as_bytes();
        if secret.len() < 32 {
            return Err(ApiError::internal(anyhow::anyhow!("jwt secret must be at least 32 bytes")));
        }
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.set_issuer(&[config.issuer.as_str()]);
        validation.set_audience(&[config.audience.as_str()]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        // Our tokens carry no `nbf`, but one that does is not valid before it
        // (RFC 7519 4.1.5); jsonwebtoken skips the check unless asked.
        validation.validate_nbf = true;
        validation.leeway = 5;
        Ok(Self(std::sync::Arc::new(Keys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            config,
            verified: std::sync::Mutex::default(),
        })))
    }

    /// The configuration these keys were built from.
    pub fn config(&self) -> &TokenConfig {
        &self.0.config
    }

    /// Issues an access token; returns it with its expiry (unix seconds).
    pub fn issue(&self, user: Uuid, account: Uuid, role: Role, tier: Tier) -> ApiResult<(String, i64)> {
        let now = chrono::Utc::now().timestamp();
        let exp = now + i64::try_from(self.0.config.access_ttl.as_secs()).unwrap_or(i64::MAX / 2);
        let claims = AccessClaims {
            sub: user,
            acc: account,
            role,
            tier,
            iss: self.0.config.issuer.clone(),
            aud: self.0.config.audience.clone(),
            iat: now,
            exp,
            jti: Uuid::new_v4(),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.0.encoding)
            .map_err(ApiError::internal)?;
        Ok((token, exp))
    }

    /// Verifies signature, algorithm, issuer, audience, expiry and `nbf`.
    pub fn verify(&self, token: &str) -> ApiResult<AccessClaims> {
        let now = chrono::Utc::now().timestamp();
        let lock = || self.0.verified.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(claims) = lock().get(token).filter(|c| c.exp > now) {
            return Ok(claims.clone());
        }
        let claims = jsonwebtoken::decode::<AccessClaims>(token, &self.0.decoding, &self.0.validation)
            .map(|data| data.claims)
            .map_err(|_| ApiError::Unauthenticated)?;
        let mut verified = lock();
        make_room(&mut verified, MAX_VERIFIED, |c| c.exp > now);
        verified.insert(token.into(), claims.clone());
        Ok(claims)
    }
}
