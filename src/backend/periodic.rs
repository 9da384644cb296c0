//! The engine's own work, on the host's periodic `rollback` tick (every 60 s, active node only):
//! settle what crashes and provider outages left in the write-ahead log, retire previous versions
//! whose grace has ended (revoking them at the provider), rotate keys with `auto_rotate` that are
//! due, and warn once a day about overdue keys.

use std::sync::Arc;

use chrono::Utc;

use super::locked::Locked;
use chrono::DateTime;
use sha2::{Digest, Sha256};

use super::store::{self, Actor, KeyState};
use super::{path_reports, path_rotate, provider_ops, view, Shared};
use crate::framework::{wal_delete, wal_get, wal_list, Error, Request};
use crate::rotation::next_rotation_time;

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
    for id in wal_list(storage).await? {
        let Some(entry) = wal_get(storage, &id).await? else {
            continue;
        };
        match provider_ops::recover(shared.clone(), req.storage.clone(), entry.kind, entry.data)
            .await
        {
            Ok(()) => wal_delete(storage, &id).await?,
            Err(e) => {
                tracing::warn!(error = %e, "unfinished provider operation could not be settled yet");
                failures.push(format!("wal {id}: {e}"));
            }
        }
    }
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
    let periods = view::periods(shared, storage, locked.key_ref()).await?;
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
    locked.revoke_retired(shared, storage).await;
    if due_for_auto_rotation(name, locked.key_ref(), periods, now) {
        auto_rotate(shared, storage, locked, now).await;
    }
    Ok(())
}

/// Whether the scheduler should try to rotate this key now: automatic rotation is on, nothing is
/// pending, the current version is due (at a per-key offset inside the rotation window, so keys
/// due together do not all rotate in the same tick), and no back-off is running.
fn due_for_auto_rotation(
    name: &str,
    key: &KeyState,
    periods: view::Periods,
    now: DateTime<Utc>,
) -> bool {
    if !key.auto_rotate || key.versions.pending().is_some() {
        return false;
    }
    if key.auto.next_attempt_time.is_some_and(|t| now < t) {
        return false;
    }
    let Some(current) = key.versions.current() else {
        return false;
    };
    let spread = if periods.rotation_window > 0 {
        let digest = Sha256::digest(name.as_bytes());
        let n = u64::from_be_bytes(digest[..8].try_into().expect("8 bytes"));
        i64::try_from(n % (periods.rotation_window as u64 + 1)).unwrap_or(0)
    } else {
        0
    };
    let due = next_rotation_time(current.created_time, periods.rotation_period)
        + chrono::TimeDelta::seconds(spread);
    now >= due
}

/// Back-off after `failures` consecutive failed automatic attempts: 5 min, doubling, at most 24 h.
pub fn backoff(failures: u32) -> chrono::TimeDelta {
    let minutes = 5i64.saturating_mul(1i64 << failures.saturating_sub(1).min(20));
    chrono::TimeDelta::minutes(minutes.min(24 * 60))
}

/// One automatic attempt. The back-off is recorded before the attempt, so a failure (whatever
/// it is) leaves it in place; a success resets it.
async fn auto_rotate(
    shared: &Arc<Shared>,
    storage: &dyn crate::framework::Storage,
    mut locked: Locked,
    now: DateTime<Utc>,
) {
    let name = locked.key_ref().name.clone();
    let failures = locked.key_ref().auto.failures.saturating_add(1);
    locked.key().auto.failures = failures;
    locked.key().auto.next_attempt_time = Some(now + backoff(failures));
    tracing::info!(key = %name, "automatic rotation starting");
    match path_rotate::rotate_locked(shared, storage, locked, None, None, None).await {
        Ok(_) => tracing::info!(key = %name, "automatic rotation done"),
        Err(e) => {
            tracing::warn!(key = %name, attempt = failures, error = %e, "automatic rotation failed; current version unchanged, will retry with back-off")
        }
    }
}
