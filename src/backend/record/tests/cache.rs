//! The record cache through the engine: the next read reflects an own write, the host's
//! invalidation, a grace end and a revocation; the server's caching-disabled flag turns it off.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use chrono::{TimeDelta, Utc};
use serde_json::json;

use crate::backend::record;
use crate::backend::testing::{with_key, NEW, OLD};
use crate::backend::testing::{FakeSystem, Harness};
use crate::framework::{InMemoryStorage, Storage as _};

/// Writes key `k`'s record as another node would: into storage, unseen by this engine's cache.
async fn replicate_grace_end(h: &Harness) {
    let mut entry = record::load(h.storage.as_ref(), "k")
        .await
        .unwrap()
        .unwrap();
    let v = entry.key.versions.versions.get_mut(&1);
    v.unwrap().grace_expires_time = Some(Utc::now() - TimeDelta::seconds(1));
    record::save(h.storage.as_ref(), &entry).await.unwrap();
}

async fn promoted_with_grace(h: &Harness, grace: &str) {
    h.write("stage/k", json!({ "value": NEW })).await.unwrap();
    h.write("promote/k", json!({ "force": true, "grace_period": grace }))
        .await
        .unwrap();
}

#[tokio::test]
async fn warm_reads_are_served_from_the_cache_and_follow_own_writes() {
    let h = with_key().await;
    assert_eq!(h.read("creds/k").await["api_key"], OLD);
    assert_eq!(h.engine.shared.records.stats().entries, 1);
    promoted_with_grace(&h, "1h").await;
    let creds = h.read("creds/k").await;
    assert_eq!(creds["api_key"], NEW);
    assert_eq!(creds["previous_api_key"], OLD);
    // A revocation (finalize/ ends the grace window now) shows on the next read.
    h.write("finalize/k", json!({})).await.unwrap();
    let creds = h.read("creds/k").await;
    assert_eq!(creds["api_key"], NEW);
    assert!(creds.get("previous_api_key").is_none(), "{creds}");
}

#[tokio::test]
async fn a_replicated_grace_end_shows_once_the_host_invalidates_it() {
    let h = with_key().await;
    promoted_with_grace(&h, "1h").await;
    assert_eq!(h.read("creds/k").await["previous_api_key"], OLD);
    // The active node ended the grace window; this node's storage has it, its cache not yet.
    replicate_grace_end(&h).await;
    assert_eq!(h.read("creds/k").await["previous_api_key"], OLD);
    h.invalidate("keys/k").await;
    let creds = h.read("creds/k").await;
    assert!(creds.get("previous_api_key").is_none(), "{creds}");
}

#[tokio::test]
async fn the_cache_holds_records_as_stored_until_invalidated() {
    let h = with_key().await;
    h.read("creds/k").await;
    // Another node rotates: storage changes under this one.
    let mut entry = record::load(h.storage.as_ref(), "k")
        .await
        .unwrap()
        .unwrap();
    entry.key.custom_metadata = [("team".to_string(), "b".to_string())]
        .into_iter()
        .collect();
    record::save(h.storage.as_ref(), &entry).await.unwrap();
    assert_eq!(h.read("keys/k").await["custom_metadata"], json!({}));
    h.invalidate("keys/k").await;
    assert_eq!(h.read("keys/k").await["custom_metadata"]["team"], "b");
}

#[tokio::test]
async fn a_grace_end_shows_on_the_next_read_of_a_cached_record() {
    let h = with_key().await;
    promoted_with_grace(&h, "1h").await;
    // The record, cached, says the grace window ends in 300 ms.
    let mut entry = record::load(h.cached.as_ref(), "k").await.unwrap().unwrap();
    let v = entry.key.versions.versions.get_mut(&1);
    v.unwrap().grace_expires_time = Some(Utc::now() + TimeDelta::milliseconds(300));
    record::save(h.cached.as_ref(), &entry).await.unwrap();
    assert_eq!(h.read("creds/k").await["previous_api_key"], OLD);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        if h.read("creds/k").await.get("previous_api_key").is_none() {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "grace never ended");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn caching_disabled_by_the_server_keeps_nothing() {
    let storage = Arc::new(InMemoryStorage::new());
    let system = Arc::new(FakeSystem::default());
    system.caching_disabled.store(true, Ordering::SeqCst);
    let h = Harness::with_system(storage, system).await;
    h.create_key("k", OLD).await;
    h.read("creds/k").await;
    assert_eq!(h.engine.shared.records.stats().entries, 0);
    let mut entry = record::load(h.storage.as_ref(), "k")
        .await
        .unwrap()
        .unwrap();
    entry.key.custom_metadata = [("team".to_string(), "b".to_string())]
        .into_iter()
        .collect();
    record::save(h.storage.as_ref(), &entry).await.unwrap();
    assert_eq!(h.read("keys/k").await["custom_metadata"]["team"], "b");
    // Storage is the plain one: nothing keeps a record.
    assert!(h.cached.get("keys/k").await.unwrap().is_some());
}

/// `ai_keys_rotations_total` of key `k` in a `metrics` JSON reply.
fn rotations_of_k(metrics: &serde_json::Value) -> serde_json::Value {
    metrics["counters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "ai_keys_rotations_total" && s["labels"]["key"] == "k")
        .map(|s| s["value"].clone())
        .unwrap_or_default()
}

/// Snapshot restore on a standby (docs/operating.md, "After a restore"): OpenBao replaces the
/// standby's storage and tells its plugin nothing (no InvalidateKey, no reload). A standby keeps
/// no records, so after storage went back to an older state, with no invalidation at all, its
/// very next `creds/` answers from what storage holds: a key created after the snapshot is gone
/// and a rotated key has its old value again. Its digests (what `metrics` and `overdue` scan)
/// are dropped once the restarted active plugin's start mark reaches it.
#[tokio::test]
async fn a_standby_answers_from_storage_after_it_changed_without_any_invalidation() {
    let h = with_key().await;
    let snapshot = h.snapshot().await;
    h.create_key("later", NEW).await;
    promoted_with_grace(&h, "1h").await;
    let standby = Harness::over(h.storage.clone(), true).await;
    for _ in 0..3 {
        assert_eq!(standby.read("creds/later").await["api_key"], NEW);
        assert_eq!(standby.read("creds/k").await["api_key"], NEW);
        assert_eq!(rotations_of_k(&standby.read("metrics").await), 1);
        standby.read("overdue").await;
    }
    assert_eq!(standby.engine.shared.records.stats().entries, 0);
    assert!(standby.engine.shared.records.stats().summaries > 0);

    // The restore: storage as it was, written underneath, no InvalidateKey.
    let kept: std::collections::BTreeSet<&String> = snapshot.iter().map(|(k, _)| k).collect();
    for key in h.storage.keys() {
        if !kept.contains(&key) {
            h.storage.delete(&key).await.unwrap();
        }
    }
    for (key, value) in &snapshot {
        h.storage.put(key, value.clone().unwrap()).await.unwrap();
    }

    let later = standby
        .call(crate::framework::Operation::Read, "creds/later", json!({}))
        .await;
    assert!(
        !matches!(&later, Ok(Some(r)) if r.data.get("api_key").is_some()),
        "a standby served a key storage no longer holds: {later:?}"
    );
    let creds = standby.read("creds/k").await;
    assert_eq!(creds["api_key"], OLD, "{creds}");
    assert!(creds.get("previous_api_key").is_none(), "{creds}");
    let metrics = standby.read("metrics").await;
    assert!(!metrics.to_string().contains("\"later\""), "{metrics}");

    // The active node's plugin restarts after the restore and marks its start; the standby
    // is told of that write, and drops every digest.
    let before = h.storage.get("started").await.unwrap();
    let restarted = Harness::over(h.storage.clone(), false).await;
    let after = restarted.storage.get("started").await.unwrap();
    assert!(after.is_some() && after != before, "no new start mark");
    standby.invalidate("started").await;
    assert_eq!(standby.engine.shared.records.stats().summaries, 0);
    assert_eq!(rotations_of_k(&standby.read("metrics").await), 0);
    let overdue = standby.read("overdue").await.to_string();
    assert!(!overdue.contains("\"later\""), "{overdue}");
}
