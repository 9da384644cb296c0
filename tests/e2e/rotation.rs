//! Rotating a key by hand, against a real OpenBao 2.7.2 through HTTP and the `bao` CLI only:
//! create, read `creds/`, `stage/`, `verify/`, `test/`, `promote/` with a grace window that
//! really ends; `rollback/`; `rotate/` in one call and the emergency rotation without grace; the
//! two-person rule (`require_separate_approver`) with real userpass entities, and which tokens
//! count as a person; under it, a key's first version and a reinstating rollback waiting for a
//! second entity; concurrent stages of which exactly one wins.
//!
//! The helpers here (a key created over HTTP, `verify/`, a rotation by steps, the audit log's
//! entries, the CLI) also serve `plugin_host`, `audit`, `reports`, `metrics` and
//! `input_validation`.
//!
//! Contract: docs/api.md. Keys have no provider here, so every test outcome is `skipped` (but
//! for the key created at its provider in `two_person_approval`).

mod concurrency;
mod rollback;
mod rotate;
mod two_person;
mod two_person_approval;
mod two_person_tokens;
mod walkthrough;

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::support::checks::{data, write_ok};
use crate::support::{Bao, Client, Reply};

/// How long after a grace window's end the engine may still accept the old key: well before the
/// host's 60 s periodic tick, so expiry is judged at request time.
const EXPIRY_SLACK: Duration = Duration::from_secs(5);
/// Bound of every other poll of the tests that use these helpers.
pub(crate) const POLL_LIMIT: Duration = Duration::from_secs(10);
const POLL_INTERVAL: Duration = Duration::from_millis(25);

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Creates `keys/<name>` with `value` plus `extra` fields; returns the whole reply.
pub(crate) async fn create_key(client: &Client, name: &str, value: &str, extra: Value) -> Reply {
    let mut body = json!({ "value": value });
    if let Value::Object(extra) = extra {
        body.as_object_mut().unwrap().extend(extra);
    }
    let reply = client.write(&format!("ai-keys/keys/{name}"), body).await;
    data(&reply, &format!("creating keys/{name}"));
    reply
}

/// `verify/<name>` of `value`: the reply's data.
pub(crate) async fn verify(client: &Client, name: &str, value: &str) -> Value {
    write_ok(
        client,
        &format!("ai-keys/verify/{name}"),
        json!({ "value": value }),
    )
    .await
}

#[track_caller]
pub(crate) fn assert_valid(result: &Value, version: u64, state: &str, what: &str) {
    assert_eq!(
        result,
        &json!({ "valid": true, "version": version, "state": state }),
        "{what}"
    );
}

#[track_caller]
fn assert_invalid(result: &Value, what: &str) {
    assert_eq!(result, &json!({ "valid": false }), "{what}");
}

/// Parses an RFC 3339 `*_time` field.
#[track_caller]
pub(crate) fn time(value: &Value) -> DateTime<Utc> {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("expected an RFC 3339 string, got {value}"));
    assert!(
        text.ends_with('Z'),
        "times are UTC with a Z suffix: {text:?}"
    );
    DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("{text:?} is not RFC 3339: {e}"))
        .with_timezone(&Utc)
}

/// Runs the CLI, asserts success and returns stdout.
#[track_caller]
fn cli_ok(bao: &Bao, args: &[&str]) -> String {
    let out = bao.bao(args);
    assert!(
        out.status.success(),
        "bao {}: {}\nstdout: {}\nstderr: {}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    String::from_utf8(out.stdout).expect("CLI output is UTF-8")
}

/// Runs the CLI with `-format=json` in `args`; returns the secret's `data`.
#[track_caller]
pub(crate) fn cli_data(bao: &Bao, args: &[&str]) -> Value {
    let stdout = cli_ok(bao, args);
    let secret: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("bao {}: not JSON ({e}): {stdout}", args.join(" ")));
    secret["data"].clone()
}

/// Every line of the audit log as JSON.
pub(crate) fn audit_entries(bao: &Bao) -> Vec<Value> {
    bao.audit_log()
        .lines()
        .map(|line| {
            serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("audit line is not JSON ({e}): {line}"))
        })
        .collect()
}

pub(crate) fn event_names(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .map(|e| e["event"].as_str().unwrap_or("?"))
        .collect()
}

/// Request ids of the steps of [`rotate_by_steps`].
pub(crate) struct StepIds {
    pub(crate) created: String,
    pub(crate) staged: String,
    pub(crate) tested: String,
    pub(crate) promoted: String,
}

/// `keys/app` = `k1` (schedule staging), then stage `k2`, test, promote with `grace`.
/// Returns the request id of each step's HTTP reply.
pub(crate) async fn rotate_by_steps(client: &Client, k1: &str, k2: &str, grace: &str) -> StepIds {
    let created = create_key(client, "app", k1, json!({ "schedule": "staging" })).await;
    let staged = client
        .write("ai-keys/stage/app", json!({ "value": k2 }))
        .await;
    data(&staged, "stage/app");
    let tested = client.write("ai-keys/test/app", json!({})).await;
    assert_eq!(data(&tested, "test/app")["outcome"], "skipped");
    let promoted = client
        .write("ai-keys/promote/app", json!({ "grace_period": grace }))
        .await;
    data(&promoted, "promote/app");
    let id = |r: &Reply| r.body["request_id"].as_str().unwrap().to_owned();
    StepIds {
        created: id(&created),
        staged: id(&staged),
        tested: id(&tested),
        promoted: id(&promoted),
    }
}
