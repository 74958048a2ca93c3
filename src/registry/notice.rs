//! Notice periods and objections (GDPR Art. 28(2) and 28(4)): a new subprocessor is announced
//! to customers with an effective date no earlier than the notice period allows; customers may
//! object until then; the registry activates it when the date passes.

use super::changelog::{NewEvent, Transition};
use super::error::{RegistryError, Result};
use super::inputs::RecipientInput;
use super::recipients::{locations_of, organization_party, summary_safeguard};
use super::snapshot::RecipientSnapshot;
use super::{Actor, Registry, validate};
use chrono::{DateTime, Utc};
use entity::{ChangeKind, ObjectionStatus, RecipientStatus, change_event, objection, recipient};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};

/// Which objections to list.
#[derive(Clone, Debug, Default)]
pub struct ObjectionFilter {
    pub recipient_id: Option<i32>,
    pub statuses: Vec<ObjectionStatus>,
}

/// Refuses to announce a recipient processing outside the organization's free-flow area
/// without a transfer mechanism. Customers are told of the safeguard as it stands today: an
/// adequacy decision that has lapsed since the recipient was recorded must be replaced first.
fn check_announced_safeguard(
    recipient: &RecipientSnapshot,
    organization: (&str, &str),
    adequacy: &crate::reference::AdequacyTable,
    now: DateTime<Utc>,
) -> Result<()> {
    let announced = RecipientInput {
        status: RecipientStatus::Announced,
        ..recipient.clone().into()
    };
    summary_safeguard(
        &announced,
        &recipient.processing_locations,
        organization,
        adequacy,
        now.date_naive(),
        None,
    )
    .map(drop)
}

impl Registry {
    /// Announces a proposed recipient to customers. It becomes active at `effective_at`, which
    /// must leave at least the notice period; customers may object until then.
    pub async fn announce_recipient(
        &self,
        id: i32,
        effective_at: Option<DateTime<Utc>>,
        actor: &Actor,
        reason: Option<&str>,
    ) -> Result<recipient::Model> {
        // Refused before anything else, so a bad reason never hides behind another error.
        validate::text("reason", reason)?;
        let now = self.now();
        let effective_at = self.check_effective_date(now, effective_at)?;
        let mut change = self.change(actor, reason).await?;
        let existing = change.find::<recipient::Entity>("Recipient", id).await?;
        if existing.status != RecipientStatus::Proposed {
            return Err(RegistryError::Conflict(format!(
                "recipient `{}` is {:?}, not proposed: only a proposed recipient can be announced",
                existing.key, existing.status
            )));
        }
        let locations = locations_of(change.txn(), id).await?;
        let before = RecipientSnapshot::of(existing.clone(), locations.clone());
        let (org_name, org_country) = organization_party(change.txn()).await?;
        check_announced_safeguard(&before, (&org_name, &org_country), self.adequacy(), now)?;
        let mut row: recipient::ActiveModel = existing.into();
        row.status = Set(RecipientStatus::Announced);
        row.announced_at = Set(Some(now));
        row.effective_at = Set(Some(effective_at));
        row.updated_at = Set(now);
        let updated = row.update(change.txn()).await?;
        change
            .record(NewEvent::recipient(
                id,
                Transition::Updated {
                    before,
                    after: RecipientSnapshot::of(updated.clone(), locations),
                },
            ))
            .await?;
        // An internal recipient's flows are already on the internal feed as they were made.
        if updated.public {
            self.publish_flows_to(&mut change, &updated).await?;
        }
        change.commit().await?;
        Ok(updated)
    }

    /// The earliest effective date of a recipient announced now: the end of the notice
    /// period (GDPR Art. 28(2) and 28(4): customers may object before it starts).
    pub fn earliest_effective_date(&self) -> DateTime<Utc> {
        self.earliest_effective_date_at(self.now())
    }

    fn earliest_effective_date_at(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now + self.settings().notice_period
    }

    /// The effective date of an announcement made at `now`: the one asked for, or the end of
    /// the notice period, which it may not precede.
    fn check_effective_date(
        &self,
        now: DateTime<Utc>,
        asked: Option<DateTime<Utc>>,
    ) -> Result<DateTime<Utc>> {
        let earliest = self.earliest_effective_date_at(now);
        let effective_at = asked.unwrap_or(earliest);
        if effective_at < earliest {
            return Err(RegistryError::invalid(
                "effectiveAt",
                format!(
                    "the notice period is {} days: the earliest effective date is {}",
                    self.settings().notice_period.num_days(),
                    earliest.format("%Y-%m-%d %H:%M UTC")
                ),
            ));
        }
        Ok(effective_at)
    }

    /// Activates every announced recipient whose effective date has passed, each in its own
    /// transaction with its own event. Safe to run any number of times, on any replica.
    pub async fn activate_due(&self) -> Result<Vec<recipient::Model>> {
        let now = self.now();
        let due: Vec<i32> = recipient::Entity::find()
            .select_only()
            .column(recipient::Column::Id)
            .filter(recipient::Column::Status.eq(RecipientStatus::Announced))
            .filter(recipient::Column::EffectiveAt.lte(now))
            .order_by_asc(recipient::Column::EffectiveAt)
            .into_tuple()
            .all(self.db())
            .await?;
        let mut activated = Vec::new();
        let system = Actor::system();
        for id in due {
            let mut change = self
                .change(&system, Some("the notice period ended"))
                .await?;
            // Re-read inside the transaction: another replica may have activated it already.
            let Some(existing) = recipient::Entity::find_by_id(id).one(change.txn()).await? else {
                continue;
            };
            let due = existing.status == RecipientStatus::Announced
                && existing.effective_at.is_some_and(|at| at <= now);
            if !due {
                continue;
            }
            let locations = locations_of(change.txn(), id).await?;
            let before = RecipientSnapshot::of(existing.clone(), locations.clone());
            let mut row: recipient::ActiveModel = existing.into();
            row.status = Set(RecipientStatus::Active);
            row.updated_at = Set(now);
            let updated = row.update(change.txn()).await?;
            change
                .record(NewEvent::recipient(
                    id,
                    Transition::Updated {
                        before,
                        after: RecipientSnapshot::of(updated.clone(), locations),
                    },
                ))
                .await?;
            change.commit().await?;
            activated.push(updated);
        }
        Ok(activated)
    }

    /// Records a customer's objection to an announced subprocessor, while its notice period
    /// runs.
    pub async fn object_to_subprocessor(
        &self,
        recipient_id: i32,
        customer: &str,
        contact: &str,
        reason: &str,
    ) -> Result<objection::Model> {
        let customer = validate::name("customer", customer)?;
        let contact = validate::name("contact", contact)?;
        let reason = validate::text("reason", Some(reason))?
            .ok_or_else(|| RegistryError::invalid("reason", "say why you object"))?;
        let now = self.now();
        let write = self.write().await?;
        let txn = &write.txn;
        let recipient = recipient::Entity::find_by_id(recipient_id)
            .one(txn)
            .await?
            .filter(|r| r.public)
            .ok_or_else(|| RegistryError::not_found("Recipient", recipient_id))?;
        let open = recipient.status == RecipientStatus::Announced
            && recipient.effective_at.is_some_and(|at| now < at);
        if !open {
            return Err(RegistryError::Conflict(format!(
                "{} is not in a notice period: objections are taken while a subprocessor is announced and before it takes effect",
                recipient.legal_name
            )));
        }
        let announcement: Option<i64> = change_event::Entity::find()
            .select_only()
            .column(change_event::Column::Seq)
            .filter(change_event::Column::RecipientId.eq(recipient_id))
            .filter(change_event::Column::Kind.eq(ChangeKind::RecipientAnnounced))
            .order_by_desc(change_event::Column::Seq)
            .into_tuple()
            .one(txn)
            .await?;
        let row = objection::ActiveModel {
            recipient_id: Set(recipient_id),
            announcement_seq: Set(announcement.unwrap_or(0)),
            customer: Set(customer),
            contact: Set(contact),
            reason: Set(reason),
            status: Set(ObjectionStatus::Received),
            resolution: Set(None),
            resolved_by: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(txn)
        .await?;
        self.commit(write, None).await?;
        Ok(row)
    }

    /// Objections, newest first.
    pub async fn objections(&self, filter: &ObjectionFilter) -> Result<Vec<objection::Model>> {
        Ok(super::pages::objections_in_order(filter)
            .all(self.db())
            .await?)
    }

    /// Moves an objection on: under review, accommodated or rejected, with a note for the
    /// customer.
    pub async fn resolve_objection(
        &self,
        id: i32,
        status: ObjectionStatus,
        resolution: Option<&str>,
        actor: &Actor,
    ) -> Result<objection::Model> {
        let resolution = validate::text("resolution", resolution)?;
        let final_status = matches!(
            status,
            ObjectionStatus::Accommodated | ObjectionStatus::Rejected
        );
        if final_status && resolution.is_none() {
            return Err(RegistryError::invalid(
                "resolution",
                "explain the decision to the customer",
            ));
        }
        if status == ObjectionStatus::Received {
            return Err(RegistryError::invalid(
                "status",
                "an objection cannot go back to RECEIVED",
            ));
        }
        let write = self.write().await?;
        let txn = &write.txn;
        let existing = write.find::<objection::Entity>("Objection", id).await?;
        if matches!(
            existing.status,
            ObjectionStatus::Accommodated | ObjectionStatus::Rejected
        ) {
            return Err(RegistryError::Conflict(
                "the objection is already decided".into(),
            ));
        }
        let mut row: objection::ActiveModel = existing.into();
        row.status = Set(status);
        row.resolution = Set(resolution);
        row.resolved_by = Set(Some(actor.0.clone()));
        row.updated_at = Set(self.now());
        let row = row.update(txn).await?;
        self.commit(write, None).await?;
        Ok(row)
    }
}
