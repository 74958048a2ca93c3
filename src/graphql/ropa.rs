//! The record of processing activities (GDPR Art. 30) and its compliance findings.

use super::auth::VIEWER;
use super::enums::{
    Derogation, LegalBasis, RecipientKind, RecipientRole, Regime, RetentionStart, TransferMechanism,
};
use super::error::{ApiResult, bad_input};
use crate::registry::Registry;
use crate::ropa::model::name_of;
use crate::ropa::{self, FindingOptions, model};
use async_graphql::{Context, Enum, Object};
use chrono::{DateTime, NaiveDate, Utc};

/// Which record.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "crate::ropa::model::Perspective")]
pub enum Perspective {
    /// The organization's own processing (Art. 30(1)).
    Controller,
    /// Processing on customers' behalf (Art. 30(2)).
    Processor,
}

/// How serious a finding is.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "crate::ropa::model::Severity")]
pub enum Severity {
    /// Likely a breach of the GDPR as recorded (a transfer without a valid mechanism, among
    /// others): act on it.
    High,
    /// Accepted on a documented position a supervisory authority may not share (a derogation
    /// kept for a recurring flow, module 1 where no SCC module fits): review it.
    Warning,
    /// A gap the record should not have.
    Medium,
    /// Worth a look.
    Low,
    /// For information.
    Info,
}

pub struct RecordOfProcessingActivities(model::Record);

/// The record of processing activities as it stood at an instant.
#[Object(guard = "VIEWER")]
impl RecordOfProcessingActivities {
    /// Controller record (Art. 30(1)) or processor record (Art. 30(2)).
    async fn perspective(&self) -> Perspective {
        self.0.perspective.into()
    }

    /// The instant the record describes.
    async fn as_of(&self) -> DateTime<Utc> {
        self.0.as_of
    }

    /// When the record was produced.
    async fn generated_at(&self) -> DateTime<Utc> {
        self.0.generated_at
    }

    /// Art. 30(1)(a) / 30(2)(a): the organization, its DPO and representative.
    async fn organization(&self) -> RecordOrganization<'_> {
        RecordOrganization(&self.0.organization)
    }

    /// Art. 30(2)(a): the controllers, by category, on whose behalf the organization acts
    /// (processor record only).
    async fn controllers(&self) -> &[String] {
        &self.0.controllers
    }

    /// The processing activities of this record.
    async fn activities(&self) -> Vec<RecordActivity<'_>> {
        self.0.activities.iter().map(RecordActivity).collect()
    }

    /// The gaps and risks this record reveals, most severe first.
    async fn findings(&self) -> Vec<ComplianceFinding> {
        self.0
            .findings
            .iter()
            .cloned()
            .map(ComplianceFinding)
            .collect()
    }
}

pub struct RecordOrganization<'a>(&'a model::OrganizationSection);

/// The organization, as the record names it.
#[Object(guard = "VIEWER")]
impl RecordOrganization<'_> {
    /// Legal name.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// Postal address.
    async fn address(&self) -> &str {
        &self.0.address
    }

    /// Country of establishment (ISO 3166-1 alpha-2).
    async fn country(&self) -> &str {
        &self.0.country
    }

    /// The data protection officer.
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

    /// The representative in the Union (Art. 27), where designated.
    async fn representative(&self) -> Option<&str> {
        self.0.representative.as_deref()
    }

    /// Art. 30(2)(a): where the name and contact details of each controller the organization
    /// processes for are kept (the processor's record names them by category).
    async fn controllers_register(&self) -> Option<&str> {
        self.0.controllers_register.as_deref()
    }
}

pub struct RecordActivity<'a>(&'a model::ActivityEntry);

/// One processing activity in the record.
#[Object(guard = "VIEWER")]
impl RecordActivity<'_> {
    /// The activity's key.
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

    /// When the activity was first recorded (the CNIL's "Date de création du traitement").
    async fn created_on(&self) -> Option<NaiveDate> {
        self.0.created_on
    }

    /// When the activity last changed (the CNIL's "Mise à jour du traitement").
    async fn updated_on(&self) -> Option<NaiveDate> {
        self.0.updated_on
    }

    /// Art. 30(1)(b): the purposes of the processing.
    async fn purposes(&self) -> &[String] {
        &self.0.purposes
    }

    /// The lawful basis (Art. 6(1)); always null in the processor's record, which Art. 30(2)
    /// gives no such entry (the basis is the controller's).
    async fn legal_basis(&self) -> Option<LegalBasis> {
        self.0.legal_basis.map(Into::into)
    }

    /// Art. 30(1)(c): the categories of data subjects.
    async fn data_subjects(&self) -> &[String] {
        &self.0.data_subjects
    }

    /// Art. 30(1)(c): the categories of personal data (keys and names).
    async fn data_categories(&self) -> Vec<RecordCategory<'_>> {
        self.0.data_categories.iter().map(RecordCategory).collect()
    }

    /// The Art. 9(2) condition where special categories are processed.
    async fn special_category_condition(&self) -> Option<&str> {
        self.0.special_category_condition.as_deref()
    }

    /// Art. 30(1)(d): the categories of recipients.
    async fn recipient_categories(&self) -> Vec<RecipientKind> {
        self.0
            .recipient_categories
            .iter()
            .map(|&kind| kind.into())
            .collect()
    }

    /// The named recipients and their roles.
    async fn recipients(&self) -> Vec<RecordRecipient<'_>> {
        self.0.recipients.iter().map(RecordRecipient).collect()
    }

    /// Art. 30(1)(e) / 30(2)(c): transfers to third countries and their safeguards.
    async fn transfers(&self) -> Vec<RecordTransfer<'_>> {
        self.0.transfers.iter().map(RecordTransfer).collect()
    }

    /// Art. 30(1)(f): the time limit for erasure, as an ISO 8601 duration; null where the
    /// data is kept for the duration of the contract.
    async fn retention_period(&self) -> Option<&str> {
        self.0.retention_period.as_deref()
    }

    /// What the retention period runs from, or DURATION_OF_CONTRACT.
    async fn retention_from(&self) -> Option<RetentionStart> {
        self.0.retention_from.map(Into::into)
    }

    /// The time limit in words, as the exports write it ("12 months after the end of the
    /// contract", "For the duration of the contract").
    async fn retention(&self) -> String {
        ropa::retention_words(self.0.retention_period.as_deref(), self.0.retention_from)
    }

    /// Why the data is kept that long.
    async fn retention_reason(&self) -> Option<&str> {
        self.0.retention_reason.as_deref()
    }

    /// Art. 30(1)(g) / 30(2)(d): the technical and organisational security measures.
    async fn security_measures(&self) -> &[String] {
        &self.0.security_measures
    }

    /// The products the activity serves.
    async fn products(&self) -> &[String] {
        &self.0.products
    }
}

pub struct RecordCategory<'a>(&'a model::CategoryEntry);

/// A category of personal data in the record.
#[Object(guard = "VIEWER")]
impl RecordCategory<'_> {
    /// The category's key.
    async fn key(&self) -> &str {
        &self.0.key
    }

    /// The category's name.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// A special category (Art. 9(1)).
    async fn special_category(&self) -> bool {
        self.0.special_category
    }
}

pub struct RecordRecipient<'a>(&'a model::RecipientEntry);

/// A named recipient in the record.
#[Object(guard = "VIEWER")]
impl RecordRecipient<'_> {
    /// The recipient's legal name.
    async fn legal_name(&self) -> &str {
        &self.0.legal_name
    }

    /// Its kind.
    async fn kind(&self) -> RecipientKind {
        self.0.kind.into()
    }

    /// Its role for this activity's data.
    async fn role(&self) -> RecipientRole {
        self.0.role.into()
    }

    /// Its country of establishment.
    async fn country(&self) -> &str {
        &self.0.country
    }

    /// A subprocessor for this activity.
    async fn subprocessor(&self) -> bool {
        self.0.subprocessor
    }
}

pub struct RecordTransfer<'a>(&'a model::TransferEntry);

/// A transfer to a third country in the record.
#[Object(guard = "VIEWER")]
impl RecordTransfer<'_> {
    /// The recipient's legal name.
    async fn recipient(&self) -> &str {
        &self.0.recipient
    }

    /// Who sends the data across the border: the organization, one of its establishments, or
    /// the recipient that passes it on in an onward flow (its legal name).
    async fn exporter(&self) -> &str {
        &self.0.exporter
    }

    /// The exporter's country (ISO 3166-1 alpha-2).
    async fn exporter_country(&self) -> &str {
        &self.0.exporter_country
    }

    /// The law the transfer is made under: the exporter's.
    async fn regime(&self) -> Regime {
        self.0.regime.into()
    }

    /// The destination country (ISO 3166-1 alpha-2).
    async fn country(&self) -> &str {
        &self.0.country
    }

    /// The destination country's name.
    async fn country_name(&self) -> &str {
        &self.0.country_name
    }

    /// The documented safeguard.
    async fn mechanism(&self) -> TransferMechanism {
        self.0.mechanism.into()
    }

    /// For standard contractual clauses (or the UK Addendum), the module (1-4).
    async fn scc_module(&self) -> Option<i32> {
        self.0.scc_module.map(i32::from)
    }

    /// For an Art. 49 transfer, the derogation.
    async fn derogation(&self) -> Option<Derogation> {
        self.0.derogation.map(Into::into)
    }

    /// What the record documents for the transfer: the suitable safeguards of compelling
    /// legitimate interests (Art. 30(1)(e)), why a derogation applies (Art. 49(6)), the position
    /// taken where no SCC module fits.
    async fn safeguards(&self) -> Option<&str> {
        self.0.safeguards.as_deref()
    }

    /// When the transfer impact assessment was made.
    async fn tia_date(&self) -> Option<NaiveDate> {
        self.0.tia_date
    }
}

pub struct ComplianceFinding(model::Finding);

/// A gap or risk in the record.
#[Object(guard = "VIEWER")]
impl ComplianceFinding {
    /// How serious it is.
    async fn severity(&self) -> Severity {
        self.0.severity.into()
    }

    /// The rule's stable identifier, e.g. `TRANSFER_WITHOUT_MECHANISM`.
    async fn code(&self) -> &str {
        &self.0.code
    }

    /// `ORGANIZATION`, `RECIPIENT`, `DATA_FLOW`, `PROCESSING_ACTIVITY` or `DATA_CATEGORY`.
    async fn entity_type(&self) -> &'static str {
        name_of(self.0.entity_type)
    }

    /// The entity concerned: a key, `activity -> recipient` for a data flow (`activity ->
    /// forwarder -> recipient` for an onward one), the organization's name.
    async fn entity(&self) -> &str {
        &self.0.entity
    }

    /// The provision (and guidance) the finding rests on, e.g. "Art. 49(1)(c) GDPR; EDPB
    /// Guidelines 2/2018 on derogations of Article 49".
    async fn article(&self) -> &str {
        &self.0.article
    }

    /// What is wrong, in a sentence.
    async fn message(&self) -> &str {
        &self.0.message
    }
}

#[derive(Default)]
pub struct RopaQuery;

#[Object(guard = "VIEWER")]
impl RopaQuery {
    /// The record of processing activities (GDPR Art. 30): as a controller for the
    /// organization's own processing, or as a processor for what it does on customers' behalf;
    /// today's, or as the registry stood at `asOf` (rebuilt from the change log). The same
    /// record downloads as CSV, XLSX, JSON or Markdown from `/ropa`.
    async fn record_of_processing_activities(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "CONTROLLER for the Art. 30(1) record of the organization's own processing, PROCESSOR for the Art. 30(2) record of what it does on customers' behalf."
        )]
        perspective: Perspective,
        #[graphql(
            desc = "The instant the record describes, not in the future; today when absent."
        )]
        as_of: Option<DateTime<Utc>>,
    ) -> async_graphql::Result<RecordOfProcessingActivities> {
        if as_of.is_none() {
            // Today's processor record includes the notices not yet accepted (Art. 28(2)).
            crate::graphql::CachePolicy::no_store(ctx);
        }
        let registry = ctx.data::<Registry>()?;
        check_as_of(registry, as_of)?;
        let options = ctx.data::<FindingOptions>()?;
        let mut records = ropa::build(registry, &[perspective.into()], as_of, options)
            .await
            .api()?;
        records
            .pop()
            .map(RecordOfProcessingActivities)
            .ok_or_else(|| "no record was produced".into())
    }

    /// The gaps and risks in both records, today or at `asOf`, most severe first.
    async fn compliance_findings(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "The instant the findings describe, not in the future; today when absent."
        )]
        as_of: Option<DateTime<Utc>>,
    ) -> async_graphql::Result<Vec<ComplianceFinding>> {
        if as_of.is_none() {
            // Today's processor record includes the notices not yet accepted (Art. 28(2)).
            crate::graphql::CachePolicy::no_store(ctx);
        }
        let registry = ctx.data::<Registry>()?;
        check_as_of(registry, as_of)?;
        let options = ctx.data::<FindingOptions>()?;
        let records = ropa::build(
            registry,
            &[
                model::Perspective::Controller,
                model::Perspective::Processor,
            ],
            as_of,
            options,
        )
        .await
        .api()?;
        let mut findings: Vec<model::Finding> =
            records.into_iter().flat_map(|r| r.findings).collect();
        findings.sort_by(|a, b| {
            (a.severity, &a.code, &a.entity).cmp(&(b.severity, &b.code, &b.entity))
        });
        findings
            .dedup_by(|a, b| a.code == b.code && a.entity == b.entity && a.message == b.message);
        Ok(findings.into_iter().map(ComplianceFinding).collect())
    }
}

fn check_as_of(registry: &Registry, as_of: Option<DateTime<Utc>>) -> async_graphql::Result<()> {
    match as_of {
        Some(at) if at > registry.now() => Err(bad_input("asOf", "must not be in the future")),
        _ => Ok(()),
    }
}
