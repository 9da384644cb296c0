//! Grace windows end at read time; the periodic tick then records the expiry and destroys the
//! value. The engine reads the real clock (`Utc::now()`), so these tests wait for a one-second
//! grace window to pass, in bounded 100 ms steps.

use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::json;

use crate::backend::testing::{expect_bad_request, Harness};
use crate::backend::testing::{state, verify, with_key, NEW, OLD};

/// Promotes [`NEW`] over [`OLD`] with a one-second grace window.
async fn promote_with_short_grace(h: &Harness) {
    h.write("stage/k", json!({ "value": NEW })).await.unwrap();
    h.write("test/k", json!({})).await.unwrap();
    h.write("promote/k", json!({"grace_period": 1}))
        .await
        .unwrap();
    assert_eq!(h.read("creds/k").await["previous_api_key"], OLD);
}

/// Waits (at most 5 s) until `creds/k` stops returning a previous key.
async fn wait_for_grace_end(h: &Harness) {
    for _ in 0..50 {
        if h.read("creds/k").await.get("previous_api_key").is_none() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the one-second grace window did not end within 5 s");
}

#[tokio::test]
async fn grace_ends_at_read_time_and_the_tick_records_it() {
    let h = with_key().await;
    promote_with_short_grace(&h).await;
    wait_for_grace_end(&h).await;

    // before any tick: reads and verify already treat the old value as gone
    let c = h.read("creds/k").await;
    assert_eq!(c["api_key"], NEW);
    assert!(c.get("previous_expires_time").is_none(), "{c}");
    assert_eq!(verify(&h, OLD).await, json!({"valid": false}));
    assert_eq!(state(&h, 1).await, "revoked");
    assert_eq!(verify(&h, NEW).await["valid"], true);
    // and a rollback can no longer restore it
    let before = h.snapshot().await;
    expect_bad_request(h.write("rollback/k", json!({})).await);
    assert_eq!(h.snapshot().await, before);
    assert!(
        !h.history("k").await.iter().any(|e| e["event"] == "expired"),
        "expiry recorded before any tick"
    );

    // the tick records it, as the scheduler, and destroys the value
    h.tick().await.unwrap();
    assert!(!h.storage_contains(OLD).await, "{:?}", h.snapshot().await);
    assert!(h.storage_contains(NEW).await);
    let events = h.history("k").await;
    let expired = &events[0];
    assert_eq!(expired["event"], "expired", "{events:?}");
    assert_eq!(expired["version"], 1);
    assert_eq!(expired["actor"], "scheduler");
    assert!(expired["request_id"].is_null(), "{expired}");
    let k = h.read("keys/k").await;
    assert_eq!(k["versions"]["1"]["state"], "revoked");
    assert!(k["versions"]["1"]["revoked_time"].is_string(), "{k}");

    // a second tick has nothing more to do
    let snapshot = h.snapshot().await;
    h.tick().await.unwrap();
    assert_eq!(h.snapshot().await, snapshot);
}

#[tokio::test]
async fn the_next_write_also_retires_an_ended_grace_window() {
    let h = with_key().await;
    promote_with_short_grace(&h).await;
    wait_for_grace_end(&h).await;
    // any write that opens the key applies the expiry as the scheduler's doing
    h.write("keys/k", json!({"custom_metadata": {"x": "y"}}))
        .await
        .unwrap();
    assert!(!h.storage_contains(OLD).await);
    let events = h.history("k").await;
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(kinds[..2], ["updated", "expired"]);
    assert_eq!(events[1]["actor"], "scheduler");
    assert_eq!(events[0]["actor"]["entity_id"], "alice");
}

#[tokio::test]
async fn a_standby_tick_does_nothing() {
    let h = with_key().await;
    promote_with_short_grace(&h).await;
    wait_for_grace_end(&h).await;
    h.system.standby.store(true, Ordering::SeqCst);
    let before = h.snapshot().await;
    h.tick().await.unwrap();
    assert_eq!(h.snapshot().await, before, "a standby tick wrote storage");
    assert!(!h.history("k").await.iter().any(|e| e["event"] == "expired"));
    // grace is still enforced on reads there
    assert_eq!(verify(&h, OLD).await["valid"], false);

    // the same tick on the active node does the work
    h.system.standby.store(false, Ordering::SeqCst);
    h.tick().await.unwrap();
    assert_eq!(h.history("k").await[0]["event"], "expired");
    assert!(!h.storage_contains(OLD).await);
}

#[tokio::test]
async fn a_tick_inside_the_grace_window_changes_nothing() {
    let h = with_key().await;
    h.write("rotate/k", json!({ "value": NEW })).await.unwrap();
    let before = h.snapshot().await;
    h.tick().await.unwrap();
    assert_eq!(h.snapshot().await, before);
    assert_eq!(verify(&h, OLD).await["state"], "previous");
}

#[tokio::test]
async fn metrics_stop_counting_an_ended_grace_window_before_the_tick() {
    let h = with_key().await;
    promote_with_short_grace(&h).await;
    wait_for_grace_end(&h).await;
    let body = h.prometheus().await;
    assert!(
        body.contains("ai_keys_versions_in_grace{key=\"k\",mount=\"ai-keys\"} 0\n"),
        "{body}"
    );
}

#[tokio::test]
async fn an_overdue_key_is_warned_about_once_per_day() {
    let h = Harness::new().await;
    let created = (chrono::Utc::now() - chrono::Duration::days(100))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    h.create("keys/k", json!({"value": OLD, "created_time": created}))
        .await
        .unwrap();
    h.tick().await.unwrap();
    // the first tick remembers the warning; the next ones the same day write nothing
    let after_first = h.snapshot().await;
    h.tick().await.unwrap();
    assert_eq!(h.snapshot().await, after_first);
    // warnings are not history events, and the key is untouched
    let kinds: Vec<String> = h
        .history("k")
        .await
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(kinds, ["created"]);
    assert_eq!(h.read("creds/k").await["api_key"], OLD);
}

/// `revoked_time` of a grace end is the grace end itself, when the key stopped being valid, from
/// the first read that knows it to the tick that records it (before, a read showed its own
/// time until the tick, then the tick's time).
#[tokio::test]
async fn revoked_time_is_the_grace_end_from_the_first_read_on() {
    let h = crate::backend::testing::with_unrecorded_grace_end().await;
    let end = h.read("keys/k").await["versions"]["1"]["grace_expires_time"].clone();
    assert!(end.is_string(), "{end}");
    let first = h.read("keys/k").await["versions"]["1"]["revoked_time"].clone();
    assert_eq!(first, end);
    h.tick().await.unwrap();
    let k = h.read("keys/k").await;
    assert_eq!(k["versions"]["1"]["state"], "revoked");
    assert_eq!(k["versions"]["1"]["revoked_time"], end, "{k}");
}
