//! Writes in a row through a standby: each must be forwarded to the leader rather than judged
//! against the standby's lagging replicated storage.

use serde_json::json;

use super::{key_settled, ok, secret};
use crate::support::cluster::Cluster;
use crate::support::fake_provider::FakeProvider;
use crate::support::Reply;

/// A write sent to a standby reaches the standby's plugin first, whose replicated storage lags
/// the leader by 50-100 ms. api.md ("Automatic work"): "a write request there returns the
/// server's read-only storage error before any provider call, so the server forwards it to the
/// active node". A handler that judged the write against the standby's stale storage would
/// answer the client itself (a 400 is not forwarded), so a client sending writes in a row through
/// a standby (a load balancer in front of the cluster) would see, for example:
/// - `test/` right after a forwarded `stage/`: 400 "no version is pending; stage one first";
/// - `keys/` naming a provider just written through the leader: 400 "provider ... does not
///   exist".
///
/// The plugin refuses every write on a standby at once with the read-only error, so the leader,
/// which has the fresh state, decides every one of them.
#[tokio::test]
async fn writes_through_a_standby_are_not_refused_from_stale_storage() {
    const ROUNDS: usize = 3;
    let (cluster, fake) = tokio::join!(Cluster::start(), FakeProvider::start());
    let leader = cluster.active().await.expect("exactly one active node");
    let standby = cluster
        .standbys(leader)
        .into_iter()
        .next()
        .expect("a standby");
    let via = cluster.client(standby);
    let mut failures = Vec::new();
    let mut expect_ok = |reply: Reply, what: String| {
        if !reply.is_success() {
            let message = reply
                .errors()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            failures.push(format!("{what}: HTTP {}: {message}", reply.status));
        }
    };

    let reply = via
        .write("ai-keys/keys/app", json!({ "value": secret("v1") }))
        .await;
    ok(&reply, "keys/app create through a standby");
    key_settled(&cluster, &via, "keys/app on the standby", |k| {
        k["current_version"] == 1
    })
    .await;
    // stage, test, promote in a row, each sent as soon as the previous one answered.
    for round in 0..ROUNDS {
        let reply = via
            .write("ai-keys/stage/app", json!({ "value": secret("next") }))
            .await;
        expect_ok(reply, format!("round {round}: stage/app"));
        let reply = via.write("ai-keys/test/app", json!({})).await;
        expect_ok(reply, format!("round {round}: test/app right after stage/"));
        let reply = via.write("ai-keys/promote/app", json!({})).await;
        expect_ok(
            reply,
            format!("round {round}: promote/app right after test/"),
        );
        // Start the next round from a settled state, whatever happened in this one.
        let leader_key = ok(
            &cluster.client(leader).read("ai-keys/keys/app").await,
            "keys/app on the leader",
        );
        if !leader_key["pending_version"].is_null() {
            ok(
                &cluster
                    .client(leader)
                    .write("ai-keys/rollback/app", json!({}))
                    .await,
                "rollback/app through the leader",
            );
        }
        let leader_key = ok(
            &cluster.client(leader).read("ai-keys/keys/app").await,
            "keys/app on the leader",
        );
        let current = leader_key["current_version"].clone();
        key_settled(&cluster, &via, "the standby to catch up", |k| {
            k["current_version"] == current && k["pending_version"].is_null()
        })
        .await;
    }

    // A provider written through the leader, named at once through a standby.
    for round in 0..ROUNDS {
        let name = format!("p{round}");
        let body = json!({ "type": "openai", "base_url": fake.base_url(), "timeout": "2s" });
        ok(
            &cluster
                .client(leader)
                .write(&format!("ai-keys/providers/{name}"), body)
                .await,
            "providers/ through the leader",
        );
        let reply = via
            .write("ai-keys/keys/app", json!({ "provider": name }))
            .await;
        expect_ok(
            reply,
            format!("keys/app provider={name} right after providers/{name}"),
        );
    }

    assert!(
        failures.is_empty(),
        "writes sent to a standby were refused from its stale storage instead of being \
         forwarded:\n{}",
        failures.join("\n")
    );
}
