//! The install flow's HTTP side: the authorization URL the merchant is sent
//! to, the token endpoint (code exchange and refresh of expiring offline
//! tokens), and the way out: `appUninstall`, the app removing itself from a
//! shop. The flow's state (nonces, linking) lives with the API.

use chrono::{DateTime, Duration, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};

use super::admin::user_errors;
use super::{AdminClient, ShopDomain, ShopifyApp};
use crate::store::StoreError;

/// The Admin API mutation (2025-07+) by which an app uninstalls itself:
/// Shopify revokes the grant, deletes the app's webhook subscriptions and
/// sends `app/uninstalled`.
pub const UNINSTALL: &str = "mutation Uninstall { appUninstall { app { id } userErrors { field message code } } }";

/// What the token endpoint granted.
pub struct TokenGrant {
    /// The offline access token.
    pub access_token: SecretString,
    /// Granted scopes, comma-separated.
    pub scope: String,
    /// Expiry of an expiring offline token.
    pub expires_at: Option<DateTime<Utc>>,
    /// Its refresh token.
    pub refresh_token: Option<SecretString>,
    /// The refresh token's expiry.
    pub refresh_expires_at: Option<DateTime<Utc>>,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    scope: String,
    expires_in: Option<i64>,
    refresh_token: Option<String>,
    refresh_token_expires_in: Option<i64>,
}

/// Where to send the merchant: Shopify's grant screen for an offline token
/// (no `grant_options[]`), with `state` to tie the callback to this attempt.
pub fn authorize_url(app: &ShopifyApp, shop: &ShopDomain, state: &str) -> Result<String, String> {
    let base = format!("{}/admin/oauth/authorize", app.shop_url(shop));
    let scopes = app.scopes.join(",");
    reqwest::Url::parse_with_params(
        &base,
        &[
            ("client_id", app.api_key.as_str()),
            ("scope", scopes.as_str()),
            ("redirect_uri", app.redirect_uri.as_str()),
            ("state", state),
        ],
    )
    .map(String::from)
    .map_err(|e| format!("bad shopify.base_url: {e}"))
}

/// Exchanges the callback's `code` for an offline token; asks for an
/// expiring one (with a refresh token), which Shopify recommends.
pub async fn exchange_code(
    app: &ShopifyApp,
    http: &reqwest::Client,
    shop: &ShopDomain,
    code: &str,
) -> Result<TokenGrant, StoreError> {
    token_request(app, http, shop, json!({ "code": code, "expiring": 1 })).await
}

/// Trades a refresh token for a new access token (and a new refresh token).
pub async fn refresh(
    app: &ShopifyApp,
    http: &reqwest::Client,
    shop: &ShopDomain,
    refresh_token: &SecretString,
) -> Result<TokenGrant, StoreError> {
    let grant = json!({ "grant_type": "refresh_token", "refresh_token": refresh_token.expose_secret() });
    token_request(app, http, shop, grant).await
}

/// POSTs `grant` with the app's client credentials to the token endpoint.
async fn token_request(
    app: &ShopifyApp,
    http: &reqwest::Client,
    shop: &ShopDomain,
    mut body: Value,
) -> Result<TokenGrant, StoreError> {
    body["client_id"] = json!(app.api_key);
    body["client_secret"] = json!(app.api_secret.expose_secret());
    let url = format!("{}/admin/oauth/access_token", app.shop_url(shop));
    let response = http
        .post(&url)
        .timeout(app.timeout)
        .json(&body)
        .send()
        .await
        .map_err(|e| StoreError::Unavailable(format!("token endpoint of {shop}: {e}")))?;
    let status = response.status();
    if status.is_server_error() || status.as_u16() == 429 {
        return Err(StoreError::Unavailable(format!("token endpoint of {shop} answered {status}")));
    }
    if !status.is_success() {
        // The body may echo what we sent: say only the status.
        return Err(StoreError::Denied(format!("token endpoint of {shop} refused ({status})")));
    }
    let token: TokenResponse = response
        .json()
        .await
        .map_err(|e| StoreError::Unavailable(format!("token endpoint of {shop}: unreadable answer: {e}")))?;
    let now = Utc::now();
    Ok(TokenGrant {
        access_token: SecretString::from(token.access_token),
        scope: token.scope,
        expires_at: token.expires_in.map(|s| now + Duration::seconds(s)),
        refresh_token: token.refresh_token.map(SecretString::from),
        refresh_expires_at: token.refresh_token_expires_in.map(|s| now + Duration::seconds(s)),
    })
}

/// Uninstalls the app from the client's shop, revoking its grant there.
pub async fn uninstall(admin: &AdminClient) -> Result<(), StoreError> {
    let data = admin.graphql(UNINSTALL, json!({})).await?;
    let payload = data.get("appUninstall").cloned().unwrap_or(Value::Null);
    if payload.is_null() {
        return Err(StoreError::Rejected(format!("appUninstall on {} returned nothing", admin.shop())));
    }
    user_errors(&payload)
}
