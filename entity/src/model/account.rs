//! `accounts`: the tenant. Every other customer row points here.

use sea_orm::entity::prelude::*;

use crate::Tier;

/// An account (tenant): a merchant's team.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "accounts")]
pub struct Model {
    /// Primary key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Display name, defaults to the owner's email domain.
    pub name: String,
    /// Plan, which sets rate limits.
    pub tier: Tier,
    /// Creation time.
    pub created_at: ChronoDateTimeUtc,
}

/// Relations are expressed by foreign keys in the migration.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
