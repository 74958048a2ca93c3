//! Tests of the exporters on a hand-built record: a controller record (billing with an adequacy
//! transfer and a joint controller, support with derogations and a special category) and a
//! processor record (SMS delivery with an SCC module 3 sub-processor transfer), with findings.

use std::io::Cursor;

use calamine::{Data, Reader, Xlsx, open_workbook_from_rs};
use chrono::{NaiveDate, TimeZone, Utc};

use super::layout::{self, Terms};
use super::text;
use super::*;
use crate::ropa::model::{
    ActivityEntry, CategoryEntry, Finding, FindingSubject, OrganizationSection, Perspective,
    RecipientEntry, Severity, TransferEntry,
};

// ---------------------------------------------------------------------------------------------
// Fixture
// ---------------------------------------------------------------------------------------------

fn s(v: &str) -> String {
    v.to_owned()
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| s(x)).collect()
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn category(key: &str, name: &str, special: bool) -> CategoryEntry {
    CategoryEntry {
        key: s(key),
        name: s(name),
        special_category: special,
    }
}

/// The enum value whose API name is `name` (`PAYMENT_SERVICE_PROVIDER`).
fn named<T: serde::de::DeserializeOwned>(name: &str) -> T {
    serde_json::from_value(serde_json::Value::String(s(name))).unwrap()
}

fn recipient(name: &str, kind: &str, role: &str, country: &str, sub: bool) -> RecipientEntry {
    RecipientEntry {
        legal_name: s(name),
        kind: named(kind),
        role: named(role),
        country: s(country),
        subprocessor: sub,
    }
}

fn kinds(v: &[&str]) -> Vec<entity::RecipientKind> {
    v.iter().map(|kind| named(kind)).collect()
}

fn transfer(recipient: &str, country: &str, country_name: &str, mechanism: &str) -> TransferEntry {
    TransferEntry {
        recipient: s(recipient),
        exporter: s("MessageBird B.V."),
        exporter_country: s("NL"),
        regime: crate::reference::Regime::EuGdpr,
        country: s(country),
        country_name: s(country_name),
        mechanism: named(mechanism),
        scc_module: None,
        derogation: None,
        safeguards: None,
        tia_date: None,
    }
}

fn finding(
    severity: Severity,
    code: &str,
    entity_type: FindingSubject,
    entity: &str,
    msg: &str,
) -> Finding {
    Finding {
        severity,
        code: s(code),
        entity_type,
        entity: s(entity),
        article: s("Art. 30 GDPR"),
        message: s(msg),
    }
}

fn organization() -> OrganizationSection {
    OrganizationSection {
        name: s("MessageBird B.V."),
        address: s("Trompenburgstraat 2C, 1079 TX Amsterdam, The Netherlands"),
        country: s("NL"),
        dpo_name: s("Data Protection Officer"),
        dpo_email: s("privacy@messagebird.com"),
        dpo_address: Some(s("attn. Legal Department (Data Protection), Amsterdam")),
        representative: Some(s(
            "MessageBird UK Ltd, London (UK GDPR Art. 27 representative)",
        )),
        controllers_register: None,
    }
}

fn billing() -> ActivityEntry {
    let mut to_stripe_us = transfer("Stripe, Inc.", "US", "United States", "ADEQUACY_DECISION");
    to_stripe_us.tia_date = Some(date(2023, 9, 1));
    ActivityEntry {
        key: s("billing"),
        name: s("Billing and payments"),
        description: Some(s("Invoicing customers and collecting their payments.")),
        created_on: Some(date(2023, 1, 10)),
        updated_on: Some(date(2024, 5, 1)),
        purposes: strings(&["Invoicing customers", "Collecting payments"]),
        legal_basis: Some(named("CONTRACT")),
        data_subjects: strings(&["Customer contacts"]),
        data_categories: vec![
            category("contact.name", "Name", false),
            category("financial.payment_card", "Payment card data", false),
        ],
        special_category_condition: None,
        recipient_categories: kinds(&["PAYMENT_SERVICE_PROVIDER", "HOSTING_PROVIDER"]),
        recipients: vec![
            recipient(
                "Stripe Payments Europe Ltd",
                "PAYMENT_SERVICE_PROVIDER",
                "CONTROLLER",
                "IE",
                false,
            ),
            recipient(
                "Adyen N.V.",
                "PAYMENT_SERVICE_PROVIDER",
                "JOINT_CONTROLLER",
                "NL",
                false,
            ),
            recipient(
                "Amazon Web Services EMEA SARL",
                "HOSTING_PROVIDER",
                "PROCESSOR",
                "LU",
                false,
            ),
        ],
        transfers: vec![to_stripe_us],
        retention_period: Some(s("P10Y")),
        retention_from: Some(entity::RetentionStart::LegalObligationEvent),
        retention_reason: Some(s("Financial records kept ten years (2022 §7)")),
        security_measures: strings(&[
            "Encryption in transit (TLS 1.2 or later)",
            "PCI DSS certified payment providers",
        ]),
        products: vec![],
    }
}

fn support() -> ActivityEntry {
    let mut zendesk = transfer("Zendesk, Inc.", "US", "United States", "DEROGATION");
    zendesk.derogation = Some(named("COMPELLING_LEGITIMATE_INTERESTS"));
    zendesk.safeguards = Some(s(
        "Pseudonymised ticket IDs; access limited to EU support staff; deletion after 30 days",
    ));
    zendesk.tia_date = Some(date(2023, 11, 15));
    let mut partner = transfer("Acme Support Pte. Ltd.", "SG", "Singapore", "DEROGATION");
    partner.derogation = Some(named("CONTRACT_IN_DATA_SUBJECT_INTEREST"));
    ActivityEntry {
        key: s("support"),
        name: s("Customer support"),
        description: None,
        created_on: Some(date(2023, 2, 1)),
        updated_on: Some(date(2023, 2, 1)),
        purposes: strings(&["Answering support requests"]),
        legal_basis: Some(named("LEGITIMATE_INTERESTS")),
        data_subjects: strings(&["Customer contacts", "End users"]),
        data_categories: vec![
            category("contact.email", "E-mail address", false),
            category("health.accessibility", "Accessibility needs", true),
        ],
        special_category_condition: Some(s("EXPLICIT_CONSENT")),
        recipient_categories: kinds(&["SERVICE_PROVIDER"]),
        recipients: vec![
            recipient(
                "Zendesk, Inc.",
                "SERVICE_PROVIDER",
                "PROCESSOR",
                "US",
                false,
            ),
            recipient(
                "Acme Support Pte. Ltd.",
                "SERVICE_PROVIDER",
                "PROCESSOR",
                "SG",
                false,
            ),
        ],
        transfers: vec![zendesk, partner],
        retention_period: Some(s("P6M")),
        retention_from: Some(entity::RetentionStart::LastActivity),
        retention_reason: Some(s("Closed tickets kept six months")),
        security_measures: strings(&["Role-based access control"]),
        products: strings(&["Support portal"]),
    }
}

fn sms_delivery() -> ActivityEntry {
    let mut twilio = transfer(
        "Twilio Inc.",
        "US",
        "United States",
        "STANDARD_CONTRACTUAL_CLAUSES",
    );
    twilio.scc_module = Some(3);
    twilio.tia_date = Some(date(2024, 3, 1));
    ActivityEntry {
        key: s("sms_delivery"),
        name: s("SMS delivery on customers' behalf"),
        description: Some(s("Routing customers' SMS messages to their end users.")),
        created_on: Some(date(2023, 3, 1)),
        updated_on: Some(date(2024, 4, 2)),
        purposes: strings(&["Delivering customers' SMS messages to end users"]),
        legal_basis: None,
        data_subjects: strings(&["End users (message recipients)"]),
        data_categories: vec![
            category("telecom.msisdn", "Phone number (MSISDN)", false),
            category("content.message", "Message content", false),
        ],
        special_category_condition: None,
        recipient_categories: kinds(&["TELECOM_OPERATOR", "SERVICE_PROVIDER"]),
        recipients: vec![
            recipient("KPN B.V.", "TELECOM_OPERATOR", "MERE_CONDUIT", "NL", false),
            recipient("Twilio Inc.", "SERVICE_PROVIDER", "PROCESSOR", "US", true),
        ],
        transfers: vec![twilio],
        retention_period: Some(s("P6M")),
        retention_from: Some(entity::RetentionStart::Collection),
        retention_reason: Some(s("SMS logs kept six months for delivery disputes")),
        security_measures: strings(&["ISO/IEC 27001 certified ISMS", "Encryption at rest"]),
        products: strings(&["SMS"]),
    }
}

fn controller_record() -> Record {
    Record {
        perspective: Perspective::Controller,
        as_of: Utc.with_ymd_and_hms(2024, 6, 1, 0, 0, 0).unwrap(),
        generated_at: Utc.with_ymd_and_hms(2024, 6, 2, 9, 30, 0).unwrap(),
        organization: organization(),
        controllers: vec![],
        activities: vec![billing(), support()],
        findings: vec![
            finding(
                Severity::High,
                "DEROGATION_FOR_REGULAR_TRANSFER",
                FindingSubject::ProcessingActivity,
                "support",
                "Support tickets go to Zendesk under a derogation although the transfers are regular.",
            ),
            finding(
                Severity::Medium,
                "SPECIAL_CATEGORY_WITHOUT_DPIA",
                FindingSubject::DataCategory,
                "health.accessibility",
                "Accessibility needs are health data; no impact assessment is recorded.",
            ),
            finding(
                Severity::Low,
                "RECIPIENT_WITHOUT_DPA",
                FindingSubject::Recipient,
                "Zendesk, Inc.",
                "No data processing agreement is referenced.",
            ),
            finding(
                Severity::Info,
                "LONG_RETENTION",
                FindingSubject::DataFlow,
                "billing → Stripe, Inc.",
                "Ten years is the longest retention in the record.",
            ),
            finding(
                Severity::Info,
                "UNUSED_RECIPIENT",
                FindingSubject::Recipient,
                "Nobody Ltd",
                "A recipient receives no data.",
            ),
        ],
    }
}

fn processor_record() -> Record {
    Record {
        perspective: Perspective::Processor,
        as_of: Utc.with_ymd_and_hms(2024, 6, 1, 0, 0, 0).unwrap(),
        generated_at: Utc.with_ymd_and_hms(2024, 6, 2, 9, 30, 0).unwrap(),
        organization: organization(),
        controllers: strings(&["Business customers using the SMS, Voice and WhatsApp APIs"]),
        activities: vec![sms_delivery()],
        findings: vec![finding(
            Severity::Medium,
            "TIA_OUTDATED",
            FindingSubject::DataFlow,
            "sms_delivery/twilio",
            "The transfer impact assessment is more than a year old.",
        )],
    }
}

fn records() -> Vec<Record> {
    vec![controller_record(), processor_record()]
}

fn opts(layout: Layout, terminology: Terminology) -> ExportOptions {
    ExportOptions {
        layout,
        terminology,
    }
}

// ---------------------------------------------------------------------------------------------
// Readers
// ---------------------------------------------------------------------------------------------

/// The CSV as (headers, rows).
fn read_csv(bytes: &[u8]) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = ::csv::Reader::from_reader(bytes);
    let headers = reader.headers().unwrap().iter().map(s).collect();
    let rows = reader
        .records()
        .map(|r| r.unwrap().iter().map(s).collect())
        .collect();
    (headers, rows)
}

fn csv_cell<'a>(headers: &[String], row: &'a [String], heading: &str) -> &'a str {
    let i = headers
        .iter()
        .position(|h| h == heading)
        .unwrap_or_else(|| panic!("no column {heading:?} in {headers:?}"));
    &row[i]
}

fn csv_row<'a>(headers: &[String], rows: &'a [Vec<String>], key: &str) -> &'a [String] {
    rows.iter()
        .find(|r| csv_cell(headers, r, "Reference") == key)
        .unwrap_or_else(|| panic!("no row {key}"))
}

struct Sheets {
    book: Xlsx<Cursor<Vec<u8>>>,
}

impl Sheets {
    fn open(bytes: Vec<u8>) -> Self {
        Sheets {
            book: open_workbook_from_rs(Cursor::new(bytes)).unwrap(),
        }
    }

    fn names(&self) -> Vec<String> {
        self.book.sheet_names()
    }

    /// The sheet's cells as rows from A1.
    fn grid(&mut self, name: &str) -> Vec<Vec<Data>> {
        let range = self.book.worksheet_range(name).unwrap();
        assert_eq!(range.start(), Some((0, 0)), "{name} starts at A1");
        range.rows().map(<[Data]>::to_vec).collect()
    }

    fn no_formulas(&mut self) {
        for name in self.names() {
            let formulas = self.book.worksheet_formula(&name).unwrap();
            assert!(
                formulas.used_cells().all(|(_, _, f)| f.is_empty()),
                "{name} has formulas"
            );
        }
    }
}

fn text_of(d: &Data) -> String {
    match d {
        Data::String(v) => v.clone(),
        Data::Empty => String::new(),
        other => other.to_string(),
    }
}

/// The row index whose first cell is `first`.
fn row_starting(grid: &[Vec<Data>], first: &str) -> usize {
    grid.iter()
        .position(|r| r.first().map(text_of).as_deref() == Some(first))
        .unwrap_or_else(|| panic!("no row starting with {first:?}"))
}

// ---------------------------------------------------------------------------------------------
// The Art. 30 fields in every format
// ---------------------------------------------------------------------------------------------

/// (heading, expected part of the value) for the controller record's `billing` activity.
const CONTROLLER_FIELDS: &[(&str, &str)] = &[
    ("Joint controllers (Art. 30(1)(a))", "Adyen N.V. (NL)"),
    (
        "Purposes of the processing (Art. 30(1)(b))",
        "Invoicing customers",
    ),
    ("Lawful basis (Art. 6(1))", "Contract (Art. 6(1)(b))"),
    (
        "Categories of data subjects (Art. 30(1)(c))",
        "Customer contacts",
    ),
    (
        "Categories of personal data (Art. 30(1)(c))",
        "Payment card data",
    ),
    (
        "Categories of recipients (Art. 30(1)(d))",
        "Payment service provider",
    ),
    (
        "Recipients, including in third countries (Art. 30(1)(d))",
        "Stripe Payments Europe Ltd (IE) — Independent controller",
    ),
    (
        "Transfers to third countries or international organisations, with safeguards (Art. 30(1)(e))",
        "Stripe, Inc. → United States (US): Adequacy decision (Art. 45); TIA 2023-09-01",
    ),
    (
        "Time limits for erasure (Art. 30(1)(f))",
        "10 years after the event the legal obligation runs from — Financial records kept ten years",
    ),
    (
        "Technical and organisational security measures (Art. 30(1)(g))",
        "PCI DSS certified payment providers",
    ),
];

/// (label, expected part of the value) of the controller record's organisation block.
const CONTROLLER_ORG: &[(&str, &str)] = &[
    (
        "Name and contact details of the controller (Art. 30(1)(a))",
        "MessageBird B.V., Trompenburgstraat 2C",
    ),
    (
        "Data protection officer (Art. 30(1)(a))",
        "privacy@messagebird.com",
    ),
    ("Representative (Art. 30(1)(a))", "MessageBird UK Ltd"),
];

/// The same for the processor record's `sms_delivery` activity.
const PROCESSOR_FIELDS: &[(&str, &str)] = &[
    (
        "Other processors engaged (sub-processors) (Art. 30(2)(a))",
        "Twilio Inc. (US)",
    ),
    (
        "Categories of processing carried out on behalf of each controller (Art. 30(2)(b))",
        "Delivering customers' SMS messages",
    ),
    (
        "Transfers to third countries or international organisations, with safeguards (Art. 30(2)(c))",
        "Twilio Inc. → United States (US): Standard contractual clauses (Art. 46(2)(c)), module 3 (processor to processor); TIA 2024-03-01",
    ),
    (
        "Technical and organisational security measures (Art. 30(2)(d))",
        "ISO/IEC 27001 certified ISMS",
    ),
];

const PROCESSOR_ORG: &[(&str, &str)] = &[
    (
        "Name and contact details of the processor (Art. 30(2)(a))",
        "MessageBird B.V.",
    ),
    (
        "Controllers on whose behalf the processor acts (Art. 30(2)(a))",
        "Business customers using the SMS",
    ),
    (
        "Data protection officer (Art. 30(2)(a))",
        "privacy@messagebird.com",
    ),
];

#[test]
fn csv_has_every_article_30_field() {
    let bytes = export(&records(), Format::Csv, &ExportOptions::default()).unwrap();
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "UTF-8 byte order mark");
    let (headers, rows) = read_csv(&bytes);
    assert_eq!(headers[0], "Perspective");
    assert_eq!(headers.last().map(String::as_str), Some("Findings"));
    assert_eq!(rows.len(), 3, "one row per activity");

    let billing = csv_row(&headers, &rows, "billing");
    assert_eq!(csv_cell(&headers, billing, "Perspective"), "Controller");
    for (heading, expected) in CONTROLLER_FIELDS.iter().chain(CONTROLLER_ORG) {
        let value = csv_cell(&headers, billing, heading);
        assert!(value.contains(expected), "{heading}: {value:?}");
    }
    let sms = csv_row(&headers, &rows, "sms_delivery");
    assert_eq!(csv_cell(&headers, sms, "Perspective"), "Processor");
    for (heading, expected) in PROCESSOR_FIELDS.iter().chain(PROCESSOR_ORG) {
        let value = csv_cell(&headers, sms, heading);
        assert!(value.contains(expected), "{heading}: {value:?}");
    }
    // A processor row leaves the controller-only columns empty.
    assert_eq!(csv_cell(&headers, sms, "Lawful basis (Art. 6(1))"), "");
    // Lists are one value per line.
    assert_eq!(
        csv_cell(
            &headers,
            billing,
            "Purposes of the processing (Art. 30(1)(b))"
        ),
        "Invoicing customers\nCollecting payments"
    );
}

#[test]
fn csv_of_one_record_has_no_perspective_column() {
    let bytes = export(
        &[controller_record()],
        Format::Csv,
        &ExportOptions::default(),
    )
    .unwrap();
    let (headers, rows) = read_csv(&bytes);
    assert_eq!(
        headers[0],
        "Name and contact details of the controller (Art. 30(1)(a))"
    );
    assert!(!headers.iter().any(|h| h.contains("Art. 30(2)")));
    assert_eq!(rows.len(), 2);
}

#[test]
fn csv_findings_column_lists_the_findings_about_each_activity() {
    let bytes = export(&records(), Format::Csv, &ExportOptions::default()).unwrap();
    let (headers, rows) = read_csv(&bytes);
    let findings = |key| csv_cell(&headers, csv_row(&headers, &rows, key), "Findings").to_owned();

    let billing = findings("billing");
    assert_eq!(
        billing,
        "[Info] LONG_RETENTION (Art. 30 GDPR): Ten years is the longest retention in the record."
    );
    let support = findings("support");
    for code in [
        "[High] DEROGATION_FOR_REGULAR_TRANSFER",
        "[Medium] SPECIAL_CATEGORY_WITHOUT_DPIA",
        "[Low] RECIPIENT_WITHOUT_DPA",
    ] {
        assert!(support.contains(code), "{support}");
    }
    assert!(!support.contains("UNUSED_RECIPIENT"));
    assert!(findings("sms_delivery").contains("[Medium] TIA_OUTDATED"));
}

#[test]
fn xlsx_has_every_article_30_field() {
    let bytes = export(&records(), Format::Xlsx, &ExportOptions::default()).unwrap();
    let mut sheets = Sheets::open(bytes);
    assert_eq!(
        sheets.names(),
        [
            "Controller record (Art. 30(1))",
            "Processor record (Art. 30(2))",
            "Transfers",
            "Findings"
        ]
    );

    for (sheet, key, org, fields) in [
        (
            "Controller record (Art. 30(1))",
            "billing",
            CONTROLLER_ORG,
            CONTROLLER_FIELDS,
        ),
        (
            "Processor record (Art. 30(2))",
            "sms_delivery",
            PROCESSOR_ORG,
            PROCESSOR_FIELDS,
        ),
    ] {
        let grid = sheets.grid(sheet);
        // The header block: label in A, value in B.
        for (label, expected) in org {
            let r = row_starting(&grid, label);
            let value = text_of(&grid[r][1]);
            assert!(value.contains(expected), "{sheet} {label}: {value:?}");
        }
        // The table: its header row, then one row per activity.
        let header_row = row_starting(&grid, "Reference");
        let headings: Vec<String> = grid[header_row].iter().map(text_of).collect();
        let data = &grid[row_starting(&grid, key)];
        for (heading, expected) in fields {
            let c = headings
                .iter()
                .position(|h| h == heading)
                .unwrap_or_else(|| panic!("{sheet}: no column {heading:?}"));
            let value = text_of(&data[c]);
            assert!(value.contains(expected), "{sheet} {heading}: {value:?}");
        }
    }
    sheets.no_formulas();
}

#[test]
fn xlsx_dates_are_real_dates() {
    let bytes = export(&records(), Format::Xlsx, &ExportOptions::default()).unwrap();
    let mut sheets = Sheets::open(bytes);

    let grid = sheets.grid("Controller record (Art. 30(1))");
    let as_of = &grid[row_starting(&grid, "As of (UTC)")][1];
    match as_of {
        Data::DateTime(d) => assert_eq!(
            d.as_datetime(),
            Some(date(2024, 6, 1).and_hms_opt(0, 0, 0).unwrap())
        ),
        other => panic!("as-of is not a date: {other:?}"),
    }
    let generated = &grid[row_starting(&grid, "Generated (UTC)")][1];
    assert!(matches!(generated, Data::DateTime(_)), "{generated:?}");

    let grid = sheets.grid("Transfers");
    let headings: Vec<String> = grid[0].iter().map(text_of).collect();
    assert_eq!(
        headings,
        [
            "Perspective",
            "Reference",
            "Processing activity",
            "Exporter (regime)",
            "Recipient",
            "Country",
            "Transfer mechanism (Chapter V)",
            "Documented safeguards",
            "Transfer impact assessment date"
        ]
    );
    let twilio = grid
        .iter()
        .find(|r| text_of(&r[4]) == "Twilio Inc.")
        .expect("Twilio transfer row");
    assert_eq!(text_of(&twilio[3]), "MessageBird B.V. (NL), EU GDPR");
    assert_eq!(
        text_of(&twilio[6]),
        "Standard contractual clauses (Art. 46(2)(c)), module 3 (processor to processor)"
    );
    match &twilio[8] {
        Data::DateTime(d) => assert_eq!(d.as_datetime().map(|t| t.date()), Some(date(2024, 3, 1))),
        other => panic!("TIA date is not a date: {other:?}"),
    }
    let zendesk = grid
        .iter()
        .find(|r| text_of(&r[4]) == "Zendesk, Inc.")
        .expect("Zendesk transfer row");
    assert!(text_of(&zendesk[7]).starts_with("Pseudonymised ticket IDs"));
    // Four transfers in all, after the header.
    assert_eq!(grid.len(), 5);
}

#[test]
fn xlsx_findings_sheet() {
    let bytes = export(&records(), Format::Xlsx, &ExportOptions::default()).unwrap();
    let mut sheets = Sheets::open(bytes);
    let grid = sheets.grid("Findings");
    let headings: Vec<String> = grid[0].iter().map(text_of).collect();
    assert_eq!(
        headings,
        [
            "Perspective",
            "Severity",
            "Code",
            "Entity type",
            "Entity",
            "Provision",
            "Message"
        ]
    );
    assert_eq!(grid.len(), 1 + 6);
    let first: Vec<String> = grid[1].iter().map(text_of).collect();
    assert_eq!(
        first[..5],
        [
            "Controller",
            "High",
            "DEROGATION_FOR_REGULAR_TRANSFER",
            "Processing activity",
            "support"
        ]
    );
}

/// The Markdown row `| heading | value |` of a field.
fn markdown_row<'a>(section: &'a str, heading: &str) -> &'a str {
    let prefix = format!("| {heading} | ");
    section
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no row {heading:?}"))
}

/// The text of a Markdown document from one heading to the next of the same level.
fn markdown_section<'a>(doc: &'a str, heading: &str) -> &'a str {
    let start = doc
        .find(heading)
        .unwrap_or_else(|| panic!("no heading {heading:?}"));
    let rest = &doc[start + heading.len()..];
    let level = heading.chars().take_while(|c| *c == '#').count();
    let next = format!("\n{} ", "#".repeat(level));
    &rest[..rest.find(&next).unwrap_or(rest.len())]
}

#[test]
fn markdown_has_every_article_30_field() {
    let bytes = export(&records(), Format::Markdown, &ExportOptions::default()).unwrap();
    let doc = String::from_utf8(bytes).unwrap();
    assert!(doc.starts_with("# Controller record (Art. 30(1))\n"));
    assert!(doc.contains("\n# Processor record (Art. 30(2))\n"));
    assert!(doc.contains("Record of processing activities of MessageBird B.V."));

    let controller = markdown_section(&doc, "# Controller record");
    for (label, expected) in CONTROLLER_ORG {
        assert!(
            markdown_row(controller, label).contains(expected),
            "{label}"
        );
    }
    assert!(markdown_row(controller, "As of (UTC)").contains("2024-06-01 00:00:00"));
    let billing = markdown_section(controller, "### Billing and payments");
    for (heading, expected) in CONTROLLER_FIELDS {
        let row = markdown_row(billing, heading);
        assert!(row.contains(expected), "{heading}: {row}");
    }
    // Lists become line breaks inside the cell.
    assert!(
        markdown_row(billing, "Purposes of the processing (Art. 30(1)(b))")
            .contains("Invoicing customers<br>Collecting payments")
    );
    assert!(markdown_row(billing, "Reference").contains("`billing`"));

    let processor = markdown_section(&doc, "# Processor record");
    for (label, expected) in PROCESSOR_ORG {
        assert!(markdown_row(processor, label).contains(expected), "{label}");
    }
    let sms = markdown_section(processor, "### SMS delivery on customers' behalf");
    for (heading, expected) in PROCESSOR_FIELDS {
        let row = markdown_row(sms, heading);
        assert!(row.contains(expected), "{heading}: {row}");
    }

    let findings = markdown_section(controller, "## Findings");
    assert!(findings.contains("| Severity | Code | Entity type | Entity | Provision | Message |"));
    assert!(
        findings.contains("| High | `DEROGATION_FOR_REGULAR_TRANSFER` | Processing activity |")
    );
    assert!(findings.contains("Nobody Ltd"), "every finding is listed");
}

#[test]
fn markdown_escapes_pipes_and_markup() {
    let mut record = controller_record();
    record.activities[0].name = s("Billing | invoices");
    record.activities[0].purposes = strings(&["a|b", "<script>x</script>", "**bold**"]);
    record.findings[0].message = s("one | two");
    let bytes = export(&[record], Format::Markdown, &ExportOptions::default()).unwrap();
    let doc = String::from_utf8(bytes).unwrap();

    assert!(doc.contains("### Billing \\| invoices\n"));
    let row = markdown_row(&doc, "Purposes of the processing (Art. 30(1)(b))");
    assert!(
        row.contains("a\\|b<br>\\<script\\>x\\</script\\><br>\\*\\*bold\\*\\*"),
        "{row}"
    );
    assert!(doc.contains("one \\| two"));
    // Every table row keeps its column count: unescaped pipes are only the separators.
    for line in doc.lines().filter(|l| l.starts_with('|')) {
        let mut pipes = 0;
        let mut chars = line.chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                // The escaped character.
                chars.next();
            } else if c == '|' {
                pipes += 1;
            }
        }
        assert!(pipes == 3 || pipes == 7, "{pipes} pipes in {line}");
    }
}

// ---------------------------------------------------------------------------------------------
// JSON
// ---------------------------------------------------------------------------------------------

#[test]
fn json_holds_the_records_and_the_options() {
    let options = opts(Layout::Cnil, Terminology::SingaporePdpa);
    let bytes = export(&records(), Format::Json, &options).unwrap();
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert!(text.contains("\n  \"layout\": \"CNIL\""), "pretty-printed");
    let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(value["layout"], "CNIL");
    assert_eq!(value["terminology"], "SINGAPORE_PDPA");
    let records = value["records"].as_array().unwrap();
    assert_eq!(records.len(), 2);
    assert_eq!(records[0]["perspective"], "CONTROLLER");
    assert_eq!(records[0]["activities"][0]["key"], "billing");
    assert_eq!(records[0]["findings"].as_array().unwrap().len(), 5);
    assert_eq!(records[1]["perspective"], "PROCESSOR");
    let twilio = &records[1]["activities"][0]["transfers"][0];
    assert_eq!(twilio["mechanism"], "STANDARD_CONTRACTUAL_CLAUSES");
    assert_eq!(twilio["sccModule"], 3);
    assert_eq!(twilio["tiaDate"], "2024-03-01");
    // Same input, same bytes.
    assert_eq!(
        export(&self::records(), Format::Json, &options).unwrap(),
        bytes
    );
}

// ---------------------------------------------------------------------------------------------
// ICO and CNIL layouts
// ---------------------------------------------------------------------------------------------

#[test]
fn ico_layout_uses_the_ico_headings() {
    let options = opts(Layout::Ico, Terminology::Gdpr);
    let bytes = export(&[controller_record()], Format::Csv, &options).unwrap();
    let (headers, rows) = read_csv(&bytes);
    assert_eq!(
        headers,
        [
            "Name and contact details of our organisation",
            "Name and contact details of our data protection officer (if applicable)",
            "Name and contact details of our representative (if applicable)",
            "Business function",
            "Purpose of processing",
            "Name and contact details of joint controller (if applicable)",
            "Categories of individuals",
            "Categories of personal data",
            "Categories of recipients",
            "Link to contract with processor",
            "Names of third countries or international organisations that personal data are transferred to (if applicable)",
            "Safeguards for exceptional transfers of personal data to third countries or international organisations (if applicable)",
            "Retention schedule (if possible)",
            "General description of technical and organisational security measures (if possible)",
            "Article 6 lawful basis for processing personal data",
            "Article 9 condition for processing special category data",
            "Findings",
        ]
    );
    let support = rows
        .iter()
        .find(|r| csv_cell(&headers, r, "Business function") == "Customer support")
        .unwrap();
    assert_eq!(
        csv_cell(&headers, support, "Categories of recipients"),
        "Service provider: Zendesk, Inc. (US), Acme Support Pte. Ltd. (SG)"
    );
    assert_eq!(
        csv_cell(
            &headers,
            support,
            "Article 9 condition for processing special category data"
        ),
        "Explicit consent (Art. 9(2)(a))"
    );
    assert_eq!(
        csv_cell(&headers, support, "Link to contract with processor"),
        ""
    );
    let safeguards = csv_cell(
        &headers,
        support,
        "Safeguards for exceptional transfers of personal data to third countries or international organisations (if applicable)",
    );
    assert!(
        safeguards.contains(
            "Zendesk, Inc. → United States (US): Derogation: Art. 49(1), second subparagraph, compelling legitimate interests; safeguards: Pseudonymised ticket IDs"
        ),
        "{safeguards}"
    );
    assert!(safeguards.contains(
        "Acme Support Pte. Ltd. → Singapore (SG): Derogation: Art. 49(1)(c) contract in the data subject's interest"
    ));

    // The processor template.
    let bytes = export(&[processor_record()], Format::Xlsx, &options).unwrap();
    let mut sheets = Sheets::open(bytes);
    let grid = sheets.grid("Processor record (Art. 30(2))");
    // The label also heads the header block's controllers row: the table's header comes last.
    let header = grid
        .iter()
        .rposition(|r| text_of(&r[0]) == "Name and contact details of controller")
        .unwrap();
    let headings: Vec<String> = grid[header].iter().map(text_of).collect();
    assert_eq!(
        headings,
        [
            "Name and contact details of controller",
            "Categories of processing",
            "Name of sub-processors (if applicable)",
            "Names of third countries or international organisations that personal data are transferred to (if applicable)",
            "Safeguards for exceptional transfers of personal data to third countries or international organisations (if applicable)",
            "General description of technical and organisational security measures (if possible)",
        ]
    );
    let data: Vec<String> = grid[header + 1].iter().map(text_of).collect();
    assert_eq!(
        data[0],
        "Business customers using the SMS, Voice and WhatsApp APIs"
    );
    assert_eq!(
        data[1],
        "SMS delivery on customers' behalf\nDelivering customers' SMS messages to end users"
    );
    assert_eq!(data[3], "United States (US)");
}

#[test]
fn cnil_layout_uses_the_cnil_headings() {
    let options = opts(Layout::Cnil, Terminology::Gdpr);
    let bytes = export(&records(), Format::Csv, &options).unwrap();
    let (headers, rows) = read_csv(&bytes);
    for heading in [
        "Registre",
        "Responsable du traitement",
        "Délégué à la protection des données",
        "Société du DPO (si celui-ci est externe)",
        "Représentant",
        "Description du traitement",
        "Nom du traitement",
        "N° / RÉF",
        "Date de création du traitement",
        "Mise à jour du traitement",
        "Responsable(s) conjoint(s)",
        "Finalité(s) du traitement effectué",
        "Catégories de personnes concernées — Description",
        "Catégories de données personnelles concernées — Description",
        "Catégories de données personnelles concernées — Durée de conservation",
        "Données sensibles — Description",
        "Destinataires — Type de destinataire",
        "Destinataires — Précisions",
        "Transferts hors UE — Destinataire",
        "Transferts hors UE — Pays",
        "Transferts hors UE — Type de Garanties",
        "Transferts hors UE — Liens vers la documentation",
        "Mesures de sécurité — Précisions",
        "Catégories de traitements effectués pour le compte de chaque responsable du traitement (art. 30.2.b)",
        "Nom et coordonnées du ou des sous-traitants (art. 30.2.a)",
        "Constats",
    ] {
        assert!(
            headers.iter().any(|h| h == heading),
            "{heading} in {headers:?}"
        );
    }
    // The template has no such rubric.
    for absent in [
        "Base légale",
        "Catégories de destinataires",
        "Sous-traitants",
        "Nom / sigle",
        "N° / REF",
        "Garanties",
    ] {
        assert!(
            !headers.iter().any(|h| h == absent),
            "{absent} in {headers:?}"
        );
    }
    let support = rows
        .iter()
        .find(|r| csv_cell(&headers, r, "N° / RÉF") == "support")
        .unwrap();
    assert_eq!(
        csv_cell(&headers, support, "Données sensibles — Description"),
        "Accessibility needs\nArt. 9(2) condition: Explicit consent (Art. 9(2)(a))"
    );
    assert_eq!(
        csv_cell(&headers, support, "Destinataires — Type de destinataire"),
        "Sous-traitants\nDestinataires dans des pays tiers ou organisations internationales"
    );
    // One line per transfer in each of the transfer sub-columns.
    assert_eq!(
        csv_cell(&headers, support, "Transferts hors UE — Destinataire"),
        "Zendesk, Inc.\nAcme Support Pte. Ltd."
    );
    assert_eq!(
        csv_cell(&headers, support, "Transferts hors UE — Pays"),
        "United States (US)\nSingapore (SG)"
    );
    assert_eq!(
        csv_cell(&headers, support, "Transferts hors UE — Type de Garanties"),
        "Dérogations (art 49) : Art. 49(1), second subparagraph, GDPR ; garanties documentées : Pseudonymised ticket IDs; access limited to EU support staff; deletion after 30 days\nDérogations (art 49) : Art. 49(1)(c) GDPR"
    );
    assert_eq!(
        csv_cell(&headers, support, "Date de création du traitement"),
        "2023-02-01"
    );
    let billing = rows
        .iter()
        .find(|r| csv_cell(&headers, r, "N° / RÉF") == "billing")
        .unwrap();
    assert_eq!(
        csv_cell(&headers, billing, "Données sensibles — Description"),
        "Aucune"
    );
    assert_eq!(
        csv_cell(
            &headers,
            billing,
            "Catégories de données personnelles concernées — Durée de conservation"
        ),
        "10 years after the event the legal obligation runs from — Financial records kept ten years (2022 §7)"
    );
    assert_eq!(
        csv_cell(&headers, billing, "Transferts hors UE — Type de Garanties"),
        "Pays adéquat"
    );

    let bytes = export(&records(), Format::Xlsx, &options).unwrap();
    let sheets = Sheets::open(bytes);
    assert_eq!(
        sheets.names(),
        [
            "Registre du responsable",
            "Registre du sous-traitant",
            "Transferts",
            "Constats"
        ]
    );

    let bytes = export(&records(), Format::Markdown, &options).unwrap();
    let doc = String::from_utf8(bytes).unwrap();
    assert!(doc.starts_with("# Registre du responsable du traitement (art. 30.1 RGPD)\n"));
    assert!(doc.contains("| Finalité(s) du traitement effectué | Invoicing customers<br>"));
}

/// The CNIL's simplified record model, as kept in the repository (see data/templates/README.md).
fn cnil_template() -> calamine::Ods<Cursor<Vec<u8>>> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/templates/cnil/registre-traitement-simplifie.ods"
    );
    let bytes = std::fs::read(path).expect("the CNIL template copy");
    open_workbook_from_rs(Cursor::new(bytes)).expect("an ODS workbook")
}

/// The text cells of a sheet, by row and column.
fn cells(range: &calamine::Range<Data>) -> Vec<(usize, usize, String)> {
    range
        .cells()
        .filter_map(|(r, c, v)| match v {
            // Whitespace runs read as one space (the sheet has "Description  du traitement").
            Data::String(text) if !text.trim().is_empty() => {
                Some((r, c, text.split_whitespace().collect::<Vec<_>>().join(" ")))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn cnil_layout_matches_the_cnil_template() {
    let mut template = cnil_template();
    let sheet = template
        .worksheet_range("3_-_Modèle_de_fiche_de_registre")
        .expect("the record sheet");
    let cells = cells(&sheet);
    // The rubrics are the first column; a rubric's sub-columns are on its row. The ninth
    // column holds links to the CNIL's guides, not rubrics.
    let rubric_at = |row: usize| {
        cells
            .iter()
            .find(|(r, c, _)| *r == row && *c == 0)
            .map(|(_, _, t)| t.as_str())
    };
    let position = |heading: &str| -> Option<(usize, usize)> {
        match heading.split_once(" — ") {
            None => cells
                .iter()
                .find(|(_, c, t)| *c == 0 && t == heading)
                .map(|(r, c, _)| (*r, *c)),
            Some((rubric, sub)) => cells
                .iter()
                .find(|(r, c, t)| *c > 0 && *c < 9 && t == sub && rubric_at(*r) == Some(rubric))
                .map(|(r, c, _)| (*r, *c)),
        }
    };
    let terms = Terms(Terminology::Gdpr, layout::Language::French);
    let headings: Vec<String> =
        layout::organization_columns(Layout::Cnil, Perspective::Controller, terms)
            .into_iter()
            .chain(layout::table_columns(
                Layout::Cnil,
                Perspective::Controller,
                terms,
            ))
            .map(|c| c.heading)
            .collect();
    // Every heading is the template's, verbatim, and the table keeps the template's order.
    let table_start = 4;
    let mut last = (0, 0);
    for (i, heading) in headings.iter().enumerate() {
        let at = position(heading)
            .unwrap_or_else(|| panic!("{heading:?} is not a heading of the CNIL template"));
        if i >= table_start {
            assert!(at >= last, "{heading:?} is out of the template's order");
            last = at;
        }
    }
    // Each rubric of the template is a column, but for those the registry holds nothing for
    // (each with the reason in layout::table_columns).
    let left_out = [
        "Modèle de fiche de registre à compléter",
        "Acteurs",
        "Finalité principale",
        "Mesures de sécurité — Type de mesure de sécurité",
        "Catégories de personnes concernées — Précisions",
        "Données sensibles — Durée de conservation",
    ];
    let rubrics = [
        "Description du traitement",
        "Nom du traitement",
        "N° / RÉF",
        "Date de création du traitement",
        "Mise à jour du traitement",
        "Responsable du traitement",
        "Délégué à la protection des données",
        "Société du DPO (si celui-ci est externe)",
        "Représentant",
        "Responsable(s) conjoint(s)",
        "Finalité(s) du traitement effectué",
        "Catégories de données personnelles concernées — Description",
        "Catégories de données personnelles concernées — Durée de conservation",
        "Données sensibles — Description",
        "Catégories de personnes concernées — Description",
        "Destinataires — Type de destinataire",
        "Destinataires — Précisions",
        "Mesures de sécurité — Précisions",
        "Transferts hors UE — Destinataire",
        "Transferts hors UE — Pays",
        "Transferts hors UE — Type de Garanties",
        "Transferts hors UE — Liens vers la documentation",
    ];
    for rubric in rubrics {
        assert!(position(rubric).is_some(), "{rubric:?} not in the template");
        assert!(
            headings.iter().any(|h| h == rubric),
            "{rubric:?} not in the layout"
        );
    }
    for rubric in left_out {
        assert!(position(rubric).is_some(), "{rubric:?} not in the template");
        assert!(
            !headings.iter().any(|h| h == rubric),
            "{rubric:?} in the layout"
        );
    }
    // The template has no legal-basis, recipient-category or processor rubric.
    for absent in [
        "Base légale",
        "Catégories de destinataires",
        "Sous-traitants",
    ] {
        assert!(position(absent).is_none(), "{absent:?} is in the template");
    }

    // The values the layout writes for safeguards and recipient types are the template's.
    let lists = template
        .worksheet_range("5_-_Listes")
        .expect("the lists sheet");
    let listed: Vec<String> = self::cells(&lists).into_iter().map(|(_, _, t)| t).collect();
    let mut written: Vec<String> = Vec::new();
    for mechanism in [
        "STANDARD_CONTRACTUAL_CLAUSES",
        "BINDING_CORPORATE_RULES",
        "ADEQUACY_DECISION",
        "CODE_OF_CONDUCT",
        "CERTIFICATION",
        "DEROGATION",
    ] {
        let t = transfer("X", "US", "United States", mechanism);
        let text = text::cnil_guarantee(&t);
        written.push(
            text.split([',', ':'])
                .next()
                .unwrap_or_default()
                .trim()
                .to_owned(),
        );
    }
    for role in ["PROCESSOR", "CONTROLLER", "MERE_CONDUIT"] {
        written.push(text::cnil_recipient_type(named(role), named("SERVICE_PROVIDER")).to_owned());
    }
    written.push("Destinataires dans des pays tiers ou organisations internationales".to_owned());
    for value in written {
        assert!(
            listed.contains(&value),
            "{value:?} is not in the template's lists"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Singapore PDPA terminology
// ---------------------------------------------------------------------------------------------

fn assert_no_gdpr_terms(text: &str) {
    let lower = text.to_lowercase();
    for term in ["data subject", "controller", "processor"] {
        assert!(!lower.contains(term), "{term:?} left in {text:?}");
    }
}

#[test]
fn singapore_terminology_replaces_the_gdpr_terms() {
    for layout in [Layout::Article30, Layout::Ico] {
        let options = opts(layout, Terminology::SingaporePdpa);
        let bytes = export(&records(), Format::Csv, &options).unwrap();
        let (headers, _) = read_csv(&bytes);
        for h in &headers {
            assert_no_gdpr_terms(h);
        }
        let bytes = export(&records(), Format::Xlsx, &options).unwrap();
        let mut sheets = Sheets::open(bytes);
        for name in sheets.names() {
            assert_no_gdpr_terms(&name);
            // Every header: the block's labels and the table's headings.
            for row in sheets.grid(&name) {
                if let Some(first) = row.first() {
                    assert_no_gdpr_terms(&text_of(first));
                }
            }
        }
    }

    let options = opts(Layout::Article30, Terminology::SingaporePdpa);
    let bytes = export(&records(), Format::Csv, &options).unwrap();
    let (headers, rows) = read_csv(&bytes);
    assert!(headers.contains(&s("Categories of individuals (Art. 30(1)(c))")));
    assert!(headers.contains(&s(
        "Name and contact details of the organisation (Art. 30(1)(a))"
    )));
    assert!(headers.contains(&s(
        "Other data intermediaries engaged (sub-intermediaries) (Art. 30(2)(a))"
    )));
    let support = csv_row(&headers, &rows, "support");
    assert_eq!(csv_cell(&headers, support, "Perspective"), "Organisation");
    let recipients = csv_cell(
        &headers,
        support,
        "Recipients, including in third countries (Art. 30(1)(d))",
    );
    assert_eq!(
        recipients,
        "Zendesk, Inc. (US) — Data intermediary\nAcme Support Pte. Ltd. (SG) — Data intermediary"
    );
    let transfers = csv_cell(
        &headers,
        support,
        "Transfers to third countries or international organisations, with safeguards (Art. 30(1)(e))",
    );
    assert!(
        transfers.contains("contract in the individual's interest"),
        "{transfers}"
    );
    let sms = csv_row(&headers, &rows, "sms_delivery");
    assert_eq!(csv_cell(&headers, sms, "Perspective"), "Data intermediary");
    let transfers = csv_cell(
        &headers,
        sms,
        "Transfers to third countries or international organisations, with safeguards (Art. 30(2)(c))",
    );
    assert!(
        transfers.contains("module 3 (data intermediary to data intermediary)"),
        "{transfers}"
    );
    let recipients = csv_cell(&headers, sms, "Recipients");
    assert!(recipients.contains("Twilio Inc. (US) — Data intermediary, sub-intermediary"));

    let bytes = export(&records(), Format::Xlsx, &options).unwrap();
    let sheets = Sheets::open(bytes);
    assert_eq!(
        sheets.names(),
        [
            "Organisation record",
            "Data intermediary record",
            "Transfers",
            "Findings"
        ]
    );

    let bytes = export(&records(), Format::Markdown, &options).unwrap();
    let doc = String::from_utf8(bytes).unwrap();
    assert!(doc.starts_with("# Organisation record (Art. 30(1))\n"));
    assert!(doc.contains("\n# Data intermediary record (Art. 30(2))\n"));
    for line in doc
        .lines()
        .filter(|l| l.starts_with('#') || l.starts_with("| "))
    {
        // Headings and field labels; values from the registry may say anything.
        let label = line.split(" | ").next().unwrap_or(line);
        assert_no_gdpr_terms(label);
    }
}

#[test]
fn singapore_terminology_in_french_headings() {
    let options = opts(Layout::Cnil, Terminology::SingaporePdpa);
    let bytes = export(&records(), Format::Csv, &options).unwrap();
    let (headers, _) = read_csv(&bytes);
    for h in &headers {
        let lower = h.to_lowercase();
        for term in ["responsable", "sous-traitant", "personnes concernées"] {
            assert!(!lower.contains(term), "{term:?} left in {h:?}");
        }
    }
    assert!(headers.contains(&s("Catégories de particuliers — Description")));
    assert!(headers.contains(&s("Organisation(s) conjointe(s)")));
    let bytes = export(&records(), Format::Xlsx, &options).unwrap();
    let sheets = Sheets::open(bytes);
    assert_eq!(
        sheets.names(),
        [
            "Registre de l'organisation",
            "Intermédiaire de données",
            "Transferts",
            "Constats"
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// Formula injection
// ---------------------------------------------------------------------------------------------

const HYPERLINK: &str = "=HYPERLINK(\"http://evil.example\",\"click\")";

fn hostile_record() -> Record {
    let mut record = controller_record();
    record.organization.name = s("=cmd|' /C calc'!A0");
    record.organization.dpo_name = s("+31 20 123 4567");
    let billing = &mut record.activities[0];
    billing.key = s("-billing");
    billing.name = s("@SUM(A1)");
    billing.description = Some(s("-cmd"));
    billing.purposes = strings(&["+1+2"]);
    billing.data_subjects = strings(&["=1+1"]);
    billing.recipients[0].legal_name = s(HYPERLINK);
    billing.transfers[0].recipient = s(HYPERLINK);
    // The organization exports its own transfers.
    for activity in &mut record.activities {
        for transfer in &mut activity.transfers {
            transfer.exporter = record.organization.name.clone();
        }
    }
    let support = &mut record.activities[1];
    support.description = Some(s("\rCarriage"));
    support.transfers[0].recipient = s("\tTabbed Ltd");
    record.findings[0].message = s("-2+3");
    record.findings[0].entity = s("@entity");
    record
}

fn is_dangerous(cell: &str) -> bool {
    matches!(
        cell.as_bytes().first(),
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r')
    )
}

#[test]
fn csv_neutralises_formulas() {
    let bytes = export(&[hostile_record()], Format::Csv, &ExportOptions::default()).unwrap();
    let (headers, rows) = read_csv(&bytes);
    for cell in headers.iter().chain(rows.iter().flatten()) {
        assert!(!is_dangerous(cell), "{cell:?}");
    }
    let row = rows
        .iter()
        .find(|r| csv_cell(&headers, r, "Reference") == "'-billing")
        .expect("the hostile row");
    let cell = |h| csv_cell(&headers, row, h);
    assert_eq!(cell("Processing activity"), "'@SUM(A1)");
    assert_eq!(cell("Description"), "'-cmd");
    assert_eq!(cell("Purposes of the processing (Art. 30(1)(b))"), "'+1+2");
    assert_eq!(cell("Categories of data subjects (Art. 30(1)(c))"), "'=1+1");
    assert!(
        cell("Recipients, including in third countries (Art. 30(1)(d))")
            .starts_with(&format!("'{HYPERLINK} (IE)"))
    );
    assert!(cell(
        "Transfers to third countries or international organisations, with safeguards (Art. 30(1)(e))"
    )
    .starts_with(&format!("'{HYPERLINK} →")));
    assert!(
        cell("Name and contact details of the controller (Art. 30(1)(a))").starts_with("'=cmd|")
    );
    assert!(cell("Data protection officer (Art. 30(1)(a))").starts_with("'+31"));
    let support = csv_row(&headers, &rows, "support");
    assert_eq!(csv_cell(&headers, support, "Description"), "'\rCarriage");
    assert!(
        csv_cell(
            &headers,
            support,
            "Transfers to third countries or international organisations, with safeguards (Art. 30(1)(e))"
        )
        .starts_with("'\tTabbed Ltd →")
    );
}

#[test]
fn xlsx_neutralises_formulas_and_writes_no_formula() {
    let bytes = export(&[hostile_record()], Format::Xlsx, &ExportOptions::default()).unwrap();
    let mut sheets = Sheets::open(bytes);
    sheets.no_formulas();
    let mut seen = Vec::new();
    for name in sheets.names() {
        for row in sheets.grid(&name) {
            for cell in &row {
                if let Data::String(v) = cell {
                    assert!(!is_dangerous(v), "{name}: {v:?}");
                    if v.starts_with('\'') {
                        seen.push(v.clone());
                    }
                } else {
                    assert!(
                        matches!(cell, Data::Empty | Data::DateTime(_)),
                        "{name}: {cell:?}"
                    );
                }
            }
        }
    }
    for expected in [
        "'-billing",
        "'@SUM(A1)",
        "'-cmd",
        "'+1+2",
        "'=1+1",
        "'\tTabbed Ltd",
        "'\rCarriage",
        "'=cmd|' /C calc'!A0",
        "'-2+3",
        "'@entity",
        &format!("'{HYPERLINK}"),
    ] {
        assert!(
            seen.iter().any(|v| v.starts_with(expected)),
            "{expected:?} not in {seen:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Readable values
// ---------------------------------------------------------------------------------------------

#[test]
fn enum_names_read_as_words() {
    assert_eq!(
        text::recipient_kind("PAYMENT_SERVICE_PROVIDER"),
        "Payment service provider"
    );
    assert_eq!(text::humanize_enum("free text, kept"), "free text, kept");
    assert_eq!(text::humanize_enum("DATA_FLOW"), "Data flow");
    assert_eq!(
        text::humanize_enum("EU_REPRESENTATIVE"),
        "EU representative"
    );
    assert_eq!(text::legal_basis("CONTRACT"), "Contract (Art. 6(1)(b))");
    assert_eq!(
        text::legal_basis("LEGITIMATE_INTERESTS"),
        "Legitimate interests (Art. 6(1)(f))"
    );
    assert_eq!(
        text::role("MERE_CONDUIT"),
        "Mere conduit (transmission only)"
    );

    let scc = &sms_delivery().transfers[0];
    assert_eq!(
        text::instrument(scc),
        "Standard contractual clauses (Art. 46(2)(c)), module 3 (processor to processor)"
    );
    let partner = &support().transfers[1];
    assert_eq!(
        text::instrument(partner),
        "Derogation: Art. 49(1)(c) contract in the data subject's interest"
    );
    let mut undocumented = support().transfers[0].clone();
    undocumented.safeguards = None;
    let m = text::with_safeguards(&undocumented, text::instrument(&undocumented));
    assert!(m.ends_with("compelling legitimate interests; safeguards: not documented"));
    assert_eq!(
        text::transfer_line(scc, &text::instrument(scc)),
        "Twilio Inc. → United States (US): Standard contractual clauses (Art. 46(2)(c)), module 3 (processor to processor); TIA 2024-03-01"
    );
}

#[test]
fn retention_periods_read_as_words() {
    assert_eq!(text::iso_duration("P6M").as_deref(), Some("6 months"));
    assert_eq!(text::iso_duration("P1Y").as_deref(), Some("1 year"));
    assert_eq!(
        text::iso_duration("P1Y6M").as_deref(),
        Some("1 year, 6 months")
    );
    assert_eq!(text::iso_duration("P540D").as_deref(), Some("540 days"));
    assert_eq!(text::iso_duration("PT36H").as_deref(), Some("36 hours"));
    assert_eq!(text::iso_duration("P2W").as_deref(), Some("2 weeks"));
    assert_eq!(text::iso_duration("6 months"), None);
    assert_eq!(text::iso_duration("P"), None);
    assert_eq!(text::iso_duration("PT"), None);
    use entity::RetentionStart::*;
    assert_eq!(
        text::retention(Some("P6M"), Some(Collection), Some("Delivery disputes")).as_deref(),
        Some("6 months after collection — Delivery disputes")
    );
    assert_eq!(
        text::retention_words(Some("P12M"), Some(EndOfContract)),
        "12 months after the end of the contract"
    );
    assert_eq!(
        text::retention_words(None, Some(DurationOfContract)),
        "For the duration of the contract"
    );
    assert_eq!(
        text::retention_words(Some("P2Y"), Some(LastActivity)),
        "2 years after the last activity"
    );
    assert_eq!(
        text::retention(Some("until deleted"), None, None).as_deref(),
        Some("until deleted (start not recorded)")
    );
    assert_eq!(text::retention(None, None, None), None);
}

#[test]
fn neutralise_follows_owasp() {
    for dangerous in ["=1", "+1", "-1", "@a", "\ta", "\ra"] {
        assert_eq!(text::neutralise(dangerous), format!("'{dangerous}"));
    }
    for safe in ["a=1", "", "'=1", " =1", "1-2"] {
        assert_eq!(text::neutralise(safe), safe);
    }
}

#[test]
fn overlong_cells_are_cut_for_excel() {
    let long = "é".repeat(40_000);
    let cut = text::fit_excel_cell(&long);
    assert!(cut.encode_utf16().count() <= 32_767);
    assert!(cut.ends_with("(truncated: see the JSON export)"));
    assert_eq!(text::fit_excel_cell("short"), "short");
}

// ---------------------------------------------------------------------------------------------
// API details
// ---------------------------------------------------------------------------------------------

#[test]
fn formats_have_content_types_and_extensions() {
    assert_eq!(Format::Csv.content_type(), "text/csv; charset=utf-8");
    assert_eq!(
        Format::Xlsx.content_type(),
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    assert_eq!(Format::Json.content_type(), "application/json");
    assert_eq!(
        Format::Markdown.content_type(),
        "text/markdown; charset=utf-8"
    );
    let extensions: Vec<&str> = [Format::Csv, Format::Xlsx, Format::Json, Format::Markdown]
        .into_iter()
        .map(Format::extension)
        .collect();
    assert_eq!(extensions, ["csv", "xlsx", "json", "md"]);
}

#[test]
fn default_options_are_article_30_in_gdpr_terms() {
    assert_eq!(
        ExportOptions::default(),
        opts(Layout::Article30, Terminology::Gdpr)
    );
}

#[test]
fn no_record_is_an_error() {
    for format in [Format::Csv, Format::Xlsx, Format::Json, Format::Markdown] {
        assert!(matches!(
            export(&[], format, &ExportOptions::default()),
            Err(ExportError::NoRecords)
        ));
    }
}

#[test]
fn an_empty_record_exports() {
    let mut record = controller_record();
    record.activities.clear();
    record.findings.clear();
    for format in [Format::Csv, Format::Xlsx, Format::Json, Format::Markdown] {
        let bytes = export(
            std::slice::from_ref(&record),
            format,
            &ExportOptions::default(),
        )
        .unwrap();
        assert!(!bytes.is_empty());
    }
    let doc =
        String::from_utf8(export(&[record], Format::Markdown, &ExportOptions::default()).unwrap())
            .unwrap();
    assert!(doc.contains("No processing activities."));
    assert!(doc.contains("No findings."));
}

// ---------------------------------------------------------------------------------------------
// Size
// ---------------------------------------------------------------------------------------------

/// A record with `activities` activities of `recipients` recipients each, one transfer in two.
pub(super) fn large_record(activities: usize, recipients: usize) -> Record {
    let mut record = controller_record();
    let template = support();
    record.activities = (0..activities)
        .map(|i| {
            let mut a = template.clone();
            a.key = format!("activity-{i}");
            a.name = format!("Activity {i}");
            a.recipients = (0..recipients)
                .map(|j| {
                    recipient(
                        &format!("Recipient {j} of {i} Ltd"),
                        "SERVICE_PROVIDER",
                        "PROCESSOR",
                        "US",
                        j % 3 == 0,
                    )
                })
                .collect();
            a.transfers = (0..recipients)
                .step_by(2)
                .map(|j| {
                    let mut t = sms_delivery().transfers[0].clone();
                    t.recipient = format!("Recipient {j} of {i} Ltd");
                    t
                })
                .collect();
            a
        })
        .collect();
    record.findings = (0..activities)
        .step_by(10)
        .map(|i| {
            finding(
                Severity::Low,
                "RECIPIENT_WITHOUT_DPA",
                FindingSubject::Recipient,
                &format!("Recipient 0 of {i} Ltd"),
                "No data processing agreement is referenced.",
            )
        })
        .collect();
    record
}

#[test]
fn exports_five_thousand_activities() {
    let records = [large_record(5_000, 4)];
    for format in [Format::Csv, Format::Xlsx, Format::Json, Format::Markdown] {
        let bytes = export(&records, format, &ExportOptions::default()).unwrap();
        assert!(bytes.len() > 100_000, "{format:?}: {} bytes", bytes.len());
        match format {
            Format::Csv => assert_eq!(read_csv(&bytes).1.len(), 5_000),
            Format::Xlsx => {
                let mut sheets = Sheets::open(bytes);
                let grid = sheets.grid("Controller record (Art. 30(1))");
                let header = row_starting(&grid, "Reference");
                assert_eq!(grid.len(), header + 1 + 5_000);
                assert_eq!(sheets.grid("Transfers").len(), 1 + 5_000 * 2);
            }
            _ => {}
        }
    }
}
