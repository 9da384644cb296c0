//! Records the engine refuses to use (newer format, stored under another key's name, breaking
//! an invariant) are never silently missing: every report names them, the metrics count them,
//! and a schedule or provider delete is blocked only by one that might name what it deletes.

use serde_json::{json, Value};

use crate::backend::testing::{created_at_provider, with_key, Harness, NEW};
use crate::framework::{Operation, Response, Storage};

/// Stores `record` (JSON) at `path`, behind the plugin's back, as damage or an operator would.
async fn plant(h: &Harness, path: &str, record: &Value) {
    let raw = serde_json::to_vec(record).unwrap();
    h.storage.put(path, raw).await.unwrap();
    h.invalidate(path).await;
}

async fn stored(h: &Harness, path: &str) -> Value {
    serde_json::from_slice(&h.storage.get(path).await.unwrap().unwrap()).unwrap()
}

async fn answer(h: &Harness, op: Operation, path: &str, body: Value) -> Response {
    h.call(op, path, body)
        .await
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .unwrap_or_default()
}

fn warned(r: &Response, path: &str) -> bool {
    r.warnings.iter().any(|w| w.contains(path))
}

#[tokio::test]
async fn reports_and_metrics_name_every_record_they_cannot_read() {
    let h = with_key().await;
    h.create_key("o", NEW).await;
    plant(&h, "keys/m", &stored(&h, "keys/o").await).await;
    plant(&h, "keys/z", &json!({ "format": 999 })).await;

    let overdue = answer(&h, Operation::Read, "overdue", json!({ "max_age": "1s" })).await;
    assert!(
        warned(&overdue, "keys/m") && warned(&overdue, "keys/z"),
        "{:?}",
        overdue.warnings
    );
    assert!(overdue
        .warnings
        .iter()
        .any(|w| w.contains("names another key")));

    let metrics = answer(&h, Operation::Read, "metrics", json!({})).await;
    assert!(warned(&metrics, "keys/m") && warned(&metrics, "keys/z"));
    let data = metrics.data_value();
    let gauge = data["gauges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "ai_keys_records_refused")
        .cloned()
        .expect("ai_keys_records_refused");
    assert_eq!(gauge["value"], 2.0, "{gauge}");

    let report = answer(&h, Operation::Read, "report", json!({})).await;
    assert!(warned(&report, "keys/m") && warned(&report, "keys/z"));
    let data = report.data_value();
    let paths: Vec<&str> = data["records_refused"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["keys/m", "keys/z"]);
    assert_eq!(data["keys"].as_array().unwrap().len(), 2, "k and o");
    assert!(!format!("{overdue:?}{data}").contains(NEW));
}

/// A schedule delete goes on past a refused record that does not name the schedule (with a
/// warning naming it), and is refused (400, naming the record) by one that does.
#[tokio::test]
async fn a_schedule_delete_is_blocked_only_by_a_refused_record_that_may_use_it() {
    let h = with_key().await;
    for s in ["s", "s2"] {
        h.write(
            &format!("schedules/{s}"),
            json!({ "rotation_period": "30d", "grace_period": "1h" }),
        )
        .await
        .unwrap();
    }
    let mut planted = stored(&h, "keys/k").await;
    planted["key"]["schedule"] = json!("s2");
    plant(&h, "keys/m", &planted).await;

    let done = answer(&h, Operation::Delete, "schedules/s", json!({})).await;
    assert!(warned(&done, "keys/m"), "{:?}", done.warnings);
    assert!(h.storage.get("schedules/s").await.unwrap().is_none());

    let before = h.snapshot().await;
    let err = h
        .call(Operation::Delete, "schedules/s2", json!({}))
        .await
        .expect_err("deleted a schedule a refused record may use");
    assert_eq!(err.status(), 400, "{err}");
    assert!(err.to_string().contains("keys/m"), "{err}");
    assert_eq!(h.snapshot().await, before);
}

/// A provider delete must not orphan a live owned key: a refused record that names the provider
/// (its key may live there) blocks it, naming the record; one that names another provider is
/// only a warning.
#[tokio::test]
async fn a_provider_delete_is_blocked_only_by_a_refused_record_that_may_name_it() {
    let h = with_key().await;
    created_at_provider(&h).await;
    let config = json!({ "type": "openai_compatible", "base_url": "http://127.0.0.1:9" });
    for p in ["q", "r"] {
        h.create(&format!("providers/{p}"), config.clone())
            .await
            .unwrap();
    }
    let mut planted = stored(&h, "keys/k").await;
    planted["key"]["provider"] = json!("q");
    planted["key"]["versions"]["versions"]["1"]["provider"] = json!("q");
    plant(&h, "keys/m", &planted).await;

    let done = answer(&h, Operation::Delete, "providers/r", json!({})).await;
    assert!(warned(&done, "keys/m"), "{:?}", done.warnings);
    assert!(h.storage.get("providers/r").await.unwrap().is_none());

    let before = h.snapshot().await;
    let err = h
        .call(Operation::Delete, "providers/q", json!({}))
        .await
        .expect_err("deleted a provider a refused record may hold a key at");
    assert_eq!(err.status(), 400, "{err}");
    assert!(err.to_string().contains("keys/m"), "{err}");
    assert_eq!(h.snapshot().await, before);
}
