//! The DPO produces the record of processing activities (GDPR Art. 30) for a supervisory
//! authority, for today or as it stood on a past date, with the gaps it reveals.

use crate::common;

use crate::common::{Setup, TestServer};
use calamine::{Data, Reader, Xlsx};
use chrono::{Duration as Days, SubsecRound, Utc};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::io::Cursor;

const RECORD: &str = r#"query($p: Perspective!, $at: DateTime) {
  recordOfProcessingActivities(perspective: $p, asOf: $at) {
    perspective asOf controllers
    organization { name address country dpoName dpoEmail controllersRegister }
    activities {
      key name purposes legalBasis dataSubjects
      dataCategories { key name specialCategory }
      recipientCategories
      recipients { legalName kind role country subprocessor }
      transfers { recipient country mechanism sccModule derogation safeguards tiaDate }
      retentionPeriod retentionFrom retention retentionReason securityMeasures
    }
    findings { severity code entity message }
  }
}"#;

const ACTIVITIES: &str = r#"{ processingActivities {
  key organizationRole purposes legalBasis retention { period from }
  dataSubjects { key } dataCategories { key } securityMeasures
  dataFlows { recipient { legalName } transfers { country { code } } }
} }"#;

fn non_empty(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::String(s) => !s.trim().is_empty(),
        Value::Array(a) => !a.is_empty(),
        _ => true,
    }
}

#[tokio::test]
async fn the_record_holds_every_art30_field_the_registry_holds() {
    let server = TestServer::start().await;
    let registry = server.data(ACTIVITIES, json!({})).await;
    for (perspective, role) in [("CONTROLLER", "CONTROLLER"), ("PROCESSOR", "PROCESSOR")] {
        let data = server.data(RECORD, json!({ "p": perspective })).await;
        let record = &data["recordOfProcessingActivities"];
        // Art. 30(1)(a) / 30(2)(a): the organization and its DPO.
        for field in ["name", "address", "country", "dpoName", "dpoEmail"] {
            assert!(
                non_empty(&record["organization"][field]),
                "{perspective}: organization.{field}"
            );
        }
        if perspective == "PROCESSOR" {
            assert!(
                non_empty(&record["controllers"]),
                "Art. 30(2)(a): the controllers"
            );
            // Named by category, so the record says where each one's name and contact details
            // are kept.
            assert!(
                non_empty(&record["organization"]["controllersRegister"]),
                "Art. 30(2)(a): where the controllers' details are kept"
            );
        }
        let expected: Vec<&Value> = registry["processingActivities"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["organizationRole"] == role)
            .collect();
        let activities = record["activities"].as_array().unwrap();
        assert_eq!(
            activities.len(),
            expected.len(),
            "{perspective}: every activity"
        );
        for source in expected {
            let entry = activities
                .iter()
                .find(|a| a["key"] == source["key"])
                .unwrap_or_else(|| panic!("{} is in the record", source["key"]));
            let key = &source["key"];
            let held = held_fields(source);
            for (field, holds) in held {
                // Art. 30(2) has no legal basis: the processor's record leaves it out, the
                // basis being each controller's.
                if field == "legalBasis" && perspective == "PROCESSOR" {
                    assert!(entry[field].is_null(), "{perspective} {key}: {field}");
                    continue;
                }
                if holds {
                    assert!(non_empty(&entry[field]), "{perspective} {key}: {field}");
                }
            }
        }
    }
}

/// The Art. 30 fields of an activity in the record, each with whether the registry holds it for
/// `source` (an activity as `ACTIVITIES` reads it).
fn held_fields(source: &Value) -> [(&'static str, bool); 9] {
    [
        ("purposes", non_empty(&source["purposes"])),
        ("legalBasis", non_empty(&source["legalBasis"])),
        ("dataSubjects", non_empty(&source["dataSubjects"])),
        ("dataCategories", non_empty(&source["dataCategories"])),
        ("recipientCategories", non_empty(&source["dataFlows"])),
        ("recipients", non_empty(&source["dataFlows"])),
        (
            "transfers",
            source["dataFlows"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| non_empty(&f["transfers"])),
        ),
        // A period with its start, or the duration of the contract.
        (
            "retention",
            non_empty(&source["retention"]["period"]) || non_empty(&source["retention"]["from"]),
        ),
        ("securityMeasures", non_empty(&source["securityMeasures"])),
    ]
}

/// Where each field of the record is in the plain Art. 30 exports: (record field, heading).
/// The processor record (Art. 30(2)) has no lawful basis or categories of recipients.
fn export_headings(
    perspective: &str,
) -> (
    &'static [&'static str],
    &'static [(&'static str, &'static str)],
) {
    match perspective {
        "CONTROLLER" => (
            &[
                "Name and contact details of the controller (Art. 30(1)(a))",
                "Data protection officer (Art. 30(1)(a))",
            ],
            &[
                ("purposes", "Purposes of the processing (Art. 30(1)(b))"),
                ("legalBasis", "Lawful basis (Art. 6(1))"),
                (
                    "dataSubjects",
                    "Categories of data subjects (Art. 30(1)(c))",
                ),
                (
                    "dataCategories",
                    "Categories of personal data (Art. 30(1)(c))",
                ),
                (
                    "recipientCategories",
                    "Categories of recipients (Art. 30(1)(d))",
                ),
                (
                    "recipients",
                    "Recipients, including in third countries (Art. 30(1)(d))",
                ),
                (
                    "transfers",
                    "Transfers to third countries or international organisations, with safeguards (Art. 30(1)(e))",
                ),
                ("retention", "Time limits for erasure (Art. 30(1)(f))"),
                (
                    "securityMeasures",
                    "Technical and organisational security measures (Art. 30(1)(g))",
                ),
            ],
        ),
        _ => (
            &[
                "Name and contact details of the processor (Art. 30(2)(a))",
                "Controllers on whose behalf the processor acts (Art. 30(2)(a))",
                "Data protection officer (Art. 30(2)(a))",
            ],
            &[
                (
                    "purposes",
                    "Categories of processing carried out on behalf of each controller (Art. 30(2)(b))",
                ),
                ("dataSubjects", "Categories of data subjects"),
                ("dataCategories", "Categories of personal data"),
                ("recipients", "Recipients"),
                (
                    "transfers",
                    "Transfers to third countries or international organisations, with safeguards (Art. 30(2)(c))",
                ),
                ("retention", "Retention period"),
                (
                    "securityMeasures",
                    "Technical and organisational security measures (Art. 30(2)(d))",
                ),
            ],
        ),
    }
}

/// A record read back from an export: its organisation block and each activity's cells, by
/// heading, the activity known by its reference (key).
#[derive(Default)]
struct Exported {
    organization: HashMap<String, String>,
    activities: HashMap<String, HashMap<String, String>>,
}

fn read_csv_export(bytes: &[u8], organization: &[&str]) -> Exported {
    let text = std::str::from_utf8(bytes)
        .unwrap()
        .trim_start_matches('\u{feff}');
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    let mut out = Exported::default();
    for row in reader.records() {
        let cells: HashMap<String, String> = headers
            .iter()
            .cloned()
            .zip(row.unwrap().iter().map(str::to_owned))
            .collect();
        for heading in organization {
            out.organization
                .insert(heading.to_string(), cells[*heading].clone());
        }
        out.activities.insert(cells["Reference"].clone(), cells);
    }
    out
}

fn read_xlsx_export(bytes: Vec<u8>, sheet_prefix: &str) -> Exported {
    let mut workbook: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).unwrap();
    let sheet = workbook
        .sheet_names()
        .into_iter()
        .find(|n| n.starts_with(sheet_prefix))
        .unwrap_or_else(|| panic!("a sheet {sheet_prefix}"));
    let range = workbook.worksheet_range(&sheet).unwrap();
    let rows: Vec<Vec<String>> = range
        .rows()
        .map(|r| r.iter().map(cell_text).collect())
        .collect();
    let header = rows
        .iter()
        .position(|r| r.first().map(String::as_str) == Some("Reference"))
        .expect("the table's header row");
    let mut out = Exported::default();
    // The header block above the table: label in A, value in B.
    for row in &rows[..header] {
        if let [label, value, ..] = row.as_slice() {
            out.organization.insert(label.clone(), value.clone());
        }
    }
    for row in rows[header + 1..].iter().take_while(|r| !r[0].is_empty()) {
        let cells: HashMap<String, String> = rows[header]
            .iter()
            .cloned()
            .zip(row.iter().cloned())
            .collect();
        out.activities.insert(row[0].clone(), cells);
    }
    out
}

fn read_markdown_export(bytes: &[u8]) -> Exported {
    let doc = std::str::from_utf8(bytes).unwrap();
    // `| label | value |` rows; lists are joined with <br> inside the cell.
    let table = |section: &str| -> HashMap<String, String> {
        section
            .lines()
            .filter_map(|l| l.strip_prefix("| ")?.strip_suffix(" |"))
            .filter_map(|l| l.split_once(" | "))
            .map(|(label, value)| (label.to_owned(), value.trim().to_owned()))
            .collect()
    };
    let (head, activities) = doc
        .split_once("\n## Processing activities")
        .expect("an activities section");
    let mut out = Exported {
        organization: table(head),
        ..Exported::default()
    };
    let activities = activities.split("\n## ").next().unwrap();
    for section in activities.split("\n### ").skip(1) {
        let cells = table(section);
        let key = cells["Reference"].trim_matches('`').to_owned();
        out.activities.insert(key, cells);
    }
    out
}

fn read_json_export(bytes: &[u8], headings: &[(&str, &str)], organization: &[&str]) -> Exported {
    let json: Value = serde_json::from_slice(bytes).unwrap();
    let record = &json["records"][0];
    let text = |v: &Value| {
        if non_empty(v) {
            v.to_string()
        } else {
            String::new()
        }
    };
    let org = &record["organization"];
    let mut out = Exported::default();
    // The organisation block's headings, in order: the organisation, (the controllers,) the DPO.
    for heading in organization {
        let value = if heading.starts_with("Controllers") {
            text(&record["controllers"])
        } else if heading.starts_with("Data protection officer") {
            text(&org["dpoEmail"])
        } else {
            text(&org["name"])
        };
        out.organization.insert(heading.to_string(), value);
    }
    for activity in record["activities"].as_array().unwrap() {
        let cells = headings
            .iter()
            .map(|(field, heading)| {
                // The JSON holds the retention as its period and what it runs from.
                let value = match *field {
                    "retention" => format!(
                        "{}{}",
                        text(&activity["retentionPeriod"]),
                        text(&activity["retentionFrom"])
                    ),
                    field => text(&activity[field]),
                };
                (heading.to_string(), value)
            })
            .collect();
        out.activities
            .insert(activity["key"].as_str().unwrap().to_owned(), cells);
    }
    out
}

#[tokio::test]
async fn the_example_record_is_complete_in_every_format() {
    let server = TestServer::start().await;
    let registry = server.data(ACTIVITIES, json!({})).await;
    for (perspective, sheet) in [
        ("CONTROLLER", "Controller record"),
        ("PROCESSOR", "Processor record"),
    ] {
        let (organization, headings) = export_headings(perspective);
        let sources: Vec<&Value> = registry["processingActivities"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["organizationRole"] == perspective)
            .collect();
        assert!(
            !sources.is_empty(),
            "{perspective}: the example has activities"
        );
        for format in ["csv", "xlsx", "markdown", "json"] {
            let query = format!("perspective={}&format={format}", perspective.to_lowercase());
            let (status, _, bytes) = download(&server, &query).await;
            assert_eq!(status, 200, "{query}");
            let exported = match format {
                "csv" => read_csv_export(&bytes, organization),
                "xlsx" => read_xlsx_export(bytes, sheet),
                "markdown" => read_markdown_export(&bytes),
                _ => read_json_export(&bytes, headings, organization),
            };
            for heading in organization {
                let value = exported.organization.get(*heading);
                assert!(
                    value.is_some_and(|v| !v.trim().is_empty()),
                    "{perspective} {format}: {heading} = {value:?}"
                );
            }
            assert_eq!(
                exported.activities.len(),
                sources.len(),
                "{perspective} {format}: one entry per activity"
            );
            for source in &sources {
                let key = source["key"].as_str().unwrap();
                let cells = exported
                    .activities
                    .get(key)
                    .unwrap_or_else(|| panic!("{perspective} {format}: {key} is exported"));
                for (field, holds) in held_fields(source) {
                    let Some((_, heading)) = headings.iter().find(|(f, _)| *f == field) else {
                        continue;
                    };
                    let value = cells.get(*heading);
                    assert!(value.is_some(), "{perspective} {format}: no {heading}");
                    if holds {
                        assert!(
                            value.is_some_and(|v| !v.trim().is_empty()),
                            "{perspective} {format} {key}: {heading} is empty"
                        );
                    }
                }
            }
        }
    }
}

#[tokio::test]
async fn the_record_as_it_stood_on_a_past_date() {
    let start = Utc::now().trunc_subsecs(0);
    let server = TestServer::setup(Setup {
        manual_clock: Some(start),
        ..Setup::default()
    })
    .await;
    let clock = server.clock.clone().unwrap();
    clock.advance(Days::days(10));
    let before = (start + Days::days(5)).to_rfc3339();

    // The DPO's edits: Stripe renamed, a retention period shortened, a flow removed.
    let stripe = server.recipient_id("stripe").await;
    server
        .rename(&stripe, "Stripe Technology Europe, Limited")
        .await;
    let sms = server.activity_id("sms_delivery").await;
    server
        .data(
            r#"mutation($id: ID!) { updateProcessingActivity(id: $id, input: { retentionPeriod: "P3M" }) { key } }"#,
            json!({ "id": sms }),
        )
        .await;
    let flows = server
        .data(
            r#"query($id: ID!) { dataFlows(filter: { activities: [$id], recipientKinds: [TELECOM_OPERATOR], countries: ["BR"] }) { nodes { id } } }"#,
            json!({ "id": sms }),
        )
        .await;
    // The Brazilian carriers: a conduit for content and a controller of their own traffic data.
    let removed = flows["dataFlows"]["nodes"].as_array().unwrap();
    assert_eq!(removed.len(), 2);
    for flow in removed {
        server
            .data(
                "mutation($id: ID!) { deleteDataFlow(id: $id) }",
                json!({ "id": flow["id"] }),
            )
            .await;
    }

    let record = |data: &Value| data["recordOfProcessingActivities"].clone();
    let activity = |record: &Value, key: &str| {
        record["activities"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["key"] == key)
            .cloned()
            .unwrap()
    };
    let names = |activity: &Value| -> Vec<String> {
        activity["recipients"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["legalName"].as_str().unwrap().to_owned())
            .collect()
    };
    let brazil = |activity: &Value| {
        activity["transfers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["country"] == "BR")
    };

    let now = record(&server.data(RECORD, json!({ "p": "PROCESSOR" })).await);
    let then = record(
        &server
            .data(RECORD, json!({ "p": "PROCESSOR", "at": before }))
            .await,
    );
    let (sms_now, sms_then) = (
        activity(&now, "sms_delivery"),
        activity(&then, "sms_delivery"),
    );
    assert_eq!(sms_now["retentionPeriod"], "P3M");
    assert_eq!(sms_then["retentionPeriod"], "P6M");
    assert!(
        brazil(&sms_then) && !brazil(&sms_now),
        "the removed flows are only in the old record"
    );

    let controller_now = record(&server.data(RECORD, json!({ "p": "CONTROLLER" })).await);
    let controller_then = record(
        &server
            .data(RECORD, json!({ "p": "CONTROLLER", "at": before }))
            .await,
    );
    let billing_now = names(&activity(&controller_now, "billing_payments"));
    let billing_then = names(&activity(&controller_then, "billing_payments"));
    assert!(
        billing_now
            .iter()
            .any(|n| n == "Stripe Technology Europe, Limited")
    );
    assert!(
        billing_then
            .iter()
            .any(|n| n.starts_with("Stripe Payments Europe"))
    );

    // A date in the future is refused.
    let (code, _) = server
        .error(
            RECORD,
            json!({ "p": "CONTROLLER", "at": (clock_now(&server) + Days::days(1)).to_rfc3339() }),
        )
        .await;
    assert_eq!(code, "BAD_USER_INPUT");
}

fn clock_now(server: &TestServer) -> chrono::DateTime<Utc> {
    server.registry.now()
}

async fn download(server: &TestServer, query: &str) -> (reqwest::StatusCode, String, Vec<u8>) {
    let response = server
        .client
        .get(format!("{}/ropa?{query}", server.url))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (
        status,
        content_type,
        response.bytes().await.unwrap().to_vec(),
    )
}

fn cell_text(data: &Data) -> String {
    match data {
        Data::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[tokio::test]
async fn the_record_downloads_in_four_formats() {
    let server = TestServer::start().await;
    for (format, mime) in [
        ("csv", "text/csv"),
        ("json", "application/json"),
        ("markdown", "text/markdown"),
        (
            "xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
    ] {
        let (status, content_type, body) =
            download(&server, &format!("perspective=both&format={format}")).await;
        assert_eq!(status, 200, "{format}");
        assert!(content_type.starts_with(mime), "{format}: {content_type}");
        assert!(body.len() > 1000, "{format}");
    }
    let (_, _, json) = download(&server, "perspective=controller&format=json").await;
    let json: Value = serde_json::from_slice(&json).unwrap();
    assert!(json.to_string().contains("Stripe"));

    // XLSX, read back with a real reader: a sheet per perspective, a header row, dates as dates.
    let (_, _, xlsx) = download(&server, "perspective=both&format=xlsx&asOf=2026-01-01").await;
    let mut workbook: Xlsx<_> = Xlsx::new(Cursor::new(xlsx)).expect("a workbook");
    let sheets = workbook.sheet_names().to_vec();
    assert!(
        sheets.iter().any(|s| s.starts_with("Controller record")),
        "{sheets:?}"
    );
    assert!(
        sheets.iter().any(|s| s.starts_with("Processor record")),
        "{sheets:?}"
    );
    let sheet = workbook.worksheet_range(&sheets[0]).unwrap();
    let cells: Vec<String> = sheet.rows().flatten().map(cell_text).collect();
    assert!(
        cells
            .iter()
            .any(|c| c.contains("Purposes of the processing (Art. 30(1)(b))"))
    );
    assert!(
        sheet
            .rows()
            .flatten()
            .any(|c| matches!(c, Data::DateTime(_))),
        "the as-of date is a date cell"
    );

    // Bad parameters get a clear 400.
    let (status, _, body) = download(&server, "format=pdf").await;
    assert_eq!(status, 400);
    assert!(String::from_utf8_lossy(&body).contains("unknown format"));
    let (status, _, _) = download(&server, "asOf=yesterday").await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn regulators_layouts_and_singapore_terms() {
    let server = TestServer::start().await;
    let (_, _, ico) = download(&server, "perspective=controller&format=csv&layout=ico").await;
    let ico = String::from_utf8_lossy(&ico);
    assert!(ico.contains("Business function"));
    assert!(ico.contains("Categories of individuals"));
    assert!(ico.contains("Article 9 condition for processing special category data"));
    let (_, _, cnil) = download(&server, "perspective=controller&format=csv&layout=cnil").await;
    let cnil = String::from_utf8_lossy(&cnil);
    assert!(cnil.contains("Finalité(s) du traitement effectué"));
    assert!(cnil.contains("Catégories de données personnelles concernées"));
    let (_, _, sg) = download(
        &server,
        "perspective=processor&format=markdown&terminology=singapore-pdpa",
    )
    .await;
    let sg = String::from_utf8_lossy(&sg);
    assert!(
        sg.contains("individuals") || sg.contains("Individuals"),
        "{}",
        &sg[..400]
    );
    assert!(sg.contains("Data intermediary") || sg.contains("data intermediary"));
    assert!(!sg.contains("Processor record"));
}

#[tokio::test]
async fn exported_cells_are_safe_to_open_in_a_spreadsheet() {
    let server = TestServer::start().await;
    let stripe = server.recipient_id("stripe").await;
    let evil = r#"=HYPERLINK("http://evil.example","click")"#;
    server.rename(&stripe, evil).await;

    let (_, _, csv) = download(&server, "perspective=controller&format=csv").await;
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(csv.as_slice());
    let mut found = false;
    for record in reader.records() {
        for cell in record.unwrap().iter() {
            let cell = cell.trim_start_matches('\u{feff}');
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "unsafe cell: {cell}"
            );
            found |= cell.contains("HYPERLINK");
        }
    }
    assert!(found, "the recipient is in the export");

    let (_, _, xlsx) = download(&server, "perspective=controller&format=xlsx").await;
    let mut workbook: Xlsx<_> = Xlsx::new(Cursor::new(xlsx)).unwrap();
    for name in workbook.sheet_names().to_vec() {
        let formulas = workbook.worksheet_formula(&name).unwrap();
        assert!(
            formulas.rows().flatten().all(|f| f.is_empty()),
            "no formula in {name}"
        );
        let range = workbook.worksheet_range(&name).unwrap();
        for cell in range.rows().flatten() {
            if let Data::String(text) = cell {
                assert!(
                    !text.starts_with(['=', '+', '-', '@', '\t', '\r']),
                    "unsafe cell: {text}"
                );
            }
        }
    }
}

#[tokio::test]
async fn findings_tell_the_dpo_what_to_fix() {
    let server = TestServer::start().await;
    // A transfer to India under SCCs with no TIA, to a processor with no DPA.
    let activity = server.activity_id("sms_delivery").await;
    let acme = server
        .data(
            r#"mutation { createRecipient(input: { key: "acme_in", legalName: "Acme India Pvt Ltd",
                kind: SERVICE_PROVIDER, defaultRole: PROCESSOR, country: "IN", status: PROPOSED }) { id } }"#,
            json!({}),
        )
        .await;
    let acme = acme["createRecipient"]["id"].as_str().unwrap().to_owned();
    server
        .data(
            r#"mutation($a: ID!, $r: ID!) { createDataFlow(input: { activityId: $a, recipientId: $r,
                dataCategories: ["content.message"], dataSubjects: ["end_users"], countries: ["IN"],
                transfers: [{ country: "IN", safeguard: { mechanism: STANDARD_CONTRACTUAL_CLAUSES, sccModule: 3 } }] }) { id } }"#,
            json!({ "a": activity, "r": acme }),
        )
        .await;
    let data = server
        .data(
            "{ complianceFindings { severity code entityType entity message } }",
            json!({}),
        )
        .await;
    let findings = data["complianceFindings"].as_array().unwrap();
    let has = |code: &str, entity: &str| {
        findings
            .iter()
            .any(|f| f["code"] == code && f["entity"].as_str().unwrap().contains(entity))
    };
    assert!(has("TIA_MISSING", "acme_in"), "{findings:#?}");
    assert!(has("PROCESSOR_WITHOUT_DPA", "acme_in"), "{findings:#?}");
    let tia = findings
        .iter()
        .find(|f| f["code"] == "TIA_MISSING" && f["entity"].as_str().unwrap().contains("acme_in"))
        .unwrap();
    assert!(tia["message"].as_str().unwrap().contains("India"), "{tia}");
    // Severity order: most severe first.
    let order = |s: &Value| {
        ["HIGH", "WARNING", "MEDIUM", "LOW", "INFO"]
            .iter()
            .position(|x| s == x)
            .unwrap()
    };
    assert!(
        findings
            .windows(2)
            .all(|w| order(&w[0]["severity"]) <= order(&w[1]["severity"]))
    );
}

/// The registry refuses an adequacy transfer to a country without a decision, so the finding
/// comes from a decision lapsing under a transfer that relied on it: Privacy Shield, until the
/// Court of Justice invalidated it on 16 July 2020 (Schrems II).
#[tokio::test]
async fn a_lapsed_adequacy_decision_is_a_finding() {
    let server = TestServer::empty_at("2020-03-02T09:00:00Z").await;
    let clock = server.clock.clone().unwrap();
    server
        .data(
            r#"mutation {
                createDataCategory(input: { key: "email", name: "Email address" }) { key }
                createDataSubjectCategory(input: { key: "customers", name: "Customers" }) { key }
            }"#,
            json!({}),
        )
        .await;
    let activity = server
        .data(
            r#"mutation { createProcessingActivity(input: { key: "newsletter", name: "Newsletter",
                organizationRole: CONTROLLER, purposes: ["Sending the newsletter"], legalBasis: CONSENT,
                retentionPeriod: "P2Y", retentionFrom: LAST_ACTIVITY, dataCategories: ["email"], dataSubjects: ["customers"] }) { id } }"#,
            json!({}),
        )
        .await;
    let mailer = server
        .data(
            r#"mutation { createRecipient(input: { key: "mailer", legalName: "Mailer Inc.",
                kind: SERVICE_PROVIDER, defaultRole: PROCESSOR, country: "US", dpfCertified: true,
                dpaReference: "DPA 2019-12", status: ACTIVE, processingLocations: ["US"],
                transferSafeguard: { mechanism: ADEQUACY_DECISION } }) { id } }"#,
            json!({}),
        )
        .await;
    let planned = server
        .data(
            r#"mutation { createRecipient(input: { key: "planned", legalName: "Planned Inc.",
                kind: SERVICE_PROVIDER, defaultRole: PROCESSOR, country: "US", dpfCertified: true,
                status: PROPOSED, public: true, processingLocations: ["US"],
                transferSafeguard: { mechanism: ADEQUACY_DECISION } }) { id } }"#,
            json!({}),
        )
        .await;
    let flow = r#"mutation($a: ID!, $r: ID!) { createDataFlow(input: { activityId: $a, recipientId: $r,
        dataCategories: ["email"], dataSubjects: ["customers"], countries: ["US"],
        transfers: [{ country: "US", safeguard: { mechanism: ADEQUACY_DECISION } }] }) { id } }"#;
    let ids = json!({
        "a": activity["createProcessingActivity"]["id"],
        "r": mailer["createRecipient"]["id"],
    });
    let created = server.data(flow, ids.clone()).await;
    let flow_id = created["createDataFlow"]["id"].clone();
    let findings = "{ complianceFindings { severity code entity message } }";
    let lapsed = |data: &Value| {
        data["complianceFindings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["code"] == "ADEQUACY_WITHOUT_DECISION")
            .cloned()
            .collect::<Vec<_>>()
    };
    assert!(lapsed(&server.data(findings, json!({})).await).is_empty());

    clock.set("2020-08-03T09:00:00Z".parse().unwrap());
    let after = lapsed(&server.data(findings, json!({})).await);
    assert_eq!(after.len(), 1, "{after:#?}");
    assert_eq!(after[0]["severity"], "HIGH");
    assert!(after[0]["entity"].as_str().unwrap().contains("mailer"));
    assert!(
        after[0]["message"]
            .as_str()
            .unwrap()
            .contains("United States"),
        "{}",
        after[0]["message"]
    );
    // A new transfer on the lapsed decision is refused, and nothing is written.
    let refused = server.graphql(flow, ids.clone()).await;
    assert_eq!(
        refused["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{refused}"
    );
    assert!(
        refused["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("no adequacy decision is in force for United States"),
        "{refused}"
    );
    let flows = server.data("{ dataFlows { totalCount } }", json!({})).await;
    assert_eq!(flows["dataFlows"]["totalCount"], 1, "{flows}");

    // Customers are not told of a new subprocessor on a lapsed decision.
    let announce = server
        .graphql(
            r#"mutation($id: ID!) { announceRecipient(id: $id) { status } }"#,
            json!({ "id": planned["createRecipient"]["id"] }),
        )
        .await;
    assert_eq!(
        announce["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{announce}"
    );

    // The lapse is a finding to act on, not a lock: edits that leave the transfer as it is,
    // and the recipient's retirement, still go through.
    let edited = server
        .data(
            r#"mutation($id: ID!) { updateDataFlow(id: $id, input: { purpose: "Monthly newsletter" }) { purpose } }"#,
            json!({ "id": flow_id }),
        )
        .await;
    assert_eq!(edited["updateDataFlow"]["purpose"], "Monthly newsletter");
    let retired = server
        .data(
            r#"mutation($id: ID!) { updateRecipient(id: $id, input: { status: RETIRED }) { status } }"#,
            json!({ "id": ids["r"] }),
        )
        .await;
    assert_eq!(retired["updateRecipient"]["status"], "RETIRED");
}

#[test]
fn the_cli_exports_a_past_record_to_a_file() {
    // Seeds a database of its own with the real binary, then exports from it.
    let dir = tempfile::tempdir().unwrap();
    let url = match std::env::var("DATABASE_URL") {
        Ok(url) if url.starts_with("postgres") => return cli_on_postgres(dir.path()),
        _ => format!("sqlite://{}?mode=rwc", dir.path().join("cli.db").display()),
    };
    run_cli(&url, dir.path());
}

fn cli_on_postgres(dir: &std::path::Path) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let database = runtime.block_on(common::fresh_database());
    run_cli(&database.url, dir);
}

fn run_cli(url: &str, dir: &std::path::Path) {
    let bin = env!("CARGO_BIN_EXE_subreg");
    let seed = std::process::Command::new(bin)
        .args(["seed", "--database-url", url])
        .output()
        .unwrap();
    assert!(
        seed.status.success(),
        "{}",
        String::from_utf8_lossy(&seed.stderr)
    );
    let out = dir.join("record.xlsx");
    let today = Utc::now().format("%Y-%m-%d").to_string();
    let export = std::process::Command::new(bin)
        .args([
            "ropa",
            "--database-url",
            url,
            "--perspective",
            "controller",
            "--format",
            "xlsx",
        ])
        .args(["--as-of", &today, "-o"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        export.status.success(),
        "{}",
        String::from_utf8_lossy(&export.stderr)
    );
    let workbook: Xlsx<_> = calamine::open_workbook(&out).unwrap();
    assert!(workbook.sheet_names()[0].starts_with("Controller record"));
    let bad = std::process::Command::new(bin)
        .args(["ropa", "--database-url", url, "--format", "pdf"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown format"));
}

/// Today's record is read from the current tables, a past one is rebuilt from the change log:
/// both sources must describe the same registry, before and after edits of every kind.
#[tokio::test]
async fn the_tables_and_the_log_describe_the_same_registry() {
    use subreg::registry::inputs::{
        ActivityInput, FlowInput, FlowPatch, RecipientInput, RecipientPatch, Safeguard,
        TransferInput,
    };
    use subreg::registry::{Actor, Registry};
    use subreg::ropa::model::Perspective;
    use subreg::ropa::state::{Source, State, load_state, load_state_from};

    async fn both(registry: &Registry) -> (State, State) {
        let at = registry.now();
        let tables = load_state_from(registry, Source::Tables, at).await.unwrap();
        let log = load_state_from(registry, Source::Log, at).await.unwrap();
        (tables, log)
    }

    let start = Utc::now().trunc_subsecs(0);
    let server = TestServer::setup(Setup {
        manual_clock: Some(start),
        ..Setup::default()
    })
    .await;
    let clock = server.clock.clone().unwrap();
    let registry = &server.registry;
    let actor = Actor("test".into());

    clock.advance(Days::days(1));
    let (tables, log) = both(registry).await;
    assert!(!tables.flows.is_empty() && !tables.recipients.is_empty());
    assert_eq!(tables, log, "the example registry");
    let before = registry.now();

    // Edits of every kind, a day apart.
    clock.advance(Days::days(1));
    let aws = registry.recipient_by_key("aws").await.unwrap().unwrap();
    registry
        .update_recipient(
            aws.id,
            RecipientPatch {
                legal_name: Some("Amazon Web Services EMEA SARL (renamed)".into()),
                // Entered out of order: the snapshot keeps the order, the table sorts.
                processing_locations: Some(vec![
                    "US".into(),
                    "SG".into(),
                    "IE".into(),
                    "DE".into(),
                ]),
                ..RecipientPatch::default()
            },
            &actor,
            None,
        )
        .await
        .unwrap();
    let recipient = registry
        .create_recipient(
            RecipientInput {
                key: "state_test_processor".into(),
                legal_name: "State Test Processor Inc.".into(),
                kind: entity::RecipientKind::ServiceProvider,
                default_role: entity::RecipientRole::Processor,
                description: None,
                country: "US".into(),
                processing_locations: vec!["US".into(), "IN".into(), "NL".into()],
                transfer: Some(Safeguard {
                    mechanism: entity::TransferMechanism::StandardContractualClauses,
                    scc_module: Some(3),
                    derogation: None,
                    safeguards: None,
                    tia_date: chrono::NaiveDate::from_ymd_opt(2024, 3, 1),
                }),
                dpa_reference: None,
                certifications: vec![],
                dpf_certified: false,
                website: None,
                privacy_notice_url: None,
                status: entity::RecipientStatus::Active,
                public: false,
                assumptions: vec![],
                sources: vec![],
            },
            &actor,
            None,
        )
        .await
        .unwrap();
    let activity = registry
        .create_activity(
            ActivityInput {
                key: "state_test_activity".into(),
                name: "Analytics".into(),
                description: None,
                organization_role: entity::OrganizationRole::Processor,
                controllers: vec!["Business customers".into()],
                purposes: vec!["Delivery statistics".into()],
                legal_basis: None,
                data_subjects: vec!["end_users".into()],
                data_categories: vec!["online.ip_address".into(), "contact.phone_number".into()],
                products: vec!["sms".into()],
                retention_period: None,
                retention_from: None,
                retention_reason: None,
                security_measures: vec![],
                special_category_condition: None,
                assumptions: vec![],
                sources: vec![],
            },
            &actor,
            None,
        )
        .await
        .unwrap();
    let scc = |country: &str| TransferInput {
        country: country.into(),
        safeguard: Safeguard {
            mechanism: entity::TransferMechanism::StandardContractualClauses,
            scc_module: Some(3),
            derogation: None,
            safeguards: None,
            tia_date: chrono::NaiveDate::from_ymd_opt(2024, 3, 1),
        },
    };
    let flow = registry
        .create_flow(
            FlowInput {
                activity: activity.id,
                recipient: recipient.id,
                via: None,
                exporter: None,
                role: None,
                purpose: None,
                data_categories: vec!["contact.phone_number".into()],
                data_subjects: vec!["end_users".into()],
                countries: vec!["US".into(), "NL".into(), "IN".into()],
                transfers: vec![scc("US"), scc("IN")],
                assumptions: vec![],
                sources: vec![],
            },
            &actor,
            None,
        )
        .await
        .unwrap();
    clock.advance(Days::days(1));
    registry
        .update_flow(
            flow.id,
            FlowPatch {
                role: Some(Some(entity::RecipientRole::Controller)),
                countries: Some(vec!["US".into(), "NL".into()]),
                // As a third party acting as controller it receives under module 1, on the
                // position recorded: no module fits a processor's transfer to it.
                transfers: Some(vec![TransferInput {
                    country: "US".into(),
                    safeguard: Safeguard {
                        scc_module: Some(1),
                        safeguards: Some("Module 1 on the customers' behalf".into()),
                        ..scc("US").safeguard
                    },
                }]),
                ..FlowPatch::default()
            },
            &actor,
            None,
        )
        .await
        .unwrap();
    // A public subprocessor planned with a flow, then announced: the announcement republishes
    // the flow on the public feed, which must not change the state the log describes.
    let announced = registry
        .create_recipient(
            RecipientInput {
                key: "state_test_announced".into(),
                legal_name: "State Test Announced B.V.".into(),
                kind: entity::RecipientKind::ServiceProvider,
                default_role: entity::RecipientRole::Processor,
                description: None,
                country: "NL".into(),
                processing_locations: vec!["NL".into()],
                transfer: None,
                dpa_reference: Some("DPA-1".into()),
                certifications: vec![],
                dpf_certified: false,
                website: None,
                privacy_notice_url: None,
                status: entity::RecipientStatus::Proposed,
                public: true,
                assumptions: vec![],
                sources: vec![],
            },
            &actor,
            None,
        )
        .await
        .unwrap();
    let announced_flow = registry
        .create_flow(
            FlowInput {
                activity: activity.id,
                recipient: announced.id,
                via: None,
                exporter: None,
                role: None,
                purpose: None,
                data_categories: vec!["online.ip_address".into()],
                data_subjects: vec!["end_users".into()],
                countries: vec!["NL".into()],
                transfers: vec![],
                assumptions: vec![],
                sources: vec![],
            },
            &actor,
            None,
        )
        .await
        .unwrap();
    registry
        .announce_recipient(announced.id, None, &actor, None)
        .await
        .unwrap();
    let sms = registry
        .activity_by_key("sms_delivery")
        .await
        .unwrap()
        .unwrap();
    registry
        .update_activity(
            sms.id,
            subreg::registry::inputs::ActivityPatch {
                retention_period: Some(Some("P3M".into())),
                ..Default::default()
            },
            &actor,
            None,
        )
        .await
        .unwrap();
    let sms_flows = registry.flows_of_activities(&[sms.id]).await.unwrap();
    let removed = sms_flows[&sms.id][0].id;
    registry.delete_flow(removed, &actor, None).await.unwrap();
    let stripe = registry.recipient_by_key("stripe").await.unwrap().unwrap();
    registry
        .update_recipient(
            stripe.id,
            RecipientPatch {
                status: Some(entity::RecipientStatus::Retired),
                ..RecipientPatch::default()
            },
            &actor,
            None,
        )
        .await
        .unwrap();

    clock.advance(Days::days(1));
    let (tables, log) = both(registry).await;
    assert_eq!(tables, log, "after the edits");
    assert_eq!(
        tables.recipients[&aws.id].processing_locations,
        ["DE", "IE", "SG", "US"]
    );
    assert!(tables.flows.iter().all(|f| f.id != removed));
    let edited = tables.flows.iter().find(|f| f.id == flow.id).unwrap();
    assert_eq!(edited.countries, ["NL", "US"]);
    assert_eq!(edited.role, Some(entity::RecipientRole::Controller));
    assert!(tables.flows.iter().any(|f| f.id == announced_flow.id));

    // Today's record reads the tables; a past one the log, and it is the state of then.
    let today = load_state(registry, None).await.unwrap();
    assert_eq!(today.flows, tables.flows);
    let then = load_state(registry, Some(before)).await.unwrap();
    let log_then = load_state_from(registry, Source::Log, before)
        .await
        .unwrap();
    assert_eq!(then, log_then);
    assert!(then.flows.iter().any(|f| f.id == removed));
    assert!(
        !then
            .recipients
            .values()
            .any(|r| r.key == "state_test_processor")
    );

    // And the records built from either source are the same.
    let options = subreg::ropa::FindingOptions::default();
    for perspective in [Perspective::Controller, Perspective::Processor] {
        let at = registry.now();
        let from_tables = subreg::ropa::build::record(&tables, perspective, at, &options);
        let from_log = subreg::ropa::build::record(&log, perspective, at, &options);
        assert_eq!(
            serde_json::to_value(&from_tables).unwrap(),
            serde_json::to_value(&from_log).unwrap()
        );
    }
}
