//! `stage/` and `test/`: creds untouched, one pending version at a time, a test without a
//! provider skipped.

use serde_json::{json, Value};

use crate::backend::testing::expect_bad_request;
use crate::backend::testing::{verify, with_key, NEW, OLD};

#[tokio::test]
async fn stage_leaves_creds_alone_and_both_values_verify() {
    let h = with_key().await;
    let out = h.write("stage/k", json!({ "value": NEW })).await.unwrap();
    assert_eq!(out["version"], 2);
    assert_eq!(out["state"], "pending");
    assert!(!serde_json::to_string(&out).unwrap().contains(NEW));
    let c = h.read("creds/k").await;
    assert_eq!(c["api_key"], OLD);
    assert_eq!(c["version"], 1);
    assert!(c.get("previous_api_key").is_none(), "{c}");
    let v = verify(&h, OLD).await;
    assert_eq!(v, json!({"valid": true, "version": 1, "state": "current"}));
    let v = verify(&h, NEW).await;
    assert_eq!(v, json!({"valid": true, "version": 2, "state": "pending"}));
    let v = verify(&h, "sk-test-SOMETHING-else").await;
    assert_eq!(v, json!({"valid": false}));
    let k = h.read("keys/k").await;
    assert_eq!(k["pending_version"], 2);
    assert_eq!(k["current_version"], 1);
    assert!(!serde_json::to_string(&k).unwrap().contains(NEW));
}

#[tokio::test]
async fn second_stage_is_400_naming_the_pending_version() {
    let h = with_key().await;
    h.write("stage/k", json!({ "value": NEW })).await.unwrap();
    let before = h.snapshot().await;
    let msg = expect_bad_request(
        h.write("stage/k", json!({"value": "sk-test-THIRD-000000"}))
            .await,
    );
    assert!(
        msg.contains("version 2") && msg.contains("pending"),
        "{msg}"
    );
    assert!(!msg.contains("THIRD"), "{msg}");
    assert_eq!(h.snapshot().await, before);
}

#[tokio::test]
async fn test_without_a_provider_is_skipped() {
    let h = with_key().await;
    h.write("stage/k", json!({ "value": NEW })).await.unwrap();
    let t = h.write("test/k", json!({})).await.unwrap();
    assert_eq!(t["version"], 2);
    assert_eq!(t["outcome"], "skipped");
    assert_eq!(t["status_code"], Value::Null);
    let k = h.read("keys/k").await;
    assert_eq!(k["versions"]["2"]["last_test"]["outcome"], "skipped");
    let events = h.history("k").await;
    assert_eq!(events[0]["event"], "tested");
    assert_eq!(events[0]["outcome"], "skipped");
    assert_eq!(events[0]["version"], 2);
    // the current version can be tested too
    let t = h.write("test/k", json!({"version": 1})).await.unwrap();
    assert_eq!(t["version"], 1);
    assert_eq!(t["outcome"], "skipped");
}

#[tokio::test]
async fn stage_refuses_an_empty_or_blank_value_instead_of_asking_the_provider_for_one() {
    let h = with_key().await;
    // A provider that could create a key: an empty value must not stand for "create one".
    h.create(
        "providers/p",
        json!({"type": "openrouter", "base_url": "http://127.0.0.1:9", "admin_key": "sk-or-admin-0123456789"}),
    )
    .await
    .unwrap();
    h.write("keys/k", json!({"provider": "p"})).await.unwrap();
    let before = h.snapshot().await;
    for blank in ["", " ", "\u{a0}"] {
        let msg = expect_bad_request(h.write("stage/k", json!({ "value": blank })).await);
        assert!(
            msg.contains("field \"value\"") && msg.contains("must not be empty"),
            "{blank:?}: {msg}"
        );
    }
    assert_eq!(h.snapshot().await, before);
    assert_eq!(h.read("keys/k").await["pending_version"], Value::Null);
}
