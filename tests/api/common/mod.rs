//! The test harness: each test gets its own database, built by the real migrations and loaded
//! with the example registry, and the real server on a random port. `DATABASE_URL` picks the
//! backend: unset for SQLite, `postgres://...` (a server the test may create databases on) for
//! PostgreSQL.

pub mod notices;
pub mod ws;

use entity::Role;
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use subreg::metrics::Metrics;
use subreg::registry::{Actor, Clock, ManualClock, Registry};
use subreg::server::{Background, RegistryOptions, Server, open_registry, start_background};
use subreg::settings::{BackgroundSettings, ServerSettings};
use tokio::sync::oneshot;

static DATABASES: AtomicUsize = AtomicUsize::new(0);

/// Longer than any answer may take: a request still unanswered by then is a hang.
pub const PATIENCE: std::time::Duration = std::time::Duration::from_secs(30);

pub struct TestServer {
    pub url: String,
    /// The address that serves /metrics without a key, when the test asked for one.
    pub metrics_url: Option<String>,
    /// An HTTP client that sends the admin key with every request.
    pub client: reqwest::Client,
    /// An HTTP client without a key: the public's view.
    pub anonymous_client: reqwest::Client,
    /// An API key with the ADMIN role, made for the test.
    pub admin_key: String,
    /// The server's registry, for what a test drives directly (the scheduler's work).
    pub registry: Registry,
    /// The server's clock, when the test controls it.
    pub clock: Option<Arc<ManualClock>>,
    pub database_url: String,
    _background: Background,
    _stop: oneshot::Sender<()>,
    /// The database, when this server made it (last: dropped once the server is told to stop).
    _database: Option<TestDatabase>,
}

/// How a test server is set up.
#[derive(Default)]
pub struct Setup {
    pub settings: ServerSettings,
    pub registry: RegistryOptions,
    /// Run on a clock the test moves, starting at this instant.
    pub manual_clock: Option<chrono::DateTime<chrono::Utc>>,
    /// Use this database instead of a fresh one (a second replica, a restart); the server that
    /// made it must outlive this one.
    pub database: Option<String>,
    /// Also serve /metrics without a key on an address of its own.
    pub metrics_listen: bool,
    /// Background intervals; by default the log's head is checked every 500 ms.
    pub background: Option<BackgroundSettings>,
}

/// A database of one test, gone when this is dropped (when the test ends, passed or failed).
pub struct TestDatabase {
    pub url: String,
    /// SQLite: the file's directory, removed when dropped.
    _directory: Option<tempfile::TempDir>,
    /// PostgreSQL: the database, dropped when dropped.
    _postgres: Option<PostgresDatabase>,
}

/// A database made on the PostgreSQL server `admin` points to.
struct PostgresDatabase {
    admin: String,
    name: String,
}

impl Drop for PostgresDatabase {
    fn drop(&mut self) {
        // This runs inside a test's runtime (or while a test panics), which cannot be blocked
        // on: a thread with a runtime of its own drops the database. FORCE ends the connections
        // still open to it (a server's pool, a replica that has not yet exited).
        let (admin, name) = (self.admin.clone(), self.name.clone());
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(async {
                let db = Database::connect(&admin).await.map_err(|e| e.to_string())?;
                let dropped = db
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string());
                let _ = db.close().await;
                dropped
            })
        })
        .join()
        .unwrap_or_else(|_| Err("the thread dropping it panicked".into()));
        if let Err(err) = dropped {
            eprintln!("cannot drop the test database {}: {err}", self.name);
        }
    }
}

/// A fresh database for one test.
pub async fn fresh_database() -> TestDatabase {
    match std::env::var("DATABASE_URL") {
        Ok(admin) if admin.starts_with("postgres") => {
            let name = format!(
                "subreg_test_{}_{}",
                std::process::id(),
                DATABASES.fetch_add(1, Ordering::SeqCst)
            );
            let db = Database::connect(&admin)
                .await
                .expect("connect to PostgreSQL");
            db.execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await
                .expect("create a test database");
            let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
            TestDatabase {
                url: format!("{base}/{name}"),
                _directory: None,
                _postgres: Some(PostgresDatabase { admin, name }),
            }
        }
        _ => {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!(
                "sqlite://{}?mode=rwc",
                dir.path().join("subreg.db").display()
            );
            TestDatabase {
                url,
                _directory: Some(dir),
                _postgres: None,
            }
        }
    }
}

impl TestServer {
    /// The server over the example registry.
    pub async fn start() -> Self {
        Self::start_with(ServerSettings::default()).await
    }

    /// A server over an empty registry (no example loaded) whose clock stands at `at` and
    /// moves only when the test advances it (`self.clock`).
    pub async fn empty_at(at: &str) -> Self {
        Self::setup(Setup {
            manual_clock: Some(at.parse().expect("an RFC 3339 instant")),
            registry: subreg::server::RegistryOptions {
                load_example: false,
                ..Default::default()
            },
            ..Setup::default()
        })
        .await
    }

    pub async fn start_with(settings: ServerSettings) -> Self {
        Self::setup(Setup {
            settings,
            ..Setup::default()
        })
        .await
    }

    pub async fn setup(setup: Setup) -> Self {
        let (database_url, database) = match setup.database {
            Some(url) => (url, None),
            None => {
                let database = fresh_database().await;
                (database.url.clone(), Some(database))
            }
        };
        let mut options = setup.registry;
        let clock = setup.manual_clock.map(|start| {
            let clock = Arc::new(ManualClock::new(start));
            options.clock = clock.clone() as Arc<dyn Clock>;
            clock
        });
        let metrics = Metrics::new();
        let registry = open_registry(&database_url, Some(metrics.clone()), options)
            .await
            .expect("open the registry");
        let admin_key = registry
            .create_api_key("test suite", Role::Admin, &Actor::system())
            .await
            .expect("an admin key")
            .secret;
        let background = start_background(
            &registry,
            &database_url,
            &setup.background.unwrap_or(BackgroundSettings {
                change_poll_interval: std::time::Duration::from_millis(500),
                ..BackgroundSettings::default()
            }),
        )
        .await
        .expect("background tasks");
        let server = Server::bind_with_metrics(
            "127.0.0.1:0".parse().unwrap(),
            setup.metrics_listen.then(|| "127.0.0.1:0".parse().unwrap()),
            registry.clone(),
            metrics,
            setup.settings,
        )
        .await
        .expect("bind");
        let url = format!("http://{}", server.local_addr().unwrap());
        let metrics_url = server
            .metrics_addr()
            .map(|addr| format!("http://{}", addr.unwrap()));
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(server.run(
            async {
                let _ = stopped.await;
            },
            std::time::Duration::from_secs(5),
        ));
        Self {
            url,
            metrics_url,
            client: client_with_key(Some(&admin_key)),
            anonymous_client: reqwest::Client::new(),
            admin_key,
            registry,
            clock,
            database_url,
            _background: background,
            _stop: stop,
            _database: database,
        }
    }

    /// The `connection_init` payload that authenticates a WebSocket with the admin key.
    pub fn init(&self) -> Value {
        json!({ "Authorization": format!("Bearer {}", self.admin_key) })
    }

    /// Makes an API key with `role` through the registry, as `subreg apikey create` does.
    pub async fn key(&self, role: Role) -> String {
        self.registry
            .create_api_key(&format!("{role:?} of the test"), role, &Actor::system())
            .await
            .expect("a key")
            .secret
    }

    /// POSTs a GraphQL request with the admin key and returns the response document.
    pub async fn graphql(&self, query: &str, variables: Value) -> Value {
        self.graphql_as(&self.client, query, variables).await
    }

    /// POSTs a GraphQL request without a key, as the public does.
    pub async fn anonymous(&self, query: &str, variables: Value) -> Value {
        self.graphql_as(&self.anonymous_client, query, variables)
            .await
    }

    /// POSTs a GraphQL request with `client`'s credentials.
    pub async fn graphql_as(
        &self,
        client: &reqwest::Client,
        query: &str,
        variables: Value,
    ) -> Value {
        client
            .post(format!("{}/graphql", self.url))
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .expect("request")
            .json()
            .await
            .expect("JSON response")
    }

    /// The `data` of a request that must succeed.
    pub async fn data(&self, query: &str, variables: Value) -> Value {
        let response = self.graphql(query, variables).await;
        assert!(
            response.get("errors").is_none(),
            "unexpected errors: {response:#}"
        );
        response["data"].clone()
    }

    /// The first error of a request that must fail: its `extensions.code` and the response.
    pub async fn error(&self, query: &str, variables: Value) -> (String, Value) {
        let response = self.graphql(query, variables).await;
        let code = response["errors"][0]["extensions"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("expected an error with a code: {response:#}"))
            .to_owned();
        (code, response)
    }

    /// SQL statements the server has executed so far, from its Prometheus metrics.
    pub async fn statements(&self) -> u64 {
        let text = self
            .client
            .get(format!("{}/metrics", self.url))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("metrics text");
        text.lines()
            .find_map(|l| l.strip_prefix("subreg_db_statements_total "))
            .and_then(|v| v.trim().parse().ok())
            .expect("statement counter")
    }

    /// The global ID of the recipient with `key`.
    pub async fn recipient_id(&self, key: &str) -> String {
        let data = self
            .data(
                "query($key: String) { recipient(key: $key) { id } }",
                json!({ "key": key }),
            )
            .await;
        data["recipient"]["id"]
            .as_str()
            .expect("recipient")
            .to_owned()
    }

    /// The global ID of the processing activity with `key`.
    pub async fn activity_id(&self, key: &str) -> String {
        let data = self
            .data(
                "query($key: String) { processingActivity(key: $key) { id } }",
                json!({ "key": key }),
            )
            .await;
        data["processingActivity"]["id"]
            .as_str()
            .expect("activity")
            .to_owned()
    }
}

impl TestServer {
    /// Every event of the change feed, from its history query.
    pub async fn history(&self, filter: Value) -> Vec<Value> {
        let mut events = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let data = self
                .data(
                    r#"query($after: String, $filter: ChangeFilterInput) {
                        subprocessorChanges(after: $after, first: 500, filter: $filter) {
                          pageInfo { hasNextPage endCursor }
                          nodes { cursor sequence kind recipientId dataFlowId products }
                        } }"#,
                    json!({ "after": after, "filter": filter }),
                )
                .await;
            let page = &data["subprocessorChanges"];
            events.extend(page["nodes"].as_array().unwrap().iter().cloned());
            if page["pageInfo"]["hasNextPage"] != true {
                return events;
            }
            after = page["pageInfo"]["endCursor"].as_str().map(str::to_owned);
        }
    }

    /// Renames a recipient, one change-log event.
    pub async fn rename(&self, recipient_id: &str, name: &str) {
        self.data(
            r#"mutation($id: ID!, $name: String) { updateRecipient(id: $id, input: { legalName: $name }) { id } }"#,
            json!({ "id": recipient_id, "name": name }),
        )
        .await;
    }
}

/// A `subreg serve` process, killed when dropped.
pub struct Replica {
    pub url: String,
    child: std::process::Child,
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Replica {
    /// Starts the real binary on `database_url` and waits until it is ready.
    pub async fn start(database_url: &str, change_poll_interval_secs: u64) -> Self {
        Self::start_with(database_url, change_poll_interval_secs, &[]).await
    }

    /// Starts the real binary with `args` besides.
    pub async fn start_with(
        database_url: &str,
        change_poll_interval_secs: u64,
        args: &[&str],
    ) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_subreg"))
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .args(["--database-url", database_url])
            .args([
                "--change-poll-interval-secs",
                &change_poll_interval_secs.to_string(),
            ])
            .args(args)
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("start subreg serve");
        let replica = Self {
            url: format!("http://127.0.0.1:{port}"),
            child,
        };
        let client = reqwest::Client::new();
        for _ in 0..300 {
            let ready = client.get(format!("{}/readyz", replica.url)).send().await;
            if ready.is_ok_and(|r| r.status().is_success()) {
                return replica;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("the replica did not become ready");
    }
}

/// Runs one of the npm reference clients in tests/clients (installed by `npm ci --prefix
/// tests/clients`, which scripts/test does) with `args`.
pub async fn run_client(script: &str, args: Vec<String>) -> std::process::Output {
    let clients = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients");
    assert!(
        std::path::Path::new(clients).join("node_modules").exists(),
        "the reference clients are missing: run `npm ci --prefix tests/clients`"
    );
    let script = format!("{clients}/{script}");
    tokio::task::spawn_blocking(move || {
        std::process::Command::new("node")
            .arg(script)
            .args(args)
            .output()
    })
    .await
    .expect("join")
    .expect("run node")
}

/// A reqwest client that sends `key` as its bearer token.
pub fn client_with_key(key: Option<&str>) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(key) = key {
        headers.insert(
            reqwest::header::AUTHORIZATION,
            format!("Bearer {key}").parse().expect("a header value"),
        );
    }
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .expect("an HTTP client")
}

/// Renames a recipient through the server at `url` with `key` (for tasks that do not own the
/// server).
pub async fn rename_at(url: &str, key: &str, recipient_id: &str, name: &str) {
    let response: Value = client_with_key(Some(key))
        .post(format!("{url}/graphql"))
        .json(&json!({
            "query": r#"mutation($id: ID!, $name: String) { updateRecipient(id: $id, input: { legalName: $name }) { id } }"#,
            "variables": { "id": recipient_id, "name": name },
        }))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("JSON");
    assert!(response.get("errors").is_none(), "{response}");
}

/// An instant as the API writes it.
pub trait Rfc3339 {
    fn now_rfc3339(&self) -> String;
}

impl Rfc3339 for ManualClock {
    fn now_rfc3339(&self) -> String {
        self.now().to_rfc3339()
    }
}
