//! Age and schedule arithmetic. Age counts from the current version's `created_time` (which an
//! import sets to when the key was really created), not from its promotion.

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;

use super::key::KeyVersions;

/// Seconds in a day, the unit of `age_days` and `overdue_days`.
pub const SECS_PER_DAY: i64 = 86_400;

/// Whole days from `created` to `now`, rounded down; 0 if `created` is in the future.
pub fn age_days(created: DateTime<Utc>, now: DateTime<Utc>) -> i64 {
    age_secs(created, now).div_euclid(SECS_PER_DAY)
}

/// Seconds from `created` to `now`; 0 if `created` is in the future.
pub fn age_secs(created: DateTime<Utc>, now: DateTime<Utc>) -> i64 {
    now.signed_duration_since(created).num_seconds().max(0)
}

/// Whole days of `age_days` beyond a rotation period of `period_secs`, never negative: the
/// `overdue_days` of `keys/` and `overdue` (45 days against 30d gives 15). A period that is not
/// a whole number of days counts as the next whole day.
pub fn overdue_days(age_days: i64, period_secs: i64) -> i64 {
    age_days
        .saturating_mul(SECS_PER_DAY)
        .saturating_sub(period_secs)
        .div_euclid(SECS_PER_DAY)
        .max(0)
}

/// A period in whole days, rounded down (`rotation_period_days` of `overdue`).
pub fn period_days(period_secs: i64) -> i64 {
    period_secs.div_euclid(SECS_PER_DAY)
}

/// When the current version (created at `current_created`) is due for rotation:
/// `current_created + period_secs`, saturating at the largest representable time.
pub fn next_rotation_time(current_created: DateTime<Utc>, period_secs: i64) -> DateTime<Utc> {
    TimeDelta::try_seconds(period_secs)
        .and_then(|d| current_created.checked_add_signed(d))
        .unwrap_or(if period_secs < 0 {
            DateTime::<Utc>::MIN_UTC
        } else {
            DateTime::<Utc>::MAX_UTC
        })
}

/// Whether the current version is older than its rotation period (`now` strictly after
/// [`next_rotation_time`]).
pub fn is_overdue(current_created: DateTime<Utc>, period_secs: i64, now: DateTime<Utc>) -> bool {
    now > next_rotation_time(current_created, period_secs)
}

/// Seconds until the current version is due (`ttl` of `creds/`); 0 when due or overdue.
pub fn ttl_secs(current_created: DateTime<Utc>, period_secs: i64, now: DateTime<Utc>) -> i64 {
    next_rotation_time(current_created, period_secs)
        .signed_duration_since(now)
        .num_seconds()
        .max(0)
}

/// Everything `keys/`, `creds/`, `overdue` and `metrics` report about the current version's age.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct AgeReport {
    /// The current version.
    pub version: u32,
    /// Seconds since it was created.
    pub age_secs: i64,
    /// Whole days since it was created.
    pub age_days: i64,
    /// When it is due for rotation.
    pub next_rotation_time: DateTime<Utc>,
    /// Seconds until then, 0 when due or overdue.
    pub ttl_secs: i64,
    /// Whether it is older than the rotation period.
    pub overdue: bool,
    /// Whole days beyond the rotation period ([`overdue_days`]), or since the first scheduled
    /// time after the version was created.
    pub overdue_days: i64,
    /// The latest scheduled time (cron schedules with a window) whose window closed without a
    /// rotation ([`super::timing::Timing::missed_rotation_time`]).
    pub missed_rotation_time: Option<DateTime<Utc>>,
}

impl KeyVersions {
    /// The current version's age against a rotation period of `period_secs` at `now`; `None`
    /// when there is no current version.
    pub fn age(&self, period_secs: i64, now: DateTime<Utc>) -> Option<AgeReport> {
        self.age_with(&super::timing::Timing::period(period_secs), now)
    }

    /// Seconds until the current version is due ([`ttl_secs`]); 0 without a current version.
    pub fn ttl_secs(&self, period_secs: i64, now: DateTime<Utc>) -> i64 {
        self.age(period_secs, now).map_or(0, |a| a.ttl_secs)
    }
}
