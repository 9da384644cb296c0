//! The tick's own notices: due soon (per schedule's notice_before), overdue, a key expiring at
//! its provider, each once.

use serde_json::{json, Value};

use super::{subscribe, Receiver};
use crate::backend::testing::{with_key, Harness, OLD};
use crate::framework::Storage;

fn days_ago(days: i64) -> String {
    (chrono::Utc::now() - chrono::Duration::days(days))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[tokio::test]
async fn due_and_overdue_keys_are_announced_once() {
    let h = Harness::new().await;
    // The production schedule: 90 days. One overdue, one due in 5 days, one far from due.
    for (name, age) in [("late", 100), ("soon", 85), ("fresh", 1)] {
        h.create(
            &format!("keys/{name}"),
            json!({"value": OLD, "created_time": days_ago(age)}),
        )
        .await
        .unwrap();
    }
    let r = Receiver::start().await;
    subscribe(&h, &r).await;
    for _ in 0..3 {
        h.tick().await.unwrap();
    }
    let mut seen: Vec<(String, String)> = r
        .events()
        .into_iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap().to_string(),
                e["subject"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            (
                "io.openbao.ai-keys.key.due_soon".to_string(),
                "soon".to_string()
            ),
            (
                "io.openbao.ai-keys.key.overdue".to_string(),
                "late".to_string()
            ),
        ],
        "each once, over three ticks"
    );
}

#[tokio::test]
async fn a_key_expiring_at_its_provider_soon_is_announced_once() {
    let h = with_key().await;
    // What a provider expiry update leaves on the record: the version dies there in 3 days.
    let raw = h.storage.get("keys/k").await.unwrap().unwrap();
    let mut record: Value = serde_json::from_slice(&raw).unwrap();
    let soon = (chrono::Utc::now() + chrono::Duration::days(3))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    record["key"]["versions"]["versions"]["1"]["provider_expires_time"] = json!(soon);
    h.storage
        .put("keys/k", serde_json::to_vec(&record).unwrap())
        .await
        .unwrap();
    h.invalidate("keys/k").await;
    let r = Receiver::start().await;
    subscribe(&h, &r).await;
    for _ in 0..3 {
        h.tick().await.unwrap();
    }
    let expiring: Vec<Value> = r
        .events()
        .into_iter()
        .filter(|e| e["type"] == "io.openbao.ai-keys.key.provider_expiry_near")
        .collect();
    assert_eq!(expiring.len(), 1, "once over three ticks: {expiring:?}");
    assert_eq!(expiring[0]["data"]["version"], 1);
    assert!(expiring[0]["data"]["reason"]
        .as_str()
        .unwrap()
        .contains("expires at its provider"));
}

#[tokio::test]
async fn each_schedule_sets_how_early_a_due_key_is_announced() {
    let h = Harness::new().await;
    for (schedule, notice) in [("wide", "20d"), ("quiet", "0s")] {
        h.create(
            &format!("schedules/{schedule}"),
            json!({"rotation_period": "90d", "grace_period": "1d", "notice_before": notice}),
        )
        .await
        .unwrap();
    }
    assert_eq!(h.read("schedules/wide").await["notice_before"], 20 * 86_400);
    assert_eq!(
        h.read("schedules/production").await["notice_before"],
        7 * 86_400
    );
    // Due in 15 days on `wide` (announced), in 5 days on `quiet` (never announced).
    for (name, schedule, age) in [("early", "wide", 75), ("silent", "quiet", 85)] {
        h.create(
            &format!("keys/{name}"),
            json!({"value": OLD, "schedule": schedule, "created_time": days_ago(age)}),
        )
        .await
        .unwrap();
    }
    let r = Receiver::start().await;
    subscribe(&h, &r).await;
    h.tick().await.unwrap();
    let subjects: Vec<String> = r
        .events()
        .into_iter()
        .filter(|e| e["type"] == "io.openbao.ai-keys.key.due_soon")
        .map(|e| e["subject"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(subjects, ["early"]);
}
