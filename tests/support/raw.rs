//! The ai-keys mount's storage, read and written through `sys/raw` (the harness's dev server
//! enables `raw_storage_endpoint`), to plant records an older release (or damage) left behind.

use serde_json::json;

use super::checks::{data, read_ok};
use super::Client;

/// `sys/raw` path of the ai-keys mount's storage entry `path`.
pub async fn raw_path(client: &Client, path: &str) -> String {
    let mount = read_ok(client, "sys/mounts/ai-keys").await;
    let uuid = mount["uuid"].as_str().expect("mount uuid");
    format!("sys/raw/logical/{uuid}/{path}")
}

/// The stored text of `path`, `None` when absent.
pub async fn raw_get(client: &Client, path: &str) -> Option<String> {
    let reply = client.read(&raw_path(client, path).await).await;
    if reply.status == 404 {
        return None;
    }
    Some(
        data(&reply, path)["value"]
            .as_str()
            .expect("raw value")
            .to_string(),
    )
}

/// Stores `value` (text) as the mount's storage entry `path`.
pub async fn raw_put(client: &Client, path: &str, value: &str) {
    let reply = client
        .write(&raw_path(client, path).await, json!({ "value": value }))
        .await;
    assert!(reply.is_success(), "sys/raw put {path}: {}", reply.text);
}

/// Stores `value` as `path` like [`raw_put`], then reloads the mount's plugin, as an operator
/// must after editing a mount's storage behind its plugin: the plugin caches the key records it
/// read or wrote, and only the host's own writes (replication) tell it about a change.
pub async fn raw_put_reloaded(client: &Client, path: &str, value: &str) {
    raw_put(client, path, value).await;
    let reply = client
        .write(
            "sys/plugins/reload/backend",
            json!({ "mounts": ["ai-keys/"] }),
        )
        .await;
    assert!(reply.is_success(), "reload: {}", reply.text);
}

/// The entries under `prefix` in the mount's storage.
pub async fn raw_list(client: &Client, prefix: &str) -> Vec<String> {
    let reply = client.list(&raw_path(client, prefix).await).await;
    if reply.status == 404 {
        return Vec::new();
    }
    data(&reply, prefix)["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().to_string())
        .collect()
}
