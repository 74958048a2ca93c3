//! Batched lookups: one newtype key per lookup, one `IN` query per batch, so a page of flows
//! costs the same few statements whatever its size.

use crate::registry::{Registry, RegistryError};
use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use entity::{
    data_category, data_flow, data_subject_category, processing_activity, product, recipient,
    transfer,
};
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Arc;

/// Answers every batched lookup from the registry.
pub struct RegistryLoader {
    registry: Registry,
}

/// The loader of one request. Its cache lives as long as the request, so nothing is shared
/// across requests; connection resolvers prime it for a whole page at once.
pub type RequestLoader = DataLoader<RegistryLoader, HashMapCache>;

pub fn request_loader(registry: Registry) -> RequestLoader {
    DataLoader::with_cache(
        RegistryLoader { registry },
        tokio::spawn,
        HashMapCache::default(),
    )
}

fn keyed<K: Copy + Eq + Hash, V>(
    keys: &[K],
    id: impl Fn(K) -> i32,
    mut found: HashMap<i32, V>,
) -> HashMap<K, V> {
    keys.iter()
        .filter_map(|k| found.remove(&id(*k)).map(|v| (*k, v)))
        .collect()
}

macro_rules! lookup {
    ($(#[$doc:meta])* $key:ident => $value:ty, |$registry:ident, $ids:ident| $load:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub struct $key(pub i32);

        impl Loader<$key> for RegistryLoader {
            type Value = $value;
            type Error = Arc<RegistryError>;

            async fn load(&self, keys: &[$key]) -> Result<HashMap<$key, $value>, Self::Error> {
                if keys.is_empty() {
                    return Ok(HashMap::new());
                }
                let $registry = &self.registry;
                let $ids: Vec<i32> = keys.iter().map(|k| k.0).collect();
                let $ids = $ids.as_slice();
                let found = $load.await.map_err(Arc::new)?;
                Ok(keyed(keys, |k| k.0, found))
            }
        }
    };
}

lookup!(
    /// A recipient by row id.
    RecipientId => recipient::Model, |r, ids| r.recipients_by_ids(ids));
lookup!(
    /// A processing activity by row id.
    ActivityId => processing_activity::Model, |r, ids| r.activities_by_ids(ids));
lookup!(
    /// A data category by row id.
    DataCategoryId => data_category::Model, |r, ids| r.data_categories_by_ids(ids));
lookup!(
    /// The processing locations of a recipient.
    RecipientLocations => Vec<String>, |r, ids| r.recipient_locations(ids));
lookup!(
    /// Whether a recipient is a subprocessor.
    RecipientIsSubprocessor => bool, |r, ids| r.subprocessor_flags(ids));
lookup!(
    /// The flows to a recipient.
    RecipientFlows => Vec<data_flow::Model>, |r, ids| r.flows_of_recipients(ids, false));
lookup!(
    /// The flows a recipient forwards (onward flows).
    RecipientOnwardFlows => Vec<data_flow::Model>, |r, ids| r.flows_of_recipients(ids, true));
lookup!(
    /// The data categories a flow sends.
    FlowCategories => Vec<data_category::Model>, |r, ids| r.flow_categories(ids));
lookup!(
    /// The data subject categories a flow concerns.
    FlowSubjects => Vec<data_subject_category::Model>, |r, ids| r.flow_subjects(ids));
lookup!(
    /// The destination countries of a flow.
    FlowCountries => Vec<String>, |r, ids| r.flow_countries(ids));
lookup!(
    /// The transfers of a flow.
    FlowTransfers => Vec<transfer::Model>, |r, ids| r.flow_transfers(ids));
lookup!(
    /// The exporter of a flow's transfers.
    FlowExporter => crate::registry::transfers::Exporter, |r, ids| r.flow_exporters(ids));
lookup!(
    /// The data categories an activity processes.
    ActivityCategories => Vec<data_category::Model>, |r, ids| r.activity_categories(ids));
lookup!(
    /// The data subject categories an activity concerns.
    ActivitySubjects => Vec<data_subject_category::Model>, |r, ids| r.activity_subjects(ids));
lookup!(
    /// The products an activity serves.
    ActivityProducts => Vec<product::Model>, |r, ids| r.activity_products(ids));
lookup!(
    /// The flows of an activity.
    ActivityFlows => Vec<data_flow::Model>, |r, ids| r.flows_of_activities(ids));
