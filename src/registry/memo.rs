//! Reads kept between writes. The registry only changes by writes, each of which moves its
//! generation (see [`super::Registry::generation`]), so what a read gave at one generation is
//! what it gives until the next: a list's count over every matching flow (a scan), the API key
//! a secret names (read on every request that carries one), the rows the API resolves by id
//! (a recipient, a flow's data categories; see [`Lookups`]).
//!
//! One rule keeps them correct: a value is served only to reads at the generation its own
//! read began at, and nothing is kept inside a batch (whose writes are not committed). Since
//! this process moves its generation as soon as it sees a write, nothing read before a write
//! is served once it has been seen. ([`super::Registry::keeps`] also leaves out a value whose
//! generation has already passed when its read ends: no reader could use it.)

use super::{Registry, Result};
use lru::LruCache;
use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::hash::Hash;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use tokio::sync::OnceCell;

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

    /// What is kept for `key` at `generation`, or else `make()`, kept for it.
    pub fn get_or_insert(&self, key: K, generation: u64, make: impl FnOnce() -> V) -> V {
        let mut kept = self.kept();
        if let Some((read, value)) = kept.get(&key)
            && *read == generation
        {
            return value.clone();
        }
        let value = make();
        kept.put(key, (generation, value.clone()));
        value
    }
}

/// The rows the API resolves by id, kept per generation, one [`Memo`] per kind of lookup (a
/// lookup is named by a type of its own, its key type in the GraphQL loaders): the registry's
/// read model, filled as it is read, so that a page of flows after another costs no statement
/// for the recipients, terms and transfers the pages share. At most `capacity` ids of each
/// kind; none when it is 0.
#[derive(Debug)]
pub(crate) struct Lookups {
    capacity: usize,
    kinds: Mutex<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>,
}

impl Lookups {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            kinds: Mutex::new(HashMap::new()),
        }
    }

    /// The memo of the lookup `L`, by `K`, whose values are `V` (none: nothing there).
    fn memo<L, K, V>(&self) -> Option<Arc<Memo<K, Option<V>>>>
    where
        L: 'static,
        K: Hash + Eq + Send + 'static,
        V: Clone + Send + Sync + 'static,
    {
        if self.capacity == 0 {
            return None;
        }
        let mut kinds = self.kinds.lock().unwrap_or_else(|e| e.into_inner());
        let memo = kinds
            .entry(TypeId::of::<L>())
            .or_insert_with(|| Arc::new(Memo::<K, Option<V>>::new(self.capacity)))
            .clone();
        drop(kinds);
        memo.downcast().ok()
    }
}

/// The slot of values kept across writes for the lookup `L` (see [`Registry::kept_and_updated`]).
struct Updated<L>(std::marker::PhantomData<L>);

/// Values kept across writes, one per key, each behind the lock its updater holds.
type UpdatedValues<K, V> = Mutex<HashMap<K, Arc<tokio::sync::Mutex<Option<V>>>>>;

impl Lookups {
    /// The values of the lookup `L` kept across writes (none when nothing is kept).
    fn updated<L, K, V>(&self) -> Option<Arc<UpdatedValues<K, V>>>
    where
        L: 'static,
        K: Hash + Eq + Send + 'static,
        V: Send + 'static,
    {
        if self.capacity == 0 {
            return None;
        }
        let mut kinds = self.kinds.lock().unwrap_or_else(|e| e.into_inner());
        let values = kinds
            .entry(TypeId::of::<Updated<L>>())
            .or_insert_with(|| Arc::new(UpdatedValues::<K, V>::default()))
            .clone();
        drop(kinds);
        values.downcast().ok()
    }
}

impl Registry {
    /// What the read `L` gives for `key`, brought up to date by `update` from the value it
    /// last gave (`None` the first time) rather than read again after each write: for what
    /// only grows, such as the change log, where `update` reads only what was added since.
    /// One update at a time per key, so each starts from the last one's result. Outside a
    /// batch (whose writes may still roll back) and only when rows are kept (`--kept-rows`
    /// above 0); else `update` starts from nothing. Keys are few (a caller's constants).
    pub(crate) async fn kept_and_updated<L, K, V, Fut>(
        &self,
        key: K,
        update: impl FnOnce(Option<V>) -> Fut,
    ) -> Result<V>
    where
        L: 'static,
        K: Hash + Eq + Send + 'static,
        V: Clone + Send + Sync + 'static,
        Fut: Future<Output = Result<V>>,
    {
        let Some(values) = self.pool().and(self.lookups.updated::<L, K, V>()) else {
            return update(None).await;
        };
        let slot = values
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key)
            .or_default()
            .clone();
        let mut kept = slot.lock().await;
        let value = update(kept.clone()).await?;
        *kept = Some(value.clone());
        Ok(value)
    }

    /// Whether a read that began at `generation` is worth keeping: outside a batch, and when
    /// no write was seen meanwhile (else no reader could be served it).
    pub(super) fn keeps(&self, generation: u64) -> bool {
        self.pool().is_some() && self.generation() == generation
    }

    /// The memo of the lookup `L`, outside a batch.
    fn lookup_memo<L, K, V>(&self) -> Option<Arc<Memo<K, Option<V>>>>
    where
        L: 'static,
        K: Hash + Eq + Send + 'static,
        V: Clone + Send + Sync + 'static,
    {
        self.pool()?;
        self.lookups.memo::<L, K, V>()
    }

    /// What the read `L` gives for `key`: the value kept at this generation, or what `read`
    /// gives, kept for the next reader. Readers who come while it is read wait for it rather
    /// than read it too (after a write, every customer asks for the list at once).
    pub(crate) async fn kept<L, K, V, Fut>(&self, key: K, read: impl FnOnce() -> Fut) -> Result<V>
    where
        L: 'static,
        K: Hash + Eq + Send + 'static,
        V: Clone + Send + Sync + 'static,
        Fut: Future<Output = Result<V>>,
    {
        let generation = self.generation();
        let Some(memo) = self.lookup_memo::<L, K, Arc<OnceCell<V>>>() else {
            return read().await;
        };
        let cell = memo
            .get_or_insert(key, generation, || Some(Arc::default()))
            .unwrap_or_default();
        Ok(cell.get_or_try_init(read).await?.clone())
    }

    /// What the lookup `L` gives for each of `ids` (ids with nothing are left out): the values
    /// kept at this generation, and for the others what `read` gives, kept for the next reader.
    pub async fn kept_by_id<L, V, F, Fut>(&self, ids: &[i32], read: F) -> Result<HashMap<i32, V>>
    where
        L: 'static,
        V: Clone + Send + Sync + 'static,
        F: FnOnce(Vec<i32>) -> Fut,
        Fut: Future<Output = Result<HashMap<i32, V>>>,
    {
        let generation = self.generation();
        let Some(memo) = self.lookup_memo::<L, i32, V>() else {
            return read(ids.to_vec()).await;
        };
        let mut found = HashMap::with_capacity(ids.len());
        let mut missing = Vec::new();
        {
            let mut kept = memo.kept();
            for &id in ids {
                match kept.get(&id) {
                    Some((read_at, value)) if *read_at == generation => {
                        if let Some(value) = value {
                            found.insert(id, value.clone());
                        }
                    }
                    _ => missing.push(id),
                }
            }
        }
        if missing.is_empty() {
            return Ok(found);
        }
        // Many flows name one recipient: read, and keep, each id once.
        missing.sort_unstable();
        missing.dedup();
        let mut read = read(missing.clone()).await?;
        let keep = self.keeps(generation);
        let mut kept = memo.kept();
        for id in missing {
            let value = read.remove(&id);
            if keep {
                kept.put(id, (generation, value.clone()));
            }
            if let Some(value) = value {
                found.insert(id, value);
            }
        }
        Ok(found)
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
