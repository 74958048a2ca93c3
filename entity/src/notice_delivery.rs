//! One notice to one subscriber: the evidence that a customer was told (GDPR Art. 28(2)).

use crate::{DeliveryStatus, NoticeKind};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "notice_delivery")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub subscriber_id: i32,
    pub kind: NoticeKind,
    /// The change-log event the notice tells of (for a change notice).
    pub seq: Option<i64>,
    /// The email's Message-ID or the webhook's `webhook-id`: the same on every attempt.
    pub message_id: String,
    /// Where it went: the address or URL at the time.
    pub address: String,
    pub status: DeliveryStatus,
    pub attempts: i32,
    pub queued_at: DateTimeUtc,
    pub next_attempt_at: DateTimeUtc,
    pub accepted_at: Option<DateTimeUtc>,
    /// SHA-256 (hex) of what the last attempt sent.
    pub content_hash: Option<String>,
    /// `smtp`, `file` (written to the mail directory, not sent) or `https`/`http`.
    pub transport: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
