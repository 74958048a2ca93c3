//! The subprocessor change feed: its history as a connection, the same events as a
//! subscription that resumes from a cursor, and the notice-period mutations and objections.

use super::Limits;
use super::auth::{Caller, EDITOR, VIEWER};
use super::connection::{Connection, PageItem, TotalCount};
use super::cursor::{self, decode_after};
use super::enums::{ObjectionStatus, RecipientKind, stored};
use super::error::ApiResult;
use super::limits::SubscriptionSlots;
use super::loaders::{RecipientId, RequestLoader};
use super::relay::{expect_id, global_id};
use super::types::Recipient;
use crate::changes::{self, ChangeEvent, ChangeFilter, ChangeKey, Tail};
use crate::metrics::Metrics;
use crate::registry::visibility;
use crate::registry::{Actor, ObjectionFilter, ObjectionKey, Registry, Snapshot};
use async_graphql::{Context, Enum, ID, InputObject, Json, Object, SimpleObject, Subscription};
use chrono::{DateTime, Utc};
use entity::{FieldChanges, objection};
use futures_util::StreamExt as _;
use futures_util::stream::BoxStream;
use std::sync::Arc;

/// What a change-log event records.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::ChangeKind")]
pub enum ChangeKind {
    /// A recipient was added.
    RecipientCreated,
    /// A recipient's details changed.
    RecipientUpdated,
    /// A recipient was announced to customers; the notice period runs until `effectiveAt`.
    RecipientAnnounced,
    /// A recipient became active.
    RecipientActivated,
    /// A recipient stopped receiving personal data.
    RecipientRetired,
    /// A recipient was removed from the registry.
    RecipientDeleted,
    /// A data flow was added. Also written right after a recipient's announcement, one per
    /// flow the recipient then has: together they are its complete set of flows at that
    /// moment (a client keeping its own copy replaces what it held for the recipient, e.g.
    /// from before a retirement). These events give the reason "shown to customers with the
    /// announcement of ..." and, on the internal feed, follow the flow's first creation.
    FlowCreated,
    /// A data flow changed.
    FlowUpdated,
    /// A data flow was removed.
    FlowDeleted,
    /// A processing activity was added (not part of the subprocessor feed).
    ActivityCreated,
    /// A processing activity changed (not part of the subprocessor feed).
    ActivityUpdated,
    /// A processing activity was removed (not part of the subprocessor feed).
    ActivityDeleted,
}

/// Which changes to return.
#[derive(InputObject, Default)]
pub struct ChangeFilterInput {
    /// Only these kinds of change.
    kinds: Option<Vec<ChangeKind>>,
    /// Only changes about recipients of these kinds.
    recipient_kinds: Option<Vec<RecipientKind>>,
    /// Only changes concerning these products (keys), e.g. `sms`.
    products: Option<Vec<String>>,
    /// Only changes on the public subprocessor feed (always so without an API key).
    public_only: Option<bool>,
}

impl ChangeFilterInput {
    /// The filter to apply for `caller`: without a key, the public feed whatever was asked.
    fn into_filter(self, caller: &Caller) -> ChangeFilter {
        ChangeFilter {
            kinds: stored(self.kinds),
            recipient_kinds: stored(self.recipient_kinds),
            products: self.products.unwrap_or_default(),
            public_only: self.public_only.unwrap_or(false) || !caller.sees_internal(),
        }
    }
}

impl FieldChange {
    /// The field-level changes of an event, by field name.
    pub fn list(changes: &FieldChanges) -> Vec<Self> {
        changes
            .0
            .iter()
            .map(|(field, change)| FieldChange {
                field: field.clone(),
                before: Json(change.before.clone()),
                after: Json(change.after.clone()),
            })
            .collect()
    }
}

/// One field's value before and after a change.
#[derive(SimpleObject)]
pub struct FieldChange {
    /// The field's name, as in the API.
    field: String,
    /// Its value before (null for a creation).
    before: Json<serde_json::Value>,
    /// Its value after (null for a deletion).
    after: Json<serde_json::Value>,
}

pub struct SubprocessorChange(Arc<ChangeEvent>);

/// A change to a recipient or a data flow, from the append-only change log.
#[Object]
impl SubprocessorChange {
    /// Opaque position in the feed: resubscribe (or query) with `after:` this cursor to get
    /// every later change exactly once.
    async fn cursor(&self) -> String {
        self.0.cursor()
    }

    /// The event's number; strictly increasing in commit order. Without an API key, its
    /// position among the public events (1, 2, 3...), which counts nothing else.
    async fn sequence(&self, ctx: &Context<'_>) -> i64 {
        self.0.sequence(Caller::of(ctx).sees_internal())
    }

    /// What changed.
    async fn kind(&self) -> ChangeKind {
        self.0.kind.into()
    }

    /// When the change was committed.
    async fn occurred_at(&self) -> DateTime<Utc> {
        self.0.occurred_at
    }

    /// Who made the change: the holder of the API key it was made with (VIEWER and up).
    #[graphql(guard = "VIEWER")]
    async fn actor(&self) -> &str {
        &self.0.actor
    }

    /// Why, as the editor recorded it.
    async fn reason(&self) -> Option<&str> {
        self.0.reason.as_deref()
    }

    /// The recipient concerned, as it is now (null once deleted, and, without an API key,
    /// once it is no longer on the public list).
    async fn recipient(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Recipient>> {
        let Some(id) = self.0.recipient_id else {
            return Ok(None);
        };
        let sees_internal = Caller::of(ctx).sees_internal();
        Ok(ctx
            .data::<RequestLoader>()?
            .load_one(RecipientId(id))
            .await
            .api()?
            .filter(|r| sees_internal || visibility::shown_to_public(r))
            .map(Recipient))
    }

    /// The global ID of the recipient concerned (kept after its deletion).
    async fn recipient_id(&self) -> Option<ID> {
        self.0.recipient_id.map(|id| global_id("Recipient", id))
    }

    /// The global ID of the data flow concerned, for flow changes.
    async fn data_flow_id(&self) -> Option<ID> {
        self.0.flow_id.map(|id| global_id("DataFlow", id))
    }

    /// The kind of the recipient concerned.
    async fn recipient_kind(&self) -> Option<RecipientKind> {
        self.0.recipient_kind.map(Into::into)
    }

    /// The field-level changes. Without an API key, only the fields the public subprocessor
    /// list shows.
    async fn changes(&self, ctx: &Context<'_>) -> Vec<FieldChange> {
        let changes = if Caller::of(ctx).sees_internal() {
            &self.0.changes
        } else {
            &self.0.public_view().changes
        };
        FieldChange::list(changes)
    }

    /// The recipient or data flow after the change (before it, for a deletion). Without an
    /// API key, only the fields the public subprocessor list shows.
    async fn snapshot(&self, ctx: &Context<'_>) -> Json<serde_json::Value> {
        if Caller::of(ctx).sees_internal() {
            Json(
                self.0
                    .snapshot
                    .as_ref()
                    .map_or(serde_json::Value::Null, Snapshot::to_stored),
            )
        } else {
            Json(self.0.public_view().snapshot.clone())
        }
    }

    /// The products the change concerns (keys), as they stood at the change.
    async fn products(&self) -> &[String] {
        &self.0.products
    }

    /// For an announcement: when customers were told.
    async fn announced_at(&self) -> Option<DateTime<Utc>> {
        self.0.announced_at
    }

    /// For an announcement or activation: when the recipient starts (or started) receiving data.
    async fn effective_at(&self) -> Option<DateTime<Utc>> {
        self.0.effective_at
    }

    /// For an announcement: until when customers may object.
    async fn objection_deadline(&self) -> Option<DateTime<Utc>> {
        (self.0.kind == entity::ChangeKind::RecipientAnnounced)
            .then_some(self.0.effective_at)
            .flatten()
    }

    /// For an announcement: where the new recipient processes the data.
    async fn processing_locations(&self) -> &[String] {
        self.0.processing_locations()
    }

    /// Whether the change is on the public subprocessor feed.
    async fn public(&self) -> bool {
        self.0.public
    }
}

impl PageItem for SubprocessorChange {
    type Row = ChangeEvent;

    fn row(&self) -> &Self::Row {
        &self.0
    }

    const READERS: Option<entity::Role> = None;
    const CONNECTION_DESCRIPTION: &'static str = "A page of the change history, oldest first.";
    const EDGE_DESCRIPTION: &'static str = "An item of the change history, with its cursor.";
}

pub struct Objection(objection::Model);

/// A customer's objection to an announced subprocessor.
#[Object(guard = "VIEWER")]
impl Objection {
    /// Global ID.
    async fn id(&self) -> ID {
        global_id("Objection", self.0.id)
    }

    /// The subprocessor objected to.
    async fn recipient(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Recipient>> {
        Ok(ctx
            .data::<RequestLoader>()?
            .load_one(RecipientId(self.0.recipient_id))
            .await
            .api()?
            .map(Recipient))
    }

    /// Cursor of the announcement objected to.
    async fn announcement_cursor(&self) -> String {
        cursor::encode(&ChangeKey::Seq(self.0.announcement_seq))
    }

    /// The objecting customer.
    async fn customer(&self) -> &str {
        &self.0.customer
    }

    /// Where to reach the customer.
    async fn contact(&self) -> &str {
        &self.0.contact
    }

    /// Why the customer objects.
    async fn reason(&self) -> &str {
        &self.0.reason
    }

    /// Where the objection stands.
    async fn status(&self) -> ObjectionStatus {
        self.0.status.into()
    }

    /// The decision explained to the customer.
    async fn resolution(&self) -> Option<&str> {
        self.0.resolution.as_deref()
    }

    /// Who last moved the objection on.
    async fn resolved_by(&self) -> Option<&str> {
        self.0.resolved_by.as_deref()
    }

    /// When the objection was received.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// When it last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

impl PageItem for Objection {
    type Row = objection::Model;

    fn row(&self) -> &Self::Row {
        &self.0
    }

    const READERS: Option<entity::Role> = Some(entity::Role::Viewer);
    const CONNECTION_DESCRIPTION: &'static str =
        "A page of customers' objections to announced subprocessors, newest first.";
    const EDGE_DESCRIPTION: &'static str = "An objection of a page, with its cursor.";
}

/// The registry's filter for the `objections` arguments.
fn objection_filter(
    recipient_id: Option<ID>,
    statuses: Option<Vec<ObjectionStatus>>,
) -> async_graphql::Result<ObjectionFilter> {
    Ok(ObjectionFilter {
        recipient_id: recipient_id
            .map(|id| expect_id("recipientId", "Recipient", &id))
            .transpose()?,
        statuses: stored(statuses),
    })
}

/// A customer's objection to an announced subprocessor.
#[derive(InputObject)]
pub struct ObjectionInput {
    /// The announced subprocessor.
    recipient_id: ID,
    /// The objecting customer (organisation name).
    customer: String,
    /// Where to reach the customer about the objection (e-mail address or phone number).
    contact: String,
    /// Why the customer objects.
    reason: String,
}

#[derive(Default)]
pub struct ChangeQuery;

#[Object]
impl ChangeQuery {
    /// The history of changes to recipients and data flows, oldest first: the same events as
    /// the `subprocessorChanges` subscription. Without an API key, the public feed only.
    async fn subprocessor_changes(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Return the changes after this cursor.")] after: Option<String>,
        #[graphql(desc = "Page size; the server's default when absent, at most its maximum.")]
        first: Option<i32>,
        #[graphql(desc = "Which changes to return; every change the caller may see when absent.")]
        filter: Option<ChangeFilterInput>,
    ) -> async_graphql::Result<Connection<SubprocessorChange>> {
        let limits = ctx.data::<Limits>()?;
        let first = limits.page_size(first)?;
        let after = decode_after::<ChangeKey>(after.as_deref())?;
        let filter = filter.unwrap_or_default().into_filter(&Caller::of(ctx));
        let registry = ctx.data::<Registry>()?;
        filter.validate(registry).await.api()?;
        let page = changes::log::page(
            registry.db(),
            after.unwrap_or(ChangeKey::START),
            first,
            &filter,
        )
        .await
        .api()?;
        Ok(Connection::new(
            page.map(|event| SubprocessorChange(Arc::new(event))),
            after.as_ref(),
            TotalCount::of(filter, |registry, filter| async move {
                changes::log::count(registry.db(), &filter).await
            }),
        ))
    }

    /// Customers' objections to announced subprocessors, newest first.
    #[graphql(
        guard = "VIEWER",
        deprecation = "Use `objectionsConnection`, which pages and counts; this list will be removed in the next release."
    )]
    async fn objections(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only objections to this recipient.")] recipient_id: Option<ID>,
        #[graphql(desc = "Only objections in these states.")] statuses: Option<
            Vec<ObjectionStatus>,
        >,
    ) -> async_graphql::Result<Vec<Objection>> {
        let filter = objection_filter(recipient_id, statuses)?;
        Ok(ctx
            .data::<Registry>()?
            .objections(&filter)
            .await
            .api()?
            .into_iter()
            .map(Objection)
            .collect())
    }

    /// Customers' objections to announced subprocessors (GDPR Art. 28(2)), newest first, a
    /// page at a time.
    #[graphql(guard = "VIEWER")]
    async fn objections_connection(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only objections to this recipient (its ID).")] recipient_id: Option<ID>,
        #[graphql(desc = "Only objections in these states.")] statuses: Option<
            Vec<ObjectionStatus>,
        >,
        #[graphql(desc = "Page size; the server's default when absent, at most its maximum.")]
        first: Option<i32>,
        #[graphql(desc = "Return the objections after this cursor (an `endCursor` of this list).")]
        after: Option<String>,
    ) -> async_graphql::Result<Connection<Objection>> {
        let first = ctx.data::<Limits>()?.page_size(first)?;
        let after = decode_after::<ObjectionKey>(after.as_deref())?;
        let filter = objection_filter(recipient_id, statuses)?;
        let registry = ctx.data::<Registry>()?;
        let page = registry
            .objections_page(&filter, after.as_ref(), first)
            .await
            .api()?;
        Ok(Connection::new(
            page.map(Objection),
            after.as_ref(),
            TotalCount::of(filter, |registry, filter| async move {
                registry.count_objections(&filter).await
            }),
        ))
    }
}

#[derive(Default)]
pub struct ChangeMutation;

#[Object(guard = "EDITOR")]
impl ChangeMutation {
    /// Announces a proposed recipient to customers. It becomes active at `effectiveAt` (by
    /// default the end of the notice period, which it may not precede); until then customers
    /// may object.
    async fn announce_recipient(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The proposed recipient to announce (its ID).")] id: ID,
        #[graphql(
            desc = "When the recipient starts receiving personal data: no earlier than the end of the notice period, which is the default."
        )]
        effective_at: Option<DateTime<Utc>>,
        #[graphql(desc = "Why, for the change log.")] reason: Option<String>,
    ) -> async_graphql::Result<Recipient> {
        let registry = ctx.data::<Registry>()?;
        let actor = ctx.data::<Actor>()?;
        let id = expect_id("id", "Recipient", &id)?;
        let announced = registry
            .announce_recipient(id, effective_at, actor, reason.as_deref())
            .await
            .api()?;
        Ok(Recipient::from(announced))
    }

    /// Objects, as a customer, to a subprocessor during its notice period.
    async fn object_to_subprocessor(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "The objection: the announced subprocessor, the customer and its reasons."
        )]
        input: ObjectionInput,
    ) -> async_graphql::Result<Objection> {
        let registry = ctx.data::<Registry>()?;
        let recipient = expect_id("input.recipientId", "Recipient", &input.recipient_id)?;
        let objection = registry
            .object_to_subprocessor(recipient, &input.customer, &input.contact, &input.reason)
            .await
            .api()?;
        Ok(Objection(objection))
    }

    /// Moves an objection on: under review, accommodated or rejected, with a note for the
    /// customer (required for a decision).
    async fn resolve_objection(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The objection (its ID).")] id: ID,
        #[graphql(
            desc = "Where the objection now stands: UNDER_REVIEW, ACCOMMODATED or REJECTED."
        )]
        status: ObjectionStatus,
        #[graphql(
            desc = "The decision explained to the customer; required for ACCOMMODATED and REJECTED."
        )]
        resolution: Option<String>,
    ) -> async_graphql::Result<Objection> {
        let registry = ctx.data::<Registry>()?;
        let actor = ctx.data::<Actor>()?;
        let id = expect_id("id", "Objection", &id)?;
        let objection = registry
            .resolve_objection(id, status.into(), resolution.as_deref(), actor)
            .await
            .api()?;
        Ok(Objection(objection))
    }
}

/// An open subscription: holds its connection's slot and counts in the metrics until dropped.
pub struct OpenSubscription {
    _slot: Option<tokio::sync::OwnedSemaphorePermit>,
    metrics: Option<Metrics>,
}

impl Drop for OpenSubscription {
    fn drop(&mut self) {
        if let Some(metrics) = &self.metrics {
            metrics.subscription_closed();
        }
    }
}

/// The events a subscription follows, with what it holds while open: its connection's slot.
pub struct Feed {
    pub events: BoxStream<'static, Arc<ChangeEvent>>,
    pub open: OpenSubscription,
}

/// Request data that asks `subprocessorChanges` to hand its feed over rather than render it:
/// the subscription checks its arguments and takes its slot as always, then puts its events
/// here and ends. The WebSocket server then renders each event once for every subscription of
/// the same document and audience ([`RenderEvent`]) and sends the same bytes to each.
#[derive(Clone, Default)]
pub struct FeedHandOver(pub Arc<std::sync::Mutex<Option<Feed>>>);

/// Request data that asks `subprocessorChanges` to render this one event, without following
/// the log: how a subscription's selection is rendered once for many subscribers.
#[derive(Clone)]
pub struct RenderEvent(pub Arc<ChangeEvent>);

#[derive(Default)]
pub struct ChangeSubscription;

#[Subscription]
impl ChangeSubscription {
    /// Every change to recipients and data flows after `after` (from the beginning when
    /// absent), then live ones as they commit, in order, each with its cursor. Resubscribe with
    /// `after:` the last cursor received to miss nothing and receive nothing twice. Without
    /// an API key, the public feed only.
    async fn subprocessor_changes(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "Resume after this change: the `cursor` of the last change received (from the start of the log when absent)."
        )]
        after: Option<String>,
        #[graphql(desc = "Which changes to return; every change the caller may see when absent.")]
        filter: Option<ChangeFilterInput>,
    ) -> async_graphql::Result<BoxStream<'static, SubprocessorChange>> {
        if let Some(RenderEvent(event)) = ctx.data_opt::<RenderEvent>() {
            return Ok(
                futures_util::stream::once(std::future::ready(SubprocessorChange(event.clone())))
                    .boxed(),
            );
        }
        let after = decode_after::<ChangeKey>(after.as_deref())?;
        let filter = filter.unwrap_or_default().into_filter(&Caller::of(ctx));
        let registry = ctx.data::<Registry>()?.clone();
        let tail = ctx.data::<Arc<Tail>>()?.clone();
        filter.validate(&registry).await.api()?;
        let after = after
            .unwrap_or(ChangeKey::START)
            .seq(registry.db())
            .await
            .api()?;
        let open = OpenSubscription {
            _slot: ctx
                .data_opt::<SubscriptionSlots>()
                .map(SubscriptionSlots::acquire)
                .transpose()?,
            metrics: ctx.data_opt::<Metrics>().cloned(),
        };
        if let Some(metrics) = &open.metrics {
            metrics.subscription_opened();
        }
        let events = changes::stream::follow(registry, tail, after, filter).boxed();
        if let Some(FeedHandOver(slot)) = ctx.data_opt::<FeedHandOver>() {
            *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(Feed { events, open });
            return Ok(futures_util::stream::empty().boxed());
        }
        Ok(events
            .map(move |event| {
                // The stream owns the slot: it is given back when the subscription ends.
                let _ = &open;
                SubprocessorChange(event)
            })
            .boxed())
    }
}
