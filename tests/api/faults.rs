//! Faults an operator meets in production, played against the real `subreg serve` process: told
//! to stop (SIGTERM), it finishes the requests it started and completes its subscriptions before
//! exiting; killed outright (SIGKILL) in the middle of a stream of writes, it restarts with every
//! write it acknowledged and its change event, and nothing half-written; its database going away
//! gives prompt errors and a failing /readyz, and it recovers without a restart when the
//! database comes back.

use crate::common::fresh_database;
use crate::common::ws::{CHANGES, TRANSPORT_WS, WsClient};
use futures_util::{SinkExt, StreamExt};
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

const WAIT: Duration = Duration::from_secs(15);
const BIN: &str = env!("CARGO_BIN_EXE_subreg");

/// A `subreg serve` process that the test can signal; killed when dropped. Its log goes to a
/// file, printed when the test fails.
struct Serve {
    url: String,
    port: u16,
    child: Child,
    log: PathBuf,
    _logdir: tempfile::TempDir,
}

impl Serve {
    /// Starts the real binary on `database_url` with `args`, checking the change log's head
    /// every `poll_secs` beside PostgreSQL notifications, and waits until /readyz says ready.
    async fn start(database_url: &str, poll_secs: u64, args: &[&str]) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let logdir = tempfile::tempdir().expect("a temp dir");
        let log = logdir.path().join("serve.log");
        let child = Command::new(BIN)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .args(["--database-url", database_url])
            .args(["--change-poll-interval-secs", &poll_secs.to_string()])
            .args(args)
            .env("RUST_LOG", "subreg=info,warn")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("a log file"))
            .spawn()
            .expect("start subreg serve");
        let serve = Self {
            url: format!("http://127.0.0.1:{port}"),
            port,
            child,
            log,
            _logdir: logdir,
        };
        let client = reqwest::Client::new();
        for _ in 0..600 {
            let ready = client.get(format!("{}/readyz", serve.url)).send().await;
            if ready.is_ok_and(|r| r.status().is_success()) {
                return serve;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("subreg serve did not become ready:\n{}", serve.log());
    }

    fn pid(&self) -> String {
        self.child.id().to_string()
    }

    /// Sends `signal` (TERM, KILL...) to the process, as an orchestrator would.
    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.pid()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} failed");
    }

    /// The exit status, if the process exits within `within`.
    async fn exited_within(&mut self, within: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for subreg serve") {
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// What the server logged so far.
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "--- log of subreg serve on port {}:\n{}",
                self.port,
                self.log()
            );
        }
    }
}

/// `subreg apikey create`: a new key with `role` on the database at `url`; its secret.
fn api_key(url: &str, role: &str) -> String {
    let output = Command::new(BIN)
        .args(["apikey", "create", "--role", role])
        .args(["--name", &format!("faults test {role}")])
        .args(["--database-url", url])
        .env("RUST_LOG", "warn")
        .output()
        .expect("run subreg apikey create");
    assert!(
        output.status.success(),
        "subreg apikey create failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .last()
        .expect("the secret on the last line")
        .trim()
        .to_owned()
}

/// A GraphQL client holding `key`, that gives up after `timeout`.
fn client(key: Option<&str>, timeout: Duration) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(key) = key {
        headers.insert(
            reqwest::header::AUTHORIZATION,
            format!("Bearer {key}").parse().unwrap(),
        );
    }
    reqwest::Client::builder()
        .default_headers(headers)
        .timeout(timeout)
        .build()
        .unwrap()
}

/// POSTs a GraphQL request: the HTTP status and the response document.
async fn post(
    client: &reqwest::Client,
    url: &str,
    query: &str,
    variables: Value,
) -> reqwest::Result<(u16, Value)> {
    let response = client
        .post(format!("{url}/graphql"))
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await?;
    let status = response.status().as_u16();
    let text = response.text().await?;
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|_| panic!("a JSON answer, got {status}: {text}"));
    Ok((status, body))
}

/// The `data` of a request that must succeed.
async fn data(client: &reqwest::Client, url: &str, query: &str, variables: Value) -> Value {
    let (status, body) = post(client, url, query, variables)
        .await
        .expect("an answer");
    assert!(
        status == 200 && body.get("errors").is_none(),
        "unexpected answer {status}: {body:#}"
    );
    body["data"].clone()
}

const HISTORY: &str = r#"query($after: String) {
  subprocessorChanges(after: $after, first: 500) {
    pageInfo { hasNextPage endCursor }
    nodes { cursor sequence kind recipientId changes { field after } }
  }
}"#;

/// The whole change log, from its history query.
async fn history(client: &reqwest::Client, url: &str) -> Vec<Value> {
    let mut events = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = data(client, url, HISTORY, json!({ "after": after })).await;
        let page = &page["subprocessorChanges"];
        events.extend(page["nodes"].as_array().unwrap().iter().cloned());
        if page["pageInfo"]["hasNextPage"] != true {
            return events;
        }
        after = page["pageInfo"]["endCursor"].as_str().map(str::to_owned);
    }
}

/// The global ID of the recipient with `key`.
async fn recipient_id(client: &reqwest::Client, url: &str, key: &str) -> String {
    let found = data(
        client,
        url,
        "query($key: String) { recipient(key: $key) { id } }",
        json!({ "key": key }),
    )
    .await;
    found["recipient"]["id"]
        .as_str()
        .expect("a recipient")
        .to_owned()
}

const RENAME: &str = r#"mutation($id: ID!, $name: String) {
  updateRecipient(id: $id, input: { legalName: $name }) { id legalName }
}"#;

const RECORD: &str = r#"{
  recordOfProcessingActivities(perspective: CONTROLLER) {
    organization { name dpoEmail }
    activities {
      name purposes legalBasis dataSubjects dataCategories { key name } recipientCategories
      retentionPeriod
      transfers { recipient country mechanism sccModule }
    }
    findings { severity code entity message }
  }
}"#;

const FLOWS: &str = r#"{
  dataFlows(first: 500) {
    totalCount
    edges { cursor node {
      id role
      activity { key name }
      recipient { key legalName kind country { code } }
      dataCategories { key } dataSubjects { key }
      countries { code }
      transfers { mechanism sccModule derogation }
    } }
  }
}"#;

/// A POST whose body is still on its way: the client has sent the headers and half the body.
/// The server has started the request (authenticated it, routed it to the GraphQL handler) and
/// waits for the rest.
struct SlowUpload {
    socket: std::net::TcpStream,
    rest: Vec<u8>,
}

impl SlowUpload {
    fn start(port: u16, key: &str, query: &str) -> Self {
        let body = json!({ "query": query }).to_string().into_bytes();
        let mut socket = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
        let head = format!(
            "POST /graphql HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {key}\r\n\
             Content-Type: application/json\r\nAccept: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        let half = body.len() / 2;
        socket.write_all(head.as_bytes()).expect("send the headers");
        socket.write_all(&body[..half]).expect("send half the body");
        socket.flush().unwrap();
        Self {
            socket,
            rest: body[half..].to_vec(),
        }
    }

    /// Sends the rest of the body and reads the whole answer: its status line and body.
    async fn finish(mut self) -> (String, Value) {
        tokio::task::spawn_blocking(move || {
            self.socket.write_all(&self.rest).expect("send the rest");
            self.socket
                .set_read_timeout(Some(WAIT))
                .expect("a read timeout");
            let mut answer = Vec::new();
            self.socket
                .read_to_end(&mut answer)
                .expect("read the answer");
            let answer = String::from_utf8(answer).expect("UTF-8");
            let (head, body) = answer.split_once("\r\n\r\n").expect("an HTTP answer");
            let status = head.lines().next().unwrap_or_default().to_owned();
            let body = serde_json::from_str(body)
                .unwrap_or_else(|_| panic!("a whole JSON body: {answer}"));
            (status, body)
        })
        .await
        .unwrap()
    }
}

/// What a WebSocket subscriber sees, frame by frame.
#[derive(Debug)]
enum Seen {
    Message(Value),
    Closed(Option<u16>),
    /// The connection ended without a close frame.
    Ended,
    TimedOut,
}

/// A `graphql-transport-ws` subscriber that reports every protocol message and the close frame.
struct Subscriber {
    socket: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
}

impl Subscriber {
    async fn connect(url: &str, key: &str) -> Self {
        let mut request = format!("{}/graphql", url.replacen("http", "ws", 1))
            .into_client_request()
            .unwrap();
        request
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", TRANSPORT_WS.parse().unwrap());
        let (socket, _) = tokio_tungstenite::connect_async(request)
            .await
            .expect("WebSocket handshake");
        let mut subscriber = Self { socket };
        subscriber
            .send(json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {key}") } }))
            .await;
        match subscriber.next(WAIT).await {
            Seen::Message(m) if m["type"] == "connection_ack" => subscriber,
            other => panic!("expected connection_ack, got {other:?}"),
        }
    }

    async fn send(&mut self, message: Value) {
        self.socket
            .send(Message::Text(message.to_string().into()))
            .await
            .expect("send");
    }

    async fn subscribe(&mut self, id: &str, after: &str) {
        self.send(json!({ "id": id, "type": "subscribe",
            "payload": { "query": CHANGES, "variables": { "after": after } } }))
            .await;
    }

    /// The next protocol message or the end of the connection (pings are answered).
    async fn next(&mut self, wait: Duration) -> Seen {
        loop {
            let Ok(frame) = tokio::time::timeout(wait, self.socket.next()).await else {
                return Seen::TimedOut;
            };
            match frame {
                Some(Ok(Message::Text(text))) => {
                    let message: Value = serde_json::from_str(&text).expect("JSON");
                    if message["type"] == "ping" {
                        self.send(json!({ "type": "pong" })).await;
                        continue;
                    }
                    return Seen::Message(message);
                }
                Some(Ok(Message::Close(frame))) => {
                    return Seen::Closed(frame.map(|f| u16::from(f.code)));
                }
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return Seen::Ended,
            }
        }
    }
}

/// The last cursor of the change log.
async fn head(client: &reqwest::Client, url: &str) -> String {
    history(client, url).await.last().unwrap()["cursor"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn sigterm_finishes_requests_in_flight_completes_subscriptions_and_exits_cleanly() {
    let files = fresh_database().await;
    let database = files.url.clone();
    let editor = api_key(&database, "editor");
    let mut server = Serve::start(&database, 1, &["--shutdown-grace-secs", "10"]).await;
    let grace = Duration::from_secs(10);
    let http = client(Some(&editor), WAIT);

    // An internal integration follows the feed; it is live (it receives a rename).
    let start = head(&http, &server.url).await;
    let mut subscriber = Subscriber::connect(&server.url, &editor).await;
    subscriber.subscribe("feed", &start).await;
    let stripe = recipient_id(&http, &server.url, "stripe").await;
    data(
        &http,
        &server.url,
        RENAME,
        json!({ "id": stripe, "name": "Stripe before the restart" }),
    )
    .await;
    match subscriber.next(WAIT).await {
        Seen::Message(m) if m["type"] == "next" && m["id"] == "feed" => {
            assert_eq!(
                m["payload"]["data"]["subprocessorChanges"]["kind"],
                "RECIPIENT_UPDATED"
            );
        }
        other => panic!("expected the rename's event, got {other:?}"),
    }

    // The DPO's tool is uploading a request for the record over a slow link, and an internal
    // tool has just asked for a large page of data flows (on a connection the server already
    // serves; the page takes a few hundred milliseconds), when the orchestrator says stop.
    let upload = SlowUpload::start(server.port, &editor, RECORD);
    let flows = {
        let http = http.clone();
        let url = server.url.clone();
        tokio::spawn(async move {
            let answer = post(&http, &url, FLOWS, json!({})).await;
            (answer, Instant::now())
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let stopped_at = Instant::now();
    server.signal("TERM");

    // The subscriber is told its subscription is complete, then goodbye (1001 going away).
    let mut completed = false;
    loop {
        match subscriber.next(WAIT).await {
            Seen::Message(m) if m["type"] == "complete" => {
                assert_eq!(m["id"], "feed");
                completed = true;
            }
            Seen::Message(m) => panic!("unexpected message on shutdown: {m}"),
            Seen::Closed(code) => {
                assert!(completed, "`complete` comes before the close frame");
                assert_eq!(code, Some(u16::from(CloseCode::Away)), "closed with 1001");
                break;
            }
            other => panic!("expected `complete` and a close frame, got {other:?}"),
        }
    }

    // New connections are refused while the server drains what it started.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match std::net::TcpStream::connect(("127.0.0.1", server.port)) {
            Err(err) if err.kind() == std::io::ErrorKind::ConnectionRefused => break,
            _ if Instant::now() > deadline => panic!("still accepting connections after SIGTERM"),
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "the server waits for the request still uploading"
    );

    // Both requests in flight get their whole answer.
    let (answer, answered_at) = flows.await.unwrap();
    let (status, flows) = answer.expect("the data flows answer");
    if answered_at > stopped_at {
        eprintln!(
            "the data flows page was answered {:?} after SIGTERM",
            answered_at - stopped_at
        );
    }
    assert_eq!(status, 200, "{flows}");
    assert!(flows.get("errors").is_none(), "{flows:#}");
    let edges = flows["data"]["dataFlows"]["edges"].as_array().unwrap();
    let total = flows["data"]["dataFlows"]["totalCount"].as_u64().unwrap() as usize;
    assert_eq!(edges.len(), total.min(500), "the whole page");

    tokio::time::sleep(Duration::from_millis(500)).await;
    let (status_line, record) = upload.finish().await;
    assert!(status_line.contains(" 200 "), "{status_line}");
    assert!(record.get("errors").is_none(), "{record:#}");
    let activities = record["data"]["recordOfProcessingActivities"]["activities"]
        .as_array()
        .expect("the record");
    assert!(!activities.is_empty());

    // Then the process exits cleanly, within the grace period.
    let status = server
        .exited_within(grace.saturating_sub(stopped_at.elapsed()))
        .await
        .unwrap_or_else(|| panic!("still running after the grace period:\n{}", server.log()));
    assert!(status.success(), "exit status {status}:\n{}", server.log());
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", server.port)).is_err(),
        "nothing listens any more"
    );
}

/// What a writer task was told: the names or keys the server acknowledged, in order, and the
/// one it was sending when the connection broke (which may or may not have committed).
#[derive(Default, Debug)]
struct Acknowledged {
    done: Vec<String>,
    in_flight: Option<String>,
    errors: Vec<Value>,
}

/// Sends `mutation` with the variables `each(i)` for i = 0, 1, ... until the server stops
/// answering; records what it acknowledged (a 200 without errors) in `log`.
async fn write_until_cut(
    http: reqwest::Client,
    url: String,
    mutation: &'static str,
    each: impl Fn(usize) -> (String, Value),
    log: Arc<Mutex<Acknowledged>>,
) {
    for i in 0.. {
        let (label, variables) = each(i);
        log.lock().unwrap().in_flight = Some(label.clone());
        match post(&http, &url, mutation, variables).await {
            Ok((200, body)) if body.get("errors").is_none() => {
                let mut log = log.lock().unwrap();
                log.in_flight = None;
                log.done.push(label);
            }
            Ok((_, body)) => {
                log.lock().unwrap().errors.push(body);
                return;
            }
            // The server is gone.
            Err(_) => return,
        }
    }
}

const CREATE: &str = r#"mutation($key: String!, $name: String!) {
  createRecipient(input: { key: $key, legalName: $name, kind: SERVICE_PROVIDER,
                           defaultRole: PROCESSOR, country: "NL" }) { id key }
}"#;

#[tokio::test]
async fn sigkill_mid_stream_loses_no_acknowledged_write_and_leaves_none_half_written() {
    let files = fresh_database().await;
    let database = files.url.clone();
    let editor = api_key(&database, "editor");
    let admin = api_key(&database, "admin");
    let unlimited = [
        "--key-requests-per-minute",
        "0",
        "--address-requests-per-minute",
        "0",
    ];
    let server = Serve::start(&database, 1, &unlimited).await;
    let reader = client(Some(&admin), WAIT);
    let writer = client(Some(&editor), WAIT);

    // Four tasks add recipients, two rename existing ones, all at once.
    let mut creators = Vec::new();
    let mut renamers = Vec::new();
    let mut tasks = Vec::new();
    for t in 0..4 {
        let log = Arc::new(Mutex::new(Acknowledged::default()));
        creators.push(log.clone());
        tasks.push(tokio::spawn(write_until_cut(
            writer.clone(),
            server.url.clone(),
            CREATE,
            move |i| {
                let key = format!("faults_{t}_{i}");
                let variables = json!({ "key": key, "name": format!("Recipient {t}.{i}") });
                (key, variables)
            },
            log,
        )));
    }
    for key in ["stripe", "mollie"] {
        let id = recipient_id(&reader, &server.url, key).await;
        let log = Arc::new(Mutex::new(Acknowledged::default()));
        renamers.push((id.clone(), log.clone()));
        tasks.push(tokio::spawn(write_until_cut(
            writer.clone(),
            server.url.clone(),
            RENAME,
            move |i| {
                let name = format!("{key} renamed {i}");
                let variables = json!({ "id": id, "name": name });
                (name, variables)
            },
            log,
        )));
    }
    let acknowledged = || {
        creators
            .iter()
            .chain(renamers.iter().map(|(_, log)| log))
            .map(|log| log.lock().unwrap().done.len())
            .sum::<usize>()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while acknowledged() < 60 {
        assert!(Instant::now() < deadline, "the writes are too slow");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    // Killed without warning, in the middle of the stream.
    server.signal("KILL");
    for task in tasks {
        task.await.unwrap();
    }
    drop(server);
    let mut cut_mid_request = 0;
    for log in creators.iter().chain(renamers.iter().map(|(_, log)| log)) {
        let log = log.lock().unwrap();
        assert!(log.errors.is_empty(), "refused writes: {:#?}", log.errors);
        cut_mid_request += usize::from(log.in_flight.is_some());
    }
    assert!(
        cut_mid_request > 0,
        "the kill came while writes were in flight"
    );
    eprintln!(
        "killed after {} acknowledged writes, {cut_mid_request} in flight",
        acknowledged()
    );

    // Restarted on the same database.
    let server = Serve::start(&database, 1, &unlimited).await;
    let recipients = data(
        &reader,
        &server.url,
        "{ recipients { id key legalName } }",
        json!({}),
    )
    .await;
    let recipients: HashMap<String, (String, String)> = recipients["recipients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let field = |name: &str| r[name].as_str().unwrap().to_owned();
            (field("id"), (field("key"), field("legalName")))
        })
        .collect();
    let by_key: HashMap<&str, &str> = recipients
        .iter()
        .map(|(id, (key, _))| (key.as_str(), id.as_str()))
        .collect();
    let log = history(&reader, &server.url).await;
    let sequences: Vec<i64> = log
        .iter()
        .map(|e| e["sequence"].as_i64().unwrap())
        .collect();
    assert!(sequences.windows(2).all(|w| w[0] < w[1]), "{sequences:?}");
    let created: HashSet<&str> = log
        .iter()
        .filter(|e| e["kind"] == "RECIPIENT_CREATED")
        .map(|e| e["recipientId"].as_str().unwrap())
        .collect();
    // The legal name each event set, per recipient, in log order.
    let mut names_logged: HashMap<&str, Vec<&str>> = HashMap::new();
    for event in &log {
        let Some(recipient) = event["recipientId"].as_str() else {
            continue;
        };
        if !event["kind"].as_str().unwrap().starts_with("RECIPIENT_") {
            continue;
        }
        for change in event["changes"].as_array().unwrap() {
            if change["field"] == "legalName" {
                let name = change["after"].as_str().unwrap();
                names_logged.entry(recipient).or_default().push(name);
            }
        }
    }

    // Every acknowledged creation is there, with its event.
    for (t, log) in creators.iter().enumerate() {
        let log = log.lock().unwrap();
        for key in &log.done {
            let id = by_key
                .get(key.as_str())
                .unwrap_or_else(|| panic!("acknowledged recipient {key} is lost"));
            assert!(created.contains(id), "{key} has no RECIPIENT_CREATED event");
        }
        // Beyond them, at most the one in flight when the server died.
        let mine = by_key
            .keys()
            .filter(|k| k.starts_with(&format!("faults_{t}_")))
            .count();
        let in_flight = log
            .in_flight
            .as_ref()
            .is_some_and(|k| by_key.contains_key(k.as_str()));
        assert_eq!(mine, log.done.len() + usize::from(in_flight));
    }
    // Every acknowledged rename is applied and logged; the name now is the last one
    // acknowledged or the one in flight.
    for (id, log) in &renamers {
        let log = log.lock().unwrap();
        let logged = &names_logged[id.as_str()];
        for name in &log.done {
            assert!(
                logged.contains(&name.as_str()),
                "acknowledged rename to {name:?} has no event"
            );
        }
        let now = recipients[id].1.as_str();
        let expected: Vec<&str> = log
            .done
            .last()
            .into_iter()
            .chain(log.in_flight.as_ref())
            .map(String::as_str)
            .collect();
        assert!(expected.contains(&now), "{now:?} is none of {expected:?}");
    }

    // Nothing half-written: every recipient has its creation event and every event's recipient
    // exists; each recipient's name is the one its latest event set.
    let ids: HashSet<&str> = recipients.keys().map(String::as_str).collect();
    assert_eq!(ids, created, "recipients and their creation events");
    for event in &log {
        if let Some(recipient) = event["recipientId"].as_str() {
            assert!(
                ids.contains(recipient),
                "an event without its change: {event}"
            );
        }
    }
    for (id, (key, name)) in &recipients {
        let latest = names_logged[id.as_str()].last().copied();
        assert_eq!(
            latest,
            Some(name.as_str()),
            "{key}: the table and the log agree"
        );
    }

    // And the restarted server takes writes again.
    data(
        &writer,
        &server.url,
        CREATE,
        json!({ "key": "faults_after_restart", "name": "After the restart" }),
    )
    .await;
}

/// Runs `sql` on the server's administrative database (the one DATABASE_URL names).
async fn as_postgres_admin(sql: &str) {
    let admin = std::env::var("DATABASE_URL").unwrap();
    let db = Database::connect(&admin).await.expect("connect as admin");
    db.execute_unprepared(sql).await.expect(sql);
}

/// How the server answers while its database is away: promptly, with an error a client can
/// act on (a 503, or a GraphQL error coded INTERNAL_SERVER_ERROR), never a hang, a 500 or the
/// database's own message. Returns how long it took.
async fn assert_fails_promptly(client: &reqwest::Client, url: &str, query: &str) -> Duration {
    let started = Instant::now();
    let (status, body) = post(client, url, query, json!({}))
        .await
        .unwrap_or_else(|err| panic!("no answer to {query}: {err}"));
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(12),
        "{query} took {took:?} to fail"
    );
    let code = body["errors"][0]["extensions"]["code"].as_str();
    match status {
        200 => assert_eq!(code, Some("INTERNAL_SERVER_ERROR"), "{body:#}"),
        503 => assert!(code.is_some(), "{body:#}"),
        _ => panic!("{query}: {status} {body:#}"),
    }
    let text = body.to_string();
    for internal in ["panicked", "SELECT", "accepting connections", "subreg_test"] {
        assert!(
            !text.contains(internal),
            "no internals ({internal}): {text}"
        );
    }
    let first_line = query.lines().next().unwrap_or_default();
    eprintln!(
        "during the outage: {status} {code:?} {:?} after {took:?} for {first_line}",
        body["errors"][0]["message"]
    );
    took
}

#[tokio::test]
async fn the_database_going_away_gives_errors_and_the_server_recovers_when_it_returns() {
    if !std::env::var("DATABASE_URL").is_ok_and(|u| u.starts_with("postgres")) {
        eprintln!(
            "skipped: on SQLite the database is a file opened by the server process itself; it \
             cannot go away and come back while the process runs. Run with \
             DATABASE_URL=postgres://... to test an outage."
        );
        return;
    }
    let files = fresh_database().await;
    let database = files.url.clone();
    let name = database.rsplit('/').next().unwrap().to_owned();
    let editor = api_key(&database, "editor");
    // Its periodic check of the log is an hour away: after the outage, other processes' changes
    // reach it only if its notification connection came back.
    let server = Serve::start(&database, 3600, &[]).await;
    let http = client(Some(&editor), Duration::from_secs(25));
    let public = client(None, Duration::from_secs(25));

    // A subscriber, opened before the outage, is live.
    let start = head(&http, &server.url).await;
    let mut subscriber = WsClient::connect(
        &server.url,
        TRANSPORT_WS,
        json!({ "Authorization": format!("Bearer {editor}") }),
    )
    .await;
    subscriber
        .subscribe("1", CHANGES, json!({ "after": start }))
        .await;
    let stripe = recipient_id(&http, &server.url, "stripe").await;
    let mollie = recipient_id(&http, &server.url, "mollie").await;
    data(
        &http,
        &server.url,
        RENAME,
        json!({ "id": stripe, "name": "Stripe before the outage" }),
    )
    .await;
    assert_eq!(
        subscriber.changes(1, WAIT).await[0]["kind"],
        "RECIPIENT_UPDATED"
    );

    // The database stops taking connections and drops the ones it had.
    as_postgres_admin(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false")).await;
    as_postgres_admin(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = '{name}' AND pid <> pg_backend_pid()"
    ))
    .await;

    let probe = client(None, Duration::from_secs(25));
    let started = Instant::now();
    let readyz = probe
        .get(format!("{}/readyz", server.url))
        .send()
        .await
        .expect("/readyz answers");
    assert_eq!(readyz.status().as_u16(), 503);
    assert!(
        started.elapsed() < Duration::from_secs(12),
        "/readyz took {:?}",
        started.elapsed()
    );
    let rename = format!(
        r#"mutation {{ updateRecipient(id: "{stripe}", input: {{ legalName: "Stripe during the outage" }}) {{ id }} }}"#
    );
    for (client, query) in [
        (&public, "{ subprocessors { key legalName } }"),
        (&http, "{ recipients { key legalName } }"),
        (&http, FLOWS),
        (&http, rename.as_str()),
    ] {
        assert_fails_promptly(client, &server.url, query).await;
    }
    let healthz = probe
        .get(format!("{}/healthz", server.url))
        .send()
        .await
        .expect("/healthz answers");
    assert_eq!(healthz.status().as_u16(), 200, "the process itself is fine");

    // The database comes back: the same process is ready again, and reads and writes.
    as_postgres_admin(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true")).await;
    let back = Instant::now();
    loop {
        let answer = probe.get(format!("{}/readyz", server.url)).send().await;
        if answer.is_ok_and(|r| r.status().as_u16() == 200) {
            break;
        }
        assert!(
            back.elapsed() < WAIT,
            "/readyz never recovered:\n{}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("ready {:?} after the database came back", back.elapsed());
    let listed = data(&public, &server.url, "{ subprocessors { key } }", json!({})).await;
    assert!(!listed["subprocessors"].as_array().unwrap().is_empty());
    let renamed = data(
        &http,
        &server.url,
        RENAME,
        json!({ "id": stripe, "name": "Stripe after the outage" }),
    )
    .await;
    assert_eq!(
        renamed["updateRecipient"]["legalName"],
        "Stripe after the outage"
    );

    // The subscriber opened before the outage receives the change committed after it through
    // this server, then one committed by another server process (its wake-up comes through the
    // re-established notification connection); nothing from the outage.
    let event = &subscriber.changes(1, WAIT).await[0];
    assert_eq!(event["kind"], "RECIPIENT_UPDATED");
    assert_eq!(event["recipientId"], stripe.as_str());
    let other = Serve::start(&database, 1, &[]).await;
    data(
        &http,
        &other.url,
        RENAME,
        json!({ "id": mollie, "name": "Mollie, renamed elsewhere" }),
    )
    .await;
    let elsewhere = &subscriber.changes(1, WAIT).await[0];
    assert_eq!(elsewhere["recipientId"], mollie.as_str());
    let log = history(&http, &server.url).await;
    assert_eq!(log.last().unwrap()["sequence"], elsewhere["sequence"]);
    assert!(
        !log.iter()
            .flat_map(|e| e["changes"].as_array().unwrap())
            .any(|c| c["after"] == "Stripe during the outage"),
        "the refused rename left no trace"
    );
    assert!(
        subscriber
            .drain(Duration::from_millis(700))
            .await
            .is_empty()
    );
}

/// The grace period bounds the whole shutdown: an orchestrator kills a process that outlives it
/// (Kubernetes after 30 s by default), so the server must not wait on a client that stalls.
#[tokio::test]
async fn a_request_that_never_finishes_does_not_hold_the_shutdown_past_the_grace_period() {
    let files = fresh_database().await;
    let database = files.url.clone();
    let editor = api_key(&database, "editor");
    let mut server = Serve::start(&database, 1, &["--shutdown-grace-secs", "2"]).await;
    let mut subscriber = Subscriber::connect(&server.url, &editor).await;

    // A client starts uploading a request and stalls.
    let stalled = SlowUpload::start(server.port, &editor, RECORD);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let stopped_at = Instant::now();
    server.signal("TERM");
    assert!(
        matches!(subscriber.next(WAIT).await, Seen::Closed(Some(1001))),
        "the idle WebSocket is closed at once"
    );
    let status = server
        .exited_within(Duration::from_secs(10))
        .await
        .unwrap_or_else(|| panic!("still running 10 s after SIGTERM:\n{}", server.log()));
    let took = stopped_at.elapsed();
    assert!(status.success(), "exit status {status}:\n{}", server.log());
    assert!(
        took >= Duration::from_secs(2),
        "the stalled request had its grace period ({took:?})"
    );
    assert!(
        took < Duration::from_secs(4),
        "exited {took:?} after SIGTERM, the grace period is 2 s"
    );
    assert!(server.log().contains("grace period"), "{}", server.log());
    drop(stalled);
}
