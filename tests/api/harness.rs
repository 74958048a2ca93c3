//! The harness itself: a test's database is gone once the test is done with it, on SQLite (its
//! directory) and on PostgreSQL (the database, even with connections still open to it).

use crate::common::fresh_database;

use sea_orm::{ConnectionTrait, Database, DatabaseBackend, Statement};
use subreg::db;

#[tokio::test]
async fn a_test_database_is_gone_once_dropped() {
    let database = fresh_database().await;
    let url = database.url.clone();
    // A connection still open when the database goes, as a server's pool would be.
    let open = db::connect(&url, None).await.expect("connect");
    db::migrate(&open).await.expect("migrate");
    drop(database);
    match std::env::var("DATABASE_URL") {
        Ok(admin) if admin.starts_with("postgres") => {
            let name = url.rsplit('/').next().expect("a database name");
            let admin = Database::connect(&admin)
                .await
                .expect("connect to PostgreSQL");
            let left = admin
                .query_one_raw(Statement::from_sql_and_values(
                    DatabaseBackend::Postgres,
                    "SELECT count(*) AS n FROM pg_database WHERE datname = $1",
                    [name.into()],
                ))
                .await
                .expect("count databases")
                .expect("one row")
                .try_get::<i64>("", "n")
                .expect("a count");
            assert_eq!(left, 0, "{name} is still there");
        }
        _ => {
            let path = url
                .strip_prefix("sqlite://")
                .and_then(|rest| rest.split('?').next())
                .expect("a SQLite path");
            assert!(
                !std::path::Path::new(path).exists(),
                "{path} is still there"
            );
        }
    }
    drop(open);
}
