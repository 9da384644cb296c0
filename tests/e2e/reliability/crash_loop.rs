//! Provider-backed rotations (the key is created at the fake provider: no `value`) while the plugin
//! process is SIGKILLed at random moments, some of them while the provider holds its answer to a
//! create (the key exists there, the engine has not stored it yet). Afterwards, once the WAL
//! recovery has run on the periodic tick (the test runs it through the plugin's tick hook, for
//! every intent older than a second, instead of waiting for the host's tick and the production
//! minimum age of 30 s), every promise of [`invariants`](super::invariants) holds, checked
//! against the fake's own list of keys.
//!
//! The project is crowded (for each key a person's key, another engine's keys named like the
//! key's, a legacy account: [`FakeProvider::crowd_openai_project`]), its lists come in pages of
//! 5 and hide each new key from one answer. The test asserts how many creates the kills held,
//! that the recovery found at least their intents and revoked at least their keys (each told
//! in the key's history), that no intent is left, that the provider's live keys are exactly
//! those the records claim, and that no key of the crowd was touched.
//!
//! Sizes: `AI_KEYS_SOAK_ROTATIONS` (rotation attempts in all, default 100) over
//! `AI_KEYS_SOAK_KEYS` keys (default 6) rotated in parallel; a kill 150-800 ms after the plugin answers again, one in
//! `AI_KEYS_SOAK_HELD_EVERY` (default 3) while a create answer is held. Rotations go on past
//! the attempts asked for until the killer has made one kill per 20 of them. The grace periods,
//! the pauses before kills and how pending versions are finished are chosen at random from a
//! printed seed (`AI_KEYS_TEST_SEED` replays the choices, not the machine's timing).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::Rng;
use serde_json::json;

use super::invariants::{assert_revoked_stay_dead, check_key, fingerprint};
use super::{figures, size};
use crate::providers::{
    create_intents, create_key, openai_provider, tick_until, PROJECT, RECOVERY_DEADLINE,
};
use crate::support::checks::secret;
use crate::support::fake_provider::{FakeProvider, Switches};
use crate::support::seed::TestSeed;
use crate::support::{Bao, Client, Tick};

mod accounting;
mod killer;

use accounting::{disagreements, recovery_accounting};
use killer::kill_until;

/// Outcomes of the rotation workers.
#[derive(Default)]
struct Tally {
    attempts: AtomicUsize,
    rotated: AtomicUsize,
    interrupted: AtomicUsize,
    refused: AtomicUsize,
    finished_pending: AtomicUsize,
    served_dead: AtomicUsize,
    reads: AtomicUsize,
    kills: AtomicUsize,
}

/// How long rotations go on past the attempts asked for while the killer has not yet made the
/// kills the test needs: on an idle machine 100 rotations take about a second, less than two of
/// the killer's pauses, and the number of kills must not depend on the machine's speed.
const MORE_KILLS_LIMIT: Duration = Duration::from_secs(120);

#[tokio::test]
async fn sigkill_during_provider_backed_rotations_loses_revives_and_orphans_nothing() {
    let rotations = size("AI_KEYS_SOAK_ROTATIONS", 100);
    let nkeys = size("AI_KEYS_SOAK_KEYS", 6).max(1);
    let held_every = size("AI_KEYS_SOAK_HELD_EVERY", 3).max(1);
    let seed = TestSeed::for_test("crash_loop");
    let switches = Switches {
        page_cap: Some(5),
        hide_new_keys_once: true,
        ..Switches::default()
    };
    let (bao, fake) = tokio::join!(Bao::start(), FakeProvider::start_with(switches));
    let started = Instant::now();
    let bao = Arc::new(bao);
    let fake = Arc::new(fake);
    let client = bao.client();
    openai_provider(&client, &fake, "oa").await;
    let mut names = Vec::new();
    let mut crowds = Vec::new();
    for i in 0..nkeys {
        let name = format!("crash-{i}");
        crowds.push(fake.crowd_openai_project(PROJECT, &name));
        let v1 = secret(&name);
        fake.add_key(&v1);
        create_key(&client, &name, json!({ "value": v1, "provider": "oa" })).await;
        names.push(name);
    }

    let tally = Arc::new(Tally::default());
    let done = Arc::new(AtomicBool::new(false));
    let min_kills = (rotations / 20).max(1);
    let mut workers = Vec::new();
    // Choice streams: 0 the killer, 1 the settling below, 2.. the workers.
    for (i, name) in names.clone().into_iter().enumerate() {
        let (client, tally, rng) = (client.clone(), tally.clone(), seed.rng(2 + i as u64));
        workers.push(tokio::spawn(rotate_until(
            client, name, tally, rotations, min_kills, rng,
        )));
    }
    let reader = tokio::spawn(read_until(
        client.clone(),
        fake.clone(),
        names.clone(),
        tally.clone(),
        done.clone(),
    ));
    let killer = tokio::spawn(kill_until(
        bao.clone(),
        fake.clone(),
        done.clone(),
        held_every,
        tally.clone(),
        seed.rng(0),
    ));
    for w in workers {
        w.await.expect("rotation worker");
    }
    done.store(true, Ordering::SeqCst);
    let (kills, held_kills, held_creates) = killer.await.expect("killer");
    reader.await.expect("reader");
    let loop_time = started.elapsed();
    fake.set_stall_after_create(false);

    // Settle: leftover pending versions are the operator's to finish; do it, then wait for the
    // WAL recovery to revoke what the interrupted creates left at the provider.
    let mut rng = seed.rng(1);
    for name in &names {
        finish_pending(&client, name, &tally, &mut rng).await;
    }
    let active_after_loop = fake.active_created_keys().len();
    let intents_found = create_intents(&client).await.len();
    let mut live = BTreeSet::new();
    let (c, f, n, crowd) = (&client, &fake, &names, &crowds);
    let settle = tick_until(
        &bao,
        Tick::RecoverYoungIntents,
        "no orphan and no lost key at the provider (WAL recovery on the tick)",
        RECOVERY_DEADLINE,
        || async move {
            let mut all = BTreeSet::new();
            for name in n {
                let Some(key) = try_read_key(c, name).await else {
                    return false;
                };
                for v in key["versions"].as_object().unwrap().values() {
                    if matches!(
                        v["state"].as_str(),
                        Some("pending" | "current" | "previous")
                    ) {
                        all.insert(v["fingerprint"].as_str().unwrap().to_string());
                    }
                }
            }
            let (orphans, lost) = disagreements(f, &all, crowd);
            orphans.is_empty() && lost.is_empty() && create_intents(c).await.is_empty()
        },
    )
    .await;

    let mut versions = 0;
    let mut events = 0;
    let mut confirmed = 0;
    for name in &names {
        let facts = check_key(&client, &fake, name).await;
        live.extend(facts.live.iter().cloned());
        versions += facts.replayed.states.len();
        events += facts.replayed.events;
        confirmed += facts.replayed.provider_revocations;
    }
    let (orphans, lost) = disagreements(&fake, &live, &crowds);
    assert!(orphans.is_empty(), "orphans at the provider: {orphans:?}");
    let recovered = recovery_accounting(&client, &fake, &names, &crowds).await;
    assert!(
        held_kills >= 1,
        "no kill held a create in {kills} kills: the test proved little"
    );
    assert!(
        held_creates >= held_kills && intents_found >= held_creates,
        "{held_creates} creates held at {held_kills} kills, yet {intents_found} create intents left"
    );
    assert!(
        (held_creates..=intents_found).contains(&recovered),
        "{recovered} unrecorded keys revoked: not one for each of the {held_creates} held \
         creates, or more than the {intents_found} intents"
    );
    assert!(
        lost.is_empty(),
        "live versions revoked at the provider: {lost:?}"
    );
    let dead = assert_revoked_stay_dead(&client, &fake, &names).await;
    assert_eq!(
        tally.served_dead.load(Ordering::SeqCst),
        0,
        "creds/ served a value the provider had already revoked (see the log above)"
    );
    let created = fake.created_keys().len();
    let by_value: BTreeMap<String, usize> =
        fake.created_keys()
            .into_iter()
            .fold(BTreeMap::new(), |mut m, (_, v, _)| {
                *m.entry(fingerprint(&v)).or_default() += 1;
                m
            });
    assert!(
        by_value.values().all(|&n| n == 1),
        "the fake minted a value twice"
    );

    let t = &tally;
    figures(
        "crash_loop",
        &[
            ("rotation_attempts", &t.attempts.load(Ordering::SeqCst)),
            ("rotated", &t.rotated.load(Ordering::SeqCst)),
            ("interrupted", &t.interrupted.load(Ordering::SeqCst)),
            ("refused_4xx", &t.refused.load(Ordering::SeqCst)),
            (
                "pending_finished",
                &t.finished_pending.load(Ordering::SeqCst),
            ),
            ("kills", &kills),
            ("held_create_kills", &held_kills),
            ("held_creates", &held_creates),
            ("create_intents_found", &intents_found),
            ("unrecorded_keys_revoked", &recovered),
            ("keys", &nkeys),
            ("created_at_provider", &created),
            ("active_after_loop", &active_after_loop),
            ("revoked_values_checked", &dead),
            ("provider_revocations_confirmed", &confirmed),
            ("versions", &versions),
            ("history_events", &events),
            ("creds_reads", &t.reads.load(Ordering::SeqCst)),
            ("loop_secs", &loop_time.as_secs()),
            ("settle_secs", &settle.as_secs()),
        ],
    );
    assert!(
        kills >= min_kills,
        "only {kills} kills in {} rotation attempts: the test proved little",
        t.attempts.load(Ordering::SeqCst)
    );
    assert!(
        t.rotated.load(Ordering::SeqCst) > 0,
        "no rotation succeeded"
    );
}

/// Rotates `name` until `total` attempts were made by all workers and the killer made
/// `min_kills` kills (or [`MORE_KILLS_LIMIT`] passed); a pending version left by an interrupted
/// attempt is tested and promoted, or rolled back.
async fn rotate_until(
    client: Client,
    name: String,
    tally: Arc<Tally>,
    total: usize,
    min_kills: usize,
    mut rng: StdRng,
) {
    let started = Instant::now();
    let more = |tally: &Tally| {
        tally.attempts.fetch_add(1, Ordering::SeqCst) < total
            || (tally.kills.load(Ordering::SeqCst) < min_kills
                && started.elapsed() < MORE_KILLS_LIMIT)
    };
    while more(&tally) {
        // Reads while the plugin restarts, and finishing a pending version, are not attempts.
        let Some(key) = try_read_key(&client, &name).await else {
            tally.attempts.fetch_sub(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        if !key["pending_version"].is_null() {
            tally.attempts.fetch_sub(1, Ordering::SeqCst);
            finish_pending(&client, &name, &tally, &mut rng).await;
            continue;
        }
        let grace = if rng.random_bool(0.5) { "0s" } else { "1h" };
        let body =
            json!({ "grace_period": grace, "rotation_id": uuid::Uuid::new_v4().to_string() });
        match client
            .try_request("POST", &format!("ai-keys/rotate/{name}"), Some(body))
            .await
        {
            Ok(r) if r.status == 200 => tally.rotated.fetch_add(1, Ordering::SeqCst),
            Ok(r) if r.status >= 500 => {
                eprintln!("rotate/{name}: HTTP {}: {}", r.status, r.errors());
                tally.interrupted.fetch_add(1, Ordering::SeqCst)
            }
            Ok(r) => {
                eprintln!("rotate/{name}: HTTP {}: {}", r.status, r.errors());
                tally.refused.fetch_add(1, Ordering::SeqCst)
            }
            Err(_) => tally.interrupted.fetch_add(1, Ordering::SeqCst),
        };
    }
    tally.attempts.fetch_sub(1, Ordering::SeqCst);
}

/// Tests and promotes (or, one time in two, rolls back) a pending version, retrying across
/// kills; a no-op when nothing is pending.
async fn finish_pending(client: &Client, name: &str, tally: &Tally, rng: &mut StdRng) {
    let promote = rng.random_bool(0.5);
    for _ in 0..50 {
        let Some(key) = try_read_key(client, name).await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        if key["pending_version"].is_null() {
            return;
        }
        let ok = if promote {
            let t = post(client, &format!("ai-keys/test/{name}"), json!({})).await;
            t == Some(200)
                && post(
                    client,
                    &format!("ai-keys/promote/{name}"),
                    json!({"grace_period": "0s"}),
                )
                .await
                    == Some(200)
        } else {
            post(client, &format!("ai-keys/rollback/{name}"), json!({})).await == Some(200)
        };
        if ok {
            tally.finished_pending.fetch_add(1, Ordering::SeqCst);
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the pending version of {name} could not be finished in 50 attempts");
}

async fn post(client: &Client, path: &str, body: serde_json::Value) -> Option<u16> {
    client
        .try_request("POST", path, Some(body))
        .await
        .ok()
        .map(|r| r.status)
}

/// `keys/<name>`, `None` while the plugin is restarting.
async fn try_read_key(client: &Client, name: &str) -> Option<serde_json::Value> {
    let r = client
        .try_request("GET", &format!("ai-keys/keys/{name}"), None)
        .await
        .ok()?;
    (r.status == 200).then(|| r.data().clone())
}

/// Reads `creds/` of every key in turn until `done`: a value the provider had revoked before
/// the read started must never be served.
async fn read_until(
    client: Client,
    fake: Arc<FakeProvider>,
    names: Vec<String>,
    tally: Arc<Tally>,
    done: Arc<AtomicBool>,
) {
    let mut i = 0;
    while !done.load(Ordering::SeqCst) {
        let name = &names[i % names.len()];
        i += 1;
        let dead: BTreeSet<String> = fake
            .created_keys()
            .into_iter()
            .filter(|(_, _, active)| !active)
            .map(|(_, v, _)| v)
            .collect();
        let Ok(r) = client
            .try_request("GET", &format!("ai-keys/creds/{name}"), None)
            .await
        else {
            continue;
        };
        if r.status != 200 {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        }
        tally.reads.fetch_add(1, Ordering::SeqCst);
        for field in ["api_key", "previous_api_key"] {
            if let Some(v) = r.data()[field].as_str() {
                if dead.contains(v) {
                    eprintln!(
                        "creds/{name} served a revoked value as {field} ({})",
                        fingerprint(v)
                    );
                    tally.served_dead.fetch_add(1, Ordering::SeqCst);
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
