//! `reconcile` after a restore, against a real OpenBao and the fake provider: a key made at the
//! provider in the engine's naming that no record claims (as if created after the snapshot the
//! server was restored from) is revoked there, and nothing else is touched (the keys the records
//! hold, a person's key, a key in the engine's naming for a key this mount does not hold); a
//! current version already revoked at the provider is flagged; `dry_run` changes nothing; and
//! running it again is harmless.

use serde_json::{json, Value};

use crate::providers::{assert_no_leaks, configure_provider, create_key, provider_body, read_key};
use crate::support::checks::{data, history, secret};
use crate::support::fake_provider::FakeProvider;
use crate::support::{Bao, Client};

async fn reconcile(client: &Client, dry_run: bool) -> Value {
    let reply = client
        .write("ai-keys/reconcile", json!({ "dry_run": dry_run }))
        .await;
    data(&reply, "reconcile").clone()
}

/// `(provider_key_id, action)` of every orphan the answer lists.
fn actions(out: &Value) -> Vec<(String, String)> {
    let mut all: Vec<(String, String)> = out["providers"][0]["orphans"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|o| {
            let id = o["provider_key_id"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            (id, o["action"].as_str().unwrap_or_default().to_string())
        })
        .collect();
    all.sort();
    all
}

#[tokio::test]
async fn reconcile_revokes_only_an_unclaimed_key_of_the_engine_and_flags_a_revoked_current_one() {
    let (bao, fake) = tokio::join!(Bao::start(), FakeProvider::start());
    let client = bao.client();
    let admin = secret("admin");
    fake.add_admin_key(&admin);
    configure_provider(
        &client,
        "or",
        provider_body("openrouter", &fake, Some(&admin)),
    )
    .await;
    for name in ["kept", "gone"] {
        create_key(&client, name, json!({ "provider": "or" })).await;
    }
    let made = fake.created_keys();
    let (kept_hash, gone_hash) = (made[0].0.clone(), made[1].0.clone());

    // At the provider, beside the two keys: an orphan of "kept" in the engine's naming, a key
    // in the engine's naming for a key this mount does not hold, and a person's key.
    let (orphan, stranger, person) = ("sk-or-v1-orphan0", "sk-or-v1-strang0", "sk-or-v1-person0");
    let orphan_value = format!("{orphan}{}", secret("o"));
    let stranger_value = format!("{stranger}{}", secret("s"));
    let person_value = format!("{person}{}", secret("p"));
    fake.add_openrouter_key_named("orphanhash01", &orphan_value, "ai-keys-kept-0123456789ab");
    fake.add_openrouter_key_named(
        "strangerhash1",
        &stranger_value,
        "ai-keys-elsewhere-0123456789ab",
    );
    fake.add_openrouter_key("personhash01", &person_value);
    // "gone"'s current key deleted at the provider by hand (its management API).
    let deleted = reqwest::Client::new()
        .delete(format!("{}/api/v1/keys/{gone_hash}", fake.base_url()))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("the fake answers");
    assert!(deleted.status().is_success(), "{}", deleted.status());

    // A dry run reports and changes nothing.
    let dry = reconcile(&client, true).await;
    let expected_dry = vec![
        ("orphanhash01".to_string(), "would_revoke".to_string()),
        ("strangerhash1".to_string(), "unknown_key".to_string()),
    ];
    assert_eq!(actions(&dry), expected_dry, "{dry:#}");
    assert!(fake.is_active("orphanhash01"));
    assert_eq!(
        read_key(&client, "gone").await["current_key_rejected"],
        false
    );

    let out = reconcile(&client, false).await;
    let expected = vec![
        ("orphanhash01".to_string(), "revoked".to_string()),
        ("strangerhash1".to_string(), "unknown_key".to_string()),
    ];
    assert_eq!(actions(&out), expected, "{out:#}");
    assert_eq!(out["providers"][0]["claimed"], 1, "{out:#}");
    assert!(!fake.is_active("orphanhash01"), "the orphan is revoked");
    for (id, what) in [
        (&kept_hash, "kept's current key"),
        (&"strangerhash1".to_string(), "another mount's key"),
        (&"personhash01".to_string(), "a person's key"),
    ] {
        assert!(fake.is_active(id), "{what} is untouched");
        assert_eq!(fake.mutation_requests(id), 0, "{what}: no change was asked");
    }
    // The current version revoked at the provider is flagged.
    assert_eq!(
        out["versions_rejected"],
        json!([{ "key": "gone", "version": 1, "state": "current", "outcome": "bad_key" }]),
        "{out:#}"
    );
    let gone = read_key(&client, "gone").await;
    assert_eq!(gone["current_key_rejected"], true, "{gone:#}");
    let events = history(&client, "gone").await;
    assert!(
        events.iter().any(|e| e["event"] == "current_key_rejected"),
        "{events:#?}"
    );
    let kept = read_key(&client, "kept").await;
    assert_eq!(kept["current_key_rejected"], false, "{kept:#}");
    assert_eq!(kept["current_version"], 1);

    // Again: harmless, the orphan is no longer listed and nothing else changes.
    let again = reconcile(&client, false).await;
    assert_eq!(
        actions(&again),
        vec![("strangerhash1".to_string(), "unknown_key".to_string())],
        "{again:#}"
    );
    assert_no_leaks(
        &bao,
        &[&fake],
        &[admin, orphan_value, stranger_value, person_value],
    )
    .await;
}

/// Two mounts whose OpenRouter configurations share one account (one management key), each
/// with a key of the same name: the engine's naming (`ai-keys-<key>-<suffix>`) is the same for
/// both but for the mount's tag in the suffix. One mount's `reconcile` never revokes the other's
/// live key; an orphan of its own is still revoked; and the tag is the mount's, kept across a
/// plugin reload.
#[tokio::test]
async fn reconcile_never_revokes_a_key_of_another_mount_sharing_the_account() {
    let (bao, fake) = tokio::join!(Bao::start(), FakeProvider::start());
    bao.mount_plugin("team-b").await;
    let client = bao.client();
    let admin = secret("admin");
    fake.add_admin_key(&admin);
    for mount in ["ai-keys", "team-b"] {
        let body = provider_body("openrouter", &fake, Some(&admin));
        let r = client.write(&format!("{mount}/providers/or"), body).await;
        assert_eq!(r.status, 200, "{mount}: {}", r.text);
        let body = json!({ "provider": "or" });
        let r = client.write(&format!("{mount}/keys/chatbot"), body).await;
        assert_eq!(r.status, 200, "{mount}: {}", r.text);
    }
    let made = fake.created_keys();
    assert_eq!(made.len(), 2, "{made:?}");
    let (ours, theirs) = (made[0].0.clone(), made[1].0.clone());
    let ours_name = name_at(&fake, &admin, &ours).await;

    // An orphan of this mount's chatbot (as if created after a snapshot this mount was
    // restored from): its name carries this mount's tag.
    let orphan_value = format!("sk-or-v1-orphan0{}", secret("o"));
    let tail = ours_name.rsplit_once('-').expect("a suffix").1;
    let own_orphan = format!("ai-keys-chatbot-{}0123456789ab", &tail[..tail.len() - 12]);
    fake.add_openrouter_key_named("orphanhash01", &orphan_value, &own_orphan);

    let out = reconcile(&client, false).await;
    let mut want = vec![
        ("orphanhash01".to_string(), "revoked".to_string()),
        (theirs.clone(), "unknown_key".to_string()),
    ];
    want.sort();
    assert_eq!(actions(&out), want, "{out:#}");
    assert!(fake.is_active(&theirs), "team-b's live key is untouched");
    assert_eq!(fake.mutation_requests(&theirs), 0, "{out:#}");
    assert!(fake.is_active(&ours));
    assert!(!fake.is_active("orphanhash01"), "our own orphan is revoked");
    let b = client.read("team-b/creds/chatbot").await;
    assert_eq!(b.status, 200, "{}", b.text);

    // The tag is the mount's own, not the plugin process's: after a reload, a new key of this
    // mount carries the same one.
    let body = json!({ "mounts": ["ai-keys/"] });
    let reply = client.write("sys/plugins/reload/backend", body).await;
    assert!(reply.is_success(), "reload: {}", reply.text);
    let r = client.write("ai-keys/rotate/chatbot", json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let newest = fake.created_keys().last().expect("a new key").0.clone();
    let newest_name = name_at(&fake, &admin, &newest).await;
    let tag = |name: &str| name.rsplit_once('-').map(|(_, s)| s[..6].to_string());
    assert_eq!(
        tag(&newest_name),
        tag(&ours_name),
        "{newest_name} {ours_name}"
    );
    assert_ne!(newest_name, ours_name);
}

/// The name OpenRouter key `hash` has, as the provider's management API lists it.
async fn name_at(fake: &FakeProvider, admin: &str, hash: &str) -> String {
    let url = format!("{}/api/v1/keys?include_disabled=true", fake.base_url());
    let listed: Value = reqwest::Client::new()
        .get(url)
        .bearer_auth(admin)
        .send()
        .await
        .expect("the fake answers")
        .json()
        .await
        .expect("a JSON list");
    listed["data"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|k| k["hash"] == hash)
        .and_then(|k| k["name"].as_str())
        .unwrap_or_else(|| panic!("{hash} is not listed: {listed}"))
        .to_string()
}
