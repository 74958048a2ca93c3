//! Appending to the change log, inside the transaction of the change it records, and the one
//! skeleton every logged write follows: [`Registry::change`] checks the reason, takes the
//! writer's turn and opens the transaction; [`Change::record`] appends each event, built from
//! the entity's states before and after by [`NewEvent`]; [`Change::commit`] commits and wakes
//! subscribers.

use super::derived::{self, Touched};
use super::error::{RegistryError, Result};
use super::snapshot::{ActivitySnapshot, FlowSnapshot, RecipientSnapshot, Snapshot, changes};
use super::visibility::{flow_change_is_public, recipient_change_is_public};
use super::{Actor, Registry, Write, bulk, validate};
use chrono::{DateTime, Utc};
use entity::{
    ChangeKind, EntityType, FieldChanges, RecipientKind, RecipientStatus, activity_product,
    change_event, change_event_product, data_flow, product,
};
use sea_orm::sea_query::Query;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseTransaction,
    EntityTrait, PrimaryKeyTrait, QueryFilter, QuerySelect, Set,
};

/// Lock key that serialises change-log appends on PostgreSQL (an arbitrary constant).
const CHANGE_LOG_LOCK: i64 = 0x5375_6272_6567;

/// The channel on which PostgreSQL replicas announce committed change-log events.
pub const CHANNEL: &str = "subreg_changes";

/// Takes the change log's lock on PostgreSQL until the end of the transaction: writers commit
/// one at a time, in the order of their sequence numbers.
pub(crate) async fn take_turn(txn: &DatabaseTransaction) -> Result<()> {
    txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({CHANGE_LOG_LOCK})"))
        .await?;
    Ok(())
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

/// A data flow in one of an event's states, with what the event row records of its recipient.
#[derive(Clone)]
pub(crate) struct FlowState {
    pub id: i32,
    pub activity_id: i32,
    pub recipient_id: i32,
    /// The recipient's kind, as the feed's filters see it.
    pub recipient_kind: Option<RecipientKind>,
    /// Whether customers see the flow ([`super::visibility::flow_shown`]).
    pub shown: bool,
    pub snapshot: FlowSnapshot,
}

/// An entity's states around a change.
pub(crate) enum Transition<T> {
    Created(T),
    Updated { before: T, after: T },
    Deleted(T),
}

impl<T> Transition<T> {
    fn before(&self) -> Option<&T> {
        match self {
            Self::Created(_) => None,
            Self::Updated { before, .. } | Self::Deleted(before) => Some(before),
        }
    }

    fn after(&self) -> Option<&T> {
        match self {
            Self::Created(after) | Self::Updated { after, .. } => Some(after),
            Self::Deleted(_) => None,
        }
    }

    /// The field-level changes the log stores for the change of `fields` of the states, and
    /// whether it changes nothing. A creation's or a deletion's changes are every field of its
    /// snapshot, to or from nothing: they follow from the snapshot, so none are stored (more
    /// than half of such an event's size); readers derive them by [`Snapshot::implied_changes`].
    fn stored_changes<S: serde::Serialize>(
        &self,
        fields: impl Fn(&T) -> &S,
    ) -> (FieldChanges, bool) {
        match self {
            Self::Updated { before, after } => {
                let changed = changes(Some(fields(before)), Some(fields(after)));
                let unchanged = changed.0.is_empty();
                (changed, unchanged)
            }
            Self::Created(_) | Self::Deleted(_) => (FieldChanges::default(), false),
        }
    }

    /// The state the event's snapshot holds: after the change, or before a deletion.
    fn into_recorded(self) -> T {
        match self {
            Self::Created(state) | Self::Updated { after: state, .. } | Self::Deleted(state) => {
                state
            }
        }
    }
}

/// An event about to be appended, built from the entity's states around the change: its
/// kind, field-level changes and whether it is on the public feed all follow from them.
pub(crate) struct NewEvent {
    kind: ChangeKind,
    entity_id: i32,
    recipient_id: Option<i32>,
    /// A flow's recipient before the change, when the change moved it to another.
    previous_recipient_id: Option<i32>,
    recipient_kind: Option<RecipientKind>,
    flow_id: Option<i32>,
    activity_id: Option<i32>,
    changes: FieldChanges,
    snapshot: Snapshot,
    announced_at: Option<DateTime<Utc>>,
    effective_at: Option<DateTime<Utc>>,
    public: bool,
    /// A reason of the event's own, where the registry writes it for the change it records
    /// (a flow shown to customers with an announcement) rather than the editor's.
    reason: Option<String>,
    /// An update that changes no field: nothing to record.
    unchanged: bool,
}

impl NewEvent {
    /// A change to the recipient with row id `id`; its kind follows from the status before
    /// and after.
    pub fn recipient(id: i32, transition: Transition<RecipientSnapshot>) -> Self {
        let kind = match &transition {
            Transition::Created(_) => ChangeKind::RecipientCreated,
            Transition::Deleted(_) => ChangeKind::RecipientDeleted,
            Transition::Updated { before, after } => match (before.status, after.status) {
                (from, to) if from == to => ChangeKind::RecipientUpdated,
                (_, RecipientStatus::Announced) => ChangeKind::RecipientAnnounced,
                (_, RecipientStatus::Active) => ChangeKind::RecipientActivated,
                (_, RecipientStatus::Retired) => ChangeKind::RecipientRetired,
                (_, RecipientStatus::Proposed) => ChangeKind::RecipientUpdated,
            },
        };
        let (changes, unchanged) = transition.stored_changes(|s| s);
        let public = recipient_change_is_public(transition.before(), transition.after());
        let snapshot = transition.into_recorded();
        // An announcement and an activation say when customers were told and when the
        // recipient starts.
        let dated = matches!(
            kind,
            ChangeKind::RecipientAnnounced | ChangeKind::RecipientActivated
        );
        Self {
            kind,
            entity_id: id,
            recipient_id: Some(id),
            previous_recipient_id: None,
            recipient_kind: Some(snapshot.kind),
            flow_id: None,
            activity_id: None,
            changes,
            announced_at: snapshot.announced_at.filter(|_| dated),
            effective_at: snapshot.effective_at.filter(|_| dated),
            snapshot: Snapshot::Recipient(snapshot),
            public,
            reason: None,
            unchanged,
        }
    }

    /// A change to a data flow: its creation, its update or its deletion, as the public feed
    /// should see them (see [`flow_change_is_public`]).
    pub fn flow(transition: Transition<FlowState>) -> Self {
        let kind = match &transition {
            Transition::Created(_) => ChangeKind::FlowCreated,
            Transition::Updated { .. } => ChangeKind::FlowUpdated,
            Transition::Deleted(_) => ChangeKind::FlowDeleted,
        };
        let (changes, unchanged) = transition.stored_changes(|s| &s.snapshot);
        let public = flow_change_is_public(
            transition.before().map(|s| (&s.snapshot, s.shown)),
            transition.after().map(|s| (&s.snapshot, s.shown)),
        );
        let previous_recipient_id = transition.before().map(|s| s.recipient_id);
        let state = transition.into_recorded();
        Self {
            kind,
            entity_id: state.id,
            recipient_id: Some(state.recipient_id),
            previous_recipient_id: previous_recipient_id.filter(|&id| id != state.recipient_id),
            recipient_kind: state.recipient_kind,
            flow_id: Some(state.id),
            activity_id: Some(state.activity_id),
            changes,
            snapshot: Snapshot::DataFlow(state.snapshot),
            announced_at: None,
            effective_at: None,
            public,
            reason: None,
            unchanged,
        }
    }

    /// A change to the processing activity with row id `id` (never on the public feed).
    pub fn activity(id: i32, transition: Transition<ActivitySnapshot>) -> Self {
        let kind = match &transition {
            Transition::Created(_) => ChangeKind::ActivityCreated,
            Transition::Updated { .. } => ChangeKind::ActivityUpdated,
            Transition::Deleted(_) => ChangeKind::ActivityDeleted,
        };
        let (changes, unchanged) = transition.stored_changes(|s| s);
        Self {
            kind,
            entity_id: id,
            recipient_id: None,
            previous_recipient_id: None,
            recipient_kind: None,
            flow_id: None,
            activity_id: Some(id),
            changes,
            snapshot: Snapshot::ProcessingActivity(transition.into_recorded()),
            announced_at: None,
            effective_at: None,
            public: false,
            reason: None,
            unchanged,
        }
    }

    /// Adds what the event touches to `touched`, for the refresh of the facts derived from the
    /// flows ([`derived::refresh`]): a flow's recipients (before and after), a recipient, or
    /// every recipient of an activity's flows.
    fn touches(&self, touched: &mut Touched) {
        match self.kind.entity_type() {
            EntityType::ProcessingActivity => touched.activities.extend(self.activity_id),
            EntityType::Recipient | EntityType::DataFlow => {
                touched.recipients.extend(self.recipient_id);
                touched.recipients.extend(self.previous_recipient_id);
            }
        }
    }

    /// The event records `reason` rather than the change's own.
    pub fn because(self, reason: impl Into<String>) -> Self {
        Self {
            reason: Some(reason.into()),
            ..self
        }
    }
}

/// A change to the registry in the making: its transaction (holding the writer's turn), who
/// makes it and why, and the events recorded so far. Dropped without [`Change::commit`], it
/// rolls back with everything it wrote.
pub(crate) struct Change<'r> {
    registry: &'r Registry,
    write: Write,
    actor: &'r Actor,
    reason: Option<String>,
    last_seq: Option<i64>,
    touched: Touched,
}

impl Registry {
    /// Begins a logged change by `actor`, for `reason`. The reason is checked first, so a bad
    /// one never hides behind another error.
    pub(crate) async fn change<'r>(
        &'r self,
        actor: &'r Actor,
        reason: Option<&str>,
    ) -> Result<Change<'r>> {
        let reason = validate::text("reason", reason)?;
        let write = self.write().await?;
        Ok(Change {
            registry: self,
            write,
            actor,
            reason,
            last_seq: None,
            touched: Touched::default(),
        })
    }
}

impl Write {
    /// The `what` with row id `id`, or NOT_FOUND.
    pub(crate) async fn find<E>(&self, what: &'static str, id: i32) -> Result<E::Model>
    where
        E: EntityTrait,
        <E::PrimaryKey as PrimaryKeyTrait>::ValueType: From<i32>,
    {
        E::find_by_id(id)
            .one(&self.txn)
            .await?
            .ok_or_else(|| RegistryError::not_found(what, id))
    }
}

impl Change<'_> {
    pub fn txn(&self) -> &DatabaseTransaction {
        &self.write.txn
    }

    /// The `what` with row id `id`, or NOT_FOUND.
    pub async fn find<E>(&self, what: &'static str, id: i32) -> Result<E::Model>
    where
        E: EntityTrait,
        <E::PrimaryKey as PrimaryKeyTrait>::ValueType: From<i32>,
    {
        self.write.find::<E>(what, id).await
    }

    /// Appends `event` to the log (an update that changes nothing is not recorded).
    pub async fn record(&mut self, event: NewEvent) -> Result<()> {
        if event.unchanged {
            return Ok(());
        }
        event.touches(&mut self.touched);
        let reason = event.reason.clone().or_else(|| self.reason.clone());
        let seq = append(self.registry, &self.write.txn, self.actor, reason, event).await?;
        self.last_seq = Some(seq);
        Ok(())
    }

    /// Appends `events` to the log in order, as [`Change::record`] would one by one (the same
    /// rows: sequence numbers, public positions, products), in a few statements ([`super::bulk`]).
    pub async fn record_all(&mut self, events: Vec<NewEvent>) -> Result<()> {
        let events: Vec<NewEvent> = events.into_iter().filter(|e| !e.unchanged).collect();
        if events.is_empty() {
            return Ok(());
        }
        for event in &events {
            event.touches(&mut self.touched);
        }
        let seq = append_all(
            self.registry,
            &self.write.txn,
            self.actor,
            self.reason.clone(),
            events,
        )
        .await?;
        self.last_seq = Some(seq);
        Ok(())
    }

    /// Commits the change and its events, with the facts derived from what it touched, and
    /// wakes subscribers.
    pub async fn commit(self) -> Result<()> {
        derived::refresh(&self.write.txn, self.touched).await?;
        self.registry.commit(self.write, self.last_seq).await
    }
}

/// The products an event concerns: those of the changed flow's activity, or of every activity
/// with a flow to the changed recipient.
async fn products_of(txn: &DatabaseTransaction, event: &NewEvent) -> Result<Vec<String>> {
    let activities = match (event.activity_id, event.recipient_id) {
        (Some(activity), _) => Query::select()
            .expr(sea_orm::sea_query::Expr::val(activity))
            .to_owned(),
        (None, Some(recipient)) => Query::select()
            .column(data_flow::Column::ActivityId)
            .from(data_flow::Entity)
            .and_where(data_flow::Column::RecipientId.eq(recipient))
            .to_owned(),
        (None, None) => return Ok(Vec::new()),
    };
    let product_ids = Query::select()
        .column(activity_product::Column::ProductId)
        .from(activity_product::Entity)
        .and_where(activity_product::Column::ActivityId.in_subquery(activities))
        .to_owned();
    Ok(product::Entity::find()
        .select_only()
        .column(product::Column::Key)
        .filter(product::Column::Id.in_subquery(product_ids))
        .into_tuple()
        .all(txn)
        .await?)
}

/// The position of the last public event (0 before the first). Read inside the writer's turn,
/// so the next public event's position is one more.
async fn last_public_seq(txn: &DatabaseTransaction) -> Result<i64> {
    let last: Option<Option<i64>> = change_event::Entity::find()
        .select_only()
        .column_as(change_event::Column::PublicSeq.max(), "last")
        .into_tuple()
        .one(txn)
        .await?;
    Ok(last.flatten().unwrap_or(0))
}

/// The row of `event`, appended at `public_seq` when public.
fn event_row(
    registry: &Registry,
    actor: &Actor,
    reason: Option<String>,
    event: NewEvent,
    public_seq: Option<i64>,
) -> change_event::ActiveModel {
    let reason = event.reason.or(reason);
    change_event::ActiveModel {
        occurred_at: Set(registry.now()),
        kind: Set(event.kind),
        entity_type: Set(event.kind.entity_type()),
        entity_id: Set(event.entity_id),
        recipient_id: Set(event.recipient_id),
        recipient_kind: Set(event.recipient_kind),
        flow_id: Set(event.flow_id),
        activity_id: Set(event.activity_id),
        actor: Set(actor.0.clone()),
        reason: Set(reason),
        changes: Set(event.changes),
        snapshot: Set(event.snapshot.to_stored()),
        announced_at: Set(event.announced_at),
        effective_at: Set(event.effective_at),
        public: Set(event.public),
        public_seq: Set(public_seq),
        ..Default::default()
    }
}

/// Appends `events` within `txn`, in order, and returns the last one's sequence number: the
/// rows [`append`] writes for each, in a few statements. The products of an event depend
/// only on its activity (or, for a recipient's, on the recipient), so they are read once per
/// activity or recipient.
async fn append_all(
    registry: &Registry,
    txn: &DatabaseTransaction,
    actor: &Actor,
    reason: Option<String>,
    events: Vec<NewEvent>,
) -> Result<i64> {
    let postgres = txn.get_database_backend() == DatabaseBackend::Postgres;
    if postgres {
        take_turn(txn).await?;
    }
    let mut products_by: std::collections::HashMap<(Option<i32>, Option<i32>), Vec<String>> =
        std::collections::HashMap::new();
    let mut products = Vec::with_capacity(events.len());
    for event in &events {
        let by = match event.activity_id {
            Some(activity) => (Some(activity), None),
            None => (None, event.recipient_id),
        };
        if let std::collections::hash_map::Entry::Vacant(slot) = products_by.entry(by) {
            slot.insert(products_of(txn, event).await?);
        }
        products.push(by);
    }
    let mut public_seq = last_public_seq(txn).await?;
    let mut rows = Vec::with_capacity(events.len());
    for event in events {
        let position = event.public.then(|| {
            public_seq += 1;
            public_seq
        });
        rows.push(event_row(registry, actor, reason.clone(), event, position));
    }
    let seqs = bulk::insert_returning_keys(txn, rows, change_event::Column::Seq).await?;
    let product_rows: Vec<change_event_product::ActiveModel> = seqs
        .iter()
        .zip(&products)
        .flat_map(|(seq, by)| {
            products_by[by]
                .iter()
                .map(move |product| change_event_product::ActiveModel {
                    seq: Set(*seq),
                    product: Set(product.clone()),
                })
        })
        .collect();
    bulk::insert(txn, product_rows).await?;
    let last = seqs.last().copied().unwrap_or(0);
    if postgres {
        txn.execute_unprepared(&format!("NOTIFY {CHANNEL}, '{last}'"))
            .await?;
    }
    Ok(last)
}

/// Appends `event` within `txn` and returns its sequence number.
///
/// On PostgreSQL a transaction-scoped advisory lock makes appends commit in sequence order, so a
/// reader that has seen sequence number N can never later find a smaller one appear, and the
/// notification to other replicas is sent when (and only if) the transaction commits. SQLite
/// writers already take turns (see [`Registry::write`]).
async fn append(
    registry: &Registry,
    txn: &DatabaseTransaction,
    actor: &Actor,
    reason: Option<String>,
    event: NewEvent,
) -> Result<i64> {
    let postgres = txn.get_database_backend() == DatabaseBackend::Postgres;
    if postgres {
        // Already held when the transaction came from `Registry::write`; taking it again is
        // free (advisory locks are re-entrant) and keeps sequence numbers in commit order.
        take_turn(txn).await?;
    }
    let products = products_of(txn, &event).await?;
    let public_seq = match event.public {
        true => Some(last_public_seq(txn).await? + 1),
        false => None,
    };
    let row = event_row(registry, actor, reason, event, public_seq)
        .insert(txn)
        .await?;
    if !products.is_empty() {
        change_event_product::Entity::insert_many(products.into_iter().map(|product| {
            change_event_product::ActiveModel {
                seq: Set(row.seq),
                product: Set(product),
            }
        }))
        .exec(txn)
        .await?;
    }
    if postgres {
        txn.execute_unprepared(&format!("NOTIFY {CHANNEL}, '{}'", row.seq))
            .await?;
    }
    Ok(row.seq)
}
