//! `user_preferences`: per-user settings, among them the LLM model choice.

use sea_orm::entity::prelude::*;

/// A user's preferences; one row per user.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "user_preferences")]
pub struct Model {
    /// The user these belong to.
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: Uuid,
    /// Owning account (tenant).
    pub account_id: Uuid,
    /// Preferred LLM model id (OpenRouter naming); `None` = server default.
    pub llm_model: Option<String>,
    /// BCP 47 language tag for narratives.
    pub locale: String,
    /// IANA time zone used for date ranges in analyses.
    pub timezone: String,
    /// ISO 4217 currency for reported figures.
    pub currency: String,
    /// Whether to email the user when an analysis finishes.
    pub email_notifications: bool,
    /// Last change.
    pub updated_at: ChronoDateTimeUtc,
}

/// Relations are expressed by foreign keys in the migration.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
