//! Secrets the notices need on every replica: the key that signs unsubscribe links and form
//! tokens. Made once, on first use.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "notice_key")]
pub struct Model {
    /// What the key is for (`links`).
    #[sea_orm(primary_key, auto_increment = false)]
    pub purpose: String,
    /// 32 random bytes, hex.
    pub secret: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
