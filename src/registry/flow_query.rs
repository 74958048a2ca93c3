//! Reading data flows: the filter (who receives what, from which processing, where to), the
//! one paginated query, its count, and the batched reads of the flows' relations.

use super::error::Result;
use super::flows::{FlowParties, exporters_of};
use super::pages::{FlowKey, Page};
use super::rules::{effective_role_in, subprocessing_flows};
use super::taxonomy::{categories_with_descendants, resolve_products, resolve_subjects};
use super::transfers::Exporter;
use super::{Registry, linked, validate};
use crate::reference::EEA;
use entity::{
    LegalBasis, OrganizationRole, RecipientKind, RecipientRole, RecipientStatus, TransferMechanism,
    activity_product, data_category, data_flow, data_subject_category, flow_country,
    flow_data_category, flow_data_subject, processing_activity, recipient, transfer,
};
use sea_orm::sea_query::{ExprTrait, Query, SelectStatement};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
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

/// The filter's recipients, activities and roles: who receives the data, from which
/// processing, in which role.
fn on_parties(filter: &FlowFilter) -> Condition {
    let mut condition = Condition::all();
    if !filter.recipient_ids.is_empty() {
        condition = condition
            .add(data_flow::Column::RecipientId.is_in(filter.recipient_ids.iter().copied()));
    }
    if !filter.activity_ids.is_empty() {
        condition =
            condition.add(data_flow::Column::ActivityId.is_in(filter.activity_ids.iter().copied()));
    }
    if !filter.recipient_kinds.is_empty() || !filter.recipient_statuses.is_empty() {
        let mut on_recipient = Condition::all();
        if !filter.recipient_kinds.is_empty() {
            on_recipient = on_recipient
                .add(recipient::Column::Kind.is_in(filter.recipient_kinds.iter().copied()));
        }
        if !filter.recipient_statuses.is_empty() {
            on_recipient = on_recipient
                .add(recipient::Column::Status.is_in(filter.recipient_statuses.iter().copied()));
        }
        condition =
            condition.add(data_flow::Column::RecipientId.in_subquery(
                ids_where::<recipient::Entity>(recipient::Column::Id, on_recipient),
            ));
    }
    if !filter.roles.is_empty() {
        condition = condition.add(effective_role_in(&filter.roles));
    }
    if !filter.legal_bases.is_empty() || !filter.organization_roles.is_empty() {
        let mut on_activity = Condition::all();
        if !filter.legal_bases.is_empty() {
            on_activity = on_activity.add(
                processing_activity::Column::LegalBasis.is_in(filter.legal_bases.iter().copied()),
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
        condition = condition.add(subprocessing_flows());
    }
    condition
}

/// The filter's destination countries, the EEA, and transfer mechanisms.
fn on_destinations(filter: &FlowFilter) -> Result<Condition> {
    let mut condition = Condition::all();
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
        condition =
            condition.add(data_flow::Column::Id.in_subquery(flows_with(
                transfer::Column::FlowId,
                transfer::Entity,
                Condition::all().add(
                    transfer::Column::Mechanism.is_in(filter.transfer_mechanisms.iter().copied()),
                ),
            )));
    }
    Ok(condition)
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
        let condition = Condition::all()
            .add(on_parties(filter))
            .add(self.on_terms(filter).await?)
            .add(on_destinations(filter)?);
        Ok(FlowSelection(condition))
    }

    /// The filter's data categories (with their descendants), data subjects and products.
    async fn on_terms(&self, filter: &FlowFilter) -> Result<Condition> {
        let mut condition = Condition::all();
        if !filter.data_categories.is_empty() {
            validate::category_keys("dataCategories", &filter.data_categories)?;
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
            validate::keys("dataSubjects", &filter.data_subjects)?;
            let ids = resolve_subjects(self.db(), "dataSubjects", &filter.data_subjects).await?;
            condition = condition.add(data_flow::Column::Id.in_subquery(flows_with(
                flow_data_subject::Column::FlowId,
                flow_data_subject::Entity,
                Condition::all().add(flow_data_subject::Column::DataSubjectId.is_in(ids)),
            )));
        }
        if !filter.products.is_empty() {
            validate::keys("products", &filter.products)?;
            let ids = resolve_products(self.db(), "products", &filter.products).await?;
            condition = condition.add(data_flow::Column::ActivityId.in_subquery(flows_with(
                activity_product::Column::ActivityId,
                activity_product::Entity,
                Condition::all().add(activity_product::Column::ProductId.is_in(ids)),
            )));
        }
        Ok(condition)
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
    /// How many flows `selection` selects. Counted once per generation of the registry (see
    /// [`super::memo`]); inside a batch, whose writes are not committed yet, always counted.
    pub async fn count_flows(&self, selection: &FlowSelection) -> Result<u64> {
        let query = data_flow::Entity::find().filter(selection.0.clone());
        if self.pool().is_none() {
            return Ok(query.count(self.db()).await?);
        }
        let statement =
            sea_orm::QueryTrait::build(&query, self.db().get_database_backend()).to_string();
        let generation = self.generation();
        if let Some(count) = self.counts.get(&statement, generation) {
            return Ok(count);
        }
        let count = query.count(self.db()).await?;
        if self.keeps(generation) {
            self.counts.put(statement, generation, count);
        }
        Ok(count)
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

    /// The exporter of each flow's transfers: who sends the data, its role, its regime.
    pub async fn flow_exporters(&self, ids: &[i32]) -> Result<HashMap<i32, Exporter>> {
        let flows = data_flow::Entity::find()
            .filter(data_flow::Column::Id.is_in(ids.iter().copied()))
            .all(self.db())
            .await?;
        let parties: Vec<FlowParties> = flows.iter().map(FlowParties::from).collect();
        let exporters = exporters_of(self.db(), &parties).await?;
        Ok(flows
            .iter()
            .filter_map(|f| Some((f.id, exporters.get(&FlowParties::from(f)).cloned()?)))
            .collect())
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
}
