//! The notice register: every notice to every subscriber, with each attempt. Editors read it
//! per change and per customer, and export it ("prove that customer X was told about Y before
//! Z").

use super::super::error::Result;
use super::super::pages::Page;
use super::super::{Keyed, Registry};
use entity::{
    ChangeKind, DeliveryStatus, NoticeKind, change_event, notice_attempt, notice_delivery,
    notice_subscriber,
};
use sea_orm::sea_query::Query;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Which deliveries to list; every one when empty.
#[derive(Clone, Debug, Default)]
pub struct RegisterFilter {
    /// Only notices of this change-log event.
    pub seq: Option<i64>,
    /// Only notices to this customer's addresses and endpoints.
    pub customer: Option<String>,
    /// Only notices to this subscriber.
    pub subscriber_id: Option<i32>,
    /// Only notices to the endpoints this SUBSCRIBER key registered.
    pub owner_key_id: Option<i32>,
}

/// A delivery with its subscriber and attempts, oldest attempt first.
#[derive(Clone, Debug)]
pub struct RegisterEntry {
    /// The cursor of the change the notice tells of, as its subscriber received it (the
    /// `webhook-id` of a webhook).
    pub change_cursor: Option<String>,
    pub delivery: notice_delivery::Model,
    pub subscriber: notice_subscriber::Model,
    pub attempts: Vec<notice_attempt::Model>,
}

/// A position in the register: after the delivery with this id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryKey(pub i64);

impl Keyed for RegisterEntry {
    type Key = DeliveryKey;
    fn key(&self) -> DeliveryKey {
        DeliveryKey(self.delivery.id)
    }
}

impl RegisterFilter {
    fn apply(&self, after: i64) -> sea_orm::Select<notice_delivery::Entity> {
        let mut query = notice_delivery::Entity::find()
            .filter(notice_delivery::Column::Id.gt(after))
            .order_by_asc(notice_delivery::Column::Id);
        if let Some(seq) = self.seq {
            query = query.filter(notice_delivery::Column::Seq.eq(seq));
        }
        if let Some(id) = self.subscriber_id {
            query = query.filter(notice_delivery::Column::SubscriberId.eq(id));
        }
        let mut subscribers = Query::select()
            .column(notice_subscriber::Column::Id)
            .from(notice_subscriber::Entity)
            .to_owned();
        if let Some(customer) = &self.customer {
            subscribers.and_where(notice_subscriber::Column::Customer.eq(customer.as_str()));
        }
        if let Some(owner) = self.owner_key_id {
            subscribers.and_where(notice_subscriber::Column::OwnerKeyId.eq(owner));
        }
        if self.customer.is_some() || self.owner_key_id.is_some() {
            query = query.filter(notice_delivery::Column::SubscriberId.in_subquery(subscribers));
        }
        query
    }
}

impl Registry {
    /// A page of the register after `after`, in the order deliveries were queued.
    pub async fn notice_register(
        &self,
        filter: &RegisterFilter,
        after: Option<DeliveryKey>,
        first: u64,
    ) -> Result<Page<RegisterEntry>> {
        let deliveries = filter
            .apply(after.map_or(0, |k| k.0))
            .limit(Page::<RegisterEntry>::limit(first))
            .all(self.db())
            .await?;
        let entries = self.register_entries(deliveries).await?;
        Ok(Page::from_rows(entries, first))
    }

    /// How many deliveries the filter selects.
    pub async fn count_notices(&self, filter: &RegisterFilter) -> Result<u64> {
        use sea_orm::PaginatorTrait;
        Ok(filter.apply(0).count(self.db()).await?)
    }

    /// The deliveries with their subscribers and attempts, in two more queries.
    async fn register_entries(
        &self,
        deliveries: Vec<notice_delivery::Model>,
    ) -> Result<Vec<RegisterEntry>> {
        let ids: Vec<i64> = deliveries.iter().map(|d| d.id).collect();
        let subscriber_ids: Vec<i32> = deliveries.iter().map(|d| d.subscriber_id).collect();
        let mut attempts: HashMap<i64, Vec<notice_attempt::Model>> = HashMap::new();
        for attempt in notice_attempt::Entity::find()
            .filter(notice_attempt::Column::DeliveryId.is_in(ids))
            .order_by_asc(notice_attempt::Column::Id)
            .all(self.db())
            .await?
        {
            attempts
                .entry(attempt.delivery_id)
                .or_default()
                .push(attempt);
        }
        let subscribers: HashMap<i32, notice_subscriber::Model> = notice_subscriber::Entity::find()
            .filter(notice_subscriber::Column::Id.is_in(subscriber_ids))
            .all(self.db())
            .await?
            .into_iter()
            .map(|s| (s.id, s))
            .collect();
        let seqs: Vec<i64> = deliveries.iter().filter_map(|d| d.seq).collect();
        let public: HashMap<i64, Option<i64>> = entity::change_event::Entity::find()
            .select_only()
            .column(entity::change_event::Column::Seq)
            .column(entity::change_event::Column::PublicSeq)
            .filter(entity::change_event::Column::Seq.is_in(seqs))
            .into_tuple::<(i64, Option<i64>)>()
            .all(self.db())
            .await?
            .into_iter()
            .collect();
        Ok(deliveries
            .into_iter()
            .filter_map(|delivery| {
                let subscriber = subscribers.get(&delivery.subscriber_id)?.clone();
                let attempts = attempts.remove(&delivery.id).unwrap_or_default();
                let change_cursor = delivery.seq.map(|seq| {
                    super::super::cursor::change_cursor(seq, public.get(&seq).copied().flatten())
                });
                Some(RegisterEntry {
                    change_cursor,
                    delivery,
                    subscriber,
                    attempts,
                })
            })
            .collect())
    }

    /// The whole register under `filter`, for an export.
    pub async fn notice_register_all(&self, filter: &RegisterFilter) -> Result<Vec<RegisterEntry>> {
        let deliveries = filter.apply(0).all(self.db()).await?;
        self.register_entries(deliveries).await
    }

    /// Announcements whose notices are not all accepted: (the announcement's sequence number,
    /// its recipient, how many notices are not accepted). Cancelled notices (the subscriber
    /// left) do not count.
    pub async fn unaccepted_announcements(&self) -> Result<Vec<(i64, Option<i32>, u64)>> {
        let announcements = Query::select()
            .column(change_event::Column::Seq)
            .from(change_event::Entity)
            .and_where(change_event::Column::Kind.eq(ChangeKind::RecipientAnnounced))
            .to_owned();
        let open: Vec<Option<i64>> = notice_delivery::Entity::find()
            .select_only()
            .column(notice_delivery::Column::Seq)
            .filter(notice_delivery::Column::Kind.eq(NoticeKind::Change))
            .filter(notice_delivery::Column::Status.is_in([
                DeliveryStatus::Queued,
                DeliveryStatus::Bounced,
                DeliveryStatus::Failed,
            ]))
            .filter(notice_delivery::Column::Seq.in_subquery(announcements))
            .into_tuple()
            .all(self.db())
            .await?;
        let mut counts: std::collections::BTreeMap<i64, u64> = Default::default();
        for seq in open.into_iter().flatten() {
            *counts.entry(seq).or_default() += 1;
        }
        let recipients: HashMap<i64, Option<i32>> = change_event::Entity::find()
            .select_only()
            .column(change_event::Column::Seq)
            .column(change_event::Column::RecipientId)
            .filter(change_event::Column::Seq.is_in(counts.keys().copied()))
            .into_tuple::<(i64, Option<i32>)>()
            .all(self.db())
            .await?
            .into_iter()
            .collect();
        Ok(counts
            .into_iter()
            .map(|(seq, n)| (seq, recipients.get(&seq).copied().flatten(), n))
            .collect())
    }
}
