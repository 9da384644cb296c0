//! What every handler of one mount shares ([`Shared`]), and [`bind`], which turns a handler
//! taking it into a framework handler. Built once per mount by `backend.rs`.

use std::future::Future;
use std::sync::Arc;

use super::policy::ScheduleCache;
use super::record::KeyLocks;
use crate::engine::SystemInfo;
use crate::framework::{self, FieldData, Handler, HandlerResult, Request};

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
