use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use super::coerce::{coerce, FieldValue};
use super::*;

fn ok(kind: FieldType, input: Value) -> FieldValue {
    coerce(kind, &input).unwrap_or_else(|e| panic!("{kind:?} {input}: {e}"))
}

fn bad(kind: FieldType, input: Value) -> String {
    match coerce(kind, &input) {
        Ok(v) => panic!("{kind:?} {input} accepted as {v:?}"),
        Err(e) => e,
    }
}

fn s(v: &str) -> FieldValue {
    FieldValue::Str(v.into())
}

fn map(pairs: &[(&str, &str)]) -> FieldValue {
    FieldValue::Map(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

fn list(items: &[&str]) -> FieldValue {
    FieldValue::List(items.iter().map(|s| s.to_string()).collect())
}

fn time(rfc3339: &str) -> FieldValue {
    FieldValue::Time(rfc3339.parse::<DateTime<Utc>>().unwrap())
}

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
fn limits() {
    use crate::framework::DEFAULT_MAX_LEN;
    let check = |f: Field, v: Value| {
        let fields = [f];
        FieldData::new(&fields, &data(json!({ "f": v })))
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    let text = |n: usize| "a".repeat(n);
    let string = || Field::new("f", FieldType::String, "");
    assert!(check(string(), json!(text(DEFAULT_MAX_LEN))).is_ok());
    let e = check(string(), json!(text(DEFAULT_MAX_LEN + 1))).unwrap_err();
    assert!(
        e.contains("field \"f\"") && e.contains("1024") && e.contains("1025"),
        "{e}"
    );
    assert!(check(string().max_len(3), json!("abc")).is_ok());
    assert!(check(string().max_len(3), json!("abcd")).is_err());
    let id = || string().id_alphabet();
    for good in ["", "key_01-A.b", "a..b"] {
        assert!(check(id(), json!(good)).is_ok(), "{good}");
    }
    for bad_id in [".", "..", "a/b", "a b", "é", "a?x"] {
        assert!(
            check(id(), json!(bad_id)).unwrap_err().contains("letters"),
            "{bad_id}"
        );
    }
    let map = || Field::new("f", FieldType::Map, "");
    let pairs = |n: usize| -> Value {
        (0..n)
            .map(|i| (format!("k{i}"), json!("v")))
            .collect::<Map<String, Value>>()
            .into()
    };
    assert!(check(map(), pairs(64)).is_ok());
    assert!(check(map(), pairs(65)).unwrap_err().contains("64 pairs"));
    assert!(check(map(), json!({ text(128): text(512) })).is_ok());
    assert!(check(map(), json!({ text(129): "v" }))
        .unwrap_err()
        .contains("128"));
    assert!(check(map(), json!({ "k": text(513) }))
        .unwrap_err()
        .contains("512"));
    let list = || Field::new("f", FieldType::StringList, "");
    assert!(check(list(), json!(vec!["x"; 64])).is_ok());
    assert!(check(list(), json!(vec!["x"; 65])).is_err());
    // A secret typed into a bounded field is never echoed.
    let e = check(string().max_len(4), json!("sk-secret")).unwrap_err();
    assert!(!e.contains("sk-secret"), "{e}");
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

fn fields() -> Vec<Field> {
    vec![
        Field::new("name", FieldType::Name, "the name"),
        Field::new("ttl", FieldType::Duration, "ttl").default(json!("1h")),
        Field::new("flag", FieldType::Bool, "flag"),
        Field::new("count", FieldType::Int, "count").default(json!(3)),
        Field::new("when", FieldType::Time, "when"),
        Field::new("tags", FieldType::Map, "tags").default(json!({"env": "prod"})),
        Field::new("scopes", FieldType::StringList, "scopes"),
        Field::new("note", FieldType::String, "note"),
    ]
}

fn data(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => unreachable!(),
    }
}

#[test]
fn field_data_values_defaults_and_is_set() {
    let raw = data(json!({
        "name": "k1", "flag": "true", "when": "2026-11-25T18:31:59Z",
        "scopes": "a,b", "note": null, "unknown": 1,
    }));
    let fd = FieldData::new(&fields(), &raw).unwrap();
    assert_eq!(fd.get_string("name").as_deref(), Some("k1"));
    assert_eq!(fd.get_bool("flag"), Some(true));
    assert_eq!(fd.get_duration("ttl"), Some(3600));
    assert_eq!(fd.get_int("count"), Some(3));
    assert_eq!(
        fd.get_time("when"),
        Some("2026-11-25T18:31:59Z".parse().unwrap())
    );
    let mut tags = BTreeMap::new();
    tags.insert("env".to_string(), "prod".to_string());
    assert_eq!(fd.get_map("tags"), Some(tags));
    assert_eq!(fd.get_list("scopes"), Some(vec!["a".into(), "b".into()]));
    assert_eq!(fd.get_string("note"), None);
    assert!(fd.is_set("name") && fd.is_set("flag") && fd.is_set("scopes"));
    assert!(!fd.is_set("ttl") && !fd.is_set("note") && !fd.is_set("unknown"));
    let debug = format!("{fd:?}");
    assert!(!debug.contains("k1"), "{debug}");
}

#[test]
fn field_data_error_names_field_not_value() {
    let raw = data(json!({"count": "sk-ant-secret-value"}));
    let err = FieldData::new(&fields(), &raw).unwrap_err();
    let msg = err.to_string();
    assert_eq!(err.status(), 400);
    assert!(
        msg.starts_with("Field validation failed: field \"count\": "),
        "{msg}"
    );
    assert!(!msg.contains("sk-ant"), "{msg}");
}

#[test]
#[should_panic(expected = "no such field")]
fn undeclared_getter_panics() {
    let fd = FieldData::new(&fields(), &Map::new()).unwrap();
    fd.get_string("nope");
}

#[test]
#[should_panic(expected = "declared as Int")]
fn wrong_kind_getter_panics() {
    let fd = FieldData::new(&fields(), &Map::new()).unwrap();
    fd.get_string("count");
}

#[test]
fn check_default_reports_bad_defaults() {
    assert!(fields().iter().all(|f| f.check_default().is_ok()));
    let f = Field::new("n", FieldType::Int, "").default(json!("x"));
    assert!(f.check_default().is_err());
}

/// The 400 of `field` for `v` (panics if accepted), or `Ok` when accepted.
fn verdict(field: Field, v: Value) -> Result<(), String> {
    let fields = [field];
    FieldData::new(&fields, &data(json!({ "f": v })))
        .map(|_| ())
        .map_err(|e| {
            assert_eq!(e.status(), 400, "{e}");
            let msg = e.to_string();
            assert!(
                msg.starts_with("Field validation failed: field \"f\": "),
                "the message names the field: {msg}"
            );
            msg
        })
}

#[test]
fn int_bounds() {
    let limit = || Field::new("f", FieldType::Int, "").min(1).max(1000);
    for good in [json!(1), json!(1000), json!("500")] {
        assert!(verdict(limit(), good.clone()).is_ok(), "{good}");
    }
    for bad_value in [
        json!(0),
        json!(-5),
        json!(1001),
        json!("1001"),
        json!(i64::MAX),
    ] {
        let e = verdict(limit(), bad_value.clone()).unwrap_err();
        assert!(
            e.ends_with("must be between 1 and 1000"),
            "{bad_value}: {e}"
        );
    }
    let positive = || Field::new("f", FieldType::Int, "").min(1);
    assert!(verdict(positive(), json!(i64::MAX)).is_ok());
    assert!(verdict(positive(), json!(0))
        .unwrap_err()
        .ends_with("must be greater than zero"));
    let at_least = Field::new("f", FieldType::Int, "").min(5);
    assert!(verdict(at_least, json!(4))
        .unwrap_err()
        .ends_with("must be at least 5"));
    let at_most = || Field::new("f", FieldType::Int, "").max(7);
    assert!(verdict(at_most(), json!(8))
        .unwrap_err()
        .ends_with("must be at most 7"));
    assert!(verdict(at_most(), json!(7)).is_ok());
    assert!(verdict(at_most(), json!(i64::MIN)).is_ok());
}

#[test]
fn duration_bounds_in_seconds_whatever_the_spelling() {
    let timeout = || Field::new("f", FieldType::Duration, "").min(1).max(300);
    // An empty duration is refused before its bounds are read (it is not 0 here).
    let e = verdict(timeout(), json!("")).unwrap_err();
    assert!(e.contains("empty"), "{e}");
    for good in [json!(1), json!("1s"), json!("5m"), json!(300), json!("300")] {
        assert!(verdict(timeout(), good.clone()).is_ok(), "{good}");
    }
    for bad_value in [
        json!(0),
        json!("0s"),
        json!("301s"),
        json!("1h"),
        json!("1d"),
    ] {
        let e = verdict(timeout(), bad_value.clone()).unwrap_err();
        assert!(
            e.ends_with("must be between 1s and 300s"),
            "{bad_value}: {e}"
        );
    }
    let positive = || Field::new("f", FieldType::Duration, "").min(1);
    assert!(verdict(positive(), json!("36525d")).is_ok());
    assert!(verdict(positive(), json!("0"))
        .unwrap_err()
        .ends_with("must be greater than zero"));
    // The framework's own bounds still come first.
    assert!(verdict(positive(), json!("-1s"))
        .unwrap_err()
        .ends_with("must not be negative"));
}

#[test]
fn allowed_values() {
    let format = || Field::new("f", FieldType::String, "").allowed(&["json", "csv", ""]);
    for good in ["json", "csv", ""] {
        assert!(verdict(format(), json!(good)).is_ok(), "{good}");
    }
    for bad_value in ["xml", "JSON", " json", "sk-secret-value"] {
        let e = verdict(format(), json!(bad_value)).unwrap_err();
        assert!(
            e.ends_with("must be one of json, csv, \"\""),
            "{bad_value}: {e}"
        );
        assert!(!e.contains("sk-secret"), "{e}");
    }
    // An oversized value is refused for its size before it is compared.
    let e = verdict(format(), json!("x".repeat(5000))).unwrap_err();
    assert!(e.contains("1024") && e.contains("5000"), "{e}");
}

#[test]
fn patterns_and_shortest_text() {
    let digits = || {
        Field::new("f", FieldType::String, "")
            .pattern("^[0-9]*$", "must use only digits")
            .max_len(12)
    };
    for good in ["", "0", "123456789012"] {
        assert!(verdict(digits(), json!(good)).is_ok(), "{good}");
    }
    for bad_value in ["12a", " 1", "1\n", "sk-secret"] {
        let e = verdict(digits(), json!(bad_value)).unwrap_err();
        assert!(e.ends_with("must use only digits"), "{bad_value:?}: {e}");
        assert!(!e.contains("sk-secret"), "{e}");
    }
    assert!(verdict(digits(), json!("1234567890123"))
        .unwrap_err()
        .contains("at most 12 bytes"));
    let nonempty = || Field::new("f", FieldType::String, "").min_len(1);
    assert!(verdict(nonempty(), json!("x")).is_ok());
    assert!(verdict(nonempty(), json!(""))
        .unwrap_err()
        .ends_with("must not be empty"));
    let three = Field::new("f", FieldType::String, "").min_len(3);
    assert!(verdict(three, json!("ab"))
        .unwrap_err()
        .ends_with("must be at least 3 bytes long, got 2"));
}

#[test]
fn declarations_that_do_not_fit_are_refused() {
    let cases = [
        Field::new("f", FieldType::Int, "").allowed(&["1"]),
        Field::new("f", FieldType::Map, "").min_len(1),
        Field::new("f", FieldType::Name, "").pattern("^a$", "a"),
        Field::new("f", FieldType::String, "").min(1),
        Field::new("f", FieldType::Time, "").max(1),
        Field::new("f", FieldType::Int, "").min(5).max(4),
        Field::new("f", FieldType::String, "").max_len(2).min_len(3),
    ];
    for f in cases {
        assert!(f.check_constraints().is_err(), "{f:?}");
    }
    assert!(Field::new("f", FieldType::Duration, "")
        .min(1)
        .max(300)
        .check_constraints()
        .is_ok());
    // A default outside the declaration is refused like a request value.
    let f = Field::new("f", FieldType::Int, "")
        .max(10)
        .default(json!(11));
    assert!(f.check_default().is_err());
}

#[test]
#[should_panic(expected = "must be anchored")]
fn unanchored_pattern_panics() {
    let _ = Field::new("f", FieldType::String, "").pattern("[0-9]+", "digits");
}

#[test]
#[should_panic(expected = "constraints of field \"f\" are invalid")]
fn path_refuses_a_constraint_that_does_not_fit() {
    let _ = crate::framework::Path::new("x").field(Field::new("f", FieldType::Bool, "").min(1));
}

/// The pattern the document shows for provider ids accepts exactly what the framework accepts.
#[test]
fn id_pattern_is_what_is_enforced() {
    let re = regex::Regex::new(ID_PATTERN).unwrap();
    let id = || Field::new("f", FieldType::String, "").id_alphabet();
    for text in [
        "",
        "a",
        "key_01-A.b",
        "a..b",
        ".a",
        "-",
        ".",
        "..",
        "a/b",
        "a b",
        "é",
        "a?x",
    ] {
        assert_eq!(
            verdict(id(), json!(text)).is_ok(),
            re.is_match(text),
            "{text:?}"
        );
    }
}

#[test]
fn an_empty_duration_is_refused_naming_the_field_unless_it_is_clearable() {
    // Vault reads "" as 0: on a grace period that revokes at once, so an unset shell variable
    // would act. Here it is a 400 naming the field.
    let err = FieldData::new(&fields(), &data(json!({"ttl": ""}))).unwrap_err();
    assert_eq!(err.status(), 400);
    let msg = err.to_string();
    assert!(
        msg.starts_with("Field validation failed: field \"ttl\": must not be empty"),
        "{msg}"
    );
    // 0 stays a value.
    let fd = FieldData::new(&fields(), &data(json!({"ttl": "0"}))).unwrap();
    assert_eq!(fd.get_duration("ttl"), Some(0));
}

fn clearable_fields() -> Vec<Field> {
    vec![
        Field::new("grace", FieldType::Duration, "Grace.").clearable(),
        Field::new("plain", FieldType::Duration, "Plain."),
    ]
}

#[test]
fn a_clearable_duration_tells_a_clear_from_a_value_and_from_absence() {
    let read = |v: Value| FieldData::new(&clearable_fields(), &data(v)).unwrap();
    let cleared = read(json!({"grace": ""}));
    assert_eq!(cleared.get_clearable_duration("grace"), Some(None));
    assert!(cleared.is_set("grace"));
    assert_eq!(
        read(json!({"grace": "0"})).get_clearable_duration("grace"),
        Some(Some(0))
    );
    assert_eq!(
        read(json!({"grace": "2h"})).get_clearable_duration("grace"),
        Some(Some(7200))
    );
    let absent = read(json!({}));
    assert_eq!(absent.get_clearable_duration("grace"), None);
    assert!(!absent.is_set("grace"));
    // A field that is not clearable reads the same way, and never as cleared.
    assert_eq!(
        read(json!({"plain": 5})).get_clearable_duration("plain"),
        Some(Some(5))
    );
    // Only "" clears: blanks and other text are still invalid durations.
    for bad in [json!(" "), json!("none"), json!(null)] {
        let fd = FieldData::new(&clearable_fields(), &data(json!({ "grace": bad })));
        match bad {
            Value::Null => assert_eq!(fd.unwrap().get_clearable_duration("grace"), None),
            _ => assert_eq!(fd.unwrap_err().status(), 400, "{bad}"),
        }
    }
}

#[test]
fn a_clearable_field_says_so_in_its_description() {
    let f = &clearable_fields()[0];
    assert_eq!(f.description, format!("Grace. {CLEARABLE_NOTE}"));
    assert!(CLEARABLE_NOTE.contains("\"\""));
}

#[test]
#[should_panic(expected = "use get_clearable_duration")]
fn get_duration_of_a_clearable_field_panics() {
    let fd = FieldData::new(&clearable_fields(), &data(json!({"grace": ""}))).unwrap();
    fd.get_duration("grace");
}

#[test]
#[should_panic(expected = "only duration fields are clearable")]
fn only_duration_fields_are_clearable() {
    let _ = Field::new("note", FieldType::String, "note").clearable();
}

#[test]
fn a_secret_field_refuses_empty_or_blank_text_naming_the_field() {
    let fields = [
        Field::new("admin_key", FieldType::String, "secret").sensitive(),
        Field::new("note", FieldType::String, "not secret"),
    ];
    for blank in ["", " ", "  \u{3000} "] {
        let err = FieldData::new(&fields, &data(json!({ "admin_key": blank }))).unwrap_err();
        assert_eq!(err.status(), 400);
        let msg = err.to_string();
        assert!(
            msg.starts_with("Field validation failed: field \"admin_key\": must not be empty"),
            "{msg}"
        );
        // Text that is not a secret may be blank (handlers decide what that means).
        let fd = FieldData::new(&fields, &data(json!({ "note": blank }))).unwrap();
        assert_eq!(fd.get_string("note").as_deref(), Some(blank));
    }
    // Absent or null stays absent.
    let fd = FieldData::new(&fields, &data(json!({ "admin_key": null }))).unwrap();
    assert!(!fd.is_set("admin_key"));
}
