//! The engine revokes only provider keys it owns: keys it created, or whose operator-supplied
//! `provider_key_id` possession of the value proves (OpenRouter: `GET /api/v1/key` with the value
//! names the id's key). An id whose console hint does not match the value is refused before it
//! is recorded; one whose hint matches but which nothing proves (Anthropic, OpenAI) is recorded
//! and never revoked (`manual`, see `manual.rs`). Nothing the engine did not create is deleted:
//! not a person's key, not a service account.

use serde_json::{json, Value};

use crate::providers::{
    configure_provider, openai_provider, provider_body, rotate, tick_until, PROJECT, SHORT_DEADLINE,
};
use crate::support::checks::{expect_error, read_ok, secret, write_ok};
use crate::support::fake_provider::{FakeProvider, Mode};
use crate::support::raw::{raw_get, raw_put_reloaded};
use crate::support::{Bao, Client, Tick};

async fn pending_version(root: &Client, name: &str) -> Value {
    read_ok(root, &format!("ai-keys/keys/{name}")).await["pending_version"].clone()
}

/// An operator-supplied `provider_key_id` is checked with the provider before it is
/// recorded. Anthropic: a matching id is accepted (at `keys/` create and `stage/`) and, once
/// grace ends, that key is left to a person (`manual`), never deactivated; an id of a key that exists there but whose
/// `partial_key_hint` does not match the value is a 400 at both, and the fake never receives an
/// update for it; an unknown id, an unreachable provider (503) and a key without a provider are
/// refused; `keys/` update with `provider_key_id` is a 400. OpenAI: a foreign project key id is
/// refused the same way (its `redacted_value` does not match).
#[tokio::test]
async fn provider_key_ids_are_checked_with_the_provider_before_they_are_recorded() {
    let (bao, fake) = tokio::join!(Bao::start(), FakeProvider::start());
    let root = bao.client();
    let admin = secret("admin-an");
    fake.add_admin_key(&admin);
    for kind in ["anthropic", "openai"] {
        configure_provider(&root, kind, provider_body(kind, &fake, Some(&admin))).await;
    }
    let (a1, a2, foreign) = (secret("ant-one"), secret("ant-two"), secret("ant-foreign"));
    fake.add_anthropic_key("apikey_01one", &a1);
    fake.add_anthropic_key("apikey_01two", &a2);
    fake.add_anthropic_key("apikey_01foreign", &foreign);

    // keys/ create: a foreign id is refused and nothing is created.
    let refused = root
        .write(
            "ai-keys/keys/an-key",
            json!({ "value": a1, "provider": "anthropic", "provider_key_id": "apikey_01foreign" }),
        )
        .await;
    expect_error(
        &refused,
        400,
        &["provider_key_id", "apikey_01foreign", "not the given value"],
        "keys/ create with a foreign Anthropic key id",
    );
    assert_eq!(root.read("ai-keys/keys/an-key").await.status, 404);

    // keys/ create: the matching id is accepted.
    let created = write_ok(
        &root,
        "ai-keys/keys/an-key",
        json!({ "value": a1, "provider": "anthropic", "provider_key_id": "apikey_01one" }),
    )
    .await;
    assert_eq!(created["versions"]["1"]["provider_key_id"], "apikey_01one");

    // stage/: a foreign id, an unknown id, and an unreachable provider are refused.
    let stage = |body: Value| {
        let root = root.clone();
        async move { root.write("ai-keys/stage/an-key", body).await }
    };
    let refused = stage(json!({ "value": a2, "provider_key_id": "apikey_01foreign" })).await;
    expect_error(
        &refused,
        400,
        &["provider_key_id", "not the given value"],
        "stage/ with a foreign Anthropic key id",
    );
    let unknown = stage(json!({ "value": a2, "provider_key_id": "apikey_01nosuch" })).await;
    expect_error(
        &unknown,
        400,
        &["provider_key_id", "no key with this id"],
        "unknown id",
    );
    fake.set_admin_mode(Mode::ServerError500);
    let down = stage(json!({ "value": a2, "provider_key_id": "apikey_01two" })).await;
    expect_error(
        &down,
        503,
        &["provider_key_id", "try again later"],
        "provider down",
    );
    fake.set_admin_mode(Mode::Normal);
    assert!(pending_version(&root, "an-key").await.is_null());

    // keys/ update cannot change provider_key_id.
    let update = root
        .write(
            "ai-keys/keys/an-key",
            json!({ "provider_key_id": "apikey_01two" }),
        )
        .await;
    expect_error(
        &update,
        400,
        &["provider_key_id"],
        "keys/ update with provider_key_id",
    );
    let key = read_ok(&root, "ai-keys/keys/an-key").await;
    assert_eq!(key["versions"]["1"]["provider_key_id"], "apikey_01one");

    // A key without a provider cannot have its id checked.
    let plain = root
        .write(
            "ai-keys/keys/plain",
            json!({ "value": secret("plain"), "provider_key_id": "apikey_01one" }),
        )
        .await;
    expect_error(
        &plain,
        400,
        &["provider_key_id", "no provider"],
        "no provider",
    );

    // OpenAI: a project key that exists but is someone else's.
    let (o1, o_foreign) = (secret("oa-one"), secret("oa-foreign"));
    fake.add_key(&o1);
    fake.add_openai_key(crate::providers::PROJECT, "key_foreignOA", &o_foreign);
    let refused = root
        .write(
            "ai-keys/keys/oa-key",
            json!({ "value": o1, "provider": "openai", "provider_key_id": "key_foreignOA" }),
        )
        .await;
    expect_error(
        &refused,
        400,
        &["provider_key_id", "not the given value"],
        "keys/ create with a foreign OpenAI key id",
    );

    // The matching id is staged and promoted; when version 1's grace ends its key is not the
    // engine's to deactivate (a hint proves nothing): it is left to a person.
    let staged = write_ok(
        &root,
        "ai-keys/stage/an-key",
        json!({ "value": a2, "provider_key_id": "apikey_01two" }),
    )
    .await;
    assert_eq!(staged["provider_key_id"], "apikey_01two");
    write_ok(&root, "ai-keys/test/an-key", json!({})).await;
    write_ok(
        &root,
        "ai-keys/promote/an-key",
        json!({ "grace_period": "2s" }),
    )
    .await;
    let r = &root;
    tick_until(
        &bao,
        Tick::AsTheHost,
        "the tick to retire version 1",
        SHORT_DEADLINE,
        || async move {
            let key = read_ok(r, "ai-keys/keys/an-key").await;
            key["versions"]["1"]["provider_revocation"]["status"] == "manual"
        },
    )
    .await;
    for id in ["apikey_01one", "apikey_01two", "apikey_01foreign"] {
        assert_eq!(fake.mutation_requests(id), 0, "{id}");
        assert_eq!(
            fake.anthropic_key_status(id).as_deref(),
            Some("active"),
            "{id}"
        );
    }
    assert_eq!(fake.mutation_requests("key_foreignOA"), 0);
    assert!(fake.is_active("key_foreignOA"));
    crate::providers::assert_no_leaks(&bao, &[&fake], &[admin, a1, a2, foreign, o1, o_foreign])
        .await;
}

/// A value whose first five and last four characters (what OpenRouter's `label` shows) are
/// `real`'s, and nothing else: what anyone who can open the console could forge.
fn forged_like(real: &str) -> String {
    let middle = "x".repeat(real.len() - 9);
    format!("{}{middle}{}", &real[..5], &real[real.len() - 4..])
}

/// OpenRouter: an id is proven only by possession of its value. A forged value that shows the
/// claimed hash's `label` but is no key there is refused at `keys/` create and at `stage/` (the
/// provider does not accept it as a key), and nothing is ever sent to change the real key. The
/// real value with its hash is recorded `possession_proven` and, once retired, revoked there.
#[tokio::test]
async fn an_openrouter_import_is_revoked_only_when_possession_of_its_value_proves_its_hash() {
    let (bao, fake) = tokio::join!(Bao::start(), FakeProvider::start());
    let root = bao.client();
    let admin = secret("admin-or");
    fake.add_admin_key(&admin);
    configure_provider(
        &root,
        "openrouter",
        provider_body("openrouter", &fake, Some(&admin)),
    )
    .await;
    let (real, other) = (secret("or-real"), secret("or-other"));
    fake.add_openrouter_key("hash_real", &real);
    fake.add_openrouter_key("hash_other", &other);
    let forged = forged_like(&real);
    assert!(!fake.is_valid_key(&forged));

    let refused = root
        .write(
            "ai-keys/keys/or-key",
            json!({ "value": forged, "provider": "openrouter", "provider_key_id": "hash_real" }),
        )
        .await;
    expect_error(
        &refused,
        400,
        &[
            "provider_key_id",
            "hash_real",
            "does not accept the given value",
        ],
        "keys/ create with a forged value that shows the real key's label",
    );
    assert_eq!(root.read("ai-keys/keys/or-key").await.status, 404);

    // A real key's value with another key's hash is refused too (its label differs).
    let mismatched = root
        .write(
            "ai-keys/keys/or-key",
            json!({ "value": other, "provider": "openrouter", "provider_key_id": "hash_real" }),
        )
        .await;
    expect_error(
        &mismatched,
        400,
        &["provider_key_id", "hash_real"],
        "another key's hash",
    );

    let created = write_ok(
        &root,
        "ai-keys/keys/or-key",
        json!({ "value": real, "provider": "openrouter", "provider_key_id": "hash_real" }),
    )
    .await;
    assert_eq!(
        created["versions"]["1"]["possession_proven"], true,
        "{created:#}"
    );
    let other_forged = forged_like(&other);
    let staged = root
        .write(
            "ai-keys/stage/or-key",
            json!({ "value": other_forged, "provider_key_id": "hash_other" }),
        )
        .await;
    expect_error(
        &staged,
        400,
        &["provider_key_id", "does not accept the given value"],
        "stage/ with a forged value",
    );
    assert!(pending_version(&root, "or-key").await.is_null());
    assert_eq!(fake.mutation_requests("hash_real"), 0);

    // Retired by a rotation to a key the provider creates: revoked at OpenRouter at once.
    let rotated = write_ok(
        &root,
        "ai-keys/rotate/or-key",
        json!({ "grace_period": "0s" }),
    )
    .await;
    assert_eq!(rotated["version"], 2, "{rotated:#}");
    let key = read_ok(&root, "ai-keys/keys/or-key").await;
    assert_eq!(
        key["versions"]["1"]["provider_revocation"]["status"], "confirmed",
        "{key:#}"
    );
    assert!(!fake.is_active("hash_real"), "the proven key still works");
    assert!(
        fake.is_active("hash_other"),
        "a key the engine never owned was touched"
    );
    assert_eq!(fake.mutation_requests("hash_other"), 0);
    crate::providers::assert_no_leaks(&bao, &[&fake], &[admin, real, other, forged, other_forged])
        .await;
}

/// OpenAI revocation deletes the retired key alone. A service account a person made and named
/// like the previous release's one-key accounts (`ai-keys-x`), holding the engine's retired key
/// (a record of that release says the engine created it) and another key of theirs, survives
/// with that other key working.
#[tokio::test]
async fn a_hand_made_ai_keys_account_and_its_other_key_survive_a_revocation() {
    let (bao, fake) = tokio::join!(Bao::start(), FakeProvider::start());
    let root = bao.client();
    openai_provider(&root, &fake, "openai").await;
    let sa = fake.add_openai_account(PROJECT, "ai-keys-x", "member");
    let (mine, theirs) = (secret("oa-mine"), secret("oa-theirs"));
    fake.add_openai_account_key(PROJECT, &sa, "key_mine", &mine);
    fake.add_openai_account_key(PROJECT, &sa, "key_theirs", &theirs);
    write_ok(
        &root,
        "ai-keys/keys/legacy",
        json!({ "value": mine, "provider": "openai", "provider_key_id": "key_mine" }),
    )
    .await;
    plant(
        &root,
        "legacy",
        "/key/versions/versions/1/engine_created",
        json!(true),
    )
    .await;

    let rotated = rotate(&root, "legacy", json!({ "grace_period": "0s" })).await;
    assert!(rotated.is_success(), "{}", rotated.text);
    let key = read_ok(&root, "ai-keys/keys/legacy").await;
    assert_eq!(
        key["versions"]["1"]["provider_revocation"]["status"], "confirmed",
        "{key:#}"
    );
    assert!(!fake.is_active("key_mine"), "the retired key still works");
    assert!(fake.is_active("key_theirs"), "a person's key was deleted");
    assert_eq!(fake.deleted_service_accounts(PROJECT), Vec::<String>::new());
    let accounts = fake.service_accounts(PROJECT);
    assert!(
        accounts
            .iter()
            .any(|(id, name, keys)| *id == sa && name == "ai-keys-x" && *keys == 1),
        "{accounts:?}"
    );
}

/// Replaces the JSON at `pointer` in key `name`'s stored record, as a record of the previous
/// release could hold it.
async fn plant(client: &Client, name: &str, pointer: &str, value: Value) {
    let path = format!("keys/{name}");
    let text = raw_get(client, &path).await.expect("a stored record");
    let mut record: Value = serde_json::from_str(&text).unwrap();
    *record.pointer_mut(pointer).expect("field in the record") = value;
    raw_put_reloaded(client, &path, &record.to_string()).await;
}
