//! The registry as code: the registry file (`data/registry.yaml`'s format,
//! [`crate::seed::format::RegistryFile`]) as a manifest of the whole registry. `subreg export`
//! writes the live registry (or the registry as it stood at a past date) in it; `subreg plan`
//! shows what making the registry match a manifest would change, entry by entry and field by
//! field, and what customers would be told; `subreg apply` makes it so through the registry
//! layer's writes, in one transaction, never skipping a notice period. The same over GraphQL
//! (`planRegistry`, `applyRegistry`). [`fides`] speaks fideslang.
//!
//! Like the example-registry loader ([`crate::seed`]), this module writes only through the
//! registry layer ([`crate::registry::Registry`]), whose rules decide what is valid, what
//! customers see and which events are recorded.

mod compare;
pub mod fides;
pub mod file;
pub mod plan;
pub mod read;
pub mod report;

pub use file::{Parsed, Problem, parse};
pub use plan::{ManifestError, Options};
pub use report::Plan;

use crate::registry::{Actor, Registry, RegistryError};
use chrono::{DateTime, Utc};

/// The live registry (or, with `as_of`, the registry as it stood then) as a manifest's text.
pub async fn export(
    registry: &Registry,
    as_of: Option<DateTime<Utc>>,
) -> Result<String, RegistryError> {
    let (file, mut header) = match as_of {
        None => {
            let db = registry.pool().ok_or_else(|| {
                RegistryError::Conflict("the registry cannot be exported inside a batch".into())
            })?;
            (
                read::live(db).await?.to_file()?,
                vec!["The registry as it stands, exported by `subreg export`.".to_owned()],
            )
        }
        Some(at) => (
            read::as_of(registry, at).await?,
            vec![
                format!(
                    "The registry as it stood at {}, exported by `subreg export --as-of`: recipients,",
                    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                ),
                "processing activities and data flows from the change log; the organization and the"
                    .to_owned(),
                "taxonomies, which the log does not record, as they are today.".to_owned(),
            ],
        ),
    };
    header.extend([
        "Format: data/registry.yaml's (see README, \"Registry as code\"). Check a change with"
            .to_owned(),
        "`subreg plan FILE` and make it with `subreg apply FILE --reason \"...\"`.".to_owned(),
    ]);
    file::to_yaml(&file, &header).map_err(|e| {
        RegistryError::Database(sea_orm::DbErr::Custom(format!(
            "the registry cannot be written as YAML: {e}"
        )))
    })
}

/// Plans (`commit == false`) or applies the manifest `text`: a file that does not read, or
/// that the registry refuses, is refused whole with every problem found, and nothing is
/// written.
pub async fn run_text(
    registry: &Registry,
    text: &str,
    options: Options,
    actor: &Actor,
    reason: Option<&str>,
    commit: bool,
) -> Result<Plan, ManifestError> {
    let started = std::time::Instant::now();
    let parsed = parse(text).map_err(ManifestError::Invalid)?;
    tracing::debug!(
        ms = started.elapsed().as_millis() as u64,
        "read the manifest"
    );
    plan::run(registry, &parsed, options, actor, reason, commit).await
}

/// An enumerated value as the API and the manifest write it (`FLOW_UPDATED`).
fn name(value: &impl serde::Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(text)) => text,
        _ => String::new(),
    }
}

/// A plan in words, for people: each change with its fields, what is held back by the
/// notice period, what is ignored, and what customers would be told.
pub fn render(plan: &Plan) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let value = |v: &Option<serde_json::Value>| match v {
        None => "(none)".to_owned(),
        Some(v) => v.to_string(),
    };
    let verb = if plan.applied { "Applied" } else { "Plan" };
    if plan.changes.is_empty() {
        let _ = writeln!(
            out,
            "{verb}: no changes; the registry matches the manifest."
        );
    } else {
        let count = |a: report::Action| plan.changes.iter().filter(|c| c.action == a).count();
        let _ = writeln!(
            out,
            "{verb}: {} to add, {} to change, {} to remove.",
            count(report::Action::Added),
            count(report::Action::Changed),
            count(report::Action::Removed)
        );
        for change in &plan.changes {
            let sign = match change.action {
                report::Action::Added => "+",
                report::Action::Changed => "~",
                report::Action::Removed => "-",
            };
            let _ = writeln!(out, "\n{sign} {} {}", change.section, change.key);
            for f in &change.fields {
                match change.action {
                    report::Action::Added => {
                        let _ = writeln!(out, "    {}: {}", f.field, value(&f.after));
                    }
                    report::Action::Removed => {
                        let _ = writeln!(out, "    {}: {}", f.field, value(&f.before));
                    }
                    report::Action::Changed => {
                        let _ = writeln!(
                            out,
                            "    {}: {} -> {}",
                            f.field,
                            value(&f.before),
                            value(&f.after)
                        );
                    }
                }
            }
        }
    }
    if !plan.held.is_empty() {
        let _ = writeln!(out, "\nHeld by the notice period:");
        for h in &plan.held {
            let _ = writeln!(
                out,
                "  {}: {} asked, {} now: {}{}",
                h.key,
                name(&h.requested),
                name(&h.status),
                h.reason,
                h.effective_at
                    .map(|at| format!(
                        " (earliest effective date if announced now: {})",
                        at.format("%Y-%m-%d %H:%M UTC")
                    ))
                    .unwrap_or_default()
            );
        }
    }
    if !plan.ignored.is_empty() {
        let _ = writeln!(
            out,
            "\nNot in the manifest, kept (apply --prune removes them):"
        );
        for i in &plan.ignored {
            let _ = writeln!(out, "  {} {}", i.section, i.key);
        }
    }
    let _ = writeln!(out, "\nCustomer impact:");
    if plan.joining.is_empty() {
        let _ = writeln!(out, "  No recipient joins the public subprocessor list.");
    }
    for j in &plan.joining {
        let _ = writeln!(
            out,
            "  Joins the public subprocessor list: {} ({}), {}; effective {} at the earliest, after the notice period",
            j.key,
            j.legal_name,
            name(&j.status),
            j.effective_at.format("%Y-%m-%d %H:%M UTC")
        );
    }
    if plan.public_changes.is_empty() {
        let _ = writeln!(out, "  Customers are told of nothing.");
    } else {
        let _ = writeln!(
            out,
            "  Customers are told of {} public changes:",
            plan.public_changes.len()
        );
        for c in &plan.public_changes {
            let fields: Vec<&str> = c.changes.0.keys().map(String::as_str).collect();
            let _ = writeln!(
                out,
                "    {} {}: {}",
                name(&c.kind),
                c.recipient,
                fields.join(", ")
            );
        }
    }
    if plan.notices.is_empty() {
        let _ = writeln!(out, "  No notice is sent.");
    } else {
        let total: usize = plan.notices.iter().map(|n| n.notices).sum();
        let _ = writeln!(
            out,
            "  {total} notices to {} subscribers:",
            plan.notices.len()
        );
        for n in &plan.notices {
            let _ = writeln!(
                out,
                "    {} {}{}: {}",
                name(&n.channel),
                n.address,
                n.customer
                    .as_ref()
                    .map(|c| format!(" ({c})"))
                    .unwrap_or_default(),
                n.notices
            );
        }
    }
    out
}
