//! What `metrics` reports: one snapshot of every key's state and counters, as metric families
//! with a `mount` label on every sample (so two mounts scraped through one server never
//! collide). [`super::metrics_format`] renders it as Prometheus text or JSON.
//!
//! Everything but the tick time is computed from the stored records at read time, so any node
//! reports the same numbers and a plugin restart loses nothing.

use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Utc};

use super::store::KeyState;
use crate::rotation::{Version, VersionState};

/// A counter or a gauge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
}

/// One metric family: its samples share the label names.
#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    pub name: &'static str,
    pub kind: Kind,
    pub help: &'static str,
    /// Label names, `mount` first.
    pub labels: Vec<&'static str>,
    /// Label values (in the order of `labels`) and the value.
    pub samples: Vec<(Vec<String>, f64)>,
}

impl Family {
    fn new(name: &'static str, kind: Kind, help: &'static str, labels: &[&'static str]) -> Self {
        let mut all = vec!["mount"];
        all.extend_from_slice(labels);
        Family {
            name,
            kind,
            help,
            labels: all,
            samples: Vec::new(),
        }
    }

    fn add(&mut self, mount: &str, values: &[&str], value: f64) {
        let mut all = vec![mount.to_string()];
        all.extend(values.iter().map(|v| v.to_string()));
        self.samples.push((all, value));
    }
}

/// When the periodic work last finished with no failure (Unix microseconds): the plugin's start
/// until then (so "no successful tick for N minutes" also covers a plugin that never ticked).
/// In memory on purpose: recording it writes nothing to storage every minute.
#[derive(Debug)]
pub struct TickClock(AtomicI64);

impl Default for TickClock {
    fn default() -> Self {
        TickClock(AtomicI64::new(Utc::now().timestamp_micros()))
    }
}

impl TickClock {
    /// Records a successful tick at `now`.
    pub fn record(&self, now: DateTime<Utc>) {
        self.0.fetch_max(now.timestamp_micros(), Ordering::Relaxed);
    }

    /// The last successful tick (or the start), in Unix seconds.
    pub fn last(&self) -> f64 {
        self.0.load(Ordering::Relaxed) as f64 / 1e6
    }
}

/// The mount label: the request's mount point without its trailing slash (`ai-keys`).
pub fn mount_label(mount_point: &str) -> String {
    mount_point.trim_end_matches('/').to_string()
}

/// Whether a `previous` version is kept past its planned grace end: its grace window was moved
/// later than planned (`extend/`, usage), or it is still live although the planned end passed
/// (the periodic work has not retired it yet). Records from before the plan was remembered
/// count their grace end as the plan.
pub fn past_planned_grace(v: &Version, now: DateTime<Utc>) -> bool {
    if v.state != VersionState::Previous {
        return false;
    }
    let Some(planned) = v.planned_grace_expires_time.or(v.grace_expires_time) else {
        return false;
    };
    v.grace_expires_time.is_some_and(|g| g > planned) || now >= planned
}

/// One key's figures, with its age against its cadence (period or cron schedule) resolved by
/// the caller (`view::Periods::age`).
pub struct KeyFigures<'a> {
    pub key: &'a KeyState,
    pub age: Option<crate::rotation::AgeReport>,
}

/// The snapshot: per-key families for `keys`, and the mount's own.
pub fn collect(
    mount: &str,
    keys: &[KeyFigures<'_>],
    last_tick: f64,
    now: DateTime<Utc>,
) -> Vec<Family> {
    use Kind::{Counter, Gauge};
    let key = &["key"];
    let mut age = Family::new(
        "ai_keys_current_version_age_seconds",
        Gauge,
        "Age of the key's current version.",
        key,
    );
    let mut due = Family::new(
        "ai_keys_seconds_until_due",
        Gauge,
        "Seconds until the current version is due for rotation (negative when overdue).",
        key,
    );
    let mut overdue = Family::new(
        "ai_keys_overdue",
        Gauge,
        "1 when the current version is older than its rotation period.",
        key,
    );
    let mut auto_rotate = Family::new(
        "ai_keys_auto_rotate",
        Gauge,
        "1 when the key rotates automatically when due (auto_rotate).",
        key,
    );
    let mut grace = Family::new(
        "ai_keys_versions_in_grace",
        Gauge,
        "Previous versions still inside their grace window.",
        key,
    );
    let mut past_plan = Family::new(
        "ai_keys_versions_past_planned_grace",
        Gauge,
        "Previous versions kept past their planned grace end (extended, or not retired yet).",
        key,
    );
    let mut pending = Family::new(
        "ai_keys_pending_versions",
        Gauge,
        "Staged versions waiting for promotion.",
        key,
    );
    let mut revocations = Family::new(
        "ai_keys_provider_revocations_pending",
        Gauge,
        "Retired versions whose revocation at the provider is not confirmed yet.",
        key,
    );
    let mut revocation_age = Family::new(
        "ai_keys_provider_revocation_oldest_pending_seconds",
        Gauge,
        "Age of the oldest unconfirmed provider revocation (0 when none is pending).",
        key,
    );
    let mut auto_failures = Family::new(
        "ai_keys_auto_rotation_consecutive_failures",
        Gauge,
        "Failed automatic rotation attempts since the last promotion (0: the last one succeeded or none failed).",
        key,
    );
    let mut last_error = Family::new(
        "ai_keys_last_attempt_failed",
        Gauge,
        "1 while the key records an error from its latest rotation attempt or periodic work (last_error).",
        key,
    );
    let mut rotations = Family::new(
        "ai_keys_rotations_total",
        Counter,
        "Promotions completed.",
        key,
    );
    let mut failures = Family::new(
        "ai_keys_rotation_failures_total",
        Counter,
        "Failed one-call rotations (rotate/ and automatic), by trigger.",
        &["key", "trigger"],
    );
    let mut extensions = Family::new(
        "ai_keys_grace_extensions_total",
        Counter,
        "Grace windows postponed because the previous version was still in use at its provider.",
        key,
    );
    let mut tests = Family::new(
        "ai_keys_test_outcomes_total",
        Counter,
        "Key tests by outcome.",
        &["key", "outcome"],
    );
    let mut tick = Family::new(
        "ai_keys_last_successful_tick_timestamp_seconds",
        Gauge,
        "When the periodic work last finished without a failure (the plugin's start until then), Unix seconds.",
        &[],
    );
    tick.add(mount, &[], last_tick);
    for KeyFigures {
        key: k,
        age: report,
    } in keys
    {
        let name = [k.name.as_str()];
        let versions = || k.versions.versions.values();
        if let Some(a) = report {
            age.add(mount, &name, a.age_secs as f64);
            due.add(
                mount,
                &name,
                (a.next_rotation_time - now).num_seconds() as f64,
            );
            overdue.add(mount, &name, f64::from(u8::from(a.overdue)));
        }
        auto_rotate.add(mount, &name, f64::from(u8::from(k.auto_rotate)));
        grace.add(
            mount,
            &name,
            f64::from(u8::from(k.versions.previous_in_grace(now).is_some())),
        );
        let count = |f: &dyn Fn(&Version) -> bool| versions().filter(|v| f(v)).count() as f64;
        past_plan.add(mount, &name, count(&|v| past_planned_grace(v, now)));
        pending.add(mount, &name, count(&|v| v.state == VersionState::Pending));
        let requested: Vec<DateTime<Utc>> = versions()
            .filter_map(|v| v.provider_revocation.as_ref())
            .filter(|r| r.is_pending())
            .map(|r| r.requested_time)
            .collect();
        revocations.add(mount, &name, requested.len() as f64);
        let oldest = requested
            .iter()
            .min()
            .map_or(0, |t| (now - *t).num_seconds());
        revocation_age.add(mount, &name, oldest.max(0) as f64);
        auto_failures.add(mount, &name, f64::from(k.auto.failures));
        last_error.add(mount, &name, f64::from(u8::from(k.last_error.is_some())));
        rotations.add(mount, &name, k.stats.rotations as f64);
        extensions.add(mount, &name, k.stats.grace_extensions as f64);
        // Both triggers always, so a first failure is an increase from 0 for `increase()`.
        for trigger in ["automatic", "manual"] {
            let n = k.stats.rotation_failures.get(trigger).copied().unwrap_or(0);
            failures.add(mount, &[&k.name, trigger], n as f64);
        }
        for (outcome, n) in &k.stats.test_outcomes {
            tests.add(mount, &[&k.name, outcome], *n as f64);
        }
    }
    vec![
        age,
        due,
        overdue,
        auto_rotate,
        grace,
        past_plan,
        pending,
        revocations,
        revocation_age,
        auto_failures,
        last_error,
        rotations,
        failures,
        extensions,
        tests,
        tick,
    ]
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::*;

    fn previous(grace: Option<i64>, planned: Option<i64>, now: DateTime<Utc>) -> Version {
        let at = |h: i64| now + TimeDelta::hours(h);
        Version {
            number: 1,
            state: VersionState::Previous,
            value: None,
            fingerprint: "sha256:0000000000000000".into(),
            created_time: now - TimeDelta::days(10),
            promoted_time: None,
            grace_expires_time: grace.map(at),
            planned_grace_expires_time: planned.map(at),
            revoked_time: None,
            last_test: None,
            provider_key_id: None,
            engine_created: false,
            provider_key_verified: false,
            staged_by: None,
            provider: None,
            provider_revocation: None,
            usage_check: None,
            provider_expires_time: None,
        }
    }

    #[test]
    fn past_planned_grace_is_an_extension_or_a_live_version_after_the_plan() {
        let now = Utc::now();
        // on plan, inside the window
        assert!(!past_planned_grace(&previous(Some(2), Some(2), now), now));
        // extended beyond the plan, even before the plan ends
        assert!(past_planned_grace(&previous(Some(5), Some(2), now), now));
        // the plan ended and the version is still previous
        assert!(past_planned_grace(&previous(Some(-1), Some(-1), now), now));
        // an old record without a plan: its grace end is the plan
        assert!(!past_planned_grace(&previous(Some(2), None, now), now));
        assert!(past_planned_grace(&previous(Some(-2), None, now), now));
        // a revoked version is not kept
        let mut revoked = previous(Some(5), Some(2), now);
        revoked.state = VersionState::Revoked;
        assert!(!past_planned_grace(&revoked, now));
    }

    #[test]
    fn tick_clock_starts_at_start_and_never_goes_back() {
        let clock = TickClock::default();
        let start = clock.last();
        assert!((Utc::now().timestamp() as f64 - start).abs() <= 1.0);
        let later = Utc::now() + TimeDelta::minutes(1);
        clock.record(later);
        clock.record(later - TimeDelta::minutes(5));
        assert_eq!(clock.last(), later.timestamp_micros() as f64 / 1e6);
    }

    #[test]
    fn mount_label_drops_the_trailing_slash() {
        assert_eq!(mount_label("ai-keys/"), "ai-keys");
        assert_eq!(mount_label("team/ai/"), "team/ai");
        assert_eq!(mount_label(""), "");
    }
}
