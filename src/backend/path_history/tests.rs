//! The history: actors, request ids, order and the configured limit.

use serde_json::json;

use crate::backend::testing::{with_key, NEW};
use crate::framework::Operation;

#[tokio::test]
async fn events_name_the_actor_and_request_newest_first() {
    let h = with_key().await;
    h.call_as("bob", Operation::Update, "stage/k", json!({ "value": NEW }))
        .await
        .unwrap();
    h.write("test/k", json!({})).await.unwrap();
    let events = h.history("k").await;
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["tested", "staged", "created"]);
    let times: Vec<&str> = events.iter().map(|e| e["time"].as_str().unwrap()).collect();
    let mut sorted = times.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(times, sorted, "not newest first");
    assert_eq!(
        events[1]["actor"],
        json!({"entity_id": "bob", "display_name": "userpass-bob", "accessor": "acc-bob"})
    );
    for (e, who) in [(&events[0], "alice"), (&events[2], "alice")] {
        assert_eq!(e["actor"]["entity_id"], who);
        assert_eq!(e["actor"]["display_name"], format!("userpass-{who}"));
        assert_eq!(e["actor"]["accessor"], format!("acc-{who}"));
    }
    let ids: Vec<&str> = events
        .iter()
        .map(|e| e["request_id"].as_str().expect("request_id set"))
        .collect();
    for id in &ids {
        assert!(id.starts_with("req-"), "{id}");
    }
    // every event came from its own request
    assert!(ids[0] != ids[1] && ids[1] != ids[2], "{ids:?}");
    assert_eq!(events[2]["version"], 1);
    assert_eq!(events[1]["version"], 2);
    for e in &events {
        assert!(e["time"].as_str().unwrap().ends_with('Z'), "{e}");
    }
}

#[tokio::test]
async fn events_of_one_request_share_its_request_id() {
    let h = with_key().await;
    h.write("rotate/k", json!({ "value": NEW })).await.unwrap();
    let events = h.history("k").await;
    let ids: Vec<&serde_json::Value> = events[..3].iter().map(|e| &e["request_id"]).collect();
    assert!(ids[0].is_string());
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    assert_ne!(events[3]["request_id"], *ids[0]);
}

#[tokio::test]
async fn history_limit_keeps_the_newest_events() {
    let h = crate::backend::testing::Harness::new().await;
    h.write("config", json!({"history_limit": 3}))
        .await
        .unwrap();
    h.create_key("k", crate::backend::testing::OLD).await;
    for body in [
        json!({"schedule": "staging"}),
        json!({"rotation_period": "10d"}),
        json!({"grace_period": "1h"}),
        json!({"custom_metadata": {"team": "ml"}}),
    ] {
        h.write("keys/k", body).await.unwrap();
    }
    let events = h.history("k").await;
    let details: Vec<&str> = events
        .iter()
        .map(|e| e["detail"].as_str().unwrap())
        .collect();
    assert_eq!(
        details,
        [
            "changed custom_metadata",
            "changed grace_period",
            "changed rotation_period"
        ]
    );
    // the limit also holds across a rotation's several events
    h.write("rotate/k", json!({ "value": NEW })).await.unwrap();
    let kinds: Vec<String> = h
        .history("k")
        .await
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(kinds, ["promoted", "tested", "staged"]);
}

#[tokio::test]
async fn history_of_an_unknown_key_is_not_found() {
    let h = crate::backend::testing::Harness::new().await;
    assert!(h
        .call(Operation::Read, "history/nope", serde_json::Value::Null)
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn history_limit_caps_each_incarnation_and_a_new_one_starts_empty() {
    let h = crate::backend::testing::Harness::new().await;
    h.write("config", json!({"history_limit": 2}))
        .await
        .unwrap();
    h.create_key("k", crate::backend::testing::OLD).await;
    h.write("keys/k", json!({"custom_metadata": {"a": "1"}}))
        .await
        .unwrap();
    h.call(Operation::Delete, "keys/k", serde_json::Value::Null)
        .await
        .unwrap();
    h.create_key("k", NEW).await;
    let kinds = |events: Vec<serde_json::Value>| -> Vec<String> {
        events
            .iter()
            .map(|e| e["event"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(kinds(h.history("k").await), ["created"]);
    for i in 0..3 {
        h.write("keys/k", json!({"custom_metadata": {"i": i.to_string()}}))
            .await
            .unwrap();
    }
    assert_eq!(kinds(h.history("k").await), ["updated", "updated"]);
    // The deleted incarnation keeps its own newest events, untouched by the new one's trimming.
    let old = h
        .call(Operation::Read, "history/k", json!({"incarnation": 1}))
        .await
        .unwrap()
        .unwrap()
        .data_value();
    assert_eq!(
        kinds(old["events"].as_array().unwrap().clone()),
        ["deleted", "revoked"]
    );
}

#[tokio::test]
async fn a_page_cursor_of_one_incarnation_reads_nothing_of_another() {
    let h = crate::backend::testing::Harness::new().await;
    h.create_key("k", crate::backend::testing::OLD).await;
    for i in 0..4 {
        h.write("keys/k", json!({"custom_metadata": {"i": i.to_string()}}))
            .await
            .unwrap();
    }
    h.call(Operation::Delete, "keys/k", serde_json::Value::Null)
        .await
        .unwrap();
    let old = h
        .call(Operation::Read, "history/k", json!({"limit": 2}))
        .await
        .unwrap()
        .unwrap()
        .data_value();
    let cursor = old["next_after"].clone();
    assert!(cursor.is_string(), "{old}");
    h.create_key("k", NEW).await;
    // The old incarnation's cursor, used on the new one, reaches none of the old events.
    let page = h
        .call(Operation::Read, "history/k", json!({"after": cursor}))
        .await
        .unwrap()
        .unwrap()
        .data_value();
    assert_eq!(page["events"], json!([]), "{page}");
    // ... and on the old one it continues where it stopped.
    let rest = h
        .call(
            Operation::Read,
            "history/k",
            json!({"after": cursor, "incarnation": 1}),
        )
        .await
        .unwrap()
        .unwrap()
        .data_value();
    let kinds: Vec<&str> = rest["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["updated", "updated", "updated", "updated", "created"]
    );
}
