//! Shopify App Bridge session tokens ("log in with Shopify"): HS256 JWTs
//! signed with the app secret, `aud` = the app's API key, `dest` = the shop,
//! `iss` = the shop's admin, `sub` = the Shopify user, valid for a minute.
//! Algorithm pinned, `exp` and `nbf` required, a few seconds of clock leeway.

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use alatar_agents::shopify::ShopDomain;

use crate::error::{ApiError, ApiResult};

/// Longest lifetime accepted; Shopify issues one-minute tokens.
const MAX_LIFETIME_SECS: i64 = 300;
/// Longest Shopify user id accepted (they are numbers).
const MAX_USER_ID_LEN: usize = 64;

#[derive(Debug, Deserialize)]
struct SessionClaims {
    iss: String,
    dest: String,
    #[serde(default)]
    sub: Option<String>,
    exp: i64,
    #[serde(default)]
    iat: Option<i64>,
    nbf: i64,
}

/// What a verified session token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The shop the token speaks for.
    pub shop: ShopDomain,
    /// The Shopify user (staff member) in that shop's admin: the `sub` claim.
    pub user: String,
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

    /// The shop and the Shopify user the token speaks for.
    pub fn verify(&self, token: &str) -> ApiResult<Session> {
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
        // Without a user the token names nobody to act as.
        let user = claims.sub.filter(|s| is_user_id(s)).ok_or(ApiError::Unauthenticated)?;
        Ok(Session { shop, user })
    }
}

/// Shopify user ids are numbers; anything else of a sane length and alphabet
/// is accepted as opaque, since the id goes into a stored member row.
fn is_user_id(sub: &str) -> bool {
    !sub.is_empty()
        && sub.len() <= MAX_USER_ID_LEN
        && sub.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}
