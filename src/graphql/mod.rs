//! The GraphQL schema: one root object per area, merged. Resolvers translate GraphQL to registry
//! calls and hold no SQL and no business rules.

mod changes;
pub mod enums;
pub mod error;
mod flows;
pub mod loaders;
mod mutation;
mod query;
pub mod relay;
mod ropa;
pub mod types;

use async_graphql::{MergedObject, MergedSubscription, Schema, SchemaBuilder};
use error::bad_input;

/// The root query.
#[derive(MergedObject, Default)]
pub struct Query(
    query::RegistryQuery,
    flows::FlowQuery,
    changes::ChangeQuery,
    ropa::RopaQuery,
);

/// The root mutation.
#[derive(MergedObject, Default)]
pub struct Mutation(mutation::RegistryMutation, changes::ChangeMutation);

/// The root subscription.
#[derive(MergedSubscription, Default)]
pub struct Subscription(changes::ChangeSubscription);

pub type SubregSchema = Schema<Query, Mutation, Subscription>;

/// Bounds on what one request may ask for.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Page size when a connection's `first` is absent.
    pub default_page_size: u64,
    /// Largest page size a client may ask for.
    pub max_page_size: u64,
    /// Deepest selection nesting.
    pub max_depth: usize,
    /// Largest number of fields one request may select.
    pub max_complexity: usize,
    /// Whether clients may introspect the schema.
    pub introspection: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            default_page_size: 50,
            max_page_size: 500,
            max_depth: 12,
            max_complexity: 1_000,
            introspection: true,
        }
    }
}

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
    .data(limits.clone());
    if limits.introspection {
        builder
    } else {
        builder.disable_introspection()
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
