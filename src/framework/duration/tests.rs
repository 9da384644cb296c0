use proptest::prelude::*;
use serde_json::{json, Value};

use super::*;

#[test]
fn strings_follow_vault_rules() {
    let ok: &[(&str, i64)] = &[
        ("", 0),
        ("0", 0),
        ("42", 42),
        ("+42", 42),
        ("-5", -5),
        ("30d", 30 * 86_400),
        ("0d", 0),
        ("-2d", -2 * 86_400),
        ("1h30m", 5_400),
        ("90m", 5_400),
        ("1.5h", 5_400),
        ("720h", 2_592_000),
        ("168h", 604_800),
        ("300ms", 0),
        ("1500ms", 1),
        ("1.9s", 1),
        ("-1.5s", -1),
        ("-5s", -5),
        ("+5s", 5),
        (".5m", 30),
        ("5.m", 300),
        ("1h1m1s", 3_661),
        ("2h45m30.5s", 9_930),
        ("1000000us", 1),
        ("1000000\u{b5}s", 1),
        ("1000000\u{3bc}s", 1),
        ("1000000000ns", 1),
        ("2562047h", 2_562_047 * 3_600),
        ("9223372036s", 9_223_372_036),
        ("-9223372036854775808ns", -9_223_372_036),
    ];
    for (input, want) in ok {
        assert_eq!(parse_duration_str(input), Ok(*want), "input {input:?}");
    }
}

#[test]
fn bad_strings_are_rejected_without_echoing_input() {
    let bad = [
        "abc",
        "1x",
        "5M",
        "1y",
        "1.5d",
        "1h2d",
        "d",
        "-d",
        "1 h",
        " 5",
        "5 ",
        "1h-30m",
        ".",
        ".s",
        "-",
        "+",
        "1e3",
        "3000000h",
        "9223372036854775808ns",
        "99999999999999999999",
        "99999999999999999999d",
        "106751991167301d",
        "s3cr3t-token",
    ];
    for input in bad {
        let err = parse_duration_str(input).expect_err(input);
        if input.len() > 3 {
            assert!(!err.contains(input), "{input:?} echoed in {err:?}");
        }
    }
}

#[test]
fn json_values() {
    let cases: &[(Value, Result<i64, ()>)] = &[
        (json!(3600), Ok(3600)),
        (json!(-1), Ok(-1)),
        (json!(0), Ok(0)),
        (json!("1h"), Ok(3600)),
        (json!("30d"), Ok(2_592_000)),
        (json!("60"), Ok(60)),
        (Value::Null, Ok(0)),
        (json!(1.5), Err(())),
        (json!(10.0), Err(())),
        (json!(u64::MAX), Err(())),
        (json!(true), Err(())),
        (json!(["1h"]), Err(())),
        (json!({"h": 1}), Err(())),
    ];
    for (input, want) in cases {
        assert_eq!(
            parse_duration(input).map_err(|_| ()),
            *want,
            "input {input}"
        );
    }
}

proptest! {
    #[test]
    fn never_panics_on_any_string(s in ".{0,40}") {
        let _ = parse_duration_str(&s);
    }

    #[test]
    fn never_panics_on_duration_like_strings(s in "[-+]?[0-9.]{0,25}(ns|us|ms|s|m|h|d|µs|x)?([0-9.]{0,25}[smh])?") {
        let _ = parse_duration(&Value::String(s));
    }

    #[test]
    fn never_panics_on_numbers(n in any::<i64>(), f in any::<f64>()) {
        prop_assert_eq!(parse_duration(&json!(n)), Ok(n));
        let _ = parse_duration(&json!(f));
    }

    #[test]
    fn days_and_plain_seconds(n in 0i64..1_000_000) {
        prop_assert_eq!(parse_duration_str(&format!("{n}d")), Ok(n * 86_400));
        prop_assert_eq!(parse_duration_str(&format!("{n}")), Ok(n));
        prop_assert_eq!(parse_duration(&json!(format!("{n}d"))), Ok(n * 86_400));
        prop_assert_eq!(parse_duration(&json!(n)), Ok(n));
    }

    #[test]
    fn go_units_agree(h in 0i64..100_000, m in 0i64..1_000, s in 0i64..1_000) {
        prop_assert_eq!(parse_duration_str(&format!("{h}h{m}m{s}s")), Ok(h * 3_600 + m * 60 + s));
    }
}
