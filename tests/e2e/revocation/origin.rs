//! A version remembers where its key lives (provider type, base URL, OpenAI project, the key's
//! id): its revocation goes only there. A configuration changed to point elsewhere (another
//! project, another host) is never asked, the revocation stays pending with an error naming the
//! mismatch, and no answer from elsewhere confirms it; the configuration cannot be deleted while
//! the key's version lives at it.

use serde_json::{json, Value};

use crate::providers::{
    configure_provider, create_key, openai_provider, provider_body, read_key, rotate, tick_until,
    version, PROJECT, RECOVERY_DEADLINE,
};
use crate::support::checks::{data, expect_error, read_ok, secret, write_ok};
use crate::support::fake_provider::FakeProvider;
use crate::support::{Bao, Client, Tick};

/// Key `k` at OpenAI provider `oa` (project [`PROJECT`] at `fake`): version 2 created there is
/// `previous` (an hour's grace) behind version 3, created there too. Returns version 2's
/// provider id.
async fn created_previous(client: &Client, fake: &FakeProvider) -> String {
    openai_provider(client, fake, "oa").await;
    let v0 = secret("v0");
    fake.add_key(&v0);
    create_key(client, "k", json!({ "value": v0, "provider": "oa" })).await;
    for grace in ["0", "1h"] {
        let reply = rotate(client, "k", json!({ "grace_period": grace })).await;
        data(&reply, "rotate/k");
    }
    let key = read_key(client, "k").await;
    assert_eq!(version(&key, 2)["state"], "previous", "{key:#}");
    let origin = &version(&key, 2)["origin"];
    assert_eq!(origin["provider_type"], "openai", "{key:#}");
    assert_eq!(origin["base_url"], fake.base_url(), "{key:#}");
    assert_eq!(origin["scope"], PROJECT, "{key:#}");
    let id = origin["provider_key_id"]
        .as_str()
        .expect("an id")
        .to_string();
    assert_eq!(version(&key, 2)["provider_key_id"], id.as_str());
    assert!(fake.is_active(&id));
    id
}

/// `revocations_confirmed` and `revocations_pending` of key `k` in the compliance report, as
/// version numbers.
async fn report_revocations(client: &Client) -> (Vec<Value>, Vec<Value>) {
    let report = read_ok(client, "ai-keys/report").await;
    let k = report["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["key"] == "k")
        .unwrap_or_else(|| panic!("k in {report:#}"))
        .clone();
    let numbers = |field: &str| -> Vec<Value> {
        k[field]
            .as_array()
            .unwrap_or_else(|| panic!("{field} in {k:#}"))
            .iter()
            .map(|r| r["version"].clone())
            .collect()
    };
    (
        numbers("revocations_confirmed"),
        numbers("revocations_pending"),
    )
}

/// Retires version 2 with `finalize/`, lets recovery retry it, and checks it stays pending with
/// an origin-mismatch error while the key still lives at `fake`, nothing having been asked to
/// delete it.
async fn finalize_stays_pending(bao: &Bao, client: &Client, fake: &FakeProvider, id: &str) {
    write_ok(client, "ai-keys/finalize/k", json!({})).await;
    // Recovery retries the pending revocation (a second attempt after finalize's own): the
    // configuration still points elsewhere.
    tick_until(
        bao,
        Tick::RecoverYoungIntents,
        "recovery to retry the revocation",
        RECOVERY_DEADLINE,
        || async {
            let key = read_key(client, "k").await;
            version(&key, 2)["provider_revocation"]["attempts"]
                .as_u64()
                .is_some_and(|n| n >= 2)
        },
    )
    .await;
    let key = read_key(client, "k").await;
    let v2 = version(&key, 2);
    assert_eq!(v2["state"], "revoked", "{key:#}");
    let r = &v2["provider_revocation"];
    assert_eq!(r["status"], "pending", "{key:#}");
    let error = r["last_error"].as_str().unwrap_or_default();
    assert!(error.contains("origin mismatch"), "{key:#}");
    assert!(
        fake.is_active(id),
        "the key still works where it was created"
    );
    assert_eq!(
        fake.mutation_requests(id),
        0,
        "nobody was asked to delete it"
    );
    let (confirmed, pending) = report_revocations(client).await;
    assert!(!confirmed.contains(&json!(2)), "{confirmed:?}");
    assert!(pending.contains(&json!(2)), "{pending:?}");
    let metrics = client.read("ai-keys/metrics?format=prometheus").await;
    let sample = "ai_keys_provider_revocations_pending{key=\"k\",mount=\"ai-keys\"} 1";
    assert!(
        metrics.text.lines().any(|l| l == sample),
        "{}",
        metrics.text
    );
}

#[tokio::test]
async fn a_project_switch_leaves_the_revocation_pending_and_the_key_alive_at_its_project() {
    let (bao, fake) = tokio::join!(Bao::start(), FakeProvider::start());
    let client = bao.client();
    let id = created_previous(&client, &fake).await;

    // project_id is part of where keys live: without the admin key, a 400 naming it.
    let refused = client
        .write(
            "ai-keys/providers/oa",
            json!({ "project_id": "proj_other" }),
        )
        .await;
    expect_error(
        &refused,
        400,
        &["project_id", "admin_key"],
        "project switch",
    );
    let provider = read_ok(&client, "ai-keys/providers/oa").await;
    assert_eq!(provider["project_id"], PROJECT, "{provider:#}");

    let admin = secret("admin-oa");
    fake.add_admin_key(&admin);
    write_ok(
        &client,
        "ai-keys/providers/oa",
        json!({ "project_id": "proj_other", "admin_key": admin }),
    )
    .await;
    finalize_stays_pending(&bao, &client, &fake, &id).await;
    let provider = read_ok(&client, "ai-keys/providers/oa").await;
    assert_eq!(
        provider["pending_revocations"],
        json!(["k version 2"]),
        "{provider:#}"
    );
}

#[tokio::test]
async fn a_provider_pointed_at_another_host_never_confirms_a_revocation_from_there() {
    let (bao, fake, elsewhere) =
        tokio::join!(Bao::start(), FakeProvider::start(), FakeProvider::start());
    let client = bao.client();
    let id = created_previous(&client, &fake).await;

    // The key moves to another provider; the one its live versions were created at stays.
    openai_provider(&client, &elsewhere, "ob").await;
    write_ok(&client, "ai-keys/keys/k", json!({ "provider": "ob" })).await;
    let refused = client.delete("ai-keys/providers/oa").await;
    expect_error(
        &refused,
        400,
        &["live versions", "k version 2", "k version 3"],
        "delete oa",
    );
    let provider = read_ok(&client, "ai-keys/providers/oa").await;
    assert_eq!(
        provider["belongings"]["live_versions"],
        json!(["k version 2", "k version 3"]),
        "{provider:#}"
    );

    // The name now points at another host (with an admin key valid there, which answers 404
    // for a key it never had): nothing is sent there, and nothing confirms.
    let admin = secret("admin-elsewhere");
    elsewhere.add_admin_key(&admin);
    write_ok(
        &client,
        "ai-keys/providers/oa",
        json!({ "base_url": elsewhere.base_url(), "admin_key": admin }),
    )
    .await;
    elsewhere.reset_hits();
    finalize_stays_pending(&bao, &client, &fake, &id).await;
    assert!(
        !elsewhere.uris().iter().any(|u| u.contains(id.as_str())),
        "the other host was asked about a key it never had: {:?}",
        elsewhere.uris()
    );
}

/// An imported key whose id possession of its value proved (OpenRouter, at `keys/` create and at
/// `stage/`) records where it lives, like a key the engine created; an id only a console hint
/// matched (Anthropic) and a key without an id record none.
#[tokio::test]
async fn a_proven_import_records_its_origin() {
    let (bao, fake) = tokio::join!(Bao::start(), FakeProvider::start());
    let client = bao.client();
    let admin = secret("admin-or");
    fake.add_admin_key(&admin);
    for (name, kind) in [("or", "openrouter"), ("an", "anthropic")] {
        configure_provider(&client, name, provider_body(kind, &fake, Some(&admin))).await;
    }
    let (r1, r2) = (secret("or-one"), secret("or-two"));
    fake.add_openrouter_key("hash_one", &r1);
    fake.add_openrouter_key("hash_two", &r2);
    let origin = |id: &str| {
        json!({ "provider_type": "openrouter", "base_url": fake.base_url(), "scope": null,
            "provider_key_id": id })
    };
    let created = create_key(
        &client,
        "k",
        json!({ "value": r1, "provider": "or", "provider_key_id": "hash_one" }),
    )
    .await;
    assert_eq!(created["versions"]["1"]["origin"], origin("hash_one"));
    write_ok(
        &client,
        "ai-keys/stage/k",
        json!({ "value": r2, "provider_key_id": "hash_two" }),
    )
    .await;
    let key = read_key(&client, "k").await;
    assert_eq!(version(&key, 2)["origin"], origin("hash_two"), "{key:#}");

    let a1 = secret("ant-one");
    fake.add_anthropic_key("apikey_01one", &a1);
    let hinted = create_key(
        &client,
        "hinted",
        json!({ "value": a1, "provider": "an", "provider_key_id": "apikey_01one" }),
    )
    .await;
    assert_eq!(hinted["versions"]["1"]["origin"], Value::Null, "{hinted:#}");
    let plain = create_key(
        &client,
        "plain",
        json!({ "value": secret("p"), "provider": "an" }),
    )
    .await;
    assert_eq!(plain["versions"]["1"]["origin"], Value::Null, "{plain:#}");
}
