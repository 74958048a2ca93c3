//! Benchmark: N idle WebSocket subscribers on one server, one committed change, and the time
//! from its commit to its delivery to every subscriber; plus the server's memory per idle
//! subscriber. The server runs as its own process (the release binary), so its memory is
//! measured apart from the clients'.
//!
//! ```sh
//! cargo build --release --bin subreg --example subscribers
//! ulimit -n 250000   # each process (this one and the server) holds one descriptor per subscriber
//! ./target/release/examples/subscribers --subscribers 10000
//! ./target/release/examples/subscribers --subscribers 100000
//! ```
//!
//! One source address has about 28,000 ephemeral ports (`net.ipv4.ip_local_port_range`), so
//! beyond 20,000 subscribers the connections are spread over the loopback addresses 127.0.0.2,
//! 127.0.0.3, ... (`--source-addresses`; each connection binds its address before connecting).

use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::{Mutex, Semaphore};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

#[derive(Parser)]
struct Args {
    /// Concurrent subscribers.
    #[arg(long, default_value_t = 1000)]
    subscribers: usize,
    /// The server binary.
    #[arg(long, default_value = "target/release/subreg")]
    server: PathBuf,
    /// Connections opened at once while subscribing.
    #[arg(long, default_value_t = 200)]
    connect_concurrency: usize,
    /// Loopback source addresses the subscribers connect from (127.0.0.2, 127.0.0.3, ...);
    /// by default one per 20,000 subscribers, and the default address below 20,000.
    #[arg(long)]
    source_addresses: Option<usize>,
    /// Seconds to wait for every subscriber to receive the change.
    #[arg(long, default_value_t = 120)]
    delivery_timeout_secs: u64,
}

/// Subscribers per source address by default (of about 28,000 ephemeral ports).
const PER_ADDRESS: usize = 20_000;

/// This process's soft limit of open files.
fn open_files_limit() -> Option<u64> {
    std::fs::read_to_string("/proc/self/limits")
        .ok()?
        .lines()
        .find(|l| l.starts_with("Max open files"))?
        .split_whitespace()
        .nth(3)?
        .parse()
        .ok()
}

struct Server {
    child: Child,
    url: String,
    /// An EDITOR key.
    key: String,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Resident memory of the server process, in KiB.
    fn rss_kib(&self) -> u64 {
        self.memory_kib("VmRSS:")
    }

    /// A memory figure of the server process (`VmRSS:`, `VmHWM:`), in KiB.
    fn memory_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("the server's /proc status");
        status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS")
    }
}

async fn start_server(binary: &PathBuf) -> Server {
    let dir = tempfile::tempdir().expect("temp dir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let database = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("bench.db").display()
    );
    // An editor's key for the change; customers subscribe without one, to the public feed.
    let created = Command::new(binary)
        .args([
            "apikey",
            "create",
            "--role",
            "editor",
            "--name",
            "benchmark",
        ])
        .args(["--database-url", &database])
        .env("RUST_LOG", "warn")
        .output()
        .expect("create an API key");
    assert!(created.status.success(), "cannot create an API key");
    let key = String::from_utf8(created.stdout).unwrap().trim().to_owned();
    let child = Command::new(binary)
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--database-url",
            &database,
            // Every subscriber connects from this one address.
            "--max-connections-per-client",
            "1000000",
            "--address-requests-per-minute",
            "0",
        ])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot start {}: {e} (run `cargo build --release` first)",
                binary.display()
            )
        });
    let server = Server {
        child,
        url: format!("127.0.0.1:{port}"),
        key,
        _dir: dir,
    };
    let client = reqwest::Client::new();
    for _ in 0..600 {
        if client
            .get(format!("http://{}/readyz", server.url))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return server;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the server did not become ready");
}

async fn graphql(url: &str, key: &str, query: &str, variables: Value) -> Value {
    let response: Value = reqwest::Client::new()
        .post(format!("http://{url}/graphql"))
        .bearer_auth(key)
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("JSON");
    assert!(response.get("errors").is_none(), "{response}");
    response["data"].clone()
}

/// The last event of the log: its cursor and commit time.
async fn last_event(url: &str, key: &str) -> (String, chrono::DateTime<chrono::Utc>) {
    let mut after: Option<String> = None;
    let mut last = None;
    loop {
        let data = graphql(
            url,
            key,
            "query($after: String) { subprocessorChanges(after: $after, first: 500) { pageInfo { hasNextPage endCursor } nodes { cursor occurredAt } } }",
            json!({ "after": after }),
        )
        .await;
        let page = &data["subprocessorChanges"];
        if let Some(node) = page["nodes"].as_array().and_then(|n| n.last()) {
            last = Some((
                node["cursor"].as_str().unwrap().to_owned(),
                node["occurredAt"].as_str().unwrap().parse().unwrap(),
            ));
        }
        if page["pageInfo"]["hasNextPage"] != true {
            return last.expect("the log has events");
        }
        after = page["pageInfo"]["endCursor"].as_str().map(str::to_owned);
    }
}

/// Opens a subscriber and returns once it is subscribed; its task records when the first event
/// arrives.
async fn subscribe(
    url: &str,
    after: &str,
    arrivals: Arc<Mutex<Vec<SystemTime>>>,
    source: Option<std::net::IpAddr>,
) {
    let mut request = format!("ws://{url}/graphql").into_client_request().unwrap();
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0);
    let address: std::net::SocketAddr = url.parse().expect("the server's address");
    let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
    if let Some(source) = source {
        socket
            .bind((source, 0).into())
            .expect("bind a loopback source address");
    }
    let stream = socket.connect(address).await.expect("connect");
    stream.set_nodelay(true).unwrap();
    let (mut socket, _) =
        tokio_tungstenite::client_async_with_config(request, stream, Some(config))
            .await
            .expect("WebSocket handshake");
    socket
        .send(Message::Text(
            json!({ "type": "connection_init" }).to_string().into(),
        ))
        .await
        .unwrap();
    loop {
        let Some(Ok(Message::Text(text))) = socket.next().await else {
            panic!("no connection_ack");
        };
        if text.contains("connection_ack") {
            break;
        }
    }
    let subscribe = json!({
        "id": "1", "type": "subscribe",
        "payload": {
            "query": "subscription($after: String) { subprocessorChanges(after: $after) { cursor kind occurredAt } }",
            "variables": { "after": after },
        }
    });
    socket
        .send(Message::Text(subscribe.to_string().into()))
        .await
        .unwrap();
    tokio::spawn(async move {
        while let Some(Ok(message)) = socket.next().await {
            if let Message::Text(text) = message
                && text.contains("\"next\"")
            {
                arrivals.lock().await.push(SystemTime::now());
            }
        }
    });
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let sources = args
        .source_addresses
        .unwrap_or(if args.subscribers > PER_ADDRESS {
            args.subscribers.div_ceil(PER_ADDRESS)
        } else {
            0
        });
    let sources: Vec<std::net::IpAddr> = (0..sources)
        .map(|i| std::net::Ipv4Addr::new(127, 0, 0, 2 + i as u8).into())
        .collect();
    if let Some(limit) = open_files_limit()
        && limit < args.subscribers as u64 + 1000
    {
        panic!(
            "{} subscribers need {} open files in this process and in the server, the limit is {limit}: \
             run `ulimit -n {}` first",
            args.subscribers,
            args.subscribers + 1000,
            (args.subscribers + 1000).max(20_000)
        );
    }
    let server = start_server(&args.server).await;
    // AWS is on the public subprocessor list: its change reaches every customer.
    let aws = graphql(
        &server.url,
        &server.key,
        r#"{ recipient(key: "aws") { id } }"#,
        json!({}),
    )
    .await;
    let aws = aws["recipient"]["id"].as_str().unwrap().to_owned();
    let rename = |name: String| {
        let (url, key, id) = (server.url.clone(), server.key.clone(), aws.clone());
        async move {
            graphql(
                &url,
                &key,
                "mutation($id: ID!, $name: String) { updateRecipient(id: $id, input: { legalName: $name }) { id } }",
                json!({ "id": id, "name": name }),
            )
            .await;
        }
    };

    // Warm the server's code paths with one subscriber and one change.
    let warm = Arc::new(Mutex::new(Vec::new()));
    let (head, _) = last_event(&server.url, &server.key).await;
    subscribe(&server.url, &head, warm.clone(), None).await;
    rename("warm-up".into()).await;
    while warm.lock().await.is_empty() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (head, _) = last_event(&server.url, &server.key).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_before = server.rss_kib();

    let arrivals = Arc::new(Mutex::new(Vec::with_capacity(args.subscribers)));
    let gate = Arc::new(Semaphore::new(args.connect_concurrency));
    let started = Instant::now();
    let mut opening = Vec::with_capacity(args.subscribers);
    for i in 0..args.subscribers {
        let (url, head, arrivals, gate) = (
            server.url.clone(),
            head.clone(),
            arrivals.clone(),
            gate.clone(),
        );
        let source = (!sources.is_empty()).then(|| sources[i % sources.len()]);
        opening.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await.unwrap();
            subscribe(&url, &head, arrivals, source).await;
        }));
    }
    for task in opening {
        task.await.expect("a subscriber connected");
    }
    let connect_time = started.elapsed();
    // Let the server settle: every subscription has replayed nothing and is waiting.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let rss_after = server.rss_kib();

    let requested = SystemTime::now();
    rename("benchmark change".into()).await;
    let deadline = Instant::now() + Duration::from_secs(args.delivery_timeout_secs);
    while arrivals.lock().await.len() < args.subscribers && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let (_, committed) = last_event(&server.url, &server.key).await;
    let committed: SystemTime = committed.into();
    let arrivals = arrivals.lock().await.clone();
    let mut from_commit: Vec<f64> = arrivals
        .iter()
        .map(|t| {
            t.duration_since(committed)
                .unwrap_or_default()
                .as_secs_f64()
                * 1000.0
        })
        .collect();
    from_commit.sort_by(f64::total_cmp);
    let mut from_request: Vec<f64> = arrivals
        .iter()
        .map(|t| {
            t.duration_since(requested)
                .unwrap_or_default()
                .as_secs_f64()
                * 1000.0
        })
        .collect();
    from_request.sort_by(f64::total_cmp);

    let peak = server.memory_kib("VmHWM:");
    let per_subscriber = (rss_after.saturating_sub(rss_before)) as f64 / args.subscribers as f64;
    println!("subscribers:                 {}", args.subscribers);
    println!(
        "source addresses:            {}",
        if sources.is_empty() {
            "127.0.0.1 (the default)".to_owned()
        } else {
            format!("{} (127.0.0.2 ...)", sources.len())
        }
    );
    println!("delivered:                   {}", arrivals.len());
    println!(
        "connect + subscribe, all:    {:.1} s",
        connect_time.as_secs_f64()
    );
    println!("server RSS idle, before:     {} KiB", rss_before);
    println!("server RSS idle, after:      {} KiB", rss_after);
    println!("server RSS peak (VmHWM):     {} KiB", peak);
    println!("memory per idle subscriber:  {per_subscriber:.1} KiB (target < 20 KiB)");
    // Issue 13: 100,000 idle subscribers on one node within 2 GiB.
    let within = rss_after as f64 / (1024.0 * 1024.0);
    println!(
        "server RSS with {} idle:  {within:.2} GiB{}",
        args.subscribers,
        if args.subscribers >= 100_000 {
            format!(
                " (target <= 2 GiB at 100,000: {})",
                if within <= 2.0 { "PASS" } else { "FAIL" }
            )
        } else {
            format!(
                ", {:.2} GiB at 100,000 at this rate (target <= 2 GiB)",
                (rss_before as f64 + per_subscriber * 100_000.0) / (1024.0 * 1024.0)
            )
        }
    );
    if !from_commit.is_empty() {
        println!(
            "commit -> delivery (ms):     p50 {:.1}  p99 {:.1}  max {:.1}",
            percentile(&from_commit, 50.0),
            percentile(&from_commit, 99.0),
            from_commit.last().unwrap()
        );
        let p99 = percentile(&from_commit, 99.0);
        println!(
            "commit -> delivery p99:      {p99:.1} ms (target < 50 ms at 10,000: {})",
            if p99 < 50.0 && arrivals.len() == args.subscribers {
                "PASS"
            } else {
                "FAIL"
            }
        );
        println!(
            "request -> delivery (ms):    p50 {:.1}  p99 {:.1}  max {:.1}",
            percentile(&from_request, 50.0),
            percentile(&from_request, 99.0),
            from_request.last().unwrap()
        );
    }
    assert_eq!(
        arrivals.len(),
        args.subscribers,
        "every subscriber got the change"
    );
}
