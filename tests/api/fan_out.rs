//! Subscription events are rendered once for every subscription of the same selection and
//! audience, whatever each resumes from, and the protocol's rules hold for each connection.

use crate::common::TestServer;
use crate::common::ws::{CHANGES, Next, RawSocket, TRANSPORT_WS, WsClient};
use serde_json::json;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(15);

/// How many events the server has rendered for subscriptions, from its metrics.
async fn renders(server: &TestServer) -> u64 {
    let text = server
        .client
        .get(format!("{}/metrics", server.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("subreg_subscription_renders_total "))
        .map_or(0, |v| v.trim().parse().unwrap())
}

#[tokio::test]
async fn an_event_is_rendered_once_for_every_subscriber_of_the_same_selection() {
    let server = TestServer::start().await;
    let history = server.history(json!({ "publicOnly": true })).await;
    let last = history.last().unwrap()["cursor"].clone();
    let before_last = history[history.len() - 2]["cursor"].clone();
    // Five customers, resuming from different places, with the same selection.
    let mut customers = Vec::new();
    for after in [&last, &last, &before_last, &last, &before_last] {
        let mut ws = WsClient::connect(&server.url, TRANSPORT_WS, json!({})).await;
        ws.subscribe("feed", CHANGES, json!({ "after": after }))
            .await;
        customers.push(ws);
    }
    // The two resuming earlier first receive the event they missed.
    for i in [2, 4] {
        assert_eq!(customers[i].changes(1, WAIT).await[0]["cursor"], last);
    }
    let mut other = WsClient::connect(&server.url, TRANSPORT_WS, json!({})).await;
    other
        .subscribe(
            "mine",
            "subscription($after: String) { subprocessorChanges(after: $after) { cursor kind } }",
            json!({ "after": last }),
        )
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rendered = renders(&server).await;

    let aws = server.recipient_id("aws").await;
    server.rename(&aws, "AWS (rendered once)").await;
    let mut seen = Vec::new();
    for ws in &mut customers {
        seen.push(ws.changes(1, WAIT).await.remove(0));
    }
    assert!(seen.iter().all(|e| e == &seen[0]), "{seen:#?}");
    assert_eq!(seen[0]["kind"], "RECIPIENT_UPDATED");
    let theirs = other.changes(1, WAIT).await;
    assert_eq!(theirs[0]["cursor"], seen[0]["cursor"]);
    assert_eq!(
        renders(&server).await - rendered,
        2,
        "once for the shared selection, once for the other"
    );
}

#[tokio::test]
async fn a_subscribe_with_an_id_already_in_use_closes_the_connection_with_4409() {
    let server = TestServer::start().await;
    let mut socket = RawSocket::acked(&server).await;
    let subscribe = json!({ "id": "1", "type": "subscribe", "payload": { "query": CHANGES } });
    socket.send_json(subscribe.clone()).await;
    // Its history arrives: the operation is open.
    assert!(matches!(socket.next().await, Next::Message(m) if m["type"] == "next"));
    socket.send_json(subscribe).await;
    assert_eq!(socket.closed().await, Some(4409));
}

#[tokio::test]
async fn an_id_can_be_used_again_once_its_operation_completed() {
    let server = TestServer::start().await;
    let mut socket = RawSocket::acked(&server).await;
    let query = "{ organization { name } }";
    for _ in 0..2 {
        socket
            .send_json(json!({ "id": "q", "type": "subscribe", "payload": { "query": query } }))
            .await;
        let mut completed = false;
        while !completed {
            match socket.next().await {
                Next::Message(m) if m["type"] == "next" => {
                    assert!(
                        m["payload"]["data"]["organization"]["name"].is_string(),
                        "{m}"
                    )
                }
                Next::Message(m) if m["type"] == "complete" => completed = true,
                other => panic!("{other:?}"),
            }
        }
    }
}
