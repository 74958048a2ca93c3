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

/// Every definition in `sdl` that has no description: object, interface, input, enum, union
/// and scalar types, their fields and each field's arguments, input fields and enum values.
/// The directives the GraphQL specification defines are not the API's and are left out.
fn undocumented(sdl: &str) -> Vec<String> {
    use async_graphql::parser::types::{
        FieldDefinition, InputValueDefinition, TypeKind, TypeSystemDefinition,
    };
    use async_graphql::parser::{Positioned, parse_schema};

    fn field(missing: &mut Vec<String>, owner: &str, f: &FieldDefinition) {
        let name = format!("{owner}.{}", f.name.node);
        if f.description.is_none() {
            missing.push(format!("field {name}"));
        }
        arguments(missing, &name, &f.arguments);
    }
    fn arguments(
        missing: &mut Vec<String>,
        owner: &str,
        args: &[Positioned<InputValueDefinition>],
    ) {
        for arg in args {
            if arg.node.description.is_none() {
                missing.push(format!("argument {owner}({}:)", arg.node.name.node));
            }
        }
    }

    let document = parse_schema(sdl).expect("the SDL parses");
    let mut missing = Vec::new();
    for definition in document.definitions {
        let TypeSystemDefinition::Type(ty) = definition else {
            continue;
        };
        let ty = ty.node;
        let name = ty.name.node.to_string();
        if ty.description.is_none() {
            missing.push(format!("type {name}"));
        }
        match &ty.kind {
            TypeKind::Object(object) => {
                for f in &object.fields {
                    field(&mut missing, &name, &f.node);
                }
            }
            TypeKind::Interface(interface) => {
                for f in &interface.fields {
                    field(&mut missing, &name, &f.node);
                }
            }
            TypeKind::InputObject(input) => {
                for f in &input.fields {
                    if f.node.description.is_none() {
                        missing.push(format!("input field {name}.{}", f.node.name.node));
                    }
                }
            }
            TypeKind::Enum(enumeration) => {
                for value in &enumeration.values {
                    if value.node.description.is_none() {
                        missing.push(format!("enum value {name}.{}", value.node.value.node));
                    }
                }
            }
            TypeKind::Scalar | TypeKind::Union(_) => {}
        }
    }
    missing
}

#[test]
fn every_type_field_input_field_and_argument_is_documented() {
    let missing = undocumented(&subreg::graphql::sdl());
    assert!(
        missing.is_empty(),
        "{} definitions have no description in the SDL (write a doc comment on the `impl` of an \
         `#[Object]`, on the field of an `InputObject`, or `#[graphql(desc = ...)]` on an \
         argument):\n  {}",
        missing.len(),
        missing.join("\n  ")
    );
}

#[test]
fn the_documentation_check_finds_what_is_undocumented() {
    let sdl = r#"
        """A documented type."""
        type Query {
            """Documented."""
            a(x: Int, """Documented.""" y: Int): Int
            b: Int
        }
        input Filter { """Documented.""" kinds: [Int!] statuses: [Int!] }
        """An enum."""
        enum Kind { """Documented.""" A B }
    "#;
    assert_eq!(
        undocumented(sdl),
        [
            "argument Query.a(x:)",
            "field Query.b",
            "type Filter",
            "input field Filter.statuses",
            "enum value Kind.B",
        ]
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
    let server = TestServer::start().await;
    let output =
        crate::common::run_client("audit.mjs", vec![format!("{}/graphql", server.url)]).await;
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
