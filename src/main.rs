use anyhow::Context as _;
use clap::Parser;
use subreg::config::{ApiKeyCommand, Cli, Command, LogFormat, ManifestArgs, ManifestFormat};
use subreg::metrics::Metrics;
use subreg::server::{RegistryOptions, Server, open_registry, shutdown_signal, start_background};
use subreg::{db, graphql, manifest, seed};
use tracing_subscriber::EnvFilter;

/// See Cargo.toml: the allocator of the server (and of every command).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Turns transparent huge pages off for this process. mimalloc asks for them on its arenas, and
/// each first touch of a huge page then zeroes 2 MiB at once, which large batches (a manifest of
/// 100,000 flows) pay for again and again as freed memory is purged and touched anew: half of
/// their system time (BENCHMARKS.md, "The registry as code"). Redis and MongoDB give the same
/// advice for their servers.
fn without_transparent_huge_pages() {
    // On a kernel without the setting nothing changes, and nothing else depends on it.
    #[cfg(target_os = "linux")]
    let _ = rustix::thread::disable_transparent_huge_pages(true);
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    without_transparent_huge_pages();
    let cli = Cli::parse();
    let logs = tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match cli.log_format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .init(),
    }
    match cli.command {
        Command::Serve(args) => {
            let metrics = Metrics::new();
            let settings = args.settings();
            let options = RegistryOptions {
                settings: settings.registry,
                load_example: !args.no_seed,
                ..RegistryOptions::default()
            };
            let url = &args.database.database_url;
            let registry = open_registry(url, Some(metrics.clone()), options).await?;
            let _background = start_background(&registry, url, &settings.background).await?;
            let grace = settings.server.shutdown_grace;
            let server = Server::bind_with_metrics(
                args.listen,
                args.metrics_listen,
                registry,
                metrics,
                settings.server,
            )
            .await?;
            tracing::info!(address = %server.local_addr()?, "serving GraphQL at /graphql");
            if let Some(address) = server.metrics_addr() {
                tracing::info!(address = %address?, "serving /metrics without a key");
            }
            server.run(shutdown_signal(), grace).await?;
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
        Command::Export(args) => {
            let options = RegistryOptions {
                load_example: false,
                ..RegistryOptions::default()
            };
            let registry = open_registry(&args.database.database_url, None, options).await?;
            let text = match args.format {
                ManifestFormat::Subreg => manifest::export(&registry, args.as_of).await?,
                ManifestFormat::Fides => manifest::fides::export(&registry, args.as_of).await?,
            };
            match args.output {
                Some(path) => std::fs::write(&path, text)
                    .with_context(|| format!("cannot write {}", path.display()))?,
                None => print!("{text}"),
            }
        }
        Command::Plan(args) => {
            let changes = run_manifest(&args.manifest, None).await?;
            // Like `terraform plan -detailed-exitcode`: 0 no change, 2 changes, 1 an error.
            if changes {
                std::process::exit(2);
            }
        }
        Command::Apply(args) => {
            run_manifest(&args.manifest, Some(&args.reason)).await?;
        }
        Command::Apikey(command) => api_keys(command).await?,
        Command::Ropa(args) => {
            let options = RegistryOptions {
                settings: args.adequacy.registry_settings(),
                load_example: false,
                ..RegistryOptions::default()
            };
            let registry = open_registry(&args.database.database_url, None, options).await?;
            let findings = args.findings();
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

/// Changes from the command line are attributed to the operating-system user.
fn command_line_actor() -> subreg::registry::Actor {
    subreg::registry::Actor(format!(
        "command line ({})",
        std::env::var("USER").unwrap_or_else(|_| "unknown user".into())
    ))
}

/// `subreg plan` (no reason) and `subreg apply` (a reason): prints the plan (or what was
/// applied) and returns whether it changes anything. A refused manifest prints every problem
/// and fails, with nothing written.
async fn run_manifest(args: &ManifestArgs, reason: Option<&str>) -> anyhow::Result<bool> {
    let started = std::time::Instant::now();
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let options = RegistryOptions {
        settings: args.registry_settings(),
        load_example: false,
        ..RegistryOptions::default()
    };
    let registry = open_registry(&args.database.database_url, None, options).await?;
    let actor = command_line_actor();
    let commit = reason.is_some();
    let outcome = match args.format {
        ManifestFormat::Subreg => {
            manifest::run_text(&registry, &text, args.options(), &actor, reason, commit).await
        }
        ManifestFormat::Fides => {
            manifest::fides::run_text(&registry, &text, args.options(), &actor, reason, commit)
                .await
        }
    };
    let plan = match outcome {
        Ok(plan) => plan,
        Err(manifest::ManifestError::Invalid(problems)) => {
            eprintln!(
                "{}: refused, nothing was written; {} problems:",
                args.file.display(),
                problems.len()
            );
            for problem in &problems {
                eprintln!("  {problem}");
            }
            anyhow::bail!("the manifest is refused");
        }
        Err(err) => return Err(err.into()),
    };
    tracing::debug!(ms = started.elapsed().as_millis() as u64, "planned");
    if args.json {
        println!("{}", serde_json::to_string_pretty(&plan)?);
    } else {
        print!("{}", manifest::render(&plan));
    }
    tracing::debug!(ms = started.elapsed().as_millis() as u64, "printed");
    Ok(plan.has_changes())
}

/// `subreg apikey ...`: key management from the command line, for the first admin key and for
/// operators.
async fn api_keys(command: ApiKeyCommand) -> anyhow::Result<()> {
    let open = |url: String| async move {
        let options = RegistryOptions {
            load_example: false,
            ..RegistryOptions::default()
        };
        open_registry(&url, None, options).await
    };
    let actor = command_line_actor();
    match command {
        ApiKeyCommand::Create {
            database,
            name,
            role,
        } => {
            let registry = open(database.database_url).await?;
            let created = registry.create_api_key(&name, role, &actor).await?;
            eprintln!(
                "created API key {} for {:?} with the {:?} role; its secret, shown only now:",
                created.key.id, created.key.name, created.key.role
            );
            println!("{}", created.secret);
        }
        ApiKeyCommand::List { database } => {
            let registry = open(database.database_url).await?;
            println!("id\trole\tprefix\tname\tcreated\trevoked");
            for key in registry.api_keys().await? {
                println!(
                    "{}\t{:?}\t{}…\t{}\t{}\t{}",
                    key.id,
                    key.role,
                    key.prefix,
                    key.name,
                    key.created_at.to_rfc3339(),
                    key.revoked_at.map(|at| at.to_rfc3339()).unwrap_or_default()
                );
            }
        }
        ApiKeyCommand::Revoke { database, id } => {
            let registry = open(database.database_url).await?;
            let key = registry.revoke_api_key(id, &actor).await?;
            println!("revoked API key {} ({})", key.id, key.name);
        }
    }
    Ok(())
}
