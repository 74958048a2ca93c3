//! How a manifest's entries compare with the registry's: the form both are compared in, the
//! patch that makes a recorded entry what the manifest asks, and the changes between two states
//! of the registry, entry by entry and field by field.

use super::read::{FlowIdentity, Live};
use super::report::{Action, EntryChange, FieldDiff};
use crate::registry::inputs::{
    ActivityInput, ActivityPatch, FlowInput, FlowPatch, RecipientInput, RecipientPatch,
};
use serde::Serialize;
use serde_json::Value;
use std::collections::{HashMap, HashSet};

/// The patch that makes a recorded recipient what the manifest says: every field.
pub(super) fn recipient_patch(r: RecipientInput) -> RecipientPatch {
    RecipientPatch {
        key: Some(r.key),
        legal_name: Some(r.legal_name),
        kind: Some(r.kind),
        default_role: Some(r.default_role),
        description: Some(r.description),
        country: Some(r.country),
        processing_locations: Some(r.processing_locations),
        transfer: Some(r.transfer),
        dpa_reference: Some(r.dpa_reference),
        certifications: Some(r.certifications),
        dpf_certified: Some(r.dpf_certified),
        website: Some(r.website),
        privacy_notice_url: Some(r.privacy_notice_url),
        status: Some(r.status),
        public: Some(r.public),
        assumptions: Some(r.assumptions),
        sources: Some(r.sources),
    }
}

/// As [`recipient_patch`], for a processing activity.
pub(super) fn activity_patch(a: ActivityInput) -> ActivityPatch {
    ActivityPatch {
        key: Some(a.key),
        name: Some(a.name),
        description: Some(a.description),
        organization_role: Some(a.organization_role),
        controllers: Some(a.controllers),
        purposes: Some(a.purposes),
        legal_basis: Some(a.legal_basis),
        data_subjects: Some(a.data_subjects),
        data_categories: Some(a.data_categories),
        products: Some(a.products),
        retention_period: Some(a.retention_period),
        retention_from: Some(a.retention_from),
        retention_reason: Some(a.retention_reason),
        security_measures: Some(a.security_measures),
        special_category_condition: Some(a.special_category_condition),
        assumptions: Some(a.assumptions),
        sources: Some(a.sources),
    }
}

/// As [`recipient_patch`], for a data flow.
pub(super) fn flow_patch(f: FlowInput) -> FlowPatch {
    FlowPatch {
        activity: Some(f.activity),
        recipient: Some(f.recipient),
        via: Some(f.via),
        exporter: Some(f.exporter),
        role: Some(f.role),
        purpose: Some(f.purpose),
        data_categories: Some(f.data_categories),
        data_subjects: Some(f.data_subjects),
        countries: Some(f.countries),
        transfers: Some(f.transfers),
        assumptions: Some(f.assumptions),
        sources: Some(f.sources),
    }
}

fn sorted(mut list: Vec<String>) -> Vec<String> {
    list.sort();
    list.dedup();
    list
}

/// The manifest's recipient as the registry reads it back when nothing the rules fill in
/// differs: lists the registry keeps sorted, sorted. Only to skip writing what is unchanged;
/// an entry that differs only in form is written and records no change.
pub(super) fn recipient_form(r: &RecipientInput) -> RecipientInput {
    RecipientInput {
        processing_locations: sorted(r.processing_locations.clone()),
        ..r.clone()
    }
}

/// As [`recipient_form`], for a processing activity.
pub(super) fn activity_form(a: &ActivityInput) -> ActivityInput {
    ActivityInput {
        data_subjects: sorted(a.data_subjects.clone()),
        data_categories: sorted(a.data_categories.clone()),
        products: sorted(a.products.clone()),
        ..a.clone()
    }
}

/// As [`recipient_form`]; a transfer without its SCC module takes the recorded one, which the
/// registry fills in from the roles.
pub(super) fn flow_form(f: &FlowInput<String>, live: &FlowInput<String>) -> FlowInput<String> {
    let mut transfers = f.transfers.clone();
    for t in &mut transfers {
        if t.safeguard.scc_module.is_none()
            && let Some(recorded) = live.transfers.iter().find(|l| l.country == t.country)
        {
            t.safeguard.scc_module = recorded.safeguard.scc_module;
        }
    }
    transfers.sort_by(|a, b| a.country.cmp(&b.country));
    FlowInput {
        data_categories: sorted(f.data_categories.clone()),
        data_subjects: sorted(f.data_subjects.clone()),
        countries: sorted(f.countries.clone()),
        transfers,
        ..f.clone()
    }
}

/// The fields of two entries that differ, by the manifest's names.
fn field_diffs<T: Serialize>(before: Option<&T>, after: Option<&T>) -> Vec<FieldDiff> {
    let fields = |entry: Option<&T>| -> serde_json::Map<String, Value> {
        match entry.map(serde_json::to_value) {
            Some(Ok(Value::Object(map))) => map,
            _ => serde_json::Map::new(),
        }
    };
    let (before, after) = (fields(before), fields(after));
    let mut names: Vec<&String> = before.keys().chain(after.keys()).collect();
    names.sort();
    names.dedup();
    names
        .into_iter()
        .filter(|name| before.get(*name) != after.get(*name))
        .map(|name| FieldDiff {
            field: name.clone(),
            before: before.get(name).cloned(),
            after: after.get(name).cloned(),
        })
        .collect()
}

/// The entries of one section that differ between two states, in the order of `after` (then
/// those removed, in the order of `before`).
fn section_changes<T: Serialize + PartialEq>(
    section: &'static str,
    before: Vec<(String, &T)>,
    after: Vec<(String, &T)>,
    out: &mut Vec<EntryChange>,
) {
    let was: HashMap<&str, &T> = before.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    let is: HashSet<&str> = after.iter().map(|(k, _)| k.as_str()).collect();
    for (key, entry) in &after {
        let (action, fields) = match was.get(key.as_str()) {
            None => (Action::Added, field_diffs(None, Some(*entry))),
            Some(old) if old != entry => (Action::Changed, field_diffs(Some(*old), Some(*entry))),
            Some(_) => continue,
        };
        out.push(EntryChange {
            section,
            key: key.clone(),
            action,
            fields,
        });
    }
    for (key, entry) in &before {
        if !is.contains(key.as_str()) {
            out.push(EntryChange {
                section,
                key: key.clone(),
                action: Action::Removed,
                fields: field_diffs(Some(*entry), None),
            });
        }
    }
}

/// Every entry that differs between the registry before and after.
pub(super) fn changes_between(before: &Live, after: &Live) -> Vec<EntryChange> {
    let mut out = Vec::new();
    if before.organization != after.organization {
        out.push(EntryChange {
            section: "organization",
            key: after
                .organization
                .as_ref()
                .map(|o| o.name.clone())
                .unwrap_or_default(),
            action: if before.organization.is_none() {
                Action::Added
            } else {
                Action::Changed
            },
            fields: field_diffs(before.organization.as_ref(), after.organization.as_ref()),
        });
    }
    macro_rules! keyed {
        ($section:literal, $list:ident) => {
            section_changes(
                $section,
                before
                    .$list
                    .iter()
                    .map(|(_, e)| (e.key.clone(), e))
                    .collect(),
                after
                    .$list
                    .iter()
                    .map(|(_, e)| (e.key.clone(), e))
                    .collect(),
                &mut out,
            )
        };
    }
    keyed!("data_categories", data_categories);
    keyed!("data_subjects", data_subjects);
    keyed!("products", products);
    keyed!("recipients", recipients);
    keyed!("processing_activities", activities);
    fn flows(live: &Live) -> Vec<(String, &FlowInput<String>)> {
        let mut seen = HashSet::new();
        live.flows
            .iter()
            .map(|(id, f)| {
                let identity = FlowIdentity::of(f).to_string();
                // Two recorded flows alike (which a manifest cannot name apart): by row id.
                if seen.insert(identity.clone()) {
                    (identity, f)
                } else {
                    (format!("{identity} (#{id})"), f)
                }
            })
            .collect()
    }
    section_changes("data_flows", flows(before), flows(after), &mut out);
    out
}
