//! Relay global object IDs: opaque to clients, checked on the way in. (Pagination cursors are
//! in [`super::cursor`].)

use super::error::bad_input;
use async_graphql::ID;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Encodes the global ID of a `type_name` row.
pub fn global_id(type_name: &str, id: i32) -> ID {
    ID(URL_SAFE_NO_PAD.encode(format!("{type_name}:{id}")))
}

/// The type name and row id inside a global ID.
pub fn parse_global_id(id: &ID) -> Option<(String, i32)> {
    let bytes = URL_SAFE_NO_PAD.decode(id.as_str()).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (type_name, row) = text.split_once(':')?;
    Some((type_name.to_owned(), row.parse().ok()?))
}

/// The row id of a global ID that must name a `type_name`; `field` names the argument in the
/// error.
pub fn expect_id(field: &str, type_name: &str, id: &ID) -> async_graphql::Result<i32> {
    match parse_global_id(id) {
        Some((t, row)) if t == type_name => Ok(row),
        _ => Err(bad_input(
            field,
            format!("`{}` is not a {type_name} ID", truncate(id)),
        )),
    }
}

/// Like [`expect_id`], for a list.
pub fn expect_ids(field: &str, type_name: &str, ids: &[ID]) -> async_graphql::Result<Vec<i32>> {
    ids.iter()
        .enumerate()
        .map(|(i, id)| expect_id(&format!("{field}[{i}]"), type_name, id))
        .collect()
}

fn truncate(id: &ID) -> String {
    id.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_check_their_type() {
        let id = global_id("Recipient", 42);
        assert_eq!(parse_global_id(&id), Some(("Recipient".into(), 42)));
        assert_eq!(expect_id("id", "Recipient", &id).unwrap(), 42);
        assert!(expect_id("id", "DataFlow", &id).is_err());
        assert!(expect_id("id", "Recipient", &ID("garbage!".into())).is_err());
    }
}
