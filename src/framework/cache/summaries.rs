//! Summaries: a small value derived from a covered entry (what a report needs of it), kept
//! beside the entries under the same exactness rules and dropped with them, but bounded apart
//! ([`super::CacheLimits::max_summaries`]): a scan over every entry reads storage only for the
//! entries changed since it last ran, while the hot entries keep the entry slots.
//!
//! - A write to the key (start and end), the host's invalidation and [`StorageCache::clear`]
//!   drop its summary (`State::forget`); evicting the entry does not.
//! - A summary computed from a read stores only if the generation did not move and no write was
//!   in flight when the read started, as for entries: a raced value is used once, not kept.
//! - Nothing time-dependent belongs in a summary: the reader judges times at every read.

use std::any::Any;
use std::future::Future;
use std::sync::Arc;

use super::{Storage, StorageCache};

impl StorageCache {
    /// The summary held for `key`, the generation, and whether a value read now may be kept.
    fn lookup_summary(&self, key: &str) -> (Option<Arc<dyn Any + Send + Sync>>, u64, bool) {
        let state = self.lock();
        let held = state.summaries.get(key).cloned();
        (held, state.generation, state.writing == 0)
    }

    /// Keeps `value`, computed from a read started at `generation`, if nothing moved since and
    /// there is room (or it replaces one).
    fn fill_summary(&self, key: &str, generation: u64, value: Arc<dyn Any + Send + Sync>) {
        let mut state = self.lock();
        if state.generation != generation || !self.enabled() {
            return;
        }
        if state.summaries.len() >= self.limits.max_summaries && !state.summaries.contains_key(key)
        {
            return;
        }
        state.summaries.insert(key.to_string(), value);
    }
}

/// The summary of covered entry `key`: the one held if the entry has not changed since it was
/// computed, otherwise `read()` (which reads the entry, through the cache, and summarizes it;
/// `None` when there is none), kept for next time when nothing raced it. Without a cache, or
/// with it off, always `read()`.
pub async fn get_summary<S, E, F, Fut>(
    storage: &dyn Storage,
    key: &str,
    read: F,
) -> Result<Option<Arc<S>>, E>
where
    S: Any + Send + Sync,
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<Option<S>, E>>,
{
    let cache = storage.cache().filter(|c| c.enabled() && c.covers(key));
    let Some(cache) = cache else {
        return Ok(read().await?.map(Arc::new));
    };
    let (held, generation, may_fill) = cache.lookup_summary(key);
    if let Some(held) = held {
        if let Ok(summary) = held.downcast::<S>() {
            return Ok(Some(summary));
        }
    }
    let Some(summary) = read().await?.map(Arc::new) else {
        return Ok(None);
    };
    if may_fill {
        cache.fill_summary(key, generation, summary.clone());
    }
    Ok(Some(summary))
}
