//! `oauth_states`: single-use `state` nonces of Shopify installs in flight.

use sea_orm::entity::prelude::*;

/// One install attempt, started by a user of an account.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "oauth_states")]
pub struct Model {
    /// The nonce sent as `state` (random, URL-safe).
    #[sea_orm(primary_key, auto_increment = false)]
    pub nonce: String,
    /// The account the shop will be linked to.
    pub account_id: Uuid,
    /// Who started it.
    pub user_id: Uuid,
    /// The shop it was started for; the callback must name the same one.
    pub shop_domain: String,
    /// After this, the nonce is refused.
    pub expires_at: ChronoDateTimeUtc,
    /// Set when consumed; a second use is refused.
    pub used_at: Option<ChronoDateTimeUtc>,
}

/// Relations are expressed by foreign keys in the migration.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
