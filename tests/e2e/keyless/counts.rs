//! A federated key's exchange counts and what belongs to its provider: `history/`, `report`
//! and `metrics` count its exchanges on the node that answers (ok, failures by outcome, the
//! last failure's error, never a token), the audit log records each `creds/` read, and its
//! provider cannot be deleted while the key names it.

use serde_json::{json, Value};

use super::exchange::{federated_setup, AUDIENCE, IDS};
use crate::metrics::promtool_check_metrics;
use crate::support::fake_provider::FakeProvider;
use crate::support::Client;

/// Each federated key's counter for `outcome`, from `metrics` (JSON).
async fn key_count(client: &Client, key: &str, outcome: &str) -> f64 {
    let labels = [("key", key), ("outcome", outcome)];
    super::counter(
        client,
        "ai_keys_federated_key_token_exchanges_total",
        &labels,
    )
    .await
}

#[tokio::test]
async fn history_report_and_metrics_count_a_federated_keys_exchanges_and_its_provider_stays() {
    let fake = FakeProvider::start().await;
    let (bao, issuer) = federated_setup(&fake, 600).await;
    let client = bao.client();

    // One exchange, then a cached read: one success.
    let ok = client.read("ai-keys/creds/app").await;
    ok.expect_status(200);
    let token = ok.data()["api_key"].as_str().unwrap().to_string();
    client.read("ai-keys/creds/app").await.expect_status(200);
    // An outage (503), then a rule that no longer matches (502): one failure of each outcome.
    fake.set_exchange_outage(true);
    client
        .write("ai-keys/keys/app", json!({"token_ttl": "120s"}))
        .await
        .expect_status(200);
    assert_eq!(client.read("ai-keys/creds/app").await.status, 503);
    fake.set_exchange_outage(false);
    fake.trust_issuer(&issuer, AUDIENCE, "another-workload", &IDS, 600);
    client
        .write("ai-keys/keys/app", json!({"token_ttl": "90s"}))
        .await
        .expect_status(200);
    assert_eq!(client.read("ai-keys/creds/app").await.status, 502);

    let history = client.read("ai-keys/history/app").await;
    history.expect_status(200);
    let h = history.data();
    assert_eq!(
        (h["federated"].clone(), h["events"].clone()),
        (json!(true), json!([]))
    );
    let ex = &h["exchanges"];
    assert_eq!(ex["ok"], 1, "{}", history.text);
    assert_eq!(
        ex["failed"],
        json!({"bad_key": 1, "provider_unavailable": 1})
    );
    assert_eq!(ex["node"], "active");
    let error = ex["last_error"].as_str().unwrap();
    assert!(
        error.contains("bad_key") && error.contains("invalid_grant"),
        "{error}"
    );
    assert!(ex["last_failure_time"].is_string() && ex["since"].is_string());

    let report = client.read("ai-keys/report").await;
    report.expect_status(200);
    let rows = report.data()["keys"].as_array().unwrap().clone();
    let row = rows
        .iter()
        .find(|r| r["key"] == "app")
        .expect("a row for app");
    assert_eq!(row["federated"], true);
    assert_eq!(row["provider"], "oa");
    assert_eq!(row["exchanges"]["ok"], 1);
    assert_eq!(row["exchanges"]["failed"]["bad_key"], 1);

    assert_eq!(key_count(&client, "app", "success").await, 1.0);
    assert_eq!(key_count(&client, "app", "bad_key").await, 1.0);
    assert_eq!(key_count(&client, "app", "provider_unavailable").await, 1.0);
    let text = client.read("ai-keys/metrics?format=prometheus").await;
    assert_eq!(text.status, 200, "{}", text.text);
    assert!(
        text.text.contains(
            "ai_keys_federated_key_token_exchanges_total{key=\"app\",mount=\"ai-keys\",outcome=\"bad_key\"} 1"
        ),
        "{}",
        text.text
    );
    promtool_check_metrics(&text.text);

    // The provider cannot go while the key names it; its read says why.
    let refused = client.delete("ai-keys/providers/oa").await;
    assert_eq!(refused.status, 400, "{}", refused.text);
    assert!(
        refused.errors().contains("federated keys: app"),
        "{}",
        refused.text
    );
    let provider = client.read("ai-keys/providers/oa").await;
    provider.expect_status(200);
    assert_eq!(
        provider.data()["belongings"]["federated_keys"],
        json!(["app"])
    );

    // The audit log has every creds/ read (four), and never the token in clear.
    let audit = bao.audit_log();
    let reads = audit
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["type"] == "response" && e["request"]["path"] == "ai-keys/creds/app")
        .count();
    assert_eq!(reads, 4, "a response entry per creds/ read");
    for (what, text) in [
        ("audit log", audit),
        ("server log", bao.server_log()),
        ("history", history.text.clone()),
        ("report", report.text.clone()),
    ] {
        assert!(!text.contains(&token), "token in the {what}");
    }

    // Once the key is gone, so are its counts and the provider's hold.
    for path in ["ai-keys/keys/app", "ai-keys/providers/oa"] {
        let gone = client.delete(path).await;
        assert!(matches!(gone.status, 200 | 204), "{path}: {}", gone.text);
    }
    assert_eq!(client.read("ai-keys/history/app").await.status, 404);
}
