//! GraphQL over HTTP: POST and GET as the GraphQL-over-HTTP specification describes them
//! (`application/graphql-response+json`, 4xx for request errors), batches of a few operations,
//! GraphiQL for browsers, and the WebSocket upgrade.

use super::cache::{Answer, AnswerKey, Moment};
use super::client::{Client, error_response};
use super::{AppState, Transport};
use crate::graphql::CachePolicy;
use crate::graphql::auth::Audience;
use crate::graphql::executor::is_request_error;
use async_graphql::Executor as _;
use async_graphql::parser::types::OperationType;
use axum::body::{Body, Bytes};
use axum::extract::ws::{WebSocketUpgrade, rejection::WebSocketUpgradeRejection};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use std::sync::Arc;
use std::time::{Duration, Instant};

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
    if operation_type(&mut request) == Some(OperationType::Mutation) {
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
    answer(&state, &client, request, media, Some(&headers)).await
}

/// The body of a GraphQL POST, read up to the caller's limit: `--max-editor-body-bytes` for an
/// EDITOR key or higher (a manifest may travel in it), `--max-body-bytes` for everyone else. A
/// body over it is refused with 413 before it is read whole; one that breaks off, with 400.
async fn read_body(state: &AppState, client: &Client, body: Body) -> Result<Bytes, Response> {
    let settings = &state.inner.settings;
    let limit = match client.caller.has(entity::Role::Editor) {
        true => settings.max_editor_body_bytes.max(settings.max_body_bytes),
        false => settings.max_body_bytes,
    };
    axum::body::to_bytes(body, limit).await.map_err(|err| {
        let err = err.into_inner();
        match err.downcast_ref::<http_body_util::LengthLimitError>() {
            Some(_) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the request body is over this caller's limit of {limit} bytes"),
            ),
            None => (
                StatusCode::BAD_REQUEST,
                format!("the request body could not be read: {err}"),
            ),
        }
        .into_response()
    })
}

pub async fn graphql_post(
    State(state): State<AppState>,
    client: Client,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let body = match read_body(&state, &client, body).await {
        Ok(body) => body,
        Err(refused) => return refused,
    };
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
                None => answer(&state, &client, request, media, None).await,
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
    // The answers, as a JSON array of them.
    let mut answers = Vec::from(&b"["[..]);
    for (i, request) in requests.into_iter().enumerate() {
        if i > 0 {
            answers.push(b',');
        }
        answers.extend_from_slice(&execute(&state, &client, request).await.body);
    }
    answers.push(b']');
    respond(StatusCode::OK, media, Bytes::from(answers), None)
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

/// The operation `request` selects, if its document parses (the parsed document stays in the
/// request, so it is not parsed again to execute it).
fn operation_type(request: &mut async_graphql::Request) -> Option<OperationType> {
    let name = request.operation_name.clone();
    let operations = &request.parsed_query().ok()?.operations;
    match name {
        Some(name) => operations
            .iter()
            .find(|(n, _)| n.map(|n| n.as_str()) == Some(name.as_str()))
            .map(|(_, op)| op.node.ty),
        None => operations.iter().next().map(|(_, op)| op.node.ty),
    }
}

/// The response headers of an answer that may be served again: its entity tag, and who may
/// keep it (RFC 9111): a shared cache, for a while, when it is the public's; only the caller,
/// revalidating each time, when it took a key.
fn cache_headers(response: &mut Response, answer: &Answer, public: bool, max_age: u64) {
    let control = if public {
        format!("public, max-age={max_age}")
    } else {
        "private, no-cache".to_owned()
    };
    validators(
        response,
        &answer.etag,
        &control,
        Some("Accept, Authorization"),
    );
}

/// Sets an answer's entity tag, its `Cache-Control` and the request headers it varies with.
pub(super) fn validators(
    response: &mut Response,
    etag: &str,
    control: &str,
    vary: Option<&'static str>,
) {
    let headers = response.headers_mut();
    if let Ok(etag) = HeaderValue::from_str(etag) {
        headers.insert(header::ETAG, etag);
    }
    if let Ok(control) = HeaderValue::from_str(control) {
        headers.insert(header::CACHE_CONTROL, control);
    }
    if let Some(vary) = vary {
        headers.insert(header::VARY, HeaderValue::from_static(vary));
    }
}

/// When an answer is computed: the registry's generation and the day of its clock. An answer
/// computed at one moment is the answer until the next (see [`super::cache`]).
fn moment(registry: &crate::registry::Registry) -> Moment {
    (registry.generation(), registry.now().date_naive())
}

/// The page or file `key` names: kept, when the registry has not moved since it was computed;
/// else computed by `compute` (a response to send instead if it fails), and kept when the
/// registry did not move meanwhile.
pub(super) async fn kept_page<F>(
    state: &AppState,
    key: AnswerKey,
    compute: F,
) -> Result<Arc<Answer>, Response>
where
    F: Future<Output = Result<Answer, Response>>,
{
    let inner = &state.inner;
    let at = moment(&inner.registry);
    if let Some(kept) = inner.answers.get(&key, at) {
        return Ok(kept);
    }
    let answer = Arc::new(compute.await?);
    if moment(&inner.registry) == at {
        inner.answers.put(key, at, answer.clone());
    }
    Ok(answer)
}

fn respond(
    status: StatusCode,
    media: &'static str,
    body: Bytes,
    kept: Option<(&Answer, bool, u64)>,
) -> Response {
    // Under application/json a well-formed request is answered 200 even when the document is
    // refused (GraphQL over HTTP, "application/json").
    let status = if media == JSON && status == StatusCode::BAD_REQUEST {
        StatusCode::OK
    } else {
        status
    };
    let mut response = (
        status,
        [(header::CONTENT_TYPE, HeaderValue::from_static(media))],
        body,
    )
        .into_response();
    match kept {
        Some((answer, public, max_age)) => cache_headers(&mut response, answer, public, max_age),
        // Not kept here (an error, a mutation, notice evidence, a registry that moved): no
        // cache on the way may keep it either.
        None => {
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        }
    }
    response
}

/// Whether an `If-None-Match` header names `etag` (or `*`).
pub(super) fn matches_etag(headers: &HeaderMap, etag: &str) -> bool {
    // If-None-Match compares weakly (RFC 9110, 13.1.2): `W/` aside, the same tag.
    let etag = etag.trim_start_matches("W/");
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|tag| tag.trim().trim_start_matches("W/"))
        .any(|tag| tag == etag || tag == "*")
}

/// Answers one operation: from the answers kept when this one is (the registry has not moved
/// since it was computed, for this request and this caller's audience), else by executing it,
/// keeping the answer when it is a query answered without error. A GET (`conditional`: its
/// headers) whose `If-None-Match` names the answer's tag gets 304 Not Modified.
async fn answer(
    state: &AppState,
    client: &Client,
    mut request: async_graphql::Request,
    media: &'static str,
    conditional: Option<&HeaderMap>,
) -> Response {
    let inner = &state.inner;
    let public = client.caller.audience() == Audience::Public;
    let max_age = inner.settings.public_max_age.as_secs();
    let generation = moment(&inner.registry);
    let key = AnswerKey::new(client.caller.audience(), &request);
    let kept = match inner.answers.get(&key, generation) {
        Some(kept) => {
            inner
                .metrics
                .observe_request(kept.operation.as_deref(), "cached", Duration::ZERO);
            kept
        }
        None => {
            let query = operation_type(&mut request) == Some(OperationType::Query);
            let operation = crate::graphql::executor::operation_name(&mut request);
            let executed = execute(state, client, request).await;
            // An answer computed while the registry moved may be of either state: not kept.
            let keep = query
                && executed.complete
                && executed.storable
                && executed.status == StatusCode::OK
                && moment(&inner.registry) == generation;
            if !keep {
                return respond(executed.status, media, executed.body, None);
            }
            let answer = Arc::new(Answer::new(executed.body, operation));
            inner.answers.put(key, generation, answer.clone());
            answer
        }
    };
    if conditional.is_some_and(|headers| matches_etag(headers, &kept.etag)) {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        cache_headers(&mut response, &kept, public, max_age);
        return response;
    }
    respond(
        StatusCode::OK,
        media,
        kept.body.clone(),
        Some((&kept, public, max_age)),
    )
}

/// An executed operation.
struct Executed {
    /// The status the answer deserves on its own.
    status: StatusCode,
    body: Bytes,
    /// Answered with data and no error.
    complete: bool,
    /// No resolver marked the answer as not to be kept (see [`CachePolicy`]).
    storable: bool,
}

/// Executes one operation for `client`, within the request time limit.
async fn execute(
    state: &AppState,
    client: &Client,
    mut request: async_graphql::Request,
) -> Executed {
    let inner = &state.inner;
    let started = Instant::now();
    let operation = request.operation_name.clone();
    state.insert_request_data(&mut request.data, client.caller.clone(), Transport::Http);
    let policy = CachePolicy::default();
    request.data.insert(policy.clone());
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
        let body = serde_json::json!({ "errors": [{ "message": message, "extensions": { "code": TIMEOUT } }] });
        return Executed {
            status: StatusCode::SERVICE_UNAVAILABLE,
            body: Bytes::from(body.to_string()),
            complete: false,
            storable: false,
        };
    };
    // A request error (parse, validation, limits) gets a 4xx and no `data` entry at all (the
    // executor has counted it).
    let request_error = is_request_error(&response);
    let complete = !request_error && response.errors.is_empty();
    let body = if request_error {
        serde_json::to_vec(&serde_json::json!({ "errors": response.errors }))
    } else {
        serde_json::to_vec(&response)
    };
    let body = body.unwrap_or_else(|err| {
        tracing::error!(error = %err, "cannot serialise a response");
        br#"{"errors":[{"message":"internal error","extensions":{"code":"INTERNAL_SERVER_ERROR"}}]}"#
            .to_vec()
    });
    Executed {
        status: if request_error {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        },
        body: Bytes::from(body),
        complete,
        storable: policy.storable(),
    }
}
