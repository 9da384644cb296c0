//! Trust review: ownership (see ../trust.rs). Who may approve a rotation (item 2: the
//! two-person rule compares identity entities, never tokens) and which provider keys the engine
//! may switch off (item 3: only keys it created, or whose operator-supplied id the provider
//! shows to be the staged value).

use serde_json::{json, Value};

use crate::providers::{configure_provider, provider_body, wait_until, TICK_DEADLINE};
use crate::support::checks::{expect_error, read_ok, secret, write_ok};
use crate::support::fake_provider::{FakeProvider, Mode};
use crate::support::{Bao, Client};

const OPERATOR_POLICY: &str =
    "path \"ai-keys/*\" {\n  capabilities = [\"create\", \"read\", \"update\", \"delete\", \"list\"]\n}\n";

/// Enables userpass with users `users` (`token_type` as given: `default` or `batch`), all with
/// the operator policy.
async fn userpass(root: &Client, users: &[(&str, &str)]) {
    root.write("sys/auth/userpass", json!({ "type": "userpass" }))
        .await
        .expect_status(204);
    root.write(
        "sys/policies/acl/ai-keys-operator",
        json!({ "policy": OPERATOR_POLICY }),
    )
    .await
    .expect_status(204);
    for (user, token_type) in users {
        root.write(
            &format!("auth/userpass/users/{user}"),
            json!({ "password": format!("{user}-password"), "token_policies": ["ai-keys-operator"], "token_type": token_type }),
        )
        .await
        .expect_status(204);
    }
}

/// Logs `user` in; returns a client with the new token and the token's entity id.
async fn login(bao: &Bao, user: &str) -> (Client, String) {
    let reply = bao
        .client_with_token("")
        .write(
            &format!("auth/userpass/login/{user}"),
            json!({ "password": format!("{user}-password") }),
        )
        .await;
    reply.expect_status(200);
    let auth = &reply.body["auth"];
    let token = auth["client_token"].as_str().expect("client_token");
    let entity = auth["entity_id"].as_str().unwrap_or_default().to_string();
    assert!(!entity.is_empty(), "{user} has an entity: {auth}");
    (bao.client_with_token(token), entity)
}

/// A token created from the root token (`type` `service` or `batch`): no entity.
async fn root_child(bao: &Bao, root: &Client, token_type: &str) -> Client {
    let reply = root
        .write(
            "auth/token/create",
            json!({ "policies": ["ai-keys-operator"], "type": token_type, "ttl": "1h" }),
        )
        .await;
    reply.expect_status(200);
    let auth = &reply.body["auth"];
    assert_eq!(auth["entity_id"].as_str().unwrap_or_default(), "", "{auth}");
    bao.client_with_token(auth["client_token"].as_str().expect("client_token"))
}

async fn pending_version(root: &Client, name: &str) -> Value {
    read_ok(root, &format!("ai-keys/keys/{name}")).await["pending_version"].clone()
}

/// Item 2: with `require_separate_approver`, a stage or promote by a token without an entity
/// (children of the root token, batch tokens, also a userpass batch token that has an entity)
/// is a 403 saying an identity entity is needed; two tokens of one entity are one person; a
/// stage by entity A and a promote by entity B works.
#[tokio::test]
async fn two_person_rule_compares_entities_never_tokens() {
    let bao = Bao::start().await;
    let root = bao.client();
    userpass(
        &root,
        &[("alice", "default"), ("bob", "default"), ("carol", "batch")],
    )
    .await;
    let (alice, alice_entity) = login(&bao, "alice").await;
    let (alice_again, alice_entity_again) = login(&bao, "alice").await;
    assert_eq!(alice_entity, alice_entity_again);
    let (bob, _) = login(&bao, "bob").await;
    let (carol_batch, _) = login(&bao, "carol").await;
    let child_a = root_child(&bao, &root, "service").await;
    let child_b = root_child(&bao, &root, "service").await;
    let batch = root_child(&bao, &root, "batch").await;

    write_ok(
        &root,
        "ai-keys/config",
        json!({ "require_separate_approver": true }),
    )
    .await;
    write_ok(&root, "ai-keys/keys/app", json!({ "value": secret("v1") })).await;

    // Nobody without an entity (or with only a batch token) can stage.
    let candidates = [
        (&child_a, "a child token of root"),
        (&batch, "a batch token from root"),
        (&carol_batch, "a userpass batch token"),
        (&root, "the root token"),
    ];
    for (client, what) in candidates {
        let staged = client
            .write("ai-keys/stage/app", json!({ "value": secret("v2") }))
            .await;
        expect_error(
            &staged,
            403,
            &["require_separate_approver", "identity entity"],
            &format!("stage by {what}"),
        );
        assert!(
            !staged.errors().contains("permission denied"),
            "the plugin's refusal, not the ACL's: {}",
            staged.errors()
        );
    }
    assert!(pending_version(&root, "app").await.is_null());

    // Two different tokens without entities are not two people either.
    write_ok(
        &root,
        "ai-keys/config",
        json!({ "require_separate_approver": false }),
    )
    .await;
    write_ok(
        &child_a,
        "ai-keys/stage/app",
        json!({ "value": secret("v2") }),
    )
    .await;
    write_ok(&child_a, "ai-keys/test/app", json!({})).await;
    write_ok(
        &root,
        "ai-keys/config",
        json!({ "require_separate_approver": true }),
    )
    .await;
    for (client, what) in [(&child_b, "another child token"), (&batch, "a batch token")] {
        let promoted = client.write("ai-keys/promote/app", json!({})).await;
        expect_error(
            &promoted,
            403,
            &["require_separate_approver", "identity entity"],
            &format!("promote by {what}"),
        );
    }
    // Not even an entity can promote what no entity staged.
    let promoted = bob.write("ai-keys/promote/app", json!({})).await;
    expect_error(
        &promoted,
        403,
        &["staged without an identity entity"],
        "promote by bob of a version a token without an entity staged",
    );
    write_ok(&root, "ai-keys/rollback/app", json!({})).await;

    // Alice stages; her second token is still Alice; a token without an entity cannot promote.
    let v3 = secret("v3");
    write_ok(&alice, "ai-keys/stage/app", json!({ "value": v3 })).await;
    write_ok(&alice, "ai-keys/test/app", json!({})).await;
    let own = alice_again.write("ai-keys/promote/app", json!({})).await;
    expect_error(
        &own,
        403,
        &["two-person rule", "different entity"],
        "alice promoting her own stage with her second token",
    );
    let child = child_b.write("ai-keys/promote/app", json!({})).await;
    expect_error(
        &child,
        403,
        &["identity entity"],
        "promote by a child token",
    );
    assert_eq!(pending_version(&root, "app").await, 3);

    // Bob is someone else.
    let promoted = write_ok(&bob, "ai-keys/promote/app", json!({})).await;
    assert_eq!(promoted["version"], 3, "{promoted:#}");
    let creds = read_ok(&bob, "ai-keys/creds/app").await;
    assert_eq!(creds["api_key"], v3.as_str());

    // rotate/ stays refused while the rule is on, whoever asks.
    let one_call = bob
        .write("ai-keys/rotate/app", json!({ "value": secret("v4") }))
        .await;
    expect_error(&one_call, 403, &["require_separate_approver"], "rotate/");
}

/// Item 3: an operator-supplied `provider_key_id` is checked with the provider before it is
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
    wait_until(
        &bao,
        "the tick to deactivate the verified old key",
        TICK_DEADLINE,
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
