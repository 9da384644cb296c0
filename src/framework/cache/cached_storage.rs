//! The storage in front of the host's that keeps the cache exact ([`CachedStorage`]: writes to
//! covered keys update it around the host's answer), and reads through it ([`get_cached`]).

use std::any::Any;
use std::sync::Arc;

use super::super::storage::{Storage, StorageError};
use super::{Held, StorageCache};

/// Storage that keeps a [`StorageCache`] exact: reads pass through, writes to covered keys
/// update the cache around the host's answer.
pub struct CachedStorage {
    inner: Arc<dyn Storage>,
    cache: Arc<StorageCache>,
}

impl CachedStorage {
    /// `inner` behind `cache`.
    pub fn new(inner: Arc<dyn Storage>, cache: Arc<StorageCache>) -> CachedStorage {
        CachedStorage { inner, cache }
    }

    async fn write<F>(&self, key: &str, kept: Option<Vec<u8>>, op: F) -> Result<(), StorageError>
    where
        F: std::future::Future<Output = Result<(), StorageError>>,
    {
        if !self.cache.covers(key) {
            let result = op.await;
            let mut state = self.cache.lock();
            self.cache.note_written(&mut state, key);
            return result;
        }
        let ticket = self.cache.begin_write(key);
        // If this future is dropped mid-write (a cancelled request), the guard still ends the
        // write, as one whose outcome is unknown.
        let mut guard = WriteGuard {
            cache: &self.cache,
            key,
            ticket,
            written: None,
        };
        let result = op.await;
        if result.is_ok() {
            guard.written = kept;
        }
        drop(guard);
        result
    }
}

struct WriteGuard<'a> {
    cache: &'a StorageCache,
    key: &'a str,
    ticket: u64,
    written: Option<Vec<u8>>,
}

impl Drop for WriteGuard<'_> {
    fn drop(&mut self) {
        self.cache
            .end_write(self.key, self.ticket, self.written.take());
    }
}

#[async_trait::async_trait]
impl Storage for CachedStorage {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        self.inner.get(key).await
    }

    async fn put(&self, key: &str, value: Vec<u8>) -> Result<(), StorageError> {
        let kept = (self.cache.covers(key) && self.cache.keeps_entries()).then(|| value.clone());
        self.write(key, kept, self.inner.put(key, value)).await
    }

    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        self.write(key, None, self.inner.delete(key)).await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        self.inner.list(prefix).await
    }

    fn cache(&self) -> Option<&StorageCache> {
        Some(&self.cache)
    }
}

/// Reads `key` and decodes it with `decode`, through the storage's cache when it has one that
/// covers `key`. `keep`: whether a value read from storage may be stored (scans over every
/// entry pass false, so they do not push the hot entries out). Absent entries and decoding
/// errors are never cached.
pub async fn get_cached<T, E, F>(
    storage: &dyn Storage,
    key: &str,
    keep: bool,
    decode: F,
) -> Result<Option<Arc<T>>, E>
where
    T: Any + Send + Sync,
    E: From<StorageError>,
    F: FnOnce(&[u8]) -> Result<T, E>,
{
    let cache = storage
        .cache()
        .filter(|c| c.keeps_entries() && c.covers(key));
    let Some(cache) = cache else {
        let Some(bytes) = storage.get(key).await? else {
            return Ok(None);
        };
        return decode(&bytes).map(|v| Some(Arc::new(v)));
    };
    let (held, generation, may_fill) = cache.lookup(key);
    let (bytes, may_fill) = match held {
        Some(Held::Decoded(value)) => match value.downcast::<T>() {
            Ok(v) => return Ok(Some(v)),
            Err(_) => match storage.get(key).await? {
                Some(bytes) => (bytes.into(), may_fill && keep),
                None => return Ok(None),
            },
        },
        // Bytes this node wrote: decoding them costs no round trip, and replaces them.
        Some(Held::Raw(bytes)) => (bytes, true),
        None => match storage.get(key).await? {
            Some(bytes) => (Arc::<[u8]>::from(bytes), may_fill && keep),
            None => return Ok(None),
        },
    };
    let value = Arc::new(decode(&bytes)?);
    if may_fill {
        cache.fill(key, generation, value.clone(), bytes.len());
    }
    Ok(Some(value))
}
