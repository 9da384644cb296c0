//! When provider revocations happen relative to the writes that retire keys: in a cluster
//! they wait for the standbys (requests) or go to recovery (the tick), and a confirmed
//! revocation's intent outlives the record that says so.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use crate::backend::record;
use crate::backend::testing::{created_at, created_at_provider, wal_entries};
use crate::backend::testing::{with_key, NEW};
use crate::backend::workflows::STANDBY_SETTLE;
use crate::engine::Engine;
use crate::framework::{Operation, Request, Storage, StorageError};

/// Failover review: in a cluster, standbys serve reads from storage they apply 50-100 ms after
/// the leader, so the revocation at the provider waits [`STANDBY_SETTLE`] after the write that
/// retired the key (before the fix it followed at once, and a standby served the value the
/// provider had just revoked). A lone server revokes at once.
#[tokio::test(start_paused = true)]
async fn in_a_cluster_the_provider_revocation_waits_for_the_standbys() {
    for clustered in [false, true] {
        let h = with_key().await;
        h.system.clustered.store(clustered, Ordering::SeqCst);
        created_at_provider(&h).await;
        h.write("stage/k", json!({ "value": NEW })).await.unwrap();
        let start = tokio::time::Instant::now();
        h.write("promote/k", json!({ "force": true, "grace_period": 0 }))
            .await
            .unwrap();
        let waited = start.elapsed();
        let expected = if clustered {
            STANDBY_SETTLE
        } else {
            Duration::ZERO
        };
        assert!(
            waited >= expected && waited < expected + Duration::from_millis(500),
            "clustered={clustered}: waited {waited:?}"
        );
        // The attempt was made (and failed: this provider type cannot revoke) after the wait.
        let r = &h.read("keys/k").await["versions"]["1"]["provider_revocation"];
        assert!(
            r["last_error"].as_str().unwrap().contains("cannot revoke"),
            "{r}"
        );
    }
}

/// Review of the wait above: in a cluster the periodic tick does not wait for the standbys key
/// by key (eight keys at a time, each waiting 2 s, would cap a tick at a few hundred grace
/// ends). A grace end it records leaves the revocation pending with its intent, for the
/// recovery of a later tick; a lone server's tick tries it at once. On tokio's paused clock,
/// which only a timer moves, "the tick did not wait" is exact: it set no timer of that length
/// (the machine's speed plays no part).
#[tokio::test(start_paused = true)]
async fn in_a_cluster_the_tick_leaves_grace_end_revocations_to_recovery() {
    for clustered in [false, true] {
        let h = with_key().await;
        h.system.clustered.store(clustered, Ordering::SeqCst);
        created_at_provider(&h).await;
        h.write("stage/k", json!({ "value": NEW })).await.unwrap();
        h.write("promote/k", json!({ "force": true, "grace_period": 3600 }))
            .await
            .unwrap();
        // The grace window has ended (in storage); the tick has it to record.
        let storage = h.cached.as_ref();
        let mut entry = record::load(storage, "k").await.unwrap().unwrap();
        let v = entry.key.versions.versions.get_mut(&1).unwrap();
        v.grace_expires_time = Some(chrono::Utc::now() - chrono::TimeDelta::seconds(5));
        record::save(storage, &entry).await.unwrap();
        assert_eq!(h.read("keys/k").await["versions"]["1"]["state"], "revoked");
        let start = tokio::time::Instant::now();
        h.tick().await.unwrap();
        assert!(start.elapsed() < STANDBY_SETTLE, "the tick waited");
        let r = &h.read("keys/k").await["versions"]["1"]["provider_revocation"];
        assert_eq!(r["status"], "pending", "{r}");
        if clustered {
            assert!(r["last_error"].is_null(), "tried at once: {r}");
        } else {
            assert!(
                r["last_error"].as_str().unwrap().contains("cannot revoke"),
                "{r}"
            );
        }
        assert_eq!(
            wal_entries(&h).await.len(),
            1,
            "the intent stays for recovery"
        );
    }
}

/// Storage that fails the `n`th put of exactly `key` (counting from 1).
struct FailNthPut {
    inner: Arc<dyn Storage>,
    key: &'static str,
    n: usize,
    seen: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl Storage for FailNthPut {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        self.inner.get(key).await
    }
    async fn put(&self, key: &str, value: Vec<u8>) -> Result<(), StorageError> {
        if key == self.key && self.seen.fetch_add(1, Ordering::SeqCst) + 1 == self.n {
            return Err(StorageError("injected failure".into()));
        }
        self.inner.put(key, value).await
    }
    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        self.inner.delete(key).await
    }
    async fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        self.inner.list(prefix).await
    }
}

/// A provider on loopback that confirms every deletion (`{"deleted": true}`); the requests it
/// answered.
async fn confirming_provider() -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = hits.clone();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let mut got = Vec::new();
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
                counter.fetch_add(1, Ordering::SeqCst);
                let body = r#"{"deleted": true}"#;
                let reply = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = conn.write_all(reply.as_bytes()).await;
            });
        }
    });
    (base, hits)
}

/// Review of the revocation order: the intent of a revocation the provider confirmed is
/// settled only after the record saying so is stored. Before, it was deleted first, so a
/// failed (or cancelled) second save left the version's revocation pending with no intent,
/// and nothing would ever finish it.
#[tokio::test]
async fn a_confirmed_revocation_keeps_its_intent_until_the_record_says_so() {
    let h = with_key().await;
    let (base, hits) = confirming_provider().await;
    let config = json!({ "type": "openrouter", "base_url": base, "admin_key": "sk-or-v1-admin-0123456789abcdef" });
    created_at(&h, "or", config, "hash1").await;
    h.write("stage/k", json!({ "value": NEW })).await.unwrap();

    // The promotion's first save retires version 1; its second (the confirmation) fails.
    let failing = Arc::new(FailNthPut {
        inner: h.cached.clone(),
        key: "keys/k",
        n: 2,
        seen: Default::default(),
    });
    let req = Request::new(Operation::Update, "promote/k", failing as Arc<dyn Storage>)
        .with_data(json!({ "force": true, "grace_period": 0 }));
    let result = h.engine.backend().handle_request(req).await;
    assert!(result.is_err(), "{result:?}");
    assert_eq!(
        hits.load(Ordering::SeqCst),
        1,
        "the provider confirmed the revocation"
    );
    let r = &h.read("keys/k").await["versions"]["1"]["provider_revocation"];
    assert_eq!(r["status"], "pending", "{r}");
    let intents = wal_entries(&h).await;
    assert_eq!(
        intents.len(),
        1,
        "the intent was settled too early: {intents:?}"
    );
    assert_eq!(intents[0].1.data["version"], 1);
}
