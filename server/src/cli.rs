//! Command line: `alatar serve | worker | migrate | schema | account set-tier`.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use uuid::Uuid;

use alatar_schema::service::accounts::Tier;

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
    /// Operator changes to an account.
    Account {
        /// What to change.
        #[command(subcommand)]
        command: AccountCommand,
    },
}

/// `alatar account …`.
#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Put an account on a plan (sets its rate limit); audited as `TIER_CHANGED`.
    SetTier {
        /// The account's id (`{ account { id } }`).
        #[arg(long)]
        account: Uuid,
        /// The plan.
        #[arg(long, value_enum)]
        tier: TierArg,
    },
}

/// A plan, as written on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TierArg {
    /// `rate_limit.free_per_hour`.
    Free,
    /// `rate_limit.premium_per_hour`.
    Premium,
}

impl From<TierArg> for Tier {
    fn from(tier: TierArg) -> Self {
        match tier {
            TierArg::Free => Tier::Free,
            TierArg::Premium => Tier::Premium,
        }
    }
}
