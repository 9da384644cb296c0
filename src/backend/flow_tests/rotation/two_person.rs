//! The two-person rule: the stager may not promote, by entity or else by token.

use serde_json::json;

use crate::backend::flow_tests::{with_key, NEW, OLD};
use crate::framework::{Error, Operation};

#[tokio::test]
async fn two_person_rule_refuses_the_stager_and_accepts_another_entity() {
    let h = with_key().await;
    h.write("config", json!({"require_separate_approver": true}))
        .await
        .unwrap();
    h.write("stage/k", json!({ "value": NEW })).await.unwrap();
    h.write("test/k", json!({})).await.unwrap();
    let before = h.snapshot().await;
    for body in [json!({}), json!({"force": true})] {
        match h.write("promote/k", body.clone()).await {
            Err(e @ Error::PermissionDenied(_)) => {
                assert_eq!(e.status(), 403);
                let msg = e.to_string();
                assert!(
                    msg.contains("require_separate_approver") && msg.contains("different"),
                    "{msg}"
                );
            }
            other => panic!("{body}: expected 403, got {other:?}"),
        }
    }
    assert_eq!(h.snapshot().await, before);
    assert_eq!(h.read("creds/k").await["api_key"], OLD);
    let resp = h
        .call_as("bob", Operation::Update, "promote/k", json!({}))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(resp.data["version"], 2);
    assert_eq!(h.read("creds/k").await["api_key"], NEW);
    let events = h.history("k").await;
    assert_eq!(events[0]["event"], "promoted");
    assert_eq!(events[0]["actor"]["entity_id"], "bob");
}

#[tokio::test]
async fn two_person_rule_refuses_rotate() {
    let h = with_key().await;
    h.write("config", json!({"require_separate_approver": "true"}))
        .await
        .unwrap();
    let before = h.snapshot().await;
    match h.write("rotate/k", json!({ "value": NEW })).await {
        Err(e @ Error::PermissionDenied(_)) => {
            assert_eq!(e.status(), 403);
            assert!(e.to_string().contains("require_separate_approver"), "{e}");
        }
        other => panic!("expected 403, got {other:?}"),
    }
    assert_eq!(h.snapshot().await, before);
    assert_eq!(h.read("creds/k").await["api_key"], OLD);
}

#[tokio::test]
async fn two_person_rule_without_entities_compares_tokens() {
    let h = with_key().await;
    h.write("config", json!({"require_separate_approver": true}))
        .await
        .unwrap();
    // call_as("") is a token without an entity: entity_id "", accessor "acc-"
    h.call_as("", Operation::Update, "stage/k", json!({ "value": NEW }))
        .await
        .unwrap();
    h.write("test/k", json!({})).await.unwrap();
    match h
        .call_as("", Operation::Update, "promote/k", json!({}))
        .await
    {
        Err(e) => assert_eq!(e.status(), 403, "{e}"),
        Ok(r) => panic!("the same token promoted: {r:?}"),
    }
    h.write("promote/k", json!({})).await.unwrap();
    assert_eq!(h.read("creds/k").await["api_key"], NEW);
}
