//! Hostile input: a battery of bad requests. Each one gets a 4xx or a GraphQL error (never a
//! 500, never a hang: every request runs under a timeout), and the registry is exactly as it
//! was afterwards, compared through a fingerprint of everything a key can read plus the change
//! log's length and head.

use crate::common::ws::{Next, RawSocket, TRANSPORT_WS, WsClient};
use crate::common::{PATIENCE, Setup, TestServer, client_with_key};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use entity::Role;
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use serde_json::{Value, json};
use std::time::Duration;
use subreg::settings::ServerSettings;
use tokio_tungstenite::tungstenite::Message;

const GRAPHQL_JSON: &str = "application/graphql-response+json";

/// The registry's content as the admin key reads it (every text a write could reach), to
/// compare before and after.
const FINGERPRINT: &str = r#"{
  recipients { key legalName status public description dpaReference sources updatedAt }
  processingActivities { key name purposes description retention { period reason } }
  dataFlows(first: 500) { totalCount nodes { id purpose updatedAt } }
  dataCategories { key name } dataSubjectCategories { key name } products { key name }
  organization { name address dpoName dpoEmail sources }
  objections { id status }
  apiKeys { id name revokedAt }
}"#;

/// Injection attempts: SQL quoting, comments and stacked statements, LIKE wildcards, escapes,
/// Unicode quotes, and values that would widen a match if they reached a pattern.
const INJECTIONS: &[&str] = &[
    "' OR 1=1 --",
    "\"; DROP TABLE recipient; --",
    "'; DROP TABLE change_event; --",
    "stripe' --",
    "stripe' OR 'a'='a",
    "%",
    "_",
    "stripe%",
    "s_ripe",
    "contact%",
    "\\",
    "stripe\\",
    "\u{2019} OR \u{2018}1\u{2019}=\u{2018}1",
    "\u{ff07} OR 1=1 --",
    "1; SELECT pg_sleep(10)",
    "' UNION SELECT secret_hash FROM api_key --",
    "*",
    "$1",
    "?",
];

/// An HTTP answer, its body parsed as JSON when it is JSON.
#[derive(Debug)]
struct Answer {
    status: StatusCode,
    body: Value,
}

impl Answer {
    /// The `extensions.code` of every error.
    fn codes(&self) -> Vec<&str> {
        self.body["errors"]
            .as_array()
            .map(|errors| {
                errors
                    .iter()
                    .map(|e| e["extensions"]["code"].as_str().unwrap_or(""))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn has_errors(&self) -> bool {
        self.body["errors"]
            .as_array()
            .is_some_and(|errors| !errors.is_empty())
    }

    /// Asserts a refusal: a 4xx status, or a GraphQL error that is not an internal one.
    fn assert_refused(&self, what: &str) {
        assert!(
            self.status.is_client_error() || (self.status == StatusCode::OK && self.has_errors()),
            "{what}: expected a 4xx or a GraphQL error, got {} {:#}",
            self.status,
            self.body
        );
        self.assert_no_internal_error(what);
    }

    fn assert_no_internal_error(&self, what: &str) {
        assert!(
            !self.status.is_server_error(),
            "{what}: {} {:#}",
            self.status,
            self.body
        );
        assert!(
            !self.codes().contains(&"INTERNAL_SERVER_ERROR"),
            "{what}: {:#}",
            self.body
        );
    }

    /// Asserts that every error has one of `codes`, and there is at least one.
    fn assert_codes(&self, what: &str, codes: &[&str]) {
        self.assert_no_internal_error(what);
        assert!(
            self.has_errors(),
            "{what}: expected an error: {:#}",
            self.body
        );
        for code in self.codes() {
            assert!(
                codes.contains(&code),
                "{what}: expected {codes:?}, got {:#}",
                self.body
            );
        }
    }
}

async fn send(what: &str, request: reqwest::RequestBuilder) -> Answer {
    let what: String = what.chars().take(200).collect();
    let exchange = async {
        let response = request.send().await?;
        let status = response.status();
        Ok::<_, reqwest::Error>((status, response.text().await?))
    };
    let (status, text) = tokio::time::timeout(PATIENCE, exchange)
        .await
        .unwrap_or_else(|_| panic!("{what}: no answer in {PATIENCE:?}: a hang"))
        .unwrap_or_else(|err| panic!("{what}: no HTTP answer: {err}"));
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Answer { status, body }
}

/// A server that does not rate-limit: the battery sends hundreds of requests in a few seconds.
async fn hostile_server() -> TestServer {
    TestServer::setup(Setup {
        settings: ServerSettings {
            key_requests_per_minute: 0,
            address_requests_per_minute: 0,
            ..ServerSettings::default()
        },
        ..Setup::default()
    })
    .await
}

/// The registry as a key sees it, with the change log's length and last sequence number.
async fn fingerprint(server: &TestServer) -> Value {
    let data = server.data(FINGERPRINT, json!({})).await;
    let history = server.history(json!({})).await;
    json!({
        "registry": data,
        "events": history.len(),
        "last": history.last().map(|e| e["sequence"].clone()),
    })
}

/// A hostile session against one server: sends bad requests, then checks the registry did not
/// move.
struct Battery {
    server: TestServer,
    /// Clients with a VIEWER and an EDITOR key, made before the fingerprint is taken.
    viewer: reqwest::Client,
    editor: reqwest::Client,
    before: Value,
}

impl Battery {
    async fn start() -> Self {
        let server = hostile_server().await;
        let viewer = client_with_key(Some(&server.key(Role::Viewer).await));
        let editor = client_with_key(Some(&server.key(Role::Editor).await));
        let before = fingerprint(&server).await;
        Self {
            server,
            viewer,
            editor,
            before,
        }
    }

    fn url(&self) -> String {
        format!("{}/graphql", self.server.url)
    }

    /// POSTs raw `body` bytes as `content_type` with the admin key.
    async fn raw(
        &self,
        what: &str,
        content_type: Option<&str>,
        body: impl Into<Vec<u8>>,
    ) -> Answer {
        let mut request = self
            .server
            .client
            .post(self.url())
            .header(ACCEPT, GRAPHQL_JSON)
            .body(body.into());
        if let Some(content_type) = content_type {
            request = request.header(CONTENT_TYPE, content_type);
        }
        send(what, request).await
    }

    /// POSTs a GraphQL request with `client`.
    async fn post_as(&self, client: &reqwest::Client, query: &str, variables: Value) -> Answer {
        send(
            query,
            client
                .post(self.url())
                .header(ACCEPT, GRAPHQL_JSON)
                .json(&json!({ "query": query, "variables": variables })),
        )
        .await
    }

    /// POSTs a GraphQL request with the admin key.
    async fn post(&self, query: &str, variables: Value) -> Answer {
        self.post_as(&self.server.client, query, variables).await
    }

    /// Asserts that the registry is exactly as it was, and the server still serves.
    async fn assert_unchanged(&self) {
        assert_eq!(
            fingerprint(&self.server).await,
            self.before,
            "the registry changed"
        );
        let ready = send(
            "readyz",
            self.server
                .client
                .get(format!("{}/readyz", self.server.url)),
        )
        .await;
        assert_eq!(ready.status, StatusCode::OK);
    }
}

#[tokio::test]
async fn malformed_json_bodies_are_refused() {
    let battery = Battery::start().await;
    let nested = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let nested_variables = format!(
        r#"{{"query":"query($v: String) {{ recipient(key: $v) {{ key }} }}","variables":{{"v":{}1{}}}}}"#,
        "{\"a\":".repeat(10_000),
        "}".repeat(10_000)
    );
    let bodies: Vec<(&str, Vec<u8>)> = vec![
        ("empty", b"".to_vec()),
        ("whitespace", b"  \n\t ".to_vec()),
        ("not JSON", b"{not json".to_vec()),
        ("a GraphQL document, not JSON", b"{ recipients { key } }".to_vec()),
        ("truncated", br#"{"query": "{ recipients { key } }""#.to_vec()),
        ("truncated inside a string", br#"{"query": "{ recipients { ke"#.to_vec()),
        ("trailing garbage", br#"{"query": "{ organization { name } }"} xyz"#.to_vec()),
        ("two objects", br#"{"query": "{ organization { name } }"}{"query": "{ organization { name } }"}"#.to_vec()),
        ("null", b"null".to_vec()),
        ("a number", b"42".to_vec()),
        ("a string", br#""{ organization { name } }""#.to_vec()),
        ("true", b"true".to_vec()),
        ("an empty object", b"{}".to_vec()),
        ("an array of numbers", b"[1, 2, 3]".to_vec()),
        ("an array of nulls", b"[null]".to_vec()),
        ("query is a number", br#"{"query": 42}"#.to_vec()),
        ("query is null", br#"{"query": null}"#.to_vec()),
        ("query is empty", br#"{"query": ""}"#.to_vec()),
        ("query is an object", br#"{"query": {"a": 1}}"#.to_vec()),
        ("variables is a string", br#"{"query": "{ organization { name } }", "variables": "x"}"#.to_vec()),
        ("variables is an array", br#"{"query": "{ organization { name } }", "variables": [1]}"#.to_vec()),
        ("variables is a number", br#"{"query": "{ organization { name } }", "variables": 7}"#.to_vec()),
        ("operationName is a number", br#"{"query": "{ organization { name } }", "operationName": 7}"#.to_vec()),
        ("unknown operationName", br#"{"query": "query A { organization { name } }", "operationName": "B"}"#.to_vec()),
        ("extensions is a string", br#"{"query": "{ organization { name } }", "extensions": "x"}"#.to_vec()),
        ("a lone surrogate escape", br#"{"query": "{ recipient(key: \"\ud800\") { key } }"}"#.to_vec()),
        ("a bad escape", br#"{"query": "{ recipient(key: \"\x41\") { key } }"}"#.to_vec()),
        ("NaN", br#"{"query": "query($n: Int) { dataFlows(first: $n) { totalCount } }", "variables": {"n": NaN}}"#.to_vec()),
        ("a huge number", br#"{"query": "query($n: Int) { dataFlows(first: $n) { totalCount } }", "variables": {"n": 1e999999}}"#.to_vec()),
        ("arrays nested 100,000 deep", nested.into_bytes()),
        ("variables nested 10,000 deep", nested_variables.into_bytes()),
    ];
    for (what, body) in bodies {
        let answer = battery.raw(what, Some("application/json"), body).await;
        answer.assert_refused(what);
    }
    // The same through GET: malformed query strings.
    for (what, query) in [
        ("no query", ""),
        ("an empty query", "query="),
        ("a bad percent escape", "query=%ZZ%"),
        (
            "variables not JSON",
            "query=%7B%20organization%20%7B%20name%20%7D%20%7D&variables=%7Bnope",
        ),
        (
            "variables not an object",
            "query=%7B%20organization%20%7B%20name%20%7D%20%7D&variables=%5B1%5D",
        ),
        (
            "extensions not JSON",
            "query=%7B%20organization%20%7B%20name%20%7D%20%7D&extensions=x",
        ),
        (
            "a repeated query",
            "query=%7B%20organization%20%7B%20name%20%7D%20%7D&query=x",
        ),
        ("a truncated document", "query=%7B%20recipients%20%7B"),
    ] {
        let answer = send(
            what,
            battery
                .server
                .client
                .get(format!("{}?{query}", battery.url()))
                .header(ACCEPT, GRAPHQL_JSON),
        )
        .await;
        answer.assert_refused(what);
    }
    battery.assert_unchanged().await;
}

#[tokio::test]
async fn wrong_content_types_are_refused() {
    let battery = Battery::start().await;
    let body = json!({ "query": "{ organization { name } }" }).to_string();
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/graphql"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        Some("application/xml"),
        Some("application/jsonx"),
        Some("json"),
        Some(""),
        Some("application/json-patch+json"),
    ] {
        let what = format!("content type {content_type:?}");
        let answer = battery.raw(&what, content_type, body.clone()).await;
        assert!(answer.status.is_client_error(), "{what}: {answer:?}");
    }
    // A mutation sent as a form (a cross-site request a browser could make) changes nothing.
    let stripe = battery.server.recipient_id("stripe").await;
    let form = format!(r#"{{"query": "mutation {{ deleteRecipient(id: \"{stripe}\") }}"}}"#);
    for content_type in ["text/plain", "application/x-www-form-urlencoded"] {
        let answer = battery
            .raw(content_type, Some(content_type), form.clone())
            .await;
        assert_eq!(
            answer.status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{answer:?}"
        );
    }
    // An Accept the server cannot satisfy is refused too, before anything runs.
    let answer = send(
        "accept image/png",
        battery
            .server
            .client
            .post(battery.url())
            .header(ACCEPT, "image/png")
            .header(CONTENT_TYPE, "application/json")
            .body(form),
    )
    .await;
    assert_eq!(answer.status, StatusCode::NOT_ACCEPTABLE);
    battery.assert_unchanged().await;
}

#[tokio::test]
async fn malformed_graphql_is_refused() {
    let battery = Battery::start().await;
    for document in [
        "{",
        "}",
        "{ recipients { key }",
        "{ recipients { key } } }",
        "}}}}{{{{",
        "{ recipients ( { key } }",
        "{ recipient(key: \"unterminated) { key } }",
        "{ recipient(key: \"\"\"unterminated block) { key } }",
        "{ recipients { k\u{20ac}y } }",
        "{ recipients { key } } \u{0}",
        "\u{0}\u{1}\u{2}",
        "{ recipients { 1key } }",
        "{ recipients { key @ } }",
        "{ ... }",
        "{ ...on }",
        "query query query",
        "query ($) { organization { name } }",
        "query ($a: ) { organization { name } }",
        "mutation",
        "subscription",
        "fragment F on Query { organization { name } }",
        "{ dataFlows(first: 99999999999999999999) { totalCount } }",
        "{ dataFlows(first: 1.5) { totalCount } }",
        "{ dataFlows(first: \"10\") { totalCount } }",
        "{ dataFlows(first: 1, first: 2) { totalCount } }",
        "query A { organization { name } } query A { organization { name } }",
        "{ organization { name } } { organization { name } }",
        "{ organization { name } } mutation { deleteRecipient(id: \"x\") }",
        "{ organization { name(arg: 1) } }",
        "{ organization }",
        "{ organization { name { inner } } }",
        "{ organization @nope { name } }",
        "{ organization { name @include } }",
        "{ organization { name @include(if: \"yes\") } }",
        "query($v: String) { organization { name } }  query { organization { name } }",
        "query($v: String!) { recipient(key: $v) { key } }",
        "query { recipient(key: $undefined) { key } }",
        "subscription { subprocessorChanges { cursor } }",
        "subscription { a: subprocessorChanges { cursor } b: subprocessorChanges { cursor } }",
        "# only a comment",
        "\u{feff}",
    ] {
        battery
            .post(document, json!({}))
            .await
            .assert_refused(document);
    }
    battery.assert_unchanged().await;
}

#[tokio::test]
async fn unknown_fields_types_and_enum_values_are_refused() {
    let battery = Battery::start().await;
    for (document, variables) in [
        ("{ noSuchField }", json!({})),
        ("{ recipients { noSuchField } }", json!({})),
        ("{ recipients { key __noSuch } }", json!({})),
        ("{ recipient(noSuchArg: 1) { key } }", json!({})),
        (
            "query($x: NoSuchType) { organization { name } }",
            json!({ "x": 1 }),
        ),
        ("{ ...F } fragment F on NoSuchType { id }", json!({})),
        ("{ ... on NoSuchType { id } }", json!({})),
        ("{ recipients { ... on DataFlow { id } } }", json!({})),
        (
            "{ recipients(filter: { kinds: [NOT_A_KIND] }) { key } }",
            json!({}),
        ),
        (
            "{ recipients(filter: { kinds: [affiliate] }) { key } }",
            json!({}),
        ),
        (
            "{ recipients(filter: { noSuchFilter: true }) { key } }",
            json!({}),
        ),
        (
            "{ dataFlows(filter: { roles: [PROCESOR] }) { totalCount } }",
            json!({}),
        ),
        (
            "{ dataFlows(filter: { transferMechanisms: [SCC] }) { totalCount } }",
            json!({}),
        ),
        (
            "{ recordOfProcessingActivities(perspective: BOTH) { asOf } }",
            json!({}),
        ),
        ("{ recordOfProcessingActivities { asOf } }", json!({})),
        (
            "query($k: [RecipientKind!]) { recipients(filter: { kinds: $k }) { key } }",
            json!({ "k": ["NOT_A_KIND"] }),
        ),
        (
            "query($k: [RecipientKind!]) { recipients(filter: { kinds: $k }) { key } }",
            json!({ "k": [null] }),
        ),
        (
            "query($r: [RecipientRole!]) { dataFlows(filter: { roles: $r }) { totalCount } }",
            json!({ "r": ["processor"] }),
        ),
        (
            "query($f: DataFlowFilter) { dataFlows(filter: $f) { totalCount } }",
            json!({ "f": { "noSuchFilter": 1 } }),
        ),
        (
            "query($p: Perspective!) { recordOfProcessingActivities(perspective: $p) { asOf } }",
            json!({ "p": "CONTROLLER'; --" }),
        ),
        (
            "mutation($s: ObjectionStatus!) { resolveObjection(id: \"T2JqZWN0aW9uOjE\", status: $s) { id } }",
            json!({ "s": "DELETED" }),
        ),
        (
            "mutation($r: Role!) { createApiKey(name: \"x\", role: $r) { secret } }",
            json!({ "r": "SUPERUSER" }),
        ),
    ] {
        battery
            .post(document, variables)
            .await
            .assert_refused(document);
    }
    battery.assert_unchanged().await;
}

#[tokio::test]
async fn deep_and_wide_documents_are_refused_cheaply() {
    let battery = Battery::start().await;
    let deep = |n: usize| {
        format!(
            "{{ {}id{} }}",
            "recipients { dataFlows { ".repeat(n / 2),
            " } }".repeat(n / 2)
        )
    };
    let braces = |n: usize| format!("{}{}", "{ a ".repeat(n), "}".repeat(n));
    let wide = |n: usize| format!("{{ organization {{ {} }} }}", "name ".repeat(n));
    let wide_aliases = |n: usize| {
        let fields: Vec<String> = (0..n).map(|i| format!("f{i}: __typename")).collect();
        format!("{{ {} }}", fields.join(" "))
    };
    let wide_list = |n: usize| {
        format!(
            "{{ dataFlows(first: 500) {{ nodes {{ {} }} }} }}",
            "id role purpose ".repeat(n)
        )
    };
    let documents = [
        ("nesting 20", deep(20)),
        ("nesting 100", deep(100)),
        ("nesting 1,000", deep(1_000)),
        ("nesting 10,000 (under the body limit)", deep(10_000)),
        ("braces 100", braces(100)),
        ("braces 30,000", braces(30_000)),
        ("1,000 fields", wide(1_000)),
        ("5,000 fields", wide(5_000)),
        ("40,000 fields", wide(40_000)),
        ("3,000 aliases", wide_aliases(3_000)),
        ("3,000 fields on 500 flows", wide_list(1_000)),
        (
            "2,000 directives",
            format!(
                "{{ organization {{ name {} }} }}",
                "@skip(if: false) ".repeat(2_000)
            ),
        ),
        (
            "20,000 arguments",
            format!(
                "{{ organization({}) {{ name }} }}",
                (0..20_000).map(|i| format!("a{i}: 1 ")).collect::<String>()
            ),
        ),
        (
            "a 30,000-deep list literal",
            format!(
                "{{ dataFlows(filter: {{ countries: {}\"NL\"{} }}) {{ totalCount }} }}",
                "[".repeat(30_000),
                "]".repeat(30_000)
            ),
        ),
        (
            "a 10,000-deep object literal",
            format!(
                "{{ dataFlows(filter: {}{}) {{ totalCount }} }}",
                "{ a: ".repeat(10_000),
                "}".repeat(10_000)
            ),
        ),
        (
            "1,000 operations",
            (0..1_000)
                .map(|i| format!("query Q{i} {{ organization {{ name }} }} "))
                .collect(),
        ),
        (
            "1,000 variables",
            format!(
                "query({}) {{ organization {{ name }} }}",
                (0..1_000)
                    .map(|i| format!("$v{i}: Int "))
                    .collect::<String>()
            ),
        ),
    ];
    for (what, document) in &documents {
        let started = std::time::Instant::now();
        let answer = battery.post(document, json!({})).await;
        answer.assert_refused(what);
        // Refused before any real work: well under a second even on a busy machine.
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{what} took {:?}",
            started.elapsed()
        );
    }
    battery.assert_unchanged().await;
}

#[tokio::test]
async fn alias_and_fragment_bombs_and_cycles_are_refused() {
    let battery = Battery::start().await;
    // Each fragment spreads the next one twice: 2^levels copies of `leaf` from a few hundred
    // bytes.
    let bomb_of = |operation: &str, on: &str, levels: usize, leaf: &str| {
        let mut document = format!("{operation} {{ ...F0 }}\n");
        for i in 0..levels {
            document.push_str(&format!(
                "fragment F{i} on {on} {{ ...F{} ...F{} }}\n",
                i + 1,
                i + 1
            ));
        }
        document.push_str(&format!("fragment F{levels} on {on} {{ {leaf} }}\n"));
        document
    };
    let bomb = |levels: usize| bomb_of("query", "Query", levels, "organization { name }");
    // The same through nested lists: each level doubles the work per row, too.
    let list_bomb = (0..8).fold(
        String::from("{ recipients { ...R0 } }\n"),
        |mut document, i| {
            document.push_str(&format!(
                "fragment R{i} on Recipient {{ dataFlows {{ recipient {{ ...R{n} }} }} onwardFlows {{ recipient {{ ...R{n} }} }} }}\n",
                n = i + 1
            ));
            document
        },
    ) + "fragment R8 on Recipient { key }";
    let aliases = |n: usize| {
        let fields: Vec<String> = (0..n)
            .map(|i| format!("a{i}: dataFlows(first: 500) {{ totalCount }}"))
            .collect();
        format!("{{ {} }}", fields.join(" "))
    };
    let documents = [
        ("16 costly aliases", aliases(16)),
        ("200 costly aliases", aliases(200)),
        (
            "aliases inside a fragment",
            format!(
                "{{ ...F }} fragment F on Query {{ {} }}",
                (0..20)
                    .map(|i| format!("o{i}: organization {{ name }} "))
                    .collect::<String>()
            ),
        ),
        ("a fragment bomb of 2^20", bomb(20)),
        ("a fragment bomb of 2^30", bomb(30)),
        ("a fragment bomb of 2^60", bomb(60)),
        ("a fragment bomb through lists", list_bomb),
        (
            "a fragment bomb of spreads to a missing fragment",
            bomb_of("query", "Query", 30, "...Nope"),
        ),
        (
            "a fragment bomb of directives",
            bomb_of(
                "query",
                "Query",
                30,
                "organization @skip(if: false) @include(if: true) { name }",
            ),
        ),
        (
            "a fragment spreading itself",
            "{ ...A } fragment A on Query { organization { name } ...A }".into(),
        ),
        (
            "two fragments spreading each other",
            "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }".into(),
        ),
        (
            "a long cycle",
            "{ ...A } fragment A on Query { ...B } fragment B on Query { ...C } fragment C on Query { organization { name } ...A }".into(),
        ),
        (
            "a cycle through a field",
            "{ recipients { ...R } } fragment R on Recipient { dataFlows { recipient { ...R } } }"
                .into(),
        ),
        (
            "an unknown fragment",
            "{ ...Nope }".into(),
        ),
        (
            "an unused fragment",
            "{ organization { name } } fragment F on Query { organization { name } }".into(),
        ),
        (
            "a duplicated fragment",
            "{ ...F } fragment F on Query { organization { name } } fragment F on Query { products { key } }".into(),
        ),
    ];
    for (what, document) in &documents {
        let started = std::time::Instant::now();
        battery.post(document, json!({})).await.assert_refused(what);
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{what} took {:?}",
            started.elapsed()
        );
    }
    // The same bomb as a subscription, over WebSocket: refused at once too.
    let mut client =
        WsClient::connect(&battery.server.url, TRANSPORT_WS, battery.server.init()).await;
    let subscription = bomb_of(
        "subscription",
        "Subscription",
        30,
        "subprocessorChanges { cursor }",
    );
    client.subscribe("bomb", &subscription, json!({})).await;
    let refusal = client
        .next(PATIENCE)
        .await
        .expect("an answer in time")
        .expect_err("a refusal");
    assert_eq!(
        refusal["payload"]["errors"][0]["extensions"]["code"], "LIMIT_EXCEEDED",
        "{refusal:#}"
    );
    battery.assert_unchanged().await;
}

#[tokio::test]
async fn huge_strings_are_refused_or_harmless() {
    let battery = Battery::start().await;
    let editor = &battery.editor;
    let stripe = battery.server.recipient_id("stripe").await;
    let lookup = "query($v: String) { recipient(key: $v) { key } }";

    // Over the body limit (256 KiB below the EDITOR role): 413, whatever the request.
    let anonymous = &battery.server.anonymous_client;
    for size in [256 * 1024, 1024 * 1024, 8 * 1024 * 1024] {
        let answer = battery
            .post_as(anonymous, lookup, json!({ "v": "x".repeat(size) }))
            .await;
        assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE, "{size} bytes");
    }
    // An editor's limit is higher (32 MiB, for manifests), and over it the same.
    let update = "mutation($id: ID!, $v: String) { updateRecipient(id: $id, input: { description: $v }) { id } }";
    let answer = battery
        .post_as(
            editor,
            update,
            json!({ "id": stripe, "v": "x".repeat(33 * 1024 * 1024) }),
        )
        .await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
    // Under it, a 1 MiB text is refused by the field's own bound.
    battery
        .post_as(
            editor,
            update,
            json!({ "id": stripe, "v": "x".repeat(1024 * 1024) }),
        )
        .await
        .assert_codes("a 1 MiB description", &["BAD_USER_INPUT"]);

    // Under it (~200 KB): a lookup finds nothing, a literal in the document is one token.
    let big = "x".repeat(200_000);
    let answer = battery.post(lookup, json!({ "v": big })).await;
    assert_eq!(answer.body, json!({ "data": { "recipient": null } }));
    let answer = battery
        .post(
            &format!("{{ recipient(key: \"{big}\") {{ key }} }}"),
            json!({}),
        )
        .await;
    assert_eq!(answer.body, json!({ "data": { "recipient": null } }));
    let answer = battery
        .post(
            "query($v: [String!]) { dataFlows(filter: { products: $v }) { totalCount } }",
            json!({ "v": [big] }),
        )
        .await;
    answer.assert_no_internal_error("a 200 KB product key");

    // Every text input of a write is bounded: BAD_USER_INPUT, nothing written.
    for (what, document, variables) in [
        (
            "legalName",
            "mutation($id: ID!, $v: String) { updateRecipient(id: $id, input: { legalName: $v }) { id } }",
            json!({ "id": stripe, "v": big }),
        ),
        (
            "description",
            "mutation($id: ID!, $v: String) { updateRecipient(id: $id, input: { description: $v }) { id } }",
            json!({ "id": stripe, "v": big }),
        ),
        (
            "sources",
            "mutation($id: ID!, $v: String!) { updateRecipient(id: $id, input: { sources: [$v] }) { id } }",
            json!({ "id": stripe, "v": big }),
        ),
        (
            "key",
            "mutation($id: ID!, $v: String) { updateRecipient(id: $id, input: { key: $v }) { id } }",
            json!({ "id": stripe, "v": big }),
        ),
        (
            "name",
            "mutation($v: String!) { createProduct(input: { key: \"huge\", name: $v }) { id } }",
            json!({ "v": big }),
        ),
    ] {
        battery
            .post_as(editor, document, variables)
            .await
            .assert_codes(what, &["BAD_USER_INPUT"]);
    }
    // So is a list: 30,000 short entries in one input.
    let many: Vec<String> = (0..30_000).map(|i| format!("s{i}")).collect();
    battery
        .post_as(
            editor,
            "mutation($id: ID!, $v: [String!]) { updateRecipient(id: $id, input: { sources: $v }) { id } }",
            json!({ "id": stripe, "v": many }),
        )
        .await
        .assert_codes("30,000 sources", &["BAD_USER_INPUT"]);
    battery.assert_unchanged().await;
}

/// The reason a change gives is text like any other: bounded, and without control characters.
#[tokio::test]
async fn change_reasons_are_validated_like_other_text() {
    let battery = Battery::start().await;
    let stripe = battery.server.recipient_id("stripe").await;
    let mut accepted = Vec::new();
    for reason in ["x".repeat(200_000), "a\u{0}b".into(), "a\u{1b}[2Jb".into()] {
        let answer = battery
            .post_as(
                &battery.editor,
                "mutation($id: ID!, $v: String) { updateRecipient(id: $id, input: { legalName: \"Stripe, Inc.\" }, reason: $v) { id } }",
                json!({ "id": stripe, "v": reason }),
            )
            .await;
        answer.assert_no_internal_error("a reason");
        if answer.codes() != ["BAD_USER_INPUT"] {
            accepted.push(format!("{:?}", &reason[..reason.len().min(20)]));
        }
    }
    assert!(
        accepted.is_empty(),
        "reasons accepted: {}",
        accepted.join(", ")
    );
    battery.assert_unchanged().await;
}

#[tokio::test]
async fn huge_lists_in_filters_are_harmless() {
    let battery = Battery::start().await;
    // Tens of thousands of entries (within the body limit): more than a database takes as
    // statement parameters, if they were all passed on.
    let repeat = |value: &str, n: usize| vec![value.to_owned(); n];
    let mut failures = Vec::new();
    let stripe = battery.server.recipient_id("stripe").await;
    let activity = battery.server.activity_id("sms_delivery").await;
    for (what, document, variables) in [
        (
            "products",
            "query($v: [String!]) { dataFlows(filter: { products: $v }) { totalCount } }",
            json!({ "v": repeat("sms", 40_000) }),
        ),
        (
            "dataCategories",
            "query($v: [String!]) { dataFlows(filter: { dataCategories: $v }) { totalCount } }",
            json!({ "v": repeat("contact", 30_000) }),
        ),
        (
            "dataSubjects",
            "query($v: [String!]) { dataFlows(filter: { dataSubjects: $v }) { totalCount } }",
            json!({ "v": repeat("end_users", 20_000) }),
        ),
        (
            "countries",
            "query($v: [String!]) { dataFlows(filter: { countries: $v }) { totalCount } }",
            json!({ "v": repeat("US", 45_000) }),
        ),
        (
            "recipients",
            "query($v: [ID!]) { dataFlows(filter: { recipients: $v }) { totalCount } }",
            json!({ "v": repeat(&stripe, 12_000) }),
        ),
        (
            "activities",
            "query($v: [ID!]) { dataFlows(filter: { activities: $v }) { totalCount } }",
            json!({ "v": repeat(&activity, 8_000) }),
        ),
        (
            "roles",
            "query($v: [RecipientRole!]) { dataFlows(filter: { roles: $v }) { totalCount } }",
            json!({ "v": repeat("PROCESSOR", 20_000) }),
        ),
        (
            "change products",
            "query($v: [String!]) { subprocessorChanges(filter: { products: $v }) { totalCount } }",
            json!({ "v": repeat("sms", 40_000) }),
        ),
        (
            "change kinds",
            "query($v: [ChangeKind!]) { subprocessorChanges(filter: { kinds: $v }) { totalCount } }",
            json!({ "v": repeat("RECIPIENT_CREATED", 12_000) }),
        ),
        (
            "recipient kinds",
            "query($v: [RecipientKind!]) { recipients(filter: { kinds: $v }) { key } }",
            json!({ "v": repeat("AFFILIATE", 20_000) }),
        ),
    ] {
        let answer = battery.post(document, variables).await;
        if answer.status.is_server_error() || answer.codes().contains(&"INTERNAL_SERVER_ERROR") {
            failures.push(format!("{what}: {} {}", answer.status, answer.body));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    battery.assert_unchanged().await;
}

#[tokio::test]
async fn invalid_utf8_is_refused() {
    let battery = Battery::start().await;
    let bodies: Vec<(&str, Vec<u8>)> = vec![
        ("0xff in the document", b"{\"query\":\"{ recipient(key: \\\"\xff\xfe\\\") { key } }\"}".to_vec()),
        ("0xff in a variable", b"{\"query\":\"query($v: String) { recipient(key: $v) { key } }\",\"variables\":{\"v\":\"\xff\"}}".to_vec()),
        ("an overlong slash", b"{\"query\":\"{ recipient(key: \\\"\xc0\xaf\\\") { key } }\"}".to_vec()),
        ("a UTF-8 surrogate", b"{\"query\":\"{ recipient(key: \\\"\xed\xa0\x80\\\") { key } }\"}".to_vec()),
        ("a truncated sequence", b"{\"query\":\"{ organization { name } }\xe2\x82\"}".to_vec()),
        ("a bare continuation byte in a key", b"{\"qu\x80ery\":\"{ organization { name } }\"}".to_vec()),
        ("Latin-1 text", b"{\"query\":\"{ recipient(key: \\\"caf\xe9\\\") { key } }\"}".to_vec()),
        ("UTF-16", "{\"query\":\"{ organization { name } }\"}".encode_utf16().flat_map(u16::to_le_bytes).collect()),
    ];
    for (what, body) in bodies {
        let answer = battery.raw(what, Some("application/json"), body).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{what}: {answer:?}");
    }
    // Percent-encoded invalid UTF-8 in a GET query string: decoded lossily (as U+FFFD) or
    // refused, either way harmless.
    for query in [
        "query=%7B%20recipient(key%3A%20%22%FF%22)%20%7B%20key%20%7D%20%7D",
        "query=%C0%AF",
        "query=%7B%20organization%20%7B%20name%20%7D%20%7D&variables=%7B%22v%22%3A%22%FF%22%7D",
    ] {
        let answer = send(
            query,
            battery
                .server
                .client
                .get(format!("{}?{query}", battery.url()))
                .header(ACCEPT, GRAPHQL_JSON),
        )
        .await;
        answer.assert_no_internal_error(query);
        if !answer.has_errors() {
            assert_eq!(answer.status, StatusCode::OK);
            assert!(
                answer.body["data"]["recipient"].is_null(),
                "{query}: {answer:?}"
            );
        }
    }
    battery.assert_unchanged().await;
}

#[tokio::test]
async fn bad_authorization_headers_are_refused() {
    let battery = Battery::start().await;
    let values: Vec<Vec<u8>> = vec![
        b"Bearer".to_vec(),
        b"Bearer ".to_vec(),
        b"Basic YWRtaW46YWRtaW4=".to_vec(),
        b"Bearer subreg_not_a_key".to_vec(),
        b"Bearer ' OR 1=1 --".to_vec(),
        format!("Bearer {}", "x".repeat(8_000)).into_bytes(),
        b"Bearer \xff\xfe".to_vec(),
        b"bearer\tsubreg_x".to_vec(),
    ];
    for value in values {
        let what = format!(
            "Authorization: {}",
            String::from_utf8_lossy(&value[..value.len().min(40)])
        );
        let answer = send(
            &what,
            reqwest::Client::new()
                .post(battery.url())
                .header(ACCEPT, GRAPHQL_JSON)
                .header(
                    AUTHORIZATION,
                    reqwest::header::HeaderValue::from_bytes(&value).unwrap(),
                )
                .json(&json!({ "query": "{ organization { name } }" })),
        )
        .await;
        assert_eq!(
            answer.status,
            StatusCode::UNAUTHORIZED,
            "{what}: {answer:?}"
        );
        answer.assert_codes(&what, &["UNAUTHENTICATED"]);
    }
    battery.assert_unchanged().await;
}

/// Sets the value at JSON `pointer` in a copy of `base`.
fn with(base: &Value, pointer: &str, value: Value) -> Value {
    let mut copy = base.clone();
    *copy
        .pointer_mut(pointer)
        .unwrap_or_else(|| panic!("{pointer} in {base}")) = value;
    copy
}

/// A mutation and the JSON pointers of the text inputs in its variables.
struct Write {
    document: &'static str,
    variables: Value,
    texts: Vec<&'static str>,
}

/// Every mutation with text inputs, with valid variables: `texts` point at each text input.
async fn writes(server: &TestServer) -> Vec<Write> {
    let stripe = server.recipient_id("stripe").await;
    let aws = server.recipient_id("aws").await;
    let activity = server.activity_id("sms_delivery").await;
    let flow = server
        .data(
            "query($id: ID) { processingActivity(id: $id) { dataFlows { id } } }",
            json!({ "id": activity }),
        )
        .await["processingActivity"]["dataFlows"][0]["id"]
        .clone();
    // A leaf category, updated under its own key.
    let categories = server
        .data("{ dataCategories { id key } }", json!({}))
        .await;
    let category = categories["dataCategories"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["key"] == "contact.phone_number")
        .expect("contact.phone_number")["id"]
        .clone();
    // A data subject category and a product, renamed under their own keys.
    let terms = server
        .data(
            "{ dataSubjectCategories { id key } products { id key } }",
            json!({}),
        )
        .await;
    let term_id = |list: &str, key: &str| {
        terms[list]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["key"] == key)
            .unwrap_or_else(|| panic!("{list} {key}"))["id"]
            .clone()
    };
    let subject = term_id("dataSubjectCategories", "end_users");
    let product = term_id("products", "sms");
    let objection = json!(URL_SAFE_NO_PAD.encode("Objection:1"));
    let recipient_input = json!({
        "key": "hostile_recipient", "legalName": "Hostile Analytics Inc.",
        "kind": "ANALYTICS_PROVIDER", "defaultRole": "PROCESSOR", "country": "US",
        "processingLocations": ["US"], "description": "A description", "dpaReference": "DPA 1",
        "website": "https://hostile.example", "privacyNoticeUrl": "https://hostile.example/privacy",
        "sources": ["a source"], "assumptions": ["an assumption"], "certifications": ["ISO 27001"],
        "transferSafeguard": { "mechanism": "STANDARD_CONTRACTUAL_CLAUSES", "sccModule": 3, "tiaDate": "2025-01-15", "safeguards": "encryption" },
        "status": "PROPOSED", "public": false,
    });
    let recipient_texts = vec![
        "/input/key",
        "/input/legalName",
        "/input/country",
        "/input/processingLocations/0",
        "/input/description",
        "/input/dpaReference",
        "/input/website",
        "/input/privacyNoticeUrl",
        "/input/sources/0",
        "/input/assumptions/0",
        "/input/certifications/0",
        "/input/transferSafeguard/safeguards",
        "/reason",
    ];
    let flow_input = json!({
        "activityId": activity, "recipientId": aws, "role": "PROCESSOR",
        "dataCategories": ["contact.phone_number"], "dataSubjects": ["end_users"],
        "countries": ["US"], "purpose": "a purpose", "sources": ["a source"], "assumptions": ["an assumption"],
        "transfers": [{ "country": "US", "safeguard": { "mechanism": "STANDARD_CONTRACTUAL_CLAUSES", "sccModule": 3, "safeguards": "encryption" } }],
    });
    let flow_texts = vec![
        "/input/dataCategories/0",
        "/input/dataSubjects/0",
        "/input/countries/0",
        "/input/purpose",
        "/input/sources/0",
        "/input/assumptions/0",
        "/input/transfers/0/country",
        "/input/transfers/0/safeguard/safeguards",
        "/reason",
    ];
    let activity_input = json!({
        "key": "hostile_activity", "name": "Hostile activity", "description": "A description",
        "organizationRole": "CONTROLLER", "legalBasis": "CONTRACT", "purposes": ["a purpose"],
        "dataCategories": ["contact.phone_number"], "dataSubjects": ["end_users"], "products": ["sms"],
        "controllers": ["a controller"], "retentionPeriod": "P6M", "retentionFrom": "COLLECTION", "retentionReason": "a reason",
        "securityMeasures": ["encryption"], "sources": ["a source"], "assumptions": ["an assumption"],
        "specialCategoryCondition": "a condition",
    });
    let activity_texts = vec![
        "/input/key",
        "/input/name",
        "/input/description",
        "/input/purposes/0",
        "/input/dataCategories/0",
        "/input/dataSubjects/0",
        "/input/products/0",
        "/input/controllers/0",
        "/input/retentionPeriod",
        "/input/retentionReason",
        "/input/securityMeasures/0",
        "/input/sources/0",
        "/input/assumptions/0",
        "/input/specialCategoryCondition",
        "/reason",
    ];
    // An update of the texts alone: the activity's categories and subjects stay (its flows use
    // them).
    let mut activity_patch = activity_input.clone();
    for field in [
        "key",
        "dataCategories",
        "dataSubjects",
        "products",
        "organizationRole",
        "legalBasis",
    ] {
        activity_patch.as_object_mut().unwrap().remove(field);
    }
    let term =
        json!({ "key": "hostile_term", "name": "Hostile term", "description": "A description" });
    let term_texts = vec!["/input/key", "/input/name", "/input/description"];
    vec![
        Write {
            document: "mutation($input: CreateRecipientInput!, $reason: String) { createRecipient(input: $input, reason: $reason) { id } }",
            variables: json!({ "input": recipient_input, "reason": "a reason" }),
            texts: recipient_texts.clone(),
        },
        Write {
            document: "mutation($id: ID!, $input: UpdateRecipientInput!, $reason: String) { updateRecipient(id: $id, input: $input, reason: $reason) { id } }",
            variables: json!({ "id": stripe, "input": with(&recipient_input, "/key", json!("stripe")), "reason": "a reason" }),
            texts: recipient_texts,
        },
        Write {
            document: "mutation($id: ID!, $reason: String) { announceRecipient(id: $id, reason: $reason) { id } }",
            variables: json!({ "id": stripe, "reason": "a reason" }),
            texts: vec!["/reason"],
        },
        Write {
            document: "mutation($id: ID!, $reason: String) { deleteRecipient(id: $id, reason: $reason) }",
            variables: json!({ "id": stripe, "reason": "a reason" }),
            texts: vec!["/reason"],
        },
        Write {
            document: "mutation($input: CreateDataFlowInput!, $reason: String) { createDataFlow(input: $input, reason: $reason) { id } }",
            variables: json!({ "input": flow_input, "reason": "a reason" }),
            texts: flow_texts.clone(),
        },
        Write {
            document: "mutation($id: ID!, $input: UpdateDataFlowInput!, $reason: String) { updateDataFlow(id: $id, input: $input, reason: $reason) { id } }",
            variables: json!({ "id": flow, "input": flow_input, "reason": "a reason" }),
            texts: flow_texts,
        },
        Write {
            document: "mutation($id: ID!, $reason: String) { deleteDataFlow(id: $id, reason: $reason) }",
            variables: json!({ "id": flow, "reason": "a reason" }),
            texts: vec!["/reason"],
        },
        Write {
            document: "mutation($input: CreateProcessingActivityInput!, $reason: String) { createProcessingActivity(input: $input, reason: $reason) { id } }",
            variables: json!({ "input": activity_input, "reason": "a reason" }),
            texts: activity_texts.clone(),
        },
        Write {
            document: "mutation($id: ID!, $input: UpdateProcessingActivityInput!, $reason: String) { updateProcessingActivity(id: $id, input: $input, reason: $reason) { id } }",
            variables: json!({ "id": activity, "input": activity_patch, "reason": "a reason" }),
            texts: activity_texts
                .into_iter()
                .filter(|p| {
                    activity_patch.pointer(&p["/input".len()..]).is_some() || *p == "/reason"
                })
                .collect(),
        },
        Write {
            document: "mutation($id: ID!, $reason: String) { deleteProcessingActivity(id: $id, reason: $reason) }",
            variables: json!({ "id": activity, "reason": "a reason" }),
            texts: vec!["/reason"],
        },
        Write {
            document: "mutation($input: DataCategoryInput!) { createDataCategory(input: $input) { id } }",
            variables: json!({ "input": { "key": "contact.hostile", "name": "Hostile", "description": "A description", "fidesKey": "user.contact" } }),
            texts: vec![
                "/input/key",
                "/input/name",
                "/input/description",
                "/input/fidesKey",
            ],
        },
        Write {
            document: "mutation($id: ID!, $input: DataCategoryInput!) { updateDataCategory(id: $id, input: $input) { id } }",
            variables: json!({ "id": category, "input": { "key": "contact.phone_number", "name": "Hostile", "description": "A description", "fidesKey": "user.contact" } }),
            texts: vec![
                "/input/key",
                "/input/name",
                "/input/description",
                "/input/fidesKey",
            ],
        },
        Write {
            document: "mutation($input: TermInput!) { createDataSubjectCategory(input: $input) { id } }",
            variables: json!({ "input": term }),
            texts: term_texts.clone(),
        },
        Write {
            document: "mutation($id: ID!, $input: TermInput!) { updateDataSubjectCategory(id: $id, input: $input) { id } }",
            variables: json!({ "id": subject, "input": { "key": "end_users", "name": "Hostile", "description": "A description" } }),
            texts: term_texts.clone(),
        },
        Write {
            document: "mutation($input: TermInput!) { createProduct(input: $input) { id } }",
            variables: json!({ "input": term }),
            texts: term_texts.clone(),
        },
        Write {
            document: "mutation($id: ID!, $input: TermInput!) { updateProduct(id: $id, input: $input) { id } }",
            variables: json!({ "id": product, "input": { "key": "sms", "name": "Hostile", "description": "A description" } }),
            texts: term_texts,
        },
        Write {
            document: "mutation($input: OrganizationInput!) { updateOrganization(input: $input) { name } }",
            variables: json!({ "input": {
                "name": "Hostile B.V.", "address": "1 Street, Amsterdam", "country": "NL",
                "dpoName": "A DPO", "dpoEmail": "dpo@hostile.example", "dpoAddress": "2 Street",
                "representative": "A representative", "sources": ["a source"],
            } }),
            texts: vec![
                "/input/name",
                "/input/address",
                "/input/country",
                "/input/dpoName",
                "/input/dpoEmail",
                "/input/dpoAddress",
                "/input/representative",
                "/input/sources/0",
            ],
        },
        Write {
            document: "mutation($input: ObjectionInput!) { objectToSubprocessor(input: $input) { id } }",
            variables: json!({ "input": { "recipientId": stripe, "customer": "A customer", "contact": "a@customer.example", "reason": "a reason" } }),
            texts: vec!["/input/customer", "/input/contact", "/input/reason"],
        },
        Write {
            document: "mutation($id: ID!, $resolution: String) { resolveObjection(id: $id, status: REJECTED, resolution: $resolution) { id } }",
            variables: json!({ "id": objection, "resolution": "a resolution" }),
            texts: vec!["/resolution"],
        },
    ]
}

/// NUL bytes and control characters are refused in every text input of every mutation, with
/// BAD_USER_INPUT naming the field, and nothing is written.
#[tokio::test]
async fn control_characters_in_mutation_inputs_are_refused() {
    let battery = Battery::start().await;
    let mut failures = Vec::new();
    let mut attempt = 0;
    for write in writes(&battery.server).await {
        for pointer in &write.texts {
            let mut accepted = Vec::new();
            for bad in ["a\u{0}b", "\u{0}", "a\u{1b}[2Jb", "a\u{7}b", "a\u{7f}b"] {
                let mut variables = with(&write.variables, pointer, json!(bad));
                // A fresh key for each creation, so that one accepted by mistake does not turn
                // the next attempts into conflicts.
                attempt += 1;
                let creation = write.document.contains("{ create");
                if *pointer != "/input/key" && creation && variables.pointer("/input/key").is_some()
                {
                    let key = if write.document.contains("createDataCategory") {
                        format!("contact.hostile_{attempt}")
                    } else {
                        format!("hostile_{attempt}")
                    };
                    variables = with(&variables, "/input/key", json!(key));
                }
                let answer = battery
                    .post_as(&battery.editor, write.document, variables)
                    .await;
                let field = answer.body["errors"][0]["extensions"]["field"]
                    .as_str()
                    .unwrap_or("");
                // The field named in the error is the one holding the bad text.
                let leaf = pointer
                    .rsplit('/')
                    .find(|s| s.parse::<usize>().is_err())
                    .unwrap();
                if answer.status.is_server_error()
                    || answer.codes() != ["BAD_USER_INPUT"]
                    || !field.contains(leaf)
                {
                    let code = answer.codes().first().map_or("none", |c| *c).to_owned();
                    accepted.push(format!(
                        "{bad:?} ({} {code} {field})",
                        answer.status.as_u16()
                    ));
                }
            }
            if !accepted.is_empty() {
                let mutation = write.document.split(['{', '(']).nth(2).unwrap_or("").trim();
                failures.push(format!("{mutation} {pointer}: {}", accepted.join(", ")));
            }
        }
    }
    // Also the API key name (ADMIN only).
    for bad in ["a\u{0}b", "a\u{1b}b"] {
        battery
            .post(
                "mutation($name: String!) { createApiKey(name: $name, role: VIEWER) { secret } }",
                json!({ "name": bad }),
            )
            .await
            .assert_codes("an API key name", &["BAD_USER_INPUT"]);
    }
    assert!(
        failures.is_empty(),
        "{} text inputs take control characters (or fail otherwise):\n{}",
        failures.len(),
        failures.join("\n")
    );
    battery.assert_unchanged().await;
}

/// What an injection attempt may get back: nothing found, or a refusal of the input.
fn assert_normal(what: &str, answer: &Answer, data: impl Fn(&Value) -> bool) {
    answer.assert_no_internal_error(what);
    if answer.status.is_client_error() {
        // A request error: the value could not even be coerced (a date, an enum).
        assert!(answer.has_errors(), "{what}: {answer:?}");
        return;
    }
    if answer.has_errors() {
        // A scalar that does not parse (a date) is refused by async-graphql, without a code.
        answer.assert_codes(what, &["BAD_USER_INPUT", "NOT_FOUND", ""]);
    } else {
        assert!(
            data(&answer.body["data"]),
            "{what}: matched something: {:#}",
            answer.body
        );
    }
}

/// SQL-injection strings in every text argument and filter the schema accepts, read with the
/// admin key (and the public ones anonymously): nothing matches, nothing breaks, nothing is
/// written.
#[tokio::test]
async fn injection_strings_in_every_text_argument_find_nothing() {
    let battery = Battery::start().await;
    let server = &battery.server;
    let null_at = |field: &'static str| move |data: &Value| data[field].is_null();
    let none = |field: &'static str| move |data: &Value| data[field]["totalCount"] == 0;
    type Check = Box<dyn Fn(&Value) -> bool>;
    let reads: Vec<(&str, Check)> = vec![
        (
            "query($v: String) { recipient(key: $v) { key } }",
            Box::new(null_at("recipient")),
        ),
        (
            "query($v: ID) { recipient(id: $v) { key } }",
            Box::new(null_at("recipient")),
        ),
        (
            "query($v: String) { processingActivity(key: $v) { key } }",
            Box::new(null_at("processingActivity")),
        ),
        (
            "query($v: ID) { processingActivity(id: $v) { key } }",
            Box::new(null_at("processingActivity")),
        ),
        (
            "query($v: ID!) { node(id: $v) { id } }",
            Box::new(null_at("node")),
        ),
        (
            "query($v: String!) { dataFlows(filter: { dataCategories: [$v] }) { totalCount } }",
            Box::new(none("dataFlows")),
        ),
        (
            "query($v: String!) { dataFlows(filter: { dataCategories: [\"contact\", $v] }) { totalCount } }",
            Box::new(|_: &Value| true),
        ),
        (
            "query($v: String!) { dataFlows(filter: { dataSubjects: [$v] }) { totalCount } }",
            Box::new(none("dataFlows")),
        ),
        (
            "query($v: String!) { dataFlows(filter: { products: [$v] }) { totalCount } }",
            Box::new(none("dataFlows")),
        ),
        (
            "query($v: String!) { dataFlows(filter: { countries: [$v] }) { totalCount } }",
            Box::new(none("dataFlows")),
        ),
        (
            "query($v: ID!) { dataFlows(filter: { recipients: [$v] }) { totalCount } }",
            Box::new(none("dataFlows")),
        ),
        (
            "query($v: ID!) { dataFlows(filter: { activities: [$v] }) { totalCount } }",
            Box::new(none("dataFlows")),
        ),
        (
            "query($v: String) { dataFlows(after: $v) { totalCount } }",
            Box::new(|_: &Value| false),
        ),
        (
            "query($v: String!) { subprocessorChanges(filter: { products: [$v] }) { totalCount } }",
            Box::new(none("subprocessorChanges")),
        ),
        (
            "query($v: String) { subprocessorChanges(after: $v) { totalCount } }",
            Box::new(|_: &Value| false),
        ),
        (
            "query($v: ID) { objections(recipientId: $v) { id } }",
            Box::new(|d: &Value| d["objections"] == json!([])),
        ),
        (
            "query($v: DateTime) { subprocessors(asOf: $v) { key } }",
            Box::new(|_: &Value| false),
        ),
        (
            "query($v: DateTime) { complianceFindings(asOf: $v) { code } }",
            Box::new(|_: &Value| false),
        ),
        (
            "query($v: NaiveDate) { adequacyDecisions(asOf: $v) { title } }",
            Box::new(|_: &Value| false),
        ),
        (
            "query($v: DateTime) { recordOfProcessingActivities(perspective: CONTROLLER, asOf: $v) { asOf } }",
            Box::new(|_: &Value| false),
        ),
        // The same strings written into the document rather than passed as variables.
        (
            "INLINE { recipient(key: $v) { key } }",
            Box::new(null_at("recipient")),
        ),
        (
            "INLINE { dataFlows(filter: { products: [$v] }) { totalCount } }",
            Box::new(none("dataFlows")),
        ),
    ];
    // The public surface, without a key.
    let public: Vec<(&str, Check)> = vec![
        (
            "query($v: ID!) { node(id: $v) { id } }",
            Box::new(null_at("node")),
        ),
        (
            "query($v: String!) { subprocessorChanges(filter: { products: [$v] }) { totalCount } }",
            Box::new(none("subprocessorChanges")),
        ),
        (
            "query($v: String) { subprocessorChanges(after: $v) { totalCount } }",
            Box::new(|_: &Value| false),
        ),
        (
            "query($v: DateTime) { subprocessors(asOf: $v) { key } }",
            Box::new(|_: &Value| false),
        ),
    ];
    for injection in INJECTIONS {
        // Also each attempt appended to a real key, which would widen a match too.
        for value in [injection.to_string(), format!("sms{injection}")] {
            for (document, check) in &reads {
                let answer = match document.strip_prefix("INLINE ") {
                    Some(template) => {
                        let literal = serde_json::to_string(&value).unwrap();
                        battery
                            .post(&template.replace("$v", &literal), json!({}))
                            .await
                    }
                    None => battery.post(document, json!({ "v": value })).await,
                };
                assert_normal(&format!("{document} with {value:?}"), &answer, check);
            }
            for (document, check) in &public {
                let answer = battery
                    .post_as(&server.anonymous_client, document, json!({ "v": value }))
                    .await;
                assert_normal(
                    &format!("anonymous {document} with {value:?}"),
                    &answer,
                    check,
                );
            }
        }
        // The record download takes text parameters too.
        let answer = send(
            "ropa",
            server
                .client
                .get(format!("{}/ropa", server.url))
                .query(&[("perspective", *injection), ("format", "json")]),
        )
        .await;
        assert!(answer.status.is_client_error(), "{answer:?}");
        let answer = send(
            "ropa",
            server.client.get(format!("{}/ropa", server.url)).query(&[
                ("perspective", "controller"),
                ("format", "json"),
                ("asOf", injection),
            ]),
        )
        .await;
        assert!(answer.status.is_client_error(), "{answer:?}");
    }
    battery.assert_unchanged().await;
}

/// The same strings in every key, code and ID a mutation takes (admin key): refused as not
/// valid or not found; free texts aimed at objects that do not exist: not found. Nothing is
/// written.
#[tokio::test]
async fn injection_strings_in_mutation_inputs_change_nothing() {
    let battery = Battery::start().await;
    let writes = writes(&battery.server).await;
    let missing = |type_name: &str| json!(URL_SAFE_NO_PAD.encode(format!("{type_name}:999999")));
    // Inputs that name something (keys, codes, references): never valid with these strings.
    let references = [
        "/input/key",
        "/input/country",
        "/input/processingLocations/0",
        "/input/dataCategories/0",
        "/input/dataSubjects/0",
        "/input/countries/0",
        "/input/products/0",
        "/input/transfers/0/country",
        "/input/website",
        "/input/privacyNoticeUrl",
        "/input/dpoEmail",
        "/input/retentionPeriod",
    ];
    for injection in INJECTIONS {
        for write in &writes {
            // `s_ripe` is a well-formed key: as a new key it would be taken.
            let references = references.iter().filter(|_| *injection != "s_ripe");
            for pointer in references.filter(|p| write.texts.contains(p)) {
                // The update of a data category keeps its key; the category keys of flows and
                // activities may be dotted: either way these strings are not keys.
                let variables = with(&write.variables, pointer, json!(injection));
                let answer = battery.post(write.document, variables).await;
                answer.assert_codes(
                    &format!("{} {pointer} = {injection:?}", write.document),
                    &["BAD_USER_INPUT", "NOT_FOUND"],
                );
            }
            // Every ID argument and input.
            for pointer in ["/id", "/input/recipientId", "/input/activityId"] {
                if write.variables.pointer(pointer).is_some() {
                    let variables = with(&write.variables, pointer, json!(injection));
                    battery.post(write.document, variables).await.assert_codes(
                        &format!("{} {pointer} = {injection:?}", write.document),
                        &["BAD_USER_INPUT", "NOT_FOUND"],
                    );
                }
            }
        }
        // Free texts, on objects that do not exist.
        for (document, id) in [
            (
                "mutation($id: ID!, $v: String!) { updateRecipient(id: $id, input: { legalName: $v, description: $v, sources: [$v] }, reason: $v) { id } }",
                missing("Recipient"),
            ),
            (
                "mutation($id: ID!, $v: String!) { updateProcessingActivity(id: $id, input: { name: $v, purposes: [$v], description: $v }, reason: $v) { id } }",
                missing("ProcessingActivity"),
            ),
            (
                "mutation($id: ID!, $v: String!) { updateDataFlow(id: $id, input: { purpose: $v, sources: [$v] }, reason: $v) { id } }",
                missing("DataFlow"),
            ),
            (
                "mutation($id: ID!, $v: String!) { updateDataCategory(id: $id, input: { key: \"x\", name: $v, description: $v }) { id } }",
                missing("DataCategory"),
            ),
            (
                "mutation($id: ID!, $v: String!) { deleteRecipient(id: $id, reason: $v) }",
                missing("Recipient"),
            ),
            (
                "mutation($id: ID!, $v: String!) { announceRecipient(id: $id, reason: $v) { id } }",
                missing("Recipient"),
            ),
            (
                "mutation($id: ID!, $v: String!) { objectToSubprocessor(input: { recipientId: $id, customer: $v, contact: $v, reason: $v }) { id } }",
                missing("Recipient"),
            ),
            (
                "mutation($id: ID!, $v: String!) { resolveObjection(id: $id, status: REJECTED, resolution: $v) { id } }",
                missing("Objection"),
            ),
            (
                "mutation($id: ID!) { revokeApiKey(id: $id) { id } }",
                json!(injection),
            ),
            (
                "mutation($id: ID!) { deleteProduct(id: $id) }",
                json!(injection),
            ),
            (
                "mutation($id: ID!) { deleteDataCategory(id: $id) }",
                json!(injection),
            ),
            (
                "mutation($id: ID!) { deleteDataSubjectCategory(id: $id) }",
                json!(injection),
            ),
        ] {
            battery
                .post(document, json!({ "id": id, "v": injection }))
                .await
                .assert_codes(
                    &format!("{document} with {injection:?}"),
                    &["BAD_USER_INPUT", "NOT_FOUND"],
                );
        }
    }
    battery.assert_unchanged().await;
}

/// Injection strings that are valid free text are stored as text: read back exactly, and
/// nothing else moves (the tables are all still there, every other row as it was).
#[tokio::test]
async fn injection_strings_in_free_text_are_stored_verbatim() {
    let server = hostile_server().await;
    let stripe = server.recipient_id("stripe").await;
    let count = "{ recipients { key } processingActivities { key } dataFlows { totalCount } products { key } }";
    let counts = server.data(count, json!({})).await;
    let events = server.history(json!({})).await.len();
    for injection in INJECTIONS {
        let text = format!("Stripe {injection}");
        let updated = server
            .data(
                "mutation($id: ID!, $v: String!) { updateRecipient(id: $id, input: { legalName: $v, description: $v, sources: [$v] }, reason: $v) { legalName description sources } }",
                json!({ "id": stripe, "v": text }),
            )
            .await;
        assert_eq!(
            updated["updateRecipient"],
            json!({ "legalName": text, "description": text, "sources": [text] })
        );
        let read = server
            .data(
                "query($id: ID) { recipient(id: $id) { legalName } }",
                json!({ "id": stripe }),
            )
            .await;
        assert_eq!(read["recipient"]["legalName"], text.as_str());
    }
    assert_eq!(server.data(count, json!({})).await, counts);
    assert_eq!(
        server.history(json!({})).await.len(),
        events + INJECTIONS.len(),
        "one event per update, nothing else"
    );
}

#[tokio::test]
async fn mutations_need_an_editor_key() {
    let battery = Battery::start().await;
    let server = &battery.server;
    let (viewer, editor) = (&battery.viewer, &battery.editor);
    let stripe = server.recipient_id("stripe").await;
    let mut documents: Vec<(String, Value)> = writes(server)
        .await
        .into_iter()
        .map(|w| (w.document.to_owned(), w.variables))
        .collect();
    documents.push((
        "mutation { createApiKey(name: \"intruder\", role: ADMIN) { secret } }".into(),
        json!({}),
    ));
    documents.push((
        "mutation($id: ID!) { revokeApiKey(id: $id) { id } }".into(),
        json!({ "id": URL_SAFE_NO_PAD.encode("ApiKey:1") }),
    ));
    documents.push((
        format!("mutation {{ a: deleteRecipient(id: \"{stripe}\") b: updateRecipient(id: \"{stripe}\", input: {{ legalName: \"x\" }}) {{ id }} }}"),
        json!({}),
    ));
    for (document, variables) in &documents {
        let answer = battery
            .post_as(&server.anonymous_client, document, variables.clone())
            .await;
        answer.assert_codes(&format!("anonymous {document}"), &["UNAUTHENTICATED"]);
        let answer = battery.post_as(viewer, document, variables.clone()).await;
        answer.assert_codes(&format!("viewer {document}"), &["FORBIDDEN"]);
    }
    // An editor cannot manage keys.
    for (document, variables) in &documents[documents.len() - 3..documents.len() - 1] {
        let answer = battery.post_as(editor, document, variables.clone()).await;
        answer.assert_codes(&format!("editor {document}"), &["FORBIDDEN"]);
    }
    // No mutation goes through GET, even with the admin key, nor with an unknown key.
    let answer = send(
        "GET mutation",
        server.client.get(battery.url()).query(&[(
            "query",
            format!("mutation {{ deleteRecipient(id: \"{stripe}\") }}"),
        )]),
    )
    .await;
    assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED);
    let forged = client_with_key(Some("subreg_forged_key_000000000000000000000000000"));
    let answer = battery
        .post_as(&forged, &documents[3].0, documents[3].1.clone())
        .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    battery.assert_unchanged().await;
}

#[tokio::test]
async fn invalid_cursors_and_ids_are_refused() {
    let battery = Battery::start().await;
    let encode = |text: &str| URL_SAFE_NO_PAD.encode(text);
    // Deterministic "random" bytes: a fixed xorshift sequence.
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut random = || {
        let bytes: Vec<u8> = (0..24)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        URL_SAFE_NO_PAD.encode(bytes)
    };
    let mut values: Vec<String> = vec![
        "garbage".into(),
        "".into(),
        " ".into(),
        "====".into(),
        "a".repeat(10_000),
        encode("cursor:"),
        encode("cursor:-1"),
        encode("cursor:99999999999"),
        encode("cursor:1 OR 1=1"),
        encode("cursor:0x10"),
        encode("Recipient:"),
        encode("Recipient:-1"),
        encode("Recipient:0"),
        encode("Recipient:99999999999"),
        encode("Recipient:1:2"),
        encode("Recipient:1 OR 1=1"),
        encode("ApiKey:1"),
        encode("Objection:1"),
        encode("NoSuchType:1"),
        encode(":1"),
        encode("\u{0}:1"),
        URL_SAFE_NO_PAD.encode([0xff, 0xfe, 0x00, 0x3a, 0x31]),
        "UmVjaXBpZW50Ojg=".into(),
        "UmVjaXBpZW50Ojg+/".into(),
    ];
    values.extend((0..20).map(|_| random()));
    // Well-formed values that name nothing: these may be answered, with nothing.
    let forged = [
        encode("cursor:-1"),
        encode("Recipient:-1"),
        encode("Recipient:0"),
    ];
    for value in &values {
        let short: String = value.chars().take(30).collect();
        for (document, empty) in [
            (
                "query($v: String) { dataFlows(after: $v) { totalCount } }",
                None,
            ),
            (
                "query($v: String) { subprocessorChanges(after: $v) { totalCount } }",
                None,
            ),
            ("query($v: ID!) { node(id: $v) { id } }", Some("node")),
            (
                "query($v: ID) { recipient(id: $v) { key } }",
                Some("recipient"),
            ),
            (
                "query($v: ID) { processingActivity(id: $v) { key } }",
                Some("processingActivity"),
            ),
            (
                "query($v: ID!) { dataFlows(filter: { recipients: [$v] }) { totalCount } }",
                None,
            ),
            ("query($v: ID) { objections(recipientId: $v) { id } }", None),
        ] {
            let answer = battery.post(document, json!({ "v": value })).await;
            let what = format!("{document} with {short:?}");
            answer.assert_no_internal_error(&what);
            if !answer.has_errors() {
                assert!(forged.contains(value), "{what}: accepted: {answer:?}");
                if let Some(field) = empty {
                    assert!(answer.body["data"][field].is_null(), "{what}: {answer:?}");
                }
                if document.contains("recipients: [$v]") {
                    assert_eq!(answer.body["data"]["dataFlows"]["totalCount"], 0);
                }
            } else {
                answer.assert_codes(&what, &["BAD_USER_INPUT", "NOT_FOUND", "FORBIDDEN"]);
            }
        }
        // Anonymously, too.
        let answer = battery
            .post_as(
                &battery.server.anonymous_client,
                "query($v: ID!) { node(id: $v) { id } }",
                json!({ "v": value }),
            )
            .await;
        answer.assert_no_internal_error(&format!("anonymous node({short:?})"));
    }
    // The subscription refuses a garbage cursor with an error, and keeps the connection.
    let mut client =
        WsClient::connect(&battery.server.url, TRANSPORT_WS, battery.server.init()).await;
    for (i, after) in ["garbage", "", "' OR 1=1 --"].into_iter().enumerate() {
        client
            .subscribe(
                &i.to_string(),
                "subscription($after: String) { subprocessorChanges(after: $after) { cursor } }",
                json!({ "after": after }),
            )
            .await;
        let refusal = client
            .next(PATIENCE)
            .await
            .expect("an answer")
            .expect_err("a refusal");
        assert_eq!(
            refusal["payload"]["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{refusal:#}"
        );
        // Its `complete` follows.
        assert_eq!(
            client.next(PATIENCE).await.expect("complete").unwrap_err()["type"],
            "complete"
        );
    }
    battery.assert_unchanged().await;
}

#[tokio::test]
async fn variables_of_the_wrong_type_are_refused() {
    let battery = Battery::start().await;
    let editor = &battery.editor;
    let stripe = battery.server.recipient_id("stripe").await;
    let first = "query($n: Int) { dataFlows(first: $n) { totalCount } }";
    let key = "query($v: String) { recipient(key: $v) { key } }";
    let id = "query($v: ID!) { node(id: $v) { id } }";
    let filter = "query($f: DataFlowFilter) { dataFlows(filter: $f) { totalCount } }";
    let date = "query($d: DateTime) { subprocessors(asOf: $d) { key } }";
    let cases = [
        (first, json!({ "n": "ten" })),
        (first, json!({ "n": 1.5 })),
        (first, json!({ "n": 1_099_511_627_776_u64 })),
        (first, json!({ "n": -99_999_999_999_i64 })),
        (first, json!({ "n": true })),
        (first, json!({ "n": {} })),
        (first, json!({ "n": [10] })),
        (key, json!({ "v": 42 })),
        (key, json!({ "v": ["stripe"] })),
        (key, json!({ "v": { "key": "stripe" } })),
        (key, json!({ "v": true })),
        (id, json!({ "v": null })),
        (id, json!({})),
        (id, json!({ "v": 1.5 })),
        (id, json!({ "v": [] })),
        (filter, json!({ "f": "outsideEea" })),
        (filter, json!({ "f": [] })),
        (filter, json!({ "f": { "outsideEea": "yes" } })),
        (filter, json!({ "f": { "countries": [1, 2] } })),
        (filter, json!({ "f": { "countries": [null] } })),
        (filter, json!({ "f": { "roles": ["NOPE"] } })),
        (filter, json!({ "f": { "recipients": [{ "id": 1 }] } })),
        (date, json!({ "d": "yesterday" })),
        (date, json!({ "d": "2026-13-45T99:99:99Z" })),
        (date, json!({ "d": 1_700_000_000 })),
        (date, json!({ "d": "+275760-09-13T00:00:00Z" })),
        (
            "query($d: NaiveDate) { adequacyDecisions(asOf: $d) { title } }",
            json!({ "d": "2026-02-30" }),
        ),
        (
            "query($v: Int) { recipient(key: $v) { key } }",
            json!({ "v": 1 }),
        ),
        (
            "query($v: String!) { dataFlows(first: $v) { totalCount } }",
            json!({ "v": "1" }),
        ),
    ];
    for (document, variables) in &cases {
        battery
            .post(document, variables.clone())
            .await
            .assert_refused(&format!("{document} with {variables}"));
    }
    // Mutations with inputs of the wrong shape (editor key): refused, nothing written.
    let create =
        "mutation($input: CreateRecipientInput!) { createRecipient(input: $input) { id } }";
    let update = "mutation($id: ID!, $input: UpdateRecipientInput!) { updateRecipient(id: $id, input: $input) { id } }";
    for (document, variables) in [
        (create, json!({ "input": "a recipient" })),
        (create, json!({ "input": null })),
        (create, json!({ "input": { "key": "x" } })),
        (
            create,
            json!({ "input": { "key": "x", "legalName": "X", "kind": "NOPE", "defaultRole": "PROCESSOR", "country": "US" } }),
        ),
        (
            create,
            json!({ "input": { "key": "x", "legalName": "X", "kind": "AFFILIATE", "defaultRole": "PROCESSOR", "country": "NL", "public": "yes" } }),
        ),
        (
            create,
            json!({ "input": { "key": "x", "legalName": "X", "kind": "AFFILIATE", "defaultRole": "PROCESSOR", "country": "NL", "processingLocations": "NL" , "extra": 1 } }),
        ),
        (update, json!({ "id": stripe, "input": { "legalName": 7 } })),
        (
            update,
            json!({ "id": stripe, "input": { "transferSafeguard": { "mechanism": "STANDARD_CONTRACTUAL_CLAUSES", "sccModule": "three" } } }),
        ),
        (
            update,
            json!({ "id": stripe, "input": { "transferSafeguard": { "mechanism": "STANDARD_CONTRACTUAL_CLAUSES", "sccModule": 99 } } }),
        ),
        (
            update,
            json!({ "id": stripe, "input": { "transferSafeguard": { "mechanism": "STANDARD_CONTRACTUAL_CLAUSES", "sccModule": 3, "tiaDate": "soon" } } }),
        ),
        (
            update,
            json!({ "id": stripe, "input": { "dpfCertified": "true" } }),
        ),
        (update, json!({ "id": 5, "input": { "legalName": "X" } })),
    ] {
        battery
            .post_as(editor, document, variables.clone())
            .await
            .assert_refused(&format!("{document} with {variables}"));
    }
    battery.assert_unchanged().await;
}

#[tokio::test]
async fn batches_with_bad_operations_are_answered_one_by_one() {
    let battery = Battery::start().await;
    let viewer = &battery.viewer;
    let stripe = battery.server.recipient_id("stripe").await;
    let batch = json!([
        { "query": "{ organization { name } }" },
        { "query": "{ recipients { key" },
        { "query": "{ noSuchField }" },
        { "query": format!("mutation {{ deleteRecipient(id: \"{stripe}\") }}") },
        { "query": "query($n: Int) { dataFlows(first: $n) { totalCount } }", "variables": { "n": "ten" } },
    ]);
    let answer = send(
        "a mixed batch",
        viewer
            .post(battery.url())
            .header(ACCEPT, GRAPHQL_JSON)
            .json(&batch),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    let answers = answer.body.as_array().expect("one answer per operation");
    assert_eq!(answers.len(), 5);
    assert_eq!(
        answers[0]["data"]["organization"]["name"],
        "MessageBird B.V."
    );
    for (i, answer) in answers.iter().enumerate().skip(1) {
        assert!(answer["errors"].is_array(), "operation {i}: {answer:#}");
    }
    assert_eq!(answers[3]["errors"][0]["extensions"]["code"], "FORBIDDEN");

    // Batches that are not a list of requests are refused whole.
    for (what, body) in [
        (
            "a number in a batch",
            json!([{ "query": "{ organization { name } }" }, 42]),
        ),
        (
            "a batch in a batch",
            json!([[{ "query": "{ organization { name } }" }]]),
        ),
        (
            "an empty query in a batch",
            json!([{ "query": "{ organization { name } }" }, { "query": "" }]),
        ),
        (
            "six operations",
            json!(vec![json!({ "query": "{ organization { name } }" }); 6]),
        ),
        (
            "a thousand operations",
            json!(vec![json!({ "query": "{ organization { name } }" }); 1_000]),
        ),
        (
            "six deletions",
            json!(vec![
                json!({ "query": format!("mutation {{ deleteRecipient(id: \"{stripe}\") }}") });
                6
            ]),
        ),
    ] {
        let answer = battery
            .raw(what, Some("application/json"), body.to_string())
            .await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{what}: {answer:?}");
    }
    battery.assert_unchanged().await;
}

/// A close code that says the client misbehaved: the protocol's 4400-4499, or WebSocket's
/// protocol error (1002), policy violation (1008) or message too big (1009).
fn is_client_fault(code: Option<u16>) -> bool {
    matches!(code, Some(4400..=4499 | 1002 | 1008 | 1009))
}

/// After hostile WebSocket traffic the server is healthy: ready, serving queries, and taking
/// new subscriptions.
async fn assert_healthy(server: &TestServer) {
    let ready = send(
        "readyz",
        server.client.get(format!("{}/readyz", server.url)),
    )
    .await;
    assert_eq!(ready.status, StatusCode::OK);
    assert_eq!(
        server.data("{ organization { name } }", json!({})).await["organization"]["name"],
        "MessageBird B.V."
    );
    let mut client = WsClient::connect(&server.url, TRANSPORT_WS, server.init()).await;
    client
        .subscribe(
            "ok",
            "subscription { subprocessorChanges { cursor } }",
            json!({}),
        )
        .await;
}

#[tokio::test]
async fn hostile_websocket_traffic_is_closed() {
    let battery = Battery::start().await;
    let server = &battery.server;
    let assert_fault = |what: &str, code: Option<u16>| {
        assert!(is_client_fault(code), "{what}: closed with {code:?}");
    };
    // Garbage before connection_init.
    for garbage in [
        Message::Text("this is not JSON".into()),
        Message::Text("{\"type\": 42}".into()),
        Message::Text("[]".into()),
        Message::Text("null".into()),
        Message::Binary(vec![0xff, 0x00, 0xfe, 0x01].into()),
    ] {
        let what = format!("{garbage:?} before init");
        let mut socket = RawSocket::open(server).await;
        socket.send(garbage).await;
        assert_fault(&what, socket.closed().await);
    }
    // Garbage after it.
    for garbage in [
        Message::Text("this is not JSON".into()),
        Message::Text("{\"type\": \"subscribe\"}".into()),
        Message::Text("{\"type\": \"subscribe\", \"id\": \"1\", \"payload\": 42}".into()),
        Message::Binary(vec![0xc0, 0xaf].into()),
    ] {
        let what = format!("{garbage:?} after init");
        let mut socket = RawSocket::acked(server).await;
        socket.send(garbage).await;
        assert_fault(&what, socket.closed().await);
    }
    // A second connection_init.
    let mut socket = RawSocket::acked(server).await;
    socket
        .send_json(json!({ "type": "connection_init", "payload": server.init() }))
        .await;
    assert_fault("a second connection_init", socket.closed().await);
    // A connection_init whose key is malformed or unknown; one whose payload is not an object
    // carries no key, and the connection is the public's.
    for payload in [
        json!({ "Authorization": "Basic x" }),
        json!({ "Authorization": "Bearer subreg_forged" }),
        json!({ "apiKey": "' OR 1=1 --" }),
    ] {
        let mut socket = RawSocket::open(server).await;
        socket
            .send_json(json!({ "type": "connection_init", "payload": payload }))
            .await;
        assert_fault(
            &format!("connection_init with {payload}"),
            socket.closed().await,
        );
    }
    let mut socket = RawSocket::open(server).await;
    socket
        .send_json(json!({ "type": "connection_init", "payload": "Bearer x" }))
        .await;
    assert_eq!(
        socket.next().await,
        Next::Message(json!({ "type": "connection_ack" }))
    );
    assert_healthy(server).await;
    battery.assert_unchanged().await;
}

/// A message of an unknown type is a protocol error: closed with a code (the close reason,
/// serde's error listing every known type, must fit in a close frame).
#[tokio::test]
async fn unknown_websocket_message_types_are_closed_with_a_code() {
    let battery = Battery::start().await;
    let server = &battery.server;
    let message = || Message::Text("{\"type\": \"no_such_type\"}".into());
    let mut socket = RawSocket::open(server).await;
    socket.send(message()).await;
    let before_init = socket.closed().await;
    let mut socket = RawSocket::acked(server).await;
    socket.send(message()).await;
    let after_init = socket.closed().await;
    assert!(
        is_client_fault(before_init) && is_client_fault(after_init),
        "closed with {before_init:?} before connection_init, {after_init:?} after"
    );
    assert_healthy(server).await;
    battery.assert_unchanged().await;
}

/// A message over the size limit (64 KiB) is closed with 1009 "message too big", before and
/// after the handshake, and the server carries on.
#[tokio::test]
async fn oversized_websocket_messages_are_closed_with_a_code() {
    let battery = Battery::start().await;
    let server = &battery.server;
    let big = format!(
        r#"{{"type":"subscribe","id":"1","payload":{{"query":"subscription {{ subprocessorChanges {{ cursor }} }} #{}"}}}}"#,
        "x".repeat(128 * 1024)
    );
    let mut socket = RawSocket::acked(server).await;
    socket.send(Message::Text(big.clone().into())).await;
    let after_init = socket.closed().await;
    let mut socket = RawSocket::open(server).await;
    socket.send(Message::Text(big.into())).await;
    let before_init = socket.closed().await;
    assert!(
        is_client_fault(before_init) && is_client_fault(after_init),
        "closed with {before_init:?} before connection_init, {after_init:?} after"
    );
    assert_healthy(server).await;
    battery.assert_unchanged().await;
}

/// graphql-transport-ws: a subscribe before connection_init is closed with 4401 Unauthorized.
#[tokio::test]
async fn a_subscribe_before_connection_init_is_refused() {
    let battery = Battery::start().await;
    let server = &battery.server;
    let mut socket = RawSocket::open(server).await;
    socket
        .send_json(json!({ "id": "1", "type": "subscribe", "payload": {
            "query": "subscription { subprocessorChanges { cursor kind } }",
        } }))
        .await;
    // Nothing is streamed to a connection that never said who it is.
    let code = loop {
        match socket.next().await {
            Next::Message(m) => assert_ne!(m["type"], "next", "{m}"),
            Next::Closed(code) => break code,
        }
    };
    assert_eq!(code, Some(4401), "closed with {code:?}");
    assert_healthy(server).await;
    battery.assert_unchanged().await;
}
