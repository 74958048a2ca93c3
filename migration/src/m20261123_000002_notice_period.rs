//! Notice periods and objections: when a recipient was announced and takes effect, and the
//! customers' objections to it.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(Clone, Copy, DeriveIden)]
enum Recipient {
    Table,
    Id,
    AnnouncedAt,
    EffectiveAt,
}

#[derive(Clone, Copy, DeriveIden)]
enum Objection {
    Table,
    Id,
    RecipientId,
    AnnouncementSeq,
    Customer,
    Contact,
    Reason,
    Status,
    Resolution,
    ResolvedBy,
    CreatedAt,
    UpdatedAt,
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE.
        for column in [Recipient::AnnouncedAt, Recipient::EffectiveAt] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Recipient::Table)
                        .add_column(timestamp_with_time_zone_null(column))
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(Objection::Table)
                    .if_not_exists()
                    .col(pk_auto(Objection::Id))
                    .col(integer(Objection::RecipientId))
                    .col(big_integer(Objection::AnnouncementSeq))
                    .col(string(Objection::Customer))
                    .col(string(Objection::Contact))
                    .col(text(Objection::Reason))
                    .col(string_len(Objection::Status, 16))
                    .col(text_null(Objection::Resolution))
                    .col(string_null(Objection::ResolvedBy))
                    .col(timestamp_with_time_zone(Objection::CreatedAt))
                    .col(timestamp_with_time_zone(Objection::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Objection::Table, Objection::RecipientId)
                            .to(Recipient::Table, Recipient::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_objection_recipient")
                    .table(Objection::Table)
                    .col(Objection::RecipientId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Objection::Table).to_owned())
            .await?;
        for column in [Recipient::EffectiveAt, Recipient::AnnouncedAt] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Recipient::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
