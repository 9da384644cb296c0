//! Unit tests of the version state machine, one module per concern, with shared helpers here.

mod age;
mod cron;
mod cutover;
mod exposure;
mod first_version;
mod forward;
mod invariants;
mod props;
mod read;
mod reinstate;
mod retire;
mod secret;
mod serde_debug;
mod timing;

use chrono::{DateTime, TimeDelta, Utc};

use super::{Change, EventKind, KeyVersions, RotationError, SecretValue, TestOutcome, TestResult};

/// 2025-01-01T00:00:00Z, the start of every scenario.
fn t0() -> DateTime<Utc> {
    "2025-01-01T00:00:00Z".parse().expect("valid time")
}

/// `t0()` plus `secs` seconds.
fn at(secs: i64) -> DateTime<Utc> {
    t0() + TimeDelta::seconds(secs)
}

const HOUR: i64 = 3600;
const DAY: i64 = 86_400;

fn sv(s: &str) -> SecretValue {
    SecretValue::new(s.to_string())
}

fn result(outcome: TestOutcome, now: DateTime<Utc>) -> TestResult {
    TestResult {
        outcome,
        status_code: Some(200),
        detail: String::new(),
        time: now,
    }
}

/// A key created at `t0()` with value `sk-one` (version 1, current).
fn new_key() -> KeyVersions {
    KeyVersions::create(sv("sk-one"), t0(), t0()).0
}

/// Stages `value` at `now` (operator-supplied, staged by `alice`) and returns its number.
fn stage(kv: &mut KeyVersions, value: &str, now: DateTime<Utc>) -> u32 {
    let changes = kv
        .stage(sv(value), now, Some("entity:alice".into()), None, false)
        .expect("stage");
    changes[0].version
}

/// Stages `value`, records a passing test, and promotes with `grace` seconds.
fn rotate(kv: &mut KeyVersions, value: &str, now: DateTime<Utc>, grace: i64) -> Vec<Change> {
    stage(kv, value, now);
    kv.record_test(None, result(TestOutcome::Passed, now))
        .expect("test");
    kv.promote(now, grace, false, Some("bob"), true)
        .expect("promote")
}

/// Runs `op`, expects it to be refused with `expected`, and checks that nothing changed.
fn assert_refused<T: std::fmt::Debug>(
    kv: &mut KeyVersions,
    expected: RotationError,
    op: impl FnOnce(&mut KeyVersions) -> Result<T, RotationError>,
) {
    let before = kv.clone();
    let before_json = serde_json::to_string(&before).expect("serialize");
    let err = op(kv).expect_err("transition should be refused");
    assert_eq!(err, expected);
    assert_eq!(*kv, before, "a refused transition changed the key");
    assert_eq!(serde_json::to_string(kv).expect("serialize"), before_json);
}

/// The (event, version) pairs of `changes`.
fn events(changes: &[Change]) -> Vec<(EventKind, u32)> {
    changes.iter().map(|c| (c.event, c.version)).collect()
}
