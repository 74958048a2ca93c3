//! Deliveries: queued from a subscriber's cursor over the public log, leased to one dispatcher
//! at a time, and moved on only by the transaction that records an attempt.

use super::super::error::Result;
use super::super::{Registry, Write};
use chrono::{DateTime, Duration, Utc};
use entity::{
    AttemptOutcome, DeliveryStatus, NoticeChannel, NoticeKind, SubscriberStatus, notice_attempt,
    notice_delivery, notice_subscriber,
};
use sea_orm::sea_query::{Condition, Expr, LockBehavior, LockType, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, QueryFilter,
    QueryOrder, Set,
};

/// A delivery to queue: the event it tells of and its fixed id.
#[derive(Clone, Debug)]
pub struct NewDelivery {
    pub seq: i64,
    /// The Message-ID or `webhook-id` every attempt will carry.
    pub message_id: String,
}

/// What the dispatcher worked out for one subscriber: its cursor moves from `from` to `to`,
/// and these notices are queued.
#[derive(Clone, Debug)]
pub struct Plan {
    pub subscriber_id: i32,
    pub from: i64,
    pub to: i64,
    pub address: String,
    pub deliveries: Vec<NewDelivery>,
}

/// One attempt, as the dispatcher saw it.
#[derive(Clone, Debug)]
pub struct AttemptRecord {
    pub delivery: notice_delivery::Model,
    pub channel: NoticeChannel,
    pub attempted_at: DateTime<Utc>,
    pub outcome: AttemptOutcome,
    pub code: Option<i32>,
    pub reply: Option<String>,
    pub error: Option<String>,
    pub content_hash: String,
    pub transport: String,
    /// The endpoint's `Retry-After`, when it asked for one.
    pub retry_after: Option<std::time::Duration>,
    pub replica: String,
}

/// Where a delivery stands after an attempt (its `attempts`-th), and when the next one is due:
/// accepted; refused for good (an email bounced, a webhook endpoint gone); or retried after
/// the schedule's next delay (at least the receiver's `Retry-After`), with up to 10 % jitter,
/// until the schedule runs out and the delivery fails.
pub fn next_status(
    outcome: AttemptOutcome,
    channel: NoticeChannel,
    attempts: i32,
    at: DateTime<Utc>,
    schedule: &[u64],
    retry_after: Option<std::time::Duration>,
    jitter: f64,
) -> (DeliveryStatus, DateTime<Utc>) {
    match outcome {
        AttemptOutcome::Accepted => (DeliveryStatus::Accepted, at),
        AttemptOutcome::Refused if channel == NoticeChannel::Email => (DeliveryStatus::Bounced, at),
        AttemptOutcome::Refused => (DeliveryStatus::Failed, at),
        AttemptOutcome::Deferred => match schedule.get(attempts.max(1) as usize - 1) {
            None => (DeliveryStatus::Failed, at),
            Some(&secs) => {
                let delay = (secs as f64 * (1.0 + 0.1 * jitter.clamp(0.0, 1.0))) as u64;
                let delay = delay.max(retry_after.map_or(0, |r| r.as_secs()));
                (DeliveryStatus::Queued, at + Duration::seconds(delay as i64))
            }
        },
    }
}

impl Registry {
    /// A write transaction outside the change log: the writer's turn on SQLite, no log lock on
    /// PostgreSQL (notices never block editors, nor editors notices).
    pub(crate) async fn notice_write(&self) -> Result<Write> {
        self.write_outside_log().await
    }

    /// Active subscribers whose cursor is behind `head`, at most `limit`, by cursor.
    pub async fn subscribers_behind(
        &self,
        head: i64,
        limit: u64,
    ) -> Result<Vec<notice_subscriber::Model>> {
        use sea_orm::QuerySelect;
        Ok(notice_subscriber::Entity::find()
            .filter(notice_subscriber::Column::Status.eq(SubscriberStatus::Active))
            .filter(notice_subscriber::Column::Cursor.lt(head))
            .order_by_asc(notice_subscriber::Column::Cursor)
            .order_by_asc(notice_subscriber::Column::Id)
            .limit(limit)
            .all(self.db())
            .await?)
    }

    /// Queues the planned deliveries and moves each subscriber's cursor, in one transaction. A
    /// plan whose subscriber moved meanwhile (another replica planned it) is skipped whole.
    pub async fn queue_notices(&self, plans: &[Plan]) -> Result<usize> {
        let now = self.now();
        let write = self.notice_write().await?;
        let mut queued = 0;
        for plan in plans {
            let moved = notice_subscriber::Entity::update_many()
                .col_expr(notice_subscriber::Column::Cursor, Expr::value(plan.to))
                .filter(notice_subscriber::Column::Id.eq(plan.subscriber_id))
                .filter(notice_subscriber::Column::Cursor.eq(plan.from))
                .exec(&write.txn)
                .await?;
            if moved.rows_affected == 0 || plan.deliveries.is_empty() {
                continue;
            }
            let rows = plan
                .deliveries
                .iter()
                .map(|d| notice_delivery::ActiveModel {
                    subscriber_id: Set(plan.subscriber_id),
                    kind: Set(NoticeKind::Change),
                    seq: Set(Some(d.seq)),
                    message_id: Set(d.message_id.clone()),
                    address: Set(plan.address.clone()),
                    status: Set(DeliveryStatus::Queued),
                    attempts: Set(0),
                    queued_at: Set(now),
                    next_attempt_at: Set(now),
                    accepted_at: Set(None),
                    content_hash: Set(None),
                    transport: Set(None),
                    ..Default::default()
                });
            queued += plan.deliveries.len();
            notice_delivery::Entity::insert_many(rows)
                .exec(&write.txn)
                .await?;
        }
        self.commit(write, None).await?;
        Ok(queued)
    }

    /// Leases up to `limit` subscribers of `channel` with a delivery due to `replica` until
    /// `until` (each channel apart, so that a long email fan-out never holds webhooks back): their
    /// deliveries are this replica's to attempt. On PostgreSQL the rows are picked `FOR UPDATE
    /// SKIP LOCKED`, so replicas leasing at once take different subscribers; a lease that runs
    /// out (its replica died) is taken by the next one to look.
    pub async fn lease_subscribers(
        &self,
        replica: &str,
        channel: NoticeChannel,
        limit: u64,
        until: DateTime<Utc>,
    ) -> Result<Vec<i32>> {
        use notice_subscriber::Column as S;
        let now = self.now();
        let due = Query::select()
            .column(notice_delivery::Column::SubscriberId)
            .from(notice_delivery::Entity)
            .and_where(notice_delivery::Column::Status.eq(DeliveryStatus::Queued))
            .and_where(notice_delivery::Column::NextAttemptAt.lte(now))
            .to_owned();
        let mut pick = Query::select()
            .column(S::Id)
            .from(notice_subscriber::Entity)
            .cond_where(
                Condition::any()
                    .add(S::LeaseUntil.is_null())
                    .add(S::LeaseUntil.lt(now)),
            )
            .and_where(S::Channel.eq(channel))
            .and_where(S::Id.in_subquery(due))
            .order_by(S::Id, sea_orm::Order::Asc)
            .limit(limit)
            .to_owned();
        let backend = self.db().get_database_backend();
        if backend == DatabaseBackend::Postgres {
            pick.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
        }
        let lease = Query::update()
            .table(notice_subscriber::Entity)
            .value(S::LeaseUntil, until)
            .value(S::LeasedBy, replica)
            .and_where(S::Id.in_subquery(pick))
            .returning_col(S::Id)
            .to_owned();
        let _turn = self.sqlite_turn().await;
        let rows = self.db().query_all_raw(backend.build(&lease)).await?;
        Ok(rows
            .iter()
            .filter_map(|row| row.try_get::<i32>("", "id").ok())
            .collect())
    }

    /// The leased subscribers and, for each, its queued deliveries in order up to the first one
    /// not yet due (so that a subscriber's notices go in order): two queries for them all.
    pub async fn leased_work(
        &self,
        ids: &[i32],
    ) -> Result<Vec<(notice_subscriber::Model, Vec<notice_delivery::Model>)>> {
        let now = self.now();
        let subscribers = notice_subscriber::Entity::find()
            .filter(notice_subscriber::Column::Id.is_in(ids.iter().copied()))
            .all(self.db())
            .await?;
        let mut queued: std::collections::HashMap<i32, Vec<notice_delivery::Model>> =
            std::collections::HashMap::new();
        for delivery in notice_delivery::Entity::find()
            .filter(notice_delivery::Column::SubscriberId.is_in(ids.iter().copied()))
            .filter(notice_delivery::Column::Status.eq(DeliveryStatus::Queued))
            .order_by_asc(notice_delivery::Column::Id)
            .all(self.db())
            .await?
        {
            queued
                .entry(delivery.subscriber_id)
                .or_default()
                .push(delivery);
        }
        Ok(subscribers
            .into_iter()
            .map(|s| {
                let due = queued
                    .remove(&s.id)
                    .unwrap_or_default()
                    .into_iter()
                    .take_while(|d| d.next_attempt_at <= now)
                    .collect();
                (s, due)
            })
            .collect())
    }

    /// Records attempts, each moving its delivery on ([`next_status`]), cancels the deliveries
    /// of subscribers that left, and gives back the leases of `released`, in one transaction.
    /// A webhook endpoint whose delivery failed for good is disabled, and its owner is sent a
    /// notice of it.
    pub async fn record_attempts(
        &self,
        attempts: &[AttemptRecord],
        cancelled: &[i64],
        released: &[(i32, String)],
        schedule: &[u64],
    ) -> Result<()> {
        let write = self.notice_write().await?;
        // One statement for the attempts of the batch: a fan-out records thousands a second.
        if !attempts.is_empty() {
            notice_attempt::Entity::insert_many(attempts.iter().map(attempt_row))
                .exec(&write.txn)
                .await?;
        }
        for record in attempts {
            self.move_on(&write, record, schedule).await?;
        }
        if !cancelled.is_empty() {
            notice_delivery::Entity::update_many()
                .col_expr(
                    notice_delivery::Column::Status,
                    Expr::value(DeliveryStatus::Cancelled),
                )
                .filter(notice_delivery::Column::Id.is_in(cancelled.iter().copied()))
                .filter(notice_delivery::Column::Status.eq(DeliveryStatus::Queued))
                .exec(&write.txn)
                .await?;
        }
        let mut by_replica: std::collections::BTreeMap<&str, Vec<i32>> = Default::default();
        for (subscriber, replica) in released {
            by_replica.entry(replica).or_default().push(*subscriber);
        }
        for (replica, subscribers) in by_replica {
            notice_subscriber::Entity::update_many()
                .col_expr(
                    notice_subscriber::Column::LeaseUntil,
                    Expr::value(Option::<DateTime<Utc>>::None),
                )
                .filter(notice_subscriber::Column::Id.is_in(subscribers))
                .filter(notice_subscriber::Column::LeasedBy.eq(replica))
                .exec(&write.txn)
                .await?;
        }
        self.commit(write, None).await
    }

    /// Moves a delivery on after the attempt `record` (whose row is written apart): its status
    /// and next attempt, and for a webhook that failed for good, its endpoint disabled.
    async fn move_on(&self, write: &Write, record: &AttemptRecord, schedule: &[u64]) -> Result<()> {
        let attempts = record.delivery.attempts + 1;
        let (status, next) = next_status(
            record.outcome,
            record.channel,
            attempts,
            record.attempted_at,
            schedule,
            record.retry_after,
            jitter(),
        );
        let mut row: notice_delivery::ActiveModel = record.delivery.clone().into();
        row.attempts = Set(attempts);
        row.status = Set(status);
        row.next_attempt_at = Set(next);
        row.content_hash = Set(Some(record.content_hash.clone()));
        row.transport = Set(Some(record.transport.clone()));
        if status == DeliveryStatus::Accepted {
            row.accepted_at = Set(Some(record.attempted_at));
        }
        row.update(&write.txn).await?;
        let gone = record.channel == NoticeChannel::Webhook
            && record.delivery.kind == NoticeKind::Change
            && status == DeliveryStatus::Failed;
        if gone {
            let reason = match record.code {
                Some(410) => "the endpoint answered 410 Gone".to_owned(),
                _ => format!(
                    "every attempt to deliver {} failed",
                    record.delivery.message_id
                ),
            };
            self.disable_endpoint(write, record.delivery.subscriber_id, &reason)
                .await?;
        }
        Ok(())
    }

    /// Disables a webhook endpoint and queues a notice of it to its owner's contact address.
    async fn disable_endpoint(&self, write: &Write, id: i32, reason: &str) -> Result<()> {
        let Some(endpoint) = notice_subscriber::Entity::find_by_id(id)
            .one(&write.txn)
            .await?
            .filter(|s| s.status == SubscriberStatus::Active)
        else {
            return Ok(());
        };
        let now = self.now();
        let contact = endpoint.contact_email.clone();
        let mut row: notice_subscriber::ActiveModel = endpoint.into();
        row.status = Set(SubscriberStatus::Disabled);
        row.disabled_reason = Set(Some(reason.to_owned()));
        row.updated_at = Set(now);
        row.update(&write.txn).await?;
        if let Some(contact) = contact {
            let message_id = format!("endpoint-disabled.{id}.{}", now.timestamp());
            queued(
                id,
                NoticeKind::EndpointDisabled,
                None,
                message_id,
                contact,
                now,
            )
            .insert(&write.txn)
            .await?;
        }
        Ok(())
    }

    /// Records a notice sent at once rather than queued (a confirmation request, whose token
    /// is never stored): its delivery and its one attempt.
    pub async fn record_sent_notice(
        &self,
        subscriber_id: i32,
        kind: NoticeKind,
        address: &str,
        record: AttemptRecord,
    ) -> Result<()> {
        let write = self.notice_write().await?;
        let message_id = record.delivery.message_id.clone();
        let delivery = queued(
            subscriber_id,
            kind,
            None,
            message_id,
            address.into(),
            record.attempted_at,
        )
        .insert(&write.txn)
        .await?;
        let record = AttemptRecord { delivery, ..record };
        attempt_row(&record).insert(&write.txn).await?;
        // Not retried: the owner asks again.
        self.move_on(&write, &record, &[]).await?;
        self.commit(write, None).await
    }
}

/// A number in [0, 1) for the retry jitter.
fn jitter() -> f64 {
    match super::random_bytes::<4>() {
        Ok(bytes) => f64::from(u32::from_le_bytes(bytes)) / (f64::from(u32::MAX) + 1.0),
        Err(_) => 0.5,
    }
}

/// A delivery queued at `now`, due at once.
fn queued(
    subscriber_id: i32,
    kind: NoticeKind,
    seq: Option<i64>,
    message_id: String,
    address: String,
    now: DateTime<Utc>,
) -> notice_delivery::ActiveModel {
    notice_delivery::ActiveModel {
        subscriber_id: Set(subscriber_id),
        kind: Set(kind),
        seq: Set(seq),
        message_id: Set(message_id),
        address: Set(address),
        status: Set(DeliveryStatus::Queued),
        attempts: Set(0),
        queued_at: Set(now),
        next_attempt_at: Set(now),
        accepted_at: Set(None),
        content_hash: Set(None),
        transport: Set(None),
        ..Default::default()
    }
}

/// The register's row of an attempt.
fn attempt_row(record: &AttemptRecord) -> notice_attempt::ActiveModel {
    notice_attempt::ActiveModel {
        delivery_id: Set(record.delivery.id),
        attempted_at: Set(record.attempted_at),
        outcome: Set(record.outcome),
        code: Set(record.code),
        reply: Set(record.reply.clone()),
        error: Set(record.error.clone()),
        content_hash: Set(record.content_hash.clone()),
        replica: Set(record.replica.clone()),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_retries_then_fails_and_honours_retry_after() {
        let at = Utc::now();
        let schedule = [5, 300];
        let (status, next) = next_status(
            AttemptOutcome::Deferred,
            NoticeChannel::Webhook,
            1,
            at,
            &schedule,
            None,
            0.0,
        );
        assert_eq!(
            (status, next - at),
            (DeliveryStatus::Queued, Duration::seconds(5))
        );
        let (_, next) = next_status(
            AttemptOutcome::Deferred,
            NoticeChannel::Webhook,
            2,
            at,
            &schedule,
            None,
            1.0,
        );
        assert_eq!(next - at, Duration::seconds(330), "10 % jitter at most");
        let (_, next) = next_status(
            AttemptOutcome::Deferred,
            NoticeChannel::Webhook,
            1,
            at,
            &schedule,
            Some(std::time::Duration::from_secs(120)),
            0.0,
        );
        assert_eq!(next - at, Duration::seconds(120), "Retry-After");
        let (status, _) = next_status(
            AttemptOutcome::Deferred,
            NoticeChannel::Email,
            3,
            at,
            &schedule,
            None,
            0.0,
        );
        assert_eq!(status, DeliveryStatus::Failed);
        let bounced = next_status(
            AttemptOutcome::Refused,
            NoticeChannel::Email,
            1,
            at,
            &schedule,
            None,
            0.0,
        );
        assert_eq!(bounced.0, DeliveryStatus::Bounced);
    }
}
