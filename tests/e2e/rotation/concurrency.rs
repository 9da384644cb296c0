//! Concurrent stages: exactly one wins.

use serde_json::json;

use super::{assert_valid, create_key, event_names, verify};
use crate::support::checks::{expect_error, history, read_ok, secret};
use crate::support::Bao;

// ---------------------------------------------------------------------------------------------
// Concurrency
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_stages_admit_exactly_one() {
    let bao = Bao::start().await;
    let client = bao.client();
    create_key(&client, "app", &secret("k1"), json!({})).await;

    let values: Vec<String> = (0..10).map(|i| secret(&format!("c{i}"))).collect();
    let replies = futures::future::join_all(values.iter().map(|value| {
        let client = client.clone();
        let value = value.clone();
        async move {
            client
                .write("ai-keys/stage/app", json!({ "value": value }))
                .await
        }
    }))
    .await;
    let statuses: Vec<u16> = replies.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses.iter().filter(|&&s| s == 200).count(),
        1,
        "exactly one stage wins: {statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|&&s| s == 400).count(),
        9,
        "the others are refused: {statuses:?}"
    );
    let winner = replies.iter().position(|r| r.status == 200).unwrap();
    for reply in replies.iter().filter(|r| r.status == 400) {
        expect_error(
            reply,
            400,
            &["version 2", "already pending"],
            "losing stage",
        );
    }

    let key = read_ok(&client, "ai-keys/keys/app").await;
    assert_eq!(key["pending_version"], 2, "{key:#}");
    let versions = key["versions"].as_object().unwrap();
    assert_eq!(
        versions.len(),
        2,
        "no version left by a refused stage: {key:#}"
    );
    let pending = versions
        .values()
        .filter(|v| v["state"] == "pending")
        .count();
    assert_eq!(pending, 1, "{key:#}");
    assert_valid(
        &verify(&client, "app", &values[winner]).await,
        2,
        "pending",
        "the winner's value",
    );
    let events = history(&client, "app").await;
    assert_eq!(event_names(&events), ["staged", "created"], "{events:#?}");
}
