//! Persistence across a plugin reload.

use serde_json::Value;

use super::cli_ok;
use crate::rotation::{assert_valid, rotate_by_steps, verify, POLL_LIMIT};
use crate::support::checks::{history, read_ok, secret};
use crate::support::{process, Bao};

// ---------------------------------------------------------------------------------------------
// Persistence across a plugin reload
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn state_survives_a_plugin_reload() {
    let bao = Bao::start().await;
    let client = bao.client();
    let (k1, k2) = (secret("k1"), secret("k2"));
    rotate_by_steps(&client, &k1, &k2, "1h").await;
    let creds = read_ok(&client, "ai-keys/creds/app").await;
    let events = history(&client, "app").await;
    let key = read_ok(&client, "ai-keys/keys/app").await;
    let before = bao.plugin_pids();
    assert!(!before.is_empty(), "a plugin process serves the mount");

    let out = cli_ok(&bao, &["plugin", "reload", "-mounts=ai-keys/"]);
    assert!(out.contains("Success"), "{out}");

    // The reload really replaced the plugin process.
    let after = read_ok(&client, "ai-keys/creds/app").await;
    bao.wait_for("the old plugin process to exit", POLL_LIMIT, || {
        before.iter().all(|&pid| !process::is_alive(pid))
    })
    .await;
    let now_running = bao.plugin_pids();
    assert!(
        !now_running.is_empty() && now_running.iter().all(|p| !before.contains(p)),
        "a new plugin process: before {before:?}, after {now_running:?}"
    );

    let strip_ttl = |v: &Value| {
        let mut v = v.clone();
        v.as_object_mut().unwrap().remove("ttl");
        v
    };
    assert_eq!(strip_ttl(&after), strip_ttl(&creds));
    assert_eq!(after["api_key"], k2.as_str());
    assert_eq!(after["previous_api_key"], k1.as_str());
    let ttl = after["ttl"].as_i64().unwrap();
    assert!(
        ttl > 0 && ttl <= creds["ttl"].as_i64().unwrap(),
        "ttl {ttl}"
    );
    assert_eq!(history(&client, "app").await, events);
    assert_eq!(read_ok(&client, "ai-keys/keys/app").await, key);
    assert_valid(
        &verify(&client, "app", &k1).await,
        1,
        "previous",
        "K1 after reload",
    );
}
