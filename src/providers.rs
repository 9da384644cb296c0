//! AI providers: testing a key, and creating, looking up and revoking keys where the provider's
//! API allows.
//!
//! One file per provider type (`openai.rs`, `anthropic.rs`, `gemini.rs`, `azure_openai.rs`,
//! `openrouter.rs`, `openai_compatible.rs`), each holding its request shapes and the pure
//! classification of its answers. [`Providers`] is the registry: it matches on
//! [`ProviderType`] and sends every call through the one shared HTTP client in `http.rs`, which
//! owns timeouts and the retry policy (no retries on answers about the key; at most two more
//! attempts, with jittered back-off, on rate limits, 5xx, timeouts and connection errors).
//!
//! Key material never leaves this module except in the request header that authenticates a call
//! and in [`CreatedKey::value`]: details, errors and logs carry the provider type, HTTP status,
//! the provider's error type or code (never a response body) and key fingerprints only.

mod anthropic;
mod azure_openai;
mod classify;
mod config;
mod destination;
mod error;
mod gemini;
mod http;
mod openai;
mod openai_compatible;
mod openrouter;
mod ownership;
mod usage;

#[cfg(test)]
mod tests;

use std::fmt;

use chrono::Utc;
use serde::{Deserialize, Serialize};

use crate::key_test::TestResult;
use crate::secret::SecretValue;

pub use config::{
    Capabilities, ProviderConfig, DEFAULT_AZURE_API_VERSION, DEFAULT_TIMEOUT_SECS,
    DEFAULT_VERIFY_PATH,
};
pub use error::ProviderError;
pub use ownership::{hint_matches, KeyRecord, MIN_HINT_CHARS, MIN_HINT_SUFFIX};
pub use usage::KeyUsage;

use classify::Verdict;
use http::{Exchange, HttpClient, Step};

/// The kinds of provider the engine supports (api.md `providers/:name` `type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderType {
    /// OpenAI (`api.openai.com`): test, and create/revoke project service-account keys.
    Openai,
    /// Anthropic (`api.anthropic.com`): test, and deactivate keys a person created.
    Anthropic,
    /// Google Gemini API (`generativelanguage.googleapis.com`): test only.
    Gemini,
    /// Azure OpenAI (`RESOURCE.openai.azure.com`): test only.
    AzureOpenai,
    /// OpenRouter (`openrouter.ai`): test, and create/delete keys with a management key.
    Openrouter,
    /// Any server speaking the OpenAI API shape (vLLM, LiteLLM, Ollama, ...): test only.
    OpenaiCompatible,
}

impl ProviderType {
    /// Every provider type, in documentation order.
    pub const ALL: [ProviderType; 6] = [
        Self::Openai,
        Self::Anthropic,
        Self::Gemini,
        Self::AzureOpenai,
        Self::Openrouter,
        Self::OpenaiCompatible,
    ];

    /// Parses the API spelling (`openai`, `azure_openai`, ...); `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// The API spelling (`openai`, `anthropic`, `gemini`, `azure_openai`, `openrouter`,
    /// `openai_compatible`).
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Openai => "openai",
            Self::Anthropic => "anthropic",
            Self::Gemini => "gemini",
            Self::AzureOpenai => "azure_openai",
            Self::Openrouter => "openrouter",
            Self::OpenaiCompatible => "openai_compatible",
        }
    }

    /// The provider's public API origin, or `None` where `base_url` is required
    /// (`azure_openai`, `openai_compatible`).
    pub fn default_base_url(&self) -> Option<&'static str> {
        match self {
            Self::Openai => Some("https://api.openai.com"),
            Self::Anthropic => Some("https://api.anthropic.com"),
            Self::Gemini => Some("https://generativelanguage.googleapis.com"),
            Self::Openrouter => Some("https://openrouter.ai"),
            Self::AzureOpenai | Self::OpenaiCompatible => None,
        }
    }
}

impl fmt::Display for ProviderType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A key the engine had a provider create. `Debug` redacts the value.
#[derive(Clone, Debug)]
pub struct CreatedKey {
    /// The key itself, as the provider returned it (once).
    pub value: SecretValue,
    /// The provider's id for the key (OpenAI project API key id, OpenRouter hash), which
    /// [`Providers::revoke_key`] takes. Not secret.
    pub provider_key_id: String,
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
        let kind = cfg.kind;
        let classify = move |ex: Exchange| -> Step<Verdict> {
            let verdict = match ex {
                Ok(reply) => match kind {
                    ProviderType::Openai => openai::classify_test(&reply),
                    ProviderType::Anthropic => anthropic::classify_test(&reply),
                    ProviderType::Gemini => gemini::classify_test(&reply),
                    ProviderType::AzureOpenai => azure_openai::classify_test(&reply),
                    ProviderType::Openrouter => openrouter::classify_test(&reply),
                    ProviderType::OpenaiCompatible => openai_compatible::classify_test(&reply),
                },
                Err(failure) => Verdict::from_failure(&failure),
            };
            Step::judged(verdict.transient, verdict)
        };
        let build = |c: &reqwest::Client| match kind {
            ProviderType::Openai => openai::probe(c, &base, key),
            ProviderType::Anthropic => anthropic::probe(c, &base, key),
            ProviderType::Gemini => gemini::probe(c, &base, key),
            ProviderType::AzureOpenai => {
                azure_openai::probe(c, &base, cfg.azure_api_version(), key)
            }
            ProviderType::Openrouter => openrouter::probe(c, &base, key),
            ProviderType::OpenaiCompatible => {
                openai_compatible::probe(c, &base, cfg.effective_verify_path(), key)
            }
        };
        let (mut verdict, attempts) = http.exchange(build, classify).await;
        if attempts > 1 {
            verdict
                .detail
                .push_str(&format!(" (after {attempts} attempts)"));
        }
        verdict
    }

    /// Has the provider create a new key named `name` (OpenAI: a service account in
    /// `project_id` with its API key; OpenRouter: `POST /api/v1/keys`).
    ///
    /// A create is retried only where the provider certainly did nothing (429, 503, 529,
    /// connection refused), never after a timeout or a 500, so that a retry cannot leave a
    /// second, unrecorded key at the provider.
    pub async fn create_key(
        &self,
        cfg: &ProviderConfig,
        name: &str,
    ) -> Result<CreatedKey, ProviderError> {
        cfg.validate().map_err(ProviderError::Unsupported)?;
        let (http, base, admin) =
            self.admin_call(cfg, cfg.capabilities().create, config::why_cannot_create)?;
        let result = match cfg.kind {
            ProviderType::Openai => openai::create(&http, &base, admin, project(cfg), name).await,
            ProviderType::Openrouter => openrouter::create(&http, &base, admin, name).await,
            _ => Err(ProviderError::Unsupported(config::why_cannot_create(cfg))),
        };
        let result = result.map_err(|e| e.redacted(&[admin]));
        match &result {
            Ok(created) => tracing::info!(
                provider = cfg.kind.as_str(),
                provider_key_id = %created.provider_key_id,
                fingerprint = %created.value.fingerprint(),
                "created key at provider"
            ),
            Err(e) => tracing::warn!(provider = cfg.kind.as_str(), error = %e, "create failed"),
        }
        result
    }

    /// Revokes (OpenAI: deletes the project API key; OpenRouter: deletes the key; Anthropic:
    /// sets the key `inactive`) the key the provider knows as `provider_key_id`. A 404 answered
    /// by the provider itself counts as already revoked (`Ok`).
    pub async fn revoke_key(
        &self,
        cfg: &ProviderConfig,
        provider_key_id: &str,
    ) -> Result<(), ProviderError> {
        cfg.validate().map_err(ProviderError::Unsupported)?;
        let (http, base, admin) =
            self.admin_call(cfg, cfg.capabilities().revoke, config::why_cannot_revoke)?;
        config::check_provider_key_id(provider_key_id).map_err(ProviderError::Unsupported)?;
        let id = provider_key_id;
        let result = match cfg.kind {
            ProviderType::Openai => openai::revoke(&http, &base, admin, project(cfg), id).await,
            ProviderType::Anthropic => anthropic::revoke(&http, &base, admin, id).await,
            ProviderType::Openrouter => openrouter::revoke(&http, &base, admin, id).await,
            _ => Err(ProviderError::Unsupported(config::why_cannot_revoke(cfg))),
        };
        let result = result.map_err(|e| e.redacted(&[admin]));
        match &result {
            Ok(()) => tracing::info!(
                provider = cfg.kind.as_str(),
                provider_key_id = id,
                "revoked"
            ),
            Err(e) => {
                tracing::warn!(provider = cfg.kind.as_str(), provider_key_id = id, error = %e, "revoke failed")
            }
        }
        result
    }

    /// The id of the key the provider created under `name` (the name given to
    /// [`Providers::create_key`]), for crash recovery: a create whose answer was lost is found
    /// and revoked. `Ok(None)` when there is none, or for a type that cannot create keys.
    pub async fn find_key_by_name(
        &self,
        cfg: &ProviderConfig,
        name: &str,
    ) -> Result<Option<String>, ProviderError> {
        cfg.validate().map_err(ProviderError::Unsupported)?;
        if !matches!(cfg.kind, ProviderType::Openai | ProviderType::Openrouter) {
            return Ok(None);
        }
        let (http, base, admin) =
            self.admin_call(cfg, cfg.capabilities().create, config::why_cannot_create)?;
        let result = match cfg.kind {
            ProviderType::Openai => {
                openai::find_by_name(&http, &base, admin, project(cfg), name).await
            }
            _ => openrouter::find_by_name(&http, &base, admin, name).await,
        };
        result.map_err(|e| e.redacted(&[admin]))
    }

    /// Looks up the key the provider knows as `provider_key_id` with the admin key, for its
    /// ownership hint (and `last_used_at` / expiry where the answer has them): OpenAI
    /// `GET .../projects/{p}/api_keys/{id}`, Anthropic `GET /v1/organizations/api_keys/{id}`,
    /// OpenRouter `GET /api/v1/keys/{hash}`. `Ok(None)` when the provider itself answers that
    /// there is no such key. Needs what revoking needs (the admin key, and OpenAI's
    /// `project_id`); other types cannot look keys up ([`ProviderError::Unsupported`]).
    pub async fn lookup_key(
        &self,
        cfg: &ProviderConfig,
        provider_key_id: &str,
    ) -> Result<Option<KeyRecord>, ProviderError> {
        cfg.validate().map_err(ProviderError::Unsupported)?;
        let (http, base, admin) =
            self.admin_call(cfg, cfg.capabilities().revoke, why_cannot_look_up)?;
        config::check_provider_key_id(provider_key_id).map_err(ProviderError::Unsupported)?;
        let id = provider_key_id;
        let result = match cfg.kind {
            ProviderType::Openai => openai::lookup(&http, &base, admin, project(cfg), id).await,
            ProviderType::Anthropic => anthropic::lookup(&http, &base, admin, id).await,
            ProviderType::Openrouter => openrouter::lookup(&http, &base, admin, id).await,
            _ => Err(ProviderError::Unsupported(why_cannot_look_up(cfg))),
        };
        let result = result.map_err(|e| e.redacted(&[admin]));
        match &result {
            Ok(found) => tracing::info!(
                provider = cfg.kind.as_str(),
                provider_key_id = id,
                found = found.is_some(),
                "looked up key at provider"
            ),
            Err(e) => {
                tracing::warn!(provider = cfg.kind.as_str(), provider_key_id = id, error = %e, "key lookup failed")
            }
        }
        result
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
    ) -> Result<(HttpClient<'a>, String, &'a str), ProviderError> {
        if !allowed {
            return Err(ProviderError::Unsupported(why(cfg)));
        }
        let base = cfg.effective_base_url().unwrap_or_default();
        Ok((self.http(cfg), base, admin_key(cfg)?))
    }
}

/// The OpenAI project keys are created in (validated: set whenever create is possible).
fn project(cfg: &ProviderConfig) -> &str {
    cfg.project_id.as_deref().unwrap_or_default()
}

/// Why a key cannot be looked up with this configuration (a 400 message).
fn why_cannot_look_up(cfg: &ProviderConfig) -> String {
    match cfg.kind {
        ProviderType::Openai => {
            "provider type openai looks keys up only with admin_key and project_id set".to_string()
        }
        ProviderType::Anthropic | ProviderType::Openrouter => format!(
            "provider type {} looks keys up only with admin_key set",
            cfg.kind
        ),
        other => format!("provider type {other} cannot look keys up through its API"),
    }
}

fn admin_key(cfg: &ProviderConfig) -> Result<&str, ProviderError> {
    cfg.admin_key
        .as_ref()
        .map(SecretValue::expose)
        .ok_or_else(|| ProviderError::Unsupported("admin_key is not set".to_string()))
}
