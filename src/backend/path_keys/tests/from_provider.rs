//! `keys/` create without a value: the key's provider creates version 1, which is tested first;
//! current at once without the two-person rule, pending for another entity under it; a key that
//! fails its test is revoked at the provider and nothing is created.

use serde_json::{json, Value};

use crate::backend::testing::{expect_bad_request, wal_entries, FakeOpenRouter, Harness};
use crate::framework::{Error, Operation};

async fn with_provider(test_status: u16, rule: bool) -> (Harness, FakeOpenRouter) {
    let h = Harness::new().await;
    if rule {
        h.write("config", json!({ "require_separate_approver": true }))
            .await
            .unwrap();
    }
    let fake = FakeOpenRouter::start(test_status).await;
    fake.configure(&h, "or").await;
    (h, fake)
}

#[tokio::test]
async fn without_the_rule_a_key_created_at_its_provider_is_tested_and_current() {
    let (h, fake) = with_provider(200, false).await;
    let out = h
        .create("keys/k", json!({ "provider": "or" }))
        .await
        .unwrap();
    assert_eq!(out["current_version"], 1, "{out}");
    assert_eq!(out["test"]["outcome"], "passed", "{out}");
    assert_eq!(out["test"]["version"], 1);
    let v1 = &out["versions"]["1"];
    assert_eq!(v1["state"], "current");
    assert_eq!(v1["engine_created"], true);
    assert_eq!(v1["provider_key_id"], "hash-1");
    assert_eq!(v1["provider"], "or");
    // Where the key lives, recorded at its creation.
    let origin = json!({ "provider_type": "openrouter", "base_url": fake.base_url,
        "scope": null, "provider_key_id": "hash-1" });
    assert_eq!(v1["origin"], origin, "{v1}");
    assert_eq!(v1["last_test"]["outcome"], "passed");
    let created = fake.created.lock().unwrap()[0].clone();
    assert!(
        !out.to_string().contains(&created),
        "no value in the answer"
    );
    assert_eq!(h.read("creds/k").await["api_key"], created.as_str());
    assert_eq!(
        fake.requests(),
        ["POST /api/v1/keys", "GET /api/v1/key"],
        "created, then tested"
    );
    assert!(
        wal_entries(&h).await.is_empty(),
        "the create intent is settled"
    );
    let kinds: Vec<Value> = h
        .history("k")
        .await
        .iter()
        .map(|e| e["event"].clone())
        .collect();
    assert_eq!(kinds, [json!("tested"), json!("created")]);
}

#[tokio::test]
async fn under_the_rule_a_key_created_at_its_provider_waits_for_another_entity() {
    let (h, fake) = with_provider(200, true).await;
    let out = h
        .create("keys/k", json!({ "provider": "or" }))
        .await
        .unwrap();
    assert_eq!(out["current_version"], Value::Null, "{out}");
    assert_eq!(out["pending_version"], 1);
    assert_eq!(out["versions"]["1"]["last_test"]["outcome"], "passed");
    match h.call(Operation::Read, "creds/k", Value::Null).await {
        Err(e @ Error::NotFound(_)) => assert!(e.to_string().contains("awaiting approval"), "{e}"),
        other => panic!("expected a 404, got {other:?}"),
    }
    // The creator cannot promote it; another entity can, without testing it again.
    let own = h.write("promote/k", json!({})).await;
    assert!(matches!(own, Err(Error::PermissionDenied(_))), "{own:?}");
    h.call_as("bob", Operation::Update, "promote/k", json!({}))
        .await
        .unwrap();
    let created = fake.created.lock().unwrap()[0].clone();
    assert_eq!(h.read("creds/k").await["api_key"], created.as_str());
}

#[tokio::test]
async fn a_key_whose_created_value_fails_its_test_is_not_created_and_is_revoked_at_the_provider() {
    for rule in [false, true] {
        let (h, fake) = with_provider(401, rule).await;
        let before = h.snapshot().await;
        let msg = expect_bad_request(h.create("keys/k", json!({ "provider": "or" })).await);
        assert!(
            msg.contains("was not created") && msg.contains("bad_key") && msg.contains("revoked"),
            "rule {rule}: {msg}"
        );
        assert_eq!(
            fake.requests(),
            [
                "POST /api/v1/keys",
                "GET /api/v1/key",
                "DELETE /api/v1/keys/hash-1"
            ],
            "rule {rule}"
        );
        let created = fake.created.lock().unwrap()[0].clone();
        assert!(!msg.contains(&created), "no value in the error");
        assert_eq!(h.snapshot().await, before, "rule {rule}: nothing stored");
        assert!(!h.exists("keys/k").await);
    }
}

#[tokio::test]
async fn without_a_value_a_provider_that_cannot_create_keys_is_a_400_naming_why() {
    let h = Harness::new().await;
    h.create(
        "providers/compat",
        json!({ "type": "openai_compatible", "base_url": "http://127.0.0.1:9" }),
    )
    .await
    .unwrap();
    let before = h.snapshot().await;
    let cases = [
        (json!({ "provider": "compat" }), "cannot create keys"),
        (json!({}), "value is required"),
        (json!({ "provider": "nosuch" }), "nosuch"),
        (
            json!({ "provider": "compat", "provider_key_id": "id-1" }),
            "provider_key_id goes with value",
        ),
        (
            json!({ "provider": "compat", "created_time": "2024-01-01T00:00:00Z" }),
            "created_time goes with value",
        ),
    ];
    for (body, expected) in cases {
        let msg = expect_bad_request(h.create("keys/k", body.clone()).await);
        assert!(msg.contains(expected), "{body}: {msg}");
    }
    assert_eq!(h.snapshot().await, before);
}

#[tokio::test]
async fn a_failed_create_whose_key_the_provider_will_not_revoke_leaves_its_intent_for_recovery() {
    let (h, fake) = with_provider(401, false).await;
    fake.delete_status
        .store(403, std::sync::atomic::Ordering::SeqCst);
    let msg = expect_bad_request(h.create("keys/k", json!({ "provider": "or" })).await);
    assert!(
        msg.contains("was not created") && msg.contains("revoking it there failed"),
        "{msg}"
    );
    assert!(!h.exists("keys/k").await, "no key was created");
    // The create intent stays: recovery revokes the key that no version records.
    let intents = wal_entries(&h).await;
    assert_eq!(intents.len(), 1, "{intents:?}");
    assert_eq!(intents[0].1.data["key"], "k");
    assert_eq!(intents[0].1.data["provider_key_id"], "hash-1");
}
