//! The engine's own work, on the host's periodic `rollback` tick (every 60 s, active node only):
//! ask the providers whether previous versions whose grace ends soon are still used (and
//! postpone their end if so, [`super::usage`]), retire previous versions whose grace has ended
//! (revoking them at the provider), rotate keys
//! with `auto_rotate` that are due, and warn once a day about overdue keys. (Intents that crashes
//! and provider outages left are settled by [`super::intents::recover`], which the framework's
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

use super::locked::Locked;
use chrono::DateTime;
use sha2::{Digest, Sha256};

use super::store::{Actor, KeyState};
use super::{view, workflows, Shared};
use crate::framework::{Error, Request, Storage};

/// How often an overdue key is logged.
const OVERDUE_WARNING_EVERY: chrono::TimeDelta = chrono::TimeDelta::hours(24);
/// Keys worked on at once.
pub const KEY_CONCURRENCY: usize = 8;
/// A tick that worked on this many keys gives the memory it freed back to the system.
const RELEASE_AFTER_KEYS: usize = 100;
/// Time after which the tick stops working on keys (the rest wait for the next tick).
pub const KEY_BUDGET: Duration = Duration::from_secs(45);

/// Runs one tick.
pub async fn tick(shared: Arc<Shared>, req: Request) -> Result<(), Error> {
    // Standbys serve reads from replicated storage; writes belong to the active node. A node
    // that cannot tell which it is does nothing.
    if shared.system.is_standby().await {
        return Ok(());
    }
    // Only the keys due now (see `due_index`): an idle tick reads no record.
    let mut names = shared
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
            let req = req.clone();
            async move {
                let failure = work_on_key(&shared, &req, &name).await;
                shared
                    .due
                    .refresh(&shared, req.storage.as_ref(), &name)
                    .await;
                // The record was just read: its digest costs no round trip now, and so the
                // first report after a start (whose first tick works on every key) reads none.
                // With caching off nothing would keep it (and the read would be a round trip).
                // A record that cannot be read is reported by the reports themselves.
                if shared.records.enabled() {
                    let _ = super::digest::load(req.storage.as_ref(), &name).await;
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
            shared.ticks.record(Utc::now());
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
    let periods = view::periods(shared, storage, locked.key_ref()).await?;
    // Usage-aware revocation: a retiring key still in use keeps its grace window longer.
    if super::usage::check(shared, storage, &mut locked, periods).await? {
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
    if due_for_auto_rotation(name, locked.key_ref(), periods, now) {
        auto_rotate(shared, storage, locked, now).await;
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
    periods: &view::Periods,
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

/// When the tick next has work on key `name`, seen at `now`: the earliest of its previous
/// version's grace end ([`crate::rotation::KeyVersions::grace_end`]), the usage check before it
/// ([`crate::rotation::KeyVersions::next_usage_check_time`]), its next overdue warning, its next
/// automatic rotation ([`auto_rotation_time`]) and, on a cron schedule with a window, the close
/// of the current window (where a missed rotation is recorded); `None` when nothing is ever due
/// until the key changes. What the tick's index of due times holds (`due_index`).
pub fn next_work_time(
    name: &str,
    key: &KeyState,
    periods: view::Periods,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    [
        key.versions.grace_end(),
        key.versions.next_usage_check_time(periods.usage_policy()),
        overdue_warning_time(key, periods, now),
        auto_rotation_time(name, key, periods, now),
        window_close_time(key, periods, now),
    ]
    .into_iter()
    .flatten()
    .min()
}

/// When the tick next logs that the key is overdue: once its current version is due, then
/// every [`OVERDUE_WARNING_EVERY`].
fn overdue_warning_time(
    key: &KeyState,
    periods: view::Periods,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let age = periods.age(&key.versions, now)?;
    let due = if age.overdue {
        now
    } else {
        age.next_rotation_time
    };
    Some(match key.auto.last_overdue_warning {
        Some(last) => due.max(last.checked_add_signed(OVERDUE_WARNING_EVERY)?),
        None => due,
    })
}

/// On a cron schedule with a `rotation_window`, just after the window of the current (or next)
/// scheduled time closes: when a rotation that did not start is recorded as missed.
fn window_close_time(
    key: &KeyState,
    periods: view::Periods,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    if periods.rotation_schedule.is_none() || periods.rotation_window <= 0 || !key.auto_rotate {
        return None;
    }
    let current = key.versions.current()?;
    let scheduled = periods.next_rotation_time(current.created_time, now);
    scheduled.checked_add_signed(chrono::TimeDelta::seconds(periods.rotation_window + 1))
}

/// When the scheduler starts rotating this key: `None` when automatic rotation is off, a
/// version is pending or there is none current; else the key's next rotation time
/// ([`view::Periods::next_rotation_time`]: with a cron schedule and a window, inside a window
/// still open or ahead), for a period moved by a per-key offset inside the rotation window (so
/// keys due together do not all rotate in the same tick), and no earlier than a running
/// back-off. Seen at `now`; a later look may give a later time (a window that closed).
pub fn auto_rotation_time(
    name: &str,
    key: &KeyState,
    periods: view::Periods,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    if !key.auto_rotate || key.versions.pending().is_some() {
        return None;
    }
    let current = key.versions.current()?;
    let due = periods.next_rotation_time(current.created_time, now);
    let spread = if periods.rotation_schedule.is_none() && periods.rotation_window > 0 {
        let digest = Sha256::digest(name.as_bytes());
        let n = u64::from_be_bytes(digest[..8].try_into().expect("8 bytes"));
        i64::try_from(n % (periods.rotation_window as u64 + 1)).unwrap_or(0)
    } else {
        0
    };
    // Saturating: stored periods from an older release may be beyond any representable time.
    let due = chrono::TimeDelta::try_seconds(spread)
        .and_then(|d| due.checked_add_signed(d))
        .unwrap_or(due);
    Some(match key.auto.next_attempt_time {
        Some(t) if t > due => t,
        _ => due,
    })
}

/// Whether the scheduler should try to rotate this key now ([`auto_rotation_time`] has come).
fn due_for_auto_rotation(
    name: &str,
    key: &KeyState,
    periods: view::Periods,
    now: DateTime<Utc>,
) -> bool {
    auto_rotation_time(name, key, periods, now).is_some_and(|t| now >= t)
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
    storage: &dyn Storage,
    mut locked: Locked,
    now: DateTime<Utc>,
) {
    let name = locked.key_ref().name.clone();
    let failures = locked.key_ref().auto.failures.saturating_add(1);
    locked.key().auto.failures = failures;
    locked.key().auto.next_attempt_time = Some(now + backoff(failures));
    tracing::info!(key = %name, "automatic rotation starting");
    match workflows::rotate(shared, storage, locked, None, None, None).await {
        Ok(_) => tracing::info!(key = %name, "automatic rotation done"),
        Err(e) => {
            tracing::warn!(key = %name, attempt = failures, error = %e, "automatic rotation failed; current version unchanged, will retry with back-off")
        }
    }
}
