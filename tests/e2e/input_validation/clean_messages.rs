//! User errors come back as the handler wrote them and are never server errors.

use serde_json::json;

use super::{assert_log_has_no_errors, clean_error};
use crate::support::checks::{secret, write_ok};
use crate::support::Bao;

// ---------------------------------------------------------------------------------------------
// Shape: clean user errors, never an ERROR in the server log
// ---------------------------------------------------------------------------------------------

/// User errors arrive as the handler wrote them (no "1 error occurred:" wrapping), 400s and
/// 403s alike, over HTTP and in the CLI; a bad field on a path with an existence check is the
/// handler's 400, not a failed existence check that the server logs at ERROR.
#[tokio::test]
async fn user_errors_are_clean_and_never_server_errors() {
    let bao = Bao::start().await;
    let client = bao.client();
    write_ok(
        &client,
        "ai-keys/keys/app",
        json!({ "value": secret("v1") }),
    )
    .await;

    for (path, body, field) in [
        (
            "ai-keys/keys/app",
            json!({ "rotation_period": "banana" }),
            "rotation_period",
        ),
        (
            "ai-keys/keys/x",
            json!({ "value": secret("x"), "rotation_period": "banana" }),
            "rotation_period",
        ),
        (
            "ai-keys/schedules/x",
            json!({ "rotation_period": "banana", "grace_period": "1h" }),
            "rotation_period",
        ),
        (
            "ai-keys/providers/x",
            json!({ "type": "gemini", "timeout": "banana" }),
            "timeout",
        ),
        (
            "ai-keys/promote/app",
            json!({ "grace_period": "banana" }),
            "grace_period",
        ),
    ] {
        let reply = client.write(path, body).await;
        let message = clean_error(&reply, 400, &[field], path);
        assert!(
            message.starts_with("Field validation failed: field \""),
            "{path}: {message:?}"
        );
    }
    let reply = client.write("ai-keys/promote/app", json!({})).await;
    let message = clean_error(
        &reply,
        400,
        &["no version is pending"],
        "promote, nothing pending",
    );
    // Exactly the handler's words: nothing wrapped around them, nothing added.
    assert_eq!(message, "no version is pending; stage one first");

    // A 403 keeps its status and its own message.
    write_ok(
        &client,
        "ai-keys/config",
        json!({ "require_separate_approver": true }),
    )
    .await;
    let reply = client.write("ai-keys/rotate/app", json!({})).await;
    clean_error(
        &reply,
        403,
        &["require_separate_approver"],
        "rotate/ under the two-person rule",
    );

    // The CLI shows the message as is.
    let out = bao.bao(&["write", "ai-keys/keys/x", "rotation_period=banana"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("Code: 400")
            && stderr.contains("* Field validation failed: field \"rotation_period\""),
        "{stderr}"
    );
    assert!(!stderr.contains("error occurred"), "{stderr}");
    assert_log_has_no_errors(&bao);
}
