//! Command line: `alatar serve | worker | migrate | schema | account set-tier`.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};
use uuid::Uuid;

use alatar_schema::service::accounts::{self, Tier};
use alatar_schema::service::{MemberCache, MembershipChange, RedisMembershipChanges};

use crate::config::Config;
use crate::startup::{connect_redis, open_database};

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

impl AccountCommand {
    /// Makes the change in `config`'s database, then tells the running
    /// servers, whose member caches hold every member's tier for a while.
    pub async fn run(self, config: &Config) -> anyhow::Result<()> {
        match self {
            Self::SetTier { account, tier } => {
                // Like `serve`: migrates the embedded database, refuses PostgreSQL with pending migrations.
                let db = open_database(config).await?;
                let updated = accounts::set_tier(&db, account, tier.into())
                    .await
                    .with_context(|| format!("setting the tier of account {account}"))?;
                println!("account {} ({}) is on the {:?} tier", updated.id, updated.name, updated.tier);
                // The tier is set either way; untold, a server charges by the old one until its entry expires.
                match announce_account_change(config, updated.id).await {
                    Ok(true) => {}
                    Ok(false) => println!(
                        "running servers use the new tier within {} s (no redis_url to tell them at once)",
                        MemberCache::DEFAULT_TTL.as_secs()
                    ),
                    Err(e) => tracing::warn!(
                        error = format!("{e:#}"),
                        within_secs = MemberCache::DEFAULT_TTL.as_secs(),
                        "running servers were not told of the new tier; they use it once their cached entry expires"
                    ),
                }
            }
        }
        Ok(())
    }
}

/// Tells every server sharing `config`'s Redis that something all members
/// of `account_id` act with (its tier) changed, so that their member caches
/// read it again at once. `false` without Redis: servers then see the change
/// when their entries expire, within [`MemberCache::DEFAULT_TTL`].
pub async fn announce_account_change(config: &Config, account_id: Uuid) -> anyhow::Result<bool> {
    let Some((_, mut connection)) = connect_redis(config).await? else { return Ok(false) };
    RedisMembershipChanges::publish_once(&mut connection, MembershipChange::Account { account_id })
        .await
        .context("publishing the account change to redis")?;
    Ok(true)
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
