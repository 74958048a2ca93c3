//! The API's cursors: the registry's codec ([`crate::registry::cursor`]), its refusals as
//! GraphQL errors with their code.

use super::error::ApiResult;
pub use crate::registry::cursor::{CursorKey, encode};

/// The key behind an optional `after` argument; `BAD_USER_INPUT` naming `after` when it is not
/// a cursor of this list.
pub fn decode_after<K: CursorKey>(after: Option<&str>) -> async_graphql::Result<Option<K>> {
    after
        .map(|cursor| crate::registry::cursor::decode("after", cursor))
        .transpose()
        .api()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::changes::ChangeKey;

    #[test]
    fn a_refused_cursor_is_bad_user_input_naming_after() {
        let err = decode_after::<ChangeKey>(Some("nope")).unwrap_err();
        assert_eq!(
            err.message,
            "after: not a change cursor returned by this API"
        );
        let ext = err.extensions.expect("extensions");
        assert_eq!(
            ext.get("code"),
            Some(&async_graphql::Value::from("BAD_USER_INPUT"))
        );
        assert_eq!(ext.get("field"), Some(&async_graphql::Value::from("after")));
    }
}
