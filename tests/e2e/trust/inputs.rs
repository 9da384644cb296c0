//! Trust review: inputs (see ../trust.rs). Provider credentials bound to where they were given
//! (item 1), typos that never act (3b), provider updates that keep what keys need (5), bounded
//! durations and times (7) and sizes (12), and user errors that come back clean and are never
//! logged as server errors.

use serde_json::{json, Value};

use crate::support::checks::{data, expect_error, read_ok, secret, write_ok};
use crate::support::fake_provider::FakeProvider;
use crate::support::{Bao, Reply};

/// An `openai` provider at `base_url` with project `proj_test` and `admin` as admin key.
fn openai_provider(base_url: &str, admin: &str) -> Value {
    json!({
        "type": "openai",
        "base_url": base_url,
        "project_id": "proj_test",
        "admin_key": admin,
        "timeout": "2s",
    })
}

/// The message of a refused request, asserted to be shown as the handler wrote it: no
/// "1 error occurred" wrapping, one message.
#[track_caller]
fn clean_error(reply: &Reply, status: u16, needles: &[&str], what: &str) -> String {
    expect_error(reply, status, needles, what);
    let errors = reply.body["errors"].as_array().cloned().unwrap_or_default();
    assert_eq!(errors.len(), 1, "{what}: one message: {}", reply.text);
    let message = reply.errors();
    assert!(
        !message.contains("error occurred") && !message.contains("\n\t*"),
        "{what}: the message is wrapped: {message:?}"
    );
    message
}

/// The server log has no panic, no failed existence check and no ERROR line from the plugin
/// (a bad input is the caller's problem, never the server's).
fn assert_log_has_no_errors(bao: &Bao) {
    let log = bao.server_log();
    for bad in [
        "panicked",
        "failed to run existence check",
        "internal error",
    ] {
        assert!(
            !log.contains(bad),
            "the server log mentions {bad:?}:\n{}",
            bao.server_log_tail(60)
        );
    }
    let errors: Vec<&str> = log.lines().filter(|l| l.contains("[ERROR]")).collect();
    assert!(
        errors.is_empty(),
        "ERROR lines in the server log: {errors:#?}"
    );
}

// ---------------------------------------------------------------------------------------------
// 1. Provider credentials stay bound to where they were given
// ---------------------------------------------------------------------------------------------

/// Item 1: an update that moves `base_url` (or changes `type`) without giving `admin_key` again
/// is a 400 that says why, changes nothing, and the admin key never reaches the new host;
/// giving it again works. `base_url` must be https except on loopback hosts; link-local and
/// metadata addresses are refused in every spelling.
#[tokio::test]
async fn item1_admin_key_is_never_sent_to_a_host_it_was_not_given_for() {
    let (bao, fake, other) =
        tokio::join!(Bao::start(), FakeProvider::start(), FakeProvider::start());
    let client = bao.client();
    let admin = secret("admin");
    fake.add_admin_key(&admin);
    other.add_admin_key(&admin);
    write_ok(
        &client,
        "ai-keys/providers/oa",
        openai_provider(&fake.base_url(), &admin),
    )
    .await;

    let moved = client
        .write(
            "ai-keys/providers/oa",
            json!({ "base_url": other.base_url() }),
        )
        .await;
    clean_error(
        &moved,
        400,
        &["admin_key", "base_url", "never sent"],
        "moving base_url without admin_key",
    );
    let retyped = client
        .write("ai-keys/providers/oa", json!({ "type": "openrouter" }))
        .await;
    clean_error(
        &retyped,
        400,
        &["admin_key", "type"],
        "changing type without admin_key",
    );
    let got = read_ok(&client, "ai-keys/providers/oa").await;
    assert_eq!(got["base_url"], fake.base_url(), "unchanged: {got:#}");
    assert_eq!(got["type"], "openai", "unchanged: {got:#}");
    assert_eq!(got["admin_key_set"], true);

    // The engine still calls the host the admin key was given for: a created key comes from
    // `fake`, and `other` never heard of anything.
    let v1 = secret("v1");
    fake.add_key(&v1);
    write_ok(
        &client,
        "ai-keys/keys/app",
        json!({ "value": v1, "provider": "oa" }),
    )
    .await;
    write_ok(&client, "ai-keys/stage/app", json!({})).await;
    assert_eq!(fake.created_keys().len(), 1, "created at the original host");
    assert_eq!(other.hits(""), 0, "nothing reached the other host");

    // Same base_url again (trailing slash aside) is not a move; with admin_key it may move.
    write_ok(
        &client,
        "ai-keys/providers/oa",
        json!({ "base_url": format!("{}/", fake.base_url()), "timeout": "3s" }),
    )
    .await;
    let got = write_ok(
        &client,
        "ai-keys/providers/oa",
        json!({ "base_url": other.base_url(), "admin_key": admin }),
    )
    .await;
    assert_eq!(got["base_url"], other.base_url());
    // A provider without an admin key has nothing to leak: it may move freely.
    write_ok(
        &client,
        "ai-keys/providers/ge",
        json!({ "type": "gemini", "base_url": fake.base_url() }),
    )
    .await;
    write_ok(
        &client,
        "ai-keys/providers/ge",
        json!({ "base_url": other.base_url() }),
    )
    .await;

    // https only, except loopback hosts; link-local and metadata addresses in any spelling.
    for url in ["http://api.example.com", "http://10.1.2.3:8080"] {
        let reply = client
            .write(
                "ai-keys/providers/plain",
                json!({ "type": "openai_compatible", "base_url": url }),
            )
            .await;
        clean_error(&reply, 400, &["base_url", "https"], url);
    }
    for url in [
        "https://169.254.169.254",
        "http://169.254.169.254/latest/meta-data",
        "https://0xa9fea9fe",
        "https://2852039166",
        "https://[::ffff:169.254.169.254]",
        "https://[::ffff:a9fe:a9fe]",
        "https://[fe80::1]",
        "https://[fd00:ec2::254]",
        "https://metadata.google.internal",
    ] {
        let reply = client
            .write(
                "ai-keys/providers/meta",
                json!({ "type": "openai_compatible", "base_url": url }),
            )
            .await;
        clean_error(&reply, 400, &["base_url", "must not point at"], url);
        let reply = client
            .write("ai-keys/providers/ge", json!({ "base_url": url }))
            .await;
        clean_error(&reply, 400, &["base_url"], url);
    }
    for name in ["plain", "meta"] {
        assert_eq!(
            client
                .read(&format!("ai-keys/providers/{name}"))
                .await
                .status,
            404,
            "nothing stored for {name}"
        );
    }
    for url in [
        "https://api.example.com",
        "http://localhost:1",
        "http://[::1]:1",
    ] {
        let reply = client
            .write(
                "ai-keys/providers/fine",
                json!({ "type": "openai_compatible", "base_url": url }),
            )
            .await;
        data(&reply, url);
    }
    assert_log_has_no_errors(&bao);
}

// ---------------------------------------------------------------------------------------------
// 5. A provider update never takes away what auto_rotate keys need
// ---------------------------------------------------------------------------------------------

/// Item 5: removing the admin key, the project, or changing the type of a provider that
/// `auto_rotate` keys use is a 400 listing those keys, and changes nothing; once the keys stop
/// rotating automatically the same update goes through.
#[tokio::test]
async fn item5_provider_update_keeps_what_auto_rotate_keys_need() {
    let (bao, fake) = tokio::join!(Bao::start(), FakeProvider::start());
    let client = bao.client();
    let admin = secret("admin");
    fake.add_admin_key(&admin);
    write_ok(
        &client,
        "ai-keys/providers/oa",
        openai_provider(&fake.base_url(), &admin),
    )
    .await;
    for name in ["auto-a", "auto-b"] {
        let v = secret(name);
        fake.add_key(&v);
        write_ok(
            &client,
            &format!("ai-keys/keys/{name}"),
            json!({ "value": v, "provider": "oa", "auto_rotate": true }),
        )
        .await;
    }
    let manual = secret("manual");
    write_ok(
        &client,
        "ai-keys/keys/manual",
        json!({ "value": manual, "provider": "oa" }),
    )
    .await;

    let updates = [
        json!({ "admin_key": "" }),
        json!({ "project_id": "" }),
        json!({ "type": "gemini", "admin_key": admin, "base_url": fake.base_url() }),
        json!({ "type": "anthropic", "admin_key": admin, "base_url": fake.base_url() }),
    ];
    for body in &updates {
        let reply = client.write("ai-keys/providers/oa", body.clone()).await;
        let message = clean_error(
            &reply,
            400,
            &["auto-a", "auto-b", "auto_rotate", "create"],
            &format!("update {body}"),
        );
        assert!(
            !message.contains("manual"),
            "only auto_rotate keys: {message}"
        );
    }
    let got = read_ok(&client, "ai-keys/providers/oa").await;
    assert_eq!(got["admin_key_set"], true, "{got:#}");
    assert_eq!(got["project_id"], "proj_test", "{got:#}");
    assert_eq!(got["capabilities"]["create"], true, "{got:#}");

    // Updates that keep `create` are fine; once no key rotates automatically, so is the rest.
    write_ok(&client, "ai-keys/providers/oa", json!({ "timeout": "3s" })).await;
    for name in ["auto-a", "auto-b"] {
        write_ok(
            &client,
            &format!("ai-keys/keys/{name}"),
            json!({ "auto_rotate": false }),
        )
        .await;
    }
    let got = write_ok(&client, "ai-keys/providers/oa", json!({ "admin_key": "" })).await;
    assert_eq!(got["admin_key_set"], false, "{got:#}");
}

// ---------------------------------------------------------------------------------------------
// 3b. A typo never triggers a side effect
// ---------------------------------------------------------------------------------------------

/// Item 3b: `rotate/`, `stage/`, `promote/` and `rollback/` refuse unknown fields with a 400
/// naming them (before, `rotate/` with `vaule=...` ignored the misspelt field with a warning,
/// created a key at the provider and promoted it); nothing happens at the provider or to the
/// key. Their help says so. Other paths still only warn, as the contract says.
#[tokio::test]
async fn item3b_a_misspelt_field_never_acts() {
    let (bao, fake) = tokio::join!(Bao::start(), FakeProvider::start());
    let client = bao.client();
    let admin = secret("admin");
    fake.add_admin_key(&admin);
    write_ok(
        &client,
        "ai-keys/providers/oa",
        openai_provider(&fake.base_url(), &admin),
    )
    .await;
    let v1 = secret("v1");
    fake.add_key(&v1);
    write_ok(
        &client,
        "ai-keys/keys/app",
        json!({ "value": v1, "provider": "oa" }),
    )
    .await;
    let v2 = secret("v2");
    fake.add_key(&v2);

    let typos = [
        ("rotate", json!({ "vaule": v2, "grace_period": 0 }), "vaule"),
        ("stage", json!({ "vaule": v2 }), "vaule"),
        (
            "stage",
            json!({ "value": v2, "rotation-id": "r1" }),
            "rotation-id",
        ),
        ("rotate", json!({ "grace_perod": "0s" }), "grace_perod"),
    ];
    for (path, body, typo) in &typos {
        let reply = client
            .write(&format!("ai-keys/{path}/app"), body.clone())
            .await;
        let message = clean_error(
            &reply,
            400,
            &[typo, "unknown fields"],
            &format!("{path}/ {typo}"),
        );
        assert!(!message.contains(v2.as_str()), "no value in the message");
    }
    assert!(
        fake.created_keys().is_empty(),
        "nothing created at the provider"
    );
    let key = read_ok(&client, "ai-keys/keys/app").await;
    assert_eq!(key["current_version"], 1, "{key:#}");
    assert!(key["pending_version"].is_null(), "{key:#}");

    // promote/ and rollback/ too, with a pending version in place.
    write_ok(&client, "ai-keys/stage/app", json!({ "value": v2 })).await;
    let reply = client
        .write(
            "ai-keys/promote/app",
            json!({ "force": true, "grace_perod": 0 }),
        )
        .await;
    clean_error(&reply, 400, &["grace_perod"], "promote/ grace_perod");
    let reply = client
        .write("ai-keys/rollback/app", json!({ "version": 1 }))
        .await;
    clean_error(&reply, 400, &["version"], "rollback/ version");
    let key = read_ok(&client, "ai-keys/keys/app").await;
    assert_eq!(key["current_version"], 1, "{key:#}");
    assert_eq!(key["pending_version"], 2, "{key:#}");

    // `bao path-help` of those paths says so.
    for path in ["rotate", "stage", "promote", "rollback"] {
        let out = bao.bao(&["path-help", &format!("ai-keys/{path}/app")]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("Unknown fields are refused"),
            "{path}/ help: {text}"
        );
    }

    // Elsewhere an unknown field is still a warning, as in Vault's framework.
    let reply = client
        .write("ai-keys/keys/app", json!({ "auto_rotat": false }))
        .await;
    data(&reply, "keys/ update with an unknown field");
    assert!(
        reply.warnings().iter().any(|w| w.contains("auto_rotat")),
        "{}",
        reply.text
    );
}

// ---------------------------------------------------------------------------------------------
// 7. Durations and times are bounded where they are parsed
// ---------------------------------------------------------------------------------------------

/// Item 7: huge, negative and malformed durations are 400s naming the field on every path that
/// takes one (schedules/, keys/, promote/, rotate/, overdue), never a 200, a 500 or a panic;
/// 100 years is the most accepted. Times outside 1970-01-01 .. 9999-12-31 are 400s.
#[tokio::test]
async fn item7_durations_and_times_are_bounded() {
    let bao = Bao::start().await;
    let client = bao.client();
    let v1 = secret("v1");
    write_ok(&client, "ai-keys/keys/app", json!({ "value": v1 })).await;
    write_ok(
        &client,
        "ai-keys/stage/app",
        json!({ "value": secret("v2") }),
    )
    .await;

    let bad_durations = [
        json!(999_999_999_999_999_999i64),
        json!("999999999999999999"),
        json!("9223372036854775807s"),
        json!("106751991167d"),
        json!("36526d"),
        json!(3_155_760_001i64),
        json!("2562047h"),
        json!(-1),
        json!("-5s"),
        json!("-1d"),
        json!(1e30),
        json!("1e30"),
        json!(u64::MAX),
    ];
    for d in &bad_durations {
        let cases = [
            (
                "ai-keys/schedules/huge",
                json!({ "rotation_period": d, "grace_period": "1h" }),
                "rotation_period",
            ),
            (
                "ai-keys/schedules/huge",
                json!({ "rotation_period": "30d", "grace_period": d }),
                "grace_period",
            ),
            (
                "ai-keys/keys/app",
                json!({ "rotation_period": d }),
                "rotation_period",
            ),
            (
                "ai-keys/keys/app",
                json!({ "grace_period": d }),
                "grace_period",
            ),
            (
                "ai-keys/promote/app",
                json!({ "grace_period": d, "force": true }),
                "grace_period",
            ),
        ];
        for (path, body, field) in cases {
            let reply = client.write(path, body).await;
            clean_error(&reply, 400, &[field], &format!("{path} {field}={d}"));
        }
        let reply = client
            .read(&format!(
                "ai-keys/overdue?max_age={}",
                d.as_str().map_or_else(|| d.to_string(), str::to_owned)
            ))
            .await;
        clean_error(&reply, 400, &["max_age"], &format!("overdue max_age={d}"));
    }
    let key = read_ok(&client, "ai-keys/keys/app").await;
    assert_eq!(key["current_version"], 1, "nothing promoted: {key:#}");
    assert_eq!(
        client.read("ai-keys/schedules/huge").await.status,
        404,
        "no schedule stored"
    );
    // The bound itself is accepted, and reads of it work.
    write_ok(
        &client,
        "ai-keys/schedules/century",
        json!({ "rotation_period": "36525d", "grace_period": "36525d", "rotation_window": "36525d" }),
    )
    .await;
    write_ok(
        &client,
        "ai-keys/keys/app",
        json!({ "schedule": "century", "rotation_period": 3_155_760_000i64 }),
    )
    .await;
    read_ok(&client, "ai-keys/keys/app").await;
    read_ok(&client, "ai-keys/creds/app").await;

    // Times: 1970-01-01 .. 9999-12-31, whatever the spelling.
    for t in [
        json!("1969-12-31T23:59:59Z"),
        json!("1970-01-01T00:30:00+01:00"),
        json!(-1),
        json!("-86400"),
        json!(253_402_300_800i64),
        json!("9999-12-31T23:59:59-01:00"),
        json!(i64::MAX),
    ] {
        let reply = client
            .write(
                "ai-keys/keys/old",
                json!({ "value": secret("old"), "created_time": t }),
            )
            .await;
        clean_error(
            &reply,
            400,
            &["created_time", "1970"],
            &format!("created_time={t}"),
        );
    }
    assert_eq!(client.read("ai-keys/keys/old").await.status, 404);
    write_ok(
        &client,
        "ai-keys/keys/old",
        json!({ "value": secret("old"), "created_time": "1970-01-01T00:00:00Z" }),
    )
    .await;
    read_ok(&client, "ai-keys/overdue").await;
    read_ok(&client, "ai-keys/metrics").await;
    assert_log_has_no_errors(&bao);
}

// ---------------------------------------------------------------------------------------------
// 12. Sizes are bounded
// ---------------------------------------------------------------------------------------------

/// Item 12: `rotation_id` at most 128 characters, `provider_key_id` at most 256 in the
/// provider's id alphabet, `custom_metadata` within KV v2's limits, every other text field
/// bounded; each a 400 naming the field, storing nothing.
#[tokio::test]
async fn item12_sizes_are_bounded() {
    let bao = Bao::start().await;
    let client = bao.client();
    write_ok(
        &client,
        "ai-keys/keys/app",
        json!({ "value": secret("v1") }),
    )
    .await;

    let long = |n: usize| "a".repeat(n);
    let pairs = |n: usize| -> Value {
        (0..n)
            .map(|i| (format!("k{i}"), json!("v")))
            .collect::<serde_json::Map<String, Value>>()
            .into()
    };
    let cases: Vec<(&str, Value, &[&str])> = vec![
        (
            "ai-keys/stage/app",
            json!({ "value": secret("v2"), "rotation_id": long(129) }),
            &["rotation_id", "128"],
        ),
        (
            "ai-keys/rotate/app",
            json!({ "value": secret("v2"), "rotation_id": long(129) }),
            &["rotation_id", "128"],
        ),
        (
            "ai-keys/stage/app",
            json!({ "value": secret("v2"), "provider_key_id": long(257) }),
            &["provider_key_id", "256"],
        ),
        (
            "ai-keys/stage/app",
            json!({ "value": secret("v2"), "provider_key_id": "key/../../admin" }),
            &["provider_key_id", "letters"],
        ),
        (
            "ai-keys/keys/new",
            json!({ "value": secret("n"), "provider_key_id": long(257) }),
            &["provider_key_id", "256"],
        ),
        (
            "ai-keys/keys/new",
            json!({ "value": secret("n"), "provider_key_id": ".." }),
            &["provider_key_id"],
        ),
        (
            "ai-keys/keys/new",
            json!({ "value": secret("n"), "custom_metadata": pairs(65) }),
            &["custom_metadata", "64"],
        ),
        (
            "ai-keys/keys/app",
            json!({ "custom_metadata": { long(129): "v" } }),
            &["custom_metadata", "128"],
        ),
        (
            "ai-keys/keys/app",
            json!({ "custom_metadata": { "owner": long(513) } }),
            &["custom_metadata", "512"],
        ),
        (
            "ai-keys/providers/p",
            json!({ "type": "openai_compatible", "base_url": format!("https://h/{}", long(2048)) }),
            &["base_url", "2048"],
        ),
        (
            "ai-keys/providers/p",
            json!({ "type": long(5000), "base_url": "https://h" }),
            &["type", "1024"],
        ),
        (
            "ai-keys/verify/app",
            json!({ "value": long(4097) }),
            &["value", "4096"],
        ),
    ];
    for (path, body, needles) in cases {
        let reply = client.write(path, body).await;
        clean_error(&reply, 400, needles, &format!("{path} {needles:?}"));
    }
    assert_eq!(client.read("ai-keys/keys/new").await.status, 404);
    assert_eq!(client.read("ai-keys/providers/p").await.status, 404);
    let key = read_ok(&client, "ai-keys/keys/app").await;
    assert_eq!(key["current_version"], 1, "{key:#}");
    assert!(key["pending_version"].is_null(), "{key:#}");
    assert_eq!(key["custom_metadata"], json!({}), "{key:#}");

    // The limits themselves are accepted.
    let got = write_ok(
        &client,
        "ai-keys/keys/app",
        json!({ "custom_metadata": pairs(64) }),
    )
    .await;
    assert_eq!(got["custom_metadata"].as_object().unwrap().len(), 64);
    write_ok(
        &client,
        "ai-keys/keys/app",
        json!({ "custom_metadata": { long(128): long(512) } }),
    )
    .await;
    write_ok(
        &client,
        "ai-keys/stage/app",
        json!({ "value": secret("v2"), "rotation_id": long(128), "provider_key_id": format!("key_{}", long(252)) }),
    )
    .await;
}

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
    assert!(
        message.starts_with("key \"app\"") || message.contains("pending"),
        "{message}"
    );

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
