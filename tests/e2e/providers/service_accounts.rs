//! OpenAI keys inside one service account: the engine creates one service account per provider
//! configuration, gives it the role `member` (OpenAI creates an account made with
//! `create_service_account_only` with role `none`, whose keys cannot call the API, and the fake
//! refuses them as OpenAI does), and creates each rotated key in it, so revoking deletes just the
//! old key and leaves no empty service accounts; a key of the previous release (alone in a
//! service account the engine named `ai-keys-...`), imported with its id, keeps passing its test
//! and, once retired, is left to a person (`manual`) with its account; an account an earlier
//! build recorded without a role is given one.

use serde_json::{json, Value};

use super::{create_key, creds, openai_provider, read_key, rotate, version, PROJECT};
use crate::support::checks::{data, read_ok, secret, write_ok};
use crate::support::fake_provider::FakeProvider;
use crate::support::raw::{raw_get, raw_put_reloaded};
use crate::support::{Bao, Client};

/// The provider configuration as stored.
async fn stored_provider(client: &Client) -> Value {
    let text = raw_get(client, "providers/openai").await.expect("stored");
    serde_json::from_str(&text).expect("JSON")
}

/// `test/<name>` of the key's current version: the outcome.
async fn test_current(client: &Client, name: &str) -> Value {
    let current = read_key(client, name).await["current_version"].clone();
    let body = json!({ "version": current });
    let tested = write_ok(client, &format!("ai-keys/test/{name}"), body).await;
    assert_eq!(tested["version"], current, "{tested:#}");
    tested["outcome"].clone()
}

/// Three emergency rotations (`grace_period=0s`, so each old key is revoked in the request) of
/// a key, and one of a key imported from the previous release: afterwards the engine's one
/// service account holds exactly the current keys; every retired key the engine created is gone
/// at the provider, and the imported key and its `ai-keys-...` account are untouched (nothing
/// proves the import is the engine's: its revocation is `manual`).
#[tokio::test]
async fn rotations_share_one_engine_account_and_leave_no_empty_ones() {
    let (bao, fake) = tokio::join!(Bao::start(), FakeProvider::start());
    let client = bao.client();
    openai_provider(&client, &fake, "openai").await;

    let v0 = secret("v0");
    fake.add_key(&v0);
    create_key(
        &client,
        "sa-key",
        json!({ "value": v0, "provider": "openai" }),
    )
    .await;
    let mut created = Vec::new();
    for round in 0..3 {
        let rotated = data(
            &rotate(&client, "sa-key", json!({ "grace_period": "0s" })).await,
            &format!("rotation {round}"),
        );
        assert_eq!(rotated["test"]["outcome"], "passed", "{rotated:#}");
        let key = read_key(&client, "sa-key").await;
        let current = key["current_version"].as_u64().unwrap();
        let id = version(&key, current)["provider_key_id"]
            .as_str()
            .unwrap()
            .to_string();
        created.push(id);
    }
    let accounts = fake.service_accounts(PROJECT);
    assert_eq!(accounts.len(), 1, "one engine account: {accounts:?}");
    let (account, name, keys) = &accounts[0];
    assert!(name.starts_with("vault-ai-keys-openai-"), "{name}");
    assert_eq!(*keys, 1, "only the current key is left in {account}");
    assert_eq!(
        fake.service_account_role(PROJECT, account).as_deref(),
        Some("member"),
        "created without a role, then given member"
    );
    let stored = stored_provider(&client).await;
    assert_eq!(
        stored["engine_account"]["id"],
        account.as_str(),
        "{stored:#}"
    );
    assert_eq!(stored["engine_account"]["role"], "member", "{stored:#}");
    assert_eq!(test_current(&client, "sa-key").await, "passed");
    let (current, retired) = created.split_last().unwrap();
    assert!(fake.is_active(current));
    for id in retired {
        assert!(!fake.is_active(id), "retired key {id} still active");
    }
    let c = creds(&client, "sa-key").await;
    assert!(fake.is_valid_key(c["api_key"].as_str().unwrap()));

    // The account's id is recorded with the provider configuration (a second configuration
    // would get its own); reading the provider still works and shows no secret.
    let provider = read_ok(&client, "ai-keys/providers/openai").await;
    assert_eq!(provider["capabilities"]["create"], true, "{provider:#}");

    // A key of the previous release: alone in its own `ai-keys-...` service account.
    let legacy = secret("legacy");
    let legacy_account =
        fake.add_legacy_openai_key(PROJECT, "ai-keys-old-0123456789ab", "key_legacy1", &legacy);
    create_key(
        &client,
        "old",
        json!({ "value": legacy, "provider": "openai", "provider_key_id": "key_legacy1" }),
    )
    .await;
    assert_eq!(
        test_current(&client, "old").await,
        "passed",
        "a key of the previous release keeps working"
    );
    let rotated = data(
        &rotate(&client, "old", json!({ "grace_period": "0s" })).await,
        "rotation of the imported key",
    );
    assert_eq!(rotated["test"]["outcome"], "passed", "{rotated:#}");
    // Imported with an id only its hint matched: never the engine's to delete, nor its account.
    let key = read_key(&client, "old").await;
    assert_eq!(version(&key, 1)["state"], "revoked", "{key:#}");
    assert_eq!(
        version(&key, 1)["provider_revocation"]["status"],
        "manual",
        "{key:#}"
    );
    assert!(
        fake.is_active("key_legacy1"),
        "an import the engine cannot prove was deleted"
    );
    let accounts = fake.service_accounts(PROJECT);
    assert!(
        accounts
            .iter()
            .any(|(id, _, keys)| *id == legacy_account && *keys == 1),
        "the legacy account or its key was deleted: {accounts:?}"
    );
    assert_eq!(accounts.len(), 2, "{accounts:?}");
    assert!(
        accounts.iter().all(|(_, _, keys)| *keys > 0),
        "an empty service account: {accounts:?}"
    );
    assert!(fake.deleted_service_accounts(PROJECT).is_empty());
}

/// A provider configuration an earlier build wrote records its engine account's id but no role
/// (that build created the account with `create_service_account_only` and never gave it one, so
/// its keys could not call the API): the next key created is created only after the account is
/// read and given `member`, and it passes its test.
#[tokio::test]
async fn an_account_recorded_without_a_role_is_given_one_before_use() {
    let (bao, fake) = tokio::join!(Bao::start(), FakeProvider::start());
    let client = bao.client();
    openai_provider(&client, &fake, "openai").await;
    let v0 = secret("v0");
    fake.add_key(&v0);
    create_key(
        &client,
        "earlier",
        json!({ "value": v0, "provider": "openai" }),
    )
    .await;
    let rotated = data(
        &rotate(&client, "earlier", json!({ "grace_period": "0s" })).await,
        "first rotation",
    );
    assert_eq!(rotated["test"]["outcome"], "passed", "{rotated:#}");

    // What the earlier build left: another account, role `none`, recorded without a role.
    let name = "vault-ai-keys-openai-earlier00";
    let sa = fake.add_openai_account(PROJECT, name, "none");
    let mut stored = stored_provider(&client).await;
    let scope = stored["engine_account"]["scope"].clone();
    stored["engine_account"] = json!({ "name": name, "id": sa, "scope": scope });
    raw_put_reloaded(&client, "providers/openai", &stored.to_string()).await;

    let rotated = data(
        &rotate(&client, "earlier", json!({ "grace_period": "0s" })).await,
        "rotation after the upgrade",
    );
    assert_eq!(rotated["test"]["outcome"], "passed", "{rotated:#}");
    assert_eq!(
        fake.service_account_role(PROJECT, &sa).as_deref(),
        Some("member")
    );
    let accounts = fake.service_accounts(PROJECT);
    assert!(
        accounts.iter().any(|(id, _, keys)| *id == sa && *keys == 1),
        "the new key lives in the recorded account: {accounts:?}"
    );
    let stored = stored_provider(&client).await;
    assert_eq!(stored["engine_account"]["id"], sa.as_str(), "{stored:#}");
    assert_eq!(stored["engine_account"]["role"], "member", "{stored:#}");
    assert_eq!(test_current(&client, "earlier").await, "passed");
}
