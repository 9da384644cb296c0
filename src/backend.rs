//! The ai-keys engine: every path of docs/api.md, grouped by family, plus the periodic work.
//!
//! One [`AiKeys`] serves one mount. Handlers are plain `async fn`s taking the shared engine
//! state, the request and its validated fields; [`bind`] turns them into framework handlers.

mod cron_settings;
mod digest;
mod due_index;
mod history;
mod intents;
mod key_locks;
mod locked;
mod metrics;
mod metrics_format;
mod migrate;
mod ownership;
mod path_config;
mod path_creds;
mod path_cutover;
mod path_keys;
mod path_providers;
mod path_report;
mod path_reports;
mod path_rotate;
mod path_rotation;
mod path_schedules;
mod periodic;
mod provider_ops;
mod records;
mod replays;
mod scan;
mod store;
mod usage;
mod view;
mod workflows;

use std::future::Future;
use std::sync::Arc;

use crate::engine::{Engine, EngineContext, EngineFactory, SystemInfo};
use crate::framework::{self, FieldData, Handler, HandlerResult, Request, Storage};

pub use path_config::Config;

const BACKEND_HELP: &str = "\
The ai-keys secrets engine keeps AI provider API keys (OpenAI, Anthropic, Gemini, Azure OpenAI, \
OpenRouter, any OpenAI-compatible API) safe through their whole life: two live versions during a \
cut-over, rotation schedules and grace windows, and rotations that stage a new key, test it \
against the provider and promote it. Applications read creds/<name>.";

/// State shared by every handler of one mount.
pub struct Shared {
    /// The host's system view (standby detection, server version).
    pub system: Arc<dyn SystemInfo>,
    /// Per-key write locks.
    pub locks: store::KeyLocks,
    /// The shared HTTP client for provider calls.
    pub providers: crate::providers::Providers,
    /// Schedules, read through and kept until they change.
    pub schedules: path_schedules::ScheduleCache,
    /// When the periodic work last finished without a failure (for `metrics`).
    pub ticks: metrics::TickClock,
    /// Decoded key records, kept exact in front of the mount's storage (see
    /// [`framework::get_cached`]); on from Initialize unless the server disables caching.
    pub records: Arc<framework::StorageCache>,
    /// When each key next needs the periodic tick (active node).
    pub due: due_index::DueIndex,
}

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
}

impl AiKeys {
    /// Builds the engine for a mount.
    pub fn new(system: Arc<dyn SystemInfo>) -> AiKeys {
        let shared = Arc::new(Shared {
            system,
            locks: store::KeyLocks::default(),
            providers: crate::providers::Providers::new(),
            schedules: path_schedules::ScheduleCache::default(),
            ticks: metrics::TickClock::default(),
            records: Arc::new(
                framework::StorageCache::new(&[store::KEYS_PREFIX], RECORD_CACHE)
                    .watch(&[store::KEYS_PREFIX, path_schedules::SCHEDULES_PREFIX]),
            ),
            due: due_index::DueIndex::default(),
        });
        let families = [
            path_config::paths(&shared),
            path_schedules::paths(&shared),
            path_providers::paths(&shared),
            path_keys::paths(&shared),
            path_creds::paths(&shared),
            path_rotation::paths(&shared),
            path_rotate::paths(&shared),
            path_cutover::paths(&shared),
            path_reports::paths(&shared),
            path_report::paths(&shared),
        ];
        let tick_shared = shared.clone();
        let wal_shared = shared.clone();
        let mut backend = framework::Backend::new(BACKEND_HELP)
            .version(&format!("v{}", crate::VERSION))
            .periodic(Arc::new(move |req| {
                Box::pin(periodic::tick(tick_shared.clone(), req))
            }))
            .wal_rollback(
                Arc::new(move |req, id, entry| {
                    Box::pin(intents::recover(wal_shared.clone(), req, id, entry))
                }),
                intents::MIN_AGE,
            )
            .wal_budget(intents::BUDGET);
        for path in families.into_iter().flatten() {
            backend = backend.path(path);
        }
        AiKeys { backend, shared }
    }
}

#[async_trait::async_trait]
impl Engine for AiKeys {
    fn backend(&self) -> &framework::Backend {
        &self.backend
    }

    fn seal_wrap_storage(&self) -> Vec<String> {
        vec![
            store::KEYS_PREFIX.to_string(),
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
        path_schedules::seed(storage.as_ref()).await?;
        // A record that cannot be converted is logged and left as it is; the mount still serves
        // every other key, and a write to that key names the problem.
        let failures = migrate::run(&self.shared, storage.as_ref()).await?;
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

/// Turns `async fn(shared, request, fields)` into a framework handler.
pub(crate) fn bind<F, Fut>(shared: &Arc<Shared>, f: F) -> Handler
where
    F: Fn(Arc<Shared>, Request, FieldData) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = HandlerResult> + Send + 'static,
{
    let shared = shared.clone();
    framework::handler(move |req, data| f(shared.clone(), req, data))
}

#[cfg(test)]
mod flow_tests;
#[cfg(test)]
pub(crate) mod testing;
