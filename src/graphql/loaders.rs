//! Batched lookups: one newtype key per lookup, one `IN` query per batch, so a page of flows
//! costs the same few statements whatever its size; and what was read is kept until the next
//! write ([`Registry::kept_by_id`]), so the next page costs none for the rows it shares.

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
    /// Read from the rows kept between writes; false reads everything from the database.
    kept: bool,
}

/// The loader of one request: its cache lives as long as the request; what it reads comes
/// from the rows kept at the registry's generation where it can. Connection resolvers prime
/// it for a whole page at once.
pub type RequestLoader = DataLoader<RegistryLoader, HashMapCache>;

pub fn request_loader(registry: Registry) -> RequestLoader {
    loader(registry, true)
}

/// A loader for what streams: a subscription's events. It keeps nothing and reads nothing
/// kept, so an event is resolved as the registry stands when it is sent, even when the event
/// comes from a replica this process has not yet heard of (kept rows are dropped only then).
pub fn streaming_loader(registry: Registry) -> RequestLoader {
    let loader = loader(registry, false);
    loader.enable_all_cache(false);
    loader
}

fn loader(registry: Registry, kept: bool) -> RequestLoader {
    DataLoader::with_cache(
        RegistryLoader { registry, kept },
        tokio::spawn,
        HashMapCache::default(),
    )
}

/// One kind of lookup by row id: its key type and how the registry answers it.
pub trait Lookup: Copy + Eq + Hash + Send + Sync + 'static {
    type Value: Clone + Send + Sync + 'static;

    fn id(self) -> i32;

    /// What the registry holds for each of `ids` (ids with nothing are left out), from the
    /// rows kept since the last write where it can and `kept` allows.
    fn read(
        registry: &Registry,
        ids: Vec<i32>,
        kept: bool,
    ) -> impl Future<Output = Result<HashMap<Self, Self::Value>, RegistryError>> + Send;
}

/// Puts into the request's cache what `keys` look up, in one read and at once, for a
/// connection that knows what its page will resolve (the loader would otherwise wait for its
/// batch to fill and send it from a task of its own).
pub async fn preload<K: Lookup>(loader: &RequestLoader, keys: Vec<K>) -> Result<(), RegistryError>
where
    RegistryLoader: Loader<K, Value = K::Value>,
{
    if keys.is_empty() {
        return Ok(());
    }
    let ids = keys.iter().map(|k| k.id()).collect();
    let source = loader.loader();
    let found = K::read(&source.registry, ids, source.kept).await?;
    loader.feed_many(found).await;
    Ok(())
}

/// Names the kept data subject categories, which no lookup of their own reads.
struct SharedSubjects;

/// The terms each owner (a flow, an activity) names, each term's row once: owners that name
/// one term share its row, the one kept at this generation when rows are `kept` (so 100,000
/// flows keep a few hundred category rows, not a copy per flow).
async fn shared_terms<Tag: 'static, M: Clone + Send + Sync + 'static>(
    registry: &Registry,
    kept: bool,
    read: HashMap<i32, Vec<M>>,
    id_of: fn(&M) -> i32,
) -> Result<HashMap<i32, Arc<Vec<Arc<M>>>>, RegistryError> {
    let mut rows: HashMap<i32, Arc<M>> = HashMap::new();
    for term in read.values().flatten() {
        rows.entry(id_of(term))
            .or_insert_with(|| Arc::new(term.clone()));
    }
    if kept {
        let ids: Vec<i32> = rows.keys().copied().collect();
        let batch = rows;
        rows = registry
            .kept_by_id::<Tag, Arc<M>, _, _>(&ids, |missing| async move {
                Ok(missing
                    .into_iter()
                    .filter_map(|id| batch.get(&id).map(|row| (id, row.clone())))
                    .collect())
            })
            .await?;
    }
    Ok(read
        .into_iter()
        .map(|(owner, terms)| {
            let terms = terms.iter().filter_map(|t| rows.get(&id_of(t)).cloned());
            (owner, Arc::new(terms.collect()))
        })
        .collect())
}

// Rows are shared (`Arc`), not copied: the same rows serve every request until the next write.
macro_rules! lookup {
    ($(#[$doc:meta])* $key:ident => $value:ty, |$registry:ident, $ids:ident $(, $kept:ident)?| $load:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub struct $key(pub i32);

        impl Lookup for $key {
            type Value = $value;

            fn id(self) -> i32 {
                self.0
            }

            async fn read(
                $registry: &Registry,
                ids: Vec<i32>,
                kept: bool,
            ) -> Result<HashMap<Self, Self::Value>, RegistryError> {
                let read = |missing: Vec<i32>| async move {
                    let $ids = missing.as_slice();
                    $(let $kept = kept;)?
                    let read = $load.await?;
                    Ok(read.into_iter().map(|(id, value)| (id, value.into())).collect())
                };
                let found: HashMap<i32, Self::Value> = if kept {
                    $registry.kept_by_id::<$key, Self::Value, _, _>(&ids, read).await?
                } else {
                    read(ids).await?
                };
                Ok(found.into_iter().map(|(id, value)| ($key(id), value)).collect())
            }
        }

        impl Loader<$key> for RegistryLoader {
            type Value = $value;
            type Error = Arc<RegistryError>;

            async fn load(&self, keys: &[$key]) -> Result<HashMap<$key, Self::Value>, Self::Error> {
                if keys.is_empty() {
                    return Ok(HashMap::new());
                }
                let ids = keys.iter().map(|k| k.0).collect();
                <$key as Lookup>::read(&self.registry, ids, self.kept)
                    .await
                    .map_err(Arc::new)
            }
        }
    };
}

lookup!(
    /// A recipient by row id.
    RecipientId => Arc<recipient::Model>, |r, ids| r.recipients_by_ids(ids));
lookup!(
    /// A processing activity by row id.
    ActivityId => Arc<processing_activity::Model>, |r, ids| r.activities_by_ids(ids));
lookup!(
    /// A data category by row id.
    DataCategoryId => Arc<data_category::Model>, |r, ids| r.data_categories_by_ids(ids));
lookup!(
    /// The processing locations of a recipient.
    RecipientLocations => Arc<Vec<String>>, |r, ids| r.recipient_locations(ids));
lookup!(
    /// Whether a recipient is a subprocessor.
    RecipientIsSubprocessor => bool, |r, ids| r.subprocessor_flags(ids));
lookup!(
    /// The flows to a recipient.
    RecipientFlows => Arc<Vec<data_flow::Model>>, |r, ids| r.flows_of_recipients(ids, false));
lookup!(
    /// The flows a recipient forwards (onward flows).
    RecipientOnwardFlows => Arc<Vec<data_flow::Model>>, |r, ids| r.flows_of_recipients(ids, true));
lookup!(
    /// The data categories a flow sends.
    FlowCategories => Arc<Vec<Arc<data_category::Model>>>,
    |r, ids, kept| shared_terms::<DataCategoryId, _>(r, kept, r.flow_categories(ids).await?, |t| t.id));
lookup!(
    /// The data subject categories a flow concerns.
    FlowSubjects => Arc<Vec<Arc<data_subject_category::Model>>>,
    |r, ids, kept| shared_terms::<SharedSubjects, _>(r, kept, r.flow_subjects(ids).await?, |t| t.id));
lookup!(
    /// The destination countries of a flow.
    FlowCountries => Arc<Vec<String>>, |r, ids| r.flow_countries(ids));
lookup!(
    /// The transfers of a flow.
    FlowTransfers => Arc<Vec<transfer::Model>>, |r, ids| r.flow_transfers(ids));
lookup!(
    /// The exporter of a flow's transfers.
    FlowExporter => Arc<crate::registry::transfers::Exporter>, |r, ids| r.flow_exporters(ids));
lookup!(
    /// The data categories an activity processes.
    ActivityCategories => Arc<Vec<Arc<data_category::Model>>>,
    |r, ids, kept| shared_terms::<DataCategoryId, _>(r, kept, r.activity_categories(ids).await?, |t| t.id));
lookup!(
    /// The data subject categories an activity concerns.
    ActivitySubjects => Arc<Vec<Arc<data_subject_category::Model>>>,
    |r, ids, kept| shared_terms::<SharedSubjects, _>(r, kept, r.activity_subjects(ids).await?, |t| t.id));
lookup!(
    /// The products an activity serves.
    ActivityProducts => Arc<Vec<product::Model>>, |r, ids| r.activity_products(ids));
lookup!(
    /// The flows of an activity.
    ActivityFlows => Arc<Vec<data_flow::Model>>, |r, ids| r.flows_of_activities(ids));
