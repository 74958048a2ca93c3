//! `Query.dataFlows`: the registry's data flows, filtered and paginated as a Relay connection.

use super::Limits;
use super::auth::VIEWER;
use super::connection::{Connection, PageItem, TotalCount};
use super::cursor::decode_after;
use super::enums::{
    LegalBasis, OrganizationRole, RecipientKind, RecipientRole, RecipientStatus, TransferMechanism,
    stored,
};
use super::error::ApiResult;
use super::loaders::{
    ActivityId, FlowCategories, FlowCountries, FlowSubjects, FlowTransfers, RecipientId,
    RequestLoader, preload,
};
use super::relay::expect_ids;
use super::types::DataFlow;
use crate::registry::{FlowFilter, Registry};
use async_graphql::{Context, ID, InputObject, Object};

/// Which data flows to return. Values within one field are alternatives; all given fields must
/// hold.
#[derive(InputObject, Default)]
pub struct DataFlowFilter {
    /// Flows to these recipients (IDs).
    recipients: Option<Vec<ID>>,
    /// Flows to recipients of these kinds.
    recipient_kinds: Option<Vec<RecipientKind>>,
    /// Flows to recipients in these lifecycle states.
    recipient_statuses: Option<Vec<RecipientStatus>>,
    /// Flows where the recipient plays one of these roles (its default unless the flow
    /// overrides it).
    roles: Option<Vec<RecipientRole>>,
    /// Flows sending data of these categories (keys); a category matches its descendants, so
    /// `contact` matches `contact.phone_number`.
    data_categories: Option<Vec<String>>,
    /// Flows concerning these data subject categories (keys), e.g. `end_users`.
    data_subjects: Option<Vec<String>>,
    /// Flows of activities serving these products (keys), e.g. `sms`.
    products: Option<Vec<String>>,
    /// Flows of these processing activities (IDs).
    activities: Option<Vec<ID>>,
    /// Flows of activities with these legal bases.
    legal_bases: Option<Vec<LegalBasis>>,
    /// Flows of activities where the organization has this role.
    organization_roles: Option<Vec<OrganizationRole>>,
    /// Flows to any of these destination countries (ISO 3166-1 alpha-2).
    countries: Option<Vec<String>>,
    /// true: flows with at least one destination outside the EEA; false: flows that stay in
    /// the EEA.
    outside_eea: Option<bool>,
    /// Flows with a transfer under one of these mechanisms.
    transfer_mechanisms: Option<Vec<TransferMechanism>>,
    /// Only flows that make their recipient a subprocessor.
    subprocessing_only: Option<bool>,
}

impl DataFlowFilter {
    fn into_registry(self) -> async_graphql::Result<FlowFilter> {
        Ok(FlowFilter {
            recipient_ids: expect_ids(
                "filter.recipients",
                "Recipient",
                &self.recipients.unwrap_or_default(),
            )?,
            activity_ids: expect_ids(
                "filter.activities",
                "ProcessingActivity",
                &self.activities.unwrap_or_default(),
            )?,
            recipient_kinds: stored(self.recipient_kinds),
            recipient_statuses: stored(self.recipient_statuses),
            roles: stored(self.roles),
            data_categories: self.data_categories.unwrap_or_default(),
            data_subjects: self.data_subjects.unwrap_or_default(),
            products: self.products.unwrap_or_default(),
            legal_bases: stored(self.legal_bases),
            organization_roles: stored(self.organization_roles),
            countries: self.countries.unwrap_or_default(),
            outside_eea: self.outside_eea,
            transfer_mechanisms: stored(self.transfer_mechanisms),
            subprocessing_only: self.subprocessing_only.unwrap_or(false),
        })
    }
}

impl PageItem for DataFlow {
    type Row = entity::data_flow::Model;

    fn row(&self) -> &Self::Row {
        &self.0
    }

    const READERS: Option<entity::Role> = Some(entity::Role::Viewer);
    const CONNECTION_DESCRIPTION: &'static str = "A page of data flows.";
    const EDGE_DESCRIPTION: &'static str = "A data flow of a page, with its cursor.";
}

/// A page of data flows.
pub type DataFlowConnection = Connection<DataFlow>;

/// The lookups of a relation of the page's flows, if the query selects it.
fn flow_keys<K>(flows: &[&entity::data_flow::Model], selected: bool, key: fn(i32) -> K) -> Vec<K> {
    if selected {
        flows.iter().map(|f| key(f.id)).collect()
    } else {
        Vec::new()
    }
}

/// Loads, in one batch per relation, what the query selects of the page's flows, so the page
/// costs the same few statements whatever its size.
async fn prime(
    ctx: &Context<'_>,
    flows: &[&entity::data_flow::Model],
) -> async_graphql::Result<()> {
    if flows.is_empty() {
        return Ok(());
    }
    let look = ctx.look_ahead();
    let edge_node = look.field("edges").field("node");
    let node = look.field("nodes");
    let selects = |field: &str| edge_node.field(field).exists() || node.field(field).exists();
    let loader = ctx.data::<RequestLoader>()?;
    let mut recipients: Vec<RecipientId> =
        flows.iter().map(|f| RecipientId(f.recipient_id)).collect();
    if selects("via") {
        recipients.extend(
            flows
                .iter()
                .filter_map(|f| f.via_recipient_id)
                .map(RecipientId),
        );
    }
    let activities: Vec<ActivityId> = flows.iter().map(|f| ActivityId(f.activity_id)).collect();
    let need_recipients =
        selects("recipient") || selects("role") || selects("isSubprocessing") || selects("via");
    let need_activities = selects("activity") || selects("isSubprocessing");
    let (r, a, c, s, n, t) = tokio::join!(
        preload(
            loader,
            if need_recipients {
                recipients
            } else {
                Vec::new()
            }
        ),
        preload(
            loader,
            if need_activities {
                activities
            } else {
                Vec::new()
            }
        ),
        preload(
            loader,
            flow_keys(flows, selects("dataCategories"), FlowCategories)
        ),
        preload(
            loader,
            flow_keys(flows, selects("dataSubjects"), FlowSubjects)
        ),
        preload(
            loader,
            flow_keys(flows, selects("countries"), FlowCountries)
        ),
        preload(
            loader,
            flow_keys(flows, selects("transfers"), FlowTransfers)
        ),
    );
    r.and(a).and(c).and(s).and(n).and(t).api()
}

#[derive(Default)]
pub struct FlowQuery;

#[Object(guard = "VIEWER")]
impl FlowQuery {
    /// The data flows to recipients, filtered: "which recipients outside the EEA receive end
    /// users' phone numbers, under which mechanism?" is
    /// `dataFlows(filter: {dataSubjects: ["end_users"], dataCategories: ["contact.phone_number"], outsideEea: true})`.
    async fn data_flows(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which data flows to return; every flow when absent.")] filter: Option<
            DataFlowFilter,
        >,
        #[graphql(desc = "Page size; the server's default when absent, at most its maximum.")]
        first: Option<i32>,
        #[graphql(desc = "Return the flows after this cursor.")] after: Option<String>,
    ) -> async_graphql::Result<DataFlowConnection> {
        let first = ctx.data::<Limits>()?.page_size(first)?;
        let after = decode_after(after.as_deref())?;
        let filter = filter.unwrap_or_default().into_registry()?;
        let registry = ctx.data::<Registry>()?;
        let selection = registry.select_flows(&filter).await.api()?;
        let page = registry.flows_page(&selection, after, first).await.api()?;
        let connection = Connection::new(
            page.map(DataFlow),
            after.as_ref(),
            TotalCount::of(selection, |registry, selection| async move {
                registry.count_flows(&selection).await
            }),
        );
        prime(ctx, &connection.items().map(|f| &f.0).collect::<Vec<_>>()).await?;
        Ok(connection)
    }
}
