//! The example registry loads through the registry layer, whole or not at all, and its
//! history starts in the change log.

use crate::common;

use entity::change_event;
use sea_orm::{EntityTrait, PaginatorTrait};
use subreg::registry::Registry;
use subreg::{db, seed};

async fn empty_registry() -> (Registry, common::TestDatabase) {
    let database = common::fresh_database().await;
    let conn = db::connect(&database.url, None).await.expect("connect");
    db::migrate(&conn).await.expect("migrate");
    (Registry::new(conn), database)
}

#[tokio::test]
async fn the_example_registry_loads_whole_with_its_history() {
    let (registry, _dir) = empty_registry().await;
    let file = seed::parse(seed::EXAMPLE_REGISTRY).expect("the shipped file parses");
    let summary = seed::load(&registry, &file)
        .await
        .expect("the shipped file loads");
    assert_eq!(summary.recipients, file.recipients.len());
    assert_eq!(summary.data_flows, file.data_flows.len());
    assert!(!seed::is_empty(&registry).await.unwrap());
    let events = change_event::Entity::find()
        .count(registry_db(&registry))
        .await
        .unwrap();
    // One creation event per recipient, activity and flow.
    assert_eq!(
        events as usize,
        summary.recipients + summary.activities + summary.data_flows
    );
    // A second load is refused and changes nothing.
    assert!(matches!(
        seed::load(&registry, &file).await,
        Err(seed::SeedError::NotEmpty)
    ));
}

#[tokio::test]
async fn a_broken_registry_file_leaves_the_database_empty() {
    let (registry, _dir) = empty_registry().await;
    // Valid up to its last flow, which sends a category its activity does not process.
    let mut text = seed::EXAMPLE_REGISTRY.to_owned();
    text.push_str(
        "  - activity: sms_delivery\n    recipient: stripe\n    data_categories: [financial.payment_card]\n    data_subjects: [end_users]\n    countries: [NL]\n",
    );
    let file = seed::parse(&text).expect("still well-formed YAML");
    let err = seed::load(&registry, &file).await.expect_err("refused");
    assert!(err.to_string().contains("financial.payment_card"), "{err}");
    assert!(
        seed::is_empty(&registry).await.unwrap(),
        "nothing was written"
    );
    let events = change_event::Entity::find()
        .count(registry_db(&registry))
        .await
        .unwrap();
    assert_eq!(events, 0, "no change event outlived the refused load");
}

#[test]
fn unknown_keys_in_the_registry_file_are_rejected() {
    let text = seed::EXAMPLE_REGISTRY.replacen("legal_name:", "legal_nmae:", 1);
    assert!(seed::parse(&text).is_err());
}

fn registry_db(registry: &Registry) -> &sea_orm::DatabaseConnection {
    registry.pool().expect("a pool-backed registry")
}
