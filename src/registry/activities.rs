//! Processing activities: reads, and writes that append to the change log.

use super::changelog::{NewEvent, Transition};
use super::error::{RegistryError, Result};
use super::flows::{record_shown_changes, states_of_flows};
use super::inputs::{ActivityInput, ActivityPatch};
use super::snapshot::{ActivityLinks, ActivitySnapshot};
use super::taxonomy::resolve_in;
use super::{Actor, Registry, linked, validate};
use chrono::{DateTime, Utc};
use entity::{
    TextList, activity_data_category, activity_data_subject, activity_product, data_category,
    data_flow, data_subject_category, flow_data_category, flow_data_subject, processing_activity,
    product,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, Set,
};
use std::collections::HashMap;

/// The keys of the terms an activity links to, each list sorted.
async fn links_of(conn: &impl ConnectionTrait, id: i32) -> Result<ActivityLinks> {
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
    Ok(ActivityLinks {
        data_categories: data_category::Entity::find()
            .filter(data_category::Column::Id.is_in(category_ids))
            .order_by_asc(data_category::Column::Key)
            .all(conn)
            .await?
            .into_iter()
            .map(|c| c.key)
            .collect(),
        data_subjects: data_subject_category::Entity::find()
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

/// The taxonomy's terms by key, read once for any number of activities.
pub(super) struct Terms {
    categories: HashMap<String, i32>,
    subjects: HashMap<String, i32>,
    products: HashMap<String, i32>,
}

impl Terms {
    pub(super) async fn read(conn: &impl ConnectionTrait) -> Result<Self> {
        Ok(Self {
            categories: data_category::Entity::find()
                .all(conn)
                .await?
                .into_iter()
                .map(|t| (t.key, t.id))
                .collect(),
            subjects: data_subject_category::Entity::find()
                .all(conn)
                .await?
                .into_iter()
                .map(|t| (t.key, t.id))
                .collect(),
            products: product::Entity::find()
                .all(conn)
                .await?
                .into_iter()
                .map(|t| (t.key, t.id))
                .collect(),
        })
    }

    /// The keys of the terms an activity with these links links to, as [`links_of`] reads them
    /// back: each list sorted.
    pub(super) fn links(&self, checked: &Checked) -> ActivityLinks {
        let keys = |ids: &[i32], terms: &HashMap<String, i32>| {
            let mut keys: Vec<String> = terms
                .iter()
                .filter(|(_, id)| ids.contains(id))
                .map(|(key, _)| key.clone())
                .collect();
            keys.sort();
            keys
        };
        ActivityLinks {
            data_subjects: keys(&checked.subject_ids, &self.subjects),
            data_categories: keys(&checked.category_ids, &self.categories),
            products: keys(&checked.product_ids, &self.products),
        }
    }
}

/// An activity's row and the terms it links to, checked.
pub(super) struct Checked {
    pub(super) row: processing_activity::ActiveModel,
    /// The data categories' keys as given (each flow's must stay covered by them).
    categories: Vec<String>,
    pub(super) category_ids: Vec<i32>,
    pub(super) subject_ids: Vec<i32>,
    pub(super) product_ids: Vec<i32>,
}

/// Checks `input`, a new activity or the new state of `existing`, against the record's rules
/// (Art. 30(1)) and the taxonomy.
pub(super) fn check_activity(
    existing: Option<&processing_activity::Model>,
    input: &ActivityInput,
    now: DateTime<Utc>,
    terms: &Terms,
) -> Result<Checked> {
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
    // An activity recorded before the start was asked for keeps its period until it changes.
    let recorded = existing.is_some_and(|e| {
        e.retention_period == retention_period && e.retention_from == input.retention_from
    });
    if !recorded {
        validate::retention_start(retention_period.as_deref(), input.retention_from)?;
    }
    let categories = validate::category_keys("dataCategories", &input.data_categories)?;
    let subjects = validate::keys("dataSubjects", &input.data_subjects)?;
    let products = validate::keys("products", &input.products)?;
    fn by_key<'a>(terms: &HashMap<String, i32>, asked: &'a [String]) -> HashMap<&'a str, i32> {
        asked
            .iter()
            .filter_map(|k| terms.get(k).map(|id| (k.as_str(), *id)))
            .collect()
    }
    let category_ids = resolve_in(
        "dataCategories",
        &categories,
        &by_key(&terms.categories, &categories),
        "data category",
    )?;
    let subject_ids = resolve_in(
        "dataSubjects",
        &subjects,
        &by_key(&terms.subjects, &subjects),
        "data subject category",
    )?;
    let product_ids = resolve_in(
        "products",
        &products,
        &by_key(&terms.products, &products),
        "product",
    )?;
    let row = processing_activity::ActiveModel {
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
        retention_from: Set(input.retention_from),
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
        created_at: Set(existing.map_or(now, |e| e.created_at)),
        updated_at: Set(now),
        ..Default::default()
    };
    Ok(Checked {
        row,
        categories,
        category_ids,
        subject_ids,
        product_ids,
    })
}

/// Validates `input` and writes the activity row and its links; returns the row and its links.
async fn store(
    txn: &DatabaseTransaction,
    existing: Option<&processing_activity::Model>,
    input: &ActivityInput,
    now: DateTime<Utc>,
) -> Result<(processing_activity::Model, ActivitySnapshot)> {
    let terms = Terms::read(txn).await?;
    let Checked {
        mut row,
        categories,
        category_ids,
        subject_ids,
        product_ids,
    } = check_activity(existing, input, now, &terms)?;
    let saved = match existing {
        Some(existing) => {
            row.id = Set(existing.id);
            check_flows_still_covered(txn, existing.id, &categories, &subject_ids).await?;
            row.update(txn).await?
        }
        None => row.insert(txn).await?,
    };
    replace_links(txn, saved.id, &category_ids, &subject_ids, &product_ids).await?;
    let links = links_of(txn, saved.id).await?;
    Ok((saved.clone(), ActivitySnapshot::of(saved, links)))
}

/// Flows may only send what their activity processes: refuses to drop a category or a data
/// subject category that a flow of activity `id` still sends.
async fn check_flows_still_covered(
    txn: &DatabaseTransaction,
    id: i32,
    categories: &[String],
    subject_ids: &[i32],
) -> Result<()> {
    let flow_ids: Vec<i32> = data_flow::Entity::find()
        .filter(data_flow::Column::ActivityId.eq(id))
        .all(txn)
        .await?
        .into_iter()
        .map(|f| f.id)
        .collect();
    if flow_ids.is_empty() {
        return Ok(());
    }
    let allowed =
        super::taxonomy::categories_with_descendants(txn, "dataCategories", categories).await?;
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
        .filter(flow_data_subject::Column::DataSubjectId.is_not_in(subject_ids.iter().copied()))
        .count(txn)
        .await?;
    if sent > 0 {
        return Err(RegistryError::invalid(
            "dataSubjects",
            "data flows of this activity still send data about a data subject category this change removes; change those flows first",
        ));
    }
    Ok(())
}

/// Replaces the terms activity `id` links to.
async fn replace_links(
    txn: &DatabaseTransaction,
    id: i32,
    category_ids: &[i32],
    subject_ids: &[i32],
    product_ids: &[i32],
) -> Result<()> {
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
    Ok(())
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
        let mut change = self.change(actor, reason).await?;
        let (created, after) = store(change.txn(), None, &input, self.now()).await?;
        change
            .record(NewEvent::activity(created.id, Transition::Created(after)))
            .await?;
        change.commit().await?;
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
        let mut change = self.change(actor, reason).await?;
        let existing = change
            .find::<processing_activity::Entity>("ProcessingActivity", id)
            .await?;
        let before = ActivitySnapshot::of(existing.clone(), links_of(change.txn(), id).await?);
        let input = patch.apply(before.clone().into());
        // The activity's flows start or stop being subprocessing, and so being shown to
        // customers, when the organization's role in it changes.
        let role_changes = input.organization_role != existing.organization_role;
        let flows = data_flow::Column::ActivityId.eq(id);
        let flows_before = match role_changes {
            true => states_of_flows(change.txn(), flows.clone()).await?,
            false => Vec::new(),
        };
        let (updated, after) = store(change.txn(), Some(&existing), &input, self.now()).await?;
        change
            .record(NewEvent::activity(
                id,
                Transition::Updated { before, after },
            ))
            .await?;
        if role_changes {
            let flows_after = states_of_flows(change.txn(), flows).await?;
            record_shown_changes(&mut change, flows_before, flows_after).await?;
        }
        change.commit().await?;
        Ok(updated)
    }

    /// Removes a processing activity that has no data flows.
    pub async fn delete_activity(
        &self,
        id: i32,
        actor: &Actor,
        reason: Option<&str>,
    ) -> Result<processing_activity::Model> {
        let mut change = self.change(actor, reason).await?;
        let existing = change
            .find::<processing_activity::Entity>("ProcessingActivity", id)
            .await?;
        let flows = data_flow::Entity::find()
            .filter(data_flow::Column::ActivityId.eq(id))
            .count(change.txn())
            .await?;
        if flows > 0 {
            return Err(RegistryError::Conflict(format!(
                "processing activity `{}` still has {flows} data flows; delete them first",
                existing.key
            )));
        }
        let before = ActivitySnapshot::of(existing.clone(), links_of(change.txn(), id).await?);
        processing_activity::Entity::delete_by_id(id)
            .exec(change.txn())
            .await?;
        change
            .record(NewEvent::activity(id, Transition::Deleted(before)))
            .await?;
        change.commit().await?;
        Ok(existing)
    }
}
