//! Provider-backed one-call rotations that each carry a `rotation_id` and are retried once
//! with the same id when the answer failed, while the plugin is SIGKILLed 0-80 ms into every
//! third request (early: while the create intent, the create itself or the record's write is
//! under way). Two ticks after the kills stopped (once no create can still be in flight), every
//! key created at the provider is recorded live or revoked by the WAL recovery (run through the
//! tick hook), with the fake's lists paged by 5 and hiding each new key from one answer; and
//! no two created keys share a name at the provider (a create is never sent twice under one
//! name).
//!
//! Sizes: `AI_KEYS_SOAK_REPLAY_ROTATIONS` (rotations, default 45; scripts/soak.sh runs more).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::Rng;
use serde_json::json;

use super::invariants::provider_disagreements;
use super::{figures, size};
use crate::providers::{create_key, openai_provider};
use crate::support::checks::secret;
use crate::support::fake_provider::{FakeProvider, Switches};
use crate::support::seed::TestSeed;
use crate::support::{process, Bao, Client, Tick};

/// Past the longest a create may stay in flight: two calls of the provider's 2 s timeout, and
/// a margin for the whole seconds an intent's age is counted in.
const IN_FLIGHT: Duration = Duration::from_secs(6);

/// Bound of the wait for a killed plugin to answer again (the host restarts it on demand).
const RESTART_LIMIT: Duration = Duration::from_secs(30);

/// Waits until the mount answers a LIST again (bounded).
async fn until_answering(client: &Client) {
    let deadline = Instant::now() + RESTART_LIMIT;
    while Instant::now() < deadline {
        if matches!(client.try_request("LIST", "ai-keys/keys", None).await, Ok(r) if r.status == 200)
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the mount did not answer within {RESTART_LIMIT:?} of a kill");
}

/// The fingerprints of the key's live versions, and its pending version's number, if any.
async fn live_of(client: &Client, name: &str) -> (BTreeSet<String>, Option<u64>) {
    let reply = client.read(&format!("ai-keys/keys/{name}")).await;
    assert!(reply.is_success(), "keys/{name}: {}", reply.text);
    let key = reply.data();
    let live = key["versions"]
        .as_object()
        .expect("versions")
        .values()
        .filter(|v| {
            matches!(
                v["state"].as_str(),
                Some("pending" | "current" | "previous")
            )
        })
        .filter_map(|v| v["fingerprint"].as_str().map(str::to_string))
        .collect();
    (live, key["pending_version"].as_u64())
}

#[tokio::test]
async fn early_kills_of_replayed_rotations_leave_no_key_at_the_provider_unrecorded() {
    let rotations = size("AI_KEYS_SOAK_REPLAY_ROTATIONS", 45);
    let seed = TestSeed::for_test("crash_replays");
    let mut rng = seed.rng(0);
    let switches = Switches {
        page_cap: Some(5),
        hide_new_keys_once: true,
        ..Switches::default()
    };
    let (bao, fake) = tokio::join!(Bao::start(), FakeProvider::start_with(switches));
    let bao = Arc::new(bao);
    let client = bao.client();
    openai_provider(&client, &fake, "oa").await;
    let name = "replayed";
    let v1 = secret(name);
    fake.add_key(&v1);
    create_key(&client, name, json!({ "value": v1, "provider": "oa" })).await;

    let started = Instant::now();
    let (mut requests, mut kills, mut failed, mut replays_ok, mut rolled_back) = (0, 0, 0, 0, 0);
    for i in 0..rotations {
        let body = json!({ "grace_period": "0s", "rotation_id": format!("rot-{i}") });
        for attempt in 0..2 {
            requests += 1;
            let killer = (requests % 3 == 0).then(|| {
                let bao = bao.clone();
                let pause = Duration::from_millis(rng.random_range(0..80));
                tokio::spawn(async move {
                    tokio::time::sleep(pause).await;
                    let pids = bao.plugin_pids();
                    for &pid in &pids {
                        process::signal(pid, "KILL");
                    }
                    !pids.is_empty()
                })
            });
            let reply = client
                .try_request(
                    "POST",
                    &format!("ai-keys/rotate/{name}"),
                    Some(body.clone()),
                )
                .await;
            if let Some(k) = killer {
                kills += usize::from(k.await.expect("killer"));
                until_answering(&client).await;
            }
            let ok = matches!(&reply, Ok(r) if r.is_success());
            if ok {
                replays_ok += usize::from(attempt == 1);
                break;
            }
            failed += 1;
            if attempt == 1 {
                break;
            }
        }
        // An interrupted rotation may leave a pending version: an operator rolls it back.
        if live_of(&client, name).await.1.is_some() {
            let r = client
                .write(&format!("ai-keys/rollback/{name}"), json!({}))
                .await;
            assert!(r.is_success(), "rollback: {}", r.text);
            rolled_back += 1;
        }
    }
    let loop_end = Instant::now();
    let loop_secs = started.elapsed().as_secs();
    let active_after_loop = fake.active_created_keys().len();

    // Recovery believes no lookup while a create may still be in flight: two provider
    // timeouts after its intent was written (the tick hook shortens every other wait). Then
    // two ticks must settle everything: the first lookup may miss a new key (the fake hides
    // each one from one list answer), the second finds it.
    while loop_end.elapsed() < IN_FLIGHT {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let settling = Instant::now();
    for _ in 0..2 {
        client.tick(Tick::RecoverYoungIntents).await;
    }
    let settle = settling.elapsed();
    let (live, _) = live_of(&client, name).await;
    let (orphans, lost) = provider_disagreements(&fake, &live);
    assert!(
        orphans.is_empty(),
        "orphans at the provider two ticks after the kills stopped: {orphans:?}"
    );
    assert!(lost.is_empty(), "live versions revoked: {lost:?}");
    let names = fake.created_key_names();
    let unique: BTreeSet<&String> = names.iter().collect();
    assert_eq!(
        unique.len(),
        names.len(),
        "a create sent twice under one name: {names:?}"
    );

    figures(
        "crash_replays",
        &[
            ("rotations", &rotations),
            ("requests", &requests),
            ("kills", &kills),
            ("failed_answers", &failed),
            ("replays_answered", &replays_ok),
            ("rolled_back", &rolled_back),
            ("created_at_provider", &fake.created_keys().len()),
            ("active_after_loop", &active_after_loop),
            ("loop_secs", &loop_secs),
            ("settle_millis", &settle.as_millis()),
        ],
    );
    assert!(
        kills * 4 >= requests / 3,
        "{kills} kills in {requests} requests"
    );
}
