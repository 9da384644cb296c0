//! Deleting a key destroys every value and keeps the history, which a key created again
//! continues.

use serde_json::{json, Value};

use crate::backend::testing::OLD;
use crate::backend::testing::{expect_bad_request, Harness};
use crate::framework::Operation;

#[tokio::test]
async fn delete_destroys_every_value_and_keeps_the_history() {
    let h = Harness::new().await;
    let v2 = "sk-test-SECOND-aaaaaaaaaaaa";
    let v3 = "sk-test-THIRD-bbbbbbbbbbbbb";
    h.create_key("k", OLD).await;
    h.write("rotate/k", json!({"value": v2})).await.unwrap();
    h.write("stage/k", json!({"value": v3})).await.unwrap();
    // current v2, previous OLD in grace, pending v3: all three stored
    for v in [OLD, v2, v3] {
        assert!(h.storage_contains(v).await, "{v} should be stored");
    }
    assert!(h
        .call(Operation::Delete, "keys/k", Value::Null)
        .await
        .unwrap()
        .is_none());
    for v in [OLD, v2, v3] {
        assert!(
            !h.storage_contains(v).await,
            "{v} survived the delete: {:?}",
            h.snapshot().await
        );
    }
    assert!(h
        .call(Operation::Read, "keys/k", Value::Null)
        .await
        .unwrap()
        .is_none());
    assert!(h
        .call(Operation::Read, "creds/k", Value::Null)
        .await
        .unwrap()
        .is_none());
    assert!(!h.exists("keys/k").await);
    let events = h.history("k").await;
    assert_eq!(events[0]["event"], "deleted", "{events:?}");
    let revoked: Vec<&Value> = events
        .iter()
        .filter(|e| e["event"] == "revoked" && e["detail"] == "key deleted")
        .map(|e| &e["version"])
        .collect();
    assert_eq!(revoked.len(), 3, "{events:?}");
    assert_eq!(events.last().unwrap()["event"], "created");
    // the verify path no longer knows the key
    expect_bad_request(h.write("verify/k", json!({"value": v2})).await);
    // deleting again is a no-op
    h.call(Operation::Delete, "keys/k", Value::Null)
        .await
        .unwrap();
    assert_eq!(h.history("k").await.len(), events.len());
}

#[tokio::test]
async fn a_key_created_again_continues_its_history() {
    let h = Harness::new().await;
    h.create_key("k", OLD).await;
    h.write("keys/k", json!({"custom_metadata": {"a": "1"}}))
        .await
        .unwrap();
    h.call(Operation::Delete, "keys/k", Value::Null)
        .await
        .unwrap();
    let old_events = h.history("k").await;
    let new_value = "sk-test-REBORN-cccccccccccc";
    h.create_key("k", new_value).await;
    let events = h.history("k").await;
    assert_eq!(events.len(), old_events.len() + 1, "{events:?}");
    assert_eq!(events[0]["event"], "created");
    assert_eq!(&events[1..], &old_events[..]);
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["created", "deleted", "revoked", "updated", "created"]
    );
    // the new key is a fresh key with the new value
    let creds = h.read("creds/k").await;
    assert_eq!(creds["api_key"], new_value);
    assert_eq!(h.read("keys/k").await["custom_metadata"], json!({}));
}
