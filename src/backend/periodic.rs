//! The engine's own work, on the host's periodic `rollback` tick (every 60 s, active node only):
//! retire previous versions whose grace has ended, warn once a day about overdue keys.

use std::sync::Arc;

use chrono::Utc;

use super::locked::Locked;
use super::store::{self, Actor};
use super::{path_reports, provider_ops, view, Shared};
use crate::framework::{Error, Request};

/// How often an overdue key is logged.
const OVERDUE_WARNING_EVERY: chrono::TimeDelta = chrono::TimeDelta::hours(24);

/// Runs one tick.
pub async fn tick(shared: Arc<Shared>, req: Request) -> Result<(), Error> {
    // Standbys serve reads from replicated storage; writes belong to the active node.
    if shared.system.is_standby().await {
        return Ok(());
    }
    let storage = req.storage.as_ref();
    let mut failures = Vec::new();
    for name in store::list_names(storage).await? {
        if let Err(e) = tick_key(&shared, &req, &name).await {
            tracing::error!(key = %name, error = %e, "periodic work failed for key");
            failures.push(format!("{name}: {e}"));
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(Error::Internal(format!(
            "periodic work failed: {}",
            failures.join("; ")
        )))
    }
}

async fn tick_key(shared: &Arc<Shared>, req: &Request, name: &str) -> Result<(), Error> {
    let storage = req.storage.as_ref();
    let mut locked = match Locked::open_as(shared, storage, name, Actor::Scheduler, None).await {
        Ok(l) => l,
        // Deleted between the list and the lock.
        Err(Error::BadRequest(_)) => return Ok(()),
        Err(e) => return Err(e),
    };
    let mut dirty = locked.expired;
    if dirty {
        tracing::info!(key = %name, "grace window ended; previous version revoked");
    }
    let now = Utc::now();
    let periods = view::periods(storage, locked.key_ref()).await?;
    if let Some(current) = locked.key_ref().versions.current() {
        let created = current.created_time;
        let age = locked.key_ref().versions.age(periods.rotation_period, now);
        let last = locked.key_ref().auto.last_overdue_warning;
        if age.is_some_and(|a| a.overdue) && last.is_none_or(|t| now - t >= OVERDUE_WARNING_EVERY) {
            let days = path_reports::overdue_summary(created, periods.rotation_period, now);
            tracing::warn!(key = %name, overdue_days = days, "key is overdue for rotation");
            locked.key().auto.last_overdue_warning = Some(now);
            dirty = true;
        }
    }
    if dirty {
        locked.save(storage).await?;
    }
    let provider = locked.key_ref().provider.clone();
    let retired = std::mem::take(&mut locked.retired);
    drop(locked);
    provider_ops::revoke_retired(shared, storage, name, provider.as_deref(), retired).await;
    Ok(())
}
