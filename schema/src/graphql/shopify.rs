//! Stores and Shopify linking: `startShopifyOAuth`, `completeShopifyOAuth`,
//! `disconnectStore`, and the `ShopifyStore` type (demo stores included).

use async_graphql::{Context, Enum, ID, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use tokio::sync::OnceCell;

use alatar_agents::shopify::credentials::{self, status};
use alatar_entity::{shopify_credential, store};

use crate::context::ContextExt;
use crate::error::ApiError;
use crate::service::shopify as service;

use super::parse_id;

/// Where a store's data comes from.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "alatar_entity::StoreKind")]
pub enum StoreKind {
    /// The bundled demo shop.
    Demo,
    /// A Shopify shop.
    Shopify,
}

/// The state of a store's access token.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum TokenStatus {
    /// Usable.
    Active,
    /// Expired and Shopify refused the refresh: reinstall.
    RefreshFailed,
    /// The app was uninstalled: reinstall.
    Revoked,
    /// Unlinked with `disconnectStore`.
    Disconnected,
    /// The demo store needs no token.
    NotApplicable,
}

/// A store linked to the account; its credential is read at most once,
/// however many of `scopes`, `tokenStatus`, `tokenExpiresAt` are asked for.
pub struct Store(pub store::Model, OnceCell<Option<shopify_credential::Model>>);

impl Store {
    /// Wraps a store row.
    pub fn new(model: store::Model) -> Self {
        Self(model, OnceCell::new())
    }

    async fn credential(&self, ctx: &Context<'_>) -> Result<Option<&shopify_credential::Model>> {
        let loaded = self.1.get_or_try_init(|| service::credential(&ctx.state().db, &self.0)).await?;
        Ok(loaded.as_ref())
    }
}

/// A linked store: a Shopify shop, or the bundled demo shop.
#[Object(name = "ShopifyStore")]
impl Store {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn kind(&self) -> StoreKind {
        self.0.kind.into()
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// `*.myshopify.com` for Shopify stores.
    async fn shop_domain(&self) -> Option<&str> {
        self.0.shop_domain.as_deref()
    }
    /// Access scopes Shopify granted.
    async fn scopes(&self, ctx: &Context<'_>) -> Result<Vec<String>> {
        Ok(self.credential(ctx).await?.map(|c| credentials::split_scopes(&c.scopes)).unwrap_or_default())
    }
    async fn linked_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When it was unlinked (or the app uninstalled).
    async fn disconnected_at(&self) -> Option<DateTime<Utc>> {
        self.0.disconnected_at
    }
    async fn token_status(&self, ctx: &Context<'_>) -> Result<TokenStatus> {
        if self.0.kind == alatar_entity::StoreKind::Demo {
            return Ok(TokenStatus::NotApplicable);
        }
        Ok(match self.credential(ctx).await? {
            None => TokenStatus::Disconnected,
            Some(c) if c.status == status::REVOKED => TokenStatus::Revoked,
            Some(c) if c.status == status::REFRESH_FAILED => TokenStatus::RefreshFailed,
            Some(_) => TokenStatus::Active,
        })
    }
    /// Expiry of an expiring offline token (refreshed automatically before it).
    async fn token_expires_at(&self, ctx: &Context<'_>) -> Result<Option<DateTime<Utc>>> {
        Ok(self.credential(ctx).await?.and_then(|c| c.access_expires_at))
    }
}

/// Where to send the merchant to install the app.
#[derive(SimpleObject)]
pub struct ShopifyOAuthStartPayload {
    /// Shopify's grant screen, with every parameter filled in.
    pub authorization_url: String,
    /// The single-use nonce in the URL.
    pub state: String,
    /// When `state` stops working.
    pub expires_at: DateTime<Utc>,
    /// Scopes requested.
    pub scopes: Vec<String>,
    /// Where Shopify sends the merchant back.
    pub redirect_uri: String,
    /// The app's API key.
    pub client_id: String,
}

/// Shopify mutations.
#[derive(Default)]
pub struct ShopifyMutation;

#[Object]
impl ShopifyMutation {
    /// Starts installing the app on `shopDomain` (`*.myshopify.com`).
    async fn start_shopify_o_auth(&self, ctx: &Context<'_>, shop_domain: String) -> Result<ShopifyOAuthStartPayload> {
        let viewer = ctx.viewer()?;
        let state = ctx.state();
        let start = service::start(&state.db, state.shopify.as_ref(), ctx.scope()?, viewer, &shop_domain).await?;
        // Binds the install to the caller's browser: the HTTP transport turns
        // it into the response's `Set-Cookie`, which `/shopify/callback` checks.
        ctx.append_http_header("set-cookie", start.cookie);
        Ok(ShopifyOAuthStartPayload {
            authorization_url: start.authorization_url,
            state: start.state,
            expires_at: start.expires_at,
            scopes: start.scopes,
            redirect_uri: start.redirect_uri,
            client_id: start.client_id,
        })
    }

    /// Finishes an install from the callback's query string (for clients
    /// that relay it instead of letting the browser land on
    /// `/shopify/callback`); only the user who started the install may.
    async fn complete_shopify_o_auth(&self, ctx: &Context<'_>, query: String) -> Result<Store> {
        let params: Vec<(String, String)> = form_pairs(query.trim_start_matches('?'))
            .ok_or_else(|| ApiError::bad_input("query", "is not a URL query string"))?;
        let state = ctx.state();
        // Relayed completions hold no browser cookie: they must come from the
        // person who started the install.
        let viewer = ctx.viewer()?;
        let by = service::Completion::Relayed(viewer);
        Ok(Store::new(service::complete(&state.db, state.shopify.as_ref(), &params, by).await?))
    }

    /// Unlinks a store: its token is deleted and its cached data dropped;
    /// past analyses stay.
    async fn disconnect_store(&self, ctx: &Context<'_>, id: ID) -> Result<Store> {
        let viewer = ctx.viewer()?;
        let id = parse_id("id", &id)?;
        let state = ctx.state();
        Ok(Store::new(service::disconnect(&state.db, state.shopify.as_ref(), ctx.scope()?, viewer, id).await?))
    }
}

/// `a=1&b=2` decoded, or `None` when malformed.
pub fn form_pairs(query: &str) -> Option<Vec<(String, String)>> {
    serde_urlencoded::from_str(query).ok()
}
