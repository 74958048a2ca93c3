//! The lists that grow without bound, paged as connections: recipients, processing activities
//! and objections. A walk through every page visits each item once, in the list's order, and
//! counts them; a cursor of another list is refused; the deprecated lists still answer the
//! same items. Runs on SQLite, or on PostgreSQL when `DATABASE_URL` points at one.

use crate::common::{Setup, TestServer};
use chrono::{Duration, SubsecRound, Utc};
use serde_json::{Value, json};
use std::collections::HashSet;

/// Every item of a connection, page after page of `first`, with what the walk saw on the way:
/// the total count on each page, and the page info.
struct Walk {
    /// The nodes in the order the pages gave them.
    nodes: Vec<Value>,
    /// The edges' cursors, in the same order.
    cursors: Vec<String>,
    /// `totalCount` as each page answered it.
    totals: Vec<u64>,
    pages: usize,
}

/// Walks the connection at `field` of `query`, which takes `$first` and `$after` besides
/// `variables`, and selects `totalCount`, `pageInfo` and `edges { cursor node }`.
async fn walk(server: &TestServer, query: &str, field: &str, variables: Value, first: u64) -> Walk {
    let mut walk = Walk {
        nodes: Vec::new(),
        cursors: Vec::new(),
        totals: Vec::new(),
        pages: 0,
    };
    let mut after: Option<String> = None;
    loop {
        let mut vars = variables.clone();
        vars["first"] = json!(first);
        vars["after"] = json!(after);
        let data = server.data(query, vars).await;
        let page = &data[field];
        walk.pages += 1;
        walk.totals
            .push(page["totalCount"].as_u64().expect("totalCount"));
        let edges = page["edges"].as_array().expect("edges");
        assert!(edges.len() as u64 <= first, "a page holds at most `first`");
        let info = &page["pageInfo"];
        assert_eq!(
            info["hasPreviousPage"],
            after.is_some(),
            "only a page after a cursor has a previous page: {info}"
        );
        assert_eq!(
            info["startCursor"],
            edges.first().map_or(Value::Null, |e| e["cursor"].clone())
        );
        assert_eq!(
            info["endCursor"],
            edges.last().map_or(Value::Null, |e| e["cursor"].clone())
        );
        for edge in edges {
            walk.cursors
                .push(edge["cursor"].as_str().unwrap().to_owned());
            walk.nodes.push(edge["node"].clone());
        }
        if info["hasNextPage"] != true {
            return walk;
        }
        assert_eq!(edges.len() as u64, first, "only the last page is short");
        after = info["endCursor"].as_str().map(str::to_owned);
    }
}

fn ids(nodes: &[Value]) -> Vec<String> {
    nodes
        .iter()
        .map(|n| n["id"].as_str().expect("id").to_owned())
        .collect()
}

/// Every item once: no ID twice, and the walk holds what `expected` holds, in its order.
fn assert_each_once_in_order(walk: &Walk, expected: &[Value]) {
    let seen = ids(&walk.nodes);
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(
        unique.len(),
        seen.len(),
        "an item was visited twice: {seen:?}"
    );
    assert_eq!(
        seen,
        ids(expected),
        "the pages give the list's items in its order"
    );
    assert!(
        walk.totals.iter().all(|t| *t == seen.len() as u64),
        "totalCount is the number of items on every page: {:?} for {}",
        walk.totals,
        seen.len()
    );
}

const RECIPIENTS: &str = r#"query($first: Int, $after: String, $filter: RecipientListFilter) {
  recipientsConnection(first: $first, after: $after, filter: $filter) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id key legalName kind } }
  }
}"#;

const RECIPIENT_LIST: &str = r#"query($filter: RecipientListFilter) {
  recipients(filter: $filter) { id key legalName kind }
}"#;

#[tokio::test]
async fn every_page_of_recipients_visits_each_recipient_once_by_legal_name() {
    let server = TestServer::start().await;
    // Two recipients with the same legal name: the id breaks the tie, across a page boundary.
    for key in ["twin_one", "twin_two", "twin_three"] {
        server
            .data(
                r#"mutation($key: String!) { createRecipient(input: { key: $key,
                    legalName: "Twin Hosting B.V.", kind: HOSTING_PROVIDER, defaultRole: PROCESSOR,
                    country: "NL" }) { id } }"#,
                json!({ "key": key }),
            )
            .await;
    }
    let list = server.data(RECIPIENT_LIST, json!({})).await["recipients"]
        .as_array()
        .unwrap()
        .clone();
    assert!(list.len() > 40, "the example registry has many recipients");
    for first in [1, 7, 500] {
        let walked = walk(
            &server,
            RECIPIENTS,
            "recipientsConnection",
            json!({}),
            first,
        )
        .await;
        assert_each_once_in_order(&walked, &list);
        assert_eq!(walked.pages, list.len().div_ceil(first as usize).max(1));
    }
    let twins: Vec<&Value> = list
        .iter()
        .filter(|r| r["legalName"] == "Twin Hosting B.V.")
        .collect();
    assert_eq!(twins.len(), 3);

    // A filter pages the same way, and counts what it selects.
    let filter = json!({ "filter": { "kinds": ["TELECOM_OPERATOR", "PAYMENT_SERVICE_PROVIDER"] } });
    let filtered = server.data(RECIPIENT_LIST, filter.clone()).await["recipients"]
        .as_array()
        .unwrap()
        .clone();
    assert!(filtered.len() > 3 && filtered.len() < list.len());
    let walked = walk(&server, RECIPIENTS, "recipientsConnection", filter, 2).await;
    assert_each_once_in_order(&walked, &filtered);
    assert!(
        walked
            .nodes
            .iter()
            .all(|r| r["kind"] == "TELECOM_OPERATOR" || r["kind"] == "PAYMENT_SERVICE_PROVIDER")
    );
}

const ACTIVITIES: &str = r#"query($first: Int, $after: String) {
  processingActivitiesConnection(first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id key name } }
  }
}"#;

#[tokio::test]
async fn every_page_of_processing_activities_visits_each_activity_once_by_name() {
    let server = TestServer::start().await;
    let list = server
        .data("{ processingActivities { id key name } }", json!({}))
        .await["processingActivities"]
        .as_array()
        .unwrap()
        .clone();
    assert!(list.len() > 5, "the example registry has many activities");
    for first in [1, 4, 500] {
        let walked = walk(
            &server,
            ACTIVITIES,
            "processingActivitiesConnection",
            json!({}),
            first,
        )
        .await;
        assert_each_once_in_order(&walked, &list);
    }
    // An empty page still says that items follow it.
    let empty = server
        .data(
            "{ processingActivitiesConnection(first: 0) { totalCount edges { cursor } pageInfo { hasNextPage endCursor } } }",
            json!({}),
        )
        .await;
    let empty = &empty["processingActivitiesConnection"];
    assert_eq!(empty["edges"], json!([]));
    assert_eq!(empty["pageInfo"]["hasNextPage"], true);
    assert_eq!(empty["pageInfo"]["endCursor"], Value::Null);
    assert_eq!(empty["totalCount"], list.len());
}

/// A public recipient processing in the EEA, announced: customers may object to it until its
/// notice period ends.
async fn announced_subprocessor(server: &TestServer, key: &str) -> String {
    let created = server
        .data(
            r#"mutation($key: String!) { createRecipient(input: { key: $key, legalName: $key,
                kind: HOSTING_PROVIDER, defaultRole: PROCESSOR, country: "NL",
                processingLocations: ["NL"], public: true }) { id } }"#,
            json!({ "key": key }),
        )
        .await;
    let id = created["createRecipient"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    server
        .data(
            "mutation($id: ID!) { announceRecipient(id: $id) { status } }",
            json!({ "id": id }),
        )
        .await;
    id
}

async fn object(server: &TestServer, recipient: &str, customer: &str) -> String {
    let data = server
        .data(
            r#"mutation($id: ID!, $customer: String!) { objectToSubprocessor(input: {
                recipientId: $id, customer: $customer, contact: "dpo@example.test",
                reason: "processing outside our approved list" }) { id } }"#,
            json!({ "id": recipient, "customer": customer }),
        )
        .await;
    data["objectToSubprocessor"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

const OBJECTIONS: &str = r#"query($first: Int, $after: String, $recipientId: ID, $statuses: [ObjectionStatus!]) {
  objectionsConnection(first: $first, after: $after, recipientId: $recipientId, statuses: $statuses) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id createdAt status customer recipient { id } } }
  }
}"#;

const OBJECTION_LIST: &str = r#"query($recipientId: ID, $statuses: [ObjectionStatus!]) {
  objections(recipientId: $recipientId, statuses: $statuses) { id createdAt status customer recipient { id } }
}"#;

#[tokio::test]
async fn every_page_of_objections_visits_each_objection_once_newest_first() {
    let start = Utc::now().trunc_subsecs(0);
    let server = TestServer::setup(Setup {
        manual_clock: Some(start),
        ..Setup::default()
    })
    .await;
    let clock = server.clock.clone().unwrap();
    let acme = announced_subprocessor(&server, "acme_hosting").await;
    let other = announced_subprocessor(&server, "other_hosting").await;
    // Objections received at the same instant tie on it: the newest id comes first. Others
    // arrive minutes apart, some with a fraction of a second.
    let mut made = Vec::new();
    for round in 0..4 {
        for (i, recipient) in [&acme, &other, &acme].into_iter().enumerate() {
            made.push(object(&server, recipient, &format!("Customer {round}.{i}")).await);
        }
        clock.advance(Duration::minutes(3) + Duration::milliseconds(250 * round));
    }
    let decided = &made[4];
    server
        .data(
            r#"mutation($id: ID!) { resolveObjection(id: $id, status: UNDER_REVIEW) { id } }"#,
            json!({ "id": decided }),
        )
        .await;

    let list = server.data(OBJECTION_LIST, json!({})).await["objections"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(list.len(), made.len());
    // Newest first, then by id, newest first: the reverse of the order they were made in.
    let mut newest_first = made.clone();
    newest_first.reverse();
    assert_eq!(ids(&list), newest_first);
    for first in [1, 2, 5, 500] {
        let walked = walk(
            &server,
            OBJECTIONS,
            "objectionsConnection",
            json!({}),
            first,
        )
        .await;
        assert_each_once_in_order(&walked, &list);
    }

    // Filters page the same way.
    for filter in [
        json!({ "recipientId": acme }),
        json!({ "statuses": ["UNDER_REVIEW"] }),
        json!({ "recipientId": other, "statuses": ["RECEIVED"] }),
    ] {
        let filtered = server.data(OBJECTION_LIST, filter.clone()).await["objections"]
            .as_array()
            .unwrap()
            .clone();
        assert!(!filtered.is_empty(), "{filter}");
        let walked = walk(&server, OBJECTIONS, "objectionsConnection", filter, 2).await;
        assert_each_once_in_order(&walked, &filtered);
    }
    let to_acme = walk(
        &server,
        OBJECTIONS,
        "objectionsConnection",
        json!({ "recipientId": acme }),
        3,
    )
    .await;
    assert_eq!(to_acme.nodes.len(), 8);
    assert!(
        to_acme
            .nodes
            .iter()
            .all(|o| o["recipient"]["id"] == acme.as_str())
    );

    // An objection made after a walk began comes before its cursor: the walk goes on with the
    // ones it has not seen, and none twice.
    let first_page = server.data(OBJECTIONS, json!({ "first": 5 })).await;
    let after = first_page["objectionsConnection"]["pageInfo"]["endCursor"].clone();
    object(&server, &acme, "Late Customer").await;
    let rest = server
        .data(OBJECTIONS, json!({ "first": 500, "after": after }))
        .await;
    let rest_ids: Vec<String> = rest["objectionsConnection"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(rest_ids, newest_first[5..]);
    assert_eq!(rest["objectionsConnection"]["totalCount"], made.len() + 1);
}

#[tokio::test]
async fn a_cursor_of_another_list_is_refused() {
    let server = TestServer::start().await;
    let cursor_of = |data: &Value, field: &str| {
        data[field]["edges"][0]["cursor"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let recipient = cursor_of(
        &server
            .data(
                "{ recipientsConnection(first: 1) { edges { cursor } } }",
                json!({}),
            )
            .await,
        "recipientsConnection",
    );
    let activity = cursor_of(
        &server
            .data(
                "{ processingActivitiesConnection(first: 1) { edges { cursor } } }",
                json!({}),
            )
            .await,
        "processingActivitiesConnection",
    );
    let flow = cursor_of(
        &server
            .data("{ dataFlows(first: 1) { edges { cursor } } }", json!({}))
            .await,
        "dataFlows",
    );
    let change = cursor_of(
        &server
            .data(
                "{ subprocessorChanges(first: 1) { edges { cursor } } }",
                json!({}),
            )
            .await,
        "subprocessorChanges",
    );
    let garbage = "bm90IGEgY3Vyc29y".to_owned();
    let lists = [
        ("recipientsConnection", Some(&recipient)),
        ("processingActivitiesConnection", Some(&activity)),
        // The example registry has no objection to take a cursor from.
        ("objectionsConnection", None),
        ("dataFlows", Some(&flow)),
        ("subprocessorChanges", Some(&change)),
    ];
    for (field, own) in lists {
        let query = format!("query($after: String) {{ {field}(after: $after) {{ totalCount }} }}");
        if let Some(own) = own {
            server.data(&query, json!({ "after": own })).await;
        }
        for foreign in [&recipient, &activity, &flow, &change, &garbage] {
            if Some(foreign) == own {
                continue;
            }
            let (code, response) = server.error(&query, json!({ "after": foreign })).await;
            assert_eq!(code, "BAD_USER_INPUT", "{field} took {foreign}: {response}");
            assert_eq!(
                response["errors"][0]["extensions"]["field"], "after",
                "{response}"
            );
            assert!(response["data"].is_null(), "{response}");
        }
    }
}

#[tokio::test]
async fn the_deprecated_lists_name_their_replacements() {
    let server = TestServer::start().await;
    let data = server
        .data(
            r#"{ __type(name: "Query") { fields(includeDeprecated: true) { name isDeprecated deprecationReason } } }"#,
            json!({}),
        )
        .await;
    let fields = data["__type"]["fields"].as_array().unwrap();
    let field = |name: &str| {
        fields
            .iter()
            .find(|f| f["name"] == name)
            .unwrap_or_else(|| panic!("Query.{name}"))
            .clone()
    };
    for (old, new) in [
        ("recipients", "recipientsConnection"),
        ("processingActivities", "processingActivitiesConnection"),
        ("objections", "objectionsConnection"),
    ] {
        let old = field(old);
        assert_eq!(old["isDeprecated"], true, "{old}");
        let reason = old["deprecationReason"].as_str().unwrap();
        assert!(reason.contains(&format!("`{new}`")), "{reason}");
        assert_eq!(field(new)["isDeprecated"], false);
    }
    for current in ["dataFlows", "subprocessorChanges", "subprocessors"] {
        assert_eq!(field(current)["isDeprecated"], false, "{current}");
    }
}

#[tokio::test]
async fn the_new_connections_need_a_key_and_bound_their_pages() {
    let server = TestServer::start().await;
    for field in [
        "recipientsConnection",
        "processingActivitiesConnection",
        "objectionsConnection",
    ] {
        let query = format!("{{ {field}(first: 1) {{ totalCount }} }}");
        let response = server.anonymous(&query, json!({})).await;
        assert_eq!(
            response["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
            "{field}: {response}"
        );
        for first in [-1, 501] {
            let query = format!("{{ {field}(first: {first}) {{ totalCount }} }}");
            let (code, response) = server.error(&query, json!({})).await;
            assert_eq!(code, "BAD_USER_INPUT", "{field}(first: {first})");
            assert_eq!(response["errors"][0]["extensions"]["field"], "first");
        }
    }
}
