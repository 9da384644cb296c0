//! A standby serves `creds/` of a federated key: it signs with the replicated signing key and
//! exchanges on its own, writing no storage (a write on a standby fails with "cannot write to
//! readonly storage", and reads are not forwarded, so a 200 shows none was tried).

use std::time::Duration;

use serde_json::json;

use super::exchange::{accepted, AUDIENCE, IDS, SUBJECT};
use crate::support::cluster::Cluster;
use crate::support::fake_provider::FakeProvider;

/// Bound of the wait for the leader's writes to reach a standby.
const REPLICATION: Duration = Duration::from_secs(20);

#[tokio::test]
async fn a_standby_serves_creds_of_a_federated_key_without_writing_storage() {
    let (cluster, fake) = tokio::join!(Cluster::start(), FakeProvider::start());
    let leader = cluster.active().await.expect("exactly one active node");
    let standby = cluster
        .standbys(leader)
        .into_iter()
        .next()
        .expect("a standby");
    let root = cluster.client(leader);
    let issuer = format!("{}/v1/ai-keys", cluster.nodes[leader].addr);
    root.write("ai-keys/config", json!({"issuer": issuer}))
        .await
        .expect_status(200);
    root.write(
        "ai-keys/providers/oa",
        json!({"type": "openai", "base_url": fake.base_url()}),
    )
    .await
    .expect_status(200);
    fake.trust_issuer(&issuer, AUDIENCE, SUBJECT, &IDS, 600);
    let mut key =
        json!({"federated": true, "provider": "oa", "subject": SUBJECT, "audience": AUDIENCE});
    for (k, v) in IDS {
        key[k] = json!(v);
    }
    root.write("ai-keys/keys/app", key).await.expect_status(200);

    let via = cluster.client(standby);
    let via = &via;
    cluster
        .wait_for("keys/app on the standby", REPLICATION, || async move {
            via.read("ai-keys/keys/app").await.status == 200
        })
        .await;
    let first = via.read("ai-keys/creds/app").await;
    first.expect_status(200);
    let token = first.data()["api_key"].as_str().unwrap().to_string();
    assert!(accepted(&fake, &token).await);
    assert_eq!(fake.exchanges(), 1, "{:?}", fake.exchange_refusals());
    // Its own cache answers the next read.
    let again = via.read("ai-keys/creds/app").await;
    again.expect_status(200);
    assert_eq!(again.data()["api_key"], token.as_str());
    assert_eq!(fake.exchanges(), 1);
    // Each node counts its own exchanges in memory: the standby's history/ shows its one, the
    // leader's none.
    let counted = via.read("ai-keys/history/app").await;
    counted.expect_status(200);
    let ex = &counted.data()["exchanges"];
    assert_eq!(
        (ex["ok"].clone(), ex["node"].clone()),
        (json!(1), json!("standby"))
    );
    let leader_view = root.read("ai-keys/history/app").await;
    leader_view.expect_status(200);
    assert_eq!(leader_view.data()["exchanges"]["ok"], 0);
    assert_eq!(leader_view.data()["exchanges"]["node"], "active");
    let log = cluster.server_log(standby);
    assert!(!log.contains(&token), "token in the standby's log");
}
