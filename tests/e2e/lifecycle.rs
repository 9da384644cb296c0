//! The key lifecycle against a real OpenBao 2.7.2, through HTTP and the `bao` CLI only:
//! create, read creds, stage, test, promote with a grace window that really ends, rollback,
//! one-call rotation, overdue reports, history with actors and request ids matched against the
//! audit log, error statuses, the two-person rule with two real userpass entities, secrets that
//! never leak into the audit or server log, help and OpenAPI, Prometheus metrics, concurrent
//! stages and persistence across a plugin reload.
//!
//! Contract: docs/api.md. Keys have no provider here, so every test outcome is `skipped`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use serde_json::{json, Value};

use crate::support::checks::{data, expect_error, read_ok, secret, write_ok};
use crate::support::{process, Bao, Client, Reply};

/// How long after a grace window's end the engine may still accept the old key: well before the
/// host's 60 s periodic tick, so expiry is judged at request time.
const EXPIRY_SLACK: Duration = Duration::from_secs(5);
/// Bound of every other poll in this file.
const POLL_LIMIT: Duration = Duration::from_secs(10);
const POLL_INTERVAL: Duration = Duration::from_millis(25);

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Creates `keys/<name>` with `value` plus `extra` fields; returns the whole reply.
async fn create_key(client: &Client, name: &str, value: &str, extra: Value) -> Reply {
    let mut body = json!({ "value": value });
    if let Value::Object(extra) = extra {
        body.as_object_mut().unwrap().extend(extra);
    }
    let reply = client.write(&format!("ai-keys/keys/{name}"), body).await;
    data(&reply, &format!("creating keys/{name}"));
    reply
}

/// `verify/<name>` of `value`: the reply's data.
async fn verify(client: &Client, name: &str, value: &str) -> Value {
    write_ok(
        client,
        &format!("ai-keys/verify/{name}"),
        json!({ "value": value }),
    )
    .await
}

#[track_caller]
fn assert_valid(result: &Value, version: u64, state: &str, what: &str) {
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
fn time(value: &Value) -> DateTime<Utc> {
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
fn cli_data(bao: &Bao, args: &[&str]) -> Value {
    let stdout = cli_ok(bao, args);
    let secret: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("bao {}: not JSON ({e}): {stdout}", args.join(" ")));
    secret["data"].clone()
}

/// Every line of the audit log as JSON.
fn audit_entries(bao: &Bao) -> Vec<Value> {
    bao.audit_log()
        .lines()
        .map(|line| {
            serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("audit line is not JSON ({e}): {line}"))
        })
        .collect()
}

/// The events of `history/<name>`, newest first.
async fn history(client: &Client, name: &str) -> Vec<Value> {
    let data = read_ok(client, &format!("ai-keys/history/{name}")).await;
    data["events"]
        .as_array()
        .unwrap_or_else(|| panic!("history/{name} has no events array: {data}"))
        .clone()
}

fn event_names(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .map(|e| e["event"].as_str().unwrap_or("?"))
        .collect()
}

/// Request ids of the steps of [`rotate_by_steps`].
struct StepIds {
    created: String,
    staged: String,
    tested: String,
    promoted: String,
}

/// `keys/app` = `k1` (schedule staging), then stage `k2`, test, promote with `grace`.
/// Returns the request id of each step's HTTP reply.
async fn rotate_by_steps(client: &Client, k1: &str, k2: &str, grace: &str) -> StepIds {
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

/// The token's own `auth/token/lookup-self` data.
async fn lookup_self(client: &Client) -> Value {
    read_ok(client, "auth/token/lookup-self").await
}

// ---------------------------------------------------------------------------------------------
// 1. Walkthrough
// ---------------------------------------------------------------------------------------------

/// Create, read, stage, verify, test, promote with a 2 s grace window, and the window closing
/// at request time (long before the 60 s periodic tick).
#[tokio::test]
async fn walkthrough_stage_test_promote_and_grace_expiry() {
    let bao = Bao::start().await;
    let client = bao.client();
    let (k1, k2) = (secret("k1"), secret("k2"));

    // Create through the CLI, as an operator would.
    let created = cli_data(
        &bao,
        &[
            "write",
            "-format=json",
            "ai-keys/keys/app",
            &format!("value={k1}"),
            "schedule=staging",
        ],
    );
    assert_eq!(created["current_version"], 1, "{created:#}");
    assert_eq!(created["schedule"], "staging");
    assert_eq!(created["versions"]["1"]["state"], "current");

    let creds = read_ok(&client, "ai-keys/creds/app").await;
    assert_eq!(creds["api_key"], k1.as_str(), "{creds:#}");
    assert_eq!(creds["version"], 1);
    let ttl = creds["ttl"].as_i64().expect("ttl is an integer");
    // staging: rotation_period 90d.
    assert!(ttl > 0 && ttl <= 90 * 86_400, "ttl {ttl}");
    assert!(creds.get("previous_api_key").is_none(), "{creds:#}");
    assert!(creds.get("previous_expires_time").is_none(), "{creds:#}");

    let staged = write_ok(&client, "ai-keys/stage/app", json!({ "value": k2 })).await;
    assert_eq!(staged["version"], 2, "{staged:#}");
    assert_eq!(staged["state"], "pending");

    let creds = read_ok(&client, "ai-keys/creds/app").await;
    assert_eq!(
        creds["api_key"],
        k1.as_str(),
        "staging changes nothing for clients"
    );
    assert_eq!(creds["version"], 1);
    assert!(creds.get("previous_api_key").is_none(), "{creds:#}");

    assert_valid(
        &verify(&client, "app", &k1).await,
        1,
        "current",
        "K1 before promote",
    );
    assert_valid(
        &verify(&client, "app", &k2).await,
        2,
        "pending",
        "K2 before promote",
    );
    assert_invalid(
        &verify(&client, "app", &secret("other")).await,
        "unknown value",
    );

    let tested = write_ok(&client, "ai-keys/test/app", json!({})).await;
    assert_eq!(tested["version"], 2, "{tested:#}");
    assert_eq!(tested["outcome"], "skipped");
    assert!(tested["status_code"].is_null(), "{tested:#}");
    assert!(tested["detail"].is_string(), "{tested:#}");

    // Promote through the CLI: it sends grace_period=2s as a string.
    let before_promote = Utc::now();
    let promoted = cli_data(
        &bao,
        &[
            "write",
            "-format=json",
            "ai-keys/promote/app",
            "grace_period=2s",
        ],
    );
    let after_promote = Utc::now();
    assert_eq!(promoted["version"], 2, "{promoted:#}");
    assert_eq!(promoted["previous_version"], 1, "{promoted:#}");

    let creds = read_ok(&client, "ai-keys/creds/app").await;
    assert_eq!(creds["api_key"], k2.as_str(), "{creds:#}");
    assert_eq!(creds["version"], 2);
    assert_eq!(creds["previous_api_key"], k1.as_str(), "{creds:#}");
    let expires = time(&creds["previous_expires_time"]);
    // Whole seconds: at most one second earlier than promote time + 2 s, never later.
    assert!(
        expires >= before_promote + TimeDelta::seconds(1)
            && expires <= after_promote + TimeDelta::seconds(2),
        "previous_expires_time {expires} for a promote between {before_promote} and \
         {after_promote} with grace 2s"
    );
    assert_eq!(
        promoted["grace_expires_time"],
        creds["previous_expires_time"]
    );
    assert_valid(
        &verify(&client, "app", &k1).await,
        1,
        "previous",
        "K1 in grace",
    );
    assert_valid(
        &verify(&client, "app", &k2).await,
        2,
        "current",
        "K2 after promote",
    );

    // Poll until the old key is refused; it must be within EXPIRY_SLACK of the expiry, and
    // never before the advertised expiry time.
    let wait = (expires - Utc::now()).to_std().unwrap_or_default() + EXPIRY_SLACK;
    let deadline = Instant::now() + wait;
    loop {
        let result = verify(&client, "app", &k1).await;
        let answered = Utc::now();
        if result["valid"] == false {
            assert_invalid(&result, "K1 after grace");
            assert!(
                answered >= expires,
                "K1 refused at {answered}, before its advertised expiry {expires}"
            );
            break;
        }
        assert_valid(&result, 1, "previous", "K1 until its grace ends");
        assert!(
            Instant::now() < deadline,
            "K1 still accepted {EXPIRY_SLACK:?} after its grace ended at {expires}"
        );
        tokio::time::sleep(POLL_INTERVAL).await;
    }

    let creds = read_ok(&client, "ai-keys/creds/app").await;
    assert_eq!(creds["api_key"], k2.as_str(), "{creds:#}");
    assert_eq!(creds["version"], 2);
    assert!(creds.get("previous_api_key").is_none(), "{creds:#}");
    assert!(creds.get("previous_expires_time").is_none(), "{creds:#}");
    assert_valid(&verify(&client, "app", &k2).await, 2, "current", "K2 stays");

    let key = read_ok(&client, "ai-keys/keys/app").await;
    assert_eq!(key["current_version"], 2, "{key:#}");
    assert!(key["pending_version"].is_null(), "{key:#}");
    let v1 = &key["versions"]["1"];
    assert_eq!(v1["state"], "revoked", "{key:#}");
    assert_eq!(v1["grace_expires_time"], creds_expiry_text(expires));
    assert!(time(&v1["revoked_time"]) >= expires, "{v1:#}");
    assert_eq!(key["versions"]["2"]["state"], "current", "{key:#}");
}

fn creds_expiry_text(t: DateTime<Utc>) -> Value {
    json!(t.to_rfc3339_opts(SecondsFormat::Secs, true))
}

// ---------------------------------------------------------------------------------------------
// 2. Rollback
// ---------------------------------------------------------------------------------------------

/// Rollback within grace restores the previous key; rollback of a pending version discards it;
/// rollback with nothing to undo is a 400.
#[tokio::test]
async fn rollback_within_grace_restores_the_previous_key() {
    let bao = Bao::start().await;
    let client = bao.client();
    let (k1, k2, k3) = (secret("k1"), secret("k2"), secret("k3"));
    rotate_by_steps(&client, &k1, &k2, "1h").await;
    let creds = read_ok(&client, "ai-keys/creds/app").await;
    assert_eq!(creds["api_key"], k2.as_str());

    let rolled = write_ok(&client, "ai-keys/rollback/app", json!({})).await;
    assert_eq!(rolled["current_version"], 1, "{rolled:#}");
    assert_eq!(rolled["revoked_versions"], json!([2]), "{rolled:#}");

    let creds = read_ok(&client, "ai-keys/creds/app").await;
    assert_eq!(creds["api_key"], k1.as_str(), "{creds:#}");
    assert_eq!(creds["version"], 1);
    assert!(creds.get("previous_api_key").is_none(), "{creds:#}");
    assert_invalid(&verify(&client, "app", &k2).await, "K2 after rollback");
    assert_valid(
        &verify(&client, "app", &k1).await,
        1,
        "current",
        "K1 restored",
    );

    let key = read_ok(&client, "ai-keys/keys/app").await;
    assert_eq!(key["current_version"], 1, "{key:#}");
    assert_eq!(key["versions"]["1"]["state"], "current", "{key:#}");
    assert_eq!(key["versions"]["2"]["state"], "revoked", "{key:#}");
    // One request, two events about version 2: rolled back (version 1 current again), revoked.
    let events = history(&client, "app").await;
    let mut latest = event_names(&events[..2]);
    latest.sort_unstable();
    assert_eq!(latest, ["revoked", "rolled_back"], "{events:#?}");
    assert_eq!(events[0]["version"], 2);
    assert_eq!(events[1]["version"], 2);
    assert_eq!(events[0]["request_id"], events[1]["request_id"]);

    let nothing = client.write("ai-keys/rollback/app", json!({})).await;
    expect_error(&nothing, 400, &["nothing to roll back"], "second rollback");

    // A pending version is discarded (failed, value destroyed) and the current one kept.
    write_ok(&client, "ai-keys/stage/app", json!({ "value": k3 })).await;
    let discarded = write_ok(&client, "ai-keys/rollback/app", json!({})).await;
    assert_eq!(discarded["discarded_version"], 3, "{discarded:#}");
    assert_eq!(discarded["current_version"], 1, "{discarded:#}");
    let key = read_ok(&client, "ai-keys/keys/app").await;
    assert_eq!(key["versions"]["3"]["state"], "failed", "{key:#}");
    assert!(key["pending_version"].is_null(), "{key:#}");
    let events = history(&client, "app").await;
    let mut latest = event_names(&events[..2]);
    latest.sort_unstable();
    assert_eq!(latest, ["failed", "rolled_back"], "{events:#?}");
    assert_invalid(&verify(&client, "app", &k3).await, "discarded K3");
    let creds = read_ok(&client, "ai-keys/creds/app").await;
    assert_eq!(creds["api_key"], k1.as_str());
}

// ---------------------------------------------------------------------------------------------
// 3. rotate/ in one call
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn rotate_in_one_call_and_emergency_rotation() {
    let bao = Bao::start().await;
    let client = bao.client();
    let (k1, k2, k3) = (secret("k1"), secret("k2"), secret("k3"));
    create_key(&client, "app", &k1, json!({ "schedule": "staging" })).await;

    let rotated = write_ok(&client, "ai-keys/rotate/app", json!({ "value": k2 })).await;
    assert_eq!(rotated["version"], 2, "{rotated:#}");
    assert_eq!(rotated["previous_version"], 1, "{rotated:#}");
    assert_eq!(rotated["previous_state"], "previous", "{rotated:#}");
    assert_eq!(rotated["test"]["outcome"], "skipped", "{rotated:#}");
    let creds = read_ok(&client, "ai-keys/creds/app").await;
    assert_eq!(creds["api_key"], k2.as_str(), "{creds:#}");
    assert_eq!(creds["version"], 2);
    assert_eq!(creds["previous_api_key"], k1.as_str(), "{creds:#}");
    // The staging schedule's grace: 168h.
    let expires = time(&creds["previous_expires_time"]);
    let grace = expires - Utc::now();
    assert!(
        grace > TimeDelta::hours(167) && grace <= TimeDelta::hours(168),
        "grace {grace}"
    );
    assert_valid(
        &verify(&client, "app", &k1).await,
        1,
        "previous",
        "K1 in grace",
    );

    // Emergency: grace_period=0 leaves only the new key valid.
    let emergency = write_ok(
        &client,
        "ai-keys/rotate/app",
        json!({ "value": k3, "grace_period": 0 }),
    )
    .await;
    assert_eq!(emergency["version"], 3, "{emergency:#}");
    let creds = read_ok(&client, "ai-keys/creds/app").await;
    assert_eq!(creds["api_key"], k3.as_str(), "{creds:#}");
    assert_eq!(creds["version"], 3);
    assert!(creds.get("previous_api_key").is_none(), "{creds:#}");
    assert!(creds.get("previous_expires_time").is_none(), "{creds:#}");
    assert_invalid(&verify(&client, "app", &k2).await, "K2 after emergency");
    assert_invalid(&verify(&client, "app", &k1).await, "K1 after emergency");
    assert_valid(&verify(&client, "app", &k3).await, 3, "current", "K3");

    let key = read_ok(&client, "ai-keys/keys/app").await;
    let states: BTreeMap<&str, &str> = key["versions"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(n, v)| (n.as_str(), v["state"].as_str().unwrap()))
        .collect();
    assert_eq!(
        states,
        BTreeMap::from([("1", "revoked"), ("2", "revoked"), ("3", "current")]),
        "{key:#}"
    );
}

// ---------------------------------------------------------------------------------------------
// 4. overdue
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn overdue_report_counts_age_from_the_imported_created_time() {
    let bao = Bao::start().await;
    let client = bao.client();
    let created = Utc::now() - TimeDelta::days(45);
    let created_text = created.to_rfc3339_opts(SecondsFormat::Secs, true);
    // Default schedule production: 90 days, so not overdue by its own schedule.
    create_key(
        &client,
        "old",
        &secret("old"),
        json!({ "created_time": created_text }),
    )
    .await;
    create_key(&client, "fresh", &secret("fresh"), json!({})).await;

    let report = read_ok(&client, "ai-keys/overdue?max_age=30d").await;
    let expected_next = (time(&json!(created_text)) + TimeDelta::days(30))
        .to_rfc3339_opts(SecondsFormat::Secs, true);
    assert_eq!(
        report["keys"],
        json!([{
            "key": "old",
            "age_days": 45,
            "overdue_days": 15,
            "rotation_period_days": 30,
            "next_rotation_time": expected_next,
        }]),
        "{report:#}"
    );

    // The CLI sends max_age as a query parameter on read, too.
    let via_cli = cli_data(
        &bao,
        &["read", "-format=json", "ai-keys/overdue", "max_age=30d"],
    );
    assert_eq!(via_cli["keys"], report["keys"]);

    // By their own schedule (90 days) neither key is overdue.
    let report = read_ok(&client, "ai-keys/overdue").await;
    assert_eq!(report["keys"], json!([]), "{report:#}");

    let key = read_ok(&client, "ai-keys/keys/old").await;
    assert_eq!(key["age_days"], 45, "{key:#}");
    assert_eq!(key["overdue"], false, "{key:#}");
    assert_eq!(key["overdue_days"], 0, "{key:#}");
    assert_eq!(key["versions"]["1"]["created_time"], created_text.as_str());
    let creds = read_ok(&client, "ai-keys/creds/old").await;
    let ttl = creds["ttl"].as_i64().unwrap();
    let expected_ttl = 45 * 86_400;
    assert!(
        (expected_ttl - 5..=expected_ttl).contains(&ttl),
        "ttl {ttl}, expected about {expected_ttl} (90d - 45d)"
    );

    // A key on production-tier1 (30 days) is overdue by its own schedule.
    create_key(
        &client,
        "tier1",
        &secret("tier1"),
        json!({ "created_time": created_text, "schedule": "production-tier1" }),
    )
    .await;
    let report = read_ok(&client, "ai-keys/overdue").await;
    assert_eq!(report["keys"].as_array().unwrap().len(), 1, "{report:#}");
    assert_eq!(report["keys"][0]["key"], "tier1");
    assert_eq!(report["keys"][0]["overdue_days"], 15);
    assert_eq!(report["keys"][0]["rotation_period_days"], 30);
    let key = read_ok(&client, "ai-keys/keys/tier1").await;
    assert_eq!(key["overdue"], true, "{key:#}");
    assert_eq!(key["overdue_days"], 15, "{key:#}");
    assert_eq!(read_ok(&client, "ai-keys/creds/tier1").await["ttl"], 0);
}

// ---------------------------------------------------------------------------------------------
// 5. history
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn history_lists_events_with_actor_and_audited_request_id() {
    let bao = Bao::start().await;
    let client = bao.client();
    let ids = rotate_by_steps(&client, &secret("k1"), &secret("k2"), "1h").await;
    let me = lookup_self(&client).await;

    let events = history(&client, "app").await;
    assert_eq!(
        event_names(&events),
        ["promoted", "tested", "staged", "created"],
        "{events:#?}"
    );
    let expected_ids = [&ids.promoted, &ids.tested, &ids.staged, &ids.created];
    let expected_versions = [2, 2, 2, 1];
    let mut newer: Option<DateTime<Utc>> = None;
    for ((event, id), version) in events.iter().zip(expected_ids).zip(expected_versions) {
        assert_eq!(event["request_id"], id.as_str(), "{event:#}");
        assert_eq!(event["version"], version, "{event:#}");
        assert_eq!(
            event["actor"],
            json!({
                "entity_id": me["entity_id"],
                "display_name": me["display_name"],
                "accessor": me["accessor"],
            }),
            "{event:#}"
        );
        assert!(!me["accessor"].as_str().unwrap().is_empty());
        let at = time(&event["time"]);
        if let Some(newer) = newer {
            assert!(at <= newer, "events are newest first: {events:#?}");
        }
        newer = Some(at);
        for field in ["outcome", "detail"] {
            assert!(event.get(field).is_some(), "{field} missing: {event:#}");
        }
    }
    assert_eq!(events[1]["outcome"], "skipped");

    // The created event's request id is the one the audit device logged for the write.
    let created = &events[3];
    bao.wait_for("the keys/app write in the audit log", POLL_LIMIT, || {
        audit_entries(&bao)
            .iter()
            .any(|e| e["type"] == "response" && e["request"]["path"] == "ai-keys/keys/app")
    })
    .await;
    let audited: Vec<Value> = audit_entries(&bao)
        .into_iter()
        .filter(|e| {
            e["request"]["path"] == "ai-keys/keys/app" && e["request"]["operation"] == "create"
        })
        .collect();
    assert_eq!(
        audited.len(),
        2,
        "one request and one response entry for the create: {audited:#?}"
    );
    for entry in &audited {
        assert_eq!(entry["request"]["id"], created["request_id"], "{entry:#}");
    }
}

// ---------------------------------------------------------------------------------------------
// 6. Error paths
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

// ---------------------------------------------------------------------------------------------
// 7. Two-person rule with real entities
// ---------------------------------------------------------------------------------------------

/// A userpass login: its token, entity and accessor.
struct Login {
    client: Client,
    entity_id: String,
    accessor: String,
}

async fn login(bao: &Bao, user: &str) -> Login {
    let reply = bao
        .client_with_token("")
        .write(
            &format!("auth/userpass/login/{user}"),
            json!({ "password": format!("{user}-password") }),
        )
        .await;
    reply.expect_status(200);
    let auth = &reply.body["auth"];
    let text = |v: &Value| v.as_str().expect("string in auth").to_owned();
    let login = Login {
        client: bao.client_with_token(&text(&auth["client_token"])),
        entity_id: text(&auth["entity_id"]),
        accessor: text(&auth["accessor"]),
    };
    assert!(!login.entity_id.is_empty(), "{user} has an entity");
    login
}

#[tokio::test]
async fn two_person_rule_needs_two_entities() {
    let bao = Bao::start().await;
    let root = bao.client();
    root.write("sys/auth/userpass", json!({ "type": "userpass" }))
        .await
        .expect_status(204);
    root.write(
        "sys/policies/acl/ai-keys-operator",
        json!({ "policy": "path \"ai-keys/*\" {\n  capabilities = [\"create\", \"read\", \"update\", \"delete\", \"list\"]\n}\n" }),
    )
    .await
    .expect_status(204);
    for user in ["alice", "bob"] {
        root.write(
            &format!("auth/userpass/users/{user}"),
            json!({ "password": format!("{user}-password"), "token_policies": ["ai-keys-operator"] }),
        )
        .await
        .expect_status(204);
    }
    let alice = login(&bao, "alice").await;
    let bob = login(&bao, "bob").await;
    assert_ne!(alice.entity_id, bob.entity_id);

    write_ok(
        &root,
        "ai-keys/config",
        json!({ "require_separate_approver": true }),
    )
    .await;
    assert_eq!(
        read_ok(&root, "ai-keys/config").await["require_separate_approver"],
        true
    );
    let (k1, k2) = (secret("k1"), secret("k2"));
    create_key(&alice.client, "app", &k1, json!({})).await;
    write_ok(&alice.client, "ai-keys/stage/app", json!({ "value": k2 })).await;
    write_ok(&alice.client, "ai-keys/test/app", json!({})).await;

    let own = alice.client.write("ai-keys/promote/app", json!({})).await;
    expect_error(
        &own,
        403,
        &["two-person rule", "require_separate_approver"],
        "alice promoting her own stage",
    );
    assert!(
        !own.errors().contains("permission denied"),
        "the plugin's refusal, not the ACL's: {}",
        own.errors()
    );
    let forced = alice
        .client
        .write("ai-keys/promote/app", json!({ "force": true }))
        .await;
    expect_error(
        &forced,
        403,
        &["two-person rule"],
        "force does not bypass it",
    );
    let one_call = alice
        .client
        .write("ai-keys/rotate/app", json!({ "value": secret("k3") }))
        .await;
    expect_error(
        &one_call,
        403,
        &["require_separate_approver"],
        "rotate/ under the rule",
    );
    let key = read_ok(&root, "ai-keys/keys/app").await;
    assert_eq!(key["current_version"], 1, "{key:#}");
    assert_eq!(key["pending_version"], 2, "{key:#}");

    let promoted = write_ok(&bob.client, "ai-keys/promote/app", json!({})).await;
    assert_eq!(promoted["version"], 2, "{promoted:#}");
    assert_eq!(
        read_ok(&bob.client, "ai-keys/creds/app").await["api_key"],
        k2.as_str()
    );

    let events = history(&root, "app").await;
    let find = |name: &str| {
        events
            .iter()
            .find(|e| e["event"] == name)
            .unwrap_or_else(|| panic!("no {name} event: {events:#?}"))
            .clone()
    };
    let (staged, promoted) = (find("staged"), find("promoted"));
    assert_eq!(staged["actor"]["entity_id"], alice.entity_id.as_str());
    assert_eq!(staged["actor"]["accessor"], alice.accessor.as_str());
    assert_eq!(staged["actor"]["display_name"], "userpass-alice");
    assert_eq!(promoted["actor"]["entity_id"], bob.entity_id.as_str());
    assert_eq!(promoted["actor"]["accessor"], bob.accessor.as_str());
    assert_eq!(promoted["actor"]["display_name"], "userpass-bob");
    assert_ne!(staged["actor"]["entity_id"], promoted["actor"]["entity_id"]);
}

// ---------------------------------------------------------------------------------------------
// 8. Secrets never leak
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn secrets_never_leak_into_logs_or_reads() {
    let bao = Bao::start().await;
    let client = bao.client();
    let (k1, k2) = (secret("k1"), secret("k2"));
    rotate_by_steps(&client, &k1, &k2, "1h").await;
    let creds = read_ok(&client, "ai-keys/creds/app").await;
    assert_eq!(creds["api_key"], k2.as_str());
    assert_eq!(creds["previous_api_key"], k1.as_str());
    verify(&client, "app", &k1).await;
    verify(&client, "app", &k2).await;

    for path in ["ai-keys/keys/app", "ai-keys/history/app", "ai-keys/metrics"] {
        let reply = client.read(path).await;
        reply.expect_status(200);
        for k in [&k1, &k2] {
            assert!(!reply.text.contains(k.as_str()), "{path} shows a key value");
        }
    }

    let (h1, h2) = (bao.audit_hash(&k1).await, bao.audit_hash(&k2).await);
    bao.wait_for("the creds response in the audit log", POLL_LIMIT, || {
        let log = bao.audit_log();
        log.contains(&h1) && log.contains(&h2)
    })
    .await;
    let log = bao.audit_log();
    for k in [&k1, &k2] {
        assert!(
            !log.contains(k.as_str()),
            "a key value in clear in audit.log"
        );
    }
    // Where the hashes are: the create's and stage's request values, and the creds response.
    let entries = audit_entries(&bao);
    let find = |path: &str, kind: &str| -> Vec<&Value> {
        entries
            .iter()
            .filter(|e| e["request"]["path"] == path && e["type"] == kind)
            .collect()
    };
    let create = find("ai-keys/keys/app", "request");
    assert_eq!(create[0]["request"]["data"]["value"], h1.as_str());
    let stage = find("ai-keys/stage/app", "request");
    assert_eq!(stage[0]["request"]["data"]["value"], h2.as_str());
    let creds_entries = find("ai-keys/creds/app", "response");
    let last = creds_entries.last().expect("a creds response entry");
    assert_eq!(last["response"]["data"]["api_key"], h2.as_str(), "{last:#}");
    assert_eq!(last["response"]["data"]["previous_api_key"], h1.as_str());
    let verifies = find("ai-keys/verify/app", "request");
    assert_eq!(verifies.len(), 2, "two verify requests audited");
    assert_eq!(verifies[0]["request"]["data"]["value"], h1.as_str());

    let server = bao.server_log();
    assert!(
        server.contains("version staged") && server.contains("version promoted"),
        "the plugin's lines about these operations reach the server log"
    );
    for k in [&k1, &k2] {
        assert!(!server.contains(k.as_str()), "a key value in server.log");
    }
}

// ---------------------------------------------------------------------------------------------
// 9. path-help and OpenAPI
// ---------------------------------------------------------------------------------------------

/// The PARAMETERS section of `bao path-help`: field name -> description.
fn help_parameters(text: &str) -> BTreeMap<String, String> {
    let mut fields = BTreeMap::new();
    let Some(start) = text.find("## PARAMETERS") else {
        return fields;
    };
    let section = &text[start + "## PARAMETERS".len()..];
    let section = &section[..section.find("## DESCRIPTION").unwrap_or(section.len())];
    let mut current: Option<String> = None;
    for line in section.lines() {
        if line.trim().is_empty() {
            continue;
        }
        if line.starts_with("        ") {
            let name = current.as_ref().expect("description after a field");
            let entry: &mut String = fields.get_mut(name).unwrap();
            entry.push_str(line.trim());
            entry.push(' ');
        } else if let Some(header) = line.strip_prefix("    ") {
            let name = header.split(' ').next().unwrap().to_owned();
            assert!(
                header.contains('(') && header.ends_with(')'),
                "field header {header:?} has a type"
            );
            fields.insert(name.clone(), String::new());
            current = Some(name);
        } else {
            panic!("unexpected line in PARAMETERS: {line:?}\n{text}");
        }
    }
    fields
}

/// What the OpenAPI document must say about one path: (template, operations, path parameters,
/// body parameters of its POST).
type OpenApiPath = (
    &'static str,
    &'static [&'static str],
    &'static [&'static str],
    &'static [&'static str],
);

/// Every path of api.md except providers/, with the fields it must document.
const PATH_FIELDS: &[(&str, &[&str])] = &[
    (
        "keys/x",
        &[
            "name",
            "value",
            "created_time",
            "provider",
            "schedule",
            "rotation_period",
            "grace_period",
            "auto_rotate",
            "custom_metadata",
        ],
    ),
    ("creds/x", &["name"]),
    ("stage/x", &["name", "value", "rotation_id"]),
    ("test/x", &["name", "version"]),
    ("promote/x", &["name", "grace_period", "force"]),
    ("rollback/x", &["name"]),
    (
        "rotate/x",
        &["name", "value", "grace_period", "rotation_id"],
    ),
    ("verify/x", &["name", "value"]),
    ("history/x", &["name"]),
    ("overdue", &["max_age"]),
    ("metrics", &[]),
    (
        "schedules/x",
        &["name", "rotation_period", "grace_period", "rotation_window"],
    ),
    (
        "config",
        &[
            "default_schedule",
            "require_separate_approver",
            "history_limit",
        ],
    ),
];

#[tokio::test]
async fn path_help_and_openapi_document_every_path() {
    let bao = Bao::start().await;
    for (path, expected) in PATH_FIELDS {
        let text = cli_ok(&bao, &["path-help", &format!("ai-keys/{path}")]);
        let mut lines = text.lines();
        let request = lines.next().unwrap_or_default();
        assert_eq!(
            request.split_whitespace().collect::<Vec<_>>(),
            ["Request:", path],
            "{text}"
        );
        assert!(
            lines
                .next()
                .unwrap_or_default()
                .starts_with("Matching Route: ^"),
            "{text}"
        );
        let synopsis = text.lines().nth(3).unwrap_or_default();
        assert!(
            !synopsis.trim().is_empty(),
            "a synopsis for {path}:\n{text}"
        );
        let description = text
            .split("## DESCRIPTION")
            .nth(1)
            .unwrap_or_else(|| panic!("no DESCRIPTION for {path}:\n{text}"));
        assert!(description.trim().len() > 20, "{path}:\n{text}");

        let documented = help_parameters(&text);
        for field in *expected {
            let help = documented
                .get(*field)
                .unwrap_or_else(|| panic!("path-help {path} does not document {field}:\n{text}"));
            assert!(help.trim().len() > 5, "{path} {field}: {help:?}");
        }
        for (field, help) in &documented {
            assert!(!help.trim().is_empty(), "{path} {field} has no description");
        }
    }

    let spec = read_openapi(&bao).await;
    let expected: &[OpenApiPath] = &[
        (
            "/ai-keys/keys/{name}",
            &["get", "post", "delete"],
            &["name"],
            &[
                "value",
                "created_time",
                "provider",
                "schedule",
                "rotation_period",
                "grace_period",
                "auto_rotate",
                "custom_metadata",
            ],
        ),
        ("/ai-keys/keys/", &["get"], &[], &[]),
        ("/ai-keys/creds/{name}", &["get"], &["name"], &[]),
        (
            "/ai-keys/stage/{name}",
            &["post"],
            &["name"],
            &["value", "rotation_id"],
        ),
        ("/ai-keys/test/{name}", &["post"], &["name"], &["version"]),
        (
            "/ai-keys/promote/{name}",
            &["post"],
            &["name"],
            &["grace_period", "force"],
        ),
        ("/ai-keys/rollback/{name}", &["post"], &["name"], &[]),
        (
            "/ai-keys/rotate/{name}",
            &["post"],
            &["name"],
            &["value", "grace_period", "rotation_id"],
        ),
        ("/ai-keys/verify/{name}", &["post"], &["name"], &["value"]),
        ("/ai-keys/history/{name}", &["get"], &["name"], &[]),
        ("/ai-keys/overdue", &["get"], &[], &[]),
        ("/ai-keys/metrics", &["get"], &[], &[]),
        (
            "/ai-keys/schedules/{name}",
            &["get", "post", "delete"],
            &["name"],
            &["rotation_period", "grace_period", "rotation_window"],
        ),
        ("/ai-keys/schedules/", &["get"], &[], &[]),
        (
            "/ai-keys/config",
            &["get", "post"],
            &[],
            &[
                "default_schedule",
                "require_separate_approver",
                "history_limit",
            ],
        ),
    ];
    for (template, ops, path_params, body_params) in expected {
        let item = &spec["paths"][*template];
        assert!(
            item.is_object(),
            "{template} missing from the OpenAPI document"
        );
        for op in *ops {
            assert!(item[*op].is_object(), "{template} has no {op}: {item:#}");
        }
        let params: BTreeSet<&str> = item["parameters"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter(|p| p["in"] == "path" && p["required"] == true)
                    .filter_map(|p| p["name"].as_str())
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(
            params,
            path_params.iter().copied().collect(),
            "{template}: {item:#}"
        );
        if !body_params.is_empty() {
            let properties = request_properties(&spec, &item["post"]);
            for field in *body_params {
                let property = &properties[*field];
                assert!(
                    property.is_object(),
                    "{template} POST does not document {field}: {properties:#}"
                );
                assert!(
                    property["description"]
                        .as_str()
                        .is_some_and(|d| !d.is_empty()),
                    "{template} {field}: {property:#}"
                );
            }
        }
    }
    let list = &spec["paths"]["/ai-keys/keys/"]["get"]["parameters"];
    assert!(
        list.as_array()
            .is_some_and(|a| a.iter().any(|p| p["name"] == "list" && p["in"] == "query")),
        "keys/ is documented as a LIST: {list:#}"
    );
}

async fn read_openapi(bao: &Bao) -> Value {
    let reply = bao.client().read("sys/internal/specs/openapi").await;
    reply.expect_status(200);
    reply.body.clone()
}

/// The properties of an operation's JSON request body, following a `$ref` to components.
fn request_properties(spec: &Value, operation: &Value) -> Value {
    let schema = &operation["requestBody"]["content"]["application/json"]["schema"];
    match schema["$ref"].as_str() {
        Some(reference) => {
            let name = reference
                .strip_prefix("#/components/schemas/")
                .unwrap_or_else(|| panic!("unexpected $ref {reference}"));
            spec["components"]["schemas"][name]["properties"].clone()
        }
        None => schema["properties"].clone(),
    }
}

/// `overdue`'s `max_age` is a query parameter of its GET; OpenAPI should say so (Go's framework
/// does for fields marked `Query`), or generated clients cannot send it.
#[tokio::test]
async fn openapi_documents_the_overdue_max_age_query_parameter() {
    let bao = Bao::start().await;
    let spec = read_openapi(&bao).await;
    let item = &spec["paths"]["/ai-keys/overdue"];
    let params: Vec<&Value> = item["parameters"]
        .as_array()
        .into_iter()
        .chain(item["get"]["parameters"].as_array())
        .flatten()
        .collect();
    assert!(
        params
            .iter()
            .any(|p| p["name"] == "max_age" && p["in"] == "query"),
        "{item:#}"
    );
}

// ---------------------------------------------------------------------------------------------
// 10. Metrics
// ---------------------------------------------------------------------------------------------

/// One sample of the Prometheus text format.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

fn is_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn is_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A strict parser of the Prometheus text format 0.0.4: `# HELP name text`, `# TYPE name
/// kind`, and samples `name{k="v",...} value`; each family declares its TYPE once, before its
/// samples. Anything else (other comments, blank lines, malformed samples) is an error.
fn parse_prometheus(text: &str) -> Result<Vec<Sample>, String> {
    let mut samples = Vec::new();
    let mut helps = BTreeSet::new();
    let mut types: BTreeMap<String, String> = BTreeMap::new();
    if !text.ends_with('\n') {
        return Err("the body does not end with a newline".into());
    }
    for (n, line) in text.lines().enumerate() {
        let n = n + 1;
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest
                .split_once(' ')
                .ok_or(format!("line {n}: HELP without text: {line:?}"))?;
            if !is_metric_name(name) || help.trim().is_empty() || !helps.insert(name.to_owned()) {
                return Err(format!("line {n}: bad or repeated HELP: {line:?}"));
            }
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest
                .split_once(' ')
                .ok_or(format!("line {n}: TYPE without kind: {line:?}"))?;
            let known = ["counter", "gauge", "histogram", "summary", "untyped"];
            if !is_metric_name(name) || !known.contains(&kind) || types.contains_key(name) {
                return Err(format!("line {n}: bad or repeated TYPE: {line:?}"));
            }
            if samples.iter().any(|s: &Sample| s.name == name) {
                return Err(format!("line {n}: TYPE after samples of {name}"));
            }
            types.insert(name.to_owned(), kind.to_owned());
        } else {
            let sample = parse_sample(line).map_err(|e| format!("line {n}: {e}: {line:?}"))?;
            if !types.contains_key(&sample.name) {
                return Err(format!("line {n}: sample of {} without TYPE", sample.name));
            }
            samples.push(sample);
        }
    }
    Ok(samples)
}

fn parse_sample(line: &str) -> Result<Sample, String> {
    let name_end = line.find(['{', ' ']).ok_or("neither labels nor a value")?;
    let name = &line[..name_end];
    if !is_metric_name(name) {
        return Err(format!("bad metric name {name:?}"));
    }
    let mut labels = BTreeMap::new();
    let mut rest = &line[name_end..];
    if let Some(body) = rest.strip_prefix('{') {
        let mut chars = body.char_indices().peekable();
        let close;
        loop {
            let (start, c) = chars.next().ok_or("unterminated labels")?;
            if c == '}' {
                close = start;
                break;
            }
            let eq = body[start..].find('=').ok_or("label without =")? + start;
            let label = &body[start..eq];
            if !is_label_name(label) {
                return Err(format!("bad label name {label:?}"));
            }
            while chars.peek().is_some_and(|&(i, _)| i <= eq) {
                chars.next();
            }
            if chars.next().map(|(_, c)| c) != Some('"') {
                return Err("label value not quoted".into());
            }
            let mut value = String::new();
            loop {
                match chars.next().ok_or("unterminated label value")?.1 {
                    '"' => break,
                    '\\' => match chars.next().ok_or("dangling escape")?.1 {
                        '\\' => value.push('\\'),
                        '"' => value.push('"'),
                        'n' => value.push('\n'),
                        other => return Err(format!("bad escape \\{other}")),
                    },
                    '\n' => return Err("newline in a label value".into()),
                    c => value.push(c),
                }
            }
            if labels.insert(label.to_owned(), value).is_some() {
                return Err(format!("repeated label {label}"));
            }
            match chars.peek() {
                Some(&(_, ',')) => {
                    chars.next();
                }
                Some(&(_, '}')) => {}
                _ => return Err("expected , or } after a label".into()),
            }
        }
        rest = &body[close + 1..];
    }
    let rest = rest
        .strip_prefix(' ')
        .ok_or("expected one space before the value")?;
    let mut parts = rest.split(' ');
    let value_text = parts.next().unwrap_or_default();
    let number = regex::Regex::new(r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$")
        .expect("number pattern");
    let value = match value_text {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        "NaN" => f64::NAN,
        v if number.is_match(v) => v
            .parse::<f64>()
            .map_err(|e| format!("bad value {v:?}: {e}"))?,
        v => return Err(format!("bad value {v:?}")),
    };
    if let Some(timestamp) = parts.next() {
        timestamp
            .parse::<i64>()
            .map_err(|_| format!("bad timestamp {timestamp:?}"))?;
    }
    if parts.next().is_some() {
        return Err("trailing fields".into());
    }
    Ok(Sample {
        name: name.to_owned(),
        labels,
        value,
    })
}

#[test]
fn prometheus_parser_is_strict() {
    let good = "# HELP a_total Things.\n# TYPE a_total counter\na_total{key=\"x\",o=\"q\\\"\"} 3\n";
    let samples = parse_prometheus(good).unwrap();
    assert_eq!(samples.len(), 1);
    assert_eq!(samples[0].labels["o"], "q\"");
    assert_eq!(samples[0].value, 3.0);
    for bad in [
        "a_total 1\n",                           // no TYPE
        "# TYPE a gauge\na{k=\"v\"}  1\n",       // two spaces
        "# TYPE a gauge\na{k=v} 1\n",            // unquoted
        "# TYPE a gauge\na{k=\"v\"} one\n",      // not a number
        "# TYPE a gauge\n\na 1\n",               // blank line
        "# TYPE a gauge\n# a comment\na 1\n",    // other comment
        "# TYPE a gauge\na{k=\"v\" 1\n",         // unterminated
        "# TYPE a gauge\n# TYPE a gauge\na 1\n", // repeated TYPE
        "# TYPE a gauge\na 1",                   // no final newline
        "# TYPE a gauge\na{1k=\"v\"} 1\n",       // bad label name
        "# TYPE a gauge\na{k=\"v\"} 1 2 3\n",    // trailing fields
    ] {
        assert!(parse_prometheus(bad).is_err(), "accepted {bad:?}");
    }
}

#[tokio::test]
async fn metrics_are_prometheus_text_through_the_http_api() {
    let bao = Bao::start().await;
    let client = bao.client();
    rotate_by_steps(&client, &secret("k1"), &secret("k2"), "1h").await;

    let scraper = bao
        .client_with_token("")
        .with_header("Authorization", "Bearer root");
    let reply = scraper.read("ai-keys/metrics").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        reply.headers["content-type"].to_str().unwrap(),
        "text/plain; version=0.0.4"
    );
    let samples = parse_prometheus(&reply.text)
        .unwrap_or_else(|e| panic!("not Prometheus text: {e}\n{}", reply.text));
    let get = |name: &str, labels: &[(&str, &str)]| -> f64 {
        let want: BTreeMap<String, String> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let found: Vec<&Sample> = samples
            .iter()
            .filter(|s| s.name == name && s.labels == want)
            .collect();
        assert_eq!(found.len(), 1, "{name}{want:?} in:\n{}", reply.text);
        found[0].value
    };
    assert!(reply.text.contains("ai_keys_rotations_total{key=\"app\"}"));
    assert_eq!(get("ai_keys_rotations_total", &[("key", "app")]), 1.0);
    assert_eq!(
        get(
            "ai_keys_test_outcomes_total",
            &[("key", "app"), ("outcome", "skipped")]
        ),
        1.0
    );
    assert_eq!(get("ai_keys_versions_in_grace", &[("key", "app")]), 1.0);
    assert_eq!(get("ai_keys_overdue", &[("key", "app")]), 0.0);
    let age = get("ai_keys_current_version_age_seconds", &[("key", "app")]);
    assert!((0.0..60.0).contains(&age), "age {age}");

    let anonymous = bao.client_with_token("").read("ai-keys/metrics").await;
    assert_eq!(
        anonymous.status, 403,
        "metrics need a token: {}",
        anonymous.text
    );
}

// ---------------------------------------------------------------------------------------------
// 11. Concurrency
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_stages_admit_exactly_one() {
    let bao = Bao::start().await;
    let client = bao.client();
    create_key(&client, "app", &secret("k1"), json!({})).await;

    let values: Vec<String> = (0..10).map(|i| secret(&format!("c{i}"))).collect();
    let replies = futures::future::join_all(values.iter().map(|value| {
        let client = client.clone();
        let value = value.clone();
        async move {
            client
                .write("ai-keys/stage/app", json!({ "value": value }))
                .await
        }
    }))
    .await;
    let statuses: Vec<u16> = replies.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses.iter().filter(|&&s| s == 200).count(),
        1,
        "exactly one stage wins: {statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|&&s| s == 400).count(),
        9,
        "the others are refused: {statuses:?}"
    );
    let winner = replies.iter().position(|r| r.status == 200).unwrap();
    for reply in replies.iter().filter(|r| r.status == 400) {
        expect_error(
            reply,
            400,
            &["version 2", "already pending"],
            "losing stage",
        );
    }

    let key = read_ok(&client, "ai-keys/keys/app").await;
    assert_eq!(key["pending_version"], 2, "{key:#}");
    let versions = key["versions"].as_object().unwrap();
    assert_eq!(
        versions.len(),
        2,
        "no version left by a refused stage: {key:#}"
    );
    let pending = versions
        .values()
        .filter(|v| v["state"] == "pending")
        .count();
    assert_eq!(pending, 1, "{key:#}");
    assert_valid(
        &verify(&client, "app", &values[winner]).await,
        2,
        "pending",
        "the winner's value",
    );
    let events = history(&client, "app").await;
    assert_eq!(event_names(&events), ["staged", "created"], "{events:#?}");
}

// ---------------------------------------------------------------------------------------------
// 12. Persistence across a plugin reload
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn state_survives_a_plugin_reload() {
    let bao = Bao::start().await;
    let client = bao.client();
    let (k1, k2) = (secret("k1"), secret("k2"));
    rotate_by_steps(&client, &k1, &k2, "1h").await;
    let creds = read_ok(&client, "ai-keys/creds/app").await;
    let events = history(&client, "app").await;
    let key = read_ok(&client, "ai-keys/keys/app").await;
    let before = bao.plugin_pids();
    assert!(!before.is_empty(), "a plugin process serves the mount");

    let out = cli_ok(&bao, &["plugin", "reload", "-mounts=ai-keys/"]);
    assert!(out.contains("Success"), "{out}");

    // The reload really replaced the plugin process.
    let after = read_ok(&client, "ai-keys/creds/app").await;
    bao.wait_for("the old plugin process to exit", POLL_LIMIT, || {
        before.iter().all(|&pid| !process::is_alive(pid))
    })
    .await;
    let now_running = bao.plugin_pids();
    assert!(
        !now_running.is_empty() && now_running.iter().all(|p| !before.contains(p)),
        "a new plugin process: before {before:?}, after {now_running:?}"
    );

    let strip_ttl = |v: &Value| {
        let mut v = v.clone();
        v.as_object_mut().unwrap().remove("ttl");
        v
    };
    assert_eq!(strip_ttl(&after), strip_ttl(&creds));
    assert_eq!(after["api_key"], k2.as_str());
    assert_eq!(after["previous_api_key"], k1.as_str());
    let ttl = after["ttl"].as_i64().unwrap();
    assert!(
        ttl > 0 && ttl <= creds["ttl"].as_i64().unwrap(),
        "ttl {ttl}"
    );
    assert_eq!(history(&client, "app").await, events);
    assert_eq!(read_ok(&client, "ai-keys/keys/app").await, key);
    assert_valid(
        &verify(&client, "app", &k1).await,
        1,
        "previous",
        "K1 after reload",
    );
}
