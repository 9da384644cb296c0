//! Key use as the providers report it (providers.md "Usage, expiry and ownership lookups"):
//! OpenAI's project API key `last_used_at` (Unix seconds, rounded down, or null), stamped on
//! every accepted call with the key (the key-test endpoints included, as at OpenAI, so the
//! engine's own tests count as use there too); OpenRouter's `usage` (USD spent), which only
//! calls that cost money raise (its key-info endpoint is free), so tests add spend by hand.

use serde_json::{json, Value};

use super::{FakeProvider, Inner};

/// Stamps an accepted call with `key` now (called by the key-test endpoints' gate).
pub(super) fn touch(s: &mut Inner, key: &str) {
    s.last_used
        .insert(key.to_string(), chrono::Utc::now().timestamp());
}

/// `last_used_at` of the key whose value is `value`, as OpenAI shows it.
pub(super) fn openai_last_used(s: &Inner, value: &str) -> Value {
    s.last_used.get(value).map_or(Value::Null, |t| json!(t))
}

/// `usage` of the key whose value is `value`, as OpenRouter shows it.
pub(super) fn openrouter_usage(s: &Inner, value: &str) -> Value {
    json!(s.spend.get(value).copied().unwrap_or(0.0))
}

impl FakeProvider {
    /// When the key `value` was last used (Unix seconds), as the provider would report it.
    pub fn last_used(&self, value: &str) -> Option<i64> {
        self.lock().last_used.get(value).copied()
    }

    /// Sets (or clears) the key's reported last use, in Unix seconds.
    pub fn set_last_used(&self, value: &str, unix_secs: Option<i64>) {
        let mut s = self.lock();
        match unix_secs {
            Some(t) => s.last_used.insert(value.to_string(), t),
            None => s.last_used.remove(value),
        };
    }

    /// An application's paid call with the key: stamps its last use and adds `usd` to its spend.
    pub fn spend(&self, value: &str, usd: f64) {
        let mut s = self.lock();
        touch(&mut s, value);
        *s.spend.entry(value.to_string()).or_default() += usd;
    }
}
