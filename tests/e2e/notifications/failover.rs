//! Failover: on the three-node Raft cluster, events that wait in the outbox while the receiver
//! is down are delivered by the new active node after the leader is killed, each once by id
//! (the outbox is in the replicated storage; only the active node delivers).

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::json;

use super::{signing_secret, Receiver};
use crate::support::checks::secret;
use crate::support::cluster::Cluster;
use crate::support::{Client, Tick};

const DEADLINE: Duration = Duration::from_secs(60);

async fn ok(client: &Client, path: &str, body: serde_json::Value) {
    let r = client.write(path, body).await;
    assert_eq!(r.status, 200, "POST {path}: {}", r.text);
}

fn received_types(receiver: &Receiver) -> BTreeSet<String> {
    receiver
        .events()
        .iter()
        .map(|e| e["type"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test]
async fn the_new_active_node_delivers_what_waited_when_the_leader_died() {
    let mut cluster = Cluster::start().await;
    let whsec = signing_secret();
    let receiver = Receiver::start(&whsec);
    let first = cluster.active().await.expect("a leader");
    let leader = cluster.client(first);
    ok(
        &leader,
        "ai-keys/notifications/ops",
        json!({"url": receiver.url, "secret": whsec, "events": ["rotation.promoted", "rotation.staged"]}),
    )
    .await;
    ok(
        &leader,
        "ai-keys/keys/fk",
        json!({ "value": secret("fo1") }),
    )
    .await;
    receiver.set_down(true);
    ok(
        &leader,
        "ai-keys/rotate/fk",
        json!({ "value": secret("fo2") }),
    )
    .await;
    leader.tick(Tick::AsTheHost).await;
    assert!(receiver.events().is_empty());

    cluster.kill(first);
    let c = &cluster;
    c.wait_for("a new leader", DEADLINE, || async move {
        c.active().await.is_some_and(|i| i != first)
    })
    .await;
    let next = cluster.client(cluster.active().await.expect("new leader"));
    receiver.set_down(false);
    let (n, r) = (&next, &receiver);
    cluster
        .wait_for(
            "the waiting events from the new leader",
            DEADLINE,
            || async move {
                n.tick(Tick::AsTheHost).await;
                received_types(r).len() == 2
            },
        )
        .await;
    assert_eq!(
        received_types(&receiver),
        BTreeSet::from([
            "io.openbao.ai-keys.rotation.promoted".to_string(),
            "io.openbao.ai-keys.rotation.staged".to_string()
        ])
    );
    let ids: BTreeSet<String> = receiver
        .events()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 2, "one id per event: {:?}", receiver.events());
    assert!(receiver.rejected().is_empty(), "{:?}", receiver.rejected());
}
