//! One module per table.

pub mod account;
pub mod invitation;
pub mod refresh_token;
pub mod user;
pub mod user_preferences;
