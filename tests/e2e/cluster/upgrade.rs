//! Upgrade and rollback of a three-node cluster with the documented commands (docs/operating.md,
//! "Upgrade and roll back"; scripts/release.sh's REGISTER text), sent as the HTTP calls the CLI
//! makes: the new build copied into every node's plugin directory, registered once
//! (`sys/plugins/catalog/secret/ai-keys`), the mount tuned to it (`sys/mounts/ai-keys/tune`),
//! and the plugin reloaded with `scope=global` (`sys/plugins/reload/backend`). Then each node's
//! own answer is checked: `running_plugin_version` in its `sys/mounts/ai-keys`, the version its
//! plugin's OpenAPI document states, and which binary its plugin process runs. Throughout,
//! `creds/` reads on both standbys are polled and must never fail.
//!
//! The second build is the rehearsal build of scripts/build-upgrade-plugin.sh (run it first).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use super::{secret, REPLICATION};
use crate::support::builds::PluginBuild;
use crate::support::cluster::Cluster;
use crate::support::server::plugin_version;
use crate::support::{process, Client};

/// How long every node may take to run the new version after the reload.
const SWITCH: Duration = Duration::from_secs(30);
/// Bound of the standby read loop (the whole upgrade and rollback take far less).
const READ_LOOP: Duration = Duration::from_secs(120);

/// What node `i` says it runs: `running_plugin_version` of its `sys/mounts/ai-keys`, and the
/// version its own plugin's OpenAPI document states.
async fn node_versions(cluster: &Cluster, i: usize) -> (String, String) {
    let c = cluster.client(i);
    let mount = c.read("sys/mounts/ai-keys").await;
    let running = mount.data()["running_plugin_version"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let help = c.read("ai-keys/?help=1").await;
    let documented = help.body["openapi"]["info"]["version"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    (running, documented)
}

/// Tunes the mount to `version` and reloads the plugin globally through the leader, as
/// `bao secrets tune -plugin-version=... ai-keys/` and `bao plugin reload -plugin=ai-keys
/// -scope=global` do; then waits until every node `i` runs `version` from its copy `to[i]` and
/// no plugin process of `from[i]` is left there.
async fn switch_to(
    cluster: &Cluster,
    leader: usize,
    version: &str,
    to: &[PathBuf],
    from: &[PathBuf],
) {
    let c = cluster.client(leader);
    let tuned = c
        .write(
            "sys/mounts/ai-keys/tune",
            json!({ "plugin_version": version }),
        )
        .await;
    assert!(tuned.is_success(), "tune: {} {}", tuned.status, tuned.text);
    let reload = c
        .write(
            "sys/plugins/reload/backend",
            json!({ "plugin": "ai-keys", "scope": "global" }),
        )
        .await;
    assert!(
        reload.is_success(),
        "reload: {} {}",
        reload.status,
        reload.text
    );
    eprintln!("reload answer: {}", reload.text);
    let start = Instant::now();
    for i in cluster.live() {
        let name = cluster.nodes[i].name.clone();
        let server = cluster.server_pid(i);
        let (path, other) = (&to[i], &from[i]);
        let took = cluster
            .wait_for(&format!("{name} to run {version}"), SWITCH, || async move {
                let (running, documented) = node_versions(cluster, i).await;
                running == version
                    && documented == version
                    && !process::live_children_running(server, path).is_empty()
                    && process::live_children_running(server, other).is_empty()
            })
            .await;
        eprintln!(
            "{name} ran {version} {took:?} after the reload ({:?} since)",
            start.elapsed()
        );
    }
}

#[tokio::test]
async fn a_cluster_upgrades_and_rolls_back_with_standby_reads_never_failing() {
    let v2 = PluginBuild::v2();
    let cluster = Cluster::start().await;
    let leader = cluster.active().await.expect("exactly one active node");
    let standbys: Vec<usize> = cluster.standbys(leader);
    let v1_version = plugin_version();
    let v1_paths: Vec<PathBuf> = (0..cluster.nodes.len())
        .map(|i| cluster.plugin_path(i).to_owned())
        .collect();

    // A key every node serves.
    let value = secret("upgrade");
    let created = cluster
        .client(leader)
        .write("ai-keys/keys/app", json!({ "value": value }))
        .await;
    assert!(created.is_success(), "{}", created.text);
    for &i in &standbys {
        let c = cluster.client(i);
        let (c, value) = (&c, &value);
        cluster
            .wait_for("creds/app on a standby", REPLICATION, || async move {
                let r = c.read("ai-keys/creds/app").await;
                r.status == 200 && r.data()["api_key"] == value.as_str()
            })
            .await;
    }

    // Install: the same v2 file in every node's plugin directory, under its versioned name.
    let mut v2_paths = Vec::new();
    for path in &v1_paths {
        let target = path.with_file_name(v2.command());
        std::fs::copy(&v2.path, &target).expect("copying v2 into a plugin directory");
        v2_paths.push(target.canonicalize().expect("v2 path"));
    }
    let registered = cluster
        .client(leader)
        .write(
            "sys/plugins/catalog/secret/ai-keys",
            json!({ "sha256": v2.sha256, "version": v2.version, "command": v2.command() }),
        )
        .await;
    assert!(registered.is_success(), "{}", registered.text);

    // Reads on both standbys, in a bounded loop, for the whole upgrade and rollback.
    let stop = Arc::new(AtomicBool::new(false));
    let (reads, failures) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let clients: Vec<Client> = standbys.iter().map(|&i| cluster.client(i)).collect();
    let reader = {
        let (stop, reads, failures, value) =
            (stop.clone(), reads.clone(), failures.clone(), value.clone());
        tokio::spawn(async move {
            let start = Instant::now();
            let mut seen = Vec::new();
            while !stop.load(Ordering::SeqCst) && start.elapsed() < READ_LOOP {
                for c in &clients {
                    let r = c.read("ai-keys/creds/app").await;
                    reads.fetch_add(1, Ordering::SeqCst);
                    if r.status != 200 || r.data()["api_key"] != value.as_str() {
                        failures.fetch_add(1, Ordering::SeqCst);
                        if seen.len() < 5 {
                            seen.push(format!("{} {}", r.status, r.errors()));
                        }
                    }
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            seen
        })
    };

    // Upgrade, then roll back.
    for i in cluster.live() {
        let (running, _) = node_versions(&cluster, i).await;
        assert_eq!(
            running, v1_version,
            "{} before the upgrade",
            cluster.nodes[i].name
        );
    }
    switch_to(&cluster, leader, &v2.version, &v2_paths, &v1_paths).await;
    switch_to(&cluster, leader, &v1_version, &v1_paths, &v2_paths).await;

    stop.store(true, Ordering::SeqCst);
    let seen = reader.await.expect("the standby reader");
    let (reads, failures) = (
        reads.load(Ordering::SeqCst),
        failures.load(Ordering::SeqCst),
    );
    eprintln!("standby creds/ reads during upgrade and rollback: {reads}, failed {failures}");
    assert!(reads > 20, "the standby reads did not run: {reads}");
    assert_eq!(failures, 0, "standby creds/ reads failed: {seen:?}");
}
