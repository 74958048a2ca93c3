//! The registry's typed errors. The GraphQL layer maps each variant to one `extensions.code`.

use sea_orm::{DbErr, SqlErr};

/// Why the registry refused or failed an operation.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The input breaks a rule; `field` names the offending input field (`countries[2]`).
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    /// The entity the operation targets does not exist.
    #[error("{entity} {id} does not exist")]
    NotFound { entity: &'static str, id: String },
    /// The operation contradicts the registry's current state (a duplicate key, a recipient that
    /// still has data flows...).
    #[error("{0}")]
    Conflict(String),
    /// The database failed; the details are logged, never shown to clients.
    #[error("database error")]
    Database(#[source] DbErr),
}

impl RegistryError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }

    /// An entry is added under a key another entry has.
    pub fn duplicate_key() -> Self {
        Self::Conflict("an entry with the same key already exists".into())
    }

    pub fn not_found(entity: &'static str, id: impl ToString) -> Self {
        Self::NotFound {
            entity,
            id: id.to_string(),
        }
    }
}

impl From<DbErr> for RegistryError {
    /// Constraint violations mean the input conflicts with stored state, whichever backend
    /// reported them; everything else is a database failure.
    fn from(err: DbErr) -> Self {
        match err.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => Self::duplicate_key(),
            Some(SqlErr::ForeignKeyConstraintViolation(_)) => {
                Self::Conflict("the entry is still referenced by other entries".into())
            }
            _ => Self::Database(err),
        }
    }
}

pub type Result<T, E = RegistryError> = std::result::Result<T, E>;
