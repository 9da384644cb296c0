//! Coercion of a request value by field type: what each type accepts, and what it refuses.

use super::*;

#[test]
fn string_coercion() {
    use FieldType::String as T;
    assert_eq!(ok(T, json!("abc")), s("abc"));
    assert_eq!(ok(T, json!("")), s(""));
    assert_eq!(ok(T, json!(42)), s("42"));
    assert_eq!(ok(T, json!(-1.5)), s("-1.5"));
    assert_eq!(ok(T, json!(true)), s("true"));
    bad(T, json!(["a"]));
    bad(T, json!({"a": "b"}));
}

#[test]
fn bool_coercion() {
    use FieldType::Bool as T;
    for t in ["1", "t", "T", "TRUE", "true", "True"] {
        assert_eq!(ok(T, json!(t)), FieldValue::Bool(true), "{t}");
    }
    for f in ["0", "f", "F", "FALSE", "false", "False"] {
        assert_eq!(ok(T, json!(f)), FieldValue::Bool(false), "{f}");
    }
    assert_eq!(ok(T, json!(true)), FieldValue::Bool(true));
    assert_eq!(ok(T, json!(false)), FieldValue::Bool(false));
    for b in [
        json!("yes"),
        json!("tRUE"),
        json!(""),
        json!(" true"),
        json!(1),
        json!(0),
        json!(["true"]),
        json!({}),
    ] {
        bad(T, b);
    }
}

#[test]
fn int_coercion() {
    use FieldType::Int as T;
    assert_eq!(ok(T, json!(5)), FieldValue::Int(5));
    assert_eq!(ok(T, json!(-5)), FieldValue::Int(-5));
    assert_eq!(ok(T, json!(i64::MAX)), FieldValue::Int(i64::MAX));
    assert_eq!(ok(T, json!("1000")), FieldValue::Int(1000));
    assert_eq!(ok(T, json!("-7")), FieldValue::Int(-7));
    assert_eq!(ok(T, json!("+7")), FieldValue::Int(7));
    assert_eq!(
        ok(T, json!("-9223372036854775808")),
        FieldValue::Int(i64::MIN)
    );
    assert!(bad(T, json!(u64::MAX)).contains("out of range"));
    assert!(bad(T, json!("9223372036854775808")).contains("out of range"));
    assert!(bad(T, json!(1.5)).contains("fractional"));
    for b in [
        json!("1.5"),
        json!("1e3"),
        json!("0x10"),
        json!(""),
        json!(" 1"),
        json!("ten"),
        json!(true),
        json!([1]),
    ] {
        bad(T, b);
    }
}

#[test]
fn duration_coercion() {
    use FieldType::Duration as T;
    let cases = [
        (json!(3600), 3600),
        (json!("3600"), 3600),
        (json!("30d"), 2_592_000),
        (json!("1h30m"), 5_400),
        (json!("90m"), 5_400),
        (json!("720h"), 2_592_000),
        (json!("1.5h"), 5_400),
        (json!(""), 0),
        (json!(0), 0),
    ];
    for (input, secs) in cases {
        assert_eq!(ok(T, input.clone()), FieldValue::Int(secs), "{input}");
    }
    for neg in [
        json!(-1),
        json!("-1"),
        json!("-5s"),
        json!("-2d"),
        json!(i64::MIN),
        json!("-99999999999999999999d"),
        json!("-9223372036854775809s"),
    ] {
        assert_eq!(bad(T, neg), "must not be negative");
    }
    // At most 100 years (36525d), whatever the spelling; beyond `i64` too.
    assert_eq!(ok(T, json!("36525d")), FieldValue::Int(3_155_760_000));
    assert_eq!(
        ok(T, json!(3_155_760_000i64)),
        FieldValue::Int(3_155_760_000)
    );
    for huge in [
        json!("36526d"),
        json!(3_155_760_001i64),
        json!(999_999_999_999_999_999i64),
        json!("999999999999999999"),
        json!("9223372036854775807s"),
        json!("106751991167d"),
        json!("2562047h"),
        json!("99999999999999999999d"),
        json!("99999999999999999999"),
        json!(u64::MAX),
    ] {
        assert!(bad(T, huge.clone()).contains("at most 100 years"), "{huge}");
    }
    for b in [
        json!("1x"),
        json!("1.5d"),
        json!(1.5),
        json!(true),
        json!(["1h"]),
    ] {
        bad(T, b);
    }
}

#[test]
fn time_coercion() {
    use FieldType::Time as T;
    assert_eq!(
        ok(T, json!("2026-11-25T18:31:59Z")),
        time("2026-11-25T18:31:59Z")
    );
    assert_eq!(
        ok(T, json!("2026-11-25T20:31:59+02:00")),
        time("2026-11-25T18:31:59Z")
    );
    assert_eq!(
        ok(T, json!("2026-11-25T18:31:59.250Z")),
        time("2026-11-25T18:31:59.250Z")
    );
    assert_eq!(ok(T, json!(0)), time("1970-01-01T00:00:00Z"));
    assert_eq!(ok(T, json!(1_764_095_519)), time("2025-11-25T18:31:59Z"));
    assert_eq!(ok(T, json!("1764095519")), time("2025-11-25T18:31:59Z"));
    for b in [
        json!("2026-11-25"),
        json!("2026-11-25 18:31"),
        json!("tomorrow"),
        json!(1.5),
        json!(i64::MAX),
        json!(true),
        json!([0]),
    ] {
        bad(T, b);
    }
    // 1970-01-01T00:00:00Z .. 9999-12-31T23:59:59Z, whatever the spelling.
    assert_eq!(
        ok(T, json!(253_402_300_799i64)),
        time("9999-12-31T23:59:59Z")
    );
    assert_eq!(
        ok(T, json!("1970-01-01T01:00:00+01:00")),
        time("1970-01-01T00:00:00Z")
    );
    for b in [
        json!(-1),
        json!("-1"),
        json!("1969-12-31T23:59:59Z"),
        json!("1970-01-01T00:30:00+01:00"),
        json!(253_402_300_800i64),
        json!("9999-12-31T23:59:59-01:00"),
    ] {
        assert!(bad(T, b.clone()).contains("1970-01-01"), "{b}");
    }
}

#[test]
fn map_coercion() {
    use FieldType::Map as T;
    assert_eq!(
        ok(T, json!({"a": "1", "b": 2, "c": true, "d": null})),
        map(&[("a", "1"), ("b", "2"), ("c", "true"), ("d", "")])
    );
    assert_eq!(
        ok(T, json!(["a=1", "b=x=y", "c="])),
        map(&[("a", "1"), ("b", "x=y"), ("c", "")])
    );
    assert_eq!(ok(T, json!("a=1")), map(&[("a", "1")]));
    assert_eq!(ok(T, json!("a=1, b=2,,")), map(&[("a", "1"), ("b", "2")]));
    assert_eq!(ok(T, json!("")), map(&[]));
    assert_eq!(ok(T, json!({})), map(&[]));
    for b in [
        json!({"a": {"b": "c"}}),
        json!({"a": ["b"]}),
        json!(["a"]),
        json!(["=a"]),
        json!([1]),
        json!("novalue"),
        json!("a=1,b"),
        json!(5),
        json!(true),
    ] {
        bad(T, b);
    }
}

#[test]
fn string_list_coercion() {
    use FieldType::StringList as T;
    assert_eq!(
        ok(T, json!(["a", " b ", 3, true])),
        list(&["a", "b", "3", "true"])
    );
    assert_eq!(ok(T, json!("a, b,,c ,")), list(&["a", "b", "c"]));
    assert_eq!(ok(T, json!("single")), list(&["single"]));
    assert_eq!(ok(T, json!("")), list(&[]));
    assert_eq!(ok(T, json!([])), list(&[]));
    assert_eq!(ok(T, json!(7)), list(&["7"]));
    for b in [
        json!([["a"]]),
        json!([{"a": 1}]),
        json!([null]),
        json!({"a": 1}),
    ] {
        bad(T, b);
    }
}

#[test]
fn name_rules() {
    use FieldType::Name as T;
    let max = "a".repeat(128);
    let too_long = "a".repeat(129);
    for good in [
        "a",
        "7",
        "my-key",
        "my_key.v2",
        "A-b_c.d9",
        "a.b",
        max.as_str(),
    ] {
        assert!(is_valid_name(good), "{good}");
        assert_eq!(ok(T, json!(good)), s(good));
    }
    assert_eq!(ok(T, json!(42)), s("42"));
    for b in [
        "",
        "-a",
        "a-",
        "_a",
        "a_",
        ".a",
        "a.",
        "a b",
        "a/b",
        "a@b",
        "ä",
        "aé",
        too_long.as_str(),
    ] {
        assert!(!is_valid_name(b), "{b}");
        let err = bad(T, json!(b));
        if !b.is_empty() {
            assert!(!err.contains(b), "{err}");
        }
    }
    bad(T, json!(["a"]));
}
