//! Crash safety of provider-enforced grace ends: the expiry intent comes before the record that
//! moves a grace end, and recovery finishes the provider call the crash (or outage) left undone,
//! or drops the intent when the record was never written.

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::routing::post;
use axum::Router;
use chrono::Utc;
use serde_json::{json, Value};

use crate::backend::provider_ops::WAL_EXPIRY;
use crate::backend::testing::{created_at, wal_entries, with_key, Harness, NEW};
use crate::engine::Engine;
use crate::framework::{put_json, Operation, Request, Storage, StorageError, WalOutcome};

/// A loopback stand-in for OpenAI's "Update project API key": answers `status` (200 with the
/// key object and its new `expires_at`), and keeps each `expires_in_seconds` it was sent.
#[derive(Clone, Default)]
struct UpdateFake {
    status: Arc<AtomicU16>,
    asked: Arc<Mutex<Vec<i64>>>,
}

async fn update(
    State(f): State<UpdateFake>,
    Path((_p, id)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> (
    axum::http::StatusCode,
    [(&'static str, &'static str); 1],
    String,
) {
    let body: Value = serde_json::from_slice(&body).unwrap();
    let json_type = [("content-type", "application/json")];
    let status = f.status.load(Ordering::SeqCst);
    let code = axum::http::StatusCode::from_u16(status).unwrap();
    if status != 200 {
        let e =
            json!({"message": "unavailable", "type": "server_error", "param": null, "code": null});
        return (code, json_type, json!({ "error": e }).to_string());
    }
    let secs = body["expires_in_seconds"].as_i64().unwrap();
    f.asked.lock().unwrap().push(secs);
    let at = Utc::now().timestamp() + secs;
    let key = json!({"object": "organization.project.api_key", "id": id, "expires_at": at,
        "redacted_value": "sk-...abcd"});
    (code, json_type, key.to_string())
}

async fn start(status: u16) -> (UpdateFake, String) {
    let fake = UpdateFake::default();
    fake.status.store(status, Ordering::SeqCst);
    let app = Router::new()
        .route("/v1/organization/projects/{p}/api_keys/{id}", post(update))
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (fake, base)
}

/// Key `k` with version 1 created by the engine at OpenAI provider `oa` (at `base`), and
/// version 2 staged.
async fn openai_key(base: &str) -> Harness {
    let h = with_key().await;
    let config = json!({ "type": "openai", "base_url": base,
        "admin_key": "sk-admin-SECRET-0123456789abcdef", "project_id": "proj_1" });
    created_at(&h, "oa", config, "key_1").await;
    h.write("stage/k", json!({ "value": NEW })).await.unwrap();
    h
}

/// Makes every intent look old enough for recovery.
async fn age_intents(h: &Harness) {
    for (id, mut entry) in wal_entries(h).await {
        entry.created_at -= 3600;
        put_json(h.storage.as_ref(), &format!("wal/{id}"), &entry)
            .await
            .unwrap();
    }
}

/// A promotion whose provider call never got through (the provider down, as after a crash
/// between the record and the call) leaves the record asking for the grace end and an intent;
/// recovery on a later tick makes the call, records the expiry the provider reported and
/// settles the intent.
#[tokio::test]
async fn recovery_sets_the_expiry_a_crash_left_unasked() {
    let (fake, base) = start(503).await;
    let h = openai_key(&base).await;
    h.write("promote/k", json!({ "force": true, "grace_period": 3600 }))
        .await
        .unwrap();
    let key = h.read("keys/k").await;
    let v1 = &key["versions"]["1"];
    assert_eq!(v1["state"], "previous", "{key:#}");
    assert!(v1["provider_expires_time"].is_null(), "{key:#}");
    let intents = wal_entries(&h).await;
    assert_eq!(intents.len(), 1, "{intents:?}");
    assert_eq!(intents[0].1.kind, WAL_EXPIRY);
    assert_eq!(intents[0].1.data["version"], 1);
    let grace: chrono::DateTime<Utc> = v1["grace_expires_time"].as_str().unwrap().parse().unwrap();
    let asked: chrono::DateTime<Utc> = intents[0].1.data["expires_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        asked.timestamp(),
        grace.timestamp(),
        "the intent asks for the grace end"
    );

    fake.status.store(200, Ordering::SeqCst);
    age_intents(&h).await;
    h.tick().await.unwrap();
    assert!(wal_entries(&h).await.is_empty(), "the intent is settled");
    let secs = fake.asked.lock().unwrap().clone();
    assert_eq!(secs.len(), 1, "{secs:?}");
    let left = (grace - Utc::now()).num_seconds();
    assert!(
        (left - 5..=left + 3).contains(&secs[0]),
        "asked {secs:?}, {left}s to the grace end"
    );
    let key = h.read("keys/k").await;
    let shown: chrono::DateTime<Utc> = key["versions"]["1"]["provider_expires_time"]
        .as_str()
        .unwrap_or_else(|| panic!("no provider expiry: {key:#}"))
        .parse()
        .unwrap();
    assert!(
        (shown - grace).num_seconds().abs() <= 2,
        "{shown} vs {grace}"
    );
    let events = h.history("k").await;
    assert_eq!(events[0]["event"], "provider_expiry_set", "{events:#?}");
    assert!(
        events
            .iter()
            .any(|e| e["event"] == "provider_expiry_failed"),
        "{events:#?}"
    );
}

/// Storage whose record writes never finish (a process dying between the intent and the
/// record).
struct HangingRecords(Arc<dyn Storage>);

#[async_trait::async_trait]
impl Storage for HangingRecords {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        self.0.get(key).await
    }
    async fn put(&self, key: &str, value: Vec<u8>) -> Result<(), StorageError> {
        if key.starts_with("keys/") {
            std::future::pending::<()>().await;
        }
        self.0.put(key, value).await
    }
    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        self.0.delete(key).await
    }
    async fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        self.0.list(prefix).await
    }
}

/// A promotion cut off between its expiry intent and its record: the version stays current,
/// and recovery drops the intent without asking the provider (which would otherwise shorten a
/// live key's life to a grace end that never began).
#[tokio::test]
async fn recovery_drops_the_expiry_intent_of_a_record_never_written() {
    let (fake, base) = start(200).await;
    let h = openai_key(&base).await;
    let req = Request::new(
        Operation::Update,
        "promote/k",
        Arc::new(HangingRecords(h.cached.clone())) as Arc<dyn Storage>,
    )
    .with_data(json!({ "force": true, "grace_period": 3600 }));
    let cut = tokio::time::timeout(
        std::time::Duration::from_millis(300),
        h.engine.backend().handle_request(req),
    )
    .await;
    assert!(cut.is_err(), "the request should have been cut off");
    let intents = wal_entries(&h).await;
    assert_eq!(intents.len(), 1, "{intents:?}");
    assert_eq!(intents[0].1.kind, WAL_EXPIRY);
    assert_eq!(h.read("keys/k").await["versions"]["1"]["state"], "current");
    let (id, mut entry) = intents.into_iter().next().unwrap();
    entry.created_at -= 3600;
    let req = Request::new(Operation::Rollback, "", h.cached.clone());
    let outcome = crate::backend::recovery::recover(h.engine.shared.clone(), req, id, entry).await;
    assert_eq!(outcome.unwrap(), WalOutcome::Settled);
    assert!(
        fake.asked.lock().unwrap().is_empty(),
        "the provider was asked"
    );
}

/// A rollback makes the retired version current again: its expiry at the provider, set to the
/// grace end by the promotion, is given back a full lifetime (rotation period + grace +
/// max_grace + margin), so the reinstated key does not die at the old grace end.
#[tokio::test]
async fn a_rollback_gives_the_reinstated_key_its_full_lifetime_back() {
    let (fake, base) = start(200).await;
    let h = openai_key(&base).await;
    h.write("promote/k", json!({ "force": true, "grace_period": 3600 }))
        .await
        .unwrap();
    h.write("rollback/k", json!({})).await.unwrap();
    let key = h.read("keys/k").await;
    assert_eq!(key["versions"]["1"]["state"], "current", "{key:#}");
    let asked = fake.asked.lock().unwrap().clone();
    assert_eq!(asked.len(), 2, "{asked:?}");
    assert!(
        (3595..=3601).contains(&asked[0]),
        "the grace end first: {asked:?}"
    );
    assert!(asked[1] > 30 * 24 * 3600, "then a full lifetime: {asked:?}");
    assert!(wal_entries(&h)
        .await
        .iter()
        .all(|(_, e)| e.kind != WAL_EXPIRY));
    let events = h.history("k").await;
    let set = events
        .iter()
        .filter(|e| e["event"] == "provider_expiry_set")
        .count();
    assert_eq!(set, 2, "{events:#?}");
}
