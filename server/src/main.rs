//! `alatar`: parse the command line and configuration, then hand over.

use anyhow::Context as _;
use clap::Parser;
use sea_orm_migration::MigratorTrait;

use alatar_server::cli::{Cli, Command};
use alatar_server::{Application, Config, connect_database, telemetry};

/// mimalloc: the pipeline allocates many small, short-lived objects (JSON,
/// rows, messages); glibc's malloc spent a fifth of the CPU on them.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Command::Schema = cli.command {
        print!("{}", alatar_schema::sdl());
        return Ok(());
    }
    let config = Config::load(cli.config.as_deref())?;
    telemetry::init(&config.log);
    if matches!(cli.command, Command::Serve | Command::Worker) {
        // Every connection (client, pool, broker) is a descriptor; 1,024 is not many.
        alatar_server::raise_descriptor_limit();
    }
    match cli.command {
        Command::Serve => Application::build(config).await?.run_until_stopped().await?,
        Command::Migrate => {
            let db = connect_database(&config).await?;
            alatar_migration::Migrator::up(&db, None).await.context("applying migrations")?;
            tracing::info!("migrations applied");
        }
        Command::Worker => alatar_server::run_worker(config).await?,
        Command::Account { command } => command.run(&config).await?,
        Command::Schema => {}
    }
    Ok(())
}
