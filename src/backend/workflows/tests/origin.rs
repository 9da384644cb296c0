//! Where a retired key's revocation goes: only to a provider configuration that still points
//! at the key's origin.

use std::sync::atomic::Ordering;

use serde_json::json;

use crate::backend::record;
use crate::backend::testing::{created_at, wal_entries, with_key, FakeOpenRouter, Harness, NEW};
use crate::framework::{put_json, Operation};

const ADMIN: &str = "sk-or-admin-SECRET-0123456789abcdef";

/// Where a retired key lives decides where its revocation goes: a configuration that now
/// points elsewhere (another host) is never asked, and the revocation stays pending with an
/// error naming the mismatch.
#[tokio::test]
async fn a_revocation_is_never_sent_to_a_configuration_that_points_elsewhere() {
    let h = with_key().await;
    let fake = FakeOpenRouter::start(200).await;
    let config = json!({ "type": "openrouter", "base_url": fake.base_url, "admin_key": ADMIN });
    created_at(&h, "or", config, "hash1").await;
    let origin = h.read("keys/k").await["versions"]["1"]["origin"].clone();
    assert_eq!(origin["provider_type"], "openrouter", "{origin}");
    assert_eq!(origin["base_url"], fake.base_url, "{origin}");
    assert_eq!(origin["provider_key_id"], "hash1", "{origin}");
    let elsewhere = fake.base_url.replace("127.0.0.1", "localhost");
    h.write(
        "providers/or",
        json!({ "base_url": elsewhere, "admin_key": ADMIN }),
    )
    .await
    .unwrap();
    h.write("stage/k", json!({ "value": NEW })).await.unwrap();
    h.write("promote/k", json!({ "force": true, "grace_period": 0 }))
        .await
        .unwrap();
    let v1 = &h.read("keys/k").await["versions"]["1"];
    let r = &v1["provider_revocation"];
    assert_eq!(r["status"], "pending", "{v1}");
    let error = r["last_error"].as_str().unwrap_or_default();
    assert!(
        error.contains("origin mismatch") && error.contains("base_url"),
        "{error}"
    );
    assert_eq!(v1["origin"], origin, "the origin never changes");
    let requests = fake.requests.lock().unwrap().clone();
    assert!(
        !requests.iter().any(|r| r.starts_with("DELETE")),
        "{requests:?}"
    );
}

/// Version 1 of key `k`, created by the engine at `fake` (as provider `or`, key `hash-1`) under
/// an earlier release, which recorded no origin; then retired at once by a promotion.
async fn retired_without_origin(fake: &FakeOpenRouter) -> Harness {
    let h = with_key().await;
    let config = json!({ "type": "openrouter", "base_url": fake.base_url, "admin_key": ADMIN });
    created_at(&h, "or", config, "hash-1").await;
    let storage = h.cached.as_ref();
    let mut entry = record::load(storage, "k").await.unwrap().unwrap();
    if let Some(v) = entry.key.versions.versions.get_mut(&1) {
        v.origin = None;
    }
    record::save(storage, &entry).await.unwrap();
    h.write("stage/k", json!({ "value": NEW })).await.unwrap();
    h.write("promote/k", json!({ "force": true, "grace_period": 0 }))
        .await
        .unwrap();
    h
}

/// Without a recorded origin the engine cannot tell whether a 404 comes from where the key was
/// created: the key is looked up first, and only a key found there is revoked and confirmed; a
/// configuration that does not know the key confirms nothing (and is not asked to delete it).
#[tokio::test]
async fn a_revocation_without_a_recorded_origin_is_confirmed_only_for_a_key_found_there() {
    // The provider does not know hash-1 (it would answer a delete with its own 404 too).
    let fake = FakeOpenRouter::start(200).await;
    fake.delete_status.store(404, Ordering::SeqCst);
    let h = retired_without_origin(&fake).await;
    let r = &h.read("keys/k").await["versions"]["1"]["provider_revocation"];
    assert_eq!(r["status"], "pending", "{r}");
    let error = r["last_error"].as_str().unwrap_or_default();
    assert!(
        error.contains("origin unknown") && error.contains("by hand"),
        "{error}"
    );
    let requests = fake.requests.lock().unwrap().clone();
    assert!(
        requests.contains(&"GET /api/v1/keys/hash-1".to_string()),
        "{requests:?}"
    );
    assert!(
        !requests.iter().any(|r| r.starts_with("DELETE")),
        "{requests:?}"
    );

    // The provider has the key: looked up, deleted, confirmed.
    let fake = FakeOpenRouter::start(200).await;
    fake.created
        .lock()
        .unwrap()
        .push("sk-or-v1-made-before".into());
    let h = retired_without_origin(&fake).await;
    let r = &h.read("keys/k").await["versions"]["1"]["provider_revocation"];
    assert_eq!(r["status"], "confirmed", "{r}");
    let requests = fake.requests.lock().unwrap().clone();
    assert!(
        requests.contains(&"DELETE /api/v1/keys/hash-1".to_string()),
        "{requests:?}"
    );
}

/// A deleted key's revocation lives on only in its intent, which carries the key's origin: the
/// recovery on the tick routes it the same way, sending nothing to a configuration that now
/// points elsewhere.
#[tokio::test]
async fn a_deleted_keys_revoke_intent_keeps_the_origin_and_recovery_routes_by_it() {
    let h = with_key().await;
    let fake = FakeOpenRouter::start(200).await;
    let config = json!({ "type": "openrouter", "base_url": fake.base_url, "admin_key": ADMIN });
    created_at(&h, "or", config, "hash1").await;
    let elsewhere = fake.base_url.replace("127.0.0.1", "localhost");
    h.write(
        "providers/or",
        json!({ "base_url": elsewhere, "admin_key": ADMIN }),
    )
    .await
    .unwrap();
    h.call(Operation::Delete, "keys/k", serde_json::Value::Null)
        .await
        .unwrap();
    let intents = wal_entries(&h).await;
    assert_eq!(intents.len(), 1, "{intents:?}");
    let (id, mut entry) = intents[0].clone();
    assert_eq!(
        entry.data["origin"]["provider_key_id"], "hash1",
        "{:?}",
        entry.data
    );
    assert_eq!(
        entry.data["origin"]["base_url"], fake.base_url,
        "{:?}",
        entry.data
    );
    // Old enough for the recovery on the next tick.
    entry.created_at -= 3600;
    put_json(h.storage.as_ref(), &format!("wal/{id}"), &entry)
        .await
        .unwrap();
    h.tick().await.unwrap();
    let intents = wal_entries(&h).await;
    assert_eq!(intents.len(), 1, "the intent stays: {intents:?}");
    assert_eq!(intents[0].1.data["attempts"], 1, "{:?}", intents[0].1.data);
    let requests = fake.requests.lock().unwrap().clone();
    assert!(
        !requests.iter().any(|r| r.starts_with("DELETE")),
        "{requests:?}"
    );
}
