//! A value outside the document's bounds is a 400 naming the field, before any handler runs.

use super::*;

/// A value outside the document's bounds is a 400 naming the field (and the bound), before the
/// handler; the bound itself is accepted.
#[tokio::test]
async fn values_outside_the_document_are_refused_first() {
    let h = Harness::new().await;
    h.create_key("k", "sk-test-CURRENT-000000000").await;
    let refused: &[(Operation, &str, Value, &str, &str)] = &[
        (
            Operation::Update,
            "config",
            json!({"history_limit": 100_001}),
            "history_limit",
            "between 1 and 100000",
        ),
        (
            Operation::Read,
            "history/k",
            json!({"limit": 1001}),
            "limit",
            "between 1 and 1000",
        ),
        (
            Operation::Read,
            "history/k",
            json!({"after": "e+5"}),
            "after",
            "next_after",
        ),
        (
            Operation::Update,
            "test/k",
            json!({"version": 0}),
            "version",
            "between 1 and 4294967295",
        ),
        (
            Operation::Read,
            "overdue",
            json!({"max_age": "0s"}),
            "max_age",
            "greater than zero",
        ),
        (
            Operation::Read,
            "report",
            json!({"window": 0}),
            "window",
            "greater than zero",
        ),
        (
            Operation::Read,
            "report",
            json!({"format": "xml"}),
            "format",
            "one of json, csv",
        ),
        (
            Operation::Read,
            "metrics",
            json!({"format": "xml"}),
            "format",
            "one of json, prometheus",
        ),
        (
            Operation::Update,
            "extend/k",
            json!({"grace_period": 0}),
            "grace_period",
            "greater than zero",
        ),
        (
            Operation::Update,
            "verify/k",
            json!({}),
            "value",
            "is required",
        ),
        (
            Operation::Update,
            "stage/k",
            json!({"value": ""}),
            "value",
            "must not be empty",
        ),
        (
            Operation::Update,
            "rotate/k",
            json!({"value": "sk-a\u{85}b"}),
            "value",
            "control characters",
        ),
        (
            Operation::Create,
            "providers/p",
            json!({"type": "openai", "timeout": "301s"}),
            "timeout",
            "between 1s and 300s",
        ),
        (
            Operation::Create,
            "providers/p",
            json!({"type": "OpenAI"}),
            "type",
            "must be one of openai",
        ),
        (
            Operation::Create,
            "providers/p",
            json!({"type": "openai", "project_id": "proj/x"}),
            "project_id",
            "letters, digits",
        ),
        (
            Operation::Create,
            "providers/p",
            json!({"type": "azure_openai", "api_version": "2024&x=1"}),
            "api_version",
            "2024-10-21",
        ),
        (
            Operation::Create,
            "providers/p",
            json!({"type": "openai_compatible", "verify_path": "/a/../b"}),
            "verify_path",
            "'..'",
        ),
        (
            Operation::Create,
            "providers/p",
            json!({"type": "openai", "admin_key": "sk-admin\tx"}),
            "admin_key",
            "control characters",
        ),
    ];
    let before = h.snapshot().await;
    for (op, path, body, field, bound) in refused {
        let msg = expect_bad_request(h.call(*op, path, body.clone()).await);
        assert!(
            msg.starts_with(&format!("Field validation failed: field \"{field}\": "))
                && msg.contains(bound),
            "{op} {path} {body}: {msg}"
        );
        assert_eq!(
            h.snapshot().await,
            before,
            "{op} {path} {body} changed storage"
        );
    }
    // The bounds themselves pass the framework.
    h.write("config", json!({"history_limit": 100_000}))
        .await
        .unwrap();
    h.call(Operation::Read, "history/k", json!({"limit": 1000}))
        .await
        .unwrap();
    h.call(
        Operation::Read,
        "report",
        json!({"window": 1, "format": ""}),
    )
    .await
    .unwrap();
    h.call(Operation::Read, "metrics", json!({"format": ""}))
        .await
        .unwrap();
    h.create(
        "providers/p",
        json!({"type": "openai", "timeout": 300, "project_id": "proj_abc", "api_version": ""}),
    )
    .await
    .unwrap();
}
