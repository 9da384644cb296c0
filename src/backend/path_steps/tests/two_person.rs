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

/// Key `k` rotated from OLD to NEW (staged by alice, promoted by bob) under the rule, with a
/// day of grace for version 1.
async fn approved_rotation() -> Harness {
    let h = with_key().await;
    h.write("config", json!({"require_separate_approver": true}))
        .await
        .unwrap();
    h.write("stage/k", json!({ "value": NEW })).await.unwrap();
    h.write("test/k", json!({})).await.unwrap();
    h.call_as(
        "bob",
        Operation::Update,
        "promote/k",
        json!({ "grace_period": "1d" }),
    )
    .await
    .unwrap();
    h
}

/// `rollback/k` by entity `who`: the response's data and warnings.
async fn rollback_as(h: &Harness, who: &str) -> (serde_json::Value, Vec<String>) {
    let r = h
        .call_as(who, Operation::Update, "rollback/k", json!({}))
        .await
        .unwrap_or_else(|e| panic!("rollback by {who}: {e}"))
        .expect("a response");
    let warnings = r.warnings.clone();
    (r.data_value(), warnings)
}

#[tokio::test]
async fn under_the_rule_one_entity_cannot_undo_an_approved_rotation_alone() {
    let h = approved_rotation().await;
    // The first rollback records a request and changes no version.
    let (out, warnings) = rollback_as(&h, "carol").await;
    assert_eq!(out["current_version"], 2, "{out}");
    assert_eq!(out["revoked_versions"], json!([]));
    let request = &out["reinstatement_request"];
    assert_eq!(request["version"], 1, "{out}");
    assert_eq!(request["replaces"], 2);
    assert_eq!(request["requested_by"], "carol");
    assert!(request["expires_time"].is_string(), "{out}");
    assert!(
        warnings.iter().any(|w| w.contains("different entity")),
        "{warnings:?}"
    );
    let c = h.read("creds/k").await;
    assert_eq!(
        (c["api_key"].as_str(), c["version"].as_u64()),
        (Some(NEW), Some(2))
    );
    assert_eq!(c["previous_api_key"], OLD, "version 1 stays in grace");
    assert_eq!(
        h.read("keys/k").await["reinstatement_request"]["version"],
        1
    );
    let events = h.history("k").await;
    assert_eq!(events[0]["event"], "rollback_requested", "{events:?}");
    assert_eq!(events[0]["version"], 1);
    assert_eq!(events[0]["actor"]["entity_id"], "carol");

    // The requester again (with another token of the same entity, too): 403, nothing changes.
    let before = h.snapshot().await;
    for accessor in ["acc-carol", "acc-carol-second"] {
        match call_with_token(&h, "carol", accessor, "rollback/k", json!({})).await {
            Err(e @ Error::PermissionDenied(_)) => {
                assert!(e.to_string().contains("different entity"), "{e}")
            }
            other => panic!("the requester confirmed her own request: {other:?}"),
        }
    }
    // A token without an entity can neither ask nor confirm.
    let anonymous = call_with_token(&h, "", "acc-child", "rollback/k", json!({})).await;
    assert_needs_entity(anonymous, "rollback by a token without an entity");
    assert_eq!(h.snapshot().await, before);

    // A different entity performs it.
    let (out, warnings) = rollback_as(&h, "dave").await;
    assert_eq!(out["current_version"], 1, "{out}");
    assert_eq!(out["revoked_versions"], json!([2]));
    assert_eq!(out["reinstatement_request"], serde_json::Value::Null);
    assert!(warnings.is_empty(), "{warnings:?}");
    let c = h.read("creds/k").await;
    assert_eq!(
        (c["api_key"].as_str(), c["version"].as_u64()),
        (Some(OLD), Some(1))
    );
    let events = h.history("k").await;
    let rolled = events
        .iter()
        .find(|e| e["event"] == "rolled_back")
        .expect("rolled_back event");
    assert_eq!(rolled["actor"]["entity_id"], "dave");
    assert!(
        rolled["detail"]
            .as_str()
            .unwrap()
            .contains("requested by entity carol"),
        "{rolled}"
    );
}

#[tokio::test]
async fn under_the_rule_discarding_a_pending_version_stays_one_persons_act() {
    let h = approved_rotation().await;
    h.write("stage/k", json!({ "value": "sk-test-THIRD-0123456789" }))
        .await
        .unwrap();
    // Even a token without an entity may withdraw a value nobody uses yet.
    let out = call_with_token(&h, "", "acc-child", "rollback/k", json!({}))
        .await
        .unwrap()
        .unwrap()
        .data_value();
    assert_eq!(out["discarded_version"], 3, "{out}");
    assert_eq!(out["current_version"], 2);
    assert_eq!(out["reinstatement_request"], serde_json::Value::Null);
    assert_eq!(h.read("creds/k").await["api_key"], NEW);
}

#[tokio::test]
async fn a_reinstatement_request_lapses_when_anything_else_changes_the_versions() {
    let h = approved_rotation().await;
    rollback_as(&h, "carol").await;
    // A stage (then its discard) drops the request: dave's rollback only asks again.
    h.write("stage/k", json!({ "value": "sk-test-THIRD-0123456789" }))
        .await
        .unwrap();
    assert_eq!(
        h.read("keys/k").await["reinstatement_request"],
        serde_json::Value::Null
    );
    h.write("rollback/k", json!({})).await.unwrap();
    let (out, _) = rollback_as(&h, "dave").await;
    assert_eq!(
        out["current_version"], 2,
        "a lapsed request is not confirmed: {out}"
    );
    assert_eq!(out["reinstatement_request"]["requested_by"], "dave");
    // finalize ends the grace window: nothing to reinstate any more.
    h.call_as("bob", Operation::Update, "finalize/k", json!({}))
        .await
        .unwrap();
    assert_eq!(
        h.read("keys/k").await["reinstatement_request"],
        serde_json::Value::Null
    );
    let before = h.snapshot().await;
    let refused = h
        .call_as("carol", Operation::Update, "rollback/k", json!({}))
        .await;
    assert!(crate::backend::testing::expect_bad_request(refused).contains("nothing to roll back"),);
    assert_eq!(h.snapshot().await, before);
}

#[tokio::test]
async fn a_reinstatement_request_lapses_when_the_grace_window_ends() {
    let h = approved_rotation().await;
    rollback_as(&h, "carol").await;
    // Move version 1's grace end into the past, as time passing would.
    let storage = h.cached.as_ref();
    let mut entry = crate::backend::record::load(storage, "k")
        .await
        .unwrap()
        .unwrap();
    let past = chrono::Utc::now() - chrono::Duration::seconds(1);
    entry
        .key
        .versions
        .versions
        .get_mut(&1)
        .unwrap()
        .grace_expires_time = Some(past);
    crate::backend::record::save(storage, &entry).await.unwrap();
    assert_eq!(
        h.read("keys/k").await["reinstatement_request"],
        serde_json::Value::Null
    );
    let refused = h
        .call_as("dave", Operation::Update, "rollback/k", json!({}))
        .await;
    assert!(crate::backend::testing::expect_bad_request(refused).contains("nothing to roll back"),);
    assert_eq!(h.read("creds/k").await["api_key"], NEW);
}

#[tokio::test]
async fn without_the_rule_one_rollback_still_reinstates_the_previous_version() {
    let h = with_key().await;
    h.write("rotate/k", json!({ "value": NEW })).await.unwrap();
    let (out, warnings) = rollback_as(&h, "carol").await;
    assert_eq!(out["current_version"], 1, "{out}");
    assert_eq!(out["revoked_versions"], json!([2]));
    assert_eq!(out["reinstatement_request"], serde_json::Value::Null);
    assert!(warnings.is_empty());
    assert_eq!(h.read("creds/k").await["api_key"], OLD);
}
