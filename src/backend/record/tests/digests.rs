//! The digests the reports read (`backend::digest`): kept for every key, and exact: the next
//! report reflects an own write, the host's invalidation, a grace end and a revocation; with
//! caching disabled by the server nothing is kept.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use chrono::{TimeDelta, Utc};
use serde_json::{json, Value};

use crate::backend::record::{self, KeyEntry};
use crate::backend::testing::{with_key, NEW, OLD};
use crate::backend::testing::{FakeSystem, Harness};
use crate::framework::{InMemoryStorage, Operation, Storage};

/// Key `k`'s sample of metric `name` (JSON metrics), if any.
async fn sample(h: &Harness, name: &str) -> Option<f64> {
    let m = h.read("metrics").await;
    ["gauges", "counters"]
        .iter()
        .flat_map(|kind| m[kind].as_array().cloned().unwrap_or_default())
        .find(|s| s["name"] == name && s["labels"]["key"] == "k")
        .map(|s| s["value"].as_f64().unwrap())
}

async fn in_grace(h: &Harness) -> Option<f64> {
    sample(h, "ai_keys_versions_in_grace").await
}

async fn overdue_names(h: &Harness, max_age: &str) -> Vec<Value> {
    let r = h
        .call(Operation::Read, "overdue", json!({ "max_age": max_age }))
        .await
        .unwrap()
        .unwrap();
    r.data_value()["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["key"].clone())
        .collect()
}

async fn promote_with_grace(h: &Harness, value: &str, grace: &str) {
    h.write("stage/k", json!({ "value": value })).await.unwrap();
    h.write("promote/k", json!({ "force": true, "grace_period": grace }))
        .await
        .unwrap();
}

/// Changes key `k`'s record in `storage` with `change`.
async fn rewrite(storage: &dyn Storage, change: impl FnOnce(&mut KeyEntry)) {
    let mut entry = record::load(storage, "k").await.unwrap().unwrap();
    change(&mut entry);
    record::save(storage, &entry).await.unwrap();
}

#[tokio::test]
async fn reports_follow_own_writes_grace_ends_and_revocations() {
    let h = with_key().await;
    assert_eq!(sample(&h, "ai_keys_rotations_total").await, Some(0.0));
    assert_eq!(in_grace(&h).await, Some(0.0));
    assert_eq!(h.engine.shared.records.stats().summaries, 1);
    // A rotation through this engine.
    promote_with_grace(&h, NEW, "1h").await;
    assert_eq!(sample(&h, "ai_keys_rotations_total").await, Some(1.0));
    assert_eq!(in_grace(&h).await, Some(1.0));
    // A revocation (finalize/ ends the grace window now).
    h.write("finalize/k", json!({})).await.unwrap();
    assert_eq!(in_grace(&h).await, Some(0.0));
    // A grace end that no write announces: the kept digest is judged by the clock.
    promote_with_grace(&h, OLD, "1h").await;
    rewrite(h.cached.as_ref(), |e| {
        let k = &mut e.key;
        let previous = k.versions.versions.values_mut().find(|v| v.number == 2);
        previous.unwrap().grace_expires_time = Some(Utc::now() + TimeDelta::milliseconds(300));
    })
    .await;
    assert_eq!(in_grace(&h).await, Some(1.0));
    assert_eq!(h.engine.shared.records.stats().summaries, 1);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while in_grace(&h).await != Some(0.0) {
        assert!(std::time::Instant::now() < deadline, "grace never ended");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // A delete.
    h.call(Operation::Delete, "keys/k", json!({}))
        .await
        .unwrap();
    assert_eq!(in_grace(&h).await, None);
    assert_eq!(h.engine.shared.records.stats().summaries, 0);
}

#[tokio::test]
async fn a_report_uses_the_kept_digests_until_the_host_invalidates_a_key() {
    let h = with_key().await;
    assert_eq!(sample(&h, "ai_keys_rotations_total").await, Some(0.0));
    assert!(overdue_names(&h, "30d").await.is_empty());
    // The active node changed the record; this node's storage has it, the digest not yet:
    // the reports read no record.
    rewrite(h.storage.as_ref(), |e| {
        let k = &mut e.key;
        k.stats.rotations = 7;
        let current = k.versions.versions.values_mut().next().unwrap();
        current.created_time = Utc::now() - TimeDelta::days(40);
    })
    .await;
    assert_eq!(sample(&h, "ai_keys_rotations_total").await, Some(0.0));
    assert!(overdue_names(&h, "30d").await.is_empty());
    h.invalidate("keys/k").await;
    assert_eq!(sample(&h, "ai_keys_rotations_total").await, Some(7.0));
    assert_eq!(overdue_names(&h, "30d").await, [json!("k")]);
}

#[tokio::test]
async fn with_caching_disabled_reports_read_every_record() {
    let system = Arc::new(FakeSystem::default());
    system.caching_disabled.store(true, Ordering::SeqCst);
    let h = Harness::with_system(Arc::new(InMemoryStorage::new()), system).await;
    h.create_key("k", OLD).await;
    assert_eq!(sample(&h, "ai_keys_rotations_total").await, Some(0.0));
    assert_eq!(h.engine.shared.records.stats().summaries, 0);
    rewrite(h.storage.as_ref(), |e| e.key.stats.rotations = 3).await;
    assert_eq!(sample(&h, "ai_keys_rotations_total").await, Some(3.0));
}

/// The first tick of a process works on every key, so it leaves every key's digest: the first
/// report after a start reads no record.
#[tokio::test]
async fn the_first_tick_leaves_every_key_with_its_digest() {
    let h = Harness::new().await;
    for name in ["a", "b", "c"] {
        h.create_key(name, OLD).await;
    }
    assert_eq!(h.engine.shared.records.stats().summaries, 0);
    h.tick().await.unwrap();
    assert_eq!(h.engine.shared.records.stats().summaries, 3);
}
