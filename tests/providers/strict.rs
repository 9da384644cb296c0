//! The provider clients against the fake's hostile switches (`Switches`): what the real APIs
//! do sometimes (or always, where the fake used to be kinder) and the engine must survive. Here
//! OpenAI's role-less accounts, expiry policies, a 503 after a create and both delete
//! behaviours; lists, expiry, statuses and usage in `strict_lists.rs`.

use vault_plugin_secrets_ai_keys::providers::{
    CreateRequest, ProviderConfig, ProviderError, ProviderType, Providers,
};
use vault_plugin_secrets_ai_keys::rotation::TestOutcome;

use super::{cfg, key_for, secret};
use crate::support::fake_provider::{FakeProvider, KeyPolicy, Switches};

#[path = "strict_lists.rs"]
mod lists;

use ProviderType::*;

pub(super) const ADMIN: &str = "sk-admin-Sx2vB7nQ4kLp9WmZ3tRc";
pub(super) const PROJECT: &str = "proj_strict1";
const DAY: i64 = 24 * 3600;

pub(super) fn admin_cfg(kind: ProviderType, fake: &FakeProvider) -> ProviderConfig {
    fake.add_admin_key(ADMIN);
    let mut c = cfg(kind, fake);
    c.admin_key = Some(secret(ADMIN));
    if kind == Openai {
        c.project_id = Some(PROJECT.to_string());
    }
    c
}

pub(super) async fn start(switches: Switches) -> FakeProvider {
    FakeProvider::start_with(switches).await
}

fn request<'a>(name: &'a str, secs: Option<i64>, account: Option<&'a str>) -> CreateRequest<'a> {
    CreateRequest {
        name,
        expires_in_secs: secs,
        account,
    }
}

/// An account made with `create_service_account_only` has role `none` and its keys fail their
/// test; once given `member` they pass. `find_account` and `get_account` show the role.
#[tokio::test]
async fn keys_of_the_engine_account_work_once_it_has_a_role() {
    let fake = FakeProvider::start().await;
    let c = admin_cfg(Openai, &fake);
    let providers = Providers::new();
    let made = providers
        .create_account(&c, "vault-ai-keys-openai-0123")
        .await
        .unwrap();
    assert_eq!(made.role.as_deref(), Some("none"));
    assert!(!made.keys_can_call_api());
    let key = providers
        .create(&c, &request("ai-keys-app-1", None, Some(&made.id)))
        .await
        .unwrap();
    let refused = providers.test_key(&c, &key.value).await;
    assert_eq!(refused.outcome, TestOutcome::BadKey, "{refused:?}");
    assert_eq!(refused.status_code, Some(401));

    let found = providers
        .find_account(&c, "vault-ai-keys-openai-0123")
        .await
        .unwrap();
    assert_eq!(found, Some(made.clone()));
    let granted = providers.grant_account_role(&c, &made.id).await.unwrap();
    assert_eq!(granted.role.as_deref(), Some("member"));
    assert!(granted.keys_can_call_api());
    assert_eq!(
        fake.service_account_role(PROJECT, &made.id).as_deref(),
        Some("member")
    );
    let passed = providers.test_key(&c, &key.value).await;
    assert_eq!(passed.outcome, TestOutcome::Passed, "{passed:?}");
    // Idempotent, and readable again.
    providers.grant_account_role(&c, &made.id).await.unwrap();
    let read = providers.get_account(&c, &made.id).await.unwrap();
    assert_eq!(read, Some(granted));
    assert_eq!(
        providers.get_account(&c, "svc_acct_gone000").await.unwrap(),
        None
    );

    // The switch off: role-less keys pass, as the fake answered before it followed OpenAI.
    fake.switch(|s| s.roleless_keys_refused = false);
    let other = providers.create_account(&c, "other").await.unwrap();
    let key = providers
        .create(&c, &request("ai-keys-app-2", None, Some(&other.id)))
        .await
        .unwrap();
    let lenient = providers.test_key(&c, &key.value).await;
    assert_eq!(lenient.outcome, TestOutcome::Passed);
}

/// An expiration policy with a maximum lifetime refuses a create without `expires_in_seconds`
/// and one above the maximum, for both ways of creating a key; one that only requires an
/// expiry refuses only the first.
#[tokio::test]
async fn an_openai_expiry_policy_refuses_creates_that_break_it() {
    let fake = start(Switches {
        openai_key_policy: KeyPolicy {
            max_lifetime_secs: Some(30 * DAY),
            expiry_required: false,
        },
        ..Switches::default()
    })
    .await;
    let c = admin_cfg(Openai, &fake);
    let providers = Providers::new();
    let account = providers
        .create_account(&c, "vault-ai-keys-p")
        .await
        .unwrap();
    for sa in [None, Some(account.id.as_str())] {
        for secs in [None, Some(31 * DAY)] {
            let e = providers
                .create(&c, &request("ai-keys-app-p", secs, sa))
                .await
                .unwrap_err();
            assert!(
                matches!(e, ProviderError::ExpiryPolicy { status: 400, .. }),
                "{sa:?} {secs:?}: {e}"
            );
        }
        let ok = providers
            .create(&c, &request("ai-keys-app-p", Some(29 * DAY), sa))
            .await
            .unwrap();
        let expires = ok.expires_at.expect("expires_at").timestamp();
        let now = chrono::Utc::now().timestamp();
        assert!((expires - now - 29 * DAY).abs() < 60, "{sa:?}");
    }

    fake.switch(|s| {
        s.openai_key_policy = KeyPolicy {
            max_lifetime_secs: None,
            expiry_required: true,
        }
    });
    let e = providers.create_key(&c, "ai-keys-app-q").await.unwrap_err();
    assert!(
        matches!(e, ProviderError::ExpiryPolicy { status: 400, .. }),
        "{e}"
    );
    providers
        .create(&c, &request("ai-keys-app-q", Some(365 * DAY), None))
        .await
        .unwrap();
}

/// A 503 that comes after the provider made the key: the client does not create again (which
/// would leave a second key under the same name), and the key is found by its name.
#[tokio::test]
async fn a_create_answered_503_after_the_key_was_made_is_not_repeated() {
    for (kind, list) in [
        (
            Openai,
            "/v1/organization/projects/proj_strict1/service_accounts",
        ),
        (Openrouter, "/api/v1/keys"),
    ] {
        let fake = start(Switches {
            unavailable_after_create: true,
            ..Switches::default()
        })
        .await;
        let c = admin_cfg(kind, &fake);
        let providers = Providers::new();
        let e = providers
            .create_key(&c, "ai-keys-app-503")
            .await
            .unwrap_err();
        assert!(
            matches!(
                e,
                ProviderError::Unavailable {
                    status: Some(503),
                    ..
                }
            ),
            "{kind}: {e}"
        );
        assert_eq!(fake.hits(list), 1, "{kind}: one create call");
        let made = fake.active_created_keys();
        assert_eq!(made.len(), 1, "{kind}: exactly one key made");
        let found = providers
            .find_key_by_name(&c, "ai-keys-app-503")
            .await
            .unwrap();
        assert_eq!(found, made, "{kind}");
    }
}

/// Both OpenAI delete behaviours: the newest deletes one key of the engine's account and leaves
/// the account and its other keys; the earlier refuses service-account keys, and then the
/// revocation fails and nothing else is deleted (never the shared account). A key of the
/// previous release, alone in its `ai-keys-...` account, is revoked by deleting just the key:
/// the account stays (the engine never deletes one).
#[tokio::test]
async fn both_openai_delete_behaviours() {
    let fake = FakeProvider::start().await;
    let c = admin_cfg(Openai, &fake);
    let providers = Providers::new();
    let account = providers
        .create_account(&c, "vault-ai-keys-d")
        .await
        .unwrap();
    let mut ids = Vec::new();
    for n in 0..3 {
        let name = format!("ai-keys-app-d{n}");
        let key = providers
            .create(&c, &request(&name, None, Some(&account.id)))
            .await
            .unwrap();
        ids.push(key.provider_key_id);
    }
    providers.revoke_key(&c, &ids[0]).await.unwrap();
    assert!(!fake.is_active(&ids[0]));
    let accounts = fake.service_accounts(PROJECT);
    assert_eq!(
        accounts,
        [(account.id.clone(), "vault-ai-keys-d".to_string(), 2)]
    );

    fake.switch(|s| s.openai_delete_refuses_service_account_keys = true);
    let e = providers.revoke_key(&c, &ids[1]).await.unwrap_err();
    assert!(
        matches!(e, ProviderError::Rejected { status: 400, .. }),
        "{e}"
    );
    assert!(fake.is_active(&ids[1]) && fake.is_active(&ids[2]));
    assert_eq!(fake.service_accounts(PROJECT).len(), 1, "the account stays");

    let legacy = key_for(Openai, "Legacy1");
    let sa = fake.add_legacy_openai_key(PROJECT, "ai-keys-old-0123456789ab", "key_leg1", &legacy);
    fake.switch(|s| s.openai_delete_refuses_service_account_keys = false);
    providers.revoke_key(&c, "key_leg1").await.unwrap();
    assert!(!fake.is_active("key_leg1"));
    assert!(
        fake.service_account_role(PROJECT, &sa).is_some(),
        "an `ai-keys-` account is never deleted, even one the previous release made"
    );
}
