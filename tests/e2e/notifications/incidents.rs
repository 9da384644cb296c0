//! Incidents reach people: the events of the leak response (`exposed`), the health check and a
//! revocation left to a person arrive at a webhook, verified (Standard Webhooks) and parsed
//! (CloudEvents) by the receiver, each about the right key and version, and no value involved
//! is in any delivery, the server log (the plugin's stderr) or in clear in the audit log. A
//! rotation the provider's key-expiry policy refused arrives as `key.provider_policy_refused`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::{subscribed, Receiver};
use crate::providers::{
    assert_no_leaks, configure_provider, create_key, provider_body, read_key, rotate, tick_until,
    version, PROJECT,
};
use crate::support::checks::{data, secret};
use crate::support::fake_provider::{FakeProvider, KeyPolicy, Switches};
use crate::support::{Bao, Client, Tick};

const DEADLINE: Duration = Duration::from_secs(20);

/// Reports `leak` (`{value}` or `{fingerprint}`); the action taken on its only match.
async fn expose(client: &Client, mut leak: Value) -> String {
    leak["source"] = json!("https://github.com/acme/app/commit/1234567");
    leak["reason"] = json!("pushed to a public repository");
    let out = data(&client.write("ai-keys/exposed", leak).await, "exposed");
    let matches = out["matches"].as_array().expect("matches");
    assert_eq!(matches.len(), 1, "{out:#}");
    matches[0]["action"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// The id and value of the key the fake created last.
fn last_created(fake: &FakeProvider) -> (String, String) {
    let (id, value, _) = fake.created_keys().pop().expect("a created key");
    (id, value)
}

/// What the receiver accepted, per subject: the (type without prefix, version) pairs, one per
/// event id (a duplicate delivery must carry the same body).
fn received(receiver: &Receiver) -> BTreeMap<String, BTreeSet<(String, u64)>> {
    let mut bodies: BTreeMap<String, Value> = BTreeMap::new();
    let mut out: BTreeMap<String, BTreeSet<(String, u64)>> = BTreeMap::new();
    for e in receiver.events() {
        let id = e["id"].as_str().expect("id").to_string();
        if let Some(seen) = bodies.get(&id) {
            assert_eq!(seen, &e["body"], "a duplicate of {id} differs");
        }
        bodies.insert(id, e["body"].clone());
        let ty = e["type"].as_str().expect("type");
        let ty = ty
            .strip_prefix("io.openbao.ai-keys.")
            .unwrap_or_else(|| panic!("type {ty}"));
        let subject = e["subject"].as_str().expect("subject").to_string();
        assert_eq!(e["data"]["key"], subject.as_str(), "{e:#}");
        let v = e["data"]["version"].as_u64().unwrap_or(0);
        out.entry(subject).or_default().insert((ty.to_string(), v));
    }
    out
}

fn set(pairs: &[(&str, u64)]) -> BTreeSet<(String, u64)> {
    pairs.iter().map(|(t, v)| (t.to_string(), *v)).collect()
}

#[tokio::test]
async fn leaks_refused_keys_and_manual_revocations_reach_the_webhook_signed_without_values() {
    let started = Instant::now();
    let (bao, fake) = tokio::join!(Bao::start(), FakeProvider::start());
    let root = bao.client();
    let (receiver, whsec) = subscribed(&root).await;
    let admin = secret("admin-incidents");
    fake.add_admin_key(&admin);
    configure_provider(
        &root,
        "openai",
        provider_body("openai", &fake, Some(&admin)),
    )
    .await;
    configure_provider(
        &root,
        "or",
        provider_body("openrouter", &fake, Some(&admin)),
    )
    .await;

    // (c) An imported OpenAI key whose id no possession proof backs, retired with no grace: its
    // revocation is left to a person.
    let (o1, o2) = (secret("manual-one"), secret("manual-two"));
    fake.add_openai_key(PROJECT, "key_manualOA", &o1);
    fake.add_key(&o2);
    let body = json!({ "value": o1, "provider": "openai", "provider_key_id": "key_manualOA" });
    create_key(&root, "manual", body).await;
    let body = json!({ "value": o2, "grace_period": "0s" });
    assert!(rotate(&root, "manual", body).await.is_success());
    assert_eq!(
        version(&read_key(&root, "manual").await, 1)["provider_revocation"]["status"],
        "manual"
    );

    // (a) A current OpenAI key the engine created, leaked: found by value, replaced at once and
    // revoked at the provider.
    create_key(&root, "leaked", json!({ "provider": "openai" })).await;
    let (l1, l1_value) = last_created(&fake);
    assert_eq!(expose(&root, json!({ "value": l1_value })).await, "rotated");
    assert!(!fake.is_active(&l1), "the leaked key is revoked");
    let (_, l2_value) = last_created(&fake);

    // ... and a previous version in its grace window, found by its fingerprint.
    create_key(&root, "prev", json!({ "provider": "openai" })).await;
    let (p1, p1_value) = last_created(&fake);
    assert!(rotate(&root, "prev", json!({})).await.is_success());
    let (_, p2_value) = last_created(&fake);
    let fingerprint = version(&read_key(&root, "prev").await, 1)["fingerprint"].clone();
    let leak = json!({ "fingerprint": fingerprint });
    assert_eq!(expose(&root, leak).await, "revoked");
    assert!(!fake.is_active(&p1), "the leaked previous key is revoked");

    // (b) A current key disabled at the provider (OpenRouter `disabled`): the health check finds
    // it within its interval.
    let before = fake.created_keys().len();
    let body = json!({ "provider": "or", "health_check_interval": "2s" });
    create_key(&root, "watched", body).await;
    let (w1, w1_value, _) = fake.created_keys()[before].clone();
    fake.set_openrouter_disabled(&w1, true);

    // A key the provider created was tested at its create (history `tested`, version 1); one
    // imported by value was not.
    let expected: BTreeMap<String, BTreeSet<(String, u64)>> = [
        (
            "manual",
            set(&[
                ("rotation.staged", 2),
                ("rotation.tested", 2),
                ("rotation.promoted", 2),
                ("revocation.manual_required", 1),
            ]),
        ),
        (
            "leaked",
            set(&[
                ("rotation.tested", 1),
                ("key.exposed", 1),
                ("rotation.staged", 2),
                ("rotation.tested", 2),
                ("rotation.promoted", 2),
                ("revocation.confirmed", 1),
            ]),
        ),
        (
            "prev",
            set(&[
                ("rotation.tested", 1),
                ("rotation.staged", 2),
                ("rotation.tested", 2),
                ("rotation.promoted", 2),
                ("key.exposed", 1),
                ("revocation.confirmed", 1),
            ]),
        ),
        (
            "watched",
            set(&[("rotation.tested", 1), ("key.rejected", 1)]),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let (r, want) = (&receiver, &expected);
    let took = tick_until(
        &bao,
        Tick::AsTheHost,
        "every incident's notification",
        DEADLINE,
        || async move {
            let got = received(r);
            want.iter()
                .all(|(k, v)| got.get(k).is_some_and(|g| v.is_subset(g)))
        },
    )
    .await;
    eprintln!("all notifications received {took:?} after the health check's key was disabled");
    // One more tick: nothing else arrives for these keys.
    root.tick(Tick::AsTheHost).await;
    assert_eq!(received(&receiver), expected, "exactly these events");
    assert!(receiver.rejected().is_empty(), "{:?}", receiver.rejected());
    let watched = read_key(&root, "watched").await;
    assert_eq!(watched["current_key_rejected"], true, "{watched:#}");

    // Every event carries what the history recorded: the actor and a reason.
    for e in receiver.events() {
        assert_eq!(e["source"], "vault://ai-keys", "{e:#}");
        let reason = e["data"]["reason"].as_str().unwrap_or_default();
        match e["type"].as_str().unwrap_or_default() {
            "io.openbao.ai-keys.key.exposed" => {
                assert!(reason.contains("pushed to a public repository"), "{e:#}")
            }
            "io.openbao.ai-keys.key.rejected" => {
                assert_eq!(e["data"]["actor"], "scheduler", "{e:#}");
                assert_eq!(e["data"]["outcome"], "bad_key", "{e:#}");
            }
            "io.openbao.ai-keys.revocation.manual_required" => {
                assert!(reason.contains("key_manualOA"), "{e:#}")
            }
            _ => {}
        }
    }

    // No value involved in any delivery (headers and body as received), the server log or, in
    // clear, the audit log.
    let values = [
        o1, o2, l1_value, l2_value, p1_value, p2_value, w1_value, admin,
    ];
    let deliveries = serde_json::to_string(&receiver.events()).expect("JSON");
    for v in values.iter().chain([&whsec, &whsec[6..].to_string()]) {
        assert!(
            !deliveries.contains(v.as_str()),
            "a value ({}...) is in a delivery",
            &v[..12.min(v.len())]
        );
    }
    assert_no_leaks(&bao, &[&fake], &values).await;
    let server = bao.server_log();
    assert!(
        !server.contains(&whsec[6..]),
        "the signing secret is logged"
    );
    eprintln!("incidents test took {:?}", started.elapsed());
}

/// The provider refuses creates living longer than 30 days and the engine was not told: the
/// rotation's refused create (history `failed`, naming the policy) arrives as
/// `key.provider_policy_refused`, not as a plain `rotation.failed`.
#[tokio::test]
async fn a_create_refused_by_the_providers_expiry_policy_reaches_the_webhook_as_such() {
    let switches = Switches {
        openai_key_policy: KeyPolicy {
            max_lifetime_secs: Some(30 * 24 * 3600),
            expiry_required: false,
        },
        ..Switches::default()
    };
    let (bao, fake) = tokio::join!(Bao::start(), FakeProvider::start_with(switches));
    let root = bao.client();
    let (receiver, whsec) = subscribed(&root).await;
    let admin = secret("admin-policy");
    fake.add_admin_key(&admin);
    configure_provider(&root, "oa", provider_body("openai", &fake, Some(&admin))).await;
    let v0 = secret("policy-v0");
    fake.add_key(&v0);
    let body =
        json!({ "value": v0, "provider": "oa", "rotation_period": "720h", "grace_period": "2h" });
    create_key(&root, "k", body).await;
    let reply = rotate(&root, "k", json!({})).await;
    assert_eq!(reply.status, 502, "{}", reply.text);

    let r = &receiver;
    tick_until(
        &bao,
        Tick::AsTheHost,
        "the policy refusal's notification",
        DEADLINE,
        || async move { !r.events().is_empty() },
    )
    .await;
    root.tick(Tick::AsTheHost).await;
    // Version 1 is current: the refused create was to be version 2.
    let want = set(&[("key.provider_policy_refused", 2)]);
    assert_eq!(
        received(&receiver).get("k"),
        Some(&want),
        "{:#?}",
        receiver.events()
    );
    let event = &receiver.events()[0];
    assert_eq!(event["data"]["attempted_version"], "planned", "{event:#}");
    assert_eq!(
        event["data"]["outcome"], "provider_policy_refused",
        "{event:#}"
    );
    let reason = event["data"]["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("key-expiry policy") && reason.contains("max_key_lifetime"),
        "{event:#}"
    );
    assert!(receiver.rejected().is_empty(), "{:?}", receiver.rejected());
    let deliveries = serde_json::to_string(&receiver.events()).expect("JSON");
    for v in [&v0, &admin, &whsec] {
        assert!(!deliveries.contains(v.as_str()), "a value in a delivery");
    }
    assert_no_leaks(&bao, &[&fake], &[v0, admin]).await;
}
