//! Building the record of processing activities from the registry's state at the instant asked
//! for (see [`super::state`]): today's record and a past one come from the same code, so they
//! cannot disagree.

use super::FindingOptions;
use super::findings;
use super::model::{
    ActivityEntry, CategoryEntry, Perspective, RecipientEntry, Record, TransferEntry,
};
use super::state::{State, StateFlow, load_state};
use crate::reference;
use crate::registry::{ActivitySnapshot, Registry, RegistryError, Result, TransferSnapshot};
use chrono::{DateTime, Utc};
use entity::{OrganizationRole, RecipientRole};
use serde::Serialize;
use serde::ser::Impossible;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

/// An enum value as its API name (`PAYMENT_SERVICE_PROVIDER`).
pub(crate) fn name_of(value: impl Serialize) -> String {
    variant_name(&value).unwrap_or_default().to_owned()
}

/// The serialized name of a unit enum variant, without allocating; `None` for anything else.
pub(crate) fn variant_name(value: &impl Serialize) -> Option<&'static str> {
    value.serialize(VariantName).ok()
}

/// A serializer that only accepts unit enum variants and returns their serialized name.
struct VariantName;

#[derive(Debug)]
struct NotAVariant;

impl std::fmt::Display for NotAVariant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not a unit enum variant")
    }
}

impl std::error::Error for NotAVariant {}

impl serde::ser::Error for NotAVariant {
    fn custom<T: std::fmt::Display>(_: T) -> Self {
        NotAVariant
    }
}

/// Serializer methods that refuse their value.
macro_rules! refuse {
    ($($method:ident($($arg:ty),*);)*) => {
        $(fn $method(self, $(_: $arg),*) -> std::result::Result<Self::Ok, NotAVariant> {
            Err(NotAVariant)
        })*
    };
}

impl serde::Serializer for VariantName {
    type Ok = &'static str;
    type Error = NotAVariant;
    type SerializeSeq = Impossible<&'static str, NotAVariant>;
    type SerializeTuple = Impossible<&'static str, NotAVariant>;
    type SerializeTupleStruct = Impossible<&'static str, NotAVariant>;
    type SerializeTupleVariant = Impossible<&'static str, NotAVariant>;
    type SerializeMap = Impossible<&'static str, NotAVariant>;
    type SerializeStruct = Impossible<&'static str, NotAVariant>;
    type SerializeStructVariant = Impossible<&'static str, NotAVariant>;

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> std::result::Result<&'static str, NotAVariant> {
        Ok(variant)
    }

    refuse! {
        serialize_bool(bool);
        serialize_i8(i8);
        serialize_i16(i16);
        serialize_i32(i32);
        serialize_i64(i64);
        serialize_u8(u8);
        serialize_u16(u16);
        serialize_u32(u32);
        serialize_u64(u64);
        serialize_f32(f32);
        serialize_f64(f64);
        serialize_char(char);
        serialize_str(&str);
        serialize_bytes(&[u8]);
        serialize_none();
        serialize_unit();
        serialize_unit_struct(&'static str);
    }

    fn serialize_some<T: Serialize + ?Sized>(
        self,
        _: &T,
    ) -> std::result::Result<&'static str, NotAVariant> {
        Err(NotAVariant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: &T,
    ) -> std::result::Result<&'static str, NotAVariant> {
        Err(NotAVariant)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> std::result::Result<&'static str, NotAVariant> {
        Err(NotAVariant)
    }

    fn serialize_seq(
        self,
        _: Option<usize>,
    ) -> std::result::Result<Self::SerializeSeq, NotAVariant> {
        Err(NotAVariant)
    }

    fn serialize_tuple(self, _: usize) -> std::result::Result<Self::SerializeTuple, NotAVariant> {
        Err(NotAVariant)
    }

    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> std::result::Result<Self::SerializeTupleStruct, NotAVariant> {
        Err(NotAVariant)
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> std::result::Result<Self::SerializeTupleVariant, NotAVariant> {
        Err(NotAVariant)
    }

    fn serialize_map(
        self,
        _: Option<usize>,
    ) -> std::result::Result<Self::SerializeMap, NotAVariant> {
        Err(NotAVariant)
    }

    fn serialize_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> std::result::Result<Self::SerializeStruct, NotAVariant> {
        Err(NotAVariant)
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> std::result::Result<Self::SerializeStructVariant, NotAVariant> {
        Err(NotAVariant)
    }
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
    // Borrowed while collecting and deduplicating; the entries own their text.
    let mut recipients: BTreeSet<(&str, &'static str, &'static str, &str, bool)> = BTreeSet::new();
    let mut kinds: BTreeSet<&'static str> = BTreeSet::new();
    let mut transfers: Vec<(&str, &TransferSnapshot, &'static str)> = Vec::new();
    for flow in flows {
        let Some(recipient) = state.recipients.get(&flow.recipient_id) else {
            continue;
        };
        let role = flow
            .role(&state.recipients)
            .unwrap_or(recipient.default_role);
        let kind = variant_name(&recipient.kind).unwrap_or_default();
        kinds.insert(kind);
        recipients.insert((
            &recipient.legal_name,
            variant_name(&role).unwrap_or_default(),
            kind,
            &recipient.country,
            perspective == Perspective::Processor && role == RecipientRole::Processor,
        ));
        for t in &flow.transfers {
            let mechanism = variant_name(&t.mechanism).unwrap_or_default();
            transfers.push((&recipient.legal_name, t, mechanism));
        }
    }
    transfers
        .sort_by(|(r1, t1, m1), (r2, t2, m2)| (r1, &t1.country, m1).cmp(&(r2, &t2.country, m2)));
    transfers
        .dedup_by(|(r1, t1, m1), (r2, t2, m2)| r1 == r2 && t1.country == t2.country && m1 == m2);
    let transfers = transfers
        .into_iter()
        .map(|(recipient, t, mechanism)| TransferEntry {
            recipient: recipient.to_owned(),
            country: t.country.clone(),
            country_name: reference::country(&t.country)
                .map(|c| c.name.to_owned())
                .unwrap_or_else(|| t.country.clone()),
            mechanism: mechanism.to_owned(),
            scc_module: t.scc_module,
            derogation: t.derogation.map(name_of),
            safeguards: t.safeguards.clone(),
            tia_date: t.tia_date,
        })
        .collect();
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
        recipient_categories: kinds.into_iter().map(str::to_owned).collect(),
        recipients: recipients
            .into_iter()
            .map(
                |(legal_name, role, kind, country, subprocessor)| RecipientEntry {
                    legal_name: legal_name.to_owned(),
                    kind: kind.to_owned(),
                    role: role.to_owned(),
                    country: country.to_owned(),
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
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::{name_of, variant_name};
    use entity::{Derogation, LegalBasis, RecipientKind, RecipientRole, TransferMechanism};
    use sea_orm::Iterable;

    fn serde_name(value: impl serde::Serialize) -> String {
        serde_json::to_value(value)
            .unwrap()
            .as_str()
            .unwrap()
            .to_owned()
    }

    #[test]
    fn variant_names_are_the_api_names() {
        for kind in RecipientKind::iter() {
            assert_eq!(name_of(kind), serde_name(kind));
        }
        for role in RecipientRole::iter() {
            assert_eq!(name_of(role), serde_name(role));
        }
        for mechanism in TransferMechanism::iter() {
            assert_eq!(name_of(mechanism), serde_name(mechanism));
        }
        for derogation in Derogation::iter() {
            assert_eq!(name_of(derogation), serde_name(derogation));
        }
        for basis in LegalBasis::iter() {
            assert_eq!(name_of(basis), serde_name(basis));
        }
        assert_eq!(variant_name(&"text"), None);
        assert_eq!(variant_name(&Some(RecipientRole::Processor)), None);
        assert_eq!(name_of(3), "");
    }
}
