//! Cursors: one codec for every list, one key type per list. The API's pagination cursors, the
//! change feed's resume positions and the webhook ids of notices all come from here.
//!
//! A cursor is the base64url (no padding) of `{prefix}:{key}`, the key written as JSON. The
//! prefix names the list, so a cursor of one list is refused by another; the key is what the
//! registry resumes the list after ([`crate::registry::Keyed`]). A key that is a bare number
//! reads as that number, so data-flow cursors are `cursor:{flow id}` and change cursors
//! `change:{sequence}` exactly as they always were: customers store change cursors to resume
//! their subscriptions, and those keep decoding.

use super::error::{RegistryError, Result};
use super::pages::{ActivityKey, FlowKey, ObjectionKey, RecipientKey};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The key of one list's cursors.
pub trait CursorKey: Serialize + DeserializeOwned {
    /// The list's prefix, unique among the lists.
    const PREFIX: &'static str;
    /// What a refused cursor is called in the error ("not a {NAME} returned by this API").
    const NAME: &'static str;

    /// Whether a decoded key is one this list can have issued.
    fn is_valid(&self) -> bool {
        true
    }

    /// Whether the key is the position before the list's first item, so that nothing
    /// precedes a page after it.
    fn is_start(&self) -> bool {
        false
    }
}

impl CursorKey for FlowKey {
    const PREFIX: &'static str = "cursor";
    const NAME: &'static str = "cursor";
}

impl CursorKey for RecipientKey {
    const PREFIX: &'static str = "recipient";
    const NAME: &'static str = "recipient cursor";
}

impl CursorKey for ActivityKey {
    const PREFIX: &'static str = "activity";
    const NAME: &'static str = "processing activity cursor";
}

impl CursorKey for ObjectionKey {
    const PREFIX: &'static str = "objection";
    const NAME: &'static str = "objection cursor";
}

impl CursorKey for super::notices::register::DeliveryKey {
    const PREFIX: &'static str = "delivery";
    const NAME: &'static str = "notice register cursor";
}

/// The cursor of `key`.
pub fn encode<K: CursorKey>(key: &K) -> String {
    // A key of numbers, strings and instants always serializes.
    let key = serde_json::to_string(key).unwrap_or_default();
    URL_SAFE_NO_PAD.encode(format!("{}:{key}", K::PREFIX))
}

/// The key behind `cursor`; an input error naming the argument `field` when it is not a cursor
/// of this list.
pub fn decode<K: CursorKey>(field: &str, cursor: &str) -> Result<K> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| {
            let key = text.strip_prefix(K::PREFIX)?.strip_prefix(':')?;
            serde_json::from_str::<K>(key).ok()
        })
        .filter(K::is_valid)
        .ok_or_else(|| {
            RegistryError::invalid(field, format!("not a {} returned by this API", K::NAME))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn text(cursor: &str) -> String {
        String::from_utf8(URL_SAFE_NO_PAD.decode(cursor).unwrap()).unwrap()
    }

    #[test]
    fn flow_cursors_keep_their_encoding() {
        assert_eq!(encode(&FlowKey(7)), URL_SAFE_NO_PAD.encode("cursor:7"));
        // A cursor issued before this module existed.
        assert_eq!(
            decode::<FlowKey>("after", "Y3Vyc29yOjc").unwrap(),
            FlowKey(7)
        );
    }

    #[test]
    fn keys_round_trip() {
        let recipient = RecipientKey("Amazon Web Services EMEA SARL: \"AWS\"".into(), 3);
        assert_eq!(
            decode::<RecipientKey>("after", &encode(&recipient)).unwrap(),
            recipient
        );
        let activity = ActivityKey("SMS messaging".into(), 12);
        assert_eq!(
            decode::<ActivityKey>("after", &encode(&activity)).unwrap(),
            activity
        );
        let at = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap()
            + chrono::Duration::nanoseconds(123_456_789);
        let objection = ObjectionKey(at, 9);
        assert_eq!(
            decode::<ObjectionKey>("after", &encode(&objection)).unwrap(),
            objection
        );
        assert!(text(&encode(&objection)).starts_with("objection:"));
    }

    #[test]
    fn a_cursor_of_another_list_or_no_cursor_is_refused() {
        let err = decode::<FlowKey>("after", &encode(&RecipientKey("x".into(), 1))).unwrap_err();
        assert!(
            matches!(err, RegistryError::Invalid { ref field, ref message }
                if field == "after" && message == "not a cursor returned by this API"),
            "{err:?}"
        );
        let recipient = encode(&RecipientKey("x".into(), 1));
        assert!(decode::<ActivityKey>("after", &recipient).is_err());
        assert!(decode::<RecipientKey>("after", &encode(&ActivityKey("x".into(), 1))).is_err());
        assert!(decode::<FlowKey>("after", "nope").is_err());
        assert!(!FlowKey(0).is_start());
    }
}
