//! The engine's own work, on the host's periodic `rollback` tick (every 60 s, active node only):
//! ask the providers whether previous versions whose grace ends soon are still used (and
//! postpone their end if so, [`super::usage`]), retire previous versions whose grace has ended
//! (revoking them at the provider), test current keys at their provider
//! ([`super::health`]), rotate keys with `auto_rotate` that are due (or that their provider
//! refuses), and warn once a day about overdue keys. (Intents that crashes
//! and provider outages left are settled by [`super::provider_ops::recover`], which the framework's
//! WAL driver runs on the same tick.)
//!
//! Keys are worked on concurrently (at most [`KEY_CONCURRENCY`] at once), from a different
//! starting key each tick, within [`KEY_BUDGET`], so a stalled provider delays only the keys
//! that use it and the tick never runs into the next one (the host gives it 90 s). One key's
//! failure, a panic included, is recorded on that key (`last_error`) and logged, and never stops
//! the work on the others.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures::{FutureExt, StreamExt};

use chrono::DateTime;

use super::plan::{due_for_auto_rotation, OVERDUE_WARNING_EVERY};
use super::state::TickState;
use crate::backend::notify;
use crate::backend::policy::{self};
use crate::backend::record::{self, Actor};
use crate::backend::shared::Shared;
use crate::backend::view;
use crate::backend::workflows::Locked;
use crate::framework::{Error, Request, Storage};

/// Keys worked on at once.
pub(super) const KEY_CONCURRENCY: usize = 8;
/// A tick that worked on this many keys gives the memory it freed back to the system.
const RELEASE_AFTER_KEYS: usize = 100;
/// Time after which the tick stops working on keys (the rest wait for the next tick).
pub(super) const KEY_BUDGET: Duration = Duration::from_secs(45);

/// Runs one tick.
pub(crate) async fn tick(
    shared: Arc<Shared>,
    state: Arc<TickState>,
    req: Request,
) -> Result<(), Error> {
    // Standbys serve reads from replicated storage; writes belong to the active node. A node
    // that cannot tell which it is does nothing.
    if shared.system.is_standby().await {
        return Ok(());
    }
    // Only the keys due now (see `due_index`): an idle tick reads no record.
    let mut names = state
        .due
        .due(&shared, req.storage.as_ref(), Utc::now())
        .await?;
    if !names.is_empty() {
        // A different first key each tick, so a budget spent on slow keys starves nobody.
        let start = rand::random_range(0..names.len());
        names.rotate_left(start);
    }
    let total = names.len();
    let work = futures::stream::iter(names)
        .map(|name| {
            let shared = shared.clone();
            let state = state.clone();
            let req = req.clone();
            async move {
                let failure = work_on_key(&shared, &req, &name).await;
                state
                    .due
                    .refresh(&shared, req.storage.as_ref(), &name)
                    .await;
                // The record was just read: its digest costs no round trip now, and so the
                // first report after a start (whose first tick works on every key) reads none.
                // With caching off nothing would keep it (and the read would be a round trip).
                // A record that cannot be read is reported by the reports themselves.
                if shared.records.enabled() {
                    let _ = record::load_digest(req.storage.as_ref(), &name).await;
                }
                failure
            }
        })
        .buffer_unordered(KEY_CONCURRENCY)
        .filter_map(|f| async move { f });
    let mut failures = Vec::new();
    let mut work = std::pin::pin!(work);
    let finished = tokio::time::timeout(KEY_BUDGET, async {
        while let Some(f) = work.next().await {
            failures.push(f);
        }
    })
    .await;
    // Notifications after the keys' work, within their own budget: never in a key's way.
    notify::notices(&shared, req.storage.as_ref(), &state.notify).await;
    notify::deliver(
        &shared,
        req.storage.as_ref(),
        &req.mount_point,
        &state.notify,
    )
    .await;
    // A tick over many keys (the first of a process works on all of them) leaves freed memory.
    if total >= RELEASE_AFTER_KEYS {
        crate::framework::release_freed_memory();
    }
    if finished.is_err() {
        tracing::warn!(
            keys = total,
            "periodic work ran out of its time budget; the remaining keys wait for the next tick"
        );
    }
    if failures.is_empty() {
        if finished.is_ok() {
            state.ticks.record(Utc::now());
        }
        Ok(())
    } else {
        Err(Error::Internal(format!(
            "periodic work failed: {}",
            failures.join("; ")
        )))
    }
}

/// Works on one key; its failure (recorded on the key), if any.
async fn work_on_key(shared: &Arc<Shared>, req: &Request, name: &str) -> Option<String> {
    let outcome = AssertUnwindSafe(tick_key(shared, req, name))
        .catch_unwind()
        .await;
    let message = match outcome {
        Ok(Ok(())) => return None,
        Ok(Err(e)) => e.to_string(),
        Err(panic) => format!("panic: {}", panic_message(panic.as_ref())),
    };
    tracing::error!(key = %name, error = %message, "periodic work failed for key");
    record_failure(shared, req.storage.as_ref(), name, &message).await;
    Some(format!("{name}: {message}"))
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown".to_string())
}

/// Records a failure of the periodic work on the key itself (best effort; never panics out).
async fn record_failure(shared: &Arc<Shared>, storage: &dyn Storage, name: &str, message: &str) {
    let message = format!("periodic work failed: {message}");
    let saved = AssertUnwindSafe(async {
        let mut locked = Locked::open_as(shared, storage, name, Actor::Scheduler, None).await?;
        if locked.key_ref().last_error.as_deref() != Some(message.as_str()) {
            locked.key().last_error = Some(message.clone());
            locked.save(storage).await?;
        }
        Ok::<(), Error>(())
    })
    .catch_unwind()
    .await;
    if !matches!(saved, Ok(Ok(()))) {
        tracing::error!(key = %name, "could not record the periodic failure on the key");
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
    let periods = policy::periods(&shared.schedules, storage, locked.key_ref()).await?;
    // Usage-aware revocation: a retiring key still in use keeps its grace window longer.
    if super::usage::check(shared, storage, &mut locked, periods).await? {
        dirty = true;
    }
    // The current key at its provider, every health_check_interval.
    if super::health::check(shared, storage, &mut locked, periods, now).await? {
        dirty = true;
    }
    if let Some(age) = periods.age(&locked.key_ref().versions, now) {
        let last = locked.key_ref().auto.last_overdue_warning;
        if age.overdue && last.is_none_or(|t| now - t >= OVERDUE_WARNING_EVERY) {
            let days = age.overdue_days;
            tracing::warn!(key = %name, overdue_days = days, "key is overdue for rotation");
            locked.key().auto.last_overdue_warning = Some(now);
            dirty = true;
        }
        if let Some(missed) = age.missed_rotation_time {
            dirty |= note_missed_window(&mut locked, &periods, missed, age.next_rotation_time);
        }
    }
    if dirty {
        locked.commit(shared, storage).await?;
    }
    // Judged at a fresh clock read: a refusal the health check just recorded is dated after
    // `now`, and makes the key due at once (not a tick later).
    if due_for_auto_rotation(name, locked.key_ref(), periods, Utc::now()) {
        // A failure is recorded on the key (last_error, back-off) and logged.
        let _ = super::auto::auto_rotate(shared, storage, locked, now).await;
    }
    Ok(())
}

/// Records, once per scheduled time, that an automatic rotation did not start within the
/// `rotation_window` after it (cron schedules): a `rotation_window_missed` history event saying
/// why as far as the key shows it, and a warning in the log. The key waits for the next
/// scheduled time, and a running back-off is dropped so that time is tried at once. Returns
/// whether the key changed.
fn note_missed_window(
    locked: &mut Locked,
    periods: &policy::Periods,
    missed: DateTime<Utc>,
    next: DateTime<Utc>,
) -> bool {
    let key = locked.key_ref();
    if !key.auto_rotate || key.auto.missed_rotation_time.is_some_and(|t| t >= missed) {
        return false;
    }
    let reason = if key.versions.pending().is_some() {
        "a pending version was waiting for promotion".to_string()
    } else if key.auto.failures > 0 {
        format!(
            "{} automatic attempt(s) failed (see last_error)",
            key.auto.failures
        )
    } else {
        "the engine did not run its periodic work in time (sealed, stopped or standby)".to_string()
    };
    let version = key.versions.current_version();
    let window_end = missed + chrono::TimeDelta::seconds(periods.rotation_window);
    let detail = format!(
        "automatic rotation scheduled at {} did not start before its rotation_window closed at {}: {reason}; next scheduled time {}",
        view::time(missed),
        view::time(window_end),
        view::time(next)
    );
    tracing::warn!(
        key = %key.name,
        scheduled = %view::time(missed),
        next = %view::time(next),
        reason = %reason,
        "automatic rotation missed its window; waiting for the next scheduled time"
    );
    locked.note("rotation_window_missed", version, None, &detail);
    let auto = &mut locked.key().auto;
    auto.missed_rotation_time = Some(missed);
    auto.next_attempt_time = None;
    true
}
