//! A processing activity: what the organization does with personal data, why, on which legal
//! basis, in which role, and for how long it keeps the data.

use crate::{LegalBasis, OrganizationRole, RetentionStart, TextList};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "processing_activity")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    #[sea_orm(unique)]
    pub key: String,
    pub name: String,
    pub description: Option<String>,
    pub organization_role: OrganizationRole,
    /// Art. 30(2)(a): the controllers, by category, on whose behalf the organization processes.
    #[sea_orm(column_type = "JsonBinary")]
    pub controllers: TextList,
    #[sea_orm(column_type = "JsonBinary")]
    pub purposes: TextList,
    pub legal_basis: Option<LegalBasis>,
    /// ISO 8601 duration (P6M, P10Y...).
    pub retention_period: Option<String>,
    /// What the retention period runs from, or that the data is kept for the duration of the
    /// contract.
    pub retention_from: Option<RetentionStart>,
    pub retention_reason: Option<String>,
    #[sea_orm(column_type = "JsonBinary")]
    pub security_measures: TextList,
    pub special_category_condition: Option<String>,
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
