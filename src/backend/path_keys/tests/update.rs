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

/// A schedule of its own, so every period differs from the defaults and from the overrides.
async fn with_schedule() -> Harness {
    let h = Harness::new().await;
    h.write(
        "schedules/s",
        json!({
            "rotation_period": "10d", "grace_period": "1h", "rotation_window": "1h",
            "usage_quiet_period": "30m", "max_grace": "2d",
        }),
    )
    .await
    .unwrap();
    h.create("keys/k", json!({"value": OLD, "schedule": "s"}))
        .await
        .unwrap();
    h
}

/// Each override: (field, a value that differs from the schedule's, what a read shows for it,
/// the schedule's value a read shows once it is cleared).
fn overrides() -> Vec<(
    &'static str,
    serde_json::Value,
    serde_json::Value,
    serde_json::Value,
)> {
    vec![
        (
            "rotation_period",
            json!("20d"),
            json!(20 * 86_400),
            json!(10 * 86_400),
        ),
        ("grace_period", json!("0"), json!(0), json!(3_600)),
        ("rotation_window", json!("2h"), json!(7_200), json!(3_600)),
        ("usage_quiet_period", json!("5m"), json!(300), json!(1_800)),
        (
            "max_grace",
            json!("3d"),
            json!(3 * 86_400),
            json!(2 * 86_400),
        ),
        (
            "rotation_schedule",
            json!("0 3 * * MON"),
            json!("0 3 * * MON"),
            json!(""),
        ),
    ]
}

#[tokio::test]
async fn each_override_is_cleared_by_an_empty_string_back_to_the_schedules_value() {
    for (field, value, shown, inherited) in overrides() {
        let h = with_schedule().await;
        let set = h.write("keys/k", json!({ field: value })).await.unwrap();
        assert_eq!(set[field], shown, "{field} set: {set}");
        assert_eq!(h.read("keys/k").await[field], shown, "{field} read");

        let cleared = h.write("keys/k", json!({ field: "" })).await.unwrap();
        assert_eq!(cleared[field], inherited, "{field} cleared: {cleared}");
        let read = h.read("keys/k").await;
        assert_eq!(read[field], inherited, "{field} read after clear");
        if field == "rotation_schedule" {
            assert_eq!(read["rotation_period"], 10 * 86_400);
        }
        let events = h.history("k").await;
        assert_eq!(events[0]["detail"], format!("changed {field}"), "{field}");
    }
}

#[tokio::test]
async fn a_cleared_override_follows_later_changes_of_the_schedule() {
    let h = with_schedule().await;
    let all: serde_json::Map<String, serde_json::Value> = overrides()
        .into_iter()
        .filter(|(f, ..)| *f != "rotation_schedule")
        .map(|(f, v, ..)| (f.to_string(), v))
        .collect();
    h.write("keys/k", json!(all)).await.unwrap();
    let cleared: serde_json::Map<String, serde_json::Value> =
        all.keys().map(|f| (f.clone(), json!(""))).collect();
    h.write("keys/k", json!(cleared)).await.unwrap();
    h.write(
        "schedules/s",
        json!({
            "rotation_period": "11d", "grace_period": "2h", "rotation_window": "3h",
            "usage_quiet_period": "40m", "max_grace": "4d",
        }),
    )
    .await
    .unwrap();
    let k = h.read("keys/k").await;
    assert_eq!(k["rotation_period"], 11 * 86_400);
    assert_eq!(k["grace_period"], 2 * 3_600);
    assert_eq!(k["rotation_window"], 3 * 3_600);
    assert_eq!(k["usage_quiet_period"], 40 * 60);
    assert_eq!(k["max_grace"], 4 * 86_400);
}

#[tokio::test]
async fn an_empty_override_on_create_is_no_override() {
    let h = Harness::new().await;
    h.create(
        "keys/k",
        json!({"value": OLD, "grace_period": "", "rotation_period": "", "max_grace": ""}),
    )
    .await
    .unwrap();
    let k = h.read("keys/k").await;
    // production: 90d and 48h; max_grace's default 7d
    assert_eq!(k["rotation_period"], 90 * 86_400);
    assert_eq!(k["grace_period"], 48 * 3_600);
    assert_eq!(k["max_grace"], 7 * 86_400);
}

#[tokio::test]
async fn an_empty_duration_where_a_value_is_needed_is_refused_naming_the_field() {
    // An unset shell variable (grace_period=$GRACE) is a 400, never a grace period of 0.
    let h = Harness::new().await;
    h.create_key("k", OLD).await;
    h.write("stage/k", json!({"value": "sk-test-NEXT-000000"}))
        .await
        .unwrap();
    h.write("test/k", json!({})).await.unwrap();
    let before = h.snapshot().await;
    for (path, body) in [
        ("promote/k", json!({"grace_period": ""})),
        ("schedules/production", json!({"grace_period": ""})),
        (
            "schedules/new",
            json!({"rotation_period": "", "grace_period": "1h"}),
        ),
        (
            "rotate/k",
            json!({"value": "sk-test-OTHER-000000", "grace_period": ""}),
        ),
    ] {
        let msg = expect_bad_request(h.write(path, body.clone()).await);
        let field = body
            .as_object()
            .unwrap()
            .iter()
            .find(|(_, v)| *v == "")
            .unwrap()
            .0;
        assert!(
            msg.contains(&format!("field \"{field}\"")) && msg.contains("must not be empty"),
            "{path} {body}: {msg}"
        );
    }
    assert_eq!(h.snapshot().await, before);
}

#[tokio::test]
async fn path_help_and_openapi_say_how_to_remove_each_override() {
    let h = Harness::new().await;
    let resp = h
        .call(crate::framework::Operation::Help, "keys/k", json!(null))
        .await
        .unwrap()
        .unwrap();
    let help = resp.data["help"].as_str().unwrap();
    assert!(help.contains("empty string"), "{help}");
    let props = &resp.data["openapi"]["paths"]["/keys/{name}"]["post"]["requestBody"]["content"]
        ["application/json"]["schema"]["properties"];
    for (field, ..) in overrides() {
        let text = props[field]["description"].as_str().unwrap_or_default();
        assert!(text.contains("\"\""), "{field}: {text}");
    }
}
