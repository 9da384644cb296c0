//! What a provider says about a key's use without revealing it (providers.md "Usage, expiry and
//! ownership lookups"), for usage-aware revocation: OpenAI reports a project API key's
//! `last_used_at` (Unix seconds, or null); OpenRouter reports a key's `usage` (USD spent), which
//! rising between two readings means the key is in use. Other types report nothing.
//!
//! Self-contained (one entry point, [`Providers::last_used`]) so that it can become the
//! provider trait's `last_used` method.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::config::{self, ProviderConfig};
use super::{ProviderError, ProviderType, Providers};

/// A provider's report of a key's use.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyUsage {
    /// When it was last used (`None`: never), as the provider reported it (OpenAI: whole
    /// seconds).
    LastUsed(Option<DateTime<Utc>>),
    /// Its spend so far, in USD (OpenRouter `usage`).
    Spend(f64),
}

impl Providers {
    /// Whether `cfg` can report the use of a key it knows by id (OpenAI with `admin_key` and
    /// `project_id`, OpenRouter with its management key).
    pub fn reports_usage(cfg: &ProviderConfig) -> bool {
        matches!(cfg.kind, ProviderType::Openai | ProviderType::Openrouter)
            && cfg.capabilities().revoke
    }

    /// Asks the provider about the use of the key it knows as `provider_key_id` (OpenAI:
    /// `GET .../projects/{p}/api_keys/{id}` `last_used_at`; OpenRouter: `GET /api/v1/keys/{hash}`
    /// `usage`). A key the provider does not know is an error (it cannot say anything about its
    /// use); other types are [`ProviderError::Unsupported`].
    pub async fn last_used(
        &self,
        cfg: &ProviderConfig,
        provider_key_id: &str,
    ) -> Result<KeyUsage, ProviderError> {
        if !Self::reports_usage(cfg) {
            return Err(ProviderError::Unsupported(format!(
                "provider type {} does not report key use with this configuration",
                cfg.kind
            )));
        }
        let result = match cfg.kind {
            ProviderType::Openrouter => self.openrouter_spend(cfg, provider_key_id).await,
            _ => match self.lookup_key(cfg, provider_key_id).await? {
                Some(record) => Ok(KeyUsage::LastUsed(record.last_used_at)),
                None => Err(not_found()),
            },
        };
        if let Ok(usage) = &result {
            tracing::info!(provider = cfg.kind.as_str(), provider_key_id, usage = ?usage, "asked provider about key use");
        }
        result
    }

    async fn openrouter_spend(
        &self,
        cfg: &ProviderConfig,
        hash: &str,
    ) -> Result<KeyUsage, ProviderError> {
        cfg.validate().map_err(ProviderError::Unsupported)?;
        config::check_provider_key_id(hash).map_err(ProviderError::Unsupported)?;
        let (http, base, admin) =
            self.admin_call(cfg, cfg.capabilities().revoke, config::why_cannot_revoke)?;
        let url = format!("{base}/api/v1/keys/{hash}");
        let json = http
            .admin_json(|c| c.get(&url).bearer_auth(admin), &["/error/message"])
            .await
            .map_err(|e| e.redacted(&[admin]))?;
        spend(&json)
    }
}

fn not_found() -> ProviderError {
    ProviderError::Protocol("the provider has no such key".to_string())
}

/// `usage` of an OpenRouter key object (wrapped in `data`).
fn spend(json: &Value) -> Result<KeyUsage, ProviderError> {
    let key = json.get("data").filter(|d| d.is_object()).unwrap_or(json);
    key.get("usage")
        .and_then(Value::as_f64)
        .filter(|u| u.is_finite() && *u >= 0.0)
        .map(KeyUsage::Spend)
        .ok_or_else(|| ProviderError::Protocol("a key without its usage".to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn openrouter_usage_is_read_from_data() {
        let got = spend(&json!({"data": {"hash": "h", "usage": 1.5}})).unwrap();
        assert_eq!(got, KeyUsage::Spend(1.5));
        assert!(spend(&json!({"data": {"hash": "h"}})).is_err());
        assert!(spend(&json!({"data": {"usage": -1}})).is_err());
    }

    #[test]
    fn only_openai_and_openrouter_with_admin_keys_report_use() {
        let mut cfg = ProviderConfig::new(ProviderType::Anthropic);
        cfg.admin_key = Some(crate::secret::SecretValue::new("sk-ant-admin-x".into()));
        assert!(!Providers::reports_usage(&cfg));
        let mut cfg = ProviderConfig::new(ProviderType::Openrouter);
        assert!(!Providers::reports_usage(&cfg), "no management key");
        cfg.admin_key = Some(crate::secret::SecretValue::new("sk-or-v1-mgmt".into()));
        assert!(Providers::reports_usage(&cfg));
    }
}
