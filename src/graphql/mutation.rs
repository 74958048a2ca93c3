//! Mutations for everything an editor maintains. Each one is validated and written in one
//! transaction, with its change-log event, by the registry layer.

use super::auth::EDITOR;
use super::enums::{
    Derogation, LegalBasis, OrganizationRole, RecipientKind, RecipientRole, RecipientStatus,
    TransferMechanism,
};
use super::error::ApiResult;
use super::relay::expect_id;
use super::types::{
    DataCategory, DataFlow, DataSubjectCategory, Organization, ProcessingActivity, Product,
    Recipient,
};
use crate::registry::inputs as reg;
use crate::registry::{Actor, Registry};
use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object};
use chrono::NaiveDate;

/// A transfer safeguard under GDPR Chapter V.
#[derive(InputObject, Clone)]
pub struct TransferSafeguardInput {
    /// The instrument the transfer relies on.
    mechanism: TransferMechanism,
    /// Required with standard contractual clauses: module 1, 2, 3 or 4 of Decision 2021/914.
    scc_module: Option<i16>,
    /// Required with DEROGATION: the Art. 49 derogation relied on.
    derogation: Option<Derogation>,
    /// The documented safeguards; required for compelling legitimate interests.
    safeguards: Option<String>,
    /// Date of the transfer impact assessment.
    tia_date: Option<NaiveDate>,
}

impl From<TransferSafeguardInput> for reg::Safeguard {
    fn from(s: TransferSafeguardInput) -> Self {
        Self {
            mechanism: s.mechanism.into(),
            scc_module: s.scc_module,
            derogation: s.derogation.map(Into::into),
            safeguards: s.safeguards,
            tia_date: s.tia_date,
        }
    }
}

/// A transfer of a flow to one destination outside the EEA.
#[derive(InputObject, Clone)]
pub struct TransferInput {
    /// The destination country (ISO 3166-1 alpha-2), one of the flow's countries.
    country: String,
    /// The safeguard the transfer relies on.
    safeguard: TransferSafeguardInput,
}

impl From<TransferInput> for reg::TransferInput {
    fn from(t: TransferInput) -> Self {
        Self {
            country: t.country,
            safeguard: t.safeguard.into(),
        }
    }
}

/// A new recipient.
#[derive(InputObject)]
pub struct CreateRecipientInput {
    /// Stable identifier: lowercase letters, digits and underscores.
    key: String,
    legal_name: String,
    kind: RecipientKind,
    default_role: RecipientRole,
    description: Option<String>,
    /// Country of establishment (ISO 3166-1 alpha-2).
    country: String,
    /// Countries where the recipient processes the data.
    #[graphql(default)]
    processing_locations: Vec<String>,
    /// Required when a processing location is outside the EEA and the recipient is announced
    /// or active.
    transfer_safeguard: Option<TransferSafeguardInput>,
    dpa_reference: Option<String>,
    #[graphql(default)]
    certifications: Vec<String>,
    #[graphql(default)]
    dpf_certified: bool,
    website: Option<String>,
    privacy_notice_url: Option<String>,
    /// PROPOSED when absent.
    status: Option<RecipientStatus>,
    /// Whether the recipient appears on the public subprocessor list.
    #[graphql(default)]
    public: bool,
    #[graphql(default)]
    assumptions: Vec<String>,
    #[graphql(default)]
    sources: Vec<String>,
}

/// Changes to a recipient: absent fields stay as they are; `null` clears an optional one.
#[derive(InputObject, Default)]
pub struct UpdateRecipientInput {
    key: Option<String>,
    legal_name: Option<String>,
    kind: Option<RecipientKind>,
    default_role: Option<RecipientRole>,
    description: MaybeUndefined<String>,
    country: Option<String>,
    processing_locations: Option<Vec<String>>,
    transfer_safeguard: MaybeUndefined<TransferSafeguardInput>,
    dpa_reference: MaybeUndefined<String>,
    certifications: Option<Vec<String>>,
    dpf_certified: Option<bool>,
    website: MaybeUndefined<String>,
    privacy_notice_url: MaybeUndefined<String>,
    status: Option<RecipientStatus>,
    public: Option<bool>,
    assumptions: Option<Vec<String>>,
    sources: Option<Vec<String>>,
}

/// `Some(None)` for an explicit null, `None` for an absent field.
fn patch<T, U: From<T>>(value: MaybeUndefined<T>) -> Option<Option<U>> {
    match value {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(v) => Some(Some(v.into())),
    }
}

/// A new data flow.
#[derive(InputObject)]
pub struct CreateDataFlowInput {
    /// The processing activity the data comes from.
    activity_id: ID,
    /// The recipient.
    recipient_id: ID,
    /// For an onward flow, the recipient that forwards the data.
    via_recipient_id: Option<ID>,
    /// The recipient's role in this flow, when it differs from its default role.
    role: Option<RecipientRole>,
    purpose: Option<String>,
    /// Data category keys, each processed by the activity (or a descendant of one).
    data_categories: Vec<String>,
    /// Data subject category keys, each concerned by the activity.
    data_subjects: Vec<String>,
    /// Destination countries (ISO 3166-1 alpha-2).
    countries: Vec<String>,
    /// One transfer per destination outside the EEA.
    #[graphql(default)]
    transfers: Vec<TransferInput>,
    #[graphql(default)]
    assumptions: Vec<String>,
    #[graphql(default)]
    sources: Vec<String>,
}

/// Changes to a data flow: absent fields stay as they are; `null` clears an optional one.
#[derive(InputObject, Default)]
pub struct UpdateDataFlowInput {
    activity_id: Option<ID>,
    recipient_id: Option<ID>,
    via_recipient_id: MaybeUndefined<ID>,
    role: MaybeUndefined<RecipientRole>,
    purpose: MaybeUndefined<String>,
    data_categories: Option<Vec<String>>,
    data_subjects: Option<Vec<String>>,
    countries: Option<Vec<String>>,
    transfers: Option<Vec<TransferInput>>,
    assumptions: Option<Vec<String>>,
    sources: Option<Vec<String>>,
}

/// A new processing activity.
#[derive(InputObject)]
pub struct CreateProcessingActivityInput {
    key: String,
    name: String,
    description: Option<String>,
    organization_role: OrganizationRole,
    /// For processing on customers' behalf: the controllers, by category (Art. 30(2)(a)).
    #[graphql(default)]
    controllers: Vec<String>,
    purposes: Vec<String>,
    legal_basis: Option<LegalBasis>,
    data_subjects: Vec<String>,
    data_categories: Vec<String>,
    #[graphql(default)]
    products: Vec<String>,
    /// ISO 8601 duration: P6M, P10Y, P30D.
    retention_period: Option<String>,
    retention_reason: Option<String>,
    #[graphql(default)]
    security_measures: Vec<String>,
    special_category_condition: Option<String>,
    #[graphql(default)]
    assumptions: Vec<String>,
    #[graphql(default)]
    sources: Vec<String>,
}

/// Changes to a processing activity: absent fields stay as they are; `null` clears an optional
/// one.
#[derive(InputObject, Default)]
pub struct UpdateProcessingActivityInput {
    key: Option<String>,
    name: Option<String>,
    description: MaybeUndefined<String>,
    organization_role: Option<OrganizationRole>,
    controllers: Option<Vec<String>>,
    purposes: Option<Vec<String>>,
    legal_basis: MaybeUndefined<LegalBasis>,
    data_subjects: Option<Vec<String>>,
    data_categories: Option<Vec<String>>,
    products: Option<Vec<String>>,
    retention_period: MaybeUndefined<String>,
    retention_reason: MaybeUndefined<String>,
    security_measures: Option<Vec<String>>,
    special_category_condition: MaybeUndefined<String>,
    assumptions: Option<Vec<String>>,
    sources: Option<Vec<String>>,
}

/// A data category; its parent is the key without its last segment.
#[derive(InputObject)]
pub struct DataCategoryInput {
    key: String,
    name: String,
    description: Option<String>,
    #[graphql(default)]
    special_category: bool,
    fides_key: Option<String>,
}

/// A data subject category or a product.
#[derive(InputObject)]
pub struct TermInput {
    key: String,
    name: String,
    description: Option<String>,
}

/// The organization's details.
#[derive(InputObject)]
pub struct OrganizationInput {
    name: String,
    address: String,
    country: String,
    dpo_name: String,
    dpo_email: String,
    dpo_address: Option<String>,
    representative: Option<String>,
    #[graphql(default)]
    sources: Vec<String>,
}

fn context<'a>(ctx: &'a Context<'_>) -> async_graphql::Result<(&'a Registry, &'a Actor)> {
    Ok((ctx.data::<Registry>()?, ctx.data::<Actor>()?))
}

#[derive(Default)]
pub struct RegistryMutation;

#[Object(guard = "EDITOR")]
impl RegistryMutation {
    /// Adds a recipient.
    async fn create_recipient(
        &self,
        ctx: &Context<'_>,
        input: CreateRecipientInput,
        #[graphql(desc = "Why, for the change log.")] reason: Option<String>,
    ) -> async_graphql::Result<Recipient> {
        let (registry, actor) = context(ctx)?;
        let input = reg::RecipientInput::from(input);
        let created = registry
            .create_recipient(input, actor, reason.as_deref())
            .await
            .api()?;
        Ok(Recipient(created))
    }

    /// Changes a recipient.
    async fn update_recipient(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateRecipientInput,
        #[graphql(desc = "Why, for the change log.")] reason: Option<String>,
    ) -> async_graphql::Result<Recipient> {
        let (registry, actor) = context(ctx)?;
        let id = expect_id("id", "Recipient", &id)?;
        let changes = reg::RecipientPatch::from(input);
        let updated = registry
            .update_recipient(id, changes, actor, reason.as_deref())
            .await
            .api()?;
        Ok(Recipient(updated))
    }

    /// Removes a recipient that has no data flows; returns its ID. Retire it instead to keep
    /// it in the record.
    async fn delete_recipient(
        &self,
        ctx: &Context<'_>,
        id: ID,
        #[graphql(desc = "Why, for the change log.")] reason: Option<String>,
    ) -> async_graphql::Result<ID> {
        let (registry, actor) = context(ctx)?;
        let row = expect_id("id", "Recipient", &id)?;
        registry
            .delete_recipient(row, actor, reason.as_deref())
            .await
            .api()?;
        Ok(id)
    }

    /// Adds a data flow.
    async fn create_data_flow(
        &self,
        ctx: &Context<'_>,
        input: CreateDataFlowInput,
        #[graphql(desc = "Why, for the change log.")] reason: Option<String>,
    ) -> async_graphql::Result<DataFlow> {
        let (registry, actor) = context(ctx)?;
        let input = reg::FlowInput::try_from(input)?;
        let created = registry
            .create_flow(input, actor, reason.as_deref())
            .await
            .api()?;
        Ok(DataFlow(created))
    }

    /// Changes a data flow.
    async fn update_data_flow(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateDataFlowInput,
        #[graphql(desc = "Why, for the change log.")] reason: Option<String>,
    ) -> async_graphql::Result<DataFlow> {
        let (registry, actor) = context(ctx)?;
        let id = expect_id("id", "DataFlow", &id)?;
        let changes = reg::FlowPatch::try_from(input)?;
        let updated = registry
            .update_flow(id, changes, actor, reason.as_deref())
            .await
            .api()?;
        Ok(DataFlow(updated))
    }

    /// Removes a data flow; returns its ID.
    async fn delete_data_flow(
        &self,
        ctx: &Context<'_>,
        id: ID,
        #[graphql(desc = "Why, for the change log.")] reason: Option<String>,
    ) -> async_graphql::Result<ID> {
        let (registry, actor) = context(ctx)?;
        let row = expect_id("id", "DataFlow", &id)?;
        registry
            .delete_flow(row, actor, reason.as_deref())
            .await
            .api()?;
        Ok(id)
    }

    /// Adds a processing activity.
    async fn create_processing_activity(
        &self,
        ctx: &Context<'_>,
        input: CreateProcessingActivityInput,
        #[graphql(desc = "Why, for the change log.")] reason: Option<String>,
    ) -> async_graphql::Result<ProcessingActivity> {
        let (registry, actor) = context(ctx)?;
        let input = reg::ActivityInput::from(input);
        let created = registry
            .create_activity(input, actor, reason.as_deref())
            .await
            .api()?;
        Ok(ProcessingActivity(created))
    }

    /// Changes a processing activity.
    async fn update_processing_activity(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateProcessingActivityInput,
        #[graphql(desc = "Why, for the change log.")] reason: Option<String>,
    ) -> async_graphql::Result<ProcessingActivity> {
        let (registry, actor) = context(ctx)?;
        let id = expect_id("id", "ProcessingActivity", &id)?;
        let changes = reg::ActivityPatch::from(input);
        let updated = registry
            .update_activity(id, changes, actor, reason.as_deref())
            .await
            .api()?;
        Ok(ProcessingActivity(updated))
    }

    /// Removes a processing activity that has no data flows; returns its ID.
    async fn delete_processing_activity(
        &self,
        ctx: &Context<'_>,
        id: ID,
        #[graphql(desc = "Why, for the change log.")] reason: Option<String>,
    ) -> async_graphql::Result<ID> {
        let (registry, actor) = context(ctx)?;
        let row = expect_id("id", "ProcessingActivity", &id)?;
        registry
            .delete_activity(row, actor, reason.as_deref())
            .await
            .api()?;
        Ok(id)
    }

    /// Adds a data category under its parent.
    async fn create_data_category(
        &self,
        ctx: &Context<'_>,
        input: DataCategoryInput,
    ) -> async_graphql::Result<DataCategory> {
        let (registry, _) = context(ctx)?;
        let created = registry.create_data_category(input.into()).await.api()?;
        Ok(DataCategory(created))
    }

    /// Changes a data category's name, description, Art. 9 flag or fideslang key.
    async fn update_data_category(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: DataCategoryInput,
    ) -> async_graphql::Result<DataCategory> {
        let (registry, _) = context(ctx)?;
        let id = expect_id("id", "DataCategory", &id)?;
        let updated = registry
            .update_data_category(id, input.into())
            .await
            .api()?;
        Ok(DataCategory(updated))
    }

    /// Removes a data category that nothing uses; returns its ID.
    async fn delete_data_category(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<ID> {
        let (registry, _) = context(ctx)?;
        registry
            .delete_data_category(expect_id("id", "DataCategory", &id)?)
            .await
            .api()?;
        Ok(id)
    }

    /// Adds a data subject category.
    async fn create_data_subject_category(
        &self,
        ctx: &Context<'_>,
        input: TermInput,
    ) -> async_graphql::Result<DataSubjectCategory> {
        let (registry, _) = context(ctx)?;
        let created = registry.create_data_subject(input.into()).await.api()?;
        Ok(DataSubjectCategory(created))
    }

    /// Removes a data subject category that nothing uses; returns its ID.
    async fn delete_data_subject_category(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<ID> {
        let (registry, _) = context(ctx)?;
        registry
            .delete_data_subject(expect_id("id", "DataSubjectCategory", &id)?)
            .await
            .api()?;
        Ok(id)
    }

    /// Adds a product.
    async fn create_product(
        &self,
        ctx: &Context<'_>,
        input: TermInput,
    ) -> async_graphql::Result<Product> {
        let (registry, _) = context(ctx)?;
        let created = registry.create_product(input.into()).await.api()?;
        Ok(Product(created))
    }

    /// Removes a product no activity serves; returns its ID.
    async fn delete_product(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<ID> {
        let (registry, _) = context(ctx)?;
        registry
            .delete_product(expect_id("id", "Product", &id)?)
            .await
            .api()?;
        Ok(id)
    }

    /// Records the organization's details.
    async fn update_organization(
        &self,
        ctx: &Context<'_>,
        input: OrganizationInput,
    ) -> async_graphql::Result<Organization> {
        let (registry, _) = context(ctx)?;
        let saved = registry.set_organization(input.into()).await.api()?;
        Ok(Organization(saved))
    }
}

// Conversions into the registry's inputs: each GraphQL input says once how it maps.

impl From<CreateRecipientInput> for reg::RecipientInput {
    fn from(input: CreateRecipientInput) -> Self {
        Self {
            key: input.key,
            legal_name: input.legal_name,
            kind: input.kind.into(),
            default_role: input.default_role.into(),
            description: input.description,
            country: input.country,
            processing_locations: input.processing_locations,
            transfer: input.transfer_safeguard.map(Into::into),
            dpa_reference: input.dpa_reference,
            certifications: input.certifications,
            dpf_certified: input.dpf_certified,
            website: input.website,
            privacy_notice_url: input.privacy_notice_url,
            status: input
                .status
                .map_or(entity::RecipientStatus::Proposed, Into::into),
            public: input.public,
            assumptions: input.assumptions,
            sources: input.sources,
        }
    }
}

impl From<UpdateRecipientInput> for reg::RecipientPatch {
    fn from(input: UpdateRecipientInput) -> Self {
        Self {
            key: input.key,
            legal_name: input.legal_name,
            kind: input.kind.map(Into::into),
            default_role: input.default_role.map(Into::into),
            description: patch(input.description),
            country: input.country,
            processing_locations: input.processing_locations,
            transfer: patch(input.transfer_safeguard),
            dpa_reference: patch(input.dpa_reference),
            certifications: input.certifications,
            dpf_certified: input.dpf_certified,
            website: patch(input.website),
            privacy_notice_url: patch(input.privacy_notice_url),
            status: input.status.map(Into::into),
            public: input.public,
            assumptions: input.assumptions,
            sources: input.sources,
        }
    }
}

/// The row id behind a global ID in an input field, as `input.<field>`.
fn input_id(field: &str, type_name: &str, id: &ID) -> async_graphql::Result<i32> {
    expect_id(&format!("input.{field}"), type_name, id)
}

impl TryFrom<CreateDataFlowInput> for reg::FlowInput {
    type Error = async_graphql::Error;

    fn try_from(input: CreateDataFlowInput) -> async_graphql::Result<Self> {
        Ok(Self {
            activity: input_id("activityId", "ProcessingActivity", &input.activity_id)?,
            recipient: input_id("recipientId", "Recipient", &input.recipient_id)?,
            via: input
                .via_recipient_id
                .map(|id| input_id("viaRecipientId", "Recipient", &id))
                .transpose()?,
            role: input.role.map(Into::into),
            purpose: input.purpose,
            data_categories: input.data_categories,
            data_subjects: input.data_subjects,
            countries: input.countries,
            transfers: input.transfers.into_iter().map(Into::into).collect(),
            assumptions: input.assumptions,
            sources: input.sources,
        })
    }
}

impl TryFrom<UpdateDataFlowInput> for reg::FlowPatch {
    type Error = async_graphql::Error;

    fn try_from(input: UpdateDataFlowInput) -> async_graphql::Result<Self> {
        let via = match input.via_recipient_id {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => Some(None),
            MaybeUndefined::Value(id) => Some(Some(input_id("viaRecipientId", "Recipient", &id)?)),
        };
        Ok(Self {
            activity: input
                .activity_id
                .map(|id| input_id("activityId", "ProcessingActivity", &id))
                .transpose()?,
            recipient: input
                .recipient_id
                .map(|id| input_id("recipientId", "Recipient", &id))
                .transpose()?,
            via,
            role: patch(input.role),
            purpose: patch(input.purpose),
            data_categories: input.data_categories,
            data_subjects: input.data_subjects,
            countries: input.countries,
            transfers: input
                .transfers
                .map(|t| t.into_iter().map(Into::into).collect()),
            assumptions: input.assumptions,
            sources: input.sources,
        })
    }
}

impl From<CreateProcessingActivityInput> for reg::ActivityInput {
    fn from(input: CreateProcessingActivityInput) -> Self {
        Self {
            key: input.key,
            name: input.name,
            description: input.description,
            organization_role: input.organization_role.into(),
            controllers: input.controllers,
            purposes: input.purposes,
            legal_basis: input.legal_basis.map(Into::into),
            data_subjects: input.data_subjects,
            data_categories: input.data_categories,
            products: input.products,
            retention_period: input.retention_period,
            retention_reason: input.retention_reason,
            security_measures: input.security_measures,
            special_category_condition: input.special_category_condition,
            assumptions: input.assumptions,
            sources: input.sources,
        }
    }
}

impl From<UpdateProcessingActivityInput> for reg::ActivityPatch {
    fn from(input: UpdateProcessingActivityInput) -> Self {
        Self {
            key: input.key,
            name: input.name,
            description: patch(input.description),
            organization_role: input.organization_role.map(Into::into),
            controllers: input.controllers,
            purposes: input.purposes,
            legal_basis: patch(input.legal_basis),
            data_subjects: input.data_subjects,
            data_categories: input.data_categories,
            products: input.products,
            retention_period: patch(input.retention_period),
            retention_reason: patch(input.retention_reason),
            security_measures: input.security_measures,
            special_category_condition: patch(input.special_category_condition),
            assumptions: input.assumptions,
            sources: input.sources,
        }
    }
}

impl From<DataCategoryInput> for reg::DataCategoryInput {
    fn from(input: DataCategoryInput) -> Self {
        Self {
            key: input.key,
            name: input.name,
            description: input.description,
            special_category: input.special_category,
            fides_key: input.fides_key,
        }
    }
}

impl From<TermInput> for reg::TermInput {
    fn from(input: TermInput) -> Self {
        Self {
            key: input.key,
            name: input.name,
            description: input.description,
        }
    }
}

impl From<OrganizationInput> for reg::OrganizationInput {
    fn from(input: OrganizationInput) -> Self {
        Self {
            name: input.name,
            address: input.address,
            country: input.country,
            dpo_name: input.dpo_name,
            dpo_email: input.dpo_email,
            dpo_address: input.dpo_address,
            representative: input.representative,
            sources: input.sources,
        }
    }
}
