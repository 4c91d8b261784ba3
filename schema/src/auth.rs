//! Credentials: argon2id passwords, JWT access tokens, opaque refresh tokens.

pub mod password;
pub mod secret;
pub mod session_token;
pub mod token;

pub use session_token::SessionTokens;
pub use token::{AccessClaims, TokenConfig, TokenKeys};
