//! The engine revokes only provider keys it owns: keys it created, or whose operator-supplied
//! `provider_key_id` the provider shows to be the staged value. Anything else is refused before
//! it is recorded, so no foreign key is ever switched off.

use serde_json::{json, Value};

use crate::providers::{configure_provider, provider_body, tick_until, SHORT_DEADLINE};
use crate::support::checks::{expect_error, read_ok, secret, write_ok};
use crate::support::fake_provider::{FakeProvider, Mode};
use crate::support::{Bao, Client, Tick};

async fn pending_version(root: &Client, name: &str) -> Value {
    read_ok(root, &format!("ai-keys/keys/{name}")).await["pending_version"].clone()
}

/// An operator-supplied `provider_key_id` is checked with the provider before it is
/// recorded. Anthropic: a matching id is accepted (at `keys/` create and `stage/`) and, once
/// grace ends, that key is deactivated at the fake; an id of a key that exists there but whose
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

    // The matching id is staged, and after grace the old key is deactivated at the provider.
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
    let f = &fake;
    tick_until(
        &bao,
        Tick::AsTheHost,
        "the tick to deactivate the verified old key",
        SHORT_DEADLINE,
        || async move { f.anthropic_key_status("apikey_01one").as_deref() == Some("inactive") },
    )
    .await;
    assert_eq!(
        fake.anthropic_key_status("apikey_01two").as_deref(),
        Some("active")
    );
    // Nothing was ever sent to change the foreign keys.
    assert_eq!(fake.mutation_requests("apikey_01foreign"), 0);
    assert_eq!(fake.mutation_requests("key_foreignOA"), 0);
    assert_eq!(
        fake.anthropic_key_status("apikey_01foreign").as_deref(),
        Some("active")
    );
    assert!(fake.is_active("key_foreignOA"));
    crate::providers::assert_no_leaks(&bao, &[&fake], &[admin, a1, a2, foreign, o1, o_foreign])
        .await;
}
