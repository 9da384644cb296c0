//! The two-person rule with two real userpass entities.

use serde_json::{json, Value};

use super::create_key;
use crate::support::checks::{expect_error, history, read_ok, secret, write_ok};
use crate::support::{Bao, Client};

// ---------------------------------------------------------------------------------------------
// Two-person rule with real entities
// ---------------------------------------------------------------------------------------------

/// A userpass login: its token, entity and accessor.
struct Login {
    client: Client,
    entity_id: String,
    accessor: String,
}

async fn login(bao: &Bao, user: &str) -> Login {
    let reply = bao
        .client_with_token("")
        .write(
            &format!("auth/userpass/login/{user}"),
            json!({ "password": format!("{user}-password") }),
        )
        .await;
    reply.expect_status(200);
    let auth = &reply.body["auth"];
    let text = |v: &Value| v.as_str().expect("string in auth").to_owned();
    let login = Login {
        client: bao.client_with_token(&text(&auth["client_token"])),
        entity_id: text(&auth["entity_id"]),
        accessor: text(&auth["accessor"]),
    };
    assert!(!login.entity_id.is_empty(), "{user} has an entity");
    login
}

#[tokio::test]
async fn two_person_rule_needs_two_entities() {
    let bao = Bao::start().await;
    let root = bao.client();
    root.write("sys/auth/userpass", json!({ "type": "userpass" }))
        .await
        .expect_status(204);
    root.write(
        "sys/policies/acl/ai-keys-operator",
        json!({ "policy": "path \"ai-keys/*\" {\n  capabilities = [\"create\", \"read\", \"update\", \"delete\", \"list\"]\n}\n" }),
    )
    .await
    .expect_status(204);
    for user in ["alice", "bob"] {
        root.write(
            &format!("auth/userpass/users/{user}"),
            json!({ "password": format!("{user}-password"), "token_policies": ["ai-keys-operator"] }),
        )
        .await
        .expect_status(204);
    }
    let alice = login(&bao, "alice").await;
    let bob = login(&bao, "bob").await;
    assert_ne!(alice.entity_id, bob.entity_id);

    // Created before the rule is on: under it a create is itself a stage (below).
    let (k1, k2) = (secret("k1"), secret("k2"));
    create_key(&alice.client, "app", &k1, json!({})).await;
    write_ok(
        &root,
        "ai-keys/config",
        json!({ "require_separate_approver": true }),
    )
    .await;
    assert_eq!(
        read_ok(&root, "ai-keys/config").await["require_separate_approver"],
        true
    );
    write_ok(&alice.client, "ai-keys/stage/app", json!({ "value": k2 })).await;
    write_ok(&alice.client, "ai-keys/test/app", json!({})).await;

    let own = alice.client.write("ai-keys/promote/app", json!({})).await;
    expect_error(
        &own,
        403,
        &["two-person rule", "require_separate_approver"],
        "alice promoting her own stage",
    );
    assert!(
        !own.errors().contains("permission denied"),
        "the plugin's refusal, not the ACL's: {}",
        own.errors()
    );
    let forced = alice
        .client
        .write("ai-keys/promote/app", json!({ "force": true }))
        .await;
    expect_error(
        &forced,
        403,
        &["two-person rule"],
        "force does not bypass it",
    );
    let one_call = alice
        .client
        .write("ai-keys/rotate/app", json!({ "value": secret("k3") }))
        .await;
    expect_error(
        &one_call,
        403,
        &["require_separate_approver"],
        "rotate/ under the rule",
    );
    let key = read_ok(&root, "ai-keys/keys/app").await;
    assert_eq!(key["current_version"], 1, "{key:#}");
    assert_eq!(key["pending_version"], 2, "{key:#}");

    let promoted = write_ok(&bob.client, "ai-keys/promote/app", json!({})).await;
    assert_eq!(promoted["version"], 2, "{promoted:#}");
    assert_eq!(
        read_ok(&bob.client, "ai-keys/creds/app").await["api_key"],
        k2.as_str()
    );

    let events = history(&root, "app").await;
    let find = |name: &str| {
        events
            .iter()
            .find(|e| e["event"] == name)
            .unwrap_or_else(|| panic!("no {name} event: {events:#?}"))
            .clone()
    };
    let (staged, promoted) = (find("staged"), find("promoted"));
    assert_eq!(staged["actor"]["entity_id"], alice.entity_id.as_str());
    assert_eq!(staged["actor"]["accessor"], alice.accessor.as_str());
    assert_eq!(staged["actor"]["display_name"], "userpass-alice");
    assert_eq!(promoted["actor"]["entity_id"], bob.entity_id.as_str());
    assert_eq!(promoted["actor"]["accessor"], bob.accessor.as_str());
    assert_eq!(promoted["actor"]["display_name"], "userpass-bob");
    assert_ne!(staged["actor"]["entity_id"], promoted["actor"]["entity_id"]);
}
