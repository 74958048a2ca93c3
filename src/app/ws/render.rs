//! Rendering subscription events once for everyone who subscribed to the same thing.
//!
//! What a subscription sends for an event depends on the event, the subscription's selection
//! (its document and operation, and the variables the selection reads, in its arguments and
//! directives) and its caller's audience (`Caller::audience`). It does not depend on where the
//! subscription resumes (`after`) or on which events it asks for (`filter`): those pick the
//! events, not how each is shown. So the server renders an event once per distinct selection and
//! audience, and every subscription that shares them sends the same bytes.

use crate::changes::ChangeEvent;
use crate::graphql::auth::Audience;
use crate::graphql::auth::Caller;
use crate::graphql::executor::GuardedSchema;
use crate::graphql::{RenderEvent, loaders};
use crate::metrics::Metrics;
use crate::registry::Registry;
use async_graphql::parser::types::{
    Directive, DocumentOperations, ExecutableDocument, Selection, SelectionSet,
};
use async_graphql::{Name, Positioned, Request, Variables};
use async_graphql_value::Value;
use axum::body::Bytes;
use lru::LruCache;
use std::collections::HashSet;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use tokio::sync::OnceCell;

/// Renderings kept: enough for the recent events of every selection in use.
const KEPT: usize = 4096;

/// What a rendering of an event depends on besides the event.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RenderKey {
    audience: Audience,
    query: Arc<str>,
    operation_name: Option<String>,
    /// The variables the selection reads, as JSON text.
    variables: String,
}

/// A subscription's selection, ready to render events with.
#[derive(Clone)]
pub struct Template {
    key: Arc<RenderKey>,
    request_variables: Variables,
    caller: Caller,
}

impl Template {
    /// The selection of `request`, whose document has parsed, for `caller`.
    pub fn of(request: &mut Request, caller: &Caller) -> Option<Self> {
        let operation_name = request.operation_name.clone();
        let variables = request.variables.clone();
        let document = request.parsed_query().ok()?;
        let read = variables_read(document, operation_name.as_deref());
        let shown: serde_json::Map<String, serde_json::Value> = variables
            .iter()
            .filter(|(name, _)| read.contains(name.as_str()))
            .map(|(name, value)| {
                (
                    name.to_string(),
                    value.clone().into_json().unwrap_or_default(),
                )
            })
            .collect();
        Some(Self {
            key: Arc::new(RenderKey {
                audience: caller.audience(),
                query: request.query.as_str().into(),
                operation_name,
                variables: serde_json::Value::Object(shown).to_string(),
            }),
            request_variables: variables,
            caller: caller.clone(),
        })
    }
}

/// An event's payload for one selection: rendered by the first to ask, awaited by the others.
type Rendering = Arc<OnceCell<Bytes>>;

/// The payloads rendered, by selection and event.
pub struct Renderer {
    schema: GuardedSchema,
    registry: Registry,
    metrics: Metrics,
    kept: Mutex<LruCache<(Arc<RenderKey>, i64), Rendering>>,
}

impl Renderer {
    pub fn new(schema: GuardedSchema, registry: Registry, metrics: Metrics) -> Self {
        Self {
            schema,
            registry,
            metrics,
            kept: Mutex::new(LruCache::new(
                NonZeroUsize::new(KEPT).unwrap_or(NonZeroUsize::MIN),
            )),
        }
    }

    /// The payload (`{"data": ...}` or `{"data": null, "errors": [...]}`) `template` sends for
    /// `event`: rendered by the first subscription to ask, the same bytes for the others.
    pub async fn render(&self, template: &Template, event: Arc<ChangeEvent>) -> Bytes {
        let cell = {
            let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
            kept.get_or_insert((template.key.clone(), event.seq), || {
                Arc::new(OnceCell::new())
            })
            .clone()
        };
        cell.get_or_init(|| self.render_now(template, event))
            .await
            .clone()
    }

    async fn render_now(&self, template: &Template, event: Arc<ChangeEvent>) -> Bytes {
        self.metrics.observe_subscription_render();
        let mut request = Request::new(template.key.query.to_string())
            .variables(template.request_variables.clone());
        request.operation_name = template.key.operation_name.clone();
        // An event is rendered as it stands now: nothing read for an earlier one is reused.
        request
            .data
            .insert(loaders::streaming_loader(self.registry.clone()));
        request.data.insert(template.caller.actor());
        request.data.insert(template.caller.clone());
        request.data.insert(RenderEvent(event));
        let response = self.schema.render_one(request).await;
        serde_json::to_vec(&response).map_or_else(
            |err| {
                tracing::error!(error = %err, "cannot serialise a subscription event");
                Bytes::from_static(br#"{"data":null,"errors":[{"message":"internal error"}]}"#)
            },
            Bytes::from,
        )
    }
}

/// The variables the selection of the document's operation reads: all but those used only as
/// arguments of its root fields (`after`, `filter`), which choose the events, not how they show.
fn variables_read(document: &ExecutableDocument, operation: Option<&str>) -> HashSet<String> {
    let mut read = HashSet::new();
    let operation = match (&document.operations, operation) {
        (DocumentOperations::Single(op), _) => Some(op),
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(&Name::new(name)),
        (DocumentOperations::Multiple(ops), None) => ops.values().next(),
    };
    let Some(operation) = operation else {
        return read;
    };
    let mut walker = Walker {
        document,
        read: &mut read,
        visited: HashSet::new(),
    };
    walker.directives(&operation.node.directives);
    for selection in &operation.node.selection_set.node.items {
        match &selection.node {
            // A root field: its arguments choose the events; what it selects shows them.
            Selection::Field(field) => {
                walker.directives(&field.node.directives);
                walker.selection_set(&field.node.selection_set.node);
            }
            _ => walker.selection(&selection.node),
        }
    }
    read
}

struct Walker<'a> {
    document: &'a ExecutableDocument,
    read: &'a mut HashSet<String>,
    visited: HashSet<&'a str>,
}

impl<'a> Walker<'a> {
    fn selection_set(&mut self, set: &'a SelectionSet) {
        for selection in &set.items {
            self.selection(&selection.node);
        }
    }

    fn selection(&mut self, selection: &'a Selection) {
        match selection {
            Selection::Field(field) => {
                for (_, value) in &field.node.arguments {
                    self.value(&value.node);
                }
                self.directives(&field.node.directives);
                self.selection_set(&field.node.selection_set.node);
            }
            Selection::InlineFragment(fragment) => {
                self.directives(&fragment.node.directives);
                self.selection_set(&fragment.node.selection_set.node);
            }
            Selection::FragmentSpread(spread) => {
                self.directives(&spread.node.directives);
                let name = spread.node.fragment_name.node.as_str();
                if let Some((key, fragment)) = self.document.fragments.get_key_value(name)
                    && self.visited.insert(key.as_str())
                {
                    self.directives(&fragment.node.directives);
                    self.selection_set(&fragment.node.selection_set.node);
                }
            }
        }
    }

    fn directives(&mut self, directives: &'a [Positioned<Directive>]) {
        for directive in directives {
            for (_, value) in &directive.node.arguments {
                self.value(&value.node);
            }
        }
    }

    fn value(&mut self, value: &Value) {
        match value {
            Value::Variable(name) => {
                self.read.insert(name.to_string());
            }
            Value::List(items) => items.iter().for_each(|v| self.value(v)),
            Value::Object(fields) => fields.values().for_each(|v| self.value(v)),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::variables_read;
    use async_graphql::parser::parse_query;

    #[test]
    fn where_to_resume_and_what_to_follow_do_not_change_how_an_event_shows() {
        let document = parse_query(
            r#"subscription($after: String, $filter: ChangeFilterInput, $full: Boolean!) {
                subprocessorChanges(after: $after, filter: $filter) {
                    cursor kind ... @include(if: $full) { changes { field } } ...F }
            }
            fragment F on SubprocessorChange { snapshot @skip(if: $full) }"#,
        )
        .unwrap();
        let read = variables_read(&document, None);
        assert_eq!(read.len(), 1);
        assert!(read.contains("full"));
    }
}
