//! The transfer rules' columns: the establishment that exports a direct flow, what a retention
//! period runs from, and where the organization keeps the names and contact details of the
//! controllers it processes for (Art. 30(2)(a)). All nullable, so every existing row stays as
//! it was: a flow without an exporter is exported by the organization, a retention period
//! without a start reads as before (and the findings ask for its start).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(Clone, Copy, DeriveIden)]
enum DataFlow {
    Table,
    ExporterRecipientId,
}

#[derive(Clone, Copy, DeriveIden)]
enum ProcessingActivity {
    Table,
    RetentionFrom,
}

#[derive(Clone, Copy, DeriveIden)]
enum Organization {
    Table,
    ControllersRegister,
}

const EXPORTER_INDEX: &str = "idx_data_flow_exporter_recipient";

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE.
        manager
            .alter_table(
                Table::alter()
                    .table(DataFlow::Table)
                    .add_column(integer_null(DataFlow::ExporterRecipientId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(EXPORTER_INDEX)
                    .table(DataFlow::Table)
                    .col(DataFlow::ExporterRecipientId)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(ProcessingActivity::Table)
                    .add_column(string_len_null(ProcessingActivity::RetentionFrom, 32))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Organization::Table)
                    .add_column(text_null(Organization::ControllersRegister))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Organization::Table)
                    .drop_column(Organization::ControllersRegister)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(ProcessingActivity::Table)
                    .drop_column(ProcessingActivity::RetentionFrom)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name(EXPORTER_INDEX)
                    .table(DataFlow::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(DataFlow::Table)
                    .drop_column(DataFlow::ExporterRecipientId)
                    .to_owned(),
            )
            .await
    }
}
