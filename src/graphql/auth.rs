//! Who is calling and what they may see. Roles are enforced in the schema itself: every type
//! and field that is not public carries a [`RoleGuard`], so a new resolver that returns an
//! internal type is guarded without having to remember it.

use super::error::{FORBIDDEN, UNAUTHENTICATED};
use crate::registry::Actor;
use async_graphql::{Context, ErrorExtensions, Guard};
use entity::{Role, api_key};

/// The holder of the API key a request or connection authenticated with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyHolder {
    pub key_id: i32,
    pub name: String,
    pub role: Role,
}

/// Whom an answer is for, as far as its content goes ([`Caller::audience`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Audience {
    /// The public: no key.
    Public,
    /// Any key of this role.
    Role(Role),
    /// This key alone.
    Key(i32),
}

/// The caller of a request or WebSocket connection: anonymous (the public subprocessor list
/// and its changes only), or an API key's holder with its role.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Caller(pub Option<KeyHolder>);

impl Caller {
    pub fn anonymous() -> Self {
        Self(None)
    }

    pub fn from_key(key: &api_key::Model) -> Self {
        Self(Some(KeyHolder {
            key_id: key.id,
            name: key.name.clone(),
            role: key.role,
        }))
    }

    pub fn role(&self) -> Option<Role> {
        self.0.as_ref().map(|k| k.role)
    }

    /// Whether the caller holds `role` or a higher one.
    pub fn has(&self, role: Role) -> bool {
        self.role().is_some_and(|r| r >= role)
    }

    /// What an answer depends on of its caller. For most keys that is the role and nothing
    /// else (every guard and every filter of the schema reads the role); a SUBSCRIBER key sees
    /// its own webhook endpoints and deliveries, so its answers are its own. Two callers of one
    /// audience get the same answer to the same request, so it may be shared between them.
    pub fn audience(&self) -> Audience {
        match &self.0 {
            None => Audience::Public,
            Some(key) if key.role == Role::Subscriber => Audience::Key(key.key_id),
            Some(key) => Audience::Role(key.role),
        }
    }

    /// Whether the caller sees internal recipients, flows and notes (any key does).
    pub fn sees_internal(&self) -> bool {
        self.has(Role::Viewer)
    }

    /// Who the change log names for changes this caller makes: the key's holder.
    pub fn actor(&self) -> Actor {
        match &self.0 {
            Some(key) => Actor(format!("{} (API key {})", key.name, key.key_id)),
            None => Actor("anonymous".into()),
        }
    }

    /// The caller of the request being resolved (anonymous when none was set).
    pub fn of(ctx: &Context<'_>) -> Self {
        ctx.data_opt::<Caller>().cloned().unwrap_or_default()
    }

    /// An error unless the caller holds `role`.
    pub fn require(&self, role: Role) -> async_graphql::Result<()> {
        match self.role() {
            Some(held) if held >= role => Ok(()),
            Some(held) => Err(async_graphql::Error::new(format!(
                "this needs an API key with the {} role; yours has the {} role",
                role_name(role),
                role_name(held)
            ))
            .extend_with(|_, e| e.set("code", FORBIDDEN))),
            None => Err(unauthenticated(role)),
        }
    }
}

/// The error for a caller without a key asking for what needs `role`.
pub fn unauthenticated(role: Role) -> async_graphql::Error {
    async_graphql::Error::new(format!(
        "this needs an API key with the {} role: send it as `Authorization: Bearer <key>`",
        role_name(role)
    ))
    .extend_with(|_, e| e.set("code", UNAUTHENTICATED))
}

pub fn role_name(role: Role) -> &'static str {
    match role {
        Role::Subscriber => "SUBSCRIBER",
        Role::Viewer => "VIEWER",
        Role::Editor => "EDITOR",
        Role::Admin => "ADMIN",
    }
}

/// Refuses callers without `role` (or a higher one).
pub struct RoleGuard(pub Role);

impl Guard for RoleGuard {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        Caller::of(ctx).require(self.0)
    }
}

/// Refuses callers without the role, if there is one; lets anyone through when there is none.
/// For generic types whose readers depend on what they hold: a connection of public changes,
/// a connection of internal recipients.
pub struct ReadersGuard(pub Option<Role>);

impl Guard for ReadersGuard {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        match self.0 {
            Some(role) => Caller::of(ctx).require(role),
            None => Ok(()),
        }
    }
}

/// Guards, by role, for the `guard = "..."` attributes.
pub const SUBSCRIBER: RoleGuard = RoleGuard(Role::Subscriber);
pub const VIEWER: RoleGuard = RoleGuard(Role::Viewer);
pub const EDITOR: RoleGuard = RoleGuard(Role::Editor);
pub const ADMIN: RoleGuard = RoleGuard(Role::Admin);
