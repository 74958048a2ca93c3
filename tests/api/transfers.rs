//! Transfers as a supervisory authority would check them, told as a DPO tries the registry:
//! the exporter and its regime, the SCC module the roles give, derogations, adequacy decisions
//! with their lives and scopes, retention, and the findings on what a registry already holds.
//! Every refusal is a `BAD_USER_INPUT` naming its field. Runs on SQLite, or on PostgreSQL when
//! `DATABASE_URL` points at one.

use crate::common::{Setup, TestServer};
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

const CREATE_RECIPIENT: &str =
    r#"mutation($input: CreateRecipientInput!) { createRecipient(input: $input) { id } }"#;

const CREATE_FLOW: &str = r#"mutation($input: CreateDataFlowInput!) { createDataFlow(input: $input) {
    id role
    exporter { name party role regime country { code } }
    transfers { country { code } mechanism sccModule derogation safeguards
      exporter { name regime } adequacyDecision { reference } }
} }"#;

const FINDINGS: &str = "{ complianceFindings { severity code entityType entity article message } }";

/// Creates a proposed recipient (a proposed one needs no summary safeguard) and returns its id.
async fn recipient(
    server: &TestServer,
    key: &str,
    kind: &str,
    role: &str,
    country: &str,
    extra: Value,
) -> String {
    let mut input = json!({
        "key": key, "legalName": format!("{key} Ltd"), "kind": kind, "defaultRole": role,
        "country": country, "processingLocations": [country], "status": "PROPOSED",
    });
    if let (Some(input), Some(extra)) = (input.as_object_mut(), extra.as_object()) {
        input.extend(extra.clone());
    }
    let data = server
        .data(CREATE_RECIPIENT, json!({ "input": input }))
        .await;
    data["createRecipient"]["id"].as_str().unwrap().to_owned()
}

/// An activity of the example registry: the controller activity `billing_payments` (customer
/// contacts' names) or the processor activity `sms_delivery` (end users' phone numbers), by id.
enum Activity<'a> {
    Billing(&'a str),
    Sms(&'a str),
}
use Activity::{Billing, Sms};

/// A flow of `activity` to `recipient`.
fn flow(activity: Activity<'_>, recipient: &str, countries: &[&str], transfers: Value) -> Value {
    let (activity, category, subject) = match activity {
        Billing(id) => (id, "contact.name", "customer_contacts"),
        Sms(id) => (id, "contact.phone_number", "end_users"),
    };
    json!({ "input": {
        "activityId": activity, "recipientId": recipient,
        "dataCategories": [category], "dataSubjects": [subject],
        "countries": countries, "transfers": transfers,
    } })
}

fn with(mut variables: Value, field: &str, value: Value) -> Value {
    variables["input"][field] = value;
    variables
}

fn scc(country: &str, module: Option<i64>) -> Value {
    json!([{ "country": country, "safeguard": {
        "mechanism": "STANDARD_CONTRACTUAL_CLAUSES", "sccModule": module } }])
}

fn one(country: &str, safeguard: Value) -> Value {
    json!([{ "country": country, "safeguard": safeguard }])
}

/// Asserts the creation is refused as bad input on `field`; returns the message.
async fn refused(server: &TestServer, variables: Value, field: &str) -> String {
    let (code, response) = server.error(CREATE_FLOW, variables).await;
    assert_eq!(code, "BAD_USER_INPUT", "{response:#}");
    assert_eq!(
        response["errors"][0]["extensions"]["field"], field,
        "{response:#}"
    );
    response["errors"][0]["message"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn created(server: &TestServer, variables: Value) -> Value {
    server.data(CREATE_FLOW, variables).await["createDataFlow"].clone()
}

async fn findings(server: &TestServer) -> Vec<Value> {
    server.data(FINDINGS, json!({})).await["complianceFindings"]
        .as_array()
        .unwrap()
        .clone()
}

/// The finding with `code` about an entity containing `entity`.
fn finding<'a>(findings: &'a [Value], code: &str, entity: &str) -> &'a Value {
    findings
        .iter()
        .find(|f| f["code"] == code && f["entity"].as_str().unwrap().contains(entity))
        .unwrap_or_else(|| panic!("{code} about {entity} in {findings:#?}"))
}

#[tokio::test]
async fn each_regime_has_its_instruments_and_says_so() {
    let server = TestServer::start().await;
    let billing = server.activity_id("billing_payments").await;
    let sms = server.activity_id("sms_delivery").await;
    let acme = recipient(
        &server,
        "acme_us",
        "SERVICE_PROVIDER",
        "PROCESSOR",
        "US",
        json!({}),
    )
    .await;

    // EU GDPR: MessageBird B.V. exports from the Netherlands.
    let message = refused(
        &server,
        flow(
            Billing(&billing),
            &acme,
            &["US"],
            one("US", json!({ "mechanism": "UK_IDTA" })),
        ),
        "transfers[0].mechanism",
    )
    .await;
    assert!(message.contains("EU GDPR"), "{message}");
    assert!(message.contains("UK GDPR"), "{message}");
    let eu = created(
        &server,
        flow(Billing(&billing), &acme, &["US"], scc("US", None)),
    )
    .await;
    assert_eq!(
        eu["exporter"],
        json!({ "name": "MessageBird B.V.", "party": "ORGANIZATION", "role": "CONTROLLER",
                "regime": "EU_GDPR", "country": { "code": "NL" } })
    );

    // UK GDPR: the UK establishment exports itself. The EU clauses alone are no UK
    // instrument, and the EEA is outside the UK's free-flow area (its adequacy regulations
    // cover it).
    let uk = server.recipient_id("messagebird_uk").await;
    let from_uk = |transfers: Value| {
        with(
            flow(Billing(&billing), &acme, &["US", "IE"], transfers),
            "exporterId",
            json!(uk),
        )
    };
    let message = refused(
        &server,
        from_uk(json!([
            { "country": "US", "safeguard": { "mechanism": "STANDARD_CONTRACTUAL_CLAUSES", "sccModule": 2 } },
            { "country": "IE", "safeguard": { "mechanism": "ADEQUACY_DECISION" } },
        ])),
        "transfers[0].mechanism",
    )
    .await;
    assert!(message.contains("UK GDPR"), "{message}");
    let message = refused(
        &server,
        from_uk(one("US", json!({ "mechanism": "UK_IDTA" }))),
        "transfers",
    )
    .await;
    assert!(
        message.contains("IE") && message.contains("UK GDPR"),
        "{message}"
    );
    let uk_flow = created(
        &server,
        from_uk(json!([
            { "country": "US", "safeguard": { "mechanism": "UK_IDTA" } },
            { "country": "IE", "safeguard": { "mechanism": "ADEQUACY_DECISION" } },
        ])),
    )
    .await;
    assert_eq!(uk_flow["exporter"]["party"], "ESTABLISHMENT");
    assert_eq!(uk_flow["exporter"]["name"], "MessageBird UK Limited");
    assert_eq!(uk_flow["exporter"]["regime"], "UK_GDPR");
    let ie = uk_flow["transfers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["country"]["code"] == "IE")
        .unwrap();
    assert_eq!(
        ie["adequacyDecision"]["reference"]
            .as_str()
            .map(|r| r.contains("2018")),
        Some(true),
        "{ie}"
    );

    // UK GDPR for an onward flow: Pusher Ltd passes data on from the United Kingdom.
    let onward = server
        .data(
            r#"{ processingActivity(key: "pusher_realtime") { dataFlows {
                via { key } recipient { key }
                transfers { country { code } mechanism sccModule exporter { name party regime } } } } }"#,
            json!({}),
        )
        .await;
    let aws = onward["processingActivity"]["dataFlows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["via"]["key"] == "pusher" && f["recipient"]["key"] == "aws")
        .expect("Pusher's onward flow to AWS");
    for t in aws["transfers"].as_array().unwrap() {
        assert_eq!(
            t["exporter"],
            json!({ "name": "Pusher Ltd", "party": "FORWARDER", "regime": "UK_GDPR" })
        );
    }
    let us = aws["transfers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["country"]["code"] == "US")
        .unwrap();
    assert_eq!(
        (&us["mechanism"], &us["sccModule"]),
        (&json!("UK_ADDENDUM"), &json!(3))
    );

    // Swiss FADP: an establishment in Switzerland. No UK instruments, no compelling
    // legitimate interests (Art. 17(1) FADP), and the US decision covers only importers
    // certified under the Swiss-U.S. framework.
    let ch = recipient(&server, "mb_ch", "AFFILIATE", "PROCESSOR", "CH", json!({})).await;
    let from_ch = |transfers: Value| {
        with(
            flow(Sms(&sms), &acme, &["US"], transfers),
            "exporterId",
            json!(ch),
        )
    };
    let message = refused(
        &server,
        from_ch(one(
            "US",
            json!({ "mechanism": "UK_ADDENDUM", "sccModule": 3 }),
        )),
        "transfers[0].mechanism",
    )
    .await;
    assert!(message.contains("Swiss FADP"), "{message}");
    let message = refused(
        &server,
        from_ch(one(
            "US",
            json!({ "mechanism": "DEROGATION",
            "derogation": "COMPELLING_LEGITIMATE_INTERESTS", "safeguards": "Pseudonymised" }),
        )),
        "transfers[0].derogation",
    )
    .await;
    assert!(message.contains("Swiss FADP"), "{message}");
    let message = refused(
        &server,
        from_ch(one("US", json!({ "mechanism": "ADEQUACY_DECISION" }))),
        "transfers[0].mechanism",
    )
    .await;
    assert!(
        message.contains("Swiss-U.S. Data Privacy Framework"),
        "{message}"
    );
    let swiss = created(&server, from_ch(scc("US", None))).await;
    assert_eq!(swiss["exporter"]["regime"], "SWISS_FADP");
    assert_eq!(swiss["transfers"][0]["sccModule"], 3);
}

#[tokio::test]
async fn the_module_follows_from_the_roles() {
    let server = TestServer::start().await;
    let billing = server.activity_id("billing_payments").await;
    let sms = server.activity_id("sms_delivery").await;
    let processor = recipient(
        &server,
        "p_us",
        "SERVICE_PROVIDER",
        "PROCESSOR",
        "US",
        json!({}),
    )
    .await;
    let controller = recipient(
        &server,
        "c_us",
        "SERVICE_PROVIDER",
        "CONTROLLER",
        "US",
        json!({}),
    )
    .await;
    let customer = recipient(
        &server,
        "customer_us",
        "CUSTOMER",
        "CONTROLLER",
        "US",
        json!({}),
    )
    .await;

    // Left out, the module is filled in from the roles.
    for (activity, importer, module) in [
        (Billing(&billing), &controller, 1),
        (Billing(&billing), &processor, 2),
        (Sms(&sms), &processor, 3),
        // The organization processing for its customers sends back to one of them.
        (Sms(&sms), &customer, 4),
    ] {
        let flow = created(&server, flow(activity, importer, &["US"], scc("US", None))).await;
        assert_eq!(flow["transfers"][0]["sccModule"], module, "{flow}");
    }

    // A module that contradicts the roles is refused, naming the expected one.
    let message = refused(
        &server,
        flow(Sms(&sms), &processor, &["US"], scc("US", Some(2))),
        "transfers[0].sccModule",
    )
    .await;
    assert!(
        message.contains("module 3 (processor to processor)"),
        "{message}"
    );

    // Outside 1-4 it is bad input with its field, not a coercion error.
    let message = refused(
        &server,
        flow(Sms(&sms), &processor, &["US"], scc("US", Some(40_000))),
        "transfers[0].sccModule",
    )
    .await;
    assert!(message.contains("40000"), "{message}");

    // A processor sending to a third party acting as an independent controller: no module
    // fits. Module 1 on the customers' behalf is accepted only with the position recorded.
    let message = refused(
        &server,
        flow(Sms(&sms), &controller, &["US"], scc("US", Some(4))),
        "transfers[0].sccModule",
    )
    .await;
    assert!(message.contains("no module"), "{message}");
    refused(
        &server,
        flow(Sms(&sms), &controller, &["US"], scc("US", Some(1))),
        "transfers[0].safeguards",
    )
    .await;
    let position = created(
        &server,
        flow(
            Sms(&sms),
            &controller,
            &["US"],
            one(
                "US",
                json!({ "mechanism": "STANDARD_CONTRACTUAL_CLAUSES", "sccModule": 1,
                "safeguards": "Module 1 concluded on the customers' behalf" }),
            ),
        ),
    )
    .await;
    assert_eq!(position["transfers"][0]["sccModule"], 1);
    let findings = findings(&server).await;
    let fits = finding(&findings, "NO_SCC_MODULE_FITS", "c_us");
    assert_eq!(fits["severity"], "WARNING");
    assert!(fits["article"].as_str().unwrap().contains("2021/914"));
    assert!(
        fits["message"].as_str().unwrap().contains("judgement call"),
        "{fits}"
    );
}

#[tokio::test]
async fn a_mere_conduit_receives_no_transfer() {
    let server = TestServer::start().await;
    let sms = server.activity_id("sms_delivery").await;
    let carrier = recipient(
        &server,
        "carrier_x",
        "TELECOM_OPERATOR",
        "MERE_CONDUIT",
        "IN",
        json!({}),
    )
    .await;
    let message = refused(
        &server,
        flow(Sms(&sms), &carrier, &["IN"], scc("IN", Some(3))),
        "transfers[0]",
    )
    .await;
    assert!(message.contains("mere conduit"), "{message}");
    let conveyed = created(&server, flow(Sms(&sms), &carrier, &["IN"], json!([]))).await;
    assert_eq!(conveyed["transfers"], json!([]));
    assert!(
        !findings(&server)
            .await
            .iter()
            .any(|f| f["entity"].as_str().unwrap().contains("carrier_x")),
        "nothing is open for a conduit"
    );
    // The schema says the same.
    let role = server
        .data(
            r#"{ __type(name: "RecipientRole") { enumValues { name description } } }"#,
            json!({}),
        )
        .await;
    let conduit = role["__type"]["enumValues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "MERE_CONDUIT")
        .unwrap();
    assert!(
        conduit["description"]
            .as_str()
            .unwrap()
            .contains("no transfer"),
        "{conduit}"
    );
}

#[tokio::test]
async fn derogations_only_where_the_law_leaves_room_for_them() {
    let server = TestServer::start().await;
    let sms = server.activity_id("sms_delivery").await;
    let br = recipient(
        &server,
        "carrier_br",
        "TELECOM_OPERATOR",
        "CONTROLLER",
        "BR",
        json!({}),
    )
    .await;
    let contract = |safeguards: Option<&str>| {
        json!({ "mechanism": "DEROGATION", "derogation": "CONTRACT_IN_DATA_SUBJECT_INTEREST",
                "safeguards": safeguards })
    };
    // Art. 49 applies only in the absence of an adequacy decision: Brazil has one since
    // January 2026.
    let message = refused(
        &server,
        flow(
            Sms(&sms),
            &br,
            &["BR"],
            one("BR", contract(Some("Needed to deliver"))),
        ),
        "transfers[0].mechanism",
    )
    .await;
    assert!(message.contains("2026/179"), "{message}");
    created(
        &server,
        flow(
            Sms(&sms),
            &br,
            &["BR"],
            one("BR", json!({ "mechanism": "ADEQUACY_DECISION" })),
        ),
    )
    .await;

    // (1)(c) on a flow, which recurs, only with the reason recorded; the finding shows it.
    let za = recipient(
        &server,
        "carrier_za",
        "TELECOM_OPERATOR",
        "CONTROLLER",
        "ZA",
        json!({}),
    )
    .await;
    let message = refused(
        &server,
        flow(Sms(&sms), &za, &["ZA"], one("ZA", contract(None))),
        "transfers[0].safeguards",
    )
    .await;
    assert!(message.contains("occasional"), "{message}");
    let consent = json!({ "mechanism": "DEROGATION", "derogation": "EXPLICIT_CONSENT" });
    refused(
        &server,
        flow(Sms(&sms), &za, &["ZA"], one("ZA", consent)),
        "transfers[0].safeguards",
    )
    .await;
    let compelling =
        json!({ "mechanism": "DEROGATION", "derogation": "COMPELLING_LEGITIMATE_INTERESTS" });
    refused(
        &server,
        flow(Sms(&sms), &za, &["ZA"], one("ZA", compelling)),
        "transfers[0].safeguards",
    )
    .await;
    created(
        &server,
        flow(
            Sms(&sms),
            &za,
            &["ZA"],
            one("ZA", contract(Some("One delivery per End User request"))),
        ),
    )
    .await;
    let findings = findings(&server).await;
    let recurring = finding(&findings, "DEROGATION_FOR_RECURRING_TRANSFER", "carrier_za");
    assert_eq!(recurring["severity"], "WARNING");
    assert!(
        recurring["article"]
            .as_str()
            .unwrap()
            .contains("Guidelines 2/2018"),
        "{recurring}"
    );
    assert!(
        recurring["message"]
            .as_str()
            .unwrap()
            .contains("One delivery per End User request"),
        "{recurring}"
    );
}

#[tokio::test]
async fn adequacy_decisions_have_their_lives_and_their_scopes() {
    let server = TestServer::start().await;
    let decisions = server
        .data(
            r#"{ adequacyDecisions { key reference country { code } internationalOrganisation
                adopted inForceFrom inForceUntil officialJournal url scope certification
                amendedBy { reference adopted } } }"#,
            json!({}),
        )
        .await;
    let decisions = decisions["adequacyDecisions"].as_array().unwrap();
    let by_key = |key: &str| {
        decisions
            .iter()
            .find(|d| d["key"] == key)
            .unwrap_or_else(|| panic!("{key} in {decisions:#?}"))
    };
    let uk = by_key("eu-united-kingdom");
    assert!(uk["reference"].as_str().unwrap().contains("2021/1772"));
    assert_eq!(uk["inForceUntil"], "2031-12-27");
    let renewals: Vec<&str> = uk["amendedBy"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["reference"].as_str().unwrap())
        .collect();
    assert!(
        renewals.iter().any(|r| r.contains("2025/2574")),
        "{renewals:?}"
    );
    assert!(
        renewals.iter().any(|r| r.contains("24 June 2025")),
        "{renewals:?}"
    );
    let epo = by_key("eu-european-patent-organisation");
    assert!(epo["reference"].as_str().unwrap().contains("2025/1382"));
    assert!(epo["country"].is_null() && epo["internationalOrganisation"].is_string());
    let brazil = by_key("eu-brazil");
    assert_eq!(brazil["adopted"], "2026-01-26");
    assert!(brazil["url"].as_str().unwrap().contains("32026D0179"));
    assert_eq!(by_key("eu-canada")["scope"], "COMMERCIAL_ORGANISATIONS");
    assert_eq!(by_key("eu-japan")["scope"], "PRIVATE_SECTOR");
    assert_eq!(
        by_key("eu-us-data-privacy-framework")["scope"],
        "CERTIFIED_ORGANISATIONS"
    );
    // Before 2026 Brazil had none; the UK's own list has the data bridge of 12 October 2023,
    // the Swiss Federal Council's the Swiss-U.S. framework of 15 September 2024.
    let before = server
        .data(
            r#"{ adequacyDecisions(asOf: "2025-06-01") { key } }"#,
            json!({}),
        )
        .await;
    assert!(!before.to_string().contains("eu-brazil"));
    let uk_list = server
        .data(
            r#"{ adequacyDecisions(regime: UK_GDPR) { key inForceFrom certification } }"#,
            json!({}),
        )
        .await;
    let bridge = uk_list["adequacyDecisions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["key"] == "uk-us-data-bridge")
        .expect("the UK-US data bridge");
    assert_eq!(bridge["inForceFrom"], "2023-10-12");
    let swiss = server
        .data(
            r#"{ adequacyDecisions(regime: SWISS_FADP) { key inForceFrom } }"#,
            json!({}),
        )
        .await;
    assert!(
        swiss["adequacyDecisions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["key"] == "ch-us-data-privacy-framework" && d["inForceFrom"] == "2024-09-15")
    );

    // Scope is enforced: Canada's decision covers organisations subject to PIPEDA, not a
    // public authority; Japan's the private sector; the US only certified importers.
    let billing = server.activity_id("billing_payments").await;
    let adequacy = |country: &str| one(country, json!({ "mechanism": "ADEQUACY_DECISION" }));
    for (key, country) in [("authority_ca", "CA"), ("authority_jp", "JP")] {
        let authority = recipient(
            &server,
            key,
            "PUBLIC_AUTHORITY",
            "CONTROLLER",
            country,
            json!({}),
        )
        .await;
        let message = refused(
            &server,
            flow(Billing(&billing), &authority, &[country], adequacy(country)),
            "transfers[0].mechanism",
        )
        .await;
        assert!(message.contains("not public authorities"), "{message}");
    }
    let carrier = recipient(
        &server,
        "carrier_ca",
        "TELECOM_OPERATOR",
        "CONTROLLER",
        "CA",
        json!({}),
    )
    .await;
    created(
        &server,
        flow(Billing(&billing), &carrier, &["CA"], adequacy("CA")),
    )
    .await;
    let uncertified = recipient(
        &server,
        "plain_us",
        "SERVICE_PROVIDER",
        "PROCESSOR",
        "US",
        json!({}),
    )
    .await;
    let message = refused(
        &server,
        flow(Billing(&billing), &uncertified, &["US"], adequacy("US")),
        "transfers[0].mechanism",
    )
    .await;
    assert!(message.contains("dpfCertified"), "{message}");
    let certified = recipient(
        &server,
        "certified_us",
        "SERVICE_PROVIDER",
        "PROCESSOR",
        "US",
        json!({ "dpfCertified": true }),
    )
    .await;
    created(
        &server,
        flow(Billing(&billing), &certified, &["US"], adequacy("US")),
    )
    .await;
    // A change that takes the importer out of the scope a transfer relies on is refused.
    let (code, response) = server
        .error(
            r#"mutation($id: ID!) { updateRecipient(id: $id, input: { dpfCertified: false }) { id } }"#,
            json!({ "id": certified }),
        )
        .await;
    assert_eq!(code, "BAD_USER_INPUT");
    assert_eq!(response["errors"][0]["extensions"]["field"], "dpfCertified");
}

#[tokio::test]
async fn an_operator_points_the_server_at_an_updated_adequacy_file() {
    let dir = std::env::temp_dir().join(format!("subreg-adequacy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // Brazil's decision taken out, as if the file predated it.
    let builtin = subreg::reference::BUILTIN_ADEQUACY;
    let start = builtin.find("  - key: eu-brazil\n").unwrap();
    let end = start + builtin[start..].find("  - key: eu-canada\n").unwrap();
    let without_brazil = format!("{}{}", &builtin[..start], &builtin[end..]);
    let path = dir.join("adequacy.yaml");
    std::fs::write(&path, &without_brazil).unwrap();
    let settings = |path: &std::path::Path| subreg::settings::RegistrySettings {
        adequacy_file: Some(path.to_owned()),
        ..Default::default()
    };
    let server = TestServer::setup(Setup {
        registry: subreg::server::RegistryOptions {
            settings: settings(&path),
            load_example: false,
            ..Default::default()
        },
        ..Setup::default()
    })
    .await;
    let decisions = server
        .data("{ adequacyDecisions { key } }", json!({}))
        .await;
    assert!(!decisions.to_string().contains("eu-brazil"), "{decisions}");
    assert!(decisions.to_string().contains("eu-japan"));

    // A file with a date no source states does not start the server.
    let undated = builtin.replacen("adopted: 2026-01-26", "adopted: 2026-01-27", 1);
    let bad = dir.join("undated.yaml");
    std::fs::write(&bad, undated).unwrap();
    let database = crate::common::fresh_database().await;
    let err = subreg::server::open_registry(
        &database.url,
        None,
        subreg::server::RegistryOptions {
            settings: settings(&bad),
            load_example: false,
            ..Default::default()
        },
    )
    .await
    .expect_err("an undated decision stops the start");
    assert!(err.to_string().contains("2026-01-27"), "{err:#}");
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn retention_says_how_long_and_from_when() {
    let server = TestServer::start().await;
    let create = r#"mutation($input: CreateProcessingActivityInput!) { createProcessingActivity(input: $input) { key retention { period from text reason } } }"#;
    let input = |retention: Value| {
        let mut input = json!({ "key": "leads_dpo", "name": "Leads", "organizationRole": "CONTROLLER",
            "purposes": ["Following up leads"], "legalBasis": "LEGITIMATE_INTERESTS",
            "dataCategories": ["contact.email"], "dataSubjects": ["prospects"] });
        input
            .as_object_mut()
            .unwrap()
            .extend(retention.as_object().unwrap().clone());
        json!({ "input": input })
    };
    for (retention, field) in [
        (json!({ "retentionPeriod": "P12M" }), "retentionFrom"),
        (
            json!({ "retentionPeriod": "P12M", "retentionFrom": "DURATION_OF_CONTRACT" }),
            "retentionPeriod",
        ),
        (
            json!({ "retentionFrom": "END_OF_CONTRACT" }),
            "retentionPeriod",
        ),
    ] {
        let (code, response) = server.error(create, input(retention)).await;
        assert_eq!(code, "BAD_USER_INPUT", "{response:#}");
        assert_eq!(
            response["errors"][0]["extensions"]["field"], field,
            "{response:#}"
        );
    }
    let stored = server
        .data(
            create,
            input(
                json!({ "retentionPeriod": "P12M", "retentionFrom": "END_OF_CONTRACT",
                "retentionReason": "Follow-up after the contract" }),
            ),
        )
        .await;
    assert_eq!(
        stored["createProcessingActivity"]["retention"]["text"],
        "12 months after the end of the contract"
    );
    // The example's "for the term of the contract" (2022 §7.2) and "for the duration of the
    // services" (§7.3) are kept as that, not as a guessed period.
    let record = server
        .data(
            r#"{ recordOfProcessingActivities(perspective: CONTROLLER) { activities { key retention retentionPeriod retentionFrom } } }"#,
            json!({}),
        )
        .await;
    let activity = |key: &str| {
        record["recordOfProcessingActivities"]["activities"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["key"] == key)
            .unwrap_or_else(|| panic!("{key} in {record}"))
            .clone()
    };
    for key in ["account_management", "customer_marketing"] {
        let a = activity(key);
        assert_eq!(a["retention"], "For the duration of the contract", "{a}");
        assert!(a["retentionPeriod"].is_null(), "{a}");
    }
    assert_eq!(
        activity("account_verification")["retention"],
        "6 months after collection"
    );
    // The exports write it in words.
    let response = server
        .client
        .get(format!(
            "{}/ropa?perspective=controller&format=markdown",
            server.url
        ))
        .send()
        .await
        .unwrap();
    let markdown = response.text().await.unwrap();
    assert!(markdown.contains("12 months after the end of the contract"));
}

#[tokio::test]
async fn what_a_registry_already_holds_is_judged_by_the_findings() {
    let server = TestServer::start().await;
    let billing = server.activity_id("billing_payments").await;
    let sms = server.activity_id("sms_delivery").await;
    let update_recipient = r#"mutation($id: ID!, $input: UpdateRecipientInput!) { updateRecipient(id: $id, input: $input) { id } }"#;

    // An establishment that moves: its transfers are now under another regime.
    let moving = recipient(
        &server,
        "mb_moving",
        "AFFILIATE",
        "PROCESSOR",
        "DE",
        json!({}),
    )
    .await;
    let acme = recipient(
        &server,
        "acme_moving",
        "SERVICE_PROVIDER",
        "PROCESSOR",
        "US",
        json!({}),
    )
    .await;
    created(
        &server,
        with(
            flow(Billing(&billing), &acme, &["US", "IE"], scc("US", None)),
            "exporterId",
            json!(moving),
        ),
    )
    .await;
    let certified = recipient(
        &server,
        "certified_moving",
        "SERVICE_PROVIDER",
        "PROCESSOR",
        "US",
        json!({ "dpfCertified": true }),
    )
    .await;
    let swiss_bound = recipient(
        &server,
        "mb_to_ch",
        "AFFILIATE",
        "PROCESSOR",
        "DE",
        json!({}),
    )
    .await;
    created(
        &server,
        with(
            flow(
                Billing(&billing),
                &certified,
                &["US"],
                one("US", json!({ "mechanism": "ADEQUACY_DECISION" })),
            ),
            "exporterId",
            json!(swiss_bound),
        ),
    )
    .await;
    server
        .data(
            update_recipient,
            json!({ "id": moving, "input": { "country": "GB", "processingLocations": ["GB"] } }),
        )
        .await;
    server
        .data(update_recipient, json!({ "id": swiss_bound, "input": { "country": "CH", "processingLocations": ["CH"] } }))
        .await;

    // Roles that change under stored clauses.
    let becomes_controller = recipient(
        &server,
        "acme_role",
        "SERVICE_PROVIDER",
        "PROCESSOR",
        "US",
        json!({}),
    )
    .await;
    created(
        &server,
        flow(
            Billing(&billing),
            &becomes_controller,
            &["US"],
            scc("US", None),
        ),
    )
    .await;
    let third_party = recipient(
        &server,
        "acme_third",
        "SERVICE_PROVIDER",
        "PROCESSOR",
        "US",
        json!({}),
    )
    .await;
    created(
        &server,
        flow(Sms(&sms), &third_party, &["US"], scc("US", None)),
    )
    .await;
    let conduit = recipient(
        &server,
        "acme_conduit",
        "TELECOM_OPERATOR",
        "PROCESSOR",
        "US",
        json!({}),
    )
    .await;
    created(&server, flow(Sms(&sms), &conduit, &["US"], scc("US", None))).await;
    for (id, role) in [
        (&becomes_controller, "CONTROLLER"),
        (&third_party, "CONTROLLER"),
        (&conduit, "MERE_CONDUIT"),
    ] {
        server
            .data(
                update_recipient,
                json!({ "id": id, "input": { "defaultRole": role } }),
            )
            .await;
    }

    // Rows older than the rules: an undocumented derogation, a period without its start, and
    // an organization that does not say where its controllers are listed.
    let db = subreg::db::connect(&server.database_url, None)
        .await
        .unwrap();
    for sql in [
        "UPDATE transfer SET safeguards = NULL WHERE mechanism = 'DEROGATION' AND country = 'MY'",
        "UPDATE processing_activity SET retention_from = NULL WHERE key = 'sms_delivery'",
        "UPDATE organization SET controllers_register = NULL",
    ] {
        db.execute_unprepared(sql).await.unwrap();
    }

    let findings = findings(&server).await;
    for (code, entity, severity, article, words) in [
        (
            "TRANSFER_MECHANISM_NOT_IN_REGIME",
            "acme_moving",
            "HIGH",
            "UK GDPR",
            "UK GDPR",
        ),
        (
            "TRANSFER_WITHOUT_MECHANISM",
            "acme_moving",
            "HIGH",
            "UK GDPR",
            "Ireland",
        ),
        (
            "ADEQUACY_OUT_OF_SCOPE",
            "certified_moving",
            "HIGH",
            "FADP",
            "Swiss-U.S.",
        ),
        (
            "SCC_MODULE_CONTRADICTS_ROLES",
            "acme_role",
            "HIGH",
            "2021/914",
            "module 1",
        ),
        (
            "NO_SCC_MODULE_FITS",
            "acme_third",
            "HIGH",
            "2021/914",
            "no position",
        ),
        (
            "TRANSFER_TO_MERE_CONDUIT",
            "acme_conduit",
            "INFO",
            "05/2021",
            "conveys",
        ),
        (
            "DEROGATION_NOT_DOCUMENTED",
            "authority_sender_registration_my",
            "HIGH",
            "49(6)",
            "occasional",
        ),
        (
            "RETENTION_WITHOUT_START",
            "sms_delivery",
            "MEDIUM",
            "30(1)(f)",
            "from when",
        ),
        (
            "CONTROLLERS_NOT_IDENTIFIED",
            "MessageBird",
            "MEDIUM",
            "30(2)(a)",
            "contact details",
        ),
    ] {
        let f = finding(&findings, code, entity);
        assert_eq!(f["severity"], severity, "{f}");
        assert!(f["article"].as_str().unwrap().contains(article), "{f}");
        let message = f["message"].as_str().unwrap();
        assert!(message.contains(words), "{f}");
        assert!(message.ends_with('.'), "a sentence: {f}");
    }

    // Such rows stay editable, so that they can be fixed: an unchanged transfer is kept.
    let flows = server
        .data(
            r#"{ processingActivity(key: "sender_registration") { dataFlows { id recipient { key } } } }"#,
            json!({}),
        )
        .await;
    let my = flows["processingActivity"]["dataFlows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["recipient"]["key"] == "authority_sender_registration_my")
        .unwrap()["id"]
        .clone();
    server
        .data(
            r#"mutation($id: ID!) { updateDataFlow(id: $id, input: { purpose: "Sender ID approval in Malaysia" }) { id } }"#,
            json!({ "id": my }),
        )
        .await;
    let sms_key = server.activity_id("sms_delivery").await;
    server
        .data(
            r#"mutation($id: ID!) { updateProcessingActivity(id: $id, input: { description: "SMS" }) { key } }"#,
            json!({ "id": sms_key }),
        )
        .await;
    let (code, response) = server
        .error(
            r#"mutation($id: ID!) { updateProcessingActivity(id: $id, input: { retentionPeriod: "P3M" }) { key } }"#,
            json!({ "id": sms_key }),
        )
        .await;
    assert_eq!(code, "BAD_USER_INPUT");
    assert_eq!(
        response["errors"][0]["extensions"]["field"],
        "retentionFrom"
    );
}

/// A derogation recorded before an adequacy decision: the decision makes it the wrong basis,
/// which the findings say once the decision is in force.
#[tokio::test]
async fn a_derogation_that_a_new_decision_overtakes_is_a_finding() {
    let server = TestServer::empty_at("2025-10-01T09:00:00Z").await;
    let clock = server.clock.clone().unwrap();
    server
        .data(
            r#"mutation {
                createDataCategory(input: { key: "phone", name: "Phone number" }) { key }
                createDataSubjectCategory(input: { key: "end_users", name: "End users" }) { key }
            }"#,
            json!({}),
        )
        .await;
    let activity = server
        .data(
            r#"mutation { createProcessingActivity(input: { key: "sms", name: "SMS",
                organizationRole: CONTROLLER, purposes: ["Sending SMS"], legalBasis: CONTRACT,
                retentionPeriod: "P6M", retentionFrom: COLLECTION, dataCategories: ["phone"], dataSubjects: ["end_users"] }) { id } }"#,
            json!({}),
        )
        .await["createProcessingActivity"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let carrier = recipient(
        &server,
        "carrier_br",
        "TELECOM_OPERATOR",
        "CONTROLLER",
        "BR",
        json!({}),
    )
    .await;
    let variables = json!({ "input": {
        "activityId": activity, "recipientId": carrier,
        "dataCategories": ["phone"], "dataSubjects": ["end_users"], "countries": ["BR"],
        "transfers": [{ "country": "BR", "safeguard": { "mechanism": "DEROGATION",
            "derogation": "CONTRACT_WITH_DATA_SUBJECT", "safeguards": "Per customer request" } }],
    } });
    created(&server, variables).await;
    assert!(
        !findings(&server)
            .await
            .iter()
            .any(|f| f["code"] == "DEROGATION_WHERE_ADEQUATE")
    );
    clock.advance(chrono::Duration::days(150));
    let findings = findings(&server).await;
    let overtaken = finding(&findings, "DEROGATION_WHERE_ADEQUATE", "carrier_br");
    assert_eq!(overtaken["severity"], "MEDIUM");
    assert!(
        overtaken["message"].as_str().unwrap().contains("2026/179"),
        "{overtaken}"
    );
}
