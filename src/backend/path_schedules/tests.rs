//! Path tests on in-memory storage.

use std::sync::Arc;

use serde_json::{json, Value};

use crate::backend::testing::{expect_bad_request, Harness};
use crate::engine::Engine;
use crate::framework::{Operation, Storage};

const DAY: i64 = 86_400;
const HOUR: i64 = 3_600;

#[tokio::test]
async fn the_four_builtins_exist_with_the_documented_periods() {
    let h = Harness::new().await;
    for (name, rotation, grace) in [
        ("production-tier1", 30 * DAY, 24 * HOUR),
        ("production", 90 * DAY, 48 * HOUR),
        ("staging", 90 * DAY, 168 * HOUR),
        ("development", 180 * DAY, 336 * HOUR),
    ] {
        let s = h.read(&format!("schedules/{name}")).await;
        assert_eq!(s["rotation_period"], rotation, "{name}: {s}");
        assert_eq!(s["grace_period"], grace, "{name}: {s}");
        assert_eq!(s["rotation_window"], 0, "{name}: {s}");
    }
    // exactly the documented values, in seconds
    let s = h.read("schedules/production-tier1").await;
    assert_eq!(s["rotation_period"], 2_592_000);
    assert_eq!(s["grace_period"], 86_400);
}

#[tokio::test]
async fn initialize_never_overwrites_an_edited_builtin() {
    let h = Harness::new().await;
    h.write(
        "schedules/production",
        json!({"rotation_period": "10d", "grace_period": "1h", "rotation_window": "2h"}),
    )
    .await
    .unwrap();
    // Every stored entry but the start mark, which every start rewrites.
    let stored = || async {
        let mut all = h.snapshot().await;
        all.retain(|(k, _)| k != "started");
        all
    };
    let before = stored().await;
    // the host calls initialize again on every plugin start
    h.engine
        .initialize(h.storage.clone() as Arc<dyn Storage>)
        .await
        .unwrap();
    assert_eq!(stored().await, before);
    let s = h.read("schedules/production").await;
    assert_eq!(s["rotation_period"], 10 * DAY);
    assert_eq!(s["grace_period"], HOUR);
    assert_eq!(s["rotation_window"], 2 * HOUR);
}

#[tokio::test]
async fn create_requires_both_periods_naming_the_missing_field() {
    let h = Harness::new().await;
    let before = h.snapshot().await;
    for (body, field) in [
        (json!({"grace_period": "1h"}), "rotation_period"),
        (json!({"rotation_period": "30d"}), "grace_period"),
        (json!({}), "_period"),
        (json!({"rotation_window": "1h"}), "_period"),
    ] {
        let msg = expect_bad_request(h.create("schedules/nightly", body.clone()).await);
        assert!(msg.contains(field), "{body}: {msg}");
    }
    assert_eq!(h.snapshot().await, before);
    assert!(h
        .call(Operation::Read, "schedules/nightly", Value::Null)
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn durations_accept_days_go_durations_and_seconds() {
    let h = Harness::new().await;
    for (i, (rotation, expected)) in [
        (json!("30d"), 30 * DAY),
        (json!("720h"), 30 * DAY),
        (json!(86400), DAY),
        (json!("86400"), DAY),
        (json!("90m"), 90 * 60),
    ]
    .into_iter()
    .enumerate()
    {
        let path = format!("schedules/s{i}");
        let out = h
            .create(
                &path,
                json!({"rotation_period": rotation, "grace_period": rotation}),
            )
            .await
            .unwrap();
        assert_eq!(out["rotation_period"], expected, "{rotation}");
        let s = h.read(&path).await;
        assert_eq!(s["rotation_period"], expected, "{rotation}");
        assert_eq!(s["grace_period"], expected, "{rotation}");
    }
}

#[tokio::test]
async fn invalid_values_are_400_naming_the_field_and_change_nothing() {
    let h = Harness::new().await;
    h.create(
        "schedules/nightly",
        json!({"rotation_period": "1d", "grace_period": "1h"}),
    )
    .await
    .unwrap();
    let before = h.snapshot().await;
    for (body, field) in [
        (json!({"rotation_period": "soon"}), "rotation_period"),
        (json!({"grace_period": "-1h"}), "grace_period"),
        (json!({"grace_period": -5}), "grace_period"),
        (json!({"rotation_period": 0}), "rotation_period"),
        (json!({"rotation_window": "2d"}), "rotation_window"),
        (json!({"rotation_window": [1]}), "rotation_window"),
    ] {
        let msg = expect_bad_request(h.write("schedules/nightly", body.clone()).await);
        assert!(msg.contains(field), "{body}: {msg}");
    }
    assert_eq!(h.snapshot().await, before);
}

#[tokio::test]
async fn update_keeps_the_fields_it_does_not_set() {
    let h = Harness::new().await;
    h.create(
        "schedules/nightly",
        json!({"rotation_period": "30d", "grace_period": "24h", "rotation_window": "6h"}),
    )
    .await
    .unwrap();
    h.write("schedules/nightly", json!({"grace_period": "2h"}))
        .await
        .unwrap();
    let s = h.read("schedules/nightly").await;
    assert_eq!(s["rotation_period"], 30 * DAY);
    assert_eq!(s["grace_period"], 2 * HOUR);
    assert_eq!(s["rotation_window"], 6 * HOUR);
    h.write("schedules/nightly", json!({"rotation_period": "7d"}))
        .await
        .unwrap();
    let s = h.read("schedules/nightly").await;
    assert_eq!(s["rotation_period"], 7 * DAY);
    assert_eq!(s["grace_period"], 2 * HOUR);
    assert_eq!(s["rotation_window"], 6 * HOUR);
}

#[tokio::test]
async fn delete_of_a_schedule_in_use_is_400_listing_the_keys() {
    let h = Harness::new().await;
    h.create(
        "schedules/nightly",
        json!({"rotation_period": "1d", "grace_period": "1h"}),
    )
    .await
    .unwrap();
    for (name, schedule) in [
        ("alpha", "nightly"),
        ("beta", "nightly"),
        ("gamma", "staging"),
    ] {
        h.create(
            &format!("keys/{name}"),
            json!({"value": format!("sk-{name}-value-0001"), "schedule": schedule}),
        )
        .await
        .unwrap();
    }
    let before = h.snapshot().await;
    let msg = expect_bad_request(
        h.call(Operation::Delete, "schedules/nightly", Value::Null)
            .await,
    );
    assert!(
        msg.contains("nightly") && msg.contains("alpha") && msg.contains("beta"),
        "{msg}"
    );
    assert!(!msg.contains("gamma"), "{msg}");
    assert_eq!(h.snapshot().await, before);

    // once no key uses it, it can go
    for name in ["alpha", "beta"] {
        h.write(&format!("keys/{name}"), json!({"schedule": "staging"}))
            .await
            .unwrap();
    }
    h.call(Operation::Delete, "schedules/nightly", Value::Null)
        .await
        .unwrap();
    assert!(h
        .call(Operation::Read, "schedules/nightly", Value::Null)
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn delete_of_the_default_schedule_is_400() {
    let h = Harness::new().await;
    let before = h.snapshot().await;
    let msg = expect_bad_request(
        h.call(Operation::Delete, "schedules/production", Value::Null)
            .await,
    );
    assert!(
        msg.contains("production") && msg.contains("default_schedule"),
        "{msg}"
    );
    assert_eq!(h.snapshot().await, before);

    // after the default moves, the old default can be deleted and the new one cannot
    h.write("config", json!({"default_schedule": "staging"}))
        .await
        .unwrap();
    h.call(Operation::Delete, "schedules/production", Value::Null)
        .await
        .unwrap();
    let msg = expect_bad_request(
        h.call(Operation::Delete, "schedules/staging", Value::Null)
            .await,
    );
    assert!(msg.contains("default_schedule"), "{msg}");
    h.read("schedules/staging").await;
}

#[tokio::test]
async fn list_shows_builtins_and_created_schedules() {
    let h = Harness::new().await;
    h.create(
        "schedules/nightly",
        json!({"rotation_period": "1d", "grace_period": "1h"}),
    )
    .await
    .unwrap();
    let resp = h
        .call(Operation::List, "schedules/", Value::Null)
        .await
        .unwrap()
        .unwrap();
    let mut keys: Vec<String> = serde_json::from_value(resp.data["keys"].clone()).unwrap();
    keys.sort();
    assert_eq!(
        keys,
        [
            "development",
            "nightly",
            "production",
            "production-tier1",
            "staging"
        ]
    );
}

#[tokio::test]
async fn existence_check_tells_create_from_update() {
    let h = Harness::new().await;
    assert!(h.exists("schedules/production").await);
    assert!(!h.exists("schedules/nightly").await);
    h.create(
        "schedules/nightly",
        json!({"rotation_period": "1d", "grace_period": "1h"}),
    )
    .await
    .unwrap();
    assert!(h.exists("schedules/nightly").await);
    h.call(Operation::Delete, "schedules/nightly", Value::Null)
        .await
        .unwrap();
    assert!(!h.exists("schedules/nightly").await);
}

#[tokio::test]
async fn a_deleted_built_in_stays_deleted_across_restarts() {
    use crate::engine::Engine as _;
    let h = Harness::new().await;
    h.call(
        crate::framework::Operation::Delete,
        "schedules/development",
        serde_json::Value::Null,
    )
    .await
    .unwrap();
    // A reload or restart runs Initialize again on the same storage.
    h.engine
        .initialize(h.storage.clone() as std::sync::Arc<dyn crate::framework::Storage>)
        .await
        .unwrap();
    assert!(
        crate::backend::policy::load_schedule(h.storage.as_ref(), "development")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn a_schedule_change_reaches_its_keys_at_once() {
    let h = Harness::new().await;
    h.create(
        "keys/k",
        json!({"value": "sk-cache-test-0001", "schedule": "staging"}),
    )
    .await
    .unwrap();
    assert_eq!(h.read("keys/k").await["rotation_period"], 90 * 86_400);
    h.write("schedules/staging", json!({"rotation_period": "10d"}))
        .await
        .unwrap();
    assert_eq!(h.read("keys/k").await["rotation_period"], 10 * 86_400);
    h.call(
        crate::framework::Operation::Update,
        "keys/k",
        json!({"schedule": "development"}),
    )
    .await
    .unwrap();
    assert_eq!(h.read("keys/k").await["rotation_period"], 180 * 86_400);
}

#[tokio::test]
async fn storage_changed_underneath_is_seen_after_invalidate_key() {
    use crate::engine::Engine as _;
    let h = Harness::new().await;
    h.create(
        "keys/k",
        json!({"value": "sk-cache-test-0002", "schedule": "staging"}),
    )
    .await
    .unwrap();
    assert_eq!(h.read("keys/k").await["rotation_period"], 90 * 86_400);
    // What replication does on a standby: storage changes, then the host calls InvalidateKey.
    crate::framework::put_json(
        h.storage.as_ref(),
        "schedules/staging",
        &crate::backend::policy::Schedule {
            rotation_period: 7 * 86_400,
            grace_period: 3_600,
            rotation_window: 0,
            rotation_schedule: None,
            usage_quiet_period: 3_600,
            max_grace: 7 * 86_400,
            health_check_interval: 3_600,
            expiry_warning: 14 * 86_400,
            notice_before: 7 * 86_400,
        },
    )
    .await
    .unwrap();
    h.engine.invalidate("schedules/staging").await;
    assert_eq!(h.read("keys/k").await["rotation_period"], 7 * 86_400);
    assert_eq!(h.read("keys/k").await["grace_period"], 3_600);
}
