//! What a notice says, and the templates it is said with. Every channel renders an event from
//! what the public sees of it ([`ChangeEvent::public_view`]) and positions it by
//! [`ChangeEvent::cursor`]; the templates are built in, and an operator may replace any of
//! them with a file of the same name in `--templates-dir` (read at each rendering, so a
//! replaced file takes effect at once).

use crate::changes::ChangeEvent;
use chrono::{DateTime, Utc};
use entity::ChangeKind;
use serde::Serialize;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::Arc;

/// The built-in templates, by name.
const BUILT_IN: &[(&str, &str)] = &[
    ("base.html", include_str!("../../templates/base.html")),
    (
        "subprocessors.html",
        include_str!("../../templates/subprocessors.html"),
    ),
    (
        "subscribe.html",
        include_str!("../../templates/subscribe.html"),
    ),
    ("message.html", include_str!("../../templates/message.html")),
    ("notice.txt", include_str!("../../templates/notice.txt")),
    (
        "confirmation.txt",
        include_str!("../../templates/confirmation.txt"),
    ),
    (
        "endpoint_disabled.txt",
        include_str!("../../templates/endpoint_disabled.txt"),
    ),
];

/// The templates: the built-in ones, each replaced by the operator's file of the same name.
/// Without an operator's directory they are compiled once; with one, at each rendering, so
/// that a replaced file takes effect at once.
#[derive(Clone, Debug)]
pub struct Templates {
    dir: Option<PathBuf>,
    built_in: std::sync::Arc<minijinja::Environment<'static>>,
}

impl Default for Templates {
    fn default() -> Self {
        Self::new("")
    }
}

/// An environment whose loader reads `dir` first, then the built-in templates.
fn environment(dir: Option<PathBuf>) -> minijinja::Environment<'static> {
    let mut env = minijinja::Environment::new();
    env.set_loader(move |name| {
        if let Some(dir) = &dir
            && !name.contains(['/', '\\'])
            && let Ok(text) = std::fs::read_to_string(dir.join(name))
        {
            return Ok(Some(text));
        }
        Ok(BUILT_IN
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, text)| (*text).to_owned()))
    });
    env.add_filter("date", |at: String| {
        DateTime::parse_from_rfc3339(&at)
            .map(|at| at.with_timezone(&Utc).format("%-d %B %Y").to_string())
            .unwrap_or(at)
    });
    env
}

impl Templates {
    /// Templates with the operator's overrides in `dir` (none when empty).
    pub fn new(dir: &str) -> Self {
        Self {
            dir: (!dir.is_empty()).then(|| PathBuf::from(dir)),
            built_in: std::sync::Arc::new(environment(None)),
        }
    }

    /// Which version of the operator's templates a rendering uses: the latest modification
    /// time among the files of the templates directory (empty with none), so that a page kept
    /// as rendered is rendered again once a template file is replaced.
    pub fn revision(&self) -> String {
        let Some(dir) = &self.dir else {
            return String::new();
        };
        let latest = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .filter_map(|entry| entry.ok()?.metadata().ok()?.modified().ok())
            .max();
        format!("{latest:?}")
    }

    /// Renders template `name` with `context`.
    pub fn render(&self, name: &str, context: impl Serialize) -> Result<String, minijinja::Error> {
        let context = minijinja::value::Serde(context);
        match &self.dir {
            Some(dir) => environment(Some(dir.clone()))
                .get_template(name)?
                .render(context),
            None => self.built_in.get_template(name)?.render(context),
        }
    }
}

/// An event as a notice tells it: what a customer sees of it.
#[derive(Clone, Debug, Serialize)]
pub struct EventNotice {
    /// The event's cursor: its id in every channel.
    pub cursor: String,
    pub kind: ChangeKind,
    /// One line saying what happened.
    pub headline: String,
    /// The recipient's legal name (or, for a flow, its key).
    pub name: String,
    /// The recipient's key, to link to its entry and objection form.
    pub recipient_key: Option<String>,
    pub products: Vec<String>,
    pub locations: Vec<String>,
    pub occurred_at: DateTime<Utc>,
    pub effective_at: Option<DateTime<Utc>>,
    pub objection_deadline: Option<DateTime<Utc>>,
    pub reason: Option<String>,
    /// What changed, as `field: before → after` lines.
    pub changes: Vec<String>,
}

/// What the kind of change is called in a notice.
fn what(kind: ChangeKind) -> &'static str {
    use ChangeKind::*;
    match kind {
        RecipientAnnounced => "New subprocessor announced",
        RecipientActivated => "Subprocessor now active",
        RecipientRetired => "Subprocessor retired",
        RecipientCreated => "Subprocessor added",
        RecipientUpdated => "Subprocessor details changed",
        RecipientDeleted => "Subprocessor removed",
        FlowCreated => "Data sent to a subprocessor",
        FlowUpdated => "Data sent to a subprocessor changed",
        FlowDeleted => "Data no longer sent to a subprocessor",
        ActivityCreated | ActivityUpdated | ActivityDeleted => "Processing changed",
    }
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

impl EventNotice {
    /// The notice of `event`, from its public view only.
    pub fn of(event: &ChangeEvent) -> Self {
        let shown = event.public_view();
        let snapshot = &shown.snapshot;
        let recipient_key = snapshot["key"]
            .as_str()
            .or(snapshot["recipient"].as_str())
            .map(str::to_owned);
        let name = snapshot["legalName"]
            .as_str()
            .map(str::to_owned)
            .or_else(|| recipient_key.clone())
            .unwrap_or_default();
        let locations = match snapshot.get("processingLocations") {
            Some(list) => strings(list),
            None => strings(&snapshot["countries"]),
        };
        let changes = shown
            .changes
            .0
            .iter()
            .map(|(field, change)| format!("{field}: {} → {}", change.before, change.after))
            .collect();
        Self {
            cursor: event.cursor(),
            kind: event.kind,
            headline: format!("{}: {name}", what(event.kind)),
            name,
            recipient_key,
            products: event.products.clone(),
            locations,
            occurred_at: event.occurred_at,
            effective_at: event.effective_at,
            objection_deadline: (event.kind == ChangeKind::RecipientAnnounced)
                .then_some(event.effective_at)
                .flatten(),
            reason: event.reason.clone(),
            changes,
        }
    }
}

/// The webhook payload of `event` (Standard Webhooks: `type`, `timestamp`, `data`), whose
/// `data` holds the fields of the GraphQL `SubprocessorChange`, as a caller without a key sees
/// them. `global_id` names a recipient or flow as the API does.
pub fn webhook_payload(event: &ChangeEvent, global_id: impl Fn(&str, i32) -> String) -> Value {
    let shown = event.public_view();
    let kind = serde_json::to_value(event.kind).unwrap_or(Value::Null);
    let changes: Vec<Value> = shown
        .changes
        .0
        .iter()
        .map(|(field, c)| json!({ "field": field, "before": c.before, "after": c.after }))
        .collect();
    let notice = EventNotice::of(event);
    json!({
        "type": format!("subprocessor.{}", kind.as_str().unwrap_or("change").to_lowercase()),
        "timestamp": event.occurred_at,
        "data": {
            "cursor": notice.cursor,
            "kind": kind,
            "occurredAt": event.occurred_at,
            "reason": event.reason,
            "recipientId": event.recipient_id.map(|id| global_id("Recipient", id)),
            "dataFlowId": event.flow_id.map(|id| global_id("DataFlow", id)),
            "recipientKind": event.recipient_kind,
            "changes": changes,
            "snapshot": shown.snapshot,
            "products": event.products,
            "announcedAt": event.announced_at,
            "effectiveAt": event.effective_at,
            "objectionDeadline": notice.objection_deadline,
            "processingLocations": event.processing_locations(),
        }
    })
}

/// The latest `limit` public changes as notices, newest first, read from the end of the log:
/// the cost follows `limit`, not the log's length.
pub async fn latest_public(
    registry: &crate::registry::Registry,
    limit: usize,
) -> crate::registry::Result<Arc<Vec<EventNotice>>> {
    // The public page and the feed show them to everyone: read once per generation.
    struct LatestPublic;
    registry
        .kept::<LatestPublic, _, _, _>(limit, || async {
            Ok(public_window(registry, limit).await?.notices.clone())
        })
        .await
}

/// The latest public changes up to a public position of the log.
#[derive(Clone, Debug, Default)]
struct PublicWindow {
    /// The newest one's public position (0 before the first).
    head: i64,
    /// Newest first, at most the window's length.
    notices: Arc<Vec<EventNotice>>,
}

/// The latest `limit` public changes, brought up to date after a write rather than read again:
/// the log only grows and an appended event never changes, so only the public events appended
/// since the last window are read (none after a write customers do not see), and added to it.
async fn public_window(
    registry: &crate::registry::Registry,
    limit: usize,
) -> crate::registry::Result<PublicWindow> {
    struct Window;
    registry
        .kept_and_updated::<Window, _, _, _>(limit, |last: Option<PublicWindow>| async move {
            let last = last.unwrap_or_default();
            let after = (last.head > 0).then_some(last.head);
            let newer =
                crate::changes::log::read_latest_public(registry.db(), limit as u64, after).await?;
            let Some(head) = newer.first().and_then(|e| e.public_seq) else {
                return Ok(last);
            };
            let notices: Vec<EventNotice> = newer
                .iter()
                .map(EventNotice::of)
                .chain(last.notices.iter().cloned())
                .take(limit)
                .collect();
            Ok(PublicWindow {
                head,
                notices: Arc::new(notices),
            })
        })
        .await
}
