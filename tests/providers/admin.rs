//! `create_key` and `revoke_key` against the fake's admin APIs.

use std::time::Instant;

use vault_plugin_secrets_ai_keys::providers::{
    ProviderConfig, ProviderError, ProviderType, Providers,
};
use vault_plugin_secrets_ai_keys::rotation::TestOutcome;

use super::{cfg, secret};
use crate::support::fake_provider::{FakeProvider, Mode, Switches};

use ProviderType::*;

const ADMIN: &str = "sk-admin-Zq8vQ3xT5mKp2LrW9nYb";

fn admin_cfg(kind: ProviderType, fake: &FakeProvider) -> ProviderConfig {
    fake.add_admin_key(ADMIN);
    let mut c = cfg(kind, fake);
    c.admin_key = Some(secret(ADMIN));
    if kind == Openai {
        c.project_id = Some("proj_abc123".to_string());
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

/// Create, use, revoke, and revoke again (already gone) for a provider that creates keys.
async fn round_trip(kind: ProviderType, value_prefix: &str) {
    let fake = FakeProvider::start().await;
    let c = admin_cfg(kind, &fake);
    let providers = Providers::new();

    let created = providers.create_key(&c, "ai-keys/app/v2").await.unwrap();
    let value = created.value.expose().to_string();
    assert!(value.starts_with(value_prefix), "{kind}: {value_prefix}...");
    assert!(
        !format!("{created:?}").contains(&value),
        "Debug shows the value"
    );
    let id = created.provider_key_id.clone();
    assert!(fake.is_active(&id));
    assert_eq!(fake.created_keys(), vec![(id.clone(), value.clone(), true)]);
    let before = providers.test_key(&c, &created.value).await;
    assert_eq!(before.outcome, TestOutcome::Passed, "{before:?}");

    providers.revoke_key(&c, &id).await.unwrap();
    assert!(!fake.is_active(&id), "{kind}: still active after revoke");
    let after = providers.test_key(&c, &created.value).await;
    assert_eq!(after.outcome, TestOutcome::BadKey, "{after:?}");
    // Revoking what the provider no longer knows is success (idempotent).
    providers.revoke_key(&c, &id).await.unwrap();

    // Every key is new and random.
    let second = providers.create_key(&c, "ai-keys/app/v3").await.unwrap();
    assert_ne!(second.value.expose(), value);
    assert_ne!(second.provider_key_id, id);
}

/// Crash recovery finds a created key by the name it was created under, across list pages
/// (pages of 2 here, shorter than asked, which both APIs allow).
async fn find_by_name(kind: ProviderType) {
    let fake = FakeProvider::start_with(Switches {
        page_cap: Some(2),
        ..Switches::default()
    })
    .await;
    let c = admin_cfg(kind, &fake);
    let providers = Providers::new();
    let mut ids = Vec::new();
    for n in 0..5 {
        let created = providers
            .create_key(&c, &format!("ai-keys-app-{n}"))
            .await
            .unwrap();
        ids.push(created.provider_key_id);
    }
    for (n, id) in ids.iter().enumerate() {
        let found = providers
            .find_key_by_name(&c, &format!("ai-keys-app-{n}"))
            .await
            .unwrap();
        assert_eq!(found, std::slice::from_ref(id), "{kind} #{n}");
    }
    assert_eq!(
        providers
            .find_key_by_name(&c, "ai-keys-other")
            .await
            .unwrap(),
        Vec::<String>::new()
    );
    providers.revoke_key(&c, &ids[4]).await.unwrap();
    assert_eq!(
        providers
            .find_key_by_name(&c, "ai-keys-app-4")
            .await
            .unwrap(),
        Vec::<String>::new()
    );
    // Pages of 2 over the 4 keys left: the last page's key needs 2 list calls (OpenAI lists
    // oldest first, OpenRouter newest first).
    fake.reset_hits();
    let (last, list) = if kind == Openai {
        (
            "ai-keys-app-3",
            "/v1/organization/projects/proj_abc123/api_keys",
        )
    } else {
        ("ai-keys-app-0", "/api/v1/keys")
    };
    let found = providers.find_key_by_name(&c, last).await.unwrap();
    assert_eq!(found.len(), 1, "{kind}: {last} not found");
    // OpenRouter's list is over only at an empty page.
    assert_eq!(fake.hits(list), if kind == Openai { 2 } else { 3 });

    // Two keys under one name, among names that share its prefix: both, and only them.
    let mut twins = Vec::new();
    for name in [
        "ai-keys-twin",
        "ai-keys-twin-1",
        "ai-keys-twin",
        "ai-keys-twi",
    ] {
        let created = providers.create_key(&c, name).await.unwrap();
        if name == "ai-keys-twin" {
            twins.push(created.provider_key_id);
        }
    }
    let mut found = providers
        .find_key_by_name(&c, "ai-keys-twin")
        .await
        .unwrap();
    found.sort();
    twins.sort();
    assert_eq!(
        found, twins,
        "{kind}: every key under the name, on any page"
    );
}

#[tokio::test]
async fn openai_find_key_by_name() {
    find_by_name(Openai).await;
}

#[tokio::test]
async fn openrouter_find_key_by_name() {
    find_by_name(Openrouter).await;
}

#[tokio::test]
async fn find_key_by_name_elsewhere() {
    let fake = FakeProvider::start().await;
    let providers = Providers::new();
    let found = providers
        .find_key_by_name(&admin_cfg(Anthropic, &fake), "x")
        .await;
    assert_eq!(
        found.unwrap(),
        Vec::<String>::new(),
        "nothing is created at Anthropic"
    );
    let e = providers
        .find_key_by_name(&cfg(Openrouter, &fake), "x")
        .await
        .unwrap_err();
    assert!(matches!(e, ProviderError::Unsupported(_)), "{e}");
    let mut wrong = admin_cfg(Openai, &fake);
    wrong.admin_key = Some(secret("sk-admin-wrong-0000000000"));
    let e = providers.find_key_by_name(&wrong, "x").await.unwrap_err();
    assert!(
        matches!(e, ProviderError::Rejected { status: 401, .. }),
        "{e}"
    );
}

#[tokio::test]
async fn openai_create_and_revoke_round_trip() {
    round_trip(Openai, "sk-svcacct-").await;
}

#[tokio::test]
async fn openrouter_create_and_revoke_round_trip() {
    round_trip(Openrouter, "sk-or-v1-").await;
}

#[tokio::test]
async fn anthropic_revoke_sets_the_key_inactive() {
    let fake = FakeProvider::start().await;
    let c = admin_cfg(Anthropic, &fake);
    let (id, value) = (
        "apikey_01Rj2N8SVvo6BePZj99NhmiT",
        "sk-ant-api03-R2D2C3POabcdefghijkl",
    );
    fake.add_anthropic_key(id, value);
    let providers = Providers::new();
    assert_eq!(
        providers.test_key(&c, &secret(value)).await.outcome,
        TestOutcome::Passed
    );

    providers.revoke_key(&c, id).await.unwrap();
    assert_eq!(fake.anthropic_key_status(id).as_deref(), Some("inactive"));
    assert_eq!(
        providers.test_key(&c, &secret(value)).await.outcome,
        TestOutcome::BadKey
    );
    providers.revoke_key(&c, "apikey_01Unknown").await.unwrap();
}

#[tokio::test]
async fn admin_failures_map_to_errors() {
    let fake = FakeProvider::start().await;
    let providers = Providers::new();
    let mut wrong = admin_cfg(Openrouter, &fake);
    wrong.admin_key = Some(secret("sk-or-v1-not-a-management-key-0000"));
    let e = providers.create_key(&wrong, "x").await.unwrap_err();
    assert!(
        matches!(e, ProviderError::Rejected { status: 401, .. }),
        "{e}"
    );
    assert!(!e.to_string().contains("not-a-management-key"), "{e}");

    // Revoke is idempotent: transient answers are retried.
    let c = admin_cfg(Openrouter, &fake);
    fake.set_admin_mode(Mode::RateLimited429);
    let e = providers.revoke_key(&c, "0a1b2c").await.unwrap_err();
    assert!(
        matches!(
            e,
            ProviderError::Unavailable {
                status: Some(429),
                ..
            }
        ) && e.is_transient()
    );
    assert_eq!(fake.hits("/api/v1/keys/"), 3);

    // A create is retried after a 429 (nothing was made) but not after a 500 or a timeout,
    // which may have created a key already.
    fake.reset_hits();
    let e = providers.create_key(&c, "x").await.unwrap_err();
    assert!(
        matches!(
            e,
            ProviderError::Unavailable {
                status: Some(429),
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(fake.hits("/api/v1/keys"), 3);
    fake.reset_hits();
    fake.set_admin_mode(Mode::ServerError500);
    let e = providers.create_key(&c, "x").await.unwrap_err();
    assert!(
        matches!(
            e,
            ProviderError::Unavailable {
                status: Some(500),
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(fake.hits("/api/v1/keys"), 1);
    fake.reset_hits();
    fake.set_admin_mode(Mode::Stall);
    let mut quick = c.clone();
    quick.timeout_secs = 1;
    let started = Instant::now();
    let e = providers.create_key(&quick, "x").await.unwrap_err();
    assert!(
        matches!(e, ProviderError::Unavailable { status: None, .. }),
        "{e}"
    );
    assert!(e.to_string().contains("did not answer within 1s"), "{e}");
    // One request, given up on after its timeout: no retry (the time it takes is a figure of
    // scripts/bench.sh, not an assertion).
    assert_eq!(fake.hits("/api/v1/keys"), 1);
    eprintln!("a stalled create gave up after {:?}", started.elapsed());
    fake.set_admin_mode(Mode::Normal);

    // A hostile answer echoing the admin key does not carry it into the error.
    fake.set_admin_mode(Mode::EchoKey);
    let e = providers.revoke_key(&c, "0a1b2c").await.unwrap_err();
    assert!(
        matches!(e, ProviderError::Rejected { status: 401, .. }),
        "{e}"
    );
    assert_no_admin_key(&e);
    let anth = admin_cfg(Anthropic, &fake);
    assert_no_admin_key(&providers.revoke_key(&anth, "apikey_01").await.unwrap_err());
    fake.set_admin_mode(Mode::Normal);

    // A 404 not answered by the provider's API is not "already revoked".
    let mut elsewhere = c.clone();
    elsewhere.base_url = Some(format!("{}/wrong-prefix", fake.base_url()));
    let e = providers
        .revoke_key(&elsewhere, "0a1b2c")
        .await
        .unwrap_err();
    assert!(
        matches!(e, ProviderError::Rejected { status: 404, .. }),
        "{e}"
    );
}

#[tokio::test]
async fn unsupported_operations_send_nothing() {
    let fake = FakeProvider::start().await;
    let providers = Providers::new();
    for kind in [Anthropic, Gemini, AzureOpenai, OpenaiCompatible] {
        let mut c = admin_cfg(kind, &fake);
        c.api_version = None;
        let e = providers.create_key(&c, "x").await.unwrap_err();
        assert!(matches!(e, ProviderError::Unsupported(_)), "{kind}: {e}");
    }
    for kind in [Gemini, AzureOpenai, OpenaiCompatible] {
        let e = providers
            .revoke_key(&admin_cfg(kind, &fake), "id1")
            .await
            .unwrap_err();
        assert!(matches!(e, ProviderError::Unsupported(_)), "{kind}: {e}");
    }
    let mut no_project = admin_cfg(Openai, &fake);
    no_project.project_id = None;
    let e = providers.create_key(&no_project, "x").await.unwrap_err();
    assert!(e.to_string().contains("project_id"), "{e}");
    let no_admin = cfg(Openrouter, &fake);
    let e = providers.create_key(&no_admin, "x").await.unwrap_err();
    assert!(e.to_string().contains("admin_key"), "{e}");
    for bad_id in ["../../v1/organization", "a/b", "", "..", "key 1"] {
        let e = providers
            .revoke_key(&admin_cfg(Openai, &fake), bad_id)
            .await
            .unwrap_err();
        assert!(
            matches!(e, ProviderError::Unsupported(_)),
            "{bad_id:?}: {e}"
        );
    }
    assert_eq!(fake.hits("/"), 0);
}
