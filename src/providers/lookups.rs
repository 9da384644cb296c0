//! What a provider holds, read through [`Providers`]: keys by name (crash recovery), the
//! engine's keys (`reconcile`), keys by ownership hint, one key by id, the key a value is, and
//! when a key was last used.

use super::registry::provider;
use super::{config, KeyRecord, KeyUsage, ProviderConfig, ProviderError, Providers};
use crate::secret::SecretValue;

impl Providers {
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
}
