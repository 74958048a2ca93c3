//! Answers kept to serve repeated queries as bytes.
//!
//! An answer depends on the registry, on the day, and on the request: its document, operation
//! name and variables, and its caller's audience (the role; see `Caller::audience`). The
//! registry moves only by writes, and every write moves the registry's generation in every
//! process sharing the database ([`crate::registry::Registry::generation`]); what the date
//! decides (the adequacy decisions in force, the age of an assessment) changes with the day of
//! the registry's clock. So an answer computed at one generation on one day, for one request and
//! one audience, is the answer until either moves. (An instant an answer gives as "now", such
//! as a record's `generatedAt`, is the one it was computed at.)
//! This cache keeps such answers, with their strong entity tag (a hash of the bytes), bounded in
//! memory (least recently used first out). Only complete answers of queries are kept: nothing
//! with an error, nothing of a mutation or a subscription.

use crate::graphql::auth::Audience;
use axum::body::Bytes;
use lru::LruCache;
use sha2::{Digest, Sha256};
use std::sync::{Arc, Mutex};

/// What an answer is the answer to.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AnswerKey {
    audience: Audience,
    asked: Asked,
}

/// The request an answer answers.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Asked {
    /// A GraphQL operation.
    Operation {
        query: String,
        operation_name: Option<String>,
        /// The variables as JSON text, object keys sorted (serde_json's maps are ordered).
        variables: String,
    },
    /// A page or a file served by GET: its path and query string.
    Page(String),
}

impl AnswerKey {
    pub fn new(audience: Audience, request: &async_graphql::Request) -> Self {
        Self {
            audience,
            asked: Asked::Operation {
                query: request.query.clone(),
                operation_name: request.operation_name.clone(),
                variables: serde_json::to_string(&request.variables).unwrap_or_default(),
            },
        }
    }

    /// The page at `path_and_query`, as `audience` sees it.
    pub fn page(audience: Audience, path_and_query: String) -> Self {
        Self {
            audience,
            asked: Asked::Page(path_and_query),
        }
    }

    fn bytes(&self) -> usize {
        match &self.asked {
            Asked::Operation {
                query,
                operation_name,
                variables,
            } => query.len() + variables.len() + operation_name.as_ref().map_or(0, String::len),
            Asked::Page(path) => path.len(),
        }
    }
}

/// An answer as it is sent, with its entity tag.
#[derive(Clone, Debug)]
pub struct Answer {
    pub body: Bytes,
    /// A strong entity tag (RFC 9110, 8.8.3): the same bytes, the same tag.
    pub etag: String,
    /// The operation's name, for the metrics of the requests it serves.
    pub operation: Option<String>,
    /// When what the answer shows last changed, where it says (a feed's newest entry).
    pub modified: Option<chrono::DateTime<chrono::Utc>>,
}

impl Answer {
    pub fn new(body: Bytes, operation: Option<String>) -> Self {
        let digest = Sha256::digest(&body);
        Self {
            etag: format!("\"{}\"", hex::encode(&digest[..16])),
            body,
            operation,
            modified: None,
        }
    }

    /// The answer, saying what it shows last changed at `at`.
    pub fn modified_at(self, at: chrono::DateTime<chrono::Utc>) -> Self {
        Self {
            modified: Some(at),
            ..self
        }
    }
}

/// When an answer was computed: the registry's generation and the day.
pub type Moment = (u64, chrono::NaiveDate);

struct Kept {
    generation: Moment,
    answer: Arc<Answer>,
    bytes: usize,
}

struct Entries {
    lru: LruCache<AnswerKey, Kept>,
    bytes: usize,
}

/// The answers kept, at most `budget` bytes of them.
pub struct AnswerCache {
    entries: Mutex<Entries>,
    budget: usize,
}

impl AnswerCache {
    pub fn new(budget: usize) -> Self {
        Self {
            entries: Mutex::new(Entries {
                lru: LruCache::unbounded(),
                bytes: 0,
            }),
            budget,
        }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The answer kept for `key` if it was computed at `generation`.
    pub fn get(&self, key: &AnswerKey, generation: Moment) -> Option<Arc<Answer>> {
        let mut entries = self.entries();
        match entries.lru.get(key) {
            Some(kept) if kept.generation == generation => Some(kept.answer.clone()),
            Some(_) => {
                // Out of date: drop it now rather than let it take room.
                if let Some(stale) = entries.lru.pop(key) {
                    entries.bytes -= stale.bytes;
                }
                None
            }
            None => None,
        }
    }

    /// Keeps `answer` for `key`, computed entirely at `generation`.
    pub fn put(&self, key: AnswerKey, generation: Moment, answer: Arc<Answer>) {
        let bytes = key.bytes() + answer.body.len() + answer.etag.len() + 64;
        if bytes > self.budget {
            return;
        }
        let mut entries = self.entries();
        if let Some(old) = entries.lru.put(
            key,
            Kept {
                generation,
                answer,
                bytes,
            },
        ) {
            entries.bytes -= old.bytes;
        }
        entries.bytes += bytes;
        while entries.bytes > self.budget {
            match entries.lru.pop_lru() {
                Some((_, evicted)) => entries.bytes -= evicted.bytes,
                None => break,
            }
        }
    }

    /// Bytes kept now.
    pub fn bytes(&self) -> usize {
        self.entries().bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use entity::Role;

    fn at(generation: u64) -> Moment {
        (
            generation,
            chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
        )
    }

    fn key(audience: Audience, query: &str) -> AnswerKey {
        AnswerKey::new(audience, &async_graphql::Request::new(query))
    }

    #[test]
    fn an_answer_serves_its_own_request_audience_and_generation_only() {
        let cache = AnswerCache::new(1 << 20);
        let answer = Arc::new(Answer::new(Bytes::from_static(b"{\"data\":{}}"), None));
        cache.put(
            key(Audience::Role(Role::Viewer), "{ a }"),
            at(7),
            answer.clone(),
        );
        assert!(
            cache
                .get(&key(Audience::Role(Role::Viewer), "{ a }"), at(7))
                .is_some()
        );
        assert!(
            cache.get(&key(Audience::Public, "{ a }"), at(7)).is_none(),
            "another audience"
        );
        assert!(
            cache
                .get(&key(Audience::Role(Role::Viewer), "{ b }"), at(7))
                .is_none()
        );
        let next_day = (7, chrono::NaiveDate::from_ymd_opt(2026, 12, 2).unwrap());
        assert!(
            cache
                .get(&key(Audience::Role(Role::Viewer), "{ a }"), next_day)
                .is_none(),
            "a new day"
        );
        cache.put(
            key(Audience::Role(Role::Viewer), "{ a }"),
            at(7),
            answer.clone(),
        );
        assert!(
            cache
                .get(&key(Audience::Role(Role::Viewer), "{ a }"), at(8))
                .is_none(),
            "moved on"
        );
        assert_eq!(cache.bytes(), 0, "an answer out of date is dropped");
        let with_variables = AnswerKey::new(
            Audience::Role(Role::Viewer),
            &async_graphql::Request::new("{ a }").variables(async_graphql::Variables::from_json(
                serde_json::json!({"x": 1}),
            )),
        );
        assert_ne!(with_variables, key(Audience::Role(Role::Viewer), "{ a }"));
    }

    #[test]
    fn memory_stays_within_the_budget() {
        let cache = AnswerCache::new(10_000);
        for i in 0..100 {
            let body = Bytes::from(vec![b'x'; 500]);
            cache.put(
                key(Audience::Public, &format!("{{ a{i} }}")),
                at(1),
                Arc::new(Answer::new(body, None)),
            );
            assert!(cache.bytes() <= 10_000);
        }
        assert!(
            cache
                .get(&key(Audience::Public, "{ a99 }"), at(1))
                .is_some(),
            "the newest stays"
        );
        assert!(
            cache.get(&key(Audience::Public, "{ a0 }"), at(1)).is_none(),
            "the oldest went"
        );
    }

    #[test]
    fn the_tag_follows_the_bytes() {
        let a = Answer::new(Bytes::from_static(b"one"), None);
        assert_eq!(a.etag, Answer::new(Bytes::from_static(b"one"), None).etag);
        assert_ne!(a.etag, Answer::new(Bytes::from_static(b"two"), None).etag);
        assert!(a.etag.starts_with('"') && a.etag.ends_with('"'));
    }
}
