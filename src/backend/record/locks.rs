//! Per-key write locks. The table holds a name only while someone holds or waits for its lock,
//! so requests naming keys that do not exist leave nothing behind.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

type Table = Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>;

/// Per-key write locks.
#[derive(Debug, Default)]
pub(crate) struct KeyLocks {
    locks: Table,
}

/// Exclusive write access to one key; dropping it releases the key (and forgets the name when
/// nobody else waits for it).
#[derive(Debug)]
pub(crate) struct KeyGuard {
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
    lock: Arc<tokio::sync::Mutex<()>>,
    name: String,
    table: Table,
}

impl KeyLocks {
    /// The table. A panic while it was held cannot leave it inconsistent (each use is one map
    /// operation), so a poisoned lock is used as it is.
    fn table(&self) -> MutexGuard<'_, HashMap<String, Arc<tokio::sync::Mutex<()>>>> {
        self.locks.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits for exclusive write access to key `name`.
    pub(crate) async fn lock(&self, name: &str) -> KeyGuard {
        let lock = self.entry(name);
        let guard = lock.clone().lock_owned().await;
        self.guard(name, lock, guard)
    }

    /// Exclusive write access to key `name` if nobody holds it now.
    pub(crate) fn try_lock(&self, name: &str) -> Option<KeyGuard> {
        let lock = self.entry(name);
        // On failure our clone goes away here; the holder removes the name when it releases.
        let guard = lock.clone().try_lock_owned().ok()?;
        Some(self.guard(name, lock, guard))
    }

    /// The lock of `name`, entered in the table (under the table's lock, see [`KeyGuard`]).
    fn entry(&self, name: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.table().entry(name.to_string()).or_default().clone()
    }

    fn guard(
        &self,
        name: &str,
        lock: Arc<tokio::sync::Mutex<()>>,
        guard: tokio::sync::OwnedMutexGuard<()>,
    ) -> KeyGuard {
        KeyGuard {
            guard: Some(guard),
            lock,
            name: name.to_string(),
            table: self.locks.clone(),
        }
    }

    #[cfg(test)]
    /// How many names the table holds.
    pub(crate) fn len(&self) -> usize {
        self.table().len()
    }

    #[cfg(test)]
    /// Whether the table holds no name.
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Drop for KeyGuard {
    fn drop(&mut self) {
        drop(self.guard.take());
        let mut table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        // Every holder and waiter owns a clone taken under the table's lock, so two references
        // (the table's and ours) mean nobody else can be using this lock.
        if table
            .get(&self.name)
            .is_some_and(|l| Arc::ptr_eq(l, &self.lock) && Arc::strong_count(&self.lock) == 2)
        {
            table.remove(&self.name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn names_are_forgotten_once_released() {
        let locks = KeyLocks::default();
        for i in 0..100 {
            drop(locks.lock(&format!("missing-{i}")).await);
        }
        assert!(locks.is_empty(), "{} names left", locks.len());
    }

    #[tokio::test]
    async fn a_waiter_keeps_the_name_and_still_excludes_others() {
        let locks = Arc::new(KeyLocks::default());
        let first = locks.lock("k").await;
        let waiter = {
            let locks = locks.clone();
            tokio::spawn(async move {
                let _g = locks.lock("k").await;
                locks.len()
            })
        };
        // Let the waiter run until it queues behind `first` (single-threaded test runtime).
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert!(
            !waiter.is_finished(),
            "the waiter got in while the key was held"
        );
        drop(first);
        assert_eq!(locks.len(), 1, "the waiter's name stays while it waits");
        assert_eq!(waiter.await.unwrap(), 1, "the waiter held the same entry");
        assert!(locks.is_empty());
    }

    #[tokio::test]
    async fn one_lock_per_name_at_a_time() {
        let locks = Arc::new(KeyLocks::default());
        let counter = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let (locks, counter) = (locks.clone(), counter.clone());
            tasks.push(tokio::spawn(async move {
                let _g = locks.lock("k").await;
                let inside = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                tokio::task::yield_now().await;
                counter.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                inside
            }));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap(), 0, "two holders at once");
        }
        assert!(locks.is_empty());
    }
}
