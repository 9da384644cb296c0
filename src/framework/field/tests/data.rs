//! What handlers read from `FieldData`: values, defaults, `is_set`, errors naming the field.

use super::*;

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
