//! The subprocessor change feed: its history as a connection, the same events as a
//! subscription that resumes from a cursor, and the notice-period mutations and objections.

use super::Limits;
use super::auth::{Caller, EDITOR, VIEWER};
use super::enums::{ObjectionStatus, RecipientKind};
use super::error::{ApiResult, bad_input};
use super::flows::PageInfo;
use super::limits::SubscriptionSlots;
use super::loaders::{RecipientId, RequestLoader};
use super::relay::{expect_id, global_id};
use super::types::Recipient;
use crate::changes::{self, ChangeEvent, ChangeFilter, Tail};
use crate::metrics::Metrics;
use crate::registry::visibility;
use crate::registry::{Actor, ObjectionFilter, Registry, Snapshot};
use async_graphql::{Context, Enum, ID, InputObject, Json, Object, SimpleObject, Subscription};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use entity::objection;
use futures_util::Stream;
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
            kinds: self
                .kinds
                .unwrap_or_default()
                .into_iter()
                .map(Into::into)
                .collect(),
            recipient_kinds: self
                .recipient_kinds
                .unwrap_or_default()
                .into_iter()
                .map(Into::into)
                .collect(),
            products: self.products.unwrap_or_default(),
            public_only: self.public_only.unwrap_or(false) || !caller.sees_internal(),
        }
    }
}

fn event_cursor(seq: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("change:{seq}"))
}

/// The sequence number behind an event cursor.
fn parse_event_cursor(cursor: &str) -> async_graphql::Result<i64> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|t| t.strip_prefix("change:").and_then(|n| n.parse().ok()))
        .filter(|n: &i64| *n >= 0)
        .ok_or_else(|| bad_input("after", "not a change cursor returned by this API"))
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

/// A change to a recipient or a data flow, from the append-only change log.
pub struct SubprocessorChange(Arc<ChangeEvent>);

#[Object]
impl SubprocessorChange {
    /// Opaque position in the feed: resubscribe (or query) with `after:` this cursor to get
    /// every later change exactly once.
    async fn cursor(&self) -> String {
        event_cursor(self.0.seq)
    }

    /// The event's sequence number; strictly increasing in commit order.
    async fn sequence(&self) -> i64 {
        self.0.seq
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

/// An item of the change history, with its cursor.
pub struct SubprocessorChangeEdge(Arc<ChangeEvent>);

#[Object]
impl SubprocessorChangeEdge {
    /// Opaque cursor of this change.
    async fn cursor(&self) -> String {
        event_cursor(self.0.seq)
    }

    /// The change.
    async fn node(&self) -> SubprocessorChange {
        SubprocessorChange(self.0.clone())
    }
}

/// A page of the change history, oldest first.
pub struct SubprocessorChangeConnection {
    events: Vec<Arc<ChangeEvent>>,
    has_next_page: bool,
    after: Option<i64>,
    filter: ChangeFilter,
}

#[Object]
impl SubprocessorChangeConnection {
    /// The changes of this page with their cursors.
    async fn edges(&self) -> Vec<SubprocessorChangeEdge> {
        self.events
            .iter()
            .cloned()
            .map(SubprocessorChangeEdge)
            .collect()
    }

    /// The changes of this page.
    async fn nodes(&self) -> Vec<SubprocessorChange> {
        self.events
            .iter()
            .cloned()
            .map(SubprocessorChange)
            .collect()
    }

    /// Pagination state.
    async fn page_info(&self) -> PageInfo {
        PageInfo {
            has_next_page: self.has_next_page,
            has_previous_page: self.after.is_some_and(|a| a > 0),
            start_cursor: self.events.first().map(|e| event_cursor(e.seq)),
            end_cursor: self.events.last().map(|e| event_cursor(e.seq)),
        }
    }

    /// How many changes match the filter, over all pages.
    async fn total_count(&self, ctx: &Context<'_>) -> async_graphql::Result<i64> {
        let registry = ctx.data::<Registry>()?;
        let count = changes::log::count(registry.db(), &self.filter)
            .await
            .api()?;
        Ok(i64::try_from(count).unwrap_or(i64::MAX))
    }
}

/// A customer's objection to an announced subprocessor.
pub struct Objection(objection::Model);

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
        event_cursor(self.0.announcement_seq)
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
        filter: Option<ChangeFilterInput>,
    ) -> async_graphql::Result<SubprocessorChangeConnection> {
        let limits = ctx.data::<Limits>()?;
        let first = limits.page_size(first)?;
        let after = after.as_deref().map(parse_event_cursor).transpose()?;
        let filter = filter.unwrap_or_default().into_filter(&Caller::of(ctx));
        let registry = ctx.data::<Registry>()?;
        filter.validate(registry).await.api()?;
        let mut events =
            changes::log::read_after(registry.db(), after.unwrap_or(0), first + 1, &filter)
                .await
                .api()?;
        let has_next_page = events.len() as u64 > first;
        events.truncate(first as usize);
        Ok(SubprocessorChangeConnection {
            events: events.into_iter().map(Arc::new).collect(),
            has_next_page,
            after,
            filter,
        })
    }

    /// Customers' objections to announced subprocessors, newest first.
    #[graphql(guard = "VIEWER")]
    async fn objections(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only objections to this recipient.")] recipient_id: Option<ID>,
        #[graphql(desc = "Only objections in these states.")] statuses: Option<
            Vec<ObjectionStatus>,
        >,
    ) -> async_graphql::Result<Vec<Objection>> {
        let filter = ObjectionFilter {
            recipient_id: recipient_id
                .map(|id| expect_id("recipientId", "Recipient", &id))
                .transpose()?,
            statuses: statuses
                .unwrap_or_default()
                .into_iter()
                .map(Into::into)
                .collect(),
        };
        Ok(ctx
            .data::<Registry>()?
            .objections(&filter)
            .await
            .api()?
            .into_iter()
            .map(Objection)
            .collect())
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
        id: ID,
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
        Ok(Recipient(announced))
    }

    /// Objects, as a customer, to a subprocessor during its notice period.
    async fn object_to_subprocessor(
        &self,
        ctx: &Context<'_>,
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
        id: ID,
        status: ObjectionStatus,
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
struct OpenSubscription {
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
        after: Option<String>,
        filter: Option<ChangeFilterInput>,
    ) -> async_graphql::Result<impl Stream<Item = SubprocessorChange> + use<>> {
        let after = after.as_deref().map(parse_event_cursor).transpose()?;
        let filter = filter.unwrap_or_default().into_filter(&Caller::of(ctx));
        let registry = ctx.data::<Registry>()?.clone();
        let tail = ctx.data::<Arc<Tail>>()?.clone();
        filter.validate(&registry).await.api()?;
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
        Ok(futures_util::StreamExt::map(
            changes::stream::follow(registry, tail, after.unwrap_or(0), filter),
            move |event| {
                // The stream owns the slot: it is given back when the subscription ends.
                let _ = &open;
                SubprocessorChange(event)
            },
        ))
    }
}
