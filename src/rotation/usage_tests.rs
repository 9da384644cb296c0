//! Usage-aware revocation: when a retiring version is checked, how the provider's answer is
//! judged, and what a check records.

use chrono::{DateTime, TimeDelta, Utc};

use super::*;
use crate::key_test::{TestOutcome, TestResult};
use crate::rotation::{EventKind, KeyVersions, SecretValue};

fn t0() -> DateTime<Utc> {
    "2025-01-01T00:00:00Z".parse().expect("valid time")
}

fn at(secs: i64) -> DateTime<Utc> {
    t0() + TimeDelta::seconds(secs)
}

const HOUR: i64 = 3600;

fn passed(now: DateTime<Utc>) -> TestResult {
    TestResult {
        outcome: TestOutcome::Passed,
        status_code: Some(200),
        detail: String::new(),
        time: now,
    }
}

/// Version 1 made `previous` at `t0()` with a grace of one hour; version 2 current.
fn retired() -> KeyVersions {
    let mut kv = KeyVersions::create(SecretValue::new("sk-one".into()), at(-HOUR), at(-HOUR)).0;
    kv.stage(SecretValue::new("sk-two".into()), t0(), None, None, true)
        .expect("stage");
    kv.record_test(None, passed(t0())).expect("test");
    kv.promote(t0(), HOUR, false, None, false).expect("promote");
    kv
}

const POLICY: UsagePolicy = UsagePolicy {
    quiet_period: HOUR,
    max_grace: 7 * 24 * HOUR,
};

fn extend_until(d: &UsageDecision) -> DateTime<Utc> {
    match d {
        UsageDecision::Extend { until, .. } => *until,
        other => panic!("expected an extension, got {other:?}"),
    }
}

fn kept(d: &UsageDecision) -> &'static str {
    match d {
        UsageDecision::Keep { kind, .. } => kind,
        other => panic!("expected the schedule kept, got {other:?}"),
    }
}

#[test]
fn checked_only_shortly_before_the_end_and_only_when_on() {
    let kv = retired();
    assert!(kv.usage_check_due(t0(), POLICY).is_none(), "an hour before");
    let near = at(HOUR - USAGE_CHECK_LEAD_SECS);
    assert_eq!(kv.usage_check_due(near, POLICY).map(|v| v.number), Some(1));
    let off = UsagePolicy {
        quiet_period: 0,
        ..POLICY
    };
    assert!(kv.usage_check_due(near, off).is_none(), "0 turns it off");
    assert!(
        kv.usage_check_due(at(HOUR), POLICY).is_none(),
        "ended: never reopened"
    );
}

#[test]
fn the_next_check_follows_the_moved_end() {
    let mut kv = retired();
    let lead = TimeDelta::seconds(USAGE_CHECK_LEAD_SECS);
    assert_eq!(kv.next_usage_check_time(POLICY), Some(at(HOUR) - lead));
    let now = at(HOUR - 100);
    let obs = Observation::LastUsed(Some(now));
    let d = kv.judge_usage(1, &obs, POLICY, now);
    kv.apply_usage(1, &obs, &d, now);
    assert_eq!(kv.next_usage_check_time(POLICY), Some(at(2 * HOUR) - lead));
    let off = UsagePolicy {
        quiet_period: 0,
        ..POLICY
    };
    assert_eq!(kv.next_usage_check_time(off), None);
}

#[test]
fn an_emergency_promotion_leaves_nothing_to_check() {
    let mut kv = retired();
    kv.stage(
        SecretValue::new("sk-three".into()),
        at(10),
        None,
        None,
        true,
    )
    .expect("stage");
    kv.record_test(None, passed(at(10))).expect("test");
    kv.promote(at(10), 0, false, None, false).expect("promote");
    assert!(kv.usage_check_due(at(10), POLICY).is_none());
}

#[test]
fn recent_use_postpones_by_the_quiet_period_and_keeps_the_plan() {
    let mut kv = retired();
    let now = at(HOUR - 100);
    let obs = Observation::LastUsed(Some(now - TimeDelta::seconds(30)));
    let d = kv.judge_usage(1, &obs, POLICY, now);
    assert_eq!(extend_until(&d), at(2 * HOUR));
    let out = kv.apply_usage(1, &obs, &d, now);
    assert_eq!(out.changes.len(), 1);
    assert_eq!(out.changes[0].event, EventKind::GraceExtended);
    assert!(
        out.changes[0]
            .detail
            .contains("last used at 2025-01-01T00:57:50Z"),
        "{}",
        out.changes[0].detail
    );
    let v = kv.get(1).unwrap();
    assert_eq!(v.grace_expires_time, Some(at(2 * HOUR)));
    assert_eq!(
        v.planned_grace_expires_time,
        Some(at(HOUR)),
        "the plan never moves"
    );
    assert_eq!(v.usage_check.as_ref().unwrap().extensions, 1);
    // Still valid after the planned end.
    assert_eq!(kv.verify("sk-one", at(HOUR + 60)).map(|(n, _)| n), Some(1));
}

#[test]
fn a_quiet_key_or_one_never_used_follows_the_schedule() {
    let kv = retired();
    let now = at(HOUR - 100);
    let old = Observation::LastUsed(Some(now - TimeDelta::seconds(HOUR)));
    assert_eq!(kept(&kv.judge_usage(1, &old, POLICY, now)), "quiet");
    let never = Observation::LastUsed(None);
    assert_eq!(kept(&kv.judge_usage(1, &never, POLICY, now)), "never_used");
}

#[test]
fn the_engines_own_key_test_is_not_an_applications_use() {
    let mut kv = retired();
    let now = at(HOUR - 100);
    let test_time = now - TimeDelta::seconds(60);
    kv.version_mut(1).unwrap().last_test = Some(passed(test_time));
    // Stamped in whole seconds, rounded down, up to the skew later (clock difference).
    for after in [-1, 0, ENGINE_USE_SKEW_SECS] {
        let obs = Observation::LastUsed(Some(test_time + TimeDelta::seconds(after)));
        let d = kv.judge_usage(1, &obs, POLICY, now);
        assert_eq!(kept(&d), "engine_test", "{after}");
    }
    let later = Observation::LastUsed(Some(
        test_time + TimeDelta::seconds(ENGINE_USE_SKEW_SECS + 1),
    ));
    extend_until(&kv.judge_usage(1, &later, POLICY, now));
}

#[test]
fn the_engines_health_check_of_the_key_while_current_is_not_an_applications_use() {
    let mut kv = retired();
    let now = at(HOUR - 100);
    // Tested when staged long ago; checked by the periodic health check later, while current.
    kv.version_mut(1).unwrap().last_test = Some(passed(now - TimeDelta::seconds(3 * HOUR)));
    let check_time = now - TimeDelta::seconds(600);
    kv.version_mut(1).unwrap().health_check = Some(crate::rotation::HealthCheck::after(
        None,
        passed(check_time),
    ));
    let probe = Observation::LastUsed(Some(check_time));
    assert_eq!(kept(&kv.judge_usage(1, &probe, POLICY, now)), "engine_test");
    let later = Observation::LastUsed(Some(
        check_time + TimeDelta::seconds(ENGINE_USE_SKEW_SECS + 1),
    ));
    extend_until(&kv.judge_usage(1, &later, POLICY, now));
}

#[test]
fn extensions_stop_at_max_grace_after_the_planned_end() {
    let mut kv = retired();
    let policy = UsagePolicy {
        quiet_period: HOUR,
        max_grace: HOUR / 2,
    };
    let now = at(HOUR - 100);
    let obs = Observation::LastUsed(Some(now));
    let d = kv.judge_usage(1, &obs, policy, now);
    assert_eq!(extend_until(&d), at(HOUR + HOUR / 2), "capped");
    let UsageDecision::Extend { detail, .. } = &d else {
        unreachable!()
    };
    assert!(detail.contains("max_grace 30m"), "{detail}");
    kv.apply_usage(1, &obs, &d, now);
    let now = at(HOUR + HOUR / 2 - 100);
    let d = kv.judge_usage(1, &Observation::LastUsed(Some(now)), policy, now);
    assert_eq!(kept(&d), "max_grace");
    let UsageDecision::Keep { detail, .. } = &d else {
        unreachable!()
    };
    assert!(
        detail.contains("revoked at 2025-01-01T01:30:00Z anyway"),
        "{detail}"
    );
    let none = UsagePolicy {
        max_grace: 0,
        ..policy
    };
    let fresh = retired();
    let d = fresh.judge_usage(1, &Observation::LastUsed(Some(now)), none, at(HOUR - 100));
    assert_eq!(kept(&d), "max_grace");
}

#[test]
fn a_provider_that_cannot_answer_keeps_the_schedule_and_says_so_once() {
    let mut kv = retired();
    let obs = Observation::Unavailable("HTTP 500".into());
    let now = at(HOUR - 100);
    let d = kv.judge_usage(1, &obs, POLICY, now);
    assert_eq!(kept(&d), "unavailable");
    let first = kv.apply_usage(1, &obs, &d, now);
    assert!(first.note.as_deref().unwrap().contains("HTTP 500"));
    assert!(first.changes.is_empty());
    let again = kv.apply_usage(1, &obs, &d, at(HOUR - 40));
    assert_eq!(again.note, None, "the same outcome is recorded once");
    assert_eq!(kv.get(1).unwrap().grace_expires_time, Some(at(HOUR)));
}

#[test]
fn spend_needs_a_baseline_then_a_rise_is_use() {
    let mut kv = retired();
    let now = at(HOUR - 140);
    let first = Observation::Spend(1.25);
    let d = kv.judge_usage(1, &first, POLICY, now);
    assert_eq!(kept(&d), "baseline");
    kv.apply_usage(1, &first, &d, now);
    let now = at(HOUR - 80);
    let d = kv.judge_usage(1, &first, POLICY, now);
    assert_eq!(kept(&d), "quiet");
    kv.apply_usage(1, &first, &d, now);
    let now = at(HOUR - 20);
    let rose = Observation::Spend(1.5);
    let d = kv.judge_usage(1, &rose, POLICY, now);
    assert_eq!(extend_until(&d), at(2 * HOUR));
    let UsageDecision::Extend { detail, .. } = &d else {
        unreachable!()
    };
    assert!(detail.contains("spend rose from $1.250000"), "{detail}");
}

#[test]
fn short_durations_read_like_the_settings() {
    assert_eq!(short_duration(3600), "1h");
    assert_eq!(short_duration(7 * 86_400), "7d");
    assert_eq!(short_duration(90), "90s");
    assert_eq!(short_duration(120), "2m");
}
