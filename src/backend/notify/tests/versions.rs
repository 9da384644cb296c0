//! Every notification names the right version: a rotation's steps the version they concern, a
//! grace extension the previous version, a failed rotation the version it staged or, when
//! nothing was staged, the number the new version was to get (and `data.attempted_version`
//! says which).

use serde_json::{json, Value};

use super::{subscribe, Receiver};
use crate::backend::testing::{with_key, FakeOpenRouter, Harness, NEW, OLD};

/// The (type without prefix, version, attempted_version) of every event received, in order.
fn received(r: &Receiver) -> Vec<(String, Value, Value)> {
    r.events()
        .into_iter()
        .map(|e| {
            let ty = e["type"].as_str().unwrap();
            let ty = ty.strip_prefix("io.openbao.ai-keys.").unwrap().to_string();
            (
                ty,
                e["data"]["version"].clone(),
                e["data"]["attempted_version"].clone(),
            )
        })
        .collect()
}

fn ev(ty: &str, version: Value, attempted: Value) -> (String, Value, Value) {
    (ty.to_string(), version, attempted)
}

/// Key `k` (value [`OLD`], version 1) at provider `or`, the fake OpenRouter.
async fn at_openrouter(test_status: u16) -> (Harness, FakeOpenRouter, Receiver) {
    let h = Harness::new().await;
    let fake = FakeOpenRouter::start(200).await;
    fake.configure(&h, "or").await;
    h.create("keys/k", json!({ "value": OLD, "provider": "or" }))
        .await
        .unwrap();
    fake.test_status
        .store(test_status, std::sync::atomic::Ordering::SeqCst);
    let r = Receiver::start().await;
    subscribe(&h, &r).await;
    (h, fake, r)
}

#[tokio::test]
async fn rotation_steps_and_a_grace_extension_name_their_versions() {
    let h = with_key().await;
    let r = Receiver::start().await;
    subscribe(&h, &r).await;
    h.write("rotate/k", json!({ "value": NEW, "grace_period": "1h" }))
        .await
        .unwrap();
    h.write("extend/k", json!({ "grace_period": "2h" }))
        .await
        .unwrap();
    h.tick().await.unwrap();
    assert_eq!(
        received(&r),
        [
            ev("rotation.staged", json!(2), Value::Null),
            ev("rotation.tested", json!(2), Value::Null),
            ev("rotation.promoted", json!(2), Value::Null),
            ev("grace.extended", json!(1), Value::Null),
        ]
    );
}

/// The new key the provider created fails its test as `bad_key`: the staged version stays on
/// record as `failed`, and the notification names it.
#[tokio::test]
async fn a_rotation_whose_new_key_was_refused_names_the_staged_version() {
    let (h, _fake, r) = at_openrouter(401).await;
    assert!(h.write("rotate/k", json!({})).await.is_err());
    h.tick().await.unwrap();
    let failed: Vec<_> = received(&r)
        .into_iter()
        .filter(|e| e.0 == "rotation.failed")
        .collect();
    assert_eq!(
        failed,
        [ev("rotation.failed", json!(2), json!("staged"))],
        "{:?}",
        r.events()
    );
}

/// The provider does not answer the new key's test: the key is saved as it was (version 2 is
/// gone from the record), yet the notification names version 2, the one that was staged.
#[tokio::test]
async fn a_rotation_put_back_after_its_test_names_the_version_it_staged() {
    let (h, _fake, r) = at_openrouter(503).await;
    assert!(h.write("rotate/k", json!({})).await.is_err());
    h.tick().await.unwrap();
    assert_eq!(
        received(&r),
        [ev("rotation.failed", json!(2), json!("staged"))],
        "{:?}",
        r.events()
    );
    let history = h.history("k").await;
    let failed = history.iter().find(|e| e["event"] == "failed").unwrap();
    assert_eq!(failed["version"], 2, "{failed}");
    assert_eq!(h.read("keys/k").await["versions"]["2"], Value::Null);
}

/// The provider cannot be reached to create the new key: nothing is staged, and the
/// notification names the number the new version was to get, `planned`.
#[tokio::test]
async fn a_rotation_whose_create_failed_names_the_version_it_was_to_get() {
    let h = with_key().await;
    // OpenRouter at a closed port: every create fails without an answer.
    let body = json!({ "type": "openrouter", "base_url": "http://127.0.0.1:9", "admin_key": "sk-or-v1-admin-0123456789abcdef" });
    h.create("providers/down", body).await.unwrap();
    h.write("keys/k", json!({ "provider": "down" }))
        .await
        .unwrap();
    let r = Receiver::start().await;
    subscribe(&h, &r).await;
    assert!(h.write("rotate/k", json!({})).await.is_err());
    h.tick().await.unwrap();
    assert_eq!(
        received(&r),
        [ev("rotation.failed", json!(2), json!("planned"))],
        "{:?}",
        r.events()
    );
    let history = h.history("k").await;
    let failed = history.iter().find(|e| e["event"] == "failed").unwrap();
    assert_eq!(failed["outcome"], "not_staged", "{failed}");
}

/// The tick's notices name the version they are about: the current one overdue (here version
/// 2), the retired one whose revocation waits too long (1), the live one expiring at its
/// provider (2).
#[tokio::test]
async fn notices_name_the_version_they_are_about() {
    use crate::backend::testing::created_at_provider;
    use crate::framework::Storage;
    let h = with_key().await;
    // Version 1 lives at a provider whose revocations all fail; version 2 replaces it at once.
    created_at_provider(&h).await;
    h.write("stage/k", json!({ "value": NEW })).await.unwrap();
    h.write("promote/k", json!({ "grace_period": 0, "force": true }))
        .await
        .unwrap();
    let raw = h.storage.get("keys/k").await.unwrap().unwrap();
    let mut record: Value = serde_json::from_slice(&raw).unwrap();
    let at = |days: i64, hours: i64| {
        (chrono::Utc::now() + chrono::Duration::days(days) + chrono::Duration::hours(hours))
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    };
    let versions = &mut record["key"]["versions"]["versions"];
    assert_eq!(versions["1"]["state"], "revoked", "{versions}");
    versions["1"]["provider_revocation"]["requested_time"] = json!(at(0, -2));
    versions["2"]["created_time"] = json!(at(-100, 0));
    versions["2"]["provider_expires_time"] = json!(at(3, 0));
    h.storage
        .put("keys/k", serde_json::to_vec(&record).unwrap())
        .await
        .unwrap();
    h.invalidate("keys/k").await;
    let r = Receiver::start().await;
    subscribe(&h, &r).await;
    h.tick().await.unwrap();
    let mut got = received(&r);
    got.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        got,
        [
            ev("key.overdue", json!(2), Value::Null),
            ev("key.provider_expiry_near", json!(2), Value::Null),
            ev("revocation.pending_long", json!(1), Value::Null),
        ],
        "{:?}",
        r.events()
    );
}
