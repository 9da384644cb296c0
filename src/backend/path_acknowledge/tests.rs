//! Retired keys the engine does not own are left to a person (`manual`), never revoked; an
//! operator records doing it by hand with `acknowledge/`.

use serde_json::json;

use crate::backend::testing::{expect_bad_request, wal_entries, FakeOpenRouter, Harness};

const IMPORTED: &str = "sk-or-v1-imported-0123456789abcdef";

/// Key `k` at a fake OpenRouter `p`, imported from a value without an id, then rotated to a key
/// the provider created with no grace: version 1 retired, not the engine's.
async fn with_manual_revocation() -> (Harness, FakeOpenRouter) {
    let h = Harness::new().await;
    let fake = FakeOpenRouter::start(200).await;
    fake.configure(&h, "p").await;
    h.create("keys/k", json!({ "value": IMPORTED, "provider": "p" }))
        .await
        .unwrap();
    h.write("rotate/k", json!({ "grace_period": "0s" }))
        .await
        .unwrap();
    (h, fake)
}

#[tokio::test]
async fn a_retired_key_the_engine_does_not_own_is_left_to_a_person_without_an_intent() {
    let (h, fake) = with_manual_revocation().await;
    let v1 = h.read("keys/k").await["versions"]["1"].clone();
    let r = &v1["provider_revocation"];
    assert_eq!(r["status"], "manual", "{v1}");
    assert_eq!(r["provider"], "p", "{v1}");
    assert!(r["provider_key_id"].is_null(), "{v1}");
    assert!(r["manual_reason"].as_str().unwrap().contains("own"), "{v1}");
    assert!(r["acknowledged_time"].is_null(), "{v1}");
    assert_eq!(v1["state"], "revoked", "{v1}");
    assert!(
        !fake.requests().iter().any(|r| r.starts_with("DELETE")),
        "{:?}",
        fake.requests()
    );
    assert!(
        wal_entries(&h).await.is_empty(),
        "no intent for a manual one"
    );
    let events = h.history("k").await;
    let manual = events
        .iter()
        .find(|e| e["event"] == "provider_revocation_manual")
        .expect("a provider_revocation_manual event");
    assert_eq!(manual["version"], 1, "{manual}");
    let detail = manual["detail"].as_str().unwrap();
    let fingerprint = v1["fingerprint"].as_str().unwrap();
    assert!(
        detail.contains(fingerprint) && detail.contains("acknowledge/k"),
        "{detail}"
    );
    assert!(!detail.contains(IMPORTED));
    // A tick changes nothing about it: nothing is retried.
    h.tick().await.unwrap();
    let again = &h.read("keys/k").await["versions"]["1"]["provider_revocation"];
    assert_eq!(again, r);
}

#[tokio::test]
async fn acknowledge_records_who_revoked_it_by_hand_once() {
    let (h, _fake) = with_manual_revocation().await;
    let out = h
        .write(
            "acknowledge/k",
            json!({ "version": 1, "reason": "TICKET-7" }),
        )
        .await
        .unwrap();
    assert_eq!(out["version"], 1, "{out}");
    let r = &out["provider_revocation"];
    assert_eq!(r["status"], "acknowledged", "{out}");
    assert_eq!(r["acknowledged_by"], "entity:alice", "{out}");
    assert_eq!(r["acknowledged_reason"], "TICKET-7", "{out}");
    assert!(r["acknowledged_time"].is_string(), "{out}");
    assert_eq!(
        &h.read("keys/k").await["versions"]["1"]["provider_revocation"],
        r
    );
    let events = h.history("k").await;
    let ack = &events[0];
    assert_eq!(ack["event"], "provider_revocation_acknowledged", "{ack}");
    assert_eq!(ack["version"], 1, "{ack}");
    assert!(
        ack["detail"].as_str().unwrap().contains("TICKET-7"),
        "{ack}"
    );

    // Refused, changing nothing: again, a version without a manual revocation, no such version,
    // no version at all, a key that does not exist.
    let before = h.snapshot().await;
    let again = expect_bad_request(h.write("acknowledge/k", json!({ "version": 1 })).await);
    assert!(again.contains("already acknowledged"), "{again}");
    let current = expect_bad_request(h.write("acknowledge/k", json!({ "version": 2 })).await);
    assert!(current.contains("no revocation"), "{current}");
    let missing = expect_bad_request(h.write("acknowledge/k", json!({ "version": 9 })).await);
    assert!(missing.contains("no version 9"), "{missing}");
    let none = expect_bad_request(h.write("acknowledge/k", json!({})).await);
    assert!(none.contains("version"), "{none}");
    let nokey = expect_bad_request(h.write("acknowledge/nope", json!({ "version": 1 })).await);
    assert!(nokey.contains("nope"), "{nokey}");
    assert_eq!(h.snapshot().await, before);
}

#[tokio::test]
async fn a_revocation_the_engine_does_itself_cannot_be_acknowledged() {
    let (h, _fake) = with_manual_revocation().await;
    // Version 2 was created by the engine: rotating again with no grace revokes it there.
    h.write("rotate/k", json!({ "grace_period": "0s" }))
        .await
        .unwrap();
    let v2 = h.read("keys/k").await["versions"]["2"].clone();
    assert_eq!(v2["provider_revocation"]["status"], "confirmed", "{v2}");
    let before = h.snapshot().await;
    let msg = expect_bad_request(h.write("acknowledge/k", json!({ "version": 2 })).await);
    assert!(msg.contains("not manual"), "{msg}");
    assert_eq!(h.snapshot().await, before);
}
