//! When a key next needs the periodic work, from its record as stored: its grace end, its
//! next usage check, its overdue warning, its automatic rotation (with back-off after
//! failures and the spread of its rotation window) and the close of a cron window. The due
//! index and the tick both ask here, so the two never disagree.

use chrono::{DateTime, TimeDelta, Utc};
use sha2::{Digest, Sha256};

use crate::backend::policy;
use crate::backend::record::KeyState;

/// How often an overdue key is logged.
pub(super) const OVERDUE_WARNING_EVERY: chrono::TimeDelta = chrono::TimeDelta::hours(24);

/// When the tick next has work on key `name`, seen at `now`: the earliest of its previous
/// version's grace end ([`crate::rotation::KeyVersions::grace_end`]), the usage check before it
/// ([`crate::rotation::KeyVersions::next_usage_check_time`]), its next overdue warning, its next
/// automatic rotation ([`auto_rotation_time`]), its next health check
/// ([`health_check_time`]) and, on a cron schedule with a window, the close
/// of the current window (where a missed rotation is recorded); `None` when nothing is ever due
/// until the key changes. What the tick's index of due times holds (`due_index`).
pub(super) fn next_work_time(
    name: &str,
    key: &KeyState,
    periods: policy::Periods,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    [
        key.versions.grace_end(),
        key.versions.next_usage_check_time(periods.usage_policy()),
        overdue_warning_time(key, periods, now),
        auto_rotation_time(name, key, periods, now),
        window_close_time(key, periods, now),
        health_check_time(name, key, periods),
    ]
    .into_iter()
    .flatten()
    .min()
}

/// When the tick next logs that the key is overdue: once its current version is due, then
/// every [`OVERDUE_WARNING_EVERY`].
fn overdue_warning_time(
    key: &KeyState,
    periods: policy::Periods,
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
    periods: policy::Periods,
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
/// version is pending or there is none current; the time its provider first refused the
/// current key (health checks), if it did; else the key's next rotation time
/// ([`policy::Periods::next_rotation_time`]: with a cron schedule and a window, inside a window
/// still open or ahead), for a period moved by a per-key offset inside the rotation window (so
/// keys due together do not all rotate in the same tick), and no earlier than a running
/// back-off. Seen at `now`; a later look may give a later time (a window that closed).
pub(super) fn auto_rotation_time(
    name: &str,
    key: &KeyState,
    periods: policy::Periods,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    if !key.auto_rotate || key.versions.pending().is_some() {
        return None;
    }
    let current = key.versions.current()?;
    let due = periods.next_rotation_time(current.created_time, now);
    let spread = if periods.rotation_schedule.is_none() && periods.rotation_window > 0 {
        let digest = Sha256::digest(name.as_bytes());
        let n = digest
            .iter()
            .take(8)
            .fold(0u64, |n, b| (n << 8) | u64::from(*b));
        i64::try_from(n % (periods.rotation_window as u64 + 1)).unwrap_or(0)
    } else {
        0
    };
    // Saturating: stored periods from an older release may be beyond any representable time.
    let due = chrono::TimeDelta::try_seconds(spread)
        .and_then(|d| due.checked_add_signed(d))
        .unwrap_or(due);
    // A current key its provider refuses is due at once (`health`).
    let due = current.rejected_since().map_or(due, |r| r.min(due));
    Some(match key.auto.next_attempt_time {
        Some(t) if t > due => t,
        _ => due,
    })
}

/// Whether the scheduler should try to rotate this key now ([`auto_rotation_time`] has come).
pub(super) fn due_for_auto_rotation(
    name: &str,
    key: &KeyState,
    periods: policy::Periods,
    now: DateTime<Utc>,
) -> bool {
    auto_rotation_time(name, key, periods, now).is_some_and(|t| now >= t)
}

/// Back-off after `failures` consecutive failed automatic attempts: 5 min, doubling, at most 24 h.
pub(super) fn backoff(failures: u32) -> chrono::TimeDelta {
    let minutes = 5i64.saturating_mul(1i64 << failures.saturating_sub(1).min(20));
    chrono::TimeDelta::minutes(minutes.min(24 * 60))
}

/// The spread of a check time: at most a tenth of the interval.
const HEALTH_SPREAD_DIVISOR: i64 = 10;

/// When the current version of `key` (named `name`) is next checked at its provider: `None`
/// with the checks off (`health_check_interval` 0), without a provider, or without a current
/// version holding a value.
pub(super) fn health_check_time(
    name: &str,
    key: &KeyState,
    periods: policy::Periods,
) -> Option<DateTime<Utc>> {
    let interval = periods.health_check_interval;
    if interval <= 0 || key.provider.is_none() {
        return None;
    }
    let current = key.versions.current()?;
    current.value.as_ref()?;
    let base = [
        current.engine_call_time(),
        current.promoted_time,
        Some(current.created_time),
    ]
    .into_iter()
    .flatten()
    .max()?;
    let after = interval.saturating_add(health_spread(name, base, interval));
    base.checked_add_signed(TimeDelta::try_seconds(after)?)
}

/// A fixed share (0 to a tenth) of `interval`, from the key's name and the time checked from.
fn health_spread(name: &str, base: DateTime<Utc>, interval: i64) -> i64 {
    let mut hash = Sha256::new();
    hash.update(name.as_bytes());
    hash.update(base.timestamp_micros().to_be_bytes());
    let n = hash
        .finalize()
        .iter()
        .take(8)
        .fold(0u64, |n, b| (n << 8) | u64::from(*b));
    let most = (interval / HEALTH_SPREAD_DIVISOR).max(0) as u64;
    i64::try_from(n % (most + 1)).unwrap_or(0)
}
