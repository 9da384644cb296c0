//! A deleted key's revocation the provider fails reaches people at its first failure
//! (`revocation.failed`), once per intent however often it is retried, not an hour later.

use serde_json::{json, Value};

use super::{subscribe, Receiver};
use crate::backend::testing::{
    created_at_provider, revoke_intent_of_a_deleted_key, wal_entries, with_key, Harness,
};
use crate::framework::put_json;

/// The `revocation.failed` events received: (subject, version, incarnation, id).
fn failures(r: &Receiver) -> Vec<(String, Value, Value, String)> {
    r.events()
        .into_iter()
        .filter(|e| e["type"] == "io.openbao.ai-keys.revocation.failed")
        .map(|e| {
            (
                e["subject"].as_str().unwrap().to_string(),
                e["data"]["version"].clone(),
                e["data"]["incarnation"].clone(),
                e["id"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Makes every intent's retry due now (its back-off over) and old enough for recovery.
async fn make_due(h: &Harness) {
    for (id, mut entry) in wal_entries(h).await {
        entry.created_at -= 3600;
        entry.data["next_attempt_time"] = Value::Null;
        put_json(h.storage.as_ref(), &format!("wal/{id}"), &entry)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn a_deleted_keys_failed_revocation_is_notified_at_the_delete_and_only_once() {
    let h = with_key().await;
    // Version 1 is the engine's, at a provider whose revocations all fail; the delete tries.
    created_at_provider(&h).await;
    let r = Receiver::start().await;
    subscribe(&h, &r).await;
    h.call(crate::framework::Operation::Delete, "keys/k", json!({}))
        .await
        .unwrap();
    h.tick().await.unwrap();
    let first = failures(&r);
    assert_eq!(first.len(), 1, "{:?}", r.events());
    assert_eq!((first[0].0.as_str(), &first[0].1), ("k", &json!(1)));
    assert_eq!(first[0].2, 1, "the deleted incarnation");
    // Recovery fails too, twice: nothing more is sent.
    for _ in 0..2 {
        make_due(&h).await;
        h.tick().await.unwrap();
        h.tick().await.unwrap();
    }
    let intent = &wal_entries(&h).await[0].1.data;
    assert!(intent["attempts"].as_u64().unwrap() >= 2, "{intent}");
    assert_eq!(failures(&r), first, "once per intent");
}

/// An intent whose key is gone (a delete's own attempt never ran, or an earlier release's):
/// recovery's first failure is notified, the retries are not.
#[tokio::test]
async fn recoverys_first_failure_of_a_deleted_keys_revocation_is_notified_once() {
    let h = Harness::new().await;
    let r = Receiver::start().await;
    subscribe(&h, &r).await;
    revoke_intent_of_a_deleted_key(&h, 3600).await;
    h.tick().await.unwrap();
    h.tick().await.unwrap();
    let first = failures(&r);
    assert_eq!(first.len(), 1, "{:?}", r.events());
    assert_eq!((first[0].0.as_str(), &first[0].1), ("gone", &json!(3)));
    let intent = &wal_entries(&h).await[0].1.data;
    assert_eq!(intent["failure_notified"], true, "{intent}");
    make_due(&h).await;
    h.tick().await.unwrap();
    h.tick().await.unwrap();
    assert_eq!(wal_entries(&h).await[0].1.data["attempts"], 2);
    assert_eq!(failures(&r), first, "once per intent");
}
