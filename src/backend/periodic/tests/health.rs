//! Health checks of current keys on the tick: at most one provider call per key per
//! `health_check_interval`, the answer kept on the version and shown, a refusal recorded once,
//! flagged and measured until a check passes, an unavailable provider no refusal, and an
//! interval of 0 no call at all. The key's engine calls are moved back in storage instead of
//! waiting an interval.

use std::sync::atomic::Ordering;

use chrono::TimeDelta;
use serde_json::{json, Value};

use crate::backend::record;
use crate::backend::testing::{FakeOpenRouter, Harness};

const VALUE: &str = "sk-or-v1-0123456789abcdef0123456789abcdef";
const HOUR: i64 = 3600;

/// Key `k`, imported from [`VALUE`] on provider `or` at `fake`, with `settings` added.
async fn watched(fake: &FakeOpenRouter, settings: Value) -> Harness {
    let h = Harness::new().await;
    fake.configure(&h, "or").await;
    let mut body = json!({ "value": VALUE, "provider": "or" });
    for (k, v) in settings.as_object().into_iter().flatten() {
        body[k] = v.clone();
    }
    h.create("keys/k", body).await.expect("key");
    h
}

/// Moves every time the engine judges key `k`'s next check by `secs` into the past, as if that
/// long had passed.
async fn age(h: &Harness, secs: i64) {
    let storage = h.cached.as_ref();
    let mut entry = record::load(storage, "k").await.unwrap().unwrap();
    let back = TimeDelta::seconds(secs);
    for v in entry.key.versions.versions.values_mut() {
        v.created_time -= back;
        v.promoted_time = v.promoted_time.map(|t| t - back);
        if let Some(t) = v.last_test.as_mut() {
            t.time -= back;
        }
        if let Some(c) = v.health_check.as_mut() {
            c.last.time -= back;
            c.rejected_since = c.rejected_since.map(|t| t - back);
        }
    }
    record::save(storage, &entry).await.unwrap();
}

/// How many key tests the fake answered.
fn probes(fake: &FakeOpenRouter) -> usize {
    fake.requests()
        .iter()
        .filter(|r| *r == "GET /api/v1/key")
        .count()
}

fn events(history: &[Value], event: &str) -> Vec<Value> {
    history
        .iter()
        .filter(|e| e["event"] == event)
        .cloned()
        .collect()
}

#[tokio::test]
async fn a_current_key_is_checked_at_most_once_per_interval_and_the_check_is_shown() {
    let fake = FakeOpenRouter::start(200).await;
    let h = watched(&fake, json!({})).await;
    let created = probes(&fake);
    // Just tested at its import: nothing is due within the hour.
    h.tick().await.unwrap();
    assert_eq!(probes(&fake), created, "checked before its interval passed");
    let read = h.read("keys/k").await;
    assert_eq!(read["health_check_interval"], HOUR);
    assert_eq!(read["expiry_warning"], 14 * 24 * HOUR);
    assert_eq!(read["last_health_check"], Value::Null);

    age(&h, 2 * HOUR).await;
    let tested = events(&h.history("k").await, "tested").len();
    h.tick().await.unwrap();
    h.tick().await.unwrap();
    assert_eq!(probes(&fake), created + 1, "{:?}", fake.requests());
    let read = h.read("keys/k").await;
    assert_eq!(read["last_health_check"]["outcome"], "passed", "{read:#}");
    assert_eq!(read["current_key_rejected"], false);
    assert_eq!(
        read["versions"]["1"]["health_check"]["outcome"], "passed",
        "{read:#}"
    );
    // A check is no test in the history (reports count tests from it) and adds no event.
    let history = h.history("k").await;
    assert_eq!(events(&history, "tested").len(), tested);
    assert!(events(&history, "current_key_rejected").is_empty());
    let text = h.prometheus().await;
    assert!(
        text.contains(r#"ai_keys_health_checks_total{key="k",mount="ai-keys",outcome="passed"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"ai_keys_current_key_rejected{key="k",mount="ai-keys"} 0"#),
        "{text}"
    );
}

#[tokio::test]
async fn a_refused_current_key_is_recorded_once_and_flagged_until_a_check_passes() {
    let fake = FakeOpenRouter::start(200).await;
    let h = watched(&fake, json!({})).await;
    fake.test_status.store(401, Ordering::SeqCst);
    age(&h, 2 * HOUR).await;
    h.tick().await.unwrap();

    let read = h.read("keys/k").await;
    assert_eq!(read["current_key_rejected"], true, "{read:#}");
    assert!(read["current_key_rejected_time"].is_string(), "{read:#}");
    assert_eq!(read["last_health_check"]["outcome"], "bad_key");
    assert_eq!(read["last_health_check"]["status_code"], 401);
    assert_eq!(read["current_version"], 1, "no auto_rotate: not rotated");
    let rejected = events(&h.history("k").await, "current_key_rejected");
    assert_eq!(rejected.len(), 1, "{rejected:#?}");
    assert_eq!(rejected[0]["outcome"], "bad_key");
    assert_eq!(rejected[0]["version"], 1);
    assert_eq!(rejected[0]["actor"], "scheduler", "{rejected:#?}");
    let detail = rejected[0]["detail"].as_str().unwrap();
    assert!(detail.contains("HTTP 401"), "{detail}");
    assert!(!detail.contains(VALUE), "{detail}");

    let overdue = h.read("overdue").await;
    let listed = &overdue["keys"][0];
    assert_eq!(listed["key"], "k", "{overdue:#}");
    assert_eq!(listed["rejected"], true);
    let report = h.read("report").await;
    assert_eq!(report["keys"][0]["rejected"], true, "{report:#}");
    let text = h.prometheus().await;
    assert!(
        text.contains(r#"ai_keys_current_key_rejected{key="k",mount="ai-keys"} 1"#),
        "{text}"
    );

    // Still refused an interval later: still flagged, no second event.
    age(&h, 2 * HOUR).await;
    h.tick().await.unwrap();
    let history = h.history("k").await;
    assert_eq!(events(&history, "current_key_rejected").len(), 1);
    assert_eq!(h.read("keys/k").await["current_key_rejected"], true);

    // Accepted again: the flag goes, and the history says so.
    fake.test_status.store(200, Ordering::SeqCst);
    age(&h, 2 * HOUR).await;
    h.tick().await.unwrap();
    let read = h.read("keys/k").await;
    assert_eq!(read["current_key_rejected"], false, "{read:#}");
    assert_eq!(read["current_key_rejected_time"], Value::Null);
    assert_eq!(
        events(&h.history("k").await, "current_key_accepted").len(),
        1
    );
    assert!(h.read("overdue").await["keys"]
        .as_array()
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn an_unavailable_provider_is_no_refusal_and_is_tried_again_next_interval() {
    for status in [429, 503] {
        let fake = FakeOpenRouter::start(200).await;
        let h = watched(&fake, json!({})).await;
        fake.test_status.store(status, Ordering::SeqCst);
        age(&h, 2 * HOUR).await;
        h.tick().await.unwrap();
        let read = h.read("keys/k").await;
        assert_eq!(
            read["last_health_check"]["outcome"], "provider_unavailable",
            "{status}: {read:#}"
        );
        assert_eq!(read["current_key_rejected"], false, "{status}");
        assert!(events(&h.history("k").await, "current_key_rejected").is_empty());
        let before = probes(&fake);
        h.tick().await.unwrap();
        assert_eq!(
            probes(&fake),
            before,
            "{status}: retried before the next interval"
        );
        age(&h, 2 * HOUR).await;
        h.tick().await.unwrap();
        // One key test (the provider client's bounded retries of a transient answer inside it).
        assert!(probes(&fake) > before, "{status}: tried again");
    }
}

#[tokio::test]
async fn an_interval_of_zero_makes_no_calls_and_overrides_clear_back_to_the_schedule() {
    let fake = FakeOpenRouter::start(200).await;
    let h = watched(&fake, json!({ "health_check_interval": "0" })).await;
    let created = probes(&fake);
    age(&h, 400 * 24 * HOUR).await;
    h.tick().await.unwrap();
    assert_eq!(probes(&fake), created, "{:?}", fake.requests());
    assert_eq!(h.read("keys/k").await["health_check_interval"], 0);

    // Cleared, the schedule's hour applies again, and the overdue key is checked.
    h.write("keys/k", json!({ "health_check_interval": "" }))
        .await
        .unwrap();
    assert_eq!(h.read("keys/k").await["health_check_interval"], HOUR);
    h.tick().await.unwrap();
    assert_eq!(probes(&fake), created + 1);

    // A schedule sets both; a key override wins; the bounds are checked.
    h.create(
        "schedules/watched",
        json!({ "rotation_period": "30d", "grace_period": "1h", "health_check_interval": "0", "expiry_warning": "30d" }),
    )
    .await
    .unwrap();
    let schedule = h.read("schedules/watched").await;
    assert_eq!(schedule["health_check_interval"], 0, "{schedule:#}");
    assert_eq!(schedule["expiry_warning"], 30 * 24 * HOUR);
    h.write(
        "keys/k",
        json!({ "schedule": "watched", "expiry_warning": "2d" }),
    )
    .await
    .unwrap();
    let read = h.read("keys/k").await;
    assert_eq!(read["health_check_interval"], 0);
    assert_eq!(read["expiry_warning"], 2 * 24 * HOUR);
    for field in ["health_check_interval", "expiry_warning"] {
        let before = h.snapshot().await;
        let refused = h.write("keys/k", json!({ field: "367d" })).await;
        let message = crate::backend::testing::expect_bad_request(refused);
        assert!(message.contains(field), "{message}");
        assert_eq!(h.snapshot().await, before, "a refusal changes nothing");
    }
}

/// With `auto_rotate`, the tick whose check finds the current key refused starts its rotation
/// then, not a tick (a minute) later: the refusal is recorded after the tick read the clock, so
/// the rotation's due time must be judged at a clock read after the check.
#[tokio::test]
async fn a_refused_current_key_with_auto_rotate_is_rotated_in_the_tick_that_found_it() {
    let fake = FakeOpenRouter::start(200).await;
    let h = watched(&fake, json!({ "auto_rotate": true })).await;
    fake.test_status.store(401, Ordering::SeqCst);
    age(&h, 2 * HOUR).await;
    h.tick().await.unwrap();
    let creates = fake
        .requests()
        .iter()
        .filter(|r| *r == "POST /api/v1/keys")
        .count();
    assert_eq!(creates, 1, "{:?}", fake.requests());
    let read = h.read("keys/k").await;
    assert_eq!(read["current_key_rejected"], true, "{read:#}");
}
