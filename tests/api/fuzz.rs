//! Fuzzing with proptest: the GraphQL entry point over real HTTP, the input validation of the
//! registry, and the document limits.
//!
//! Over HTTP, against the real server on the example registry (one server per test, many
//! requests): arbitrary bytes and arbitrary JSON as the POST body, arbitrary query strings over
//! GET, arbitrary strings as the `query`, valid documents mutated token by token (deleted,
//! duplicated, inserted, swapped tokens, literals swapped for arbitrary values, characters
//! inserted or deleted) with random variables, and real operations with arbitrary variables
//! (`dataFlows(filter:)`, `subprocessorChanges`, `node(id:)`, `subprocessors(asOf:)`... with the
//! admin key, a viewer key, no key or a broken one; `createRecipient` and
//! `createProcessingActivity` with an editor key). Every answer must come within 30 s, never be
//! a 5xx (but a 503 with code `TIMEOUT`), be JSON with `data` or `errors`, every error with a
//! message, no `INTERNAL_SERVER_ERROR` code and no internals (SQL, driver, panic, file paths) in
//! any message. The registry must be unchanged at the end, but for mutations that answered
//! success: those must have stored their input normalised as the validation rules say.
//!
//! Directly, on the library: `subreg::registry::validate` (`name`, `text`, `texts`, `key`,
//! `category_key`, `country`, `countries`, `url`, `retention_period`, `retention_start`,
//! `safeguard`, `transfers`) never panics, accepts exactly what an independent statement of each
//! rule accepts (for transfers: the instruments of each regime, the SCC module the roles give,
//! the derogations' conditions, the adequacy decisions and their scopes, the free-flow areas and
//! the mere-conduit rule, restated in this file), returns
//! accepted values normalised, and refuses with `RegistryError::Invalid` naming the field it
//! was given; `subreg::graphql::limits::count_tokens` counts the tokens of generated documents
//! exactly and stops just past its bound, and `measure` finishes on fragment-heavy documents
//! (bombs, cycles) with the exact expanded field count, saturated at bound + 1.
//!
//! Each property runs a modest number of cases (64 to 256) so that the file finishes in well
//! under a minute in CI. For a longer fuzzing session raise the count for every property with
//! `PROPTEST_CASES`, e.g. `PROPTEST_CASES=5000 cargo test --release --test api fuzz::`; a failure
//! prints the shrunk input (no regression files are written into the work tree). The file runs
//! on SQLite (`DATABASE_URL` unset) and on PostgreSQL (`DATABASE_URL=postgres://...`) alike.
//!
//! The fuzzing found five bugs, fixed since; `bugs_found_by_fuzzing_stay_fixed` and
//! `nul_in_lookups_finds_nothing` keep their reproducers: a `dataCategories` filter of a few
//! hundred keys overflowed the server's stack, list filters of 32,767 entries failed in SQL on
//! SQLite, and a NUL character in a free text or in a lookup by key, or an instant before
//! 4713 BC, failed on PostgreSQL, each with an internal error.

use crate::common::TestServer;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{NaiveDate, Utc};
use entity::{Derogation, Role, TransferMechanism};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{Index, select};
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use sea_orm::Iterable as _;
use serde_json::{Value as Json, json};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use subreg::graphql::limits::{count_tokens, measure};
use subreg::reference::Regime;
use subreg::registry::RegistryError;
use subreg::registry::inputs::{Safeguard, TransferInput};
use subreg::registry::validate;
use subreg::settings::ServerSettings;

/// The longest any answer may take.
const DEADLINE: Duration = Duration::from_secs(30);

/// Cases per property: `default` unless `PROPTEST_CASES` says otherwise.
fn config(default: u32) -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    // A fixed sequence by default, so that a CI failure reproduces; `PROPTEST_RNG_SEED=<n>`
    // explores another one.
    let rng_seed = match std::env::var("PROPTEST_RNG_SEED") {
        Ok(_) => Config::default().rng_seed,
        Err(_) => proptest::test_runner::RngSeed::Fixed(20_261_123),
    };
    Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 1024,
        rng_seed,
        ..Config::default()
    }
}

// ---------------------------------------------------------------------------------------------
// Generators shared by the properties
// ---------------------------------------------------------------------------------------------

/// Strings that have broken input handling somewhere: empty and blank ones, control and format
/// characters, Unicode whitespace, SQL and LIKE metacharacters, injection payloads, near-valid
/// keys, codes and periods.
const HOSTILE: &[&str] = &[
    "",
    " ",
    "   ",
    "\t",
    "\n",
    "\r\n",
    "\u{0}",
    "a\u{0}b",
    "\u{1b}[31m",
    "\u{0b}",
    "\u{7f}",
    "\u{85}",
    "\u{a0}",
    "\u{2028}",
    "\u{3000}",
    "\u{feff}",
    "\u{200b}",
    "\u{202e}",
    "\u{fffd}",
    "a",
    "A",
    "é",
    "e\u{301}",
    "😀",
    "日本語",
    "' OR '1'='1",
    "'; DROP TABLE recipient; --",
    "\" OR 1=1 --",
    "1); SELECT pg_sleep(10); --",
    "' UNION SELECT secret_hash FROM api_key --",
    "%",
    "_",
    "%_%",
    "\\",
    "\\\\",
    "$1",
    "?",
    "NULL",
    "null",
    "true",
    "0",
    "-1",
    "<script>alert(1)</script>",
    "=cmd|' /C calc'!A0",
    "@SUM(1+1)",
    "${jndi:ldap://x/a}",
    "{{7*7}}",
    "../../etc/passwd",
    "http://",
    "https://",
    "https://example.com/privacy",
    "https://a b",
    "https://a\tb",
    "javascript:alert(1)",
    "stripe",
    "aws",
    "sms_delivery",
    "contact",
    "contact.phone_number",
    "contact..phone",
    "end_users",
    "sms",
    "US",
    "NL",
    "XK",
    "UK",
    "nl",
    "P6M",
    "P0D",
    "P6m",
    "PT6H",
    "__typename",
];

fn hostile() -> BoxedStrategy<String> {
    prop_oneof![
        4 => select(HOSTILE).prop_map(str::to_owned),
        2 => vec(any::<char>(), 0..24).prop_map(String::from_iter),
        2 => "[a-zA-Z0-9 _.%'\"-]{0,24}",
        1 => (select(HOSTILE), select(HOSTILE), select(HOSTILE))
            .prop_map(|(a, b, c)| format!("{a}{b}{c}")),
        1 => (
            select(&["a", "é", "😀", " ", "\u{200b}", "x\n"][..]),
            prop_oneof![select(&[199usize, 200, 201, 3_999, 4_000, 4_001][..]), 190usize..4_100],
        )
            .prop_map(|(s, n)| s.repeat(n)),
    ]
    .boxed()
}

const EDGE_INTS: &[i64] = &[
    0,
    -1,
    1,
    4,
    5,
    500,
    501,
    i32::MAX as i64,
    i32::MIN as i64,
    i32::MAX as i64 + 1,
    i32::MIN as i64 - 1,
    i64::MAX,
    i64::MIN,
];

fn json_key() -> BoxedStrategy<String> {
    prop_oneof![
        3 => select(NAMES).prop_map(str::to_owned),
        2 => "[a-zA-Z_][a-zA-Z0-9_]{0,10}",
        1 => hostile(),
    ]
    .boxed()
}

/// Any JSON value, nested a few levels.
fn any_json() -> BoxedStrategy<Json> {
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::from),
        any::<i64>().prop_map(Json::from),
        any::<u64>().prop_map(Json::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Json::Null, Json::Number)),
        select(EDGE_INTS).prop_map(Json::from),
        hostile().prop_map(Json::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..6).prop_map(Json::Array),
            vec((json_key(), inner), 0..6).prop_map(|e| Json::Object(e.into_iter().collect())),
        ]
    })
    .boxed()
}

/// `valid` most of the time, anything else sometimes.
fn mostly(valid: BoxedStrategy<Json>) -> BoxedStrategy<Json> {
    prop_oneof![30 => valid, 1 => any_json(), 1 => Just(Json::Null)].boxed()
}

fn list_of(item: BoxedStrategy<Json>) -> BoxedStrategy<Json> {
    // Short lists mostly; some around the bound of 200 entries, some well over it.
    let list = prop_oneof![
        20 => vec(item.clone(), 0..8),
        1 => vec(item.clone(), 198..203),
        1 => vec(item, 300..400),
    ];
    mostly(list.prop_map(Json::Array).boxed())
}

fn enum_value(valid: &'static [&'static str]) -> BoxedStrategy<Json> {
    prop_oneof![
        24 => select(valid).prop_map(Json::from),
        1 => select(&["", "processor", "PROCESSOR ", "__typename", "null", "ANY"][..]).prop_map(Json::from),
        1 => any_json(),
    ]
    .boxed()
}

const KINDS: &[&str] = &[
    "AFFILIATE",
    "ANALYTICS_PROVIDER",
    "CUSTOMER",
    "HOSTING_PROVIDER",
    "PAYMENT_SERVICE_PROVIDER",
    "PUBLIC_AUTHORITY",
    "SERVICE_PROVIDER",
    "TELECOM_OPERATOR",
];
const ROLES: &[&str] = &[
    "CONTROLLER",
    "JOINT_CONTROLLER",
    "MERE_CONDUIT",
    "PROCESSOR",
];
const STATUSES: &[&str] = &["ACTIVE", "ANNOUNCED", "PROPOSED", "RETIRED"];
const LEGAL_BASES: &[&str] = &[
    "CONSENT",
    "CONTRACT",
    "LEGAL_OBLIGATION",
    "LEGITIMATE_INTERESTS",
    "PUBLIC_TASK",
    "VITAL_INTERESTS",
];
const ORG_ROLES: &[&str] = &["CONTROLLER", "PROCESSOR"];
const RETENTION_STARTS: &[&str] = &[
    "COLLECTION",
    "DURATION_OF_CONTRACT",
    "END_OF_CONTRACT",
    "LAST_ACTIVITY",
    "LEGAL_OBLIGATION_EVENT",
];
const MECHANISMS: &[&str] = &[
    "ADEQUACY_DECISION",
    "AD_HOC_CLAUSES",
    "BINDING_CORPORATE_RULES",
    "CERTIFICATION",
    "CODE_OF_CONDUCT",
    "DEROGATION",
    "STANDARD_CONTRACTUAL_CLAUSES",
    "UK_ADDENDUM",
    "UK_IDTA",
];
const CHANGE_KINDS: &[&str] = &[
    "ACTIVITY_CREATED",
    "FLOW_CREATED",
    "FLOW_DELETED",
    "RECIPIENT_ACTIVATED",
    "RECIPIENT_ANNOUNCED",
    "RECIPIENT_CREATED",
    "RECIPIENT_UPDATED",
];
const OBJECTION_STATUSES: &[&str] = &["ACCOMMODATED", "RECEIVED", "REJECTED", "UNDER_REVIEW"];

const CATEGORIES: &[&str] = &[
    "contact",
    "contact.phone_number",
    "contact.email",
    "identity.account_id",
    "financial",
    "online.ip_address",
    "telecom.msisdn",
    "content.message",
    "security",
];
const SUBJECTS: &[&str] = &[
    "end_users",
    "customer_contacts",
    "prospects",
    "website_visitors",
    "customer_agents",
];
const PRODUCTS: &[&str] = &["sms", "voice", "email", "inbox", "whatsapp_business"];
const RECIPIENT_KEYS: &[&str] = &["aws", "stripe", "google_cloud", "pusher", "mixpanel"];
const ACTIVITY_KEYS: &[&str] = &["sms_delivery", "website_analytics", "billing_payments"];

/// Country codes: assigned ones inside and outside the EEA, and near misses.
const COUNTRY_CODES: &[&str] = &[
    "US", "GB", "NL", "DE", "IE", "FR", "IN", "SG", "CH", "JP", "BR", "ZA", "CA", "IL", "NO", "IS",
    "LI", "GR", "JE", "FO", "XK", "UK", "EL", "EU", "ZZ", "AA", "nl", "Nl", "NLD", " NL", "N",
];

fn country_code() -> BoxedStrategy<String> {
    prop_oneof![
        6 => select(COUNTRY_CODES).prop_map(str::to_owned),
        2 => "[A-Z]{2}",
        1 => hostile(),
    ]
    .boxed()
}

fn key_string() -> BoxedStrategy<String> {
    prop_oneof![
        6 => "[a-z][a-z0-9_]{0,20}",
        1 => "[a-z][a-z0-9_]{60,66}",
        1 => "[a-zA-Z0-9_. -]{0,12}",
        1 => hostile(),
    ]
    .boxed()
}

fn category_string() -> BoxedStrategy<String> {
    prop_oneof![
        4 => select(CATEGORIES).prop_map(str::to_owned),
        2 => "[a-z_]{1,8}(\\.[a-z_]{1,8}){0,2}",
        1 => "[a-z.]{0,10}",
        1 => hostile(),
    ]
    .boxed()
}

const TYPE_NAMES: &[&str] = &[
    "Recipient",
    "DataFlow",
    "ProcessingActivity",
    "Product",
    "DataCategory",
    "DataSubjectCategory",
    "ApiKey",
    "Objection",
    "Organization",
    "recipient",
    "Query",
    "",
];

/// A global ID: well formed for a real or a missing row, of the wrong type, or junk.
fn id_string() -> BoxedStrategy<String> {
    let row = prop_oneof![
        3 => (1i64..60).prop_map(|n| n.to_string()),
        2 => select(EDGE_INTS).prop_map(|n| n.to_string()),
        1 => select(&["", "-0", "+1", " 1", "1 ", "0x10", "1e3", "1.5", "NaN", "99999999999999999999", "1:2"][..])
            .prop_map(str::to_owned),
        1 => hostile(),
    ];
    prop_oneof![
        6 => (select(TYPE_NAMES), row).prop_map(|(t, r)| URL_SAFE_NO_PAD.encode(format!("{t}:{r}"))),
        1 => vec(any::<u8>(), 0..40).prop_map(|b| URL_SAFE_NO_PAD.encode(b)),
        1 => hostile(),
    ]
    .boxed()
}

/// A pagination cursor: of flows, of change events, or junk.
fn cursor_string() -> BoxedStrategy<String> {
    let n = prop_oneof![
        (0i64..300).prop_map(|n| n.to_string()),
        select(EDGE_INTS).prop_map(|n| n.to_string()),
        hostile(),
    ];
    prop_oneof![
        4 => (select(&["cursor", "change", "Recipient", ""][..]), n)
            .prop_map(|(p, n)| URL_SAFE_NO_PAD.encode(format!("{p}:{n}"))),
        1 => vec(any::<u8>(), 0..40).prop_map(|b| URL_SAFE_NO_PAD.encode(b)),
        1 => hostile(),
    ]
    .boxed()
}

fn int_value() -> BoxedStrategy<Json> {
    prop_oneof![
        4 => (-5i64..600).prop_map(Json::from),
        2 => select(EDGE_INTS).prop_map(Json::from),
        1 => Just(json!(1.5)),
        1 => Just(json!(1e300)),
        1 => Just(json!("10")),
        1 => any_json(),
    ]
    .boxed()
}

/// An instant: any the type can hold (years -262143 to 262142), the edges, dates, junk.
fn datetime_value() -> BoxedStrategy<Json> {
    let min = chrono::DateTime::<Utc>::MIN_UTC.timestamp();
    let max = chrono::DateTime::<Utc>::MAX_UTC.timestamp();
    prop_oneof![
        3 => (946_684_800i64..1_900_000_000).prop_map(|s| {
            Json::from(chrono::DateTime::from_timestamp(s, 0).unwrap().to_rfc3339())
        }),
        2 => (min..=max).prop_map(|s| {
            Json::from(chrono::DateTime::from_timestamp(s, 0).unwrap().to_rfc3339())
        }),
        2 => select(&[
            "+262142-12-31T23:59:59Z",
            "-262143-01-01T00:00:00Z",
            "-4713-11-23T23:59:59Z",
            "0000-12-31T23:59:59Z",
            "0001-01-01T00:00:00Z",
            "9999-12-31T23:59:59Z",
            "+10000-01-01T00:00:00Z",
            "9999-12-31T23:59:59.999999999+14:00",
            "1970-01-01T00:00:00Z",
            "2026-01-01",
            "2026-01-01T00:00:00",
            "2026-13-45T25:61:61Z",
            "now",
        ][..]).prop_map(Json::from),
        1 => any_json(),
    ]
    .boxed()
}

fn date_value() -> BoxedStrategy<Json> {
    prop_oneof![
        3 => (-400_000i32..4_000_000).prop_filter_map("a date", |d| {
            NaiveDate::from_num_days_from_ce_opt(d).map(|d| Json::from(d.to_string()))
        }),
        1 => select(&["+262142-12-31", "-262143-01-01", "2020-02-30", "2020-7-16", "today"][..])
            .prop_map(Json::from),
        1 => any_json(),
    ]
    .boxed()
}

/// Omits the fields whose value is `None`.
fn object(fields: Vec<(&'static str, Option<Json>)>) -> Json {
    Json::Object(
        fields
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v)))
            .collect(),
    )
}

fn opt(value: impl Strategy<Value = Json> + 'static) -> BoxedStrategy<Option<Json>> {
    proptest::option::weighted(0.35, value).boxed()
}

fn ids() -> BoxedStrategy<Json> {
    list_of(id_string().prop_map(Json::from).boxed())
}

fn strings(s: BoxedStrategy<String>) -> BoxedStrategy<Json> {
    list_of(s.prop_map(Json::from).boxed())
}

fn flow_filter() -> BoxedStrategy<Json> {
    let a = (
        opt(ids()),
        opt(strings(country_code())),
        opt(strings(category_string())),
        opt(strings(
            prop_oneof![select(SUBJECTS).prop_map(str::to_owned), key_string()].boxed(),
        )),
        opt(list_of(enum_value(LEGAL_BASES))),
        opt(list_of(enum_value(ORG_ROLES))),
        opt(mostly(any::<bool>().prop_map(Json::from).boxed())),
    );
    let b = (
        opt(strings(
            prop_oneof![select(PRODUCTS).prop_map(str::to_owned), key_string()].boxed(),
        )),
        opt(list_of(enum_value(KINDS))),
        opt(list_of(enum_value(STATUSES))),
        opt(ids()),
        opt(list_of(enum_value(ROLES))),
        opt(mostly(any::<bool>().prop_map(Json::from).boxed())),
        opt(list_of(enum_value(MECHANISMS))),
    );
    mostly(
        (a, b)
            .prop_map(
                |((a1, a2, a3, a4, a5, a6, a7), (b1, b2, b3, b4, b5, b6, b7))| {
                    object(vec![
                        ("activities", a1),
                        ("countries", a2),
                        ("dataCategories", a3),
                        ("dataSubjects", a4),
                        ("legalBases", a5),
                        ("organizationRoles", a6),
                        ("outsideEea", a7),
                        ("products", b1),
                        ("recipientKinds", b2),
                        ("recipientStatuses", b3),
                        ("recipients", b4),
                        ("roles", b5),
                        ("subprocessingOnly", b6),
                        ("transferMechanisms", b7),
                    ])
                },
            )
            .boxed(),
    )
}

fn change_filter() -> BoxedStrategy<Json> {
    mostly(
        (
            opt(list_of(enum_value(CHANGE_KINDS))),
            opt(strings(
                prop_oneof![select(PRODUCTS).prop_map(str::to_owned), key_string()].boxed(),
            )),
            opt(mostly(any::<bool>().prop_map(Json::from).boxed())),
            opt(list_of(enum_value(KINDS))),
        )
            .prop_map(|(k, p, o, r)| {
                object(vec![
                    ("kinds", k),
                    ("products", p),
                    ("publicOnly", o),
                    ("recipientKinds", r),
                ])
            })
            .boxed(),
    )
}

// ---------------------------------------------------------------------------------------------
// The HTTP harness
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Who {
    Admin,
    Editor,
    Viewer,
    Anonymous,
    /// An `Authorization` header of the caller's making.
    Header(String),
}

fn who() -> BoxedStrategy<Who> {
    prop_oneof![
        4 => Just(Who::Admin),
        2 => Just(Who::Viewer),
        3 => Just(Who::Anonymous),
        1 => prop_oneof![
            "[ -~]{0,60}",
            "Bearer [ -~]{0,60}",
            Just("Bearer ".to_owned()),
            Just("Basic YWRtaW46YWRtaW4=".to_owned()),
        ]
        .prop_map(Who::Header),
    ]
    .boxed()
}

struct Reply {
    status: u16,
    content_type: String,
    body: Vec<u8>,
}

struct Fuzz {
    server: TestServer,
    /// A client without default headers: each request sets its own.
    http: reqwest::Client,
    editor: String,
    viewer: String,
    /// How many answers of each kind (status, first error code): what the run reached.
    outcomes: Mutex<BTreeMap<String, usize>>,
}

/// Substrings that must never reach a client unless the client sent them: database, driver and
/// panic messages, source paths.
const INTERNALS: &[&str] = &[
    "sqlx",
    "sqlstate",
    "sea_orm",
    "sea-orm",
    "dberr",
    "panicked",
    "syntax error at or near",
    "error returned from database",
    "unique constraint failed",
    "duplicate key value",
    "violates",
    "no such table",
    "no such column",
    "too many sql variables",
    "expression tree is too large",
    "pool timed out",
    "connection refused",
    "stack backtrace",
    "rust_backtrace",
    "src/",
    ".rs:",
    "/root/",
    "/home/",
    "/tmp/",
    "/work/",
    "sqlite",
    "postgres",
];

fn fail(message: impl Into<String>) -> TestCaseError {
    TestCaseError::fail(message.into())
}

fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let head: String = text.chars().take(max).collect();
        format!("{head}…")
    }
}

/// Checks one GraphQL response document (`{data, errors}`) for `sent`, the request's text.
fn check_document(document: &Json, sent: &str) -> Result<(), TestCaseError> {
    let Some(map) = document.as_object() else {
        return Err(fail(format!(
            "the answer is not a JSON object: {}",
            clip(&document.to_string(), 500)
        )));
    };
    if !map.contains_key("data") && !map.contains_key("errors") {
        return Err(fail(format!(
            "the answer has neither data nor errors: {}",
            clip(&document.to_string(), 500)
        )));
    }
    let Some(errors) = map.get("errors") else {
        return Ok(());
    };
    let Some(errors) = errors.as_array().filter(|e| !e.is_empty()) else {
        return Err(fail(format!(
            "`errors` is not a non-empty list: {}",
            clip(&document.to_string(), 500)
        )));
    };
    let sent = sent.to_lowercase();
    for error in errors {
        let message = error["message"].as_str().unwrap_or("");
        if message.trim().is_empty() {
            return Err(fail(format!("an error without a message: {error}")));
        }
        if error["extensions"]["code"] == "INTERNAL_SERVER_ERROR" {
            return Err(fail(format!(
                "an internal error: {}",
                clip(&error.to_string(), 500)
            )));
        }
        let text = error.to_string().to_lowercase();
        if let Some(leak) = INTERNALS
            .iter()
            .find(|n| text.contains(*n) && !sent.contains(*n))
        {
            return Err(fail(format!(
                "an error shows internals ({leak}): {}",
                clip(&error.to_string(), 500)
            )));
        }
    }
    Ok(())
}

/// Checks an HTTP answer to the request whose text was `sent`; returns its JSON (`Null` for the
/// answers that are not GraphQL documents by design: 406, 413).
fn check_reply(reply: &Reply, sent: &str) -> Result<Json, TestCaseError> {
    let text = String::from_utf8_lossy(&reply.body);
    let context = || format!("status {}, body {}", reply.status, clip(&text, 500));
    // Not acceptable (the client asked for a type the server cannot give) and payload too large
    // are plain text.
    if matches!(reply.status, 406 | 413) {
        return Ok(Json::Null);
    }
    let json: Json = serde_json::from_slice(&reply.body)
        .map_err(|_| fail(format!("the answer is not JSON: {}", context())))?;
    if reply.status >= 500 {
        let timed_out = reply.status == 503
            && json["errors"].as_array().is_some_and(|e| {
                !e.is_empty() && e.iter().all(|e| e["extensions"]["code"] == "TIMEOUT")
            });
        if !timed_out {
            return Err(fail(format!("a server error: {}", context())));
        }
    }
    if !reply.content_type.starts_with("application/json")
        && !reply
            .content_type
            .starts_with("application/graphql-response+json")
    {
        return Err(fail(format!(
            "content type {:?}: {}",
            reply.content_type,
            context()
        )));
    }
    match &json {
        Json::Array(batch) => {
            for document in batch {
                check_document(document, sent)?;
            }
        }
        document => check_document(document, sent)?,
    }
    Ok(json)
}

/// Everything a read can see of the registry, and the length of its change log.
const SNAPSHOT: &str = r#"{
  recipients { key legalName status public country { code } processingLocations { code } }
  processingActivities { key name purposes }
  dataFlows(first: 1) { totalCount }
  dataCategories { key name }
  dataSubjectCategories { key name }
  products { key name }
  organization { name dpoEmail }
  apiKeys { name role revokedAt }
  objections { id status }
}"#;

impl Fuzz {
    async fn start() -> Self {
        let server = TestServer::start_with(ServerSettings {
            // Thousands of requests from one key and one address.
            key_requests_per_minute: 0,
            address_requests_per_minute: 0,
            request_timeout: Duration::from_secs(20),
            ..ServerSettings::default()
        })
        .await;
        let editor = server.key(Role::Editor).await;
        let viewer = server.key(Role::Viewer).await;
        Self {
            server,
            http: reqwest::Client::new(),
            editor,
            viewer,
            outcomes: Mutex::new(BTreeMap::new()),
        }
    }

    /// Checks an answer and counts its kind.
    fn check(&self, reply: &Reply, sent: &str) -> Result<Json, TestCaseError> {
        let json = check_reply(reply, sent)?;
        let document = json.as_array().and_then(|b| b.first()).unwrap_or(&json);
        let outcome = match document["errors"][0]["extensions"]["code"].as_str() {
            Some(code) => code.to_owned(),
            None if document["errors"].is_array() => "error".to_owned(),
            None if document.is_null() => "not JSON by design".to_owned(),
            None => "data".to_owned(),
        };
        *self
            .outcomes
            .lock()
            .unwrap()
            .entry(format!("{} {outcome}", reply.status))
            .or_default() += 1;
        Ok(json)
    }

    fn report(&self, test: &str) {
        eprintln!(
            "{test}: answers by status and first error code: {:?}",
            self.outcomes.lock().unwrap()
        );
    }

    fn authorization(&self, who: &Who) -> Option<String> {
        match who {
            Who::Admin => Some(format!("Bearer {}", self.server.admin_key)),
            Who::Editor => Some(format!("Bearer {}", self.editor)),
            Who::Viewer => Some(format!("Bearer {}", self.viewer)),
            Who::Anonymous => None,
            Who::Header(value) => Some(value.clone()),
        }
    }

    fn graphql_url(&self) -> String {
        format!("{}/graphql", self.server.url)
    }

    /// Sends `request` as `who`, within the deadline.
    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        who: &Who,
    ) -> Result<Reply, TestCaseError> {
        let request = match self.authorization(who) {
            Some(value) => request.header(AUTHORIZATION, value),
            None => request,
        };
        let exchange = async {
            let response = request.send().await?;
            let status = response.status().as_u16();
            let content_type = response
                .headers()
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            let body = response.bytes().await?.to_vec();
            Ok::<_, reqwest::Error>(Reply {
                status,
                content_type,
                body,
            })
        };
        match tokio::time::timeout(DEADLINE, exchange).await {
            Err(_) => Err(fail(format!("no answer within {} s", DEADLINE.as_secs()))),
            Ok(Err(err)) => Err(fail(format!("the request failed: {}", err.without_url()))),
            Ok(Ok(reply)) => Ok(reply),
        }
    }

    /// POSTs a GraphQL request as JSON and checks the answer.
    async fn post(&self, who: &Who, body: &Json) -> Result<Json, TestCaseError> {
        let text = body.to_string();
        let request = self
            .http
            .post(self.graphql_url())
            .header(CONTENT_TYPE, "application/json")
            .body(text.clone());
        let reply = self.send(request, who).await?;
        self.check(&reply, &text)
    }

    async fn fingerprint(&self) -> (usize, Json) {
        (
            self.server.history(json!({})).await.len(),
            self.server.data(SNAPSHOT, json!({})).await,
        )
    }

    async fn assert_alive(&self) {
        let data = self
            .server
            .data("{ organization { name } }", json!({}))
            .await;
        assert!(data["organization"]["name"].is_string(), "{data}");
    }

    /// Runs `test` on `cases` values of `strategy` (more with `PROPTEST_CASES`), driving each
    /// case's requests to completion; panics with the shrunk failing input.
    fn run<S, F, Fut>(&self, cases: u32, strategy: S, test: F)
    where
        S: Strategy,
        F: Fn(S::Value) -> Fut,
        Fut: Future<Output = Result<(), TestCaseError>>,
    {
        let handle = tokio::runtime::Handle::current();
        let mut runner = TestRunner::new(config(cases));
        let result = tokio::task::block_in_place(|| {
            runner.run(&strategy, |value| handle.block_on(test(value)))
        });
        if let Err(err) = result {
            panic!("{err}");
        }
    }
}

/// Whether `document` parses and the operation the request selects is a mutation.
fn is_mutation(document: &str, operation: Option<&str>) -> bool {
    use async_graphql::parser::types::OperationType;
    let Ok(parsed) = async_graphql::parser::parse_query(document) else {
        return false;
    };
    parsed
        .operations
        .iter()
        .find(|(name, _)| operation.is_none() || name.map(|n| n.as_str()) == operation)
        .is_some_and(|(_, op)| op.node.ty == OperationType::Mutation)
}

/// Whether a response carries some data: for a mutation, that it did something.
fn has_data(response: &Json) -> bool {
    response["data"]
        .as_object()
        .is_some_and(|data| data.values().any(|v| !v.is_null()))
}

// ---------------------------------------------------------------------------------------------
// 1. The GraphQL entry point over HTTP
// ---------------------------------------------------------------------------------------------

/// Valid requests to mutate byte by byte.
const BODY_SEEDS: &[&str] = &[
    r#"{"query":"{ subprocessors { key legalName processingLocations { code } } }"}"#,
    r#"{"query":"query($f: DataFlowFilter) { dataFlows(filter: $f, first: 3) { totalCount edges { cursor node { id role } } } }","variables":{"f":{"dataSubjects":["end_users"],"outsideEea":true}}}"#,
    r#"{"query":"query Q($k: String) { recipient(key: $k) { id key } }","operationName":"Q","variables":{"k":"aws"}}"#,
    r#"[{"query":"{ organization { name } }"},{"query":"{ products { key } }"}]"#,
    r#"{"query":"{ __schema { queryType { name } } }","extensions":{}}"#,
];

#[derive(Clone, Debug)]
enum ByteEdit {
    Flip(Index, u8),
    Insert(Index, u8),
    Delete(Index),
}

#[derive(Clone, Debug)]
enum Raw {
    Post {
        content_type: Option<String>,
        accept: Option<String>,
        body: Vec<u8>,
    },
    Get {
        accept: Option<String>,
        query: String,
    },
}

fn content_type() -> BoxedStrategy<Option<String>> {
    prop_oneof![
        8 => Just(Some("application/json".to_owned())),
        1 => Just(None),
        2 => select(&[
            "application/json; charset=utf-8",
            "APPLICATION/JSON",
            "application/graphql",
            "application/graphql-response+json",
            "text/plain",
            "multipart/form-data; boundary=x",
            "application/x-www-form-urlencoded",
            "application/json; charset=latin1",
            "",
        ][..]).prop_map(|s| Some(s.to_owned())),
        1 => "[ -~]{0,40}".prop_map(Some),
    ]
    .boxed()
}

fn accept() -> BoxedStrategy<Option<String>> {
    prop_oneof![
        8 => Just(None),
        6 => select(&[
            "application/json",
            "application/graphql-response+json",
            "application/graphql-response+json, application/json;q=0.9",
            "*/*",
            "application/*",
        ][..]).prop_map(|s| Some(s.to_owned())),
        1 => select(&["application/xml", "text/plain"][..]).prop_map(|s| Some(s.to_owned())),
        1 => "[ -~]{0,40}".prop_map(Some),
    ]
    .boxed()
}

fn request_object() -> BoxedStrategy<Json> {
    (
        // Queries only: this property checks that the registry does not change.
        opt(mostly(
            documents(query_seeds()).prop_map(Json::from).boxed(),
        )),
        opt(any_json()),
        opt(any_json()),
        opt(any_json()),
    )
        .prop_map(|(q, v, o, e)| {
            object(vec![
                ("query", q),
                ("variables", v),
                ("operationName", o),
                ("extensions", e),
            ])
        })
        .boxed()
}

fn raw_request() -> BoxedStrategy<Raw> {
    let body = prop_oneof![
        2 => vec(any::<u8>(), 0..1_024),
        3 => (select(BODY_SEEDS), vec(
            prop_oneof![
                (any::<Index>(), any::<u8>()).prop_map(|(i, b)| ByteEdit::Flip(i, b)),
                (any::<Index>(), any::<u8>()).prop_map(|(i, b)| ByteEdit::Insert(i, b)),
                any::<Index>().prop_map(ByteEdit::Delete),
            ],
            1..6,
        ))
            .prop_map(|(seed, edits)| {
                let mut bytes = seed.as_bytes().to_vec();
                for edit in edits {
                    match edit {
                        ByteEdit::Flip(i, b) if !bytes.is_empty() => {
                            let i = i.index(bytes.len());
                            bytes[i] = b;
                        }
                        ByteEdit::Insert(i, b) => {
                            let i = i.index(bytes.len() + 1);
                            bytes.insert(i, b);
                        }
                        ByteEdit::Delete(i) if !bytes.is_empty() => {
                            let i = i.index(bytes.len());
                            bytes.remove(i);
                        }
                        _ => {}
                    }
                }
                bytes
            }),
        2 => any_json().prop_map(|v| v.to_string().into_bytes()),
        3 => request_object().prop_map(|v| v.to_string().into_bytes()),
        1 => vec(request_object(), 0..8).prop_map(|v| Json::Array(v).to_string().into_bytes()),
        1 => (1usize..3_000).prop_map(|n| format!("{}{}", "[".repeat(n), "]".repeat(n)).into_bytes()),
    ];
    let get_query = prop_oneof![
        2 => "[ -~]{0,200}",
        2 => (document(), opt(any_json()), opt(hostile().prop_map(Json::from).boxed())).prop_map(|(q, v, o)| {
            let mut url = reqwest::Url::parse("http://x/").unwrap();
            {
                let mut pairs = url.query_pairs_mut();
                pairs.append_pair("query", &q);
                if let Some(v) = v {
                    pairs.append_pair("variables", &v.to_string());
                }
                if let Some(Json::String(o)) = o {
                    pairs.append_pair("operationName", &o);
                }
            }
            url.query().unwrap_or("").to_owned()
        }),
        1 => (1usize..5_000, select(&["{", "[", "(", "{a:"][..])).prop_map(|(n, open)| {
            let mut url = reqwest::Url::parse("http://x/").unwrap();
            url.query_pairs_mut().append_pair("query", &format!("{{ a(b: {}) }}", open.repeat(n)));
            url.query().unwrap_or("").to_owned()
        }),
    ];
    prop_oneof![
        4 => (content_type(), accept(), body).prop_map(|(content_type, accept, body)| Raw::Post {
            content_type,
            accept,
            body,
        }),
        1 => (accept(), get_query).prop_map(|(accept, query)| Raw::Get { accept, query }),
    ]
    .boxed()
}

/// Arbitrary bytes, JSON and query strings at the endpoint: a clean refusal or answer, never a
/// server error, and the registry unchanged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arbitrary_requests_are_answered_cleanly() {
    let fuzz = Fuzz::start().await;
    let before = fuzz.fingerprint().await;
    fuzz.run(256, (raw_request(), who()), |(raw, who)| {
        let fuzz = &fuzz;
        async move {
            let (request, sent) = match raw {
                Raw::Post {
                    content_type,
                    accept,
                    body,
                } => {
                    let mut request = fuzz.http.post(fuzz.graphql_url());
                    if let Some(t) = content_type {
                        request = request.header(CONTENT_TYPE, t);
                    }
                    if let Some(a) = accept {
                        request = request.header(ACCEPT, a);
                    }
                    let sent = String::from_utf8_lossy(&body).into_owned();
                    (request.body(body), sent)
                }
                Raw::Get { accept, query } => {
                    let mut url = reqwest::Url::parse(&fuzz.graphql_url()).unwrap();
                    url.set_query(Some(&query));
                    let mut request = fuzz.http.get(url);
                    if let Some(a) = accept {
                        request = request.header(ACCEPT, a);
                    }
                    (request, query)
                }
            };
            let reply = fuzz.send(request, &who).await?;
            fuzz.check(&reply, &sent)?;
            Ok(())
        }
    });
    fuzz.assert_alive().await;
    fuzz.report("arbitrary requests");
    assert_eq!(fuzz.fingerprint().await, before, "the registry changed");
}

/// Tokens of GraphQL documents: punctuators, keywords, the schema's names, values.
const NAMES: &[&str] = &[
    "query",
    "mutation",
    "subscription",
    "fragment",
    "on",
    "true",
    "false",
    "null",
    "__typename",
    "__schema",
    "__type",
    "id",
    "key",
    "legalName",
    "name",
    "code",
    "recipient",
    "recipients",
    "dataFlows",
    "node",
    "filter",
    "first",
    "after",
    "edges",
    "cursor",
    "totalCount",
    "subprocessors",
    "subprocessorChanges",
    "organization",
    "processingActivity",
    "recordOfProcessingActivities",
    "complianceFindings",
    "apiKeys",
    "asOf",
    "input",
    "createRecipient",
    "deleteRecipient",
    "Recipient",
    "DataFlow",
    "Query",
    "PROCESSOR",
    "CONTROLLER",
];

const PUNCTUATORS: &[&str] = &[
    "{", "}", "(", ")", "[", "]", ":", "!", "$", "@", "...", "=", "|", "&", ",", "\"", "#",
];

fn token() -> BoxedStrategy<String> {
    prop_oneof![
        4 => select(NAMES).prop_map(str::to_owned),
        4 => select(PUNCTUATORS).prop_map(str::to_owned),
        1 => "\\$[a-z]{1,3}",
        1 => "@(include|skip|deprecated|specifiedBy|defer|stream)(\\(if: (true|false|\\$x)\\))?",
        1 => literal(),
    ]
    .boxed()
}

/// A GraphQL value literal, well formed or not.
fn literal() -> BoxedStrategy<String> {
    prop_oneof![
        4 => any_json().prop_map(|v| graphql_literal(&v)),
        1 => select(&[
            "1e999", "-0", "0x10", "01", "1.", ".5", "-", "+1", "NaN", "Infinity",
            "2147483648", "-2147483649", "9223372036854775808",
            "\"\\uD800\"", "\"\\u{1F600}\"", "\"\\x41\"", "\"unterminated", "\"\"\"block\"\"\"",
            "\"\"\"\\\"\"\"\"\"\"", "$undefined", "[[[[[]]]]]", "{a:{b:{c:{}}}}", "PROCESSOR",
            "processor", "[PROCESSOR, 1, \"x\", null]",
        ][..]).prop_map(str::to_owned),
    ]
    .boxed()
}

/// The GraphQL literal for a JSON value.
fn graphql_literal(value: &Json) -> String {
    match value {
        Json::Null => "null".into(),
        Json::Bool(b) => b.to_string(),
        Json::Number(n) => n.to_string(),
        Json::String(s) => Json::String(s.clone()).to_string(),
        Json::Array(items) => {
            let items: Vec<String> = items.iter().map(graphql_literal).collect();
            format!("[{}]", items.join(", "))
        }
        Json::Object(fields) => {
            let fields: Vec<String> = fields
                .iter()
                .enumerate()
                .map(|(i, (k, v))| {
                    let name = if is_name(k) {
                        k.clone()
                    } else {
                        format!("f{i}")
                    };
                    format!("{name}: {}", graphql_literal(v))
                })
                .collect();
            format!("{{{}}}", fields.join(", "))
        }
    }
}

fn is_name(text: &str) -> bool {
    text.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Valid queries: every root field, nested selections, fragments, variables, directives.
fn query_seeds() -> Vec<String> {
    [
        "{ subprocessors { key legalName processingLocations { code } } }",
        r#"{ dataFlows(filter: { dataSubjects: ["end_users"], dataCategories: ["contact.phone_number"], outsideEea: true }, first: 3) {
             totalCount edges { node { recipient { legalName } role countries { code } transfers { mechanism sccModule derogation } } } } }"#,
        r#"{ processingActivity(key: "sms_delivery") { name organizationRole legalBasis retention { period reason } dataFlows { recipient { key } role } } }"#,
        r#"query($after: String) { subprocessorChanges(after: $after, first: 5, filter: { publicOnly: true }) {
             totalCount pageInfo { hasNextPage endCursor } edges { cursor node { kind occurredAt recipientId changes { field before after } } } } }"#,
        r#"{ recordOfProcessingActivities(perspective: PROCESSOR, asOf: "2026-01-01T00:00:00Z") {
             organization { name dpoEmail } controllers activities { name purposes transfers { recipient country mechanism } } findings { severity code } } }"#,
        "{ complianceFindings { severity code entity message } }",
        r#"query Q($id: ID!) { node(id: $id) { id ... on Recipient { key legalName } ... on DataFlow { role } } }"#,
        r#"{ recipients(filter: { kinds: [HOSTING_PROVIDER], publicOnly: true }) { key country { code name inEea adequacyDecision { title } } dataFlows { id } } }"#,
        r#"fragment R on Recipient { key legalName } query { a: recipient(key: "aws") { ...R } b: recipient(key: "stripe") { ...R transferSafeguard { mechanism sccModule } } }"#,
        r#"{ adequacyDecisions(asOf: "2020-07-16") { country { code } title inForceUntil scope } }"#,
        "{ dataCategories { key name parent { key } specialCategory } dataSubjectCategories { key } products { key name } organization { name country { code } } }",
        "{ objections(statuses: [RECEIVED]) { id status recipient { key } } }",
        "query { __schema { types { name kind } } }",
        r#"{ __type(name: "Recipient") { fields { name } } __typename }"#,
        r#"{ subprocessors(asOf: "2023-01-01T00:00:00Z") { key } }"#,
        r#"{ dataFlows(first: 2, after: "Y3Vyc29yOjE") { edges { cursor } pageInfo { hasNextPage } } }"#,
        "{ apiKeys { id name role prefix } }",
        r#"query($skip: Boolean = false) { products @skip(if: $skip) { key } organization @include(if: true) { name } }"#,
        r#"{ recipient(key: "aws") { onwardFlows { recipient { key } } dataFlows { activity { key products { key } } via { key } } } }"#,
        r#"query A { organization { name } } query B { products { key } }"#,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// Mutations the registry refuses (missing rows, invalid values); an edit may make one valid.
/// None revokes a key: a mutated ID may name the test's own keys and lock it out.
fn mutation_seeds() -> Vec<String> {
    let ghost = |t: &str| URL_SAFE_NO_PAD.encode(format!("{t}:999999"));
    vec![
        r#"mutation { createRecipient(input: { key: "Bad Key", legalName: "  ", kind: SERVICE_PROVIDER, defaultRole: PROCESSOR, country: "ZZ" }) { id } }"#.to_owned(),
        format!(r#"mutation {{ deleteRecipient(id: "{}", reason: "") }}"#, ghost("Recipient")),
        format!(r#"mutation {{ updateRecipient(id: "{}", input: {{ legalName: "", country: "XK" }}) {{ id }} }}"#, ghost("Recipient")),
        format!(r#"mutation {{ createDataFlow(input: {{ activityId: "{}", recipientId: "{}", countries: ["ZZ"], dataCategories: ["nope"], dataSubjects: [] }}) {{ id }} }}"#, ghost("ProcessingActivity"), ghost("Recipient")),
        format!(r#"mutation {{ announceRecipient(id: "{}", effectiveAt: "1970-01-01T00:00:00Z") {{ id }} }}"#, ghost("Recipient")),
        format!(r#"mutation {{ objectToSubprocessor(input: {{ recipientId: "{}", customer: "", contact: "", reason: "" }}) {{ id }} }}"#, ghost("Recipient")),
        r#"mutation { createProcessingActivity(input: { key: "x y", name: "", organizationRole: PROCESSOR, purposes: [""], dataSubjects: ["nope"], dataCategories: ["contact..phone"], retentionPeriod: "6 months" }) { id } }"#.to_owned(),
        r#"mutation { createDataCategory(input: { key: "no_such_parent.Child", name: "" }) { id } }"#.to_owned(),
        format!(r#"mutation {{ resolveObjection(id: "{}", status: REJECTED) {{ id }} }}"#, ghost("Objection")),
        r#"mutation { updateOrganization(input: { name: "", address: "", country: "XK", dpoName: "", dpoEmail: "" }) { name } }"#.to_owned(),
        format!(r#"mutation {{ deleteProduct(id: "{}") deleteDataSubjectCategory(id: "{}") }}"#, ghost("Product"), ghost("DataSubjectCategory")),
        r#"mutation { createApiKey(name: " ", role: OWNER) { secret } }"#.to_owned(),
        format!(r#"mutation($id: ID! = "{}") {{ deleteDataFlow(id: $id, reason: "x") updateDataFlow(id: $id, input: {{ countries: ["ZZ"] }}) {{ id }} }}"#, ghost("DataFlow")),
    ]
}

/// Splits a document into tokens (strings and block strings whole).
fn tokenize(document: &str) -> Vec<String> {
    let chars: Vec<char> = document.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        if c.is_whitespace() || c == ',' {
            i += 1;
            continue;
        }
        if chars[i..].starts_with(&['"', '"', '"']) {
            i += 3;
            while i < chars.len() && !chars[i..].starts_with(&['"', '"', '"']) {
                i += 1;
            }
            i = (i + 3).min(chars.len());
        } else if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i = (i + 1).min(chars.len());
        } else if chars[i..].starts_with(&['.', '.', '.']) {
            i += 3;
        } else if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '$' | '@') {
            // A name, a number, or a variable or directive with its name.
            i += 1;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || matches!(chars[i], '_' | '.' | '+' | '-'))
                && !chars[i..].starts_with(&['.', '.', '.'])
            {
                i += 1;
            }
        } else {
            i += 1;
        }
        tokens.push(chars[start..i].iter().collect());
    }
    tokens
}

#[derive(Clone, Debug)]
enum Edit {
    Delete(Index),
    Duplicate(Index),
    Insert(Index, String),
    Swap(Index, Index),
    /// Replaces a token with a literal.
    Replace(Index, String),
    /// Replaces a value (a string, a number, an enum value after `:`) with a literal.
    ReplaceValue(Index, String),
    InsertChar(Index, Index, char),
    DeleteChar(Index, Index),
    Truncate(Index),
}

fn edit() -> BoxedStrategy<Edit> {
    prop_oneof![
        2 => any::<Index>().prop_map(Edit::Delete),
        1 => any::<Index>().prop_map(Edit::Duplicate),
        2 => (any::<Index>(), token()).prop_map(|(i, t)| Edit::Insert(i, t)),
        1 => (any::<Index>(), any::<Index>()).prop_map(|(i, j)| Edit::Swap(i, j)),
        1 => (any::<Index>(), literal()).prop_map(|(i, l)| Edit::Replace(i, l)),
        4 => (any::<Index>(), literal()).prop_map(|(i, l)| Edit::ReplaceValue(i, l)),
        1 => (any::<Index>(), any::<Index>(), any::<char>()).prop_map(|(i, j, c)| Edit::InsertChar(i, j, c)),
        1 => (any::<Index>(), any::<Index>()).prop_map(|(i, j)| Edit::DeleteChar(i, j)),
        1 => any::<Index>().prop_map(Edit::Truncate),
    ]
    .boxed()
}

fn apply(document: &str, edits: &[Edit]) -> String {
    let mut tokens = tokenize(document);
    for edit in edits {
        let n = tokens.len();
        match edit {
            Edit::Delete(i) if n > 0 => {
                tokens.remove(i.index(n));
            }
            Edit::Duplicate(i) if n > 0 => {
                let i = i.index(n);
                tokens.insert(i, tokens[i].clone());
            }
            Edit::Insert(i, t) => tokens.insert(i.index(n + 1), t.clone()),
            Edit::Swap(i, j) if n > 0 => tokens.swap(i.index(n), j.index(n)),
            Edit::Replace(i, l) if n > 0 => tokens[i.index(n)] = l.clone(),
            Edit::ReplaceValue(i, l) => {
                let values: Vec<usize> = (0..n)
                    .filter(|&k| {
                        tokens[k].starts_with(|c: char| c == '"' || c == '-' || c.is_ascii_digit())
                            || (k > 0
                                && tokens[k - 1] == ":"
                                && tokens[k] != "{"
                                && tokens[k] != "[")
                    })
                    .collect();
                if !values.is_empty() {
                    tokens[values[i.index(values.len())]] = l.clone();
                }
            }
            Edit::InsertChar(i, j, c) if n > 0 => {
                let token = &mut tokens[i.index(n)];
                let mut chars: Vec<char> = token.chars().collect();
                chars.insert(j.index(chars.len() + 1), *c);
                *token = chars.into_iter().collect();
            }
            Edit::DeleteChar(i, j) if n > 0 => {
                let token = &mut tokens[i.index(n)];
                let mut chars: Vec<char> = token.chars().collect();
                if !chars.is_empty() {
                    chars.remove(j.index(chars.len()));
                }
                *token = chars.into_iter().collect();
            }
            Edit::Truncate(i) if n > 0 => tokens.truncate(i.index(n)),
            _ => {}
        }
    }
    tokens.join(" ")
}

/// A document: a query or mutation seed, mutated or not, or token soup, or any text.
fn document() -> BoxedStrategy<String> {
    documents([query_seeds(), mutation_seeds()].concat())
}

/// A document from `seeds`, mutated or not, or token soup, or any text.
fn documents(seeds: Vec<String>) -> BoxedStrategy<String> {
    prop_oneof![
        2 => select(seeds.clone()),
        4 => (select(seeds.clone()), vec((any::<Index>(), prop_oneof![
            3 => hostile().prop_map(|s| Json::String(s).to_string()),
            1 => id_string().prop_map(|s| Json::String(s).to_string()),
            1 => datetime_value().prop_map(|v| graphql_literal(&v)),
            1 => int_value().prop_map(|v| graphql_literal(&v)),
            2 => literal(),
        ]), 1..4)).prop_map(|(seed, edits)| {
            let edits: Vec<Edit> = edits.into_iter().map(|(i, l)| Edit::ReplaceValue(i, l)).collect();
            apply(&seed, &edits)
        }),
        4 => (select(seeds), vec(edit(), 1..4)).prop_map(|(seed, edits)| apply(&seed, &edits)),
        1 => vec(token(), 0..60).prop_map(|t| t.join(" ")),
        1 => vec(any::<char>(), 0..300).prop_map(String::from_iter),
        1 => (1usize..600, select(&["{", "[", "(", "{a:", "... on Query {", "a {"][..]))
            .prop_map(|(n, open)| format!("{{ a(b: {}", open.repeat(n))),
    ]
    .boxed()
}

const VARIABLE_NAMES: &[&str] = &[
    "id", "input", "after", "filter", "first", "key", "asOf", "skip", "f", "k", "x",
];

fn variables() -> BoxedStrategy<Json> {
    prop_oneof![
        3 => Just(Json::Null),
        4 => vec(
            (
                prop_oneof![4 => select(VARIABLE_NAMES).prop_map(str::to_owned), 1 => json_key()],
                prop_oneof![
                    2 => id_string().prop_map(Json::from),
                    1 => cursor_string().prop_map(Json::from),
                    1 => flow_filter(),
                    1 => int_value(),
                    3 => any_json(),
                ],
            ),
            0..4,
        )
        .prop_map(|e| Json::Object(e.into_iter().collect())),
        1 => any_json(),
    ]
    .boxed()
}

/// Mutated documents, token soup and arbitrary text as the `query`, with random variables and
/// operation names, from every kind of caller.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arbitrary_and_mutated_documents_are_answered_cleanly() {
    let fuzz = Fuzz::start().await;
    // The registry as it stands, moved on by each mutation that succeeds (a mutated document
    // may well be a valid mutation); every other mutation must leave it as it is.
    let baseline = tokio::sync::Mutex::new(fuzz.fingerprint().await);
    let succeeded = Mutex::new(Vec::<String>::new());
    let operation = prop_oneof![
        12 => Just(None),
        1 => select(&["Q", "A", "B", "", "nope"][..]).prop_map(|s| Some(s.to_owned())),
        1 => hostile().prop_map(Some),
    ];
    fuzz.run(
        256,
        (document(), variables(), operation, who()),
        |(query, variables, operation, who)| {
            let (fuzz, baseline, succeeded) = (&fuzz, &baseline, &succeeded);
            async move {
                let mut body = json!({ "query": query, "variables": variables });
                if let Some(operation) = &operation {
                    body["operationName"] = json!(operation);
                }
                let response = fuzz.post(&who, &body).await?;
                if is_mutation(&query, operation.as_deref()) {
                    let mut baseline = baseline.lock().await;
                    let now = fuzz.fingerprint().await;
                    if has_data(&response) {
                        succeeded.lock().unwrap().push(query);
                        *baseline = now;
                    } else {
                        prop_assert!(*baseline == now, "a refused mutation changed the registry");
                    }
                }
                Ok(())
            }
        },
    );
    fuzz.assert_alive().await;
    fuzz.report("documents");
    assert!(
        *baseline.lock().await == fuzz.fingerprint().await,
        "the registry changed"
    );
    let succeeded = succeeded.into_inner().unwrap();
    if !succeeded.is_empty() {
        eprintln!("mutated documents that were valid mutations: {succeeded:#?}");
    }
}

const READS: &[&str] = &[
    r#"query($filter: DataFlowFilter, $first: Int, $after: String) {
         dataFlows(filter: $filter, first: $first, after: $after) {
           totalCount pageInfo { hasNextPage endCursor startCursor }
           edges { cursor node { id role recipient { key public } countries { code } transfers { mechanism } dataCategories { key } } } } }"#,
    r#"query($filter: RecipientListFilter) { recipients(filter: $filter) { key legalName status public isSubprocessor } }"#,
    r#"query($after: String, $first: Int, $filter: ChangeFilterInput) {
         subprocessorChanges(after: $after, first: $first, filter: $filter) {
           totalCount pageInfo { hasNextPage endCursor } nodes { cursor sequence kind recipientId public changes { field } } } }"#,
    r#"query($id: ID!) { node(id: $id) { id __typename ... on Recipient { key public } ... on DataFlow { role } } }"#,
    r#"query($id: ID, $key: String) { recipient(id: $id, key: $key) { id key public dataFlows { id } } }"#,
    r#"query($id: ID, $key: String) { processingActivity(id: $id, key: $key) { id key dataFlows { id } } }"#,
    r#"query($asOf: DateTime) { subprocessors(asOf: $asOf) { key legalName processingLocations { code } } }"#,
    r#"query($asOf: DateTime) { complianceFindings(asOf: $asOf) { code entity } }"#,
    r#"query($perspective: Perspective!, $asOf: DateTime) { recordOfProcessingActivities(perspective: $perspective, asOf: $asOf) { asOf activities { key transfers { country } } findings { code } } }"#,
    r#"query($asOf: NaiveDate) { adequacyDecisions(asOf: $asOf) { title country { code } } }"#,
    r#"query($recipientId: ID, $statuses: [ObjectionStatus!]) { objections(recipientId: $recipientId, statuses: $statuses) { id status } }"#,
];

fn recipient_filter() -> BoxedStrategy<Json> {
    let fields = (
        opt(list_of(enum_value(KINDS))),
        opt(any::<bool>().prop_map(Json::from)),
        opt(list_of(enum_value(STATUSES))),
        opt(any_json()),
    );
    mostly(
        fields
            .prop_map(|(k, p, s, o)| {
                object(vec![
                    ("kinds", k),
                    ("publicOnly", p),
                    ("statuses", s),
                    ("subprocessorsOnly", o),
                ])
            })
            .boxed(),
    )
}

/// One of `READS` with its variables, each present or not.
fn read_request() -> BoxedStrategy<(&'static str, Json)> {
    let read = |query: usize, fields: Vec<(&'static str, BoxedStrategy<Json>)>| {
        let names: Vec<&'static str> = fields.iter().map(|(n, _)| *n).collect();
        let values: Vec<BoxedStrategy<Option<Json>>> =
            fields.into_iter().map(|(_, s)| opt(s)).collect();
        values
            .prop_map(move |values| {
                let variables = object(names.iter().copied().zip(values).collect());
                (READS[query], variables)
            })
            .boxed()
    };
    let key = || {
        prop_oneof![
            select(RECIPIENT_KEYS).prop_map(str::to_owned),
            select(ACTIVITY_KEYS).prop_map(str::to_owned),
            key_string()
        ]
        .prop_map(Json::from)
        .boxed()
    };
    let id = || id_string().prop_map(Json::from).boxed();
    let cursor = || mostly(cursor_string().prop_map(Json::from).boxed());
    let perspective = || enum_value(&["CONTROLLER", "PROCESSOR"]);
    prop_oneof![
        3 => read(0, vec![("filter", flow_filter()), ("first", int_value()), ("after", cursor())]),
        1 => read(1, vec![("filter", recipient_filter())]),
        2 => read(2, vec![("after", cursor()), ("first", int_value()), ("filter", change_filter())]),
        2 => read(3, vec![("id", id())]),
        1 => read(4, vec![("id", id()), ("key", key())]),
        1 => read(5, vec![("id", id()), ("key", key())]),
        1 => read(6, vec![("asOf", datetime_value())]),
        1 => read(7, vec![("asOf", datetime_value())]),
        1 => read(8, vec![("perspective", perspective()), ("asOf", datetime_value())]),
        1 => read(9, vec![("asOf", date_value())]),
        1 => read(10, vec![("recipientId", id()), ("statuses", list_of(enum_value(OBJECTION_STATUSES)))]),
    ]
    .boxed()
}

/// Real read operations with arbitrary variables, from every kind of caller: answered cleanly,
/// the registry unchanged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_with_arbitrary_variables_are_answered_cleanly() {
    let fuzz = Fuzz::start().await;
    let before = fuzz.fingerprint().await;
    fuzz.run(256, (read_request(), who()), |((query, variables), who)| {
        let fuzz = &fuzz;
        async move {
            let response = fuzz
                .post(&who, &json!({ "query": query, "variables": variables }))
                .await?;
            // Without a key, nothing internal: no internal recipient, no flow, no key.
            if matches!(who, Who::Anonymous) {
                if let Some(recipients) = response["data"]["subprocessors"].as_array() {
                    prop_assert!(recipients.iter().all(|r| r["key"].is_string()));
                }
                for path in [&response["data"]["recipient"], &response["data"]["node"]] {
                    prop_assert!(
                        path.is_null() || path["public"] == true || path["__typename"] == "Product",
                        "an anonymous caller read {path}"
                    );
                }
                prop_assert!(
                    response["data"]["dataFlows"].is_null(),
                    "an anonymous caller read flows"
                );
            }
            Ok(())
        }
    });
    fuzz.assert_alive().await;
    fuzz.report("reads");
    assert_eq!(fuzz.fingerprint().await, before, "the registry changed");
}

// ---------------------------------------------------------------------------------------------
// Mutations with an editor key: refused cleanly, or stored as the rules say
// ---------------------------------------------------------------------------------------------

const CREATE_RECIPIENT: &str = r#"mutation($input: CreateRecipientInput!, $reason: String) {
  createRecipient(input: $input, reason: $reason) {
    key legalName description dpaReference website privacyNoticeUrl certifications assumptions
    sources country { code } processingLocations { code } status public dpfCertified
  } }"#;

const CREATE_ACTIVITY: &str = r#"mutation($input: CreateProcessingActivityInput!, $reason: String) {
  createProcessingActivity(input: $input, reason: $reason) {
    key name description purposes legalBasis controllers securityMeasures assumptions sources
    specialCategoryCondition retention { period from reason }
    dataCategories { key } dataSubjects { key } products { key }
  } }"#;

/// `input` (an object), with one field in four replaced by any JSON value or removed.
fn corrupt(input: BoxedStrategy<Json>) -> BoxedStrategy<Json> {
    let damage = proptest::option::weighted(
        0.25,
        (any::<Index>(), proptest::option::weighted(0.8, any_json())),
    );
    (input, damage)
        .prop_map(|(mut input, damage)| {
            if let (Some((index, value)), Some(fields)) = (damage, input.as_object_mut()) {
                let names: Vec<String> = fields.keys().cloned().collect();
                let name = &names[index.index(names.len())];
                match value {
                    Some(value) => fields.insert(name.clone(), value),
                    None => fields.remove(name),
                };
            }
            input
        })
        .boxed()
}

/// A text of the kind a field holds, or a hostile one.
fn text_value(valid: &'static str) -> BoxedStrategy<Json> {
    prop_oneof![
        5 => valid.prop_map(Json::from),
        2 => hostile().prop_map(Json::from),
    ]
    .boxed()
}

fn text_list(valid: &'static str) -> BoxedStrategy<Json> {
    prop_oneof![
        5 => vec(valid, 0..4).prop_map(Json::from),
        2 => vec(hostile(), 0..4).prop_map(Json::from),
    ]
    .boxed()
}

fn recipient_input() -> BoxedStrategy<Json> {
    let a = (
        prop_oneof![6 => "fz_[a-z0-9_]{1,16}".prop_map(Json::from), 1 => key_string().prop_map(Json::from)],
        text_value("[A-Z][A-Za-z .,&()-]{0,40}"),
        enum_value(KINDS),
        enum_value(ROLES),
        prop_oneof![6 => select(&["NL", "DE", "IE", "FR", "US", "GB"][..]).prop_map(Json::from), 2 => country_code().prop_map(Json::from)],
        opt(text_value("[A-Za-z ,.]{0,60}")),
        opt(
            prop_oneof![6 => vec(select(&["NL", "DE", "IE", "NO"][..]), 0..3).prop_map(Json::from), 1 => strings(country_code())],
        ),
    );
    let b = (
        opt(text_value("DPA-[0-9]{1,6}")),
        opt(text_list("[A-Za-z0-9 :/.-]{1,30}")),
        opt(mostly(any::<bool>().prop_map(Json::from).boxed())),
        opt(text_value("https://[a-z]{1,12}\\.example/[a-z]{0,10}")),
        opt(text_value("https://[a-z]{1,12}\\.example/privacy")),
        opt(
            prop_oneof![3 => select(&["PROPOSED"][..]).prop_map(Json::from), 1 => enum_value(STATUSES)],
        ),
        opt(mostly(any::<bool>().prop_map(Json::from).boxed())),
        (
            opt(text_list("[A-Za-z ,.]{1,40}")),
            opt(text_list("[A-Za-z0-9 ,.§]{1,40}")),
        ),
    );
    (a, b)
        .prop_map(
            |(
                (key, name, kind, role, country, description, locations),
                (dpa, certs, dpf, website, notice, status, public, (assumptions, sources)),
            )| {
                object(vec![
                    ("key", Some(key)),
                    ("legalName", Some(name)),
                    ("kind", Some(kind)),
                    ("defaultRole", Some(role)),
                    ("country", Some(country)),
                    ("description", description),
                    ("processingLocations", locations),
                    ("dpaReference", dpa),
                    ("certifications", certs),
                    ("dpfCertified", dpf),
                    ("website", website),
                    ("privacyNoticeUrl", notice),
                    ("status", status),
                    ("public", public),
                    ("assumptions", assumptions),
                    ("sources", sources),
                ])
            },
        )
        .boxed()
}

fn activity_input() -> BoxedStrategy<Json> {
    let a = (
        prop_oneof![6 => "fz_[a-z0-9_]{1,16}".prop_map(Json::from), 1 => key_string().prop_map(Json::from)],
        text_value("[A-Z][A-Za-z ]{0,40}"),
        opt(text_value("[A-Za-z ,.]{0,60}")),
        enum_value(ORG_ROLES),
        opt(text_list("[a-z ]{1,20}")),
        text_list("[A-Za-z ]{1,30}"),
        opt(enum_value(LEGAL_BASES)),
    );
    let b = (
        prop_oneof![5 => vec(select(SUBJECTS), 1..3).prop_map(Json::from), 1 => strings(key_string())],
        prop_oneof![5 => vec(select(CATEGORIES), 1..3).prop_map(Json::from), 1 => strings(category_string())],
        opt(
            prop_oneof![5 => vec(select(PRODUCTS), 0..3).prop_map(Json::from), 1 => strings(key_string())],
        ),
        opt(prop_oneof![
            5 => "P[0-9]{1,3}[YMWD]".prop_map(Json::from),
            1 => "P[0-9]{0,6}[A-Za-z]{0,2}".prop_map(Json::from),
            1 => hostile().prop_map(Json::from),
        ]),
        opt(text_value("[A-Za-z ,.]{0,60}")),
        opt(text_list("[A-Za-z ]{1,30}")),
        opt(text_value("Art\\. 9\\(2\\)\\([a-j]\\)")),
        opt(enum_value(RETENTION_STARTS)),
    );
    (a, b)
        .prop_map(
            |(
                (key, name, description, role, controllers, purposes, basis),
                (subjects, categories, products, period, reason, measures, special, from),
            )| {
                object(vec![
                    ("key", Some(key)),
                    ("name", Some(name)),
                    ("description", description),
                    ("organizationRole", Some(role)),
                    ("controllers", controllers),
                    ("purposes", Some(purposes)),
                    ("legalBasis", basis),
                    ("dataSubjects", Some(subjects)),
                    ("dataCategories", Some(categories)),
                    ("products", products),
                    ("retentionPeriod", period),
                    ("retentionFrom", from),
                    ("retentionReason", reason),
                    ("securityMeasures", measures),
                    ("specialCategoryCondition", special),
                ])
            },
        )
        .boxed()
}

/// Characters a reader cannot see, stated from the Unicode Character Database as the regex
/// crate has it (independently of the ICU4X data the registry reads): default-ignorable code
/// points, line and paragraph separators, the blank Braille pattern.
fn invisible(c: char) -> bool {
    static DEFAULT_IGNORABLE: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"^\p{Default_Ignorable_Code_Point}$").expect("a valid pattern")
    });
    DEFAULT_IGNORABLE.is_match(c.encode_utf8(&mut [0; 4]))
        || matches!(c as u32, 0x2028 | 0x2029 | 0x2800)
}

/// Whether `chars[i]` is refused as unseen. A zero-width (non-)joiner is kept after a virama
/// (canonical combining class 9, RFC 5892 CONTEXTJ); the non-joiner's other context, between
/// two joining letters, is checked by the registry's unit tests (random text never builds it).
fn unseen(chars: &[char], i: usize) -> bool {
    let c = chars[i];
    if matches!(c as u32, 0x200C | 0x200D) {
        return !(i > 0
            && unicode_normalization::char::canonical_combining_class(chars[i - 1]) == 9);
    }
    invisible(c)
}

/// Whether bidi isolates (U+2066-U+2068, closed by U+2069) open and close in pairs.
fn isolates_balanced(value: &str) -> bool {
    let mut depth = 0usize;
    for c in value.chars() {
        match c as u32 {
            0x2066..=0x2068 => depth += 1,
            0x2069 if depth == 0 => return false,
            0x2069 => depth -= 1,
            _ => {}
        }
    }
    depth == 0
}

/// What the `name` rule makes of `value`, if it accepts it.
fn expect_name(value: &str) -> Option<String> {
    let value = value.trim();
    let chars: Vec<char> = value.chars().collect();
    let ok = !value.is_empty()
        && chars.len() <= 200
        && !chars.iter().any(|c| c.is_control())
        && !(0..chars.len()).any(|i| unseen(&chars, i));
    ok.then(|| value.to_owned())
}

/// What the `text` rule makes of `value`: `Err` when it refuses it. Balanced bidi isolates
/// may set a right-to-left passage apart.
fn expect_text(value: Option<&str>) -> Result<Option<String>, ()> {
    let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let chars: Vec<char> = v.chars().collect();
    let control = |c: char| c.is_control() && !matches!(c, '\n' | '\r' | '\t');
    let isolate = |c: char| matches!(c as u32, 0x2066..=0x2069);
    let refused = chars.len() > 4_000
        || chars.iter().any(|c| control(*c))
        || (0..chars.len()).any(|i| !isolate(chars[i]) && unseen(&chars, i))
        || !isolates_balanced(v);
    if refused {
        Err(())
    } else {
        Ok(Some(v.to_owned()))
    }
}

fn expect_texts(values: &[String]) -> Result<Vec<String>, ()> {
    if values.len() > 200 {
        return Err(());
    }
    let mut out: Vec<String> = Vec::new();
    for value in values {
        let value = expect_text(Some(value))?.ok_or(())?;
        if !out.contains(&value) {
            out.push(value);
        }
    }
    Ok(out)
}

fn expect_key(value: &str) -> bool {
    (1..=64).contains(&value.len())
        && value.starts_with(|c: char| c.is_ascii_lowercase())
        && value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn expect_url(value: Option<&str>) -> Result<Option<String>, ()> {
    match expect_text(value)? {
        None => Ok(None),
        Some(v)
            if (v.starts_with("http://") || v.starts_with("https://"))
                && !v.chars().any(char::is_whitespace)
                && url::Url::parse(&v)
                    .is_ok_and(|u| u.host_str().is_some_and(|h| !h.is_empty())) =>
        {
            Ok(Some(v))
        }
        Some(_) => Err(()),
    }
}

fn expect_period(value: Option<&str>) -> Result<Option<String>, ()> {
    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let bytes = value.as_bytes();
    let ok = bytes.len() >= 3
        && bytes.len() <= 6
        && bytes[0] == b'P'
        && bytes[1..bytes.len() - 1].iter().all(u8::is_ascii_digit)
        && matches!(bytes[bytes.len() - 1], b'Y' | b'M' | b'W' | b'D');
    if ok {
        Ok(Some(value.to_owned()))
    } else {
        Err(())
    }
}

/// The string items of a JSON list, if it is one of strings.
fn string_list(value: &Json) -> Option<Vec<String>> {
    value
        .as_array()?
        .iter()
        .map(|v| v.as_str().map(str::to_owned))
        .collect()
}

/// The strings an accepted list input stands for: absent or null is empty, and a single value
/// is a list of one (GraphQL input coercion).
fn input_list(value: &Json) -> Vec<String> {
    match value {
        Json::String(s) => vec![s.clone()],
        value => string_list(value).unwrap_or_default(),
    }
}

/// Checks a text field the server stored (`stored`) against the `text` rule on its input.
fn check_text_field(field: &str, input: &Json, stored: &Json) -> Result<(), TestCaseError> {
    let expected = expect_text(input.as_str())
        .map_err(|_| fail(format!("{field}: an over-long text {input} was accepted")))?;
    prop_assert_eq!(stored.as_str().map(str::to_owned), expected, "{}", field);
    Ok(())
}

fn check_texts_field(field: &str, input: &Json, stored: &Json) -> Result<(), TestCaseError> {
    let input = input_list(input);
    let expected =
        expect_texts(&input).map_err(|_| fail(format!("{field}: {input:?} was accepted")))?;
    prop_assert_eq!(string_list(stored), Some(expected), "{}", field);
    Ok(())
}

/// An accepted recipient must be stored as the rules normalise its input.
fn check_recipient(input: &Json, stored: &Json) -> Result<(), TestCaseError> {
    let key = input["key"].as_str().unwrap_or("");
    prop_assert!(expect_key(key), "an invalid key was accepted: {:?}", key);
    prop_assert_eq!(&stored["key"], &input["key"]);
    let name = expect_name(input["legalName"].as_str().unwrap_or(""));
    prop_assert!(
        name.is_some(),
        "an invalid legalName was accepted: {}",
        input["legalName"]
    );
    prop_assert_eq!(stored["legalName"].as_str(), name.as_deref());
    check_text_field("description", &input["description"], &stored["description"])?;
    check_text_field(
        "dpaReference",
        &input["dpaReference"],
        &stored["dpaReference"],
    )?;
    for field in ["website", "privacyNoticeUrl"] {
        let expected = expect_url(input[field].as_str())
            .map_err(|_| fail(format!("{field}: {} was accepted", input[field])))?;
        prop_assert_eq!(
            stored[field].as_str().map(str::to_owned),
            expected,
            "{}",
            field
        );
    }
    for field in ["certifications", "assumptions", "sources"] {
        check_texts_field(field, &input[field], &stored[field])?;
    }
    let country = input["country"].as_str().unwrap_or("");
    prop_assert!(
        subreg::reference::country(country).is_some(),
        "country {:?} was accepted",
        country
    );
    prop_assert_eq!(stored["country"]["code"].as_str(), Some(country));
    let mut locations = Vec::new();
    for code in input_list(&input["processingLocations"]) {
        prop_assert!(
            subreg::reference::country(&code).is_some(),
            "location {:?} was accepted",
            code
        );
        if !locations.contains(&code) {
            locations.push(code);
        }
    }
    let stored_locations: Vec<String> = stored["processingLocations"]
        .as_array()
        .map(|l| {
            l.iter()
                .filter_map(|c| c["code"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    prop_assert_eq!(
        stored_locations.iter().collect::<BTreeSet<_>>(),
        locations.iter().collect::<BTreeSet<_>>()
    );
    let status = input["status"].as_str().unwrap_or("PROPOSED");
    prop_assert_eq!(stored["status"].as_str(), Some(status));
    Ok(())
}

fn check_activity(input: &Json, stored: &Json) -> Result<(), TestCaseError> {
    let key = input["key"].as_str().unwrap_or("");
    prop_assert!(expect_key(key), "an invalid key was accepted: {:?}", key);
    prop_assert_eq!(&stored["key"], &input["key"]);
    let name = expect_name(input["name"].as_str().unwrap_or(""));
    prop_assert!(
        name.is_some(),
        "an invalid name was accepted: {}",
        input["name"]
    );
    prop_assert_eq!(stored["name"].as_str(), name.as_deref());
    check_text_field("description", &input["description"], &stored["description"])?;
    check_text_field(
        "specialCategoryCondition",
        &input["specialCategoryCondition"],
        &stored["specialCategoryCondition"],
    )?;
    for field in [
        "purposes",
        "controllers",
        "securityMeasures",
        "assumptions",
        "sources",
    ] {
        check_texts_field(field, &input[field], &stored[field])?;
    }
    let period = expect_period(input["retentionPeriod"].as_str()).map_err(|_| {
        fail(format!(
            "retentionPeriod {} was accepted",
            input["retentionPeriod"]
        ))
    })?;
    prop_assert_eq!(
        stored["retention"]["period"].as_str().map(str::to_owned),
        period.clone()
    );
    // A period runs from a start; data kept for the duration of the contract takes none; any
    // other start needs a period.
    let from = input["retentionFrom"].as_str();
    let consistent = match (&period, from) {
        (Some(_), None) | (Some(_), Some("DURATION_OF_CONTRACT")) => false,
        (None, Some(f)) => f == "DURATION_OF_CONTRACT",
        _ => true,
    };
    prop_assert!(
        consistent,
        "retention {:?} from {:?} was accepted",
        period,
        from
    );
    prop_assert_eq!(stored["retention"]["from"].as_str(), from);
    for (field, stored_field) in [
        ("dataCategories", "dataCategories"),
        ("dataSubjects", "dataSubjects"),
        ("products", "products"),
    ] {
        let mut expected: Vec<String> = input_list(&input[field]);
        expected.sort();
        expected.dedup();
        let mut got: Vec<String> = stored[stored_field]
            .as_array()
            .map(|l| {
                l.iter()
                    .filter_map(|c| c["key"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        got.sort();
        prop_assert_eq!(got, expected, "{}", field);
    }
    Ok(())
}

/// The names a `BAD_USER_INPUT` error may give as its field: the operation's arguments and
/// their input fields.
fn known_field(field: &str, inputs: &[&str]) -> bool {
    let root = field
        .trim_start_matches("input.")
        .split(['.', '['])
        .next()
        .unwrap_or("");
    root == "input" || root == "reason" || inputs.contains(&root)
}

const RECIPIENT_FIELDS: &[&str] = &[
    "key",
    "legalName",
    "kind",
    "defaultRole",
    "description",
    "country",
    "processingLocations",
    "transferSafeguard",
    "dpaReference",
    "certifications",
    "dpfCertified",
    "website",
    "privacyNoticeUrl",
    "status",
    "public",
    "assumptions",
    "sources",
];
const ACTIVITY_FIELDS: &[&str] = &[
    "key",
    "name",
    "description",
    "organizationRole",
    "controllers",
    "purposes",
    "legalBasis",
    "dataSubjects",
    "dataCategories",
    "products",
    "retentionPeriod",
    "retentionFrom",
    "retentionReason",
    "securityMeasures",
    "specialCategoryCondition",
    "assumptions",
    "sources",
];

/// Creations with arbitrary inputs and an editor key: refused with a clean error that names
/// the input field, or stored normalised; the registry holds exactly what was accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creations_with_arbitrary_inputs_store_only_valid_values() {
    let fuzz = Fuzz::start().await;
    let (history_before, snapshot_before) = fuzz.fingerprint().await;
    let created = Mutex::new(HashMap::<&'static str, Vec<String>>::new());
    let request = prop_oneof![
        3 => (corrupt(recipient_input()), opt(hostile().prop_map(Json::from)))
            .prop_map(|(i, r)| (CREATE_RECIPIENT, "createRecipient", i, r)),
        2 => (corrupt(activity_input()), opt(hostile().prop_map(Json::from)))
            .prop_map(|(i, r)| (CREATE_ACTIVITY, "createProcessingActivity", i, r)),
    ];
    fuzz.run(192, request, |(query, field, input, reason)| {
        let (fuzz, created) = (&fuzz, &created);
        async move {
            let variables = object(vec![("input", Some(input.clone())), ("reason", reason)]);
            let response = fuzz
                .post(
                    &Who::Editor,
                    &json!({ "query": query, "variables": variables }),
                )
                .await?;
            let stored = &response["data"][field];
            if stored.is_object() {
                if field == "createRecipient" {
                    check_recipient(&input, stored)?;
                } else {
                    check_activity(&input, stored)?;
                }
                created
                    .lock()
                    .unwrap()
                    .entry(field)
                    .or_default()
                    .push(input["key"].as_str().unwrap_or("").to_owned());
                return Ok(());
            }
            let errors = response["errors"].as_array().cloned().unwrap_or_default();
            prop_assert!(!errors.is_empty(), "neither data nor errors: {}", response);
            for error in &errors {
                let code = error["extensions"]["code"].as_str();
                prop_assert!(
                    matches!(
                        code,
                        None | Some("BAD_USER_INPUT" | "CONFLICT" | "NOT_FOUND")
                    ),
                    "unexpected error: {}",
                    error
                );
                if code == Some("BAD_USER_INPUT") {
                    let named = error["extensions"]["field"].as_str().unwrap_or("");
                    let inputs = if field == "createRecipient" {
                        RECIPIENT_FIELDS
                    } else {
                        ACTIVITY_FIELDS
                    };
                    prop_assert!(
                        known_field(named, inputs),
                        "the error names no input field: {}",
                        error
                    );
                }
            }
            Ok(())
        }
    });
    fuzz.assert_alive().await;
    fuzz.report("creations");
    let created = created.into_inner().unwrap();
    let (history_after, snapshot_after) = fuzz.fingerprint().await;
    let count = |f: &str| created.get(f).map_or(0, Vec::len);
    let keys = |snapshot: &Json, list: &str| -> BTreeSet<String> {
        snapshot[list]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["key"].as_str().unwrap().to_owned())
            .collect()
    };
    let mut expected = keys(&snapshot_before, "recipients");
    expected.extend(created.get("createRecipient").cloned().unwrap_or_default());
    assert_eq!(keys(&snapshot_after, "recipients"), expected, "recipients");
    let mut expected = keys(&snapshot_before, "processingActivities");
    expected.extend(
        created
            .get("createProcessingActivity")
            .cloned()
            .unwrap_or_default(),
    );
    assert_eq!(
        keys(&snapshot_after, "processingActivities"),
        expected,
        "activities"
    );
    for part in [
        "dataFlows",
        "dataCategories",
        "dataSubjectCategories",
        "products",
        "organization",
        "apiKeys",
        "objections",
    ] {
        assert_eq!(
            snapshot_after[part], snapshot_before[part],
            "{part} changed"
        );
    }
    // One event of the feed per recipient created (activities are not on the feed).
    let events = history_after - history_before;
    assert_eq!(
        events,
        count("createRecipient"),
        "change events for {created:?}"
    );
    eprintln!(
        "created {} recipients and {} activities; {events} change events",
        count("createRecipient"),
        count("createProcessingActivity")
    );
}

// ---------------------------------------------------------------------------------------------
// 2. The input validation, on the library
// ---------------------------------------------------------------------------------------------

fn field_name() -> BoxedStrategy<String> {
    prop_oneof![
        3 => select(&["legalName", "description", "countries", "transfers[0]", "input.key", ""][..]).prop_map(str::to_owned),
        1 => "[a-zA-Z_.\\[\\]0-9]{1,20}",
    ]
    .boxed()
}

fn any_text() -> BoxedStrategy<String> {
    prop_oneof![
        3 => hostile(),
        2 => any::<String>(),
        2 => "[a-z][a-z0-9_]{0,70}",
        1 => "[a-z_]{1,8}(\\.[a-z_]{0,8}){0,3}",
        1 => "(https?://)?[ -~]{0,30}",
        1 => "\\s{0,3}P[0-9]{0,5}[YMWDH]?\\s{0,3}",
        1 => "P[0-9]{3,5}[YMWD]",
        1 => (hostile(), "[ \\t\\n\u{a0}\u{3000}]{0,3}", "[ \\t\\n\u{a0}\u{3000}]{0,3}")
            .prop_map(|(s, a, b)| format!("{a}{s}{b}")),
        // Texts at the length bounds (64, 128, 200, 4,000), in characters of 1 to 4 bytes.
        2 => (
            select(&["a", "é", "😀", "ab.", "\u{85}", "a\u{7f}"][..]),
            select(&[63usize, 64, 65, 127, 128, 129, 199, 200, 201, 3_999, 4_000, 4_001][..]),
            select(&["", " ", "\n"][..]),
        )
            .prop_map(|(unit, n, pad)| {
                let mut text: String = unit.chars().cycle().take(n).collect();
                text.insert_str(0, pad);
                text.push_str(pad);
                text
            }),
    ]
    .boxed()
}

fn is_invalid(err: &RegistryError, expected_field: &str) -> bool {
    matches!(err, RegistryError::Invalid { field, message } if field == expected_field && !message.is_empty())
}

/// The 30 member states of the European Economic Area.
const EEA: &[&str] = &[
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IS",
    "IT", "LI", "LT", "LU", "LV", "MT", "NL", "NO", "PL", "PT", "RO", "SE", "SI", "SK",
];

fn mechanism() -> BoxedStrategy<TransferMechanism> {
    select(TransferMechanism::iter().collect::<Vec<_>>()).boxed()
}

fn derogation() -> BoxedStrategy<Derogation> {
    select(Derogation::iter().collect::<Vec<_>>()).boxed()
}

fn tia_date() -> BoxedStrategy<NaiveDate> {
    let today = Utc::now().date_naive();
    prop_oneof![
        4 => (-12_000i64..30).prop_map(move |d| today + chrono::Duration::days(d)),
        2 => (-1i64..=1).prop_map(move |d| today + chrono::Duration::days(d)),
        1 => select(vec![
            NaiveDate::MIN,
            NaiveDate::MAX,
            NaiveDate::from_ymd_opt(2000, 1, 1).unwrap(),
            NaiveDate::from_ymd_opt(1999, 12, 31).unwrap(),
        ]),
    ]
    .boxed()
}

fn safeguard_value() -> BoxedStrategy<Safeguard> {
    (
        mechanism(),
        proptest::option::of(prop_oneof![4 => 0i32..6, 1 => any::<i32>()]),
        proptest::option::of(derogation()),
        proptest::option::of(any_text()),
        proptest::option::of(tia_date()),
    )
        .prop_map(
            |(mechanism, scc_module, derogation, safeguards, tia_date)| Safeguard {
                mechanism,
                scc_module,
                derogation,
                safeguards,
                tia_date,
            },
        )
        .boxed()
}

/// The law a transfer is made under, as the oracle names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Law {
    Eu,
    Uk,
    Swiss,
}

/// The exporter's role, as the oracle names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    Controller,
    Processor,
    Conduit,
}

/// Who a transfer is between, as the fuzzed cases vary it.
#[derive(Clone, Debug)]
struct Between {
    law: Law,
    exporter: Side,
    importer: entity::RecipientRole,
    /// The organization acts as processor in the activity and the importer is its customer.
    served: bool,
    kind: entity::RecipientKind,
    dpf: bool,
    certifications: Vec<String>,
}

const UK_EXTENSION: &str = "UK Extension to the EU-U.S. Data Privacy Framework";
const SWISS_DPF: &str = "Swiss-U.S. Data Privacy Framework";

fn between() -> BoxedStrategy<Between> {
    use entity::{RecipientKind as K, RecipientRole as R};
    (
        select(vec![Law::Eu, Law::Eu, Law::Uk, Law::Swiss]),
        select(vec![Side::Controller, Side::Processor, Side::Conduit]),
        select(vec![
            R::Controller,
            R::JointController,
            R::Processor,
            R::MereConduit,
        ]),
        any::<bool>(),
        select(vec![
            K::ServiceProvider,
            K::PublicAuthority,
            K::TelecomOperator,
        ]),
        any::<bool>(),
        proptest::sample::subsequence(vec![UK_EXTENSION.to_owned(), SWISS_DPF.to_owned()], 0..=2),
    )
        .prop_map(
            |(law, exporter, importer, served, kind, dpf, certifications)| Between {
                law,
                exporter,
                importer,
                served,
                // The served controller is a customer of the organization.
                kind: if served { K::Customer } else { kind },
                dpf,
                certifications,
            },
        )
        .boxed()
}

/// The module the oracle expects the roles to give: `Ok(Some(m))` a module, `Ok(None)` a
/// processor's transfer to a third-party controller (no module: only module 1 on a recorded
/// position), `Err(true)` a mere conduit importer (no transfer at all), `Err(false)` a
/// conveying exporter (no module follows: one must be named).
fn expected_module(b: &Between) -> Result<Option<i32>, bool> {
    use entity::RecipientRole as R;
    let controller = matches!(b.importer, R::Controller | R::JointController);
    match (b.exporter, b.importer) {
        (_, R::MereConduit) => Err(true),
        (Side::Conduit, _) => Err(false),
        (Side::Controller, _) if controller => Ok(Some(1)),
        (Side::Controller, _) => Ok(Some(2)),
        (Side::Processor, R::Processor) => Ok(Some(3)),
        (Side::Processor, _) if b.served => Ok(Some(4)),
        (Side::Processor, _) => Ok(None),
    }
}

/// Whether `code`'s adequacy decision under `b.law` covers `b`'s importer on `today`: the
/// decisions of the EU, the UK's adequacy regulations and the Swiss Federal Council's Annex 1,
/// restated for the countries the cases use.
fn oracle_adequate(b: &Between, code: &str, today: NaiveDate) -> bool {
    let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
    let public = b.kind == entity::RecipientKind::PublicAuthority;
    let certified = |framework: &str| b.certifications.iter().any(|c| c == framework);
    match b.law {
        Law::Eu => match code {
            // Decision 2021/1772, renewed by (EU) 2025/2574 until 27 December 2031.
            "GB" => today < day(2031, 12, 27),
            "CH" | "IL" | "JE" | "KR" => true,
            "JP" | "CA" => !public,
            "US" => b.dpf && today >= day(2023, 7, 10),
            "BR" => today >= day(2026, 1, 26),
            _ => false,
        },
        Law::Uk => match code {
            c if EEA.contains(&c) => true,
            "CH" | "IL" | "JE" => true,
            "KR" => today >= day(2022, 12, 19),
            "JP" | "CA" => !public,
            "US" => certified(UK_EXTENSION) && today >= day(2023, 10, 12),
            _ => false,
        },
        Law::Swiss => match code {
            c if EEA.contains(&c) => true,
            "IL" | "JE" => true,
            "CA" => !public,
            "US" => certified(SWISS_DPF) && today >= day(2024, 9, 15),
            // The UK, Japan, Korea and Brazil are not in the part of Annex 1 the reference
            // table verified.
            _ => false,
        },
    }
}

/// Whether `code` is free of Chapter V under `law`: the EEA for the EU GDPR, the UK itself for
/// the UK GDPR, Switzerland itself for the FADP.
fn oracle_free_flow(law: Law, code: &str) -> bool {
    match law {
        Law::Eu => EEA.contains(&code),
        Law::Uk => code == "GB",
        Law::Swiss => code == "CH",
    }
}

/// The module a safeguard is stored with if the rules accept `s` for a transfer to `country`
/// today between `b`'s parties, or `None` when they refuse it.
fn safeguard_ok(country: Option<&str>, s: &Safeguard, b: &Between) -> Option<Option<i32>> {
    use TransferMechanism as M;
    let today = Utc::now().date_naive();
    let documented = match expect_text(s.safeguards.as_deref()) {
        Ok(text) => text.is_some(),
        Err(()) => return None,
    };
    // Each regime has its own instruments: the UK's exist only under the UK GDPR, which has
    // no EU clauses alone.
    let exists = !matches!(
        (b.law, s.mechanism),
        (Law::Eu | Law::Swiss, M::UkIdta | M::UkAddendum)
            | (Law::Uk, M::StandardContractualClauses)
    );
    if !exists {
        return None;
    }
    let takes_module = matches!(
        (b.law, s.mechanism),
        (Law::Eu | Law::Swiss, M::StandardContractualClauses) | (Law::Uk, M::UkAddendum)
    );
    let module = if takes_module {
        if s.scc_module.is_some_and(|m| !(1..=4).contains(&m)) {
            return None;
        }
        match (expected_module(b), s.scc_module) {
            (Err(true), _) | (Err(false), None) => return None,
            (Err(false), given) => given,
            (Ok(Some(m)), None) => Some(m),
            (Ok(Some(m)), Some(given)) if given == m => Some(m),
            (Ok(Some(_)), Some(_)) => return None,
            (Ok(None), Some(1)) if documented => Some(1),
            (Ok(None), _) => return None,
        }
    } else if s.scc_module.is_some() {
        return None;
    } else {
        None
    };
    if (s.mechanism == M::Derogation) != s.derogation.is_some() {
        return None;
    }
    if let Some(d) = s.derogation {
        if b.law == Law::Swiss && d == Derogation::CompellingLegitimateInterests {
            return None;
        }
        // Art. 49 applies only in the absence of an adequacy decision for the importer.
        if country.is_some_and(|c| oracle_adequate(b, c, today)) {
            return None;
        }
        // Occasional-only derogations, consent and compelling legitimate interests on a flow
        // that recurs: only with the reason recorded.
        let needs_reason = matches!(
            d,
            Derogation::ExplicitConsent
                | Derogation::ContractWithDataSubject
                | Derogation::ContractInDataSubjectInterest
                | Derogation::LegalClaims
                | Derogation::CompellingLegitimateInterests
        );
        if needs_reason && !documented {
            return None;
        }
    }
    if s.tia_date
        .is_some_and(|d| d > today || d < NaiveDate::from_ymd_opt(2000, 1, 1).unwrap())
    {
        return None;
    }
    if s.mechanism == M::AdequacyDecision && country.is_some_and(|c| !oracle_adequate(b, c, today))
    {
        return None;
    }
    Some(module)
}

/// The validation's view of `b`: the parties as the registry builds them for a flow.
fn parties<'a>(
    b: &'a Between,
    table: &'a subreg::reference::AdequacyTable,
) -> validate::TransferParties<'a> {
    use subreg::registry::transfers::{self, ExporterRole, Party};
    let (regime, country) = match b.law {
        Law::Eu => (Regime::EuGdpr, "NL"),
        Law::Uk => (Regime::UkGdpr, "GB"),
        Law::Swiss => (Regime::SwissFadp, "CH"),
    };
    let exporter_role = match b.exporter {
        Side::Controller => ExporterRole::Controller,
        Side::Processor => ExporterRole::Processor,
        Side::Conduit => ExporterRole::Conduit,
    };
    let activity_role = if b.served {
        entity::OrganizationRole::Processor
    } else {
        entity::OrganizationRole::Controller
    };
    validate::TransferParties {
        exporter: Party {
            name: "Exporter Ltd",
            country,
        },
        regime,
        modules: validate::ModuleCheck::Flow {
            rule: transfers::module_rule(exporter_role, activity_role, b.importer, b.kind),
            exporter_role,
            importer_role: b.importer,
        },
        importer_name: "Importer Ltd",
        importer: subreg::reference::Importer {
            kind: b.kind,
            dpf_certified: b.dpf,
            certifications: &b.certifications,
        },
        adequacy: table,
        today: Utc::now().date_naive(),
    }
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn name_accepts_exactly_trimmed_bounded_single_line_text(field in field_name(), value in any_text()) {
        match validate::name(&field, &value) {
            Ok(v) => prop_assert_eq!(Some(v), expect_name(&value)),
            Err(e) => {
                prop_assert!(is_invalid(&e, &field), "{:?}", e);
                prop_assert_eq!(expect_name(&value), None);
            }
        }
    }

    #[test]
    fn text_accepts_exactly_bounded_text(field in field_name(), value in proptest::option::of(any_text())) {
        match validate::text(&field, value.as_deref()) {
            Ok(v) => prop_assert_eq!(Ok(v), expect_text(value.as_deref())),
            Err(e) => {
                prop_assert!(is_invalid(&e, &field), "{:?}", e);
                prop_assert!(expect_text(value.as_deref()).is_err());
            }
        }
    }

    #[test]
    fn texts_accepts_exactly_lists_of_non_empty_texts(
        field in field_name(),
        values in prop_oneof![8 => vec(any_text(), 0..8), 1 => vec("[a-z]{0,3}", 195..205)],
    ) {
        match validate::texts(&field, &values) {
            Ok(v) => prop_assert_eq!(Ok(v), expect_texts(&values)),
            Err(e) => {
                prop_assert!(expect_texts(&values).is_err());
                let RegistryError::Invalid { field: named, .. } = &e else {
                    return Err(fail(format!("not an Invalid error: {e:?}")));
                };
                prop_assert!(named == &field || named.starts_with(&format!("{field}[")), "{:?}", e);
            }
        }
    }

    #[test]
    fn key_accepts_exactly_lowercase_identifiers(field in field_name(), value in any_text()) {
        match validate::key(&field, &value) {
            Ok(v) => {
                prop_assert_eq!(&v, &value);
                prop_assert!(expect_key(&value));
            }
            Err(e) => {
                prop_assert!(is_invalid(&e, &field), "{:?}", e);
                prop_assert!(!expect_key(&value));
            }
        }
    }

    #[test]
    fn category_key_accepts_exactly_dotted_keys(
        field in field_name(),
        value in prop_oneof![
            3 => any_text(),
            // Well-formed keys around the 128-byte bound.
            1 => (1usize..10, 124usize..133).prop_map(|(segment, n)| {
                let unit = format!("{}.", "a".repeat(segment));
                let mut key: String = unit.chars().cycle().take(n).collect();
                if key.ends_with('.') {
                    key.pop();
                    key.push('z');
                }
                key
            }),
        ],
    ) {
        let expected = value.len() <= 128 && value.split('.').all(expect_key);
        match validate::category_key(&field, &value) {
            Ok(v) => {
                prop_assert_eq!(&v, &value);
                prop_assert!(expected);
            }
            Err(e) => {
                prop_assert!(is_invalid(&e, &field), "{:?}", e);
                prop_assert!(!expected);
            }
        }
    }

    #[test]
    fn country_accepts_only_canonical_alpha2_codes(
        field in field_name(),
        value in prop_oneof![3 => select(COUNTRY_CODES).prop_map(str::to_owned), 2 => "[A-Za-z]{1,3}", 1 => any_text()],
    ) {
        match validate::country(&field, &value) {
            Ok(v) => {
                prop_assert_eq!(&v, &value);
                prop_assert!(value.len() == 2 && value.bytes().all(|b| b.is_ascii_uppercase()));
                prop_assert!(!["XK", "UK", "EL", "EU", "ZZ", "AA"].contains(&value.as_str()));
            }
            Err(e) => {
                prop_assert!(is_invalid(&e, &field), "{:?}", e);
                let assigned = ["US", "GB", "NL", "DE", "IE", "IN", "SG", "CH", "JP", "NO", "IS", "GR", "FO"];
                prop_assert!(!assigned.contains(&value.as_str()));
            }
        }
    }

    #[test]
    fn countries_are_valid_and_deduplicated(
        field in field_name(),
        values in prop_oneof![
            8 => vec(prop_oneof![4 => select(COUNTRY_CODES).prop_map(str::to_owned), 1 => any_text()], 0..8),
            1 => vec(select(EEA).prop_map(str::to_owned), 248..253),
        ],
    ) {
        match validate::countries(&field, &values) {
            Ok(v) => {
                prop_assert!(values.len() <= 250);
                let mut expected: Vec<String> = Vec::new();
                for code in &values {
                    prop_assert!(validate::country("c", code).is_ok());
                    if !expected.contains(code) {
                        expected.push(code.clone());
                    }
                }
                prop_assert_eq!(v, expected);
            }
            Err(e) => {
                let RegistryError::Invalid { field: named, .. } = &e else {
                    return Err(fail(format!("not an Invalid error: {e:?}")));
                };
                prop_assert!(named == &field || named.starts_with(&format!("{field}[")), "{:?}", e);
                prop_assert!(values.len() > 250 || values.iter().any(|c| validate::country("c", c).is_err()));
            }
        }
    }

    #[test]
    fn instant_accepts_exactly_the_years_1_to_9999(
        field in field_name(),
        seconds in prop_oneof![
            chrono::DateTime::<Utc>::MIN_UTC.timestamp()..=chrono::DateTime::<Utc>::MAX_UTC.timestamp(),
            // Around the first and the last second of the range.
            select(&[-62_135_596_800i64, 253_402_300_799][..]).prop_flat_map(|s| s - 2..s + 3),
        ],
    ) {
        use chrono::Datelike as _;
        let at = chrono::DateTime::from_timestamp(seconds, 0).unwrap();
        match validate::instant(&field, at) {
            Ok(()) => prop_assert!((1..=9999).contains(&at.year()), "{}", at),
            Err(e) => {
                prop_assert!(is_invalid(&e, &field), "{:?}", e);
                prop_assert!(!(1..=9999).contains(&at.year()), "{}", at);
            }
        }
    }

    #[test]
    fn bounded_accepts_at_most_200_entries(field in field_name(), len in prop_oneof![0usize..400, 195usize..206]) {
        match validate::bounded(&field, len) {
            Ok(()) => prop_assert!(len <= 200),
            Err(e) => {
                prop_assert!(is_invalid(&e, &field), "{:?}", e);
                prop_assert!(len > 200);
            }
        }
    }

    #[test]
    fn url_accepts_exactly_http_and_https(field in field_name(), value in proptest::option::of(any_text())) {
        match validate::url(&field, value.as_deref()) {
            Ok(v) => prop_assert_eq!(Ok(v), expect_url(value.as_deref())),
            Err(e) => {
                prop_assert!(is_invalid(&e, &field), "{:?}", e);
                prop_assert!(expect_url(value.as_deref()).is_err());
            }
        }
    }

    #[test]
    fn retention_period_accepts_exactly_single_unit_durations(
        field in field_name(),
        value in proptest::option::of(any_text()),
    ) {
        match validate::retention_period(&field, value.as_deref()) {
            Ok(v) => prop_assert_eq!(Ok(v), expect_period(value.as_deref())),
            Err(e) => {
                prop_assert!(is_invalid(&e, &field), "{:?}", e);
                prop_assert!(expect_period(value.as_deref()).is_err());
            }
        }
    }

    #[test]
    fn safeguard_accepts_exactly_consistent_safeguards(
        field in field_name(),
        country in proptest::option::of(select(&["US", "GB", "IN", "NL", "CH", "BR", "CA", "JP"][..])),
        safeguard in safeguard_value(),
        between in between(),
    ) {
        let table = subreg::reference::AdequacyTable::builtin();
        let expected = safeguard_ok(country, &safeguard, &between);
        match validate::safeguard(&field, country.as_slice(), &safeguard, &parties(&between, &table)) {
            Ok(v) => {
                prop_assert!(expected.is_some(), "accepted: {:?} between {:?}", safeguard, between);
                prop_assert_eq!(v.mechanism, safeguard.mechanism);
                prop_assert_eq!(v.scc_module, expected.flatten(), "the module stored");
                prop_assert_eq!(v.derogation, safeguard.derogation);
                prop_assert_eq!(v.tia_date, safeguard.tia_date);
                prop_assert_eq!(Ok(v.safeguards), expect_text(safeguard.safeguards.as_deref()));
            }
            Err(e) => {
                prop_assert!(expected.is_none(), "refused: {:?} between {:?}: {:?}", safeguard, between, e);
                let RegistryError::Invalid { field: named, .. } = &e else {
                    return Err(fail(format!("not an Invalid error: {e:?}")));
                };
                prop_assert!(named.starts_with(&format!("{field}.")), "{:?}", e);
            }
        }
    }

    #[test]
    fn transfers_cover_each_destination_outside_the_free_flow_area_once(
        countries in vec(select(&["NL", "DE", "US", "IN", "GB", "SG", "CH", "ZZ"][..]).prop_map(str::to_owned), 0..5),
        transfers in vec(
            (
                prop_oneof![6 => select(&["US", "IN", "GB", "SG", "CH", "NL", "ZZ", "us"][..]).prop_map(str::to_owned), 1 => any_text()],
                prop_oneof![
                    4 => Just(Safeguard {
                        mechanism: TransferMechanism::AdHocClauses,
                        scc_module: None,
                        derogation: None,
                        safeguards: None,
                        tia_date: None,
                    }),
                    1 => safeguard_value(),
                ],
            ),
            0..5,
        ),
        between in between(),
    ) {
        let mut countries = countries;
        countries.dedup();
        let transfers: Vec<TransferInput> = transfers
            .into_iter()
            .map(|(country, safeguard)| TransferInput { country, safeguard })
            .collect();
        let law = between.law;
        // A mere conduit receives no transfer: none may be recorded, and none is missing.
        let conduit = between.importer == entity::RecipientRole::MereConduit;
        let mut seen = HashSet::new();
        let expected = transfers.iter().all(|t| {
            validate::country("c", &t.country).is_ok()
                && countries.contains(&t.country)
                && seen.insert(t.country.clone())
                && !conduit
                && !oracle_free_flow(law, &t.country)
                && safeguard_ok(Some(&t.country), &t.safeguard, &between).is_some()
        }) && (conduit || countries.iter().all(|c| oracle_free_flow(law, c) || seen.contains(c)));
        let table = subreg::reference::AdequacyTable::builtin();
        match validate::transfers(&countries, &transfers, &parties(&between, &table), &validate::Recorded::default()) {
            Ok(v) => {
                prop_assert!(expected, "accepted: {:?} for {:?} between {:?}", transfers, countries, between);
                prop_assert_eq!(v.len(), transfers.len());
                for (out, t) in v.iter().zip(&transfers) {
                    prop_assert_eq!(&out.country, &t.country);
                }
            }
            Err(e) => {
                prop_assert!(!expected, "refused: {:?} for {:?} between {:?}: {:?}", transfers, countries, between, e);
                let RegistryError::Invalid { field, .. } = &e else {
                    return Err(fail(format!("not an Invalid error: {e:?}")));
                };
                prop_assert!(field.starts_with("transfers"), "{:?}", e);
            }
        }
    }

    #[test]
    fn retention_needs_its_start(
        period in proptest::option::of(select(&["P6M", "P1Y", "P10Y"][..])),
        from in proptest::option::of(select(entity::RetentionStart::iter().collect::<Vec<_>>())),
    ) {
        use entity::RetentionStart::DurationOfContract;
        // A period runs from a start; the duration of the contract is no period; a start other
        // than the contract's duration needs a period.
        let expected = match (period, from) {
            (Some(_), None) | (Some(_), Some(DurationOfContract)) => false,
            (None, Some(f)) => f == DurationOfContract,
            (None, None) => true,
            (Some(_), Some(_)) => true,
        };
        match validate::retention_start(period, from) {
            Ok(()) => prop_assert!(expected, "accepted {:?} from {:?}", period, from),
            Err(e) => {
                prop_assert!(!expected, "refused {:?} from {:?}: {:?}", period, from, e);
                prop_assert!(is_invalid(&e, "retentionFrom") || is_invalid(&e, "retentionPeriod"), "{:?}", e);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 3. The document limits
// ---------------------------------------------------------------------------------------------

/// One lexical token of the GraphQL grammar.
fn lexical_token() -> BoxedStrategy<String> {
    prop_oneof![
        4 => "[_A-Za-z][_0-9A-Za-z]{0,10}",
        2 => "-?(0|[1-9][0-9]{0,8})",
        2 => "-?(0|[1-9][0-9]{0,3})(\\.[0-9]{1,3})?([eE][+-]?[0-9]{1,3})?",
        2 => "\"([^\"\\\\\n\r]|\\\\[\"\\\\/bfnrt]|\\\\u[0-9a-fA-F]{4}){0,12}\"",
        1 => "\"\"\"([a-z ,#\n]|\"[a-z]|\\\\\"\"\"|\\\\[a-z]){0,10}\"\"\"",
        4 => select(&["!", "$", "&", "(", ")", "...", ":", "=", "@", "[", "]", "{", "|", "}"][..]).prop_map(str::to_owned),
    ]
    .boxed()
}

/// What the grammar ignores between tokens: white space, line ends, commas, comments, a BOM.
fn separator() -> BoxedStrategy<String> {
    prop_oneof![
        4 => select(&[" ", "\t", "\n", "\r\n", "\r", ",", " , ", "\u{feff}"][..]).prop_map(str::to_owned),
        1 => "#[^\n\r]{0,20}\n",
    ]
    .boxed()
}

/// A fragment-heavy document: its fragments and operation as lists of selections.
#[derive(Clone, Debug)]
enum Sel {
    Field { alias: bool, children: Vec<Sel> },
    Inline(Vec<Sel>),
    Spread(Index),
}

fn selections() -> BoxedStrategy<Vec<Sel>> {
    let leaf = prop_oneof![
        2 => any::<bool>().prop_map(|alias| Sel::Field { alias, children: Vec::new() }),
        3 => any::<Index>().prop_map(Sel::Spread),
    ];
    let sel = leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            (any::<bool>(), vec(inner.clone(), 1..4))
                .prop_map(|(alias, children)| Sel::Field { alias, children }),
            vec(inner, 1..4).prop_map(Sel::Inline),
        ]
    });
    vec(sel, 1..5).boxed()
}

#[derive(Clone, Debug)]
struct FragmentDoc {
    /// `fragments[i]` may spread only fragments after it, unless `cycles`.
    fragments: Vec<Vec<Sel>>,
    operation: Vec<Sel>,
    cycles: bool,
}

impl FragmentDoc {
    /// The fragment a spread in fragment `from` (the operation: `None`) names.
    fn target(&self, from: Option<usize>, index: &Index) -> usize {
        let n = self.fragments.len();
        match from {
            Some(i) if !self.cycles => i + 1 + index.index(n - i - 1),
            _ => index.index(n),
        }
    }

    fn render(&self, out: &mut String, from: Option<usize>, set: &[Sel]) {
        out.push_str("{ ");
        for sel in set {
            match sel {
                // The last fragment spreads nothing (unless cycles): it gets a field.
                Sel::Spread(_)
                    if from.is_some_and(|i| i + 1 == self.fragments.len()) && !self.cycles =>
                {
                    out.push_str("z ");
                }
                Sel::Spread(index) => out.push_str(&format!("...F{} ", self.target(from, index))),
                Sel::Field { alias, children } => {
                    if *alias {
                        out.push_str("x: ");
                    }
                    out.push_str("f ");
                    if !children.is_empty() {
                        self.render(out, from, children);
                    }
                }
                Sel::Inline(children) => {
                    out.push_str("... on Query ");
                    self.render(out, from, children);
                }
            }
        }
        out.push_str("} ");
    }

    fn text(&self) -> String {
        let mut out = String::from("query ");
        self.render(&mut out, None, &self.operation);
        for (i, fragment) in self.fragments.iter().enumerate() {
            out.push_str(&format!("\nfragment F{i} on Query "));
            self.render(&mut out, Some(i), fragment);
        }
        out
    }

    /// The fields selected with every fragment expanded (`u128::MAX` for a cycle).
    fn expanded(&self) -> u128 {
        let mut sizes: HashMap<usize, Option<u128>> = HashMap::new();
        self.size(None, &self.operation, &mut sizes)
    }

    fn size(
        &self,
        from: Option<usize>,
        set: &[Sel],
        sizes: &mut HashMap<usize, Option<u128>>,
    ) -> u128 {
        let mut total = 0u128;
        for sel in set {
            let size = match sel {
                Sel::Spread(_)
                    if from.is_some_and(|i| i + 1 == self.fragments.len()) && !self.cycles =>
                {
                    1
                }
                Sel::Spread(index) => {
                    let target = self.target(from, index);
                    match sizes.get(&target) {
                        Some(Some(size)) => *size,
                        Some(None) => u128::MAX,
                        None => {
                            sizes.insert(target, None);
                            let size = self.size(Some(target), &self.fragments[target], sizes);
                            sizes.insert(target, Some(size));
                            size
                        }
                    }
                }
                Sel::Field { children, .. } => {
                    1u128.saturating_add(self.size(from, children, sizes))
                }
                Sel::Inline(children) => self.size(from, children, sizes),
            };
            total = total.saturating_add(size);
        }
        total
    }

    fn aliases(&self) -> usize {
        fn count(set: &[Sel]) -> usize {
            set.iter()
                .map(|s| match s {
                    Sel::Field { alias, children } => usize::from(*alias) + count(children),
                    Sel::Inline(children) => count(children),
                    Sel::Spread(_) => 0,
                })
                .sum()
        }
        count(&self.operation) + self.fragments.iter().map(|f| count(f)).sum::<usize>()
    }
}

fn fragment_doc() -> BoxedStrategy<FragmentDoc> {
    (
        vec(selections(), 1..14),
        selections(),
        prop::bool::weighted(0.2),
    )
        .prop_map(|(fragments, operation, cycles)| FragmentDoc {
            fragments,
            operation,
            cycles,
        })
        .boxed()
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn count_tokens_stops_just_past_its_bound(
        source in prop_oneof![
            any::<String>(),
            vec(any::<char>(), 0..400).prop_map(String::from_iter),
            vec(token(), 0..80).prop_map(|t| t.join(" ")),
            vec(
                select(&["\"", "\"\"\"", "\\", "#", "...", ".", "-", "e", "+", "1", "\n", "\u{feff}", "\u{ef}", " "][..]),
                0..80,
            )
            .prop_map(|t| t.concat()),
        ],
        stop in 0usize..100,
    ) {
        let full = count_tokens(&source, usize::MAX);
        prop_assert!(full <= source.len());
        prop_assert_eq!(count_tokens(&source, stop), full.min(stop + 1));
    }

}

proptest! {
    #![proptest_config(config(128))]

    #[test]
    fn count_tokens_counts_the_tokens_of_the_grammar(
        first in separator(),
        tokens in vec((lexical_token(), vec(separator(), 1..3)), 0..60),
    ) {
        let mut source = first;
        for (token, separators) in &tokens {
            source.push_str(token);
            source.push_str(&separators.concat());
        }
        prop_assert_eq!(count_tokens(&source, usize::MAX), tokens.len(), "{:?}", source);
    }

    #[test]
    fn measure_counts_expanded_fields_and_saturates(doc in fragment_doc(), bound in 1usize..2_000) {
        let text = doc.text();
        let parsed = async_graphql::parser::parse_query(&text)
            .map_err(|e| fail(format!("the generated document does not parse: {e}\n{text}")))?;
        let started = Instant::now();
        let shape = measure(&parsed, bound);
        prop_assert!(started.elapsed() < Duration::from_secs(2), "measure took {:?}", started.elapsed());
        let expected = doc.expanded().min(bound as u128 + 1) as usize;
        prop_assert_eq!(shape.fields, expected, "{}", text);
        prop_assert_eq!(shape.aliases, doc.aliases());
    }

}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn fragment_bombs_saturate(levels in 1usize..64, width in 2usize..5, fields in 1usize..4, bound in 1usize..100_000) {
        let mut text = String::from("query { ...F0 }\n");
        for i in 0..levels {
            let spreads = format!("...F{} ", i + 1).repeat(width);
            text.push_str(&format!("fragment F{i} on Query {{ {spreads} }}\n"));
        }
        text.push_str(&format!("fragment F{levels} on Query {{ {} }}\n", "a ".repeat(fields)));
        let parsed = async_graphql::parser::parse_query(&text).map_err(|e| fail(e.to_string()))?;
        let started = Instant::now();
        let shape = measure(&parsed, bound);
        prop_assert!(started.elapsed() < Duration::from_secs(2));
        let expanded = (width as u128).checked_pow(levels as u32).map_or(u128::MAX, |n| n.saturating_mul(fields as u128));
        prop_assert_eq!(shape.fields as u128, expanded.min(bound as u128 + 1));
        prop_assert_eq!(shape.aliases, 0);
    }
}

// ---------------------------------------------------------------------------------------------
// What the fuzzing found
// ---------------------------------------------------------------------------------------------

/// The bugs the fuzzing found, each refused cleanly now: a `dataCategories` filter of 400 keys
/// overflowed the stack of the server's worker thread and aborted the process (the category
/// lookup built one OR condition of two terms per key); 32,767 products in a filter exceeded
/// SQLite's bound parameters, without a key too; a NUL character in a free text and an instant
/// before 4713 BC failed on PostgreSQL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bugs_found_by_fuzzing_stay_fixed() {
    let server = TestServer::start().await;
    let refused = |response: &Json, field: &str| {
        let error = &response["errors"][0];
        assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{response}");
        assert!(
            error["extensions"]["field"]
                .as_str()
                .is_some_and(|f| f.ends_with(field)),
            "{response}"
        );
    };
    let response = server
        .graphql(
            "query($c: [String!]) { dataFlows(filter: { dataCategories: $c }) { totalCount } }",
            json!({ "c": vec!["contact"; 400] }),
        )
        .await;
    refused(&response, "dataCategories");
    let response = server
        .anonymous(
            "query($p: [String!]) { subprocessorChanges(filter: { products: $p }) { totalCount } }",
            json!({ "p": vec!["sms"; 32_767] }),
        )
        .await;
    refused(&response, "products");
    let response = server
        .graphql(
            r#"mutation($d: String) { createRecipient(input: { key: "nul_text", legalName: "Nul Ltd",
                 kind: SERVICE_PROVIDER, defaultRole: PROCESSOR, country: "NL", description: $d }) { key } }"#,
            json!({ "d": "a\u{0}b" }),
        )
        .await;
    refused(&response, "description");
    let response = server
        .anonymous(
            r#"{ subprocessors(asOf: "-4713-11-23T23:59:59Z") { key } }"#,
            json!({}),
        )
        .await;
    refused(&response, "asOf");
}

/// A NUL character in a lookup by key failed on PostgreSQL with an internal error:
/// `recipient(key: "\u0000")` and `processingActivity(key: "\u0000")` (VIEWER and up), and
/// `subprocessorChanges(filter: { products: ["\u0000"] })`, without a key too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nul_in_lookups_finds_nothing() {
    let server = TestServer::start().await;
    for query in [
        r#"{ recipient(key: "\u0000") { key } }"#,
        r#"{ processingActivity(key: "\u0000") { key } }"#,
        r#"{ subprocessorChanges(filter: { products: ["\u0000"] }) { totalCount } }"#,
    ] {
        for response in [
            server.graphql(query, json!({})).await,
            server.anonymous(query, json!({})).await,
        ] {
            assert_ne!(
                response["errors"][0]["extensions"]["code"], "INTERNAL_SERVER_ERROR",
                "{query}: {response}"
            );
        }
    }
}
