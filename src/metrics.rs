//! Prometheus metrics, kept in a registry per server (no global state, so that several servers
//! in one process, as in the tests, count apart).

use prometheus::{
    Encoder, Histogram, HistogramOpts, IntCounter, IntCounterVec, Opts, Registry, TextEncoder,
};
use std::time::Duration;

#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    statements: IntCounter,
    statement_errors: IntCounter,
    statement_seconds: Histogram,
    requests: IntCounterVec,
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let statements = IntCounter::new("subreg_db_statements_total", "SQL statements executed")
            .expect("valid metric");
        let statement_errors = IntCounter::new(
            "subreg_db_statement_errors_total",
            "SQL statements that failed",
        )
        .expect("valid metric");
        let statement_seconds = Histogram::with_opts(HistogramOpts::new(
            "subreg_db_statement_duration_seconds",
            "Time spent executing SQL statements",
        ))
        .expect("valid metric");
        let requests = IntCounterVec::new(
            Opts::new(
                "subreg_graphql_requests_total",
                "GraphQL requests by outcome",
            ),
            &["outcome"],
        )
        .expect("valid metric");
        for collector in [
            Box::new(statements.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(statement_errors.clone()),
            Box::new(statement_seconds.clone()),
            Box::new(requests.clone()),
        ] {
            registry.register(collector).expect("unique metric");
        }
        Self {
            registry,
            statements,
            statement_errors,
            statement_seconds,
            requests,
        }
    }

    pub fn observe_statement(&self, elapsed: Duration, failed: bool) {
        self.statements.inc();
        if failed {
            self.statement_errors.inc();
        }
        self.statement_seconds.observe(elapsed.as_secs_f64());
    }

    /// Counts a GraphQL request: `ok`, `error` (the response carries errors) or `rejected`
    /// (refused before execution).
    pub fn observe_request(&self, outcome: &str) {
        self.requests.with_label_values(&[outcome]).inc();
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
