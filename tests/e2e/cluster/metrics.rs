//! `metrics` on every node of a cluster: each node answers from its own plugin and says which
//! node it is (`ai_keys_node_active`, JSON `node`); a standby, which never runs the periodic
//! work, leaves out the tick gauge (its value would be its plugin's start, and
//! `AiKeysPeriodicWorkStalled` would fire 15 minutes after it) and reports the same stored
//! figures as the active node.

use serde_json::{json, Value};

use super::{secret, REPLICATION};
use crate::support::cluster::Cluster;

/// The Prometheus text of `metrics` through node `i`, if it answers 200.
async fn prometheus(cluster: &Cluster, i: usize) -> Option<String> {
    let reply = cluster
        .client(i)
        .read("ai-keys/metrics?format=prometheus")
        .await;
    (reply.status == 200).then_some(reply.text)
}

/// The value of the sample line starting with `series ` in `text`.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test]
async fn a_standby_says_it_is_one_and_exports_no_tick_it_never_advances() {
    let cluster = Cluster::start().await;
    let leader = cluster.active().await.expect("exactly one active node");
    let value = secret("metrics");
    let created = cluster
        .client(leader)
        .write("ai-keys/keys/app", json!({ "value": value }))
        .await;
    assert!(created.is_success(), "{}", created.text);

    let tick = "ai_keys_last_successful_tick_timestamp_seconds{mount=\"ai-keys\"}";
    let active = "ai_keys_node_active{mount=\"ai-keys\"}";
    let rotations = "ai_keys_rotations_total{key=\"app\",mount=\"ai-keys\"}";
    let text = prometheus(&cluster, leader)
        .await
        .expect("metrics on the leader");
    assert_eq!(sample(&text, active), Some(1.0), "{text}");
    assert!(sample(&text, tick).is_some(), "{text}");
    let json: Value = cluster
        .client(leader)
        .read("ai-keys/metrics")
        .await
        .data()
        .clone();
    assert_eq!(json["node"], "active", "{json:#}");

    for i in cluster.standbys(leader) {
        let name = &cluster.nodes[i].name;
        // The key replicated: the standby's own plugin reports it from its storage.
        let cluster_ref = &cluster;
        cluster
            .wait_for(
                &format!("key app in the metrics of {name}"),
                REPLICATION,
                || async move {
                    prometheus(cluster_ref, i)
                        .await
                        .is_some_and(|t| sample(&t, rotations) == Some(0.0))
                },
            )
            .await;
        let text = prometheus(&cluster, i).await.expect("metrics on a standby");
        assert_eq!(sample(&text, active), Some(0.0), "{name}: {text}");
        assert!(
            !text.contains("ai_keys_last_successful_tick_timestamp_seconds"),
            "{name} exports a tick it never advances: {text}"
        );
        let json: Value = cluster
            .client(i)
            .read("ai-keys/metrics")
            .await
            .data()
            .clone();
        assert_eq!(json["node"], "standby", "{name}: {json:#}");
        assert!(
            !json.to_string().contains(&value),
            "{name}: a value in metrics"
        );
    }
}
