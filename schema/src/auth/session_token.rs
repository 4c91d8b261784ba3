//! Shopify App Bridge session tokens ("log in with Shopify"): HS256 JWTs
//! signed with the app secret, `aud` = the app's API key, `dest` = the shop,
//! `iss` = the shop's admin, valid for a minute. Algorithm pinned, `exp` and
//! `nbf` required, a few seconds of clock leeway.

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use alatar_agents::shopify::ShopDomain;

use crate::error::{ApiError, ApiResult};

/// Longest lifetime accepted; Shopify issues one-minute tokens.
const MAX_LIFETIME_SECS: i64 = 300;

#[derive(Debug, Deserialize)]
struct SessionClaims {
    iss: String,
    dest: String,
    exp: i64,
    #[serde(default)]
    iat: Option<i64>,
    nbf: i64,
}

/// Verifies session tokens of one app.
#[derive(Clone)]
pub struct SessionTokens {
    decoding: DecodingKey,
    validation: Validation,
}

impl SessionTokens {
    /// For the app with `api_key` and `api_secret`.
    pub fn new(api_key: &str, api_secret: &SecretString) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.set_audience(&[api_key]);
        validation.set_required_spec_claims(&["exp", "nbf", "aud", "iss"]);
        validation.validate_nbf = true;
        validation.leeway = 5;
        Self { decoding: DecodingKey::from_secret(api_secret.expose_secret().as_bytes()), validation }
    }

    /// The shop the token speaks for.
    pub fn verify(&self, token: &str) -> ApiResult<ShopDomain> {
        let claims = jsonwebtoken::decode::<SessionClaims>(token, &self.decoding, &self.validation)
            .map_err(|_| ApiError::Unauthenticated)?
            .claims;
        let shop = claims.dest.strip_prefix("https://").ok_or(ApiError::Unauthenticated)?;
        let shop = ShopDomain::parse(shop).map_err(|_| ApiError::Unauthenticated)?;
        if claims.iss != format!("{}/admin", claims.dest) {
            return Err(ApiError::Unauthenticated);
        }
        let issued = claims.iat.unwrap_or(claims.nbf);
        if claims.exp - issued > MAX_LIFETIME_SECS {
            return Err(ApiError::Unauthenticated);
        }
        Ok(shop)
    }
}
