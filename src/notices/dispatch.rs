//! The dispatcher, one per process: it queues notices from the log, leases subscribers with due
//! deliveries, sends each subscriber's notices in order (one at a time per subscriber, so a slow
//! endpoint delays only itself, and at most `--notice-concurrency` in all), and hands every
//! attempt to one recorder task, which writes them in batches. A lease is given back only in the
//! transaction that records its attempts, so another replica never resends what is recorded;
//! a replica that dies mid-send leaves its leases to run out, and the next one resends with the
//! same id.
//!
//! The dispatcher runs on a tokio runtime of its own, of one worker thread, with a database pool
//! of its own: a fan-out to thousands keeps that thread busy rendering, hashing and talking SMTP,
//! and must not take the threads that answer requests. Every message, the confirmations asked
//! for on the public pages included, is sent from that runtime, so that the kept SMTP
//! connections are always driven by its reactor.

use super::links::LinkKey;
use super::mail::{Email, Mailer, Sent};
use super::render::{EventNotice, Templates, webhook_payload};
use super::webhook::WebhookSender;
use crate::changes::log::read_after;
use crate::changes::{ChangeEvent, ChangeFilter};
use crate::registry::Registry;
use crate::registry::notices::AttemptRecord;
use crate::settings::NoticeSettings;
use entity::{NoticeChannel, NoticeKind, SubscriberStatus, notice_delivery, notice_subscriber};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinHandle;

/// What the dispatcher's tasks share.
pub struct Context {
    pub registry: Registry,
    pub settings: NoticeSettings,
    pub mailer: Mailer,
    pub webhooks: WebhookSender,
    pub templates: Templates,
    pub links: LinkKey,
    /// This process's name in leases and the register.
    pub replica: String,
    /// The host part of Message-IDs.
    pub domain: String,
    /// Senders at work, per channel.
    permits: [Semaphore; 2],
    events: Mutex<HashMap<i64, Arc<ChangeEvent>>>,
}

/// What the recorder is handed.
enum Record {
    Attempt(Box<AttemptRecord>),
    Done {
        subscriber: i32,
        cancelled: Vec<i64>,
    },
}

/// The running dispatcher; stopped when dropped.
pub struct Dispatcher {
    pub context: Arc<Context>,
    tasks: Vec<JoinHandle<()>>,
    handle: tokio::runtime::Handle,
    /// The dispatcher's own runtime (see the module's documentation); last, so that the tasks
    /// are aborted before it stops.
    _runtime: OwnRuntime,
}

impl Drop for Dispatcher {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// A runtime that may be dropped from async code (the server's state, or a failed start), which
/// may not block on the runtime's threads: they are told to stop and left to finish.
struct OwnRuntime(Option<tokio::runtime::Runtime>);

impl Drop for OwnRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

impl Dispatcher {
    /// Sends `email` at once (a confirmation request, which is not queued), on the
    /// dispatcher's runtime and its SMTP connections.
    pub async fn send_now(&self, email: Email) -> Sent {
        let context = self.context.clone();
        self.handle
            .spawn(async move {
                context
                    .mailer
                    .send(&context.settings.mail_from, &email)
                    .await
            })
            .await
            .unwrap_or_else(|err| Sent {
                outcome: entity::AttemptOutcome::Deferred,
                code: None,
                reply: None,
                error: Some(format!("the notice dispatcher stopped: {err}")),
                transport: self.context.mailer.name(),
            })
    }
}

impl Context {
    pub async fn new(registry: Registry, settings: NoticeSettings) -> anyhow::Result<Self> {
        let domain = url::Url::parse(&settings.public_url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_else(|| "subreg.localhost".into());
        Ok(Self {
            mailer: Mailer::new(
                &settings.smtp_url,
                &settings.smtp_ca_file,
                &settings.mail_dir,
                settings.dispatch_concurrency,
            )?,
            webhooks: WebhookSender::new(settings.webhook_timeout, settings.webhook_allow_private)?,
            templates: Templates::new(&settings.templates_dir),
            links: LinkKey::load(&registry).await?,
            replica: format!(
                "{}:{}",
                hostname().unwrap_or_else(|| "subreg".into()),
                std::process::id()
            ),
            domain,
            permits: [
                Semaphore::new(settings.dispatch_concurrency),
                Semaphore::new(settings.dispatch_concurrency),
            ],
            events: Mutex::new(HashMap::new()),
            registry,
            settings,
        })
    }

    /// The public event with sequence number `seq`, read once.
    async fn event(&self, seq: i64) -> crate::registry::Result<Option<Arc<ChangeEvent>>> {
        if let Some(event) = self
            .events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&seq)
        {
            return Ok(Some(event.clone()));
        }
        let filter = ChangeFilter {
            public_only: true,
            ..ChangeFilter::default()
        };
        let read = read_after(self.registry.db(), seq - 1, 1, &filter).await?;
        let Some(event) = read.into_iter().next().filter(|e| e.seq == seq) else {
            return Ok(None);
        };
        let event = Arc::new(event);
        let mut cache = self.events.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() > 256 {
            cache.clear();
        }
        cache.insert(seq, event.clone());
        Ok(Some(event))
    }

    /// The email telling `subscriber` of `event`.
    pub fn notice_email(
        &self,
        subscriber: &notice_subscriber::Model,
        event: &ChangeEvent,
        message_id: &str,
    ) -> anyhow::Result<Email> {
        let notice = EventNotice::of(event);
        let public = &self.settings.public_url;
        let unsubscribe = self.links.unsubscribe_url(public, subscriber.id);
        let objection = notice
            .recipient_key
            .as_ref()
            .filter(|_| notice.objection_deadline.is_some())
            .map(|key| format!("{public}/subprocessors#object-{key}"));
        let body = self.templates.render(
            "notice.txt",
            json!({
                "notice": notice,
                "page_url": format!("{public}/subprocessors"),
                "objection_url": objection,
                "unsubscribe_url": unsubscribe,
                "customer": subscriber.customer,
            }),
        )?;
        Ok(Email {
            to: subscriber.address.clone(),
            subject: notice.headline.clone(),
            body,
            message_id: message_id.to_owned(),
            unsubscribe_url: Some(unsubscribe),
        })
    }

    /// Sends one delivery: what came of it and the hash of what was sent.
    async fn send(
        &self,
        subscriber: &notice_subscriber::Model,
        delivery: &notice_delivery::Model,
    ) -> (Sent, String, Option<Duration>) {
        match self.prepare(subscriber, delivery).await {
            Ok(Prepared::Email(email)) => {
                let hash = content_hash(email.content().as_bytes());
                let sent = self.mailer.send(&self.settings.mail_from, &email).await;
                (sent, hash, None)
            }
            Ok(Prepared::Webhook(body)) => {
                let hash = content_hash(&body);
                let (sent, wait) = self
                    .webhooks
                    .send(
                        &delivery.address,
                        &subscriber.secrets.0,
                        &delivery.message_id,
                        &body,
                    )
                    .await;
                (sent, hash, wait)
            }
            Err(err) => {
                let sent = Sent {
                    outcome: entity::AttemptOutcome::Deferred,
                    code: None,
                    reply: None,
                    error: Some(format!("the notice cannot be prepared: {err}")),
                    transport: "none",
                };
                (sent, String::new(), None)
            }
        }
    }

    async fn prepare(
        &self,
        subscriber: &notice_subscriber::Model,
        delivery: &notice_delivery::Model,
    ) -> anyhow::Result<Prepared> {
        if delivery.kind == NoticeKind::EndpointDisabled {
            let body = self.templates.render(
                "endpoint_disabled.txt",
                json!({ "endpoint": subscriber.address, "customer": subscriber.customer,
                        "reason": subscriber.disabled_reason }),
            )?;
            return Ok(Prepared::Email(Email {
                to: delivery.address.clone(),
                subject: "Your subprocessor webhook endpoint was disabled".into(),
                body,
                message_id: format!("{}@{}", delivery.message_id, self.domain),
                unsubscribe_url: None,
            }));
        }
        let seq = delivery.seq.unwrap_or_default();
        let event = self
            .event(seq)
            .await?
            .ok_or_else(|| anyhow::anyhow!("event {seq} is not on the public feed"))?;
        Ok(match subscriber.channel {
            NoticeChannel::Email => {
                Prepared::Email(self.notice_email(subscriber, &event, &delivery.message_id)?)
            }
            NoticeChannel::Webhook => {
                let payload = webhook_payload(&event, |t, id| {
                    crate::graphql::relay::global_id(t, id).to_string()
                });
                Prepared::Webhook(serde_json::to_vec(&payload)?)
            }
        })
    }
}

enum Prepared {
    Email(Email),
    Webhook(Vec<u8>),
}

/// SHA-256, hex: the notice's content hash in the register.
pub fn content_hash(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn hostname() -> Option<String> {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
}

/// Lowers the calling thread's priority by `niceness` (see
/// [`NoticeSettings::dispatch_niceness`]): on Linux the nice value belongs to the thread, and
/// the threads it starts inherit it (the dispatcher's SQLite connections). At 10, a thread that
/// serves requests gets about nine times the CPU of a dispatcher's thread when both want the
/// same core, and preempts it when a request arrives. Where that is refused, the thread runs
/// at the process's priority.
fn yield_to_requests(niceness: u8) {
    #[cfg(target_os = "linux")]
    {
        use rustix::process::{getpriority_process, setpriority_process};
        let lowered = getpriority_process(None)
            .and_then(|nice| setpriority_process(None, (nice + i32::from(niceness)).min(19)));
        if let Err(err) = lowered {
            tracing::debug!(error = %err, "the notice dispatcher runs at the process's priority");
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = niceness;
}

/// Connections of the dispatcher's own database pool: the loop, the recorder, and the first
/// read of an event by the senders that need it, each one statement at a time.
const DATABASE_CONNECTIONS: u32 = 4;

/// Starts the dispatcher of this process on a runtime of its own (one worker thread), over a
/// database pool of its own; statements counted in `metrics`.
pub async fn start(
    registry: Registry,
    settings: NoticeSettings,
    metrics: Option<crate::metrics::Metrics>,
) -> anyhow::Result<Dispatcher> {
    let pool = match registry.pool() {
        Some(pool) => crate::db::pool_beside(pool, DATABASE_CONNECTIONS, metrics)?,
        None => anyhow::bail!("the dispatcher cannot run inside a batch"),
    };
    let registry = registry.over_pool(pool);
    let niceness = settings.dispatch_niceness;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("subreg-notices")
        .on_thread_start(move || yield_to_requests(niceness))
        .enable_all()
        .build()?;
    let handle = runtime.handle().clone();
    let runtime = OwnRuntime(Some(runtime));
    let context = handle
        .spawn(async move { Context::new(registry, settings).await })
        .await??;
    let context = Arc::new(context);
    let (records, received) = mpsc::unbounded_channel();
    let recorder = handle.spawn(record(context.clone(), received));
    let dispatcher = handle.spawn(dispatch(context.clone(), records));
    Ok(Dispatcher {
        context,
        tasks: vec![recorder, dispatcher],
        handle,
        _runtime: runtime,
    })
}

/// Queues, leases and sends, on each commit and every `dispatch_interval`.
async fn dispatch(context: Arc<Context>, records: mpsc::UnboundedSender<Record>) {
    let mut committed = context.registry.committed();
    let in_flight: [Arc<Mutex<HashSet<i32>>>; 2] = Default::default();
    loop {
        if let Err(err) = super::plan::plan(&context.registry, &context.domain).await {
            tracing::warn!(error = %err, "cannot queue notices; retrying");
        }
        let mut more = false;
        for (lane, channel) in [NoticeChannel::Email, NoticeChannel::Webhook]
            .into_iter()
            .enumerate()
        {
            more |= lease_and_send(&context, channel, lane, &records, &in_flight[lane]).await;
        }
        if more {
            tokio::task::yield_now().await;
            continue;
        }
        committed.borrow_and_update();
        context.mailer.close_idle().await;
        tokio::select! {
            _ = committed.changed() => {}
            () = tokio::time::sleep(context.settings.dispatch_interval) => {}
        }
    }
}

/// Leases subscribers of `channel` with due notices and starts sending to each: whether the
/// lease was full (more may be due).
async fn lease_and_send(
    context: &Arc<Context>,
    channel: NoticeChannel,
    lane: usize,
    records: &mpsc::UnboundedSender<Record>,
    in_flight: &Arc<Mutex<HashSet<i32>>>,
) -> bool {
    // Subscribers leased at a time: enough to keep every sender busy, few enough that other
    // replicas get their share; and no more than the senders can start on now, so that leases
    // do not run out while they wait.
    let batch = (context.settings.dispatch_concurrency as u64 * 2).max(16);
    let busy = in_flight.lock().unwrap_or_else(|e| e.into_inner()).len() as u64;
    let room = batch.saturating_sub(busy);
    if room == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
        return true;
    }
    let until = context.registry.now()
        + chrono::Duration::from_std(context.settings.lease)
            .unwrap_or(chrono::Duration::seconds(60));
    let leased = match context
        .registry
        .lease_subscribers(&context.replica, channel, room, until)
        .await
    {
        Ok(leased) => leased,
        Err(err) => {
            tracing::warn!(error = %err, "cannot lease deliveries; retrying");
            return false;
        }
    };
    if leased.is_empty() {
        return false;
    }
    let work = match context.registry.leased_work(&leased).await {
        Ok(work) => work,
        Err(err) => {
            // The leases run out and the work is taken again.
            tracing::warn!(error = %err, "cannot read leased deliveries; retrying");
            return false;
        }
    };
    for (subscriber, deliveries) in work {
        in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(subscriber.id);
        tokio::spawn(serve(
            context.clone(),
            lane,
            subscriber,
            deliveries,
            records.clone(),
            in_flight.clone(),
        ));
    }
    leased.len() as u64 == room
}

/// Sends a leased subscriber's due notices in order, stopping at the first that is not accepted
/// (its retry comes first), then hands the lease back through the recorder.
async fn serve(
    context: Arc<Context>,
    lane: usize,
    subscriber: notice_subscriber::Model,
    deliveries: Vec<notice_delivery::Model>,
    records: mpsc::UnboundedSender<Record>,
    in_flight: Arc<Mutex<HashSet<i32>>>,
) {
    let started = Instant::now();
    let id = subscriber.id;
    let mut cancelled = Vec::new();
    for delivery in deliveries {
        if started.elapsed() > context.settings.lease / 2 {
            break;
        }
        let left = subscriber.status != SubscriberStatus::Active;
        if left && delivery.kind == NoticeKind::Change {
            cancelled.push(delivery.id);
            continue;
        }
        let Ok(_permit) = context.permits[lane].acquire().await else {
            break;
        };
        let attempted_at = context.registry.now();
        let (sent, hash, retry_after) = context.send(&subscriber, &delivery).await;
        let accepted = sent.outcome == entity::AttemptOutcome::Accepted;
        let channel = match delivery.kind {
            NoticeKind::Change => subscriber.channel,
            _ => NoticeChannel::Email,
        };
        let record = AttemptRecord {
            delivery,
            channel,
            attempted_at,
            outcome: sent.outcome,
            code: sent.code,
            reply: sent.reply,
            error: sent.error,
            content_hash: hash,
            transport: sent.transport.to_owned(),
            retry_after,
            replica: context.replica.clone(),
        };
        let _ = records.send(Record::Attempt(Box::new(record)));
        if !accepted {
            break;
        }
    }
    let _ = records.send(Record::Done {
        subscriber: id,
        cancelled,
    });
    in_flight
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&id);
}

/// Writes what the senders report, in batches, retrying while the database is away: an attempt
/// is never dropped unrecorded.
async fn record(context: Arc<Context>, mut received: mpsc::UnboundedReceiver<Record>) {
    const BATCH: usize = 500;
    while let Some(first) = received.recv().await {
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match received.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let mut attempts = Vec::new();
        let mut cancelled = Vec::new();
        let mut released = Vec::new();
        for item in batch {
            match item {
                Record::Attempt(record) => attempts.push(*record),
                Record::Done {
                    subscriber,
                    cancelled: ids,
                } => {
                    cancelled.extend(ids);
                    released.push((subscriber, context.replica.clone()));
                }
            }
        }
        let mut backoff = Duration::from_millis(100);
        while let Err(err) = context
            .registry
            .record_attempts(
                &attempts,
                &cancelled,
                &released,
                &context.settings.retry_schedule_secs,
            )
            .await
        {
            tracing::warn!(error = %err, "cannot record notice attempts; retrying");
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }
}
