//! A Raft snapshot restore on a three-node cluster: OpenBao restores storage on every node but
//! restarts the plugin only on the leader (its restore runs preSeal and postUnseal); a follower
//! applies the snapshot and purges the server's own cache, and its plugin gets no InvalidateKey,
//! no reload and no Initialize. So a standby that cached records kept serving what storage no
//! longer held. A standby keeps no records, and drops its digests when the restarted active
//! plugin's start mark reaches it: within seconds of the restore, `creds/`, `overdue` and
//! `metrics` on every node agree with the restored storage.

use std::time::{Duration, Instant};

use chrono::{SecondsFormat, Utc};
use serde_json::json;

use super::secret;
use crate::support::cluster::Cluster;
use crate::support::Client;

/// How long after the restore every node may take to answer from the restored storage (the
/// leader's plugin restarts; replication 50-100 ms).
const SETTLE: Duration = Duration::from_secs(15);

/// What node `c` answers: `creds/<name>`'s value (None unless 200), whether `overdue` lists
/// `rotated`, and whether `metrics` mention key `later`.
async fn view(c: &Client) -> (Option<String>, Option<String>, bool, bool) {
    let creds = |name: &'static str| async move {
        let r = c.read(&format!("ai-keys/creds/{name}")).await;
        (r.status == 200).then(|| r.data()["api_key"].as_str().unwrap_or_default().to_owned())
    };
    let later = creds("later").await;
    let rotated = creds("rotated").await;
    let overdue = c.read("ai-keys/overdue").await;
    let listed = overdue.status == 200 && overdue.text.contains("\"rotated\"");
    let metrics = c.read("ai-keys/metrics?format=prometheus").await;
    let mentions_later = metrics.status != 200 || metrics.text.contains("key=\"later\"");
    (later, rotated, listed, mentions_later)
}

#[tokio::test]
async fn after_a_snapshot_restore_every_node_answers_from_the_restored_storage() {
    let cluster = Cluster::start().await;
    let leader = cluster.active().await.expect("exactly one active node");
    let lead = cluster.client(leader);
    // `rotated` is overdue (created 200 days ago, production: 90 days) when the snapshot is taken.
    let (r1, r2, l1) = (secret("r1"), secret("r2"), secret("later"));
    let created =
        (Utc::now() - chrono::Duration::days(200)).to_rfc3339_opts(SecondsFormat::Secs, true);
    let reply = lead
        .write(
            "ai-keys/keys/rotated",
            json!({ "value": r1, "created_time": created }),
        )
        .await;
    assert!(reply.is_success(), "{}", reply.text);

    let http = reqwest::Client::new();
    let url = |i: usize| format!("{}/v1/sys/storage/raft/snapshot", cluster.nodes[i].addr);
    let snapshot = http
        .get(url(leader))
        .header("X-Vault-Token", &cluster.root_token)
        .send()
        .await
        .expect("snapshot save");
    assert_eq!(snapshot.status(), 200);
    let snapshot = snapshot.bytes().await.expect("snapshot bytes");

    // After the snapshot: a new key, and the overdue key rotated.
    assert!(lead
        .write("ai-keys/keys/later", json!({ "value": l1 }))
        .await
        .is_success());
    let reply = lead
        .write("ai-keys/rotate/rotated", json!({ "value": r2 }))
        .await;
    assert!(reply.is_success(), "{}", reply.text);
    let after = (Some(l1.clone()), Some(r2.clone()), false, true);
    for i in cluster.live() {
        let c = cluster.client(i);
        let (c, after) = (&c, &after);
        // Reads repeated, so a node that caches has both keys and their digests warm.
        cluster
            .wait_for(
                "every node to serve the writes",
                Duration::from_secs(5),
                || async move { view(c).await == *after && view(c).await == *after },
            )
            .await;
    }

    let restored = http
        .post(url(leader))
        .header("X-Vault-Token", &cluster.root_token)
        .body(snapshot)
        .send()
        .await
        .expect("snapshot restore");
    assert!(
        restored.status().is_success(),
        "restore: {}",
        restored.status()
    );
    let start = Instant::now();
    let before = (None, Some(r1.clone()), true, false);
    // Standbys first: they are the nodes OpenBao tells nothing.
    let mut nodes: Vec<usize> = cluster.standbys(leader);
    nodes.push(leader);
    for i in nodes {
        let c = cluster.client(i);
        let (c, before) = (&c, &before);
        let took = cluster
            .wait_for(
                &format!(
                    "{} to answer from the restored storage",
                    cluster.nodes[i].name
                ),
                SETTLE,
                || async move { view(c).await == *before },
            )
            .await;
        eprintln!(
            "{} agreed with the restored storage {took:?} ({:?} after the restore)",
            cluster.nodes[i].name,
            start.elapsed()
        );
    }
    // And keeps doing so: no node ever goes back to what storage no longer holds.
    for _ in 0..5 {
        for i in cluster.live() {
            let now = view(&cluster.client(i)).await;
            assert_eq!(now, before, "{} after the restore", cluster.nodes[i].name);
        }
    }
}
