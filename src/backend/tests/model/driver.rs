//! The engine under test, as a process the model can kill: an [`AiKeys`] over in-memory storage
//! seen through [`Killable`], which lets a chosen number of writes through and then "dies" (the
//! next write, and every storage call after it, never finishes), so the operation in flight is
//! dropped where it stood; or that refuses one write (a storage error the request sees and
//! answers). A fresh [`Instance`] over the same storage is the restarted plugin.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::sync::Notify;

use crate::backend::testing::FakeSystem;
use crate::backend::AiKeys;
use crate::engine::Engine;
use crate::framework::{Error, InMemoryStorage, Operation, Request, Storage, StorageError};

/// The host's storage as one plugin process sees it: dead after its write budget is spent.
pub(super) struct Killable {
    inner: Arc<InMemoryStorage>,
    /// Writes (puts and deletes) still allowed; `None`: no kill armed.
    budget: Mutex<Option<usize>>,
    /// Writes to let through before one is refused; `None`: none armed.
    refuse: Mutex<Option<usize>>,
    dead: AtomicBool,
    died: Notify,
}

impl Killable {
    fn new(inner: Arc<InMemoryStorage>) -> Killable {
        Killable {
            inner,
            budget: Mutex::new(None),
            refuse: Mutex::new(None),
            dead: AtomicBool::new(false),
            died: Notify::new(),
        }
    }

    /// Stops forever if the process is dead.
    async fn alive(&self) {
        if self.dead.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
    }

    /// Spends one write of the budget; the write past it kills the process (and never ends),
    /// or is refused once.
    async fn write_allowed(&self) -> Result<(), StorageError> {
        self.alive().await;
        {
            let mut refuse = self.refuse.lock().unwrap();
            match refuse.as_mut() {
                Some(0) => {
                    *refuse = None;
                    return Err(StorageError("injected storage failure".into()));
                }
                Some(n) => *n -= 1,
                None => {}
            }
        }
        let kill = {
            let mut budget = self.budget.lock().unwrap();
            match budget.as_mut() {
                Some(0) => true,
                Some(n) => {
                    *n -= 1;
                    false
                }
                None => false,
            }
        };
        if kill {
            self.dead.store(true, Ordering::SeqCst);
            self.died.notify_one();
            std::future::pending::<()>().await;
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl Storage for Killable {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        self.alive().await;
        self.inner.get(key).await
    }
    async fn put(&self, key: &str, value: Vec<u8>) -> Result<(), StorageError> {
        self.write_allowed().await?;
        self.inner.put(key, value).await
    }
    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        self.write_allowed().await?;
        self.inner.delete(key).await
    }
    async fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        self.alive().await;
        self.inner.list(prefix).await
    }
}

/// One plugin process: the engine, initialized over the shared in-memory storage.
pub(super) struct Instance {
    engine: AiKeys,
    killable: Arc<Killable>,
    /// The storage as requests see it (behind the engine's record cache).
    pub cached: Arc<dyn Storage>,
}

/// How a request ended.
pub(super) enum Outcome {
    /// It answered (the data, or `Null` for no response).
    Done(Result<Value, Error>),
    /// The process died in the middle.
    Killed,
}

impl Instance {
    /// A plugin process started over `storage` (a lone active node).
    pub(super) async fn boot(storage: Arc<InMemoryStorage>) -> Instance {
        let engine = AiKeys::new(Arc::new(FakeSystem::default()));
        let killable = Arc::new(Killable::new(storage));
        let cached = engine.wrap_storage(killable.clone());
        engine.initialize(cached.clone()).await.expect("initialize");
        Instance {
            engine,
            killable,
            cached,
        }
    }

    /// Whether the process died (in a request, or in a task a request left running).
    pub(super) fn is_dead(&self) -> bool {
        self.killable.dead.load(Ordering::SeqCst)
    }

    /// Kills the process (any task it left running stops at its next storage call).
    pub(super) fn kill(&self) {
        self.killable.dead.store(true, Ordering::SeqCst);
    }

    fn request(&self, op: Operation, path: &str, data: Value) -> Request {
        let mut req = Request::new(op, path, self.cached.clone()).with_data(data);
        req.id = format!("req-{}", uuid::Uuid::new_v4());
        req.mount_point = "ai-keys/".to_string();
        req.entity_id = "alice".into();
        req.display_name = "userpass-alice".into();
        req.client_token_accessor = "acc-alice".into();
        req
    }

    /// Runs one request; with `kill_after`, the process dies at the write after that many; with
    /// `refuse_after`, the write after that many fails (once).
    pub(super) async fn call(
        &self,
        op: Operation,
        path: &str,
        data: Value,
        kill_after: Option<usize>,
        refuse_after: Option<usize>,
    ) -> Outcome {
        *self.killable.budget.lock().unwrap() = kill_after;
        *self.killable.refuse.lock().unwrap() = refuse_after;
        let req = self.request(op, path, data);
        let backend = self.engine.backend();
        let run = async move {
            backend
                .handle_request(req)
                .await
                .map(|r| r.map(|r| r.data_value()).unwrap_or(Value::Null))
        };
        let outcome = until_death(run, &self.killable.died).await;
        *self.killable.budget.lock().unwrap() = None;
        *self.killable.refuse.lock().unwrap() = None;
        outcome
    }

    /// A write as the host sends it: `create` when the path's existence check says absent,
    /// else `update` (paths without an existence check always get `update`).
    pub(super) async fn write_operation(&self, path: &str) -> Operation {
        let req = Request::new(Operation::Create, path, self.cached.clone());
        match self.engine.backend().handle_existence_check(req).await {
            Ok(r) if r.check_found && !r.exists => Operation::Create,
            _ => Operation::Update,
        }
    }

    /// A request that must answer (no kill armed).
    pub(super) async fn answer(
        &self,
        op: Operation,
        path: &str,
        data: Value,
    ) -> Result<Value, Error> {
        match self.call(op, path, data, None, None).await {
            Outcome::Done(r) => r,
            Outcome::Killed => unreachable!("no kill was armed"),
        }
    }
}

/// Runs `op` until it ends or the process dies (then drops it where it stands).
async fn until_death(op: impl Future<Output = Result<Value, Error>>, died: &Notify) -> Outcome {
    tokio::select! {
        biased;
        () = died.notified() => Outcome::Killed,
        r = op => Outcome::Done(r),
    }
}
