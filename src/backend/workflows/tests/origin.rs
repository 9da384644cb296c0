//! Where a retired key's revocation goes: only to a provider configuration that still points
//! at the key's origin.

use serde_json::json;

use crate::backend::testing::{created_at, with_key, FakeOpenRouter, NEW};

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
