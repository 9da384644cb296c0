//! Federated keys on `keys/`: what a create needs, what it refuses (naming the field, changing
//! nothing), how one reads and lists, and that rotation paths refuse it.

use serde_json::{json, Value};

use crate::backend::testing::{expect_bad_request, Harness};
use crate::framework::Operation;

async fn with_issuer() -> Harness {
    let h = Harness::new().await;
    h.write(
        "config",
        json!({"issuer": "https://bao.example.com/v1/ai-keys"}),
    )
    .await
    .unwrap();
    h.write(
        "providers/oa",
        json!({"type": "openai", "base_url": "http://127.0.0.1:9"}),
    )
    .await
    .unwrap();
    h.write(
        "providers/gem",
        json!({"type": "gemini", "base_url": "http://127.0.0.1:9"}),
    )
    .await
    .unwrap();
    h
}

fn openai_key() -> Value {
    json!({
        "federated": true, "provider": "oa", "subject": "ai-keys:app",
        "audience": "https://api.openai.com/v1", "identity_provider_id": "wip_1",
        "service_account_id": "svc_1",
    })
}

#[tokio::test]
async fn a_federated_key_is_created_read_listed_and_deleted_without_any_value() {
    let h = with_issuer().await;
    let created = h.create("keys/app", openai_key()).await.unwrap();
    assert_eq!(created["federated"], true);
    assert_eq!(created["token_ttl"], 300);
    let read = h.read("keys/app").await;
    assert_eq!(read["service_account_id"], "svc_1");
    assert!(read.get("versions").is_none());
    assert_eq!(
        h.call(Operation::List, "keys/", Value::Null)
            .await
            .unwrap()
            .unwrap()
            .data_value()["keys"],
        json!(["app"])
    );
    // An update changes a setting and keeps the rest.
    let updated = h
        .write("keys/app", json!({"token_ttl": "2m"}))
        .await
        .unwrap();
    assert_eq!(
        (updated["token_ttl"].as_i64(), updated["subject"].as_str()),
        (Some(120), Some("ai-keys:app"))
    );
    h.call(Operation::Delete, "keys/app", Value::Null)
        .await
        .unwrap();
    assert!(h
        .call(Operation::Read, "keys/app", Value::Null)
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn bad_federated_keys_are_400_naming_the_field_and_change_nothing() {
    let h = with_issuer().await;
    let before = h.snapshot().await;
    let with = |change: Value| {
        let mut k = openai_key();
        for (f, v) in change.as_object().unwrap() {
            if v.is_null() {
                k.as_object_mut().unwrap().remove(f);
            } else {
                k[f] = v.clone();
            }
        }
        k
    };
    for (body, field) in [
        (
            with(json!({"service_account_id": null})),
            "service_account_id",
        ),
        (
            with(json!({"federation_policy_id": "p"})),
            "federation_policy_id",
        ),
        (with(json!({"subject": null})), "subject"),
        (with(json!({"provider": "gem"})), "provider"),
        (with(json!({"provider": "nope"})), "provider"),
        (with(json!({"token_ttl": "1h"})), "token_ttl"),
        (
            with(json!({"value": "sk-test-0123456789abcdefghij"})),
            "value",
        ),
        (with(json!({"auto_rotate": true})), "auto_rotate"),
    ] {
        let msg = expect_bad_request(h.create("keys/app", body.clone()).await);
        assert!(msg.contains(field), "{body}: {msg}");
    }
    // Federated fields without federated=true.
    let msg = expect_bad_request(
        h.create(
            "keys/plain",
            json!({"value": "sk-test-0123456789abcdefghij", "subject": "x"}),
        )
        .await,
    );
    assert!(msg.contains("federated"), "{msg}");
    assert_eq!(h.snapshot().await, before);
}

#[tokio::test]
async fn a_federated_key_needs_the_issuer_and_refuses_rotation_paths() {
    let h = Harness::new().await;
    h.write(
        "providers/oa",
        json!({"type": "openai", "base_url": "http://127.0.0.1:9"}),
    )
    .await
    .unwrap();
    let msg = expect_bad_request(h.create("keys/app", openai_key()).await);
    assert!(msg.contains("config issuer"), "{msg}");
    let h = with_issuer().await;
    h.create("keys/app", openai_key()).await.unwrap();
    for (path, body) in [
        ("rotate/app", json!({})),
        (
            "stage/app",
            json!({"value": "sk-test-0123456789abcdefghij"}),
        ),
        ("test/app", json!({})),
    ] {
        let msg = expect_bad_request(h.write(path, body).await);
        assert!(msg.contains("federated"), "{path}: {msg}");
    }
    // A name is one kind: a valued key cannot take a federated key's name, nor the reverse.
    let msg = expect_bad_request(
        h.create("keys/app", json!({"value": "sk-test-0123456789abcdefghij"}))
            .await,
    );
    assert!(msg.contains("federated") || msg.contains("exists"), "{msg}");
}

#[tokio::test]
async fn creds_of_a_federated_key_on_an_unreachable_provider_is_503_and_writes_nothing() {
    let h = with_issuer().await;
    h.create("keys/app", openai_key()).await.unwrap();
    let before = h.snapshot().await;
    let err = h
        .call(Operation::Read, "creds/app", Value::Null)
        .await
        .unwrap_err();
    assert_eq!(err.status(), 503, "{err}");
    assert!(err.to_string().contains("provider_unavailable"), "{err}");
    assert_eq!(
        h.snapshot().await,
        before,
        "a creds/ read writes no storage"
    );
}
