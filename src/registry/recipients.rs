//! Recipients: reads, and writes that append to the change log.

use super::changelog::{self, NewEvent};
use super::error::{RegistryError, Result};
use super::inputs::{RecipientInput, RecipientPatch, Safeguard};
use super::visibility;
use super::{Actor, Registry, validate};
use crate::reference;
use chrono::Utc;
use entity::{
    ChangeKind, OrganizationRole, RecipientKind, RecipientRole, RecipientStatus, TextList,
    TransferMechanism, data_flow, processing_activity, recipient, recipient_location, transfer,
};
use sea_orm::sea_query::Query;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;

/// Which recipients to list; empty lists do not filter.
#[derive(Clone, Debug, Default)]
pub struct RecipientFilter {
    pub kinds: Vec<RecipientKind>,
    pub statuses: Vec<RecipientStatus>,
    pub public_only: bool,
    pub subprocessors_only: bool,
}

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
    pub derogation: Option<entity::Derogation>,
    pub derogation_safeguards: Option<String>,
    pub tia_date: Option<chrono::NaiveDate>,
    pub dpa_reference: Option<String>,
    pub certifications: Vec<String>,
    pub dpf_certified: bool,
    pub website: Option<String>,
    pub privacy_notice_url: Option<String>,
    pub status: RecipientStatus,
    pub public: bool,
    #[serde(default)]
    pub announced_at: Option<chrono::DateTime<Utc>>,
    #[serde(default)]
    pub effective_at: Option<chrono::DateTime<Utc>>,
    pub assumptions: Vec<String>,
    pub sources: Vec<String>,
}

pub(crate) fn snapshot(r: &recipient::Model, locations: &[String]) -> Value {
    let snapshot = RecipientSnapshot {
        key: r.key.clone(),
        legal_name: r.legal_name.clone(),
        kind: r.kind,
        default_role: r.default_role,
        description: r.description.clone(),
        country: r.country.clone(),
        processing_locations: locations.to_vec(),
        transfer_mechanism: r.transfer_mechanism,
        scc_module: r.scc_module,
        derogation: r.derogation,
        derogation_safeguards: r.derogation_safeguards.clone(),
        tia_date: r.tia_date,
        dpa_reference: r.dpa_reference.clone(),
        certifications: r.certifications.0.clone(),
        dpf_certified: r.dpf_certified,
        website: r.website.clone(),
        privacy_notice_url: r.privacy_notice_url.clone(),
        status: r.status,
        public: r.public,
        announced_at: r.announced_at,
        effective_at: r.effective_at,
        assumptions: r.assumptions.0.clone(),
        sources: r.sources.0.clone(),
    };
    serde_json::to_value(snapshot).unwrap_or(Value::Null)
}

impl RecipientSnapshot {
    /// The stored row this snapshot describes (`id` and timestamps from the log).
    pub fn into_model(
        self,
        id: i32,
        created_at: chrono::DateTime<Utc>,
        updated_at: chrono::DateTime<Utc>,
    ) -> recipient::Model {
        recipient::Model {
            id,
            key: self.key,
            legal_name: self.legal_name,
            kind: self.kind,
            default_role: self.default_role,
            description: self.description,
            country: self.country,
            dpa_reference: self.dpa_reference,
            certifications: TextList(self.certifications),
            dpf_certified: self.dpf_certified,
            website: self.website,
            privacy_notice_url: self.privacy_notice_url,
            status: self.status,
            announced_at: self.announced_at,
            effective_at: self.effective_at,
            public: self.public,
            transfer_mechanism: self.transfer_mechanism,
            scc_module: self.scc_module,
            derogation: self.derogation,
            derogation_safeguards: self.derogation_safeguards,
            tia_date: self.tia_date,
            assumptions: TextList(self.assumptions),
            sources: TextList(self.sources),
            created_at,
            updated_at,
        }
    }
}

/// The recipient ids that act as processor in a processing activity where the organization is
/// itself a processor: the organization's subprocessors.
pub(super) fn subprocessor_ids() -> sea_orm::sea_query::SelectStatement {
    let processor_activities = Query::select()
        .column(processing_activity::Column::Id)
        .from(processing_activity::Entity)
        .and_where(processing_activity::Column::OrganizationRole.eq(OrganizationRole::Processor))
        .to_owned();
    let processor_by_default = Query::select()
        .column(recipient::Column::Id)
        .from(recipient::Entity)
        .and_where(recipient::Column::DefaultRole.eq(RecipientRole::Processor))
        .to_owned();
    Query::select()
        .column(data_flow::Column::RecipientId)
        .from(data_flow::Entity)
        .cond_where(
            Condition::all()
                .add(data_flow::Column::ActivityId.in_subquery(processor_activities))
                .add(
                    Condition::any()
                        .add(data_flow::Column::Role.eq(RecipientRole::Processor))
                        .add(
                            Condition::all().add(data_flow::Column::Role.is_null()).add(
                                data_flow::Column::RecipientId.in_subquery(processor_by_default),
                            ),
                        ),
                ),
        )
        .to_owned()
}

/// The transfer safeguard recorded on a recipient, if any.
pub(super) fn stored_safeguard(recipient: &recipient::Model) -> Option<Safeguard> {
    recipient.transfer_mechanism.map(|mechanism| Safeguard {
        mechanism,
        scc_module: recipient.scc_module,
        derogation: recipient.derogation,
        safeguards: recipient.derogation_safeguards.clone(),
        tia_date: recipient.tia_date,
    })
}

/// Validated columns of a recipient, shared by create and update.
struct Validated {
    row: recipient::ActiveModel,
    locations: Vec<String>,
}

/// `recorded`: the destinations whose adequacy transfer the registry already holds for this
/// recipient (see `validate::safeguard`).
fn validate_recipient(
    input: &RecipientInput,
    now: chrono::DateTime<Utc>,
    recorded: &[&str],
) -> Result<Validated> {
    let key = validate::key("key", &input.key)?;
    let country = validate::country("country", &input.country)?;
    let locations = validate::countries("processingLocations", &input.processing_locations)?;
    let outside_eea: Vec<&String> = locations.iter().filter(|c| !reference::is_eea(c)).collect();
    let transfer = match &input.transfer {
        Some(safeguard) => {
            if outside_eea.is_empty() {
                return Err(RegistryError::invalid(
                    "transfer",
                    "the recipient has no processing location outside the EEA, so no transfer safeguard applies",
                ));
            }
            let destinations: Vec<&str> = outside_eea.iter().map(|c| c.as_str()).collect();
            Some(validate::safeguard(
                "transfer",
                &destinations,
                safeguard,
                input.dpf_certified,
                now.date_naive(),
                recorded,
            )?)
        }
        None => None,
    };
    if transfer.is_none()
        && matches!(
            input.status,
            RecipientStatus::Announced | RecipientStatus::Active
        )
        && let Some(first) = outside_eea.first()
    {
        return Err(RegistryError::invalid(
            "transfer",
            format!(
                "the recipient processes data in {first}, outside the EEA, and is {}: it needs a transfer mechanism (GDPR Chapter V)",
                match input.status {
                    RecipientStatus::Announced => "announced",
                    _ => "active",
                }
            ),
        ));
    }
    let Safeguard {
        mechanism,
        scc_module,
        derogation,
        safeguards,
        tia_date,
    } = match transfer {
        Some(s) => s,
        None => Safeguard {
            mechanism: TransferMechanism::AdequacyDecision,
            scc_module: None,
            derogation: None,
            safeguards: None,
            tia_date: None,
        },
    };
    let has_transfer = input.transfer.is_some();
    let row = recipient::ActiveModel {
        key: Set(key),
        legal_name: Set(validate::name("legalName", &input.legal_name)?),
        kind: Set(input.kind),
        default_role: Set(input.default_role),
        description: Set(validate::text("description", input.description.as_deref())?),
        country: Set(country),
        dpa_reference: Set(validate::text(
            "dpaReference",
            input.dpa_reference.as_deref(),
        )?),
        certifications: Set(TextList(validate::texts(
            "certifications",
            &input.certifications,
        )?)),
        dpf_certified: Set(input.dpf_certified),
        website: Set(validate::url("website", input.website.as_deref())?),
        privacy_notice_url: Set(validate::url(
            "privacyNoticeUrl",
            input.privacy_notice_url.as_deref(),
        )?),
        status: Set(input.status),
        public: Set(input.public),
        transfer_mechanism: Set(has_transfer.then_some(mechanism)),
        scc_module: Set(scc_module),
        derogation: Set(derogation),
        derogation_safeguards: Set(safeguards),
        tia_date: Set(tia_date),
        assumptions: Set(TextList(validate::texts(
            "assumptions",
            &input.assumptions,
        )?)),
        sources: Set(TextList(validate::texts("sources", &input.sources)?)),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    Ok(Validated { row, locations })
}

/// Status changes an update may make. Customers must hear of a new public recipient before it
/// starts (Art. 28(2)), so announcing goes through `announce_recipient` and its notice period.
fn check_transition(
    existing: &recipient::Model,
    to: RecipientStatus,
    public: bool,
    now: chrono::DateTime<Utc>,
) -> Result<()> {
    use RecipientStatus::*;
    if public && !existing.public && matches!(to, Active | Announced) {
        return Err(RegistryError::invalid(
            "public",
            "an active or announced recipient cannot join the public list directly: set it back to PROPOSED and announce it, so customers get their notice period",
        ));
    }
    let refusal = match (existing.status, to) {
        (from, to) if from == to => None,
        (_, Announced) => Some(
            "announce a recipient with announceRecipient, which sets its effective date after the notice period",
        ),
        (Proposed | Retired, Active) if public => {
            Some("a public recipient is announced to customers before it becomes active")
        }
        (Announced, Active) if existing.effective_at.is_some_and(|at| now < at) => {
            Some("the recipient becomes active when its notice period ends; retire it or wait")
        }
        _ => None,
    };
    match refusal {
        Some(message) => Err(RegistryError::invalid("status", message)),
        None => Ok(()),
    }
}

fn change_kind(before: Option<RecipientStatus>, after: RecipientStatus) -> ChangeKind {
    match (before, after) {
        (None, _) => ChangeKind::RecipientCreated,
        (Some(b), a) if b == a => ChangeKind::RecipientUpdated,
        (_, RecipientStatus::Announced) => ChangeKind::RecipientAnnounced,
        (_, RecipientStatus::Active) => ChangeKind::RecipientActivated,
        (_, RecipientStatus::Retired) => ChangeKind::RecipientRetired,
        (_, RecipientStatus::Proposed) => ChangeKind::RecipientUpdated,
    }
}

pub(crate) async fn locations_of(conn: &impl ConnectionTrait, id: i32) -> Result<Vec<String>> {
    Ok(recipient_location::Entity::find()
        .filter(recipient_location::Column::RecipientId.eq(id))
        .order_by_asc(recipient_location::Column::Country)
        .all(conn)
        .await?
        .into_iter()
        .map(|l| l.country)
        .collect())
}

async fn replace_locations(
    conn: &impl ConnectionTrait,
    id: i32,
    locations: &[String],
) -> Result<()> {
    recipient_location::Entity::delete_many()
        .filter(recipient_location::Column::RecipientId.eq(id))
        .exec(conn)
        .await?;
    if !locations.is_empty() {
        recipient_location::Entity::insert_many(locations.iter().map(|country| {
            recipient_location::ActiveModel {
                recipient_id: Set(id),
                country: Set(country.clone()),
            }
        }))
        .exec(conn)
        .await?;
    }
    Ok(())
}

impl Registry {
    pub async fn recipient(&self, id: i32) -> Result<Option<recipient::Model>> {
        Ok(recipient::Entity::find_by_id(id).one(self.db()).await?)
    }

    pub async fn recipient_by_key(&self, key: &str) -> Result<Option<recipient::Model>> {
        // A text that cannot be a key names nothing (and never reaches the database).
        if validate::key("key", key).is_err() {
            return Ok(None);
        }
        Ok(recipient::Entity::find()
            .filter(recipient::Column::Key.eq(key))
            .one(self.db())
            .await?)
    }

    /// Recipients matching `filter`, by legal name.
    pub async fn recipients(&self, filter: &RecipientFilter) -> Result<Vec<recipient::Model>> {
        Ok(super::pages::recipients_in_order(filter)
            .all(self.db())
            .await?)
    }

    /// The public subprocessor list a customer sees: public recipients, announced or active,
    /// acting as processor in an activity the organization performs as processor.
    pub async fn subprocessors(&self) -> Result<Vec<recipient::Model>> {
        self.recipients(&RecipientFilter {
            statuses: vec![RecipientStatus::Announced, RecipientStatus::Active],
            public_only: true,
            subprocessors_only: true,
            ..Default::default()
        })
        .await
    }

    /// Which of `ids` are subprocessors.
    pub async fn subprocessor_flags(&self, ids: &[i32]) -> Result<HashMap<i32, bool>> {
        let found: Vec<i32> = recipient::Entity::find()
            .select_only()
            .column(recipient::Column::Id)
            .filter(recipient::Column::Id.is_in(ids.iter().copied()))
            .filter(recipient::Column::Id.in_subquery(subprocessor_ids()))
            .into_tuple()
            .all(self.db())
            .await?;
        Ok(ids.iter().map(|id| (*id, found.contains(id))).collect())
    }

    pub async fn recipients_by_ids(&self, ids: &[i32]) -> Result<HashMap<i32, recipient::Model>> {
        Ok(recipient::Entity::find()
            .filter(recipient::Column::Id.is_in(ids.iter().copied()))
            .all(self.db())
            .await?
            .into_iter()
            .map(|m| (m.id, m))
            .collect())
    }

    /// Processing locations of each recipient, by country code.
    pub async fn recipient_locations(&self, ids: &[i32]) -> Result<HashMap<i32, Vec<String>>> {
        let mut out: HashMap<i32, Vec<String>> = HashMap::new();
        for row in recipient_location::Entity::find()
            .filter(recipient_location::Column::RecipientId.is_in(ids.iter().copied()))
            .order_by_asc(recipient_location::Column::Country)
            .all(self.db())
            .await?
        {
            out.entry(row.recipient_id).or_default().push(row.country);
        }
        Ok(out)
    }

    /// Adds a recipient. A new public recipient starts as proposed and reaches customers through
    /// `announce_recipient` and its notice period; an internal one may start active.
    pub async fn create_recipient(
        &self,
        input: RecipientInput,
        actor: &Actor,
        reason: Option<&str>,
    ) -> Result<recipient::Model> {
        // Refused before anything else, so a bad reason never hides behind another error.
        validate::text("reason", reason)?;
        match (input.status, input.public) {
            (RecipientStatus::Announced, _) => {
                return Err(RegistryError::invalid(
                    "status",
                    "create the recipient as PROPOSED, then announce it with announceRecipient",
                ));
            }
            (RecipientStatus::Active, true) => {
                return Err(RegistryError::invalid(
                    "status",
                    "a new public recipient is announced to customers before it becomes active: create it as PROPOSED",
                ));
            }
            _ => {}
        }
        self.import_recipient(input, actor, reason).await
    }

    /// Records a recipient as it already is, in any status: for importing an existing registry
    /// (such as the example one), where the notice period has long run its course.
    pub async fn import_recipient(
        &self,
        input: RecipientInput,
        actor: &Actor,
        reason: Option<&str>,
    ) -> Result<recipient::Model> {
        // Refused before anything else, so a bad reason never hides behind another error.
        validate::text("reason", reason)?;
        let Validated { row, locations } = validate_recipient(&input, self.now(), &[])?;
        let write = self.write().await?;
        let txn = &write.txn;
        let created = row.insert(txn).await?;
        replace_locations(txn, created.id, &locations).await?;
        let after = snapshot(&created, &locations);
        let seq = changelog::append(
            self,
            txn,
            actor,
            reason,
            NewEvent {
                kind: change_kind(None, created.status),
                recipient_id: Some(created.id),
                recipient_kind: Some(created.kind),
                flow_id: None,
                activity_id: None,
                changes: changelog::diff(&Value::Null, &after),
                snapshot: after,
                announced_at: None,
                effective_at: None,
                public: visibility::on_public_list(created.public, created.status),
            },
        )
        .await?;
        self.commit(write, Some(seq)).await?;
        Ok(created)
    }

    /// Applies `patch` to a recipient.
    pub async fn update_recipient(
        &self,
        id: i32,
        patch: RecipientPatch,
        actor: &Actor,
        reason: Option<&str>,
    ) -> Result<recipient::Model> {
        // Refused before anything else, so a bad reason never hides behind another error.
        validate::text("reason", reason)?;
        let write = self.write().await?;
        let txn = &write.txn;
        let existing = recipient::Entity::find_by_id(id)
            .one(txn)
            .await?
            .ok_or_else(|| RegistryError::not_found("Recipient", id))?;
        let old_locations = locations_of(txn, id).await?;
        let current_transfer = stored_safeguard(&existing);
        let input = RecipientInput {
            key: patch.key.unwrap_or_else(|| existing.key.clone()),
            legal_name: patch
                .legal_name
                .unwrap_or_else(|| existing.legal_name.clone()),
            kind: patch.kind.unwrap_or(existing.kind),
            default_role: patch.default_role.unwrap_or(existing.default_role),
            description: patch
                .description
                .unwrap_or_else(|| existing.description.clone()),
            country: patch.country.unwrap_or_else(|| existing.country.clone()),
            processing_locations: patch
                .processing_locations
                .unwrap_or_else(|| old_locations.clone()),
            transfer: patch.transfer.unwrap_or(current_transfer),
            dpa_reference: patch
                .dpa_reference
                .unwrap_or_else(|| existing.dpa_reference.clone()),
            certifications: patch
                .certifications
                .unwrap_or_else(|| existing.certifications.0.clone()),
            dpf_certified: patch.dpf_certified.unwrap_or(existing.dpf_certified),
            website: patch.website.unwrap_or_else(|| existing.website.clone()),
            privacy_notice_url: patch
                .privacy_notice_url
                .unwrap_or_else(|| existing.privacy_notice_url.clone()),
            status: patch.status.unwrap_or(existing.status),
            public: patch.public.unwrap_or(existing.public),
            assumptions: patch
                .assumptions
                .unwrap_or_else(|| existing.assumptions.0.clone()),
            sources: patch.sources.unwrap_or_else(|| existing.sources.0.clone()),
        };
        check_transition(&existing, input.status, input.public, self.now())?;
        // An adequacy transfer already recorded stays valid for these edits even if its
        // decision has lapsed since (the record's findings report that).
        let recorded: Vec<&str> = match existing.transfer_mechanism {
            Some(TransferMechanism::AdequacyDecision) => {
                old_locations.iter().map(String::as_str).collect()
            }
            _ => Vec::new(),
        };
        let Validated { mut row, locations } = validate_recipient(&input, self.now(), &recorded)?;
        if !input.dpf_certified {
            let us_adequacy = transfer::Entity::find()
                .filter(transfer::Column::Country.eq("US"))
                .filter(transfer::Column::Mechanism.eq(TransferMechanism::AdequacyDecision))
                .filter(
                    transfer::Column::FlowId.in_subquery(
                        Query::select()
                            .column(data_flow::Column::Id)
                            .from(data_flow::Entity)
                            .and_where(data_flow::Column::RecipientId.eq(id))
                            .to_owned(),
                    ),
                )
                .count(txn)
                .await?;
            if us_adequacy > 0 {
                return Err(RegistryError::invalid(
                    "dpfCertified",
                    format!(
                        "{us_adequacy} data flows to this recipient rely on the US adequacy decision, which needs its Data Privacy Framework certification; change their transfers first"
                    ),
                ));
            }
        }
        row.id = Set(id);
        row.created_at = Set(existing.created_at);
        row.announced_at = Set(existing.announced_at);
        row.effective_at = Set(existing.effective_at);
        let before = snapshot(&existing, &old_locations);
        let updated = row.update(txn).await?;
        if locations != old_locations {
            replace_locations(txn, id, &locations).await?;
        }
        let after = snapshot(&updated, &locations);
        let changes = changelog::diff(&before, &after);
        let changes_for_feed = changes.clone();
        let seq = if changes.as_object().is_some_and(|c| !c.is_empty()) {
            Some(
                changelog::append(
                    self,
                    txn,
                    actor,
                    reason,
                    NewEvent {
                        kind: change_kind(Some(existing.status), updated.status),
                        recipient_id: Some(id),
                        recipient_kind: Some(updated.kind),
                        flow_id: None,
                        activity_id: None,
                        changes,
                        snapshot: after,
                        announced_at: None,
                        effective_at: None,
                        public: (visibility::on_public_list(existing.public, existing.status)
                            || visibility::on_public_list(updated.public, updated.status))
                            && visibility::touches_public("RECIPIENT", &changes_for_feed),
                    },
                )
                .await?,
            )
        } else {
            None
        };
        self.commit(write, seq).await?;
        Ok(updated)
    }

    /// Removes a recipient that no data flow references.
    pub async fn delete_recipient(
        &self,
        id: i32,
        actor: &Actor,
        reason: Option<&str>,
    ) -> Result<recipient::Model> {
        // Refused before anything else, so a bad reason never hides behind another error.
        validate::text("reason", reason)?;
        let write = self.write().await?;
        let txn = &write.txn;
        let existing = recipient::Entity::find_by_id(id)
            .one(txn)
            .await?
            .ok_or_else(|| RegistryError::not_found("Recipient", id))?;
        let flows = data_flow::Entity::find()
            .filter(
                Condition::any()
                    .add(data_flow::Column::RecipientId.eq(id))
                    .add(data_flow::Column::ViaRecipientId.eq(id)),
            )
            .count(txn)
            .await?;
        if flows > 0 {
            return Err(RegistryError::Conflict(format!(
                "recipient `{}` still has {flows} data flows; delete them first, or retire the recipient to keep its history",
                existing.key
            )));
        }
        let locations = locations_of(txn, id).await?;
        let before = snapshot(&existing, &locations);
        recipient::Entity::delete_by_id(id).exec(txn).await?;
        let seq = changelog::append(
            self,
            txn,
            actor,
            reason,
            NewEvent {
                kind: ChangeKind::RecipientDeleted,
                recipient_id: Some(id),
                recipient_kind: Some(existing.kind),
                flow_id: None,
                activity_id: None,
                changes: changelog::diff(&before, &Value::Null),
                snapshot: before,
                announced_at: None,
                effective_at: None,
                public: visibility::on_public_list(existing.public, existing.status),
            },
        )
        .await?;
        self.commit(write, Some(seq)).await?;
        Ok(existing)
    }
}
