//! `overdue` against imported creation times, `history` with actors and request ids matched
//! against the audit log, and the fresh history of a key created again.

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use serde_json::{json, Value};

use crate::rotation::{
    audit_entries, cli_data, create_key, event_names, rotate_by_steps, time, POLL_LIMIT,
};
use crate::support::checks::{history, read_ok, secret, token_with_policy};
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
            "rejected": false,
            "current_key_rejected_time": null,
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

/// A key deleted and created again under the same name is a new key: its history starts at its
/// own created event, and links the old one (kept whole, read with `incarnation=1`), naming
/// the token that deleted it.
#[tokio::test]
async fn a_key_created_again_starts_a_fresh_history_and_the_old_one_stays_readable() {
    let bao = Bao::start().await;
    let client = bao.client();
    rotate_by_steps(&client, &secret("k1"), &secret("k2"), "1h").await;
    let old_events = history(&client, "app").await;
    let deleter = bao.client_with_token(
        &token_with_policy(
            &bao,
            "deleter",
            r#"path "ai-keys/keys/*" { capabilities = ["delete"] }
               path "auth/token/lookup-self" { capabilities = ["read"] }"#,
        )
        .await,
    );
    let who = read_ok(&deleter, "auth/token/lookup-self").await;
    let reply = deleter.delete("ai-keys/keys/app").await;
    assert_eq!(reply.status, 204, "{}", reply.text);
    let deleted = read_ok(&client, "ai-keys/history/app").await;
    assert_eq!(deleted["incarnation"], 1, "{deleted:#}");
    assert_eq!(
        event_names(&deleted["events"].as_array().unwrap()[..1]),
        ["deleted"]
    );

    let created = create_key(&client, "app", &secret("k3"), json!({})).await;
    let fresh = read_ok(&client, "ai-keys/history/app").await;
    assert_eq!(fresh["incarnation"], 2, "{fresh:#}");
    let events = fresh["events"].as_array().unwrap();
    assert_eq!(event_names(events), ["created"], "{fresh:#}");
    assert_eq!(events[0]["version"], 1);
    assert_eq!(created.data()["current_version"], 1);
    let link = &fresh["previous_history"];
    assert_eq!(link["incarnation"], 1, "{fresh:#}");
    assert_eq!(
        link["deleted_by"],
        json!({
            "entity_id": who["entity_id"],
            "display_name": who["display_name"],
            "accessor": who["accessor"],
        }),
        "{fresh:#}"
    );
    assert_eq!(link["deleted_time"], deleted["events"][0]["time"]);

    let old = read_ok(&client, "ai-keys/history/app?incarnation=1").await;
    let old = old["events"].as_array().unwrap();
    assert_eq!(old[3..], old_events[..], "the old history changed");
    assert_eq!(event_names(&old[..3]), ["deleted", "revoked", "revoked"]);
    assert_eq!(old[0]["actor"]["accessor"], who["accessor"]);
    // The CLI reads it too.
    let cli = cli_data(
        &bao,
        &[
            "read",
            "-format=json",
            "ai-keys/history/app",
            "incarnation=1",
        ],
    );
    assert_eq!(cli["events"].as_array().unwrap().len(), old.len());
}
