//! Provider features against a real OpenBao 2.7.2 and a local fake AI provider (the plugin
//! reaches it only through each provider's `base_url`): key tests for all six provider types and
//! how their outcomes gate `rotate/`, `test/` and `promote/`; provider reads that never show the
//! admin key; keys the engine creates at the provider and revokes when their grace ends; Anthropic
//! deactivation; automatic rotation; recovery of a key created at the provider by a request whose
//! plugin process was killed; and secrets that never reach the server or audit log.
//!
//! Contract: docs/api.md, docs/providers.md. The host's periodic tick (grace expiry at the
//! provider, WAL recovery, automatic rotation) comes every 60 s and cannot be triggered, so the
//! few tests that need it poll with [`TICK_DEADLINE`] and run in parallel.

use std::future::Future;
use std::time::{Duration, Instant};

use chrono::{SecondsFormat, TimeDelta, Utc};
use serde_json::{json, Value};

use crate::support::checks::{data, expect_error, read_ok, secret, write_ok};
use crate::support::fake_provider::{FakeProvider, Mode};
use crate::support::{process, Bao, Client, Reply};

/// Bound of a wait for the host's periodic tick (every 60 s, first one 60 s after unseal).
const TICK_DEADLINE: Duration = Duration::from_secs(150);
/// Bound of every other wait.
const SHORT_DEADLINE: Duration = Duration::from_secs(15);
const POLL_INTERVAL: Duration = Duration::from_millis(100);
/// OpenAI project every `openai` provider here is configured with.
const PROJECT: &str = "proj_test";

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// The body of `providers/<p>` for `kind` pointing at `fake`, with a 2 s timeout; `openai` also
/// gets `project_id`. `admin` is the admin (management) key, if any.
fn provider_body(kind: &str, fake: &FakeProvider, admin: Option<&str>) -> Value {
    let mut body = json!({ "type": kind, "base_url": fake.base_url(), "timeout": "2s" });
    if kind == "openai" {
        body["project_id"] = json!(PROJECT);
    }
    if let Some(admin) = admin {
        body["admin_key"] = json!(admin);
    }
    body
}

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

async fn configure_provider(client: &Client, name: &str, body: Value) -> Value {
    write_ok(client, &format!("ai-keys/providers/{name}"), body).await
}

async fn create_key(client: &Client, name: &str, body: Value) -> Value {
    write_ok(client, &format!("ai-keys/keys/{name}"), body).await
}

async fn read_key(client: &Client, name: &str) -> Value {
    read_ok(client, &format!("ai-keys/keys/{name}")).await
}

async fn creds(client: &Client, name: &str) -> Value {
    read_ok(client, &format!("ai-keys/creds/{name}")).await
}

async fn rotate(client: &Client, name: &str, body: Value) -> Reply {
    client.write(&format!("ai-keys/rotate/{name}"), body).await
}

/// The events of `history/<name>`, newest first.
async fn history(client: &Client, name: &str) -> Vec<Value> {
    let data = read_ok(client, &format!("ai-keys/history/{name}")).await;
    data["events"]
        .as_array()
        .unwrap_or_else(|| panic!("history/{name} has no events array: {data}"))
        .clone()
}

/// `versions[n]` of a `keys/` read.
#[track_caller]
fn version(key: &Value, n: u64) -> &Value {
    let v = &key["versions"][n.to_string()];
    assert!(v.is_object(), "no version {n} in {key:#}");
    v
}

/// The `(id, value)` of keys created at the fake since `before` (a `created_keys()` snapshot).
fn new_created(fake: &FakeProvider, before: &[(String, String, bool)]) -> Vec<(String, String)> {
    fake.created_keys()
        .into_iter()
        .filter(|(id, _, _)| !before.iter().any(|(b, _, _)| b == id))
        .map(|(id, value, _)| (id, value))
        .collect()
}

/// Polls `f` every [`POLL_INTERVAL`] until it returns true; panics naming `what`, with the
/// server log's tail, after `limit`. Returns how long it took.
async fn wait_until<F, Fut>(bao: &Bao, what: &str, limit: Duration, mut f: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if f().await {
            return start.elapsed();
        }
        if start.elapsed() >= limit {
            panic!(
                "timed out after {limit:?} waiting for {what}\n--- server.log (tail) ---\n{}",
                bao.server_log_tail(60)
            );
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// No secret (key values, admin keys, values the fake created) in the server log (which holds
/// the plugin's stderr), in clear in the audit log, or in a URI the fake received. Also checks
/// that the audit device saw at least one of them, hashed: the check is not vacuous.
async fn assert_no_leaks(bao: &Bao, fake: &[&FakeProvider], secrets: &[String]) {
    let mut all: Vec<String> = secrets.to_vec();
    for f in fake {
        all.extend(f.created_keys().into_iter().map(|(_, value, _)| value));
    }
    assert!(!all.is_empty());
    let server = bao.server_log();
    let audit = bao.audit_log();
    assert!(!audit.is_empty(), "the audit log is empty");
    for s in &all {
        assert!(
            !server.contains(s.as_str()),
            "a secret ({}...) is in server.log:\n{}",
            &s[..12.min(s.len())],
            server
                .lines()
                .filter(|l| l.contains(s.as_str()))
                .collect::<Vec<_>>()
                .join("\n")
        );
        assert!(
            !audit.contains(s.as_str()),
            "a secret ({}...) is in clear in audit.log",
            &s[..12.min(s.len())]
        );
        for f in fake {
            assert!(
                !f.uris().iter().any(|u| u.contains(s.as_str())),
                "a secret ({}...) is in a URI the provider received",
                &s[..12.min(s.len())]
            );
        }
    }
    let hash = bao.audit_hash(&secrets[0]).await;
    assert!(
        audit.contains(&hash),
        "the audit log should hold the first secret hashed ({hash})"
    );
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
// 2. Unfunded keys
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

// ---------------------------------------------------------------------------------------------
// 4. Provider reads, deletion, validation
// ---------------------------------------------------------------------------------------------

/// `providers/<p>` never shows the admin key (anywhere in the JSON), shows `admin_key_set` and
/// the capabilities the configured credentials give; the audit log holds the admin keys only
/// hashed; a provider a key uses cannot be deleted (400 naming the key); a `base_url` that is not
/// http(s) is a 400 and stores nothing.
#[tokio::test]
async fn provider_reads_hide_admin_keys_and_show_capabilities() {
    let (bao, fake) = tokio::join!(Bao::start(), FakeProvider::start());
    let client = bao.client();
    let admin = |tag: &str| secret(&format!("admin-{tag}"));
    // (name, type, admin key, expected capabilities test/create/revoke)
    let cases: Vec<(&str, &str, Option<String>, [bool; 3])> = vec![
        ("oa", "openai", Some(admin("oa")), [true, true, true]),
        ("an", "anthropic", Some(admin("an")), [true, false, true]),
        ("ge", "gemini", None, [true, false, false]),
        ("az", "azure_openai", None, [true, false, false]),
        ("or", "openrouter", Some(admin("or")), [true, true, true]),
        ("oc", "openai_compatible", None, [true, false, false]),
        ("or-plain", "openrouter", None, [true, false, false]),
        ("an-plain", "anthropic", None, [true, false, false]),
    ];
    let admin_keys: Vec<String> = cases.iter().filter_map(|c| c.2.clone()).collect();
    for (name, kind, admin, caps) in &cases {
        let written = client
            .write(
                &format!("ai-keys/providers/{name}"),
                provider_body(kind, &fake, admin.as_deref()),
            )
            .await;
        let shown = data(&written, &format!("configuring {name}"));
        let read = client.read(&format!("ai-keys/providers/{name}")).await;
        let got = data(&read, &format!("reading {name}"));
        for (text, what) in [(&written.text, "write reply"), (&read.text, "read reply")] {
            for a in &admin_keys {
                assert!(
                    !text.contains(a.as_str()),
                    "{name}: {what} shows an admin key"
                );
            }
        }
        assert_eq!(got, shown, "{name}: the write reply is the read");
        assert_eq!(got["type"], *kind, "{name}: {got:#}");
        assert_eq!(got["base_url"], fake.base_url(), "{name}");
        assert_eq!(got["timeout"], 2, "{name}");
        assert_eq!(got["admin_key_set"], admin.is_some(), "{name}: {got:#}");
        assert!(got.get("admin_key").is_none(), "{name}: {got:#}");
        assert_eq!(
            got["capabilities"],
            json!({ "test": caps[0], "create": caps[1], "revoke": caps[2] }),
            "{name}: {got:#}"
        );
    }
    // OpenAI creates and revokes only with both admin_key and project_id.
    let mut no_project = provider_body("openai", &fake, Some(&admin_keys[0]));
    no_project.as_object_mut().unwrap().remove("project_id");
    let got = configure_provider(&client, "oa-noproject", no_project).await;
    assert_eq!(got["admin_key_set"], true);
    assert_eq!(
        got["capabilities"],
        json!({ "test": true, "create": false, "revoke": false }),
        "{got:#}"
    );
    let got = read_ok(&client, "ai-keys/providers/az").await;
    assert_eq!(got["api_version"], json!(null), "the default is not stored");

    // An update that does not mention admin_key keeps it.
    let got = configure_provider(&client, "oa", json!({ "timeout": "3s" })).await;
    assert_eq!(got["admin_key_set"], true, "{got:#}");
    assert_eq!(got["timeout"], 3);
    assert_eq!(got["capabilities"]["create"], true);

    // The list.
    let list = client.list("ai-keys/providers").await;
    let names = data(&list, "LIST providers")["keys"].clone();
    for (name, ..) in &cases {
        assert!(
            names.as_array().unwrap().iter().any(|n| n == name),
            "{name} missing from {names}"
        );
    }

    // A provider in use cannot be deleted.
    let v = secret("v1");
    create_key(
        &client,
        "uses-gemini",
        json!({ "value": v, "provider": "ge" }),
    )
    .await;
    let reply = client.delete("ai-keys/providers/ge").await;
    expect_error(&reply, 400, &["uses-gemini"], "deleting a provider in use");
    read_ok(&client, "ai-keys/providers/ge").await;
    let reply = client.delete("ai-keys/keys/uses-gemini").await;
    assert!(reply.is_success(), "deleting the key: {}", reply.text);
    let reply = client.delete("ai-keys/providers/ge").await;
    assert!(
        reply.is_success(),
        "deleting the unused provider: {}",
        reply.text
    );
    assert_eq!(
        client.read("ai-keys/providers/ge").await.status,
        404,
        "deleted"
    );

    // A base_url that is not http(s): 400, nothing stored or changed.
    let mut body = provider_body("openai", &fake, Some(&admin_keys[0]));
    body["base_url"] = json!("ftp://x");
    let reply = client.write("ai-keys/providers/bad-url", body).await;
    expect_error(&reply, 400, &["base_url"], "base_url ftp://x");
    assert_eq!(client.read("ai-keys/providers/bad-url").await.status, 404);
    let list = client.list("ai-keys/providers").await;
    assert!(
        !data(&list, "LIST providers")["keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n == "bad-url"),
        "{}",
        list.text
    );
    let reply = client
        .write("ai-keys/providers/oa", json!({ "base_url": "ftp://x" }))
        .await;
    expect_error(&reply, 400, &["base_url"], "updating base_url to ftp://x");
    let got = read_ok(&client, "ai-keys/providers/oa").await;
    assert_eq!(got["base_url"], fake.base_url(), "unchanged: {got:#}");

    // The admin keys reached the audit device, hashed only.
    assert_no_leaks(&bao, &[&fake], &admin_keys).await;
    let audit = bao.audit_log();
    for a in &admin_keys {
        let hash = bao.audit_hash(a).await;
        assert!(
            audit.contains(&hash),
            "the admin key's hash is not in audit.log"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 5 + 6. Grace ends on the periodic tick: created keys revoked, Anthropic keys deactivated
// ---------------------------------------------------------------------------------------------

/// One key whose provider creates keys (`openai`, `openrouter`): `rotate/` without a value has
/// the provider create a key and promotes it; a second such rotation with `grace_period=2s`
/// leaves the first created key `previous`. Returns `(first created id, second created id)`.
async fn rotate_twice_with_created_keys(
    client: &Client,
    fake: &FakeProvider,
    kind: &str,
    key_name: &str,
) -> (String, String) {
    let v0 = secret("v0");
    fake.add_key(&v0);
    create_key(client, key_name, json!({ "value": v0, "provider": kind })).await;

    let before = fake.created_keys();
    let rotated = data(
        &rotate(client, key_name, json!({})).await,
        &format!("{kind}: rotate/ without a value"),
    );
    assert_eq!(rotated["test"]["outcome"], "passed", "{kind}: {rotated:#}");
    let created = new_created(fake, &before);
    assert_eq!(created.len(), 1, "{kind}: one key created: {created:?}");
    let (c1, c1_value) = created[0].clone();
    assert!(fake.is_active(&c1), "{kind}");
    let c = creds(client, key_name).await;
    assert_eq!(c["api_key"], c1_value.as_str(), "{kind}: creds");
    assert_eq!(c["version"], 2, "{kind}");
    assert_eq!(c["previous_api_key"], v0.as_str(), "{kind}: {c:#}");
    let key = read_key(client, key_name).await;
    assert_eq!(key["current_version"], 2, "{kind}");
    assert_eq!(version(&key, 2)["provider_key_id"], c1.as_str(), "{kind}");
    assert_eq!(version(&key, 2)["engine_created"], true, "{kind}");
    assert_eq!(version(&key, 1)["state"], "previous", "{kind}: {key:#}");

    let before = fake.created_keys();
    let rotated = data(
        &rotate(client, key_name, json!({ "grace_period": "2s" })).await,
        &format!("{kind}: second rotate/ without a value"),
    );
    assert_eq!(rotated["test"]["outcome"], "passed", "{kind}: {rotated:#}");
    let created = new_created(fake, &before);
    assert_eq!(created.len(), 1, "{kind}: one more key: {created:?}");
    let (c2, c2_value) = created[0].clone();
    let c = creds(client, key_name).await;
    assert_eq!(c["api_key"], c2_value.as_str(), "{kind}");
    assert_eq!(c["previous_api_key"], c1_value.as_str(), "{kind}: {c:#}");
    let key = read_key(client, key_name).await;
    assert_eq!(key["current_version"], 3, "{kind}");
    assert_eq!(version(&key, 2)["state"], "previous", "{kind}: {key:#}");
    assert!(version(&key, 2)["grace_expires_time"].is_string(), "{kind}");
    // The version left over from the first rotation is revoked at once (it was not created by
    // the engine, so nothing is called at the provider for it).
    assert_eq!(version(&key, 1)["state"], "revoked", "{kind}: {key:#}");
    // Grace has not ended: the first created key still works at the provider.
    assert!(fake.is_active(&c1), "{kind}: revoked during its grace");
    (c1, c2)
}

/// Grace ending is acted on at the provider by the periodic tick, for three keys at once:
/// - OpenAI and OpenRouter (5): the engine creates a key (`rotate/` without a value), promotes
///   it; a second such rotation with `grace_period=2s` makes the first `previous`; after the
///   window and the next tick that key is deleted at the provider (inactive at the fake) and
///   `keys/` shows it `revoked` (history: `expired` by the scheduler); the current created key
///   stays active.
/// - Anthropic (6): a key imported with `provider_key_id` (made in the Console) is deactivated
///   (`inactive`) once a rotation's 2 s grace has ended and the tick has run.
#[tokio::test]
async fn tick_revokes_keys_at_the_provider_when_grace_ends() {
    let (bao, fake) = tokio::join!(Bao::start(), FakeProvider::start());
    let client = bao.client();
    let admins: Vec<String> = ["oa", "or", "an"]
        .iter()
        .map(|t| secret(&format!("admin-{t}")))
        .collect();
    for (kind, admin) in ["openai", "openrouter", "anthropic"].iter().zip(&admins) {
        fake.add_admin_key(admin);
        let got = configure_provider(&client, kind, provider_body(kind, &fake, Some(admin))).await;
        assert_eq!(got["capabilities"]["revoke"], true, "{got:#}");
    }

    let (oa1, oa2) = rotate_twice_with_created_keys(&client, &fake, "openai", "oa-key").await;
    let (or1, or2) = rotate_twice_with_created_keys(&client, &fake, "openrouter", "or-key").await;

    let (a1, a2) = (secret("ant-old"), secret("ant-new"));
    fake.add_anthropic_key("apikey_01old", &a1);
    fake.add_key(&a2);
    create_key(
        &client,
        "an-key",
        json!({ "value": a1, "provider": "anthropic", "provider_key_id": "apikey_01old" }),
    )
    .await;
    let rotated = data(
        &rotate(
            &client,
            "an-key",
            json!({ "value": a2, "grace_period": "2s" }),
        )
        .await,
        "anthropic: rotate/",
    );
    assert_eq!(rotated["test"]["outcome"], "passed");
    assert_eq!(
        fake.anthropic_key_status("apikey_01old").as_deref(),
        Some("active"),
        "deactivated during its grace"
    );
    let rotated_at = Instant::now();

    // Nothing but the tick acts now: no more writes, only reads of the fake.
    let f = &fake;
    let (oa1r, or1r) = (&oa1, &or1);
    wait_until(
        &bao,
        "the tick to revoke the expired keys at the provider",
        TICK_DEADLINE,
        || async move {
            !f.is_active(oa1r)
                && !f.is_active(or1r)
                && f.anthropic_key_status("apikey_01old").as_deref() == Some("inactive")
        },
    )
    .await;
    eprintln!(
        "grace-end revocations seen {:?} after the rotations",
        rotated_at.elapsed()
    );

    assert!(fake.is_active(&oa2), "the current OpenAI key was revoked");
    assert!(
        fake.is_active(&or2),
        "the current OpenRouter key was revoked"
    );
    assert!(fake.is_valid_key(&a2));
    assert!(!fake.is_valid_key(&a1), "the deactivated key still works");
    for (name, current) in [("oa-key", 3), ("or-key", 3), ("an-key", 2)] {
        let key = read_key(&client, name).await;
        let old = current - 1;
        assert_eq!(key["current_version"], current, "{name}: {key:#}");
        assert_eq!(version(&key, old)["state"], "revoked", "{name}: {key:#}");
        assert!(version(&key, old)["revoked_time"].is_string(), "{name}");
        let events = history(&client, name).await;
        assert!(
            events.iter().any(|e| e["event"] == "expired"
                && e["version"] == old
                && e["actor"] == "scheduler"),
            "{name}: no `expired` event by the scheduler: {events:#?}"
        );
        let c = creds(&client, name).await;
        assert!(c["previous_api_key"].is_null(), "{name}: {c:#}");
    }
    let mut secrets = admins.clone();
    secrets.extend([a1, a2]);
    assert_no_leaks(&bao, &[&fake], &secrets).await;
}

// ---------------------------------------------------------------------------------------------
// 7. Automatic rotation
// ---------------------------------------------------------------------------------------------

/// RFC 3339 time `ago` before now.
fn ago(ago: TimeDelta) -> String {
    (Utc::now() - ago).to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A key with `auto_rotate=true` that is due (created a day ago, `rotation_period` 1h, so it
/// stays at version 2 after one rotation) is rotated by the tick without any request: version
/// 2 is a key the engine created at the provider (active there), `promoted` by the scheduler,
/// and creds returns it.
#[tokio::test]
async fn tick_rotates_due_keys_automatically() {
    let (bao, fake) = tokio::join!(Bao::start(), FakeProvider::start());
    let client = bao.client();
    let admin = secret("admin");
    fake.add_admin_key(&admin);
    configure_provider(&client, "oa", provider_body("openai", &fake, Some(&admin))).await;
    let v1 = secret("v1");
    fake.add_key(&v1);
    let key = create_key(
        &client,
        "auto",
        json!({
            "value": v1, "provider": "oa", "auto_rotate": true, "rotation_period": "1h",
            "created_time": ago(TimeDelta::days(1)),
        }),
    )
    .await;
    assert_eq!(key["auto_rotate"], true, "{key:#}");
    let created_at = Instant::now();

    let c = &client;
    wait_until(
        &bao,
        "the tick to rotate the due key",
        TICK_DEADLINE,
        || async move { c.read("ai-keys/keys/auto").await.data()["current_version"] == 2 },
    )
    .await;
    eprintln!(
        "automatic rotation seen {:?} after the key was created",
        created_at.elapsed()
    );

    let key = read_key(&client, "auto").await;
    assert_eq!(key["current_version"], 2, "{key:#}");
    assert!(key["last_error"].is_null(), "{key:#}");
    assert_eq!(key["overdue"], false, "{key:#}");
    assert_eq!(version(&key, 1)["state"], "previous");
    let created = fake.created_keys();
    assert_eq!(created.len(), 1, "{created:?}");
    let (id, value, active) = created[0].clone();
    assert!(active, "the new key is active at the provider");
    assert_eq!(version(&key, 2)["provider_key_id"], id.as_str());
    assert_eq!(version(&key, 2)["engine_created"], true);
    assert_eq!(version(&key, 2)["last_test"]["outcome"], "passed");
    let c = creds(&client, "auto").await;
    assert_eq!(c["api_key"], value.as_str());
    assert_eq!(c["version"], 2);
    assert_eq!(c["previous_api_key"], v1.as_str());
    let events = history(&client, "auto").await;
    let promoted = events
        .iter()
        .find(|e| e["event"] == "promoted")
        .unwrap_or_else(|| panic!("no promoted event: {events:#?}"));
    assert_eq!(promoted["actor"], "scheduler", "{promoted:#}");
    assert_eq!(promoted["version"], 2, "{promoted:#}");
    for event in ["staged", "tested"] {
        assert!(
            events
                .iter()
                .any(|e| e["event"] == event && e["actor"] == "scheduler" && e["version"] == 2),
            "no {event} by the scheduler: {events:#?}"
        );
    }
    assert_no_leaks(&bao, &[&fake], &[v1, admin]).await;
}

/// An automatic rotation whose provider fails to create a key (admin API answering 500) is
/// recorded: `last_error` set, a `failed` event by the scheduler; the current version and creds
/// stay. (A key on a healthy provider is rotated in the same tick: the tick has run.)
#[tokio::test]
async fn tick_records_a_failed_automatic_rotation() {
    let (bao, healthy, broken) =
        tokio::join!(Bao::start(), FakeProvider::start(), FakeProvider::start());
    let client = bao.client();
    let admin = secret("admin");
    for (name, fake) in [("ok", &healthy), ("down", &broken)] {
        fake.add_admin_key(&admin);
        configure_provider(&client, name, provider_body("openai", fake, Some(&admin))).await;
    }
    broken.set_admin_mode(Mode::ServerError500);
    let (v_ok, v_down) = (secret("ok"), secret("down"));
    healthy.add_key(&v_ok);
    broken.add_key(&v_down);
    for (name, provider, value) in [("a-ok", "ok", &v_ok), ("b-down", "down", &v_down)] {
        create_key(
            &client,
            name,
            json!({
                "value": value, "provider": provider, "auto_rotate": true,
                "rotation_period": "1h", "created_time": ago(TimeDelta::days(1)),
            }),
        )
        .await;
    }
    let c = &client;
    wait_until(
        &bao,
        "the tick (a-ok rotated)",
        TICK_DEADLINE,
        || async move { c.read("ai-keys/keys/a-ok").await.data()["current_version"] == 2 },
    )
    .await;
    // Keys are ticked in name order: b-down's attempt follows a-ok's.
    let b = &broken;
    wait_until(
        &bao,
        "the attempt to create a key at the broken provider",
        SHORT_DEADLINE,
        || async move { b.hits("/v1/organization/projects/") > 0 },
    )
    .await;
    let c = &client;
    wait_until(
        &bao,
        "last_error of the failed automatic rotation",
        SHORT_DEADLINE,
        || async move { c.read("ai-keys/keys/b-down").await.data()["last_error"].is_string() },
    )
    .await;
    let key = read_key(&client, "b-down").await;
    assert_eq!(key["current_version"], 1, "{key:#}");
    assert!(key["pending_version"].is_null(), "{key:#}");
    let c = creds(&client, "b-down").await;
    assert_eq!(c["api_key"], v_down.as_str());
    assert_eq!(c["version"], 1);
    let events = history(&client, "b-down").await;
    assert!(
        events
            .iter()
            .any(|e| e["event"] == "failed" && e["actor"] == "scheduler"),
        "no failed event by the scheduler: {events:#?}"
    );
    assert_no_leaks(&bao, &[&healthy, &broken], &[v_ok, v_down, admin]).await;
}

// ---------------------------------------------------------------------------------------------
// 8. Crash between "created at the provider" and "version stored"
// ---------------------------------------------------------------------------------------------

/// `rotate/` without a value while the provider stalls after creating the key; the plugin
/// process is SIGKILLed in that moment. The request fails; the next tick restarts the plugin,
/// and its WAL recovery finds the key the provider created (by its unique name, since the
/// answer with its id never arrived) and revokes it. The key is untouched: version 1, same creds.
#[tokio::test]
async fn tick_revokes_a_key_created_by_a_crashed_rotation() {
    let (bao, fake) = tokio::join!(Bao::start(), FakeProvider::start());
    let client = bao.client();
    let admin = secret("admin");
    fake.add_admin_key(&admin);
    configure_provider(&client, "oa", provider_body("openai", &fake, Some(&admin))).await;
    let v1 = secret("v1");
    fake.add_key(&v1);
    create_key(&client, "crash", json!({ "value": v1, "provider": "oa" })).await;
    let before = read_key(&client, "crash").await;

    fake.set_stall_after_create(true);
    let background = {
        let client = client.clone();
        tokio::spawn(async move { client.write("ai-keys/rotate/crash", json!({})).await })
    };
    let f = &fake;
    wait_until(
        &bao,
        "the provider to create a key",
        SHORT_DEADLINE,
        || async move { f.created_keys().len() == 1 },
    )
    .await;
    let pids = bao.plugin_pids();
    assert!(!pids.is_empty(), "no plugin process");
    for &pid in &pids {
        assert!(process::signal(pid, "KILL"), "kill -KILL {pid}");
    }
    wait_until(
        &bao,
        "the plugin processes to die",
        SHORT_DEADLINE,
        || async { pids.iter().all(|&p| !process::is_alive(p)) },
    )
    .await;
    fake.set_stall_after_create(false);
    let reply = tokio::time::timeout(SHORT_DEADLINE, background)
        .await
        .expect("the interrupted request ends")
        .expect("the request task");
    assert!(
        !reply.is_success(),
        "the interrupted rotation succeeded: {}",
        reply.text
    );
    eprintln!(
        "interrupted rotate/: HTTP {}: {}",
        reply.status,
        reply.errors()
    );
    let created = fake.created_keys();
    assert_eq!(created.len(), 1, "{created:?}");
    let (id, value, active) = created[0].clone();
    assert!(active);

    let killed_at = Instant::now();
    let f = &fake;
    wait_until(
        &bao,
        "the tick to revoke the unrecorded key",
        TICK_DEADLINE,
        || async move { f.active_created_keys().is_empty() },
    )
    .await;
    eprintln!(
        "unrecorded key revoked {:?} after the SIGKILL",
        killed_at.elapsed()
    );
    assert!(!fake.is_active(&id));
    assert_eq!(fake.created_keys().len(), 1, "nothing else was created");

    let key = read_key(&client, "crash").await;
    assert_eq!(key["current_version"], 1, "{key:#}");
    assert!(key["pending_version"].is_null(), "{key:#}");
    assert_eq!(key["versions"], before["versions"], "the versions changed");
    let c = creds(&client, "crash").await;
    assert_eq!(c["api_key"], v1.as_str());
    assert_eq!(c["version"], 1);
    assert!(
        bao.server_log()
            .contains("revoked a key created at the provider but never recorded"),
        "{}",
        bao.server_log_tail(60)
    );
    assert_no_leaks(&bao, &[&fake], &[v1, admin, value]).await;
}

/// Retirements that happen in a request are acted on at the provider in that request, without
/// waiting for the tick: rolling back an engine-created pending version revokes its key there,
/// and deleting a key revokes every key the engine created for it (OpenAI and OpenRouter).
#[tokio::test]
async fn rollback_and_delete_revoke_created_keys_at_once() {
    let bao = Bao::start().await;
    let client = bao.client();
    let fake = FakeProvider::start().await;
    let admin = secret("admin");
    fake.add_admin_key(&admin);
    let mut secrets = vec![admin.clone()];
    for kind in ["openai", "openrouter"] {
        configure_provider(&client, kind, provider_body(kind, &fake, Some(&admin))).await;
        let key_name = format!("del-{kind}");
        let v0 = secret("v0");
        fake.add_key(&v0);
        secrets.push(v0.clone());
        create_key(&client, &key_name, json!({ "value": v0, "provider": kind })).await;

        // stage/ without a value creates a key at the provider; rollback discards and revokes it.
        let before = fake.created_keys();
        let staged = write_ok(&client, &format!("ai-keys/stage/{key_name}"), json!({})).await;
        let created = new_created(&fake, &before);
        assert_eq!(created.len(), 1, "{kind}: {created:?}");
        let (pending_id, pending_value) = created[0].clone();
        secrets.push(pending_value);
        assert_eq!(
            staged["provider_key_id"],
            pending_id.as_str(),
            "{kind}: {staged:#}"
        );
        assert!(fake.is_active(&pending_id), "{kind}");
        write_ok(&client, &format!("ai-keys/rollback/{key_name}"), json!({})).await;
        assert!(
            !fake.is_active(&pending_id),
            "{kind}: rolled-back key still active"
        );
        let key = read_key(&client, &key_name).await;
        assert_eq!(version(&key, 2)["state"], "failed", "{kind}: {key:#}");

        // rotate/ without a value: the created key becomes current; deleting the key revokes it.
        let before = fake.created_keys();
        let rotated = data(&rotate(&client, &key_name, json!({})).await, kind);
        assert_eq!(rotated["test"]["outcome"], "passed", "{kind}: {rotated:#}");
        let created = new_created(&fake, &before);
        assert_eq!(created.len(), 1, "{kind}: {created:?}");
        let (current_id, current_value) = created[0].clone();
        secrets.push(current_value);
        assert!(fake.is_active(&current_id), "{kind}");
        let deleted = client.delete(&format!("ai-keys/keys/{key_name}")).await;
        assert_eq!(deleted.status, 204, "{kind}: {}", deleted.text);
        assert!(
            !fake.is_active(&current_id),
            "{kind}: deleted key's created key still active"
        );
        let events = history(&client, &key_name).await;
        assert_eq!(events[0]["event"], "deleted", "{kind}: {events:#?}");
    }
    assert!(
        fake.active_created_keys().is_empty(),
        "{:?}",
        fake.created_keys()
    );
    assert_no_leaks(&bao, &[&fake], &secrets).await;
}
