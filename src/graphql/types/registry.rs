//! Recipients, data flows and processing activities.

use super::{
    Country, DataCategory, DataSubjectCategory, Product, Transfer, TransferExporter,
    TransferSafeguard, each, loader,
};
use crate::graphql::auth::VIEWER;
use crate::graphql::enums::{
    LegalBasis, OrganizationRole, RecipientKind, RecipientRole, RecipientStatus, RetentionStart,
};
use crate::graphql::error::ApiResult;
use crate::graphql::loaders::{
    ActivityCategories, ActivityFlows, ActivityId, ActivityProducts, ActivitySubjects,
    FlowCategories, FlowCountries, FlowExporter, FlowSubjects, FlowTransfers, RecipientFlows,
    RecipientId, RecipientIsSubprocessor, RecipientLocations, RecipientOnwardFlows,
};
use crate::graphql::relay::global_id;
use crate::registry::rules;
use async_graphql::{Context, ID, Object};
use chrono::{DateTime, Utc};
use entity::{data_flow, processing_activity, recipient};
use std::sync::Arc;

shared_row!(Recipient, recipient::Model);

/// Anyone who receives personal data from the organization (GDPR Art. 4(9)).
#[Object]
impl Recipient {
    /// Global ID.
    pub(super) async fn id(&self) -> ID {
        global_id("Recipient", self.0.id)
    }

    /// Stable human-readable identifier, e.g. `stripe`.
    async fn key(&self) -> &str {
        &self.0.key
    }

    /// The recipient's legal name.
    async fn legal_name(&self) -> &str {
        &self.0.legal_name
    }

    /// What kind of party the recipient is.
    async fn kind(&self) -> RecipientKind {
        self.0.kind.into()
    }

    /// The role the recipient plays unless a flow says otherwise.
    async fn default_role(&self) -> RecipientRole {
        self.0.default_role.into()
    }

    /// What the recipient does with the data.
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }

    /// Country of establishment.
    async fn country(&self) -> Option<Country> {
        Country::from_code(&self.0.country)
    }

    /// Countries where the recipient processes the data.
    async fn processing_locations(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Country>> {
        let codes = loader(ctx)?
            .load_one(RecipientLocations(self.0.id))
            .await
            .api()?;
        Ok(Country::list(&codes.unwrap_or_default()))
    }

    /// The safeguard covering the processing locations outside the EEA.
    async fn transfer_safeguard(&self) -> Option<TransferSafeguard> {
        self.0
            .transfer_mechanism
            .map(|mechanism| TransferSafeguard {
                mechanism,
                scc_module: self.0.scc_module,
                derogation: self.0.derogation,
                safeguards: self.0.derogation_safeguards.clone(),
                tia_date: self.0.tia_date,
            })
    }

    /// Reference of the data processing agreement (Art. 28(3)) or other contract.
    #[graphql(guard = "VIEWER")]
    async fn dpa_reference(&self) -> Option<&str> {
        self.0.dpa_reference.as_deref()
    }

    /// Certifications held, e.g. "ISO/IEC 27001:2013", "SOC 2 Type II".
    async fn certifications(&self) -> &[String] {
        &self.0.certifications.0
    }

    /// Certified under the EU-US Data Privacy Framework (US importers).
    async fn dpf_certified(&self) -> bool {
        self.0.dpf_certified
    }

    /// The recipient's website.
    async fn website(&self) -> Option<&str> {
        self.0.website.as_deref()
    }

    /// The recipient's privacy notice.
    async fn privacy_notice_url(&self) -> Option<&str> {
        self.0.privacy_notice_url.as_deref()
    }

    /// Where the recipient is in its lifecycle.
    async fn status(&self) -> RecipientStatus {
        self.0.status.into()
    }

    /// Listed on the public subprocessor list (true) or internal only (false).
    async fn public(&self) -> bool {
        self.0.public
    }

    /// Whether the recipient is a subprocessor: it acts as processor in a flow of an activity
    /// the organization performs as processor for its customers. Derived, never stored.
    async fn is_subprocessor(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        Ok(loader(ctx)?
            .load_one(RecipientIsSubprocessor(self.0.id))
            .await
            .api()?
            .unwrap_or(false))
    }

    /// The data flows to this recipient.
    #[graphql(guard = "VIEWER")]
    async fn data_flows(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<DataFlow>> {
        let flows = loader(ctx)?
            .load_one(RecipientFlows(self.0.id))
            .await
            .api()?;
        Ok(each(flows, DataFlow))
    }

    /// The data flows this recipient forwards to others (its own recipients).
    #[graphql(guard = "VIEWER")]
    async fn onward_flows(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<DataFlow>> {
        let flows = loader(ctx)?
            .load_one(RecipientOnwardFlows(self.0.id))
            .await
            .api()?;
        Ok(each(flows, DataFlow))
    }

    /// Assumptions recorded where the sources leave a fact open.
    #[graphql(guard = "VIEWER")]
    async fn assumptions(&self) -> &[String] {
        &self.0.assumptions.0
    }

    /// Where the recipient's facts come from.
    #[graphql(guard = "VIEWER")]
    async fn sources(&self) -> &[String] {
        &self.0.sources.0
    }

    /// When the recipient was added to the registry.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// When the recipient was last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

pub struct DataFlow(pub data_flow::Model);

impl DataFlow {
    async fn recipient_model(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Arc<recipient::Model>> {
        loader(ctx)?
            .load_one(RecipientId(self.0.recipient_id))
            .await
            .api()?
            .ok_or_else(|| "the flow's recipient is missing".into())
    }

    async fn effective_role(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<entity::RecipientRole> {
        let default_role = self.recipient_model(ctx).await?.default_role;
        Ok(rules::effective_role(self.0.role, default_role))
    }
}

/// A data flow: a processing activity sends some of its data to a recipient, in a role, to
/// some countries, with one transfer per destination outside the EEA.
#[Object(guard = "VIEWER")]
impl DataFlow {
    /// Global ID.
    pub(super) async fn id(&self) -> ID {
        global_id("DataFlow", self.0.id)
    }

    /// The processing activity the data comes from.
    async fn activity(&self, ctx: &Context<'_>) -> async_graphql::Result<ProcessingActivity> {
        loader(ctx)?
            .load_one(ActivityId(self.0.activity_id))
            .await
            .api()?
            .map(ProcessingActivity)
            .ok_or_else(|| "the flow's activity is missing".into())
    }

    /// Who receives the data.
    async fn recipient(&self, ctx: &Context<'_>) -> async_graphql::Result<Recipient> {
        Ok(Recipient(self.recipient_model(ctx).await?))
    }

    /// For an onward flow, the recipient that forwards the data (Segment forwarding to
    /// Mixpanel).
    async fn via(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Recipient>> {
        let Some(via) = self.0.via_recipient_id else {
            return Ok(None);
        };
        Ok(loader(ctx)?
            .load_one(RecipientId(via))
            .await
            .api()?
            .map(Recipient))
    }

    /// For a direct flow sent by one of the organization's establishments, that establishment
    /// (an affiliate); null when the organization sends it, or for an onward flow.
    async fn exporter_establishment(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<Recipient>> {
        let Some(id) = self.0.exporter_recipient_id else {
            return Ok(None);
        };
        Ok(loader(ctx)?
            .load_one(RecipientId(id))
            .await
            .api()?
            .map(Recipient))
    }

    /// Who exports this flow's transfers, in which role and under which regime.
    async fn exporter(&self, ctx: &Context<'_>) -> async_graphql::Result<TransferExporter> {
        loader(ctx)?
            .load_one(FlowExporter(self.0.id))
            .await
            .api()?
            .map(TransferExporter)
            .ok_or_else(|| "the flow's exporter is missing".into())
    }

    /// The recipient's role in this flow: the flow's own, or else the recipient's default.
    async fn role(&self, ctx: &Context<'_>) -> async_graphql::Result<RecipientRole> {
        Ok(self.effective_role(ctx).await?.into())
    }

    /// The role this flow sets, overriding the recipient's default; null when it does not.
    async fn role_override(&self) -> Option<RecipientRole> {
        self.0.role.map(Into::into)
    }

    /// Why the data is sent.
    async fn purpose(&self) -> Option<&str> {
        self.0.purpose.as_deref()
    }

    /// The categories of personal data sent.
    async fn data_categories(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<DataCategory>> {
        let rows = loader(ctx)?
            .load_one(FlowCategories(self.0.id))
            .await
            .api()?;
        Ok(each(rows, DataCategory))
    }

    /// The categories of data subjects the data is about.
    async fn data_subjects(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<DataSubjectCategory>> {
        let rows = loader(ctx)?.load_one(FlowSubjects(self.0.id)).await.api()?;
        Ok(each(rows, DataSubjectCategory))
    }

    /// The destination countries.
    async fn countries(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Country>> {
        let codes = loader(ctx)?
            .load_one(FlowCountries(self.0.id))
            .await
            .api()?;
        Ok(Country::list(&codes.unwrap_or_default()))
    }

    /// The transfers, one per destination outside the exporter's free-flow area (the EEA for
    /// an exporter under the EU GDPR); none where the recipient is a mere conduit.
    async fn transfers(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Transfer>> {
        let rows = loader(ctx)?
            .load_one(FlowTransfers(self.0.id))
            .await
            .api()?;
        Ok(each(rows, Transfer))
    }

    /// Whether this flow makes its recipient a subprocessor: the organization is processor in
    /// the activity and the recipient is processor in the flow.
    async fn is_subprocessing(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        let role = self.effective_role(ctx).await?;
        let activity = loader(ctx)?
            .load_one(ActivityId(self.0.activity_id))
            .await
            .api()?;
        Ok(activity.is_some_and(|a| rules::is_subprocessing(a.organization_role, role)))
    }

    /// The flows by which the recipient forwards this activity's data onward.
    async fn onward_flows(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<DataFlow>> {
        let flows = loader(ctx)?
            .load_one(RecipientOnwardFlows(self.0.recipient_id))
            .await
            .api()?;
        Ok(flows
            .iter()
            .flat_map(|flows| flows.iter())
            .filter(|f| f.activity_id == self.0.activity_id)
            .cloned()
            .map(DataFlow)
            .collect())
    }

    /// Assumptions recorded where the sources leave a fact open.
    async fn assumptions(&self) -> &[String] {
        &self.0.assumptions.0
    }

    /// Where the flow's facts come from.
    async fn sources(&self) -> &[String] {
        &self.0.sources.0
    }

    /// When the flow was added to the registry.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// When the flow was last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

pub struct Retention {
    period: Option<String>,
    from: Option<entity::RetentionStart>,
    reason: Option<String>,
}

/// How long an activity keeps personal data, from when, and why (Art. 30(1)(f)).
#[Object(guard = "VIEWER")]
impl Retention {
    /// ISO 8601 duration, e.g. `P6M` for six months; null for data kept for the duration of
    /// the contract.
    async fn period(&self) -> Option<&str> {
        self.period.as_deref()
    }

    /// What the period runs from, or DURATION_OF_CONTRACT; null where it was not recorded.
    async fn from(&self) -> Option<RetentionStart> {
        self.from.map(Into::into)
    }

    /// The time limit in words, as the record writes it ("12 months after the end of the
    /// contract").
    async fn text(&self) -> String {
        crate::ropa::retention_words(self.period.as_deref(), self.from)
    }

    /// Why the data is kept that long.
    async fn reason(&self) -> Option<&str> {
        self.reason.as_deref()
    }
}

shared_row!(ProcessingActivity, processing_activity::Model);

/// A processing activity: what the organization does with personal data, why, and on which
/// legal basis.
#[Object(guard = "VIEWER")]
impl ProcessingActivity {
    /// Global ID.
    pub(super) async fn id(&self) -> ID {
        global_id("ProcessingActivity", self.0.id)
    }

    /// Stable human-readable identifier.
    async fn key(&self) -> &str {
        &self.0.key
    }

    /// The activity's name.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// What the activity is.
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }

    /// Controller for the organization's own processing; processor on customers' behalf.
    async fn organization_role(&self) -> OrganizationRole {
        self.0.organization_role.into()
    }

    /// For processing on customers' behalf: the controllers, by category (Art. 30(2)(a)).
    async fn controllers(&self) -> &[String] {
        &self.0.controllers.0
    }

    /// The purposes of the processing (Art. 30(1)(b)).
    async fn purposes(&self) -> &[String] {
        &self.0.purposes.0
    }

    /// The lawful basis (Art. 6(1)).
    async fn legal_basis(&self) -> Option<LegalBasis> {
        self.0.legal_basis.map(Into::into)
    }

    /// The categories of data subjects (Art. 30(1)(c)).
    async fn data_subjects(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<DataSubjectCategory>> {
        let rows = loader(ctx)?
            .load_one(ActivitySubjects(self.0.id))
            .await
            .api()?;
        Ok(each(rows, DataSubjectCategory))
    }

    /// The categories of personal data (Art. 30(1)(c)).
    async fn data_categories(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<DataCategory>> {
        let rows = loader(ctx)?
            .load_one(ActivityCategories(self.0.id))
            .await
            .api()?;
        Ok(each(rows, DataCategory))
    }

    /// The products the activity serves.
    async fn products(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Product>> {
        let rows = loader(ctx)?
            .load_one(ActivityProducts(self.0.id))
            .await
            .api()?;
        Ok(each(rows, Product))
    }

    /// The time limit for erasure (Art. 30(1)(f)): a period and what it runs from, or the
    /// duration of the contract; null while none is recorded.
    async fn retention(&self) -> Option<Retention> {
        (self.0.retention_period.is_some() || self.0.retention_from.is_some()).then(|| Retention {
            period: self.0.retention_period.clone(),
            from: self.0.retention_from,
            reason: self.0.retention_reason.clone(),
        })
    }

    /// The technical and organisational security measures (Art. 30(1)(g), Art. 32(1)).
    async fn security_measures(&self) -> &[String] {
        &self.0.security_measures.0
    }

    /// The Art. 9(2) condition relied on where special categories are processed.
    async fn special_category_condition(&self) -> Option<&str> {
        self.0.special_category_condition.as_deref()
    }

    /// The activity's data flows to recipients.
    async fn data_flows(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<DataFlow>> {
        let flows = loader(ctx)?
            .load_one(ActivityFlows(self.0.id))
            .await
            .api()?;
        Ok(each(flows, DataFlow))
    }

    /// Assumptions recorded where the sources leave a fact open.
    async fn assumptions(&self) -> &[String] {
        &self.0.assumptions.0
    }

    /// Where the activity's facts come from.
    async fn sources(&self) -> &[String] {
        &self.0.sources.0
    }
}
