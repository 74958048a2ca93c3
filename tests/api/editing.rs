//! An editor maintains the registry: every write is validated, and a refused write changes
//! nothing.

use crate::common::TestServer;
use serde_json::{Value, json};

const CREATE_RECIPIENT: &str = r#"mutation($input: CreateRecipientInput!) {
  createRecipient(input: $input, reason: "new vendor") { id key status processingLocations { code } }
}"#;

const CREATE_FLOW: &str = r#"mutation($input: CreateDataFlowInput!) {
  createDataFlow(input: $input) { id role dataCategories { key } transfers { country { code } mechanism sccModule } }
}"#;

const SNAPSHOT: &str =
    r#"{ recipients { key legalName status } dataFlows(first: 500) { totalCount } }"#;

fn recipient(key: &str) -> Value {
    json!({
        "key": key,
        "legalName": "Acme Analytics Inc.",
        "kind": "ANALYTICS_PROVIDER",
        "defaultRole": "PROCESSOR",
        "country": "US",
        "processingLocations": ["US"],
        "transferSafeguard": { "mechanism": "STANDARD_CONTRACTUAL_CLAUSES", "sccModule": 3, "tiaDate": "2025-01-15" },
        "status": "ACTIVE",
        "public": false,
    })
}

async fn assert_refused(
    server: &TestServer,
    query: &str,
    variables: Value,
    code: &str,
    field: Option<&str>,
) {
    let before = server.data(SNAPSHOT, json!({})).await;
    let (got, response) = server.error(query, variables).await;
    assert_eq!(got, code, "{response:#}");
    if let Some(field) = field {
        assert_eq!(
            response["errors"][0]["extensions"]["field"], field,
            "{response:#}"
        );
    }
    assert_eq!(
        server.data(SNAPSHOT, json!({})).await,
        before,
        "nothing changed"
    );
}

#[tokio::test]
async fn an_editor_adds_a_recipient_and_a_flow_then_removes_them() {
    let server = TestServer::start().await;
    let created = server
        .data(CREATE_RECIPIENT, json!({ "input": recipient("acme") }))
        .await;
    let recipient_id = created["createRecipient"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(created["createRecipient"]["status"], "ACTIVE");

    let activity = server.activity_id("sms_delivery").await;
    let flow = server
        .data(
            CREATE_FLOW,
            json!({ "input": {
                "activityId": activity, "recipientId": recipient_id,
                "dataCategories": ["contact.phone_number"], "dataSubjects": ["end_users"],
                "countries": ["US", "NL"],
                "transfers": [{ "country": "US", "safeguard": { "mechanism": "STANDARD_CONTRACTUAL_CLAUSES", "sccModule": 3 } }]
            } }),
        )
        .await;
    let flow_id = flow["createDataFlow"]["id"].as_str().unwrap().to_owned();
    assert_eq!(flow["createDataFlow"]["role"], "PROCESSOR");

    // Processor in a processor activity: Acme is now a subprocessor (an internal one).
    let acme = server
        .data(
            r#"{ recipient(key: "acme") { isSubprocessor } }"#,
            json!({}),
        )
        .await;
    assert_eq!(acme["recipient"]["isSubprocessor"], true);

    // As a controller of its own analytics, Acme is a third party to the data MessageBird
    // processes for its customers: the module 3 clauses no longer fit the roles, and no module
    // does (Decision 2021/914 has none for a processor's transfer to an independent controller).
    assert_refused(
        &server,
        r#"mutation($id: ID!) { updateDataFlow(id: $id, input: { role: CONTROLLER, purpose: "own analytics" }) { role } }"#,
        json!({ "id": flow_id }),
        "BAD_USER_INPUT",
        Some("transfers[0].sccModule"),
    )
    .await;
    let updated = server
        .data(
            r#"mutation($id: ID!) { updateDataFlow(id: $id, input: { role: CONTROLLER, purpose: "own analytics", transfers: [{ country: "US", safeguard: { mechanism: STANDARD_CONTRACTUAL_CLAUSES, sccModule: 1, safeguards: "Module 1 concluded on the customers' behalf, who instruct the disclosure" } }] }) { role roleOverride purpose isSubprocessing } }"#,
            json!({ "id": flow_id }),
        )
        .await;
    assert_eq!(updated["updateDataFlow"]["role"], "CONTROLLER");
    assert_eq!(updated["updateDataFlow"]["isSubprocessing"], false);

    // A recipient with flows cannot be deleted.
    let (code, _) = server
        .error(
            "mutation($id: ID!) { deleteRecipient(id: $id) }",
            json!({ "id": recipient_id }),
        )
        .await;
    assert_eq!(code, "CONFLICT");
    server
        .data(
            "mutation($id: ID!) { deleteDataFlow(id: $id) }",
            json!({ "id": flow_id }),
        )
        .await;
    server
        .data(
            "mutation($id: ID!) { deleteRecipient(id: $id) }",
            json!({ "id": recipient_id }),
        )
        .await;
    let gone = server
        .data(
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": recipient_id }),
        )
        .await;
    assert_eq!(gone["node"], Value::Null);
}

#[tokio::test]
async fn an_unknown_country_code_is_refused() {
    let server = TestServer::start().await;
    let mut input = recipient("acme");
    input["country"] = json!("XX");
    assert_refused(
        &server,
        CREATE_RECIPIENT,
        json!({ "input": input }),
        "BAD_USER_INPUT",
        Some("country"),
    )
    .await;
    let mut input = recipient("acme");
    input["processingLocations"] = json!(["US", "nl"]);
    assert_refused(
        &server,
        CREATE_RECIPIENT,
        json!({ "input": input }),
        "BAD_USER_INPUT",
        Some("processingLocations[1]"),
    )
    .await;
}

#[tokio::test]
async fn an_active_recipient_outside_the_eea_needs_a_transfer_mechanism() {
    let server = TestServer::start().await;
    let mut input = recipient("acme");
    input["transferSafeguard"] = Value::Null;
    assert_refused(
        &server,
        CREATE_RECIPIENT,
        json!({ "input": input }),
        "BAD_USER_INPUT",
        Some("transfer"),
    )
    .await;
    // SCCs without their module, and the US adequacy decision without DPF certification.
    let mut input = recipient("acme");
    input["transferSafeguard"] = json!({ "mechanism": "STANDARD_CONTRACTUAL_CLAUSES" });
    assert_refused(
        &server,
        CREATE_RECIPIENT,
        json!({ "input": input }),
        "BAD_USER_INPUT",
        Some("transfer.sccModule"),
    )
    .await;
    let mut input = recipient("acme");
    input["transferSafeguard"] = json!({ "mechanism": "ADEQUACY_DECISION" });
    assert_refused(
        &server,
        CREATE_RECIPIENT,
        json!({ "input": input }),
        "BAD_USER_INPUT",
        Some("transfer.mechanism"),
    )
    .await;
}

#[tokio::test]
async fn a_flow_outside_the_eea_needs_a_transfer_and_sends_only_what_its_activity_processes() {
    let server = TestServer::start().await;
    let activity = server.activity_id("sms_delivery").await;
    let google = server.recipient_id("google_cloud").await;
    let base = json!({
        "activityId": activity, "recipientId": google,
        "dataCategories": ["content.message"], "dataSubjects": ["end_users"],
        "countries": ["IN"],
        "transfers": [{ "country": "IN", "safeguard": { "mechanism": "STANDARD_CONTRACTUAL_CLAUSES", "sccModule": 3 } }]
    });
    let mut input = base.clone();
    input["transfers"] = json!([]);
    assert_refused(
        &server,
        CREATE_FLOW,
        json!({ "input": input }),
        "BAD_USER_INPUT",
        Some("transfers"),
    )
    .await;
    let mut input = base.clone();
    input["dataCategories"] = json!(["financial.payment_card"]);
    assert_refused(
        &server,
        CREATE_FLOW,
        json!({ "input": input }),
        "BAD_USER_INPUT",
        Some("dataCategories[0]"),
    )
    .await;
    let mut input = base.clone();
    input["dataSubjects"] = json!(["website_visitors"]);
    assert_refused(
        &server,
        CREATE_FLOW,
        json!({ "input": input }),
        "BAD_USER_INPUT",
        Some("dataSubjects[0]"),
    )
    .await;
    let mut input = base.clone();
    input["transfers"][0]["safeguard"] =
        json!({ "mechanism": "DEROGATION", "derogation": "COMPELLING_LEGITIMATE_INTERESTS" });
    assert_refused(
        &server,
        CREATE_FLOW,
        json!({ "input": input }),
        "BAD_USER_INPUT",
        Some("transfers[0].safeguards"),
    )
    .await;
    // And the well-formed flow is accepted.
    server.data(CREATE_FLOW, json!({ "input": base })).await;
}

#[tokio::test]
async fn dangling_references_and_missing_targets_are_refused() {
    let server = TestServer::start().await;
    let activity = server.activity_id("sms_delivery").await;
    // A well-formed Recipient ID that names no recipient.
    let created = server
        .data(CREATE_RECIPIENT, json!({ "input": recipient("ghost") }))
        .await;
    let ghost = created["createRecipient"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    server
        .data(
            "mutation($id: ID!) { deleteRecipient(id: $id) }",
            json!({ "id": ghost }),
        )
        .await;
    let input = json!({
        "activityId": activity, "recipientId": ghost,
        "dataCategories": ["content.message"], "dataSubjects": ["end_users"], "countries": ["NL"]
    });
    assert_refused(
        &server,
        CREATE_FLOW,
        json!({ "input": input }),
        "BAD_USER_INPUT",
        Some("recipientId"),
    )
    .await;
    assert_refused(
        &server,
        r#"mutation($id: ID!) { updateRecipient(id: $id, input: { legalName: "x" }) { id } }"#,
        json!({ "id": ghost }),
        "NOT_FOUND",
        None,
    )
    .await;
    // An ID of the wrong type.
    assert_refused(
        &server,
        "mutation($id: ID!) { deleteDataFlow(id: $id) }",
        json!({ "id": activity }),
        "BAD_USER_INPUT",
        Some("id"),
    )
    .await;
}

#[tokio::test]
async fn a_duplicate_key_is_a_conflict() {
    let server = TestServer::start().await;
    assert_refused(
        &server,
        CREATE_RECIPIENT,
        json!({ "input": recipient("stripe") }),
        "CONFLICT",
        None,
    )
    .await;
}

#[tokio::test]
async fn a_field_update_is_partial_and_explicit_null_clears() {
    let server = TestServer::start().await;
    let stripe = server.recipient_id("stripe").await;
    let data = server
        .data(
            r#"mutation($id: ID!) { updateRecipient(id: $id, input: { dpaReference: null, certifications: ["PCI DSS Level 1"] }) {
                 legalName dpaReference certifications defaultRole } }"#,
            json!({ "id": stripe }),
        )
        .await;
    let r = &data["updateRecipient"];
    assert!(r["legalName"].as_str().unwrap().contains("Stripe"));
    assert_eq!(r["dpaReference"], Value::Null);
    assert_eq!(r["certifications"], json!(["PCI DSS Level 1"]));
    assert_eq!(r["defaultRole"], "CONTROLLER");
}

#[tokio::test]
async fn an_editor_renames_a_data_subject_category_and_a_product_under_their_keys() {
    let server = TestServer::start().await;
    let terms = server
        .data(
            "{ dataSubjectCategories { id key } products { id key } }",
            json!({}),
        )
        .await;
    let id_of = |list: &str, key: &str| {
        terms[list]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["key"] == key)
            .unwrap()["id"]
            .clone()
    };
    let subject = id_of("dataSubjectCategories", "end_users");
    let product = id_of("products", "sms");
    let renamed = server
        .data(
            r#"mutation($s: ID!, $p: ID!) {
              s: updateDataSubjectCategory(id: $s, input: { key: "end_users", name: "Recipients of messages", description: "People our customers message" }) { key name description }
              p: updateProduct(id: $p, input: { key: "sms", name: "Text messages" }) { key name description }
            }"#,
            json!({ "s": subject, "p": product }),
        )
        .await;
    assert_eq!(
        renamed,
        json!({
            "s": { "key": "end_users", "name": "Recipients of messages", "description": "People our customers message" },
            "p": { "key": "sms", "name": "Text messages", "description": null },
        })
    );
    // The flows that name them show the new names.
    let flows = server
        .data(
            r#"{ dataFlows(first: 500, filter: { products: ["sms"] }) { nodes { dataSubjects { key name } } } }"#,
            json!({}),
        )
        .await;
    let names: Vec<&Value> = flows["dataFlows"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| f["dataSubjects"].as_array().unwrap())
        .filter(|s| s["key"] == "end_users")
        .map(|s| &s["name"])
        .collect();
    assert!(!names.is_empty());
    assert!(
        names.iter().all(|n| *n == "Recipients of messages"),
        "{names:?}"
    );
    // A key does not change: that would be another term.
    assert_refused(
        &server,
        r#"mutation($p: ID!) { updateProduct(id: $p, input: { key: "texts", name: "Texts" }) { id } }"#,
        json!({ "p": product }),
        "BAD_USER_INPUT",
        Some("key"),
    )
    .await;
}
