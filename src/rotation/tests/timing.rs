//! Rotation timing: periods, cron schedules, and the window after a scheduled time.

use chrono::{DateTime, Utc};

use super::super::{Cadence, CronSpec, KeyVersions, Timing};
use super::{sv, DAY, HOUR};

fn time(s: &str) -> DateTime<Utc> {
    s.parse().expect("valid time")
}

fn cron(expr: &str, window: i64) -> Timing {
    Timing {
        cadence: Cadence::Cron(CronSpec::parse(expr).unwrap()),
        window,
    }
}

#[test]
fn a_period_is_due_its_length_after_creation_whatever_the_window() {
    let created = time("2025-01-01T00:00:00Z");
    for window in [0, 6 * HOUR] {
        let t = Timing {
            cadence: Cadence::Period(30 * DAY),
            window,
        };
        let now = time("2025-03-01T00:00:00Z");
        assert_eq!(
            t.next_rotation_time(created, now),
            time("2025-01-31T00:00:00Z")
        );
        assert_eq!(t.missed_rotation_time(created, now), None);
    }
}

#[test]
fn a_cron_schedule_is_due_at_the_first_scheduled_time_after_creation() {
    let t = cron("0 3 * * *", 0);
    let created = time("2025-01-01T10:00:00Z");
    let due = time("2025-01-02T03:00:00Z");
    for now in [
        "2025-01-01T10:00:00Z",
        "2025-01-02T03:00:00Z",
        "2025-01-09T00:00:00Z",
    ] {
        // Without a window, a due time never moves: the key stays overdue until rotated.
        assert_eq!(t.next_rotation_time(created, time(now)), due, "{now}");
        assert_eq!(t.missed_rotation_time(created, time(now)), None);
    }
}

#[test]
fn a_closed_window_waits_for_the_next_scheduled_time() {
    let t = cron("0 3 * * *", 2 * HOUR);
    let created = time("2025-01-01T10:00:00Z");
    let first = time("2025-01-02T03:00:00Z");
    // Before and inside the window: the scheduled time itself.
    for now in [
        "2025-01-01T12:00:00Z",
        "2025-01-02T03:00:00Z",
        "2025-01-02T04:59:59Z",
    ] {
        assert_eq!(t.next_rotation_time(created, time(now)), first, "{now}");
        assert_eq!(t.missed_rotation_time(created, time(now)), None, "{now}");
    }
    // The window closes at 05:00: the next day's 03:00, and the missed time is shown.
    let now = time("2025-01-02T05:00:00Z");
    assert_eq!(
        t.next_rotation_time(created, now),
        time("2025-01-03T03:00:00Z")
    );
    assert_eq!(t.missed_rotation_time(created, now), Some(first));
    // Days later: the latest missed time, and the next open one.
    let now = time("2025-01-05T04:00:00Z");
    assert_eq!(
        t.next_rotation_time(created, now),
        time("2025-01-05T03:00:00Z")
    );
    assert_eq!(
        t.missed_rotation_time(created, now),
        Some(time("2025-01-04T03:00:00Z"))
    );
}

#[test]
fn age_reports_overdue_from_the_first_scheduled_time() {
    let created = time("2025-01-01T10:00:00Z");
    let (kv, _) = KeyVersions::create(sv("sk-cron-age"), created, created);
    let t = cron("0 3 * * *", HOUR);
    let before = kv.age_with(&t, time("2025-01-02T02:00:00Z")).unwrap();
    assert!(!before.overdue);
    assert_eq!(before.ttl_secs, HOUR);
    assert_eq!(before.next_rotation_time, time("2025-01-02T03:00:00Z"));
    let later = kv.age_with(&t, time("2025-01-04T03:30:00Z")).unwrap();
    assert!(later.overdue);
    assert_eq!(later.overdue_days, 2);
    assert_eq!(later.next_rotation_time, time("2025-01-04T03:00:00Z"));
    assert_eq!(later.ttl_secs, 0);
    assert_eq!(
        later.missed_rotation_time,
        Some(time("2025-01-03T03:00:00Z"))
    );
    // The period form is unchanged.
    let p = kv.age(30 * DAY, time("2025-01-02T02:00:00Z")).unwrap();
    assert_eq!(p.next_rotation_time, time("2025-01-31T10:00:00Z"));
    assert_eq!(p.missed_rotation_time, None);
}
