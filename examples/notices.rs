//! Benchmark: one announcement to N confirmed email subscribers (a local SMTP sink) and M
//! webhook endpoints (local receivers): the time from the announcement's commit to the last
//! accepted delivery of each channel, messages per second, the server's memory, and the p99 of
//! the public list (the GraphQL `subprocessors` query, anonymous) while the fan-out runs,
//! against the same measured idle.
//!
//! The server is the release binary, run as its own process so that its memory is measured
//! apart from the sink's and the receivers'. The sink is a minimal SMTP server in this
//! process that accepts every message (EHLO, MAIL, RCPT, DATA, QUIT); the receivers are one
//! axum server with a path per endpoint, answering 204.
//!
//! ```sh
//! cargo build --release --bin subreg --example notices
//! ./target/release/examples/notices --emails 10000 --webhooks 1000
//! ```
//!
//! The server binary is the `subreg` of the same build (beside `examples/`), wherever the
//! target directory is, unless `--server` names another.

use clap::Parser;
use entity::{NoticeScope, Role};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use subreg::registry::Actor;
use subreg::registry::notices::{NewEndpoint, NewSubscription};
use subreg::server::{RegistryOptions, open_registry};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::Mutex;

#[derive(Parser)]
struct Args {
    /// Confirmed email subscribers.
    #[arg(long, default_value_t = 10_000)]
    emails: usize,
    /// Webhook endpoints.
    #[arg(long, default_value_t = 1_000)]
    webhooks: usize,
    /// The server binary; by default the `subreg` of this build (the directory above this
    /// example's).
    #[arg(long)]
    server: Option<PathBuf>,
    /// Database URL; a fresh SQLite file when absent.
    #[arg(long)]
    database_url: Option<String>,
    /// The server's --notice-concurrency; its default when absent.
    #[arg(long)]
    concurrency: Option<usize>,
    /// The server's --notice-niceness; its default when absent.
    #[arg(long)]
    niceness: Option<u8>,
}

/// When each accepted delivery arrived.
#[derive(Default)]
struct Arrivals {
    count: AtomicUsize,
    last: Mutex<Option<Instant>>,
}

impl Arrivals {
    async fn arrived(&self) {
        self.count.fetch_add(1, Ordering::SeqCst);
        *self.last.lock().await = Some(Instant::now());
    }
}

/// A minimal SMTP server that accepts every message.
async fn smtp_sink(arrivals: Arc<Arrivals>) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                continue;
            };
            let arrivals = arrivals.clone();
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read).lines();
                let _ = write.write_all(b"220 sink ESMTP\r\n").await;
                let mut in_data = false;
                while let Ok(Some(line)) = lines.next_line().await {
                    let reply: &[u8] = if in_data {
                        if line != "." {
                            continue;
                        }
                        in_data = false;
                        arrivals.arrived().await;
                        b"250 2.0.0 accepted\r\n"
                    } else {
                        let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
                        match verb.as_str() {
                            "DATA" => {
                                in_data = true;
                                b"354 go ahead\r\n"
                            }
                            "QUIT" => {
                                let _ = write.write_all(b"221 bye\r\n").await;
                                return;
                            }
                            "EHLO" => b"250-sink\r\n250 8BITMIME\r\n",
                            _ => b"250 OK\r\n",
                        }
                    };
                    if write.write_all(reply).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}

/// Webhook receivers: `/hook/{n}`, each answering 204.
async fn receivers(arrivals: Arc<Arrivals>) -> String {
    let app = axum::Router::new()
        .route(
            "/hook/{n}",
            axum::routing::post(
                |axum::extract::State(a): axum::extract::State<Arc<Arrivals>>| async move {
                    a.arrived().await;
                    axum::http::StatusCode::NO_CONTENT
                },
            ),
        )
        .with_state(arrivals);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

fn memory_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn graphql(http: &reqwest::Client, url: &str, key: Option<&str>, query: &str) -> Value {
    let mut request = http
        .post(format!("{url}/graphql"))
        .json(&json!({ "query": query }));
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    let response: Value = request.send().await.unwrap().json().await.unwrap();
    assert!(response.get("errors").is_none(), "{response}");
    response["data"].clone()
}

/// Latencies of the public list, requested one after another until `until` says stop.
async fn probe(http: reqwest::Client, url: String, until: impl Fn(usize) -> bool) -> Vec<Duration> {
    let mut latencies = Vec::new();
    while !until(latencies.len()) {
        let started = Instant::now();
        graphql(
            &http,
            &url,
            None,
            "{ subprocessors { key legalName processingLocations { code } } }",
        )
        .await;
        latencies.push(started.elapsed());
    }
    latencies
}

/// How long the idle latency is measured.
const IDLE: Duration = Duration::from_secs(5);

fn percentile(latencies: &mut [Duration], p: f64) -> Duration {
    latencies.sort();
    latencies[((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len()) - 1]
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let emails = Arc::new(Arrivals::default());
    let hooks = Arc::new(Arrivals::default());
    let smtp = smtp_sink(emails.clone()).await;
    let hook_base = receivers(hooks.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let database = args.database_url.clone().unwrap_or_else(|| {
        format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("bench.db").display()
        )
    });

    // The subscribers, confirmed, and an editor's key.
    let seeding = Instant::now();
    let registry = open_registry(&database, None, RegistryOptions::default())
        .await
        .unwrap();
    let editor = registry
        .create_api_key("benchmark", Role::Editor, &Actor::system())
        .await
        .unwrap()
        .secret;
    let batch = registry.batch().await.unwrap();
    for i in 0..args.emails {
        batch
            .registry()
            .add_notice_contact(
                NewSubscription {
                    email: format!("dpo{i}@customer{i}.test"),
                    customer: Some(format!("Customer {i}")),
                    scope: NoticeScope::Announcements,
                    products: Vec::new(),
                },
                &Actor::system(),
            )
            .await
            .unwrap();
    }
    for i in 0..args.webhooks {
        let endpoint = NewEndpoint {
            url: format!("{hook_base}/hook/{i}"),
            customer: format!("Tooling {i}"),
            scope: NoticeScope::Announcements,
            products: Vec::new(),
            contact_email: None,
        };
        batch
            .registry()
            .register_webhook(endpoint, None, true, &Actor::system())
            .await
            .unwrap();
    }
    batch.commit().await.unwrap();
    drop(registry);
    eprintln!(
        "seeded {} emails and {} webhooks in {:?}",
        args.emails,
        args.webhooks,
        seeding.elapsed()
    );

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let server = args.server.clone().unwrap_or_else(|| {
        let example = std::env::current_exe().expect("this example's path");
        example
            .parent()
            .and_then(|examples| examples.parent())
            .expect("the build's directory")
            .join("subreg")
    });
    let child = Command::new(&server)
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--database-url",
            &database,
        ])
        .args([
            "--smtp-url",
            &format!("smtp://127.0.0.1:{smtp}"),
            "--webhook-allow-private",
        ])
        .args(
            args.concurrency
                .iter()
                .flat_map(|c| ["--notice-concurrency".to_owned(), c.to_string()]),
        )
        .args(
            args.niceness
                .iter()
                .flat_map(|n| ["--notice-niceness".to_owned(), n.to_string()]),
        )
        .args([
            "--address-requests-per-minute",
            "0",
            "--key-requests-per-minute",
            "0",
        ])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .unwrap_or_else(|err| {
            panic!(
                "cannot run {}: {err}; build it first (`cargo build --release --bin subreg`)",
                server.display()
            )
        });
    let server = Server(child);
    let http = reqwest::Client::new();
    while !http
        .get(format!("{url}/readyz"))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let pid = server.0.id();

    // Idle: the public list's latency with nothing to send, for as long as a fan-out takes
    // (and at least 300 requests): a p99 of a few hundred requests is their third slowest.
    let idling = Instant::now();
    let mut idle = probe(http.clone(), url.clone(), |n| {
        n >= 300 && idling.elapsed() >= IDLE
    })
    .await;
    let rss_idle = memory_kib(pid, "VmRSS:");

    // The announcement, then the fan-out, with the public list requested throughout.
    let activity = graphql(
        &http,
        &url,
        Some(&editor),
        r#"{ processingActivity(key: "sms_delivery") { id } }"#,
    )
    .await;
    let created = graphql(&http, &url, Some(&editor), r#"mutation { createRecipient(input: {
        key: "acme_cloud", legalName: "Acme Cloud Inc.", kind: HOSTING_PROVIDER, defaultRole: PROCESSOR,
        country: "DE", processingLocations: ["DE"], public: true }) { id } }"#).await;
    let id = created["createRecipient"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    graphql(&http, &url, Some(&editor), &format!(r#"mutation {{ createDataFlow(input: {{ activityId: "{}", recipientId: "{id}",
        dataCategories: ["content.message"], dataSubjects: ["end_users"], countries: ["DE"] }}) {{ id }} }}"#,
        activity["processingActivity"]["id"].as_str().unwrap())).await;
    graphql(
        &http,
        &url,
        Some(&editor),
        &format!(r#"mutation {{ announceRecipient(id: "{id}") {{ id }} }}"#),
    )
    .await;
    let committed = Instant::now();
    let (total_emails, total_hooks) = (args.emails, args.webhooks);
    let done = {
        let (emails, hooks) = (emails.clone(), hooks.clone());
        move |_: usize| {
            (emails.count.load(Ordering::SeqCst) >= total_emails
                && hooks.count.load(Ordering::SeqCst) >= total_hooks)
                || committed.elapsed() > Duration::from_secs(300)
        }
    };
    let mut busy = probe(http.clone(), url.clone(), done).await;
    let email_time = emails.last.lock().await.map(|t| t - committed);
    let hook_time = hooks.last.lock().await.map(|t| t - committed);
    let peak = memory_kib(pid, "VmHWM:");
    let rss_after = memory_kib(pid, "VmRSS:");

    // Every delivery is recorded as accepted.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let register = graphql(
        &http,
        &url,
        Some(&editor),
        "{ noticeRegister(first: 1) { totalCount } }",
    )
    .await;

    let idle_p99 = percentile(&mut idle, 0.99);
    let busy_p99 = percentile(&mut busy, 0.99);
    let rate = |n: usize, t: Option<Duration>| t.map_or(0.0, |t| n as f64 / t.as_secs_f64());
    println!(
        "emails accepted: {} of {total_emails}, last after {email_time:?} ({:.0}/s)",
        emails.count.load(Ordering::SeqCst),
        rate(total_emails, email_time)
    );
    println!(
        "webhooks accepted: {} of {total_hooks}, last after {hook_time:?} ({:.0}/s)",
        hooks.count.load(Ordering::SeqCst),
        rate(total_hooks, hook_time)
    );
    println!(
        "register: {} notices",
        register["noticeRegister"]["totalCount"]
    );
    println!(
        "public list p50/p99 idle: {:?} / {idle_p99:?} ({} requests)",
        percentile(&mut idle, 0.5),
        idle.len()
    );
    println!(
        "public list p50/p99 during the fan-out: {:?} / {busy_p99:?} ({} requests)",
        percentile(&mut busy, 0.5),
        busy.len()
    );
    println!(
        "server memory: {} MiB idle, {} MiB after, {} MiB peak",
        rss_idle / 1024,
        rss_after / 1024,
        peak / 1024
    );
}
