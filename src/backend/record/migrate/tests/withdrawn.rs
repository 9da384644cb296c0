//! A key record holding a version withdrawn as leaked (the two-person rule) is written in the
//! next format, so a release that does not know the mark refuses it instead of misreading it;
//! every other record keeps the current format, so a downgrade keeps it readable.

use serde_json::{json, Value};

use super::raw;
use crate::backend::testing::{FakeOpenRouter, Harness, OLD};
use crate::framework::{Operation, Storage};

/// Key `k`, created at a fake OpenRouter under the two-person rule and promoted by bob, its
/// leaked current value reported by carol: withdrawn, its successor pending. Key `plain` beside
/// it holds nothing withdrawn.
async fn withdrawn_key() -> (Harness, FakeOpenRouter) {
    let h = Harness::new().await;
    h.create("keys/plain", json!({ "value": OLD }))
        .await
        .unwrap();
    h.write("config", json!({ "require_separate_approver": true }))
        .await
        .unwrap();
    let fake = FakeOpenRouter::start(200).await;
    fake.configure(&h, "or").await;
    h.create("keys/k", json!({ "provider": "or" }))
        .await
        .unwrap();
    h.call_as("bob", Operation::Update, "promote/k", json!({}))
        .await
        .unwrap();
    let leaked = fake.created.lock().unwrap()[0].clone();
    let body = json!({ "value": leaked, "source": "a public repository", "reason": "pushed" });
    let out = h
        .call_as("carol", Operation::Update, "exposed", body)
        .await
        .unwrap()
        .unwrap()
        .data_value();
    assert_eq!(out["matches"][0]["action"], "withdrawn", "{out}");
    (h, fake)
}

#[tokio::test]
async fn only_a_record_holding_a_withdrawn_version_is_written_in_the_next_format() {
    let (h, _fake) = withdrawn_key().await;
    let stored = raw(&h.storage, "keys/k").await;
    assert_eq!(stored["key"]["versions"]["withdrawn"], 1, "{stored}");
    assert_eq!(stored["format"], 3);
    assert_eq!(raw(&h.storage, "keys/plain").await["format"], 2);
    // This release reads it as ever.
    assert_eq!(h.read("keys/k").await["exposed"]["withdrawn"], true);
    // Once a different person promotes the successor the mark is gone: the current format again.
    h.call_as("bob", Operation::Update, "promote/k", json!({}))
        .await
        .unwrap();
    let stored = raw(&h.storage, "keys/k").await;
    assert_eq!(stored["key"]["versions"].get("withdrawn"), None, "{stored}");
    assert_eq!(stored["format"], 2);
}

/// A build before the format bump wrote the mark in format 2: the next start marks it (the
/// record otherwise unchanged), and leaves every other record as it was.
#[tokio::test]
async fn a_withdrawn_record_of_the_current_format_is_marked_at_start() {
    let (h, _fake) = withdrawn_key().await;
    let mut earlier: Value = raw(&h.storage, "keys/k").await;
    earlier["format"] = json!(2);
    h.storage
        .put("keys/k", serde_json::to_vec(&earlier).unwrap())
        .await
        .unwrap();
    let plain = h.storage.get("keys/plain").await.unwrap();
    let again = Harness::over(h.storage.clone(), false).await;
    let mut marked = raw(&again.storage, "keys/k").await;
    assert_eq!(marked["format"], 3);
    marked["format"] = json!(2);
    assert_eq!(marked, earlier, "nothing else changed");
    assert_eq!(again.storage.get("keys/plain").await.unwrap(), plain);
    assert_eq!(again.read("keys/k").await["exposed"]["withdrawn"], true);
}
