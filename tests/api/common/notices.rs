//! The real parts the notice tests talk to: an SMTP server over TCP (aiosmtpd, its own
//! process), webhook receivers that verify signatures with the Standard Webhooks reference
//! crate, and Chromium driven by puppeteer-core (tests/clients/browser.mjs).

use super::PATIENCE;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde_json::Value;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The Debian interpreter, which has python3-aiosmtpd (a pyenv `python3` on PATH may not).
const PYTHON: &str = "/usr/bin/python3";

/// An SMTP server (tests/smtp/sink.py) on a free port; each accepted message is a file.
pub struct SmtpSink {
    pub port: u16,
    pub dir: tempfile::TempDir,
    child: Child,
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A message the sink accepted: its headers (names lower-cased, folded lines joined) and body.
#[derive(Clone, Debug)]
pub struct Mail {
    pub to: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Mail {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn parse(text: &str) -> Self {
        let text = text.replace("\r\n", "\n");
        let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
        let mut headers: Vec<(String, String)> = Vec::new();
        for line in head.lines() {
            if line.starts_with([' ', '\t']) {
                if let Some(last) = headers.last_mut() {
                    last.1.push_str(line.trim_start());
                }
            } else if let Some((name, value)) = line.split_once(':') {
                headers.push((name.trim().to_lowercase(), value.trim().to_owned()));
            }
        }
        let to = headers
            .iter()
            .find(|(n, _)| n == "x-envelope-to")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        // Quoted-printable soft line breaks and escapes, as lettre may write the body.
        let body = body.replace("=\n", "").replace("=3D", "=");
        Self { to, headers, body }
    }
}

/// How the sink speaks TLS: not at all, by STARTTLS (required), or from the first byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SinkTls {
    None,
    StartTls,
    Implicit,
}

/// A certificate authority of the test's own and a certificate it issued for `localhost`
/// (made by the openssl command line): what an internal mail relay has.
pub struct RelayCertificates {
    pub dir: tempfile::TempDir,
}

impl RelayCertificates {
    pub fn make() -> Self {
        let dir = tempfile::tempdir().expect("a certificate directory");
        let run = |args: &[&str]| {
            let status = Command::new("openssl")
                .args(args)
                .current_dir(dir.path())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .expect("run openssl");
            assert!(status.success(), "openssl {args:?}");
        };
        run(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-subj",
            "/CN=Subreg test relay CA",
        ]);
        run(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "relay.key",
            "-out",
            "relay.csr",
            "-subj",
            "/CN=localhost",
        ]);
        std::fs::write(
            dir.path().join("relay.ext"),
            "basicConstraints=critical,CA:FALSE\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n\
             extendedKeyUsage=serverAuth\n",
        )
        .expect("write the extensions");
        run(&[
            "x509",
            "-req",
            "-in",
            "relay.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "relay.ext",
            "-out",
            "relay.pem",
        ]);
        Self { dir }
    }

    pub fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }
}

impl SmtpSink {
    pub fn start() -> Self {
        Self::start_with(SinkTls::None, None)
    }

    /// A sink that speaks TLS with `certificates`' relay certificate.
    pub fn start_with(tls: SinkTls, certificates: Option<&RelayCertificates>) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let dir = tempfile::tempdir().expect("a mail directory");
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/smtp/sink.py");
        let mut args = vec![
            script.to_owned(),
            port.to_string(),
            dir.path().display().to_string(),
        ];
        if let Some(certificates) = certificates {
            let mode = match tls {
                SinkTls::None => None,
                SinkTls::StartTls => Some("starttls"),
                SinkTls::Implicit => Some("tls"),
            };
            if let Some(mode) = mode {
                args.extend([
                    mode.to_owned(),
                    certificates.path("relay.pem"),
                    certificates.path("relay.key"),
                ]);
            }
        }
        let child = Command::new(PYTHON)
            .args(&args)
            .stdout(Stdio::null())
            .spawn()
            .expect("start the SMTP server: install python3-aiosmtpd");
        let deadline = Instant::now() + PATIENCE;
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "the SMTP server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { port, dir, child }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message accepted so far, in order.
    pub fn messages(&self) -> Vec<Mail> {
        let mut paths: Vec<_> = std::fs::read_dir(self.dir.path())
            .expect("the mail directory")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "eml"))
            .collect();
        paths.sort();
        paths
            .iter()
            .filter_map(|p| std::fs::read_to_string(p).ok())
            .map(|t| Mail::parse(&t))
            .collect()
    }

    /// Waits for the messages to `to` until `enough` says so; returns them.
    pub async fn wait_for(&self, to: &str, enough: impl Fn(&[Mail]) -> bool) -> Vec<Mail> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let mine: Vec<Mail> = self.messages().into_iter().filter(|m| m.to == to).collect();
            if enough(&mine) {
                return mine;
            }
            assert!(Instant::now() < deadline, "no such mail to {to}: {mine:#?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// A request a receiver got, and whether the reference crate verified its signature.
#[derive(Clone, Debug)]
pub struct Delivered {
    pub id: String,
    pub verified: bool,
    pub headers: HeaderMap,
    pub body: Value,
}

#[derive(Default)]
struct ReceiverState {
    /// The endpoint's secrets, known once it is registered; a request verifies under any.
    secrets: Vec<String>,
    /// Statuses to answer, in order; 200 after them (or `always`).
    answers: Vec<(u16, Option<&'static str>)>,
    always: Option<u16>,
    received: Vec<Delivered>,
}

/// A webhook receiver on a free port, that checks every request with `standardwebhooks`.
#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    state: Arc<Mutex<ReceiverState>>,
}

async fn receive(
    State(state): State<Arc<Mutex<ReceiverState>>>,
    headers: HeaderMap,
    body: Bytes,
) -> impl IntoResponse {
    let mut state = state.lock().unwrap();
    let verified = !state.secrets.is_empty()
        && state.secrets.iter().all(|secret| {
            standardwebhooks::Webhook::new(secret)
                .expect("a Standard Webhooks secret")
                .verify(&body, &headers)
                .is_ok()
        });
    state.received.push(Delivered {
        id: headers
            .get("webhook-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned(),
        verified,
        headers: headers.clone(),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    });
    let (status, retry_after) = match state.always {
        Some(status) => (status, None),
        None if state.answers.is_empty() => (200, None),
        None => state.answers.remove(0),
    };
    let mut response = StatusCode::from_u16(status).unwrap().into_response();
    if let Some(wait) = retry_after {
        response
            .headers_mut()
            .insert("retry-after", wait.parse().unwrap());
    }
    response
}

impl Receiver {
    /// A receiver that answers `answers` in turn (status and an optional `Retry-After`), then
    /// 200.
    pub async fn start(answers: Vec<(u16, Option<&'static str>)>) -> Self {
        Self::serve(ReceiverState {
            answers,
            ..ReceiverState::default()
        })
        .await
    }

    /// A receiver that always answers `status`.
    pub async fn always(status: u16) -> Self {
        Self::serve(ReceiverState {
            always: Some(status),
            ..ReceiverState::default()
        })
        .await
    }

    async fn serve(state: ReceiverState) -> Self {
        let state = Arc::new(Mutex::new(state));
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(receive))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, state }
    }

    /// The secrets a request must verify under.
    pub fn trust(&self, secrets: &[&str]) {
        self.state.lock().unwrap().secrets = secrets.iter().map(|s| (*s).to_owned()).collect();
    }

    pub fn received(&self) -> Vec<Delivered> {
        self.state.lock().unwrap().received.clone()
    }

    /// Waits until `enough` of what was received.
    pub async fn wait_for(&self, enough: impl Fn(&[Delivered]) -> bool) -> Vec<Delivered> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let received = self.received();
            if enough(&received) {
                return received;
            }
            assert!(Instant::now() < deadline, "not received: {received:#?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Runs tests/clients/browser.mjs in the Debian Chromium: its JSON answer.
pub async fn browser(args: &[&str]) -> Value {
    let clients = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients");
    assert!(
        std::path::Path::new(clients)
            .join("node_modules/puppeteer-core")
            .exists(),
        "run `npm ci --prefix tests/clients`"
    );
    assert!(
        std::path::Path::new("/usr/bin/chromium").exists(),
        "install Chromium: apt-get install chromium chromium-driver"
    );
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        let output = Command::new("node")
            .arg(format!("{clients}/browser.mjs"))
            .args(&args)
            .output()
            .expect("run node");
        assert!(
            output.status.success(),
            "browser {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).unwrap_or_else(|_| {
            panic!(
                "browser {args:?} printed no JSON: {}",
                String::from_utf8_lossy(&output.stdout)
            )
        })
    })
    .await
    .unwrap()
}
