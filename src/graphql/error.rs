//! The one place where registry errors become GraphQL errors, each with a fixed
//! `extensions.code`.

use crate::manifest::ManifestError;
use crate::registry::RegistryError;
use async_graphql::{Error, ErrorExtensions};
use std::sync::Arc;

pub const BAD_USER_INPUT: &str = "BAD_USER_INPUT";
pub const NOT_FOUND: &str = "NOT_FOUND";
pub const CONFLICT: &str = "CONFLICT";
pub const UNAUTHENTICATED: &str = "UNAUTHENTICATED";
pub const FORBIDDEN: &str = "FORBIDDEN";
pub const INTERNAL_SERVER_ERROR: &str = "INTERNAL_SERVER_ERROR";

/// The GraphQL error for a registry error. Database failures are logged; the client gets a
/// generic message.
pub fn to_graphql(err: &RegistryError) -> Error {
    match err {
        RegistryError::Invalid { field, message } => Error::new(format!("{field}: {message}"))
            .extend_with(|_, e| {
                e.set("code", BAD_USER_INPUT);
                e.set("field", field.as_str());
            }),
        RegistryError::NotFound { .. } => {
            Error::new(err.to_string()).extend_with(|_, e| e.set("code", NOT_FOUND))
        }
        RegistryError::Conflict(message) => {
            Error::new(message.as_str()).extend_with(|_, e| e.set("code", CONFLICT))
        }
        RegistryError::Database(source) => {
            tracing::error!(error = %source, "database error");
            Error::new("internal error").extend_with(|_, e| e.set("code", INTERNAL_SERVER_ERROR))
        }
    }
}

/// The GraphQL error for a refused or failed manifest: a refused one is `BAD_USER_INPUT`,
/// with every problem in `extensions.problems` (line, entry, key, field, message).
pub fn manifest_to_graphql(err: &ManifestError) -> Error {
    match err {
        ManifestError::Invalid(problems) => {
            let list: Vec<async_graphql::Value> = problems
                .iter()
                .map(|p| {
                    async_graphql::Value::from_json(serde_json::to_value(p).unwrap_or_default())
                        .unwrap_or_default()
                })
                .collect();
            Error::new(err.to_string()).extend_with(|_, e| {
                e.set("code", BAD_USER_INPUT);
                e.set("field", "manifest");
                e.set("problems", async_graphql::Value::List(list.clone()));
            })
        }
        ManifestError::Registry(err) => to_graphql(err),
    }
}

/// A `BAD_USER_INPUT` error about one argument or input field.
pub fn bad_input(field: &str, message: impl Into<String>) -> Error {
    to_graphql(&RegistryError::invalid(field, message))
}

/// `.api()?` turns a registry result into a GraphQL result with the right code (plain `?`
/// would lose the code through async-graphql's blanket `From<Display>`).
pub trait ApiResult<T> {
    fn api(self) -> async_graphql::Result<T>;
}

impl<T> ApiResult<T> for Result<T, RegistryError> {
    fn api(self) -> async_graphql::Result<T> {
        self.map_err(|e| to_graphql(&e))
    }
}

impl<T> ApiResult<T> for Result<T, ManifestError> {
    fn api(self) -> async_graphql::Result<T> {
        self.map_err(|e| manifest_to_graphql(&e))
    }
}

impl<T> ApiResult<T> for Result<T, Arc<RegistryError>> {
    fn api(self) -> async_graphql::Result<T> {
        self.map_err(|e| to_graphql(&e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::DbErr;

    fn code(err: &RegistryError) -> String {
        let err = to_graphql(err);
        let ext = err.extensions.expect("extensions");
        match ext.get("code") {
            Some(async_graphql::Value::String(code)) => code.clone(),
            other => panic!("no code: {other:?}"),
        }
    }

    #[test]
    fn a_refused_manifest_is_bad_user_input_with_its_problems() {
        let problem = crate::manifest::Problem {
            line: Some(12),
            entry: "recipients[0]".into(),
            key: Some("aws".into()),
            field: Some("country".into()),
            message: "not a country".into(),
        };
        let err = manifest_to_graphql(&ManifestError::Invalid(vec![problem]));
        let ext = err.extensions.expect("extensions");
        assert_eq!(
            ext.get("code"),
            Some(&async_graphql::Value::String(BAD_USER_INPUT.into()))
        );
        let Some(async_graphql::Value::List(problems)) = ext.get("problems") else {
            panic!("no problems");
        };
        assert_eq!(
            problems[0].clone().into_json().unwrap()["line"],
            serde_json::json!(12)
        );
        assert_eq!(
            code_of(&manifest_to_graphql(&ManifestError::Registry(
                RegistryError::Database(DbErr::Custom("x".into()))
            ))),
            INTERNAL_SERVER_ERROR
        );
    }

    fn code_of(err: &Error) -> String {
        match err.extensions.as_ref().and_then(|e| e.get("code")) {
            Some(async_graphql::Value::String(code)) => code.clone(),
            other => panic!("no code: {other:?}"),
        }
    }

    #[test]
    fn every_registry_error_has_its_code() {
        assert_eq!(
            code(&RegistryError::invalid("countries[0]", "bad")),
            BAD_USER_INPUT
        );
        assert_eq!(code(&RegistryError::not_found("Recipient", 1)), NOT_FOUND);
        assert_eq!(code(&RegistryError::Conflict("dup".into())), CONFLICT);
        assert_eq!(
            code(&RegistryError::Database(DbErr::Custom(
                "secret detail".into()
            ))),
            INTERNAL_SERVER_ERROR
        );
    }

    #[test]
    fn database_details_never_reach_clients() {
        let err = to_graphql(&RegistryError::Database(DbErr::Custom(
            "password=hunter2".into(),
        )));
        assert_eq!(err.message, "internal error");
    }
}
