//! Subscriptions over WebSocket, with the `graphql-transport-ws` protocol or the legacy
//! `graphql-ws` one, whichever the client asks for first.
//!
//! The caller authenticates in `connection_init` (`{"Authorization": "Bearer <key>"}` or
//! `{"apiKey": "<key>"}`) or on the upgrade request itself; without a key the connection sees
//! the public feed. A connection is closed with 4403 when its key is revoked, with 4408 when
//! `connection_init` does not come within ten seconds, and with 1001 when the server shuts down,
//! after every open subscription has been completed.

use super::client::{Client, ConnectionOwner};
use super::{AppState, Transport};
use crate::graphql::auth::Caller;
use crate::registry::Registry;
use async_graphql::http::{WebSocket as Protocol, WebSocketProtocols, WsMessage};
use axum::body::Bytes;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt, future};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// How long a client has to send `connection_init`.
const INIT_TIMEOUT: Duration = Duration::from_secs(10);
/// On shutdown, how long to wait for more `complete` messages before closing.
const DRAIN_QUIET: Duration = Duration::from_millis(250);

/// Where a connection's handshake stands.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Handshake {
    Pending,
    /// Done, by the holder of this key (or anonymously).
    Done(Option<i32>),
}

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

async fn serve(state: AppState, client: Client, protocol: WebSocketProtocols, socket: WebSocket) {
    let _open = OpenConnection::new(&state);
    let inner = &state.inner;
    let (mut sink, stream) = socket.split();
    // Why the client's side ended, when it ended in a read error (a message over the size limit,
    // a protocol violation): the close frame then says so.
    let read_error: Arc<Mutex<Option<(u16, String)>>> = Arc::default();
    let input = stream
        .take_while({
            let read_error = read_error.clone();
            move |message| {
                if let Err(err) = message {
                    let code = read_error_code(err);
                    *read_error.lock().unwrap_or_else(|e| e.into_inner()) =
                        Some((code, err.to_string()));
                }
                future::ready(message.is_ok())
            }
        })
        .filter_map(|message| {
            future::ready(match message {
                Ok(Message::Text(text)) => Some(Bytes::from(text)),
                Ok(Message::Binary(bytes)) => Some(bytes),
                _ => None,
            })
        });

    let (handshake_tx, handshake) = watch::channel(Handshake::Pending);
    // The close code for a refused handshake (async-graphql closes those with 1002).
    let refusal: Arc<Mutex<Option<u16>>> = Arc::default();
    let on_init = {
        let state = state.clone();
        let refusal = refusal.clone();
        let caller = client.caller.clone();
        let address = client.address;
        move |payload: serde_json::Value| async move {
            let refuse = |code: u16, message: String| {
                *refusal.lock().unwrap_or_else(|e| e.into_inner()) = Some(code);
                async_graphql::Error::new(message)
            };
            let caller = match key_in_payload(&payload) {
                Err(message) => return Err(refuse(4400, message.into())),
                Ok(None) => caller,
                Ok(Some(secret)) => match state.inner.registry.authenticate(&secret).await {
                    Ok(Some(key)) => Caller::from_key(&key),
                    Ok(None) => {
                        return Err(refuse(
                            4403,
                            "the API key is not valid: it is unknown or was revoked".into(),
                        ));
                    }
                    Err(err) => {
                        tracing::error!(error = %err, "cannot check an API key");
                        return Err(refuse(1011, "the API key cannot be checked now".into()));
                    }
                },
            };
            let owner = match &caller.0 {
                Some(key) => ConnectionOwner::Key(key.key_id),
                None => ConnectionOwner::Address(address),
            };
            let Some(slot) = state.inner.connections.acquire(owner) else {
                return Err(refuse(
                    4429,
                    format!(
                        "too many open connections: at most {} per API key (per address without one)",
                        state.inner.settings.max_connections_per_client
                    ),
                ));
            };
            handshake_tx.send_replace(Handshake::Done(caller.0.as_ref().map(|k| k.key_id)));
            let mut data = async_graphql::Data::default();
            state.insert_request_data(&mut data, caller, Transport::WebSocket(slot));
            Ok(data)
        }
    };
    let mut messages =
        Protocol::new(inner.schema.clone(), input, protocol).on_connection_init(on_init);

    // Both are boxed and made only while needed: an idle anonymous subscriber, the common
    // case by far, then carries neither a timer nor a database query's state.
    let mut init_deadline = Some(Box::pin(tokio::time::sleep(INIT_TIMEOUT)));
    let mut revoked: Option<Pin<Box<dyn Future<Output = ()> + Send>>> = None;
    let mut shutting_down = inner.shutting_down.subscribe();
    let shutdown = async move {
        let _ = shutting_down.wait_for(|down| *down).await;
    };
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            message = messages.next() => match message {
                Some(WsMessage::Text(text)) => {
                    if sink.send(Message::Text(text.into())).await.is_err() {
                        break;
                    }
                    if init_deadline.is_some() {
                        let stage = *handshake.borrow();
                        if let Handshake::Done(key) = stage {
                            init_deadline = None;
                            if let Some(key) = key {
                                revoked = Some(Box::pin(key_revoked(inner.registry.clone(), key)));
                            }
                        }
                    }
                }
                Some(WsMessage::Close(code, reason)) => {
                    let refused = refusal.lock().unwrap_or_else(|e| e.into_inner()).take();
                    let code = match refused {
                        Some(code) => code,
                        // A subscribe before the handshake (graphql-transport-ws: 4401).
                        None if code == 1011 && *handshake.borrow() == Handshake::Pending => 4401,
                        None => code,
                    };
                    let _ = sink.send(close(code, &reason)).await;
                    break;
                }
                None => {
                    let error = read_error.lock().unwrap_or_else(|e| e.into_inner()).take();
                    if let Some((code, reason)) = error {
                        let _ = sink.send(close(code, &reason)).await;
                    }
                    break;
                }
            },
            () = async {
                match init_deadline.as_mut() {
                    Some(deadline) => deadline.await,
                    None => future::pending().await,
                }
            }, if *handshake.borrow() == Handshake::Pending => {
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
                // The change feed is closed: every subscription completes. Pass the
                // `complete` messages on, then say goodbye.
                while let Ok(Some(WsMessage::Text(text))) =
                    tokio::time::timeout(DRAIN_QUIET, messages.next()).await
                {
                    if sink.send(Message::Text(text.into())).await.is_err() {
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
