//! The migrations run both ways, on a registry that holds data: each `down` undoes its `up`,
//! the schema `up` rebuilds is the one it built the first time, and rolling the later
//! migrations back and forward again keeps the registry's recipients, flows and history.

use crate::common;

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection, Statement};
use subreg::registry::Registry;
use subreg::{db, seed};

/// The tables, columns and indexes of the database, as the backend describes them.
async fn schema_of(conn: &DatabaseConnection) -> Vec<String> {
    let sql = match conn.get_database_backend() {
        DatabaseBackend::Sqlite => {
            "SELECT type || ' ' || name || ': ' || COALESCE(sql, '') AS line FROM sqlite_master
             WHERE name NOT LIKE 'sqlite_%' AND name <> 'seaql_migrations' ORDER BY type, name"
        }
        _ => {
            "SELECT line FROM (
               SELECT 'column ' || table_name || '.' || column_name || ': ' || data_type || ' '
                      || is_nullable || ' ' || COALESCE(column_default, '') AS line
               FROM information_schema.columns
               WHERE table_schema = 'public' AND table_name <> 'seaql_migrations'
               UNION ALL
               SELECT 'index ' || indexname || ': ' || indexdef
               FROM pg_indexes WHERE schemaname = 'public' AND tablename <> 'seaql_migrations'
               UNION ALL
               SELECT 'constraint ' || conname || ': ' || pg_get_constraintdef(oid)
               FROM pg_constraint WHERE connamespace = 'public'::regnamespace
                 AND conrelid::regclass::text <> 'seaql_migrations'
             ) AS schema ORDER BY line"
        }
    };
    conn.query_all_raw(Statement::from_string(conn.get_database_backend(), sql))
        .await
        .expect("read the schema")
        .iter()
        .map(|row| row.try_get::<String>("", "line").expect("a schema line"))
        .collect()
}

/// How many rows the registry's main tables hold.
async fn rows_of(conn: &DatabaseConnection) -> Vec<(&'static str, i64)> {
    let mut rows = Vec::new();
    for table in [
        "recipient",
        "processing_activity",
        "data_flow",
        "transfer",
        "change_event",
    ] {
        let count = conn
            .query_one_raw(Statement::from_string(
                conn.get_database_backend(),
                format!("SELECT COUNT(*) AS n FROM {table}"),
            ))
            .await
            .expect("count rows")
            .expect("one row")
            .try_get::<i64>("", "n")
            .expect("a count");
        rows.push((table, count));
    }
    rows
}

/// A fresh database, migrated and holding the example registry, with the parsed file.
async fn example_registry() -> (
    common::TestDatabase,
    DatabaseConnection,
    seed::format::RegistryFile,
) {
    let database = common::fresh_database().await;
    let conn = db::connect(&database.url, None).await.expect("connect");
    db::migrate(&conn).await.expect("migrate");
    let example = seed::parse(seed::EXAMPLE_REGISTRY).expect("the shipped file parses");
    seed::load(&Registry::new(conn.clone()), &example)
        .await
        .expect("the example registry loads");
    (database, conn, example)
}

#[tokio::test]
async fn every_migration_rolls_back_and_applies_again() {
    let (_database, conn, example) = example_registry().await;
    let schema = schema_of(&conn).await;
    assert!(
        schema.iter().any(|line| line.contains("recipient_id")),
        "{schema:#?}"
    );
    let rows = rows_of(&conn).await;
    assert!(rows.iter().all(|(_, n)| *n > 0), "{rows:?}");

    // Back one migration at a time to the first, then forward again.
    let migrations = Migrator::migrations().len();
    for applied in (1..migrations).rev() {
        Migrator::down(&conn, Some(1))
            .await
            .unwrap_or_else(|e| panic!("rolling back to {applied} migrations: {e}"));
        let now_applied = Migrator::get_applied_migrations(&conn)
            .await
            .expect("applied migrations")
            .len();
        assert_eq!(now_applied, applied);
    }
    Migrator::up(&conn, None).await.expect("apply them again");
    assert_eq!(schema_of(&conn).await, schema);
    assert_eq!(
        rows_of(&conn).await,
        rows,
        "the registry survives the round trip"
    );

    // All the way down leaves no table of the registry; up builds the same schema again, on
    // which the example registry loads as on a new database.
    Migrator::down(&conn, None)
        .await
        .expect("roll back every migration");
    assert_eq!(schema_of(&conn).await, Vec::<String>::new());
    Migrator::up(&conn, None)
        .await
        .expect("apply every migration");
    assert_eq!(schema_of(&conn).await, schema);
    seed::load(&Registry::new(conn.clone()), &example)
        .await
        .expect("the example registry loads again");
    assert_eq!(rows_of(&conn).await, rows);
}

/// Migration 000006 reads `change_event.entity_type` as an enum: every event already in the
/// log is kept and set from its kind, so a row that an earlier version wrote with any entity
/// type string reads back, and the registry's history says what it said before.
#[tokio::test]
async fn the_entity_type_of_every_logged_event_follows_from_its_kind() {
    use entity::{EntityType, change_event};
    use sea_orm::{EntityTrait, QueryOrder};

    let (_database, conn, _) = example_registry().await;
    let before = rows_of(&conn).await;

    let from_000006 = Migrator::migrations()
        .iter()
        .rev()
        .position(|m| m.name().contains("000006"))
        .expect("migration 000006")
        + 1;
    Migrator::down(&conn, Some(from_000006 as u32))
        .await
        .expect("back before 000006");
    // Rows as an earlier version could have left them: one entity type per kind family, in
    // the wrong case and in the wrong family.
    let backend = conn.get_database_backend();
    for sql in [
        "UPDATE change_event SET entity_type = 'recipient' WHERE kind = 'RECIPIENT_CREATED'",
        "UPDATE change_event SET entity_type = 'RECIPIENT' WHERE kind = 'FLOW_CREATED'",
        "UPDATE change_event SET entity_type = 'activity' WHERE kind = 'ACTIVITY_CREATED'",
    ] {
        conn.execute_raw(Statement::from_string(backend, sql))
            .await
            .expect("write a legacy row");
    }
    Migrator::up(&conn, None).await.expect("apply 000006");

    assert_eq!(rows_of(&conn).await, before, "every event is kept");
    let events = change_event::Entity::find()
        .order_by_asc(change_event::Column::Seq)
        .all(&conn)
        .await
        .expect("every event reads back as its types");
    assert!(!events.is_empty());
    for event in &events {
        assert_eq!(event.entity_type, event.kind.entity_type(), "{}", event.seq);
    }
    for entity in [
        EntityType::Recipient,
        EntityType::DataFlow,
        EntityType::ProcessingActivity,
    ] {
        assert!(
            events.iter().any(|e| e.entity_type == entity),
            "{entity:?} events"
        );
    }
}

/// Migration 000007: a registry whose log put the organization's own flows to listed
/// recipients on the public feed (as versions before it did) ends with the public feed a new
/// registry has, each public event numbered among the public ones.
#[tokio::test]
async fn the_public_feed_of_an_older_log_is_corrected_and_numbered() {
    use entity::change_event;
    use sea_orm::{EntityTrait, QueryOrder};

    let (_database, conn, _) = example_registry().await;
    let flags = |events: &[change_event::Model]| -> Vec<(i64, bool)> {
        events.iter().map(|e| (e.seq, e.public)).collect()
    };
    let read = || async {
        change_event::Entity::find()
            .order_by_asc(change_event::Column::Seq)
            .all(&conn)
            .await
            .expect("the log")
    };
    let fresh = read().await;

    // Back before 000007, with every flow to a public recipient on the public feed, as the
    // rule before it had them.
    let later = Migrator::migrations().len() - 6;
    Migrator::down(&conn, Some(later as u32))
        .await
        .expect("back before 000007");
    let backend = conn.get_database_backend();
    let true_ = if backend == sea_orm::DatabaseBackend::Postgres {
        "TRUE"
    } else {
        "1"
    };
    conn.execute_raw(Statement::from_string(
        backend,
        format!(
            "UPDATE change_event SET public = {true_} WHERE entity_type = 'DATA_FLOW' \
             AND recipient_id IN (SELECT id FROM recipient WHERE public = {true_})"
        ),
    ))
    .await
    .expect("write the older flags");
    Migrator::up(&conn, None).await.expect("apply 000007");

    let migrated = read().await;
    assert_eq!(flags(&migrated), flags(&fresh));
    let numbers: Vec<i64> = migrated.iter().filter_map(|e| e.public_seq).collect();
    assert_eq!(numbers, (1..=numbers.len() as i64).collect::<Vec<_>>());
    assert!(migrated.iter().all(|e| e.public == e.public_seq.is_some()));
}
