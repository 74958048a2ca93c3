//! Processing activities: reads, and writes that append to the change log.

use super::changelog::{self, NewEvent};
use super::error::{RegistryError, Result};
use super::inputs::{ActivityInput, ActivityPatch};
use super::taxonomy::{resolve_categories, resolve_products, resolve_subjects};
use super::{Actor, Registry, linked, validate};
use chrono::Utc;
use entity::{
    ChangeKind, LegalBasis, OrganizationRole, TextList, activity_data_category,
    activity_data_subject, activity_product, data_category, data_flow, data_subject_category,
    flow_data_category, flow_data_subject, processing_activity, product,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, Set,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;

/// The taxonomy terms an activity links to, by key.
struct Links {
    categories: Vec<String>,
    subjects: Vec<String>,
    products: Vec<String>,
}

/// A processing activity as the change log records it: the state after each change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActivitySnapshot {
    pub key: String,
    pub name: String,
    pub description: Option<String>,
    pub organization_role: OrganizationRole,
    /// Art. 30(2)(a): the controllers (by category) on whose behalf the organization acts.
    #[serde(default)]
    pub controllers: Vec<String>,
    pub purposes: Vec<String>,
    pub legal_basis: Option<LegalBasis>,
    pub data_subjects: Vec<String>,
    pub data_categories: Vec<String>,
    pub products: Vec<String>,
    pub retention_period: Option<String>,
    pub retention_reason: Option<String>,
    pub security_measures: Vec<String>,
    pub special_category_condition: Option<String>,
    pub assumptions: Vec<String>,
    pub sources: Vec<String>,
}

fn snapshot(a: &processing_activity::Model, links: &Links) -> Value {
    let snapshot = ActivitySnapshot {
        key: a.key.clone(),
        name: a.name.clone(),
        description: a.description.clone(),
        organization_role: a.organization_role,
        controllers: a.controllers.0.clone(),
        purposes: a.purposes.0.clone(),
        legal_basis: a.legal_basis,
        data_subjects: links.subjects.clone(),
        data_categories: links.categories.clone(),
        products: links.products.clone(),
        retention_period: a.retention_period.clone(),
        retention_reason: a.retention_reason.clone(),
        security_measures: a.security_measures.0.clone(),
        special_category_condition: a.special_category_condition.clone(),
        assumptions: a.assumptions.0.clone(),
        sources: a.sources.0.clone(),
    };
    serde_json::to_value(snapshot).unwrap_or(Value::Null)
}

async fn links_of(conn: &impl ConnectionTrait, id: i32) -> Result<Links> {
    let category_ids: Vec<i32> = activity_data_category::Entity::find()
        .filter(activity_data_category::Column::ActivityId.eq(id))
        .all(conn)
        .await?
        .into_iter()
        .map(|l| l.data_category_id)
        .collect();
    let subject_ids: Vec<i32> = activity_data_subject::Entity::find()
        .filter(activity_data_subject::Column::ActivityId.eq(id))
        .all(conn)
        .await?
        .into_iter()
        .map(|l| l.data_subject_id)
        .collect();
    let product_ids: Vec<i32> = activity_product::Entity::find()
        .filter(activity_product::Column::ActivityId.eq(id))
        .all(conn)
        .await?
        .into_iter()
        .map(|l| l.product_id)
        .collect();
    Ok(Links {
        categories: data_category::Entity::find()
            .filter(data_category::Column::Id.is_in(category_ids))
            .order_by_asc(data_category::Column::Key)
            .all(conn)
            .await?
            .into_iter()
            .map(|c| c.key)
            .collect(),
        subjects: data_subject_category::Entity::find()
            .filter(data_subject_category::Column::Id.is_in(subject_ids))
            .order_by_asc(data_subject_category::Column::Key)
            .all(conn)
            .await?
            .into_iter()
            .map(|c| c.key)
            .collect(),
        products: product::Entity::find()
            .filter(product::Column::Id.is_in(product_ids))
            .order_by_asc(product::Column::Key)
            .all(conn)
            .await?
            .into_iter()
            .map(|c| c.key)
            .collect(),
    })
}

/// Validates `input` and writes the activity row and its links; returns the row and its links.
async fn store(
    txn: &DatabaseTransaction,
    id: Option<i32>,
    input: &ActivityInput,
    created_at: Option<chrono::DateTime<Utc>>,
    now: chrono::DateTime<Utc>,
) -> Result<(processing_activity::Model, Links)> {
    let key = validate::key("key", &input.key)?;
    let name = validate::name("name", &input.name)?;
    let purposes = validate::texts("purposes", &input.purposes)?;
    if purposes.is_empty() {
        return Err(RegistryError::invalid(
            "purposes",
            "a processing activity needs at least one purpose (Art. 30(1)(b))",
        ));
    }
    let retention_period =
        validate::retention_period("retentionPeriod", input.retention_period.as_deref())?;
    let categories: Vec<String> = input
        .data_categories
        .iter()
        .enumerate()
        .map(|(i, k)| validate::category_key(&format!("dataCategories[{i}]"), k))
        .collect::<Result<_>>()?;
    let subjects: Vec<String> = input
        .data_subjects
        .iter()
        .enumerate()
        .map(|(i, k)| validate::key(&format!("dataSubjects[{i}]"), k))
        .collect::<Result<_>>()?;
    let products: Vec<String> = input
        .products
        .iter()
        .enumerate()
        .map(|(i, k)| validate::key(&format!("products[{i}]"), k))
        .collect::<Result<_>>()?;
    let category_ids = resolve_categories(txn, "dataCategories", &categories).await?;
    let subject_ids = resolve_subjects(txn, "dataSubjects", &subjects).await?;
    let product_ids = resolve_products(txn, "products", &products).await?;

    let mut row = processing_activity::ActiveModel {
        key: Set(key),
        name: Set(name),
        description: Set(validate::text("description", input.description.as_deref())?),
        organization_role: Set(input.organization_role),
        controllers: Set(TextList(validate::texts(
            "controllers",
            &input.controllers,
        )?)),
        purposes: Set(TextList(purposes)),
        legal_basis: Set(input.legal_basis),
        retention_period: Set(retention_period),
        retention_reason: Set(validate::text(
            "retentionReason",
            input.retention_reason.as_deref(),
        )?),
        security_measures: Set(TextList(validate::texts(
            "securityMeasures",
            &input.security_measures,
        )?)),
        special_category_condition: Set(validate::text(
            "specialCategoryCondition",
            input.special_category_condition.as_deref(),
        )?),
        assumptions: Set(TextList(validate::texts(
            "assumptions",
            &input.assumptions,
        )?)),
        sources: Set(TextList(validate::texts("sources", &input.sources)?)),
        created_at: Set(created_at.unwrap_or(now)),
        updated_at: Set(now),
        ..Default::default()
    };
    let saved = match id {
        Some(id) => {
            row.id = Set(id);
            // Flows may only send what their activity processes: refuse to drop a category or
            // a data subject category that a flow of this activity still sends.
            let flow_ids: Vec<i32> = data_flow::Entity::find()
                .filter(data_flow::Column::ActivityId.eq(id))
                .all(txn)
                .await?
                .into_iter()
                .map(|f| f.id)
                .collect();
            if !flow_ids.is_empty() {
                let allowed = super::taxonomy::categories_with_descendants(
                    txn,
                    "dataCategories",
                    &categories,
                )
                .await?;
                let sent = flow_data_category::Entity::find()
                    .filter(flow_data_category::Column::FlowId.is_in(flow_ids.clone()))
                    .filter(flow_data_category::Column::DataCategoryId.is_not_in(allowed))
                    .count(txn)
                    .await?;
                if sent > 0 {
                    return Err(RegistryError::invalid(
                        "dataCategories",
                        "data flows of this activity still send a category this change removes; change those flows first",
                    ));
                }
                let sent = flow_data_subject::Entity::find()
                    .filter(flow_data_subject::Column::FlowId.is_in(flow_ids))
                    .filter(flow_data_subject::Column::DataSubjectId.is_not_in(subject_ids.clone()))
                    .count(txn)
                    .await?;
                if sent > 0 {
                    return Err(RegistryError::invalid(
                        "dataSubjects",
                        "data flows of this activity still send data about a data subject category this change removes; change those flows first",
                    ));
                }
            }
            row.update(txn).await?
        }
        None => row.insert(txn).await?,
    };
    let id = saved.id;
    activity_data_category::Entity::delete_many()
        .filter(activity_data_category::Column::ActivityId.eq(id))
        .exec(txn)
        .await?;
    activity_data_subject::Entity::delete_many()
        .filter(activity_data_subject::Column::ActivityId.eq(id))
        .exec(txn)
        .await?;
    activity_product::Entity::delete_many()
        .filter(activity_product::Column::ActivityId.eq(id))
        .exec(txn)
        .await?;
    if !category_ids.is_empty() {
        activity_data_category::Entity::insert_many(category_ids.iter().map(|c| {
            activity_data_category::ActiveModel {
                activity_id: Set(id),
                data_category_id: Set(*c),
            }
        }))
        .exec(txn)
        .await?;
    }
    if !subject_ids.is_empty() {
        activity_data_subject::Entity::insert_many(subject_ids.iter().map(|s| {
            activity_data_subject::ActiveModel {
                activity_id: Set(id),
                data_subject_id: Set(*s),
            }
        }))
        .exec(txn)
        .await?;
    }
    if !product_ids.is_empty() {
        activity_product::Entity::insert_many(product_ids.iter().map(|p| {
            activity_product::ActiveModel {
                activity_id: Set(id),
                product_id: Set(*p),
            }
        }))
        .exec(txn)
        .await?;
    }
    let links = links_of(txn, id).await?;
    Ok((saved, links))
}

impl Registry {
    pub async fn activity(&self, id: i32) -> Result<Option<processing_activity::Model>> {
        Ok(processing_activity::Entity::find_by_id(id)
            .one(self.db())
            .await?)
    }

    pub async fn activity_by_key(&self, key: &str) -> Result<Option<processing_activity::Model>> {
        // A text that cannot be a key names nothing (and never reaches the database).
        if validate::key("key", key).is_err() {
            return Ok(None);
        }
        Ok(processing_activity::Entity::find()
            .filter(processing_activity::Column::Key.eq(key))
            .one(self.db())
            .await?)
    }

    /// All processing activities, by name.
    pub async fn activities(&self) -> Result<Vec<processing_activity::Model>> {
        Ok(super::pages::activities_in_order().all(self.db()).await?)
    }

    pub async fn activities_by_ids(
        &self,
        ids: &[i32],
    ) -> Result<HashMap<i32, processing_activity::Model>> {
        Ok(processing_activity::Entity::find()
            .filter(processing_activity::Column::Id.is_in(ids.iter().copied()))
            .all(self.db())
            .await?
            .into_iter()
            .map(|m| (m.id, m))
            .collect())
    }

    /// The data categories each activity processes, by key.
    pub async fn activity_categories(
        &self,
        ids: &[i32],
    ) -> Result<HashMap<i32, Vec<data_category::Model>>> {
        linked::<activity_data_category::Entity, data_category::Entity>(
            self.db(),
            activity_data_category::Column::ActivityId,
            ids,
            |l| l.activity_id,
            data_category::Column::Key,
        )
        .await
    }

    /// The data subject categories each activity concerns, by key.
    pub async fn activity_subjects(
        &self,
        ids: &[i32],
    ) -> Result<HashMap<i32, Vec<data_subject_category::Model>>> {
        linked::<activity_data_subject::Entity, data_subject_category::Entity>(
            self.db(),
            activity_data_subject::Column::ActivityId,
            ids,
            |l| l.activity_id,
            data_subject_category::Column::Key,
        )
        .await
    }

    /// The products each activity serves, by key.
    pub async fn activity_products(
        &self,
        ids: &[i32],
    ) -> Result<HashMap<i32, Vec<product::Model>>> {
        linked::<activity_product::Entity, product::Entity>(
            self.db(),
            activity_product::Column::ActivityId,
            ids,
            |l| l.activity_id,
            product::Column::Key,
        )
        .await
    }

    /// Adds a processing activity.
    pub async fn create_activity(
        &self,
        input: ActivityInput,
        actor: &Actor,
        reason: Option<&str>,
    ) -> Result<processing_activity::Model> {
        // Refused before anything else, so a bad reason never hides behind another error.
        validate::text("reason", reason)?;
        let write = self.write().await?;
        let txn = &write.txn;
        let (created, links) = store(txn, None, &input, None, self.now()).await?;
        let after = snapshot(&created, &links);
        let seq = changelog::append(
            self,
            txn,
            actor,
            reason,
            NewEvent {
                kind: ChangeKind::ActivityCreated,
                recipient_id: None,
                recipient_kind: None,
                flow_id: None,
                activity_id: Some(created.id),
                changes: changelog::diff(&Value::Null, &after),
                snapshot: after,
                announced_at: None,
                effective_at: None,
                public: false,
            },
        )
        .await?;
        self.commit(write, Some(seq)).await?;
        Ok(created)
    }

    /// Applies `patch` to a processing activity.
    pub async fn update_activity(
        &self,
        id: i32,
        patch: ActivityPatch,
        actor: &Actor,
        reason: Option<&str>,
    ) -> Result<processing_activity::Model> {
        // Refused before anything else, so a bad reason never hides behind another error.
        validate::text("reason", reason)?;
        let write = self.write().await?;
        let txn = &write.txn;
        let existing = processing_activity::Entity::find_by_id(id)
            .one(txn)
            .await?
            .ok_or_else(|| RegistryError::not_found("ProcessingActivity", id))?;
        let old_links = links_of(txn, id).await?;
        let input = ActivityInput {
            key: patch.key.unwrap_or_else(|| existing.key.clone()),
            name: patch.name.unwrap_or_else(|| existing.name.clone()),
            description: patch
                .description
                .unwrap_or_else(|| existing.description.clone()),
            organization_role: patch
                .organization_role
                .unwrap_or(existing.organization_role),
            controllers: patch
                .controllers
                .unwrap_or_else(|| existing.controllers.0.clone()),
            purposes: patch
                .purposes
                .unwrap_or_else(|| existing.purposes.0.clone()),
            legal_basis: patch.legal_basis.unwrap_or(existing.legal_basis),
            data_subjects: patch
                .data_subjects
                .unwrap_or_else(|| old_links.subjects.clone()),
            data_categories: patch
                .data_categories
                .unwrap_or_else(|| old_links.categories.clone()),
            products: patch.products.unwrap_or_else(|| old_links.products.clone()),
            retention_period: patch
                .retention_period
                .unwrap_or_else(|| existing.retention_period.clone()),
            retention_reason: patch
                .retention_reason
                .unwrap_or_else(|| existing.retention_reason.clone()),
            security_measures: patch
                .security_measures
                .unwrap_or_else(|| existing.security_measures.0.clone()),
            special_category_condition: patch
                .special_category_condition
                .unwrap_or_else(|| existing.special_category_condition.clone()),
            assumptions: patch
                .assumptions
                .unwrap_or_else(|| existing.assumptions.0.clone()),
            sources: patch.sources.unwrap_or_else(|| existing.sources.0.clone()),
        };
        let before = snapshot(&existing, &old_links);
        let (updated, links) =
            store(txn, Some(id), &input, Some(existing.created_at), self.now()).await?;
        let after = snapshot(&updated, &links);
        let changes = changelog::diff(&before, &after);
        let seq = if changes.as_object().is_some_and(|c| !c.is_empty()) {
            Some(
                changelog::append(
                    self,
                    txn,
                    actor,
                    reason,
                    NewEvent {
                        kind: ChangeKind::ActivityUpdated,
                        recipient_id: None,
                        recipient_kind: None,
                        flow_id: None,
                        activity_id: Some(id),
                        changes,
                        snapshot: after,
                        announced_at: None,
                        effective_at: None,
                        public: false,
                    },
                )
                .await?,
            )
        } else {
            None
        };
        self.commit(write, seq).await?;
        Ok(updated)
    }

    /// Removes a processing activity that has no data flows.
    pub async fn delete_activity(
        &self,
        id: i32,
        actor: &Actor,
        reason: Option<&str>,
    ) -> Result<processing_activity::Model> {
        // Refused before anything else, so a bad reason never hides behind another error.
        validate::text("reason", reason)?;
        let write = self.write().await?;
        let txn = &write.txn;
        let existing = processing_activity::Entity::find_by_id(id)
            .one(txn)
            .await?
            .ok_or_else(|| RegistryError::not_found("ProcessingActivity", id))?;
        let flows = data_flow::Entity::find()
            .filter(data_flow::Column::ActivityId.eq(id))
            .count(txn)
            .await?;
        if flows > 0 {
            return Err(RegistryError::Conflict(format!(
                "processing activity `{}` still has {flows} data flows; delete them first",
                existing.key
            )));
        }
        let links = links_of(txn, id).await?;
        let before = snapshot(&existing, &links);
        processing_activity::Entity::delete_by_id(id)
            .exec(txn)
            .await?;
        let seq = changelog::append(
            self,
            txn,
            actor,
            reason,
            NewEvent {
                kind: ChangeKind::ActivityDeleted,
                recipient_id: None,
                recipient_kind: None,
                flow_id: None,
                activity_id: Some(id),
                changes: changelog::diff(&before, &Value::Null),
                snapshot: before,
                announced_at: None,
                effective_at: None,
                public: false,
            },
        )
        .await?;
        self.commit(write, Some(seq)).await?;
        Ok(existing)
    }
}
