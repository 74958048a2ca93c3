//! The public feed shows subprocessing only, and counts its own events.
//!
//! 1. A data-flow event is public only when the flow made its recipient a subprocessor: the
//!    organization processor in the activity, the recipient processor in the flow (its own role,
//!    else the recipient's default). Events written before this rule for the organization's own
//!    flows to a listed recipient (billing, marketing) showed customers what is none of their
//!    business; they are taken off the public feed, judged by the states of the flow's activity
//!    and recipient that the log held when each was written.
//! 2. Each public event gets `public_seq`, its position among public events (1, 2, 3... in
//!    commit order), so that what the public sees of the feed (its cursors, its sequence
//!    numbers) counts public events only and reveals nothing of the internal ones between them.
//!
//! `down` removes the column; the flags cleared in 1 stay cleared (they were wrong).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{DatabaseBackend, Statement};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(Clone, Copy, DeriveIden)]
enum ChangeEvent {
    Table,
    PublicSeq,
}

const INDEX: &str = "idx_change_event_public_seq";

/// The flow events to take off the public feed: those whose flow did not make its recipient a
/// subprocessor, by the activity's and the recipient's latest snapshots up to the event.
fn not_subprocessing(backend: DatabaseBackend) -> String {
    let field = |column: &str, name: &str| match backend {
        DatabaseBackend::Postgres => format!("({column} ->> '{name}')"),
        _ => format!("json_extract({column}, '$.{name}')"),
    };
    let latest = |entity_type: &str, id: &str, name: &str| {
        format!(
            "(SELECT {value} FROM change_event s WHERE s.entity_type = '{entity_type}' \
             AND s.entity_id = e.{id} AND s.seq <= e.seq ORDER BY s.seq DESC LIMIT 1)",
            value = field("s.snapshot", name)
        )
    };
    format!(
        "UPDATE change_event SET public = {false_} WHERE seq IN (SELECT e.seq FROM change_event e \
         WHERE e.entity_type = 'DATA_FLOW' AND e.public = {true_} AND NOT ( \
           COALESCE({role}, {default_role}, '') = 'PROCESSOR' \
           AND COALESCE({organization_role}, '') = 'PROCESSOR'))",
        false_ = if backend == DatabaseBackend::Postgres {
            "FALSE"
        } else {
            "0"
        },
        true_ = if backend == DatabaseBackend::Postgres {
            "TRUE"
        } else {
            "1"
        },
        role = field("e.snapshot", "role"),
        default_role = latest("RECIPIENT", "recipient_id", "defaultRole"),
        organization_role = latest("PROCESSING_ACTIVITY", "activity_id", "organizationRole"),
    )
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        let db = manager.get_connection();
        db.execute_raw(Statement::from_string(backend, not_subprocessing(backend)))
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(ChangeEvent::Table)
                    .add_column(ColumnDef::new(ChangeEvent::PublicSeq).big_integer().null())
                    .to_owned(),
            )
            .await?;
        let true_ = if backend == DatabaseBackend::Postgres {
            "TRUE"
        } else {
            "1"
        };
        db.execute_raw(Statement::from_string(
            backend,
            format!(
                "UPDATE change_event SET public_seq = numbered.n FROM ( \
                   SELECT seq, ROW_NUMBER() OVER (ORDER BY seq) AS n FROM change_event \
                   WHERE public = {true_}) AS numbered \
                 WHERE change_event.seq = numbered.seq"
            ),
        ))
        .await?;
        manager
            .create_index(
                Index::create()
                    .name(INDEX)
                    .table(ChangeEvent::Table)
                    .col(ChangeEvent::PublicSeq)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name(INDEX)
                    .table(ChangeEvent::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(ChangeEvent::Table)
                    .drop_column(ChangeEvent::PublicSeq)
                    .to_owned(),
            )
            .await
    }
}
