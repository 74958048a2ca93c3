//! Wake-ups across replicas. Writers on PostgreSQL `NOTIFY` the new sequence number when they
//! commit; every replica `LISTEN`s and wakes its subscribers, which then read the log. A lost
//! listening connection is re-established and followed by a catch-up read, and a slow periodic
//! check of the log's head covers anything a notification could miss (and serves several
//! processes sharing one SQLite file).

use super::log::latest_seq;
use crate::registry::Registry;
use sea_orm::sqlx::postgres::PgListener;
use std::time::Duration;
use tokio::task::JoinHandle;

/// Listens for other replicas' commits on PostgreSQL at `database_url`.
pub fn spawn_listener(registry: Registry, database_url: String) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut backoff = Duration::from_millis(200);
        loop {
            match listen(&registry, &database_url).await {
                Ok(()) => backoff = Duration::from_millis(200),
                Err(err) => {
                    tracing::warn!(error = %err, "change notifications unavailable; reconnecting");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                }
            }
        }
    })
}

/// One listening session: returns when the connection is lost (after catching up).
async fn listen(registry: &Registry, database_url: &str) -> Result<(), sea_orm::sqlx::Error> {
    let mut listener = PgListener::connect(database_url).await?;
    listener.listen(crate::registry::CHANGE_CHANNEL).await?;
    catch_up(registry).await;
    tracing::info!("listening for change notifications");
    loop {
        match listener.try_recv().await? {
            // A write committed somewhere: what changed is read from the database.
            Some(_) => catch_up(registry).await,
            None => {
                tracing::warn!("the listening connection was lost; catching up");
                catch_up(registry).await;
                return Ok(());
            }
        }
    }
}

/// Reads where the registry stands (its version and the change log's head) and tells this
/// process: its generation moves if another process wrote, and subscribers wake to read what
/// is new in the log.
async fn catch_up(registry: &Registry) {
    match crate::registry::version(registry.db()).await {
        Ok(version) => registry.observe_version(version),
        Err(err) => tracing::warn!(error = %err, "cannot read the registry's version"),
    }
    match latest_seq(registry.db()).await {
        Ok(seq) => registry.notify_committed(seq),
        Err(err) => tracing::warn!(error = %err, "cannot read the change log's head"),
    }
}

/// Checks the registry's version every `interval` and, when another process wrote (a change
/// to the log, or a write outside it such as the taxonomy's), wakes subscribers and moves the
/// registry's generation.
pub fn spawn_poller(registry: Registry, interval: Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut known = None;
        let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
        loop {
            ticker.tick().await;
            match crate::registry::version(registry.db()).await {
                Ok(version) if known != Some(version) => {
                    // The first reading also catches up on whatever was written between this
                    // process's start and now.
                    known = Some(version);
                    catch_up(&registry).await;
                }
                Ok(_) => {}
                Err(err) => tracing::debug!(error = %err, "cannot read the registry's version"),
            }
        }
    })
}
