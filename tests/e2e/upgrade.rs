//! Upgrade and rollback the way an operator does it (docs/operating.md, the commands
//! scripts/release.sh writes): two builds side by side in the plugin directory, each registered
//! by sha256 with its version, the mount tuned to the other version and the plugin reloaded. Every key, version, grace window and history event must come through intact, and
//! work must go on under either version.
//!
//! The second build is the rehearsal build of scripts/build-upgrade-plugin.sh (same source,
//! next patch version); see `support::builds`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};

use crate::support::builds::PluginBuild;
use crate::support::checks::{history, read_ok, secret, write_ok};
use crate::support::raw::{raw_get, raw_put};
use crate::support::{poll_until, process, Bao, Client};

const MOUNT: &str = "ai-keys";
const POLL_LIMIT: Duration = Duration::from_secs(20);

/// Runs the CLI, asserts success and returns stdout.
#[track_caller]
fn cli_ok(bao: &Bao, args: &[&str]) -> String {
    let out = bao.bao(args);
    assert!(
        out.status.success(),
        "bao {}: {}\nstdout: {}\nstderr: {}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    String::from_utf8(out.stdout).expect("CLI output is UTF-8")
}

/// `bao plugin register -sha256=... -version=... -command=... secret ai-keys`, as in
/// scripts/release.sh's REGISTER file.
fn register(bao: &Bao, build: &PluginBuild) {
    cli_ok(
        bao,
        &[
            "plugin",
            "register",
            &format!("-sha256={}", build.sha256),
            &format!("-version={}", build.version),
            &format!("-command={}", build.command()),
            "secret",
            "ai-keys",
        ],
    );
}

/// `bao secrets tune -plugin-version=...` then `bao plugin reload -plugin=ai-keys
/// -scope=global`, as in
/// scripts/release.sh's REGISTER file; then waits until the mount runs `build` from `path`.
async fn switch_to(bao: &Bao, build: &PluginBuild, path: &Path, other: &Path) {
    cli_ok(
        bao,
        &[
            "secrets",
            "tune",
            &format!("-plugin-version={}", build.version),
            &format!("{MOUNT}/"),
        ],
    );
    let out = cli_ok(
        bao,
        &["plugin", "reload", "-plugin=ai-keys", "-scope=global"],
    );
    assert!(out.contains("Success"), "{out}");
    expect_running(bao, build, path, other).await;
    expect_documented_version(bao, build).await;
}

/// The plugin's own OpenAPI document (`GET ai-keys/?help=1`) carries the version it runs as.
async fn expect_documented_version(bao: &Bao, build: &PluginBuild) {
    let reply = bao.client().read(&format!("{MOUNT}/?help=1")).await;
    assert_eq!(reply.status, 200, "{MOUNT}/?help=1: {}", reply.text);
    assert_eq!(
        reply.body["openapi"]["info"]["version"],
        build.version.as_str(),
        "OpenAPI info.version"
    );
}

/// Polls until the mount reports `build` as its running version and sha256, a plugin process
/// runs `path`, and none runs `other` any more.
async fn expect_running(bao: &Bao, build: &PluginBuild, path: &Path, other: &Path) {
    let client = bao.client();
    let (c, server) = (&client, bao.server_pid());
    poll_until(
        &format!("{MOUNT}/ to run {} from {}", build.version, path.display()),
        POLL_LIMIT,
        || async move {
            // Any request starts the plugin process if the reload stopped it.
            let _ = c.read(&format!("{MOUNT}/config")).await;
            let mount = c.read(&format!("sys/mounts/{MOUNT}")).await;
            let data = mount.data();
            data["plugin_version"] == build.version.as_str()
                && data["running_plugin_version"] == build.version.as_str()
                && data["running_sha256"] == build.sha256.as_str()
                && !process::live_children_running(server, path).is_empty()
                && process::live_children_running(server, other).is_empty()
        },
    )
    .await;
}

/// Everything an operator would compare before and after: each key's record (no values), its
/// creds (but the ttl, which counts down) and its whole history.
async fn snapshot(client: &Client, names: &[&str]) -> Value {
    let mut all = serde_json::Map::new();
    for &name in names {
        let mut creds = read_ok(client, &format!("{MOUNT}/creds/{name}")).await;
        creds.as_object_mut().expect("creds object").remove("ttl");
        all.insert(
            name.to_owned(),
            json!({
                "key": read_ok(client, &format!("{MOUNT}/keys/{name}")).await,
                "creds": creds,
                "history": history(client, name).await,
            }),
        );
    }
    Value::Object(all)
}

async fn verify(client: &Client, name: &str, value: &str) -> Value {
    write_ok(
        client,
        &format!("{MOUNT}/verify/{name}"),
        json!({ "value": value }),
    )
    .await
}

#[track_caller]
fn assert_valid(result: &Value, version: u64, state: &str, what: &str) {
    assert_eq!(
        result,
        &json!({ "valid": true, "version": version, "state": state }),
        "{what}"
    );
}

/// Register v1 and v2 side by side, mount v1, create keys (one in grace, one
/// pending), upgrade to v2, check everything, work on, roll back to v1, check again, work on.
#[tokio::test]
async fn upgrade_to_v2_and_roll_back_to_v1_keep_every_key() {
    let (v1, v2) = (PluginBuild::current(), PluginBuild::v2());
    let bao = Bao::start_bare().await;
    let (v1_path, v2_path): (PathBuf, PathBuf) = (v1.install(&bao), v2.install(&bao));
    register(&bao, v1);
    register(&bao, v2);
    cli_ok(
        &bao,
        &[
            "secrets",
            "enable",
            &format!("-path={MOUNT}"),
            &format!("-plugin-version={}", v1.version),
            "ai-keys",
        ],
    );
    expect_running(&bao, v1, &v1_path, &v2_path).await;
    expect_documented_version(&bao, v1).await;
    let client = bao.client();

    // Under v1: "graced" has version 1 in its grace window, "pending" a staged version 2,
    // "plain" only its first version.
    let (g1, g2, p1, p2, plain) = (
        secret("g1"),
        secret("g2"),
        secret("p1"),
        secret("p2"),
        secret("plain"),
    );
    for (name, value) in [("graced", &g1), ("pending", &p1), ("plain", &plain)] {
        write_ok(
            &client,
            &format!("{MOUNT}/keys/{name}"),
            json!({ "value": value, "schedule": "staging", "custom_metadata": { "team": name } }),
        )
        .await;
    }
    write_ok(&client, "ai-keys/stage/graced", json!({ "value": g2 })).await;
    write_ok(&client, "ai-keys/test/graced", json!({})).await;
    write_ok(
        &client,
        "ai-keys/promote/graced",
        json!({ "grace_period": "1h" }),
    )
    .await;
    write_ok(&client, "ai-keys/stage/pending", json!({ "value": p2 })).await;
    let names = ["graced", "pending", "plain"];
    let before = snapshot(&client, &names).await;
    assert_eq!(
        before["graced"]["key"]["versions"]["1"]["state"],
        "previous"
    );
    assert!(before["graced"]["key"]["versions"]["1"]["grace_expires_time"].is_string());
    assert_eq!(before["pending"]["key"]["pending_version"], 2);

    // Upgrade.
    switch_to(&bao, v2, &v2_path, &v1_path).await;
    assert_eq!(
        snapshot(&client, &names).await,
        before,
        "state after the upgrade to {}",
        v2.version
    );
    assert_valid(
        &verify(&client, "graced", &g1).await,
        1,
        "previous",
        "g1 on v2",
    );
    assert_valid(
        &verify(&client, "graced", &g2).await,
        2,
        "current",
        "g2 on v2",
    );
    assert_valid(
        &verify(&client, "pending", &p2).await,
        2,
        "pending",
        "p2 on v2",
    );
    let creds = read_ok(&client, "ai-keys/creds/graced").await;
    assert_eq!(creds["api_key"], g2.as_str());
    assert_eq!(creds["previous_api_key"], g1.as_str());

    // Work goes on under v2: finish the pending rotation, create a new key.
    write_ok(&client, "ai-keys/test/pending", json!({})).await;
    write_ok(
        &client,
        "ai-keys/promote/pending",
        json!({ "grace_period": "2h" }),
    )
    .await;
    let fresh = secret("fresh");
    write_ok(
        &client,
        "ai-keys/keys/fresh",
        json!({ "value": fresh, "schedule": "development" }),
    )
    .await;
    let names = ["graced", "pending", "plain", "fresh"];
    let on_v2 = snapshot(&client, &names).await;
    assert_eq!(on_v2["pending"]["key"]["current_version"], 2);
    assert_eq!(
        on_v2["pending"]["key"]["versions"]["1"]["state"],
        "previous"
    );

    // Roll back, the same way.
    switch_to(&bao, v1, &v1_path, &v2_path).await;
    assert_eq!(
        snapshot(&client, &names).await,
        on_v2,
        "state after the rollback to {}",
        v1.version
    );
    // A record a newer release wrote in a format this one cannot read (planted: both builds
    // here share their formats, up to 3 for key records holding a withdrawn version) is
    // refused with a clear error naming both formats, and left as is.
    let mut future: Value =
        serde_json::from_str(&raw_get(&client, "keys/plain").await.expect("plain")).unwrap();
    future["format"] = json!(4);
    future["key"]["name"] = json!("future");
    let future = future.to_string();
    raw_put(&client, "keys/future", &future).await;
    for path in ["ai-keys/creds/future", "ai-keys/keys/future"] {
        let refused = client.read(path).await;
        assert!(refused.status >= 400, "{path}: {}", refused.text);
        let message = refused.errors();
        assert!(
            message.contains("\"future\"")
                && message.contains("format 4")
                && message.contains("newer than this plugin understands (3)"),
            "{path}: {message}"
        );
    }
    let refused = client
        .write("ai-keys/stage/future", json!({ "value": secret("x") }))
        .await;
    assert!(refused.errors().contains("format 4"), "{}", refused.text);
    assert_eq!(
        raw_get(&client, "keys/future").await.as_deref(),
        Some(future.as_str())
    );
    assert_valid(
        &verify(&client, "pending", &p1).await,
        1,
        "previous",
        "p1 on v1",
    );
    assert_valid(
        &verify(&client, "fresh", &fresh).await,
        1,
        "current",
        "fresh on v1",
    );

    // Work goes on under v1: roll "graced" back to version 1 (still in its grace window, which
    // v2 kept), rotate the new key.
    write_ok(&client, "ai-keys/rollback/graced", json!({})).await;
    assert_valid(
        &verify(&client, "graced", &g1).await,
        1,
        "current",
        "g1 after rollback",
    );
    assert_eq!(
        verify(&client, "graced", &g2).await,
        json!({ "valid": false }),
        "g2 after rollback"
    );
    let fresh2 = secret("fresh2");
    write_ok(
        &client,
        "ai-keys/rotate/fresh",
        json!({ "value": fresh2, "grace_period": "0" }),
    )
    .await;
    let creds = read_ok(&client, "ai-keys/creds/fresh").await;
    assert_eq!(creds["api_key"], fresh2.as_str());
    assert_eq!(creds["version"], 2);
}
