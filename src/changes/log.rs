//! Reading the change log: the events of recipients and data flows after a cursor, filtered,
//! each read back into the registry's snapshot types.

#[cfg(test)]
use crate::registry::cursor::{self, CursorKey};
pub use crate::registry::cursor::{ChangeKey, change_cursor};
use crate::registry::visibility::{PublicView, public_changes};
use crate::registry::{Keyed, Page, Registry, RegistryError, Result, Snapshot};
use chrono::{DateTime, Utc};
use entity::{
    ChangeKind, EntityType, FieldChanges, RecipientKind, change_event, change_event_product,
    product,
};
use sea_orm::sea_query::Query;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, Iterable, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use std::collections::HashMap;
use std::sync::OnceLock;

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

/// An event of the log, read back into its types, with the products it concerns.
#[derive(Clone, Debug)]
pub struct ChangeEvent {
    pub seq: i64,
    pub occurred_at: DateTime<Utc>,
    pub kind: ChangeKind,
    pub entity_type: EntityType,
    pub entity_id: i32,
    /// The recipient concerned: the changed recipient, or the recipient of the changed flow.
    pub recipient_id: Option<i32>,
    /// The kind of that recipient when the event was written.
    pub recipient_kind: Option<RecipientKind>,
    pub flow_id: Option<i32>,
    pub activity_id: Option<i32>,
    pub actor: String,
    pub reason: Option<String>,
    pub changes: FieldChanges,
    /// The entity after the change (before it, for a deletion); `None` only for a stored
    /// snapshot this version cannot read, which is logged.
    pub snapshot: Option<Snapshot>,
    pub announced_at: Option<DateTime<Utc>>,
    pub effective_at: Option<DateTime<Utc>>,
    /// On the public subprocessor feed.
    pub public: bool,
    /// For a public event, its position among the public events.
    pub public_seq: Option<i64>,
    /// The products the event concerns (keys), as they stood when it was written.
    pub products: Vec<String>,
    /// What a caller without a key sees of it, worked out once when first asked for.
    shown: OnceLock<PublicEvent>,
}

/// What a caller without a key sees of an event: the public views of its entity.
#[derive(Clone, Debug, Default)]
pub struct PublicEvent {
    /// The public view of the snapshot, as JSON.
    pub snapshot: serde_json::Value,
    /// The changes between the public views before and after the event.
    pub changes: FieldChanges,
}

impl ChangeEvent {
    fn read(row: change_event::Model, products: Vec<String>) -> Self {
        let snapshot = match Snapshot::decode(row.entity_type, row.snapshot) {
            Ok(snapshot) => Some(snapshot),
            Err(err) => {
                tracing::error!(seq = row.seq, error = %err, "a change-log snapshot cannot be read");
                None
            }
        };
        // A creation or a deletion stores no changes: they are its snapshot's fields. (Events
        // logged before that rule kept theirs, which say the same.)
        let changes = match &snapshot {
            Some(snapshot) if row.changes.0.is_empty() => {
                snapshot.implied_changes(row.kind).unwrap_or(row.changes)
            }
            _ => row.changes,
        };
        Self {
            seq: row.seq,
            occurred_at: row.occurred_at,
            kind: row.kind,
            entity_type: row.entity_type,
            entity_id: row.entity_id,
            recipient_id: row.recipient_id,
            recipient_kind: row.recipient_kind,
            flow_id: row.flow_id,
            activity_id: row.activity_id,
            actor: row.actor,
            reason: row.reason,
            changes,
            snapshot,
            announced_at: row.announced_at,
            effective_at: row.effective_at,
            public: row.public,
            public_seq: row.public_seq,
            products,
            shown: OnceLock::new(),
        }
    }

    /// What a caller without a key sees of the event.
    pub fn public_view(&self) -> &PublicEvent {
        self.shown.get_or_init(|| {
            let Some(snapshot) = &self.snapshot else {
                return PublicEvent::default();
            };
            let shown = PublicView::from(snapshot).to_json();
            let (before, after) = snapshot.clone().transition(self.kind, &self.changes);
            PublicEvent {
                snapshot: shown,
                changes: public_changes(before.as_ref(), after.as_ref()),
            }
        })
    }

    /// For a recipient's event, where it processes the data (in the state recorded).
    pub fn processing_locations(&self) -> &[String] {
        match &self.snapshot {
            Some(Snapshot::Recipient(r)) => &r.processing_locations,
            _ => &[],
        }
    }
}

impl ChangeEvent {
    /// The event's cursor: where a reader resumes the feed after it. A public event's names
    /// its public position, so the public can resume without learning how many internal
    /// events lie between; an internal one's its sequence number. Every rendering of an
    /// event's position (the API's cursors, a notice's webhook id) is this one.
    pub fn cursor(&self) -> String {
        change_cursor(self.seq, self.public_seq)
    }

    /// The event's number as a caller sees it: its public position for a caller without a
    /// key, its sequence number for the others. Either strictly increases along the feed.
    pub fn sequence(&self, sees_internal: bool) -> i64 {
        match (sees_internal, self.public_seq) {
            (false, Some(public)) => public,
            _ => self.seq,
        }
    }
}

impl Keyed for ChangeEvent {
    type Key = ChangeKey;
    fn key(&self) -> ChangeKey {
        ChangeKey::of(self.seq, self.public_seq)
    }
}

/// The feed covers recipients and data flows; activity changes stay internal.
const FEED_ENTITIES: [EntityType; 2] = [EntityType::Recipient, EntityType::DataFlow];

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
        let e = event;
        FEED_ENTITIES.contains(&e.entity_type)
            && (self.kinds.is_empty() || self.kinds.contains(&e.kind))
            && (self.recipient_kinds.is_empty()
                || e.recipient_kind
                    .is_some_and(|k| self.recipient_kinds.contains(&k)))
            && (!self.public_only || e.public)
            && (self.products.is_empty()
                || event.products.iter().any(|p| self.products.contains(p)))
    }

    fn apply(&self, after: i64) -> sea_orm::Select<change_event::Entity> {
        // The entity types left out, rather than those kept: an `IN` would lead SQLite, which
        // keeps no statistics, to walk the (entity type, entity) index through every feed
        // event and sort them (20 ms with 100,000 flows, after each write, for the tail's one
        // new event), where the sequence range reads just the events after `after`.
        let internal = EntityType::iter().filter(|t| !FEED_ENTITIES.contains(t));
        let mut query = change_event::Entity::find()
            .filter(change_event::Column::Seq.gt(after))
            .filter(change_event::Column::EntityType.is_not_in(internal));
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
    with_products(conn, events).await
}

/// The latest `limit` public events after the public position `after` (any when `None`),
/// newest first: what a page or a feed of recent changes shows, read backwards along the
/// public positions' index whatever the log's length. (Every public event is on the feed:
/// activity changes are never public.)
pub async fn read_latest_public(
    conn: &impl ConnectionTrait,
    limit: u64,
    after: Option<i64>,
) -> Result<Vec<ChangeEvent>> {
    let mut events =
        change_event::Entity::find().filter(change_event::Column::PublicSeq.is_not_null());
    if let Some(after) = after {
        events = events.filter(change_event::Column::PublicSeq.gt(after));
    }
    let events = events
        .order_by_desc(change_event::Column::PublicSeq)
        .limit(limit)
        .all(conn)
        .await?;
    with_products(conn, events).await
}

/// The events of `rows`, each with the products it concerns (one query for all).
async fn with_products(
    conn: &impl ConnectionTrait,
    rows: Vec<change_event::Model>,
) -> Result<Vec<ChangeEvent>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let mut products: HashMap<i64, Vec<String>> = HashMap::new();
    for row in change_event_product::Entity::find()
        .filter(change_event_product::Column::Seq.is_in(rows.iter().map(|e| e.seq)))
        .order_by_asc(change_event_product::Column::Product)
        .all(conn)
        .await?
    {
        products.entry(row.seq).or_default().push(row.product);
    }
    Ok(rows
        .into_iter()
        .map(|event| {
            let products = products.remove(&event.seq).unwrap_or_default();
            ChangeEvent::read(event, products)
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
    let after = after.seq(conn).await?;
    let events = read_after(conn, after, Page::<ChangeEvent>::limit(first), filter).await?;
    Ok(Page::from_rows(events, first))
}

/// How many events of the feed match `filter`.
pub async fn count(conn: &impl ConnectionTrait, filter: &ChangeFilter) -> Result<u64> {
    Ok(filter.apply(0).count(conn).await?)
}

pub use crate::registry::latest_seq;

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    fn text(cursor: &str) -> String {
        String::from_utf8(URL_SAFE_NO_PAD.decode(cursor).unwrap()).unwrap()
    }

    #[test]
    fn change_cursors_keep_their_encoding_and_public_ones_name_their_public_position() {
        assert_eq!(text(&cursor::encode(&ChangeKey::Seq(42))), "change:42");
        assert_eq!(
            text(&cursor::encode(&ChangeKey::Public { public: 3 })),
            r#"change:{"public":3}"#
        );
        // Cursors customers stored before public positions existed still resume.
        assert_eq!(
            cursor::decode::<ChangeKey>("after", "Y2hhbmdlOjQy").unwrap(),
            ChangeKey::Seq(42)
        );
        let public = cursor::encode(&ChangeKey::Public { public: 3 });
        assert_eq!(
            cursor::decode::<ChangeKey>("after", &public).unwrap(),
            ChangeKey::Public { public: 3 }
        );
        for bad in [
            "change:-1",
            r#"change:{"public":-1}"#,
            "change:1x",
            "changes:1",
        ] {
            assert!(
                cursor::decode::<ChangeKey>("after", &URL_SAFE_NO_PAD.encode(bad)).is_err(),
                "{bad}"
            );
        }
        assert!(ChangeKey::START.is_start());
        assert!(ChangeKey::Public { public: 0 }.is_start());
    }
}
