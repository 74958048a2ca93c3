//! The registry as its users meet it over HTTP: an internal tool, a customer, the DPO, an
//! editor. Runs on SQLite, or on PostgreSQL when `DATABASE_URL` points at one.

use crate::common::{Setup, TestServer};
use serde_json::{Value, json};
use std::collections::HashSet;
use subreg::settings::BackgroundSettings;

const PHONE_NUMBERS_OUTSIDE_EEA: &str = r#"
query($first: Int, $after: String) {
  dataFlows(
    filter: { dataSubjects: ["end_users"], dataCategories: ["contact.phone_number"], outsideEea: true }
    first: $first, after: $after
  ) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node {
      id role
      recipient { key legalName }
      countries { code inEea }
      transfers { country { code } mechanism sccModule derogation safeguards }
    } }
  }
}"#;

fn nodes(connection: &Value) -> Vec<Value> {
    connection["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"].clone())
        .collect()
}

#[tokio::test]
async fn internal_tool_finds_who_outside_the_eea_receives_end_users_phone_numbers() {
    let server = TestServer::start().await;
    let data = server
        .data(PHONE_NUMBERS_OUTSIDE_EEA, json!({ "first": 500 }))
        .await;
    let flows = nodes(&data["dataFlows"]);
    assert_eq!(data["dataFlows"]["totalCount"], flows.len());
    assert!(flows.len() >= 10, "the seeded registry has many such flows");
    for flow in &flows {
        let abroad: Vec<&str> = flow["countries"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["inEea"] == false)
            .map(|c| c["code"].as_str().unwrap())
            .collect();
        assert!(!abroad.is_empty(), "every answer leaves the EEA: {flow}");
        let covered: HashSet<&str> = flow["transfers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["country"]["code"].as_str().unwrap())
            .collect();
        // A mere conduit receives no transfer (README "Mere conduits"); every other recipient
        // abroad has its mechanism for each country.
        if flow["role"] == "MERE_CONDUIT" {
            assert!(covered.is_empty(), "a conduit takes no transfer: {flow}");
            continue;
        }
        for country in abroad {
            assert!(
                covered.contains(country),
                "{country} has its mechanism: {flow}"
            );
        }
    }
    let find = |key: &str, role: &str| {
        flows
            .iter()
            .find(|f| f["recipient"]["key"] == key && f["role"] == role)
            .unwrap_or_else(|| panic!("{key} as {role} is in the answer"))
            .clone()
    };
    // Message content crosses to US carriers as through a conduit: no transfer. Their own
    // processing as controllers is a processor's transfer to a third party, which no SCC module
    // covers: module 1 on the customers' behalf, with the position recorded. The US hosting
    // region is under SCC module 3.
    let carrier = find("telecom_operators_us", "MERE_CONDUIT");
    assert_eq!(carrier["transfers"], json!([]));
    let carrier_own = find("telecom_operators_us", "CONTROLLER");
    assert_eq!(
        carrier_own["transfers"][0]["mechanism"],
        "STANDARD_CONTRACTUAL_CLAUSES"
    );
    assert_eq!(carrier_own["transfers"][0]["sccModule"], 1);
    assert!(
        carrier_own["transfers"][0]["safeguards"]
            .as_str()
            .is_some_and(|s| s.contains("judgement call")),
        "{carrier_own}"
    );
    // Brazil has had an adequacy decision since January 2026.
    let brazil = find("telecom_operators_br", "CONTROLLER");
    assert_eq!(brazil["transfers"][0]["mechanism"], "ADEQUACY_DECISION");
    let hosting = find("google_cloud", "PROCESSOR");
    assert_eq!(hosting["transfers"][0]["sccModule"], 3);
    let uk = find("telecom_operators_gb", "CONTROLLER");
    assert_eq!(uk["transfers"][0]["mechanism"], "ADEQUACY_DECISION");
    // Viber processes phone numbers only inside the EEA.
    assert!(flows.iter().all(|f| f["recipient"]["key"] != "viber"));
}

#[tokio::test]
async fn pages_walk_every_flow_once() {
    let server = TestServer::start().await;
    let mut seen = HashSet::new();
    let mut after: Option<String> = None;
    let mut total = None;
    loop {
        let data = server
            .data(
                PHONE_NUMBERS_OUTSIDE_EEA,
                json!({ "first": 7, "after": after }),
            )
            .await;
        let connection = &data["dataFlows"];
        total = total.or(connection["totalCount"].as_u64());
        for flow in nodes(connection) {
            assert!(
                seen.insert(flow["id"].as_str().unwrap().to_owned()),
                "no flow twice"
            );
        }
        if connection["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = connection["pageInfo"]["endCursor"]
            .as_str()
            .map(str::to_owned);
    }
    assert_eq!(Some(seen.len() as u64), total);
}

#[tokio::test]
async fn payment_service_providers_are_independent_controllers() {
    let server = TestServer::start().await;
    let data = server
        .data(
            r#"{ recipients(filter: { kinds: [PAYMENT_SERVICE_PROVIDER] }) { key kind defaultRole isSubprocessor dataFlows { role } } }"#,
            json!({}),
        )
        .await;
    let psps = data["recipients"].as_array().unwrap();
    let keys: HashSet<&str> = psps.iter().map(|r| r["key"].as_str().unwrap()).collect();
    // The PSPs of 2022 §4.3, and PayPal, whose payment method §4.3 names.
    assert_eq!(keys, HashSet::from(["stripe", "mollie", "adyen", "paypal"]));
    for psp in psps {
        assert_eq!(psp["defaultRole"], "CONTROLLER");
        assert_eq!(psp["isSubprocessor"], false);
        for flow in psp["dataFlows"].as_array().unwrap() {
            assert_eq!(flow["role"], "CONTROLLER");
        }
    }
}

#[tokio::test]
async fn a_telecom_operator_is_a_mere_conduit_for_message_content() {
    let server = TestServer::start().await;
    let data = server
        .data(
            r#"{ dataFlows(filter: { recipientKinds: [TELECOM_OPERATOR], dataCategories: ["content.message"] }, first: 500) {
                 edges { node { role isSubprocessing recipient { key isSubprocessor } } } } }"#,
            json!({}),
        )
        .await;
    let flows = nodes(&data["dataFlows"]);
    assert!(!flows.is_empty());
    for flow in flows {
        assert_eq!(flow["role"], "MERE_CONDUIT", "{flow}");
        assert_eq!(flow["isSubprocessing"], false);
        assert_eq!(flow["recipient"]["isSubprocessor"], false);
    }
    // ...and a controller for its own billing and fraud prevention (traffic data).
    let own = server
        .data(
            r#"{ dataFlows(filter: { recipients: [], recipientKinds: [TELECOM_OPERATOR], roles: [CONTROLLER] }) { totalCount } }"#,
            json!({}),
        )
        .await;
    assert!(own["dataFlows"]["totalCount"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn customers_see_the_public_subprocessor_list() {
    let server = TestServer::start().await;
    let data = server
        .data(
            r#"{ subprocessors { key public status isSubprocessor processingLocations { code } } }"#,
            json!({}),
        )
        .await;
    let list = data["subprocessors"].as_array().unwrap();
    let keys: HashSet<&str> = list.iter().map(|r| r["key"].as_str().unwrap()).collect();
    for expected in [
        "pusher",
        "sparkpost",
        "affiliate_24sessions",
        "telvox",
        "google_cloud",
    ] {
        assert!(
            keys.contains(expected),
            "{expected} is a subprocessor: {keys:?}"
        );
    }
    for not_sub in [
        "stripe",
        "telecom_operators_us",
        "google_analytics",
        "law_enforcement_nl",
    ] {
        assert!(!keys.contains(not_sub), "{not_sub} is not a subprocessor");
    }
    for r in list {
        assert_eq!(r["public"], true);
        assert_eq!(r["isSubprocessor"], true);
    }
}

#[tokio::test]
async fn a_category_filter_matches_its_descendants() {
    let server = TestServer::start().await;
    let count = |data: Value| data["dataFlows"]["totalCount"].as_u64().unwrap();
    let q = "query($c: [String!]) { dataFlows(filter: { dataCategories: $c }) { totalCount } }";
    let contact = count(server.data(q, json!({ "c": ["contact"] })).await);
    let phone = count(
        server
            .data(q, json!({ "c": ["contact.phone_number"] }))
            .await,
    );
    let email = count(server.data(q, json!({ "c": ["contact.email"] })).await);
    assert!(phone > 0 && email > 0);
    assert!(contact >= phone.max(email));
    let (code, response) = server.error(q, json!({ "c": ["contact.fax"] })).await;
    assert_eq!(code, "BAD_USER_INPUT");
    assert_eq!(
        response["errors"][0]["extensions"]["field"],
        "dataCategories[0]"
    );
}

#[tokio::test]
async fn a_page_of_flows_costs_the_same_statements_whatever_its_size() {
    // Background work shares the counted pool: keep it quiet while counting.
    let quiet = std::time::Duration::from_secs(3600);
    let server = TestServer::setup(Setup {
        background: Some(BackgroundSettings {
            activation_interval: quiet,
            change_poll_interval: quiet,
        }),
        ..Setup::default()
    })
    .await;
    let page = r#"query($first: Int) { dataFlows(first: $first) { totalCount edges { node {
        role purpose recipient { legalName kind country { code } }
        dataCategories { key } dataSubjects { key } countries { code } transfers { mechanism }
        activity { name legalBasis }
    } } } }"#;
    let mut costs = Vec::new();
    for first in [5, 100] {
        // Work outside the request (a replica's catch-up read) only adds statements, so the
        // least of a few runs is the request's own cost.
        let mut runs = Vec::new();
        for _ in 0..3 {
            let before = server.statements().await;
            let data = server.data(page, json!({ "first": first })).await;
            assert_eq!(nodes(&data["dataFlows"]).len(), first);
            runs.push(server.statements().await - before);
        }
        costs.push(runs.into_iter().min().unwrap());
    }
    assert_eq!(costs[0], costs[1], "statements for 5 and for 100 flows");
    // Eight read the page; one checks the API key; the metrics scrape checks its key and reads
    // the log's head.
    assert!(costs[1] <= 12, "a page costs {} statements", costs[1]);
}

#[tokio::test]
async fn node_fetches_any_object_by_its_global_id() {
    let server = TestServer::start().await;
    let stripe = server.recipient_id("stripe").await;
    let data = server
        .data(
            "query($id: ID!) { node(id: $id) { id ... on Recipient { legalName } } }",
            json!({ "id": stripe }),
        )
        .await;
    assert_eq!(data["node"]["id"], stripe);
    assert!(
        data["node"]["legalName"]
            .as_str()
            .unwrap()
            .contains("Stripe")
    );
    let (code, _) = server
        .error("{ node(id: \"not-an-id\") { id } }", json!({}))
        .await;
    assert_eq!(code, "BAD_USER_INPUT");
}

#[tokio::test]
async fn the_segment_hub_forwards_to_other_recipients() {
    let server = TestServer::start().await;
    let data = server
        .data(
            r#"{ recipient(key: "segment") { onwardFlows { recipient { key } via { key } } } }"#,
            json!({}),
        )
        .await;
    let onward: HashSet<&str> = data["recipient"]["onwardFlows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["recipient"]["key"].as_str().unwrap())
        .collect();
    assert!(onward.contains("mixpanel"), "{onward:?}");
    assert!(!onward.contains("google_analytics"));
}
