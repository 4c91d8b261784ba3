//! Bearer credentials, for HTTP headers and WebSocket `connection_init`:
//! Alatar's own access tokens, or — when Shopify is configured — an App
//! Bridge session token from the embedded app ("log in with Shopify").

use axum::http::HeaderMap;
use sea_orm::DatabaseConnection;

use alatar_schema::Viewer;
use alatar_schema::auth::{AccessClaims, TokenKeys};
use alatar_schema::service::shopify::{ShopifyService, session_viewer};

/// What the request presented.
pub enum Credentials {
    /// No credentials: an anonymous request.
    Anonymous,
    /// A verified access token.
    Viewer(Viewer),
    /// Something was presented and it did not verify.
    Invalid,
}

/// Verifies bearer tokens.
#[derive(Clone)]
pub struct Authenticator {
    pub keys: TokenKeys,
    pub shopify: Option<ShopifyService>,
    pub db: DatabaseConnection,
}

fn viewer(claims: AccessClaims) -> Credentials {
    let span = tracing::Span::current();
    span.record("user_id", tracing::field::display(claims.sub));
    span.record("account_id", tracing::field::display(claims.acc));
    Credentials::Viewer(Viewer(claims))
}

impl Authenticator {
    /// Verifies an `Authorization` value such as `Bearer eyJ…`.
    pub async fn verify_authorization(&self, value: Option<&str>) -> Credentials {
        let Some(value) = value else { return Credentials::Anonymous };
        let Some(token) = value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")) else {
            return Credentials::Invalid;
        };
        let token = token.trim();
        if let Ok(claims) = self.keys.verify(token) {
            return viewer(claims);
        }
        let Some(shopify) = &self.shopify else { return Credentials::Invalid };
        let config = self.keys.config();
        // Boxed: the session-token path (three queries) would otherwise size
        // every future that awaits this one, such as each WebSocket
        // connection's state, for the connection's whole life.
        match Box::pin(session_viewer(&self.db, shopify, token, &config.issuer, &config.audience)).await {
            Ok(claims) => viewer(claims),
            Err(_) => Credentials::Invalid,
        }
    }

    /// Credentials from request headers.
    pub async fn verify_headers(&self, headers: &HeaderMap) -> Credentials {
        match headers.get(axum::http::header::AUTHORIZATION) {
            None => Credentials::Anonymous,
            Some(v) => match v.to_str() {
                Ok(v) => self.verify_authorization(Some(v)).await,
                Err(_) => Credentials::Invalid,
            },
        }
    }
}
