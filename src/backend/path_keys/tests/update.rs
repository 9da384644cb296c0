//! Updating a key's settings: what may change, the `updated` event, bad references, and
//! schedule edits that move the key.

use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use super::{rfc3339, OLD};
use crate::backend::testing::{expect_bad_request, Harness};

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
