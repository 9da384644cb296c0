//! Test support: drive the engine through the framework on in-memory storage, no server.
//! The harness and the fixtures every test uses are here; fakes and storage fixtures in
//! `testing/`.

mod fake_openrouter;
mod fake_system;
mod storage_fixtures;
mod token_endpoint;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use serde_json::{json, Value};

use super::AiKeys;
use crate::engine::Engine;
use crate::framework::{
    Error, HandlerResult, InMemoryStorage, Operation, Request, Response, Storage,
};
pub(crate) use fake_openrouter::FakeOpenRouter;
pub(crate) use fake_system::FakeSystem;
pub(crate) use storage_fixtures::{
    created_at, created_at_provider, revoke_intent_of_a_deleted_key, wal_entries,
    with_unrecorded_grace_end,
};
pub(crate) use token_endpoint::FakeTokenEndpoint;

/// The message of a 400, panicking on anything else.
pub(crate) fn expect_bad_request<T: std::fmt::Debug>(r: Result<T, Error>) -> String {
    match r {
        Err(Error::BadRequest(msg)) => msg,
        other => panic!("expected a 400, got {other:?}"),
    }
}

/// An initialized engine on fresh in-memory storage.
pub(crate) struct Harness {
    pub engine: AiKeys,
    /// The storage itself: writes made here are unseen by the engine's record cache, as a
    /// replicated write is until the host's InvalidateKey ([`Harness::invalidate`]).
    pub storage: Arc<InMemoryStorage>,
    /// The storage as requests see it (behind the engine's record cache).
    pub cached: Arc<dyn Storage>,
    pub system: Arc<FakeSystem>,
}

impl Harness {
    pub(crate) async fn new() -> Harness {
        Harness::over(Arc::new(InMemoryStorage::new()), false).await
    }

    /// An engine initialized over existing `storage` (records of an older release, say), on a
    /// standby node when `standby`.
    pub(crate) async fn over(storage: Arc<InMemoryStorage>, standby: bool) -> Harness {
        let system = Arc::new(FakeSystem::default());
        system.standby.store(standby, Ordering::SeqCst);
        Harness::with_system(storage, system).await
    }

    /// An engine initialized over `storage` with the system view `system`.
    pub(crate) async fn with_system(
        storage: Arc<InMemoryStorage>,
        system: Arc<FakeSystem>,
    ) -> Harness {
        let engine = AiKeys::new(system.clone());
        let cached = engine.wrap_storage(storage.clone());
        engine.initialize(cached.clone()).await.expect("initialize");
        Harness {
            engine,
            storage,
            cached,
            system,
        }
    }

    /// Runs one request as the entity `actor`.
    pub(crate) async fn call_as(
        &self,
        actor: &str,
        op: Operation,
        path: &str,
        data: Value,
    ) -> HandlerResult {
        let mut req = Request::new(op, path, self.cached.clone()).with_data(data);
        req.id = format!("req-{}", uuid::Uuid::new_v4());
        req.mount_point = "ai-keys/".to_string();
        req.entity_id = actor.to_string();
        req.display_name = format!("userpass-{actor}");
        req.client_token_accessor = format!("acc-{actor}");
        self.engine.backend().handle_request(req).await
    }

    pub(crate) async fn call(&self, op: Operation, path: &str, data: Value) -> HandlerResult {
        self.call_as("alice", op, path, data).await
    }

    /// Reads `path` and returns its data, panicking on error or no response.
    pub(crate) async fn read(&self, path: &str) -> Value {
        let resp = self
            .call(Operation::Read, path, Value::Null)
            .await
            .unwrap_or_else(|e| panic!("read {path}: {e}"))
            .unwrap_or_else(|| panic!("read {path}: no response"));
        resp.data_value()
    }

    /// The `metrics` Prometheus text (`format=prometheus`), decoded from the raw response.
    pub(crate) async fn prometheus(&self) -> String {
        use base64::Engine as _;
        let resp = self
            .call(Operation::Read, "metrics", json!({"format": "prometheus"}))
            .await
            .unwrap()
            .expect("metrics");
        let body = base64::engine::general_purpose::STANDARD
            .decode(resp.data["http_raw_body"].as_str().expect("raw body"))
            .unwrap();
        String::from_utf8(body).unwrap()
    }

    /// The engine's OpenAPI document, as the mount's root help returns it (what the host asks
    /// for to build `sys/internal/specs/openapi`, and `GET <mount>/?help=1` shows).
    pub(crate) async fn openapi(&self) -> Value {
        let resp = self
            .call(Operation::Help, "", Value::Null)
            .await
            .unwrap_or_else(|e| panic!("help: {e}"))
            .unwrap_or_else(|| panic!("help: no response"));
        resp.data["openapi"].clone()
    }

    /// Writes `path` (update) and returns its data (Null when there is no response).
    pub(crate) async fn write(&self, path: &str, data: Value) -> Result<Value, Error> {
        Ok(self
            .call(Operation::Update, path, data)
            .await?
            .map(Response::data_value)
            .unwrap_or(Value::Null))
    }

    /// A snapshot of every stored key and value, to prove a refused request changed nothing.
    pub(crate) async fn snapshot(&self) -> Vec<(String, Option<Vec<u8>>)> {
        let mut out = Vec::new();
        for key in self.storage.keys() {
            let value = self.storage.get(&key).await.unwrap();
            out.push((key, value));
        }
        out
    }

    /// Creates `path` (the create operation, as the host sends it when the existence check
    /// says "absent") and returns its data.
    pub(crate) async fn create(&self, path: &str, data: Value) -> Result<Value, Error> {
        Ok(self
            .call(Operation::Create, path, data)
            .await?
            .map(Response::data_value)
            .unwrap_or(Value::Null))
    }

    /// Creates key `name` with `value` and default settings, panicking on error.
    pub(crate) async fn create_key(&self, name: &str, value: &str) -> Value {
        self.create(
            &format!("keys/{name}"),
            serde_json::json!({ "value": value }),
        )
        .await
        .unwrap_or_else(|e| panic!("create key {name}: {e}"))
    }

    /// The host's existence check for a write on `path`.
    pub(crate) async fn exists(&self, path: &str) -> bool {
        let req = Request::new(Operation::Create, path, self.cached.clone());
        let r = self
            .engine
            .backend()
            .handle_existence_check(req)
            .await
            .unwrap_or_else(|e| panic!("existence check {path}: {e}"));
        assert!(r.check_found, "{path} has no existence check");
        r.exists
    }

    /// The history events of key `name`, newest first (empty when there is none).
    pub(crate) async fn history(&self, name: &str) -> Vec<Value> {
        match self
            .call(Operation::Read, &format!("history/{name}"), Value::Null)
            .await
            .unwrap_or_else(|e| panic!("history {name}: {e}"))
        {
            Some(r) => r.data["events"].as_array().cloned().unwrap_or_default(),
            None => Vec::new(),
        }
    }

    /// What the host does after a replicated write to `key`: its InvalidateKey.
    pub(crate) async fn invalidate(&self, key: &str) {
        self.engine.invalidate(key).await;
    }

    /// Runs the host's periodic tick (the `rollback` operation).
    pub(crate) async fn tick(&self) -> HandlerResult {
        self.call(Operation::Rollback, "", Value::Null).await
    }

    /// Whether any stored key or value contains `needle`.
    pub(crate) async fn storage_contains(&self, needle: &str) -> bool {
        let needle = needle.as_bytes();
        self.snapshot().await.iter().any(|(k, v)| {
            k.as_bytes().windows(needle.len()).any(|w| w == needle)
                || v.as_ref()
                    .is_some_and(|v| v.windows(needle.len()).any(|w| w == needle))
        })
    }
}

/// The value every flow starts from (version 1).
pub(crate) const OLD: &str = "sk-test-OLDVALUE-0123456789abcdef";
/// The value staged or rotated in (version 2).
pub(crate) const NEW: &str = "sk-test-NEWVALUE-fedcba9876543210";

/// A harness with key `k` created from [`OLD`].
pub(crate) async fn with_key() -> Harness {
    let h = Harness::new().await;
    h.create_key("k", OLD).await;
    h
}

/// `verify/k` for `value`.
pub(crate) async fn verify(h: &Harness, value: &str) -> Value {
    h.write("verify/k", json!({ "value": value }))
        .await
        .unwrap_or_else(|e| panic!("verify: {e}"))
}

/// The state of version `n` of key `k` as `keys/k` shows it.
pub(crate) async fn state(h: &Harness, n: u32) -> Value {
    h.read("keys/k").await["versions"][n.to_string()]["state"].clone()
}
