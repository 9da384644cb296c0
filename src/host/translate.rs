//! Wire <-> framework translation (plugin-protocol.md 6.4, 6.5):
//! request data arrives as JSON text (`"null"` when empty); response data must be valid JSON
//! text; errors become `ProtoError`s whose type decides the HTTP status.

use std::sync::Arc;

use crate::framework::{self, Error, HandlerResult, Operation, Response, Storage};
use crate::proto::pb;

/// ProtoError types the host understands.
mod err_type {
    pub(super) const UNKNOWN: u32 = 0;
    pub(super) const USER: u32 = 1;
    pub(super) const INTERNAL: u32 = 2;
    pub(super) const CODED: u32 = 3;
    pub(super) const BAD_REQUEST: u32 = 4;
    pub(super) const UNSUPPORTED_OPERATION: u32 = 5;
    pub(super) const UNSUPPORTED_PATH: u32 = 6;
    pub(super) const PERMISSION_DENIED: u32 = 8;
}

/// Builds a framework request from the wire request.
pub fn request(wire: pb::Request, storage: Arc<dyn Storage>) -> Result<framework::Request, Error> {
    let operation = Operation::from_wire(&wire.operation).ok_or(Error::UnsupportedOperation)?;
    let data = parse_data(&wire.data)?;
    let mut req = framework::Request::new(operation, wire.path, storage);
    req.data = data;
    req.id = wire.id;
    req.mount_point = wire.mount_point;
    req.display_name = wire.display_name;
    req.entity_id = wire.entity_id;
    req.client_token_accessor = wire.client_token_accessor;
    Ok(req)
}

/// Request data is a JSON object's text, `"null"` (or, defensively, empty) when there is none.
pub fn parse_data(text: &str) -> Result<serde_json::Map<String, serde_json::Value>, Error> {
    if text.trim().is_empty() {
        return Ok(serde_json::Map::new());
    }
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Null) => Ok(serde_json::Map::new()),
        Ok(serde_json::Value::Object(map)) => Ok(map),
        Ok(_) => Err(Error::BadRequest(
            "request data must be a JSON object".into(),
        )),
        Err(_) => Err(Error::BadRequest("request data is not valid JSON".into())),
    }
}

/// Builds the wire reply for a handler result.
///
/// A user error (400, 403) also carries a response whose data is only `{"error": message}`, as
/// Go's `logical.ErrorResponse` does: the host then shows that message as is (KV v2's clean
/// `{"errors":["..."]}`), while the status still comes from the `ProtoError`. Without it the
/// host wraps every plugin error as `1 error occurred:\n\t* ...` (the core collects routing
/// errors in a multierror; `RespondErrorCommon` replaces it with the response's `error`).
///
/// That replacement also resets any other status to 400, so the engine's other errors (404
/// with a message, 409, 500, 502, 503) travel as a raw response instead ([`raw_error`]): the
/// status and the same `{"errors":["..."]}` body, written by the host as is. The routing errors
/// (404 `unsupported path`, 405) and storage errors keep their `ProtoError`: the host acts on
/// those texts (a standby forwards a write refused with "cannot write to readonly storage").
pub fn reply(result: HandlerResult) -> pb::HandleRequestReply {
    match result {
        Ok(None) => pb::HandleRequestReply::default(),
        Ok(Some(resp)) => response_reply(resp),
        Err(e) => match raw_error(&e) {
            Some(resp) => response_reply(resp),
            None => error_reply(&e),
        },
    }
}

fn error_reply(e: &Error) -> pb::HandleRequestReply {
    pb::HandleRequestReply {
        response: e.user_message().map(|message| pb::Response {
            data: serde_json::json!({ "error": message }).to_string(),
            ..Default::default()
        }),
        err: Some(proto_error(e)),
    }
}

fn response_reply(mut resp: Response) -> pb::HandleRequestReply {
    pb::HandleRequestReply {
        response: Some(pb::Response {
            warnings: std::mem::take(&mut resp.warnings),
            data: resp.data_json(),
            ..Default::default()
        }),
        err: None,
    }
}

/// An error the host would otherwise show wrapped (`1 error occurred`), as a raw response of its
/// status whose body is the host's own error shape, `{"errors":["<message>"]}`; `None` for the
/// errors that must reach the host as errors (routing, storage) and the user errors (400, 403)
/// that [`reply`] sends with a `logical.ErrorResponse`.
pub fn raw_error(e: &Error) -> Option<Response> {
    let message = match e {
        Error::NotFound(m) | Error::Internal(m) => m,
        Error::Coded { message, status } if !matches!(status, 400 | 403) => message,
        _ => return None,
    };
    let body = serde_json::json!({ "errors": [message] }).to_string();
    Some(Response::raw(
        e.status(),
        "application/json",
        body.as_bytes(),
    ))
}

/// The `ProtoError` for a framework error, chosen by [`Error::status`] (plugin-protocol.md
/// 6.5): 400 travels as StatusBadRequest, 403 as PermissionDenied (the host's fixed text; the
/// message comes from the response, see [`reply`]), 404 and 405 as the routing errors, storage
/// errors verbatim as Unknown (the host recognises "cannot write to readonly storage", which
/// makes a standby forward the request), other 5xx as Internal, any other status as Coded (so a
/// [`Error::NotFound`] reaches the client as a 404 with its message).
pub fn proto_error(e: &Error) -> pb::ProtoError {
    let status = e.status();
    let err_type = match (e, status) {
        (Error::Storage(_), _) => err_type::UNKNOWN,
        (Error::UnsupportedPath, _) => err_type::UNSUPPORTED_PATH,
        (Error::UnsupportedOperation, _) => err_type::UNSUPPORTED_OPERATION,
        (_, 400) => err_type::BAD_REQUEST,
        (_, 403) => err_type::PERMISSION_DENIED,
        (Error::Internal(_), _) => err_type::INTERNAL,
        _ => err_type::CODED,
    };
    let err_msg = match e {
        Error::BadRequest(m)
        | Error::PermissionDenied(m)
        | Error::NotFound(m)
        | Error::Internal(m) => m.clone(),
        Error::Coded { message, .. } => message.clone(),
        Error::Storage(s) => s.0.clone(),
        other => other.to_string(),
    };
    pb::ProtoError {
        err_type,
        err_msg,
        err_code: i64::from(status),
    }
}

/// The `ProtoError` for a failed existence check. On that path the host turns everything but a
/// user error (type 1) into a 500 "internal error", so a bad field must travel as type 1 there
/// to reach the client as a 400 (type 1 becomes a 500 on the request path, hence two mappings).
pub fn existence_error(e: &Error) -> pb::ProtoError {
    let mut p = proto_error(e);
    if matches!(e, Error::BadRequest(_)) {
        p.err_type = err_type::USER;
    }
    p
}

#[cfg(test)]
mod tests;
