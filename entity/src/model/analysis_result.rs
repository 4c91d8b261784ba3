//! `analysis_results`: the reviewed answer to a request (one per request).

use sea_orm::entity::prelude::*;

/// The answer: summary plus a structured body.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "analysis_results")]
pub struct Model {
    /// The request it answers (primary key: one result per request).
    #[sea_orm(primary_key, auto_increment = false)]
    pub request_id: Uuid,
    /// Owning account (tenant).
    pub account_id: Uuid,
    /// A few sentences.
    #[sea_orm(column_type = "Text")]
    pub summary: String,
    /// Sections, key figures, visualizations and recommendations.
    pub body: Json,
    /// When it was written.
    pub created_at: ChronoDateTimeUtc,
}

/// Relations are expressed by foreign keys in the migration.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
