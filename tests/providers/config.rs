//! Provider types, settings validation, capabilities, and redaction.

use vault_plugin_secrets_ai_keys::providers::{
    Capabilities, CreatedKey, ProviderConfig, ProviderType,
};

use super::secret;

use ProviderType::*;

#[test]
fn provider_types_round_trip() {
    for kind in ProviderType::ALL {
        assert_eq!(ProviderType::parse(kind.as_str()), Some(kind));
        let json = serde_json::to_string(&kind).unwrap();
        assert_eq!(json, format!("\"{}\"", kind.as_str()));
    }
    assert_eq!(AzureOpenai.as_str(), "azure_openai");
    assert_eq!(OpenaiCompatible.as_str(), "openai_compatible");
    assert_eq!(ProviderType::parse("OpenAI"), None);
    assert_eq!(ProviderType::parse("mistral"), None);
    assert_eq!(Openai.default_base_url(), Some("https://api.openai.com"));
    assert_eq!(
        Anthropic.default_base_url(),
        Some("https://api.anthropic.com")
    );
    assert_eq!(
        Gemini.default_base_url(),
        Some("https://generativelanguage.googleapis.com")
    );
    assert_eq!(Openrouter.default_base_url(), Some("https://openrouter.ai"));
    assert_eq!(AzureOpenai.default_base_url(), None);
    assert_eq!(OpenaiCompatible.default_base_url(), None);
}

fn with(kind: ProviderType, f: impl FnOnce(&mut ProviderConfig)) -> ProviderConfig {
    let mut c = ProviderConfig::new(kind);
    f(&mut c);
    c
}

fn url(u: &str) -> impl FnOnce(&mut ProviderConfig) + '_ {
    move |c| c.base_url = Some(u.to_string())
}

#[test]
fn validation_table() {
    // (config, None = valid | Some(word the message must contain))
    let azure = "https://res.openai.azure.com";
    let cases: Vec<(ProviderConfig, Option<&str>)> = vec![
        (ProviderConfig::new(Openai), None),
        (ProviderConfig::new(Anthropic), None),
        (ProviderConfig::new(Gemini), None),
        (ProviderConfig::new(Openrouter), None),
        (
            ProviderConfig::new(AzureOpenai),
            Some("base_url is required"),
        ),
        (
            ProviderConfig::new(OpenaiCompatible),
            Some("base_url is required"),
        ),
        (with(AzureOpenai, url(azure)), None),
        (with(OpenaiCompatible, url("http://127.0.0.1:8000/")), None),
        (
            with(OpenaiCompatible, url("https://gw.internal/litellm")),
            None,
        ),
        (
            with(OpenaiCompatible, url("http://gw.internal/litellm")),
            Some("https"),
        ),
        (
            with(Openai, url("https://169.254.169.254")),
            Some("link-local"),
        ),
        (
            with(Openai, url("https://gateway.example.com/openai")),
            None,
        ),
        (with(Openai, url("ftp://api.openai.com")), Some("https")),
        (with(Openai, url("api.openai.com")), Some("base_url")),
        (with(Openai, url("https://")), Some("base_url")),
        (
            with(Openai, url("https://api.openai.com?key=x")),
            Some("query"),
        ),
        (
            with(Openai, url("https://api.openai.com/#frag")),
            Some("fragment"),
        ),
        (
            with(Openai, url("https://user:pw@api.openai.com")),
            Some("credentials"),
        ),
        (with(Openai, url("https://api.openai.com/v1")), Some("/v1")),
        (
            with(Openrouter, url("https://openrouter.ai/api/v1/")),
            Some("/v1"),
        ),
        (
            with(
                Gemini,
                url("https://generativelanguage.googleapis.com/v1beta"),
            ),
            Some("/v1beta"),
        ),
        (
            with(AzureOpenai, url("https://res.openai.azure.com/openai")),
            Some("/openai"),
        ),
        (with(Openai, |c| c.timeout_secs = 0), Some("timeout")),
        (with(Openai, |c| c.timeout_secs = 301), Some("timeout")),
        (with(Openai, |c| c.timeout_secs = 300), None),
        (with(Openai, |c| c.timeout_secs = 1), None),
        (
            with(Openai, |c| c.project_id = Some("proj_abc-1".into())),
            None,
        ),
        (
            with(Openai, |c| c.project_id = Some("proj/../x".into())),
            Some("project_id"),
        ),
        (
            with(Openai, |c| c.project_id = Some(String::new())),
            Some("project_id"),
        ),
        (
            with(AzureOpenai, |c| {
                c.base_url = Some(azure.into());
                c.api_version = Some("2025-04-01-preview".into())
            }),
            None,
        ),
        (
            with(AzureOpenai, |c| {
                c.base_url = Some(azure.into());
                c.api_version = Some("2024&x=1".into())
            }),
            Some("api_version"),
        ),
        (
            with(AzureOpenai, |c| {
                c.base_url = Some(azure.into());
                c.api_version = Some(String::new())
            }),
            Some("api_version"),
        ),
        (
            with(OpenaiCompatible, |c| {
                c.base_url = Some("https://h".into());
                c.verify_path = Some("/health".into())
            }),
            None,
        ),
        (
            with(OpenaiCompatible, |c| {
                c.base_url = Some("https://h".into());
                c.verify_path = Some("health".into())
            }),
            Some("verify_path"),
        ),
        (
            with(OpenaiCompatible, |c| {
                c.base_url = Some("https://h".into());
                c.verify_path = Some("/a?b".into())
            }),
            Some("verify_path"),
        ),
        (
            with(OpenaiCompatible, |c| {
                c.base_url = Some("https://h".into());
                c.verify_path = Some("/../x".into())
            }),
            Some("verify_path"),
        ),
        (
            with(Openai, |c| c.admin_key = Some(secret(""))),
            Some("admin_key"),
        ),
        (
            with(Openai, |c| c.admin_key = Some(secret("sk-admin\nx"))),
            Some("admin_key"),
        ),
    ];
    for (c, expect) in cases {
        let got = c.validate();
        match expect {
            None => assert_eq!(got, Ok(()), "{c:?}"),
            Some(word) => {
                let msg = got.expect_err(&format!("{c:?} should be invalid"));
                assert!(msg.contains(word), "{msg:?} should mention {word:?}");
            }
        }
    }
    // Messages never echo the admin key or a URL that may hold one.
    let c = with(Openai, |c| {
        c.base_url = Some("https://api.openai.com?key=sk-pasted-secret".into());
        c.admin_key = Some(secret("sk-admin-secret\t"));
    });
    let msg = c.validate().unwrap_err();
    assert!(
        !msg.contains("sk-pasted-secret") && !msg.contains("sk-admin-secret"),
        "{msg}"
    );
    let c = with(Openai, |c| c.admin_key = Some(secret("sk-admin-secret\t")));
    assert!(!c.validate().unwrap_err().contains("sk-admin-secret"));
}

#[test]
fn capabilities_table() {
    let caps = |test, create, revoke| Capabilities {
        test,
        create,
        revoke,
    };
    let admin = |c: &mut ProviderConfig| c.admin_key = Some(secret("sk-admin-1"));
    let project = |c: &mut ProviderConfig| c.project_id = Some("proj_1".into());
    let both = |c: &mut ProviderConfig| {
        admin(c);
        project(c);
    };
    let cases = [
        (with(Openai, |_| {}), caps(true, false, false)),
        (with(Openai, admin), caps(true, false, false)),
        (with(Openai, project), caps(true, false, false)),
        (with(Openai, both), caps(true, true, true)),
        (with(Anthropic, |_| {}), caps(true, false, false)),
        (with(Anthropic, both), caps(true, false, true)),
        (with(Gemini, both), caps(true, false, false)),
        (
            with(AzureOpenai, |c| {
                both(c);
                c.base_url = Some("https://r.openai.azure.com".into())
            }),
            caps(true, false, false),
        ),
        (with(AzureOpenai, |_| {}), caps(false, false, false)),
        (with(Openrouter, |_| {}), caps(true, false, false)),
        (with(Openrouter, admin), caps(true, true, true)),
        (
            with(OpenaiCompatible, |c| {
                admin(c);
                c.base_url = Some("https://h".into())
            }),
            caps(true, false, false),
        ),
    ];
    for (c, want) in cases {
        assert_eq!(
            c.capabilities(),
            want,
            "{:?} admin={} project={:?}",
            c.kind,
            c.admin_key.is_some(),
            c.project_id
        );
    }
    let c = with(Gemini, |c| {
        both(c);
        c.verify_path = Some("/x".into())
    });
    assert_eq!(
        c.unused_fields(),
        vec!["project_id", "verify_path", "admin_key"]
    );
}

#[test]
fn secrets_never_show_in_debug_and_round_trip_in_storage() {
    let c = with(Openai, |c| {
        c.admin_key = Some(secret("sk-admin-Zq8vQ3xT5mKp2LrW9nYb"));
        c.project_id = Some("proj_1".into());
    });
    let debug = format!("{c:?}");
    assert!(!debug.contains("Zq8vQ3xT5mKp2LrW9nYb"), "{debug}");
    assert!(debug.contains("proj_1"));
    let created = CreatedKey {
        value: secret("sk-svcacct-abcdef123456"),
        provider_key_id: "key_1".into(),
        expires_at: None,
    };
    let debug = format!("{created:?}");
    assert!(
        !debug.contains("abcdef123456") && debug.contains("key_1"),
        "{debug}"
    );

    // Storage keeps the admin key (Vault encrypts it); missing fields take their defaults.
    let stored = serde_json::to_value(&c).unwrap();
    assert_eq!(stored["kind"], "openai");
    let back: ProviderConfig = serde_json::from_value(stored).unwrap();
    assert_eq!(
        back.admin_key.unwrap().expose(),
        "sk-admin-Zq8vQ3xT5mKp2LrW9nYb"
    );
    let minimal: ProviderConfig =
        serde_json::from_str(r#"{"kind":"azure_openai","base_url":"https://r.openai.azure.com"}"#)
            .unwrap();
    assert_eq!(minimal.timeout_secs, 10);
    assert_eq!(minimal.azure_api_version(), "2024-10-21");
    assert_eq!(minimal.effective_verify_path(), "/v1/models");
    assert!(minimal.admin_key.is_none());
}
