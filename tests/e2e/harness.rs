//! Smoke tests of the harness itself, independent of what the plugin does: the server starts
//! and answers, KV v2 works, audit entries arrive hashed, the CLI reaches the server, parallel
//! servers stay apart, and dropping a `Bao` stops its process.

use std::time::Duration;

use serde_json::{json, Value};

use crate::support::{plugin_sha256, plugin_version, poll_until, process, server, Bao, Client};

const SECRET: &str = "e2e-canary-9f3c1a7b";

/// Mounts KV v2 at `kv/` and writes `kv/data/app` = `{api_key: SECRET}`.
async fn mount_kv_and_write(client: &Client) {
    client
        .write(
            "sys/mounts/kv",
            json!({ "type": "kv", "options": { "version": "2" } }),
        )
        .await
        .expect_status(204);
    // A new KV v2 mount upgrades its storage in the background and refuses writes until done.
    poll_until(
        "the new KV v2 mount to accept a write",
        Duration::from_secs(10),
        || async move {
            let reply = client
                .write("kv/data/app", json!({ "data": { "api_key": SECRET } }))
                .await;
            reply.status == 200
        },
    )
    .await;
}

#[tokio::test]
async fn server_starts_healthy_on_loopback() {
    let bao = Bao::start_bare().await;
    assert!(bao.addr.starts_with("http://127.0.0.1:"), "{}", bao.addr);
    assert_eq!(bao.token, "root");

    let health = bao.client().read("sys/health").await;
    health.expect_status(200);
    assert_eq!(health.body["initialized"], true);
    assert_eq!(health.body["sealed"], false);
    assert!(health.body["version"]
        .as_str()
        .unwrap_or_default()
        .starts_with("2.7.2"));

    assert!(process::is_alive(bao.server_pid()));
    assert!(bao.plugin_pids().is_empty());
    assert!(bao.server_log().contains("clustering disabled"));
}

#[tokio::test]
async fn kv_v2_write_read_list_delete() {
    let bao = Bao::start_bare().await;
    let client = bao.client();
    mount_kv_and_write(&client).await;

    let read = client.read("kv/data/app").await;
    read.expect_status(200);
    assert_eq!(read.data()["data"]["api_key"], SECRET);
    assert_eq!(read.data()["metadata"]["version"], 1);

    let list = client.list("kv/metadata").await;
    list.expect_status(200);
    assert_eq!(list.data()["keys"], json!(["app"]));

    client.delete("kv/metadata/app").await.expect_status(204);
    client.read("kv/data/app").await.expect_status(404);
}

#[tokio::test]
async fn audit_log_records_requests_with_secrets_hashed() {
    let bao = Bao::start_bare().await;
    mount_kv_and_write(&bao.client()).await;

    let hash = bao.audit_hash(SECRET).await;
    assert!(hash.starts_with("hmac-sha256:"), "{hash}");
    bao.wait_for(
        "the KV write in the audit log",
        Duration::from_secs(5),
        || bao.audit_log().contains(&hash),
    )
    .await;

    let log = bao.audit_log();
    assert!(
        !log.contains(SECRET),
        "the secret appears in clear in audit.log"
    );
    let entries: Vec<Value> = log
        .lines()
        .map(|line| serde_json::from_str(line).expect("every audit line is JSON"))
        .collect();
    assert!(entries
        .iter()
        .any(|e| e["type"] == "request" && e["request"]["path"] == "kv/data/app"));
    assert!(entries
        .iter()
        .any(|e| e["type"] == "response" && e["request"]["path"] == "sys/mounts/kv"));
}

#[tokio::test]
async fn errors_and_headers_are_reported() {
    let bao = Bao::start_bare().await;

    let denied = bao
        .client_with_token("not-a-token")
        .read("sys/mounts")
        .await;
    assert_eq!(denied.status, 403, "{}", denied.text);
    assert!(
        denied.errors().contains("permission denied"),
        "{}",
        denied.errors()
    );
    assert!(denied.data().is_null());

    let anonymous = bao.client_with_token("").read("sys/health").await;
    anonymous.expect_status(200);
    assert!(anonymous.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));

    let missing = bao.client().read("sys/no-such-path").await;
    assert_eq!(missing.status, 404, "{}", missing.text);
}

#[tokio::test]
async fn cli_talks_to_the_server() {
    let bao = Bao::start_bare().await;
    let out = bao.bao(&["secrets", "list", "-format=json"]);
    assert!(
        out.status.success(),
        "bao secrets list: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mounts: Value = serde_json::from_slice(&out.stdout).expect("JSON from the CLI");
    assert_eq!(mounts["sys/"]["type"], "system");
}

#[tokio::test]
async fn parallel_servers_are_separate() {
    let (a, b) = tokio::join!(Bao::start_bare(), Bao::start_bare());
    assert_ne!(a.addr, b.addr);
    assert_ne!(a.server_pid(), b.server_pid());
    assert_ne!(a.dir.path(), b.dir.path());

    mount_kv_and_write(&a.client()).await;
    a.client().read("kv/data/app").await.expect_status(200);
    let on_b = b.client().read("sys/mounts/kv").await;
    assert_eq!(
        on_b.status, 400,
        "kv/ should exist only on a: {}",
        on_b.text
    );
}

#[tokio::test]
async fn plugin_is_copied_and_registered_by_sha256_and_version() {
    // Registration is best-effort about running the binary, so this checks the harness's
    // catalog entry whatever state the plugin is in.
    let bao = Bao::start_unmounted().await;
    let copied = bao.dir.path().join("plugins").join(server::PLUGIN_COMMAND);
    let meta = std::fs::symlink_metadata(&copied).expect("plugin copied");
    assert!(meta.file_type().is_file(), "a regular file, not a symlink");
    let built = std::fs::read(env!("CARGO_BIN_EXE_vault-plugin-secrets-ai-keys")).unwrap();
    assert_eq!(std::fs::read(&copied).unwrap(), built);

    let version = plugin_version();
    let entry = bao
        .client()
        .read(&format!(
            "sys/plugins/catalog/secret/ai-keys?version={version}"
        ))
        .await;
    entry.expect_status(200);
    assert_eq!(entry.data()["sha256"], plugin_sha256());
    assert_eq!(entry.data()["command"], server::PLUGIN_COMMAND);
    assert_eq!(entry.data()["version"], version.as_str());
}

#[tokio::test]
async fn kill_server_sigkills_it() {
    let mut bao = Bao::start_bare().await;
    let pid = bao.server_pid();
    let client = bao.client();
    bao.kill_server();
    assert!(!process::is_alive(pid), "state {:?}", process::state(pid));
    assert!(client.try_request("GET", "sys/health", None).await.is_err());
}

#[tokio::test]
async fn drop_stops_the_server_and_removes_its_directory() {
    let bao = Bao::start_bare().await;
    let pid = bao.server_pid();
    let dir = bao.dir.path().to_path_buf();
    let client = bao.client();
    assert!(process::is_alive(pid));

    drop(bao);
    // Drop waits for the exit and reaps the child: the PID is gone, not even a zombie.
    assert!(!process::is_alive(pid), "state {:?}", process::state(pid));
    assert!(!dir.exists(), "{} left behind", dir.display());
    assert!(client.try_request("GET", "sys/health", None).await.is_err());
}

#[tokio::test]
#[should_panic(expected = "timed out after 50ms waiting for the impossible")]
async fn poll_until_names_what_timed_out() {
    poll_until("the impossible", Duration::from_millis(50), || async {
        false
    })
    .await;
}
