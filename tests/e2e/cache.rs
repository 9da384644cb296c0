//! The plugin's cache of decoded key records is exact: after a write on the active node, an
//! invalidation on a standby, a grace end or a revocation, the next read reflects it. Each read
//! here is preceded by reads that warm the cache, so a cache that ignored the event would answer
//! the old value.

use std::time::Duration;

use serde_json::{json, Value};

use crate::providers::{create_key, creds, read_key, rotate, wait_until, SHORT_DEADLINE};
use crate::support::checks::{secret, write_ok};
use crate::support::cluster::Cluster;
use crate::support::{Bao, Client};

/// How long a write may take to reach a standby's storage (openbao.md: 50-100 ms observed).
const REPLICATION: Duration = Duration::from_secs(2);

/// Reads `creds/<name>` a few times (the first fills the cache, the others are served by it).
async fn warm(client: &Client, name: &str) -> Value {
    for _ in 0..3 {
        creds(client, name).await;
    }
    creds(client, name).await
}

#[tokio::test]
async fn own_writes_and_revocations_show_on_the_next_read() {
    let bao = Bao::start().await;
    let client = bao.client();
    let (v1, v2, v3) = (secret("v1"), secret("v2"), secret("v3"));
    create_key(&client, "app", json!({ "value": v1 })).await;
    assert_eq!(warm(&client, "app").await["api_key"], v1.as_str());
    // A rotation on the active node.
    let reply = rotate(&client, "app", json!({ "value": v2, "grace_period": "1h" })).await;
    assert!(reply.is_success(), "rotate: {}", reply.text);
    let now = creds(&client, "app").await;
    assert_eq!(now["api_key"], v2.as_str(), "{now:#}");
    assert_eq!(now["previous_api_key"], v1.as_str(), "{now:#}");
    // A revocation: finalize/ ends the grace window now.
    assert_eq!(warm(&client, "app").await["previous_api_key"], v1.as_str());
    write_ok(&client, "ai-keys/finalize/app", json!({})).await;
    let now = creds(&client, "app").await;
    assert!(now.get("previous_api_key").is_none(), "{now:#}");
    assert_eq!(
        read_key(&client, "app").await["versions"]["1"]["state"],
        "revoked"
    );
    // A settings change shows on keys/ too.
    read_key(&client, "app").await;
    write_ok(
        &client,
        "ai-keys/keys/app",
        json!({ "custom_metadata": { "team": "b" } }),
    )
    .await;
    assert_eq!(
        read_key(&client, "app").await["custom_metadata"]["team"],
        "b"
    );
    // A delete, then a new key under the same name.
    assert!(client.delete("ai-keys/keys/app").await.is_success());
    assert_eq!(client.read("ai-keys/creds/app").await.status, 404);
    create_key(&client, "app", json!({ "value": v3 })).await;
    assert_eq!(creds(&client, "app").await["api_key"], v3.as_str());
}

#[tokio::test]
async fn a_grace_end_shows_on_the_next_read() {
    let bao = Bao::start().await;
    let client = bao.client();
    let (v1, v2) = (secret("v1"), secret("v2"));
    create_key(&client, "app", json!({ "value": v1 })).await;
    let reply = rotate(&client, "app", json!({ "value": v2, "grace_period": "2s" })).await;
    assert!(reply.is_success(), "rotate: {}", reply.text);
    let during = warm(&client, "app").await;
    assert_eq!(during["previous_api_key"], v1.as_str(), "{during:#}");
    let expires: chrono::DateTime<chrono::Utc> = during["previous_expires_time"]
        .as_str()
        .expect("previous_expires_time")
        .parse()
        .expect("RFC 3339");
    // No tick is due for a minute: only a read that judges the cached record now sees the end.
    wait_until(
        &bao,
        "creds/app without previous_api_key",
        SHORT_DEADLINE,
        || {
            let client = &client;
            async move { creds(client, "app").await.get("previous_api_key").is_none() }
        },
    )
    .await;
    assert!(
        chrono::Utc::now() >= expires,
        "the previous key left before its grace ended"
    );
    assert_eq!(creds(&client, "app").await["api_key"], v2.as_str());
}

/// A rotation and a revocation on the leader reach a standby's next read as soon as the host
/// invalidates the standby's cached record (within the replication bound), never later.
#[tokio::test]
async fn a_standby_read_follows_the_leader_after_invalidation() {
    let cluster = Cluster::start().await;
    let leader = cluster.active().await.expect("exactly one active node");
    let standby = cluster
        .standbys(leader)
        .into_iter()
        .next()
        .expect("a standby");
    let (on_leader, on_standby) = (cluster.client(leader), cluster.client(standby));
    let (v1, v2) = (secret("v1"), secret("v2"));
    create_key(&on_leader, "app", json!({ "value": v1 })).await;
    let standby_creds = |want: fn(&Value, &str) -> bool, value: String| {
        let client = &on_standby;
        move || {
            let value = value.clone();
            async move {
                let reply = client.read("ai-keys/creds/app").await;
                reply.status == 200 && want(reply.data(), &value)
            }
        }
    };
    let current_is = |d: &Value, v: &str| d["api_key"] == v;
    cluster
        .wait_for(
            "the key on the standby",
            REPLICATION,
            standby_creds(current_is, v1.clone()),
        )
        .await;
    assert_eq!(warm(&on_standby, "app").await["api_key"], v1.as_str());

    let reply = rotate(
        &on_leader,
        "app",
        json!({ "value": v2, "grace_period": "1h" }),
    )
    .await;
    assert!(reply.is_success(), "rotate: {}", reply.text);
    let in_grace = |d: &Value, v: &str| d["api_key"] == v && d["previous_api_key"].is_string();
    cluster
        .wait_for(
            "the rotation on the standby",
            REPLICATION,
            standby_creds(in_grace, v2.clone()),
        )
        .await;

    assert_eq!(
        warm(&on_standby, "app").await["previous_api_key"],
        v1.as_str()
    );
    write_ok(&on_leader, "ai-keys/finalize/app", json!({})).await;
    let revoked = |d: &Value, v: &str| d["api_key"] == v && d.get("previous_api_key").is_none();
    cluster
        .wait_for(
            "the revocation on the standby",
            REPLICATION,
            standby_creds(revoked, v2.clone()),
        )
        .await;
}
