//! What faces the internet: the public feed describes subprocessing and nothing else, counts
//! public events only, /metrics needs a key, slow headers are cut off, names and texts refuse
//! what a reader cannot see, and graphql-js clients (GraphiQL among them) can introspect.

use crate::common::ws::{CHANGES, TRANSPORT_WS, WsClient};
use crate::common::{Rfc3339, Setup, TestServer, client_with_key, run_client};
use entity::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::HashSet;
use std::time::Duration;
use subreg::settings::ServerSettings;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PUBLIC_FEED: &str = r#"query($after: String) { subprocessorChanges(after: $after, first: 500) {
    nodes { cursor sequence kind reason dataFlowId recipientId snapshot } } }"#;

/// Every public event after `after`, as a caller without a key reads them.
async fn public_feed(server: &TestServer, after: Option<&str>) -> Vec<Value> {
    let body = server
        .anonymous(PUBLIC_FEED, json!({ "after": after }))
        .await;
    assert!(body.get("errors").is_none(), "{body:#}");
    body["data"]["subprocessorChanges"]["nodes"]
        .as_array()
        .unwrap()
        .clone()
}

/// The flows customers should see: those that make a listed recipient a subprocessor.
async fn subprocessing_flow_ids(server: &TestServer) -> HashSet<String> {
    let data = server
        .data(
            r#"{ dataFlows(first: 500, filter: { subprocessingOnly: true }) {
                nodes { id recipient { public status } } } }"#,
            json!({}),
        )
        .await;
    data["dataFlows"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| {
            f["recipient"]["public"] == true
                && matches!(
                    f["recipient"]["status"].as_str(),
                    Some("ACTIVE" | "ANNOUNCED")
                )
        })
        .map(|f| f["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn the_public_feed_shows_only_what_makes_a_recipient_a_subprocessor() {
    let server = TestServer::start().await;
    let shown = subprocessing_flow_ids(&server).await;
    let flows: Vec<Value> = public_feed(&server, None)
        .await
        .into_iter()
        .filter(|e| e["dataFlowId"].is_string())
        .collect();
    assert!(!flows.is_empty());
    for event in &flows {
        assert!(
            shown.contains(event["dataFlowId"].as_str().unwrap()),
            "the organization's own processing reached the public feed: {event:#}"
        );
    }
    // Every subprocessing flow of the example registry is on it.
    let published: HashSet<&str> = flows
        .iter()
        .filter_map(|e| e["dataFlowId"].as_str())
        .collect();
    assert_eq!(published.len(), shown.len());
}

#[tokio::test]
async fn an_activity_no_longer_done_for_customers_takes_its_flows_off_the_public_feed() {
    let server = TestServer::start().await;
    let sms = server.activity_id("sms_delivery").await;
    let data = server
        .data(
            r#"query($id: ID) { processingActivity(id: $id) { dataFlows { id isSubprocessing recipient { public status } } } }"#,
            json!({ "id": sms }),
        )
        .await;
    let shown: HashSet<String> = data["processingActivity"]["dataFlows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| {
            f["isSubprocessing"] == true
                && f["recipient"]["public"] == true
                && f["recipient"]["status"] == "ACTIVE"
        })
        .map(|f| f["id"].as_str().unwrap().to_owned())
        .collect();
    assert!(!shown.is_empty(), "SMS delivery has subprocessors");
    let set_role = |role: &'static str| {
        let (server, sms) = (&server, &sms);
        async move {
            server
                .data(
                    r#"mutation($id: ID!, $role: OrganizationRole) {
                        updateProcessingActivity(id: $id, input: { organizationRole: $role }) { id } }"#,
                    json!({ "id": sms, "role": role }),
                )
                .await;
        }
    };
    let mark = public_feed(&server, None).await.last().unwrap()["cursor"]
        .as_str()
        .unwrap()
        .to_owned();

    set_role("CONTROLLER").await;
    let left = public_feed(&server, Some(&mark)).await;
    let ids = |events: &[Value], kind: &str| -> HashSet<String> {
        events
            .iter()
            .filter(|e| e["kind"] == kind)
            .map(|e| e["dataFlowId"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(ids(&left, "FLOW_DELETED"), shown, "{left:#?}");
    assert_eq!(left.len(), shown.len(), "nothing else: {left:#?}");
    assert!(
        left.iter().all(|e| e["reason"]
            .as_str()
            .unwrap()
            .starts_with("no longer shown to customers")),
        "{left:#?}"
    );

    let mark = left.last().unwrap()["cursor"].as_str().unwrap().to_owned();
    set_role("PROCESSOR").await;
    let back = public_feed(&server, Some(&mark)).await;
    assert_eq!(ids(&back, "FLOW_CREATED"), shown, "{back:#?}");
    assert_eq!(back.len(), shown.len(), "{back:#?}");
}

#[tokio::test]
async fn the_public_counts_public_events_only() {
    let server = TestServer::start().await;
    let feed = public_feed(&server, None).await;
    let numbers: Vec<i64> = feed
        .iter()
        .map(|e| e["sequence"].as_i64().unwrap())
        .collect();
    assert_eq!(numbers, (1..=feed.len() as i64).collect::<Vec<_>>());
    let last = feed.last().unwrap()["cursor"].as_str().unwrap().to_owned();

    // Internal changes between two public ones leave no gap for the public to see.
    let internal = server
        .data(
            r#"{ recipients(filter: { publicOnly: false }) { id public } }"#,
            json!({}),
        )
        .await["recipients"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["public"] == false)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for n in 0..3 {
        server.rename(&internal, &format!("Internal Ltd {n}")).await;
    }
    let stripe = server.recipient_id("aws").await;
    server
        .rename(&stripe, "Amazon Web Services EMEA SARL (renamed)")
        .await;
    let next = public_feed(&server, Some(&last)).await;
    assert_eq!(next.len(), 1, "{next:#?}");
    assert_eq!(next[0]["sequence"], feed.len() as i64 + 1);
    let internal_numbers: Vec<i64> = server
        .history(json!({}))
        .await
        .iter()
        .map(|e| e["sequence"].as_i64().unwrap())
        .collect();
    assert!(
        *internal_numbers.last().unwrap() > feed.len() as i64 + 1,
        "the internal feed has more events"
    );

    // A subscription resumes from a public cursor.
    let mut ws = WsClient::connect(&server.url, TRANSPORT_WS, json!({})).await;
    ws.subscribe("1", CHANGES, json!({ "after": last })).await;
    let resumed = ws.changes(1, Duration::from_secs(15)).await;
    assert_eq!(resumed[0]["sequence"], feed.len() as i64 + 1);

    // Cursors stored before public positions existed still resume, and one for a public
    // position never issued is refused.
    let legacy = base64_url(&format!("change:{}", internal_numbers[0]));
    let body = server
        .anonymous(PUBLIC_FEED, json!({ "after": legacy }))
        .await;
    assert!(body.get("errors").is_none(), "{body:#}");
    let forged = base64_url(r#"change:{"public":999999}"#);
    let body = server
        .anonymous(PUBLIC_FEED, json!({ "after": forged }))
        .await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    assert_eq!(body["errors"][0]["extensions"]["field"], "after");
}

fn base64_url(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

#[tokio::test]
async fn metrics_need_a_key_or_their_own_address() {
    let server = TestServer::setup(Setup {
        metrics_listen: true,
        ..Setup::default()
    })
    .await;
    let metrics = format!("{}/metrics", server.url);
    let anonymous = server.anonymous_client.get(&metrics).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let viewer = client_with_key(Some(&server.key(Role::Viewer).await))
        .get(&metrics)
        .send()
        .await
        .unwrap();
    assert_eq!(viewer.status(), StatusCode::OK);
    assert!(
        viewer
            .text()
            .await
            .unwrap()
            .contains("subreg_db_statements_total")
    );
    // The operator's scraper reads them on their own address, without a key.
    let open = reqwest::get(format!("{}/metrics", server.metrics_url.as_ref().unwrap()))
        .await
        .unwrap();
    assert_eq!(open.status(), StatusCode::OK);
    assert!(
        open.text()
            .await
            .unwrap()
            .contains("subreg_db_statements_total")
    );
    // And nothing else there.
    let graphql = reqwest::get(format!("{}/graphql", server.metrics_url.as_ref().unwrap()))
        .await
        .unwrap();
    assert_eq!(graphql.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_client_that_trickles_its_headers_is_disconnected() {
    let server = TestServer::start_with(ServerSettings {
        header_read_timeout: Duration::from_secs(1),
        ..ServerSettings::default()
    })
    .await;
    let address = server.url.trim_start_matches("http://").to_owned();
    let mut slow = tokio::net::TcpStream::connect(&address).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: subreg\r\n")
        .await
        .unwrap();
    // The rest of the headers never come: the server closes the connection.
    let mut buffer = [0u8; 512];
    let read = tokio::time::timeout(Duration::from_secs(20), slow.read(&mut buffer))
        .await
        .expect("the server closes a connection whose headers never end");
    let closed = match read {
        Ok(0) | Err(_) => true,
        // Or told so first.
        Ok(n) => buffer[..n].starts_with(b"HTTP/1.1 408"),
    };
    assert!(closed, "{:?}", String::from_utf8_lossy(&buffer));
    // A client that sends its headers is served as ever.
    let ok = reqwest::get(format!("{}/healthz", server.url))
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
}

#[tokio::test]
async fn names_and_texts_refuse_characters_a_reader_cannot_see() {
    let server = TestServer::start().await;
    let create = r#"mutation($name: String!, $description: String) { createRecipient(input: {
        key: "hidden_test", legalName: $name, description: $description, kind: SERVICE_PROVIDER,
        defaultRole: PROCESSOR, country: "NL" }) { legalName } }"#;
    let before = server.history(json!({})).await.len();
    for (name, description, field) in [
        ("Str\u{2060}ipe", None, "legalName"),
        ("Stripe\u{200F}", None, "legalName"),
        ("\u{3164}", None, "legalName"),
        ("Stripe\u{E0041}", None, "legalName"),
        ("Stripe", Some("pay\u{00AD}ments"), "description"),
        ("Stripe", Some("a\u{061C}b"), "description"),
    ] {
        let (code, response) = server
            .error(create, json!({ "name": name, "description": description }))
            .await;
        assert_eq!(code, "BAD_USER_INPUT", "{response:#}");
        assert_eq!(response["errors"][0]["extensions"]["field"], field);
        assert!(
            response["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("a reader cannot see"),
            "{response:#}"
        );
    }
    assert_eq!(
        server.history(json!({})).await.len(),
        before,
        "nothing written"
    );
    // Persian needs the zero-width non-joiner between joining letters.
    let persian =
        "\u{0634}\u{0631}\u{06A9}\u{062A} \u{0645}\u{06CC}\u{200C}\u{0622}\u{06CC}\u{062F}";
    let data = server
        .data(create, json!({ "name": persian, "description": null }))
        .await;
    assert_eq!(data["createRecipient"]["legalName"], persian);
}

#[tokio::test]
async fn graphql_js_clients_and_graphiql_introspect_the_schema() {
    let server = TestServer::start().await;
    let url = format!("{}/graphql", server.url);
    for variant in [None, Some("graphiql")] {
        let mut args = vec![url.clone()];
        args.extend(variant.map(str::to_owned));
        let output = run_client("introspect.mjs", args).await;
        assert!(
            output.status.success(),
            "{variant:?}: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let answer: Value = serde_json::from_slice(&output.stdout).expect("JSON");
        assert_eq!(answer["query"], "Query");
        assert!(answer["types"].as_u64().unwrap() > 50, "{answer}");
    }
    // Introspection is not a way around the depth limit.
    let deep = format!(
        "{{ __type(name: \"DataFlow\") {{ {}name{} }} }}",
        "ofType { ".repeat(25),
        " }".repeat(25)
    );
    let (code, response) = server.error(&deep, json!({})).await;
    assert_eq!(code, "LIMIT_EXCEEDED", "{response:#}");
    // Data queries keep theirs.
    let data_deep = "{ dataFlows(first: 1) { nodes { recipient { dataFlows { activity { dataFlows { recipient { dataFlows { activity { dataFlows { recipient { dataFlows { id } } } } } } } } } } } } }";
    let (code, _) = server.error(data_deep, json!({})).await;
    assert_eq!(code, "LIMIT_EXCEEDED");
}

/// Today's subprocessor list comes from what the registry keeps per recipient; the list at an
/// instant comes from the change log, each flow's state at that instant. After each kind of
/// change that moves a recipient on or off the list (a flow's role, its recipient, its
/// activity's role, its deletion, a recipient's default role), the two agree, and the public
/// page names the products of the activities that send each recipient data.
#[tokio::test]
async fn the_list_kept_per_recipient_agrees_with_the_list_rebuilt_from_the_log() {
    let server = TestServer::setup(Setup {
        manual_clock: Some(chrono::Utc::now()),
        ..Setup::default()
    })
    .await;
    let clock = server.clock.clone().unwrap();
    let flow_of = |data: &Value, key: &str| -> String {
        let flows: Vec<&Value> = data["dataFlows"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["recipient"]["key"] == key)
            .collect();
        assert_eq!(flows.len(), 1, "{key} has one flow in the example registry");
        flows[0]["id"].as_str().unwrap().to_owned()
    };
    let flows = server
        .data(
            "{ dataFlows(first: 500) { nodes { id recipient { key } } } }",
            json!({}),
        )
        .await;
    let telvox_flow = flow_of(&flows, "telvox");
    let pusher_flow = flow_of(&flows, "pusher");
    let telvox = server.recipient_id("telvox").await;
    let pusher = server.recipient_id("pusher").await;
    let telephony = server.activity_id("telvox_telephony").await;

    // The list today and at this instant, which must be the same; and the products of `key`'s
    // row on the public page (None when it is not listed).
    let listed = async |key: &str| -> (bool, Option<String>) {
        clock.advance(chrono::Duration::seconds(1));
        let q = "query($at: DateTime) { today: subprocessors { key } then: subprocessors(asOf: $at) { key } }";
        let data = server.data(q, json!({ "at": clock.now_rfc3339() })).await;
        let keys = |list: &Value| -> Vec<String> {
            let mut keys: Vec<String> = list
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["key"].as_str().unwrap().to_owned())
                .collect();
            keys.sort();
            keys
        };
        assert_eq!(keys(&data["today"]), keys(&data["then"]), "{data:#}");
        let page = reqwest::get(format!("{}/subprocessors", server.url))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let products = page
            .split_once(&format!("<tr id=\"{key}\">"))
            .map(|(_, row)| {
                // The row's third cell: subprocessor, what it does, products and services.
                let cells: Vec<&str> = row.split("<td>").skip(2).take(1).collect();
                cells[0].split_once("</td>").unwrap().0.to_owned()
            });
        let on_list = keys(&data["today"]).iter().any(|k| k == key);
        assert_eq!(
            on_list,
            products.is_some(),
            "the page and the API agree on {key}"
        );
        (on_list, products)
    };
    let change = async |mutation: &str, variables: Value| {
        server.data(mutation, variables).await;
    };
    let flow_update = "mutation($id: ID!, $input: UpdateDataFlowInput!) { updateDataFlow(id: $id, input: $input) { id } }";

    assert_eq!(
        listed("telvox").await,
        (true, Some("Telvox cloud telephony".into()))
    );

    // The flow's own role.
    change(
        flow_update,
        json!({ "id": telvox_flow, "input": { "role": "CONTROLLER" } }),
    )
    .await;
    assert_eq!(listed("telvox").await, (false, None));
    change(
        flow_update,
        json!({ "id": telvox_flow, "input": { "role": "PROCESSOR" } }),
    )
    .await;
    assert!(listed("telvox").await.0);

    // The activity's role: done for the organization itself, it makes no subprocessor.
    let activity_update = "mutation($id: ID!, $input: UpdateProcessingActivityInput!) { updateProcessingActivity(id: $id, input: $input) { id } }";
    change(
        activity_update,
        json!({ "id": telephony, "input": { "organizationRole": "CONTROLLER" } }),
    )
    .await;
    assert_eq!(listed("telvox").await, (false, None));
    change(
        activity_update,
        json!({ "id": telephony, "input": { "organizationRole": "PROCESSOR" } }),
    )
    .await;
    assert!(listed("telvox").await.0);

    // The flow's recipient: Pusher's flow moves to Telvox, which now serves Pusher's products
    // too; Pusher, left without a flow, leaves the list.
    change(
        flow_update,
        json!({ "id": pusher_flow, "input": { "recipientId": telvox } }),
    )
    .await;
    assert_eq!(listed("pusher").await, (false, None));
    assert_eq!(
        listed("telvox").await,
        (
            true,
            Some("Pusher Beams, Pusher Channels, Telvox cloud telephony".into())
        )
    );

    // The recipient's default role, for a flow that sets none of its own.
    change(
        flow_update,
        json!({ "id": pusher_flow, "input": { "recipientId": pusher, "role": null } }),
    )
    .await;
    let recipient_update = "mutation($id: ID!, $input: UpdateRecipientInput!) { updateRecipient(id: $id, input: $input) { id } }";
    change(
        recipient_update,
        json!({ "id": pusher, "input": { "defaultRole": "CONTROLLER" } }),
    )
    .await;
    assert_eq!(listed("pusher").await, (false, None));
    change(
        recipient_update,
        json!({ "id": pusher, "input": { "defaultRole": "PROCESSOR" } }),
    )
    .await;
    assert_eq!(
        listed("pusher").await,
        (true, Some("Pusher Beams, Pusher Channels".into()))
    );

    // The flow's deletion.
    change(
        "mutation($id: ID!) { deleteDataFlow(id: $id) }",
        json!({ "id": telvox_flow }),
    )
    .await;
    assert_eq!(listed("telvox").await, (false, None));
}
