//! A retried `stage/` or `rotate/` with the same `rotation_id` changes nothing.

use serde_json::json;

use crate::backend::testing::expect_bad_request;
use crate::backend::testing::{with_key, NEW};

#[tokio::test]
async fn stage_with_a_rotation_id_is_idempotent() {
    let h = with_key().await;
    let first = h
        .write("stage/k", json!({"value": NEW, "rotation_id": "r-1"}))
        .await
        .unwrap();
    let snapshot = h.snapshot().await;
    let again = h
        .write("stage/k", json!({"value": NEW, "rotation_id": "r-1"}))
        .await
        .unwrap();
    assert_eq!(again, first);
    assert_eq!(h.snapshot().await, snapshot, "a retry changed storage");
    let k = h.read("keys/k").await;
    assert_eq!(k["versions"].as_object().unwrap().len(), 2, "{k}");
    let staged = h
        .history("k")
        .await
        .iter()
        .filter(|e| e["event"] == "staged")
        .count();
    assert_eq!(staged, 1);
    // same id, different input
    let msg = expect_bad_request(
        h.write(
            "stage/k",
            json!({"value": "sk-test-OTHER-11111111", "rotation_id": "r-1"}),
        )
        .await,
    );
    assert!(msg.contains("r-1"), "{msg}");
    assert!(!msg.contains("OTHER"), "{msg}");
    assert_eq!(h.snapshot().await, snapshot);
    // same id on another operation
    let msg = expect_bad_request(
        h.write("rotate/k", json!({"value": NEW, "rotation_id": "r-1"}))
            .await,
    );
    assert!(msg.contains("r-1"), "{msg}");
    assert_eq!(h.snapshot().await, snapshot);
}

#[tokio::test]
async fn rotate_with_a_rotation_id_is_idempotent() {
    let h = with_key().await;
    let body = json!({"value": NEW, "rotation_id": "rot-7", "grace_period": "1h"});
    let first = h.write("rotate/k", body.clone()).await.unwrap();
    let snapshot = h.snapshot().await;
    let again = h.write("rotate/k", body.clone()).await.unwrap();
    assert_eq!(again, first);
    assert_eq!(h.snapshot().await, snapshot, "a retry changed storage");
    let k = h.read("keys/k").await;
    assert_eq!(k["current_version"], 2);
    assert_eq!(k["versions"].as_object().unwrap().len(), 2, "{k}");
    assert_eq!(k["versions"]["1"]["state"], "previous");
    // same id with a different value or grace
    for other in [
        json!({"value": "sk-test-OTHER-11111111", "rotation_id": "rot-7", "grace_period": "1h"}),
        json!({"value": NEW, "rotation_id": "rot-7", "grace_period": "2h"}),
    ] {
        let msg = expect_bad_request(h.write("rotate/k", other.clone()).await);
        assert!(msg.contains("rot-7"), "{other}: {msg}");
        assert_eq!(h.snapshot().await, snapshot);
    }
}
