//! Retired keys the engine does not own are left to a person (`manual`), never revoked; an
//! operator records doing it by hand with `acknowledge/`.

use serde_json::{json, Value};

use crate::framework::Operation;

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

/// The mount's gauge of deleted keys' manual revocations nobody acknowledged.
async fn deleted_manual_gauge(h: &Harness) -> f64 {
    let gauges = h.read("metrics").await["gauges"].clone();
    gauges
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "ai_keys_deleted_key_revocations_manual")
        .unwrap_or_else(|| panic!("no deleted-manual gauge: {gauges}"))["value"]
        .as_f64()
        .unwrap()
}

/// A key deleted with a manual revocation nobody acknowledged: before, the revocation vanished
/// with the record. It stays counted (metric, report, `providers/<name>`, which refuses the
/// provider's delete) until `acknowledge/` records it done, which the kept history shows.
#[tokio::test]
async fn a_deleted_keys_manual_revocation_stays_counted_until_acknowledged() {
    let (h, _fake) = with_manual_revocation().await;
    let fingerprint = h.read("keys/k").await["versions"]["1"]["fingerprint"].clone();
    h.call(Operation::Delete, "keys/k", Value::Null)
        .await
        .unwrap();
    assert_eq!(deleted_manual_gauge(&h).await, 1.0);
    assert_eq!(
        h.read("providers/p").await["belongings"]["manual_revocations"],
        json!(["k version 1 (deleted, incarnation 1)"])
    );
    let refused = expect_bad_request(h.call(Operation::Delete, "providers/p", Value::Null).await);
    assert!(refused.contains("k version 1"), "{refused}");
    let report = h.read("report").await;
    let listed = &report["deleted_keys_revocations_manual"];
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{report}");
    assert_eq!(listed[0]["key"], "k", "{listed}");
    assert_eq!(listed[0]["version"], 1, "{listed}");
    assert_eq!(listed[0]["incarnation"], 1, "{listed}");
    assert_eq!(listed[0]["provider"], "p", "{listed}");
    assert_eq!(listed[0]["fingerprint"], fingerprint, "{listed}");
    assert!(!h.storage_contains(IMPORTED).await);

    // A version with no manual revocation waiting changes nothing.
    let before = h.snapshot().await;
    let msg = expect_bad_request(h.write("acknowledge/k", json!({ "version": 2 })).await);
    assert!(msg.contains("version 2"), "{msg}");
    assert_eq!(h.snapshot().await, before);

    let out = h
        .write(
            "acknowledge/k",
            json!({ "version": 1, "reason": "TICKET-9" }),
        )
        .await
        .unwrap();
    assert_eq!(out["deleted"], true, "{out}");
    assert_eq!(out["incarnation"], 1, "{out}");
    assert_eq!(
        out["provider_revocation"]["status"], "acknowledged",
        "{out}"
    );
    assert_eq!(
        out["provider_revocation"]["acknowledged_by"],
        "entity:alice"
    );
    assert_eq!(deleted_manual_gauge(&h).await, 0.0);
    assert_eq!(
        h.read("providers/p").await["belongings"]["manual_revocations"],
        json!([])
    );
    assert_eq!(
        h.read("report").await["deleted_keys_revocations_manual"],
        json!([])
    );
    let events = h.history("k").await;
    assert_eq!(
        events[0]["event"], "provider_revocation_acknowledged",
        "{events:?}"
    );
    assert_eq!(events[0]["version"], 1);
    assert!(events[0]["detail"].as_str().unwrap().contains("TICKET-9"));
    assert!(events.iter().any(|e| e["event"] == "deleted"), "{events:?}");
    let again = expect_bad_request(h.write("acknowledge/k", json!({ "version": 1 })).await);
    assert!(again.contains("version 1"), "{again}");
    h.call(Operation::Delete, "providers/p", Value::Null)
        .await
        .unwrap();
}

/// A delete interrupted after it kept the manual revocations (the record still there) counts
/// them once, on the record: the kept entry of a live incarnation does not count.
#[tokio::test]
async fn kept_manual_revocations_of_a_key_still_live_are_not_counted_twice() {
    let (h, _fake) = with_manual_revocation().await;
    let entry = crate::backend::record::load(h.storage.as_ref(), "k")
        .await
        .unwrap()
        .unwrap();
    crate::backend::provider_ops::keep_of_deleted(h.storage.as_ref(), &entry)
        .await
        .unwrap();
    assert_eq!(deleted_manual_gauge(&h).await, 0.0);
    assert_eq!(
        h.read("providers/p").await["belongings"]["manual_revocations"],
        json!(["k version 1"])
    );
    // Acknowledged on the live key, then deleted: the leftover entry goes, nothing counts.
    h.write("acknowledge/k", json!({ "version": 1 }))
        .await
        .unwrap();
    h.call(Operation::Delete, "keys/k", Value::Null)
        .await
        .unwrap();
    assert_eq!(deleted_manual_gauge(&h).await, 0.0);
    assert_eq!(
        h.read("providers/p").await["belongings"]["manual_revocations"],
        json!([])
    );
}

/// With a key of the name created again, its own versions take precedence; `deleted=true`
/// acknowledges the deleted one's.
#[tokio::test]
async fn a_live_key_of_the_name_takes_precedence_unless_deleted_is_asked() {
    let (h, _fake) = with_manual_revocation().await;
    h.call(Operation::Delete, "keys/k", Value::Null)
        .await
        .unwrap();
    h.create("keys/k", json!({ "value": IMPORTED, "provider": "p" }))
        .await
        .unwrap();
    let before = h.snapshot().await;
    let live = expect_bad_request(h.write("acknowledge/k", json!({ "version": 1 })).await);
    assert!(live.contains("no revocation"), "{live}");
    assert_eq!(h.snapshot().await, before);
    let out = h
        .write("acknowledge/k", json!({ "version": 1, "deleted": true }))
        .await
        .unwrap();
    assert_eq!(out["incarnation"], 1, "{out}");
    assert_eq!(deleted_manual_gauge(&h).await, 0.0);
    let old = h
        .call(Operation::Read, "history/k", json!({ "incarnation": 1 }))
        .await
        .unwrap()
        .unwrap()
        .data_value();
    assert_eq!(
        old["events"][0]["event"], "provider_revocation_acknowledged",
        "{old}"
    );
    let live_events = h.history("k").await;
    assert!(
        !live_events
            .iter()
            .any(|e| e["event"] == "provider_revocation_acknowledged"),
        "the live key's history is its own: {live_events:?}"
    );
}
