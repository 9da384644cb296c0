//! Every refused request (400) leaves storage exactly as it was, and no refusal echoes a value.
//! The OpenAPI document states what the engine enforces (`openapi`), and docs/api.md's field
//! tables are generated from it (`api_doc`). The tick hook exists only in test builds and runs
//! the host's periodic work (`test_hooks`). Every stored entry is a JSON object
//! (`stored_entries`).

mod api_doc;
mod model;
mod openapi;
mod refused_records;
mod stored_entries;
mod test_hooks;

use serde_json::{json, Value};

use crate::backend::testing::Harness;
use crate::backend::testing::OLD;
use crate::framework::{Error, Operation};

/// A mount with key `k` (current only), key `p` (a pending version) and key `g` (a previous
/// version in grace).
async fn populated() -> Harness {
    let h = Harness::new().await;
    h.create_key("k", OLD).await;
    h.create_key("p", "sk-test-P-CURRENT-000000").await;
    h.write("stage/p", json!({"value": "sk-test-P-PENDING-000000"}))
        .await
        .unwrap();
    h.create_key("g", "sk-test-G-PREVIOUS-00000").await;
    h.write("rotate/g", json!({"value": "sk-test-G-CURRENT-000000"}))
        .await
        .unwrap();
    h
}

/// A value that must never appear in a refusal's message.
const SECRET: &str = "sk-test-REFUSED-SECRET-42";

#[tokio::test]
async fn refused_requests_change_nothing() {
    let h = populated().await;
    let long = format!("{SECRET}{}", "z".repeat(4100));
    let with_newline = format!("{SECRET}\nmore");
    let cases: Vec<(Operation, &str, Value, &str)> = vec![
        // keys/
        (
            Operation::Create,
            "keys/k",
            json!({"value": SECRET}),
            "already exists",
        ),
        (Operation::Create, "keys/n", json!({}), "value"),
        (Operation::Create, "keys/n", json!({"value": ""}), "value"),
        (Operation::Create, "keys/n", json!({"value": long}), "value"),
        (
            Operation::Create,
            "keys/n",
            json!({"value": with_newline}),
            "value",
        ),
        (
            Operation::Create,
            "keys/n",
            json!({"value": SECRET, "provider": "ghost"}),
            "ghost",
        ),
        (
            Operation::Create,
            "keys/n",
            json!({"value": SECRET, "schedule": "ghost"}),
            "ghost",
        ),
        (
            Operation::Create,
            "keys/n",
            json!({"value": SECRET, "auto_rotate": true}),
            "auto_rotate",
        ),
        (
            Operation::Create,
            "keys/n",
            json!({"value": SECRET, "created_time": "2999-01-01T00:00:00Z"}),
            "created_time",
        ),
        (
            Operation::Create,
            "keys/n",
            json!({"value": SECRET, "rotation_period": "0"}),
            "rotation_period",
        ),
        (
            Operation::Create,
            "keys/n",
            json!({"value": SECRET, "grace_period": "-1h"}),
            "grace_period",
        ),
        (
            Operation::Create,
            "keys/n",
            json!({"value": SECRET, "custom_metadata": "owner"}),
            "custom_metadata",
        ),
        (
            Operation::Create,
            "keys/n",
            json!({"value": {"nested": SECRET}}),
            "value",
        ),
        (
            Operation::Update,
            "keys/k",
            json!({"value": SECRET}),
            "stage/",
        ),
        (
            Operation::Update,
            "keys/k",
            json!({"created_time": "2020-01-01T00:00:00Z"}),
            "created_time",
        ),
        (
            Operation::Update,
            "keys/k",
            json!({"schedule": "ghost"}),
            "ghost",
        ),
        (
            Operation::Update,
            "keys/k",
            json!({"provider": "ghost"}),
            "ghost",
        ),
        (
            Operation::Update,
            "keys/k",
            json!({"auto_rotate": "yes please"}),
            "auto_rotate",
        ),
        (
            Operation::Update,
            "keys/ghost",
            json!({"schedule": "staging"}),
            "ghost",
        ),
        // stage/
        (
            Operation::Update,
            "stage/ghost",
            json!({"value": SECRET}),
            "ghost",
        ),
        (Operation::Update, "stage/k", json!({"value": ""}), "value"),
        (
            Operation::Update,
            "stage/k",
            json!({"value": long}),
            "value",
        ),
        (
            Operation::Update,
            "stage/k",
            json!({"value": with_newline}),
            "value",
        ),
        (
            Operation::Update,
            "stage/k",
            json!({"value": OLD}),
            "version 1",
        ),
        (Operation::Update, "stage/k", json!({}), "value"),
        (
            Operation::Update,
            "stage/p",
            json!({"value": SECRET}),
            "version 2",
        ),
        (
            Operation::Update,
            "stage/g",
            json!({"value": "sk-test-G-PREVIOUS-00000"}),
            "version 1",
        ),
        // test/
        (Operation::Update, "test/k", json!({}), "pending"),
        (
            Operation::Update,
            "test/k",
            json!({"version": 9}),
            "version 9",
        ),
        (
            Operation::Update,
            "test/k",
            json!({"version": -1}),
            "version",
        ),
        (
            Operation::Update,
            "test/k",
            json!({"version": "one"}),
            "version",
        ),
        (
            Operation::Update,
            "test/g",
            json!({"version": 1}),
            "version 1",
        ),
        (Operation::Update, "test/ghost", json!({}), "ghost"),
        // promote/
        (Operation::Update, "promote/k", json!({}), "pending"),
        (Operation::Update, "promote/p", json!({}), "force"),
        (
            Operation::Update,
            "promote/p",
            json!({"grace_period": "-5s"}),
            "grace_period",
        ),
        (
            Operation::Update,
            "promote/p",
            json!({"force": "maybe"}),
            "force",
        ),
        (Operation::Update, "promote/ghost", json!({}), "ghost"),
        // rollback/
        (
            Operation::Update,
            "rollback/k",
            json!({}),
            "nothing to roll back",
        ),
        (Operation::Update, "rollback/ghost", json!({}), "ghost"),
        // rotate/
        (
            Operation::Update,
            "rotate/p",
            json!({"value": SECRET}),
            "version 2",
        ),
        (
            Operation::Update,
            "rotate/k",
            json!({"value": OLD}),
            "version 1",
        ),
        (
            Operation::Update,
            "rotate/k",
            json!({"value": with_newline}),
            "value",
        ),
        (Operation::Update, "rotate/k", json!({}), "value"),
        (
            Operation::Update,
            "rotate/k",
            json!({"value": SECRET, "grace_period": "soon"}),
            "grace_period",
        ),
        (
            Operation::Update,
            "rotate/ghost",
            json!({"value": SECRET}),
            "ghost",
        ),
        // verify/
        (Operation::Update, "verify/k", json!({}), "value"),
        (
            Operation::Update,
            "verify/ghost",
            json!({"value": SECRET}),
            "ghost",
        ),
        // config
        (
            Operation::Update,
            "config",
            json!({"history_limit": 0}),
            "history_limit",
        ),
        (
            Operation::Update,
            "config",
            json!({"history_limit": 100_001}),
            "history_limit",
        ),
        (
            Operation::Update,
            "config",
            json!({"default_schedule": "ghost"}),
            "ghost",
        ),
        (
            Operation::Update,
            "config",
            json!({"require_separate_approver": "sure"}),
            "require_separate_approver",
        ),
        // schedules/
        (
            Operation::Create,
            "schedules/n",
            json!({"grace_period": "1h"}),
            "rotation_period",
        ),
        (
            Operation::Update,
            "schedules/production",
            json!({"rotation_window": "91d"}),
            "rotation_window",
        ),
        (
            Operation::Delete,
            "schedules/production",
            Value::Null,
            "production",
        ),
        // overdue
        (
            Operation::Read,
            "overdue",
            json!({"max_age": "forever"}),
            "max_age",
        ),
    ];
    let before = h.snapshot().await;
    let mut failures = Vec::new();
    for (op, path, body, word) in &cases {
        let shown = if body.to_string().len() > 120 {
            "<long body>".to_string()
        } else {
            body.to_string()
        };
        match h.call(*op, path, body.clone()).await {
            Err(Error::BadRequest(msg)) => {
                if !msg.contains(word) {
                    failures.push(format!(
                        "{op} {path} {shown}: message lacks {word:?}: {msg}"
                    ));
                }
                if msg.contains("REFUSED-SECRET") || msg.contains("zzzzzzzz") {
                    failures.push(format!("{op} {path} {shown}: message echoes the value"));
                }
            }
            other => failures.push(format!("{op} {path} {shown}: expected 400, got {other:?}")),
        }
        if h.snapshot().await != before {
            failures.push(format!("{op} {path} {shown}: storage changed"));
            break;
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // the stored state is still what it was
    assert_eq!(h.read("creds/k").await["api_key"], OLD);
    assert_eq!(h.read("keys/p").await["pending_version"], 2);
    assert_eq!(
        h.read("creds/g").await["previous_api_key"],
        "sk-test-G-PREVIOUS-00000"
    );
    assert!(!h.storage_contains(SECRET).await);
}

#[tokio::test]
async fn unknown_paths_are_404_and_unsupported_operations_405() {
    let h = populated().await;
    let before = h.snapshot().await;
    for (op, path, status) in [
        (Operation::Read, "nope/k", 404),
        (Operation::Update, "keys/-bad-", 400),
        (Operation::Read, "keys/a/b", 404),
        (Operation::Read, "stage/k", 405),
        (Operation::Delete, "creds/k", 405),
        (Operation::Update, "creds/k", 405),
        (Operation::Read, "verify/k", 405),
        (Operation::Delete, "config", 405),
    ] {
        match h.call(op, path, json!({})).await {
            Err(e) => assert_eq!(e.status(), status, "{op} {path}: {e}"),
            Ok(r) => panic!("{op} {path}: expected {status}, got {r:?}"),
        }
    }
    assert_eq!(h.snapshot().await, before);
}
