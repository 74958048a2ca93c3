//! Mutations for everything an editor maintains. Each one is validated and written in one
//! transaction, with its change-log event, by the registry layer.

use super::auth::EDITOR;
use super::enums::{
    Derogation, LegalBasis, OrganizationRole, RecipientKind, RecipientRole, RecipientStatus,
    RetentionStart, TransferMechanism,
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
    /// The instrument the transfer relies on; it must exist under the exporter's regime (the
    /// UK IDTA and Addendum only under the UK GDPR, the EU clauses alone not under it).
    mechanism: TransferMechanism,
    /// With standard contractual clauses (or the UK Addendum): module 1, 2, 3 or 4 of Decision
    /// 2021/914. On a flow it follows from the roles and is filled in when absent; one that
    /// contradicts them is refused. A recipient's summary safeguard names it.
    scc_module: Option<i32>,
    /// Required with DEROGATION: the Art. 49 derogation relied on (refused where an adequacy
    /// decision covers the importer).
    derogation: Option<Derogation>,
    /// What Art. 49(6) asks the record to document: why a derogation applies (required for
    /// (1)(a), (b), (c) and (e), since a flow recurs), the suitable safeguards for compelling
    /// legitimate interests, or, for SCCs where no module fits the roles, the position taken.
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

/// A new recipient: anyone the organization will pass personal data to (GDPR Art. 4(9)).
#[derive(InputObject)]
pub struct CreateRecipientInput {
    /// Stable identifier: 1 to 64 lowercase letters, digits and underscores, starting with a
    /// letter, e.g. `stripe`. Unique among recipients.
    key: String,
    /// The recipient's legal name, as in its contract, e.g. "Stripe Payments Europe, Ltd.".
    legal_name: String,
    /// What kind of party the recipient is.
    kind: RecipientKind,
    /// The role the recipient plays for the data it receives (controller, joint controller,
    /// processor or mere conduit), unless a data flow sets its own.
    default_role: RecipientRole,
    /// What the recipient does with the data, in a sentence or two.
    description: Option<String>,
    /// Country of establishment (ISO 3166-1 alpha-2).
    country: String,
    /// Countries where the recipient processes the data (ISO 3166-1 alpha-2); none when
    /// absent. These are the processing locations the subprocessor list shows customers.
    #[graphql(default)]
    processing_locations: Vec<String>,
    /// The GDPR Chapter V transfer mechanism covering the processing locations outside the
    /// EEA. Required when there is such a location and the recipient is announced or active;
    /// refused when every location is in the EEA.
    transfer_safeguard: Option<TransferSafeguardInput>,
    /// Reference of the data processing agreement (Art. 28(3)) or other contract with the
    /// recipient. Internal: shown to API key holders only.
    dpa_reference: Option<String>,
    /// Certifications the recipient holds, e.g. "ISO/IEC 27001:2013", "SOC 2 Type II"; none
    /// when absent.
    #[graphql(default)]
    certifications: Vec<String>,
    /// Whether the recipient is certified under the EU-US Data Privacy Framework; an adequacy
    /// transfer to a US recipient relies on it (Decision 2023/1795). False when absent.
    #[graphql(default)]
    dpf_certified: bool,
    /// The recipient's website: an http or https URL with a host.
    website: Option<String>,
    /// The recipient's privacy notice: an http or https URL with a host.
    privacy_notice_url: Option<String>,
    /// Where the recipient starts in its lifecycle; PROPOSED when absent. A recipient on the
    /// public list starts PROPOSED and reaches customers through `announceRecipient` and its
    /// notice period; an internal one may start ACTIVE.
    status: Option<RecipientStatus>,
    /// Whether the recipient appears on the public subprocessor list (once announced or
    /// active). False when absent: internal.
    #[graphql(default)]
    public: bool,
    /// Assumptions made where the sources leave a fact open; none when absent. Internal.
    #[graphql(default)]
    assumptions: Vec<String>,
    /// Where the recipient's facts come from (a privacy statement, a contract); none when
    /// absent. Internal.
    #[graphql(default)]
    sources: Vec<String>,
}

/// Changes to a recipient: absent fields stay as they are; `null` clears an optional one.
#[derive(InputObject, Default)]
pub struct UpdateRecipientInput {
    /// A new stable identifier: 1 to 64 lowercase letters, digits and underscores, starting
    /// with a letter.
    key: Option<String>,
    /// The recipient's legal name.
    legal_name: Option<String>,
    /// What kind of party the recipient is.
    kind: Option<RecipientKind>,
    /// The role the recipient plays unless a data flow sets its own.
    default_role: Option<RecipientRole>,
    /// What the recipient does with the data; `null` clears it.
    description: MaybeUndefined<String>,
    /// Country of establishment (ISO 3166-1 alpha-2).
    country: Option<String>,
    /// Countries where the recipient processes the data (ISO 3166-1 alpha-2), replacing the
    /// recorded ones.
    processing_locations: Option<Vec<String>>,
    /// The GDPR Chapter V transfer mechanism covering the processing locations outside the
    /// EEA, replacing the recorded one; `null` clears it (refused while an announced or active
    /// recipient processes outside the EEA).
    transfer_safeguard: MaybeUndefined<TransferSafeguardInput>,
    /// Reference of the data processing agreement (Art. 28(3)) or other contract; `null`
    /// clears it.
    dpa_reference: MaybeUndefined<String>,
    /// Certifications held, replacing the recorded ones.
    certifications: Option<Vec<String>>,
    /// Whether the recipient is certified under the EU-US Data Privacy Framework.
    dpf_certified: Option<bool>,
    /// The recipient's website (an http or https URL); `null` clears it.
    website: MaybeUndefined<String>,
    /// The recipient's privacy notice (an http or https URL); `null` clears it.
    privacy_notice_url: MaybeUndefined<String>,
    /// A new lifecycle state. Announcing goes through `announceRecipient`, and a public
    /// recipient becomes active only once its notice period has run; retiring is always
    /// possible.
    status: Option<RecipientStatus>,
    /// Whether the recipient appears on the public subprocessor list. An announced or active
    /// recipient cannot join the list directly: set it back to PROPOSED and announce it, so
    /// customers get their notice period.
    public: Option<bool>,
    /// Assumptions made where the sources leave a fact open, replacing the recorded ones.
    assumptions: Option<Vec<String>>,
    /// Where the recipient's facts come from, replacing the recorded sources.
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

/// A new data flow: a processing activity sends some of its data categories, about some of its
/// data subjects, to a recipient in a role, to some countries.
#[derive(InputObject)]
pub struct CreateDataFlowInput {
    /// The processing activity the data comes from (its ID).
    activity_id: ID,
    /// The recipient (its ID).
    recipient_id: ID,
    /// For an onward flow, the recipient that forwards the data (its ID), e.g. Segment
    /// forwarding to Mixpanel: the exporter of its transfers.
    via_recipient_id: Option<ID>,
    /// For a direct flow sent by one of the organization's establishments rather than the
    /// organization itself, that establishment (an AFFILIATE recipient's ID): the exporter,
    /// whose country sets the regime (MessageBird UK Limited: the UK GDPR).
    exporter_id: Option<ID>,
    /// The recipient's role in this flow, when it differs from its default role: a carrier is
    /// a mere conduit for message content and a controller for its own billing.
    role: Option<RecipientRole>,
    /// Why the data is sent to this recipient.
    purpose: Option<String>,
    /// Data category keys, each processed by the activity (or a descendant of one).
    data_categories: Vec<String>,
    /// Data subject category keys, each concerned by the activity.
    data_subjects: Vec<String>,
    /// Destination countries (ISO 3166-1 alpha-2).
    countries: Vec<String>,
    /// One transfer per destination outside the exporter's free-flow area (the EEA under the
    /// EU GDPR), with its Chapter V mechanism; none for a mere conduit; none when absent.
    #[graphql(default)]
    transfers: Vec<TransferInput>,
    /// Assumptions made where the sources leave a fact open; none when absent.
    #[graphql(default)]
    assumptions: Vec<String>,
    /// Where the flow's facts come from; none when absent.
    #[graphql(default)]
    sources: Vec<String>,
}

/// Changes to a data flow: absent fields stay as they are; `null` clears an optional one.
#[derive(InputObject, Default)]
pub struct UpdateDataFlowInput {
    /// The processing activity the data comes from (its ID).
    activity_id: Option<ID>,
    /// The recipient (its ID). Moving a flow between a recipient on the public subprocessor
    /// list and one off it reaches customers as the flow leaving or joining the list.
    recipient_id: Option<ID>,
    /// For an onward flow, the recipient that forwards the data (its ID); `null` makes it a
    /// direct flow.
    via_recipient_id: MaybeUndefined<ID>,
    /// The exporting establishment of a direct flow (an AFFILIATE recipient's ID); `null`: the
    /// organization exports it.
    exporter_id: MaybeUndefined<ID>,
    /// The recipient's role in this flow; `null` falls back to the recipient's default role.
    role: MaybeUndefined<RecipientRole>,
    /// Why the data is sent; `null` clears it.
    purpose: MaybeUndefined<String>,
    /// Data category keys, replacing the recorded ones; each processed by the activity (or a
    /// descendant of one).
    data_categories: Option<Vec<String>>,
    /// Data subject category keys, replacing the recorded ones; each concerned by the activity.
    data_subjects: Option<Vec<String>>,
    /// Destination countries (ISO 3166-1 alpha-2), replacing the recorded ones.
    countries: Option<Vec<String>>,
    /// The transfers to destinations outside the EEA, one per country, replacing the recorded
    /// ones.
    transfers: Option<Vec<TransferInput>>,
    /// Assumptions made where the sources leave a fact open, replacing the recorded ones.
    assumptions: Option<Vec<String>>,
    /// Where the flow's facts come from, replacing the recorded sources.
    sources: Option<Vec<String>>,
}

/// A new processing activity: what the organization does with personal data, why and on
/// which legal basis (an entry of the record of processing activities, GDPR Art. 30).
#[derive(InputObject)]
pub struct CreateProcessingActivityInput {
    /// Stable identifier: 1 to 64 lowercase letters, digits and underscores, starting with a
    /// letter, e.g. `sms_delivery`. Unique among activities.
    key: String,
    /// The activity's name, e.g. "SMS messaging".
    name: String,
    /// What the activity is.
    description: Option<String>,
    /// CONTROLLER for the organization's own processing (recorded under Art. 30(1)),
    /// PROCESSOR for processing on customers' behalf (Art. 30(2)).
    organization_role: OrganizationRole,
    /// For processing on customers' behalf: the controllers, by category (Art. 30(2)(a)).
    #[graphql(default)]
    controllers: Vec<String>,
    /// The purposes of the processing (Art. 30(1)(b)).
    purposes: Vec<String>,
    /// The lawful basis (Art. 6(1)); a finding in the record while absent.
    legal_basis: Option<LegalBasis>,
    /// The data subject category keys concerned (Art. 30(1)(c)).
    data_subjects: Vec<String>,
    /// The data category keys processed (Art. 30(1)(c)); a flow of the activity may send
    /// these or their descendants.
    data_categories: Vec<String>,
    /// The product keys the activity serves; none when absent.
    #[graphql(default)]
    products: Vec<String>,
    /// The time limit for erasure (Art. 30(1)(f)) as an ISO 8601 period with one unit: P6M,
    /// P10Y, P2W, P30D, counted from `retentionFrom`.
    retention_period: Option<String>,
    /// What the period runs from; DURATION_OF_CONTRACT, with no period, for data kept as long
    /// as the contract runs. Required with a period.
    retention_from: Option<RetentionStart>,
    /// Why the data is kept that long.
    retention_reason: Option<String>,
    /// The technical and organisational security measures (Art. 30(1)(g), Art. 32(1)); none
    /// when absent.
    #[graphql(default)]
    security_measures: Vec<String>,
    /// The Art. 9(2) condition relied on where special categories of data are processed.
    special_category_condition: Option<String>,
    /// Assumptions made where the sources leave a fact open; none when absent.
    #[graphql(default)]
    assumptions: Vec<String>,
    /// Where the activity's facts come from; none when absent.
    #[graphql(default)]
    sources: Vec<String>,
}

/// Changes to a processing activity: absent fields stay as they are; `null` clears an optional
/// one.
#[derive(InputObject, Default)]
pub struct UpdateProcessingActivityInput {
    /// A new stable identifier: 1 to 64 lowercase letters, digits and underscores, starting
    /// with a letter.
    key: Option<String>,
    /// The activity's name.
    name: Option<String>,
    /// What the activity is; `null` clears it.
    description: MaybeUndefined<String>,
    /// The organization's role: CONTROLLER (Art. 30(1)) or PROCESSOR (Art. 30(2)).
    organization_role: Option<OrganizationRole>,
    /// For processing on customers' behalf: the controllers, by category (Art. 30(2)(a)),
    /// replacing the recorded ones.
    controllers: Option<Vec<String>>,
    /// The purposes of the processing (Art. 30(1)(b)), replacing the recorded ones.
    purposes: Option<Vec<String>>,
    /// The lawful basis (Art. 6(1)); `null` clears it.
    legal_basis: MaybeUndefined<LegalBasis>,
    /// The data subject category keys concerned, replacing the recorded ones.
    data_subjects: Option<Vec<String>>,
    /// The data category keys processed, replacing the recorded ones.
    data_categories: Option<Vec<String>>,
    /// The product keys the activity serves, replacing the recorded ones.
    products: Option<Vec<String>>,
    /// The time limit for erasure (Art. 30(1)(f)), an ISO 8601 period such as P6M; `null`
    /// clears it.
    retention_period: MaybeUndefined<String>,
    /// What the period runs from, or DURATION_OF_CONTRACT; `null` clears it.
    retention_from: MaybeUndefined<RetentionStart>,
    /// Why the data is kept that long; `null` clears it.
    retention_reason: MaybeUndefined<String>,
    /// The technical and organisational security measures (Art. 30(1)(g)), replacing the
    /// recorded ones.
    security_measures: Option<Vec<String>>,
    /// The Art. 9(2) condition relied on for special categories; `null` clears it.
    special_category_condition: MaybeUndefined<String>,
    /// Assumptions made where the sources leave a fact open, replacing the recorded ones.
    assumptions: Option<Vec<String>>,
    /// Where the activity's facts come from, replacing the recorded sources.
    sources: Option<Vec<String>>,
}

/// A data category; its parent is the key without its last segment.
#[derive(InputObject)]
pub struct DataCategoryInput {
    /// Dotted key whose prefix is the parent's key, e.g. `contact.phone_number` under
    /// `contact`: segments of lowercase letters, digits and underscores. The parent must exist.
    key: String,
    /// The category's name, e.g. "Phone number".
    name: String,
    /// What the category covers.
    description: Option<String>,
    /// Whether the category is a special category of personal data (Art. 9(1)); the findings
    /// report an activity that processes it without an Art. 9(2) condition. False when absent.
    #[graphql(default)]
    special_category: bool,
    /// The matching key of the fideslang data category taxonomy, where one exists, e.g.
    /// `user.contact.phone_number`.
    fides_key: Option<String>,
}

/// A data subject category or a product.
#[derive(InputObject)]
pub struct TermInput {
    /// Stable identifier: 1 to 64 lowercase letters, digits and underscores, starting with a
    /// letter, e.g. `end_users` or `sms`.
    key: String,
    /// The name, e.g. "End users" or "SMS".
    name: String,
    /// Who belongs to the data subject category, or what the product does.
    description: Option<String>,
}

/// The organization's details: the controller (or processor) that keeps the registry, as the
/// record of processing activities names it (Art. 30(1)(a), 30(2)(a)).
#[derive(InputObject)]
pub struct OrganizationInput {
    /// Legal name.
    name: String,
    /// Postal address of the establishment.
    address: String,
    /// Country of establishment (ISO 3166-1 alpha-2).
    country: String,
    /// Name or function of the data protection officer (Art. 37).
    dpo_name: String,
    /// How to reach the data protection officer (an e-mail address).
    dpo_email: String,
    /// The data protection officer's postal address.
    dpo_address: Option<String>,
    /// The representative in the Union (Art. 27), where one is designated.
    representative: Option<String>,
    /// Art. 30(2)(a): where the name and contact details of each controller the organization
    /// processes for are kept (the customer records), when the record names them by category.
    controllers_register: Option<String>,
    /// Where the organization's details come from; none when absent.
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
        #[graphql(desc = "The recipient to add.")] input: CreateRecipientInput,
        #[graphql(desc = "Why, for the change log.")] reason: Option<String>,
    ) -> async_graphql::Result<Recipient> {
        let (registry, actor) = context(ctx)?;
        let input = reg::RecipientInput::from(input);
        let created = registry
            .create_recipient(input, actor, reason.as_deref())
            .await
            .api()?;
        Ok(Recipient::from(created))
    }

    /// Changes a recipient.
    async fn update_recipient(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The recipient to change (its ID).")] id: ID,
        #[graphql(desc = "The fields to change; absent fields stay as they are.")]
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
        Ok(Recipient::from(updated))
    }

    /// Removes a recipient that has no data flows; returns its ID. Retire it instead to keep
    /// it in the record.
    async fn delete_recipient(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The recipient to remove (its ID).")] id: ID,
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
        #[graphql(desc = "The data flow to add.")] input: CreateDataFlowInput,
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
        #[graphql(desc = "The data flow to change (its ID).")] id: ID,
        #[graphql(desc = "The fields to change; absent fields stay as they are.")]
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
        #[graphql(desc = "The data flow to remove (its ID).")] id: ID,
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
        #[graphql(desc = "The processing activity to add.")] input: CreateProcessingActivityInput,
        #[graphql(desc = "Why, for the change log.")] reason: Option<String>,
    ) -> async_graphql::Result<ProcessingActivity> {
        let (registry, actor) = context(ctx)?;
        let input = reg::ActivityInput::from(input);
        let created = registry
            .create_activity(input, actor, reason.as_deref())
            .await
            .api()?;
        Ok(ProcessingActivity::from(created))
    }

    /// Changes a processing activity.
    async fn update_processing_activity(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The processing activity to change (its ID).")] id: ID,
        #[graphql(desc = "The fields to change; absent fields stay as they are.")]
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
        Ok(ProcessingActivity::from(updated))
    }

    /// Removes a processing activity that has no data flows; returns its ID.
    async fn delete_processing_activity(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The processing activity to remove (its ID).")] id: ID,
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
        #[graphql(desc = "The data category to add; its parent must exist.")]
        input: DataCategoryInput,
    ) -> async_graphql::Result<DataCategory> {
        let (registry, _) = context(ctx)?;
        let created = registry.create_data_category(input.into()).await.api()?;
        Ok(DataCategory::from(created))
    }

    /// Changes a data category's name, description, Art. 9 flag or fideslang key.
    async fn update_data_category(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The data category to change (its ID).")] id: ID,
        #[graphql(desc = "The category's details; its key must stay the same.")]
        input: DataCategoryInput,
    ) -> async_graphql::Result<DataCategory> {
        let (registry, _) = context(ctx)?;
        let id = expect_id("id", "DataCategory", &id)?;
        let updated = registry
            .update_data_category(id, input.into())
            .await
            .api()?;
        Ok(DataCategory::from(updated))
    }

    /// Removes a data category that nothing uses; returns its ID.
    async fn delete_data_category(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The data category to remove (its ID).")] id: ID,
    ) -> async_graphql::Result<ID> {
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
        #[graphql(desc = "The data subject category to add.")] input: TermInput,
    ) -> async_graphql::Result<DataSubjectCategory> {
        let (registry, _) = context(ctx)?;
        let created = registry.create_data_subject(input.into()).await.api()?;
        Ok(DataSubjectCategory::from(created))
    }

    /// Changes a data subject category's name or description (its key stays: flows and
    /// activities name it by key).
    async fn update_data_subject_category(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The data subject category to change (its ID).")] id: ID,
        #[graphql(desc = "The category's details; its key must stay the same.")] input: TermInput,
    ) -> async_graphql::Result<DataSubjectCategory> {
        let (registry, _) = context(ctx)?;
        let id = expect_id("id", "DataSubjectCategory", &id)?;
        let updated = registry.update_data_subject(id, input.into()).await.api()?;
        Ok(DataSubjectCategory::from(updated))
    }

    /// Removes a data subject category that nothing uses; returns its ID.
    async fn delete_data_subject_category(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The data subject category to remove (its ID).")] id: ID,
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
        #[graphql(desc = "The product to add.")] input: TermInput,
    ) -> async_graphql::Result<Product> {
        let (registry, _) = context(ctx)?;
        let created = registry.create_product(input.into()).await.api()?;
        Ok(Product(created))
    }

    /// Changes a product's name or description (its key stays: activities name it by key).
    async fn update_product(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The product to change (its ID).")] id: ID,
        #[graphql(desc = "The product's details; its key must stay the same.")] input: TermInput,
    ) -> async_graphql::Result<Product> {
        let (registry, _) = context(ctx)?;
        let id = expect_id("id", "Product", &id)?;
        let updated = registry.update_product(id, input.into()).await.api()?;
        Ok(Product(updated))
    }

    /// Removes a product no activity serves; returns its ID.
    async fn delete_product(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The product to remove (its ID).")] id: ID,
    ) -> async_graphql::Result<ID> {
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
        #[graphql(desc = "The organization's details, replacing the recorded ones.")]
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
            exporter: input
                .exporter_id
                .map(|id| input_id("exporterId", "Recipient", &id))
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
        let exporter = match input.exporter_id {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => Some(None),
            MaybeUndefined::Value(id) => Some(Some(input_id("exporterId", "Recipient", &id)?)),
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
            exporter,
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
            retention_from: input.retention_from.map(Into::into),
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
            retention_from: patch(input.retention_from),
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
            controllers_register: input.controllers_register,
            sources: input.sources,
        }
    }
}
