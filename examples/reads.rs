//! Benchmark: the hot read paths (issue 13), each beside a bare axum handler serving the same
//! bytes in the same run, and the dataFlows page beside PostGraphile 5 on the same PostgreSQL
//! tables; plus the cold start of `subreg serve` on the seeded database. Prints every figure
//! next to its target.
//!
//! ```sh
//! cargo build --release --bin subreg --example reads
//! ./target/release/examples/reads [--backend sqlite|postgres|both] [--flows 100000]
//! ```
//!
//! The registry is the example plus `--flows` synthetic flows (`subreg seed --synthetic`), kept
//! between runs: SQLite in `target/bench/sqlite-100k.db`, PostgreSQL in the database
//! `subreg_bench_100k` (for `--flows 100000`), each with a marker file
//! `target/bench/<name>.seeded` naming the last migration and the flow count; a database whose
//! marker, migration or count differs is seeded again. `--reseed` forces it.
//!
//! The load is wrk (`-t1 -c32 -d10s --latency`, `--rounds` rounds), with Lua scripts written
//! into `target/bench/` (POST bodies; a different cursor for each request). The server runs as
//! its own process, the release binary next to this example; the bare handler is this example
//! re-executed with `--bare`; PostGraphile (npm `postgraphile` 5, amber preset, under Node 22
//! from the npm package `node@22`) is installed into `target/bench/postgraphile` with npm on
//! first use. Server CPU per request is the server process's utime+stime (`/proc/PID/stat`)
//! over the round, divided by the requests wrk completed.
//!
//! Paths (c), (d) and (e) are also timed right after a write, one request at a time
//! (`--after-writes`, 100 each by default), on the server as deployed: a listed recipient's
//! recorded assumptions change, so nothing kept before, answer or row, can serve the request
//! that follows, which is what the first customer after a change waits.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use clap::{Parser, ValueEnum};
use migration::MigratorTrait;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum, Debug)]
enum Backend {
    Sqlite,
    Postgres,
    Both,
}

#[derive(Parser)]
struct Args {
    /// Which database(s) to measure.
    #[arg(long, value_enum, default_value_t = Backend::Both)]
    backend: Backend,
    /// Synthetic data flows added to the example registry.
    #[arg(long, default_value_t = 100_000)]
    flows: usize,
    /// Seed the databases again even when they are present.
    #[arg(long)]
    reseed: bool,
    /// The server binary; by default `subreg` next to this example's directory.
    #[arg(long)]
    server: Option<PathBuf>,
    /// Where databases, scripts, captured bodies and PostGraphile are kept.
    #[arg(long, default_value = "target/bench")]
    dir: PathBuf,
    /// PostgreSQL server (a superuser, to create the benchmark's database).
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:55432")]
    postgres: String,
    /// wrk rounds per path and server.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Seconds per wrk round.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// wrk connections (one thread).
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// Only these paths (comma-separated: a,b,c,d,e,cold); all when absent.
    #[arg(long, value_delimiter = ',')]
    paths: Vec<String>,
    /// Do not run PostGraphile.
    #[arg(long)]
    no_postgraphile: bool,
    /// `--kept-rows` for the server of the paths that are not repeated (the server's default
    /// when absent; 0 to read every relation from the database, as before rows were kept).
    #[arg(long)]
    kept_rows: Option<usize>,
    /// Cold starts measured per database.
    #[arg(long, default_value_t = 3)]
    cold_starts: usize,
    /// Answers of paths c, d and e timed right after a write, per path and database.
    #[arg(long, default_value_t = 100)]
    after_writes: usize,
    /// Internal: serve this file's bytes to every request (the bare handler).
    #[arg(long, hide = true)]
    bare: Option<PathBuf>,
    #[arg(long, hide = true, default_value = "application/json")]
    bare_content_type: String,
    #[arg(long, hide = true, default_value_t = 0)]
    bare_port: u16,
}

const PAGE_QUERY: &str = "query Page($after: String) { dataFlows(first: 100, after: $after) { totalCount pageInfo { endCursor hasNextPage } edges { cursor node { id role purpose recipient { key legalName kind } dataCategories { key name } dataSubjects { key name } countries { code name } transfers { country { code } mechanism sccModule derogation } } } } }";

/// The same page from PostGraphile's generated schema (amber preset, simplified inflection):
/// the join tables are connections of their own (named `...ByFlowId` after their column
/// `flow_id`), a country is its code (names are Subreg's reference data, not a table).
const POSTGRAPHILE_QUERY: &str = "query Page($after: Cursor) { dataFlows(first: 100, after: $after, orderBy: PRIMARY_KEY_ASC) { totalCount pageInfo { endCursor hasNextPage } edges { cursor node { id role purpose recipient { key legalName kind } flowDataCategoriesByFlowId { nodes { dataCategory { key name } } } flowDataSubjectsByFlowId { nodes { dataSubject { key name } } } flowCountriesByFlowId { nodes { country } } transfersByFlowId { nodes { country mechanism sccModule derogation } } } } } }";

const SUBPROCESSORS_QUERY: &str = "{ subprocessors { key legalName kind country { code name } processingLocations { code name } website privacyNoticeUrl status } }";

/// Random cursors for path (b).
const CURSORS: usize = 2000;

fn main() {
    let args = Args::parse();
    if let Some(body) = &args.bare {
        bare_server(body, &args.bare_content_type, args.bare_port);
        return;
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(run(args));
}

/// The machine's ceiling: axum answering every request with the same bytes.
fn bare_server(body: &Path, content_type: &str, port: u16) {
    let body = axum::body::Bytes::from(std::fs::read(body).expect("the captured body"));
    let content_type = content_type.to_owned();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async move {
            let app = axum::Router::new().fallback(move |_: axum::body::Bytes| {
                let (body, content_type) = (body.clone(), content_type.clone());
                async move { ([(axum::http::header::CONTENT_TYPE, content_type)], body) }
            });
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
                .await
                .unwrap();
            axum::serve(listener, app).await.unwrap();
        });
}

/// A process this benchmark started, killed when dropped.
struct Proc {
    child: Child,
    port: u16,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proc {
    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// utime + stime of the process, in seconds.
    fn cpu_seconds(&self) -> f64 {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.split_whitespace().collect())
            .unwrap_or_default();
        // Fields 14 and 15 of stat(5); the rest after the command starts at field 3.
        let ticks: f64 = fields
            .get(11..13)
            .map(|f| f.iter().filter_map(|v| v.parse::<f64>().ok()).sum())
            .unwrap_or(0.0);
        ticks / clock_ticks()
    }

    fn rss_mib(&self) -> f64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .unwrap_or(0.0)
            / 1024.0
    }
}

fn clock_ticks() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// One database under test.
struct Db {
    backend: Backend,
    url: String,
    /// The viewer key the dataFlows page is asked with.
    viewer: String,
    /// The editor key of the writes before each answer of "after a write".
    editor: String,
    /// Flow ids whose page after them is full (path b's cursors).
    flow_ids: Vec<i64>,
    total_flows: i64,
}

fn label(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "SQLite",
        Backend::Postgres => "PostgreSQL",
        Backend::Both => "both",
    }
}

fn flows_name(flows: usize) -> String {
    if flows >= 1000 && flows.is_multiple_of(1000) {
        format!("{}k", flows / 1000)
    } else {
        flows.to_string()
    }
}

async fn connect(url: &str) -> DatabaseConnection {
    Database::connect(url)
        .await
        .unwrap_or_else(|e| panic!("cannot open {url}: {e}"))
}

async fn scalar_i64(db: &DatabaseConnection, sql: &str) -> Option<i64> {
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .ok()??;
    row.try_get_by_index::<i64>(0)
        .ok()
        .or_else(|| row.try_get_by_index::<i32>(0).ok().map(i64::from))
}

async fn scalar_string(db: &DatabaseConnection, sql: &str) -> Option<String> {
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .ok()??;
    row.try_get_by_index::<String>(0).ok()
}

/// What a seeded database must show to be reused: its last migration and its flow count.
async fn seeded_state(url: &str) -> Option<String> {
    let db = Database::connect(url).await.ok()?;
    let migration = scalar_string(&db, "SELECT max(version) FROM seaql_migrations").await?;
    let flows = scalar_i64(&db, "SELECT count(*) FROM data_flow").await?;
    db.close().await.ok();
    Some(format!("migration {migration}, {flows} data flows"))
}

fn last_migration() -> String {
    migration::Migrator::migrations()
        .last()
        .map(|m| m.name().to_owned())
        .unwrap_or_default()
}

/// The seeded database of a backend, seeded (or seeded again) when its marker does not match.
async fn prepare(args: &Args, server: &Path, backend: Backend) -> Db {
    std::fs::create_dir_all(&args.dir).unwrap();
    let name = format!("subreg_bench_{}", flows_name(args.flows));
    let (url, marker) = match backend {
        Backend::Sqlite => {
            let file = std::fs::canonicalize(&args.dir)
                .unwrap()
                .join(format!("sqlite-{}.db", flows_name(args.flows)));
            (
                format!("sqlite://{}?mode=rwc", file.display()),
                args.dir
                    .join(format!("sqlite-{}.seeded", flows_name(args.flows))),
            )
        }
        _ => (
            format!("{}/{name}", args.postgres.trim_end_matches('/')),
            args.dir.join(format!("postgres-{name}.seeded")),
        ),
    };
    let expected_migration = last_migration();
    let marked = std::fs::read_to_string(&marker).ok();
    let mut state = seeded_state(&url).await;
    // Seeded before a newer migration: migrate it (the data stays the same) rather than seed
    // again, which takes minutes.
    if !args.reseed
        && marked.is_some()
        && marked == state
        && state
            .as_deref()
            .is_some_and(|s| !s.starts_with(&format!("migration {expected_migration},")))
    {
        let status = Command::new(server)
            .args(["migrate", "--database-url", &url])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .status()
            .expect("run subreg migrate");
        assert!(status.success(), "subreg migrate failed");
        state = seeded_state(&url).await;
        if let Some(now) = &state {
            std::fs::write(&marker, now).unwrap();
        }
    }
    let marked = std::fs::read_to_string(&marker).ok();
    let fresh = !args.reseed
        && marked.is_some()
        && marked == state
        && state
            .as_deref()
            .is_some_and(|s| s.starts_with(&format!("migration {expected_migration},")));
    if fresh {
        eprintln!(
            "{}: reusing {url} ({})",
            label(backend),
            state.unwrap_or_default()
        );
    } else {
        let _ = std::fs::remove_file(&marker);
        match backend {
            Backend::Sqlite => {
                let file = url
                    .trim_start_matches("sqlite://")
                    .trim_end_matches("?mode=rwc");
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{file}{suffix}"));
                }
            }
            _ => {
                let admin = connect(&format!("{}/postgres", args.postgres)).await;
                admin
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await
                    .unwrap();
                admin
                    .execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await
                    .unwrap();
                admin.close().await.ok();
            }
        }
        eprintln!(
            "{}: seeding {url} with the example registry and {} synthetic flows (minutes)...",
            label(backend),
            args.flows
        );
        let started = Instant::now();
        let status = Command::new(server)
            .args(["seed", "--synthetic", &args.flows.to_string()])
            .args(["--database-url", &url])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .status()
            .expect("run subreg seed");
        assert!(status.success(), "subreg seed failed");
        let state = seeded_state(&url).await.expect("the seeded database");
        std::fs::write(&marker, &state).unwrap();
        eprintln!(
            "{}: seeded in {:.0} s ({state})",
            label(backend),
            started.elapsed().as_secs_f64()
        );
    }
    let reset = match backend {
        Backend::Sqlite => format!("rm {}*", marker.with_extension("").display()),
        _ => format!(
            "psql {}/postgres -c 'DROP DATABASE {name}'; rm {}",
            args.postgres,
            marker.display()
        ),
    };
    eprintln!("  (to reset: --reseed, or {reset})");

    let viewer = create_key(server, &url, "viewer");
    let editor = create_key(server, &url, "editor");

    let db = connect(&url).await;
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT id FROM data_flow ORDER BY id",
        ))
        .await
        .unwrap();
    let ids: Vec<i64> = rows
        .iter()
        .filter_map(|r| {
            r.try_get_by_index::<i64>(0)
                .ok()
                .or_else(|| r.try_get_by_index::<i32>(0).ok().map(i64::from))
        })
        .collect();
    db.close().await.ok();
    let total_flows = ids.len() as i64;
    // After these, a page still holds 100 flows.
    let full = ids.len().saturating_sub(100).max(1);
    let mut flow_ids = Vec::with_capacity(CURSORS);
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    for _ in 0..CURSORS {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        flow_ids.push(ids[(seed % full as u64) as usize]);
    }
    Db {
        backend,
        url,
        viewer,
        editor,
        flow_ids,
        total_flows,
    }
}

/// A new API key with `role` on the database at `url`: its secret.
fn create_key(server: &Path, url: &str, role: &str) -> String {
    let created = Command::new(server)
        .args(["apikey", "create", "--role", role, "--name", "bench"])
        .args(["--database-url", url])
        .env("RUST_LOG", "warn")
        .output()
        .expect("create an API key");
    assert!(created.status.success(), "cannot create an API key");
    String::from_utf8(created.stdout)
        .unwrap()
        .lines()
        .last()
        .unwrap_or_default()
        .trim()
        .to_owned()
}

/// Starts `subreg serve` and waits for its first answer; the times to /readyz and to a first
/// GraphQL answer (the public list), from the spawn.
async fn start_subreg(server: &Path, db: &Db, extra: &[&str]) -> (Proc, Duration, Duration) {
    let port = free_port();
    let started = Instant::now();
    let child = Command::new(server)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .args(["--database-url", &db.url, "--no-seed"])
        .args([
            "--key-requests-per-minute",
            "0",
            "--address-requests-per-minute",
            "0",
        ])
        .args(extra)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", server.display()));
    let proc = Proc { child, port };
    let http = reqwest::Client::new();
    let url = proc.url();
    let deadline = started + Duration::from_secs(120);
    let ready = loop {
        if http
            .get(format!("{url}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            break started.elapsed();
        }
        assert!(Instant::now() < deadline, "the server did not become ready");
        tokio::time::sleep(Duration::from_millis(2)).await;
    };
    let answered = loop {
        let ok = http
            .post(format!("{url}/graphql"))
            .json(&json!({ "query": "{ subprocessors { key } }" }))
            .send()
            .await
            .ok()
            .filter(|r| r.status().is_success());
        if let Some(r) = ok
            && r.json::<Value>()
                .await
                .is_ok_and(|v| v.get("errors").is_none())
        {
            break started.elapsed();
        }
        assert!(Instant::now() < deadline, "the server did not answer");
        tokio::time::sleep(Duration::from_millis(2)).await;
    };
    (proc, ready, answered)
}

/// Starts the bare handler serving `body` with `content_type`.
async fn start_bare(body: &Path, content_type: &str) -> Proc {
    let port = free_port();
    let child = Command::new(std::env::current_exe().unwrap())
        .arg("--bare")
        .arg(body)
        .args(["--bare-content-type", content_type])
        .args(["--bare-port", &port.to_string()])
        .stdout(Stdio::null())
        .spawn()
        .expect("re-execute as the bare handler");
    let proc = Proc { child, port };
    wait_listening(port, Duration::from_secs(10)).await;
    proc
}

async fn wait_listening(port: u16, limit: Duration) {
    let deadline = Instant::now() + limit;
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "nothing listens on {port}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// PostGraphile 5 on the same PostgreSQL tables, installed on first use.
async fn start_postgraphile(args: &Args, db: &Db) -> Proc {
    let dir = std::fs::canonicalize(&args.dir)
        .unwrap()
        .join("postgraphile");
    std::fs::create_dir_all(&dir).unwrap();
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/postgraphile");
    for file in ["package.json", "server.mjs"] {
        std::fs::copy(source.join(file), dir.join(file)).unwrap();
    }
    let node = dir.join("node_modules/node/bin/node");
    let has_node_22 = || {
        Command::new(&node)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.stdout.starts_with(b"v22."))
    };
    if !has_node_22() || !dir.join("node_modules/postgraphile").exists() {
        eprintln!(
            "installing PostGraphile 5 and Node 22 into {}",
            dir.display()
        );
        let status = Command::new("npm")
            .args(["install", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .status()
            .expect("npm");
        assert!(status.success(), "npm install failed");
        if !has_node_22() {
            // npm 11 may skip the package's install script, which fetches the binary.
            let status = Command::new("node")
                .arg("installArchSpecificPackage")
                .current_dir(dir.join("node_modules/node"))
                .status()
                .expect("node");
            assert!(status.success() && has_node_22(), "no Node 22 binary");
        }
    }
    let port = free_port();
    let child = Command::new(&node)
        .arg("server.mjs")
        .arg(&db.url)
        .arg(port.to_string())
        .current_dir(&dir)
        .env("NODE_ENV", "production")
        .stdout(Stdio::null())
        .spawn()
        .expect("start PostGraphile");
    let proc = Proc { child, port };
    wait_listening(port, Duration::from_secs(120)).await;
    proc
}

/// One captured answer: its status, content type and bytes.
struct Captured {
    content_type: String,
    body: Vec<u8>,
}

async fn capture(url: &str, request: &Request) -> Result<Captured, String> {
    let mut last = String::new();
    // A server may refuse one request (a 503 after its time limit): three tries.
    for _ in 0..3 {
        match capture_once(url, request).await {
            Ok(captured) => return Ok(captured),
            Err(err) => {
                eprintln!("  {err}");
                last = err;
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
    Err(last)
}

/// `request` (its first body) as reqwest sends it to the server at `url`.
fn outgoing(http: &reqwest::Client, url: &str, request: &Request) -> reqwest::RequestBuilder {
    let builder = match &request.body {
        Some(body) => http
            .post(format!("{url}{}", request.path))
            .header("Content-Type", "application/json")
            .body(body.clone()),
        None => http.get(format!("{url}{}", request.path)),
    };
    match &request.key {
        Some(key) => builder.bearer_auth(key),
        None => builder,
    }
}

async fn capture_once(url: &str, request: &Request) -> Result<Captured, String> {
    let http = reqwest::Client::new();
    let started = Instant::now();
    let response = outgoing(&http, url, request)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream")
        .to_owned();
    let body = response.bytes().await.map_err(|e| e.to_string())?.to_vec();
    let snippet = || String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
    if !status.is_success() {
        return Err(format!(
            "{} answered {status} after {:.0} ms: {}",
            request.path,
            started.elapsed().as_secs_f64() * 1000.0,
            snippet()
        ));
    }
    if content_type.starts_with("application/json")
        || content_type.starts_with("application/graphql-response+json")
    {
        let value: Value = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
        if value.get("errors").is_some() {
            return Err(format!("{}: {}", request.path, snippet()));
        }
    }
    Ok(Captured { content_type, body })
}

/// What wrk sends: one request, or (with `bodies`) a different body each request.
#[derive(Clone)]
struct Request {
    path: String,
    key: Option<String>,
    body: Option<String>,
    /// A different body for each request, in turn.
    bodies: Vec<String>,
}

fn lua_string(s: &str) -> String {
    assert!(!s.contains("]==]"));
    format!("[==[{s}]==]")
}

/// The Lua script wrk runs for `request`.
fn write_script(dir: &Path, name: &str, request: &Request) -> PathBuf {
    let mut lua = String::new();
    let mut headers = String::from("{");
    if request.body.is_some() || !request.bodies.is_empty() {
        headers.push_str(r#"["Content-Type"] = "application/json", "#);
    }
    if let Some(key) = &request.key {
        write!(headers, r#"["Authorization"] = "Bearer {key}", "#).unwrap();
    }
    headers.push('}');
    if request.bodies.is_empty() {
        let method = if request.body.is_some() {
            "POST"
        } else {
            "GET"
        };
        writeln!(lua, "wrk.method = \"{method}\"").unwrap();
        writeln!(lua, "wrk.path = \"{}\"", request.path).unwrap();
        writeln!(
            lua,
            "for k, v in pairs({headers}) do wrk.headers[k] = v end"
        )
        .unwrap();
        if let Some(body) = &request.body {
            writeln!(lua, "wrk.body = {}", lua_string(body)).unwrap();
        }
    } else {
        lua.push_str("local bodies = {\n");
        for body in &request.bodies {
            writeln!(lua, "  {},", lua_string(body)).unwrap();
        }
        lua.push_str("}\nlocal requests = {}\nlocal i = 0\n");
        writeln!(
            lua,
            "init = function(args)\n  for k, b in ipairs(bodies) do requests[k] = wrk.format(\"POST\", \"{}\", {headers}, b) end\nend",
            request.path
        )
        .unwrap();
        lua.push_str("request = function()\n  i = i % #requests + 1\n  return requests[i]\nend\n");
    }
    let path = std::fs::canonicalize(dir)
        .unwrap()
        .join(format!("{name}.lua"));
    std::fs::write(&path, lua).unwrap();
    path
}

/// One wrk round against one server.
#[derive(Clone, Copy, Default)]
struct Round {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    requests: f64,
    /// Non-2xx answers and socket errors.
    failures: f64,
    cpu_us: f64,
}

fn wrk_duration_ms(text: &str) -> f64 {
    let text = text.trim();
    let (number, scale) = if let Some(v) = text.strip_suffix("us") {
        (v, 0.001)
    } else if let Some(v) = text.strip_suffix("ms") {
        (v, 1.0)
    } else if let Some(v) = text.strip_suffix("m") {
        (v, 60_000.0)
    } else if let Some(v) = text.strip_suffix('s') {
        (v, 1000.0)
    } else {
        (text, 1.0)
    };
    number.trim().parse::<f64>().unwrap_or(f64::NAN) * scale
}

fn wrk(args: &Args, target: &Proc, script: &Path) -> Round {
    let cpu_before = target.cpu_seconds();
    let output = Command::new("wrk")
        .args(["-t1", &format!("-c{}", args.connections)])
        .arg(format!("-d{}s", args.duration))
        .args(["--latency", "--timeout", "10s", "-s"])
        .arg(script)
        .arg(target.url())
        .output()
        .expect("wrk (apt-get install wrk)");
    let cpu = target.cpu_seconds() - cpu_before;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let mut round = Round::default();
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["50%", v] => round.p50_ms = wrk_duration_ms(v),
            ["99%", v] => round.p99_ms = wrk_duration_ms(v),
            ["Requests/sec:", v] => round.rps = v.parse().unwrap_or(0.0),
            [n, "requests", "in", ..] => round.requests = n.parse().unwrap_or(0.0),
            ["Non-2xx", "or", "3xx", "responses:", n] => {
                round.failures += n.parse::<f64>().unwrap_or(0.0)
            }
            ["Socket", "errors:", rest @ ..] => {
                round.failures += rest
                    .iter()
                    .filter_map(|w| w.trim_end_matches(',').parse::<f64>().ok())
                    .sum::<f64>()
            }
            _ => {}
        }
    }
    if round.requests > 0.0 {
        round.cpu_us = cpu / round.requests * 1e6;
    }
    round
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

/// The rounds of one server on one path.
#[derive(Clone, Default)]
struct Series(Vec<Round>);

impl Series {
    fn range(&self, f: impl Fn(&Round) -> f64, precision: usize) -> String {
        let values: Vec<f64> = self.0.iter().map(f).collect();
        let min = values.iter().copied().fold(f64::INFINITY, f64::min);
        let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if (max - min).abs() < f64::EPSILON || values.len() < 2 {
            format!("{min:.precision$}")
        } else {
            format!("{min:.precision$}-{max:.precision$}")
        }
    }

    fn median(&self, f: impl Fn(&Round) -> f64) -> f64 {
        median(self.0.iter().map(f).collect())
    }

    fn describe(&self) -> String {
        let failures: f64 = self.0.iter().map(|r| r.failures).sum();
        if self.0.iter().any(|r| r.requests == 0.0) {
            return format!(
                "no request completed in some round ({} req/s)",
                self.range(|r| r.rps, 0)
            );
        }
        format!(
            "{} req/s, p50 {} ms, p99 {} ms, CPU {} µs/req{}",
            self.range(|r| r.rps, 0),
            self.range(|r| r.p50_ms, 2),
            self.range(|r| r.p99_ms, 2),
            self.range(|r| r.cpu_us, 0),
            if failures > 0.0 {
                format!(", {failures} FAILED REQUESTS")
            } else {
                String::new()
            }
        )
    }
}

/// A path's target.
#[derive(Clone, Copy)]
enum Target {
    /// At least this share of the bare handler's throughput and a p99 under this many ms.
    OfBare { share: f64, p99_ms: Option<f64> },
    /// At least this many times PostGraphile's throughput and a p99 under this many ms.
    OfPostGraphile { times: f64, p99_ms: f64 },
    /// A p99 under this many ms.
    P99 { ms: f64 },
}

/// One path's figures and verdict.
struct Outcome {
    backend: Backend,
    path: String,
    subreg: Series,
    bare: Series,
    postgraphile: Option<Series>,
    target: Target,
    bytes: usize,
    /// Why the path could not be measured.
    error: Option<String>,
    /// When wrk completed nothing in a round: the latencies of requests sent one at a time.
    one_at_a_time: Vec<Duration>,
}

impl Outcome {
    /// The verdict on the rounds' medians.
    fn verdict(&self, postgraphile: Option<&Series>) -> String {
        if let Some(err) = &self.error {
            return format!("FAIL: not measured, the server did not answer: {err}");
        }
        let rps = self.subreg.median(|r| r.rps);
        let p99 = self.subreg.median(|r| r.p99_ms);
        let failed = self
            .subreg
            .0
            .iter()
            .any(|r| r.failures > 0.0 || r.requests == 0.0);
        let pass = |ok: bool| if ok && !failed { "PASS" } else { "FAIL" };
        match self.target {
            Target::OfBare { share, p99_ms } => {
                let ratios: Vec<f64> = self
                    .subreg
                    .0
                    .iter()
                    .zip(&self.bare.0)
                    .map(|(s, b)| s.rps / b.rps)
                    .collect();
                let ratio = median(ratios);
                format!(
                    "{}: {:.1}% of bare (target ≥ {:.0}%), p99 {p99:.2} ms{}",
                    pass(ratio >= share && p99_ms.is_none_or(|ms| p99 < ms)),
                    ratio * 100.0,
                    share * 100.0,
                    p99_ms.map_or(String::new(), |ms| format!(" (target < {ms} ms)"))
                )
            }
            Target::OfPostGraphile { times, p99_ms } => match postgraphile {
                Some(pg) => {
                    let ratio = rps / pg.median(|r| r.rps);
                    format!(
                        "{}: {ratio:.1}× PostGraphile (target ≥ {times}×), p99 {p99:.2} ms (target < {p99_ms} ms)",
                        pass(ratio >= times && p99 < p99_ms)
                    )
                }
                None => format!(
                    "{}: p99 {p99:.2} ms (target < {p99_ms} ms); no PostGraphile figure to compare",
                    pass(p99 < p99_ms)
                ),
            },
            Target::P99 { ms } => format!("{}: p99 {p99:.2} ms (target < {ms} ms)", pass(p99 < ms)),
        }
    }
}

/// Measures `request` on `subreg` and on a bare handler serving its captured answer (and on
/// PostGraphile with `pg_request`), round by round, interleaved.
#[allow(clippy::too_many_arguments)]
async fn measure(
    args: &Args,
    backend: Backend,
    name: &str,
    subreg: &Proc,
    request: &Request,
    bare_series: Option<Series>,
    postgraphile: Option<(&Proc, &Request)>,
    target: Target,
) -> Outcome {
    let tag = format!(
        "{}-{}",
        label(backend).to_lowercase(),
        name.split_whitespace()
            .next()
            .unwrap_or("x")
            .trim_matches(['(', ')'])
    );
    let captured = match capture(&subreg.url(), request).await {
        Ok(captured) => captured,
        Err(err) => {
            return Outcome {
                backend,
                path: name.to_owned(),
                subreg: Series::default(),
                bare: bare_series.unwrap_or_default(),
                postgraphile: None,
                target,
                bytes: 0,
                error: Some(err),
                one_at_a_time: Vec::new(),
            };
        }
    };
    let script = write_script(&args.dir, &tag, request);
    let body_file = std::fs::canonicalize(&args.dir)
        .unwrap()
        .join(format!("{tag}.body"));
    std::fs::write(&body_file, &captured.body).unwrap();
    // The bare handler of a path measured before with the same bytes is not measured again.
    let bare = match bare_series {
        Some(_) => None,
        None => Some(start_bare(&body_file, &captured.content_type).await),
    };
    let pg = postgraphile.map(|(proc, request)| {
        (
            proc,
            write_script(&args.dir, &format!("{tag}-postgraphile"), request),
        )
    });
    if let Some((proc, request)) = postgraphile {
        capture(&proc.url(), request)
            .await
            .expect("PostGraphile answers the page");
    }
    let (mut s, mut b, mut p) = (Series::default(), Series::default(), Series::default());
    for round in 1..=args.rounds {
        let r = wrk(args, subreg, &script);
        eprintln!(
            "  {} {name} round {round}: subreg {:.0} req/s p99 {:.2} ms",
            label(backend),
            r.rps,
            r.p99_ms
        );
        s.0.push(r);
        if let Some(bare) = &bare {
            b.0.push(wrk(args, bare, &script));
        }
        if let Some((proc, script)) = &pg {
            p.0.push(wrk(args, proc, script));
        }
    }
    // Too slow for 32 at once: how long one request takes alone.
    let mut one_at_a_time = Vec::new();
    if s.0.iter().any(|r| r.requests == 0.0) {
        for _ in 0..5 {
            let started = Instant::now();
            if capture_once(&subreg.url(), request).await.is_ok() {
                one_at_a_time.push(started.elapsed());
            }
        }
    }
    Outcome {
        backend,
        path: name.to_owned(),
        subreg: s,
        bare: bare_series.unwrap_or(b),
        postgraphile: pg.map(|_| p),
        target,
        bytes: captured.body.len(),
        error: None,
        one_at_a_time,
    }
}

fn graphql_body(query: &str, variables: Value) -> String {
    json!({ "query": query, "variables": variables }).to_string()
}

fn flow_cursor(id: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("cursor:{id}"))
}

/// PostGraphile's cursor after flow `id`: its cursor for a captured page, with that page's
/// last id replaced.
async fn postgraphile_cursor_template(proc: &Proc) -> (String, i64) {
    let response: Value = reqwest::Client::new()
        .post(format!("{}/graphql", proc.url()))
        .header("Content-Type", "application/json")
        .body(graphql_body(
            "{ dataFlows(first: 3, orderBy: PRIMARY_KEY_ASC) { edges { cursor node { rowId } } } }",
            json!({}),
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let edge = &response["data"]["dataFlows"]["edges"][2];
    let cursor = edge["cursor"].as_str().expect("a PostGraphile cursor");
    let id = edge["node"]["rowId"].as_i64().expect("rowId");
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(cursor)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .expect("a base64 cursor");
    // `["<hash>",<id>]`
    assert!(
        decoded.ends_with(&format!(",{id}]")),
        "a cursor ending in its id: {decoded}"
    );
    (decoded, id)
}

fn postgraphile_cursor(template: &(String, i64), id: i64) -> String {
    let (decoded, last) = template;
    let prefix = decoded.strip_suffix(&format!(",{last}]")).unwrap();
    base64::engine::general_purpose::STANDARD.encode(format!("{prefix},{id}]"))
}

fn wants(args: &Args, path: &str) -> bool {
    args.paths.is_empty() || args.paths.iter().any(|p| p == path)
}

/// The write before each answer of [`after_writes`]: a listed recipient's recorded assumptions.
const WRITE: &str = "mutation($id: ID!, $note: String!) { updateRecipient(id: $id, input: { assumptions: [$note] }) { id } }";

/// Times `request`, one at a time, each right after a write (which moves the registry's
/// version, so that nothing kept before it, answer or row, can serve it): what the first
/// customer after a change waits, from the request sent to its last byte.
async fn after_writes(args: &Args, db: &Db, subreg: &Proc, request: &Request) -> Vec<Duration> {
    let http = reqwest::Client::new();
    let url = subreg.url();
    let graphql = |body: Value, key: Option<&str>| {
        let builder = http.post(format!("{url}/graphql")).json(&body);
        let builder = match key {
            Some(key) => builder.bearer_auth(key),
            None => builder,
        };
        async move {
            let answer: Value = builder.send().await.unwrap().json().await.unwrap();
            assert!(answer.get("errors").is_none(), "{answer}");
            answer
        }
    };
    let list = graphql(json!({ "query": "{ subprocessors { id } }" }), None).await;
    let id = list["data"]["subprocessors"][0]["id"]
        .as_str()
        .expect("a listed recipient")
        .to_owned();
    let mut latencies = Vec::with_capacity(args.after_writes);
    for i in 0..args.after_writes {
        let write = json!({ "query": WRITE, "variables": { "id": id, "note": format!("benchmark write {i}") } });
        graphql(write, Some(&db.editor)).await;
        let started = Instant::now();
        let response = outgoing(&http, &url, request).send().await.unwrap();
        assert!(response.status().is_success(), "{}", response.status());
        response.bytes().await.unwrap();
        latencies.push(started.elapsed());
    }
    latencies
}

/// One path's answers right after a write.
struct AfterWrite {
    backend: Backend,
    path: &'static str,
    latencies: Vec<Duration>,
}

struct ColdStart {
    backend: Backend,
    ready: Vec<Duration>,
    answered: Vec<Duration>,
}

async fn bench_backend(
    args: &Args,
    server: &Path,
    db: &Db,
    outcomes: &mut Vec<Outcome>,
    colds: &mut Vec<ColdStart>,
    afters: &mut Vec<AfterWrite>,
) {
    let backend = db.backend;
    eprintln!(
        "{}: {} data flows, measuring",
        label(backend),
        db.total_flows
    );
    if wants(args, "cold") {
        let mut cold = ColdStart {
            backend,
            ready: Vec::new(),
            answered: Vec::new(),
        };
        for _ in 0..args.cold_starts {
            let (proc, ready, answered) = start_subreg(server, db, &[]).await;
            drop(proc);
            cold.ready.push(ready);
            cold.answered.push(answered);
        }
        colds.push(cold);
    }
    let page = Request {
        path: "/graphql".into(),
        key: Some(db.viewer.clone()),
        body: Some(graphql_body(PAGE_QUERY, json!({ "after": null }))),
        bodies: Vec::new(),
    };
    let cursors = Request {
        body: Some(graphql_body(
            PAGE_QUERY,
            json!({ "after": flow_cursor(db.flow_ids[0]) }),
        )),
        bodies: db
            .flow_ids
            .iter()
            .map(|&id| graphql_body(PAGE_QUERY, json!({ "after": flow_cursor(id) })))
            .collect(),
        ..page.clone()
    };
    let public = |path: &str, body: Option<String>| Request {
        path: path.into(),
        key: None,
        body,
        bodies: Vec::new(),
    };
    let list = public(
        "/graphql",
        Some(graphql_body(SUBPROCESSORS_QUERY, json!({}))),
    );
    let html = public("/subprocessors", None);
    let feed = public("/subprocessors/feed.atom", None);

    let postgraphile = if backend == Backend::Postgres
        && !args.no_postgraphile
        && (wants(args, "a") || wants(args, "b"))
    {
        Some(start_postgraphile(args, db).await)
    } else {
        None
    };

    // The server as deployed: answers kept.
    let (subreg, _, _) = start_subreg(server, db, &[]).await;
    eprintln!("  server RSS after start: {:.0} MiB", subreg.rss_mib());
    if wants(args, "a") {
        let pg_page = Request {
            key: None,
            body: Some(graphql_body(POSTGRAPHILE_QUERY, json!({ "after": null }))),
            ..page.clone()
        };
        let pg = postgraphile.as_ref().map(|p| (p, &pg_page));
        outcomes.push(
            measure(
                args,
                backend,
                "(a) dataFlows page, the same each time",
                &subreg,
                &page,
                None,
                pg,
                Target::OfBare {
                    share: 0.5,
                    p99_ms: Some(20.0),
                },
            )
            .await,
        );
    }
    let mut captured = Vec::new();
    for (id, name, request) in [
        ("c", "(c) public list over GraphQL, repeated", &list),
        ("d", "(d) public page /subprocessors, repeated", &html),
        ("e", "(e) Atom feed, repeated", &feed),
    ] {
        if wants(args, id) {
            let outcome = measure(
                args,
                backend,
                name,
                &subreg,
                request,
                None,
                None,
                Target::OfBare {
                    share: 0.5,
                    p99_ms: None,
                },
            )
            .await;
            captured.push((id, outcome.bare.clone()));
            outcomes.push(outcome);
        }
    }
    eprintln!(
        "  server RSS after the cached paths: {:.0} MiB",
        subreg.rss_mib()
    );
    // The first answer after a change, on the server as deployed.
    for (id, path, request) in [
        ("c", "(c) public list over GraphQL", &list),
        ("d", "(d) public page /subprocessors", &html),
        ("e", "(e) Atom feed", &feed),
    ] {
        if wants(args, id) && args.after_writes > 0 {
            let latencies = after_writes(args, db, &subreg, request).await;
            afters.push(AfterWrite {
                backend,
                path,
                latencies,
            });
        }
    }
    drop(subreg);

    // No answer kept; the rows under them are, as deployed, unless `--kept-rows` says.
    let kept_rows = args.kept_rows.map(|n| n.to_string());
    let mut fresh = vec!["--response-cache-bytes", "0"];
    if let Some(n) = &kept_rows {
        fresh.extend(["--kept-rows", n.as_str()]);
    }
    let (subreg, _, _) = start_subreg(server, db, &fresh).await;
    if wants(args, "b") {
        let pg_cursors = match &postgraphile {
            Some(proc) => {
                let template = postgraphile_cursor_template(proc).await;
                Some(Request {
                    key: None,
                    body: Some(graphql_body(
                        POSTGRAPHILE_QUERY,
                        json!({ "after": postgraphile_cursor(&template, db.flow_ids[0]) }),
                    )),
                    bodies: db
                        .flow_ids
                        .iter()
                        .map(|&id| {
                            graphql_body(
                                POSTGRAPHILE_QUERY,
                                json!({ "after": postgraphile_cursor(&template, id) }),
                            )
                        })
                        .collect(),
                    ..page.clone()
                })
            }
            None => None,
        };
        let pg = postgraphile.as_ref().zip(pg_cursors.as_ref());
        outcomes.push(
            measure(
                args,
                backend,
                "(b) dataFlows page, a different cursor each time (no answer kept)",
                &subreg,
                &cursors,
                None,
                pg,
                Target::OfPostGraphile {
                    times: 10.0,
                    p99_ms: 50.0,
                },
            )
            .await,
        );
    }
    drop(postgraphile);
    for (id, name, request) in [
        ("c", "(c) public list over GraphQL, not repeated", &list),
        ("d", "(d) public page /subprocessors, not repeated", &html),
        ("e", "(e) Atom feed, not repeated", &feed),
    ] {
        if wants(args, id) {
            let bare = captured
                .iter()
                .find(|(c, _)| *c == id)
                .map(|(_, bare)| bare.clone());
            let outcome = measure(
                args,
                backend,
                name,
                &subreg,
                request,
                bare,
                None,
                Target::P99 { ms: 5.0 },
            )
            .await;
            outcomes.push(outcome);
        }
    }
    drop(subreg);
}

async fn run(args: Args) {
    let server = args.server.clone().unwrap_or_else(|| {
        std::env::current_exe()
            .unwrap()
            .parent()
            .and_then(Path::parent)
            .unwrap()
            .join("subreg")
    });
    assert!(
        server.exists(),
        "{} is missing: cargo build --release --bin subreg",
        server.display()
    );
    assert!(
        Command::new("wrk").arg("-v").output().is_ok(),
        "wrk is missing: apt-get install wrk"
    );
    let backends = match args.backend {
        Backend::Both => vec![Backend::Sqlite, Backend::Postgres],
        one => vec![one],
    };
    let mut outcomes = Vec::new();
    let mut colds = Vec::new();
    let mut afters = Vec::new();
    let mut totals = Vec::new();
    for backend in backends {
        let db = prepare(&args, &server, backend).await;
        totals.push((backend, db.total_flows));
        bench_backend(&args, &server, &db, &mut outcomes, &mut colds, &mut afters).await;
    }

    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!();
    println!(
        "wrk -t1 -c{} -d{}s --latency, {} rounds; load average at the end: {}",
        args.connections,
        args.duration,
        args.rounds,
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    for (backend, total) in &totals {
        println!("{}: {total} data flows", label(*backend));
    }
    // PostGraphile runs on PostgreSQL; SQLite's path (b) is compared with it too.
    let pg_b = outcomes
        .iter()
        .find(|o| o.path.starts_with("(b)") && o.postgraphile.is_some())
        .and_then(|o| o.postgraphile.clone());
    for outcome in &outcomes {
        println!();
        println!(
            "{} {} ({} bytes)",
            label(outcome.backend),
            outcome.path,
            outcome.bytes
        );
        if outcome.error.is_none() {
            println!("  subreg:       {}", outcome.subreg.describe());
        }
        if !outcome.one_at_a_time.is_empty() {
            println!(
                "  subreg, one request at a time: {} ms",
                outcome
                    .one_at_a_time
                    .iter()
                    .map(|d| format!("{:.0}", d.as_secs_f64() * 1000.0))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        if !outcome.bare.0.is_empty() {
            println!("  bare axum:    {}", outcome.bare.describe());
        }
        if let Some(pg) = &outcome.postgraphile {
            println!("  PostGraphile: {}", pg.describe());
        }
        let pg = outcome.postgraphile.as_ref().or(pg_b.as_ref());
        println!("  {}", outcome.verdict(pg));
    }
    for after in &afters {
        let mut ms: Vec<f64> = after
            .latencies
            .iter()
            .map(|d| d.as_secs_f64() * 1000.0)
            .collect();
        ms.sort_by(f64::total_cmp);
        let at = |q: f64| ms[((ms.len() as f64 * q).ceil() as usize).clamp(1, ms.len()) - 1];
        let p99 = at(0.99);
        println!();
        println!(
            "{} {}, the first answer after a write ({} writes, one request at a time): p50 {:.2} ms, p99 {p99:.2} ms, max {:.2} ms",
            label(after.backend),
            after.path,
            ms.len(),
            at(0.5),
            ms[ms.len() - 1]
        );
        println!(
            "  {}: p99 {p99:.2} ms (target < 5 ms)",
            if p99 < 5.0 { "PASS" } else { "FAIL" }
        );
    }
    for cold in &colds {
        let worst = cold.answered.iter().max().copied().unwrap_or_default();
        let ms = |d: &[Duration]| {
            d.iter()
                .map(|d| format!("{:.0}", d.as_secs_f64() * 1000.0))
                .collect::<Vec<_>>()
                .join(", ")
        };
        println!();
        println!(
            "{} cold start of subreg serve ({} runs): /readyz after {} ms; first GraphQL answer after {} ms",
            label(cold.backend),
            cold.ready.len(),
            ms(&cold.ready),
            ms(&cold.answered)
        );
        println!(
            "  {}: slowest first answer {:.0} ms (target < 500 ms)",
            if worst < Duration::from_millis(500) {
                "PASS"
            } else {
                "FAIL"
            },
            worst.as_secs_f64() * 1000.0
        );
    }
}
