//! What the tick's notices remember of a key (`notify/notices/<key>`) goes with the key: a
//! key created again under its name hears its own notices, even when a crash left the deleted
//! key's marker behind.

use serde_json::json;

use super::{subscribe, Receiver};
use crate::backend::testing::{Harness, OLD};
use crate::framework::{Operation, Storage};

const MARKER: &str = "notify/notices/late";

/// Creates key `late`, 100 days old under the 90-day schedule: overdue.
async fn create_overdue(h: &Harness) {
    let created = (chrono::Utc::now() - chrono::Duration::days(100))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    h.create("keys/late", json!({"value": OLD, "created_time": created}))
        .await
        .unwrap();
}

fn overdue(r: &Receiver) -> Vec<serde_json::Value> {
    r.events()
        .into_iter()
        .filter(|e| e["type"] == "io.openbao.ai-keys.key.overdue")
        .collect()
}

#[tokio::test]
async fn a_deleted_keys_notice_marker_goes_with_it_and_the_next_key_is_told_again() {
    let h = Harness::new().await;
    let r = Receiver::start().await;
    subscribe(&h, &r).await;
    create_overdue(&h).await;
    h.tick().await.unwrap();
    assert_eq!(overdue(&r).len(), 1);
    assert!(h.storage.get(MARKER).await.unwrap().is_some());
    h.call(Operation::Delete, "keys/late", json!({}))
        .await
        .unwrap();
    assert_eq!(
        h.storage.get(MARKER).await.unwrap(),
        None,
        "removed with the key"
    );
    // The same name again, overdue the same day: its own notice, about its own incarnation.
    create_overdue(&h).await;
    h.tick().await.unwrap();
    h.tick().await.unwrap();
    let events = overdue(&r);
    assert_eq!(events.len(), 2, "{events:#?}");
    assert_eq!(events[1]["data"]["incarnation"], 2);
    assert_ne!(events[0]["id"], events[1]["id"]);
}

/// A crash between the record's removal and the marker's leaves the deleted key's marker: it
/// names the deleted incarnation, so it silences nothing.
#[tokio::test]
async fn a_marker_a_crash_left_behind_does_not_silence_a_new_key() {
    let h = Harness::new().await;
    let r = Receiver::start().await;
    subscribe(&h, &r).await;
    create_overdue(&h).await;
    h.tick().await.unwrap();
    let marker = h.storage.get(MARKER).await.unwrap().expect("marker");
    h.call(Operation::Delete, "keys/late", json!({}))
        .await
        .unwrap();
    // What the crash leaves: the marker as it was.
    h.storage.put(MARKER, marker.clone()).await.unwrap();
    create_overdue(&h).await;
    h.tick().await.unwrap();
    assert_eq!(overdue(&r).len(), 2, "the new key is told");
    // A marker of an earlier release names no incarnation: not trusted either.
    let mut unnamed: serde_json::Value = serde_json::from_slice(&marker).unwrap();
    unnamed.as_object_mut().unwrap().remove("incarnation");
    h.call(Operation::Delete, "keys/late", json!({}))
        .await
        .unwrap();
    h.storage
        .put(MARKER, serde_json::to_vec(&unnamed).unwrap())
        .await
        .unwrap();
    create_overdue(&h).await;
    h.tick().await.unwrap();
    assert_eq!(overdue(&r).len(), 3, "told again");
    // The new key's own marker does silence a repeat the same day.
    h.tick().await.unwrap();
    assert_eq!(overdue(&r).len(), 3);
}
