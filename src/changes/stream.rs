//! Following the change log: every event after a cursor, then live ones, each exactly once and
//! in order.

use super::log::{ChangeEvent, ChangeFilter, read_after};
use super::tail::{FromWindow, Tail};
use crate::registry::Registry;
use futures_util::Stream;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

/// Events read from the log at a time by a subscriber that fell behind the in-memory window.
const PAGE: u64 = 200;

struct State {
    registry: Registry,
    tail: Arc<Tail>,
    filter: ChangeFilter,
    /// Every matching event up to here has been buffered or delivered.
    position: i64,
    buffered: VecDeque<Arc<ChangeEvent>>,
    head: tokio::sync::watch::Receiver<i64>,
    backoff: Duration,
}

/// Every event matching `filter` after sequence number `after`: first those already in the log,
/// then new ones as they commit. A subscriber takes recent events from the shared in-memory tail
/// and reads the log itself when it is further behind, so it never skips an event however far
/// it falls behind, and a slow consumer holds back nobody else. It ends when the tail is closed.
pub fn follow(
    registry: Registry,
    tail: Arc<Tail>,
    after: i64,
    filter: ChangeFilter,
) -> impl Stream<Item = Arc<ChangeEvent>> + Send + 'static {
    let head = tail.watch();
    let state = State {
        registry,
        tail,
        filter,
        position: after,
        buffered: VecDeque::new(),
        head,
        backoff: Duration::from_millis(100),
    };
    futures_util::stream::unfold(state, |mut state| async move {
        loop {
            if let Some(next) = state.buffered.pop_front() {
                return Some((next, state));
            }
            // Mark the current head as seen *before* looking, so an event that lands meanwhile
            // wakes the wait below instead of being missed.
            state.head.borrow_and_update();
            match state.tail.after(state.position, &state.filter) {
                FromWindow::Events(events, up_to) => {
                    state.position = up_to;
                    if events.is_empty() {
                        if state.tail.is_closed() || state.head.changed().await.is_err() {
                            return None;
                        }
                        if state.tail.is_closed() {
                            return None;
                        }
                    } else {
                        state.buffered.extend(events);
                    }
                }
                FromWindow::Behind { floor } => {
                    let read = read_after(state.registry.db(), state.position, PAGE, &state.filter);
                    match read.await {
                        Ok(events) => {
                            state.backoff = Duration::from_millis(100);
                            match events.last() {
                                Some(last) => state.position = last.seq,
                                // Nothing matches between here and the window: skip to it.
                                None => state.position = floor,
                            }
                            state.buffered.extend(events.into_iter().map(Arc::new));
                        }
                        Err(err) => {
                            // The database is away: the position holds our place, so retry.
                            tracing::warn!(error = %err, position = state.position, "cannot read the change log; retrying");
                            tokio::time::sleep(state.backoff).await;
                            state.backoff = (state.backoff * 2).min(Duration::from_secs(5));
                        }
                    }
                }
            }
        }
    })
}
