//! A leaked current version: an emergency rotation where the provider creates keys, a marker
//! (keys/ read, overdue, report, metric) otherwise, and under the two-person rule a withdrawal
//! that leaves the new key pending for an approver.

use serde_json::{json, Value};

use super::{events, expose, expose_as, only};
use crate::backend::testing::{FakeOpenRouter, Harness, NEW, OLD};
use crate::framework::{Error, Operation};

/// Key `k` created at a fake OpenRouter (version 1, engine-created, `hash-1`); its value.
async fn created_key(rule: bool) -> (Harness, FakeOpenRouter, String) {
    let h = Harness::new().await;
    if rule {
        h.write("config", json!({ "require_separate_approver": true }))
            .await
            .unwrap();
    }
    let fake = FakeOpenRouter::start(200).await;
    fake.configure(&h, "or").await;
    h.create("keys/k", json!({ "provider": "or" }))
        .await
        .unwrap();
    if rule {
        h.call_as("bob", Operation::Update, "promote/k", json!({}))
            .await
            .unwrap();
    }
    let value = fake.created.lock().unwrap()[0].clone();
    (h, fake, value)
}

#[tokio::test]
async fn a_current_key_the_provider_created_is_rotated_at_once_and_revoked_there() {
    let (h, fake, leaked) = created_key(false).await;
    let out = expose(&h, json!({ "value": leaked })).await.unwrap();
    let m = only(&out);
    assert_eq!(m["action"], "rotated", "{out}");
    assert_eq!(m["new_version"], 2);
    assert_eq!(m["test"]["outcome"], "passed");
    assert_eq!(
        m["retired_versions"],
        json!([{ "version": 1, "state": "revoked", "provider_revocation": "confirmed" }])
    );
    assert!(
        fake.requests()
            .contains(&"DELETE /api/v1/keys/hash-1".to_string()),
        "{:?}",
        fake.requests()
    );
    let new = fake.created.lock().unwrap()[1].clone();
    let c = h.read("creds/k").await;
    assert_eq!(c["api_key"], new.as_str());
    assert!(c.get("previous_api_key").is_none());
    let k = h.read("keys/k").await;
    assert_eq!(
        k["exposed"],
        json!(null),
        "a new value is current: the leak is over"
    );
    assert!(h
        .prometheus()
        .await
        .contains("ai_keys_key_exposed{key=\"k\",mount=\"ai-keys\"} 0\n"));
    assert!(!h.storage_contains(&leaked).await);
    assert!(!out.to_string().contains(&leaked) && !out.to_string().contains(&new));
}

#[tokio::test]
async fn a_current_key_without_a_creating_provider_is_marked_exposed_until_a_new_value_is_promoted()
{
    let h = Harness::new().await;
    h.create_key("k", OLD).await;
    let out = expose(
        &h,
        json!({ "fingerprint": crate::rotation::fingerprint_of(OLD) }),
    )
    .await
    .unwrap();
    let m = only(&out);
    assert_eq!(m["action"], "marked_exposed", "{out}");
    assert!(m["waits_for"].as_str().unwrap().contains("rotate/"), "{m}");
    assert!(
        out["warnings"][0]
            .as_str()
            .unwrap()
            .contains("still current and exposed"),
        "{out}"
    );
    // It stays current (there is nothing to replace it with), and every report says so.
    assert_eq!(h.read("creds/k").await["api_key"], OLD);
    let k = h.read("keys/k").await;
    assert_eq!(k["exposed"]["version"], 1);
    assert_eq!(k["exposed"]["withdrawn"], false);
    assert_eq!(k["exposed"]["source"], "github.com/acme/app commit 1234567");
    let overdue = h.read("overdue").await;
    assert_eq!(overdue["keys"][0]["key"], "k", "{overdue}");
    assert_eq!(overdue["keys"][0]["exposed"], true);
    let report = h.read("report").await;
    assert_eq!(report["keys"][0]["exposed"]["version"], 1, "{report}");
    assert!(h
        .prometheus()
        .await
        .contains("ai_keys_key_exposed{key=\"k\",mount=\"ai-keys\"} 1\n"));
    // A second report of the same leak is recorded again, nothing else.
    expose(&h, json!({ "value": OLD })).await.unwrap();
    assert_eq!(events(&h, "k", "exposed").await.len(), 2);
    // A new value promoted ends it.
    h.write("rotate/k", json!({ "value": NEW, "grace_period": 0 }))
        .await
        .unwrap();
    assert_eq!(h.read("keys/k").await["exposed"], json!(null));
    assert!(h
        .prometheus()
        .await
        .contains("ai_keys_key_exposed{key=\"k\",mount=\"ai-keys\"} 0\n"));
    assert!(h.read("overdue").await["keys"]
        .as_array()
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn under_the_rule_the_leaked_current_key_is_withdrawn_and_its_successor_waits_for_an_approver(
) {
    let (h, fake, leaked) = created_key(true).await;
    h.write("rotate/k", json!({}))
        .await
        .expect_err("rotate/ is refused under the rule");
    let out = expose_as(&h, "carol", json!({ "value": leaked }))
        .await
        .unwrap();
    let m = only(&out);
    assert_eq!(m["action"], "withdrawn", "{out}");
    assert_eq!(m["pending_version"], 2);
    assert_eq!(
        m["retired_versions"][0]["provider_revocation"], "confirmed",
        "{out}"
    );
    assert!(fake
        .requests()
        .contains(&"DELETE /api/v1/keys/hash-1".to_string()));
    // No working value until a different entity promotes: creds/ says why.
    match h.call(Operation::Read, "creds/k", Value::Null).await {
        Err(Error::NotFound(msg)) => {
            assert!(
                msg.contains("withdrawn") && msg.contains("version 2"),
                "{msg}"
            )
        }
        other => panic!("expected a 404, got {other:?}"),
    }
    let k = h.read("keys/k").await;
    assert_eq!(
        (k["current_version"].clone(), k["pending_version"].clone()),
        (Value::Null, json!(2))
    );
    assert_eq!(k["exposed"]["withdrawn"], true);
    assert!(h
        .prometheus()
        .await
        .contains("ai_keys_key_exposed{key=\"k\",mount=\"ai-keys\"} 1\n"));
    assert_eq!(h.read("overdue").await["keys"][0]["exposed"], true);
    // The tick does not promote it (the scheduler never rotates a key without a current one).
    h.tick().await.unwrap();
    assert_eq!(h.read("keys/k").await["current_version"], Value::Null);
    // The reporter staged it: they may not promote it; someone else may.
    let same = h
        .call_as("carol", Operation::Update, "promote/k", json!({}))
        .await;
    assert!(matches!(same, Err(Error::PermissionDenied(_))), "{same:?}");
    h.call_as("bob", Operation::Update, "promote/k", json!({}))
        .await
        .unwrap();
    let new = fake.created.lock().unwrap()[1].clone();
    assert_eq!(h.read("creds/k").await["api_key"], new.as_str());
    assert_eq!(h.read("keys/k").await["exposed"], json!(null));
}

#[tokio::test]
async fn under_the_rule_a_key_without_a_creating_provider_stays_current_and_waits_for_a_new_value()
{
    let h = Harness::new().await;
    h.create_key("k", OLD).await;
    h.write("config", json!({ "require_separate_approver": true }))
        .await
        .unwrap();
    let out = expose(&h, json!({ "value": OLD })).await.unwrap();
    let m = only(&out);
    assert_eq!(m["action"], "marked_exposed");
    assert!(
        m["waits_for"]
            .as_str()
            .unwrap()
            .contains("different entity"),
        "{m}"
    );
    assert_eq!(h.read("keys/k").await["exposed"]["version"], 1);
    // The way out: one entity stages, another promotes with grace 0.
    h.call_as(
        "carol",
        Operation::Update,
        "stage/k",
        json!({ "value": NEW }),
    )
    .await
    .unwrap();
    h.call_as("carol", Operation::Update, "test/k", json!({}))
        .await
        .unwrap();
    h.call_as(
        "bob",
        Operation::Update,
        "promote/k",
        json!({ "grace_period": 0 }),
    )
    .await
    .unwrap();
    assert_eq!(h.read("keys/k").await["exposed"], json!(null));
    assert_eq!(h.read("creds/k").await["api_key"], NEW);
}

/// On storage that refuses writes (a standby), the answer is the storage's error, so the server
/// forwards the request to the active node, and no provider is called.
#[tokio::test]
async fn read_only_storage_answers_its_error_before_any_provider_call() {
    let (h, fake, leaked) = created_key(false).await;
    let calls = fake.requests().len();
    h.storage.set_read_only(true);
    let out = expose(&h, json!({ "value": leaked })).await;
    assert!(matches!(out, Err(Error::Storage(_))), "{out:?}");
    assert_eq!(fake.requests().len(), calls, "{:?}", fake.requests());
    h.storage.set_read_only(false);
    assert_eq!(h.read("keys/k").await["exposed"], json!(null));
}

/// The new key fails its test: it is discarded (revoked at the provider), and the leaked one
/// stays current, marked exposed, with the error in the answer.
#[tokio::test]
async fn a_failed_emergency_rotation_leaves_the_key_marked_exposed() {
    let (h, fake, leaked) = created_key(false).await;
    fake.test_status
        .store(401, std::sync::atomic::Ordering::SeqCst);
    let out = expose(&h, json!({ "value": leaked })).await.unwrap();
    let m = only(&out);
    assert_eq!(m["action"], "marked_exposed", "{out}");
    assert!(
        m["rotation_error"].as_str().unwrap().contains("bad_key"),
        "{m}"
    );
    assert!(
        fake.requests()
            .contains(&"DELETE /api/v1/keys/hash-2".to_string()),
        "{:?}",
        fake.requests()
    );
    let k = h.read("keys/k").await;
    assert_eq!(
        (
            k["current_version"].clone(),
            k["exposed"]["version"].clone()
        ),
        (json!(1), json!(1))
    );
    assert_eq!(h.read("creds/k").await["api_key"], leaked.as_str());
}
