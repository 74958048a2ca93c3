//! The API's object types. Each wraps a stored row and resolves its relations through the
//! request's batched loaders.

use super::loaders::RequestLoader;
use async_graphql::{Context, ID, Interface};
use std::sync::Arc;

/// An API type over a row the loaders share: the row in an `Arc`, and made from a row read
/// on its own (a mutation's result, a list).
macro_rules! shared_row {
    ($name:ident, $model:ty) => {
        pub struct $name(pub std::sync::Arc<$model>);

        impl From<$model> for $name {
            fn from(model: $model) -> Self {
                Self(std::sync::Arc::new(model))
            }
        }
    };
}

mod countries;
mod registry;
mod taxonomy;
mod transfers;

pub use countries::*;
pub use registry::*;
pub use taxonomy::*;
pub use transfers::*;

/// The rows a loader shares, each wrapped as its API type (none: an empty list).
fn each<M: Clone, W>(rows: Option<Arc<Vec<M>>>, wrap: impl Fn(M) -> W) -> Vec<W> {
    rows.map_or_else(Vec::new, |rows| rows.iter().cloned().map(wrap).collect())
}

fn loader<'a>(ctx: &'a Context<'_>) -> async_graphql::Result<&'a RequestLoader> {
    ctx.data::<RequestLoader>()
}

/// Any object with a global ID, fetchable with `Query.node`.
#[derive(Interface)]
#[graphql(field(name = "id", ty = "ID", desc = "The object's global ID."))]
pub enum Node {
    Recipient(Recipient),
    DataFlow(DataFlow),
    ProcessingActivity(ProcessingActivity),
    DataCategory(DataCategory),
    DataSubjectCategory(DataSubjectCategory),
    Product(Product),
}
