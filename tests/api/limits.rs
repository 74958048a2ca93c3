//! Every configurable limit, hit on purpose. Each refusal is a clear error (a GraphQL error that
//! says which limit, or the HTTP status that means it: 413, 429 with Retry-After, 503), never a
//! 500 and never a hang; the request just inside the limit is served.

use crate::common::ws::{Next, RawSocket, TRANSPORT_WS, WsClient};
use crate::common::{PATIENCE, Setup, TestServer, client_with_key};
use entity::Role;
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, CONTENT_TYPE, RETRY_AFTER};
use serde_json::{Value, json};
use std::time::Duration;
use subreg::settings::{Limits, ServerSettings};

const GRAPHQL_JSON: &str = "application/graphql-response+json";

/// An HTTP answer, its body parsed as JSON when it is JSON.
struct Answer {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl Answer {
    /// The `extensions.code` of the first error.
    fn code(&self) -> &str {
        self.body["errors"][0]["extensions"]["code"]
            .as_str()
            .unwrap_or("")
    }

    fn message(&self) -> &str {
        self.body["errors"][0]["message"].as_str().unwrap_or("")
    }

    /// Asserts a request error: `status`, a GraphQL error document, no `data`.
    fn assert_refused(&self, status: StatusCode) -> &Self {
        assert_eq!(self.status, status, "{:#}", self.body);
        assert!(
            self.body["errors"][0]["message"].is_string(),
            "an error says why: {:#}",
            self.body
        );
        assert!(self.body.get("data").is_none(), "{:#}", self.body);
        self
    }

    /// Asserts a LIMIT_EXCEEDED refusal naming `limit`.
    fn assert_limit(&self, limit: &str) {
        self.assert_refused(StatusCode::BAD_REQUEST);
        assert_eq!(self.code(), "LIMIT_EXCEEDED", "{:#}", self.body);
        assert_eq!(
            self.body["errors"][0]["extensions"]["limit"], limit,
            "{:#}",
            self.body
        );
    }

    /// Asserts a served answer without errors.
    fn assert_ok(&self) -> &Value {
        assert_eq!(self.status, StatusCode::OK, "{:#}", self.body);
        assert!(self.body.get("errors").is_none(), "{:#}", self.body);
        &self.body["data"]
    }
}

async fn send(request: reqwest::RequestBuilder) -> Answer {
    let exchange = async {
        let response = request.send().await?;
        let (status, headers) = (response.status(), response.headers().clone());
        Ok::<_, reqwest::Error>((status, headers, response.text().await?))
    };
    let (status, headers, text) = tokio::time::timeout(PATIENCE, exchange)
        .await
        .expect("answered in time, not a hang")
        .expect("an HTTP answer");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    assert!(!status.is_server_error() || status == StatusCode::SERVICE_UNAVAILABLE);
    Answer {
        status,
        headers,
        body,
    }
}

/// POSTs `body` with `client`, asking for application/graphql-response+json (so request
/// errors are 4xx, not 200).
async fn post_as(server: &TestServer, client: &reqwest::Client, body: Value) -> Answer {
    send(
        client
            .post(format!("{}/graphql", server.url))
            .header(ACCEPT, GRAPHQL_JSON)
            .json(&body),
    )
    .await
}

/// POSTs `query` with the admin key.
async fn query(server: &TestServer, query: &str) -> Answer {
    post_as(server, &server.client, json!({ "query": query })).await
}

/// A server with these settings over the example registry.
async fn server_with(settings: ServerSettings) -> TestServer {
    TestServer::setup(Setup {
        settings,
        ..Setup::default()
    })
    .await
}

/// A chain of `levels` nested fields that never fans out (organization, country, its adequacy
/// decision, its country...): depth without cost.
fn nested(levels: usize) -> String {
    let mut fields = vec!["organization"];
    while fields.len() < levels - 1 {
        fields.push(if fields.len() % 2 == 1 {
            "country"
        } else {
            "adequacyDecision"
        });
    }
    let leaf = match fields.len() {
        1 => "name",
        n if n % 2 == 0 => "code",
        _ => "title",
    };
    let mut query = String::from("{ ");
    for field in &fields {
        query.push_str(field);
        query.push_str(" { ");
    }
    query.push_str(leaf);
    query.push_str(&" }".repeat(fields.len()));
    query.push_str(" }");
    query
}

/// `n` aliased copies of a cheap field.
fn aliases(n: usize) -> String {
    let fields: Vec<String> = (0..n)
        .map(|i| format!("a{i}: organization {{ name }}"))
        .collect();
    format!("{{ {} }}", fields.join(" "))
}

#[tokio::test]
async fn query_depth_is_bounded() {
    let server = TestServer::start().await;
    // The default: 12 levels are served, 13 refused before anything runs.
    query(&server, &nested(12)).await.assert_ok();
    let refused = query(&server, &nested(13)).await;
    refused.assert_limit("depth");
    assert!(refused.message().contains("12"), "{:#}", refused.body);

    // Configured lower, it applies at the new figure.
    let server = server_with(ServerSettings {
        limits: Limits {
            max_depth: 3,
            ..Limits::default()
        },
        ..ServerSettings::default()
    })
    .await;
    query(&server, &nested(3)).await.assert_ok();
    query(&server, &nested(4)).await.assert_limit("depth");
    // Depth counts through fragments, named or inline...
    query(
        &server,
        "{ organization { ...C } } fragment C on Organization { country { adequacyDecision { title } } }",
    )
    .await
    .assert_limit("depth");
    query(
        &server,
        "{ organization { ... on Organization { country { adequacyDecision { title } } } } }",
    )
    .await
    .assert_limit("depth");
    // ...and, as async-graphql counts it, `__typename` adds no level.
    query(
        &server,
        "{ organization { country { adequacyDecision { __typename } } } }",
    )
    .await
    .assert_ok();
}

#[tokio::test]
async fn complexity_is_bounded() {
    let server = server_with(ServerSettings {
        limits: Limits {
            max_complexity: 5,
            ..Limits::default()
        },
        ..ServerSettings::default()
    })
    .await;
    // Five fields are served; a sixth is refused, also when it hides in a fragment.
    query(
        &server,
        "{ organization { name address dpoName dpoEmail } }",
    )
    .await
    .assert_ok();
    query(
        &server,
        "{ organization { name address dpoName dpoEmail dpoAddress } }",
    )
    .await
    .assert_limit("fields");
    query(
        &server,
        "{ organization { ...O } } fragment O on Organization { name address dpoName dpoEmail dpoAddress }",
    )
    .await
    .assert_limit("fields");

    // The default (1000) counts fields with fragments expanded: 2^10 flows through nested
    // fragments, in a document of a few dozen tokens.
    let server = TestServer::start().await;
    let refused = query(
        &server,
        "{ recipients { ...R } }
         fragment R on Recipient { dataFlows { ...F } onwardFlows { ...F } }
         fragment F on DataFlow { recipient { ...S } via { ...S } }
         fragment S on Recipient { dataFlows { ...G } onwardFlows { ...G } }
         fragment G on DataFlow { recipient { ...T } via { ...T } }
         fragment T on Recipient { dataFlows { ...H } onwardFlows { ...H } }
         fragment H on DataFlow { recipient { ...U } via { ...U } }
         fragment U on Recipient { dataFlows { ...I } onwardFlows { ...I } }
         fragment I on DataFlow { recipient { ...V } via { ...V } }
         fragment V on Recipient { dataFlows { ...J } onwardFlows { ...J } }
         fragment J on DataFlow { recipient { key } via { key } }",
    )
    .await;
    refused.assert_limit("fields");
    assert!(refused.message().contains("1000"), "{:#}", refused.body);
}

#[tokio::test]
async fn aliases_are_bounded() {
    let server = TestServer::start().await;
    let served = query(&server, &aliases(15)).await;
    assert_eq!(served.assert_ok()["a14"]["name"], "MessageBird B.V.");
    let refused = query(&server, &aliases(16)).await;
    refused.assert_limit("aliases");
    assert!(refused.message().contains("15"), "{:#}", refused.body);
}

#[tokio::test]
async fn tokens_are_bounded() {
    let server = TestServer::start().await;
    // `{ organization { name ... } }`: five tokens plus one per `name`.
    let document = |names: usize| format!("{{ organization {{ {} }} }}", "name ".repeat(names));
    query(&server, &document(995)).await.assert_ok();
    let refused = query(&server, &document(996)).await;
    refused.assert_limit("tokens");
    assert!(refused.message().contains("1000"), "{:#}", refused.body);
}

#[tokio::test]
async fn directives_are_bounded() {
    let server = TestServer::start().await;
    // The default: at most 50 directives on a field, counted before validation (so a document
    // that repeats one is refused for its size, not after a walk through it).
    let refused = query(
        &server,
        &format!(
            "{{ organization {{ name {} }} }}",
            "@include(if: true) ".repeat(51)
        ),
    )
    .await;
    refused.assert_limit("directives");
    assert!(refused.message().contains("50"), "{:#}", refused.body);

    let server = server_with(ServerSettings {
        limits: Limits {
            max_directives: 1,
            ..Limits::default()
        },
        ..ServerSettings::default()
    })
    .await;
    query(&server, "{ organization { name @include(if: true) } }")
        .await
        .assert_ok();
    let refused = query(
        &server,
        "{ organization { name @include(if: true) @skip(if: false) } }",
    )
    .await;
    refused.assert_limit("directives");
}

#[tokio::test]
async fn batches_are_bounded() {
    let server = TestServer::start().await;
    let batch = |n: usize| {
        Value::Array(
            (0..n)
                .map(|i| json!({ "query": format!("{{ n{i}: organization {{ name }} }}") }))
                .collect(),
        )
    };
    // max_batch_size (5) operations: an array of five answers, in order.
    let served = post_as(&server, &server.client, batch(5)).await;
    assert_eq!(served.status, StatusCode::OK);
    let answers = served.body.as_array().expect("an array of answers");
    assert_eq!(answers.len(), 5);
    for (i, answer) in answers.iter().enumerate() {
        assert_eq!(answer["data"][format!("n{i}")]["name"], "MessageBird B.V.");
    }
    // One more is refused as a whole, and so is an empty one.
    let refused = post_as(&server, &server.client, batch(6)).await;
    refused.assert_refused(StatusCode::BAD_REQUEST);
    assert!(refused.message().contains("batch"), "{:#}", refused.body);
    post_as(&server, &server.client, batch(0))
        .await
        .assert_refused(StatusCode::BAD_REQUEST);

    // Configured to 1, batching is off.
    let server = server_with(ServerSettings {
        max_batch_size: 1,
        ..ServerSettings::default()
    })
    .await;
    post_as(&server, &server.client, batch(2))
        .await
        .assert_refused(StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn page_size_is_bounded() {
    let server = TestServer::start().await;
    let page =
        |first: i64| format!("{{ dataFlows(first: {first}) {{ totalCount nodes {{ id }} }} }}");
    let served = query(&server, &page(500)).await;
    let data = served.assert_ok();
    let total = data["dataFlows"]["totalCount"].as_u64().unwrap();
    assert_eq!(
        data["dataFlows"]["nodes"].as_array().unwrap().len() as u64,
        total.min(500)
    );
    for first in [501, -1, i64::from(i32::MAX)] {
        let refused = query(&server, &page(first)).await;
        assert_eq!(refused.status, StatusCode::OK, "{:#}", refused.body);
        assert_eq!(refused.code(), "BAD_USER_INPUT", "{:#}", refused.body);
        assert_eq!(refused.body["errors"][0]["extensions"]["field"], "first");
    }
    // The change history pages the same way.
    let refused = query(
        &server,
        "{ subprocessorChanges(first: 501) { totalCount } }",
    )
    .await;
    assert_eq!(refused.code(), "BAD_USER_INPUT", "{:#}", refused.body);

    // Configured lower, it applies at the new figure.
    let server = server_with(ServerSettings {
        limits: Limits {
            max_page_size: 10,
            default_page_size: 10,
            ..Limits::default()
        },
        ..ServerSettings::default()
    })
    .await;
    let served = query(&server, "{ dataFlows { nodes { id } } }").await;
    assert_eq!(
        served.assert_ok()["dataFlows"]["nodes"]
            .as_array()
            .unwrap()
            .len(),
        10
    );
    assert_eq!(query(&server, &page(11)).await.code(), "BAD_USER_INPUT");
}

#[tokio::test]
async fn request_bodies_are_bounded() {
    let server = server_with(ServerSettings {
        max_body_bytes: 1024,
        max_editor_body_bytes: 4096,
        ..ServerSettings::default()
    })
    .await;
    // A body of exactly `size` bytes: a query padded with a comment.
    let body = |size: usize| {
        let mut text = json!({ "query": "{ organization { name } }#" }).to_string();
        let pad = size - text.len();
        text.insert_str(text.len() - 2, &"x".repeat(pad));
        assert_eq!(text.len(), size);
        text
    };
    let post = |text: String| {
        server
            .anonymous_client
            .post(format!("{}/graphql", server.url))
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, GRAPHQL_JSON)
            .body(text)
    };
    send(post(body(1024))).await.assert_ok();
    let refused = send(post(body(1025))).await;
    assert_eq!(refused.status, StatusCode::PAYLOAD_TOO_LARGE);
    // Far over the limit, it is refused without reading it all.
    let refused = send(post(body(4 * 1024 * 1024))).await;
    assert_eq!(refused.status, StatusCode::PAYLOAD_TOO_LARGE);
    // An editor's body may be larger (a manifest travels in it), up to its own limit; a
    // viewer's may not.
    let editor = client_with_key(Some(&server.key(Role::Editor).await));
    let viewer = client_with_key(Some(&server.key(Role::Viewer).await));
    let post_as = |client: &reqwest::Client, text: String| {
        client
            .post(format!("{}/graphql", server.url))
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, GRAPHQL_JSON)
            .body(text)
    };
    send(post_as(&editor, body(4096))).await.assert_ok();
    let refused = send(post_as(&editor, body(4097))).await;
    assert_eq!(refused.status, StatusCode::PAYLOAD_TOO_LARGE);
    let refused = send(post_as(&viewer, body(2048))).await;
    assert_eq!(refused.status, StatusCode::PAYLOAD_TOO_LARGE);
    // The server is fine afterwards.
    query(&server, "{ organization { name } }")
        .await
        .assert_ok();
}

/// The request time limit stops a heavy query with 503 and code TIMEOUT. A limit of a few
/// milliseconds makes this deterministic: the query below needs hundreds of rows from dozens of
/// statements, which no database serves that fast.
#[tokio::test]
async fn request_time_is_bounded() {
    let server = server_with(ServerSettings {
        request_timeout: Duration::from_millis(5),
        ..ServerSettings::default()
    })
    .await;
    let refused = query(
        &server,
        "{ dataFlows(first: 500) { totalCount nodes { id role purpose
             recipient { key legalName country { code } processingLocations { code } }
             activity { key name purposes dataCategories { key } }
             dataCategories { key name } dataSubjects { key } countries { code inEea }
             transfers { mechanism country { code } } } }
           recordOfProcessingActivities(perspective: CONTROLLER) { activities { name transfers { country } } } }",
    )
    .await;
    refused.assert_refused(StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(refused.code(), "TIMEOUT", "{:#}", refused.body);
    let ready = send(server.client.get(format!("{}/readyz", server.url))).await;
    assert_eq!(ready.status, StatusCode::OK);
}

#[tokio::test]
async fn subscriptions_per_connection_are_bounded() {
    let server = server_with(ServerSettings {
        limits: Limits {
            max_subscriptions_per_connection: 2,
            ..Limits::default()
        },
        ..ServerSettings::default()
    })
    .await;
    // Subscribe after the log's last event, so nothing is replayed.
    let history = server.history(json!({})).await;
    let after = history
        .last()
        .map(|e| e["cursor"].clone())
        .unwrap_or(Value::Null);

    let mut socket = RawSocket::open(&server).await;
    match socket.init(server.init()).await {
        Next::Message(m) if m["type"] == "connection_ack" => {}
        other => panic!("expected connection_ack, got {other:?}"),
    }
    // Two subscriptions, live once each has an event (the server starts them in no set order,
    // so the third is sent only then).
    socket.subscribe("1", &after).await;
    socket.subscribe("2", &after).await;
    let stripe = server.recipient_id("stripe").await;
    server.rename(&stripe, "Stripe Payments Europe").await;
    let mut live = Vec::new();
    while live.len() < 2 {
        match socket.next().await {
            Next::Message(m) if m["type"] == "next" && m["payload"].get("errors").is_none() => {
                live.push(m["id"].as_str().unwrap().to_owned());
            }
            other => panic!("expected events, got {other:?}"),
        }
    }
    live.sort();
    assert_eq!(live, ["1", "2"]);

    // The third is refused with an error naming the limit, then completed; the connection
    // stays open.
    socket.subscribe("3", &after).await;
    let refusal = match socket.next().await {
        Next::Message(m) => m,
        other => panic!("expected an error message, got {other:?}"),
    };
    assert_eq!(refusal["id"], "3", "{refusal:#}");
    assert_eq!(refusal["type"], "next", "{refusal:#}");
    let error = &refusal["payload"]["errors"][0];
    assert_eq!(error["extensions"]["code"], "LIMIT_EXCEEDED", "{refusal:#}");
    assert!(
        error["message"].as_str().unwrap().contains('2'),
        "{refusal:#}"
    );
    match socket.next().await {
        Next::Message(m) if m["type"] == "complete" && m["id"] == "3" => {}
        other => panic!("expected subscription 3 to complete, got {other:?}"),
    }

    // Completing one frees its slot: a new subscription is accepted and replays the event.
    socket
        .send_json(json!({ "id": "1", "type": "complete" }))
        .await;
    socket.subscribe("4", &after).await;
    loop {
        match socket.next().await {
            Next::Message(m) if m["type"] == "complete" && m["id"] == "1" => continue,
            Next::Message(m) if m["id"] == "4" => {
                assert_eq!(m["type"], "next", "{m:#}");
                assert!(m["payload"].get("errors").is_none(), "{m:#}");
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}

/// A WebSocket message over 64 KiB is closed with 1009 "message too big", before the handshake
/// and after it.
#[tokio::test]
async fn websocket_messages_are_bounded() {
    let server = TestServer::start().await;
    let padding = "x".repeat(128 * 1024);
    let mut socket = RawSocket::open(&server).await;
    match socket.init(json!({ "padding": padding })).await {
        Next::Closed(Some(1009)) => {}
        other => panic!("expected a close with 1009 before the handshake, got {other:?}"),
    }
    let mut socket = RawSocket::open(&server).await;
    match socket.init(server.init()).await {
        Next::Message(m) if m["type"] == "connection_ack" => {}
        other => panic!("expected connection_ack, got {other:?}"),
    }
    socket.subscribe("1", &json!(padding)).await;
    match socket.next().await {
        Next::Closed(Some(1009)) => {}
        other => panic!("expected a close with 1009 after the handshake, got {other:?}"),
    }
}

#[tokio::test]
async fn connections_per_key_are_bounded() {
    let server = server_with(ServerSettings {
        max_connections_per_client: 2,
        ..ServerSettings::default()
    })
    .await;
    let first = WsClient::connect(&server.url, TRANSPORT_WS, server.init()).await;
    let _second = WsClient::connect(&server.url, TRANSPORT_WS, server.init()).await;
    // The third with the same key is closed with 4429.
    let mut third = RawSocket::open(&server).await;
    match third.init(server.init()).await {
        Next::Closed(Some(4429)) => {}
        other => panic!("expected a close with 4429, got {other:?}"),
    }
    // Another key has its own count.
    let editor = server.key(Role::Editor).await;
    let _other = WsClient::connect(
        &server.url,
        TRANSPORT_WS,
        json!({ "Authorization": format!("Bearer {editor}") }),
    )
    .await;
    // Closing one gives its place back (once the server has seen the close).
    first.cut();
    let mut admitted = false;
    for _ in 0..50 {
        let mut again = RawSocket::open(&server).await;
        match again.init(server.init()).await {
            Next::Message(m) if m["type"] == "connection_ack" => {
                admitted = true;
                break;
            }
            Next::Closed(Some(4429)) => tokio::time::sleep(Duration::from_millis(100)).await,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(admitted, "a closed connection's place is given back");
}

/// Asserts a rate-limit refusal: 429, Retry-After in whole seconds (at least 1, at most
/// `most`), and a JSON error with code RATE_LIMITED.
fn assert_rate_limited(answer: &Answer, most: u64) {
    assert_eq!(
        answer.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{:#}",
        answer.body
    );
    let retry: u64 = answer.headers[RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .expect("Retry-After in whole seconds");
    assert!((1..=most).contains(&retry), "Retry-After {retry}");
    assert_eq!(answer.code(), "RATE_LIMITED", "{:#}", answer.body);
}

#[tokio::test]
async fn each_key_is_rate_limited() {
    // 12 a minute: a burst of 2, then one every 5 s.
    let server = server_with(ServerSettings {
        key_requests_per_minute: 12,
        address_requests_per_minute: 0,
        ..ServerSettings::default()
    })
    .await;
    let editor = client_with_key(Some(&server.key(Role::Editor).await));
    let ask = || {
        post_as(
            &server,
            &editor,
            json!({ "query": "{ organization { name } }" }),
        )
    };
    ask().await.assert_ok();
    ask().await.assert_ok();
    assert_rate_limited(&ask().await, 5);
    // Another key, and anonymous callers, are not affected.
    query(&server, "{ organization { name } }")
        .await
        .assert_ok();
    post_as(
        &server,
        &server.anonymous_client,
        json!({ "query": "{ organization { name } }" }),
    )
    .await
    .assert_ok();
    // A batch charges each of its operations: three at once is more than the burst allows.
    let viewer = client_with_key(Some(&server.key(Role::Viewer).await));
    let batch = json!([
        { "query": "{ organization { name } }" },
        { "query": "{ organization { name } }" },
        { "query": "{ organization { name } }" },
    ]);
    let refused = post_as(&server, &viewer, batch).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.code(), "RATE_LIMITED");
}

#[tokio::test]
async fn each_address_is_rate_limited() {
    // Behind a proxy, the address is X-Forwarded-For's; 12 a minute is a burst of 2.
    let server = server_with(ServerSettings {
        key_requests_per_minute: 0,
        address_requests_per_minute: 12,
        trust_forwarded_for: true,
        ..ServerSettings::default()
    })
    .await;
    let editor = client_with_key(Some(&server.key(Role::Editor).await));
    let ask = |client: &reqwest::Client, address: &str| {
        send(
            client
                .post(format!("{}/graphql", server.url))
                .header(ACCEPT, GRAPHQL_JSON)
                .header("X-Forwarded-For", format!("{address}, 10.0.0.1"))
                .json(&json!({ "query": "{ organization { name } }" })),
        )
    };
    ask(&server.client, "203.0.113.7").await.assert_ok();
    ask(&server.anonymous_client, "203.0.113.7")
        .await
        .assert_ok();
    assert_rate_limited(&ask(&server.client, "203.0.113.7").await, 5);
    // The address is what is limited: another key from it is refused too...
    assert_rate_limited(&ask(&editor, "203.0.113.7").await, 5);
    // ...and another address is not.
    ask(&editor, "203.0.113.8").await.assert_ok();
}

#[tokio::test]
async fn introspection_can_be_switched_off() {
    // Switched on (the default), the schema answers and unknown fields get suggestions.
    let server = TestServer::start().await;
    query(&server, "{ __schema { queryType { name } } }")
        .await
        .assert_ok();
    let typo = query(&server, "{ recipientz { key } }").await;
    assert!(typo.message().contains("Did you mean"), "{:#}", typo.body);

    let server = server_with(ServerSettings {
        limits: Limits {
            introspection: false,
            ..Limits::default()
        },
        ..ServerSettings::default()
    })
    .await;
    // The introspection fields are refused, also behind a fragment: not a type or field name
    // leaks, and a client generator learns why it got nothing.
    for document in [
        "{ __schema { queryType { name } types { name } } }",
        "{ __type(name: \"Recipient\") { fields { name } } }",
        "query { ...Q } fragment Q on Query { __schema { types { name } } }",
    ] {
        let answer = query(&server, document).await;
        answer.assert_refused(StatusCode::BAD_REQUEST);
        assert_eq!(answer.code(), "INTROSPECTION_DISABLED", "{:#}", answer.body);
        assert!(
            !answer.body.to_string().contains("Recipient\""),
            "{:#}",
            answer.body
        );
    }
    // `__typename` is not introspection of the schema and stays available.
    query(&server, "{ __typename organization { name } }")
        .await
        .assert_ok();
    // No "did you mean": a typo does not reveal the field it is close to.
    for document in [
        "{ recipientz { key } }",
        "{ recipients { legalNam } }",
        "{ dataFlows(filter: { dataCategorie: [\"contact\"] }) { totalCount } }",
        "{ recipients(filter: { kinds: [AFFILIAT] }) { key } }",
    ] {
        let refused = query(&server, document).await;
        refused.assert_refused(StatusCode::BAD_REQUEST);
        let text = refused.body.to_string();
        assert!(!text.contains("Did you mean"), "{document}: {text}");
        assert!(!text.contains("recipients\""), "{document}: {text}");
    }
    // Everything else is served as before.
    query(&server, "{ organization { name } }")
        .await
        .assert_ok();
}

#[tokio::test]
async fn graphiql_can_be_switched_off() {
    let server = server_with(ServerSettings {
        graphiql: false,
        ..ServerSettings::default()
    })
    .await;
    for accept in [
        "text/html",
        "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    ] {
        let answer = send(
            server
                .anonymous_client
                .get(format!("{}/graphql", server.url))
                .header(ACCEPT, accept),
        )
        .await;
        assert!(
            answer.status.is_client_error(),
            "{accept}: {}",
            answer.status
        );
        let text = answer.body.to_string().to_lowercase();
        assert!(
            !text.contains("graphiql") && !text.contains("<html"),
            "{text}"
        );
    }
    // The API itself is still there.
    query(&server, "{ organization { name } }")
        .await
        .assert_ok();
}
