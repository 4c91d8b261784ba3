//! Bearer credentials, for HTTP headers and WebSocket `connection_init`.

use axum::http::HeaderMap;

use alatar_schema::Viewer;
use alatar_schema::auth::TokenKeys;

/// What the request presented.
pub enum Credentials {
    /// No credentials: an anonymous request.
    Anonymous,
    /// A verified access token.
    Viewer(Viewer),
    /// Something was presented and it did not verify.
    Invalid,
}

/// Verifies an `Authorization` value such as `Bearer eyJ…`.
pub fn from_authorization(value: Option<&str>, keys: &TokenKeys) -> Credentials {
    let Some(value) = value else { return Credentials::Anonymous };
    let Some(token) = value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")) else {
        return Credentials::Invalid;
    };
    match keys.verify(token.trim()) {
        Ok(claims) => {
            let span = tracing::Span::current();
            span.record("user_id", tracing::field::display(claims.sub));
            span.record("account_id", tracing::field::display(claims.acc));
            Credentials::Viewer(Viewer(claims))
        }
        Err(_) => Credentials::Invalid,
    }
}

/// Credentials from request headers.
pub fn from_headers(headers: &HeaderMap, keys: &TokenKeys) -> Credentials {
    match headers.get(axum::http::header::AUTHORIZATION) {
        None => Credentials::Anonymous,
        Some(v) => match v.to_str() {
            Ok(v) => from_authorization(Some(v), keys),
            Err(_) => Credentials::Invalid,
        },
    }
}
