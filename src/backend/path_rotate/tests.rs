//! `rotate/` in one call, with and without grace, and the versions it leaves.

use serde_json::{json, Value};

use crate::backend::testing::expect_bad_request;
use crate::backend::testing::{state, verify, with_key, NEW, OLD};

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
async fn rotate_and_verify_refuse_an_empty_or_blank_value_naming_it_and_change_nothing() {
    let h = with_key().await;
    let before = h.snapshot().await;
    for blank in ["", "  "] {
        for path in ["rotate/k", "verify/k"] {
            let msg = expect_bad_request(h.write(path, json!({ "value": blank })).await);
            assert!(
                msg.contains("field \"value\"") && msg.contains("must not be empty"),
                "{path} {blank:?}: {msg}"
            );
        }
    }
    assert_eq!(h.snapshot().await, before);
    assert_eq!(h.read("creds/k").await["api_key"], OLD);
}

/// Whatever a failed rotation rolls back, a grace end its own load applied stays, with its
/// revocation: a `rotate/` that the provider answers 503 right after version 1's grace window
/// ended leaves version 1 revoked at the provider (before the fix the record went back to
/// before the request and version 1 was stored revoked with no revocation and no intent: the
/// key lived on at the provider).
#[tokio::test]
async fn a_failed_rotation_keeps_the_grace_end_its_load_applied_and_revokes_the_key() {
    use std::sync::atomic::Ordering;

    use crate::backend::record;
    use crate::backend::testing::{created_at, wal_entries, FakeOpenRouter};

    let h = with_key().await;
    let fake = FakeOpenRouter::start(200).await;
    let config = json!({ "type": "openrouter", "base_url": fake.base_url, "admin_key": "sk-or-v1-admin-0123456789abcdef" });
    created_at(&h, "or", config, "hash-0").await;
    h.write("rotate/k", json!({ "value": NEW, "grace_period": 3600 }))
        .await
        .unwrap();
    let storage = h.cached.as_ref();
    let mut entry = record::load(storage, "k").await.unwrap().unwrap();
    let v = entry.key.versions.versions.get_mut(&1).unwrap();
    v.grace_expires_time = Some(chrono::Utc::now() - chrono::TimeDelta::seconds(5));
    record::save(storage, &entry).await.unwrap();

    fake.test_status.store(503, Ordering::SeqCst);
    let err = h
        .write(
            "rotate/k",
            json!({ "value": "sk-or-v1-THIRD-0123456789abcdef" }),
        )
        .await
        .expect_err("the provider is down");
    assert_eq!(err.status(), 503, "{err:?}");
    let key = h.read("keys/k").await;
    assert_eq!(key["current_version"], 2, "{key}");
    let v1 = &key["versions"]["1"];
    assert_eq!(v1["state"], "revoked", "{v1}");
    assert_eq!(v1["provider_revocation"]["status"], "confirmed", "{v1}");
    assert!(
        fake.requests()
            .contains(&"DELETE /api/v1/keys/hash-0".to_string()),
        "{:?}",
        fake.requests()
    );
    assert!(
        wal_entries(&h).await.is_empty(),
        "an intent was left behind"
    );
}
