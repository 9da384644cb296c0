//! Error statuses and messages: refused operations, bad names, values and durations.

use serde_json::json;

use crate::rotation::{cli_data, create_key};
use crate::support::checks::{expect_error, history, read_ok, secret, write_ok};
use crate::support::Bao;

// ---------------------------------------------------------------------------------------------
// Error paths
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn error_paths_have_their_status_and_a_message() {
    let bao = Bao::start().await;
    let client = bao.client();
    let k1 = secret("k1");
    create_key(&client, "app", &k1, json!({ "schedule": "staging" })).await;

    // Unknown key on creds: 404, as Vault's engines answer a read of nothing.
    let missing = client.read("ai-keys/creds/nope").await;
    assert_eq!(missing.status, 404, "{}", missing.text);
    assert!(missing.data().is_null(), "{}", missing.text);
    client.read("ai-keys/keys/nope").await.expect_status(404);

    let stage_unknown = client
        .write("ai-keys/stage/nope", json!({ "value": secret("x") }))
        .await;
    expect_error(
        &stage_unknown,
        400,
        &["nope", "does not exist"],
        "stage unknown key",
    );

    let promote_nothing = client.write("ai-keys/promote/app", json!({})).await;
    expect_error(
        &promote_nothing,
        400,
        &["no version is pending"],
        "promote, nothing pending",
    );

    let rollback_nothing = client.write("ai-keys/rollback/app", json!({})).await;
    expect_error(
        &rollback_nothing,
        400,
        &["nothing to roll back"],
        "rollback, nothing",
    );

    write_ok(
        &client,
        "ai-keys/stage/app",
        json!({ "value": secret("k2") }),
    )
    .await;
    let second = client
        .write("ai-keys/stage/app", json!({ "value": secret("k3") }))
        .await;
    expect_error(&second, 400, &["version 2", "pending"], "second stage");

    // Not tested: refused, pointing at test/ and force.
    let untested = client.write("ai-keys/promote/app", json!({})).await;
    expect_error(
        &untested,
        400,
        &["version 2", "test", "force=true"],
        "untested promote",
    );
    let bad_grace = client
        .write("ai-keys/promote/app", json!({ "grace_period": "abc" }))
        .await;
    expect_error(
        &bad_grace,
        400,
        &["grace_period"],
        "promote grace_period=abc",
    );
    let key = read_ok(&client, "ai-keys/keys/app").await;
    assert_eq!(key["pending_version"], 2, "refused promotes change nothing");
    assert_eq!(key["current_version"], 1);
    // The CLI sends force=true as a string.
    let forced = cli_data(
        &bao,
        &["write", "-format=json", "ai-keys/promote/app", "force=true"],
    );
    assert_eq!(forced["version"], 2, "{forced:#}");
    assert_eq!(forced["forced"], true, "{forced:#}");
    let events = history(&client, "app").await;
    assert_eq!(events[0]["event"], "promoted");
    assert!(
        events[0]["detail"].as_str().unwrap().contains("forced"),
        "a forced promotion is recorded: {:#}",
        events[0]
    );

    let update_value = client
        .write("ai-keys/keys/app", json!({ "value": secret("k4") }))
        .await;
    expect_error(
        &update_value,
        400,
        &["stage/", "rotate/"],
        "keys/ update with value",
    );

    // A name that breaks the name rule is a 400 naming the rule (api.md), never a 404 or 500;
    // a path with one segment too many is not a key name at all: 404.
    let bad_name = client
        .write("ai-keys/keys/-x-", json!({ "value": secret("x") }))
        .await;
    expect_error(&bad_name, 400, &["name"], "keys/-x-");
    let nested = client
        .write("ai-keys/keys/a/b", json!({ "value": secret("x") }))
        .await;
    expect_error(&nested, 404, &["unsupported path"], "keys/a/b");
    let long_name_read = client
        .read(&format!("ai-keys/creds/{}", "a".repeat(129)))
        .await;
    expect_error(&long_name_read, 400, &["name", "128"], "129-character name");
    // `_x` matches the route but not the name rule (start with a letter or digit).
    let underscore = client
        .write("ai-keys/stage/_x", json!({ "value": secret("x") }))
        .await;
    expect_error(&underscore, 400, &["name", "starting"], "stage/_x");

    let too_long = client
        .write("ai-keys/stage/app", json!({ "value": "a".repeat(5000) }))
        .await;
    expect_error(
        &too_long,
        400,
        &["value", "5000", "4096"],
        "5000-byte value",
    );
    let too_long_create = client
        .write("ai-keys/keys/big", json!({ "value": "a".repeat(5000) }))
        .await;
    expect_error(
        &too_long_create,
        400,
        &["value", "4096"],
        "5000-byte value on create",
    );
    let control = client
        .write("ai-keys/stage/app", json!({ "value": "sk-with\nnewline" }))
        .await;
    expect_error(&control, 400, &["value"], "value with a control character");
    let empty = client
        .write("ai-keys/keys/empty", json!({ "value": "" }))
        .await;
    expect_error(&empty, 400, &["value"], "empty value");

    let in_use = client.delete("ai-keys/schedules/staging").await;
    expect_error(
        &in_use,
        400,
        &["staging", "app"],
        "delete a schedule in use",
    );
    read_ok(&client, "ai-keys/schedules/staging").await;

    let unknown = client.read("ai-keys/no-such-path/x").await;
    expect_error(&unknown, 404, &["unsupported path"], "unknown path");
    let delete_creds = client.delete("ai-keys/creds/app").await;
    expect_error(
        &delete_creds,
        405,
        &["unsupported operation"],
        "DELETE creds",
    );
    assert_eq!(
        read_ok(&client, "ai-keys/creds/app").await["version"],
        2,
        "creds untouched by every refused request"
    );
}

/// A bad duration on a path with an existence check (`schedules/:name`, `keys/:name`) must be
/// a 400 naming the field, like the same bad duration on `promote/` (asserted above).
#[tokio::test]
async fn bad_duration_on_existence_checked_paths_is_a_400() {
    let bao = Bao::start().await;
    let client = bao.client();
    create_key(&client, "app", &secret("k1"), json!({})).await;

    let schedule = client
        .write(
            "ai-keys/schedules/x",
            json!({ "rotation_period": "abc", "grace_period": "1h" }),
        )
        .await;
    expect_error(
        &schedule,
        400,
        &["rotation_period"],
        "schedules/x rotation_period=abc",
    );
    let out = bao.bao(&[
        "write",
        "ai-keys/schedules/x",
        "rotation_period=abc",
        "grace_period=1h",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("Code: 400") && stderr.contains("rotation_period"),
        "{stderr}"
    );

    let key = client
        .write("ai-keys/keys/app", json!({ "rotation_period": "abc" }))
        .await;
    expect_error(
        &key,
        400,
        &["rotation_period"],
        "keys/app rotation_period=abc",
    );

    let not_bool = client
        .write("ai-keys/keys/app", json!({ "auto_rotate": "maybe" }))
        .await;
    expect_error(
        &not_bool,
        400,
        &["auto_rotate"],
        "keys/app auto_rotate=maybe",
    );
    let bad_time = client
        .write(
            "ai-keys/keys/new",
            json!({ "value": secret("x"), "created_time": "yesterday" }),
        )
        .await;
    expect_error(
        &bad_time,
        400,
        &["created_time"],
        "keys/new created_time=yesterday",
    );

    // Names the route matches but the name rule refuses: 400 like on creds/ and stage/.
    for name in ["a".repeat(129), "_x".to_owned()] {
        let bad_name = client
            .write(
                &format!("ai-keys/keys/{name}"),
                json!({ "value": secret("x") }),
            )
            .await;
        expect_error(&bad_name, 400, &["name"], &format!("keys/{name}"));
    }
}
