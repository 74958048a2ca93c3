//! A data flow: a processing activity sends some of its data to a recipient, in a role, to some
//! countries. `via_recipient_id` makes it an onward flow from another recipient (Segment ->
//! Mixpanel), so the registry is a graph. `exporter_recipient_id` names the establishment of the
//! organization (an affiliate) that sends the data of a direct flow, when not the organization.

use crate::{RecipientRole, TextList};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "data_flow")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub activity_id: i32,
    pub recipient_id: i32,
    pub via_recipient_id: Option<i32>,
    /// The organization's establishment (an affiliate recipient) that exports the data of a
    /// direct flow; the organization itself when absent.
    pub exporter_recipient_id: Option<i32>,
    /// Overrides the recipient's default role for this flow.
    pub role: Option<RecipientRole>,
    pub purpose: Option<String>,
    #[sea_orm(column_type = "JsonBinary")]
    pub assumptions: TextList,
    #[sea_orm(column_type = "JsonBinary")]
    pub sources: TextList,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
