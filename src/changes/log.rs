//! Reading the change log: the events of recipients and data flows after a cursor, filtered.

use crate::registry::{Keyed, Page, Registry, RegistryError, Result};
use entity::{ChangeKind, RecipientKind, change_event, change_event_product, product};
use sea_orm::sea_query::Query;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Which events of the subprocessor change feed to return; empty lists do not filter.
#[derive(Clone, Debug, Default)]
pub struct ChangeFilter {
    pub kinds: Vec<ChangeKind>,
    pub recipient_kinds: Vec<RecipientKind>,
    /// Product keys: events concerning any of them.
    pub products: Vec<String>,
    /// Only events visible on the public subprocessor feed.
    pub public_only: bool,
}

/// An event of the feed with the products it concerns.
#[derive(Clone, Debug, PartialEq)]
pub struct ChangeEvent {
    pub event: change_event::Model,
    pub products: Vec<String>,
}

/// A position in the change log: after the event with this sequence number (0 is the start of
/// the log, before its first event).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeKey(pub i64);

impl Keyed for ChangeEvent {
    type Key = ChangeKey;
    fn key(&self) -> ChangeKey {
        ChangeKey(self.event.seq)
    }
}

/// The feed covers recipients and data flows; activity changes stay internal.
const FEED_ENTITIES: [&str; 2] = ["RECIPIENT", "DATA_FLOW"];

impl ChangeFilter {
    /// Checks the product keys against the registry.
    pub async fn validate(&self, registry: &Registry) -> Result<()> {
        crate::registry::validate::bounded("filter.kinds", self.kinds.len())?;
        crate::registry::validate::bounded("filter.recipientKinds", self.recipient_kinds.len())?;
        crate::registry::validate::bounded("filter.products", self.products.len())?;
        for (i, product) in self.products.iter().enumerate() {
            crate::registry::validate::key(&format!("filter.products[{i}]"), product)?;
        }
        if self.products.is_empty() {
            return Ok(());
        }
        let known: Vec<String> = product::Entity::find()
            .select_only()
            .column(product::Column::Key)
            .filter(product::Column::Key.is_in(self.products.iter().map(String::as_str)))
            .into_tuple()
            .all(registry.db())
            .await?;
        match self
            .products
            .iter()
            .enumerate()
            .find(|(_, p)| !known.contains(p))
        {
            Some((i, p)) => Err(RegistryError::invalid(
                format!("filter.products[{i}]"),
                format!("there is no product `{p}`"),
            )),
            None => Ok(()),
        }
    }

    /// Whether `event` passes the filter: the same test as the query, in memory.
    pub fn matches(&self, event: &ChangeEvent) -> bool {
        let e = &event.event;
        FEED_ENTITIES.contains(&e.entity_type.as_str())
            && (self.kinds.is_empty() || self.kinds.contains(&e.kind))
            && (self.recipient_kinds.is_empty()
                || e.recipient_kind
                    .is_some_and(|k| self.recipient_kinds.contains(&k)))
            && (!self.public_only || e.public)
            && (self.products.is_empty()
                || event.products.iter().any(|p| self.products.contains(p)))
    }

    fn apply(&self, after: i64) -> sea_orm::Select<change_event::Entity> {
        let mut query = change_event::Entity::find()
            .filter(change_event::Column::Seq.gt(after))
            .filter(change_event::Column::EntityType.is_in(FEED_ENTITIES));
        if !self.kinds.is_empty() {
            query = query.filter(change_event::Column::Kind.is_in(self.kinds.iter().copied()));
        }
        if !self.recipient_kinds.is_empty() {
            query = query.filter(
                change_event::Column::RecipientKind.is_in(self.recipient_kinds.iter().copied()),
            );
        }
        if self.public_only {
            query = query.filter(change_event::Column::Public.eq(true));
        }
        if !self.products.is_empty() {
            query = query.filter(
                change_event::Column::Seq.in_subquery(
                    Query::select()
                        .column(change_event_product::Column::Seq)
                        .from(change_event_product::Entity)
                        .and_where(
                            change_event_product::Column::Product
                                .is_in(self.products.iter().map(String::as_str)),
                        )
                        .to_owned(),
                ),
            );
        }
        query
    }
}

/// Up to `limit` events after sequence number `after`, in sequence order.
pub async fn read_after(
    conn: &impl ConnectionTrait,
    after: i64,
    limit: u64,
    filter: &ChangeFilter,
) -> Result<Vec<ChangeEvent>> {
    let events = filter
        .apply(after)
        .order_by_asc(change_event::Column::Seq)
        .limit(limit)
        .all(conn)
        .await?;
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let mut products: HashMap<i64, Vec<String>> = HashMap::new();
    for row in change_event_product::Entity::find()
        .filter(change_event_product::Column::Seq.is_in(events.iter().map(|e| e.seq)))
        .order_by_asc(change_event_product::Column::Product)
        .all(conn)
        .await?
    {
        products.entry(row.seq).or_default().push(row.product);
    }
    Ok(events
        .into_iter()
        .map(|event| ChangeEvent {
            products: products.remove(&event.seq).unwrap_or_default(),
            event,
        })
        .collect())
}

/// A page of at most `first` events after `after`, in sequence order.
pub async fn page(
    conn: &impl ConnectionTrait,
    after: ChangeKey,
    first: u64,
    filter: &ChangeFilter,
) -> Result<Page<ChangeEvent>> {
    let events = read_after(conn, after.0, Page::<ChangeEvent>::limit(first), filter).await?;
    Ok(Page::from_rows(events, first))
}

/// How many events of the feed match `filter`.
pub async fn count(conn: &impl ConnectionTrait, filter: &ChangeFilter) -> Result<u64> {
    Ok(filter.apply(0).count(conn).await?)
}

/// The highest sequence number in the log (0 when empty).
pub async fn latest_seq(conn: &impl ConnectionTrait) -> Result<i64> {
    let latest: Option<Option<i64>> = change_event::Entity::find()
        .select_only()
        .column_as(change_event::Column::Seq.max(), "latest")
        .into_tuple()
        .one(conn)
        .await?;
    Ok(latest.flatten().unwrap_or(0))
}
