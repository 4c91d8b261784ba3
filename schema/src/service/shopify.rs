//! Linking Shopify stores: the install flow (`state` nonces bound to the
//! browser that asked for them, the callback's checks, the code exchange),
//! disconnecting (revoking the grant at Shopify too), and "log in with
//! Shopify" (an App Bridge session token acting as its Shopify user's
//! member of the shop's account).

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use rand::RngCore;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder,
};
use secrecy::ExposeSecret;
use serde_json::json;
use uuid::Uuid;

use alatar_agents::actions::{Actor, audit};
use alatar_agents::shopify::credentials::status;
use alatar_agents::shopify::{ShopDomain, Shopify, cache, oauth, signature};
use alatar_agents::write::begin_write;
use alatar_entity::{AccountScope, Role, StoreKind, account, oauth_state, shopify_credential, store, user};

use crate::auth::password::{self, Password};
use crate::auth::session_token::Session;
use crate::auth::{AccessClaims, SessionTokens, secret};
use crate::error::{ApiError, ApiResult};
use crate::service::{accounts, preferences};

/// The cookie binding an install to the browser that started it. It holds
/// the app's signature of the `state`, not the state itself.
pub const STATE_COOKIE: &str = "alatar_shopify_state";
/// Only the callback (`/shopify/callback`) ever sees the cookie.
const STATE_COOKIE_PATH: &str = "/shopify";
/// What the cookie's signature is for (a key of its own, see `sign_own`).
const STATE_COOKIE_PURPOSE: &str = "oauth-state-cookie";
/// How long revoking the grant at Shopify may hold up a disconnect.
const REVOKE_TIMEOUT: Duration = Duration::from_secs(10);
/// The role of a Shopify user nobody has given one yet: asks questions and
/// reads results (the embedded app's purpose), but approves no store change
/// and manages nothing, until an owner or admin says otherwise.
const SHOPIFY_MEMBER_ROLE: Role = Role::Analyst;

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
    /// The data directory, where uploaded datasets' files live: `shop/redact`
    /// removes them once its erasure committed (the rows say which).
    pub data_dir: std::path::PathBuf,
    /// The market stages, whose latest indicators (Redis, or this process)
    /// `shop/redact` erases once its erasure committed; set once the
    /// pipeline is built.
    pub market: Option<std::sync::Arc<alatar_agents::market::Market>>,
}

impl ShopifyService {
    fn secret(&self) -> &[u8] {
        self.shopify.app.api_secret.expose_secret().as_bytes()
    }

    /// `Set-Cookie` binding `state` to the browser that receives it: signed,
    /// `HttpOnly`, `SameSite=Lax` (sent on Shopify's top-level redirect to
    /// the callback, not on cross-site subrequests), `Secure` when the
    /// callback is served over https, living as long as the state.
    fn state_cookie(&self, state: &str, max_age_secs: i64) -> String {
        let signature = signature::sign_own(self.secret(), STATE_COOKIE_PURPOSE, state.as_bytes());
        self.cookie_header(&signature, max_age_secs.max(1))
    }

    /// `Set-Cookie` removing the state cookie once its install is done.
    pub fn cleared_state_cookie(&self) -> String {
        self.cookie_header("", 0)
    }

    fn cookie_header(&self, value: &str, max_age_secs: i64) -> String {
        let secure = if self.shopify.app.redirect_uri.starts_with("https://") { "; Secure" } else { "" };
        format!(
            "{STATE_COOKIE}={value}; Max-Age={max_age_secs}; Path={STATE_COOKIE_PATH}; HttpOnly; SameSite=Lax{secure}"
        )
    }

    /// Whether the browser's state cookie was issued for `state` (constant time).
    fn cookie_matches(&self, cookie: Option<&str>, state: &str) -> bool {
        cookie.is_some_and(|c| signature::verify_own(self.secret(), STATE_COOKIE_PURPOSE, state.as_bytes(), c))
    }
}

/// Who finishes an install, and so what binds the callback to its start.
#[derive(Clone, Copy)]
pub enum Completion<'a> {
    /// The browser Shopify redirected to `/shopify/callback`, with the value
    /// of its state cookie (`None`: it has none). Only the browser that
    /// received the cookie from `startShopifyOAuth` may finish.
    Browser(Option<&'a str>),
    /// A client relaying the callback's query (`completeShopifyOAuth`): it
    /// holds no cookie, so the authenticated user must be the one who
    /// started the install.
    Relayed(&'a AccessClaims),
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
    /// `Set-Cookie` for the browser that will land on the callback.
    pub cookie: String,
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

/// Begins an install: a single-use `state` bound to the account, the user
/// and the shop, and a cookie that binds it to the caller's browser.
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
    let cookie = svc.state_cookie(&state, (expires_at - Utc::now()).num_seconds());
    Ok(OAuthStart {
        authorization_url,
        state,
        expires_at,
        scopes: app.scopes.clone(),
        redirect_uri: app.redirect_uri.clone(),
        client_id: app.api_key.clone(),
        cookie,
    })
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// Finishes an install from the callback's query parameters: checks the
/// `hmac` (constant time), the timestamp's freshness, the shop and the
/// single-use `state`, then who finishes (`Completion`: the browser holding
/// the state's cookie, or the user who started it relaying the query;
/// anyone else is `FORBIDDEN` and the state stays unused), exchanges the
/// code for an offline token and links the shop.
pub async fn complete(
    db: &DatabaseConnection,
    svc: Option<&ShopifyService>,
    params: &[(String, String)],
    by: Completion<'_>,
) -> ApiResult<store::Model> {
    let svc = configured(svc)?;
    let app = &svc.shopify.app;
    let claimed_shop = param(params, "shop");
    if !signature::verify_query(app.api_secret.expose_secret().as_bytes(), params) {
        refused_callback("bad hmac", claimed_shop, None, by);
        return Err(ApiError::bad_input("hmac", "the callback's signature is missing or wrong"));
    }
    let timestamp: i64 = param(params, "timestamp")
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| ApiError::bad_input("timestamp", "is missing"))?;
    let age = (Utc::now().timestamp() - timestamp).unsigned_abs();
    if age > svc.timestamp_tolerance.as_secs() {
        refused_callback("stale timestamp", claimed_shop, None, by);
        return Err(ApiError::bad_input("timestamp", "the callback is stale; start the install again"));
    }
    let shop =
        ShopDomain::parse(param(params, "shop").unwrap_or_default()).map_err(|m| ApiError::bad_input("shop", m))?;
    let code =
        param(params, "code").filter(|c| !c.is_empty()).ok_or_else(|| ApiError::bad_input("code", "is missing"))?;
    let state = param(params, "state").unwrap_or_default();
    let now = Utc::now();
    let Some(started) = oauth_state::Entity::find_by_id(state.to_owned())
        .filter(oauth_state::Column::UsedAt.is_null())
        .filter(oauth_state::Column::ExpiresAt.gt(now))
        .filter(oauth_state::Column::ShopDomain.eq(shop.as_str()))
        .one(db)
        .await?
    else {
        refused_callback("unknown, used or expired state", claimed_shop, None, by);
        return Err(ApiError::bad_input("state", "unknown, used, expired, or issued for another shop"));
    };
    // Checked before the nonce is spent: a browser that merely carries the
    // redirect (someone else's install link), or another user relaying it,
    // neither links nor burns it; only the installer's completion does.
    match by {
        Completion::Browser(cookie) if !svc.cookie_matches(cookie, state) => {
            refused_callback("another browser", claimed_shop, Some(&started), by);
            return Err(ApiError::Forbidden(
                "this install was started in another browser; start it again from Alatar in this one",
            ));
        }
        Completion::Relayed(viewer) if viewer.acc != started.account_id || viewer.sub != started.user_id => {
            refused_callback("relayed by another user", claimed_shop, Some(&started), by);
            return Err(ApiError::Forbidden("this install was started by someone else"));
        }
        Completion::Browser(_) | Completion::Relayed(_) => {}
    }
    // Consume the nonce: only an unused, unexpired one for this very shop.
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
        refused_callback("state used meanwhile", claimed_shop, Some(&started), by);
        return Err(ApiError::bad_input("state", "unknown, used, expired, or issued for another shop"));
    }
    let grant = oauth::exchange_code(app, &svc.shopify.http, &shop, code).await.map_err(|e| {
        tracing::warn!(%shop, error = %e, "shopify code exchange failed");
        if e.is_transient() { ApiError::internal(e) } else { ApiError::bad_input("code", "Shopify refused the code") }
    })?;
    let sealed = svc.shopify.credentials.seal(&shop, &grant).map_err(ApiError::internal)?;
    let scope = AccountScope::new(started.account_id);
    let tx = begin_write(db).await?;
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
        .one(&scope.on(&tx))
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
        .exec(&scope.on(&tx))
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

/// Logs a refused OAuth callback as a security event (in the request's
/// span, which carries the request id), naming the install's account and
/// user once its state is known, and who relayed it.
fn refused_callback(
    reason: &'static str,
    shop: Option<&str>,
    started: Option<&oauth_state::Model>,
    by: Completion<'_>,
) {
    let (account_id, user_id) = started.map(|s| (s.account_id.to_string(), s.user_id.to_string())).unzip();
    let (relayed_by_account, relayed_by_user) = match by {
        Completion::Relayed(viewer) => (Some(viewer.acc.to_string()), Some(viewer.sub.to_string())),
        Completion::Browser(_) => (None, None),
    };
    tracing::warn!(
        reason,
        claimed_shop = shop,
        account_id,
        user_id,
        relayed_by_account,
        relayed_by_user,
        "shopify oauth callback refused"
    );
}

/// The store's credential, if it is a Shopify store.
pub async fn credential(db: &DatabaseConnection, store: &store::Model) -> ApiResult<Option<shopify_credential::Model>> {
    Ok(AccountScope::new(store.account_id)
        .find::<shopify_credential::Entity>()
        .filter(shopify_credential::Column::StoreId.eq(store.id))
        .one(db)
        .await?)
}

/// Unlinks a store: the app is uninstalled from the shop (`appUninstall`,
/// which revokes the grant at Shopify), its token is deleted, its cache
/// dropped; its analyses stay. A revocation that fails (Shopify down, the
/// token already dead) is logged and recorded in the audit entry, and the
/// store is unlinked all the same.
pub async fn disconnect(
    db: &DatabaseConnection,
    svc: Option<&ShopifyService>,
    scope: AccountScope,
    viewer: &AccessClaims,
    store_id: Uuid,
) -> ApiResult<store::Model> {
    require_manager(db, scope, viewer).await?;
    let found = scope
        .find::<store::Entity>()
        .filter(store::Column::Id.eq(store_id))
        .one(&scope.on(db))
        .await?
        .ok_or(ApiError::NotFound("store"))?;
    let revocation = match svc {
        Some(svc) if found.kind == StoreKind::Shopify => revoke(db, svc, &found).await,
        _ => Revocation::NotApplicable,
    };
    let tx = begin_write(db).await?;
    scope
        .delete_many::<shopify_credential::Entity>()
        .filter(shopify_credential::Column::StoreId.eq(found.id))
        .exec(&scope.on(&tx))
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
        json!({ "shop": updated.shop_domain, "revokedAtShopify": revocation.detail() }),
    )
    .await?;
    tx.commit().await?;
    Ok(updated)
}

/// What came of asking Shopify to revoke a store's grant.
enum Revocation {
    /// `appUninstall` succeeded.
    Revoked,
    /// Nothing to revoke: a demo store, no credential, or already revoked.
    NotApplicable,
    /// It failed, for this reason (the store is unlinked anyway).
    Failed(String),
}

impl Revocation {
    fn detail(&self) -> serde_json::Value {
        match self {
            Revocation::Revoked => json!(true),
            Revocation::NotApplicable => serde_json::Value::Null,
            Revocation::Failed(why) => json!({ "failed": why }),
        }
    }
}

/// Uninstalls the app from the store's shop, within `REVOKE_TIMEOUT`.
async fn revoke(db: &DatabaseConnection, svc: &ShopifyService, found: &store::Model) -> Revocation {
    match credential(db, found).await {
        Ok(Some(c)) if c.status != status::REVOKED => {}
        Ok(_) => return Revocation::NotApplicable,
        Err(e) => return Revocation::Failed(e.to_string()),
    }
    let uninstall = async {
        let token = svc.shopify.credentials.token(found).await?;
        oauth::uninstall(&svc.shopify.admin(token.shop, token.access_token)).await
    };
    let outcome = match tokio::time::timeout(REVOKE_TIMEOUT, uninstall).await {
        Ok(Ok(())) => return Revocation::Revoked,
        Ok(Err(e)) => e.to_string(),
        Err(_) => format!("no answer within {} s", REVOKE_TIMEOUT.as_secs()),
    };
    tracing::warn!(
        store_id = %found.id, shop = ?found.shop_domain, error = %outcome,
        "revoking the grant at Shopify failed; unlinking the store anyway"
    );
    Revocation::Failed(outcome)
}

/// "Log in with Shopify": a verified session token acts as its Shopify user
/// (`sub`) in the account the shop is linked to: the member linked to that
/// user, or, the first time, a new member with the role `ANALYST`,
/// whom an owner or admin can give another role.
pub async fn session_viewer(
    db: &DatabaseConnection,
    svc: &ShopifyService,
    token: &str,
    issuer: &str,
    audience: &str,
) -> ApiResult<AccessClaims> {
    let session = svc.sessions.verify(token)?;
    let Some((scope, credential)) = AccountScope::of_shop(db, session.shop.as_str()).await? else {
        return Err(ApiError::Unauthenticated);
    };
    if credential.status == status::REVOKED {
        return Err(ApiError::Unauthenticated);
    }
    let member = match shopify_member(db, scope, &session.user).await? {
        Some(found) => found,
        None => join_as_shopify_user(db, scope, credential.store_id, &session).await?,
    };
    let account = account::Entity::find_by_id(scope.account_id()).one(db).await?.ok_or(ApiError::Unauthenticated)?;
    let now = Utc::now().timestamp();
    Ok(AccessClaims {
        sub: member.id,
        acc: scope.account_id(),
        role: member.role,
        tier: account.tier,
        iss: issuer.to_owned(),
        aud: audience.to_owned(),
        iat: now,
        exp: now + 60,
        jti: Uuid::new_v4(),
    })
}

/// The account's member who is Shopify user `shopify_user`.
async fn shopify_member(
    db: &DatabaseConnection,
    scope: AccountScope,
    shopify_user: &str,
) -> ApiResult<Option<user::Model>> {
    Ok(scope.find::<user::Entity>().filter(user::Column::ShopifyUserId.eq(shopify_user)).one(&scope.on(db)).await?)
}

/// Adds the session's Shopify user to the account as an `ANALYST`. Users carry
/// an email (unique, required) and a password hash: the email is a
/// placeholder naming the Shopify user that can never receive mail
/// (`.invalid`, RFC 2606) and the password a random one nobody knows, so
/// the member can only ever arrive through a session token.
async fn join_as_shopify_user(
    db: &DatabaseConnection,
    scope: AccountScope,
    store_id: Uuid,
    session: &Session,
) -> ApiResult<user::Model> {
    let hash = password::hash(Password::parse(&secret::generate())?).await?;
    let now = Utc::now();
    let tx = begin_write(db).await?;
    let inserted = user::ActiveModel {
        id: Set(Uuid::now_v7()),
        account_id: Set(scope.account_id()),
        email: Set(format!("shopify-user-{}@{}.shopify.invalid", session.user, scope.account_id())),
        password_hash: Set(hash),
        role: Set(SHOPIFY_MEMBER_ROLE),
        created_at: Set(now),
        last_login_at: Set(Some(now)),
        shopify_user_id: Set(Some(session.user.clone())),
    }
    .insert(&tx)
    .await;
    let member = match inserted {
        Ok(member) => member,
        Err(e) => {
            // The same user's concurrent first request may have won the insert.
            drop(tx);
            return shopify_member(db, scope, &session.user).await?.ok_or_else(|| ApiError::from(e));
        }
    };
    preferences::create_defaults(&tx, &member).await?;
    audit(
        &tx,
        scope.account_id(),
        Actor::Shopify,
        "SHOPIFY_USER_JOINED",
        None,
        Some(store_id),
        json!({
            "userId": member.id,
            "shop": session.shop.as_str(),
            "shopifyUserId": session.user,
            "role": member.role.as_str(),
        }),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(shop = %session.shop, user_id = %member.id, "a shopify user joined its shop's account");
    Ok(member)
}
