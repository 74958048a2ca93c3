//! The registry's connection: the pool, or a transaction that a batch of writes shares so that
//! they commit together or not at all (each write then runs in a savepoint).

use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, ExecResult,
    QueryResult, Statement, TransactionTrait,
};
use std::sync::Arc;

#[derive(Clone, Debug)]
pub(crate) enum Conn {
    Pool(DatabaseConnection),
    Batch(Arc<DatabaseTransaction>),
}

impl Conn {
    /// A transaction, nested (a savepoint) inside a batch.
    pub(crate) async fn begin(&self) -> Result<DatabaseTransaction, DbErr> {
        match self {
            Self::Pool(pool) => pool.begin().await,
            Self::Batch(txn) => txn.begin().await,
        }
    }

    pub(crate) async fn ping(&self) -> Result<(), DbErr> {
        match self {
            Self::Pool(pool) => pool.ping().await,
            Self::Batch(txn) => txn.execute_unprepared("SELECT 1").await.map(drop),
        }
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for Conn {
    fn get_database_backend(&self) -> DbBackend {
        match self {
            Self::Pool(c) => c.get_database_backend(),
            Self::Batch(c) => c.get_database_backend(),
        }
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        match self {
            Self::Pool(c) => c.execute_raw(stmt).await,
            Self::Batch(c) => c.execute_raw(stmt).await,
        }
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        match self {
            Self::Pool(c) => c.execute_unprepared(sql).await,
            Self::Batch(c) => c.execute_unprepared(sql).await,
        }
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        match self {
            Self::Pool(c) => c.query_one_raw(stmt).await,
            Self::Batch(c) => c.query_one_raw(stmt).await,
        }
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        match self {
            Self::Pool(c) => c.query_all_raw(stmt).await,
            Self::Batch(c) => c.query_all_raw(stmt).await,
        }
    }

    fn support_returning(&self) -> bool {
        match self {
            Self::Pool(c) => c.support_returning(),
            Self::Batch(c) => c.support_returning(),
        }
    }
}
