//! Admin answers, error tokens, redaction and the retry policy.

use std::time::Duration;

use reqwest::header::HeaderValue;
use serde_json::json;

use super::super::classify::{self, clean_token, redact};
use super::super::http::{
    backoff, retry_after, Failure, HttpClient, Reply, BACKOFF_MAX, BACKOFF_MIN,
};
use super::super::{anthropic, openai, openrouter, ProviderError};
use super::{openai_err, raw, reply};

#[test]
fn tokens_are_short_and_plain() {
    assert_eq!(
        clean_token("invalid_api_key").as_deref(),
        Some("invalid_api_key")
    );
    assert_eq!(clean_token("429").as_deref(), Some("429"));
    assert_eq!(clean_token("has space"), None);
    assert_eq!(clean_token("<script>"), None);
    assert_eq!(clean_token(""), None);
    assert_eq!(clean_token(&"a".repeat(49)), None);
    assert_eq!(clean_token("_leading"), None);
    let j = json!({"error": {"code": 7, "type": "x y"}});
    assert_eq!(
        classify::token(Some(&j), &["/error/type", "/error/code"]).as_deref(),
        Some("7")
    );
}

#[test]
fn redact_removes_keys_and_long_fragments() {
    let key = "sk-proj-abcdefghijklmnop";
    assert_eq!(
        redact("HTTP 401, sk-proj-abcdefghijklmnop)", &[key]),
        "HTTP 401, [redacted])"
    );
    assert_eq!(
        redact("code sk-proj-abcdefgh here", &[key]),
        "code [redacted] here"
    );
    assert_eq!(redact("x-sk-proj-abcdefghijklmnop-y", &[key]), "[redacted]");
    assert_eq!(
        redact("provider rejected the key (HTTP 401)", &[key]),
        "provider rejected the key (HTTP 401)"
    );
    assert_eq!(redact("nothing", &[""]), "nothing");
}

#[test]
fn admin_answers() {
    let created = reply(
        200,
        json!({"id": "svc_acct_1", "api_key": {"value": "sk-svcacct-xyz", "id": "key_1"}}),
    );
    let k = openai::interpret_create(Ok(created)).unwrap();
    assert_eq!(k.provider_key_id, "key_1");
    assert_eq!(k.value.expose(), "sk-svcacct-xyz");
    assert!(!format!("{k:?}").contains("sk-svcacct-xyz"));
    let keyless = reply(200, json!({"id": "svc_acct_1", "api_key": null}));
    let e = openai::interpret_create(Ok(keyless)).unwrap_err();
    assert!(
        matches!(&e, ProviderError::Protocol(m) if m.contains("svc_acct_1")),
        "{e}"
    );
    let denied = reply(
        401,
        openai_err("invalid_request_error", Some("invalid_api_key")),
    );
    let e = openai::interpret_create(Ok(denied)).unwrap_err();
    assert!(
        matches!(e, ProviderError::Rejected { status: 401, .. }),
        "{e}"
    );
    let e = openai::interpret_create(Ok(raw(503, ""))).unwrap_err();
    assert!(
        matches!(
            e,
            ProviderError::Unavailable {
                status: Some(503),
                ..
            }
        ) && e.is_transient()
    );
    let e = openai::interpret_create(Err(Failure::Timeout(Duration::from_secs(2)))).unwrap_err();
    assert!(matches!(e, ProviderError::Unavailable { status: None, .. }));

    // 404 counts as already revoked only when the provider's API said it.
    let gone = reply(404, openai_err("invalid_request_error", None));
    assert!(openai::interpret_revoke(Ok(gone)).is_ok());
    let e = openai::interpret_revoke(Ok(raw(404, "<html>Not Found</html>"))).unwrap_err();
    assert!(
        matches!(e, ProviderError::Rejected { status: 404, .. }),
        "{e}"
    );
    let kept = reply(200, json!({"id": "key_1", "deleted": false}));
    assert!(matches!(
        openai::interpret_revoke(Ok(kept)),
        Err(ProviderError::Protocol(_))
    ));
    assert!(openrouter::interpret_revoke(Ok(reply(200, json!({"deleted": true})))).is_ok());
    let or_gone = reply(
        404,
        json!({"error": {"code": 404, "message": "Key not found"}}),
    );
    assert!(openrouter::interpret_revoke(Ok(or_gone)).is_ok());
    let created = reply(
        201,
        json!({"data": {"hash": "abc123"}, "key": "sk-or-v1-1"}),
    );
    assert_eq!(
        openrouter::interpret_create(Ok(created))
            .unwrap()
            .provider_key_id,
        "abc123"
    );
    let still = reply(200, json!({"id": "apikey_1", "status": "active"}));
    assert!(matches!(
        anthropic::interpret_revoke(Ok(still)),
        Err(ProviderError::Protocol(_))
    ));
    assert!(anthropic::interpret_revoke(Ok(reply(200, json!({"status": "inactive"})))).is_ok());
}

#[test]
fn retry_decisions() {
    let ok = |s: u16| -> Result<Reply, Failure> { Ok(raw(s, "")) };
    // A create is retried only where nothing can have been created.
    assert!(classify::create_may_retry(&ok(429)));
    assert!(classify::create_may_retry(&ok(529)));
    // A 503 may come after the key was made: a retry would make a second one.
    assert!(!classify::create_may_retry(&ok(503)));
    assert!(!classify::create_may_retry(&ok(500)));
    assert!(!classify::create_may_retry(&ok(401)));
    assert!(!classify::create_may_retry(&Err(Failure::Timeout(
        Duration::from_secs(1)
    ))));
    assert!(classify::create_may_retry(&Err(Failure::Connect)));
    assert!(classify::idempotent_may_retry(&ok(500)));
    assert!(classify::idempotent_may_retry(&Err(Failure::Timeout(
        Duration::from_secs(1)
    ))));
    assert!(!classify::idempotent_may_retry(&ok(404)));
}

#[test]
fn backoff_is_bounded_and_honours_hints() {
    for attempt in 1..=3 {
        for _ in 0..50 {
            let d = backoff(attempt, None);
            assert!(d >= BACKOFF_MIN && d <= BACKOFF_MAX, "{d:?}");
        }
    }
    assert_eq!(backoff(1, Some(Duration::from_secs(30))), BACKOFF_MAX);
    assert!(backoff(1, Some(Duration::from_millis(900))) >= Duration::from_millis(900));
    let mut r = raw(429, "");
    r.headers
        .insert("retry-after", HeaderValue::from_static("2"));
    assert_eq!(retry_after(&r), Some(Duration::from_secs(2)));
    r.headers
        .insert("retry-after-ms", HeaderValue::from_static("250"));
    assert_eq!(retry_after(&r), Some(Duration::from_millis(250)));
    let client = reqwest::Client::new();
    let http = HttpClient::new(&client, Duration::from_secs(10));
    assert_eq!(
        http.budget(),
        Duration::from_secs(10),
        "one timeout for the whole call"
    );
}
