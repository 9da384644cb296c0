//! `list_engine_keys` (what `reconcile` compares with the records) against the fake: every key
//! named with the engine's prefix, across list pages, disabled OpenRouter keys included; never a
//! key a person made.

use vault_plugin_secrets_ai_keys::providers::{ProviderType, Providers};

use super::{cfg, secret};
use crate::support::fake_provider::{FakeProvider, Switches};

const ADMIN: &str = "sk-admin-Zq8vQ3xT5mKp2LrW9nYb";

async fn listed(kind: ProviderType) -> (Vec<String>, Vec<String>) {
    let fake = FakeProvider::start_with(Switches {
        page_cap: Some(2),
        ..Switches::default()
    })
    .await;
    fake.add_admin_key(ADMIN);
    let mut c = cfg(kind, &fake);
    c.admin_key = Some(secret(ADMIN));
    if kind == ProviderType::Openai {
        c.project_id = Some("proj_abc123".to_string());
    }
    let providers = Providers::new();
    let mut made = Vec::new();
    for n in 0..3 {
        let name = format!("ai-keys-app{n}-0123456789a{n}");
        made.push(
            providers
                .create_key(&c, &name)
                .await
                .unwrap()
                .provider_key_id,
        );
    }
    if kind == ProviderType::Openai {
        fake.add_openai_key("proj_abc123", "key_person", "sk-proj-person-0000000000");
    } else {
        fake.add_openrouter_key("personhash", "sk-or-v1-person-0000000000");
        fake.set_openrouter_disabled(&made[1], true);
    }
    let mut found: Vec<String> = providers
        .list_engine_keys(&c, "ai-keys-")
        .await
        .unwrap()
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    found.sort();
    made.sort();
    (found, made)
}

#[tokio::test]
async fn openrouter_lists_every_key_in_the_engines_naming_and_no_persons_key() {
    let (found, made) = listed(ProviderType::Openrouter).await;
    assert_eq!(
        found, made,
        "the disabled one included, the person's left out"
    );
}

#[tokio::test]
async fn openai_lists_the_keys_of_the_engines_accounts_and_no_persons_key() {
    let (found, made) = listed(ProviderType::Openai).await;
    assert_eq!(found, made);
}
