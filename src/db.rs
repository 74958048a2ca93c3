//! Opening the database: SQLite (the embedded default, in WAL mode so that readers never block
//! the writer and a crash loses no committed write) or PostgreSQL.

use crate::metrics::Metrics;
use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr};
use std::time::Duration;

/// Connects to `url`, counting every statement in `metrics`.
pub async fn connect(url: &str, metrics: Option<Metrics>) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(url);
    options
        .sqlx_logging(false)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(10))
        .map_sqlx_sqlite_opts(|o| {
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10))
        });
    let mut db = Database::connect(options).await?;
    if let Some(metrics) = metrics {
        db.set_metric_callback(move |info| metrics.observe_statement(info.elapsed, info.failed));
    }
    Ok(db)
}

/// Applies every pending migration.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    Migrator::up(db, None).await
}
