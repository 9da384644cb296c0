//! What a provider says about a key's use without revealing it (providers.md "Usage, expiry and
//! ownership lookups"), for usage-aware revocation: OpenAI reports a project API key's
//! `last_used_at` (Unix seconds, or null); OpenRouter reports a key's `usage` (USD spent), which
//! rising between two readings means the key is in use. Other types report nothing.
//!
//! The calls themselves are each type's [`super::provider::Provider::last_used`]; this file
//! holds what they answer and its reading.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::config::ProviderConfig;
use super::registry::provider;
use super::{ProviderError, Providers};

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
    /// Whether `cfg` can report the use of a key it knows by id (a type whose
    /// [`super::Features::last_used`] is set, with the admin credentials its lookups need:
    /// OpenAI with `admin_key` and `project_id`, OpenRouter with its management key).
    pub fn reports_usage(cfg: &ProviderConfig) -> bool {
        provider(cfg.kind).features().last_used && cfg.can_look_up()
    }
}

pub(super) fn not_found() -> ProviderError {
    ProviderError::Protocol("the provider has no such key".to_string())
}

/// `usage` of an OpenRouter key object (wrapped in `data`).
pub(super) fn spend(json: &Value) -> Result<KeyUsage, ProviderError> {
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
    use crate::providers::ProviderType;
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
