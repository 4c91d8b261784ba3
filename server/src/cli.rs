//! Command line: `alatar serve | worker | migrate | schema`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Alatar: an AI analyst team for Shopify merchants, as a GraphQL API.
#[derive(Debug, Parser)]
#[command(name = "alatar", version)]
pub struct Cli {
    /// TOML configuration file (keys as in `Config`; env `ALATAR_*` wins).
    #[arg(long, global = true, env = "ALATAR_CONFIG")]
    pub config: Option<PathBuf>,
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the API and, unless `pipeline.worker = false`, an in-process worker.
    Serve,
    /// Run agent workers only (needs RabbitMQ: `amqp_url`); scale out freely.
    Worker,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Print the GraphQL SDL.
    Schema,
}
