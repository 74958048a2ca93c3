//! Subreg's stored model: one plain sea-orm entity per table, and the enums stored in them.
//!
//! Nothing here knows about GraphQL or validation: the registry layer is the only writer and the
//! only place with business rules; these types only describe rows.

pub mod activity_data_category;
pub mod activity_data_subject;
pub mod activity_product;
pub mod api_key;
pub mod change_event;
pub mod change_event_product;
pub mod data_category;
pub mod data_flow;
pub mod data_subject_category;
pub mod enums;
pub mod flow_country;
pub mod flow_data_category;
pub mod flow_data_subject;
pub mod notice_attempt;
pub mod notice_delivery;
pub mod notice_key;
pub mod notice_subscriber;
pub mod objection;
pub mod organization;
pub mod processing_activity;
pub mod product;
pub mod recipient;
pub mod recipient_location;
pub mod recipient_product;
pub mod recipient_subprocessor;
pub mod registry_version;
pub mod transfer;

pub use enums::*;

use sea_orm::FromJsonQueryResult;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A list of texts stored as one JSON column (purposes, certifications, assumptions, sources...).
/// These lists are read whole and never filtered on, so they need no table of their own.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, FromJsonQueryResult)]
pub struct TextList(pub Vec<String>);

impl From<Vec<String>> for TextList {
    fn from(items: Vec<String>) -> Self {
        Self(items)
    }
}

/// The field-level changes a change-log event records, by field name (the API's camelCase
/// name), in name order. A creation lists every field with a `null` before, a deletion every
/// field with a `null` after.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, FromJsonQueryResult)]
#[serde(transparent)]
pub struct FieldChanges(pub BTreeMap<String, FieldChange>);

/// One field's value before and after a change, as the snapshot serializes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldChange {
    pub before: serde_json::Value,
    pub after: serde_json::Value,
}
