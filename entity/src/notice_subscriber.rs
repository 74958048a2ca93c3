//! Someone who is told of public changes: an email address or a webhook endpoint, with the
//! customer it belongs to and its cursor into the public change log.

use crate::{NoticeChannel, NoticeScope, SubscriberSource, SubscriberStatus, TextList};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "notice_subscriber")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub channel: NoticeChannel,
    /// The customer (controller) the address or endpoint belongs to, when known.
    pub customer: Option<String>,
    /// The email address, or the endpoint's URL.
    pub address: String,
    pub scope: NoticeScope,
    /// Only changes concerning these products (keys); every product when empty.
    #[sea_orm(column_type = "JsonBinary")]
    pub products: TextList,
    pub status: SubscriberStatus,
    pub source: SubscriberSource,
    /// The SUBSCRIBER key that registered the endpoint.
    pub owner_key_id: Option<i32>,
    /// Where an endpoint's owner is told that it was disabled.
    pub contact_email: Option<String>,
    /// SHA-256 (hex) of the double opt-in token; cleared once confirmed.
    pub confirm_token_hash: Option<String>,
    /// A webhook endpoint's signing secrets (`whsec_...`), newest first; more than one while a
    /// rotation runs.
    #[sea_orm(column_type = "JsonBinary")]
    pub secrets: TextList,
    /// Every public event up to this sequence number has its delivery queued (or did not
    /// concern the subscriber).
    pub cursor: i64,
    /// A dispatcher holds the subscriber's deliveries until then.
    pub lease_until: Option<DateTimeUtc>,
    pub leased_by: Option<String>,
    pub disabled_reason: Option<String>,
    pub created_by: String,
    pub created_at: DateTimeUtc,
    pub confirmed_at: Option<DateTimeUtc>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
