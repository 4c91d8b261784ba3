//! Shopify's HTTP entry points: the OAuth callback the merchant's browser
//! lands on (with the state cookie `startShopifyOAuth` gave that browser),
//! and webhooks (verified over the raw body before anything else).

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use alatar_agents::shopify::ShopDomain;
use alatar_schema::ApiError;
use alatar_schema::form_pairs;
use alatar_schema::service::shopify::{Completion, STATE_COOKIE, complete};
use alatar_schema::service::webhooks::{self, Delivery, Outcome};

use super::HttpState;

fn plain(status: StatusCode, message: impl Into<String>) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], message.into()).into_response()
}

/// The value of cookie `name` among the request's `Cookie` headers.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim())
}

/// `GET /shopify/callback?code=…&hmac=…&shop=…&state=…&timestamp=…`:
/// links the shop, then sends the merchant to the app inside their admin.
/// Only the browser holding the state's cookie may (403 otherwise).
pub async fn callback(State(state): State<HttpState>, headers: HeaderMap, RawQuery(query): RawQuery) -> Response {
    let Some(svc) = &state.shopify else { return plain(StatusCode::NOT_FOUND, "Shopify is not configured") };
    let Some(params) = form_pairs(query.as_deref().unwrap_or_default()) else {
        return plain(StatusCode::BAD_REQUEST, "malformed query string");
    };
    let by = Completion::Browser(cookie(&headers, STATE_COOKIE));
    match complete(&state.db, Some(svc), &params, by).await {
        Ok(store) => {
            let app = &svc.shopify.app;
            let Some(shop) = store.shop_domain.as_deref().and_then(|s| ShopDomain::parse(s).ok()) else {
                return plain(StatusCode::BAD_GATEWAY, "the install could not be completed; try again");
            };
            let target = format!("{}/admin/apps/{}", app.shop_url(&shop), app.api_key);
            let done = svc.cleared_state_cookie();
            (StatusCode::SEE_OTHER, [(header::LOCATION, target), (header::SET_COOKIE, done)]).into_response()
        }
        Err(ApiError::BadUserInput { field, message }) => {
            plain(StatusCode::BAD_REQUEST, format!("the install could not be completed: {field}: {message}"))
        }
        Err(e @ ApiError::Forbidden(_)) => plain(StatusCode::FORBIDDEN, e.to_string()),
        Err(e @ ApiError::Conflict(_)) => plain(StatusCode::CONFLICT, e.to_string()),
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "shopify install failed");
            plain(StatusCode::BAD_GATEWAY, "the install could not be completed; try again")
        }
    }
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
}

/// `POST /shopify/webhooks`: 401 without a valid HMAC (nothing changes),
/// 200 once processed or already seen, 500 to make Shopify retry.
pub async fn webhook(State(state): State<HttpState>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(svc) = &state.shopify else { return plain(StatusCode::NOT_FOUND, "Shopify is not configured") };
    let delivery = Delivery {
        topic: header_str(&headers, "x-shopify-topic"),
        shop: header_str(&headers, "x-shopify-shop-domain"),
        webhook_id: header_str(&headers, "x-shopify-webhook-id"),
        hmac: headers.get("x-shopify-hmac-sha256").and_then(|v| v.to_str().ok()),
        body: &body,
    };
    match webhooks::receive(&state.db, svc, delivery).await {
        Ok(Outcome::Unauthorized) => plain(StatusCode::UNAUTHORIZED, "invalid webhook signature"),
        Ok(Outcome::Malformed(why)) => plain(StatusCode::BAD_REQUEST, why),
        Ok(Outcome::Processed | Outcome::Duplicate) => StatusCode::OK.into_response(),
        Err(e) => {
            tracing::error!(error = %e, "webhook processing failed; Shopify will retry");
            plain(StatusCode::INTERNAL_SERVER_ERROR, "try again")
        }
    }
}
