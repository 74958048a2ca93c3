//! Customers are told of subprocessor changes the ways they expect, and the organization keeps
//! the proof (GDPR Art. 28(2)): the public page in a real browser, email with double opt-in and
//! one-click unsubscribe through a real SMTP server, Standard Webhooks verified by the
//! reference crate, the Atom feed, and the notice register.

use crate::change_feed::propose_subprocessor;
use crate::common::notices::{Receiver, RelayCertificates, SinkTls, SmtpSink, browser};
use crate::common::{Setup, TestServer, client_with_key};
use entity::Role;
use serde_json::{Value, json};
use std::time::Duration;
use subreg::settings::{NoticeSettings, ServerSettings};

/// A server that sends mail through `sink`, may call webhooks on this machine, and retries
/// after a second.
async fn server_with(sink: &SmtpSink, notices: NoticeSettings) -> TestServer {
    TestServer::setup(Setup {
        settings: ServerSettings {
            notices: NoticeSettings {
                smtp_url: sink.url(),
                webhook_allow_private: true,
                retry_schedule_secs: vec![1, 1].into(),
                dispatch_interval: Duration::from_millis(200),
                ..notices
            },
            ..ServerSettings::default()
        },
        ..Setup::default()
    })
    .await
}

/// Announces a new subprocessor (Acme Cloud, in DE and the US, for SMS and Numbers); the
/// announcement's cursor.
async fn announce(server: &TestServer) -> String {
    let acme = propose_subprocessor(server).await;
    server
        .data(
            r#"mutation($id: ID!) { announceRecipient(id: $id, reason: "new hosting region") { status } }"#,
            json!({ "id": acme }),
        )
        .await;
    let announced = server
        .history(json!({ "kinds": ["RECIPIENT_ANNOUNCED"] }))
        .await;
    announced.last().unwrap()["cursor"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The first link in `text` that starts with `prefix`.
fn link(text: &str, prefix: &str) -> String {
    let start = text
        .find(prefix)
        .unwrap_or_else(|| panic!("no {prefix} in {text}"));
    text[start..]
        .split(|c: char| c.is_whitespace() || c == '>')
        .next()
        .unwrap()
        .to_owned()
}

const REGISTER: &str = r#"query($change: String, $customer: String) {
  noticeRegister(change: $change, customer: $customer, first: 500) {
    totalCount
    nodes { kind channel customer address messageId status acceptedAt contentHash transport changeCursor
            attempts { outcome code reply error contentHash } }
  }
}"#;

/// The register's notices of `change`, once `done` says they are settled.
async fn register_until(
    server: &TestServer,
    change: &str,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = std::time::Instant::now() + crate::common::PATIENCE;
    loop {
        let data = server.data(REGISTER, json!({ "change": change })).await;
        let nodes = data["noticeRegister"]["nodes"].as_array().unwrap().clone();
        if done(&nodes) {
            return nodes;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not settled: {nodes:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_customer_subscribes_in_a_browser_and_is_told_of_the_next_announcement_by_email_and_webhook()
 {
    let sink = SmtpSink::start();
    let server = server_with(&sink, NoticeSettings::default()).await;

    // The page as a person sees it on a phone: the organization, the list with real column
    // headers, no script, nothing for axe-core to report.
    let page = browser(&["audit", &format!("{}/subprocessors", server.url)]).await;
    assert_eq!(page["lang"], "en");
    assert_eq!(page["heading"], "Subprocessors of MessageBird B.V.");
    assert_eq!(
        page["tableHeaders"],
        json!([
            "Subprocessor",
            "What it does",
            "Products and services",
            "Processing locations",
            "Transfer mechanism",
            "Status"
        ])
    );
    let aws = page["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r[0] == "Amazon Web Services EMEA SARL")
        .expect("AWS is listed")
        .clone();
    assert_eq!(aws[3], "DE, IE, SG, US");
    assert!(
        aws[4]
            .as_str()
            .unwrap()
            .starts_with("Standard contractual clauses"),
        "{aws}"
    );
    assert_eq!(page["scripts"], 0, "usable without JavaScript");
    assert_eq!(page["overflowsPhone"], false, "readable on a phone");
    assert_eq!(
        page["violations"],
        json!([]),
        "axe-core: {:#}",
        page["violations"]
    );
    assert_eq!(page["cspViolations"], json!([]));

    // Subscribing by filling in the form.
    let subscribed = browser(&["subscribe", &server.url, "DPO@Customer.test"]).await;
    assert_eq!(
        subscribed["form"]["violations"],
        json!([]),
        "{:#}",
        subscribed["form"]
    );
    assert_eq!(subscribed["answer"]["heading"], "Check your inbox");
    let confirmation = sink.wait_for("dpo@customer.test", |m| !m.is_empty()).await;
    let confirm_url = link(
        &confirmation[0].body,
        &format!("{}/subprocessors/confirm?t=", server.url),
    );

    // Following the link (as a mail scanner would) confirms nothing: the page has a button.
    let scanned = reqwest::get(&confirm_url).await.unwrap();
    assert_eq!(scanned.status(), 200);
    let contacts = r#"{ noticeContacts { email status createdBy } }"#;
    let pending = server.data(contacts, json!({})).await;
    assert_eq!(
        pending["noticeContacts"][0]["status"], "PENDING",
        "{pending}"
    );
    let confirmed = browser(&["confirm", &confirm_url]).await;
    assert_eq!(
        confirmed["answer"]["heading"], "Subscribed",
        "{confirmed:#}"
    );
    assert_eq!(confirmed["before"]["violations"], json!([]));
    let active = server.data(contacts, json!({})).await;
    assert_eq!(active["noticeContacts"][0]["status"], "ACTIVE");
    assert_eq!(active["noticeContacts"][0]["email"], "dpo@customer.test");

    // The customer's tooling registers a webhook endpoint with its own SUBSCRIBER key.
    let receiver = Receiver::start(vec![]).await;
    let tooling = client_with_key(Some(&server.key(Role::Subscriber).await));
    let registered = server
        .graphql_as(
            &tooling,
            r#"mutation($url: String!) { registerWebhookEndpoint(input: { url: $url, customer: "Example Bank N.V." }) {
                secret endpoint { id status customer } } }"#,
            json!({ "url": receiver.url }),
        )
        .await;
    let secret = registered["data"]["registerWebhookEndpoint"]["secret"]
        .as_str()
        .unwrap_or_else(|| panic!("{registered}"))
        .to_owned();
    assert!(secret.starts_with("whsec_"));
    receiver.trust(&[&secret]);

    // The next announcement reaches both.
    let change = announce(&server).await;
    let notice = sink
        .wait_for("dpo@customer.test", |m| m.len() == 2)
        .await
        .pop()
        .unwrap();
    assert_eq!(
        notice.header("subject"),
        Some("New subprocessor announced: Acme Cloud Inc.")
    );
    let unsubscribe = notice.header("list-unsubscribe").expect("List-Unsubscribe");
    assert!(
        unsubscribe.starts_with(&format!("<{}/subprocessors/unsubscribe?s=", server.url)),
        "{unsubscribe}"
    );
    assert_eq!(
        notice.header("list-unsubscribe-post"),
        Some("List-Unsubscribe=One-Click")
    );
    let message_id = notice
        .header("message-id")
        .unwrap()
        .trim_matches(['<', '>'])
        .to_owned();
    assert!(message_id.starts_with(&change), "{message_id}");
    for said in [
        "Products and services concerned: numbers, sms",
        "Processing locations: DE, US",
        "Effective date: ",
        "You may object until: ",
        &format!(
            "Object here: {}/subprocessors#object-acme_cloud",
            server.url
        ),
        "Why: new hosting region",
    ] {
        assert!(notice.body.contains(said), "{said:?} in {}", notice.body);
    }
    let delivered = receiver.wait_for(|r| !r.is_empty()).await;
    assert!(
        delivered[0].verified,
        "the signature verifies with the reference crate"
    );
    assert_eq!(delivered[0].id, change, "webhook-id is the event's cursor");
    let data = &delivered[0].body["data"];
    assert_eq!(data["kind"], "RECIPIENT_ANNOUNCED");
    assert_eq!(data["cursor"], change.as_str());
    assert_eq!(data["snapshot"]["legalName"], "Acme Cloud Inc.");
    assert!(
        data["snapshot"].get("dpaReference").is_none(),
        "only the public view"
    );
    assert_eq!(data["objectionDeadline"], data["effectiveAt"]);

    // The editor can prove both deliveries.
    let register = register_until(&server, &change, |n| {
        n.len() == 2 && n.iter().all(|d| d["status"] == "ACCEPTED")
    })
    .await;
    let email = register.iter().find(|d| d["channel"] == "EMAIL").unwrap();
    assert_eq!(email["messageId"], message_id.as_str());
    assert_eq!(email["transport"], "smtp");
    assert_eq!(email["attempts"][0]["code"], 250);
    let hook = register.iter().find(|d| d["channel"] == "WEBHOOK").unwrap();
    assert_eq!(hook["messageId"], change.as_str());
    assert_eq!(hook["customer"], "Example Bank N.V.");
    assert_eq!(hook["attempts"][0]["code"], 200);
    let csv = server
        .client
        .get(format!(
            "{}/notices/register?format=csv&change={change}",
            server.url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), 200);
    let csv = csv.text().await.unwrap();
    assert!(
        csv.starts_with("delivery,customer,channel,address"),
        "{csv}"
    );
    assert!(
        csv.contains(&message_id) && csv.contains("Example Bank N.V."),
        "{csv}"
    );
    assert_eq!(
        csv.lines().filter(|l| l.contains("ACCEPTED")).count(),
        2,
        "{csv}"
    );
    let xlsx = server
        .client
        .get(format!(
            "{}/notices/register?format=xlsx&change={change}",
            server.url
        ))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let mut book: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(xlsx.to_vec())).unwrap();
    use calamine::Reader as _;
    let sheet = book.worksheet_range("Notice register").unwrap();
    assert_eq!(sheet.height(), 3, "a header and one row per attempt");

    // One click in the mail client unsubscribes (RFC 8058): a POST without cookies.
    let url = unsubscribe.trim_matches(['<', '>']);
    let clicked = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(clicked.status(), 200);
    let gone = server.data(contacts, json!({})).await;
    assert_eq!(gone["noticeContacts"][0]["status"], "UNSUBSCRIBED");
    let forged = reqwest::Client::new()
        .post(url.replace("&t=", "&t=x"))
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 400);
}

/// Adds a contractual notice address and announces a new subprocessor; the register's notice
/// to that address once settled.
async fn notice_to(server: &TestServer, email: &str) -> Value {
    server
        .data(
            r#"mutation($email: String!) { addNoticeContact(input: { customer: "Example Bank N.V.", email: $email }) { status } }"#,
            json!({ "email": email }),
        )
        .await;
    let change = announce(server).await;
    let register = register_until(server, &change, |n| {
        n.iter()
            .any(|d| d["address"] == email && d["status"] != "QUEUED")
    })
    .await;
    register
        .into_iter()
        .find(|d| d["address"] == email)
        .unwrap()
}

#[tokio::test]
async fn mail_goes_to_a_relay_by_starttls_or_implicit_tls_and_its_certificate_is_checked() {
    let certificates = RelayCertificates::make();
    for (tls, url) in [
        (SinkTls::StartTls, "smtp://localhost:{port}?tls=required"),
        (SinkTls::Implicit, "smtps://localhost:{port}"),
    ] {
        let sink = SmtpSink::start_with(tls, Some(&certificates));
        let url = url.replace("{port}", &sink.port.to_string());
        // The relay's certificate is issued by the operator's own authority, named by
        // --smtp-ca-file: the message goes through, encrypted.
        let trusting = server_through(&url, &certificates.path("ca.pem")).await;
        let notice = notice_to(&trusting, "dpo@bank.test").await;
        assert_eq!(notice["status"], "ACCEPTED", "{tls:?}: {notice:#}");
        let mail = sink
            .wait_for("dpo@bank.test", |m| !m.is_empty())
            .await
            .remove(0);
        assert_eq!(
            mail.header("message-id")
                .map(|id| id.trim_matches(['<', '>'])),
            notice["messageId"].as_str(),
            "{tls:?}"
        );
        assert_eq!(notice["transport"], "smtp");
        // Without it, the same relay is not trusted: nothing is sent, and the register says
        // why.
        let doubting = server_through(&url, "").await;
        let notice = notice_to(&doubting, "cfo@bank.test").await;
        assert_ne!(notice["status"], "ACCEPTED", "{tls:?}: {notice:#}");
        let error = notice["attempts"][0]["error"].as_str().unwrap_or_default();
        assert!(error.contains("certificate"), "{tls:?}: {notice:#}");
        assert_eq!(sink.messages().len(), 1, "{tls:?}");
    }
}

/// A server that sends mail to the relay at `url`, trusting the certificate authorities in
/// `ca_file` beside the public roots.
async fn server_through(url: &str, ca_file: &str) -> TestServer {
    TestServer::setup(Setup {
        settings: ServerSettings {
            notices: NoticeSettings {
                smtp_url: url.to_owned(),
                smtp_ca_file: ca_file.to_owned(),
                retry_schedule_secs: vec![1].into(),
                dispatch_interval: Duration::from_millis(200),
                ..NoticeSettings::default()
            },
            ..ServerSettings::default()
        },
        ..Setup::default()
    })
    .await
}

#[tokio::test]
async fn a_mail_server_that_answers_4xx_is_retried_and_a_5xx_is_recorded_as_bounced() {
    let sink = SmtpSink::start();
    let server = server_with(&sink, NoticeSettings::default()).await;
    for email in ["defer@bank.test", "bounce@bank.test"] {
        server
            .data(
                r#"mutation($email: String!) { addNoticeContact(input: { customer: "Example Bank N.V.", email: $email }) { status } }"#,
                json!({ "email": email }),
            )
            .await;
    }
    let change = announce(&server).await;
    let register = register_until(&server, &change, |n| {
        n.len() == 2 && n.iter().all(|d| d["status"] != "QUEUED")
    })
    .await;
    let deferred = register
        .iter()
        .find(|d| d["address"] == "defer@bank.test")
        .unwrap();
    assert_eq!(deferred["status"], "ACCEPTED", "{deferred:#}");
    let outcomes: Vec<(&str, i64)> = deferred["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["outcome"].as_str().unwrap(),
                a["code"].as_i64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [("DEFERRED", 451), ("DEFERRED", 451), ("ACCEPTED", 250)]
    );
    let bounced = register
        .iter()
        .find(|d| d["address"] == "bounce@bank.test")
        .unwrap();
    assert_eq!(bounced["status"], "BOUNCED", "{bounced:#}");
    assert_eq!(bounced["attempts"][0]["code"], 550);
    assert!(
        bounced["attempts"][0]["reply"]
            .as_str()
            .unwrap()
            .contains("mailbox unavailable")
    );
    // Every attempt carried the same Message-ID, and the content hash did not change.
    let mails = sink.wait_for("defer@bank.test", |m| m.len() == 1).await;
    assert_eq!(
        mails[0]
            .header("message-id")
            .unwrap()
            .trim_matches(['<', '>']),
        deferred["messageId"]
    );
    let hashes: std::collections::HashSet<&str> = deferred["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["contentHash"].as_str().unwrap())
        .collect();
    assert_eq!(hashes.len(), 1);

    // Until every notice is accepted, the announcement is a compliance finding.
    let findings = server
        .data("{ complianceFindings { code entity message } }", json!({}))
        .await;
    let open: Vec<&Value> = findings["complianceFindings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == "NOTICE_NOT_ACCEPTED")
        .collect();
    assert_eq!(open.len(), 1, "{findings:#}");
    assert_eq!(open[0]["entity"], "acme_cloud");
}

#[tokio::test]
async fn webhooks_are_retried_honouring_retry_after_and_an_endpoint_gone_is_disabled() {
    let sink = SmtpSink::start();
    let server = server_with(&sink, NoticeSettings::default()).await;
    let flaky = Receiver::start(vec![(503, Some("1"))]).await;
    let gone = Receiver::always(410).await;
    let mut secrets = Vec::new();
    for (receiver, customer) in [(&flaky, "Flaky Corp"), (&gone, "Gone Ltd")] {
        let data = server
            .data(
                r#"mutation($url: String!, $customer: String!) { registerWebhookEndpoint(input: {
                    url: $url, customer: $customer, contactEmail: "ops@gone.test", scope: ALL_PUBLIC_CHANGES }) {
                    secret endpoint { id } } }"#,
                json!({ "url": receiver.url, "customer": customer }),
            )
            .await;
        let secret = data["registerWebhookEndpoint"]["secret"]
            .as_str()
            .unwrap()
            .to_owned();
        receiver.trust(&[&secret]);
        secrets.push((
            data["registerWebhookEndpoint"]["endpoint"]["id"].clone(),
            secret,
        ));
    }
    let change = announce(&server).await;
    let tried = flaky.wait_for(|r| r.len() >= 2).await;
    assert!(tried.iter().all(|r| r.verified));
    assert_eq!(tried[0].id, change, "a retry carries the same webhook-id");
    assert_eq!(tried[1].id, change);
    // A slow or failing endpoint delays only itself: the other's events went on.
    let register = register_until(&server, &change, |n| {
        n.iter()
            .filter(|d| d["channel"] == "WEBHOOK" && d["status"] != "QUEUED")
            .count()
            == 2
    })
    .await;
    let by = |customer: &str| {
        register
            .iter()
            .find(|d| d["customer"] == customer)
            .unwrap()
            .clone()
    };
    assert_eq!(by("Flaky Corp")["status"], "ACCEPTED");
    assert_eq!(by("Flaky Corp")["attempts"][0]["code"], 503);
    assert_eq!(by("Gone Ltd")["status"], "FAILED");
    assert_eq!(by("Gone Ltd")["attempts"][0]["code"], 410);
    let endpoints = server
        .data(
            "{ webhookEndpoints { customer status disabledReason } }",
            json!({}),
        )
        .await;
    let gone_endpoint = endpoints["webhookEndpoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["customer"] == "Gone Ltd")
        .unwrap()
        .clone();
    assert_eq!(gone_endpoint["status"], "DISABLED");
    assert_eq!(
        gone_endpoint["disabledReason"],
        "the endpoint answered 410 Gone"
    );
    // Its owner is told.
    let told = sink.wait_for("ops@gone.test", |m| !m.is_empty()).await;
    assert!(told[0].header("subject").unwrap().contains("disabled"));
    assert!(told[0].body.contains(&gone.url));
    assert_eq!(
        gone.received().len(),
        1,
        "nothing more is sent to a disabled endpoint"
    );

    // A secret rotation: until the next one, requests carry both signatures.
    let (flaky_id, old) = secrets[0].clone();
    let rotated = server
        .data(
            "mutation($id: ID!) { rotateWebhookSecret(id: $id) { secret endpoint { signingSecrets } } }",
            json!({ "id": flaky_id }),
        )
        .await;
    let new = rotated["rotateWebhookSecret"]["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        rotated["rotateWebhookSecret"]["endpoint"]["signingSecrets"],
        2
    );
    flaky.trust(&[&old, &new]);
    let before = flaky.received().len();
    server
        .rename(
            &server.recipient_id("aws").await,
            "Amazon Web Services EMEA S.a r.l.",
        )
        .await;
    let after = flaky.wait_for(|r| r.len() > before).await;
    let last = after.last().unwrap();
    assert!(
        last.verified,
        "verifies under the old secret and the new one"
    );
    assert_eq!(
        last.headers["webhook-signature"]
            .to_str()
            .unwrap()
            .split(' ')
            .count(),
        2
    );
}

/// Registers a webhook endpoint at `url` for `customer`, whose owner is told at `contact`; its
/// id and signing secret.
async fn register_endpoint(
    server: &TestServer,
    url: &str,
    customer: &str,
    contact: &str,
) -> (Value, String) {
    let data = server
        .data(
            r#"mutation($url: String!, $customer: String!, $contact: String!) {
                registerWebhookEndpoint(input: { url: $url, customer: $customer,
                    contactEmail: $contact, scope: ALL_PUBLIC_CHANGES }) { secret endpoint { id } } }"#,
            json!({ "url": url, "customer": customer, "contact": contact }),
        )
        .await;
    let registered = &data["registerWebhookEndpoint"];
    (
        registered["endpoint"]["id"].clone(),
        registered["secret"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn endpoints_that_keep_failing_are_disabled_when_the_retries_run_out_and_their_owners_told() {
    let sink = SmtpSink::start();
    // Retries after 1 s and 1 s: three attempts, then the delivery fails.
    let server = server_with(&sink, NoticeSettings::default()).await;
    let failing = Receiver::always(500).await;
    // An address nothing listens on: every attempt's connection is refused.
    let refusing = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/hook", listener.local_addr().unwrap())
    };
    let healthy = Receiver::start(Vec::new()).await;
    let (_, secret) =
        register_endpoint(&server, &failing.url, "Failing Corp", "ops@failing.test").await;
    failing.trust(&[&secret]);
    register_endpoint(&server, &refusing, "Refusing Ltd", "ops@refusing.test").await;
    let (_, secret) =
        register_endpoint(&server, &healthy.url, "Healthy GmbH", "ops@healthy.test").await;
    healthy.trust(&[&secret]);

    let change = announce(&server).await;
    let settled = |customer: &'static str| {
        move |nodes: &[Value]| {
            nodes
                .iter()
                .any(|d| d["customer"] == customer && d["status"] == "FAILED")
        }
    };
    register_until(&server, &change, settled("Failing Corp")).await;
    let register = register_until(&server, &change, settled("Refusing Ltd")).await;
    let by = |customer: &str| {
        register
            .iter()
            .find(|d| d["customer"] == customer && d["channel"] == "WEBHOOK")
            .unwrap()
            .clone()
    };

    // Each attempt is in the register, with what came of it: the status, or the refusal.
    let failed = by("Failing Corp");
    let attempts = failed["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 3, "{failed:#}");
    for attempt in attempts {
        assert_eq!(attempt["outcome"], "DEFERRED");
        assert_eq!(attempt["code"], 500);
        assert_eq!(attempt["contentHash"], failed["contentHash"]);
    }
    let tried = failing.received();
    assert_eq!(tried.len(), 3, "one request per attempt");
    assert!(tried.iter().all(|r| r.verified && r.id == change));
    let refused = by("Refusing Ltd");
    let attempts = refused["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 3, "{refused:#}");
    for attempt in attempts {
        assert_eq!(attempt["outcome"], "DEFERRED");
        assert_eq!(attempt["code"], Value::Null);
        assert!(attempt["error"].as_str().is_some_and(|e| !e.is_empty()));
    }
    assert_eq!(by("Healthy GmbH")["status"], "ACCEPTED");

    // Both endpoints are disabled, saying why.
    let endpoints = server
        .data(
            "{ webhookEndpoints { customer url status disabledReason } }",
            json!({}),
        )
        .await;
    let endpoint = |customer: &str| {
        endpoints["webhookEndpoints"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["customer"] == customer)
            .unwrap()
            .clone()
    };
    for (customer, delivery) in [("Failing Corp", &failed), ("Refusing Ltd", &refused)] {
        let endpoint = endpoint(customer);
        assert_eq!(endpoint["status"], "DISABLED", "{endpoint:#}");
        assert_eq!(
            endpoint["disabledReason"],
            format!(
                "every attempt to deliver {} failed",
                delivery["messageId"].as_str().unwrap()
            )
        );
    }
    assert_eq!(endpoint("Healthy GmbH")["status"], "ACTIVE");

    // Their owners are told by email, the register keeps that notice too, and what was queued
    // for the endpoints behind the failed notice is cancelled, not sent.
    for (owner, url, customer, delivery) in [
        (
            "ops@failing.test",
            failing.url.as_str(),
            "Failing Corp",
            &failed,
        ),
        (
            "ops@refusing.test",
            refusing.as_str(),
            "Refusing Ltd",
            &refused,
        ),
    ] {
        let told = sink.wait_for(owner, |m| !m.is_empty()).await;
        assert_eq!(told.len(), 1);
        assert!(told[0].header("subject").unwrap().contains("disabled"));
        assert!(told[0].body.contains(url));
        assert!(told[0].body.contains("every attempt to deliver"));
        let deadline = std::time::Instant::now() + crate::common::PATIENCE;
        let nodes = loop {
            let data = server.data(REGISTER, json!({ "customer": customer })).await;
            let nodes = data["noticeRegister"]["nodes"].as_array().unwrap().clone();
            let settled = nodes.iter().all(|d| d["status"] != "QUEUED");
            if settled && nodes.iter().any(|d| d["kind"] == "ENDPOINT_DISABLED") {
                break nodes;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "not settled for {customer}: {nodes:#?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let notice = nodes
            .iter()
            .find(|d| d["kind"] == "ENDPOINT_DISABLED")
            .unwrap();
        assert_eq!(notice["address"], owner);
        assert_eq!(notice["status"], "ACCEPTED");
        assert_eq!(notice["attempts"][0]["outcome"], "ACCEPTED");
        for later in nodes
            .iter()
            .filter(|d| d["kind"] == "CHANGE" && d["messageId"] != delivery["messageId"])
        {
            assert_eq!(later["status"], "CANCELLED", "{later:#}");
            assert_eq!(later["attempts"], json!([]));
        }
    }

    // The next change goes to the endpoint still active only.
    server
        .rename(
            &server.recipient_id("aws").await,
            "Amazon Web Services EMEA S.a r.l.",
        )
        .await;
    let renamed = server.history(json!({})).await.last().unwrap()["cursor"]
        .as_str()
        .unwrap()
        .to_owned();
    let register = register_until(&server, &renamed, |n| {
        n.iter().any(|d| d["status"] == "ACCEPTED")
    })
    .await;
    let customers: Vec<&str> = register
        .iter()
        .filter(|d| d["channel"] == "WEBHOOK")
        .filter_map(|d| d["customer"].as_str())
        .collect();
    assert_eq!(customers, ["Healthy GmbH"]);
    assert!(healthy.received().iter().any(|r| r.id == renamed));
    assert_eq!(
        failing.received().len(),
        3,
        "nothing more to a disabled endpoint"
    );
}

#[tokio::test]
async fn webhook_targets_inside_the_network_are_refused_unless_the_operator_allows_them() {
    let server = TestServer::start().await;
    for url in [
        "https://127.0.0.1/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hook",
        "https://10.0.0.8/hook",
        "http://customer.example/hook",
        "https://localhost/hook",
    ] {
        let (code, response) = server
            .error(
                r#"mutation($url: String!) { registerWebhookEndpoint(input: { url: $url, customer: "X" }) { secret } }"#,
                json!({ "url": url }),
            )
            .await;
        assert_eq!(code, "BAD_USER_INPUT", "{url}: {response}");
        assert_eq!(response["errors"][0]["extensions"]["field"], "url");
    }
    let endpoints = server.data("{ webhookEndpoints { id } }", json!({})).await;
    assert_eq!(
        endpoints["webhookEndpoints"],
        json!([]),
        "nothing was registered"
    );
}

#[tokio::test]
async fn a_subscriber_key_sees_the_public_view_and_its_own_endpoints_only() {
    let server = TestServer::start().await;
    let receiver = Receiver::start(vec![]).await;
    let allow = |server: &TestServer| server.url.clone();
    let _ = allow(&server);
    let first = client_with_key(Some(&server.key(Role::Subscriber).await));
    let second = client_with_key(Some(&server.key(Role::Subscriber).await));
    // On a server that refuses internal targets, a customer's local receiver is refused too.
    let refused = server
        .graphql_as(
            &first,
            r#"mutation($url: String!) { registerWebhookEndpoint(input: { url: $url }) { secret } }"#,
            json!({ "url": receiver.url }),
        )
        .await;
    assert_eq!(
        refused["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{refused}"
    );
    // The public view, nothing internal.
    let public = server
        .graphql_as(&first, "{ subprocessors { key } }", json!({}))
        .await;
    assert!(public.get("errors").is_none(), "{public}");
    for internal in [
        "{ dataFlows(first: 1) { totalCount } }",
        "{ noticeContacts { email } }",
        "{ recordOfProcessingActivities(perspective: PROCESSOR) { controllers } }",
    ] {
        let answer = server.graphql_as(&first, internal, json!({})).await;
        assert_eq!(
            answer["errors"][0]["extensions"]["code"], "FORBIDDEN",
            "{internal}: {answer}"
        );
    }
    let viewer = client_with_key(Some(&server.key(Role::Viewer).await));
    let as_viewer = server
        .graphql_as(
            &viewer,
            r#"mutation { registerWebhookEndpoint(input: { url: "https://example.com/", customer: "x" }) { secret } }"#,
            json!({}),
        )
        .await;
    assert_eq!(
        as_viewer["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{as_viewer}"
    );
    let _ = second;
}

#[tokio::test]
async fn subscriber_keys_manage_their_own_endpoints_and_cannot_reach_anothers() {
    let sink = SmtpSink::start();
    let server = server_with(&sink, NoticeSettings::default()).await;
    let first = client_with_key(Some(&server.key(Role::Subscriber).await));
    let second = client_with_key(Some(&server.key(Role::Subscriber).await));
    let receiver = Receiver::start(vec![]).await;
    let register = |client: reqwest::Client| {
        let server = &server;
        let url = receiver.url.clone();
        async move {
            server
                .graphql_as(
                    &client,
                    r#"mutation($url: String!) { registerWebhookEndpoint(input: { url: $url }) { endpoint { id customer } } }"#,
                    json!({ "url": url }),
                )
                .await
        }
    };
    let mine = register(first.clone()).await;
    let id = mine["data"]["registerWebhookEndpoint"]["endpoint"]["id"].clone();
    assert_eq!(
        mine["data"]["registerWebhookEndpoint"]["endpoint"]["customer"], "Subscriber of the test",
        "the key's holder is the customer: {mine}"
    );
    register(second.clone()).await;
    let listed = server
        .graphql_as(&first, "{ webhookEndpoints { id } }", json!({}))
        .await;
    assert_eq!(listed["data"]["webhookEndpoints"], json!([{ "id": id }]));
    for mutation in [
        "mutation($id: ID!) { rotateWebhookSecret(id: $id) { secret } }",
        "mutation($id: ID!) { removeWebhookEndpoint(id: $id) { id } }",
    ] {
        let theirs = server
            .graphql_as(&second, mutation, json!({ "id": id }))
            .await;
        assert_eq!(
            theirs["errors"][0]["extensions"]["code"], "NOT_FOUND",
            "{theirs}"
        );
    }
    let change = announce(&server).await;
    receiver.wait_for(|r| r.len() == 2).await;
    let seen = server
        .graphql_as(&first, REGISTER, json!({ "change": change }))
        .await;
    assert_eq!(
        seen["data"]["noticeRegister"]["totalCount"], 1,
        "its own deliveries only: {seen}"
    );
    let removed = server
        .graphql_as(
            &first,
            "mutation($id: ID!) { removeWebhookEndpoint(id: $id) { status } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        removed["data"]["removeWebhookEndpoint"]["status"],
        "UNSUBSCRIBED"
    );
}

#[tokio::test]
async fn the_atom_feed_has_an_entry_per_public_change_and_answers_304_when_unchanged() {
    let server = TestServer::start().await;
    let url = format!("{}/subprocessors/feed.atom", server.url);
    let http = reqwest::Client::new();
    let first = http.get(&url).send().await.unwrap();
    assert_eq!(first.status(), 200);
    assert_eq!(
        first.headers()["content-type"],
        "application/atom+xml; charset=utf-8"
    );
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    let modified = first.headers()["last-modified"]
        .to_str()
        .unwrap()
        .to_owned();
    let feed = atom_syndication::Feed::read_from(&first.bytes().await.unwrap()[..]).unwrap();
    let public = server.history(json!({ "publicOnly": true })).await;
    assert_eq!(feed.entries().len(), public.len().min(200));
    let newest = public.last().unwrap()["cursor"].as_str().unwrap();
    assert_eq!(
        feed.entries()[0].id(),
        format!("urn:subreg:change:{newest}")
    );
    let again = http
        .get(&url)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    let since = http
        .get(&url)
        .header("if-modified-since", &modified)
        .send()
        .await
        .unwrap();
    assert_eq!(since.status(), 304);
    // A public change is a new entry; an internal one is not.
    server
        .rename(
            &server.recipient_id("stripe").await,
            "Stripe, renamed internally",
        )
        .await;
    let unchanged = http
        .get(&url)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(unchanged.status(), 304);
    server
        .rename(&server.recipient_id("aws").await, "AWS EMEA")
        .await;
    let changed = http
        .get(&url)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 200);
    let feed = atom_syndication::Feed::read_from(&changed.bytes().await.unwrap()[..]).unwrap();
    assert_eq!(
        feed.entries()[0].title().as_str(),
        "Subprocessor details changed: AWS EMEA"
    );
    assert!(!feed.to_string().contains("Stripe"));
}

/// A subscription form post: the body, and the cookie and token of a page that carries it.
async fn form_token(http: &reqwest::Client, base: &str) -> (String, String) {
    let page = http
        .get(format!("{base}/subprocessors/subscribe"))
        .send()
        .await
        .unwrap();
    let cookie = page.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let html = page.text().await.unwrap();
    let token = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    (cookie, token)
}

#[tokio::test]
async fn the_forms_refuse_other_sites_say_nothing_of_who_is_subscribed_and_are_rate_limited() {
    let sink = SmtpSink::start();
    let server = server_with(
        &sink,
        NoticeSettings {
            form_posts_per_hour: 5,
            ..NoticeSettings::default()
        },
    )
    .await;
    server
        .data(
            r#"mutation { addNoticeContact(input: { customer: "Example Bank N.V.", email: "known@bank.test" }) { status } }"#,
            json!({}),
        )
        .await;
    let http = reqwest::Client::new();
    let base = server.url.clone();
    let post = |cookie: Option<String>, body: String, origin: Option<&'static str>| {
        let http = http.clone();
        let base = base.clone();
        async move {
            let mut request = http
                .post(format!("{base}/subprocessors/subscribe"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body);
            if let Some(cookie) = cookie {
                request = request.header("cookie", cookie);
            }
            if let Some(origin) = origin {
                request = request.header("origin", origin);
            }
            let response = request.send().await.unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        }
    };
    // Without the page's token, or from another site: refused, nothing recorded.
    let (status, _) = post(None, "email=a%40b.test".into(), None).await;
    assert_eq!(status, 403);
    let (cookie, token) = form_token(&http, &base).await;
    let (status, _) = post(
        Some(cookie.clone()),
        format!("csrf={token}&email=a%40b.test"),
        Some("https://evil.example"),
    )
    .await;
    assert_eq!(status, 403);
    // A known address and an unknown one get the same answer.
    let (known_status, known) = post(
        Some(cookie.clone()),
        format!("csrf={token}&email=known%40bank.test"),
        None,
    )
    .await;
    let (new_status, new) = post(
        Some(cookie.clone()),
        format!("csrf={token}&email=new%40bank.test"),
        None,
    )
    .await;
    assert_eq!((known_status, new_status), (200, 200));
    assert_eq!(known, new);
    sink.wait_for("new@bank.test", |m| m.len() == 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        sink.messages().iter().all(|m| m.to != "known@bank.test"),
        "nothing to the address already subscribed"
    );
    // The confirmation token is stored only as its hash.
    let rows = <entity::notice_subscriber::Entity as sea_orm::EntityTrait>::find()
        .all(server.registry.pool().unwrap())
        .await
        .unwrap();
    let mail = &sink.wait_for("new@bank.test", |m| m.len() == 1).await[0];
    let token_in_mail = link(&mail.body, "http")
        .split("t=")
        .nth(1)
        .unwrap()
        .to_owned();
    assert!(
        rows.iter()
            .all(|r| !format!("{r:?}").contains(&token_in_mail))
    );
    // Bad input: a clear answer, nothing recorded.
    let (status, body) = post(
        Some(cookie.clone()),
        format!("csrf={token}&email=not-an-address"),
        None,
    )
    .await;
    assert_eq!(status, 400);
    assert!(body.contains("must be an email address"));
    // The sixth form of the hour from this client is refused.
    let (status, _) = post(
        Some(cookie),
        format!("csrf={token}&email=late%40bank.test"),
        None,
    )
    .await;
    assert_eq!(status, 429);
}

#[tokio::test]
async fn customers_object_to_an_announced_subprocessor_from_the_page() {
    let server = TestServer::start().await;
    announce(&server).await;
    let page = browser(&["audit", &format!("{}/subprocessors", server.url)]).await;
    assert!(
        page["text"]
            .as_str()
            .unwrap()
            .contains("Announced: Acme Cloud Inc."),
        "{}",
        page["text"]
    );
    assert_eq!(page["violations"], json!([]), "{:#}", page["violations"]);
    let objected = browser(&[
        "object",
        &server.url,
        "acme_cloud",
        "Example Bank N.V.",
        "dpo@example-bank.test",
        "US processing of message content",
    ])
    .await;
    assert_eq!(
        objected["answer"]["heading"], "Objection received",
        "{objected:#}"
    );
    let objections = server
        .data(
            "{ objections { customer contact reason status } }",
            json!({}),
        )
        .await;
    assert_eq!(
        objections["objections"][0],
        json!({ "customer": "Example Bank N.V.", "contact": "dpo@example-bank.test",
                "reason": "US processing of message content", "status": "RECEIVED" })
    );
    // The list as it stood before the announcement did not have it.
    let before = browser(&[
        "audit",
        &format!("{}/subprocessors?asOf=2000-01-01", server.url),
    ])
    .await;
    assert_eq!(before["rows"], json!([]));
}

#[tokio::test]
async fn graphiql_is_served_from_subreg_under_a_content_security_policy() {
    let server = TestServer::start().await;
    let page = reqwest::Client::new()
        .get(format!("{}/graphql", server.url))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    let policy = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(policy.contains("script-src 'self'"), "{policy}");
    let html = page.text().await.unwrap();
    assert!(!html.contains("https://"), "no third-party asset: {html}");
    for asset in html
        .split("src=\"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap())
    {
        let fetched = reqwest::get(format!("{}{asset}", server.url))
            .await
            .unwrap();
        assert_eq!(fetched.status(), 200, "{asset}");
    }
    let opened = browser(&["graphiql", &server.url]).await;
    assert_eq!(opened["rendered"], true);
    assert_eq!(opened["cspViolations"], json!([]), "{opened}");
}

#[tokio::test]
async fn an_operator_shows_the_page_in_the_organizations_branding_with_a_template_file() {
    let templates = tempfile::tempdir().unwrap();
    let branded = |colour: &str| {
        format!(
            r#"{{% extends "base.html" %}}{{% block main %}}<h1>Our subprocessors</h1>
<p class="brand-{colour}">{{{{ organization }}}}: {{{{ subprocessors | length }}}} subprocessors</p>{{% endblock %}}"#
        )
    };
    std::fs::write(templates.path().join("subprocessors.html"), branded("blue")).unwrap();
    let server = TestServer::setup(Setup {
        settings: ServerSettings {
            notices: NoticeSettings {
                templates_dir: templates.path().display().to_string(),
                ..NoticeSettings::default()
            },
            ..ServerSettings::default()
        },
        ..Setup::default()
    })
    .await;
    let page = |server: &TestServer| {
        let url = format!("{}/subprocessors", server.url);
        async move { reqwest::get(url).await.unwrap().text().await.unwrap() }
    };
    let shown = page(&server).await;
    assert!(
        shown.contains(r#"<p class="brand-blue">MessageBird B.V.: 8 subprocessors</p>"#),
        "{shown}"
    );
    assert!(
        shown.contains(r#"<html lang="en">"#),
        "the built-in layout still frames it"
    );
    // Replaced while the server runs: the next request shows the new file.
    std::fs::write(
        templates.path().join("subprocessors.html"),
        branded("green"),
    )
    .unwrap();
    assert!(page(&server).await.contains("brand-green"));
}

#[tokio::test]
async fn without_an_smtp_server_notices_are_written_as_eml_files_and_the_register_says_so() {
    let outbox = tempfile::tempdir().unwrap();
    let server = TestServer::setup(Setup {
        settings: ServerSettings {
            notices: NoticeSettings {
                mail_dir: outbox.path().display().to_string().into(),
                dispatch_interval: Duration::from_millis(200),
                ..NoticeSettings::default()
            },
            ..ServerSettings::default()
        },
        ..Setup::default()
    })
    .await;
    server
        .data(
            r#"mutation { addNoticeContact(input: { customer: "Example Bank N.V.", email: "dpo@bank.test" }) { status } }"#,
            json!({}),
        )
        .await;
    let change = announce(&server).await;
    let register = register_until(&server, &change, |n| {
        n.len() == 1 && n[0]["status"] == "ACCEPTED"
    })
    .await;
    assert_eq!(register[0]["transport"], "file");
    let reply = register[0]["attempts"][0]["reply"].as_str().unwrap();
    assert!(
        reply.contains("not sent: no SMTP server is configured"),
        "{reply}"
    );
    let files: Vec<_> = std::fs::read_dir(outbox.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .collect();
    assert_eq!(files.len(), 1, "one .eml file");
    let written = std::fs::read_to_string(files[0].path()).unwrap();
    assert!(reply.contains(&files[0].file_name().to_string_lossy().to_string()));
    assert!(written.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"));
    assert!(written.contains("Acme Cloud Inc."));
}
