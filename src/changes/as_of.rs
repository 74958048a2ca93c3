//! The registry as it stood at a past instant, rebuilt from the change log: the latest event of
//! each entity up to that instant holds its state then. The database does the grouping, so the
//! memory used is proportional to the answer, not to the length of the log.

use crate::registry::rules::{effective_role, is_subprocessing};
use crate::registry::snapshot::part;
use crate::registry::{RecipientSnapshot, Registry, RegistryError, Result};
use chrono::{DateTime, Utc};
use entity::{ChangeKind, EntityType, OrganizationRole, RecipientRole, change_event, recipient};
use futures_util::TryStreamExt;
use sea_orm::sea_query::Expr;
use sea_orm::sea_query::Query;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection, EntityTrait,
    FromQueryResult, QueryFilter, QuerySelect,
};
use std::collections::{HashMap, HashSet};

/// The latest state of one entity, as its event row holds it.
#[derive(Debug, FromQueryResult)]
pub struct LatestState {
    pub entity_type: EntityType,
    pub entity_id: i32,
    /// When the entity last changed (up to the instant asked for).
    pub occurred_at: DateTime<Utc>,
    pub recipient_id: Option<i32>,
    pub activity_id: Option<i32>,
    /// The entity's snapshot, as JSON text (parsed by the caller into its own type).
    pub snapshot: String,
}

/// Calls `each` with the latest state up to `at` of every entity of the given types that still
/// existed then, on a blocking thread of its own so that reading the log and handling its rows
/// overlap. Rows are streamed in batches, so memory follows what `each` keeps, not the log's
/// length. Returns what `each` built.
pub async fn for_each_latest<T: Send + 'static>(
    db: &DatabaseConnection,
    at: DateTime<Utc>,
    entity_types: &[EntityType],
    state: T,
    each: impl Fn(&mut T, LatestState) + Send + 'static,
) -> Result<T> {
    crate::registry::validate::instant("asOf", at)?;
    const BATCH: usize = 2048;
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<Vec<LatestState>>(4);
    let worker = tokio::task::spawn_blocking(move || {
        let mut state = state;
        while let Some(batch) = receiver.blocking_recv() {
            for row in batch {
                each(&mut state, row);
            }
        }
        state
    });
    let latest = Query::select()
        .expr(change_event::Column::Seq.max())
        .from(change_event::Entity)
        .and_where(change_event::Column::OccurredAt.lte(at))
        .and_where(change_event::Column::EntityType.is_in(entity_types.iter().copied()))
        .group_by_col(change_event::Column::EntityType)
        .group_by_col(change_event::Column::EntityId)
        .to_owned();
    // JSON travels as text: PostgreSQL casts its jsonb, SQLite stores text already.
    let snapshot = match db.get_database_backend() {
        DatabaseBackend::Postgres => Expr::cust("\"snapshot\"::text"),
        _ => Expr::col(change_event::Column::Snapshot),
    };
    let mut rows = change_event::Entity::find()
        .select_only()
        .column(change_event::Column::EntityType)
        .column(change_event::Column::EntityId)
        .column(change_event::Column::OccurredAt)
        .column(change_event::Column::RecipientId)
        .column(change_event::Column::ActivityId)
        .column_as(snapshot, "snapshot")
        .filter(change_event::Column::Seq.in_subquery(latest))
        .filter(change_event::Column::Kind.is_not_in([
            ChangeKind::RecipientDeleted,
            ChangeKind::FlowDeleted,
            ChangeKind::ActivityDeleted,
        ]))
        .into_model::<LatestState>()
        .stream(db)
        .await?;
    let mut batch = Vec::with_capacity(BATCH);
    while let Some(row) = rows.try_next().await? {
        batch.push(row);
        if batch.len() == BATCH {
            let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
            if sender.send(full).await.is_err() {
                break;
            }
        }
    }
    if !batch.is_empty() {
        let _ = sender.send(batch).await;
    }
    drop(sender);
    worker.await.map_err(|e| {
        RegistryError::Database(sea_orm::DbErr::Custom(format!(
            "reading the log stopped: {e}"
        )))
    })
}

/// When each recipient first appeared in the log.
async fn first_seen(
    conn: &impl ConnectionTrait,
    ids: &[i32],
) -> Result<HashMap<i32, DateTime<Utc>>> {
    let rows = change_event::Entity::find()
        .filter(change_event::Column::EntityType.eq(EntityType::Recipient))
        .filter(change_event::Column::EntityId.is_in(ids.iter().copied()))
        .filter(change_event::Column::Kind.eq(ChangeKind::RecipientCreated))
        .all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|e| (e.entity_id, e.occurred_at))
        .collect())
}

/// What the subprocessor list needs of the log: recipients in full, the rest as a few ids.
#[derive(Default)]
struct ListState {
    recipients: HashMap<i32, (RecipientSnapshot, DateTime<Utc>)>,
    activity_roles: HashMap<i32, OrganizationRole>,
    /// Each flow's recipient, activity and own role (`None`: the recipient's default role).
    flows: Vec<(i32, i32, Option<RecipientRole>)>,
}

/// The public subprocessor list at `at`, or today's when `at` is `None`, each recipient with its
/// processing locations. Today's is read from the registry (one indexed query, whatever the
/// number of flows); a past one is rebuilt from the change log ([`subprocessors`]).
pub async fn subprocessor_list(
    registry: &Registry,
    at: Option<DateTime<Utc>>,
) -> Result<Vec<(recipient::Model, Vec<String>)>> {
    if let Some(at) = at {
        return subprocessors(registry, at).await;
    }
    // Every customer loads it: read once per generation of the registry.
    struct CurrentList;
    registry
        .kept::<CurrentList, _, _, _>((), || async {
            let list = registry.subprocessors().await?;
            let ids: Vec<i32> = list.iter().map(|r| r.id).collect();
            let mut locations = registry.recipient_locations(&ids).await?;
            Ok(list
                .into_iter()
                .map(|r| {
                    let at = locations.remove(&r.id).unwrap_or_default();
                    (r, at)
                })
                .collect())
        })
        .await
}

/// The public subprocessor list as it stood at `at`: public recipients, announced or active,
/// acting as processor in a flow of an activity the organization performed as processor.
/// Each with its processing locations at that instant. The log is streamed, so memory follows
/// the registry's recipients and flows, not the log's length.
pub async fn subprocessors(
    registry: &Registry,
    at: DateTime<Utc>,
) -> Result<Vec<(recipient::Model, Vec<String>)>> {
    let db = registry.pool().ok_or_else(|| {
        RegistryError::Conflict("the past list cannot be read inside a batch of writes".into())
    })?;
    let ListState {
        mut recipients,
        activity_roles,
        flows,
    } = for_each_latest(
        db,
        at,
        &[
            EntityType::Recipient,
            EntityType::DataFlow,
            EntityType::ProcessingActivity,
        ],
        ListState::default(),
        |state, row| match row.entity_type {
            EntityType::Recipient => {
                if let Ok(snapshot) = serde_json::from_str::<RecipientSnapshot>(&row.snapshot) {
                    state
                        .recipients
                        .insert(row.entity_id, (snapshot, row.occurred_at));
                }
            }
            EntityType::ProcessingActivity => {
                if let Ok(activity) = serde_json::from_str::<part::ActivityRole>(&row.snapshot) {
                    state
                        .activity_roles
                        .insert(row.entity_id, activity.organization_role);
                }
            }
            EntityType::DataFlow => {
                if let (Some(recipient_id), Some(activity_id), Ok(flow)) = (
                    row.recipient_id,
                    row.activity_id,
                    serde_json::from_str::<part::FlowRole>(&row.snapshot),
                ) {
                    state.flows.push((recipient_id, activity_id, flow.role));
                }
            }
        },
    )
    .await?;
    let mut subprocessors = HashSet::new();
    for (recipient_id, activity_id, role) in flows {
        let (Some((recipient, _)), Some(organization_role)) = (
            recipients.get(&recipient_id),
            activity_roles.get(&activity_id),
        ) else {
            continue;
        };
        if is_subprocessing(
            *organization_role,
            effective_role(role, recipient.default_role),
        ) {
            subprocessors.insert(recipient_id);
        }
    }
    let ids: Vec<i32> = subprocessors.into_iter().collect();
    let created = first_seen(db, &ids).await?;
    let mut list: Vec<(recipient::Model, Vec<String>)> = ids
        .into_iter()
        .filter_map(|id| {
            let (snapshot, updated_at) = recipients.remove(&id)?;
            snapshot.on_public_list().then(|| {
                let created_at = created.get(&id).copied().unwrap_or(updated_at);
                // In the registry's order (by country code), as today's list reads them.
                let mut locations = snapshot.processing_locations.clone();
                locations.sort();
                (snapshot.into_model(id, created_at, updated_at), locations)
            })
        })
        .collect();
    list.sort_by(|(a, _), (b, _)| a.legal_name.cmp(&b.legal_name).then(a.id.cmp(&b.id)));
    Ok(list)
}
