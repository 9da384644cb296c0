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
mod path_history;
mod path_keys;
mod path_metrics;
mod path_notifications;
mod path_overdue;
mod path_providers;
mod path_report;
mod path_rotate;
mod path_schedules;
mod path_steps;

// What stands behind them, top down (see ARCHITECTURE.md): each part behind its facade.
mod fields;
mod metrics;
mod notify;
mod periodic;
mod policy;
mod provider_ops;
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
    /// Builds the engine for a mount.
    pub fn new(system: Arc<dyn SystemInfo>) -> AiKeys {
        let shared = Arc::new(Shared {
            system,
            locks: record::KeyLocks::default(),
            providers: crate::providers::Providers::new(),
            schedules: policy::ScheduleCache::default(),
            records: Arc::new(
                framework::StorageCache::new(&[record::KEYS_PREFIX], RECORD_CACHE)
                    .watch(&[record::KEYS_PREFIX, policy::SCHEDULES_PREFIX]),
            ),
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
            path_acknowledge::paths(&shared),
            path_history::paths(&shared),
            path_overdue::paths(&shared),
            path_metrics::paths(&shared, &periodic),
            path_report::paths(&shared),
            path_notifications::paths(&shared),
        ];
        let (tick_shared, tick_state) = (shared.clone(), periodic.clone());
        let wal_shared = shared.clone();
        let mut backend = framework::Backend::new(BACKEND_HELP)
            .version(&format!("v{}", crate::VERSION))
            .periodic(Arc::new(move |req| {
                Box::pin(periodic::tick(tick_shared.clone(), tick_state.clone(), req))
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

#[async_trait::async_trait]
impl Engine for AiKeys {
    fn backend(&self) -> &framework::Backend {
        &self.backend
    }

    fn seal_wrap_storage(&self) -> Vec<String> {
        vec![
            record::KEYS_PREFIX.to_string(),
            provider_ops::PROVIDERS_PREFIX.to_string(),
        ]
    }

    /// Storage changed underneath us (a standby following the active node): drop what is cached.
    async fn invalidate(&self, key: &str) {
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
    /// built-in schedules and converts records the previous release wrote, except on a standby,
    /// whose storage is read-only (it reads the previous format until then).
    async fn initialize(&self, storage: Arc<dyn Storage>) -> Result<(), framework::Error> {
        let caching = match self.shared.system.caching_disabled().await {
            Ok(disabled) => !disabled,
            Err(e) => {
                tracing::warn!(error = %e, "cannot tell whether caching is disabled; not caching");
                false
            }
        };
        self.shared.records.set_enabled(caching);
        if self.shared.system.is_standby().await {
            return Ok(());
        }
        policy::seed_schedules(storage.as_ref()).await?;
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

/// The factory the host glue calls at Setup.
pub fn factory() -> EngineFactory {
    Arc::new(|ctx: EngineContext| Arc::new(AiKeys::new(ctx.system)) as Arc<dyn Engine>)
}

#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod tests;
