//! What every handler of one mount shares ([`Shared`]), and [`bind`], which turns a handler
//! taking it into a framework handler. Built once per mount by `backend.rs`.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::policy::ScheduleCache;
use super::record::KeyLocks;
use crate::engine::SystemInfo;
use crate::framework::{self, FieldData, Handler, HandlerResult, Request};
use crate::secret::SecretValue;

/// State shared by every handler of one mount.
pub(super) struct Shared {
    /// The host's system view (standby detection, server version).
    pub(super) system: Arc<dyn SystemInfo>,
    /// Per-key write locks.
    pub(super) locks: KeyLocks,
    /// The shared HTTP client for provider calls.
    pub(super) providers: crate::providers::Providers,
    /// Schedules, read through and kept until they change.
    pub(super) schedules: ScheduleCache,
    /// Decoded key records, kept exact in front of the mount's storage (see
    /// [`framework::get_cached`]); on from Initialize unless the server disables caching.
    pub(super) records: Arc<framework::StorageCache>,
    /// Federated keys' provider access tokens, in memory only (never stored).
    pub(super) tokens: TokenCache,
    /// When the issuer's signing keys next need the tick (`None`: unknown, look now), so an
    /// idle tick reads no storage for them; a write to the issuer's settings or keys resets it.
    pub(super) issuer_due: std::sync::Mutex<Option<DateTime<Utc>>>,
}

/// Federated keys' access tokens: one slot per key, whose async lock makes one exchange at a
/// time per key however many readers wait; and the exchange counters `metrics` shows.
#[derive(Default)]
pub(super) struct TokenCache {
    slots: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<Option<CachedToken>>>>>,
    /// Exchanges that returned a token.
    pub(super) exchanges: AtomicU64,
    /// Exchanges that failed (refused or unavailable).
    pub(super) failures: AtomicU64,
}

/// A token and what it was obtained for.
pub(super) struct CachedToken {
    /// The access token.
    pub(super) value: SecretValue,
    /// When it was obtained.
    pub(super) obtained: DateTime<Utc>,
    /// When the provider said it expires.
    pub(super) expires: DateTime<Utc>,
    /// What it was obtained for (the definition and endpoint): another means a fresh exchange.
    pub(super) basis: String,
}

/// At most this many slots (one per federated key read); beyond, all are dropped.
const MAX_TOKEN_SLOTS: usize = 10_000;

impl TokenCache {
    /// The slot of key `name`.
    pub(super) fn slot(&self, name: &str) -> Arc<tokio::sync::Mutex<Option<CachedToken>>> {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        if slots.len() >= MAX_TOKEN_SLOTS && !slots.contains_key(name) {
            slots.clear();
        }
        slots.entry(name.to_string()).or_default().clone()
    }

    /// Drops key `name`'s token (its definition changed or went).
    pub(super) fn forget(&self, name: &str) {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots.remove(name);
    }
}

/// Turns `async fn(shared, request, fields)` into a framework handler.
pub(super) fn bind<F, Fut>(shared: &Arc<Shared>, f: F) -> Handler
where
    F: Fn(Arc<Shared>, Request, FieldData) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = HandlerResult> + Send + 'static,
{
    let shared = shared.clone();
    framework::handler(move |req, data| f(shared.clone(), req, data))
}
