//! Anyone who receives personal data from the organization (GDPR Art. 4(9)).

use crate::{
    Derogation, RecipientKind, RecipientRole, RecipientStatus, TextList, TransferMechanism,
};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "recipient")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    #[sea_orm(unique)]
    pub key: String,
    pub legal_name: String,
    pub kind: RecipientKind,
    pub default_role: RecipientRole,
    pub description: Option<String>,
    pub country: String,
    pub dpa_reference: Option<String>,
    #[sea_orm(column_type = "JsonBinary")]
    pub certifications: TextList,
    pub dpf_certified: bool,
    pub website: Option<String>,
    pub privacy_notice_url: Option<String>,
    pub status: RecipientStatus,
    /// When customers were told of the recipient (the notice period started).
    pub announced_at: Option<DateTimeUtc>,
    /// When an announced recipient becomes active; customers may object until then.
    pub effective_at: Option<DateTimeUtc>,
    pub public: bool,
    /// Safeguard for the processing locations outside the EEA.
    pub transfer_mechanism: Option<TransferMechanism>,
    pub scc_module: Option<i16>,
    pub derogation: Option<Derogation>,
    pub derogation_safeguards: Option<String>,
    pub tia_date: Option<Date>,
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
