//! Counts and times every executed operation under its own name, over HTTP and WebSocket
//! alike (a subscription's initial execution included), and logs it in the request's span.

use crate::metrics::Metrics;
use async_graphql::Response;
use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextExecute};
use std::sync::Arc;
use std::time::Instant;

pub struct Observe;

impl ExtensionFactory for Observe {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ObserveExtension)
    }
}

struct ObserveExtension;

#[async_trait::async_trait]
impl Extension for ObserveExtension {
    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let started = Instant::now();
        let response = next.run(ctx, operation_name).await;
        let outcome = if response.errors.is_empty() {
            "ok"
        } else {
            "error"
        };
        if let Some(metrics) = ctx.data_opt::<Metrics>() {
            metrics.observe_request(operation_name, outcome, started.elapsed());
        }
        tracing::debug!(
            operation = operation_name.unwrap_or(""),
            outcome,
            elapsed_ms = started.elapsed().as_secs_f64() * 1e3,
            "executed a GraphQL operation"
        );
        response
    }
}
