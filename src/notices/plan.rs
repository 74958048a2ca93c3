//! Queuing notices from the public log: each active subscriber's cursor is moved over the public
//! events after it, and a delivery is queued for each event it asked for, in one transaction
//! ([`Registry::queue_notices`]).

use crate::changes::log::read_after;
use crate::changes::{ChangeEvent, ChangeFilter};
use crate::registry::notices::{NewDelivery, Plan};
use crate::registry::{Registry, Result, latest_seq};
use entity::{ChangeKind, NoticeChannel, NoticeScope, notice_subscriber};

/// Subscribers planned per transaction.
const SUBSCRIBERS: u64 = 1000;
/// Public events read at a time.
const EVENTS: u64 = 500;

/// The events a subscriber asked for: public ones, announcements only or every change, of its
/// products.
pub fn filter_of(subscriber: &notice_subscriber::Model) -> ChangeFilter {
    ChangeFilter {
        kinds: match subscriber.scope {
            NoticeScope::Announcements => vec![ChangeKind::RecipientAnnounced],
            NoticeScope::AllPublicChanges => Vec::new(),
        },
        recipient_kinds: Vec::new(),
        products: subscriber.products.0.clone(),
        public_only: true,
    }
}

/// The id every attempt of a notice of `event` to `subscriber` carries: the event's cursor
/// for a webhook (`webhook-id`, the receiver's idempotency key), and for an email a Message-ID
/// made of the cursor and the subscriber.
pub fn message_id(
    subscriber: &notice_subscriber::Model,
    event: &ChangeEvent,
    domain: &str,
) -> String {
    match subscriber.channel {
        NoticeChannel::Webhook => event.cursor(),
        NoticeChannel::Email => format!("{}.{}@{domain}", event.cursor(), subscriber.id),
    }
}

/// Queues every notice the active subscribers are behind on; returns how many were queued.
pub async fn plan(registry: &Registry, domain: &str) -> Result<usize> {
    let head = latest_seq(registry.db()).await?;
    let mut queued = 0;
    // Bounded: subscribers another replica is planning at the same time come back each round.
    for _ in 0..1000 {
        let behind = registry.subscribers_behind(head, SUBSCRIBERS).await?;
        let Some(from) = behind.iter().map(|s| s.cursor).min() else {
            break;
        };
        let filter = ChangeFilter {
            public_only: true,
            ..ChangeFilter::default()
        };
        let events = read_after(registry.db(), from, EVENTS, &filter).await?;
        let to = match events.last() {
            Some(last) if events.len() as u64 == EVENTS => last.seq,
            Some(last) => last.seq.max(head),
            None => head,
        };
        let plans: Vec<Plan> = behind
            .iter()
            .map(|subscriber| {
                let wants = filter_of(subscriber);
                Plan {
                    subscriber_id: subscriber.id,
                    from: subscriber.cursor,
                    to: to.max(subscriber.cursor),
                    address: subscriber.address.clone(),
                    deliveries: events
                        .iter()
                        .filter(|e| e.seq > subscriber.cursor && wants.matches(e))
                        .map(|e| NewDelivery {
                            seq: e.seq,
                            message_id: message_id(subscriber, e, domain),
                        })
                        .collect(),
                }
            })
            .collect();
        queued += registry.queue_notices(&plans).await?;
    }
    Ok(queued)
}
