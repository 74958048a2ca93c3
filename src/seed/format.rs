//! The registry file's format (`data/registry.yaml`).
//!
//! The file is written for people: every value a privacy statement leaves open carries the
//! assumption made, in `assumptions`, and every fact names where it comes from, in `sources`.
//! Its entries are the registry's own inputs ([`crate::registry::inputs`]), so the file takes
//! exactly what the API takes, with the same names in snake_case; data flows name their
//! activity and recipients by key. Unknown keys are rejected so that a typo never silently
//! drops a fact. `subreg export` writes it back out from the live registry (empty lists and absent
//! values are left out), and `subreg plan` and `subreg apply` take it as the registry's manifest
//! (see [`crate::manifest`]).

use crate::registry::inputs::{
    ActivityInput, DataCategoryInput, FlowInput, OrganizationInput, RecipientInput, TermInput,
};
use serde::{Deserialize, Serialize};

/// A whole registry. The same type reads the file and writes it (`subreg export`), so what is
/// exported is exactly what is read back.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryFile {
    pub organization: OrganizationInput,
    /// The data category taxonomy, parents before their children: `contact.phone_number` is a
    /// child of `contact`, which must come earlier in the list.
    pub data_categories: Vec<DataCategoryInput>,
    pub data_subjects: Vec<TermInput>,
    pub products: Vec<TermInput>,
    pub recipients: Vec<RecipientInput>,
    pub processing_activities: Vec<ActivityInput>,
    pub data_flows: Vec<FlowInput<String>>,
}
