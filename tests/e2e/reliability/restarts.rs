//! Restarts with persistent storage. The three-node integrated-Raft cluster (real `bao server`s,
//! not dev mode, unsealed by the test) is stopped whole, once with SIGTERM and once with SIGKILL,
//! each time while a provider-backed rotation is in flight, and started again. Every key, version,
//! grace window, pending version and history event survives each restart unchanged (compared field
//! by field, events as a prefix), the pending version is promoted afterwards, and the work the stop
//! interrupted finishes: the recovery revokes whatever the interrupted rotation created (no orphan
//! at the provider), and every invariant holds.
//!
//! The recovery runs on ticks the test asks for through the plugin's tick hook (every intent
//! older than a second), not on the host's. Runs in the default suite at its small size (three
//! servers, two restarts); scripts/soak.sh runs it larger. Size: `AI_KEYS_SOAK_RESTARTS`
//! (default 2: TERM then KILL, alternating beyond).

use std::time::Duration;

use rand::Rng;
use serde_json::{json, Value};

use super::invariants::{agrees_with_provider, check_key, full_history};
use super::{figures, size};
use crate::providers::{create_key, openai_provider, RECOVERY_DEADLINE};
use crate::support::checks::secret;
use crate::support::cluster::Cluster;
use crate::support::fake_provider::FakeProvider;
use crate::support::seed::TestSeed;
use crate::support::{Client, Tick};

const NAMES: [&str; 3] = ["rs-pending", "rs-grace", "rs-loop"];

async fn ok(client: &Client, path: &str, body: Value) -> Value {
    let r = client.write(path, body).await;
    assert_eq!(r.status, 200, "POST {path}: {}", r.text);
    r.data().clone()
}

/// Every key's record (without the derived, time-dependent fields) and full history.
async fn state(client: &Client) -> Vec<(Value, Vec<Value>)> {
    let mut out = Vec::new();
    for n in NAMES {
        let mut key = client
            .read(&format!("ai-keys/keys/{n}"))
            .await
            .data()
            .clone();
        for derived in ["age_days", "overdue_days", "next_rotation_time", "overdue"] {
            key.as_object_mut().unwrap().remove(derived);
        }
        out.push((key, full_history(client, n).await));
    }
    out
}

async fn leader(cluster: &Cluster) -> Client {
    cluster.client(cluster.active().await.expect("a leader"))
}

#[tokio::test]
async fn stopping_and_starting_the_raft_cluster_loses_nothing_and_finishes_interrupted_work() {
    let restarts = size("AI_KEYS_SOAK_RESTARTS", 2).max(1);
    // When each stop comes after its rotation is sent.
    let mut rng = TestSeed::for_test("restarts").rng(0);
    let (mut cluster, fake) = tokio::join!(Cluster::start(), FakeProvider::start());
    let mut l = leader(&cluster).await;
    openai_provider(&l, &fake, "oa").await;
    for n in NAMES {
        let v = secret(n);
        fake.add_key(&v);
        create_key(&l, n, json!({ "value": v, "provider": "oa" })).await;
    }
    ok(&l, "ai-keys/stage/rs-pending", json!({})).await;
    ok(
        &l,
        "ai-keys/rotate/rs-grace",
        json!({ "grace_period": "2h" }),
    )
    .await;

    let mut restart_secs = Vec::new();
    for r in 0..restarts {
        let signal = if r % 2 == 0 { "TERM" } else { "KILL" };
        ok(
            &l,
            "ai-keys/rotate/rs-loop",
            json!({ "grace_period": "1h" }),
        )
        .await;
        let before = state(&l).await;
        // A rotation in flight at the moment of the stop.
        let c = l.clone();
        let inflight = tokio::spawn(async move {
            c.try_request("POST", "ai-keys/rotate/rs-loop", Some(json!({})))
                .await
        });
        tokio::time::sleep(Duration::from_millis(rng.random_range(5..80))).await;
        cluster.stop_every_node(signal);
        let interrupted = inflight.await.expect("task");
        restart_secs.push(cluster.restart_stopped().await.as_secs_f64());
        l = leader(&cluster).await;
        let after = state(&l).await;
        let completed = matches!(&interrupted, Ok(r) if r.status == 200);
        for ((kb, hb), (ka, ha)) in before.iter().zip(&after) {
            let name = kb["name"].as_str().unwrap_or("?");
            assert!(
                ha.len() >= hb.len() && ha[..hb.len()] == hb[..],
                "{name}: history lost"
            );
            if name != "rs-loop" || !completed && ha.len() == hb.len() {
                assert_eq!(kb, ka, "{name} changed across a {signal} restart");
            }
        }
        eprintln!(
            "restart {r} ({signal}): interrupted rotation {:?}",
            interrupted.map(|r| r.status)
        );
        // Finish what the interrupted rotation may have left pending.
        let k = l.read("ai-keys/keys/rs-loop").await;
        if !k.data()["pending_version"].is_null() {
            ok(&l, "ai-keys/rollback/rs-loop", json!({})).await;
        }
    }
    ok(&l, "ai-keys/test/rs-pending", json!({})).await;
    ok(
        &l,
        "ai-keys/promote/rs-pending",
        json!({ "grace_period": "0s" }),
    )
    .await;
    let grace = l.read("ai-keys/keys/rs-grace").await.data()["versions"]["1"].clone();
    assert_eq!(
        grace["state"], "previous",
        "the grace window did not survive: {grace:#}"
    );

    let (lc, f) = (&l, &fake);
    let settle = cluster
        .wait_for(
            "no orphan at the provider after the restarts",
            RECOVERY_DEADLINE,
            || async move {
                lc.tick(Tick::RecoverYoungIntents).await;
                agrees_with_provider(lc, f, &NAMES).await
            },
        )
        .await;
    let mut events = 0;
    for n in NAMES {
        events += check_key(&l, &fake, n).await.replayed.events;
    }
    let secs: Vec<String> = restart_secs.iter().map(|s| format!("{s:.1}")).collect();
    figures(
        "restarts",
        &[
            ("restarts", &restarts),
            ("restart_to_mount_secs", &secs.join(",")),
            ("created_at_provider", &fake.created_keys().len()),
            ("history_events", &events),
            ("settle_secs", &settle.as_secs()),
        ],
    );
}
