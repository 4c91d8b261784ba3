//! `repository_analyses`: one `analyzeRepository` (seed 000 §9), run as a
//! `REPOSITORY_ANALYSIS` job, with what it found, the README it generated
//! and the licence it recommends (P45: stored and retrievable).

use sea_orm::entity::prelude::*;

/// A repository analysis.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "repository_analyses")]
pub struct Model {
    /// Primary key (UUIDv7).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Owning account (tenant).
    pub account_id: Uuid,
    /// The job that runs it.
    pub job_id: Uuid,
    /// The repository's URL as given.
    #[sea_orm(column_type = "Text")]
    pub url: String,
    /// The branch, tag or commit asked for; the default branch when none.
    pub reference: Option<String>,
    /// The licence goal the owner stated, if any (`PERMISSIVE`, …).
    pub goal: Option<String>,
    /// The commit analysed.
    pub commit_sha: Option<String>,
    /// What the analysis found (files, languages, tree, dependencies,
    /// licences), as JSON.
    pub report: Option<Json>,
    /// The generated README (Markdown).
    #[sea_orm(column_type = "Text", nullable)]
    pub readme: Option<String>,
    /// The licence recommendation with its reasoning, as JSON.
    pub licence: Option<Json>,
    /// Why it failed.
    #[sea_orm(column_type = "Text", nullable)]
    pub error: Option<String>,
    /// Who asked.
    pub created_by: Uuid,
    /// When it was asked for.
    pub created_at: ChronoDateTimeUtc,
    /// When it completed.
    pub completed_at: Option<ChronoDateTimeUtc>,
}

/// Relations are expressed by foreign keys in the migration.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl crate::TenantOwned for Entity {
    fn account_column() -> Self::Column {
        Column::AccountId
    }
}
