//! Keys the engine created at the provider are revoked there: when their grace ends (on the
//! periodic tick; an imported Anthropic key is left to a person), and at once on rollback and
//! delete.

use std::time::Instant;

use serde_json::json;

use crate::providers::{
    assert_no_leaks, configure_provider, create_key, creds, provider_body, read_key, rotate,
    version, wait_until, TICK_DEADLINE,
};
use crate::support::checks::{data, history, secret, write_ok};
use crate::support::fake_provider::FakeProvider;
use crate::support::{Bao, Client};

/// The `(id, value)` of keys created at the fake since `before` (a `created_keys()` snapshot).
fn new_created(fake: &FakeProvider, before: &[(String, String, bool)]) -> Vec<(String, String)> {
    fake.created_keys()
        .into_iter()
        .filter(|(id, _, _)| !before.iter().any(|(b, _, _)| b == id))
        .map(|(id, value, _)| (id, value))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// 5 + 6. Grace ends on the periodic tick: created keys revoked, Anthropic keys deactivated
// ---------------------------------------------------------------------------------------------

/// One key whose provider creates keys (`openai`, `openrouter`): `rotate/` without a value has
/// the provider create a key and promotes it; a second such rotation with `grace_period=2s`
/// leaves the first created key `previous`. Returns `(first created id, second created id)`.
async fn rotate_twice_with_created_keys(
    client: &Client,
    fake: &FakeProvider,
    kind: &str,
    key_name: &str,
) -> (String, String) {
    let v0 = secret("v0");
    fake.add_key(&v0);
    create_key(client, key_name, json!({ "value": v0, "provider": kind })).await;

    let before = fake.created_keys();
    let rotated = data(
        &rotate(client, key_name, json!({})).await,
        &format!("{kind}: rotate/ without a value"),
    );
    assert_eq!(rotated["test"]["outcome"], "passed", "{kind}: {rotated:#}");
    let created = new_created(fake, &before);
    assert_eq!(created.len(), 1, "{kind}: one key created: {created:?}");
    let (c1, c1_value) = created[0].clone();
    assert!(fake.is_active(&c1), "{kind}");
    let c = creds(client, key_name).await;
    assert_eq!(c["api_key"], c1_value.as_str(), "{kind}: creds");
    assert_eq!(c["version"], 2, "{kind}");
    assert_eq!(c["previous_api_key"], v0.as_str(), "{kind}: {c:#}");
    let key = read_key(client, key_name).await;
    assert_eq!(key["current_version"], 2, "{kind}");
    assert_eq!(version(&key, 2)["provider_key_id"], c1.as_str(), "{kind}");
    assert_eq!(version(&key, 2)["engine_created"], true, "{kind}");
    assert_eq!(version(&key, 1)["state"], "previous", "{kind}: {key:#}");

    let before = fake.created_keys();
    let rotated = data(
        &rotate(client, key_name, json!({ "grace_period": "2s" })).await,
        &format!("{kind}: second rotate/ without a value"),
    );
    assert_eq!(rotated["test"]["outcome"], "passed", "{kind}: {rotated:#}");
    let created = new_created(fake, &before);
    assert_eq!(created.len(), 1, "{kind}: one more key: {created:?}");
    let (c2, c2_value) = created[0].clone();
    let c = creds(client, key_name).await;
    assert_eq!(c["api_key"], c2_value.as_str(), "{kind}");
    assert_eq!(c["previous_api_key"], c1_value.as_str(), "{kind}: {c:#}");
    let key = read_key(client, key_name).await;
    assert_eq!(key["current_version"], 3, "{kind}");
    assert_eq!(version(&key, 2)["state"], "previous", "{kind}: {key:#}");
    assert!(version(&key, 2)["grace_expires_time"].is_string(), "{kind}");
    // The version left over from the first rotation is revoked at once (it was not created by
    // the engine, so nothing is called at the provider for it).
    assert_eq!(version(&key, 1)["state"], "revoked", "{kind}: {key:#}");
    // Grace has not ended: the first created key still works at the provider.
    assert!(fake.is_active(&c1), "{kind}: revoked during its grace");
    (c1, c2)
}

/// Grace ending is acted on at the provider by the periodic tick, for three keys at once:
/// - OpenAI and OpenRouter: the engine creates a key (`rotate/` without a value), promotes
///   it; a second such rotation with `grace_period=2s` makes the first `previous`; after the
///   window and the next tick that key is deleted at the provider (inactive at the fake) and
///   `keys/` shows it `revoked` (history: `expired` by the scheduler); the current created key
///   stays active.
/// - Anthropic: a key imported with `provider_key_id` (made in the Console; only its hint
///   checked, nothing proves it is the engine's) is left to a person once a rotation's 2 s grace
///   has ended and the tick has run: `manual`, never deactivated.
///
/// Deliberately waits for the host's own periodic call (up to two minutes) instead of running
/// the tick hook: the test that shows grace ends reach the provider through the real path.
#[tokio::test]
async fn tick_revokes_keys_at_the_provider_when_grace_ends() {
    let (bao, fake) = tokio::join!(Bao::start(), FakeProvider::start());
    let client = bao.client();
    let admins: Vec<String> = ["oa", "or", "an"]
        .iter()
        .map(|t| secret(&format!("admin-{t}")))
        .collect();
    for (kind, admin) in ["openai", "openrouter", "anthropic"].iter().zip(&admins) {
        fake.add_admin_key(admin);
        let got = configure_provider(&client, kind, provider_body(kind, &fake, Some(admin))).await;
        assert_eq!(got["capabilities"]["revoke"], true, "{got:#}");
    }

    let (oa1, oa2) = rotate_twice_with_created_keys(&client, &fake, "openai", "oa-key").await;
    let (or1, or2) = rotate_twice_with_created_keys(&client, &fake, "openrouter", "or-key").await;

    let (a1, a2) = (secret("ant-old"), secret("ant-new"));
    fake.add_anthropic_key("apikey_01old", &a1);
    fake.add_key(&a2);
    create_key(
        &client,
        "an-key",
        json!({ "value": a1, "provider": "anthropic", "provider_key_id": "apikey_01old" }),
    )
    .await;
    let rotated = data(
        &rotate(
            &client,
            "an-key",
            json!({ "value": a2, "grace_period": "2s" }),
        )
        .await,
        "anthropic: rotate/",
    );
    assert_eq!(rotated["test"]["outcome"], "passed");
    assert_eq!(
        fake.anthropic_key_status("apikey_01old").as_deref(),
        Some("active"),
        "deactivated during its grace"
    );
    let rotated_at = Instant::now();

    // Nothing but the tick acts now: no more writes, only reads of the fake.
    let f = &fake;
    let (oa1r, or1r, c) = (&oa1, &or1, &client);
    wait_until(
        &bao,
        "the tick to revoke the expired keys at the provider",
        TICK_DEADLINE,
        || async move {
            let an = read_key(c, "an-key").await;
            !f.is_active(oa1r)
                && !f.is_active(or1r)
                && version(&an, 1)["provider_revocation"]["status"] == "manual"
        },
    )
    .await;
    eprintln!(
        "grace-end revocations seen {:?} after the rotations",
        rotated_at.elapsed()
    );

    assert!(fake.is_active(&oa2), "the current OpenAI key was revoked");
    assert!(
        fake.is_active(&or2),
        "the current OpenRouter key was revoked"
    );
    assert!(fake.is_valid_key(&a2));
    assert_eq!(
        fake.anthropic_key_status("apikey_01old").as_deref(),
        Some("active"),
        "a key the engine does not own was deactivated"
    );
    assert_eq!(fake.mutation_requests("apikey_01old"), 0);
    for (name, current) in [("oa-key", 3), ("or-key", 3), ("an-key", 2)] {
        let key = read_key(&client, name).await;
        let old = current - 1;
        assert_eq!(key["current_version"], current, "{name}: {key:#}");
        assert_eq!(version(&key, old)["state"], "revoked", "{name}: {key:#}");
        assert!(version(&key, old)["revoked_time"].is_string(), "{name}");
        let events = history(&client, name).await;
        assert!(
            events.iter().any(|e| e["event"] == "expired"
                && e["version"] == old
                && e["actor"] == "scheduler"),
            "{name}: no `expired` event by the scheduler: {events:#?}"
        );
        let c = creds(&client, name).await;
        assert!(c["previous_api_key"].is_null(), "{name}: {c:#}");
    }
    let mut secrets = admins.clone();
    secrets.extend([a1, a2]);
    assert_no_leaks(&bao, &[&fake], &secrets).await;
}

/// Retirements that happen in a request are acted on at the provider in that request, without
/// waiting for the tick: rolling back an engine-created pending version revokes its key there,
/// and deleting a key revokes every key the engine created for it (OpenAI and OpenRouter).
#[tokio::test]
async fn rollback_and_delete_revoke_created_keys_at_once() {
    let bao = Bao::start().await;
    let client = bao.client();
    let fake = FakeProvider::start().await;
    let admin = secret("admin");
    fake.add_admin_key(&admin);
    let mut secrets = vec![admin.clone()];
    for kind in ["openai", "openrouter"] {
        configure_provider(&client, kind, provider_body(kind, &fake, Some(&admin))).await;
        let key_name = format!("del-{kind}");
        let v0 = secret("v0");
        fake.add_key(&v0);
        secrets.push(v0.clone());
        create_key(&client, &key_name, json!({ "value": v0, "provider": kind })).await;

        // stage/ without a value creates a key at the provider; rollback discards and revokes it.
        let before = fake.created_keys();
        let staged = write_ok(&client, &format!("ai-keys/stage/{key_name}"), json!({})).await;
        let created = new_created(&fake, &before);
        assert_eq!(created.len(), 1, "{kind}: {created:?}");
        let (pending_id, pending_value) = created[0].clone();
        secrets.push(pending_value);
        assert_eq!(
            staged["provider_key_id"],
            pending_id.as_str(),
            "{kind}: {staged:#}"
        );
        assert!(fake.is_active(&pending_id), "{kind}");
        write_ok(&client, &format!("ai-keys/rollback/{key_name}"), json!({})).await;
        assert!(
            !fake.is_active(&pending_id),
            "{kind}: rolled-back key still active"
        );
        let key = read_key(&client, &key_name).await;
        assert_eq!(version(&key, 2)["state"], "failed", "{kind}: {key:#}");

        // rotate/ without a value: the created key becomes current; deleting the key revokes it.
        let before = fake.created_keys();
        let rotated = data(&rotate(&client, &key_name, json!({})).await, kind);
        assert_eq!(rotated["test"]["outcome"], "passed", "{kind}: {rotated:#}");
        let created = new_created(&fake, &before);
        assert_eq!(created.len(), 1, "{kind}: {created:?}");
        let (current_id, current_value) = created[0].clone();
        secrets.push(current_value);
        assert!(fake.is_active(&current_id), "{kind}");
        let deleted = client.delete(&format!("ai-keys/keys/{key_name}")).await;
        // It revoked a key at the provider, so it says how that stands.
        assert_eq!(deleted.status, 200, "{kind}: {}", deleted.text);
        let retired = &deleted.body["data"]["retired_versions"];
        assert!(
            retired
                .as_array()
                .unwrap()
                .iter()
                .any(|v| v["version"] == 3 && v["provider_revocation"] == "confirmed"),
            "{kind}: {retired:#}"
        );
        assert!(
            !fake.is_active(&current_id),
            "{kind}: deleted key's created key still active"
        );
        // The kept history: the delete, then (newest first) the revocation the delete made once
        // the record was gone.
        let events = history(&client, &key_name).await;
        let newest: Vec<&str> = events
            .iter()
            .take(2)
            .map(|e| e["event"].as_str().unwrap_or_default())
            .collect();
        assert_eq!(
            newest,
            ["provider_revoked", "deleted"],
            "{kind}: {events:#?}"
        );
        assert_eq!(events[0]["version"], 3, "{kind}: {events:#?}");
    }
    assert!(
        fake.active_created_keys().is_empty(),
        "{:?}",
        fake.created_keys()
    );
    assert_no_leaks(&bao, &[&fake], &secrets).await;
}
