//! AI providers: testing a key, and creating, looking up and revoking keys where the provider's
//! API allows.
//!
//! One file per provider type (`openai.rs`, `anthropic.rs`, `gemini.rs`, `azure_openai.rs`,
//! `openrouter.rs`, `openai_compatible.rs`), each holding its request shapes, the pure
//! classification of its answers and its implementation of the one provider interface
//! (`provider.rs`), found through the registry (`registry.rs`, the only `match` on
//! [`ProviderType`]). [`Providers`] is what the engine calls: it checks the configuration, logs,
//! redacts, and sends every call through the one shared HTTP client in `http.rs`, which owns
//! timeouts and the retry policy (no retries on answers about the key; at most two more
//! attempts, with jittered back-off, on rate limits, 5xx, timeouts and connection errors).
//!
//! [`Providers`]' calls are split by what they do: testing a key (here), a key's creation and
//! revocation (`lifecycle.rs`), reading what a provider holds (`lookups.rs`), expiry updates,
//! federation and accounts (their own files).
//!
//! Key material never leaves this module except in the request header that authenticates a call
//! and in [`CreatedKey::value`]: details, errors and logs carry the provider type, HTTP status,
//! the provider's error type or code (never a response body) and key fingerprints only.

mod accounts;
mod anthropic;
mod azure_openai;
mod classify;
mod config;
mod destination;
mod engine_keys;
mod error;
mod expiry_update;
mod federation;
mod gemini;
mod http;
mod lifecycle;
mod lookups;
mod openai;
mod openai_accounts;
mod openai_compatible;
mod openrouter;
mod ownership;
mod provider;
mod registry;
mod usage;

#[cfg(test)]
mod tests;

use std::fmt;

use chrono::{DateTime, Utc};

use crate::key_test::TestResult;
use crate::secret::SecretValue;

pub use accounts::AccountState;
pub use config::{
    Capabilities, EngineAccount, ProviderConfig, DEFAULT_AZURE_API_VERSION, DEFAULT_TIMEOUT_SECS,
    DEFAULT_VERIFY_PATH, MAX_API_VERSION_LEN, MAX_KEY_LIFETIME_SECS, MAX_PROJECT_ID_LEN,
    MAX_TIMEOUT_SECS, MAX_VERIFY_PATH_LEN,
};
pub(crate) use destination::check_named as check_destination;
pub use error::ProviderError;
pub use federation::{
    required_ids as federation_required_ids, token_url as federation_token_url, AccessToken,
    FederationIds, FEDERATION_ID_FIELDS,
};
pub use ownership::{hint_matches, KeyRecord, MIN_HINT_CHARS, MIN_HINT_SUFFIX};
pub use provider::{CreateRequest, Features, Settings};
pub use registry::ProviderType;
pub use usage::KeyUsage;

use classify::Verdict;
use http::{Exchange, HttpClient, Step};
use provider::AdminCall;
use registry::provider;

/// A key the engine had a provider create. `Debug` redacts the value.
#[derive(Clone, Debug)]
pub struct CreatedKey {
    /// The key itself, as the provider returned it (once).
    pub value: SecretValue,
    /// The provider's id for the key (OpenAI project API key id, OpenRouter hash), which
    /// [`Providers::revoke_key`] takes. Not secret.
    pub provider_key_id: String,
    /// When the key expires at the provider: the provider's answer, else the lifetime asked
    /// for; `None` when the key does not expire there.
    pub expires_at: Option<DateTime<Utc>>,
}

/// The shared provider client: one connection pool for the whole process (rustls with
/// aws-lc-rs, no redirects), with the per-call timeout taken from each [`ProviderConfig`].
#[derive(Clone)]
pub struct Providers {
    client: reqwest::Client,
}

impl fmt::Debug for Providers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Providers")
    }
}

impl Default for Providers {
    fn default() -> Self {
        Self::new()
    }
}

impl Providers {
    /// Builds the shared client.
    ///
    /// # Panics
    /// If the TLS backend cannot be initialised (no usable crypto provider), which is a build
    /// or platform defect rather than a runtime condition; [`Providers::try_new`] reports it.
    #[allow(
        clippy::expect_used,
        reason = "documented panic (a build or platform defect); try_new reports it instead"
    )]
    pub fn new() -> Providers {
        Self::try_new().expect("building the provider HTTP client")
    }

    /// Builds the shared client, reporting a TLS initialisation failure as an error.
    pub fn try_new() -> Result<Providers, ProviderError> {
        Ok(Providers {
            client: http::build_client()?,
        })
    }

    /// Tests `key` against the provider with its cheapest authenticated call and classifies the
    /// answer (`passed`, `bad_key`, `unfunded` or `provider_unavailable`; never `skipped`).
    ///
    /// Rate limits, 5xx, timeouts and connection errors are retried (at most 2 more attempts);
    /// answers about the key are not. An invalid configuration or an unexpected status (a wrong
    /// `base_url`) gives `provider_unavailable`: a misconfiguration never marks a key bad. The
    /// detail holds the status and the provider's error type or code, never key material.
    pub async fn test_key(&self, cfg: &ProviderConfig, key: &SecretValue) -> TestResult {
        let verdict = match cfg.validate() {
            Err(msg) => {
                Verdict::unavailable(None, format!("invalid provider configuration: {msg}"))
            }
            Ok(()) => self.probe(cfg, key).await,
        };
        let detail = classify::redact(&verdict.detail, &[key.expose()]);
        tracing::info!(
            provider = cfg.kind.as_str(),
            fingerprint = %key.fingerprint(),
            outcome = verdict.outcome.as_str(),
            status = verdict.status,
            "tested key at provider"
        );
        TestResult {
            outcome: verdict.outcome,
            status_code: verdict.status,
            detail,
            time: Utc::now(),
        }
    }

    async fn probe(&self, cfg: &ProviderConfig, key: &SecretValue) -> Verdict {
        let http = self.http(cfg);
        let base = cfg.effective_base_url().unwrap_or_default();
        let key = key.expose();
        let p = provider(cfg.kind);
        let classify = move |ex: Exchange| -> Step<Verdict> {
            let verdict = match ex {
                Ok(reply) => p.classify(&reply),
                Err(failure) => Verdict::from_failure(&failure),
            };
            Step::judged(verdict.transient, verdict)
        };
        let build = |c: &reqwest::Client| p.probe(c, cfg, &base, key);
        let (mut verdict, attempts) = http.exchange(build, classify).await;
        if attempts > 1 {
            verdict
                .detail
                .push_str(&format!(" (after {attempts} attempts)"));
        }
        verdict
    }

    fn http(&self, cfg: &ProviderConfig) -> HttpClient<'_> {
        HttpClient::new(&self.client, cfg.timeout())
    }

    /// What every admin call needs once the configuration `allowed` it (else the refusal
    /// `why` explains): the client with the configured timeout, the base URL and the admin key.
    fn admin_call<'a>(
        &'a self,
        cfg: &'a ProviderConfig,
        allowed: bool,
        why: fn(&ProviderConfig) -> String,
    ) -> Result<AdminCall<'a>, ProviderError> {
        if !allowed {
            return Err(ProviderError::Unsupported(why(cfg)));
        }
        Ok(AdminCall {
            http: self.http(cfg),
            base: cfg.effective_base_url().unwrap_or_default(),
            admin: admin_key(cfg)?,
            cfg,
        })
    }
}

fn admin_key(cfg: &ProviderConfig) -> Result<&str, ProviderError> {
    cfg.admin_key
        .as_ref()
        .map(SecretValue::expose)
        .ok_or_else(|| ProviderError::Unsupported("admin_key is not set".to_string()))
}
