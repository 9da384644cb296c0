//! What the tick's notices remember of a key (`notify/notices/<key>`) goes with the key: a key
//! created again under a deleted key's name hears its own notices, even when the deleted key's
//! marker was left behind (a crash between the delete's two writes).

use std::time::Duration;

use serde_json::{json, Value};

use super::{subscribed, Receiver};
use crate::providers::{create_key, tick_until};
use crate::support::raw::{raw_get, raw_put};
use crate::support::{Bao, Client, Tick};

const DEADLINE: Duration = Duration::from_secs(20);
const MARKER: &str = "notify/notices/late";

/// Key `late`, 100 days old under the default 90-day schedule: overdue.
async fn create_overdue(root: &Client) {
    let created = (chrono::Utc::now() - chrono::Duration::days(100))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let value = crate::support::checks::secret("late");
    create_key(
        root,
        "late",
        json!({ "value": value, "created_time": created }),
    )
    .await;
}

fn overdue(receiver: &Receiver) -> Vec<Value> {
    receiver
        .events()
        .into_iter()
        .filter(|e| e["type"] == "io.openbao.ai-keys.key.overdue")
        .collect()
}

async fn tick_until_overdue(bao: &Bao, receiver: &Receiver, count: usize) {
    tick_until(
        bao,
        Tick::AsTheHost,
        "the overdue notice",
        DEADLINE,
        || async move { overdue(receiver).len() >= count },
    )
    .await;
}

#[tokio::test]
async fn a_key_created_again_under_a_deleted_name_hears_its_own_notices() {
    let bao = Bao::start().await;
    let root = bao.client();
    let (receiver, _) = subscribed(&root).await;

    create_overdue(&root).await;
    tick_until_overdue(&bao, &receiver, 1).await;
    assert!(
        raw_get(&root, MARKER).await.is_some(),
        "the notice is remembered"
    );
    assert!(root.delete("ai-keys/keys/late").await.is_success());
    assert_eq!(raw_get(&root, MARKER).await, None, "removed with the key");

    // The same name again, overdue the same day: told again (the same day's marker would have
    // silenced it).
    create_overdue(&root).await;
    tick_until_overdue(&bao, &receiver, 2).await;
    let marker = raw_get(&root, MARKER).await.expect("the new key's marker");

    // A crash between the record's removal and the marker's leaves the marker: it names the
    // deleted incarnation, so the next key of the name is still told.
    assert!(root.delete("ai-keys/keys/late").await.is_success());
    raw_put(&root, MARKER, &marker).await;
    create_overdue(&root).await;
    tick_until_overdue(&bao, &receiver, 3).await;
    root.tick(Tick::AsTheHost).await;
    let events = overdue(&receiver);
    assert_eq!(events.len(), 3, "each key once: {events:#?}");
    let incarnations: Vec<&Value> = events.iter().map(|e| &e["data"]["incarnation"]).collect();
    assert_eq!(incarnations, [&json!(1), &json!(2), &json!(3)]);
    assert!(receiver.rejected().is_empty(), "{:?}", receiver.rejected());
}
