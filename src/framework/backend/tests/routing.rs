//! Routing: the first matching route wins, operations a path lacks are a 405, captures become
//! fields, unknown fields and replaced values are warnings, lists route to their handler.

use super::*;

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
async fn list_route() {
    let (b, s) = (backend(), storage());
    call_write(&b, &s).await;
    let resp = call(&b, req(Operation::List, "keys/", &s)).await;
    assert_eq!(resp.data["keys"], json!(["k1"]));
}
