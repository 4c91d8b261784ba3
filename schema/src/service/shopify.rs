//! Linking Shopify stores: the install flow (`state` nonces, the callback's
//! checks, the code exchange), disconnecting, and "log in with Shopify"
//! (an App Bridge session token acting for the shop's account).

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use rand::RngCore;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, TransactionTrait,
};
use secrecy::ExposeSecret;
use serde_json::json;
use uuid::Uuid;

use alatar_agents::actions::{Actor, audit};
use alatar_agents::shopify::credentials::status;
use alatar_agents::shopify::{ShopDomain, Shopify, cache, oauth, signature};
use alatar_entity::{AccountScope, Role, StoreKind, account, oauth_state, shopify_credential, store, user};

use crate::auth::{AccessClaims, SessionTokens};
use crate::error::{ApiError, ApiResult};
use crate::service::accounts;

/// Shopify as the API sees it.
#[derive(Clone)]
pub struct ShopifyService {
    /// Client side: app settings, HTTP, sealed credentials.
    pub shopify: Shopify,
    /// Verifies App Bridge session tokens.
    pub sessions: SessionTokens,
    /// How long an install's `state` stays valid.
    pub state_ttl: Duration,
    /// How far a callback's `timestamp` may be from now.
    pub timestamp_tolerance: Duration,
}

/// What `startShopifyOAuth` returns.
pub struct OAuthStart {
    /// Where to send the merchant.
    pub authorization_url: String,
    /// The single-use nonce in it.
    pub state: String,
    /// When the nonce stops working.
    pub expires_at: DateTime<Utc>,
    /// Scopes requested.
    pub scopes: Vec<String>,
    /// Where Shopify will send the merchant back.
    pub redirect_uri: String,
    /// The app's API key.
    pub client_id: String,
}

fn configured(svc: Option<&ShopifyService>) -> ApiResult<&ShopifyService> {
    svc.ok_or_else(|| ApiError::bad_input("shopDomain", "Shopify is not configured on this server"))
}

async fn require_manager(
    db: &DatabaseConnection,
    scope: AccountScope,
    viewer: &AccessClaims,
) -> ApiResult<user::Model> {
    accounts::manager(db, scope, viewer.sub, "only owners and admins can link, unlink or change stores").await
}

/// Begins an install: a single-use `state` bound to the account and shop.
pub async fn start(
    db: &DatabaseConnection,
    svc: Option<&ShopifyService>,
    scope: AccountScope,
    viewer: &AccessClaims,
    shop_domain: &str,
) -> ApiResult<OAuthStart> {
    let svc = configured(svc)?;
    let shop = ShopDomain::parse(shop_domain.trim()).map_err(|m| ApiError::bad_input("shopDomain", m))?;
    require_manager(db, scope, viewer).await?;
    let mut nonce = [0u8; 32];
    rand::rng().fill_bytes(&mut nonce);
    let state = URL_SAFE_NO_PAD.encode(nonce);
    let expires_at = Utc::now() + chrono::Duration::from_std(svc.state_ttl).unwrap_or(chrono::Duration::minutes(10));
    // Old, never-used nonces are of no use to anyone.
    oauth_state::Entity::delete_many().filter(oauth_state::Column::ExpiresAt.lt(Utc::now())).exec(db).await?;
    oauth_state::Entity::insert(oauth_state::ActiveModel {
        nonce: Set(state.clone()),
        account_id: Set(scope.account_id()),
        user_id: Set(viewer.sub),
        shop_domain: Set(shop.as_str().to_owned()),
        expires_at: Set(expires_at),
        used_at: Set(None),
    })
    .exec_without_returning(db)
    .await?;
    let app = &svc.shopify.app;
    let authorization_url =
        oauth::authorize_url(app, &shop, &state).map_err(|e| ApiError::internal(anyhow::anyhow!(e)))?;
    Ok(OAuthStart {
        authorization_url,
        state,
        expires_at,
        scopes: app.scopes.clone(),
        redirect_uri: app.redirect_uri.clone(),
        client_id: app.api_key.clone(),
    })
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// Finishes an install from the callback's query parameters: checks the
/// `hmac` (constant time), the timestamp's freshness, the shop and the
/// single-use `state`, exchanges the code for an offline token and links
/// the shop. `viewer`, when the client relays the query, must belong to the
/// account that started the install.
pub async fn complete(
    db: &DatabaseConnection,
    svc: Option<&ShopifyService>,
    params: &[(String, String)],
    viewer: Option<&AccessClaims>,
) -> ApiResult<store::Model> {
    let svc = configured(svc)?;
    let app = &svc.shopify.app;
    if !signature::verify_query(app.api_secret.expose_secret().as_bytes(), params) {
        return Err(ApiError::bad_input("hmac", "the callback's signature is missing or wrong"));
    }
    let timestamp: i64 = param(params, "timestamp")
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| ApiError::bad_input("timestamp", "is missing"))?;
    let age = (Utc::now().timestamp() - timestamp).unsigned_abs();
    if age > svc.timestamp_tolerance.as_secs() {
        return Err(ApiError::bad_input("timestamp", "the callback is stale; start the install again"));
    }
    let shop =
        ShopDomain::parse(param(params, "shop").unwrap_or_default()).map_err(|m| ApiError::bad_input("shop", m))?;
    let code =
        param(params, "code").filter(|c| !c.is_empty()).ok_or_else(|| ApiError::bad_input("code", "is missing"))?;
    let state = param(params, "state").unwrap_or_default();
    // Consume the nonce: only an unused, unexpired one for this very shop.
    let now = Utc::now();
    let consumed = oauth_state::Entity::update_many()
        .col_expr(oauth_state::Column::UsedAt, Expr::value(now))
        .filter(oauth_state::Column::Nonce.eq(state))
        .filter(oauth_state::Column::UsedAt.is_null())
        .filter(oauth_state::Column::ExpiresAt.gt(now))
        .filter(oauth_state::Column::ShopDomain.eq(shop.as_str()))
        .exec(db)
        .await?
        .rows_affected
        == 1;
    if !consumed {
        return Err(ApiError::bad_input("state", "unknown, used, expired, or issued for another shop"));
    }
    let started =
        oauth_state::Entity::find_by_id(state.to_owned()).one(db).await?.ok_or(ApiError::NotFound("state"))?;
    if let Some(viewer) = viewer
        && (viewer.acc != started.account_id || viewer.sub != started.user_id)
    {
        return Err(ApiError::Forbidden("this install was started by someone else"));
    }
    let grant = oauth::exchange_code(app, &svc.shopify.http, &shop, code).await.map_err(|e| {
        tracing::warn!(%shop, error = %e, "shopify code exchange failed");
        if e.is_transient() { ApiError::internal(e) } else { ApiError::bad_input("code", "Shopify refused the code") }
    })?;
    let sealed = svc.shopify.credentials.seal(&shop, &grant).map_err(ApiError::internal)?;
    let scope = AccountScope::new(started.account_id);
    let tx = db.begin().await?;
    if let Some((owner, existing)) = AccountScope::of_shop(&tx, shop.as_str()).await? {
        if owner != scope && existing.status != status::REVOKED {
            return Err(ApiError::Conflict(format!("{shop} is linked to another account")));
        }
        if owner != scope {
            // Uninstalled there: the shop moves to this account; the old store keeps its history.
            owner
                .delete_many::<shopify_credential::Entity>()
                .filter(shopify_credential::Column::StoreId.eq(existing.store_id))
                .exec(&tx)
                .await?;
        }
    }
    let existing_store = scope
        .find::<store::Entity>()
        .filter(store::Column::Kind.eq(StoreKind::Shopify))
        .filter(store::Column::ShopDomain.eq(shop.as_str()))
        .order_by_desc(store::Column::CreatedAt)
        .one(&tx)
        .await?;
    let linked = match existing_store {
        Some(found) => {
            let mut active = found.into_active_model();
            active.disconnected_at = Set(None);
            active.update(&tx).await?
        }
        None => {
            store::Entity::insert(store::ActiveModel {
                id: Set(Uuid::now_v7()),
                account_id: Set(scope.account_id()),
                kind: Set(StoreKind::Shopify),
                name: Set(shop.as_str().trim_end_matches(".myshopify.com").to_owned()),
                shop_domain: Set(Some(shop.as_str().to_owned())),
                demo_seed: Set(None),
                created_at: Set(now),
                disconnected_at: Set(None),
            })
            .exec_with_returning(&tx)
            .await?
        }
    };
    scope
        .delete_many::<shopify_credential::Entity>()
        .filter(shopify_credential::Column::StoreId.eq(linked.id))
        .exec(&tx)
        .await?;
    shopify_credential::Entity::insert(shopify_credential::ActiveModel {
        store_id: Set(linked.id),
        account_id: Set(scope.account_id()),
        shop_domain: Set(shop.as_str().to_owned()),
        access_token: Set(sealed.access_token),
        refresh_token: Set(sealed.refresh_token),
        access_expires_at: Set(sealed.access_expires_at),
        refresh_expires_at: Set(sealed.refresh_expires_at),
        scopes: Set(sealed.scopes.clone()),
        status: Set(status::ACTIVE.to_owned()),
        linked_at: Set(now),
        updated_at: Set(now),
    })
    .exec_without_returning(&tx)
    .await?;
    cache::invalidate(&tx, scope, linked.id, &[]).await?;
    audit(
        &tx,
        scope.account_id(),
        Actor::User(started.user_id),
        "STORE_LINKED",
        None,
        Some(linked.id),
        json!({ "shop": shop.as_str(), "scopes": sealed.scopes }),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(%shop, store_id = %linked.id, "shopify store linked");
    Ok(linked)
}

/// The store's credential, if it is a Shopify store.
pub async fn credential(db: &DatabaseConnection, store: &store::Model) -> ApiResult<Option<shopify_credential::Model>> {
    Ok(AccountScope::new(store.account_id)
        .find::<shopify_credential::Entity>()
        .filter(shopify_credential::Column::StoreId.eq(store.id))
        .one(db)
        .await?)
}

/// Unlinks a store: its token is deleted, its cache dropped; its analyses stay.
pub async fn disconnect(
    db: &DatabaseConnection,
    scope: AccountScope,
    viewer: &AccessClaims,
    store_id: Uuid,
) -> ApiResult<store::Model> {
    require_manager(db, scope, viewer).await?;
    let found = scope
        .find::<store::Entity>()
        .filter(store::Column::Id.eq(store_id))
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("store"))?;
    let tx = db.begin().await?;
    scope
        .delete_many::<shopify_credential::Entity>()
        .filter(shopify_credential::Column::StoreId.eq(found.id))
        .exec(&tx)
        .await?;
    cache::invalidate(&tx, scope, found.id, &[]).await?;
    let mut active = found.into_active_model();
    active.disconnected_at = Set(Some(Utc::now()));
    let updated = active.update(&tx).await?;
    audit(
        &tx,
        scope.account_id(),
        Actor::User(viewer.sub),
        "STORE_DISCONNECTED",
        None,
        Some(updated.id),
        json!({ "shop": updated.shop_domain }),
    )
    .await?;
    tx.commit().await?;
    Ok(updated)
}

/// "Log in with Shopify": a verified session token acts as the owner of the
/// account the shop is linked to.
pub async fn session_viewer(
    db: &DatabaseConnection,
    svc: &ShopifyService,
    token: &str,
    issuer: &str,
    audience: &str,
) -> ApiResult<AccessClaims> {
    let shop = svc.sessions.verify(token)?;
    let Some((scope, credential)) = AccountScope::of_shop(db, shop.as_str()).await? else {
        return Err(ApiError::Unauthenticated);
    };
    if credential.status == status::REVOKED {
        return Err(ApiError::Unauthenticated);
    }
    let owner = scope
        .find::<user::Entity>()
        .filter(user::Column::Role.eq(Role::Owner))
        .order_by_asc(user::Column::CreatedAt)
        .one(db)
        .await?
        .ok_or(ApiError::Unauthenticated)?;
    let account = account::Entity::find_by_id(scope.account_id()).one(db).await?.ok_or(ApiError::Unauthenticated)?;
    let now = Utc::now().timestamp();
    Ok(AccessClaims {
        sub: owner.id,
        acc: scope.account_id(),
        role: owner.role,
        tier: account.tier,
        iss: issuer.to_owned(),
        aud: audience.to_owned(),
        iat: now,
        exp: now + 60,
        jti: Uuid::new_v4(),
    })
}
