//! Who may see and do what. The public (no key) sees the subprocessor list and its public feed,
//! and nothing else: not through any field, ID, filter, subscription or error message. API keys
//! are made from the command line or by admins, shown once, stored as hashes, and revoked for
//! good; every change names the key's holder.

use crate::common::ws::{CHANGES, TRANSPORT_WS, WsClient};
use crate::common::{TestServer, client_with_key};
use entity::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);

/// The public part of the schema: each type a caller without a key can reach, the path that
/// reaches an instance of it, and its public fields. Every other field of these types, and
/// every root field not listed under Query, must refuse an anonymous caller. A field added to
/// the schema fails this test until it is classified here.
fn public_schema() -> BTreeMap<&'static str, (&'static str, Vec<&'static str>)> {
    BTreeMap::from([
        (
            "Query",
            (
                "",
                vec![
                    "adequacyDecisions",
                    "node",
                    "organization",
                    "products",
                    "subprocessorChanges",
                    "subprocessors",
                ],
            ),
        ),
        ("Subscription", ("", vec!["subprocessorChanges"])),
        (
            "Organization",
            (
                "organization",
                vec![
                    "address",
                    "country",
                    "dpoAddress",
                    "dpoEmail",
                    "dpoName",
                    "name",
                    "representative",
                    "sources",
                ],
            ),
        ),
        (
            "Recipient",
            (
                "subprocessors",
                vec![
                    "certifications",
                    "country",
                    "createdAt",
                    "defaultRole",
                    "description",
                    "dpfCertified",
                    "id",
                    "isSubprocessor",
                    "key",
                    "kind",
                    "legalName",
                    "privacyNoticeUrl",
                    "processingLocations",
                    "public",
                    "status",
                    "transferSafeguard",
                    "updatedAt",
                    "website",
                ],
            ),
        ),
        (
            "TransferSafeguard",
            (
                "subprocessors { transferSafeguard",
                vec!["derogation", "mechanism", "sccModule"],
            ),
        ),
        (
            "Country",
            (
                "subprocessors { country",
                vec!["adequacyDecision", "code", "inEea", "name"],
            ),
        ),
        (
            "AdequacyDecision",
            (
                "adequacyDecisions",
                vec![
                    "adopted",
                    "amendedBy",
                    "certification",
                    "country",
                    "inForceFrom",
                    "inForceUntil",
                    "internationalOrganisation",
                    "key",
                    "officialJournal",
                    "reference",
                    "regime",
                    "replacedBy",
                    "scope",
                    "scopeNote",
                    "title",
                    "url",
                ],
            ),
        ),
        (
            "AdequacyAmendment",
            (
                "adequacyDecisions { amendedBy",
                vec!["adopted", "effect", "officialJournal", "reference"],
            ),
        ),
        (
            "Product",
            ("products", vec!["description", "id", "key", "name"]),
        ),
        (
            "SubprocessorChangeConnection",
            (
                "subprocessorChanges(first: 50)",
                vec!["edges", "nodes", "pageInfo", "totalCount"],
            ),
        ),
        (
            "SubprocessorChangeEdge",
            (
                "subprocessorChanges(first: 50) { edges",
                vec!["cursor", "node"],
            ),
        ),
        (
            "SubprocessorChange",
            (
                "subprocessorChanges(first: 50) { nodes",
                vec![
                    "announcedAt",
                    "changes",
                    "cursor",
                    "dataFlowId",
                    "effectiveAt",
                    "kind",
                    "objectionDeadline",
                    "occurredAt",
                    "processingLocations",
                    "products",
                    "public",
                    "reason",
                    "recipient",
                    "recipientId",
                    "recipientKind",
                    "sequence",
                    "snapshot",
                ],
            ),
        ),
        (
            "FieldChange",
            (
                "subprocessorChanges(first: 50) { nodes { changes",
                vec!["after", "before", "field"],
            ),
        ),
        (
            "PageInfo",
            (
                "subprocessorChanges(first: 50) { pageInfo",
                vec!["endCursor", "hasNextPage", "hasPreviousPage", "startCursor"],
            ),
        ),
    ])
}

const INTROSPECTION: &str = r#"{ __schema {
  types { name kind
    fields(includeDeprecated: true) { name type { ...T } args { name defaultValue type { ...T } } }
    inputFields { name defaultValue type { ...T } }
    enumValues { name } } }
}
fragment T on __Type { kind name ofType { kind name ofType { kind name ofType { kind name } } } }"#;

struct Schema {
    types: BTreeMap<String, Value>,
}

impl Schema {
    async fn load(server: &TestServer) -> Self {
        let data = server.data(INTROSPECTION, json!({})).await;
        let types = data["__schema"]["types"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| (t["name"].as_str().unwrap().to_owned(), t.clone()))
            .collect();
        Self { types }
    }

    fn fields(&self, type_name: &str) -> Vec<Value> {
        self.types[type_name]["fields"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// A valid literal for a required argument or input field of type `ty`.
    fn literal(&self, ty: &Value) -> String {
        match ty["kind"].as_str().unwrap() {
            "NON_NULL" => self.literal(&ty["ofType"]),
            "LIST" => "[]".into(),
            "ENUM" => {
                let name = ty["name"].as_str().unwrap();
                self.types[name]["enumValues"][0]["name"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            }
            "INPUT_OBJECT" => {
                let name = ty["name"].as_str().unwrap();
                let fields: Vec<String> = self.types[name]["inputFields"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|f| f["type"]["kind"] == "NON_NULL" && f["defaultValue"].is_null())
                    .map(|f| {
                        format!(
                            "{}: {}",
                            f["name"].as_str().unwrap(),
                            self.literal(&f["type"])
                        )
                    })
                    .collect();
                format!("{{ {} }}", fields.join(", "))
            }
            _ => match ty["name"].as_str().unwrap() {
                "Int" => "1".into(),
                "Float" => "1.5".into(),
                "Boolean" => "true".into(),
                "DateTime" => "\"2024-01-01T00:00:00Z\"".into(),
                "NaiveDate" => "\"2024-01-01\"".into(),
                "JSON" => "{}".into(),
                _ => "\"x\"".into(),
            },
        }
    }

    /// `name(required arguments) { __typename }`, as a selection.
    fn call(&self, field: &Value) -> String {
        let args: Vec<String> = field["args"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["type"]["kind"] == "NON_NULL" && a["defaultValue"].is_null())
            .map(|a| {
                format!(
                    "{}: {}",
                    a["name"].as_str().unwrap(),
                    self.literal(&a["type"])
                )
            })
            .collect();
        let mut call = field["name"].as_str().unwrap().to_owned();
        if !args.is_empty() {
            call = format!("{call}({})", args.join(", "));
        }
        if matches!(
            named(&field["type"]).1.as_str(),
            "OBJECT" | "INTERFACE" | "UNION"
        ) {
            call.push_str(" { __typename }");
        }
        call
    }
}

/// The named type under any list and non-null wrappers: (name, kind).
fn named(ty: &Value) -> (String, String) {
    match ty["ofType"].is_null() {
        true => (
            ty["name"].as_str().unwrap_or_default().to_owned(),
            ty["kind"].as_str().unwrap_or_default().to_owned(),
        ),
        false => named(&ty["ofType"]),
    }
}

fn codes(response: &Value) -> Vec<String> {
    response["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .filter_map(|e| e["extensions"]["code"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Wraps `selection` in the path, closing every brace the path opened.
fn at_path(path: &str, selection: &str) -> String {
    if path.is_empty() {
        return format!("{{ {selection} }}");
    }
    let opened = path.matches('{').count();
    format!("{{ {path} {{ {selection} }}{} }}", " }".repeat(opened))
}

#[tokio::test]
async fn an_anonymous_caller_is_refused_every_field_that_is_not_public() {
    let server = TestServer::start().await;
    let schema = Schema::load(&server).await;
    let public = public_schema();
    let viewer = client_with_key(Some(&server.key(Role::Viewer).await));

    // The public part reaches no type that is not classified as public.
    for (type_name, (_, fields)) in &public {
        for field in schema.fields(type_name) {
            let name = field["name"].as_str().unwrap();
            let (target, kind) = named(&field["type"]);
            if fields.contains(&name) && matches!(kind.as_str(), "OBJECT") {
                assert!(
                    public.contains_key(target.as_str()),
                    "the public field {type_name}.{name} leads to {target}, which is not classified as public"
                );
            }
        }
    }

    let mut checked = BTreeSet::new();
    // Root queries: each one not listed refuses an anonymous caller.
    for field in schema.fields("Query") {
        let name = field["name"].as_str().unwrap();
        if public["Query"].1.contains(&name) {
            continue;
        }
        let query = format!("{{ {} }}", schema.call(&field));
        let response = server.anonymous(&query, json!({})).await;
        assert!(
            codes(&response).contains(&"UNAUTHENTICATED".to_owned()),
            "Query.{name} answered an anonymous caller: {response}"
        );
        assert!(
            response["data"].is_null() || response["data"][name].is_null(),
            "Query.{name} leaked data: {response}"
        );
        checked.insert(format!("Query.{name}"));
    }
    // Every mutation refuses anonymous callers, and viewers.
    for field in schema.fields("Mutation") {
        let name = field["name"].as_str().unwrap();
        let mutation = format!("mutation {{ {} }}", schema.call(&field));
        let anonymous = server.anonymous(&mutation, json!({})).await;
        assert!(
            codes(&anonymous).contains(&"UNAUTHENTICATED".to_owned()),
            "Mutation.{name} accepted an anonymous caller: {anonymous}"
        );
        let as_viewer = server.graphql_as(&viewer, &mutation, json!({})).await;
        assert!(
            codes(&as_viewer).contains(&"FORBIDDEN".to_owned()),
            "Mutation.{name} accepted a viewer: {as_viewer}"
        );
        checked.insert(format!("Mutation.{name}"));
    }
    // The non-public fields of public types, reached through public paths.
    for (type_name, (path, fields)) in &public {
        if path.is_empty() {
            continue;
        }
        let instances = server
            .anonymous(&at_path(path, "__typename"), json!({}))
            .await;
        assert!(
            instances.get("errors").is_none() && instances["data"].to_string().contains(type_name),
            "no public instance of {type_name} at `{path}` to check its fields: {instances}"
        );
        for field in schema.fields(type_name) {
            let name = field["name"].as_str().unwrap();
            if fields.contains(&name) {
                continue;
            }
            let response = server
                .anonymous(&at_path(path, &schema.call(&field)), json!({}))
                .await;
            assert!(
                codes(&response).contains(&"UNAUTHENTICATED".to_owned()),
                "{type_name}.{name} answered an anonymous caller: {response}"
            );
            checked.insert(format!("{type_name}.{name}"));
        }
    }
    for expected in [
        "Query.dataFlows",
        "Query.recipients",
        "Query.recordOfProcessingActivities",
        "Query.apiKeys",
        "Mutation.createRecipient",
        "Mutation.createApiKey",
        "Recipient.dataFlows",
        "Recipient.dpaReference",
        "TransferSafeguard.tiaDate",
        "SubprocessorChange.actor",
    ] {
        assert!(checked.contains(expected), "{expected} was not checked");
    }
}

/// An internal recipient's global ID (Stripe is an independent controller, not on the list).
async fn internal_recipient(server: &TestServer) -> (String, Value) {
    let data = server
        .data(
            r#"{ recipient(key: "stripe") { id public legalName } }"#,
            json!({}),
        )
        .await;
    assert_eq!(data["recipient"]["public"], false);
    (
        data["recipient"]["id"].as_str().unwrap().to_owned(),
        data["recipient"].clone(),
    )
}

/// A global ID that names a recipient that does not exist.
fn unknown_recipient_id() -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("Recipient:999999")
}

#[tokio::test]
async fn an_internal_recipient_is_invisible_without_a_key() {
    let server = TestServer::start().await;
    let (stripe, _) = internal_recipient(&server).await;
    let unknown = unknown_recipient_id();

    // node(id): an internal recipient answers exactly as an unknown one.
    let by_node =
        |id: &str| format!(r#"{{ node(id: "{id}") {{ id ... on Recipient {{ legalName }} }} }}"#);
    let internal = server.anonymous(&by_node(&stripe), json!({})).await;
    let missing = server.anonymous(&by_node(&unknown), json!({})).await;
    assert_eq!(internal, json!({ "data": { "node": null } }));
    assert_eq!(internal, missing);
    // With a key, it is there.
    let seen = server.data(&by_node(&stripe), json!({})).await;
    assert_eq!(seen["node"]["id"], stripe.as_str());

    // Other types are refused from the ID alone, whether the object exists or not.
    let flow = server
        .data("{ dataFlows(first: 1) { nodes { id } } }", json!({}))
        .await["dataFlows"]["nodes"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let refused = server.anonymous(&by_node(&flow), json!({})).await;
    assert_eq!(codes(&refused), ["UNAUTHENTICATED"]);

    // The public list and the public feed never mention it.
    let list = server
        .anonymous("{ subprocessors { key } }", json!({}))
        .await;
    let keys = list["data"]["subprocessors"].to_string();
    assert!(!keys.contains("stripe") && keys.contains("aws"), "{keys}");
    server.rename(&stripe, "Stripe renamed internally").await;
    let feed = server
        .anonymous(
            "{ subprocessorChanges(first: 500) { totalCount nodes { recipientId snapshot changes { field } } } }",
            json!({}),
        )
        .await;
    let feed_text = feed["data"].to_string();
    assert!(!feed_text.contains(&stripe), "the public feed names Stripe");
    assert!(
        !feed_text.contains("Stripe"),
        "the public feed names Stripe"
    );
    // The public feed is what an admin sees with publicOnly, no more.
    let admin_public = server
        .data(
            "{ subprocessorChanges(first: 500, filter: { publicOnly: true }) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(
        feed["data"]["subprocessorChanges"]["totalCount"],
        admin_public["subprocessorChanges"]["totalCount"]
    );
    // Asking for the internal feed without a key still gives the public one.
    let asked_for_all = server
        .anonymous(
            "{ subprocessorChanges(first: 500, filter: { publicOnly: false }) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(
        asked_for_all["data"]["subprocessorChanges"]["totalCount"],
        admin_public["subprocessorChanges"]["totalCount"]
    );

    // A mutation about it, without a key, is refused before anything is looked up: the same
    // answer as for an unknown recipient.
    let rename = |id: &str| {
        format!(
            r#"mutation {{ updateRecipient(id: "{id}", input: {{ legalName: "x" }}) {{ id }} }}"#
        )
    };
    let on_internal = server.anonymous(&rename(&stripe), json!({})).await;
    let on_unknown = server.anonymous(&rename(&unknown), json!({})).await;
    assert_eq!(codes(&on_internal), ["UNAUTHENTICATED"]);
    assert_eq!(
        on_internal["errors"][0]["message"],
        on_unknown["errors"][0]["message"]
    );
}

#[tokio::test]
async fn the_public_feed_shows_only_what_the_subprocessor_list_shows() {
    let server = TestServer::start().await;
    let aws = server.recipient_id("aws").await;
    let (stripe, _) = internal_recipient(&server).await;
    let start = server
        .data(
            "{ subprocessorChanges(first: 500) { pageInfo { endCursor } } }",
            json!({}),
        )
        .await["subprocessorChanges"]["pageInfo"]["endCursor"]
        .clone();

    let mut public = WsClient::connect(&server.url, TRANSPORT_WS, json!({})).await;
    public
        .subscribe(
            "1",
            "subscription($after: String) { subprocessorChanges(after: $after) { recipientId snapshot changes { field before after } } }",
            json!({ "after": start }),
        )
        .await;
    // An internal change, then a public one with an internal note.
    server.rename(&stripe, "Stripe, internally renamed").await;
    server
        .data(
            r#"mutation($id: ID!) { updateRecipient(id: $id, input: { legalName: "Amazon Web Services EMEA S.a r.l.", dpaReference: "AWS-DPA-2026-11" }) { id } }"#,
            json!({ "id": aws }),
        )
        .await;
    let events = public.changes(1, WAIT).await;
    let event = &events[0];
    assert_eq!(event["recipientId"], aws.as_str(), "{event}");
    assert_eq!(
        event["snapshot"]["legalName"],
        "Amazon Web Services EMEA S.a r.l."
    );
    // The contract reference and the assumptions are internal notes.
    assert!(event["snapshot"].get("dpaReference").is_none(), "{event}");
    assert!(event["snapshot"].get("assumptions").is_none(), "{event}");
    let fields: Vec<&str> = event["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["legalName"], "{event}");
    // An edit to internal notes alone is no news for customers: it stays off their feed.
    server
        .data(
            r#"mutation($id: ID!) { updateRecipient(id: $id, input: { dpaReference: "AWS-DPA-2026-12" }) { id } }"#,
            json!({ "id": aws }),
        )
        .await;
    assert!(public.drain(Duration::from_millis(500)).await.is_empty());

    // A key holder's subscription sees both, with every field.
    let history = server
        .data(
            "query($after: String) { subprocessorChanges(after: $after) { nodes { recipientId actor snapshot } } }",
            json!({ "after": start }),
        )
        .await;
    let nodes = history["subprocessorChanges"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 3);
    assert_eq!(nodes[1]["snapshot"]["dpaReference"], "AWS-DPA-2026-11");
    assert_eq!(nodes[2]["snapshot"]["dpaReference"], "AWS-DPA-2026-12");
}

#[tokio::test]
async fn keys_are_made_shown_once_stored_hashed_and_revoked_for_good() {
    let server = TestServer::start().await;
    let binary = env!("CARGO_BIN_EXE_subreg");
    let cli = |args: &[&str]| {
        let output = std::process::Command::new(binary)
            .args(args)
            .args(["--database-url", &server.database_url])
            .env("RUST_LOG", "warn")
            .output()
            .expect("run subreg");
        assert!(
            output.status.success(),
            "subreg {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    };

    // From the command line: an editor key, printed once.
    let printed = cli(&[
        "apikey",
        "create",
        "--role",
        "editor",
        "--name",
        "Jane Doe (DPO)",
    ]);
    let secret = printed.trim().to_owned();
    assert!(
        secret.starts_with("subreg_") && secret.len() > 40,
        "{printed}"
    );
    let listed = cli(&["apikey", "list"]);
    assert!(listed.contains("Jane Doe (DPO)") && listed.contains("Editor"));
    assert!(!listed.contains(&secret), "the list shows a secret");

    // Only the hash is stored.
    let rows = server
        .data("{ apiKeys { id name prefix role revokedAt } }", json!({}))
        .await;
    let jane = rows["apiKeys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "Jane Doe (DPO)")
        .unwrap()
        .clone();
    assert_eq!(jane["role"], "EDITOR");
    assert!(secret.starts_with(jane["prefix"].as_str().unwrap()));
    let stored = <entity::api_key::Entity as sea_orm::EntityTrait>::find()
        .all(server.registry.pool().unwrap())
        .await
        .unwrap();
    for row in &stored {
        assert_ne!(row.secret_hash, secret);
        assert!(!format!("{row:?}").contains(&secret), "a secret is stored");
    }
    let jane_id = stored
        .iter()
        .find(|row| row.secret_hash == subreg::registry::hash_secret(&secret))
        .expect("the key's hash is stored")
        .id;

    // The editor edits; the change names her.
    let jane_client = client_with_key(Some(&secret));
    let aws = server.recipient_id("aws").await;
    let edit = server
        .graphql_as(
            &jane_client,
            r#"mutation($id: ID!) { updateRecipient(id: $id, input: { description: "Cloud hosting, Frankfurt" }, reason: "annual review") { id } }"#,
            json!({ "id": aws }),
        )
        .await;
    assert!(edit.get("errors").is_none(), "{edit}");
    let history = server
        .data(
            "{ subprocessorChanges(first: 500) { nodes { actor reason } } }",
            json!({}),
        )
        .await;
    let last = history["subprocessorChanges"]["nodes"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["actor"], format!("Jane Doe (DPO) (API key {jane_id})"));
    assert_eq!(last["reason"], "annual review");

    // An editor cannot manage keys; an admin can, over GraphQL, and sees the secret once.
    let refused = server
        .graphql_as(
            &jane_client,
            r#"mutation { createApiKey(name: "x", role: ADMIN) { secret } }"#,
            json!({}),
        )
        .await;
    assert_eq!(codes(&refused), ["FORBIDDEN"]);
    let created = server
        .data(
            r#"mutation { createApiKey(name: "billing sync", role: VIEWER) { secret key { id role } } }"#,
            json!({}),
        )
        .await;
    let viewer_secret = created["createApiKey"]["secret"].as_str().unwrap();
    let viewer = client_with_key(Some(viewer_secret));
    let read = server
        .graphql_as(&viewer, "{ dataFlows(first: 1) { totalCount } }", json!({}))
        .await;
    assert!(read.get("errors").is_none(), "{read}");

    // Revoked from the command line: refused at once, with 401.
    cli(&["apikey", "revoke", &jane_id.to_string()]);
    let after = jane_client
        .post(format!("{}/graphql", server.url))
        .json(&json!({ "query": "{ organization { name } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), StatusCode::UNAUTHORIZED);
    assert!(
        after.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    let body: Value = after.json().await.unwrap();
    assert_eq!(codes(&body), ["UNAUTHENTICATED"]);

    // A made-up key is refused the same way, never served as anonymous.
    let forged = client_with_key(Some("subreg_not-a-real-key"))
        .post(format!("{}/graphql", server.url))
        .json(&json!({ "query": "{ subprocessors { key } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_revoked_key_ends_its_subscriptions() {
    let server = TestServer::start().await;
    let viewer_key = server.key(Role::Viewer).await;
    let init = json!({ "Authorization": format!("Bearer {viewer_key}") });
    let mut viewer = WsClient::connect(&server.url, TRANSPORT_WS, init.clone()).await;
    viewer.subscribe("1", CHANGES, json!({})).await;
    // Internal events reach the viewer's subscription.
    let stripe = server.recipient_id("stripe").await;
    let history = viewer.drain(Duration::from_millis(500)).await;
    server.rename(&stripe, "Stripe (viewer sees this)").await;
    let live = viewer.changes(1, WAIT).await;
    assert!(live[0]["sequence"].as_i64().unwrap() > history.len() as i64 - 1);

    let key_id = server.data("{ apiKeys { id name } }", json!({})).await["apiKeys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "Viewer of the test")
        .unwrap()["id"]
        .clone();
    server
        .data(
            "mutation($id: ID!) { revokeApiKey(id: $id) { revokedAt } }",
            json!({ "id": key_id }),
        )
        .await;
    let (code, reason, _) = viewer.closed(WAIT).await.expect("the connection is closed");
    assert_eq!(code, 4403, "{reason}");

    // The revoked key cannot open a new connection either.
    let refused = WsClient::try_connect(&server.url, TRANSPORT_WS, init).await;
    assert!(matches!(refused, Err((4403, _))), "{:?}", refused.err());
}

#[tokio::test]
async fn the_record_downloads_only_with_a_key() {
    let server = TestServer::start().await;
    let url = format!("{}/ropa?perspective=controller&format=csv", server.url);
    let anonymous = server.anonymous_client.get(&url).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let viewer = client_with_key(Some(&server.key(Role::Viewer).await));
    let download = viewer.get(&url).send().await.unwrap();
    assert_eq!(download.status(), StatusCode::OK);
    assert!(download.text().await.unwrap().contains("Stripe"));
}
