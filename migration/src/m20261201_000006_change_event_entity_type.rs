//! `change_event.entity_type` is read as an enum (`RECIPIENT`, `DATA_FLOW`,
//! `PROCESSING_ACTIVITY`) like the other enumerated columns. The column's type is already the
//! enum's (a string of at most 32 characters); what changes is that every row must hold one of
//! the three values, or reading it back fails. An event's entity type follows from its kind, so
//! every existing row is set from its kind: rows are kept, and one written by any earlier
//! version reads back.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared(
            "UPDATE change_event SET entity_type = CASE \
               WHEN kind LIKE 'RECIPIENT\\_%' ESCAPE '\\' THEN 'RECIPIENT' \
               WHEN kind LIKE 'FLOW\\_%' ESCAPE '\\' THEN 'DATA_FLOW' \
               WHEN kind LIKE 'ACTIVITY\\_%' ESCAPE '\\' THEN 'PROCESSING_ACTIVITY' \
               ELSE entity_type END",
        )
        .await?;
        let unknown = db
            .query_one_raw(sea_orm_migration::sea_orm::Statement::from_string(
                manager.get_database_backend(),
                "SELECT COUNT(*) AS n FROM change_event \
                 WHERE entity_type NOT IN ('RECIPIENT', 'DATA_FLOW', 'PROCESSING_ACTIVITY')",
            ))
            .await?
            .map(|row| row.try_get::<i64>("", "n"))
            .transpose()?
            .unwrap_or(0);
        if unknown > 0 {
            return Err(DbErr::Migration(format!(
                "{unknown} change-log events have a kind this version does not know; upgrade from the version that wrote them"
            )));
        }
        Ok(())
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        // The stored values are the strings earlier versions wrote: nothing to undo.
        Ok(())
    }
}
