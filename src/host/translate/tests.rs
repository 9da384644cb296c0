use super::*;
use crate::framework::{InMemoryStorage, Response, StorageError};

#[test]
fn null_and_empty_data_are_an_empty_map() {
    assert!(parse_data("null").unwrap().is_empty());
    assert!(parse_data("").unwrap().is_empty());
    assert_eq!(parse_data(r#"{"a":"b"}"#).unwrap()["a"], "b");
    assert!(matches!(parse_data("[1]"), Err(Error::BadRequest(_))));
    assert!(matches!(parse_data("{"), Err(Error::BadRequest(_))));
}

#[test]
fn request_fields_are_carried_over() {
    let wire = pb::Request {
        id: "req-1".into(),
        operation: "update".into(),
        path: "config".into(),
        data: r#"{"history_limit":"5"}"#.into(),
        mount_point: "ai-keys/".into(),
        display_name: "token-alice".into(),
        entity_id: "ent-1".into(),
        client_token_accessor: "acc-1".into(),
        ..Default::default()
    };
    let req = request(wire, Arc::new(InMemoryStorage::default())).unwrap();
    assert_eq!(req.operation, Operation::Update);
    assert_eq!(req.path, "config");
    assert_eq!(req.id, "req-1");
    assert_eq!(req.entity_id, "ent-1");
    assert_eq!(req.client_token_accessor, "acc-1");
    assert_eq!(req.display_name, "token-alice");
    assert_eq!(req.data["history_limit"], "5");
}

#[test]
fn unknown_operation_is_unsupported() {
    let wire = pb::Request {
        operation: "alias-lookahead".into(),
        data: "null".into(),
        ..Default::default()
    };
    let err = request(wire, Arc::new(InMemoryStorage::default())).unwrap_err();
    assert_eq!(proto_error(&err).err_type, 5);
}

#[test]
fn response_data_is_always_valid_json() {
    let reply = reply(Ok(Some(Response::default())));
    let data = reply.response.unwrap().data;
    assert_eq!(data, "{}");
    let mut resp = Response::with_data(serde_json::json!({"n": 1, "s": "x"}));
    resp.add_warning("careful");
    let wire = super::reply(Ok(Some(resp))).response.unwrap();
    let v: serde_json::Value = serde_json::from_str(&wire.data).unwrap();
    assert_eq!(v["n"], 1);
    assert_eq!(wire.warnings, ["careful"]);
    assert!(super::reply(Ok(None)).response.is_none());
}

#[test]
fn errors_map_to_the_types_that_give_the_right_status() {
    // (error, ProtoError type, code, message, whether a `{"error": message}` response goes along);
    // the errors the host would wrap travel as a raw response instead (status, `errors` body).
    let cases: Vec<(Error, u32, i64, &str, bool)> = vec![
        (
            Error::BadRequest("bad field".into()),
            4,
            400,
            "bad field",
            true,
        ),
        (
            Error::PermissionDenied("two-person rule".into()),
            8,
            403,
            "two-person rule",
            true,
        ),
        (
            Error::Coded {
                status: 400,
                message: "coded 400".into(),
            },
            4,
            400,
            "coded 400",
            true,
        ),
        (
            Error::Coded {
                status: 503,
                message: "provider down".into(),
            },
            3,
            503,
            "provider down",
            false,
        ),
        (
            Error::NotFound("no current version yet".into()),
            3,
            404,
            "no current version yet",
            false,
        ),
        (Error::UnsupportedPath, 6, 404, "", false),
        (Error::UnsupportedOperation, 5, 405, "", false),
        (Error::Internal("boom".into()), 2, 500, "boom", false),
        (
            Error::Storage(StorageError("cannot write to readonly storage".into())),
            0,
            500,
            "cannot write to readonly storage",
            false,
        ),
    ];
    for (err, ty, code, msg, with_response) in cases {
        let p = proto_error(&err);
        assert_eq!(p.err_type, ty, "{err:?}");
        assert_eq!(p.err_code, code, "{err:?}");
        assert_eq!(i64::from(err.status()), code, "one table: {err:?}");
        if !msg.is_empty() {
            assert_eq!(p.err_msg, msg);
        }
        let r = reply(Err(err.clone()));
        if super::raw_error(&err).is_some() {
            // Sent as the host's own error shape with its status, never wrapped.
            assert!(r.err.is_none(), "{err:?}");
            let data: serde_json::Value = serde_json::from_str(&r.response.unwrap().data).unwrap();
            assert_eq!(data["http_status_code"], code, "{err:?}");
            assert_eq!(data["http_content_type"], "application/json");
            let body = base64::Engine::decode(
                &base64::engine::general_purpose::STANDARD,
                data["http_raw_body"].as_str().unwrap(),
            )
            .unwrap();
            let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(body, serde_json::json!({ "errors": [msg] }), "{err:?}");
            assert!(!with_response, "{err:?}");
            continue;
        }
        assert_eq!(r.err.unwrap().err_type, ty);
        match r.response {
            Some(resp) if with_response => {
                let data: serde_json::Value = serde_json::from_str(&resp.data).unwrap();
                assert_eq!(data, serde_json::json!({ "error": msg }), "{err:?}");
            }
            None if !with_response => {}
            other => panic!("{err:?}: unexpected response {other:?}"),
        }
    }
}

#[test]
fn existence_check_bad_requests_travel_as_user_errors() {
    let p = existence_error(&Error::BadRequest(
        "Field validation failed: field \"x\"".into(),
    ));
    assert_eq!(p.err_type, 1);
    assert!(p.err_msg.contains("field \"x\""));
    // Everything else keeps its request-path mapping.
    assert_eq!(existence_error(&Error::UnsupportedPath).err_type, 6);
    assert_eq!(existence_error(&Error::Internal("x".into())).err_type, 2);
}
