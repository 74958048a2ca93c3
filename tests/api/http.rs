//! The HTTP contract: GraphQL over HTTP, GraphiQL, health and readiness, the checked-in SDL, and
//! the graphql-http conformance audit run by its reference npm package.

use crate::common::TestServer;
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use serde_json::{Value, json};

#[test]
fn the_checked_in_schema_is_what_the_server_serves() {
    let checked_in =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql"))
            .expect("schema.graphql");
    let served = subreg::graphql::sdl();
    assert!(
        checked_in == served,
        "schema.graphql is stale: run `cargo run -- export-schema > schema.graphql`\n{}",
        similar::TextDiff::from_lines(&checked_in, &served)
            .unified_diff()
            .context_radius(3)
            .header("schema.graphql (checked in)", "served by the server")
    );
}

#[tokio::test]
async fn health_and_readiness() {
    let server = TestServer::start().await;
    for path in ["/healthz", "/readyz"] {
        let response = server
            .client
            .get(format!("{}{path}", server.url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }
}

#[tokio::test]
async fn a_browser_gets_graphiql() {
    let server = TestServer::start().await;
    let response = server
        .client
        .get(format!("{}/graphql", server.url))
        .header(ACCEPT, "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.text().await.unwrap().contains("graphiql"));
}

#[tokio::test]
async fn get_serves_queries_but_never_mutations() {
    let server = TestServer::start().await;
    let response = server
        .client
        .get(format!("{}/graphql", server.url))
        .query(&[("query", "{ recipient(key: \"stripe\") { key } }")])
        .header(ACCEPT, "application/graphql-response+json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()[CONTENT_TYPE],
        "application/graphql-response+json"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["data"]["recipient"]["key"], "stripe");

    let stripe = server.recipient_id("stripe").await;
    let response = server
        .client
        .get(format!("{}/graphql", server.url))
        .query(&[(
            "query",
            format!("mutation {{ deleteRecipient(id: \"{stripe}\") }}"),
        )])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(server.recipient_id("stripe").await, stripe, "still there");
}

#[tokio::test]
async fn request_errors_are_4xx_with_graphql_response_json() {
    let server = TestServer::start().await;
    let post = |body: String, accept: &'static str| {
        server
            .client
            .post(format!("{}/graphql", server.url))
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, accept)
            .body(body)
            .send()
    };
    let graphql_json = "application/graphql-response+json";
    // A parse error and a validation error.
    for query in ["{ recipients { ", "{ noSuchField }"] {
        let body = json!({ "query": query }).to_string();
        let response = post(body.clone(), graphql_json).await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{query}");
        let response = post(body, "application/json").await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{query}");
        assert!(response.json::<Value>().await.unwrap()["errors"].is_array());
    }
    // Malformed JSON.
    let response = post("{not json".into(), graphql_json).await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    // Not JSON at all.
    let response = server
        .client
        .post(format!("{}/graphql", server.url))
        .header(CONTENT_TYPE, "text/plain")
        .body("{ recipients { key } }")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[tokio::test]
async fn page_size_is_bounded() {
    let server = TestServer::start().await;
    let (code, response) = server
        .error("{ dataFlows(first: 501) { totalCount } }", json!({}))
        .await;
    assert_eq!(code, "BAD_USER_INPUT");
    assert_eq!(response["errors"][0]["extensions"]["field"], "first");
}

/// The graphql-http package's `auditServer` checks the GraphQL-over-HTTP specification; every
/// audit must pass, with no warning. Its client is installed by `npm ci --prefix tests/clients`
/// (scripts/test does it).
#[tokio::test]
async fn graphql_over_http_conformance_audit() {
    let clients = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients");
    assert!(
        std::path::Path::new(clients)
            .join("node_modules/graphql-http")
            .exists(),
        "the audit client is missing: run `npm ci --prefix tests/clients`"
    );
    let server = TestServer::start().await;
    let (script, url) = (
        format!("{clients}/audit.mjs"),
        format!("{}/graphql", server.url),
    );
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new("node")
            .arg(script)
            .arg(url)
            .output()
    })
    .await
    .expect("join")
    .expect("run node");
    let report = String::from_utf8_lossy(&output.stdout);
    println!("{report}{}", String::from_utf8_lossy(&output.stderr));
    assert!(
        output.status.success(),
        "graphql-http audit failed:\n{report}"
    );
}

/// An operator follows the server through its metrics and its logs' request ids.
#[tokio::test]
async fn metrics_count_operations_subscriptions_and_the_feeds_lag() {
    use crate::common::ws::{CHANGES, TRANSPORT_WS, WsClient};
    let server = TestServer::start().await;
    let metric = |text: &str, name: &str| -> Option<f64> {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().parse().ok())
    };
    let scrape = || async {
        server
            .client
            .get(format!("{}/metrics", server.url))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };

    // Every response carries a request id; a client's own is kept.
    let response = server
        .client
        .post(format!("{}/graphql", server.url))
        .header("x-request-id", "support-ticket-4711")
        .json(&json!({ "query": "query PublicList { subprocessors { key } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "support-ticket-4711");
    let generated = server
        .client
        .get(format!("{}/healthz", server.url))
        .send()
        .await
        .unwrap();
    assert!(!generated.headers()["x-request-id"].is_empty());
    server
        .graphql(
            "query Broken { dataFlows(first: -1) { totalCount } }",
            json!({}),
        )
        .await;
    server
        .graphql("query Typo { dataFlowz { totalCount } }", json!({}))
        .await;

    let mut subscriber = WsClient::connect(&server.url, TRANSPORT_WS, server.init()).await;
    subscriber.subscribe("1", CHANGES, json!({})).await;
    subscriber
        .drain(std::time::Duration::from_millis(500))
        .await;

    let text = scrape().await;
    assert_eq!(
        metric(
            &text,
            r#"subreg_graphql_requests_total{operation="PublicList",outcome="ok"} "#
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        metric(
            &text,
            r#"subreg_graphql_requests_total{operation="Broken",outcome="error"} "#
        ),
        Some(1.0)
    );
    assert_eq!(
        metric(
            &text,
            r#"subreg_graphql_requests_total{operation="Typo",outcome="rejected"} "#
        ),
        Some(1.0),
        "a document refused before execution"
    );
    assert!(
        metric(
            &text,
            r#"subreg_graphql_request_duration_seconds_count{operation="PublicList"} "#
        )
        .is_some()
    );
    assert_eq!(metric(&text, "subreg_open_subscriptions "), Some(1.0));
    assert_eq!(metric(&text, "subreg_websocket_connections "), Some(1.0));
    assert_eq!(metric(&text, "subreg_change_log_lag_events "), Some(0.0));

    subscriber.cut();
    // The server notices the closed connection shortly after.
    for _ in 0..50 {
        let text = scrape().await;
        if metric(&text, "subreg_websocket_connections ") == Some(0.0) {
            assert_eq!(metric(&text, "subreg_open_subscriptions "), Some(0.0));
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the closed connection is still counted");
}
