//! Recipients: reads, and writes that append to the change log.

use super::changelog::{NewEvent, Transition};
use super::error::{RegistryError, Result};
use super::flows::{FlowParties, exporters_of, record_shown_changes, states_of_flows};
use super::inputs::{RecipientInput, RecipientPatch, Safeguard};
use super::rules::is_subprocessor;
use super::snapshot::RecipientSnapshot;
use super::transfers::{self, Party};
use super::validate::{ModuleCheck, TransferParties};
use super::{Actor, Registry, validate};
use crate::reference::{AdequacyTable, Importer};
use chrono::{DateTime, Utc};
use entity::{
    RecipientKind, RecipientRole, RecipientStatus, TextList, TransferMechanism, data_flow,
    organization, recipient, recipient_location, transfer,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseTransaction, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use std::collections::HashMap;

/// Which recipients to list; empty lists do not filter.
#[derive(Clone, Debug, Default)]
pub struct RecipientFilter {
    pub kinds: Vec<RecipientKind>,
    pub statuses: Vec<RecipientStatus>,
    pub public_only: bool,
    pub subprocessors_only: bool,
}

/// Validated columns of a recipient, shared by create and update.
pub(super) struct Validated {
    pub(super) row: recipient::ActiveModel,
    pub(super) locations: Vec<String>,
}

/// The exporter of a recipient's summary safeguard: the organization, by name and country (the
/// registry's default name and no country before the organization is recorded).
pub(crate) async fn organization_party(conn: &impl ConnectionTrait) -> Result<(String, String)> {
    Ok(organization::Entity::find()
        .order_by_asc(organization::Column::Id)
        .one(conn)
        .await?
        .map(|o| (o.name, o.country))
        .unwrap_or_else(|| ("the organization".to_owned(), String::new())))
}

/// The recipient's summary safeguard, checked against its processing locations outside the
/// organization's free-flow area: required once it is announced or active (Chapter V) unless
/// it is a mere conduit by default (conveying data through it is no transfer; its controller
/// flows carry their own), refused when no location is outside that area. The exporter is the
/// organization, under its regime; the module must fit the recipient's default role. A
/// safeguard it already has, for the same locations (`recorded`), is kept as it is even where
/// a decision lapsed or a rule was added since (the findings report that).
pub(crate) fn summary_safeguard(
    input: &RecipientInput,
    locations: &[String],
    organization: (&str, &str),
    adequacy: &AdequacyTable,
    today: chrono::NaiveDate,
    recorded: Option<&Safeguard>,
) -> Result<Option<Safeguard>> {
    let (org_name, org_country) = organization;
    let regime = transfers::regime_of(org_country, None);
    let outside: Vec<&str> = locations
        .iter()
        .map(String::as_str)
        .filter(|c| !regime.free_flow(c))
        .collect();
    match (&input.transfer, outside.first()) {
        (Some(_), None) => Err(RegistryError::invalid(
            "transfer",
            format!(
                "the recipient has no processing location outside {}, so no transfer safeguard applies",
                regime.free_flow_area()
            ),
        )),
        (Some(safeguard), Some(_)) if recorded == Some(safeguard) => Ok(Some(safeguard.clone())),
        (Some(safeguard), Some(_)) => {
            let parties = TransferParties {
                exporter: Party {
                    name: org_name,
                    country: org_country,
                },
                regime,
                modules: ModuleCheck::Summary {
                    default_role: input.default_role,
                },
                importer_name: &input.legal_name,
                importer: Importer {
                    kind: input.kind,
                    dpf_certified: input.dpf_certified,
                    certifications: &input.certifications,
                },
                adequacy,
                today,
            };
            Ok(Some(validate::safeguard(
                "transfer", &outside, safeguard, &parties,
            )?))
        }
        (None, Some(first))
            if input.default_role != RecipientRole::MereConduit
                && matches!(
                    input.status,
                    RecipientStatus::Announced | RecipientStatus::Active
                ) =>
        {
            Err(RegistryError::invalid(
                "transfer",
                format!(
                    "the recipient processes data in {first}, outside {}, and is {}: it needs a transfer mechanism (Chapter V, {})",
                    regime.free_flow_area(),
                    match input.status {
                        RecipientStatus::Announced => "announced",
                        _ => "active",
                    },
                    regime.name()
                ),
            ))
        }
        (None, _) => Ok(None),
    }
}

/// What a recipient's write is checked against besides its input: the organization (the
/// exporter of its summary safeguard), the adequacy decisions, the day, and the safeguard it
/// already has for the same locations.
pub(super) struct Context<'a> {
    pub(super) organization: (&'a str, &'a str),
    pub(super) adequacy: &'a AdequacyTable,
    pub(super) now: DateTime<Utc>,
    pub(super) recorded: Option<&'a Safeguard>,
}

pub(super) fn validate_recipient(
    input: &RecipientInput,
    context: &Context<'_>,
) -> Result<Validated> {
    let now = context.now;
    let key = validate::key("key", &input.key)?;
    let country = validate::country("country", &input.country)?;
    let locations = validate::countries("processingLocations", &input.processing_locations)?;
    let transfer = summary_safeguard(
        input,
        &locations,
        context.organization,
        context.adequacy,
        now.date_naive(),
        context.recorded,
    )?;
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
        transfer_mechanism: Set(transfer.as_ref().map(|t| t.mechanism)),
        scc_module: Set(transfer
            .as_ref()
            .and_then(|t| t.scc_module)
            .and_then(|m| i16::try_from(m).ok())),
        derogation: Set(transfer.as_ref().and_then(|t| t.derogation)),
        derogation_safeguards: Set(transfer.as_ref().and_then(|t| t.safeguards.clone())),
        tia_date: Set(transfer.as_ref().and_then(|t| t.tia_date)),
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

/// The notice period for a recipient being added (GDPR Art. 28(2)): it is announced only by
/// `announceRecipient`, and a public one starts as PROPOSED, so customers hear of it before it
/// receives any data.
pub(super) fn check_new_status(input: &RecipientInput) -> Result<()> {
    match (input.status, input.public) {
        (RecipientStatus::Announced, _) => Err(RegistryError::invalid(
            "status",
            "create the recipient as PROPOSED, then announce it with announceRecipient",
        )),
        (RecipientStatus::Active, true) => Err(RegistryError::invalid(
            "status",
            "a new public recipient is announced to customers before it becomes active: create it as PROPOSED",
        )),
        _ => Ok(()),
    }
}

/// Refuses a change to a recipient (its kind, its Data Privacy Framework certification, its
/// certifications) that takes it out of the scope of an adequacy decision a flow to it relies
/// on today: Canada's and Japan's cover no public authority, the US decisions only certified
/// importers. A decision that has lapsed is not checked here: that is a finding.
async fn check_importer_scope(
    txn: &DatabaseTransaction,
    before: &recipient::Model,
    after: &RecipientInput,
    adequacy: &AdequacyTable,
    today: chrono::NaiveDate,
) -> Result<()> {
    let was = Importer {
        kind: before.kind,
        dpf_certified: before.dpf_certified,
        certifications: &before.certifications.0,
    };
    let will_be = Importer {
        kind: after.kind,
        dpf_certified: after.dpf_certified,
        certifications: &after.certifications,
    };
    if (was.kind, was.dpf_certified, was.certifications)
        == (will_be.kind, will_be.dpf_certified, will_be.certifications)
    {
        return Ok(());
    }
    let flows = data_flow::Entity::find()
        .filter(data_flow::Column::RecipientId.eq(before.id))
        .all(txn)
        .await?;
    let relying = transfer::Entity::find()
        .filter(transfer::Column::Mechanism.eq(TransferMechanism::AdequacyDecision))
        .filter(transfer::Column::FlowId.is_in(flows.iter().map(|f| f.id)))
        .all(txn)
        .await?;
    if relying.is_empty() {
        return Ok(());
    }
    let parties: Vec<FlowParties> = flows.iter().map(FlowParties::from).collect();
    let exporters = exporters_of(txn, &parties).await?;
    let mut lost = Vec::new();
    for t in &relying {
        let Some(flow) = flows.iter().find(|f| f.id == t.flow_id) else {
            continue;
        };
        let Some(exporter) = exporters.get(&FlowParties::from(flow)) else {
            continue;
        };
        if let Some(decision) = adequacy.decision(exporter.regime, &t.country, today)
            && decision.covers(&was)
            && !decision.covers(&will_be)
        {
            lost.push(decision);
        }
    }
    let Some(decision) = lost.first() else {
        return Ok(());
    };
    let field = if was.kind != will_be.kind {
        "kind"
    } else if was.dpf_certified != will_be.dpf_certified {
        "dpfCertified"
    } else {
        "certifications"
    };
    Err(RegistryError::invalid(
        field,
        format!(
            "{} transfers of data flows to this recipient rely on {} ({}), which covers {}: this change takes the recipient out of it; change their transfers first",
            lost.len(),
            decision.reference,
            decision.title,
            decision.scope_in_words()
        ),
    ))
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
            .filter(is_subprocessor())
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
        check_new_status(&input)?;
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
        let mut change = self.change(actor, reason).await?;
        let (org_name, org_country) = organization_party(change.txn()).await?;
        let Validated { row, locations } = validate_recipient(
            &input,
            &Context {
                organization: (&org_name, &org_country),
                adequacy: self.adequacy(),
                now: self.now(),
                recorded: None,
            },
        )?;
        let created = row.insert(change.txn()).await?;
        replace_locations(change.txn(), created.id, &locations).await?;
        change
            .record(NewEvent::recipient(
                created.id,
                Transition::Created(RecipientSnapshot::of(created.clone(), locations)),
            ))
            .await?;
        change.commit().await?;
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
        let mut change = self.change(actor, reason).await?;
        let existing = change.find::<recipient::Entity>("Recipient", id).await?;
        let old_locations = locations_of(change.txn(), id).await?;
        let input =
            patch.apply(RecipientSnapshot::of(existing.clone(), old_locations.clone()).into());
        check_transition(&existing, input.status, input.public, self.now())?;
        // The safeguard already recorded for the same locations stays valid for these edits
        // even if its decision has lapsed since (the record's findings report that).
        let stored = RecipientSnapshot::of(existing.clone(), old_locations.clone()).safeguard();
        let same_locations = {
            let mut asked = input.processing_locations.clone();
            asked.sort();
            asked.dedup();
            asked == old_locations
        };
        let (org_name, org_country) = organization_party(change.txn()).await?;
        let Validated { mut row, locations } = validate_recipient(
            &input,
            &Context {
                organization: (&org_name, &org_country),
                adequacy: self.adequacy(),
                now: self.now(),
                recorded: stored.as_ref().filter(|_| same_locations),
            },
        )?;
        check_importer_scope(
            change.txn(),
            &existing,
            &input,
            self.adequacy(),
            self.now().date_naive(),
        )
        .await?;
        // Flows that take the recipient's default role may start or stop making it a
        // subprocessor, and so being shown to customers.
        let role_changes = input.default_role != existing.default_role;
        let flows = data_flow::Column::RecipientId.eq(id);
        let flows_before = match role_changes {
            true => states_of_flows(change.txn(), flows.clone()).await?,
            false => Vec::new(),
        };
        row.id = Set(id);
        row.created_at = Set(existing.created_at);
        row.announced_at = Set(existing.announced_at);
        row.effective_at = Set(existing.effective_at);
        let updated = row.update(change.txn()).await?;
        if locations != old_locations {
            replace_locations(change.txn(), id, &locations).await?;
        }
        change
            .record(NewEvent::recipient(
                id,
                Transition::Updated {
                    before: RecipientSnapshot::of(existing, old_locations),
                    after: RecipientSnapshot::of(updated.clone(), locations),
                },
            ))
            .await?;
        if role_changes {
            let flows_after = states_of_flows(change.txn(), flows).await?;
            record_shown_changes(&mut change, flows_before, flows_after).await?;
        }
        change.commit().await?;
        Ok(updated)
    }

    /// Removes a recipient that no data flow references.
    pub async fn delete_recipient(
        &self,
        id: i32,
        actor: &Actor,
        reason: Option<&str>,
    ) -> Result<recipient::Model> {
        let mut change = self.change(actor, reason).await?;
        let existing = change.find::<recipient::Entity>("Recipient", id).await?;
        let flows = data_flow::Entity::find()
            .filter(
                Condition::any()
                    .add(data_flow::Column::RecipientId.eq(id))
                    .add(data_flow::Column::ViaRecipientId.eq(id))
                    .add(data_flow::Column::ExporterRecipientId.eq(id)),
            )
            .count(change.txn())
            .await?;
        if flows > 0 {
            return Err(RegistryError::Conflict(format!(
                "recipient `{}` still has {flows} data flows; delete them first, or retire the recipient to keep its history",
                existing.key
            )));
        }
        let locations = locations_of(change.txn(), id).await?;
        recipient::Entity::delete_by_id(id)
            .exec(change.txn())
            .await?;
        change
            .record(NewEvent::recipient(
                id,
                Transition::Deleted(RecipientSnapshot::of(existing.clone(), locations)),
            ))
            .await?;
        change.commit().await?;
        Ok(existing)
    }
}

impl Registry {
    /// The names of the products whose processing activities send data to each of `ids`, by
    /// name (for the public page: the products and services a subprocessor is concerned in).
    pub async fn recipient_products(&self, ids: &[i32]) -> Result<HashMap<i32, Vec<String>>> {
        // The public page reads them for every listed recipient: kept between writes.
        struct RecipientProducts;
        self.kept_by_id::<RecipientProducts, _, _, _>(ids, |missing| async move {
            self.read_recipient_products(&missing).await
        })
        .await
    }

    async fn read_recipient_products(&self, ids: &[i32]) -> Result<HashMap<i32, Vec<String>>> {
        use entity::{product, recipient_product};
        use sea_orm::sea_query::{Expr, ExprTrait, Query};
        use sea_orm::{ConnectionTrait, StatementBuilder};
        // The pairs the registry keeps per recipient (`registry::derived`): a few rows per
        // recipient, however many flows it has.
        let statement = Query::select()
            .column((
                recipient_product::Entity,
                recipient_product::Column::RecipientId,
            ))
            .column((product::Entity, product::Column::Name))
            .from(recipient_product::Entity)
            .inner_join(
                product::Entity,
                Expr::col((product::Entity, product::Column::Id)).equals((
                    recipient_product::Entity,
                    recipient_product::Column::ProductId,
                )),
            )
            .and_where(
                Expr::col((
                    recipient_product::Entity,
                    recipient_product::Column::RecipientId,
                ))
                .is_in(ids.iter().copied()),
            )
            .to_owned();
        let db = self.db();
        let rows = db
            .query_all_raw(StatementBuilder::build(
                &statement,
                &db.get_database_backend(),
            ))
            .await?;
        let mut out: HashMap<i32, Vec<String>> = HashMap::new();
        for row in rows {
            let recipient: i32 = row.try_get_by_index(0)?;
            let name: String = row.try_get_by_index(1)?;
            out.entry(recipient).or_default().push(name);
        }
        for names in out.values_mut() {
            names.sort();
            names.dedup();
        }
        Ok(out)
    }
}
