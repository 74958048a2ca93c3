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
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

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

/// A position in the change log, as a cursor carries it: after the event with a sequence
/// number, or, in the cursors of public events, after the public event with a public position
/// (its rank among public events), so that what the public is given counts public events only.
/// 0 is the start of the log, before its first event, either way.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ChangeKey {
    /// After the event with this sequence number (`change:{seq}`, as cursors always were).
    Seq(i64),
    /// After the public event with this public position (`change:{"public":n}`).
    Public { public: i64 },
}

impl CursorKey for ChangeKey {
    const PREFIX: &'static str = "change";
    const NAME: &'static str = "change cursor";

    fn is_valid(&self) -> bool {
        match self {
            Self::Seq(n) | Self::Public { public: n } => *n >= 0,
        }
    }

    fn is_start(&self) -> bool {
        matches!(self, Self::Seq(0) | Self::Public { public: 0 })
    }
}

impl ChangeKey {
    /// The start of the log.
    pub const START: Self = Self::Seq(0);

    /// The position after the event with sequence number `seq`, as its cursor names it: by its
    /// public position when it is public, so that the public counts public events only.
    pub fn of(seq: i64, public_seq: Option<i64>) -> Self {
        match public_seq {
            Some(public) => Self::Public { public },
            None => Self::Seq(seq),
        }
    }

    /// The sequence number this position is after. A public position names its event, which
    /// must exist: a cursor for one that does not was never issued.
    pub async fn seq(self, conn: &impl sea_orm::ConnectionTrait) -> Result<i64> {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
        let public = match self {
            Self::Seq(seq) => return Ok(seq),
            Self::Public { public: 0 } => return Ok(0),
            Self::Public { public } => public,
        };
        let seq: Option<i64> = entity::change_event::Entity::find()
            .select_only()
            .column(entity::change_event::Column::Seq)
            .filter(entity::change_event::Column::PublicSeq.eq(public))
            .into_tuple()
            .one(conn)
            .await?;
        seq.ok_or_else(|| {
            RegistryError::invalid("after", "not a change cursor returned by this API")
        })
    }
}

/// The cursor of the change-log event with sequence number `seq`, read from the log.
pub async fn cursor_of_change(conn: &impl sea_orm::ConnectionTrait, seq: i64) -> Result<String> {
    use sea_orm::{EntityTrait, QuerySelect};
    let public: Option<Option<i64>> = entity::change_event::Entity::find_by_id(seq)
        .select_only()
        .column(entity::change_event::Column::PublicSeq)
        .into_tuple()
        .one(conn)
        .await?;
    Ok(change_cursor(seq, public.flatten()))
}

/// The cursor of the change-log event with sequence number `seq` (and public position
/// `public_seq`, when public): every rendering of an event's position is this one.
pub fn change_cursor(seq: i64, public_seq: Option<i64>) -> String {
    encode(&ChangeKey::of(seq, public_seq))
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
