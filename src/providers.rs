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

    /// Has the provider create a new key named `name` (OpenAI: a key of the engine's service
    /// account in `project_id`; OpenRouter: `POST /api/v1/keys`), without a provider-side expiry.
    pub async fn create_key(
        &self,
        cfg: &ProviderConfig,
        name: &str,
    ) -> Result<CreatedKey, ProviderError> {
        let req = CreateRequest {
            name,
            expires_in_secs: None,
            account: None,
        };
        self.create(cfg, &req).await
    }

    /// Has the provider create a new key as `req` says (its name, and the provider-side
    /// lifetime where the provider has one).
    ///
    /// A create is retried only where the provider certainly did nothing (429, 529, connection
    /// refused), never after a timeout or a 5xx (a 503 included: it may come after the key was
    /// made), so that a retry cannot leave a second, unrecorded key at the provider.
    pub async fn create(
        &self,
        cfg: &ProviderConfig,
        req: &CreateRequest<'_>,
    ) -> Result<CreatedKey, ProviderError> {
        cfg.validate().map_err(ProviderError::Unsupported)?;
        let call = self.admin_call(cfg, cfg.capabilities().create, config::why_cannot_create)?;
        let asked_at = Utc::now();
        let p = provider(cfg.kind);
        let req = &CreateRequest {
            expires_in_secs: req.expires_in_secs.filter(|_| p.features().expiry),
            ..*req
        };
        let mut result = p.create(&call, req).await;
        if let Ok(created) = &mut result {
            created.expires_at = created.expires_at.or_else(|| {
                let secs = req.expires_in_secs?;
                asked_at.checked_add_signed(chrono::TimeDelta::try_seconds(secs)?)
            });
        }
        let result = result.map_err(|e| e.redacted(&[call.admin]));
        match &result {
            Ok(created) => tracing::info!(
                provider = cfg.kind.as_str(),
                provider_key_id = %created.provider_key_id,
                fingerprint = %created.value.fingerprint(),
                expires_at = ?created.expires_at,
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
        let call = self.admin_call(cfg, cfg.capabilities().revoke, config::why_cannot_revoke)?;
        config::check_provider_key_id(provider_key_id).map_err(ProviderError::Unsupported)?;
        let id = provider_key_id;
        let result = provider(cfg.kind).revoke(&call, id).await;
        let result = result.map_err(|e| e.redacted(&[call.admin]));
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

    /// The ids of every key the provider holds under `name` (the name given to
    /// [`Providers::create_key`]), every list page read, for crash recovery: a create whose
    /// answer was lost is found and revoked. Empty when there is none (which a lagging list
    /// may also answer for a key just made: the caller decides when to believe it), or for a
    /// type that cannot create keys.
    pub async fn find_key_by_name(
        &self,
        cfg: &ProviderConfig,
        name: &str,
    ) -> Result<Vec<String>, ProviderError> {
        cfg.validate().map_err(ProviderError::Unsupported)?;
        if !cfg.kind.creates_keys() {
            return Ok(Vec::new());
        }
        let call = self.admin_call(cfg, cfg.capabilities().create, config::why_cannot_create)?;
        let result = provider(cfg.kind).find_by_name(&call, name).await;
        result.map_err(|e| e.redacted(&[call.admin]))
    }

    /// Every key the provider shows named with `prefix` (the engine's naming), as `(id, name)`,
    /// every list page read: OpenRouter's keys (disabled ones included), OpenAI's project API
    /// keys of the engine's service account (the configuration's recorded one) or of a service
    /// account named with `prefix` (the previous release's). For `reconcile`; empty for a type
    /// that cannot create keys.
    pub async fn list_engine_keys(
        &self,
        cfg: &ProviderConfig,
        prefix: &str,
    ) -> Result<Vec<(String, String)>, ProviderError> {
        cfg.validate().map_err(ProviderError::Unsupported)?;
        if !cfg.kind.creates_keys() {
            return Ok(Vec::new());
        }
        let call = self.admin_call(cfg, cfg.capabilities().create, config::why_cannot_create)?;
        let account = cfg.current_engine_account().and_then(|a| a.id.as_deref());
        let result = provider(cfg.kind).list_named(&call, prefix, account).await;
        result.map_err(|e| e.redacted(&[call.admin]))
    }

    /// The ids of every key the provider shows with ownership hint `hint` (OpenRouter: the
    /// `label` of `GET /api/v1/keys`, every page, disabled keys included), for a possession
    /// proof that compares hints: it proves an id only when no other key shows the same hint.
    pub async fn keys_with_hint(
        &self,
        cfg: &ProviderConfig,
        hint: &str,
    ) -> Result<Vec<String>, ProviderError> {
        cfg.validate().map_err(ProviderError::Unsupported)?;
        let call = self.admin_call(cfg, cfg.can_look_up(), config::why_cannot_look_up)?;
        let result = provider(cfg.kind).find_by_hint(&call, hint).await;
        result.map_err(|e| e.redacted(&[call.admin]))
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
        let call = self.admin_call(cfg, cfg.can_look_up(), config::why_cannot_look_up)?;
        config::check_provider_key_id(provider_key_id).map_err(ProviderError::Unsupported)?;
        let id = provider_key_id;
        let result = provider(cfg.kind).lookup(&call, id).await;
        let result = result.map_err(|e| e.redacted(&[call.admin]));
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

    /// The key `value` authenticates as, asked with the value itself as the credential (never
    /// the admin key): the type's possession proof, where it has one. `None` when the provider
    /// does not accept the value; [`ProviderError::Unsupported`] for types without such a call.
    /// Neither the value nor anything derived from it but its fingerprint is logged.
    pub async fn identify_key(
        &self,
        cfg: &ProviderConfig,
        value: &SecretValue,
    ) -> Result<Option<KeyRecord>, ProviderError> {
        cfg.validate().map_err(ProviderError::Unsupported)?;
        let base = cfg.effective_base_url().unwrap_or_default();
        let result = provider(cfg.kind)
            .identify(&self.http(cfg), &base, value.expose())
            .await
            .map_err(|e| e.redacted(&[value.expose()]));
        match &result {
            Ok(found) => {
                tracing::info!(provider = cfg.kind.as_str(), fingerprint = %value.fingerprint(), found = found.is_some(), "asked provider which key a value is")
            }
            Err(e) => {
                tracing::warn!(provider = cfg.kind.as_str(), fingerprint = %value.fingerprint(), error = %e, "asking provider which key a value is failed")
            }
        }
        result
    }

    /// What the provider says about the use of the key it knows as `provider_key_id` (OpenAI:
    /// `last_used_at` of `GET .../projects/{p}/api_keys/{id}`; OpenRouter: `usage` of
    /// `GET /api/v1/keys/{hash}`), for usage-aware revocation. A key the provider does not know
    /// is an error; types (or configurations) that cannot tell refuse with
    /// [`ProviderError::Unsupported`].
    pub async fn last_used(
        &self,
        cfg: &ProviderConfig,
        provider_key_id: &str,
    ) -> Result<KeyUsage, ProviderError> {
        cfg.validate().map_err(ProviderError::Unsupported)?;
        if !Self::reports_usage(cfg) {
            return Err(ProviderError::Unsupported(format!(
                "provider type {} does not report key use with this configuration",
                cfg.kind
            )));
        }
        let call = self.admin_call(cfg, cfg.can_look_up(), config::why_cannot_look_up)?;
        config::check_provider_key_id(provider_key_id).map_err(ProviderError::Unsupported)?;
        let result = provider(cfg.kind)
            .last_used(&call, provider_key_id)
            .await
            .map_err(|e| e.redacted(&[call.admin]));
        if let Ok(usage) = &result {
            tracing::info!(provider = cfg.kind.as_str(), provider_key_id, usage = ?usage, "asked provider about key use");
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
