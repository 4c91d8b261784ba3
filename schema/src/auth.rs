//! Credentials: argon2id passwords, JWT access tokens, opaque refresh tokens.

pub mod password;
pub mod secret;
pub mod token;

pub use token::{AccessClaims, TokenConfig, TokenKeys};
