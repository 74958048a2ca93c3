//! The record of processing activities (GDPR Art. 30) as plain data: what the builder produces
//! from the registry and what every exporter and the GraphQL API read.

use crate::reference::Regime;
use chrono::{DateTime, NaiveDate, Utc};
use entity::{
    Derogation, LegalBasis, RecipientKind, RecipientRole, RetentionStart, TransferMechanism,
};
use serde::Serialize;

mod names;

pub(crate) use names::name_of;

/// Which record: the organization's own processing (Art. 30(1)) or its processing on
/// customers' behalf (Art. 30(2)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Perspective {
    Controller,
    Processor,
}

impl Perspective {
    /// The organization's role in the activities the record covers.
    pub fn organization_role(self) -> entity::OrganizationRole {
        match self {
            Self::Controller => entity::OrganizationRole::Controller,
            Self::Processor => entity::OrganizationRole::Processor,
        }
    }
}

/// The record as it stood at `as_of`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    pub perspective: Perspective,
    /// The instant the record describes.
    pub as_of: DateTime<Utc>,
    /// When it was produced.
    pub generated_at: DateTime<Utc>,
    /// Art. 30(1)(a) / 30(2)(a): name and contact details of the organization and its DPO.
    pub organization: OrganizationSection,
    /// Art. 30(2)(a): the categories of controllers on whose behalf the processor acts (empty in
    /// the controller record).
    pub controllers: Vec<String>,
    pub activities: Vec<ActivityEntry>,
    /// Gaps and risks the record reveals.
    pub findings: Vec<Finding>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrganizationSection {
    pub name: String,
    pub address: String,
    /// ISO 3166-1 alpha-2.
    pub country: String,
    pub dpo_name: String,
    pub dpo_email: String,
    pub dpo_address: Option<String>,
    /// Art. 27 representative, where designated.
    pub representative: Option<String>,
    /// Art. 30(2)(a): where the name and contact details of each controller the organization
    /// processes for are kept, when the record names them by category.
    pub controllers_register: Option<String>,
}

/// One processing activity of the record.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActivityEntry {
    pub key: String,
    pub name: String,
    pub description: Option<String>,
    /// When the activity was first recorded (CNIL: "Date de création du traitement").
    pub created_on: Option<NaiveDate>,
    /// When it last changed (CNIL: "Mise à jour du traitement").
    pub updated_on: Option<NaiveDate>,
    /// Art. 30(1)(b).
    pub purposes: Vec<String>,
    /// GDPR Art. 6(1) basis, if recorded; never in the processor's record, which Art. 30(2)
    /// gives no such column (the controller's basis is its own).
    pub legal_basis: Option<LegalBasis>,
    /// Art. 30(1)(c): categories of data subjects (names).
    pub data_subjects: Vec<String>,
    /// Art. 30(1)(c) / 30(2)(b): categories of personal data.
    pub data_categories: Vec<CategoryEntry>,
    /// The Art. 9(2) condition where special categories are processed.
    pub special_category_condition: Option<String>,
    /// Art. 30(1)(d): the categories of recipients (recipient kinds), in the order of their
    /// names.
    pub recipient_categories: Vec<RecipientKind>,
    /// The named recipients.
    pub recipients: Vec<RecipientEntry>,
    /// Art. 30(1)(e) / 30(2)(c): transfers to third countries and their safeguards.
    pub transfers: Vec<TransferEntry>,
    /// Art. 30(1)(f): time limit for erasure, as an ISO 8601 duration (`P6M`).
    pub retention_period: Option<String>,
    /// What the period runs from, or that the data is kept for the duration of the contract.
    pub retention_from: Option<RetentionStart>,
    pub retention_reason: Option<String>,
    /// Art. 30(1)(g) / 30(2)(d): technical and organisational security measures.
    pub security_measures: Vec<String>,
    /// Products the activity serves (names).
    pub products: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CategoryEntry {
    pub key: String,
    pub name: String,
    /// Special category under Art. 9(1).
    pub special_category: bool,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecipientEntry {
    pub legal_name: String,
    /// Recipient kind (serialized as its API name, `PAYMENT_SERVICE_PROVIDER`).
    pub kind: RecipientKind,
    /// Role in the flow (serialized as its API name, `PROCESSOR`).
    pub role: RecipientRole,
    /// Country of establishment, ISO 3166-1 alpha-2.
    pub country: String,
    pub subprocessor: bool,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TransferEntry {
    pub recipient: String,
    /// Who sends the data across the border: the organization, one of its establishments, or
    /// the forwarding recipient of an onward flow.
    pub exporter: String,
    /// The exporter's country, ISO 3166-1 alpha-2.
    pub exporter_country: String,
    /// The law the transfer is made under.
    pub regime: Regime,
    /// ISO 3166-1 alpha-2.
    pub country: String,
    pub country_name: String,
    pub mechanism: TransferMechanism,
    pub scc_module: Option<i16>,
    /// Art. 49 derogation.
    pub derogation: Option<Derogation>,
    /// What Art. 49(6) and 30(1)(e) ask the record to document: why a derogation applies, the
    /// suitable safeguards of compelling legitimate interests, the position taken where no SCC
    /// module fits.
    pub safeguards: Option<String>,
    pub tia_date: Option<NaiveDate>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Severity {
    High,
    /// Accepted by the registry on a documented position that a supervisory authority may not
    /// share: review it.
    Warning,
    Medium,
    Low,
    Info,
}

/// What a finding is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FindingSubject {
    /// The organization itself (its record's header).
    Organization,
    Recipient,
    DataFlow,
    ProcessingActivity,
    DataCategory,
}

/// A gap or risk in the record, for the DPO.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    pub severity: Severity,
    /// Stable identifier of the rule, e.g. `TRANSFER_WITHOUT_MECHANISM`.
    pub code: String,
    /// What kind of entity the finding is about.
    pub entity_type: FindingSubject,
    /// The key (or a readable reference) of the entity concerned.
    pub entity: String,
    /// The provision (and guidance) the finding rests on, e.g. "Art. 46(2)(c) GDPR; Decision
    /// (EU) 2021/914".
    pub article: String,
    /// One sentence a DPO understands.
    pub message: String,
}

/// The column layout of an export.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Layout {
    /// The fields of Art. 30, in the article's order.
    Article30,
    /// The UK ICO's record of processing template.
    Ico,
    /// The CNIL's "registre des activités de traitement" template.
    Cnil,
}

/// The terms of the jurisdiction the record is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Terminology {
    /// GDPR: data subject, controller, processor.
    Gdpr,
    /// Singapore PDPA 2012: individual, organisation, data intermediary.
    SingaporePdpa,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Format {
    Csv,
    Xlsx,
    Json,
    Markdown,
}

/// Parses a format, layout, terminology or perspective choice written in lowercase, with `-` or
/// `_` between words (as on a command line or in a URL).
fn normalized(text: &str) -> String {
    text.trim().to_ascii_lowercase().replace('_', "-")
}

impl std::str::FromStr for Format {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match normalized(text).as_str() {
            "csv" => Ok(Self::Csv),
            "xlsx" => Ok(Self::Xlsx),
            "json" => Ok(Self::Json),
            "markdown" | "md" => Ok(Self::Markdown),
            other => Err(format!(
                "unknown format `{other}`: use csv, xlsx, json or markdown"
            )),
        }
    }
}

impl std::str::FromStr for Layout {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match normalized(text).as_str() {
            "article30" | "article-30" | "art30" => Ok(Self::Article30),
            "ico" => Ok(Self::Ico),
            "cnil" => Ok(Self::Cnil),
            other => Err(format!(
                "unknown layout `{other}`: use article30, ico or cnil"
            )),
        }
    }
}

impl std::str::FromStr for Terminology {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match normalized(text).as_str() {
            "gdpr" => Ok(Self::Gdpr),
            "singapore-pdpa" | "pdpa" | "singapore" => Ok(Self::SingaporePdpa),
            other => Err(format!(
                "unknown terminology `{other}`: use gdpr or singapore-pdpa"
            )),
        }
    }
}

/// Which records to produce: one perspective or both.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Perspectives(&'static [Perspective]);

impl Perspectives {
    pub fn list(self) -> &'static [Perspective] {
        self.0
    }
}

impl std::str::FromStr for Perspectives {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match normalized(text).as_str() {
            "controller" => Ok(Self(&[Perspective::Controller])),
            "processor" => Ok(Self(&[Perspective::Processor])),
            "both" => Ok(Self(&[Perspective::Controller, Perspective::Processor])),
            other => Err(format!(
                "unknown perspective `{other}`: use controller, processor or both"
            )),
        }
    }
}

/// Parses the instant a record is asked for: an RFC 3339 date-time, or a date, meaning the
/// end of that day (UTC), so that "as of 2023-01-01" includes that day's changes.
pub fn parse_as_of(text: &str) -> Result<DateTime<Utc>, String> {
    let text = text.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_milli_opt(23, 59, 59, 999))
        .map(|t| t.and_utc())
        .ok_or_else(|| format!("`{text}` is neither a date (2023-01-01) nor an RFC 3339 date-time"))
}
