//! A category of data subjects whose data a data flow sends.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "flow_data_subject")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub flow_id: i32,
    #[sea_orm(primary_key, auto_increment = false)]
    pub data_subject_id: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::data_subject_category::Entity",
        from = "Column::DataSubjectId",
        to = "super::data_subject_category::Column::Id"
    )]
    DataSubjectCategory,
}

impl Related<super::data_subject_category::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::DataSubjectCategory.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
