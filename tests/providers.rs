//! The providers module against the fake provider: key tests, admin calls, configuration.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed unwrap or expect is a failed test"
)]
#![allow(
    unreachable_pub,
    reason = "test code: shared modules (tests/support, fuzz/targets.rs) are pub for each includer"
)]

#[path = "support/mod.rs"]
mod support;

#[path = "providers/admin.rs"]
mod admin;
#[path = "providers/config.rs"]
mod config;
#[path = "providers/engine_keys.rs"]
mod engine_keys;
#[path = "providers/expiry_update.rs"]
mod expiry_update;
#[path = "providers/lookup.rs"]
mod lookup;
#[path = "providers/reference.rs"]
mod reference;
#[path = "providers/strict.rs"]
mod strict;
#[path = "providers/test_key.rs"]
mod test_key;
#[path = "providers/usage.rs"]
mod usage;

use vault_plugin_secrets_ai_keys::providers::{ProviderConfig, ProviderType};
use vault_plugin_secrets_ai_keys::rotation::{SecretValue, TestResult};

use support::fake_provider::FakeProvider;

/// A configuration of `kind` pointing at `fake`, with a 5 s timeout.
fn cfg(kind: ProviderType, fake: &FakeProvider) -> ProviderConfig {
    let mut c = ProviderConfig::new(kind);
    c.base_url = Some(fake.base_url());
    c.timeout_secs = 5;
    c
}

fn secret(s: &str) -> SecretValue {
    SecretValue::new(s.to_string())
}

/// A realistic, unique key for `kind`.
fn key_for(kind: ProviderType, tag: &str) -> String {
    let prefix = match kind {
        ProviderType::Openai => "sk-proj-",
        ProviderType::Anthropic => "sk-ant-api03-",
        ProviderType::Gemini => "AIzaSy",
        ProviderType::AzureOpenai => "3f9c1e",
        ProviderType::Openrouter => "sk-or-v1-",
        ProviderType::OpenaiCompatible => "sk-local-",
    };
    format!("{prefix}{tag}T3BlbkFJ{}Xq9z", kind.as_str().len())
}

/// The probe path the engine uses for `kind` (to count hits).
fn probe_path(kind: ProviderType) -> &'static str {
    match kind {
        ProviderType::Openai | ProviderType::Anthropic | ProviderType::OpenaiCompatible => {
            "/v1/models"
        }
        ProviderType::Gemini => "/v1beta/models",
        ProviderType::AzureOpenai => "/openai/models",
        ProviderType::Openrouter => "/api/v1/key",
    }
}

/// No key material in a result's detail.
fn assert_no_key(result: &TestResult, key: &str) {
    assert!(
        !result.detail.contains(key),
        "detail leaks the key: {}",
        result.detail
    );
    let half = &key[..key.len() / 2];
    assert!(
        !result.detail.contains(half),
        "detail leaks part of the key: {}",
        result.detail
    );
}
