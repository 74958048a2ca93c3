//! The registry layer: every read the API serves and every write the registry accepts.
//!
//! It validates input, writes each change in one transaction together with its change-log event,
//! and is the only code that writes to the database. The GraphQL layer and the example-registry
//! loader call it; it knows nothing about either.

mod activities;
mod bulk;
mod changelog;
mod clock;
mod conn;
pub mod cursor;
mod derived;
mod entry_batch;
pub mod error;
mod flow_batch;
mod flow_query;
mod flows;
pub mod inputs;
mod invisible;
mod keys;
mod memo;
mod notice;
pub mod notices;
mod pages;
mod recipients;
pub mod rules;
pub mod snapshot;
mod taxonomy;
pub mod transfers;
pub mod validate;
pub mod visibility;

pub use changelog::{CHANNEL as CHANGE_CHANNEL, latest_seq};
pub use error::{RegistryError, Result};
pub use flow_batch::Refusals;
pub use flow_query::{FlowFilter, FlowPage, FlowSelection};
pub use keys::{KEY_PREFIX, NewApiKey, hash_secret};
pub use notice::ObjectionFilter;
pub use pages::{ActivityKey, FlowKey, Keyed, ObjectionKey, Page, RecipientKey};
pub use recipients::RecipientFilter;
pub use snapshot::{ActivitySnapshot, FlowSnapshot, RecipientSnapshot, Snapshot, TransferSnapshot};

use crate::reference::AdequacyTable;
use chrono::{DateTime, Utc};
pub use clock::{Clock, ManualClock, SystemClock};
use conn::Conn;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection, DatabaseTransaction,
    EntityTrait, QueryFilter, QueryOrder, Related,
};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use tokio::sync::{Mutex, OwnedMutexGuard, watch};

/// Who made a change, as recorded in the change log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor(pub String);

impl Actor {
    /// Changes made by Subreg itself (the example registry, scheduled activations).
    pub fn system() -> Self {
        Self("subreg".into())
    }
}

pub use crate::settings::RegistrySettings;

/// The registry over one database.
#[derive(Clone, Debug)]
pub struct Registry {
    conn: Conn,
    clock: Arc<dyn Clock>,
    settings: Arc<RegistrySettings>,
    /// The highest change-log sequence number known to be committed; subscribers wait on it.
    committed: Arc<watch::Sender<i64>>,
    /// SQLite admits one writer at a time; writers queue here instead of failing as "busy".
    writer: Arc<Mutex<()>>,
    /// Held by a batch for its whole life, so its savepoints take no other lock.
    in_batch: bool,
    /// Bumped whenever an API key may have been revoked; connections then check their key.
    revocations: Arc<watch::Sender<u64>>,
    /// The adequacy decisions the transfer rules read: the compiled-in table or an operator's.
    adequacy: Arc<AdequacyTable>,
    /// Where this process knows the registry to be (see [`Registry::generation`]).
    versions: Arc<Versions>,
    /// In a batch: the registry's version its writes have reached, known once it commits.
    batch_version: Option<Arc<AtomicI64>>,
    /// Flow counts by their statement, kept per generation (see [`memo`]).
    counts: Arc<memo::Memo<String, u64>>,
    /// API keys by the hash of their secret (none: unknown or revoked), kept per generation:
    /// creating or revoking a key is a write.
    keys: Arc<memo::Memo<String, Option<entity::api_key::Model>>>,
    /// Rows the API resolves by id, kept per generation (see [`memo::Lookups`]).
    lookups: Arc<memo::Lookups>,
}

/// What this process knows of the registry's version (the counter every write advances).
#[derive(Debug, Default)]
struct Versions {
    /// Moves each time the version is seen to move.
    generation: AtomicU64,
    /// The highest version seen committed.
    known: AtomicI64,
}

/// Writes that commit together or not at all: every write through [`Batch::registry`] joins
/// one database transaction, which [`Batch::commit`] commits. Dropped without a commit, it
/// rolls back.
pub struct Batch {
    registry: Registry,
    _writer: Option<OwnedMutexGuard<()>>,
}

impl Batch {
    /// The registry whose writes join this batch.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    pub async fn commit(self) -> Result<()> {
        let Batch { registry, _writer } = self;
        let Registry {
            conn,
            committed,
            versions,
            batch_version,
            ..
        } = registry;
        let Conn::Batch(txn) = conn else {
            return Ok(());
        };
        let txn = match Arc::try_unwrap(txn) {
            Ok(txn) => txn,
            Err(shared) => {
                // Another clone of the batch's registry still holds the transaction, which
                // rolls back when the last clone goes. Until then it is SQLite's one writer:
                // keep the writer's turn until it is gone.
                let still_open = Arc::downgrade(&shared);
                drop(shared);
                tokio::spawn(async move {
                    while still_open.strong_count() > 0 {
                        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    }
                    drop(_writer);
                });
                return Err(RegistryError::Conflict(
                    "the batch is still in use and cannot commit".into(),
                ));
            }
        };
        txn.commit().await?;
        drop(_writer);
        if let Some(version) = batch_version {
            versions.observe(version.load(Ordering::SeqCst));
        }
        // Wake subscribers; they read what is new from the log.
        committed.send_modify(|_| ());
        Ok(())
    }
}

/// An open write transaction and, on SQLite, the writer's turn.
pub(crate) struct Write {
    pub txn: DatabaseTransaction,
    _turn: Option<OwnedMutexGuard<()>>,
    /// The registry's version this write advanced it to.
    version: i64,
}

impl Versions {
    /// Records that the registry's version `version` is committed; the generation moves when
    /// that is news.
    fn observe(&self, version: i64) {
        if self.known.fetch_max(version, Ordering::SeqCst) < version {
            self.generation.fetch_add(1, Ordering::SeqCst);
        }
    }
}

impl Registry {
    pub fn new(db: DatabaseConnection) -> Self {
        Self::with(db, Arc::new(SystemClock), RegistrySettings::default())
    }

    pub fn with(db: DatabaseConnection, clock: Arc<dyn Clock>, settings: RegistrySettings) -> Self {
        let lookups = Arc::new(memo::Lookups::new(settings.kept_rows));
        Self {
            conn: Conn::Pool(db),
            clock,
            settings: Arc::new(settings),
            committed: Arc::new(watch::Sender::new(0)),
            writer: Arc::new(Mutex::new(())),
            in_batch: false,
            revocations: Arc::new(watch::Sender::new(0)),
            versions: Arc::new(Versions {
                generation: AtomicU64::new(0),
                known: AtomicI64::new(-1),
            }),
            batch_version: None,
            adequacy: AdequacyTable::builtin(),
            counts: Arc::new(memo::Memo::new(1024)),
            keys: Arc::new(memo::Memo::new(4096)),
            lookups,
        }
    }

    /// The registry's generation in this process: it moves on every write this process
    /// commits, at once, and on every write another process commits, when this one hears of it
    /// (a PostgreSQL notification, or the periodic check of the registry's version). An answer
    /// computed at one generation is valid until it moves.
    pub fn generation(&self) -> u64 {
        self.versions.generation.load(Ordering::SeqCst)
    }

    /// Records the registry's version as read from the database (another process's writes).
    pub fn observe_version(&self, version: i64) {
        self.versions.observe(version);
    }

    /// The same registry reading `adequacy` instead of the compiled-in decisions.
    pub fn with_adequacy(mut self, adequacy: Arc<AdequacyTable>) -> Self {
        self.adequacy = adequacy;
        self
    }

    /// The adequacy decisions the registry's transfer rules read.
    pub fn adequacy(&self) -> &Arc<AdequacyTable> {
        &self.adequacy
    }

    /// The cursor of the change-log event with sequence number `seq`.
    pub async fn change_cursor(&self, seq: i64) -> Result<String> {
        cursor::cursor_of_change(self.db(), seq).await
    }

    /// The registry's connection (the pool, or a batch's transaction), for readers such as
    /// the change feed.
    pub(crate) fn db(&self) -> &Conn {
        &self.conn
    }

    /// The same registry (its clock, caches, SQLite writer's turn and wake-ups) over another
    /// pool of connections to the same database: the notice dispatcher's, which runs on a
    /// runtime of its own, so that no connection is driven by the other runtime's reactor.
    pub fn over_pool(&self, pool: DatabaseConnection) -> Self {
        Self {
            conn: Conn::Pool(pool),
            ..self.clone()
        }
    }

    /// The connection pool, for read-only inspection (tools and tests); `None` inside a batch.
    pub fn pool(&self) -> Option<&DatabaseConnection> {
        match &self.conn {
            Conn::Pool(pool) => Some(pool),
            Conn::Batch(_) => None,
        }
    }

    /// The registry's current time.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    pub fn settings(&self) -> &RegistrySettings {
        &self.settings
    }

    /// Waits its turn as a writer and begins a transaction. Writers take turns on both backends:
    /// a change reads the registry before it writes (is the recipient on the public list? which
    /// flows go to it?), and under PostgreSQL's READ COMMITTED two concurrent changes would each
    /// decide on a state the other is changing. On PostgreSQL the turn is the change log's
    /// advisory lock, taken first and held to the commit, so it also orders the replicas.
    pub(crate) async fn write(&self) -> Result<Write> {
        let sqlite = self.conn.get_database_backend() == DatabaseBackend::Sqlite;
        let turn = if !self.in_batch && sqlite {
            Some(self.writer.clone().lock_owned().await)
        } else {
            None
        };
        let txn = self.conn.begin().await?;
        if !sqlite {
            changelog::take_turn(&txn).await?;
        }
        let version = advance_version(&txn).await?;
        Ok(Write {
            txn,
            _turn: turn,
            version,
        })
    }

    /// A write transaction that appends nothing to the change log: the writer's turn on
    /// SQLite, but not the log's lock on PostgreSQL.
    pub(crate) async fn write_outside_log(&self) -> Result<Write> {
        let turn = self.sqlite_turn().await;
        let txn = self.conn.begin().await?;
        // The registry's version stays: what these writes change (the notices' queue and
        // evidence) is never kept in answers (see graphql::CachePolicy).
        Ok(Write {
            txn,
            _turn: turn,
            version: -1,
        })
    }

    /// SQLite's writer's turn, for a write of one statement (none on PostgreSQL, or inside a
    /// batch that holds it).
    pub(crate) async fn sqlite_turn(&self) -> Option<OwnedMutexGuard<()>> {
        let sqlite = self.conn.get_database_backend() == DatabaseBackend::Sqlite;
        if !self.in_batch && sqlite {
            Some(self.writer.clone().lock_owned().await)
        } else {
            None
        }
    }

    /// Commits a write and, outside a batch, wakes subscribers to read the log from `seq`.
    pub(crate) async fn commit(&self, write: Write, seq: Option<i64>) -> Result<()> {
        write.txn.commit().await?;
        match &self.batch_version {
            None => self.versions.observe(write.version),
            // Committed with the batch, if it commits.
            Some(batch) => {
                batch.fetch_max(write.version, Ordering::SeqCst);
            }
        }
        if let (Some(seq), false) = (seq, self.in_batch) {
            self.notify_committed(seq);
        }
        Ok(())
    }

    /// Records that change-log events up to `seq` are committed, waking every subscriber.
    /// Also fed by other replicas' notifications.
    pub fn notify_committed(&self, seq: i64) {
        self.committed.send_if_modified(|known| {
            if seq > *known {
                *known = seq;
            }
            // Wake even when not higher: a wake-up only makes subscribers re-read the log.
            true
        });
    }

    /// A receiver that changes whenever new change-log events may have been committed.
    pub fn committed(&self) -> watch::Receiver<i64> {
        self.committed.subscribe()
    }

    /// Starts a batch of writes that commit together.
    pub async fn batch(&self) -> Result<Batch> {
        let turn = if self.conn.get_database_backend() == DatabaseBackend::Sqlite {
            Some(self.writer.clone().lock_owned().await)
        } else {
            None
        };
        let txn = self.conn.begin().await?;
        Ok(Batch {
            registry: Self {
                conn: Conn::Batch(Arc::new(txn)),
                in_batch: true,
                batch_version: Some(Arc::new(AtomicI64::new(-1))),
                ..self.clone()
            },
            _writer: turn,
        })
    }

    /// Whether the database answers (for readiness checks).
    pub async fn ping(&self) -> Result<()> {
        Ok(self.conn.ping().await?)
    }
}

/// Advances the registry's version within a write's transaction, so that other processes
/// sharing the database learn of the write (see [`Registry::generation`]); on PostgreSQL they
/// are also notified when it commits.
async fn advance_version(txn: &DatabaseTransaction) -> Result<i64> {
    let backend = txn.get_database_backend();
    let version = txn
        .query_one_raw(sea_orm::Statement::from_string(
            backend,
            "UPDATE registry_version SET version = version + 1 RETURNING version",
        ))
        .await?
        .map(|row| row.try_get::<i64>("", "version"))
        .transpose()?
        .unwrap_or(0);
    if backend == DatabaseBackend::Postgres {
        txn.execute_unprepared(&format!("NOTIFY {}, 'write'", changelog::CHANNEL))
            .await?;
    }
    Ok(version)
}

/// The registry's version: how many writes it has committed, by any process.
pub async fn version(conn: &impl ConnectionTrait) -> Result<i64> {
    Ok(entity::registry_version::Entity::find_by_id(1)
        .one(conn)
        .await?
        .map_or(0, |row| row.version))
}

/// Loads, for each owner id, the terms its link table points to, in one joined query.
pub(crate) async fn linked<L, T>(
    conn: &impl ConnectionTrait,
    owner_column: L::Column,
    ids: &[i32],
    owner_of: impl Fn(&L::Model) -> i32,
    order_by: T::Column,
) -> Result<HashMap<i32, Vec<T::Model>>>
where
    L: EntityTrait + Related<T>,
    T: EntityTrait,
{
    let mut out: HashMap<i32, Vec<T::Model>> = HashMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    let rows = L::find()
        .filter(owner_column.is_in(ids.iter().copied()))
        .find_also_related(T::default())
        .order_by_asc(order_by)
        .all(conn)
        .await?;
    for (link, term) in rows {
        if let Some(term) = term {
            out.entry(owner_of(&link)).or_default().push(term);
        }
    }
    Ok(out)
}
