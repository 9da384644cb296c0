//! An exact in-memory cache of decoded storage entries under chosen prefixes, in front of the
//! mount's storage: [`CachedStorage`] passes every call through to the host and keeps, for the
//! entries it covers, the value decoded by whoever read it ([`get_cached`]).
//!
//! Exact, not eventually consistent:
//! - every write through [`CachedStorage`] replaces the entry (a put keeps the bytes written,
//!   decoded again on the next read; a delete drops it). A write that fails, or whose outcome is
//!   unknown, drops it: the cache is never ahead of storage;
//! - a read that raced a write, or an invalidation, never stores what it read: a generation
//!   counter moves at every write start, write end and invalidation, and a read stores its value
//!   only if the counter did not move and no write was in flight when it started;
//! - the host's `InvalidateKey` (a standby following the active node) drops the entry through
//!   [`StorageCache::invalidate`] when the replicated storage already holds the new value, so
//!   the cache never makes a stale window longer than storage's own;
//! - it is bounded (entries and bytes; least recently used entries leave first) and can be
//!   turned off (the host's caching-disabled flag), which empties it.
//!
//! What it holds is what storage holds, decoded: never a view computed at some time. Anything
//! time-dependent (grace windows) is judged by the reader on every read.
//!
//! Beside the entries it keeps small summaries of them ([`get_summary`], `summaries.rs`) under
//! the same rules, bounded apart, so a scan over every entry need not read them all again.

use std::any::Any;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use super::storage::Storage;

/// Limits of a [`StorageCache`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheLimits {
    /// Entries kept at most.
    pub max_entries: usize,
    /// Stored bytes of the entries kept, at most (decoded values are accounted by the size of
    /// the bytes they were decoded from).
    pub max_bytes: usize,
    /// Summaries kept at most ([`get_summary`]); beyond it, new ones are not kept.
    pub max_summaries: usize,
}

/// The cache's state, shared by every [`CachedStorage`] of one mount.
pub struct StorageCache {
    prefixes: Vec<String>,
    watched: Vec<String>,
    limits: CacheLimits,
    enabled: AtomicBool,
    /// Whether entries are kept (summaries alone otherwise).
    entries: AtomicBool,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Moves at every write start, write end and invalidation.
    generation: u64,
    /// Writes to covered keys started and not finished.
    writing: usize,
    entries: HashMap<String, Slot>,
    /// Summaries of entries by key, which outlive the entries' eviction.
    summaries: HashMap<String, Arc<dyn Any + Send + Sync>>,
    bytes: usize,
    clock: u64,
    /// Watched keys written since the last [`StorageCache::take_written`] (`None` until the
    /// first call: nobody asked yet).
    written: Option<std::collections::HashSet<String>>,
}

struct Slot {
    value: Held,
    size: usize,
    used: u64,
}

#[derive(Clone)]
enum Held {
    /// Bytes this node wrote, not decoded yet.
    Raw(Arc<[u8]>),
    /// A decoded value.
    Decoded(Arc<dyn Any + Send + Sync>),
}

/// Counters for tests and metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Entries held.
    pub entries: usize,
    /// Bytes accounted.
    pub bytes: usize,
    /// Summaries held.
    pub summaries: usize,
}

impl StorageCache {
    /// A cache of the entries whose keys start with one of `prefixes`, off until
    /// [`StorageCache::set_enabled`].
    pub fn new(prefixes: &[&str], limits: CacheLimits) -> StorageCache {
        StorageCache {
            prefixes: prefixes.iter().map(|p| p.to_string()).collect(),
            watched: Vec::new(),
            limits,
            enabled: AtomicBool::new(false),
            entries: AtomicBool::new(true),
            state: Mutex::new(State::default()),
        }
    }

    /// Also records which keys under `prefixes` are written (whether or not they are cached,
    /// whether or not the cache is on), for [`StorageCache::take_written`].
    pub fn watch(mut self, prefixes: &[&str]) -> StorageCache {
        self.watched = prefixes.iter().map(|p| p.to_string()).collect();
        self
    }

    /// The watched keys written (put or deleted, successfully or not) through a
    /// [`CachedStorage`] since the previous call; the first call starts the record and returns
    /// nothing. What an index kept beside storage needs to stay exact.
    pub fn take_written(&self) -> Vec<String> {
        let mut state = self.lock();
        match state.written.replace(Default::default()) {
            Some(written) => written.into_iter().collect(),
            None => Vec::new(),
        }
    }

    fn note_written(&self, state: &mut State, key: &str) {
        if let Some(written) = state.written.as_mut() {
            if self.watched.iter().any(|p| key.starts_with(p.as_str())) {
                written.insert(key.to_string());
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every update leaves the state consistent between statements that can panic.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether `key` is one this cache keeps.
    pub fn covers(&self, key: &str) -> bool {
        self.prefixes.iter().any(|p| key.starts_with(p.as_str()))
    }

    /// Turns the cache on or off; off empties it.
    pub fn set_enabled(&self, enabled: bool) {
        self.enabled.store(enabled, Ordering::SeqCst);
        if !enabled {
            self.clear();
        }
    }

    /// Whether the cache is on.
    pub fn enabled(&self) -> bool {
        self.enabled.load(Ordering::SeqCst)
    }

    /// Keeps entries (the default) or, with `false`, summaries alone: every entry read then goes
    /// to storage, while scans still reuse summaries until the key is invalidated or the cache
    /// cleared.
    pub fn set_keep_entries(&self, keep: bool) {
        self.entries.store(keep, Ordering::SeqCst);
        let mut state = self.lock();
        state.generation += 1;
        state.entries.clear();
        state.bytes = 0;
    }

    /// Whether entries are kept (the cache on and not summaries alone).
    fn keeps_entries(&self) -> bool {
        self.enabled() && self.entries.load(Ordering::SeqCst)
    }

    /// Drops everything (a failed read after which nothing can be trusted, cleanup).
    pub fn clear(&self) {
        let mut state = self.lock();
        state.generation += 1;
        state.entries.clear();
        state.summaries.clear();
        state.bytes = 0;
    }

    /// Storage key `key` changed underneath (the host's InvalidateKey): drop it.
    pub fn invalidate(&self, key: &str) {
        if !self.covers(key) {
            return;
        }
        let mut state = self.lock();
        state.generation += 1;
        state.forget(key);
    }

    /// Entries and bytes held.
    pub fn stats(&self) -> CacheStats {
        let state = self.lock();
        CacheStats {
            entries: state.entries.len(),
            bytes: state.bytes,
            summaries: state.summaries.len(),
        }
    }

    /// A write to `key` starts: drop it, and make every read in progress forget what it read.
    fn begin_write(&self, key: &str) -> u64 {
        let mut state = self.lock();
        state.generation += 1;
        state.writing += 1;
        state.forget(key);
        state.generation
    }

    /// A write to `key` that began with `ticket` ended; `written` holds the bytes now stored if
    /// the write succeeded. They are kept only if nothing else happened meanwhile (no other
    /// write, no invalidation): otherwise which write storage applied last is unknown.
    fn end_write(&self, key: &str, ticket: u64, written: Option<Vec<u8>>) {
        let mut state = self.lock();
        self.note_written(&mut state, key);
        state.writing -= 1;
        let alone = state.generation == ticket && state.writing == 0;
        state.generation += 1;
        state.forget(key);
        if let (true, Some(bytes), true) = (alone, written, self.keeps_entries()) {
            let size = bytes.len();
            state.insert(key, Held::Raw(bytes.into()), size, self.limits);
        }
    }

    /// The held value of `key`, and the generation and whether a read started now may store
    /// what it reads.
    fn lookup(&self, key: &str) -> (Option<Held>, u64, bool) {
        let mut state = self.lock();
        state.clock += 1;
        let clock = state.clock;
        let held = state.entries.get_mut(key).map(|slot| {
            slot.used = clock;
            slot.value.clone()
        });
        (held, state.generation, state.writing == 0)
    }

    /// Stores `value`, read at `generation`, if nothing moved since.
    fn fill(&self, key: &str, generation: u64, value: Arc<dyn Any + Send + Sync>, size: usize) {
        let mut state = self.lock();
        if state.generation != generation || !self.keeps_entries() {
            return;
        }
        state.remove(key);
        state.insert(key, Held::Decoded(value), size, self.limits);
    }
}

impl State {
    /// `key` changed: drops its entry and its summary.
    fn forget(&mut self, key: &str) {
        self.remove(key);
        self.summaries.remove(key);
    }

    fn remove(&mut self, key: &str) {
        if let Some(slot) = self.entries.remove(key) {
            self.bytes -= slot.size;
        }
    }

    fn insert(&mut self, key: &str, value: Held, size: usize, limits: CacheLimits) {
        if size > limits.max_bytes || limits.max_entries == 0 {
            return;
        }
        self.clock += 1;
        let used = self.clock;
        self.bytes += size;
        self.entries
            .insert(key.to_string(), Slot { value, size, used });
        if self.entries.len() > limits.max_entries || self.bytes > limits.max_bytes {
            self.evict(limits);
        }
    }

    /// Drops the least recently used entries down to seven eighths of the limits (in one pass,
    /// so the sort is paid once per many inserts).
    fn evict(&mut self, limits: CacheLimits) {
        let max_entries = limits.max_entries - limits.max_entries / 8;
        let max_bytes = limits.max_bytes - limits.max_bytes / 8;
        let mut by_age: Vec<(u64, String)> = self
            .entries
            .iter()
            .map(|(k, s)| (s.used, k.clone()))
            .collect();
        by_age.sort_unstable();
        for (_, key) in by_age {
            if self.entries.len() <= max_entries && self.bytes <= max_bytes {
                break;
            }
            self.remove(&key);
        }
    }
}

mod cached_storage;
mod summaries;
pub use cached_storage::{get_cached, CachedStorage};
pub use summaries::get_summary;

#[cfg(test)]
mod tests;
