//! Repeated queries are answered from what was kept, and never with an answer the registry has
//! moved past: on this replica at once, on another as soon as it hears of the write. No answer
//! crosses from one audience to another. GET answers revalidate with their entity tag.

use crate::common::ws::{CHANGES, TRANSPORT_WS, WsClient};
use crate::common::{Replica, TestServer, client_with_key};
use entity::Role;
use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, COOKIE, ETAG, IF_NONE_MATCH, SET_COOKIE};
use serde_json::{Value, json};
use std::time::Duration;
use subreg::settings::ServerSettings;

/// How many times the server answered `operation` with `outcome`, from its metrics.
async fn answered(server: &TestServer, operation: &str, outcome: &str) -> u64 {
    let text = server
        .client
        .get(format!("{}/metrics", server.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let series = format!(
        "subreg_graphql_requests_total{{operation=\"{operation}\",outcome=\"{outcome}\"}} "
    );
    text.lines()
        .find_map(|l| l.strip_prefix(&series))
        .map_or(0, |v| v.trim().parse().unwrap())
}

const NAMES: &str = "query Names { subprocessors { key legalName } }";

#[tokio::test]
async fn a_repeated_query_is_answered_from_what_was_kept() {
    let server = TestServer::start().await;
    let first = server.anonymous(NAMES, json!({})).await;
    assert_eq!(answered(&server, "Names", "cached").await, 0);
    let again = server.anonymous(NAMES, json!({})).await;
    assert_eq!(again, first);
    assert_eq!(answered(&server, "Names", "cached").await, 1);
    // Other variables are another request.
    let paged = "query Page($first: Int) { subprocessorChanges(first: $first) { totalCount } }";
    server.anonymous(paged, json!({ "first": 1 })).await;
    server.anonymous(paged, json!({ "first": 2 })).await;
    assert_eq!(answered(&server, "Page", "cached").await, 0);
    server.anonymous(paged, json!({ "first": 2 })).await;
    assert_eq!(answered(&server, "Page", "cached").await, 1);
}

#[tokio::test]
async fn no_answer_outlives_a_write() {
    let server = TestServer::start().await;
    let aws = server.recipient_id("aws").await;
    server.anonymous(NAMES, json!({})).await;
    server.rename(&aws, "AWS EMEA (renamed)").await;
    let after = server.anonymous(NAMES, json!({})).await;
    assert!(
        after.to_string().contains("AWS EMEA (renamed)"),
        "{after:#}"
    );

    // Writes outside the change log move the registry too.
    let products = "query Products { products { key } }";
    let before = server.anonymous(products, json!({})).await;
    server
        .data(
            r#"mutation { createProduct(input: { key: "fax", name: "Fax" }) { id } }"#,
            json!({}),
        )
        .await;
    let after = server.anonymous(products, json!({})).await;
    assert_ne!(after, before);
    assert!(after.to_string().contains("\"fax\""));
}

#[tokio::test]
async fn no_answer_crosses_from_one_audience_to_another() {
    let server = TestServer::start().await;
    let count = "query Count { subprocessorChanges(first: 1) { totalCount nodes { sequence } } }";
    let viewer = client_with_key(Some(&server.key(Role::Viewer).await));
    let internal = server.graphql_as(&viewer, count, json!({})).await;
    let public = server.anonymous(count, json!({})).await;
    assert_ne!(internal, public, "the public counts public changes only");
    // Each audience gets its own answer again.
    assert_eq!(server.graphql_as(&viewer, count, json!({})).await, internal);
    assert_eq!(server.anonymous(count, json!({})).await, public);
    // A query the public may not ask is refused to it however often a viewer asked it.
    let flows = "{ dataFlows(first: 1) { totalCount } }";
    server.graphql_as(&viewer, flows, json!({})).await;
    let refused = server.anonymous(flows, json!({})).await;
    assert_eq!(
        refused["errors"][0]["extensions"]["code"],
        "UNAUTHENTICATED"
    );
}

#[tokio::test]
async fn another_replica_serves_no_answer_older_than_what_it_has_heard() {
    let server = TestServer::start().await;
    let replica = Replica::start(&server.database_url, 1).await;
    let ask = |url: String| async move {
        let body: Value = reqwest::Client::new()
            .post(format!("{url}/graphql"))
            .json(&json!({ "query": NAMES }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        body
    };
    let kept = ask(replica.url.clone()).await;
    assert_eq!(ask(replica.url.clone()).await, kept);
    let mut feed = WsClient::connect(&replica.url, TRANSPORT_WS, json!({})).await;
    let history = server.history(json!({ "publicOnly": true })).await;
    feed.subscribe(
        "1",
        CHANGES,
        json!({ "after": history.last().unwrap()["cursor"] }),
    )
    .await;

    // Written on this server, heard of by the replica: from then on it answers anew.
    let aws = server.recipient_id("aws").await;
    server.rename(&aws, "AWS (written elsewhere)").await;
    let heard = feed.changes(1, Duration::from_secs(20)).await;
    assert_eq!(heard[0]["kind"], "RECIPIENT_UPDATED");
    let fresh = ask(replica.url.clone()).await;
    assert!(
        fresh.to_string().contains("AWS (written elsewhere)"),
        "{fresh:#}"
    );

    // A write outside the change log reaches the replica too (its version check).
    let products = "{ products { key } }";
    let before = ask_query(&replica.url, products).await;
    server
        .data(
            r#"mutation { createProduct(input: { key: "telex", name: "Telex" }) { id } }"#,
            json!({}),
        )
        .await;
    let mut seen = before.clone();
    for _ in 0..200 {
        seen = ask_query(&replica.url, products).await;
        if seen != before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(seen.to_string().contains("\"telex\""), "{seen:#}");
}

async fn ask_query(url: &str, query: &str) -> Value {
    ask_query_as(&reqwest::Client::new(), url, query).await
}

async fn ask_query_as(client: &reqwest::Client, url: &str, query: &str) -> Value {
    client
        .post(format!("{url}/graphql"))
        .json(&json!({ "query": query }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn get_answers_revalidate_with_their_entity_tags() {
    let server = TestServer::start().await;
    let url = format!(
        "{}/graphql?query={}",
        server.url, "%7B%20subprocessors%20%7B%20key%20legalName%20%7D%20%7D"
    );
    let get = |client: reqwest::Client, tag: Option<String>| {
        let url = url.clone();
        async move {
            let mut request = client.get(&url).header("accept", "application/json");
            if let Some(tag) = tag {
                request = request.header(IF_NONE_MATCH, tag);
            }
            request.send().await.unwrap()
        }
    };
    let first = get(server.anonymous_client.clone(), None).await;
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(first.headers()[CACHE_CONTROL], "public, max-age=30");
    let tag = first.headers()[ETAG].to_str().unwrap().to_owned();
    assert!(tag.starts_with('"'), "a strong tag: {tag}");

    let unchanged = get(server.anonymous_client.clone(), Some(tag.clone())).await;
    assert_eq!(unchanged.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(unchanged.headers()[ETAG], tag.as_str());
    assert!(unchanged.bytes().await.unwrap().is_empty());

    // A write the answer does not show keeps its tag.
    server
        .data(
            r#"mutation { createProduct(input: { key: "pager", name: "Pager" }) { id } }"#,
            json!({}),
        )
        .await;
    let still = get(server.anonymous_client.clone(), Some(tag.clone())).await;
    assert_eq!(still.status(), StatusCode::NOT_MODIFIED);

    // One it shows gives a new answer, with a new tag.
    let aws = server.recipient_id("aws").await;
    server.rename(&aws, "AWS (tagged anew)").await;
    let changed = get(server.anonymous_client.clone(), Some(tag.clone())).await;
    assert_eq!(changed.status(), StatusCode::OK);
    assert_ne!(changed.headers()[ETAG], tag.as_str());
    assert!(changed.text().await.unwrap().contains("AWS (tagged anew)"));

    // An answer for a key is the key holder's to keep, not a shared cache's.
    let keyed = get(server.client.clone(), None).await;
    assert_eq!(keyed.headers()[CACHE_CONTROL], "private, no-cache");
}

#[tokio::test]
async fn the_notices_evidence_is_never_kept() {
    // Notice contacts and deliveries change without the registry's version moving: each
    // request reads them afresh, and no cache on the way may keep them.
    let server = TestServer::start().await;
    let contacts = "query Contacts { noticeContacts { email } }";
    let add = |email: &'static str| {
        let server = &server;
        async move {
            server
                .data(
                    r#"mutation($email: String!) { addNoticeContact(input: { customer: "Example Bank N.V.", email: $email }) { status } }"#,
                    json!({ "email": email }),
                )
                .await
        }
    };
    add("first@bank.test").await;
    let before = server.data(contacts, json!({})).await;
    add("second@bank.test").await;
    let after = server.data(contacts, json!({})).await;
    assert!(
        !before.to_string().contains("second@bank.test"),
        "{before:#}"
    );
    assert!(after.to_string().contains("second@bank.test"), "{after:#}");
    assert_eq!(answered(&server, "Contacts", "cached").await, 0);

    let url = format!(
        "{}/graphql?query={}",
        server.url, "%7B%20noticeRegister%20%7B%20totalCount%20%7D%20%7D"
    );
    let register = server
        .client
        .get(&url)
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(register.status(), StatusCode::OK);
    assert_eq!(register.headers()[CACHE_CONTROL], "no-store");
    assert!(register.headers().get(ETAG).is_none());
}

#[tokio::test]
async fn the_public_page_its_feed_and_the_record_revalidate_and_never_show_a_past_state() {
    let server = TestServer::start().await;
    let replica = Replica::start(&server.database_url, 1).await;
    let cookie = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let page = |url: String, tag: Option<String>| {
        let cookie = cookie.clone();
        async move {
            let sent = cookie.lock().unwrap().clone();
            let mut request = reqwest::Client::new().get(format!("{url}/subprocessors"));
            if !sent.is_empty() {
                request = request.header(COOKIE, sent);
            }
            if let Some(tag) = tag {
                request = request.header(IF_NONE_MATCH, tag);
            }
            let response = request.send().await.unwrap();
            if let Some(set) = response.headers().get(SET_COOKIE) {
                let set = set.to_str().unwrap();
                *cookie.lock().unwrap() = set.split(';').next().unwrap().to_owned();
            }
            response
        }
    };
    // The first visit sets the visitor's form cookie; the page carries the visitor's own token,
    // so no shared cache may keep it.
    let first = page(server.url.clone(), None).await;
    assert_eq!(first.headers()[CACHE_CONTROL], "private, no-cache");
    let second = page(server.url.clone(), None).await;
    let tag = second.headers()[ETAG].to_str().unwrap().to_owned();
    let html = second.text().await.unwrap();
    assert!(html.contains("Amazon Web Services EMEA SARL"));
    assert!(
        !html.contains("subreg-form-token-slot"),
        "the token is in place"
    );
    assert_eq!(
        page(server.url.clone(), Some(tag.clone())).await.status(),
        StatusCode::NOT_MODIFIED
    );
    // Another visitor has another token, so another tag.
    let stranger = reqwest::Client::new()
        .get(format!("{}/subprocessors", server.url))
        .header(IF_NONE_MATCH, &tag)
        .send()
        .await
        .unwrap();
    assert_eq!(stranger.status(), StatusCode::OK);

    let feed = |url: String| async move {
        reqwest::get(format!("{url}/subprocessors/feed.atom"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    feed(server.url.clone()).await;
    feed(replica.url.clone()).await;
    page(replica.url.clone(), None).await;

    // A public change: both replicas show it at once on their next answer.
    let aws = server.recipient_id("aws").await;
    server.rename(&aws, "AWS (page renamed)").await;
    let changed = page(server.url.clone(), Some(tag.clone())).await;
    assert_eq!(changed.status(), StatusCode::OK);
    assert!(changed.text().await.unwrap().contains("AWS (page renamed)"));
    assert!(
        feed(server.url.clone())
            .await
            .contains("AWS (page renamed)")
    );
    let mut seen = String::new();
    for _ in 0..200 {
        seen = page(replica.url.clone(), None).await.text().await.unwrap();
        if seen.contains("AWS (page renamed)") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(seen.contains("AWS (page renamed)"), "the replica moved on");
    assert!(
        feed(replica.url.clone())
            .await
            .contains("AWS (page renamed)")
    );

    // The record, past or today, is tagged by what it says.
    let record = |query: &'static str, tag: Option<String>| {
        let client = server.client.clone();
        let url = format!("{}/ropa?{query}", server.url);
        async move {
            let mut request = client.get(url);
            if let Some(tag) = tag {
                request = request.header(IF_NONE_MATCH, tag);
            }
            request.send().await.unwrap()
        }
    };
    for query in ["format=json", "format=csv&asOf=2026-01-01"] {
        let first = record(query, None).await;
        assert_eq!(first.status(), StatusCode::OK, "{query}");
        assert_eq!(first.headers()[CACHE_CONTROL], "private, no-cache");
        let tag = first.headers()[ETAG].to_str().unwrap().to_owned();
        let again = record(query, Some(tag.clone())).await;
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{query}");
        if query == "format=json" {
            server.rename(&aws, "AWS (recorded anew)").await;
            let changed = record(query, Some(tag)).await;
            assert_eq!(changed.status(), StatusCode::OK);
            assert!(
                changed
                    .text()
                    .await
                    .unwrap()
                    .contains("AWS (recorded anew)")
            );
        }
    }
}

const FIRST_FLOW: &str = "{ dataFlows(first: 1) { nodes { id purpose recipient { id legalName } \
    dataCategories { key } transfers { country { code } mechanism } } } }";

/// With no answers kept, the rows behind them still are (a recipient, a flow's categories):
/// a page read again costs fewer statements, and a write is seen by the next read all the same.
#[tokio::test]
async fn rows_kept_between_writes_never_outlive_one() {
    let server = TestServer::start_with(ServerSettings {
        response_cache_bytes: 0,
        ..ServerSettings::default()
    })
    .await;
    let read = || server.data(FIRST_FLOW, json!({}));
    let before = server.statements().await;
    let first = read().await;
    let cold = server.statements().await - before;
    let before = server.statements().await;
    assert_eq!(read().await, first);
    let warm = server.statements().await - before;
    assert!(warm < cold, "read again: {warm} statements, first: {cold}");

    let flow = &first["dataFlows"]["nodes"][0];
    let categories: Vec<&str> = flow["dataCategories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["key"].as_str().unwrap())
        .collect();
    server
        .rename(flow["recipient"]["id"].as_str().unwrap(), "Renamed since")
        .await;
    server
        .data(
            r#"mutation($id: ID!, $categories: [String!]) {
                updateDataFlow(id: $id, input: { purpose: "changed since", dataCategories: $categories }) { id } }"#,
            json!({ "id": flow["id"], "categories": &categories[..1] }),
        )
        .await;
    let after = read().await;
    let flow = &after["dataFlows"]["nodes"][0];
    assert_eq!(flow["recipient"]["legalName"], "Renamed since", "{after:#}");
    assert_eq!(flow["purpose"], "changed since");
    assert_eq!(flow["dataCategories"], json!([{ "key": categories[0] }]));
}

/// A replica keeps rows too, and drops them when it hears of a write made elsewhere.
#[tokio::test]
async fn a_replica_keeps_no_row_past_a_write_it_has_heard_of() {
    let server = TestServer::start().await;
    let replica =
        Replica::start_with(&server.database_url, 1, &["--response-cache-bytes", "0"]).await;
    let viewer = client_with_key(Some(&server.key(Role::Viewer).await));
    let read = || async {
        ask_query_as(&viewer, &replica.url, FIRST_FLOW).await["data"]["dataFlows"]["nodes"][0]
            .clone()
    };
    let flow = read().await;
    assert_eq!(read().await, flow);
    let recipient = flow["recipient"]["id"].as_str().unwrap().to_owned();
    let mut feed = WsClient::connect(&replica.url, TRANSPORT_WS, server.init()).await;
    let history = server.history(json!({})).await;
    feed.subscribe(
        "1",
        CHANGES,
        json!({ "after": history.last().unwrap()["cursor"] }),
    )
    .await;
    server.rename(&recipient, "Renamed elsewhere").await;
    feed.changes(1, Duration::from_secs(20)).await;
    assert_eq!(read().await["recipient"]["legalName"], "Renamed elsewhere");
}

/// The latest public changes are kept across writes and brought up to date with what each
/// write appended. After a write customers do not see, after public ones, and once more were
/// appended than the feed shows, the feed lists exactly the latest public events the API
/// lists (read from the log), newest first.
#[tokio::test]
async fn the_feed_follows_the_log_across_writes() {
    // The answers themselves are not kept, so every feed below is built from the window; the
    // writes come faster than a key's rate limit allows.
    let server = TestServer::start_with(ServerSettings {
        response_cache_bytes: 0,
        key_requests_per_minute: 0,
        address_requests_per_minute: 0,
        ..ServerSettings::default()
    })
    .await;
    let in_the_feed = async || -> Vec<String> {
        let atom = reqwest::get(format!("{}/subprocessors/feed.atom", server.url))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        atom.split("<id>urn:subreg:change:")
            .skip(1)
            .map(|rest| rest.split_once("</id>").unwrap().0.to_owned())
            .collect()
    };
    let in_the_log = async || -> Vec<String> {
        let body = server
            .anonymous(
                "{ subprocessorChanges(first: 500) { nodes { cursor } } }",
                json!({}),
            )
            .await;
        let mut cursors: Vec<String> = body["data"]["subprocessorChanges"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["cursor"].as_str().unwrap().to_owned())
            .collect();
        cursors.reverse();
        // The feed's length.
        cursors.truncate(200);
        cursors
    };
    let before = in_the_feed().await;
    assert_eq!(before, in_the_log().await);

    let aws = server.recipient_id("aws").await;
    server
        .data(
            r#"mutation($id: ID!) { updateRecipient(id: $id, input: { assumptions: ["checked again"] }) { id } }"#,
            json!({ "id": aws }),
        )
        .await;
    assert_eq!(in_the_feed().await, before, "a write no customer sees");

    // Public changes, until the log holds more than the feed shows.
    for round in 0..(200 - before.len() + 10) {
        server
            .rename(&aws, &format!("AWS, renamed {round} times"))
            .await;
        if round % 50 == 0 {
            assert_eq!(in_the_feed().await, in_the_log().await, "after {round}");
        }
    }
    let after = in_the_feed().await;
    assert_eq!(after.len(), 200);
    assert_eq!(after, in_the_log().await);
}
