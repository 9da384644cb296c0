//! `Providers::last_used` against the fake: OpenAI's `last_used_at` (null until the key is used,
//! then the second of its last accepted call, the engine's own key test included), OpenRouter's
//! `usage` (spend, raised only by paid calls), other types unsupported, and a failing provider
//! an error that names no admin key.

use chrono::Utc;
use vault_plugin_secrets_ai_keys::providers::{KeyUsage, ProviderError, ProviderType, Providers};

use super::{cfg, key_for, secret};
use crate::support::fake_provider::{FakeProvider, Mode};

use ProviderType::*;

const ADMIN: &str = "sk-admin-Uq7nR3wE9tYp2ZxC6vBm";
const PROJECT: &str = "proj_usage1";

fn admin_cfg(
    kind: ProviderType,
    fake: &FakeProvider,
) -> vault_plugin_secrets_ai_keys::providers::ProviderConfig {
    fake.add_admin_key(ADMIN);
    let mut c = cfg(kind, fake);
    c.admin_key = Some(secret(ADMIN));
    if kind == Openai {
        c.project_id = Some(PROJECT.to_string());
    }
    c
}

#[tokio::test]
async fn openai_reports_the_last_use_including_the_engines_own_test() {
    let fake = FakeProvider::start().await;
    let providers = Providers::new();
    let c = admin_cfg(Openai, &fake);
    let value = key_for(Openai, "Used1");
    fake.add_openai_key(PROJECT, "key_used1", &value);
    let before = providers.last_used(&c, "key_used1").await.expect("answer");
    assert_eq!(before, KeyUsage::LastUsed(None), "never used");

    let tested_from = Utc::now().timestamp();
    let result = providers
        .test_key(&cfg(Openai, &fake), &secret(&value))
        .await;
    assert_eq!(result.outcome.as_str(), "passed");
    let KeyUsage::LastUsed(Some(t)) = providers.last_used(&c, "key_used1").await.unwrap() else {
        panic!("a key test is a use at the provider");
    };
    assert!(
        t.timestamp() >= tested_from && t <= result.time,
        "{t} vs test at {}",
        result.time
    );

    fake.set_last_used(&value, Some(1_700_000_000));
    let got = providers.last_used(&c, "key_used1").await.unwrap();
    assert_eq!(
        got,
        KeyUsage::LastUsed(Some("2023-11-14T22:13:20Z".parse().unwrap()))
    );

    let gone = providers.last_used(&c, "key_unknown").await;
    assert!(matches!(gone, Err(ProviderError::Protocol(_))), "{gone:?}");
    fake.set_admin_mode(Mode::ServerError500);
    let down = providers.last_used(&c, "key_used1").await.expect_err("500");
    assert!(down.is_transient(), "{down:?}");
    assert!(!format!("{down} {down:?}").contains(&ADMIN[..12]));
}

#[tokio::test]
async fn openrouter_reports_spend_and_others_nothing() {
    let fake = FakeProvider::start().await;
    let providers = Providers::new();
    let c = admin_cfg(Openrouter, &fake);
    let value = key_for(Openrouter, "Spend1");
    fake.add_openrouter_key("hash_spend1", &value);
    assert_eq!(
        providers.last_used(&c, "hash_spend1").await.unwrap(),
        KeyUsage::Spend(0.0)
    );
    // The key-info endpoint the engine tests with is free: no spend.
    providers
        .test_key(&cfg(Openrouter, &fake), &secret(&value))
        .await;
    assert_eq!(
        providers.last_used(&c, "hash_spend1").await.unwrap(),
        KeyUsage::Spend(0.0)
    );
    fake.spend(&value, 0.25);
    assert_eq!(
        providers.last_used(&c, "hash_spend1").await.unwrap(),
        KeyUsage::Spend(0.25)
    );
    for kind in [Anthropic, Gemini, AzureOpenai, OpenaiCompatible] {
        let got = providers.last_used(&admin_cfg(kind, &fake), "key_x").await;
        assert!(
            matches!(got, Err(ProviderError::Unsupported(_))),
            "{kind}: {got:?}"
        );
    }
}
