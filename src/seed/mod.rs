//! The example registry: `data/registry.yaml`, built from the organization's 2017 and 2022
//! privacy statements, compiled into the binary and loaded through the registry layer so that
//! its history starts in the change log like any other change.

pub mod format;
pub mod synthetic;

use crate::registry::{Actor, Registry, RegistryError};
use format::RegistryFile;
use std::collections::HashMap;

/// The example registry shipped with Subreg.
pub const EXAMPLE_REGISTRY: &str = include_str!("../../data/registry.yaml");

/// Why an example registry could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("the registry file is not valid: {0}")]
    Parse(#[from] serde_yaml_ng::Error),
    #[error("{context}: {source}")]
    Registry {
        context: String,
        #[source]
        source: RegistryError,
    },
    #[error("{context}: no {what} with key `{key}`")]
    UnknownKey {
        context: String,
        what: &'static str,
        key: String,
    },
    #[error("the database already holds a registry")]
    NotEmpty,
}

/// What a load wrote.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SeedSummary {
    pub data_categories: usize,
    pub data_subjects: usize,
    pub products: usize,
    pub recipients: usize,
    pub activities: usize,
    pub data_flows: usize,
}

pub fn parse(text: &str) -> Result<RegistryFile, SeedError> {
    Ok(serde_yaml_ng::from_str(text)?)
}

fn in_context<T>(context: &str, result: Result<T, RegistryError>) -> Result<T, SeedError> {
    result.map_err(|source| SeedError::Registry {
        context: context.to_owned(),
        source,
    })
}

/// Whether the database holds no registry yet.
pub async fn is_empty(registry: &Registry) -> Result<bool, RegistryError> {
    Ok(registry.organization().await?.is_none()
        && registry.recipients(&Default::default()).await?.is_empty())
}

/// Loads `file` into an empty registry, through the registry layer and its validation, in one
/// transaction: the registry holds all of it or none of it.
pub async fn load(registry: &Registry, file: &RegistryFile) -> Result<SeedSummary, SeedError> {
    let batch = in_context("registry", registry.batch().await)?;
    let summary = load_into(batch.registry(), file).await?;
    in_context("registry", batch.commit().await)?;
    Ok(summary)
}

async fn load_into(registry: &Registry, file: &RegistryFile) -> Result<SeedSummary, SeedError> {
    let context = |what: &str, key: &str| format!("{what} `{key}`");
    if !in_context("registry", is_empty(registry).await)? {
        return Err(SeedError::NotEmpty);
    }
    let actor = Actor::system();
    let reason = Some("example registry");
    let mut summary = SeedSummary::default();

    // First: the organization's country sets the regime its transfers are checked under.
    in_context(
        "organization",
        registry.set_organization(file.organization.clone()).await,
    )?;
    for c in &file.data_categories {
        in_context(
            &context("data category", &c.key),
            registry.create_data_category(c.clone()).await,
        )?;
        summary.data_categories += 1;
    }
    for s in &file.data_subjects {
        in_context(
            &context("data subject category", &s.key),
            registry.create_data_subject(s.clone()).await,
        )?;
        summary.data_subjects += 1;
    }
    for p in &file.products {
        in_context(
            &context("product", &p.key),
            registry.create_product(p.clone()).await,
        )?;
        summary.products += 1;
    }

    let mut recipients = HashMap::new();
    for r in &file.recipients {
        let ctx = context("recipient", &r.key);
        let created = in_context(
            &ctx,
            registry.import_recipient(r.clone(), &actor, reason).await,
        )?;
        recipients.insert(r.key.as_str(), created.id);
        summary.recipients += 1;
    }

    let mut activities = HashMap::new();
    for a in &file.processing_activities {
        let ctx = context("processing activity", &a.key);
        let created = in_context(
            &ctx,
            registry.create_activity(a.clone(), &actor, reason).await,
        )?;
        activities.insert(a.key.as_str(), created.id);
        summary.activities += 1;
    }

    for (i, f) in file.data_flows.iter().enumerate() {
        let ctx = format!("data flow #{} ({} -> {})", i + 1, f.activity, f.recipient);
        let lookup = |map: &HashMap<&str, i32>, what: &'static str, key: String| {
            map.get(key.as_str())
                .copied()
                .ok_or_else(|| SeedError::UnknownKey {
                    context: ctx.clone(),
                    what,
                    key,
                })
        };
        let input = f.clone().resolve(
            |key| lookup(&activities, "processing activity", key),
            |key| lookup(&recipients, "recipient", key),
        )?;
        in_context(&ctx, registry.create_flow(input, &actor, reason).await)?;
        summary.data_flows += 1;
    }

    Ok(summary)
}
