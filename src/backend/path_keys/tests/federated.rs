//! Federated keys on `keys/`: what a create needs, what it refuses (naming the field, changing
//! nothing), how one reads and lists, and that rotation paths refuse it.

use serde_json::{json, Value};

use crate::backend::testing::{expect_bad_request, FakeTokenEndpoint, Harness};
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

/// `history/` of a federated key: no stored events, and its exchanges on this node by outcome
/// (the last failure's time and error, never a token); creds/ and history/ reads write nothing.
#[tokio::test]
async fn history_of_a_federated_key_counts_its_exchanges_by_outcome_and_writes_nothing() {
    let h = Harness::new().await;
    let fake = FakeTokenEndpoint::start().await;
    fake.federated_key(&h, "app").await;
    fake.federated_key(&h, "other").await;
    let before = h.snapshot().await;
    let creds = h.read("creds/app").await;
    assert_eq!(creds["api_key"], "fake-access-token-0");
    // The cached token: no second exchange.
    assert_eq!(h.read("creds/app").await["api_key"], "fake-access-token-0");
    fake.answer(400);
    let err = h.call(Operation::Read, "creds/other", Value::Null).await;
    assert_eq!(err.unwrap_err().status(), 502);
    fake.answer(503);
    let err = h.call(Operation::Read, "creds/other", Value::Null).await;
    assert_eq!(err.unwrap_err().status(), 503);
    assert_eq!(fake.issued(), 1);

    let app = h.read("history/app").await;
    assert_eq!(app["federated"], true);
    assert_eq!(app["events"], json!([]));
    let ex = &app["exchanges"];
    assert_eq!(ex["ok"], 1);
    assert_eq!(
        ex["failed"],
        json!({"bad_key": 0, "provider_unavailable": 0})
    );
    assert_eq!(ex["node"], "active");
    assert!(ex["last_exchange_time"].is_string(), "{ex}");
    assert_eq!(ex["last_failure_time"], Value::Null);
    assert_eq!(ex["last_error"], Value::Null);

    let other = h.read("history/other").await;
    let ex = &other["exchanges"];
    assert_eq!(ex["ok"], 0);
    assert_eq!(
        ex["failed"],
        json!({"bad_key": 1, "provider_unavailable": 1})
    );
    assert!(ex["last_failure_time"].is_string(), "{ex}");
    let error = ex["last_error"].as_str().unwrap();
    assert!(
        error.contains("provider_unavailable") && error.contains("503"),
        "{error}"
    );
    assert!(!other.to_string().contains("fake-access-token"), "{other}");
    assert_eq!(h.snapshot().await, before, "reads write no storage");

    // Per key in metrics too, beside the mount-wide counter.
    let text = h.read("metrics").await.to_string();
    for label in ["\"key\":\"app\"", "\"key\":\"other\"", "bad_key"] {
        assert!(text.contains(label), "{label}: {text}");
    }
    assert!(
        text.contains("ai_keys_federated_key_token_exchanges_total"),
        "{text}"
    );

    // A deleted key's counts go with it.
    h.call(Operation::Delete, "keys/other", Value::Null)
        .await
        .unwrap();
    assert!(h
        .call(Operation::Read, "history/other", Value::Null)
        .await
        .unwrap()
        .is_none());
}

/// A standby serves creds/ of a federated key and counts the exchange without writing storage;
/// its history/ says which node counted.
#[tokio::test]
async fn a_standby_counts_exchanges_in_memory_and_writes_nothing() {
    let h = Harness::new().await;
    let fake = FakeTokenEndpoint::start().await;
    fake.federated_key(&h, "app").await;
    h.system
        .standby
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let before = h.snapshot().await;
    assert_eq!(h.read("creds/app").await["api_key"], "fake-access-token-0");
    let ex = h.read("history/app").await["exchanges"].clone();
    assert_eq!(
        (ex["ok"].clone(), ex["node"].clone()),
        (json!(1), json!("standby"))
    );
    assert_eq!(h.snapshot().await, before, "a standby writes nothing");
}

/// A standby learns of a federated key's delete only through the replicated storage: its
/// metrics drop the key's exchange counts with the definition, as the active node's do.
#[tokio::test]
async fn a_standby_stops_showing_the_counts_of_a_key_deleted_on_the_active_node() {
    let h = Harness::new().await;
    let fake = FakeTokenEndpoint::start().await;
    fake.federated_key(&h, "app").await;
    h.system
        .standby
        .store(true, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(h.read("creds/app").await["api_key"], "fake-access-token-0");
    let text = h.read("metrics").await.to_string();
    assert!(text.contains("\"key\":\"app\""), "{text}");
    // The active node deletes it: the standby sees the storage change and its invalidation.
    use crate::framework::Storage;
    h.storage.delete("federated/app").await.unwrap();
    h.invalidate("federated/app").await;
    let text = h.read("metrics").await.to_string();
    assert!(!text.contains("\"key\":\"app\""), "{text}");
}
