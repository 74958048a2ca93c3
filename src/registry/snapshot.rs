//! What the change log records of each entity: one serde type per kind of entity, the only
//! description of a stored snapshot's shape. Every event is written from these types, and the
//! change feed, the record of processing activities and past-date views read them back into the
//! same types.
//!
//! A field added later carries `#[serde(default)]`, so that snapshots written before it still
//! read. A field whose meaning changes would need a new version of its type and a conversion
//! from the old one; none has so far, so snapshots carry no version. (What a retention period
//! runs from was added beside the period, whose meaning stayed "how long": an activity recorded
//! before reads with no start, which the findings ask for.)

use super::inputs::{ActivityInput, FlowInput, RecipientInput, Safeguard, TransferInput};
use chrono::{DateTime, NaiveDate, Utc};
use entity::{
    ChangeKind, Derogation, EntityType, FieldChange, FieldChanges, LegalBasis, OrganizationRole,
    RecipientKind, RecipientRole, RecipientStatus, RetentionStart, TextList, TransferMechanism,
    data_flow, processing_activity, recipient, transfer,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A recipient as the change log records it: the state after each change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecipientSnapshot {
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
    pub derogation_safeguards: Option<String>,
    pub tia_date: Option<NaiveDate>,
    pub dpa_reference: Option<String>,
    pub certifications: Vec<String>,
    pub dpf_certified: bool,
    pub website: Option<String>,
    pub privacy_notice_url: Option<String>,
    pub status: RecipientStatus,
    pub public: bool,
    #[serde(default)]
    pub announced_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub effective_at: Option<DateTime<Utc>>,
    pub assumptions: Vec<String>,
    pub sources: Vec<String>,
}

impl RecipientSnapshot {
    /// The snapshot of a stored recipient and its processing locations.
    pub fn of(recipient: recipient::Model, processing_locations: Vec<String>) -> Self {
        // Destructured whole, so that a column added to the table is a compile error here
        // until the snapshot records it (or says why not).
        let recipient::Model {
            id: _,
            key,
            legal_name,
            kind,
            default_role,
            description,
            country,
            dpa_reference,
            certifications,
            dpf_certified,
            website,
            privacy_notice_url,
            status,
            announced_at,
            effective_at,
            public,
            transfer_mechanism,
            scc_module,
            derogation,
            derogation_safeguards,
            tia_date,
            assumptions,
            sources,
            created_at: _,
            updated_at: _,
        } = recipient;
        Self {
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
            derogation_safeguards,
            tia_date,
            dpa_reference,
            certifications: certifications.0,
            dpf_certified,
            website,
            privacy_notice_url,
            status,
            public,
            announced_at,
            effective_at,
            assumptions: assumptions.0,
            sources: sources.0,
        }
    }

    /// The stored row this snapshot describes (`id` and timestamps from the log).
    pub fn into_model(
        self,
        id: i32,
        created_at: DateTime<Utc>,
        updated_at: DateTime<Utc>,
    ) -> recipient::Model {
        let Self {
            key,
            legal_name,
            kind,
            default_role,
            description,
            country,
            processing_locations: _,
            transfer_mechanism,
            scc_module,
            derogation,
            derogation_safeguards,
            tia_date,
            dpa_reference,
            certifications,
            dpf_certified,
            website,
            privacy_notice_url,
            status,
            public,
            announced_at,
            effective_at,
            assumptions,
            sources,
        } = self;
        recipient::Model {
            id,
            key,
            legal_name,
            kind,
            default_role,
            description,
            country,
            dpa_reference,
            certifications: TextList(certifications),
            dpf_certified,
            website,
            privacy_notice_url,
            status,
            announced_at,
            effective_at,
            public,
            transfer_mechanism,
            scc_module,
            derogation,
            derogation_safeguards,
            tia_date,
            assumptions: TextList(assumptions),
            sources: TextList(sources),
            created_at,
            updated_at,
        }
    }

    /// Whether the recipient is on the public subprocessor list in this state.
    pub fn on_public_list(&self) -> bool {
        super::visibility::on_public_list(self.public, self.status)
    }

    /// The transfer safeguard recorded for the processing locations outside the EEA, if any.
    pub fn safeguard(&self) -> Option<Safeguard> {
        self.transfer_mechanism.map(|mechanism| Safeguard {
            mechanism,
            scc_module: self.scc_module.map(i32::from),
            derogation: self.derogation,
            safeguards: self.derogation_safeguards.clone(),
            tia_date: self.tia_date,
        })
    }
}

/// The input that records the recipient as it is (the base an update's patch applies to).
impl From<RecipientSnapshot> for RecipientInput {
    fn from(r: RecipientSnapshot) -> Self {
        let transfer = r.safeguard();
        let RecipientSnapshot {
            key,
            legal_name,
            kind,
            default_role,
            description,
            country,
            processing_locations,
            // In `transfer`.
            transfer_mechanism: _,
            scc_module: _,
            derogation: _,
            derogation_safeguards: _,
            tia_date: _,
            dpa_reference,
            certifications,
            dpf_certified,
            website,
            privacy_notice_url,
            status,
            public,
            // Set by announcements, never by an input.
            announced_at: _,
            effective_at: _,
            assumptions,
            sources,
        } = r;
        Self {
            key,
            legal_name,
            kind,
            default_role,
            description,
            country,
            processing_locations,
            transfer,
            dpa_reference,
            certifications,
            dpf_certified,
            website,
            privacy_notice_url,
            status,
            public,
            assumptions,
            sources,
        }
    }
}

/// A data flow as the change log records it: the state after each change. References are by
/// key; the event row carries the ids.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FlowSnapshot {
    pub activity: String,
    pub recipient: String,
    pub via: Option<String>,
    /// The establishment of the organization that exports a direct flow, when not the
    /// organization itself.
    #[serde(default)]
    pub exporter: Option<String>,
    /// The flow's own role, when it overrides the recipient's default.
    pub role: Option<RecipientRole>,
    pub purpose: Option<String>,
    pub data_categories: Vec<String>,
    pub data_subjects: Vec<String>,
    pub countries: Vec<String>,
    pub transfers: Vec<TransferSnapshot>,
    pub assumptions: Vec<String>,
    pub sources: Vec<String>,
}

/// The keys a flow snapshot names its references by.
#[derive(Clone, Debug, Default)]
pub struct FlowRefs {
    pub activity: String,
    pub recipient: String,
    pub via: Option<String>,
    pub exporter: Option<String>,
    pub data_categories: Vec<String>,
    pub data_subjects: Vec<String>,
}

impl FlowSnapshot {
    /// The snapshot of a stored flow, its references, destinations and transfers.
    pub fn of(
        flow: &data_flow::Model,
        refs: FlowRefs,
        countries: Vec<String>,
        transfers: &[transfer::Model],
    ) -> Self {
        let data_flow::Model {
            id: _,
            activity_id: _,
            recipient_id: _,
            via_recipient_id: _,
            exporter_recipient_id: _,
            role,
            purpose,
            assumptions,
            sources,
            created_at: _,
            updated_at: _,
        } = flow;
        let FlowRefs {
            activity,
            recipient,
            via,
            exporter,
            mut data_categories,
            mut data_subjects,
        } = refs;
        // By key in byte order, whatever the database's collation: every path that records a
        // flow (one by one, in a batch, read back) then writes the same snapshot.
        data_categories.sort();
        data_subjects.sort();
        Self {
            activity,
            recipient,
            via,
            exporter,
            role: *role,
            purpose: purpose.clone(),
            data_categories,
            data_subjects,
            countries,
            transfers: transfers.iter().map(TransferSnapshot::from).collect(),
            assumptions: assumptions.0.clone(),
            sources: sources.0.clone(),
        }
    }
}

impl FlowSnapshot {
    /// The input that records `flow` (whose snapshot this is) as it is.
    pub fn into_input(self, flow: &data_flow::Model) -> FlowInput {
        let Self {
            // By id, from the row.
            activity: _,
            recipient: _,
            via: _,
            exporter: _,
            role,
            purpose,
            data_categories,
            data_subjects,
            countries,
            transfers,
            assumptions,
            sources,
        } = self;
        FlowInput {
            activity: flow.activity_id,
            recipient: flow.recipient_id,
            via: flow.via_recipient_id,
            exporter: flow.exporter_recipient_id,
            role,
            purpose,
            data_categories,
            data_subjects,
            countries,
            transfers: transfers.into_iter().map(TransferInput::from).collect(),
            assumptions,
            sources,
        }
    }
}

impl From<FlowSnapshot> for FlowInput<String> {
    /// The flow as the registry file writes it: its references by key.
    fn from(f: FlowSnapshot) -> Self {
        let FlowSnapshot {
            activity,
            recipient,
            via,
            exporter,
            role,
            purpose,
            data_categories,
            data_subjects,
            countries,
            transfers,
            assumptions,
            sources,
        } = f;
        FlowInput {
            activity,
            recipient,
            via,
            exporter,
            role,
            purpose,
            data_categories,
            data_subjects,
            countries,
            transfers: transfers.into_iter().map(TransferInput::from).collect(),
            assumptions,
            sources,
        }
    }
}

/// A transfer of a flow, in its snapshot.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransferSnapshot {
    pub country: String,
    pub mechanism: TransferMechanism,
    pub scc_module: Option<i16>,
    pub derogation: Option<Derogation>,
    pub safeguards: Option<String>,
    pub tia_date: Option<NaiveDate>,
}

impl From<&transfer::Model> for TransferSnapshot {
    fn from(t: &transfer::Model) -> Self {
        let transfer::Model {
            id: _,
            flow_id: _,
            country,
            mechanism,
            scc_module,
            derogation,
            safeguards,
            tia_date,
        } = t;
        Self {
            country: country.clone(),
            mechanism: *mechanism,
            scc_module: *scc_module,
            derogation: *derogation,
            safeguards: safeguards.clone(),
            tia_date: *tia_date,
        }
    }
}

impl From<TransferSnapshot> for TransferInput {
    fn from(t: TransferSnapshot) -> Self {
        Self {
            country: t.country,
            safeguard: Safeguard {
                mechanism: t.mechanism,
                scc_module: t.scc_module.map(i32::from),
                derogation: t.derogation,
                safeguards: t.safeguards,
                tia_date: t.tia_date,
            },
        }
    }
}

/// A processing activity as the change log records it: the state after each change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActivitySnapshot {
    pub key: String,
    pub name: String,
    pub description: Option<String>,
    pub organization_role: OrganizationRole,
    /// Art. 30(2)(a): the controllers (by category) on whose behalf the organization acts.
    #[serde(default)]
    pub controllers: Vec<String>,
    pub purposes: Vec<String>,
    pub legal_basis: Option<LegalBasis>,
    pub data_subjects: Vec<String>,
    pub data_categories: Vec<String>,
    pub products: Vec<String>,
    pub retention_period: Option<String>,
    /// What the period runs from (absent in snapshots written before it was recorded).
    #[serde(default)]
    pub retention_from: Option<RetentionStart>,
    pub retention_reason: Option<String>,
    pub security_measures: Vec<String>,
    pub special_category_condition: Option<String>,
    pub assumptions: Vec<String>,
    pub sources: Vec<String>,
}

/// The taxonomy terms an activity links to, by key.
#[derive(Clone, Debug, Default)]
pub struct ActivityLinks {
    pub data_subjects: Vec<String>,
    pub data_categories: Vec<String>,
    pub products: Vec<String>,
}

impl ActivitySnapshot {
    /// The snapshot of a stored processing activity and the terms it links to.
    pub fn of(activity: processing_activity::Model, links: ActivityLinks) -> Self {
        let processing_activity::Model {
            id: _,
            key,
            name,
            description,
            organization_role,
            controllers,
            purposes,
            legal_basis,
            retention_period,
            retention_from,
            retention_reason,
            security_measures,
            special_category_condition,
            assumptions,
            sources,
            created_at: _,
            updated_at: _,
        } = activity;
        let ActivityLinks {
            mut data_subjects,
            mut data_categories,
            mut products,
        } = links;
        // As a flow's terms (see `FlowSnapshot::of`).
        data_subjects.sort();
        data_categories.sort();
        products.sort();
        Self {
            key,
            name,
            description,
            organization_role,
            controllers: controllers.0,
            purposes: purposes.0,
            legal_basis,
            data_subjects,
            data_categories,
            products,
            retention_period,
            retention_from,
            retention_reason,
            security_measures: security_measures.0,
            special_category_condition,
            assumptions: assumptions.0,
            sources: sources.0,
        }
    }
}

/// The input that records the activity as it is (the base an update's patch applies to).
impl From<ActivitySnapshot> for ActivityInput {
    fn from(a: ActivitySnapshot) -> Self {
        let ActivitySnapshot {
            key,
            name,
            description,
            organization_role,
            controllers,
            purposes,
            legal_basis,
            data_subjects,
            data_categories,
            products,
            retention_period,
            retention_from,
            retention_reason,
            security_measures,
            special_category_condition,
            assumptions,
            sources,
        } = a;
        Self {
            key,
            name,
            description,
            organization_role,
            controllers,
            purposes,
            legal_basis,
            data_subjects,
            data_categories,
            products,
            retention_period,
            retention_from,
            retention_reason,
            security_measures,
            special_category_condition,
            assumptions,
            sources,
        }
    }
}

/// The snapshot an event holds, typed by the entity it is about.
#[derive(Clone, Debug, PartialEq)]
pub enum Snapshot {
    Recipient(RecipientSnapshot),
    DataFlow(FlowSnapshot),
    ProcessingActivity(ActivitySnapshot),
}

impl Snapshot {
    pub fn entity_type(&self) -> EntityType {
        match self {
            Self::Recipient(_) => EntityType::Recipient,
            Self::DataFlow(_) => EntityType::DataFlow,
            Self::ProcessingActivity(_) => EntityType::ProcessingActivity,
        }
    }

    /// Reads a stored snapshot of an `entity_type` entity.
    pub fn decode(entity_type: EntityType, stored: Value) -> serde_json::Result<Self> {
        Ok(match entity_type {
            EntityType::Recipient => Self::Recipient(serde_json::from_value(stored)?),
            EntityType::DataFlow => Self::DataFlow(serde_json::from_value(stored)?),
            EntityType::ProcessingActivity => {
                Self::ProcessingActivity(serde_json::from_value(stored)?)
            }
        })
    }

    /// The snapshot as it is stored.
    pub fn to_stored(&self) -> Value {
        match self {
            Self::Recipient(s) => fields(s),
            Self::DataFlow(s) => fields(s),
            Self::ProcessingActivity(s) => fields(s),
        }
    }

    /// The field-level changes an event of `kind` implies by its snapshot alone: for a creation
    /// every field of `self` (from nothing), for a deletion every field of `self` (to nothing);
    /// `None` for any other kind, whose changes are stored. The log stores none for a creation
    /// or a deletion (see `Transition::stored_changes`); readers call this instead.
    pub fn implied_changes(&self, kind: ChangeKind) -> Option<FieldChanges> {
        use ChangeKind::*;
        let fields = self.to_stored();
        match kind {
            RecipientCreated | FlowCreated | ActivityCreated => Some(changes(None, Some(&fields))),
            RecipientDeleted | FlowDeleted | ActivityDeleted => Some(changes(Some(&fields), None)),
            _ => None,
        }
    }

    /// The state on the other side of an event of `kind` that recorded `self` and `changes`:
    /// `(before, after)`. A creation has no before and a deletion (whose snapshot is the state
    /// before it) no after; for any other change the state before is this one with each changed
    /// field set back to its value before.
    pub fn transition(
        self,
        kind: ChangeKind,
        changes: &FieldChanges,
    ) -> (Option<Snapshot>, Option<Snapshot>) {
        use ChangeKind::*;
        match kind {
            RecipientCreated | FlowCreated | ActivityCreated => (None, Some(self)),
            RecipientDeleted | FlowDeleted | ActivityDeleted => (Some(self), None),
            _ => {
                let mut before = match self.to_stored() {
                    Value::Object(fields) => fields,
                    _ => Map::new(),
                };
                for (field, change) in &changes.0 {
                    before.insert(field.clone(), change.before.clone());
                }
                let before = Self::decode(self.entity_type(), Value::Object(before)).ok();
                (before, Some(self))
            }
        }
    }
}

/// Parts of stored snapshots, for readers of many of them that need a few fields each (the
/// past subprocessor list, the record of processing activities): the rest of each snapshot is
/// skipped unparsed. Each field is its full type's, under the same name; the tests below check
/// that they read what the full types write.
pub mod part {
    use super::TransferSnapshot;
    use entity::{OrganizationRole, RecipientRole};
    use serde::Deserialize;

    /// A flow's own role ([`super::FlowSnapshot::role`]).
    #[derive(Debug, Deserialize)]
    pub struct FlowRole {
        pub role: Option<RecipientRole>,
    }

    /// A flow's role, forwarder and exporter (by key), destinations and transfers.
    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct FlowRouting {
        pub role: Option<RecipientRole>,
        #[serde(default)]
        pub via: Option<String>,
        #[serde(default)]
        pub exporter: Option<String>,
        pub countries: Vec<String>,
        pub transfers: Vec<TransferSnapshot>,
    }

    /// An activity's organization role ([`super::ActivitySnapshot::organization_role`]).
    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct ActivityRole {
        pub organization_role: OrganizationRole,
    }
}

/// A value's fields as stored: a JSON object.
fn fields(value: &impl Serialize) -> Value {
    // The snapshot types are plain structs of strings, numbers, dates and lists: serializing
    // them to JSON cannot fail.
    serde_json::to_value(value).unwrap_or_else(|_| Value::Object(Map::new()))
}

/// The field-level changes from `before` to `after` (either absent for a creation or a
/// deletion, in which case every field of the other is listed). Fields are compared as they are
/// stored, so `changes` says exactly what the snapshots say.
pub fn changes<S: Serialize>(before: Option<&S>, after: Option<&S>) -> FieldChanges {
    let object = |value: Option<&S>| match value.map(fields) {
        Some(Value::Object(fields)) => fields,
        _ => Map::new(),
    };
    let (before, after) = (object(before), object(after));
    let mut out = FieldChanges::default();
    for field in before.keys().chain(after.keys()) {
        if out.0.contains_key(field) {
            continue;
        }
        let old = before.get(field).cloned().unwrap_or(Value::Null);
        let new = after.get(field).cloned().unwrap_or(Value::Null);
        if old != new {
            out.0.insert(
                field.clone(),
                FieldChange {
                    before: old,
                    after: new,
                },
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn recipient() -> RecipientSnapshot {
        RecipientSnapshot {
            key: "aws".into(),
            legal_name: "Amazon Web Services EMEA SARL".into(),
            kind: RecipientKind::HostingProvider,
            default_role: RecipientRole::Processor,
            description: None,
            country: "LU".into(),
            processing_locations: vec!["DE".into(), "US".into()],
            transfer_mechanism: Some(TransferMechanism::StandardContractualClauses),
            scc_module: Some(3),
            derogation: None,
            derogation_safeguards: None,
            tia_date: None,
            dpa_reference: Some("DPA-1".into()),
            certifications: vec![],
            dpf_certified: false,
            website: None,
            privacy_notice_url: None,
            status: RecipientStatus::Active,
            public: true,
            announced_at: None,
            effective_at: None,
            assumptions: vec![],
            sources: vec![],
        }
    }

    #[test]
    fn changes_list_only_changed_fields_by_their_stored_names() {
        let before = recipient();
        let after = RecipientSnapshot {
            country: "IE".into(),
            processing_locations: vec!["DE".into(), "IE".into(), "US".into()],
            ..recipient()
        };
        let changes = changes(Some(&before), Some(&after));
        assert_eq!(
            serde_json::to_value(&changes).unwrap(),
            json!({
                "country": {"before": "LU", "after": "IE"},
                "processingLocations": {"before": ["DE", "US"], "after": ["DE", "IE", "US"]},
            })
        );
        assert!(super::changes(Some(&after), Some(&after)).0.is_empty());
        let created = super::changes(None, Some(&after));
        assert_eq!(created.0["legalName"].before, Value::Null);
        // A creation lists every field that has a value.
        let valued = fields(&after)
            .as_object()
            .unwrap()
            .values()
            .filter(|v| !v.is_null())
            .count();
        assert_eq!(created.0.len(), valued);
    }

    #[test]
    fn an_update_can_be_replayed_backwards_from_its_snapshot_and_changes() {
        let before = recipient();
        let after = RecipientSnapshot {
            legal_name: "AWS".into(),
            public: false,
            ..recipient()
        };
        let recorded = changes(Some(&before), Some(&after));
        let (was, is) =
            Snapshot::Recipient(after.clone()).transition(ChangeKind::RecipientUpdated, &recorded);
        assert_eq!(was, Some(Snapshot::Recipient(before.clone())));
        assert_eq!(is, Some(Snapshot::Recipient(after)));
        let (was, is) =
            Snapshot::Recipient(before.clone()).transition(ChangeKind::RecipientDeleted, &recorded);
        assert_eq!((was, is), (Some(Snapshot::Recipient(before)), None));
    }

    #[test]
    fn the_parts_read_what_the_full_snapshots_write() {
        let flow = FlowSnapshot {
            activity: "sms_delivery".into(),
            recipient: "aws".into(),
            via: None,
            exporter: None,
            role: Some(RecipientRole::MereConduit),
            purpose: None,
            data_categories: vec!["contact".into()],
            data_subjects: vec!["end_users".into()],
            countries: vec!["US".into()],
            transfers: vec![TransferSnapshot {
                country: "US".into(),
                mechanism: TransferMechanism::StandardContractualClauses,
                scc_module: Some(3),
                derogation: None,
                safeguards: None,
                tia_date: None,
            }],
            assumptions: vec![],
            sources: vec![],
        };
        let stored = serde_json::to_string(&flow).unwrap();
        let role: part::FlowRole = serde_json::from_str(&stored).unwrap();
        assert_eq!(role.role, flow.role);
        let routing: part::FlowRouting = serde_json::from_str(&stored).unwrap();
        assert_eq!(
            (routing.role, routing.countries, routing.transfers),
            (flow.role, flow.countries, flow.transfers)
        );
        let activity = ActivitySnapshot {
            key: "billing".into(),
            name: "Billing".into(),
            description: None,
            organization_role: OrganizationRole::Controller,
            controllers: vec![],
            purposes: vec!["invoices".into()],
            legal_basis: Some(LegalBasis::Contract),
            data_subjects: vec![],
            data_categories: vec![],
            products: vec![],
            retention_period: None,
            retention_from: None,
            retention_reason: None,
            security_measures: vec![],
            special_category_condition: None,
            assumptions: vec![],
            sources: vec![],
        };
        let stored = serde_json::to_string(&activity).unwrap();
        let role: part::ActivityRole = serde_json::from_str(&stored).unwrap();
        assert_eq!(role.organization_role, OrganizationRole::Controller);
    }

    #[test]
    fn snapshots_read_back_into_their_type() {
        let stored = Snapshot::Recipient(recipient()).to_stored();
        assert_eq!(
            Snapshot::decode(EntityType::Recipient, stored.clone()).unwrap(),
            Snapshot::Recipient(recipient())
        );
        assert!(Snapshot::decode(EntityType::DataFlow, stored).is_err());
        // Written before the notice period's dates existed.
        let mut old = fields(&recipient());
        old.as_object_mut().unwrap().remove("announcedAt");
        old.as_object_mut().unwrap().remove("effectiveAt");
        assert!(Snapshot::decode(EntityType::Recipient, old).is_ok());
    }
}
