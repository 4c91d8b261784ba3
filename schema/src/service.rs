//! Application services: plain async functions over `&DatabaseConnection`,
//! free of GraphQL so they can be tested directly and reused by workers.

pub mod accounts;
pub mod actions;
pub mod analysis;
pub mod code;
pub mod dashboards;
pub mod dataset_insights;
pub mod dataset_sql;
pub mod datasets;
pub mod email;
pub mod events;
pub mod knowledge;
pub mod market;
pub mod members;
pub mod membership;
pub mod ml_models;
pub mod preferences;
pub mod sessions;
pub mod shopify;
pub mod sign_ups;
pub mod webhooks;
pub mod workflow;

pub use email::Email;
pub use events::{AccountEvent, AccountEventKind, AccountEvents, InProcessAccountEvents};
pub use members::{Member, MemberCache};
pub use membership::{InProcessMembershipChanges, MembershipChange, MembershipChanges, RedisMembershipChanges};
pub use sessions::AuthSession;
