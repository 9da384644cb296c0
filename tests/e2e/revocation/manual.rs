//! Imported keys whose ids no possession proof backs (Anthropic, OpenAI) are never revoked by
//! the engine: their retirement is a `manual` revocation, counted by the metric and the report
//! until an administrator acknowledges revoking it by hand.

use serde_json::{json, Value};

use crate::providers::{configure_provider, provider_body, tick_until, PROJECT, RECOVERY_DEADLINE};
use crate::support::checks::{expect_error, history, read_ok, secret, write_ok};
use crate::support::fake_provider::FakeProvider;
use crate::support::raw::{raw_list, raw_put};
use crate::support::{Bao, Client, Tick};

/// The `ai_keys_provider_revocations_manual` gauge of key `key` (JSON metrics).
async fn manual_gauge(client: &Client, key: &str) -> f64 {
    let metrics = read_ok(client, "ai-keys/metrics").await;
    let labels = json!({ "mount": "ai-keys", "key": key });
    let found: Vec<&Value> = metrics["gauges"]
        .as_array()
        .expect("gauges")
        .iter()
        .filter(|s| s["name"] == "ai_keys_provider_revocations_manual" && s["labels"] == labels)
        .collect();
    assert_eq!(found.len(), 1, "{key} in {metrics:#}");
    found[0]["value"].as_f64().expect("a number")
}

/// The report's line of key `key`.
async fn report_line(client: &Client, key: &str) -> Value {
    let report = read_ok(client, &format!("ai-keys/report?prefix={key}")).await;
    report["keys"][0].clone()
}

/// Anthropic: a key imported with its id, and a stage of another with its id, both matching
/// their hints. Rolling the pending version back and deleting the key record `manual` for each
/// (no request ever reaches the real keys). OpenAI: an imported key with its id, retired by a
/// rotation to a given value with no grace, is `manual` too; the metric and the report count it
/// until `acknowledge/` records it done.
#[tokio::test]
async fn imported_keys_with_hint_checked_ids_are_left_to_a_person_and_counted() {
    let (bao, fake) = tokio::join!(Bao::start(), FakeProvider::start());
    let root = bao.client();
    let admin = secret("admin-manual");
    fake.add_admin_key(&admin);
    for kind in ["anthropic", "openai"] {
        configure_provider(&root, kind, provider_body(kind, &fake, Some(&admin))).await;
    }
    let (a1, a2) = (secret("ant-one"), secret("ant-two"));
    fake.add_anthropic_key("apikey_01one", &a1);
    fake.add_anthropic_key("apikey_01two", &a2);
    write_ok(
        &root,
        "ai-keys/keys/an",
        json!({ "value": a1, "provider": "anthropic", "provider_key_id": "apikey_01one" }),
    )
    .await;
    write_ok(
        &root,
        "ai-keys/stage/an",
        json!({ "value": a2, "provider_key_id": "apikey_01two" }),
    )
    .await;
    write_ok(&root, "ai-keys/rollback/an", json!({})).await;
    let key = read_ok(&root, "ai-keys/keys/an").await;
    let r2 = &key["versions"]["2"]["provider_revocation"];
    assert_eq!(key["versions"]["2"]["state"], "failed", "{key:#}");
    assert_eq!(r2["status"], "manual", "{key:#}");
    assert_eq!(r2["provider_key_id"], "apikey_01two", "{key:#}");
    assert_eq!(manual_gauge(&root, "an").await, 1.0);

    let deleted = root.delete("ai-keys/keys/an").await;
    assert!(deleted.is_success(), "{}", deleted.text);
    for id in ["apikey_01one", "apikey_01two"] {
        assert_eq!(fake.mutation_requests(id), 0, "{id}");
        assert_eq!(
            fake.anthropic_key_status(id).as_deref(),
            Some("active"),
            "{id}"
        );
    }
    let history = read_ok(&root, "ai-keys/history/an").await;
    let manual: Vec<&Value> = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == "provider_revocation_manual")
        .collect();
    assert_eq!(manual.len(), 2, "{history:#}");
    assert!(
        manual
            .iter()
            .any(|e| e["version"] == 1 && e["detail"].as_str().unwrap().contains("apikey_01one")),
        "{history:#}"
    );

    // OpenAI.
    let (o1, o2) = (secret("oa-one"), secret("oa-two"));
    fake.add_openai_key(PROJECT, "key_oneOA", &o1);
    fake.add_key(&o2);
    write_ok(
        &root,
        "ai-keys/keys/oa",
        json!({ "value": o1, "provider": "openai", "provider_key_id": "key_oneOA" }),
    )
    .await;
    write_ok(
        &root,
        "ai-keys/rotate/oa",
        json!({ "value": o2, "grace_period": "0s" }),
    )
    .await;
    let key = read_ok(&root, "ai-keys/keys/oa").await;
    assert_eq!(
        key["versions"]["1"]["provider_revocation"]["status"], "manual",
        "{key:#}"
    );
    assert!(
        fake.is_active("key_oneOA"),
        "a key the engine does not own was deleted"
    );
    assert_eq!(fake.mutation_requests("key_oneOA"), 0);
    assert_eq!(manual_gauge(&root, "oa").await, 1.0);
    let line = report_line(&root, "oa").await;
    assert_eq!(line["revocations_manual"][0]["version"], 1, "{line:#}");
    assert_eq!(
        line["revocations_manual"][0]["provider_key_id"], "key_oneOA",
        "{line:#}"
    );
    assert_eq!(line["revocations_confirmed"], json!([]), "{line:#}");

    let acked = write_ok(
        &root,
        "ai-keys/acknowledge/oa",
        json!({ "version": 1, "reason": "revoked in the dashboard" }),
    )
    .await;
    assert_eq!(
        acked["provider_revocation"]["status"], "acknowledged",
        "{acked:#}"
    );
    assert_eq!(manual_gauge(&root, "oa").await, 0.0);
    let line = report_line(&root, "oa").await;
    assert_eq!(line["revocations_manual"], json!([]), "{line:#}");
    assert_eq!(
        line["revocations_acknowledged"][0]["version"], 1,
        "{line:#}"
    );
    crate::providers::assert_no_leaks(&bao, &[&fake], &[admin, a1, a2, o1, o2]).await;
}

/// A server and a fake provider with the `anthropic` configuration (admin key named by `tag`).
async fn with_anthropic(tag: &str) -> (Bao, FakeProvider, Client, String) {
    let (bao, fake) = tokio::join!(Bao::start(), FakeProvider::start());
    let root = bao.client();
    let admin = secret(tag);
    fake.add_admin_key(&admin);
    configure_provider(
        &root,
        "anthropic",
        provider_body("anthropic", &fake, Some(&admin)),
    )
    .await;
    (bao, fake, root, admin)
}

/// The mount's `ai_keys_deleted_key_revocations_manual` gauge (JSON metrics).
async fn deleted_manual_gauge(client: &Client) -> f64 {
    let metrics = read_ok(client, "ai-keys/metrics").await;
    let found: Vec<&Value> = metrics["gauges"]
        .as_array()
        .expect("gauges")
        .iter()
        .filter(|s| s["name"] == "ai_keys_deleted_key_revocations_manual")
        .collect();
    assert_eq!(found.len(), 1, "{metrics:#}");
    found[0]["value"].as_f64().expect("a number")
}

/// A key deleted with a manual revocation nobody acknowledged: the revocation outlives the
/// record (before, it vanished with it, and the provider could be deleted with the key still
/// alive there): the mount's metric counts it, `providers/<name>` lists it and refuses the
/// provider's delete, the report lists it, until `acknowledge/` records it done in the deleted
/// key's kept history.
#[tokio::test]
async fn a_deleted_keys_manual_revocation_stays_counted_until_acknowledged() {
    let (bao, fake, root, admin) = with_anthropic("admin-deleted-manual").await;
    let a1 = secret("ant-deleted");
    fake.add_anthropic_key("apikey_01gone", &a1);
    write_ok(
        &root,
        "ai-keys/keys/an",
        json!({ "value": a1, "provider": "anthropic", "provider_key_id": "apikey_01gone" }),
    )
    .await;
    let deleted = root.delete("ai-keys/keys/an").await;
    assert!(deleted.is_success(), "{}", deleted.text);
    assert_eq!(fake.mutation_requests("apikey_01gone"), 0);

    assert_eq!(deleted_manual_gauge(&root).await, 1.0);
    let provider = read_ok(&root, "ai-keys/providers/anthropic").await;
    assert_eq!(
        provider["belongings"]["manual_revocations"],
        json!(["an version 1 (deleted, incarnation 1)"]),
        "{provider:#}"
    );
    let refused = root.delete("ai-keys/providers/anthropic").await;
    expect_error(
        &refused,
        400,
        &["an version 1", "acknowledge"],
        "deleting a provider owed a manual revocation",
    );
    let report = read_ok(&root, "ai-keys/report").await;
    let listed = &report["deleted_keys_revocations_manual"];
    assert_eq!(listed[0]["key"], "an", "{report:#}");
    assert_eq!(listed[0]["version"], 1, "{report:#}");
    assert_eq!(listed[0]["provider_key_id"], "apikey_01gone", "{report:#}");

    let acked = write_ok(
        &root,
        "ai-keys/acknowledge/an",
        json!({ "version": 1, "reason": "revoked in the console" }),
    )
    .await;
    assert_eq!(acked["deleted"], true, "{acked:#}");
    assert_eq!(
        acked["provider_revocation"]["status"], "acknowledged",
        "{acked:#}"
    );
    assert_eq!(deleted_manual_gauge(&root).await, 0.0);
    let report = read_ok(&root, "ai-keys/report").await;
    assert_eq!(
        report["deleted_keys_revocations_manual"],
        json!([]),
        "{report:#}"
    );
    let events = history(&root, "an").await;
    assert_eq!(
        events[0]["event"], "provider_revocation_acknowledged",
        "{events:#?}"
    );
    assert_eq!(events[0]["version"], 1, "{events:#?}");
    let gone = root.delete("ai-keys/providers/anthropic").await;
    assert!(gone.is_success(), "{}", gone.text);
    crate::providers::assert_no_leaks(&bao, &[&fake], &[admin, a1]).await;
}

/// An earlier release's pending revocation of a deleted key it never proved its own (planted as
/// that release left it: no `owned`, no incarnation, no origin) is never sent to the provider:
/// recovery keeps it as the deleted key's manual revocation, counted, listed and refusing the
/// provider's delete, until someone acknowledges it (before, it was dropped with a log line).
#[tokio::test]
async fn an_earlier_releases_unproven_revocation_of_a_deleted_key_is_left_to_a_person() {
    let (bao, fake, root, admin) = with_anthropic("admin-unproven").await;
    let value = secret("ant-unproven");
    fake.add_anthropic_key("apikey_01old", &value);
    let intent = json!({
        "type": "provider_revoke",
        "data": { "key": "old", "provider": "anthropic", "version": 2,
                  "provider_key_id": "apikey_01old" },
        "created_at": chrono::Utc::now().timestamp() - 3600,
    });
    raw_put(&root, "wal/earlier-release-intent", &intent.to_string()).await;

    let c = &root;
    tick_until(
        &bao,
        Tick::RecoverYoungIntents,
        "recovery to settle the planted intent",
        RECOVERY_DEADLINE,
        || async move { raw_list(c, "wal/").await.is_empty() },
    )
    .await;
    assert_eq!(fake.mutation_requests("apikey_01old"), 0, "never sent");
    assert_eq!(deleted_manual_gauge(&root).await, 1.0);
    let report = read_ok(&root, "ai-keys/report").await;
    let listed = &report["deleted_keys_revocations_manual"];
    assert_eq!(
        (
            &listed[0]["key"],
            &listed[0]["version"],
            &listed[0]["provider_key_id"]
        ),
        (&json!("old"), &json!(2), &json!("apikey_01old")),
        "{report:#}"
    );
    let refused = root.delete("ai-keys/providers/anthropic").await;
    expect_error(&refused, 400, &["old version 2"], "a provider owed it");

    let acked = write_ok(
        &root,
        "ai-keys/acknowledge/old",
        json!({ "version": 2, "reason": "revoked in the console" }),
    )
    .await;
    assert_eq!(acked["deleted"], true, "{acked:#}");
    assert_eq!(deleted_manual_gauge(&root).await, 0.0);
    crate::providers::assert_no_leaks(&bao, &[&fake], &[admin, value]).await;
}
