use anyhow::Context as _;
use clap::Parser;
use subreg::config::{Cli, Command};
use subreg::metrics::Metrics;
use subreg::server::{RegistryOptions, Server, open_registry, shutdown_signal, start_background};
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
            let options = RegistryOptions {
                settings: args.registry_settings(),
                load_example: !args.no_seed,
                ..RegistryOptions::default()
            };
            let url = &args.database.database_url;
            let registry = open_registry(url, Some(metrics.clone()), options).await?;
            let _background = start_background(&registry, url, &args.background()).await?;
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
            let options = RegistryOptions {
                load_example: false,
                ..RegistryOptions::default()
            };
            let registry = open_registry(&args.database.database_url, None, options).await?;
            if seed::is_empty(&registry).await? {
                let file = seed::parse(seed::EXAMPLE_REGISTRY)?;
                let summary = seed::load(&registry, &file).await?;
                println!(
                    "loaded {} recipients, {} processing activities and {} data flows",
                    summary.recipients, summary.activities, summary.data_flows
                );
            } else if args.synthetic.is_none() {
                anyhow::bail!("the database already holds a registry");
            }
            if let Some(flows) = args.synthetic {
                let written = seed::synthetic::generate(&registry, flows).await?;
                println!("added {written} synthetic data flows");
            }
        }
        Command::ExportSchema => print!("{}", graphql::sdl()),
        Command::Ropa(args) => {
            let options = RegistryOptions {
                load_example: false,
                ..RegistryOptions::default()
            };
            let registry = open_registry(&args.database.database_url, None, options).await?;
            let findings = subreg::ropa::FindingOptions {
                tia_max_age_days: i64::from(args.tia_max_age_days),
            };
            let records =
                subreg::ropa::build(&registry, args.perspective.list(), args.as_of, &findings)
                    .await?;
            let options = subreg::ropa::export::ExportOptions {
                layout: args.layout,
                terminology: args.terminology,
            };
            let bytes = subreg::ropa::export::export(&records, args.format, &options)?;
            match args.output {
                Some(path) => std::fs::write(&path, bytes)
                    .with_context(|| format!("cannot write {}", path.display()))?,
                None => std::io::Write::write_all(&mut std::io::stdout(), &bytes)?,
            }
        }
    }
    Ok(())
}
