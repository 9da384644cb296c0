//! 32 parallel clients issuing stage, test, promote, rotate, rollback, delete (and create again)
//! and reads, half of them on one shared key, half each on a key of its own. Afterwards every key's
//! history replays as a valid state-machine sequence and matches its record (never two current or
//! two pending versions), and no request got a 5xx. Then it measures whether different keys are
//! serialized behind each other: the same number of rotations on one key and spread over many keys,
//! in parallel; the ratio is reported, not asserted (timing belongs to scripts/bench.sh and
//! soak.sh).
//!
//! Sizes: `AI_KEYS_SOAK_CLIENTS` (default 32), `AI_KEYS_SOAK_OPS_PER_CLIENT` (default 12). The
//! operations are chosen at random from a printed seed (`AI_KEYS_TEST_SEED` replays them).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use rand::rngs::StdRng;
use rand::Rng;
use serde_json::json;
use tokio::sync::Mutex;

use super::invariants::{check_key, full_history};
use super::replay::replay;
use super::{figures, size};
use crate::providers::{create_key, openai_provider};
use crate::support::checks::secret;
use crate::support::fake_provider::FakeProvider;
use crate::support::seed::TestSeed;
use crate::support::{Bao, Client};

const OPS: [&str; 9] = [
    "stage", "test", "promote", "rotate", "rollback", "delete", "read", "creds", "history",
];

/// A fresh value the fake accepts.
fn value(fake: &FakeProvider, tag: &str) -> String {
    let v = secret(tag);
    fake.add_key(&v);
    v
}

/// The operation a successful `delete` is followed by: creating the key again.
const RECREATE: &str = "create again";
/// A [`RECREATE`] of the shared key refused because it exists: another client deleted it too
/// (a delete of a key that is gone also answers 204) and created it again first.
const RECREATE_RACED: &str = "create again (another client was first)";
/// The key half of the clients share.
const SHARED: &str = "shared";

/// One operation on `name`; returns each request made, as (operation, HTTP status): the
/// operation's own, and after a successful `delete` the [`RECREATE`] of the key (or
/// [`RECREATE_RACED`]).
async fn one_op(
    client: &Client,
    fake: &FakeProvider,
    op: &'static str,
    name: &str,
    rng: &mut StdRng,
) -> Vec<(&'static str, u16)> {
    let path = |p: &str| format!("ai-keys/{p}/{name}");
    let mut also = None;
    let reply = match op {
        "stage" => {
            client
                .write(&path("stage"), json!({ "value": value(fake, name) }))
                .await
        }
        "test" => client.write(&path("test"), json!({})).await,
        "promote" => {
            client
                .write(&path("promote"), json!({ "grace_period": "1h" }))
                .await
        }
        "rotate" => {
            let grace = if rng.random_bool(0.5) { "0s" } else { "1h" };
            client
                .write(
                    &path("rotate"),
                    json!({ "value": value(fake, name), "grace_period": grace }),
                )
                .await
        }
        "rollback" => client.write(&path("rollback"), json!({})).await,
        "delete" => {
            let r = client.delete(&path("keys")).await;
            if r.is_success() {
                // Create it again at once, so the others keep having something to work on.
                let body = json!({ "value": value(fake, name), "provider": "oa" });
                let r = client.write(&path("keys"), body).await;
                // Refused because the key exists (a create, or an update that would change the
                // value): only on the shared key can another client have created it meanwhile.
                let exists = r.status == 400
                    && (r.errors().contains("already exists")
                        || r.errors().contains("value cannot be changed by an update"));
                let label = if exists && name == SHARED {
                    RECREATE_RACED
                } else {
                    RECREATE
                };
                also = Some((label, r.status));
            }
            r
        }
        "read" => client.read(&path("keys")).await,
        "creds" => client.read(&path("creds")).await,
        _ => client.read(&path("history")).await,
    };
    let mut made = vec![(op, reply.status)];
    made.extend(also);
    made
}

#[tokio::test]
async fn parallel_clients_keep_every_history_a_valid_sequence_and_different_keys_parallel() {
    let seed = TestSeed::for_test("concurrency");
    let clients = size("AI_KEYS_SOAK_CLIENTS", 32).max(2);
    let per_client = size("AI_KEYS_SOAK_OPS_PER_CLIENT", 12).max(1);
    let (bao, fake) = tokio::join!(Bao::start(), FakeProvider::start());
    let fake = Arc::new(fake);
    let client = bao.client();
    openai_provider(&client, &fake, "oa").await;
    let mut names = vec![SHARED.to_string()];
    names.extend((0..clients / 2).map(|i| format!("own-{i}")));
    for n in &names {
        let body = json!({ "value": value(&fake, n), "provider": "oa" });
        create_key(&client, n, body).await;
    }

    let statuses = Arc::new(Mutex::new(BTreeMap::<(String, u16), usize>::new()));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let name = if c % 2 == 0 {
            SHARED.to_string()
        } else {
            format!("own-{}", c / 2)
        };
        let (client, fake, statuses) = (client.clone(), fake.clone(), statuses.clone());
        let mut rng = seed.rng(c as u64);
        tasks.push(tokio::spawn(async move {
            for _ in 0..per_client {
                let op = OPS[rng.random_range(0..OPS.len())];
                for (op, status) in one_op(&client, &fake, op, &name, &mut rng).await {
                    *statuses
                        .lock()
                        .await
                        .entry((op.to_string(), status))
                        .or_default() += 1;
                }
            }
        }));
    }
    for t in tasks {
        t.await.expect("client task");
    }
    let mixed_secs = started.elapsed().as_secs_f64();
    let statuses = statuses.lock().await.clone();
    let server_errors: Vec<_> = statuses
        .iter()
        .filter(|((_, s), _)| *s >= 500 || *s == 0)
        .collect();
    assert!(server_errors.is_empty(), "server errors: {server_errors:?}");
    // Only a client that deleted a key creates it again, right after its delete: on an own key
    // nothing can stand in the way of that create, so each one must succeed; on the shared key
    // it may find the key created again by another client (RECREATE_RACED), and nothing else.
    let failed_recreates: Vec<_> = statuses
        .iter()
        .filter(|((op, s), _)| op == RECREATE && *s != 200)
        .collect();
    assert!(
        failed_recreates.is_empty(),
        "keys not created again after their delete: {failed_recreates:?}"
    );

    let mut events = 0;
    for n in &names {
        if client.read(&format!("ai-keys/keys/{n}")).await.status == 200 {
            events += check_key(&client, &fake, n).await.replayed.events;
        } else {
            let history = full_history(&client, n).await;
            let r = replay(&history).unwrap_or_else(|why| panic!("{n}: {why}"));
            assert!(
                r.deleted,
                "{n} is gone but its history does not end deleted"
            );
            events += r.events;
        }
    }

    // Serialization: the same number of rotations, all on one key, then one per key.
    let n = clients;
    let spread: Vec<String> = (0..n).map(|i| format!("spread-{i}")).collect();
    for s in spread.iter().chain(std::iter::once(&"one".to_string())) {
        create_key(
            &client,
            s,
            json!({ "value": value(&fake, s), "provider": "oa" }),
        )
        .await;
    }
    let one = timed_rotations(&client, &fake, &vec!["one".to_string(); n]).await;
    let many = timed_rotations(&client, &fake, &spread).await;

    let ops = clients * per_client;
    let summary: BTreeMap<String, usize> =
        statuses.iter().fold(BTreeMap::new(), |mut m, ((_, s), c)| {
            *m.entry(s.to_string()).or_default() += c;
            m
        });
    figures(
        "concurrency",
        &[
            ("clients", &clients),
            ("operations", &ops),
            ("statuses", &format!("{summary:?}").replace(' ', "")),
            ("history_events_replayed", &events),
            ("mixed_secs", &format!("{mixed_secs:.1}")),
            ("rotations_one_key_secs", &format!("{one:.2}")),
            ("rotations_spread_secs", &format!("{many:.2}")),
            (
                "one_key_over_spread",
                &format!("{:.1}", one / many.max(0.001)),
            ),
        ],
    );
}

/// Wall time of one `rotate/` (with a value) per entry of `keys`, all in parallel.
async fn timed_rotations(client: &Client, fake: &Arc<FakeProvider>, keys: &[String]) -> f64 {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for k in keys {
        let (client, fake, k) = (client.clone(), fake.clone(), k.clone());
        tasks.push(tokio::spawn(async move {
            let body = json!({ "value": value(&fake, &k), "grace_period": "0s" });
            let r = client.write(&format!("ai-keys/rotate/{k}"), body).await;
            assert!(r.status < 500, "rotate/{k}: {}", r.text);
        }));
    }
    for t in tasks {
        t.await.expect("rotation task");
    }
    started.elapsed().as_secs_f64()
}
