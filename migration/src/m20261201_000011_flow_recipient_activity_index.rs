//! The flows' index by recipient becomes one by recipient and activity: the public list asks,
//! per recipient, for a flow in an activity the organization performs as processor (the
//! subprocessor rule) and for the activities' products, and both are then answered from the
//! index alone, in a few reads per recipient, however many flows the registry holds.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum DataFlow {
    Table,
    RecipientId,
    ActivityId,
}

const OLD: &str = "idx_data_flow_recipient";
const NEW: &str = "idx_data_flow_recipient_activity";

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(NEW)
                    .table(DataFlow::Table)
                    .col(DataFlow::RecipientId)
                    .col(DataFlow::ActivityId)
                    .to_owned(),
            )
            .await?;
        // Its first column serves every lookup the old index served.
        manager
            .drop_index(Index::drop().name(OLD).table(DataFlow::Table).to_owned())
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(OLD)
                    .table(DataFlow::Table)
                    .col(DataFlow::RecipientId)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(Index::drop().name(NEW).table(DataFlow::Table).to_owned())
            .await
    }
}
