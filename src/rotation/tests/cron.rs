//! Cron expressions: Vault's grammar (what it accepts and refuses, naming the field), the
//! scheduled times `croner` finds against a brute-force scan of the parsed fields, and the
//! longest interval.

use chrono::{DateTime, TimeDelta, Timelike, Utc};
use proptest::prelude::*;

use super::super::CronSpec;

fn time(s: &str) -> DateTime<Utc> {
    s.parse().expect("valid time")
}

fn next(expr: &str, after: &str) -> DateTime<Utc> {
    CronSpec::parse(expr)
        .expect(expr)
        .next_after(time(after))
        .expect("fires")
}

#[test]
fn accepts_what_vault_accepts() {
    for expr in [
        "* * * * *",
        "0 3 * * *",
        "*/15 * * * *",
        "5/10 * * * *",
        "0 0 1 jan,jul *",
        "0 0 * * MON-FRI",
        "0 0 ? * sun",
        "30 2 1-7 * 1",
        "0 0 29 2 *",
        "  0   3 * * *  ",
        "0\t3 * * *",
        "00 03 * * *",
        "0-59/20 0-23/6 1-31/2 1-12/3 0-6/2",
        "1,2,3-5,10-20/5 * * * *",
    ] {
        CronSpec::parse(expr).unwrap_or_else(|e| panic!("{expr:?}: {e}"));
    }
}

#[test]
fn refuses_what_vault_refuses_naming_the_field() {
    for (expr, expected) in [
        ("0 0 3 * * *", "found 6: a seconds field"),
        ("0 3 * *", "found 4"),
        ("0 0 0 3 * * 2026", "found 7"),
        ("@daily", "descriptors"),
        ("@every 1h", "descriptors"),
        ("", "empty"),
        ("   ", "empty"),
        (
            "60 * * * *",
            "minute field \"60\": 60 is above the maximum 59",
        ),
        ("* 24 * * *", "hour field"),
        (
            "* * 0 * *",
            "day-of-month field \"0\": 0 is below the minimum 1",
        ),
        ("* * 32 * *", "day-of-month field"),
        ("* * * 13 *", "month field"),
        ("* * * 0 *", "month field"),
        (
            "* * * * 7",
            "day-of-week field \"7\": 7 is above the maximum 6",
        ),
        ("* * * * 1#2", "day-of-week field"),
        ("* * L * *", "day-of-month field"),
        ("* * 15W * *", "day-of-month field"),
        ("* * * * 5L", "day-of-week field"),
        (
            "*/0 * * * *",
            "minute field \"*/0\": a step must be at least 1",
        ),
        ("5-1 * * * *", "after its end"),
        ("1-2-3 * * * *", "too many '-'"),
        ("*/2/3 * * * *", "too many '/'"),
        ("-1 * * * *", "minute field"),
        ("a * * * *", "minute field \"a\""),
        ("* * * * monday", "day-of-week field"),
        ("* * * january *", "month field"),
        ("* * * * +MON", "day-of-week field"),
        ("H * * * *", "minute field"),
    ] {
        let err = CronSpec::parse(expr).expect_err(expr).to_string();
        assert!(err.contains(expected), "{expr:?}: {err}");
    }
}

#[test]
fn refuses_what_cannot_mean_what_it_says() {
    for (expr, expected) in [
        ("CRON_TZ=Europe/Paris 0 3 * * *", "UTC"),
        ("TZ=UTC 0 3 * * *", "UTC"),
        ("*-5 * * * *", "minute field"),
        ("+5 * * * *", "minute field"),
        ("1,,2 * * * *", "empty list item"),
        (",5 * * * *", "empty list item"),
        ("0 0 30 2 *", "never fire"),
        ("0 0 31 4,6,9,11 *", "never fire"),
        ("99999 * * * *", "minute field"),
    ] {
        let err = CronSpec::parse(expr).expect_err(expr).to_string();
        assert!(err.contains(expected), "{expr:?}: {err}");
    }
    let long = format!("0 3 * * {}", "1,".repeat(200) + "1");
    assert!(CronSpec::parse(&long)
        .unwrap_err()
        .to_string()
        .contains("longer than 256"));
}

#[test]
fn next_times_are_strictly_after_and_in_utc() {
    assert_eq!(
        next("* * * * *", "2025-01-01T10:00:00Z"),
        time("2025-01-01T10:01:00Z")
    );
    assert_eq!(
        next("* * * * *", "2025-01-01T10:00:00.5Z"),
        time("2025-01-01T10:01:00Z")
    );
    assert_eq!(
        next("0 3 * * *", "2025-01-01T03:00:00Z"),
        time("2025-01-02T03:00:00Z")
    );
    assert_eq!(
        next("0 3 * * *", "2025-01-01T02:59:59Z"),
        time("2025-01-01T03:00:00Z")
    );
    assert_eq!(
        next("5/10 * * * *", "2025-01-01T10:00:00Z"),
        time("2025-01-01T10:05:00Z")
    );
    assert_eq!(
        next("5/10 * * * *", "2025-01-01T10:55:00Z"),
        time("2025-01-01T11:05:00Z")
    );
    // 2025-01-01 is a Wednesday.
    assert_eq!(
        next("0 0 * * mon", "2025-01-01T00:00:00Z"),
        time("2025-01-06T00:00:00Z")
    );
    assert_eq!(
        next("0 0 29 2 *", "2025-01-01T00:00:00Z"),
        time("2028-02-29T00:00:00Z")
    );
    // Both day fields restricted: either matches (the 15th, or a Monday).
    assert_eq!(
        next("0 0 15 * mon", "2025-01-07T00:00:00Z"),
        time("2025-01-13T00:00:00Z")
    );
    // One day field starred: both must match (every day that is a Monday).
    assert_eq!(
        next("0 0 * * mon", "2025-01-07T00:00:00Z"),
        time("2025-01-13T00:00:00Z")
    );
    // A step above 1 on * is a restriction, so the fields combine with "or".
    assert_eq!(
        next("0 0 */10 * mon", "2025-01-01T00:00:00Z"),
        time("2025-01-06T00:00:00Z")
    );
}

#[test]
fn last_at_or_before_includes_the_time_itself() {
    let spec = CronSpec::parse("0 3 * * *").unwrap();
    let t = time("2025-01-02T03:00:00Z");
    assert_eq!(spec.last_at_or_before(t), Some(t));
    assert_eq!(
        spec.last_at_or_before(time("2025-01-02T02:59:00Z")),
        Some(time("2025-01-01T03:00:00Z"))
    );
}

#[test]
fn longest_interval_covers_gaps_between_days_and_hours() {
    let cases = [
        ("* * * * *", 60),
        ("0 * * * *", 3600),
        ("0 3 * * *", 86_400),
        ("0 3,4 * * *", 23 * 3600),
        ("* * * * 1-5", 2 * 86_400 + 60),
        ("0 0 1 * *", 31 * 86_400),
        ("0 0 1 1 *", 366 * 86_400),
        // 2024-02-29 to 2028-02-29.
        ("0 0 29 2 *", 1461 * 86_400),
    ];
    for (expr, expected) in cases {
        let got = CronSpec::parse(expr).unwrap().longest_interval_secs();
        assert_eq!(got, expected, "{expr}");
    }
}

/// Brute force: the first minute after `t` the parsed fields match.
fn scan_next(spec: &CronSpec, t: DateTime<Utc>, limit_minutes: i64) -> Option<DateTime<Utc>> {
    let mut m = t.with_second(0)?.with_nanosecond(0)? + TimeDelta::minutes(1);
    for _ in 0..limit_minutes {
        if spec.matches(m) {
            return Some(m);
        }
        m += TimeDelta::minutes(1);
    }
    None
}

fn field(max: u32, min: u32) -> impl Strategy<Value = String> {
    let one = prop_oneof![
        Just("*".to_string()),
        (min..=max).prop_map(|v| v.to_string()),
        (min..=max, min..=max).prop_map(|(a, b)| format!("{}-{}", a.min(b), a.max(b))),
        (min..=max, 1..=7u32).prop_map(|(a, s)| format!("{a}/{s}")),
        (1..=7u32).prop_map(|s| format!("*/{s}")),
    ];
    proptest::collection::vec(one, 1..3).prop_map(|v| v.join(","))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// croner, given the canonical form, finds the same next time as a scan of the fields.
    #[test]
    fn croner_agrees_with_the_parsed_fields(
        minute in field(59, 0),
        hour in field(23, 0),
        dom in field(31, 1),
        month in prop_oneof![Just("*".to_string()), field(12, 1)],
        dow in field(6, 0),
        start in 0i64..(4 * 366 * 24 * 60),
    ) {
        let expr = format!("{minute} {hour} {dom} {month} {dow}");
        let Ok(spec) = CronSpec::parse(&expr) else { return Ok(()); };
        let t = time("2024-01-01T00:00:00Z") + TimeDelta::minutes(start) + TimeDelta::seconds(7);
        // Twenty days of minutes; expressions firing later are checked by the cases above.
        let expected = scan_next(&spec, t, 20 * 24 * 60);
        if let Some(expected) = expected {
            prop_assert_eq!(spec.next_after(t), Some(expected), "{}", expr);
        }
    }
}
