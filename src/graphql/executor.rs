//! The schema as the server runs it: every operation, over HTTP or WebSocket, first has its
//! document checked against the limits (before async-graphql walks it), then is executed and
//! counted in the metrics under its own name. Done around the schema rather than as schema
//! extensions, which would sit in the path of every field of every subscription event.

use super::limits::check_document;
use super::{Limits, SubregSchema};
use crate::metrics::Metrics;
use async_graphql::parser::types::DocumentOperations;
use async_graphql::{Data, Executor, Request, Response};
use futures_util::stream::{self, BoxStream, StreamExt};
use std::sync::Arc;
use std::time::Instant;

#[derive(Clone)]
pub struct GuardedSchema {
    schema: SubregSchema,
    limits: Limits,
    metrics: Metrics,
}

impl GuardedSchema {
    pub fn new(schema: SubregSchema, limits: &Limits, metrics: Metrics) -> Self {
        Self {
            limits: limits.clone(),
            schema,
            metrics,
        }
    }
}

/// The operation's name: the one asked for, or the document's only operation's.
pub fn operation_name(request: &mut Request) -> Option<String> {
    if let Some(name) = &request.operation_name {
        return Some(name.clone());
    }
    match &request.parsed_query().ok()?.operations {
        DocumentOperations::Single(_) => None,
        DocumentOperations::Multiple(operations) if operations.len() == 1 => {
            operations.keys().next().map(|name| name.to_string())
        }
        DocumentOperations::Multiple(_) => None,
    }
}

/// A response refused before execution (parse, validation, limits): errors without a path.
pub fn is_request_error(response: &Response) -> bool {
    response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty())
}

impl GuardedSchema {
    /// The first answer of a subscription's stream: one event rendered for the subscriptions
    /// that share its selection. Its document passed the limits when they subscribed; it is
    /// no operation of its own, so it is not counted.
    pub async fn render_one(&self, request: Request) -> Response {
        self.schema
            .execute_stream(request)
            .next()
            .await
            .unwrap_or_else(|| Response::new(async_graphql::Value::Null))
    }
}

impl Executor for GuardedSchema {
    async fn execute(&self, mut request: Request) -> Response {
        let started = Instant::now();
        if let Err(refusal) = check_document(&mut request, &self.limits) {
            self.metrics.observe_request(
                request.operation_name.as_deref(),
                "rejected",
                started.elapsed(),
            );
            return Response::from_errors(vec![refusal]);
        }
        let name = operation_name(&mut request);
        let response = self.schema.execute(request).await;
        let outcome = if is_request_error(&response) {
            "rejected"
        } else if response.errors.is_empty() {
            "ok"
        } else {
            "error"
        };
        self.metrics
            .observe_request(name.as_deref(), outcome, started.elapsed());
        response
    }

    fn execute_stream(
        &self,
        mut request: Request,
        session_data: Option<Arc<Data>>,
    ) -> BoxStream<'static, Response> {
        let started = Instant::now();
        if let Err(refusal) = check_document(&mut request, &self.limits) {
            self.metrics.observe_request(
                request.operation_name.as_deref(),
                "rejected",
                started.elapsed(),
            );
            return stream::once(async move { Response::from_errors(vec![refusal]) }).boxed();
        }
        // A subscription counts once, when it starts; its events are not operations.
        let name = operation_name(&mut request);
        self.metrics
            .observe_request(name.as_deref(), "ok", started.elapsed());
        self.schema
            .execute_stream_with_session_data(request, session_data.unwrap_or_default())
            .boxed()
    }
}
