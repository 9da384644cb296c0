use std::sync::Arc;

use serde_json::{json, Value};

use crate::framework::*;

fn storage() -> Arc<InMemoryStorage> {
    Arc::new(InMemoryStorage::new())
}

fn req(op: Operation, path: &str, s: &Arc<InMemoryStorage>) -> Request {
    Request::new(op, path, s.clone())
}

/// Echoes what the handler saw: the validated fields and the raw data keys.
async fn echo(req: Request, d: FieldData) -> HandlerResult {
    Ok(Some(Response::with_data(json!({
        "name": d.get_string("name"),
        "ttl": d.get_duration("ttl"),
        "enabled": d.get_bool("enabled"),
        "ttl_set": d.is_set("ttl"),
        "raw_keys": req.data.keys().cloned().collect::<Vec<_>>(),
    }))))
}

async fn store(req: Request, d: FieldData) -> HandlerResult {
    let name = d.get_string("name").expect("captured");
    req.storage
        .put(&format!("keys/{name}"), b"{}".to_vec())
        .await?;
    Ok(None)
}

async fn exists(req: Request, d: FieldData) -> Result<bool, Error> {
    let name = d.get_string("name").expect("captured");
    Ok(req.storage.get(&format!("keys/{name}")).await?.is_some())
}

async fn nothing(_: Request, _: FieldData) -> HandlerResult {
    Ok(None)
}

async fn list_keys(req: Request, _: FieldData) -> HandlerResult {
    let keys = req.storage.list("keys/").await?;
    Ok(Some(Response::with_data(json!({ "keys": keys }))))
}

fn backend() -> Backend {
    Backend::new("  Manages AI keys.  ")
        .version("v1.2.3")
        .path(
            Path::new(&format!("keys/{}", generic_name_regex("name")))
                .field(Field::new("name", FieldType::Name, "Name of the key."))
                .field(Field::new("ttl", FieldType::Duration, "Lifetime.").default(json!("1h")))
                .field(Field::new("enabled", FieldType::Bool, "Whether enabled."))
                .field(Field::new("api_key", FieldType::String, "The key.").sensitive())
                .operation(Operation::Read, "Read a key.", handler(echo))
                .operation(Operation::Create, "Create a key.", handler(store))
                .operation(Operation::Update, "Update a key.", handler(store))
                .operation(Operation::Delete, "Delete a key.", handler(nothing))
                .existence(existence_check(exists))
                .help("Manage one key.", "Keys hold versions.\nLong text."),
        )
        .path(
            Path::new("keys/?")
                .operation(Operation::List, "List keys.", handler(list_keys))
                .help("List keys.", ""),
        )
        .path(
            Path::new("first/(?P<rest>.+)")
                .field(Field::new("rest", FieldType::String, "Anything."))
                .operation(
                    Operation::Read,
                    "First.",
                    handler(|_, _| async {
                        Ok(Some(Response::with_data(json!({"route": "first"}))))
                    }),
                ),
        )
        .path(Path::new("first/second").operation(
            Operation::Read,
            "Second.",
            handler(|_, _| async { Ok(Some(Response::with_data(json!({"route": "second"})))) }),
        ))
        .path(Path::new("config").operation(Operation::Update, "Write config.", handler(nothing)))
}

async fn call(b: &Backend, r: Request) -> Response {
    b.handle_request(r).await.expect("ok").expect("response")
}

#[tokio::test]
async fn first_matching_route_wins_and_match_is_anchored() {
    let (b, s) = (backend(), storage());
    let resp = call(&b, req(Operation::Read, "first/second", &s)).await;
    assert_eq!(resp.data["route"], "first");
    for path in ["xfirst/a", "keys/a/b", "config/", "/config", "keys//a"] {
        let err = b
            .handle_request(req(Operation::Read, path, &s))
            .await
            .unwrap_err();
        assert_eq!(err, Error::UnsupportedPath, "{path}");
        assert_eq!(err.status(), 404);
    }
    // A segment that breaks the name rule reaches its route and gets a 400 naming the field.
    let err = b
        .handle_request(req(Operation::Read, "keys/-bad", &s))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::BadRequest(m) if m.contains("name")),
        "{err:?}"
    );
}

#[tokio::test]
async fn unsupported_operation_is_405() {
    let (b, s) = (backend(), storage());
    for (op, path) in [
        (Operation::Patch, "keys/a"),
        (Operation::Read, "config"),
        (Operation::Renew, "config"),
    ] {
        let err = b.handle_request(req(op, path, &s)).await.unwrap_err();
        assert_eq!(err, Error::UnsupportedOperation, "{op} {path}");
        assert_eq!(err.status(), 405);
    }
    let err = b
        .handle_request(req(Operation::ResolvePath, "keys/a", &s))
        .await;
    assert_eq!(err.unwrap_err(), Error::UnsupportedOperation);
}

#[tokio::test]
async fn captures_become_fields_and_override_body_with_warning() {
    let (b, s) = (backend(), storage());
    let r = req(Operation::Read, "keys/k1", &s).with_data(json!({"name": "other", "ttl": "90m"}));
    let resp = call(&b, r).await;
    assert_eq!(resp.data["name"], "k1");
    assert_eq!(resp.data["ttl"], 5400);
    assert_eq!(
        resp.data["raw_keys"],
        json!(["name", "ttl"]),
        "request data is untouched"
    );
    assert_eq!(
        resp.warnings,
        [
            "Endpoint replaced the value of these parameters with the values captured from the \
          endpoint's path: [name]"
        ]
    );

    // No body value: no warning; defaults apply but do not count as set.
    let resp = call(&b, req(Operation::Read, "keys/k1", &s)).await;
    assert!(resp.warnings.is_empty(), "{:?}", resp.warnings);
    assert_eq!(resp.data["ttl"], 3600);
    assert_eq!(resp.data["ttl_set"], false);
    assert_eq!(resp.data["enabled"], Value::Null);
}

#[tokio::test]
async fn unknown_fields_are_a_sorted_warning_not_an_error() {
    let (b, s) = (backend(), storage());
    let r = req(Operation::Read, "keys/k1", &s)
        .with_data(json!({"zeta": 1, "alpha": "x", "enabled": "t"}));
    let resp = call(&b, r).await;
    assert_eq!(resp.data["enabled"], true);
    assert_eq!(
        resp.warnings,
        ["Endpoint ignored these unrecognized parameters: [alpha zeta]"]
    );
}

#[tokio::test]
async fn warnings_create_a_response_for_writes_but_keep_reads_not_found() {
    let (b, s) = (backend(), storage());
    let r = req(Operation::Update, "config", &s).with_data(json!({"bogus": true}));
    let resp = call(&b, r).await;
    assert!(resp.data.is_empty());
    assert_eq!(
        resp.warnings,
        ["Endpoint ignored these unrecognized parameters: [bogus]"]
    );

    let quiet = b
        .handle_request(req(Operation::Update, "config", &s))
        .await
        .unwrap();
    assert_eq!(quiet, None);

    let read_none =
        Backend::new("").path(Path::new("gone").operation(Operation::Read, "", handler(nothing)));
    let r = req(Operation::Read, "gone", &s).with_data(json!({"x": 1}));
    assert_eq!(read_none.handle_request(r).await.unwrap(), None);
}

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

#[tokio::test]
async fn existence_check_results() {
    let (b, s) = (backend(), storage());
    let check = |op, path: &str| b.handle_existence_check(req(op, path, &s));
    assert_eq!(
        check(Operation::Update, "keys/k1").await.unwrap(),
        ExistenceResult {
            check_found: true,
            exists: false
        }
    );
    call_write(&b, &s).await;
    assert_eq!(
        check(Operation::Update, "keys/k1").await.unwrap(),
        ExistenceResult {
            check_found: true,
            exists: true
        }
    );
    assert_eq!(
        check(Operation::Create, "config").await.unwrap(),
        ExistenceResult {
            check_found: false,
            exists: false
        }
    );
    assert_eq!(
        check(Operation::Update, "nope").await.unwrap_err(),
        Error::UnsupportedPath
    );
    assert_eq!(
        check(Operation::Read, "keys/k1")
            .await
            .unwrap_err()
            .status(),
        500
    );
    // A bad field value does not fail the check (the handler gives the 400): the host would
    // log a failed existence check at ERROR.
    let bad = req(Operation::Update, "keys/k1", &s).with_data(json!({"ttl": "soon"}));
    assert_eq!(
        b.handle_existence_check(bad).await.unwrap(),
        ExistenceResult {
            check_found: true,
            exists: true
        }
    );
    let bad = req(Operation::Update, "keys/k1", &s).with_data(json!({"ttl": "soon"}));
    assert_eq!(b.handle_request(bad).await.unwrap_err().status(), 400);
}

async fn call_write(b: &Backend, s: &Arc<InMemoryStorage>) {
    let r = req(Operation::Create, "keys/k1", s);
    assert_eq!(b.handle_request(r).await.unwrap(), None);
    assert_eq!(s.keys(), ["keys/k1"]);
}

#[tokio::test]
async fn list_route() {
    let (b, s) = (backend(), storage());
    call_write(&b, &s).await;
    let resp = call(&b, req(Operation::List, "keys/", &s)).await;
    assert_eq!(resp.data["keys"], json!(["k1"]));
}

#[tokio::test]
async fn root_help() {
    let (b, s) = (backend(), storage());
    let resp = call(&b, req(Operation::Help, "", &s)).await;
    let keys: Vec<&String> = resp.data.keys().collect();
    assert_eq!(keys, ["help", "openapi", "see_also"]);
    assert_eq!(resp.data["see_also"], Value::Null);
    let help = resp.data["help"].as_str().unwrap();
    assert!(
        help.starts_with("## DESCRIPTION\n\nManages AI keys.\n\n## PATHS\n\nThe following paths"),
        "{help}"
    );
    let name_route = format!("^keys/{}$", generic_name_regex("name"));
    let expected_tail =
        format!("    {name_route}\n        Manage one key.\n\n    ^keys/?$\n        List keys.");
    assert!(help.ends_with(&expected_tail), "{help}");
    assert!(help.find("^config$").unwrap() < help.find("^first/(?P<rest>.+)$").unwrap());
    let doc = &resp.data["openapi"];
    assert_eq!(doc["openapi"], "3.0.2");
    assert_eq!(doc["info"]["version"], "v1.2.3");
    for p in [
        "/keys/{name}",
        "/keys/",
        "/config",
        "/first/{rest}",
        "/first/second",
    ] {
        assert!(doc["paths"].get(p).is_some(), "{p} missing from {doc}");
    }
}

#[tokio::test]
async fn path_help_text_and_document() {
    let (b, s) = (backend(), storage());
    let resp = call(&b, req(Operation::Help, "keys/k1", &s)).await;
    let expected = format!(
        "Request:        keys/k1\nMatching Route: ^keys/{}$\n\nManage one key.\n\n## PARAMETERS\n\n    \
         api_key (string)\n\n        The key.\n\n    enabled (bool)\n\n        Whether enabled.\n\n    \
         name (name string)\n\n        Name of the key.\n\n    ttl (duration (sec))\n\n        Lifetime.\n\n\
         ## DESCRIPTION\n\nKeys hold versions.\nLong text.",
        generic_name_regex("name")
    );
    assert_eq!(resp.data["help"], expected);
    let paths = resp.data["openapi"]["paths"].as_object().unwrap();
    assert_eq!(paths.keys().collect::<Vec<_>>(), ["/keys/{name}"]);

    // A list route answers help without its trailing slash; no fields, no synopsis placeholders lost.
    let resp = call(&b, req(Operation::Help, "keys", &s)).await;
    assert_eq!(
        resp.data["help"],
        "Request:        keys\nMatching Route: ^keys/?$\n\nList keys.\n\n\n## DESCRIPTION\n\n<no description>"
    );
    let err = b
        .handle_request(req(Operation::Help, "nope", &s))
        .await
        .unwrap_err();
    assert_eq!(err, Error::UnsupportedPath);
}

mod rollback;

#[test]
fn backend_and_its_futures_are_send() {
    fn send_sync<T: Send + Sync>(_: &T) {}
    fn send<T: Send>(_: T) {}
    let (b, s) = (backend(), storage());
    send_sync(&b);
    send(b.handle_request(req(Operation::Read, "config", &s)));
    send(b.handle_existence_check(req(Operation::Update, "config", &s)));
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
