//! `promote/`: the new key handed out, the old one in grace, overrides, refusals and `force`.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::backend::testing::expect_bad_request;
use crate::backend::testing::{state, verify, with_key, NEW, OLD};

fn parse_time(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().unwrap_or_else(|| panic!("not a time: {v}")))
        .unwrap()
        .with_timezone(&Utc)
}

#[tokio::test]
async fn promote_hands_out_the_new_key_and_keeps_the_old_in_grace() {
    let h = with_key().await;
    h.write("stage/k", json!({ "value": NEW })).await.unwrap();
    h.write("test/k", json!({})).await.unwrap();
    let before = Utc::now();
    let out = h.write("promote/k", json!({})).await.unwrap();
    assert_eq!(out["version"], 2);
    assert_eq!(out["previous_version"], 1);
    assert_eq!(out["forced"], false);
    let c = h.read("creds/k").await;
    assert_eq!(c["api_key"], NEW);
    assert_eq!(c["version"], 2);
    assert_eq!(c["previous_api_key"], OLD);
    // production grace: 48h
    let expires = parse_time(&c["previous_expires_time"]);
    let expected = before + chrono::Duration::hours(48);
    assert!(
        (expires - expected).num_seconds().abs() <= 5,
        "{expires} vs {expected}"
    );
    assert_eq!(verify(&h, OLD).await["state"], "previous");
    assert_eq!(verify(&h, NEW).await["state"], "current");
    assert_eq!(state(&h, 1).await, "previous");
    assert_eq!(state(&h, 2).await, "current");
    let events = h.history("k").await;
    assert_eq!(events[0]["event"], "promoted");
    assert_eq!(events[0]["detail"], "");
}

#[tokio::test]
async fn promote_with_a_grace_period_override() {
    let h = with_key().await;
    h.write("stage/k", json!({ "value": NEW })).await.unwrap();
    h.write("test/k", json!({})).await.unwrap();
    let before = Utc::now();
    h.write("promote/k", json!({"grace_period": "2h"}))
        .await
        .unwrap();
    let c = h.read("creds/k").await;
    let expires = parse_time(&c["previous_expires_time"]);
    let expected = before + chrono::Duration::hours(2);
    assert!((expires - expected).num_seconds().abs() <= 5, "{expires}");
}

#[tokio::test]
async fn promote_without_pending_is_400() {
    let h = with_key().await;
    let before = h.snapshot().await;
    let msg = expect_bad_request(h.write("promote/k", json!({})).await);
    assert!(msg.contains("pending"), "{msg}");
    let msg = expect_bad_request(h.write("promote/k", json!({"force": true})).await);
    assert!(msg.contains("pending"), "{msg}");
    assert_eq!(h.snapshot().await, before);
}

#[tokio::test]
async fn promote_untested_is_400_unless_forced_and_the_force_is_recorded() {
    let h = with_key().await;
    h.write("stage/k", json!({ "value": NEW })).await.unwrap();
    let before = h.snapshot().await;
    let msg = expect_bad_request(h.write("promote/k", json!({})).await);
    assert!(msg.contains("version 2") && msg.contains("force"), "{msg}");
    assert_eq!(h.snapshot().await, before);
    let out = h
        .write("promote/k", json!({"force": "true"}))
        .await
        .unwrap();
    assert_eq!(out["forced"], true);
    assert_eq!(h.read("creds/k").await["api_key"], NEW);
    let events = h.history("k").await;
    let promoted = events
        .iter()
        .find(|e| e["event"] == "promoted")
        .expect("promoted event");
    assert_eq!(promoted["detail"], "forced");
    assert_eq!(promoted["version"], 2);
}

#[tokio::test]
async fn promote_with_zero_grace_revokes_at_once() {
    let h = with_key().await;
    h.write("stage/k", json!({ "value": NEW })).await.unwrap();
    h.write("test/k", json!({})).await.unwrap();
    h.write("promote/k", json!({"grace_period": "0"}))
        .await
        .unwrap();
    assert_eq!(verify(&h, OLD).await["valid"], false);
    assert!(h.read("creds/k").await.get("previous_api_key").is_none());
    assert!(!h.storage_contains(OLD).await);
}

#[tokio::test]
async fn promote_sets_last_rotation_time_and_a_fresh_ttl() {
    let h = with_key().await;
    h.write("rotate/k", json!({ "value": NEW })).await.unwrap();
    let c = h.read("creds/k").await;
    let last = parse_time(&c["last_rotation_time"]);
    assert!((Utc::now() - last).num_seconds().abs() <= 5, "{last}");
    let ttl = c["ttl"].as_i64().unwrap();
    assert!((90 * 86_400 - 10..=90 * 86_400).contains(&ttl), "{ttl}");
    let k = h.read("keys/k").await;
    assert_eq!(k["last_rotation_time"], c["last_rotation_time"]);
    assert!(k["versions"]["2"]["promoted_time"].is_string());
}
