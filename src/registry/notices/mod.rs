//! Notices to customers (GDPR Art. 28(2)): who is told of public changes (email addresses and
//! webhook endpoints, each with its cursor into the public change log), one delivery per notice
//! to each, and every attempt, which together are the notice register: the processor's evidence
//! that it informed each controller.
//!
//! The registry keeps the rows; reading the log, rendering and sending are the dispatcher's
//! (`crate::notices`). A subscriber's cursor moves in the same transaction that queues its
//! deliveries, and a delivery changes state only in the transaction that records its attempt,
//! so a crash at any point loses no notice; its id is fixed when it is queued, so a resend
//! after a crash carries the same Message-ID or `webhook-id`.

mod delivery;
pub(crate) mod register;
pub mod ssrf;
mod subscribers;

pub use delivery::{AttemptRecord, NewDelivery, Plan, next_status};
pub use register::{DeliveryKey, RegisterEntry, RegisterFilter};
pub use subscribers::{NewEndpoint, NewSubscription, SubscribeOutcome, SubscriberFilter};

use super::error::{RegistryError, Result};
use super::keys::hash_secret;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// 32 random bytes, base64url: a token a link or a form carries.
pub(crate) fn random_token() -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|err| {
        RegistryError::Database(sea_orm::DbErr::Custom(format!("no randomness: {err}")))
    })?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// How a token is stored: its SHA-256, never the token.
pub fn token_hash(token: &str) -> String {
    hash_secret(token)
}
