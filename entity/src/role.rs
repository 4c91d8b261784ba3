//! Roles within an account and account tiers, stored as short strings.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// What a member may do inside its account (seed 004 RBAC, widened).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Role {
    /// Created the account; manages members, billing and approvals.
    #[sea_orm(string_value = "OWNER")]
    Owner,
    /// Manages members (not owners) and approves actions.
    #[sea_orm(string_value = "ADMIN")]
    Admin,
    /// Asks questions and reads results.
    #[sea_orm(string_value = "ANALYST")]
    Analyst,
    /// Reads results only.
    #[sea_orm(string_value = "VIEWER")]
    Viewer,
}

impl Role {
    /// Owners and admins manage the team and approve store changes.
    pub fn can_manage_members(self) -> bool {
        matches!(self, Role::Owner | Role::Admin)
    }

    /// Stable text form, as stored and as put into tokens.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "OWNER",
            Role::Admin => "ADMIN",
            Role::Analyst => "ANALYST",
            Role::Viewer => "VIEWER",
        }
    }
}

/// The account's plan; it sets the rate limit (seed 001 property 42).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Tier {
    /// The default plan.
    #[sea_orm(string_value = "FREE")]
    Free,
    /// Ten times the free plan's hourly quota.
    #[sea_orm(string_value = "PREMIUM")]
    Premium,
}
