//! Benchmark set-up: makes the change log many times longer than the registry, so that the
//! memory of `subreg ropa` can be compared with a short log and a long one.
//!
//! Each round renames every recipient and rewrites the purpose of every data flow through the
//! registry layer, like any edit: one change-log event per entity per round, with its full
//! snapshot. The registry keeps its size (the same recipients, activities and flows); only the
//! log grows. Writes are committed in batches of `--batch` changes.
//!
//! ```sh
//! cargo build --release --bin subreg --example long_log
//! export DATABASE_URL="sqlite:///tmp/bench100k/subreg.db?mode=rwc"
//! ./target/release/subreg seed --synthetic 100000
//! ./target/release/examples/long_log --rounds 2
//! ```
//!
//! It prints the instant before its first change: a record `--as-of` that instant is rebuilt
//! from the log (the past-date path), one without `--as-of` is read from the current tables.

use anyhow::Context as _;
use clap::Parser;
use subreg::registry::inputs::{FlowPatch, RecipientPatch};
use subreg::registry::{Actor, FlowFilter, Keyed, RecipientFilter, Registry};
use subreg::server::{RegistryOptions, open_registry};

#[derive(Parser)]
struct Args {
    /// The database holding the registry.
    #[arg(long, env = "DATABASE_URL")]
    database_url: String,
    /// How many times every recipient and every data flow is changed.
    #[arg(long, default_value_t = 2)]
    rounds: usize,
    /// Changes committed per transaction.
    #[arg(long, default_value_t = 5000)]
    batch: usize,
    /// Change at most this many entities per round, recipients first (`--rounds 1 --limit 1`
    /// makes the log one change longer than the registry's own, for a short-log reference).
    #[arg(long)]
    limit: Option<usize>,
}

/// Applies `change` to each id, `batch` changes per transaction.
async fn in_batches<F>(
    registry: &Registry,
    ids: &[i32],
    batch: usize,
    change: F,
) -> anyhow::Result<()>
where
    F: AsyncFn(&Registry, i32) -> anyhow::Result<()>,
{
    for chunk in ids.chunks(batch.max(1)) {
        let writes = registry.batch().await?;
        for id in chunk {
            change(writes.registry(), *id).await?;
        }
        writes.commit().await?;
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let options = RegistryOptions {
        load_example: false,
        ..RegistryOptions::default()
    };
    let registry = open_registry(&args.database_url, None, options).await?;
    let recipients: Vec<(i32, String)> = registry
        .recipients(&RecipientFilter::default())
        .await?
        .into_iter()
        .map(|r| (r.id, r.legal_name))
        .collect();
    let selection = registry.select_flows(&FlowFilter::default()).await?;
    let mut flows = Vec::new();
    let mut after = None;
    loop {
        let page = registry.flows_page(&selection, after, 10_000).await?;
        flows.extend(page.items.iter().map(|f| f.id));
        after = page.items.last().map(Keyed::key);
        if !page.has_next_page {
            break;
        }
    }
    let names: std::collections::HashMap<i32, String> = recipients.iter().cloned().collect();
    let recipient_ids: Vec<i32> = recipients.iter().map(|(id, _)| *id).collect();
    let actor = Actor("long-log benchmark".into());
    let before = registry.now();
    println!(
        "{} recipients and {} data flows; changes start after {}",
        recipient_ids.len(),
        flows.len(),
        before.to_rfc3339()
    );
    let started = std::time::Instant::now();
    let limit = args.limit.unwrap_or(usize::MAX);
    let recipient_ids = &recipient_ids[..recipient_ids.len().min(limit)];
    let flows = &flows[..flows.len().min(limit - recipient_ids.len())];
    for round in 1..=args.rounds {
        in_batches(&registry, recipient_ids, args.batch, async |writes, id| {
            let base = names.get(&id).map(String::as_str).unwrap_or("Recipient");
            let patch = RecipientPatch {
                legal_name: Some(format!("{base} (rev. {round})")),
                ..RecipientPatch::default()
            };
            writes
                .update_recipient(id, patch, &actor, Some("benchmark"))
                .await
                .with_context(|| format!("renaming recipient {id}"))?;
            Ok(())
        })
        .await?;
        in_batches(&registry, flows, args.batch, async |writes, id| {
            let patch = FlowPatch {
                purpose: Some(Some(format!("Benchmark purpose, revision {round}"))),
                ..FlowPatch::default()
            };
            writes
                .update_flow(id, patch, &actor, Some("benchmark"))
                .await
                .with_context(|| format!("updating flow {id}"))?;
            Ok(())
        })
        .await?;
        println!(
            "round {round}: {} changes in {:.0} s",
            recipient_ids.len() + flows.len(),
            started.elapsed().as_secs_f64()
        );
    }
    println!("changes start after {}", before.to_rfc3339());
    Ok(())
}
