//! A key's effective periods: its own overrides, else its schedule's (rotation cadence, grace,
//! rotation window, usage-aware revocation settings), resolved once where every reader and the
//! tick need them.

use chrono::{DateTime, Utc};

use super::cron_settings;
use super::schedule::{production, Schedule, ScheduleCache};
use crate::backend::record::{KeyState, Overrides};
use crate::framework::{Error, Storage};
use crate::rotation::{AgeReport, Cadence, CronSpec, KeyVersions, Timing};

/// A key's effective periods: its overrides, else its schedule's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Periods {
    /// Maximum age of the current version (seconds).
    pub rotation_period: i64,
    /// Grace after a promotion (seconds).
    pub grace_period: i64,
    /// Window for automatic rotation (seconds).
    pub rotation_window: i64,
    /// The cron expression in force instead of the period, if any (`rotation_period` then
    /// holds the longest interval it allows, for consumers that need a length).
    pub rotation_schedule: Option<CronSpec>,
    /// Usage-aware revocation: quiet period (seconds; 0 off).
    pub usage_quiet_period: i64,
    /// Usage-aware revocation and `extend/`: the most past the planned grace end (seconds).
    pub max_grace: i64,
    /// How often the current key is tested at its provider (seconds; 0 off).
    pub health_check_interval: i64,
    /// How long before its provider expiry a current key is reported (seconds).
    pub expiry_warning: i64,
}

impl Periods {
    /// The rotation timing these settings give.
    pub(crate) fn timing(&self) -> Timing {
        Timing {
            cadence: match self.rotation_schedule {
                Some(spec) => Cadence::Cron(spec),
                None => Cadence::Period(self.rotation_period),
            },
            window: self.rotation_window,
        }
    }

    /// A version created at `created` is next due at this time, seen at `now`
    /// ([`Timing::next_rotation_time`], the one function for it).
    pub(crate) fn next_rotation_time(
        &self,
        created: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> DateTime<Utc> {
        self.timing().next_rotation_time(created, now)
    }

    /// The current version's age report at `now`.
    pub(crate) fn age(&self, versions: &KeyVersions, now: DateTime<Utc>) -> Option<AgeReport> {
        versions.age_with(&self.timing(), now)
    }

    /// [`Self::age`] of current version `number`, created at `created`.
    pub(crate) fn age_of(
        &self,
        number: u32,
        created: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> AgeReport {
        self.timing().age_of(number, created, now)
    }

    /// The usage-aware revocation settings.
    pub(crate) fn usage_policy(&self) -> crate::rotation::UsagePolicy {
        crate::rotation::UsagePolicy {
            quiet_period: self.usage_quiet_period,
            max_grace: self.max_grace,
        }
    }
}

/// Resolves a key's periods ([`periods_of`] its record's overrides).
pub(crate) async fn periods(
    schedules: &ScheduleCache,
    storage: &dyn Storage,
    key: &KeyState,
) -> Result<Periods, Error> {
    periods_of(schedules, storage, &key.overrides()).await
}

/// Resolves the periods `key` sets. A schedule that vanished (it cannot be deleted while used,
/// so only through storage damage) falls back to the built-in `production` values.
pub(crate) async fn periods_of(
    schedules: &ScheduleCache,
    storage: &dyn Storage,
    key: &Overrides<'_>,
) -> Result<Periods, Error> {
    let schedule = match schedules.get(storage, key.schedule).await? {
        Some(s) => s,
        None => production(),
    };
    periods_under(&schedule, key)
}

/// The periods `key` sets under `schedule` (its own schedule, or one about to be written).
pub(crate) fn periods_under(schedule: &Schedule, key: &Overrides<'_>) -> Result<Periods, Error> {
    let timing = cron_settings::timing(key, schedule)?;
    let (rotation_period, rotation_schedule) = match timing.cadence {
        Cadence::Period(p) => (p, None),
        Cadence::Cron(spec) => (
            spec.longest_interval_secs().saturating_add(timing.window),
            Some(spec),
        ),
    };
    Ok(Periods {
        rotation_period,
        grace_period: key.grace_period.unwrap_or(schedule.grace_period),
        rotation_window: timing.window,
        rotation_schedule,
        usage_quiet_period: key
            .usage_quiet_period
            .unwrap_or(schedule.usage_quiet_period),
        max_grace: key.max_grace.unwrap_or(schedule.max_grace),
        health_check_interval: key
            .health_check_interval
            .unwrap_or(schedule.health_check_interval),
        expiry_warning: key.expiry_warning.unwrap_or(schedule.expiry_warning),
    })
}
