//! What callers hand the registry to write. These are plain domain values: the GraphQL layer and
//! the example-registry loader both translate into them, and the registry validates them.

use chrono::NaiveDate;
use entity::{
    Derogation, LegalBasis, OrganizationRole, RecipientKind, RecipientRole, RecipientStatus,
    TransferMechanism,
};

/// A transfer safeguard under GDPR Chapter V.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Safeguard {
    pub mechanism: TransferMechanism,
    /// SCC 2021/914 module 1-4; only with standard contractual clauses.
    pub scc_module: Option<i16>,
    /// Only with an Art. 49 derogation.
    pub derogation: Option<Derogation>,
    /// Documented safeguards; required for the compelling-legitimate-interests derogation.
    pub safeguards: Option<String>,
    pub tia_date: Option<NaiveDate>,
}

/// A transfer of one flow to one destination country outside the EEA.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransferInput {
    pub country: String,
    pub safeguard: Safeguard,
}

#[derive(Clone, Debug)]
pub struct RecipientInput {
    pub key: String,
    pub legal_name: String,
    pub kind: RecipientKind,
    pub default_role: RecipientRole,
    pub description: Option<String>,
    pub country: String,
    pub processing_locations: Vec<String>,
    pub transfer: Option<Safeguard>,
    pub dpa_reference: Option<String>,
    pub certifications: Vec<String>,
    pub dpf_certified: bool,
    pub website: Option<String>,
    pub privacy_notice_url: Option<String>,
    pub status: RecipientStatus,
    pub public: bool,
    pub assumptions: Vec<String>,
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

#[derive(Clone, Debug)]
pub struct ActivityInput {
    pub key: String,
    pub name: String,
    pub description: Option<String>,
    pub organization_role: OrganizationRole,
    /// For processing on others' behalf, the controllers (by category) it is done for.
    pub controllers: Vec<String>,
    pub purposes: Vec<String>,
    pub legal_basis: Option<LegalBasis>,
    pub data_subjects: Vec<String>,
    pub data_categories: Vec<String>,
    pub products: Vec<String>,
    /// ISO 8601 duration: P6M, P10Y, P30D.
    pub retention_period: Option<String>,
    pub retention_reason: Option<String>,
    pub security_measures: Vec<String>,
    pub special_category_condition: Option<String>,
    pub assumptions: Vec<String>,
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
    pub retention_reason: Option<Option<String>>,
    pub security_measures: Option<Vec<String>>,
    pub special_category_condition: Option<Option<String>>,
    pub assumptions: Option<Vec<String>>,
    pub sources: Option<Vec<String>>,
}

#[derive(Clone, Debug)]
pub struct FlowInput {
    pub activity_id: i32,
    pub recipient_id: i32,
    pub via_recipient_id: Option<i32>,
    pub role: Option<RecipientRole>,
    pub purpose: Option<String>,
    pub data_categories: Vec<String>,
    pub data_subjects: Vec<String>,
    pub countries: Vec<String>,
    pub transfers: Vec<TransferInput>,
    pub assumptions: Vec<String>,
    pub sources: Vec<String>,
}

#[derive(Clone, Debug, Default)]
pub struct FlowPatch {
    pub activity_id: Option<i32>,
    pub recipient_id: Option<i32>,
    pub via_recipient_id: Option<Option<i32>>,
    pub role: Option<Option<RecipientRole>>,
    pub purpose: Option<Option<String>>,
    pub data_categories: Option<Vec<String>>,
    pub data_subjects: Option<Vec<String>>,
    pub countries: Option<Vec<String>>,
    pub transfers: Option<Vec<TransferInput>>,
    pub assumptions: Option<Vec<String>>,
    pub sources: Option<Vec<String>>,
}

/// A data category: `key` is dotted and its parent (the key without its last segment) must exist.
#[derive(Clone, Debug)]
pub struct DataCategoryInput {
    pub key: String,
    pub name: String,
    pub description: Option<String>,
    pub special_category: bool,
    pub fides_key: Option<String>,
}

/// A data subject category or a product.
#[derive(Clone, Debug)]
pub struct TermInput {
    pub key: String,
    pub name: String,
    pub description: Option<String>,
}

#[derive(Clone, Debug)]
pub struct OrganizationInput {
    pub name: String,
    pub address: String,
    pub country: String,
    pub dpo_name: String,
    pub dpo_email: String,
    pub dpo_address: Option<String>,
    pub representative: Option<String>,
    pub sources: Vec<String>,
}
