//! Which tokens count as a person for the two-person rule (`require_separate_approver`): it
//! compares identity entities, never tokens, so a token without an entity cannot stage or
//! promote, two tokens of one entity are one person, and two entities are two.

use serde_json::{json, Value};

use crate::support::checks::{expect_error, read_ok, secret, write_ok};
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

/// With `require_separate_approver`, a stage or promote by a token without an entity
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

    // Created before the rule is on: under it a create is itself a stage (two_person.rs).
    write_ok(&root, "ai-keys/keys/app", json!({ "value": secret("v1") })).await;
    // A version a token without an entity staged and tested, also before the rule is on: with
    // the rule on, switching it off for that would itself need two entities (config.rs).
    write_ok(
        &root,
        "ai-keys/keys/other",
        json!({ "value": secret("o1") }),
    )
    .await;
    write_ok(
        &child_a,
        "ai-keys/stage/other",
        json!({ "value": secret("o2") }),
    )
    .await;
    write_ok(&child_a, "ai-keys/test/other", json!({})).await;
    write_ok(
        &root,
        "ai-keys/config",
        json!({ "require_separate_approver": true }),
    )
    .await;

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

    // Two different tokens without entities are not two people either: child_a staged and
    // tested version 2 of "other" (above).
    for (client, what) in [(&child_b, "another child token"), (&batch, "a batch token")] {
        let promoted = client.write("ai-keys/promote/other", json!({})).await;
        expect_error(
            &promoted,
            403,
            &["require_separate_approver", "identity entity"],
            &format!("promote by {what}"),
        );
    }
    // Not even an entity can promote what no entity staged.
    let promoted = bob.write("ai-keys/promote/other", json!({})).await;
    expect_error(
        &promoted,
        403,
        &["staged without an identity entity"],
        "promote by bob of a version a token without an entity staged",
    );
    write_ok(&root, "ai-keys/rollback/other", json!({})).await;

    // Alice stages; her second token is still Alice; a token without an entity cannot promote.
    let v2 = secret("v2");
    write_ok(&alice, "ai-keys/stage/app", json!({ "value": v2 })).await;
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
    assert_eq!(pending_version(&root, "app").await, 2);

    // Bob is someone else.
    let promoted = write_ok(&bob, "ai-keys/promote/app", json!({})).await;
    assert_eq!(promoted["version"], 2, "{promoted:#}");
    let creds = read_ok(&bob, "ai-keys/creds/app").await;
    assert_eq!(creds["api_key"], v2.as_str());

    // rotate/ stays refused while the rule is on, whoever asks.
    let one_call = bob
        .write("ai-keys/rotate/app", json!({ "value": secret("v4") }))
        .await;
    expect_error(&one_call, 403, &["require_separate_approver"], "rotate/");
}
