//! Database models for Alatar and the one place tenancy is enforced.
//!
//! Every table that holds customer data carries an `account_id`. Code above
//! this crate reaches those rows only through [`AccountScope`], which adds the
//! account filter to every select, update and delete; see `tenancy.rs`.

pub mod model;
mod role;
mod tenancy;

pub use model::{account, invitation, refresh_token, user, user_preferences};
pub use role::{Role, Tier};
pub use tenancy::{AccountScope, TenantOwned};
