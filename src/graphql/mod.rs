//! The GraphQL schema: one root object per area, merged. Resolvers translate GraphQL to registry
//! calls and hold no SQL and no business rules.

pub mod auth;
mod changes;
mod connection;
pub mod cursor;
pub mod enums;
pub mod error;
pub mod executor;
mod flows;
mod keys;
pub mod limits;
pub mod loaders;
mod manifest;
mod mutation;
mod notices;
mod query;
pub mod relay;
mod ropa;
pub mod types;

pub use changes::{Feed, FeedHandOver, RenderEvent};

use async_graphql::{MergedObject, MergedSubscription, Schema, SchemaBuilder};
use error::bad_input;

/// The root query.
#[derive(MergedObject, Default)]
pub struct Query(
    query::PublicQuery,
    query::RegistryQuery,
    flows::FlowQuery,
    changes::ChangeQuery,
    ropa::RopaQuery,
    keys::KeyQuery,
    notices::NoticeQuery,
    manifest::ManifestQuery,
);

/// The root mutation.
#[derive(MergedObject, Default)]
pub struct Mutation(
    mutation::RegistryMutation,
    changes::ChangeMutation,
    keys::KeyMutation,
    notices::NoticeMutation,
    manifest::ManifestMutation,
);

/// The root subscription.
#[derive(MergedSubscription, Default)]
pub struct Subscription(changes::ChangeSubscription);

pub type SubregSchema = Schema<Query, Mutation, Subscription>;

pub use crate::settings::Limits;

/// Whether the answer being computed may be kept by the server's answer cache. The cache is
/// keyed by the registry's version, which the notices' queue and evidence do not move (a
/// delivery is not a change to the registry): a resolver that reads them marks its answer
/// as not to be kept, and every request computes it afresh.
#[derive(Clone, Debug, Default)]
pub struct CachePolicy(std::sync::Arc<std::sync::atomic::AtomicBool>);

impl CachePolicy {
    /// Marks the answer `ctx` belongs to as not to be kept.
    pub fn no_store(ctx: &async_graphql::Context<'_>) {
        if let Ok(policy) = ctx.data::<CachePolicy>() {
            policy.0.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// Whether no resolver marked the answer.
    pub fn storable(&self) -> bool {
        !self.0.load(std::sync::atomic::Ordering::Relaxed)
    }
}

// The settings own the limits; how a connection applies its page sizes is the API's rule, so
// it is written here, beside the other GraphQL bounds.
impl Limits {
    /// The page size a connection serves for the client's `first`.
    pub fn page_size(&self, first: Option<i32>) -> async_graphql::Result<u64> {
        match first {
            None => Ok(self.default_page_size),
            Some(n) if n < 0 => Err(bad_input("first", "must not be negative")),
            Some(n) if n as u64 > self.max_page_size => Err(bad_input(
                "first",
                format!("must be at most {}", self.max_page_size),
            )),
            Some(n) => Ok(n as u64),
        }
    }
}

/// The schema with its limits, before any per-server data: builds without a database.
pub fn schema_builder(limits: &Limits) -> SchemaBuilder<Query, Mutation, Subscription> {
    let builder = Schema::build(
        Query::default(),
        Mutation::default(),
        Subscription::default(),
    )
    // The document check refuses deep data queries first (limits::check_document); this second
    // line leaves room for introspection's depth.
    .limit_depth(limits.max_depth.max(limits::INTROSPECTION_MAX_DEPTH))
    .limit_complexity(limits.max_complexity)
    .limit_directives(limits.max_directives)
    .data(limits.clone());
    if limits.introspection {
        builder
    } else {
        // Suggestions ("did you mean ...?") would reveal the schema introspection hides.
        builder.disable_introspection().disable_suggestions()
    }
}

/// The SDL the server serves, as checked in at `schema.graphql`.
pub fn sdl() -> String {
    schema_builder(&Limits::default())
        .finish()
        .sdl_with_options(
            async_graphql::SDLExportOptions::new()
                .sorted_fields()
                .sorted_enum_items(),
        )
}
