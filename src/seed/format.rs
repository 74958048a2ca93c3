//! The example registry's file format (`data/registry.yaml`).
//!
//! The file is written for people: every value a privacy statement leaves open carries the
//! assumption made, in `assumptions`, and every fact names where it comes from, in `sources`.
//! Unknown keys are rejected so that a typo never silently drops a fact.

use chrono::NaiveDate;
use serde::Deserialize;

/// The whole example registry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryFile {
    pub organization: OrganizationEntry,
    pub data_categories: Vec<DataCategoryEntry>,
    pub data_subjects: Vec<TaxonomyEntry>,
    pub products: Vec<TaxonomyEntry>,
    pub recipients: Vec<RecipientEntry>,
    pub processing_activities: Vec<ActivityEntry>,
    pub data_flows: Vec<FlowEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrganizationEntry {
    pub name: String,
    pub address: String,
    /// ISO 3166-1 alpha-2 country of establishment.
    pub country: String,
    pub dpo_name: String,
    pub dpo_email: String,
    #[serde(default)]
    pub dpo_address: Option<String>,
    #[serde(default)]
    pub representative: Option<String>,
    #[serde(default)]
    pub sources: Vec<String>,
}

/// A node of the hierarchical data category taxonomy. The parent is implied by the dotted key:
/// `contact.phone_number` is a child of `contact`, which must come earlier in the list.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataCategoryEntry {
    pub key: String,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    /// Special category of personal data under GDPR Art. 9(1).
    #[serde(default)]
    pub special_category: bool,
    /// The matching key of the fideslang data category taxonomy, where one exists.
    #[serde(default)]
    pub fides_key: Option<String>,
}

/// A data subject category or a product.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaxonomyEntry {
    pub key: String,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecipientEntry {
    pub key: String,
    pub legal_name: String,
    /// AFFILIATE, PAYMENT_SERVICE_PROVIDER, TELECOM_OPERATOR, ANALYTICS_PROVIDER,
    /// HOSTING_PROVIDER, SERVICE_PROVIDER or PUBLIC_AUTHORITY.
    pub kind: String,
    /// CONTROLLER, JOINT_CONTROLLER, PROCESSOR or MERE_CONDUIT.
    pub default_role: String,
    #[serde(default)]
    pub description: Option<String>,
    /// ISO 3166-1 alpha-2 country of establishment.
    pub country: String,
    /// Countries where the recipient processes the data (ISO 3166-1 alpha-2).
    #[serde(default)]
    pub processing_locations: Vec<String>,
    /// The safeguard covering the recipient's processing locations outside the EEA.
    #[serde(default)]
    pub transfer: Option<SafeguardEntry>,
    #[serde(default)]
    pub dpa_reference: Option<String>,
    #[serde(default)]
    pub certifications: Vec<String>,
    /// Self-certified under the EU-US Data Privacy Framework (US importers only).
    #[serde(default)]
    pub dpf_certified: bool,
    #[serde(default)]
    pub website: Option<String>,
    #[serde(default)]
    pub privacy_notice_url: Option<String>,
    /// PROPOSED, ANNOUNCED, ACTIVE or RETIRED.
    pub status: String,
    /// Listed on the public subprocessor list (true) or internal only (false).
    pub public: bool,
    #[serde(default)]
    pub assumptions: Vec<String>,
    #[serde(default)]
    pub sources: Vec<String>,
}

/// A transfer safeguard under GDPR Chapter V.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SafeguardEntry {
    /// ADEQUACY_DECISION, STANDARD_CONTRACTUAL_CLAUSES, UK_IDTA, UK_ADDENDUM,
    /// BINDING_CORPORATE_RULES, CODE_OF_CONDUCT, CERTIFICATION, AD_HOC_CLAUSES or DEROGATION.
    pub mechanism: String,
    /// SCC 2021/914 module: 1 (C2C), 2 (C2P), 3 (P2P) or 4 (P2C).
    #[serde(default)]
    pub scc_module: Option<u8>,
    /// The Art. 49 derogation relied on: EXPLICIT_CONSENT (49(1)(a)), CONTRACT_WITH_DATA_SUBJECT (b),
    /// CONTRACT_IN_DATA_SUBJECT_INTEREST (c), IMPORTANT_PUBLIC_INTEREST (d), LEGAL_CLAIMS (e),
    /// VITAL_INTERESTS (f), PUBLIC_REGISTER (g) or COMPELLING_LEGITIMATE_INTERESTS (49(1) second
    /// subparagraph).
    #[serde(default)]
    pub derogation: Option<String>,
    /// Documented safeguards; required for the compelling-legitimate-interests derogation.
    #[serde(default)]
    pub safeguards: Option<String>,
    /// Date of the transfer impact assessment (EDPB Recommendations 01/2020).
    #[serde(default)]
    pub tia_date: Option<NaiveDate>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActivityEntry {
    pub key: String,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    /// CONTROLLER (the organization's own processing) or PROCESSOR (on customers' behalf).
    pub organization_role: String,
    /// For PROCESSOR activities: the controllers, by category, on whose behalf (Art. 30(2)(a)).
    #[serde(default)]
    pub controllers: Vec<String>,
    pub purposes: Vec<String>,
    /// CONSENT, CONTRACT, LEGAL_OBLIGATION, VITAL_INTERESTS, PUBLIC_TASK or LEGITIMATE_INTERESTS.
    pub legal_basis: String,
    pub data_subjects: Vec<String>,
    pub data_categories: Vec<String>,
    #[serde(default)]
    pub products: Vec<String>,
    pub retention: RetentionEntry,
    #[serde(default)]
    pub security_measures: Vec<String>,
    /// The Art. 9(2) condition relied on where special categories are processed.
    #[serde(default)]
    pub special_category_condition: Option<String>,
    #[serde(default)]
    pub assumptions: Vec<String>,
    #[serde(default)]
    pub sources: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionEntry {
    /// ISO 8601 duration in years, months, weeks or days: P6M, P12M, P10Y, P30D.
    pub period: String,
    pub reason: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowEntry {
    /// Key of the processing activity the data comes from.
    pub activity: String,
    /// Key of the recipient.
    pub recipient: String,
    /// Key of the recipient that forwards the data, for an onward flow (Segment -> Mixpanel).
    #[serde(default)]
    pub via: Option<String>,
    /// The recipient's role in this flow; the recipient's default role when absent.
    #[serde(default)]
    pub role: Option<String>,
    #[serde(default)]
    pub purpose: Option<String>,
    /// A subset of the activity's data categories.
    pub data_categories: Vec<String>,
    /// A subset of the activity's data subjects.
    pub data_subjects: Vec<String>,
    /// Destination countries (ISO 3166-1 alpha-2).
    pub countries: Vec<String>,
    /// One per destination country outside the EEA.
    #[serde(default)]
    pub transfers: Vec<TransferEntry>,
    #[serde(default)]
    pub assumptions: Vec<String>,
    #[serde(default)]
    pub sources: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferEntry {
    /// The destination country outside the EEA (ISO 3166-1 alpha-2).
    pub country: String,
    /// As in [`SafeguardEntry`].
    pub mechanism: String,
    #[serde(default)]
    pub scc_module: Option<u8>,
    #[serde(default)]
    pub derogation: Option<String>,
    #[serde(default)]
    pub safeguards: Option<String>,
    #[serde(default)]
    pub tia_date: Option<NaiveDate>,
}
