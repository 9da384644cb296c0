//! Durations, times and sizes are bounded where they are parsed.

use serde_json::{json, Value};

use super::{assert_log_has_no_errors, clean_error};
use crate::support::checks::{expect_error, read_ok, secret, write_ok};
use crate::support::Bao;

// ---------------------------------------------------------------------------------------------
// Durations and times are bounded where they are parsed
// ---------------------------------------------------------------------------------------------

/// Huge, negative and malformed durations are 400s naming the field on every path that
/// takes one (schedules/, keys/, promote/, rotate/, overdue), never a 200, a 500 or a panic;
/// 100 years is the most accepted. Times outside 1970-01-01 .. 9999-12-31 are 400s.
#[tokio::test]
async fn durations_and_times_are_bounded() {
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

/// An empty string clears a key's override of its schedule (`bao write ai-keys/keys/k
/// grace_period=""`: the key follows the schedule again, also after the schedule changes); where
/// a duration is a value (a schedule's, a promotion's grace) an empty one is a 400 naming the
/// field, never the 0 Vault would read, which on a grace period revokes at once.
#[tokio::test]
async fn an_empty_duration_clears_a_key_override_and_is_refused_where_a_value_is_needed() {
    let bao = Bao::start().await;
    let client = bao.client();
    write_ok(
        &client,
        "ai-keys/keys/k",
        json!({ "value": secret("v1"), "schedule": "staging", "grace_period": "0", "max_grace": "1d" }),
    )
    .await;
    let key = read_ok(&client, "ai-keys/keys/k").await;
    assert_eq!(
        (key["grace_period"].clone(), key["max_grace"].clone()),
        (json!(0), json!(86_400))
    );

    let out = bao.bao(&["write", "ai-keys/keys/k", "grace_period=", "max_grace="]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key = read_ok(&client, "ai-keys/keys/k").await;
    // staging: 168h of grace; the schedule default max_grace 7d.
    assert_eq!(key["grace_period"], 168 * 3_600, "{key:#}");
    assert_eq!(key["max_grace"], 7 * 86_400, "{key:#}");
    write_ok(
        &client,
        "ai-keys/schedules/staging",
        json!({ "grace_period": "100h" }),
    )
    .await;
    assert_eq!(
        read_ok(&client, "ai-keys/keys/k").await["grace_period"],
        100 * 3_600
    );

    write_ok(&client, "ai-keys/stage/k", json!({ "value": secret("v2") })).await;
    for (path, field) in [
        ("ai-keys/promote/k", "grace_period"),
        ("ai-keys/schedules/staging", "grace_period"),
        ("ai-keys/schedules/staging", "rotation_period"),
    ] {
        let out = bao.bao(&["write", path, &format!("{field}="), "force=true"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("Code: 400")
                && stderr.contains(&format!("field \"{field}\": must not be empty")),
            "{path} {field}: {stderr}"
        );
    }
    let key = read_ok(&client, "ai-keys/keys/k").await;
    assert_eq!(key["current_version"], 1, "nothing promoted: {key:#}");
    assert_eq!(key["grace_period"], 100 * 3_600, "{key:#}");
    assert_log_has_no_errors(&bao);
}

// ---------------------------------------------------------------------------------------------
// Sizes are bounded
// ---------------------------------------------------------------------------------------------

/// `rotation_id` at most 128 characters, `provider_key_id` at most 256 in the
/// provider's id alphabet, `custom_metadata` within KV v2's limits, every other text field
/// bounded; each a 400 naming the field, storing nothing.
#[tokio::test]
async fn sizes_are_bounded() {
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
    // A 256-character id passes the size check; without a provider nothing can vouch for it,
    // so the ownership check (the provider must vouch for the id) refuses it next, for that reason
    // and not its length.
    let refused = client
        .write(
            "ai-keys/stage/app",
            json!({ "value": secret("v2"), "rotation_id": long(128), "provider_key_id": format!("key_{}", long(252)) }),
        )
        .await;
    expect_error(
        &refused,
        400,
        &["no provider"],
        "a 256-character provider_key_id",
    );
    assert!(!refused.errors().contains("at most"), "{}", refused.text);
    write_ok(
        &client,
        "ai-keys/stage/app",
        json!({ "value": secret("v2"), "rotation_id": long(128) }),
    )
    .await;
}
