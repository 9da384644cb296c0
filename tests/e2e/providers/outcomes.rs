//! Key-test outcomes for all six provider types and how they gate `rotate/`, `test/` and
//! `promote/`: passed, bad_key, provider_unavailable, and unfunded keys.

use serde_json::json;

use super::{
    assert_no_leaks, configure_provider, create_key, creds, provider_body, read_key, rotate,
    version,
};
use crate::support::checks::{data, expect_error, history, secret, write_ok};
use crate::support::fake_provider::{FakeProvider, Mode};
use crate::support::Bao;

/// The path the engine probes for a key test of `kind` (to count hits at the fake).
fn probe_path(kind: &str) -> &'static str {
    match kind {
        "gemini" => "/v1beta/models",
        "azure_openai" => "/openai/models",
        "openrouter" => "/api/v1/key",
        _ => "/v1/models",
    }
}

/// The HTTP status the provider answers a key it does not know with (Gemini: 400
/// `API_KEY_INVALID`, not 401).
fn bad_key_status(kind: &str) -> u64 {
    if kind == "gemini" {
        400
    } else {
        401
    }
}

// ---------------------------------------------------------------------------------------------
// 1 + 3. Every provider type: passed / bad_key / provider_unavailable, and test/ on a pending
// ---------------------------------------------------------------------------------------------

/// For one provider type against the fake:
/// - `rotate/` with a key the provider knows: 200, test `passed` with the provider's 200, creds
///   returns it as version 2, version 1 `previous`;
/// - `rotate/` with a key it does not know: 400 naming `bad_key`; the attempt is a `failed`
///   version, current and creds unchanged;
/// - `stage/` + `test/` of an unknown key: `bad_key` with the provider's status (401, Gemini
///   400) recorded on the pending version; `promote/` refused (400), current unchanged;
///   `rollback/` discards it;
/// - the provider rate limiting (429) or failing (500): `rotate/` is 503 naming
///   `provider_unavailable`, the provider was asked, and the versions map, current version,
///   pending version and creds are exactly as before; the history gains one `failed` event
///   with outcome `provider_unavailable`, and `last_error` says so.
async fn rotation_outcomes(kind: &str) {
    let (bao, fake) = tokio::join!(Bao::start(), FakeProvider::start());
    let client = bao.client();
    let what = |s: &str| format!("{kind}: {s}");
    let mut secrets = Vec::new();

    configure_provider(&client, "p", provider_body(kind, &fake, None)).await;
    let v1 = secret("v1");
    fake.add_key(&v1);
    create_key(&client, "k", json!({ "value": v1, "provider": "p" })).await;
    secrets.push(v1.clone());

    // A key the provider accepts.
    let good = secret("good");
    fake.add_key(&good);
    secrets.push(good.clone());
    let probes = fake.hits(probe_path(kind));
    let rotated = data(
        &rotate(&client, "k", json!({ "value": good })).await,
        &what("rotate/ with a good key"),
    );
    assert_eq!(rotated["test"]["outcome"], "passed", "{kind}: {rotated:#}");
    assert_eq!(rotated["test"]["status_code"], 200, "{kind}: {rotated:#}");
    assert!(
        fake.hits(probe_path(kind)) > probes,
        "{kind}: the key test did not reach {}",
        probe_path(kind)
    );
    let c = creds(&client, "k").await;
    assert_eq!(c["api_key"], good.as_str(), "{kind}");
    assert_eq!(c["version"], 2, "{kind}");
    assert_eq!(c["provider"], "p", "{kind}");
    let key = read_key(&client, "k").await;
    assert_eq!(key["current_version"], 2, "{kind}");
    assert_eq!(version(&key, 1)["state"], "previous", "{kind}");
    assert_eq!(version(&key, 2)["last_test"]["outcome"], "passed", "{kind}");

    // A key the provider rejects.
    let bad = secret("bad");
    secrets.push(bad.clone());
    let reply = rotate(&client, "k", json!({ "value": bad })).await;
    expect_error(&reply, 400, &["bad_key"], &what("rotate/ with a bad key"));
    let c = creds(&client, "k").await;
    assert_eq!(c["api_key"], good.as_str(), "{kind}: creds after bad_key");
    assert_eq!(c["version"], 2, "{kind}");
    let key = read_key(&client, "k").await;
    assert_eq!(key["current_version"], 2, "{kind}: after bad_key");
    assert!(key["pending_version"].is_null(), "{kind}: {key:#}");
    assert_eq!(version(&key, 3)["state"], "failed", "{kind}: {key:#}");
    assert_eq!(
        version(&key, 3)["last_test"]["outcome"],
        "bad_key",
        "{kind}"
    );

    // A hostile provider that echoes the presented key in every error field: still bad_key,
    // and the key appears in no reply, history detail or log (checked at the end).
    let echoed = secret("echoed");
    secrets.push(echoed.clone());
    fake.set_mode(Mode::EchoKey);
    let reply = rotate(&client, "k", json!({ "value": echoed })).await;
    fake.set_mode(Mode::Normal);
    expect_error(
        &reply,
        400,
        &["bad_key"],
        &what("rotate/ against an echoing provider"),
    );
    assert!(
        !reply.text.contains(&echoed),
        "{kind}: the error echoes the key"
    );
    let key = read_key(&client, "k").await;
    assert_eq!(key["current_version"], 2, "{kind}");
    assert_eq!(
        version(&key, 4)["last_test"]["outcome"],
        "bad_key",
        "{kind}"
    );
    let shown = client.read("ai-keys/history/k").await.text;
    assert!(
        !shown.contains(&echoed),
        "{kind}: the history echoes the key"
    );
    assert!(!key.to_string().contains(&echoed), "{kind}");

    // test/ records the outcome and the provider's status on the pending version.
    let bad2 = secret("bad2");
    secrets.push(bad2.clone());
    let staged = write_ok(&client, "ai-keys/stage/k", json!({ "value": bad2 })).await;
    let pending = staged["version"]
        .as_u64()
        .unwrap_or_else(|| panic!("{kind}: stage/ returns version: {staged:#}"));
    let tested = write_ok(&client, "ai-keys/test/k", json!({})).await;
    assert_eq!(tested["version"], pending, "{kind}: {tested:#}");
    assert_eq!(tested["outcome"], "bad_key", "{kind}: {tested:#}");
    assert_eq!(
        tested["status_code"],
        bad_key_status(kind),
        "{kind}: {tested:#}"
    );
    let detail = tested["detail"].as_str().unwrap_or_default();
    assert!(
        !detail.is_empty() && !detail.contains(&bad2),
        "{kind}: {tested:#}"
    );
    let key = read_key(&client, "k").await;
    assert_eq!(key["pending_version"], pending, "{kind}");
    let last_test = &version(&key, pending)["last_test"];
    assert_eq!(version(&key, pending)["state"], "pending", "{kind}");
    assert_eq!(last_test["outcome"], "bad_key", "{kind}: {key:#}");
    assert_eq!(last_test["status_code"], bad_key_status(kind), "{kind}");
    let reply = client.write("ai-keys/promote/k", json!({})).await;
    expect_error(
        &reply,
        400,
        &["force"],
        &what("promote/ of a bad_key version"),
    );
    let key = read_key(&client, "k").await;
    assert_eq!(key["current_version"], 2, "{kind}: after a refused promote");
    assert_eq!(creds(&client, "k").await["api_key"], good.as_str());
    write_ok(&client, "ai-keys/rollback/k", json!({})).await;
    let key = read_key(&client, "k").await;
    assert!(key["pending_version"].is_null(), "{kind}: {key:#}");
    assert_eq!(version(&key, pending)["state"], "failed", "{kind}");

    // The provider says nothing about the key: nothing changes but the history.
    for mode in [Mode::RateLimited429, Mode::ServerError500] {
        let label = format!("{kind} {mode:?}");
        let before = read_key(&client, "k").await;
        let events_before = history(&client, "k").await.len();
        let fresh = secret("fresh");
        fake.add_key(&fresh);
        secrets.push(fresh.clone());
        fake.set_mode(mode);
        let probes = fake.hits(probe_path(kind));
        let reply = rotate(&client, "k", json!({ "value": fresh })).await;
        fake.set_mode(Mode::Normal);
        expect_error(&reply, 503, &["provider_unavailable"], &label);
        assert!(
            fake.hits(probe_path(kind)) > probes,
            "{label}: the provider was not asked"
        );
        let after = read_key(&client, "k").await;
        assert_eq!(
            after["versions"], before["versions"],
            "{label}: the versions changed"
        );
        assert_eq!(after["current_version"], 2, "{label}");
        assert!(after["pending_version"].is_null(), "{label}: {after:#}");
        assert!(
            after["last_error"]
                .as_str()
                .is_some_and(|e| e.contains("provider_unavailable")),
            "{label}: last_error: {after:#}"
        );
        let c = creds(&client, "k").await;
        assert_eq!(c["api_key"], good.as_str(), "{label}");
        assert_eq!(c["version"], 2, "{label}");
        let events = history(&client, "k").await;
        assert_eq!(
            events.len(),
            events_before + 1,
            "{label}: one event: {events:#?}"
        );
        assert_eq!(events[0]["event"], "failed", "{label}: {:#}", events[0]);
        assert_eq!(events[0]["outcome"], "provider_unavailable", "{label}");
        assert!(events[0]["actor"].is_object(), "{label}: {:#}", events[0]);
    }

    // Once the provider is back, the same rotation goes through.
    let last = secret("last");
    fake.add_key(&last);
    secrets.push(last.clone());
    let rotated = data(
        &rotate(&client, "k", json!({ "value": last })).await,
        &what("rotate/ after the outage"),
    );
    assert_eq!(rotated["test"]["outcome"], "passed");
    assert_eq!(creds(&client, "k").await["api_key"], last.as_str());

    assert_no_leaks(&bao, &[&fake], &secrets).await;
}

#[tokio::test]
async fn openai_rotation_outcomes() {
    rotation_outcomes("openai").await;
}

#[tokio::test]
async fn anthropic_rotation_outcomes() {
    rotation_outcomes("anthropic").await;
}

#[tokio::test]
async fn gemini_rotation_outcomes() {
    rotation_outcomes("gemini").await;
}

#[tokio::test]
async fn azure_openai_rotation_outcomes() {
    rotation_outcomes("azure_openai").await;
}

#[tokio::test]
async fn openrouter_rotation_outcomes() {
    rotation_outcomes("openrouter").await;
}

#[tokio::test]
async fn openai_compatible_rotation_outcomes() {
    rotation_outcomes("openai_compatible").await;
}

// ---------------------------------------------------------------------------------------------
// Unfunded keys
// ---------------------------------------------------------------------------------------------

/// A valid key without money is `unfunded`, a 400, and the current version stays: OpenAI 429
/// `insufficient_quota`, Anthropic 402 `billing_error`, OpenRouter `limit_remaining` 0 (a 200).
#[tokio::test]
async fn unfunded_keys_are_refused_and_current_stays() {
    let (bao, fake) = tokio::join!(Bao::start(), FakeProvider::start());
    let client = bao.client();
    let mut secrets = Vec::new();
    let cases = [
        ("openai", Some(Mode::QuotaExhausted429), 429),
        ("anthropic", Some(Mode::Billing402), 402),
        ("openrouter", None, 200),
    ];
    for (kind, mode, status) in cases {
        configure_provider(&client, kind, provider_body(kind, &fake, None)).await;
        let v1 = secret("v1");
        fake.add_key(&v1);
        secrets.push(v1.clone());
        create_key(&client, kind, json!({ "value": v1, "provider": kind })).await;

        let broke = secret("broke");
        fake.add_key(&broke);
        secrets.push(broke.clone());
        match mode {
            Some(m) => fake.set_mode(m),
            None => fake.set_limit_remaining(&broke, Some(0.0)),
        }
        let reply = rotate(&client, kind, json!({ "value": broke })).await;
        fake.set_mode(Mode::Normal);
        expect_error(&reply, 400, &["unfunded"], &format!("{kind}: unfunded"));

        let key = read_key(&client, kind).await;
        assert_eq!(key["current_version"], 1, "{kind}: {key:#}");
        assert!(key["pending_version"].is_null(), "{kind}: {key:#}");
        assert_eq!(version(&key, 1)["state"], "current", "{kind}");
        assert_eq!(version(&key, 2)["state"], "failed", "{kind}: {key:#}");
        let last_test = &version(&key, 2)["last_test"];
        assert_eq!(last_test["outcome"], "unfunded", "{kind}: {key:#}");
        assert_eq!(last_test["status_code"], status, "{kind}: {key:#}");
        let c = creds(&client, kind).await;
        assert_eq!(c["api_key"], v1.as_str(), "{kind}");
        assert_eq!(c["version"], 1, "{kind}");
        assert!(c["previous_api_key"].is_null(), "{kind}: {c:#}");
    }
    assert_no_leaks(&bao, &[&fake], &secrets).await;
}
