//! An imported `created_time`: the age it sets, the future refused, clock skew tolerated.

use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use super::{rfc3339, OLD};
use crate::backend::testing::{expect_bad_request, Harness};

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
