//! The two-person rule: the stager may not promote; people are entities, never tokens.

use serde_json::json;

use crate::backend::testing::Harness;
use crate::backend::testing::{with_key, NEW, OLD};
use crate::engine::Engine;
use crate::framework::{Error, HandlerResult, Operation, Request};

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

/// A request from a token with this entity id and accessor (a batch token has no accessor).
async fn call_with_token(
    h: &Harness,
    entity_id: &str,
    accessor: &str,
    path: &str,
    data: serde_json::Value,
) -> HandlerResult {
    let mut req = Request::new(Operation::Update, path, h.cached.clone()).with_data(data);
    req.id = "req-token".into();
    req.entity_id = entity_id.into();
    req.client_token_accessor = accessor.into();
    h.engine.backend().handle_request(req).await
}

fn assert_needs_entity(result: HandlerResult, what: &str) {
    match result {
        Err(e @ Error::PermissionDenied(_)) => {
            let msg = e.to_string();
            assert!(
                msg.contains("require_separate_approver") && msg.contains("identity entity"),
                "{what}: {msg}"
            );
        }
        other => panic!("{what}: expected 403, got {other:?}"),
    }
}

#[tokio::test]
async fn two_person_rule_needs_entities_not_tokens() {
    let h = with_key().await;
    h.write("config", json!({"require_separate_approver": true}))
        .await
        .unwrap();
    let before = h.snapshot().await;
    // A token without an entity (root, or a child of root), and a batch token (no accessor)
    // even with an entity, cannot stage.
    for (entity, accessor) in [("", "acc-child"), ("alice", ""), ("", "")] {
        let staged =
            call_with_token(&h, entity, accessor, "stage/k", json!({ "value": NEW })).await;
        assert_needs_entity(staged, &format!("stage by ({entity:?}, {accessor:?})"));
    }
    assert_eq!(h.snapshot().await, before);

    // Staged by alice: two tokens of alice are one person; tokens without an entity cannot
    // promote; bob can.
    h.write("stage/k", json!({ "value": NEW })).await.unwrap();
    h.write("test/k", json!({})).await.unwrap();
    let before = h.snapshot().await;
    match call_with_token(&h, "alice", "acc-second-token", "promote/k", json!({})).await {
        Err(e) => assert_eq!(e.status(), 403, "{e}"),
        Ok(r) => panic!("a second token of the stager promoted: {r:?}"),
    }
    for (entity, accessor) in [("", "acc-child"), ("bob", "")] {
        let promoted = call_with_token(&h, entity, accessor, "promote/k", json!({})).await;
        assert_needs_entity(promoted, &format!("promote by ({entity:?}, {accessor:?})"));
    }
    assert_eq!(h.snapshot().await, before);
    h.call_as("bob", Operation::Update, "promote/k", json!({}))
        .await
        .unwrap();
    assert_eq!(h.read("creds/k").await["api_key"], NEW);
}

#[tokio::test]
async fn a_version_staged_without_an_entity_needs_a_new_stage_under_the_rule() {
    let h = with_key().await;
    // Staged by a token without an entity while the rule was off, then the rule is turned on.
    call_with_token(&h, "", "acc-child", "stage/k", json!({ "value": NEW }))
        .await
        .unwrap();
    h.write("test/k", json!({})).await.unwrap();
    h.write("config", json!({"require_separate_approver": true}))
        .await
        .unwrap();
    let before = h.snapshot().await;
    match h
        .call_as("bob", Operation::Update, "promote/k", json!({}))
        .await
    {
        Err(e @ Error::PermissionDenied(_)) => {
            assert!(
                e.to_string().contains("staged without an identity entity"),
                "{e}"
            )
        }
        other => panic!("expected 403, got {other:?}"),
    }
    assert_eq!(h.snapshot().await, before);
}
