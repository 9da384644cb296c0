//! `report`: the history summary on crafted histories, the CSV form, and the path through the
//! engine.

use std::collections::BTreeMap;

use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

use super::{summarize, to_csv};
use crate::backend::record::Actor;
use crate::backend::record::HistoryEvent;
use crate::backend::testing::{expect_bad_request, FakeTokenEndpoint, Harness};
use crate::framework::Operation;

fn ago(now: DateTime<Utc>, days: i64) -> DateTime<Utc> {
    now - Duration::days(days)
}

fn event(time: DateTime<Utc>, event: &str, version: u32, actor: Actor) -> HistoryEvent {
    HistoryEvent {
        time,
        event: event.into(),
        version: Some(version),
        actor,
        request_id: None,
        outcome: (event == "tested").then(|| "passed".to_string()),
        detail: String::new(),
    }
}

fn person(name: &str) -> Actor {
    Actor::Client {
        entity_id: format!("ent-{name}"),
        display_name: format!("userpass-{name}"),
        accessor: format!("acc-{name}"),
    }
}

/// v1 created 400 days ago and current until day 300 (age then 100 days), v2 created on day
/// 301 and current until day 100 (age then 201 days), v3 created on day 101, current now.
fn three_versions(now: DateTime<Utc>) -> (Vec<HistoryEvent>, BTreeMap<u32, DateTime<Utc>>) {
    let events = vec![
        event(ago(now, 400), "created", 1, person("admin")),
        event(ago(now, 301), "staged", 2, person("op")),
        event(ago(now, 300), "promoted", 2, person("approver")),
        event(ago(now, 101), "staged", 3, Actor::Scheduler),
        event(ago(now, 101), "tested", 3, Actor::Scheduler),
        event(ago(now, 100), "promoted", 3, Actor::Scheduler),
        event(ago(now, 50), "failed", 4, Actor::Scheduler),
    ];
    // The record no longer holds v1 (trimmed): its first event counts as its creation.
    let created = BTreeMap::from([(2, ago(now, 301)), (3, ago(now, 101))]);
    (events, created)
}

#[test]
fn a_year_sees_every_current_version_at_its_oldest() {
    let now = Utc::now();
    let (events, created) = three_versions(now);
    let s = summarize(&events, &created, ago(now, 365), now);
    assert_eq!(s.oldest_age_secs, Some(201 * 86_400));
    assert_eq!(s.rotations, 2);
    assert_eq!(s.failed_rotations, 1);
    let (t, v, outcome) = s.last_test.clone().unwrap();
    assert_eq!((t, v, outcome.as_str()), (ago(now, 101), Some(3), "passed"));
    let who: Vec<Value> = s.promotions.iter().map(|(_, _, a)| a.clone()).collect();
    assert_eq!(who[0]["display_name"], "userpass-approver");
    assert_eq!(who[1], json!("scheduler"));
}

#[test]
fn a_short_window_ignores_versions_retired_before_it() {
    let now = Utc::now();
    let (events, created) = three_versions(now);
    let s = summarize(&events, &created, ago(now, 30), now);
    // Only v3 was current in the last 30 days; its promotion is older than the window.
    assert_eq!(s.oldest_age_secs, Some(101 * 86_400));
    assert_eq!(s.rotations, 0);
    assert!(s.promotions.is_empty());
    assert_eq!(s.failed_rotations, 0);
    // v2 was current at the window's start of a 150-day window: counted to its last day.
    let s = summarize(&events, &created, ago(now, 150), now);
    assert_eq!(s.oldest_age_secs, Some(201 * 86_400));
    assert_eq!(s.rotations, 1);
}

#[test]
fn a_rollback_makes_the_replaced_version_current_again() {
    let now = Utc::now();
    let events = vec![
        event(ago(now, 200), "created", 1, person("admin")),
        event(ago(now, 10), "promoted", 2, person("approver")),
        event(ago(now, 9), "rolled_back", 2, person("op")),
        event(ago(now, 9), "revoked", 2, person("op")),
        event(ago(now, 5), "staged", 3, person("op")),
        event(ago(now, 4), "rolled_back", 3, person("op")),
        event(ago(now, 4), "failed", 3, person("op")),
    ];
    let created = BTreeMap::from([(1, ago(now, 250)), (2, ago(now, 11))]);
    let s = summarize(&events, &created, ago(now, 365), now);
    // v1 (created 250 days ago, imported with its real creation time) is current again now.
    assert_eq!(s.oldest_age_secs, Some(250 * 86_400));
    assert_eq!(s.rotations, 1);
    // A pending version the operator withdrew is no failed rotation.
    assert_eq!(s.failed_rotations, 0);
}

/// A failed rotation attempt names the number its version was to get: the version that takes
/// the number later is as old as its own stage, and its revocation was requested when it was
/// retired, not when the attempt failed.
#[test]
fn a_failed_attempt_does_not_date_the_version_that_takes_its_number() {
    let now = Utc::now();
    let events = vec![
        event(ago(now, 40), "created", 1, person("admin")),
        event(ago(now, 39), "failed", 2, Actor::Scheduler),
        event(ago(now, 5), "staged", 2, Actor::Scheduler),
        event(ago(now, 5), "promoted", 2, Actor::Scheduler),
    ];
    let s = summarize(&events, &BTreeMap::new(), ago(now, 365), now);
    // v1 was current 35 days; v2 is 5 days old, not 39.
    assert_eq!(s.oldest_age_secs, Some(35 * 86_400));
    let events = vec![
        event(ago(now, 40), "created", 1, person("admin")),
        event(ago(now, 39), "failed", 2, Actor::Scheduler),
        event(ago(now, 5), "staged", 2, Actor::Scheduler),
        event(ago(now, 4), "failed", 2, Actor::Scheduler),
        event(ago(now, 3), "provider_revoked", 2, Actor::Scheduler),
    ];
    let versions = crate::rotation::KeyVersions {
        versions: BTreeMap::new(),
        next_version: 3,
        reinstatement: None,
        withdrawn: None,
    };
    let (confirmed, _) = super::revocations::revocations(&versions, &events);
    assert_eq!(
        confirmed[0]["requested_time"],
        crate::backend::view::time(ago(now, 4)),
        "{confirmed:?}"
    );
}

#[test]
fn csv_quotes_what_needs_quoting() {
    let keys = vec![json!({
        "key": "a,b", "schedule": "say \"hi\"", "rotation_period_days": 90,
        "current_version": 2, "current_age_days": 3, "oldest_age_days": 95,
        "within_period": false, "rotations": 1, "failed_rotations": 0,
        "last_test": null, "versions_in_grace": [{ "version": 1 }],
        "revocations_confirmed": [], "revocations_pending": [{ "version": 0 }],
        "promoted_by": [{ "version": 2, "actor": { "display_name": "userpass-bob" } }],
        "revocations_manual": [{ "version": 3 }, { "version": 4 }], "revocations_acknowledged": [],
        "federated": false,
    })];
    let csv = to_csv(&keys);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0].split(',').count(), 26);
    assert_eq!(
        lines[1],
        "\"a,b\",\"say \"\"hi\"\"\",90,2,3,95,false,1,0,,,1,,0,v2:userpass-bob,3;4,,false,,,,,false,,,"
    );
}

/// Every flag the JSON row has, the CSV has too: `rejected` with its time, and the leak in
/// force (`exposed`, its version, time and `withdrawn`); the report's JSON and CSV agree.
#[test]
fn csv_has_a_column_for_every_flag_of_the_json() {
    let keys = vec![json!({
        "key": "k", "federated": false, "rejected": true,
        "current_key_rejected_time": "2026-01-02T03:04:05Z",
        "exposed": { "version": 3, "time": "2026-01-01T00:00:00Z", "source": "s", "reason": "r",
                     "withdrawn": true },
    })];
    let csv = to_csv(&keys);
    let lines: Vec<&str> = csv.lines().collect();
    assert!(
        lines[0].ends_with(
            ",rejected,current_key_rejected_time,exposed,exposed_version,exposed_time,exposed_withdrawn"
        ),
        "{csv}"
    );
    assert!(
        lines[1].ends_with(",true,2026-01-02T03:04:05Z,true,3,2026-01-01T00:00:00Z,true"),
        "{csv}"
    );
    // Every top-level flag of a JSON row names a column.
    for flag in ["federated", "rejected", "exposed"] {
        assert!(lines[0].split(',').any(|c| c == flag), "{flag}: {csv}");
    }
}

async fn report(h: &Harness, query: Value) -> Result<Value, crate::framework::Error> {
    let r = h.call(Operation::Read, "report", query).await?;
    Ok(Value::Object(r.expect("a response").data))
}

#[tokio::test]
async fn report_through_the_engine_names_who_promoted() {
    let h = Harness::new().await;
    h.create_key("team-a-k", "sk-old-value-000000000000").await;
    h.create_key("team-b-k", "sk-other-value-0000000000").await;
    h.call_as(
        "op",
        Operation::Update,
        "stage/team-a-k",
        json!({ "value": "sk-new-value-00000000000" }),
    )
    .await
    .unwrap();
    h.call_as("op", Operation::Update, "test/team-a-k", json!({}))
        .await
        .unwrap();
    h.call_as("bob", Operation::Update, "promote/team-a-k", json!({}))
        .await
        .unwrap();

    let r = report(&h, json!({ "prefix": "team-a-" })).await.unwrap();
    let keys = r["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1, "{r:#}");
    let k = &keys[0];
    assert_eq!(k["key"], "team-a-k");
    assert_eq!(k["schedule"], "production");
    assert_eq!(k["current_version"], 2);
    assert_eq!(k["current_age_days"], 0);
    assert_eq!(k["within_period"], true);
    assert_eq!(k["rotations"], 1);
    assert_eq!(k["failed_rotations"], 0);
    assert_eq!(k["last_test"]["outcome"], "skipped");
    assert_eq!(k["versions_in_grace"][0]["version"], 1);
    assert_eq!(k["promoted_by"][0]["version"], 2);
    assert_eq!(k["promoted_by"][0]["actor"]["display_name"], "userpass-bob");
    assert!(
        !r.to_string().contains("sk-"),
        "no value in the report: {r}"
    );

    let all = report(&h, json!({})).await.unwrap();
    assert_eq!(all["keys"].as_array().unwrap().len(), 2);

    let csv = report(&h, json!({ "format": "csv" })).await.unwrap();
    assert_eq!(csv["http_content_type"], "text/csv");
    let body = base64::engine::general_purpose::STANDARD
        .decode(csv["http_raw_body"].as_str().unwrap())
        .unwrap();
    let body = String::from_utf8(body).unwrap();
    assert!(body.starts_with("key,schedule,"), "{body}");
    assert!(body.contains("team-a-k,production,"), "{body}");
    assert!(body.contains("v2:userpass-bob"), "{body}");

    let msg = expect_bad_request(report(&h, json!({ "format": "xml" })).await);
    assert!(msg.contains("format"), "{msg}");
    let msg = expect_bad_request(report(&h, json!({ "window": "0s" })).await);
    assert!(msg.contains("window"), "{msg}");
}

/// Confirmed revocations come from the whole history, not only the retired versions the record
/// keeps (the newest ten): twelve emergency rotations of a key whose provider creates and
/// revokes keys list all twelve confirmed revocations (before, the report showed ten).
#[tokio::test]
async fn confirmed_revocations_come_from_the_whole_history() {
    use crate::backend::testing::{created_at, with_key, FakeOpenRouter};

    let h = with_key().await;
    let fake = FakeOpenRouter::start(200).await;
    let config = json!({ "type": "openrouter", "base_url": fake.base_url, "admin_key": "sk-or-v1-admin-0123456789abcdef" });
    created_at(&h, "or", config, "hash-0").await;
    for _ in 0..12 {
        h.write("rotate/k", json!({ "grace_period": 0 }))
            .await
            .unwrap();
    }
    let r = report(&h, json!({})).await.unwrap();
    let k = &r["keys"][0];
    let confirmed: Vec<u64> = k["revocations_confirmed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["version"].as_u64().unwrap())
        .collect();
    assert_eq!(confirmed, (1..=12).collect::<Vec<u64>>(), "{k}");
    assert!(
        k["revocations_pending"].as_array().unwrap().is_empty(),
        "{k}"
    );
    assert!(
        k["revocations_confirmed"][0]["requested_time"].is_string(),
        "{k}"
    );
}

/// A federated key has a row of its own: federated, its provider and its exchanges on this node
/// (failures by outcome), in JSON and in the CSV's last columns; valued keys say federated false.
#[tokio::test]
async fn report_has_a_row_per_federated_key_with_its_exchange_counts() {
    let h = Harness::new().await;
    let fake = FakeTokenEndpoint::start().await;
    fake.federated_key(&h, "fed").await;
    h.create_key("valued", "sk-valued-0123456789").await;
    h.read("creds/fed").await;
    fake.answer(400);
    h.write("keys/fed", json!({"subject": "ai-keys:fed2"}))
        .await
        .unwrap();
    let err = h.call(Operation::Read, "creds/fed", Value::Null).await;
    assert_eq!(err.unwrap_err().status(), 502);

    let r = report(&h, json!({})).await.unwrap();
    let keys = r["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2, "{r}");
    assert_eq!(keys[0]["key"], "valued");
    assert_eq!(keys[0]["federated"], false);
    let fed = &keys[1];
    assert_eq!(
        (fed["key"].clone(), fed["federated"].clone()),
        (json!("fed"), json!(true))
    );
    assert_eq!(fed["provider"], "oa");
    assert_eq!(fed["exchanges"]["ok"], 1);
    assert_eq!(
        fed["exchanges"]["failed"],
        json!({"bad_key": 1, "provider_unavailable": 0})
    );
    assert!(fed["exchanges"]["last_error"]
        .as_str()
        .unwrap()
        .contains("bad_key"));
    assert!(!r.to_string().contains("fake-access-token"), "{r}");
    let only = report(&h, json!({"prefix": "val"})).await.unwrap();
    assert_eq!(only["keys"].as_array().unwrap().len(), 1);

    let csv = report(&h, json!({ "format": "csv" })).await.unwrap();
    let body = base64::engine::general_purpose::STANDARD
        .decode(csv["http_raw_body"].as_str().unwrap())
        .unwrap();
    let body = String::from_utf8(body).unwrap();
    let lines: Vec<&str> = body.lines().collect();
    assert!(
        lines[0].contains(",federated,exchanges_ok,exchanges_failed,"),
        "{body}"
    );
    // A federated key holds no value: no health check, no leak.
    assert!(
        lines[2].starts_with("fed,") && lines[2].ends_with(",true,1,1,,,,,,"),
        "{body}"
    );
    assert!(lines[1].ends_with(",false,,,false,,false,,,"), "{body}");
}
