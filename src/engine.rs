//! The contract between the host glue ([`crate::host`]) and a secrets engine
//! ([`crate::backend`]): what an engine provides (its routed backend, initialization,
//! invalidation), what it is built from, and what it may ask of the host (system information,
//! including whether this node is a standby). Both sides depend on this module, never on each
//! other.

use std::collections::HashMap;
use std::sync::Arc;

use crate::framework::{self, Storage};

/// What a secrets engine provides to the host glue. One engine instance serves one mount.
#[async_trait::async_trait]
pub trait Engine: Send + Sync + 'static {
    /// The routed paths, periodic hook and WAL rollback.
    fn backend(&self) -> &framework::Backend;
    /// Storage keys that should be seal-wrapped where the server supports it.
    fn seal_wrap_storage(&self) -> Vec<String> {
        Vec::new()
    }
    /// Paths reachable without a token (SpecialPaths `unauthenticated`; `*` suffix = prefix).
    fn unauthenticated_paths(&self) -> Vec<String> {
        Vec::new()
    }
    /// Runs after Setup on mount, reload and restart: the first moment storage may be used.
    async fn initialize(&self, _storage: Arc<dyn Storage>) -> Result<(), framework::Error> {
        Ok(())
    }
    /// A storage key changed underneath us (replication, standby): drop what is cached for it.
    async fn invalidate(&self, _key: &str) {}
    /// The storage every request and Initialize of this engine use, given the host's: an
    /// engine that caches what it reads puts its cache in front here, so it sees every write.
    fn wrap_storage(&self, storage: Arc<dyn Storage>) -> Arc<dyn Storage> {
        storage
    }
    /// The mount is going away or reloading.
    async fn cleanup(&self) {}
}

/// What an engine is built from at Setup.
pub struct EngineContext {
    /// The host's system view for this mount.
    pub system: Arc<dyn SystemInfo>,
    /// Setup's `Config`: `plugin_name`, `plugin_type`, `plugin_version` and mount options.
    pub config: HashMap<String, String>,
    /// Setup's `backendUUID`: the mount's own id, stable across restarts (and kept by a
    /// snapshot restore, which restores the mount table); empty during registration probes.
    pub backend_uuid: String,
}

/// Builds the engine for a mount.
pub type EngineFactory = Arc<dyn Fn(EngineContext) -> Arc<dyn Engine> + Send + Sync>;

/// The replication-state bit set on performance standbys (openbao.md: 16384).
pub const PERF_STANDBY: i32 = 16384;
/// The replication-state bit a lone server (dev mode, no HA storage) sets: performance
/// replication disabled (4096). The active node of an integrated-Raft cluster has it clear
/// (8224), and so has a standby (24576).
pub const PERF_DISABLED: i32 = 4096;

/// Errors asking the host.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum SystemError {
    /// Transport failure or the host has no system view (registration probes).
    #[error("system view: {0}")]
    Rpc(String),
}

/// The parts of the host's system view the engine uses.
#[async_trait::async_trait]
pub trait SystemInfo: Send + Sync {
    /// The replication state bit set.
    async fn replication_state(&self) -> Result<i32, SystemError>;
    /// The server's version (`2.7.2`).
    async fn server_version(&self) -> Result<String, SystemError>;
    /// Whether the server's caching is disabled (`disable_cache` in its configuration): then
    /// the engine keeps no cache of storage either.
    async fn caching_disabled(&self) -> Result<bool, SystemError> {
        Ok(false)
    }

    /// Whether other nodes may serve reads of this node's storage (the server runs in a
    /// cluster: the performance-disabled bit is clear). Fails safe: a node that cannot ask the
    /// host counts as clustered.
    async fn may_have_standbys(&self) -> bool {
        self.replication_state()
            .await
            .map_or(true, |state| state & PERF_DISABLED == 0)
    }

    /// Whether this node is a standby that must not write (performance-standby bit set). Fails
    /// closed: a node that cannot ask the host counts as a standby, so it makes no periodic
    /// writes and no provider calls.
    async fn is_standby(&self) -> bool {
        match self.replication_state().await {
            Ok(state) => state & PERF_STANDBY != 0,
            Err(e) => {
                tracing::warn!(error = %e, "cannot tell whether this node is a standby; acting as one");
                true
            }
        }
    }
}
