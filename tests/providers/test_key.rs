//! `Providers::test_key` for every provider type against the fake.

use std::time::{Duration, Instant};

use tokio::task::JoinSet;
use vault_plugin_secrets_ai_keys::providers::{ProviderType, Providers};
use vault_plugin_secrets_ai_keys::rotation::{TestOutcome, TestResult};

use super::{assert_no_key, cfg, key_for, probe_path, secret};
use crate::support::fake_provider::{FakeProvider, Mode};

use ProviderType::*;
use TestOutcome::*;

/// Tests a valid key of `kind` with the fake in `mode`; returns the result and the probe hits.
async fn run(kind: ProviderType, mode: Mode, timeout_secs: i64) -> (TestResult, usize) {
    let fake = FakeProvider::start().await;
    let key = key_for(kind, "good");
    fake.add_key(&key);
    fake.set_mode(mode);
    let mut c = cfg(kind, &fake);
    c.timeout_secs = timeout_secs;
    let result = Providers::new().test_key(&c, &secret(&key)).await;
    assert_no_key(&result, &key);
    assert!(
        fake.uris().iter().all(|u| !u.contains(&key)),
        "key in a URL"
    );
    (result, fake.hits(probe_path(kind)))
}

/// Runs `mode` for every type concurrently and checks each against `expect`.
async fn mode_table(mode: Mode, expect: fn(ProviderType) -> (TestOutcome, Option<u16>, usize)) {
    let mut set = JoinSet::new();
    for kind in ProviderType::ALL {
        set.spawn(async move { (kind, run(kind, mode, 5).await) });
    }
    while let Some(joined) = set.join_next().await {
        let (kind, (result, hits)) = joined.unwrap();
        let (outcome, status, want_hits) = expect(kind);
        assert_eq!(result.outcome, outcome, "{kind} {mode:?}: {result:?}");
        assert_eq!(result.status_code, status, "{kind} {mode:?}: {result:?}");
        assert_eq!(hits, want_hits, "{kind} {mode:?}: attempts");
        assert!(!result.detail.is_empty());
    }
}

#[tokio::test]
async fn a_good_key_passes_for_every_type() {
    mode_table(Mode::Normal, |_| (Passed, Some(200), 1)).await;
}

#[tokio::test]
async fn a_bad_key_is_bad_for_every_type_and_not_retried() {
    for kind in ProviderType::ALL {
        let fake = FakeProvider::start().await;
        fake.add_key(&key_for(kind, "good"));
        let wrong = key_for(kind, "wrong");
        let result = Providers::new()
            .test_key(&cfg(kind, &fake), &secret(&wrong))
            .await;
        let status = if kind == Gemini { 400 } else { 401 };
        assert_eq!(result.outcome, BadKey, "{kind}: {result:?}");
        assert_eq!(result.status_code, Some(status), "{kind}");
        assert_eq!(
            fake.hits(probe_path(kind)),
            1,
            "{kind}: a bad key is not retried"
        );
        assert_no_key(&result, &wrong);
        assert!((chrono::Utc::now() - result.time).num_seconds() < 5);
    }
}

#[tokio::test]
async fn unauthorized_is_bad_key() {
    mode_table(Mode::Unauthorized401, |_| (BadKey, Some(401), 1)).await;
}

#[tokio::test]
async fn billing_402_is_unfunded() {
    mode_table(Mode::Billing402, |_| (Unfunded, Some(402), 1)).await;
}

#[tokio::test]
async fn quota_429_is_unfunded_only_where_the_provider_says_quota() {
    // OpenAI-shaped `insufficient_quota` means "valid but unfunded" and is not retried; the
    // others' 429 is a plain rate limit.
    mode_table(Mode::QuotaExhausted429, |kind| match kind {
        Openai | OpenaiCompatible => (Unfunded, Some(429), 1),
        _ => (ProviderUnavailable, Some(429), 3),
    })
    .await;
}

#[tokio::test]
async fn rate_limit_429_is_unavailable_and_retried() {
    mode_table(Mode::RateLimited429, |_| {
        (ProviderUnavailable, Some(429), 3)
    })
    .await;
}

#[tokio::test]
async fn server_error_500_is_unavailable_and_retried() {
    mode_table(Mode::ServerError500, |_| {
        (ProviderUnavailable, Some(500), 3)
    })
    .await;
}

#[tokio::test]
async fn overloaded_is_unavailable_and_retried() {
    mode_table(Mode::Overloaded529, |kind| match kind {
        Anthropic => (ProviderUnavailable, Some(529), 3),
        _ => (ProviderUnavailable, Some(503), 3),
    })
    .await;
}

#[tokio::test]
async fn a_stalled_provider_is_unavailable_within_bounded_time() {
    let started = Instant::now();
    let (result, hits) = run(Openai, Mode::Stall, 1).await;
    let elapsed = started.elapsed();
    assert_eq!(result.outcome, ProviderUnavailable, "{result:?}");
    assert_eq!(result.status_code, None);
    assert!(
        result.detail.contains("did not answer within 1s"),
        "{}",
        result.detail
    );
    // The whole call gets one timeout: whoever waits behind it (a key's lock, the periodic
    // tick) waits at most that, so a stalled attempt leaves no time for another. Shown by what
    // happened (one request, given up on as "did not answer within 1s"), not by the clock: how
    // long it takes is a figure of scripts/bench.sh (rotate/ against a provider that never
    // answers).
    assert_eq!(hits, 1, "a timeout spends the call's budget");
    eprintln!("a stalled key test gave up after {elapsed:?}");
}

#[tokio::test]
async fn a_key_echoed_by_the_provider_never_reaches_the_detail() {
    let mut set = JoinSet::new();
    for kind in ProviderType::ALL {
        // `run` asserts that neither the key nor half of it is in the detail.
        set.spawn(async move { (kind, run(kind, Mode::EchoKey, 5).await) });
    }
    while let Some(joined) = set.join_next().await {
        let (kind, (result, _)) = joined.unwrap();
        assert_eq!(result.outcome, BadKey, "{kind}: {result:?}");
    }
}

#[tokio::test]
async fn openrouter_limit_remaining_decides_unfunded() {
    let fake = FakeProvider::start().await;
    let providers = Providers::new();
    let c = cfg(Openrouter, &fake);
    for (remaining, outcome) in [
        (None, Passed),
        (Some(12.5), Passed),
        (Some(0.0), Unfunded),
        (Some(-0.25), Unfunded),
    ] {
        let key = key_for(Openrouter, "limited");
        fake.add_key(&key);
        fake.set_limit_remaining(&key, remaining);
        let result = providers.test_key(&c, &secret(&key)).await;
        assert_eq!(result.outcome, outcome, "{remaining:?}: {result:?}");
        assert_eq!(result.status_code, Some(200));
        assert_no_key(&result, &key);
    }
}

#[tokio::test]
async fn a_wrong_base_url_never_marks_a_key_bad() {
    let fake = FakeProvider::start().await;
    let key = key_for(OpenaiCompatible, "good");
    fake.add_key(&key);
    let providers = Providers::new();

    let mut c = cfg(OpenaiCompatible, &fake);
    c.verify_path = Some("/v2/nothing-here".to_string());
    let result = providers.test_key(&c, &secret(&key)).await;
    assert_eq!(result.outcome, ProviderUnavailable, "{result:?}");
    assert_eq!(result.status_code, Some(404));
    assert_eq!(
        result.detail,
        "unexpected status 404 from provider (check base_url)"
    );
    assert_eq!(fake.hits("/v2/nothing-here"), 1, "a 404 is not retried");

    let mut c = cfg(Openai, &fake);
    c.base_url = Some(format!("{}/proxy", fake.base_url()));
    let result = providers.test_key(&c, &secret(&key)).await;
    assert_eq!(
        (result.outcome, result.status_code),
        (ProviderUnavailable, Some(404))
    );

    // Nothing listens there: connection refused, retried, unavailable.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let mut c = cfg(Openai, &fake);
    c.base_url = Some(format!("http://{closed}"));
    let result = providers.test_key(&c, &secret(&key)).await;
    assert_eq!(
        (result.outcome, result.status_code),
        (ProviderUnavailable, None),
        "{result:?}"
    );
    assert!(
        result.detail.contains("could not connect"),
        "{}",
        result.detail
    );

    // An invalid configuration is not the key's fault either, and sends nothing.
    let mut c = cfg(Openai, &fake);
    c.timeout_secs = 0;
    fake.reset_hits();
    let result = providers.test_key(&c, &secret(&key)).await;
    assert_eq!(
        (result.outcome, result.status_code),
        (ProviderUnavailable, None)
    );
    assert!(result.detail.contains("timeout"), "{}", result.detail);
    assert_eq!(fake.hits("/"), 0);
}

#[tokio::test]
async fn a_provider_recovering_between_attempts_passes() {
    let fake = FakeProvider::start().await;
    let key = key_for(Anthropic, "good");
    fake.add_key(&key);
    fake.set_mode(Mode::ServerError500);
    let c = cfg(Anthropic, &fake);
    let providers = Providers::new();
    let test = tokio::spawn(async move { providers.test_key(&c, &secret(&key)).await });
    while fake.hits("/v1/models") == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    fake.set_mode(Mode::Normal);
    let result = test.await.unwrap();
    assert_eq!(result.outcome, Passed, "{result:?}");
    assert!(
        result.detail.contains("after 2 attempts"),
        "{}",
        result.detail
    );
}
