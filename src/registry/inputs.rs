//! What callers hand the registry to write. These are plain domain values: the GraphQL layer
//! converts its inputs into them, and the registry file (`data/registry.yaml`, see
//! [`crate::seed::format`]) is read straight into them, so the file's format is these types'
//! serde form (snake_case keys, enums by their API names, unknown keys refused). The registry
//! validates them.

use chrono::NaiveDate;
use entity::{
    Derogation, LegalBasis, OrganizationRole, RecipientKind, RecipientRole, RecipientStatus,
    RetentionStart, TransferMechanism,
};
use serde::{Deserialize, Serialize};

/// A transfer safeguard under GDPR Chapter V.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Safeguard {
    /// ADEQUACY_DECISION, STANDARD_CONTRACTUAL_CLAUSES, UK_IDTA, UK_ADDENDUM,
    /// BINDING_CORPORATE_RULES, CODE_OF_CONDUCT, CERTIFICATION, AD_HOC_CLAUSES or DEROGATION.
    pub mechanism: TransferMechanism,
    /// SCC 2021/914 module: 1 (controller to controller), 2 (controller to processor), 3
    /// (processor to processor) or 4 (processor to controller); only with standard contractual
    /// clauses (or, under the UK GDPR, the UK Addendum to them). On a flow the registry fills it
    /// in from the parties' roles when it is absent, and refuses one that contradicts them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scc_module: Option<i32>,
    /// The Art. 49 derogation relied on, only with DEROGATION: EXPLICIT_CONSENT (49(1)(a)),
    /// CONTRACT_WITH_DATA_SUBJECT (b), CONTRACT_IN_DATA_SUBJECT_INTEREST (c),
    /// IMPORTANT_PUBLIC_INTEREST (d), LEGAL_CLAIMS (e), VITAL_INTERESTS (f), PUBLIC_REGISTER (g)
    /// or COMPELLING_LEGITIMATE_INTERESTS (49(1), second subparagraph).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub derogation: Option<Derogation>,
    /// What Art. 49(6) asks the record to document: for a derogation, the assessment of why it
    /// applies (required for (1)(a), (b), (c) and (e) on a flow, which recurs) and, for
    /// compelling legitimate interests, the suitable safeguards; for SCCs where no module fits
    /// the parties, the position taken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub safeguards: Option<String>,
    /// Date of the transfer impact assessment (EDPB Recommendations 01/2020).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tia_date: Option<NaiveDate>,
}

/// A transfer of one flow to one destination country outside the EEA. In the registry file the
/// country and the safeguard's fields stand side by side.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(from = "FlatTransfer", into = "FlatTransfer")]
pub struct TransferInput {
    /// The destination country outside the EEA (ISO 3166-1 alpha-2).
    pub country: String,
    pub safeguard: Safeguard,
}

/// A transfer as the registry file writes it: the country beside the safeguard's fields.
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct FlatTransfer {
    country: String,
    mechanism: TransferMechanism,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scc_module: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    derogation: Option<Derogation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    safeguards: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tia_date: Option<NaiveDate>,
}

impl From<TransferInput> for FlatTransfer {
    fn from(t: TransferInput) -> Self {
        let Safeguard {
            mechanism,
            scc_module,
            derogation,
            safeguards,
            tia_date,
        } = t.safeguard;
        Self {
            country: t.country,
            mechanism,
            scc_module,
            derogation,
            safeguards,
            tia_date,
        }
    }
}

impl From<FlatTransfer> for TransferInput {
    fn from(t: FlatTransfer) -> Self {
        Self {
            country: t.country,
            safeguard: Safeguard {
                mechanism: t.mechanism,
                scc_module: t.scc_module,
                derogation: t.derogation,
                safeguards: t.safeguards,
                tia_date: t.tia_date,
            },
        }
    }
}

/// A recipient: anyone who receives personal data (GDPR Art. 4(9)).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RecipientInput {
    pub key: String,
    pub legal_name: String,
    /// AFFILIATE, PAYMENT_SERVICE_PROVIDER, TELECOM_OPERATOR, ANALYTICS_PROVIDER,
    /// HOSTING_PROVIDER, SERVICE_PROVIDER or PUBLIC_AUTHORITY.
    pub kind: RecipientKind,
    /// CONTROLLER, JOINT_CONTROLLER, PROCESSOR or MERE_CONDUIT: the role unless a flow says
    /// otherwise.
    pub default_role: RecipientRole,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// ISO 3166-1 alpha-2 country of establishment.
    pub country: String,
    /// Countries where the recipient processes the data (ISO 3166-1 alpha-2).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub processing_locations: Vec<String>,
    /// The safeguard covering the recipient's processing locations outside the EEA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transfer: Option<Safeguard>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpa_reference: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub certifications: Vec<String>,
    /// Self-certified under the EU-US Data Privacy Framework (US importers only).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dpf_certified: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privacy_notice_url: Option<String>,
    /// PROPOSED, ANNOUNCED, ACTIVE or RETIRED.
    pub status: RecipientStatus,
    /// Listed on the public subprocessor list (true) or internal only (false).
    pub public: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub assumptions: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<String>,
}

/// A partial update: `None` leaves a field as it is; `Some(None)` clears a nullable one.
#[derive(Clone, Debug, Default)]
pub struct RecipientPatch {
    pub key: Option<String>,
    pub legal_name: Option<String>,
    pub kind: Option<RecipientKind>,
    pub default_role: Option<RecipientRole>,
    pub description: Option<Option<String>>,
    pub country: Option<String>,
    pub processing_locations: Option<Vec<String>>,
    pub transfer: Option<Option<Safeguard>>,
    pub dpa_reference: Option<Option<String>>,
    pub certifications: Option<Vec<String>>,
    pub dpf_certified: Option<bool>,
    pub website: Option<Option<String>>,
    pub privacy_notice_url: Option<Option<String>>,
    pub status: Option<RecipientStatus>,
    pub public: Option<bool>,
    pub assumptions: Option<Vec<String>>,
    pub sources: Option<Vec<String>>,
}

impl RecipientPatch {
    /// `current` with this patch's fields applied.
    pub fn apply(self, current: RecipientInput) -> RecipientInput {
        RecipientInput {
            key: self.key.unwrap_or(current.key),
            legal_name: self.legal_name.unwrap_or(current.legal_name),
            kind: self.kind.unwrap_or(current.kind),
            default_role: self.default_role.unwrap_or(current.default_role),
            description: self.description.unwrap_or(current.description),
            country: self.country.unwrap_or(current.country),
            processing_locations: self
                .processing_locations
                .unwrap_or(current.processing_locations),
            transfer: self.transfer.unwrap_or(current.transfer),
            dpa_reference: self.dpa_reference.unwrap_or(current.dpa_reference),
            certifications: self.certifications.unwrap_or(current.certifications),
            dpf_certified: self.dpf_certified.unwrap_or(current.dpf_certified),
            website: self.website.unwrap_or(current.website),
            privacy_notice_url: self
                .privacy_notice_url
                .unwrap_or(current.privacy_notice_url),
            status: self.status.unwrap_or(current.status),
            public: self.public.unwrap_or(current.public),
            assumptions: self.assumptions.unwrap_or(current.assumptions),
            sources: self.sources.unwrap_or(current.sources),
        }
    }
}

/// A processing activity: what the organization does with personal data, why, on which legal
/// basis and in which role.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ActivityInput {
    pub key: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// CONTROLLER (the organization's own processing) or PROCESSOR (on customers' behalf).
    pub organization_role: OrganizationRole,
    /// For PROCESSOR activities: the controllers, by category, on whose behalf (Art. 30(2)(a)).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub controllers: Vec<String>,
    pub purposes: Vec<String>,
    /// CONSENT, CONTRACT, LEGAL_OBLIGATION, VITAL_INTERESTS, PUBLIC_TASK or LEGITIMATE_INTERESTS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legal_basis: Option<LegalBasis>,
    /// Data subject category keys.
    pub data_subjects: Vec<String>,
    /// Data category keys.
    pub data_categories: Vec<String>,
    /// Product keys.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub products: Vec<String>,
    /// How long the data is kept (Art. 30(1)(f)): an ISO 8601 duration in years, months,
    /// weeks or days (P6M, P12M, P10Y, P30D), counted from `retention_from`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_period: Option<String>,
    /// What the period runs from: COLLECTION, END_OF_CONTRACT, LAST_ACTIVITY or
    /// LEGAL_OBLIGATION_EVENT; or DURATION_OF_CONTRACT, with no period, for data kept as long as
    /// the contract runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_from: Option<RetentionStart>,
    /// Why the data is kept that long.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub security_measures: Vec<String>,
    /// The Art. 9(2) condition relied on where special categories are processed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub special_category_condition: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub assumptions: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<String>,
}

#[derive(Clone, Debug, Default)]
pub struct ActivityPatch {
    pub key: Option<String>,
    pub name: Option<String>,
    pub description: Option<Option<String>>,
    pub organization_role: Option<OrganizationRole>,
    pub controllers: Option<Vec<String>>,
    pub purposes: Option<Vec<String>>,
    pub legal_basis: Option<Option<LegalBasis>>,
    pub data_subjects: Option<Vec<String>>,
    pub data_categories: Option<Vec<String>>,
    pub products: Option<Vec<String>>,
    pub retention_period: Option<Option<String>>,
    pub retention_from: Option<Option<RetentionStart>>,
    pub retention_reason: Option<Option<String>>,
    pub security_measures: Option<Vec<String>>,
    pub special_category_condition: Option<Option<String>>,
    pub assumptions: Option<Vec<String>>,
    pub sources: Option<Vec<String>>,
}

impl ActivityPatch {
    /// `current` with this patch's fields applied.
    pub fn apply(self, current: ActivityInput) -> ActivityInput {
        ActivityInput {
            key: self.key.unwrap_or(current.key),
            name: self.name.unwrap_or(current.name),
            description: self.description.unwrap_or(current.description),
            organization_role: self.organization_role.unwrap_or(current.organization_role),
            controllers: self.controllers.unwrap_or(current.controllers),
            purposes: self.purposes.unwrap_or(current.purposes),
            legal_basis: self.legal_basis.unwrap_or(current.legal_basis),
            data_subjects: self.data_subjects.unwrap_or(current.data_subjects),
            data_categories: self.data_categories.unwrap_or(current.data_categories),
            products: self.products.unwrap_or(current.products),
            retention_period: self.retention_period.unwrap_or(current.retention_period),
            retention_from: self.retention_from.unwrap_or(current.retention_from),
            retention_reason: self.retention_reason.unwrap_or(current.retention_reason),
            security_measures: self.security_measures.unwrap_or(current.security_measures),
            special_category_condition: self
                .special_category_condition
                .unwrap_or(current.special_category_condition),
            assumptions: self.assumptions.unwrap_or(current.assumptions),
            sources: self.sources.unwrap_or(current.sources),
        }
    }
}

/// A data flow: a processing activity sends some of its data to a recipient. `R` is how it
/// names its activity and recipients: row ids (`i32`) for the registry's writes, keys
/// (`String`) in the registry file.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FlowInput<R = i32> {
    /// The processing activity the data comes from.
    pub activity: R,
    /// The recipient.
    pub recipient: R,
    /// For an onward flow, the recipient that forwards the data (Segment -> Mixpanel): the
    /// exporter of its transfers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<R>,
    /// For a direct flow sent by one of the organization's establishments rather than the
    /// organization itself (MessageBird UK Limited for its UK customers), that establishment:
    /// an AFFILIATE recipient. It is the exporter, and its country sets the regime.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exporter: Option<R>,
    /// The recipient's role in this flow; the recipient's default role when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<RecipientRole>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    /// A subset of the activity's data categories (keys; a descendant of one counts).
    pub data_categories: Vec<String>,
    /// A subset of the activity's data subject categories (keys).
    pub data_subjects: Vec<String>,
    /// Destination countries (ISO 3166-1 alpha-2).
    pub countries: Vec<String>,
    /// One per destination country outside the EEA.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transfers: Vec<TransferInput>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub assumptions: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<String>,
}

impl<R> FlowInput<R> {
    /// The same flow with its references translated (keys to row ids, say): the activity by
    /// `activity`, the recipient and the intermediary by `recipient`.
    pub fn resolve<S, E>(
        self,
        activity: impl FnOnce(R) -> Result<S, E>,
        mut recipient: impl FnMut(R) -> Result<S, E>,
    ) -> Result<FlowInput<S>, E> {
        Ok(FlowInput {
            activity: activity(self.activity)?,
            recipient: recipient(self.recipient)?,
            via: self.via.map(&mut recipient).transpose()?,
            exporter: self.exporter.map(&mut recipient).transpose()?,
            role: self.role,
            purpose: self.purpose,
            data_categories: self.data_categories,
            data_subjects: self.data_subjects,
            countries: self.countries,
            transfers: self.transfers,
            assumptions: self.assumptions,
            sources: self.sources,
        })
    }
}

#[derive(Clone, Debug, Default)]
pub struct FlowPatch {
    pub activity: Option<i32>,
    pub recipient: Option<i32>,
    pub via: Option<Option<i32>>,
    pub exporter: Option<Option<i32>>,
    pub role: Option<Option<RecipientRole>>,
    pub purpose: Option<Option<String>>,
    pub data_categories: Option<Vec<String>>,
    pub data_subjects: Option<Vec<String>>,
    pub countries: Option<Vec<String>>,
    pub transfers: Option<Vec<TransferInput>>,
    pub assumptions: Option<Vec<String>>,
    pub sources: Option<Vec<String>>,
}

impl FlowPatch {
    /// `current` with this patch's fields applied.
    pub fn apply(self, current: FlowInput) -> FlowInput {
        FlowInput {
            activity: self.activity.unwrap_or(current.activity),
            recipient: self.recipient.unwrap_or(current.recipient),
            via: self.via.unwrap_or(current.via),
            exporter: self.exporter.unwrap_or(current.exporter),
            role: self.role.unwrap_or(current.role),
            purpose: self.purpose.unwrap_or(current.purpose),
            data_categories: self.data_categories.unwrap_or(current.data_categories),
            data_subjects: self.data_subjects.unwrap_or(current.data_subjects),
            countries: self.countries.unwrap_or(current.countries),
            transfers: self.transfers.unwrap_or(current.transfers),
            assumptions: self.assumptions.unwrap_or(current.assumptions),
            sources: self.sources.unwrap_or(current.sources),
        }
    }
}

/// A data category: `key` is dotted and its parent (the key without its last segment) must
/// exist, earlier in the registry file.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DataCategoryInput {
    pub key: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Special category of personal data under GDPR Art. 9(1).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub special_category: bool,
    /// The matching key of the fideslang data category taxonomy, where one exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fides_key: Option<String>,
}

/// A data subject category or a product.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TermInput {
    pub key: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// The organization that keeps the registry.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OrganizationInput {
    pub name: String,
    pub address: String,
    /// ISO 3166-1 alpha-2 country of establishment.
    pub country: String,
    pub dpo_name: String,
    pub dpo_email: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpo_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub representative: Option<String>,
    /// Art. 30(2)(a): where the name and contact details of each controller the organization
    /// processes for are kept, when the record names them by category only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controllers_register: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<String>,
}
