//! API keys, managed by admins: created (the secret is shown once), listed, revoked.

use super::auth::{ADMIN, Caller};
use super::enums::Role;
use super::error::ApiResult;
use super::relay::{expect_id, global_id};
use crate::registry::Registry;
use async_graphql::{Context, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entity::api_key;

pub struct ApiKey(api_key::Model);

/// An API key, without its secret.
#[Object(guard = "ADMIN")]
impl ApiKey {
    /// Global ID.
    async fn id(&self) -> ID {
        global_id("ApiKey", self.0.id)
    }

    /// Who or what holds the key; changes made with it name this holder.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// What the key allows.
    async fn role(&self) -> Role {
        self.0.role.into()
    }

    /// The key's first characters, to recognise it.
    async fn prefix(&self) -> &str {
        &self.0.prefix
    }

    /// When the key was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// Who created the key.
    async fn created_by(&self) -> &str {
        &self.0.created_by
    }

    /// When the key was revoked; null while it is valid.
    async fn revoked_at(&self) -> Option<DateTime<Utc>> {
        self.0.revoked_at
    }

    /// Who revoked the key.
    async fn revoked_by(&self) -> Option<&str> {
        self.0.revoked_by.as_deref()
    }
}

/// A key just created, with its secret: store the secret now, it is never shown again.
#[derive(SimpleObject)]
#[graphql(guard = "ADMIN")]
pub struct CreatedApiKey {
    /// The key's record.
    key: ApiKey,
    /// The secret to send as `Authorization: Bearer <secret>`. Shown once.
    secret: String,
}

#[derive(Default)]
pub struct KeyQuery;

#[Object(guard = "ADMIN")]
impl KeyQuery {
    /// Every API key, revoked ones included, oldest first (ADMIN).
    async fn api_keys(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<ApiKey>> {
        Ok(ctx
            .data::<Registry>()?
            .api_keys()
            .await
            .api()?
            .into_iter()
            .map(ApiKey)
            .collect())
    }
}

#[derive(Default)]
pub struct KeyMutation;

#[Object(guard = "ADMIN")]
impl KeyMutation {
    /// Creates an API key (ADMIN). The secret is in the answer and nowhere else.
    async fn create_api_key(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Who or what will hold the key.")] name: String,
        #[graphql(
            desc = "What the key allows: VIEWER reads, EDITOR also changes the registry, ADMIN also manages keys."
        )]
        role: Role,
    ) -> async_graphql::Result<CreatedApiKey> {
        let actor = Caller::of(ctx).actor();
        let created = ctx
            .data::<Registry>()?
            .create_api_key(&name, role.into(), &actor)
            .await
            .api()?;
        Ok(CreatedApiKey {
            key: ApiKey(created.key),
            secret: created.secret,
        })
    }

    /// Revokes an API key for good (ADMIN): requests with it are refused and its open
    /// subscriptions end.
    async fn revoke_api_key(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The key to revoke (its ID).")] id: ID,
    ) -> async_graphql::Result<ApiKey> {
        let actor = Caller::of(ctx).actor();
        let id = expect_id("id", "ApiKey", &id)?;
        Ok(ApiKey(
            ctx.data::<Registry>()?
                .revoke_api_key(id, &actor)
                .await
                .api()?,
        ))
    }
}
