//! Crash safety at providers on in-memory storage: revocation intents come before the
//! write that retires (or deletes) a version, recovery leaves in-flight intents alone and backs
//! off, and a node that cannot tell whether it is a standby does no periodic work.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use chrono::{TimeDelta, Utc};
use serde_json::{json, Value};

use crate::backend::provider_ops::WAL_REVOKE;
use crate::backend::testing::Harness;
use crate::backend::testing::{
    created_at_provider, revoke_intent_of_a_deleted_key, wal_entries, with_key,
    with_unrecorded_grace_end, NEW,
};
use crate::engine::Engine;
use crate::framework::{put_json, Operation, Request, Storage, StorageError, WalEntry, WalOutcome};

/// What a [`Faulty`] storage does to writes under its prefix.
#[derive(Clone, Copy)]
enum Fault {
    /// Refuse them.
    Fail,
    /// Never finish them (a request cancelled, or a process dying, in the middle).
    Hang,
}

/// Storage that injects `fault` into every write (put) under `prefix`.
struct Faulty(Arc<dyn Storage>, &'static str, Fault);

#[async_trait::async_trait]
impl Storage for Faulty {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        self.0.get(key).await
    }
    async fn put(&self, key: &str, value: Vec<u8>) -> Result<(), StorageError> {
        if key.starts_with(self.1) {
            match self.2 {
                Fault::Fail => return Err(StorageError("injected failure".into())),
                Fault::Hang => std::future::pending::<()>().await,
            }
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

/// Deleting a key whose version lives at a provider writes the revocation intent
/// before removing the record; if the intent cannot be written, nothing is deleted (before the
/// fix the record was gone and the intent never written).
#[tokio::test]
async fn a_delete_that_cannot_write_its_intent_deletes_nothing() {
    let h = with_key().await;
    created_at_provider(&h).await;
    let before = h.snapshot().await;
    let req = Request::new(
        Operation::Delete,
        "keys/k",
        Arc::new(Faulty(h.cached.clone(), "wal/", Fault::Fail)) as Arc<dyn Storage>,
    );
    let result = h.engine.backend().handle_request(req).await;
    assert!(result.is_err(), "{result:?}");
    assert_eq!(
        h.snapshot().await,
        before,
        "a failed delete changed storage"
    );
    assert!(h.read("keys/k").await["versions"]["1"].is_object());
}

/// A version retired by an operation carries its pending revocation and an intent that
/// names it, in storage, before any provider answer.
#[tokio::test]
async fn a_retired_version_records_a_pending_revocation_and_its_intent() {
    let h = with_key().await;
    created_at_provider(&h).await;
    h.write("stage/k", json!({ "value": NEW })).await.unwrap();
    h.write("promote/k", json!({ "force": true, "grace_period": 0 }))
        .await
        .unwrap();
    let key = h.read("keys/k").await;
    let r = &key["versions"]["1"]["provider_revocation"];
    assert_eq!(r["status"], "pending", "{key:#}");
    assert!(
        r["last_error"].as_str().unwrap().contains("cannot revoke"),
        "{r}"
    );
    let intents = wal_entries(&h).await;
    assert_eq!(intents.len(), 1, "{intents:?}");
    let (_, entry) = &intents[0];
    assert_eq!(entry.kind, WAL_REVOKE);
    assert_eq!(entry.data["key"], "k");
    assert_eq!(entry.data["version"], 1);
    assert_eq!(entry.data["provider"], "p");
}

/// Recovery never touches an intent whose key is locked (its operation may still run),
/// and a recovery that fails backs off instead of retrying on every tick.
#[tokio::test]
async fn recovery_skips_in_flight_intents_and_backs_off() {
    let h = Harness::new().await;
    let old = revoke_intent_of_a_deleted_key(&h, 3600).await;
    let shared = h.engine.shared.clone();
    let req = || Request::new(Operation::Rollback, "", h.cached.clone());
    let stored = || async { wal_entries(&h).await[0].1.data.clone() };

    let guard = shared.locks.lock("gone").await;
    let outcome = super::recover(shared.clone(), req(), "i1".into(), old.clone()).await;
    assert_eq!(outcome.unwrap(), WalOutcome::Later);
    assert_eq!(stored().await, old.data, "an in-flight intent was touched");
    drop(guard);

    h.tick().await.unwrap();
    let after: Value = stored().await;
    assert_eq!(after["attempts"], 1, "{after}");
    let next = after["next_attempt_time"].as_str().expect("a back-off");
    let next: chrono::DateTime<Utc> = next.parse().unwrap();
    assert!(next > Utc::now() + TimeDelta::seconds(30), "{next}");

    h.tick().await.unwrap();
    assert_eq!(stored().await, after, "retried during its back-off");
}

/// A node that cannot ask the host whether it is a standby acts as one: its tick makes
/// no writes (before the fix it counted as active and wrote).
#[tokio::test]
async fn a_node_that_cannot_tell_its_role_does_no_periodic_work() {
    // The grace window has ended (in storage), but the tick has not recorded it yet.
    let h = with_unrecorded_grace_end().await;
    let before = h.snapshot().await;

    h.system.unreachable.store(true, Ordering::SeqCst);
    h.tick().await.unwrap();
    assert_eq!(
        h.snapshot().await,
        before,
        "periodic writes without knowing the role"
    );

    h.system.unreachable.store(false, Ordering::SeqCst);
    h.tick().await.unwrap();
    assert_eq!(h.read("keys/k").await["versions"]["1"]["state"], "revoked");
}

/// A previous-release revoke intent for an Anthropic key of a deleted key names an
/// id the engine never proved to be this key's: recovery drops it without calling the provider and
/// keeps it as the deleted key's manual revocation, for a person to revoke and acknowledge
/// (a call would fail here, nothing listens on the port, and keep the intent).
#[tokio::test]
async fn recovery_never_revokes_an_unproven_id() {
    let h = Harness::new().await;
    h.create(
        "providers/an",
        json!({ "type": "anthropic", "base_url": "http://127.0.0.1:9", "admin_key": "sk-ant-admin-test-000" }),
    )
    .await
    .unwrap();
    let mut data =
        json!({ "key": "gone", "provider": "an", "version": 2, "provider_key_id": "apikey_01" });
    let entry = |data: &Value| WalEntry {
        kind: WAL_REVOKE.into(),
        data: data.clone(),
        created_at: Utc::now().timestamp() - 3600,
    };
    let shared = h.engine.shared.clone();
    let req = || Request::new(Operation::Rollback, "", h.cached.clone());
    put_json(h.storage.as_ref(), "wal/old", &entry(&data))
        .await
        .unwrap();
    let outcome = super::recover(shared.clone(), req(), "old".into(), entry(&data)).await;
    assert_eq!(
        outcome.unwrap(),
        WalOutcome::Settled,
        "an unproven id is dropped"
    );
    // ... and left to a person, as the deleted key's manual revocation: counted (metrics,
    // report, alert) until someone acknowledges it.
    let manual = crate::backend::provider_ops::of_deleted_keys_manual(h.storage.as_ref())
        .await
        .unwrap();
    assert_eq!(manual.len(), 1, "{manual:?}");
    assert_eq!(
        (
            manual[0].key.as_str(),
            manual[0].version,
            manual[0].provider.as_str()
        ),
        ("gone", 2, "an")
    );
    assert_eq!(manual[0].provider_key_id.as_deref(), Some("apikey_01"));
    let report = h.read("report").await;
    assert_eq!(
        report["deleted_keys_revocations_manual"][0]["provider_key_id"], "apikey_01",
        "{report:#}"
    );
    h.write("acknowledge/gone", json!({"version": 2, "deleted": true}))
        .await
        .unwrap();
    assert!(
        crate::backend::provider_ops::of_deleted_keys_manual(h.storage.as_ref())
            .await
            .unwrap()
            .is_empty()
    );

    data["owned"] = json!(true);
    put_json(h.storage.as_ref(), "wal/new", &entry(&data))
        .await
        .unwrap();
    let outcome = super::recover(shared, req(), "new".into(), entry(&data)).await;
    assert_eq!(
        outcome.unwrap(),
        WalOutcome::Later,
        "a proven id is tried (and fails here)"
    );
}

/// A request dropped between the intent and the record that retires the version (a
/// client disconnect drops the handler's future) leaves the version live and an intent that
/// recovery drops as unneeded; nothing retired is left without an intent.
#[tokio::test]
async fn a_cancelled_retirement_leaves_no_retired_version_without_an_intent() {
    let h = with_key().await;
    created_at_provider(&h).await;
    h.write("stage/k", json!({ "value": NEW })).await.unwrap();
    let req = Request::new(
        Operation::Update,
        "promote/k",
        Arc::new(Faulty(h.cached.clone(), "keys/", Fault::Hang)) as Arc<dyn Storage>,
    )
    .with_data(json!({ "force": true, "grace_period": 0 }));
    let dropped = tokio::time::timeout(
        std::time::Duration::from_millis(200),
        h.engine.backend().handle_request(req),
    )
    .await;
    assert!(dropped.is_err(), "the request should have been cut off");
    let key = h.read("keys/k").await;
    assert_eq!(key["versions"]["1"]["state"], "current", "{key:#}");
    let intents = wal_entries(&h).await;
    assert_eq!(intents.len(), 1, "{intents:?}");
    let (id, entry) = intents.into_iter().next().unwrap();
    let outcome = super::recover(h.engine.shared.clone(), rollback_req(&h), id, entry).await;
    assert_eq!(
        outcome.unwrap(),
        WalOutcome::Settled,
        "dropped: its version is live"
    );
}

fn rollback_req(h: &Harness) -> Request {
    Request::new(Operation::Rollback, "", h.cached.clone())
}

/// A revocation an earlier release left pending for an imported key whose id only matched the
/// provider's hint (`provider_key_verified`, not the engine's by today's rule): recovery never
/// calls the provider for it (nothing listens on the port, so a call would fail and keep the
/// intent) and turns it into a `manual` revocation with its history event.
#[tokio::test]
async fn recovery_leaves_a_hint_checked_import_to_a_person() {
    let h = with_key().await;
    created_at_provider(&h).await;
    h.write("stage/k", json!({ "value": NEW })).await.unwrap();
    h.write("promote/k", json!({ "force": true, "grace_period": 0 }))
        .await
        .unwrap();
    let storage = h.cached.as_ref();
    let mut entry = crate::backend::record::load(storage, "k")
        .await
        .unwrap()
        .unwrap();
    let v1 = entry.key.versions.versions.get_mut(&1).unwrap();
    v1.engine_created = false;
    v1.provider_key_verified = true;
    crate::backend::record::save(storage, &entry).await.unwrap();
    let (id, intent) = wal_entries(&h).await.into_iter().next().unwrap();
    let outcome = super::recover(h.engine.shared.clone(), rollback_req(&h), id, intent).await;
    assert_eq!(outcome.unwrap(), WalOutcome::Settled);
    let key = h.read("keys/k").await;
    let r = &key["versions"]["1"]["provider_revocation"];
    assert_eq!(r["status"], "manual", "{key:#}");
    assert_eq!(r["provider_key_id"], "key_1", "{key:#}");
    let events = h.history("k").await;
    assert_eq!(
        events[0]["event"], "provider_revocation_manual",
        "{events:#?}"
    );
}

/// A key deleted while its provider refuses the revocation: the delete's failed attempt and,
/// once recovery gets it confirmed, `provider_revoked` go to the deleted key's kept history
/// (before, nothing was written there once the record was gone, so the evidence stopped at the
/// delete).
#[tokio::test]
async fn a_deleted_keys_revocation_confirmed_by_recovery_is_in_its_kept_history() {
    use crate::backend::testing::{created_at, FakeOpenRouter};
    let h = with_key().await;
    let fake = FakeOpenRouter::start(200).await;
    fake.delete_status.store(503, Ordering::SeqCst);
    let config = json!({ "type": "openrouter", "base_url": fake.base_url, "admin_key": "sk-or-admin-SECRET-0123456789abcdef" });
    created_at(&h, "or", config, "hash-1").await;
    h.call(Operation::Delete, "keys/k", Value::Null)
        .await
        .unwrap();
    let events = h.history("k").await;
    let failed = events
        .iter()
        .find(|e| e["event"] == "provider_revocation_failed")
        .unwrap_or_else(|| panic!("the delete's failed attempt: {events:?}"));
    assert_eq!(failed["version"], 1, "{failed}");
    assert!(!events.iter().any(|e| e["event"] == "provider_revoked"));

    fake.delete_status.store(200, Ordering::SeqCst);
    let intents = wal_entries(&h).await;
    assert_eq!(intents.len(), 1, "{intents:?}");
    let (id, mut entry) = intents[0].clone();
    assert_eq!(entry.data["incarnation"], 1, "{:?}", entry.data);
    entry.created_at -= 3600;
    put_json(h.storage.as_ref(), &format!("wal/{id}"), &entry)
        .await
        .unwrap();
    h.tick().await.unwrap();
    assert!(wal_entries(&h).await.is_empty(), "the intent is settled");
    let events = h.history("k").await;
    assert_eq!(events[0]["event"], "provider_revoked", "{events:?}");
    assert_eq!(events[0]["version"], 1, "{events:?}");
    assert_eq!(events[0]["outcome"], "confirmed", "{events:?}");
    assert_eq!(events[0]["actor"], "scheduler", "{events:?}");
}
