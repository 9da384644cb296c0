//! Concurrent writers: per-key locks keep one pending version, different keys never block.

use std::sync::Arc;

use serde_json::{json, Value};

use crate::backend::testing::Harness;
use crate::backend::testing::{with_key, OLD};
use crate::engine::Engine;
use crate::framework::{Error, HandlerResult, Operation, Request, Storage, StorageError};

/// The harness's storage, yielding to the scheduler around every call so that racing requests
/// interleave at each storage access (the in-memory storage alone never suspends).
struct Yielding(Arc<dyn Storage>);

#[async_trait::async_trait]
impl Storage for Yielding {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        for _ in 0..3 {
            tokio::task::yield_now().await;
        }
        let r = self.0.get(key).await;
        tokio::task::yield_now().await;
        r
    }

    async fn put(&self, key: &str, value: Vec<u8>) -> Result<(), StorageError> {
        tokio::task::yield_now().await;
        self.0.put(key, value).await
    }

    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        tokio::task::yield_now().await;
        self.0.delete(key).await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        tokio::task::yield_now().await;
        self.0.list(prefix).await
    }
}

/// Runs one request as alice on the harness's storage, through [`Yielding`], once every racer
/// has reached `start`.
async fn racing(
    h: &Harness,
    start: &tokio::sync::Barrier,
    op: Operation,
    path: &str,
    data: Value,
) -> HandlerResult {
    start.wait().await;
    let storage: Arc<dyn Storage> = Arc::new(Yielding(h.cached.clone()));
    let mut req = Request::new(op, path, storage).with_data(data);
    req.id = format!("req-{}", uuid::Uuid::new_v4());
    req.entity_id = "alice".into();
    req.display_name = "userpass-alice".into();
    req.client_token_accessor = "acc-alice".into();
    h.engine.backend().handle_request(req).await
}

/// Runs `n` requests at once (each released by one barrier): request `i` is `op` on the path and
/// data `request(i)` gives. The results, in request order.
async fn race(
    h: &Arc<Harness>,
    n: usize,
    op: Operation,
    request: impl Fn(usize) -> (String, Value),
) -> Vec<HandlerResult> {
    let start = Arc::new(tokio::sync::Barrier::new(n));
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let (h, start) = (h.clone(), start.clone());
            let (path, data) = request(i);
            tokio::spawn(async move { racing(&h, &start, op, &path, data).await })
        })
        .collect();
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.unwrap());
    }
    results
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_stages_on_one_key_stage_exactly_once() {
    let h = Arc::new(with_key().await);
    let results = race(&h, 20, Operation::Update, |i| {
        (
            "stage/k".to_string(),
            json!({"value": format!("sk-test-RACE-{i:02}-abcdef")}),
        )
    })
    .await;
    let mut ok = 0;
    for result in results {
        match result {
            Ok(Some(resp)) => {
                assert_eq!(resp.data["version"], 2);
                ok += 1;
            }
            Err(Error::BadRequest(msg)) => {
                assert!(msg.contains("version 2 is already pending"), "{msg}");
                assert!(!msg.contains("RACE"), "{msg}");
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(ok, 1);
    let k = h.read("keys/k").await;
    let versions = k["versions"].as_object().unwrap();
    let pending = versions
        .values()
        .filter(|v| v["state"] == "pending")
        .count();
    assert_eq!(pending, 1, "{k}");
    assert_eq!(versions.len(), 2, "{k}");
    assert_eq!(k["pending_version"], 2);
    let staged = h
        .history("k")
        .await
        .iter()
        .filter(|e| e["event"] == "staged")
        .count();
    assert_eq!(staged, 1);
    // exactly one of the racing values is stored
    let mut stored = 0;
    for i in 0..20 {
        if h.storage_contains(&format!("sk-test-RACE-{i:02}-abcdef"))
            .await
        {
            stored += 1;
        }
    }
    assert_eq!(stored, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creates_of_different_keys_all_succeed() {
    let h = Arc::new(Harness::new().await);
    let results = race(&h, 10, Operation::Create, |i| {
        (
            format!("keys/key-{i}"),
            json!({"value": format!("sk-test-PAR-{i}-abcdef")}),
        )
    })
    .await;
    for result in results {
        result.unwrap();
    }
    let resp = h
        .call(Operation::List, "keys/", Value::Null)
        .await
        .unwrap()
        .unwrap();
    let keys: Vec<String> = serde_json::from_value(resp.data["keys"].clone()).unwrap();
    let expected: Vec<String> = (0..10).map(|i| format!("key-{i}")).collect();
    assert_eq!(keys, expected);
    for i in 0..10 {
        let c = h.read(&format!("creds/key-{i}")).await;
        assert_eq!(c["api_key"], format!("sk-test-PAR-{i}-abcdef"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creates_of_one_key_create_it_once() {
    let h = Arc::new(Harness::new().await);
    let results = race(&h, 10, Operation::Create, |i| {
        (
            "keys/same".to_string(),
            json!({"value": format!("sk-test-SAME-{i}-abcdef")}),
        )
    })
    .await;
    let mut ok = 0;
    for result in results {
        match result {
            Ok(_) => ok += 1,
            Err(Error::BadRequest(msg)) => assert!(msg.contains("already exists"), "{msg}"),
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(ok, 1);
    let created = h
        .history("same")
        .await
        .iter()
        .filter(|e| e["event"] == "created")
        .count();
    assert_eq!(created, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_rotations_on_one_key_keep_the_invariants() {
    let h = Arc::new(with_key().await);
    let results = race(&h, 8, Operation::Update, |i| {
        (
            "rotate/k".to_string(),
            json!({"value": format!("sk-test-ROTRACE-{i}-abcdef")}),
        )
    })
    .await;
    for result in results {
        // each rotation runs alone under the key's lock, so all succeed one after another
        result.unwrap();
    }
    let k = h.read("keys/k").await;
    assert_eq!(k["current_version"], 9, "{k}");
    let versions = k["versions"].as_object().unwrap();
    let count = |s: &str| versions.values().filter(|v| v["state"] == s).count();
    assert_eq!(count("current"), 1, "{k}");
    assert_eq!(count("previous"), 1, "{k}");
    assert_eq!(count("revoked"), 7, "{k}");
    assert!(!h.storage_contains(OLD).await);
}
