//! Deleting a key destroys every value and keeps the history; a key created again under the
//! same name is a new key with a fresh history that links the old one.

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
async fn a_key_created_again_starts_a_fresh_history_and_links_the_old_one() {
    let h = Harness::new().await;
    h.create_key("k", OLD).await;
    h.write("keys/k", json!({"custom_metadata": {"a": "1"}}))
        .await
        .unwrap();
    h.call_as("bob", Operation::Delete, "keys/k", Value::Null)
        .await
        .unwrap();
    let old = h.read("history/k").await;
    assert_eq!(old["incarnation"], 1, "{old}");
    assert_eq!(old["previous_history"], Value::Null, "{old}");
    let old_events = old["events"].clone();
    let new_value = "sk-test-REBORN-cccccccccccc";
    h.create_key("k", new_value).await;

    // The new key's history is its own: one created event, by the creator.
    let new = h.read("history/k").await;
    assert_eq!(new["incarnation"], 2, "{new}");
    let events = new["events"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{new}");
    assert_eq!(events[0]["event"], "created");
    assert_eq!(events[0]["actor"]["entity_id"], "alice");
    assert_eq!(new["next_after"], Value::Null);
    // It links the old one, naming who deleted it and when (the deleted event's time).
    let link = &new["previous_history"];
    assert_eq!(link["incarnation"], 1, "{new}");
    assert_eq!(
        link["deleted_by"],
        json!({"entity_id": "bob", "display_name": "userpass-bob", "accessor": "acc-bob"})
    );
    assert_eq!(link["deleted_time"], old_events[0]["time"]);
    // The old one is kept as it was, and read by its number.
    let kept = h
        .call(Operation::Read, "history/k", json!({"incarnation": 1}))
        .await
        .unwrap()
        .unwrap()
        .data_value();
    assert_eq!(kept["events"], old_events);
    assert_eq!(kept["incarnation"], 1);
    assert_eq!(kept["previous_history"], Value::Null);
    let kinds: Vec<&str> = old_events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["deleted", "revoked", "updated", "created"]);
    assert_eq!(old_events[0]["actor"]["entity_id"], "bob");

    // the new key is a fresh key with the new value
    let creds = h.read("creds/k").await;
    assert_eq!(creds["api_key"], new_value);
    assert_eq!(h.read("keys/k").await["custom_metadata"], json!({}));
}

#[tokio::test]
async fn every_incarnation_of_a_name_stays_readable_up_to_the_kept_number() {
    let h = Harness::new().await;
    let lives = crate::backend::record::KEPT_INCARNATIONS + 2;
    for life in 1..=lives {
        h.create_key("k", &format!("sk-test-life-{life}-aaaaaaaaaaaa"))
            .await;
        h.write(
            "keys/k",
            json!({"custom_metadata": {"life": life.to_string()}}),
        )
        .await
        .unwrap();
        h.call(Operation::Delete, "keys/k", Value::Null)
            .await
            .unwrap();
    }
    let read = |n: usize| {
        let h = &h;
        async move {
            h.call(Operation::Read, "history/k", json!({ "incarnation": n }))
                .await
                .unwrap()
                .map(|r| r.data_value())
        }
    };
    // The newest deleted one is the default; each links the one before it.
    let newest = h.read("history/k").await;
    assert_eq!(newest["incarnation"], lives);
    let oldest_kept = lives - crate::backend::record::KEPT_INCARNATIONS + 1;
    for n in oldest_kept..=lives {
        let page = read(n)
            .await
            .unwrap_or_else(|| panic!("incarnation {n} not kept"));
        assert_eq!(page["incarnation"], n);
        let details: Vec<&str> = page["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["detail"].as_str().unwrap())
            .collect();
        assert_eq!(details[2], "changed custom_metadata", "{page}");
        assert_eq!(page["events"].as_array().unwrap().len(), 4, "{page}");
        let link = &page["previous_history"];
        if n == oldest_kept {
            assert_eq!(*link, Value::Null, "{page}");
        } else {
            assert_eq!(link["incarnation"], n - 1, "{page}");
            assert_eq!(link["deleted_by"]["entity_id"], "alice", "{page}");
        }
    }
    // The oldest ones left, with their pages.
    for n in 1..oldest_kept {
        assert!(read(n).await.is_none(), "incarnation {n} still kept");
    }
    let pages = h
        .storage
        .keys()
        .into_iter()
        .filter(|k| k.starts_with("history/k/"))
        .count();
    assert_eq!(pages, crate::backend::record::KEPT_INCARNATIONS);
    // An incarnation that never was is not found; a number below 1 is refused.
    assert!(read(lives + 1).await.is_none());
    let err = h
        .call(Operation::Read, "history/k", json!({ "incarnation": 0 }))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("incarnation"), "{err}");
}

/// The incarnation `history/k` shows by default, if any.
async fn shown_incarnation(h: &Harness) -> Option<u64> {
    h.call(Operation::Read, "history/k", Value::Null)
        .await
        .unwrap()
        .map(|r| r.data_value()["incarnation"].as_u64().unwrap())
}

#[tokio::test]
async fn a_delete_and_create_interrupted_at_any_write_end_with_a_fresh_history_and_the_old_one_kept(
) {
    use crate::framework::InMemoryStorage;
    use std::sync::Arc;

    let v2 = "sk-test-SECOND-aaaaaaaaaaaa";
    let reborn = "sk-test-REBORN-cccccccccccc";
    for crash_at in 0.. {
        let s = Arc::new(InMemoryStorage::new());
        let h = Harness::over(s.clone(), false).await;
        h.create_key("k", OLD).await;
        h.write("rotate/k", json!({ "value": v2 })).await.unwrap();
        let before = h.history("k").await;

        // The process dies after `crash_at` writes of the delete and the create.
        s.crash_after(Some(crash_at));
        let mut done = h
            .call(Operation::Delete, "keys/k", Value::Null)
            .await
            .is_ok();
        if done {
            done = h.create("keys/k", json!({ "value": reborn })).await.is_ok();
        }
        s.crash_after(None);

        // Restarted, the operator finishes what the history shows undone.
        let h = Harness::over(s.clone(), false).await;
        if shown_incarnation(&h).await == Some(1) && h.exists("keys/k").await {
            h.call(Operation::Delete, "keys/k", Value::Null)
                .await
                .unwrap();
        }
        if !h.exists("keys/k").await {
            h.create_key("k", reborn).await;
        }

        let new = h.read("history/k").await;
        assert_eq!(new["incarnation"], 2, "crash after {crash_at}: {new}");
        let events = new["events"].as_array().unwrap();
        assert_eq!(events.len(), 1, "crash after {crash_at}: {new}");
        assert_eq!(events[0]["event"], "created");
        assert_eq!(new["previous_history"]["incarnation"], 1);
        assert_eq!(new["previous_history"]["deleted_by"]["entity_id"], "alice");
        let old = h
            .call(Operation::Read, "history/k", json!({ "incarnation": 1 }))
            .await
            .unwrap()
            .unwrap()
            .data_value();
        let old = old["events"].as_array().unwrap();
        // Everything the key had before, then its deletion (recorded again by a retried
        // delete): every version revoked, ending with the deleted event.
        assert_eq!(
            old[old.len() - before.len()..],
            before[..],
            "crash after {crash_at}"
        );
        let ending: Vec<&str> = old[..old.len() - before.len()]
            .iter()
            .map(|e| e["event"].as_str().unwrap())
            .collect();
        assert_eq!(ending.first(), Some(&"deleted"), "crash after {crash_at}");
        assert!(
            ending.iter().filter(|e| **e == "revoked").count() == 2
                && ending.iter().all(|e| ["revoked", "deleted"].contains(e)),
            "crash after {crash_at}: {ending:?}"
        );
        assert_eq!(h.read("creds/k").await["api_key"], reborn);
        for v in [OLD, v2] {
            assert!(!h.storage_contains(v).await, "crash after {crash_at}");
        }
        if done {
            assert!(crash_at >= 5, "delete and create took {crash_at} writes");
            break;
        }
    }
}

/// A key deleted while its provider refuses the revocation: the delete answers with the pending
/// revocation and a warning that the key is still valid there, and the revocation stays visible
/// after the record is gone: in `providers/<name>`, in the mount's metric and in `report`
/// (before, it showed nowhere but the intent).
#[tokio::test]
async fn a_deleted_keys_pending_revocation_stays_visible() {
    use crate::backend::testing::{created_at_provider, with_key};
    use crate::framework::Response;

    let h = with_key().await;
    created_at_provider(&h).await;
    let resp: Response = h
        .call(Operation::Delete, "keys/k", Value::Null)
        .await
        .unwrap()
        .expect("an answer naming the pending revocation");
    let warnings = resp.warnings.clone();
    let data = resp.data_value();
    assert_eq!(data["retired_versions"][0]["version"], 1, "{data}");
    assert_eq!(
        data["retired_versions"][0]["provider_revocation"], "pending",
        "{data}"
    );
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("still valid at provider")),
        "{warnings:?}"
    );
    assert_eq!(
        h.read("providers/p").await["pending_revocations"],
        json!(["k version 1"])
    );
    let report = h
        .call(Operation::Read, "report", json!({}))
        .await
        .unwrap()
        .unwrap()
        .data_value();
    assert_eq!(
        report["deleted_keys_revocations_pending"],
        json!([{ "key": "k", "version": 1, "provider": "p", "attempts": 0 }])
    );
    let metrics = h.read("metrics").await.to_string();
    assert!(
        metrics.contains("ai_keys_deleted_key_revocations_pending"),
        "{metrics}"
    );
    let gauges = h.read("metrics").await["gauges"].clone();
    let sample = gauges
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "ai_keys_deleted_key_revocations_pending")
        .cloned()
        .unwrap();
    assert_eq!(sample["value"], 1.0, "{sample}");
}
