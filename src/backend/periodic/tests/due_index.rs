//! The periodic tick's index of due times: a tick when nothing is due reads no key record, and
//! what becomes due without any write (a grace end), or through a write elsewhere (a schedule),
//! is still worked on.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::backend::testing::FakeSystem;
use crate::backend::{record, AiKeys};
use crate::engine::Engine;
use crate::framework::{InMemoryStorage, Operation, Request, Storage, StorageError};

/// Storage that counts reads.
#[derive(Default)]
struct Counting {
    inner: InMemoryStorage,
    gets: AtomicUsize,
    lists: AtomicUsize,
}

#[async_trait::async_trait]
impl Storage for Counting {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        self.gets.fetch_add(1, Ordering::SeqCst);
        self.inner.get(key).await
    }
    async fn put(&self, key: &str, value: Vec<u8>) -> Result<(), StorageError> {
        self.inner.put(key, value).await
    }
    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        self.inner.delete(key).await
    }
    async fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        self.lists.fetch_add(1, Ordering::SeqCst);
        self.inner.list(prefix).await
    }
}

struct Node {
    engine: AiKeys,
    counting: Arc<Counting>,
    storage: Arc<dyn Storage>,
}

impl Node {
    async fn new() -> Node {
        let engine = AiKeys::new(Arc::new(FakeSystem::default()));
        let counting = Arc::new(Counting::default());
        let storage = engine.wrap_storage(counting.clone());
        engine
            .initialize(storage.clone())
            .await
            .expect("initialize");
        Node {
            engine,
            counting,
            storage,
        }
    }

    async fn call(&self, op: Operation, path: &str, data: Value) -> Value {
        let mut req = Request::new(op, path, self.storage.clone()).with_data(data);
        req.id = "req-index".into();
        let resp = self.engine.backend().handle_request(req).await;
        let resp = resp.unwrap_or_else(|e| panic!("{path}: {e}"));
        resp.map(|r| Value::Object(r.data)).unwrap_or(Value::Null)
    }

    async fn tick(&self) {
        self.call(Operation::Rollback, "", Value::Null).await;
    }

    /// Storage reads (gets, lists) made by `f`.
    async fn reads<F: std::future::Future<Output = ()>>(&self, f: F) -> (usize, usize) {
        let (g, l) = (self.gets(), self.lists());
        f.await;
        (self.gets() - g, self.lists() - l)
    }

    fn gets(&self) -> usize {
        self.counting.gets.load(Ordering::SeqCst)
    }

    fn lists(&self) -> usize {
        self.counting.lists.load(Ordering::SeqCst)
    }

    async fn record(&self, name: &str) -> record::KeyState {
        record::load_key(self.storage.as_ref(), name)
            .await
            .unwrap()
            .expect("key")
    }
}

#[tokio::test]
async fn an_idle_tick_reads_no_record_whatever_the_number_of_keys() {
    let node = Node::new().await;
    for keys in [10, 200] {
        for i in node.engine.periodic.due.len().unwrap_or(0)..keys {
            let value = format!("sk-test-INDEX-{i:04}-0123456789abcdef");
            node.call(
                Operation::Create,
                &format!("keys/k{i}"),
                json!({ "value": value }),
            )
            .await;
        }
        // The first tick after start (or after writes) works on the keys that changed.
        node.tick().await;
        assert_eq!(node.engine.periodic.due.len(), Some(keys));
        let (gets, lists) = node.reads(node.tick()).await;
        // The WAL listing only.
        assert_eq!((gets, lists), (0, 1), "{keys} keys");
    }
}

#[tokio::test]
async fn a_grace_end_without_any_write_is_worked_on() {
    let node = Node::new().await;
    let data = |v: &str| json!({ "value": format!("sk-test-{v}-0123456789abcdef") });
    node.call(Operation::Create, "keys/k", data("ONE")).await;
    node.tick().await;
    node.call(Operation::Update, "stage/k", data("TWO")).await;
    node.call(
        Operation::Update,
        "promote/k",
        json!({ "force": true, "grace_period": 1 }),
    )
    .await;
    node.tick().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while node.record("k").await.versions.previous().is_some() {
        assert!(
            Instant::now() < deadline,
            "the grace end was never worked on"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        node.tick().await;
    }
}

#[tokio::test]
async fn a_schedule_change_makes_its_keys_due() {
    let node = Node::new().await;
    let year = 365 * 86_400;
    node.call(
        Operation::Update,
        "schedules/slow",
        json!({ "rotation_period": year, "grace_period": 3600 }),
    )
    .await;
    for name in ["a", "b"] {
        let value = format!("sk-test-SCHED-{name}-0123456789abcdef");
        let body = json!({ "value": value, "schedule": "slow" });
        node.call(Operation::Create, &format!("keys/{name}"), body)
            .await;
    }
    node.tick().await;
    node.tick().await;
    assert!(node.record("a").await.auto.last_overdue_warning.is_none());
    // Now every key on the schedule is overdue: the next tick warns (and records it).
    node.call(
        Operation::Update,
        "schedules/slow",
        json!({ "rotation_period": 1 }),
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(10);
    for name in ["a", "b"] {
        while node.record(name).await.auto.last_overdue_warning.is_none() {
            assert!(Instant::now() < deadline, "{name} was never warned");
            tokio::time::sleep(Duration::from_millis(100)).await;
            node.tick().await;
        }
    }
}
