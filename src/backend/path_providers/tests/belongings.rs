//! What still belongs to a provider configuration keeps it from being deleted (live versions
//! created there, create intents), and a stored admin key is bound to its project.

use serde_json::{json, Value};

use super::{provider, ADMIN, LOCAL};
use crate::backend::testing::{
    created_at_provider, expect_bad_request, with_key, FakeTokenEndpoint, Harness,
};
use crate::framework::Operation;

/// A version the engine created at a provider keeps the provider, even after its key names
/// another one: its revocation will need that configuration. The read lists it.
#[tokio::test]
async fn providers_holding_a_live_version_created_there_cannot_be_deleted() {
    let h = with_key().await;
    created_at_provider(&h).await;
    h.create("providers/q", json!({"type": "anthropic"}))
        .await
        .unwrap();
    h.write("keys/k", json!({"provider": "q"})).await.unwrap();
    let before = h.snapshot().await;
    let msg = expect_bad_request(h.call(Operation::Delete, "providers/p", Value::Null).await);
    assert!(msg.contains("live versions: k version 1"), "{msg}");
    assert_eq!(h.snapshot().await, before);
    let read = provider(&h, "p").await.expect("still there");
    assert_eq!(read["belongings"]["live_versions"], json!(["k version 1"]));
    assert_eq!(read["belongings"]["keys"], json!([]));
}

/// A create intent whose answer was lost may stand for a key the provider made: the provider
/// that was asked stays until recovery settles it.
#[tokio::test]
async fn providers_named_by_a_create_intent_cannot_be_deleted() {
    let h = Harness::new().await;
    h.create(
        "providers/p",
        json!({"type": "openrouter", "base_url": LOCAL}),
    )
    .await
    .unwrap();
    let intent = json!({ "key": "k", "provider": "p", "name_at_provider": "ai-keys-k-0123" });
    crate::framework::wal_put(
        h.storage.as_ref(),
        crate::backend::provider_ops::WAL_CREATE,
        &intent,
    )
    .await
    .unwrap();
    let before = h.snapshot().await;
    let msg = expect_bad_request(h.call(Operation::Delete, "providers/p", Value::Null).await);
    assert!(
        msg.contains("create intents") && msg.contains("k (ai-keys-k-0123)"),
        "{msg}"
    );
    assert_eq!(h.snapshot().await, before);
    let read = provider(&h, "p").await.expect("still there");
    assert_eq!(
        read["belongings"]["create_intents"],
        json!(["k (ai-keys-k-0123)"])
    );
}

/// OpenAI's project_id is part of where keys live: like base_url, changing it needs the admin
/// key in the same request, and the refusal names it and changes nothing.
#[tokio::test]
async fn providers_changing_project_id_needs_the_admin_key_again() {
    let h = Harness::new().await;
    h.create(
        "providers/o",
        json!({"type": "openai", "base_url": LOCAL, "admin_key": ADMIN, "project_id": "proj_a"}),
    )
    .await
    .unwrap();
    let before = h.snapshot().await;
    let msg = expect_bad_request(
        h.write("providers/o", json!({"project_id": "proj_b"}))
            .await,
    );
    assert!(
        msg.contains("project_id") && msg.contains("admin_key"),
        "{msg}"
    );
    assert_eq!(h.snapshot().await, before);
    let out = h
        .write(
            "providers/o",
            json!({"project_id": "proj_b", "admin_key": ADMIN}),
        )
        .await
        .unwrap();
    assert_eq!(out["project_id"], "proj_b", "{out}");
}

/// A retired key the engine does not own, left to a person (`manual`), keeps its provider until
/// someone acknowledges revoking it by hand: the configuration's read is where they see what to
/// revoke. Acknowledged, it no longer belongs there.
#[tokio::test]
async fn providers_owed_an_unacknowledged_manual_revocation_cannot_be_deleted() {
    let h = Harness::new().await;
    let fake = crate::backend::testing::FakeOpenRouter::start(200).await;
    fake.configure(&h, "p").await;
    h.create(
        "keys/k",
        json!({ "value": "sk-or-v1-imported-0123456789abcdef", "provider": "p" }),
    )
    .await
    .unwrap();
    h.write("rotate/k", json!({ "grace_period": "0s" }))
        .await
        .unwrap();
    let msg = expect_bad_request(h.call(Operation::Delete, "providers/p", Value::Null).await);
    assert!(
        msg.contains("manual revocations nobody acknowledged (acknowledge/ once revoked by hand): k version 1"),
        "{msg}"
    );
    let read = provider(&h, "p").await.expect("still there");
    assert_eq!(
        read["belongings"]["manual_revocations"],
        json!(["k version 1"])
    );
    h.write("acknowledge/k", json!({ "version": 1 }))
        .await
        .unwrap();
    let read = provider(&h, "p").await.expect("still there");
    assert_eq!(read["belongings"]["manual_revocations"], json!([]));
}

/// A federated key exchanges its tokens at its provider: the provider cannot be deleted while
/// one names it (a 400 naming the key, nothing changed), its read lists it, and once the key is
/// deleted the provider can go.
#[tokio::test]
async fn providers_named_by_a_federated_key_cannot_be_deleted() {
    let h = Harness::new().await;
    let fake = FakeTokenEndpoint::start().await;
    fake.federated_key(&h, "fed").await;
    let before = h.snapshot().await;
    let msg = expect_bad_request(h.call(Operation::Delete, "providers/oa", Value::Null).await);
    assert!(msg.contains("federated keys: fed"), "{msg}");
    assert_eq!(h.snapshot().await, before);
    let read = provider(&h, "oa").await.expect("still there");
    assert_eq!(read["belongings"]["federated_keys"], json!(["fed"]));
    assert_eq!(h.read("creds/fed").await["api_key"], "fake-access-token-0");

    h.call(Operation::Delete, "keys/fed", Value::Null)
        .await
        .unwrap();
    h.call(Operation::Delete, "providers/oa", Value::Null)
        .await
        .unwrap();
    assert!(provider(&h, "oa").await.is_none());
}
