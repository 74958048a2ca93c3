//! Appending to the change log, inside the transaction of the change it records.

use super::Actor;
use super::error::Result;
use chrono::{DateTime, Utc};
use entity::{ChangeKind, change_event};
use sea_orm::{ActiveModelTrait, ConnectionTrait, DatabaseBackend, DatabaseTransaction, Set};
use serde_json::{Map, Value};

/// An event about to be appended.
pub(crate) struct NewEvent {
    pub kind: ChangeKind,
    pub recipient_id: Option<i32>,
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

/// Appends `event` within `txn` and returns its sequence number.
///
/// On PostgreSQL a transaction-scoped advisory lock makes appends commit in sequence order, so a
/// reader that has seen sequence number N can never later find a smaller one appear. SQLite
/// already admits one writer at a time.
pub(crate) async fn append(
    txn: &DatabaseTransaction,
    actor: &Actor,
    reason: Option<&str>,
    event: NewEvent,
) -> Result<i64> {
    if txn.get_database_backend() == DatabaseBackend::Postgres {
        txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({CHANGE_LOG_LOCK})"))
            .await?;
    }
    let row = change_event::ActiveModel {
        occurred_at: Set(Utc::now()),
        kind: Set(event.kind),
        recipient_id: Set(event.recipient_id),
        flow_id: Set(event.flow_id),
        activity_id: Set(event.activity_id),
        actor: Set(actor.0.clone()),
        reason: Set(reason.map(str::to_owned)),
        changes: Set(event.changes),
        snapshot: Set(event.snapshot),
        announced_at: Set(event.announced_at),
        effective_at: Set(event.effective_at),
        public: Set(event.public),
        ..Default::default()
    }
    .insert(txn)
    .await?;
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
