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
pub use subscribers::{NewEndpoint, NewSubscription, SubscribeOutcome, SubscriberFilter, email};

use super::error::{RegistryError, Result};
use super::keys::hash_secret;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// `N` random bytes from the operating system.
pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|err| {
        RegistryError::Database(sea_orm::DbErr::Custom(format!("no randomness: {err}")))
    })?;
    Ok(bytes)
}

/// 32 random bytes, base64url: a token a link or a form carries.
pub fn random_token() -> Result<String> {
    Ok(URL_SAFE_NO_PAD.encode(random_bytes::<32>()?))
}

/// How a token is stored: its SHA-256, never the token.
pub fn token_hash(token: &str) -> String {
    hash_secret(token)
}

impl super::Registry {
    /// The key that signs unsubscribe links and form tokens: 32 random bytes, made by the first
    /// replica that needs it and then read by all.
    pub async fn link_key(&self) -> Result<Vec<u8>> {
        use entity::notice_key;
        use sea_orm::{ActiveModelTrait, EntityTrait, Set};
        if let Some(key) = notice_key::Entity::find_by_id("links")
            .one(self.db())
            .await?
        {
            return hex::decode(&key.secret)
                .map_err(|_| RegistryError::Conflict("the stored link key is not hex".into()));
        }
        let bytes = random_bytes::<32>()?;
        let write = self.write_outside_log().await?;
        let made = notice_key::ActiveModel {
            purpose: Set("links".into()),
            secret: Set(hex::encode(bytes)),
            created_at: Set(self.now()),
        }
        .insert(&write.txn)
        .await;
        match made {
            Ok(_) => {
                self.commit(write, None).await?;
                Ok(bytes.to_vec())
            }
            // Another replica made it first: read theirs.
            Err(_) => {
                drop(write);
                let key = notice_key::Entity::find_by_id("links")
                    .one(self.db())
                    .await?
                    .ok_or_else(|| RegistryError::Conflict("no link key".into()))?;
                hex::decode(&key.secret)
                    .map_err(|_| RegistryError::Conflict("the stored link key is not hex".into()))
            }
        }
    }
}
