//! Following the change log: every event after a cursor, then live ones, each exactly once and
//! in order.

use super::log::{ChangeEvent, ChangeFilter, read_after};
use crate::registry::Registry;
use futures_util::Stream;
use std::collections::VecDeque;
use std::time::Duration;

/// Events read from the log at a time.
const PAGE: u64 = 200;

struct State {
    registry: Registry,
    filter: ChangeFilter,
    cursor: i64,
    buffered: VecDeque<ChangeEvent>,
    committed: tokio::sync::watch::Receiver<i64>,
    backoff: Duration,
}

/// Every event matching `filter` after sequence number `after`: first those already in the log,
/// then new ones as they commit. The stream reads the log itself after each wake-up, so it never
/// skips an event however far behind it falls, and a slow consumer holds back nobody else.
/// It ends when the registry shuts down.
pub fn follow(
    registry: Registry,
    after: i64,
    filter: ChangeFilter,
) -> impl Stream<Item = ChangeEvent> + Send + 'static {
    let committed = registry.committed();
    let state = State {
        registry,
        filter,
        cursor: after,
        buffered: VecDeque::new(),
        committed,
        backoff: Duration::from_millis(100),
    };
    futures_util::stream::unfold(state, |mut state| async move {
        loop {
            if let Some(next) = state.buffered.pop_front() {
                state.cursor = next.event.seq;
                return Some((next, state));
            }
            // Mark the current notification as seen *before* reading, so a commit that lands
            // during the read wakes the wait below instead of being missed.
            state.committed.borrow_and_update();
            match read_after(state.registry.db(), state.cursor, PAGE, &state.filter).await {
                Ok(events) if !events.is_empty() => {
                    state.backoff = Duration::from_millis(100);
                    state.buffered.extend(events);
                }
                Ok(_) => {
                    if state.committed.changed().await.is_err() {
                        return None;
                    }
                }
                Err(err) => {
                    // The database is away: the cursor holds our place, so retry quietly.
                    tracing::warn!(error = %err, cursor = state.cursor, "cannot read the change log; retrying");
                    tokio::time::sleep(state.backoff).await;
                    state.backoff = (state.backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
    })
}
