//! The HTTP surface: `/graphql` (GraphQL over HTTP, GraphiQL for browsers), `/healthz`,
//! `/readyz` and `/metrics`.

use crate::changes::Tail;
use crate::config::ServerSettings;
use crate::graphql::{self, SubregSchema, loaders};
use crate::metrics::Metrics;
use crate::registry::{Actor, Registry};
use crate::ropa;
use async_graphql::http::{ALL_WEBSOCKET_PROTOCOLS, GraphiQLSource};
use async_graphql::parser::types::OperationType;
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::Router;
use axum::body::Bytes;
use axum::extract::ws::{WebSocketUpgrade, rejection::WebSocketUpgradeRejection};
use axum::extract::{DefaultBodyLimit, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use std::sync::Arc;
use tokio::task::JoinHandle;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;

const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";
const JSON: &str = "application/json";

#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    /// Follows the change log for this process's subscribers.
    tail: Arc<Tail>,
    tail_task: JoinHandle<()>,
    schema: SubregSchema,
    registry: Registry,
    metrics: Metrics,
    settings: ServerSettings,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.tail.close();
        self.tail_task.abort();
    }
}

impl AppState {
    pub async fn new(
        registry: Registry,
        metrics: Metrics,
        settings: ServerSettings,
    ) -> crate::registry::Result<Self> {
        let (tail, tail_task) = Tail::start(registry.clone()).await?;
        let schema = graphql::schema_builder(&settings.limits)
            .data(registry.clone())
            .data(tail.clone())
            .data(settings.findings.clone())
            .finish();
        Ok(Self {
            inner: Arc::new(Inner {
                tail,
                tail_task,
                schema,
                registry,
                metrics,
                settings,
            }),
        })
    }
}

impl AppState {
    /// Ends every subscription stream of this server (on shutdown).
    pub fn close_subscriptions(&self) {
        self.inner.tail.close();
    }
}

/// The router, ready to serve.
pub fn router(state: AppState) -> Router {
    let settings = &state.inner.settings;
    Router::new()
        .route("/graphql", get(graphql_get).post(graphql_post))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/ropa", get(ropa_download))
        .layer(DefaultBodyLimit::max(settings.max_body_bytes))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            settings.request_timeout,
        ))
        .layer(CatchPanicLayer::new())
        .with_state(state)
}

async fn readyz(State(state): State<AppState>) -> Response {
    match state.inner.registry.ping().await {
        Ok(()) => (StatusCode::OK, "ready").into_response(),
        Err(err) => {
            tracing::warn!(error = %err, "database unavailable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response()
        }
    }
}

async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.inner.metrics.render(),
    )
        .into_response()
}

/// The parameters of a record download.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RopaParams {
    perspective: Option<String>,
    format: Option<String>,
    as_of: Option<String>,
    layout: Option<String>,
    terminology: Option<String>,
}

/// `GET /ropa?perspective=controller&format=xlsx&asOf=2023-01-01&layout=ico&terminology=gdpr`:
/// the record of processing activities as a file.
async fn ropa_download(State(state): State<AppState>, RawQuery(raw): RawQuery) -> Response {
    let bad = |message: String| (StatusCode::BAD_REQUEST, message).into_response();
    let uri = format!("/?{}", raw.unwrap_or_default());
    let Some(params) = uri
        .parse()
        .ok()
        .and_then(|uri| axum::extract::Query::<RopaParams>::try_from_uri(&uri).ok())
        .map(|q| q.0)
    else {
        return bad("the query string is malformed".into());
    };
    let parse = || -> Result<_, String> {
        let perspectives: ropa::model::Perspectives =
            params.perspective.as_deref().unwrap_or("both").parse()?;
        let format: ropa::model::Format = params.format.as_deref().unwrap_or("xlsx").parse()?;
        let layout: ropa::model::Layout =
            params.layout.as_deref().unwrap_or("article30").parse()?;
        let terminology: ropa::model::Terminology =
            params.terminology.as_deref().unwrap_or("gdpr").parse()?;
        let as_of = params
            .as_of
            .as_deref()
            .map(ropa::model::parse_as_of)
            .transpose()?;
        Ok((perspectives, format, layout, terminology, as_of))
    };
    let (perspectives, format, layout, terminology, as_of) = match parse() {
        Ok(parsed) => parsed,
        Err(message) => return bad(message),
    };
    let registry = &state.inner.registry;
    if as_of.is_some_and(|at| at > registry.now()) {
        return bad("asOf must not be in the future".into());
    }
    let records = match ropa::build(
        registry,
        perspectives.list(),
        as_of,
        &state.inner.settings.findings,
    )
    .await
    {
        Ok(records) => records,
        Err(err) => {
            tracing::error!(error = %err, "cannot build the record");
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                "the record cannot be built now",
            )
                .into_response();
        }
    };
    let options = ropa::export::ExportOptions {
        layout,
        terminology,
    };
    let bytes =
        match tokio::task::spawn_blocking(move || ropa::export::export(&records, format, &options))
            .await
        {
            Ok(Ok(bytes)) => bytes,
            Ok(Err(err)) => {
                tracing::error!(error = %err, "cannot export the record");
                return StatusCode::INTERNAL_SERVER_ERROR.into_response();
            }
            Err(_) => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        };
    let day = as_of.unwrap_or_else(|| registry.now()).format("%Y-%m-%d");
    let filename = format!(
        "record-of-processing-activities-{}-{day}.{}",
        params.perspective.as_deref().unwrap_or("both"),
        format.extension()
    );
    (
        [
            (header::CONTENT_TYPE, format.content_type().to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}\"", filename.replace('"', "")),
            ),
        ],
        bytes,
    )
        .into_response()
}

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

/// A request refused before execution: a GraphQL error document with a 4xx status.
fn reject(state: &AppState, status: StatusCode, media: &'static str, message: &str) -> Response {
    state.inner.metrics.observe_request("rejected");
    let body = serde_json::json!({
        "errors": [{ "message": message, "extensions": { "code": "BAD_REQUEST" } }]
    });
    (
        status,
        [(header::CONTENT_TYPE, HeaderValue::from_static(media))],
        body.to_string(),
    )
        .into_response()
}

/// Subscriptions over WebSocket, with the `graphql-transport-ws` protocol or the legacy
/// `graphql-ws` one, whichever the client asks for first.
fn websocket(
    state: AppState,
    protocol: Option<GraphQLProtocol>,
    upgrade: WebSocketUpgrade,
) -> Response {
    let Some(protocol) = protocol else {
        return (
            StatusCode::BAD_REQUEST,
            "ask for the graphql-transport-ws (or legacy graphql-ws) WebSocket subprotocol",
        )
            .into_response();
    };
    let schema = state.inner.schema.clone();
    let registry = state.inner.registry.clone();
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        // Subscribers mostly sit idle: keep their buffers small (they grow when needed).
        .read_buffer_size(1024)
        .write_buffer_size(0)
        .max_message_size(64 * 1024)
        .on_upgrade(move |socket| async move {
            let mut data = async_graphql::Data::default();
            // Events stream for a long time: the loader must not serve them stale values.
            let loader = loaders::request_loader(registry);
            loader.enable_all_cache(false);
            data.insert(loader);
            data.insert(Actor("anonymous".into()));
            GraphQLWebSocket::new(socket, schema, protocol)
                .with_data(data)
                .serve()
                .await;
        })
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

async fn graphql_get(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    protocol: Result<GraphQLProtocol, StatusCode>,
) -> Response {
    if let Ok(upgrade) = upgrade {
        return websocket(state, protocol.ok(), upgrade);
    }
    let raw = raw.unwrap_or_default();
    if raw.is_empty() && wants_html(&headers) && state.inner.settings.graphiql {
        return Html(
            GraphiQLSource::build()
                .endpoint("/graphql")
                .subscription_endpoint("/graphql")
                .title("Subreg")
                .finish(),
        )
        .into_response();
    }
    let Some(media) = response_media_type(&headers) else {
        return (
            StatusCode::NOT_ACCEPTABLE,
            "accept application/graphql-response+json or application/json",
        )
            .into_response();
    };
    let params: GetParams = match serde_urlencoded_params(&raw) {
        Some(p) => p,
        None => {
            return reject(
                &state,
                StatusCode::BAD_REQUEST,
                media,
                "the query string is malformed",
            );
        }
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
    execute(&state, Method::GET, media, request).await
}

fn serde_urlencoded_params(raw: &str) -> Option<GetParams> {
    axum::extract::Query::<GetParams>::try_from_uri(&format!("/?{raw}").parse().ok()?)
        .ok()
        .map(|q| q.0)
}

async fn graphql_post(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(media) = response_media_type(&headers) else {
        return (
            StatusCode::NOT_ACCEPTABLE,
            "accept application/graphql-response+json or application/json",
        )
            .into_response();
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
    let request: async_graphql::Request = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(_) => {
            return reject(
                &state,
                StatusCode::BAD_REQUEST,
                media,
                "the body is not a GraphQL request in JSON",
            );
        }
    };
    if request.query.is_empty() {
        return reject(
            &state,
            StatusCode::BAD_REQUEST,
            media,
            "the `query` field is required",
        );
    }
    execute(&state, Method::POST, media, request).await
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

async fn execute(
    state: &AppState,
    method: Method,
    media: &'static str,
    request: async_graphql::Request,
) -> Response {
    if method == Method::GET && operation_type(&request) == Some(OperationType::Mutation) {
        let mut response = reject(
            state,
            StatusCode::METHOD_NOT_ALLOWED,
            media,
            "mutations are only accepted over POST",
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    let request = request
        .data(loaders::request_loader(state.inner.registry.clone()))
        .data(Actor("anonymous".into()));
    let response = state.inner.schema.execute(request).await;
    // A response without data whose errors carry no path failed before execution (parse or
    // validation): the spec gives those a 4xx under application/graphql-response+json.
    let request_error = response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty());
    let status = if request_error && media == GRAPHQL_RESPONSE_JSON {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    state
        .inner
        .metrics
        .observe_request(if response.errors.is_empty() {
            "ok"
        } else {
            "error"
        });
    // A request error has no `data` entry at all (GraphQL over HTTP, "Execution result").
    let serialised = if request_error {
        serde_json::to_string(&serde_json::json!({ "errors": response.errors }))
    } else {
        serde_json::to_string(&response)
    };
    let body = match serialised {
        Ok(body) => body,
        Err(err) => {
            tracing::error!(error = %err, "cannot serialise a response");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    (
        status,
        [(header::CONTENT_TYPE, HeaderValue::from_static(media))],
        body,
    )
        .into_response()
}
