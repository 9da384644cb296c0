//! Age and schedule arithmetic.

use chrono::{DateTime, Utc};

use super::super::{
    age_days, is_overdue, next_rotation_time, overdue_days, period_days, ttl_secs, KeyVersions,
};
use super::{at, new_key, rotate, sv, t0, DAY, HOUR};

fn time(s: &str) -> DateTime<Utc> {
    s.parse().expect("valid time")
}

#[test]
fn api_md_overdue_example() {
    // A key created 2024-12-01, read on 2025-01-15 with max_age=30d: age 45, overdue 15.
    let created = time("2024-12-01T00:00:00Z");
    let now = time("2025-01-15T00:00:00Z");
    let age = age_days(created, now);
    assert_eq!(age, 45);
    assert_eq!(overdue_days(age, 30 * DAY), 15);
    assert_eq!(period_days(30 * DAY), 30);

    let (kv, _) = KeyVersions::create(sv("sk-imported"), created, now);
    let report = kv.age(30 * DAY, now).expect("current");
    assert_eq!(report.age_days, 45);
    assert_eq!(report.overdue_days, 15);
    assert!(report.overdue);
    assert_eq!(report.ttl_secs, 0);
    assert_eq!(report.next_rotation_time, time("2024-12-31T00:00:00Z"));
}

#[test]
fn age_days_rounds_down_and_never_goes_negative() {
    assert_eq!(age_days(t0(), at(DAY - 1)), 0);
    assert_eq!(age_days(t0(), at(DAY)), 1);
    assert_eq!(age_days(t0(), at(2 * DAY - 1)), 1);
    assert_eq!(age_days(at(HOUR), t0()), 0);
}

#[test]
fn overdue_days_is_zero_until_a_whole_day_past_the_period() {
    assert_eq!(overdue_days(29, 30 * DAY), 0);
    assert_eq!(overdue_days(30, 30 * DAY), 0);
    assert_eq!(overdue_days(31, 30 * DAY), 1);
    // A 36h period counts as 2 days.
    assert_eq!(overdue_days(2, 36 * HOUR), 0);
    assert_eq!(overdue_days(3, 36 * HOUR), 1);
    assert_eq!(overdue_days(i64::MAX, 0), i64::MAX / DAY);
}

#[test]
fn next_rotation_time_and_ttl() {
    let period = 90 * DAY;
    assert_eq!(next_rotation_time(t0(), period), at(period));
    assert_eq!(ttl_secs(t0(), period, t0()), period);
    assert_eq!(ttl_secs(t0(), period, at(period - 1)), 1);
    assert_eq!(ttl_secs(t0(), period, at(period)), 0);
    assert_eq!(ttl_secs(t0(), period, at(period + 5 * DAY)), 0);
    assert_eq!(next_rotation_time(t0(), i64::MAX), DateTime::<Utc>::MAX_UTC);
}

#[test]
fn overdue_only_once_older_than_the_period() {
    let period = 30 * DAY;
    assert!(!is_overdue(t0(), period, at(period - 1)));
    assert!(!is_overdue(t0(), period, at(period)));
    assert!(is_overdue(t0(), period, at(period + 1)));
}

#[test]
fn age_counts_from_the_current_versions_creation() {
    let mut kv = new_key();
    rotate(&mut kv, "sk-two", at(10 * DAY), DAY);
    let report = kv.age(30 * DAY, at(15 * DAY)).expect("current");
    assert_eq!(report.version, 2);
    assert_eq!(report.age_days, 5);
    assert_eq!(report.age_secs, 5 * DAY);
    assert_eq!(report.next_rotation_time, at(40 * DAY));
    assert_eq!(report.ttl_secs, 25 * DAY);
    assert!(!report.overdue);
    assert_eq!(report.overdue_days, 0);
    assert_eq!(kv.ttl_secs(30 * DAY, at(15 * DAY)), 25 * DAY);
}

#[test]
fn rollback_restores_the_older_age() {
    let mut kv = new_key();
    rotate(&mut kv, "sk-two", at(40 * DAY), DAY);
    kv.rollback(at(40 * DAY + HOUR)).expect("rollback");
    let report = kv.age(30 * DAY, at(41 * DAY)).expect("current");
    assert_eq!(report.version, 1);
    assert_eq!(report.age_days, 41);
    assert!(report.overdue);
    assert_eq!(report.overdue_days, 11);
}

#[test]
fn no_age_without_a_current_version() {
    let mut kv = new_key();
    kv.destroy_all(at(DAY));
    assert_eq!(kv.age(DAY, at(2 * DAY)), None);
    assert_eq!(kv.ttl_secs(DAY, at(2 * DAY)), 0);
}
