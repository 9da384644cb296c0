//! Keys due by their `rotation_period` rotated on the periodic tick, and a failed automatic
//! rotation recorded.

use std::time::Instant;

use chrono::{SecondsFormat, TimeDelta, Utc};
use serde_json::json;

use crate::providers::{
    assert_no_leaks, configure_provider, create_key, creds, provider_body, read_key, tick_until,
    version, wait_until, SHORT_DEADLINE, TICK_DEADLINE,
};
use crate::support::checks::{history, secret};
use crate::support::fake_provider::{FakeProvider, Mode};
use crate::support::{Bao, Tick};

// ---------------------------------------------------------------------------------------------
// Automatic rotation
// ---------------------------------------------------------------------------------------------

/// RFC 3339 time `ago` before now.
fn ago(ago: TimeDelta) -> String {
    (Utc::now() - ago).to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A key with `auto_rotate=true` that is due (created a day ago, `rotation_period` 1h, so it
/// stays at version 2 after one rotation) is rotated by the tick without any request: version
/// 2 is a key the engine created at the provider (active there), `promoted` by the scheduler,
/// and creds returns it.
///
/// Deliberately waits for the host's own periodic call (up to two minutes) instead of running
/// the tick hook: the one test that shows the host's real tick reaches the engine and does its
/// work. (`revocation::created_keys` does the same for grace ends, `revocation::never_lost` for
/// retried revocations.)
#[tokio::test]
async fn tick_rotates_due_keys_automatically() {
    let (bao, fake) = tokio::join!(Bao::start(), FakeProvider::start());
    let client = bao.client();
    let admin = secret("admin");
    fake.add_admin_key(&admin);
    configure_provider(&client, "oa", provider_body("openai", &fake, Some(&admin))).await;
    let v1 = secret("v1");
    fake.add_key(&v1);
    let key = create_key(
        &client,
        "auto",
        json!({
            "value": v1, "provider": "oa", "auto_rotate": true, "rotation_period": "1h",
            "created_time": ago(TimeDelta::days(1)),
        }),
    )
    .await;
    assert_eq!(key["auto_rotate"], true, "{key:#}");
    let created_at = Instant::now();

    let c = &client;
    wait_until(
        &bao,
        "the tick to rotate the due key",
        TICK_DEADLINE,
        || async move { c.read("ai-keys/keys/auto").await.data()["current_version"] == 2 },
    )
    .await;
    eprintln!(
        "automatic rotation seen {:?} after the key was created",
        created_at.elapsed()
    );

    let key = read_key(&client, "auto").await;
    assert_eq!(key["current_version"], 2, "{key:#}");
    assert!(key["last_error"].is_null(), "{key:#}");
    assert_eq!(key["overdue"], false, "{key:#}");
    assert_eq!(version(&key, 1)["state"], "previous");
    let created = fake.created_keys();
    assert_eq!(created.len(), 1, "{created:?}");
    let (id, value, active) = created[0].clone();
    assert!(active, "the new key is active at the provider");
    assert_eq!(version(&key, 2)["provider_key_id"], id.as_str());
    assert_eq!(version(&key, 2)["engine_created"], true);
    assert_eq!(version(&key, 2)["last_test"]["outcome"], "passed");
    let c = creds(&client, "auto").await;
    assert_eq!(c["api_key"], value.as_str());
    assert_eq!(c["version"], 2);
    assert_eq!(c["previous_api_key"], v1.as_str());
    let events = history(&client, "auto").await;
    let promoted = events
        .iter()
        .find(|e| e["event"] == "promoted")
        .unwrap_or_else(|| panic!("no promoted event: {events:#?}"));
    assert_eq!(promoted["actor"], "scheduler", "{promoted:#}");
    assert_eq!(promoted["version"], 2, "{promoted:#}");
    for event in ["staged", "tested"] {
        assert!(
            events
                .iter()
                .any(|e| e["event"] == event && e["actor"] == "scheduler" && e["version"] == 2),
            "no {event} by the scheduler: {events:#?}"
        );
    }
    assert_no_leaks(&bao, &[&fake], &[v1, admin]).await;
}

/// An automatic rotation whose provider fails to create a key (admin API answering 500) is
/// recorded: `last_error` set, a `failed` event by the scheduler; the current version and creds
/// stay. (A key on a healthy provider is rotated in the same tick: the tick has run.)
#[tokio::test]
async fn tick_records_a_failed_automatic_rotation() {
    let (bao, healthy, broken) =
        tokio::join!(Bao::start(), FakeProvider::start(), FakeProvider::start());
    let client = bao.client();
    let admin = secret("admin");
    for (name, fake) in [("ok", &healthy), ("down", &broken)] {
        fake.add_admin_key(&admin);
        configure_provider(&client, name, provider_body("openai", fake, Some(&admin))).await;
    }
    broken.set_admin_mode(Mode::ServerError500);
    let (v_ok, v_down) = (secret("ok"), secret("down"));
    healthy.add_key(&v_ok);
    broken.add_key(&v_down);
    for (name, provider, value) in [("a-ok", "ok", &v_ok), ("b-down", "down", &v_down)] {
        create_key(
            &client,
            name,
            json!({
                "value": value, "provider": provider, "auto_rotate": true,
                "rotation_period": "1h", "created_time": ago(TimeDelta::days(1)),
            }),
        )
        .await;
    }
    let c = &client;
    tick_until(
        &bao,
        Tick::AsTheHost,
        "the tick (a-ok rotated)",
        SHORT_DEADLINE,
        || async move { c.read("ai-keys/keys/a-ok").await.data()["current_version"] == 2 },
    )
    .await;
    // Keys are ticked in name order: b-down's attempt follows a-ok's.
    let b = &broken;
    wait_until(
        &bao,
        "the attempt to create a key at the broken provider",
        SHORT_DEADLINE,
        || async move { b.hits("/v1/organization/projects/") > 0 },
    )
    .await;
    let c = &client;
    wait_until(
        &bao,
        "last_error of the failed automatic rotation",
        SHORT_DEADLINE,
        || async move { c.read("ai-keys/keys/b-down").await.data()["last_error"].is_string() },
    )
    .await;
    let key = read_key(&client, "b-down").await;
    assert_eq!(key["current_version"], 1, "{key:#}");
    assert!(key["pending_version"].is_null(), "{key:#}");
    let c = creds(&client, "b-down").await;
    assert_eq!(c["api_key"], v_down.as_str());
    assert_eq!(c["version"], 1);
    let events = history(&client, "b-down").await;
    assert!(
        events
            .iter()
            .any(|e| e["event"] == "failed" && e["actor"] == "scheduler"),
        "no failed event by the scheduler: {events:#?}"
    );
    // The metrics an alert stands on: counted as an automatic failure, and still failing.
    let m = crate::support::checks::read_ok(&client, "ai-keys/metrics").await;
    let value = |section: &str, name: &str, labels: serde_json::Value| {
        m[section]
            .as_array()
            .expect("samples")
            .iter()
            .find(|s| s["name"] == name && s["labels"] == labels)
            .unwrap_or_else(|| panic!("{name} {labels} in {m:#}"))["value"]
            .clone()
    };
    let key_labels = json!({ "mount": "ai-keys", "key": "b-down" });
    let trigger = |t: &str| json!({ "mount": "ai-keys", "key": "b-down", "trigger": t });
    let failures = "ai_keys_rotation_failures_total";
    assert_eq!(value("counters", failures, trigger("automatic")), 1);
    assert_eq!(value("counters", failures, trigger("manual")), 0);
    let consecutive = "ai_keys_auto_rotation_consecutive_failures";
    assert_eq!(value("gauges", consecutive, key_labels.clone()), 1);
    assert_eq!(
        value("gauges", "ai_keys_last_attempt_failed", key_labels),
        1
    );
    assert_no_leaks(&bao, &[&healthy, &broken], &[v_ok, v_down, admin]).await;
}
