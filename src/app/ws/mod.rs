//! Subscriptions over WebSocket, with the `graphql-transport-ws` protocol or the legacy
//! `graphql-ws` one, whichever the client asks for first.
//!
//! The caller authenticates in `connection_init` (`{"Authorization": "Bearer <key>"}` or
//! `{"apiKey": "<key>"}`) or on the upgrade request itself; without a key the connection sees
//! the public feed. A connection is closed with 4403 when its key is revoked, with 4408 when
//! `connection_init` does not come within ten seconds, and with 1001 when the server shuts down,
//! after every open subscription has been completed.

mod protocol;
mod render;

pub use render::Renderer;

use super::client::{Client, ConnectionOwner};
use super::{AppState, Transport};
use crate::graphql::auth::Caller;
use crate::graphql::{Feed, FeedHandOver};
use crate::registry::Registry;
use async_graphql::Executor as _;
use async_graphql::http::{ClientMessage, WebSocketProtocols};
use axum::body::Bytes;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, BoxStream, SplitSink};
use futures_util::{SinkExt, StreamExt, future};
use protocol::{Outgoing, Protocol};
use render::Template;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

/// How long a client has to send `connection_init`.
const INIT_TIMEOUT: Duration = Duration::from_secs(10);

pub fn upgrade(
    state: AppState,
    client: Client,
    headers: &HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    // The first subprotocol the client offers that the server speaks.
    let protocol = headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .find_map(|name| name.trim().parse::<WebSocketProtocols>().ok());
    let Some(protocol) = protocol else {
        return (
            StatusCode::BAD_REQUEST,
            "ask for the graphql-transport-ws (or legacy graphql-ws) WebSocket subprotocol",
        )
            .into_response();
    };
    upgrade
        .protocols([protocol.sec_websocket_protocol()])
        // Subscribers mostly sit idle: keep their buffers small (they grow when needed).
        .read_buffer_size(1024)
        .write_buffer_size(0)
        .max_message_size(64 * 1024)
        .on_upgrade(move |socket| serve(state, client, protocol, socket))
}

/// Counts an open connection until dropped.
struct OpenConnection(AppState);

impl OpenConnection {
    fn new(state: &AppState) -> Self {
        state.inner.open_websockets.send_modify(|n| *n += 1);
        state.inner.metrics.websocket_opened();
        Self(state.clone())
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.inner.open_websockets.send_modify(|n| *n -= 1);
        self.0.inner.metrics.websocket_closed();
    }
}

/// The API key a `connection_init` payload carries, if any.
fn key_in_payload(payload: &serde_json::Value) -> Result<Option<String>, &'static str> {
    let Some(fields) = payload.as_object() else {
        return Ok(None);
    };
    for (name, value) in fields {
        let Some(value) = value.as_str() else {
            continue;
        };
        if name.eq_ignore_ascii_case("authorization") {
            return match value.split_once(' ') {
                Some((scheme, key)) if scheme.eq_ignore_ascii_case("bearer") => {
                    Ok(Some(key.trim().to_owned()))
                }
                _ => Err("send the API key as {\"Authorization\": \"Bearer <key>\"}"),
            };
        }
        if name == "apiKey" {
            return Ok(Some(value.trim().to_owned()));
        }
    }
    Ok(None)
}

/// A close frame. Its reason may hold at most 123 bytes (RFC 6455, 5.5): longer ones are cut at
/// a character boundary, or the frame could not be sent at all.
fn close(code: u16, reason: &str) -> Message {
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    Message::Close(Some(CloseFrame {
        code,
        reason: reason[..end].into(),
    }))
}

/// The close code for a connection whose client side ended in `err`: 1009 "message too big" for
/// a message or frame over the size limit, 1002 "protocol error" for anything else.
fn read_error_code(err: &axum::Error) -> u16 {
    use std::error::Error as _;
    match err
        .source()
        .and_then(|source| source.downcast_ref::<tungstenite::Error>())
    {
        Some(tungstenite::Error::Capacity(_)) => 1009,
        _ => 1002,
    }
}

/// A connection past its `connection_init`: who it is, and what its operations run with.
struct Session {
    caller: Caller,
    data: Arc<async_graphql::Data>,
}

/// Authenticates a `connection_init` and takes a place among the caller's connections: the
/// session, or the close code and message that refuse it.
async fn open_session(
    state: &AppState,
    client: &Client,
    payload: serde_json::Value,
) -> Result<Session, (u16, String)> {
    let caller = match key_in_payload(&payload) {
        Err(message) => return Err((4400, message.into())),
        Ok(None) => client.caller.clone(),
        Ok(Some(secret)) => match state.inner.registry.authenticate(&secret).await {
            Ok(Some(key)) => Caller::from_key(&key),
            Ok(None) => {
                return Err((
                    4403,
                    "the API key is not valid: it is unknown or was revoked".into(),
                ));
            }
            Err(err) => {
                tracing::error!(error = %err, "cannot check an API key");
                return Err((1011, "the API key cannot be checked now".into()));
            }
        },
    };
    let owner = match &caller.0 {
        Some(key) => ConnectionOwner::Key(key.key_id),
        None => ConnectionOwner::Address(client.address),
    };
    let Some(slot) = state.inner.connections.acquire(owner) else {
        return Err((
            4429,
            format!(
                "too many open connections: at most {} per API key (per address without one)",
                state.inner.settings.max_connections_per_client
            ),
        ));
    };
    let mut data = async_graphql::Data::default();
    state.insert_request_data(&mut data, caller.clone(), Transport::WebSocket(slot));
    Ok(Session {
        caller,
        data: Arc::new(data),
    })
}

/// The messages an operation sends: for `subprocessorChanges`, each event rendered once for
/// every subscription of the same selection and audience ([`render`]); for any other, its own
/// results. The last is its `complete`.
fn operation(
    state: &AppState,
    protocol: Protocol,
    session: &Session,
    id: Arc<str>,
    mut request: async_graphql::Request,
) -> BoxStream<'static, Outgoing> {
    let hand_over = FeedHandOver::default();
    request.data.insert(hand_over.clone());
    let template = Template::of(&mut request, &session.caller);
    let schema = state.inner.schema.clone();
    let renderer = state.inner.renderer.clone();
    let data = session.data.clone();
    let done = protocol.complete(&id);
    stream::once(async move {
        let mut results = schema.execute_stream(request, Some(data));
        let first = results.next().await;
        let feed = hand_over.0.lock().unwrap_or_else(|e| e.into_inner()).take();
        let id = id.clone();
        match (first, feed, template) {
            (None, Some(Feed { events, open }), Some(template)) => {
                let template = Arc::new(template);
                events
                    .then(move |event| {
                        // The subscription's slot is held until its events end.
                        let _ = &open;
                        let (renderer, template) = (renderer.clone(), template.clone());
                        async move { renderer.render(&template, event).await }
                    })
                    .map(move |payload| protocol.next(&id, &payload))
                    .boxed()
            }
            (Some(first), _, _) => stream::once(future::ready(first))
                .chain(results)
                .map(move |response| {
                    let payload = serde_json::to_vec(&response).unwrap_or_default();
                    protocol.next(&id, &payload)
                })
                .boxed(),
            (None, _, _) => stream::empty().boxed(),
        }
    })
    .flatten()
    .chain(stream::once(future::ready(done)))
    .boxed()
}

/// The next message of any open operation; an operation whose messages end is removed.
async fn next_message(
    operations: &mut HashMap<Arc<str>, BoxStream<'static, Outgoing>>,
) -> Outgoing {
    future::poll_fn(|cx| {
        let mut ended = None;
        for (id, messages) in operations.iter_mut() {
            match messages.poll_next_unpin(cx) {
                Poll::Ready(Some(message)) => return Poll::Ready(message),
                Poll::Ready(None) => {
                    ended = Some(id.clone());
                    break;
                }
                Poll::Pending => {}
            }
        }
        if let Some(id) = ended {
            operations.remove(&id);
            cx.waker().wake_by_ref();
        }
        Poll::Pending
    })
    .await
}

/// One connection, from its upgrade to its close.
struct Connection {
    state: AppState,
    client: Client,
    protocol: Protocol,
    session: Option<Session>,
    operations: HashMap<Arc<str>, BoxStream<'static, Outgoing>>,
}

impl Connection {
    /// Answers one client message: what to send back.
    async fn receive(&mut self, bytes: &[u8]) -> Vec<Outgoing> {
        let protocol = self.protocol;
        let message = match ClientMessage::from_bytes(bytes) {
            Ok(message) => message,
            Err(err) => return protocol.refuse(4400, &format!("invalid message: {err}")),
        };
        match message {
            ClientMessage::ConnectionInit { payload } => {
                if self.session.is_some() {
                    return protocol.refuse(4429, "Too many initialisation requests.");
                }
                match open_session(&self.state, &self.client, payload.unwrap_or_default()).await {
                    Ok(session) => {
                        self.session = Some(session);
                        vec![protocol.ack()]
                    }
                    Err((code, message)) => protocol.refuse(code, &message),
                }
            }
            ClientMessage::Start { id, payload } => {
                let Some(session) = &self.session else {
                    return vec![Outgoing::Close(4401, "Unauthorized".into())];
                };
                if self.operations.contains_key(id.as_str()) {
                    return vec![Outgoing::Close(
                        4409,
                        format!("Subscriber for {id} already exists"),
                    )];
                }
                let id: Arc<str> = id.into();
                let messages = operation(&self.state, protocol, session, id.clone(), payload);
                self.operations.insert(id, messages);
                Vec::new()
            }
            ClientMessage::Stop { id } => match self.operations.remove(id.as_str()) {
                Some(_) => vec![protocol.complete(&id)],
                None => Vec::new(),
            },
            ClientMessage::ConnectionTerminate => vec![Outgoing::Close(1000, String::new())],
            ClientMessage::Ping { payload } => vec![protocol.pong(payload)],
            ClientMessage::Pong { .. } => Vec::new(),
        }
    }
}

/// Sends `message`; `false` when the connection is to end (a close, or the client gone).
async fn send(sink: &mut SplitSink<WebSocket, Message>, message: Outgoing) -> bool {
    match message {
        Outgoing::Text(bytes) => {
            let text = Utf8Bytes::try_from(bytes).unwrap_or_default();
            sink.send(Message::Text(text)).await.is_ok()
        }
        Outgoing::Close(code, reason) => {
            let _ = sink.send(close(code, &reason)).await;
            false
        }
    }
}

async fn serve(state: AppState, client: Client, protocol: WebSocketProtocols, socket: WebSocket) {
    let _open = OpenConnection::new(&state);
    let (mut sink, mut input) = socket.split();
    let mut connection = Connection {
        state: state.clone(),
        client,
        protocol: Protocol(protocol),
        session: None,
        operations: HashMap::new(),
    };
    // Both are boxed and made only while needed: an idle anonymous subscriber, the common
    // case by far, then carries neither a timer nor a database query's state.
    let mut init_deadline = Some(Box::pin(tokio::time::sleep(INIT_TIMEOUT)));
    let mut revoked: Option<Pin<Box<dyn Future<Output = ()> + Send>>> = None;
    let mut shutting_down = state.inner.shutting_down.subscribe();
    let shutdown = async move {
        let _ = shutting_down.wait_for(|down| *down).await;
    };
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            frame = input.next() => {
                let bytes = match frame {
                    Some(Ok(Message::Text(text))) => Bytes::from(text),
                    Some(Ok(Message::Binary(bytes))) => bytes,
                    Some(Ok(Message::Close(_))) | None => break,
                    Some(Ok(_)) => continue,
                    Some(Err(err)) => {
                        let _ = sink.send(close(read_error_code(&err), &err.to_string())).await;
                        break;
                    }
                };
                let had_session = connection.session.is_some();
                let replies = connection.receive(&bytes).await;
                let mut open = true;
                for reply in replies {
                    if !send(&mut sink, reply).await {
                        open = false;
                        break;
                    }
                }
                if !open {
                    break;
                }
                if !had_session && let Some(session) = &connection.session {
                    init_deadline = None;
                    if let Some(key) = &session.caller.0 {
                        revoked = Some(Box::pin(key_revoked(state.inner.registry.clone(), key.key_id)));
                    }
                }
            }
            message = next_message(&mut connection.operations), if !connection.operations.is_empty() => {
                if !send(&mut sink, message).await {
                    break;
                }
            }
            () = async {
                match init_deadline.as_mut() {
                    Some(deadline) => deadline.await,
                    None => future::pending().await,
                }
            } => {
                let _ = sink.send(close(4408, "connection initialisation timeout")).await;
                break;
            }
            () = async {
                match revoked.as_mut() {
                    Some(revoked) => revoked.await,
                    None => future::pending().await,
                }
            } => {
                let _ = sink.send(close(4403, "the API key was revoked")).await;
                break;
            }
            () = &mut shutdown => {
                // Every open operation completes, then the connection says goodbye.
                let ids: Vec<Arc<str>> = connection.operations.keys().cloned().collect();
                for id in ids {
                    if !send(&mut sink, connection.protocol.complete(&id)).await {
                        break;
                    }
                }
                let _ = sink.send(close(1001, "the server is shutting down")).await;
                break;
            }
        }
    }
}

/// Completes when the API key `key` is revoked (by this server or another one).
async fn key_revoked(registry: Registry, key: i32) {
    // Watch first, then check: a revocation between the handshake and now is not missed.
    let mut revocations = registry.revocations();
    loop {
        // A database error keeps the connection: the next revocation is checked again.
        if let Ok(false) = registry.api_key_active(key).await {
            return;
        }
        if revocations.changed().await.is_err() {
            future::pending::<()>().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::read_error_code;
    use tungstenite::error::{CapacityError, ProtocolError};

    #[test]
    fn read_errors_close_with_the_code_of_their_kind() {
        let too_big = tungstenite::Error::Capacity(CapacityError::MessageTooLong {
            size: 65_537,
            max_size: 65_536,
        });
        assert_eq!(read_error_code(&axum::Error::new(too_big)), 1009);
        let unmasked = tungstenite::Error::Protocol(ProtocolError::UnmaskedFrameFromClient);
        assert_eq!(read_error_code(&axum::Error::new(unmasked)), 1002);
        // Whatever the text says.
        let io = std::io::Error::other("size limit exceeded");
        assert_eq!(read_error_code(&axum::Error::new(io)), 1002);
    }
}
