//! The legal entity that keeps the registry: the controller in its own processing, the processor
//! for its customers'.

use crate::TextList;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "organization")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub name: String,
    pub address: String,
    pub country: String,
    pub dpo_name: String,
    pub dpo_email: String,
    pub dpo_address: Option<String>,
    pub representative: Option<String>,
    /// Art. 30(2)(a): where the name and contact details of each controller the organization
    /// processes for are kept (its customer records), when the record does not list them.
    pub controllers_register: Option<String>,
    #[sea_orm(column_type = "JsonBinary")]
    pub sources: TextList,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
