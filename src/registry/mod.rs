//! The registry layer: every read the API serves and every write the registry accepts.
//!
//! It validates input, writes each change in one transaction together with its change-log event,
//! and is the only code that writes to the database. The GraphQL layer and the example-registry
//! loader call it; it knows nothing about either.

mod activities;
mod changelog;
mod conn;
pub mod error;
mod flows;
pub mod inputs;
mod recipients;
mod taxonomy;
pub mod validate;

pub use error::{RegistryError, Result};
pub use flows::{FlowFilter, FlowPage, FlowSelection};
pub use recipients::RecipientFilter;

use conn::Conn;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, EntityTrait,
    QueryFilter, QueryOrder, Related,
};
use std::collections::HashMap;
use std::sync::Arc;

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
    conn: Conn,
}

/// Writes that commit together or not at all: every write through [`Batch::registry`] joins
/// one database transaction, which [`Batch::commit`] commits. Dropped without a commit, it
/// rolls back.
pub struct Batch {
    registry: Registry,
}

impl Batch {
    /// The registry whose writes join this batch.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    pub async fn commit(self) -> Result<()> {
        let Conn::Batch(txn) = self.registry.conn else {
            return Ok(());
        };
        let txn = Arc::try_unwrap(txn).map_err(|_| {
            RegistryError::Conflict("the batch is still in use and cannot commit".into())
        })?;
        Ok(txn.commit().await?)
    }
}

impl Registry {
    pub fn new(db: DatabaseConnection) -> Self {
        Self {
            conn: Conn::Pool(db),
        }
    }

    pub(crate) fn db(&self) -> &Conn {
        &self.conn
    }

    /// The connection pool, for read-only inspection (tools and tests); `None` inside a batch.
    pub fn pool(&self) -> Option<&DatabaseConnection> {
        match &self.conn {
            Conn::Pool(pool) => Some(pool),
            Conn::Batch(_) => None,
        }
    }

    async fn begin(&self) -> Result<DatabaseTransaction> {
        Ok(self.conn.begin().await?)
    }

    /// Starts a batch of writes that commit together.
    pub async fn batch(&self) -> Result<Batch> {
        let txn = self.conn.begin().await?;
        Ok(Batch {
            registry: Self {
                conn: Conn::Batch(Arc::new(txn)),
            },
        })
    }

    /// Whether the database answers (for readiness checks).
    pub async fn ping(&self) -> Result<()> {
        Ok(self.conn.ping().await?)
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
