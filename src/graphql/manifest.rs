//! The registry as code over GraphQL, for editors: `planRegistry` shows what a manifest would
//! change, `applyRegistry` applies it. The resolvers only translate; the work is
//! [`crate::manifest`]'s, through the registry layer.

use super::auth::EDITOR;
use super::changes::{ChangeKind, FieldChange};
use super::enums::RecipientStatus;
use super::error::ApiResult;
use crate::manifest::{self, Options, Plan};
use crate::registry::{Actor, Registry};
use async_graphql::types::Json;
use async_graphql::{Context, Enum, Object, SimpleObject};
use chrono::{DateTime, Utc};

/// What happens to an entry of the registry.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum ManifestAction {
    /// The manifest adds it.
    Added,
    /// The manifest changes some of its fields.
    Changed,
    /// The manifest leaves it out and `prune` removes it.
    Removed,
}

/// One field of an entry, before and after.
#[derive(SimpleObject)]
pub struct ManifestField {
    /// The field, as the manifest names it (`processing_locations`).
    field: String,
    /// Its value before (null: not set).
    before: Json<serde_json::Value>,
    /// Its value after (null: not set).
    after: Json<serde_json::Value>,
}

/// One entry added, changed or removed.
#[derive(SimpleObject)]
pub struct ManifestChange {
    /// The manifest's section: `recipients`, `processing_activities`, `data_flows`...
    section: String,
    /// The entry's key; for a data flow, its activity, recipient (and intermediary, exporter
    /// and role where set).
    key: String,
    /// Added, changed or removed.
    action: ManifestAction,
    /// The fields that differ.
    fields: Vec<ManifestField>,
}

/// A status the manifest asks for that the notice period holds back (GDPR Art. 28(2)).
#[derive(SimpleObject)]
pub struct HeldStatus {
    /// The recipient's key.
    key: String,
    /// The status the manifest asks for.
    requested: RecipientStatus,
    /// The status the recipient has once applied.
    status: RecipientStatus,
    /// Why it is held.
    reason: String,
    /// The earliest effective date an announcement now would give.
    effective_at: Option<DateTime<Utc>>,
}

/// An entry the manifest leaves out, kept because `prune` was not asked for.
#[derive(SimpleObject)]
pub struct IgnoredEntry {
    /// The manifest's section.
    section: String,
    /// The entry's key.
    key: String,
}

/// A public recipient that would join the subprocessor list.
#[derive(SimpleObject)]
pub struct JoiningSubprocessor {
    /// The recipient's key.
    key: String,
    /// Its legal name.
    legal_name: String,
    /// ANNOUNCED when this apply announces it, PROPOSED while it waits for an announcement.
    status: RecipientStatus,
    /// Its effective date: set by this apply's announcement, or the earliest one an
    /// announcement now would give (the end of the notice period).
    effective_at: DateTime<Utc>,
}

/// A change customers would be told of, as they see it on the public feed.
#[derive(SimpleObject)]
pub struct PlannedPublicChange {
    /// The kind of change.
    kind: ChangeKind,
    /// The recipient concerned, by key.
    recipient: String,
    /// The fields customers see change.
    changes: Vec<FieldChange>,
    /// For an announcement, when the recipient starts.
    effective_at: Option<DateTime<Utc>>,
}

/// The notices one subscriber would be sent.
#[derive(SimpleObject)]
pub struct PlannedNotices {
    /// EMAIL or WEBHOOK.
    channel: String,
    /// The customer (controller) the subscriber belongs to, when known.
    customer: Option<String>,
    /// The email address or the endpoint's URL.
    address: String,
    /// How many notices: one per public change it follows.
    notices: i32,
}

/// What applying a manifest changes, or changed, and what it means for customers.
#[derive(SimpleObject)]
pub struct RegistryPlan {
    /// Whether applying changes anything.
    has_changes: bool,
    /// Whether the changes were committed (applyRegistry) or not (planRegistry).
    applied: bool,
    /// Each entry added, changed or removed, field by field.
    changes: Vec<ManifestChange>,
    /// Status changes the notice period holds back.
    held: Vec<HeldStatus>,
    /// Entries the manifest leaves out, kept without `prune`.
    ignored: Vec<IgnoredEntry>,
    /// Public recipients that would join the subprocessor list.
    joining: Vec<JoiningSubprocessor>,
    /// The changes customers would be told of.
    public_changes: Vec<PlannedPublicChange>,
    /// The notices that would be sent, per subscriber.
    notices: Vec<PlannedNotices>,
}

fn json(value: Option<serde_json::Value>) -> Json<serde_json::Value> {
    Json(value.unwrap_or(serde_json::Value::Null))
}

impl From<Plan> for RegistryPlan {
    fn from(plan: Plan) -> Self {
        let has_changes = plan.has_changes();
        let Plan {
            changes,
            held,
            ignored,
            joining,
            public_changes,
            notices,
            applied,
        } = plan;
        Self {
            has_changes,
            applied,
            changes: changes
                .into_iter()
                .map(|c| ManifestChange {
                    section: c.section.to_owned(),
                    key: c.key,
                    action: match c.action {
                        manifest::report::Action::Added => ManifestAction::Added,
                        manifest::report::Action::Changed => ManifestAction::Changed,
                        manifest::report::Action::Removed => ManifestAction::Removed,
                    },
                    fields: c
                        .fields
                        .into_iter()
                        .map(|f| ManifestField {
                            field: f.field,
                            before: json(f.before),
                            after: json(f.after),
                        })
                        .collect(),
                })
                .collect(),
            held: held
                .into_iter()
                .map(|h| HeldStatus {
                    key: h.key,
                    requested: h.requested.into(),
                    status: h.status.into(),
                    reason: h.reason,
                    effective_at: h.effective_at,
                })
                .collect(),
            ignored: ignored
                .into_iter()
                .map(|i| IgnoredEntry {
                    section: i.section.to_owned(),
                    key: i.key,
                })
                .collect(),
            joining: joining
                .into_iter()
                .map(|j| JoiningSubprocessor {
                    key: j.key,
                    legal_name: j.legal_name,
                    status: j.status.into(),
                    effective_at: j.effective_at,
                })
                .collect(),
            public_changes: public_changes
                .into_iter()
                .map(|c| PlannedPublicChange {
                    kind: c.kind.into(),
                    recipient: c.recipient,
                    changes: FieldChange::list(&c.changes),
                    effective_at: c.effective_at,
                })
                .collect(),
            notices: notices
                .into_iter()
                .map(|n| PlannedNotices {
                    channel: match n.channel {
                        entity::NoticeChannel::Email => "EMAIL".into(),
                        entity::NoticeChannel::Webhook => "WEBHOOK".into(),
                    },
                    customer: n.customer,
                    address: n.address,
                    notices: i32::try_from(n.notices).unwrap_or(i32::MAX),
                })
                .collect(),
        }
    }
}

fn context<'a>(ctx: &'a Context<'_>) -> async_graphql::Result<(&'a Registry, &'a Actor)> {
    Ok((ctx.data::<Registry>()?, ctx.data::<Actor>()?))
}

/// The dry run, as a query.
#[derive(Default)]
pub struct ManifestQuery;

#[Object(guard = "EDITOR")]
impl ManifestQuery {
    /// What applying `manifest` (a registry file, in the format of `subreg export` and
    /// data/registry.yaml) would change, entry by entry and field by field, and what
    /// customers would be told; nothing is written. A file that does not read, or that the
    /// registry's rules refuse, is BAD_USER_INPUT with every problem in
    /// `extensions.problems` (line, entry, key, field, message).
    async fn plan_registry(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The registry file's text.")] manifest: String,
        #[graphql(
            desc = "Also remove what the manifest leaves out (otherwise listed as ignored).",
            default
        )]
        prune: bool,
        #[graphql(
            desc = "Announce the public recipients the manifest wants announced or active.",
            default
        )]
        announce: bool,
    ) -> async_graphql::Result<RegistryPlan> {
        // The plan names the notices' subscribers, which the answer cache's key does not cover.
        crate::graphql::CachePolicy::no_store(ctx);
        let (registry, actor) = context(ctx)?;
        let options = Options { prune, announce };
        let plan = manifest::run_text(registry, &manifest, options, actor, None, false)
            .await
            .api()?;
        Ok(plan.into())
    }
}

/// Applying, as a mutation.
#[derive(Default)]
pub struct ManifestMutation;

#[Object(guard = "EDITOR")]
impl ManifestMutation {
    /// Makes the registry match `manifest` (a registry file), in one transaction through the
    /// registry's rules: the change events and notices of the same edits made one by one, the
    /// caller named as their actor. A new public subprocessor becomes PROPOSED (ANNOUNCED with
    /// `announce`, effective after the notice period), never ACTIVE at once; what the manifest
    /// leaves out is removed only with `prune`. Applying the same manifest again changes
    /// nothing. A refused manifest changes nothing (BAD_USER_INPUT, every problem in
    /// `extensions.problems`).
    async fn apply_registry(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The registry file's text.")] manifest: String,
        #[graphql(desc = "Why, for the change log.")] reason: String,
        #[graphql(desc = "Also remove what the manifest leaves out.", default)] prune: bool,
        #[graphql(
            desc = "Announce the public recipients the manifest wants announced or active.",
            default
        )]
        announce: bool,
    ) -> async_graphql::Result<RegistryPlan> {
        let (registry, actor) = context(ctx)?;
        let options = Options { prune, announce };
        let plan = manifest::run_text(registry, &manifest, options, actor, Some(&reason), true)
            .await
            .api()?;
        Ok(plan.into())
    }
}
