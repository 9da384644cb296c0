//! `overdue`: the report, its `max_age`, cron keys.

use chrono::{Duration, SecondsFormat, Utc};
use serde_json::{json, Value};

use crate::backend::testing::OLD;
use crate::backend::testing::{expect_bad_request, Harness};
use crate::framework::Operation;

async fn overdue(h: &Harness, data: Value) -> Vec<Value> {
    let resp = h
        .call(Operation::Read, "overdue", data)
        .await
        .unwrap()
        .expect("overdue response");
    resp.data["keys"].as_array().cloned().expect("keys list")
}

#[tokio::test]
async fn overdue_reports_the_api_md_example() {
    let h = Harness::new().await;
    let created = Utc::now() - Duration::days(45);
    let created_s = created.to_rfc3339_opts(SecondsFormat::Secs, true);
    h.create("keys/old", json!({"value": OLD, "created_time": created_s}))
        .await
        .unwrap();
    h.create_key("fresh", "sk-test-FRESH-00000000").await;

    let keys = overdue(&h, json!({"max_age": "30d"})).await;
    assert_eq!(keys.len(), 1, "{keys:?}");
    let k = &keys[0];
    assert_eq!(k["key"], "old");
    assert_eq!(k["age_days"], 45);
    assert_eq!(k["overdue_days"], 15);
    assert_eq!(k["rotation_period_days"], 30);
    let next = (created + Duration::days(30)).to_rfc3339_opts(SecondsFormat::Secs, true);
    assert_eq!(k["next_rotation_time"], next);

    // against its own schedule (production, 90 days) it is not overdue
    assert_eq!(overdue(&h, Value::Null).await, Vec::<Value>::new());
    // with a 30-day rotation period of its own it is
    h.write("keys/old", json!({"rotation_period": "30d"}))
        .await
        .unwrap();
    let keys = overdue(&h, Value::Null).await;
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["overdue_days"], 15);
    let k = h.read("keys/old").await;
    assert_eq!(k["overdue"], true);
    assert_eq!(k["overdue_days"], 15);
    // a rotation makes it fresh
    h.write("rotate/old", json!({"value": "sk-test-ROTATED-1111"}))
        .await
        .unwrap();
    assert_eq!(overdue(&h, json!({"max_age": "30d"})).await.len(), 0);
}

#[tokio::test]
async fn overdue_max_age_zero_is_400() {
    let h = Harness::new().await;
    let msg = expect_bad_request(
        h.call(Operation::Read, "overdue", json!({"max_age": 0}))
            .await,
    );
    assert!(msg.contains("max_age"), "{msg}");
}
