//! What a plan reports: each entry's changes, field by field; what the notice period holds
//! back; what the manifest leaves out; and what customers would see and be sent.

use chrono::{DateTime, Utc};
use entity::{ChangeKind, FieldChanges, NoticeChannel, RecipientStatus};
use serde::Serialize;
use serde_json::Value;

/// What applying a manifest changes (or changed), and what it means for customers.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    /// Each entry added, changed or removed, with its fields before and after.
    pub changes: Vec<EntryChange>,
    /// Status changes the notice period holds back.
    pub held: Vec<Held>,
    /// Entries the manifest leaves out, kept because `prune` was not asked for.
    pub ignored: Vec<Ignored>,
    /// Public recipients that would join the subprocessor list.
    pub joining: Vec<Joining>,
    /// The changes customers would be told of (the public feed's events).
    pub public_changes: Vec<PublicChange>,
    /// The notices that would be sent: per subscriber, how many.
    pub notices: Vec<NoticeImpact>,
    /// Whether the changes were committed (apply) or rolled back (plan).
    pub applied: bool,
}

impl Plan {
    /// Whether applying changes anything (what `subreg plan` exits 2 for).
    pub fn has_changes(&self) -> bool {
        !self.changes.is_empty() || !self.public_changes.is_empty()
    }
}

/// What happens to an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Action {
    Added,
    Changed,
    Removed,
}

/// One entry's change.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EntryChange {
    /// The manifest's section: `recipients`, `data_flows`...
    pub section: &'static str,
    /// The entry's key (for a data flow, what identifies it).
    pub key: String,
    pub action: Action,
    /// The fields that differ, as the manifest names them.
    pub fields: Vec<FieldDiff>,
}

/// One field before and after (absent: not set).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldDiff {
    pub field: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// A status the manifest asks for that the notice period holds back.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Held {
    pub key: String,
    pub requested: RecipientStatus,
    /// The status the recipient has after the apply.
    pub status: RecipientStatus,
    pub reason: String,
    /// When it could take effect at the earliest if announced now, or when it will.
    pub effective_at: Option<DateTime<Utc>>,
}

/// An entry the manifest leaves out, kept.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Ignored {
    pub section: &'static str,
    pub key: String,
}

/// A public recipient that would join the subprocessor list.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Joining {
    pub key: String,
    pub legal_name: String,
    /// ANNOUNCED when this apply announces it, PROPOSED when it waits for an announcement.
    pub status: RecipientStatus,
    /// The effective date: the one set by this apply's announcement, or the earliest one an
    /// announcement now would give.
    pub effective_at: DateTime<Utc>,
}

/// An event customers would see, as they see it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PublicChange {
    pub kind: ChangeKind,
    /// The recipient concerned, by key.
    pub recipient: String,
    /// The fields customers see change.
    pub changes: FieldChanges,
    pub effective_at: Option<DateTime<Utc>>,
}

/// The notices one subscriber would be sent.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NoticeImpact {
    pub channel: NoticeChannel,
    pub customer: Option<String>,
    pub address: String,
    /// How many notices (one per public change it follows).
    pub notices: usize,
}
