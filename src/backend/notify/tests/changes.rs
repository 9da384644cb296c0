//! A webhook's configuration changed while its events wait in the outbox: what is delivered
//! follows the configuration as it is at delivery, not as it was when the event was queued.

use axum::http::StatusCode;
use serde_json::json;

use super::{outbox, Receiver, SECRET};
use crate::backend::testing::{Harness, NEW, OLD};

/// Ticks until the outbox is empty (the test build's back-off is a second; bounded).
async fn drain(h: &Harness) {
    for _ in 0..40 {
        if outbox(h).await.is_empty() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        h.tick().await.unwrap();
    }
    panic!("the outbox never emptied: {:?}", outbox(h).await);
}

#[tokio::test]
async fn queued_events_a_webhook_no_longer_wants_are_not_sent_to_it() {
    let h = Harness::new().await;
    h.create_key("team-a-app", OLD).await;
    h.create_key("team-b-app", OLD).await;
    // One webhook for every key, its receiver down: the events wait with it as their target.
    let old = Receiver::start().await;
    *old.status.lock().unwrap() = StatusCode::SERVICE_UNAVAILABLE;
    h.create(
        "notifications/ops",
        json!({"url": old.url, "secret": SECRET}),
    )
    .await
    .unwrap();
    for key in ["team-a-app", "team-b-app"] {
        h.write(&format!("rotate/{key}"), json!({ "value": NEW }))
            .await
            .unwrap();
    }
    h.tick().await.unwrap();
    assert!(!old.got.lock().unwrap().is_empty(), "attempted, refused");
    // The administrator hands the webhook to team A: its receiver, its keys, promotions only.
    let team_a = Receiver::start().await;
    h.write(
        "notifications/ops",
        json!({"url": team_a.url, "key_prefix": "team-a-", "events": ["rotation.promoted"]}),
    )
    .await
    .unwrap();
    drain(&h).await;
    let got = team_a.events();
    let seen: Vec<(String, String)> = got
        .iter()
        .map(|e| {
            (
                e["subject"].as_str().unwrap().to_string(),
                e["type"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [(
            "team-a-app".to_string(),
            "io.openbao.ai-keys.rotation.promoted".to_string()
        )],
        "only what the webhook wants now"
    );
}
