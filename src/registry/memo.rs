//! Reads kept between writes. The registry only changes by writes, each of which moves its
//! generation (see [`super::Registry::generation`]), so what a read gave at one generation is
//! what it gives until the next: a list's count over every matching flow (a scan), the API key
//! a secret names (read on every request that carries one).

use lru::LruCache;
use std::hash::Hash;
use std::num::NonZeroUsize;
use std::sync::Mutex;

/// Reads kept, by what was read, each with the generation it was read at; the least recently
/// used go first beyond the capacity.
#[derive(Debug)]
pub(crate) struct Memo<K: Hash + Eq, V>(Mutex<LruCache<K, (u64, V)>>);

impl<K: Hash + Eq, V: Clone> Memo<K, V> {
    pub fn new(capacity: usize) -> Self {
        Self(Mutex::new(LruCache::new(
            NonZeroUsize::new(capacity.max(1)).expect("a positive size"),
        )))
    }

    fn kept(&self) -> std::sync::MutexGuard<'_, LruCache<K, (u64, V)>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// What reading `key` gave at `generation`, if it was read then.
    pub fn get(&self, key: &K, generation: u64) -> Option<V> {
        match self.kept().get(key) {
            Some((read, value)) if *read == generation => Some(value.clone()),
            _ => None,
        }
    }

    /// Keeps `value`, read entirely at `generation`.
    pub fn put(&self, key: K, generation: u64, value: V) {
        self.kept().put(key, (generation, value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_serves_its_own_key_and_generation_only() {
        let counts = Memo::new(2);
        counts.put("SELECT COUNT(*) FROM a", 3, 42);
        assert_eq!(counts.get(&"SELECT COUNT(*) FROM a", 3), Some(42));
        assert_eq!(
            counts.get(&"SELECT COUNT(*) FROM a", 4),
            None,
            "a write since"
        );
        assert_eq!(counts.get(&"SELECT COUNT(*) FROM b", 3), None);
    }
}
