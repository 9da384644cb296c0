//! stage / test / promote / rollback / rotate, idempotency and the two-person rule.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::{state, verify, with_key, NEW, OLD};
use crate::backend::testing::expect_bad_request;
use crate::framework::{Error, Operation};

fn parse_time(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().unwrap_or_else(|| panic!("not a time: {v}")))
        .unwrap()
        .with_timezone(&Utc)
}

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
async fn rotate_in_one_call() {
    let h = with_key().await;
    let out = h.write("rotate/k", json!({ "value": NEW })).await.unwrap();
    assert_eq!(out["version"], 2);
    assert_eq!(out["previous_version"], 1);
    assert_eq!(out["test"]["outcome"], "skipped");
    assert!(!serde_json::to_string(&out).unwrap().contains(NEW));
    let c = h.read("creds/k").await;
    assert_eq!(c["api_key"], NEW);
    assert_eq!(c["previous_api_key"], OLD);
    let kinds: Vec<Value> = h
        .history("k")
        .await
        .iter()
        .map(|e| e["event"].clone())
        .collect();
    assert_eq!(
        kinds,
        [
            json!("promoted"),
            json!("tested"),
            json!("staged"),
            json!("created")
        ]
    );
    // a second rotation revokes the version still in grace from the first
    h.write("rotate/k", json!({"value": "sk-test-THIRD-000000"}))
        .await
        .unwrap();
    assert_eq!(state(&h, 1).await, "revoked");
    assert_eq!(state(&h, 2).await, "previous");
    assert!(!h.storage_contains(OLD).await);
}

#[tokio::test]
async fn rotate_with_zero_grace_leaves_only_the_new_key_valid() {
    let h = with_key().await;
    h.write("rotate/k", json!({"value": NEW, "grace_period": 0}))
        .await
        .unwrap();
    assert_eq!(verify(&h, OLD).await, json!({"valid": false}));
    assert_eq!(verify(&h, NEW).await["valid"], true);
    let c = h.read("creds/k").await;
    assert_eq!(c["api_key"], NEW);
    assert!(c.get("previous_api_key").is_none(), "{c}");
    assert!(c.get("previous_expires_time").is_none(), "{c}");
    assert_eq!(state(&h, 1).await, "revoked");
    assert!(!h.storage_contains(OLD).await);
    // and nothing to roll back to
    expect_bad_request(h.write("rollback/k", json!({})).await);
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

#[tokio::test]
async fn two_person_rule_refuses_the_stager_and_accepts_another_entity() {
    let h = with_key().await;
    h.write("config", json!({"require_separate_approver": true}))
        .await
        .unwrap();
    h.write("stage/k", json!({ "value": NEW })).await.unwrap();
    h.write("test/k", json!({})).await.unwrap();
    let before = h.snapshot().await;
    for body in [json!({}), json!({"force": true})] {
        match h.write("promote/k", body.clone()).await {
            Err(e @ Error::PermissionDenied(_)) => {
                assert_eq!(e.status(), 403);
                let msg = e.to_string();
                assert!(
                    msg.contains("require_separate_approver") && msg.contains("different"),
                    "{msg}"
                );
            }
            other => panic!("{body}: expected 403, got {other:?}"),
        }
    }
    assert_eq!(h.snapshot().await, before);
    assert_eq!(h.read("creds/k").await["api_key"], OLD);
    let resp = h
        .call_as("bob", Operation::Update, "promote/k", json!({}))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(resp.data["version"], 2);
    assert_eq!(h.read("creds/k").await["api_key"], NEW);
    let events = h.history("k").await;
    assert_eq!(events[0]["event"], "promoted");
    assert_eq!(events[0]["actor"]["entity_id"], "bob");
}

#[tokio::test]
async fn two_person_rule_refuses_rotate() {
    let h = with_key().await;
    h.write("config", json!({"require_separate_approver": "true"}))
        .await
        .unwrap();
    let before = h.snapshot().await;
    match h.write("rotate/k", json!({ "value": NEW })).await {
        Err(e @ Error::PermissionDenied(_)) => {
            assert_eq!(e.status(), 403);
            assert!(e.to_string().contains("require_separate_approver"), "{e}");
        }
        other => panic!("expected 403, got {other:?}"),
    }
    assert_eq!(h.snapshot().await, before);
    assert_eq!(h.read("creds/k").await["api_key"], OLD);
}

#[tokio::test]
async fn two_person_rule_without_entities_compares_tokens() {
    let h = with_key().await;
    h.write("config", json!({"require_separate_approver": true}))
        .await
        .unwrap();
    // call_as("") is a token without an entity: entity_id "", accessor "acc-"
    h.call_as("", Operation::Update, "stage/k", json!({ "value": NEW }))
        .await
        .unwrap();
    h.write("test/k", json!({})).await.unwrap();
    match h
        .call_as("", Operation::Update, "promote/k", json!({}))
        .await
    {
        Err(e) => assert_eq!(e.status(), 403, "{e}"),
        Ok(r) => panic!("the same token promoted: {r:?}"),
    }
    h.write("promote/k", json!({})).await.unwrap();
    assert_eq!(h.read("creds/k").await["api_key"], NEW);
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

#[tokio::test]
async fn versions_show_every_documented_field() {
    let h = with_key().await;
    h.write("rotate/k", json!({ "value": NEW })).await.unwrap();
    let k = h.read("keys/k").await;
    for n in ["1", "2"] {
        let v = k["versions"][n].as_object().unwrap();
        for field in [
            "state",
            "created_time",
            "promoted_time",
            "grace_expires_time",
            "revoked_time",
            "fingerprint",
            "last_test",
        ] {
            assert!(v.contains_key(field), "version {n} lacks {field}: {k}");
        }
    }
    assert!(k["versions"]["1"]["grace_expires_time"].is_string());
    assert_eq!(k["versions"]["2"]["last_test"]["outcome"], "skipped");
    for field in [
        "name",
        "provider",
        "schedule",
        "rotation_period",
        "grace_period",
        "auto_rotate",
        "custom_metadata",
        "current_version",
        "versions",
        "age_days",
        "last_rotation_time",
        "next_rotation_time",
        "overdue",
        "overdue_days",
        "pending_version",
        "last_error",
    ] {
        assert!(k.get(field).is_some(), "keys/ read lacks {field}: {k}");
    }
    let text = serde_json::to_string(&k).unwrap();
    assert!(!text.contains(NEW) && !text.contains(OLD), "{text}");
}

#[tokio::test]
async fn writes_on_read_only_storage_return_the_storage_error() {
    let h = with_key().await;
    h.storage.set_read_only(true);
    for (path, body) in [
        ("stage/k", json!({ "value": NEW })),
        ("rotate/k", json!({ "value": NEW })),
        ("keys/k", json!({"custom_metadata": {"a": "b"}})),
    ] {
        match h.write(path, body).await {
            Err(Error::Storage(e)) => {
                assert!(e.to_string().contains("readonly"), "{path}: {e}");
                assert!(!e.to_string().contains("NEWVALUE"), "{path}: {e}");
            }
            other => panic!("{path}: expected the storage error, got {other:?}"),
        }
    }
    // reads and verify still work
    assert_eq!(h.read("creds/k").await["api_key"], OLD);
    assert_eq!(verify(&h, OLD).await["valid"], true);
}
