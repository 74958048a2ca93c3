//! API keys: created with a role, shown once, stored as a SHA-256 hash, revoked for good.
//!
//! A key is 32 random bytes (256 bits), so a fast hash is enough: there is nothing to guess,
//! unlike a password, and a lookup by hash reveals nothing about other keys.

use super::error::{RegistryError, Result};
use super::{Actor, Registry, validate};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use entity::{Role, api_key};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Set,
};
use sha2::{Digest, Sha256};

/// Every key starts with this, so that secret scanners and people recognise one.
pub const KEY_PREFIX: &str = "subreg_";
/// How many characters of a key are kept in clear to recognise it.
const SHOWN_CHARACTERS: usize = KEY_PREFIX.len() + 6;

/// A key just created: its record and the secret, which is never shown again.
#[derive(Debug)]
pub struct NewApiKey {
    pub key: api_key::Model,
    pub secret: String,
}

/// The hex SHA-256 of a presented secret, as stored.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

fn new_secret() -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|err| {
        RegistryError::Database(sea_orm::DbErr::Custom(format!(
            "no randomness for a new key: {err}"
        )))
    })?;
    Ok(format!("{KEY_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes)))
}

impl Registry {
    /// Creates a key for `name` with `role`. The returned secret is the only copy.
    pub async fn create_api_key(&self, name: &str, role: Role, actor: &Actor) -> Result<NewApiKey> {
        let name = validate::name("name", name)?;
        if name.chars().count() > 100 {
            return Err(RegistryError::invalid(
                "name",
                "must be at most 100 characters",
            ));
        }
        let secret = new_secret()?;
        let write = self.write().await?;
        let key = api_key::ActiveModel {
            name: Set(name),
            role: Set(role),
            prefix: Set(secret[..SHOWN_CHARACTERS].to_owned()),
            secret_hash: Set(hash_secret(&secret)),
            created_at: Set(self.now()),
            created_by: Set(actor.0.clone()),
            revoked_at: Set(None),
            revoked_by: Set(None),
            ..Default::default()
        }
        .insert(&write.txn)
        .await?;
        self.commit(write, None).await?;
        Ok(NewApiKey { key, secret })
    }

    /// Every key, revoked ones included, oldest first.
    pub async fn api_keys(&self) -> Result<Vec<api_key::Model>> {
        Ok(api_key::Entity::find()
            .order_by_asc(api_key::Column::Id)
            .all(self.db())
            .await?)
    }

    /// The key a caller presents, if it exists and is not revoked.
    pub async fn authenticate(&self, secret: &str) -> Result<Option<api_key::Model>> {
        if !secret.starts_with(KEY_PREFIX) || secret.len() > 128 {
            return Ok(None);
        }
        let hash = hash_secret(secret);
        let generation = self.generation();
        if let Some(key) = self.keys.get(&hash, generation) {
            return Ok(key);
        }
        let key = api_key::Entity::find()
            .filter(api_key::Column::SecretHash.eq(hash.clone()))
            .filter(api_key::Column::RevokedAt.is_null())
            .one(self.db())
            .await?;
        if self.keeps(generation) {
            self.keys.put(hash, generation, key.clone());
        }
        Ok(key)
    }

    /// Revokes a key for good; requests and open subscriptions made with it stop.
    pub async fn revoke_api_key(&self, id: i32, actor: &Actor) -> Result<api_key::Model> {
        let write = self.write().await?;
        let key = api_key::Entity::find_by_id(id)
            .one(&write.txn)
            .await?
            .ok_or_else(|| RegistryError::not_found("ApiKey", id))?;
        if key.revoked_at.is_some() {
            return Err(RegistryError::Conflict(format!(
                "the key {} ({}) is already revoked",
                key.prefix, key.name
            )));
        }
        let mut active: api_key::ActiveModel = key.into();
        active.revoked_at = Set(Some(self.now()));
        active.revoked_by = Set(Some(actor.0.clone()));
        let key = active.update(&write.txn).await?;
        self.commit(write, None).await?;
        self.notify_revocations();
        Ok(key)
    }

    /// Whether the key is still valid (not revoked, not deleted).
    pub async fn api_key_active(&self, id: i32) -> Result<bool> {
        Ok(api_key::Entity::find_by_id(id)
            .filter(api_key::Column::RevokedAt.is_null())
            .one(self.db())
            .await?
            .is_some())
    }

    /// How many keys have been revoked, by any process: a change tells open connections to
    /// check their key again.
    pub async fn revoked_api_key_count(&self) -> Result<u64> {
        Ok(api_key::Entity::find()
            .filter(api_key::Column::RevokedAt.is_not_null())
            .count(self.db())
            .await?)
    }

    /// Tells open connections that a key may have been revoked.
    pub fn notify_revocations(&self) {
        self.revocations.send_modify(|n| *n += 1);
    }

    /// A receiver that changes whenever a key may have been revoked.
    pub fn revocations(&self) -> tokio::sync::watch::Receiver<u64> {
        self.revocations.subscribe()
    }
}
