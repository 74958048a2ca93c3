//! The tail of the change log, kept in memory by one reader per process so that a commit wakes
//! thousands of subscribers without thousands of queries.
//!
//! The window holds every feed event with a sequence number in `(floor, head]`, read from the
//! log in order, so a subscriber whose position is inside it takes its events from memory and one
//! that fell behind reads the log itself. Either way it sees exactly the log.

use super::log::{ChangeEvent, ChangeFilter, latest_seq, read_after};
use crate::registry::{Registry, Result};
use std::collections::VecDeque;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Events kept in memory; older ones are read from the log.
const WINDOW: usize = 1024;
/// Events read from the log at a time.
const PAGE: u64 = 500;

#[derive(Default)]
struct Window {
    /// Every feed event after `floor` up to `head` is in `events`.
    floor: i64,
    head: i64,
    events: VecDeque<Arc<ChangeEvent>>,
}

/// What a subscriber at some position gets from the window.
pub enum FromWindow {
    /// Its position is inside the window: the matching events after it, and the position the
    /// window was read up to.
    Events(Vec<Arc<ChangeEvent>>, i64),
    /// Its position is older than the window: read the log.
    Behind { floor: i64 },
}

/// The in-memory tail of the log, and the task that follows it.
pub struct Tail {
    window: RwLock<Window>,
    head: watch::Sender<i64>,
    closed: std::sync::atomic::AtomicBool,
}

impl Tail {
    /// Starts following the log from its current head.
    pub async fn start(registry: Registry) -> Result<(Arc<Self>, JoinHandle<()>)> {
        let head = latest_seq(registry.db()).await?;
        let tail = Arc::new(Self {
            window: RwLock::new(Window {
                floor: head,
                head,
                events: VecDeque::new(),
            }),
            head: watch::Sender::new(head),
            closed: std::sync::atomic::AtomicBool::new(false),
        });
        let follower = tail.clone();
        let task = tokio::spawn(async move { follower.follow(registry).await });
        Ok((tail, task))
    }

    async fn follow(self: Arc<Self>, registry: Registry) {
        let mut committed = registry.committed();
        let mut backoff = Duration::from_millis(100);
        loop {
            committed.borrow_and_update();
            match self.read_new(&registry).await {
                Ok(()) => backoff = Duration::from_millis(100),
                Err(err) => {
                    tracing::warn!(error = %err, "cannot read the change log; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    continue;
                }
            }
            if committed.changed().await.is_err() {
                return;
            }
        }
    }

    /// Reads every feed event after the window's head into it.
    async fn read_new(&self, registry: &Registry) -> Result<()> {
        loop {
            let head = self.read_window().head;
            let events = read_after(registry.db(), head, PAGE, &ChangeFilter::default()).await?;
            let Some(last) = events.last().map(|e| e.seq) else {
                return Ok(());
            };
            let full = events.len() as u64 == PAGE;
            {
                let mut window = self.window.write().unwrap_or_else(|e| e.into_inner());
                window.events.extend(events.into_iter().map(Arc::new));
                window.head = last;
                while window.events.len() > WINDOW {
                    if let Some(oldest) = window.events.pop_front() {
                        window.floor = oldest.seq;
                    }
                }
            }
            self.head.send_replace(last);
            if !full {
                return Ok(());
            }
        }
    }

    fn read_window(&self) -> std::sync::RwLockReadGuard<'_, Window> {
        self.window.read().unwrap_or_else(|e| e.into_inner())
    }

    /// The matching events after `position`, from memory when the window covers it.
    pub fn after(&self, position: i64, filter: &ChangeFilter) -> FromWindow {
        let window = self.read_window();
        if position < window.floor {
            return FromWindow::Behind {
                floor: window.floor,
            };
        }
        let start = window.events.partition_point(|e| e.seq <= position);
        let events = window
            .events
            .range(start..)
            .filter(|e| filter.matches(e))
            .cloned()
            .collect();
        FromWindow::Events(events, window.head.max(position))
    }

    /// Stops every stream that follows this tail (the server is shutting down): each ends after
    /// the events it has already taken.
    pub fn close(&self) {
        self.closed.store(true, std::sync::atomic::Ordering::SeqCst);
        self.head.send_modify(|_| ());
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Changes whenever the window's head moves.
    /// The sequence number the tail has read the log up to.
    pub fn position(&self) -> i64 {
        *self.head.borrow()
    }

    pub fn watch(&self) -> watch::Receiver<i64> {
        self.head.subscribe()
    }
}
