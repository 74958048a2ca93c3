//! The HTTP surface: `/graphql` (GraphQL over HTTP, WebSocket subscriptions, GraphiQL for
//! browsers), `/ropa` (the record as a file), `/healthz`, `/readyz` and `/metrics`.

mod assets;
mod cache;
mod client;
mod feed;
mod http;
mod list;
mod notices;
mod pages;
mod ropa;
mod ws;

use crate::changes::Tail;
use crate::graphql::auth::Caller;
use crate::graphql::limits::SubscriptionSlots;
use crate::graphql::{self, executor::GuardedSchema, loaders};
use crate::metrics::Metrics;
use crate::registry::Registry;
use crate::settings::ServerSettings;
use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderName, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};

use client::ConnectionSlot;
pub use client::{ConnectionSlots, RateLimits};

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    /// Follows the change log for this process's subscribers.
    tail: Arc<Tail>,
    tail_task: JoinHandle<()>,
    housekeeping: JoinHandle<()>,
    /// The schema with its document limits and metrics.
    schema: GuardedSchema,
    registry: Registry,
    metrics: Metrics,
    settings: ServerSettings,
    rate_limits: Arc<RateLimits>,
    connections: Arc<ConnectionSlots>,
    /// Answers kept to serve repeated queries.
    answers: cache::AnswerCache,
    /// Subscription events rendered once for the subscriptions that share a selection.
    renderer: Arc<ws::Renderer>,
    /// Set when the server starts shutting down: WebSocket connections finish and close.
    shutting_down: watch::Sender<bool>,
    /// Open WebSocket connections, awaited on shutdown.
    open_websockets: watch::Sender<usize>,
    /// Sends this process's share of the notices; its context renders the pages.
    dispatcher: crate::notices::Dispatcher,
    form_limits: Arc<pages::FormLimits>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.tail.close();
        self.tail_task.abort();
        self.housekeeping.abort();
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
            .data(metrics.clone())
            .data(settings.notices.clone())
            .finish();
        let schema = GuardedSchema::new(schema, &settings.limits, metrics.clone());
        let rate_limits = Arc::new(RateLimits::new(
            settings.key_requests_per_minute,
            settings.address_requests_per_minute,
        ));
        let dispatcher = crate::notices::start(
            registry.clone(),
            settings.notices.clone(),
            Some(metrics.clone()),
        )
        .await
        .map_err(|err| {
            crate::registry::RegistryError::Database(sea_orm::DbErr::Custom(format!(
                "cannot start sending notices: {err:#}"
            )))
        })?;
        let form_limits = Arc::new(pages::FormLimits::new(
            settings.notices.form_posts_per_hour,
            settings.notices.confirmations_per_address_per_hour,
        ));
        let housekeeping = {
            let rate_limits = rate_limits.clone();
            let form_limits = form_limits.clone();
            tokio::spawn(async move {
                let mut ticker = tokio::time::interval(Duration::from_secs(60));
                loop {
                    ticker.tick().await;
                    rate_limits.forget_idle();
                    form_limits.forget_idle();
                }
            })
        };
        let renderer = Arc::new(ws::Renderer::new(
            schema.clone(),
            registry.clone(),
            metrics.clone(),
        ));
        Ok(Self {
            inner: Arc::new(Inner {
                tail,
                tail_task,
                housekeeping,
                schema,
                registry,
                metrics,
                connections: ConnectionSlots::new(settings.max_connections_per_client),
                answers: cache::AnswerCache::new(settings.response_cache_bytes),
                renderer,
                settings,
                rate_limits,
                shutting_down: watch::Sender::new(false),
                open_websockets: watch::Sender::new(0),
                dispatcher,
                form_limits,
            }),
        })
    }

    /// Adds to `data` what every GraphQL operation runs with, over HTTP and WebSocket alike: a
    /// loader of its own, the caller and the actor its changes are recorded under; on a
    /// WebSocket connection, also the subscriptions it may still open and its place among its
    /// owner's connections.
    fn insert_request_data(
        &self,
        data: &mut async_graphql::Data,
        caller: Caller,
        transport: Transport,
    ) {
        let registry = self.inner.registry.clone();
        let loader = match &transport {
            // Events stream for a long time: the loader must not serve them stale values.
            Transport::WebSocket(_) => loaders::streaming_loader(registry),
            _ => loaders::request_loader(registry),
        };
        if let Transport::WebSocket(slot) = transport {
            data.insert(SubscriptionSlots::new(
                self.inner.settings.limits.max_subscriptions_per_connection,
            ));
            data.insert(slot);
        }
        data.insert(loader);
        data.insert(caller.actor());
        data.insert(caller);
    }

    /// The settings the server runs with.
    pub fn settings(&self) -> &ServerSettings {
        &self.inner.settings
    }

    /// Starts shutting down: every subscription stream completes (clients receive `complete`)
    /// and WebSocket connections then close with 1001 "going away".
    pub fn begin_shutdown(&self) {
        self.inner.shutting_down.send_replace(true);
        self.inner.tail.close();
    }

    /// Waits, at most `grace`, for every WebSocket connection to close.
    pub async fn websockets_closed(&self, grace: Duration) {
        let mut open = self.inner.open_websockets.subscribe();
        let _ = tokio::time::timeout(grace, open.wait_for(|n| *n == 0)).await;
    }
}

/// How an operation reaches the server.
enum Transport {
    /// An HTTP request, answered at once.
    Http,
    /// A WebSocket connection, which holds its place among its owner's connections.
    WebSocket(ConnectionSlot),
}

/// The router, ready to serve.
pub fn router(state: AppState) -> Router {
    let settings = &state.inner.settings;
    Router::new()
        .route("/graphql", get(http::graphql_get).post(http::graphql_post))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/ropa", get(ropa::download))
        .route("/notices/register", get(notices::export))
        .route("/subprocessors", get(list::subprocessors))
        .route("/subprocessors/feed.atom", get(feed::feed))
        .route(
            "/subprocessors/subscribe",
            get(pages::subscribe_form).post(pages::subscribe),
        )
        .route(
            "/subprocessors/confirm",
            get(pages::confirm_form).post(pages::confirm),
        )
        .route(
            "/subprocessors/unsubscribe",
            get(pages::unsubscribe_form).post(pages::unsubscribe),
        )
        .route(
            "/subprocessors/objections",
            axum::routing::post(pages::object),
        )
        .route("/assets/{*path}", get(assets::asset))
        .layer(DefaultBodyLimit::max(settings.max_body_bytes))
        // GraphQL requests answer their own timeout as a GraphQL error; this one is the net
        // under everything else.
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            settings.request_timeout + Duration::from_secs(5),
        ))
        .layer(CatchPanicLayer::new())
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request<_>| {
                    let id = request
                        .headers()
                        .get(&REQUEST_ID)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("");
                    tracing::info_span!(
                        "request",
                        request_id = %id,
                        method = %request.method(),
                        path = %request.uri().path(),
                    )
                })
                .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .with_state(state)
}

async fn readyz(State(state): State<AppState>) -> Response {
    if *state.inner.shutting_down.borrow() {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down").into_response();
    }
    // A database that hangs rather than refuses is as unready as one that is gone; health
    // checkers give up after a second or two.
    match tokio::time::timeout(Duration::from_secs(2), state.inner.registry.ping()).await {
        Ok(Ok(())) => (StatusCode::OK, "ready").into_response(),
        Ok(Err(err)) => {
            tracing::warn!(error = %err, "database unavailable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response()
        }
        Err(_) => {
            tracing::warn!("the database did not answer within 2 s");
            (StatusCode::SERVICE_UNAVAILABLE, "database not answering").into_response()
        }
    }
}

/// `GET /metrics` on the main address: for VIEWER keys and up (what it counts, such as
/// operation names and the change log's lag, is not the public's business).
async fn metrics(State(state): State<AppState>, client: client::Client) -> Response {
    if let Some(refused) = client.refusal_below(entity::Role::Viewer) {
        return refused;
    }
    render_metrics(&state).await
}

/// `GET /metrics` on the metrics address, which only the operator's network reaches.
pub async fn open_metrics(State(state): State<AppState>) -> Response {
    render_metrics(&state).await
}

/// The metrics router, for the separate metrics address.
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(open_metrics))
        .with_state(state)
}

async fn render_metrics(state: &AppState) -> Response {
    let inner = &state.inner;
    inner
        .metrics
        .set_response_cache_bytes(inner.answers.bytes());
    // How far this server's change feed is behind the log, as of this scrape.
    match crate::changes::log::latest_seq(inner.registry.db()).await {
        Ok(head) => inner
            .metrics
            .set_change_log_lag(head - inner.tail.position()),
        Err(err) => tracing::warn!(error = %err, "cannot read the change log's head"),
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        inner.metrics.render(),
    )
        .into_response()
}
