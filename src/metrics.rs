//! Prometheus metrics, kept in a registry per server (no global state, so that several servers
//! in one process, as in the tests, count apart).

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts,
    Registry, TextEncoder,
};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Distinct operation names kept as label values; later ones are counted as `other`, so a
/// client inventing names cannot grow the metrics without bound.
const MAX_OPERATION_LABELS: usize = 100;

#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    statements: IntCounter,
    statement_errors: IntCounter,
    statement_seconds: Histogram,
    requests: IntCounterVec,
    request_seconds: HistogramVec,
    rate_limited: IntCounterVec,
    open_subscriptions: IntGauge,
    websocket_connections: IntGauge,
    change_log_lag: IntGauge,
    response_cache_bytes: IntGauge,
    subscription_renders: IntCounter,
    operations: Arc<Mutex<HashSet<String>>>,
}

fn register<T: prometheus::core::Collector + Clone + 'static>(registry: &Registry, metric: T) -> T {
    registry
        .register(Box::new(metric.clone()))
        .expect("unique metric");
    metric
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let statements = register(
            &registry,
            IntCounter::new("subreg_db_statements_total", "SQL statements executed")
                .expect("valid metric"),
        );
        let statement_errors = register(
            &registry,
            IntCounter::new(
                "subreg_db_statement_errors_total",
                "SQL statements that failed",
            )
            .expect("valid metric"),
        );
        let statement_seconds = register(
            &registry,
            Histogram::with_opts(HistogramOpts::new(
                "subreg_db_statement_duration_seconds",
                "Time spent executing SQL statements",
            ))
            .expect("valid metric"),
        );
        let requests = register(
            &registry,
            IntCounterVec::new(
                Opts::new(
                    "subreg_graphql_requests_total",
                    "GraphQL operations by operation name and outcome (ok, error, rejected)",
                ),
                &["operation", "outcome"],
            )
            .expect("valid metric"),
        );
        let request_seconds = register(
            &registry,
            HistogramVec::new(
                HistogramOpts::new(
                    "subreg_graphql_request_duration_seconds",
                    "Time to answer a GraphQL operation, by operation name",
                )
                .buckets(vec![
                    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                ]),
                &["operation"],
            )
            .expect("valid metric"),
        );
        let rate_limited = register(
            &registry,
            IntCounterVec::new(
                Opts::new(
                    "subreg_rate_limited_requests_total",
                    "Requests refused with 429, by what was limited (key or address)",
                ),
                &["by"],
            )
            .expect("valid metric"),
        );
        let open_subscriptions = register(
            &registry,
            IntGauge::new(
                "subreg_open_subscriptions",
                "GraphQL subscriptions currently open",
            )
            .expect("valid metric"),
        );
        let websocket_connections = register(
            &registry,
            IntGauge::new(
                "subreg_websocket_connections",
                "WebSocket connections currently open",
            )
            .expect("valid metric"),
        );
        let change_log_lag = register(
            &registry,
            IntGauge::new(
                "subreg_change_log_lag_events",
                "Change-log events committed but not yet read by this server's change feed",
            )
            .expect("valid metric"),
        );
        let response_cache_bytes = register(
            &registry,
            IntGauge::new(
                "subreg_response_cache_bytes",
                "Memory held by the answers kept to serve repeated queries",
            )
            .expect("valid metric"),
        );
        let subscription_renders = register(
            &registry,
            IntCounter::new(
                "subreg_subscription_renders_total",
                "Subscription events rendered (once for all the subscriptions sharing a selection and an audience)",
            )
            .expect("valid metric"),
        );
        Self {
            registry,
            statements,
            statement_errors,
            statement_seconds,
            requests,
            request_seconds,
            rate_limited,
            open_subscriptions,
            websocket_connections,
            change_log_lag,
            response_cache_bytes,
            subscription_renders,
            operations: Arc::new(Mutex::new(HashSet::new())),
        }
    }

    pub fn observe_statement(&self, elapsed: Duration, failed: bool) {
        self.statements.inc();
        if failed {
            self.statement_errors.inc();
        }
        self.statement_seconds.observe(elapsed.as_secs_f64());
    }

    /// The label for a client-chosen operation name: the name itself while few are known.
    fn operation_label(&self, operation: Option<&str>) -> String {
        let Some(name) = operation.filter(|n| {
            !n.is_empty()
                && n.len() <= 64
                && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        }) else {
            return if operation.is_some() {
                "other"
            } else {
                "anonymous"
            }
            .into();
        };
        let mut known = self.operations.lock().unwrap_or_else(|e| e.into_inner());
        if known.contains(name) || known.len() < MAX_OPERATION_LABELS {
            known.insert(name.to_owned());
            name.to_owned()
        } else {
            "other".into()
        }
    }

    /// Counts a GraphQL operation: `ok`, `error` (the response carries errors), `rejected`
    /// (refused before execution) or `cached` (served from the answers kept), and how long it
    /// took.
    pub fn observe_request(&self, operation: Option<&str>, outcome: &str, elapsed: Duration) {
        let label = self.operation_label(operation);
        self.requests.with_label_values(&[&label, outcome]).inc();
        self.request_seconds
            .with_label_values(&[&label])
            .observe(elapsed.as_secs_f64());
    }

    /// Counts a request refused before it was read (malformed, unauthenticated...).
    pub fn observe_rejection(&self) {
        self.requests
            .with_label_values(&["unknown", "rejected"])
            .inc();
    }

    pub fn observe_rate_limited(&self, by: &str) {
        self.rate_limited.with_label_values(&[by]).inc();
    }

    pub fn subscription_opened(&self) {
        self.open_subscriptions.inc();
    }

    pub fn subscription_closed(&self) {
        self.open_subscriptions.dec();
    }

    pub fn websocket_opened(&self) {
        self.websocket_connections.inc();
    }

    pub fn websocket_closed(&self) {
        self.websocket_connections.dec();
    }

    pub fn observe_subscription_render(&self) {
        self.subscription_renders.inc();
    }

    pub fn set_response_cache_bytes(&self, bytes: usize) {
        self.response_cache_bytes
            .set(i64::try_from(bytes).unwrap_or(i64::MAX));
    }

    pub fn set_change_log_lag(&self, events: i64) {
        self.change_log_lag.set(events.max(0));
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        let encoder = TextEncoder::new();
        // Encoding into a Vec cannot fail for well-formed metrics.
        let _ = encoder.encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
