use anyhow::Context as _;
use clap::Parser;
use subreg::config::{Cli, Command};
use subreg::metrics::Metrics;
use subreg::server::{Server, open_registry, shutdown_signal};
use subreg::{db, graphql, seed};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    match Cli::parse().command {
        Command::Serve(args) => {
            let metrics = Metrics::new();
            let registry = open_registry(
                &args.database.database_url,
                Some(metrics.clone()),
                !args.no_seed,
            )
            .await?;
            let server = Server::bind(args.listen, registry, metrics, args.settings()).await?;
            tracing::info!(address = %server.local_addr()?, "serving GraphQL at /graphql");
            server.run(shutdown_signal()).await?;
        }
        Command::Migrate(args) => {
            let db = db::connect(&args.database_url, None).await?;
            db::migrate(&db)
                .await
                .context("cannot migrate the database")?;
            println!("migrated");
        }
        Command::Seed(args) => {
            let registry = open_registry(&args.database_url, None, false).await?;
            let file = seed::parse(seed::EXAMPLE_REGISTRY)?;
            let summary = seed::load(&registry, &file).await?;
            println!(
                "loaded {} recipients, {} processing activities and {} data flows",
                summary.recipients, summary.activities, summary.data_flows
            );
        }
        Command::ExportSchema => print!("{}", graphql::sdl()),
    }
    Ok(())
}
