//! Building the record of processing activities from the registry's state at the instant asked
//! for (see [`super::state`]): today's record and a past one come from the same code, so they
//! cannot disagree.

use super::FindingOptions;
use super::findings;
use super::model::{
    ActivityEntry, CategoryEntry, Perspective, RecipientEntry, Record, TransferEntry, name_of,
};
use super::state::{State, StateFlow, load_state};
use crate::reference;
use crate::registry::rules::is_subprocessing;
use crate::registry::transfers::{self, Exporter};
use crate::registry::{ActivitySnapshot, Registry, RegistryError, Result, TransferSnapshot};
use chrono::{DateTime, Utc};
use entity::{RecipientKind, RecipientRole};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

/// The record of one perspective from a loaded state.
pub fn record(
    state: &State,
    perspective: Perspective,
    generated_at: DateTime<Utc>,
    options: &FindingOptions,
) -> Record {
    let role = perspective.organization_role();
    let mut flows_by_activity: HashMap<i32, Vec<&StateFlow>> = HashMap::new();
    for flow in &state.flows {
        flows_by_activity
            .entry(flow.activity_id)
            .or_default()
            .push(flow);
    }
    let mut controllers = BTreeSet::new();
    let exporters = state.exporters();
    let activities: Vec<ActivityEntry> = state
        .activities
        .iter()
        .filter(|(_, a)| a.organization_role == role)
        .map(|(id, a)| {
            if perspective == Perspective::Processor {
                controllers.extend(a.controllers.iter().cloned());
            }
            let flows = flows_by_activity.get(id).map(Vec::as_slice).unwrap_or(&[]);
            let mut entry = activity_entry(state, a, flows, &exporters);
            entry.created_on = state.activity_dates.get(id).map(|d| d.0);
            entry.updated_on = state.activity_dates.get(id).map(|d| d.1);
            // Art. 30(2) has no legal-basis column: the basis is the controller's.
            if perspective == Perspective::Processor {
                entry.legal_basis = None;
            }
            entry
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

/// A recipient of an activity: legal name, role, kind, country, whether a subprocessor.
type RecipientLine<'a> = (&'a str, RecipientRole, RecipientKind, &'a str, bool);

/// The order recipients are listed in: by legal name, then by the names of role and kind.
fn by_name<'a>(
    &(name, role, kind, country, sub): &RecipientLine<'a>,
) -> (&'a str, &'static str, &'static str, &'a str, bool) {
    (name, name_of(role), name_of(kind), country, sub)
}

fn activity_entry(
    state: &State,
    a: &ActivitySnapshot,
    flows: &[&StateFlow],
    exporters: &HashMap<i32, Exporter>,
) -> ActivityEntry {
    // Borrowed while collecting and deduplicating; the entries own their text.
    let mut recipients: Vec<RecipientLine> = Vec::new();
    let mut kinds: BTreeMap<&'static str, RecipientKind> = BTreeMap::new();
    let mut transfers: Vec<(&str, &TransferSnapshot, &'static str, Option<&Exporter>)> = Vec::new();
    for flow in flows {
        let Some(recipient) = state.recipients.get(&flow.recipient_id) else {
            continue;
        };
        let role = flow.role_of(recipient);
        kinds.insert(name_of(recipient.kind), recipient.kind);
        recipients.push((
            &recipient.legal_name,
            role,
            recipient.kind,
            &recipient.country,
            is_subprocessing(a.organization_role, role),
        ));
        for t in &flow.transfers {
            transfers.push((
                &recipient.legal_name,
                t,
                name_of(t.mechanism),
                exporters.get(&flow.id),
            ));
        }
    }
    recipients.sort_by(|a, b| by_name(a).cmp(&by_name(b)));
    recipients.dedup_by(|a, b| by_name(a) == by_name(b));
    // One line per recipient, destination, mechanism and exporter.
    fn exporter_name(e: Option<&Exporter>) -> Option<&str> {
        e.map(|e| e.name.as_str())
    }
    transfers.sort_by(|(r1, t1, m1, e1), (r2, t2, m2, e2)| {
        (r1, &t1.country, m1, exporter_name(*e1)).cmp(&(r2, &t2.country, m2, exporter_name(*e2)))
    });
    transfers.dedup_by(|(r1, t1, m1, e1), (r2, t2, m2, e2)| {
        r1 == r2 && t1.country == t2.country && m1 == m2 && exporter_name(*e1) == exporter_name(*e2)
    });
    let organization = &state.organization;
    let transfers = transfers
        .into_iter()
        .map(|(recipient, t, _, exporter)| TransferEntry {
            recipient: recipient.to_owned(),
            exporter: exporter.map_or_else(|| organization.name.clone(), |e| e.name.clone()),
            exporter_country: exporter
                .map_or_else(|| organization.country.clone(), |e| e.country.clone()),
            regime: exporter.map_or_else(
                || transfers::regime_of(&organization.country, None),
                |e| e.regime,
            ),
            country: t.country.clone(),
            country_name: reference::country(&t.country)
                .map(|c| c.name.to_owned())
                .unwrap_or_else(|| t.country.clone()),
            mechanism: t.mechanism,
            scc_module: t.scc_module,
            derogation: t.derogation,
            safeguards: t.safeguards.clone(),
            tia_date: t.tia_date,
        })
        .collect();
    ActivityEntry {
        key: a.key.clone(),
        name: a.name.clone(),
        description: a.description.clone(),
        created_on: None,
        updated_on: None,
        purposes: a.purposes.clone(),
        legal_basis: a.legal_basis,
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
        recipient_categories: kinds.into_values().collect(),
        recipients: recipients
            .into_iter()
            .map(
                |(legal_name, role, kind, country, subprocessor)| RecipientEntry {
                    legal_name: legal_name.to_owned(),
                    kind,
                    role,
                    country: country.to_owned(),
                    subprocessor,
                },
            )
            .collect(),
        transfers,
        retention_period: a.retention_period.clone(),
        retention_from: a.retention_from,
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
    let state = Arc::new(load_state(registry, as_of).await?);
    let loaded = started.elapsed();
    let generated_at = registry.now();
    // Building a record is CPU work: each perspective is built on a blocking thread, both
    // side by side when both are asked for.
    let tasks: Vec<_> = perspectives
        .iter()
        .map(|&perspective| {
            let state = Arc::clone(&state);
            let options = options.clone();
            tokio::task::spawn_blocking(move || record(&state, perspective, generated_at, &options))
        })
        .collect();
    let mut records = Vec::with_capacity(tasks.len());
    for task in tasks {
        records.push(task.await.map_err(|e| {
            RegistryError::Database(sea_orm::DbErr::Custom(format!(
                "building the record stopped: {e}"
            )))
        })?);
    }
    tracing::debug!(
        flows = state.flows.len(),
        load_ms = loaded.as_millis(),
        build_ms = (started.elapsed() - loaded).as_millis(),
        "built the record"
    );
    // A large state takes a while to free: a blocking thread does it while the caller exports.
    tokio::task::spawn_blocking(move || drop(state));
    if as_of.is_none() {
        let unaccepted = notice_findings(registry).await?;
        for record in &mut records {
            if record.perspective == Perspective::Processor {
                record.findings.extend(unaccepted.iter().cloned());
            }
        }
    }
    Ok(records)
}

/// GDPR Art. 28(2): an announcement whose notices are not all accepted (queued, bounced or
/// failed) is a finding until they are, since the processor cannot yet show that it informed
/// every customer. Today's record only: the register has no past states.
async fn notice_findings(registry: &Registry) -> Result<Vec<crate::ropa::model::Finding>> {
    use crate::ropa::model::{Finding, FindingSubject, Severity};
    let mut findings = Vec::new();
    for (seq, recipient, open) in registry.unaccepted_announcements().await? {
        let key = match recipient {
            Some(id) => registry.recipient(id).await?.map(|r| r.key),
            None => None,
        };
        let cursor = registry.change_cursor(seq).await?;
        findings.push(Finding {
            severity: Severity::High,
            code: "NOTICE_NOT_ACCEPTED".into(),
            article: "Art. 28(2)".into(),
            entity_type: FindingSubject::Recipient,
            entity: key.unwrap_or_else(|| format!("change {seq}")),
            message: format!(
                "{open} notice(s) of the announcement (change {}) are not yet accepted by the customers' mail servers or endpoints: see the notice register",
                cursor
            ),
        });
    }
    Ok(findings)
}
