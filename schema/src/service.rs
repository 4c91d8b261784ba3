//! Application services: plain async functions over `&DatabaseConnection`,
//! free of GraphQL so they can be tested directly and reused by workers.

pub mod accounts;
pub mod actions;
pub mod analysis;
pub mod email;
pub mod events;
pub mod members;
pub mod preferences;
pub mod sessions;
pub mod shopify;
pub mod webhooks;

pub use email::Email;
pub use events::{AccountEvent, AccountEventKind, AccountEvents, InProcessAccountEvents};
pub use members::MemberCache;
pub use sessions::AuthSession;

use sea_orm::{DbErr, SqlErr};

use crate::error::ApiError;

/// Maps a unique-constraint violation to `CONFLICT`, anything else to internal.
pub(crate) fn conflict_on_unique(err: DbErr, message: &str) -> ApiError {
    match err.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => ApiError::Conflict(message.to_owned()),
        _ => ApiError::internal(err),
    }
}
