//! A key's life at its provider through [`Providers`]: creating one (under a name, with a
//! provider-side lifetime where the type has one) and revoking one, admin key redacted from
//! every error, each outcome logged with ids and fingerprints only.

use chrono::Utc;

use super::registry::provider;
use super::{config, CreateRequest, CreatedKey, ProviderConfig, ProviderError, Providers};

impl Providers {
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
}
