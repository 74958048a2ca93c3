//! A node of the data category taxonomy. `key` is dotted (`contact.phone_number`) and its prefix is
//! the parent's key, so "a category and its descendants" is a key prefix match.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "data_category")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    #[sea_orm(unique)]
    pub key: String,
    pub parent_id: Option<i32>,
    pub name: String,
    pub description: Option<String>,
    pub special_category: bool,
    pub fides_key: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
