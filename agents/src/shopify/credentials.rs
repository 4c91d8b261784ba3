//! Sealed Shopify credentials: open them for a call, refresh expiring
//! offline tokens before they expire, re-seal under the active key after a
//! rotation, and mark them when Shopify says no.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseConnection, QueryFilter, UpdateMany};
use secrecy::SecretString;

use alatar_entity::{AccountScope, shopify_credential, store};

use super::cipher::{CipherError, TokenCipher};
use super::oauth::{self, TokenGrant};
use super::{ShopDomain, ShopifyApp};
use crate::store::StoreError;

/// Credential states, as stored.
pub mod status {
    /// Usable.
    pub const ACTIVE: &str = "ACTIVE";
    /// Expired and the refresh was refused: the merchant must reinstall.
    pub const REFRESH_FAILED: &str = "REFRESH_FAILED";
    /// The app was uninstalled (or the store disconnected); the token is gone.
    pub const REVOKED: &str = "REVOKED";
}

/// Refresh this long before the access token expires.
const REFRESH_MARGIN: Duration = Duration::minutes(5);

/// An opened token, for one call.
pub struct Token {
    /// The shop.
    pub shop: ShopDomain,
    /// The plain access token; never logged.
    pub access_token: SecretString,
    /// Granted scopes.
    pub scopes: Vec<String>,
}

/// A grant sealed for storage.
pub struct SealedGrant {
    /// Sealed access token.
    pub access_token: String,
    /// Sealed refresh token.
    pub refresh_token: Option<String>,
    /// Access token expiry.
    pub access_expires_at: Option<DateTime<Utc>>,
    /// Refresh token expiry.
    pub refresh_expires_at: Option<DateTime<Utc>>,
    /// Granted scopes.
    pub scopes: String,
}

/// Access to the sealed credentials.
#[derive(Clone)]
pub struct Credentials {
    db: DatabaseConnection,
    cipher: Arc<TokenCipher>,
    app: Arc<ShopifyApp>,
    http: reqwest::Client,
    // Refresh tokens rotate on use: two concurrent refreshes of one shop
    // would invalidate each other. The lock serialises them in a process;
    // across instances, updates are compare-and-set on the sealed token.
    refresh_lock: Arc<tokio::sync::Mutex<()>>,
}

/// Scopes as Shopify writes them (`read_orders,write_discounts`).
pub fn split_scopes(scopes: &str) -> Vec<String> {
    scopes.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

impl Credentials {
    /// Credentials over `db`, sealed with `cipher`.
    pub fn new(db: DatabaseConnection, cipher: Arc<TokenCipher>, app: Arc<ShopifyApp>, http: reqwest::Client) -> Self {
        Self { db, cipher, app, http, refresh_lock: Arc::default() }
    }

    /// Seals a fresh grant for `shop`.
    pub fn seal(&self, shop: &ShopDomain, grant: &TokenGrant) -> Result<SealedGrant, CipherError> {
        use secrecy::ExposeSecret;
        Ok(SealedGrant {
            access_token: self.cipher.seal(grant.access_token.expose_secret(), shop.as_str())?,
            refresh_token: grant
                .refresh_token
                .as_ref()
                .map(|t| self.cipher.seal(t.expose_secret(), shop.as_str()))
                .transpose()?,
            access_expires_at: grant.expires_at,
            refresh_expires_at: grant.refresh_expires_at,
            scopes: grant.scope.clone(),
        })
    }

    /// The store's token, refreshed first when it is about to expire.
    pub async fn token(&self, store: &store::Model) -> Result<Token, StoreError> {
        let mut row = self.load(store).await?;
        let shop = ShopDomain::parse(&row.shop_domain).map_err(StoreError::Denied)?;
        if row.status == status::REVOKED {
            return Err(StoreError::Denied(format!("the app was uninstalled from {shop}; install it again")));
        }
        if refresh_due(&row, Utc::now()) {
            row = self.refresh(store, &shop).await?;
        }
        let access_token = self.open(&row.access_token, &shop)?;
        if self.cipher.needs_reseal(&row.access_token) {
            self.reseal(row.clone(), &shop, &access_token).await;
        }
        Ok(Token { shop, access_token, scopes: split_scopes(&row.scopes) })
    }

    async fn load(&self, store: &store::Model) -> Result<shopify_credential::Model, StoreError> {
        AccountScope::new(store.account_id)
            .find::<shopify_credential::Entity>()
            .filter(shopify_credential::Column::StoreId.eq(store.id))
            .one(&self.db)
            .await
            .map_err(|e| StoreError::Unavailable(format!("credential store: {e}")))?
            .ok_or_else(|| StoreError::Denied(format!("store {} has no Shopify credential; install the app", store.id)))
    }

    fn open(&self, sealed: &str, shop: &ShopDomain) -> Result<SecretString, StoreError> {
        self.cipher.open(sealed, shop.as_str()).map_err(|e| {
            tracing::error!(%shop, error = %e, "a stored Shopify token cannot be opened");
            StoreError::Denied(format!("the stored token of {shop} cannot be opened: {e}"))
        })
    }

    /// After a key rotation: seal again under the active key (best effort).
    async fn reseal(&self, row: shopify_credential::Model, shop: &ShopDomain, access_token: &SecretString) {
        use secrecy::ExposeSecret;
        let refresh = row.refresh_token.as_deref().map(|t| self.open(t, shop));
        let resealed = (|| -> Result<_, CipherError> {
            let access = self.cipher.seal(access_token.expose_secret(), shop.as_str())?;
            let refresh = match refresh {
                Some(Ok(t)) => Some(self.cipher.seal(t.expose_secret(), shop.as_str())?),
                Some(Err(_)) => return Err(CipherError::Tampered),
                None => None,
            };
            Ok((access, refresh))
        })();
        let Ok((access, refresh)) = resealed else { return };
        let changed = self
            .swap(&row, |u| {
                u.col_expr(shopify_credential::Column::AccessToken, Expr::value(access))
                    .col_expr(shopify_credential::Column::RefreshToken, Expr::value(refresh))
            })
            .await;
        if let Err(e) = changed {
            tracing::warn!(%shop, error = %e, "re-sealing a token under the active key failed; will retry");
        }
    }

    async fn refresh(&self, store: &store::Model, shop: &ShopDomain) -> Result<shopify_credential::Model, StoreError> {
        let _one_at_a_time = self.refresh_lock.lock().await;
        // Someone may have refreshed while we waited.
        let row = self.load(store).await?;
        let now = Utc::now();
        if !refresh_due(&row, now) {
            return Ok(row);
        }
        let still_valid = row.access_expires_at.is_none_or(|at| at > now);
        let usable_refresh = row.refresh_token.clone().filter(|_| row.refresh_expires_at.is_none_or(|at| at > now));
        let Some(sealed_refresh) = usable_refresh else {
            if still_valid {
                return Ok(row);
            }
            self.mark(row, status::REFRESH_FAILED).await;
            return Err(StoreError::Denied(format!("the token of {shop} expired and cannot be refreshed; reinstall")));
        };
        let refresh_token = self.open(&sealed_refresh, shop)?;
        match oauth::refresh(&self.app, &self.http, shop, &refresh_token).await {
            Ok(grant) => {
                let sealed = self.seal(shop, &grant).map_err(|e| StoreError::Unavailable(e.to_string()))?;
                let swapped = self
                    .swap(&row, |mut u| {
                        u = u
                            .col_expr(shopify_credential::Column::AccessToken, Expr::value(sealed.access_token))
                            .col_expr(
                                shopify_credential::Column::AccessExpiresAt,
                                Expr::value(sealed.access_expires_at),
                            )
                            .col_expr(shopify_credential::Column::Status, Expr::value(status::ACTIVE));
                        // Shopify may keep the refresh token; keep ours then.
                        if let Some(refresh) = sealed.refresh_token {
                            u = u
                                .col_expr(shopify_credential::Column::RefreshToken, Expr::value(Some(refresh)))
                                .col_expr(
                                    shopify_credential::Column::RefreshExpiresAt,
                                    Expr::value(sealed.refresh_expires_at),
                                );
                        }
                        if !sealed.scopes.is_empty() {
                            u = u.col_expr(shopify_credential::Column::Scopes, Expr::value(sealed.scopes));
                        }
                        u
                    })
                    .await
                    .map_err(|e| StoreError::Unavailable(e.to_string()))?;
                if !swapped {
                    // Another instance refreshed or the shop was reinstalled meanwhile.
                    return self.load(store).await;
                }
                tracing::info!(%shop, "shopify access token refreshed");
                self.load(store).await
            }
            // Shopify is down: the old token still works for a while.
            Err(e) if e.is_transient() && still_valid => {
                tracing::warn!(%shop, error = %e, "token refresh failed; using the current token");
                Ok(row)
            }
            Err(e) => {
                // Refused because another instance already used our refresh
                // token? Then the row holds its new token: use that.
                let current = self.load(store).await?;
                if current.access_token != row.access_token && current.status == status::ACTIVE {
                    return Ok(current);
                }
                if !e.is_transient() {
                    self.mark(row, status::REFRESH_FAILED).await;
                }
                Err(e)
            }
        }
    }

    async fn mark(&self, row: shopify_credential::Model, to: &str) {
        if let Err(e) = self.swap(&row, |u| u.col_expr(shopify_credential::Column::Status, Expr::value(to))).await {
            tracing::warn!(shop = %row.shop_domain, error = %e, "could not record the credential's state");
        }
    }

    /// Updates the credential only if it still holds the token `row` was
    /// read with: several instances share it, and a stale row must never
    /// overwrite a token refreshed or reinstalled meanwhile.
    async fn swap(
        &self,
        row: &shopify_credential::Model,
        changes: impl FnOnce(UpdateMany<shopify_credential::Entity>) -> UpdateMany<shopify_credential::Entity>,
    ) -> Result<bool, sea_orm::DbErr> {
        let update = AccountScope::new(row.account_id)
            .update_many::<shopify_credential::Entity>()
            .col_expr(shopify_credential::Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(shopify_credential::Column::StoreId.eq(row.store_id))
            .filter(shopify_credential::Column::AccessToken.eq(row.access_token.as_str()));
        Ok(changes(update).exec(&self.db).await?.rows_affected == 1)
    }
}

fn refresh_due(row: &shopify_credential::Model, now: DateTime<Utc>) -> bool {
    row.access_expires_at.is_some_and(|at| at - REFRESH_MARGIN <= now)
}
