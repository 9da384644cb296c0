//! `reconcile` against a fake OpenRouter: only keys in the engine's naming that no record or
//! intent claims, and that name a key of this mount, are revoked; `dry_run` changes nothing;
//! running it again is harmless; every live version is tested and a refusal flagged.

use std::sync::atomic::Ordering;

use serde_json::{json, Value};

use crate::backend::testing::{FakeOpenRouter, Harness};
use crate::framework::Operation;

/// Key `k` created at the fake (`hash-1`), and the fake's list showing it, an orphan of `k`
/// (`hash-77`), a key in the engine's naming for a key this mount does not hold (`hash-78`) and
/// a person's key (`hash-79`).
async fn with_orphans() -> (Harness, FakeOpenRouter) {
    let h = Harness::new().await;
    let fake = FakeOpenRouter::start(200).await;
    fake.configure(&h, "or").await;
    h.create("keys/k", json!({ "provider": "or" }))
        .await
        .unwrap();
    *fake.listed.lock().unwrap() = vec![
        json!({ "name": "ai-keys-k-0123456789ab", "hash": "hash-1" }),
        json!({ "name": "ai-keys-k-aaaaaaaaaaaa", "hash": "hash-77" }),
        json!({ "name": "ai-keys-other-bbbbbbbbbbbb", "hash": "hash-78" }),
        json!({ "name": "production app", "hash": "hash-79" }),
    ];
    (h, fake)
}

async fn reconcile(h: &Harness, dry_run: bool) -> Value {
    h.call(
        Operation::Update,
        "reconcile",
        json!({ "dry_run": dry_run }),
    )
    .await
    .unwrap()
    .expect("an answer")
    .data_value()
}

fn deletes(fake: &FakeOpenRouter) -> Vec<String> {
    fake.requests()
        .into_iter()
        .filter(|r| r.starts_with("DELETE"))
        .collect()
}

fn actions(out: &Value) -> Vec<(String, String)> {
    out["providers"][0]["orphans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["provider_key_id"].as_str().unwrap().to_string(),
                o["action"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_dry_run_reports_the_orphans_and_changes_nothing() {
    let (h, fake) = with_orphans().await;
    fake.test_status.store(401, Ordering::SeqCst);
    let before = h.snapshot().await;
    let out = reconcile(&h, true).await;
    assert_eq!(out["dry_run"], true);
    assert_eq!(out["providers"][0]["listed"], 3, "{out:#}");
    assert_eq!(out["providers"][0]["claimed"], 1, "{out:#}");
    let expected = vec![
        ("hash-77".to_string(), "would_revoke".to_string()),
        ("hash-78".to_string(), "unknown_key".to_string()),
    ];
    assert_eq!(actions(&out), expected, "{out:#}");
    assert_eq!(out["versions_rejected"][0]["key"], "k", "{out:#}");
    assert!(deletes(&fake).is_empty(), "{:?}", fake.requests());
    assert_eq!(h.snapshot().await, before, "a dry run writes nothing");
}

#[tokio::test]
async fn only_an_unclaimed_key_of_a_known_key_is_revoked_and_again_is_harmless() {
    let (h, fake) = with_orphans().await;
    let out = reconcile(&h, false).await;
    let expected = vec![
        ("hash-77".to_string(), "revoked".to_string()),
        ("hash-78".to_string(), "unknown_key".to_string()),
    ];
    assert_eq!(actions(&out), expected, "{out:#}");
    assert_eq!(deletes(&fake), vec!["DELETE /api/v1/keys/hash-77"]);
    assert_eq!(out["versions_tested"], 1);
    assert_eq!(h.read("keys/k").await["current_version"], 1);
    // Already gone at the provider (its own 404): counted as revoked.
    fake.delete_status.store(404, Ordering::SeqCst);
    let again = reconcile(&h, false).await;
    assert_eq!(actions(&again), expected, "{again:#}");
    // Nothing in the answer is a value.
    let text = again.to_string();
    assert!(!text.contains("sk-or-v1"), "{text}");
}

#[tokio::test]
async fn a_refused_current_version_is_flagged_as_the_health_check_does() {
    let (h, fake) = with_orphans().await;
    fake.listed.lock().unwrap().clear();
    fake.test_status.store(401, Ordering::SeqCst);
    let out = reconcile(&h, false).await;
    assert_eq!(
        out["versions_rejected"],
        json!([{ "key": "k", "version": 1, "state": "current", "outcome": "bad_key" }]),
        "{out:#}"
    );
    let read = h.read("keys/k").await;
    assert_eq!(read["current_key_rejected"], true, "{read:#}");
    let events = h.history("k").await;
    assert!(
        events.iter().any(|e| e["event"] == "current_key_rejected"),
        "{events:#?}"
    );
}

#[tokio::test]
async fn a_refused_previous_version_in_its_grace_window_is_recorded_too() {
    let (h, fake) = with_orphans().await;
    fake.listed.lock().unwrap().clear();
    h.write("rotate/k", json!({ "grace_period": "1h" }))
        .await
        .unwrap();
    fake.test_status.store(401, Ordering::SeqCst);
    let out = reconcile(&h, false).await;
    assert_eq!(out["versions_tested"], 2, "{out:#}");
    let rejected = out["versions_rejected"].as_array().unwrap();
    let states: Vec<(&Value, &Value)> = rejected
        .iter()
        .map(|r| (&r["version"], &r["state"]))
        .collect();
    assert!(states.contains(&(&json!(1), &json!("previous"))), "{out:#}");
    assert!(states.contains(&(&json!(2), &json!("current"))), "{out:#}");
    let events = h.history("k").await;
    let of = |event: &str| {
        events
            .iter()
            .filter(|e| e["event"] == event)
            .map(|e| e["version"].clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(of("previous_key_rejected"), vec![json!(1)], "{events:#?}");
    assert_eq!(of("current_key_rejected"), vec![json!(2)], "{events:#?}");
    let read = h.read("keys/k").await;
    assert_eq!(
        read["versions"]["1"]["health_check"]["outcome"], "bad_key",
        "{read:#}"
    );
}

/// A record the engine refuses (here: stored under another key's name) still claims the provider
/// keys it names, so they are not revoked; one this release cannot decode at all stops the run
/// before any revocation.
#[tokio::test]
async fn a_refused_record_still_claims_its_keys_and_an_undecodable_one_stops_the_run() {
    use crate::framework::Storage;
    let (h, fake) = with_orphans().await;
    let raw = h.storage.get("keys/k").await.unwrap().unwrap();
    let text = String::from_utf8(raw).unwrap();
    assert!(text.contains("\"hash-1\""), "{text}");
    let copy = text.replace("\"hash-1\"", "\"hash-77\"");
    h.storage.put("keys/m", copy.into_bytes()).await.unwrap();
    h.invalidate("keys/m").await;
    let out = reconcile(&h, false).await;
    let expected = vec![("hash-78".to_string(), "unknown_key".to_string())];
    assert_eq!(actions(&out), expected, "{out:#}");
    assert!(deletes(&fake).is_empty(), "{:?}", fake.requests());

    h.storage
        .put("keys/m", br#"{"format": 999}"#.to_vec())
        .await
        .unwrap();
    h.invalidate("keys/m").await;
    let refused = h
        .call(Operation::Update, "reconcile", json!({ "dry_run": false }))
        .await;
    assert!(refused.is_err(), "{refused:?}");
    assert!(deletes(&fake).is_empty(), "{:?}", fake.requests());
}

/// Two provider configurations at the same account (the same management key under two names,
/// or one moved where the other points) both list the key one of them created: the other's
/// listing must not take it for an orphan, whichever configuration the record names. A
/// provider's key id names one key wherever it is listed from.
#[tokio::test]
async fn a_key_claimed_under_one_configuration_is_not_an_orphan_of_another_at_the_same_account() {
    let (h, fake) = with_orphans().await;
    fake.configure(&h, "same-account").await;
    let out = reconcile(&h, false).await;
    let providers = out["providers"].as_array().unwrap();
    assert_eq!(providers.len(), 2, "{out:#}");
    for p in providers {
        let ids: Vec<&str> = p["orphans"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|o| o["provider_key_id"].as_str())
            .collect();
        assert!(!ids.contains(&"hash-1"), "{out:#}");
    }
    assert!(
        !deletes(&fake).contains(&"DELETE /api/v1/keys/hash-1".to_string()),
        "the current key was revoked: {:?}",
        fake.requests()
    );
    let creds = h.read("creds/k").await;
    assert_eq!(creds["version"], 1, "{creds:#}");
}
