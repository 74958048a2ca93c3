//! What of a change the public feed shows. A public event concerns a recipient on the
//! public subprocessor list (or a flow to one; see [`on_public_list`]); its snapshot and field changes still carry
//! internal notes (contract references, assessments, assumptions) and, for a flow, the internal
//! activity and intermediary it names. Callers without a key see only the fields below.

use entity::RecipientStatus;
use serde_json::{Map, Value};

/// Whether a recipient is on the public subprocessor list: public, and announced or active. A
/// public recipient still PROPOSED is internal planning (customers hear of it when it is
/// announced, with their notice period); a retired one has left the list. An event reaches the
/// public feed when its recipient is on the list before or after it, so customers see a
/// recipient arrive (its announcement) and leave (its retirement), and nothing of one never
/// announced.
pub fn on_public_list(public: bool, status: RecipientStatus) -> bool {
    public && matches!(status, RecipientStatus::Announced | RecipientStatus::Active)
}

/// Whether a caller without a key may see the recipient itself: on the public list now, or
/// retired from it after it was announced. A proposed one, or one withdrawn before its
/// announcement, is as unknown to them as an internal one.
pub fn shown_to_public(recipient: &entity::recipient::Model) -> bool {
    on_public_list(recipient.public, recipient.status)
        || (recipient.public
            && recipient.status == RecipientStatus::Retired
            && recipient.announced_at.is_some())
}

/// The recipient fields a customer sees on the subprocessor list.
const PUBLIC_RECIPIENT_FIELDS: &[&str] = &[
    "key",
    "legalName",
    "kind",
    "defaultRole",
    "description",
    "country",
    "processingLocations",
    "transferMechanism",
    "sccModule",
    "derogation",
    "certifications",
    "dpfCertified",
    "website",
    "privacyNoticeUrl",
    "status",
    "public",
    "announcedAt",
    "effectiveAt",
];

/// The data-flow fields a customer sees: what goes to the subprocessor, where, under which
/// mechanism.
const PUBLIC_FLOW_FIELDS: &[&str] = &[
    "recipient",
    "role",
    "purpose",
    "dataCategories",
    "dataSubjects",
    "countries",
    "transfers",
];

/// The fields of a transfer a customer sees.
const PUBLIC_TRANSFER_FIELDS: &[&str] = &["country", "mechanism", "sccModule", "derogation"];

fn public_fields(entity_type: &str) -> &'static [&'static str] {
    match entity_type {
        "RECIPIENT" => PUBLIC_RECIPIENT_FIELDS,
        "DATA_FLOW" => PUBLIC_FLOW_FIELDS,
        _ => &[],
    }
}

fn keep(object: &Map<String, Value>, fields: &[&str]) -> Map<String, Value> {
    object
        .iter()
        .filter(|(name, _)| fields.contains(&name.as_str()))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect()
}

fn public_transfers(value: &Value) -> Value {
    match value {
        Value::Array(transfers) => Value::Array(
            transfers
                .iter()
                .map(|t| match t {
                    Value::Object(t) => Value::Object(keep(t, PUBLIC_TRANSFER_FIELDS)),
                    other => other.clone(),
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The public part of an entity snapshot.
pub fn public_snapshot(entity_type: &str, snapshot: &Value) -> Value {
    let Value::Object(object) = snapshot else {
        return Value::Null;
    };
    let mut kept = keep(object, public_fields(entity_type));
    if let Some(transfers) = kept.get_mut("transfers") {
        *transfers = public_transfers(transfers);
    }
    Value::Object(kept)
}

/// Whether a changed field (a key of an event's `changes`) is shown on the public feed.
pub fn is_public_field(entity_type: &str, field: &str) -> bool {
    public_fields(entity_type).contains(&field)
}

/// Whether a change alters anything the public feed shows: an edit to internal notes only (a
/// contract reference, an assessment date) is no news for customers and stays off their feed.
pub fn touches_public(entity_type: &str, changes: &Value) -> bool {
    changes.as_object().is_some_and(|fields| {
        fields.iter().any(|(field, change)| {
            is_public_field(entity_type, field)
                && public_value(field, &change["before"]) != public_value(field, &change["after"])
        })
    })
}

/// A changed field's value as the public feed shows it.
pub fn public_value(field: &str, value: &Value) -> Value {
    if field == "transfers" {
        public_transfers(value)
    } else {
        value.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn internal_notes_stay_off_the_public_feed() {
        let recipient = json!({
            "key": "stripe", "legalName": "Stripe", "dpaReference": "DPA-2021-07",
            "tiaDate": "2024-01-01", "assumptions": ["x"], "sources": ["y"],
            "derogationSafeguards": "internal", "processingLocations": ["US"]
        });
        let shown = public_snapshot("RECIPIENT", &recipient);
        assert_eq!(
            shown,
            json!({"key": "stripe", "legalName": "Stripe", "processingLocations": ["US"]})
        );
    }

    #[test]
    fn flows_hide_activity_intermediary_and_assessments() {
        let flow = json!({
            "activity": "internal-fraud-review", "recipient": "segment", "via": "internal-proxy",
            "purpose": "analytics", "assumptions": [],
            "transfers": [{"country": "US", "mechanism": "STANDARD_CONTRACTUAL_CLAUSES",
                           "sccModule": 3, "safeguards": "note", "tiaDate": "2024-01-01"}]
        });
        let shown = public_snapshot("DATA_FLOW", &flow);
        assert_eq!(
            shown,
            json!({"recipient": "segment", "purpose": "analytics",
                   "transfers": [{"country": "US", "mechanism": "STANDARD_CONTRACTUAL_CLAUSES", "sccModule": 3}]})
        );
        assert!(!is_public_field("DATA_FLOW", "via"));
        let internal_only = json!({
            "dpaReference": {"before": null, "after": "DPA-1"},
            "transfers": {"before": [{"country": "US", "tiaDate": null}],
                          "after": [{"country": "US", "tiaDate": "2026-01-01"}]}
        });
        assert!(!touches_public("RECIPIENT", &internal_only));
        assert!(!touches_public("DATA_FLOW", &internal_only));
        let renamed = json!({"legalName": {"before": "A", "after": "B"}});
        assert!(touches_public("RECIPIENT", &renamed));
        assert!(is_public_field("RECIPIENT", "legalName"));
        assert!(!is_public_field("PROCESSING_ACTIVITY", "name"));
    }
}
