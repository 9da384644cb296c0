//! Two people means two people, with the shipped ACL roles held by real userpass entities:
//! under `require_separate_approver` a key deleted and created again (from a value, or created
//! at its provider) serves nothing until a different entity promotes its first version, and an
//! approved rotation is undone only when a second entity confirms the rollback.

use serde_json::{json, Value};

use crate::providers::openai_provider;
use crate::roles::{install_roles, login, policy_text, APP_KEY};
use crate::support::checks::{data, expect_error, history, read_ok, secret, write_ok};
use crate::support::fake_provider::FakeProvider;
use crate::support::{Bao, Client};

/// The shipped roles installed, plus userpass user `user` holding policies `ai-keys-<role>`
/// for each of `roles`; a client logged in as `user`.
async fn extra_user(bao: &Bao, root: &Client, user: &str, roles: &[&str]) -> Client {
    for role in roles {
        root.write(
            &format!("sys/policies/acl/ai-keys-{role}"),
            json!({ "policy": policy_text(role) }),
        )
        .await
        .expect_status(204);
    }
    let policies: Vec<String> = roles.iter().map(|r| format!("ai-keys-{r}")).collect();
    root.write(
        &format!("auth/userpass/users/{user}"),
        json!({
            "password": format!("{user}-password"),
            "token_policies": policies,
            "token_no_default_policy": true,
        }),
    )
    .await
    .expect_status(204);
    let reply = bao
        .client_with_token("")
        .write(
            &format!("auth/userpass/login/{user}"),
            json!({ "password": format!("{user}-password") }),
        )
        .await;
    reply.expect_status(200);
    let auth = &reply.body["auth"];
    assert!(
        auth["entity_id"].as_str().is_some_and(|e| !e.is_empty()),
        "{user} has an entity: {auth}"
    );
    bao.client_with_token(auth["client_token"].as_str().expect("client_token"))
}

/// `creds/<APP_KEY>` as the app reads it while the key has no current version: a 404 whose
/// message says it awaits approval and names the pending version.
async fn creds_awaiting_approval(app: &Client, version: u64) {
    let reply = app.read(&format!("ai-keys/creds/{APP_KEY}")).await;
    expect_error(
        &reply,
        404,
        &[
            "no current version yet (awaiting approval)",
            &format!("version {version} is pending"),
        ],
        "creds/ of a key whose first version awaits approval",
    );
}

async fn rule_on(admin: &Client) {
    write_ok(
        admin,
        "ai-keys/config",
        json!({ "require_separate_approver": true }),
    )
    .await;
}

/// The admin deletes the application's key and creates it again with a value of her choosing:
/// creds/ is a 404 awaiting approval; the admin cannot make it live, nor can one person who
/// holds both the admin and the approver roles; the operator tests it and the approver promotes
/// it, and only then does the application receive it.
#[tokio::test]
async fn a_key_deleted_and_created_again_is_live_only_after_another_entity_promotes_it() {
    let bao = Bao::start().await;
    let root = bao.client();
    install_roles(&root).await;
    let lead = extra_user(&bao, &root, "lead", &["admin", "approver"]).await;
    let [app, operator, approver, admin] = [
        login(&bao, "app").await,
        login(&bao, "operator").await,
        login(&bao, "approver").await,
        login(&bao, "admin").await,
    ];
    let v1 = secret("v1");
    write_ok(
        &admin,
        &format!("ai-keys/keys/{APP_KEY}"),
        json!({ "value": v1 }),
    )
    .await;
    rule_on(&admin).await;
    assert_eq!(
        read_ok(&app, &format!("ai-keys/creds/{APP_KEY}")).await["api_key"],
        v1.as_str()
    );

    // Delete and create again with a value nobody tested or approved.
    admin
        .delete(&format!("ai-keys/keys/{APP_KEY}"))
        .await
        .expect_status(204);
    let chosen = secret("attacker-chosen");
    let created = admin
        .write(
            &format!("ai-keys/keys/{APP_KEY}"),
            json!({ "value": chosen }),
        )
        .await;
    let key = data(&created, "the admin creates the key again");
    assert_eq!(key["current_version"], Value::Null, "{key:#}");
    assert_eq!(key["pending_version"], 1, "{key:#}");
    assert!(
        created
            .warnings()
            .iter()
            .any(|w| w.contains("different entity")),
        "{:?}",
        created.warnings()
    );
    assert!(!created.text.contains(&chosen), "no value in the answer");
    creds_awaiting_approval(&app, 1).await;

    // One person holding both roles cannot approve her own value.
    let own = format!("{APP_KEY}-own");
    write_ok(
        &lead,
        &format!("ai-keys/keys/{own}"),
        json!({ "value": secret("own") }),
    )
    .await;
    let refused = lead
        .write(&format!("ai-keys/promote/{own}"), json!({ "force": true }))
        .await;
    expect_error(
        &refused,
        403,
        &["two-person rule", "different entity"],
        "the creator promoting her own first version",
    );
    assert!(
        !refused.errors().contains("permission denied"),
        "the plugin's refusal"
    );
    creds_awaiting_approval(&app, 1).await;

    // The operator tests it, the approver promotes it: now it is live.
    let tested = write_ok(&operator, &format!("ai-keys/test/{APP_KEY}"), json!({})).await;
    assert_eq!(tested["version"], 1, "{tested:#}");
    let promoted = write_ok(&approver, &format!("ai-keys/promote/{APP_KEY}"), json!({})).await;
    assert_eq!(promoted["version"], 1, "{promoted:#}");
    let c = read_ok(&app, &format!("ai-keys/creds/{APP_KEY}")).await;
    assert_eq!(c["api_key"], chosen.as_str());
    assert_eq!(c["version"], 1);

    let events = history(&root, APP_KEY).await;
    let who = |name: &str| {
        events
            .iter()
            .find(|e| e["event"] == name)
            .unwrap_or_else(|| panic!("no {name} event: {events:#?}"))["actor"]["display_name"]
            .clone()
    };
    assert_eq!(who("staged"), "userpass-admin");
    assert_eq!(who("promoted"), "userpass-approver");
}

/// An operator's rollback of an approved rotation only asks: the key keeps serving the approved
/// version, the same operator again is refused, and a second operator (another entity) makes
/// the previous version current again.
#[tokio::test]
async fn an_operators_rollback_of_an_approved_rotation_needs_a_second_entity() {
    let bao = Bao::start().await;
    let root = bao.client();
    install_roles(&root).await;
    let second = extra_user(&bao, &root, "operator2", &["operator"]).await;
    let [app, operator, approver, admin] = [
        login(&bao, "app").await,
        login(&bao, "operator").await,
        login(&bao, "approver").await,
        login(&bao, "admin").await,
    ];
    let (v1, v2) = (secret("v1"), secret("v2"));
    write_ok(
        &admin,
        &format!("ai-keys/keys/{APP_KEY}"),
        json!({ "value": v1 }),
    )
    .await;
    rule_on(&admin).await;
    let path = |p: &str| format!("ai-keys/{p}/{APP_KEY}");
    write_ok(&operator, &path("stage"), json!({ "value": v2 })).await;
    write_ok(&operator, &path("test"), json!({})).await;
    write_ok(&approver, &path("promote"), json!({ "grace_period": "1h" })).await;
    assert_eq!(read_ok(&app, &path("creds")).await["api_key"], v2.as_str());

    let asked = operator.write(&path("rollback"), json!({})).await;
    let out = data(&asked, "the operator's rollback");
    assert_eq!(out["current_version"], 2, "{out:#}");
    assert_eq!(out["reinstatement_request"]["version"], 1, "{out:#}");
    assert!(
        asked
            .warnings()
            .iter()
            .any(|w| w.contains("different entity")),
        "{:?}",
        asked.warnings()
    );
    let c = read_ok(&app, &path("creds")).await;
    assert_eq!(
        c["api_key"],
        v2.as_str(),
        "one operator undid an approved rotation"
    );

    let again = operator.write(&path("rollback"), json!({})).await;
    expect_error(
        &again,
        403,
        &["two-person rule", "different entity"],
        "the same operator confirming her own rollback",
    );
    assert_eq!(read_ok(&app, &path("creds")).await["api_key"], v2.as_str());

    let done = write_ok(&second, &path("rollback"), json!({})).await;
    assert_eq!(done["current_version"], 1, "{done:#}");
    assert_eq!(done["revoked_versions"], json!([2]));
    let c = read_ok(&app, &path("creds")).await;
    assert_eq!(c["api_key"], v1.as_str());
    assert_eq!(c["version"], 1);

    let events = history(&root, APP_KEY).await;
    let by = |name: &str| {
        events
            .iter()
            .find(|e| e["event"] == name)
            .unwrap_or_else(|| panic!("no {name} event: {events:#?}"))["actor"]["display_name"]
            .clone()
    };
    assert_eq!(by("rollback_requested"), "userpass-operator");
    assert_eq!(by("rolled_back"), "userpass-operator2");
}

/// The admin creates the key with no value at an OpenAI provider: the provider creates it and
/// the engine tests it, but under the rule it waits, pending, until the approver promotes it.
#[tokio::test]
async fn a_key_created_at_its_provider_waits_for_approval() {
    let bao = Bao::start().await;
    let fake = FakeProvider::start().await;
    let root = bao.client();
    install_roles(&root).await;
    let [app, approver, admin] = [
        login(&bao, "app").await,
        login(&bao, "approver").await,
        login(&bao, "admin").await,
    ];
    openai_provider(&root, &fake, "openai").await;
    rule_on(&admin).await;

    let before = fake.created_keys().len();
    let key = write_ok(
        &admin,
        &format!("ai-keys/keys/{APP_KEY}"),
        json!({ "provider": "openai" }),
    )
    .await;
    let created = fake.created_keys();
    assert_eq!(created.len(), before + 1, "one key created at the provider");
    let (id, value, _) = created.last().cloned().expect("created key");
    assert_eq!(key["pending_version"], 1, "{key:#}");
    assert_eq!(key["current_version"], Value::Null, "{key:#}");
    let v1 = &key["versions"]["1"];
    assert_eq!(v1["engine_created"], true, "{key:#}");
    assert_eq!(v1["provider_key_id"], id.as_str());
    assert_eq!(v1["last_test"]["outcome"], "passed", "{key:#}");
    assert_eq!(key["test"]["outcome"], "passed", "{key:#}");
    creds_awaiting_approval(&app, 1).await;

    write_ok(&approver, &format!("ai-keys/promote/{APP_KEY}"), json!({})).await;
    let c = read_ok(&app, &format!("ai-keys/creds/{APP_KEY}")).await;
    assert_eq!(c["api_key"], value.as_str());
    assert!(fake.is_active(&id));
}

/// One admin cannot switch the two-person rule off (to rotate alone and switch it on again):
/// her write only records a request, her second is a 403, and a different admin confirms it.
#[tokio::test]
async fn one_admin_cannot_switch_the_two_person_rule_off_alone() {
    let bao = Bao::start().await;
    let root = bao.client();
    install_roles(&root).await;
    let second_admin = extra_user(&bao, &root, "second-admin", &["admin"]).await;
    let admin = login(&bao, "admin").await;
    rule_on(&admin).await;

    let off = json!({ "require_separate_approver": false });
    let asked = admin.write("ai-keys/config", off.clone()).await;
    asked.expect_status(200);
    assert!(
        asked.body["warnings"].to_string().contains("second entity"),
        "{:#}",
        asked.body
    );
    assert_eq!(
        read_ok(&admin, "ai-keys/config").await["require_separate_approver"],
        true
    );
    let again = admin.write("ai-keys/config", off.clone()).await;
    expect_error(
        &again,
        403,
        &["different entity must confirm"],
        "the requester confirming her own request",
    );
    assert_eq!(
        read_ok(&admin, "ai-keys/config").await["require_separate_approver"],
        true
    );

    write_ok(&second_admin, "ai-keys/config", off).await;
    assert_eq!(
        read_ok(&admin, "ai-keys/config").await["require_separate_approver"],
        false
    );
}
