//! What reads show of a key: everything but values.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Map, Value};

use super::path_schedules::{self, Schedule};
use super::store::KeyState;
use super::Shared;
use crate::framework::{Error, Storage};
use crate::rotation::{
    AgeReport, Cadence, CronSpec, KeyVersions, ProviderRevocation, TestResult, Timing, Version,
};

/// RFC 3339 UTC with whole seconds, as api.md shows times.
pub fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn opt_time(t: Option<DateTime<Utc>>) -> Value {
    t.map(time).map(Value::String).unwrap_or(Value::Null)
}

/// Grace windows shorter than this rarely let every application re-read `creds/` in time
/// (an agent template re-renders on its own interval).
pub const SHORT_GRACE_SECS: i64 = 300;

/// The warning for a grace window of `grace_secs` shorter than [`SHORT_GRACE_SECS`] (also
/// logged, naming `subject`), or `None`.
pub fn short_grace_warning(subject: &str, grace_secs: i64) -> Option<String> {
    if grace_secs >= SHORT_GRACE_SECS {
        return None;
    }
    tracing::warn!(
        subject,
        grace_secs,
        "grace period shorter than five minutes"
    );
    Some(format!(
        "{subject}: the grace period is {grace_secs}s, shorter than five minutes: applications \
         (and agent templates, on their re-render interval) may still use the previous key when \
         it is revoked; use at least 5m unless this is an emergency rotation"
    ))
}

/// A response with `data` and the short-grace warning for `grace_secs`, if any.
pub fn with_grace_warning(
    data: Value,
    subject: &str,
    grace_secs: i64,
) -> crate::framework::Response {
    let mut response = crate::framework::Response::with_data(data);
    response
        .warnings
        .extend(short_grace_warning(subject, grace_secs));
    response
}

/// A key's effective periods: its overrides, else its schedule's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Periods {
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
}

impl Periods {
    /// The rotation timing these settings give.
    pub fn timing(&self) -> Timing {
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
    pub fn next_rotation_time(&self, created: DateTime<Utc>, now: DateTime<Utc>) -> DateTime<Utc> {
        self.timing().next_rotation_time(created, now)
    }

    /// The current version's age report at `now`.
    pub fn age(&self, versions: &KeyVersions, now: DateTime<Utc>) -> Option<AgeReport> {
        versions.age_with(&self.timing(), now)
    }

    /// [`Self::age`] of current version `number`, created at `created`.
    pub fn age_of(&self, number: u32, created: DateTime<Utc>, now: DateTime<Utc>) -> AgeReport {
        self.timing().age_of(number, created, now)
    }

    /// The usage-aware revocation settings.
    pub fn usage_policy(&self) -> crate::rotation::UsagePolicy {
        crate::rotation::UsagePolicy {
            quiet_period: self.usage_quiet_period,
            max_grace: self.max_grace,
        }
    }
}

/// What a key sets of its periods, borrowed from its record or its digest: its schedule and
/// the overrides of it (`None` inherits the schedule's).
#[derive(Debug, Clone, Copy)]
pub struct Overrides<'a> {
    pub schedule: &'a str,
    pub rotation_period: Option<i64>,
    pub grace_period: Option<i64>,
    pub rotation_schedule: Option<&'a str>,
    pub rotation_window: Option<i64>,
    pub usage_quiet_period: Option<i64>,
    pub max_grace: Option<i64>,
}

impl KeyState {
    /// This key's [`Overrides`].
    pub fn overrides(&self) -> Overrides<'_> {
        Overrides {
            schedule: &self.schedule,
            rotation_period: self.rotation_period,
            grace_period: self.grace_period,
            rotation_schedule: self.rotation_schedule.as_deref(),
            rotation_window: self.rotation_window,
            usage_quiet_period: self.usage_quiet_period,
            max_grace: self.max_grace,
        }
    }
}

/// Resolves a key's periods ([`periods_of`] its record's overrides).
pub async fn periods(
    shared: &Shared,
    storage: &dyn Storage,
    key: &KeyState,
) -> Result<Periods, Error> {
    periods_of(shared, storage, &key.overrides()).await
}

/// Resolves the periods `key` sets. A schedule that vanished (it cannot be deleted while used,
/// so only through storage damage) falls back to the built-in `production` values.
pub async fn periods_of(
    shared: &Shared,
    storage: &dyn Storage,
    key: &Overrides<'_>,
) -> Result<Periods, Error> {
    let schedule = match shared.schedules.get(storage, key.schedule).await? {
        Some(s) => s,
        None => fallback_schedule(),
    };
    let timing = super::cron_settings::timing(key, &schedule)?;
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
    })
}

fn fallback_schedule() -> Schedule {
    path_schedules::builtin()
        .into_iter()
        .find(|(n, _)| *n == "production")
        .map(|(_, s)| s)
        .expect("production is built in")
}

/// A test result as shown to users.
pub fn test_json(t: &TestResult) -> Value {
    json!({
        "outcome": t.outcome.as_str(),
        "status_code": t.status_code,
        "detail": t.detail,
        "time": time(t.time),
    })
}

fn version_json(v: &Version) -> Value {
    json!({
        "state": v.state.as_str(),
        "created_time": time(v.created_time),
        "promoted_time": opt_time(v.promoted_time),
        "grace_expires_time": opt_time(v.grace_expires_time),
        "planned_grace_expires_time": opt_time(v.planned_grace_expires_time),
        "revoked_time": opt_time(v.revoked_time),
        "fingerprint": v.fingerprint,
        "last_test": v.last_test.as_ref().map(test_json),
        "provider_key_id": v.provider_key_id,
        "engine_created": v.engine_created,
        "provider": v.provider,
        "provider_revocation": v.provider_revocation.as_ref().map(revocation_json),
        "grace_extensions": v.usage_check.as_ref().map_or(0, |c| c.extensions),
        "provider_expires_time": opt_time(v.provider_expires_time),
    })
}

/// A retired version's revocation at its provider: `pending` (with the last error) until the
/// provider confirms, then `confirmed` with its time.
fn revocation_json(r: &ProviderRevocation) -> Value {
    json!({
        "status": r.status(),
        "provider": r.provider,
        "requested_time": time(r.requested_time),
        "confirmed_time": opt_time(r.confirmed_time),
        "attempts": r.attempts,
        "last_error": r.last_error,
    })
}

/// The versions map as shown, with grace applied at `now` (a previous version past its grace is
/// shown revoked even before the periodic tick has recorded it).
pub fn versions_json(versions: &KeyVersions, now: DateTime<Utc>) -> Value {
    let mut effective = versions.clone();
    effective.expire(now);
    let map: Map<String, Value> = effective
        .versions
        .values()
        .map(|v| (v.number.to_string(), version_json(v)))
        .collect();
    Value::Object(map)
}

/// The full `keys/:name` read.
pub fn key_json(key: &KeyState, periods: Periods, now: DateTime<Utc>) -> Value {
    let versions = &key.versions;
    let age = periods.age(versions, now);
    let cadence = super::cron_settings::cadence_json(
        periods.rotation_schedule.as_ref(),
        periods.rotation_period,
    );
    json!({
        "name": key.name,
        "provider": key.provider,
        "schedule": key.schedule,
        "rotation_period": cadence["rotation_period"],
        "rotation_schedule": cadence["rotation_schedule"],
        "grace_period": periods.grace_period,
        "rotation_window": periods.rotation_window,
        "usage_quiet_period": periods.usage_quiet_period,
        "max_grace": periods.max_grace,
        "auto_rotate": key.auto_rotate,
        "custom_metadata": key.custom_metadata,
        "current_version": versions.current_version(),
        "pending_version": versions.pending().map(|v| v.number),
        "versions": versions_json(versions, now),
        "age_days": age.as_ref().map(|a| a.age_days),
        "last_rotation_time": opt_time(versions.last_rotation_time()),
        "next_rotation_time": opt_time(age.as_ref().map(|a| a.next_rotation_time)),
        "overdue": age.as_ref().is_some_and(|a| a.overdue),
        "overdue_days": age.as_ref().map(|a| a.overdue_days).unwrap_or(0),
        "missed_rotation_time": opt_time(age.as_ref().and_then(|a| a.missed_rotation_time)),
        "last_error": key.last_error,
    })
}
