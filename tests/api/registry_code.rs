//! The registry as code, as a new user meets it: `subreg export`, an edit of the file, `subreg
//! plan` (what would change, what customers would be told, exit 2), `subreg apply`, and the
//! changes seen through the API, the change feed and the notice register; then `plan` again
//! shows nothing (exit 0). The commands are the real binary, run against the test server's
//! database.

use crate::common::{PATIENCE, TestServer};
use entity::{OrganizationRole, RecipientKind, RecipientRole, RecipientStatus};
use serde_json::{Value, json};
use std::process::Output;
use subreg::manifest::file::to_yaml;
use subreg::registry::inputs::{FlowInput, RecipientInput};
use subreg::seed::format::RegistryFile;

/// Runs `subreg ARGS` on the server's database.
pub fn subreg(server: &TestServer, args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_subreg"))
        .args(args)
        .env("DATABASE_URL", &server.database_url)
        .env("RUST_LOG", "warn")
        .env("USER", "jane")
        .output()
        .expect("run subreg")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const EEA: [&str; 30] = [
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT", "LV",
    "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE", "IS", "LI", "NO",
];

/// A flow customers see (a processor activity, a public active subprocessor acting as
/// processor) that stays in the EEA and has no transfers: its index in the file.
fn shown_flow_in_the_eea(file: &RegistryFile) -> usize {
    file.data_flows
        .iter()
        .position(|f| {
            let Some(r) = file.recipients.iter().find(|r| r.key == f.recipient) else {
                return false;
            };
            let Some(a) = file
                .processing_activities
                .iter()
                .find(|a| a.key == f.activity)
            else {
                return false;
            };
            r.public
                && r.status == RecipientStatus::Active
                && a.organization_role == OrganizationRole::Processor
                && f.role.unwrap_or(r.default_role) == RecipientRole::Processor
                && f.via.is_none()
                && f.transfers.is_empty()
                && f.countries.iter().all(|c| EEA.contains(&c.as_str()))
                && !f.countries.iter().any(|c| c == "BE")
        })
        .expect("the example has a subprocessor flow within the EEA")
}

/// Waits until the server has heard of another process's writes (the CLI's): its answers are
/// kept until the registry's version moves, which it checks every 500 ms in the tests.
async fn settle() {
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
}

/// The events of the change log after `after` (a cursor), as an editor sees them.
async fn events_after(server: &TestServer, after: Option<&str>) -> Vec<Value> {
    let data = server
        .data(
            r#"query($after: String) { subprocessorChanges(after: $after, first: 500) {
                 nodes { cursor kind actor reason public dataFlowId recipient { key } changes { field before after } } } }"#,
            json!({ "after": after }),
        )
        .await;
    data["subprocessorChanges"]["nodes"]
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn export_edit_plan_apply_and_the_changes_reach_the_api_the_feed_and_the_notices() {
    let server = TestServer::start().await;
    server
        .data(
            r#"mutation { addNoticeContact(input: { customer: "Example Bank N.V.", email: "dpo@bank.test", scope: ALL_PUBLIC_CHANGES }) { status } }"#,
            json!({}),
        )
        .await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("registry.yaml");
    let path_text = path.display().to_string();

    // Export; exporting again gives the same bytes.
    let out = subreg(&server, &["export", "-o", &path_text]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let exported = std::fs::read_to_string(&path).unwrap();
    let again = subreg(&server, &["export"]);
    assert_eq!(text(&again.stdout), exported);

    // The exported file is the registry: planning it changes nothing.
    let out = subreg(&server, &["plan", &path_text]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert!(
        text(&out.stdout).contains("no changes"),
        "{}",
        text(&out.stdout)
    );

    // Edit it: a new subprocessor (with a flow), a flow's countries, a flow removed.
    let mut file: RegistryFile = subreg::manifest::parse(&exported).expect("reads").file;
    let changed = shown_flow_in_the_eea(&file);
    file.data_flows[changed].countries.push("BE".into());
    let changed_flow = file.data_flows[changed].clone();
    let removed = file.data_flows.len() - 1;
    assert_ne!(removed, changed);
    let removed_flow = file.data_flows.remove(removed);
    file.recipients.push(RecipientInput {
        key: "acme_cloud".into(),
        legal_name: "Acme Cloud B.V.".into(),
        kind: RecipientKind::HostingProvider,
        default_role: RecipientRole::Processor,
        description: Some("Hosting of message archives".into()),
        country: "NL".into(),
        processing_locations: vec!["NL".into()],
        transfer: None,
        dpa_reference: Some("DPA-ACME-2026".into()),
        certifications: vec!["ISO/IEC 27001:2022".into()],
        dpf_certified: false,
        website: Some("https://acme.example".into()),
        privacy_notice_url: None,
        status: RecipientStatus::Active,
        public: true,
        assumptions: vec![],
        sources: vec!["vendor contract, 2026".into()],
    });
    file.data_flows.push(FlowInput {
        activity: changed_flow.activity.clone(),
        recipient: "acme_cloud".into(),
        via: None,
        exporter: None,
        role: None,
        purpose: Some("Archive storage".into()),
        data_categories: changed_flow.data_categories.clone(),
        data_subjects: changed_flow.data_subjects.clone(),
        countries: vec!["NL".into()],
        transfers: vec![],
        assumptions: vec![],
        sources: vec![],
    });
    std::fs::write(&path, to_yaml(&file, &[]).unwrap()).unwrap();

    // Plan: the three changes (and the new flow), the notice impact, exit 2.
    let before = events_after(&server, None).await;
    let head = before
        .last()
        .map(|e| e["cursor"].as_str().unwrap().to_owned());
    let out = subreg(&server, &["plan", &path_text, "--prune"]);
    let plan = text(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{plan}{}", text(&out.stderr));
    assert!(plan.contains("+ recipients acme_cloud"), "{plan}");
    assert!(
        plan.contains(&format!(
            "+ data_flows {} -> acme_cloud",
            changed_flow.activity
        )),
        "{plan}"
    );
    assert!(plan.contains("~ data_flows"), "{plan}");
    assert!(plan.contains("    countries: ["), "{plan}");
    assert!(plan.contains("- data_flows"), "{plan}");
    assert!(
        plan.contains("Joins the public subprocessor list: acme_cloud"),
        "{plan}"
    );
    assert!(plan.contains("after the notice period"), "{plan}");
    assert!(plan.contains("Held by the notice period"), "{plan}");
    // The countries' change and the removal of a flow customers see: two notices.
    assert!(
        plan.contains("FLOW_UPDATED affiliate_24sessions: countries")
            || plan.contains("FLOW_UPDATED"),
        "{plan}"
    );
    assert!(
        plan.contains("dpo@bank.test (Example Bank N.V.): 2"),
        "{plan}"
    );
    // The same as JSON, for tools; and planning wrote nothing.
    let out = subreg(&server, &["plan", &path_text, "--prune", "--json"]);
    assert_eq!(out.status.code(), Some(2));
    let json: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let actions: Vec<(String, String)> = json["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["section"].as_str().unwrap().to_owned(),
                c["action"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        actions,
        [
            ("recipients".to_owned(), "ADDED".to_owned()),
            ("data_flows".to_owned(), "CHANGED".to_owned()),
            ("data_flows".to_owned(), "ADDED".to_owned()),
            ("data_flows".to_owned(), "REMOVED".to_owned()),
        ]
    );
    let countries = json["changes"][1]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["field"] == "countries")
        .expect("the countries changed");
    assert!(
        countries["after"]
            .as_array()
            .unwrap()
            .contains(&json!("BE"))
    );
    assert_eq!(json["joining"][0]["status"], "PROPOSED");
    assert_eq!(json["publicChanges"][0]["kind"], "FLOW_UPDATED");
    assert_eq!(json["applied"], false);
    settle().await;
    assert_eq!(
        events_after(&server, head.as_deref()).await,
        Vec::<Value>::new()
    );

    // Without --prune the removed flow is kept, and said to be.
    let out = subreg(&server, &["plan", &path_text]);
    assert!(
        text(&out.stdout).contains("Not in the manifest, kept"),
        "{}",
        text(&out.stdout)
    );

    // Apply.
    let out = subreg(
        &server,
        &[
            "apply",
            &path_text,
            "--prune",
            "--reason",
            "vendor review 2026-Q4",
        ],
    );
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    settle().await;

    // The API: the new recipient is proposed, not active; the flow goes to Belgium too.
    let data = server
        .data(
            r#"{ acme: recipient(key: "acme_cloud") { status public isSubprocessor }
                 subprocessors { key } }"#,
            json!({}),
        )
        .await;
    assert_eq!(data["acme"]["status"], "PROPOSED");
    assert_eq!(data["acme"]["isSubprocessor"], true);
    assert!(
        !data["subprocessors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["key"] == "acme_cloud"),
        "not on the public list before its announcement"
    );

    // The change feed: the edits, by the command line's user, for the reason given.
    let events = events_after(&server, head.as_deref()).await;
    let kinds: Vec<&str> = events.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "RECIPIENT_CREATED",
            "FLOW_UPDATED",
            "FLOW_CREATED",
            "FLOW_DELETED"
        ],
        "{events:#?}"
    );
    for e in &events {
        assert_eq!(e["actor"], "command line (jane)");
        assert_eq!(e["reason"], "vendor review 2026-Q4");
    }
    let update = &events[1];
    assert_eq!(update["public"], true, "customers see the new country");
    assert!(
        update["changes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["field"] == "countries")
    );
    assert_eq!(events[0]["public"], false, "a proposal is internal");
    assert_eq!(events[3]["recipient"]["key"], json!(removed_flow.recipient));

    // The notice: the customer's contract address is told of the public change.
    let cursor = update["cursor"].as_str().unwrap();
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        let data = server
            .data(
                r#"query($change: String) { noticeRegister(change: $change) { totalCount nodes { address } } }"#,
                json!({ "change": cursor }),
            )
            .await;
        if data["noticeRegister"]["totalCount"] == 1 {
            assert_eq!(
                data["noticeRegister"]["nodes"][0]["address"],
                "dpo@bank.test"
            );
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no notice: {data}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }

    // Planning again: nothing to do (the proposal waits for its announcement), exit 0.
    let out = subreg(&server, &["plan", &path_text, "--prune"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("no changes"));
    // Applying twice changes nothing the second time.
    let out = subreg(
        &server,
        &["apply", &path_text, "--prune", "--reason", "again"],
    );
    assert!(out.status.success());
    settle().await;
    let last = events.last().unwrap()["cursor"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        events_after(&server, Some(&last)).await,
        Vec::<Value>::new()
    );

    // With --announce it is announced, effective after the notice period, flows and all.
    let out = subreg(
        &server,
        &[
            "apply",
            &path_text,
            "--announce",
            "--reason",
            "announce Acme",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    settle().await;
    let events = events_after(&server, Some(&last)).await;
    assert!(!events.is_empty(), "{}", text(&out.stdout));
    assert_eq!(events[0]["kind"], "RECIPIENT_ANNOUNCED", "{events:#?}");
    assert_eq!(events[0]["public"], true);
    assert!(
        events[1..]
            .iter()
            .all(|e| e["kind"] == "FLOW_CREATED" && e["public"] == true)
    );
    let data = server
        .data(r#"{ recipient(key: "acme_cloud") { status } }"#, json!({}))
        .await;
    assert_eq!(data["recipient"]["status"], "ANNOUNCED");
}

#[tokio::test]
async fn a_bad_manifest_is_refused_whole_with_every_problem_on_its_line() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("registry.yaml");
    let path_text = path.display().to_string();
    let out = subreg(&server, &["export", "-o", &path_text]);
    assert!(out.status.success());
    let exported = std::fs::read_to_string(&path).unwrap();
    let before = events_after(&server, None).await.len();

    // Two entries that do not read: every one is listed, on its line.
    let broken = exported
        .replacen("  legal_name: Stripe", "  legal_nam: Stripe", 1)
        .replacen("  default_role: PROCESSOR\n", "  default_role: BOSS\n", 1);
    std::fs::write(&path, &broken).unwrap();
    let out = subreg(&server, &["plan", &path_text]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("legal_nam"), "{stderr}");
    assert!(stderr.contains("BOSS"), "{stderr}");
    assert!(stderr.contains("2 problems"), "{stderr}");
    let line: usize = stderr
        .lines()
        .find(|l| l.contains("legal_nam"))
        .and_then(|l| l.trim().strip_prefix("line "))
        .and_then(|l| l.split(':').next())
        .and_then(|n| n.parse().ok())
        .expect("a line number");
    assert!(broken.lines().nth(line - 1).unwrap().contains("legal_nam"));

    // Entries that read but break the registry's rules: each listed, nothing written.
    let mut file = subreg::manifest::parse(&exported).unwrap().file;
    file.recipients[0].country = "XX".into();
    file.recipients[1].website = Some("ftp://nowhere".into());
    let (first, second) = (
        file.recipients[0].key.clone(),
        file.recipients[1].key.clone(),
    );
    let flow = file
        .data_flows
        .iter()
        .rposition(|f| f.recipient != first && f.recipient != second)
        .unwrap();
    file.data_flows[flow].data_categories = vec!["no.such.category".into()];
    std::fs::write(&path, to_yaml(&file, &[]).unwrap()).unwrap();
    let written = std::fs::read_to_string(&path).unwrap();
    let out = subreg(
        &server,
        &["apply", &path_text, "--reason", "should not happen"],
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("3 problems"), "{stderr}");
    for (entry, field) in [
        ("recipients[0]", "country"),
        ("recipients[1]", "website"),
        (&*format!("data_flows[{flow}]"), "data_categories[0]"),
    ] {
        let line = stderr
            .lines()
            .find(|l| l.contains(&format!("{entry} (")) && l.contains(&format!(".{field}:")))
            .unwrap_or_else(|| panic!("{entry}.{field} in {stderr}"));
        let number: usize = line
            .trim()
            .strip_prefix("line ")
            .and_then(|l| l.split(':').next())
            .and_then(|n| n.parse().ok())
            .expect("a line number");
        let field_name = field.split('[').next().unwrap();
        assert!(
            written
                .lines()
                .nth(number - 1)
                .unwrap()
                .contains(field_name),
            "{line}"
        );
    }
    settle().await;
    assert_eq!(
        events_after(&server, None).await.len(),
        before,
        "nothing written"
    );
}

const PLAN: &str = r#"query($manifest: String!) {
  planRegistry(manifest: $manifest) {
    hasChanges applied
    changes { section key action fields { field before after } }
    held { key requested status effectiveAt }
    joining { key status effectiveAt }
    publicChanges { kind recipient changes { field } }
    notices { channel customer address notices }
  } }"#;

const APPLY: &str = r#"mutation($manifest: String!, $reason: String!) {
  applyRegistry(manifest: $manifest, reason: $reason, prune: true) {
    hasChanges applied changes { section key action }
  } }"#;

#[tokio::test]
async fn editors_plan_and_apply_a_manifest_over_graphql() {
    // The example registry's manifest is about 270 KiB: over the default body limit of 256 KiB,
    // which an editor's requests are not held to (32 MiB).
    let server = TestServer::start().await;
    let editor = crate::common::client_with_key(Some(&server.key(entity::Role::Editor).await));
    let viewer = crate::common::client_with_key(Some(&server.key(entity::Role::Viewer).await));
    let exported = subreg::manifest::export(&server.registry, None)
        .await
        .expect("export");

    // A viewer may not plan; an editor plans the unchanged registry: nothing to do.
    let refused = server
        .graphql_as(&viewer, PLAN, json!({ "manifest": exported }))
        .await;
    assert_eq!(
        refused["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{refused}"
    );
    let plan = server
        .graphql_as(&editor, PLAN, json!({ "manifest": exported }))
        .await;
    assert_eq!(plan["data"]["planRegistry"]["hasChanges"], false, "{plan}");

    // One recipient's website changed: planned field by field, then applied, by the key.
    let mut file = subreg::manifest::parse(&exported).unwrap().file;
    let changed = file
        .recipients
        .iter()
        .position(|r| r.key == "aws")
        .expect("aws");
    file.recipients[changed].website = Some("https://aws.amazon.com/compliance/".into());
    let edited = to_yaml(&file, &[]).unwrap();
    let plan = server
        .graphql_as(&editor, PLAN, json!({ "manifest": edited }))
        .await;
    let plan = &plan["data"]["planRegistry"];
    assert_eq!(plan["hasChanges"], true);
    assert_eq!(
        plan["changes"],
        json!([{ "section": "recipients", "key": "aws", "action": "CHANGED",
                 "fields": [{ "field": "website", "before": file_website(&exported), "after": "https://aws.amazon.com/compliance/" }] }])
    );
    assert_eq!(plan["publicChanges"][0]["kind"], "RECIPIENT_UPDATED");
    let applied = server
        .graphql_as(
            &editor,
            APPLY,
            json!({ "manifest": edited, "reason": "new compliance page" }),
        )
        .await;
    assert_eq!(
        applied["data"]["applyRegistry"]["applied"], true,
        "{applied}"
    );
    let events = events_after(&server, None).await;
    let last = events.last().unwrap();
    assert_eq!(last["kind"], "RECIPIENT_UPDATED");
    assert_eq!(last["reason"], "new compliance page");
    assert!(
        last["actor"]
            .as_str()
            .unwrap()
            .contains("Editor of the test"),
        "{last}"
    );
    let again = server
        .graphql_as(&editor, PLAN, json!({ "manifest": edited }))
        .await;
    assert_eq!(again["data"]["planRegistry"]["hasChanges"], false);

    // A refused manifest: BAD_USER_INPUT, every problem with its line, nothing written.
    let broken = edited.replacen("  country: NL\n", "  country: Netherlands\n", 1);
    let refused = server
        .graphql_as(
            &editor,
            APPLY,
            json!({ "manifest": broken, "reason": "broken" }),
        )
        .await;
    let extensions = &refused["errors"][0]["extensions"];
    assert_eq!(extensions["code"], "BAD_USER_INPUT", "{refused}");
    let problem = &extensions["problems"][0];
    assert_eq!(problem["field"], "country", "{refused}");
    let line = problem["line"].as_u64().unwrap() as usize;
    assert!(
        broken
            .lines()
            .nth(line - 1)
            .unwrap()
            .contains("Netherlands")
    );
    assert_eq!(events_after(&server, None).await.len(), events.len());
}

/// The website of `aws` in an exported manifest.
fn file_website(text: &str) -> Value {
    let file = subreg::manifest::parse(text).unwrap().file;
    json!(
        file.recipients
            .iter()
            .find(|r| r.key == "aws")
            .unwrap()
            .website
    )
}

/// Validates a fideslang manifest with fideslang's own models (tests/fides/validate.py): the
/// interpreter in `FIDESLANG_PYTHON` (CI's virtual environment, see .ci/run), else `python3`.
fn fideslang_validates(path: &std::path::Path) -> String {
    let python = std::env::var("FIDESLANG_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fides/validate.py");
    let out = std::process::Command::new(&python)
        .arg(script)
        .arg(path)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
    assert!(
        out.status.success(),
        "fideslang refuses {}:\n{}{}\n(install it with `pip install fideslang==3.1.4`, or set FIDESLANG_PYTHON)",
        path.display(),
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

#[tokio::test]
async fn the_fides_round_trip_passes_fideslangs_validation_and_the_demo_resources_import() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let fides = dir.path().join("fides.yaml");
    let fides_text = fides.display().to_string();

    // Export as fideslang manifests: valid by fideslang's own models and taxonomy.
    let out = subreg(&server, &["export", "--format", "fides", "-o", &fides_text]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let summary = fideslang_validates(&fides);
    assert!(summary.contains("57 systems"), "{summary}");
    // Imported back: the registry it came from, nothing to change.
    let out = subreg(&server, &["plan", "--format", "fides", &fides_text]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );

    // Fides' published demo systems: two recipients, proposed and internal, each with its
    // flow and the assumptions fideslang leaves to make.
    let demo = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/fides/demo_system.yml"
    );
    let out = subreg(&server, &["plan", "--format", "fides", demo]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let plan = text(&out.stdout);
    assert!(
        plan.contains("+ recipients demo_analytics_system"),
        "{plan}"
    );
    assert!(
        plan.contains("+ data_flows fides_advertising -> demo_marketing_system"),
        "{plan}"
    );
    let out = subreg(
        &server,
        &[
            "apply",
            "--format",
            "fides",
            demo,
            "--reason",
            "Fides demo systems",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    settle().await;
    let data = server
        .data(
            r#"{ recipient(key: "demo_analytics_system") { status public assumptions
                   dataFlows { countries { code } dataCategories { key } assumptions } } }"#,
            json!({}),
        )
        .await;
    let recipient = &data["recipient"];
    assert_eq!(recipient["status"], "PROPOSED");
    assert_eq!(recipient["public"], false);
    assert!(
        recipient["assumptions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a.as_str().unwrap().contains("no country of establishment")),
        "{recipient}"
    );
    let flow = &recipient["dataFlows"][0];
    assert_eq!(flow["countries"], json!([{ "code": "NL" }]));
    // fideslang's user.contact is the registry's `contact` (its fides_key).
    assert!(
        flow["dataCategories"]
            .as_array()
            .unwrap()
            .contains(&json!({ "key": "contact" })),
        "{flow}"
    );
    let out = subreg(&server, &["plan", "--format", "fides", demo]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));

    // The registry with the imported systems still exports as valid fideslang.
    let again = dir.path().join("again.yaml");
    let out = subreg(
        &server,
        &[
            "export",
            "--format",
            "fides",
            "-o",
            &again.display().to_string(),
        ],
    );
    assert!(out.status.success());
    let summary = fideslang_validates(&again);
    assert!(summary.contains("59 systems"), "{summary}");

    // A bad fideslang file is refused, each problem on the line of its system: one the import
    // cannot map (a declaration that sends nothing), then one the registry refuses (a legal
    // name over 200 characters).
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "system:\n- fides_key: shop\n  name: Shop\n  system_type: Service\n\
         - fides_key: sends_nothing\n  name: Sends nothing\n  system_type: Service\n\
         \x20 privacy_declarations:\n  - data_use: essential.service\n\
         \x20   data_categories: []\n    data_subjects: [customer]\n",
    )
    .unwrap();
    let out = subreg(
        &server,
        &["plan", "--format", "fides", &bad.display().to_string()],
    );
    assert_eq!(out.status.code(), Some(1));
    let problems = text(&out.stderr);
    assert!(
        problems
            .contains("line 5: system[1].privacy_declarations[0] (sends_nothing).data_categories"),
        "{problems}"
    );
    std::fs::write(
        &bad,
        format!(
            "system:\n- fides_key: shop\n  name: Shop\n  system_type: Service\n\
             - fides_key: long_name\n  legal_name: {}\n  system_type: Service\n",
            "x".repeat(201)
        ),
    )
    .unwrap();
    let out = subreg(
        &server,
        &["plan", "--format", "fides", &bad.display().to_string()],
    );
    assert_eq!(out.status.code(), Some(1));
    let problems = text(&out.stderr);
    assert!(problems.contains("line 5: "), "{problems}");
    assert!(
        problems.contains("(long_name).legal_name: must be at most 200"),
        "{problems}"
    );
}

/// The batched write of many flows records the same events as the same flows written one by
/// one: kind, snapshot, field-level changes, public position and products.
/// Two registries, each on a fresh database with the example registry: one to make changes
/// one by one, the other in batches.
async fn two_example_registries() -> (
    Vec<subreg::registry::Registry>,
    Vec<crate::common::TestDatabase>,
) {
    let mut registries = Vec::new();
    let mut databases = Vec::new();
    for _ in 0..2 {
        let database = crate::common::fresh_database().await;
        let conn = subreg::db::connect(&database.url, None).await.unwrap();
        subreg::db::migrate(&conn).await.unwrap();
        let registry = subreg::registry::Registry::new(conn);
        subreg::seed::load(
            &registry,
            &subreg::seed::parse(subreg::seed::EXAMPLE_REGISTRY).unwrap(),
        )
        .await
        .unwrap();
        registries.push(registry);
        databases.push(database);
    }
    (registries, databases)
}

/// A registry's change log, every column that a batch must write as single edits do: the
/// events in order, and the products each concerns.
async fn change_log(registry: &subreg::registry::Registry) -> (Vec<Value>, Vec<(i64, String)>) {
    use entity::change_event;
    use sea_orm::{EntityTrait, QueryOrder};
    let events = change_event::Entity::find()
        .order_by_asc(change_event::Column::Seq)
        .all(registry.pool().unwrap())
        .await
        .unwrap();
    let products = entity::change_event_product::Entity::find()
        .order_by_asc(entity::change_event_product::Column::Seq)
        .order_by_asc(entity::change_event_product::Column::Product)
        .all(registry.pool().unwrap())
        .await
        .unwrap();
    let events: Vec<Value> = events
        .into_iter()
        .map(|e| {
            json!([
                e.seq,
                e.kind,
                e.entity_id,
                e.recipient_id,
                e.flow_id,
                e.activity_id,
                e.actor,
                e.reason,
                e.changes,
                e.snapshot,
                e.public,
                e.public_seq
            ])
        })
        .collect();
    let products = products.into_iter().map(|p| (p.seq, p.product)).collect();
    (events, products)
}

/// The two registries' change logs are the same, event by event.
async fn same_change_logs(registries: &[subreg::registry::Registry]) {
    let single = change_log(&registries[0]).await;
    let batched = change_log(&registries[1]).await;
    assert_eq!(single.0.len(), batched.0.len());
    for (single, batched) in single.0.iter().zip(&batched.0) {
        assert_eq!(single, batched);
    }
    assert_eq!(single.1, batched.1);
}

#[tokio::test]
async fn flows_written_in_a_batch_record_the_events_of_single_edits() {
    use subreg::registry::Actor;
    let (registries, databases) = two_example_registries().await;
    // Every flow of the example again, with another purpose: public and internal ones, onward
    // flows, transfers under every mechanism.
    let file = subreg::seed::parse(subreg::seed::EXAMPLE_REGISTRY).unwrap();
    let mut inputs = Vec::new();
    for f in &file.data_flows {
        let registry = &registries[0];
        let recipient =
            |key: String| async move { registry.recipient_by_key(&key).await.unwrap().unwrap().id };
        let activity = registry
            .activity_by_key(&f.activity)
            .await
            .unwrap()
            .unwrap()
            .id;
        let mut input = FlowInput {
            activity,
            recipient: recipient(f.recipient.clone()).await,
            via: None,
            exporter: None,
            role: f.role,
            purpose: Some("copy".into()),
            data_categories: f.data_categories.clone(),
            data_subjects: f.data_subjects.clone(),
            countries: f.countries.clone(),
            transfers: f.transfers.clone(),
            assumptions: f.assumptions.clone(),
            sources: f.sources.clone(),
        };
        if let Some(via) = &f.via {
            input.via = Some(recipient(via.clone()).await);
        }
        if let Some(exporter) = &f.exporter {
            input.exporter = Some(recipient(exporter.clone()).await);
        }
        inputs.push(input);
    }
    let actor = Actor("test".into());
    for input in &inputs {
        registries[0]
            .create_flow(input.clone(), &actor, Some("copy"))
            .await
            .unwrap();
    }
    let created = registries[1]
        .create_flows(&inputs, &actor, Some("copy"))
        .await
        .unwrap()
        .expect("accepted");
    assert_eq!(created.len(), inputs.len());
    same_change_logs(&registries).await;
    // A batch with a bad flow is refused whole, naming each bad one.
    let mut bad = inputs[..3].to_vec();
    bad[1].countries = vec!["XX".into()];
    bad[2].data_categories = vec!["no.such".into()];
    let refusals = registries[1]
        .create_flows(&bad, &actor, None)
        .await
        .unwrap()
        .expect_err("refused");
    assert_eq!(refusals.iter().map(|(i, _)| *i).collect::<Vec<_>>(), [1, 2]);
    drop(databases);
}

#[tokio::test]
async fn recipients_and_activities_added_in_a_batch_record_the_events_of_single_additions() {
    use subreg::registry::Actor;
    let (registries, databases) = two_example_registries().await;
    // Every recipient and activity of the example again under another key; a recipient that
    // would be public at once starts as PROPOSED, as the notice period asks.
    let file = subreg::seed::parse(subreg::seed::EXAMPLE_REGISTRY).unwrap();
    let recipients: Vec<RecipientInput> = file
        .recipients
        .iter()
        .map(|r| {
            let mut copy = r.clone();
            copy.key = format!("copy_{}", r.key);
            if r.status == RecipientStatus::Announced
                || (r.status == RecipientStatus::Active && r.public)
            {
                copy.status = RecipientStatus::Proposed;
            }
            copy
        })
        .collect();
    let activities: Vec<_> = file
        .processing_activities
        .iter()
        .map(|a| {
            let mut copy = a.clone();
            copy.key = format!("copy_{}", a.key);
            copy
        })
        .collect();
    let actor = Actor("test".into());
    for input in &recipients {
        registries[0]
            .create_recipient(input.clone(), &actor, Some("copy"))
            .await
            .unwrap();
    }
    for input in &activities {
        registries[0]
            .create_activity(input.clone(), &actor, Some("copy"))
            .await
            .unwrap();
    }
    let created = registries[1]
        .create_recipients(&recipients, &actor, Some("copy"))
        .await
        .unwrap()
        .expect("accepted");
    assert_eq!(
        created.iter().map(|r| &r.key).collect::<Vec<_>>(),
        recipients.iter().map(|r| &r.key).collect::<Vec<_>>()
    );
    let created = registries[1]
        .create_activities(&activities, &actor, Some("copy"))
        .await
        .unwrap()
        .expect("accepted");
    assert_eq!(created.len(), activities.len());
    same_change_logs(&registries).await;

    // A batch with bad entries is refused whole, naming each, and writes nothing: a bad
    // country, a key the registry has, the same key twice, a public recipient made ACTIVE at
    // once.
    let before = change_log(&registries[1]).await;
    let mut bad: Vec<RecipientInput> = recipients[..5].to_vec();
    for (n, r) in bad.iter_mut().enumerate() {
        r.key = format!("new_{n}");
    }
    bad[1].country = "XX".into();
    bad[2].key = recipients[0].key.clone();
    bad[3].key = bad[0].key.clone();
    bad[4].public = true;
    bad[4].status = RecipientStatus::Active;
    let refusals = registries[1]
        .create_recipients(&bad, &actor, None)
        .await
        .unwrap()
        .expect_err("refused");
    assert_eq!(
        refusals.iter().map(|(i, _)| *i).collect::<Vec<_>>(),
        [1, 2, 3, 4]
    );
    assert!(
        refusals[1].1.to_string().contains("same key"),
        "{}",
        refusals[1].1
    );
    let mut bad: Vec<_> = activities[..2].to_vec();
    bad[0].key = "new_activity".into();
    bad[1].data_categories = vec!["no.such".into()];
    let refusals = registries[1]
        .create_activities(&bad, &actor, None)
        .await
        .unwrap()
        .expect_err("refused");
    assert_eq!(refusals.iter().map(|(i, _)| *i).collect::<Vec<_>>(), [1]);
    assert_eq!(change_log(&registries[1]).await, before);
    assert!(
        registries[1]
            .recipient_by_key("new_0")
            .await
            .unwrap()
            .is_none()
    );
    drop(databases);
}
