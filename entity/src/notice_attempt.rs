//! One attempt to deliver a notice: its time, the mail server's reply or the endpoint's status.

use crate::AttemptOutcome;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "notice_attempt")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub delivery_id: i64,
    pub attempted_at: DateTimeUtc,
    pub outcome: AttemptOutcome,
    /// The SMTP reply code or the HTTP status.
    pub code: Option<i32>,
    /// The SMTP reply text, or where the message was written.
    pub reply: Option<String>,
    /// Why the attempt failed, when it did without a reply.
    pub error: Option<String>,
    /// SHA-256 (hex) of what was sent.
    pub content_hash: String,
    /// Which process made the attempt.
    pub replica: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
