//! Test support: drive the engine through the framework on in-memory storage, no server.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde_json::Value;

use super::AiKeys;
use crate::framework::{Error, HandlerResult, InMemoryStorage, Operation, Request, Storage};
use crate::host::system_view::SystemError;
use crate::host::{Engine, SystemInfo};

/// A system view whose standby bit tests can flip.
#[derive(Debug, Default)]
pub struct FakeSystem {
    pub standby: AtomicBool,
}

#[async_trait::async_trait]
impl SystemInfo for FakeSystem {
    async fn replication_state(&self) -> Result<i32, SystemError> {
        Ok(if self.standby.load(Ordering::SeqCst) {
            24576
        } else {
            8224
        })
    }

    async fn server_version(&self) -> Result<String, SystemError> {
        Ok("2.7.2".into())
    }
}

/// An initialized engine on fresh in-memory storage.
pub struct Harness {
    pub engine: AiKeys,
    pub storage: Arc<InMemoryStorage>,
    #[allow(dead_code)]
    pub system: Arc<FakeSystem>,
}

impl Harness {
    pub async fn new() -> Harness {
        let system = Arc::new(FakeSystem::default());
        let storage = Arc::new(InMemoryStorage::new());
        let engine = AiKeys::new(system.clone());
        engine
            .initialize(storage.clone() as Arc<dyn Storage>)
            .await
            .expect("initialize");
        Harness {
            engine,
            storage,
            system,
        }
    }

    /// Runs one request as the entity `actor`.
    pub async fn call_as(
        &self,
        actor: &str,
        op: Operation,
        path: &str,
        data: Value,
    ) -> HandlerResult {
        let mut req =
            Request::new(op, path, self.storage.clone() as Arc<dyn Storage>).with_data(data);
        req.id = format!("req-{}", uuid::Uuid::new_v4());
        req.entity_id = actor.to_string();
        req.display_name = format!("userpass-{actor}");
        req.client_token_accessor = format!("acc-{actor}");
        self.engine.backend().handle_request(req).await
    }

    pub async fn call(&self, op: Operation, path: &str, data: Value) -> HandlerResult {
        self.call_as("alice", op, path, data).await
    }

    /// Reads `path` and returns its data, panicking on error or no response.
    pub async fn read(&self, path: &str) -> Value {
        let resp = self
            .call(Operation::Read, path, Value::Null)
            .await
            .unwrap_or_else(|e| panic!("read {path}: {e}"))
            .unwrap_or_else(|| panic!("read {path}: no response"));
        Value::Object(resp.data)
    }

    /// Writes `path` (update) and returns its data (Null when there is no response).
    pub async fn write(&self, path: &str, data: Value) -> Result<Value, Error> {
        Ok(self
            .call(Operation::Update, path, data)
            .await?
            .map(|r| Value::Object(r.data))
            .unwrap_or(Value::Null))
    }

    /// A snapshot of every stored key and value, to prove a refused request changed nothing.
    pub async fn snapshot(&self) -> Vec<(String, Option<Vec<u8>>)> {
        let mut out = Vec::new();
        for key in self.storage.keys() {
            let value = self.storage.get(&key).await.unwrap();
            out.push((key, value));
        }
        out
    }
}
