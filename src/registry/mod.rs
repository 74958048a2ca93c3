//! The registry layer: every read the API serves and every write the registry accepts.
//!
//! It validates input, writes each change in one transaction together with its change-log event,
//! and is the only code that writes to the database. The GraphQL layer and the example-registry
//! loader call it; it knows nothing about either.

mod activities;
mod changelog;
pub mod error;
mod flows;
pub mod inputs;
mod recipients;
mod taxonomy;
pub mod validate;

pub use error::{RegistryError, Result};
pub use flows::{FlowFilter, FlowPage, FlowSelection};
pub use recipients::RecipientFilter;

use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, EntityTrait,
    QueryFilter, QueryOrder, Related, TransactionTrait,
};
use std::collections::HashMap;

/// Who made a change, as recorded in the change log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor(pub String);

impl Actor {
    /// Changes made by Subreg itself (the example registry, scheduled activations).
    pub fn system() -> Self {
        Self("subreg".into())
    }
}

/// The registry over one database.
#[derive(Clone, Debug)]
pub struct Registry {
    db: DatabaseConnection,
}

impl Registry {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    async fn begin(&self) -> Result<DatabaseTransaction> {
        Ok(self.db.begin().await?)
    }

    /// Whether the database answers (for readiness checks).
    pub async fn ping(&self) -> Result<()> {
        Ok(self.db.ping().await?)
    }
}

/// Loads, for each owner id, the terms its link table points to, in one joined query.
pub(crate) async fn linked<L, T>(
    conn: &impl ConnectionTrait,
    owner_column: L::Column,
    ids: &[i32],
    owner_of: impl Fn(&L::Model) -> i32,
    order_by: T::Column,
) -> Result<HashMap<i32, Vec<T::Model>>>
where
    L: EntityTrait + Related<T>,
    T: EntityTrait,
{
    let mut out: HashMap<i32, Vec<T::Model>> = HashMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    let rows = L::find()
        .filter(owner_column.is_in(ids.iter().copied()))
        .find_also_related(T::default())
        .order_by_asc(order_by)
        .all(conn)
        .await?;
    for (link, term) in rows {
        if let Some(term) = term {
            out.entry(owner_of(&link)).or_default().push(term);
        }
    }
    Ok(out)
}
