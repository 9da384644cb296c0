//! Moving a live key's provider-side expiry ([`Providers::update_expiry`]): the client half of
//! provider-enforced grace ends, for the types whose API can change an existing key's expiry
//! ([`super::Features::update_expiry`]: OpenAI today).

use chrono::{DateTime, Utc};

use super::registry::provider;
use super::{config, ProviderConfig, ProviderError, Providers};

impl Providers {
    /// Moves the provider-side expiry of the key the provider knows as `provider_key_id` to
    /// `at` (OpenAI: "Update project API key" with `expires_in_seconds` counted from now, cut to
    /// the type's longest lifetime); returns the expiry the provider then reports, else `at`.
    /// A time not in the future, or a type that cannot change a key's expiry
    /// ([`super::Features::update_expiry`]), is [`ProviderError::Unsupported`]; the provider's policy
    /// refusing the lifetime is [`ProviderError::ExpiryPolicy`]; a key it does not have (or no
    /// longer: an expired key cannot be updated) is [`ProviderError::Rejected`].
    pub async fn update_expiry(
        &self,
        cfg: &ProviderConfig,
        provider_key_id: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, ProviderError> {
        cfg.validate().map_err(ProviderError::Unsupported)?;
        let p = provider(cfg.kind);
        let features = p.features();
        if !features.update_expiry {
            return Err(ProviderError::Unsupported(format!(
                "provider type {} cannot change a key's expiry through its API",
                cfg.kind
            )));
        }
        let call = self.admin_call(cfg, cfg.capabilities().revoke, config::why_cannot_revoke)?;
        config::check_provider_key_id(provider_key_id).map_err(ProviderError::Unsupported)?;
        let id = provider_key_id;
        // Rounded up, so the key never dies before `at`.
        let millis = (at - Utc::now()).num_milliseconds();
        if millis <= 0 {
            return Err(ProviderError::Unsupported(format!(
                "the expiry asked for ({at}) is not in the future"
            )));
        }
        let secs = (millis + 999) / 1000;
        let secs = features.max_expiry_secs.map_or(secs, |max| secs.min(max));
        let result = p.update_expiry(&call, id, secs).await;
        let result = result.map_err(|e| e.redacted(&[call.admin]));
        match &result {
            Ok(reported) => tracing::info!(
                provider = cfg.kind.as_str(),
                provider_key_id = id,
                expires_at = ?reported,
                "changed key expiry at provider"
            ),
            Err(e) => {
                tracing::warn!(provider = cfg.kind.as_str(), provider_key_id = id, error = %e, "changing key expiry failed")
            }
        }
        result.map(|reported| reported.or(Some(at)))
    }
}
