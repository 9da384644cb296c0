//! The provider clients against the fake's list, expiry, status and usage switches: lists that
//! lag behind creates or hide a key once, pages shorter than asked, keys past their expiry,
//! Anthropic keys archived or expired, disabled OpenRouter keys, and a late `last_used_at`.

use std::time::Duration;

use vault_plugin_secrets_ai_keys::providers::{KeyUsage, ProviderType, Providers};
use vault_plugin_secrets_ai_keys::rotation::TestOutcome;

use super::super::{key_for, secret};
use super::{admin_cfg, start, PROJECT};
use crate::support::fake_provider::{FakeProvider, Lag, Switches};

use ProviderType::*;

/// List lag: a created key is missing from the first lists (by count, or for a while), and a
/// key hidden from exactly one list answer is missing from that one only.
#[tokio::test]
async fn lists_that_lag_behind_creates() {
    for kind in [Openai, Openrouter] {
        let fake = start(Switches {
            list_lag: Lag::Calls(2),
            ..Switches::default()
        })
        .await;
        let c = admin_cfg(kind, &fake);
        let providers = Providers::new();
        let made = providers.create_key(&c, "ai-keys-lag-1").await.unwrap();
        let mut seen = Vec::new();
        for _ in 0..3 {
            seen.push(
                providers
                    .find_key_by_name(&c, "ai-keys-lag-1")
                    .await
                    .unwrap(),
            );
        }
        let id = vec![made.provider_key_id.clone()];
        assert_eq!(seen, [vec![], vec![], id.clone()], "{kind}");

        fake.switch(|s| s.list_lag = Lag::Delay(Duration::from_millis(800)));
        let late = providers.create_key(&c, "ai-keys-lag-2").await.unwrap();
        let early = providers.find_key_by_name(&c, "ai-keys-lag-2").await;
        assert_eq!(early.unwrap(), Vec::<String>::new(), "{kind}");
        tokio::time::sleep(Duration::from_millis(900)).await;
        let found = providers.find_key_by_name(&c, "ai-keys-lag-2").await;
        assert_eq!(found.unwrap(), [late.provider_key_id], "{kind}");

        fake.switch(|s| {
            s.list_lag = Lag::None;
            s.hide_new_keys_once = true;
        });
        let hidden = providers.create_key(&c, "ai-keys-lag-3").await.unwrap();
        let first = providers.find_key_by_name(&c, "ai-keys-lag-3").await;
        assert_eq!(
            first.unwrap(),
            Vec::<String>::new(),
            "{kind}: hidden from one answer"
        );
        let second = providers.find_key_by_name(&c, "ai-keys-lag-3").await;
        assert_eq!(second.unwrap(), [hidden.provider_key_id], "{kind}");
        // Keys made before stay listed.
        let old = providers.find_key_by_name(&c, "ai-keys-lag-1").await;
        assert_eq!(old.unwrap(), id, "{kind}");
    }
}

/// With the documented default page (OpenAI 20 unless `limit` says more), a name past the
/// first 20 keys is found; with pages cut short, by following `has_more` (OpenAI) or the offset
/// until an empty page (OpenRouter). Every page is read, wherever the name is (a name may hold
/// more than one key).
#[tokio::test]
async fn lookups_by_name_page_through_every_key() {
    for kind in [Openai, Openrouter] {
        let fake = FakeProvider::start().await;
        let c = admin_cfg(kind, &fake);
        let providers = Providers::new();
        for n in 0..25 {
            providers
                .create_key(&c, &format!("ai-keys-page-{n}"))
                .await
                .unwrap();
        }
        let (first_made, last_made, list) = if kind == Openai {
            (
                "ai-keys-page-0",
                "ai-keys-page-24",
                "/v1/organization/projects/proj_strict1/api_keys",
            )
        } else {
            ("ai-keys-page-24", "ai-keys-page-0", "/api/v1/keys")
        };
        fake.reset_hits();
        let found = providers.find_key_by_name(&c, last_made).await.unwrap();
        assert_eq!(found.len(), 1, "{kind}");
        // OpenRouter names no page size: only an empty page says the list is over.
        let pages = if kind == Openai { 1 } else { 2 };
        assert_eq!(fake.hits(list), pages, "{kind}: one page of up to 100");
        fake.switch(|s| s.page_cap = Some(7));
        fake.reset_hits();
        let found = providers.find_key_by_name(&c, last_made).await.unwrap();
        assert_eq!(found.len(), 1, "{kind}: on the fourth page of 7");
        assert_eq!(fake.hits(list), pages + 3, "{kind}");
        fake.reset_hits();
        let found = providers.find_key_by_name(&c, first_made).await.unwrap();
        assert_eq!(found.len(), 1, "{kind}");
        assert_eq!(
            fake.hits(list),
            pages + 3,
            "{kind}: every page, though it is on the first"
        );
        let none = providers.find_key_by_name(&c, "ai-keys-page-99").await;
        assert_eq!(none.unwrap(), Vec::<String>::new(), "{kind}");
    }
}

/// A key whose `expires_at` has passed fails its test at every provider that has expiry, and
/// Anthropic shows it `expired`.
#[tokio::test]
async fn expired_keys_fail_their_test() {
    let fake = FakeProvider::start().await;
    let providers = Providers::new();
    let past = chrono::Utc::now().timestamp() - 1;
    for kind in [Openai, Anthropic, Openrouter] {
        let c = admin_cfg(kind, &fake);
        let value = key_for(kind, "Exp1");
        let id = format!("{}_exp1", kind.as_str());
        match kind {
            Openai => fake.add_openai_key(PROJECT, &id, &value),
            Anthropic => fake.add_anthropic_key(&id, &value),
            _ => fake.add_openrouter_key(&id, &value),
        }
        let before = providers.test_key(&c, &secret(&value)).await;
        assert_eq!(before.outcome, TestOutcome::Passed, "{kind}");
        fake.set_key_expires_at(&id, Some(past));
        let after = providers.test_key(&c, &secret(&value)).await;
        assert_eq!(after.outcome, TestOutcome::BadKey, "{kind}: {after:?}");
        let record = providers.lookup_key(&c, &id).await.unwrap().unwrap();
        assert_eq!(
            record.expires_at.map(|t| t.timestamp()),
            Some(past),
            "{kind}"
        );
        if kind == Anthropic {
            assert_eq!(record.status.as_deref(), Some("expired"));
        }
    }
}

/// Revoking an Anthropic key that is already `archived` or `expired`, whose status Anthropic
/// refuses to change, is done: the key cannot be used.
#[tokio::test]
async fn revoking_an_archived_or_expired_anthropic_key_is_done() {
    let fake = FakeProvider::start().await;
    let c = admin_cfg(Anthropic, &fake);
    let providers = Providers::new();
    let archived = "apikey_01Archived00000000000";
    fake.add_anthropic_key(archived, "sk-ant-api03-Arch1vedabcdefghijkl");
    fake.set_anthropic_status(archived, "archived");
    let expired = "apikey_01Expired000000000000";
    let past = chrono::Utc::now().timestamp() - 1;
    fake.add_anthropic_key_expiring(expired, "sk-ant-api03-Exp1redabcdefghijkl", past);
    for (id, status) in [(archived, "archived"), (expired, "expired")] {
        providers.revoke_key(&c, id).await.unwrap();
        assert_eq!(fake.mutation_requests(id), 1, "{id}: asked once");
        assert_eq!(fake.anthropic_key_status(id).as_deref(), Some(status));
    }
}

/// OpenRouter leaves disabled keys out of its list unless asked: the lookup by name asks, and
/// a disabled key fails its test.
#[tokio::test]
async fn disabled_openrouter_keys_are_found_and_fail_their_test() {
    let fake = FakeProvider::start().await;
    let c = admin_cfg(Openrouter, &fake);
    let providers = Providers::new();
    let made = providers.create_key(&c, "ai-keys-disabled").await.unwrap();
    fake.set_openrouter_disabled(&made.provider_key_id, true);
    let found = providers.find_key_by_name(&c, "ai-keys-disabled").await;
    assert_eq!(found.unwrap(), std::slice::from_ref(&made.provider_key_id));
    let test = providers.test_key(&c, &made.value).await;
    assert_eq!(test.outcome, TestOutcome::BadKey, "{test:?}");
    let record = providers.lookup_key(&c, &made.provider_key_id).await;
    assert_eq!(record.unwrap().unwrap().status.as_deref(), Some("disabled"));
}

/// With a lagging `last_used_at`, a use shows only once the lag has passed.
#[tokio::test]
async fn last_use_reported_late() {
    let fake = start(Switches {
        last_used_lag: Some(Duration::from_millis(1500)),
        ..Switches::default()
    })
    .await;
    let c = admin_cfg(Openai, &fake);
    let providers = Providers::new();
    let value = key_for(Openai, "Lag1");
    fake.add_openai_key(PROJECT, "key_lag1", &value);
    let used_from = chrono::Utc::now().timestamp();
    assert_eq!(
        providers.test_key(&c, &secret(&value)).await.outcome,
        TestOutcome::Passed
    );
    let early = providers.last_used(&c, "key_lag1").await.unwrap();
    assert_eq!(early, KeyUsage::LastUsed(None), "not reported yet");
    tokio::time::sleep(Duration::from_millis(1600)).await;
    match providers.last_used(&c, "key_lag1").await.unwrap() {
        KeyUsage::LastUsed(Some(t)) => assert!(t.timestamp() >= used_from),
        other => panic!("{other:?}"),
    }
}
