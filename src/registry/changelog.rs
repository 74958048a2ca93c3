//! Appending to the change log, inside the transaction of the change it records.

use super::error::Result;
use super::{Actor, Registry};
use chrono::{DateTime, Utc};
use entity::{
    ChangeKind, RecipientKind, activity_product, change_event, change_event_product, data_flow,
    product,
};
use sea_orm::sea_query::Query;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseTransaction,
    EntityTrait, QueryFilter, QuerySelect, Set,
};
use serde_json::{Map, Value};

/// An event about to be appended.
pub(crate) struct NewEvent {
    pub kind: ChangeKind,
    pub recipient_id: Option<i32>,
    pub recipient_kind: Option<RecipientKind>,
    pub flow_id: Option<i32>,
    pub activity_id: Option<i32>,
    pub changes: Value,
    pub snapshot: Value,
    pub announced_at: Option<DateTime<Utc>>,
    pub effective_at: Option<DateTime<Utc>>,
    pub public: bool,
}

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

/// What kind of entity an event is about, and which one.
fn entity_of(event: &NewEvent) -> (&'static str, i32) {
    use ChangeKind::*;
    match event.kind {
        RecipientCreated | RecipientUpdated | RecipientAnnounced | RecipientActivated
        | RecipientRetired | RecipientDeleted => ("RECIPIENT", event.recipient_id.unwrap_or(0)),
        FlowCreated | FlowUpdated | FlowDeleted => ("DATA_FLOW", event.flow_id.unwrap_or(0)),
        ActivityCreated | ActivityUpdated | ActivityDeleted => {
            ("PROCESSING_ACTIVITY", event.activity_id.unwrap_or(0))
        }
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

/// Appends `event` within `txn` and returns its sequence number.
///
/// On PostgreSQL a transaction-scoped advisory lock makes appends commit in sequence order, so a
/// reader that has seen sequence number N can never later find a smaller one appear, and the
/// notification to other replicas is sent when (and only if) the transaction commits. SQLite
/// writers already take turns (see [`Registry::write`]).
pub(crate) async fn append(
    registry: &Registry,
    txn: &DatabaseTransaction,
    actor: &Actor,
    reason: Option<&str>,
    event: NewEvent,
) -> Result<i64> {
    // Checked here, where every change passes: a bad reason rolls the change back with it.
    let reason = super::validate::text("reason", reason)?;
    let postgres = txn.get_database_backend() == DatabaseBackend::Postgres;
    if postgres {
        // Already held when the transaction came from `Registry::write`; taking it again is
        // free (advisory locks are re-entrant) and keeps sequence numbers in commit order.
        take_turn(txn).await?;
    }
    let (entity_type, entity_id) = entity_of(&event);
    let products = products_of(txn, &event).await?;
    let row = change_event::ActiveModel {
        occurred_at: Set(registry.now()),
        kind: Set(event.kind),
        entity_type: Set(entity_type.to_owned()),
        entity_id: Set(entity_id),
        recipient_id: Set(event.recipient_id),
        recipient_kind: Set(event.recipient_kind),
        flow_id: Set(event.flow_id),
        activity_id: Set(event.activity_id),
        actor: Set(actor.0.clone()),
        reason: Set(reason),
        changes: Set(event.changes),
        snapshot: Set(event.snapshot),
        announced_at: Set(event.announced_at),
        effective_at: Set(event.effective_at),
        public: Set(event.public),
        ..Default::default()
    }
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

/// Field-level differences between two snapshots: `{"field": {"before": x, "after": y}}`.
/// Against `Value::Null` (a creation or a deletion) every field is listed.
pub(crate) fn diff(before: &Value, after: &Value) -> Value {
    let empty = Map::new();
    let before = before.as_object().unwrap_or(&empty);
    let after = after.as_object().unwrap_or(&empty);
    let mut changes = Map::new();
    for key in before.keys().chain(after.keys()) {
        if changes.contains_key(key) {
            continue;
        }
        let old = before.get(key).unwrap_or(&Value::Null);
        let new = after.get(key).unwrap_or(&Value::Null);
        if old != new {
            changes.insert(
                key.clone(),
                serde_json::json!({ "before": old, "after": new }),
            );
        }
    }
    Value::Object(changes)
}

#[cfg(test)]
mod tests {
    use super::diff;
    use serde_json::json;

    #[test]
    fn diff_lists_only_changed_fields() {
        let before = json!({"legalName": "A", "country": "NL", "locations": ["NL"]});
        let after = json!({"legalName": "A", "country": "US", "locations": ["NL", "US"]});
        assert_eq!(
            diff(&before, &after),
            json!({
                "country": {"before": "NL", "after": "US"},
                "locations": {"before": ["NL"], "after": ["NL", "US"]},
            })
        );
        assert_eq!(diff(&after, &after), json!({}));
    }
}
