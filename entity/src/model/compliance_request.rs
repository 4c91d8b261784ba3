//! `compliance_requests`: Shopify's mandatory privacy webhooks as received,
//! with the data export for `customers/data_request` and what a
//! `customers/redact` erased.

use sea_orm::entity::prelude::*;

/// One compliance request.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "compliance_requests")]
pub struct Model {
    /// Primary key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Owning account (tenant).
    pub account_id: Uuid,
    /// The store.
    pub store_id: Uuid,
    /// `customers/data_request`, `customers/redact`.
    pub topic: String,
    /// The customer's Shopify id.
    pub customer_id: Option<i64>,
    /// For a data request: everything Alatar holds about the customer; for
    /// a redaction: what was erased, in counts (it names nobody).
    pub export: Json,
    /// When it arrived.
    pub created_at: ChronoDateTimeUtc,
}

/// Relations are expressed by foreign keys in the migration.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
