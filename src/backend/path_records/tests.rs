use serde_json::{json, Value};

use crate::backend::testing::{created_at_provider, wal_entries, with_key, Harness, NEW};
use crate::framework::{Operation, Storage};

async fn plant(h: &Harness, path: &str, record: &Value) {
    h.storage
        .put(path, serde_json::to_vec(record).unwrap())
        .await
        .unwrap();
    h.invalidate(path).await;
}

async fn stored(h: &Harness, path: &str) -> Value {
    serde_json::from_slice(&h.storage.get(path).await.unwrap().unwrap()).unwrap()
}

async fn refused(h: &Harness, op: Operation, path: &str, needle: &str) {
    let before = h.snapshot().await;
    let err = h.call(op, path, json!({})).await.expect_err(path);
    assert_eq!(err.status(), 400, "{path}: {err}");
    assert!(err.to_string().contains(needle), "{path}: {err}");
    assert_eq!(h.snapshot().await, before, "{path} changed storage");
}

/// A copy of another key's record is shown for what it is and can be deleted: the live key it
/// holds is the other key's, recorded there; the other key is untouched.
#[tokio::test]
async fn a_copied_record_is_shown_and_deleted_without_touching_the_key_it_names() {
    let h = with_key().await;
    created_at_provider(&h).await;
    plant(&h, "keys/m", &stored(&h, "keys/k").await).await;
    let k_before = h.storage.get("keys/k").await.unwrap();

    let shown = h.read("records/keys/m").await;
    assert_eq!(shown["usable"], false, "{shown:#}");
    assert_eq!(shown["stored_name"], "k");
    assert_eq!(shown["live_provider_keys"][0]["provider_key_id"], "key_1");
    assert_eq!(shown["unclaimed_provider_keys"], json!([]));
    assert!(shown["reason"]
        .as_str()
        .unwrap()
        .contains("names another key"));

    h.call(Operation::Delete, "records/keys/m", json!({}))
        .await
        .unwrap();
    assert!(h.storage.get("keys/m").await.unwrap().is_none());
    assert_eq!(h.storage.get("keys/k").await.unwrap(), k_before);
    assert!(wal_entries(&h).await.is_empty(), "nothing revoked");
}

/// A refused record holding a live key the engine owns that no record claims is not deleted
/// (the key would live on with no record); nor is one this release cannot decode, nor a usable
/// one a keys/ path reaches.
#[tokio::test]
async fn a_record_that_would_orphan_a_key_or_cannot_be_read_is_not_deleted() {
    let h = with_key().await;
    created_at_provider(&h).await;
    let mut orphaning = stored(&h, "keys/k").await;
    orphaning["key"]["name"] = json!("ghost");
    orphaning["key"]["versions"]["versions"]["1"]["provider_key_id"] = json!("key_9");
    plant(&h, "keys/m", &orphaning).await;
    refused(&h, Operation::Delete, "records/keys/m", "key_9").await;
    assert_eq!(
        h.read("records/keys/m").await["unclaimed_provider_keys"][0]["provider_key_id"],
        "key_9"
    );

    plant(&h, "keys/z", &json!({ "format": 999 })).await;
    refused(&h, Operation::Delete, "records/keys/z", "release").await;
    refused(&h, Operation::Delete, "records/keys/k", "keys/k").await;
    let missing = h
        .call(Operation::Read, "records/keys/nothing", json!({}))
        .await
        .unwrap();
    assert!(missing.is_none());
    let err = h
        .call(Operation::Delete, "records/keys/nothing", json!({}))
        .await
        .expect_err("deleted nothing");
    assert_eq!(err.status(), 404, "{err}");
    assert!(err.to_string().contains("keys/nothing"), "{err}");
}

/// A usable record whose name breaks the name rule (no keys/ path reaches it) is deleted
/// through the keys/ delete workflow: its owned key's revocation is written down before the
/// record goes.
#[tokio::test]
async fn a_record_named_against_the_rule_is_deleted_with_its_revocations() {
    let h = with_key().await;
    created_at_provider(&h).await;
    h.create_key("o", NEW).await;
    let mut bad = stored(&h, "keys/k").await;
    bad["key"]["name"] = json!("-bad.");
    plant(&h, "keys/-bad.", &bad).await;
    h.call(Operation::Delete, "keys/k", json!({}))
        .await
        .unwrap();
    let intents_before = wal_entries(&h).await.len();

    let list = h
        .call(Operation::List, "keys/", json!({}))
        .await
        .unwrap()
        .unwrap();
    let info = &list.data_value()["key_info"];
    assert_eq!(info["-bad."]["name_valid"], false, "{info}");
    assert_eq!(info["-bad."]["manage_through"], "records/keys/-bad.");
    assert!(info.get("o").is_none(), "{info}");
    let shown = h.read("records/keys/-bad.").await;
    assert_eq!(shown["usable"], true, "{shown:#}");
    assert_eq!(shown["name_valid"], false);
    h.call(Operation::Delete, "records/keys/-bad.", json!({}))
        .await
        .unwrap();
    assert!(h.storage.get("keys/-bad.").await.unwrap().is_none());
    let intents = wal_entries(&h).await;
    assert!(
        intents.len() > intents_before,
        "a revocation intent for the deleted record's key: {intents:?}"
    );
    assert_eq!(h.read("creds/o").await["api_key"], NEW);
}
