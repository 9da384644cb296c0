//! Revocations are never lost. A retired version's provider key gets
//! its revocation intent in or before the write that retires it; the record shows the revocation
//! as pending (with the last error) until the provider confirms it; it goes to the provider
//! configuration that created the version; a provider with pending revocations cannot be deleted;
//! and recovery finishes what failed.

use serde_json::{json, Value};

use crate::providers::{
    create_key, creds, openai_provider, read_key, rotate, tick_until, version, wait_until,
    RECOVERY_DEADLINE, SHORT_DEADLINE, TICK_DEADLINE,
};
use crate::support::checks::{data, expect_error, history, secret, write_ok};
use crate::support::fake_provider::{FakeProvider, Mode};
use crate::support::{Bao, Client, Tick};

/// `rotate/` without a value: the provider creates the key. Returns its provider id.
async fn rotate_created(client: &Client, fake: &FakeProvider, key: &str, body: Value) -> String {
    let before = fake.created_keys();
    let rotated = data(&rotate(client, key, body).await, "rotate/ without a value");
    assert_eq!(rotated["test"]["outcome"], "passed", "{rotated:#}");
    let created: Vec<String> = fake
        .created_keys()
        .into_iter()
        .filter(|(id, _, _)| !before.iter().any(|(b, _, _)| b == id))
        .map(|(id, _, _)| id)
        .collect();
    assert_eq!(created.len(), 1, "one key created: {created:?}");
    created[0].clone()
}

/// A key `k` at provider `oa` whose version 2 (created at the provider as `c1`) is `previous`
/// with a 2 s grace window after a second created rotation. Returns `c1`.
async fn created_previous(client: &Client, fake: &FakeProvider) -> String {
    openai_provider(client, fake, "oa").await;
    let v0 = secret("v0");
    fake.add_key(&v0);
    create_key(client, "k", json!({ "value": v0, "provider": "oa" })).await;
    let c1 = rotate_created(client, fake, "k", json!({})).await;
    rotate_created(client, fake, "k", json!({ "grace_period": "2s" })).await;
    assert_eq!(
        version(&read_key(client, "k").await, 2)["state"],
        "previous"
    );
    assert!(fake.is_active(&c1));
    c1
}

async fn wait_for_grace_end(bao: &Bao, client: &Client) {
    wait_until(
        bao,
        "the 2 s grace window to end",
        SHORT_DEADLINE,
        || async { creds(client, "k").await.get("previous_api_key").is_none() },
    )
    .await;
}

fn revocation(key: &Value, n: u64) -> &Value {
    let r = &version(key, n)["provider_revocation"];
    assert!(
        r.is_object(),
        "version {n} shows no provider revocation: {key:#}"
    );
    r
}

/// The `ai_keys_provider_revocations_pending` sample for key `k`.
async fn pending_metric(client: &Client) -> String {
    let reply = client.read("ai-keys/metrics?format=prometheus").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply
        .text
        .lines()
        .find(|l| {
            l.starts_with("ai_keys_provider_revocations_pending{key=\"k\",mount=\"ai-keys\"}")
        })
        .unwrap_or_else(|| panic!("no pending-revocation sample for k:\n{}", reply.text))
        .rsplit(' ')
        .next()
        .unwrap_or_default()
        .to_string()
}

/// A client write right after a grace window ended (before the periodic tick recorded
/// it) retires the version in its own write; that write must carry the revocation, and the
/// provider key dies at once. Before the fix the write stored the retirement and nothing ever
/// revoked the key (the tick then found nothing left to expire).
#[tokio::test]
async fn a_write_right_after_grace_end_revokes_at_the_provider() {
    let (bao, fake) = tokio::join!(Bao::start(), FakeProvider::start());
    let client = bao.client();
    let c1 = created_previous(&client, &fake).await;
    wait_for_grace_end(&bao, &client).await;

    write_ok(
        &client,
        "ai-keys/keys/k",
        json!({ "custom_metadata": { "team": "search" } }),
    )
    .await;
    assert!(
        !fake.is_active(&c1),
        "the expired version's key is still alive at the provider"
    );
    let key = read_key(&client, "k").await;
    assert_eq!(version(&key, 2)["state"], "revoked", "{key:#}");
    let r = revocation(&key, 2);
    assert_eq!(r["status"], "confirmed", "{key:#}");
    assert_eq!(r["provider"], "oa");
    assert!(r["confirmed_time"].is_string(), "{key:#}");
    let events = history(&client, "k").await;
    assert!(
        events
            .iter()
            .any(|e| e["event"] == "provider_revoked" && e["version"] == 2),
        "{events:#?}"
    );
    assert_eq!(pending_metric(&client).await, "0");
}

/// The record tells the truth and recovery finishes the work: a revocation the provider refuses is
/// shown pending with its error in `keys/`, the history and the metrics, never as done; once the
/// provider is back, recovery on the periodic tick revokes the key and records the confirmation.
///
/// Deliberately waits for the host's own periodic call (up to two minutes) instead of running
/// the tick hook: the test that shows a revocation retried through the real path, with the
/// recovery's production minimum age (30 s).
#[tokio::test]
async fn a_failed_revocation_stays_pending_until_the_provider_confirms() {
    let (bao, fake) = tokio::join!(Bao::start(), FakeProvider::start());
    let client = bao.client();
    let c1 = created_previous(&client, &fake).await;
    fake.set_admin_mode(Mode::ServerError500);
    wait_for_grace_end(&bao, &client).await;
    write_ok(
        &client,
        "ai-keys/keys/k",
        json!({ "custom_metadata": { "team": "search" } }),
    )
    .await;

    assert!(fake.is_active(&c1));
    let key = read_key(&client, "k").await;
    assert_eq!(version(&key, 2)["state"], "revoked", "{key:#}");
    let r = revocation(&key, 2);
    assert_eq!(r["status"], "pending", "{key:#}");
    assert!(r["confirmed_time"].is_null(), "{key:#}");
    assert!(r["attempts"].as_u64().unwrap_or(0) >= 1, "{key:#}");
    // The provider's refusal, by its status: every provider error names "provider", so only
    // the status tells this error from any other.
    let error = r["last_error"].as_str().unwrap_or_default();
    assert!(error.contains("HTTP 500"), "{error}");
    let events = history(&client, "k").await;
    assert!(
        events
            .iter()
            .any(|e| e["event"] == "provider_revocation_failed"
                && e["version"] == 2
                && e["outcome"] == "pending"),
        "{events:#?}"
    );
    assert_eq!(pending_metric(&client).await, "1");

    fake.set_admin_mode(Mode::Normal);
    wait_until(
        &bao,
        "recovery to revoke the key",
        TICK_DEADLINE,
        || async { revocation(&read_key(&client, "k").await, 2)["status"] == "confirmed" },
    )
    .await;
    assert!(!fake.is_active(&c1));
    assert_eq!(pending_metric(&client).await, "0");
}

/// A revocation goes to the provider configuration that created the version, not to
/// whatever provider the key names now; a provider with a pending revocation cannot be deleted
/// (400 naming it) until the revocation is confirmed.
#[tokio::test]
async fn revocations_go_to_the_creating_provider_which_cannot_be_deleted_meanwhile() {
    let (bao, f1, f2) = tokio::join!(Bao::start(), FakeProvider::start(), FakeProvider::start());
    let client = bao.client();
    openai_provider(&client, &f1, "p1").await;
    openai_provider(&client, &f2, "p2").await;
    let v0 = secret("v0");
    f1.add_key(&v0);
    create_key(&client, "k", json!({ "value": v0, "provider": "p1" })).await;
    let c1 = rotate_created(&client, &f1, "k", json!({})).await;
    assert_eq!(version(&read_key(&client, "k").await, 2)["provider"], "p1");

    // The key moves to p2; an emergency rotation there retires version 2 (created at p1) at once,
    // while p1 refuses admin calls.
    write_ok(&client, "ai-keys/keys/k", json!({ "provider": "p2" })).await;
    f1.set_admin_mode(Mode::ServerError500);
    rotate_created(&client, &f2, "k", json!({ "grace_period": 0 })).await;
    let key = read_key(&client, "k").await;
    assert_eq!(version(&key, 2)["state"], "revoked", "{key:#}");
    let r = revocation(&key, 2);
    assert_eq!(r["provider"], "p1", "{key:#}");
    assert_eq!(r["status"], "pending", "{key:#}");
    assert!(f1.is_active(&c1));

    let refused = client.delete("ai-keys/providers/p1").await;
    expect_error(
        &refused,
        400,
        &["pending revocations", "k version 2"],
        "delete p1",
    );
    assert_eq!(
        data(
            &client.read("ai-keys/providers/p1").await,
            "p1 is still there"
        )["name"],
        "p1"
    );

    f1.set_admin_mode(Mode::Normal);
    tick_until(
        &bao,
        Tick::RecoverYoungIntents,
        "recovery to revoke the key at p1",
        RECOVERY_DEADLINE,
        || async { !f1.is_active(&c1) },
    )
    .await;
    wait_until(
        &bao,
        "the record to show it confirmed",
        SHORT_DEADLINE,
        || async { revocation(&read_key(&client, "k").await, 2)["status"] == "confirmed" },
    )
    .await;
    assert!(
        !f2.uris().iter().any(|u| u.contains(c1.as_str())),
        "p2 was asked about a key it never created"
    );
    // Version 1 was a person's key, imported at p1: the engine left it to them (manual), and p1
    // stays until someone records revoking it by hand.
    let refused = client.delete("ai-keys/providers/p1").await;
    expect_error(
        &refused,
        400,
        &["manual revocations nobody acknowledged", "k version 1"],
        "delete p1 before the manual revocation is acknowledged",
    );
    write_ok(&client, "ai-keys/acknowledge/k", json!({ "version": 1 })).await;
    let deleted = client.delete("ai-keys/providers/p1").await;
    assert_eq!(deleted.status, 204, "{}", deleted.text);
}

/// Whatever a failed request rolls back, the grace end its own load applied stays with its
/// revocation: a `rotate/` the provider answers 503 right after version 2's grace window ended
/// still revokes version 2's key at the provider. Before the fix the failed rotation restored
/// the record from before the request and stored version 2 revoked with no revocation and no
/// intent: the key lived on at the provider and nothing would ever revoke it.
#[tokio::test]
async fn a_failed_rotation_right_after_grace_end_still_revokes_at_the_provider() {
    let (bao, fake) = tokio::join!(Bao::start(), FakeProvider::start());
    let client = bao.client();
    let c1 = created_previous(&client, &fake).await;
    wait_for_grace_end(&bao, &client).await;

    fake.set_mode(Mode::Overloaded529);
    let refused = rotate(&client, "k", json!({ "value": secret("v-down") })).await;
    expect_error(
        &refused,
        503,
        &["provider_unavailable"],
        "rotate/, provider down",
    );
    assert!(
        !fake.is_active(&c1),
        "the expired version's key is still alive at the provider"
    );
    let key = read_key(&client, "k").await;
    assert_eq!(key["current_version"], 3, "{key:#}");
    assert_eq!(version(&key, 2)["state"], "revoked", "{key:#}");
    assert_eq!(revocation(&key, 2)["status"], "confirmed", "{key:#}");
    assert_eq!(pending_metric(&client).await, "0");
}

/// A key deleted while its provider refuses the revocation: the delete says so (200, the
/// version's revocation pending, a warning that the key is still valid there), and the pending
/// revocation stays visible once the record is gone, in `providers/<name>`, `report` and the
/// mount's metric, until recovery confirms it, which the deleted key's kept history shows.
/// Before, it showed nowhere.
#[tokio::test]
async fn a_deleted_keys_pending_revocation_stays_visible_until_confirmed() {
    let (bao, fake) = tokio::join!(Bao::start(), FakeProvider::start());
    let client = bao.client();
    openai_provider(&client, &fake, "oa").await;
    let v0 = secret("v0");
    fake.add_key(&v0);
    create_key(&client, "k", json!({ "value": v0, "provider": "oa" })).await;
    let c1 = rotate_created(&client, &fake, "k", json!({})).await;

    fake.set_admin_mode(Mode::ServerError500);
    let deleted = client.delete("ai-keys/keys/k").await;
    assert_eq!(deleted.status, 200, "{}", deleted.text);
    let retired = &deleted.body["data"]["retired_versions"];
    assert!(
        retired
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["version"] == 2 && v["provider_revocation"] == "pending"),
        "{retired:#}"
    );
    assert!(
        deleted
            .warnings()
            .iter()
            .any(|w| w.contains("version 2") && w.contains("still valid at provider")),
        "{}",
        deleted.text
    );
    assert!(fake.is_active(&c1));

    let pending_at_oa = || async {
        data(&client.read("ai-keys/providers/oa").await, "providers/oa")["pending_revocations"]
            .clone()
    };
    assert_eq!(pending_at_oa().await, json!(["k version 2"]));
    let report = data(&client.read("ai-keys/report").await, "report");
    assert_eq!(
        report["deleted_keys_revocations_pending"][0]["version"], 2,
        "{report:#}"
    );
    let deleted_metric = || async {
        let reply = client.read("ai-keys/metrics?format=prometheus").await;
        reply
            .text
            .lines()
            .find(|l| l.starts_with("ai_keys_deleted_key_revocations_pending{"))
            .map(|l| l.rsplit(' ').next().unwrap_or_default().to_string())
            .unwrap_or_default()
    };
    assert_eq!(deleted_metric().await, "1");

    // The delete's failed attempt is in the deleted key's kept history.
    let events = history(&client, "k").await;
    assert!(
        events
            .iter()
            .any(|e| e["event"] == "provider_revocation_failed" && e["version"] == 2),
        "{events:#?}"
    );

    fake.set_admin_mode(Mode::Normal);
    tick_until(
        &bao,
        Tick::RecoverYoungIntents,
        "recovery to revoke the deleted key's version at the provider",
        RECOVERY_DEADLINE,
        || async { !fake.is_active(&c1) },
    )
    .await;
    assert_eq!(pending_at_oa().await, json!([]));
    assert_eq!(deleted_metric().await, "0");
    // The confirmation too, though the record is gone (before, the history stopped at the
    // delete).
    let events = history(&client, "k").await;
    assert_eq!(events[0]["event"], "provider_revoked", "{events:#?}");
    assert_eq!(events[0]["version"], 2, "{events:#?}");
    assert_eq!(events[0]["outcome"], "confirmed", "{events:#?}");
}
