//! The append-only change log: one row per change to a recipient, a data flow or a
//! processing activity, written in the
//! same transaction as the change. `seq` orders every event the registry ever recorded.

use crate::{ChangeKind, EntityType, FieldChanges, RecipientKind};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "change_event")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub seq: i64,
    pub occurred_at: DateTimeUtc,
    pub kind: ChangeKind,
    /// What the event is about; follows from `kind`.
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
    /// Field-level changes: `{"field": {"before": ..., "after": ...}}`. Empty for a creation
    /// or a deletion, whose changes are every field of the snapshot (from or to nothing);
    /// events logged before that rule hold them (the same). Readers of the log derive them.
    #[sea_orm(column_type = "JsonBinary")]
    pub changes: FieldChanges,
    /// The whole entity after the change (before it, for a deletion): the registry's snapshot
    /// type for `entity_type`.
    #[sea_orm(column_type = "JsonBinary")]
    pub snapshot: Json,
    pub announced_at: Option<DateTimeUtc>,
    pub effective_at: Option<DateTimeUtc>,
    /// Visible on the public subprocessor feed.
    pub public: bool,
    /// For a public event, its position among the public events (1, 2, 3... in commit order):
    /// what the public feed numbers it by, so that it reveals nothing of internal events.
    #[sea_orm(unique)]
    pub public_seq: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
