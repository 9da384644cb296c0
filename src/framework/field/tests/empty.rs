//! Empty values: a duration's `""` is refused unless the field is clearable, and a secret is
//! never empty or blank.

use super::*;

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
