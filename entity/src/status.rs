//! Lifecycle states of the analysis pipeline, stored as short strings.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// Where an analysis request is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(24))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AnalysisStatus {
    /// Stored and published; no worker has picked it up yet.
    #[sea_orm(string_value = "QUEUED")]
    Queued,
    /// The orchestrator is classifying the intent and writing the plan.
    #[sea_orm(string_value = "PLANNING")]
    Planning,
    /// Departments are working on the plan's tasks.
    #[sea_orm(string_value = "RUNNING")]
    Running,
    /// The result is written and holds proposals waiting for a person.
    #[sea_orm(string_value = "AWAITING_APPROVAL")]
    AwaitingApproval,
    /// The result is written and nothing is waiting.
    #[sea_orm(string_value = "COMPLETED")]
    Completed,
    /// A task failed for good; `failure_reason` says why.
    #[sea_orm(string_value = "FAILED")]
    Failed,
    /// The requester cancelled it.
    #[sea_orm(string_value = "CANCELLED")]
    Cancelled,
}

impl AnalysisStatus {
    /// No further work happens and no further events follow.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Cancelled)
    }

    /// The analysis is over: terminal, or its result is written and only
    /// proposals wait for a person.
    pub fn is_settled(self) -> bool {
        self.is_terminal() || self == Self::AwaitingApproval
    }

    /// Stable text form, as stored and as sent in events.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "QUEUED",
            Self::Planning => "PLANNING",
            Self::Running => "RUNNING",
            Self::AwaitingApproval => "AWAITING_APPROVAL",
            Self::Completed => "COMPLETED",
            Self::Failed => "FAILED",
            Self::Cancelled => "CANCELLED",
        }
    }
}

/// Where one department's task is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TaskStatus {
    /// Waiting for the tasks it depends on.
    #[sea_orm(string_value = "PENDING")]
    Pending,
    /// Sent to its department's queue.
    #[sea_orm(string_value = "DISPATCHED")]
    Dispatched,
    /// Output committed.
    #[sea_orm(string_value = "COMPLETED")]
    Completed,
    /// Gave up after too many errors.
    #[sea_orm(string_value = "FAILED")]
    Failed,
    /// Its request was cancelled or failed before it ran.
    #[sea_orm(string_value = "CANCELLED")]
    Cancelled,
}

impl TaskStatus {
    /// Finished one way or another.
    pub fn is_finished(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Cancelled)
    }
}

/// Where a store's data comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StoreKind {
    /// The bundled, deterministic demo shop.
    #[sea_orm(string_value = "DEMO")]
    Demo,
    /// A real shop, through the Shopify Admin API.
    #[sea_orm(string_value = "SHOPIFY")]
    Shopify,
}

/// A proposed store change's state (approval arrives with the Shopify work).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ActionStatus {
    /// Waiting for a person.
    #[sea_orm(string_value = "PENDING")]
    Pending,
    /// Approved, about to run.
    #[sea_orm(string_value = "APPROVED")]
    Approved,
    /// A person said no.
    #[sea_orm(string_value = "REJECTED")]
    Rejected,
    /// Running against the store.
    #[sea_orm(string_value = "EXECUTING")]
    Executing,
    /// Ran successfully.
    #[sea_orm(string_value = "EXECUTED")]
    Executed,
    /// Ran and failed.
    #[sea_orm(string_value = "FAILED")]
    Failed,
    /// Nobody decided before it expired.
    #[sea_orm(string_value = "EXPIRED")]
    Expired,
    /// Undone after running.
    #[sea_orm(string_value = "REVERTED")]
    Reverted,
}

impl ActionStatus {
    /// Stable text form, as stored and as sent in events.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Approved => "APPROVED",
            Self::Rejected => "REJECTED",
            Self::Executing => "EXECUTING",
            Self::Executed => "EXECUTED",
            Self::Failed => "FAILED",
            Self::Expired => "EXPIRED",
            Self::Reverted => "REVERTED",
        }
    }

    /// Still waiting for a decision or for its execution to finish.
    pub fn is_open(self) -> bool {
        matches!(self, Self::Pending | Self::Approved | Self::Executing)
    }
}
