//! Subreg's schema migrations. The same migrations build SQLite and PostgreSQL databases, and the
//! tests build every test database with them, so a migration that drifts from the entities fails
//! the suite.

pub use sea_orm_migration::prelude::*;

mod m20261123_000001_create_registry;
mod m20261123_000002_notice_period;
mod m20261123_000003_activity_controllers;
mod m20261123_000004_api_keys;
mod m20261123_000005_change_log_time_index;
mod m20261201_000006_change_event_entity_type;
mod m20261201_000007_public_feed;
mod m20261201_000008_registry_version;
mod m20261201_000009_transfer_rules;
mod m20261201_000010_notices;
mod m20261201_000011_flow_recipient_activity_index;
mod m20261202_000012_recipient_derivations;

pub struct Migrator;

#[sea_orm_migration::async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_create_registry::Migration),
            Box::new(m20261123_000002_notice_period::Migration),
            Box::new(m20261123_000003_activity_controllers::Migration),
            Box::new(m20261123_000004_api_keys::Migration),
            Box::new(m20261123_000005_change_log_time_index::Migration),
            Box::new(m20261201_000006_change_event_entity_type::Migration),
            Box::new(m20261201_000007_public_feed::Migration),
            Box::new(m20261201_000008_registry_version::Migration),
            Box::new(m20261201_000009_transfer_rules::Migration),
            Box::new(m20261201_000010_notices::Migration),
            Box::new(m20261201_000011_flow_recipient_activity_index::Migration),
            Box::new(m20261202_000012_recipient_derivations::Migration),
        ]
    }
}
