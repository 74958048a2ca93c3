//! GraphQL over HTTP: POST and GET as the GraphQL-over-HTTP specification describes them
//! (`application/graphql-response+json`, 4xx for request errors), batches of a few operations,
//! GraphiQL for browsers, and the WebSocket upgrade.

use super::client::{Client, error_response};
use super::{AppState, Transport};
use crate::graphql::executor::is_request_error;
use async_graphql::Executor as _;
use async_graphql::parser::types::OperationType;
use axum::body::Bytes;
use axum::extract::ws::{WebSocketUpgrade, rejection::WebSocketUpgradeRejection};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use std::time::Instant;

const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";
const JSON: &str = "application/json";
pub const TIMEOUT: &str = "TIMEOUT";

/// The media type to answer with, from the Accept header (GraphQL over HTTP, "Accept").
fn response_media_type(headers: &HeaderMap) -> Option<&'static str> {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return Some(JSON);
    };
    let types: Vec<&str> = accept
        .split(',')
        .map(|t| t.split(';').next().unwrap_or("").trim())
        .collect();
    if types.contains(&GRAPHQL_RESPONSE_JSON) {
        Some(GRAPHQL_RESPONSE_JSON)
    } else if types
        .iter()
        .any(|t| *t == JSON || *t == "*/*" || *t == "application/*")
    {
        Some(JSON)
    } else {
        None
    }
}

fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"))
}

fn not_acceptable() -> Response {
    (
        StatusCode::NOT_ACCEPTABLE,
        "accept application/graphql-response+json or application/json",
    )
        .into_response()
}

/// A request refused before execution: a GraphQL error document with a 4xx status.
fn reject(state: &AppState, status: StatusCode, media: &'static str, message: &str) -> Response {
    state.inner.metrics.observe_rejection();
    let mut response = error_response(status, "BAD_REQUEST", message);
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(media));
    response
}

/// The GET parameters of a GraphQL request.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GetParams {
    query: Option<String>,
    operation_name: Option<String>,
    variables: Option<String>,
    extensions: Option<String>,
}

fn get_params(raw: &str) -> Option<GetParams> {
    axum::extract::Query::<GetParams>::try_from_uri(&format!("/?{raw}").parse().ok()?)
        .ok()
        .map(|q| q.0)
}

pub async fn graphql_get(
    State(state): State<AppState>,
    client: Client,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    if let Ok(upgrade) = upgrade {
        return super::ws::upgrade(state, client, &headers, upgrade);
    }
    let raw = raw.unwrap_or_default();
    if raw.is_empty() && wants_html(&headers) && state.inner.settings.graphiql {
        return super::assets::graphiql();
    }
    let Some(media) = response_media_type(&headers) else {
        return not_acceptable();
    };
    let Some(params) = get_params(&raw) else {
        return reject(
            &state,
            StatusCode::BAD_REQUEST,
            media,
            "the query string is malformed",
        );
    };
    let Some(query) = params.query.filter(|q| !q.is_empty()) else {
        return reject(
            &state,
            StatusCode::BAD_REQUEST,
            media,
            "the `query` parameter is required",
        );
    };
    let mut request = async_graphql::Request::new(query);
    if let Some(name) = params.operation_name.filter(|n| !n.is_empty()) {
        request = request.operation_name(name);
    }
    if let Some(variables) = params.variables.filter(|v| !v.is_empty()) {
        match serde_json::from_str::<async_graphql::Variables>(&variables) {
            Ok(v) => request = request.variables(v),
            Err(_) => {
                return reject(
                    &state,
                    StatusCode::BAD_REQUEST,
                    media,
                    "`variables` must be a JSON object",
                );
            }
        }
    }
    if let Some(extensions) = params.extensions.filter(|v| !v.is_empty()) {
        match serde_json::from_str(&extensions) {
            Ok(e) => request.extensions = e,
            Err(_) => {
                return reject(
                    &state,
                    StatusCode::BAD_REQUEST,
                    media,
                    "`extensions` must be a JSON object",
                );
            }
        }
    }
    if operation_type(&request) == Some(OperationType::Mutation) {
        let mut response = reject(
            &state,
            StatusCode::METHOD_NOT_ALLOWED,
            media,
            "mutations are only accepted over POST",
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    let (status, body) = execute(&state, &client, request).await;
    respond(status, media, body)
}

pub async fn graphql_post(
    State(state): State<AppState>,
    client: Client,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(media) = response_media_type(&headers) else {
        return not_acceptable();
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim();
    if !essence.eq_ignore_ascii_case(JSON) {
        return reject(
            &state,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            media,
            "send the request as application/json",
        );
    }
    let batch: async_graphql::BatchRequest = match serde_json::from_slice(&body) {
        Ok(batch) => batch,
        Err(err) if err.is_data() || err.is_syntax() || err.is_eof() => {
            return reject(
                &state,
                StatusCode::BAD_REQUEST,
                media,
                "the body is not a GraphQL request in JSON (or a batch: an array of them)",
            );
        }
        Err(_) => {
            return reject(
                &state,
                StatusCode::BAD_REQUEST,
                media,
                "the body is not valid UTF-8 JSON",
            );
        }
    };
    let requests = match batch {
        async_graphql::BatchRequest::Single(request) => {
            return match validate_request(&state, media, &request) {
                Some(refusal) => refusal,
                None => {
                    let (status, body) = execute(&state, &client, request).await;
                    respond(status, media, body)
                }
            };
        }
        async_graphql::BatchRequest::Batch(requests) => requests,
    };
    let max = state.inner.settings.max_batch_size;
    if requests.is_empty() || requests.len() > max {
        return reject(
            &state,
            StatusCode::BAD_REQUEST,
            media,
            &format!("a batch holds from 1 to {max} operations"),
        );
    }
    for request in &requests {
        if let Some(refusal) = validate_request(&state, media, request) {
            return refusal;
        }
    }
    // The request itself was charged once; each further operation costs one more.
    if let Some(key) = &client.caller.0
        && let Err(refusal) = state.inner.rate_limits.check_key(
            key.key_id,
            requests.len() as u32 - 1,
            &state.inner.metrics,
        )
    {
        return refusal.into_response();
    }
    let mut answers = Vec::with_capacity(requests.len());
    for request in requests {
        let (_, body) = execute(&state, &client, request).await;
        answers.push(body);
    }
    respond(StatusCode::OK, media, serde_json::Value::Array(answers))
}

/// A refusal for a request that cannot be executed at all.
fn validate_request(
    state: &AppState,
    media: &'static str,
    request: &async_graphql::Request,
) -> Option<Response> {
    if request.query.is_empty() {
        return Some(reject(
            state,
            StatusCode::BAD_REQUEST,
            media,
            "the `query` field is required",
        ));
    }
    None
}

/// The operation `request` selects, if its document parses.
fn operation_type(request: &async_graphql::Request) -> Option<OperationType> {
    let document = async_graphql::parser::parse_query(&request.query).ok()?;
    let operations = document.operations;
    match &request.operation_name {
        Some(name) => operations
            .iter()
            .find(|(n, _)| n.map(|n| n.as_str()) == Some(name.as_str()))
            .map(|(_, op)| op.node.ty),
        None => operations.iter().next().map(|(_, op)| op.node.ty),
    }
}

fn respond(status: StatusCode, media: &'static str, body: serde_json::Value) -> Response {
    // Under application/json a well-formed request is answered 200 even when the document is
    // refused (GraphQL over HTTP, "application/json").
    let status = if media == JSON && status == StatusCode::BAD_REQUEST {
        StatusCode::OK
    } else {
        status
    };
    (
        status,
        [(header::CONTENT_TYPE, HeaderValue::from_static(media))],
        body.to_string(),
    )
        .into_response()
}

/// Executes one operation for `client`, within the request time limit: the status the answer
/// deserves on its own, and the answer.
async fn execute(
    state: &AppState,
    client: &Client,
    mut request: async_graphql::Request,
) -> (StatusCode, serde_json::Value) {
    let inner = &state.inner;
    let started = Instant::now();
    let operation = request.operation_name.clone();
    state.insert_request_data(&mut request.data, client.caller.clone(), Transport::Http);
    let Ok(response) = tokio::time::timeout(
        inner.settings.request_timeout,
        inner.schema.execute(request),
    )
    .await
    else {
        inner
            .metrics
            .observe_request(operation.as_deref(), "error", started.elapsed());
        let message = format!(
            "the request took longer than {} s and was stopped",
            inner.settings.request_timeout.as_secs_f64()
        );
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            serde_json::json!({ "errors": [{ "message": message, "extensions": { "code": TIMEOUT } }] }),
        );
    };
    // A request error (parse, validation, limits) gets a 4xx and no `data` entry at all (the
    // executor has counted it).
    let request_error = is_request_error(&response);
    let body = if request_error {
        serde_json::json!({ "errors": response.errors })
    } else {
        serde_json::to_value(&response).unwrap_or_else(|err| {
            tracing::error!(error = %err, "cannot serialise a response");
            serde_json::json!({ "errors": [{ "message": "internal error", "extensions": { "code": "INTERNAL_SERVER_ERROR" } }] })
        })
    };
    let status = if request_error {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    (status, body)
}
