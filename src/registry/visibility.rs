//! What customers see. The public subprocessor list and its change feed show a recipient on the
//! list, and the flows to it, through the public views below: each is built from the entity's
//! snapshot by a conversion that names every field of the snapshot, so a field added to a
//! snapshot does not compile until it is declared shown or internal here. Internal notes
//! (contract references, assessments, assumptions, sources) and, for a flow, the internal
//! activity and intermediary it names never reach a caller without a key.

use super::snapshot::{FlowSnapshot, RecipientSnapshot, Snapshot, TransferSnapshot, changes};
use chrono::{DateTime, Utc};
use entity::{
    Derogation, FieldChanges, RecipientKind, RecipientRole, RecipientStatus, TransferMechanism,
};
use serde::Serialize;
use serde_json::Value;

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

/// Whether customers see a data flow: it goes to a recipient on the public list, and it is one
/// that makes the recipient a subprocessor ([`super::rules::is_subprocessing`]). The list is of
/// subprocessors (Art. 28(2)): what the organization sends a listed recipient for its own
/// purposes, as controller (its billing, its marketing), is none of its customers' business
/// and stays internal, like the processing activity itself.
pub fn flow_shown(recipient_listed: bool, subprocessing: bool) -> bool {
    recipient_listed && subprocessing
}

/// A recipient as a customer sees it on the subprocessor list.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PublicRecipient {
    pub key: String,
    pub legal_name: String,
    pub kind: RecipientKind,
    pub default_role: RecipientRole,
    pub description: Option<String>,
    pub country: String,
    pub processing_locations: Vec<String>,
    pub transfer_mechanism: Option<TransferMechanism>,
    pub scc_module: Option<i16>,
    pub derogation: Option<Derogation>,
    pub certifications: Vec<String>,
    pub dpf_certified: bool,
    pub website: Option<String>,
    pub privacy_notice_url: Option<String>,
    pub status: RecipientStatus,
    pub public: bool,
    pub announced_at: Option<DateTime<Utc>>,
    pub effective_at: Option<DateTime<Utc>>,
}

impl From<&RecipientSnapshot> for PublicRecipient {
    fn from(r: &RecipientSnapshot) -> Self {
        let RecipientSnapshot {
            key,
            legal_name,
            kind,
            default_role,
            description,
            country,
            processing_locations,
            transfer_mechanism,
            scc_module,
            derogation,
            // Internal: the documented safeguards and the assessment behind the mechanism.
            derogation_safeguards: _,
            tia_date: _,
            // Internal: the contract's reference.
            dpa_reference: _,
            certifications,
            dpf_certified,
            website,
            privacy_notice_url,
            status,
            public,
            announced_at,
            effective_at,
            // Internal: how the registry's facts were established.
            assumptions: _,
            sources: _,
        } = r;
        Self {
            key: key.clone(),
            legal_name: legal_name.clone(),
            kind: *kind,
            default_role: *default_role,
            description: description.clone(),
            country: country.clone(),
            processing_locations: processing_locations.clone(),
            transfer_mechanism: *transfer_mechanism,
            scc_module: *scc_module,
            derogation: *derogation,
            certifications: certifications.clone(),
            dpf_certified: *dpf_certified,
            website: website.clone(),
            privacy_notice_url: privacy_notice_url.clone(),
            status: *status,
            public: *public,
            announced_at: *announced_at,
            effective_at: *effective_at,
        }
    }
}

/// A data flow to a listed subprocessor as a customer sees it: what goes to it, about whom,
/// where, under which mechanism.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PublicFlow {
    pub recipient: String,
    pub role: Option<RecipientRole>,
    pub purpose: Option<String>,
    pub data_categories: Vec<String>,
    pub data_subjects: Vec<String>,
    pub countries: Vec<String>,
    pub transfers: Vec<PublicTransfer>,
}

impl From<&FlowSnapshot> for PublicFlow {
    fn from(f: &FlowSnapshot) -> Self {
        let FlowSnapshot {
            // Internal: the organization's own activity, the intermediary and the exporting
            // establishment.
            activity: _,
            via: _,
            exporter: _,
            recipient,
            role,
            purpose,
            data_categories,
            data_subjects,
            countries,
            transfers,
            assumptions: _,
            sources: _,
        } = f;
        Self {
            recipient: recipient.clone(),
            role: *role,
            purpose: purpose.clone(),
            data_categories: data_categories.clone(),
            data_subjects: data_subjects.clone(),
            countries: countries.clone(),
            transfers: transfers.iter().map(PublicTransfer::from).collect(),
        }
    }
}

/// A transfer as a customer sees it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PublicTransfer {
    pub country: String,
    pub mechanism: TransferMechanism,
    pub scc_module: Option<i16>,
    pub derogation: Option<Derogation>,
}

impl From<&TransferSnapshot> for PublicTransfer {
    fn from(t: &TransferSnapshot) -> Self {
        let TransferSnapshot {
            country,
            mechanism,
            scc_module,
            derogation,
            // Internal: the documented safeguards and the assessment.
            safeguards: _,
            tia_date: _,
        } = t;
        Self {
            country: country.clone(),
            mechanism: *mechanism,
            scc_module: *scc_module,
            derogation: *derogation,
        }
    }
}

/// An entity as the public feed shows it: nothing of a processing activity.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum PublicView {
    Recipient(PublicRecipient),
    DataFlow(PublicFlow),
    Nothing,
}

impl From<&Snapshot> for PublicView {
    fn from(snapshot: &Snapshot) -> Self {
        match snapshot {
            Snapshot::Recipient(r) => Self::Recipient(r.into()),
            Snapshot::DataFlow(f) => Self::DataFlow(f.into()),
            Snapshot::ProcessingActivity(_) => Self::Nothing,
        }
    }
}

impl PublicView {
    /// The view as the feed's `snapshot` field shows it.
    pub fn to_json(&self) -> Value {
        match self {
            Self::Nothing => Value::Object(Default::default()),
            shown => serde_json::to_value(shown).unwrap_or(Value::Null),
        }
    }
}

/// The field-level changes a customer sees between two states: those of their public views.
pub fn public_changes(before: Option<&Snapshot>, after: Option<&Snapshot>) -> FieldChanges {
    let before = before.map(PublicView::from);
    let after = after.map(PublicView::from);
    changes(before.as_ref(), after.as_ref())
}

/// Whether a change to a recipient belongs on the public feed: the recipient is on the list
/// before or after it, and the change alters what customers see (an edit of internal notes only
/// is no news for them). A creation or deletion alters everything.
pub(crate) fn recipient_change_is_public(
    before: Option<&RecipientSnapshot>,
    after: Option<&RecipientSnapshot>,
) -> bool {
    let listed = before.is_some_and(RecipientSnapshot::on_public_list)
        || after.is_some_and(RecipientSnapshot::on_public_list);
    let shown = |r: Option<&RecipientSnapshot>| r.map(PublicRecipient::from);
    listed && shown(before) != shown(after)
}

/// Whether a change to a flow belongs on the public feed. With each state, whether customers
/// see the flow in it ([`flow_shown`]). A flow appears (its creation) or goes (its deletion) on
/// the feed where customers see it; an update is public only while they see it before and
/// after and what they see of it changes: a flow that starts or stops being shown (moved
/// between a listed and an unlisted recipient, or to a role that is or is not subprocessing) is
/// written as joining or leaving the list instead, so that the feed never names a recipient
/// before its announcement nor shows the organization's own processing.
pub(crate) fn flow_change_is_public(
    before: Option<(&FlowSnapshot, bool)>,
    after: Option<(&FlowSnapshot, bool)>,
) -> bool {
    match (before, after) {
        (None, Some((_, shown))) | (Some((_, shown)), None) => shown,
        (Some((was, was_shown)), Some((is, is_shown))) => {
            was_shown && is_shown && PublicFlow::from(was) != PublicFlow::from(is)
        }
        (None, None) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn stripe() -> RecipientSnapshot {
        serde_json::from_value(json!({
            "key": "stripe", "legalName": "Stripe", "kind": "PAYMENT_SERVICE_PROVIDER",
            "defaultRole": "CONTROLLER", "description": null, "country": "IE",
            "processingLocations": ["US"], "transferMechanism": "STANDARD_CONTRACTUAL_CLAUSES",
            "sccModule": 1, "derogation": null, "derogationSafeguards": "internal",
            "tiaDate": "2024-01-01", "dpaReference": "DPA-2021-07", "certifications": [],
            "dpfCertified": false, "website": null, "privacyNoticeUrl": null,
            "status": "ACTIVE", "public": true, "assumptions": ["x"], "sources": ["y"]
        }))
        .unwrap()
    }

    fn flow() -> FlowSnapshot {
        serde_json::from_value(json!({
            "activity": "internal-fraud-review", "recipient": "segment", "via": "internal-proxy",
            "role": null, "purpose": "analytics", "dataCategories": [], "dataSubjects": [],
            "countries": ["US"], "assumptions": [], "sources": [],
            "transfers": [{"country": "US", "mechanism": "STANDARD_CONTRACTUAL_CLAUSES",
                           "sccModule": 3, "derogation": null, "safeguards": "note",
                           "tiaDate": "2024-01-01"}]
        }))
        .unwrap()
    }

    #[test]
    fn internal_notes_stay_off_the_public_feed() {
        let shown = PublicView::from(&Snapshot::Recipient(stripe())).to_json();
        for internal in [
            "dpaReference",
            "tiaDate",
            "assumptions",
            "sources",
            "derogationSafeguards",
        ] {
            assert!(shown.get(internal).is_none(), "{internal} is shown");
        }
        assert_eq!(shown["legalName"], "Stripe");
        assert_eq!(shown["processingLocations"], json!(["US"]));
    }

    #[test]
    fn flows_hide_activity_intermediary_and_assessments() {
        let shown = PublicView::from(&Snapshot::DataFlow(flow())).to_json();
        assert_eq!(
            shown,
            json!({"recipient": "segment", "role": null, "purpose": "analytics",
                   "dataCategories": [], "dataSubjects": [], "countries": ["US"],
                   "transfers": [{"country": "US", "mechanism": "STANDARD_CONTRACTUAL_CLAUSES",
                                  "sccModule": 3, "derogation": null}]})
        );
    }

    #[test]
    fn an_edit_of_internal_notes_is_no_news_for_customers() {
        let before = stripe();
        let noted = RecipientSnapshot {
            dpa_reference: Some("DPA-2".into()),
            tia_date: None,
            ..stripe()
        };
        assert!(!recipient_change_is_public(Some(&before), Some(&noted)));
        let renamed = RecipientSnapshot {
            legal_name: "Stripe, Inc.".into(),
            ..stripe()
        };
        assert!(recipient_change_is_public(Some(&before), Some(&renamed)));
        let internal = RecipientSnapshot {
            public: false,
            ..renamed.clone()
        };
        assert!(!recipient_change_is_public(
            Some(&internal),
            Some(&internal)
        ));
        assert!(!recipient_change_is_public(None, Some(&internal)));

        let flow = flow();
        let reassessed = FlowSnapshot {
            transfers: vec![TransferSnapshot {
                tia_date: None,
                ..flow.transfers[0].clone()
            }],
            ..flow.clone()
        };
        let shown = |f| Some((f, true));
        assert!(!flow_change_is_public(shown(&flow), shown(&reassessed)));
        let rerouted = FlowSnapshot {
            countries: vec!["US".into(), "GB".into()],
            ..flow.clone()
        };
        assert!(flow_change_is_public(shown(&flow), shown(&rerouted)));
        assert!(!flow_change_is_public(
            Some((&flow, true)),
            Some((&rerouted, false))
        ));
        assert!(flow_change_is_public(None, shown(&flow)));
        assert!(!flow_change_is_public(Some((&flow, false)), None));
        // A controller flow to a listed recipient is the organization's own business.
        assert!(!flow_shown(true, false));
        assert!(!flow_shown(false, true));
        assert!(flow_shown(true, true));
    }

    #[test]
    fn public_changes_compare_what_customers_see() {
        let before = Snapshot::Recipient(stripe());
        let after = Snapshot::Recipient(RecipientSnapshot {
            dpa_reference: None,
            legal_name: "Stripe, Inc.".into(),
            ..stripe()
        });
        let shown = public_changes(Some(&before), Some(&after));
        assert_eq!(shown.0.keys().collect::<Vec<_>>(), ["legalName"]);
    }
}
