//! Data flows: the filtered, paginated flow query, batched reads, and writes that append to the
//! change log.

use super::changelog::{Change, FlowState, NewEvent, Transition};
use super::error::{RegistryError, Result};
use super::inputs::{FlowInput, FlowPatch, TransferInput};
use super::pages::{FlowKey, Page};
use super::rules::{
    category_covers, effective_role, effective_role_in, is_subprocessing, subprocessing_flows,
};
use super::snapshot::{FlowRefs, FlowSnapshot};
use super::taxonomy::{
    categories_with_descendants, resolve_categories, resolve_products, resolve_subjects,
};
use super::transfers::{self, Exporter, Party};
use super::validate::{ModuleCheck, Recorded, TransferParties};
use super::{Actor, Registry, linked, validate, visibility};
use crate::reference::{AdequacyTable, EEA, Importer};
use chrono::{DateTime, Utc};
use entity::{
    LegalBasis, OrganizationRole, RecipientKind, RecipientRole, RecipientStatus, TextList,
    TransferMechanism, activity_data_subject, activity_product, data_category, data_flow,
    data_subject_category, flow_country, flow_data_category, flow_data_subject, organization,
    processing_activity, recipient, transfer,
};
use sea_orm::sea_query::{ExprTrait, Query, SelectStatement};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseTransaction, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use std::collections::{HashMap, HashSet};

/// Which data flows to list. Empty lists and `None` do not filter; values within one list are
/// alternatives; different fields must all hold.
#[derive(Clone, Debug, Default)]
pub struct FlowFilter {
    pub recipient_ids: Vec<i32>,
    pub recipient_kinds: Vec<RecipientKind>,
    pub recipient_statuses: Vec<RecipientStatus>,
    /// The recipient's role in the flow (its default role unless the flow overrides it).
    pub roles: Vec<RecipientRole>,
    /// Data category keys; a category matches its descendants.
    pub data_categories: Vec<String>,
    pub data_subjects: Vec<String>,
    pub products: Vec<String>,
    pub activity_ids: Vec<i32>,
    pub legal_bases: Vec<LegalBasis>,
    pub organization_roles: Vec<OrganizationRole>,
    /// Destination countries.
    pub countries: Vec<String>,
    /// `Some(true)`: at least one destination outside the EEA; `Some(false)`: none.
    pub outside_eea: Option<bool>,
    pub transfer_mechanisms: Vec<TransferMechanism>,
    /// Flows that make their recipient a subprocessor.
    pub subprocessing_only: bool,
}

/// A validated, resolved filter, ready to count or page through.
#[derive(Clone, Debug)]
pub struct FlowSelection(Condition);

/// One page of data flows, in id order.
pub type FlowPage = Page<data_flow::Model>;

fn flows_with(
    column: impl sea_orm::sea_query::IntoColumnRef,
    from: impl sea_orm::sea_query::IntoTableRef,
    condition: Condition,
) -> SelectStatement {
    Query::select()
        .column(column)
        .from(from)
        .cond_where(condition)
        .to_owned()
}

fn ids_where<E: EntityTrait>(column: E::Column, condition: Condition) -> SelectStatement
where
    E::Column: sea_orm::sea_query::IntoColumnRef,
{
    Query::select()
        .column(column)
        .from(E::default())
        .cond_where(condition)
        .to_owned()
}

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
fn state_from(
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
fn check_parties<'a>(
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
fn transfer_parties<'a>(
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
fn check_contents(
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
fn check_terms(
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
struct FlowRows {
    category_ids: Vec<i32>,
    subject_ids: Vec<i32>,
    countries: Vec<String>,
    transfers: Vec<TransferInput>,
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
fn flow_row(
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
fn transfer_model(flow_id: i32, t: &TransferInput) -> transfer::Model {
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

fn transfer_row(t: transfer::Model) -> transfer::ActiveModel {
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

/// The filter's recipients, activities and roles: who receives the data, from which
/// processing, in which role.
fn on_parties(filter: &FlowFilter) -> Condition {
    let mut condition = Condition::all();
    if !filter.recipient_ids.is_empty() {
        condition = condition
            .add(data_flow::Column::RecipientId.is_in(filter.recipient_ids.iter().copied()));
    }
    if !filter.activity_ids.is_empty() {
        condition =
            condition.add(data_flow::Column::ActivityId.is_in(filter.activity_ids.iter().copied()));
    }
    if !filter.recipient_kinds.is_empty() || !filter.recipient_statuses.is_empty() {
        let mut on_recipient = Condition::all();
        if !filter.recipient_kinds.is_empty() {
            on_recipient = on_recipient
                .add(recipient::Column::Kind.is_in(filter.recipient_kinds.iter().copied()));
        }
        if !filter.recipient_statuses.is_empty() {
            on_recipient = on_recipient
                .add(recipient::Column::Status.is_in(filter.recipient_statuses.iter().copied()));
        }
        condition =
            condition.add(data_flow::Column::RecipientId.in_subquery(
                ids_where::<recipient::Entity>(recipient::Column::Id, on_recipient),
            ));
    }
    if !filter.roles.is_empty() {
        condition = condition.add(effective_role_in(&filter.roles));
    }
    if !filter.legal_bases.is_empty() || !filter.organization_roles.is_empty() {
        let mut on_activity = Condition::all();
        if !filter.legal_bases.is_empty() {
            on_activity = on_activity.add(
                processing_activity::Column::LegalBasis.is_in(filter.legal_bases.iter().copied()),
            );
        }
        if !filter.organization_roles.is_empty() {
            on_activity = on_activity.add(
                processing_activity::Column::OrganizationRole
                    .is_in(filter.organization_roles.iter().copied()),
            );
        }
        condition = condition.add(data_flow::Column::ActivityId.in_subquery(ids_where::<
            processing_activity::Entity,
        >(
            processing_activity::Column::Id,
            on_activity,
        )));
    }
    if filter.subprocessing_only {
        condition = condition.add(subprocessing_flows());
    }
    condition
}

/// The filter's destination countries, the EEA, and transfer mechanisms.
fn on_destinations(filter: &FlowFilter) -> Result<Condition> {
    let mut condition = Condition::all();
    if !filter.countries.is_empty() {
        let countries = validate::countries("countries", &filter.countries)?;
        condition = condition.add(data_flow::Column::Id.in_subquery(flows_with(
            flow_country::Column::FlowId,
            flow_country::Entity,
            Condition::all().add(flow_country::Column::Country.is_in(countries)),
        )));
    }
    if let Some(outside) = filter.outside_eea {
        let abroad = data_flow::Column::Id.in_subquery(flows_with(
            flow_country::Column::FlowId,
            flow_country::Entity,
            Condition::all().add(flow_country::Column::Country.is_not_in(EEA)),
        ));
        condition = condition.add(if outside { abroad } else { abroad.not() });
    }
    if !filter.transfer_mechanisms.is_empty() {
        condition =
            condition.add(data_flow::Column::Id.in_subquery(flows_with(
                transfer::Column::FlowId,
                transfer::Entity,
                Condition::all().add(
                    transfer::Column::Mechanism.is_in(filter.transfer_mechanisms.iter().copied()),
                ),
            )));
    }
    Ok(condition)
}

impl Registry {
    /// Validates a filter and resolves its keys, naming the first unknown one.
    pub async fn select_flows(&self, filter: &FlowFilter) -> Result<FlowSelection> {
        for (field, len) in [
            ("recipientIds", filter.recipient_ids.len()),
            ("recipientKinds", filter.recipient_kinds.len()),
            ("recipientStatuses", filter.recipient_statuses.len()),
            ("roles", filter.roles.len()),
            ("dataCategories", filter.data_categories.len()),
            ("dataSubjects", filter.data_subjects.len()),
            ("products", filter.products.len()),
            ("activityIds", filter.activity_ids.len()),
            ("legalBases", filter.legal_bases.len()),
            ("organizationRoles", filter.organization_roles.len()),
            ("countries", filter.countries.len()),
            ("transferMechanisms", filter.transfer_mechanisms.len()),
        ] {
            validate::bounded(field, len)?;
        }
        let condition = Condition::all()
            .add(on_parties(filter))
            .add(self.on_terms(filter).await?)
            .add(on_destinations(filter)?);
        Ok(FlowSelection(condition))
    }

    /// The filter's data categories (with their descendants), data subjects and products.
    async fn on_terms(&self, filter: &FlowFilter) -> Result<Condition> {
        let mut condition = Condition::all();
        if !filter.data_categories.is_empty() {
            validate::category_keys("dataCategories", &filter.data_categories)?;
            let ids =
                categories_with_descendants(self.db(), "dataCategories", &filter.data_categories)
                    .await?;
            condition = condition.add(data_flow::Column::Id.in_subquery(flows_with(
                flow_data_category::Column::FlowId,
                flow_data_category::Entity,
                Condition::all().add(flow_data_category::Column::DataCategoryId.is_in(ids)),
            )));
        }
        if !filter.data_subjects.is_empty() {
            validate::keys("dataSubjects", &filter.data_subjects)?;
            let ids = resolve_subjects(self.db(), "dataSubjects", &filter.data_subjects).await?;
            condition = condition.add(data_flow::Column::Id.in_subquery(flows_with(
                flow_data_subject::Column::FlowId,
                flow_data_subject::Entity,
                Condition::all().add(flow_data_subject::Column::DataSubjectId.is_in(ids)),
            )));
        }
        if !filter.products.is_empty() {
            validate::keys("products", &filter.products)?;
            let ids = resolve_products(self.db(), "products", &filter.products).await?;
            condition = condition.add(data_flow::Column::ActivityId.in_subquery(flows_with(
                activity_product::Column::ActivityId,
                activity_product::Entity,
                Condition::all().add(activity_product::Column::ProductId.is_in(ids)),
            )));
        }
        Ok(condition)
    }

    /// The flows of `selection` after the flow `after`, at most `first` of them, in id order.
    pub async fn flows_page(
        &self,
        selection: &FlowSelection,
        after: Option<FlowKey>,
        first: u64,
    ) -> Result<FlowPage> {
        let mut query = data_flow::Entity::find().filter(selection.0.clone());
        if let Some(FlowKey(after)) = after {
            query = query.filter(data_flow::Column::Id.gt(after));
        }
        let flows = query
            .order_by_asc(data_flow::Column::Id)
            .limit(FlowPage::limit(first))
            .all(self.db())
            .await?;
        Ok(FlowPage::from_rows(flows, first))
    }

    /// How many flows `selection` holds.
    /// How many flows `selection` selects. Counted once per generation of the registry (see
    /// [`super::memo`]); inside a batch, whose writes are not committed yet, always counted.
    pub async fn count_flows(&self, selection: &FlowSelection) -> Result<u64> {
        let query = data_flow::Entity::find().filter(selection.0.clone());
        if self.pool().is_none() {
            return Ok(query.count(self.db()).await?);
        }
        let statement =
            sea_orm::QueryTrait::build(&query, self.db().get_database_backend()).to_string();
        let generation = self.generation();
        if let Some(count) = self.counts.get(&statement, generation) {
            return Ok(count);
        }
        let count = query.count(self.db()).await?;
        if self.generation() == generation {
            self.counts.put(statement, generation, count);
        }
        Ok(count)
    }

    pub async fn flow(&self, id: i32) -> Result<Option<data_flow::Model>> {
        Ok(data_flow::Entity::find_by_id(id).one(self.db()).await?)
    }

    /// The data categories each flow sends, by key.
    pub async fn flow_categories(
        &self,
        ids: &[i32],
    ) -> Result<HashMap<i32, Vec<data_category::Model>>> {
        linked::<flow_data_category::Entity, data_category::Entity>(
            self.db(),
            flow_data_category::Column::FlowId,
            ids,
            |l| l.flow_id,
            data_category::Column::Key,
        )
        .await
    }

    /// The data subject categories each flow concerns, by key.
    pub async fn flow_subjects(
        &self,
        ids: &[i32],
    ) -> Result<HashMap<i32, Vec<data_subject_category::Model>>> {
        linked::<flow_data_subject::Entity, data_subject_category::Entity>(
            self.db(),
            flow_data_subject::Column::FlowId,
            ids,
            |l| l.flow_id,
            data_subject_category::Column::Key,
        )
        .await
    }

    /// The destination countries of each flow.
    pub async fn flow_countries(&self, ids: &[i32]) -> Result<HashMap<i32, Vec<String>>> {
        let mut out: HashMap<i32, Vec<String>> = HashMap::new();
        if ids.is_empty() {
            return Ok(out);
        }
        for row in flow_country::Entity::find()
            .filter(flow_country::Column::FlowId.is_in(ids.iter().copied()))
            .order_by_asc(flow_country::Column::Country)
            .all(self.db())
            .await?
        {
            out.entry(row.flow_id).or_default().push(row.country);
        }
        Ok(out)
    }

    /// The exporter of each flow's transfers: who sends the data, its role, its regime.
    pub async fn flow_exporters(&self, ids: &[i32]) -> Result<HashMap<i32, Exporter>> {
        let flows = data_flow::Entity::find()
            .filter(data_flow::Column::Id.is_in(ids.iter().copied()))
            .all(self.db())
            .await?;
        let parties: Vec<FlowParties> = flows.iter().map(FlowParties::from).collect();
        let exporters = exporters_of(self.db(), &parties).await?;
        Ok(flows
            .iter()
            .filter_map(|f| Some((f.id, exporters.get(&FlowParties::from(f)).cloned()?)))
            .collect())
    }

    /// The transfers of each flow, by country.
    pub async fn flow_transfers(&self, ids: &[i32]) -> Result<HashMap<i32, Vec<transfer::Model>>> {
        let mut out: HashMap<i32, Vec<transfer::Model>> = HashMap::new();
        if ids.is_empty() {
            return Ok(out);
        }
        for row in transfer::Entity::find()
            .filter(transfer::Column::FlowId.is_in(ids.iter().copied()))
            .order_by_asc(transfer::Column::Country)
            .all(self.db())
            .await?
        {
            out.entry(row.flow_id).or_default().push(row);
        }
        Ok(out)
    }

    /// The flows to each recipient (`via == false`) or forwarded by it (`via == true`).
    pub async fn flows_of_recipients(
        &self,
        ids: &[i32],
        via: bool,
    ) -> Result<HashMap<i32, Vec<data_flow::Model>>> {
        let column = if via {
            data_flow::Column::ViaRecipientId
        } else {
            data_flow::Column::RecipientId
        };
        let mut out: HashMap<i32, Vec<data_flow::Model>> = HashMap::new();
        if ids.is_empty() {
            return Ok(out);
        }
        for flow in data_flow::Entity::find()
            .filter(column.is_in(ids.iter().copied()))
            .order_by_asc(data_flow::Column::Id)
            .all(self.db())
            .await?
        {
            let owner = if via {
                flow.via_recipient_id
            } else {
                Some(flow.recipient_id)
            };
            if let Some(owner) = owner {
                out.entry(owner).or_default().push(flow);
            }
        }
        Ok(out)
    }

    /// The flows of each processing activity.
    pub async fn flows_of_activities(
        &self,
        ids: &[i32],
    ) -> Result<HashMap<i32, Vec<data_flow::Model>>> {
        let mut out: HashMap<i32, Vec<data_flow::Model>> = HashMap::new();
        if ids.is_empty() {
            return Ok(out);
        }
        for flow in data_flow::Entity::find()
            .filter(data_flow::Column::ActivityId.is_in(ids.iter().copied()))
            .order_by_asc(data_flow::Column::Id)
            .all(self.db())
            .await?
        {
            out.entry(flow.activity_id).or_default().push(flow);
        }
        Ok(out)
    }

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

/// Flow rows per multi-row INSERT (10 values each): well below SQLite's 32,766 and
/// PostgreSQL's 65,535 bind parameters.
const FLOW_ROWS: usize = 3000;
/// Link rows (a flow's categories, subjects, countries) per multi-row INSERT (2 values each).
const LINK_ROWS: usize = 16_000;
/// Transfer rows per multi-row INSERT (7 values each).
const TRANSFER_ROWS: usize = 4000;
/// Ids per `IN (...)` list when reading rows for many flows.
const IDS_PER_QUERY: usize = 10_000;

/// Why some flows of a batch were refused: each with its position in the batch. Nothing of
/// the batch is written.
pub type Refusals = Vec<(usize, RegistryError)>;

/// A flow of a batch, validated and ready to write.
struct Checked {
    row: data_flow::ActiveModel,
    rows: FlowRows,
}

impl Registry {
    /// Adds many data flows in one change, each checked by the same rules as [`Self::create_flow`]
    /// and recorded by the same FLOW_CREATED event, in order; the rows and events are written
    /// in multi-row statements, and what the rules need (activities, recipients, exporters,
    /// taxonomy) is read once for the whole batch. Every refused flow is listed, and then
    /// nothing is written.
    pub async fn create_flows(
        &self,
        inputs: &[FlowInput],
        actor: &Actor,
        reason: Option<&str>,
    ) -> Result<std::result::Result<Vec<data_flow::Model>, Refusals>> {
        let mut change = self.change(actor, reason).await?;
        if inputs.is_empty() {
            return Ok(Ok(Vec::new()));
        }
        let now = self.now();
        let txn = change.txn();
        let activity_ids: Vec<i32> = inputs
            .iter()
            .map(|i| i.activity)
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let recipient_ids: Vec<i32> = inputs
            .iter()
            .flat_map(|i| [Some(i.recipient), i.via, i.exporter])
            .flatten()
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let mut activities: HashMap<i32, processing_activity::Model> = HashMap::new();
        let mut processed: HashMap<i32, Vec<data_category::Model>> = HashMap::new();
        let mut concerned: HashMap<i32, Vec<i32>> = HashMap::new();
        for ids in activity_ids.chunks(IDS_PER_QUERY) {
            for a in processing_activity::Entity::find()
                .filter(processing_activity::Column::Id.is_in(ids.iter().copied()))
                .all(txn)
                .await?
            {
                activities.insert(a.id, a);
            }
            processed.extend(
                linked::<entity::activity_data_category::Entity, data_category::Entity>(
                    txn,
                    entity::activity_data_category::Column::ActivityId,
                    ids,
                    |l| l.activity_id,
                    data_category::Column::Key,
                )
                .await?,
            );
            for l in activity_data_subject::Entity::find()
                .filter(activity_data_subject::Column::ActivityId.is_in(ids.iter().copied()))
                .all(txn)
                .await?
            {
                concerned
                    .entry(l.activity_id)
                    .or_default()
                    .push(l.data_subject_id);
            }
        }
        let mut recipients: HashMap<i32, recipient::Model> = HashMap::new();
        for ids in recipient_ids.chunks(IDS_PER_QUERY) {
            for r in recipient::Entity::find()
                .filter(recipient::Column::Id.is_in(ids.iter().copied()))
                .all(txn)
                .await?
            {
                recipients.insert(r.id, r);
            }
        }
        let parties: Vec<FlowParties> = inputs
            .iter()
            .map(|i| FlowParties {
                activity: i.activity,
                via: i.via,
                exporter: i.exporter,
            })
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let mut exporters = HashMap::new();
        for chunk in parties.chunks(IDS_PER_QUERY) {
            exporters.extend(exporters_of(txn, chunk).await?);
        }
        let categories = data_category::Entity::find().all(txn).await?;
        let category_by_key: HashMap<&str, i32> =
            categories.iter().map(|c| (c.key.as_str(), c.id)).collect();
        let category_key: HashMap<i32, &str> =
            categories.iter().map(|c| (c.id, c.key.as_str())).collect();
        let subjects = data_subject_category::Entity::find().all(txn).await?;
        let subject_by_key: HashMap<&str, i32> =
            subjects.iter().map(|s| (s.key.as_str(), s.id)).collect();
        let subject_key: HashMap<i32, &str> =
            subjects.iter().map(|s| (s.id, s.key.as_str())).collect();

        // Each flow, by the steps and in the order of `store`.
        let check = |input: &FlowInput| -> Result<Checked> {
            let (activity, recipient) =
                check_parties(input, activities.get(&input.activity), |id| {
                    recipients.get(&id)
                })?;
            let flow_parties = FlowParties {
                activity: input.activity,
                via: input.via,
                exporter: input.exporter,
            };
            let exporter = exporters.get(&flow_parties).ok_or_else(|| {
                RegistryError::invalid("activityId", "there is no such processing activity")
            })?;
            let parties = transfer_parties(
                exporter,
                activity,
                input.role,
                recipient,
                self.adequacy(),
                now,
            );
            let (countries, transfers) = check_contents(input, &parties, &Recorded::default())?;
            let category_ids = super::taxonomy::resolve_in(
                "dataCategories",
                &input.data_categories,
                &category_by_key,
                "data category",
            )?;
            let subject_ids = super::taxonomy::resolve_in(
                "dataSubjects",
                &input.data_subjects,
                &subject_by_key,
                "data subject category",
            )?;
            check_terms(
                activity,
                input,
                &subject_ids,
                processed.get(&activity.id).map_or(&[], Vec::as_slice),
                concerned.get(&activity.id).map_or(&[], Vec::as_slice),
            )?;
            let row = flow_row(input, activity, recipient, now, None)?;
            Ok(Checked {
                row,
                rows: FlowRows {
                    category_ids,
                    subject_ids,
                    countries,
                    transfers,
                },
            })
        };
        let started = std::time::Instant::now();
        let phase = |name: &str| {
            tracing::debug!(
                phase = name,
                flows = inputs.len(),
                ms = started.elapsed().as_millis() as u64,
                "create_flows"
            )
        };
        let mut checked = Vec::with_capacity(inputs.len());
        let mut refusals = Refusals::new();
        for (i, input) in inputs.iter().enumerate() {
            match check(input) {
                Ok(flow) => checked.push(flow),
                Err(err) => refusals.push((i, err)),
            }
        }
        if !refusals.is_empty() {
            return Ok(Err(refusals));
        }

        phase("checked");
        // The flow rows, then everything that names them.
        let mut flows: Vec<data_flow::Model> = Vec::with_capacity(checked.len());
        for chunk in checked.chunks(FLOW_ROWS) {
            let mut inserted = data_flow::Entity::insert_many(chunk.iter().map(|c| c.row.clone()))
                .exec_with_returning(txn)
                .await?;
            // Row ids are given in the order of the rows.
            inserted.sort_unstable_by_key(|f| f.id);
            flows.extend(inserted);
        }
        phase("inserted the flow rows");
        let mut category_rows = Vec::new();
        let mut subject_rows = Vec::new();
        let mut country_rows = Vec::new();
        let mut transfer_rows = Vec::new();
        let mut events = Vec::with_capacity(flows.len());
        for (flow, Checked { rows, .. }) in flows.iter().zip(&checked) {
            let id = flow.id;
            category_rows.extend(rows.category_ids.iter().map(|c| {
                flow_data_category::ActiveModel {
                    flow_id: Set(id),
                    data_category_id: Set(*c),
                }
            }));
            subject_rows.extend(
                rows.subject_ids
                    .iter()
                    .map(|s| flow_data_subject::ActiveModel {
                        flow_id: Set(id),
                        data_subject_id: Set(*s),
                    }),
            );
            country_rows.extend(rows.countries.iter().map(|c| flow_country::ActiveModel {
                flow_id: Set(id),
                country: Set(c.clone()),
            }));
            // The state as `state_of` would read it back: terms by key, destinations and
            // transfers by country.
            let mut transfers: Vec<transfer::Model> = rows
                .transfers
                .iter()
                .map(|t| transfer_model(id, t))
                .collect();
            transfers.sort_by(|a, b| a.country.cmp(&b.country));
            transfer_rows.extend(transfers.iter().cloned().map(transfer_row));
            let mut countries = rows.countries.clone();
            countries.sort();
            let sorted_keys = |ids: &[i32], keys: &HashMap<i32, &str>| {
                let mut out: Vec<String> = ids
                    .iter()
                    .filter_map(|id| keys.get(id).map(|k| (*k).to_owned()))
                    .collect();
                out.sort();
                out
            };
            let key_of =
                |id: Option<i32>| id.and_then(|id| recipients.get(&id).map(|r| r.key.clone()));
            let refs = FlowRefs {
                activity: String::new(),
                recipient: String::new(),
                via: key_of(flow.via_recipient_id),
                exporter: key_of(flow.exporter_recipient_id),
                data_categories: sorted_keys(&rows.category_ids, &category_key),
                data_subjects: sorted_keys(&rows.subject_ids, &subject_key),
            };
            let state = state_from(
                flow,
                activities.get(&flow.activity_id),
                recipients.get(&flow.recipient_id),
                refs,
                countries,
                &transfers,
            );
            events.push(NewEvent::flow(Transition::Created(state)));
        }
        phase("built the events");
        for chunk in category_rows.chunks(LINK_ROWS) {
            flow_data_category::Entity::insert_many(chunk.to_vec())
                .exec(txn)
                .await?;
        }
        for chunk in subject_rows.chunks(LINK_ROWS) {
            flow_data_subject::Entity::insert_many(chunk.to_vec())
                .exec(txn)
                .await?;
        }
        for chunk in country_rows.chunks(LINK_ROWS) {
            flow_country::Entity::insert_many(chunk.to_vec())
                .exec(txn)
                .await?;
        }
        for chunk in transfer_rows.chunks(TRANSFER_ROWS) {
            transfer::Entity::insert_many(chunk.to_vec())
                .exec(txn)
                .await?;
        }
        phase("inserted the link rows");
        change.record_all(events).await?;
        phase("appended the events");
        change.commit().await?;
        Ok(Ok(flows))
    }
}
