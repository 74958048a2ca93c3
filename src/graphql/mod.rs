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
mod mutation;
mod notices;
mod query;
pub mod relay;
mod ropa;
pub mod types;

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
);

/// The root mutation.
#[derive(MergedObject, Default)]
pub struct Mutation(
    mutation::RegistryMutation,
    changes::ChangeMutation,
    keys::KeyMutation,
    notices::NoticeMutation,
);

/// The root subscription.
#[derive(MergedSubscription, Default)]
pub struct Subscription(changes::ChangeSubscription);

pub type SubregSchema = Schema<Query, Mutation, Subscription>;

pub use crate::settings::Limits;

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
    .limit_depth(limits.max_depth)
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
