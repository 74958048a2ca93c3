//! A WebSocket GraphQL client speaking `graphql-transport-ws` or the legacy `graphql-ws`, and a
//! raw socket for what a well-behaved client would not send.

use super::{PATIENCE, TestServer};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

pub const TRANSPORT_WS: &str = "graphql-transport-ws";
pub const LEGACY_WS: &str = "graphql-ws";

pub const CHANGES: &str = r#"subscription($after: String, $filter: ChangeFilterInput) {
  subprocessorChanges(after: $after, filter: $filter) {
    cursor sequence kind recipientId products objectionDeadline effectiveAt processingLocations
  }
}"#;

pub struct WsClient {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    protocol: &'static str,
}

impl WsClient {
    /// Connects to `http_url` (the server's base URL) and completes `connection_init`.
    pub async fn connect(http_url: &str, protocol: &'static str, init: Value) -> Self {
        let url = format!("{}/graphql", http_url.replacen("http", "ws", 1));
        let mut request = url.into_client_request().expect("request");
        request
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", protocol.parse().unwrap());
        let (socket, response) = connect_async(request).await.expect("WebSocket handshake");
        assert_eq!(
            response.headers()["sec-websocket-protocol"],
            protocol,
            "the server speaks the protocol asked for"
        );
        let mut client = Self { socket, protocol };
        client
            .send(json!({ "type": "connection_init", "payload": init }))
            .await;
        loop {
            let message = client.receive(Duration::from_secs(10)).await.expect("ack");
            match message["type"].as_str() {
                Some("connection_ack") => break,
                Some("ka") | Some("ping") => continue,
                _ => panic!("expected connection_ack, got {message}"),
            }
        }
        client
    }

    async fn send(&mut self, message: Value) {
        self.socket
            .send(Message::Text(message.to_string().into()))
            .await
            .expect("send");
    }

    /// The next protocol message, answering pings; `None` on timeout or close.
    async fn receive(&mut self, wait: Duration) -> Option<Value> {
        loop {
            let frame = tokio::time::timeout(wait, self.socket.next())
                .await
                .ok()??;
            match frame.ok()? {
                Message::Text(text) => {
                    let message: Value = serde_json::from_str(&text).expect("JSON message");
                    if message["type"] == "ping" {
                        self.send(json!({ "type": "pong" })).await;
                        continue;
                    }
                    return Some(message);
                }
                Message::Close(_) => return None,
                _ => continue,
            }
        }
    }

    pub async fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        let kind = if self.protocol == TRANSPORT_WS {
            "subscribe"
        } else {
            "start"
        };
        self.send(json!({
            "id": id, "type": kind, "payload": { "query": query, "variables": variables }
        }))
        .await;
    }

    /// The next result of subscription `id`: `Ok(data)`, or `Err(message)` for an error or a
    /// completion; `None` on timeout.
    pub async fn next(&mut self, wait: Duration) -> Option<Result<Value, Value>> {
        loop {
            let message = self.receive(wait).await?;
            match message["type"].as_str() {
                Some("next") | Some("data") => {
                    let payload = &message["payload"];
                    if payload.get("errors").is_some() {
                        return Some(Err(message));
                    }
                    return Some(Ok(payload["data"].clone()));
                }
                Some("ka") => continue,
                _ => return Some(Err(message)),
            }
        }
    }

    /// The next `n` change events of the `subprocessorChanges` subscription.
    pub async fn changes(&mut self, n: usize, wait: Duration) -> Vec<Value> {
        let mut events = Vec::with_capacity(n);
        while events.len() < n {
            match self.next(wait).await {
                Some(Ok(data)) => events.push(data["subprocessorChanges"].clone()),
                Some(Err(message)) => panic!("subscription failed: {message}"),
                None => panic!("timed out after {} of {n} events", events.len()),
            }
        }
        events
    }

    /// Waits for the server to send nothing for `quiet`; returns anything it did send.
    pub async fn drain(&mut self, quiet: Duration) -> Vec<Value> {
        let mut events = Vec::new();
        while let Some(Ok(data)) = self.next(quiet).await {
            events.push(data["subprocessorChanges"].clone());
        }
        events
    }

    /// Connects and sends `connection_init`; the close frame's code and reason when the server
    /// refuses the handshake.
    pub async fn try_connect(
        http_url: &str,
        protocol: &'static str,
        init: Value,
    ) -> Result<Self, (u16, String)> {
        let url = format!("{}/graphql", http_url.replacen("http", "ws", 1));
        let mut request = url.into_client_request().expect("request");
        request
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", protocol.parse().unwrap());
        let (socket, _) = connect_async(request).await.expect("WebSocket handshake");
        let mut client = Self { socket, protocol };
        client
            .send(json!({ "type": "connection_init", "payload": init }))
            .await;
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(10), client.socket.next())
                .await
                .expect("an answer to connection_init");
            match frame {
                Some(Ok(Message::Text(text))) => {
                    let message: Value = serde_json::from_str(&text).expect("JSON message");
                    match message["type"].as_str() {
                        Some("connection_ack") => return Ok(client),
                        Some("connection_error") => return Err((1002, message.to_string())),
                        _ => continue,
                    }
                }
                Some(Ok(Message::Close(frame))) => {
                    return Err(frame
                        .map(|f| (u16::from(f.code), f.reason.to_string()))
                        .unwrap_or((1005, String::new())));
                }
                Some(Ok(_)) => continue,
                _ => return Err((1006, "the connection dropped".into())),
            }
        }
    }

    /// Waits up to `wait` for the server to close the connection: the close code and reason,
    /// and the protocol messages received before it.
    pub async fn closed(&mut self, wait: Duration) -> Option<(u16, String, Vec<Value>)> {
        let mut before = Vec::new();
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let frame = tokio::time::timeout_at(deadline, self.socket.next())
                .await
                .ok()?;
            match frame {
                Some(Ok(Message::Text(text))) => {
                    before.push(serde_json::from_str(&text).expect("JSON message"));
                }
                Some(Ok(Message::Close(frame))) => {
                    let (code, reason) = frame
                        .map(|f| (u16::from(f.code), f.reason.to_string()))
                        .unwrap_or((1005, String::new()));
                    return Some((code, reason, before));
                }
                Some(Ok(_)) => continue,
                _ => return Some((1006, "the connection dropped".into(), before)),
            }
        }
    }

    /// Drops the connection without a goodbye, as a network cut would.
    pub fn cut(self) {
        drop(self.socket);
    }
}

/// A WebSocket opened by hand (`graphql-transport-ws`), to send what a well-behaved client would
/// not, and to see how the server closes it.
pub struct RawSocket(WebSocketStream<MaybeTlsStream<TcpStream>>);

/// What the server did next.
#[derive(Debug, PartialEq)]
pub enum Next {
    Message(Value),
    /// Closed, with the close frame's code if it sent one.
    Closed(Option<u16>),
}

impl RawSocket {
    pub async fn open(server: &TestServer) -> Self {
        let url = format!("{}/graphql", server.url.replacen("http", "ws", 1));
        let mut request = url.into_client_request().unwrap();
        request
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", TRANSPORT_WS.parse().unwrap());
        let (socket, _) = tokio::time::timeout(PATIENCE, connect_async(request))
            .await
            .expect("handshake in time")
            .expect("WebSocket handshake");
        Self(socket)
    }

    /// Opened and acknowledged, with the admin key.
    pub async fn acked(server: &TestServer) -> Self {
        let mut socket = Self::open(server).await;
        assert_eq!(
            socket.init(server.init()).await,
            Next::Message(json!({ "type": "connection_ack" }))
        );
        socket
    }

    pub async fn send(&mut self, message: Message) {
        // The server may already have closed: what it answered is checked by `next`.
        let _ = self.0.send(message).await;
    }

    pub async fn send_json(&mut self, message: Value) {
        self.send(Message::Text(message.to_string().into())).await;
    }

    /// The next message (pings answered) or the close.
    pub async fn next(&mut self) -> Next {
        loop {
            let frame = tokio::time::timeout(PATIENCE, self.0.next())
                .await
                .expect("the server answers or closes, never hangs");
            match frame {
                Some(Ok(Message::Text(text))) => {
                    let message: Value = serde_json::from_str(&text).expect("JSON");
                    if message["type"] == "ping" {
                        self.send_json(json!({ "type": "pong" })).await;
                        continue;
                    }
                    return Next::Message(message);
                }
                Some(Ok(Message::Close(frame))) => {
                    return Next::Closed(frame.map(|f| u16::from(f.code)));
                }
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return Next::Closed(None),
            }
        }
    }

    /// Reads until the server closes; the close code.
    pub async fn closed(&mut self) -> Option<u16> {
        loop {
            if let Next::Closed(code) = self.next().await {
                return code;
            }
        }
    }

    /// Sends `connection_init` with `payload`; what the server answers.
    pub async fn init(&mut self, payload: Value) -> Next {
        self.send_json(json!({ "type": "connection_init", "payload": payload }))
            .await;
        self.next().await
    }

    /// Subscribes, as `id`, to the change feed after the cursor `after`.
    pub async fn subscribe(&mut self, id: &str, after: &Value) {
        self.send_json(json!({ "id": id, "type": "subscribe", "payload": {
            "query": "subscription($after: String) { subprocessorChanges(after: $after) { cursor } }",
            "variables": { "after": after },
        } }))
        .await;
    }
}
