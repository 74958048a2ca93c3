//! Many rows of one table in few statements, for batched writes (a manifest's or a synthetic
//! registry's 100,000 flows and their events).
//!
//! The rows go in multi-row `VALUES` statements of a fixed number of rows. Every full chunk has
//! the same text, so the driver prepares it once and only binds each chunk's values; the values
//! are moved out of the active models, as sea-orm would bind them, without building a query per
//! chunk. Measured against the alternatives (BENCHMARKS.md, "The registry as code"): sea-orm's
//! `insert_many` of 2,000-3,000 rows built and planned each statement anew, and one JSON
//! document per statement unpacked by the database (`json_each`, `json_populate_recordset`)
//! parsed every row twice.

use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DatabaseBackend, DbErr, EntityName, EntityTrait, IdenStatic,
    Iterable, Statement,
};

/// Parameters per statement, at most: within SQLite's 32,766 and PostgreSQL's 65,535, and few
/// enough that binding a chunk stays cheap.
const VALUES_PER_STATEMENT: usize = 4096;

/// Inserts `rows`, in order.
pub(super) async fn insert<A, C>(conn: &C, rows: Vec<A>) -> Result<(), DbErr>
where
    A: ActiveModelTrait,
    C: ConnectionTrait,
{
    let mut rows = Rows::new(conn.get_database_backend(), rows, "");
    while let Some(statement) = rows.next_statement()? {
        conn.execute_raw(statement).await?;
    }
    Ok(())
}

/// Inserts `rows`, in order, and returns the inserted models as RETURNING lists them, an order
/// neither database promises: sort them by their key to have the order of the rows.
pub(super) async fn insert_returning<A, C>(
    conn: &C,
    rows: Vec<A>,
) -> Result<Vec<<A::Entity as EntityTrait>::Model>, DbErr>
where
    A: ActiveModelTrait,
    C: ConnectionTrait,
{
    let mut inserted = Vec::with_capacity(rows.len());
    let mut rows = Rows::new(conn.get_database_backend(), rows, " RETURNING *");
    while let Some(statement) = rows.next_statement()? {
        inserted.extend(A::Entity::find().from_raw_sql(statement).all(conn).await?);
    }
    Ok(inserted)
}

/// Inserts `rows`, in order, and returns the `key` column (an integer key the database assigns)
/// of each, in ascending order: the order of the rows.
pub(super) async fn insert_returning_keys<A, C, K>(
    conn: &C,
    rows: Vec<A>,
    key: <A::Entity as EntityTrait>::Column,
) -> Result<Vec<K>, DbErr>
where
    A: ActiveModelTrait,
    C: ConnectionTrait,
    K: sea_orm::TryGetable + Ord,
{
    let mut keys = Vec::with_capacity(rows.len());
    let returning = format!(" RETURNING \"{}\"", key.as_str());
    let mut rows = Rows::new(conn.get_database_backend(), rows, &returning);
    while let Some(statement) = rows.next_statement()? {
        let start = keys.len();
        for row in conn.query_all_raw(statement).await? {
            keys.push(row.try_get_by_index::<K>(0)?);
        }
        // Keys are assigned in the order of the rows; RETURNING need not list them so.
        keys[start..].sort_unstable();
    }
    Ok(keys)
}

/// The rows still to insert, and the statement text for a chunk of them.
struct Rows<A: ActiveModelTrait> {
    backend: DatabaseBackend,
    rows: std::vec::IntoIter<A>,
    columns: Vec<<A::Entity as EntityTrait>::Column>,
    rows_per_statement: usize,
    /// `INSERT INTO "table" ("column", ...) VALUES `.
    insert: String,
    returning: String,
    /// The last statement's text, and its number of rows.
    last: Option<(usize, String)>,
}

impl<A: ActiveModelTrait> Rows<A> {
    /// The columns are those the first row sets; every row must set the same ones.
    fn new(backend: DatabaseBackend, rows: Vec<A>, returning: &str) -> Self {
        let columns: Vec<_> = match rows.first() {
            Some(first) => <A::Entity as EntityTrait>::Column::iter()
                .filter(|c| !first.get(*c).is_not_set())
                .collect(),
            None => Vec::new(),
        };
        let names = columns
            .iter()
            .map(|c| format!("\"{}\"", c.as_str()))
            .collect::<Vec<_>>()
            .join(", ");
        let table = A::Entity::default().table_name().to_owned();
        Rows {
            backend,
            rows: rows.into_iter(),
            rows_per_statement: VALUES_PER_STATEMENT / columns.len().max(1),
            columns,
            insert: format!("INSERT INTO \"{table}\" ({names}) VALUES "),
            returning: returning.to_owned(),
            last: None,
        }
    }

    /// The statement for the next chunk of rows, or None when every row is sent.
    fn next_statement(&mut self) -> Result<Option<Statement>, DbErr> {
        if self.columns.is_empty() {
            return Ok(None);
        }
        let rows: Vec<A> = self.rows.by_ref().take(self.rows_per_statement).collect();
        if rows.is_empty() {
            return Ok(None);
        }
        let sql = match &self.last {
            Some((n, sql)) if *n == rows.len() => sql.clone(),
            _ => {
                let sql = self.text(rows.len());
                self.last = Some((rows.len(), sql.clone()));
                sql
            }
        };
        let mut values = Vec::with_capacity(rows.len() * self.columns.len());
        for mut row in rows {
            for column in &self.columns {
                let value = row.take(*column).into_value().ok_or_else(|| {
                    DbErr::Custom(format!(
                        "a batch of rows leaves {} unset in some rows only",
                        column.as_str()
                    ))
                })?;
                values.push(value);
            }
        }
        Ok(Some(Statement::from_sql_and_values(
            self.backend,
            sql,
            values,
        )))
    }

    /// The statement text for `rows` rows, with the backend's placeholders.
    fn text(&self, rows: usize) -> String {
        let width = self.columns.len();
        let mut sql = self.insert.clone();
        for row in 0..rows {
            sql.push_str(if row == 0 { "(" } else { ", (" });
            for column in 0..width {
                if column > 0 {
                    sql.push_str(", ");
                }
                match self.backend {
                    DatabaseBackend::Postgres => {
                        sql.push('$');
                        sql.push_str(&(row * width + column + 1).to_string());
                    }
                    _ => sql.push('?'),
                }
            }
            sql.push(')');
        }
        sql.push_str(&self.returning);
        sql
    }
}
