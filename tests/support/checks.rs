//! Assertions and small helpers shared by the end-to-end tests.

use std::path::Path;
use std::process::Output;

use serde_json::Value;

use super::{Bao, Client, Reply};

/// The repository's root (the crate's manifest directory).
pub fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// stdout and stderr of a finished command, for messages.
pub fn output_text(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A token with only `policy` (HCL, written as ACL policy `name`); returns the token.
pub async fn token_with_policy(bao: &Bao, name: &str, policy: &str) -> String {
    let client = bao.client();
    let reply = client
        .write(
            &format!("sys/policies/acl/{name}"),
            serde_json::json!({ "policy": policy }),
        )
        .await;
    assert!(reply.is_success(), "writing policy {name}: {}", reply.text);
    let reply = client
        .write(
            "auth/token/create",
            serde_json::json!({ "policies": [name], "no_default_policy": true, "ttl": "1h" }),
        )
        .await;
    assert!(reply.is_success(), "creating a token: {}", reply.text);
    reply.body["auth"]["client_token"]
        .as_str()
        .expect("client_token")
        .to_owned()
}

/// A unique, realistic-looking key value for `tag`, so finding it in a log is never a
/// coincidence.
pub fn secret(tag: &str) -> String {
    format!("sk-e2e-{tag}-{}", uuid::Uuid::new_v4().simple())
}

/// Asserts a 200 and returns the reply's `data`.
#[track_caller]
pub fn data(reply: &Reply, what: &str) -> Value {
    assert_eq!(
        reply.status, 200,
        "{what}: expected HTTP 200, got {}: {}",
        reply.status, reply.text
    );
    reply.data().clone()
}

/// Asserts `status` and that the error message contains every one of `needles`.
#[track_caller]
pub fn expect_error(reply: &Reply, status: u16, needles: &[&str], what: &str) {
    assert_eq!(
        reply.status, status,
        "{what}: expected HTTP {status}, got {}: {}",
        reply.status, reply.text
    );
    let message = reply.errors();
    for needle in needles {
        assert!(
            message.contains(needle),
            "{what}: the error message should mention {needle:?}: {message:?}"
        );
    }
}

pub async fn write_ok(client: &Client, path: &str, body: Value) -> Value {
    let reply = client.write(path, body).await;
    data(&reply, &format!("POST {path}"))
}

pub async fn read_ok(client: &Client, path: &str) -> Value {
    let reply = client.read(path).await;
    data(&reply, &format!("GET {path}"))
}

/// The events of `history/<name>`, newest first.
pub async fn history(client: &Client, name: &str) -> Vec<Value> {
    let data = read_ok(client, &format!("ai-keys/history/{name}")).await;
    data["events"]
        .as_array()
        .unwrap_or_else(|| panic!("history/{name} has no events array: {data}"))
        .clone()
}
