//! The API's object types. Each wraps a stored row and resolves its relations through the
//! request's batched loaders.

use super::auth::VIEWER;
use super::enums::{
    AdequacyScope, Derogation, ExporterParty, ExporterRole, LegalBasis, OrganizationRole,
    RecipientKind, RecipientRole, RecipientStatus, Regime, RetentionStart, TransferMechanism,
};
use super::error::ApiResult;
use super::loaders::*;
use super::relay::global_id;
use crate::reference;
use crate::registry::{Registry, rules};
use async_graphql::{Context, ID, Interface, Object};
use chrono::{DateTime, NaiveDate, Utc};
use entity::{
    data_category, data_flow, data_subject_category, organization, processing_activity, product,
    recipient, transfer,
};

fn loader<'a>(ctx: &'a Context<'_>) -> async_graphql::Result<&'a RequestLoader> {
    ctx.data::<RequestLoader>()
}

/// Any object with a global ID, fetchable with `Query.node`.
#[derive(Interface)]
#[graphql(field(name = "id", ty = "ID", desc = "The object's global ID."))]
pub enum Node {
    Recipient(Recipient),
    DataFlow(DataFlow),
    ProcessingActivity(ProcessingActivity),
    DataCategory(DataCategory),
    DataSubjectCategory(DataSubjectCategory),
    Product(Product),
}

pub struct Country(pub reference::Country);

impl Country {
    pub fn from_code(code: &str) -> Option<Self> {
        reference::country(code).map(Self)
    }

    pub fn list(codes: &[String]) -> Vec<Self> {
        codes.iter().filter_map(|c| Self::from_code(c)).collect()
    }
}

/// A country, by its ISO 3166-1 alpha-2 code.
#[Object]
impl Country {
    /// ISO 3166-1 alpha-2 code.
    async fn code(&self) -> &str {
        self.0.alpha2
    }

    /// English short name.
    async fn name(&self) -> &str {
        self.0.name
    }

    /// Whether the country is in the European Economic Area (EU-27, Iceland, Liechtenstein,
    /// Norway), where data moves freely.
    async fn in_eea(&self) -> bool {
        reference::is_eea(self.0.alpha2)
    }

    /// The adequacy decision in force for the country today under `regime` (the EU GDPR when
    /// absent), if any. Whether it covers a given importer depends on its scope.
    async fn adequacy_decision(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The exporter's regime whose list to read; EU_GDPR when absent.")]
        regime: Option<Regime>,
    ) -> async_graphql::Result<Option<AdequacyDecision>> {
        let registry = ctx.data::<Registry>()?;
        let today = registry.now().date_naive();
        let regime = regime.map_or(reference::Regime::EuGdpr, Into::into);
        Ok(registry
            .adequacy()
            .decision(regime, self.0.alpha2, today)
            .cloned()
            .map(AdequacyDecision))
    }
}

pub struct AdequacyDecision(pub reference::AdequacyDecision);

/// An adequacy finding of one of the three regimes: a European Commission decision (GDPR
/// Art. 45), UK adequacy regulations (Data Protection Act 2018 s. 17A), or the Swiss Federal
/// Council's list (Annex 1 DPO). One entry per country; a decision for several countries
/// appears once for each.
#[Object]
impl AdequacyDecision {
    /// The table's key of the decision (shared by the entries of one decision).
    async fn key(&self) -> &str {
        &self.0.key
    }

    /// The regime whose exporters may rely on it.
    async fn regime(&self) -> Regime {
        self.0.regime.into()
    }

    /// The country the decision covers; null for an international organisation.
    async fn country(&self) -> Option<Country> {
        self.0.country.as_deref().and_then(Country::from_code)
    }

    /// The international organisation the decision covers, if it covers one.
    async fn international_organisation(&self) -> Option<&str> {
        self.0.international_organisation.as_deref()
    }

    /// The decision's official reference, e.g. "Commission Implementing Decision (EU) 2023/1795".
    async fn reference(&self) -> &str {
        &self.0.reference
    }

    /// Its common name, e.g. "EU-US Data Privacy Framework".
    async fn title(&self) -> &str {
        &self.0.title
    }

    /// Its Official Journal reference, where verified (null otherwise: see `url`).
    async fn official_journal(&self) -> Option<&str> {
        self.0.official_journal.as_deref()
    }

    /// Where its text is published (EUR-Lex, legislation.gov.uk, the Federal Office of Justice).
    async fn url(&self) -> &str {
        &self.0.url
    }

    /// The date it was adopted (the date in its title).
    async fn adopted(&self) -> NaiveDate {
        self.0.adopted
    }

    /// The first day it could be relied on.
    async fn in_force_from(&self) -> NaiveDate {
        self.0.starts()
    }

    /// The first day it can no longer be relied on (expired, replaced or invalidated), if it
    /// has one.
    async fn in_force_until(&self) -> Option<NaiveDate> {
        self.0.in_force_until
    }

    /// The acts that amended it (extensions, renewals), oldest first.
    async fn amended_by(&self) -> Vec<AdequacyAmendment<'_>> {
        self.0.amended_by.iter().map(AdequacyAmendment).collect()
    }

    /// The decision that replaced it, if one did.
    async fn replaced_by(&self) -> Option<&str> {
        self.0.replaced_by.as_deref()
    }

    /// Which importers in the country it covers.
    async fn scope(&self) -> AdequacyScope {
        self.0.scope.into()
    }

    /// For a certified scope, the framework an importer must be certified under.
    async fn certification(&self) -> Option<&str> {
        self.0.certification.as_deref()
    }

    /// What the scope covers and leaves out, in a sentence.
    async fn scope_note(&self) -> Option<&str> {
        self.0.scope_note.as_deref()
    }
}

pub struct AdequacyAmendment<'a>(&'a reference::Amendment);

/// An act that amended an adequacy decision.
#[Object]
impl AdequacyAmendment<'_> {
    /// Its official reference.
    async fn reference(&self) -> &str {
        &self.0.reference
    }

    /// The date it was adopted.
    async fn adopted(&self) -> NaiveDate {
        self.0.adopted
    }

    /// Its Official Journal reference, where verified.
    async fn official_journal(&self) -> Option<&str> {
        self.0.official_journal.as_deref()
    }

    /// What it changed.
    async fn effect(&self) -> &str {
        &self.0.effect
    }
}

pub struct Organization(pub organization::Model);

/// The organization that keeps the registry.
#[Object]
impl Organization {
    /// Legal name.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// Postal address of the establishment.
    async fn address(&self) -> &str {
        &self.0.address
    }

    /// Country of establishment.
    async fn country(&self) -> Option<Country> {
        Country::from_code(&self.0.country)
    }

    /// Name or function of the data protection officer (Art. 37).
    async fn dpo_name(&self) -> &str {
        &self.0.dpo_name
    }

    /// How to reach the data protection officer.
    async fn dpo_email(&self) -> &str {
        &self.0.dpo_email
    }

    /// The data protection officer's postal address.
    async fn dpo_address(&self) -> Option<&str> {
        self.0.dpo_address.as_deref()
    }

    /// The representative in the Union (Art. 27), where one is designated.
    async fn representative(&self) -> Option<&str> {
        self.0.representative.as_deref()
    }

    /// Art. 30(2)(a): where the name and contact details of each controller the organization
    /// processes for are kept, as the processor's record names them by category (internal).
    #[graphql(guard = "VIEWER")]
    async fn controllers_register(&self) -> Option<&str> {
        self.0.controllers_register.as_deref()
    }

    /// Where the organization's details come from.
    async fn sources(&self) -> &[String] {
        &self.0.sources.0
    }
}

pub struct TransferSafeguard {
    mechanism: entity::TransferMechanism,
    scc_module: Option<i16>,
    derogation: Option<entity::Derogation>,
    safeguards: Option<String>,
    tia_date: Option<NaiveDate>,
}

/// A transfer safeguard under GDPR Chapter V.
#[Object]
impl TransferSafeguard {
    /// The instrument the transfer relies on.
    async fn mechanism(&self) -> TransferMechanism {
        self.mechanism.into()
    }

    /// For standard contractual clauses, the module of Decision 2021/914: 1 controller to
    /// controller, 2 controller to processor, 3 processor to processor, 4 processor to controller.
    async fn scc_module(&self) -> Option<i16> {
        self.scc_module
    }

    /// For an Art. 49 transfer, the derogation relied on.
    async fn derogation(&self) -> Option<Derogation> {
        self.derogation.map(Into::into)
    }

    /// The documented safeguards (required for compelling legitimate interests).
    #[graphql(guard = "VIEWER")]
    async fn safeguards(&self) -> Option<&str> {
        self.safeguards.as_deref()
    }

    /// When the transfer impact assessment was made (EDPB Recommendations 01/2020).
    #[graphql(guard = "VIEWER")]
    async fn tia_date(&self) -> Option<NaiveDate> {
        self.tia_date
    }
}

pub struct Transfer(pub transfer::Model);

/// A transfer of one data flow to one destination country outside the EEA.
#[Object(guard = "VIEWER")]
impl Transfer {
    /// The destination country.
    async fn country(&self) -> Option<Country> {
        Country::from_code(&self.0.country)
    }

    /// The instrument the transfer relies on.
    async fn mechanism(&self) -> TransferMechanism {
        self.0.mechanism.into()
    }

    /// For standard contractual clauses (or the UK Addendum), the module of Decision 2021/914
    /// (1-4), which follows from the exporter's and the importer's roles.
    async fn scc_module(&self) -> Option<i16> {
        self.0.scc_module
    }

    /// For an Art. 49 transfer, the derogation relied on.
    async fn derogation(&self) -> Option<Derogation> {
        self.0.derogation.map(Into::into)
    }

    /// What Art. 49(6) asks the record to document: for a derogation, why it applies; for
    /// compelling legitimate interests, the suitable safeguards; for SCCs where no module fits
    /// the roles, the position taken.
    async fn safeguards(&self) -> Option<&str> {
        self.0.safeguards.as_deref()
    }

    /// When the transfer impact assessment was made.
    async fn tia_date(&self) -> Option<NaiveDate> {
        self.0.tia_date
    }

    /// Who sends the data across the border, and under which regime.
    async fn exporter(&self, ctx: &Context<'_>) -> async_graphql::Result<TransferExporter> {
        loader(ctx)?
            .load_one(FlowExporter(self.0.flow_id))
            .await
            .api()?
            .map(TransferExporter)
            .ok_or_else(|| "the transfer's flow is missing".into())
    }

    /// For an adequacy transfer, the decision of the exporter's regime in force for the
    /// country today.
    async fn adequacy_decision(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<AdequacyDecision>> {
        if self.0.mechanism != entity::TransferMechanism::AdequacyDecision {
            return Ok(None);
        }
        let registry = ctx.data::<Registry>()?;
        let Some(exporter) = loader(ctx)?
            .load_one(FlowExporter(self.0.flow_id))
            .await
            .api()?
        else {
            return Ok(None);
        };
        Ok(registry
            .adequacy()
            .decision(
                exporter.regime,
                &self.0.country,
                registry.now().date_naive(),
            )
            .cloned()
            .map(AdequacyDecision))
    }
}

pub struct TransferExporter(pub crate::registry::transfers::Exporter);

/// The exporter of a flow's transfers: the organization or one of its establishments for a
/// direct flow, the forwarding recipient for an onward one. Its country sets the regime.
#[Object(guard = "VIEWER")]
impl TransferExporter {
    /// Which party it is.
    async fn party(&self) -> ExporterParty {
        self.0.party.into()
    }

    /// Its legal name.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// Its country of establishment.
    async fn country(&self) -> Option<Country> {
        Country::from_code(&self.0.country)
    }

    /// Its role for the data, which gives the SCC module on its side.
    async fn role(&self) -> ExporterRole {
        self.0.role.into()
    }

    /// The law the transfer is made under: EU GDPR, UK GDPR or Swiss FADP.
    async fn regime(&self) -> Regime {
        self.0.regime.into()
    }
}

pub struct Recipient(pub recipient::Model);

/// Anyone who receives personal data from the organization (GDPR Art. 4(9)).
#[Object]
impl Recipient {
    /// Global ID.
    async fn id(&self) -> ID {
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
        Ok(flows
            .unwrap_or_default()
            .into_iter()
            .map(DataFlow)
            .collect())
    }

    /// The data flows this recipient forwards to others (its own recipients).
    #[graphql(guard = "VIEWER")]
    async fn onward_flows(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<DataFlow>> {
        let flows = loader(ctx)?
            .load_one(RecipientOnwardFlows(self.0.id))
            .await
            .api()?;
        Ok(flows
            .unwrap_or_default()
            .into_iter()
            .map(DataFlow)
            .collect())
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
    async fn recipient_model(&self, ctx: &Context<'_>) -> async_graphql::Result<recipient::Model> {
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
    async fn id(&self) -> ID {
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
        Ok(rows
            .unwrap_or_default()
            .into_iter()
            .map(DataCategory)
            .collect())
    }

    /// The categories of data subjects the data is about.
    async fn data_subjects(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<DataSubjectCategory>> {
        let rows = loader(ctx)?.load_one(FlowSubjects(self.0.id)).await.api()?;
        Ok(rows
            .unwrap_or_default()
            .into_iter()
            .map(DataSubjectCategory)
            .collect())
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
        Ok(rows.unwrap_or_default().into_iter().map(Transfer).collect())
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
            .unwrap_or_default()
            .into_iter()
            .filter(|f| f.activity_id == self.0.activity_id)
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

pub struct ProcessingActivity(pub processing_activity::Model);

/// A processing activity: what the organization does with personal data, why, and on which
/// legal basis.
#[Object(guard = "VIEWER")]
impl ProcessingActivity {
    /// Global ID.
    async fn id(&self) -> ID {
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
        Ok(rows
            .unwrap_or_default()
            .into_iter()
            .map(DataSubjectCategory)
            .collect())
    }

    /// The categories of personal data (Art. 30(1)(c)).
    async fn data_categories(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<DataCategory>> {
        let rows = loader(ctx)?
            .load_one(ActivityCategories(self.0.id))
            .await
            .api()?;
        Ok(rows
            .unwrap_or_default()
            .into_iter()
            .map(DataCategory)
            .collect())
    }

    /// The products the activity serves.
    async fn products(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Product>> {
        let rows = loader(ctx)?
            .load_one(ActivityProducts(self.0.id))
            .await
            .api()?;
        Ok(rows.unwrap_or_default().into_iter().map(Product).collect())
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
        Ok(flows
            .unwrap_or_default()
            .into_iter()
            .map(DataFlow)
            .collect())
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

pub struct DataCategory(pub data_category::Model);

/// A category of personal data, in a hierarchy: a filter on a category matches its
/// descendants.
#[Object(guard = "VIEWER")]
impl DataCategory {
    /// Global ID.
    async fn id(&self) -> ID {
        global_id("DataCategory", self.0.id)
    }

    /// Dotted key; its prefix is the parent's key (`contact.phone_number`).
    async fn key(&self) -> &str {
        &self.0.key
    }

    /// The category's name.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// What the category covers.
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }

    /// A special category of personal data (Art. 9(1)).
    async fn special_category(&self) -> bool {
        self.0.special_category
    }

    /// The matching key of the fideslang data category taxonomy, where one exists.
    async fn fides_key(&self) -> Option<&str> {
        self.0.fides_key.as_deref()
    }

    /// The parent category.
    async fn parent(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<DataCategory>> {
        let Some(parent) = self.0.parent_id else {
            return Ok(None);
        };
        Ok(loader(ctx)?
            .load_one(DataCategoryId(parent))
            .await
            .api()?
            .map(DataCategory))
    }
}

pub struct DataSubjectCategory(pub data_subject_category::Model);

/// A category of data subjects: customer contacts, end users, website visitors...
#[Object(guard = "VIEWER")]
impl DataSubjectCategory {
    /// Global ID.
    async fn id(&self) -> ID {
        global_id("DataSubjectCategory", self.0.id)
    }

    /// Stable identifier, e.g. `end_users`.
    async fn key(&self) -> &str {
        &self.0.key
    }

    /// The category's name.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// Who belongs to the category.
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
}

pub struct Product(pub product::Model);

/// A product or service personal data flows through.
#[Object]
impl Product {
    /// Global ID.
    async fn id(&self) -> ID {
        global_id("Product", self.0.id)
    }

    /// Stable identifier, e.g. `sms`.
    async fn key(&self) -> &str {
        &self.0.key
    }

    /// The product's name.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// What the product does.
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
}
