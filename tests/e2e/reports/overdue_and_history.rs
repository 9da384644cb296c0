//! `overdue` against imported creation times, and `history` with actors and request
//! ids matched against the audit log.

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use serde_json::{json, Value};

use crate::rotation::{
    audit_entries, cli_data, create_key, event_names, rotate_by_steps, time, POLL_LIMIT,
};
use crate::support::checks::{history, read_ok, secret};
use crate::support::{Bao, Client};

/// The token's own `auth/token/lookup-self` data.
async fn lookup_self(client: &Client) -> Value {
    read_ok(client, "auth/token/lookup-self").await
}

// ---------------------------------------------------------------------------------------------
// overdue
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
// history
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
