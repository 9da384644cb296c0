//! Requests, responses and operations as the framework sees them.

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use serde_json::{Map, Value};

use super::storage::Storage;

/// The operation a request asks for (plugin-protocol.md 6.1).
///
/// Operations the framework does not know (`header`, `alias-lookahead`,
/// `resolve-role`) have no variant: [`Operation::from_wire`] returns `None`
/// for them and the transport answers "unsupported operation".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operation {
    /// `create`: a write on a path whose existence check said "absent".
    Create,
    /// `read`: HTTP GET.
    Read,
    /// `update`: a write on an existing path, or on a path without existence check.
    Update,
    /// `patch`: HTTP PATCH (JSON merge patch).
    Patch,
    /// `delete`: HTTP DELETE.
    Delete,
    /// `list`: HTTP LIST or `GET ?list=true`; the path ends with `/`.
    List,
    /// `scan`: OpenBao's recursive list.
    Scan,
    /// `help`: `bao path-help` and OpenAPI generation.
    Help,
    /// `rollback`: the host's periodic tick (every 60 s) and the final one at unmount.
    Rollback,
    /// `renew`: lease renewal.
    Renew,
    /// `revoke`: lease revocation.
    Revoke,
    /// `resolve-path`: OpenBao 2.7's path canonicalisation before ACL checks.
    ResolvePath,
}

impl Operation {
    /// All operations, in declaration order.
    pub const ALL: [Operation; 12] = [
        Operation::Create,
        Operation::Read,
        Operation::Update,
        Operation::Patch,
        Operation::Delete,
        Operation::List,
        Operation::Scan,
        Operation::Help,
        Operation::Rollback,
        Operation::Renew,
        Operation::Revoke,
        Operation::ResolvePath,
    ];

    /// Parses the wire spelling (`"create"`, …, `"resolve-path"`).
    pub fn from_wire(s: &str) -> Option<Operation> {
        Operation::ALL.into_iter().find(|op| op.as_wire() == s)
    }

    /// The wire spelling of the operation.
    pub fn as_wire(&self) -> &'static str {
        match self {
            Operation::Create => "create",
            Operation::Read => "read",
            Operation::Update => "update",
            Operation::Patch => "patch",
            Operation::Delete => "delete",
            Operation::List => "list",
            Operation::Scan => "scan",
            Operation::Help => "help",
            Operation::Rollback => "rollback",
            Operation::Renew => "renew",
            Operation::Revoke => "revoke",
            Operation::ResolvePath => "resolve-path",
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_wire())
    }
}

/// One request to the backend, already decoded from the wire.
///
/// `data` is the request body (or query string) exactly as sent: the
/// framework never rewrites it. Typed, validated values, including the
/// captures of the path pattern, are in the [`super::FieldData`] handed to
/// handlers next to the request.
#[derive(Clone)]
pub struct Request {
    /// The operation requested.
    pub operation: Operation,
    /// Mount-relative path, without a leading slash.
    pub path: String,
    /// Request data; empty when the wire data was `"null"`.
    pub data: Map<String, Value>,
    /// Request id (empty for host-internal requests such as rollback).
    pub id: String,
    /// Mount point, e.g. `ai-keys/` (empty for OpenAPI generation).
    pub mount_point: String,
    /// Display name of the token that made the request.
    pub display_name: String,
    /// Entity id of the caller, when the token has one.
    pub entity_id: String,
    /// Accessor of the client token.
    pub client_token_accessor: String,
    /// The mount's storage.
    pub storage: Arc<dyn Storage>,
    /// Test builds only (set by the tick hook, [`super::test_hooks`], for one rollback run): how
    /// long a WAL rollback handler should see a state hold before it concludes from it, instead
    /// of its own period. Release builds have no such field: the host's calls cannot set it.
    #[cfg(feature = "test-hooks")]
    pub wal_settle_after: Option<std::time::Duration>,
}

impl Request {
    /// A request with empty data and empty identity fields.
    pub fn new(
        operation: Operation,
        path: impl Into<String>,
        storage: Arc<dyn Storage>,
    ) -> Request {
        Request {
            operation,
            path: path.into(),
            data: Map::new(),
            id: String::new(),
            mount_point: String::new(),
            display_name: String::new(),
            entity_id: String::new(),
            client_token_accessor: String::new(),
            storage,
            #[cfg(feature = "test-hooks")]
            wal_settle_after: None,
        }
    }

    /// Replaces the data (test helper).
    ///
    /// # Panics
    /// If `data` is neither a JSON object nor `null`.
    pub fn with_data(mut self, data: Value) -> Request {
        self.data = match data {
            Value::Object(map) => map,
            Value::Null => Map::new(),
            other => panic!(
                "request data must be an object or null, got {}",
                kind_of(&other)
            ),
        };
        self
    }
}

impl fmt::Debug for Request {
    /// Prints the data keys only: values may be secrets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("operation", &self.operation)
            .field("path", &self.path)
            .field("data_keys", &self.data.keys().collect::<Vec<_>>())
            .field("id", &self.id)
            .field("mount_point", &self.mount_point)
            .field("display_name", &self.display_name)
            .field("entity_id", &self.entity_id)
            .finish_non_exhaustive()
    }
}

/// A successful reply: response data plus non-fatal warnings.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Response {
    /// Response data (a JSON object on the wire).
    pub data: Map<String, Value>,
    /// The data already written as a JSON object, sent instead of `data` when set: for large
    /// replies, whose tree of values would take many times the memory of their text.
    pub encoded: Option<String>,
    /// Warnings shown to the client next to the data.
    pub warnings: Vec<String>,
}

impl Response {
    /// A response with the given data.
    ///
    /// # Panics
    /// If `data` is neither a JSON object nor `null` (`null` gives empty data).
    pub fn with_data(data: Value) -> Response {
        let data = match data {
            Value::Object(map) => map,
            Value::Null => Map::new(),
            other => panic!("response data must be an object, got {}", kind_of(&other)),
        };
        Response {
            data,
            ..Response::default()
        }
    }

    /// A response whose data is `json`, a JSON object already written (see
    /// [`Response::encoded`]).
    pub fn with_encoded(json: String) -> Response {
        Response {
            encoded: Some(json),
            ..Response::default()
        }
    }

    /// The data as sent on the wire: a JSON object's text.
    pub fn data_json(self) -> String {
        self.encoded
            .unwrap_or_else(|| Value::Object(self.data).to_string())
    }

    /// The data as a JSON value (decoding [`Response::encoded`]).
    ///
    /// # Panics
    /// If [`Response::encoded`] is not JSON, which [`Response::with_encoded`]'s callers promise.
    #[allow(
        clippy::expect_used,
        reason = "encoded holds JSON this crate wrote (with_encoded's contract); tests read it"
    )]
    pub fn data_value(self) -> Value {
        match self.encoded {
            Some(json) => serde_json::from_str(&json).expect("encoded data is JSON"),
            None => Value::Object(self.data),
        }
    }

    /// Appends a warning.
    pub fn add_warning(&mut self, w: impl Into<String>) {
        self.warnings.push(w.into());
    }

    /// A raw HTTP body (plugin-protocol.md 6.4): the host writes `body` with
    /// the given status and content type instead of the usual JSON envelope.
    /// The body travels as standard base64 in `http_raw_body`.
    pub fn raw(status: u16, content_type: &str, body: &[u8]) -> Response {
        let mut data = Map::new();
        data.insert("http_status_code".into(), Value::from(status));
        data.insert("http_content_type".into(), Value::from(content_type));
        data.insert(
            "http_raw_body".into(),
            Value::from(base64::engine::general_purpose::STANDARD.encode(body)),
        );
        Response {
            data,
            ..Response::default()
        }
    }
}

/// Short name of a JSON value's kind, for messages that must not echo values.
pub(crate) fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::framework::storage::InMemoryStorage;

    #[test]
    fn wire_names_round_trip() {
        let names: Vec<&str> = Operation::ALL.iter().map(|op| op.as_wire()).collect();
        assert_eq!(
            names,
            [
                "create",
                "read",
                "update",
                "patch",
                "delete",
                "list",
                "scan",
                "help",
                "rollback",
                "renew",
                "revoke",
                "resolve-path"
            ]
        );
        for op in Operation::ALL {
            assert_eq!(Operation::from_wire(op.as_wire()), Some(op));
        }
        for unknown in ["header", "alias-lookahead", "resolve-role", "READ", ""] {
            assert_eq!(Operation::from_wire(unknown), None, "{unknown}");
        }
    }

    #[test]
    fn raw_response_uses_standard_base64() {
        let resp = Response::raw(202, "text/plain", b"hello raw\xff");
        assert_eq!(
            Value::Object(resp.data),
            json!({"http_status_code": 202, "http_content_type": "text/plain",
                   "http_raw_body": "aGVsbG8gcmF3/w=="})
        );
    }

    #[test]
    fn data_helpers() {
        let r = Request::new(
            Operation::Read,
            "p",
            std::sync::Arc::new(InMemoryStorage::new()),
        )
        .with_data(json!({"secret": "sk-123"}));
        assert_eq!(r.data["secret"], "sk-123");
        let debug = format!("{r:?}");
        assert!(
            debug.contains("secret") && !debug.contains("sk-123"),
            "{debug}"
        );
        assert!(r.with_data(Value::Null).data.is_empty());
        let mut resp = Response::with_data(json!({"a": 1}));
        resp.add_warning("careful");
        assert_eq!(resp.warnings, ["careful"]);
        assert!(Response::with_data(Value::Null).data.is_empty());
    }

    #[test]
    #[should_panic(expected = "must be an object")]
    fn with_data_rejects_non_objects() {
        let _ = Response::with_data(json!([1]));
    }
}
