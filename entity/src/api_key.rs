//! An API key. The secret itself is shown once, when the key is created, and never stored: only
//! its SHA-256 hash, by which a presented key is looked up.

use crate::Role;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "api_key")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    /// Who or what holds the key ("billing-sync", "Jane Doe (DPO)"); named as the actor of the
    /// changes made with it.
    pub name: String,
    pub role: Role,
    /// The secret's first characters, to recognise a key in lists and logs.
    pub prefix: String,
    /// SHA-256 of the secret, hex-encoded.
    #[sea_orm(unique)]
    pub secret_hash: String,
    pub created_at: DateTimeUtc,
    pub created_by: String,
    pub revoked_at: Option<DateTimeUtc>,
    pub revoked_by: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
