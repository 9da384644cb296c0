//! Fixtures that plant records and write-ahead intents in storage behind the engine's back
//! (as an engine creation, a crash or the passing of time leaves them), and read the intents.

use serde_json::{json, Value};

use super::{with_key, Harness, NEW};
use crate::backend::{provider_ops, record};
use crate::framework::{get_json, WalEntry};

/// Makes version 1 of key `k` a key the engine created at provider `p` (`openai_compatible`,
/// which cannot revoke: every revocation there fails without a network call).
pub(crate) async fn created_at_provider(h: &Harness) {
    let config = json!({ "type": "openai_compatible", "base_url": "http://127.0.0.1:9" });
    created_at(h, "p", config, "key_1").await;
}

/// Creates provider `name` from `config` and makes version 1 of key `k` a key the engine
/// created there, with provider id `key_id` and its origin (where `name` points), as an engine
/// creation records them.
pub(crate) async fn created_at(h: &Harness, name: &str, config: Value, key_id: &str) {
    h.create(&format!("providers/{name}"), config)
        .await
        .expect("provider");
    let storage = h.cached.as_ref();
    let cfg = provider_ops::load(storage, name).await.unwrap().unwrap();
    let origin = provider_ops::origin_of(&cfg, key_id);
    let mut entry = record::load(storage, "k").await.unwrap().unwrap();
    let key = &mut entry.key;
    key.provider = Some(name.into());
    let v = key.versions.versions.get_mut(&1).unwrap();
    v.engine_created = true;
    v.provider_key_id = Some(key_id.into());
    v.provider = Some(name.into());
    v.origin = Some(origin);
    record::save(storage, &entry).await.unwrap();
}

/// Every intent in the write-ahead log, with its id.
pub(crate) async fn wal_entries(h: &Harness) -> Vec<(String, WalEntry)> {
    let mut out = Vec::new();
    for id in crate::framework::wal_list(h.storage.as_ref())
        .await
        .unwrap()
    {
        let entry: WalEntry = get_json(h.storage.as_ref(), &format!("wal/{id}"))
            .await
            .unwrap()
            .unwrap();
        out.push((id, entry));
    }
    out
}

/// Provider `p` (`openai_compatible` at a closed port: every revocation there fails without a
/// network call) and, at `wal/i1`, an intent to revoke version 3 of the deleted key `gone`,
/// written `age_secs` seconds ago; the entry as stored.
pub(crate) async fn revoke_intent_of_a_deleted_key(h: &Harness, age_secs: i64) -> WalEntry {
    h.create(
        "providers/p",
        json!({ "type": "openai_compatible", "base_url": "http://127.0.0.1:9" }),
    )
    .await
    .unwrap();
    let intent = provider_ops::RevokeIntent {
        key: "gone".into(),
        provider: "p".into(),
        version: 3,
        provider_key_id: "key_3".into(),
        owned: true,
        origin: None,
        incarnation: None,
        retry: Default::default(),
    };
    let entry = WalEntry {
        kind: provider_ops::WAL_REVOKE.into(),
        data: serde_json::to_value(&intent).unwrap(),
        created_at: chrono::Utc::now().timestamp() - age_secs,
    };
    crate::framework::put_json(h.storage.as_ref(), "wal/i1", &entry)
        .await
        .unwrap();
    entry
}

/// Key `k` rotated to [`NEW`] with a one-hour grace, then version 1's grace end moved five
/// seconds into the past in storage: a window that has ended, not yet recorded by a tick.
pub(crate) async fn with_unrecorded_grace_end() -> Harness {
    let h = with_key().await;
    h.write("stage/k", json!({ "value": NEW })).await.unwrap();
    h.write("promote/k", json!({ "grace_period": 3600, "force": true }))
        .await
        .unwrap();
    let storage = h.cached.as_ref();
    let mut entry = record::load(storage, "k").await.unwrap().unwrap();
    let v = entry.key.versions.versions.get_mut(&1).unwrap();
    v.grace_expires_time = Some(chrono::Utc::now() - chrono::TimeDelta::seconds(5));
    record::save(storage, &entry).await.unwrap();
    h
}
