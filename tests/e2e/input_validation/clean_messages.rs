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

/// Errors other than 400 and 403 arrive as cleanly, with their status: a `rotate/` the provider
/// cannot answer is a 503 whose one message is the engine's, over HTTP and in the CLI (before,
/// the host wrapped it as "1 error occurred:\n\t* ...").
#[tokio::test]
async fn server_side_errors_keep_their_status_and_are_never_wrapped() {
    use crate::providers::{configure_provider, create_key, provider_body};
    use crate::support::fake_provider::{FakeProvider, Mode};

    let (bao, fake) = tokio::join!(Bao::start(), FakeProvider::start());
    let client = bao.client();
    configure_provider(&client, "or", provider_body("openrouter", &fake, None)).await;
    let v0 = secret("v0");
    fake.add_key(&v0);
    create_key(&client, "app", json!({ "value": v0, "provider": "or" })).await;
    fake.set_mode(Mode::Overloaded529);
    let v1 = secret("v1");
    let reply = client
        .write("ai-keys/rotate/app", json!({ "value": v1 }))
        .await;
    let message = clean_error(
        &reply,
        503,
        &["rotation aborted", "provider_unavailable"],
        "rotate/ with the provider down",
    );
    assert!(!message.contains(&v1), "{message}");

    let out = bao.bao(&["write", "ai-keys/rotate/app", &format!("value={v1}")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("Code: 503") && stderr.contains("* rotation aborted"),
        "{stderr}"
    );
    assert!(!stderr.contains("error occurred"), "{stderr}");
}
