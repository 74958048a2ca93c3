//! A customer's objection to an announced subprocessor (GDPR Art. 28(2)).

use crate::ObjectionStatus;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "objection")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub recipient_id: i32,
    /// The change-log event of the announcement objected to.
    pub announcement_seq: i64,
    /// The objecting customer (organisation name).
    pub customer: String,
    /// Where to reach the customer about the objection.
    pub contact: String,
    pub reason: String,
    pub status: ObjectionStatus,
    pub resolution: Option<String>,
    pub resolved_by: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
