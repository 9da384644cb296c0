//! What every handler of one mount shares ([`Shared`]), and [`bind`], which turns a handler
//! taking it into a framework handler. Built once per mount by `backend.rs`.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
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
    /// This mount's tag in the names of the keys it creates at providers
    /// ([`naming_tag`]), so `reconcile` tells its keys from another mount's at a shared account.
    pub(super) naming_tag: String,
    /// When the issuer's signing keys next need the tick (`None`: unknown, look now), so an
    /// idle tick reads no storage for them; a write to the issuer's settings or keys resets it.
    pub(super) issuer_due: std::sync::Mutex<Option<DateTime<Utc>>>,
}

/// Federated keys' access tokens: one slot per key, whose async lock makes one exchange at a
/// time per key however many readers wait; and the exchange counters `metrics`, `history/` and
/// `report` show (per node since it started: memory only, so a standby writes nothing).
pub(super) struct TokenCache {
    slots: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<Option<CachedToken>>>>>,
    /// Per key: what its exchanges did on this node.
    stats: std::sync::Mutex<HashMap<String, ExchangeStats>>,
    /// When this node started counting.
    pub(super) since: DateTime<Utc>,
    /// Exchanges that returned a token.
    pub(super) exchanges: AtomicU64,
    /// Exchanges that failed (refused or unavailable).
    pub(super) failures: AtomicU64,
}

impl Default for TokenCache {
    fn default() -> Self {
        Self {
            slots: std::sync::Mutex::default(),
            stats: std::sync::Mutex::default(),
            since: Utc::now(),
            exchanges: AtomicU64::new(0),
            failures: AtomicU64::new(0),
        }
    }
}

/// What one federated key's exchanges did on this node since it started. Never a token: the
/// error text is the exchange's error message (key, status, OAuth error code).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct ExchangeStats {
    /// Exchanges that returned a token.
    pub(super) ok: u64,
    /// Failed exchanges by outcome (`bad_key`, `provider_unavailable`, `unsupported`).
    pub(super) failed: BTreeMap<&'static str, u64>,
    /// When the last exchange (either outcome) ended.
    pub(super) last_exchange: Option<DateTime<Utc>>,
    /// When the last failed one ended, and its error text.
    pub(super) last_failure: Option<(DateTime<Utc>, String)>,
}

/// The longest error text kept per key.
const MAX_ERROR_TEXT: usize = 512;

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

    /// Counts an exchange of key `name` that ended at `at`: `Ok` or the failure's outcome and
    /// error text (cut to 512 bytes).
    pub(super) fn count(
        &self,
        name: &str,
        at: DateTime<Utc>,
        outcome: Result<(), (&'static str, &str)>,
    ) {
        let mut stats = self.stats.lock().unwrap_or_else(|p| p.into_inner());
        if stats.len() >= MAX_TOKEN_SLOTS && !stats.contains_key(name) {
            stats.clear();
        }
        let s = stats.entry(name.to_string()).or_default();
        s.last_exchange = Some(at);
        match outcome {
            Ok(()) => {
                s.ok += 1;
                self.exchanges.fetch_add(1, Ordering::Relaxed);
            }
            Err((what, error)) => {
                *s.failed.entry(what).or_default() += 1;
                let mut end = error.len().min(MAX_ERROR_TEXT);
                while !error.is_char_boundary(end) {
                    end -= 1;
                }
                s.last_failure = Some((at, error[..end].to_string()));
                self.failures.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Drops key `name`'s counts (the key was deleted).
    pub(super) fn forget_counts(&self, name: &str) {
        let mut stats = self.stats.lock().unwrap_or_else(|p| p.into_inner());
        stats.remove(name);
    }

    /// What key `name`'s exchanges did on this node (zeros when none yet).
    pub(super) fn stats(&self, name: &str) -> ExchangeStats {
        let stats = self.stats.lock().unwrap_or_else(|p| p.into_inner());
        stats.get(name).cloned().unwrap_or_default()
    }

    /// Every key's counts on this node, by name.
    pub(super) fn all_stats(&self) -> BTreeMap<String, ExchangeStats> {
        let stats = self.stats.lock().unwrap_or_else(|p| p.into_inner());
        stats.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }
}

impl ExchangeStats {
    /// How `history/` and `report` show them: `ok`, `failed` by outcome (`bad_key` and
    /// `provider_unavailable` always present), the last times and error, and since when.
    pub(super) fn json(&self, since: DateTime<Utc>, node: &str) -> serde_json::Value {
        let mut failed = serde_json::Map::new();
        for outcome in ["bad_key", "provider_unavailable"] {
            failed.insert(outcome.into(), 0.into());
        }
        for (outcome, n) in &self.failed {
            failed.insert((*outcome).into(), (*n).into());
        }
        serde_json::json!({
            "ok": self.ok,
            "failed": failed,
            "last_exchange_time": self.last_exchange.map(super::view::time),
            "last_failure_time": self.last_failure.as_ref().map(|(t, _)| super::view::time(*t)),
            "last_error": self.last_failure.as_ref().map(|(_, e)| e.as_str()),
            "since": super::view::time(since),
            "node": node,
        })
    }
}

/// Hex digits of a mount's naming tag.
pub(super) const NAMING_TAG_LEN: usize = 6;

/// The tag of mount `mount_id` (its `backendUUID`) in the names of the keys it creates at
/// providers: the first [`NAMING_TAG_LEN`] hex digits of a SHA-256 of the id. Two mounts that
/// share a provider account (one OpenRouter management key) and hold keys of the same name make
/// keys named alike but for this tag; a snapshot restore keeps the mount's id, so keys made after
/// the snapshot still carry the restored mount's tag.
pub(super) fn naming_tag(mount_id: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("ai-keys naming tag\0{mount_id}").as_bytes());
    hex::encode(digest)[..NAMING_TAG_LEN].to_string()
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

#[cfg(test)]
mod tests;
