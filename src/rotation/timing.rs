//! When a key's current version is due: after a `rotation_period`, or at the scheduled times of
//! a `rotation_schedule` (cron, UTC) whose `rotation_window` limits how long after a scheduled
//! time an automatic rotation may start. [`Timing::next_rotation_time`] is the one function
//! every read, report and the scheduler use for a key's next rotation time.

use chrono::{DateTime, TimeDelta, Utc};

use super::age::{self, AgeReport};
use super::cron::CronSpec;
use super::key::KeyVersions;

/// Whole days in seconds.
const DAY: i64 = age::SECS_PER_DAY;

/// What makes a version due.
// `Copy` on purpose (resolved key settings are passed by value): a cron variant carries its
// text inline, and copying a few hundred bytes costs nothing next to a storage round trip.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cadence {
    /// Its age reaches this many seconds.
    Period(i64),
    /// The first scheduled time after it was created.
    Cron(CronSpec),
}

/// A key's rotation timing: its cadence and its `rotation_window` (seconds). With a period the
/// window spreads automatic rotations over that long after the due time; with a cron schedule
/// it is the time after each scheduled time in which an automatic rotation may start (0: no
/// limit), and a scheduled time whose window closed waits for the next one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// Period or schedule.
    pub cadence: Cadence,
    /// The window (seconds).
    pub window: i64,
}

fn add_secs(t: DateTime<Utc>, secs: i64) -> DateTime<Utc> {
    TimeDelta::try_seconds(secs)
        .and_then(|d| t.checked_add_signed(d))
        .unwrap_or(if secs < 0 {
            DateTime::<Utc>::MIN_UTC
        } else {
            DateTime::<Utc>::MAX_UTC
        })
}

impl Timing {
    /// A period without a window.
    pub fn period(secs: i64) -> Timing {
        Timing {
            cadence: Cadence::Period(secs),
            window: 0,
        }
    }

    /// When a version created at `created` first became (or becomes) due: `created` plus the
    /// period, or the first scheduled time after `created`. Overdue counts from here.
    pub fn first_due_time(&self, created: DateTime<Utc>) -> DateTime<Utc> {
        match self.cadence {
            Cadence::Period(p) => age::next_rotation_time(created, p),
            Cadence::Cron(spec) => spec.next_after(created).unwrap_or(DateTime::<Utc>::MAX_UTC),
        }
    }

    /// The next rotation time of a version created at `created`, seen at `now`: the first due
    /// time, except that with a cron schedule and a window a scheduled time whose window has
    /// closed is skipped for the next one whose window is still open (or ahead).
    pub fn next_rotation_time(&self, created: DateTime<Utc>, now: DateTime<Utc>) -> DateTime<Utc> {
        self.next_after_first(self.first_due_time(created), now)
    }

    /// [`Self::next_rotation_time`] given the first due time.
    fn next_after_first(&self, first: DateTime<Utc>, now: DateTime<Utc>) -> DateTime<Utc> {
        match self.cadence {
            Cadence::Cron(spec) if self.window > 0 && now >= add_secs(first, self.window) => spec
                .next_after(add_secs(now, -self.window))
                .unwrap_or(DateTime::<Utc>::MAX_UTC),
            _ => first,
        }
    }

    /// With a cron schedule and a window: the latest scheduled time since `created` whose
    /// window closed without a rotation before `now`.
    pub fn missed_rotation_time(
        &self,
        created: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let Cadence::Cron(spec) = self.cadence else {
            return None;
        };
        if self.window <= 0 {
            return None;
        }
        spec.last_at_or_before(add_secs(now, -self.window))
            .filter(|t| *t > created)
    }

    /// The current version's age report at `now`.
    pub fn age_report(&self, versions: &KeyVersions, now: DateTime<Utc>) -> Option<AgeReport> {
        let current = versions.current()?;
        Some(self.age_of(current.number, current.created_time, now))
    }

    /// The age report of current version `number`, created at `created`, at `now`.
    pub fn age_of(&self, number: u32, created: DateTime<Utc>, now: DateTime<Utc>) -> AgeReport {
        let days = age::age_days(created, now);
        let first = self.first_due_time(created);
        let next = self.next_after_first(first, now);
        let overdue_days = match self.cadence {
            Cadence::Period(p) => age::overdue_days(days, p),
            Cadence::Cron(_) => (now - first).num_seconds().max(0).div_euclid(DAY),
        };
        AgeReport {
            version: number,
            age_secs: age::age_secs(created, now),
            age_days: days,
            next_rotation_time: next,
            ttl_secs: next.signed_duration_since(now).num_seconds().max(0),
            overdue: now > first,
            overdue_days,
            missed_rotation_time: self.missed_rotation_time(created, now),
        }
    }
}

impl KeyVersions {
    /// The current version's age against `timing` at `now`; `None` without a current version.
    pub fn age_with(&self, timing: &Timing, now: DateTime<Utc>) -> Option<AgeReport> {
        timing.age_report(self, now)
    }
}
