//! Declared limits: text lengths, integer and duration bounds, allowed values, patterns, and
//! declarations whose constraints do not fit their field.

use super::*;

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
