//! Writing data flows: the rules a flow is checked against, its rows, and the writes that
//! append to the change log (the reads are in `flow_query`, batches of new flows in
//! `flow_batch`).

use super::changelog::{Change, FlowState, NewEvent, Transition};
use super::error::{RegistryError, Result};
use super::inputs::{FlowInput, FlowPatch, TransferInput};
use super::rules::{category_covers, effective_role, is_subprocessing};
use super::snapshot::{FlowRefs, FlowSnapshot};
use super::taxonomy::{resolve_categories, resolve_subjects};
use super::transfers::{self, Exporter, Party};
use super::validate::{ModuleCheck, Recorded, TransferParties};
use super::{Actor, Registry, linked, validate, visibility};
use crate::reference::{AdequacyTable, Importer};
use chrono::{DateTime, Utc};
use entity::{
    OrganizationRole, RecipientKind, RecipientRole, TextList, activity_data_subject, data_category,
    data_flow, data_subject_category, flow_country, flow_data_category, flow_data_subject,
    organization, processing_activity, recipient, transfer,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter,
    QueryOrder, Set,
};
use std::collections::{HashMap, HashSet};

/// The reason of the event that puts a flow on the public feed when it starts being shown to
/// customers, and of the one that takes it off when it stops.
const NOW_SHOWN: &str =
    "shown to customers: the flow now makes a recipient on the public list its subprocessor";
const NO_LONGER_SHOWN: &str = "no longer shown to customers: the flow no longer makes a recipient on the public list its subprocessor";

/// A flow's state as an event records it: its snapshot, and whether customers see it.
async fn state_of(txn: &DatabaseTransaction, flow: &data_flow::Model) -> Result<FlowState> {
    let activity = processing_activity::Entity::find_by_id(flow.activity_id)
        .one(txn)
        .await?;
    let recipient = recipient::Entity::find_by_id(flow.recipient_id)
        .one(txn)
        .await?;
    let key_of = async |id: Option<i32>| -> Result<Option<String>> {
        Ok(match id {
            Some(id) => recipient::Entity::find_by_id(id)
                .one(txn)
                .await?
                .map(|r| r.key),
            None => None,
        })
    };
    let via = key_of(flow.via_recipient_id).await?;
    let exporter = key_of(flow.exporter_recipient_id).await?;
    let keys = |terms: Option<Vec<String>>| terms.unwrap_or_default();
    let categories = linked::<flow_data_category::Entity, data_category::Entity>(
        txn,
        flow_data_category::Column::FlowId,
        &[flow.id],
        |l| l.flow_id,
        data_category::Column::Key,
    )
    .await?
    .remove(&flow.id)
    .map(|terms| terms.into_iter().map(|c| c.key).collect());
    let subjects = linked::<flow_data_subject::Entity, data_subject_category::Entity>(
        txn,
        flow_data_subject::Column::FlowId,
        &[flow.id],
        |l| l.flow_id,
        data_subject_category::Column::Key,
    )
    .await?
    .remove(&flow.id)
    .map(|terms| terms.into_iter().map(|s| s.key).collect());
    let countries: Vec<String> = flow_country::Entity::find()
        .filter(flow_country::Column::FlowId.eq(flow.id))
        .order_by_asc(flow_country::Column::Country)
        .all(txn)
        .await?
        .into_iter()
        .map(|c| c.country)
        .collect();
    let transfers = transfer::Entity::find()
        .filter(transfer::Column::FlowId.eq(flow.id))
        .order_by_asc(transfer::Column::Country)
        .all(txn)
        .await?;
    let refs = FlowRefs {
        activity: String::new(),
        recipient: String::new(),
        via,
        exporter,
        data_categories: keys(categories),
        data_subjects: keys(subjects),
    };
    Ok(state_from(
        flow,
        activity.as_ref(),
        recipient.as_ref(),
        refs,
        countries,
        &transfers,
    ))
}

/// A flow's state from its rows: whether customers see it follows from its activity's and its
/// recipient's ([`is_subprocessing`], [`visibility::flow_shown`]). `refs` names the
/// intermediary, the exporter and the terms (categories and subjects sorted by key, as the
/// tables are read); the activity's and recipient's keys are taken from them. `countries` and
/// `transfers` are sorted by country.
pub(super) fn state_from(
    flow: &data_flow::Model,
    activity: Option<&processing_activity::Model>,
    recipient: Option<&recipient::Model>,
    refs: FlowRefs,
    countries: Vec<String>,
    transfers: &[transfer::Model],
) -> FlowState {
    let subprocessing = match (activity, recipient) {
        (Some(a), Some(r)) => is_subprocessing(
            a.organization_role,
            effective_role(flow.role, r.default_role),
        ),
        _ => false,
    };
    let refs = FlowRefs {
        activity: activity.map(|a| a.key.clone()).unwrap_or_default(),
        recipient: recipient.map(|r| r.key.clone()).unwrap_or_default(),
        ..refs
    };
    FlowState {
        id: flow.id,
        activity_id: flow.activity_id,
        recipient_id: flow.recipient_id,
        recipient_kind: recipient.map(|r| r.kind),
        shown: visibility::flow_shown(
            recipient.is_some_and(|r| visibility::on_public_list(r.public, r.status)),
            subprocessing,
        ),
        snapshot: FlowSnapshot::of(flow, refs, countries, transfers),
    }
}

/// The flow's activity and recipient, which must exist; its intermediary, which must be
/// another recipient; and its exporting establishment, which must be one of the organization's
/// affiliates, for a direct flow.
async fn check_references(
    txn: &DatabaseTransaction,
    input: &FlowInput,
) -> Result<(processing_activity::Model, recipient::Model)> {
    let activity = processing_activity::Entity::find_by_id(input.activity)
        .one(txn)
        .await?;
    let ids: Vec<i32> = [Some(input.recipient), input.via, input.exporter]
        .into_iter()
        .flatten()
        .collect();
    let recipients: HashMap<i32, recipient::Model> = recipient::Entity::find()
        .filter(recipient::Column::Id.is_in(ids))
        .all(txn)
        .await?
        .into_iter()
        .map(|r| (r.id, r))
        .collect();
    let (activity, recipient) = check_parties(input, activity.as_ref(), |id| recipients.get(&id))?;
    Ok((activity.clone(), recipient.clone()))
}

/// [`check_references`] on rows already read: `activity` is the flow's, `recipient_of` finds
/// a recipient by row id.
pub(super) fn check_parties<'a>(
    input: &FlowInput,
    activity: Option<&'a processing_activity::Model>,
    recipient_of: impl Fn(i32) -> Option<&'a recipient::Model>,
) -> Result<(&'a processing_activity::Model, &'a recipient::Model)> {
    let activity = activity.ok_or_else(|| {
        RegistryError::invalid("activityId", "there is no such processing activity")
    })?;
    let recipient = recipient_of(input.recipient)
        .ok_or_else(|| RegistryError::invalid("recipientId", "there is no such recipient"))?;
    if let Some(via) = input.via {
        if via == input.recipient {
            return Err(RegistryError::invalid(
                "viaRecipientId",
                "a recipient cannot forward data to itself",
            ));
        }
        recipient_of(via).ok_or_else(|| {
            RegistryError::invalid("viaRecipientId", "there is no such recipient")
        })?;
    }
    if let Some(exporter) = input.exporter {
        if input.via.is_some() {
            return Err(RegistryError::invalid(
                "exporterId",
                "an onward flow's exporter is the recipient that forwards it (viaRecipientId): name an exporting establishment on direct flows only",
            ));
        }
        if exporter == input.recipient {
            return Err(RegistryError::invalid(
                "exporterId",
                "a recipient cannot export data to itself",
            ));
        }
        let establishment = recipient_of(exporter)
            .ok_or_else(|| RegistryError::invalid("exporterId", "there is no such recipient"))?;
        if establishment.kind != RecipientKind::Affiliate {
            return Err(RegistryError::invalid(
                "exporterId",
                format!(
                    "{} is no establishment of the organization: an exporting establishment is one of its affiliates (kind AFFILIATE)",
                    establishment.legal_name
                ),
            ));
        }
    }
    Ok((activity, recipient))
}

/// Who exports a flow's data: its activity, its forwarder and its exporting establishment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct FlowParties {
    pub activity: i32,
    pub via: Option<i32>,
    pub exporter: Option<i32>,
}

impl From<&data_flow::Model> for FlowParties {
    fn from(flow: &data_flow::Model) -> Self {
        Self {
            activity: flow.activity_id,
            via: flow.via_recipient_id,
            exporter: flow.exporter_recipient_id,
        }
    }
}

/// The exporter of each of `flows` ([`transfers::exporter_of`]), in four statements whatever
/// their number: the organization, the activities, the forwarders and establishments, and the
/// forwarders' own flows in those activities (their role there makes them processor or
/// controller of the data they pass on).
pub(crate) async fn exporters_of(
    conn: &impl ConnectionTrait,
    flows: &[FlowParties],
) -> Result<HashMap<FlowParties, Exporter>> {
    let mut out = HashMap::new();
    if flows.is_empty() {
        return Ok(out);
    }
    let organization = organization::Entity::find()
        .order_by_asc(organization::Column::Id)
        .one(conn)
        .await?;
    let (org_name, org_country) = organization
        .map(|o| (o.name, o.country))
        .unwrap_or_else(|| ("the organization".to_owned(), String::new()));
    let activity_ids: HashSet<i32> = flows.iter().map(|f| f.activity).collect();
    let activities: HashMap<i32, OrganizationRole> = processing_activity::Entity::find()
        .filter(processing_activity::Column::Id.is_in(activity_ids.iter().copied()))
        .all(conn)
        .await?
        .into_iter()
        .map(|a| (a.id, a.organization_role))
        .collect();
    let party_ids: HashSet<i32> = flows
        .iter()
        .flat_map(|f| [f.via, f.exporter])
        .flatten()
        .collect();
    let parties: HashMap<i32, recipient::Model> = recipient::Entity::find()
        .filter(recipient::Column::Id.is_in(party_ids.iter().copied()))
        .all(conn)
        .await?
        .into_iter()
        .map(|r| (r.id, r))
        .collect();
    let via_ids: HashSet<i32> = flows.iter().filter_map(|f| f.via).collect();
    let mut roles: HashMap<(i32, i32), Vec<RecipientRole>> = HashMap::new();
    if !via_ids.is_empty() {
        for flow in data_flow::Entity::find()
            .filter(data_flow::Column::RecipientId.is_in(via_ids.iter().copied()))
            .filter(data_flow::Column::ActivityId.is_in(activity_ids.iter().copied()))
            .all(conn)
            .await?
        {
            if let Some(via) = parties.get(&flow.recipient_id) {
                roles
                    .entry((flow.activity_id, flow.recipient_id))
                    .or_default()
                    .push(effective_role(flow.role, via.default_role));
            }
        }
    }
    let party = |r: &recipient::Model| (r.legal_name.clone(), r.country.clone());
    for f in flows {
        let activity_role = activities
            .get(&f.activity)
            .copied()
            .unwrap_or(OrganizationRole::Controller);
        let via = f.via.and_then(|id| parties.get(&id)).map(|r| {
            let role = transfers::forwarder_role(
                roles.get(&(f.activity, r.id)).cloned().unwrap_or_default(),
                r.default_role,
            );
            (party(r), role)
        });
        let establishment = f.exporter.and_then(|id| parties.get(&id)).map(party);
        let exporter = transfers::exporter_of(
            Party {
                name: &org_name,
                country: &org_country,
            },
            activity_role,
            via.as_ref()
                .map(|((name, country), role)| (Party { name, country }, *role)),
            establishment
                .as_ref()
                .map(|(name, country)| Party { name, country }),
        );
        out.insert(*f, exporter);
    }
    Ok(out)
}

/// The parties of a flow's transfers, as the validation needs them.
pub(super) fn transfer_parties<'a>(
    exporter: &'a Exporter,
    activity: &processing_activity::Model,
    role: Option<RecipientRole>,
    importer: &'a recipient::Model,
    adequacy: &'a AdequacyTable,
    now: DateTime<Utc>,
) -> TransferParties<'a> {
    let importer_role = effective_role(role, importer.default_role);
    let rule = transfers::module_rule(
        exporter.role,
        activity.organization_role,
        importer_role,
        importer.kind,
    );
    TransferParties {
        exporter: Party {
            name: &exporter.name,
            country: &exporter.country,
        },
        regime: exporter.regime,
        modules: ModuleCheck::Flow {
            rule,
            exporter_role: exporter.role,
            importer_role,
        },
        importer_name: &importer.legal_name,
        importer: Importer {
            kind: importer.kind,
            dpf_certified: importer.dpf_certified,
            certifications: &importer.certifications.0,
        },
        adequacy,
        today: now.date_naive(),
    }
}

/// The flow's destinations and their transfers (one per destination outside the exporter's
/// free-flow area), and the keys of its data categories and data subjects, checked on their
/// own.
pub(super) fn check_contents(
    input: &FlowInput,
    parties: &TransferParties<'_>,
    recorded: &Recorded<'_>,
) -> Result<(Vec<String>, Vec<TransferInput>)> {
    if input.data_categories.is_empty() {
        return Err(RegistryError::invalid(
            "dataCategories",
            "a data flow sends at least one data category",
        ));
    }
    if input.data_subjects.is_empty() {
        return Err(RegistryError::invalid(
            "dataSubjects",
            "a data flow concerns at least one data subject category",
        ));
    }
    let countries = validate::countries("countries", &input.countries)?;
    if countries.is_empty() {
        return Err(RegistryError::invalid(
            "countries",
            "a data flow has at least one destination country",
        ));
    }
    let transfers = validate::transfers(&countries, &input.transfers, parties, recorded)?;
    validate::category_keys("dataCategories", &input.data_categories)?;
    validate::keys("dataSubjects", &input.data_subjects)?;
    Ok((countries, transfers))
}

/// The row ids of the flow's data categories and data subjects. A flow can only send what its
/// activity processes (a category or one of its descendants), about the activity's data
/// subjects.
async fn resolve_terms(
    txn: &DatabaseTransaction,
    activity: &processing_activity::Model,
    input: &FlowInput,
) -> Result<(Vec<i32>, Vec<i32>)> {
    let category_ids = resolve_categories(txn, "dataCategories", &input.data_categories).await?;
    let subject_ids = resolve_subjects(txn, "dataSubjects", &input.data_subjects).await?;
    let processed = linked::<entity::activity_data_category::Entity, data_category::Entity>(
        txn,
        entity::activity_data_category::Column::ActivityId,
        &[activity.id],
        |l| l.activity_id,
        data_category::Column::Key,
    )
    .await?
    .remove(&activity.id)
    .unwrap_or_default();
    let concerned: Vec<i32> = activity_data_subject::Entity::find()
        .filter(activity_data_subject::Column::ActivityId.eq(activity.id))
        .all(txn)
        .await?
        .into_iter()
        .map(|l| l.data_subject_id)
        .collect();
    check_terms(activity, input, &subject_ids, &processed, &concerned)?;
    Ok((category_ids, subject_ids))
}

/// The flow sends only what its activity processes (`processed`: the activity's categories;
/// a flow's category is one of them or a descendant), about the activity's data subjects
/// (`concerned`: their row ids; `subject_ids`: the flow's).
pub(super) fn check_terms(
    activity: &processing_activity::Model,
    input: &FlowInput,
    subject_ids: &[i32],
    processed: &[data_category::Model],
    concerned: &[i32],
) -> Result<()> {
    for (i, key) in input.data_categories.iter().enumerate() {
        if !processed.iter().any(|c| category_covers(&c.key, key)) {
            return Err(RegistryError::invalid(
                format!("dataCategories[{i}]"),
                format!(
                    "processing activity `{}` does not process `{key}`; a flow can only send what its activity processes",
                    activity.key
                ),
            ));
        }
    }
    for (i, (key, id)) in input.data_subjects.iter().zip(subject_ids).enumerate() {
        if !concerned.contains(id) {
            return Err(RegistryError::invalid(
                format!("dataSubjects[{i}]"),
                format!(
                    "processing activity `{}` does not concern `{key}`",
                    activity.key
                ),
            ));
        }
    }
    Ok(())
}

/// What a flow's rows hold besides the flow row itself.
pub(super) struct FlowRows {
    pub(super) category_ids: Vec<i32>,
    pub(super) subject_ids: Vec<i32>,
    pub(super) countries: Vec<String>,
    pub(super) transfers: Vec<TransferInput>,
}

/// Writes the flow row (inserting it when `row.id` is unset) and replaces its categories,
/// data subjects, destinations and transfers.
async fn write_rows(
    txn: &DatabaseTransaction,
    row: data_flow::ActiveModel,
    rows: FlowRows,
) -> Result<data_flow::Model> {
    let flow = if row.id.is_set() {
        let flow = row.update(txn).await?;
        let id = flow.id;
        flow_data_category::Entity::delete_many()
            .filter(flow_data_category::Column::FlowId.eq(id))
            .exec(txn)
            .await?;
        flow_data_subject::Entity::delete_many()
            .filter(flow_data_subject::Column::FlowId.eq(id))
            .exec(txn)
            .await?;
        flow_country::Entity::delete_many()
            .filter(flow_country::Column::FlowId.eq(id))
            .exec(txn)
            .await?;
        transfer::Entity::delete_many()
            .filter(transfer::Column::FlowId.eq(id))
            .exec(txn)
            .await?;
        flow
    } else {
        row.insert(txn).await?
    };
    let id = flow.id;
    flow_data_category::Entity::insert_many(rows.category_ids.iter().map(|c| {
        flow_data_category::ActiveModel {
            flow_id: Set(id),
            data_category_id: Set(*c),
        }
    }))
    .exec(txn)
    .await?;
    flow_data_subject::Entity::insert_many(rows.subject_ids.iter().map(|s| {
        flow_data_subject::ActiveModel {
            flow_id: Set(id),
            data_subject_id: Set(*s),
        }
    }))
    .exec(txn)
    .await?;
    flow_country::Entity::insert_many(rows.countries.iter().map(|c| flow_country::ActiveModel {
        flow_id: Set(id),
        country: Set(c.clone()),
    }))
    .exec(txn)
    .await?;
    if !rows.transfers.is_empty() {
        transfer::Entity::insert_many(
            rows.transfers
                .iter()
                .map(|t| transfer_row(transfer_model(id, t))),
        )
        .exec(txn)
        .await?;
    }
    Ok(flow)
}

/// The flow's own row: its parties (checked already) and its validated texts; an update keeps
/// the row id and creation time of `existing`.
pub(super) fn flow_row(
    input: &FlowInput,
    activity: &processing_activity::Model,
    recipient: &recipient::Model,
    now: DateTime<Utc>,
    existing: Option<&data_flow::Model>,
) -> Result<data_flow::ActiveModel> {
    let mut row = data_flow::ActiveModel {
        activity_id: Set(activity.id),
        recipient_id: Set(recipient.id),
        via_recipient_id: Set(input.via),
        exporter_recipient_id: Set(input.exporter),
        role: Set(input.role),
        purpose: Set(validate::text("purpose", input.purpose.as_deref())?),
        assumptions: Set(TextList(validate::texts(
            "assumptions",
            &input.assumptions,
        )?)),
        sources: Set(TextList(validate::texts("sources", &input.sources)?)),
        created_at: Set(existing.map_or(now, |e| e.created_at)),
        updated_at: Set(now),
        ..Default::default()
    };
    if let Some(existing) = existing {
        row.id = Set(existing.id);
    }
    Ok(row)
}

/// The stored transfer of flow `flow_id` to one country (its row id is the database's).
pub(super) fn transfer_model(flow_id: i32, t: &TransferInput) -> transfer::Model {
    transfer::Model {
        id: 0,
        flow_id,
        country: t.country.clone(),
        mechanism: t.safeguard.mechanism,
        // Validated to 1-4.
        scc_module: t.safeguard.scc_module.and_then(|m| i16::try_from(m).ok()),
        derogation: t.safeguard.derogation,
        safeguards: t.safeguard.safeguards.clone(),
        tia_date: t.safeguard.tia_date,
    }
}

pub(super) fn transfer_row(t: transfer::Model) -> transfer::ActiveModel {
    transfer::ActiveModel {
        flow_id: Set(t.flow_id),
        country: Set(t.country),
        mechanism: Set(t.mechanism),
        scc_module: Set(t.scc_module),
        derogation: Set(t.derogation),
        safeguards: Set(t.safeguards),
        tia_date: Set(t.tia_date),
        ..Default::default()
    }
}

/// Validates `input` against the registry and writes the flow (`existing` when it is an
/// update); returns the flow's new state. `recorded`: what the flow already records, when an
/// update keeps its parties (see [`Recorded`]).
async fn store(
    txn: &DatabaseTransaction,
    existing: Option<&data_flow::Model>,
    input: &FlowInput,
    now: DateTime<Utc>,
    adequacy: &AdequacyTable,
    recorded: &Recorded<'_>,
) -> Result<(data_flow::Model, FlowState)> {
    let (activity, recipient) = check_references(txn, input).await?;
    let flow_parties = FlowParties {
        activity: input.activity,
        via: input.via,
        exporter: input.exporter,
    };
    let exporter = exporters_of(txn, &[flow_parties])
        .await?
        .remove(&flow_parties)
        .ok_or_else(|| {
            RegistryError::invalid("activityId", "there is no such processing activity")
        })?;
    let parties = transfer_parties(&exporter, &activity, input.role, &recipient, adequacy, now);
    let (countries, transfers) = check_contents(input, &parties, recorded)?;
    let (category_ids, subject_ids) = resolve_terms(txn, &activity, input).await?;
    let row = flow_row(input, &activity, &recipient, now, existing)?;
    let rows = FlowRows {
        category_ids,
        subject_ids,
        countries,
        transfers,
    };
    let flow = write_rows(txn, row, rows).await?;
    let state = state_of(txn, &flow).await?;
    Ok((flow, state))
}

impl Registry {
    /// Adds a data flow.
    pub async fn create_flow(
        &self,
        input: FlowInput,
        actor: &Actor,
        reason: Option<&str>,
    ) -> Result<data_flow::Model> {
        let mut change = self.change(actor, reason).await?;
        let (flow, state) = store(
            change.txn(),
            None,
            &input,
            self.now(),
            self.adequacy(),
            &Recorded::default(),
        )
        .await?;
        change
            .record(NewEvent::flow(Transition::Created(state)))
            .await?;
        change.commit().await?;
        Ok(flow)
    }

    /// Applies `patch` to a data flow.
    pub async fn update_flow(
        &self,
        id: i32,
        patch: FlowPatch,
        actor: &Actor,
        reason: Option<&str>,
    ) -> Result<data_flow::Model> {
        let mut change = self.change(actor, reason).await?;
        let existing = change.find::<data_flow::Entity>("DataFlow", id).await?;
        let before = state_of(change.txn(), &existing).await?;
        let input = patch.apply(before.snapshot.clone().into_input(&existing));
        // An update that keeps the flow's parties keeps the transfers it does not change as
        // they are, even where a rule added or a decision lapsed since would refuse them (the
        // record's findings report those): such a flow stays editable, and fixable.
        let same_parties = (
            existing.activity_id,
            existing.recipient_id,
            existing.via_recipient_id,
            existing.exporter_recipient_id,
            existing.role,
        ) == (
            input.activity,
            input.recipient,
            input.via,
            input.exporter,
            input.role,
        );
        let kept: Vec<TransferInput> = before
            .snapshot
            .transfers
            .iter()
            .cloned()
            .map(TransferInput::from)
            .collect();
        let recorded = if same_parties {
            Recorded {
                transfers: &kept,
                countries: &before.snapshot.countries,
            }
        } else {
            Recorded::default()
        };
        let (flow, after) = store(
            change.txn(),
            Some(&existing),
            &input,
            self.now(),
            self.adequacy(),
            &recorded,
        )
        .await?;
        // A flow that starts or stops being shown to customers (moved between a recipient on
        // the public list and one off it, or into or out of a subprocessing role) is, to them,
        // a flow that joins or leaves the list: the public feed says that, and the update
        // itself, which names both recipients, stays internal. Otherwise an unannounced
        // subprocessor, or the organization's own processing, would reach the public feed.
        let moved = before.snapshot != after.snapshot;
        let (left, joined) = (
            moved && before.shown && !after.shown,
            moved && !before.shown && after.shown,
        );
        if left {
            change
                .record(
                    NewEvent::flow(Transition::Deleted(before.clone())).because(NO_LONGER_SHOWN),
                )
                .await?;
        }
        let joined_state = joined.then(|| after.clone());
        change
            .record(NewEvent::flow(Transition::Updated { before, after }))
            .await?;
        if let Some(after) = joined_state {
            change
                .record(NewEvent::flow(Transition::Created(after)).because(NOW_SHOWN))
                .await?;
        }
        change.commit().await?;
        Ok(flow)
    }

    /// Removes a data flow.
    pub async fn delete_flow(
        &self,
        id: i32,
        actor: &Actor,
        reason: Option<&str>,
    ) -> Result<data_flow::Model> {
        let mut change = self.change(actor, reason).await?;
        let existing = change.find::<data_flow::Entity>("DataFlow", id).await?;
        let before = state_of(change.txn(), &existing).await?;
        data_flow::Entity::delete_by_id(id)
            .exec(change.txn())
            .await?;
        change
            .record(NewEvent::flow(Transition::Deleted(before)))
            .await?;
        change.commit().await?;
        Ok(existing)
    }

    /// Puts the current data flows to a recipient that has just joined the public list, those
    /// that make it a subprocessor, on the public feed: one FLOW_CREATED event each, in the
    /// change of its announcement. Flows recorded while it was proposed were internal planning;
    /// without this a customer would learn of the new subprocessor but not what data goes to it
    /// until a flow next changed. The events say why they were written, so the internal feed's
    /// second creation of a flow explains itself.
    pub(super) async fn publish_flows_to(
        &self,
        change: &mut Change<'_>,
        recipient: &recipient::Model,
    ) -> Result<()> {
        let reason = format!(
            "shown to customers with the announcement of `{}`",
            recipient.key
        );
        let states = states_of_flows(
            change.txn(),
            data_flow::Column::RecipientId.eq(recipient.id),
        )
        .await?;
        for state in states.into_iter().filter(|s| s.shown) {
            change
                .record(NewEvent::flow(Transition::Created(state)).because(reason.as_str()))
                .await?;
        }
        Ok(())
    }
}

/// The states of the flows `which` selects, in id order: taken before and after a change to
/// their recipient or activity that may alter which of them customers see.
pub(super) async fn states_of_flows(
    txn: &DatabaseTransaction,
    which: impl sea_orm::sea_query::IntoCondition,
) -> Result<Vec<FlowState>> {
    let flows = data_flow::Entity::find()
        .filter(which)
        .order_by_asc(data_flow::Column::Id)
        .all(txn)
        .await?;
    let mut states = Vec::with_capacity(flows.len());
    for flow in &flows {
        states.push(state_of(txn, flow).await?);
    }
    Ok(states)
}

/// After a change to a recipient's default role or an activity's organization role, which
/// makes flows start or stop being subprocessing: records, for each flow customers see in one
/// state and not in the other, that it joins or leaves the public feed. `before` and `after`
/// are the states of the same flows ([`states_of_flows`] before and after the change).
pub(super) async fn record_shown_changes(
    change: &mut Change<'_>,
    before: Vec<FlowState>,
    after: Vec<FlowState>,
) -> Result<()> {
    for (before, after) in before.into_iter().zip(after) {
        match (before.shown, after.shown) {
            (true, false) => {
                change
                    .record(NewEvent::flow(Transition::Deleted(before)).because(NO_LONGER_SHOWN))
                    .await?
            }
            (false, true) => {
                change
                    .record(NewEvent::flow(Transition::Created(after)).because(NOW_SHOWN))
                    .await?
            }
            _ => {}
        }
    }
    Ok(())
}
