//! The ai-keys engine: every path of docs/api.md, grouped by family, plus the periodic work.
//!
//! One [`AiKeys`] serves one mount. Handlers are plain `async fn`s taking the shared engine
//! state, the request and its validated fields; `shared::bind` turns them into framework handlers.

// The API: one file per path family. Each declares its paths and parses, calls and renders;
// none imports another.
mod path_acknowledge;
mod path_config;
mod path_creds;
mod path_cutover;
mod path_exposed;
mod path_history;
mod path_keys;
mod path_metrics;
mod path_notifications;
mod path_oidc;
mod path_overdue;
mod path_providers;
mod path_reconcile;
mod path_records;
mod path_report;
mod path_rotate;
mod path_schedules;
mod path_steps;

// What stands behind them, top down (see ARCHITECTURE.md): each part behind its facade.
mod fields;
mod issuer;
mod metrics;
mod notify;
mod periodic;
mod policy;
mod provider_ops;
mod reconcile;
mod record;
mod recovery;
mod shared;
mod view;
mod workflows;

use std::sync::Arc;

use crate::engine::{Engine, EngineContext, EngineFactory, SystemInfo};
use crate::framework::{self, Storage};

use periodic::TickState;
use shared::Shared;

const BACKEND_HELP: &str = "\
The ai-keys secrets engine keeps AI provider API keys (OpenAI, Anthropic, Gemini, Azure OpenAI, \
OpenRouter, any OpenAI-compatible API) safe through their whole life: two live versions during a \
cut-over, rotation schedules and grace windows, and rotations that stage a new key, test it \
against the provider and promote it. Applications read creds/<name>.";

/// Bounds of the record cache: the hot keys of a mount, not all of them (a record with a few
/// versions is 1 to 2 KB stored, and several times that decoded: at most about 3 MiB).
pub const RECORD_CACHE: framework::CacheLimits = framework::CacheLimits {
    max_entries: 512,
    max_bytes: 1 << 20,
    max_summaries: 25_000,
};

/// One mounted engine.
pub struct AiKeys {
    backend: framework::Backend,
    shared: Arc<Shared>,
    /// The periodic work's memory, which the tick and `metrics` share; tests read it here.
    #[cfg(test)]
    periodic: Arc<TickState>,
}

impl AiKeys {
    /// Builds the engine for a mount whose id nobody gave (tests): a fresh one.
    pub fn new(system: Arc<dyn SystemInfo>) -> AiKeys {
        AiKeys::for_mount(system, &uuid::Uuid::new_v4().to_string())
    }

    /// Builds the engine for the mount `mount_id` (Setup's `backendUUID`; a fresh id when
    /// empty, as in registration probes, which create nothing).
    pub fn for_mount(system: Arc<dyn SystemInfo>, mount_id: &str) -> AiKeys {
        let fresh;
        let mount_id = if mount_id.is_empty() {
            fresh = uuid::Uuid::new_v4().to_string();
            &fresh
        } else {
            mount_id
        };
        let shared = Arc::new(Shared {
            naming_tag: shared::naming_tag(mount_id),
            system,
            locks: record::KeyLocks::default(),
            providers: crate::providers::Providers::new(),
            schedules: policy::ScheduleCache::default(),
            records: Arc::new(
                framework::StorageCache::new(&[record::KEYS_PREFIX], RECORD_CACHE)
                    .watch(&[record::KEYS_PREFIX, policy::SCHEDULES_PREFIX]),
            ),
            tokens: shared::TokenCache::default(),
            issuer_due: std::sync::Mutex::new(None),
        });
        let periodic = Arc::new(TickState::default());
        let families = [
            path_config::paths(&shared),
            path_schedules::paths(&shared),
            path_providers::paths(&shared),
            path_keys::paths(&shared),
            path_creds::paths(&shared),
            path_steps::paths(&shared),
            path_rotate::paths(&shared),
            path_cutover::paths(&shared),
            path_exposed::paths(&shared),
            path_acknowledge::paths(&shared),
            path_history::paths(&shared),
            path_overdue::paths(&shared),
            path_metrics::paths(&shared, &periodic),
            path_report::paths(&shared),
            path_reconcile::paths(&shared),
            path_records::paths(&shared),
            path_oidc::paths(&shared),
            path_notifications::paths(&shared),
        ];
        let (tick_shared, tick_state) = (shared.clone(), periodic.clone());
        let wal_shared = shared.clone();
        let mut backend = framework::Backend::new(BACKEND_HELP)
            .version(&format!("v{}", crate::VERSION))
            .periodic(Arc::new(move |req| {
                let (shared, state) = (tick_shared.clone(), tick_state.clone());
                Box::pin(async move {
                    rotate_signing_keys(&shared, &req).await;
                    periodic::tick(shared, state, req).await
                })
            }))
            .wal_rollback(
                Arc::new(move |req, id, entry| {
                    Box::pin(recovery::recover(wal_shared.clone(), req, id, entry))
                }),
                recovery::MIN_AGE,
            )
            .wal_budget(recovery::BUDGET);
        for path in families.into_iter().flatten() {
            backend = backend.path(path);
        }
        // Test builds only (the `test-hooks` feature): `test-hooks/tick` runs the periodic work
        // and the WAL recovery set above, now.
        #[cfg(feature = "test-hooks")]
        let backend = backend.test_hooks();
        AiKeys {
            backend,
            shared,
            #[cfg(test)]
            periodic,
        }
    }
}

/// The issuer's signing-key schedule, on the active node's tick only (a standby never writes),
/// and only when it has work due (an idle tick reads nothing). A failure is logged and retried
/// next tick; it never stops the keys' own work.
async fn rotate_signing_keys(shared: &Shared, req: &framework::Request) {
    let now = chrono::Utc::now();
    let due = *shared.issuer_due.lock().unwrap_or_else(|p| p.into_inner());
    if due.is_some_and(|d| now < d) || shared.system.is_standby().await {
        return;
    }
    let next = match issuer::rotate_on_tick(req.storage.as_ref(), now).await {
        Ok(next) => Some(next.unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC)),
        Err(e) => {
            tracing::warn!(error = %e, "issuer signing-key rotation failed; retried next tick");
            None
        }
    };
    *shared.issuer_due.lock().unwrap_or_else(|p| p.into_inner()) = next;
}

#[async_trait::async_trait]
impl Engine for AiKeys {
    fn backend(&self) -> &framework::Backend {
        &self.backend
    }

    fn seal_wrap_storage(&self) -> Vec<String> {
        vec![
            record::KEYS_PREFIX.to_string(),
            provider_ops::PROVIDERS_PREFIX.to_string(),
            issuer::ISSUER_PREFIX.to_string(),
            record::FEDERATED_PREFIX.to_string(),
        ]
    }

    /// The issuer's discovery document and JWKS, which providers fetch without a token.
    fn unauthenticated_paths(&self) -> Vec<String> {
        path_oidc::UNAUTHENTICATED
            .iter()
            .map(|p| p.to_string())
            .collect()
    }

    /// Storage changed underneath us (a standby following the active node): drop what is cached.
    /// The active node's plugin wrote [`STARTED_KEY`] at its start: after a snapshot restore
    /// (which restarts only that plugin) every cached digest and schedule may be stale.
    async fn invalidate(&self, key: &str) {
        if key == STARTED_KEY {
            self.shared.records.clear();
            self.shared.schedules.clear();
            return;
        }
        self.shared.schedules.invalidate(key);
        self.shared.records.invalidate(key);
    }

    /// Key records are cached in front of the host's storage, so every write updates them.
    fn wrap_storage(&self, storage: Arc<dyn Storage>) -> Arc<dyn Storage> {
        Arc::new(framework::CachedStorage::new(
            storage,
            self.shared.records.clone(),
        ))
    }

    async fn cleanup(&self) {
        self.shared.records.set_enabled(false);
    }

    /// Turns the record cache on unless the server disables caching (or cannot say); seeds the
    /// built-in schedules, converts records the previous release wrote and marks the start
    /// ([`STARTED_KEY`]), except on a standby, whose storage is read-only (it reads the previous
    /// format until then).
    ///
    /// A standby keeps no records, only digests and schedules: a Raft snapshot restore replaces
    /// its storage and restarts only the active node's plugin, and its own plugin gets no
    /// InvalidateKey, no reload and no Initialize (OpenBao's restore callback on a follower
    /// purges only the server's physical cache). So `creds/` and `keys/` on a standby always
    /// read storage as it is, and its digests and schedules are dropped when the restarted
    /// active plugin's start mark reaches it (seconds later). A standby that becomes active gets
    /// a fresh plugin process, initialized again.
    async fn initialize(&self, storage: Arc<dyn Storage>) -> Result<(), framework::Error> {
        let caching = match self.shared.system.caching_disabled().await {
            Ok(disabled) => !disabled,
            Err(e) => {
                tracing::warn!(error = %e, "cannot tell whether caching is disabled; not caching");
                false
            }
        };
        let standby = self.shared.system.is_standby().await;
        self.shared.records.set_enabled(caching);
        self.shared.records.set_keep_entries(!standby);
        if standby {
            return Ok(());
        }
        policy::seed_schedules(storage.as_ref()).await?;
        // Not fatal: without it, standbys only keep their digests longer after a restore.
        let started = serde_json::json!({
            "id": uuid::Uuid::new_v4().to_string(),
            "time": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        });
        if let Err(e) = framework::put_json(storage.as_ref(), STARTED_KEY, &started).await {
            tracing::warn!(error = %e, "cannot mark the plugin's start for the standbys");
        }
        // A record that cannot be converted is logged and left as it is; the mount still serves
        // every other key, and a write to that key names the problem.
        let failures = record::migrate_all(&self.shared.locks, storage.as_ref()).await?;
        if !failures.is_empty() {
            tracing::error!(
                count = failures.len(),
                "some stored records were not migrated: {}",
                failures.join("; ")
            );
        }
        Ok(())
    }
}

/// Written by the active node's plugin at every start (a random id and the time, as a JSON
/// object like every other entry: `sys/raw` decompresses an entry whose first byte is a
/// compression marker, such as `4`, so a bare id starting with that digit could not be read
/// there): its InvalidateKey tells a standby that the active plugin restarted, as it does after
/// a snapshot restore, so the standby drops its digests and schedules.
const STARTED_KEY: &str = "started";

/// The factory the host glue calls at Setup.
pub fn factory() -> EngineFactory {
    Arc::new(|ctx: EngineContext| {
        Arc::new(AiKeys::for_mount(ctx.system, &ctx.backend_uuid)) as Arc<dyn Engine>
    })
}

#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod tests;
