//! The periodic work never stops. A stalled provider delays only
//! the keys that use it; a key's work waits behind a stalled provider call at most one provider
//! timeout; hostile stored data never stops the tick; a failed automatic rotation backs off and
//! revokes what it created.

use std::time::Instant;

use serde_json::json;

use crate::providers::{
    configure_provider, create_key, creds, openai_provider, provider_body, read_key, rotate,
    tick_until, version, wait_until, SHORT_DEADLINE,
};
use crate::support::checks::{data, history, secret, write_ok};
use crate::support::fake_provider::{FakeProvider, Mode};
use crate::support::raw::{raw_get, raw_put_reloaded};
use crate::support::{Bao, Client, Tick};

/// Key `name` at provider `provider` (OpenAI at `fake`, `timeout`), whose version 2 was created
/// at the provider and is `previous` with a 2 s grace window. Returns version 2's provider id.
async fn key_with_created_previous(
    client: &Client,
    fake: &FakeProvider,
    provider: &str,
    timeout: &str,
    name: &str,
) -> String {
    let admin = secret("admin");
    fake.add_admin_key(&admin);
    let mut body = provider_body("openai", fake, Some(&admin));
    body["timeout"] = json!(timeout);
    configure_provider(client, provider, body).await;
    let v0 = secret("v0");
    fake.add_key(&v0);
    create_key(client, name, json!({ "value": v0, "provider": provider })).await;
    let before = fake.created_keys();
    data(&rotate(client, name, json!({})).await, "first rotation");
    let c1 = fake
        .created_keys()
        .into_iter()
        .find(|(id, _, _)| !before.iter().any(|(b, _, _)| b == id))
        .map(|(id, _, _)| id)
        .expect("a created key");
    data(
        &rotate(client, name, json!({ "grace_period": "2s" })).await,
        "second rotation",
    );
    assert_eq!(
        version(&read_key(client, name).await, 2)["state"],
        "previous"
    );
    c1
}

/// One provider that stalls past its timeout (30 s, longer than a third of the host's
/// 90 s tick timeout) delays only its own keys: the grace end of a key at another provider is
/// acted on by the first tick after it, while that tick still waits for the stalled provider.
/// Before the fix the tick worked on keys one after the other, in name order, retrying the
/// stalled call until the host gave up on the tick, so the second key was never reached.
#[tokio::test]
async fn a_stalled_provider_delays_only_its_own_keys() {
    let (bao, slow, fine) =
        tokio::join!(Bao::start(), FakeProvider::start(), FakeProvider::start());
    let client = bao.client();
    let stalled = key_with_created_previous(&client, &slow, "slow", "30s", "a-stalled").await;
    let healthy = key_with_created_previous(&client, &fine, "fine", "2s", "b-fine").await;
    slow.set_admin_mode(Mode::Stall);
    wait_until(
        &bao,
        "both grace windows to end",
        SHORT_DEADLINE,
        || async {
            creds(&client, "a-stalled")
                .await
                .get("previous_api_key")
                .is_none()
                && creds(&client, "b-fine")
                    .await
                    .get("previous_api_key")
                    .is_none()
        },
    )
    .await;

    // One tick, in the background: it waits up to the stalled provider's timeout.
    let ticker = bao.client();
    let tick = tokio::spawn(async move { ticker.tick(Tick::AsTheHost).await });
    wait_until(
        &bao,
        "the tick to revoke the healthy provider's key",
        SHORT_DEADLINE,
        || async { !fine.is_active(&healthy) },
    )
    .await;
    // The provider answers before the engine records its answer: wait for the record too.
    wait_until(
        &bao,
        "the record to show the revocation confirmed",
        SHORT_DEADLINE,
        || async {
            version(&read_key(&client, "b-fine").await, 2)["provider_revocation"]["status"]
                == "confirmed"
        },
    )
    .await;
    assert!(slow.is_active(&stalled), "the stalled provider answered?");
    slow.set_admin_mode(Mode::Normal);
    tick.abort();
}

/// A rollback on a key whose test is stalled at the provider waits at most one provider
/// timeout: the stalled test gives up after one timeout instead of retrying it (before the fix:
/// three attempts and back-off, about three timeouts).
#[tokio::test]
async fn a_rollback_behind_a_stalled_test_waits_one_timeout() {
    let (bao, fake) = tokio::join!(Bao::start(), FakeProvider::start());
    let client = bao.client();
    let mut body = provider_body("openai_compatible", &fake, None);
    body["timeout"] = json!("4s");
    configure_provider(&client, "p", body).await;
    let (v0, v1) = (secret("v0"), secret("v1"));
    fake.add_key(&v0);
    fake.add_key(&v1);
    create_key(&client, "k", json!({ "value": v0, "provider": "p" })).await;
    write_ok(&client, "ai-keys/stage/k", json!({ "value": v1 })).await;

    fake.set_mode(Mode::Stall);
    fake.reset_hits();
    let tester = client.clone();
    let test = tokio::spawn(async move { tester.write("ai-keys/test/k", json!({})).await });
    wait_until(
        &bao,
        "the test to reach the provider",
        SHORT_DEADLINE,
        || async { fake.hits("/v1/models") > 0 },
    )
    .await;
    let started = Instant::now();
    let rolled = client.write("ai-keys/rollback/k", json!({})).await;
    let waited = started.elapsed();
    let tested = test.await.expect("test request");
    fake.set_mode(Mode::Normal);

    assert_eq!(rolled.status, 200, "{}", rolled.text);
    assert_eq!(tested.status, 200, "{}", tested.text);
    assert_eq!(
        tested.data()["outcome"],
        "provider_unavailable",
        "{}",
        tested.text
    );
    // One attempt, given up on at its timeout: what the rollback waited behind. Before the
    // fix the test made three attempts with back-off (about three timeouts). How long the
    // rollback waited is reported, not asserted (scripts/bench.sh has the figure).
    assert_eq!(fake.hits("/v1/models"), 1, "the stalled call was retried");
    assert!(
        tested.data()["detail"]
            .as_str()
            .is_some_and(|d| d.contains("did not answer within")),
        "{}",
        tested.text
    );
    eprintln!("the rollback waited {waited:?} behind the stalled test");
    assert_eq!(creds(&client, "k").await["api_key"], v0.as_str());
}

/// Replaces the JSON at `pointer` in key `name`'s stored record (as an older release without
/// bounds could have written it).
async fn plant(client: &Client, name: &str, pointer: &str, value: serde_json::Value) {
    let path = format!("keys/{name}");
    let text = raw_get(client, &path).await.expect("a stored record");
    let mut record: serde_json::Value = serde_json::from_str(&text).unwrap();
    *record.pointer_mut(pointer).expect("field in the record") = value;
    raw_put_reloaded(client, &path, &record.to_string()).await;
}

/// Whether key `name`'s history has an event `event` by the scheduler.
async fn scheduler_did(client: &Client, name: &str, event: &str) -> bool {
    history(client, name)
        .await
        .iter()
        .any(|e| e["event"] == event && e["actor"] == "scheduler")
}

/// Stored data no current release accepts (a rotation period near `i64::MAX` seconds,
/// from a release without bounds) never stops the tick: before the fix the due-time arithmetic
/// panicked on the first such key, and keys after it were never worked on.
#[tokio::test]
async fn hostile_stored_data_never_stops_the_tick() {
    let (bao, fake) = tokio::join!(Bao::start(), FakeProvider::start());
    let client = bao.client();
    openai_provider(&client, &fake, "oa").await;
    write_ok(
        &client,
        "ai-keys/schedules/spread",
        json!({ "rotation_period": "30d", "grace_period": "1h", "rotation_window": "1h" }),
    )
    .await;
    let v0 = secret("v0");
    fake.add_key(&v0);
    create_key(
        &client,
        "a-extreme",
        json!({ "value": v0, "provider": "oa", "schedule": "spread", "auto_rotate": true }),
    )
    .await;
    plant(
        &client,
        "a-extreme",
        "/key/rotation_period",
        json!(9_000_000_000_000_000_000i64),
    )
    .await;

    create_key(&client, "b-normal", json!({ "value": secret("w0") })).await;
    data(
        &rotate(
            &client,
            "b-normal",
            json!({ "value": secret("w1"), "grace_period": "2s" }),
        )
        .await,
        "rotate b-normal",
    );
    tick_until(
        &bao,
        Tick::AsTheHost,
        "the tick to expire b-normal's grace",
        SHORT_DEADLINE,
        || async { scheduler_did(&client, "b-normal", "expired").await },
    )
    .await;
    let extreme = read_key(&client, "a-extreme").await;
    assert!(extreme["last_error"].is_null(), "{extreme:#}");
    assert_eq!(extreme["current_version"], 1);
    assert!(
        !bao.server_log().contains("panicked"),
        "a panic in the server log"
    );
}

/// An automatic rotation that fails at promote (here: a stored grace period beyond any
/// date, from a release without bounds) records `last_error` and its back-off durably, revokes
/// the key it created at once, and does not try again before the back-off. Before the fix the
/// failure returned before anything was saved: the created key stayed alive until recovery and
/// the next tick created another one.
#[tokio::test]
async fn a_failed_automatic_rotation_backs_off_and_revokes_what_it_created() {
    let (bao, fake) = tokio::join!(Bao::start(), FakeProvider::start());
    let client = bao.client();
    openai_provider(&client, &fake, "oa").await;
    let v0 = secret("v0");
    fake.add_key(&v0);
    create_key(
        &client,
        "k",
        json!({ "value": v0, "provider": "oa", "auto_rotate": true,
                "created_time": "2020-01-01T00:00:00Z" }),
    )
    .await;
    plant(
        &client,
        "k",
        "/key/grace_period",
        json!(9_000_000_000_000_000_000i64),
    )
    .await;

    tick_until(
        &bao,
        Tick::AsTheHost,
        "the automatic rotation to fail",
        SHORT_DEADLINE,
        || async { read_key(&client, "k").await["last_error"].is_string() },
    )
    .await;
    let created = fake.created_keys();
    assert_eq!(created.len(), 1, "{created:?}");
    assert!(
        !fake.is_active(&created[0].0),
        "the created key is still alive"
    );
    let key = read_key(&client, "k").await;
    assert_eq!(key["current_version"], 1, "{key:#}");
    assert!(key["pending_version"].is_null(), "{key:#}");
    assert!(scheduler_did(&client, "k", "failed").await);
    let stored: serde_json::Value =
        serde_json::from_str(&raw_get(&client, "keys/k").await.unwrap()).unwrap();
    assert_eq!(stored["key"]["auto"]["failures"], 1, "{stored:#}");
    assert!(
        stored["key"]["auto"]["next_attempt_time"].is_string(),
        "{stored:#}"
    );

    // More ticks (seen through a grace window one of them closes) create nothing during the
    // back-off.
    create_key(&client, "marker", json!({ "value": secret("m0") })).await;
    data(
        &rotate(
            &client,
            "marker",
            json!({ "value": secret("m1"), "grace_period": "1s" }),
        )
        .await,
        "rotate marker",
    );
    tick_until(
        &bao,
        Tick::AsTheHost,
        "another tick",
        SHORT_DEADLINE,
        || async { scheduler_did(&client, "marker", "expired").await },
    )
    .await;
    assert_eq!(
        fake.created_keys().len(),
        1,
        "created again during the back-off"
    );
}
