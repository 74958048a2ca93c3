//! The change log's entity index gains the event's instant, so "the latest event of each entity
//! up to an instant" (every past-date view: the record of processing activities, the
//! subprocessor list as of a date) is answered from the index alone, without reading the events'
//! snapshots. It replaces the `(entity_type, entity_id, seq)` index, whose queries it also serves.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(Clone, Copy, DeriveIden)]
enum ChangeEvent {
    Table,
    Seq,
    EntityType,
    EntityId,
    OccurredAt,
}

const OLD: &str = "idx_change_event_entity";
const NEW: &str = "idx_change_event_entity_occurred";

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(NEW)
                    .table(ChangeEvent::Table)
                    .col(ChangeEvent::EntityType)
                    .col(ChangeEvent::EntityId)
                    .col(ChangeEvent::OccurredAt)
                    .col(ChangeEvent::Seq)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(Index::drop().name(OLD).table(ChangeEvent::Table).to_owned())
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(OLD)
                    .table(ChangeEvent::Table)
                    .col(ChangeEvent::EntityType)
                    .col(ChangeEvent::EntityId)
                    .col(ChangeEvent::Seq)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(Index::drop().name(NEW).table(ChangeEvent::Table).to_owned())
            .await
    }
}
