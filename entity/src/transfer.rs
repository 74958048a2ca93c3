//! A transfer to a third country (GDPR Chapter V): one per data flow and destination outside the
//! EEA, with the safeguard it relies on.

use crate::{Derogation, TransferMechanism};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "transfer")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub flow_id: i32,
    pub country: String,
    pub mechanism: TransferMechanism,
    pub scc_module: Option<i16>,
    pub derogation: Option<Derogation>,
    pub safeguards: Option<String>,
    pub tia_date: Option<Date>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
