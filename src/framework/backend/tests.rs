//! Tests of the backend, by subject: [`routing`] (which path and operation a request reaches,
//! captures, warnings), [`errors`] (refusals before the handler, and the handler's own errors),
//! [`existence`] checks, [`help`] and the document, [`rollback`] (periodic function, WAL). The
//! backend and handlers below are theirs.

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

async fn call_write(b: &Backend, s: &Arc<InMemoryStorage>) {
    let r = req(Operation::Create, "keys/k1", s);
    assert_eq!(b.handle_request(r).await.unwrap(), None);
    assert_eq!(s.keys(), ["keys/k1"]);
}

mod errors;
mod existence;
mod help;
mod rollback;
mod routing;

#[test]
fn backend_and_its_futures_are_send() {
    fn send_sync<T: Send + Sync>(_: &T) {}
    fn send<T: Send>(_: T) {}
    let (b, s) = (backend(), storage());
    send_sync(&b);
    send(b.handle_request(req(Operation::Read, "config", &s)));
    send(b.handle_existence_check(req(Operation::Update, "config", &s)));
}
