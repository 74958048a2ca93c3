//! The example registry: `data/registry.yaml`, built from the organization's 2017 and 2022
//! privacy statements, compiled into the binary and loaded through the registry layer so that
//! its history starts in the change log like any other change.

pub mod format;
pub mod synthetic;

use crate::registry::inputs::{
    ActivityInput, DataCategoryInput, FlowInput, OrganizationInput, RecipientInput, Safeguard,
    TermInput, TransferInput,
};
use crate::registry::{Actor, Registry, RegistryError};
use format::{RegistryFile, SafeguardEntry};
use serde::de::DeserializeOwned;
use std::collections::HashMap;

/// The example registry shipped with Subreg.
pub const EXAMPLE_REGISTRY: &str = include_str!("../../data/registry.yaml");

/// Why an example registry could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("the registry file is not valid: {0}")]
    Parse(#[from] serde_yaml_ng::Error),
    #[error("{context}: {value:?} is not a valid {what}")]
    Value {
        context: String,
        what: &'static str,
        value: String,
    },
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

/// Parses an enum written as its GraphQL name (`PAYMENT_SERVICE_PROVIDER`).
fn enum_value<T: DeserializeOwned>(
    context: &str,
    what: &'static str,
    value: &str,
) -> Result<T, SeedError> {
    serde_json::from_value(serde_json::Value::String(value.to_owned())).map_err(|_| {
        SeedError::Value {
            context: context.to_owned(),
            what,
            value: value.to_owned(),
        }
    })
}

fn safeguard(context: &str, entry: &SafeguardEntry) -> Result<Safeguard, SeedError> {
    Ok(Safeguard {
        mechanism: enum_value(context, "transfer mechanism", &entry.mechanism)?,
        scc_module: entry.scc_module.map(i16::from),
        derogation: entry
            .derogation
            .as_deref()
            .map(|d| enum_value(context, "derogation", d))
            .transpose()?,
        safeguards: entry.safeguards.clone(),
        tia_date: entry.tia_date,
    })
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

    for c in &file.data_categories {
        in_context(
            &context("data category", &c.key),
            registry
                .create_data_category(DataCategoryInput {
                    key: c.key.clone(),
                    name: c.name.clone(),
                    description: c.description.clone(),
                    special_category: c.special_category,
                    fides_key: c.fides_key.clone(),
                })
                .await,
        )?;
        summary.data_categories += 1;
    }
    for s in &file.data_subjects {
        in_context(
            &context("data subject category", &s.key),
            registry
                .create_data_subject(TermInput {
                    key: s.key.clone(),
                    name: s.name.clone(),
                    description: s.description.clone(),
                })
                .await,
        )?;
        summary.data_subjects += 1;
    }
    for p in &file.products {
        in_context(
            &context("product", &p.key),
            registry
                .create_product(TermInput {
                    key: p.key.clone(),
                    name: p.name.clone(),
                    description: p.description.clone(),
                })
                .await,
        )?;
        summary.products += 1;
    }

    let mut recipients = HashMap::new();
    for r in &file.recipients {
        let ctx = context("recipient", &r.key);
        let input = RecipientInput {
            key: r.key.clone(),
            legal_name: r.legal_name.clone(),
            kind: enum_value(&ctx, "recipient kind", &r.kind)?,
            default_role: enum_value(&ctx, "role", &r.default_role)?,
            description: r.description.clone(),
            country: r.country.clone(),
            processing_locations: r.processing_locations.clone(),
            transfer: r
                .transfer
                .as_ref()
                .map(|t| safeguard(&ctx, t))
                .transpose()?,
            dpa_reference: r.dpa_reference.clone(),
            certifications: r.certifications.clone(),
            dpf_certified: r.dpf_certified,
            website: r.website.clone(),
            privacy_notice_url: r.privacy_notice_url.clone(),
            status: enum_value(&ctx, "recipient status", &r.status)?,
            public: r.public,
            assumptions: r.assumptions.clone(),
            sources: r.sources.clone(),
        };
        let created = in_context(&ctx, registry.import_recipient(input, &actor, reason).await)?;
        recipients.insert(r.key.as_str(), created.id);
        summary.recipients += 1;
    }

    let mut activities = HashMap::new();
    for a in &file.processing_activities {
        let ctx = context("processing activity", &a.key);
        let input = ActivityInput {
            key: a.key.clone(),
            name: a.name.clone(),
            description: a.description.clone(),
            organization_role: enum_value(&ctx, "organization role", &a.organization_role)?,
            controllers: a.controllers.clone(),
            purposes: a.purposes.clone(),
            legal_basis: Some(enum_value(&ctx, "legal basis", &a.legal_basis)?),
            data_subjects: a.data_subjects.clone(),
            data_categories: a.data_categories.clone(),
            products: a.products.clone(),
            retention_period: Some(a.retention.period.clone()),
            retention_reason: Some(a.retention.reason.clone()),
            security_measures: a.security_measures.clone(),
            special_category_condition: a.special_category_condition.clone(),
            assumptions: a.assumptions.clone(),
            sources: a.sources.clone(),
        };
        let created = in_context(&ctx, registry.create_activity(input, &actor, reason).await)?;
        activities.insert(a.key.as_str(), created.id);
        summary.activities += 1;
    }

    let lookup = |map: &HashMap<&str, i32>, ctx: &str, what: &'static str, key: &str| {
        map.get(key).copied().ok_or_else(|| SeedError::UnknownKey {
            context: ctx.to_owned(),
            what,
            key: key.to_owned(),
        })
    };
    for (i, f) in file.data_flows.iter().enumerate() {
        let ctx = format!("data flow #{} ({} -> {})", i + 1, f.activity, f.recipient);
        let input = FlowInput {
            activity_id: lookup(&activities, &ctx, "processing activity", &f.activity)?,
            recipient_id: lookup(&recipients, &ctx, "recipient", &f.recipient)?,
            via_recipient_id: f
                .via
                .as_deref()
                .map(|via| lookup(&recipients, &ctx, "recipient", via))
                .transpose()?,
            role: f
                .role
                .as_deref()
                .map(|role| enum_value(&ctx, "role", role))
                .transpose()?,
            purpose: f.purpose.clone(),
            data_categories: f.data_categories.clone(),
            data_subjects: f.data_subjects.clone(),
            countries: f.countries.clone(),
            transfers: f
                .transfers
                .iter()
                .map(|t| {
                    Ok(TransferInput {
                        country: t.country.clone(),
                        safeguard: safeguard(
                            &ctx,
                            &SafeguardEntry {
                                mechanism: t.mechanism.clone(),
                                scc_module: t.scc_module,
                                derogation: t.derogation.clone(),
                                safeguards: t.safeguards.clone(),
                                tia_date: t.tia_date,
                            },
                        )?,
                    })
                })
                .collect::<Result<_, SeedError>>()?,
            assumptions: f.assumptions.clone(),
            sources: f.sources.clone(),
        };
        in_context(&ctx, registry.create_flow(input, &actor, reason).await)?;
        summary.data_flows += 1;
    }

    let o = &file.organization;
    in_context(
        "organization",
        registry
            .set_organization(OrganizationInput {
                name: o.name.clone(),
                address: o.address.clone(),
                country: o.country.clone(),
                dpo_name: o.dpo_name.clone(),
                dpo_email: o.dpo_email.clone(),
                dpo_address: o.dpo_address.clone(),
                representative: o.representative.clone(),
                sources: o.sources.clone(),
            })
            .await,
    )?;
    Ok(summary)
}
