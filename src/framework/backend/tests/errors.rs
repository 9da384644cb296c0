//! Refusals before the handler (a field that fails validation, a required field missing on a
//! write) name the field and never its value; a handler's own errors pass through.

use super::*;

#[tokio::test]
async fn validation_error_names_field_and_hides_value() {
    let (b, s) = (backend(), storage());
    let secret = "sk-proj-SECRETVALUE123";
    for (field, value) in [
        ("ttl", json!(secret)),
        ("enabled", json!(secret)),
        ("ttl", json!("-5s")),
    ] {
        let r = req(Operation::Update, "keys/k1", &s).with_data(json!({ field: value }));
        let err = b.handle_request(r).await.unwrap_err();
        let msg = err.to_string();
        assert_eq!(err.status(), 400, "{msg}");
        assert!(
            msg.starts_with(&format!("Field validation failed: field \"{field}\": ")),
            "{msg}"
        );
        assert!(!msg.contains("SECRET") && !msg.contains("-5s"), "{msg}");
    }
    // A capture is validated too: 129 characters is not a name.
    let long = "a".repeat(129);
    let err = b
        .handle_request(req(Operation::Read, &format!("keys/{long}"), &s))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("field \"name\""), "{err}");
    assert!(!err.to_string().contains(&long));
    assert!(b
        .handle_request(req(
            Operation::Read,
            &format!("keys/{}", "a".repeat(128)),
            &s
        ))
        .await
        .is_ok());
}

#[tokio::test]
async fn handler_errors_pass_through() {
    let (b, s) = (backend(), storage());
    s.set_read_only(true);
    let err = b
        .handle_request(req(Operation::Update, "keys/k1", &s))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        Error::Storage(StorageError("cannot write to readonly storage".into()))
    );
    assert_eq!(err.to_string(), "cannot write to readonly storage");
}

/// A field declared required must be given on a create or update: a 400 naming it, before the
/// handler runs; reads and deletes do not need it.
#[tokio::test]
async fn required_fields_are_enforced_on_writes() {
    let b = Backend::new("").path(
        Path::new(&format!("check/{}", generic_name_regex("name")))
            .field(Field::new("name", FieldType::Name, "Name.").required())
            .field(Field::new("value", FieldType::String, "Value.").required())
            .operation(Operation::Update, "Check.", handler(store))
            .operation(Operation::Create, "Check.", handler(store))
            .operation(Operation::Read, "Read.", handler(nothing))
            .operation(Operation::Delete, "Delete.", handler(nothing)),
    );
    let s = storage();
    for op in [Operation::Create, Operation::Update] {
        for body in [json!({}), json!({"value": null})] {
            let e = b
                .handle_request(req(op, "check/a", &s).with_data(body))
                .await
                .unwrap_err();
            assert_eq!(e.status(), 400);
            assert_eq!(
                e.to_string(),
                "Field validation failed: field \"value\": is required"
            );
        }
        b.handle_request(req(op, "check/a", &s).with_data(json!({"value": ""})))
            .await
            .unwrap();
    }
    assert!(s.list("keys/").await.unwrap().contains(&"a".to_string()));
    for op in [Operation::Read, Operation::Delete] {
        b.handle_request(req(op, "check/a", &s)).await.unwrap();
    }
}
