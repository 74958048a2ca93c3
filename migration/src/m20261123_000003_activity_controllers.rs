//! The controllers (by category) on whose behalf a processing activity is carried out, for the
//! processor's record (GDPR Art. 30(2)(a)).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(Clone, Copy, DeriveIden)]
enum ProcessingActivity {
    Table,
    Controllers,
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(ProcessingActivity::Table)
                    .add_column(json_binary(ProcessingActivity::Controllers).default("[]"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(ProcessingActivity::Table)
                    .drop_column(ProcessingActivity::Controllers)
                    .to_owned(),
            )
            .await
    }
}
