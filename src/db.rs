//! Opening the database: SQLite (the embedded default, in WAL mode so that readers never block
//! the writer and a crash loses no committed write) or PostgreSQL.

use crate::metrics::Metrics;
use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, Database, DatabaseBackend, DatabaseConnection, DbErr, SqlxPostgresConnector,
    SqlxSqliteConnector,
};
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

/// A second pool of at most `max` connections to the database `db` is connected to, with the
/// same options (and statements counted in `metrics`). Its connections are opened when first
/// needed, on the runtime that needs them: a part of the process that runs on a runtime of its
/// own (the notice dispatcher) gets a pool of its own, so that its sockets are not driven by the
/// request-serving runtime's reactor, nor the requests' by its.
pub fn pool_beside(
    db: &DatabaseConnection,
    max: u32,
    metrics: Option<Metrics>,
) -> Result<DatabaseConnection, DbErr> {
    let mut pool = match db.get_database_backend() {
        DatabaseBackend::Postgres => {
            let pool = db.get_postgres_connection_pool();
            SqlxPostgresConnector::from_sqlx_postgres_pool(
                pool.options()
                    .clone()
                    .max_connections(max)
                    .connect_lazy_with((*pool.connect_options()).clone()),
            )
        }
        DatabaseBackend::Sqlite => {
            let pool = db.get_sqlite_connection_pool();
            SqlxSqliteConnector::from_sqlx_sqlite_pool(
                pool.options()
                    .clone()
                    .max_connections(max)
                    .connect_lazy_with((*pool.connect_options()).clone()),
            )
        }
        other => {
            return Err(DbErr::Custom(format!(
                "{other:?} is not a database Subreg runs on"
            )));
        }
    };
    if let Some(metrics) = metrics {
        pool.set_metric_callback(move |info| metrics.observe_statement(info.elapsed, info.failed));
    }
    Ok(pool)
}

/// Applies every pending migration.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    Migrator::up(db, None).await
}
