//! Data flows: the filtered, paginated flow query, batched reads, and writes that append to the
//! change log.

use super::changelog::{self, NewEvent};
use super::error::{RegistryError, Result};
use super::inputs::{FlowInput, FlowPatch, TransferInput};
use super::pages::{FlowKey, Page};
use super::taxonomy::{
    categories_with_descendants, resolve_categories, resolve_products, resolve_subjects,
};
use super::visibility;
use super::{Actor, Registry, linked, validate};
use crate::reference::EEA;
use chrono::Utc;
use entity::{
    ChangeKind, LegalBasis, OrganizationRole, RecipientKind, RecipientRole, RecipientStatus,
    TextList, TransferMechanism, activity_product, data_category, data_flow, data_subject_category,
    flow_country, flow_data_category, flow_data_subject, processing_activity, recipient, transfer,
};
use sea_orm::sea_query::{ExprTrait, Query, SelectStatement};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, DatabaseTransaction, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;

/// Which data flows to list. Empty lists and `None` do not filter; values within one list are
/// alternatives; different fields must all hold.
#[derive(Clone, Debug, Default)]
pub struct FlowFilter {
    pub recipient_ids: Vec<i32>,
    pub recipient_kinds: Vec<RecipientKind>,
    pub recipient_statuses: Vec<RecipientStatus>,
    /// The recipient's role in the flow (its default role unless the flow overrides it).
    pub roles: Vec<RecipientRole>,
    /// Data category keys; a category matches its descendants.
    pub data_categories: Vec<String>,
    pub data_subjects: Vec<String>,
    pub products: Vec<String>,
    pub activity_ids: Vec<i32>,
    pub legal_bases: Vec<LegalBasis>,
    pub organization_roles: Vec<OrganizationRole>,
    /// Destination countries.
    pub countries: Vec<String>,
    /// `Some(true)`: at least one destination outside the EEA; `Some(false)`: none.
    pub outside_eea: Option<bool>,
    pub transfer_mechanisms: Vec<TransferMechanism>,
    /// Flows that make their recipient a subprocessor.
    pub subprocessing_only: bool,
}

/// A validated, resolved filter, ready to count or page through.
#[derive(Clone, Debug)]
pub struct FlowSelection(Condition);

/// One page of data flows, in id order.
pub type FlowPage = Page<data_flow::Model>;

fn flows_with(
    column: impl sea_orm::sea_query::IntoColumnRef,
    from: impl sea_orm::sea_query::IntoTableRef,
    condition: Condition,
) -> SelectStatement {
    Query::select()
        .column(column)
        .from(from)
        .cond_where(condition)
        .to_owned()
}

fn ids_where<E: EntityTrait>(column: E::Column, condition: Condition) -> SelectStatement
where
    E::Column: sea_orm::sea_query::IntoColumnRef,
{
    Query::select()
        .column(column)
        .from(E::default())
        .cond_where(condition)
        .to_owned()
}

/// The recipient's role in the flow is one of `roles`: the flow's override, or else the
/// recipient's default.
fn effective_role_in(roles: &[RecipientRole]) -> Condition {
    Condition::any()
        .add(data_flow::Column::Role.is_in(roles.iter().copied()))
        .add(Condition::all().add(data_flow::Column::Role.is_null()).add(
            data_flow::Column::RecipientId.in_subquery(ids_where::<recipient::Entity>(
                recipient::Column::Id,
                Condition::all().add(recipient::Column::DefaultRole.is_in(roles.iter().copied())),
            )),
        ))
}

/// A data flow as the change log records it: the state after each change. References are by
/// key; the event row carries the ids.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FlowSnapshot {
    pub activity: String,
    pub recipient: String,
    pub via: Option<String>,
    /// The flow's own role, when it overrides the recipient's default.
    pub role: Option<RecipientRole>,
    pub purpose: Option<String>,
    pub data_categories: Vec<String>,
    pub data_subjects: Vec<String>,
    pub countries: Vec<String>,
    pub transfers: Vec<TransferSnapshot>,
    pub assumptions: Vec<String>,
    pub sources: Vec<String>,
}

/// A transfer of a flow, in its snapshot.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransferSnapshot {
    pub country: String,
    pub mechanism: TransferMechanism,
    pub scc_module: Option<i16>,
    pub derogation: Option<entity::Derogation>,
    pub safeguards: Option<String>,
    pub tia_date: Option<chrono::NaiveDate>,
}

pub(crate) fn snapshot(
    f: &data_flow::Model,
    keys: &FlowKeys,
    countries: &[String],
    transfers: &[transfer::Model],
) -> Value {
    let snapshot = FlowSnapshot {
        activity: keys.activity.clone(),
        recipient: keys.recipient.clone(),
        via: keys.via.clone(),
        role: f.role,
        purpose: f.purpose.clone(),
        data_categories: keys.categories.clone(),
        data_subjects: keys.subjects.clone(),
        countries: countries.to_vec(),
        transfers: transfers
            .iter()
            .map(|t| TransferSnapshot {
                country: t.country.clone(),
                mechanism: t.mechanism,
                scc_module: t.scc_module,
                derogation: t.derogation,
                safeguards: t.safeguards.clone(),
                tia_date: t.tia_date,
            })
            .collect(),
        assumptions: f.assumptions.0.clone(),
        sources: f.sources.0.clone(),
    };
    serde_json::to_value(snapshot).unwrap_or(Value::Null)
}

/// The keys a flow snapshot names its references by.
pub(crate) struct FlowKeys {
    activity: String,
    recipient: String,
    via: Option<String>,
    categories: Vec<String>,
    subjects: Vec<String>,
}

/// Everything a flow event needs to be written.
struct Written {
    flow: data_flow::Model,
    recipient_kind: Option<RecipientKind>,
    snapshot: Value,
    public: bool,
    recipient_id: i32,
}

/// A flow's snapshot, whether its recipient is on the public subprocessor list, and its kind.
async fn state_of(
    txn: &DatabaseTransaction,
    flow: &data_flow::Model,
) -> Result<(Value, bool, Option<RecipientKind>)> {
    let activity = processing_activity::Entity::find_by_id(flow.activity_id)
        .one(txn)
        .await?
        .map(|a| a.key)
        .unwrap_or_default();
    let recipient = recipient::Entity::find_by_id(flow.recipient_id)
        .one(txn)
        .await?;
    let via = match flow.via_recipient_id {
        Some(id) => recipient::Entity::find_by_id(id)
            .one(txn)
            .await?
            .map(|r| r.key),
        None => None,
    };
    let categories = linked::<flow_data_category::Entity, data_category::Entity>(
        txn,
        flow_data_category::Column::FlowId,
        &[flow.id],
        |l| l.flow_id,
        data_category::Column::Key,
    )
    .await?
    .remove(&flow.id)
    .unwrap_or_default();
    let subjects = linked::<flow_data_subject::Entity, data_subject_category::Entity>(
        txn,
        flow_data_subject::Column::FlowId,
        &[flow.id],
        |l| l.flow_id,
        data_subject_category::Column::Key,
    )
    .await?
    .remove(&flow.id)
    .unwrap_or_default();
    let countries: Vec<String> = flow_country::Entity::find()
        .filter(flow_country::Column::FlowId.eq(flow.id))
        .order_by_asc(flow_country::Column::Country)
        .all(txn)
        .await?
        .into_iter()
        .map(|c| c.country)
        .collect();
    let transfers = transfer::Entity::find()
        .filter(transfer::Column::FlowId.eq(flow.id))
        .order_by_asc(transfer::Column::Country)
        .all(txn)
        .await?;
    let keys = FlowKeys {
        activity,
        recipient: recipient
            .as_ref()
            .map(|r| r.key.clone())
            .unwrap_or_default(),
        via,
        categories: categories.into_iter().map(|c| c.key).collect(),
        subjects: subjects.into_iter().map(|s| s.key).collect(),
    };
    Ok((
        snapshot(flow, &keys, &countries, &transfers),
        recipient
            .as_ref()
            .is_some_and(|r| visibility::on_public_list(r.public, r.status)),
        recipient.map(|r| r.kind),
    ))
}

/// Validates `input` against the registry and writes the flow row and everything hanging off it.
async fn store(
    txn: &DatabaseTransaction,
    id: Option<i32>,
    input: &FlowInput,
    created_at: Option<chrono::DateTime<Utc>>,
    now: chrono::DateTime<Utc>,
    recorded_adequacy: &[&str],
) -> Result<Written> {
    let activity = processing_activity::Entity::find_by_id(input.activity_id)
        .one(txn)
        .await?
        .ok_or_else(|| {
            RegistryError::invalid("activityId", "there is no such processing activity")
        })?;
    let recipient = recipient::Entity::find_by_id(input.recipient_id)
        .one(txn)
        .await?
        .ok_or_else(|| RegistryError::invalid("recipientId", "there is no such recipient"))?;
    if let Some(via) = input.via_recipient_id {
        if via == input.recipient_id {
            return Err(RegistryError::invalid(
                "viaRecipientId",
                "a recipient cannot forward data to itself",
            ));
        }
        recipient::Entity::find_by_id(via)
            .one(txn)
            .await?
            .ok_or_else(|| {
                RegistryError::invalid("viaRecipientId", "there is no such recipient")
            })?;
    }
    if input.data_categories.is_empty() {
        return Err(RegistryError::invalid(
            "dataCategories",
            "a data flow sends at least one data category",
        ));
    }
    if input.data_subjects.is_empty() {
        return Err(RegistryError::invalid(
            "dataSubjects",
            "a data flow concerns at least one data subject category",
        ));
    }
    let countries = validate::countries("countries", &input.countries)?;
    if countries.is_empty() {
        return Err(RegistryError::invalid(
            "countries",
            "a data flow has at least one destination country",
        ));
    }
    let transfers = validate::transfers(
        &countries,
        &input.transfers,
        recipient.dpf_certified,
        now.date_naive(),
        recorded_adequacy,
    )?;

    for (i, key) in input.data_categories.iter().enumerate() {
        validate::category_key(&format!("dataCategories[{i}]"), key)?;
    }
    for (i, key) in input.data_subjects.iter().enumerate() {
        validate::key(&format!("dataSubjects[{i}]"), key)?;
    }
    let category_ids = resolve_categories(txn, "dataCategories", &input.data_categories).await?;
    let subject_ids = resolve_subjects(txn, "dataSubjects", &input.data_subjects).await?;

    // A flow can only send what its activity processes (a category or one of its descendants),
    // about the activity's data subjects.
    let activity_categories =
        super::linked::<entity::activity_data_category::Entity, data_category::Entity>(
            txn,
            entity::activity_data_category::Column::ActivityId,
            &[activity.id],
            |l| l.activity_id,
            data_category::Column::Key,
        )
        .await?
        .remove(&activity.id)
        .unwrap_or_default();
    for (i, key) in input.data_categories.iter().enumerate() {
        let processed = activity_categories.iter().any(|c| {
            *key == c.key
                || key
                    .strip_prefix(c.key.as_str())
                    .is_some_and(|rest| rest.starts_with('.'))
        });
        if !processed {
            return Err(RegistryError::invalid(
                format!("dataCategories[{i}]"),
                format!(
                    "processing activity `{}` does not process `{key}`; a flow can only send what its activity processes",
                    activity.key
                ),
            ));
        }
    }
    let activity_subjects: Vec<i32> = entity::activity_data_subject::Entity::find()
        .filter(entity::activity_data_subject::Column::ActivityId.eq(activity.id))
        .all(txn)
        .await?
        .into_iter()
        .map(|l| l.data_subject_id)
        .collect();
    for (i, (key, id)) in input.data_subjects.iter().zip(&subject_ids).enumerate() {
        if !activity_subjects.contains(id) {
            return Err(RegistryError::invalid(
                format!("dataSubjects[{i}]"),
                format!(
                    "processing activity `{}` does not concern `{key}`",
                    activity.key
                ),
            ));
        }
    }

    let mut row = data_flow::ActiveModel {
        activity_id: Set(activity.id),
        recipient_id: Set(recipient.id),
        via_recipient_id: Set(input.via_recipient_id),
        role: Set(input.role),
        purpose: Set(validate::text("purpose", input.purpose.as_deref())?),
        assumptions: Set(TextList(validate::texts(
            "assumptions",
            &input.assumptions,
        )?)),
        sources: Set(TextList(validate::texts("sources", &input.sources)?)),
        created_at: Set(created_at.unwrap_or(now)),
        updated_at: Set(now),
        ..Default::default()
    };
    let flow = match id {
        Some(id) => {
            row.id = Set(id);
            let flow = row.update(txn).await?;
            flow_data_category::Entity::delete_many()
                .filter(flow_data_category::Column::FlowId.eq(id))
                .exec(txn)
                .await?;
            flow_data_subject::Entity::delete_many()
                .filter(flow_data_subject::Column::FlowId.eq(id))
                .exec(txn)
                .await?;
            flow_country::Entity::delete_many()
                .filter(flow_country::Column::FlowId.eq(id))
                .exec(txn)
                .await?;
            transfer::Entity::delete_many()
                .filter(transfer::Column::FlowId.eq(id))
                .exec(txn)
                .await?;
            flow
        }
        None => row.insert(txn).await?,
    };
    let id = flow.id;
    flow_data_category::Entity::insert_many(category_ids.iter().map(|c| {
        flow_data_category::ActiveModel {
            flow_id: Set(id),
            data_category_id: Set(*c),
        }
    }))
    .exec(txn)
    .await?;
    flow_data_subject::Entity::insert_many(subject_ids.iter().map(|s| {
        flow_data_subject::ActiveModel {
            flow_id: Set(id),
            data_subject_id: Set(*s),
        }
    }))
    .exec(txn)
    .await?;
    flow_country::Entity::insert_many(countries.iter().map(|c| flow_country::ActiveModel {
        flow_id: Set(id),
        country: Set(c.clone()),
    }))
    .exec(txn)
    .await?;
    if !transfers.is_empty() {
        transfer::Entity::insert_many(transfers.iter().map(|t| transfer::ActiveModel {
            flow_id: Set(id),
            country: Set(t.country.clone()),
            mechanism: Set(t.safeguard.mechanism),
            scc_module: Set(t.safeguard.scc_module),
            derogation: Set(t.safeguard.derogation),
            safeguards: Set(t.safeguard.safeguards.clone()),
            tia_date: Set(t.safeguard.tia_date),
            ..Default::default()
        }))
        .exec(txn)
        .await?;
    }
    let (snapshot, public, recipient_kind) = state_of(txn, &flow).await?;
    Ok(Written {
        recipient_kind,
        recipient_id: flow.recipient_id,
        flow,
        snapshot,
        public,
    })
}

impl Registry {
    /// Validates a filter and resolves its keys, naming the first unknown one.
    pub async fn select_flows(&self, filter: &FlowFilter) -> Result<FlowSelection> {
        for (field, len) in [
            ("recipientIds", filter.recipient_ids.len()),
            ("recipientKinds", filter.recipient_kinds.len()),
            ("recipientStatuses", filter.recipient_statuses.len()),
            ("roles", filter.roles.len()),
            ("dataCategories", filter.data_categories.len()),
            ("dataSubjects", filter.data_subjects.len()),
            ("products", filter.products.len()),
            ("activityIds", filter.activity_ids.len()),
            ("legalBases", filter.legal_bases.len()),
            ("organizationRoles", filter.organization_roles.len()),
            ("countries", filter.countries.len()),
            ("transferMechanisms", filter.transfer_mechanisms.len()),
        ] {
            validate::bounded(field, len)?;
        }
        let mut condition = Condition::all();
        if !filter.recipient_ids.is_empty() {
            condition = condition
                .add(data_flow::Column::RecipientId.is_in(filter.recipient_ids.iter().copied()));
        }
        if !filter.activity_ids.is_empty() {
            condition = condition
                .add(data_flow::Column::ActivityId.is_in(filter.activity_ids.iter().copied()));
        }
        if !filter.recipient_kinds.is_empty() || !filter.recipient_statuses.is_empty() {
            let mut on_recipient = Condition::all();
            if !filter.recipient_kinds.is_empty() {
                on_recipient = on_recipient
                    .add(recipient::Column::Kind.is_in(filter.recipient_kinds.iter().copied()));
            }
            if !filter.recipient_statuses.is_empty() {
                on_recipient = on_recipient.add(
                    recipient::Column::Status.is_in(filter.recipient_statuses.iter().copied()),
                );
            }
            condition = condition.add(data_flow::Column::RecipientId.in_subquery(ids_where::<
                recipient::Entity,
            >(
                recipient::Column::Id,
                on_recipient,
            )));
        }
        if !filter.roles.is_empty() {
            condition = condition.add(effective_role_in(&filter.roles));
        }
        if !filter.legal_bases.is_empty() || !filter.organization_roles.is_empty() {
            let mut on_activity = Condition::all();
            if !filter.legal_bases.is_empty() {
                on_activity = on_activity.add(
                    processing_activity::Column::LegalBasis
                        .is_in(filter.legal_bases.iter().copied()),
                );
            }
            if !filter.organization_roles.is_empty() {
                on_activity = on_activity.add(
                    processing_activity::Column::OrganizationRole
                        .is_in(filter.organization_roles.iter().copied()),
                );
            }
            condition = condition.add(data_flow::Column::ActivityId.in_subquery(ids_where::<
                processing_activity::Entity,
            >(
                processing_activity::Column::Id,
                on_activity,
            )));
        }
        if filter.subprocessing_only {
            condition = condition
                .add(effective_role_in(&[RecipientRole::Processor]))
                .add(
                    data_flow::Column::ActivityId.in_subquery(ids_where::<
                        processing_activity::Entity,
                    >(
                        processing_activity::Column::Id,
                        Condition::all().add(
                            processing_activity::Column::OrganizationRole
                                .eq(OrganizationRole::Processor),
                        ),
                    )),
                );
        }
        if !filter.data_categories.is_empty() {
            for (i, key) in filter.data_categories.iter().enumerate() {
                validate::category_key(&format!("dataCategories[{i}]"), key)?;
            }
            let ids =
                categories_with_descendants(self.db(), "dataCategories", &filter.data_categories)
                    .await?;
            condition = condition.add(data_flow::Column::Id.in_subquery(flows_with(
                flow_data_category::Column::FlowId,
                flow_data_category::Entity,
                Condition::all().add(flow_data_category::Column::DataCategoryId.is_in(ids)),
            )));
        }
        if !filter.data_subjects.is_empty() {
            for (i, key) in filter.data_subjects.iter().enumerate() {
                validate::key(&format!("dataSubjects[{i}]"), key)?;
            }
            let ids = resolve_subjects(self.db(), "dataSubjects", &filter.data_subjects).await?;
            condition = condition.add(data_flow::Column::Id.in_subquery(flows_with(
                flow_data_subject::Column::FlowId,
                flow_data_subject::Entity,
                Condition::all().add(flow_data_subject::Column::DataSubjectId.is_in(ids)),
            )));
        }
        if !filter.products.is_empty() {
            for (i, key) in filter.products.iter().enumerate() {
                validate::key(&format!("products[{i}]"), key)?;
            }
            let ids = resolve_products(self.db(), "products", &filter.products).await?;
            condition = condition.add(data_flow::Column::ActivityId.in_subquery(flows_with(
                activity_product::Column::ActivityId,
                activity_product::Entity,
                Condition::all().add(activity_product::Column::ProductId.is_in(ids)),
            )));
        }
        if !filter.countries.is_empty() {
            let countries = validate::countries("countries", &filter.countries)?;
            condition = condition.add(data_flow::Column::Id.in_subquery(flows_with(
                flow_country::Column::FlowId,
                flow_country::Entity,
                Condition::all().add(flow_country::Column::Country.is_in(countries)),
            )));
        }
        if let Some(outside) = filter.outside_eea {
            let abroad = data_flow::Column::Id.in_subquery(flows_with(
                flow_country::Column::FlowId,
                flow_country::Entity,
                Condition::all().add(flow_country::Column::Country.is_not_in(EEA)),
            ));
            condition = condition.add(if outside { abroad } else { abroad.not() });
        }
        if !filter.transfer_mechanisms.is_empty() {
            condition = condition.add(data_flow::Column::Id.in_subquery(flows_with(
                transfer::Column::FlowId,
                transfer::Entity,
                Condition::all().add(
                    transfer::Column::Mechanism.is_in(filter.transfer_mechanisms.iter().copied()),
                ),
            )));
        }
        Ok(FlowSelection(condition))
    }

    /// The flows of `selection` after the flow `after`, at most `first` of them, in id order.
    pub async fn flows_page(
        &self,
        selection: &FlowSelection,
        after: Option<FlowKey>,
        first: u64,
    ) -> Result<FlowPage> {
        let mut query = data_flow::Entity::find().filter(selection.0.clone());
        if let Some(FlowKey(after)) = after {
            query = query.filter(data_flow::Column::Id.gt(after));
        }
        let flows = query
            .order_by_asc(data_flow::Column::Id)
            .limit(FlowPage::limit(first))
            .all(self.db())
            .await?;
        Ok(FlowPage::from_rows(flows, first))
    }

    /// How many flows `selection` holds.
    pub async fn count_flows(&self, selection: &FlowSelection) -> Result<u64> {
        Ok(data_flow::Entity::find()
            .filter(selection.0.clone())
            .count(self.db())
            .await?)
    }

    pub async fn flow(&self, id: i32) -> Result<Option<data_flow::Model>> {
        Ok(data_flow::Entity::find_by_id(id).one(self.db()).await?)
    }

    /// The data categories each flow sends, by key.
    pub async fn flow_categories(
        &self,
        ids: &[i32],
    ) -> Result<HashMap<i32, Vec<data_category::Model>>> {
        linked::<flow_data_category::Entity, data_category::Entity>(
            self.db(),
            flow_data_category::Column::FlowId,
            ids,
            |l| l.flow_id,
            data_category::Column::Key,
        )
        .await
    }

    /// The data subject categories each flow concerns, by key.
    pub async fn flow_subjects(
        &self,
        ids: &[i32],
    ) -> Result<HashMap<i32, Vec<data_subject_category::Model>>> {
        linked::<flow_data_subject::Entity, data_subject_category::Entity>(
            self.db(),
            flow_data_subject::Column::FlowId,
            ids,
            |l| l.flow_id,
            data_subject_category::Column::Key,
        )
        .await
    }

    /// The destination countries of each flow.
    pub async fn flow_countries(&self, ids: &[i32]) -> Result<HashMap<i32, Vec<String>>> {
        let mut out: HashMap<i32, Vec<String>> = HashMap::new();
        if ids.is_empty() {
            return Ok(out);
        }
        for row in flow_country::Entity::find()
            .filter(flow_country::Column::FlowId.is_in(ids.iter().copied()))
            .order_by_asc(flow_country::Column::Country)
            .all(self.db())
            .await?
        {
            out.entry(row.flow_id).or_default().push(row.country);
        }
        Ok(out)
    }

    /// The transfers of each flow, by country.
    pub async fn flow_transfers(&self, ids: &[i32]) -> Result<HashMap<i32, Vec<transfer::Model>>> {
        let mut out: HashMap<i32, Vec<transfer::Model>> = HashMap::new();
        if ids.is_empty() {
            return Ok(out);
        }
        for row in transfer::Entity::find()
            .filter(transfer::Column::FlowId.is_in(ids.iter().copied()))
            .order_by_asc(transfer::Column::Country)
            .all(self.db())
            .await?
        {
            out.entry(row.flow_id).or_default().push(row);
        }
        Ok(out)
    }

    /// The flows to each recipient (`via == false`) or forwarded by it (`via == true`).
    pub async fn flows_of_recipients(
        &self,
        ids: &[i32],
        via: bool,
    ) -> Result<HashMap<i32, Vec<data_flow::Model>>> {
        let column = if via {
            data_flow::Column::ViaRecipientId
        } else {
            data_flow::Column::RecipientId
        };
        let mut out: HashMap<i32, Vec<data_flow::Model>> = HashMap::new();
        if ids.is_empty() {
            return Ok(out);
        }
        for flow in data_flow::Entity::find()
            .filter(column.is_in(ids.iter().copied()))
            .order_by_asc(data_flow::Column::Id)
            .all(self.db())
            .await?
        {
            let owner = if via {
                flow.via_recipient_id
            } else {
                Some(flow.recipient_id)
            };
            if let Some(owner) = owner {
                out.entry(owner).or_default().push(flow);
            }
        }
        Ok(out)
    }

    /// The flows of each processing activity.
    pub async fn flows_of_activities(
        &self,
        ids: &[i32],
    ) -> Result<HashMap<i32, Vec<data_flow::Model>>> {
        let mut out: HashMap<i32, Vec<data_flow::Model>> = HashMap::new();
        if ids.is_empty() {
            return Ok(out);
        }
        for flow in data_flow::Entity::find()
            .filter(data_flow::Column::ActivityId.is_in(ids.iter().copied()))
            .order_by_asc(data_flow::Column::Id)
            .all(self.db())
            .await?
        {
            out.entry(flow.activity_id).or_default().push(flow);
        }
        Ok(out)
    }

    /// Adds a data flow.
    pub async fn create_flow(
        &self,
        input: FlowInput,
        actor: &Actor,
        reason: Option<&str>,
    ) -> Result<data_flow::Model> {
        // Refused before anything else, so a bad reason never hides behind another error.
        validate::text("reason", reason)?;
        let write = self.write().await?;
        let txn = &write.txn;
        let written = store(txn, None, &input, None, self.now(), &[]).await?;
        let seq = changelog::append(
            self,
            txn,
            actor,
            reason,
            NewEvent {
                kind: ChangeKind::FlowCreated,
                recipient_id: Some(written.recipient_id),
                recipient_kind: written.recipient_kind,
                flow_id: Some(written.flow.id),
                activity_id: Some(written.flow.activity_id),
                changes: changelog::diff(&Value::Null, &written.snapshot),
                snapshot: written.snapshot,
                announced_at: None,
                effective_at: None,
                public: written.public,
            },
        )
        .await?;
        self.commit(write, Some(seq)).await?;
        Ok(written.flow)
    }

    /// Applies `patch` to a data flow.
    pub async fn update_flow(
        &self,
        id: i32,
        patch: FlowPatch,
        actor: &Actor,
        reason: Option<&str>,
    ) -> Result<data_flow::Model> {
        // Refused before anything else, so a bad reason never hides behind another error.
        validate::text("reason", reason)?;
        let write = self.write().await?;
        let txn = &write.txn;
        let existing = data_flow::Entity::find_by_id(id)
            .one(txn)
            .await?
            .ok_or_else(|| RegistryError::not_found("DataFlow", id))?;
        let (before, was_public, before_kind) = state_of(txn, &existing).await?;
        let keys = |field: &str| -> Vec<String> {
            before[field]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        let old_transfers: Vec<TransferInput> = transfer::Entity::find()
            .filter(transfer::Column::FlowId.eq(id))
            .all(txn)
            .await?
            .into_iter()
            .map(|t| TransferInput {
                country: t.country,
                safeguard: super::inputs::Safeguard {
                    mechanism: t.mechanism,
                    scc_module: t.scc_module,
                    derogation: t.derogation,
                    safeguards: t.safeguards,
                    tia_date: t.tia_date,
                },
            })
            .collect();
        // Adequacy transfers the flow already has stay valid for these edits even if their
        // decision has lapsed since (the record's findings report that).
        let recorded: Vec<String> = old_transfers
            .iter()
            .filter(|t| t.safeguard.mechanism == TransferMechanism::AdequacyDecision)
            .map(|t| t.country.clone())
            .collect();
        let recorded: Vec<&str> = recorded.iter().map(String::as_str).collect();
        let input = FlowInput {
            activity_id: patch.activity_id.unwrap_or(existing.activity_id),
            recipient_id: patch.recipient_id.unwrap_or(existing.recipient_id),
            via_recipient_id: patch.via_recipient_id.unwrap_or(existing.via_recipient_id),
            role: patch.role.unwrap_or(existing.role),
            purpose: patch.purpose.unwrap_or_else(|| existing.purpose.clone()),
            data_categories: patch
                .data_categories
                .unwrap_or_else(|| keys("dataCategories")),
            data_subjects: patch.data_subjects.unwrap_or_else(|| keys("dataSubjects")),
            countries: patch.countries.unwrap_or_else(|| keys("countries")),
            transfers: patch.transfers.unwrap_or(old_transfers),
            assumptions: patch
                .assumptions
                .unwrap_or_else(|| existing.assumptions.0.clone()),
            sources: patch.sources.unwrap_or_else(|| existing.sources.0.clone()),
        };
        let written = store(
            txn,
            Some(id),
            &input,
            Some(existing.created_at),
            self.now(),
            &recorded,
        )
        .await?;
        let changes = changelog::diff(&before, &written.snapshot);
        if changes.as_object().is_none_or(|c| c.is_empty()) {
            self.commit(write, None).await?;
            return Ok(written.flow);
        }
        // A flow moved between a recipient on the public list and one off it is, to customers,
        // a flow that leaves or joins the list: the public feed says that, and the update
        // itself, which names both recipients, stays internal. Otherwise an unannounced
        // subprocessor would be named on the public feed.
        let moved_off_list = was_public && !written.public;
        let moved_onto_list = !was_public && written.public;
        if moved_off_list {
            changelog::append(
                self,
                txn,
                actor,
                Some("no longer shown to customers: the flow now goes to a recipient that is not on the public list"),
                NewEvent {
                    kind: ChangeKind::FlowDeleted,
                    recipient_id: Some(existing.recipient_id),
                    recipient_kind: before_kind,
                    flow_id: Some(id),
                    activity_id: Some(existing.activity_id),
                    changes: changelog::diff(&before, &Value::Null),
                    snapshot: before,
                    announced_at: None,
                    effective_at: None,
                    public: true,
                },
            )
            .await?;
        }
        let public_update = !moved_off_list
            && !moved_onto_list
            && written.public
            && visibility::touches_public("DATA_FLOW", &changes);
        let mut seq = changelog::append(
            self,
            txn,
            actor,
            reason,
            NewEvent {
                kind: ChangeKind::FlowUpdated,
                recipient_id: Some(written.recipient_id),
                recipient_kind: written.recipient_kind,
                flow_id: Some(id),
                activity_id: Some(written.flow.activity_id),
                changes,
                snapshot: written.snapshot.clone(),
                announced_at: None,
                effective_at: None,
                public: public_update,
            },
        )
        .await?;
        if moved_onto_list {
            seq = changelog::append(
                self,
                txn,
                actor,
                Some("shown to customers: the flow now goes to a recipient on the public list"),
                NewEvent {
                    kind: ChangeKind::FlowCreated,
                    recipient_id: Some(written.recipient_id),
                    recipient_kind: written.recipient_kind,
                    flow_id: Some(id),
                    activity_id: Some(written.flow.activity_id),
                    changes: changelog::diff(&Value::Null, &written.snapshot),
                    snapshot: written.snapshot,
                    announced_at: None,
                    effective_at: None,
                    public: true,
                },
            )
            .await?;
        }
        self.commit(write, Some(seq)).await?;
        Ok(written.flow)
    }

    /// Removes a data flow.
    pub async fn delete_flow(
        &self,
        id: i32,
        actor: &Actor,
        reason: Option<&str>,
    ) -> Result<data_flow::Model> {
        // Refused before anything else, so a bad reason never hides behind another error.
        validate::text("reason", reason)?;
        let write = self.write().await?;
        let txn = &write.txn;
        let existing = data_flow::Entity::find_by_id(id)
            .one(txn)
            .await?
            .ok_or_else(|| RegistryError::not_found("DataFlow", id))?;
        let (before, public, recipient_kind) = state_of(txn, &existing).await?;
        data_flow::Entity::delete_by_id(id).exec(txn).await?;
        let seq = changelog::append(
            self,
            txn,
            actor,
            reason,
            NewEvent {
                kind: ChangeKind::FlowDeleted,
                recipient_id: Some(existing.recipient_id),
                recipient_kind,
                flow_id: Some(id),
                activity_id: Some(existing.activity_id),
                changes: changelog::diff(&before, &Value::Null),
                snapshot: before,
                announced_at: None,
                effective_at: None,
                public,
            },
        )
        .await?;
        self.commit(write, Some(seq)).await?;
        Ok(existing)
    }
    /// Puts the current data flows to a recipient that has just joined the public list on the
    /// public feed, one FLOW_CREATED event each, in the transaction of its announcement. Flows
    /// recorded while it was proposed were internal planning; without this a customer would
    /// learn of the new subprocessor but not what data goes to it until a flow next changed.
    /// The events say why they were written, so the internal feed's second creation of a flow
    /// explains itself. Returns the sequence number of the last event appended, if any.
    pub(super) async fn publish_flows_to(
        &self,
        txn: &DatabaseTransaction,
        recipient: &recipient::Model,
        actor: &Actor,
    ) -> Result<Option<i64>> {
        let recipient_id = recipient.id;
        let reason = format!(
            "shown to customers with the announcement of `{}`",
            recipient.key
        );
        let reason = Some(reason.as_str());
        let flows = data_flow::Entity::find()
            .filter(data_flow::Column::RecipientId.eq(recipient_id))
            .order_by_asc(data_flow::Column::Id)
            .all(txn)
            .await?;
        let mut last = None;
        for flow in flows {
            let (snapshot, public, recipient_kind) = state_of(txn, &flow).await?;
            let seq = changelog::append(
                self,
                txn,
                actor,
                reason,
                NewEvent {
                    kind: ChangeKind::FlowCreated,
                    recipient_id: Some(recipient_id),
                    recipient_kind,
                    flow_id: Some(flow.id),
                    activity_id: Some(flow.activity_id),
                    changes: changelog::diff(&Value::Null, &snapshot),
                    snapshot,
                    announced_at: None,
                    effective_at: None,
                    public,
                },
            )
            .await?;
            last = Some(seq);
        }
        Ok(last)
    }
}
