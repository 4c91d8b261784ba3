//! Shopify from the app's side: install (OAuth) and sealed tokens, request
//! signatures, the GraphQL Admin API client, and the production
//! implementations of the `StoreData` and `StoreWriter` ports over it.
//!
//! Every URL is built from [`ShopifyApp::base_url`] (`https://{shop}` in
//! production), so tests point the whole module at a fake Admin API.

pub mod admin;
pub mod cache;
pub mod cipher;
pub mod cost;
pub mod credentials;
mod data;
pub mod oauth;
pub mod signature;
pub mod writer;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;

use crate::breaker::Breakers;
use crate::telemetry::ClientObserver;

pub use admin::AdminClient;
pub use cipher::{CipherError, TokenCipher};
pub use credentials::Credentials;
pub use data::{DEFAULT_ORDER_HISTORY_DAYS, ShopifyData, queries};
pub use writer::ShopifyWriter;

/// The app's registration and client settings, from configuration.
#[derive(Clone)]
pub struct ShopifyApp {
    /// The app's API key (OAuth `client_id`, session token `aud`).
    pub api_key: String,
    /// The app's API secret: signs OAuth redirects, webhooks and session tokens.
    pub api_secret: SecretString,
    /// Access scopes requested at install.
    pub scopes: Vec<String>,
    /// Where Shopify sends the browser back (`…/shopify/callback`).
    pub redirect_uri: String,
    /// Admin API version, e.g. `2026-10`.
    pub api_version: String,
    /// URL of a shop, with `{shop}` for its domain: `https://{shop}`.
    pub base_url: String,
    /// Per HTTP attempt.
    pub timeout: Duration,
    /// Retries of 429, 5xx, timeouts and `THROTTLED`.
    pub max_retries: u32,
    /// First retry delay (doubles, with jitter).
    pub backoff: Duration,
    /// How long raw Admin API answers stay cached.
    pub cache_ttl: Duration,
    /// Order ranges longer than this many days are exported with a bulk operation.
    pub bulk_threshold_days: i64,
    /// How often a running bulk operation is polled.
    pub bulk_poll: Duration,
}

impl ShopifyApp {
    /// `base_url` for `shop`.
    pub fn shop_url(&self, shop: &ShopDomain) -> String {
        self.base_url.replace("{shop}", shop.as_str()).trim_end_matches('/').to_owned()
    }
}

/// A validated `*.myshopify.com` domain.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ShopDomain(String);

impl ShopDomain {
    /// Accepts exactly `^[a-z0-9][a-z0-9-]*\.myshopify\.com$`.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let valid = raw.strip_suffix(".myshopify.com").is_some_and(|name| {
            name.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
                && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        });
        if valid && raw.len() <= 255 {
            Ok(Self(raw.to_owned()))
        } else {
            Err(format!("{raw:?} is not a *.myshopify.com shop domain"))
        }
    }

    /// The domain.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ShopDomain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `gid://shopify/Product/42` for (`Product`, 42).
pub fn gid(kind: &str, id: u64) -> String {
    format!("gid://shopify/{kind}/{id}")
}

/// The numeric id at the end of a global id (`gid://shopify/Order/42` → 42).
pub fn gid_number(gid: &str) -> Option<u64> {
    gid.rsplit('/').next()?.split('?').next()?.parse().ok()
}

/// Everything the pipeline needs to reach linked Shopify stores.
#[derive(Clone)]
pub struct Shopify {
    /// The app's settings.
    pub app: Arc<ShopifyApp>,
    /// One HTTP client for every shop.
    pub http: reqwest::Client,
    /// Sealed token access.
    pub credentials: Credentials,
    /// One circuit breaker per shop, shared by every client of it.
    pub breakers: Arc<Breakers<ShopDomain>>,
    /// Told of query costs and throttle waits.
    pub observer: Arc<dyn ClientObserver>,
}

impl Shopify {
    /// An Admin API client of `shop` with its breaker and the observer.
    pub fn admin(&self, shop: ShopDomain, token: SecretString) -> AdminClient {
        AdminClient::new(self.http.clone(), self.app.clone(), shop, token)
            .with_breakers(&self.breakers)
            .with_observer(self.observer.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shop_domains() {
        for ok in ["demo.myshopify.com", "a.myshopify.com", "0-shop-1.myshopify.com"] {
            assert!(ShopDomain::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "demo.myshopify.com.evil.com",
            "Demo.myshopify.com",
            "-demo.myshopify.com",
            "de_mo.myshopify.com",
            "demo.example.com",
            ".myshopify.com",
            "a.b.myshopify.com",
            "demo.myshopify.com/",
        ] {
            assert!(ShopDomain::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn global_ids() {
        assert_eq!(gid_number(&gid("Order", 42)), Some(42));
        assert_eq!(gid_number("gid://shopify/ProductVariant/7"), Some(7));
        assert_eq!(gid_number("nonsense"), None);
    }
}
