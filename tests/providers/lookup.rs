//! `lookup_key` against the fake's one-key endpoints: the ownership hint of each provider
//! (Anthropic `partial_key_hint`, OpenAI `redacted_value`, OpenRouter `label`) matches the key's
//! value and no other, a missing key is `None`, and failures say why without the admin key.

use vault_plugin_secrets_ai_keys::providers::{
    ProviderConfig, ProviderError, ProviderType, Providers,
};

use super::{cfg, key_for, secret};
use crate::support::fake_provider::{FakeProvider, Mode};

use ProviderType::*;

const ADMIN: &str = "sk-admin-Lk4mQ7wR2xNp8TzV5cJb";
const PROJECT: &str = "proj_lookup1";

fn admin_cfg(kind: ProviderType, fake: &FakeProvider) -> ProviderConfig {
    fake.add_admin_key(ADMIN);
    let mut c = cfg(kind, fake);
    c.admin_key = Some(secret(ADMIN));
    if kind == Openai {
        c.project_id = Some(PROJECT.to_string());
    }
    c
}

fn assert_no_admin_key(e: &ProviderError) {
    let text = format!("{e} {e:?}");
    assert!(
        !text.contains(ADMIN) && !text.contains(&ADMIN[..12]),
        "leak: {text}"
    );
}

/// Registers a key a person made at `kind`'s fake; returns its id.
fn add_person_key(fake: &FakeProvider, kind: ProviderType, tag: &str, value: &str) -> String {
    let id = format!("{}_{tag}", kind.as_str());
    match kind {
        Anthropic => fake.add_anthropic_key(&id, value),
        Openai => fake.add_openai_key(PROJECT, &id, value),
        Openrouter => fake.add_openrouter_key(&id, value),
        other => panic!("{other} has no key lookup"),
    }
    id
}

#[tokio::test]
async fn lookups_show_a_hint_that_matches_only_the_keys_own_value() {
    let fake = FakeProvider::start().await;
    let providers = Providers::new();
    for kind in [Anthropic, Openai, Openrouter] {
        let c = admin_cfg(kind, &fake);
        // The same start, another end: the hint's suffix tells them apart.
        let value = format!("{}Ab12", key_for(kind, "Own9"));
        let other = format!("{}Cd34", key_for(kind, "Own9"));
        let id = add_person_key(&fake, kind, "one", &value);
        fake.set_last_used(&value, Some(1_711_471_534));
        let record = providers
            .lookup_key(&c, &id)
            .await
            .unwrap_or_else(|e| panic!("{kind}: {e}"))
            .unwrap_or_else(|| panic!("{kind}: no record"));
        assert_eq!(record.id, id);
        let hint = record.hint.clone().expect("hint");
        assert!(hint.contains("..."), "{kind}: {hint}");
        assert!(!hint.contains(&value), "{kind}: the hint is the value");
        assert!(record.matches(&secret(&value)), "{kind}: {hint}");
        assert!(!record.matches(&secret(&other)), "{kind}: {hint}");
        assert!(
            !format!("{record:?}").contains(&value),
            "{kind}: Debug shows the value"
        );
        match kind {
            Anthropic => assert_eq!(record.status.as_deref(), Some("active")),
            Openai => assert_eq!(
                record.last_used_at.map(|t| t.timestamp()),
                Some(1_711_471_534),
                "{record:?}"
            ),
            _ => assert_eq!(record.status.as_deref(), Some("active")),
        }
        // An id the provider does not know is None, not an error.
        let missing = providers.lookup_key(&c, &format!("{id}x")).await;
        assert!(matches!(missing, Ok(None)), "{kind}: {missing:?}");
        // A lookup changes nothing.
        assert!(fake.is_valid_key(&value));
        assert_eq!(fake.mutation_requests(&id), 0);
    }
    // The paths the real APIs use (counted by prefix: the id, then the id with an `x`).
    assert_eq!(fake.hits("/v1/organizations/api_keys/anthropic_one"), 2);
    let openai = format!("/v1/organization/projects/{PROJECT}/api_keys/openai_one");
    assert_eq!(fake.hits(&openai), 2);
    assert_eq!(fake.hits("/api/v1/keys/openrouter_one"), 2);
}

#[tokio::test]
async fn keys_the_engine_created_can_be_looked_up_until_revoked() {
    let fake = FakeProvider::start().await;
    let providers = Providers::new();
    for kind in [Openai, Openrouter] {
        let c = admin_cfg(kind, &fake);
        let created = providers.create_key(&c, "ai-keys-app-v2").await.unwrap();
        let id = created.provider_key_id.clone();
        let record = providers
            .lookup_key(&c, &id)
            .await
            .unwrap()
            .expect("record");
        assert!(record.matches(&created.value), "{kind}: {record:?}");
        providers.revoke_key(&c, &id).await.unwrap();
        let gone = providers.lookup_key(&c, &id).await;
        assert!(matches!(gone, Ok(None)), "{kind}: {gone:?}");
    }
}

#[tokio::test]
async fn lookups_that_cannot_be_made_say_why() {
    let fake = FakeProvider::start().await;
    let providers = Providers::new();
    let value = key_for(Anthropic, "Why1");
    let id = add_person_key(&fake, Anthropic, "why", &value);

    // No admin key, or a type without a key API: nothing is sent.
    let mut no_admin = cfg(Anthropic, &fake);
    let e = providers.lookup_key(&no_admin, &id).await.unwrap_err();
    assert!(
        matches!(&e, ProviderError::Unsupported(m) if m.contains("admin_key")),
        "{e:?}"
    );
    no_admin.kind = Gemini;
    let e = providers.lookup_key(&no_admin, &id).await.unwrap_err();
    assert!(matches!(e, ProviderError::Unsupported(_)), "{e:?}");
    let c = admin_cfg(Anthropic, &fake);
    let e = providers.lookup_key(&c, "../keys").await.unwrap_err();
    assert!(matches!(e, ProviderError::Unsupported(_)), "{e:?}");
    assert_eq!(fake.hits("/v1/organizations"), 0);

    // A refused admin key.
    let mut wrong = c.clone();
    wrong.admin_key = Some(secret("sk-admin-wrong-0000000000"));
    let e = providers.lookup_key(&wrong, &id).await.unwrap_err();
    assert!(
        matches!(e, ProviderError::Rejected { status: 401, .. }),
        "{e:?}"
    );

    // A provider that is down: transient, after the retries.
    fake.set_admin_mode(Mode::Overloaded529);
    let e = providers.lookup_key(&c, &id).await.unwrap_err();
    assert!(e.is_transient(), "{e:?}");
    assert_no_admin_key(&e);
    fake.set_admin_mode(Mode::Normal);

    // A wrong base_url (an HTML 404) is not "no such key".
    let mut elsewhere = c.clone();
    elsewhere.base_url = Some(format!("{}/elsewhere", fake.base_url()));
    let e = providers.lookup_key(&elsewhere, &id).await.unwrap_err();
    assert!(
        matches!(e, ProviderError::Rejected { status: 404, .. }),
        "{e:?}"
    );
    assert_no_admin_key(&e);
}

/// `identify_key` asks with the value itself, never the admin key: OpenRouter names the key a
/// valid value is (the same `label` the management lookup of its hash shows, so
/// `same_key_as` holds), a value that only looks like it is `None`, another key's value is
/// another key; types with no such call refuse with `Unsupported`, without a request.
#[tokio::test]
async fn only_openrouter_names_the_key_a_value_is() {
    let fake = FakeProvider::start().await;
    let providers = Providers::new();
    let c = admin_cfg(Openrouter, &fake);
    let value = format!("{}Ab12", key_for(Openrouter, "Own9"));
    let other = format!("{}Cd34", key_for(Openrouter, "Own8"));
    let id = add_person_key(&fake, Openrouter, "one", &value);
    add_person_key(&fake, Openrouter, "two", &other);
    let record = providers.lookup_key(&c, &id).await.unwrap().unwrap();
    let mine = providers.identify_key(&c, &secret(&value)).await.unwrap();
    let mine = mine.expect("a valid value is named");
    assert!(record.same_key_as(&mine), "{record:?} {mine:?}");
    let theirs = providers.identify_key(&c, &secret(&other)).await.unwrap();
    assert!(!record.same_key_as(&theirs.expect("named")));
    let forged = format!("{}xxxxxxxxxxxxAb12", &value[..5]);
    assert!(
        record.matches(&secret(&forged)),
        "the hint alone matches it"
    );
    assert_eq!(
        providers.identify_key(&c, &secret(&forged)).await.unwrap(),
        None
    );
    for kind in [Anthropic, Openai] {
        let c = admin_cfg(kind, &fake);
        fake.reset_hits();
        let e = providers
            .identify_key(&c, &secret(&value))
            .await
            .unwrap_err();
        assert!(matches!(e, ProviderError::Unsupported(_)), "{kind}: {e}");
        assert!(fake.uris().is_empty(), "{kind}: {:?}", fake.uris());
    }
}
