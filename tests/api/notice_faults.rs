//! Notices are never lost and never twice in effect, against the real `subreg serve` process:
//! killed (SIGKILL) in the middle of a fan-out, the next process sends what was left, under
//! the same Message-IDs; two replicas on one database share the work and send no notice twice.

use crate::change_feed::PROPOSE;
use crate::common::notices::SmtpSink;
use crate::common::{PATIENCE, Replica, client_with_key, fresh_database};
use entity::{DeliveryStatus, NoticeScope, Role};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};
use subreg::registry::notices::{NewSubscription, RegisterFilter};
use subreg::registry::{Actor, Registry};
use subreg::server::{RegistryOptions, open_registry};

/// A registry with the example data, `contacts` customers' notice addresses and an editor key.
async fn registry_with_contacts(url: &str, contacts: usize) -> (Registry, String) {
    let registry = open_registry(url, None, RegistryOptions::default())
        .await
        .expect("the registry");
    let editor = registry
        .create_api_key("the DPO", Role::Editor, &Actor::system())
        .await
        .unwrap()
        .secret;
    for i in 0..contacts {
        registry
            .add_notice_contact(
                NewSubscription {
                    email: format!("dpo{i}@customer{i}.test"),
                    customer: Some(format!("Customer {i}")),
                    scope: NoticeScope::Announcements,
                    products: Vec::new(),
                },
                &Actor::system(),
            )
            .await
            .unwrap();
    }
    (registry, editor)
}

async fn graphql(url: &str, key: &str, query: &str, variables: Value) -> Value {
    let response: Value = client_with_key(Some(key))
        .post(format!("{url}/graphql"))
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(response.get("errors").is_none(), "{response:#}");
    response["data"].clone()
}

/// Proposes and announces a new subprocessor through the server at `url`; the announcement's
/// sequence number.
async fn announce_at(url: &str, key: &str) -> i64 {
    let activity = graphql(
        url,
        key,
        r#"{ processingActivity(key: "sms_delivery") { id } }"#,
        json!({}),
    )
    .await;
    let created = graphql(url, key, PROPOSE, json!({})).await;
    let id = created["r"]["id"].clone();
    graphql(
        url,
        key,
        r#"mutation($a: ID!, $r: ID!) { createDataFlow(input: { activityId: $a, recipientId: $r,
            dataCategories: ["content.message"], dataSubjects: ["end_users"], countries: ["DE"] }) { id } }"#,
        json!({ "a": activity["processingActivity"]["id"], "r": id }),
    )
    .await;
    graphql(
        url,
        key,
        "mutation($id: ID!) { announceRecipient(id: $id) { id } }",
        json!({ "id": id }),
    )
    .await;
    let history = graphql(
        url,
        key,
        r#"{ subprocessorChanges(first: 500, filter: { kinds: [RECIPIENT_ANNOUNCED] }) { nodes { sequence } } }"#,
        json!({}),
    )
    .await;
    history["subprocessorChanges"]["nodes"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()["sequence"]
        .as_i64()
        .unwrap()
}

/// Waits until every notice of the change `seq` is accepted; returns the register's entries.
async fn all_accepted(
    registry: &Registry,
    seq: i64,
    expected: usize,
) -> Vec<subreg::registry::notices::RegisterEntry> {
    let filter = RegisterFilter {
        seq: Some(seq),
        ..RegisterFilter::default()
    };
    let deadline = Instant::now() + PATIENCE * 2;
    loop {
        let entries = registry.notice_register_all(&filter).await.unwrap();
        let accepted = entries
            .iter()
            .filter(|e| e.delivery.status == DeliveryStatus::Accepted)
            .count();
        if entries.len() == expected && accepted == expected {
            return entries;
        }
        assert!(
            Instant::now() < deadline,
            "{accepted} of {expected} notices accepted ({} queued)",
            entries.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// For each recipient address, the Message-IDs the SMTP server received.
fn received_ids(sink: &SmtpSink) -> HashMap<String, Vec<String>> {
    let mut ids: HashMap<String, Vec<String>> = HashMap::new();
    for mail in sink.messages() {
        let id = mail
            .header("message-id")
            .unwrap_or_default()
            .trim_matches(['<', '>'])
            .to_owned();
        ids.entry(mail.to.clone()).or_default().push(id);
    }
    ids
}

fn dispatch_args(sink: &SmtpSink, concurrency: &'static str, lease: &'static str) -> Vec<String> {
    [
        "--smtp-url",
        &sink.url(),
        "--notice-concurrency",
        concurrency,
        "--notice-lease-secs",
        lease,
        "--notice-interval-ms",
        "200",
        "--notice-retry-schedule-secs",
        "1,1,1",
        "--key-requests-per-minute",
        "0",
        "--address-requests-per-minute",
        "0",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect()
}

#[tokio::test]
async fn a_sigkill_mid_fan_out_loses_no_notice_and_a_resend_carries_the_same_message_id() {
    const CONTACTS: usize = 300;
    let sink = SmtpSink::start();
    let database = fresh_database().await;
    let (registry, editor) = registry_with_contacts(&database.url, CONTACTS).await;
    let args = dispatch_args(&sink, "1", "2");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let first = Replica::start_with(&database.url, 1, &args).await;
    let seq = announce_at(&first.url, &editor).await;
    // Kill it once the fan-out is under way.
    let deadline = Instant::now() + PATIENCE;
    while sink.messages().len() < 20 {
        assert!(Instant::now() < deadline, "the fan-out did not start");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    drop(first); // SIGKILL
    let sent_before = sink.messages().len();
    assert!(
        sent_before < CONTACTS,
        "killed in the middle of the fan-out ({sent_before} sent)"
    );

    let _second = Replica::start_with(&database.url, 1, &args).await;
    let entries = all_accepted(&registry, seq, CONTACTS).await;
    let received = received_ids(&sink);
    for entry in &entries {
        let ids = received
            .get(&entry.delivery.address)
            .unwrap_or_else(|| panic!("{} was never told", entry.delivery.address));
        assert!(
            ids.iter().all(|id| *id == entry.delivery.message_id),
            "every copy to {} carries the delivery's Message-ID: {ids:?}",
            entry.delivery.address
        );
    }
    let copies: usize = received.values().map(Vec::len).sum();
    eprintln!("{sent_before} sent before the kill; {copies} messages for {CONTACTS} notices");
}

#[tokio::test]
async fn two_replicas_share_the_fan_out_and_send_no_notice_twice() {
    const CONTACTS: usize = 400;
    let sink = SmtpSink::start();
    let database = fresh_database().await;
    let (registry, editor) = registry_with_contacts(&database.url, CONTACTS).await;
    let args = dispatch_args(&sink, "2", "30");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let a = Replica::start_with(&database.url, 1, &args).await;
    let _b = Replica::start_with(&database.url, 1, &args).await;
    let seq = announce_at(&a.url, &editor).await;
    let entries = all_accepted(&registry, seq, CONTACTS).await;
    let received = received_ids(&sink);
    assert_eq!(received.len(), CONTACTS, "every customer was told");
    for (address, ids) in &received {
        assert_eq!(ids.len(), 1, "{address} was sent {ids:?}");
    }
    let ids: HashSet<&str> = entries
        .iter()
        .map(|e| e.delivery.message_id.as_str())
        .collect();
    assert_eq!(ids.len(), CONTACTS, "one Message-ID per notice");
    let replicas: HashSet<&str> = entries
        .iter()
        .flat_map(|e| e.attempts.iter().map(|a| a.replica.as_str()))
        .collect();
    assert_eq!(
        replicas.len(),
        2,
        "both replicas sent their share: {replicas:?}"
    );
    assert!(
        entries.iter().all(|e| e.attempts.len() == 1),
        "each notice was attempted once"
    );
}
