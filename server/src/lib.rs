//! The `alatar` server: configuration, telemetry, and the HTTP / WebSocket
//! transport in front of the GraphQL schema.
//!
//! Architecture invariant: this is the only crate that knows axum.

pub mod cli;
pub mod config;
mod http;
mod metrics;
mod serve;
mod startup;
pub mod telemetry;

pub use config::Config;
// The multipart reader behind `POST /graphql`, on bytes alone: for fuzzing
// (`fuzz/`) and tests.
#[doc(hidden)]
pub use crate::http::{UploadLimits, receive_chunks};
pub use serve::raise_descriptor_limit;
pub use startup::{
    Application, Embedding, POOL_PING_AFTER_IDLE, build_embedding, build_pipeline, build_shopify, connect_database,
    open_database, run_worker,
};
