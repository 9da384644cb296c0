//! `rotation_schedule` and `rotation_window` on schedules and keys, on in-memory storage.

use chrono::{DateTime, Duration, DurationRound, SecondsFormat, Timelike, Utc};
use serde_json::{json, Value};

use crate::backend::record;
use crate::backend::testing::{expect_bad_request, Harness};
use crate::framework::Operation;

const HOUR: i64 = 3_600;
const DAY: i64 = 86_400;

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

async fn cron_schedule(h: &Harness, name: &str, expr: &str, window: &str) -> Value {
    h.create(
        &format!("schedules/{name}"),
        json!({"rotation_schedule": expr, "grace_period": "1h", "rotation_window": window}),
    )
    .await
    .unwrap()
}

/// Creates key `k` with `value` on `schedule`, created at `created` (now when `None`).
async fn key_k(h: &Harness, value: &str, schedule: &str, created: Option<DateTime<Utc>>) -> Value {
    let mut body = json!({ "value": value, "schedule": schedule });
    if let Some(t) = created {
        body["created_time"] = json!(rfc3339(t));
    }
    h.create("keys/k", body).await.unwrap()
}

#[tokio::test]
async fn a_schedule_with_a_cron_expression_reads_back_with_period_zero() {
    let h = Harness::new().await;
    let out = cron_schedule(&h, "nightly", " 0 3 * * MON-FRI ", "2h").await;
    for s in [out, h.read("schedules/nightly").await] {
        assert_eq!(s["rotation_schedule"], "0 3 * * MON-FRI", "{s}");
        assert_eq!(s["rotation_period"], 0, "{s}");
        assert_eq!(s["rotation_window"], 2 * HOUR, "{s}");
    }
    // Period schedules show an empty rotation_schedule.
    assert_eq!(
        h.read("schedules/production").await["rotation_schedule"].clone(),
        json!("")
    );
}

#[tokio::test]
async fn giving_one_cadence_replaces_the_other() {
    let h = Harness::new().await;
    cron_schedule(&h, "s", "0 3 * * *", "0").await;
    h.write("schedules/s", json!({"rotation_period": "7d"}))
        .await
        .unwrap();
    let s = h.read("schedules/s").await;
    assert_eq!(
        (s["rotation_period"].clone(), s["rotation_schedule"].clone()),
        (json!(7 * DAY), json!(""))
    );
    h.write("schedules/s", json!({"rotation_schedule": "30 4 * * *"}))
        .await
        .unwrap();
    let s = h.read("schedules/s").await;
    assert_eq!(
        (s["rotation_period"].clone(), s["rotation_schedule"].clone()),
        (json!(0), json!("30 4 * * *"))
    );
    // Vault's form of "use the period": an empty schedule with a period.
    h.write(
        "schedules/s",
        json!({"rotation_schedule": "", "rotation_period": "1d"}),
    )
    .await
    .unwrap();
    let s = h.read("schedules/s").await;
    assert_eq!(
        (s["rotation_period"].clone(), s["rotation_schedule"].clone()),
        (json!(DAY), json!(""))
    );
}

#[tokio::test]
async fn invalid_cadences_are_400_naming_the_field_and_change_nothing() {
    let h = Harness::new().await;
    cron_schedule(&h, "s", "0 3 * * *", "2h").await;
    key_k(&h, "sk-cron-unit-0001", "s", None).await;
    let before = h.snapshot().await;
    for (body, field) in [
        (
            json!({"rotation_schedule": "0 0 3 * * *"}),
            "rotation_schedule: expected exactly 5 fields",
        ),
        (
            json!({"rotation_schedule": "@daily"}),
            "rotation_schedule: descriptors",
        ),
        (
            json!({"rotation_schedule": "* * * * 7"}),
            "rotation_schedule: day-of-week field",
        ),
        (
            json!({"rotation_schedule": "61 * * * *"}),
            "rotation_schedule: minute field",
        ),
        (json!({"rotation_schedule": "0 0 30 2 *"}), "never fire"),
        (
            json!({"rotation_schedule": "CRON_TZ=Europe/Berlin 0 3 * * *"}),
            "UTC",
        ),
        (
            json!({"rotation_schedule": "x".repeat(300)}),
            "rotation_schedule",
        ),
        (json!({"rotation_schedule": 5}), "rotation_schedule"),
        (
            json!({"rotation_schedule": "0 3 * * *", "rotation_period": "1d"}),
            "mutually exclusive",
        ),
        (
            json!({"rotation_window": "30m"}),
            "rotation_window must be 0 (no limit) or from 1h",
        ),
        (json!({"rotation_window": "400d"}), "rotation_window"),
        (
            json!({"rotation_schedule": ""}),
            "rotation_period is required",
        ),
    ] {
        let msg = expect_bad_request(h.write("schedules/s", body.clone()).await);
        assert!(msg.contains(field), "{body}: {msg}");
        // The same refusals on a key's overrides ("" there drops the override).
        if !field.contains("is required") {
            let msg = expect_bad_request(h.write("keys/k", body.clone()).await);
            assert!(msg.contains(field), "keys: {body}: {msg}");
        }
    }
    // A new schedule needs one cadence.
    let msg = expect_bad_request(h.create("schedules/t", json!({"grace_period": "1h"})).await);
    assert!(
        msg.contains("rotation_period or rotation_schedule"),
        "{msg}"
    );
    assert_eq!(h.snapshot().await, before);
}

#[tokio::test]
async fn a_key_on_a_cron_schedule_shows_its_next_scheduled_time() {
    let h = Harness::new().await;
    cron_schedule(&h, "nightly", "0 3 * * *", "0").await;
    let created = (Utc::now() - Duration::hours(1))
        .duration_trunc(Duration::seconds(1))
        .unwrap();
    let k = key_k(&h, "sk-cron-unit-0002", "nightly", Some(created)).await;
    let mut expected = created
        .with_hour(3)
        .unwrap()
        .with_minute(0)
        .unwrap()
        .with_second(0)
        .unwrap();
    if expected <= created {
        expected += Duration::days(1);
    }
    for k in [k, h.read("keys/k").await] {
        assert_eq!(k["rotation_schedule"], "0 3 * * *");
        assert_eq!(k["rotation_period"], 0);
        assert_eq!(k["next_rotation_time"], rfc3339(expected), "{k}");
        assert_eq!(k["missed_rotation_time"], Value::Null);
    }
    let creds = h.read("creds/k").await;
    let ttl = creds["ttl"].as_i64().unwrap();
    assert!((expected - Utc::now()).num_seconds() - ttl <= 2, "{creds}");
}

#[tokio::test]
async fn a_key_override_replaces_the_schedules_cadence_of_either_kind() {
    let h = Harness::new().await;
    cron_schedule(&h, "nightly", "0 3 * * *", "2h").await;
    key_k(&h, "sk-cron-unit-0003", "nightly", None).await;
    // The schedule's window applies to the schedule's kind of cadence.
    assert_eq!(h.read("keys/k").await["rotation_window"], 2 * HOUR);
    // A period override: the cron window does not carry over.
    let k = h
        .write("keys/k", json!({"rotation_period": "7d"}))
        .await
        .unwrap();
    assert_eq!(
        (
            k["rotation_period"].clone(),
            k["rotation_schedule"].clone(),
            k["rotation_window"].clone()
        ),
        (json!(7 * DAY), json!(""), json!(0))
    );
    // A cron override on a period schedule, with its own window.
    h.write("keys/k", json!({"schedule": "production"}))
        .await
        .unwrap();
    let k = h
        .write(
            "keys/k",
            json!({"rotation_schedule": "15 2 * * SUN", "rotation_window": "3h"}),
        )
        .await
        .unwrap();
    assert_eq!(
        (
            k["rotation_period"].clone(),
            k["rotation_schedule"].clone(),
            k["rotation_window"].clone()
        ),
        (json!(0), json!("15 2 * * SUN"), json!(3 * HOUR))
    );
    let stored = record::load_key(h.storage.as_ref(), "k")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.rotation_period, None);
    // "" drops the override: the schedule's 90 days again (and the key's window fits a period).
    h.write("keys/k", json!({"rotation_window": "0"}))
        .await
        .unwrap();
    let k = h
        .write("keys/k", json!({"rotation_schedule": ""}))
        .await
        .unwrap();
    assert_eq!(
        (k["rotation_period"].clone(), k["rotation_schedule"].clone()),
        (json!(90 * DAY), json!(""))
    );
    let events = h.history("k").await;
    assert!(
        events.iter().any(|e| e["detail"]
            .as_str()
            .unwrap_or("")
            .contains("rotation_schedule")),
        "{events:?}"
    );
}

#[tokio::test]
async fn a_window_that_closed_is_recorded_once_and_the_key_waits_for_the_next_time() {
    let h = Harness::new().await;
    let now = Utc::now().duration_trunc(Duration::minutes(1)).unwrap();
    // Daily at two hours ago; the key is older than that, so that time's window (1h) closed.
    let slot = now - Duration::hours(2);
    let expr = format!("{} {} * * *", slot.minute(), slot.hour());
    cron_schedule(&h, "daily", &expr, "1h").await;
    let created = now - Duration::hours(3);
    key_k(&h, "sk-cron-unit-0004", "daily", Some(created)).await;
    // Automatic rotation on, without a provider (set underneath the paths, through the record
    // cache as every write in the plugin goes: nothing is due, so no call).
    let mut entry = record::load(h.cached.as_ref(), "k").await.unwrap().unwrap();
    entry.key.auto_rotate = true;
    record::save(h.cached.as_ref(), &entry).await.unwrap();

    let k = h.read("keys/k").await;
    assert_eq!(k["missed_rotation_time"], rfc3339(slot), "{k}");
    assert_eq!(
        k["next_rotation_time"],
        rfc3339(slot + Duration::days(1)),
        "{k}"
    );
    assert_eq!(k["overdue"], true, "{k}");

    for _ in 0..2 {
        h.tick().await.unwrap();
    }
    let missed: Vec<Value> = h
        .history("k")
        .await
        .into_iter()
        .filter(|e| e["event"] == "rotation_window_missed")
        .collect();
    assert_eq!(missed.len(), 1, "{missed:?}");
    let detail = missed[0]["detail"].as_str().unwrap();
    assert!(
        detail.contains(&rfc3339(slot)) && detail.contains(&rfc3339(slot + Duration::days(1))),
        "{detail}"
    );
    assert_eq!(missed[0]["actor"], "scheduler");
    assert_eq!(h.read("keys/k").await["current_version"], 1);
}

#[tokio::test]
async fn overdue_lists_a_cron_key_past_its_scheduled_time() {
    let h = Harness::new().await;
    cron_schedule(&h, "hourly", "0 * * * *", "0").await;
    let created = Utc::now() - Duration::hours(3);
    key_k(&h, "sk-cron-unit-0005", "hourly", Some(created)).await;
    let out = h
        .call(Operation::Read, "overdue", Value::Null)
        .await
        .unwrap()
        .unwrap();
    let keys = out.data["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert_eq!(keys[0]["rotation_schedule"], "0 * * * *");
}
