//! `rollback/`: a pending version failed and destroyed, a promotion undone, nothing to undo.

use serde_json::{json, Value};

use crate::backend::testing::expect_bad_request;
use crate::backend::testing::{state, verify, with_key, NEW, OLD};

#[tokio::test]
async fn rollback_of_a_pending_version_fails_it_and_destroys_its_value() {
    let h = with_key().await;
    h.write("stage/k", json!({ "value": NEW })).await.unwrap();
    assert!(h.storage_contains(NEW).await);
    let out = h.write("rollback/k", json!({})).await.unwrap();
    assert_eq!(out["discarded_version"], 2);
    assert_eq!(out["current_version"], 1);
    assert_eq!(state(&h, 2).await, "failed");
    assert!(!h.storage_contains(NEW).await, "{:?}", h.snapshot().await);
    assert_eq!(verify(&h, NEW).await["valid"], false);
    assert_eq!(h.read("creds/k").await["api_key"], OLD);
    let k = h.read("keys/k").await;
    assert_eq!(k["pending_version"], Value::Null);
    assert!(k["versions"]["2"]["revoked_time"].is_string(), "{k}");
    let kinds: Vec<Value> = h
        .history("k")
        .await
        .iter()
        .map(|e| e["event"].clone())
        .collect();
    assert_eq!(kinds[..2], [json!("failed"), json!("rolled_back")]);
    // a new stage works afterwards and gets the next number
    let out = h
        .write("stage/k", json!({"value": "sk-test-THIRD-000000"}))
        .await
        .unwrap();
    assert_eq!(out["version"], 3);
}

#[tokio::test]
async fn rollback_after_promote_restores_the_previous_version() {
    let h = with_key().await;
    h.write("rotate/k", json!({ "value": NEW })).await.unwrap();
    let out = h.write("rollback/k", json!({})).await.unwrap();
    assert_eq!(out["current_version"], 1);
    assert_eq!(out["revoked_versions"], json!([2]));
    let c = h.read("creds/k").await;
    assert_eq!(c["api_key"], OLD);
    assert_eq!(c["version"], 1);
    assert!(c.get("previous_api_key").is_none(), "{c}");
    assert_eq!(state(&h, 1).await, "current");
    assert_eq!(state(&h, 2).await, "revoked");
    assert_eq!(verify(&h, NEW).await["valid"], false);
    assert!(!h.storage_contains(NEW).await);
    let events = h.history("k").await;
    assert_eq!(events[0]["event"], "revoked");
    assert_eq!(events[1]["event"], "rolled_back");
    // nothing left to undo
    let before = h.snapshot().await;
    expect_bad_request(h.write("rollback/k", json!({})).await);
    assert_eq!(h.snapshot().await, before);
}

#[tokio::test]
async fn rollback_with_nothing_to_undo_is_400() {
    let h = with_key().await;
    let before = h.snapshot().await;
    let msg = expect_bad_request(h.write("rollback/k", json!({})).await);
    assert!(msg.contains("nothing to roll back"), "{msg}");
    assert_eq!(h.snapshot().await, before);
}

#[tokio::test]
async fn rollback_discards_a_pending_version_before_touching_the_previous_one() {
    let h = with_key().await;
    h.write("rotate/k", json!({ "value": NEW })).await.unwrap();
    let third = "sk-test-THIRD-000000";
    h.write("stage/k", json!({ "value": third })).await.unwrap();
    let out = h.write("rollback/k", json!({})).await.unwrap();
    assert_eq!(out["discarded_version"], 3);
    assert_eq!(state(&h, 3).await, "failed");
    assert_eq!(state(&h, 2).await, "current");
    assert_eq!(state(&h, 1).await, "previous");
    assert_eq!(h.read("creds/k").await["api_key"], NEW);
    // the next rollback restores version 1
    h.write("rollback/k", json!({})).await.unwrap();
    assert_eq!(state(&h, 1).await, "current");
    assert_eq!(state(&h, 2).await, "revoked");
    assert_eq!(h.read("creds/k").await["api_key"], OLD);
    for v in [NEW, third] {
        assert!(!h.storage_contains(v).await, "{v} still stored");
    }
    // fingerprints survive the destruction of the values
    let k = h.read("keys/k").await;
    assert_eq!(
        k["versions"]["3"]["fingerprint"],
        crate::rotation::fingerprint_of(third)
    );
    assert_eq!(
        k["versions"]["2"]["fingerprint"],
        crate::rotation::fingerprint_of(NEW)
    );
}
