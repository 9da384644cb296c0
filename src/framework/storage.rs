//! The mount's key/value storage, a JSON helper pair and an in-memory
//! implementation for tests.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

/// A storage failure. The message is passed to the client verbatim.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct StorageError(pub String);

/// The message OpenBao uses for writes refused by read-only storage.
const READ_ONLY: &str = "cannot write to readonly storage";

/// Mount storage: opaque values under `/`-separated keys.
#[async_trait::async_trait]
pub trait Storage: Send + Sync {
    /// The value under `key`, or `None` when absent.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError>;
    /// Stores `value` under `key`, replacing any previous value.
    async fn put(&self, key: &str, value: Vec<u8>) -> Result<(), StorageError>;
    /// Removes `key`; removing an absent key is not an error.
    async fn delete(&self, key: &str) -> Result<(), StorageError>;
    /// Immediate children of prefix; sub-"directories" returned with a
    /// trailing '/', sorted.
    async fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError>;
    /// The cache of decoded entries kept in front of this storage, if any (see
    /// [`super::cache`]). Wrappers that do not forward it simply read without the cache.
    fn cache(&self) -> Option<&super::cache::StorageCache> {
        None
    }
}

/// Reads and decodes a JSON value. A decoding failure names the key and the
/// position, never the stored content (it may be secret).
pub async fn get_json<T: serde::de::DeserializeOwned>(
    s: &dyn Storage,
    key: &str,
) -> Result<Option<T>, StorageError> {
    let Some(bytes) = s.get(key).await? else {
        return Ok(None);
    };
    serde_json::from_slice(&bytes).map(Some).map_err(|e| {
        StorageError(format!(
            "cannot decode storage entry {key:?}: {:?} error at line {} column {}",
            e.classify(),
            e.line(),
            e.column()
        ))
    })
}

/// Encodes a value as JSON and stores it.
pub async fn put_json<T: serde::Serialize>(
    s: &dyn Storage,
    key: &str,
    v: &T,
) -> Result<(), StorageError> {
    let bytes = serde_json::to_vec(v)
        .map_err(|e| StorageError(format!("cannot encode storage entry {key:?}: {e}")))?;
    s.put(key, bytes).await
}

/// The message of a write refused by [`InMemoryStorage::crash_after`].
const CRASHED: &str = "storage unavailable (simulated crash)";

/// Storage in a `BTreeMap`, for tests. It can be switched to read-only to
/// exercise the host's "cannot write to readonly storage" failure, and made to
/// fail every write after a number of them, as if the process died there.
pub struct InMemoryStorage {
    entries: Mutex<BTreeMap<String, Vec<u8>>>,
    read_only: AtomicBool,
    /// Writes that still succeed before every write fails (`usize::MAX`: no limit).
    writes_left: AtomicUsize,
}

impl Default for InMemoryStorage {
    fn default() -> InMemoryStorage {
        InMemoryStorage {
            entries: Mutex::default(),
            read_only: AtomicBool::default(),
            writes_left: AtomicUsize::new(usize::MAX),
        }
    }
}

impl InMemoryStorage {
    /// An empty, writable storage.
    pub fn new() -> InMemoryStorage {
        InMemoryStorage::default()
    }

    /// Every key, sorted.
    pub fn keys(&self) -> Vec<String> {
        self.lock().keys().cloned().collect()
    }

    /// Makes `put` and `delete` fail with "cannot write to readonly storage".
    pub fn set_read_only(&self, read_only: bool) {
        self.read_only.store(read_only, Ordering::SeqCst);
    }

    /// Lets `writes` more `put`s and `delete`s succeed, then fails every one after them
    /// (`None`: no limit again): what storage looks like to a process that died after them.
    pub fn crash_after(&self, writes: Option<usize>) {
        self.writes_left
            .store(writes.unwrap_or(usize::MAX), Ordering::SeqCst);
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, Vec<u8>>> {
        // A panic while holding the lock cannot leave the map half-updated.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn check_writable(&self) -> Result<(), StorageError> {
        if self.read_only.load(Ordering::SeqCst) {
            return Err(StorageError(READ_ONLY.into()));
        }
        let spent = self
            .writes_left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| match left {
                usize::MAX => Some(usize::MAX),
                0 => None,
                n => Some(n - 1),
            });
        if spent.is_err() {
            return Err(StorageError(CRASHED.into()));
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl Storage for InMemoryStorage {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self.lock().get(key).cloned())
    }

    async fn put(&self, key: &str, value: Vec<u8>) -> Result<(), StorageError> {
        self.check_writable()?;
        self.lock().insert(key.to_owned(), value);
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        self.check_writable()?;
        self.lock().remove(key);
        Ok(())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        let entries = self.lock();
        let mut out = BTreeSet::new();
        for key in entries.range(prefix.to_owned()..).map(|(k, _)| k) {
            let Some(rest) = key.strip_prefix(prefix) else {
                break;
            };
            match rest.find('/') {
                Some(i) => out.insert(rest[..=i].to_owned()),
                None if rest.is_empty() => false,
                None => out.insert(rest.to_owned()),
            };
        }
        Ok(out.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn filled() -> InMemoryStorage {
        let s = InMemoryStorage::new();
        for k in ["a", "b/c", "b/d/e", "b/d/f", "ba", "c/", "z"] {
            s.put(k, k.as_bytes().to_vec()).await.unwrap();
        }
        s
    }

    #[tokio::test]
    async fn list_returns_immediate_children_sorted() {
        let s = filled().await;
        assert_eq!(s.list("").await.unwrap(), ["a", "b/", "ba", "c/", "z"]);
        assert_eq!(s.list("b/").await.unwrap(), ["c", "d/"]);
        assert_eq!(s.list("b/d/").await.unwrap(), ["e", "f"]);
        // A key equal to the prefix is not its own child.
        assert!(s.list("c/").await.unwrap().is_empty());
        assert!(s.list("nothing/").await.unwrap().is_empty());
        // Prefixes need not end with '/'.
        assert_eq!(s.list("b").await.unwrap(), ["/", "a"]);
    }

    #[tokio::test]
    async fn crash_after_lets_that_many_writes_through_then_fails_every_write() {
        let s = filled().await;
        s.crash_after(Some(2));
        s.put("x", b"1".to_vec()).await.unwrap();
        s.delete("a").await.unwrap();
        let e = s.put("y", b"2".to_vec()).await.unwrap_err();
        assert!(e.0.contains("simulated crash"), "{e}");
        s.delete("z").await.unwrap_err();
        // Reads still answer, and nothing after the crash was written.
        assert_eq!(s.get("y").await.unwrap(), None);
        assert!(s.get("z").await.unwrap().is_some());
        s.crash_after(None);
        s.put("y", b"2".to_vec()).await.unwrap();
    }

    #[tokio::test]
    async fn get_put_delete_and_keys() {
        let s = filled().await;
        assert_eq!(s.get("b/c").await.unwrap().as_deref(), Some(&b"b/c"[..]));
        assert_eq!(s.get("missing").await.unwrap(), None);
        s.delete("b/c").await.unwrap();
        s.delete("b/c").await.unwrap();
        assert_eq!(s.keys(), ["a", "b/d/e", "b/d/f", "ba", "c/", "z"]);
    }

    #[tokio::test]
    async fn read_only_refuses_writes_with_host_message() {
        let s = filled().await;
        s.set_read_only(true);
        let err = s.put("x", vec![]).await.unwrap_err();
        assert_eq!(err.to_string(), "cannot write to readonly storage");
        assert_eq!(s.delete("a").await.unwrap_err(), err);
        assert!(s.get("a").await.unwrap().is_some());
        s.set_read_only(false);
        s.put("x", vec![]).await.unwrap();
    }

    #[tokio::test]
    async fn json_round_trip_and_safe_decode_error() {
        let s = InMemoryStorage::new();
        put_json(&s, "k", &serde_json::json!({"n": 1}))
            .await
            .unwrap();
        let v: Option<serde_json::Value> = get_json(&s, "k").await.unwrap();
        assert_eq!(v, Some(serde_json::json!({"n": 1})));
        let none: Option<u32> = get_json(&s, "absent").await.unwrap();
        assert_eq!(none, None);

        s.put("bad", b"\"sk-secret-value\"".to_vec()).await.unwrap();
        let err = get_json::<u32>(&s, "bad").await.unwrap_err();
        assert!(err.0.contains("\"bad\""), "{err}");
        assert!(!err.0.contains("sk-secret"), "{err}");
    }
}
