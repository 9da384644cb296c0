//! Test support: drive the engine through the framework on in-memory storage, no server.

mod token_endpoint;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde_json::{json, Value};

use super::record;
use super::AiKeys;
use crate::framework::{
    get_json, Error, HandlerResult, InMemoryStorage, Operation, Request, Response, Storage,
    WalEntry,
};
pub(crate) use token_endpoint::FakeTokenEndpoint;

/// The message of a 400, panicking on anything else.
pub(crate) fn expect_bad_request<T: std::fmt::Debug>(r: Result<T, Error>) -> String {
    match r {
        Err(Error::BadRequest(msg)) => msg,
        other => panic!("expected a 400, got {other:?}"),
    }
}
use crate::engine::SystemError;
use crate::engine::{Engine, SystemInfo};

/// A system view whose standby bit tests can flip, and which can fail to answer. A lone
/// server unless `clustered` (or `standby`).
#[derive(Debug, Default)]
pub(crate) struct FakeSystem {
    pub standby: AtomicBool,
    pub clustered: AtomicBool,
    pub unreachable: AtomicBool,
    pub caching_disabled: AtomicBool,
}

#[async_trait::async_trait]
impl SystemInfo for FakeSystem {
    async fn replication_state(&self) -> Result<i32, SystemError> {
        if self.unreachable.load(Ordering::SeqCst) {
            return Err(SystemError::Rpc("transport error".into()));
        }
        Ok(if self.standby.load(Ordering::SeqCst) {
            24576
        } else if self.clustered.load(Ordering::SeqCst) {
            8224
        } else {
            12288
        })
    }

    async fn server_version(&self) -> Result<String, SystemError> {
        Ok("2.7.2".into())
    }

    async fn caching_disabled(&self) -> Result<bool, SystemError> {
        Ok(self.caching_disabled.load(Ordering::SeqCst))
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

/// Makes version 1 of key `k` a key the engine created at provider `p` (`openai_compatible`,
/// which cannot revoke: every revocation there fails without a network call).
pub(crate) async fn created_at_provider(h: &Harness) {
    let config = json!({ "type": "openai_compatible", "base_url": "http://127.0.0.1:9" });
    created_at(h, "p", config, "key_1").await;
}

/// Creates provider `name` from `config` and makes version 1 of key `k` a key the engine
/// created there, with provider id `key_id` and its origin (where `name` points), as an engine
/// creation records them.
pub(crate) async fn created_at(h: &Harness, name: &str, config: Value, key_id: &str) {
    h.create(&format!("providers/{name}"), config)
        .await
        .expect("provider");
    let storage = h.cached.as_ref();
    let cfg = super::provider_ops::load(storage, name)
        .await
        .unwrap()
        .unwrap();
    let origin = super::provider_ops::origin_of(&cfg, key_id);
    let mut entry = record::load(storage, "k").await.unwrap().unwrap();
    let key = &mut entry.key;
    key.provider = Some(name.into());
    let v = key.versions.versions.get_mut(&1).unwrap();
    v.engine_created = true;
    v.provider_key_id = Some(key_id.into());
    v.provider = Some(name.into());
    v.origin = Some(origin);
    record::save(storage, &entry).await.unwrap();
}

/// Every intent in the write-ahead log, with its id.
pub(crate) async fn wal_entries(h: &Harness) -> Vec<(String, WalEntry)> {
    let mut out = Vec::new();
    for id in crate::framework::wal_list(h.storage.as_ref())
        .await
        .unwrap()
    {
        let entry: WalEntry = get_json(h.storage.as_ref(), &format!("wal/{id}"))
            .await
            .unwrap()
            .unwrap();
        out.push((id, entry));
    }
    out
}

/// A fake OpenRouter on loopback for provider-created keys: `POST /api/v1/keys` creates a key
/// (`hash-N`, a fresh value), `GET /api/v1/key` tests one with the status `test_status` holds
/// (200 passes, 401 is `bad_key`), `GET /api/v1/keys/<hash>` finds the keys it created (else its
/// own 404), `DELETE /api/v1/keys/<hash>` deletes it (answering `delete_status`: 200 confirms),
/// and `GET /api/v1/keys?...` lists the keys `listed` holds on its first page (`offset=0`; later
/// pages are empty), or answers `list_status` when it is not 200. Every request line is kept,
/// in order.
pub(crate) struct FakeOpenRouter {
    pub base_url: String,
    /// The key objects (`{name, hash}`) the list's first page shows.
    pub listed: Arc<std::sync::Mutex<Vec<Value>>>,
    /// The status lists answer (200 lists `listed`).
    pub list_status: Arc<std::sync::atomic::AtomicU16>,
    pub test_status: Arc<std::sync::atomic::AtomicU16>,
    /// The status deletions answer (200 confirms; anything else refuses).
    pub delete_status: Arc<std::sync::atomic::AtomicU16>,
    pub requests: Arc<std::sync::Mutex<Vec<String>>>,
    /// The values it created, in order.
    pub created: Arc<std::sync::Mutex<Vec<String>>>,
}

impl FakeOpenRouter {
    /// Starts the fake; keys it is asked to test answer `test_status`.
    pub(crate) async fn start(test_status: u16) -> FakeOpenRouter {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let fake = FakeOpenRouter {
            base_url: format!("http://{}", listener.local_addr().unwrap()),
            listed: Default::default(),
            list_status: Arc::new(std::sync::atomic::AtomicU16::new(200)),
            test_status: Arc::new(std::sync::atomic::AtomicU16::new(test_status)),
            delete_status: Arc::new(std::sync::atomic::AtomicU16::new(200)),
            requests: Default::default(),
            created: Default::default(),
        };
        let (status, deletes, requests, created) = (
            fake.test_status.clone(),
            fake.delete_status.clone(),
            fake.requests.clone(),
            fake.created.clone(),
        );
        let (listed, list_status) = (fake.listed.clone(), fake.list_status.clone());
        tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                let (status, deletes, requests, created) = (
                    status.clone(),
                    deletes.clone(),
                    requests.clone(),
                    created.clone(),
                );
                let (listed, list_status) = (listed.clone(), list_status.clone());
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 8192];
                    let mut got = Vec::new();
                    let head_end = loop {
                        if let Some(i) = got.windows(4).position(|w| w == b"\r\n\r\n") {
                            break i + 4;
                        }
                        match conn.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => got.extend_from_slice(&buf[..n]),
                        }
                    };
                    let head = String::from_utf8_lossy(&got[..head_end]).to_string();
                    let length = head
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse::<usize>().ok())?
                        })
                        .unwrap_or(0);
                    while got.len() < head_end + length {
                        match conn.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => got.extend_from_slice(&buf[..n]),
                        }
                    }
                    let line = head.lines().next().unwrap_or_default().to_string();
                    let mut parts = line.split_whitespace();
                    let (method, path) = (
                        parts.next().unwrap_or_default().to_string(),
                        parts.next().unwrap_or_default().to_string(),
                    );
                    requests.lock().unwrap().push(format!("{method} {path}"));
                    let (code, body) = match (method.as_str(), path.as_str()) {
                        ("POST", "/api/v1/keys") => {
                            let mut made = created.lock().unwrap();
                            let n = made.len() + 1;
                            let value =
                                format!("sk-or-v1-created-{n}-{}", uuid::Uuid::new_v4().simple());
                            made.push(value.clone());
                            (
                                201,
                                json!({ "data": { "hash": format!("hash-{n}") }, "key": value }),
                            )
                        }
                        ("GET", "/api/v1/key") => match status.load(Ordering::SeqCst) {
                            200 => (200, json!({ "data": { "limit_remaining": null } })),
                            code => (
                                code,
                                json!({ "error": { "code": code, "message": "refused" } }),
                            ),
                        },
                        ("GET", p) if p.starts_with("/api/v1/keys?") => {
                            match list_status.load(Ordering::SeqCst) {
                                200 if p.contains("offset=0") => {
                                    (200, json!({ "data": listed.lock().unwrap().clone() }))
                                }
                                200 => (200, json!({ "data": [] })),
                                code => (
                                    code,
                                    json!({ "error": { "code": code, "message": "refused" } }),
                                ),
                            }
                        }
                        ("GET", p) if p.starts_with("/api/v1/keys/hash-") => {
                            let n: usize = p["/api/v1/keys/hash-".len()..].parse().unwrap_or(0);
                            match (1..=created.lock().unwrap().len()).contains(&n) {
                                true => (200, json!({ "data": { "hash": format!("hash-{n}") } })),
                                false => (
                                    404,
                                    json!({ "error": { "code": 404, "message": "not found" } }),
                                ),
                            }
                        }
                        ("DELETE", p) if p.starts_with("/api/v1/keys/") => {
                            match deletes.load(Ordering::SeqCst) {
                                200 => (200, json!({ "deleted": true })),
                                code => (
                                    code,
                                    json!({ "error": { "code": code, "message": "refused" } }),
                                ),
                            }
                        }
                        _ => (
                            404,
                            json!({ "error": { "code": 404, "message": "not found" } }),
                        ),
                    };
                    let body = body.to_string();
                    let reply = format!(
                        "HTTP/1.1 {code} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = conn.write_all(reply.as_bytes()).await;
                });
            }
        });
        fake
    }

    /// Configures provider `name` (type `openrouter`, with a management key) at this fake.
    pub(crate) async fn configure(&self, h: &Harness, name: &str) {
        let body = json!({ "type": "openrouter", "base_url": self.base_url, "admin_key": "sk-or-v1-admin-0123456789abcdef" });
        h.create(&format!("providers/{name}"), body)
            .await
            .expect("provider");
    }

    /// The request lines it received (`METHOD /path`).
    pub(crate) fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

/// Provider `p` (`openai_compatible` at a closed port: every revocation there fails without a
/// network call) and, at `wal/i1`, an intent to revoke version 3 of the deleted key `gone`,
/// written `age_secs` seconds ago; the entry as stored.
pub(crate) async fn revoke_intent_of_a_deleted_key(h: &Harness, age_secs: i64) -> WalEntry {
    h.create(
        "providers/p",
        json!({ "type": "openai_compatible", "base_url": "http://127.0.0.1:9" }),
    )
    .await
    .unwrap();
    let intent = super::provider_ops::RevokeIntent {
        key: "gone".into(),
        provider: "p".into(),
        version: 3,
        provider_key_id: "key_3".into(),
        owned: true,
        origin: None,
        incarnation: None,
        retry: Default::default(),
    };
    let entry = WalEntry {
        kind: super::provider_ops::WAL_REVOKE.into(),
        data: serde_json::to_value(&intent).unwrap(),
        created_at: chrono::Utc::now().timestamp() - age_secs,
    };
    crate::framework::put_json(h.storage.as_ref(), "wal/i1", &entry)
        .await
        .unwrap();
    entry
}

/// Key `k` rotated to [`NEW`] with a one-hour grace, then version 1's grace end moved five
/// seconds into the past in storage: a window that has ended, not yet recorded by a tick.
pub(crate) async fn with_unrecorded_grace_end() -> Harness {
    let h = with_key().await;
    h.write("stage/k", json!({ "value": NEW })).await.unwrap();
    h.write("promote/k", json!({ "grace_period": 3600, "force": true }))
        .await
        .unwrap();
    let storage = h.cached.as_ref();
    let mut entry = record::load(storage, "k").await.unwrap().unwrap();
    let v = entry.key.versions.versions.get_mut(&1).unwrap();
    v.grace_expires_time = Some(chrono::Utc::now() - chrono::TimeDelta::seconds(5));
    record::save(storage, &entry).await.unwrap();
    h
}
