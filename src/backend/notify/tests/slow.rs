//! Receivers that never answer: each POST waits its whole timeout, so the tick's delivery budget
//! is kept between an entry's webhooks too, and those not tried wait for the next tick.

use std::time::{Duration, Instant};

use serde_json::json;

use super::{outbox, SECRET};
use crate::backend::notify::deliver::{BUDGET, TIMEOUT};
use crate::backend::record::OutboxEntry;
use crate::backend::testing::{with_key, NEW};
use crate::framework::get_json;

/// A listener that accepts connections and never answers (held open until the test ends).
async fn silent() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    url
}

#[tokio::test]
async fn webhooks_that_never_answer_keep_the_tick_within_its_budget() {
    let h = with_key().await;
    let url = silent().await;
    let webhooks = 6;
    for i in 0..webhooks {
        h.create(
            &format!("notifications/w{i}"),
            json!({"url": url, "secret": SECRET, "events": ["rotation.promoted"]}),
        )
        .await
        .unwrap();
    }
    h.write("rotate/k", json!({ "value": NEW })).await.unwrap();
    let started = Instant::now();
    h.tick().await.unwrap();
    let took = started.elapsed();
    // One POST may start just before the budget ends and take its whole timeout.
    let most = BUDGET + TIMEOUT + Duration::from_secs(2);
    assert!(took < most, "the tick took {took:?}, more than {most:?}");
    let names = outbox(&h).await;
    assert_eq!(names.len(), 1, "{names:?}");
    let path = format!("{}{}", crate::backend::record::OUTBOX_PREFIX, names[0]);
    let entry: OutboxEntry = get_json(h.storage.as_ref(), &path).await.unwrap().unwrap();
    let targets = entry.targets.expect("targets");
    assert_eq!(targets.len(), webhooks, "every webhook still waits");
    let tried = targets.iter().filter(|t| t.attempts == 1).count();
    assert!((1..webhooks).contains(&tried), "{targets:?}");
    assert!(
        targets
            .iter()
            .filter(|t| t.attempts == 0)
            .all(|t| t.next_attempt.is_none()),
        "those not tried are due at the next tick: {targets:?}"
    );
}
