//! The change feed: reading the change log, following it live, and waking up across replicas.
//!
//! Notifications are wake-ups, never the data: a subscriber always reads what is new from the
//! log after its own cursor, so a lagging, reconnecting or restarted subscriber neither loses nor
//! repeats an event.

pub mod as_of;
pub mod listener;
pub mod log;
pub mod stream;
pub mod tail;

pub use log::{ChangeEvent, ChangeFilter, ChangeKey};
pub use tail::Tail;
