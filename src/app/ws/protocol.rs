//! The messages of the two WebSocket subprotocols the server speaks: `graphql-transport-ws`
//! (<https://github.com/enisdenjo/graphql-ws/blob/master/PROTOCOL.md>) and the legacy
//! `graphql-ws` of subscriptions-transport-ws. Both have a client start and stop operations by
//! id; they differ in names (`subscribe`/`start`, `next`/`data`, `complete`/`stop`) and in how
//! an error of the connection itself is told (a close code, or a `connection_error` message).

use async_graphql::http::WebSocketProtocols;
use axum::body::Bytes;
use serde::Serialize;

/// What the server sends the client.
pub enum Outgoing {
    /// A message, in full.
    Text(Bytes),
    /// Close the connection with this code and reason.
    Close(u16, String),
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Message<'a> {
    ConnectionAck,
    ConnectionError {
        payload: ErrorPayload<'a>,
    },
    Complete {
        id: &'a str,
    },
    Pong {
        #[serde(skip_serializing_if = "Option::is_none")]
        payload: Option<serde_json::Value>,
    },
}

#[derive(Serialize)]
struct ErrorPayload<'a> {
    message: &'a str,
}

fn text(message: &Message<'_>) -> Outgoing {
    // These are plain strings and JSON values: serializing them cannot fail.
    Outgoing::Text(Bytes::from(serde_json::to_vec(message).unwrap_or_default()))
}

/// The server's side of one subprotocol.
#[derive(Clone, Copy)]
pub struct Protocol(pub WebSocketProtocols);

impl Protocol {
    pub fn ack(self) -> Outgoing {
        text(&Message::ConnectionAck)
    }

    pub fn pong(self, payload: Option<serde_json::Value>) -> Outgoing {
        text(&Message::Pong { payload })
    }

    pub fn complete(self, id: &str) -> Outgoing {
        text(&Message::Complete { id })
    }

    /// A result of operation `id`: `payload` is a GraphQL response, already serialized (and
    /// shared by every subscription rendered alike).
    pub fn next(self, id: &str, payload: &[u8]) -> Outgoing {
        let kind = match self.0 {
            WebSocketProtocols::GraphQLWS => "next",
            WebSocketProtocols::SubscriptionsTransportWS => "data",
        };
        let id = serde_json::to_string(id).unwrap_or_default();
        let mut message = Vec::with_capacity(payload.len() + id.len() + 40);
        message.extend_from_slice(b"{\"type\":\"");
        message.extend_from_slice(kind.as_bytes());
        message.extend_from_slice(b"\",\"id\":");
        message.extend_from_slice(id.as_bytes());
        message.extend_from_slice(b",\"payload\":");
        message.extend_from_slice(payload);
        message.push(b'}');
        Outgoing::Text(Bytes::from(message))
    }

    /// The end of the connection for an error of its own (not of one operation): a close
    /// frame with `code` in graphql-transport-ws, a `connection_error` in the legacy protocol
    /// (which has no codes), after which the connection ends.
    pub fn refuse(self, code: u16, message: &str) -> Vec<Outgoing> {
        match self.0 {
            WebSocketProtocols::GraphQLWS => vec![Outgoing::Close(code, message.to_owned())],
            WebSocketProtocols::SubscriptionsTransportWS => vec![text(&Message::ConnectionError {
                payload: ErrorPayload { message },
            })],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(outgoing: Outgoing) -> serde_json::Value {
        match outgoing {
            Outgoing::Text(bytes) => serde_json::from_slice(&bytes).unwrap(),
            Outgoing::Close(..) => panic!("a close"),
        }
    }

    #[test]
    fn results_are_framed_for_each_protocol_around_the_same_payload() {
        let payload = br#"{"data":{"a":1}}"#;
        let transport = body(Protocol(WebSocketProtocols::GraphQLWS).next("7\"", payload));
        assert_eq!(
            transport,
            serde_json::json!({"type": "next", "id": "7\"", "payload": {"data": {"a": 1}}})
        );
        let legacy =
            body(Protocol(WebSocketProtocols::SubscriptionsTransportWS).next("7", payload));
        assert_eq!(legacy["type"], "data");
        assert_eq!(
            body(Protocol(WebSocketProtocols::GraphQLWS).complete("1")),
            serde_json::json!({"type": "complete", "id": "1"})
        );
        assert_eq!(
            body(Protocol(WebSocketProtocols::GraphQLWS).pong(None)),
            serde_json::json!({"type": "pong"})
        );
    }
}
