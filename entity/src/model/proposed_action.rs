//! `proposed_actions`: store changes an agent proposed; a person decides.

use sea_orm::entity::prelude::*;

use crate::ActionStatus;

/// A proposal. No code path executes one without a recorded approval.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "proposed_actions")]
pub struct Model {
    /// Primary key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Owning account (tenant).
    pub account_id: Uuid,
    /// The request whose analysis proposed it.
    pub request_id: Uuid,
    /// `CREATE_DISCOUNT`, `UPDATE_PRODUCT`, ….
    pub kind: String,
    /// Validated parameters.
    pub parameters: Json,
    /// What will change and what it is expected to do, for the approver.
    pub preview: Json,
    /// Shopify scopes the execution needs.
    pub required_scopes: Json,
    /// Lifecycle state.
    pub status: ActionStatus,
    /// Creation time.
    pub created_at: ChronoDateTimeUtc,
    /// Undecided proposals expire.
    pub expires_at: ChronoDateTimeUtc,
    /// Last status change.
    pub updated_at: Option<ChronoDateTimeUtc>,
    /// Who approved or rejected it.
    pub decided_by: Option<Uuid>,
    /// When.
    pub decided_at: Option<ChronoDateTimeUtc>,
    /// The rejection's reason.
    pub decision_reason: Option<String>,
    /// Shopify's answer to the execution (and to the revert).
    pub outcome: Option<Json>,
    /// The change that undoes it, captured before and at execution.
    pub inverse: Option<Json>,
    /// When it ran.
    pub executed_at: Option<ChronoDateTimeUtc>,
    /// Why execution (or the revert) failed.
    pub failure_reason: Option<String>,
    /// Set while a revert runs (a claim, so two reverts cannot both run).
    pub reverting_at: Option<ChronoDateTimeUtc>,
}

/// Relations are expressed by foreign keys in the migration.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
