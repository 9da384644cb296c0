//! Path tests on in-memory storage.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::backend::testing::{expect_bad_request, Harness};
use crate::framework::Operation;

const OLD: &str = "sk-test-ORIGINAL-0123456789abcdef";

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[tokio::test]
async fn create_requires_value() {
    let h = Harness::new().await;
    let before = h.snapshot().await;
    for body in [json!({}), json!({"value": null}), json!({"provider": null})] {
        let msg = expect_bad_request(h.create("keys/k", body.clone()).await);
        assert!(msg.contains("value"), "{body}: {msg}");
    }
    assert_eq!(h.snapshot().await, before);
}

#[tokio::test]
async fn invalid_values_are_400_without_echoing_the_value() {
    let h = Harness::new().await;
    let before = h.snapshot().await;
    let long = format!("sk-LONGSECRET-{}", "x".repeat(4100));
    let at_limit = format!("sk-{}", "y".repeat(4093));
    assert_eq!(at_limit.len(), 4096);
    for value in [
        String::new(),
        long.clone(),
        "sk-SECRET-with\nnewline".to_string(),
        "sk-SECRET-with\ttab".to_string(),
        "sk-SECRET-with\u{7f}del".to_string(),
        "sk-SECRET-with\u{0}nul".to_string(),
    ] {
        let msg = expect_bad_request(h.create("keys/k", json!({ "value": value })).await);
        assert!(msg.contains("value"), "{msg}");
        if !value.is_empty() {
            assert!(!msg.contains("SECRET"), "message echoes the value: {msg}");
        }
        assert!(!msg.contains("xxxxxxxx"), "message echoes the value");
    }
    assert_eq!(h.snapshot().await, before);
    // exactly 4096 bytes is fine
    h.create("keys/k", json!({ "value": at_limit }))
        .await
        .unwrap();
}

#[tokio::test]
async fn unknown_provider_or_schedule_is_400_naming_it() {
    let h = Harness::new().await;
    let before = h.snapshot().await;
    for (body, word) in [
        (
            json!({"value": OLD, "provider": "nosuch-provider"}),
            "nosuch-provider",
        ),
        (
            json!({"value": OLD, "schedule": "nosuch-schedule"}),
            "nosuch-schedule",
        ),
    ] {
        let msg = expect_bad_request(h.create("keys/k", body.clone()).await);
        assert!(msg.contains(word), "{body}: {msg}");
        assert!(!msg.contains(OLD), "{msg}");
    }
    assert_eq!(h.snapshot().await, before);
}

#[tokio::test]
async fn auto_rotate_without_a_provider_that_can_create_is_400() {
    let h = Harness::new().await;
    let before = h.snapshot().await;
    for flag in [json!(true), json!("true")] {
        let msg = expect_bad_request(
            h.create("keys/k", json!({"value": OLD, "auto_rotate": flag}))
                .await,
        );
        assert!(msg.contains("auto_rotate"), "{msg}");
    }
    assert_eq!(h.snapshot().await, before);
    // and on update
    h.create_key("k", OLD).await;
    let before = h.snapshot().await;
    let msg = expect_bad_request(h.write("keys/k", json!({"auto_rotate": true})).await);
    assert!(msg.contains("auto_rotate"), "{msg}");
    assert_eq!(h.snapshot().await, before);
    assert_eq!(h.read("keys/k").await["auto_rotate"], false);
}

#[tokio::test]
async fn imported_created_time_sets_the_age() {
    let h = Harness::new().await;
    let created = Utc::now() - Duration::days(45);
    let out = h
        .create(
            "keys/k",
            json!({"value": OLD, "created_time": rfc3339(created)}),
        )
        .await
        .unwrap();
    assert_eq!(out["age_days"], 45, "{out}");
    let k = h.read("keys/k").await;
    assert_eq!(k["age_days"], 45);
    assert_eq!(k["versions"]["1"]["created_time"], rfc3339(created));
    // production: 90 days, so not yet overdue
    assert_eq!(k["overdue"], false);
    assert_eq!(k["overdue_days"], 0);
    assert_eq!(
        k["next_rotation_time"],
        rfc3339(created + Duration::days(90))
    );
}

#[tokio::test]
async fn created_time_in_the_future_is_400() {
    let h = Harness::new().await;
    let before = h.snapshot().await;
    let msg = expect_bad_request(
        h.create(
            "keys/k",
            json!({"value": OLD, "created_time": rfc3339(Utc::now() + Duration::days(1))}),
        )
        .await,
    );
    assert!(msg.contains("created_time"), "{msg}");
    let msg = expect_bad_request(
        h.create("keys/k", json!({"value": OLD, "created_time": "yesterday"}))
            .await,
    );
    assert!(msg.contains("created_time"), "{msg}");
    assert_eq!(h.snapshot().await, before);
}

#[tokio::test]
async fn read_never_contains_the_value_and_shows_the_fingerprint() {
    let h = Harness::new().await;
    let created = h
        .create(
            "keys/k",
            json!({"value": OLD, "custom_metadata": {"owner": "team-a"}}),
        )
        .await
        .unwrap();
    let k = h.read("keys/k").await;
    for doc in [&created, &k] {
        let text = serde_json::to_string(doc).unwrap();
        assert!(!text.contains(OLD), "value leaked: {text}");
        assert!(!text.contains("ORIGINAL"), "value leaked: {text}");
    }
    let digest = hex::encode(Sha256::digest(OLD.as_bytes()));
    assert_eq!(
        k["versions"]["1"]["fingerprint"],
        format!("sha256:{}", &digest[..16])
    );
    assert_eq!(k["name"], "k");
    assert_eq!(k["schedule"], "production");
    assert_eq!(k["provider"], Value::Null);
    assert_eq!(k["current_version"], 1);
    assert_eq!(k["pending_version"], Value::Null);
    assert_eq!(k["last_error"], Value::Null);
    assert_eq!(k["versions"]["1"]["state"], "current");
    assert_eq!(k["custom_metadata"], json!({"owner": "team-a"}));
    assert_eq!(k["rotation_period"], 90 * 86_400);
    assert_eq!(k["grace_period"], 48 * 3_600);
    // neither the history
    let history = serde_json::to_string(&h.history("k").await).unwrap();
    assert!(!history.contains(OLD), "{history}");
}

#[tokio::test]
async fn update_with_value_is_refused_pointing_to_rotation_and_changes_nothing() {
    let h = Harness::new().await;
    h.create_key("k", OLD).await;
    let before = h.snapshot().await;
    let msg = expect_bad_request(
        h.write(
            "keys/k",
            json!({"value": "sk-test-REPLACEMENT-1", "custom_metadata": {"a": "b"}}),
        )
        .await,
    );
    assert!(msg.contains("stage/") && msg.contains("rotate/"), "{msg}");
    assert!(!msg.contains("REPLACEMENT"), "{msg}");
    assert_eq!(h.snapshot().await, before);
    let msg = expect_bad_request(
        h.write("keys/k", json!({"created_time": rfc3339(Utc::now())}))
            .await,
    );
    assert!(msg.contains("created_time"), "{msg}");
    assert_eq!(h.snapshot().await, before);
}

#[tokio::test]
async fn update_changes_settings_and_records_an_updated_event() {
    let h = Harness::new().await;
    h.create_key("k", OLD).await;
    let out = h
        .write(
            "keys/k",
            json!({"schedule": "staging", "rotation_period": "30d", "custom_metadata": {"team": "ml"}}),
        )
        .await
        .unwrap();
    assert_eq!(out["schedule"], "staging");
    let k = h.read("keys/k").await;
    assert_eq!(k["schedule"], "staging");
    assert_eq!(k["rotation_period"], 30 * 86_400);
    // grace comes from the new schedule
    assert_eq!(k["grace_period"], 168 * 3_600);
    assert_eq!(k["custom_metadata"], json!({"team": "ml"}));
    let events = h.history("k").await;
    assert_eq!(events[0]["event"], "updated", "{events:?}");
    let detail = events[0]["detail"].as_str().unwrap();
    for field in ["schedule", "rotation_period", "custom_metadata"] {
        assert!(detail.contains(field), "{detail}");
    }
    assert_eq!(events[0]["actor"]["entity_id"], "alice");
    // an update setting nothing keeps everything
    h.write("keys/k", json!({})).await.unwrap();
    let again = h.read("keys/k").await;
    assert_eq!(again["schedule"], "staging");
    assert_eq!(again["rotation_period"], 30 * 86_400);
    assert_eq!(again["custom_metadata"], json!({"team": "ml"}));
}

#[tokio::test]
async fn update_of_a_missing_key_or_bad_reference_is_400_and_changes_nothing() {
    let h = Harness::new().await;
    h.create_key("k", OLD).await;
    let before = h.snapshot().await;
    for (path, body, word) in [
        ("keys/missing", json!({"schedule": "staging"}), "missing"),
        ("keys/k", json!({"schedule": "nope"}), "nope"),
        ("keys/k", json!({"provider": "nope"}), "nope"),
        ("keys/k", json!({"rotation_period": 0}), "rotation_period"),
        ("keys/k", json!({"grace_period": "later"}), "grace_period"),
    ] {
        let msg = expect_bad_request(h.write(path, body.clone()).await);
        assert!(msg.contains(word), "{path} {body}: {msg}");
    }
    assert_eq!(h.snapshot().await, before);
}

#[tokio::test]
async fn create_of_an_existing_key_is_400() {
    let h = Harness::new().await;
    h.create_key("k", OLD).await;
    let before = h.snapshot().await;
    let msg = expect_bad_request(
        h.create("keys/k", json!({"value": "sk-test-SECOND-value"}))
            .await,
    );
    assert!(msg.contains("already exists"), "{msg}");
    assert!(!msg.contains("SECOND"), "{msg}");
    assert_eq!(h.snapshot().await, before);
}

#[tokio::test]
async fn delete_destroys_every_value_and_keeps_the_history() {
    let h = Harness::new().await;
    let v2 = "sk-test-SECOND-aaaaaaaaaaaa";
    let v3 = "sk-test-THIRD-bbbbbbbbbbbbb";
    h.create_key("k", OLD).await;
    h.write("rotate/k", json!({"value": v2})).await.unwrap();
    h.write("stage/k", json!({"value": v3})).await.unwrap();
    // current v2, previous OLD in grace, pending v3: all three stored
    for v in [OLD, v2, v3] {
        assert!(h.storage_contains(v).await, "{v} should be stored");
    }
    assert!(h
        .call(Operation::Delete, "keys/k", Value::Null)
        .await
        .unwrap()
        .is_none());
    for v in [OLD, v2, v3] {
        assert!(
            !h.storage_contains(v).await,
            "{v} survived the delete: {:?}",
            h.snapshot().await
        );
    }
    assert!(h
        .call(Operation::Read, "keys/k", Value::Null)
        .await
        .unwrap()
        .is_none());
    assert!(h
        .call(Operation::Read, "creds/k", Value::Null)
        .await
        .unwrap()
        .is_none());
    assert!(!h.exists("keys/k").await);
    let events = h.history("k").await;
    assert_eq!(events[0]["event"], "deleted", "{events:?}");
    let revoked: Vec<&Value> = events
        .iter()
        .filter(|e| e["event"] == "revoked" && e["detail"] == "key deleted")
        .map(|e| &e["version"])
        .collect();
    assert_eq!(revoked.len(), 3, "{events:?}");
    assert_eq!(events.last().unwrap()["event"], "created");
    // the verify path no longer knows the key
    expect_bad_request(h.write("verify/k", json!({"value": v2})).await);
    // deleting again is a no-op
    h.call(Operation::Delete, "keys/k", Value::Null)
        .await
        .unwrap();
    assert_eq!(h.history("k").await.len(), events.len());
}

#[tokio::test]
async fn a_key_created_again_continues_its_history() {
    let h = Harness::new().await;
    h.create_key("k", OLD).await;
    h.write("keys/k", json!({"custom_metadata": {"a": "1"}}))
        .await
        .unwrap();
    h.call(Operation::Delete, "keys/k", Value::Null)
        .await
        .unwrap();
    let old_events = h.history("k").await;
    let new_value = "sk-test-REBORN-cccccccccccc";
    h.create_key("k", new_value).await;
    let events = h.history("k").await;
    assert_eq!(events.len(), old_events.len() + 1, "{events:?}");
    assert_eq!(events[0]["event"], "created");
    assert_eq!(&events[1..], &old_events[..]);
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["created", "deleted", "revoked", "updated", "created"]
    );
    // the new key is a fresh key with the new value
    let creds = h.read("creds/k").await;
    assert_eq!(creds["api_key"], new_value);
    assert_eq!(h.read("keys/k").await["custom_metadata"], json!({}));
}

#[tokio::test]
async fn list_shows_live_keys_only() {
    let h = Harness::new().await;
    let resp = h
        .call(Operation::List, "keys/", Value::Null)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(resp.data["keys"], json!([]));
    for name in ["b", "a", "c.d"] {
        h.create_key(name, &format!("sk-test-{name}-value")).await;
    }
    h.call(Operation::Delete, "keys/b", Value::Null)
        .await
        .unwrap();
    let resp = h
        .call(Operation::List, "keys/", Value::Null)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(resp.data["keys"], json!(["a", "c.d"]));
}

#[tokio::test]
async fn existence_check_tells_create_from_update() {
    let h = Harness::new().await;
    assert!(!h.exists("keys/k").await);
    h.create_key("k", OLD).await;
    assert!(h.exists("keys/k").await);
}

#[tokio::test]
async fn creds_returns_the_current_value_and_a_ttl() {
    let h = Harness::new().await;
    h.create(
        "keys/k",
        json!({"value": OLD, "schedule": "production-tier1"}),
    )
    .await
    .unwrap();
    let c = h.read("creds/k").await;
    assert_eq!(c["api_key"], OLD);
    assert_eq!(c["version"], 1);
    let ttl = c["ttl"].as_i64().unwrap();
    assert!((30 * 86_400 - 10..=30 * 86_400).contains(&ttl), "{ttl}");
    assert!(c.get("previous_api_key").is_none(), "{c}");
}

#[tokio::test]
async fn names_follow_the_generic_name_rule() {
    let h = Harness::new().await;
    let before = h.snapshot().await;
    let too_long = format!("a{}", "b".repeat(128));
    let msg = expect_bad_request(
        h.create(&format!("keys/{too_long}"), json!({"value": OLD}))
            .await,
    );
    assert!(msg.contains("name"), "{msg}");
    assert_eq!(h.snapshot().await, before);
    for bad in ["keys/-k", "keys/k-", "keys/a b", "keys/a/b"] {
        let err = h.create(bad, json!({"value": OLD})).await.expect_err(bad);
        assert!(matches!(err.status(), 400 | 404), "{bad}: {err:?}");
    }
    assert_eq!(h.snapshot().await, before);
    let longest = format!("a{}", "b".repeat(127));
    h.create_key(&longest, OLD).await;
    h.create_key("a.b_c-d", "sk-test-OTHER-name").await;
}

#[tokio::test]
async fn a_key_without_schedule_uses_the_configured_default() {
    let h = Harness::new().await;
    h.write("config", json!({"default_schedule": "development"}))
        .await
        .unwrap();
    h.create_key("k", OLD).await;
    let k = h.read("keys/k").await;
    assert_eq!(k["schedule"], "development");
    assert_eq!(k["rotation_period"], 180 * 86_400);
    assert_eq!(k["grace_period"], 336 * 3_600);
}

#[tokio::test]
async fn period_overrides_and_schedule_edits_apply_to_the_key() {
    let h = Harness::new().await;
    h.create(
        "keys/k",
        json!({"value": OLD, "schedule": "staging", "grace_period": "3h"}),
    )
    .await
    .unwrap();
    let k = h.read("keys/k").await;
    assert_eq!(k["grace_period"], 3 * 3_600);
    assert_eq!(k["rotation_period"], 90 * 86_400);
    // the schedule is resolved when read, so editing it moves the key
    h.write("schedules/staging", json!({"rotation_period": "45d"}))
        .await
        .unwrap();
    let k = h.read("keys/k").await;
    assert_eq!(k["rotation_period"], 45 * 86_400);
    assert_eq!(k["grace_period"], 3 * 3_600);
    // and promote uses the key's grace
    h.write("stage/k", json!({"value": "sk-test-NEXT-000000"}))
        .await
        .unwrap();
    h.write("test/k", json!({})).await.unwrap();
    let before = Utc::now();
    h.write("promote/k", json!({})).await.unwrap();
    let c = h.read("creds/k").await;
    let expires: DateTime<Utc> = c["previous_expires_time"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let delta = (expires - (before + Duration::hours(3))).num_seconds();
    assert!(delta.abs() <= 5, "{expires}");
}

#[tokio::test]
async fn created_time_slightly_ahead_is_clock_skew() {
    let h = Harness::new().await;
    let now = Utc::now();
    h.create(
        "keys/k",
        json!({"value": OLD, "created_time": rfc3339(now + Duration::seconds(120))}),
    )
    .await
    .unwrap();
    let k = h.read("keys/k").await;
    assert_eq!(k["age_days"], 0);
    let created: DateTime<Utc> = k["versions"]["1"]["created_time"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(created <= Utc::now(), "{created}");
}

#[tokio::test]
async fn unknown_fields_are_a_warning_not_an_error() {
    let h = Harness::new().await;
    let resp = h
        .call(
            Operation::Create,
            "keys/k",
            json!({"value": OLD, "colour": "blue"}),
        )
        .await
        .unwrap()
        .unwrap();
    assert!(
        resp.warnings.iter().any(|w| w.contains("colour")),
        "{:?}",
        resp.warnings
    );
    assert!(!resp.warnings.iter().any(|w| w.contains(OLD)));
    h.read("keys/k").await;
}

#[tokio::test]
async fn every_bad_name_is_a_400_naming_the_rule() {
    let h = Harness::new().await;
    let before = h.snapshot().await;
    for path in ["keys/_k", "keys/-k", "keys/k-", "keys/.k", "keys/k."] {
        let msg = expect_bad_request(h.create(path, json!({"value": OLD})).await);
        assert!(msg.contains("name"), "{path}: {msg}");
    }
    assert_eq!(h.snapshot().await, before);
}
