//! Building the record of processing activities from the change log: the latest state of every
//! recipient, processing activity and data flow up to the instant asked for. Today's record and
//! a past one come from the same code, so they cannot disagree.

use super::findings::{self, FindingOptions};
use super::model::{
    ActivityEntry, CategoryEntry, OrganizationSection, Perspective, RecipientEntry, Record,
    TransferEntry,
};
use crate::changes::as_of::for_each_latest;
use crate::reference;
use crate::registry::{
    ActivitySnapshot, FlowSnapshot, RecipientSnapshot, Registry, RegistryError, Result,
};
use chrono::{DateTime, Utc};
use entity::{OrganizationRole, RecipientRole};
use serde::Serialize;
use std::collections::{BTreeSet, HashMap};

/// The registry's state at one instant, as the record needs it.
pub struct State {
    pub at: DateTime<Utc>,
    pub recipients: HashMap<i32, RecipientSnapshot>,
    pub activities: Vec<(i32, ActivitySnapshot)>,
    pub flows: Vec<StateFlow>,
    /// Names and Art. 9 flags of the taxonomy terms, by key (today's wording).
    pub categories: HashMap<String, (String, bool)>,
    pub subjects: HashMap<String, String>,
    pub products: HashMap<String, String>,
    pub organization: OrganizationSection,
}

/// A flow with the ids its event row carries.
pub struct StateFlow {
    pub activity_id: i32,
    pub recipient_id: i32,
    pub flow: FlowSnapshot,
}

impl StateFlow {
    /// The recipient's role in the flow: the flow's own, or the recipient's default.
    pub fn role(&self, recipients: &HashMap<i32, RecipientSnapshot>) -> Option<RecipientRole> {
        self.flow
            .role
            .or_else(|| recipients.get(&self.recipient_id).map(|r| r.default_role))
    }
}

/// An enum value as its API name (`PAYMENT_SERVICE_PROVIDER`).
pub(crate) fn name_of(value: impl Serialize) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Loads the registry as it stood at `at` (now when `None`).
pub async fn load_state(registry: &Registry, at: Option<DateTime<Utc>>) -> Result<State> {
    let at = at.unwrap_or_else(|| registry.now());
    let started = std::time::Instant::now();
    let db = registry.pool().ok_or_else(|| {
        RegistryError::Conflict("the record cannot be built inside a batch of writes".into())
    })?;
    let (recipients, mut activities, flows, unreadable) = for_each_latest(
        db,
        at,
        &["RECIPIENT", "DATA_FLOW", "PROCESSING_ACTIVITY"],
        (HashMap::new(), Vec::new(), Vec::new(), 0usize),
        |(recipients, activities, flows, unreadable), row| match row.entity_type.as_str() {
            "RECIPIENT" => match serde_json::from_str::<RecipientSnapshot>(&row.snapshot) {
                Ok(snapshot) => {
                    recipients.insert(row.entity_id, snapshot);
                }
                Err(_) => *unreadable += 1,
            },
            "PROCESSING_ACTIVITY" => {
                match serde_json::from_str::<ActivitySnapshot>(&row.snapshot) {
                    Ok(snapshot) => activities.push((row.entity_id, snapshot)),
                    Err(_) => *unreadable += 1,
                }
            }
            _ => match (
                row.activity_id,
                row.recipient_id,
                serde_json::from_str::<FlowSnapshot>(&row.snapshot),
            ) {
                (Some(activity_id), Some(recipient_id), Ok(flow)) => flows.push(StateFlow {
                    activity_id,
                    recipient_id,
                    flow,
                }),
                _ => *unreadable += 1,
            },
        },
    )
    .await?;
    if unreadable > 0 {
        tracing::warn!(
            unreadable,
            "change-log snapshots that could not be read were left out of the record"
        );
    }
    tracing::debug!(
        flows = flows.len(),
        read_ms = started.elapsed().as_millis(),
        "read the registry's state from the log"
    );
    activities.sort_by(|(_, a): &(i32, ActivitySnapshot), (_, b)| a.name.cmp(&b.name));
    let categories = registry
        .data_categories()
        .await?
        .into_iter()
        .map(|c| (c.key, (c.name, c.special_category)))
        .collect();
    let subjects = registry
        .data_subjects()
        .await?
        .into_iter()
        .map(|s| (s.key, s.name))
        .collect();
    let products = registry
        .products()
        .await?
        .into_iter()
        .map(|p| (p.key, p.name))
        .collect();
    let organization = registry
        .organization()
        .await?
        .map(|o| OrganizationSection {
            name: o.name,
            address: o.address,
            country: o.country,
            dpo_name: o.dpo_name,
            dpo_email: o.dpo_email,
            dpo_address: o.dpo_address,
            representative: o.representative,
        })
        .unwrap_or_default();
    Ok(State {
        at,
        recipients,
        activities,
        flows,
        categories,
        subjects,
        products,
        organization,
    })
}

fn wanted(perspective: Perspective) -> OrganizationRole {
    match perspective {
        Perspective::Controller => OrganizationRole::Controller,
        Perspective::Processor => OrganizationRole::Processor,
    }
}

/// The record of one perspective from a loaded state.
pub fn record(
    state: &State,
    perspective: Perspective,
    generated_at: DateTime<Utc>,
    options: &FindingOptions,
) -> Record {
    let role = wanted(perspective);
    let mut flows_by_activity: HashMap<i32, Vec<&StateFlow>> = HashMap::new();
    for flow in &state.flows {
        flows_by_activity
            .entry(flow.activity_id)
            .or_default()
            .push(flow);
    }
    let mut controllers = BTreeSet::new();
    let activities: Vec<ActivityEntry> = state
        .activities
        .iter()
        .filter(|(_, a)| a.organization_role == role)
        .map(|(id, a)| {
            if perspective == Perspective::Processor {
                controllers.extend(a.controllers.iter().cloned());
            }
            let flows = flows_by_activity.get(id).map(Vec::as_slice).unwrap_or(&[]);
            activity_entry(state, perspective, a, flows)
        })
        .collect();
    Record {
        perspective,
        as_of: state.at,
        generated_at,
        organization: state.organization.clone(),
        controllers: controllers.into_iter().collect(),
        activities,
        findings: findings::findings(state, perspective, options),
    }
}

fn activity_entry(
    state: &State,
    perspective: Perspective,
    a: &ActivitySnapshot,
    flows: &[&StateFlow],
) -> ActivityEntry {
    let mut recipients = BTreeSet::new();
    let mut kinds = BTreeSet::new();
    let mut transfers = Vec::new();
    for flow in flows {
        let Some(recipient) = state.recipients.get(&flow.recipient_id) else {
            continue;
        };
        let role = flow
            .role(&state.recipients)
            .unwrap_or(recipient.default_role);
        kinds.insert(name_of(recipient.kind));
        recipients.insert((
            recipient.legal_name.clone(),
            name_of(role),
            name_of(recipient.kind),
            recipient.country.clone(),
            perspective == Perspective::Processor && role == RecipientRole::Processor,
        ));
        for t in &flow.flow.transfers {
            transfers.push(TransferEntry {
                recipient: recipient.legal_name.clone(),
                country: t.country.clone(),
                country_name: reference::country(&t.country)
                    .map(|c| c.name.to_owned())
                    .unwrap_or_else(|| t.country.clone()),
                mechanism: name_of(t.mechanism),
                scc_module: t.scc_module,
                derogation: t.derogation.map(name_of),
                safeguards: t.safeguards.clone(),
                tia_date: t.tia_date,
            });
        }
    }
    transfers.sort_by(|x, y| {
        (&x.recipient, &x.country, &x.mechanism).cmp(&(&y.recipient, &y.country, &y.mechanism))
    });
    transfers.dedup_by(|x, y| {
        x.recipient == y.recipient && x.country == y.country && x.mechanism == y.mechanism
    });
    ActivityEntry {
        key: a.key.clone(),
        name: a.name.clone(),
        description: a.description.clone(),
        purposes: a.purposes.clone(),
        legal_basis: a.legal_basis.map(name_of),
        data_subjects: a
            .data_subjects
            .iter()
            .map(|k| state.subjects.get(k).cloned().unwrap_or_else(|| k.clone()))
            .collect(),
        data_categories: a
            .data_categories
            .iter()
            .map(|k| {
                let (name, special) = state
                    .categories
                    .get(k)
                    .cloned()
                    .unwrap_or_else(|| (k.clone(), false));
                CategoryEntry {
                    key: k.clone(),
                    name,
                    special_category: special,
                }
            })
            .collect(),
        special_category_condition: a.special_category_condition.clone(),
        recipient_categories: kinds.into_iter().collect(),
        recipients: recipients
            .into_iter()
            .map(
                |(legal_name, role, kind, country, subprocessor)| RecipientEntry {
                    legal_name,
                    kind,
                    role,
                    country,
                    subprocessor,
                },
            )
            .collect(),
        transfers,
        retention_period: a.retention_period.clone(),
        retention_reason: a.retention_reason.clone(),
        security_measures: a.security_measures.clone(),
        products: a
            .products
            .iter()
            .map(|k| state.products.get(k).cloned().unwrap_or_else(|| k.clone()))
            .collect(),
    }
}

/// The record of `perspective` (or both, controller first) as it stood at `as_of`.
pub async fn build(
    registry: &Registry,
    perspectives: &[Perspective],
    as_of: Option<DateTime<Utc>>,
    options: &FindingOptions,
) -> Result<Vec<Record>> {
    let started = std::time::Instant::now();
    let state = load_state(registry, as_of).await?;
    let loaded = started.elapsed();
    let generated_at = registry.now();
    let records = perspectives
        .iter()
        .map(|p| record(&state, *p, generated_at, options))
        .collect();
    tracing::debug!(
        flows = state.flows.len(),
        load_ms = loaded.as_millis(),
        build_ms = (started.elapsed() - loaded).as_millis(),
        "built the record"
    );
    Ok(records)
}
