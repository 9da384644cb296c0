//! `exposed`: each version state, found by value, by fingerprint and by full SHA-256; the
//! two-person rule; unknown values; bad input. Shared helpers here.

mod current;
mod states;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::backend::testing::Harness;
use crate::framework::{Error, Operation};

/// `exposed` with `body` plus a source and a reason.
async fn expose(h: &Harness, body: Value) -> Result<Value, Error> {
    expose_as(h, "alice", body).await
}

async fn expose_as(h: &Harness, actor: &str, mut body: Value) -> Result<Value, Error> {
    body["source"] = json!("github.com/acme/app commit 1234567");
    body["reason"] = json!("pushed to a public repository");
    Ok(h.call_as(actor, Operation::Update, "exposed", body)
        .await?
        .map(|r| {
            let warnings = json!(r.warnings);
            let mut data = r.data_value();
            data["warnings"] = warnings;
            data
        })
        .unwrap_or(Value::Null))
}

/// The only match of an answer.
fn only(out: &Value) -> &Value {
    let matches = out["matches"].as_array().expect("matches");
    assert_eq!(matches.len(), 1, "{out}");
    &matches[0]
}

/// The full SHA-256 of `value`, in hex.
fn sha256_hex(value: &str) -> String {
    hex::encode(Sha256::digest(value.as_bytes()))
}

/// The events of key `name`'s history named `event`.
async fn events(h: &Harness, name: &str, event: &str) -> Vec<Value> {
    h.history(name)
        .await
        .into_iter()
        .filter(|e| e["event"] == event)
        .collect()
}
