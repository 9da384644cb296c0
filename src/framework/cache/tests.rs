use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::Semaphore;

use super::*;
use crate::framework::{InMemoryStorage, StorageError};

/// In-memory storage that counts gets and can hold a get (after it read its value) or a put
/// (before it stores) until released.
struct Probe {
    inner: InMemoryStorage,
    gets: AtomicUsize,
    hold_gets: AtomicBool,
    hold_puts: AtomicBool,
    fail_puts: AtomicBool,
    gate: Semaphore,
}

impl Default for Probe {
    fn default() -> Probe {
        Probe {
            inner: InMemoryStorage::new(),
            gets: AtomicUsize::new(0),
            hold_gets: AtomicBool::new(false),
            hold_puts: AtomicBool::new(false),
            fail_puts: AtomicBool::new(false),
            gate: Semaphore::new(0),
        }
    }
}

impl Probe {
    fn release(&self) {
        self.gate.add_permits(1);
    }
}

#[async_trait::async_trait]
impl Storage for Probe {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        self.gets.fetch_add(1, Ordering::SeqCst);
        let value = self.inner.get(key).await?;
        if self.hold_gets.load(Ordering::SeqCst) {
            self.gate.acquire().await.expect("gate").forget();
        }
        Ok(value)
    }
    async fn put(&self, key: &str, value: Vec<u8>) -> Result<(), StorageError> {
        if self.hold_puts.load(Ordering::SeqCst) {
            self.gate.acquire().await.expect("gate").forget();
        }
        // A failed put whose outcome the caller cannot know: it did land.
        self.inner.put(key, value).await?;
        if self.fail_puts.load(Ordering::SeqCst) {
            return Err(StorageError("timeout".into()));
        }
        Ok(())
    }
    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        self.inner.delete(key).await
    }
    async fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        self.inner.list(prefix).await
    }
}

const LIMITS: CacheLimits = CacheLimits {
    max_entries: 100,
    max_bytes: 1 << 20,
    max_summaries: 4,
};

fn setup(limits: CacheLimits) -> (Arc<Probe>, Arc<StorageCache>, Arc<CachedStorage>) {
    let probe = Arc::new(Probe::default());
    let cache = Arc::new(StorageCache::new(&["k/"], limits));
    cache.set_enabled(true);
    let storage = Arc::new(CachedStorage::new(probe.clone(), cache.clone()));
    (probe, cache, storage)
}

fn text(b: &[u8]) -> Result<String, StorageError> {
    Ok(String::from_utf8(b.to_vec()).expect("utf-8"))
}

async fn read(s: &dyn Storage, key: &str) -> Option<String> {
    get_cached(s, key, true, text)
        .await
        .unwrap()
        .map(|v| v.as_ref().clone())
}

fn gets(p: &Probe) -> usize {
    p.gets.load(Ordering::SeqCst)
}

/// Stores "old" at `k/a`, then starts a read of it through `s` that has its value from storage
/// but is held before it can fill the cache ([`Probe::release`] lets it go).
async fn held_read_of_old(
    probe: &Arc<Probe>,
    s: &Arc<CachedStorage>,
) -> tokio::task::JoinHandle<Option<String>> {
    probe.inner.put("k/a", b"old".to_vec()).await.unwrap();
    probe.hold_gets.store(true, Ordering::SeqCst);
    let reader = tokio::spawn({
        let s = s.clone();
        async move { read(s.as_ref(), "k/a").await }
    });
    while gets(probe) == 0 {
        tokio::task::yield_now().await;
    }
    reader
}

#[tokio::test]
async fn a_warm_read_does_not_reach_storage() {
    let (probe, _, s) = setup(LIMITS);
    probe.inner.put("k/a", b"one".to_vec()).await.unwrap();
    assert_eq!(read(s.as_ref(), "k/a").await.as_deref(), Some("one"));
    assert_eq!(read(s.as_ref(), "k/a").await.as_deref(), Some("one"));
    assert_eq!(gets(&probe), 1);
    // Keys outside the prefixes, and absent keys, always go to storage.
    probe.inner.put("other", b"x".to_vec()).await.unwrap();
    read(s.as_ref(), "other").await;
    read(s.as_ref(), "other").await;
    read(s.as_ref(), "k/absent").await;
    read(s.as_ref(), "k/absent").await;
    assert_eq!(gets(&probe), 5);
}

#[tokio::test]
async fn an_own_write_replaces_the_entry_and_a_delete_drops_it() {
    let (probe, _, s) = setup(LIMITS);
    s.put("k/a", b"one".to_vec()).await.unwrap();
    assert_eq!(read(s.as_ref(), "k/a").await.as_deref(), Some("one"));
    s.put("k/a", b"two".to_vec()).await.unwrap();
    assert_eq!(read(s.as_ref(), "k/a").await.as_deref(), Some("two"));
    assert_eq!(
        gets(&probe),
        0,
        "written bytes are decoded without a round trip"
    );
    s.delete("k/a").await.unwrap();
    assert_eq!(read(s.as_ref(), "k/a").await, None);
}

#[tokio::test]
async fn a_failed_write_leaves_nothing_cached() {
    let (probe, cache, s) = setup(LIMITS);
    s.put("k/a", b"one".to_vec()).await.unwrap();
    assert_eq!(read(s.as_ref(), "k/a").await.as_deref(), Some("one"));
    // Refused: storage keeps "one", and so does the next read.
    probe.inner.set_read_only(true);
    s.put("k/a", b"two".to_vec()).await.unwrap_err();
    assert_eq!(cache.stats().entries, 0);
    probe.inner.set_read_only(false);
    assert_eq!(read(s.as_ref(), "k/a").await.as_deref(), Some("one"));
    // Failed after landing: the next read sees what storage holds.
    probe.fail_puts.store(true, Ordering::SeqCst);
    s.put("k/a", b"three".to_vec()).await.unwrap_err();
    assert_eq!(read(s.as_ref(), "k/a").await.as_deref(), Some("three"));
}

#[tokio::test]
async fn a_cancelled_write_leaves_nothing_cached() {
    let (probe, cache, s) = setup(LIMITS);
    s.put("k/a", b"one".to_vec()).await.unwrap();
    probe.hold_puts.store(true, Ordering::SeqCst);
    let write = s.put("k/a", b"two".to_vec());
    let timed_out = tokio::time::timeout(std::time::Duration::from_millis(10), write).await;
    assert!(timed_out.is_err());
    assert_eq!(cache.stats().entries, 0);
    probe.hold_puts.store(false, Ordering::SeqCst);
    assert_eq!(read(s.as_ref(), "k/a").await.as_deref(), Some("one"));
    assert_eq!(gets(&probe), 1);
}

#[tokio::test]
async fn a_read_that_raced_a_write_does_not_store_the_old_value() {
    let (probe, _, s) = setup(LIMITS);
    let reader = held_read_of_old(&probe, &s).await;
    // The write lands and finishes meanwhile.
    s.put("k/a", b"new".to_vec()).await.unwrap();
    probe.release();
    assert_eq!(reader.await.unwrap().as_deref(), Some("old"));
    probe.hold_gets.store(false, Ordering::SeqCst);
    assert_eq!(read(s.as_ref(), "k/a").await.as_deref(), Some("new"));
}

#[tokio::test]
async fn a_read_that_raced_an_invalidation_does_not_store_the_old_value() {
    let (probe, cache, s) = setup(LIMITS);
    let reader = held_read_of_old(&probe, &s).await;
    // The active node's write replicates, then the host invalidates.
    probe.inner.put("k/a", b"new".to_vec()).await.unwrap();
    cache.invalidate("k/a");
    probe.release();
    assert_eq!(reader.await.unwrap().as_deref(), Some("old"));
    probe.hold_gets.store(false, Ordering::SeqCst);
    assert_eq!(read(s.as_ref(), "k/a").await.as_deref(), Some("new"));
}

#[tokio::test]
async fn an_invalidation_drops_the_entry() {
    let (probe, cache, s) = setup(LIMITS);
    probe.inner.put("k/a", b"old".to_vec()).await.unwrap();
    assert_eq!(read(s.as_ref(), "k/a").await.as_deref(), Some("old"));
    probe.inner.put("k/a", b"new".to_vec()).await.unwrap();
    // Without the host's word, the cache keeps what it had (it is in use).
    assert_eq!(read(s.as_ref(), "k/a").await.as_deref(), Some("old"));
    cache.invalidate("k/a");
    assert_eq!(read(s.as_ref(), "k/a").await.as_deref(), Some("new"));
}

#[tokio::test]
async fn overlapping_writes_leave_nothing_cached() {
    let (probe, cache, s) = setup(LIMITS);
    probe.hold_puts.store(true, Ordering::SeqCst);
    let first = tokio::spawn({
        let s = s.clone();
        async move { s.put("k/a", b"first".to_vec()).await }
    });
    let second = tokio::spawn({
        let s = s.clone();
        async move { s.put("k/a", b"second".to_vec()).await }
    });
    while cache.lock().writing < 2 {
        tokio::task::yield_now().await;
    }
    probe.release();
    probe.release();
    first.await.unwrap().unwrap();
    second.await.unwrap().unwrap();
    // Storage applied one of them last; the cache cannot know which, so it holds neither.
    assert_eq!(cache.stats().entries, 0);
    probe.hold_puts.store(false, Ordering::SeqCst);
    let stored = String::from_utf8(probe.inner.get("k/a").await.unwrap().unwrap()).unwrap();
    assert_eq!(read(s.as_ref(), "k/a").await, Some(stored));
}

#[tokio::test]
async fn the_cache_is_bounded_and_keeps_the_recently_used() {
    let limits = CacheLimits {
        max_entries: 8,
        max_bytes: 1 << 20,
        max_summaries: 4,
    };
    let (probe, cache, s) = setup(limits);
    for i in 0..8 {
        probe
            .inner
            .put(&format!("k/{i}"), vec![b'x'; 10])
            .await
            .unwrap();
        read(s.as_ref(), &format!("k/{i}")).await;
    }
    read(s.as_ref(), "k/0").await;
    for i in 8..20 {
        probe
            .inner
            .put(&format!("k/{i}"), vec![b'x'; 10])
            .await
            .unwrap();
        read(s.as_ref(), &format!("k/{i}")).await;
        read(s.as_ref(), "k/0").await;
    }
    assert!(cache.stats().entries <= 8, "{:?}", cache.stats());
    let before = gets(&probe);
    read(s.as_ref(), "k/0").await;
    assert_eq!(gets(&probe), before, "the hottest entry stayed");

    let small = CacheLimits {
        max_entries: 100,
        max_bytes: 100,
        max_summaries: 4,
    };
    let (probe, cache, s) = setup(small);
    for i in 0..20 {
        probe
            .inner
            .put(&format!("k/{i}"), vec![b'x'; 30])
            .await
            .unwrap();
        read(s.as_ref(), &format!("k/{i}")).await;
        assert!(cache.stats().bytes <= 100, "{:?}", cache.stats());
    }
}

#[tokio::test]
async fn a_disabled_cache_or_a_scan_keeps_nothing() {
    let (probe, cache, s) = setup(LIMITS);
    probe.inner.put("k/a", b"one".to_vec()).await.unwrap();
    read(s.as_ref(), "k/a").await;
    assert_eq!(cache.stats().entries, 1);
    cache.set_enabled(false);
    assert_eq!(cache.stats().entries, 0);
    read(s.as_ref(), "k/a").await;
    s.put("k/a", b"two".to_vec()).await.unwrap();
    assert_eq!(read(s.as_ref(), "k/a").await.as_deref(), Some("two"));
    assert_eq!(cache.stats().entries, 0);
    assert_eq!(gets(&probe), 3);

    cache.set_enabled(true);
    get_cached(s.as_ref(), "k/a", false, text).await.unwrap();
    assert_eq!(cache.stats().entries, 0, "a scan does not fill");
    read(s.as_ref(), "k/a").await;
    let before = gets(&probe);
    get_cached(s.as_ref(), "k/a", false, text).await.unwrap();
    assert_eq!(gets(&probe), before, "a scan uses what is there");
}

#[tokio::test]
async fn decoding_errors_are_not_cached() {
    let (probe, cache, s) = setup(LIMITS);
    probe.inner.put("k/a", b"bad".to_vec()).await.unwrap();
    let bad = |_: &[u8]| -> Result<String, StorageError> { Err(StorageError("bad".into())) };
    get_cached(s.as_ref(), "k/a", true, bad).await.unwrap_err();
    assert_eq!(cache.stats().entries, 0);
}

#[tokio::test]
async fn watched_writes_are_recorded_once_asked() {
    let probe = Arc::new(Probe::default());
    let cache = Arc::new(StorageCache::new(&["k/"], LIMITS).watch(&["k/", "s/"]));
    let s = CachedStorage::new(probe.clone(), cache.clone());
    s.put("k/before", b"x".to_vec()).await.unwrap();
    assert!(
        cache.take_written().is_empty(),
        "the first call starts the record"
    );
    s.put("k/a", b"x".to_vec()).await.unwrap();
    s.put("s/b", b"x".to_vec()).await.unwrap();
    s.put("other", b"x".to_vec()).await.unwrap();
    s.delete("k/c").await.unwrap();
    probe.inner.set_read_only(true);
    s.put("k/d", b"x".to_vec()).await.unwrap_err();
    let mut written = cache.take_written();
    written.sort();
    assert_eq!(written, ["k/a", "k/c", "k/d", "s/b"]);
    assert!(cache.take_written().is_empty());
}

mod summaries;
