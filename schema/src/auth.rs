//! Credentials: argon2id passwords, JWT access tokens, opaque refresh tokens,
//! and the throttling of attempts to guess them.

pub mod password;
pub mod secret;
pub mod session_token;
pub mod throttle;
pub mod token;

pub use session_token::SessionTokens;
pub use throttle::{AuthThrottle, ClientAddr, ThrottleConfig};
pub use token::{AccessClaims, TokenConfig, TokenKeys};
