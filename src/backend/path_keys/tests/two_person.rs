//! `keys/` create under the two-person rule: version 1 waits, pending, for a different entity
//! to test and promote it, and everything that reads a key copes with one that has no current
//! version yet.

use chrono::{Duration, SecondsFormat, Utc};
use serde_json::{json, Value};

use crate::backend::testing::{expect_bad_request, FakeOpenRouter, Harness, NEW, OLD};
use crate::engine::Engine;
use crate::framework::{Error, HandlerResult, Operation, Request};

/// A harness with the two-person rule on.
async fn under_the_rule() -> Harness {
    let h = Harness::new().await;
    h.write("config", json!({ "require_separate_approver": true }))
        .await
        .unwrap();
    h
}

/// `op` on `path` as entity `who`: its data.
async fn as_entity(h: &Harness, who: &str, op: Operation, path: &str, body: Value) -> Value {
    h.call_as(who, op, path, body)
        .await
        .unwrap_or_else(|e| panic!("{who} {path}: {e}"))
        .map(|r| r.data_value())
        .unwrap_or(Value::Null)
}

/// The 404 `creds/k` answers while it has no current version: its message.
async fn creds_not_found(h: &Harness) -> String {
    match h.call(Operation::Read, "creds/k", Value::Null).await {
        Err(e @ Error::NotFound(_)) => {
            assert_eq!(e.status(), 404);
            e.to_string()
        }
        other => panic!("expected a 404 with a message, got {other:?}"),
    }
}

#[tokio::test]
async fn create_under_the_rule_stores_version_1_pending_and_creds_is_a_404_awaiting_approval() {
    let h = under_the_rule().await;
    let resp = h
        .call(Operation::Create, "keys/k", json!({ "value": OLD }))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(resp.data["current_version"], Value::Null, "{:?}", resp.data);
    assert_eq!(resp.data["pending_version"], 1);
    assert_eq!(resp.data["versions"]["1"]["state"], "pending");
    assert!(
        resp.warnings.iter().any(|w| w.contains("different entity")),
        "{:?}",
        resp.warnings
    );
    let msg = creds_not_found(&h).await;
    assert!(
        msg.contains("no current version yet (awaiting approval)") && msg.contains("version 1"),
        "{msg}"
    );
    assert!(!msg.contains(OLD));

    // The history: the key was created (no version), version 1 staged by its creator.
    let events = h.history("k").await;
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["staged", "created"], "{events:?}");
    assert_eq!(events[1]["version"], Value::Null);
    assert_eq!(events[0]["version"], 1);
    assert_eq!(events[0]["actor"]["entity_id"], "alice");
}

#[tokio::test]
async fn only_another_entity_makes_the_first_version_live_after_a_test() {
    let h = under_the_rule().await;
    h.create_key("k", OLD).await;
    let before = h.snapshot().await;
    for body in [json!({}), json!({ "force": true })] {
        match h.write("promote/k", body.clone()).await {
            Err(e @ Error::PermissionDenied(_)) => {
                assert!(e.to_string().contains("different entity"), "{e}")
            }
            other => panic!("{body}: the creator promoted: {other:?}"),
        }
    }
    assert_eq!(h.snapshot().await, before, "a refusal changes nothing");
    // Bob cannot promote an untested value either.
    let untested = h
        .call_as("bob", Operation::Update, "promote/k", json!({}))
        .await;
    assert!(
        expect_bad_request(untested).contains("has not been tested"),
        "bob promoted an untested first version"
    );
    assert_eq!(h.snapshot().await, before);

    let tested = as_entity(&h, "bob", Operation::Update, "test/k", json!({})).await;
    assert_eq!(tested["version"], 1);
    let promoted = as_entity(&h, "bob", Operation::Update, "promote/k", json!({})).await;
    assert_eq!(promoted["version"], 1);
    assert_eq!(promoted["previous_version"], Value::Null);
    let c = h.read("creds/k").await;
    assert_eq!(
        (c["api_key"].as_str(), c["version"].as_u64()),
        (Some(OLD), Some(1))
    );
    assert!(c.get("previous_api_key").is_none(), "{c}");
    let events = h.history("k").await;
    assert_eq!(events[0]["event"], "promoted");
    assert_eq!(events[0]["actor"]["entity_id"], "bob");
}

/// A request from a token with this entity id and accessor (a batch token has no accessor).
async fn create_with_token(h: &Harness, entity_id: &str, accessor: &str) -> HandlerResult {
    let mut req = Request::new(Operation::Create, "keys/k", h.cached.clone())
        .with_data(json!({ "value": OLD }));
    req.id = "req-token".into();
    req.entity_id = entity_id.into();
    req.client_token_accessor = accessor.into();
    h.engine.backend().handle_request(req).await
}

#[tokio::test]
async fn under_the_rule_a_create_needs_an_identity_entity_and_a_refusal_changes_nothing() {
    let h = under_the_rule().await;
    let before = h.snapshot().await;
    for (entity, accessor) in [("", "acc-root-child"), ("alice", ""), ("", "")] {
        match create_with_token(&h, entity, accessor).await {
            Err(e @ Error::PermissionDenied(_)) => {
                let msg = e.to_string();
                assert!(
                    msg.contains("identity entity") && msg.contains("keys/ create"),
                    "{msg}"
                );
            }
            other => panic!("({entity:?}, {accessor:?}) created a key: {other:?}"),
        }
    }
    assert_eq!(h.snapshot().await, before);
}

#[tokio::test]
async fn without_the_rule_a_create_is_current_at_once_even_for_a_token_without_an_entity() {
    let h = Harness::new().await;
    create_with_token(&h, "", "acc-root-child").await.unwrap();
    let c = h.read("creds/k").await;
    assert_eq!(c["api_key"], OLD);
    assert_eq!(c["version"], 1);
    assert_eq!(h.history("k").await[0]["event"], "created");
}

#[tokio::test]
async fn a_stage_while_the_first_version_is_pending_is_refused_naming_it() {
    let h = under_the_rule().await;
    h.create_key("k", OLD).await;
    let before = h.snapshot().await;
    let refused = h
        .call_as("bob", Operation::Update, "stage/k", json!({ "value": NEW }))
        .await;
    let msg = expect_bad_request(refused);
    assert!(msg.contains("version 1 is already pending"), "{msg}");
    assert_eq!(h.snapshot().await, before);
}

#[tokio::test]
async fn rolling_back_the_pending_first_version_leaves_no_live_version_until_a_new_one_is_promoted()
{
    let h = under_the_rule().await;
    h.create_key("k", OLD).await;
    // Discarding is one person's act, the creator's included.
    let out = h.write("rollback/k", json!({})).await.unwrap();
    assert_eq!(out["discarded_version"], 1);
    assert_eq!(out["current_version"], Value::Null);
    assert!(!h.storage_contains(OLD).await, "the value is destroyed");
    let msg = creds_not_found(&h).await;
    assert!(
        msg.contains("rolled back") && msg.contains("stage/"),
        "{msg}"
    );
    let k = h.read("keys/k").await;
    assert_eq!(k["versions"]["1"]["state"], "failed", "{k}");
    assert_eq!(k["pending_version"], Value::Null);

    // A new first version: staged by alice, tested and promoted by bob.
    let staged = h.write("stage/k", json!({ "value": NEW })).await.unwrap();
    assert_eq!(staged["version"], 2);
    let msg = creds_not_found(&h).await;
    assert!(msg.contains("version 2"), "{msg}");
    as_entity(&h, "bob", Operation::Update, "test/k", json!({})).await;
    as_entity(&h, "bob", Operation::Update, "promote/k", json!({})).await;
    let c = h.read("creds/k").await;
    assert_eq!(
        (c["api_key"].as_str(), c["version"].as_u64()),
        (Some(NEW), Some(2))
    );
}

#[tokio::test]
async fn reads_and_reports_cope_with_a_key_that_has_no_current_version_yet() {
    let h = under_the_rule().await;
    let created = (Utc::now() - Duration::days(400)).to_rfc3339_opts(SecondsFormat::Secs, true);
    h.create(
        "keys/k",
        json!({ "value": OLD, "created_time": created, "rotation_period": "30d" }),
    )
    .await
    .unwrap();

    let k = h.read("keys/k").await;
    assert_eq!(k["current_version"], Value::Null, "{k}");
    assert_eq!(k["pending_version"], 1);
    assert_eq!(k["age_days"], Value::Null);
    assert_eq!(k["next_rotation_time"], Value::Null);
    assert_eq!(
        (k["overdue"].as_bool(), k["overdue_days"].as_i64()),
        (Some(false), Some(0))
    );
    assert_eq!(k["last_rotation_time"], Value::Null);

    // A value nobody can read yet is not overdue for rotation.
    let overdue = h.read("overdue").await;
    assert_eq!(overdue["keys"], json!([]), "{overdue}");

    let metrics = h.read("metrics").await.to_string();
    assert!(
        metrics.contains("ai_keys_pending_versions") && !metrics.contains(OLD),
        "{metrics}"
    );
    let gauges = h.read("metrics").await["gauges"].clone();
    let age = gauges
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["name"] == "ai_keys_current_version_age_seconds")
        .count();
    assert_eq!(age, 0, "no age for a key with no current version: {gauges}");

    let report = h.read("report").await;
    let line = &report["keys"][0];
    assert_eq!(line["current_version"], Value::Null, "{report}");
    assert_eq!(line["current_age_days"], Value::Null);
    assert_eq!(line["rotations"], 0);
    assert_eq!(
        line["oldest_age_days"],
        Value::Null,
        "never current: {line}"
    );
    assert!(!report.to_string().contains(OLD));
}

#[tokio::test]
async fn the_tick_never_rotates_a_key_whose_first_version_waits_for_approval() {
    let h = under_the_rule().await;
    let fake = FakeOpenRouter::start(200).await;
    fake.configure(&h, "or").await;
    let created = (Utc::now() - Duration::days(400)).to_rfc3339_opts(SecondsFormat::Secs, true);
    h.create(
        "keys/k",
        json!({ "value": OLD, "created_time": created, "provider": "or", "auto_rotate": true }),
    )
    .await
    .unwrap();
    h.tick().await.unwrap();
    // Nor once the first version was discarded (no live version at all).
    let k = h.read("keys/k").await;
    assert_eq!(
        (k["current_version"].clone(), k["pending_version"].clone()),
        (Value::Null, json!(1))
    );
    h.write("rollback/k", json!({})).await.unwrap();
    h.tick().await.unwrap();
    let k = h.read("keys/k").await;
    assert_eq!(k["current_version"], Value::Null, "{k}");
    assert_eq!(k["pending_version"], Value::Null, "{k}");
    assert_eq!(k["last_error"], Value::Null, "{k}");
    assert!(
        !fake.requests().iter().any(|r| r.starts_with("POST")),
        "the scheduler created a key: {:?}",
        fake.requests()
    );
    let events = h.history("k").await;
    assert!(
        events.iter().all(|e| e["actor"] != "scheduler"),
        "the scheduler acted on the key: {events:?}"
    );
}
