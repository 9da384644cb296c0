//! Current keys are watched: every `health_check_interval` the active node tests each current
//! key at its provider. Against a real OpenBao and the fake provider, with short intervals and
//! the tick hook: a current key disabled at the provider (OpenRouter `disabled`) is noticed
//! within one interval and, with `auto_rotate`, rotated at once with no grace (the refused key
//! revoked there); without it, flagged in `keys/`, `overdue`, `report` and the history until a
//! new version is promoted; an interval of 0 makes no call at all; and the engine's probe of a
//! current key (OpenAI stamps `last_used_at` on it) is not taken, once the key is previous, for
//! an application's use.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::providers::{
    assert_no_leaks, configure_provider, create_key, provider_body, read_key, rotate, tick_until,
    version, SHORT_DEADLINE,
};
use crate::support::checks::{data, history, read_ok, secret};
use crate::support::fake_provider::FakeProvider;
use crate::support::{Bao, Client, Tick};

/// Key tests the fake answered (`GET /api/v1/key` for OpenRouter, `GET /v1/models` for OpenAI).
fn probes(fake: &FakeProvider, path: &str) -> usize {
    fake.uris().iter().filter(|u| *u == path).count()
}

/// Creates key `name` at OpenRouter provider `provider` (the provider creates version 1) with
/// `settings`; returns its provider id (hash).
async fn created(client: &Client, fake: &FakeProvider, name: &str, settings: Value) -> String {
    let before = fake.created_keys().len();
    let mut body = json!({ "provider": "or" });
    for (k, v) in settings.as_object().into_iter().flatten() {
        body[k] = v.clone();
    }
    create_key(client, name, body).await;
    let made = fake.created_keys();
    assert_eq!(made.len(), before + 1, "{name}: one key created");
    made[before].0.clone()
}

fn events<'a>(all: &'a [Value], event: &str) -> Vec<&'a Value> {
    all.iter().filter(|e| e["event"] == event).collect()
}

#[tokio::test]
async fn a_current_key_disabled_at_the_provider_is_noticed_within_one_interval() {
    let (bao, fake, quiet) =
        tokio::join!(Bao::start(), FakeProvider::start(), FakeProvider::start());
    let client = bao.client();
    let admin = secret("admin");
    fake.add_admin_key(&admin);
    quiet.add_admin_key(&admin);
    configure_provider(
        &client,
        "or",
        provider_body("openrouter", &fake, Some(&admin)),
    )
    .await;
    configure_provider(
        &client,
        "off",
        provider_body("openrouter", &quiet, Some(&admin)),
    )
    .await;
    let every = json!({ "health_check_interval": "3s" });
    let auto_hash = created(
        &client,
        &fake,
        "auto",
        json!({ "health_check_interval": "3s", "auto_rotate": true }),
    )
    .await;
    let manual_hash = created(&client, &fake, "manual", every.clone()).await;
    // The interval-0 key lives at its own fake, so every key test there is one of its.
    let before = quiet.created_keys().len();
    create_key(
        &client,
        "off",
        json!({ "provider": "off", "health_check_interval": "0" }),
    )
    .await;
    let off_hash = quiet.created_keys()[before].0.clone();
    let started = Instant::now();
    let off_probes = probes(&quiet, "/api/v1/key");

    // Disabled at the provider (PATCH {disabled: true}): its key test answers 401.
    fake.set_openrouter_disabled(&auto_hash, true);
    fake.set_openrouter_disabled(&manual_hash, true);
    quiet.set_openrouter_disabled(&off_hash, true);

    let c = &client;
    let took = tick_until(
        &bao,
        Tick::AsTheHost,
        "the refused keys to be noticed",
        SHORT_DEADLINE,
        || async move {
            let auto = c.read("ai-keys/keys/auto").await.data().clone();
            let manual = c.read("ai-keys/keys/manual").await.data().clone();
            auto["current_version"] == 2 && manual["current_key_rejected"] == true
        },
    )
    .await;
    eprintln!("refusals noticed and handled {took:?} after the keys were disabled (interval 3s)");

    // auto_rotate: rotated at once by the scheduler, the refused version revoked with no grace,
    // here and at the provider.
    let auto = read_key(&client, "auto").await;
    assert_eq!(version(&auto, 1)["state"], "revoked", "{auto:#}");
    assert_eq!(
        version(&auto, 1)["health_check"]["outcome"],
        "bad_key",
        "{auto:#}"
    );
    assert_eq!(version(&auto, 2)["state"], "current");
    assert_eq!(
        auto["current_key_rejected"], false,
        "the new version is not refused"
    );
    assert!(
        !fake.is_active(&auto_hash),
        "the refused key is deleted at the provider"
    );
    let auto_events = history(&client, "auto").await;
    let rejected = events(&auto_events, "current_key_rejected");
    assert_eq!(rejected.len(), 1, "{auto_events:#?}");
    assert_eq!(rejected[0]["actor"], "scheduler");
    assert_eq!(rejected[0]["outcome"], "bad_key");
    let promoted = events(&auto_events, "promoted");
    assert!(
        promoted
            .iter()
            .any(|e| e["version"] == 2 && e["actor"] == "scheduler"),
        "{auto_events:#?}"
    );

    // Without auto_rotate: flagged everywhere, still current, one event with the answer.
    let manual = read_key(&client, "manual").await;
    assert_eq!(manual["current_version"], 1, "{manual:#}");
    assert!(
        manual["current_key_rejected_time"].is_string(),
        "{manual:#}"
    );
    assert_eq!(
        manual["last_health_check"]["status_code"], 401,
        "{manual:#}"
    );
    let manual_events = history(&client, "manual").await;
    let rejected = events(&manual_events, "current_key_rejected");
    assert_eq!(rejected.len(), 1, "{manual_events:#?}");
    let detail = rejected[0]["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("bad_key") && detail.contains("401"),
        "{detail}"
    );
    let overdue = read_ok(&client, "ai-keys/overdue").await;
    let listed: Vec<&Value> = overdue["keys"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|k| k["key"] == "manual")
        .collect();
    assert_eq!(listed.len(), 1, "{overdue:#}");
    assert_eq!(listed[0]["rejected"], true);
    assert!(
        !overdue["keys"].to_string().contains("\"auto\""),
        "the rotated key is no longer flagged: {overdue:#}"
    );
    let report = read_ok(&client, "ai-keys/report?prefix=manual").await;
    assert_eq!(report["keys"][0]["rejected"], true, "{report:#}");

    // Promoting a new version clears the flag.
    let rotated = rotate(&client, "manual", json!({ "grace_period": "0s" })).await;
    data(&rotated, "rotate manual");
    let manual = read_key(&client, "manual").await;
    assert_eq!(manual["current_key_rejected"], false, "{manual:#}");

    // Interval 0: no key test at all, though the key is disabled and more than an interval of
    // the others passed.
    while started.elapsed() < Duration::from_secs(4) {
        client.tick(Tick::AsTheHost).await;
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    client.tick(Tick::AsTheHost).await;
    assert_eq!(
        probes(&quiet, "/api/v1/key"),
        off_probes,
        "{:?}",
        quiet.uris()
    );
    let off = read_key(&client, "off").await;
    assert_eq!(off["last_health_check"], Value::Null, "{off:#}");
    assert_eq!(off["current_key_rejected"], false);

    assert_no_leaks(&bao, &[&fake, &quiet], &[admin]).await;
}

/// OpenAI stamps `last_used_at` on every accepted call with a key, the engine's key tests
/// included. A current key probed by the health check and then rotated out is, at the end of
/// its grace window, seen as used only by the engine: its revocation is not postponed.
#[tokio::test]
async fn a_probe_of_the_current_key_is_not_use_of_it_once_previous() {
    let (bao, fake) = tokio::join!(Bao::start(), FakeProvider::start());
    let client = bao.client();
    let admin = secret("admin");
    fake.add_admin_key(&admin);
    configure_provider(&client, "oa", provider_body("openai", &fake, Some(&admin))).await;
    let v0 = secret("v0");
    fake.add_key(&v0);
    create_key(
        &client,
        "w",
        json!({ "value": v0, "provider": "oa", "health_check_interval": "12s" }),
    )
    .await;
    // Version 2: a key the engine created (so usage-aware revocation asks about it).
    data(
        &rotate(&client, "w", json!({ "grace_period": "0s" })).await,
        "rotate w",
    );
    let created_at = read_key(&client, "w").await;
    let tested = version(&created_at, 2)["last_test"]["time"].clone();

    // The health check probes version 2 more than the usage skew (10 s) after its test.
    let c = &client;
    tick_until(
        &bao,
        Tick::AsTheHost,
        "the health check of version 2",
        Duration::from_secs(30),
        || async move {
            c.read("ai-keys/keys/w").await.data()["last_health_check"]["outcome"] == "passed"
        },
    )
    .await;
    let key = read_key(&client, "w").await;
    let checked = version(&key, 2)["health_check"]["time"].clone();
    assert_ne!(checked, tested, "{key:#}");
    let value = fake
        .created_keys()
        .last()
        .map(|(_, value, _)| value.clone())
        .expect("the created key");
    assert!(
        fake.last_used(&value).is_some(),
        "the probe is use at the provider"
    );

    // Retired with a grace window that ends inside the usage check's lead (150 s).
    data(
        &rotate(&client, "w", json!({ "grace_period": "100s" })).await,
        "rotate w again",
    );
    tick_until(
        &bao,
        Tick::AsTheHost,
        "the usage check of version 2",
        SHORT_DEADLINE,
        || async move {
            events(&history(c, "w").await, "usage_checked").len() == 1
                || !events(&history(c, "w").await, "grace_extended").is_empty()
        },
    )
    .await;
    let all = history(&client, "w").await;
    assert!(
        events(&all, "grace_extended").is_empty(),
        "the probe was taken for use: {all:#?}"
    );
    let checked = events(&all, "usage_checked");
    assert_eq!(checked[0]["outcome"], "engine_test", "{all:#?}");
    assert_no_leaks(&bao, &[&fake], &[v0, admin]).await;
}
