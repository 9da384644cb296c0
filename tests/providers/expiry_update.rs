//! OpenAI's "Update project API key" (`POST .../api_keys/{id}` with `expires_in_seconds`,
//! providers.md "Changing a live key"): the fake against the reference, and the client
//! ([`Providers::update_expiry`]) against the fake: the new expiry as reported, the key-expiry
//! policy's refusal, an expired or unknown key refused, and types that cannot change a key's
//! expiry saying so without a call.

use chrono::{TimeDelta, Utc};
use reqwest::{Method, StatusCode};
use serde_json::json;
use vault_plugin_secrets_ai_keys::providers::{
    CreateRequest, ProviderError, ProviderType, Providers,
};

use super::reference::{has, openai_error, Api};
use super::strict::admin_cfg;
use crate::support::fake_provider::{FakeProvider, KeyPolicy, Switches};

/// The reference's example: `{"expires_in_seconds": 3600}` on a service account's key answers
/// the key object (only `redacted_value`, never the value) with `expires_at` an hour on; the
/// range is 1 to 31,536,000; an unknown key is a 404; an expired key cannot be updated.
#[tokio::test]
async fn openai_update_project_api_key_examples() {
    let (fake, api) = Api::start().await;
    let (_, account) = api
        .openai(
            Method::POST,
            "/service_accounts",
            Some(json!({"name": "Production App"})),
        )
        .await;
    let id = account["api_key"]["id"]
        .as_str()
        .expect("a key")
        .to_string();
    let path = format!("/api_keys/{id}");
    let before = Utc::now().timestamp();
    let (status, key) = api
        .openai(
            Method::POST,
            &path,
            Some(json!({"expires_in_seconds": 3600})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{key:#}");
    assert_eq!(key["object"], "organization.project.api_key");
    assert_eq!(key["id"], id.as_str());
    has(&key, "redacted_value", "string");
    assert!(key.get("value").is_none(), "the value leaked: {key:#}");
    let at = key["expires_at"].as_i64().expect("expires_at");
    assert!(
        (before + 3600..=Utc::now().timestamp() + 3600).contains(&at),
        "{at}"
    );
    assert_eq!(fake.key_expires_at(&id), Some(at));

    for secs in [json!(0), json!(31_536_001), json!("3600")] {
        let (status, refused) = api
            .openai(
                Method::POST,
                &path,
                Some(json!({"expires_in_seconds": secs})),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{secs}: {refused:#}");
        openai_error(&refused, "invalid_request_error");
        assert_eq!(refused["error"]["param"], "expires_in_seconds");
    }
    assert_eq!(
        fake.key_expires_at(&id),
        Some(at),
        "a refusal changed the key"
    );

    let (status, missing) = api
        .openai(
            Method::POST,
            "/api_keys/key_nope",
            Some(json!({"expires_in_seconds": 60})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{missing:#}");
    openai_error(&missing, "invalid_request_error");

    fake.set_key_expires_at(&id, Some(Utc::now().timestamp() - 1));
    let (status, expired) = api
        .openai(Method::POST, &path, Some(json!({"expires_in_seconds": 60})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{expired:#}");
    openai_error(&expired, "invalid_request_error");
}

/// The client moves a created key's expiry and returns it as OpenAI reported it; beyond the
/// organization's policy it is `ExpiryPolicy`; an expired or unknown key is `Rejected`; a time
/// not in the future, and types without the update, are `Unsupported` with no call made.
#[tokio::test]
async fn update_expiry_sets_reports_and_refuses() {
    let fake = FakeProvider::start_with(Switches {
        openai_key_policy: KeyPolicy {
            max_lifetime_secs: Some(7 * 24 * 3600),
            expiry_required: false,
        },
        ..Switches::default()
    })
    .await;
    let c = admin_cfg(ProviderType::Openai, &fake);
    let providers = Providers::new();
    let account = providers
        .create_account(&c, "vault-ai-keys-x")
        .await
        .unwrap();
    let req = CreateRequest {
        name: "ai-keys-x-1",
        expires_in_secs: Some(3600),
        account: Some(&account.id),
    };
    let created = providers.create(&c, &req).await.unwrap();
    let id = created.provider_key_id.clone();

    let at = Utc::now() + TimeDelta::hours(2);
    let reported = providers
        .update_expiry(&c, &id, at)
        .await
        .unwrap()
        .expect("an expiry");
    assert!(
        (reported - at).num_seconds().abs() <= 2,
        "{reported} vs {at}"
    );
    assert_eq!(fake.key_expires_at(&id), Some(reported.timestamp()));

    let e = providers
        .update_expiry(&c, &id, Utc::now() + TimeDelta::days(8))
        .await
        .unwrap_err();
    assert!(
        matches!(e, ProviderError::ExpiryPolicy { status: 400, .. }),
        "{e}"
    );

    let e = providers
        .update_expiry(&c, "key_nope", at)
        .await
        .unwrap_err();
    assert!(
        matches!(e, ProviderError::Rejected { status: 404, .. }),
        "{e}"
    );

    fake.set_key_expires_at(&id, Some(Utc::now().timestamp() - 1));
    let e = providers.update_expiry(&c, &id, at).await.unwrap_err();
    assert!(
        matches!(e, ProviderError::Rejected { status: 400, .. }),
        "{e}"
    );

    let calls = fake.expiry_updates().len();
    let e = providers
        .update_expiry(&c, &id, Utc::now() - TimeDelta::seconds(1))
        .await
        .unwrap_err();
    assert!(matches!(e, ProviderError::Unsupported(_)), "{e}");
    for kind in [ProviderType::Openrouter, ProviderType::Anthropic] {
        let other = admin_cfg(kind, &fake);
        let e = providers
            .update_expiry(&other, "some-id", at)
            .await
            .unwrap_err();
        assert!(matches!(e, ProviderError::Unsupported(_)), "{kind}: {e}");
        assert!(
            e.to_string().contains("cannot change a key's expiry"),
            "{e}"
        );
    }
    assert_eq!(
        fake.expiry_updates().len(),
        calls,
        "a refused update called the provider"
    );
}
