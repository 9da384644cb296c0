//! Unit tests of the pure parts: key-test answer classification here; admin answers, tokens,
//! redaction and the retry policy in `tests/policy.rs`.

mod policy;

use std::time::Duration;

use reqwest::header::HeaderMap;
use serde_json::json;

use super::classify::Verdict;
use super::http::{Failure, Reply};
use super::{anthropic, azure_openai, gemini, openai, openai_compatible, openrouter};
use crate::key_test::TestOutcome::{self, BadKey, Passed, ProviderUnavailable, Unfunded};

fn reply(status: u16, body: serde_json::Value) -> Reply {
    raw(status, &body.to_string())
}

fn raw(status: u16, body: &str) -> Reply {
    Reply {
        status,
        headers: HeaderMap::new(),
        body: body.as_bytes().to_vec(),
    }
}

fn check(v: &Verdict, outcome: TestOutcome, transient: bool) {
    assert_eq!(v.outcome, outcome, "{v:?}");
    assert_eq!(v.transient, transient, "{v:?}");
}

fn openai_err(ty: &str, code: Option<&str>) -> serde_json::Value {
    json!({"error": {"message": "m", "type": ty, "param": null, "code": code}})
}

#[test]
fn openai_classification() {
    let v = openai::classify_test(&reply(
        401,
        openai_err("invalid_request_error", Some("invalid_api_key")),
    ));
    check(&v, BadKey, false);
    assert_eq!(v.status, Some(401));
    assert!(v.detail.contains("invalid_api_key"), "{}", v.detail);
    check(
        &openai::classify_test(&reply(403, json!({}))),
        BadKey,
        false,
    );
    let quota = openai::classify_test(&reply(429, openai_err("insufficient_quota", None)));
    check(&quota, Unfunded, false);
    for code in openai::QUOTA_CODES {
        let v = openai::classify_test(&reply(429, openai_err("requests", Some(code))));
        check(&v, Unfunded, false);
    }
    let rate = openai::classify_test(&reply(
        429,
        openai_err("requests", Some("rate_limit_exceeded")),
    ));
    check(&rate, ProviderUnavailable, true);
    check(
        &openai::classify_test(&raw(429, "")),
        ProviderUnavailable,
        true,
    );
    check(
        &openai::classify_test(&reply(500, openai_err("server_error", None))),
        ProviderUnavailable,
        true,
    );
    check(
        &openai::classify_test(&raw(503, "")),
        ProviderUnavailable,
        true,
    );
    check(
        &openai::classify_test(&reply(200, json!({"object": "list", "data": []}))),
        Passed,
        false,
    );
    // A captive portal's HTML is not a pass; a wrong path is not a bad key.
    let html = openai::classify_test(&raw(200, "<html>welcome</html>"));
    check(&html, ProviderUnavailable, false);
    let nf = openai::classify_test(&raw(404, "Not Found"));
    check(&nf, ProviderUnavailable, false);
    assert_eq!(
        nf.detail,
        "unexpected status 404 from provider (check base_url)"
    );
    check(
        &openai::classify_test(&raw(301, "")),
        ProviderUnavailable,
        false,
    );
    check(
        &openai::classify_test(&raw(400, "{}")),
        ProviderUnavailable,
        false,
    );
}

#[test]
fn anthropic_classification() {
    let body = |ty: &str| json!({"type": "error", "error": {"type": ty, "message": "x"}, "request_id": "req_1"});
    let v = anthropic::classify_test(&reply(401, body("authentication_error")));
    check(&v, BadKey, false);
    assert!(v.detail.contains("authentication_error"));
    check(
        &anthropic::classify_test(&reply(403, body("permission_error"))),
        BadKey,
        false,
    );
    let billing = anthropic::classify_test(&reply(402, body("billing_error")));
    check(&billing, Unfunded, false);
    assert!(billing.detail.contains("billing_error"));
    check(
        &anthropic::classify_test(&reply(429, body("rate_limit_error"))),
        ProviderUnavailable,
        true,
    );
    check(
        &anthropic::classify_test(&reply(500, body("api_error"))),
        ProviderUnavailable,
        true,
    );
    let overloaded = anthropic::classify_test(&reply(529, body("overloaded_error")));
    check(&overloaded, ProviderUnavailable, true);
    assert!(
        overloaded.detail.contains("overloaded"),
        "{}",
        overloaded.detail
    );
    check(
        &anthropic::classify_test(&reply(200, json!({"data": []}))),
        Passed,
        false,
    );
    check(
        &anthropic::classify_test(&reply(404, body("not_found_error"))),
        ProviderUnavailable,
        false,
    );
}

#[test]
fn gemini_classification() {
    let invalid = json!({"error": {"code": 400, "message": "API key not valid.", "status": "INVALID_ARGUMENT",
        "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}]}});
    let v = gemini::classify_test(&reply(400, invalid));
    check(&v, BadKey, false);
    assert_eq!(v.status, Some(400));
    assert!(v.detail.contains("API_KEY_INVALID"));
    // Any other 400 is a request problem, not a key verdict.
    let other = json!({"error": {"code": 400, "message": "bad", "status": "INVALID_ARGUMENT"}});
    check(
        &gemini::classify_test(&reply(400, other)),
        ProviderUnavailable,
        false,
    );
    let denied = json!({"error": {"code": 403, "message": "m", "status": "PERMISSION_DENIED"}});
    let v = gemini::classify_test(&reply(403, denied));
    check(&v, BadKey, false);
    assert!(v.detail.contains("PERMISSION_DENIED"));
    let exhausted = json!({"error": {"code": 429, "message": "m", "status": "RESOURCE_EXHAUSTED"}});
    check(
        &gemini::classify_test(&reply(429, exhausted)),
        ProviderUnavailable,
        true,
    );
    check(
        &gemini::classify_test(&raw(503, "")),
        ProviderUnavailable,
        true,
    );
    check(
        &gemini::classify_test(&reply(200, json!({"models": []}))),
        Passed,
        false,
    );
}

#[test]
fn azure_and_compatible_classification() {
    let denied = json!({"error": {"code": "401", "message": "Access denied due to invalid subscription key"}});
    let v = azure_openai::classify_test(&reply(401, denied));
    check(&v, BadKey, false);
    assert_eq!(v.detail, "provider rejected the key (HTTP 401)");
    let limited = json!({"error": {"code": "429", "message": "exceeded call rate limit"}});
    check(
        &azure_openai::classify_test(&reply(429, limited)),
        ProviderUnavailable,
        true,
    );
    // The operator's verify_path may answer anything on success.
    check(
        &openai_compatible::classify_test(&raw(200, "OK")),
        Passed,
        false,
    );
    check(
        &openai_compatible::classify_test(&raw(401, "")),
        BadKey,
        false,
    );
    let quota = openai_err("insufficient_quota", Some("insufficient_quota"));
    check(
        &openai_compatible::classify_test(&reply(429, quota)),
        Unfunded,
        false,
    );
}

#[test]
fn openrouter_classification() {
    let key = |remaining: serde_json::Value| json!({"data": {"label": "sk-or-v1-abc...", "limit": 10, "usage": 10, "limit_remaining": remaining}});
    check(
        &openrouter::classify_test(&reply(200, key(json!(null)))),
        Passed,
        false,
    );
    check(
        &openrouter::classify_test(&reply(200, key(json!(2.5)))),
        Passed,
        false,
    );
    let used_up = openrouter::classify_test(&reply(200, key(json!(0))));
    check(&used_up, Unfunded, false);
    assert_eq!(used_up.status, Some(200));
    check(
        &openrouter::classify_test(&reply(200, key(json!(-0.01)))),
        Unfunded,
        false,
    );
    check(
        &openrouter::classify_test(&reply(200, json!({"models": []}))),
        ProviderUnavailable,
        false,
    );
    check(
        &openrouter::classify_test(&raw(200, "<html>")),
        ProviderUnavailable,
        false,
    );
    let err = |code: u16| json!({"error": {"code": code, "message": "m"}});
    check(
        &openrouter::classify_test(&reply(401, err(401))),
        BadKey,
        false,
    );
    check(
        &openrouter::classify_test(&reply(402, err(402))),
        Unfunded,
        false,
    );
    check(
        &openrouter::classify_test(&reply(429, err(429))),
        ProviderUnavailable,
        true,
    );
    check(
        &openrouter::classify_test(&reply(502, err(502))),
        ProviderUnavailable,
        true,
    );
}

#[test]
fn failures_are_transient_and_say_so() {
    let v = Verdict::from_failure(&Failure::Timeout(Duration::from_secs(3)));
    check(&v, ProviderUnavailable, true);
    assert_eq!(v.status, None);
    assert_eq!(v.detail, "provider did not answer within 3s");
    check(
        &Verdict::from_failure(&Failure::Connect),
        ProviderUnavailable,
        true,
    );
}
