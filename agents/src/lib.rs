//! The analyst team: a Class 1 orchestrator, Class 2 departments and Class 3
//! tools, with the ports (traits) for the engines they use.
//!
//! Architecture invariant: this crate knows neither the HTTP server nor the
//! GraphQL schema; it reaches outside services (models, Shopify) as a client.
//! - [`store`]: the `StoreData` port and the bundled demo shop.
//! - [`tools`]: typed tools with JSON schemas, run by a `ToolRunner`.
//! - [`departments`]: the Class 2 agents.
//! - [`plan`] and [`llm`]: intents, plans and the model that writes.
//! - [`result`]: the shape of an answer.
//! - [`actions`]: approved store changes, executed exactly once, reverted.
//! - [`shopify`]: OAuth, sealed tokens, signatures, the Admin API client.
//! - [`breaker`] and [`telemetry`]: circuit breakers for the model and
//!   Shopify clients, and the port they report metrics through.
//! - [`progress`]: long reads report progress to the tool call running them.
//! - [`knowledge`]: documents (RAG): extraction, chunks, ingestion on the
//!   `Knowledge` queue, the embedding port.
//! - [`workflows`]: saved workflows, run as analysis requests whose
//!   plan is the workflow's graph.
//! - [`datasets`]: uploaded tables (CSV, JSON, NDJSON, Parquet) loaded and profiled
//!   by jobs on the `Datasets` queue, and read-only SQL over them.
//! - [`dashboards`]: charts over query results, as Vega-Lite specs and as
//!   SVG, composed on a grid into pages exported as PNG or PDF.
//! - [`mail`]: the `Mailer` port: SMTP, or `.eml` files when embedded.
//! - [`write`]: write transactions (`BEGIN IMMEDIATE` on SQLite), retried
//!   when another writer was in the way.

pub mod actions;
pub mod breaker;
pub mod code;
pub mod dashboards;
pub mod datasets;
mod department;
pub mod departments;
pub mod knowledge;
pub mod llm;
pub mod mail;
pub mod market;
pub mod pipeline;
pub mod plan;
pub mod progress;
pub mod result;
pub mod shopify;
pub mod store;
pub mod telemetry;
pub mod tools;
pub mod workflows;
pub mod write;

pub use department::Department;
