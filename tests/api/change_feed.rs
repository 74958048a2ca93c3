//! Customers follow subprocessor changes and never miss one: the change log, the resumable
//! subscription, notice periods and objections, and replicas that wake each other.

use crate::common::ws::{CHANGES, LEGACY_WS, TRANSPORT_WS, WsClient};
use crate::common::{Replica, Rfc3339, Setup, TestServer, rename_at};
use chrono::{Duration as Days, SubsecRound, Utc};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(15);

fn seqs(events: &[Value]) -> Vec<i64> {
    events
        .iter()
        .map(|e| e["sequence"].as_i64().unwrap())
        .collect()
}

fn assert_strictly_increasing(seqs: &[i64]) {
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "in order, no repeat: {seqs:?}"
    );
}

/// The last cursor of the history so far.
async fn head(server: &TestServer) -> String {
    let history = server.history(json!({})).await;
    history.last().unwrap()["cursor"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_subscriber_cut_off_mid_burst_resumes_and_gets_every_event_once() {
    let server = TestServer::start().await;
    let stripe = server.recipient_id("stripe").await;
    let start = head(&server).await;

    let mut client = WsClient::connect(&server.url, TRANSPORT_WS, server.init()).await;
    client
        .subscribe("1", CHANGES, json!({ "after": start }))
        .await;
    let url = server.url.clone();
    let key = server.admin_key.clone();
    let writer_id = stripe.clone();
    let burst = tokio::spawn(async move {
        for i in 0..40 {
            rename_at(
                &url,
                &key,
                &writer_id,
                &format!("Stripe Payments Europe, Limited #{i}"),
            )
            .await;
        }
    });
    let mut received = client.changes(10, WAIT).await;
    client.cut();

    // Resume from the last cursor received, while the burst goes on.
    let last = received.last().unwrap()["cursor"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut client = WsClient::connect(&server.url, TRANSPORT_WS, server.init()).await;
    client
        .subscribe("1", CHANGES, json!({ "after": last }))
        .await;
    burst.await.unwrap();
    received.extend(client.changes(30, WAIT).await);
    assert!(
        client.drain(Duration::from_millis(700)).await.is_empty(),
        "nothing more"
    );

    let received = seqs(&received);
    assert_strictly_increasing(&received);
    let history = server.history(json!({})).await;
    let start_seq = history
        .iter()
        .position(|e| e["cursor"] == start.as_str())
        .unwrap();
    assert_eq!(
        received,
        seqs(&history[start_seq + 1..]),
        "exactly the log after the cursor"
    );
}

#[tokio::test]
async fn concurrent_writers_leave_no_gap_and_no_duplicate() {
    let server = TestServer::start().await;
    let start = head(&server).await;
    let mut client = WsClient::connect(&server.url, TRANSPORT_WS, server.init()).await;
    client
        .subscribe("1", CHANGES, json!({ "after": start }))
        .await;

    let mut writers = Vec::new();
    for key in [
        "stripe", "mollie", "adyen", "mixpanel", "segment", "intercom",
    ] {
        let id = server.recipient_id(key).await;
        let url = server.url.clone();
        let admin = server.admin_key.clone();
        writers.push(tokio::spawn(async move {
            for i in 0..10 {
                rename_at(&url, &admin, &id, &format!("{key} {i}")).await;
            }
        }));
    }
    for writer in writers {
        writer.await.unwrap();
    }
    let received = client.changes(60, WAIT).await;
    assert!(client.drain(Duration::from_millis(700)).await.is_empty());
    let received = seqs(&received);
    assert_strictly_increasing(&received);

    let history = server.history(json!({})).await;
    let position = history
        .iter()
        .position(|e| e["cursor"] == start.as_str())
        .unwrap();
    let logged = seqs(&history[position + 1..]);
    assert_eq!(logged.len(), 60, "every write has its event");
    assert_eq!(received, logged);
}

#[tokio::test]
async fn the_legacy_graphql_ws_protocol_streams_the_same_events() {
    let server = TestServer::start().await;
    let start = head(&server).await;
    let mut client = WsClient::connect(&server.url, LEGACY_WS, server.init()).await;
    client
        .subscribe("1", CHANGES, json!({ "after": start }))
        .await;
    server
        .rename(
            &server.recipient_id("mollie").await,
            "Mollie B.V. (renamed)",
        )
        .await;
    let events = client.changes(1, WAIT).await;
    assert_eq!(events[0]["kind"], "RECIPIENT_UPDATED");
}

#[tokio::test]
async fn the_history_query_and_its_filters() {
    let server = TestServer::start().await;
    // The example registry's history starts in the log: one creation per recipient and flow.
    let all = server.history(json!({})).await;
    assert!(all.len() > 150);
    assert_strictly_increasing(&seqs(&all));
    let created = server
        .history(json!({ "kinds": ["RECIPIENT_CREATED"] }))
        .await;
    let recipients = server.data("{ recipients { id } }", json!({})).await;
    assert_eq!(
        created.len(),
        recipients["recipients"].as_array().unwrap().len()
    );
    let sms = server.history(json!({ "products": ["sms"] })).await;
    assert!(!sms.is_empty());
    assert!(
        sms.iter()
            .all(|e| e["products"].as_array().unwrap().contains(&json!("sms")))
    );
    let psp = server
        .history(json!({ "recipientKinds": ["PAYMENT_SERVICE_PROVIDER"] }))
        .await;
    let stripe = server.recipient_id("stripe").await;
    assert!(psp.iter().any(|e| e["recipientId"] == stripe.as_str()));
    let public = server.history(json!({ "publicOnly": true })).await;
    assert!(public.len() < all.len());
    let (code, response) = server
        .error(
            "{ subprocessorChanges(filter: { products: [\"fax\"] }) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(code, "BAD_USER_INPUT", "{response}");
}

pub(crate) const PROPOSE: &str = r#"mutation {
  r: createRecipient(input: {
    key: "acme_cloud", legalName: "Acme Cloud Inc.", kind: HOSTING_PROVIDER, defaultRole: PROCESSOR,
    country: "US", processingLocations: ["US", "DE"], public: true,
    transferSafeguard: { mechanism: STANDARD_CONTRACTUAL_CLAUSES, sccModule: 3 }
  }) { id status }
}"#;

/// A proposed public recipient with a processor flow in a processor activity.
pub(crate) async fn propose_subprocessor(server: &TestServer) -> String {
    let activity = server.activity_id("sms_delivery").await;
    let data = server.data(PROPOSE, json!({})).await;
    let id = data["r"]["id"].as_str().unwrap().to_owned();
    assert_eq!(data["r"]["status"], "PROPOSED");
    server
        .data(
            r#"mutation($a: ID!, $r: ID!) { createDataFlow(input: {
                activityId: $a, recipientId: $r, dataCategories: ["content.message"],
                dataSubjects: ["end_users"], countries: ["DE", "US"],
                transfers: [{ country: "US", safeguard: { mechanism: STANDARD_CONTRACTUAL_CLAUSES, sccModule: 3 } }]
            }) { id } }"#,
            json!({ "a": activity, "r": id }),
        )
        .await;
    id
}

/// The kinds of the public feed's events after `after`, as a customer without a key sees them.
async fn public_kinds_after(server: &TestServer, after: &str) -> Vec<String> {
    let data = server
        .anonymous(
            r#"query($after: String) { subprocessorChanges(after: $after, first: 100) {
                nodes { kind } } }"#,
            json!({ "after": after }),
        )
        .await;
    assert!(data.get("errors").is_none(), "{data}");
    data["data"]["subprocessorChanges"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_proposed_subprocessor_stays_off_the_public_feed_until_it_is_announced() {
    let server = TestServer::start().await;
    let start = head(&server).await;
    // Planning a new subprocessor (the recipient, its flow, a renaming) is internal.
    let acme = propose_subprocessor(&server).await;
    rename_at(&server.url, &server.admin_key, &acme, "Acme Cloud, Inc.").await;
    let internal = server.history(json!({})).await;
    assert_eq!(
        internal
            .iter()
            .filter(|e| e["recipientId"] == acme.as_str())
            .count(),
        3,
        "the registry's own history has every change: {internal:#?}"
    );
    assert_eq!(
        public_kinds_after(&server, &start).await,
        Vec::<String>::new()
    );
    // Nor can a caller without a key look it up by its ID.
    let node = r#"query($id: ID!) { node(id: $id) { ... on Recipient { key } } }"#;
    let unseen = server.anonymous(node, json!({ "id": acme })).await;
    assert!(unseen["data"]["node"].is_null(), "{unseen}");

    // The announcement is what customers hear first; what follows is public.
    server
        .data(
            r#"mutation($id: ID!) { announceRecipient(id: $id) { status } }"#,
            json!({ "id": acme }),
        )
        .await;
    rename_at(
        &server.url,
        &server.admin_key,
        &acme,
        "Acme Cloud Incorporated",
    )
    .await;
    assert_eq!(
        public_kinds_after(&server, &start).await,
        ["RECIPIENT_ANNOUNCED", "FLOW_CREATED", "RECIPIENT_UPDATED"]
    );
    // The flow planned before the announcement comes with it: customers learn what data goes
    // to the new subprocessor, and where, without the registry's internal notes.
    let published = server
        .anonymous(
            r#"query($after: String) { subprocessorChanges(after: $after, first: 100) {
                nodes { kind recipientId dataFlowId reason snapshot changes { field } } } }"#,
            json!({ "after": start }),
        )
        .await;
    let flow_event = &published["data"]["subprocessorChanges"]["nodes"][1];
    assert_eq!(flow_event["recipientId"], acme.as_str(), "{published}");
    assert!(flow_event["dataFlowId"].is_string(), "{published}");
    assert_eq!(
        flow_event["reason"],
        "shown to customers with the announcement of `acme_cloud`"
    );
    let snapshot = &flow_event["snapshot"];
    assert_eq!(snapshot["dataCategories"], json!(["content.message"]));
    assert_eq!(snapshot["dataSubjects"], json!(["end_users"]));
    assert_eq!(snapshot["countries"], json!(["DE", "US"]));
    assert_eq!(
        snapshot["transfers"],
        json!([{ "country": "US", "mechanism": "STANDARD_CONTRACTUAL_CLAUSES", "sccModule": 3, "derogation": null }])
    );
    assert!(snapshot.get("activity").is_none(), "{snapshot}");
    let internal = server.history(json!({})).await;
    let flow_events: Vec<&str> = internal
        .iter()
        .filter(|e| e["dataFlowId"] == flow_event["dataFlowId"])
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(flow_events, ["FLOW_CREATED", "FLOW_CREATED"]);
    let seen = server.anonymous(node, json!({ "id": acme })).await;
    assert_eq!(seen["data"]["node"]["key"], "acme_cloud", "{seen}");

    // A proposal withdrawn before its announcement never reaches customers either.
    let mark = head(&server).await;
    let withdrawn = server
        .data(
            r#"mutation { createRecipient(input: { key: "never", legalName: "Never Ltd", kind: SERVICE_PROVIDER,
                defaultRole: PROCESSOR, country: "NL", public: true }) { id } }"#,
            json!({}),
        )
        .await;
    server
        .data(
            r#"mutation($id: ID!) { updateRecipient(id: $id, input: { status: RETIRED }) { status } }"#,
            json!({ "id": withdrawn["createRecipient"]["id"] }),
        )
        .await;
    assert_eq!(
        public_kinds_after(&server, &mark).await,
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn a_flow_moved_to_an_unannounced_subprocessor_leaves_the_public_feed_without_naming_it() {
    let server = TestServer::start().await;
    let acme = propose_subprocessor(&server).await;
    let flows = server
        .data(
            r#"{ dataFlows(first: 200) { edges { node { id isSubprocessing recipient { id key public status } } } } }"#,
            json!({}),
        )
        .await;
    let listed = flows["dataFlows"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["node"])
        .find(|f| {
            f["isSubprocessing"] == true
                && f["recipient"]["public"] == true
                && f["recipient"]["status"] == "ACTIVE"
        })
        .expect("a flow to a subprocessor on the public list")
        .clone();
    let (flow, listed_recipient) = (&listed["id"], &listed["recipient"]["id"]);
    let start = head(&server).await;
    let public_events = |after: String| {
        let server = &server;
        async move {
            let data = server
                .anonymous(
                    r#"query($after: String) { subprocessorChanges(after: $after, first: 100) {
                        nodes { kind recipientId dataFlowId reason snapshot changes { field before after } } } }"#,
                    json!({ "after": after }),
                )
                .await;
            assert!(data.get("errors").is_none(), "{data}");
            data["data"]["subprocessorChanges"]["nodes"].clone()
        }
    };
    let move_to = |recipient: Value| {
        let server = &server;
        async move {
            server
                .data(
                    r#"mutation($id: ID!, $r: ID!) { updateDataFlow(id: $id, input: {
                        recipientId: $r, countries: ["DE"], transfers: [] }) { id } }"#,
                    json!({ "id": flow, "r": recipient }),
                )
                .await;
        }
    };

    // To customers the flow leaves the list; the proposed subprocessor is not named.
    move_to(json!(acme)).await;
    let seen = public_events(start.clone()).await;
    assert_eq!(seen.as_array().unwrap().len(), 1, "{seen:#}");
    assert_eq!(seen[0]["kind"], "FLOW_DELETED");
    assert_eq!(seen[0]["recipientId"], *listed_recipient);
    assert_eq!(seen[0]["dataFlowId"], *flow);
    for secret in ["acme", &acme] {
        assert!(!seen.to_string().contains(secret), "{seen:#}");
    }

    // Moved back, it joins the list again as it is now.
    let mark = head(&server).await;
    move_to(listed_recipient.clone()).await;
    let seen = public_events(mark).await;
    assert_eq!(seen.as_array().unwrap().len(), 1, "{seen:#}");
    assert_eq!(seen[0]["kind"], "FLOW_CREATED");
    assert_eq!(seen[0]["recipientId"], *listed_recipient);
    assert_eq!(seen[0]["snapshot"]["countries"], json!(["DE"]));
    for secret in ["acme", &acme] {
        assert!(!seen.to_string().contains(secret), "{seen:#}");
    }

    // The registry's own history has both updates, each beside what customers were shown.
    let internal: Vec<String> = server
        .history(json!({}))
        .await
        .into_iter()
        .filter(|e| e["dataFlowId"] == *flow)
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        internal[internal.len() - 4..],
        [
            "FLOW_DELETED",
            "FLOW_UPDATED",
            "FLOW_UPDATED",
            "FLOW_CREATED"
        ]
    );
}

#[tokio::test]
async fn a_new_subprocessor_is_announced_objected_to_and_activated_after_its_notice_period() {
    let now = Utc::now().trunc_subsecs(0);
    let server = TestServer::setup(Setup {
        manual_clock: Some(now),
        ..Setup::default()
    })
    .await;
    let clock = server.clock.clone().unwrap();
    let acme = propose_subprocessor(&server).await;

    // Creating a public recipient as active, or turning an active internal one public, would
    // skip the notice period.
    let (code, _) = server
        .error(
            r#"mutation { createRecipient(input: { key: "sneaky", legalName: "Sneaky Ltd", kind: SERVICE_PROVIDER,
                defaultRole: PROCESSOR, country: "NL", status: ACTIVE, public: true }) { id } }"#,
            json!({}),
        )
        .await;
    assert_eq!(code, "BAD_USER_INPUT");
    let internal = server
        .data(
            r#"mutation { createRecipient(input: { key: "quiet", legalName: "Quiet Ltd", kind: SERVICE_PROVIDER,
                defaultRole: PROCESSOR, country: "NL", status: ACTIVE, public: false }) { id } }"#,
            json!({}),
        )
        .await;
    let (code, response) = server
        .error(
            r#"mutation($id: ID!) { updateRecipient(id: $id, input: { public: true }) { id } }"#,
            json!({ "id": internal["createRecipient"]["id"] }),
        )
        .await;
    assert_eq!(code, "BAD_USER_INPUT");
    assert_eq!(response["errors"][0]["extensions"]["field"], "public");

    // Activating a public recipient directly would skip the notice period.
    let (code, _) = server
        .error(
            r#"mutation($id: ID!) { updateRecipient(id: $id, input: { status: ACTIVE }) { id } }"#,
            json!({ "id": acme }),
        )
        .await;
    assert_eq!(code, "BAD_USER_INPUT");
    // So does an effective date inside the notice period.
    let too_soon = (now + Days::days(10)).to_rfc3339();
    let (code, response) = server
        .error(
            r#"mutation($id: ID!, $at: DateTime) { announceRecipient(id: $id, effectiveAt: $at) { id } }"#,
            json!({ "id": acme, "at": too_soon }),
        )
        .await;
    assert_eq!(code, "BAD_USER_INPUT");
    assert_eq!(response["errors"][0]["extensions"]["field"], "effectiveAt");

    let start = head(&server).await;
    let mut customer = WsClient::connect(&server.url, TRANSPORT_WS, json!({})).await;
    customer
        .subscribe(
            "1",
            CHANGES,
            json!({ "after": start, "filter": { "publicOnly": true, "kinds": ["RECIPIENT_ANNOUNCED", "RECIPIENT_ACTIVATED"] } }),
        )
        .await;
    let announced = server
        .data(
            r#"mutation($id: ID!) { announceRecipient(id: $id, reason: "new hosting region") { status } }"#,
            json!({ "id": acme }),
        )
        .await;
    assert_eq!(announced["announceRecipient"]["status"], "ANNOUNCED");
    let notice = &customer.changes(1, WAIT).await[0];
    assert_eq!(notice["kind"], "RECIPIENT_ANNOUNCED");
    let deadline =
        chrono::DateTime::parse_from_rfc3339(notice["objectionDeadline"].as_str().unwrap())
            .unwrap();
    assert_eq!(deadline, now + Days::days(30), "30 days' notice by default");
    assert_eq!(notice["products"], json!(["numbers", "sms"]));
    assert_eq!(notice["processingLocations"], json!(["DE", "US"]));

    // A customer objects; an editor reviews and decides.
    let objection = server
        .data(
            r#"mutation($id: ID!) { objectToSubprocessor(input: { recipientId: $id, customer: "Example Bank N.V.",
                 contact: "dpo@example-bank.test", reason: "US processing of message content" }) { id status } }"#,
            json!({ "id": acme }),
        )
        .await;
    let objection_id = objection["objectToSubprocessor"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(objection["objectToSubprocessor"]["status"], "RECEIVED");
    let (code, _) = server
        .error(
            r#"mutation($id: ID!) { resolveObjection(id: $id, status: REJECTED) { id } }"#,
            json!({ "id": objection_id }),
        )
        .await;
    assert_eq!(
        code, "BAD_USER_INPUT",
        "a decision is explained to the customer"
    );
    server
        .data(
            r#"mutation($id: ID!) { resolveObjection(id: $id, status: ACCOMMODATED,
                 resolution: "Example Bank's traffic stays on EEA infrastructure") { status resolvedBy } }"#,
            json!({ "id": objection_id }),
        )
        .await;
    let listed = server
        .data(
            r#"query($id: ID!) { objections(recipientId: $id) { status resolution customer } }"#,
            json!({ "id": acme }),
        )
        .await;
    assert_eq!(listed["objections"][0]["status"], "ACCOMMODATED");

    // Not yet due: nothing happens. Due: activated once, with its own event.
    clock.advance(Days::days(29));
    assert!(server.registry.activate_due().await.unwrap().is_empty());
    clock.advance(Days::days(2));
    assert_eq!(server.registry.activate_due().await.unwrap().len(), 1);
    assert!(
        server.registry.activate_due().await.unwrap().is_empty(),
        "idempotent"
    );
    let activated = &customer.changes(1, WAIT).await[0];
    assert_eq!(activated["kind"], "RECIPIENT_ACTIVATED");
    let status = server
        .data(
            "query($id: ID!) { node(id: $id) { ... on Recipient { status } } }",
            json!({ "id": acme }),
        )
        .await;
    assert_eq!(status["node"]["status"], "ACTIVE");

    // The notice period is over: no more objections.
    let (code, _) = server
        .error(
            r#"mutation($id: ID!) { objectToSubprocessor(input: { recipientId: $id, customer: "Late Ltd",
                 contact: "late@example.test", reason: "too late" }) { id } }"#,
            json!({ "id": acme }),
        )
        .await;
    assert_eq!(code, "CONFLICT");
}

#[tokio::test]
async fn announced_recipients_that_fell_due_while_the_server_was_down_activate_on_start_up() {
    let now = Utc::now().trunc_subsecs(0);
    let first = TestServer::setup(Setup {
        manual_clock: Some(now),
        ..Setup::default()
    })
    .await;
    let acme = propose_subprocessor(&first).await;
    first
        .data(
            "mutation($id: ID!) { announceRecipient(id: $id) { id } }",
            json!({ "id": acme }),
        )
        .await;
    let database = first.database_url.clone();
    let keep_files = first;

    let restarted = TestServer::setup(Setup {
        manual_clock: Some(now + Days::days(31)),
        database: Some(database),
        ..Setup::default()
    })
    .await;
    let status = restarted
        .data(
            "query($id: ID!) { node(id: $id) { ... on Recipient { status } } }",
            json!({ "id": acme }),
        )
        .await;
    assert_eq!(status["node"]["status"], "ACTIVE");
    drop(keep_files);
}

#[tokio::test]
async fn the_subprocessor_list_as_it_stood_at_a_past_instant() {
    let start = Utc::now().trunc_subsecs(0);
    let server = TestServer::setup(Setup {
        manual_clock: Some(start),
        ..Setup::default()
    })
    .await;
    let clock = server.clock.clone().unwrap();
    clock.advance(Days::days(1));
    let before_retirement = clock.now_rfc3339();
    clock.advance(Days::days(1));
    let pusher = server.recipient_id("pusher").await;
    server
        .data(
            r#"mutation($id: ID!) { updateRecipient(id: $id, input: { status: RETIRED, processingLocations: ["GB"] }) { status } }"#,
            json!({ "id": pusher }),
        )
        .await;

    let q = r#"query($at: DateTime) { subprocessors(asOf: $at) { key status processingLocations { code } } }"#;
    let now = server.data(q, json!({ "at": null })).await;
    assert!(
        now["subprocessors"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["key"] != "pusher")
    );
    let then = server.data(q, json!({ "at": before_retirement })).await;
    let pusher_then = then["subprocessors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == "pusher")
        .expect("pusher was a subprocessor then");
    assert_eq!(pusher_then["status"], "ACTIVE");
    assert_eq!(
        pusher_then["processingLocations"].as_array().unwrap().len(),
        4
    );
    // Before the registry existed, there was nothing.
    let before = server
        .data(q, json!({ "at": (start - Days::days(1)).to_rfc3339() }))
        .await;
    assert_eq!(before["subprocessors"], json!([]));
}

#[tokio::test]
async fn two_server_processes_on_one_database_deliver_each_others_changes() {
    let a = TestServer::start().await;
    let postgres = a.database_url.starts_with("postgres");
    // On PostgreSQL the second process relies on notifications alone (its log check is an hour
    // away); processes sharing a SQLite file see each other through that check.
    let b = Replica::start(&a.database_url, if postgres { 3600 } else { 1 }).await;
    let start = head(&a).await;

    let mut on_b = WsClient::connect(&b.url, TRANSPORT_WS, a.init()).await;
    on_b.subscribe("1", CHANGES, json!({ "after": start }))
        .await;
    let mut on_a = WsClient::connect(&a.url, TRANSPORT_WS, a.init()).await;
    on_a.subscribe("1", CHANGES, json!({ "after": start }))
        .await;

    rename_at(
        &a.url,
        &a.admin_key,
        &a.recipient_id("stripe").await,
        "written through A",
    )
    .await;
    rename_at(
        &b.url,
        &a.admin_key,
        &a.recipient_id("mollie").await,
        "written through B",
    )
    .await;
    let seen_on_b = seqs(&on_b.changes(2, WAIT).await);
    let seen_on_a = seqs(&on_a.changes(2, WAIT).await);
    assert_eq!(seen_on_a, seen_on_b);
    assert_strictly_increasing(&seen_on_a);
}

#[tokio::test]
async fn a_replica_that_lost_its_wake_up_connection_catches_up() {
    let a = TestServer::start().await;
    let postgres = a.database_url.starts_with("postgres");
    let b = Replica::start(&a.database_url, if postgres { 3600 } else { 1 }).await;
    let start = head(&a).await;
    let mut on_b = WsClient::connect(&b.url, TRANSPORT_WS, a.init()).await;
    on_b.subscribe("1", CHANGES, json!({ "after": start }))
        .await;

    if postgres {
        // Cut every LISTEN connection on the database, as a network fault or a restart would.
        let pool = a.registry.pool().unwrap();
        let killed = sea_orm::ConnectionTrait::query_all_raw(
            pool,
            sea_orm::Statement::from_string(
                sea_orm::DatabaseBackend::Postgres,
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = current_database() AND query ILIKE 'LISTEN%'",
            ),
        )
        .await
        .unwrap();
        assert!(!killed.is_empty(), "the replicas were listening");
    }
    let names = ["after the cut 1", "after the cut 2", "after the cut 3"];
    let stripe = a.recipient_id("stripe").await;
    for name in names {
        rename_at(&a.url, &a.admin_key, &stripe, name).await;
    }
    let events = on_b.changes(3, WAIT).await;
    assert_strictly_increasing(&seqs(&events));
    let distinct: HashSet<i64> = seqs(&events).into_iter().collect();
    assert_eq!(distinct.len(), 3);
}

#[tokio::test]
async fn a_slow_subscriber_holds_back_neither_writers_nor_other_subscribers() {
    let server = TestServer::start().await;
    let start = head(&server).await;
    // Subscribes from the very beginning of the log, then reads nothing for a while.
    let mut slow = WsClient::connect(&server.url, TRANSPORT_WS, server.init()).await;
    slow.subscribe("1", CHANGES, json!({})).await;
    let mut brisk = WsClient::connect(&server.url, TRANSPORT_WS, server.init()).await;
    brisk
        .subscribe("1", CHANGES, json!({ "after": start }))
        .await;

    let stripe = server.recipient_id("stripe").await;
    for i in 0..50 {
        server.rename(&stripe, &format!("Stripe {i}")).await;
    }
    let brisk_seen = seqs(&brisk.changes(50, WAIT).await);

    // The slow one catches up from the log, all of it, once.
    let total = server.history(json!({})).await.len();
    let slow_seen = seqs(&slow.changes(total, WAIT).await);
    assert_strictly_increasing(&slow_seen);
    assert_eq!(&slow_seen[total - 50..], &brisk_seen[..]);
}

/// The `graphql-ws` npm package is the protocol's reference client: it subscribes, is cut off,
/// and resumes from its last cursor (tests/clients/subscribe.mjs).
#[tokio::test]
async fn the_graphql_ws_reference_client_resumes_from_its_cursor() {
    let clients = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients");
    assert!(
        std::path::Path::new(clients)
            .join("node_modules/graphql-ws")
            .exists(),
        "the reference client is missing: run `npm ci --prefix tests/clients`"
    );
    let server = TestServer::start().await;
    let start = head(&server).await;
    let stripe = server.recipient_id("stripe").await;
    let run = |after: String, count: usize| {
        let script = format!("{clients}/subscribe.mjs");
        let url = format!("{}/graphql", server.url.replacen("http", "ws", 1));
        spawn_node(script, url, after, count, server.admin_key.clone())
    };
    // First session: 3 events, then the client disconnects.
    let first = run(start.clone(), 3);
    for i in 0..3 {
        server.rename(&stripe, &format!("first session {i}")).await;
    }
    let first = first.await.unwrap();
    assert_eq!(first.len(), 3, "{first:?}");
    // Changes made while it was away, then a second session from its last cursor.
    for i in 0..4 {
        server.rename(&stripe, &format!("while away {i}")).await;
    }
    let last = first.last().unwrap()["cursor"].as_str().unwrap().to_owned();
    let second = run(last, 4).await.unwrap();
    let mut all = seqs(&first);
    all.extend(seqs(&second));
    assert_strictly_increasing(&all);
    let history = server.history(json!({})).await;
    let position = history
        .iter()
        .position(|e| e["cursor"] == start.as_str())
        .unwrap();
    assert_eq!(all, seqs(&history[position + 1..]));
}

/// Runs the reference client on a blocking thread and returns the events it printed, one JSON
/// document per line.
fn spawn_node(
    script: String,
    url: String,
    after: String,
    count: usize,
    key: String,
) -> tokio::task::JoinHandle<Vec<Value>> {
    tokio::task::spawn_blocking(move || {
        let output = std::process::Command::new("node")
            .args([script, url, after, count.to_string(), key])
            .output()
            .expect("run node");
        assert!(
            output.status.success(),
            "reference client failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).expect("an event per line"))
            .collect()
    })
}
