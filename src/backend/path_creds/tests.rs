//! `creds/`: what applications read. The documented fields, the current version only (never a
//! pending, failed or revoked value), the previous one beside it only inside its grace window,
//! no response for a key whose values were destroyed, and a 404 saying why for a key whose first
//! version waits for approval.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::backend::record;
use crate::backend::testing::{verify, with_key, Harness, NEW, OLD};
use crate::framework::Operation;

fn parse_time(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().unwrap_or_else(|| panic!("not a time: {v}")))
        .unwrap()
        .with_timezone(&Utc)
}

/// `creds/name` as a user's read sees it: `None` when the engine answers with no response (a
/// 404 through the server).
async fn creds(h: &Harness, name: &str) -> Option<Value> {
    h.call(Operation::Read, &format!("creds/{name}"), Value::Null)
        .await
        .unwrap_or_else(|e| panic!("creds/{name}: {e}"))
        .map(|r| r.data_value())
}

#[tokio::test]
async fn creds_return_the_documented_fields_and_nothing_more_outside_a_grace_window() {
    let h = Harness::new().await;
    h.create(
        "providers/p",
        json!({"type": "openai_compatible", "base_url": "http://127.0.0.1:9"}),
    )
    .await
    .unwrap();
    let created = Utc::now();
    h.create("keys/k", json!({"value": OLD, "provider": "p"}))
        .await
        .unwrap();
    let c = creds(&h, "k").await.expect("creds/k answered nothing");
    assert_eq!(c["api_key"], OLD, "{c}");
    assert_eq!(c["version"], 1, "{c}");
    assert_eq!(c["provider"], "p", "{c}");
    // version 1 counts as rotated when it was created
    let last = parse_time(&c["last_rotation_time"]);
    assert!((last - created).num_seconds().abs() <= 5, "{last}");
    // production: 90d
    let ttl = c["ttl"].as_i64().expect("ttl is an integer");
    assert!((90 * 86_400 - 10..=90 * 86_400).contains(&ttl), "ttl {ttl}");
    let mut fields: Vec<&str> = c.as_object().unwrap().keys().map(String::as_str).collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "api_key",
            "last_rotation_time",
            "provider",
            "ttl",
            "version"
        ],
        "no previous_* fields without a grace window: {c}"
    );
}

#[tokio::test]
async fn creds_of_an_unknown_key_answer_nothing() {
    let h = with_key().await;
    assert_eq!(
        creds(&h, "nope").await,
        None,
        "an unknown key must be a 404"
    );
    // a name that differs only by case is another key
    assert_eq!(creds(&h, "K").await, None);
    assert!(creds(&h, "k").await.is_some());
}

#[tokio::test]
async fn creds_serve_the_current_version_and_never_a_pending_one() {
    let h = with_key().await;
    h.write("stage/k", json!({ "value": NEW })).await.unwrap();
    h.write("test/k", json!({})).await.unwrap();
    assert_eq!(verify(&h, NEW).await["state"], "pending");
    let c = creds(&h, "k").await.unwrap();
    assert_eq!(c["api_key"], OLD, "a staged value was handed out: {c}");
    assert_eq!(c["version"], 1);
    assert!(
        !c.to_string().contains(NEW),
        "the pending value appears in creds: {c}"
    );

    // promoted: the new one is current, the old one rides along only as the fallback
    h.write("promote/k", json!({})).await.unwrap();
    let c = creds(&h, "k").await.unwrap();
    assert_eq!(c["api_key"], NEW, "{c}");
    assert_eq!(c["version"], 2, "{c}");
    assert_eq!(c["previous_api_key"], OLD, "{c}");
    assert_eq!(c["previous_version"], 1, "{c}");
    let expires = parse_time(&c["previous_expires_time"]);
    let hours = (expires - Utc::now()).num_hours();
    assert!(
        (47..=48).contains(&hours),
        "production grace is 48h: {expires}"
    );

    // a second rotation staged during the grace window is not served either
    let third = "sk-test-THIRDVALUE-00000000000000";
    h.write("stage/k", json!({ "value": third })).await.unwrap();
    let c = creds(&h, "k").await.unwrap();
    assert_eq!(c["api_key"], NEW, "{c}");
    assert_eq!(c["previous_api_key"], OLD, "{c}");
    assert!(!c.to_string().contains(third), "{c}");
}

#[tokio::test]
async fn creds_change_after_a_rotation() {
    let h = with_key().await;
    let before = creds(&h, "k").await.unwrap();
    h.write("rotate/k", json!({ "value": NEW })).await.unwrap();
    let after = creds(&h, "k").await.unwrap();
    assert_eq!(after["api_key"], NEW, "{after}");
    assert_eq!(after["version"], 2, "{after}");
    assert_ne!(after["api_key"], before["api_key"]);
    let rotated = parse_time(&after["last_rotation_time"]);
    assert!(
        (Utc::now() - rotated).num_seconds().abs() <= 5,
        "last_rotation_time is the promotion: {rotated}"
    );
    assert!(
        parse_time(&before["last_rotation_time"]) <= rotated,
        "{before} then {after}"
    );
}

#[tokio::test]
async fn creds_never_return_a_failed_or_revoked_value() {
    let h = with_key().await;
    // a staged value discarded by a rollback is failed
    let failed = "sk-test-FAILEDVALUE-111111111111111";
    h.write("stage/k", json!({ "value": failed }))
        .await
        .unwrap();
    h.write("rollback/k", json!({})).await.unwrap();
    let c = creds(&h, "k").await.unwrap();
    assert_eq!(c["api_key"], OLD, "{c}");
    assert!(
        !c.to_string().contains(failed),
        "a failed value served: {c}"
    );

    // an emergency rotation (grace 0) revokes the old value at once
    h.write("rotate/k", json!({ "value": NEW, "grace_period": "0" }))
        .await
        .unwrap();
    let c = creds(&h, "k").await.unwrap();
    assert_eq!(c["api_key"], NEW, "{c}");
    assert!(!c.to_string().contains(OLD), "a revoked value served: {c}");
    assert!(c.get("previous_version").is_none(), "{c}");
    assert!(c.get("previous_expires_time").is_none(), "{c}");
}

#[tokio::test]
async fn creds_stop_returning_the_previous_key_once_its_window_is_finalized() {
    let h = with_key().await;
    h.write("rotate/k", json!({ "value": NEW })).await.unwrap();
    assert_eq!(creds(&h, "k").await.unwrap()["previous_api_key"], OLD);
    h.write("finalize/k", json!({})).await.unwrap();
    let c = creds(&h, "k").await.unwrap();
    assert_eq!(c["api_key"], NEW, "{c}");
    assert!(!c.to_string().contains(OLD), "{c}");
}

#[tokio::test]
async fn creds_of_an_overdue_key_have_a_ttl_of_zero() {
    let h = Harness::new().await;
    h.create(
        "keys/k",
        json!({"value": OLD, "created_time": "2020-01-01T00:00:00Z"}),
    )
    .await
    .unwrap();
    let c = creds(&h, "k").await.unwrap();
    assert_eq!(c["ttl"], 0, "an overdue key has no time left: {c}");
    assert_eq!(c["api_key"], OLD, "an overdue key is still served: {c}");
    assert_eq!(c["last_rotation_time"], "2020-01-01T00:00:00Z", "{c}");
}

#[tokio::test]
async fn creds_of_a_key_with_no_current_version_answer_nothing() {
    // What a delete interrupted between destroying the values and removing the record leaves:
    // a consistent record with every version revoked.
    let h = with_key().await;
    h.write("rotate/k", json!({ "value": NEW })).await.unwrap();
    let mut entry = record::load(h.cached.as_ref(), "k").await.unwrap().unwrap();
    entry.key.versions.destroy_all(Utc::now());
    assert!(entry.key.versions.current().is_none());
    record::save(h.cached.as_ref(), &entry).await.unwrap();
    assert!(
        h.read("keys/k").await["versions"].is_object(),
        "the record stays"
    );
    assert_eq!(
        creds(&h, "k").await,
        None,
        "a key with no current version must answer nothing, not a null api_key"
    );
}

#[tokio::test]
async fn creds_of_a_key_whose_first_version_awaits_approval_is_a_404_naming_it() {
    let h = Harness::new().await;
    h.write("config", json!({"require_separate_approver": true}))
        .await
        .unwrap();
    h.create_key("k", OLD).await;
    let err = h
        .call(Operation::Read, "creds/k", Value::Null)
        .await
        .expect_err("creds/ of a key awaiting approval");
    assert_eq!(err.status(), 404, "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("no current version yet (awaiting approval)")
            && msg.contains("version 1 is pending"),
        "{msg}"
    );
    assert!(!msg.contains(OLD), "{msg}");
    // Served once another entity tested and promoted it.
    h.call_as("bob", Operation::Update, "test/k", json!({}))
        .await
        .unwrap();
    h.call_as("bob", Operation::Update, "promote/k", json!({}))
        .await
        .unwrap();
    assert_eq!(creds(&h, "k").await.expect("creds/k")["api_key"], OLD);
}
